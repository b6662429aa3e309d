"""The canonical 2x2 difference-in-differences (two groups, two periods)."""

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
    codes,
    constant_within,
    normalise_cluster,
    numeric_column,
    outcome_rows,
    recode,
)
from ..results import DiDResult
from ..core.vcov import Clustering, compute_vcov, few_clusters_warning, make_estimate

#: Columns of the saturated regression ``y ~ 1 + treated + post + treated:post``.
REGRESSORS = ("intercept", "treated", "post", "treated:post")
_CELL_NAMES = (
    "comparison firms before",
    "comparison firms after",
    "treated firms before",
    "treated firms after",
)


@dataclass(frozen=True)
class TwoByTwoSpec:
    """The validated request of one :func:`did_2x2` call."""

    # --- data ---
    outcome: Hashable
    treated: Hashable
    post: Hashable
    unit: Hashable | None
    # --- inference ---
    cluster: tuple[Hashable, ...] | None
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": "did_2x2",
            "outcome": as_spec_value(self.outcome),
            "treated": as_spec_value(self.treated),
            "post": as_spec_value(self.post),
            "unit": as_spec_value(self.unit),
            "cluster": cluster_spec(self.cluster),
            "alpha": self.alpha,
        }


def did_2x2(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    treated: Hashable,
    post: Hashable,
    unit: Hashable | None = None,
    cluster: Hashable | list[Hashable] | None = None,
    alpha: float = 0.05,
) -> DiDResult:
    """Canonical 2x2 DiD: ``(treated after - treated before) - (comparison after - before)``.

    The estimate is the ``treated:post`` coefficient of the saturated regression
    ``y ~ 1 + treated + post + treated:post``, computed directly from the four cell means
    (the regression reproduces them exactly), so it *is* the difference of the four means.

    Parameters
    ----------
    data : DataFrame
        Firm-period rows (a panel, with ``unit``) or pooled cross-sections. Not modified.
    outcome : column name
        Numeric outcome; rows where it is missing are dropped and counted in ``warnings``.
    treated : column name
        0/1, 1 for the treatment group (constant within a firm when ``unit`` is given).
    post : column name
        0/1, 1 for the period after treatment starts.
    unit : column name, optional
        Firm identifier. With it, standard errors are clustered by firm by default.
    cluster : column name, list of two column names, or None
        Cluster variable(s) of a CRV1 covariance. Overrides the default.
    alpha : float
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    DiDResult
        ``method="did_2x2"``; one estimate (term ``"att"``), which is also the headline.
        Without ``unit`` each row counts as a unit: ``n_units = n_obs`` and ``n_treated``
        is the number of treatment-group rows.

    Notes
    -----
    Standard errors use ``K = 4`` parameters:

    * clustered (``unit`` or ``cluster`` given): CRV1,
      ``G/(G-1) * (n-1)/(n-K) * B M B`` (statsmodels ``cov_type="cluster"`` and fixest's
      default), t with ``G - 1`` degrees of freedom; fewer than 30 clusters add a caveat;
    * otherwise HC1, ``n/(n-K) * B M B``, with Student t on ``n - K`` degrees of freedom
      (as fixest's ``"hetero"``; statsmodels ``cov_type="HC1", use_t=True``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 6.0, 1.5, 2.5, 2.5, 6.5],
    ...                    "treated": [0, 0, 1, 1, 0, 0, 1, 1],
    ...                    "post": [0, 1, 0, 1, 0, 1, 0, 1]})
    >>> did_2x2(df, outcome="y", treated="treated", post="post").headline.estimate
    2.5
    """
    spec = TwoByTwoSpec(
        outcome=outcome,
        treated=treated,
        post=post,
        unit=unit,
        cluster=normalise_cluster(cluster),
        alpha=check_alpha(alpha),
    )
    data = check_frame(data)
    check_columns(
        data,
        {"outcome": outcome, "treated": treated, "post": post, "unit": unit},
        spec.cluster,
    )
    y_all = numeric_column(data, outcome, "outcome")
    rows = outcome_rows(y_all, outcome)
    d_all = binary_column(data, treated, "treated")
    p_all = binary_column(data, post, "post")
    unit_all = codes(data, unit, "unit") if unit is not None else None
    clusters_all = tuple(codes(data, c, "cluster") for c in spec.cluster or ())
    if unit_all is not None:
        constant_within(
            d_all, unit_all, treated, "it marks the treatment group; use post for timing"
        )

    keep = rows.keep
    y, d, p = y_all[keep], d_all[keep], p_all[keep]
    cell = (2 * d + p).astype(np.intp)
    n_cell = np.bincount(cell, minlength=4)
    if np.any(n_cell == 0):
        missing = [name for name, k in zip(_CELL_NAMES, n_cell, strict=True) if k == 0]
        raise DesignError(
            "a 2x2 DiD needs both groups in both periods; no observations of "
            + ", ".join(missing)
            + f" (columns {treated!r} and {post!r})"
        )
    m = np.bincount(cell, weights=y, minlength=4) / n_cell
    att_value = (m[3] - m[2]) - (m[1] - m[0])

    x = np.column_stack([np.ones_like(y), d, p, d * p])
    resid = y - m[cell]
    bread = np.linalg.inv(x.T @ x)
    scores = x * resid[:, None]

    clustering: Clustering | None
    if spec.cluster is not None:
        clustering = Clustering(spec.cluster, tuple(recode(c[keep])[0] for c in clusters_all))
    elif unit_all is not None:
        clustering = Clustering((unit,), (recode(unit_all[keep])[0],))
    else:
        clustering = None
    kind = "CRV1" if clustering is not None else "HC1"
    v = compute_vcov(kind, scores, bread, dof_k=len(REGRESSORS), clustering=clustering)
    var_att = float(v.matrix[3, 3])
    att = make_estimate(ATT_TERM, float(att_value), var_att, df=v.df, alpha=spec.alpha)

    if unit_all is not None:
        u, n_units = recode(unit_all[keep])
        n_treated = int(np.unique(u[d == 1]).size)
    else:
        n_units = int(keep.sum())
        n_treated = int((d == 1).sum())

    notes = [rows.warning(outcome), *v.notes, few_clusters_warning(clustering, d == 1)]
    return DiDResult(
        method="did_2x2",
        outcome=str(outcome),
        estimates=(att,),
        headline=att,
        vcov=np.array([[var_att]]),
        vcov_type=v.label,
        alpha=spec.alpha,
        n_obs=int(keep.sum()),
        n_units=n_units,
        n_treated=n_treated,
        n_clusters=v.n_clusters,
        spec=spec.to_dict(),
        warnings=tuple(n for n in notes if n),
    )
