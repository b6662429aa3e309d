"""``policylab estimate --engine duckdb``: Callaway-Sant'Anna from the lab's store gives the
in-memory numbers (analytic intervals), and an estimator that needs the panel in memory is
refused with the setting to change."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

from policylab.config import load_config
from policylab.errors import PolicylabWarning, UsageError
from policylab.pipeline import estimate

from labfiles import write_tiny_lab

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.PolicylabWarning")


@pytest.fixture
def cfg(tmp_path):
    return load_config(write_tiny_lab(tmp_path / "lab"))


def test_duckdb_estimate_equals_the_in_memory_analytic_fit(cfg):
    quick = cfg.model_copy(update={"estimation": cfg.estimation.model_copy(
        update={"few_cluster_threshold": 0})})
    (mem,) = estimate(quick, method="callaway_santanna", outcome="exporter", engine="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicylabWarning)
        (sql,) = estimate(quick, method="callaway_santanna", outcome="exporter", engine="duckdb")
    a, b = mem.result.headline, sql.result.headline
    assert b.estimate == pytest.approx(a.estimate, abs=1e-12)
    assert b.std_error == pytest.approx(a.std_error, rel=1e-9)
    assert sql.result.n_units == mem.result.n_units and sql.result.spec["engine"] == "duckdb"
    assert "SQL over the store" in sql.inference["reason"]
    terms = {e.event_time: e.estimate for e in mem.result.estimates}
    for e in sql.result.estimates:
        assert e.estimate == pytest.approx(terms[e.event_time], abs=1e-12)


def test_an_estimator_needing_the_panel_in_memory_is_refused(cfg):
    with pytest.raises(UsageError, match="--engine pandas"):
        estimate(cfg, method="event_study", outcome="exporter", engine="duckdb")


def test_the_cli_takes_engine_and_prints_json(cfg):
    done = subprocess.run([sys.executable, "-c", "from policylab.cli import main; main()",
                           "estimate", str(cfg.source), "--engine", "duckdb", "--format", "json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (record,) = json.loads(done.stdout)["results"]
    assert record["method"] == "callaway_santanna" and record["spec"]["engine"] == "duckdb"
    wrong = subprocess.run([sys.executable, "-c", "from policylab.cli import main; main()",
                            "estimate", str(cfg.source), "--engine", "duckdb", "-m", "twfe"],
                           capture_output=True, text=True, check=False)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "--engine pandas" in wrong.stderr
