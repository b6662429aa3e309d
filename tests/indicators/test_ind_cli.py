"""``policylab indicators CONFIG --format table|csv|json``: the same table as the Python API,
after disclosure control; stdout carries the results only."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
from typer.testing import CliRunner

from policylab.cli import app
from policylab.config import load_config
from policylab.evaluation import INDICATOR_COLUMNS, EvaluationResult
from policylab.indicators import compute_indicators
from policylab.ingest import ingest
from policylab.report import indicators_csv

runner = CliRunner()


def api_result(config) -> EvaluationResult:
    cfg = load_config(config)
    data = ingest(cfg)
    table = compute_indicators(((r.info, r.tables) for r in data.regions), min_cell_firms=cfg.lab.min_cell_firms,
                               dominance_share=cfg.lab.dominance_share)
    return EvaluationResult(cfg.lab.name, "", tuple(r.info for r in data.regions), table, (), pd.DataFrame(), {})


def test_csv_is_indicators_csv_of_the_api_table(tiny_lab):
    result = runner.invoke(app, ["indicators", str(tiny_lab), "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == indicators_csv(api_result(tiny_lab))
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == INDICATOR_COLUMNS
    assert {"region", "nuts2", "indicator_id", "level", "unit", "period", "value", "n_firms", "flag"} <= set(rows[0])


def test_json_holds_the_same_cells(tiny_lab):
    result = runner.invoke(app, ["indicators", str(tiny_lab), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1 and data["settings"]["dominance_share"] == 0.85
    api = api_result(tiny_lab).indicators
    assert len(data["indicators"]) == len(api)
    got = {(r["indicator_id"], r["level"], r["cluster_id"], r["group"], r["period"]): r for r in data["indicators"]}
    for row in api.itertuples(index=False):
        r = got[(row.indicator_id, row.level, row.cluster_id, row.group, row.period)]
        assert r["flag"] == row.flag
        assert (r["value"] is None) == pd.isna(row.value)
        if r["value"] is not None:
            assert r["value"] == row.value
    supp = [r for r in data["indicators"] if r["flag"] == "suppressed"]
    assert supp and all(r["value"] is None and r["n_firms"] is None for r in supp)


def test_table_with_filters(tiny_lab):
    result = runner.invoke(app, ["indicators", str(tiny_lab), "-i", "I14", "--region", "tiny"])
    assert result.exit_code == 0, result.stderr
    assert "I14" in result.stdout and "I12" not in result.stdout
    assert "suppressed" in result.stdout.splitlines()[-1]


def test_a_missing_config_exits_2(tmp_path):
    result = runner.invoke(app, ["indicators", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "config file not found" in result.stderr
    assert result.stdout == ""


def test_the_command_prints_the_api_result(tiny_lab):
    # the CLI is a thin shell: --format json is policylab.monitoring(cfg).to_dict()
    import policylab
    from policylab.report import to_jsonable

    api = policylab.monitoring(load_config(tiny_lab))
    result = runner.invoke(app, ["indicators", str(tiny_lab), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(json.dumps(to_jsonable(api.to_dict())))
    assert "MonitoringResult" in repr(api) and len(repr(api)) < 200


def test_the_registry_lists_and_explains_its_indicators():
    listed = runner.invoke(app, ["indicators", "--list"])  # no config needed
    assert listed.exit_code == 0, listed.stderr
    assert "I07" in listed.stdout and "Member retention" in listed.stdout
    one = runner.invoke(app, ["indicators", "--explain", "i07"])
    assert one.exit_code == 0 and one.stdout.startswith("I07 — Member retention")
    assert "numerator: memberships active in year t-1" in one.stdout
    bad = runner.invoke(app, ["indicators", "--explain", "I17x"])
    assert bad.exit_code == 2 and "did you mean 'I17'?" in bad.stderr
    none = runner.invoke(app, ["indicators"])
    assert none.exit_code == 2
