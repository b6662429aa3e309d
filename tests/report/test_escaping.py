"""User strings are escaped everywhere; the page loads nothing and runs nothing."""

from __future__ import annotations

import posixpath
import re
from collections import Counter

import pytest
from report_fixtures import HOSTILE
from report_htmlscan import scan

from policylab.report.html import CSP

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PAGE_PATHS = ["index.html", "regions/ES13.html", "regions/PL61.html", "regions/XX99.html"]


@pytest.fixture(params=PAGE_PATHS)
def page_html(request, pages):
    return request.param, pages[request.param]


def test_the_pages_are_the_overview_and_one_per_region(pages):
    assert sorted(pages) == sorted(PAGE_PATHS)


def test_no_script_element_anywhere(page_html):
    _, html = page_html
    assert "<script" not in html.lower()
    assert not [t for t, _ in scan(html).tags if t == "script"]


def test_hostile_strings_escaped_in_html(rendered):
    html = rendered["html"]
    assert HOSTILE not in html
    assert ESCAPED in html
    assert "عربي 🚀" in html  # non-ASCII text kept as text, not mangled
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    text = "".join(scan(html).text)
    assert HOSTILE in text  # ... and reads as the original string once parsed


def test_hostile_name_in_every_place_it_should_appear(rendered, pages):
    html = rendered["html"]
    # heading, nav, impact table, forest axis label, event-study caption, warnings, provenance
    assert html.count(ESCAPED) >= 8
    hostile_page = pages["regions/XX99.html"]
    assert hostile_page.count(ESCAPED) >= 8
    assert HOSTILE not in hostile_page
    title = re.search(r"<title>(.*?)</title>", hostile_page, re.S).group(1)
    assert title.startswith(ESCAPED)


def test_no_event_handler_or_javascript_urls(page_html):
    _, html = page_html
    for tag, attrs in scan(html).tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert "javascript:" not in (value or "").lower(), (tag, name)


def test_csp_meta_present_and_first_in_head(page_html):
    _, html = page_html
    metas = [a for t, a in scan(html).tags if t == "meta" and a.get("http-equiv")]
    assert metas == [{"http-equiv": "Content-Security-Policy", "content": CSP}]
    assert CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert html.index("Content-Security-Policy") < html.index("<style")


def test_no_external_resource_references(page_html, pages):
    path, html = page_html
    for tag, attrs in scan(html).tags:
        for name in ("src", "xlink:href", "srcset", "action", "poster", "data", "href"):
            raw = (attrs.get(name) or "").strip()
            value = raw.lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:", "file:", "/")), (
                tag, name, value)
            assert ":" not in value.split("#")[0], (tag, name, value)  # no scheme at all
            if name == "href" and value and not value.startswith("#"):
                # a relative link to another page of this report
                target = posixpath.normpath(posixpath.join(posixpath.dirname(path), raw))
                assert target in pages, (tag, value)
            elif name != "href":
                assert not value or value.startswith("#"), (tag, name, value)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:|//)", html, re.I)
    assert "@import" not in html


def test_ids_are_unique_and_nav_links_resolve(page_html):
    _, html = page_html
    tags = scan(html).tags
    ids = Counter(a["id"] for _, a in tags if a.get("id"))
    assert [i for i, n in ids.items() if n > 1] == []
    targets = [a["href"][1:] for t, a in tags if t == "a" and (a.get("href") or "").startswith("#")]
    assert targets and all(t in ids for t in targets)


def test_no_timestamps_or_absolute_paths(page_html):
    _, html = page_html
    assert not re.search(r"\b20\d\d-\d\d-\d\dT\d\d:\d\d", html)
    for root in ("tmp", "work", "home", "root"):  # no folder of the machine that rendered it
        assert f"/{root}/" not in html


def test_table_css_is_shared_once_per_page(page_html):
    _, html = page_html
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(styles) == 2  # the report's stylesheet, then the tables' (each distinct once)
    _, body = html.split("</head>", 1)
    assert "<style" not in body  # no per-table stylesheet left in the tables
    used = set(re.findall(r'class="(gtcss-[0-9a-f]{10})"', body))
    defined = re.findall(r"^\.(gtcss-[0-9a-f]{10}) \.gt_table \{", styles[1], re.M)
    assert used and set(defined) == used and len(defined) == len(set(defined))


def test_svg_fragments_escape_user_text():
    import pandas as pd

    from policylab.report.charts import forest_spec, render_svg

    rows = pd.DataFrame({"label": [HOSTILE, "</svg><script>alert(3)</script>"],
                         "estimate": [0.1, 0.2], "conf_low": [0.0, 0.1], "conf_high": [0.2, 0.3]})
    svg = render_svg(forest_spec(rows, x_title="<i>x</i>"), chart_id="t1",
                     description="</title><script>alert(4)</script>")
    assert "<script" not in svg.lower()
    assert svg.count("<svg") == svg.count("</svg>") == 1 and svg.rstrip().endswith("</svg>")
    assert "&lt;/title&gt;&lt;script&gt;" in svg
    assert ESCAPED in svg and "&lt;i&gt;x&lt;/i&gt;" in svg


def test_tables_escape_user_text(result):
    from policylab.report import tables

    tidy = result.effects_tidy()
    html = str(tables.impact_table(tidy, table_id="t-impact", ci_label="95% CI"))
    assert "<script" not in html.lower() and ESCAPED in html
    assert "<img" not in html  # warning texts are counted here and listed, escaped, under Warnings


def test_warning_texts_are_escaped_in_the_warnings_section(result):
    from policylab.report import render_html

    html = render_html(result)
    assert "&lt;img src=x onerror=alert(2)&gt;" in html and "<img" not in html
