"""Engines over the canonical store: the unconditional Callaway-Sant'Anna estimator as SQL.

:func:`cs_from_store` estimates ``ATT(g,t)`` for one region and outcome of a store
(:mod:`policylab.store`), with their clustered analytic standard errors and the four
aggregations (simple, dynamic, group, calendar), on one of :data:`ENGINES`:

``"pandas"``
    the in-memory path: :func:`policylab.did.panel.firm_panel`, then
    :func:`policylab.did.att_gt` (``method="dr"``, no covariates) and
    :func:`policylab.did.aggregate`, as the lab's fit (:func:`policylab.fits.callaway_santanna`);
``"duckdb"``
    the same numbers from SQL over the region's Parquet files, out of core on one machine
    (``memory_limit``, spilling to ``temp_directory``);
``"spark"``
    the same SQL text on a Spark session (``spark_master``, e.g. ``"local[4]"`` or a
    cluster's master URL) reading the same Parquet files.

The SQL engines never hold anything firms-sized in Python: every ``ATT(g,t)`` is a difference
of cell means, its influence function is linear in each firm's own rows, so the clustered
variances of the cells and of every aggregate (with the term for the estimated aggregation
weights) are sums of squares of per-cluster sums that the engine computes with ``GROUP BY``
(see :mod:`policylab.engines.combine`). They agree with ``"pandas"`` to rounding (below 1e-12
relative on the example and generated panels), cells, skipped cells and notes included.
:func:`cs_from_store_many` runs a grid of regions, outcomes and comparison groups in one pass.

The dynamic aggregation's event-time covariance (``StoreCSResult.vcov["dynamic"]``, what the
pre-trend Wald test needs) is one more pass: per-cluster sums multiplied by each other's.

The firm-panel monitoring indicators (I12-I16, I21 with every cell's disclosure counts), the
data-quality counts and the firm counts of the effects' disclosure rule run as SQL over the
same store too: :func:`firm_indicator_cells`, :func:`firm_summary`, :func:`outcome_counts`
(:mod:`policylab.engines.indicators`).

Not covered out of core (use ``engine="pandas"``, i.e. :func:`policylab.did.att_gt`, for
them): covariates (conditional parallel trends), sampling weights, the multiplier bootstrap
and uniform bands, the covariance matrices of the cells and of the group and calendar
aggregations, repeated cross-sections, and clustering on anything but the consortium or the
firm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UsageError, UserError
from .combine import CELL_COLUMNS, KINDS, CSSpec, Request, StoreCSResult, run_batch
from .indicators import firm_indicator_cells, firm_summary, outcome_counts
from .sql import CLUSTER_COLUMNS, OUTCOME_SOURCE, check_region_key

ENGINES: tuple[str, ...] = ("pandas", "duckdb", "spark")
CONTROL_GROUPS: tuple[str, ...] = ("never_treated", "not_yet_treated")
BASE_PERIODS: tuple[str, ...] = ("varying", "universal")

__all__ = ["BASE_PERIODS", "CONTROL_GROUPS", "ENGINES", "KINDS", "StoreCSResult", "cs_from_store",
           "cs_from_store_many", "firm_indicator_cells", "firm_summary", "max_difference",
           "outcome_counts"]


def _choice(value: object, name: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise UsageError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; "
                         f"got {value!r}")
    return value


def _opt_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UsageError(f"{name} must be None or a whole number of periods, got {value!r}")
    return int(value)


def _spec(outcome, control_group, cluster, base_period, anticipation, min_e, max_e, balance_e,
          alpha, aggregations) -> CSSpec:
    if outcome not in OUTCOME_SOURCE:
        raise UsageError(f"outcome {outcome!r} is not one the out-of-core Callaway-Sant'Anna "
                         f"derives from the store; choose one of {', '.join(OUTCOME_SOURCE)}")
    if cluster is not None and cluster not in CLUSTER_COLUMNS:
        raise UserError(
            f"clustering on {cluster!r} is not supported out of core: set cluster to "
            f"'consortium' (the lab's estimation.cluster) or 'firm_id', or use engine='pandas'")
    ant = _opt_int(anticipation, "anticipation")
    if ant is None or ant < 0:
        raise UsageError(f"anticipation must be a whole number >= 0, got {anticipation!r}")
    min_e, max_e, balance_e = (_opt_int(min_e, "min_e"), _opt_int(max_e, "max_e"),
                               _opt_int(balance_e, "balance_e"))
    if min_e is not None and max_e is not None and min_e > max_e:
        raise UsageError(f"min_e ({min_e}) is larger than max_e ({max_e})")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise UsageError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    aggs = (aggregations,) if isinstance(aggregations, str) else tuple(aggregations)
    for kind in aggs:
        _choice(kind, "aggregations", KINDS)
    return CSSpec(outcome=outcome,
                  control_group=_choice(control_group, "control_group", CONTROL_GROUPS),
                  cluster=cluster, base_period=_choice(base_period, "base_period", BASE_PERIODS),
                  anticipation=ant, min_e=min_e, max_e=max_e, balance_e=balance_e,
                  alpha=float(alpha), aggregations=tuple(dict.fromkeys(aggs)))


def cs_from_store(
    store_dir: str | Path,
    region: str,
    outcome: str,
    *,
    engine: str = "duckdb",
    control_group: str = "never_treated",
    cluster: str | None = "consortium",
    base_period: str = "varying",
    anticipation: int = 0,
    min_e: int | None = None,
    max_e: int | None = None,
    balance_e: int | None = None,
    alpha: float = 0.05,
    aggregations: Sequence[str] = KINDS,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> StoreCSResult:
    """Callaway-Sant'Anna (unconditional, ``method="dr"``) on one region of a store.

    Parameters
    ----------
    store_dir : path
        The canonical store (``<store>/<table>/region=<key>/*.parquet``); tables ``firms``
        and ``membership`` are read.
    region : str
        The region's key.
    outcome : {"exporter", "log_exports", "exports_eur", "n_export_markets"}
        Derived from the firms table as :func:`policylab.did.panel.firm_panel` does.
    engine : {"pandas", "duckdb", "spark"}
        See the module notes. The SQL engines give the pandas numbers (to rounding).
    control_group : {"never_treated", "not_yet_treated"}
        As :func:`policylab.did.att_gt` (the lab's ``estimation.control_group``).
    cluster : {"consortium", "firm_id"} or None
        Standard errors clustered by the consortium of the firm's first membership (each
        never-member its own cluster), or by firm; ``None`` also by firm, as ``att_gt``
        without a cluster (the same standard errors, without the few-clusters checks).
    base_period : {"varying", "universal"}
    anticipation : int
        As :func:`policylab.did.att_gt`.
    min_e, max_e, balance_e : int or None
        Event-time window (and balancing) of the **dynamic** aggregation, as the lab's fit
        passes ``-leads`` and ``lags``; simple, group and calendar use every post-treatment cell.
    alpha : float
        ``1 - alpha`` pointwise confidence intervals.
    aggregations : sequence of str
        Which of ``"simple", "dynamic", "group", "calendar"`` to compute (default: all four).
    spark_master : str or None
        ``engine="spark"``: the master of the session to create (``"local[*]"`` when None and
        no session is active; an active session is reused).
    memory_limit, temp_directory, threads
        ``engine="duckdb"``: DuckDB's memory limit (e.g. ``"4GB"``; default DuckDB's, 80% of
        RAM), where it spills (default a temporary folder, removed afterwards) and its
        threads. Ignored by the other engines.

    Returns
    -------
    StoreCSResult
        ``att_gt`` (one row per cell, the columns of ``att_gt(...).tidy()`` plus
        ``base_period``, ``n_treated``, ``n_control``) and ``aggregates[kind]`` (the columns of
        ``aggregate(...).tidy()``).

    Raises
    ------
    UserError
        Unknown engine or option, a region or outcome the store lacks, an option not supported
        out of core (the message names the setting to change), or a design that identifies
        nothing (:class:`~policylab.errors.DesignError`, as :func:`policylab.did.att_gt`).
    """
    spec = _spec(outcome, control_group, cluster, base_period, anticipation, min_e, max_e,
                 balance_e, alpha, aggregations)
    (result,) = _run(store_dir, [Request(check_region_key(region), spec)], engine=engine,
                     spark_master=spark_master, memory_limit=memory_limit,
                     temp_directory=temp_directory, threads=threads).values()
    return result


def cs_from_store_many(
    store_dir: str | Path,
    regions: Sequence[str],
    outcomes: Sequence[str],
    *,
    control_groups: Sequence[str] = ("never_treated",),
    engine: str = "duckdb",
    cluster: str | None = "consortium",
    base_period: str = "varying",
    anticipation: int = 0,
    min_e: int | None = None,
    max_e: int | None = None,
    balance_e: int | None = None,
    alpha: float = 0.05,
    aggregations: Sequence[str] = KINDS,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> dict[tuple[str, str, str], StoreCSResult]:
    """:func:`cs_from_store` for every region x outcome x control group, keyed
    ``(region, outcome, control_group)``.

    The SQL engines read the regions once and answer the whole grid with the same few
    queries (not two per estimate): the way to run a lab's regions and outcomes, and much
    faster on Spark, where each query has a fixed cost of seconds. Options as
    :func:`cs_from_store`; an error in one estimate (e.g. a design with no comparison group)
    stops the batch and names it.
    """
    regions = [check_region_key(r) for r in ([regions] if isinstance(regions, str) else regions)]
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    groups = [control_groups] if isinstance(control_groups, str) else list(control_groups)
    requests = [Request(r, _spec(o, cg, cluster, base_period, anticipation, min_e, max_e,
                                 balance_e, alpha, aggregations))
                for r in dict.fromkeys(regions) for o in dict.fromkeys(outcomes)
                for cg in dict.fromkeys(groups)]
    return _run(store_dir, requests, engine=engine, spark_master=spark_master,
                memory_limit=memory_limit, temp_directory=temp_directory, threads=threads)


def _run(store_dir, requests: list[Request], *, engine, spark_master, memory_limit,
         temp_directory, threads) -> dict[tuple[str, str, str], StoreCSResult]:
    engine = _choice(engine, "engine", ENGINES)
    keys = [(r.region, r.spec.outcome, r.spec.control_group) for r in requests]
    if engine == "pandas":
        return {k: _pandas(Path(store_dir), r.region, r.spec)
                for k, r in zip(keys, requests, strict=True)}
    regions = list(dict.fromkeys(r.region for r in requests))
    if engine == "duckdb":
        from .duckdb_engine import DuckDBBackend

        backend = DuckDBBackend(store_dir, regions, memory_limit=memory_limit,
                                temp_directory=temp_directory, threads=threads)
    else:
        from .spark_engine import SparkBackend

        backend = SparkBackend(store_dir, regions, spark_master=spark_master)
    try:
        for r in requests:
            _check_columns(backend, r.region, r.spec.outcome)
        results = run_batch(backend, requests, engine=engine)
    finally:
        backend.close()
    return dict(zip(keys, results, strict=True))


_NEEDED = {"firms": ("firm_id", "year"), "membership": ("firm_id", "cluster_id", "join_year")}


def _check_columns(backend: Any, region: str, outcome: str) -> None:
    for table, cols in _NEEDED.items():
        have = set(backend.columns(table, region))
        need = cols + ((OUTCOME_SOURCE[outcome],) if table == "firms" else ())
        missing = [c for c in need if c not in have]
        if missing:
            what = (f"outcome {outcome!r} needs column {OUTCOME_SOURCE[outcome]!r}"
                    if OUTCOME_SOURCE[outcome] in missing else f"columns {missing}")
            raise UsageError(f"region {region!r}: the store's {table} table lacks {what}")


# --------------------------------------------------------------------------- pandas


def _read_table(store_dir: Path, table: str, region: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    folder = store_dir / table / f"region={region}"
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise UserError(f"the store {store_dir} has no {table!r} table for region {region!r} "
                        f"(no folder {folder})")
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _pandas(store_dir: Path, region: str, spec: CSSpec) -> StoreCSResult:
    """The in-memory path on the same store, in the result form of the SQL engines."""
    from ..did import aggregate, att_gt
    from ..did.panel import firm_panel

    firms = _read_table(store_dir, "firms", region)
    membership = _read_table(store_dir, "membership", region)
    source = OUTCOME_SOURCE[spec.outcome]
    if source not in firms:
        raise UsageError(f"region {region!r}: the store's firms table lacks outcome "
                         f"{spec.outcome!r} needs column {source!r}")
    panel = firm_panel(firms, membership)
    gt = att_gt(panel, outcome=spec.outcome, unit="firm_id", time="year", cohort="cohort",
                control_group=spec.control_group, method="dr",
                cluster=spec.cluster, base_period=spec.base_period,
                anticipation=spec.anticipation, alpha=spec.alpha)
    cells = gt.tidy().assign(base_period=pd.Series(gt.base_period, dtype="Int64"),
                             n_treated=pd.Series(gt.cell_n_treated, dtype="Int64"),
                             n_control=pd.Series(gt.cell_n_control, dtype="Int64"))
    aggregates, vcov = {}, {}
    for kind in spec.aggregations:
        window = ({"min_e": spec.min_e, "max_e": spec.max_e, "balance_e": spec.balance_e}
                  if kind == "dynamic" else {})
        try:
            agg = aggregate(gt, kind, **window)
        except ValueError as e:
            from ..errors import DesignError

            raise DesignError(f"aggregation {kind!r}: {e}") from None
        aggregates[kind] = agg.tidy()
        if kind == "dynamic":
            vcov[kind] = np.asarray(agg.vcov, dtype=float)
    return StoreCSResult(
        engine="pandas", region=region, outcome=spec.outcome, att_gt=cells[CELL_COLUMNS],
        aggregates=MappingProxyType(aggregates), n_units=gt.n_units, n_treated=gt.n_treated,
        n_clusters=gt.n_clusters, n_obs=gt.n_obs, design=gt.design, alpha=spec.alpha,
        spec=MappingProxyType(spec.to_dict()), warnings=tuple(gt.warnings),
        vcov=MappingProxyType(vcov))


def max_difference(a: StoreCSResult, b: StoreCSResult) -> dict[str, float]:
    """The largest differences between two results' estimates and standard errors, each
    relative to ``max(1, |b|)`` (``inf`` where the tables have different terms or one has a
    standard error the other lacks). For checking engines against each other."""
    out: dict[str, float] = {}
    pairs = [("att_gt", a.att_gt, b.att_gt)]
    pairs += [(k, a.aggregates[k], b.aggregates[k]) for k in b.aggregates if k in a.aggregates]
    for name, x, y in pairs:
        if list(x["term"]) != list(y["term"]):
            out[name] = math.inf
            continue
        for col in ("estimate", "std_error"):
            u = x[col].to_numpy(dtype=float)
            v = y[col].to_numpy(dtype=float)
            if not np.array_equal(np.isnan(u), np.isnan(v)):
                out[f"{name}.{col}"] = math.inf
                continue
            ok = ~np.isnan(v)
            rel = np.abs(u[ok] - v[ok]) / np.maximum(1.0, np.abs(v[ok]))
            out[f"{name}.{col}"] = float(rel.max(initial=0.0))
    for kind in set(a.vcov) & set(b.vcov):  # covariances relative to sqrt(V_ii V_jj)
        u, v = np.asarray(a.vcov[kind], dtype=float), np.asarray(b.vcov[kind], dtype=float)
        if u.shape != v.shape:
            out[f"{kind}.vcov"] = math.inf
            continue
        scale = np.sqrt(np.outer(np.abs(np.diag(v)), np.abs(np.diag(v))))
        ok = ~np.isnan(u) & ~np.isnan(v)
        rel = np.abs(u - v)[ok] / np.maximum(scale[ok], 1e-300)
        out[f"{kind}.vcov"] = float(rel.max(initial=0.0))
    return out
