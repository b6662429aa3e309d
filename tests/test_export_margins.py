"""Export margins (issue 12): extensive and intensive margins, destination countries, export
value, and the split of the extra export value between prior exporters and the other members,
checked against the split planted in the example (data/example/TRUTH.md, truth.csv)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt
from policylab.did.estimators.callaway_santanna.headline import cs_headline_result
from policylab.margins import export_margins, prior_exporters

TRUTH = Path(__file__).resolve().parents[1] / "data" / "example" / "truth.csv"
SPLIT = ("exports_eur", "exports_eur_prior_exporters", "exports_eur_new_exporters")


def pooled_truth(truth: pd.DataFrame, region: str, outcome: str) -> float:
    t = truth[(truth.region == region) & (truth.outcome == outcome)]
    return float((t.att * t.n_firms).sum() / t.n_firms.sum())


def test_prior_exporters_are_firms_exporting_before_the_first_cohort():
    panel = pd.DataFrame({
        "firm_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
        "year": [2014, 2016] * 4,
        "cohort": [2015, 2015, 0, 0, 2016, 2016, 0, 0],
        "exports_eur": [10.0, 12.0, 5.0, 0.0, 0.0, 9.0, np.nan, 3.0],
    })
    prior, window = prior_exporters(panel)
    assert window == (2014, 2014)
    # a and b exported in 2014; c started only after joining; d's 2014 is unknown
    assert prior.tolist() == [True, True, True, True, False, False, False, False]
    # no year before the programme: nobody can be a prior exporter
    late = panel.assign(year=panel["year"] + 2, cohort=panel["cohort"].where(panel.cohort == 0, 2016))
    flags, window = prior_exporters(late)
    assert window is None and not flags.any()


def _cs(panel: pd.DataFrame, outcome: str):
    gt = att_gt(panel, outcome=outcome, unit="firm_id", time="year", cohort="cohort",
                control_group="never_treated", method="dr", cluster="consortium")
    res = cs_headline_result(gt, aggregate(gt, "simple"), aggregate(gt, "dynamic"))
    return res, {"method": "analytic"}


def _staggered(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, years = 240, np.arange(2012, 2021)
    cohort = rng.choice([0, 0, 2015, 2017], n)
    able = rng.random(n) < 0.4
    rows = []
    for i in range(n):
        for t in years:
            treated = cohort[i] > 0 and t >= cohort[i]
            y = (np.exp(rng.normal(11, 1)) if able[i] else 0.0) * (1.2 if treated else 1.0)
            if treated and not able[i] and rng.random() < 0.3:
                y = np.exp(rng.normal(9, 0.5))  # starts exporting
            rows.append((f"f{i:03d}", t, cohort[i], y, f"c{i % 12}" if cohort[i] else f"firm:{i}"))
    p = pd.DataFrame(rows, columns=["firm_id", "year", "cohort", "exports_eur", "consortium"])
    p["exporter"] = (p.exports_eur > 0).astype(float)
    p["log_exports"] = np.log1p(p.exports_eur)
    p["treated_now"] = ((p.cohort > 0) & (p.year >= p.cohort)).astype(int)
    return p


def test_the_two_parts_add_up_to_the_effect_on_export_value():
    panel = _staggered()
    m = export_margins(panel, "r", fit=_cs, poisson_fit=_cs, enough=lambda s, o: None)
    split = m.split
    assert split is not None
    total = split.total.headline.estimate
    parts = split.from_prior_exporters.headline.estimate + split.from_new_exporters.headline.estimate
    assert parts == pytest.approx(total, rel=1e-10, abs=1e-6)
    assert split.share_new == pytest.approx(split.from_new_exporters.headline.estimate / total)
    assert [g.name for g in m.margins] == ["extensive", "intensive", "value"]  # no markets column
    assert any("Destination countries" in n for n in m.notes)
    assert m.margins[1].sample == "prior exporters"
    assert m.margins[1].result.n_units == m.prior_exporters


def test_a_group_too_small_to_publish_withholds_the_split():
    panel = _staggered()

    def enough(sub, outcome):
        return "too few" if sub["exports_eur"].fillna(0).eq(0).groupby(sub.firm_id).all().mean() > 0.5 else None

    m = export_margins(panel, "r", fit=_cs, poisson_fit=_cs, enough=enough)
    assert m.split is None
    assert any(n.startswith("Split of export value: not published") for n in m.notes)


@pytest.fixture(scope="module")
def run(example_run):
    return example_run


def test_the_example_split_covers_the_planted_split(run):
    """Each part of the extra export value (EUR per member firm-year) covers the realized
    part planted by the generator, region by region (Kent included: its pre-trend inflates
    the estimate, but not beyond the interval)."""
    truth = pd.read_csv(TRUTH)
    _, result = run
    assert {m.region for m in result.margins} == {r.key for r in result.regions}
    for m in result.margins:
        assert m.split is not None, m.notes
        parts = {"exports_eur": m.split.total, "exports_eur_prior_exporters":
                 m.split.from_prior_exporters, "exports_eur_new_exporters": m.split.from_new_exporters}
        for outcome, res in parts.items():
            planted = pooled_truth(truth, m.region, outcome)
            h = res.headline
            assert h.conf_low <= planted <= h.conf_high, (m.region, outcome, planted, h)
        # the parts add up, and the planted parts do too
        assert (parts["exports_eur_prior_exporters"].headline.estimate
                + parts["exports_eur_new_exporters"].headline.estimate
                == pytest.approx(parts["exports_eur"].headline.estimate, rel=1e-9))
        assert (pooled_truth(truth, m.region, SPLIT[1]) + pooled_truth(truth, m.region, SPLIT[2])
                == pytest.approx(pooled_truth(truth, m.region, SPLIT[0]), abs=1e-6))


def test_the_example_margins_recover_the_planted_propensity_effect(run):
    """The extensive margin is the headline effect on export propensity (reused, not refitted)."""
    _, result = run
    heads = {e.region: e for e in result.effects
             if e.outcome == "exporter" and e.result.method == "callaway_santanna"}
    for m in result.margins:
        ext = next(g for g in m.margins if g.name == "extensive")
        assert ext.result.headline.estimate == heads[m.region].result.headline.estimate
        assert ext.result.headline.conf_low == heads[m.region].result.headline.conf_low


def test_the_report_shows_the_margins_and_reads_the_split(run):
    out, result = run
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="margins"' in html and 'id="margins-table-table"' in html
    text = re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", html))
    for r in result.regions:
        assert f"{r.name}: export value " in text
    usti = next(m for m in result.margins if m.region == "usti")
    pct = usti.split.percent
    share = usti.split.share_new
    assert f"Of the +{pct:.0f}%, about {share * pct:.1f} points" in text
    # every region page has the section with its own row only
    page = (out / "regions" / "ES13.html").read_text(encoding="utf-8")
    assert "Cantabria: export value" in page and "Molise: export value" not in page


def test_results_json_carries_the_margins(run):
    out, result = run
    record = json.loads((out / "results.json").read_text(encoding="utf-8"))
    margins = {m["region"]: m for m in record["margins"]}
    assert set(margins) == {r.key for r in result.regions}
    kent = margins["kent"]
    names = [r["margin"] for r in kent["estimates"]]
    assert names == ["extensive", "intensive", "markets", "value", "value_total",
                     "value_from_prior_exporters", "value_from_new_exporters"]
    value = next(r for r in kent["estimates"] if r["margin"] == "value")
    assert value["method"] == "etwfe_poisson" and value["inference"] == "analytic"
    assert value["percent"] is not None and kent["prior_window"] == [2012, 2014]
