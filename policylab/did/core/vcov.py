"""Sandwich covariance estimators and the inference built on them.

Two estimators, chosen by name through :data:`VCOV_ESTIMATORS`:

``"HC1"``
    ``V = n / (n - K) * B (sum_i s_i s_i') B`` with ``B = (X'X)^-1`` and scores
    ``s_i = x_i e_i``. Inference uses Student t with ``n - K`` degrees of freedom (fixest's
    ``"hetero"``; statsmodels ``cov_type="HC1", use_t=True``).
``"CRV1"``
    One-way: ``V = G/(G-1) * (n-1)/(n-K) * B (sum_g S_g S_g') B`` with cluster score sums
    ``S_g``: fixest's default ``ssc(adj = TRUE, fixef.K = "nested", cluster.adj = TRUE)``, which
    equals statsmodels' ``cov_type="cluster"`` when there are no fixed effects. Two-way
    (Cameron, Gelbach and Miller 2011): ``V = V_1 + V_2 - V_12`` where ``V_12`` clusters on the
    intersection; as in fixest's default ``cluster.df = "min"`` every term is scaled by
    ``G_min/(G_min-1) * (n-1)/(n-K)``. When a variance comes out negative, the negative
    eigenvalues are set to zero (CGM's fix, with fixest's trigger) and the result says so.
    Inference uses Student t with ``G_min - 1`` degrees of freedom (fixest ``t.df = "min"``).

``K`` is the number of parameters; for fixed-effects models it follows fixest's nested
convention (:func:`policylab.did.core.fixed_effects.fixest_dof_k`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...errors import DesignError, FewClustersWarning
from ...constants import FEW_CLUSTERS
from .fixed_effects import first_appearance_codes, is_nested
from ..results import Estimate

VcovKind = Literal["HC1", "CRV1"]


@dataclass(frozen=True)
class Clustering:
    """The cluster variable(s) of a CRV1 covariance, on the estimation rows.

    ``codes`` may be any integer labels; they are stored re-coded to ``0..G-1``.
    """

    names: tuple[Hashable, ...]
    codes: tuple[np.ndarray, ...]
    sizes: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        recoded = [_factorize(np.asarray(c)) for c in self.codes]
        object.__setattr__(self, "codes", tuple(recoded))
        object.__setattr__(self, "sizes", tuple(int(c.max()) + 1 for c in recoded))

    @property
    def g_min(self) -> int:
        return min(self.sizes)

    def intersection(self) -> np.ndarray:
        """Codes of the intersection clusters of a two-way clustering (``c1 x c2``)."""
        c1, c2 = self.codes
        return _factorize(c1.astype(np.int64) * self.sizes[1] + c2)

    def treated_clusters(self, treated_rows: np.ndarray) -> tuple[int, ...]:
        """Per dimension, the number of clusters holding at least one treated row."""
        return tuple(
            int(np.count_nonzero(np.bincount(c[treated_rows], minlength=g)))
            for c, g in zip(self.codes, self.sizes, strict=True)
        )


def _factorize(c: np.ndarray) -> np.ndarray:
    """``pandas.factorize(c)[0]`` (codes in order of first appearance); without hashing for
    non-negative integer codes of moderate range, such as codes factorized before."""
    if c.dtype.kind in "iu" and c.size and int(c.min()) >= 0 and int(c.max()) <= 4 * c.size:
        return first_appearance_codes(c)[0]
    return pd.factorize(c)[0]


@dataclass(frozen=True)
class Vcov:
    """A covariance matrix with what inference on it needs."""

    matrix: np.ndarray
    kind: VcovKind
    df: float  # degrees of freedom of the t distribution
    dof_k: int  # K in the small-sample factor
    n_clusters: int  # G (G_min for two-way); 0 when not clustered
    label: str
    notes: tuple[str, ...] = ()


def _sandwich(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    v = bread @ meat @ bread
    return (v + v.T) / 2.0


def _cluster_meat(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``sum_g S_g S_g'`` with ``S_g`` the column sums of ``scores`` in cluster ``g``."""
    g = int(codes.max()) + 1
    sums = np.column_stack(
        [np.bincount(codes, weights=scores[:, j], minlength=g) for j in range(scores.shape[1])]
    )
    return sums.T @ sums


@dataclass(frozen=True)
class TableScores:
    """Scores ``s_i = e_i * table[row_i]`` of a design with few distinct rows.

    For regressors that take few distinct values (indicators of event times, cohorts and
    periods, and their within-transformed versions) the n x p score matrix is never formed:
    cluster sums are taken of the residuals by (cluster, distinct row) and multiplied by the
    table. With ``unit_type`` and ``type_row`` (unit ``u`` at period ``t`` has table row
    ``type_row[unit_type[u], t]``) clustering by unit needs only a unit x period matrix of
    residuals and one ``T x T`` cross product per unit type.
    """

    e: np.ndarray  # (n,) residuals
    row: np.ndarray  # (n,) row of ``table`` of each observation
    table: np.ndarray  # (R, p)
    units: np.ndarray | None = None  # (n,) unit codes 0..U-1
    times: np.ndarray | None = None  # (n,) period codes 0..T-1
    unit_type: np.ndarray | None = None  # (U,) type codes 0..n_types-1
    type_row: np.ndarray | None = None  # (n_types, T) table row, -1 = period not observed

    MAX_TYPES = 2_000

    @property
    def shape(self) -> tuple[int, int]:
        return (self.e.size, self.table.shape[1])

    def outer(self) -> np.ndarray:
        """``sum_i s_i s_i'`` (every observation its own cluster)."""
        e2 = np.bincount(self.row, weights=self.e * self.e, minlength=self.table.shape[0])
        return (self.table.T * e2) @ self.table

    def meat(self, codes: np.ndarray) -> np.ndarray:
        """``sum_g S_g S_g'`` with ``S_g`` the sum of the scores in cluster ``g``."""
        g = int(codes.max()) + 1
        if g == self.e.size:
            return self.outer()
        if (
            self.unit_type is not None
            and self.type_row is not None
            and self.units is not None
            and g == self.unit_type.size
            and self.type_row.shape[0] <= self.MAX_TYPES
            and is_nested(self.units, codes)
        ):
            return self._unit_meat()
        return self._sparse_meat(codes, g)

    def _unit_meat(self) -> np.ndarray:
        assert self.unit_type is not None and self.type_row is not None
        n_units, n_times = self.unit_type.size, self.type_row.shape[1]
        resid = np.zeros((n_units, n_times))
        resid[self.units, self.times] = self.e
        order = np.argsort(self.unit_type, kind="stable")
        bounds = np.searchsorted(self.unit_type[order], np.arange(self.type_row.shape[0] + 1))
        p = self.table.shape[1]
        meat = np.zeros((p, p))
        for k in range(self.type_row.shape[0]):
            rows = self.type_row[k]
            tab = np.where((rows >= 0)[:, None], self.table[np.maximum(rows, 0)], 0.0)
            for lo in range(bounds[k], bounds[k + 1], 1 << 20):
                r = resid[order[lo : min(lo + (1 << 20), bounds[k + 1])]]
                meat += tab.T @ (r.T @ r) @ tab
        return meat

    def _sparse_meat(self, codes: np.ndarray, g: int) -> np.ndarray:
        r, p = self.table.shape
        sums = sp.csr_matrix((self.e, (codes, self.row)), shape=(g, r))
        meat = np.zeros((p, p))
        step = max(1, (1 << 22) // max(p, 1))
        for lo in range(0, g, step):
            s = sums[lo : lo + step] @ self.table
            meat += s.T @ s
        return meat


Scores = np.ndarray | TableScores


def hc1(scores: Scores, bread: np.ndarray, *, dof_k: int, clustering: None = None) -> Vcov:
    """Heteroskedasticity-robust HC1 covariance (``n / (n - K)``)."""
    n = scores.shape[0]
    if n <= dof_k:
        raise DesignError(f"{n} observations cannot identify {dof_k} parameters")
    outer = scores.outer() if isinstance(scores, TableScores) else scores.T @ scores
    v = n / (n - dof_k) * _sandwich(bread, outer)
    return Vcov(
        matrix=v,
        kind="HC1",
        df=float(n - dof_k),
        dof_k=dof_k,
        n_clusters=0,
        label="HC1 heteroskedasticity-robust (n/(n-K) correction; t with n-K df)",
    )


def crv1(scores: Scores, bread: np.ndarray, *, dof_k: int, clustering: Clustering) -> Vcov:
    """Cluster-robust CRV1 covariance, one- or two-way, with fixest's small-sample factor.

    ``scores`` is the n x p matrix ``x_i e_i``, or a :class:`TableScores`.
    """
    n = scores.shape[0]
    if isinstance(scores, TableScores):
        meat_of = scores.meat
    else:
        def meat_of(codes: np.ndarray) -> np.ndarray:
            return _cluster_meat(scores, codes)
    sizes = clustering.sizes
    g = clustering.g_min
    names = clustering.names
    if g < 2:
        raise DesignError(
            f"cluster variable {names[int(np.argmin(sizes))]!r} has a single cluster; "
            "cluster-robust standard errors need at least 2"
        )
    if n <= dof_k:
        raise DesignError(f"{n} observations cannot identify {dof_k} parameters")
    factor = g / (g - 1) * (n - 1) / (n - dof_k)
    notes: tuple[str, ...] = ()
    if len(clustering.codes) == 1:
        meat = meat_of(clustering.codes[0])
        v = factor * _sandwich(bread, meat)
        label = (
            f"CRV1 clustered by {names[0]} (G={g}; fixest small-sample correction "
            f"G/(G-1)*(n-1)/(n-K), K={dof_k})"
        )
    else:
        c1, c2 = clustering.codes
        inter = clustering.intersection()
        meat = meat_of(c1) + meat_of(c2) - meat_of(inter)
        v = factor * _sandwich(bread, meat)
        if np.any(np.diag(v) < 0):
            # Same trigger as fixest (a negative variance); CGM's fix zeroes the negative
            # eigenvalues.
            vals, vecs = np.linalg.eigh(v)
            v = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
            notes = (
                "two-way clustered covariance had a negative variance; its negative "
                "eigenvalues were set to zero (Cameron, Gelbach and Miller 2011)",
            )
        label = (
            f"CRV1 two-way clustered by {names[0]} and {names[1]} (G={sizes[0]} and "
            f"{sizes[1]}; fixest small-sample correction G_min/(G_min-1)*(n-1)/(n-K), "
            f"K={dof_k})"
        )
    return Vcov(
        matrix=v, kind="CRV1", df=float(g - 1), dof_k=dof_k, n_clusters=g, label=label, notes=notes
    )


VCOV_ESTIMATORS: dict[VcovKind, Callable[..., Vcov]] = {"HC1": hc1, "CRV1": crv1}


def compute_vcov(
    kind: VcovKind,
    scores: Scores,
    bread: np.ndarray,
    *,
    dof_k: int,
    clustering: Clustering | None,
) -> Vcov:
    """Dispatch to the covariance estimator registered under ``kind``."""
    try:
        estimator = VCOV_ESTIMATORS[kind]
    except KeyError:
        raise ValueError(f"vcov must be one of {sorted(VCOV_ESTIMATORS)}, got {kind!r}") from None
    return estimator(scores, bread, dof_k=dof_k, clustering=clustering)


def make_estimate(
    term: str,
    estimate: float,
    variance: float,
    *,
    df: float,
    alpha: float,
    event_time: int | None = None,
) -> Estimate:
    """An :class:`Estimate` with a t-based ``1 - alpha`` interval and two-sided p-value."""
    se = float(np.sqrt(variance)) if variance > 0 else 0.0
    from scipy import stats  # imported here: scipy.stats costs ~0.3 s at import

    crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * stats.t.sf(abs(estimate) / se, df)) if se > 0 else float("nan")
    return Estimate(
        term=term,
        estimate=float(estimate),
        std_error=se,
        conf_low=float(estimate - crit * se),
        conf_high=float(estimate + crit * se),
        p_value=p,
        event_time=event_time,
    )


def few_clusters_warning(
    clustering: Clustering | None, treated_rows: np.ndarray, *, stacklevel: int = 3
) -> str | None:
    """Text (and a :class:`FewClustersWarning`) when a cluster dimension has fewer than 30
    clusters, or fewer than 30 clusters with treated firms: with few *treated* clusters CRV1
    intervals under-cover even when the total is large (never-members as singleton clusters)."""
    if clustering is None:
        return None
    sizes = clustering.sizes
    treated = clustering.treated_clusters(treated_rows)
    parts = [
        f"{name!r} has {g} clusters, only {t} with treated firms"
        for name, g, t in zip(clustering.names, sizes, treated, strict=True)
        if g < FEW_CLUSTERS or t < FEW_CLUSTERS
    ]
    if not parts:
        return None
    msg = (
        f"few clusters: {'; '.join(parts)}. Cluster-robust (CRV1) intervals can be too narrow "
        f"with fewer than {FEW_CLUSTERS} (treated) clusters; "
        "consider a wild cluster bootstrap"
    )
    warnings.warn(msg, FewClustersWarning, stacklevel=stacklevel)
    return msg


def clustering_from(names: Sequence[Hashable], codes: Sequence[np.ndarray]) -> Clustering:
    return Clustering(names=tuple(names), codes=tuple(np.asarray(c) for c in codes))
