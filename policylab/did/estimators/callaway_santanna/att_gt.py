"""Callaway and Sant'Anna (2021) group-time average treatment effects, ``ATT(g, t)``.

:func:`att_gt` reproduces R ``did``'s ``att_gt`` (>= 2.5) on the same data and options:
the same cells, base periods and comparison groups, the same 2x2 estimators (R ``DRDID``,
see :mod:`policylab.did.estimators.callaway_santanna.estimation`), the same influence functions and analytic standard
errors, clustered with within-cluster **sums**, and the same multiplier bootstrap. Aggregations
(:func:`policylab.did.estimators.callaway_santanna.aggregate`) and the pre-trend test (:func:`policylab.did.pretrend_test`)
work on the frozen result.

Speed: everything is vectorised over the wide unit x period matrix. Units are sorted by
cohort so that each cohort is one contiguous block; without covariates a cell's ATT is a
difference of cohort sums and its influence function is written block by block, with no
per-cell regression (the closed form of the 2x2 estimators with an intercept only). With
covariates the loop is over cells (never over firms), each a small logit / least-squares fit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from ....errors import DesignError, FewClustersWarning, PolicylabWarning
from ...core.checks import (
    as_spec_value,
    check_alpha,
    check_choice,
    check_columns,
    check_frame,
    check_int,
)
from .estimation import TRIM_LEVEL, CellFailure, panel_2x2, rc_2x2
from ....constants import FEW_CLUSTERS
from ...core.normal import z_critical
from ...core.influence import _dot, multiplier_draws, standard_errors
from .prep import CSData, prepare
from ...results import GroupTimeResult

ControlGroup = Literal["never_treated", "not_yet_treated"]
Method = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]
CONTROL_GROUPS: tuple[str, ...] = ("never_treated", "not_yet_treated")
METHODS: tuple[str, ...] = get_args(Method)
BASE_PERIODS: tuple[str, ...] = ("varying", "universal")


class NoComparisonWarning(PolicylabWarning):
    """A group-time cell was not estimated: it has no valid comparison group (no comparison
    units, no overlap, trimmed propensity scores, or singular covariates)."""


__all__ = [
    "BASE_PERIODS",
    "CONTROL_GROUPS",
    "METHODS",
    "GroupTimeSpec",
    "NoComparisonWarning",
    "att_gt",
]


# --------------------------------------------------------------------------- specification


def _column_names(value: object, name: str) -> tuple[Hashable, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        names = tuple(value)
        if len(set(names)) != len(names):
            raise ValueError(f"{name} names the same column twice: {list(names)!r}")
        return names
    raise TypeError(f"{name} must be a list of column names, got {type(value).__name__}")


def _single_column(value: object, name: str) -> Hashable | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return value[0]
        raise ValueError(
            f"{name} takes one column name (one-way clustering, as R did); got {len(value)}"
        )
    if isinstance(value, Hashable) and not isinstance(value, (pd.Series, np.ndarray)):
        return value
    raise TypeError(f"{name} must be a column name, got {type(value).__name__}")


def _bootstrap_draws(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"bootstrap must be None (analytic standard errors) or the number of multiplier "
            f"bootstrap draws, e.g. 999; got {value!r}"
        )
    if value < 2:
        raise ValueError(f"bootstrap must be at least 2 draws (e.g. 999); got {value}")
    return int(value)


def _seed(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"seed must be None or an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"seed must be >= 0, got {value}")
    return int(value)


@dataclass(frozen=True)
class GroupTimeSpec:
    """The validated request of one :func:`att_gt` call."""

    # --- data ---
    outcome: Hashable
    unit: Hashable | None
    time: Hashable
    cohort: Hashable
    covariates: tuple[Hashable, ...]
    weights: Hashable | None
    panel: bool
    # --- identification ---
    control_group: str
    method: str
    base_period: str
    anticipation: int
    # --- inference ---
    cluster: Hashable | None
    bootstrap: int | None
    seed: int | None
    alpha: float

    def to_dict(self, design: str | None = None) -> dict[str, Any]:
        out = {
            "estimator": "att_gt",
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "cohort": as_spec_value(self.cohort),
            "covariates": [as_spec_value(c) for c in self.covariates],
            "weights": as_spec_value(self.weights),
            "panel": self.panel,
            "control_group": self.control_group,
            "method": self.method,
            "base_period": self.base_period,
            "anticipation": self.anticipation,
            "cluster": as_spec_value(self.cluster),
            "bootstrap": self.bootstrap,
            "multiplier": "rademacher" if self.bootstrap else None,
            "seed": self.seed,
            "alpha": self.alpha,
        }
        if design is not None:
            out["design"] = design
        return out


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class _Cell:
    g: float
    gi: int  # index of g in cohort_values
    ti: int  # period index
    bi: int  # base-period index
    ctrl: tuple[int, ...]  # cohort indices of the comparison group
    post: bool
    ref: bool  # universal base: the base period itself


def _plan(d: CSData, spec: GroupTimeSpec) -> list[_Cell]:
    """Cells in R ``did``'s order (group, then period) with base period and comparison group."""
    periods = d.periods
    T = periods.size
    cv = d.cohort_values
    ant = spec.anticipation
    varying = spec.base_period == "varying"
    cells = []
    for g in d.treated_cohorts:
        gi = int(np.searchsorted(cv, g))
        bu = int(np.flatnonzero(periods + ant < g)[-1])  # last untreated (and unanticipated)
        for ti in range(1 if varying else 0, T):
            t = periods[ti]
            post = bool(g <= t)
            bi = (bu if post else ti - 1) if varying else bu
            ref = (not varying) and ti == bi
            if spec.control_group == "never_treated":
                ctrl = tuple(int(i) for i in np.flatnonzero(np.isinf(cv)))
            else:
                horizon = max(periods[ti], periods[bi]) + ant
                ctrl = tuple(
                    int(i) for i in np.flatnonzero((np.isinf(cv) | (cv > horizon)) & (cv != g))
                )
            cells.append(_Cell(float(g), gi, ti, bi, ctrl, post, ref))
    return cells


class _Columns:
    """The influence-function matrix, column-major, filled one estimated cell at a time.

    Columns are handed out in order, so the used ones are a prefix: no copy at the end, and
    the never-touched zero pages of skipped cells are never made resident.
    """

    def __init__(self, n: int, k: int) -> None:
        self.m = np.zeros((n, k), order="F")
        self.used = 0

    def next(self) -> np.ndarray:
        col = self.m[:, self.used]
        self.used += 1
        return col

    def matrix(self) -> np.ndarray:
        return self.m[:, : self.used]


class _Skip:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _trim_reason() -> str:
    return (
        f"the treated units are at least {TRIM_LEVEL:.1%} of the cell, so every comparison "
        "unit's propensity score reaches the trimming level (as R DRDID)"
    )


# --------------------------------------------------------------------------- estimation


def _estimate_panel(d: CSData, cells: list[_Cell], method: str):
    """Balanced panel. Returns per-cell (att, n_treated, n_control) or _Skip, and the IF."""
    n = d.n
    Yt = d.Yt
    w = d.unit_weight
    cs, ce = d.cohort_start, d.cohort_end
    C = d.cohort_values.size
    out: list[Any] = []

    if d.X is None:
        # Closed form (intercept-only 2x2): ATT = difference of the mean changes, and the
        # influence function is n * w_i (dY_i - mean) / W for treated units, minus the same for
        # comparison units. The changes are computed block by block (each cohort is one
        # contiguous block of units) straight into the influence-function column, then
        # centred and scaled there; means come from the changes, not from differenced level
        # sums, so large outcome levels (exports in euro) lose no precision.
        W = np.array(
            [(ce[c] - cs[c]) if w is None else w[cs[c] : ce[c]].sum() for c in range(C)],
            dtype=np.float64,
        )
        plans = []
        for cell in cells:
            n_t = int(ce[cell.gi] - cs[cell.gi])
            if cell.ref:
                out.append((0.0, n_t, 0))
                plans.append(None)
                continue
            ctrl = list(cell.ctrl)
            w1, w0 = W[cell.gi], W[ctrl].sum() if ctrl else 0.0
            if not ctrl or w0 <= 0:
                out.append(_Skip("no comparison units"))
                continue
            if w1 <= 0:
                out.append(_Skip("the treated units all have weight 0"))
                continue
            if method != "reg" and w1 / (w1 + w0) >= TRIM_LEVEL:
                out.append(_Skip(_trim_reason()))
                continue
            out.append([0.0, n_t, int(sum(ce[c] - cs[c] for c in ctrl))])
            plans.append((cell, len(out) - 1, w1, w0))
        inf = np.zeros((n, len(plans)), order="F")
        for k, plan in enumerate(plans):
            if plan is None:
                continue
            cell, slot, w1, w0 = plan
            col = inf[:, k]
            means = []
            for group, total in (([cell.gi], w1), (cell.ctrl, w0)):
                acc = 0.0
                for c in group:
                    seg = col[cs[c] : ce[c]]
                    np.subtract(Yt[cell.ti, cs[c] : ce[c]], Yt[cell.bi, cs[c] : ce[c]], out=seg)
                    acc += seg.sum() if w is None else _dot(w[cs[c] : ce[c]], seg)
                means.append(acc / total)
            mu1, mu0 = means
            for group, mu, scale in (([cell.gi], mu1, n / w1), (cell.ctrl, mu0, -n / w0)):
                for c in group:
                    seg = col[cs[c] : ce[c]]
                    seg -= mu
                    if w is not None:
                        seg *= w[cs[c] : ce[c]]
                    seg *= scale
            out[slot] = (float(mu1 - mu0), out[slot][1], out[slot][2])
        return out, inf

    X = d.X
    cols = _Columns(n, len(cells))
    for cell in cells:
        if cell.ref:
            out.append((0.0, int(ce[cell.gi] - cs[cell.gi]), 0))
            cols.next()
            continue
        if not cell.ctrl:
            out.append(_Skip("no comparison units"))
            continue
        idx = np.concatenate(
            [np.arange(cs[cell.gi], ce[cell.gi])] + [np.arange(cs[c], ce[c]) for c in cell.ctrl]
        )
        n_t = int(ce[cell.gi] - cs[cell.gi])
        dvec = np.zeros(idx.size)
        dvec[:n_t] = 1.0
        dy = Yt[cell.ti, idx] - Yt[cell.bi, idx]
        try:
            att, inf_s = panel_2x2(method, dy, dvec, X[idx], None if w is None else w[idx])
        except CellFailure as e:
            out.append(_Skip(str(e)))
            continue
        cols.next()[idx] = (n / idx.size) * inf_s
        out.append((att, n_t, idx.size - n_t))
    return out, cols.matrix()


def _estimate_long(d: CSData, cells: list[_Cell], method: str):
    """Unbalanced panel / repeated cross-sections: rows in (cohort, period) blocks."""
    n = d.n
    bs, be = d.block_start, d.block_end
    y, ru, wr = d.row_y, d.row_unit, d.row_weight
    out: list[Any] = []
    cols = _Columns(n, len(cells))

    if d.X is None:
        C, T = bs.shape
        key = np.repeat(np.arange(C * T), (be - bs).ravel())
        Sw = (
            (be - bs).astype(np.float64)
            if wr is None
            else np.bincount(key, weights=wr, minlength=C * T).reshape(C, T)
        )
        Sy = np.bincount(key, weights=y if wr is None else wr * y, minlength=C * T).reshape(C, T)
        Nr = be - bs
        for cell in cells:
            if cell.ref:
                out.append((0.0, int(Nr[cell.gi, cell.ti]), 0))
                cols.next()
                continue
            if not cell.ctrl:
                out.append(_Skip("no comparison units"))
                continue
            ctrl = list(cell.ctrl)
            parts = {
                "tpost": ([cell.gi], cell.ti, 1.0),
                "tpre": ([cell.gi], cell.bi, -1.0),
                "cpost": (ctrl, cell.ti, -1.0),
                "cpre": (ctrl, cell.bi, 1.0),
            }
            wsum = {k: Sw[g, t].sum() for k, (g, t, _) in parts.items()}
            if min(wsum.values()) <= 0:
                missing = [k for k, v in wsum.items() if v <= 0]
                who = "treated" if missing[0].startswith("t") else "comparison"
                when = "the base period" if missing[0].endswith("pre") else "period t"
                out.append(_Skip(f"no {who} observations in {when}"))
                continue
            tot = sum(wsum.values())
            if method != "reg" and (wsum["tpost"] + wsum["tpre"]) / tot >= TRIM_LEVEL:
                out.append(_Skip(_trim_reason()))
                continue
            mean = {k: Sy[g, t].sum() / wsum[k] for k, (g, t, _) in parts.items()}
            att = (mean["tpost"] - mean["tpre"]) - (mean["cpost"] - mean["cpre"])
            col = cols.next()
            for k, (gs, t, sign) in parts.items():
                scale = sign * n / wsum[k]
                for g in gs:
                    lo, hi = bs[g, t], be[g, t]
                    if hi == lo:
                        continue
                    v = y[lo:hi] - mean[k]
                    if wr is not None:
                        v = v * wr[lo:hi]
                    col[ru[lo:hi]] += scale * v
            n_t = int(Nr[cell.gi, cell.ti] + Nr[cell.gi, cell.bi])
            n_c = int(Nr[ctrl, cell.ti].sum() + Nr[ctrl, cell.bi].sum())
            out.append((float(att), n_t, n_c))
        return out, cols.matrix()

    X = d.row_X
    for cell in cells:
        if cell.ref:
            out.append((0.0, int(be[cell.gi, cell.ti] - bs[cell.gi, cell.ti]), 0))
            cols.next()
            continue
        if not cell.ctrl:
            out.append(_Skip("no comparison units"))
            continue
        groups = [cell.gi, *cell.ctrl]
        rows = np.concatenate(
            [np.arange(bs[g, t], be[g, t]) for g in groups for t in (cell.ti, cell.bi)]
        )
        n_t = int(
            be[cell.gi, cell.ti]
            - bs[cell.gi, cell.ti]
            + be[cell.gi, cell.bi]
            - bs[cell.gi, cell.bi]
        )
        dvec = np.zeros(rows.size)
        dvec[:n_t] = 1.0
        post = (d.row_period[rows] == cell.ti).astype(np.float64)
        try:
            att, inf_s = rc_2x2(
                method, y[rows], post, dvec, X[rows], None if wr is None else wr[rows]
            )
        except CellFailure as e:
            out.append(_Skip(str(e)))
            continue
        cols.next()[:] = np.bincount(ru[rows], weights=(n / rows.size) * inf_s, minlength=n)
        out.append((att, n_t, rows.size - n_t))
    return out, cols.matrix()


# --------------------------------------------------------------------------- public


def att_gt(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable | None,
    time: Hashable,
    cohort: Hashable,
    control_group: ControlGroup = "never_treated",
    method: Method = "dr",
    covariates: Sequence[Hashable] = (),
    base_period: BasePeriod = "varying",
    anticipation: int = 0,
    cluster: Hashable | None = None,
    weights: Hashable | None = None,
    panel: bool = True,
    bootstrap: int | None = None,
    seed: int | None = None,
    alpha: float = 0.05,
) -> GroupTimeResult:
    """Group-time average treatment effects of Callaway and Sant'Anna (2021).

    For every cohort ``g`` (first treated period) and period ``t``, ``ATT(g, t)`` compares the
    outcome change of cohort ``g`` between a base period and ``t`` with that of a comparison
    group, by a 2x2 DiD estimator (doubly robust, IPW or outcome regression).

    Parameters
    ----------
    data : DataFrame
        Long data, one row per unit and period. Not modified.
    outcome : column name
        Numeric outcome; rows where it (or a covariate) is missing are dropped.
    unit : column name, or None
        Unit (firm) identifier. ``None`` only with ``panel=False``: every row is then its own
        unit. With ``panel=False`` and a ``unit``, the influence function is summed within unit
        (R ``did`` with ``idname``), which allows for repeated observations of a unit.
    time : column name
        Period (whole numbers, e.g. years).
    cohort : column name
        First treated period of the unit (constant within unit), ``0`` = never treated.
        Units first treated after the last period count as never treated; units treated in
        the first period (plus ``anticipation``) have no base period and are dropped.
    control_group : {"never_treated", "not_yet_treated"}
        Comparison units: never treated, or also those not yet treated by
        ``max(t, base) + anticipation``. Without never-treated units, ``"not_yet_treated"``
        uses the last cohort as the comparison group and drops the periods from its first
        treated period on (R ``did`` >= 2.5, PR #266).
    method : {"dr", "ipw", "reg"}
        ``"dr"``: the locally efficient doubly robust estimator of Sant'Anna and Zhao (2020)
        (R ``DRDID::drdid_panel`` / ``drdid_rc``, what R ``did`` uses); ``"ipw"``: normalised
        inverse probability weighting; ``"reg"``: outcome regression. Without covariates all
        three equal the difference of mean changes.
    covariates : list of column names
        Time-invariant covariates (constant within unit) for the propensity score and the
        outcome regression; an intercept is always included.
    base_period : {"varying", "universal"}
        ``"varying"``: pre-treatment cells compare ``t`` with ``t - 1`` and post-treatment
        cells with the last period before ``g - anticipation``; ``"universal"``: every cell
        uses that last period (its own cell is reported with ATT 0 and no standard error).
    anticipation : int
        Periods before ``g`` in which units may already react (``>= 0``).
    cluster : column name or None
        Cluster variable (constant within unit), e.g. the consortium. Standard errors are
        clustered by unit by default; with ``cluster`` the influence function is **summed**
        within clusters (R ``did`` >= 2.5).
    weights : column name or None
        Unit sampling weights (constant within unit, non-negative).
    panel : bool
        ``True``: panel data. A balanced panel uses the panel estimators; an unbalanced one
        (firms entering and leaving, missing outcomes) is estimated with the repeated
        cross-section estimators and influence functions summed within unit, as R ``did``
        with ``allow_unbalanced_panel = TRUE`` (said so in ``warnings``). ``False``: repeated
        cross-sections.
    bootstrap : int or None
        ``None``: analytic standard errors. ``B``: multiplier bootstrap with ``B`` Rademacher
        draws (one per cluster), bootstrap standard errors and a uniform (sup-t) ``1 - alpha``
        confidence band over all cells.
    seed : int or None
        Seed of the bootstrap draws.
    alpha : float
        ``1 - alpha`` confidence level.

    Returns
    -------
    GroupTimeResult
        Frozen; ``tidy()`` lists the cells. Cells without a valid comparison group are skipped
        with a :class:`NoComparisonWarning` and named in ``warnings``.

    Raises
    ------
    ValueError, TypeError
        Unknown option values (the message names the allowed set), missing or non-numeric
        columns (:class:`~policylab.did.core.checks.DiDInputError`).
    DesignError
        No unit is ever treated within the sample, every unit is always treated, there is no
        comparison group for any cell, or the never-treated group is empty.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> firms, years = np.arange(300), np.arange(2010, 2016)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 6), "year": np.tile(years, 300)})
    >>> df["joined"] = np.repeat(np.where(firms < 100, 0, 2012 + firms % 3), 6)
    >>> on = (df["joined"] > 0) & (df["year"] >= df["joined"])
    >>> df["exports"] = 0.5 * on + rng.normal(0, 0.1, len(df))
    >>> res = att_gt(df, outcome="exports", unit="firm", time="year", cohort="joined")
    >>> res.tidy()["term"].tolist()[:3]
    ['ATT(2012,2011)', 'ATT(2012,2012)', 'ATT(2012,2013)']
    >>> bool(np.allclose(res.att[res.time >= res.group], 0.5, atol=0.05))
    True
    """
    spec = GroupTimeSpec(
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=_column_names(covariates, "covariates"),
        weights=_single_column(weights, "weights"),
        panel=_bool(panel, "panel"),
        control_group=check_choice(control_group, "control_group", CONTROL_GROUPS),
        method=check_choice(method, "method", METHODS),
        base_period=check_choice(base_period, "base_period", BASE_PERIODS),
        anticipation=check_int(anticipation, "anticipation", minimum=0),
        cluster=_single_column(cluster, "cluster"),
        bootstrap=_bootstrap_draws(bootstrap),
        seed=_seed(seed),
        alpha=check_alpha(alpha),
    )
    if spec.unit is None and spec.panel:
        raise ValueError("unit is required with panel=True (give unit=None only with panel=False)")
    data = check_frame(data)
    roles: dict[str, Hashable | None] = {
        "outcome": outcome,
        "unit": unit,
        "time": time,
        "cohort": cohort,
        "weights": spec.weights,
    }
    for i, c in enumerate(spec.covariates):
        roles[f"covariates[{i}]"] = c
    check_columns(data, roles, (spec.cluster,) if spec.cluster is not None else None)

    d = prepare(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=spec.covariates,
        weights=spec.weights,
        cluster=spec.cluster,
        panel=spec.panel,
        control_group=spec.control_group,
        anticipation=spec.anticipation,
    )
    notes = list(d.notes)
    cells = _plan(d, spec)
    if d.design == "panel":
        outcomes, inf = _estimate_panel(d, cells, spec.method)
    else:
        outcomes, inf = _estimate_long(d, cells, spec.method)

    kept = [(c, o) for c, o in zip(cells, outcomes, strict=True) if not isinstance(o, _Skip)]
    skipped = [(c, o) for c, o in zip(cells, outcomes, strict=True) if isinstance(o, _Skip)]
    if skipped:
        by_reason: dict[str, list[str]] = {}
        for c, o in skipped:
            by_reason.setdefault(o.reason, []).append(f"({int(c.g)},{int(d.periods[c.ti])})")
        for reason, which in by_reason.items():
            msg = (
                f"ATT(g,t) not estimated for {len(which)} cell{'s' if len(which) > 1 else ''} "
                f"{', '.join(which)}: {reason}"
            )
            notes.append(msg)
            warnings.warn(msg, NoComparisonWarning, stacklevel=2)
    if not any(not c.ref for c, _ in kept):
        raise DesignError(
            "no group-time cell has a valid comparison group"
            + (f" ({skipped[0][1].reason})" if skipped else "")
        )

    group = np.array([int(c.g) for c, _ in kept], dtype=np.int64)
    tvals = np.array([int(d.periods[c.ti]) for c, _ in kept], dtype=np.int64)
    base = np.array([int(d.periods[c.bi]) for c, _ in kept], dtype=np.int64)
    att = np.array([o[0] for _, o in kept], dtype=np.float64)
    n_tr = np.array([o[1] for _, o in kept], dtype=np.int64)
    n_co = np.array([o[2] for _, o in kept], dtype=np.int64)
    ref = np.array([c.ref for c, _ in kept], dtype=bool)

    cluster_codes = d.unit_cluster
    n_clusters = d.n if cluster_codes is None else int(cluster_codes.max()) + 1
    if cluster_codes is not None:
        if n_clusters < 2:
            raise DesignError(
                f"cluster variable {spec.cluster!r} has a single cluster; clustered standard "
                "errors need at least 2"
            )
        few = _few_clusters(d, spec.cluster)
        if few:
            notes.append(few)
            warnings.warn(few, FewClustersWarning, stacklevel=2)

    if cluster_codes is None:
        analytic = _unclustered_se(inf, [c for c, _ in kept], d)
    else:
        analytic = standard_errors(inf, cluster_codes)
    analytic[ref] = np.nan
    z = z_critical(spec.alpha)
    se = analytic
    crit = z
    uniform = False
    if spec.bootstrap:
        se, crit_b = multiplier_draws(
            inf, cluster_codes, draws=spec.bootstrap, seed=spec.seed, alpha=spec.alpha
        )
        se[ref] = np.nan
        if math.isfinite(crit_b) and crit_b >= z:
            crit, uniform = crit_b, True
        else:
            notes.append(
                "the bootstrap gave no usable uniform critical value; intervals are pointwise"
            )
    point_lo, point_hi = att - z * se, att + z * se
    lo, hi = att - crit * se, att + crit * se
    treated_mask = np.isin(d.unit_cohort, d.treated_cohorts)
    return GroupTimeResult(
        outcome=str(outcome),
        group=group,
        time=tvals,
        base_period=base,
        att=att,
        se=se,
        analytic_se=analytic,
        conf_low=lo,
        conf_high=hi,
        point_conf_low=point_lo,
        point_conf_high=point_hi,
        critical_value=float(crit),
        uniform_band=uniform,
        influence=inf,
        units=d.unit_labels,
        unit_cohort=d.unit_cohort,
        unit_weight=d.unit_weight,
        unit_cluster=cluster_codes,
        cell_n_treated=n_tr,
        cell_n_control=n_co,
        comparison_cohorts=tuple(d.cohort_values[list(c.ctrl)] for c, _ in kept),
        n_units=d.n,
        n_treated=int(treated_mask.sum()),
        n_clusters=n_clusters,
        n_obs=d.n_obs,
        alpha=spec.alpha,
        anticipation=spec.anticipation,
        design=d.design,
        spec=spec.to_dict(d.design),
        warnings=tuple(notes),
    )


def _unclustered_se(inf: np.ndarray, cells: list[_Cell], d: CSData) -> np.ndarray:
    """``sqrt(colSums(inf**2)) / n``, summing each column only over the unit blocks where it
    can be non-zero (its cohort and its comparison cohorts; units are sorted by cohort)."""
    from ...core.influence import SE_FLOOR

    cs, ce = d.cohort_start, d.cohort_end
    ss = np.zeros(len(cells))
    for k, cell in enumerate(cells):
        col = inf[:, k]
        for c in (cell.gi, *cell.ctrl):
            seg = col[cs[c] : ce[c]]
            ss[k] += _dot(seg, seg)
    se = np.sqrt(ss) / d.n
    return np.where(se <= SE_FLOOR, np.nan, se)


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)




def _few_clusters(d: CSData, name: Hashable) -> str | None:
    codes = d.unit_cluster
    g = int(codes.max()) + 1
    treated = np.isin(d.unit_cohort, d.treated_cohorts)
    g_treated = int(np.unique(codes[treated]).size)
    if g >= FEW_CLUSTERS and g_treated >= FEW_CLUSTERS:
        return None
    return (
        f"few clusters: {name!r} has {g} clusters, only {g_treated} with treated units. "
        f"Cluster-robust intervals can be too narrow with fewer than {FEW_CLUSTERS} treated "
        "clusters; read the standard errors with care (a wild cluster bootstrap or randomization inference holds up better)"
    )
