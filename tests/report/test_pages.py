"""The region pages, the executive summary and programme context as data, file names, the
shared table stylesheet, and whole outputs byte for byte (from a fresh interpreter too)."""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from report_data import table_grid
from report_fixtures import HOSTILE, REGIONS

from policylab.evaluation import RegionInfo
from policylab.report import build_report
from policylab.report._overview import FEW_TREATED_CLUSTERS, treated_clusters
from policylab.report.build import region_paths

HERE = Path(__file__).parent


def _info(key: str, nuts2: str) -> RegionInfo:
    return RegionInfo(key, key.title(), nuts2, "XX", "", "EUR")


# --------------------------------------------------------------------------- file names

def test_region_pages_are_named_after_their_nuts2_code():
    assert region_paths(REGIONS) == {"cantabria": "regions/ES13.html",
                                     "kujawsko": "regions/PL61.html",
                                     "hostile": "regions/XX99.html"}


@pytest.mark.parametrize("code", ["../../etc/passwd", "ES13/../x", "a b", "<script>", "",
                                  ".hidden", "C:\\x", "CON", "nul", "Com1", "x" * 80, "ÉS13"])
def test_hostile_codes_give_safe_file_names(code):
    path = region_paths([_info("evil_key", code)])["evil_key"]
    assert re.fullmatch(r"regions/[A-Za-z0-9][A-Za-z0-9_-]*\.html", path), path
    stem = path.removeprefix("regions/").removesuffix(".html")
    assert stem.upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
    assert len(path) < 80


def test_file_names_are_unique_even_on_case_insensitive_file_systems():
    infos = [_info("a", "ES13"), _info("b", "ES13"), _info("c", "es13"), _info("d", "ES13")]
    paths = list(region_paths(infos).values())
    assert paths[0] == "regions/ES13.html"
    assert len({p.lower() for p in paths}) == 4
    assert region_paths(infos) == region_paths(infos)  # stable


# --------------------------------------------------------------------------- region pages

def test_one_page_per_region_with_only_that_region(model):
    assert [p.path for p in model.pages] == ["index.html", "regions/ES13.html",
                                             "regions/PL61.html", "regions/XX99.html"]
    for page, info in zip(model.region_pages, REGIONS):
        assert page.kind == "region" and page.region == info.key and page.root == "../"
        assert page.heading == info.name
        assert [d.key for d in page.dashboards] == [info.key]
        assert [r.key for r in page.summary.regions] == [info.key]
        assert [r.key for r in page.context.rows] == [info.key]
        assert {p.region_key for o in page.impacts for p in o.event_studies} <= {info.key}
        assert {w.group for w in page.warnings} <= {"Lab", info.name}
        inputs = page.provenance.get("inputs", [])
        assert all(i["region"] in (info.key, info.name) for i in inputs)


def test_navigation_bar_links_every_page_relative_to_the_page(model):
    for page in model.pages:
        links = [(link.title, link.href, link.current) for link in page.site_nav]
        prefix = "" if page.kind == "index" else "../"
        assert links == [("Lab overview", prefix + "index.html", page.kind == "index")] + [
            (info.name, prefix + path, page.region == info.key)
            for info, path in zip(REGIONS, ["regions/ES13.html", "regions/PL61.html",
                                            "regions/XX99.html"])]


def test_region_page_links_back_to_the_overview(pages):
    for path in ("regions/ES13.html", "regions/XX99.html"):
        assert pages[path].count('href="../index.html"') >= 3  # nav bar, header, footer


def test_region_page_impact_shows_its_row_and_the_pooled_row(model):
    page = model.page("regions/PL61.html")
    exporter = page.impacts[0]
    grid = table_grid(exporter.table)
    labels = [row[0].split(" [")[0] for row in grid]  # a flagged region carries its marks
    assert "Kujawsko-Pomorskie" in labels and "Lab-wide, 3 regions" in labels
    assert "Cantabria" not in labels
    # the forest plot still shows every region, this one ringed
    spec = exporter.forest.spec
    ring = [layer for layer in spec["layer"] if layer["mark"].get("shape") == "circle"]
    assert len(ring) == 1
    ringed = spec["datasets"][ring[0]["data"]["name"]]
    assert [r["label"].split(" [")[0] for r in ringed] == ["Kujawsko-Pomorskie"]
    assert "The ringed square is Kujawsko-Pomorskie." in exporter.forest.caption


def test_region_pages_reuse_the_overviews_event_studies_and_dashboards(model):
    index_panels = {p.id: p for o in model.index.impacts for p in o.event_studies}
    for page in model.region_pages:
        for o in page.impacts:
            for p in o.event_studies:
                assert index_panels[p.id] is p
        assert page.dashboards[0] in model.index.dashboards


# --------------------------------------------------------------------------- executive summary

def _figures(model, key):
    region = next(r for r in model.index.summary.regions if r.key == key)
    return {f.key: f for f in region.figures}, region.caveats


def test_summary_headline_numbers_come_from_the_results(model, result):
    figs, _ = _figures(model, "cantabria")
    assert figs["smes_supported"].value == 95.0 and figs["smes_supported"].period == "cumulative"
    assert figs["consortia_active"].value == 5.0 and figs["consortia_active"].period == "2022"
    assert figs["orders_value"].flag == "not_available" and math.isnan(figs["orders_value"].value)
    assert figs["exporters_members"].value == pytest.approx(49.5)
    assert figs["exporters_never"].value == pytest.approx(30.25)
    h = result.effects[0].result.headline  # Cantabria, exporter
    eff = figs["effect"]
    assert (eff.value, eff.conf_low, eff.conf_high) == pytest.approx(
        (100 * h.estimate, 100 * h.conf_low, 100 * h.conf_high))
    assert eff.label == "Effect on export propensity, percentage points"


def test_summary_respects_disclosure_control(model):
    figs, caveats = _figures(model, "hostile")
    assert figs["exporters_never"].flag == "suppressed"
    assert math.isnan(figs["exporters_never"].value)
    assert figs["survival_3y"].flag == "suppressed" and math.isnan(figs["survival_3y"].value)
    assert any("2 headline figures are hidden" in c for c in caveats)
    grid = table_grid(model.index.summary.table)
    hostile_row = next(row for row in grid if row[0] == HOSTILE)
    keys = [f.key for f in next(r for r in model.index.summary.regions if r.key == "hostile").figures]
    assert hostile_row[1 + keys.index("exporters_never")] == "·"
    assert hostile_row[1 + keys.index("survival_3y")] == "·"
    assert any("· suppressed: fewer than 5 firms" in cell for row in grid for cell in row)


def test_summary_caveats_follow_from_the_numbers(model):
    _, can = _figures(model, "cantabria")
    _, kuj = _figures(model, "kujawsko")
    assert not any("includes zero" in c for c in can)  # Cantabria's CI excludes zero
    assert any("includes zero" in c and "(−1.0 to +3.0 percentage points)" in c for c in kuj)
    assert any("rests on 8 consortia" in c for c in can)  # 368 clusters - (420 - 60) firms


def test_caveat_on_few_treated_firms_and_pre_join_estimates(result):
    from policylab.did.results import Estimate

    i = next(i for i, e in enumerate(result.effects)
             if (e.region, e.outcome, e.result.method) == ("kujawsko", "exporter",
                                                           "callaway_santanna"))
    eff = result.effects[i]
    # Callaway-Sant'Anna estimates event time -1 (varying base period): it counts
    pre = Estimate("event_time::-4", 0.2, 0.02, 0.16, 0.24, 0.001, -4)
    res = dataclasses.replace(eff.result, n_treated=12, n_clusters=240 + 3, n_units=240 + 12 - 12,
                              estimates=(pre, *eff.result.estimates))
    effects = list(result.effects)
    effects[i] = dataclasses.replace(eff, result=res)
    changed = dataclasses.replace(result, effects=tuple(effects), synthesis=None)
    page = build_report(changed, region_pages=False).index
    caveats = next(r for r in page.summary.regions if r.key == "kujawsko").caveats
    assert any("Only 12 member firms in the estimate" in c for c in caveats)
    assert any(c.startswith("Before joining, 1 of the 4 yearly estimates") for c in caveats)
    assert not page.summary.lab_sentences  # no synthesis in the result: none invented


def test_treated_clusters_uses_the_estimators_count_or_the_panel_convention(result):
    res = result.effects[0].result
    assert treated_clusters(res) == 368 - (420 - 60) == 8 < FEW_TREATED_CLUSTERS
    by_firm = dataclasses.replace(res, spec={**res.spec, "cluster": "firm"})
    assert treated_clusters(by_firm) is None

    @dataclasses.dataclass(frozen=True)
    class WithCount:
        n_treated_clusters: int = 41

    assert treated_clusters(WithCount()) == 41


def test_lab_wide_sentences_are_generated_from_the_pooled_effect(model, result):
    pooled = result.synthesis.get("exporter", "callaway_santanna")
    lead, first, second, *_rest = model.index.summary.lab_sentences
    assert lead.startswith("Every effect in this summary is by the headline estimator, "
                           "Callaway-Sant'Anna (doubly robust; simple aggregation)")
    assert first.startswith("Lab-wide effect on export propensity: +")
    # the headline estimator only: one pooled effect per outcome, none by the event study
    lab_wide = [t for t in model.index.summary.lab_sentences
                if t.startswith(("Lab-wide effect on", "No lab-wide effect on"))]
    assert len(lab_wide) == len({p.outcome for p in result.synthesis.pooled
                                 if p.estimator == "callaway_santanna"})
    assert f"the average of {pooled.n_regions} regions' effects" in first
    assert "τ²" not in first and "Paule" not in first  # the estimator's name is in Methods
    # how much regions differ, said the same way on both sides of 0.05
    assert second.startswith("How much the regions differ: their effects spread around it by about ")
    assert "p < 0.001" in second and "more than sampling error" in second
    assert model.page("regions/ES13.html").summary.lab_sentences == model.index.summary.lab_sentences


def test_the_heterogeneity_sentence_does_not_flip_at_the_five_percent_line(result):
    import dataclasses

    from policylab.report._overview import pooled_sentences

    pooled = result.synthesis.get("exporter", "callaway_santanna")
    below = pooled_sentences(dataclasses.replace(pooled, q_p_value=0.048), result)[1]
    above = pooled_sentences(dataclasses.replace(pooled, q_p_value=0.051), result)[1]
    assert below.replace("0.048", "X") == above.replace("0.051", "X")


# --------------------------------------------------------------------------- context

def test_programme_context_rows(model):
    rows = {r.key: r for r in model.index.context.rows}
    can = rows["cantabria"]
    assert (can.programme, can.nuts2, can.country, can.currency) == (
        "Export Consortia (SODERCAN)", "ES13", "ES", "EUR")
    assert can.firms == 420 and can.consortia == 6.0
    grid = table_grid(model.index.context.table)
    assert grid[0][-1] == "In the data"  # the spanner over the counts
    assert [row[0] for row in grid[2:5]] == [r.name for r in REGIONS]


def test_context_uses_the_pipelines_data_quality_columns_and_suppresses_small_counts(result):
    import pandas as pd

    dq = pd.DataFrame({"region": [r.name for r in REGIONS], "nuts2": [r.nuts2 for r in REGIONS],
                       "firms": [420, 300, 77], "members": [60, 3, 20],
                       "never_members": [360, 297, 57], "first_year": [2012, 2014, 2015],
                       "last_year": [2023, 2023, 2022]})
    page = build_report(dataclasses.replace(result, data_quality=dq), region_pages=False).index
    rows = {r.key: r for r in page.context.rows}
    assert rows["cantabria"].period == "2012–2023" and rows["hostile"].period == "2015–2022"
    assert math.isnan(rows["kujawsko"].members) and rows["kujawsko"].flags == {
        "members": "suppressed"}


# --------------------------------------------------------------------------- stylesheet, ids

def test_each_distinct_table_stylesheet_is_carried_once_per_page(model, pages):
    for page in model.pages:
        html = pages[page.path]
        assert html.count("<style>") == 2
        for css in page.table_css:
            assert html.count(css) == 1
    # every table of the report is styled alike: one stylesheet serves them all
    assert len(model.index.table_css) == 1


def test_shared_stylesheet_makes_the_page_smaller(model, pages):
    index = pages["index.html"]
    n_tables = index.count('class="gtcss-')
    per_table_css = len(model.index.table_css[0])
    assert n_tables >= 10 and per_table_css > 8_000
    # great_tables wrote the stylesheet into every table: that would be a third more page
    assert (n_tables - 1) * per_table_css > len(index) / 3


# --------------------------------------------------------------------------- byte for byte

@pytest.mark.slow
def test_every_output_identical_from_a_fresh_interpreter(report_dir, tmp_path):
    out = tmp_path / "fresh"
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "from pathlib import Path;"
            "from report_fixtures import make_result; from policylab.report import write_report;"
            "write_report(make_result(), Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, str(HERE), str(out)], check=True)

    def files(folder):  # the report as a reader sees it (not the run folders behind it)
        return {p.relative_to(folder).as_posix(): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()
                and p.relative_to(folder).parts[0] != ".policylab"}

    first, second = files(report_dir), files(out)
    assert sorted(first) == ["common_indicators.csv", "index.html", "indicators.csv",
                             "indicators.xlsx",
                             "regions/ES13.html", "regions/PL61.html", "regions/XX99.html",
                             "results.json"]
    assert first == second


def test_summary_and_methods_say_which_inference_a_headline_uses_and_why(result):
    import dataclasses

    from policylab.report import build_report

    record = {"method": "wild_cluster_restricted_bootstrap", "used": True, "threshold": 30,
              "n_treated_clusters": 4, "n_clusters": 300, "draws": 999, "seed": 0,
              "weights": "webb", "exact": False,
              "analytic": {"conf_low": 0.0, "conf_high": 0.1, "p_value": 0.04}}
    effects = tuple(dataclasses.replace(e, inference=record) if e.region == "cantabria"
                    else dataclasses.replace(e, inference={**record, "method": "analytic",
                                                           "used": False})
                    for e in result.effects)
    model = build_report(dataclasses.replace(result, effects=effects), region_pages=False)
    _, caveats = _figures(model, "cantabria")
    few = [c for c in caveats if c.startswith("Few treated consortia")]
    assert few == ["Few treated consortia: the estimate rests on 4 consortia with member firms, "
                   "fewer than the 30 analytic clustered intervals need, so its interval and "
                   "p-value come from the wild cluster restricted bootstrap, its standard error "
                   "from the clustered t statistic that bootstrap tests (see Methods)."]
    n_cantabria = sum(e.region == "cantabria" for e in result.effects)
    text = model.index.methods.inference
    assert "wild cluster restricted bootstrap" in text and "999 draws" in text
    assert f"{n_cantabria} of the {len(effects)} estimates" in text
    # without a few-cluster record the old caveat and text stay
    plain = build_report(result, region_pages=False)
    assert "bootstrap" not in plain.index.methods.inference


def test_terms_hidden_by_disclosure_control_leave_gaps_not_errors(result):
    import dataclasses

    from policylab.did.disclosure import _blank
    from policylab.report import build_report

    first = result.effects[0]
    ests = list(first.result.estimates)
    hide = [i for i, e in enumerate(ests) if e.event_time is not None][:2]
    for i in hide:
        ests[i] = _blank(ests[i])
    res = dataclasses.replace(first.result, estimates=tuple(ests),
                              warnings=(*first.result.warnings, "2 term(s) not published"))
    rich = dataclasses.replace(result, effects=(dataclasses.replace(first, result=res),
                                                *result.effects[1:]))
    from policylab.report.html import render_html

    page = render_html(rich)
    assert page.count("<svg") == render_html(result).count("<svg")  # charts still drawn
    assert not re.search(r">\s*(nan|NaN)\s*<", page)  # no "nan" shown as a value
    panel = next(p for p in build_report(rich).index.impacts[0].event_studies
                 if p.region_key == first.region)
    assert panel.chart is not None and panel.table is not None
