"""The overview's first screen answers: at 1400x900, without scrolling, the lab-wide effect of
each outcome and every region's effect with its verdict and reliability marks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import policylab
from policylab.report._answer import effect_text

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "example.toml"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("first-screen")
    result = policylab.evaluate(CONFIG, out_dir=out)
    return out, result


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


def test_the_cli_prints_the_same_numbers_in_the_same_units(example, tmp_path):
    from typer.testing import CliRunner

    from policylab.cli import app
    from policylab.report import headline_answers

    _, result = example
    run = CliRunner().invoke(app, ["evaluate", str(CONFIG), "--out", str(tmp_path / "out")])
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
