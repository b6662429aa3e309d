"""Imputation estimators for staggered adoption: Borusyak, Jaravel and Spiess (2024) and
Gardner's two-stage DiD (``did2s``; Butts and Gardner 2022).

Both fit firm and period fixed effects on the untreated firm-periods only (never-treated
firms and the not-yet-treated periods of later members), impute the untreated outcome
``Y(0)`` of every treated firm-period from them and average the differences
``tau_it = Y_it - Y_it(0)``. Without covariates the two give the same point estimates; they
differ in the standard errors:

* :func:`imputation` uses the BJS conservative clustered variance (Theorem 3) computed from
  the estimator's implied weights ``v_it`` (``w_it`` on treated, ``-Z0 (Z0'Z0)^-1 Z1' w`` on
  untreated observations) and the auxiliary residuals of a model with one effect per
  cohort x event time (as R ``didimputation`` and diff-diff's ``ImputationDiD``);
* :func:`did2s` uses the two-stage GMM sandwich of R ``did2s`` (and pyfixest's ``did2s``),
  in which the second-stage residual subtracts the estimand's own group mean.

Both are written on the same small kernel, :class:`_UntreatedFE`, the normal equations of
the firm + period fixed effects on the untreated rows, solved by eliminating the firms
(only a periods x periods system remains).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...errors import DesignError
from ..core.checks import (
    DiDInputError,
    as_spec_value,
    check_alpha,
    check_columns,
    check_frame,
    check_int,
    cluster_spec,
    normalise_cluster,
    panel_inputs,
)
from ..core.fixed_effects import Factor, cross_gram, demean_two_way, fixest_dof_k
from ..core.staggered import (
    OVERALL_TERM,
    Cells,
    cell_estimates,
    cohort_column,
    cohort_term,
    estimates_from,
    event_names,
    event_term,
)
from ..core.vcov import Clustering, compute_vcov, few_clusters_warning, make_estimate
from ..results import PretrendResult, StaggeredResult

__all__ = ["ImputationResult", "did2s", "imputation", "imputation_pretrend_test"]

RANK_RTOL = 1e-10


@dataclass(frozen=True, repr=False)
class ImputationResult(StaggeredResult):
    """A :class:`~policylab.did.results.StaggeredResult` of :func:`imputation` or
    :func:`did2s`, with the BJS pre-trend test (:func:`imputation_pretrend_test`) when it
    was run (``None`` otherwise, e.g. no pre-treatment period to test)."""

    pretrend: PretrendResult | None = None

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.pretrend is None:
            return text
        pt = self.pretrend
        return (f"{text[:-1]}, pre-trend chi2({int(pt.df)}) = {pt.statistic:.4g}, "
                f"p = {pt.p_value:.3g})")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["pretrend"] = None if self.pretrend is None else self.pretrend.to_dict()
        return out


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Spec:
    estimator: str
    outcome: Hashable
    unit: Hashable
    time: Hashable
    cohort: Hashable
    cluster: tuple[Hashable, ...] | None
    alpha: float
    pretrend_leads: int | None
    pretrend: bool

    def to_dict(self) -> dict[str, Any]:
        out = {
            "estimator": self.estimator,
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "cohort": as_spec_value(self.cohort),
            "fixed_effects": "firm and period, fitted on untreated observations only",
            "control": "never treated and not-yet-treated firm-periods",
            "cluster": cluster_spec(self.cluster),
            "alpha": self.alpha,
            "weights": "every treated firm-period equally (overall, per event time, per "
            "cohort, per cell)",
        }
        if self.estimator == "imputation":
            out["pretrend"] = self.pretrend
            out["pretrend_leads"] = self.pretrend_leads
        return out


@dataclass(frozen=True)
class _Sample:
    """The estimation rows (those with an outcome), split into untreated and treated."""

    y: np.ndarray  # (n,)
    unit: np.ndarray  # (n,) codes 0..U-1
    time: np.ndarray  # (n,) codes 0..T-1
    time_values: np.ndarray  # (T,) sorted periods
    g: np.ndarray  # (n,) cohort, 0 = never
    treated: np.ndarray  # (n,) bool, t >= g > 0
    cluster: np.ndarray  # (n,) codes
    cluster_name: Hashable
    n_units: int
    n_times: int
    notes: tuple[str, ...]


def _prepare(data: pd.DataFrame, spec: _Spec) -> _Sample:
    data = check_frame(data)
    roles = {"outcome": spec.outcome, "unit": spec.unit, "time": spec.time, "cohort": spec.cohort}
    check_columns(data, roles, spec.cluster)
    if spec.cluster is not None and len(spec.cluster) != 1:
        raise DiDInputError(
            f"{spec.estimator} supports one cluster variable, got {list(spec.cluster)!r}"
        )
    panel = panel_inputs(
        data, outcome=spec.outcome, unit=spec.unit, time=spec.time, cluster=spec.cluster,
        whole_time=True,
    )  # fmt: skip
    g_all = cohort_column(data, spec.cohort, panel.unit_codes)
    if np.any(g_all < 0):
        raise DiDInputError(
            f"column {spec.cohort!r} (argument cohort=) has negative values; use 0 for "
            "never-treated firms"
        )
    keep = panel.outcome_rows.keep
    y = panel.y[keep]
    unit = pd.factorize(panel.unit_codes[keep], sort=False)[0]
    n_units = int(unit.max()) + 1
    t_codes, t_levels = pd.factorize(panel.time[keep], sort=True)
    g = g_all[keep]
    t_val = panel.time[keep]
    treated = (g > 0) & (t_val >= g)
    if spec.cluster:
        cluster = pd.factorize(panel.cluster_codes[0][keep])[0]
        cname: Hashable = spec.cluster[0]
    else:
        cluster, cname = unit, spec.unit
    notes = (panel.outcome_rows.warning(spec.outcome),)
    sample = _Sample(
        y=y, unit=unit.astype(np.intp), time=t_codes.astype(np.intp),
        time_values=np.asarray(t_levels, dtype=np.float64), g=g, treated=treated,
        cluster=cluster.astype(np.intp), cluster_name=cname, n_units=n_units,
        n_times=int(t_levels.size), notes=tuple(n for n in notes if n),
    )  # fmt: skip
    _check_identified(sample, data, spec)
    return sample


def _shown(values: np.ndarray, limit: int = 5) -> str:
    vals = [str(v) for v in values[:limit]]
    return ", ".join(vals) + (f", ... ({len(values) - limit} more)" if len(values) > limit else "")


def _check_identified(s: _Sample, data: pd.DataFrame, spec: _Spec) -> None:
    """Treated and untreated observations exist, and every treated observation's firm and
    period effects are estimable from the untreated ones (the same connected set)."""
    if not s.treated.any():
        raise DiDInputError(
            f"no treated observations: no firm has {spec.time!r} >= its {spec.cohort!r} > 0 "
            "among the rows with an outcome, so there is no effect to estimate"
        )
    untreated = ~s.treated
    if not untreated.any():
        raise DiDInputError(
            "no untreated observations: every firm-period is treated, so no firm or period "
            "effect can be fitted to impute the untreated outcomes"
        )
    has_u = np.bincount(s.unit[untreated], minlength=s.n_units) > 0
    has_t = np.bincount(s.time[untreated], minlength=s.n_times) > 0
    bad_u = np.unique(s.unit[s.treated & ~has_u[s.unit]])
    if bad_u.size:
        labels = _unit_labels(data, spec, s, bad_u)
        raise DiDInputError(
            f"{bad_u.size} treated firm{'s have' if bad_u.size > 1 else ' has'} no untreated "
            f"observation, so {'their' if bad_u.size > 1 else 'its'} firm effect cannot be "
            f"estimated and Y(0) cannot be imputed ({spec.unit!r}: {_shown(labels)}); drop "
            "the firms treated from their first observed period (always treated)"
        )
    bad_t = np.unique(s.time[s.treated & ~has_t[s.time]])
    if bad_t.size:
        periods = np.array([f"{s.time_values[t]:g}" for t in bad_t])
        raise DiDInputError(
            f"{bad_t.size} period{'s have' if bad_t.size > 1 else ' has'} treated but no "
            f"untreated observation, so {'their' if bad_t.size > 1 else 'its'} period effect "
            f"cannot be estimated ({spec.time!r}: {_shown(periods)}); without never-treated "
            "firms, drop the periods from the last cohort's first treated period on"
        )
    # Connected components of the firm-period graph of the untreated observations.
    from scipy.sparse.csgraph import connected_components

    u0, t0 = s.unit[untreated], s.time[untreated]
    m = s.n_units + s.n_times
    adj = sp.csr_matrix((np.ones(u0.size), (u0, s.n_units + t0)), shape=(m, m))
    n_comp, comp = connected_components(adj, directed=False)
    if n_comp > 1:
        off = s.treated & (comp[s.unit] != comp[s.n_units + s.time])
        if off.any():
            bad = np.unique(s.unit[off])
            n_off = int(off.sum())
            raise DiDInputError(
                f"{n_off} treated observation{'s' if n_off > 1 else ''} ({bad.size} "
                f"firm{'s' if bad.size > 1 else ''}, {spec.unit!r}: "
                f"{_shown(_unit_labels(data, spec, s, bad))}) {'are' if n_off > 1 else 'is'} "
                "not connected "
                "to their period's untreated observations: their firm and period effects are "
                "not jointly estimable, so Y(0) cannot be imputed"
            )


def _unit_labels(data: pd.DataFrame, spec: _Spec, s: _Sample, codes: np.ndarray) -> np.ndarray:
    y = pd.to_numeric(data[spec.outcome], errors="coerce").to_numpy(dtype=float)
    labels = data[spec.unit].to_numpy()[~np.isnan(y)]
    first = np.full(s.n_units, -1)
    first[s.unit[::-1]] = np.arange(s.unit.size)[::-1]
    return labels[first[codes]]


# --------------------------------------------------------------------------- kernel


class _UntreatedFE:
    """Normal equations of ``y_it = a_i + b_t`` on the untreated rows.

    ``solve(ru, rt)`` returns a solution ``(gu, gt)`` of ``Z0'Z0 [gu; gt] = [ru; rt]``
    (firm sums ``ru``, period sums ``rt``; several right-hand sides as columns). The
    system is singular (``a + c``, ``b - c``); every solution gives the same ``Z0 gamma``
    and, for right-hand sides in its range (``Z1'w`` when the treated observations are
    identified), the same ``Z1 gamma``.
    """

    def __init__(self, unit: np.ndarray, time: np.ndarray, n_units: int, n_times: int) -> None:
        self.unit, self.time = unit, time
        fu, ft = Factor(unit, n_units), Factor(time, n_times)
        self.n_u = fu.counts
        self.count = sp.csr_matrix(
            (np.ones(unit.size), (unit, time)), shape=(n_units, n_times)
        )  # C, firms x periods (0/1)
        self.h = cross_gram(fu, ft)  # D_t - C' D_u^-1 C

    def solve(self, ru: np.ndarray, rt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inv_n = np.divide(1.0, self.n_u, out=np.zeros_like(self.n_u), where=self.n_u > 0)
        ru2 = ru if ru.ndim == 2 else ru[:, None]
        rt2 = rt if rt.ndim == 2 else rt[:, None]
        rhs = rt2 - self.count.T @ (ru2 * inv_n[:, None])
        import scipy.linalg

        gt = scipy.linalg.lstsq(self.h, rhs, cond=RANK_RTOL, lapack_driver="gelsd")[0]
        gu = (ru2 - self.count @ gt) * inv_n[:, None]
        if ru.ndim == 1:
            return gu[:, 0], gt[:, 0]
        return gu, gt


@dataclass(frozen=True)
class _Stage1:
    fe: _UntreatedFE
    yhat0: np.ndarray  # (n,) imputed Y(0) on every row (fitted on untreated)
    resid: np.ndarray  # (n,) y - yhat0: stage-1 residual (untreated), tau_hat (treated)


def _stage1(s: _Sample) -> _Stage1:
    u0 = ~s.treated
    fe = _UntreatedFE(s.unit[u0], s.time[u0], s.n_units, s.n_times)
    y0 = s.y[u0]
    ru = np.bincount(s.unit[u0], weights=y0, minlength=s.n_units)
    rt = np.bincount(s.time[u0], weights=y0, minlength=s.n_times)
    a, b = fe.solve(ru, rt)
    yhat0 = a[s.unit] + b[s.time]
    return _Stage1(fe=fe, yhat0=yhat0, resid=s.y - yhat0)


@dataclass(frozen=True)
class _Targets:
    """The estimands as weights on the treated rows: overall, event times, cohorts, cells
    (columns of ``w``; each sums to 1), with the partition each one's did2s second stage
    uses (``group``: the group code of each treated row, per estimand kind)."""

    w: np.ndarray  # (n1, K)
    kind_slices: dict[str, slice]
    ev_values: np.ndarray
    co_values: np.ndarray
    cells: Cells
    cell_of: np.ndarray  # (n1,) cell code
    ev_of: np.ndarray  # (n1,) event-time code
    co_of: np.ndarray  # (n1,) cohort code


def _targets(s: _Sample) -> _Targets:
    tr = s.treated
    g1 = s.g[tr]
    t1 = s.time_values[s.time[tr]]
    e1 = (t1 - g1).astype(np.int64)
    ev_of, ev_values = pd.factorize(e1, sort=True)
    co_of, co_values = pd.factorize(g1.astype(np.int64), sort=True)
    key = co_of.astype(np.int64) * (s.n_times + 1) + s.time[tr]
    cell_of, cell_keys = pd.factorize(key, sort=True)
    n1 = int(tr.sum())
    n_cells = cell_keys.size
    cell_counts = np.bincount(cell_of, minlength=n_cells).astype(np.float64)
    cell_cohort = np.asarray(co_values)[np.asarray(cell_keys) // (s.n_times + 1)]
    cell_time = s.time_values[np.asarray(cell_keys) % (s.n_times + 1)]
    cells = Cells(
        cohort=cell_cohort.astype(np.int64),
        event_time=(cell_time - cell_cohort).astype(np.int64),
        time=tuple(int(t) for t in cell_time),
        n_obs=cell_counts,
    )

    def block(codes: np.ndarray, k: int) -> np.ndarray:
        counts = np.bincount(codes, minlength=k).astype(np.float64)
        m = np.zeros((n1, k))
        m[np.arange(n1), codes] = 1.0 / counts[codes]
        return m

    ne, nc = len(ev_values), len(co_values)
    w = np.hstack([np.full((n1, 1), 1.0 / n1), block(ev_of, ne), block(co_of, nc),
                   block(cell_of, n_cells)])  # fmt: skip
    slices = {
        "overall": slice(0, 1),
        "event": slice(1, 1 + ne),
        "cohort": slice(1 + ne, 1 + ne + nc),
        "cell": slice(1 + ne + nc, 1 + ne + nc + n_cells),
    }
    return _Targets(
        w=w, kind_slices=slices, ev_values=np.asarray(ev_values), co_values=np.asarray(co_values),
        cells=cells, cell_of=cell_of, ev_of=ev_of, co_of=co_of,
    )  # fmt: skip


def _implied_untreated_weights(s: _Sample, st1: _Stage1, w: np.ndarray) -> np.ndarray:
    """``v0 = -Z0 (Z0'Z0)^-1 Z1' w`` (n0 x K): the weights the imputation estimator puts on
    the untreated outcomes (BJS 2024, Theorem 3 / Proposition A3)."""
    tr = s.treated
    k = w.shape[1]
    ru = np.zeros((s.n_units, k))
    rt = np.zeros((s.n_times, k))
    np.add.at(ru, s.unit[tr], w)
    np.add.at(rt, s.time[tr], w)
    gu, gt = st1.fe.solve(ru, rt)
    u0 = ~tr
    return -(gu[s.unit[u0]] + gt[s.time[u0]])


def _group_means(codes: np.ndarray, weights2: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Per row, ``sum v^2 tau / sum v^2`` over the row's group (columns: estimands); the
    plain group mean of ``tau`` where an estimand puts no weight on the group."""
    k = int(codes.max()) + 1
    ind = sp.csr_matrix((np.ones(codes.size), (codes, np.arange(codes.size))), shape=(k, codes.size))
    den = ind @ weights2
    num = ind @ (weights2 * tau[:, None])
    plain = (ind @ tau) / np.bincount(codes, minlength=k)
    ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), plain[:, None])
    return ratio[codes]


def _cluster_vcov(s: _Sample, psi_rows: np.ndarray) -> np.ndarray:
    """``S'S`` with ``S`` the cluster sums of the per-row influence terms (n x K)."""
    g = int(s.cluster.max()) + 1
    ind = sp.csr_matrix(
        (np.ones(s.cluster.size), (s.cluster, np.arange(s.cluster.size))), shape=(g, s.cluster.size)
    )
    sums = np.asarray(ind @ psi_rows)
    v = sums.T @ sums
    return (v + v.T) / 2.0


# --------------------------------------------------------------------------- estimators


def _check_spec(
    estimator: str, outcome: Hashable, unit: Hashable, time: Hashable, cohort: Hashable,
    cluster: object, alpha: float, pretrend: bool, pretrend_leads: int | None,
) -> _Spec:  # fmt: skip
    if not isinstance(pretrend, bool):
        raise TypeError(f"pretrend must be True or False, got {pretrend!r}")
    return _Spec(
        estimator=estimator, outcome=outcome, unit=unit, time=time, cohort=cohort,
        cluster=normalise_cluster(cluster), alpha=check_alpha(alpha),
        pretrend_leads=None if pretrend_leads is None else check_int(
            pretrend_leads, "pretrend_leads", minimum=1),
        pretrend=pretrend,
    )  # fmt: skip


def imputation(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    cluster: Hashable | None = None,
    alpha: float = 0.05,
    pretrend: bool = True,
    pretrend_leads: int | None = None,
) -> ImputationResult:
    """Imputation estimator of Borusyak, Jaravel and Spiess (2024), as R ``didimputation``.

    1. Fit ``y_it = a_i + b_t + e_it`` on the untreated observations (never-treated firms and
       the periods before a member joins) only.
    2. Impute ``Y_it(0) = a_i + b_t`` for every treated observation (``t >= cohort > 0``)
       and take ``tau_it = y_it - Y_it(0)``.
    3. Average ``tau_it`` over all treated observations (the ATT), by event time
       ``e = t - cohort``, by cohort and by cohort-period cell, each observation weighted
       equally.

    Parameters
    ----------
    data : DataFrame
        One row per firm and period (unbalanced panels are fine). Not modified.
    outcome : column name
        Numeric outcome; rows where it is missing are dropped and counted in ``warnings``.
    unit, time : column names
        Firm identifier and period (whole numbers).
    cohort : column name
        First treated period, constant within firm; ``0`` = never treated.
    cluster : column name or None
        Cluster variable of the variance (e.g. the consortium); default ``unit``.
    alpha : float
        ``1 - alpha`` confidence intervals.
    pretrend : bool
        Run :func:`imputation_pretrend_test` and attach it as ``result.pretrend``.
    pretrend_leads : int or None
        Leads tested (event times ``-1 .. -pretrend_leads``); default every pre-treatment
        event time but the earliest (the reference).

    Returns
    -------
    ImputationResult
        ``method="imputation"``; ``headline``: the ATT (term ``"att"``); ``estimates``: by
        event time ``e >= 0`` (``"event_time::<e>"``), ``vcov`` their covariance;
        ``by_cohort``; ``cells`` (``n_obs``: the cell's treated observations, the weights);
        ``pretrend``.

    Raises
    ------
    DiDInputError (a ValueError)
        No treated or no untreated observation; a treated firm without untreated
        observation (always treated), a period with treated but no untreated observation,
        or treated observations whose firm and period effects are not jointly estimable.

    Notes
    -----
    **Standard errors.** The conservative clustered variance of BJS (2024, Theorem 3): the
    estimate is ``sum_it v_it y_it`` with ``v_it = w_it`` on treated observations and
    ``v0 = -Z0 (Z0'Z0)^-1 Z1' w`` on untreated ones; ``Var = sum_c (sum_{it in c} v_it
    e~_it)^2`` over clusters ``c``, with ``e~_it`` the first-stage residual on untreated
    observations and ``tau_it - tau~_g`` on treated ones, ``tau~_g = sum v^2 tau / sum
    v^2`` within cohort x event-time groups ``g`` (R ``didimputation``, diff-diff's
    ``aux_partition="cohort_horizon"``). Covariances between estimates are the same sums
    of cross products. No small-sample factor; normal critical values (as R
    ``didimputation``).
    """
    spec = _check_spec("imputation", outcome, unit, time, cohort, cluster, alpha, pretrend,
                       pretrend_leads)  # fmt: skip
    s = _prepare(data, spec)
    st1 = _stage1(s)
    tg = _targets(s)
    tr = s.treated
    tau = st1.resid[tr]
    w = tg.w
    v0 = _implied_untreated_weights(s, st1, w)
    values = w.T @ tau
    # auxiliary residuals on treated rows: tau - tau~ by cohort x event time (= cell)
    eps1 = tau[:, None] - _group_means(tg.cell_of, w * w, tau)
    psi = np.zeros((s.y.size, w.shape[1]))
    psi[tr] = w * eps1
    psi[~tr] = v0 * st1.resid[~tr][:, None]
    cov = _cluster_vcov(s, psi)
    notes = list(s.notes)
    pt = None
    if spec.pretrend:
        try:
            pt = _pretrend(s, spec)
        except DesignError as err:
            notes.append(f"pre-trend test not run: {err}")
    return _result(s, spec, tg, values, cov, df=math.inf, method="imputation",
                   vcov_type=_vcov_label(s, "BJS (2024) conservative clustered variance"),
                   notes=notes, pretrend=pt)  # fmt: skip


def did2s(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    cluster: Hashable | None = None,
    alpha: float = 0.05,
) -> ImputationResult:
    """Gardner's (2021) two-stage DiD, as R ``did2s`` (Butts and Gardner 2022) and pyfixest.

    Stage 1 fits firm and period effects on the untreated observations (as
    :func:`imputation`) and residualises every observation's outcome with them. Stage 2
    regresses the residualised outcome, without intercept, on treatment indicators: one
    for the ATT (``treat``), one per event time ``e >= 0``, per cohort, per cohort-period
    cell. The coefficients are the averages of ``tau_it`` over the treated observations of
    each indicator, the same numbers as :func:`imputation`.

    Parameters are those of :func:`imputation` (no pre-trend test: use
    :func:`imputation_pretrend_test`).

    Returns
    -------
    ImputationResult
        ``method="did2s"``, fields as :func:`imputation` (``pretrend`` is ``None``).

    Notes
    -----
    **Standard errors.** The GMM sandwich of Gardner's two-step estimator (R ``did2s``,
    pyfixest ``_did2s_vcov``): ``V = (X2'X2)^-1 (sum_c W_c W_c') (X2'X2)^-1`` with
    ``W_c = X2c' e2_c - X2'X1 (X10'X10)^-1 X10c' e1_c`` (``X1`` the firm and period
    indicators, ``X10`` the same zeroed on treated rows, ``e1`` the stage-1 and ``e2`` the
    stage-2 residuals), summed over clusters. No small-sample factor (as ``did2s``);
    Student t with ``G - 1`` degrees of freedom (pyfixest's CRV1 inference). Each family of
    terms (ATT; event times; cohorts; cells) is its own second stage; ``vcov`` is that of
    the event-time regression.
    """
    spec = _check_spec("did2s", outcome, unit, time, cohort, cluster, alpha, False, None)
    s = _prepare(data, spec)
    st1 = _stage1(s)
    tg = _targets(s)
    tr = s.treated
    tau = st1.resid[tr]
    w = tg.w
    v0 = _implied_untreated_weights(s, st1, w)  # = -X10 (X10'X10)^-1 X1'X2 (X2'X2)^-1
    values = w.T @ tau
    # Second-stage residuals: tau minus the fitted coefficient of the row's indicator in
    # the estimand's own regression (ATT: the ATT; event time e: the e average; ...).
    fitted = np.empty_like(w)
    sl = tg.kind_slices
    fitted[:, sl["overall"]] = values[0]
    for kind, codes in (("event", tg.ev_of), ("cohort", tg.co_of), ("cell", tg.cell_of)):
        fitted[:, sl[kind]] = values[sl[kind]][codes][:, None]
    eps2 = tau[:, None] - fitted
    psi = np.zeros((s.y.size, w.shape[1]))
    psi[tr] = w * eps2
    psi[~tr] = v0 * st1.resid[~tr][:, None]
    cov = _cluster_vcov(s, psi)
    # Only covariances within one second-stage regression are reported.
    block = np.zeros_like(cov, dtype=bool)
    for part in sl.values():
        block[part, part] = True
    cov = np.where(block, cov, 0.0)
    n_clusters = int(s.cluster.max()) + 1
    return _result(s, spec, tg, values, cov, df=float(n_clusters - 1), method="did2s",
                   vcov_type=_vcov_label(s, "two-stage GMM (Gardner 2021; R did2s)"),
                   notes=list(s.notes), pretrend=None)  # fmt: skip


def _vcov_label(s: _Sample, what: str) -> str:
    g = int(s.cluster.max()) + 1
    return f"{what}, clustered by {s.cluster_name} (G={g}; no small-sample factor)"


def _result(
    s: _Sample, spec: _Spec, tg: _Targets, values: np.ndarray, cov: np.ndarray, *, df: float,
    method: str, vcov_type: str, notes: list[str], pretrend: PretrendResult | None,
) -> ImputationResult:  # fmt: skip
    sl = tg.kind_slices
    headline = make_estimate(OVERALL_TERM, float(values[0]), float(cov[0, 0]), df=df,
                             alpha=spec.alpha)  # fmt: skip
    ev = sl["event"]
    estimates = estimates_from(
        event_names(tg.ev_values), values[ev], cov[ev, ev], df=df, alpha=spec.alpha,
        event_times=[int(e) for e in tg.ev_values],
    )  # fmt: skip
    co = sl["cohort"]
    by_cohort = estimates_from(
        [cohort_term(int(c)) for c in tg.co_values], values[co], cov[co, co], df=df,
        alpha=spec.alpha,
    )  # fmt: skip
    ce = sl["cell"]
    cells = cell_estimates(tg.cells, values[ce], cov[ce, ce], df=df, alpha=spec.alpha)
    clustering = Clustering((s.cluster_name,), (s.cluster,))
    ever = np.zeros(s.n_units, dtype=bool)
    ever[s.unit[s.treated]] = True
    warn = few_clusters_warning(clustering, ever[s.unit], stacklevel=4)
    event_vcov = cov[ev, ev].copy()
    event_vcov.setflags(write=False)
    return ImputationResult(
        method=method,
        outcome=str(spec.outcome),
        estimates=estimates,
        headline=headline,
        vcov=event_vcov,
        vcov_type=vcov_type,
        alpha=spec.alpha,
        n_obs=int(s.y.size),
        n_units=s.n_units,
        n_treated=int(ever.sum()),
        n_clusters=int(s.cluster.max()) + 1,
        spec=spec.to_dict(),
        warnings=tuple(n for n in [*notes, warn] if n),
        by_cohort=by_cohort,
        cells=cells,
        pretrend=pretrend,
    )


# --------------------------------------------------------------------------- pre-trends


def imputation_pretrend_test(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    cluster: Hashable | None = None,
    leads: int | None = None,
) -> PretrendResult:
    """The pre-trend test of Borusyak, Jaravel and Spiess (2024, Section 4.4, eq. 9).

    On the untreated observations only, regress the outcome on firm and period effects and
    lead indicators ``1[t - cohort = -k]``, ``k = 1 .. K``, of the firms that join later
    (the untreated periods before ``-K`` and never-treated firms are the reference), and
    test ``gamma_1 = ... = gamma_K = 0`` by a Wald test with the CRV1 covariance (fixest's
    small-sample factor, clustered by ``cluster``, default ``unit``).

    ``leads`` is ``K``; default: every pre-treatment event time but the earliest. Leads
    collinear with the fixed effects are left out (``dropped``, ``notes``). The statistic is
    ``g' V^-1 g ~ chi2(df)`` with ``df`` the number of tested leads (``source=
    "imputation"``). Imputation is valid under parallel trends and no anticipation, which
    the leads test: unlike a TWFE event study, the test and the estimator use different
    observations, so a failed test does not feed back into the estimates.
    """
    spec = _check_spec("imputation", outcome, unit, time, cohort, cluster, 0.05, True, leads)
    s = _prepare(data, spec)
    return _pretrend(s, spec)


def _pretrend(s: _Sample, spec: _Spec) -> PretrendResult:
    u0 = ~s.treated
    ever = s.g > 0
    t_val = s.time_values[s.time]
    e = np.where(ever & u0, t_val - s.g, 0.0).astype(np.int64)
    pre = ever & u0 & (e < 0)
    if not pre.any():
        raise DesignError("no pre-treatment observation of a later member")
    available = np.unique(e[pre])  # negative, ascending
    if spec.pretrend_leads is None:
        k_max = available.size - 1
        if k_max < 1:
            raise DesignError(
                "the later members have a single pre-treatment event time; it is the reference"
            )
        tested = available[1:]
    else:
        tested = available[available >= -spec.pretrend_leads]
    tested = tested[::-1]  # -1, -2, ...
    rows = np.flatnonzero(u0)
    x = np.column_stack([(e[rows] == k) & pre[rows] for k in tested]).astype(np.float64)
    y = s.y[rows]
    fu = Factor.from_codes(s.unit[rows])
    ft = Factor.from_codes(s.time[rows])
    xy = demean_two_way(np.column_stack([x, y]), fu, ft)
    xw, yw = xy[:, :-1], xy[:, -1]
    names = [event_term(int(k)) for k in tested]
    # leads collinear with the fixed effects (or one another)
    scale = np.linalg.norm(x, axis=0)
    r = np.linalg.qr(xw / np.where(scale > 0, scale, 1.0), mode="r")
    ok = np.abs(np.diag(r)) > 1e-9
    dropped = tuple(n for n, k in zip(names, ok, strict=True) if not k)
    notes = (
        (f"left out (collinear with the firm and period effects): {', '.join(dropped)}",)
        if dropped else ()
    )  # fmt: skip
    if not ok.any():
        raise DesignError("every lead is collinear with the firm and period effects")
    xw = xw[:, ok]
    names = [n for n, k in zip(names, ok, strict=True) if k]
    bread = np.linalg.inv(xw.T @ xw)
    beta = bread @ (xw.T @ yw)
    resid = yw - xw @ beta
    cl = s.cluster[rows]
    clustering = Clustering((s.cluster_name,), (cl,))
    dof_k, _ = fixest_dof_k(xw.shape[1], [fu, ft], [clustering.codes[0]])
    v = compute_vcov("CRV1", xw * resid[:, None], bread, dof_k=dof_k, clustering=clustering)
    vm = v.matrix
    stat = float(beta @ np.linalg.solve(vm, beta))
    from scipy import stats

    df = int(beta.size)
    beta.setflags(write=False)
    vm = vm.copy()
    return PretrendResult(
        statistic=stat,
        df=df,
        p_value=float(stats.chi2.sf(stat, df)),
        terms=tuple(names),
        estimates=beta,
        vcov=vm,
        source="imputation",
        dropped=dropped,
        notes=notes,
    )
