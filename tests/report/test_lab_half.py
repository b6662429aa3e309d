"""The lab's other half in the report: a "Network and practice transfer" section and a "Voice
of the SMEs" section, shown when the lab gives their inputs; no survey cell below the
minimum respondents and no free text anywhere in the outputs."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import policylab.examples as ex

SURVEY_IDS = ("I24", "I25", "I25M", "I26", "I27", "I27M", "I27R", "I28")


def _outputs_text(out: Path) -> dict[str, str]:
    """Every output a reader or a program gets, as text: pages, JSON, CSV, the xlsx's XML and
    the store's Parquet columns."""
    texts: dict[str, str] = {}
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(out).as_posix()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
                texts[rel] = "".join(z.read(n).decode("utf-8") for n in z.namelist())
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            texts[rel] = frame.astype(str).to_csv(index=False)
        elif path.suffix in (".html", ".json", ".csv"):
            texts[rel] = path.read_text(encoding="utf-8")
    return texts


def test_no_free_text_reaches_any_output(example_run):
    out, result = example_run
    lab = ex.generate()
    secrets = {t for key in lab.keys for t in ex.summaries.private_texts(
        lab.region(key).survey, lab.region(key).practices)}
    assert len(secrets) > 50  # comments and notes of six regions
    texts = _outputs_text(out)
    assert any(k.endswith(".parquet") for k in texts) and "indicators.xlsx" in texts
    for name, text in texts.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, (name, leaked[:2])


def test_no_survey_cell_rests_on_fewer_respondents_than_the_minimum(example_run):
    out, result = example_run
    minimum = result.settings["min_cell_firms"]
    rows = [r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))["indicators"]
            if r["indicator_id"] in SURVEY_IDS]
    assert len(rows) > 1000
    published = [r for r in rows if r["value"] is not None]
    assert published and all(r["n_firms"] is not None and r["n_firms"] >= minimum
                             for r in published)
    hidden = [r for r in rows if r["flag"] == "suppressed"]
    assert hidden and all(r["value"] is None for r in hidden)
    csv = pd.read_csv(out / "indicators.csv")
    csv = csv[csv["indicator_id"].isin(SURVEY_IDS) & csv["value"].notna()]
    assert (csv["n_firms"] >= minimum).all()


def test_the_sections_say_what_the_example_plants(example_run):
    from policylab.report import build_report

    _, result = example_run
    page = build_report(result, region_pages=False).pages[0]
    assert [s.id for s in page.sections if s.id in ("network", "voice")] == ["network", "voice"]
    voice = {b.id: b for b in page.voice.blocks}
    assert list(voice) == ["voice-response", "voice-satisfaction", "voice-barriers",
                           "voice-retention"]
    # the planted top barrier of each region (TRUTH.md) is the one it rates highest
    planted = {"Cantabria": "Information on markets", "Kujawsko-Pomorskie": "Finding partners",
               "Kent": "Regulation", "Aquitaine": "Size and capacity",
               "Ústí nad Labem": "Language and culture", "Molise": "Finance"}
    html = str(voice["voice-barriers"].table.html)
    for region, barrier in planted.items():
        row = html[html.index(f">{region}<"):]
        row = row[:row.index("</tr>")]
        assert f">{barrier}<" in row, region
    network = {b.id: b for b in page.network.blocks}
    assert list(network) == ["network-deals", "network-practices"]
    assert network["network-deals"].chart is not None  # the region x partner heat map
    # the heat map reads I22M: Aquitaine's deals with Kent (planted strongest pair, 15)
    heat = network["network-deals"].chart.spec
    cells = [r for rows in heat["datasets"].values() for r in rows if "column" in r]
    assert {"row": "Aquitaine", "column": "Kent", "value": 15.0, "label": "15"} in cells
    # retention by satisfaction reads I28's horizons: satisfied members stay longer
    retention = str(voice["voice-retention"].table.html)
    lab = retention[retention.index(">All regions, satisfied (4-5)<"):]
    assert ">67.6<" in lab[:lab.index("</tr>")]  # five years after joining (TRUTH.md: 67.6 %)
    log = str(network["network-practices"].table.html)
    assert log.count(">Export Consortia<") == 3 and ">dropped<" in log


def test_a_lab_without_the_new_tables_shows_neither_section(tiny_lab):
    import policylab
    from policylab.report import build_report

    result = policylab.evaluate(tiny_lab, write=False)
    page = build_report(result, region_pages=False).pages[0]
    assert not {"network", "voice"} & {s.id for s in page.sections}
    assert result.practices is None


@pytest.mark.browser
def test_the_new_sections_render_with_marks_and_load_nothing(example_run, browser):
    out, _ = example_run
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out / "index.html").resolve().as_uri())
        page.wait_for_load_state("load")
        for section in ("network", "voice"):
            assert page.locator(f"#{section}").is_visible()
        heat = page.locator("#network-heat-svg g.mark-cell rect")
        assert heat.count() == 36  # 6 regions x 6 partner regions
        bars = page.locator("#voice-barriers-svg g.mark-rect path")
        assert bars.count() >= 6 * 6
        assert page.locator("#voice-retention-table").is_visible()
        assert all(u.startswith("file://") for u in requests), requests
    finally:
        context.close()
