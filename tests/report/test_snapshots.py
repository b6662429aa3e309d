"""Snapshot tests (syrupy): the page structure and tables, the JSON and the CSV.

Before comparing the page, chart SVG is replaced by a placeholder (its coordinates depend on
the fonts vl-convert finds on the machine) and so are ``<style>`` blocks (the stylesheet and
great_tables' per-table CSS are not what this test guards). Everything else must not change
unless we mean it to. After an intended change: ``pytest tests/report --snapshot-update``.
"""

from __future__ import annotations

import re

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from policylab import __version__


class _Text(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT


class HTMLSnapshot(_Text):
    file_extension = "html"


class JSONSnapshot(_Text):
    file_extension = "json"


class CSVSnapshot(_Text):
    file_extension = "csv"


_SVG = re.compile(r'<svg id="([^"]+)"[^>]*>.*?</svg>', re.S)
_STYLE = re.compile(r"<style>.*?</style>", re.S)


def _stable_html(html: str) -> str:
    html = _SVG.sub(lambda m: f'<svg id="{m.group(1)}"><!-- chart --></svg>', html)
    html = _STYLE.sub("<style><!-- css --></style>", html)
    return html.replace(f"policylab {__version__}", "policylab VERSION")


@pytest.fixture
def html_snapshot(snapshot):
    return snapshot.use_extension(HTMLSnapshot)


def test_html_without_chart_geometry(rendered, html_snapshot):
    stable = _stable_html(rendered["html"])
    assert stable.count("<!-- chart -->") == 6
    assert stable == html_snapshot


def test_results_json(rendered, snapshot):
    assert rendered["json"] == snapshot.use_extension(JSONSnapshot)


def test_indicators_csv(rendered, snapshot):
    assert rendered["csv"] == snapshot.use_extension(CSVSnapshot)
