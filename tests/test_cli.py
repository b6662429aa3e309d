"""The command line: exit codes, one-line user errors, stdout for results only."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labfiles import TINY_FIRMS, write_tiny_lab
from policylab import __version__
from policylab.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"policylab {__version__}"


def test_a_config_with_a_typo_exits_2_naming_the_key(tmp_path):
    cfg = write_tiny_lab(tmp_path)
    cfg.write_text(cfg.read_text().replace("leads = 1", "lead = 1"))
    result = runner.invoke(app, ["evaluate", str(cfg)])
    assert result.exit_code == 2
    assert "estimation.lead: unknown key" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_a_missing_config_exits_2(tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.toml'}: config file not found"


def test_bad_data_exits_2_with_one_line_per_problem_and_leaves_the_old_report(tmp_path):
    cfg = write_tiny_lab(tmp_path)
    out = tmp_path / "out"
    first = runner.invoke(app, ["evaluate", str(cfg), "--quiet"])
    assert first.exit_code == 0, first.output
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (tmp_path / "firms.csv").write_text(TINY_FIRMS.replace("002;2019;2;55;4", "002;2019;two;55;4"))
    result = runner.invoke(app, ["evaluate", str(cfg)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: firms.csv, row 6, column 'export': expected a number (with a decimal comma) (got 'two')"]
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_validate_lists_every_problem_as_json_and_exits_2(tmp_path):
    cfg = write_tiny_lab(tmp_path, firms=TINY_FIRMS.replace("002;2019;2;55;4", "002;2019;-2;55;4")
                         .replace("003;2018", "003;20x8"))
    result = runner.invoke(app, ["validate", str(cfg), "--format", "json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert {(p["row"], p["column"]) for p in report["problems"]} == {(6, "export"), (8, "anyo")}


def test_validate_passes_a_clean_lab(tiny_lab):
    result = runner.invoke(app, ["validate", str(tiny_lab)])
    assert result.exit_code == 0
    assert "1 region(s) checked: 0 error(s), 0 warning(s)" in result.stdout


def test_validate_strict_turns_warnings_into_errors(tmp_path):
    cfg = write_tiny_lab(tmp_path, firms=TINY_FIRMS.replace("002;2018;1;50;4", "002;2018;70;50;4"))
    assert runner.invoke(app, ["validate", str(cfg)]).exit_code == 0
    assert runner.invoke(app, ["validate", str(cfg), "--strict"]).exit_code == 2


def test_evaluate_writes_the_three_outputs_and_json_equals_the_api(tiny_lab):
    import policylab
    from policylab.report import results_json

    out = tiny_lab.parent / "elsewhere"
    result = runner.invoke(app, ["evaluate", str(tiny_lab), "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert {"index.html", "indicators.csv", "results.json", "regions"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in (out / "regions").iterdir()) == ["ES13.html"]  # one page per region
    api = policylab.evaluate(tiny_lab, write=False)
    assert result.stdout == results_json(api)
    assert json.loads(result.stdout)["schema_version"] == 1


def test_estimate_json_equals_the_api(tiny_lab):
    from policylab.config import load_config
    from policylab.pipeline import estimate

    result = runner.invoke(app, ["estimate", str(tiny_lab), "--method", "event_study", "--outcome", "log_exports",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["results"]
    [api] = estimate(load_config(tiny_lab), method="event_study", outcome="log_exports")
    assert [r["headline"]["estimate"] for r in got] == [api.result.headline.estimate]
    assert got[0]["method"] == "event_study" and got[0]["region"] == "tiny"


def test_estimate_names_an_unknown_region_and_exits_2(tiny_lab):
    result = runner.invoke(app, ["estimate", str(tiny_lab), "--region", "atlantis"])
    assert result.exit_code == 2
    assert "unknown region key(s) ['atlantis']; the config has ['tiny']" in result.stderr


def test_estimate_rejects_an_unknown_method_as_a_usage_error(tiny_lab):
    result = runner.invoke(app, ["estimate", str(tiny_lab), "--method", "magic"])
    assert result.exit_code == 2


def _evaluate_with_stderr_on(tiny_lab, terminal: bool) -> tuple[int, str]:
    """Run the real ``policylab evaluate`` with stderr on a pseudo-terminal or a pipe."""
    import os
    import pty
    import subprocess
    import sys

    cmd = [sys.executable, "-c", "from policylab.cli import main; main()", "evaluate", str(tiny_lab)]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("CI", None)  # rich treats CI as "not interactive"
    if not terminal:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        return proc.returncode, proc.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


def test_evaluate_shows_its_stage_and_region_on_a_terminal_only(tiny_lab):
    code, shown = _evaluate_with_stderr_on(tiny_lab, terminal=True)
    assert code == 0
    assert "Estimating effects: Tiny Region, exporter" in shown
    assert "Writing the report" in shown
    code, piped = _evaluate_with_stderr_on(tiny_lab, terminal=False)
    assert code == 0
    assert "Estimating effects" not in piped and "Writing the report" not in piped
