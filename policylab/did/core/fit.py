"""The shared fitting path of the fixed-effects estimators (``twfe``, ``event_study``).

Takes validated full-length arrays, drops rows without an outcome and singleton firms/years,
projects out firm and year effects, solves for the slopes and builds the CRV1 covariance.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import DesignError
from .checks import recode
from .fixed_effects import Factor, demean_two_way, fixest_dof_k, singleton_mask
from .vcov import Clustering, Vcov, compute_vcov

RANK_TOL = 1e-9


@dataclass(frozen=True)
class WithinFit:
    """Slopes of a two-way fixed-effects regression and their covariance."""

    names: tuple[str, ...]
    beta: np.ndarray
    vcov: Vcov
    keep: np.ndarray  # rows of the caller's data that were used
    regressors: np.ndarray  # the (undemeaned) regressors on the used rows
    unit_codes: np.ndarray  # on the used rows, contiguous
    clustering: Clustering
    notes: tuple[str, ...]

    @property
    def n_obs(self) -> int:
        return int(self.keep.sum())

    @property
    def n_units(self) -> int:
        return int(self.unit_codes.max()) + 1 if self.unit_codes.size else 0


def fit_within(
    y: np.ndarray,
    regressors: np.ndarray,
    names: list[str],
    *,
    row_ok: np.ndarray,
    unit_codes: np.ndarray,
    time_values: np.ndarray,
    unit_name: Hashable,
    cluster_names: tuple[Hashable, ...],
    cluster_codes: tuple[np.ndarray, ...],
    drop_empty: bool,
) -> WithinFit:
    """Fit ``y_it = a_i + l_t + x_it'b + e_it`` by the within transformation.

    Parameters
    ----------
    y, regressors : ndarray
        Full-length outcome (``NaN`` rows are excluded via ``row_ok``) and n x p regressors.
    names : list of str
        Term names of the regressor columns.
    row_ok : ndarray of bool
        Rows with an outcome.
    drop_empty : bool
        Drop regressor columns that are zero on every used row (event-time indicators
        outside the observed range) instead of raising :class:`DesignError`.
    """
    notes: list[str] = []
    time_codes = pd.factorize(time_values)[0]

    # Singletons (iteratively over firms and years), among rows with an outcome.
    rows = np.flatnonzero(row_ok)
    sub_keep = singleton_mask([recode(unit_codes[rows])[0], recode(time_codes[rows])[0]])
    n_single = int((~sub_keep).sum())
    if n_single:
        dropped_units = np.setdiff1d(unit_codes[rows[~sub_keep]], unit_codes[rows[sub_keep]]).size
        notes.append(
            f"dropped {n_single} singleton observation{'s' if n_single > 1 else ''} "
            f"({dropped_units} firm{'s' if dropped_units != 1 else ''} observed only once, "
            "or years with a single observation): they are fitted exactly by their own "
            "fixed effect and carry no information"
        )
    keep = np.zeros_like(row_ok)
    keep[rows[sub_keep]] = True
    if keep.sum() < 2:
        raise DesignError("fewer than 2 observations remain after dropping singletons")

    yk = y[keep]
    xk = regressors[keep]
    ucodes, n_u = recode(unit_codes[keep])
    tcodes, n_t = recode(time_codes[keep])
    if n_t < 2:
        raise DesignError(
            "all remaining observations are in one period: time effects absorb everything"
        )

    names = list(names)
    empty = ~np.any(xk != 0, axis=0)
    if empty.any():
        lost = [n for n, e in zip(names, empty, strict=True) if e]
        if not drop_empty or empty.all():
            raise DesignError(
                f"{', '.join(lost)} {'is' if len(lost) == 1 else 'are'} zero for every "
                "observation used: no treated observations to identify the effect"
            )
        notes.append(
            f"no observations at {', '.join(lost)}: "
            f"{'this term was' if len(lost) == 1 else 'these terms were'} left out"
        )
        xk = xk[:, ~empty]
        names = [n for n, e in zip(names, empty, strict=True) if not e]

    fe_unit = Factor(ucodes, n_u)
    fe_time = Factor(tcodes, n_t)
    z = demean_two_way(np.column_stack([yk, xk]), fe_unit, fe_time)
    y_w, x_w = z[:, 0], z[:, 1:]

    # Identification: the demeaned regressors must have full column rank.
    raw_scale = np.linalg.norm(xk - xk.mean(axis=0), axis=0)
    check_identified(x_w, raw_scale, names)

    beta, *_ = np.linalg.lstsq(x_w, y_w, rcond=None)
    resid = y_w - x_w @ beta
    bread = np.linalg.inv(x_w.T @ x_w)
    scores = x_w * resid[:, None]

    if cluster_names:
        c_codes = tuple(recode(c[keep])[0] for c in cluster_codes)
        clustering = Clustering(names=cluster_names, codes=c_codes)
    else:
        clustering = Clustering(names=(unit_name,), codes=(ucodes,))
    dof_k, _ = fixest_dof_k(x_w.shape[1], [fe_unit, fe_time], list(clustering.codes))
    vcov = compute_vcov("CRV1", scores, bread, dof_k=dof_k, clustering=clustering)
    notes.extend(vcov.notes)

    return WithinFit(
        names=tuple(names),
        beta=beta,
        vcov=vcov,
        keep=keep,
        regressors=xk,
        unit_codes=ucodes,
        clustering=clustering,
        notes=tuple(notes),
    )


def check_identified(x_w: np.ndarray, raw_scale: np.ndarray, names: Sequence[str]) -> None:
    """Raise :class:`DesignError` unless the demeaned regressors ``x_w`` (columns ``names``;
    ``raw_scale``: each column's spread before demeaning) have full column rank."""
    within_scale = np.linalg.norm(x_w, axis=0)
    absorbed = within_scale <= RANK_TOL * np.maximum(raw_scale, 1.0)
    if absorbed.any():
        lost = [n for n, a in zip(names, absorbed, strict=True) if a]
        raise DesignError(
            f"{', '.join(lost)} {'does' if len(lost) == 1 else 'do'} not vary once firm and "
            "year effects are removed (e.g. a treatment that never changes within firms, or "
            "all firms treated in the same year): the effect is not identified"
        )
    sv = np.linalg.svd(x_w / within_scale, compute_uv=False)
    if sv.min() <= RANK_TOL * sv.max():
        raise DesignError(
            "the regressors are collinear with the firm and year effects "
            f"({', '.join(names)}). In an event study this happens when there are no "
            "never-treated firms and every observed event time is inside the window; "
            "add never-treated firms or shorten the window (leads/lags) so end points bin"
        )
