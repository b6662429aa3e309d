"""The overview's first screen answers: at 1400x900, without scrolling, the lab-wide effect of
each outcome and every region's effect with its verdict and reliability marks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from policylab.report._answer import effect_text
from test_units import excel_text


@pytest.fixture(scope="module")
def example(example_run):
    return example_run


@pytest.mark.browser
def test_the_first_viewport_holds_the_answer(example, browser):
    from policylab.report import build_report

    out, result = example
    answers = build_report(result, region_pages=False).pages[0].answers
    assert [a.outcome for a in answers] == ["exporter", "log_exports", "exports_eur"]
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto((out / "index.html").resolve().as_uri())
        page.wait_for_load_state("load")
        rows = page.locator("#answer table.verdicts tbody tr")
        assert rows.count() == 1 + len(result.regions)  # the lab, then each region
        for i in range(rows.count()):
            box = rows.nth(i).bounding_box()
            assert box is not None and box["y"] + box["height"] <= 900, (i, box)
        lab = rows.nth(0).inner_text()
        for a in answers:
            assert a.lab is not None and a.lab.effect in lab and a.lab.verdict in lab
            for r in a.rows:
                text = page.locator("#answer tbody tr", has_text=r.region).first.inner_text()
                assert r.effect in text and r.verdict in text
        # a flagged effect carries its mark, linking to the evidence
        marks = page.locator("#answer a.mark")
        assert marks.count() > 0
        assert all(marks.nth(i).get_attribute("href").startswith("#")
                   for i in range(marks.count()))
        assert not page.locator("#contents ol").first.is_visible()  # contents collapsed
    finally:
        context.close()


def test_every_flagged_effect_has_its_mark(example):
    from policylab.report import build_report

    _, result = example
    answers = build_report(result, region_pages=False).pages[0].answers
    by_region = {r.key: r.name for r in result.regions}
    for d in result.diagnostics:
        p = (d.pretrend or {}).get("p_value")
        if isinstance(p, float) and p < 0.05:
            a = next((a for a in answers if a.outcome == d.outcome), None)
            if a is None:
                continue
            row = next(r for r in a.rows if r.region == by_region[d.region])
            assert any(m.text == "pre-trend" for m in row.marks), (d.region, d.outcome)


@pytest.mark.parametrize(("outcome", "value", "text"), [
    ("exporter", 0.0331, "+3.3 pp"),
    ("exporter", -0.024, "−2.4 pp"),
    ("log_exports", math.log(1.48), "+48%"),
    ("log_exports", math.log(0.75), "−25%"),
    ("exports_eur", 113768.79, "+114,000 EUR"),
    ("n_export_markets", 0.123, "+0.12 markets"),
    ("exporter", math.nan, "n/a"),
    ("log_exports", 1e4, "off the scale"),  # exp overflows: a degenerate fit's bound
    ("exports_eur", 3.2e12, "+3.2e+12 EUR"),
])
def test_effects_read_in_natural_units(outcome, value, text):
    assert effect_text(outcome, value) == text


def test_the_cli_prints_the_same_numbers_in_the_same_units(example, example_cli_run):
    from policylab.report import headline_answers

    _, result = example
    _, run = example_cli_run
    assert run.exit_code == 0, run.stderr
    for a in headline_answers(result):
        assert a.lab is not None and f"{a.lab.effect} [{a.lab.interval}]" in run.stdout
        for r in a.rows:
            assert f"{r.effect} [{r.interval}]" in run.stdout, r.region


def test_warnings_read_once_per_kind_with_where_they_apply(example):
    from policylab.report import build_report

    _, result = example
    page = build_report(result, region_pages=False).pages[0]
    notes = [w for w in page.warnings if w.group != "Lab"]
    kinds = page.warning_kinds
    assert 0 < len(kinds) < len(notes) / 5  # 126 notes of 8 kinds on the example
    assert sum(k.count for k in kinds) == len(notes)
    names = {r.name for r in result.regions}
    assert all(set(k.groups) <= names for k in kinds)
    html = (example[0] / "index.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="warnings"'):]
    section = section[:section.index("</section>")]
    assert section.count("<li>") == len(kinds) + len(page.lab_warnings)


def test_methods_name_the_region_of_each_standard_error(example):
    from policylab.report import build_report

    _, result = example
    bullets = build_report(result, region_pages=False).pages[0].methods.clustering
    assert [b.split(":")[0] for b in bullets] == [r.name for r in result.regions]


# --------------------------------------------------------------------------- charts never clip

#: For every chart: the bounding boxes of its interval rules (``g.mark-rule line``) against
#: the plot area spanned by its horizontal and vertical axis lines; returns [rules, outside].
_RULES_OUTSIDE_JS = """() => {
  const bad = []; let n = 0;
  for (const svg of document.querySelectorAll('svg.marks')) {
    const axes = [...svg.querySelectorAll('g.role-axis > line')];
    const hor = axes.find(l => l.getAttribute('y1') === l.getAttribute('y2'));
    const ver = axes.find(l => l.getAttribute('x1') === l.getAttribute('x2'));
    if (!hor || !ver) continue;
    const h = hor.getBoundingClientRect(), v = ver.getBoundingClientRect();
    for (const l of svg.querySelectorAll('g.mark-rule line')) {
      n += 1;
      const r = l.getBoundingClientRect();
      if (r.left < h.left - 0.6 || r.right > h.right + 0.6 || r.top < v.top - 0.6
          || r.bottom > v.bottom + 0.6) bad.push(svg.id);
    }
  }
  return [n, bad];
}"""


def _rules_outside(browser, path: Path) -> tuple[int, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        n, bad = page.evaluate(_RULES_OUTSIDE_JS)
        return int(n), list(bad)
    finally:
        page.close()


@pytest.mark.browser
def test_no_interval_end_leaves_its_plot(example, browser):
    out, result = example
    pages = [out / "index.html", *sorted((out / "regions").glob("*.html"))]
    assert len(pages) == 1 + len(result.regions)
    for path in pages:
        n, bad = _rules_outside(browser, path)
        assert n > 50, path.name  # the forest plots' and event studies' intervals were seen
        assert bad == [], (path.name, bad)


@pytest.mark.browser
def test_the_clipping_check_sees_an_interval_past_its_axis(browser, tmp_path):
    import pandas as pd

    from policylab.report import charts

    frame = pd.DataFrame({"label": ["A", "B"], "estimate": [1.0, 2.0],
                          "conf_low": [-1.0, 0.5], "conf_high": [3.0, 9.0]})
    spec = charts.forest_spec(frame, x_title="effect")
    assert spec["x"]["domain"][0] <= -1.0 and spec["x"]["domain"][1] >= 9.0  # covers every end
    spec["x"]["domain"] = [-2.0, 4.0]  # an axis that would cut B's interval at 4
    svg = charts.render_svg(spec, chart_id="cut", description="a cut interval")
    page = tmp_path / "cut.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><body>{svg}</body>", encoding="utf-8")
    n, bad = _rules_outside(browser, page)
    assert n == 3 and bad == ["cut-svg"]


# --------------------------------------------------------------------------- marks everywhere

def _flagged(result):
    """(region key, outcome, marked name) of every headline effect with a mark."""
    from policylab.report._answer import effect_marks, marked

    out = []
    for e in result.effects:
        if e.result.method != result.settings["headline_estimator"]:
            continue
        marks = effect_marks(result, e.region, e.outcome)
        if marks:
            out.append((e.region, e.outcome, marked(result.region(e.region).name, marks)))
    return out


@pytest.mark.browser
def test_a_flagged_effect_is_marked_in_every_table_and_chart_it_appears_in(example, browser):
    from policylab.report._answer import effect_marks, pretrend_elsewhere

    out, result = example
    flagged = _flagged(result)
    assert any("[pre-trend]" in name for _, _, name in flagged)  # Kent, planted in the example
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto((out / "index.html").resolve().as_uri())
        page.wait_for_load_state("load")
        summary = page.locator("#summary-table").inner_text()
        for region, outcome, name in flagged:
            # the impact table and the forest plot of the outcome
            o = outcome.replace("_", "-")  # as the report's ids write it
            assert name in page.locator(f"#impact-{o}-table").inner_text(), (name, outcome)
            labels = page.locator(f"#impact-{o}-forest-svg g.role-axis text").all_text_contents()
            assert name in labels, (name, outcome)
            if outcome == "exporter":  # the executive summary's effect column
                assert name in summary, name
        cost = page.locator("#cost-table").inner_text()
        for info in result.regions:
            marks = (effect_marks(result, info.key, "exports_eur")
                     + pretrend_elsewhere(result, info.key, "exports_eur"))
            for m in marks:
                assert f"{info.name} [" in cost and f"[{m.text}]" in cost, (info.name, m.text)
        kent = next(r for r in result.regions if r.key == "kent")
        assert "Kent [pre-trend" in cost  # the top of cost-effectiveness is not shown unmarked
        # a region page: its key figures mark its own effect
        page.goto((out / "regions" / f"{kent.nuts2}.html").resolve().as_uri())
        page.wait_for_load_state("load")
        assert "[pre-trend]" in page.locator("#summary table").first.inner_text()
    finally:
        page.close()


# --------------------------------------------------------------------------- one set of units

def test_an_effect_reads_the_same_in_the_html_the_cli_and_the_spreadsheet(example):
    import openpyxl

    from policylab.report import build_report, headline_answers

    out, result = example
    answers = headline_answers(result)
    wb = openpyxl.load_workbook(out / "indicators.xlsx")
    sheet = wb["Effects"]
    header = [c.value for c in sheet[1]]
    at = {name: header.index(name) for name in ("Region", "Outcome", "Headline", "Effect",
                                                  "CI low", "CI high")}
    cells = {(row[at["Region"]].value, row[at["Outcome"]].value): row
             for row in sheet.iter_rows(min_row=2) if row[at["Headline"]].value == "yes"}
    html = (out / "index.html").read_text(encoding="utf-8")
    page = build_report(result, region_pages=False).pages[0]
    impact = {o.outcome: o for o in page.impacts}
    checked = 0
    for a in answers:
        for r in [a.lab, *a.rows]:
            if r is None or r.effect == "n/a":
                continue
            row = cells[(r.region, a.title)]
            effect, low, high = (row[at[k]] for k in ("Effect", "CI low", "CI high"))
            assert excel_text(effect.value, effect.number_format) == r.effect, r
            bounds = [excel_text(c.value, c.number_format) for c in (low, high)]
            symbol = r.effect[len(r.effect.rstrip("abcdefghijklmnopqrstuvwxyzEUR% ")):]
            assert f"{bounds[0].removesuffix(symbol)} to {bounds[1].removesuffix(symbol)}" \
                == r.interval, r
            assert r.effect in html  # the first screen
            checked += 1
        # the impact table shows the same numbers without the unit (its header names it)
        table = str(impact[a.outcome].table.html)
        for r in a.rows:
            if r.effect != "n/a":
                number = r.effect.rstrip("abcdefghijklmnopqrstuvwxyzEUR% ").strip()
                assert f">{number}<" in table, (a.outcome, r.region, number)
    assert checked == 3 * (1 + len(result.regions))


def test_the_spreadsheet_names_its_indicators_and_marks_suppressed_cells(example):
    import openpyxl

    from policylab.report._xlsx import indicators_xlsx

    out, result = example
    wb = openpyxl.load_workbook(out / "indicators.xlsx")
    assert wb.sheetnames == ["About", "Effects", "Lab", "Regions", "Consortia",
                             "EU common indicators"]
    table = result.indicators
    for sheet, level in (("Lab", "lab"), ("Regions", "region"), ("Consortia", "cluster")):
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        assert header[header.index("ID") + 1] == "Indicator"  # the name beside the ID
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        assert len(rows) == int((table["level"] == level).sum())
        i_id, i_name = header.index("ID"), header.index("Indicator")
        i_value, i_flag = header.index("Value"), header.index("Flag")
        assert all(r[i_name] for r in rows) and all(r[i_id] for r in rows)
        for r in rows:
            if r[i_flag] == "suppressed":
                assert r[i_value] == "suppressed"  # visibly marked, no number behind it
            else:
                assert r[i_value] is None or r[i_value] == "n/a" \
                    or isinstance(r[i_value], (int, float))
    suppressed = [c for c in wb["Regions"]["H"] if c.value == "suppressed"]
    assert suppressed and all(c.fill.fgColor.rgb.endswith("D9D9D9") for c in suppressed)
    assert indicators_xlsx(result) == (out / "indicators.xlsx").read_bytes()  # same bytes
