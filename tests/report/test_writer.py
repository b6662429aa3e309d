"""write_report: all three files or none; the previous report survives a failed run."""

from __future__ import annotations

import dataclasses

import pytest
from policylab.evaluation import RegionEffect
from policylab.report import write_report
from policylab.report import writer as writer_module

NAMES = {"index.html", "results.json", "indicators.csv"}


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_writes_three_files_matching_the_renderers(tmp_path, result, rendered):
    out = tmp_path / "nested" / "report"
    paths = write_report(result, out)
    assert paths == {"html": out / "index.html", "json": out / "results.json",
                     "csv": out / "indicators.csv"}
    assert {p.name for p in out.iterdir()} == NAMES
    assert paths["html"].read_bytes() == rendered["html"].encode("utf-8")
    assert paths["json"].read_bytes() == rendered["json"].encode("utf-8")
    assert paths["csv"].read_bytes() == rendered["csv"].encode("utf-8")


def test_rewriting_the_same_result_gives_the_same_bytes(tmp_path, result):
    write_report(result, tmp_path)
    first = _snapshot(tmp_path)
    write_report(result, tmp_path)
    assert _snapshot(tmp_path) == first


def _unknown_region(result):
    stray = RegionEffect("atlantis", "exporter", result.effects[0].result)
    return dataclasses.replace(result, effects=(*result.effects, stray))


def _broken_indicators(result):
    return dataclasses.replace(result, indicators=result.indicators.drop(columns=["flag"]))


@pytest.mark.parametrize(
    "make_bad",
    [_unknown_region, _broken_indicators, lambda result: None],
    ids=["effect-of-unknown-region", "indicator-table-without-flag", "not-a-result"],
)
def test_failed_render_leaves_previous_files_intact(tmp_path, result, make_bad):
    write_report(result, tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises((KeyError, ValueError, TypeError, AttributeError)):
        write_report(make_bad(result), tmp_path)
    assert _snapshot(tmp_path) == before  # same names (no temp files left) and same bytes


def test_failure_while_writing_temp_files_leaves_nothing_behind(tmp_path, result, monkeypatch):
    write_report(result, tmp_path)
    before = _snapshot(tmp_path)
    real = writer_module._write_temp
    calls = []

    def fail_on_third(folder, name, data):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(folder, name, data)

    monkeypatch.setattr(writer_module, "_write_temp", fail_on_third)
    changed = dataclasses.replace(result, lab_name="another name")
    with pytest.raises(OSError, match="disk full"):
        write_report(changed, tmp_path)
    assert _snapshot(tmp_path) == before
