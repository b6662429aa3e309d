"""Across regions: the pooled lab-wide effect of each outcome by random-effects meta-analysis.

Each region is estimated on its own data, so its headline estimate and standard error are
treated as one independent study. The pooled effect is the inverse-variance weighted mean
under a random-effects model: every region has its own true effect, drawn around a lab-wide
mean with between-region variance tau². The arithmetic is statsmodels'
(:func:`statsmodels.stats.meta_analysis.combine_effects`); this module chooses the inputs,
truncates what statsmodels leaves untruncated, and packs the answer into a frozen record.

Definitions (k regions with estimates y_i and standard errors s_i, df = k - 1):

- fixed-effect weights w_i = 1 / s_i²; Cochran's Q = sum w_i (y_i - ȳ_w)², where ȳ_w is the
  fixed-effect (inverse-variance) mean. Under "every region has the same effect" Q follows a
  chi² distribution with df degrees of freedom: ``q_p_value`` is the test of equal effects.
- I² = max(0, (Q - df) / Q): the share of the spread between regions' estimates that is more
  than sampling error (statsmodels reports (Q - df) / Q without the floor).
- tau² by Paule–Mandel (default: the generalised Q with weights 1/(s_i² + tau²) equals df;
  recommended over DerSimonian–Laird by the methods literature) or DerSimonian–Laird
  (tau² = max(0, (Q - df) / (sum w - sum w² / sum w)); statsmodels does not apply the floor).
- pooled estimate = sum v_i y_i / sum v_i with v_i = 1 / (s_i² + tau²); standard error
  1 / sqrt(sum v_i); normal-theory interval and two-sided p-value.

A region whose headline interval comes from a few-cluster method (fewer treated consortia
than the threshold, see ``few_cluster_std_error``) enters with the standard error that interval
implies, when larger than the analytic one, so the pooled interval inherits the correction.

Regions whose estimate or standard error is missing, non-finite or (for the SE) not positive,
or whose few-cluster interval is unbounded, are left out and listed in ``excluded`` with the reason; so are regions of the lab that have no
estimate of that outcome at all. With fewer than two regions nothing is pooled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from .region_results import RegionEffect

__all__ = [
    "METHOD_LABELS",
    "TIDY_COLUMNS",
    "PooledEffect",
    "Synthesis",
    "TauMethod",
    "pool",
    "synthesize",
]

TauMethod = Literal["paule_mandel", "dersimonian_laird"]
_METHODS: tuple[str, ...] = ("paule_mandel", "dersimonian_laird")
_STATSMODELS_NAME = {"paule_mandel": "pm", "dersimonian_laird": "dl"}

#: Display names of the between-region variance estimators.
METHOD_LABELS = {"paule_mandel": "Paule–Mandel", "dersimonian_laird": "DerSimonian–Laird"}

#: Convergence of the Paule–Mandel iteration: |Q(tau²) - df| below this (statsmodels' default
#: is 1e-5, loose enough to leave tau² visibly off in the 4th digit).
PM_ATOL = 1e-12
PM_MAXITER = 500

TIDY_COLUMNS = [
    "outcome",
    "estimator",
    "term",
    "method",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "tau2",
    "i2",
    "q",
    "q_df",
    "q_p_value",
    "n_regions",
    "regions",
    "excluded",
]


@dataclass(frozen=True)
class PooledEffect:
    """The lab-wide effect of one outcome (one regional estimator), pooled across regions.

    Attributes
    ----------
    outcome, estimator, term : str
        What was pooled: the regions' headline ``term`` of ``estimator`` for ``outcome``.
    method : str
        The tau² estimator: ``"paule_mandel"`` or ``"dersimonian_laird"``.
    alpha : float
        The interval is ``1 - alpha``.
    estimate, std_error, conf_low, conf_high, p_value : float
        Random-effects pooled estimate and its inference (normal theory); NaN when fewer than
        two regions could be pooled.
    fixed_estimate, fixed_std_error : float
        The fixed-effect (common-effect, inverse-variance) mean, for reference.
    tau2, i2, q, q_p_value : float
        Between-region variance, I² (0–1), Cochran's Q and the p-value of the test that every
        region has the same effect (chi² with ``q_df`` degrees of freedom).
    q_df : int
        Number of pooled regions minus one.
    regions : tuple of str
        Region keys pooled, in input order; ``weights`` are their relative random-effects
        weights (same order, summing to 1).
    excluded : tuple of (str, str)
        Region keys left out and why.
    warnings : tuple of str
        Caveats (too few regions, no convergence).
    """

    outcome: str
    estimator: str
    term: str
    method: str
    alpha: float
    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    p_value: float
    fixed_estimate: float
    fixed_std_error: float
    tau2: float
    i2: float
    q: float
    q_df: int
    q_p_value: float
    regions: tuple[str, ...]
    weights: tuple[float, ...]
    excluded: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    #: what each pooled region entered with (its estimate and the standard error used,
    #: few-cluster-implied where wider), in ``regions`` order
    estimates: tuple[float, ...] = ()
    std_errors: tuple[float, ...] = ()

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def pooled(self) -> bool:
        """True when at least two regions were pooled (the estimate is a number)."""
        return len(self.regions) >= 2 and math.isfinite(self.estimate)

    def _region_records(self) -> list[dict[str, Any]]:
        rows = [{"region": r, "weight": w} for r, w in zip(self.regions, self.weights)]
        if len(self.estimates) == len(rows):
            for row, y, se in zip(rows, self.estimates, self.std_errors):
                row.update(estimate=y, std_error=se)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return {
            "outcome": self.outcome,
            "estimator": self.estimator,
            "term": self.term,
            "method": self.method,
            "alpha": self.alpha,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
            "p_value": self.p_value,
            "fixed_estimate": self.fixed_estimate,
            "fixed_std_error": self.fixed_std_error,
            "tau2": self.tau2,
            "i2": self.i2,
            "q": self.q,
            "q_df": self.q_df,
            "q_p_value": self.q_p_value,
            "n_regions": self.n_regions,
            "regions": self._region_records(),
            "excluded": [{"region": r, "reason": why} for r, why in self.excluded],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Synthesis:
    """Every pooled effect of one evaluation (one per outcome and regional estimator)."""

    pooled: tuple[PooledEffect, ...]
    method: str = "paule_mandel"

    def get(self, outcome: str, estimator: str | None = None) -> PooledEffect | None:
        """The pooled effect of ``outcome`` (of ``estimator``, or the first one), or None."""
        for p in self.pooled:
            if p.outcome == outcome and (estimator is None or p.estimator == estimator):
                return p
        return None

    def tidy(self) -> pd.DataFrame:
        """One row per pooled effect (columns :data:`TIDY_COLUMNS`); ``regions`` and
        ``excluded`` are ``;``-separated region keys."""
        rows = [
            {
                "outcome": p.outcome, "estimator": p.estimator, "term": p.term,
                "method": p.method, "estimate": p.estimate, "std_error": p.std_error,
                "conf_low": p.conf_low, "conf_high": p.conf_high, "p_value": p.p_value,
                "tau2": p.tau2, "i2": p.i2, "q": p.q, "q_df": p.q_df,
                "q_p_value": p.q_p_value, "n_regions": p.n_regions,
                "regions": ";".join(p.regions), "excluded": ";".join(r for r, _ in p.excluded),
            }
            for p in self.pooled
        ]
        return pd.DataFrame(rows, columns=TIDY_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "pooled": [p.to_dict() for p in self.pooled]}


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}; got {method!r}")


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}")


def _usable(estimate: Any, std_error: Any) -> str | None:
    """Why an estimate cannot be pooled, or None if it can."""
    def finite(v: Any) -> bool:
        try:
            return v is not None and not pd.isna(v) and math.isfinite(float(v))
        except (TypeError, ValueError):
            return False

    if not finite(estimate):
        return "no estimate"
    if not finite(std_error) or float(std_error) <= 0:
        return "no standard error"
    return None


_NAN = float("nan")


def pool(
    estimates: Sequence[float],
    std_errors: Sequence[float],
    *,
    method: TauMethod = "paule_mandel",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Random-effects pooling of independent estimates (all must be finite, SEs positive).

    Parameters
    ----------
    estimates, std_errors : sequence of float
        One estimate and standard error per study (region); at least two.
    method : {"paule_mandel", "dersimonian_laird"}
        The estimator of the between-study variance tau².
    alpha : float
        The interval is ``1 - alpha``.

    Returns
    -------
    dict
        ``estimate, std_error, conf_low, conf_high, p_value, fixed_estimate, fixed_std_error,
        tau2, i2, q, q_df, q_p_value, weights, converged``.

    Examples
    --------
    >>> out = pool([0.1, 0.3], [0.1, 0.1], method="dersimonian_laird")
    >>> round(out["estimate"], 6), round(out["q"], 6), out["q_df"]
    (0.2, 2.0, 1)
    """
    from scipy import stats
    from statsmodels.stats.meta_analysis import combine_effects

    _check_method(method)
    _check_alpha(alpha)
    y = np.asarray(estimates, dtype="float64")
    se = np.asarray(std_errors, dtype="float64")
    if y.ndim != 1 or y.shape != se.shape:
        raise ValueError("estimates and std_errors must be 1-d and of the same length")
    if len(y) < 2:
        raise ValueError(f"pooling needs at least two estimates; got {len(y)}")
    if not (np.isfinite(y).all() and np.isfinite(se).all() and (se > 0).all()):
        raise ValueError("estimates must be finite and standard errors finite and positive")
    var = se**2
    kwds = {"atol": PM_ATOL, "maxiter": PM_MAXITER} if method == "paule_mandel" else {}
    # statsmodels takes the sqrt of DL's negative raw tau² and divides by Q (0 when all agree)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = combine_effects(y, var, method_re=_STATSMODELS_NAME[method], alpha=alpha, **kwds)
    k = len(y)
    df = k - 1
    w_fixed = 1.0 / var
    # Cochran's Q as its definition, sum w (y - ybar)²: never negative (statsmodels' expanded
    # form loses it to cancellation when the weights are huge, e.g. an SE of 1e-15)
    q = float(np.sum(w_fixed * (y - np.sum(w_fixed * y) / np.sum(w_fixed)) ** 2))
    converged = True
    tau2 = float(res.tau2)
    if method == "paule_mandel":
        # statsmodels' iteration can stop at tau² = 0 although Q(0) > df (e.g. standard errors
        # 0.06, 0.029, 0.025, 0.032, 0.044, 0.028 with Q = 10.2 on 5 df): solve the estimating
        # equation with a bracketing root finder instead.
        tau2, converged = _paule_mandel_tau2(y, var, df)
    if tau2 <= 0:
        # DerSimonian–Laird's (Q - df) / c is negative when Q < df: floored at 0, where the
        # random-effects weights are the fixed-effect ones.
        tau2 = 0.0
    w = 1.0 / (var + tau2)
    estimate = float(w @ y / w.sum())
    std_error = float(1.0 / np.sqrt(w.sum()))
    crit = float(stats.norm.isf(alpha / 2))
    z = estimate / std_error
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return {
        "estimate": estimate,
        "std_error": std_error,
        "conf_low": estimate - crit * std_error,
        "conf_high": estimate + crit * std_error,
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "fixed_estimate": float(res.mean_effect_fe),
        "fixed_std_error": float(res.sd_eff_w_fe),
        "tau2": tau2,
        "i2": i2,
        "q": q,
        "q_df": df,
        "q_p_value": float(stats.chi2.sf(q, df)),
        "weights": tuple(float(v) for v in w / w.sum()),
        "converged": bool(converged),
    }


def _paule_mandel_tau2(y: np.ndarray, var: np.ndarray, df: int) -> tuple[float, bool]:
    """Paule–Mandel tau²: the root of sum w_i (y_i - ȳ_w)² = df with w_i = 1/(var_i + tau²)
    (the generalised Q decreases in tau²), or 0 when Q(0) <= df. Returns (tau², converged)."""
    from scipy.optimize import brentq

    def excess(t: float) -> float:
        w = 1.0 / (var + t)
        m = float(w @ y / w.sum())
        return float(w @ (y - m) ** 2) - df

    if excess(0.0) <= 0:
        return 0.0, True
    hi = max(float(np.var(y)), float(var.max()), 1e-12)
    for _ in range(200):
        if excess(hi) < 0:
            break
        hi *= 2.0
    else:
        return hi, False
    t = brentq(excess, 0.0, hi, xtol=PM_ATOL, rtol=1e-14, maxiter=PM_MAXITER)
    return float(t), abs(excess(t)) <= 1e-6 * max(1.0, df)


def _empty(outcome: str, estimator: str, term: str, method: str, alpha: float,
           regions: tuple[str, ...], estimates: list[float], excluded: list[tuple[str, str]],
           warning: str) -> PooledEffect:
    return PooledEffect(
        outcome=outcome, estimator=estimator, term=term, method=method, alpha=alpha,
        estimate=_NAN, std_error=_NAN, conf_low=_NAN, conf_high=_NAN, p_value=_NAN,
        fixed_estimate=_NAN, fixed_std_error=_NAN, tau2=_NAN, i2=_NAN, q=_NAN,
        q_df=max(len(regions) - 1, 0), q_p_value=_NAN, regions=regions,
        weights=tuple(1.0 for _ in estimates), excluded=tuple(excluded), warnings=(warning,),
    )


def few_cluster_std_error(effect: RegionEffect, alpha: float) -> float:
    """The standard error a region enters the pooling with.

    When the region's headline interval comes from a few-cluster method
    (``effect.inference["used"]``), its analytic standard error is too small; the pooling
    then uses the larger of it and the one the interval implies, (high - low) / (2 z), with
    z the normal 1 - alpha/2 quantile. Otherwise the analytic standard error.
    """
    from scipy import stats

    h = effect.result.headline
    se = float(h.std_error)
    inference = getattr(effect, "inference", None) or {}
    if not inference.get("used"):
        return se
    lo, hi = float(h.conf_low), float(h.conf_high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return se
    implied = (hi - lo) / (2.0 * float(stats.norm.ppf(1.0 - alpha / 2.0)))
    return max(se, implied)


def synthesize(
    effects: Iterable[RegionEffect],
    *,
    regions: Iterable[str] | None = None,
    method: TauMethod = "paule_mandel",
    alpha: float = 0.05,
) -> Synthesis:
    """Pool each outcome's regional headline estimates into a lab-wide effect.

    Parameters
    ----------
    effects : iterable of RegionEffect
        The regional estimates (``region`` key, ``outcome``, ``result`` with a ``headline``
        estimate and ``method``). Estimates of different estimators are pooled separately;
        a region may appear once per outcome and estimator.
    regions : iterable of str, optional
        Every region key of the lab; those without an estimate of an outcome are listed in
        ``excluded`` as "not estimated".
    method : {"paule_mandel", "dersimonian_laird"}
        The tau² estimator.
    alpha : float
        The pooled interval is ``1 - alpha``.

    Returns
    -------
    Synthesis
        One :class:`PooledEffect` per (outcome, estimator), in order of first appearance.
    """
    _check_method(method)
    _check_alpha(alpha)
    groups: dict[tuple[str, str], list[RegionEffect]] = {}
    for eff in effects:
        key = (str(eff.outcome), str(eff.result.method))
        members = groups.setdefault(key, [])
        if any(e.region == eff.region for e in members):
            raise ValueError(f"region {eff.region!r} has two {key[1]} estimates of {key[0]!r}")
        members.append(eff)
    lab_regions = list(dict.fromkeys(regions)) if regions is not None else []
    other_methods: dict[tuple[str, str], list[str]] = {}
    for (outcome, estimator), members in groups.items():
        for eff in members:
            other_methods.setdefault((outcome, eff.region), []).append(estimator)
    pooled = []
    for (outcome, estimator), members in groups.items():
        term = str(members[0].result.headline.term)
        keys: list[str] = []
        ys: list[float] = []
        ses: list[float] = []
        excluded: list[tuple[str, str]] = []
        widened = 0
        for eff in members:
            h = eff.result.headline
            reason = _usable(h.estimate, h.std_error)
            if reason is None and (eff.inference or {}).get("used") and not (
                    math.isfinite(float(h.conf_low)) and math.isfinite(float(h.conf_high))):
                # the few-cluster interval is unbounded: the data do not bound the effect, and
                # the analytic standard error would wrongly weigh it in
                reason = "unbounded interval (few-cluster inference)"
            if reason is None:
                keys.append(eff.region)
                ys.append(float(h.estimate))
                se = few_cluster_std_error(eff, alpha)
                widened += se > float(h.std_error)
                ses.append(se)
            else:
                excluded.append((eff.region, reason))
        present = {e.region for e in members}
        for r in lab_regions:
            if r in present:
                continue
            others = other_methods.get((outcome, r), [])
            excluded.append((r, f"only estimated by {' and '.join(others)}"
                             if others else "not estimated"))
        if len(keys) < 2:
            why = ("no region has an estimate" if not keys
                   else "only one region has an estimate: nothing to pool")
            pooled.append(_empty(outcome, estimator, term, method, alpha, tuple(keys), ys,
                                 excluded, why))
            continue
        out = pool(ys, ses, method=method, alpha=alpha)
        notes = []
        if len(keys) < 3:
            notes.append(f"only {len(keys)} regions: the between-region variance (tau²) and "
                         "the test of equal effects rest on very little information")
        if not out["converged"]:
            notes.append("the Paule–Mandel iteration did not converge; tau² is approximate")
        if widened:
            notes.append(f"{widened} of {len(keys)} regions' standard errors are those implied by "
                         "their few-cluster intervals (wider than the analytic ones)")
        pooled.append(PooledEffect(
            outcome=outcome, estimator=estimator, term=term, method=method, alpha=float(alpha),
            estimate=out["estimate"], std_error=out["std_error"], conf_low=out["conf_low"],
            conf_high=out["conf_high"], p_value=out["p_value"],
            fixed_estimate=out["fixed_estimate"], fixed_std_error=out["fixed_std_error"],
            tau2=out["tau2"], i2=out["i2"], q=out["q"], q_df=out["q_df"],
            q_p_value=out["q_p_value"], regions=tuple(keys), weights=out["weights"],
            excluded=tuple(excluded), warnings=tuple(notes), estimates=tuple(ys),
            std_errors=tuple(ses),
        ))
    return Synthesis(tuple(pooled), method=method)
