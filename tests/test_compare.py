"""`policylab compare OLD NEW`: which numbers changed between two runs (exit 1 if any did)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policylab.cli import app
from policylab.report.compare import (
    CompareError,
    compare_results,
    load_results,
)

runner = CliRunner()

BASE = {
    "schema_version": 1,
    "lab": {"name": "Lab", "description": ""},
    "effects": [
        {"region": "a", "outcome": "exporter", "method": "event_study",
         "headline": {"term": "avg_post", "estimate": 0.05, "std_error": 0.01},
         "estimates": [{"term": "event_time::0", "estimate": 0.01},
                       {"term": "event_time::1", "estimate": 0.02}],
         "n_units": 300, "warnings": ["few clusters"]},
        {"region": "b", "outcome": "exporter", "method": "event_study",
         "headline": {"term": "avg_post", "estimate": -0.01, "std_error": 0.02},
         "estimates": [], "n_units": 200, "warnings": []},
    ],
    "indicators": [
        {"region": "A", "indicator_id": "I01", "level": "region", "cluster_id": "",
         "group": "members", "period": "2020", "value": 12.0, "flag": ""},
        {"region": "A", "indicator_id": "I01", "level": "region", "cluster_id": "",
         "group": "members", "period": "2021", "value": 15.0, "flag": ""},
    ],
    "settings": {"alpha": 0.05},
}


def _write(folder: Path, record: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    return path


def test_identical_records_have_no_changes():
    cmp = compare_results(BASE, copy.deepcopy(BASE))
    assert not cmp.numbers_changed and cmp.changed == () and cmp.text_changed == ()
    assert cmp.numbers_compared == 12


def test_a_changed_number_is_listed_with_its_path_and_difference():
    new = copy.deepcopy(BASE)
    new["effects"][0]["headline"]["estimate"] = 0.051
    cmp = compare_results(BASE, new)
    assert [c.path for c in cmp.changed] == [
        "effects[region=a,outcome=exporter,method=event_study].headline.estimate"]
    change = cmp.changed[0]
    assert (change.old, change.new) == (0.05, 0.051)
    assert change.abs_diff == pytest.approx(0.001)
    assert change.rel_diff == pytest.approx(0.001 / 0.051)


def test_records_are_matched_by_identity_not_position():
    new = copy.deepcopy(BASE)
    new["effects"].reverse()
    new["indicators"].reverse()
    new["effects"][0]["estimates"].reverse()  # region b first now, a's estimates reversed
    assert not compare_results(BASE, new).numbers_changed


def test_balance_and_diagnostics_records_are_matched_by_identity():
    old = {**BASE,
           "balance": [{"region": "a", "variable": "exports_eur", "group": g, "mean": m}
                       for g, m in (("members", 10.0), ("never_members", 8.0))],
           "diagnostics": [{"region": r, "outcome": "exporter",
                            "honest_smoothness": {"robust": [{"M": 0.0, "conf_low": -0.1},
                                                             {"M": 0.01, "conf_low": -0.2}]}}
                           for r in ("a", "b")]}
    new = copy.deepcopy(old)
    new["balance"].reverse()
    new["diagnostics"].reverse()
    new["diagnostics"][0]["honest_smoothness"]["robust"].reverse()
    assert not compare_results(old, new).numbers_changed
    new["balance"][0]["mean"] = 9.0  # never-members, after the reversal
    new["diagnostics"][1]["honest_smoothness"]["robust"][0]["conf_low"] = -0.3  # a, M=0
    assert [c.path for c in compare_results(old, new).changed] == [
        "balance[region=a,variable=exports_eur,group=never_members].mean",
        "diagnostics[region=a,outcome=exporter].honest_smoothness.robust[M=0.0].conf_low"]


def test_tolerance_is_absolute_below_one_and_relative_above():
    new = copy.deepcopy(BASE)
    new["effects"][0]["headline"]["estimate"] = 0.05 + 5e-10     # |diff| 5e-10 <= 1e-9
    new["effects"][0]["n_units"] = 300 * (1 + 5e-10)            # relative 5e-10
    new["indicators"][0]["value"] = 12.0 + 1e-6                 # relative 8e-8 > 1e-9
    cmp = compare_results(BASE, new)
    assert [c.path for c in cmp.changed] == [
        "indicators[region=A,indicator_id=I01,level=region,cluster_id=,group=members,"
        "period=2020].value"]
    assert not compare_results(BASE, new, tolerance=1e-6).numbers_changed


def test_numbers_that_appear_or_disappear_count_as_changed():
    new = copy.deepcopy(BASE)
    new["indicators"][1]["value"] = None  # suppressed now
    new["effects"][0]["estimates"].append({"term": "event_time::2", "estimate": 0.03})
    del new["effects"][1]
    cmp = compare_results(BASE, new)
    paths = {c.path: (c.old, c.new) for c in cmp.changed}
    ind = ("indicators[region=A,indicator_id=I01,level=region,cluster_id=,group=members,"
           "period=2021].value")
    assert paths[ind] == (15.0, None)
    added = "effects[region=a,outcome=exporter,method=event_study].estimates[term=event_time::2]"
    assert (added + ".estimate") in paths
    gone = "effects[region=b,outcome=exporter,method=event_study].headline.estimate"
    assert paths[gone][0] == -0.01
    assert cmp.changed[[c.path for c in cmp.changed].index(gone)].to_dict()["new"] is None


def test_text_differences_are_listed_but_do_not_count():
    new = copy.deepcopy(BASE)
    new["effects"][0]["warnings"] = ["few clusters (7)"]
    new["indicators"][0]["flag"] = "suppressed"
    new["generated_at"] = "2026-11-27T09:30:00Z"  # ignored
    cmp = compare_results(BASE, new)
    assert not cmp.numbers_changed
    assert [c.path for c in cmp.text_changed] == [
        "effects[region=a,outcome=exporter,method=event_study].warnings[0]",
        "indicators[region=A,indicator_id=I01,level=region,cluster_id=,group=members,"
        "period=2020].flag"]


def test_different_schema_versions_cannot_be_compared():
    with pytest.raises(CompareError, match="schema versions 1 and 2"):
        compare_results(BASE, {**BASE, "schema_version": 2})


def test_bad_tolerance_is_refused():
    with pytest.raises(ValueError, match="tolerance"):
        compare_results(BASE, BASE, tolerance=-1)


@pytest.mark.parametrize(("content", "match"), [
    (None, "not found"), ("{not json", "not valid JSON"), ("[1, 2]", "no schema_version"),
    (b"\xff\xfe\x00", "cannot read")])
def test_unreadable_inputs(tmp_path, content, match):
    path = tmp_path / "results.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CompareError, match=match):
        load_results(path)


def test_an_output_folder_is_read_through_its_results_json(tmp_path):
    _write(tmp_path / "run", BASE)
    assert load_results(tmp_path / "run") == BASE


# --------------------------------------------------------------------------- the command

def test_cli_exit_0_when_nothing_changed(tmp_path):
    old, new = _write(tmp_path / "old", BASE), _write(tmp_path / "new", BASE)
    result = runner.invoke(app, ["compare", str(old.parent), str(new)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No number changed beyond tolerance 1e-09")


def test_cli_exit_1_listing_the_changed_numbers(tmp_path):
    new = copy.deepcopy(BASE)
    new["effects"][1]["headline"]["std_error"] = 0.025
    old_p, new_p = _write(tmp_path / "old", BASE), _write(tmp_path / "new", new)
    result = runner.invoke(app, ["compare", str(old_p), str(new_p)])
    assert result.exit_code == 1
    assert "1 of 12 numbers changed beyond tolerance 1e-09:" in result.stdout
    assert ("effects[region=b,outcome=exporter,method=event_study].headline.std_error: "
            "0.02 -> 0.025") in result.stdout
    loose = runner.invoke(app, ["compare", str(old_p), str(new_p), "--tolerance", "0.5"])
    assert loose.exit_code == 0


def test_cli_json_equals_the_library_result(tmp_path):
    new = copy.deepcopy(BASE)
    new["indicators"][0]["value"] = 13.0
    old_p, new_p = _write(tmp_path / "old", BASE), _write(tmp_path / "new", new)
    result = runner.invoke(app, ["compare", str(old_p), str(new_p), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == compare_results(BASE, new).to_dict()
    assert json.loads(result.stdout)["numbers_changed"] == 1


@pytest.mark.parametrize("bad", ["missing", "garbage"])
def test_cli_exit_2_on_unreadable_input(tmp_path, bad):
    old_p = _write(tmp_path / "old", BASE)
    other = tmp_path / "nothing-here.json"
    if bad == "garbage":
        other.write_text("<html>", encoding="utf-8")
    result = runner.invoke(app, ["compare", str(old_p), str(other)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert result.stdout == ""


def test_cli_negative_tolerance_is_a_usage_error(tmp_path):
    old_p = _write(tmp_path / "old", BASE)
    result = runner.invoke(app, ["compare", str(old_p), str(old_p), "--tolerance", "-1"])
    assert result.exit_code == 2


def test_two_evaluations_of_the_tiny_lab_compare_equal_and_a_change_is_caught(tmp_path, tiny_lab):
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        assert runner.invoke(app, ["evaluate", str(tiny_lab), "--out", str(out),
                                   "--quiet"]).exit_code == 0
    same = runner.invoke(app, ["compare", str(first), str(second)])
    assert same.exit_code == 0, same.output
    # change one input number: the comparison exits 1 and names effects or indicators
    shutil.copytree(tiny_lab.parent, tmp_path / "lab2")
    firms = tmp_path / "lab2" / "firms.csv"
    firms.write_text(firms.read_text(encoding="utf-8").replace("004;2020;6;99;9", "004;2020;9;99;9"),
                     encoding="utf-8")
    third = tmp_path / "third"
    assert runner.invoke(app, ["evaluate", str(tmp_path / "lab2" / "lab.toml"), "--out",
                               str(third), "--quiet"]).exit_code == 0
    changed = runner.invoke(app, ["compare", str(first), str(third), "--format", "json"])
    assert changed.exit_code == 1
    paths = [c["path"] for c in json.loads(changed.stdout)["changed"]]
    assert any(p.startswith("indicators[") for p in paths)
