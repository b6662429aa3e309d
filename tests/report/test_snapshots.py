"""Snapshot tests (syrupy) of what the report says: the built report as data, the JSON, the CSV.

The report snapshot is :func:`report_data.report_data` of the built model: every page's
sections, headline numbers, caveat lines, table cells as a reader sees them (formatted), chart
captions and the data rows behind each chart, links and ids; not the HTML markup, the SVG
geometry or the stylesheets. After an intended
change: ``pytest tests/report --snapshot-update`` and review the diff.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from report_data import report_data
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode


class _Text(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT


#: Numbers in the JSON may differ in their last bits between platforms and numpy/scipy builds
#: (summation order, BLAS): they are compared to this relative tolerance; everything else
#: (keys, strings, structure, integers) must be identical.
REL_TOL = 1e-9


def same_json(a: Any, b: Any, *, rel_tol: float = REL_TOL) -> bool:
    """Whether two parsed JSON values are equal, floats to ``rel_tol`` (absolute 1e-12 near 0)."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or not all(
                isinstance(v, (int, float)) for v in (a, b)):
            return False
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k], rel_tol=rel_tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y, rel_tol=rel_tol) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


class JSONSnapshot(_Text):
    """A JSON document: text exactly as before, or the same document with floats within
    :data:`REL_TOL`."""

    file_extension = "json"

    def matches(self, *, serialized_data, snapshot_data) -> bool:
        if serialized_data == snapshot_data:
            return True
        try:
            return same_json(json.loads(serialized_data), json.loads(snapshot_data))
        except (TypeError, ValueError):
            return False


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


def test_json_snapshots_tolerate_last_bits_only():
    assert same_json({"a": [0.08869037679226703, "x", 3]}, {"a": [0.08869037679226702, "x", 3]})
    assert not same_json({"a": 0.0886903768}, {"a": 0.0886903767})
    assert not same_json({"a": "0.1"}, {"a": 0.1})
    assert not same_json({"a": 1}, {"a": 2})
    assert not same_json({"a": True}, {"a": 1.0})
    assert not same_json({"a": 1.0}, {"b": 1.0})
    assert not same_json([1.0, 2.0], [1.0])


def test_indicators_csv(rendered, snapshot):
    assert rendered["csv"] == snapshot.use_extension(CSVSnapshot)
