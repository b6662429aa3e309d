"""Issue 20 in the run: milestones and targets of the EU common indicators (config, the
achievement table, the flat export, the workbook sheet) and each region's lab-informed
planning figure (empirical-Bayes) beside its headline estimate."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import policylab
from policylab.config import load_config
from policylab.errors import ConfigError
from policylab.examples.config_text import EXAMPLE_TARGETS
from policylab.targets import EXPORT_COLUMNS, achievement, with_targets

from labfiles import write_tiny_lab


def _common(values: dict[tuple[str, int], float], code: str = "RCO01",
            suppressed: tuple = ()) -> pd.DataFrame:
    rows = [{"code": code, "name": "Enterprises supported", "unit": "enterprises",
             "region": region, "nuts2": "", "breakdown": "total", "period": year,
             "value": np.nan if (region, year) in suppressed else v, "n_firms": v,
             "flag": "suppressed" if (region, year) in suppressed else "", "note": ""}
            for (region, year), v in values.items()]
    return pd.DataFrame(rows)


GOALS = {"a": {"RCO01": {"milestone": 10, "milestone_year": 2019, "target": 30,
                         "target_year": 2025}},
         "b": {"RCO01": {"milestone": 20, "milestone_year": 2019, "target": 40,
                         "target_year": 2025}}}


def test_a_goal_is_compared_with_the_value_of_its_year_or_the_latest():
    common = _common({("a", 2019): 12, ("a", 2020): 18, ("b", 2019): 25, ("b", 2020): 26,
                      ("lab", 2019): 37, ("lab", 2020): 44})
    table = with_targets(common, GOALS)
    assert table.loc[table.region == "a", "target"].tolist() == [30.0, 30.0]
    # the lab's goal is the regions' sum when all regions with the indicator set one
    assert table.loc[table.region == "lab", "target"].tolist() == [70.0, 70.0]
    got = achievement(table).set_index("region")
    assert got.loc["a", "milestone_value"] == 12 and got.loc["a", "milestone_share"] == 1.2
    # the target's year is ahead: the latest value so far
    assert got.loc["a", "target_period"] == 2020 and got.loc["a", "target_value"] == 18
    assert got.loc["lab", "regions"] == 2 and got.loc["lab", "target_value"] == 44
    assert got.loc["lab", "target_share"] == pytest.approx(44 / 70)


def test_a_withheld_value_is_not_revealed_by_the_labs_sum():
    common = _common({("a", 2019): 3, ("b", 2019): 25}, suppressed=(("a", 2019),))
    got = achievement(with_targets(common, GOALS)).set_index("region")
    assert math.isnan(got.loc["a", "milestone_value"]) and math.isnan(got.loc["lab", "milestone_value"])
    assert got.loc["lab", "milestone_flag"] == "suppressed"


def test_a_table_without_goals_has_no_achievement():
    assert achievement(_common({("a", 2019): 12})).empty
    assert achievement(with_targets(_common({("a", 2019): 12}), {})).empty


def test_no_lab_goal_unless_every_region_with_the_indicator_set_one():
    common = _common({("a", 2019): 12, ("b", 2019): 25, ("lab", 2019): 37})
    table = with_targets(common, {"a": GOALS["a"]})
    assert table.loc[table.region == "lab", "target"].isna().all()
    assert "lab" not in set(achievement(table)["region"])  # one region's goal only


@pytest.mark.parametrize("targets, message", [
    ("[regions.targets.RCO99]\ntarget = 3\ntarget_year = 2025", "unknown common indicator"),
    ("[regions.targets.RCO01]\ntarget = 3", "target and target_year go together"),
    ("[regions.targets.RCO01]\nmilestone_year = 2020", "give a milestone or a target"),
    ("[regions.targets.RCO01]\nmilestone_year = 2020\ntarget = 3\ntarget_year = 2025",
     "milestone and milestone_year go together"),
    ("[regions.targets.RCO01]\nmilestone = 1\nmilestone_year = 2026\ntarget = 3\n"
     "target_year = 2025", "milestone_year is after target_year"),
])
def test_a_wrong_target_is_a_config_error(tmp_path, targets, message):
    path = write_tiny_lab(tmp_path / "lab", extra=targets)  # extra: the region's last lines
    with pytest.raises(ConfigError, match=message):
        load_config(path)


# --------------------------------------------------------------------------- the example run

def test_the_export_carries_values_targets_and_milestones(example_run):
    out, result = example_run
    rows = list(csv.DictReader(io.StringIO((out / "common_indicators.csv").read_text("utf-8"))))
    assert list(rows[0]) == EXPORT_COLUMNS
    for key, goals in EXAMPLE_TARGETS.items():
        nuts2 = result.region(key).nuts2
        for code, (milestone, m_year, target, t_year) in goals.items():
            mine = [r for r in rows if r["nuts2"] == nuts2 and r["code"] == code
                    and r["breakdown"] == "total"]
            assert mine and all(float(r["target"]) == target and int(r["target_year"]) == t_year
                                and float(r["milestone"]) == milestone for r in mine)
    # disclosure control: a suppressed value is blank and flagged, never a number
    for r in rows:
        if r["flag"] == "suppressed":
            assert r["value"] == ""
    assert any(r["flag"] == "suppressed" for r in rows)
    sheet = load_workbook(out / "indicators.xlsx", read_only=True)["EU common indicators"]
    first = next(sheet.iter_rows(values_only=True))
    assert list(first) == EXPORT_COLUMNS


def test_the_report_shows_achievement_for_the_two_regions(example_run):
    out, result = example_run
    html = (out / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", html))
    assert 'id="common-targets-table"' in html
    got = achievement(result.common)
    cantabria = got[(got.region == "cantabria") & (got.code == "RCO01")].iloc[0]
    assert cantabria["target_value"] == 92 and cantabria["target_share"] == pytest.approx(0.92)
    assert "100 by 2023 92 (2023) 92%" in text
    page = (out / "regions" / "ES13.html").read_text(encoding="utf-8")
    assert "Against milestones and targets" in page and "Kujawsko" not in \
        re.sub("<[^>]+>", " ", page[page.find('id="common-targets"'):page.find('id="common-values"')])


def test_results_json_has_the_common_indicators_and_the_planning_figures(example_run):
    out, result = example_run
    record = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(record["common_indicators"]) == len(result.common)
    pooled = next(p for p in record["synthesis"]["pooled"]
                  if p["outcome"] == "exporter" and p["estimator"] == "callaway_santanna")
    regions = {r["region"]: r for r in pooled["regions"]}
    # the planning figure is the empirical-Bayes estimate of the pooling's own model
    ys = [regions[k]["estimate"] for k in pooled_keys(pooled)]
    ses = [regions[k]["std_error"] for k in pooled_keys(pooled)]
    expected = policylab.shrink(ys, ses, tau2=pooled["tau2"], method="paule_mandel",
                                labels=pooled_keys(pooled))
    for k, b, w in zip(expected.regions, expected.blups, expected.own_weights):
        assert regions[k]["expected"]["estimate"] == pytest.approx(b, rel=1e-9)
        assert regions[k]["expected"]["own_weight"] == pytest.approx(w, rel=1e-9)
        lo, hi = regions[k]["expected"]["conf_low"], regions[k]["expected"]["conf_high"]
        assert lo <= regions[k]["expected"]["estimate"] <= hi
        # pulled toward the lab mean: between the region's own estimate and the mean
        y, mu = regions[k]["estimate"], pooled["estimate"]
        assert min(y, mu) - 1e-12 <= b <= max(y, mu) + 1e-12


def pooled_keys(pooled: dict) -> list[str]:
    return [r["region"] for r in pooled["regions"]]


def test_the_impact_table_shows_the_planning_figure_beside_the_headline(example_run):
    out, result = example_run
    html = (out / "index.html").read_text(encoding="utf-8")
    table = html[html.find('id="impact-exporter-table"'):]
    table = table[:table.find("</table>")]
    text = re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", table))
    assert "Lab-informed expectation (planning, not the headline)" in text
    assert "Own data carry" in text
    kent = policylab.shrink_pooled(result.synthesis.get("exporter", "callaway_santanna"))
    i = kent.regions.index("kent")
    assert f"{100 * kent.own_weights[i]:.0f}%" in text
    page = (out / "regions" / "UKJ4.html").read_text(encoding="utf-8")
    assert f"Kent's own data carry {100 * kent.own_weights[i]:.0f}% of this figure" in \
        re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", page)).replace("&#39;", "'")
