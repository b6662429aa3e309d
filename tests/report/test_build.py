"""The build stage as data: sections, charts and tables that the page is made of."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from report_fixtures import HOSTILE, MIN_CELL

from policylab.report import SECTIONS, ReportModel, build_report
from policylab.report.charts import event_study_frame, event_study_spec, render_svg

HERE = Path(__file__).parent
SECTION_IDS = ["summary", "context", "dashboard", "impact", "warnings", "methods",
               "data-quality", "provenance"]


@pytest.fixture(scope="module")
def full(model) -> ReportModel:
    return model


@pytest.fixture(scope="module")
def page(full):
    """The overview page."""
    return full.index


def test_sections_have_stable_ids(full, rendered):
    assert [s.id for s in SECTIONS] == SECTION_IDS
    for page in full.pages:
        assert [s.id for s in page.sections] == SECTION_IDS
    for sid in [*SECTION_IDS, "report-header", "site-nav", "contents", "report-footer"]:
        assert f'id="{sid}"' in rendered["html"]


def test_region_and_outcome_ids(page):
    assert [d.id for d in page.dashboards] == ["dashboard-cantabria", "dashboard-kujawsko",
                                                "dashboard-hostile"]
    assert [o.id for o in page.impacts] == ["impact-exporter", "impact-log-exports"]
    assert [p.id for p in page.impacts[0].event_studies] == [
        "impact-exporter-es-cantabria-event-study",
        "impact-exporter-es-kujawsko-event-study",
        "impact-exporter-es-hostile-event-study",
    ]
    for item in [*page.dashboards, *page.impacts]:
        assert re.fullmatch(r"[a-z0-9-]+", item.id)


def test_dashboard_shows_last_six_years_and_counts_suppressed(page):
    assert page.dashboard_years == tuple(str(y) for y in range(2017, 2023))
    assert [d.n_suppressed for d in page.dashboards] == [1, 0, 2]
    can = page.dashboards[0].table.html
    assert "·" in can and f"suppressed: fewer than {MIN_CELL} firms" in can
    assert ">2016<" not in can and ">Cumulative<" in can
    assert "suppressed: fewer than" not in page.dashboards[1].table.html  # no such cell there


def test_impact_has_table_forest_and_one_event_study_per_region(page):
    exporter, logx = page.impacts
    assert exporter.ci_label == "95% CI"
    assert exporter.forest is not None
    regions = [p.region for p in exporter.event_studies]
    assert regions == ["Cantabria", "Kujawsko-Pomorskie", HOSTILE]
    assert all(p.chart is not None and p.table is not None for p in exporter.event_studies)
    # TWFE has no event-time terms: a note instead of an empty chart
    assert [p.chart is None for p in logx.event_studies] == [False, True]
    assert "no event-time estimates" in logx.event_studies[1].note


def test_forest_spec_encodes_estimate_and_interval(page):
    spec = page.impacts[0].forest.spec
    layers = spec["layer"]
    assert len(layers) == 5  # zero line, regions' bars and squares, pooled bar and diamond
    enc = [layer.get("encoding", {}) for layer in layers]
    assert enc[1]["x"]["field"] == "conf_low" and enc[1]["x2"]["field"] == "conf_high"
    assert enc[2]["x"]["field"] == "estimate" and enc[2]["y"]["field"] == "label"
    assert layers[0]["mark"]["strokeDash"]  # the dashed zero line
    data = spec["datasets"][layers[2]["data"]["name"]]
    assert [r["label"] for r in data] == ["Cantabria", "Kujawsko-Pomorskie", HOSTILE]
    assert layers[4]["mark"]["shape"] == "diamond"
    pooled = spec["datasets"][layers[4]["data"]["name"]]
    assert [r["label"] for r in pooled] == ["Lab-wide, 3 regions"]
    assert pooled[0]["estimate"] == pytest.approx(page.impacts[0].pooled[0].estimate)
    # the y axis lists the regions, then the pooled row
    assert enc[2]["y"]["sort"] == ["Cantabria", "Kujawsko-Pomorskie", HOSTILE,
                                   "Lab-wide, 3 regions"]


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
    assert bars["y"]["field"] == "conf_low" and bars["y2"]["field"] == "conf_high"


def test_event_study_charts_share_the_vertical_scale(page):
    domains = {tuple(p.chart.spec["layer"][4]["encoding"]["y"]["scale"]["domain"])
               for p in page.impacts[0].event_studies}
    assert len(domains) == 1


def test_every_chart_is_a_figure_with_caption_and_text_alternative(page, rendered):
    html = rendered["html"]
    charts = [o.forest for o in page.impacts] + [
        p.chart for o in page.impacts for p in o.event_studies if p.chart]
    assert len(charts) == 6
    for chart in charts:
        assert f'<title id="{chart.id}-title">' in chart.svg
        assert f'aria-labelledby="{chart.id}-title"' in chart.svg
        assert chart.caption and chart.description
    assert html.count("<figure") == html.count("<figcaption>") == 6
    assert html.count("<details>") == 4  # the numbers behind each event study
    # every chart's numbers are in a table: event studies below, forest plots above
    assert all(p.table is not None for o in page.impacts for p in o.event_studies if p.chart)


def test_svg_ids_are_normalised_and_deterministic():
    import altair as alt

    # A clipped mark makes vl-convert emit a clipPath whose id comes from a process-wide counter.
    data = pd.DataFrame({"x": [1, 2, 3], "y": [1.0, 5.0, 3.0]})
    spec = alt.Chart(data).mark_line(clip=True).encode(
        x=alt.X("x:Q", scale=alt.Scale(domain=[1.5, 3]))).properties(width=100, height=50).to_dict()
    spec["encoding"]["y"] = {"field": "y", "type": "quantitative"}
    first = render_svg(spec, chart_id="c1", description="d")
    second = render_svg(spec, chart_id="c1", description="d")
    assert first == second
    ids = re.findall(r'\bid="([^"]+)"', first)
    assert "c1-1" in ids and all(i.startswith("c1-") for i in ids)
    assert 'url(#c1-1)' in first


def test_render_svg_rejects_unsafe_chart_id():
    with pytest.raises(ValueError, match="chart id"):
        render_svg({}, chart_id='x" onload="alert(1)', description="d")


def test_event_study_spec_alone():
    frame = pd.DataFrame({"event_time": [-1, 0], "estimate": [0.0, 0.2], "std_error": [None, 0.1],
                          "conf_low": [None, 0.0], "conf_high": [None, 0.4],
                          "p_value": [None, 0.05],
                          "kind": ["reference", "estimate"]})
    spec = event_study_spec(frame, y_title="t")
    assert spec["layer"][0]["encoding"]["y"]["scale"]["domain"][0] < 0 < 0.4


def test_build_rejects_other_objects():
    with pytest.raises(TypeError, match="EvaluationResult"):
        build_report(object())


def test_import_is_cheap():
    code = ("import sys, policylab.report; "
            "print(sorted(m for m in ('altair', 'vl_convert', 'great_tables') "
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


def test_two_methods_for_one_region_are_told_apart(result):
    import dataclasses

    from policylab.evaluation import RegionEffect

    twfe = next(e for e in result.effects if e.result.method == "twfe").result
    extra = RegionEffect("cantabria", "exporter", dataclasses.replace(twfe, outcome="exporter"))
    model = build_report(dataclasses.replace(result, effects=(*result.effects, extra)),
                         region_pages=False).index
    exporter = model.impacts[0]
    spec = exporter.forest.spec
    labels = [r["label"] for r in spec["datasets"][spec["layer"][2]["data"]["name"]]]
    assert labels[:2] == ["Cantabria · Event study (TWFE)", "Cantabria · TWFE DiD"]
    assert len({p.id for p in exporter.event_studies}) == len(exporter.event_studies) == 4


def test_every_chart_spec_is_valid_vega_lite(full):
    import altair as alt

    # the build skips Altair's (slow) schema validation; this checks every spec once
    specs = [c.spec for page in full.pages for o in page.impacts
             for c in [o.forest, *(p.chart for p in o.event_studies)] if c is not None]
    assert len(specs) == 6 + 3 * 2 + 4  # overview, then each region's forests + event studies
    for spec in specs:
        alt.LayerChart.from_dict(spec)  # raises on anything Vega-Lite would not accept


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
