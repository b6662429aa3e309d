"""Numerical kernels for two-way fixed-effects regressions: pure array functions.

No pandas, no state. The estimators in :mod:`policylab.did.twfe` and
:mod:`policylab.did.event_study` call these after validating their inputs.

The within transformation removes unit and time effects from every column of a matrix
without forming dummy matrices:

* ``"exact"`` (the default whenever the smaller factor has at most ``EXACT_MAX_LEVELS``
  levels, i.e. always for firm-year panels): by Frisch-Waugh-Lovell,
  ``M_[A,B] y = M_A y - M_A B g`` with ``g`` solving ``(B' M_A B) g = B' M_A y``. ``B' M_A B``
  is only ``L_B x L_B`` (years x years) and is built from the firms' patterns of observed
  years (:func:`cross_gram`), so the result is exact up to floating point for any
  unbalanced (even disconnected) panel.
  A complete panel stored firm by firm with the periods in the same order in every block
  (a balanced firm-year panel sorted by firm and year) takes the closed form
  ``y - unit mean - period mean + grand mean`` on ``values.reshape(firms, periods)``.
* ``"map"``: alternating projections (demean by one factor, then the other, until the
  largest change is below ``tol``), for two factors that both have very many levels.

:func:`onehot_within` transforms one-hot regressors (event-time or cohort x event-time
indicators) without an n x p matrix: after projecting out firm and period effects their
rows take one value per (firm type, period), where a firm's type is its pattern of
(period, indicator) pairs, so only those distinct rows are computed (see
:class:`OneHotWithin`).
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

    def __post_init__(self) -> None:
        counts = np.bincount(self.codes, minlength=self.n_levels).astype(np.float64)
        object.__setattr__(self, "counts", counts)

    @classmethod
    def from_codes(cls, codes: np.ndarray) -> Factor:
        """Build a factor from arbitrary integer codes (re-coded to be contiguous)."""
        inv, uniq = pd.factorize(np.asarray(codes))
        return cls(inv.astype(np.intp, copy=False), int(uniq.size))

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-level sums of the rows of ``values`` (n x p -> n_levels x p)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            return np.bincount(self.codes, weights=values, minlength=self.n_levels)
        out = np.empty((self.n_levels, values.shape[1]))
        for j in range(values.shape[1]):  # one pass per column: no n x L indicator matrix
            out[:, j] = np.bincount(self.codes, weights=values[:, j], minlength=self.n_levels)
        return out

    def means(self, values: np.ndarray) -> np.ndarray:
        """Per-level means of the rows of ``values``."""
        sums = self.sums(values)
        return sums / (self.counts if sums.ndim == 1 else self.counts[:, None])


def first_appearance_codes(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Non-negative integer codes renumbered ``0..L-1`` in order of first appearance.

    The same result as ``pandas.factorize`` (and :func:`policylab.did.core.checks.recode`) on
    such codes, without hashing: the first row of each code by one scattered write, then a
    relabelling gather unless the codes are already in that order (as codes factorized
    before and subset since usually are). Used after rows were dropped.

    Examples
    --------
    >>> first_appearance_codes(np.array([5, 2, 5, 7, 2]))[0].tolist()
    [0, 1, 0, 2, 1]
    """
    c = np.asarray(codes)
    n = c.size
    if n == 0:
        return np.zeros(0, dtype=np.intp), 0
    if _ordered_codes(c):
        return c.astype(np.intp, copy=False), int(c[-1]) + 1
    size = int(c.max()) + 1
    first = np.full(size, n, dtype=np.intp)
    first[c[::-1]] = np.arange(n - 1, -1, -1, dtype=np.intp)  # last write = first row
    present = first < n
    if present.all() and np.all(first[1:] > first[:-1]):
        return c.astype(np.intp, copy=False), size  # already 0..L-1 by first appearance
    levels = np.flatnonzero(present)
    order = levels[np.argsort(first[levels], kind="stable")]
    relabel = np.empty(size, dtype=np.intp)
    relabel[order] = np.arange(order.size, dtype=np.intp)
    return relabel[c], int(order.size)


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
    sizes = [int(c.max()) + 1 if n else 0 for c in codes]
    all_kept = True
    while True:
        changed = False
        for c, size in zip(codes, sizes, strict=True):
            # While every row is kept, count without copying the codes.
            counts = np.bincount(c if all_kept else c[keep], minlength=size)
            if not np.any(counts == 1):
                continue  # no singleton level: nothing to drop in this factor
            single = counts[c] == 1
            single &= keep
            if single.any():
                keep &= ~single
                changed = True
                all_kept = False
        if not changed:
            return keep


CHUNK = 1 << 20


def is_nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Whether every level of ``inner`` lies within one level of ``outer``.

    E.g. firms are nested in consortia when no firm changes consortium.
    """
    if inner is outer:
        return True
    # Write each row's outer label at its inner level; nested iff no row disagrees (checked
    # in chunks, stopping at the first disagreement).
    first = np.empty(int(inner.max()) + 1 if inner.size else 0, dtype=outer.dtype)
    first[inner] = outer
    for lo in range(0, inner.size, CHUNK):
        if not np.array_equal(first[inner[lo : lo + CHUNK]], outer[lo : lo + CHUNK]):
            return False
    return True


def _ordered_codes(c: np.ndarray) -> bool:
    """Whether ``c`` starts at 0 and never decreases nor skips a code (sorted codes such as
    those of a panel sorted by firm), checked in chunks."""
    if c[0] != 0:
        return False
    for lo in range(0, c.size, CHUNK):
        step = np.diff(c[lo : lo + CHUNK + 1])
        if step.size and (step.min() < 0 or step.max() > 1):
            return False
    return True


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


def cross_gram(a: Factor, b: Factor) -> np.ndarray:
    """``B' M_A B = diag(n_b) - C' diag(1/n_a) C`` with ``C`` the (L_A x L_B) count matrix.

    Built from each level of ``a``'s pattern of ``b`` levels when ``b`` has at most 52 levels
    (the pattern is then an exact float sum of distinct powers of two, and levels of ``a``
    with the same pattern contribute the same outer product), else from a sparse ``C``.
    """
    nb = b.n_levels
    if nb <= 52 and a.codes.size:
        # Within a level of ``a`` a level of ``b`` may repeat (not a panel): then the pattern
        # is not a set, so check that the count matrix is 0/1 first.
        pattern = np.bincount(a.codes, weights=np.exp2(b.codes), minlength=a.n_levels)
        inverse, keys = pd.factorize(pattern)
        per = np.bincount(inverse, minlength=keys.size)
        bits = (np.asarray(keys).astype(np.int64)[:, None] >> np.arange(nb, dtype=np.int64)) & 1
        size = bits.sum(axis=1)
        # Adding a power of two twice carries into the next bit and loses a set bit, so the
        # patterns' bit counts add up to n exactly when no (a, b) pair repeats.
        if int(size @ per) == a.codes.size:
            w = bits * np.divide(per, size, out=np.zeros(size.size), where=size > 0)[:, None]
            return np.diag(b.counts) - w.T @ bits.astype(np.float64)
    c = sp.csr_matrix((np.ones(a.codes.size), (a.codes, b.codes)), shape=(a.n_levels, nb))
    return np.diag(b.counts) - np.asarray((c.T @ sp.diags(1.0 / a.counts) @ c).todense())


RANK_RTOL = 1e-12


def _lstsq_small(a: np.ndarray, rhs: np.ndarray, *, square: bool = False) -> np.ndarray:
    """A least-squares solution of ``a g = rhs`` where the constant vector is in the null
    space of ``a`` (the columns are period effects after removing unit means).

    The first period's coefficient is fixed at 0 (``square``: also its equation, which is
    minus the sum of the others), which removes that null direction exactly; what remains
    is nonsingular for a connected panel. Further null directions (a disconnected panel)
    are cut at ``RANK_RTOL`` of the largest singular value. Fitted values ``a g`` are the
    same for every solution; without fixing one coefficient, a singular value of rounding
    size above LAPACK's default cut-off can put a huge multiple of the constant vector into
    ``g`` and cost digits in ``g[codes] - means``.
    """
    import scipy.linalg

    out = np.zeros((a.shape[1],) + rhs.shape[1:])
    if a.shape[1] < 2:
        return out
    sub, r = (a[1:, 1:], rhs[1:]) if square else (a[:, 1:], rhs)
    out[1:] = scipy.linalg.lstsq(sub, r, cond=RANK_RTOL, lapack_driver="gelsd")[0]
    return out


def balanced_layout(a: Factor, b: Factor) -> bool:
    """Whether the rows are a complete ``a`` x ``b`` panel stored level by level of ``a``
    with the levels of ``b`` in the same order in every block (e.g. a balanced firm-year
    panel sorted by firm and year): then ``values.reshape(L_a, L_b)`` lines up the data."""
    n = a.codes.size
    if n == 0 or n != a.n_levels * b.n_levels or b.n_levels < 1:
        return False
    blocks = a.codes.reshape(a.n_levels, b.n_levels)
    if not np.array_equal(blocks[:, 0], np.arange(a.n_levels)) or not np.all(
        blocks == blocks[:, :1]
    ):
        return False
    periods = b.codes.reshape(a.n_levels, b.n_levels)
    return bool(np.all(periods == periods[:1]))


def _demean_exact(y: np.ndarray, a: Factor, b: Factor, h: np.ndarray | None = None) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    out = np.empty_like(y)  # the same memory layout: every column written once
    pairs = zip(y.T, out.T) if y.ndim == 2 else [(y, out)]
    if balanced_layout(a, b):
        # Complete two-way panel: M y = y - unit mean - period mean + grand mean, exactly.
        shape = (a.n_levels, b.n_levels)
        for src, dst in pairs:
            grid = src.reshape(shape)  # views of the (possibly strided) columns
            unit_means = grid.mean(axis=1)
            period_means = grid.mean(axis=0)
            period_means -= unit_means.mean()
            target = dst.reshape(shape)
            if not np.shares_memory(target, dst):  # pragma: no cover - numpy always views
                target = np.empty(shape)
            np.subtract(grid, unit_means[:, None], out=target)
            target -= period_means
            if not np.shares_memory(target, dst):  # pragma: no cover
                dst[:] = target.ravel()
        return out
    if h is None:
        h = cross_gram(a, b)  # B' M_A B, only L_B x L_B (years x years)
    for src, col in pairs:
        # M_A y: remove the large factor's means.
        np.subtract(src, a.means(src)[a.codes], out=col)
        # H is singular (constant vector; more if the panel is disconnected). rhs = B'M_A y
        # lies in its range, so any least-squares solution gives the same fitted values.
        g = _lstsq_small(h, b.sums(col), square=True)
        fitted = g[b.codes]
        fitted -= a.means(fitted)[a.codes]
        col -= fitted  # M_A y - M_A B g
    return out


@dataclass(frozen=True)
class OneHotWithin:
    """Firm and period effects projected out of one-hot regressors, by distinct rows.

    Regressor ``j`` is ``1[cell_i = j]`` (``cell_i = -1``: all regressors 0), as event-time
    or cohort x event-time indicators. Call a unit's *type* its pattern of (period, cell)
    pairs. By Frisch-Waugh-Lovell with unit effects ``A`` and period effects ``B``,
    ``M X = M_A X - M_A B G`` with ``G`` solving ``(B' M_A B) G = B' M_A X``; the row of
    ``M_A X`` and of ``M_A B`` of an observation depends only on its unit's type and its
    period, hence so does its row of ``M X``. ``table`` holds these distinct rows; ``G``
    is the least-squares solution on them, weighted by how many observations share each.
    Nothing of size n x p is formed, and every cross product ``X' M X`` equals the
    weighted one of ``table``.
    """

    table: np.ndarray  # (R, p) distinct rows of M X
    weight: np.ndarray  # (R,) observations per row
    row: np.ndarray  # (n,) row of table per observation
    unit_type: np.ndarray  # (U,) type of each unit
    type_row: np.ndarray  # (n_types, T) row of table, -1 where the type has no observation
    cross: np.ndarray  # (T, T) B' M_A B

    def weighted(self) -> np.ndarray:
        """``table`` with rows scaled by ``sqrt(weight)``: its cross product is ``X' M X``."""
        return self.table * np.sqrt(self.weight)[:, None]

    def within(self, y: np.ndarray, unit: Factor, time: Factor) -> np.ndarray:
        """``M y`` for one vector (exact, as :func:`demean_two_way`)."""
        return _demean_exact(y, unit, time, h=self.cross)


ONEHOT_MAX_PERIODS = 64


def onehot_within(cell: np.ndarray, p: int, unit: Factor, time: Factor) -> OneHotWithin | None:
    """The within transformation of ``p`` one-hot regressors (see :class:`OneHotWithin`).

    Returns ``None`` (use the dense path) when the panel has more than
    ``ONEHOT_MAX_PERIODS`` periods, is very sparse, or a (unit, period) pair repeats.
    """
    n, n_units, n_times = cell.size, unit.n_levels, time.n_levels
    if n == 0 or n_times > ONEHOT_MAX_PERIODS or n_units * n_times > 20 * n + 1_000_000:
        return None
    # sig[u, t] = 0 if unit u is not observed in period t, else its cell + 2.
    sig = np.full(n_units * n_times, -2, dtype=np.int32)
    flat = unit.codes * n_times  # (unit, period) position of each observation
    flat += time.codes
    sig[flat] = cell
    sig += 2
    if np.count_nonzero(sig) != n:
        return None  # a (unit, period) pair repeats
    sig = sig.reshape(n_units, n_times)

    # Unit types: identical rows of sig, as one integer key per unit (renumbered before it
    # would overflow).
    radix = p + 2
    key = np.zeros(n_units, dtype=np.int64)
    bound = 1
    for t in range(n_times):
        if bound * radix >= 1 << 62:
            codes, uniq = pd.factorize(key)
            key, bound = codes.astype(np.int64), int(uniq.size)
        key *= radix
        key += sig[:, t]
        bound *= radix
    unit_type, n_types = first_appearance_codes(key) if bound <= 4 * n_units else _factorized(key)
    first = np.zeros(n_types, dtype=np.intp)
    first[unit_type[::-1]] = np.arange(n_units - 1, -1, -1, dtype=np.intp)
    tsig = sig[first]
    del sig, key  # flat is kept: it becomes the row index below
    m = np.bincount(unit_type, minlength=n_types).astype(np.float64)

    obs = tsig > 0
    inv_n = 1.0 / obs.sum(axis=1)
    counts = np.zeros((n_types, p))
    ti, tt = np.nonzero(tsig >= 2)
    np.add.at(counts, (ti, tsig[ti, tt] - 2), 1.0)
    ri, rt = np.nonzero(obs)  # the distinct rows: by type, then period
    n_rows = ri.size
    type_row = np.full((n_types, n_times), -1, dtype=np.intp)
    type_row[ri, rt] = np.arange(n_rows)
    # M_A X and M_A B on the distinct rows: indicator minus the unit's mean.
    qx = -(counts * inv_n[:, None])[ri]
    c = tsig[ri, rt] - 2
    hit = np.flatnonzero(c >= 0)
    qx[hit, c[hit]] += 1.0
    qb = -(obs * inv_n[:, None])[ri]
    qb[np.arange(n_rows), rt] += 1.0
    weight = m[ri]
    sw = np.sqrt(weight)[:, None]
    qb_w = qb * sw
    g = _lstsq_small(qb_w, qx * sw)
    table = qx - qb @ g
    row = np.take(type_row[unit_type].ravel(), flat, out=flat)  # reuses flat's memory
    return OneHotWithin(
        table=table,
        weight=weight,
        row=row,
        unit_type=unit_type,
        type_row=type_row,
        cross=qb_w.T @ qb_w,
    )


def _factorized(key: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniq = pd.factorize(key)
    return codes.astype(np.intp, copy=False), int(uniq.size)


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
