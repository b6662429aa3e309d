"""write_report: every file or none; the previous report survives a failed run."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from policylab.evaluation import RegionEffect
from policylab.report import write_report
from policylab.report import writer as writer_module

REGION_PAGES = {"regions/ES13.html", "regions/PL61.html", "regions/XX99.html"}
NAMES = {"index.html", "results.json", "indicators.csv", *REGION_PAGES}


@pytest.fixture
def written(tmp_path, report_dir):
    """A folder holding a copy of the report written once for the session."""
    out = tmp_path / "written"
    shutil.copytree(report_dir, out)
    return out


def _snapshot(folder):
    """Every file under ``folder`` (relative POSIX path -> bytes), hidden temp files included."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_writes_every_file_matching_the_renderers(tmp_path, result, rendered, pages):
    out = tmp_path / "nested" / "report"
    paths = write_report(result, out)
    assert {k: v.relative_to(out).as_posix() for k, v in paths.items()} == {
        "html": "index.html", "json": "results.json", "csv": "indicators.csv",
        "region:cantabria": "regions/ES13.html", "region:kujawsko": "regions/PL61.html",
        "region:hostile": "regions/XX99.html"}
    files = _snapshot(out)
    assert set(files) == NAMES
    assert files["index.html"] == rendered["html"].encode("utf-8")
    assert files["results.json"] == rendered["json"].encode("utf-8")
    assert files["indicators.csv"] == rendered["csv"].encode("utf-8")
    for path in REGION_PAGES:
        assert files[path] == pages[path].encode("utf-8")


def test_rewriting_the_same_result_gives_the_same_bytes(written, result):
    first = _snapshot(written)
    write_report(result, written)
    assert _snapshot(written) == first


def test_region_pages_of_regions_no_longer_in_the_lab_are_removed(written, result):
    tmp_path = written
    mine = tmp_path / "regions" / "notes.html"
    mine.write_text("<p>a user's own file: not ours to delete</p>", encoding="utf-8")
    smaller = dataclasses.replace(
        result, regions=result.regions[:2],
        effects=tuple(e for e in result.effects if e.region != "hostile"),
        synthesis=None)
    write_report(smaller, tmp_path)
    assert sorted(p.name for p in (tmp_path / "regions").iterdir()) == [
        "ES13.html", "PL61.html", "notes.html"]


def test_timestamp_goes_into_the_pages_and_the_json_only_when_asked(tmp_path, result,
                                                                    report_dir):
    plain = report_dir
    stamped = tmp_path / "stamped"
    write_report(result, stamped, timestamp="2026-11-27T09:30:00Z")
    a, b = _snapshot(plain), _snapshot(stamped)
    assert set(a) == set(b)
    assert a["indicators.csv"] == b["indicators.csv"]
    for name in a:
        if name != "indicators.csv":
            assert (b"2026-11-27T09:30:00Z" in b[name]) and (b"2026-11-27T09:30" not in a[name])


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
def test_failed_render_leaves_previous_files_intact(written, result, make_bad):
    before = _snapshot(written)
    with pytest.raises((KeyError, ValueError, TypeError, AttributeError)):
        write_report(make_bad(result), written)
    assert _snapshot(written) == before  # same names (no temp files left) and same bytes


@pytest.mark.parametrize("fail_at", [3, 5], ids=["json", "a-region-page"])
def test_failure_while_writing_temp_files_leaves_nothing_behind(written, result, monkeypatch,
                                                               fail_at):
    tmp_path = written
    before = _snapshot(tmp_path)
    real = writer_module._write_temp
    calls = []

    def fail(final, data):
        calls.append(final)
        if len(calls) == fail_at:
            raise OSError("disk full")
        return real(final, data)

    monkeypatch.setattr(writer_module, "_write_temp", fail)
    changed = dataclasses.replace(result, lab_name="another name")
    with pytest.raises(OSError, match="disk full"):
        write_report(changed, tmp_path)
    assert _snapshot(tmp_path) == before
