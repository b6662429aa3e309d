"""Snapshot tests (syrupy) of what the report says: the built report as data, the JSON, the CSV.

The report snapshot is :func:`report_data.report_data` of the built model: every page's
sections, headline numbers, caveat lines, table cells as a reader sees them (formatted), chart
captions and the data rows behind each chart, links and ids; not the HTML markup, the SVG
geometry (it depends on the fonts vl-convert finds) or the stylesheets. After an intended
change: ``pytest tests/report --snapshot-update`` and review the diff.
"""

from __future__ import annotations

import json

import pytest
from report_data import report_data
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode


class _Text(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT


class JSONSnapshot(_Text):
    file_extension = "json"


class CSVSnapshot(_Text):
    file_extension = "csv"


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshot)


def test_report_data(model, json_snapshot):
    data = report_data(model)
    assert [p["path"] for p in data["pages"]] == [
        "index.html", "regions/ES13.html", "regions/PL61.html", "regions/XX99.html"]
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"
    assert text == json_snapshot


def test_results_json(rendered, json_snapshot):
    assert rendered["json"] == json_snapshot


def test_indicators_csv(rendered, snapshot):
    assert rendered["csv"] == snapshot.use_extension(CSVSnapshot)
