"""Static two-way fixed-effects DiD: ``y_it = a_i + l_t + b * D_it + e_it``."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DesignError
from ..core.checks import (
    ATT_TERM,
    as_spec_value,
    binary_column,
    check_alpha,
    check_columns,
    check_frame,
    cluster_spec,
    normalise_cluster,
    panel_inputs,
)
from ..core.fit import fit_within
from ..results import DiDResult
from ..core.vcov import few_clusters_warning, make_estimate


@dataclass(frozen=True)
class TwfeSpec:
    """The validated request of one :func:`twfe` call."""

    # --- data ---
    outcome: Hashable
    unit: Hashable
    time: Hashable
    treatment: Hashable
    # --- inference ---
    cluster: tuple[Hashable, ...] | None
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": "twfe",
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "treatment": as_spec_value(self.treatment),
            "cluster": cluster_spec(self.cluster),
            "alpha": self.alpha,
        }


def twfe(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    treatment: Hashable,
    cluster: Hashable | list[Hashable] | None = None,
    alpha: float = 0.05,
) -> DiDResult:
    """Static two-way fixed-effects DiD with cluster-robust (CRV1) standard errors.

    Fits ``y_it = a_i + l_t + b * D_it + e_it`` by projecting the firm and year effects out
    exactly (no dummy matrices; see :mod:`policylab.did.core.fixed_effects`), so unbalanced panels
    are fine.

    Parameters
    ----------
    data : DataFrame
        One row per firm and period. Not modified.
    outcome : column name
        Numeric outcome; rows where it is missing are dropped and counted in ``warnings``.
    unit, time : column names
        Firm identifier and (numeric) period.
    treatment : column name
        ``D_it``: 1 for a firm-period under treatment (e.g. consortium member), else 0.
    cluster : column name, list of two column names, or None
        Cluster variable(s) of the CRV1 covariance; default ``unit``. Two names give
        two-way clustering (Cameron, Gelbach and Miller 2011).
    alpha : float
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    DiDResult
        ``method="twfe"``, one estimate (term ``"att"``), which is also the headline.

    Notes
    -----
    **Singletons.** Firms (and years) observed once are dropped iteratively, as fixest and
    pyfixest do, and the count is reported in ``warnings``.

    **Standard errors** follow fixest's defaults,
    ``ssc(adj = TRUE, fixef.K = "nested", cluster.adj = TRUE)``:
    ``V = G/(G-1) * (n-1)/(n-K) * B M B``, where ``B`` is the inverse of the demeaned
    regressors' cross product and ``M`` sums the outer products of cluster score sums.
    ``K`` counts the slope, plus the fixed effects that are *not nested* in a cluster
    variable, plus one for each nested factor (fixest ``R/VCOV.R``; "On standard-errors"
    vignette; pyfixest ``get_ssc(k_fixef="nonnested")``):
    ``K = k + sum(levels) - (n_fe - 1) - sum_nested (levels - 1)``. Clustered by firm (or by
    any variable firms are nested in, such as the consortium) the firm effects are nested,
    so ``K = 1 + T`` with ``T`` periods; clustered by firm and year, ``K = 1 + 1``.
    Intervals and p-values use Student t with ``G - 1`` degrees of freedom (``G_min - 1``
    for two-way clustering). Fewer than 30 clusters add a caveat to ``warnings`` and raise a
    :class:`~policylab.errors.FewClustersWarning`.

    **Staggered adoption.** With treatment starting in different years the static TWFE
    coefficient is a weighted average of 2x2 comparisons, some of which use already-treated
    firms as controls; ``warnings`` says so. Use :func:`event_study` to see the dynamics.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"firm": np.repeat(np.arange(40), 6),
    ...                    "year": np.tile(np.arange(2015, 2021), 40)})
    >>> df["member"] = ((df["firm"] < 20) & (df["year"] >= 2018)).astype(int)
    >>> df["exports"] = 0.5 * df["member"] + 0.1 * df["firm"] + rng.normal(0, 0.1, len(df))
    >>> res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member")
    >>> round(res.headline.estimate, 1), res.n_clusters, res.n_treated
    (0.5, 40, 20)
    """
    spec = TwfeSpec(
        outcome=outcome,
        unit=unit,
        time=time,
        treatment=treatment,
        cluster=normalise_cluster(cluster),
        alpha=check_alpha(alpha),
    )
    data = check_frame(data)
    check_columns(
        data,
        {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment},
        spec.cluster,
    )
    panel = panel_inputs(
        data, outcome=outcome, unit=unit, time=time, cluster=spec.cluster, whole_time=False
    )
    d = binary_column(data, treatment, "treatment")
    ok = panel.outcome_rows.keep
    if not np.any(d[ok] == 1):
        raise DesignError(
            f"treatment {treatment!r} is 0 in every observation with an outcome: no treated "
            "firm-periods, so there is no effect to estimate"
        )
    if np.all(d[ok] == 1):
        raise DesignError(
            f"treatment {treatment!r} is 1 in every observation with an outcome: there is "
            "no untreated comparison"
        )

    fit = fit_within(
        panel.y,
        d[:, None],
        [ATT_TERM],
        row_ok=ok,
        unit_codes=panel.unit_codes,
        time_values=panel.time,
        unit_name=unit,
        cluster_names=panel.cluster_names,
        cluster_codes=panel.cluster_codes,
        drop_empty=False,
    )
    v = fit.vcov
    att = make_estimate(
        ATT_TERM, float(fit.beta[0]), float(v.matrix[0, 0]), df=v.df, alpha=spec.alpha
    )

    dk = d[fit.keep]
    ever = np.zeros(fit.n_units, dtype=bool)
    ever[fit.unit_codes[dk == 1]] = True
    treated_rows = ever[fit.unit_codes]

    notes = [panel.outcome_rows.warning(outcome), *fit.notes]
    notes.append(_staggered_note(dk, fit.unit_codes, panel.time[fit.keep]))
    notes.append(few_clusters_warning(fit.clustering, treated_rows))

    return DiDResult(
        method="twfe",
        outcome=str(outcome),
        estimates=(att,),
        headline=att,
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


def _staggered_note(d: np.ndarray, unit_codes: np.ndarray, time: np.ndarray) -> str | None:
    """Caveat when firms start treatment in different periods."""
    treated = d == 1
    first = np.full(int(unit_codes.max()) + 1, np.inf)
    np.minimum.at(first, unit_codes[treated], time[treated])
    starts = np.unique(first[np.isfinite(first)])
    if starts.size <= 1:
        return None
    return (
        f"treatment starts in {starts.size} different periods (staggered adoption): the "
        "static TWFE coefficient weights 2x2 comparisons that use already-treated firms as "
        "controls and can be biased when effects change over time (Goodman-Bacon 2021); "
        "compare with event_study"
    )
