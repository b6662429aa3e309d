"""Dynamic two-way fixed-effects DiD (event study) with binned end points."""

from __future__ import annotations

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
    constant_within,
    integer_valued,
    no_missing,
    normalise_cluster,
    numeric_column,
    panel_inputs,
)
from ..core.staggered import event_term, fit_within_onehot
from ..results import DiDResult, Estimate
from ..core.vcov import few_clusters_warning, make_estimate

HEADLINE_TERM = "avg_post"
REFERENCE_EVENT_TIME = -1


@dataclass(frozen=True)
class EventStudySpec:
    """The validated request of one :func:`event_study` call."""

    # --- data ---
    outcome: Hashable
    unit: Hashable
    time: Hashable
    cohort: Hashable
    # --- event window ---
    leads: int
    lags: int
    # --- inference ---
    cluster: tuple[Hashable, ...] | None
    alpha: float

    @property
    def event_times(self) -> list[int]:
        """Event times with an indicator: ``-leads..lags`` without the reference ``-1``."""
        return [e for e in range(-self.leads, self.lags + 1) if e != REFERENCE_EVENT_TIME]

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": "event_study",
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "cohort": as_spec_value(self.cohort),
            "leads": self.leads,
            "lags": self.lags,
            "cluster": cluster_spec(self.cluster),
            "alpha": self.alpha,
        }


def event_study(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    leads: int = 4,
    lags: int = 5,
    cluster: Hashable | list[Hashable] | None = None,
    alpha: float = 0.05,
) -> DiDResult:
    """Event-study TWFE: firm and year effects plus event-time indicators.

    Fits ``y_it = a_i + l_t + sum_{e != -1} b_e * 1[E_it = e] + u_it`` where
    ``E_it = clip(time - cohort, -leads, lags)`` for firms that join (``cohort != 0``);
    never-treated firms (``cohort == 0``) have no indicators and, with the not-yet-treated
    years, identify the year effects. ``e = -1`` (the year before joining) is the reference.

    Parameters
    ----------
    data : DataFrame
        One row per firm and period. Not modified.
    outcome : column name
        Numeric outcome; rows where it is missing are dropped and counted in ``warnings``.
    unit, time : column names
        Firm identifier and period (whole numbers, e.g. years).
    cohort : column name
        First treated period of the firm (constant within firm); ``0`` = never treated.
    leads, lags : int
        Window ``[-leads, lags]``; ``leads >= 1`` (so that ``-1`` is inside), ``lags >= 0``.
    cluster : column name, list of two column names, or None
        Cluster variable(s) of the CRV1 covariance; default ``unit``.
    alpha : float
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    DiDResult
        ``method="event_study"``. ``estimates`` holds one term per event time in the window
        except ``-1``, ordered by event time (``"event_time::-4"``, ..., ``"event_time::5"``,
        with ``Estimate.event_time`` set); ``vcov`` is their covariance. The reference
        ``-1`` is 0 by construction and is not listed. ``headline`` (term ``"avg_post"``) is
        ``sum_e w_e b_e`` over ``e >= 0`` with ``w_e`` the share of treated observations at
        event time ``e`` (after binning); its standard error is ``sqrt(w' V w)``.

    Notes
    -----
    **Binning.** Event times below ``-leads`` are binned into ``-leads`` and those above
    ``lags`` into ``lags``: the end-point coefficients are averages over all earlier / later
    years, and every treated observation has an indicator (or is the reference). A note in
    ``warnings`` says how many observations were binned. Event times in the window that no
    observation reaches are left out (and said so).

    **Comparison group.** Without never-treated firms the year effects are identified only
    by not-yet-treated firms and the binning; ``warnings`` says so, and a window that bins
    nothing is then collinear with the fixed effects (:class:`DesignError`).

    Singletons and standard errors are handled as in :func:`twfe` (fixest's CRV1 with the
    nested-K convention; t with ``G - 1`` degrees of freedom).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> firms, years = np.arange(60), np.arange(2010, 2020)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 10), "year": np.tile(years, 60)})
    >>> df["joined"] = np.repeat(np.where(firms < 20, 0, 2013 + firms % 4), 10)
    >>> on = (df["joined"] > 0) & (df["year"] >= df["joined"])
    >>> df["exports"] = 0.5 * on + rng.normal(0, 0.1, len(df))
    >>> res = event_study(df, outcome="exports", unit="firm", time="year", cohort="joined",
    ...                   leads=3, lags=3)
    >>> res.tidy()["term"].tolist()[:3]
    ['event_time::-3', 'event_time::-2', 'event_time::0']
    >>> round(res.headline.estimate, 1)
    0.5
    """
    spec = EventStudySpec(
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        leads=check_int(leads, "leads", minimum=1),
        lags=check_int(lags, "lags", minimum=0),
        cluster=normalise_cluster(cluster),
        alpha=check_alpha(alpha),
    )
    data = check_frame(data)
    check_columns(
        data,
        {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort},
        spec.cluster,
    )
    panel = panel_inputs(
        data, outcome=outcome, unit=unit, time=time, cluster=spec.cluster, whole_time=True
    )
    g = numeric_column(data, cohort, "cohort")
    no_missing(g, cohort, "cohort")
    integer_valued(g, cohort, "cohort")
    constant_within(g, panel.unit_codes, cohort, "the period the firm first joins; 0 = never")

    ok = panel.outcome_rows.keep
    joins = g != 0
    if not np.any(joins & ok):
        raise DesignError(
            f"cohort {cohort!r} is 0 for every firm with an outcome: no firm ever joins"
        )
    event = panel.time - g
    event[~joins] = 0.0
    if not np.any(joins & ok & (event >= 0)):
        raise DesignError(
            "no observation at or after a firm's first treated period: no post-treatment "
            "outcomes to estimate an effect from"
        )
    terms = spec.event_times
    # Each row's indicator column, -1 for none (never treated, or the reference -1): the
    # one-hot regressors 1[joins & clip(event, -leads, lags) == e] without an n x p matrix.
    binned = np.clip(event, -spec.leads, spec.lags)
    binned += spec.leads
    position = binned.astype(np.intp)  # 0..leads+lags, whole numbers (checked above)
    del binned
    column = np.full(spec.leads + spec.lags + 1, -1, dtype=np.intp)
    column[[e + spec.leads for e in terms]] = np.arange(len(terms))
    cell = column[position]
    del position
    cell[~joins] = -1

    fit = fit_within_onehot(
        panel.y,
        cell,
        [event_term(e) for e in terms],
        row_ok=ok,
        unit_codes=panel.unit_codes,
        time_values=panel.time,
        unit_name=unit,
        cluster_names=panel.cluster_names,
        cluster_codes=panel.cluster_codes,
        drop_empty=True,
    )
    v = fit.vcov
    kept_times = [int(n.split("::")[1]) for n in fit.names]
    estimates = tuple(
        make_estimate(
            name,
            float(fit.beta[j]),
            float(v.matrix[j, j]),
            df=v.df,
            alpha=spec.alpha,
            event_time=e,
        )
        for j, (name, e) in enumerate(zip(fit.names, kept_times, strict=True))
    )
    headline = _average_post(fit.beta, v.matrix, fit.regressors, kept_times, v.df, spec.alpha)

    # Bookkeeping on the rows actually used.
    keep = fit.keep
    joins_k, event_k = joins[keep], event[keep]
    treated_obs = joins_k & (event_k >= 0)
    ever = np.zeros(fit.n_units, dtype=bool)
    ever[fit.unit_codes[treated_obs]] = True

    notes = [panel.outcome_rows.warning(outcome), *fit.notes]
    notes.append(_binning_note(joins_k, event_k, spec.leads, spec.lags))
    if not np.any(~joins_k):
        notes.append(
            "no never-treated firms (cohort 0): year effects are identified only by firms "
            "that have not joined yet, and the end-point bins; the event-time profile rests "
            "on that comparison"
        )
    notes.append(few_clusters_warning(fit.clustering, ever[fit.unit_codes]))

    return DiDResult(
        method="event_study",
        outcome=str(outcome),
        estimates=estimates,
        headline=headline,
        vcov=v.matrix.copy(),
        vcov_type=v.label,
        alpha=spec.alpha,
        n_obs=fit.n_obs,
        n_units=fit.n_units,
        n_treated=int(ever.sum()),
        n_clusters=v.n_clusters,
        spec=spec.to_dict(),
        warnings=tuple(n for n in notes if n),
    )


def post_weights(regressors: np.ndarray, event_times: list[int]) -> np.ndarray:
    """Weights of the ``avg_post`` headline: share of treated observations at each ``e >= 0``.

    ``regressors`` are the event-time indicators on the rows used, so column sums are the
    numbers of observations per (binned) event time. Pre-period terms get weight 0.
    """
    counts = regressors.sum(axis=0)
    post = np.asarray(event_times) >= 0
    w = np.where(post, counts, 0.0)
    return w / w.sum()


def _average_post(
    beta: np.ndarray,
    vcov: np.ndarray,
    regressors: np.ndarray,
    event_times: list[int],
    df: float,
    alpha: float,
) -> Estimate:
    w = post_weights(regressors, event_times)
    return make_estimate(HEADLINE_TERM, float(w @ beta), float(w @ vcov @ w), df=df, alpha=alpha)


def _binning_note(joins: np.ndarray, event: np.ndarray, leads: int, lags: int) -> str | None:
    below = int(np.sum(joins & (event < -leads)))
    above = int(np.sum(joins & (event > lags)))
    parts = []
    if below:
        into = event_term(-leads) if -leads != REFERENCE_EVENT_TIME else "the reference -1"
        parts.append(f"{below} observation{'s' if below > 1 else ''} before -{leads} into {into}")
    if above:
        parts.append(
            f"{above} observation{'s' if above > 1 else ''} after {lags} into " + event_term(lags)
        )
    if not parts:
        return None
    return "event times outside the window were binned into its end points: " + "; ".join(parts)
