"""End to end with a hostile lab: names that try to be markup, quotes, right-to-left text and
emoji go through ``policylab evaluate`` and come out as inert text in a real browser."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from labfiles import write_tiny_lab  # tests/labfiles.py (tests/ is on the path: its conftest)
from typer.testing import CliRunner

from policylab.cli import app

pytestmark = pytest.mark.browser

LAB = "Lab <script>alert(1)</script> \"double\" 'single' & co"
REGION_A = "<script>alert('a')</script> \"Région\" עברית 🚀"
REGION_B = "<img src=x onerror=alert(2)> منطقة \u202eRTL\u202c 🇪🇺"  # with a bidi override
PROGRAMME = "</td></tr></table><script>alert(3)</script> برنامج 📦"
CLUSTER = "<svg onload=alert(4)> \"Konsorcjum\" 'ק' 🤝"


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _hostile_lab(root: Path) -> Path:
    cfg = write_tiny_lab(root)
    with (root / "clusters.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["cluster", "name", "founded", "closed"])
        writer.writerow(["C1", CLUSTER, "2019", ""])
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('name = "Tiny lab"', f"name = {_toml(LAB)}")
    head, region = text.split("[[regions]]", 1)
    first = region.replace('name = "Tiny Region"',
                           f"name = {_toml(REGION_A)}\nprogramme = {_toml(PROGRAMME)}")
    second = (region.replace('key = "tiny"', 'key = "tiny_two"')
              .replace('nuts2 = "ES13"', 'nuts2 = "PL61"')
              .replace('name = "Tiny Region"', f"name = {_toml(REGION_B)}"))
    cfg.write_text(head + "[[regions]]" + first + "\n[[regions]]" + second, encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cfg = _hostile_lab(root / "lab")
    out = root / "out"
    result = CliRunner().invoke(app, ["evaluate", str(cfg), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_the_outputs_are_written_and_escaped(hostile_report):
    names = {p.relative_to(hostile_report).as_posix()
             for p in hostile_report.rglob("*") if p.is_file()}
    assert {"index.html", "indicators.csv", "regions/ES13.html", "regions/PL61.html",
            "results.json"} <= names
    assert sorted(n for n in names if n.startswith("regions/")) == [
        "regions/ES13.html", "regions/PL61.html"]
    for page in ("index.html", "regions/ES13.html", "regions/PL61.html"):
        html = (hostile_report / page).read_text(encoding="utf-8")
        assert "<script" not in html and "<img" not in html and "<svg onload" not in html
        assert "onerror=" not in html.replace("onerror=alert(2)&gt;", "")
    data = json.loads((hostile_report / "results.json").read_text(encoding="utf-8"))
    assert data["lab"]["name"] == LAB and data["regions"][0]["name"] == REGION_A


@pytest.mark.parametrize("page", ["index.html", "regions/ES13.html", "regions/PL61.html"])
def test_hostile_pages_render_as_inert_text(browser, hostile_report, page, tmp_path):
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    messages: list[tuple[str, str]] = []
    dialogs: list[str] = []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    context.add_init_script("window.__alerts = 0; window.alert = () => { window.__alerts += 1; };")
    tab = context.new_page()
    tab.on("console", lambda m: messages.append((m.type, m.text)))
    tab.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        tab.goto((hostile_report / page).resolve().as_uri())
        tab.wait_for_load_state("load")
        assert tab.evaluate("window.__alerts") == 0 and dialogs == []
        assert requests == []
        assert [m for m in messages if m[0] in ("error", "pageerror", "warning")] == []
        assert tab.locator("script").count() == 0
        assert tab.locator("img").count() == 0
        assert tab.locator("[onerror], [onload]").count() == 0
        text = tab.locator("body").inner_text()
        assert REGION_A in text and REGION_B in text  # both names, in the navigation bar
        heading = tab.locator("h1").inner_text()
        assert heading == {"index.html": LAB, "regions/ES13.html": REGION_A,
                           "regions/PL61.html": REGION_B}[page]
        if page == "regions/ES13.html":
            assert PROGRAMME in text
        assert tab.title().startswith({"index.html": LAB, "regions/ES13.html": REGION_A,
                                       "regions/PL61.html": REGION_B}[page])
        shot = tmp_path / "hostile.png"
        tab.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        context.close()
