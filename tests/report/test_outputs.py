"""results.json and indicators.csv: deterministic, strict, spreadsheet-safe."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math

import pytest
from report_fixtures import FORMULA, HOSTILE, make_result

from policylab.evaluation import INDICATOR_COLUMNS, SCHEMA_VERSION
from policylab.report import indicators_csv, render_html, results_json


def _strict_loads(text: str):
    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constants)


def test_same_result_gives_identical_bytes(result, rendered):
    again = {"html": render_html(result), "json": results_json(result),
             "csv": indicators_csv(result)}
    for kind, text in rendered.items():
        assert again[kind].encode("utf-8") == text.encode("utf-8"), kind


def test_equal_results_built_separately_give_identical_bytes(rendered):
    other = make_result()
    assert render_html(other) == rendered["html"]
    assert results_json(other) == rendered["json"]
    assert indicators_csv(other) == rendered["csv"]


def test_json_is_strict_and_versioned(rendered):
    text = rendered["json"]
    assert text.endswith("}\n") and not text.endswith("\n\n")
    data = _strict_loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    for token in ("NaN", "Infinity"):
        assert token not in text
    assert data["lab"]["name"].endswith(HOSTILE)


def test_json_nan_becomes_null_and_floats_round_trip(rendered):
    data = _strict_loads(rendered["json"])
    hostile = next(e for e in data["effects"] if e["region"] == "hostile")
    by_time = {e["event_time"]: e for e in hostile["estimates"]}
    assert by_time[2]["estimate"] is None  # NaN in the estimator output
    assert by_time[0]["estimate"] == 0.1 + 0.2  # 0.30000000000000004, not rounded
    assert "0.30000000000000004" in rendered["json"]
    supp = [r for r in data["indicators"] if r["flag"] == "suppressed"]
    assert supp and all(r["value"] is None for r in supp)
    twfe = next(e for e in data["effects"] if e["method"] == "twfe")
    assert twfe["headline"]["p_value"] is None


def test_json_keys_sorted(rendered):
    data = _strict_loads(rendered["json"])
    assert list(data) == sorted(data)
    assert json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n" == rendered["json"]


def test_json_writes_numpy_and_path_values(result):
    from pathlib import PurePosixPath

    import numpy as np

    odd = dataclasses.replace(result, settings={
        "n": np.int64(3), "x": np.float64(0.25), "inf": float("inf"), "flag": np.bool_(True),
        "path": PurePosixPath("configs/lab.toml"), 2020: "int key", "arr": np.array([1.5, np.nan]),
    })
    data = _strict_loads(results_json(odd))
    assert data["settings"] == {"n": 3, "x": 0.25, "inf": None, "flag": True,
                                "path": "configs/lab.toml", "2020": "int key", "arr": [1.5, None]}


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_header_line_endings_and_row_count(rendered, result):
    text = rendered["csv"]
    assert "\r" not in text and text.endswith("\n")
    rows = _csv_rows(text)
    assert rows[0] == INDICATOR_COLUMNS
    assert len(rows) - 1 == len(result.indicators)


def test_csv_neutralises_formula_text_but_not_numbers(rendered):
    rows = [dict(zip(INDICATOR_COLUMNS, r)) for r in _csv_rows(rendered["csv"])[1:]]
    formula = next(r for r in rows if r["indicator_id"] == "I99")
    assert formula["indicator"] == "'" + FORMULA
    assert formula["unit"] == "'-share"
    assert formula["group"] == "'@members"
    assert formula["value"] == "-0.5"  # a number, left alone
    assert not any(c.startswith(("=", "+", "@")) for r in rows for c in r.values())


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("=1+2", "'=1+2"), ("+A1", "'+A1"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\t=1", "'\t=1"), ("-1.5", "-1.5"), ("+3", "+3"), ("-2e-3", "-2e-3"), ("plain", "plain"),
     ("", "")],
)
def test_neutralise_cell(cell, expected):
    from policylab.report._indicators import neutralise_cell

    assert neutralise_cell(cell) == expected


def test_csv_suppressed_values_are_empty_and_flagged(rendered, result):
    rows = [dict(zip(INDICATOR_COLUMNS, r)) for r in _csv_rows(rendered["csv"])[1:]]
    supp = [r for r in rows if r["flag"] == "suppressed"]
    flagged = result.indicators.loc[result.indicators["flag"] == "suppressed"]
    assert len(supp) == len(flagged) > 3
    assert all(r["value"] == "" for r in supp)  # although the fixture left numbers there
    assert flagged["value"].notna().any()
    assert sorted(r["n_firms"] for r in supp) == sorted(str(n) for n in flagged["n_firms"])


def test_csv_order_is_canonical_whatever_the_input_order(result, rendered):
    for seed in (1, 2):
        shuffled = dataclasses.replace(
            result, indicators=result.indicators.sample(frac=1.0, random_state=seed))
        assert indicators_csv(shuffled) == rendered["csv"]
    rows = [dict(zip(INDICATOR_COLUMNS, r)) for r in _csv_rows(rendered["csv"])[1:]]
    order = [r.name for r in result.regions] + ["All regions"]  # lab-wide rows last
    assert list(dict.fromkeys(r["region"] for r in rows)) == order
    can_i01 = [r["period"] for r in rows
               if r["region"] == "Cantabria" and r["indicator_id"] == "I01"]
    assert can_i01 == [str(y) for y in range(2014, 2023)] + ["cumulative"]


def test_csv_numbers_round_trip(rendered, result):
    rows = [dict(zip(INDICATOR_COLUMNS, r)) for r in _csv_rows(rendered["csv"])[1:]]
    written = sorted(float(r["value"]) for r in rows if r["value"])
    kept = result.indicators.loc[result.indicators["flag"] != "suppressed", "value"]
    original = sorted(float(v) for v in kept if not math.isnan(v))
    assert written == original


def test_csv_blanks_a_suppressed_value_left_by_upstream(result):
    ind = result.indicators.copy()
    i = ind.index[(ind["flag"] == "suppressed") & (ind["n_firms"] == 3)][0]
    ind.loc[i, "value"] = 2.0  # an upstream bug: value kept although flagged
    text = indicators_csv(dataclasses.replace(result, indicators=ind))
    assert ",2.0,3,suppressed" not in text
    n3 = int(((ind["flag"] == "suppressed") & (ind["n_firms"] == 3)).sum())
    assert text.count(",,3,suppressed\n") == n3


def test_json_has_the_pooled_effects(rendered, result):
    data = _strict_loads(rendered["json"])
    pooled = data["synthesis"]["pooled"]
    assert data["synthesis"]["method"] == "paule_mandel"
    exporter = next(p for p in pooled if p["outcome"] == "exporter")
    assert exporter["n_regions"] == 3
    assert [r["region"] for r in exporter["regions"]] == ["cantabria", "kujawsko", "hostile"]
    assert exporter["estimate"] == result.synthesis.get("exporter").estimate
    single = next(p for p in pooled if p["outcome"] == "log_exports"
                  and p["estimator"] == "event_study")
    assert single["estimate"] is None and single["warnings"]


def test_no_timestamp_unless_asked(result, rendered):
    assert "generated_at" not in _strict_loads(rendered["json"])
    stamped = results_json(result, timestamp="2026-11-27T09:30:00Z")
    data = _strict_loads(stamped)
    assert data["generated_at"] == "2026-11-27T09:30:00Z"
    del data["generated_at"]
    assert data == _strict_loads(rendered["json"])  # nothing else differs


def test_timestamp_shown_exactly_once_per_page(result, pages):
    from policylab.report import build_report, render_pages

    stamp = "2026-11-27T09:30:00Z"
    stamped = render_pages(build_report(result, timestamp=stamp))
    assert sorted(stamped) == sorted(pages)
    for path, html in stamped.items():
        assert html.count(stamp) == 2, path  # the <time> element: its datetime and its text
        assert html.count("<time") == 1, path
        assert stamp not in pages[path]
        assert "byte for byte" in pages[path] and "byte for byte" not in html


def test_now_timestamp_honours_source_date_epoch(monkeypatch):
    from policylab.report import now_timestamp

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764235800")
    assert now_timestamp() == "2025-11-27T09:30:00Z"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    import re

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_timestamp())


def test_overview_alone_equals_the_overview_of_the_whole_report(result, pages):
    assert render_html(result) == pages["index.html"]
