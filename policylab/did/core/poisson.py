"""Poisson pseudo-maximum likelihood on a small dense design: pure array functions.

Used by :func:`policylab.did.estimators.etwfe` (``family="poisson"``), whose design holds cohort and
period indicators plus the treatment cells, i.e. at most a few hundred columns.

* :func:`separated_rows` finds observations whose coefficients would be infinite because
  the outcome is zero in a whole indicator group (ppmlhdfe's fixed-effect rule);
* :func:`fit_poisson` runs iteratively reweighted least squares to the PML estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def separated_rows(y: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Rows to drop because their group's outcome is zero everywhere.

    A level of a fixed effect (or a 0/1 regressor's "1" group) in which every outcome is 0
    has a coefficient of minus infinity; its rows are fitted exactly by ``mu = 0`` and carry
    no information on the other coefficients (Correia, Guimarães and Zylkin 2019,
    ppmlhdfe's ``fe`` check). Dropping them can empty further groups, hence the loop.

    Parameters
    ----------
    y : ndarray
        Non-negative outcome.
    groups : list of ndarray
        Integer codes per grouping; ``-1`` marks rows outside every group of that
        grouping (e.g. untreated rows for the treatment-cell grouping).

    Returns
    -------
    ndarray of bool
        ``True`` for separated rows.

    Examples
    --------
    >>> y = np.array([0.0, 0.0, 1.0, 2.0, 0.0, 3.0])
    >>> cohort = np.array([0, 0, 1, 1, 2, 2])
    >>> separated_rows(y, [cohort]).tolist()
    [True, True, False, False, False, False]
    """
    drop = np.zeros(y.size, dtype=bool)
    positive = y > 0
    while True:
        changed = False
        for codes in groups:
            live = ~drop & (codes >= 0)
            if not live.any():
                continue
            n_levels = int(codes[live].max()) + 1
            count = np.bincount(codes[live], minlength=n_levels)
            pos = np.bincount(codes[live & positive], minlength=n_levels)
            dead = (count > 0) & (pos == 0)
            if dead.any():
                rows = live & dead[np.where(codes >= 0, codes, 0)]
                if rows.any():
                    drop |= rows
                    changed = True
        if not changed:
            return drop


@dataclass(frozen=True)
class PoissonFit:
    beta: np.ndarray
    mu: np.ndarray
    bread: np.ndarray  # (X' diag(mu) X)^-1
    converged: bool
    n_iter: int


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2.0 * np.sum(term - (y - mu)))


def fit_poisson(
    y: np.ndarray, x: np.ndarray, *, tol: float = 1e-13, maxiter: int = 200
) -> PoissonFit:
    """Poisson PML by iteratively reweighted least squares.

    Starts from ``mu = (y + mean(y)) / 2`` (as fixest) and iterates
    ``b = (X'WX)^-1 X'W z`` with ``W = diag(mu)``, ``z = eta + (y - mu) / mu`` until the
    relative change in deviance is below ``tol`` (fixest's criterion, with a tighter
    default) and the largest coefficient change is below ``sqrt(tol)``.

    Examples
    --------
    >>> x = np.column_stack([np.ones(4), [0.0, 0.0, 1.0, 1.0]])
    >>> fit = fit_poisson(np.array([1.0, 3.0, 4.0, 8.0]), x)
    >>> np.round(np.exp(fit.beta), 6).tolist()   # mean of the first group, ratio of means
    [2.0, 3.0]
    """
    mu = (y + y.mean()) / 2.0
    eta = np.log(mu)
    dev_old = _deviance(y, mu)
    beta = np.zeros(x.shape[1])
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        z = eta + (y - mu) / mu
        xw = x * mu[:, None]
        xtwx = xw.T @ x
        beta_new = np.linalg.solve(xtwx, xw.T @ z)
        eta = x @ beta_new
        mu = np.exp(eta)
        dev = _deviance(y, mu)
        done = irls_converged(dev, dev_old, beta_new, beta, it, tol)
        beta, dev_old = beta_new, dev
        if done:
            converged = True
            break
    xw = x * mu[:, None]
    bread = np.linalg.inv(xw.T @ x)
    return PoissonFit(
        beta=beta, mu=mu, bread=(bread + bread.T) / 2.0, converged=converged, n_iter=it
    )


def group_codes(*arrays: np.ndarray) -> np.ndarray:
    """Integer codes of the combinations of several label arrays."""
    return pd.MultiIndex.from_arrays(list(arrays)).factorize()[0].astype(np.intp)


def irls_converged(dev: float, dev_old: float, beta_new: np.ndarray, beta: np.ndarray,
                   it: int, tol: float) -> bool:
    """The IRLS stopping rule (fixest's): the relative change of the deviance below ``tol``
    and, from the second iteration on, the largest coefficient step below
    ``sqrt(tol) * (1 + max |beta_new|)``."""
    step = float(np.max(np.abs(beta_new - beta))) if it > 1 else np.inf
    crit = abs(dev - dev_old) / (0.1 + abs(dev))
    return crit < tol and step < np.sqrt(tol) * (1.0 + float(np.max(np.abs(beta_new))))
