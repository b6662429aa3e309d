"""``policylab evaluate --engine duckdb``: a lab whose firm tables stay on disk gives the report
the in-memory run gives, where both compute the same things.

The shipped example runs twice with the same settings (Callaway-Sant'Anna only, analytic
intervals, no margins): in memory (pandas) and with the firm tables streamed into the store
and Callaway-Sant'Anna, the firm indicators and the data-quality counts computed as SQL over
it (:mod:`policylab.outofcore`). Every published number agrees to 1e-9; what the engine does
not run is named in the report's notes; estimators that need the panel in memory are refused
with the setting to change.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from labfiles import write_tiny_lab

from policylab.config import load_config
from policylab.errors import UsageError
from policylab.pipeline import evaluate

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "example.toml"

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.PolicylabWarning")


#: Three of the example's regions (Kent's workbooks take longest to read; the lab-wide cells
#: need two or more).
REGIONS = ("cantabria", "kujawsko_pomorskie", "molise")


def _comparable(cfg):
    """The example's settings both engines can run: CS only, analytic intervals, no margins."""
    est = cfg.estimation.model_copy(update={"methods": ["callaway_santanna"],
                                            "few_cluster_threshold": 0, "margins": False})
    regions = [r for r in cfg.regions if r.key in REGIONS]
    return cfg.model_copy(update={"estimation": est, "regions": regions})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cfg = _comparable(load_config(EXAMPLE))
    root = tmp_path_factory.mktemp("engines")
    mem = evaluate(cfg, write=False, engine="pandas")
    sql = evaluate(cfg, out_dir=root / "duckdb", engine="duckdb")
    return root, mem, sql


def _close(a, b, *, rel=1e-9, abs_=1e-12) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def test_every_headline_and_event_time_effect_equals_the_in_memory_one(runs):
    _, mem, sql = runs
    assert [(e.region, e.outcome) for e in sql.effects] == [(e.region, e.outcome) for e in mem.effects]
    assert len(sql.effects) == 9  # three regions x three outcomes
    for a, b in zip(mem.effects, sql.effects, strict=True):
        ra, rb = a.result, b.result
        assert (rb.n_obs, rb.n_units, rb.n_treated, rb.n_clusters) == \
            (ra.n_obs, ra.n_units, ra.n_treated, ra.n_clusters)
        for x, y in zip((ra.headline, *ra.estimates), (rb.headline, *rb.estimates), strict=True):
            assert x.term == y.term
            for field in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
                assert _close(getattr(x, field), getattr(y, field)), (a.region, a.outcome, x.term, field)
        assert rb.spec["engine"] == "duckdb" and "SQL over the store" in b.inference["reason"]


def test_the_pre_trend_test_runs_from_the_engines_event_time_covariance(runs):
    _, mem, sql = runs
    for a, b in zip(mem.diagnostics, sql.diagnostics, strict=True):
        assert (a.region, a.outcome) == (b.region, b.outcome)
        assert b.pretrend is not None, b.notes
        assert _close(a.pretrend["statistic"], b.pretrend["statistic"], rel=1e-7)
        assert _close(a.pretrend["p_value"], b.pretrend["p_value"], rel=1e-7)
        assert b.bacon is None and b.power is None and any("in memory" in n for n in b.notes)


def _keyed(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def test_every_indicator_cell_equals_the_in_memory_one(runs):
    _, mem, sql = runs
    keys = ["indicator_id", "region", "level", "cluster_id", "period", "group"]
    a, b = _keyed(mem.indicators, keys), _keyed(sql.indicators, keys)
    assert len(a) == len(b) > 1000
    pd.testing.assert_frame_equal(a.drop(columns=["value"]), b.drop(columns=["value"]))
    np.testing.assert_allclose(b["value"].to_numpy(float), a["value"].to_numpy(float), rtol=1e-9,
                               atol=1e-9, equal_nan=True)
    # the comparison pool's cells are there: never-members' export turnover per region
    never = b[(b.indicator_id == "I12") & (b.group == "never_members") & (b.level == "region")]
    assert never["value"].notna().sum() > 20


def test_common_indicators_data_quality_and_synthesis_are_the_same(runs):
    _, mem, sql = runs
    pd.testing.assert_frame_equal(mem.common, sql.common)
    pd.testing.assert_frame_equal(mem.data_quality, sql.data_quality, check_dtype=False)
    for a, b in zip(mem.synthesis.pooled, sql.synthesis.pooled, strict=True):
        assert _close(a.estimate, b.estimate) and _close(a.std_error, b.std_error, rel=1e-8)


def test_the_report_is_written_and_says_what_did_not_run(runs):
    root, _, sql = runs
    assert (root / "duckdb" / "index.html").is_file()
    record = json.loads((root / "duckdb" / "results.json").read_text(encoding="utf-8"))
    assert record["settings"]["engine"] == "duckdb"
    note = next(w for w in sql.warnings if w.startswith("lab.engine = 'duckdb'"))
    for missing in ("few-cluster", "other estimators", "balance table"):
        assert missing in note
    assert sql.balance is None and not sql.margins


def test_estimators_needing_the_panel_are_refused_before_anything_is_read(tmp_path):
    cfg = load_config(EXAMPLE)  # methods: callaway_santanna and event_study
    with pytest.raises(UsageError, match=r"estimation.methods.*'event_study'.*--engine pandas"):
        evaluate(cfg, out_dir=tmp_path / "out", engine="duckdb")
    assert not (tmp_path / "out").exists()


def test_the_cli_takes_engine_and_exits_2_on_a_refused_setting(tmp_path):
    config = write_tiny_lab(tmp_path / "lab")
    text = config.read_text(encoding="utf-8").replace(
        "[estimation]\n", '[estimation]\nmethods = ["callaway_santanna"]\n')
    config.write_text(text, encoding="utf-8")
    cli = [sys.executable, "-c", "from policylab.cli import main; main()", "evaluate"]
    done = subprocess.run([*cli, str(config), "--engine", "duckdb", "--format", "json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["settings"]["engine"] == "duckdb"
    assert (config.parent / "out" / "index.html").is_file()
    wrong = subprocess.run([*cli, str(EXAMPLE), "--engine", "duckdb", "--out", str(tmp_path / "x")],
                           capture_output=True, text=True, check=False)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "estimation.methods" in wrong.stderr


def test_a_second_run_writes_the_same_bytes(runs, tmp_path):
    """DuckDB runs one thread by default (lab.engine_threads = 1): its parallel sums would add
    in a varying order and move the last digits of results.json and the CSVs."""
    root, _, _ = runs
    cfg = _comparable(load_config(EXAMPLE))
    evaluate(cfg, out_dir=tmp_path / "again", engine="duckdb")
    for name in ("results.json", "indicators.csv", "common_indicators.csv", "index.html"):
        assert (tmp_path / "again" / name).read_bytes() == (root / "duckdb" / name).read_bytes(), name


def test_validate_checks_a_lab_on_an_sql_engine_in_chunks_with_the_same_findings(tmp_path):
    config = write_tiny_lab(tmp_path / "lab")
    firms = config.parent / "firms.csv"
    firms.write_text(firms.read_text(encoding="utf-8").replace("003;2019;0;80;7", "003;2019;x;80;7"),
                     encoding="utf-8")
    cli = [sys.executable, "-c", "from policylab.cli import main; main()", "validate"]
    found = {}
    for engine in ("pandas", "duckdb"):
        text = config.read_text(encoding="utf-8")
        text = text.replace("[lab]\n", f'[lab]\nengine = "{engine}"\n') if "engine =" not in text else \
            text.replace('engine = "pandas"', f'engine = "{engine}"')
        config.write_text(text, encoding="utf-8")
        done = subprocess.run([*cli, str(config), "--format", "json"], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        found[engine] = json.loads(done.stdout)["problems"]
    assert found["duckdb"] == found["pandas"]
    assert [(p["row"], p["column"], p["value"]) for p in found["duckdb"]] == [(9, "export", "x")]


def test_a_region_whose_design_identifies_nothing_gets_the_in_memory_note(tmp_path):
    """Every firm joins (no never-members to compare with): both engines say the effect was
    not estimated and why, and the run goes on."""
    config = write_tiny_lab(tmp_path / "lab")
    (config.parent / "members.csv").write_text(
        "firm,cluster,joined,left\n001,C1,2019,\n002,C1,2019,2020\n003,C1,2020,\n004,C1,2020,\n",
        encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace(
        "[estimation]\n", '[estimation]\nmethods = ["callaway_santanna"]\nfew_cluster_threshold = 0\n')
    config.write_text(text, encoding="utf-8")
    cfg = load_config(config)
    notes = {}
    for engine in ("pandas", "duckdb"):
        res = evaluate(cfg, out_dir=tmp_path / engine, engine=engine)
        assert not res.effects
        notes[engine] = [w for w in res.warnings if "not estimated" in w]
    assert len(notes["pandas"]) == len(notes["duckdb"]) == 2, notes
    for mem, sql in zip(notes["pandas"], notes["duckdb"], strict=True):  # the engine names the cell too
        head, why = mem.split(" not estimated: ")
        assert sql.startswith(head) and sql.endswith(why), (mem, sql)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as Linux counts it")
def test_the_engine_run_fits_an_address_space_limit_far_below_what_the_allocators_would_keep(tmp_path):
    """Under ``ulimit -v`` what runs out is address space. With glibc's arena per thread,
    pyarrow's and DuckDB's allocators keeping freed memory mapped, the tiny lab needed about
    2 GB of address space on a 2-core machine (more with more cores); with the engine run's
    allocator settings (:mod:`policylab.allocators`) it needs about 1.4 GB."""
    import resource

    config = write_tiny_lab(tmp_path / "lab")
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[estimation]\n", '[estimation]\nmethods = ["callaway_santanna"]\n'), encoding="utf-8")
    limit = int(1.75 * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_ARENA_MAX", "ARROW_DEFAULT_MEMORY_POOL", "DUCKDB_JE_MALLOC_CONF")}
    done = subprocess.run([sys.executable, "-c", "from policylab.cli import main; main()", "evaluate",
                           str(config), "--engine", "duckdb", "--out", str(tmp_path / "out"), "--quiet"],
                          preexec_fn=cap, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "index.html").is_file()


def test_the_monitoring_indicators_on_an_engine_equal_the_in_memory_ones(tmp_path):
    """``policylab indicators`` (``monitoring``) on DuckDB streams the firms files into the
    store and computes the firm indicators as SQL over it, as ``evaluate`` does."""
    from policylab.pipeline import monitoring

    cfg = _comparable(load_config(EXAMPLE))
    cfg = cfg.model_copy(update={"lab": cfg.lab.model_copy(update={"output_dir": tmp_path / "out"})})
    keys = ["indicator_id", "region", "level", "cluster_id", "period", "group"]
    mem = _keyed(monitoring(cfg, engine="pandas").indicators, keys)
    sql = _keyed(monitoring(cfg, engine="duckdb").indicators, keys)
    assert len(mem) == len(sql) > 1000
    pd.testing.assert_frame_equal(mem.drop(columns=["value"]), sql.drop(columns=["value"]))
    np.testing.assert_allclose(sql["value"].to_numpy(float), mem["value"].to_numpy(float), rtol=1e-9,
                               atol=1e-9, equal_nan=True)
    assert (tmp_path / "out" / "store" / "firms").is_dir()  # the firm tables went to the store
    assert set(sql.indicator_id) >= {"I12", "I13", "I14", "I21"}  # among them the SQL ones


def test_the_indicators_command_takes_engine(tmp_path):
    config = write_tiny_lab(tmp_path / "lab")
    cli = [sys.executable, "-c", "from policylab.cli import main; main()", "indicators", str(config),
           "--format", "json"]
    out = {}
    for engine in ("pandas", "duckdb"):
        done = subprocess.run([*cli, "--engine", engine], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        out[engine] = json.loads(done.stdout)
    assert out["duckdb"] == out["pandas"]
    assert (config.parent / "out" / "store" / "firms").is_dir()
