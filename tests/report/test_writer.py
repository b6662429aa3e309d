"""write_report: every file or none; the previous report survives a failed run.

Kills and concurrent runs (real processes): ``test_atomic_run.py``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path

import pytest

from policylab.evaluation import RegionEffect
from policylab.report import indicators_xlsx, write_report
from policylab.report import writer as writer_module
from policylab.report.writer import RUNS_DIR

REGION_PAGES = {"regions/ES13.html", "regions/PL61.html", "regions/XX99.html"}
NAMES = {"index.html", "results.json", "indicators.csv", "indicators.xlsx",
         "common_indicators.csv", *REGION_PAGES}


@pytest.fixture
def written(tmp_path, report_dir):
    """A folder holding a copy of the report written once for the session."""
    out = tmp_path / "written"
    shutil.copytree(report_dir, out, symlinks=True)  # the links as they are
    return out


def _snapshot(folder):
    """The report as a reader sees it: each file reached through the names in ``folder``
    (links followed; policylab's own folder of runs left out) -> bytes."""
    found = {}
    for root, dirs, files in os.walk(folder, followlinks=True):
        here = Path(root)
        if here == folder:
            dirs[:] = [d for d in dirs if d != RUNS_DIR]
        for name in files:
            if (here / name).is_file():  # a link that leads nowhere is no file
                found[(here / name).relative_to(folder).as_posix()] = (here / name).read_bytes()
    return dict(sorted(found.items()))


def _entries(folder):
    """Every name under ``folder``, hidden ones and temporary files included, links with their
    targets; which of the two run folders is current is left out (``run-?``)."""
    names = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            entry = path.relative_to(folder).as_posix()
            names.append(f"{entry} -> {os.readlink(path)}" if path.is_symlink() else entry)
    return sorted(re.sub(r"run-[ab]", "run-?", n) for n in names)


def test_writes_every_file_matching_the_renderers(tmp_path, result, rendered, pages):
    out = tmp_path / "nested" / "report"
    paths = write_report(result, out)
    assert {k: v.relative_to(out).as_posix() for k, v in paths.items()} == {
        "html": "index.html", "json": "results.json", "csv": "indicators.csv",
        "xlsx": "indicators.xlsx", "common_csv": "common_indicators.csv",
        "region:cantabria": "regions/ES13.html", "region:kujawsko": "regions/PL61.html",
        "region:hostile": "regions/XX99.html"}
    files = _snapshot(out)
    assert set(files) == NAMES
    assert files["index.html"] == rendered["html"].encode("utf-8")
    assert files["results.json"] == rendered["json"].encode("utf-8")
    assert files["indicators.csv"] == rendered["csv"].encode("utf-8")
    assert files["indicators.xlsx"] == indicators_xlsx(result)
    for path in REGION_PAGES:
        assert files[path] == pages[path].encode("utf-8")
    # the names a reader opens are links through the one switch, .policylab/current
    assert (out / "regions").is_dir() and not (out / "regions").is_symlink()
    assert {name: os.readlink(out / name) for name in NAMES} == {
        name: "../" * name.count("/") + ".policylab/current/" + name for name in NAMES}
    assert os.readlink(out / RUNS_DIR / "current") == "run-a"
    assert _entries(out) == sorted([
        ".policylab", ".policylab/current -> run-?", ".policylab/lock", ".policylab/run-?",
        *(f".policylab/run-?/{n}" for n in [*NAMES, "regions"]),
        *(f"{n} -> {os.readlink(out / n)}" for n in NAMES), "regions"])
    assert (out / RUNS_DIR / "lock").read_bytes() == b""  # the writer's pid only while it writes


def test_rewriting_the_same_result_gives_the_same_bytes(written, result):
    first, names = _snapshot(written), _entries(written)
    current = os.readlink(written / RUNS_DIR / "current")
    write_report(result, written)
    assert _snapshot(written) == first
    assert _entries(written) == names  # the previous run folder is gone
    assert os.readlink(written / RUNS_DIR / "current") != current  # the other run folder


def test_a_folder_written_by_an_earlier_version_is_taken_over(tmp_path, report_dir, result):
    old = tmp_path / "old"
    shutil.copytree(report_dir, old, ignore=shutil.ignore_patterns(RUNS_DIR))  # plain files
    assert not (old / "index.html").is_symlink()
    (old / "regions" / "notes.html").write_text("mine", encoding="utf-8")
    (old / "regions" / "ZZ11.html").write_bytes((old / "regions" / "ES13.html").read_bytes())
    (old / "notes.txt").write_text("mine", encoding="utf-8")
    leftovers = [old / ".results.json.0123456789ab.tmp",
                 old / "regions" / ".ES13.html.0123456789ab.tmp"]
    for path in leftovers:
        path.write_text("a temporary file of a killed run of an earlier version", encoding="utf-8")
    lookalike = old / ".index.html.mine.tmp"  # not a name policylab makes
    lookalike.write_text("mine", encoding="utf-8")
    write_report(result, old)
    assert _snapshot(old) == {**_snapshot(report_dir), "notes.txt": b"mine",
                              ".index.html.mine.tmp": b"mine", "regions/notes.html": b"mine"}
    assert not any(p.exists() for p in leftovers)
    assert os.readlink(old / "index.html") == ".policylab/current/index.html"
    assert sorted(p.name for p in (old / RUNS_DIR).iterdir()) == ["current", "lock", "run-b"]


def test_leftovers_of_killed_runs_are_removed_and_nothing_else(written, result):
    runs = written / RUNS_DIR
    before = _snapshot(written)
    other = "run-b" if os.readlink(runs / "current") == "run-a" else "run-a"
    (runs / other / "regions").mkdir(parents=True)  # a run killed while it wrote its folder
    (runs / other / "index.html").write_text("half", encoding="utf-8")
    (runs / ".current.0123456789ab.tmp").symlink_to(other)  # ... or just before the switch
    (written / ".index.html.0123456789ab.tmp").symlink_to(".policylab/current/index.html")
    (written / "regions" / "NEW1.html").symlink_to("../.policylab/current/regions/NEW1.html")
    mine = [written / "regions" / "mine.html", runs / "notes.txt"]
    (written / "regions" / "mine.html").symlink_to("../elsewhere/mine.html")  # leads nowhere
    (runs / "notes.txt").write_text("mine", encoding="utf-8")
    write_report(result, written)
    assert _snapshot(written) == before
    names = _entries(written)
    assert not [n for n in names if ".tmp" in n or "NEW1" in n]
    assert [n for n in names if n.startswith(".policylab/run-") and n.count("/") == 1] == [
        ".policylab/run-?"]
    assert all(p.is_symlink() or p.exists() for p in mine)  # not names policylab makes


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
    assert a["indicators.xlsx"] == b["indicators.xlsx"]  # no run time in a spreadsheet either
    assert a["common_indicators.csv"] == b["common_indicators.csv"]
    for name in a:
        if name not in ("indicators.csv", "indicators.xlsx", "common_indicators.csv"):
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
    before, names = _snapshot(written), _entries(written)
    with pytest.raises((KeyError, ValueError, TypeError, AttributeError)):
        write_report(make_bad(result), written)
    assert _snapshot(written) == before  # same bytes
    assert _entries(written) == names  # same names: no temporary files or folders left


@pytest.mark.parametrize("fail_at", [2, 4], ids=["json", "a-region-page"])
def test_failure_while_writing_the_run_leaves_nothing_behind(written, result, monkeypatch,
                                                             fail_at):
    tmp_path = written
    before, names = _snapshot(tmp_path), _entries(tmp_path)
    real = writer_module._write_file
    calls = []

    def fail(final, data):
        calls.append(final)
        if len(calls) == fail_at:
            raise OSError("disk full")
        return real(final, data)

    monkeypatch.setattr(writer_module, "_write_file", fail)
    changed = dataclasses.replace(result, lab_name="another name")
    with pytest.raises(OSError, match="disk full"):
        write_report(changed, tmp_path)
    assert _snapshot(tmp_path) == before
    assert _entries(tmp_path) == names  # the new run folder is removed


def test_failure_after_the_links_removes_those_that_lead_nowhere(written, result, monkeypatch):
    before, names = _snapshot(written), _entries(written)

    def fail(runs, slot):
        raise OSError("no space for the switch")

    monkeypatch.setattr(writer_module, "_switch", fail)
    larger = dataclasses.replace(result, regions=(*result.regions, dataclasses.replace(
        result.regions[0], key="cantabria2", nuts2="ES99")))
    with pytest.raises(OSError, match="no space"):
        write_report(larger, written)
    assert (_snapshot(written), _entries(written)) == (before, names)
