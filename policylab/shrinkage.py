"""Lab-informed expectations: each region's effect estimated with the help of the others.

The random-effects model that pools the regions (:mod:`policylab.synthesis`) says that region
i's true effect theta_i is drawn around the lab mean mu with between-region variance tau², and
that its own estimate y_i has sampling variance v_i = s_i². Under that model the best estimate
of theta_i is the empirical-Bayes estimate (the empirical best linear unbiased predictor, BLUP)

    blup_i = mu + B_i (y_i - mu),    B_i = tau² / (tau² + v_i),

the region's own estimate pulled toward the lab mean. ``B_i`` is the *own weight*: the share of
the region's estimate that its own data carry ("Kent's own data carry 40 % of this
estimate"); 1 - B_i comes from the lab mean. A region with a precise estimate (small v_i)
or a lab whose regions differ a lot (large tau²) keeps most of its own estimate; with
tau² = 0 every region's estimate is the lab mean.

mu is estimated by the random-effects mean (weights 1 / (v_i + tau²)), with variance
V_mu = 1 / sum 1 / (v_i + tau²). The BLUP's standard error is the square root of its mean
squared error as a prediction of theta_i:

``interval="tau2_known"`` (metafor's ``blup()``; Raudenbush & Bryk 1985, appendix)
    g1 + g2 with g1 = B_i v_i (the region's own uncertainty, shrunk) and
    g2 = (1 - B_i)² V_mu (the uncertainty of the lab mean): tau² is treated as known.
    Never larger than the region's own variance v_i. It ignores that tau² is estimated from
    a handful of regions and under-covers: 0.85-0.94 with 3-10 regions that truly differ
    (studies/SHRINKAGE.md).
``interval="tau2_estimated"`` (default: also the uncertainty of the estimated tau²)
    g1 + g2 + 2 g3 - b (1 - B_i)², with g3 = (1 - B_i)² Var(tau²-hat) / (tau² + v_i), the
    second-order mean squared error of the empirical BLUP (Prasad & Rao 1990), where
    Var(tau²-hat) and its bias b are those of the estimator used: REML 2 / sum w_i², b = 0
    (Datta & Lahiri 2000); Paule–Mandel, which is Fay & Herriot's (1979) estimator,
    2k / (sum w_i)² and b = 2 (k sum w_i² - (sum w_i)²) / (sum w_i)³ (Datta, Rao & Smith
    2005); for DerSimonian–Laird policylab applies the same construction with DL's exact
    variance Var(Q) / c² under the random-effects model and b = 0 (the untruncated DL
    estimator is unbiased). w_i = 1 / (v_i + tau²). These are large-k approximations: with
    3-5 regions they overstate the error, so the result is kept between g1 + g2 and the
    region's own variance v_i (policylab's choice: the lab never makes a region's interval
    wider than its own). Measured coverage 0.94-1.00 with 3-10 regions (studies/SHRINKAGE.md).

Intervals are ``blup ± z se`` with z the normal 1 - alpha/2 quantile (metafor's default). They
are empirical-Bayes intervals: they cover the regions' true effects at the nominal rate *on
average over the regions* of labs like this one, not for every region whatever its true
effect: a region far from the lab mean is pulled too far (in the simulation the default
interval covers a lab's most atypical region 78-100 % of the time; studies/SHRINKAGE.md).

Assumptions: the regions' estimates are independent, normal, with the given standard errors
treated as exact; true effects are exchangeable (no region is known in advance to differ).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .synthesis import METHOD_LABELS, PooledEffect, pool

__all__ = [
    "INTERVALS",
    "SHRINKAGE_COLUMNS",
    "Shrinkage",
    "reml_tau2",
    "expectations",
    "shrink",
    "shrink_pooled",
]

Interval = Literal["tau2_known", "tau2_estimated"]
INTERVALS: dict[str, str] = {
    "tau2_known": "tau² treated as known (metafor's blup)",
    "tau2_estimated": "with the uncertainty of the estimated tau² (Prasad–Rao / Datta–Lahiri, "
                      "capped at the region's own standard error)",
}

#: The tau² estimators shrink accepts (canonical names; "REML", "PM", "DL" are accepted too).
_METHODS = ("reml", "paule_mandel", "dersimonian_laird")
_ALIASES = {"reml": "reml", "pm": "paule_mandel", "paule_mandel": "paule_mandel",
            "dl": "dersimonian_laird", "dersimonian_laird": "dersimonian_laird"}

SHRINKAGE_COLUMNS = [
    "region",
    "estimate",
    "std_error",
    "blup",
    "blup_se",
    "conf_low",
    "conf_high",
    "own_weight",
]

#: Agreement required between a PooledEffect's numbers and those recomputed from the
#: estimates and standard errors handed to :func:`shrink_pooled`.
POOLED_RTOL = 1e-8

_NAN = float("nan")


@dataclass(frozen=True)
class Shrinkage:
    """Each region's lab-informed (empirical-Bayes) estimate; tuples in region order.

    Attributes
    ----------
    regions : tuple of str
        Region keys (labels).
    estimates, std_errors : tuple of float
        The regions' own estimates and standard errors.
    blups, blup_std_errors, conf_low, conf_high : tuple of float
        Lab-informed estimates, their standard errors and ``1 - alpha`` intervals.
    own_weights : tuple of float
        B_i = tau² / (tau² + s_i²) in [0, 1]: the share of the lab-informed estimate carried
        by the region's own data (the rest by the lab mean).
    mu, mu_std_error : float
        The lab mean the regions are pulled toward, and its standard error (NaN for one
        region).
    tau2 : float
        Between-region variance used (NaN for one region).
    method : str
        How tau² was estimated ("reml", "paule_mandel", "dersimonian_laird"), or
        ``"given"`` when it was passed in and no correction needed the estimator.
    interval : str
        ``"tau2_known"`` or ``"tau2_estimated"`` (see the module docstring).
    alpha : float
        Intervals are ``1 - alpha``.
    warnings : tuple of str
        Caveats (one region: nothing pooled; tau² = 0; two regions).
    """

    regions: tuple[str, ...]
    estimates: tuple[float, ...]
    std_errors: tuple[float, ...]
    blups: tuple[float, ...]
    blup_std_errors: tuple[float, ...]
    conf_low: tuple[float, ...]
    conf_high: tuple[float, ...]
    own_weights: tuple[float, ...]
    mu: float
    mu_std_error: float
    tau2: float
    method: str
    interval: str
    alpha: float
    warnings: tuple[str, ...] = ()

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def pooled(self) -> bool:
        """True when the regions were pooled (two or more): the estimates borrow strength."""
        return self.n_regions >= 2

    def tidy(self) -> pd.DataFrame:
        """One row per region (columns :data:`SHRINKAGE_COLUMNS`)."""
        return pd.DataFrame({
            "region": list(self.regions),
            "estimate": self.estimates,
            "std_error": self.std_errors,
            "blup": self.blups,
            "blup_se": self.blup_std_errors,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
            "own_weight": self.own_weights,
        }, columns=SHRINKAGE_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (non-finite numbers stay floats, as elsewhere)."""
        return {
            "mu": self.mu, "mu_std_error": self.mu_std_error, "tau2": self.tau2,
            "method": self.method, "interval": self.interval, "alpha": self.alpha,
            "regions": self.tidy().to_dict(orient="records"),
            "warnings": list(self.warnings),
        }

    def __repr__(self) -> str:
        return (f"Shrinkage(n_regions={self.n_regions}, mu={self.mu:.4g}, tau2={self.tau2:.4g}, "
                f"method={self.method!r}, interval={self.interval!r})")


def _method(method: str) -> str:
    key = _ALIASES.get(str(method).lower()) if isinstance(method, str) else None
    if key is None:
        raise ValueError(f"method must be one of {list(_METHODS)} (or REML, PM, DL); "
                         f"got {method!r}")
    return key


def _check_alpha(alpha: float) -> None:
    if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}")


def _check_interval(interval: str) -> None:
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {list(INTERVALS)}; got {interval!r}")


def _inputs(estimates: Any, std_errors: Any, labels: Sequence[str] | None
            ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    try:
        y = np.asarray(estimates, dtype="float64")
        se = np.asarray(std_errors, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"estimates and standard errors must be numbers: {exc}") from None
    if y.ndim != 1 or y.shape != se.shape:
        raise ValueError("estimates and std_errors must be 1-d and of the same length; got "
                         f"shapes {y.shape} and {se.shape}")
    if len(y) == 0:
        raise ValueError("no region to estimate: estimates is empty")
    bad = [i for i in range(len(y)) if not math.isfinite(y[i])]
    if bad:
        raise ValueError(f"estimates must be finite; not at positions {bad}")
    bad = [i for i in range(len(se)) if not (math.isfinite(se[i]) and se[i] > 0)]
    if bad:
        raise ValueError(f"standard errors must be finite and positive; not at positions {bad}")
    if labels is None:
        names = tuple(str(i + 1) for i in range(len(y)))
    else:
        names = tuple(str(r) for r in labels)
        if len(names) != len(y):
            raise ValueError(f"{len(names)} labels for {len(y)} estimates")
        if len(set(names)) != len(names):
            raise ValueError("labels must be distinct")
    return y, se, names


def reml_tau2(estimates: Sequence[float], std_errors: Sequence[float]) -> float:
    """REML between-region variance: the root of the restricted likelihood's score

        sum w_i² (y_i - mu_w)² - sum w_i + sum w_i² / sum w_i = 0,  w_i = 1 / (v_i + tau²),

    found by bracketing (the score is negative for large tau² when k >= 2), or 0 when the
    score at 0 is not positive (tau² = 0 is then a maximum of the restricted likelihood on
    [0, ∞); a second, interior maximum is possible in principle and not searched for).
    """
    from scipy.optimize import brentq

    y = np.asarray(estimates, dtype="float64")
    v = np.asarray(std_errors, dtype="float64") ** 2
    if len(y) < 2:
        raise ValueError("REML needs at least two estimates")

    def score(t: float) -> float:
        w = 1.0 / (v + t)
        sw = w.sum()
        m = float(w @ y / sw)
        w2 = w * w
        return float(w2 @ (y - m) ** 2 - sw + w2.sum() / sw)

    if score(0.0) <= 0:
        return 0.0
    hi = max(float(np.var(y)), float(v.max()), 1e-12)
    for _ in range(200):
        if score(hi) < 0:
            break
        hi *= 2.0
    else:  # pragma: no cover - the score is negative at large tau² whenever k >= 2
        raise ValueError("the REML score equation has no root: tau² could not be estimated")
    return float(brentq(score, 0.0, hi, xtol=1e-15 * hi, rtol=4 * np.finfo(float).eps,
                        maxiter=500))


def _tau2_variance_and_bias(method: str, v: np.ndarray, tau2: float) -> tuple[float, float]:
    """Asymptotic variance and bias of the tau² estimator at tau2 (see the module docstring)."""
    w = 1.0 / (v + tau2)
    k = len(v)
    s1, s2 = float(w.sum()), float((w * w).sum())
    if method == "reml":
        return 2.0 / s2, 0.0
    if method == "paule_mandel":
        return 2.0 * k / s1**2, 2.0 * (k * s2 - s1**2) / s1**3
    # DerSimonian–Laird: tau² = (Q - df) / c with fixed-effect weights u_i = 1 / v_i;
    # Var(Q) = 2 tr((A Sigma)²), A = U - u u' / S1, Sigma = diag(v + tau²)
    u = 1.0 / v
    t1, t2, t3 = float(u.sum()), float((u**2).sum()), float((u**3).sum())
    c = t1 - t2 / t1
    var_q = 2.0 * ((k - 1) + 2.0 * tau2 * c + tau2**2 * (t2 - 2.0 * t3 / t1 + t2**2 / t1**2))
    return var_q / c**2, 0.0


_ONE_REGION = ("only one region: nothing to pool; the estimate is the region's own "
               "(own weight 100 %)")


def _single(y: np.ndarray, se: np.ndarray, names: tuple[str, ...], method: str,
            interval: str, alpha: float) -> Shrinkage:
    from scipy import stats

    z = float(stats.norm.isf(alpha / 2))
    e, s = float(y[0]), float(se[0])
    return Shrinkage(
        regions=names, estimates=(e,), std_errors=(s,), blups=(e,), blup_std_errors=(s,),
        conf_low=(e - z * s,), conf_high=(e + z * s,), own_weights=(1.0,), mu=_NAN,
        mu_std_error=_NAN, tau2=_NAN, method=method, interval=interval, alpha=float(alpha),
        warnings=(_ONE_REGION,),
    )


def _compute(y: np.ndarray, se: np.ndarray, names: tuple[str, ...], tau2: float, mu: float,
             mu_se: float, method: str, interval: str, alpha: float,
             notes: list[str]) -> Shrinkage:
    from scipy import stats

    v = se**2
    own = tau2 / (tau2 + v)          # B_i
    lab = v / (tau2 + v)             # 1 - B_i, computed without cancellation
    # mu + B (y - mu) near B = 0, y - (1 - B)(y - mu) near B = 1: exact at both ends
    blup = np.where(own <= 0.5, mu + own * (y - mu), y - lab * (y - mu))
    g1 = own * v
    g2 = lab**2 * mu_se**2
    mse = g1 + g2
    if interval == "tau2_estimated":
        var_t, bias = _tau2_variance_and_bias(method, v, tau2)
        g3 = lab**2 * var_t / (tau2 + v)
        mse = np.minimum(mse + np.maximum(0.0, 2.0 * g3 - bias * lab**2), v)
    blup_se = np.sqrt(mse)
    z = float(stats.norm.isf(alpha / 2))
    if tau2 == 0:
        notes.append("tau² is 0: the regions' estimates differ no more than sampling error "
                     "explains, so every region's lab-informed estimate is the lab mean "
                     "(own weight 0 %)")
    if len(y) == 2:
        notes.append("only 2 regions: tau², and so every own weight, rests on very little "
                     "information")

    def tup(a: np.ndarray) -> tuple[float, ...]:
        return tuple(float(x) for x in a)

    return Shrinkage(
        regions=names, estimates=tup(y), std_errors=tup(se), blups=tup(blup),
        blup_std_errors=tup(blup_se), conf_low=tup(blup - z * blup_se),
        conf_high=tup(blup + z * blup_se), own_weights=tup(own), mu=float(mu),
        mu_std_error=float(mu_se), tau2=float(tau2), method=method, interval=interval,
        alpha=float(alpha), warnings=tuple(notes),
    )


def shrink(
    estimates: Sequence[float],
    std_errors: Sequence[float],
    *,
    tau2: float | None = None,
    method: str = "REML",
    interval: Interval = "tau2_estimated",
    alpha: float = 0.05,
    labels: Sequence[str] | None = None,
) -> Shrinkage:
    """Each region's lab-informed (empirical-Bayes, BLUP) estimate of its true effect.

    Parameters
    ----------
    estimates, std_errors : sequence of float
        Each region's own estimate and standard error (finite; SEs positive), in the
        estimate's unit (pp, %, EUR, ...); the results are in the same unit.
    tau2 : float, optional
        Between-region variance (unit²) to use; estimated by ``method`` when omitted. When
        given with ``interval="tau2_estimated"``, ``method`` names the estimator that
        produced it (its variance enters the correction).
    method : {"REML", "paule_mandel" (PM), "dersimonian_laird" (DL)}
        The tau² estimator; REML is metafor's default, Paule–Mandel policylab's pooling
        default (``pool``), whose tau² it reuses exactly.
    interval : {"tau2_estimated", "tau2_known"}
        The standard error's approximation (module docstring): with the uncertainty of the
        estimated tau² (default), or metafor's ``blup()`` (tau² known).
    alpha : float
        Intervals are ``1 - alpha`` (normal critical value).
    labels : sequence of str, optional
        Region keys; "1", "2", ... when omitted.

    Returns
    -------
    Shrinkage
        With one region nothing is pooled: its own estimate, SE and interval, own weight 1,
        and NaN lab mean and tau² (a warning says so).

    Raises
    ------
    ValueError
        Empty or mismatched inputs, a non-finite estimate, a non-positive or non-finite SE,
        a negative or non-finite tau2, an unknown method or interval, alpha outside (0, 1).

    Examples
    --------
    >>> out = shrink([0.1, 0.3], [0.1, 0.1], tau2=0.01)
    >>> [round(x, 6) for x in (out.mu, *out.own_weights, *out.blups)]  # mu, weights, BLUPs
    [0.2, 0.5, 0.5, 0.15, 0.25]
    """
    canonical = _method(method)
    _check_interval(interval)
    _check_alpha(alpha)
    y, se, names = _inputs(estimates, std_errors, labels)
    if tau2 is not None:
        try:
            t = float(tau2)
        except (TypeError, ValueError):
            raise ValueError(f"tau2 must be a number; got {tau2!r}") from None
        if not (math.isfinite(t) and t >= 0):
            raise ValueError(f"tau2 must be finite and non-negative; got {tau2!r}")
    if len(y) == 1:
        return _single(y, se, names, canonical if tau2 is None else "given", interval, alpha)
    notes: list[str] = []
    if tau2 is None:
        if canonical in METHOD_LABELS:  # the pooling's own estimator: the very same tau²
            out = pool(y, se, method=canonical)  # type: ignore[arg-type]
            t = float(out["tau2"])
            if not out["converged"]:
                notes.append("the Paule–Mandel iteration did not converge; tau² is approximate")
        else:
            t = reml_tau2(y, se)
        used = canonical
    else:
        used = canonical if interval == "tau2_estimated" else "given"
    w = 1.0 / (se**2 + t)
    mu = float(w @ y / w.sum())
    mu_se = float(1.0 / np.sqrt(w.sum()))
    return _compute(y, se, names, t, mu, mu_se, used, interval, alpha, notes)


def _aligned(values: Mapping[str, float] | Sequence[float], regions: tuple[str, ...],
             what: str) -> list[float]:
    if isinstance(values, Mapping):
        missing = [r for r in regions if r not in values]
        if missing:
            raise ValueError(f"no {what} for pooled region(s) {missing}")
        return [float(values[r]) for r in regions]
    seq = list(values)
    if len(seq) != len(regions):
        raise ValueError(f"{len(seq)} {what} for {len(regions)} pooled regions "
                         f"({', '.join(regions)}); pass them in that order or as a mapping")
    return [float(x) for x in seq]


def shrink_pooled(
    pooled: PooledEffect,
    estimates: Mapping[str, float] | Sequence[float] | None = None,
    std_errors: Mapping[str, float] | Sequence[float] | None = None,
    *,
    interval: Interval = "tau2_estimated",
) -> Shrinkage:
    """The lab-informed estimates of the regions a :class:`PooledEffect` pooled, with the
    pooled result's own tau², lab mean and its standard error (so they agree with the forest
    plot), its ``alpha`` and its tau² estimator (for ``interval="tau2_estimated"``).

    Parameters
    ----------
    pooled : PooledEffect
        The pooled effect; only ``pooled.regions`` are shrunk (its ``excluded`` are not).
    estimates, std_errors : mapping region -> float, or sequences in ``pooled.regions`` order
        The numbers each region entered the pooling with (for a region with a few-cluster
        interval, the standard error ``synthesis.few_cluster_std_error`` gave). When omitted,
        read from ``pooled.estimates`` / ``pooled.std_errors`` if the record carries them.
    interval : {"tau2_known", "tau2_estimated"}
        As in :func:`shrink`.

    Raises
    ------
    ValueError
        When no region was pooled, when the inputs are missing or unusable, or when they do
        not reproduce the pooled mean, its standard error and the regions' weights (relative
        tolerance :data:`POOLED_RTOL`): they are then not the numbers that were pooled.
    """
    _check_interval(interval)
    regions = tuple(pooled.regions)
    if not regions:
        raise ValueError(f"no region was pooled for {pooled.outcome!r}: nothing to shrink")
    if estimates is None:
        estimates = getattr(pooled, "estimates", None) or None  # () from an older record
    if std_errors is None:
        std_errors = getattr(pooled, "std_errors", None) or None
    if estimates is None or std_errors is None:
        raise ValueError("pass the regions' estimates and standard errors (the PooledEffect "
                         "does not carry them)")
    y, se, names = _inputs(_aligned(estimates, regions, "estimates"),
                           _aligned(std_errors, regions, "standard errors"), regions)
    method = _method(pooled.method)
    if len(y) == 1:
        return _single(y, se, names, method, interval, pooled.alpha)
    tau2, mu, mu_se = float(pooled.tau2), float(pooled.estimate), float(pooled.std_error)
    if not all(math.isfinite(x) for x in (tau2, mu, mu_se)) or tau2 < 0 or mu_se <= 0:
        raise ValueError(f"the pooled effect of {pooled.outcome!r} has no usable tau², mean "
                         "or standard error")
    w = 1.0 / (se**2 + tau2)
    mu_check, se_check = float(w @ y / w.sum()), float(1.0 / np.sqrt(w.sum()))
    weights = w / w.sum()
    tol = POOLED_RTOL
    if (abs(mu_check - mu) > tol * max(abs(mu), mu_se)
            or abs(se_check - mu_se) > tol * mu_se
            or (len(pooled.weights) == len(weights)
                and not np.allclose(weights, pooled.weights, rtol=tol, atol=0))):
        raise ValueError(
            f"these estimates and standard errors are not the ones pooled for "
            f"{pooled.outcome!r}: they give a lab mean {mu_check:.6g} (SE {se_check:.6g}) "
            f"where the pooled effect has {mu:.6g} (SE {mu_se:.6g}); pass the standard errors "
            "the regions entered the pooling with (few_cluster_std_error)")
    return _compute(y, se, names, tau2, mu, mu_se, method, interval, float(pooled.alpha), [])


def expectations(pooled: PooledEffect | None) -> Shrinkage | None:
    """The planning figures of a pooled effect (:func:`shrink_pooled` with the numbers the
    regions entered the pooling with), or None when nothing was pooled."""
    if pooled is None or not pooled.pooled or len(pooled.estimates) != len(pooled.regions):
        return None
    return shrink_pooled(pooled)


def expected_records(pooled: PooledEffect) -> dict[str, dict[str, Any]]:
    """``results.json``'s ``expected`` record of each pooled region (by region key)."""
    found = expectations(pooled)
    if found is None:
        return {}
    return {r: {"estimate": b, "std_error": se, "conf_low": lo, "conf_high": hi,
                "own_weight": w, "interval": found.interval}
            for r, b, se, lo, hi, w in zip(found.regions, found.blups, found.blup_std_errors,
                                           found.conf_low, found.conf_high, found.own_weights)}
