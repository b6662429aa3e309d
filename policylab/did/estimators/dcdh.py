"""de Chaisemartin and D'Haultfœuille's event-study estimator for treatments that switch on
and off (``did_multiplegt_dyn`` in R and Stata; ``moderndid.did_multiplegt`` in Python).

A firm's membership is a 0/1 treatment per firm-year that may go 1 -> 0 (a firm leaves its
consortium) as well as 0 -> 1. For each horizon ``l`` the estimator ``DID_l`` compares the
outcome change of the firms whose treatment first changed ``l - 1`` periods earlier (the
*switchers*, from the period before the switch, ``F_g - 1``, to ``F_g - 1 + l``) with the
change of the firms that have the same baseline (first-period) treatment and whose treatment
has not changed yet; placebos ``DID_-l`` compare the switchers' change from ``F_g - 1`` back
to ``F_g - 1 - l`` in the same way. Nothing is assumed about treatment after the first
switch: ``DID_l`` is the effect of the actual treatment path against the status quo
(de Chaisemartin and D'Haultfœuille 2024, "Difference-in-Differences Estimators of
Intertemporal Treatment Effects", Review of Economics and Statistics 106(6)).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DesignError
from ..core.checks import (
    DiDInputError,
    as_spec_value,
    binary_column,
    check_alpha,
    check_choice,
    check_columns,
    check_frame,
    check_int,
    codes,
    constant_within,
    integer_valued,
    no_missing,
    numeric_column,
    outcome_rows,
    unique_unit_time,
)
from ..core.influence import cluster_sums
from ..core.normal import z_critical
from ..core.vcov import clustering_from, few_clusters_warning
from ..results import DiDResult, Estimate

#: Term of the headline, the average total effect per unit of treatment (``delta``).
AVERAGE_TOTAL_EFFECT_TERM = "avg_total_effect"
SWITCHERS = ("both", "in", "out")

#: Reference tests only: reproduce moderndid 0.2.0, whose clustered degrees-of-freedom
#: counts take a missing cluster (a row outside the cohort or cell) for one more cluster
#: (polars ``n_unique`` counts null; R's ``uniqueN`` and this module do not).
_MODERNDID_NULL_CLUSTER = False


@dataclass(frozen=True)
class DCDHSpec:
    """The validated request of one :func:`did_multiplegt` call."""

    outcome: Hashable
    unit: Hashable
    time: Hashable
    treatment: Hashable
    effects: int
    placebo: int
    switchers: str
    only_never_switchers: bool
    cluster: Hashable | None
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": "dcdh",
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "treatment": as_spec_value(self.treatment),
            "effects": self.effects,
            "placebo": self.placebo,
            "switchers": self.switchers,
            "only_never_switchers": self.only_never_switchers,
            "cluster": as_spec_value(self.cluster),
            "alpha": self.alpha,
            "reference": "did_multiplegt_dyn (R/Stata) defaults: not-yet-switchers as "
            "controls, bidirectional switchers dropped, conservative (DOF-scaled, "
            "cohort-demeaned) influence-function variance, normal intervals",
        }


@dataclass(frozen=True)
class _Sample:
    """The estimation sample on a balanced unit x period grid (after the estimator's
    sample rules), with the per-unit switching information."""

    y: np.ndarray  # (G, T) outcome, NaN where missing or not observed
    d: np.ndarray  # (G, T) treatment, NaN where not observed
    t: np.ndarray  # (T,) period codes (1 = first period of the data)
    f: np.ndarray  # (G,) first switch period code, inf for never-switchers
    d_sq: np.ndarray  # (G,) baseline (first observed) treatment
    s: np.ndarray  # (G,) switch direction: 1 in, -1 out, 0 never
    l_g: np.ndarray  # (G,) periods observed from the first switch on (0: never)
    cluster: np.ndarray  # (G,) cluster codes 0..C-1 (units themselves when unclustered)
    clustered: bool
    n_obs: int
    notes: list[str]


@dataclass(frozen=True)
class _Horizon:
    """One ``DID_l`` (or placebo) with its influence function (one entry per unit)."""

    estimate: float
    influence: np.ndarray  # variance influence function, sum of squares / G**2 = variance
    n_switchers: float  # switchers whose outcome at F_g - 1 + l is observed
    delta_d: float  # average |D_{F-1+l} - D_1| of the switchers used (effects only)


def did_multiplegt(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    treatment: Hashable,
    effects: int = 1,
    placebo: int = 0,
    switchers: str = "both",
    only_never_switchers: bool = False,
    cluster: Hashable | None = None,
    alpha: float = 0.05,
) -> DiDResult:
    """Event-study DiD of de Chaisemartin and D'Haultfœuille (2024) for a 0/1 treatment that
    switches on and off, as R ``did_multiplegt_dyn`` with its defaults.

    For a firm ``g`` whose treatment first changes in period ``F_g`` (from its baseline
    ``D_g1``), ``DID_l`` (``l = 1 .. effects``) averages over such switchers

    ``Y_{g,F_g-1+l} - Y_{g,F_g-1} - mean_{g'}(Y_{g',F_g-1+l} - Y_{g',F_g-1})``

    where ``g'`` runs over the firms with the same baseline treatment whose treatment has not
    changed by ``F_g - 1 + l`` (not-yet switchers; never switchers only with
    ``only_never_switchers=True``). It estimates the effect of having switched ``l - 1``
    periods ago, whatever happened to the treatment afterwards (a firm that joins and
    leaves again is compared with its status quo). Placebos ``DID_-l`` (``l = 1 ..
    placebo``) replace ``Y_{F_g-1+l}`` by ``Y_{F_g-1-l}`` (switchers observed at
    ``F_g - 1 + l`` only, as the effect they mirror); under parallel trends they are zero.

    Parameters
    ----------
    data : DataFrame
        One row per firm and period (unbalanced panels are fine). Not modified.
    outcome : column name
        Numeric outcome; missing values are allowed (those firm-years are not used).
    unit, time : column names
        Firm identifier and period (whole numbers, e.g. years). Periods are numbered in
        their order; a period nobody is observed in is not counted (as R does).
    treatment : column name
        0/1 (or boolean) membership in each firm-year, without missing values. It may
        switch on and off.
    effects : int
        Number of horizons ``l = 1 .. effects``; cut to what the data identify (noted).
    placebo : int
        Number of placebos ``l = 1 .. placebo`` (0: none); cut likewise.
    switchers : {"both", "in", "out"}
        Which switchers to use: all (default), joiners only (baseline 0) or leavers only
        (baseline 1).
    only_never_switchers : bool
        Use only firms that never switch as controls.
    cluster : column name or None
        Cluster variable of the standard errors (e.g. the consortium), constant within firm;
        ``None``: each firm its own cluster.
    alpha : float
        ``1 - alpha`` normal confidence intervals.

    Returns
    -------
    DiDResult
        ``method="dcdh"``. ``estimates``: placebos then effects, ordered by event time, in
        the convention of the other event studies (0 = the switch period, -1 = the
        reference ``F_g - 1``): ``DID_l`` is term ``"event_time::<l-1>"`` and the placebo
        ``DID_-l`` is ``"event_time::<-1-l>"``. ``vcov`` is their joint covariance from the
        influence functions. ``headline``: the average total effect per unit of treatment
        ``delta = sum_l w_l DID_l / sum_l w_l dD_l`` (term ``"avg_total_effect"``), with
        ``w_l`` the shares of switchers over horizons and ``dD_l`` the switchers' average
        ``|D_{F_g-1+l} - D_g1|``. ``n_treated`` counts the switchers, ``n_clusters`` the
        clusters of the variance.

    Notes
    -----
    **Sample** (as ``did_multiplegt_dyn``): firms whose outcome is never observed are
    dropped; a baseline treatment value whose firms all first switch in the same period (or
    never) identifies nothing and its firms are dropped; so are firm-years without a
    never-switcher of the same baseline observed in that period. A firm whose treatment goes
    both above and below its baseline is dropped (impossible for 0/1). All drops are noted
    in ``warnings``.

    **Variance.** The standard error of ``DID_l`` is ``sqrt(sum_c (sum_{g in c} U_g)^2) / G``
    with ``G`` the firms and ``U_g`` the firm's influence function, in which every outcome
    change is demeaned by the mean change of its switching cohort (same baseline and switch
    period) or of its control cell (same period and baseline), and scaled by
    ``sqrt(n / (n - 1))`` for the ``n`` firms (clusters) in that cohort or cell (falling back
    to the union of the two when one holds a single firm): the default, conservative
    estimator of ``did_multiplegt_dyn``. Covariances between horizons use the same
    influence functions; the average total effect treats the ``dD_l`` as known.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> n, years = 120, np.arange(1, 9)
    >>> df = pd.DataFrame({"firm": np.repeat(np.arange(n), 8), "year": np.tile(years, n)})
    >>> join = np.repeat(np.where(np.arange(n) < 40, 99, 3 + np.arange(n) % 4), 8)
    >>> leave = join + 3
    >>> df["member"] = ((df["year"] >= join) & (df["year"] < leave)).astype(int)
    >>> df["exports"] = 1.0 * df["member"] + rng.normal(0, 0.1, len(df))
    >>> res = did_multiplegt(df, outcome="exports", unit="firm", time="year",
    ...                      treatment="member", effects=4, placebo=1)
    >>> res.tidy()["event_time"].tolist()
    [-2, 0, 1, 2, 3]
    >>> [round(x, 1) + 0.0 for x in res.tidy()["estimate"]]
    [0.0, 1.0, 1.0, 1.0, 0.0]
    """
    spec = DCDHSpec(
        outcome=outcome,
        unit=unit,
        time=time,
        treatment=treatment,
        effects=check_int(effects, "effects", minimum=1),
        placebo=check_int(placebo, "placebo", minimum=0),
        switchers=check_choice(switchers, "switchers", SWITCHERS),
        only_never_switchers=_check_bool(only_never_switchers, "only_never_switchers"),
        cluster=_check_cluster(cluster),
        alpha=check_alpha(alpha),
    )
    data = check_frame(data)
    check_columns(
        data,
        {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment},
        None if spec.cluster is None else (spec.cluster,),
    )
    sample = _sample(data, spec)
    notes = sample.notes
    g_units = sample.f.size

    t_min, t_max = float(sample.t.min()), float(sample.t.max())
    switching = np.isfinite(sample.f)
    n_effects = min(spec.effects, int(np.max(t_max - sample.f[switching] + 1)))
    n_placebo = min(spec.placebo, max(int(np.max(sample.f[switching] - t_min - 1)), 0))
    if n_effects < spec.effects:
        notes.append(f"effects cut from {spec.effects} to {n_effects}: no switcher is observed "
                     f"longer after its switch")
    if n_placebo < spec.placebo:
        notes.append(f"placebos cut from {spec.placebo} to {n_placebo}: no switcher is "
                     f"observed longer before its switch")

    terms: list[tuple[str, int, _Horizon]] = []
    for lag in range(n_placebo, 0, -1):
        h = _horizon(sample, lag, placebo=True, only_never=spec.only_never_switchers)
        if h is None:
            notes.append(f"placebo {lag} (event time {-1 - lag}) not estimable: no switcher "
                         f"with a comparison firm")
            continue
        terms.append((f"event_time::{-1 - lag}", -1 - lag, h))
    effect_terms: list[_Horizon] = []
    for lag in range(1, n_effects + 1):
        h = _horizon(sample, lag, placebo=False, only_never=spec.only_never_switchers)
        if h is None:
            notes.append(f"effect {lag} (event time {lag - 1}) not estimable: no switcher "
                         f"with a comparison firm")
            continue
        terms.append((f"event_time::{lag - 1}", lag - 1, h))
        effect_terms.append(h)
    if not effect_terms:
        raise DesignError("no effect could be estimated: no switcher has a comparison firm "
                          "with the same baseline treatment")

    infl = np.column_stack([h.influence for _, _, h in terms])
    sums = cluster_sums(infl, sample.cluster)
    vcov = sums.T @ sums / g_units**2
    vcov = (vcov + vcov.T) / 2.0
    vcov.setflags(write=False)
    crit = z_critical(spec.alpha)
    estimates = tuple(
        _estimate(name, h.estimate, vcov[k, k], crit, event_time=e)
        for k, (name, e, h) in enumerate(terms)
    )

    n_sw = np.array([h.n_switchers for h in effect_terms], dtype=float)
    w = n_sw / n_sw.sum()
    denom = float(w @ np.array([h.delta_d for h in effect_terms]))
    ate = float(w @ np.array([h.estimate for h in effect_terms])) / denom
    ate_if = np.column_stack([h.influence for h in effect_terms]) @ w / denom
    ate_s = cluster_sums(ate_if, sample.cluster)
    headline = _estimate(
        AVERAGE_TOTAL_EFFECT_TERM, ate, float(ate_s @ ate_s) / g_units**2, crit
    )

    n_clusters = int(sample.cluster.max()) + 1
    name = spec.cluster if spec.cluster is not None else spec.unit
    clustering = clustering_from([name], [sample.cluster])
    notes.append(few_clusters_warning(clustering, switching, stacklevel=2))
    label = (f"influence function, clustered by {spec.cluster!r}" if spec.cluster is not None
             else "influence function, by firm")
    return DiDResult(
        method="dcdh",
        outcome=str(outcome),
        estimates=estimates,
        headline=headline,
        vcov=vcov,
        vcov_type=f"{label} (did_multiplegt_dyn, cohort-demeaned and DOF-scaled; normal)",
        alpha=spec.alpha,
        n_obs=sample.n_obs,
        n_units=g_units,
        n_treated=int(switching.sum()),
        n_clusters=n_clusters,
        spec=spec.to_dict(),
        warnings=tuple(n for n in notes if n),
    )


# --- checks ---------------------------------------------------------------------------------


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_cluster(cluster: object) -> Hashable | None:
    if cluster is None:
        return None
    if isinstance(cluster, (list, tuple)):
        if len(cluster) != 1:
            raise ValueError("did_multiplegt clusters by one column; got "
                             f"{len(cluster)} names")
        cluster = cluster[0]
    if not isinstance(cluster, Hashable) or isinstance(cluster, (pd.Series, np.ndarray)):
        raise TypeError(f"cluster must be a column name, got {type(cluster).__name__}")
    return cluster


def _estimate(term: str, est: float, var: float, crit: float, *,
              event_time: int | None = None) -> Estimate:
    from statistics import NormalDist

    se = float(np.sqrt(var)) if var > 0 else 0.0
    p = 2.0 * NormalDist().cdf(-abs(est) / se) if se > 0 else float("nan")
    return Estimate(term=term, estimate=float(est), std_error=se, conf_low=float(est - crit * se),
                    conf_high=float(est + crit * se), p_value=float(p), event_time=event_time)


# --- the estimation sample ------------------------------------------------------------------


def _sample(data: pd.DataFrame, spec: DCDHSpec) -> _Sample:
    notes: list[str] = []
    y_all = numeric_column(data, spec.outcome, "outcome")
    outcome_rows(y_all, spec.outcome)  # infinite values, an outcome missing everywhere
    d_all = binary_column(data, spec.treatment, "treatment")
    unit_codes = codes(data, spec.unit, "unit")
    t_raw = numeric_column(data, spec.time, "time")
    no_missing(t_raw, spec.time, "time")
    integer_valued(t_raw, spec.time, "time")
    unique_unit_time(unit_codes, t_raw, spec.unit, spec.time)
    # Periods numbered 1..T in their order (R's factor coding).
    levels = np.unique(t_raw)
    t_all = np.searchsorted(levels, t_raw).astype(float) + 1.0
    if spec.cluster is not None:
        cl_all = codes(data, spec.cluster, "cluster")
        constant_within(cl_all.astype(float), unit_codes, spec.cluster, "the cluster of a firm")
    else:
        cl_all = unit_codes

    order = np.lexsort((t_all, unit_codes))
    u, t, y, d, cl = (a[order] for a in (unit_codes, t_all, y_all, d_all, cl_all))
    n_units = int(u.max()) + 1
    first = np.r_[True, u[1:] != u[:-1]]
    last = np.r_[u[1:] != u[:-1], True]

    # Units whose outcome is never observed.
    has_y = np.zeros(n_units, bool)
    has_y[u[~np.isnan(y)]] = True
    if not has_y.all():
        notes.append(f"dropped {_firms(int((~has_y).sum()))} whose outcome is never observed")

    # First switch, baseline, direction, periods observed from the switch on.
    d_sq = np.full(n_units, np.nan)
    d_sq[u[first]] = d[first]
    changed = ~first & (np.r_[np.nan, d[:-1]] != d)
    f = np.full(n_units, np.inf)
    s = np.zeros(n_units)
    idx = np.flatnonzero(changed)
    firsts = idx[np.r_[True, u[idx][1:] != u[idx][:-1]]] if idx.size else idx
    f[u[firsts]] = t[firsts]
    s[u[firsts]] = np.sign(d[firsts] - d[firsts - 1])
    t_last = np.zeros(n_units)
    t_last[u[last]] = t[last]
    l_g = np.where(np.isfinite(f), t_last - f + 1.0, 0.0)

    keep_unit = has_y.copy()
    if spec.switchers != "both":
        wanted = 1.0 if spec.switchers == "in" else -1.0
        other = (s != 0) & (s != wanted)
        if (other & keep_unit).any():
            notes.append(f"switchers={spec.switchers!r}: dropped "
                         f"{_firms(int((other & keep_unit).sum()))} switching the other way")
        keep_unit &= ~other

    # Baselines whose firms all first switch in the same period (or never) identify nothing
    # (R: sd(F_g) over the baseline, never-switchers counted as 0, must be positive).
    for value in np.unique(d_sq[keep_unit]):
        members = keep_unit & (d_sq == value)
        f0 = np.where(np.isfinite(f[members]), f[members], 0.0)
        if f0.size < 2 or round(float(np.std(f0, ddof=1)), 3) <= 0:
            keep_unit &= ~members
            notes.append(f"dropped {_firms(int(members.sum()))} with baseline treatment "
                         f"{value:g}: none of them switches at another time than the others")
    if not np.isfinite(f[has_y]).any():
        raise DiDInputError(
            f"no switcher: the treatment {spec.treatment!r} never changes within a firm, so "
            "there is no effect of switching to estimate"
        )
    if not (keep_unit & np.isfinite(f)).any():
        raise DiDInputError(
            f"no switcher: the treatment {spec.treatment!r} never changes within a firm "
            "that has comparison firms with the same baseline treatment (and switching at "
            "another time)"
        )

    # Firm-years without a never-switcher of the same baseline observed in that period.
    rows = keep_unit[u]
    never_rows = rows & ~np.isfinite(f[u])
    n_levels = levels.size
    base = d_sq[u].astype(np.intp)
    has_never = np.zeros((n_levels + 1, 2), bool)
    has_never[t[never_rows].astype(np.intp), base[never_rows]] = True
    row_ok = rows & has_never[t.astype(np.intp), base]
    dropped = int((rows & ~row_ok).sum())
    if dropped:
        notes.append(f"dropped {dropped} firm-year{'s' if dropped > 1 else ''} without a "
                     f"never-switching firm of the same baseline treatment in that period")
    kept_units = np.unique(u[row_ok])
    gone = int(keep_unit.sum()) - kept_units.size
    if gone:
        notes.append(f"dropped {_firms(gone)} without a comparison period")
    if not np.isfinite(f[kept_units]).any():
        raise DiDInputError("no switcher is left with never-switching comparison firms of the "
                          "same baseline treatment")

    # Balanced grid over the remaining firms and periods.
    periods = np.unique(t[row_ok])
    ui = np.searchsorted(kept_units, u[row_ok])
    ti = np.searchsorted(periods, t[row_ok])
    shape = (kept_units.size, periods.size)
    ygrid = np.full(shape, np.nan)
    dgrid = np.full(shape, np.nan)
    ygrid[ui, ti] = y[row_ok]
    dgrid[ui, ti] = d[row_ok]
    ucl = np.zeros(n_units, dtype=np.intp)
    ucl[u] = cl
    cluster = pd.factorize(ucl[kept_units])[0].astype(np.intp)
    return _Sample(
        y=ygrid,
        d=dgrid,
        t=periods,
        f=f[kept_units],
        d_sq=d_sq[kept_units],
        s=s[kept_units],
        l_g=l_g[kept_units],
        cluster=cluster,
        clustered=spec.cluster is not None,
        n_obs=int((row_ok & ~np.isnan(y)).sum()),
        notes=notes,
    )


def _firms(n: int) -> str:
    return f"{n} firm{'s' if n != 1 else ''}"


# --- one horizon ----------------------------------------------------------------------------


def _group_stats(
    values: np.ndarray, weight: np.ndarray, member: np.ndarray, group: np.ndarray,
    n_groups: int, cluster: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per group: ``weight``-ed mean of ``values`` over ``member`` cells and the number of
    distinct clusters among them (``cluster`` per cell; weights do not enter the count)."""
    g = group[member]
    cnt = np.bincount(g, weights=weight[member], minlength=n_groups)
    tot = np.bincount(g, weights=(values * weight)[member], minlength=n_groups)
    mean = np.divide(tot, cnt, out=np.zeros(n_groups), where=cnt > 0)
    pairs = np.unique(np.column_stack([g, cluster[member]]), axis=0)
    dof = np.bincount(pairs[:, 0], minlength=n_groups).astype(float) if pairs.size else \
        np.zeros(n_groups)
    return mean, dof


def _horizon(sample: _Sample, lag: int, *, placebo: bool, only_never: bool) -> _Horizon | None:
    y, t = sample.y, sample.t
    n_g, n_t = y.shape
    f, d_sq = sample.f[:, None], sample.d_sq
    diff = np.full_like(y, np.nan)
    if placebo:
        if n_t > 2 * lag:
            diff[:, 2 * lag:] = y[:, : n_t - 2 * lag] - y[:, lag : n_t - lag]
    elif n_t > lag:
        diff[:, lag:] = y[:, lag:] - y[:, : n_t - lag]
    valid = ~np.isnan(diff)
    # A firm-year counts only where its outcome (and treatment) at t is observed: for a
    # placebo, the outcome of the effect it mirrors (R's N_gt weights).
    w = (~np.isnan(y) & ~np.isnan(sample.d)).astype(float)
    tt = t[None, :]
    never = valid & (f > tt)
    if only_never:
        never &= ~(f <= t.max())
    base = np.broadcast_to(d_sq.astype(np.intp)[:, None], y.shape)
    # cells (period, baseline)
    cell = np.arange(n_t)[None, :] * 2 + base
    n_cells = 2 * n_t
    n_control = np.bincount(cell[never], weights=w[never], minlength=n_cells)
    dist = (valid & (tt == f - 1 + lag) & (sample.l_g[:, None] >= lag)
            & (n_control[cell] > 0) & (sample.s[:, None] != 0))
    if not dist.any():
        return None
    n_treated = np.bincount(cell[dist], weights=w[dist], minlength=n_cells)
    n_sw = float(n_treated.sum())
    if n_sw == 0:
        return None
    ratio = n_treated / np.where(n_control > 0, n_control, 1.0)
    dz = np.where(valid, diff, 0.0)
    coef = w * (dist - ratio[cell] * never)
    estimate = float((coef * dz).sum()) / n_sw

    # Variance: demean each change by its switching cohort's (same baseline, switch period)
    # or control cell's mean, scale by sqrt(n / (n - 1)) (n: firms or clusters in it); a
    # cohort or cell of one falls back to the union of switchers and controls of the cell.
    clus = np.broadcast_to(sample.cluster[:, None], y.shape)
    fin = np.isfinite(f[:, 0])
    f_codes = np.full(n_g, 0, dtype=np.intp)
    f_codes[fin] = np.searchsorted(t, f[fin, 0]) + 1
    cohort = np.broadcast_to((f_codes * 2 + d_sq.astype(np.intp))[:, None], y.shape)
    n_cohorts = 2 * (n_t + 2)
    c_mean, c_dof = _group_stats(diff, w, dist, cohort, n_cohorts, clus)
    n_mean, n_dof = _group_stats(diff, w, never, cell, n_cells, clus)
    u_mean, u_dof = _group_stats(diff, w, dist | never, cell, n_cells, clus)
    if _MODERNDID_NULL_CLUSTER and sample.clustered:
        size = np.bincount(cell.ravel(), minlength=n_cells)
        n_dof = n_dof + (size > np.bincount(cell[never], minlength=n_cells))
        u_dof = u_dof + (size > np.bincount(cell[dist | never], minlength=n_cells))
        if placebo:
            c_dof = c_dof + (n_t > 1)

    e_hat = np.zeros_like(y)
    scale = np.ones_like(y)
    own_dof = np.where(dist, c_dof[cohort], n_dof[cell])
    own_mean = np.where(dist, c_mean[cohort], n_mean[cell])
    un_dof, un_mean = u_dof[cell], u_mean[cell]
    used = dist | never
    alone = used & (own_dof == 1) & (un_dof >= 2)
    many = used & (own_dof >= 2)
    e_hat[many] = own_mean[many]
    e_hat[alone] = un_mean[alone]
    scale[many] = np.sqrt(own_dof[many] / (own_dof[many] - 1.0))
    scale[alone] = np.sqrt(un_dof[alone] / (un_dof[alone] - 1.0))
    contrib = np.where(used, coef * scale * (dz - e_hat), 0.0)
    influence = n_g / n_sw * contrib.sum(axis=1)

    delta_d = float("nan")
    if not placebo:
        used_sw = dist & (w > 0)
        d_now = sample.d[used_sw]
        d_base = np.broadcast_to(d_sq[:, None], y.shape)[used_sw]
        delta_d = float(np.mean(np.abs(d_now - d_base)))
    return _Horizon(estimate=estimate, influence=influence, n_switchers=n_sw, delta_d=delta_d)


__all__ = ["AVERAGE_TOTAL_EFFECT_TERM", "DiDInputError", "did_multiplegt"]
