"""The out-of-core Callaway-Sant'Anna (issue 14): DuckDB and Spark SQL over the Parquet store
give the in-memory numbers (``firm_panel`` -> ``att_gt`` -> ``aggregate``, as the lab's fit)
to 1e-9: ATT(g,t), their clustered analytic standard errors, and the simple, dynamic, group
and calendar aggregations with theirs.

Data: the shipped example (six regions, unbalanced firms, missing exports), ingested once per
session into a store, plus generated regions written into the same store: an unbalanced panel
with missing outcomes, early, late and tied memberships; a balanced one; one without
never-members; one whose cells get skipped. Spark tests (``-m spark``) share one local[1]
session; without Java they are skipped, unless ``CI=true`` (then they fail).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt
from policylab.did.panel import firm_panel
from policylab.engines import (
    ENGINES,
    KINDS,
    StoreCSResult,
    cs_from_store,
    cs_from_store_many,
    max_difference,
)
from policylab.errors import DesignError, PolicylabWarning, UsageError, UserError
from policylab.store import CanonicalStore

EXAMPLE_REGIONS = ["cantabria", "kujawsko_pomorskie", "kent", "aquitaine", "usti", "molise"]
OUTCOMES = ["exporter", "log_exports", "exports_eur"]
CONTROL_GROUPS = ["never_treated", "not_yet_treated"]
LAB = {"min_e": -4, "max_e": 5}  # the example lab's leads and lags (fits.callaway_santanna)
RTOL = 1e-9

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.PolicylabWarning")


# --------------------------------------------------------------------------- data


def staggered_tables(n_firms: int, *, seed: int, balanced: bool = False,
                     never_share: float = 0.4, n_consortia: int = 25,
                     cohorts: tuple[int, ...] = (2013, 2015, 2017)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``firms`` and ``membership`` (canonical columns) of a staggered programme, 2010-2019.

    Members join in ``cohorts``, after the last year (never treated), before or in the first
    year (always treated: dropped). Unless ``balanced``: firms enter and leave, 6% of the
    export values are unknown, 1% of the firms have none. Some members join a second
    consortium later or in the same year (the first by id counts); one membership row names
    a firm with no firm-years.
    """
    rng = np.random.default_rng(seed)
    y0, y1 = 2010, 2019
    ids = np.array([f"F{seed}-{i:06d}" for i in range(n_firms)])
    pool = np.array([*cohorts, y1 + 2, y0 - 2, y0])
    share = np.array([0.8 / len(cohorts)] * len(cohorts) + [0.08, 0.06, 0.06])
    cohort = np.where(rng.random(n_firms) >= never_share, rng.choice(pool, n_firms, p=share), 0)
    consortium = rng.integers(0, n_consortia, n_firms)
    first = np.full(n_firms, y0) if balanced else rng.integers(y0, y0 + 4, n_firms)
    last = np.full(n_firms, y1) if balanced else rng.integers(y1 - 3, y1 + 1, n_firms)
    firm_of = np.repeat(np.arange(n_firms), last - first + 1)
    year = np.concatenate([np.arange(a, b + 1) for a, b in zip(first, last, strict=True)])
    on = (cohort[firm_of] > 0) & (year >= cohort[firm_of])
    log_x = (rng.normal(11, 1.5, n_firms)[firm_of] + 0.05 * (year - y0) + 0.3 * on
             + rng.normal(0, 0.5, year.size))
    exports = np.exp(log_x)
    exports[rng.random(year.size) < 0.25] = 0.0
    if not balanced:
        exports[rng.random(year.size) < 0.06] = np.nan
        exports[np.isin(firm_of, rng.choice(n_firms, max(1, n_firms // 100), replace=False))] = np.nan
    firms = pd.DataFrame({
        "firm_id": ids[firm_of], "year": year.astype("int64"),
        "turnover_eur": np.nan_to_num(exports) * 3 + 1e5, "exports_eur": exports,
        "n_export_markets": np.where(np.isnan(exports), np.nan, np.floor(exports / 2e4)),
    }).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    members = np.flatnonzero(cohort > 0)
    second = members[rng.random(members.size) < 0.15]
    no_exit = pd.array([pd.NA] * (members.size + second.size + 1), dtype="Int64")
    membership = pd.DataFrame({
        "firm_id": [*ids[members], *ids[second], "NOT-A-FIRM"],
        "cluster_id": [*(f"C{c:03d}" for c in consortium[members]),
                       *(f"C{(c + 7) % n_consortia:03d}" for c in consortium[second]), "C000"],
        "join_year": np.r_[cohort[members], cohort[second] + rng.integers(0, 3, second.size),
                           2014].astype("int64"),
        "exit_year": no_exit,
    })
    return firms, membership


def _no_never(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every firm joins within the window (no never-treated comparison group)."""
    firms, membership = staggered_tables(300, seed=seed, never_share=0.0)
    late = membership.groupby("firm_id")["join_year"].min() > 2019
    keep = set(late.index[~late])
    return firms[firms["firm_id"].isin(keep)], membership[membership["firm_id"].isin(keep)]


def _skips(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells the estimator skips: cohort 2015 has no firm-year in 2014 (its base period), and
    the one never-member is outnumbered beyond the propensity-trimming level."""
    firms, membership = staggered_tables(900, seed=seed, never_share=0.01)
    first = membership.groupby("firm_id")["join_year"].min()
    members = set(first.index[first.isin([2013, 2015, 2017])])
    never = sorted(set(firms["firm_id"]) - set(first.index))[:1]
    firms = firms[firms["firm_id"].isin(members | set(never))]
    in_2015 = firms["firm_id"].isin(first.index[first == 2015])
    firms = firms[~(in_2015 & (firms["year"] == 2014))]
    return firms, membership[membership["firm_id"].isin(members)]


GENERATED = {
    "gen_unbalanced": lambda: staggered_tables(400, seed=11),
    "gen_balanced": lambda: staggered_tables(300, seed=12, balanced=True),
    "gen_no_never": lambda: _no_never(13),
    "gen_skips": lambda: _skips(14),
}


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory, example_store) -> Path:
    """The example lab's canonical store (a copy of ``example_store``) with the generated
    regions added."""
    root = tmp_path_factory.mktemp("engines") / "store"
    shutil.copytree(example_store[0], root)
    CanonicalStore(root).write([(key, dict(zip(("firms", "membership"), make(), strict=True)), {})
                                for key, make in GENERATED.items()])
    return root


_REFERENCES: dict[tuple, tuple] = {}
_PANELS: dict[tuple[str, str], pd.DataFrame] = {}


def reference(store: Path, region: str, outcome: str, control_group: str, **opts):
    """The in-memory path on the store's tables, as the lab's fit: ``(GroupTimeResult,
    {kind: AggregateResult})`` (cached for the session)."""
    key = (str(store), region, outcome, control_group, tuple(sorted(opts.items())))
    if key not in _REFERENCES:
        if (str(store), region) not in _PANELS:
            part = lambda t: pd.read_parquet(store / t / f"region={region}" / "part-0.parquet")
            _PANELS[(str(store), region)] = firm_panel(part("firms"), part("membership"))
        panel = _PANELS[(str(store), region)]
        window = {k: opts.get(k) for k in ("min_e", "max_e", "balance_e")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicylabWarning)
            gt = att_gt(panel, outcome=outcome, unit="firm_id", time="year", cohort="cohort",
                        control_group=control_group, method="dr",
                        cluster=opts.get("cluster", "consortium"),
                        base_period=opts.get("base_period", "varying"),
                        anticipation=opts.get("anticipation", 0))
            aggs = {kind: aggregate(gt, kind, **(window if kind == "dynamic" else {}))
                    for kind in KINDS}
        _REFERENCES[key] = (gt, aggs)
    return _REFERENCES[key]


def _close(got: pd.Series, want: pd.Series, what: str) -> float:
    """``got`` equals ``want`` to RTOL of the column's scale (NaN where it is NaN); returns
    the largest difference relative to ``max(1, |want|)``."""
    a = np.asarray(got, dtype=float)
    b = np.asarray(want, dtype=float)
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: missing values differ"
    ok = ~np.isnan(b)
    if not ok.any():
        return 0.0
    scale = max(1.0, float(np.abs(b[ok]).max()))
    diff = np.abs(a[ok] - b[ok])
    assert diff.max() <= RTOL * scale, f"{what}: differs by {diff.max():.3g} (scale {scale:.3g})"
    return float((diff / np.maximum(1.0, np.abs(b[ok]))).max())


WORST: dict[str, float] = {}


def assert_same(res: StoreCSResult, store: Path, **opts) -> None:
    """``res`` has the in-memory path's cells, standard errors, aggregations and counts."""
    gt, aggs = reference(store, res.region, res.outcome, res.spec["control_group"], **opts)
    where = f"{res.engine} {res.region}/{res.outcome}/{res.spec['control_group']}"
    cells = gt.tidy()
    assert list(res.att_gt["term"]) == list(cells["term"]), where
    for col in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
        d = _close(res.att_gt[col], cells[col], f"{where} att_gt.{col}")
        WORST[f"att_gt.{col}"] = max(WORST.get(f"att_gt.{col}", 0.0), d)
    assert res.att_gt["base_period"].tolist() == gt.base_period.tolist(), where
    assert res.att_gt["n_treated"].tolist() == gt.cell_n_treated.tolist(), where
    assert res.att_gt["n_control"].tolist() == gt.cell_n_control.tolist(), where
    for kind in KINDS:
        want = aggs[kind].tidy()
        got = res.aggregates[kind]
        assert list(got["term"]) == list(want["term"]), f"{where} {kind}"
        for col in ("estimate", "std_error", "conf_low", "conf_high"):
            d = _close(got[col], want[col], f"{where} {kind}.{col}")
            WORST[f"{kind}.{col}"] = max(WORST.get(f"{kind}.{col}", 0.0), d)
    if "dynamic" in res.vcov:  # the event-time covariance, each entry to RTOL of sqrt(V_ii V_jj)
        want, got = aggs["dynamic"].vcov, res.vcov["dynamic"]
        assert got.shape == want.shape, where
        scale = np.sqrt(np.outer(np.diag(want), np.diag(want)))
        scale[scale == 0] = 1.0
        assert float((np.abs(got - want) / scale).max(initial=0.0)) <= RTOL, f"{where} vcov"
    assert (res.n_units, res.n_treated, res.n_clusters, res.n_obs, res.design) == (
        gt.n_units, gt.n_treated, gt.n_clusters, gt.n_obs, gt.design), where
    # the same notes (dropped rows, unbalanced panel, skipped cells, few clusters), then the
    # aggregations' own
    assert list(res.warnings[: len(gt.warnings)]) == list(gt.warnings), where


# --------------------------------------------------------------------------- DuckDB


def test_duckdb_equals_pandas_on_the_example_store(store: Path) -> None:
    results = cs_from_store_many(store, EXAMPLE_REGIONS, OUTCOMES, control_groups=CONTROL_GROUPS,
                                 engine="duckdb", **LAB)
    assert len(results) == 6 * 3 * 2
    for res in results.values():
        assert_same(res, store, **LAB)


GENERATED_OPTIONS = {
    "lab": LAB,
    "universal_base": {"base_period": "universal"},
    "anticipation": {"anticipation": 1, "min_e": -3},
    "firm_clusters": {"cluster": "firm_id", "max_e": 3},
    "unclustered_balanced_e": {"cluster": None, "balance_e": 2},
}


@pytest.mark.parametrize("opts", GENERATED_OPTIONS.values(), ids=GENERATED_OPTIONS.keys())
def test_duckdb_equals_pandas_on_generated_panels(store: Path, opts: dict) -> None:
    outcomes = [*OUTCOMES, "n_export_markets"]
    results = cs_from_store_many(store, ["gen_unbalanced", "gen_balanced"], outcomes,
                                 control_groups=CONTROL_GROUPS, engine="duckdb", **opts)
    results |= cs_from_store_many(store, ["gen_no_never", "gen_skips"], outcomes,
                                  control_groups="not_yet_treated", engine="duckdb", **opts)
    for res in results.values():
        assert_same(res, store, **opts)
    designs = {k[0]: r.design for k, r in results.items()}
    assert designs == {"gen_unbalanced": "unbalanced_panel", "gen_balanced": "panel",
                       "gen_no_never": "unbalanced_panel", "gen_skips": "unbalanced_panel"}


def test_skipped_cells_are_the_pandas_ones(store: Path) -> None:
    res = cs_from_store(store, "gen_skips", "exporter", control_group="not_yet_treated")
    notes = [w for w in res.warnings if w.startswith("ATT(g,t) not estimated")]
    assert any("no treated observations in the base period" in n for n in notes)
    assert any("trimming level" in n for n in notes)
    assert_same(res, store)  # the same notes, cells and numbers


def test_single_estimate_equals_the_batch(store: Path) -> None:
    one = cs_from_store(store, "kent", "log_exports", control_group="not_yet_treated", **LAB)
    batch = cs_from_store_many(store, ["kent", "usti"], ["exporter", "log_exports"],
                               control_groups=CONTROL_GROUPS, **LAB)
    # the same numbers (to the order in which the engine adds them up)
    assert max(max_difference(one, batch[("kent", "log_exports", "not_yet_treated")]).values()) < 1e-12
    assert one.engine == "duckdb" and set(one.aggregates) == set(KINDS)
    assert one.tidy()["table"].unique().tolist() == ["att_gt", *KINDS]
    assert one.to_dict()["n_clusters"] == one.n_clusters


def test_pandas_engine_is_the_in_memory_path(store: Path) -> None:
    res = cs_from_store(store, "molise", "exporter", engine="pandas", **LAB)
    assert_same(res, store, **LAB)
    assert ENGINES == ("pandas", "duckdb", "spark")


def test_duckdb_under_a_small_memory_limit_spills_and_agrees(tmp_path: Path) -> None:
    firms, membership = staggered_tables(40_000, seed=21, n_consortia=300,
                                         cohorts=(2012, 2013, 2014, 2015, 2016, 2017))
    CanonicalStore(tmp_path).write([("big", {"firms": firms, "membership": membership}, {})])
    res = cs_from_store_many(tmp_path, ["big"], ["exporter", "log_exports"],
                             control_groups=CONTROL_GROUPS, engine="duckdb", memory_limit="32MB",
                             temp_directory=tmp_path / "spill", threads=2, **LAB)
    # the per-cluster influence-function sums of the batch alone (8 bytes each) exceed the limit
    sums = sum(r.n_clusters * (len(r.att_gt) + sum(len(a) for a in r.aggregates.values()))
               for r in res.values())
    assert sums * 8 > 32 * 2**20
    for r in res.values():
        assert_same(r, tmp_path, **LAB)


def test_what_is_not_covered_is_refused(store: Path) -> None:
    with pytest.raises(UserError, match="clustering on 'sector' is not supported out of core"):
        cs_from_store(store, "kent", "exporter", cluster="sector")
    with pytest.raises(UsageError, match="engine must be one of"):
        cs_from_store(store, "kent", "exporter", engine="polars")
    with pytest.raises(UsageError, match="lacks outcome 'n_export_markets' needs column"):
        cs_from_store(store, "usti", "n_export_markets")
    with pytest.raises(UsageError, match="not one the out-of-core"):
        cs_from_store(store, "kent", "turnover_eur")
    with pytest.raises(UserError, match="no 'firms' table for region 'atlantis'"):
        cs_from_store(store, "atlantis", "exporter")
    with pytest.raises(UsageError, match="region must be a region key"):
        cs_from_store(store, "Kent'; DROP TABLE firms; --", "exporter")
    # a design the estimator cannot identify: the same DesignError as the in-memory path
    with pytest.raises(DesignError, match="never-treated comparison group is empty") as e:
        cs_from_store(store, "gen_no_never", "exporter", control_group="never_treated")
    assert "region 'gen_no_never'" in str(e.value)
    with pytest.raises(DesignError, match="never-treated comparison group is empty"):
        reference(store, "gen_no_never", "exporter", "never_treated")


# --------------------------------------------------------------------------- Spark




@pytest.mark.spark
def test_spark_equals_pandas_on_the_example_and_generated_panels(store: Path, spark) -> None:
    regions = [*EXAMPLE_REGIONS, "gen_unbalanced", "gen_balanced"]
    results = cs_from_store_many(store, regions, OUTCOMES, control_groups=CONTROL_GROUPS,
                                 engine="spark", spark_master="local[1]", **LAB)
    assert len(results) == 8 * 3 * 2
    for res in results.values():
        assert res.engine == "spark"
        assert_same(res, store, **LAB)
    assert not [v for v in spark.catalog.listTables() if v.name.startswith("pl_")]  # views dropped


def test_duckdb_running_out_of_memory_is_a_user_error_naming_the_setting() -> None:
    """Under a process limit (ulimit -v) DuckDB can fail to allocate before its memory_limit:
    the user gets one message saying what to change, not a traceback."""
    import duckdb

    from policylab.engines.duckdb_engine import _out_of_memory

    with pytest.raises(UserError, match=r"ran out of memory.*lab.engine_memory_limit = '1GB'"):
        with _out_of_memory("1GB"):
            raise duckdb.OutOfMemoryException("Out of Memory Error: Failed to allocate block "
                                              "of 262144 bytes (bad allocation)\nPossible solutions")
