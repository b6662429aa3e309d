"""The written report in a real headless Chromium: offline, script-free, every chart drawn,
on the overview page and on a region page."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import HOSTILE

from policylab.report import SECTIONS

pytestmark = pytest.mark.browser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The overview and the hostile region's page (its name is the hostile string).
PAGES = ["index.html", "regions/XX99.html"]


def _instrumented_page(browser):
    """An offline page that records every request, console message, dialog and alert() call."""
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
    # Runs before any page script (and is not subject to the page's CSP).
    context.add_init_script("window.__alerts = 0; window.alert = () => { window.__alerts += 1; };")
    page = context.new_page()
    page.on("console", lambda m: messages.append((m.type, m.text)))
    page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return context, page, requests, messages, dialogs


@pytest.fixture(scope="module", params=PAGES)
def opened(request, browser, report_dir):
    context, page, requests, messages, dialogs = _instrumented_page(browser)
    page.goto((report_dir / request.param).resolve().as_uri())
    page.wait_for_load_state("load")
    yield request.param, page, requests, messages, dialogs
    context.close()


def test_the_probes_would_catch_a_live_script(browser, tmp_path):
    # Negative control: the same instrumentation does see a script, an alert and a request.
    bad = tmp_path / "bad.html"
    bad.write_text('<p>x</p><img src="https://example.invalid/x.png"><script>alert(1)</script>',
                   encoding="utf-8")
    context, page, requests, _, _ = _instrumented_page(browser)
    try:
        page.goto(bad.resolve().as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("window.__alerts") == 1
        assert requests == ["https://example.invalid/x.png"]
    finally:
        context.close()


def test_every_section_present(opened, model):
    path, page, *_ = opened
    built = model.page(path)
    ids = [s.id for s in built.sections] + [d.id for d in built.dashboards]
    # conditional sections: the lab's other half (its inputs), export margins (estimated)
    assert {s.id for s in SECTIONS} - {s.id for s in built.sections} <= {"network", "voice",
                                                                         "margins", "common"}
    ids += [o.id for o in built.impacts] + [r.id for r in built.summary.regions]
    ids += [b.id for body in (built.life_cycle, built.orders, built.diagnostics, built.costs,
                              built.network, built.voice, built.margins, built.common)
              for b in body.blocks]
    for sid in ["site-nav", "report-header", "contents", "report-footer", *ids]:
        assert page.locator(f"#{sid}").count() == 1, sid
        assert page.locator(f"#{sid}").is_visible(), sid


def test_every_chart_has_rendered_marks(opened, model):
    path, page, *_ = opened
    built = model.page(path)
    n_charts = len(built.all_charts)
    svgs = page.locator("figure.chart svg")
    assert svgs.count() == n_charts > 0
    for i in range(svgs.count()):
        svg = svgs.nth(i)
        box = svg.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
        marks = svg.locator("g.role-mark path, g.role-mark line, g.role-mark rect, circle")
        assert marks.count() > 0
        sizes = marks.evaluate_all(
            "els => els.map(e => { const b = e.getBoundingClientRect(); "
            "return b.width + b.height; })")
        assert any(s > 0 for s in sizes)


def test_forest_plots_show_the_pooled_diamond(opened):
    _, page, *_ = opened
    forest = page.locator("figure.chart[id$='-forest-figure']").first
    # vega draws the diamond as a path; the y axis names the lab-wide row
    assert forest.locator("svg g.role-mark path").count() > 0
    assert "Lab-wide, 3 regions" in forest.locator("svg").inner_html()


def test_offline_silent_and_script_free(opened):
    _, page, requests, messages, dialogs = opened
    assert requests == []
    assert [m for m in messages if m[0] in ("error", "pageerror", "warning")] == []
    assert dialogs == []
    assert page.evaluate("window.__alerts") == 0
    assert page.locator("script").count() == 0


def test_hostile_string_visible_as_text(opened):
    path, page, *_ = opened
    if path == "index.html":
        heading = page.locator("#dashboard-hostile-title")
    else:
        heading = page.locator("h1")
    assert heading.inner_text() == HOSTILE
    assert heading.is_visible()
    assert HOSTILE in page.locator("#warnings").inner_text()
    assert HOSTILE in page.locator("#site-nav").inner_text()


def test_navigation_links_lead_to_the_written_pages(opened, report_dir):
    path, page, *_ = opened
    hrefs = page.locator("#site-nav a").evaluate_all("els => els.map(e => e.href)")
    assert len(hrefs) == 4  # the overview and three regions
    root = report_dir.resolve()
    for href in hrefs:
        assert href.startswith("file://")
        target = Path(href.removeprefix("file://")).resolve()
        assert root in target.parents and target.is_file(), href
    current = page.locator("#site-nav a[aria-current='page']")
    assert current.count() == 1
    assert current.evaluate("e => e.href").endswith("/" + path)


def test_screenshot_and_print_layout(opened, tmp_path):
    _, page, *_ = opened
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))  # the first screen
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    page.emulate_media(media="print")
    try:
        assert not page.locator("#contents").is_visible()  # the print stylesheet hides navigation
        assert not page.locator("#site-nav").is_visible()
        assert page.locator("#summary").is_visible()
    finally:
        page.emulate_media(media="screen")


BLOCK_SECTIONS = ("life-cycle", "orders", "diagnostics", "cost-effectiveness")


def _drawn(locator) -> int:
    """How many of the located SVG elements have a drawn size on the page."""
    sizes = locator.evaluate_all(
        "els => els.map(e => { const b = e.getBoundingClientRect(); return b.width + b.height; })")
    return sum(1 for s in sizes if s > 0)


def test_new_sections_render_their_charts_and_tables(opened, model):
    path, page, *_ = opened
    built = model.page(path)
    for sid in BLOCK_SECTIONS:
        section = page.locator(f"#{sid}")
        assert section.is_visible(), sid
        blocks = built.body(sid).blocks
        charts = [b.chart for b in blocks if b.chart is not None]
        assert section.locator("figure.chart svg").count() == len(charts)
        for chart in charts:
            svg = page.locator(f"#{chart.id}-svg")
            box = svg.bounding_box()
            assert box and box["width"] > 150 and box["height"] > 100, chart.id
            assert _drawn(svg.locator("g.role-mark path, g.role-mark line")) >= 2, chart.id
            assert svg.get_attribute("role") == "img"
        for b in blocks:  # each block's own table is on the page, not collapsed
            if b.table is not None:
                assert page.locator(f"#{b.table.id}").is_visible(), b.id
        for item in next(n for n in built.contents if n.id == sid).children:
            link = page.locator(f"#contents a[href='#{item.id}']")
            assert link.count() == 1 and page.locator(f"#{item.id}").is_visible()


def test_new_charts_draw_the_marks_they_stand_for(opened):
    path, page, *_ = opened
    survival = page.locator("#life-cycle-survival-chart-svg")
    assert _drawn(survival.locator("g.mark-line.role-mark path")) >= 2  # region and lab steps
    assert _drawn(survival.locator("g.mark-symbol.role-mark path")) >= 4
    bars = page.locator("#orders-value-chart-svg g.mark-rect.role-mark path")
    assert _drawn(bars) >= 5
    counts = page.locator("#orders-value-chart-svg g.mark-text.role-mark text")
    assert counts.count() >= 5  # the number of orders above the bars
    for cid in ("life-cycle-funding-chart", "life-cycle-retention-chart",
                "orders-markets-chart", "life-cycle-survival-chart"):
        assert page.locator(f"#{cid}-svg g.role-legend").count() == 1, cid  # two series named
    legend = page.locator("#life-cycle-funding-chart-svg g.role-legend").inner_html()
    assert "Member fees / running costs (I05)" in legend
    if path == "index.html":  # the hostile region has no decomposition (a single cohort)
        forbidden = page.locator("#diagnostics-bacon-exporter td", has_text="−0.120")
        assert forbidden.count() == 1
        assert forbidden.evaluate("e => getComputedStyle(e).fontWeight") in ("700", "bold")
