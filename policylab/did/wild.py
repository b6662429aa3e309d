"""Wild cluster bootstrap, Poisson score bootstrap and the Callaway-Sant'Anna multiplier
bootstrap: inference that stays honest with few (treated) clusters.

Why. Treatment is assigned to consortia and a region has 5-15 of them; cluster-robust (CRV1)
t-tests then over-reject (docs/peers.md: 0.70-0.89 coverage of nominal 95% intervals with
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
* bootstrap cluster scores ``s*_h = v_h a_h - sum_g C_hg v_g`` with
  ``C_hg = (X_h'X_h q)' (X'X)^-1 X_g' u_g``,

so everything a draw needs is a ``G``-vector and a ``G x G`` matrix, both affine in
``theta0``. They are computed once from cluster-level sums (no refit, no ``n x B`` matrix);
then ``t*_b(theta0) = (N0_b + theta0 N1_b) / sqrt(c (Q0_b + 2 theta0 Q01_b + theta0^2 Q1_b))``
for any ``theta0`` at ``O(B)`` cost, which makes test inversion (the confidence interval)
cheap: the interval is the set of ``theta0`` whose bootstrap p-value exceeds ``alpha``, found
by bracketing and bisection (``p`` is a step function of ``theta0``).

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

import itertools
import math
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DesignError, FewClustersWarning
from ._checks import (
    ATT_TERM,
    binary_column,
    check_alpha,
    check_frame,
    codes,
    no_missing,
    normalise_cluster,
    numeric_column,
    panel_inputs,
    recode,
)
from .fixed_effects import Factor, fixest_dof_k, is_nested
from .results import DiDResult, FewClusterResult, GroupTimeResult

WeightKind = Literal["rademacher", "webb"]
WEIGHT_KINDS: tuple[str, ...] = ("rademacher", "webb")
#: Webb's (2014) six-point distribution: +-sqrt(1/2), +-1, +-sqrt(3/2), each with prob. 1/6.
WEBB_POINTS = np.array(
    [-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)]
)
DEFAULT_DRAWS = 9999
MIN_DRAWS = 19
_TIE = 1e-8  # relative tolerance for |t*| >= |t|
_CHUNK = 1 << 21  # elements of a draws x clusters block held at once
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


# --------------------------------------------------------------------------- engine


def _indicator(cluster: np.ndarray, n_clusters: int) -> sp.csr_matrix:
    n = cluster.size
    return sp.csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(n_clusters, n))


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

    def tstats(self, theta: np.ndarray) -> np.ndarray:
        """``draws x len(theta)`` bootstrap t statistics."""
        th = np.asarray(theta, dtype=np.float64)[None, :]
        num = self.n0[:, None] + th * self.n1[:, None]
        den = self.q0[:, None] + 2.0 * th * self.q01[:, None] + th * th * self.q1[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(self.ssc * np.clip(den, 0.0, None))


def _t_parts(
    xw: np.ndarray,
    a_inv: np.ndarray,
    q: np.ndarray,
    resid: list[np.ndarray],
    ind: sp.csr_matrix,
    v: np.ndarray,
    ssc: float,
) -> _TParts:
    """Bootstrap-t pieces for residuals ``resid[0] + theta0 * resid[1]`` (one or two vectors).

    ``xw`` is the (weighted) design, ``a_inv = (xw'xw)^-1``, ``q = a_inv r``, ``ind`` the
    clusters x rows indicator and ``v`` the draws x clusters weights.
    """
    xq = xw @ q
    pa = np.asarray(ind @ (xw * xq[:, None])) @ a_inv  # rows: (X_h'X_h q)' (X'X)^-1
    # The bootstrap score of cluster h in draw b is sum_g v_bg K_hg with
    # K = diag(a) - pa s' (a_g = s_g'q, s_g = X_g'u_g): computed as v_bh a_h - pa_h'(s'v_b),
    # O(draws x G x k) rather than forming the G x G matrix K (O(draws x G^2): minutes when
    # thousands of never-members are their own clusters).
    parts = []
    for u in resid:
        s = np.asarray(ind @ (xw * u[:, None]))  # cluster score sums X_g'u_g
        parts.append((s, s @ q))
    draws, g = v.shape
    out = {name: np.zeros(draws) for name in ("n0", "n1", "q0", "q01", "q1")}
    step = max(1, _CHUNK // max(g, 1))

    def scores(blk: np.ndarray, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        return blk * a[None, :] - (blk @ s) @ pa.T

    for lo in range(0, draws, step):
        blk = v[lo : lo + step]
        s0 = scores(blk, *parts[0])
        out["n0"][lo : lo + step] = blk @ parts[0][1]
        out["q0"][lo : lo + step] = np.einsum("ij,ij->i", s0, s0)
        if len(resid) > 1:
            s1 = scores(blk, *parts[1])
            out["n1"][lo : lo + step] = blk @ parts[1][1]
            out["q01"][lo : lo + step] = np.einsum("ij,ij->i", s0, s1)
            out["q1"][lo : lo + step] = np.einsum("ij,ij->i", s1, s1)
    return _TParts(ssc=ssc, **out)


def _pvalues(t_star: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
    """Symmetric bootstrap p-values, one per column of ``t_star`` (draws x m)."""
    thr = np.abs(t_obs) * (1.0 - _TIE)
    return np.mean(np.abs(t_star) >= thr[None, :], axis=0)


def invert_test(
    pvalue: Callable[[np.ndarray], np.ndarray],
    center: float,
    scale: float,
    alpha: float,
    *,
    max_doublings: int = 30,
    grid: int = 48,
    rel_tol: float = 1e-7,
) -> tuple[float, float, list[str]]:
    """Confidence interval ``{theta : p(theta) > alpha}`` of a test whose p-value is a step
    function of the null value ``theta`` (with ``p(center) > alpha``).

    On each side: double the distance from ``center`` until ``p <= alpha`` (else the bound is
    infinite), scan a grid for the outermost accepted point, and bisect to the jump. If the
    accepted set is not connected, the interval is its hull and a note says so.
    """
    notes: list[str] = []
    bounds = []
    scale = scale if (math.isfinite(scale) and scale > 0) else max(abs(center), 1.0)
    for side in (-1.0, 1.0):
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
        acc = pvalue(pts) > alpha
        acc[0] = True
        last = int(np.flatnonzero(acc).max())
        if not acc[: last + 1].all():
            notes.append(
                "the set of null values the bootstrap test does not reject is not an "
                "interval; the reported interval is its hull"
            )
        inside, outside = pts[last], pts[last + 1]
        while abs(outside - inside) > rel_tol * scale:
            mid = 0.5 * (inside + outside)
            if pvalue(np.array([mid]))[0] > alpha:
                inside = mid
            else:
                outside = mid
        bounds.append(0.5 * (inside + outside))
    return bounds[0], bounds[1], notes


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class LinearProblem:
    """An OLS problem ``y = X b + u`` (fixed effects already handled) and the tested
    combination ``r'b``; clusters coded ``0..G-1``."""

    y: np.ndarray
    x: np.ndarray
    cluster: np.ndarray
    r: np.ndarray
    ssc: float
    treated_clusters: int
    #: ``(Z, d)``: the restricted model ``y - theta0 * d = Z c + u`` (same rows and space as
    #: ``x``), when the null imposed on the bootstrap data is not just ``r'b = theta0``.
    null_model: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1


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
) -> dict[str, Any]:
    """The array-level wild cluster bootstrap (used by :func:`wild_bootstrap` and by the
    coverage study). Returns the numbers of a :class:`FewClusterResult`."""
    x, y, r = prob.x, prob.y, prob.r
    xtx = x.T @ x
    a_inv = np.linalg.inv(xtx)
    a_inv = (a_inv + a_inv.T) / 2.0
    beta = a_inv @ (x.T @ y)
    u = y - x @ beta
    q = a_inv @ r
    rq = float(r @ q)
    theta = float(r @ beta)
    g = prob.n_clusters
    ind = _indicator(prob.cluster, g)
    a_hat = np.asarray(ind @ (x * u[:, None])) @ q
    se = math.sqrt(prob.ssc * float(a_hat @ a_hat))
    v, exact = draw_weights(weights, g, draws, seed)
    # Restricted residuals as u(theta0) = u0 + (theta0 - estimate) * u1: centred on the
    # estimate, so that far-away nulls do not magnify rounding errors.
    if impose_null and prob.null_model is not None:
        z, d = prob.null_model
        coef, *_ = np.linalg.lstsq(z, np.column_stack([y, d]), rcond=None)
        mz = np.column_stack([y, d]) - z @ coef
        resid = [mz[:, 0] - theta * mz[:, 1], -mz[:, 1]]
    elif impose_null:
        resid = [u, -(x @ q) / rq]
    else:
        resid = [u]
    parts = _t_parts(x, a_inv, q, resid, ind, v, prob.ssc)

    def t_obs(th: np.ndarray) -> np.ndarray:
        return (theta - np.asarray(th, dtype=np.float64)) / se

    if impose_null:

        def pfun(th: np.ndarray) -> np.ndarray:
            th = np.asarray(th, dtype=np.float64)
            return _pvalues(parts.tstats(th - theta), t_obs(th))

    else:
        t_star = parts.tstats(np.zeros(1))

        def pfun(th: np.ndarray) -> np.ndarray:
            return _pvalues(np.broadcast_to(t_star, (t_star.shape[0], np.size(th))), t_obs(th))

    p = float(pfun(np.array([null]))[0])
    lo = hi = math.nan
    notes: list[str] = []
    if conf_int and se > 0:
        if exact and 2.0 / v.shape[0] > alpha:
            # v and -v = (1, ..., 1) reproduce |t| at every null: p >= 2 / #draws > alpha
            lo, hi = -math.inf, math.inf
        else:
            lo, hi, notes = invert_test(pfun, theta, se, alpha)
    return {
        "estimate": theta,
        "std_error": se,
        "statistic": (theta - null) / se if se > 0 else math.nan,
        "p_value": p,
        "conf_low": lo,
        "conf_high": hi,
        "draws": int(v.shape[0]),
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


def _independent(z: np.ndarray, protected: int) -> np.ndarray:
    """Keep the first ``protected`` columns and the nuisance columns that are not linear
    combinations of the columns before them."""
    scale = np.linalg.norm(z, axis=0)
    keep = np.ones(z.shape[1], dtype=bool)
    keep[protected:] = scale[protected:] > 0
    zz = z[:, keep] / np.where(scale[keep] > 0, scale[keep], 1.0)
    rdiag = np.abs(np.diag(np.linalg.qr(zz, mode="r")))
    idx = np.flatnonzero(keep)
    dep = idx[(rdiag <= 1e-9) & (idx >= protected)]
    keep[dep] = False
    return keep


def _fe_problem(
    y: np.ndarray,
    regressors: np.ndarray,
    unit_codes: np.ndarray,
    time_values: np.ndarray,
    cluster: np.ndarray,
    r_regressors: np.ndarray,
    dof_k: int,
    treated_rows: np.ndarray,
) -> LinearProblem:
    """Firm effects projected out, year effects as explicit dummies (exact when firms are
    nested in clusters, which is checked)."""
    if not is_nested(unit_codes, cluster):
        raise ValueError(
            "the wild cluster bootstrap needs firms nested in the clusters (firm or "
            "consortium clustering); this result's clusters cut across firms"
        )
    tcodes, t_levels = pd.factorize(time_values, sort=True)
    n = y.size
    tdum = np.zeros((n, len(t_levels)))
    tdum[np.arange(n), tcodes] = 1.0
    z = np.column_stack([regressors, tdum[:, 1:]])
    unit = Factor(*recode(unit_codes))
    z = z - unit.means(z)[unit.codes]
    yd = y - unit.means(y[:, None])[unit.codes, 0]
    keep = _independent(z, regressors.shape[1])
    z = z[:, keep]
    r = np.zeros(z.shape[1])
    r[: r_regressors.size] = r_regressors
    g = int(cluster.max()) + 1
    return LinearProblem(
        y=yd,
        x=z,
        cluster=cluster,
        r=r,
        ssc=_crv1_factor(n, g, dof_k),
        treated_clusters=_treated_clusters(cluster, treated_rows),
    )


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


def _panel(result: DiDResult, data: pd.DataFrame, whole_time: bool):
    s = result.spec
    cl = _one_way(s["cluster"])
    return panel_inputs(
        data,
        outcome=s["outcome"],
        unit=s["unit"],
        time=s["time"],
        cluster=normalise_cluster(cl),
        whole_time=whole_time,
    )


def _problem_twfe(result: DiDResult, data: pd.DataFrame, term: str) -> LinearProblem:
    from ._fit import fit_within

    s = result.spec
    if term != ATT_TERM:
        raise ValueError(f"term {term!r} is not an estimate of this result; available: 'att'")
    panel = _panel(result, data, whole_time=False)
    d = binary_column(data, s["treatment"], "treatment")
    fit = fit_within(
        panel.y,
        d[:, None],
        [ATT_TERM],
        row_ok=panel.outcome_rows.keep,
        unit_codes=panel.unit_codes,
        time_values=panel.time,
        unit_name=s["unit"],
        cluster_names=panel.cluster_names,
        cluster_codes=panel.cluster_codes,
        drop_empty=False,
    )
    ever = np.zeros(fit.n_units, dtype=bool)
    ever[fit.unit_codes[d[fit.keep] == 1]] = True
    return _fe_problem(
        panel.y[fit.keep],
        fit.regressors,
        fit.unit_codes,
        panel.time[fit.keep],
        fit.clustering.codes[0],
        np.array([1.0]),
        fit.vcov.dof_k,
        ever[fit.unit_codes],
    )


def _problem_event(result: DiDResult, data: pd.DataFrame, term: str) -> LinearProblem:
    from ._fit import fit_within
    from .dynamic_twfe import HEADLINE_TERM, REFERENCE_EVENT_TIME, event_term, post_weights

    s = result.spec
    panel = _panel(result, data, whole_time=True)
    g = numeric_column(data, s["cohort"], "cohort")
    no_missing(g, s["cohort"], "cohort")
    joins = g != 0
    event = np.where(joins, panel.time - g, 0.0)
    binned = np.clip(event, -s["leads"], s["lags"])
    terms = [e for e in range(-s["leads"], s["lags"] + 1) if e != REFERENCE_EVENT_TIME]
    x = np.column_stack([joins & (binned == e) for e in terms]).astype(np.float64)
    fit = fit_within(
        panel.y,
        x,
        [event_term(e) for e in terms],
        row_ok=panel.outcome_rows.keep,
        unit_codes=panel.unit_codes,
        time_values=panel.time,
        unit_name=s["unit"],
        cluster_names=panel.cluster_names,
        cluster_codes=panel.cluster_codes,
        drop_empty=True,
    )
    names = list(fit.names)
    kept_times = [int(n.split("::")[1]) for n in names]
    if term == HEADLINE_TERM:
        r = post_weights(fit.regressors, kept_times)
    else:
        r = np.zeros(len(names))
        r[_term_index(names, term, [HEADLINE_TERM, *names])] = 1.0
    keep = fit.keep
    treated_obs = joins[keep] & (event[keep] >= 0)
    ever = np.zeros(fit.n_units, dtype=bool)
    ever[fit.unit_codes[treated_obs]] = True
    return _fe_problem(
        panel.y[keep],
        fit.regressors,
        fit.unit_codes,
        panel.time[keep],
        fit.clustering.codes[0],
        r,
        fit.vcov.dof_k,
        ever[fit.unit_codes],
    )


def _staggered_term_weights(cells, term: str) -> np.ndarray:
    """Weights on a staggered estimator's cohort x period cells that make ``term``: the
    overall ATT, an event time, or a cohort (over its post-joining cells), as the
    Sun-Abraham and ETWFE estimators aggregate them."""
    from ._staggered import OVERALL_TERM, cohort_term, event_names, overall_weights, weight_matrix

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
    from .sun_abraham import SunAbrahamSpec, fit_design

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
    from ._staggered import (
        cohort_column,
        staggered_sample,
    )
    from .etwfe import _design
    from .poisson import group_codes, separated_rows

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
    from .aggregate import KINDS, aggregate

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
        warnings.simplefilter("ignore")
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
    x = np.zeros((n, int(col.max()) + 1))
    has = col[c_idx, t_idx] >= 0
    x[np.flatnonzero(has), col[c_idx, t_idx][has]] = 1.0
    cell_n = np.zeros((n_c, n_t))
    np.add.at(cell_n, (c_idx, t_idx), 1.0)
    unit_n = np.array([np.sum(ucoh == c) for c in cohorts], dtype=np.float64)

    r = np.zeros(x.shape[1])

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
    used = np.any(x != 0, axis=0)
    if np.any(r[~used] != 0):
        raise ValueError("internal: the aggregate uses a cohort-by-period cell without data")
    x, r = x[:, used], r[used]
    cluster_all = (
        np.asarray(result.unit_cluster) if result.unit_cluster is not None else None
    )
    cluster = recode(cluster_all[pos] if cluster_all is not None else pos)[0]
    treated = np.isfinite(coh)
    d = (treated & (t_raw >= np.where(treated, coh, 0.0))).astype(np.float64)
    tdum = np.zeros((n, n_t))
    tdum[np.arange(n), t_idx] = 1.0
    if panel:
        unit = Factor(*recode(pos))
        x = x - unit.means(x)[unit.codes]
        yd = y - unit.means(y[:, None])[unit.codes, 0]
        # constant-effect null: y - theta0 D = firm + year effects + u
        z = tdum[:, 1:] - unit.means(tdum[:, 1:])[unit.codes]
        dd = d - unit.means(d[:, None])[unit.codes, 0]
        dof_k = x.shape[1] + 1
    else:
        yd, dd = y, d
        # constant-effect null in the repeated cross-section form: cohort + period effects
        cdum = np.zeros((n, n_c))
        cdum[np.arange(n), c_idx] = 1.0
        z = np.column_stack([cdum, tdum[:, 1:]])
        dof_k = x.shape[1]
    g = int(cluster.max()) + 1
    prob = LinearProblem(
        y=yd,
        x=x,
        cluster=cluster,
        r=r,
        ssc=_crv1_factor(n, g, dof_k),
        treated_clusters=_treated_clusters(cluster, treated),
        null_model=(z, dd) if null_model == "constant_effect" else None,
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
    time, 10-100x on a busy 2-core machine (see ``_cs_inference._dot``)."""
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
    from .poisson import fit_poisson

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
    v, exact = draw_weights(weights, g, draws, seed)

    def parts_at(beta: np.ndarray) -> _TParts:
        mu = np.exp(x @ beta)
        sw = np.sqrt(mu)
        xw = x * sw[:, None]
        a_inv = np.linalg.inv(_wgram(x, mu))
        a_inv = (a_inv + a_inv.T) / 2.0
        _, gr = h(beta)
        return _t_parts(xw, a_inv, a_inv @ gr, [(y - mu) / sw], ind, v, ssc)

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
        "draws": int(v.shape[0]),
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
    B: int = DEFAULT_DRAWS,
    weights: WeightKind = "rademacher",
    seed: int | None = None,
    null: float = 0.0,
    impose_null: bool = True,
    null_model: NullModel | None = None,
    alpha: float | None = None,
    conf_int: bool = True,
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
    B : int
        Bootstrap draws (at least 19). When the weight distribution has at most ``B``
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
    quantity a draw needs is precomputed at cluster level (see the module docstring), so a
    draw costs ``O(G^2)`` and the interval, found by inverting the test over ``theta0``,
    needs no refit. The interval is ``{theta0 : p(theta0) > alpha}``.

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
    >>> wb = wild_bootstrap(res, df, B=999, seed=1)
    >>> wb.exact, wb.draws, wb.n_clusters, wb.n_treated_clusters   # 2**8 sign vectors
    (True, 256, 8, 4)
    >>> bool(wb.conf_low < 0.5 < wb.conf_high)
    True
    """
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
    draws = check_draws(B)
    weights = check_weights(weights)
    seed = check_seed(seed)
    null = check_null(null)
    impose_null = check_flag(impose_null, "impose_null")
    conf_int = check_flag(conf_int, "conf_int")
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
    if estimator == "att_gt":
        prob, reported = _problem_att_gt(result, data, term, null_model)
        out = linear_wild(prob, **options)
        method = WCR if impose_null else WCU
        treated = prob.treated_clusters
    elif estimator == "etwfe":
        ed = _etwfe_design(result, data, term)
        if ed.poisson:
            out = poisson_score_bootstrap(ed, **options)
            method = "score_bootstrap_" + ("restricted" if impose_null else "unrestricted")
            treated = ed.treated_clusters
        else:
            prob = _problem_etwfe_linear(ed)
            out = linear_wild(prob, **options)
            method = WCR if impose_null else WCU
            treated = prob.treated_clusters
    else:
        build = {"did_2x2": _problem_2x2, "twfe": _problem_twfe, "event_study": _problem_event,
                 "sun_abraham": _problem_sun_abraham}
        prob = build[estimator](result, data, term)
        out = linear_wild(prob, **options)
        method = WCR if impose_null else WCU
        treated = prob.treated_clusters
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
        "B": draws,
        "weights": weights,
        "seed": None if out["exact"] else used_seed,
        "null": null,
        "impose_null": impose_null,
        "null_model": null_model if impose_null else None,
        "alpha": alpha,
        "statistic": "CRV1 bootstrap-t, symmetric p-value",
        "result_spec": dict(result.spec),
        "clusters": "the result's (one-way) clusters",
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
    / sum(pg)`` (see :mod:`policylab.did.aggregate`)."""
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
    B: int = DEFAULT_DRAWS,
    weights: WeightKind = "webb",
    seed: int | None = None,
    null: float = 0.0,
    alpha: float | None = None,
    balance_e: int | None = None,
    min_e: int | None = None,
    max_e: int | None = None,
) -> FewClusterResult:
    """Cluster-level multiplier bootstrap of a Callaway-Sant'Anna aggregate.

    The aggregate's influence function is **summed** within clusters (``S_g``; never
    averaged, see docs/peers.md), and each draw is ``theta*_b = sum_g v_bg S_g / n`` with
    Webb (default) or Rademacher multipliers ``v``.

    Parameters
    ----------
    result : GroupTimeResult
        From :func:`att_gt`; its ``cluster`` (or the unit when not clustered) is the
        bootstrap cluster.
    kind : {"simple", "group", "dynamic", "calendar"}
        The aggregation whose overall estimate is bootstrapped (as :func:`aggregate`, with
        ``balance_e``, ``min_e``, ``max_e``).
    B : int
        Draws; all ``6**G`` (Webb) or ``2**G`` (Rademacher) vectors when that is at most
        ``B`` (exact).
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
    >>> mb = multiplier_bootstrap(res, "simple", B=999, seed=1)
    >>> mb.method, mb.weights, mb.n_clusters
    ('multiplier_bootstrap', 'webb', 30)
    """
    from .aggregate import KINDS, aggregate

    if not isinstance(result, GroupTimeResult):
        raise TypeError(
            "multiplier_bootstrap takes the GroupTimeResult of att_gt (it needs the "
            f"influence function) and kind=...; got {type(result).__name__}"
        )
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    draws = check_draws(B)
    weights = check_weights(weights)
    seed = check_seed(seed)
    null = check_null(null)
    alpha = result.alpha if alpha is None else check_alpha(alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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
