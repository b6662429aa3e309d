"""The report's monitoring and diagnostic sections as data: cluster life-cycle, export orders,
diagnostics and cost-effectiveness show the result's numbers with their labels, and respect
disclosure control in every table and chart."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pandas as pd
import pytest
from report_data import chart_layers, table_grid
from report_fixtures import CLUSTER_HOSTILE, HOSTILE, SECRET, SECRET_SHARE

from policylab.report import build_report
from policylab.report._diagnostics import pretrend_reading, smd

NEW_SECTIONS = {"life-cycle": "life_cycle", "orders": "orders", "diagnostics": "diagnostics",
                "cost-effectiveness": "costs"}
#: How a planted secret could show up in a page: raw, or formatted as the report formats.
SECRET_TEXTS = ("7777", "7,777", "7,778", "7.8K", "7.78K", "77.77", "77.8")


def _blocks(page):
    return {b.id: b for attr in NEW_SECTIONS.values() for b in getattr(page, attr).blocks}


def _rows(grid, label):
    return [row for row in grid if row and row[0].split(" [")[0] == label]  # marks aside


def _section_html(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}" class="report-section"')
    nxt = html.find('class="report-section"', start + 50)
    return html[start: html.rfind("<section", 0, nxt) if nxt > 0 else len(html)]


def _visible_text(fragment: str) -> str:
    """Text a reader sees in a fragment (tags, and so SVG geometry, removed)."""
    return re.sub(r"<[^>]+>", " ", fragment)


# --------------------------------------------------------------------------- structure

def test_new_sections_have_stable_ids_and_are_in_the_contents(model):
    for page in model.pages:
        contents = {n.id: [c.id for c in n.children] for n in page.contents}
        assert contents["life-cycle"] == ["life-cycle-survival", "life-cycle-funding",
                                          "life-cycle-retention"]
        assert contents["orders"] == ["orders-value", "orders-markets"]
        # power and sensitivity only where the result has them (Cantabria's design checks)
        power = ["diagnostics-power"] if page.region in (None, "cantabria") else []
        assert contents["diagnostics"] == ["diagnostics-pretrend", "diagnostics-bacon",
                                           "diagnostics-balance", *power]
        assert contents["cost-effectiveness"] == ["cost-summary", "cost-trend"]


def test_every_new_chart_has_its_numbers_in_a_table_and_a_text_alternative(model):
    for page in model.pages:
        for b in _blocks(page).values():
            if b.chart is not None:
                assert b.table is not None, b.id
                assert b.chart.description and b.chart.caption
                assert f'<title id="{b.chart.id}-title">' in b.chart.svg


# --------------------------------------------------------------------------- life-cycle

def test_survival_curves_and_table_come_from_the_kaplan_meier_indicator(model):
    block = _blocks(model.index)["life-cycle-survival"]
    grid = table_grid(block.table)
    assert grid[0] == ["", "Still active after, %", "Longest follow-up, years"]
    assert grid[1] == ["1 year", "2 years", "3 years"]
    assert _rows(grid, "Cantabria")[0][1:] == ["100.0", "90.0", "·", "4"]  # 3 years suppressed
    assert _rows(grid, "Kujawsko-Pomorskie")[0][1:] == ["100.0", "89.0", "78.0", "4"]
    assert _rows(grid, "All regions")[0][1:] == ["100.0", "88.0", "76.0", "4"]
    (mark, rows), _ = chart_layers(block.chart.spec)
    assert mark == "line" and block.chart.spec["spec"]["layer"][0]["mark"]["interpolate"] == \
        "step-after"
    can = [(r["x"], r["y"]) for r in rows
           if r["panel"] == "Cantabria" and r["series"] == "This region's consortia"]
    assert can == [(0.0, 100.0), (1.0, 100.0), (2.0, 90.0), (3.0, None), (4.0, 70.0)]
    assert "2 points not shown" in block.chart.caption and "Cantabria (3 y)" in block.chart.caption
    lab = [r["y"] for r in rows if r["panel"] == "Cantabria" and r["series"].startswith("All")]
    assert lab == [100.0, 100.0, 88.0, 76.0, 64.0]


def test_self_sustainability_by_region_and_by_consortium_on_region_pages(model):
    block = _blocks(model.index)["life-cycle-funding"]
    grid = table_grid(block.table)
    assert grid[0] == ["", "2016", "2017", "2018", "2019", "2020", "2021", "2022",
                       "Whole period"]
    groups = [row[0] for row in grid if len(row) == 1][:2]
    assert groups == ["Member fees / running costs (I05)", "Public funding / running costs (I06)"]
    assert _rows(grid, "Kujawsko-Pomorskie")[0][1:] == [
        "6.0", "18.5", "31.0", "43.5", "56.0", "68.5", "81.0", "46.5"]
    panels = block.chart.spec["facet"]["sort"]
    assert panels == ["Cantabria", "Kujawsko-Pomorskie", HOSTILE, "All regions"]
    region = _blocks(model.page("regions/ES13.html"))["life-cycle-funding"]
    assert region.chart.spec["facet"]["sort"] == [
        "Cantabria", f"Consortium {CLUSTER_HOSTILE}", "Consortium CAN01"]
    (detail,) = region.details
    cgrid = table_grid(detail.table)
    hostile_cluster = _rows(cgrid, CLUSTER_HOSTILE)[0]
    assert hostile_cluster[1:4] == ["6.0", "16.0", "·"]  # 2018 suppressed for that consortium
    assert detail.summary == "By consortium (2 consortia, by year)"


def test_retention_and_churn(model):
    grid = table_grid(_blocks(model.index)["life-cycle-retention"].table)
    assert [row[0] for row in grid if len(row) == 1][:2] == ["Retention (I07)", "Churn (I08)"]
    assert _rows(grid, "Cantabria")[0][-1] == "88.5"  # retention, whole period
    assert _rows(grid, "Cantabria")[1][-1] == "9.5"  # churn, whole period


# --------------------------------------------------------------------------- orders

def test_order_value_and_count_by_year(model):
    block = _blocks(model.index)["orders-value"]
    grid = table_grid(block.table)
    can_value, can_count = _rows(grid, "Cantabria")
    assert can_value[1:] == ["125.0K", "·", "375.0K", "500.0K", "625.0K", "750.0K", "875.0K", "n/a"]
    assert can_count[1:3] == ["10", "·"]
    (bars, rows), (text, _) = chart_layers(block.chart.spec)
    assert (bars, text) == ("bar", "text")
    can = [(r["x"], r["y"], r["label"]) for r in rows if r["panel"] == "Cantabria"]
    assert can[0] == (2016, 125_000.0, "10") and 2017 not in [x for x, _, _ in can]
    assert "bar not shown" in block.chart.caption or "bars not shown" in block.chart.caption
    markets = _blocks(model.index)["orders-markets"]
    mgrid = table_grid(markets.table)
    assert [row[0] for row in mgrid if len(row) == 1][:2] == [
        "Extra-EU share of orders via consortia (I17)", "Members' orders won jointly (I11)"]
    assert [d.id for d in markets.details] == ["orders-markets-more"]
    more = table_grid(markets.details[0].table)
    assert "New export markets entered by members (I16)" in [r[0] for r in more if len(r) == 1]


# --------------------------------------------------------------------------- diagnostics

def test_pretrend_table_reads_the_tests_of_the_headline_estimator(model):
    block = _blocks(model.index)["diagnostics-pretrend"]
    grid = table_grid(block.table)
    assert grid[0] == ["", "Statistic", "Test", "p-value", "Treated consortia", "Reading"]
    can = _rows(grid, "Cantabria")[0]
    assert can[1:4] == ["4.25", "joint, χ²(3)", "0.236"]
    assert can[5].startswith("no evidence of a difference before joining")
    kuj = _rows(grid, "Kujawsko-Pomorskie")[0]
    assert kuj[3] == "0.002" and kuj[5].startswith("differed before joining")
    hostile = _rows(grid, HOSTILE)[0]
    assert hostile[5] == "not computed: pre-trend test not computed: no pre-joining estimates"
    assert any("Few treated consortia" in w and "reject" in w for w in block.warnings)
    assert "Callaway-Sant'Anna (doubly robust; simple aggregation)" in block.intro[0]


def test_pretrend_table_names_the_average_test_where_it_replaced_the_joint_one(result):
    average = {"test": "pretrend_average", "statistic": 3.83, "df": 5, "p_value": 0.012,
               "distribution": "t", "terms": ["event_time::-2", "event_time::-1"],
               "joint_wald": {"test": "pretrend_wald", "statistic": 40.0, "df": 2,
                              "p_value": 1e-9}}
    rich = dataclasses.replace(result, diagnostics=tuple(
        dataclasses.replace(d, pretrend=average) if d.region == "cantabria" else d
        for d in result.diagnostics))
    block = _blocks(build_report(rich, region_pages=False).index)["diagnostics-pretrend"]
    grid = table_grid(block.table)
    can = _rows(grid, "Cantabria")[0]
    assert can[1:4] == ["3.83", "average, t(5)", "0.012"]
    assert _rows(grid, "Kujawsko-Pomorskie")[0][2].startswith("joint, χ²(")
    notes = " ".join(block.table.notes) if hasattr(block.table, "notes") else str(block.table)
    assert "Average: t-test that their average is zero" in notes
    assert any("the average test is used" in w for w in block.warnings)


def test_pretrend_reading_and_smd():
    assert pretrend_reading(0.01, 0.05).startswith("differed")
    assert pretrend_reading(0.07, 0.05).startswith("a weak sign")
    assert pretrend_reading(0.5, 0.05).startswith("no evidence")
    assert pretrend_reading(math.nan, 0.05) == "not computed"
    assert smd(1.0, 1.0, 0.0, 1.0) == 1.0
    assert math.isnan(smd(1.0, 0.0, 1.0, 0.0))


def test_bacon_table_sets_twfe_against_the_headline_and_marks_forbidden_comparisons(model):
    blocks = _blocks(model.index)
    parent = blocks["diagnostics-bacon"]
    assert any("forbidden comparisons" in n for n in parent.notes)
    assert any("single cohort" in n for n in parent.notes)  # the hostile region's reason
    table = blocks["diagnostics-bacon-exporter"].table
    grid = table_grid(table)
    assert grid[0][:3] == ["", "Overall estimate", "Joiners vs never-members"]
    assert grid[0][-1] == "Later vs earlier joiners, already members (forbidden)"
    can = _rows(grid, "Cantabria")[0]
    assert can[1:4] == ["0.042", "0.053", "−0.011"]  # TWFE, headline CS, difference
    assert can[-2:] == ["4.0", "−0.120"]  # forbidden: weight %, estimate
    html = str(table)
    assert html.count("background-color: #e6e6e6") >= 2  # the forbidden columns are shaded
    region = _blocks(model.page("regions/ES13.html"))["diagnostics-bacon"]
    rows = [row[0] for row in table_grid(region.table)]
    assert "Export propensity (share of firms exporting, 0/1)" in rows
    assert "log(1 + exports in EUR)" in rows


def test_balance_from_the_indicators_suppresses_what_rests_on_a_suppressed_share(model):
    block = _blocks(model.index)["diagnostics-balance"]
    grid = table_grid(block.table)
    can = _rows(grid, "Cantabria")[0]
    assert can[1:5] == ["2014", "44.5", "30.2", "+14.2"]
    a, b = 0.445, 0.3025
    expected = (a - b) / math.sqrt((a * (1 - a) + b * (1 - b)) / 2)
    assert can[5] == f"{expected:.2f}"
    hostile = _rows(grid, HOSTILE)[0]
    assert hostile[2] == "·" and hostile[4] == "·" and hostile[5] == "·"
    assert "pre-joining means and standard deviations" in block.intro[0]


def test_balance_uses_a_balance_table_when_the_result_has_one(result):
    balance = pd.DataFrame([
        {"region": "cantabria", "variable": "exports_eur", "group": "members", "n_firms": 60,
         "mean": 250_000.0, "sd": 100_000.0, "flag": ""},
        {"region": "cantabria", "variable": "exports_eur", "group": "never_members",
         "n_firms": 360, "mean": 200_000.0, "sd": 100_000.0, "flag": ""},
        {"region": "cantabria", "variable": "employees", "group": "members", "n_firms": 60,
         "mean": 20.0, "sd": 8.0, "flag": ""},
        {"region": "cantabria", "variable": "employees", "group": "never_members", "n_firms": 4,
         "mean": SECRET, "sd": 1.0, "flag": "suppressed"},
    ])
    rich = dataclasses.replace(result, balance=balance)
    page = build_report(rich, region_pages=False).index
    block = _blocks(page)["diagnostics-balance"]
    grid = table_grid(block.table)
    exports = _rows(grid, "Exports, EUR")[0]
    assert exports[1:] == ["250,000", "60", "200,000", "360", "0.50"]
    employees = _rows(grid, "Employees")[0]
    assert employees[3] == "·" and employees[5] == "·"
    assert not any(t in _visible_text(str(block.table)) for t in SECRET_TEXTS)


def test_power_and_sensitivity_where_the_result_has_them(model, result):
    block = _blocks(model.index)["diagnostics-power"]
    grid = table_grid(block.table)
    assert grid[0][1:] == ["Power (80%)", "Sensitivity (HonestDiD)"]
    can = _rows(grid, "Cantabria")[0]
    assert can[1:] == ["0.065", "0.050", "0.100", "Partly underpowered", "0.50", "−0.035",
                       "0.135"]
    assert len(_rows(grid, "Kujawsko-Pomorskie")) == 0  # no design checks there
    bare = dataclasses.replace(result, diagnostics=tuple(
        dataclasses.replace(d, power=None, honest=None) for d in result.diagnostics))
    ids = [b.id for b in build_report(bare, region_pages=False).index.diagnostics.blocks]
    assert "diagnostics-power" not in ids  # nothing to show: no empty block


# --------------------------------------------------------------------------- costs

def test_cost_effectiveness_derives_from_the_headline_estimate(model, result):
    block = _blocks(model.index)["cost-summary"]
    grid = table_grid(block.table)
    can = _rows(grid, "Cantabria")[0]
    assert can[1:3] == ["16,400", "0.013"]
    assert can[3] == "80.0"  # 1 / 0.0125 EUR of additional exports per EUR of public money
    # the Callaway-Sant'Anna effect it rests on, in EUR at three significant digits
    assert can[4] == "+18,500 [7,720, 29,300]"
    kuj = _rows(grid, "Kujawsko-Pomorskie")[0]
    assert kuj[-1] == "no estimate of the effect on exports in EUR"
    notes = " ".join(r[0] for r in grid if len(r) == 1)
    assert "headline estimate (Callaway-Sant'Anna (doubly robust; simple aggregation))" in notes
    trend = _blocks(model.index)["cost-trend"]
    assert trend.chart is not None and [d.id for d in trend.details] == ["cost-leverage"]


def test_cost_reading_when_the_effect_interval_includes_zero(result):
    from policylab.did.results import Estimate

    effects = list(result.effects)
    i = next(i for i, e in enumerate(effects) if e.outcome == "exports_eur")
    wide = Estimate("simple_att", 18_500.0, 20_000.0, -20_700.0, 57_700.0, 0.35)
    effects[i] = dataclasses.replace(effects[i], result=dataclasses.replace(
        effects[i].result, headline=wide))
    page = build_report(dataclasses.replace(result, effects=tuple(effects)),
                        region_pages=False).index
    block = _blocks(page)["cost-summary"]
    assert _rows(table_grid(block.table), "Cantabria")[0][-1] == (
        "interval includes zero: I19 very uncertain")
    assert block.warnings and block.warnings[0].startswith("For Cantabria, the effect on exports")


# --------------------------------------------------------------------------- disclosure

def _suppressed(result) -> pd.DataFrame:
    ind = result.indicators
    return ind.loc[ind["flag"] == "suppressed"]


def test_no_suppressed_value_in_the_new_sections(model, pages, result):
    assert len(_suppressed(result)) > 5  # the fixture plants secrets in suppressed cells
    assert set(_suppressed(result)["value"].dropna()) == {SECRET, SECRET_SHARE}
    for page in model.pages:
        html = pages[page.path]
        for section_id, attr in NEW_SECTIONS.items():
            text = _visible_text(_section_html(html, section_id))
            found = [t for t in SECRET_TEXTS if t in text]
            assert not found, (page.path, section_id, found)
            for b in getattr(page, attr).blocks:
                if b.chart is None:
                    continue
                data = json.dumps([rows for _, rows in chart_layers(b.chart.spec)])
                assert "7777" not in data and "77.77" not in data, (page.path, b.id)


def test_suppressed_cells_are_marked_and_charts_skip_them(model):
    for page in model.pages:
        for b in _blocks(page).values():
            if b.table is not None and "· suppressed: fewer than" in _visible_text(str(b.table)):
                assert "·" in [c for row in table_grid(b.table) for c in row], b.id
    survival = _blocks(model.index)["life-cycle-survival"]
    (_, rows), _ = chart_layers(survival.chart.spec)
    hidden = [r for r in rows if r["panel"] == "Cantabria" and r["x"] == 3
              and r["series"] == "This region's consortia"]
    assert hidden == [{"panel": "Cantabria", "x": 3.0, "y": None,
                       "series": "This region's consortia"}]
    orders = _blocks(model.index)["orders-value"]
    (_, rows), _ = chart_layers(orders.chart.spec)
    assert not [r for r in rows if r["panel"] in ("Cantabria", HOSTILE) and r["x"] == 2017]
    assert "2 bars not shown" in orders.chart.caption


@pytest.mark.parametrize("section_id", list(NEW_SECTIONS))
def test_hostile_names_are_inert_in_the_new_sections(pages, section_id):
    for path in ("index.html", "regions/ES13.html"):
        fragment = _section_html(pages[path], section_id)
        assert "<script>" not in fragment and "<i>C2</i>" not in fragment
    cluster = _section_html(pages["regions/ES13.html"], "life-cycle")
    assert "&lt;i&gt;C2&lt;/i&gt;" in cluster


def test_smoothness_sensitivity_columns_appear_where_the_result_has_them(result):
    smooth = {"restriction": "smoothness", "breakdown": 0.004,
              "robust": [{"M": 0.0, "conf_low": -0.19, "conf_high": -0.05},
                         {"M": 0.01, "conf_low": -0.41, "conf_high": 0.18}]}
    rich = dataclasses.replace(result, diagnostics=tuple(
        dataclasses.replace(d, honest_smoothness=smooth) if d.region == "cantabria" else d
        for d in result.diagnostics))
    block = _blocks(build_report(rich, region_pages=False).index)["diagnostics-power"]
    grid = table_grid(block.table)
    assert "Smoothness (HonestDiD)" in grid[0]
    can = _rows(grid, "Cantabria")[0]
    assert can[-3:] == ["0.004", "−0.190", "−0.050"]
    plain = _blocks(build_report(result, region_pages=False).index)["diagnostics-power"]
    assert "Smoothness (HonestDiD)" not in table_grid(plain.table)[0]
