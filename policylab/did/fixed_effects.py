"""Numerical kernels for two-way fixed-effects regressions: pure array functions.

No pandas, no state. The estimators in :mod:`policylab.did.twfe` and
:mod:`policylab.did.event_study` call these after validating their inputs.

The within transformation removes unit and time effects from every column of a matrix
without forming dummy matrices:

* ``"exact"`` (the default whenever the smaller factor has at most ``EXACT_MAX_LEVELS``
  levels, i.e. always for firm-year panels): by Frisch-Waugh-Lovell,
  ``M_[A,B] y = M_A y - M_A B g`` with ``g`` solving ``(B' M_A B) g = B' M_A y``. ``B' M_A B``
  is only ``L_B x L_B`` (years x years) and is built from a sparse unit-by-year count matrix,
  so the result is exact up to floating point for any unbalanced (even disconnected) panel.
* ``"map"``: alternating projections (demean by one factor, then the other, until the
  largest change is below ``tol``), for two factors that both have very many levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

DemeanMethod = Literal["auto", "exact", "map"]
EXACT_MAX_LEVELS = 5_000


@dataclass(frozen=True)
class Factor:
    """A categorical variable as contiguous integer codes ``0..n_levels-1``."""

    codes: np.ndarray
    n_levels: int
    counts: np.ndarray = field(init=False, repr=False)
    _indicator: sp.csr_matrix = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.codes.size
        counts = np.bincount(self.codes, minlength=self.n_levels).astype(np.float64)
        ind = sp.csr_matrix((np.ones(n), (self.codes, np.arange(n))), shape=(self.n_levels, n))
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "_indicator", ind)

    @classmethod
    def from_codes(cls, codes: np.ndarray) -> Factor:
        """Build a factor from arbitrary integer codes (re-coded to be contiguous)."""
        inv, uniq = pd.factorize(np.asarray(codes))
        return cls(inv.astype(np.intp, copy=False), int(uniq.size))

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-level sums of the rows of ``values`` (n x p -> n_levels x p)."""
        return np.asarray(self._indicator @ values)

    def means(self, values: np.ndarray) -> np.ndarray:
        """Per-level means of the rows of ``values``."""
        return self.sums(values) / self.counts[:, None]


def singleton_mask(codes: list[np.ndarray]) -> np.ndarray:
    """Rows that survive iterative removal of singleton fixed-effect levels.

    A level observed once (a firm with one firm-year, a year with one observation) is fitted
    perfectly by its own effect and carries no information on the slope; dropping it can
    create new singletons in another factor, hence the loop (as in fixest/pyfixest's
    ``fixef_rm="singleton"``). The loop runs over factors and rounds, never over firms.

    Parameters
    ----------
    codes : list of ndarray
        Integer codes (non-negative) of each factor, all of length n.

    Returns
    -------
    ndarray of bool
        ``True`` for rows to keep.

    Examples
    --------
    >>> import numpy as np
    >>> singleton_mask([np.array([0, 0, 1, 2, 2]), np.array([0, 1, 0, 0, 1])]).tolist()
    [True, True, False, True, True]
    """
    n = codes[0].size
    keep = np.ones(n, dtype=bool)
    while True:
        changed = False
        for c in codes:
            counts = np.bincount(c[keep], minlength=int(c.max()) + 1 if n else 0)
            single = keep & (counts[c] == 1)
            if single.any():
                keep &= ~single
                changed = True
        if not changed:
            return keep


def is_nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Whether every level of ``inner`` lies within one level of ``outer``.

    E.g. firms are nested in consortia when no firm changes consortium.
    """
    # Write each row's outer label at its inner level; nested iff no row disagrees.
    first = np.empty(int(inner.max()) + 1 if inner.size else 0, dtype=outer.dtype)
    first[inner] = outer
    return bool(np.array_equal(first[inner], outer))


def demean_two_way(
    values: np.ndarray,
    fe1: Factor,
    fe2: Factor,
    *,
    method: DemeanMethod = "auto",
    tol: float = 1e-13,
    maxiter: int = 100_000,
) -> np.ndarray:
    """Residuals of every column of ``values`` on two sets of fixed effects.

    Parameters
    ----------
    values : ndarray, shape (n, p)
        Columns to transform (outcome and regressors together).
    fe1, fe2 : Factor
        The two factors (e.g. firm and year), on the same n rows.
    method : {"auto", "exact", "map"}
        ``"exact"`` solves the small factor's normal equations (see the module docstring);
        ``"map"`` runs alternating projections to ``tol``; ``"auto"`` picks ``"exact"`` unless
        both factors have more than ``EXACT_MAX_LEVELS`` levels.
    tol, maxiter : float, int
        Convergence criterion of ``"map"`` (largest absolute change in a sweep, relative to
        the scale of the data).

    Returns
    -------
    ndarray, shape (n, p)
        ``values`` with both sets of effects projected out.

    Examples
    --------
    >>> import numpy as np
    >>> unit = Factor.from_codes(np.array([0, 0, 1, 1, 2]))
    >>> year = Factor.from_codes(np.array([0, 1, 0, 1, 1]))
    >>> y = np.array([[1.0], [2.0], [3.0], [5.0], [7.0]])
    >>> np.round(demean_two_way(y, unit, year).ravel(), 6).tolist()
    [0.25, -0.25, -0.25, 0.25, 0.0]
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        return demean_two_way(values[:, None], fe1, fe2, method=method, tol=tol, maxiter=maxiter)[
            :, 0
        ]
    small, large = (fe1, fe2) if fe1.n_levels <= fe2.n_levels else (fe2, fe1)
    if method == "auto":
        method = "exact" if small.n_levels <= EXACT_MAX_LEVELS else "map"
    if method == "exact":
        return _demean_exact(values, large, small)
    if method == "map":
        return _demean_map(values, large, small, tol=tol, maxiter=maxiter)
    raise ValueError(f"method must be one of 'auto', 'exact', 'map', got {method!r}")


def _demean_exact(y: np.ndarray, a: Factor, b: Factor) -> np.ndarray:
    # M_A y: remove the large factor's means.
    y_a = y - a.means(y)[a.codes]
    # B' M_A B = diag(n_b) - C' diag(1/n_a) C, with C the (L_A x L_B) count matrix.
    c = sp.csr_matrix((np.ones(a.codes.size), (a.codes, b.codes)), shape=(a.n_levels, b.n_levels))
    h = np.diag(b.counts) - np.asarray((c.T @ sp.diags(1.0 / a.counts) @ c).todense())
    rhs = b.sums(y_a)  # B' M_A y
    # H is singular (constant vector; more if the panel is disconnected). rhs lies in its
    # range, so any least-squares solution gives the same fitted values M_A B g.
    import scipy.linalg

    g = scipy.linalg.lstsq(h, rhs, lapack_driver="gelsd")[0]
    fitted = g[b.codes]
    return y_a - (fitted - a.means(fitted)[a.codes])


def _demean_map(y: np.ndarray, a: Factor, b: Factor, *, tol: float, maxiter: int) -> np.ndarray:
    scale = max(float(np.max(np.abs(y))), 1.0)
    x = y - a.means(y)[a.codes]
    for _ in range(maxiter):
        x_new = x - b.means(x)[b.codes]
        x_new = x_new - a.means(x_new)[a.codes]
        delta = float(np.max(np.abs(x_new - x))) if x.size else 0.0
        x = x_new
        if delta <= tol * scale:
            return x
    raise RuntimeError(
        f"alternating projections did not converge in {maxiter} sweeps; use method='exact'"
    )


def fixest_dof_k(
    n_regressors: int, factors: list[Factor], clusters: list[np.ndarray]
) -> tuple[int, tuple[bool, ...]]:
    """Number of parameters K in fixest's default ``ssc(fixef.K = "nested")``.

    Without nesting, fixest counts ``K = k + sum(levels) - (n_fe - 1)`` (one reference level
    per extra factor; ``fixef.force_exact = FALSE``). A factor nested in a cluster variable
    (every level inside one cluster, e.g. firms within firm- or consortium-clusters) only
    shifts cluster means, which CRV1 already absorbs; ``"nested"`` therefore counts it as one
    parameter instead of its ``levels``::

        K = k + sum(levels) - (n_fe - 1) - sum over nested factors of (levels - 1)

    (fixest ``R/VCOV.R``: ``K = K - (sum(fixef_sizes[is_nested]) - sum(is_nested))``; when all
    factors are nested this equals ``k + 1``; pyfixest ``utils.get_ssc`` with
    ``k_fixef="nonnested"`` gives the same number.) With firm and year effects clustered by
    firm this is ``K = k + T``. A factor counts as nested if it is nested in any of the
    cluster variables.

    Returns
    -------
    K : int
    nested : tuple of bool
        Per factor, whether it was found nested.
    """
    nested = tuple(any(is_nested(f.codes, c) for c in clusters) for f in factors)
    k = n_regressors + sum(f.n_levels for f in factors) - (len(factors) - 1)
    k -= sum(f.n_levels - 1 for f, nst in zip(factors, nested, strict=True) if nst)
    return int(k), nested
