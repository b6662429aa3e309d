"""End to end on the shipped example: the report is written, deterministic, and the estimates
recover the effects planted by the generator (data/example/truth.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import policylab
from policylab.config import load_config
from policylab.did import did_2x2
from policylab.did.panel import firm_panel
from policylab.ingest import ingest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "example.toml"
TRUTH = ROOT / "data" / "example" / "truth.csv"
ZERO_EFFECT_REGION = "molise"
PRE_TREND_REGION = "kent"


@pytest.fixture(scope="module")
def lab():
    return ingest(load_config(CONFIG))


@pytest.fixture(scope="module")
def truth():
    return pd.read_csv(TRUTH)


@pytest.fixture(scope="module")
def two_runs(example_run, example_cli_run):
    """The example evaluated twice: through the API and through the command line."""
    out, run = example_cli_run
    assert run.exit_code == 0, run.stderr
    return [example_run, (out, None)]


def test_evaluate_writes_report_json_and_csv(two_runs):
    out, result = two_runs[0]
    assert {"index.html", "indicators.csv", "results.json", "regions"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in (out / "regions").iterdir()) == [
        "CZ04.html", "ES13.html", "FRI1.html", "ITF2.html", "PL61.html", "UKJ4.html"]
    assert len(result.regions) == 6
    assert {r.nuts2 for r in result.regions} == {"ES13", "PL61", "UKJ4", "FRI1", "CZ04", "ITF2"}


def test_two_runs_are_byte_identical(two_runs):
    (a, _), (b, _) = two_runs
    pages = sorted(p.relative_to(a).as_posix() for p in (a / "regions").glob("*.html"))
    assert len(pages) == 6
    for name in ("index.html", "results.json", "indicators.csv", "indicators.xlsx", *pages):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_every_effect_carries_its_inference_and_sample_counts(two_runs):
    eff = two_runs[0][1].effects_tidy()
    assert len(eff) == 6 * 3 * 2  # regions x outcomes x methods
    assert (eff.std_error > 0).all()
    assert (eff.conf_low < eff.estimate).all() and (eff.estimate < eff.conf_high).all()
    assert (eff.n_treated > 0).all() and (eff.n_firms > eff.n_treated).all() and (eff.n_clusters > 1).all()


def cohort_2x2(region_data, cohort: int, k: int, outcome: str):
    """Cohort ``cohort`` against never-members, the year before joining vs ``k`` years after.

    Standard errors cluster by firm: the generator draws no consortium-level shocks, and a
    single cohort spans only 1-5 consortia, too few treated clusters for CRV1 by consortium
    (its intervals under-cover: the few-cluster problem of peers.md).
    """
    panel = firm_panel(region_data.tables["firms"], region_data.tables["membership"])
    sub = panel[panel.cohort.isin([0, cohort]) & panel.year.isin([cohort - 1, cohort + k])].copy()
    sub["treated"] = (sub.cohort == cohort).astype(int)
    sub["post"] = (sub.year == cohort + k).astype(int)
    return did_2x2(sub, outcome=outcome, treated="treated", post="post", unit="firm_id")


@pytest.mark.parametrize("outcome", ["exporter", "log_exports"])
def test_a_cohort_2x2_recovers_the_planted_effect(lab, truth, outcome):
    """For each region's largest cohort, 3 years after joining, the 95% CI covers the realized ATT,
    except in the region planted with a selection pre-trend (where a bias is expected)."""
    for region in lab.regions:
        if region.info.key == PRE_TREND_REGION:
            continue
        t = truth[(truth.region == region.info.key) & (truth.outcome == outcome) & (truth.event_time == 3)]
        row = t.sort_values(["n_firms", "cohort"], ascending=[False, True]).iloc[0]
        res = cohort_2x2(region, int(row.cohort), 3, outcome)
        h = res.headline
        assert h.conf_low <= row.att <= h.conf_high, (region.info.key, outcome, h, row.att)
        if region.info.key == ZERO_EFFECT_REGION:
            assert row.att == 0 and h.conf_low <= 0 <= h.conf_high


def cs_truth(truth: pd.DataFrame, region: str, outcome: str) -> float:
    """The realized ATT the simple CS aggregation targets: post-joining cohort-year effects
    averaged with weights proportional to cohort size."""
    t = truth[(truth.region == region) & (truth.outcome == outcome)]
    size = t.groupby("cohort").n_firms.max()
    w = t.cohort.map(size)
    return float((t.att * w).sum() / w.sum())


@pytest.mark.parametrize("outcome", ["exporter", "log_exports"])
def test_the_headline_callaway_santanna_effect_covers_the_realized_att(two_runs, truth, outcome):
    result = two_runs[0][1]
    assert result.settings["headline_estimator"] == "callaway_santanna"
    for eff in result.effects:
        if eff.outcome != outcome or eff.result.method != "callaway_santanna":
            continue
        h = eff.result.headline
        target = cs_truth(truth, eff.region, outcome)
        if eff.region == PRE_TREND_REGION:  # selection: members were already pulling ahead
            assert h.conf_low > target
        else:
            assert h.conf_low <= target <= h.conf_high, (eff.region, h, target)


def test_the_planted_pre_trend_is_detected(two_runs):
    diag = {(d.region, d.outcome): d for d in two_runs[0][1].diagnostics}
    assert diag[(PRE_TREND_REGION, "exporter")].pretrend["p_value"] < 0.05
    assert diag[(PRE_TREND_REGION, "log_exports")].pretrend["p_value"] < 0.05


def test_with_few_consortia_the_pre_trend_test_raises_fewer_false_alarms(two_runs):
    """Only Kent has a planted pre-trend. The joint Wald test, kept for the record, flags
    regions without one; the average test shown with 5-9 treated consortia does not."""
    diag = [d for d in two_runs[0][1].diagnostics if d.region != PRE_TREND_REGION]
    assert all(d.pretrend["test"] == "pretrend_average" for d in diag)
    false_average = [d for d in diag if d.pretrend["p_value"] < 0.05]
    false_joint = [d for d in diag if d.pretrend["joint_wald"]["p_value"] < 0.05]
    assert len(false_average) == 0 and len(false_joint) >= 5


def test_balance_before_joining_is_reported_for_every_region(two_runs):
    import json

    out, result = two_runs[0]
    bal = result.balance
    assert set(bal["region"]) == {r.key for r in result.regions}
    assert set(bal["variable"]) == {"exports_eur", "turnover_eur", "exporter", "employees"}
    published = bal[bal["flag"] == ""]
    assert (published["n_firms"] >= 5).all() and (published["sd"] >= 0).all()
    share = published[published["variable"] == "exporter"]["mean"]
    assert ((share >= 0) & (share <= 1)).all()
    assert len(json.loads((out / "results.json").read_text())["balance"]) == len(bal)
    html = (out / "index.html").read_text()
    assert "Members: the year before joining" in html


def test_order_concentration_is_reported_next_to_the_orders(two_runs):
    out, result = two_runs[0]
    ind = result.indicators
    conc = ind[(ind["indicator_id"] == "I10C") & (ind["level"] == "region") & (ind["flag"] == "")]
    count = ind[(ind["indicator_id"] == "I09") & (ind["level"] == "region")]
    both = conc.merge(count, on=["region", "period"], suffixes=("", "_n"))
    assert len(both) > 20
    assert ((both["value"] >= 1) & (both["value"] <= both["value_n"] + 1e-9)).all()
    assert "Effective number of orders (I10C)" in (out / "index.html").read_text()


def test_headlines_with_few_treated_consortia_use_the_wild_cluster_bootstrap(two_runs):
    import json

    out, result = two_runs[0]
    for eff in result.effects:  # every example region has 5-10 consortia
        inf = eff.inference
        assert inf["used"] and inf["method"] == "wild_cluster_restricted_bootstrap", eff.region
        assert 0 < inf["n_treated_clusters"] < inf["threshold"] == 30
        h = eff.result.headline
        assert h.conf_low < h.estimate < h.conf_high
        assert any("wild cluster restricted bootstrap" in w for w in eff.result.warnings)
    doc = json.loads((out / "results.json").read_text())
    assert all(e["headline_inference"]["analytic"]["conf_low"] is not None for e in doc["effects"])


def test_the_few_cluster_threshold_switches_the_headline_inference(lab):
    cfg = load_config(CONFIG)

    def with_threshold(n):
        c = cfg.model_copy(update={"estimation": cfg.estimation.model_copy(
            update={"few_cluster_threshold": n})})
        (eff,) = policylab.pipeline.estimate(c, method="callaway_santanna", outcome="exporter",
                                             regions=[PRE_TREND_REGION], data=lab)
        return eff

    off, on = with_threshold(0), with_threshold(30)
    assert off.inference["method"] == "analytic" and not off.inference["used"]
    assert on.inference["used"]
    a, b = off.result.headline, on.result.headline
    assert a.estimate == b.estimate
    assert (a.conf_low, a.conf_high) != (b.conf_low, b.conf_high)
    # the numbers the bootstrap replaced are kept, and each published number names its method
    kept = on.inference["analytic"]
    assert kept["std_error"] == a.std_error and kept["p_value"] == a.p_value
    assert (kept["conf_low"], kept["conf_high"]) == (a.conf_low, a.conf_high)
    assert set(on.inference["inference"]) == {"std_error", "statistic", "p_value", "interval"}
    assert b.statistic == pytest.approx(b.estimate / b.std_error, rel=1e-12)
    # the interval from 6 treated consortia is wider than the analytic one
    assert b.conf_high - b.conf_low > a.conf_high - a.conf_low


def test_both_honestdid_restrictions_are_computed_for_every_region(two_runs):
    result = two_runs[0][1]
    for d in result.diagnostics:
        assert d.honest["restriction"] == "relative_magnitude", d.region
        # regression: in euros (exports_eur) every relative-magnitude set was unbounded
        at0 = d.honest["robust"][0]
        assert at0["M"] == 0.0 and np.isfinite([at0["conf_low"], at0["conf_high"]]).all(), (
            d.region, d.outcome)
        s = d.honest_smoothness
        assert s["restriction"] == "smoothness" and s["robust"][0]["M"] == 0.0
        lows = [r["conf_low"] for r in s["robust"]]
        assert lows == sorted(lows, reverse=True)  # intervals widen with M


def test_results_print_short_reprs(two_runs):
    # the default dataclass repr printed every table and array (~190,000 characters)
    _, result = two_runs[0]
    for obj, names in ((result, ("EvaluationResult", "6 regions", "36 effects")),
                       (result.effects[0], ("RegionEffect", "inference")),
                       (result.diagnostics[0], ("RegionDiagnostics",))):
        text = repr(obj)
        assert len(text) < 600 and "\n" not in text, text
        assert all(n in text for n in names), text
    eff = result.effects[0]
    assert eff.region in repr(eff) and eff.outcome in repr(eff)
