"""`policylab evaluate --timestamp`: the only way a time gets into the outputs."""

from __future__ import annotations

import json
import re

import pytest
from labfiles import write_tiny_lab  # tests/labfiles.py (tests/ is on the path: its conftest)
from typer.testing import CliRunner

from policylab.cli import app

runner = CliRunner()
STAMP = "2025-11-27T09:30:00Z"  # SOURCE_DATE_EPOCH=1764235800


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()
            and not p.relative_to(folder).as_posix().startswith("store/")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cli")
    lab = write_tiny_lab(tmp_path / "lab")
    plain, stamped = tmp_path / "plain", tmp_path / "stamped"
    first = runner.invoke(app, ["evaluate", str(lab), "--out", str(plain), "--quiet"])
    assert first.exit_code == 0, first.output
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1764235800")
        second = runner.invoke(app, ["evaluate", str(lab), "--out", str(stamped), "--timestamp",
                                     "--format", "json"])
    assert second.exit_code == 0, second.output
    return _files(plain), _files(stamped), second.stdout


def test_timestamp_only_when_asked_once_per_page_and_in_the_json(runs):
    plain, stamped, stdout = runs
    assert {"index.html", "results.json", "indicators.csv", "regions/ES13.html"} <= set(plain)
    assert set(plain) == set(stamped)
    for name, data in plain.items():
        assert not re.search(rb"20\d\d-\d\d-\d\dT\d\d:\d\d", data), name
        assert b"generated_at" not in data, name
    assert json.loads(stamped["results.json"])["generated_at"] == STAMP
    assert stdout == stamped["results.json"].decode("utf-8")  # stdout equals the file
    for page in ("index.html", "regions/ES13.html"):
        html = stamped[page].decode("utf-8")
        assert html.count("<time ") == 1
        assert html.count(STAMP) == 2  # the one <time> element: datetime attribute and text
    assert stamped["indicators.csv"] == plain["indicators.csv"]


def test_the_stamp_is_the_only_difference(runs):
    plain, stamped, _ = runs
    unstamped = json.loads(stamped["results.json"])
    del unstamped["generated_at"]
    assert unstamped == json.loads(plain["results.json"])
    for page in ("index.html", "regions/ES13.html"):
        a, b = plain[page].decode("utf-8"), stamped[page].decode("utf-8")
        b = re.sub(r' on <time datetime="[^"]+">[^<]+</time>', "", b)
        a = a.replace(" The same data and settings give the same file, byte for byte.", "")
        assert a == b
