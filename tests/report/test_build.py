"""The build stage as data: sections, charts and tables that the page is made of."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from report_data import table_grid
from report_fixtures import HOSTILE, MIN_CELL

from policylab.report import SECTIONS, ReportModel, build_report
from policylab.report.charts import (
    check_spec,
    event_study_frame,
    event_study_spec,
    lines_spec,
    render_svg,
)

HERE = Path(__file__).parent
SECTION_IDS = ["summary", "context", "dashboard", "life-cycle", "orders", "impact", "diagnostics",
               "cost-effectiveness", "warnings", "methods", "data-quality", "provenance"]


@pytest.fixture(scope="module")
def full(model) -> ReportModel:
    return model


@pytest.fixture(scope="module")
def page(full):
    """The overview page."""
    return full.index


def test_sections_have_stable_ids(full, rendered):
    # the lab's other half (issue 13) shows only when the lab gives its inputs, the export
    # margins only when they were estimated: neither here
    assert [s.id for s in SECTIONS if s.id not in ("network", "voice", "margins", "common")] == SECTION_IDS
    for page in full.pages:
        assert [s.id for s in page.sections] == SECTION_IDS
    for sid in [*SECTION_IDS, "report-header", "site-nav", "contents", "report-footer"]:
        assert f'id="{sid}"' in rendered["html"]


def test_region_and_outcome_ids(page):
    assert [d.id for d in page.dashboards] == ["dashboard-cantabria", "dashboard-kujawsko",
                                                "dashboard-hostile"]
    assert [o.id for o in page.impacts] == ["impact-exporter", "impact-log-exports",
                                            "impact-exports-eur"]
    assert [p.id for p in page.impacts[0].event_studies] == [
        "impact-exporter-es-cantabria", "impact-exporter-es-kujawsko", "impact-exporter-es-hostile"]
    for item in [*page.dashboards, *page.impacts]:
        assert re.fullmatch(r"[a-z0-9-]+", item.id)


def test_dashboard_shows_last_six_years_and_counts_suppressed(page, result):
    assert page.dashboard_years == tuple(str(y) for y in range(2017, 2023))
    ind = result.indicators
    shown = ind["period"].isin([*page.dashboard_years, "cumulative"]) & ind["level"].eq("region")
    expected = [int((shown & ind["region"].eq(r.name) & ind["flag"].eq("suppressed")).sum())
                for r in result.regions]
    assert [d.n_suppressed for d in page.dashboards] == expected
    assert expected[0] > 0 and expected[1] == 0
    can = page.dashboards[0].table.html
    assert "·" in can and f"suppressed: fewer than {MIN_CELL} firms" in can
    assert ">2016<" not in can and ">Cumulative<" in can
    assert "suppressed: fewer than" not in page.dashboards[1].table.html  # no such cell there


def test_impact_leads_with_the_headline_estimator_and_shows_the_others_beside(page):
    exporter, logx, eur = page.impacts
    assert exporter.ci_label == "95% CI"
    assert exporter.headline_label == "Callaway-Sant'Anna (doubly robust; simple aggregation)"
    assert exporter.robustness_labels == ("Event study (TWFE with never-member controls)",)
    grid = table_grid(exporter.table)
    flat = [c for row in grid for c in row]
    # the unit is named once, in the header; effects are in percentage points
    assert "Headline: Callaway-Sant'Anna (doubly robust; simple aggregation), percentage points" \
        in flat
    assert "Robustness: other estimators, percentage points, estimate [95% CI]" in flat
    assert "Event study (TWFE)" in flat
    rows = {row[0].split(" [")[0]: row for row in grid}  # a flagged region carries its marks
    assert set(rows) >= {"Cantabria", "Kujawsko-Pomorskie", HOSTILE, "Lab-wide, 3 regions"}
    # one row per region (not one per region and estimator), headline numbers first
    assert [row[0].split(" [")[0] for row in grid].count("Cantabria") == 1
    assert rows["Cantabria"][1] == "+5.3"  # Callaway-Sant'Anna simple ATT (0.0526), in pp
    es = next(e for e in exporter.event_studies if e.region_key == "cantabria")
    assert es.method == "Callaway–Sant'Anna and Event study (TWFE)"
    # the lab-wide sentences name the headline estimator and label the robustness check
    text = " ".join(exporter.lab_sentences)
    assert "by Callaway-Sant'Anna (doubly robust; simple aggregation)" in text
    assert "Robustness: with Event study (TWFE with never-member controls)" in text
    # log exports: Kujawsko has only a TWFE (no headline): its row shows it as robustness
    lrows = {row[0].split(" [")[0]: row for row in table_grid(logx.table)}
    assert lrows["Kujawsko-Pomorskie"][1] == "—"
    assert [p.chart is None for p in logx.event_studies] == [False, True]
    assert "no event-time estimates" in logx.event_studies[1].note
    assert eur.forest is not None and len(eur.event_studies) == 1


def test_forest_plot_is_the_headline_estimator_only(page):
    for o in page.impacts:
        if o.forest is None:
            continue
        spec = o.forest.spec
        squares = spec["datasets"][spec["layer"][2]["data"]["name"]]
        assert "·" not in json.dumps([r["label"] for r in squares])  # no "region · method"
        assert "Callaway-Sant'Anna" in o.forest.caption
    spec = page.impacts[0].forest.spec
    squares = spec["datasets"][spec["layer"][2]["data"]["name"]]
    assert [r["label"].split(" [")[0] for r in squares] == ["Cantabria", "Kujawsko-Pomorskie",
                                                              HOSTILE]
    # in percentage points, as every effect on a share is shown
    assert [r["estimate"] for r in squares] == pytest.approx([5.26, 1.0, 20.5])


def test_event_studies_overlay_every_estimator_with_the_headline_first(page):
    panel = page.impacts[0].event_studies[0]
    spec = panel.chart.spec
    dots = spec["layer"][4]
    data = spec["datasets"][dots["data"]["name"]]
    assert list(dict.fromkeys(r["series"] for r in data)) == [
        "Callaway–Sant'Anna", "Event study (TWFE)"]
    assert dots["encoding"]["series"] == "series"  # styled by the spec's series, in order
    assert [s["name"] for s in spec["series"]] == ["Callaway–Sant'Anna", "Event study (TWFE)"]
    assert [s["shape"] for s in spec["series"]] == ["circle", "triangle-up"]
    assert [s["color"] for s in spec["series"]] == ["#1a1a1a", "#6b6b6b"]
    # Callaway-Sant'Anna estimates event time -1 (a point with an interval), the event study
    # fixes it at 0 (the open reference circle)
    cs_minus1 = [r for r in data if r["series"] == "Callaway–Sant'Anna" and r["event_time"] == -1]
    assert cs_minus1 and cs_minus1[0]["estimate"] == pytest.approx(1.2)  # 0.012, in pp
    ref = spec["datasets"][spec["layer"][5]["data"]["name"]]
    assert [(r["series"], r["event_time"]) for r in ref] == [("Event study (TWFE)", -1)]
    grid = table_grid(panel.table)
    assert grid[0][1:] == ["Callaway–Sant'Anna", "Event study (TWFE)"]
    minus1 = next(row for row in grid if row[0] == "−1")
    assert minus1[1] == "+1.2" and minus1[4:6] == ["0.0", "reference"]  # in pp
    assert "varying base period" in page.impacts[0].es_note


def test_event_study_frame_adds_reference_year():
    tidy = pd.DataFrame({
        "term": ["a", "b", "c", "att"], "event_time": pd.array([-2, 0, 1, None], dtype="Int64"),
        "estimate": [0.1, 0.2, 0.3, 0.25], "std_error": [0.1] * 4, "statistic": [1.0] * 4,
        "p_value": [0.5] * 4, "conf_low": [0.0] * 4, "conf_high": [0.4] * 4,
    })
    frame = event_study_frame(tidy)
    assert list(frame["event_time"]) == [-2, -1, 0, 1]
    ref = frame.loc[frame["event_time"] == -1].iloc[0]
    assert ref["estimate"] == 0.0 and ref["kind"] == "reference" and pd.isna(ref["conf_low"])


def test_event_study_spec_has_zero_line_join_marker_and_ci_bars(page):
    spec = page.impacts[0].event_studies[0].chart.spec
    marks = [layer["mark"] for layer in spec["layer"]]
    assert marks[0]["type"] == "rule" and marks[0]["strokeDash"]  # zero line
    join = spec["datasets"][spec["layer"][1]["data"]["name"]]
    assert join[0]["x"] == -0.5  # between the year before joining and the join year
    bars = spec["layer"][3]["encoding"]
    assert bars["y"] == "conf_low" and bars["y2"] == "conf_high"


def test_event_study_charts_share_the_vertical_scale(page):
    domains = {tuple(p.chart.spec["y"]["domain"]) for p in page.impacts[0].event_studies}
    assert len(domains) == 1


def test_every_chart_is_a_figure_with_caption_and_text_alternative(page, rendered):
    html = rendered["html"]
    charts = page.all_charts
    # forests (3), event studies (3 + 1 + 1 with marks), survival, funding, retention, order
    # value, markets, cost per SME
    assert len(charts) == 3 + 5 + 6
    assert len({c.id for c in charts}) == len(charts)
    for chart in charts:
        assert f'<title id="{chart.id}-title">' in chart.svg
        assert f'aria-labelledby="{chart.id}-title"' in chart.svg
        assert chart.caption and chart.description
    assert html.count("<figure") == html.count("<figcaption") == len(charts)
    # every chart's numbers are in a table: event studies below, forest plots above, the
    # other charts in the same block
    assert all(p.table is not None for o in page.impacts for p in o.event_studies if p.chart)
    for section in ("life-cycle", "orders", "cost-effectiveness"):
        assert all(b.table is not None for b in page.body(section).blocks if b.chart)


def test_svg_ids_are_normalised_and_deterministic(page):
    # every chart of the page: ids prefixed with its own chart id (no clash between two charts
    # on one page), and the same spec renders to the same bytes under another process state
    seen: set[str] = set()
    for chart in page.all_charts:
        ids = re.findall(r'\bid="([^"]+)"', chart.svg)
        assert ids == [f"{chart.id}-svg", f"{chart.id}-title"]
        assert not seen & set(ids)
        seen |= set(ids)
        again = render_svg(chart.spec, chart_id=chart.id, description=chart.description)
        assert again == chart.svg
    data = pd.DataFrame({"panel": ["a", "a", "a"], "x": [1, 2, 3], "y": [1.0, 5.0, 3.0],
                         "series": ["s"] * 3})
    spec = lines_spec(data, x_title="x", y_title="y", series_order=["s"], panel_order=["a"])
    first = str(render_svg(spec, chart_id="c1", description="d"))
    assert str(render_svg(spec, chart_id="c2", description="d")) == first.replace('"c1-', '"c2-')


def test_render_svg_rejects_unsafe_chart_id():
    with pytest.raises(ValueError, match="chart id"):
        render_svg({}, chart_id='x" onload="alert(1)', description="d")


def test_event_study_spec_alone():
    frame = pd.DataFrame({"event_time": [-1, 0], "estimate": [0.0, 0.2], "std_error": [None, 0.1],
                          "conf_low": [None, 0.0], "conf_high": [None, 0.4],
                          "p_value": [None, 0.05],
                          "kind": ["reference", "estimate"]})
    spec = event_study_spec(frame, y_title="t")
    assert spec["y"]["domain"][0] < 0 < 0.4 < spec["y"]["domain"][1]
    check_spec(spec)


def test_build_rejects_other_objects():
    with pytest.raises(TypeError, match="EvaluationResult"):
        build_report(object())


def test_import_is_cheap():
    code = ("import sys, policylab.report; "
            "print(sorted(m for m in ('altair', 'vl_convert', 'great_tables', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_minimal_result_renders_every_section():
    from policylab.evaluation import INDICATOR_COLUMNS, EvaluationResult, RegionInfo
    from policylab.report import render_html

    empty = EvaluationResult("Empty lab", "", (RegionInfo("a", "A", "ES13", "ES", "", "EUR"),),
                             pd.DataFrame(columns=INDICATOR_COLUMNS), (), pd.DataFrame(), {})
    html = render_html(empty)
    for sid in SECTION_IDS:
        assert f'<section id="{sid}"' in html
    assert "No effects were estimated." in html
    assert "No indicators were computed for this region." in html
    full = build_report(empty)
    assert [p.path for p in full.pages] == ["index.html", "regions/ES13.html"]


def test_a_third_estimator_is_one_more_robustness_column(result):
    import dataclasses

    from policylab.evaluation import RegionEffect

    twfe = next(e for e in result.effects if e.result.method == "twfe").result
    extra = RegionEffect("cantabria", "exporter", dataclasses.replace(twfe, outcome="exporter"))
    model = build_report(dataclasses.replace(result, effects=(*result.effects, extra)),
                         region_pages=False).index
    exporter = model.impacts[0]
    assert exporter.robustness_labels == ("Event study (TWFE with never-member controls)",
                                          "TWFE DiD")
    grid = table_grid(exporter.table)
    header = next(row for row in grid if "SE" in row)
    assert header[-2:] == ["Event study (TWFE)", "TWFE DiD"]
    assert grid[0][-2:] == ["Robustness: other estimators, percentage points, estimate [95% CI]",
                            "Notes"]
    can = next(row for row in grid if row[0].split(" [")[0] == "Cantabria")
    assert can[-2] == "+9.0 [−0.8, 18.8]"  # its TWFE estimate [CI] (0.090 [-0.008, 0.188])
    kuj = next(row for row in grid if row[0].split(" [")[0] == "Kujawsko-Pomorskie")
    assert kuj[-2] == "—"  # no TWFE there
    spec = exporter.forest.spec
    labels = [r["label"] for r in spec["datasets"][spec["layer"][2]["data"]["name"]]]
    assert [label.split(" [")[0] for label in labels] == ["Cantabria", "Kujawsko-Pomorskie",
                                                          HOSTILE]  # still one per region


def test_every_chart_spec_is_valid(full):
    specs = [c.spec for page in full.pages for c in page.all_charts]
    # overview: 14; each region: 6 block charts, 3 forest plots (every region is in each),
    # and its own event studies (Cantabria 3, Kujawsko-Pomorskie 1, the hostile region 1)
    assert len(specs) == 14 + 3 * (6 + 3) + (3 + 1 + 1)
    for spec in specs:
        check_spec(spec)  # raises on anything the renderer would not draw
        json.dumps(spec, allow_nan=False)  # plain JSON data, no NaN


def test_emphasise_rings_the_named_squares_on_a_copy():
    from policylab.report.charts import emphasise, forest_spec

    rows = pd.DataFrame({"label": ["A", "B", "Lab-wide"], "estimate": [0.1, 0.2, 0.15],
                         "conf_low": [0.0, 0.1, 0.1], "conf_high": [0.2, 0.3, 0.2],
                         "kind": ["region", "region", "pooled"]})
    plain = forest_spec(rows, x_title="x")
    ringed = emphasise(plain, ["B"])
    assert len(ringed["layer"]) == len(plain["layer"]) + 1
    ring = ringed["layer"][3]
    assert ring["mark"]["shape"] == "circle" and ring["mark"]["filled"] is False
    assert [r["label"] for r in ringed["datasets"][ring["data"]["name"]]] == ["B"]
    assert ring["encoding"] == plain["layer"][2]["encoding"]
    assert "emphasis" not in json.dumps(plain)  # the original is untouched
    assert forest_spec(rows.assign(emphasis=[False, True, False]), x_title="x") == ringed
    assert emphasise(plain, ["nobody"]) == plain
