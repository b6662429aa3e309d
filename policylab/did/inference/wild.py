"""Wild cluster bootstrap, Poisson score bootstrap and the Callaway-Sant'Anna multiplier
bootstrap: inference that stays honest with few (treated) clusters.

Why. Treatment is assigned to consortia and a region has 5-15 of them; cluster-robust (CRV1)
t-tests then over-reject (studies/COVERAGE.md: 0.70-0.89 coverage of nominal 95% intervals with
3-6 treated consortia). The wild cluster *restricted* bootstrap (WCR; Cameron, Gelbach and
Miller 2008; MacKinnon and Webb 2017) imposes the null on the bootstrap data and compares
the observed CRV1 t-statistic with its bootstrap distribution.

* :func:`wild_bootstrap` -- WCR (or WCU) for ``did_2x2``, ``twfe``, ``event_study`` (any
  term or the ``avg_post`` headline), ``sun_abraham`` (overall, event-time and cohort
  terms), linear ``etwfe`` and Callaway-Sant'Anna aggregates
  (through their saturated-regression form); the Kline and Santos (2012) score bootstrap
  for Poisson ``etwfe``.
* :func:`multiplier_bootstrap` -- cluster-level multiplier bootstrap of a Callaway-Sant'Anna
  aggregate: the aggregate's influence function summed within clusters, times Webb (or
  Rademacher) multipliers.

How it is fast ("fast and wild", Roodman, MacKinnon, Nielsen and Webb 2019). For a linear
restriction ``r'b = theta0`` with ``q = (X'X)^-1 r``, the restricted residuals are affine in
``theta0`` (``u(theta0) = u0 + theta0 * u1``) and, for a vector ``v`` of cluster weights,

* bootstrap numerator ``r'b* - theta0 = sum_g v_g a_g`` with ``a_g = q' X_g' u_g``,
* bootstrap cluster scores ``S_h = v_h a_h - pa_h' w`` with ``pa_h = (X'X)^-1 X_h'X_h q``
  and ``w = sum_g v_g X_g' u_g``,

so the CRV1 variance ``sum_h S_h^2`` of a draw needs only k-vector sums over the clusters
(``w``, ``sum_g v_g a_g X_g'X_g q``) and ``sum_g v_g^2 a_g^2`` (see :func:`_t_parts`); the
numerator is affine and the variance quadratic in ``theta0``. They come from cluster-level
sums (no refit, no ``n x B`` matrix); then
``t*_b(theta0) = (N0_b + theta0 N1_b) / sqrt(c (Q0_b + 2 theta0 Q01_b + theta0^2 Q1_b))``
for any ``theta0`` at ``O(B)`` cost, which makes test inversion (the confidence interval)
cheap: the interval is the set of ``theta0`` whose bootstrap p-value exceeds ``alpha``,
found by bracketing and bisection (``p`` is a step function of ``theta0``).

Scale. Never-member firms are each their own cluster, so ``G`` grows with the comparison
pool. The cluster sums are formed in one pass over the rows from the raw sparse design
(firm effects projected out implicitly); clusters with the same columns (the never-members
observed in the same years) share a block whose repeated rows cost one column, so a draw
costs a pass over the clusters with a handful of multiply-adds each; the weights are
generated block by block (the same values as :func:`draw_weights`, never all in memory).
999 draws on 1,000,000 firms take seconds (``benchmarks/FEW_CLUSTERS.md``).

Fixed effects. Firm effects are projected out (firms are nested in the bootstrap clusters,
so the projection commutes with the cluster weights) and year effects enter as explicit
dummies: the bootstrap is then exactly the bootstrap of the full fixed-effects regression,
as pyfixest's (which one-hot encodes every fixed effect). Firms not nested in clusters (e.g.
clustering by year) are refused.

Conventions. p-values are symmetric: ``p = #{b : |t*_b| >= |t|} / B`` (ties within 1e-8
relative count as exceedances, so an exact enumeration includes the draw that reproduces the
data). When ``2**G <= B`` (Rademacher) or ``6**G <= B`` (Webb) every distinct sign vector is
enumerated once and the result says ``exact=True``: its p-value has no simulation error, but
cannot be smaller than ``2 / 2**G`` (``v`` and ``-v`` give the same ``|t*|``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...errors import DesignError, FewClustersWarning, PolicylabWarning
from ..core.checks import (
    ATT_TERM,
    DiDInputError,
    PanelInputs,
    binary_column,
    check_alpha,
    check_frame,
    codes,
    integer_valued,
    no_missing,
    normalise_cluster,
    numeric_column,
    outcome_rows,
    recode,
    renamed_keyword,
)
from .wild_dense import DENSE_CELLS, DenseDraws
from ..core.fixed_effects import Factor, fixest_dof_k, is_nested, singleton_mask
from ..results import DiDResult, FewClusterResult, GroupTimeResult

WeightKind = Literal["rademacher", "webb"]
WEIGHT_KINDS: tuple[str, ...] = ("rademacher", "webb")
#: Webb's (2014) six-point distribution: +-sqrt(1/2), +-1, +-sqrt(3/2), each with prob. 1/6.
WEBB_POINTS = np.array(
    [-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)]
)
DEFAULT_DRAWS = 9999
MIN_DRAWS = 19
_TIE = 1e-8  # relative tolerance for |t*| >= |t|
NullModel = Literal["constant_effect", "restriction"]
NULL_MODELS: tuple[str, ...] = ("constant_effect", "restriction")
WCR = "wild_cluster_restricted_bootstrap"
WCU = "wild_cluster_unrestricted_bootstrap"
SUPPORTED = ("did_2x2", "twfe", "event_study", "sun_abraham", "etwfe", "att_gt")

__all__ = [
    "DEFAULT_DRAWS",
    "WEIGHT_KINDS",
    "draw_weights",
    "multiplier_bootstrap",
    "wild_bootstrap",
]


# --------------------------------------------------------------------------- validation


def check_draws(value: object, name: str = "B") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer number of draws (e.g. 9999), got {value!r}")
    if value < MIN_DRAWS:
        raise ValueError(f"{name} must be at least {MIN_DRAWS} draws (e.g. 9999), got {value}")
    return int(value)


def check_weights(value: object) -> str:
    if not isinstance(value, str) or value not in WEIGHT_KINDS:
        raise ValueError(
            f"weights must be one of {', '.join(map(repr, WEIGHT_KINDS))}; got {value!r}"
        )
    return value


def check_seed(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"seed must be None or a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"seed must be >= 0, got {value}")
    return int(value)


def check_null(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"null must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"null must be finite, got {value!r}")
    return v


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def resolve_seed(seed: int | None) -> int:
    """``seed``, or a fresh one drawn from the OS (recorded so the run can be repeated)."""
    if seed is not None:
        return seed
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])


# --------------------------------------------------------------------------- weights


def draw_weights(
    kind: str, n_clusters: int, draws: int, seed: int | None
) -> tuple[np.ndarray, bool]:
    """Cluster weights, one row per draw: ``(V, exact)``.

    When the distribution has at most ``draws`` distinct vectors (``2**G`` Rademacher,
    ``6**G`` Webb) all of them are returned once each (``exact=True``) and ``seed`` is not
    used; otherwise ``draws`` rows are drawn with ``numpy.random.default_rng(seed)``.

    Examples
    --------
    >>> v, exact = draw_weights("rademacher", 3, 999, seed=1)
    >>> v.shape, exact
    ((8, 3), True)
    """
    kind = check_weights(kind)
    points = np.array([-1.0, 1.0]) if kind == "rademacher" else WEBB_POINTS
    if n_clusters * math.log(points.size) <= math.log(draws) + 1e-12:
        grid = np.array(list(itertools.product(range(points.size), repeat=n_clusters)))
        return points[grid.reshape(-1, n_clusters)], True
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, points.size, size=(draws, n_clusters), dtype=np.int8)
    return points[idx], False


def _lemire_codes(seed: int | None, n_points: int, rows: int, cols: int, step: int):
    """The draws of ``default_rng(seed).integers(0, n_points, (rows, cols), dtype=np.int8)``
    as ``(first_row, block)`` pairs of at most ``step`` rows, without holding all of them.

    Block entries are random *bytes* ``b``; the drawn integer is ``(b * n_points) >> 8``.
    This is numpy's algorithm for 8-bit bounded integers (Lemire's method on a stream of
    bytes, the little-endian bytes of the generator's 64-bit outputs, rejecting
    ``(b * n_points) mod 256 < 256 mod n_points``); :func:`_lemire_matches_numpy` checks it
    against ``Generator.integers`` before it is used. The block is a view of a buffer that
    the next block overwrites.
    """
    bitgen = np.random.default_rng(seed).bit_generator
    threshold = 256 % n_points
    size = min(step, rows) * cols
    buf = np.empty(size + size // 8 + 256, dtype=np.uint8)  # room for the overshoot
    carry = 0  # accepted bytes of the previous draw at the end of buf, moved to the front
    for lo in range(0, rows, step):
        need = min(step, rows - lo) * cols
        have = carry
        while have < need:
            short = need - have
            # ~3% more than needed (1.6% of Webb's bytes are rejected)
            raw = bitgen.random_raw(short // 8 + short // 256 + 16).view(np.uint8)
            if threshold:
                ok = np.multiply(raw, np.uint8(n_points)) >= threshold
                raw = raw[ok]
            buf[have : have + raw.size] = raw  # fits: at most need + need / 32 + 128
            have += raw.size
        yield lo, buf[:need].reshape(-1, cols)
        carry = have - need
        buf[:carry] = buf[need:have]


_LEMIRE_OK: bool | None = None


def _lemire_matches_numpy() -> bool:
    """Whether :func:`_lemire_codes` reproduces this numpy's ``Generator.integers``."""
    global _LEMIRE_OK
    if _LEMIRE_OK is None:
        ok = True
        for n_points in (2, 6):
            for seed, shape in ((0, (7, 333)), (12345, (50, 3)), (2**31 + 7, (1, 4099))):
                ref = np.random.default_rng(seed).integers(0, n_points, shape, dtype=np.int8)
                blocks = _lemire_codes(seed, n_points, *shape, 3)
                got = np.concatenate([b.copy() for _, b in blocks])
                ok &= np.array_equal(ref, (got.astype(np.uint16) * n_points) >> 8)
        _LEMIRE_OK = bool(ok)
    return _LEMIRE_OK


_CACHE_CODES = 1 << 25  # draws x clusters codes kept in memory (bytes) between passes


class _Draws:
    """The weights of :func:`draw_weights` (same values, same order, same seed), produced
    in blocks of draws as codes into ``table`` (``v = table[code]``), so that the
    draws x clusters matrix of weights is never held in memory."""

    def __init__(self, kind: str, n_clusters: int, draws: int, seed: int | None) -> None:
        kind = check_weights(kind)
        points = np.array([-1.0, 1.0]) if kind == "rademacher" else WEBB_POINTS
        self.g = n_clusters
        #: ``v**2 == 1`` for every weight (Rademacher)
        self.unit_square = kind == "rademacher"
        self._seed, self._npts = seed, points.size
        self._codes: np.ndarray | None = None
        if n_clusters * math.log(points.size) <= math.log(draws) + 1e-12:
            grid = itertools.product(range(points.size), repeat=n_clusters)
            self._codes = np.array(list(grid), dtype=np.uint8).reshape(-1, n_clusters)
            self.exact, self.n, self.table = True, self._codes.shape[0], points
        elif _lemire_matches_numpy():
            self.exact, self.n = False, draws
            self.table = points[(np.arange(256) * points.size) >> 8]
            if draws * n_clusters <= _CACHE_CODES:
                self._codes = np.concatenate([b.copy() for _, b in self._stream(draws)])
        else:  # pragma: no cover -- a numpy whose bounded-integer stream differs
            rng = np.random.default_rng(seed)
            idx = rng.integers(0, points.size, size=(draws, n_clusters), dtype=np.int8)
            self._codes = idx.view(np.uint8)
            self.exact, self.n, self.table = False, draws, points

    def _stream(self, step: int):
        return _lemire_codes(self._seed, self._npts, self.n, self.g, step)

    def blocks(self, step: int):
        """``(first_draw, codes)`` for consecutive blocks of at most ``step`` draws (a
        streamed block is overwritten by the next one)."""
        if self._codes is not None:
            for lo in range(0, self.n, step):
                yield lo, self._codes[lo : lo + step]
        else:
            yield from self._stream(step)

    def matrix(self) -> np.ndarray:
        """All weights, draws x clusters (small problems and tests only)."""
        return np.concatenate([self.table[c] for _, c in self.blocks(max(1, self.n))])


# --------------------------------------------------------------------------- engine


def _indicator(cluster: np.ndarray, n_clusters: int) -> sp.csr_matrix:
    """Clusters x rows indicator (built as CSC, where it is trivial, then converted; or
    directly when the rows are sorted by cluster, as firm-major panels are by firm)."""
    n = cluster.size
    if n and np.all(cluster[1:] >= cluster[:-1]):
        indptr = np.zeros(n_clusters + 1, dtype=np.int64)
        np.cumsum(np.bincount(cluster, minlength=n_clusters), out=indptr[1:])
        return _csr(np.ones(n), np.arange(n), indptr, (n_clusters, n))
    ind = sp.csc_matrix((np.ones(n), cluster, np.arange(n + 1)), shape=(n_clusters, n))
    return ind.tocsr()


def _csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape) -> sp.csr_matrix:
    """A CSR matrix from its arrays, with 32-bit indices when they fit (scipy would
    otherwise scan and copy them)."""
    if indptr[-1] < 2**31 - 1 and shape[1] < 2**31 - 1:
        indices = indices.astype(np.int32, copy=False)
        indptr = indptr.astype(np.int32, copy=False)
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def _row_of_entries(m: sp.csr_matrix) -> np.ndarray:
    """The row of each stored entry of a CSR matrix (``np.repeat(arange, counts)``,
    which is several times slower for millions of short rows)."""
    starts = np.bincount(m.indptr[1:-1], minlength=m.nnz + 1)[: m.nnz]
    return np.cumsum(starts)


def _onehot(col: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """Rows x ``n_cols`` dummies with a one in column ``col[i]`` (none where ``col < 0``),
    built directly in CSR form."""
    has = col >= 0
    dtype = np.int32 if col.size < 2**31 - 1 and n_cols < 2**31 - 1 else np.int64
    indptr = np.zeros(col.size + 1, dtype=dtype)
    np.cumsum(has, dtype=dtype, out=indptr[1:])
    indices = col[has].astype(dtype, copy=False)
    return sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(col.size, n_cols))


def _hstack_rows(mats: list[sp.csr_matrix]) -> sp.csr_matrix:
    """``scipy.sparse.hstack`` of CSR matrices, row by row (without a COO round trip)."""
    mats = [sp.csr_matrix(m) for m in mats]
    n = mats[0].shape[0]
    counts = [np.diff(m.indptr) for m in mats]
    if all(c.max(initial=0) <= 1 for c in counts) and all(np.all(m.data == 1) for m in mats):
        # dummies, at most one per row and matrix: interleave the rows' column indices
        cols = np.empty((n, len(mats)), dtype=np.int64)
        per_row = np.zeros(n, dtype=np.int64)
        offset = 0
        for j, (m, c) in enumerate(zip(mats, counts, strict=True)):
            first = m.indices[np.minimum(m.indptr[:-1], max(m.nnz - 1, 0))] if m.nnz else 0
            cols[:, j] = np.where(c > 0, first + offset, -1)
            per_row += c
            offset += m.shape[1]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(per_row, out=indptr[1:])
        indices = cols[cols >= 0]
        return _csr(np.ones(indices.size), indices, indptr, (n, offset))
    total = counts[0].astype(np.int64)
    for c in counts[1:]:
        total += c
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(total, out=indptr[1:])
    data = np.empty(int(indptr[-1]))
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    before = np.zeros(n, dtype=np.int64)  # entries of the earlier matrices in each row
    offset = 0
    for m, cnt in zip(mats, counts, strict=True):
        rows = np.flatnonzero(cnt)
        if rows.size == m.nnz:  # at most one entry per row (dummies)
            pos = indptr[rows] + before[rows]
        else:
            pos = (indptr[:-1] + before - m.indptr[:-1])[_row_of_entries(m)]
            pos += np.arange(m.nnz)
        data[pos] = m.data
        indices[pos] = m.indices + offset
        before += cnt
        offset += m.shape[1]
    return _csr(data, indices, indptr, (n, offset))


def _cluster_sums(
    x: np.ndarray | sp.spmatrix,
    z: np.ndarray,
    ind: sp.csr_matrix,
    rows: np.ndarray | None = None,
):
    """``X_g' z_g`` for every cluster ``g``: clusters x columns (sparse when ``x`` is;
    ``rows`` = :func:`_row_of_entries` of a sparse ``x``)."""
    if sp.issparse(x):
        x = sp.csr_matrix(x)
        rows = _row_of_entries(x) if rows is None else rows
        return sp.csr_matrix(ind @ _csr(x.data * z[rows], x.indices, x.indptr, x.shape))
    return np.asarray(ind @ (x * z[:, None]))


_SAME_ROWS = 1e-13  # rows of a block equal up to this (relative to the column's scale)


def _same_rows(block: np.ndarray) -> bool:
    """Every row equals the first one (up to rounding)."""
    if block.shape[0] < 2 or np.array_equal(block, np.broadcast_to(block[0], block.shape)):
        return True
    scale = np.max(np.abs(block), axis=0)
    return bool(np.all(np.abs(block - block[0]) <= _SAME_ROWS * scale))


def _dense_block(m: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``m[rows][:, cols]`` as a dense array; without scipy's column indexing when every
    selected row stores exactly ``cols`` (canonical ``m``)."""
    sub = m[rows]
    if sub.nnz == rows.size * cols.size and np.array_equal(
        sub.indices.reshape(rows.size, cols.size), np.broadcast_to(cols, (rows.size, cols.size))
    ):
        return sub.data.reshape(rows.size, cols.size).copy()
    return sub[:, cols].toarray()


@dataclass
class _Group:
    """Clusters with the same support (columns where their score rows can be non-zero),
    their rows of the per-draw sums compressed as ``u @ w``."""

    start: int  # position in the cluster order of the draws loop
    stop: int
    u: np.ndarray  # (stop - start) x r
    w: np.ndarray  # r x (2 J k): rows of the sums [w_0, .., w_J-1, m_0, .., m_J-1]


_MIN_GROUP = 64  # clusters of a support pattern rarer than this share one pooled group


def _groups(
    scores: list[sp.csr_matrix],
    lev: sp.csr_matrix,
    q: np.ndarray,
    pattern: sp.csr_matrix | None = None,
) -> tuple[np.ndarray, list[_Group]]:
    """Clusters ordered by support pattern, and each pattern's rows of
    ``[s_0, .., s_J-1, a_0 h, .., a_J-1 h]`` (``a_j = s_j q``) in compressed form.

    Within a pattern, a block whose rows are all the same vector ``c`` (e.g. the leverage
    ``h_g`` of never-member firms observed in the same years, or their scores under the
    constant-effect null, which do not depend on the firm) needs one column (ones) instead
    of one per support column; and with equal ``h_g`` the block ``a_j h`` needs no column of
    its own (``sum_g v_g a_j,g = (sum_g v_g s_j,g)'q``). Rows without support are left out
    (they add nothing to any draw); patterns with fewer than ``_MIN_GROUP`` clusters are
    pooled on the union of their columns. ``pattern``: clusters x columns whose non-zeros
    include those of every block (default: their union).
    """
    nres, k = len(scores), lev.shape[1]
    for m in (*scores, lev):
        m.sum_duplicates()  # canonical: sorted column indices, no duplicates
    if pattern is None:
        pattern = abs(lev)
        for s in scores:
            pattern = pattern + abs(s)
        pattern = sp.csr_matrix(pattern)
        pattern.eliminate_zeros()
    pattern.sum_duplicates()
    hashes = np.random.default_rng(0x5EED).integers(1, 2**63, size=k, dtype=np.uint64)
    cum = np.zeros(pattern.nnz + 1, dtype=np.uint64)
    np.cumsum(hashes[pattern.indices], out=cum[1:])
    key = cum[pattern.indptr[1:]] - cum[pattern.indptr[:-1]]  # sum of column hashes
    rows = np.flatnonzero(np.diff(pattern.indptr) > 0)
    if rows.size == 0:
        return rows, []
    _, inv, counts = np.unique(key[rows], return_inverse=True, return_counts=True)
    inv = inv.ravel()
    label = np.where(counts[inv] >= _MIN_GROUP, inv, -1)  # -1: pooled
    by_label = np.argsort(label, kind="stable")
    order = rows[by_label]
    labels = label[by_label]
    cuts = np.flatnonzero(np.diff(labels)) + 1
    width = 2 * nres * k
    groups = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, order.size], strict=True):
        idx = order[lo:hi]
        sub = pattern[idx]
        cols = np.flatnonzero(np.bincount(sub.indices, minlength=k))
        u_cols: list[np.ndarray] = []
        w_rows: list[np.ndarray] = []
        ones = np.zeros(width)
        hb = _dense_block(lev, idx, cols)
        same_h = _same_rows(hb)

        def place(vals: np.ndarray, block: int, _cols: np.ndarray = cols) -> np.ndarray:
            row = np.zeros(width)
            row[block * k + _cols] = vals
            return row

        for j, s in enumerate(scores):
            sb = _dense_block(s, idx, cols)
            if _same_rows(sb):
                # s_j,g = c for all: w_j gets c sum v; a_j,g = c'q, so m_j gets (c'q) h sum v
                ones += place(sb[0], j)
                if same_h:
                    ones += place(float(sb[0] @ q[cols]) * hb[0], nres + j)
                    continue
            else:
                u_cols.append(sb)
                for e, qc in zip(np.eye(cols.size), q[cols], strict=True):
                    row = place(e, j)
                    if same_h:  # a_j,g h = (s_j,g'q) h: the same columns carry it
                        row += place(qc * hb[0], nres + j)
                    w_rows.append(row)
                if same_h:
                    continue
            # h differs between the group's clusters: one column per support column
            a_j = sb @ q[cols]
            u_cols.append(hb * a_j[:, None])
            w_rows += [place(e, nres + j) for e in np.eye(cols.size)]
        if np.any(ones):
            u_cols.append(np.ones((idx.size, 1)))
            w_rows.append(ones)
        if not u_cols:
            continue
        groups.append(_Group(int(lo), int(hi), np.column_stack(u_cols), np.array(w_rows)))
    return order, groups


_BLAS_SMALL = 1 << 18  # m*n*k of a matrix product OpenBLAS runs on one thread
_CODES = 1 << 25  # codes (bytes) of one block of draws


def _small_matmul_rows(n_inner: int, n_out: int, n_rows: int) -> int:
    """Rows of the left factor per product so that it stays below ``_BLAS_SMALL``: on a
    busy 2-core machine OpenBLAS's threads (which spin after each call) make a loop of
    larger products interleaved with numpy work 5-20x slower in wall time."""
    return max(16, min(n_rows, _BLAS_SMALL // max(1, n_inner * n_out) - 1))


def _weighted_sums(
    order: np.ndarray,
    groups: list[_Group],
    m2: np.ndarray | None,
    draws: _Draws,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(sum_g v_bg u_g w, sum_g v_bg**2 m2_g)`` over the clusters in ``order`` for every
    draw ``b``, in one pass over the clusters per block of draws.

    The weights are generated block by block (:class:`_Draws`) and multiplied with each
    group's compressed rows (BLAS products kept small, see :func:`_small_matmul_rows`).
    The largest group (the never-member singletons) is multiplied in the clusters' own
    order, with zero rows for the other clusters; the others are gathered.
    """
    n_draws, n_cl = draws.n, draws.g
    width = groups[0].w.shape[1] if groups else 0
    n_sq = m2.shape[1] if m2 is not None else 0
    sq = np.zeros((n_draws, n_sq)) if m2 is not None else None
    acc = [np.zeros((n_draws, grp.u.shape[1])) for grp in groups]
    # (columns of the draws' codes or None = all clusters in order, rows of u, of m2)
    plans = []
    sizes = [grp.stop - grp.start for grp in groups]
    big = int(np.argmax(sizes)) if groups else -1
    for i, grp in enumerate(groups):
        idx = order[grp.start : grp.stop]
        if i == big and 2 * idx.size >= n_cl:
            u = np.zeros((n_cl, grp.u.shape[1]))
            u[idx] = grp.u
            m2g = None
            if m2 is not None:
                m2g = np.zeros((n_cl, n_sq))
                m2g[idx] = m2[idx]
            plans.append((None, u, m2g))
        else:
            plans.append((idx, grp.u, None if m2 is None else m2[idx]))
    step = max(4, min(n_draws, 64, _CODES // max(n_cl, 1)))
    table = draws.table
    vbuf = np.empty(_BLAS_SMALL // 2)
    for lo, codes in draws.blocks(step):
        hi = lo + codes.shape[0]
        nb = codes.shape[0]
        for (cols, u, m2g), out in zip(plans, acc, strict=True):
            sub = codes if cols is None else np.take(codes, cols, axis=1)
            total_cols = sub.shape[1]
            cw = min(_small_matmul_rows(nb, u.shape[1] + n_sq, total_cols), vbuf.size // nb)
            o = out[lo:hi]
            s = sq[lo:hi] if sq is not None else None
            for a in range(0, total_cols, cw):
                b = min(a + cw, total_cols)
                v = vbuf[: nb * (b - a)].reshape(nb, b - a)
                np.take(table, sub[:, a:b], out=v, mode="clip")
                o += v @ u[a:b]
                if s is not None:
                    np.multiply(v, v, out=v)
                    s += v @ m2g[a:b]
    total = np.zeros((n_draws, width))
    for grp, out in zip(groups, acc, strict=True):
        total += out @ grp.w
    return total, sq


_PIECES = ("n0", "n1", "q0", "q01", "q1")  # the per-row arrays of _TParts


@dataclass(frozen=True)
class _TParts:
    """Per-draw pieces of ``t*_b(theta0)``: numerator ``N0 + theta0 N1`` and squared score
    norm ``Q0 + 2 theta0 Q01 + theta0^2 Q1`` (``N1 = Q01 = Q1 = 0`` when the residuals do not
    depend on ``theta0``)."""

    n0: np.ndarray
    n1: np.ndarray
    q0: np.ndarray
    q01: np.ndarray
    q1: np.ndarray
    ssc: float
    #: rows per independent draw (the sign patterns of :mod:`.wild_dense`; 1 = plain draws)
    group: int = 1
    #: ``more(draws, start)``: the pieces of ``draws`` from ``start`` on, when the set-up is
    #: kept (dense path); else None
    more: Callable[[Any, int], _TParts] | None = field(default=None, repr=False, compare=False)

    def rows(self, which: Any) -> _TParts:
        """The pieces of the rows ``which`` (a slice or a boolean mask); the rest as is."""
        return dataclasses.replace(self, **{f: getattr(self, f)[which] for f in _PIECES})

    def tstats(self, theta: np.ndarray) -> np.ndarray:
        """``draws x len(theta)`` bootstrap t statistics."""
        th = np.asarray(theta, dtype=np.float64)[None, :]
        num = self.n0[:, None] + th * self.n1[:, None]
        den = self.q0[:, None] + 2.0 * th * self.q01[:, None] + th * th * self.q1[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(self.ssc * np.clip(den, 0.0, None))


#: Plain draws (no sign enumeration) on the dense path too. Off: they keep the cluster-sum
#: path and its rounding, which matters only for fits whose residuals are rounding noise.
DENSE_PLAIN = False


def _dense_parts(dense: DenseDraws, ssc: float, draws: _Draws, start: int = 0) -> _TParts:
    """:class:`_TParts` of ``draws`` (from ``start`` on) on the dense path; ``more`` computes
    further draws of the same problem."""
    nums, quads = dense.pieces(draws, start)
    zero = np.zeros_like(nums[0])
    nq = (nums[0], zero, quads[0], zero, zero) if dense.nres == 1 else (*nums, *quads)
    return _TParts(*nq, ssc=ssc, group=dense.patterns,
                   more=lambda d, s: _dense_parts(dense, ssc, d, s))


class _Exceedance:
    """Which rows of :class:`_TParts` have ``|t*_b(theta0)| >= |t(theta0)|`` (ties within
    ``_TIE``) for the restricted bootstrap, with ``t(theta0) = (estimate - theta0) / se``.

    The same floating-point operations as ``tstats`` and :func:`_pvalues` (so the same
    p-values to the last bit, degenerate fits included), one null value at a time on
    preallocated vectors that stay in cache: test inversion asks for a p-value at ~150 null
    values of up to millions of rows.
    """

    def __init__(self, parts: _TParts, estimate: float, se: float, *,
                 fixed: int = 0, total: int | None = None) -> None:
        self.parts, self.estimate, self.se = parts, estimate, se
        n = parts.n0.size
        self._num, self._den, self._tmp = np.empty(n), np.empty(n), np.empty(n)
        self._hit = np.empty(n, dtype=bool)
        # rows left out (within) that exceed throughout, and the count p is a share of
        self.fixed, self.total = fixed, n if total is None else total

    def _one(self, theta0: float) -> np.ndarray:
        th = np.float64(theta0)
        d = th - np.float64(self.estimate)
        pt, num, den, tmp = self.parts, self._num, self._den, self._tmp
        np.multiply(d, pt.n1, out=num)
        np.add(pt.n0, num, out=num)  # n0 + d n1
        np.multiply(2.0 * d, pt.q01, out=tmp)
        np.add(pt.q0, tmp, out=den)
        np.multiply(d * d, pt.q1, out=tmp)
        den += tmp  # q0 + 2 d q01 + d^2 q1
        np.maximum(den, 0.0, out=den)
        np.multiply(pt.ssc, den, out=den)
        np.sqrt(den, out=den)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(num, den, out=num)
        np.abs(num, out=num)
        thr = abs((np.float64(self.estimate) - th) / self.se) * (1.0 - _TIE)
        return np.greater_equal(num, thr, out=self._hit)

    def __call__(self, theta0: np.ndarray) -> np.ndarray:
        """Bootstrap p-value at each null value."""
        return np.array([(self.fixed + np.count_nonzero(self._one(t))) / self.total
                         for t in np.atleast_1d(theta0)])

    def within(self, a: float, b: float) -> _Exceedance:
        """The p-value function for null values between ``a`` and ``b`` (one cell of the
        inversion's grid), evaluating only the rows whose comparison differs at ``a`` and
        ``b``; the others are taken to keep it in between."""
        at_a = self._one(a).copy()
        at_b = self._one(b)
        active = at_a != at_b
        return _Exceedance(self.parts.rows(active), self.estimate, self.se, total=self.total,
                           fixed=self.fixed + int(np.count_nonzero(at_a & at_b)))

    def draw_sd(self, theta0: np.ndarray) -> np.ndarray:
        """Monte Carlo standard error of the p-value at each null value when each
        independent draw is ``parts.group`` consecutive rows (its sign patterns)."""
        return np.array([_share_sd(self._one(t)[:, None], self.parts.group)[0]
                         for t in np.atleast_1d(theta0)])


def _t_parts(
    scores: list[np.ndarray | sp.spmatrix],
    lev: np.ndarray | sp.spmatrix,
    a_inv: np.ndarray,
    q: np.ndarray,
    draws: _Draws,
    ssc: float,
    pattern: sp.csr_matrix | None = None,
    signs: int = 0,
    start: int = 0,
) -> _TParts:
    """Bootstrap-t pieces for residuals ``u0 + theta0 * u1`` (one or two vectors).

    ``scores[j]`` are the cluster score sums ``s_g = X_g'u_j,g`` (clusters x k), ``lev`` the
    clusters' ``h_g = X_g'X_g q``, ``a_inv = (X'X)^-1`` and ``q = a_inv r``; ``pattern``
    (optional) has a non-zero wherever a cluster's rows of the design have one.

    In draw ``v`` the bootstrap score of cluster ``g`` is ``S_g = v_g a_g - pa_g'w`` with
    ``a_g = s_g'q``, ``pa_g = a_inv h_g`` and ``w = sum_h v_h s_h``. So, with
    ``m_j = sum_g v_g a_j,g h_g`` and ``P = sum_g pa_g pa_g'``,

    * ``N_j = sum_g v_g a_j,g = w_j'q``,
    * ``sum_g S_j,g S_l,g = sum_g v_g^2 a_j,g a_l,g - w_l'a_inv m_j - w_j'a_inv m_l
      + w_j'P w_l``:

    each draw needs the k-vectors ``w_j``, ``m_j`` and the ``v^2``-weighted sums of
    ``a_j a_l`` (:func:`_weighted_sums`), not a clusters x k product per draw.
    """
    scores = [sp.csr_matrix(s) for s in scores]
    lev = sp.csr_matrix(lev)
    k = a_inv.shape[0]
    nres = len(scores)
    a = [np.asarray(s @ q).ravel() for s in scores]
    pairs = [(j, l) for j in range(nres) for l in range(j, nres)]
    prods = np.column_stack([a[j] * a[l] for j, l in pairs])
    if draws.g * 2 * nres * k <= DENSE_CELLS and (DENSE_PLAIN or (signs and not draws.exact)):
        dense = DenseDraws(scores, lev, a, a_inv, q, pairs, prods,
                           0 if draws.exact else signs, draws.g)
        return _dense_parts(dense, ssc, draws, start)
    order, groups = _groups(scores, lev, q, pattern)
    total, sq = _weighted_sums(order, groups, None if draws.unit_square else prods, draws)
    if total.shape[1] == 0:
        total = np.zeros((draws.n, 2 * nres * k))
    if sq is None:
        sq = np.broadcast_to(prods.sum(axis=0), (draws.n, len(pairs)))
    pa_gram = a_inv @ np.asarray((lev.T @ lev).todense()) @ a_inv
    w = [total[:, j * k : (j + 1) * k] for j in range(nres)]
    mj = [total[:, (nres + j) * k : (nres + j + 1) * k] @ a_inv for j in range(nres)]
    n = [wj @ q for wj in w]

    def quad(j: int, l: int) -> np.ndarray:
        d = sq[:, pairs.index((j, l))]
        cross = np.einsum("ij,ij->i", w[l], mj[j]) + np.einsum("ij,ij->i", w[j], mj[l])
        return d - cross + np.einsum("ij,ij->i", w[j] @ pa_gram, w[l])

    zero = np.zeros(draws.n)
    if nres == 1:
        out = _TParts(n0=n[0], n1=zero, q0=quad(0, 0), q01=zero, q1=zero, ssc=ssc)
    else:
        out = _TParts(n0=n[0], n1=n[1], q0=quad(0, 0), q01=quad(0, 1), q1=quad(1, 1), ssc=ssc)
    # draws from ``start`` on (computed from the first: the path for many clusters)
    return out.rows(slice(start, None)) if start else out


def _exceed(t_star: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
    """``|t*| >= |t|`` (ties within ``_TIE``), draws x m."""
    thr = np.abs(t_obs) * (1.0 - _TIE)
    return np.abs(t_star) >= thr[None, :]


def _pvalues(t_star: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
    """Symmetric bootstrap p-values, one per column of ``t_star`` (draws x m)."""
    return np.mean(_exceed(t_star, t_obs), axis=0)


def _share_sd(hit: np.ndarray, group: int) -> np.ndarray:
    """Monte Carlo standard error of the share of ``hit`` (rows x m) when each independent
    draw is ``group`` consecutive rows (its sign patterns): the spread of the draws' own
    shares over the square root of their number."""
    share = hit.reshape(-1, group, hit.shape[1]).mean(axis=1)
    return share.std(axis=0, ddof=1) / math.sqrt(share.shape[0])


def _grouped_sd(t_star: np.ndarray, t_obs: np.ndarray, group: int) -> np.ndarray:
    """:func:`_share_sd` of :func:`_pvalues`' exceedances."""
    return _share_sd(_exceed(t_star, t_obs), group)


def invert_test(
    pvalue: Callable[[np.ndarray], np.ndarray],
    center: float,
    scale: float,
    alpha: float,
    *,
    max_doublings: int = 30,
    grid: int = 48,
    rel_tol: float = 1e-7,
    near: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> tuple[float, float, list[str]]:
    """Confidence interval ``{theta : p(theta) > alpha}`` of a test whose p-value is a step
    function of the null value ``theta`` (with ``p(center) > alpha``).

    On each side: double the distance from ``center`` until ``p <= alpha`` (else the bound is
    infinite), scan a grid for the outermost accepted point, and bisect to the jump. If the
    accepted set is not connected, the interval is its hull and a note says so.

    ``near`` (``((low, h), (high, h))``, e.g. the bounds from fewer draws of the same
    bootstrap and a few of their Monte Carlo errors): on a side whose window
    ``bound -+ h`` has an accepted inner and a rejected outer end, only that window is
    searched (bisection on the rows that change between its ends, for a ``pvalue`` with
    ``within``; else a grid of 8 first); otherwise the side is searched from ``center``.
    """
    notes: list[str] = []
    bounds = []
    scale = scale if (math.isfinite(scale) and scale > 0) else max(abs(center), 1.0)
    for i, side in enumerate((-1.0, 1.0)):
        pts = None
        if near is not None:
            b0, h = near[i]
            if math.isfinite(b0) and math.isfinite(h) and h > 0 and side * (b0 - center) > 0:
                inner = b0 - side * h if side * (b0 - side * h - center) > 0 else center
                outer = b0 + side * h
                ends = pvalue(np.array([inner, outer]))
                if (inner == center or ends[0] > alpha) and ends[1] <= alpha:
                    # bisection straight away when only the rows that change between the
                    # window's ends are evaluated (see _Exceedance.within), else a grid
                    pts = (np.array([inner, outer]) if hasattr(pvalue, "within") else
                           np.linspace(inner, outer, 9))
        if pts is None:
            d = scale
            rejected = False
            for _ in range(max_doublings):
                if pvalue(np.array([center + side * d]))[0] <= alpha:
                    rejected = True
                    break
                d *= 2.0
            if not rejected:
                bounds.append(side * math.inf)
                continue
            pts = center + side * np.linspace(0.0, d, grid + 1)
        acc = (np.array([True, False]) if pts.size == 2 else pvalue(pts) > alpha)
        acc[0] = True
        last = int(np.flatnonzero(acc).max())
        if not acc[: last + 1].all():
            notes.append(
                "the set of null values the bootstrap test does not reject is not an "
                "interval; the reported interval is its hull"
            )
        inside, outside = pts[last], pts[last + 1]
        cell = pvalue.within(inside, outside) if hasattr(pvalue, "within") else pvalue
        while abs(outside - inside) > rel_tol * scale:
            mid = 0.5 * (inside + outside)
            if mid in (inside, outside):  # far out, floats are coarser than the tolerance
                break
            if cell(np.array([mid]))[0] > alpha:
                inside = mid
            else:
                outside = mid
        bounds.append(0.5 * (inside + outside))
    return bounds[0], bounds[1], notes


def monte_carlo_error(
    pvalue: Callable[[np.ndarray], np.ndarray],
    p: float,
    low: float,
    high: float,
    alpha: float,
    draws: int,
    exact: bool,
    window: float = 0.05,
    p_sd: Callable[[np.ndarray], np.ndarray] | None = None,
    null: float | None = None,
) -> dict[str, float]:
    """Monte Carlo standard errors of a bootstrap p-value and of its test-inversion bounds.

    The p-value is a share of ``draws`` independent draws: ``sqrt(p (1 - p) / draws)``, or
    ``p_sd(theta)`` when given (draws with enumerated sign patterns: the spread of the draws'
    own shares; then ``null`` is where ``p`` was computed). A bound ``b`` solves
    ``p(b) = alpha``, so (delta method, as for a sample quantile) its error is that of ``p``
    at the bound (``sqrt(alpha (1 - alpha) / draws)`` or ``p_sd(b)``), divided by the
    slope of the p-value function there; the slope is the secant of the estimated p-value
    over ``b -+ window * (high - low)`` (the p-value is a step function: a secant over many
    steps, not a derivative). Zero when ``exact`` (every draw enumerated); NaN for a bound
    that is infinite or not computed.
    """
    if exact:
        sd_null = 0.0
    elif p_sd is not None and null is not None:
        sd_null = float(p_sd(np.array([null]))[0])
    else:
        sd_null = math.sqrt(max(p * (1.0 - p), 0.0) / draws)
    out = {"p_value": sd_null, "conf_low": math.nan, "conf_high": math.nan}
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        return out
    h = window * (high - low)
    for name, b in (("conf_low", low), ("conf_high", high)):
        if exact:
            sd_p = 0.0
        elif p_sd is not None:
            sd_p = float(p_sd(np.array([b]))[0])
        else:
            sd_p = math.sqrt(alpha * (1.0 - alpha) / draws)
        pa, pb = pvalue(np.array([b - h, b + h]))
        slope = abs(float(pb) - float(pa)) / (2.0 * h)
        out[name] = sd_p / slope if slope > 0 else math.inf
    return out


MAX_DRAWS = 299_999  # most draws the Monte Carlo target may ask for
_MAX_ROWS = 4_000_000  # most draws x sign patterns held (five float64 pieces per row)


def draws_for_target(
    mc: dict[str, float], low: float, high: float, draws: int, target: float,
    cap: float = MAX_DRAWS,
) -> int:
    """Draws for which the Monte Carlo standard error of each finite bound (``mc``, from
    :func:`monte_carlo_error`) is at most ``target`` of the interval's width: it shrinks as
    ``1 / sqrt(draws)``, so ``draws * 1.2 * (error / (target * width))**2`` (20% margin: the
    error is itself estimated), rounded up to thousands minus one, at most ``cap``; ``draws``
    when met or when no bound is finite."""
    width = high - low
    if not (math.isfinite(width) and width > 0):
        return draws
    errs = [mc.get(k, math.nan) for k in ("conf_low", "conf_high")]
    if any(e == math.inf for e in errs):
        return int(cap) if math.isfinite(cap) else draws + 1
    worst = max((e for e in errs if math.isfinite(e)), default=0.0)
    ratio = worst / (target * width)
    if ratio <= 1.0:
        return draws
    want = draws * 1.2 * ratio * ratio
    return int(min(cap, math.ceil((want + 1) / 1000.0) * 1000 - 1))


_PILOT_DRAWS = 99  # draws of the pilot interval that starts the search (sign-enumerated)


def _concat_parts(a: _TParts, b: _TParts) -> _TParts:
    """The pieces of ``a``'s draws followed by ``b``'s (same problem, same sign patterns)."""
    return dataclasses.replace(a, **{f: np.concatenate([getattr(a, f), getattr(b, f)])
                                     for f in _PIECES})


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class LinearProblem:
    """An OLS problem ``y = X b + u`` and the tested combination ``r'b``; clusters coded
    ``0..G-1``.

    ``x`` is dense or scipy-sparse. With ``absorb`` (firm codes ``0..F-1``, firms nested in
    the clusters) ``y``, ``x`` and the null model are the raw data and the firm effects are
    projected out (``X = M x`` with ``M`` the within-firm demeaning) without forming the
    demeaned design; without it the fixed effects are already handled."""

    y: np.ndarray
    x: np.ndarray | sp.spmatrix
    cluster: np.ndarray
    r: np.ndarray
    ssc: float
    treated_clusters: int
    #: ``(Z, d)``: the restricted model ``y - theta0 * d = Z c + u`` (same rows and space as
    #: ``x``), when the null imposed on the bootstrap data is not just ``r'b = theta0``.
    null_model: tuple[np.ndarray | sp.spmatrix, np.ndarray] | None = None
    absorb: np.ndarray | None = None
    #: ``X'X`` of the (demeaned) design, when the builder computed it already.
    xtx: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1


def _dense_cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a' b`` for tall dense ``a``, ``b``, in row blocks that OpenBLAS runs on one thread
    (see :func:`_small_matmul_rows`)."""
    n = a.shape[0]
    rows = _small_matmul_rows(a.shape[1], b.shape[1], n)
    out = np.zeros((a.shape[1], b.shape[1]))
    for lo in range(0, n, rows):
        out += a[lo : lo + rows].T @ b[lo : lo + rows]
    return out


def _sparse_gram(x: sp.csr_matrix) -> np.ndarray:
    """``x'x`` (dense) of a CSR matrix; by pairs of entries when rows hold at most two (the
    dummy designs: a treatment or event-time indicator and a year)."""
    x.sum_duplicates()
    per_row = np.diff(x.indptr)
    if per_row.max(initial=0) > 2:
        return np.asarray((x.T @ x).todense())
    k = x.shape[1]
    idx = x.indices.astype(np.int64)
    out = np.diag(np.bincount(idx, weights=x.data * x.data, minlength=k))
    first = x.indptr[:-1][per_row == 2]
    if first.size:
        pair = np.bincount(
            idx[first] * k + idx[first + 1],
            weights=x.data[first] * x.data[first + 1],
            minlength=k * k,
        ).reshape(k, k)
        out = out + pair + pair.T
    return out


def _weighted_gram(s: np.ndarray | sp.spmatrix, w: np.ndarray) -> np.ndarray:
    """``s' diag(w) s`` (dense): by row blocks made dense when ``s`` is not very sparse
    (small BLAS products), else as a sparse product."""
    if sp.issparse(s) and s.nnz < 0.05 * s.shape[0] * s.shape[1]:
        return np.asarray((s.T @ sp.diags(w) @ s).todense())
    s = sp.csr_matrix(s) if sp.issparse(s) else s
    out = np.zeros((s.shape[1], s.shape[1]))
    step = max(1, (1 << 20) // max(1, s.shape[1]))
    for lo in range(0, s.shape[0], step):
        blk = s[lo : lo + step]
        blk = blk.toarray() if sp.issparse(blk) else blk
        out += _dense_cross(blk, blk * w[lo : lo + step, None])
    return out


class _Within:
    """Within-firm demeaning ``M`` by firm codes, and ``X'X = x'M x`` from the raw ``x``."""

    def __init__(self, codes: np.ndarray | None) -> None:
        self.codes = codes
        if codes is not None:
            self.counts = np.bincount(codes).astype(np.float64)
            self._ind: sp.csr_matrix | None = None

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """``M v`` for a vector."""
        if self.codes is None:
            return v
        means = np.bincount(self.codes, weights=v, minlength=self.counts.size) / self.counts
        return v - means[self.codes]

    def gram(self, x: np.ndarray | sp.spmatrix) -> np.ndarray:
        """``X'X`` for ``X = M x`` (dense): ``x'x - S' diag(1/n_f) S`` with ``S`` the
        firms' column sums of ``x``."""
        if sp.issparse(x):
            x = sp.csr_matrix(x)
            out = _sparse_gram(x)
        else:
            out = _dense_cross(x, x)
        if self.codes is not None:
            if self._ind is None:
                self._ind = _indicator(self.codes, self.counts.size)
            out = out - _weighted_gram(self._ind @ x, 1.0 / self.counts)
        return out


def _solve_null_model(
    z: np.ndarray | sp.spmatrix, rhs: list[np.ndarray], within: _Within
) -> list[np.ndarray]:
    """Residuals of each vector of ``rhs`` (already demeaned) on ``M z``: least squares by
    the normal equations for a sparse or absorbed ``z`` (its few columns are well
    conditioned: year and cohort dummies), else by ``lstsq``."""
    if within.codes is None and not sp.issparse(z):
        coef, *_ = np.linalg.lstsq(z, np.column_stack(rhs), rcond=None)
        return [v - z @ c for v, c in zip(rhs, coef.T, strict=True)]
    zty = np.column_stack([np.asarray(z.T @ v) for v in rhs])
    coef, *_ = np.linalg.lstsq(within.gram(z), zty, rcond=None)
    return [v - within(np.asarray(z @ c)) for v, c in zip(rhs, coef.T, strict=True)]


def linear_wild(
    prob: LinearProblem,
    *,
    draws: int,
    weights: str,
    seed: int | None,
    null: float,
    impose_null: bool,
    alpha: float,
    conf_int: bool = True,
    signs: int = 0,
    mc_target: float | None = None,
    max_draws: int | None = None,
) -> dict[str, Any]:
    """The array-level wild cluster bootstrap (used by :func:`wild_bootstrap` and by the
    coverage study). Returns the numbers of a :class:`FewClusterResult`.

    Everything a draw needs is a cluster-level sum (see :func:`_t_parts`); its cost is one
    pass over the rows (sparse products) plus, per draw, a pass over the clusters.
    ``signs``: enumerate the signs of that many most influential clusters in each draw
    (:mod:`.wild_dense`; problems with up to a few thousand clusters, else plain draws).
    ``mc_target``: add draws (the same stream continued) until each bound's Monte Carlo
    standard error is at most that share of the interval's width (:func:`draws_for_target`,
    checked after each addition, at most two additions and ``max_draws`` draws)."""
    x, r = prob.x, prob.r
    within = _Within(prob.absorb)
    y = within(prob.y)
    a_inv = np.linalg.inv(within.gram(x) if prob.xtx is None else prob.xtx)
    a_inv = (a_inv + a_inv.T) / 2.0
    beta = a_inv @ np.asarray(x.T @ y)
    u = y - within(np.asarray(x @ beta))
    q = a_inv @ r
    rq = float(r @ q)
    theta = float(r @ beta)
    xq = within(np.asarray(x @ q))
    g = prob.n_clusters
    # CRV1 scores of r'b: a_g = q'X_g'u_g = sum over the cluster's rows of (Xq)_i u_i
    a_hat = np.bincount(prob.cluster, weights=xq * u, minlength=g)
    se = math.sqrt(prob.ssc * float(a_hat @ a_hat))
    v = _Draws(weights, g, draws, seed)
    exact = v.exact
    ind = _indicator(prob.cluster, g)
    rows = _row_of_entries(sp.csr_matrix(x)) if sp.issparse(x) else None

    def csum(z: np.ndarray):
        return _cluster_sums(x, z, ind, rows)

    lev = csum(xq)  # h_g = X_g'X_g q
    # Restricted residuals as u(theta0) = u0 + (theta0 - estimate) * u1: centred on the
    # estimate, so that far-away nulls do not magnify rounding errors. Their cluster
    # scores are affine in theta0 as well: scores[0] + (theta0 - estimate) * scores[1].
    if impose_null and prob.null_model is not None:
        z, d = prob.null_model
        mz = _solve_null_model(z, [y, within(d)], within)
        s_y, s_d = (csum(m) for m in mz)
        scores = [s_y - theta * s_d, -s_d]
    elif impose_null:
        scores = [csum(u), lev * (-1.0 / rq)]  # u1 = -Xq / r'q
    else:
        scores = [csum(u)]
    pattern = None
    if sp.issparse(x):  # the columns each cluster's rows use: a superset of every block's
        xs = sp.csr_matrix(x)
        pattern = sp.csr_matrix(ind @ _csr(np.ones(xs.nnz), xs.indices, xs.indptr, xs.shape))
    signs = 0 if exact else signs
    parts = _t_parts(scores, lev, a_inv, q, v, prob.ssc, pattern, signs=signs)

    def t_obs(th: np.ndarray) -> np.ndarray:
        return (theta - np.asarray(th, dtype=np.float64)) / se

    def pvalue_functions(parts: _TParts):
        """``(p(theta0), Monte Carlo error of p(theta0) or None)`` of these draws."""
        if impose_null and se > 0:
            pfun = _Exceedance(parts, theta, se)
            return pfun, (pfun.draw_sd if parts.group > 1 else None)
        if impose_null:

            def pfun(th: np.ndarray) -> np.ndarray:
                th = np.asarray(th, dtype=np.float64)
                return _pvalues(parts.tstats(th - theta), t_obs(th))

            return pfun, None
        t_star = parts.tstats(np.zeros(1))

        def t_at(th: np.ndarray) -> np.ndarray:
            return np.broadcast_to(t_star, (t_star.shape[0], np.size(th)))

        def pfun(th: np.ndarray) -> np.ndarray:
            return _pvalues(t_at(th), t_obs(th))

        def p_sd(th: np.ndarray) -> np.ndarray:
            return _grouped_sd(t_at(th), t_obs(th), parts.group)

        return pfun, (p_sd if parts.group > 1 else None)

    n_draws, near, met = int(v.n), None, None
    if conf_int and se > 0 and not exact and (parts.group > 1 or mc_target is not None) \
            and n_draws >= 4 * _PILOT_DRAWS:
        # a pilot: the interval from the first draws only, whose bounds (-+ 5 of their Monte
        # Carlo errors) are where the search for the bounds of all draws starts
        pilot = parts.rows(slice(0, _PILOT_DRAWS * parts.group))
        pfun, p_sd = pvalue_functions(pilot)
        lo, hi, _ = invert_test(pfun, theta, se, alpha)
        mc = monte_carlo_error(pfun, float(pfun(np.array([null]))[0]), lo, hi, alpha,
                               _PILOT_DRAWS, exact, p_sd=p_sd, null=null)
        near = tuple((b, 5.0 * mc[k]) for b, k in ((lo, "conf_low"), (hi, "conf_high")))
    for added in range(3):  # the draws asked for, then (mc_target) up to two additions
        pfun, p_sd = pvalue_functions(parts)
        p = float(pfun(np.array([null]))[0])
        lo = hi = math.nan
        notes: list[str] = []
        if conf_int and se > 0:
            if exact and 2.0 / v.n > alpha:
                # v and -v = (1, ..., 1) reproduce |t| at every null: p >= 2 / #draws > alpha
                lo, hi = -math.inf, math.inf
            else:
                lo, hi, notes = invert_test(pfun, theta, se, alpha, near=near)
        mc = monte_carlo_error(pfun, p, lo, hi, alpha, n_draws, exact, p_sd=p_sd, null=null)
        if mc_target is None or exact:
            break
        cap = max(n_draws, min(max_draws or MAX_DRAWS, _MAX_ROWS // parts.group))
        needed = draws_for_target(mc, lo, hi, n_draws, mc_target, cap)
        met = draws_for_target(mc, lo, hi, n_draws, mc_target, math.inf) <= n_draws
        if needed <= n_draws or added == 2:
            break
        # the same stream continued: the first n_draws draws are those already used
        extended = _Draws(weights, g, needed, seed)
        more = (parts.more(extended, n_draws) if parts.more is not None else
                _t_parts(scores, lev, a_inv, q, extended, prob.ssc, pattern, signs=signs,
                         start=n_draws))
        parts = _concat_parts(parts, more)
        near = tuple((b, 5.0 * mc[k]) for b, k in ((lo, "conf_low"), (hi, "conf_high")))
        n_draws = needed
    return {
        "monte_carlo": mc,
        "mc_target_met": met,
        "sign_patterns": parts.group,
        "estimate": theta,
        "std_error": se,
        "statistic": (theta - null) / se if se > 0 else math.nan,
        "p_value": p,
        "conf_low": lo,
        "conf_high": hi,
        "draws": n_draws,
        "exact": exact,
        "n_clusters": g,
        "notes": notes,
    }


def _one_way(spec_cluster: object) -> Hashable | None:
    if isinstance(spec_cluster, list):
        raise ValueError(  # noqa: TRY004 -- a two-way spec is a value the method cannot take
            "the wild cluster bootstrap supports one-way clustering only; the result was "
            f"clustered two-way by {spec_cluster!r}: refit with one cluster variable"
        )
    return spec_cluster


def _crv1_factor(n: int, g: int, k: int) -> float:
    return g / (g - 1) * (n - 1) / (n - k) if g > 1 and n > k else 1.0


def _treated_clusters(cluster: np.ndarray, treated_rows: np.ndarray) -> int:
    return int(np.unique(cluster[treated_rows]).size)


_DEPENDENT = 1e-11  # squared residual norm of a scaled column on the columns before it


def _independent(gram: np.ndarray, raw_sq: np.ndarray, protected: int) -> np.ndarray:
    """Keep the first ``protected`` columns and the nuisance columns that are not linear
    combinations of the columns before them, from the Gram matrix of the (demeaned) design.

    A column is dropped when it is zero (its demeaned squared norm is rounding next to its
    raw ``raw_sq``) or when the squared norm of its residual on the kept columns before it,
    after scaling every column to norm 1 (a Cholesky pivot, = ``R_jj**2`` of a QR), is at
    most ``_DEPENDENT``. Nuisance columns are year dummies: exact dependencies (a
    disconnected panel) give pivots at rounding level, genuine columns pivots of order 1.
    """
    d = np.diag(gram).copy()
    k = d.size
    keep = np.ones(k, dtype=bool)
    keep[protected:] = d[protected:] > 1e-12 * np.maximum(raw_sq[protected:], 1e-300)
    scale = np.sqrt(np.where(d > 0, d, 1.0))
    c = gram / np.outer(scale, scale)
    kept: list[int] = []
    chol = np.zeros((k, k))
    for j in np.flatnonzero(keep):
        m = len(kept)
        lj = np.linalg.solve(chol[:m, :m], c[kept, j]) if m else np.zeros(0)
        pivot = c[j, j] - float(lj @ lj)
        if j >= protected and pivot <= _DEPENDENT:
            keep[j] = False
            continue
        chol[m, :m] = lj
        chol[m, m] = math.sqrt(max(pivot, 1e-300))
        kept.append(int(j))
    return keep


def _fe_problem(
    y: np.ndarray,
    regressors: np.ndarray | sp.spmatrix,
    unit_codes: np.ndarray,
    time_values: np.ndarray,
    cluster: np.ndarray,
    r_regressors: np.ndarray,
    dof_k: int,
    treated_rows: np.ndarray,
) -> LinearProblem:
    """Firm effects projected out, year effects as explicit dummies (exact when firms are
    nested in clusters, which is checked). The problem keeps the raw (sparse) design and
    the firm codes (``absorb``): no demeaned rows x columns matrix is formed."""
    if not is_nested(unit_codes, cluster):
        raise ValueError(
            "the wild cluster bootstrap needs firms nested in the clusters (firm or "
            "consortium clustering); this result's clusters cut across firms"
        )
    tcodes, n_levels = _sorted_codes(time_values)
    n = y.size
    tdum = _onehot(tcodes - 1, n_levels - 1)
    x = _hstack_rows([sp.csr_matrix(regressors), tdum])
    ucodes = _compact(unit_codes)[0]
    gram = _Within(ucodes).gram(x)
    raw_sq = np.bincount(x.indices, weights=x.data * x.data, minlength=x.shape[1])
    keep = np.flatnonzero(_independent(gram, raw_sq, regressors.shape[1]))
    if keep.size < x.shape[1]:
        x = sp.csr_matrix(x[:, keep])
        gram = gram[np.ix_(keep, keep)]
    r = np.zeros(x.shape[1])
    r[: r_regressors.size] = r_regressors
    g = int(cluster.max()) + 1
    return LinearProblem(
        y=y,
        x=x,
        cluster=cluster,
        r=r,
        ssc=_crv1_factor(n, g, dof_k),
        treated_clusters=_treated_clusters(cluster, treated_rows),
        absorb=ucodes,
        xtx=gram,
    )


@dataclass(frozen=True)
class _WithinSample:
    """The rows, columns, clusters and ``dof_k`` of ``_fit.fit_within`` (without its fit)."""

    keep: np.ndarray
    x: sp.csr_matrix  # regressors on the kept rows, empty columns dropped
    names: list[str]
    unit_codes: np.ndarray
    cluster: np.ndarray
    dof_k: int


def _within_sample(panel, x: sp.csr_matrix, names: list[str], drop_empty: bool) -> _WithinSample:
    """What :func:`policylab.did.core.fit.fit_within` fits on (rows with an outcome, singletons
    dropped iteratively; regressor columns without observations dropped; its clusters and
    fixest's ``K``), without demeaning or fitting: the bootstrap refits on its own."""
    time_codes = _sorted_codes(panel.time)[0]
    rows = np.flatnonzero(panel.outcome_rows.keep)
    sub = singleton_mask([_compact(panel.unit_codes[rows])[0], _compact(time_codes[rows])[0]])
    keep = np.zeros(panel.y.size, dtype=bool)
    keep[rows[sub]] = True
    xk = sp.csr_matrix(x[np.flatnonzero(keep)])
    xk.eliminate_zeros()
    used = np.bincount(xk.indices, minlength=xk.shape[1]) > 0
    if not used.all():
        if not drop_empty:
            raise ValueError(
                "the data do not reproduce the result's design (a regressor is zero on "
                "every row used): pass the data the result was fitted on"
            )
        xk = sp.csr_matrix(xk[:, np.flatnonzero(used)])
        names = [nm for nm, u in zip(names, used, strict=True) if u]
    # clusters in first-appearance order (it fixes which weights each cluster draws);
    # firms and years are only groupings
    ucodes, n_u = _compact(panel.unit_codes[keep])
    tcodes, n_t = _compact(time_codes[keep])
    if panel.cluster_names:
        cluster = recode(panel.cluster_codes[0][keep])[0]
    else:
        cluster = recode(panel.unit_codes[keep])[0]
    # fixest_dof_k reads only the factors' codes and numbers of levels
    factors = [_Levels(ucodes, n_u), _Levels(tcodes, n_t)]
    dof_k, _ = fixest_dof_k(xk.shape[1], factors, [cluster])  # type: ignore[arg-type]
    return _WithinSample(keep, xk, names, ucodes, cluster, dof_k)


class _Levels(NamedTuple):
    """A factor's codes and number of levels (a :class:`Factor` without its indicator
    matrix, whose construction costs more than the rest of the sample at 10 M rows)."""

    codes: np.ndarray
    n_levels: int


def _compact(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Non-negative integer codes renumbered ``0..L-1`` in increasing order: a grouping
    (as :func:`recode`, whose first-appearance order only cluster codes need), 5x faster."""
    if codes.size == 0:
        return codes.astype(np.intp), 0
    present = np.bincount(codes) > 0
    new = np.cumsum(present) - 1
    return new[codes].astype(np.intp, copy=False), int(present.sum())


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of ``values`` in sorted order (``pd.factorize(values, sort=True)``), by a
    shift for whole numbers in a modest range (years)."""
    lo = values.min() if values.size else 0.0
    hi = values.max() if values.size else 0.0
    if values.size and hi - lo < 1e6 and np.array_equal(values, np.floor(values)):
        return _compact((values - lo).astype(np.intp))
    codes, levels = pd.factorize(values, sort=True)
    return codes.astype(np.intp, copy=False), len(levels)


def _term_index(names: list[str], term: str, available: list[str]) -> int:
    if term not in names:
        raise ValueError(
            f"term {term!r} is not an estimate of this result; available: "
            + ", ".join(repr(a) for a in available)
        )
    return names.index(term)


def _problem_2x2(result: DiDResult, data: pd.DataFrame, term: str) -> LinearProblem:
    s = result.spec
    if term != ATT_TERM:
        raise ValueError(f"term {term!r} is not an estimate of this result; available: 'att'")
    y_all = numeric_column(data, s["outcome"], "outcome")
    keep = ~np.isnan(y_all)
    d = binary_column(data, s["treated"], "treated")[keep]
    p = binary_column(data, s["post"], "post")[keep]
    x = np.column_stack([np.ones_like(d), d, p, d * p])
    cl = _one_way(s["cluster"])
    if cl is not None:
        cluster = recode(codes(data, cl, "cluster")[keep])[0]
    elif s["unit"] is not None:
        cluster = recode(codes(data, s["unit"], "unit")[keep])[0]
    else:
        cluster = np.arange(int(keep.sum()))  # heteroskedastic wild bootstrap
    g = int(cluster.max()) + 1
    return LinearProblem(
        y=y_all[keep],
        x=x,
        cluster=cluster,
        r=np.array([0.0, 0.0, 0.0, 1.0]),
        ssc=_crv1_factor(x.shape[0], g, 4),
        treated_clusters=_treated_clusters(cluster, d == 1),
    )


def _label_codes(data: pd.DataFrame, col: Hashable, arg: str) -> np.ndarray:
    """``codes(data, col, arg)`` (same codes), without its separate missing-value pass."""
    column = data[col]
    if isinstance(column, pd.Series):
        c, _ = pd.factorize(column, sort=False)
        if c.size == 0 or c.min() >= 0:
            return c.astype(np.intp, copy=False)
    return codes(data, col, arg)  # raises the usual error (missing labels, duplicated column)


def _panel(result: DiDResult, data: pd.DataFrame, whole_time: bool) -> PanelInputs:
    """The arrays of ``_checks.panel_inputs`` for the data the result was fitted on. The fit
    checked that firm-period pairs are unique; that check (a hash of every row) is not
    repeated: other data fail the check that the estimate is reproduced."""
    s = result.spec
    names = normalise_cluster(_one_way(s["cluster"])) or ()
    y = numeric_column(data, s["outcome"], "outcome")
    rows = outcome_rows(y, s["outcome"])
    unit_codes = _label_codes(data, s["unit"], "unit")
    t = numeric_column(data, s["time"], "time")
    no_missing(t, s["time"], "time")
    if whole_time:
        integer_valued(t, s["time"], "time")
    elif not np.all(np.isfinite(t)):
        raise DiDInputError(f"column {s['time']!r} (argument time=) has infinite values")
    return PanelInputs(
        y=y,
        outcome_rows=rows,
        unit_codes=unit_codes,
        time=t,
        cluster_names=names,
        cluster_codes=tuple(_label_codes(data, c, "cluster") for c in names),
    )


def _problem_twfe(result: DiDResult, data: pd.DataFrame, term: str) -> LinearProblem:
    s = result.spec
    if term != ATT_TERM:
        raise ValueError(f"term {term!r} is not an estimate of this result; available: 'att'")
    panel = _panel(result, data, whole_time=False)
    d = binary_column(data, s["treatment"], "treatment")
    smp = _within_sample(panel, sp.csr_matrix(d[:, None]), [ATT_TERM], drop_empty=False)
    ever = np.zeros(int(smp.unit_codes.max()) + 1, dtype=bool)
    ever[smp.unit_codes[d[smp.keep] == 1]] = True
    return _fe_problem(
        panel.y[smp.keep],
        smp.x,
        smp.unit_codes,
        panel.time[smp.keep],
        smp.cluster,
        np.array([1.0]),
        smp.dof_k,
        ever[smp.unit_codes],
    )


def _problem_event(result: DiDResult, data: pd.DataFrame, term: str) -> LinearProblem:
    from ..estimators.dynamic_twfe import HEADLINE_TERM, REFERENCE_EVENT_TIME, event_term, post_weights

    s = result.spec
    panel = _panel(result, data, whole_time=True)
    g = numeric_column(data, s["cohort"], "cohort")
    no_missing(g, s["cohort"], "cohort")
    joins = g != 0
    event = np.where(joins, panel.time - g, 0.0)
    binned = np.clip(event, -s["leads"], s["lags"])
    terms = np.array([e for e in range(-s["leads"], s["lags"] + 1) if e != REFERENCE_EVENT_TIME])
    # the event-time indicators, one non-zero per row at most (as a sparse matrix)
    pos = np.minimum(np.searchsorted(terms, binned), terms.size - 1)
    x = _onehot(np.where(joins & (terms[pos] == binned), pos, -1), terms.size)
    smp = _within_sample(panel, x, [event_term(int(e)) for e in terms], drop_empty=True)
    names = smp.names
    kept_times = [int(n.split("::")[1]) for n in names]
    if term == HEADLINE_TERM:
        counts = np.asarray(smp.x.sum(axis=0)).ravel()
        r = post_weights(counts[None, :], kept_times)
    else:
        r = np.zeros(len(names))
        r[_term_index(names, term, [HEADLINE_TERM, *names])] = 1.0
    keep = smp.keep
    treated_obs = joins[keep] & (event[keep] >= 0)
    ever = np.zeros(int(smp.unit_codes.max()) + 1, dtype=bool)
    ever[smp.unit_codes[treated_obs]] = True
    return _fe_problem(
        panel.y[keep],
        smp.x,
        smp.unit_codes,
        panel.time[keep],
        smp.cluster,
        r,
        smp.dof_k,
        ever[smp.unit_codes],
    )


def _staggered_term_weights(cells, term: str) -> np.ndarray:
    """Weights on a staggered estimator's cohort x period cells that make ``term``: the
    overall ATT, an event time, or a cohort (over its post-joining cells), as the
    Sun-Abraham and ETWFE estimators aggregate them."""
    from ..core.staggered import OVERALL_TERM, cohort_term, event_names, overall_weights, weight_matrix

    if term == OVERALL_TERM:
        return overall_weights(cells)
    ev_values, w_event = weight_matrix(cells, cells.event_time, np.ones(cells.n_obs.size, bool))
    co_values, w_cohort = weight_matrix(cells, cells.cohort, cells.event_time >= 0)
    ev_names = list(event_names(ev_values))
    co_names = [cohort_term(int(c)) for c in co_values]
    if term in ev_names:
        return w_event[ev_names.index(term)]
    if term in co_names:
        return w_cohort[co_names.index(term)]
    _term_index([], term, [OVERALL_TERM, *ev_names, *co_names])
    raise AssertionError  # unreachable: _term_index raises


def _problem_sun_abraham(result: DiDResult, data: pd.DataFrame, term: str) -> LinearProblem:
    """Sun-Abraham's saturated regression; the tested combination is the aggregate's
    weights on the cohort x event-time coefficients (held fixed, as the estimator does)."""
    from ..estimators.sun_abraham import SunAbrahamSpec, fit_design

    s = result.spec
    spec = SunAbrahamSpec(
        outcome=s["outcome"], unit=s["unit"], time=s["time"], cohort=s["cohort"],
        leads=s["leads"], lags=s["lags"], control=s["control"],
        cluster=normalise_cluster(_one_way(s["cluster"])), alpha=s["alpha"],
    )  # fmt: skip
    d = fit_design(data, spec)
    r = _staggered_term_weights(d.cells, term)
    fit, keep = d.fit, d.fit.keep
    post = d.treated[keep] & (d.panel.time[keep] >= d.g[keep])
    ever = np.zeros(fit.n_units, dtype=bool)
    ever[fit.unit_codes[post]] = True
    return _fe_problem(
        d.panel.y[keep],
        fit.regressors,
        fit.unit_codes,
        d.panel.time[keep],
        fit.clustering.codes[0],
        np.asarray(r, dtype=np.float64),
        fit.vcov.dof_k,
        ever[fit.unit_codes],
    )


@dataclass(frozen=True)
class _EtwfeDesign:
    y: np.ndarray
    x: np.ndarray
    cluster: np.ndarray
    design: Any  # etwfe.Design
    w_row: np.ndarray  # aggregation weights over the treatment cells
    dof_k: int
    treated_clusters: int
    poisson: bool


def _etwfe_design(result: DiDResult, data: pd.DataFrame, term: str) -> _EtwfeDesign:
    from ..core.staggered import (
        cohort_column,
        staggered_sample,
    )
    from ..estimators.etwfe import _design
    from ..core.poisson import group_codes, separated_rows

    s = result.spec
    panel = _panel(result, data, whole_time=True)
    g = cohort_column(data, s["cohort"], panel.unit_codes)
    covs = tuple(s.get("covariates") or ())
    xcov = (
        np.column_stack([numeric_column(data, c, "covariates") for c in covs])
        if covs
        else np.empty((len(data), 0))
    )
    poisson = s["family"] == "poisson"
    sample = staggered_sample(
        g,
        panel.time,
        panel.unit_codes,
        panel.outcome_rows.keep,
        control="auto",
        drop_never_with_last=False,
    )
    keep = sample.keep.copy()
    in_cell_all = sample.treated_cohort & (panel.time >= g)
    if poisson:
        rows = np.flatnonzero(keep)
        groups = [
            pd.factorize(g[rows])[0],
            pd.factorize(panel.time[rows])[0],
            np.where(in_cell_all[rows], group_codes(g[rows], panel.time[rows]), -1),
        ]
        keep[rows[separated_rows(panel.y[rows], groups)]] = False
    design = _design(g, panel.time, xcov, keep, in_cell_all, covs)
    w_row = _staggered_term_weights(design.cells, term)
    ucodes, _ = recode(panel.unit_codes[keep])
    cl = panel.cluster_codes
    cluster = recode(cl[0][keep])[0] if cl else ucodes
    n_fe = design.n_cohorts + design.n_times - 1
    dof_k, _ = fixest_dof_k(
        design.x.shape[1] - n_fe,
        [Factor.from_codes(design.cohort_codes), Factor.from_codes(design.time_codes)],
        [cluster],
    )
    ever = np.zeros(int(ucodes.max()) + 1, dtype=bool)
    ever[ucodes[design.in_cell]] = True
    return _EtwfeDesign(
        y=panel.y[keep],
        x=design.x,
        cluster=cluster,
        design=design,
        w_row=w_row,
        dof_k=dof_k,
        treated_clusters=_treated_clusters(cluster, ever[ucodes]),
        poisson=poisson,
    )


def _problem_etwfe_linear(ed: _EtwfeDesign) -> LinearProblem:
    r = np.zeros(ed.x.shape[1])
    r[ed.design.cell_cols] = ed.w_row
    g = int(ed.cluster.max()) + 1
    return LinearProblem(
        y=ed.y,
        x=ed.x,
        cluster=ed.cluster,
        r=r,
        ssc=_crv1_factor(ed.y.size, g, ed.dof_k),
        treated_clusters=ed.treated_clusters,
    )


def _problem_att_gt(
    result: GroupTimeResult, data: pd.DataFrame, term: str, null_model: str = "constant_effect"
) -> tuple[LinearProblem, float]:
    """A Callaway-Sant'Anna aggregate as a linear combination of a saturated regression.

    Without covariates or sampling weights every ``ATT(g, t)`` is a difference of
    cohort-by-period means, and the aggregate is linear in the outcome (the group shares
    depend on the design only). So it is ``r'b`` in a regression on one dummy per cohort
    (never treated included) and period:

    * balanced panel (CS's panel estimator): firm effects plus the cohort-by-period dummies
      except each cohort's first period; ``b[c, t] - b[c, s]`` is cohort ``c``'s mean change
      from ``s`` to ``t``;
    * unbalanced panel (CS's repeated cross-section estimator, influence function summed
      within firm): no firm effects, one dummy per cohort-by-period cell, ``b[c, t]`` the
      cell mean.

    Each cell contributes its cohort's change minus the comparison group's, the comparison
    cohorts pooled with the estimator's own weights (firms per cohort; observations per cell
    for the unbalanced design). The CRV1 scores of ``r'b`` are the cluster sums of CS's
    influence function without the term for estimated group shares (the bootstrap
    conditions on the design), exactly so for never-treated comparisons.
    """
    from ..estimators.callaway_santanna.aggregate import KINDS, aggregate

    s = result.spec
    kind = term.split(":", 1)[1] if term.startswith("overall:") else term
    if kind not in KINDS:
        raise ValueError(
            f"term {term!r} is not an aggregate; use 'overall:<kind>' with kind in "
            + ", ".join(map(repr, KINDS))
        )
    why = []
    if result.design not in ("panel", "unbalanced_panel"):
        why.append(f"the design is {result.design!r} (panel data are needed)")
    if s.get("covariates"):
        why.append("it has covariates")
    if s.get("weights") is not None:
        why.append("it has sampling weights")
    if why:
        raise ValueError(
            "wild_bootstrap of a Callaway-Sant'Anna aggregate uses its regression form, "
            "which needs panel data without covariates or sampling weights; this result "
            "does not qualify: " + "; ".join(why)
            + ". Use multiplier_bootstrap or randomization_inference instead"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicylabWarning)
        agg = aggregate(result, kind, bootstrap=False)
    w = np.asarray(agg.overall_weights)
    g_cell, t_cell = np.asarray(result.group), np.asarray(result.time)
    b_cell = np.asarray(result.base_period)
    periods = np.unique(np.r_[t_cell, b_cell])

    pos = pd.Index(result.units).get_indexer(data[s["unit"]])
    y_all = numeric_column(data, s["outcome"], "outcome")
    t_all = numeric_column(data, s["time"], "time")
    rows = (pos >= 0) & ~np.isnan(y_all) & np.isin(t_all, periods)
    pos, y, t_raw = pos[rows], y_all[rows], t_all[rows]
    ucoh = np.asarray(result.unit_cohort, dtype=np.float64)
    coh = ucoh[pos]
    cohorts = np.unique(ucoh)  # sorted, never treated (inf) last
    c_idx = np.searchsorted(cohorts, coh)
    t_idx = np.searchsorted(periods, t_raw)
    n, n_c, n_t = y.size, cohorts.size, periods.size
    panel = result.design == "panel"

    # columns: (cohort, period); in the panel form each cohort's first period is the
    # reference (absorbed by the firm effects)
    col = np.full((n_c, n_t), -1)
    first = 1 if panel else 0
    col[:, first:] = np.arange(n_c * (n_t - first)).reshape(n_c, n_t - first)
    flat = c_idx * n_t + t_idx
    cell_col = col.ravel()[flat]
    n_cols = int(col.max()) + 1
    cell_n = np.bincount(flat, minlength=n_c * n_t).reshape(n_c, n_t).astype(np.float64)
    del flat
    unit_n = np.array([np.sum(ucoh == c) for c in cohorts], dtype=np.float64)

    r = np.zeros(n_cols)

    def add(value: float, cohort: float, period: float) -> None:
        j = col[int(np.searchsorted(cohorts, cohort)), int(np.searchsorted(periods, period))]
        if j >= 0:
            r[j] += value

    for k in np.flatnonzero(w):
        if t_cell[k] < g_cell[k]:
            raise ValueError("internal: the aggregate weights pre-treatment cells")
        wk, g, t, b = w[k], float(g_cell[k]), float(t_cell[k]), float(b_cell[k])
        add(wk, g, t)
        add(-wk, g, b)
        ctrl = np.asarray(result.comparison_cohorts[k], dtype=np.float64)
        ci = np.searchsorted(cohorts, ctrl)
        for per, sign in ((t, -1.0), (b, 1.0)):
            if panel:
                share = unit_n[ci] / unit_n[ci].sum()
            else:
                cnt = cell_n[ci, int(np.searchsorted(periods, per))]
                share = cnt / cnt.sum()
            for c, sh in zip(ctrl, share, strict=True):
                add(sign * wk * sh, float(c), per)

    # cohort-by-period cells without observations (unbalanced panels) have no column
    used = np.bincount(cell_col + 1, minlength=n_cols + 1)[1:] > 0
    if np.any(r[~used] != 0):
        raise ValueError("internal: the aggregate uses a cohort-by-period cell without data")
    r = r[used]
    if not used.all():
        cell_col = np.where(cell_col >= 0, (np.cumsum(used) - 1)[cell_col], -1)
    # the cell dummies (sparse, one per row at most); firm effects are absorbed implicitly
    x = _onehot(cell_col, int(used.sum()))
    cluster_all = (
        np.asarray(result.unit_cluster) if result.unit_cluster is not None else None
    )
    cluster = recode(cluster_all[pos] if cluster_all is not None else pos)[0]
    treated = np.isfinite(coh)
    d = (treated & (t_raw >= np.where(treated, coh, 0.0))).astype(np.float64)
    tdum = _onehot(t_idx.astype(np.int64) - 1, n_t - 1)
    if panel:
        absorb = _compact(pos)[0]
        # constant-effect null: y - theta0 D = firm + year effects + u
        z = tdum
        dof_k = x.shape[1] + 1
    else:
        absorb = None
        # constant-effect null in the repeated cross-section form: cohort + period effects
        z = _hstack_rows([_onehot(c_idx.astype(np.int64), n_c), tdum])
        dof_k = x.shape[1]
    g = int(cluster.max()) + 1
    prob = LinearProblem(
        y=y,
        x=x,
        cluster=cluster,
        r=r,
        ssc=_crv1_factor(n, g, dof_k),
        treated_clusters=_treated_clusters(cluster, treated),
        null_model=(z, d) if null_model == "constant_effect" else None,
        absorb=absorb,
    )
    return prob, float(agg.overall.estimate)


# --------------------------------------------------------------------------- Poisson


class _PoissonLevel:
    """The ETWFE Poisson effect of a set of treated cells in outcome units,
    ``h(b) = sum_i a_i [exp(x_i'b) - exp(x0_i'b)]`` over treated rows (``x0`` without the
    treatment terms), and its gradient."""

    def __init__(self, x: np.ndarray, design: Any, w_row: np.ndarray) -> None:
        tr = np.flatnonzero(design.in_cell)
        self.xt = x[tr]
        treat_cols = np.concatenate([design.cell_cols, design.cell_x_cols.ravel()])
        treat_cols = treat_cols[treat_cols >= 0]
        self.x0 = self.xt.copy()
        self.x0[:, treat_cols] = 0.0
        cell = design.cell_of_row[tr]
        self.a = w_row[cell] / design.cells.n_obs[cell]

    def __call__(self, beta: np.ndarray) -> tuple[float, np.ndarray]:
        mu1 = np.exp(self.xt @ beta)
        mu0 = np.exp(self.x0 @ beta)
        value = float(self.a @ (mu1 - mu0))
        grad = (self.a * mu1) @ self.xt - (self.a * mu0) @ self.x0
        return value, grad

    def hessian(self, beta: np.ndarray) -> np.ndarray:
        w1 = self.a * np.exp(self.xt @ beta)
        w0 = self.a * np.exp(self.x0 @ beta)
        return _wgram(self.xt, w1) - _wgram(self.x0, w0)


def _wgram(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x' diag(w) x`` without BLAS: for these small designs OpenBLAS's threads only cost
    time, 10-100x on a busy 2-core machine (see ``core.influence._dot``)."""
    return np.einsum("ij,i,ik->jk", x, w, x, optimize=False)


def _constrained_poisson(
    y: np.ndarray,
    x: np.ndarray,
    h: _PoissonLevel,
    theta0: float,
    start: np.ndarray,
    *,
    tol: float = 1e-10,
    maxiter: int = 100,
) -> np.ndarray:
    """Poisson PML subject to ``h(b) = theta0``: Newton's method on the Lagrangian's
    first-order conditions ``X'(y - mu) = lam * grad h``, ``h(b) = theta0`` (the constraint's
    curvature included, so convergence is quadratic from a warm start)."""
    beta = start.copy()
    k = beta.size
    lam = 0.0
    for _ in range(maxiter):
        mu = np.exp(x @ beta)
        score = x.T @ (y - mu)
        val, grad = h(beta)
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = _wgram(x, mu) + lam * h.hessian(beta)
        kkt[:k, k] = grad
        kkt[k, :k] = grad
        sol = np.linalg.solve(kkt, np.r_[score - lam * grad, theta0 - val])
        delta = sol[:k]
        step = 1.0
        while step > 1e-6 and not np.all(x @ (beta + step * delta) < 700.0):
            step /= 2.0
        beta = beta + step * delta
        lam += step * sol[k]
        small = np.max(np.abs(step * delta)) <= tol * (1.0 + np.max(np.abs(beta)))
        if small and abs(h(beta)[0] - theta0) <= 1e-8 * (1.0 + abs(theta0)):
            return beta
    raise DesignError(
        f"the Poisson fit restricted to an effect of {theta0:g} did not converge "
        "(the restriction may be outside what the data can fit)"
    )


def poisson_score_bootstrap(
    ed: _EtwfeDesign,
    *,
    draws: int,
    weights: str,
    seed: int | None,
    null: float,
    impose_null: bool,
    alpha: float,
    conf_int: bool = True,
) -> dict[str, Any]:
    """Kline and Santos (2012) score bootstrap for an ETWFE Poisson effect.

    At the fit restricted to ``h(b) = theta0`` (restricted PML), the cluster scores
    ``s_g = X_g'(y_g - mu_g)`` are multiplied by the cluster weights; the bootstrap
    statistic is the one-step (Newton) effect ``g'H^-1 S*`` over its CRV1 standard error
    computed from the perturbed, re-centred scores -- the wild restricted bootstrap of the
    model linearised at the restricted fit (``X`` weighted by ``sqrt(mu)``). The observed
    statistic is the Wald t with the delta-method CRV1 standard error. Test inversion refits
    the restricted model at each candidate value (warm-started).
    """
    from ..core.poisson import fit_poisson

    y, x = ed.y, ed.x
    h = _PoissonLevel(x, ed.design, ed.w_row)
    pfit = fit_poisson(y, x)
    beta_hat = pfit.beta
    theta, grad = h(beta_hat)
    g = int(ed.cluster.max()) + 1
    ind = _indicator(ed.cluster, g)
    ssc = _crv1_factor(y.size, g, ed.dof_k)
    a_hat = np.asarray(ind @ (x * (y - pfit.mu)[:, None])) @ (pfit.bread @ grad)
    se = math.sqrt(ssc * float(a_hat @ a_hat))
    v = _Draws(weights, g, draws, seed)
    exact = v.exact

    def parts_at(beta: np.ndarray) -> _TParts:
        mu = np.exp(x @ beta)
        sw = np.sqrt(mu)
        xw = x * sw[:, None]
        a_inv = np.linalg.inv(_wgram(x, mu))
        a_inv = (a_inv + a_inv.T) / 2.0
        _, gr = h(beta)
        q = a_inv @ gr
        scores = [_cluster_sums(xw, (y - mu) / sw, ind)]
        return _t_parts(scores, _cluster_sums(xw, xw @ q, ind), a_inv, q, v, ssc)

    cache: dict[float, float] = {}
    state = {"beta": beta_hat}

    if impose_null:

        def p_at(th: float) -> float:
            if th not in cache:
                b = _constrained_poisson(y, x, h, th, state["beta"])
                state["beta"] = b
                t_star = parts_at(b).tstats(np.zeros(1))[:, 0]
                cache[th] = float(_pvalues(t_star[:, None], np.array([(theta - th) / se]))[0])
            return cache[th]

    else:
        t_unres = parts_at(beta_hat).tstats(np.zeros(1))

        def p_at(th: float) -> float:
            return float(_pvalues(t_unres, np.array([(theta - th) / se]))[0])

    def pfun(th: np.ndarray) -> np.ndarray:
        return np.array([p_at(float(t)) for t in np.atleast_1d(th)])

    p = p_at(null)
    lo = hi = math.nan
    notes: list[str] = []
    if conf_int and se > 0:
        state["beta"] = beta_hat
        lo, hi, notes = invert_test(pfun, theta, se, alpha, grid=8, rel_tol=1e-4)
    return {
        "estimate": theta,
        "std_error": se,
        "statistic": (theta - null) / se if se > 0 else math.nan,
        "p_value": p,
        "conf_low": lo,
        "conf_high": hi,
        "draws": int(v.n),
        "exact": exact,
        "n_clusters": g,
        "notes": notes,
    }


# --------------------------------------------------------------------------- public


def _result_term(result: DiDResult, term: str | None) -> tuple[str, float]:
    if term is None:
        return result.headline.term, result.headline.estimate
    if not isinstance(term, str):
        raise TypeError(f"term must be None (the headline) or a term name, got {term!r}")
    pool = [result.headline, *result.estimates, *getattr(result, "by_cohort", ())]
    for e in pool:
        if e.term == term:
            return term, e.estimate
    names = list(dict.fromkeys(e.term for e in pool))
    raise ValueError(
        f"term {term!r} is not an estimate of this result; available: "
        + ", ".join(repr(n) for n in names)
    )


def _coarse_note(exact: bool, draws: int, alpha: float, weights: str) -> str | None:
    if exact and 2.0 / draws > alpha:
        return (
            f"with {weights} weights there are only {draws} distinct bootstrap draws, so no "
            f"p-value can be below {2.0 / draws:.3g}: nothing can be rejected at "
            f"alpha={alpha:g} and the interval is unbounded"
            + ("; Webb weights give 6**G draws" if weights == "rademacher" else "")
        )
    return None


def _few_treated_note(n_treated: int, method: str) -> str | None:
    if n_treated > 3:
        return None
    return (
        f"only {n_treated} treated cluster{'s' if n_treated != 1 else ''}: the wild cluster "
        "bootstrap is unreliable with very few treated clusters (MacKinnon and Webb 2017, "
        "2018): the restricted version tends to be conservative (wide intervals), the "
        "unrestricted one to over-reject"
        if "wild" in method or "score" in method
        else None
    )


def wild_bootstrap(
    result: DiDResult,
    data: pd.DataFrame,
    *,
    term: str | None = None,
    draws: int = DEFAULT_DRAWS,
    weights: WeightKind = "rademacher",
    seed: int | None = None,
    null: float = 0.0,
    impose_null: bool = True,
    null_model: NullModel | None = None,
    alpha: float | None = None,
    conf_int: bool = True,
    enumerate_signs: int = 0,
    B: int | None = None,
) -> FewClusterResult:
    """Wild cluster bootstrap-t of one estimate of a fitted linear DiD model (WCR by
    default), of a Callaway-Sant'Anna aggregate, or the score bootstrap of a Poisson ETWFE
    effect.

    Fit first, then bootstrap the result on the same data::

        res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
                   cluster="consortium")
        wb = wild_bootstrap(res, df, weights="webb", seed=1)

    The result's ``spec`` says how to rebuild the design; the rebuilt fit must reproduce
    the result's estimate (else ``ValueError``: not the data the result was fitted on).
    The bootstrap clusters are the result's (one-way) clusters.

    Parameters
    ----------
    result : DiDResult or GroupTimeResult
        From :func:`did_2x2`, :func:`twfe`, :func:`event_study` or :func:`etwfe`
        (``family="linear"`` or ``"poisson"``); or from :func:`att_gt` on panel data
        (balanced or not) without covariates or sampling weights (its aggregates are then
        linear combinations of a saturated regression, see Notes).
    data : DataFrame
        The data ``result`` was fitted on. Not modified.
    term : str or None
        The tested estimate: ``None`` = the headline (``"att"``; ``"avg_post"`` for an event
        study, the post-period average of the event-time terms; ``"overall:simple"`` for
        ``att_gt``), or any term of ``result.estimates`` (``"event_time::2"``) or, for ETWFE,
        ``result.by_cohort``; for ``att_gt`` ``"overall:<kind>"`` with ``kind`` one of
        ``"simple"``, ``"group"``, ``"dynamic"``, ``"calendar"``.
    draws : int
        Bootstrap draws (at least 19; ``B=`` is its deprecated name). When the weight
        distribution has at most ``draws``
        distinct vectors (``2**G`` Rademacher, ``6**G`` Webb, ``G`` clusters) they are all
        enumerated once and the result is exact.
    weights : {"rademacher", "webb"}
        Cluster weight distribution. Webb's six-point weights give many more distinct draws
        with few clusters (MacKinnon and Webb recommend them for ``G`` below about 12).
    seed : int or None
        Seed of the draws; ``None`` draws one from the OS and records it in the result.
    null : float
        Null value of the reported p-value and statistic.
    impose_null : bool
        ``True``: restricted bootstrap (WCR; the null is imposed on the bootstrap data,
        which is what gives reliable tests with few clusters). ``False``: unrestricted
        (WCU), whose interval is the percentile-t interval ``estimate -/+ q * se``.
    null_model : {"constant_effect", "restriction"} or None
        ``att_gt`` only (default ``"constant_effect"``): the null imposed on the bootstrap
        data. ``"constant_effect"``: the effect is ``theta0`` in every treated cell and
        there are no pre-trends (``y - theta0 * D`` = firm + year effects + noise), the
        sharp null of randomization inference; ``"restriction"``: only the aggregate is
        restricted (``r'b = theta0``) and the other cells stay free. Other estimators
        restrict ``r'b = theta0`` (``None`` or ``"restriction"``).
    alpha : float or None
        ``1 - alpha`` interval; default the result's ``alpha``.
    conf_int : bool
        Compute the test-inversion interval (cheap for linear models; for Poisson each
        candidate value needs a restricted refit).
    enumerate_signs : int
        Linear models with up to a few thousand clusters: in each of the ``draws`` draws,
        evaluate all ``2**m`` sign patterns of the weights of the ``m`` clusters with the
        largest scores (conditional Monte Carlo: the same bootstrap p-value, much smaller
        Monte Carlo error with few treated clusters; see ``policylab.did.inference.wild_dense``).
        0 (default): plain draws. ``spec["sign_patterns"]`` says what was done (1 = none:
        exact enumeration, Poisson, or too many clusters).

    Returns
    -------
    FewClusterResult
        ``method`` ``"wild_cluster_restricted_bootstrap"`` / ``"..._unrestricted_..."`` (or
        ``"score_bootstrap_restricted"`` / ``"..._unrestricted"`` for Poisson); ``std_error``
        is the CRV1 standard error of the statistic (the same as the result's); ``p_value``
        and ``conf_low``/``conf_high`` come from the bootstrap.

    Notes
    -----
    **Algorithm.** Bootstrap-t with the CRV1 statistic (fixest's small-sample factor; it
    cancels in the comparison). With the restriction ``r'b = theta0`` imposed, the
    bootstrap outcome is ``y* = X b~ + v_g u~`` with restricted residuals ``u~``; every
    quantity a draw needs is a sum over clusters of precomputed cluster-level pieces (see
    the module docstring), so a draw costs one pass over the clusters and the interval,
    found by inverting the test over ``theta0``, needs no refit. The interval is
    ``{theta0 : p(theta0) > alpha}``.

    **Poisson.** Kline and Santos (2012) score bootstrap: the restricted PML fit
    (``h(b) = theta0``, ``h`` the effect in outcome units), its cluster scores times the
    weights, and the one-step effect over its CRV1 standard error; see
    :func:`poisson_score_bootstrap`.

    **Callaway-Sant'Anna.** Without covariates or weights each ``ATT(g, t)`` is a difference
    of cohort-by-period means, so an aggregate is ``r'b`` in a regression on one dummy per
    cohort and period (plus firm effects for a balanced panel; CS's repeated cross-section
    form for an unbalanced one), with the comparison cohorts pooled as CS pools them; its
    CRV1 scores are the cluster sums of CS's influence function (group shares held fixed;
    exactly so with never-treated comparisons). The
    default ``null_model="constant_effect"`` matters: when a cohort has a single treated
    consortium, the saturated dummies absorb that consortium's shocks, so residuals
    restricted only on the aggregate do not contain them and the bootstrap under-covers
    (0.83 against 0.92 in a 200-replication pilot, 6 treated consortia among 300 firms);
    under the constant-effect null the restricted residuals keep them. The interval is
    then one for a constant effect, as randomization inference's.

    **Few treated clusters.** Coverage depends on the number of *treated* clusters, not the
    total. With 3 or fewer the result carries a caveat (see ``studies/COVERAGE.md``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from policylab.did import twfe
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"firm": np.repeat(np.arange(40), 6),
    ...                    "year": np.tile(np.arange(2015, 2021), 40)})
    >>> df["consortium"] = df["firm"] // 5
    >>> df["member"] = ((df["firm"] < 20) & (df["year"] >= 2018)).astype(int)
    >>> df["exports"] = 0.5 * df["member"] + rng.normal(0, 1, len(df))
    >>> res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
    ...            cluster="consortium")
    >>> wb = wild_bootstrap(res, df, draws=999, seed=1)
    >>> wb.exact, wb.draws, wb.n_clusters, wb.n_treated_clusters   # 2**8 sign vectors
    (True, 256, 8, 4)
    >>> bool(wb.conf_low < 0.5 < wb.conf_high)
    True
    """
    return _wild_bootstrap(
        result, data, term=term, draws=renamed_keyword("B", B, "draws", draws), weights=weights,
        seed=seed, null=null,
        impose_null=impose_null, null_model=null_model, alpha=alpha, conf_int=conf_int,
        enumerate_signs=enumerate_signs,
    )  # fmt: skip


@dataclass(frozen=True)
class _Prepared:
    """The bootstrap problem of one estimate, built once (:func:`_prepare`) and reusable by
    :func:`_wild_bootstrap` for the same ``(estimator, term, null_model)``."""

    key: tuple[str, str, str]
    problem: Any  # LinearProblem, or _EtwfeDesign for a Poisson ETWFE
    reported: float | None  # the estimate, when the builder computes it (att_gt)

    @property
    def n_clusters(self) -> int:
        return int(self.problem.cluster.max()) + 1

    @property
    def treated_clusters(self) -> int:
        return self.problem.treated_clusters


def _problem_etwfe(result: DiDResult, data: pd.DataFrame, term: str) -> Any:
    ed = _etwfe_design(result, data, term)
    return ed if ed.poisson else _problem_etwfe_linear(ed)


#: The bootstrap problem of each estimator, by its results' ``spec["estimator"]``:
#: ``builder(result, data, term)`` (``att_gt``: ``(result, data, term, null_model)`` and
#: the estimate too). The estimator registry (:mod:`policylab.estimators`) names these keys.
PROBLEM_BUILDERS: dict[str, Callable[..., Any]] = {
    "did_2x2": _problem_2x2, "twfe": _problem_twfe, "event_study": _problem_event,
    "sun_abraham": _problem_sun_abraham, "etwfe": _problem_etwfe, "att_gt": _problem_att_gt,
}  # fmt: skip
assert set(PROBLEM_BUILDERS) == set(SUPPORTED)


def _build(
    estimator: str, result: Any, data: pd.DataFrame, term: str, null_model: str
) -> _Prepared:
    reported = None
    if estimator == "att_gt":
        prob, reported = _problem_att_gt(result, data, term, null_model)
    else:
        prob = PROBLEM_BUILDERS[estimator](result, data, term)
    return _Prepared((estimator, term, null_model), prob, reported)


def _prepare(result: DiDResult, data: pd.DataFrame) -> _Prepared:
    """The problem :func:`wild_bootstrap` builds for the headline of a (non-``att_gt``)
    result with its default null model: ``few_cluster_inference`` counts the treated
    clusters on it and then bootstraps it, instead of building it twice."""
    estimator = result.spec.get("estimator", result.method)
    if estimator not in SUPPORTED or estimator == "att_gt":
        raise ValueError(f"no wild bootstrap problem for {estimator!r} results")
    term, _ = _result_term(result, None)
    return _build(estimator, result, data, term, "restriction")


def _wild_bootstrap(
    result: DiDResult,
    data: pd.DataFrame,
    *,
    term: str | None = None,
    draws: int = DEFAULT_DRAWS,
    weights: WeightKind = "rademacher",
    seed: int | None = None,
    null: float = 0.0,
    impose_null: bool = True,
    null_model: NullModel | None = None,
    alpha: float | None = None,
    conf_int: bool = True,
    prepared: _Prepared | None = None,
    enumerate_signs: int = 0,
    mc_target: float | None = None,
    max_draws: int | None = None,
    B: int | None = None,
) -> FewClusterResult:
    """:func:`wild_bootstrap`, optionally on an already built problem."""
    if isinstance(result, GroupTimeResult):
        estimator = "att_gt"
    elif isinstance(result, DiDResult):
        estimator = result.spec.get("estimator", result.method)
    else:
        raise TypeError(
            f"result must be a DiDResult or GroupTimeResult, got {type(result).__name__}"
        )
    if estimator not in SUPPORTED:
        raise ValueError(
            f"wild_bootstrap supports {', '.join(SUPPORTED)} results; got {estimator!r}"
        )
    data = check_frame(data)
    draws = check_draws(renamed_keyword("B", B, "draws", draws), "draws")
    weights = check_weights(weights)
    seed = check_seed(seed)
    null = check_null(null)
    impose_null = check_flag(impose_null, "impose_null")
    conf_int = check_flag(conf_int, "conf_int")
    if isinstance(enumerate_signs, bool) or not isinstance(enumerate_signs, (int, np.integer)) \
            or not 0 <= enumerate_signs <= 12:
        raise ValueError(f"enumerate_signs must be an integer from 0 to 12, got {enumerate_signs!r}")
    if null_model is not None and (not isinstance(null_model, str) or null_model not in NULL_MODELS):
        raise ValueError(
            f"null_model must be None or one of {', '.join(map(repr, NULL_MODELS))}; "
            f"got {null_model!r}"
        )
    if null_model == "constant_effect" and estimator != "att_gt":
        raise ValueError("null_model='constant_effect' applies to att_gt results only")
    if null_model is None:
        null_model = "constant_effect" if estimator == "att_gt" else "restriction"
    alpha = result.alpha if alpha is None else check_alpha(alpha)
    if estimator == "att_gt":
        if term is None:
            term = "overall:simple"
        if not isinstance(term, str):
            raise TypeError(f"term must be None or 'overall:<kind>', got {term!r}")
    else:
        term, reported = _result_term(result, term)
    used_seed = resolve_seed(seed)

    options = {
        "draws": draws,
        "weights": weights,
        "seed": used_seed,
        "null": null,
        "impose_null": impose_null,
        "alpha": alpha,
        "conf_int": conf_int,
    }
    if prepared is None or prepared.key != (estimator, term, null_model):
        prepared = _build(estimator, result, data, term, null_model)
    if prepared.reported is not None:
        reported = prepared.reported
    prob = prepared.problem
    treated = prob.treated_clusters
    if isinstance(prob, _EtwfeDesign):
        out = poisson_score_bootstrap(prob, **options)
        method = "score_bootstrap_" + ("restricted" if impose_null else "unrestricted")
    else:
        out = linear_wild(prob, **options, signs=int(enumerate_signs), mc_target=mc_target,
                          max_draws=max_draws)
        method = WCR if impose_null else WCU
    if not math.isclose(out["estimate"], reported, rel_tol=1e-6, abs_tol=1e-9):
        raise ValueError(
            f"the data do not reproduce the result's estimate of {term!r} ({reported:.6g} "
            f"vs {out['estimate']:.6g} refitted): pass the data the result was fitted on"
        )
    notes = list(out["notes"])
    notes.append(_coarse_note(out["exact"], out["draws"], alpha, weights))
    if math.isinf(out["conf_low"]) or math.isinf(out["conf_high"]):
        notes.append(
            "the bootstrap test does not reject any value on at least one side: the "
            "interval is unbounded (the data cannot rule out effects of any size there)"
        )
    few = _few_treated_note(treated, method)
    if few:
        warnings.warn(few, FewClustersWarning, stacklevel=2)
    notes.append(few)
    spec = {
        "estimator": estimator,
        "term": term,
        "B": out["draws"],
        "weights": weights,
        "seed": None if out["exact"] else used_seed,
        "null": null,
        "impose_null": impose_null,
        "null_model": null_model if impose_null else None,
        "alpha": alpha,
        "statistic": "CRV1 bootstrap-t, symmetric p-value",
        "result_spec": dict(result.spec),
        "clusters": "the result's (one-way) clusters",
        # Monte Carlo standard errors of the p-value and bounds (see monte_carlo_error)
        "monte_carlo": out.get("monte_carlo"),
        # sign patterns enumerated in each draw (1: plain draws)
        "sign_patterns": out.get("sign_patterns", 1),
        "mc_target": mc_target,
        "mc_target_met": out.get("mc_target_met"),
    }
    return FewClusterResult(
        method=method,
        estimator=estimator,
        term=term,
        estimate=float(reported),
        std_error=out["std_error"],
        statistic=out["statistic"],
        p_value=out["p_value"],
        conf_low=out["conf_low"],
        conf_high=out["conf_high"],
        alpha=alpha,
        null=null,
        draws=out["draws"],
        weights=weights,
        exact=out["exact"],
        n_clusters=out["n_clusters"],
        n_treated_clusters=treated,
        seed=None if out["exact"] else used_seed,
        spec=spec,
        warnings=tuple(n for n in notes if n),
    )


# --------------------------------------------------------------------------- CS multiplier


def aggregate_influence(result: GroupTimeResult, agg: Any) -> np.ndarray:
    """Influence function of ``agg.overall`` (one entry per unit, R ``did``'s scaling:
    ``V = S'S / n**2`` with ``S`` the cluster sums), from the cell influence functions and,
    for estimated group-share weights, R ``did``'s extra term ``w_i (a(G_i) - m(G_i) theta)
    / sum(pg)`` (see :mod:`policylab.did.estimators.callaway_santanna.aggregate`)."""
    IF = np.asarray(result.influence)
    n = result.n_units
    coh = np.asarray(result.unit_cohort, dtype=np.float64)
    w_unit = None if result.unit_weight is None else np.asarray(result.unit_weight, float)
    groups = np.unique(result.group)
    members = [coh == gv for gv in groups]
    pg = np.array([(w_unit[m].sum() if w_unit is not None else m.sum()) / n for m in members])
    cell_g = np.searchsorted(groups, result.group)
    att = np.asarray(result.att)

    def add_groups(col: np.ndarray, coef: np.ndarray) -> None:
        for gi in np.flatnonzero(coef):
            col[members[gi]] += coef[gi] * (1.0 if w_unit is None else w_unit[members[gi]])

    def cell_wif(col: np.ndarray, cells: np.ndarray, theta: float) -> None:
        a = np.bincount(cell_g[cells], weights=att[cells], minlength=groups.size)
        m = np.bincount(cell_g[cells], minlength=groups.size).astype(float)
        add_groups(col, (a - m * theta) / pg[cell_g[cells]].sum())

    kind = agg.kind
    W = np.asarray(agg.weights)  # elements x cells
    if kind == "simple":
        ow = np.asarray(agg.overall_weights)
        col = IF @ ow
        cell_wif(col, np.flatnonzero(ow), float(att @ ow))
        return col
    if kind == "group":
        keys = np.asarray(agg.keys, dtype=np.float64)
        gi = np.searchsorted(groups, keys)
        share = pg[gi] / pg[gi].sum()
        col = IF @ (W.T @ share)
        theta_g = W @ att
        coef = np.zeros(groups.size)
        coef[gi] = (theta_g - float(theta_g @ share)) / pg[gi].sum()
        add_groups(col, coef)
        return col
    keys = np.asarray(agg.keys)
    use = np.flatnonzero(keys >= 0) if kind == "dynamic" else np.arange(keys.size)
    col = np.zeros(n)
    for j in use:
        el = IF @ W[j]
        cell_wif(el, np.flatnonzero(W[j]), float(W[j] @ att))
        col += el / use.size
    return col


def multiplier_bootstrap(
    result: GroupTimeResult,
    kind: str = "simple",
    *,
    draws: int = DEFAULT_DRAWS,
    weights: WeightKind = "webb",
    seed: int | None = None,
    null: float = 0.0,
    alpha: float | None = None,
    balance_e: int | None = None,
    min_e: int | None = None,
    max_e: int | None = None,
    B: int | None = None,
) -> FewClusterResult:
    """Cluster-level multiplier bootstrap of a Callaway-Sant'Anna aggregate.

    The aggregate's influence function is **summed** within clusters (``S_g``; never
    averaged, see studies/COVERAGE.md), and each draw is ``theta*_b = sum_g v_bg S_g / n`` with
    Webb (default) or Rademacher multipliers ``v``.

    Parameters
    ----------
    result : GroupTimeResult
        From :func:`att_gt`; its ``cluster`` (or the unit when not clustered) is the
        bootstrap cluster.
    kind : {"simple", "group", "dynamic", "calendar"}
        The aggregation whose overall estimate is bootstrapped (as :func:`aggregate`, with
        ``balance_e``, ``min_e``, ``max_e``).
    draws : int
        Draws (``B=`` is its deprecated name); all ``6**G`` (Webb) or ``2**G`` (Rademacher)
        vectors when that is at most ``draws`` (exact).
    weights : {"webb", "rademacher"}
    seed : int or None
        ``None`` draws one and records it.
    null : float
        Null value of the p-value.
    alpha : float or None
        Default: the result's.

    Returns
    -------
    FewClusterResult
        ``std_error``: the bootstrap standard error (interquartile range over 1.349, as R
        ``did``); ``p_value``: share of ``|theta*_b| >= |estimate - null|``;
        ``conf_low``/``conf_high``: ``estimate -/+ c`` with ``c`` the ``1 - alpha``
        quantile of ``|theta*_b|`` (the inversion of that test).

    Notes
    -----
    With few treated clusters the multiplier distribution is a sum of a few large terms
    and inherits the downward bias of the cluster-sum variance; it is not a small-sample
    correction (see ``studies/COVERAGE.md`` for its coverage).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from policylab.did import att_gt
    >>> rng = np.random.default_rng(3)
    >>> firms, years = np.arange(300), np.arange(2010, 2016)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 6), "year": np.tile(years, 300)})
    >>> df["joined"] = np.repeat(np.where(firms < 100, 0, 2012 + firms % 3), 6)
    >>> df["consortium"] = df["firm"] // 10
    >>> on = (df["joined"] > 0) & (df["year"] >= df["joined"])
    >>> df["exports"] = 0.5 * on + rng.normal(0, 0.1, len(df))
    >>> res = att_gt(df, outcome="exports", unit="firm", time="year", cohort="joined",
    ...              cluster="consortium")
    >>> mb = multiplier_bootstrap(res, "simple", draws=999, seed=1)
    >>> mb.method, mb.weights, mb.n_clusters
    ('multiplier_bootstrap', 'webb', 30)
    """
    from ..estimators.callaway_santanna.aggregate import KINDS, aggregate

    if not isinstance(result, GroupTimeResult):
        raise TypeError(
            "multiplier_bootstrap takes the GroupTimeResult of att_gt (it needs the "
            f"influence function) and kind=...; got {type(result).__name__}"
        )
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    draws = check_draws(renamed_keyword("B", B, "draws", draws), "draws")
    weights = check_weights(weights)
    seed = check_seed(seed)
    null = check_null(null)
    alpha = result.alpha if alpha is None else check_alpha(alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicylabWarning)
        agg = aggregate(
            result, kind, balance_e=balance_e, min_e=min_e, max_e=max_e, bootstrap=False
        )
    psi = aggregate_influence(result, agg)
    n = result.n_units
    cluster = result.unit_cluster
    if cluster is None:
        s = psi
        treated_rows = np.isin(result.unit_cohort, np.unique(result.group))
        n_treated = int(treated_rows.sum())
    else:
        cl = np.asarray(cluster)
        s = np.bincount(cl, weights=psi, minlength=int(cl.max()) + 1)
        n_treated = int(np.unique(cl[np.isin(result.unit_cohort, np.unique(result.group))]).size)
    se_analytic = math.sqrt(float(s @ s)) / n
    if not math.isclose(se_analytic, agg.overall.std_error, rel_tol=1e-6, abs_tol=1e-12):
        raise RuntimeError(
            "internal: the aggregate's influence function does not reproduce its analytic "
            f"standard error ({se_analytic:.8g} vs {agg.overall.std_error:.8g})"
        )
    used_seed = resolve_seed(seed)
    v, exact = draw_weights(weights, s.size, draws, used_seed)
    theta_star = v @ s / n
    q75, q25 = np.quantile(theta_star, [0.75, 0.25], method="inverted_cdf")
    se = float((q75 - q25) / 1.3489795003921634)
    est = float(agg.overall.estimate)
    dev = np.abs(theta_star)
    p = float(np.mean(dev >= abs(est - null) * (1.0 - _TIE)))
    # accept theta0 iff #{|theta*| >= |est - theta0|} > alpha * B: the m-th largest |theta*|
    m = math.floor(alpha * dev.size) + 1
    c = float(np.sort(dev)[::-1][m - 1]) if m <= dev.size else math.inf
    notes = [_coarse_note(exact, int(v.shape[0]), alpha, weights)]
    return FewClusterResult(
        method="multiplier_bootstrap",
        estimator="att_gt",
        term=f"overall:{kind}",
        estimate=est,
        std_error=se,
        statistic=(est - null) / se if se > 0 else math.nan,
        p_value=p,
        conf_low=est - c,
        conf_high=est + c,
        alpha=alpha,
        null=null,
        draws=int(v.shape[0]),
        weights=weights,
        exact=exact,
        n_clusters=int(s.size),
        n_treated_clusters=n_treated,
        seed=None if exact else used_seed,
        spec={
            "estimator": "att_gt",
            "aggregation": kind,
            "balance_e": balance_e,
            "min_e": min_e,
            "max_e": max_e,
            "B": draws,
            "weights": weights,
            "seed": None if exact else used_seed,
            "null": null,
            "alpha": alpha,
            "analytic_std_error": se_analytic,
            "att_gt": dict(result.spec),
        },
        warnings=tuple(x for x in notes if x),
    )
