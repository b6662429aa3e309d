"""Sun and Abraham (2021) interaction-weighted event study."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DesignError
from ..core.checks import (
    as_spec_value,
    check_alpha,
    check_columns,
    check_frame,
    check_int,
    cluster_spec,
    normalise_cluster,
    panel_inputs,
)
from ..core.checks import check_choice
from ..core.staggered import (
    OVERALL_TERM,
    Cells,
    cell_estimates,
    cohort_column,
    cohort_term,
    distinct,
    estimates_from,
    event_names,
    fit_within_onehot,
    overall_weights,
    sorted_codes,
    staggered_sample,
    weight_matrix,
)
from .dynamic_twfe import REFERENCE_EVENT_TIME
from ..results import StaggeredResult
from ..core.vcov import few_clusters_warning, make_estimate

CONTROLS = ("never_treated", "last_treated")


@dataclass(frozen=True)
class SunAbrahamSpec:
    """The validated request of one :func:`sun_abraham` call."""

    # --- data ---
    outcome: Hashable
    unit: Hashable
    time: Hashable
    cohort: Hashable
    # --- event window ---
    leads: int | None
    lags: int | None
    control: str
    # --- inference ---
    cluster: tuple[Hashable, ...] | None
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": "sun_abraham",
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "cohort": as_spec_value(self.cohort),
            "leads": self.leads,
            "lags": self.lags,
            "control": self.control,
            "cluster": cluster_spec(self.cluster),
            "alpha": self.alpha,
            "weights": "cohort shares of observations in the estimation sample, as fixed",
        }


@dataclass(frozen=True)
class SunAbrahamDesign:
    """The fitted saturated regression of :func:`sun_abraham` (shared with the wild
    bootstrap): panel inputs, cohorts, treated rows, the within fit and its cells."""

    panel: Any
    g: np.ndarray
    treated: np.ndarray
    fit: Any
    cells: Cells
    notes: list[str]


def fit_design(
    data: pd.DataFrame, spec: SunAbrahamSpec, *, dense_regressors: bool = True
) -> SunAbrahamDesign:
    """Build and fit the cohort x event-time interaction regression of ``spec`` on ``data``.

    ``dense_regressors=False`` leaves ``fit.regressors`` as the compact
    :class:`~policylab.did.core.staggered.OneHotColumns` (no n x p matrix).
    """
    panel = panel_inputs(
        data, outcome=spec.outcome, unit=spec.unit, time=spec.time, cluster=spec.cluster, whole_time=True
    )
    g = cohort_column(data, spec.cohort, panel.unit_codes)
    sample = staggered_sample(
        g,
        panel.time,
        panel.unit_codes,
        panel.outcome_rows.keep,
        control=spec.control,  # type: ignore[arg-type]
        drop_never_with_last=True,
    )
    notes = [panel.outcome_rows.warning(spec.outcome), *sample.notes]

    treated = sample.treated_cohort
    event = panel.time - g
    event[~treated] = 0.0
    lo = -np.inf if spec.leads is None else -spec.leads
    hi = np.inf if spec.lags is None else spec.lags
    binned = np.clip(event, lo, hi)
    keep = sample.keep.copy()
    keep &= _drop_cohorts_without_reference(g, binned, treated, keep, notes)
    treated &= keep
    notes.append(_binning_note(event, treated, spec.leads, spec.lags))

    # One indicator per (cohort, binned event time) outside the reference.
    in_cell = treated & (binned != REFERENCE_EVENT_TIME)
    # Cells sorted by (cohort, event time): one combined key per row, (g - g_min) * span +
    # (e - e_min), exact in floating point (whole numbers); no Python loop over rows.
    key = g[in_cell]
    e_in = binned[in_cell]
    g_min = e_min = 0.0
    span = 1.0
    if key.size:
        g_min, e_min = float(key.min()), float(e_in.min())
        span = float(e_in.max()) - e_min + 1.0
        key -= g_min
        key *= span
        key += e_in
        key -= e_min
    del e_in
    cell_codes, uniq = sorted_codes(key)
    del key
    cell_keys = [(int(k // span + g_min), int(k % span + e_min)) for k in uniq.tolist()]
    cell = np.full(g.size, -1, dtype=np.intp)  # each row's indicator column, -1: none
    cell[in_cell] = cell_codes
    names = [f"cohort::{c}:event_time::{e}" for c, e in cell_keys]

    fit = fit_within_onehot(
        panel.y,
        cell,
        names,
        row_ok=keep,
        unit_codes=panel.unit_codes,
        time_values=panel.time,
        unit_name=spec.unit,
        cluster_names=panel.cluster_names,
        cluster_codes=panel.cluster_codes,
        drop_empty=True,
    )
    notes.extend(fit.notes)
    position = {n: j for j, n in enumerate(names)}
    kept_keys = [cell_keys[position[n]] for n in fit.names]
    cell_cohort = np.array([c for c, _ in kept_keys], dtype=np.int64)
    cell_event = np.array([e for _, e in kept_keys], dtype=np.int64)
    cells = Cells(
        cohort=cell_cohort,
        event_time=cell_event,
        time=tuple(None if _is_bin(e, spec) else int(c + e) for c, e in kept_keys),
        n_obs=fit.regressors.sum(axis=0),
    )
    if dense_regressors:
        fit = dataclasses.replace(fit, regressors=np.asarray(fit.regressors))
    return SunAbrahamDesign(panel, g, treated, fit, cells, notes)


def sun_abraham(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    leads: int | None = None,
    lags: int | None = None,
    control: str = "never_treated",
    cluster: Hashable | list[Hashable] | None = None,
    alpha: float = 0.05,
) -> StaggeredResult:
    """Interaction-weighted event study of Sun and Abraham (2021), as ``fixest::sunab``.

    Fits ``y_it = a_i + l_t + sum_g sum_{e != -1} d_ge 1[G_i = g, E_it = e] + u_it`` with one
    coefficient ``d_ge`` (the cohort-specific CATT) per treated cohort ``g`` and event time
    ``e = t - g``, by the within transformation (no unit dummies), and averages them over
    cohorts with the cohorts' shares of observations at each event time.

    Parameters
    ----------
    data : DataFrame
        One row per firm and period (unbalanced panels are fine). Not modified.
    outcome : column name
        Numeric outcome; rows where it is missing are dropped and counted in ``warnings``.
    unit, time : column names
        Firm identifier and period (whole numbers, e.g. years).
    cohort : column name
        First treated period, constant within firm; ``0`` = never treated. A cohort after
        the last observed period counts as never treated within the sample.
    leads, lags : int or None
        ``None`` (default) estimates every observed event time (``fixest``'s default).
        Otherwise event times below ``-leads`` are pooled into a ``-leads`` bin and those
        above ``lags`` into a ``lags`` bin, separately for each cohort (``leads >= 1``,
        ``lags >= 0``; ``leads=1`` makes every pre-period part of the reference).
    control : {"never_treated", "last_treated"}
        Comparison group: the never-treated firms (default), or the cohort treated last, in
        which case never-treated firms are left out and every period from the last
        cohort's first treated period on is dropped (Sun and Abraham 2021, Section 4).
    cluster : column name, list of two column names, or None
        Cluster variable(s) of the CRV1 covariance; default ``unit``.
    alpha : float
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    StaggeredResult
        ``method="sun_abraham"``. ``estimates``: one term per event time except the
        reference ``-1`` (``"event_time::<e>"``), ``vcov`` their covariance; ``headline``:
        the ATT (term ``"att"``), the average of all post-treatment cells (``e >= 0``)
        weighted by their observations (``fixest``'s ``agg = "ATT"``); ``by_cohort``: the
        same average per cohort (``agg = "cohort"``); ``cells``: the ``d_ge``.

    Notes
    -----
    **Weights and their uncertainty.** The event-time effect is ``sum_g w_ge d_ge`` with
    ``w_ge = n_ge / sum_g' n_g'e``, ``n_ge`` the observations of cohort ``g`` at event time
    ``e`` in the estimation sample. Its covariance is ``W V W'`` with ``V`` the full CRV1
    covariance of the ``d_ge`` (covariances between cohorts included), exactly as
    ``fixest``'s ``aggregate()``. Like ``fixest``, the shares are treated as known (the
    sample composition is conditioned on); Sun and Abraham's ``eventstudyinteract`` adds
    a term for the sampling error of the shares, which is not included here and matters
    only when cohorts are small.

    **Samples.** Cohorts treated from their first observed period are dropped (they have
    no pre-period), as ``fixest`` does; a cohort without an observation in the reference
    period is dropped too (its effects would not be identified). Both are reported in
    ``warnings``. Singletons and standard errors follow :func:`twfe` (fixest's CRV1 with
    the nested-K convention; t with ``G - 1`` degrees of freedom).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> firms, years = np.arange(90), np.arange(2010, 2020)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 10), "year": np.tile(years, 90)})
    >>> df["joined"] = np.repeat(np.where(firms < 30, 0, 2013 + firms % 3 * 2), 10)
    >>> on = (df["joined"] > 0) & (df["year"] >= df["joined"])
    >>> df["exports"] = 0.5 * on + rng.normal(0, 0.1, len(df))
    >>> res = sun_abraham(df, outcome="exports", unit="firm", time="year", cohort="joined")
    >>> round(res.headline.estimate, 1), res.tidy()["term"].tolist()[:2]
    (0.5, ['event_time::-7', 'event_time::-6'])
    """
    spec = SunAbrahamSpec(
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        leads=None if leads is None else check_int(leads, "leads", minimum=1),
        lags=None if lags is None else check_int(lags, "lags", minimum=0),
        control=check_choice(control, "control", CONTROLS),
        cluster=normalise_cluster(cluster),
        alpha=check_alpha(alpha),
    )
    data = check_frame(data)
    check_columns(
        data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}, spec.cluster
    )
    design = fit_design(data, spec, dense_regressors=False)
    panel, g, treated, fit, cells = design.panel, design.g, design.treated, design.fit, design.cells
    notes, v = design.notes, fit.vcov
    cell_cohort, cell_event = cells.cohort, cells.event_time
    if not np.any(cell_event >= 0):
        raise DesignError("no post-treatment cohort-by-event-time cell could be estimated")

    beta, vb = fit.beta, v.matrix
    ev_values, w_event = weight_matrix(cells, cell_event, np.ones(cell_event.size, bool))
    co_values, w_cohort = weight_matrix(cells, cell_cohort, cell_event >= 0)
    w_all = overall_weights(cells)

    event_vcov = w_event @ vb @ w_event.T
    event_vcov.setflags(write=False)
    estimates = estimates_from(
        event_names(ev_values),
        w_event @ beta,
        event_vcov,
        df=v.df,
        alpha=spec.alpha,
        event_times=[int(e) for e in ev_values],
    )
    by_cohort = estimates_from(
        [cohort_term(int(c)) for c in co_values],
        w_cohort @ beta,
        w_cohort @ vb @ w_cohort.T,
        df=v.df,
        alpha=spec.alpha,
    )
    headline = make_estimate(
        OVERALL_TERM, float(w_all @ beta), float(w_all @ vb @ w_all), df=v.df, alpha=spec.alpha
    )

    treated_k = treated[fit.keep]
    post_k = treated_k & (panel.time[fit.keep] >= g[fit.keep])
    ever = np.zeros(fit.n_units, dtype=bool)
    ever[fit.unit_codes[post_k]] = True
    notes.append(few_clusters_warning(fit.clustering, ever[fit.unit_codes]))

    return StaggeredResult(
        method="sun_abraham",
        outcome=str(outcome),
        estimates=estimates,
        headline=headline,
        vcov=event_vcov,
        vcov_type=v.label,
        alpha=spec.alpha,
        n_obs=fit.n_obs,
        n_units=fit.n_units,
        n_treated=int(ever.sum()),
        n_clusters=v.n_clusters,
        spec=spec.to_dict(),
        warnings=tuple(n for n in notes if n),
        by_cohort=by_cohort,
        cells=cell_estimates(cells, beta, vb, df=v.df, alpha=spec.alpha),
    )


def _is_bin(e: int, spec: SunAbrahamSpec) -> bool:
    return (spec.leads is not None and e == -spec.leads) or (
        spec.lags is not None and e == spec.lags
    )


def _drop_cohorts_without_reference(
    g: np.ndarray,
    binned: np.ndarray,
    treated: np.ndarray,
    keep: np.ndarray,
    notes: list[str],
) -> np.ndarray:
    """Rows to keep: treated cohorts need an observation at the reference event time,
    otherwise their effects are collinear with their firms' fixed effects."""
    rows = treated & keep
    cohorts = distinct(g[rows])
    with_ref = distinct(g[rows & (binned == REFERENCE_EVENT_TIME)])
    missing = np.setdiff1d(cohorts, with_ref)
    if not missing.size:
        return np.ones_like(keep)
    shown = ", ".join(str(int(c)) for c in missing)
    notes.append(
        f"dropped cohort{'s' if missing.size > 1 else ''} {shown}: no observation in the "
        f"reference period (event time {REFERENCE_EVENT_TIME}), so "
        f"{'their effects are' if missing.size > 1 else 'its effects are'} not identified"
    )
    return ~(treated & np.isin(g, missing))


def _binning_note(
    event: np.ndarray, treated: np.ndarray, leads: int | None, lags: int | None
) -> str | None:
    parts = []
    if leads is not None:
        below = int(np.sum(treated & (event < -leads)))
        if below:
            into = f"-{leads}" if leads != 1 else "the reference -1"
            parts.append(f"{below} before -{leads} into {into}")
    if lags is not None:
        above = int(np.sum(treated & (event > lags)))
        if above:
            parts.append(f"{above} after {lags} into {lags}")
    if not parts:
        return None
    return (
        "event times outside the window were pooled into cohort-specific end-point bins: "
        + "; ".join(parts)
        + " observations"
    )
