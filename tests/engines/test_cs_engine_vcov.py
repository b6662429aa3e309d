"""The SQL engines' covariance of the dynamic aggregation (``StoreCSResult.vcov["dynamic"]``)
is the in-memory ``aggregate(att_gt(...), "dynamic", min_e, max_e).vcov`` to 1e-9: clustered
by consortium or firm, with the estimated-weights term, on the example store and the
generated panels of ``test_cs_engines`` (whose fixtures and helpers this file imports), in
one query or (under a DuckDB memory budget) several (Spark's: ``test_cs_engines``' Spark
test, whose ``assert_same`` checks every result's covariance). It is what the pre-trend
test needs: the same Wald statistic as the in-memory headline result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_cs_engines as shared
from test_cs_engines import CONTROL_GROUPS, EXAMPLE_REGIONS, LAB, OUTCOMES, RTOL, reference

from policylab.did import pretrend_test
from policylab.did.estimators.callaway_santanna.headline import cs_headline_result
from policylab.did.results import DiDResult, Estimate
from policylab.engines import StoreCSResult, cs_from_store, cs_from_store_many, duckdb_engine

# the session fixture of test_cs_engines: the example store with the generated regions
store = shared.store

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.PolicylabWarning")


def assert_same_vcov(res: StoreCSResult, store: Path, **opts) -> float:
    """``res.vcov`` equals the in-memory one (each entry to RTOL of ``sqrt(V_ii V_jj)``); its
    diagonal is the squared standard errors. Returns the largest such difference."""
    _, aggs = reference(store, res.region, res.outcome, res.spec["control_group"], **opts)
    where = f"{res.engine} {res.region}/{res.outcome}/{res.spec['control_group']}"
    want = aggs["dynamic"].vcov
    got = res.vcov["dynamic"]
    assert isinstance(got, np.ndarray) and got.shape == want.shape == (len(aggs["dynamic"].keys),) * 2, where
    assert np.array_equal(got, got.T), where
    scale = np.sqrt(np.outer(np.diag(want), np.diag(want)))
    scale[scale == 0] = 1.0
    worst = float((np.abs(got - want) / scale).max(initial=0.0))
    assert worst <= RTOL, f"{where}: vcov differs by {worst:.3g} (relative)"
    se = res.aggregates["dynamic"]["std_error"].to_numpy(dtype=float)[1:]  # "overall" first
    ok = ~np.isnan(se)
    np.testing.assert_allclose(np.sqrt(np.diag(got))[ok], se[ok], rtol=1e-12, err_msg=where)
    if "simple" in res.vcov:  # the 1x1 of the simple ATT
        assert res.vcov["simple"].shape == (1, 1)
        np.testing.assert_allclose(np.sqrt(res.vcov["simple"][0, 0]),
                                   aggs["simple"].overall.std_error, rtol=1e-12, err_msg=where)
    return worst


def test_duckdb_vcov_equals_pandas_on_the_example_store(store: Path) -> None:
    results = cs_from_store_many(store, EXAMPLE_REGIONS, OUTCOMES, control_groups=CONTROL_GROUPS,
                                 engine="duckdb", **LAB)
    worst = max(assert_same_vcov(res, store, **LAB) for res in results.values())
    assert worst < 1e-12  # rounding only
    assert all(res.vcov["dynamic"].shape == (10, 10) for res in results.values())  # -4..5


OPTIONS = {
    "firm_clusters": {"cluster": "firm_id", "max_e": 3},
    "unclustered_balanced_e": {"cluster": None, "balance_e": 2},
    "anticipation_universal": {"anticipation": 1, "min_e": -3, "base_period": "universal"},
}


@pytest.mark.parametrize("opts", OPTIONS.values(), ids=OPTIONS.keys())
def test_duckdb_vcov_equals_pandas_on_generated_panels(store: Path, opts: dict) -> None:
    results = cs_from_store_many(store, ["gen_unbalanced", "gen_balanced"],
                                 ["exporter", "log_exports"], control_groups=CONTROL_GROUPS,
                                 engine="duckdb", **opts)
    results |= cs_from_store_many(store, ["gen_no_never", "gen_skips"], "exporter",
                                  control_groups="not_yet_treated", engine="duckdb", **opts)
    for res in results.values():
        assert_same_vcov(res, store, **opts)


def test_duckdb_vcov_in_several_queries_under_a_budget(store: Path, monkeypatch) -> None:
    """A budget of ~3000 per-cluster sums (gen_unbalanced has ~190 clusters): the influence
    query runs slot by slot and the covariance query request by request."""
    monkeypatch.setattr(duckdb_engine, "_cell_budget", lambda con: 3000)
    queries: list[str] = []
    query = duckdb_engine.DuckDBBackend.query
    monkeypatch.setattr(duckdb_engine.DuckDBBackend, "query",
                        lambda self, sql: queries.append(sql) or query(self, sql))
    results = cs_from_store_many(store, "gen_unbalanced", ["exporter", "log_exports"],
                                 control_groups=CONTROL_GROUPS, engine="duckdb", **LAB)
    assert sum("pl_pairs" in q for q in queries) == 4
    for res in results.values():
        assert_same_vcov(res, store, **LAB)


def _headline(res: StoreCSResult) -> DiDResult:
    """The engine result as a headline event study (as the lab's out-of-core estimate)."""
    dyn = res.aggregates["dynamic"].iloc[1:]
    terms = tuple(Estimate(r.term, r.estimate, r.std_error, r.conf_low, r.conf_high, r.p_value,
                           int(r.event_time)) for r in dyn.itertuples())
    s = res.aggregates["simple"].iloc[0]
    head = Estimate("simple_att", s["estimate"], s["std_error"], s["conf_low"], s["conf_high"],
                    s["p_value"])
    return DiDResult(method="callaway_santanna", outcome=res.outcome, estimates=terms,
                     headline=head, vcov=res.vcov["dynamic"], vcov_type="analytic", alpha=res.alpha,
                     n_obs=res.n_obs, n_units=res.n_units, n_treated=res.n_treated,
                     n_clusters=res.n_clusters, spec=dict(res.spec))


def test_pretrend_test_from_the_engine_is_the_in_memory_one(store: Path) -> None:
    res = cs_from_store(store, "gen_unbalanced", "log_exports", **LAB)
    gt, aggs = reference(store, "gen_unbalanced", "log_exports", "never_treated", **LAB)
    want = pretrend_test(cs_headline_result(gt, aggs["simple"], aggs["dynamic"]))
    got = pretrend_test(_headline(res))
    assert list(got.terms) == list(want.terms) and got.df == want.df == 4  # e = -4..-1
    assert got.statistic == pytest.approx(want.statistic, rel=1e-9)
    assert got.p_value == pytest.approx(want.p_value, rel=1e-9)


def test_vcov_only_with_the_dynamic_aggregation(store: Path) -> None:
    res = cs_from_store(store, "kent", "exporter", aggregations=["group", "calendar"])
    assert dict(res.vcov) == {}
    res = cs_from_store(store, "kent", "exporter", aggregations="dynamic", **LAB)
    assert set(res.vcov) == {"dynamic"}
    assert np.array(res.to_dict()["vcov"]["dynamic"]).shape == res.vcov["dynamic"].shape
    # the field has a default: constructors without it keep working
    bare = StoreCSResult(engine="x", region="kent", outcome="exporter", att_gt=pd.DataFrame(),
                         aggregates={}, n_units=0, n_treated=0, n_clusters=0, n_obs=0,
                         design="panel", alpha=0.05, spec={})
    assert dict(bare.vcov) == {} and bare.to_dict()["vcov"] == {}
