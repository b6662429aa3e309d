"""The engine-independent half of the out-of-core Callaway-Sant'Anna stage.

Everything here works on small arrays (cohorts x periods, cells x estimates), never on
anything firms-sized; the firms-sized work is the SQL of :mod:`policylab.engines.sql`, run by
an engine (:class:`Backend`). The steps mirror the in-memory path exactly:

1. :func:`prepare` turns the cell and unit counts of :func:`~policylab.engines.sql.stats_sql`
   into the design of :func:`policylab.did.estimators.callaway_santanna.prep.prepare` (R
   ``did`` >= 2.5 cohort rules: cohort 0 and cohorts after the last period are never
   treated, units treated in the first period are dropped, without never-treated units the
   not-yet-treated comparison drops the periods from the last cohort on);
2. :func:`estimate_cells` plans the cells as ``att_gt`` (same base periods, comparison groups
   and skipped cells) and computes each ``ATT(g,t)`` from the four cell means. Without
   covariates and weights the panel estimator and the unbalanced-panel (repeated
   cross-section) estimator both reduce to this difference of means, with influence
   function ``n / N_p * (y - mean_p)`` on the rows of each of the four parts ``p``;
3. ``aggregation_plan`` (shared with :func:`policylab.did.aggregate`) gives the weights
   (by group shares ``pg``, R ``aggte``'s estimated-weights term
   ``w_i (a(G_i) - m(G_i) theta) / sum(pg)``);
4. :func:`coefficients` writes every estimate's influence function as per-(cohort, year)
   coefficients ``a, c`` (``a * (y - m(g,t)) + c`` per row) and per-cohort ``u`` (per firm),
   which the engine joins to the rows and sums within clusters (R ``did`` >= 2.5: clustered
   standard error ``sqrt(sum_c S_c**2) / n`` with within-cluster **sums**, no small-sample
   factor; standard errors at or below ``SE_FLOOR`` are missing, as R ``did``);
5. the dynamic aggregation's covariance ``sum_c S_c S_c' / n**2`` (``aggregate(...).vcov``)
   comes from one more query over the same per-cluster sums of its event-time estimates
   (:func:`~policylab.engines.sql.cross_sql`), which returns k x k numbers per request.

:func:`run_batch` runs a batch of requests (regions x outcomes x options) with one pass for
the counts and one (or, under a DuckDB memory limit, a few) for the influence functions, and
one (or a few) for the dynamic aggregation's covariance when it is requested.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..constants import FEW_CLUSTERS
from ..did.core.checks import DiDInputError
from ..did.core.influence import SE_FLOOR
from ..did.estimators.callaway_santanna.aggregate import aggregation_plan
from ..did.estimators.callaway_santanna.att_gt import NoComparisonWarning
from ..did.estimators.callaway_santanna.estimation import TRIM_LEVEL
from ..did.results import AGGREGATE_TIDY_COLUMNS, GROUP_TIME_TIDY_COLUMNS
from ..errors import DesignError, FewClustersWarning
from .sql import (
    Relations,
    clusters_sql,
    cross_sql,
    influence_sql,
    panel_sql,
    stats_sql,
    units_sql,
)

KINDS: tuple[str, ...] = ("simple", "dynamic", "group", "calendar")
NEVER = math.inf

#: Columns of :attr:`StoreCSResult.att_gt`: ``att_gt(...).tidy()``'s, plus the base period and
#: the cell's treated and comparison observation counts.
CELL_COLUMNS = [*GROUP_TIME_TIDY_COLUMNS, "base_period", "n_treated", "n_control"]


class Backend(Protocol):
    """What an engine offers the estimator: the relation names its SQL reads, queries that
    return a few rows, materialised intermediate tables and small tables registered under a
    name. ``width``: estimates per slot of the influence query; ``cell_budget``: per-cluster
    sums one influence query may hold (None: no limit)."""

    relations: Relations
    width: int
    cell_budget: int | None

    def columns(self, table: str, region: str) -> list[str]:
        """Columns of a region's ``firms`` or ``membership`` files."""

    def query(self, sql: str) -> list[tuple]:
        """Run ``sql`` and return its (few) rows."""

    def register(self, name: str, schema: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
        """Make ``rows`` (columns ``schema``: name and ``BIGINT``/``DOUBLE``/``STRING``)
        queryable as ``name``."""

    def materialize(self, name: str, sql: str) -> None:
        """Compute ``sql`` once (spilling to disk when large) and make it queryable as ``name``."""


def arrow_table(schema: Sequence[tuple[str, str]], rows: list[tuple]):
    """``rows`` as a pyarrow table of the given ``BIGINT``/``DOUBLE``/``STRING`` columns."""
    import pyarrow as pa

    types = {"BIGINT": pa.int64(), "DOUBLE": pa.float64(), "STRING": pa.string()}
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.table({col: pa.array(list(values), type=types[kind])
                     for (col, kind), values in zip(schema, cols, strict=True)})


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class StoreCSResult:
    """Callaway-Sant'Anna on one region of the store: ``ATT(g,t)`` and the aggregations, with
    clustered analytic standard errors.

    ``att_gt`` has the columns of ``att_gt(...).tidy()`` (pointwise intervals) plus
    ``base_period``, ``n_treated``, ``n_control``; each ``aggregates[kind]`` the columns of
    ``aggregate(...).tidy()`` (first row ``overall``).

    ``vcov["dynamic"]`` (when the dynamic aggregation was requested) is the covariance matrix
    of its event-time estimates (the rows of ``aggregates["dynamic"]`` but ``overall``, in
    their order), clustered as the standard errors: ``aggregate(gt, "dynamic", ...).vcov`` of
    the in-memory path, the pre-trend test's input; its diagonal is the squared standard
    errors (not set to missing below ``SE_FLOOR``). ``vcov["simple"]`` (when requested) is
    the 1x1 variance of the simple ATT.
    """

    engine: str
    region: str
    outcome: str
    att_gt: pd.DataFrame
    aggregates: Mapping[str, pd.DataFrame]
    n_units: int
    n_treated: int
    n_clusters: int
    n_obs: int
    design: str
    alpha: float
    spec: Mapping[str, Any]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    vcov: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        simple = self.aggregates.get("simple")
        head = ""
        if simple is not None and len(simple):
            head = f", simple ATT {simple['estimate'].iloc[0]:.4g} (SE {simple['std_error'].iloc[0]:.3g})"
        return (f"StoreCSResult({self.engine}, region={self.region!r}, outcome={self.outcome!r}, "
                f"{len(self.att_gt)} cells{head})")

    def tidy(self) -> pd.DataFrame:
        """Every estimate in one frame: a ``table`` column (``"att_gt"`` or the aggregation)
        and the shared columns ``term, estimate, std_error, statistic, p_value, conf_low,
        conf_high``."""
        cols = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
        parts = [self.att_gt[cols].assign(table="att_gt")]
        parts += [frame[cols].assign(table=kind) for kind, frame in self.aggregates.items()]
        return pd.concat(parts, ignore_index=True)[["table", *cols]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")

        return {
            "engine": self.engine,
            "region": self.region,
            "outcome": self.outcome,
            "att_gt": rows(self.att_gt),
            "aggregates": {k: rows(v) for k, v in self.aggregates.items()},
            "n_units": int(self.n_units),
            "n_treated": int(self.n_treated),
            "n_clusters": int(self.n_clusters),
            "n_obs": int(self.n_obs),
            "design": self.design,
            "alpha": self.alpha,
            "spec": dict(self.spec),
            "warnings": list(self.warnings),
            "vcov": {k: np.asarray(v, dtype=float).tolist() for k, v in self.vcov.items()},
        }


@dataclass(frozen=True)
class CSSpec:
    """The validated request (see :func:`policylab.engines.cs_from_store`)."""

    outcome: str
    control_group: str
    cluster: str | None  # "consortium", "firm_id" or None (by firm, as att_gt's default)
    base_period: str
    anticipation: int
    min_e: int | None
    max_e: int | None
    balance_e: int | None
    alpha: float
    aggregations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"estimator": "att_gt", "method": "dr", "covariates": [], "weights": None,
                "bootstrap": None, "outcome": self.outcome, "control_group": self.control_group,
                "cluster": self.cluster, "base_period": self.base_period,
                "anticipation": self.anticipation, "min_e": self.min_e, "max_e": self.max_e,
                "balance_e": self.balance_e, "alpha": self.alpha,
                "aggregations": list(self.aggregations)}


# --------------------------------------------------------------------------- design


@dataclass
class Design:
    """The prepared design (``CSData`` without the firms-sized arrays)."""

    periods: np.ndarray  # kept periods (int64)
    cohort_values: np.ndarray  # cohorts of the unit table, inf = never treated (sorted)
    units: np.ndarray  # units per cohort value
    treated: np.ndarray  # cohorts whose ATT(g,t) are estimated
    N: np.ndarray  # (C, T) rows with the outcome
    S: np.ndarray  # (C, T) their outcome sums
    raw_cells: list[tuple[int, int, int, int, float]]  # (raw cohort, year, ci, ti, mean) kept
    cut: float  # periods from here on are dropped (inf: none)
    raw_cohorts: list[tuple[int, int]]  # (raw cohort, ci) of the kept units
    n: int
    n_obs: int
    design: str
    notes: list[str]

    @property
    def T(self) -> int:
        return int(self.periods.size)


def parse_stats(rows: list[tuple], regions: Sequence[str],
                outcomes: Sequence[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The result of :func:`~policylab.engines.sql.stats_sql` per (region, outcome):
    ``cells`` (raw cohort, year, rows, sum), ``units`` (raw cohort, first year, firms with
    the outcome), ``firms`` (raw cohort: firms with or without it) and the counts
    ``n_rows, n_nokey, n_missing, n_inf, n_dup``."""
    out = {(r, o): {"cells": [], "units": [], "firms": {}, "n_rows": 0, "n_nokey": 0,
                    "n_missing": 0, "n_inf": 0, "n_dup": 0} for r in regions for o in outcomes}
    for row in rows:
        part, region, cohort, k, a = row[0], row[1], row[2], row[3], row[4]
        for i, o in enumerate(outcomes):
            n, s, f = row[5 + 3 * i: 8 + 3 * i]
            st = out.get((region, o))
            if st is None:
                continue
            if part == "cell":
                if a:
                    st["firms"][int(cohort)] = st["firms"].get(int(cohort), 0) + int(a)
                if n:
                    st["cells"].append((int(cohort), int(k), int(n), float(s)))
                if f:
                    st["units"].append((int(cohort), int(k), int(f)))
            elif part == "rows":
                st["n_nokey"] = int(k or 0)
                st["n_missing"] = int(n or 0)
                st["n_inf"] = round(float(s or 0))
                st["n_rows"] = int(f or 0)
            elif part == "dup":
                st["n_dup"] = int(n or 0)
    for st in out.values():
        st["cells"].sort()
        st["units"].sort()
    return out


def prepare(stats: dict[str, Any], spec: CSSpec) -> Design:
    """The design from the counts, with ``prep.prepare``'s checks, messages and notes."""
    outcome, ant = spec.outcome, spec.anticipation
    notes: list[str] = []
    if stats["n_nokey"]:
        k = stats["n_nokey"]
        raise DiDInputError(f"{k} firms row{'s' if k > 1 else ''} without firm_id or year; "
                            "only the outcome and covariates may be missing")
    if stats["n_inf"]:
        raise DiDInputError(f"column {outcome!r} (argument outcome=) has infinite values")
    if stats["n_rows"] == 0:
        raise DesignError("data has no rows")
    if not stats["cells"]:
        raise DesignError("the outcome (or a covariate) is missing in every row")
    n_dup = stats["n_dup"]
    if n_dup:
        raise DiDInputError(
            f"{n_dup} duplicated ('firm_id', 'year') pair{'s' if n_dup > 1 else ''}: "
            "each unit can appear once per period")
    if stats["n_missing"]:
        m = stats["n_missing"]
        notes.append(f"dropped {m} row{'s' if m > 1 else ''} with a missing outcome or covariate")

    periods_all = np.array(sorted({c[1] for c in stats["cells"]}), dtype=np.int64)
    if periods_all.size < 2:
        raise DesignError(
            f"only {periods_all.size} period{'s' if periods_all.size != 1 else ''} with an "
            "outcome; a difference-in-differences needs at least 2")
    first, last = int(periods_all[0]), int(periods_all[-1])

    def eff(raw: int) -> float:
        return NEVER if raw == 0 or raw > last else float(raw)

    def early(raw: int) -> bool:
        return eff(raw) <= first + ant

    units = stats["units"]
    n_late = sum(n for r, n in stats["firms"].items() if r != 0 and r > last)  # as prep: all firms
    if n_late:
        notes.append(
            f"{n_late} unit{'s' if n_late > 1 else ''} first treated after the last period "
            f"({last}) {'are' if n_late > 1 else 'is'} used as never treated")
    n_present = sum(n for *_, n in units)
    n_early = sum(n for r, _, n in units if early(r))
    if n_early == n_present:
        raise DesignError(
            f"every unit is treated from the first period on ({first}"
            + (f" + anticipation {ant}" if ant else "")
            + "): treatment does not vary over time, so there is nothing to compare")
    if n_early:
        what = ("in or before the first period" if ant == 0
                else f"no later than the first period plus anticipation ({first} + {ant})")
        notes.append(f"dropped {n_early} unit{'s' if n_early > 1 else ''} already treated {what}: "
                     "they have no untreated base period (always treated)")
    usable = [(r, fy, n) for r, fy, n in units if not early(r)]
    has_never = any(math.isinf(eff(r)) for r, _, n in usable if n > 0)
    cut: float = math.inf
    comparison_only: float | None = None
    if not has_never:
        if spec.control_group == "never_treated":
            raise DesignError(
                f"no never-treated units (cohort 0, or first treated after {last}): the "
                "never-treated comparison group is empty; use control_group='not_yet_treated'")
        gmax = max(eff(r) for r, _, _ in usable)
        cut = gmax - ant
        if int((periods_all < cut).sum()) < 2:
            raise DesignError(
                "no never-treated units, and fewer than 2 periods before the last cohort is "
                "treated: no comparison group is left for any cohort")
        comparison_only = gmax
        notes.append(
            f"no never-treated units: cohort {int(gmax)} only serves as the not-yet-treated "
            f"comparison group and periods from {int(cut)} on are dropped (as R did)")
    periods = periods_all[periods_all < cut]
    T = int(periods.size)

    per_cohort: dict[float, int] = {}
    for r, fy, n in usable:
        if fy < cut:
            per_cohort[eff(r)] = per_cohort.get(eff(r), 0) + n
    cohort_values = np.array(sorted(per_cohort), dtype=np.float64)
    unit_counts = np.array([per_cohort[c] for c in cohort_values], dtype=np.int64)
    n = int(unit_counts.sum())
    treated = cohort_values[np.isfinite(cohort_values)]
    if comparison_only is not None:
        treated = treated[treated < comparison_only]
    if treated.size == 0:
        raise DesignError(
            f"no unit is first treated within the sample periods ({periods[0]}..{periods[-1]}):"
            " column 'cohort' does not vary, so there is no treatment to evaluate")
    small = [int(cv) for cv, k in zip(cohort_values, unit_counts, strict=True)
             if np.isfinite(cv) and k < 5]
    if small:
        notes.append("small cohorts (fewer than covariates + 5 units): "
                     + ", ".join(str(s) for s in small)
                     + "; their group-time effects rest on few firms")

    C = cohort_values.size
    N = np.zeros((C, T), dtype=np.int64)
    S = np.zeros((C, T), dtype=np.float64)
    raw_cells = []
    for r, year, cnt, sy in stats["cells"]:
        if early(r) or not year < cut:
            continue
        ci = int(np.searchsorted(cohort_values, eff(r)))
        ti = int(np.searchsorted(periods, year))
        N[ci, ti] += cnt
        S[ci, ti] += sy
        raw_cells.append((r, year, ci, ti, sy / cnt))
    raw_cohorts = sorted({(r, int(np.searchsorted(cohort_values, eff(r))))
                          for r, fy, n_ in usable if fy < cut})
    n_obs = int(N.sum())
    design = "panel" if n_obs == n * T else "unbalanced_panel"
    if design == "unbalanced_panel":
        share = 1.0 - n_obs / (n * T)
        notes.append(
            f"unbalanced panel ({share:.1%} of unit-periods missing): estimated with the "
            "repeated cross-section estimators and unit-level influence functions, as R did's "
            "allow_unbalanced_panel = TRUE")
    return Design(periods=periods, cohort_values=cohort_values, units=unit_counts,
                  treated=treated, N=N, S=S, raw_cells=raw_cells, cut=cut, raw_cohorts=raw_cohorts,
                  n=n, n_obs=n_obs, design=design, notes=notes)


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    g: float
    gi: int
    ti: int
    bi: int
    ctrl: tuple[int, ...]
    ref: bool
    att: float = 0.0
    n_treated: int = 0
    n_control: int = 0
    # the four parts of a non-reference cell: (cohort indices, period index, sign, total, mean)
    parts: tuple[tuple[tuple[int, ...], int, float, float, float], ...] = ()


def plan(d: Design, spec: CSSpec) -> list[Cell]:
    """``att_gt._plan``: cells in R ``did``'s order with base period and comparison group."""
    periods, cv, ant = d.periods, d.cohort_values, spec.anticipation
    varying = spec.base_period == "varying"
    out = []
    for g in d.treated:
        gi = int(np.searchsorted(cv, g))
        bu = int(np.flatnonzero(periods + ant < g)[-1])
        for ti in range(1 if varying else 0, d.T):
            post = bool(g <= periods[ti])
            bi = (bu if post else ti - 1) if varying else bu
            ref = (not varying) and ti == bi
            if spec.control_group == "never_treated":
                ctrl = tuple(int(i) for i in np.flatnonzero(np.isinf(cv)))
            else:
                horizon = max(periods[ti], periods[bi]) + ant
                ctrl = tuple(int(i) for i in
                             np.flatnonzero((np.isinf(cv) | (cv > horizon)) & (cv != g)))
            out.append(Cell(float(g), gi, ti, bi, ctrl, ref))
    return out


def _trim_reason() -> str:
    return (f"the treated units are at least {TRIM_LEVEL:.1%} of the cell, so every comparison "
            "unit's propensity score reaches the trimming level (as R DRDID)")


def estimate_cells(d: Design, cells: list[Cell]) -> tuple[list[Cell], list[tuple[Cell, str]]]:
    """Each cell's ATT and parts, or its skip reason (``att_gt``'s rules for both designs)."""
    N, S, units = d.N, d.S, d.units
    kept: list[Cell] = []
    skipped: list[tuple[Cell, str]] = []
    balanced = d.design == "panel"
    for c in cells:
        if c.ref:
            n_t = int(units[c.gi]) if balanced else int(N[c.gi, c.ti])
            kept.append(Cell(c.g, c.gi, c.ti, c.bi, c.ctrl, True, 0.0, n_t, 0))
            continue
        ctrl = list(c.ctrl)
        spec_parts = (((c.gi,), c.ti, 1.0), ((c.gi,), c.bi, -1.0),
                      (tuple(ctrl), c.ti, -1.0), (tuple(ctrl), c.bi, 1.0))
        if balanced:
            w1, w0 = float(units[c.gi]), float(units[ctrl].sum()) if ctrl else 0.0
            if not ctrl or w0 <= 0:
                skipped.append((c, "no comparison units"))
                continue
            if w1 / (w1 + w0) >= TRIM_LEVEL:
                skipped.append((c, _trim_reason()))
                continue
            n_t, n_c = int(units[c.gi]), int(units[ctrl].sum())
        else:
            if not ctrl:
                skipped.append((c, "no comparison units"))
                continue
            wsum = [float(N[list(gs), t].sum()) for gs, t, _ in spec_parts]
            if min(wsum) <= 0:
                first_missing = next(k for k, v in zip(("tpost", "tpre", "cpost", "cpre"), wsum,
                                                       strict=True) if v <= 0)
                who = "treated" if first_missing.startswith("t") else "comparison"
                when = "the base period" if first_missing.endswith("pre") else "period t"
                skipped.append((c, f"no {who} observations in {when}"))
                continue
            if (wsum[0] + wsum[1]) / sum(wsum) >= TRIM_LEVEL:
                skipped.append((c, _trim_reason()))
                continue
            n_t = int(N[c.gi, c.ti] + N[c.gi, c.bi])
            n_c = int(N[ctrl, c.ti].sum() + N[ctrl, c.bi].sum())
        parts = []
        for gs, t, sign in spec_parts:
            tot = float(N[list(gs), t].sum())
            parts.append((gs, t, sign, tot, float(S[list(gs), t].sum()) / tot))
        m = [p[4] for p in parts]
        att = (m[0] - m[1]) - (m[2] - m[3])
        kept.append(Cell(c.g, c.gi, c.ti, c.bi, c.ctrl, False, float(att), n_t, n_c, tuple(parts)))
    return kept, skipped


# --------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class AggColumn:
    """One aggregate estimate: cell weights ``v`` (K) and estimated-weights term ``u`` per
    group of ``groups`` (None: no such term)."""

    estimate: float
    v: np.ndarray
    u: np.ndarray | None


def aggregate_columns(kind: str, att: np.ndarray, group: np.ndarray, time: np.ndarray,
                      groups: np.ndarray, pg: np.ndarray, spec: CSSpec):
    """The elements and the overall estimate of one aggregation as :class:`AggColumn`\\ s
    (the overall last), their keys and notes; ``aggregate``'s influence functions written as
    cell weights plus a per-group estimated-weights term."""
    try:
        keys, W, wif_cells, ov_w, ov_wif, notes = aggregation_plan(
            kind, group, time, groups, pg,
            spec.balance_e if kind == "dynamic" else None,
            spec.min_e if kind == "dynamic" else None,
            spec.max_e if kind == "dynamic" else None)
    except ValueError as e:
        raise DesignError(f"aggregation {kind!r}: {e}") from None
    G = groups.size
    cell_g = np.searchsorted(groups, group)
    pg_cell = pg[cell_g]

    def wif(cells: np.ndarray, theta: float) -> np.ndarray:
        a = np.bincount(cell_g[cells], weights=att[cells], minlength=G)
        m = np.bincount(cell_g[cells], minlength=G).astype(float)
        return (a - m * theta) / pg_cell[cells].sum()

    est = att @ W if W.size else np.zeros(0)
    elements = []
    for j in range(keys.size):
        u = None if wif_cells[j] is None else wif(wif_cells[j], est[j])
        elements.append(AggColumn(float(est[j]), W[:, j].copy(), u))
    ov_est = float(att @ ov_w)
    if kind == "simple":
        overall = AggColumn(ov_est, ov_w, wif(ov_wif, ov_est))
    elif kind == "group":
        share = ov_wif / ov_wif.sum()
        gi = np.searchsorted(groups, keys)
        a = np.zeros(G)
        m = np.zeros(G)
        a[gi] = est
        m[gi] = 1.0
        u = (a - m * ov_est) / pg[gi].sum()
        v = np.zeros(att.size)
        for j in range(keys.size):
            v += share[j] * elements[j].v
        overall = AggColumn(ov_est, v, u)
    else:
        use = np.flatnonzero(keys >= 0) if kind == "dynamic" else np.arange(keys.size)
        w = 1.0 / use.size
        v = np.zeros(att.size)
        u = np.zeros(G)
        for j in use:
            v += w * elements[j].v
            u += w * elements[j].u
        overall = AggColumn(ov_est, v, u)
    return keys, [*elements, overall], notes


# --------------------------------------------------------------------------- coefficients


def coefficients(d: Design, cells: list[Cell], columns: list[AggColumn], groups: np.ndarray):
    """Each estimate's influence function as coefficients of the rows and the firms.

    A row of raw cohort ``r`` and year ``t`` (effective cohort ``g``) adds, to estimate
    ``j``, ``a_j(g,t) * (y - m_r(t)) + c_j(r,t)`` with ``m_r(t)`` the mean of its own raw
    cell: ``sum_k v_jk sum_p n / N_p * (y - mean_p)`` over the parts ``p`` of the weighted
    cells ``k`` that hold ``(g, t)``, centred per row so that no large outcome level is
    differenced. A firm of cohort ``g`` adds ``u_j(g)``.

    Returns ``row_rows`` (raw cohort, year, m, a.., c..), ``unit_rows`` (raw cohort,
    treated, u..).
    """
    C, T, K, J = d.cohort_values.size, d.T, len(cells), len(columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        mcell = np.where(d.N > 0, d.S / np.maximum(d.N, 1), 0.0)
    A = np.zeros((C, T, K))
    Cc = np.zeros((C, T, K))
    for k, cell in enumerate(cells):
        if cell.ref:
            continue
        for gs, t, sign, tot, mean in cell.parts:
            coef = sign * d.n / tot
            for gi in gs:
                if d.N[gi, t] == 0:
                    continue
                A[gi, t, k] += coef
                Cc[gi, t, k] += coef * (mcell[gi, t] - mean)
    V = np.column_stack([col.v for col in columns]) if J else np.zeros((K, 0))
    A2 = (A.reshape(C * T, K) @ V).reshape(C, T, J)
    C2 = (Cc.reshape(C * T, K) @ V).reshape(C, T, J)
    U = np.zeros((C, J))
    group_ci = np.searchsorted(d.cohort_values, groups)
    for j, col in enumerate(columns):
        if col.u is not None:
            U[group_ci, j] = col.u
    row_rows = []
    for r, year, ci, ti, m_raw in d.raw_cells:
        a = A2[ci, ti]
        c = C2[ci, ti] + a * (m_raw - mcell[ci, ti])  # re-centred on the raw cell's mean
        row_rows.append((int(r), int(year), float(m_raw), a, c))
    treated = np.isin(d.cohort_values, d.treated)
    unit_rows = [(int(r), int(treated[ci]), U[ci]) for r, ci in d.raw_cohorts]
    return row_rows, unit_rows


# --------------------------------------------------------------------------- driver


def _floor(se: np.ndarray) -> np.ndarray:
    return np.where(se <= SE_FLOOR, np.nan, se)


def _z_p(est: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / se, np.nan)
    p = np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in z.tolist()], dtype=np.float64)
    return z, p


def _ints(x) -> pd.Series:
    return pd.Series(np.asarray(x, dtype=np.int64), dtype="Int64")


@dataclass(frozen=True)
class Request:
    """One estimate of a batch: a region and the options."""

    region: str
    spec: CSSpec


@dataclass
class _Planned:
    """A request between the two queries: everything but the standard errors."""

    request: Request
    design: Design
    cells: list[Cell]
    columns: list[AggColumn]
    cell_cols: np.ndarray
    agg_slices: dict[str, tuple[np.ndarray, slice]]
    notes: list[str]
    agg_notes: list[str]
    row_rows: list[tuple]
    unit_rows: list[tuple]


def _where(req: Request) -> str:
    s = req.spec
    return f"region {req.region!r}, outcome {s.outcome!r}, control group {s.control_group!r}"


def _plan_request(req: Request, stats: dict[str, Any]) -> _Planned:
    spec = req.spec
    try:
        d = prepare(stats, spec)
        notes = list(d.notes)
        later: list[str] = []  # the aggregations' notes, after att_gt's
        cells, skipped = estimate_cells(d, plan(d, spec))
        if skipped:
            by_reason: dict[str, list[str]] = {}
            for c, reason in skipped:
                by_reason.setdefault(reason, []).append(f"({int(c.g)},{int(d.periods[c.ti])})")
            for reason, which in by_reason.items():
                msg = (f"ATT(g,t) not estimated for {len(which)} "
                       f"cell{'s' if len(which) > 1 else ''} {', '.join(which)}: {reason}")
                notes.append(msg)
                warnings.warn(msg, NoComparisonWarning, stacklevel=4)
        if not any(not c.ref for c in cells):
            raise DesignError("no group-time cell has a valid comparison group"
                              + (f" ({skipped[0][1]})" if skipped else ""))
        K = len(cells)
        group = np.array([int(c.g) for c in cells], dtype=np.int64)
        time = np.array([int(d.periods[c.ti]) for c in cells], dtype=np.int64)
        att = np.array([c.att for c in cells], dtype=np.float64)
        ref = np.array([c.ref for c in cells], dtype=bool)
        groups = np.unique(group).astype(np.float64)
        pg = d.units[np.searchsorted(d.cohort_values, groups)] / d.n  # aggregate's pg
        columns: list[AggColumn] = []
        cell_cols = np.flatnonzero(~ref)
        for k in cell_cols:
            v = np.zeros(K)
            v[k] = 1.0
            columns.append(AggColumn(float(att[k]), v, None))
        agg_slices: dict[str, tuple[np.ndarray, slice]] = {}
        for kind in spec.aggregations:
            keys, cols, agg_notes = aggregate_columns(kind, att, group, time, groups, pg, spec)
            later += [f"aggregation {kind!r}: {n}" for n in agg_notes]
            agg_slices[kind] = (keys, slice(len(columns), len(columns) + len(cols)))
            columns += cols
    except (DesignError, DiDInputError) as e:
        raise type(e)(f"{_where(req)}: {e}") from None
    row_rows, unit_rows = coefficients(d, cells, columns, groups)
    return _Planned(req, d, cells, columns, cell_cols, agg_slices, notes, later, row_rows,
                    unit_rows)


def _result(p: _Planned, out: tuple, engine: str,
            cross: np.ndarray | None = None) -> StoreCSResult:
    """The frozen result of a planned request from its row of the influence query and (with
    the dynamic aggregation) the cross products of its event-time estimates."""
    spec, d, cells = p.request.spec, p.design, p.cells
    n_clusters, n_treated_clusters = int(out[1] or 0), int(out[2] or 0)
    J = len(p.columns)
    q = np.array([float(x or 0.0) for x in out[3: 3 + J]], dtype=np.float64)
    se_all = _floor(np.sqrt(np.maximum(q, 0.0)) / d.n)
    notes = list(p.notes)
    if n_clusters < 2 and spec.cluster is not None:
        raise DesignError(f"{_where(p.request)}: cluster variable {spec.cluster!r} has a single "
                          "cluster; clustered standard errors need at least 2")
    if spec.cluster is not None and (n_clusters < FEW_CLUSTERS
                                     or n_treated_clusters < FEW_CLUSTERS):
        msg = (f"few clusters: {spec.cluster!r} has {n_clusters} clusters, only "
               f"{n_treated_clusters} with treated units. Cluster-robust intervals can be too "
               f"narrow with fewer than {FEW_CLUSTERS} treated clusters; read the standard "
               "errors with care (a wild cluster bootstrap or randomization inference holds up "
               "better)")
        notes.append(msg)
        warnings.warn(msg, FewClustersWarning, stacklevel=4)

    K = len(cells)
    group = np.array([int(c.g) for c in cells], dtype=np.int64)
    time = np.array([int(d.periods[c.ti]) for c in cells], dtype=np.int64)
    base = np.array([int(d.periods[c.bi]) for c in cells], dtype=np.int64)
    att = np.array([c.att for c in cells], dtype=np.float64)
    z = NormalDist().inv_cdf(1.0 - spec.alpha / 2.0)
    se_cells = np.full(K, np.nan)
    se_cells[p.cell_cols] = se_all[: p.cell_cols.size]
    zs, ps = _z_p(att, se_cells)
    cell_frame = pd.DataFrame({
        "term": [f"ATT({g},{t})" for g, t in zip(group, time, strict=True)],
        "group": _ints(group), "time": _ints(time), "event_time": _ints(time - group),
        "estimate": att, "std_error": se_cells, "statistic": zs, "p_value": ps,
        "conf_low": att - z * se_cells, "conf_high": att + z * se_cells,
        "base_period": _ints(base),
        "n_treated": _ints([c.n_treated for c in cells]),
        "n_control": _ints([c.n_control for c in cells]),
    }, columns=CELL_COLUMNS)

    key_name = {"group": "group", "dynamic": "event_time", "calendar": "time"}
    aggregates: dict[str, pd.DataFrame] = {}
    for kind, (keys, sl) in p.agg_slices.items():
        est = np.array([c.estimate for c in p.columns[sl]])
        se = se_all[sl]
        zs, ps = _z_p(est, se)
        ov_se = float(se[-1])
        ps[-1] = (math.erfc(abs(est[-1] / ov_se) / math.sqrt(2.0)) if ov_se > 0
                  else float("nan"))
        order = np.r_[est.size - 1, np.arange(est.size - 1)]  # overall first
        frame: dict[str, Any] = {
            "term": ["overall"] + [f"{key_name.get(kind)}::{int(v)}" for v in keys],
            "estimate": est[order], "std_error": se[order], "statistic": zs[order],
            "p_value": ps[order], "conf_low": (est - z * se)[order],
            "conf_high": (est + z * se)[order],
        }
        for col in ("group", "event_time", "time"):
            vals = pd.Series([pd.NA] * (keys.size + 1), dtype="Int64")
            if col == key_name.get(kind) and keys.size:
                vals.iloc[1:] = np.asarray(keys, dtype=np.int64)
            frame[col] = vals
        aggregates[kind] = pd.DataFrame(frame, columns=AGGREGATE_TIDY_COLUMNS)

    vcov: dict[str, np.ndarray] = {}
    if "dynamic" in p.agg_slices:
        k = p.agg_slices["dynamic"][0].size
        vcov["dynamic"] = (np.zeros((k, k)) if cross is None else cross) / float(d.n) ** 2
    if "simple" in p.agg_slices:  # the overall estimate: its square is its variance
        vcov["simple"] = np.array([[q[p.agg_slices["simple"][1].stop - 1]]]) / float(d.n) ** 2

    n_treated = int(d.units[np.isin(d.cohort_values, d.treated)].sum())
    notes += p.agg_notes
    return StoreCSResult(
        engine=engine, region=p.request.region, outcome=spec.outcome, att_gt=cell_frame,
        aggregates=MappingProxyType(aggregates), n_units=d.n, n_treated=n_treated,
        n_clusters=n_clusters, n_obs=d.n_obs, design=d.design, alpha=spec.alpha,
        spec=MappingProxyType(spec.to_dict()), warnings=tuple(notes),
        vcov=MappingProxyType(vcov))


def _cross_products(backend: Backend, planned: list[_Planned], outcomes: list[str],
                    budget: int | None, groups: list[int]) -> dict[int, np.ndarray]:
    """Per request with the dynamic aggregation: the sums over clusters of the products of
    the per-cluster influence-function sums of its event-time estimates (k x k), from one
    query (:func:`~policylab.engines.sql.cross_sql`; a few under a ``cell_budget``).

    Each such request is a block: one slot of the coefficients of its event-time estimates,
    sliced from those of the influence query and registered under the same table names
    (that query has run). A block is never split (its products need all its estimates)."""
    rel = backend.relations
    blocks = []  # (request, first column, estimates)
    for i, p in enumerate(planned):
        if "dynamic" in p.agg_slices:
            keys, sl = p.agg_slices["dynamic"]
            if keys.size:
                blocks.append((i, sl.start, int(keys.size)))
    if not blocks:
        return {}
    W = max(k for *_, k in blocks)
    row_rows, unit_rows = [], []
    unit_terms = [False] * W
    for b, (i, lo, k) in enumerate(blocks):
        p = planned[i]
        o = outcomes.index(p.request.spec.outcome)
        region = p.request.region
        hi = lo + k
        pad = [0.0] * (W - k)
        for r, year, m, a, c in p.row_rows:
            row_rows.append((b, region, r, year, o, m, *a[lo:hi].tolist(), *pad,
                             *c[lo:hi].tolist(), *pad))
        for r, treated, u in p.unit_rows:
            unit_rows.append((b, region, r, o, p.design.cut, treated, *u[lo:hi].tolist(), *pad))
        for j, col in enumerate(p.columns[lo:hi]):
            unit_terms[j] |= bool(col.u is not None and np.any(col.u != 0))
    key = [("q", "BIGINT"), ("region", "STRING"), ("cohort", "BIGINT")]
    backend.register(rel.row_coef, key + [("year", "BIGINT"), ("o", "BIGINT"), ("m", "DOUBLE")]
                     + [(f"a_{j}", "DOUBLE") for j in range(W)]
                     + [(f"c_{j}", "DOUBLE") for j in range(W)], row_rows)
    backend.register(rel.unit_coef, key + [("o", "BIGINT"), ("cut", "DOUBLE"),
                                           ("treated", "BIGINT")]
                     + [(f"u_{j}", "DOUBLE") for j in range(W)], unit_rows)
    parts: list[tuple[int, int]] = [(0, len(blocks))]
    if budget:  # as the influence query: per-cluster sums within the budget
        parts, first, used = [], 0, 0
        for b, (i, _, _) in enumerate(blocks):
            cells = groups[i] * W
            if b > first and used + cells > budget:
                parts.append((first, b))
                first, used = b, 0
            used += cells
        parts.append((first, len(blocks)))
    out = {i: np.zeros((k, k)) for i, _, k in blocks}
    for lo, hi in parts:
        sql = cross_sql(rel, len(outcomes), W, unit_terms, None if len(parts) == 1 else (lo, hi))
        for row in backend.query(sql):
            i, _, k = blocks[int(row[0])]
            e = int(row[1])
            if e < k:  # (the padding columns are zero)
                out[i][e] = [float(v or 0.0) for v in row[2: 2 + k]]
    # each product was summed twice, as (e, j) and (j, e): the same up to the order of addition
    return {i: (v + v.T) / 2.0 for i, v in out.items()}


def run_batch(backend: Backend, requests: Sequence[Request], *, engine: str) -> list[StoreCSResult]:
    """Every request of the batch, in order, from one materialised panel of the regions and
    two queries over it, and a third for the dynamic aggregation's covariance (see the module
    notes); the requests share the cluster variable."""
    if not requests:
        return []
    clusters = {r.spec.cluster or "firm_id" for r in requests}
    if len(clusters) != 1:
        raise ValueError(f"the requests of one batch cluster alike; got {sorted(clusters)}")
    cluster = clusters.pop()
    rel = backend.relations
    regions = list(dict.fromkeys(r.region for r in requests))
    outcomes = list(dict.fromkeys(r.spec.outcome for r in requests))
    backend.materialize(rel.obs, panel_sql(rel, regions, outcomes, cluster))
    stats = parse_stats(backend.query(stats_sql(rel, len(outcomes))), regions, outcomes)
    planned = [_plan_request(r, stats[(r.region, r.spec.outcome)]) for r in requests]
    backend.materialize(rel.units, units_sql(rel, len(outcomes)))

    # Each request's estimates go in slots of at most ``backend.width`` columns: the SQL is
    # wide within a slot and long across slots (Spark compiles narrow rows, DuckDB runs wide
    # ones). With a ``cell_budget`` (DuckDB under a memory limit) slots are narrowed so that
    # one fits, and the influence query runs over groups of slots whose per-cluster sums
    # (clusters x columns) stay within it.
    width = max(1, int(getattr(backend, "width", 256)))
    budget = getattr(backend, "cell_budget", None)
    groups = [p.design.n for p in planned]  # per-cluster sums per column, at most
    if budget:
        n_clusters = dict(backend.query(clusters_sql(rel)))
        groups = [max(1, min(p.design.n, int(n_clusters.get(p.request.region) or p.design.n)))
                  for p in planned]
        width = max(1, min(width, int(budget) // max(groups)))
    J = min(width, max(len(p.columns) for p in planned))
    slots: list[tuple[int, int]] = []  # (request, first column)
    row_rows, unit_rows = [], []
    for i, p in enumerate(planned):
        o = outcomes.index(p.request.spec.outcome)
        region = p.request.region
        for lo in range(0, len(p.columns), J):
            hi = min(lo + J, len(p.columns))
            q = len(slots)
            slots.append((i, lo))
            pad = [0.0] * (J - (hi - lo))
            for r, year, m, a, c in p.row_rows:
                row_rows.append((q, region, r, year, o, m, *a[lo:hi].tolist(), *pad,
                                 *c[lo:hi].tolist(), *pad))
            for r, treated, u in p.unit_rows:
                unit_rows.append((q, region, r, o, p.design.cut, treated, *u[lo:hi].tolist(),
                                  *pad))
    groups_of_slots: list[tuple[int, int]] = [(0, len(slots))]
    if budget:
        groups_of_slots, start, used = [], 0, 0
        for q, (i, _) in enumerate(slots):
            cells = groups[i] * J
            if q > start and used + cells > budget:
                groups_of_slots.append((start, q))
                start, used = q, 0
            used += cells
        groups_of_slots.append((start, len(slots)))
    unit_terms = [any(col.u is not None and np.any(col.u != 0)
                      for i, lo in slots for col in planned[i].columns[lo + j:lo + j + 1])
                  for j in range(J)]
    key = [("q", "BIGINT"), ("region", "STRING"), ("cohort", "BIGINT")]
    backend.register(rel.row_coef, key + [("year", "BIGINT"), ("o", "BIGINT"), ("m", "DOUBLE")]
                     + [(f"a_{j}", "DOUBLE") for j in range(J)]
                     + [(f"c_{j}", "DOUBLE") for j in range(J)], row_rows)
    backend.register(rel.unit_coef, key + [("o", "BIGINT"), ("cut", "DOUBLE"),
                                           ("treated", "BIGINT")]
                     + [(f"u_{j}", "DOUBLE") for j in range(J)], unit_rows)
    out = {}
    for lo, hi in groups_of_slots:
        sql = influence_sql(rel, len(outcomes), J, unit_terms,
                            None if len(groups_of_slots) == 1 else (lo, hi))
        out.update({int(row[0]): row for row in backend.query(sql)})
    # per request: clusters (the same in each of its slots) and the squares, slot by slot
    per_request: list[list[Any]] = [[0, 0, 0] for _ in planned]
    for q, (i, lo) in enumerate(slots):
        row = out.get(q)
        n_cols = min(J, len(planned[i].columns) - lo)
        if row is None:
            per_request[i] += [0.0] * n_cols
            continue
        per_request[i][1:3] = [row[1], row[2]]
        per_request[i] += list(row[3: 3 + n_cols])
    cross = _cross_products(backend, planned, outcomes, budget, groups)
    return [_result(p, tuple(per_request[i]), engine, cross.get(i))
            for i, p in enumerate(planned)]
