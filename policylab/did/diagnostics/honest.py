"""HonestDiD sensitivity analysis: confidence sets that stay valid when parallel trends fail.

Rambachan and Roth (2023, *Review of Economic Studies*, "A More Credible Approach to Parallel
Trends") write the event-study coefficients as ``beta = tau + delta``: ``tau`` is the
dynamic effect (zero before treatment) and ``delta`` the difference in trends that a
violation of parallel trends adds. The pre-period coefficients estimate ``delta_pre``; a
restriction ``delta in Delta`` says how far the post-period violation may go beyond what the
pre-periods show. For ``theta = l' tau_post`` (one event time, or the average of the post
periods) :func:`honest_did` reports the confidence set that is valid for every ``delta`` in
``Delta``, for a grid of restriction sizes, and the *breakdown value*: the largest size for
which the set still excludes zero.

Restrictions (periods in Rambachan-Roth time: pre ``-T_pre..-1``, reference ``0`` with
``delta_0 = 0``, post ``1..T_post``; policylab's event time ``e`` is RR time ``e + 1``):

``"relative_magnitude"`` (``Delta^RM(Mbar)``)
    every post-period change ``|delta_{t+1} - delta_t|``, ``t >= 0``, is at most ``Mbar``
    times the largest pre-period change ``max_{s<0} |delta_{s+1} - delta_s|``. ``Mbar = 1``:
    the post-period violation is no worse than the worst pre-period one.
``"smoothness"`` (``Delta^SD(M)``)
    the slope of the trend difference changes by at most ``M`` between consecutive periods,
    ``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M``. ``M = 0``: the violation
    is a linear trend (extrapolated from the pre-periods).

Methods, as the defaults of the R package ``HonestDiD``:

``"C-LF"`` (default for relative magnitudes)
    The conditional test of Andrews, Roth and Pakes (2023, ARP) with the least-favourable
    hybrid first stage (size ``kappa = alpha / 10``), inverted over ``theta``.
    ``Delta^RM`` is a union of ``2 * T_pre`` polyhedra (which pre-period change is the
    largest, and its sign); a ``theta`` is in the set when it is accepted for one of them.
``"Conditional"``
    The same test without the hybrid first stage.
``"FLCI"`` (default for smoothness)
    The optimal fixed-length confidence interval: an affine estimator ``v' beta_hat``
    whose weights minimise the half-length ``sd * cv_alpha(max bias / sd)``, where
    ``cv_alpha(b)`` is the ``1 - alpha`` quantile of ``|N(b, 1)|`` (Armstrong and Kolesar).

Implementation notes (what differs from the R code, and why):

* The ARP test is computed exactly from the vertices of the dual polytope of its linear
  programme ``min eta s.t. Y - X tau <= eta * sd``: ``eta_hat = max_v gamma_v' Y``, and the
  truncation points ``V_lo, V_up`` of the conditional test are the values of ``x`` at which
  another vertex overtakes the optimal one along ``S + c x``. This is the conditioning event
  of ARP's primal ("LICQ") and dual (bisection) computations, without iterations, and is
  vectorised over ``theta``. Designs with many post periods, whose dual polytopes have too
  many candidate bases to list, use the linear programmes directly (HiGHS).
* The endpoints of the inverted test are located on a grid and then refined by bisection,
  so they do not depend on a grid resolution; ``grid=(lower, upper, points)`` reproduces the
  R package's reported interval instead (smallest and largest accepted grid point).
* The least-favourable critical value is simulated (seeded, ``lf_draws`` draws); R uses
  1,000 draws of its own generator, so intervals may differ where the first stage binds.
* The folded-normal quantile of the FLCI is computed exactly (R simulates 10^6 draws).
* With a single post period R's no-nuisance LF hybrid neither truncates the second stage at
  the first-stage critical value nor adjusts its size; here every case uses ARP's hybrid
  (second stage at level ``(alpha - kappa) / (1 - kappa)``, conditioned on passing the first
  stage), and the critical value is never below 0, as ARP prescribe.
* The original (non-robust) interval is ``l' beta_post +/- z * sd``, normal as in R's
  ``constructOriginalCS``, so that it is comparable with the robust sets (policylab's event
  study reports t intervals with ``G - 1`` degrees of freedom).
* Work that does not depend on the restriction size is done once, with the same numbers
  as doing it each time (``benchmarks/HONEST.md``): the dual vertices are enumerated once
  per design (they are the extreme rays of a cone that does not involve ``sd``; later
  sizes re-solve one remembered basis per vertex), the least-favourable stage reuses its
  standard normal draws and evaluates all the polyhedra of a size in one product, the
  FLCI keeps its estimator family and starting weights, the breakdown search reuses the
  reported sizes, and deciding whether a set excludes 0 bisects an endpoint only when 0
  is in its grid cell.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special, stats

from ...constants import FEW_CLUSTERS
from ..results import AggregateResult, DiDResult, Estimate, Summarised

__all__ = ["METHODS", "RESTRICTIONS", "HonestDiDResult", "honest_did"]

Restriction = Literal["relative_magnitude", "smoothness"]
Method = Literal["C-LF", "Conditional", "FLCI"]
RESTRICTIONS: tuple[str, ...] = ("relative_magnitude", "smoothness")
METHODS: tuple[str, ...] = ("C-LF", "Conditional", "FLCI")
DEFAULT_METHOD = {"relative_magnitude": "C-LF", "smoothness": "FLCI"}
DEFAULT_MBAR = (0.0, 0.5, 1.0, 1.5, 2.0)

HONEST_TIDY_COLUMNS = ["term", "restriction", "M", "conf_low", "conf_high", "method"]

# Above this many candidate bases the dual vertices are not listed; the LPs are solved instead.
MAX_BASES = 1_000_000
_TOL = 1e-9


# --------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HonestDiDResult(Summarised):
    """Robust confidence sets of one Rambachan-Roth sensitivity analysis, frozen.

    Attributes
    ----------
    restriction : str
        ``"relative_magnitude"`` (``M`` holds values of ``Mbar``) or ``"smoothness"``
        (``M`` in outcome units per period squared).
    method : str
        ``"C-LF"``, ``"Conditional"`` or ``"FLCI"``.
    term : str
        The parameter: ``"event_time::0"`` or ``"average_post"`` (``l_vec`` gives the
        weights on the post-period effects).
    M, conf_low, conf_high : ndarray
        Restriction sizes and the robust ``1 - alpha`` set for each (its smallest and largest
        point; ``-inf``/``inf`` when it is unbounded, NaN when it is empty, i.e. the
        restriction is rejected by the pre-period coefficients).
    original : Estimate
        ``l' beta_post`` with its normal interval, valid under exact parallel trends.
    breakdown : float or None
        Largest restriction size whose robust set excludes 0 (``inf`` if every size up to
        the search limit does; ``None`` when the set at size 0 already contains 0).
        Found by bisection to a relative precision of ``1e-3``.
    l_vec, betahat, sigma : ndarray
        Inputs: weights on the post periods, coefficients (pre then post) and covariance.
    pre_event_times, post_event_times : tuple of int
        Event times of the coefficients (policylab convention: ``-1`` is the reference).
    alpha : float
    source : str
        ``"event_study"``, ``"aggregate:dynamic"`` or ``"arrays"``.
    spec : dict
        Arguments of the call.
    warnings : tuple of str
        What a reader must know (binned end points, few clusters, open or empty sets).
    """

    restriction: str
    method: str
    term: str
    M: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    original: Estimate
    breakdown: float | None
    l_vec: np.ndarray
    betahat: np.ndarray
    sigma: np.ndarray
    pre_event_times: tuple[int, ...]
    post_event_times: tuple[int, ...]
    alpha: float
    source: str
    spec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for a in (self.M, self.conf_low, self.conf_high, self.l_vec, self.betahat, self.sigma):
            a.setflags(write=False)

    def __repr__(self) -> str:
        from ..results import _estimate_text, _n, _num, _warned

        grid = (f"{_n(self.M.size, 'restriction size')} {_num(self.M.min())}-{_num(self.M.max())}"
                if self.M.size else "no restriction sizes")
        bd = ("none (the set at 0 already contains 0)" if self.breakdown is None
              else _num(self.breakdown))
        return (f"HonestDiDResult(restriction={self.restriction!r}, method={self.method!r}: "
                f"original {_estimate_text(self.original, self.alpha)}; {grid}, breakdown "
                f"{bd}{_warned(self.warnings)})")

    @property
    def num_pre(self) -> int:
        return len(self.pre_event_times)

    @property
    def num_post(self) -> int:
        return len(self.post_event_times)

    def tidy(self) -> pd.DataFrame:
        """The original interval, then one row per restriction size.

        Columns: ``term``, ``restriction`` (``"none"`` for the original interval),
        ``M`` (``Mbar`` or ``M``; NaN for the original), ``conf_low``, ``conf_high``,
        ``method`` (``"original"``, ``"C-LF"``, ``"Conditional"`` or ``"FLCI"``).
        """
        n = self.M.size
        return pd.DataFrame(
            {
                "term": [self.term] * (n + 1),
                "restriction": ["none"] + [self.restriction] * n,
                "M": np.r_[np.nan, self.M],
                "conf_low": np.r_[self.original.conf_low, self.conf_low],
                "conf_high": np.r_[self.original.conf_high, self.conf_high],
                "method": ["original"] + [self.method] * n,
            },
            columns=HONEST_TIDY_COLUMNS,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (non-finite numbers as ``None``)."""

        def num(x: float | None) -> float | None:
            return float(x) if x is not None and math.isfinite(x) else None

        return {
            "method": f"honest_did:{self.method}",
            "restriction": self.restriction,
            "term": self.term,
            "alpha": self.alpha,
            "original": self.original.to_dict(),
            "robust": [
                {"M": float(m), "conf_low": num(lo), "conf_high": num(hi)}
                for m, lo, hi in zip(self.M, self.conf_low, self.conf_high, strict=True)
            ],
            "breakdown": None
            if self.breakdown is None
            else ("inf" if math.isinf(self.breakdown) else float(self.breakdown)),
            "l_vec": [float(x) for x in self.l_vec],
            "pre_event_times": list(self.pre_event_times),
            "post_event_times": list(self.post_event_times),
            "source": self.source,
            "spec": self.spec,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------


def honest_did(
    result: DiDResult | AggregateResult | Sequence[float] | np.ndarray,
    sigma: np.ndarray | None = None,
    *,
    num_pre: int | None = None,
    num_post: int | None = None,
    restriction: Restriction = "relative_magnitude",
    Mbar: float | Sequence[float] | None = None,
    M: float | Sequence[float] | None = None,
    e: int | Literal["average"] = 0,
    l_vec: Sequence[float] | np.ndarray | None = None,
    alpha: float = 0.05,
    method: Method | None = None,
    breakdown: bool = True,
    grid: tuple[float, float, int] | None = None,
    grid_points: int = 1000,
    lf_draws: int = 10_000,
    seed: int = 0,
) -> HonestDiDResult:
    """Rambachan-Roth robust confidence sets for a post-period effect of an event study.

    Parameters
    ----------
    result : DiDResult, AggregateResult or array
        An event study: :func:`~policylab.did.event_study` (or another result whose
        estimates are ``event_time::e`` terms with the reference ``-1`` left out), a
        Callaway-Sant'Anna :func:`~policylab.did.estimators.callaway_santanna.aggregate` result of kind ``"dynamic"``
        computed with ``base_period="universal"``, or the coefficient vector itself (pre
        periods first, then post periods; give ``sigma``, ``num_pre`` and ``num_post``).
    sigma : ndarray, optional
        Covariance of the coefficient vector (only with an array ``result``).
    num_pre, num_post : int, optional
        Numbers of pre- and post-period coefficients (only with an array ``result``). The
        coefficients must be consecutive periods with the reference period, normalised to 0,
        between the last pre and the first post period.
    restriction : {"relative_magnitude", "smoothness"}
        ``Delta^RM(Mbar)`` or ``Delta^SD(M)`` (see the module docstring).
    Mbar : float or sequence, optional
        Sizes of the relative-magnitude restriction (default ``0, 0.5, 1, 1.5, 2``).
    M : float or sequence, optional
        Sizes of the smoothness restriction, in outcome units (default: 10 values from 0 to
        the upper ``1 - alpha`` bound of the largest pre-period second difference, as R's
        ``DeltaSD_upperBound_Mpre``; with one pre period, up to its standard error).
    e : int or "average"
        The effect at event time ``e`` (0 = the first post period), or the average of all
        post-period effects. Ignored when ``l_vec`` is given.
    l_vec : array, optional
        Weights on the post-period effects: the parameter is ``l_vec' tau_post``.
    alpha : float
        ``1 - alpha`` confidence sets.
    method : {"C-LF", "Conditional", "FLCI"}, optional
        Default ``"C-LF"`` for relative magnitudes and ``"FLCI"`` for smoothness (the R
        package's defaults). ``"FLCI"`` is available for smoothness only.
    breakdown : bool
        Compute the breakdown value (a bisection over the restriction size).
    grid : (lower, upper, points), optional
        Test-inversion methods only: report the smallest and largest accepted point of
        ``numpy.linspace(lower, upper, points)``, as the R package does, instead of the
        refined endpoints.
    grid_points : int
        Points of the initial search grid of the test-inversion methods (the endpoints are
        then refined by bisection).
    lf_draws, seed : int
        Draws and seed of the simulated least-favourable critical value (``"C-LF"``).

    Returns
    -------
    HonestDiDResult
        ``.tidy()`` has the original and the robust intervals; ``.breakdown`` the
        breakdown value.

    Raises
    ------
    ValueError
        Bad option values; coefficients that are not consecutive event times around the
        reference; a dynamic aggregate without a universal base period.

    Examples
    --------
    >>> import numpy as np
    >>> beta = np.array([0.01, -0.01, 0.20, 0.25])          # e = -3, -2 | 0, 1
    >>> V = np.diag([0.02, 0.02, 0.03, 0.03]) ** 2
    >>> res = honest_did(beta, V, num_pre=2, num_post=2, Mbar=[0.5, 1.0])
    >>> res.tidy()[["restriction", "M", "method"]].to_dict("list")["method"]
    ['original', 'C-LF', 'C-LF']
    >>> bool(res.conf_low[0] > 0 and res.breakdown > 1)
    True
    """
    if restriction not in RESTRICTIONS:
        raise ValueError(
            f"restriction must be one of {', '.join(map(repr, RESTRICTIONS))}; got {restriction!r}"
        )
    method = DEFAULT_METHOD[restriction] if method is None else method
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    if method == "FLCI" and restriction != "smoothness":
        raise ValueError(
            "method 'FLCI' is only available for restriction='smoothness'; use 'C-LF' or "
            "'Conditional' for relative magnitudes"
        )
    if restriction == "relative_magnitude" and M is not None:
        raise ValueError("restriction='relative_magnitude' takes Mbar, not M")
    if restriction == "smoothness" and Mbar is not None:
        raise ValueError("restriction='smoothness' takes M, not Mbar")
    alpha = _check_alpha(alpha)
    if grid is not None:
        if len(grid) != 3 or not grid[0] < grid[1] or int(grid[2]) < 2:
            raise ValueError(
                f"grid must be (lower, upper, points) with lower < upper, got {grid!r}"
            )
        if method == "FLCI":
            raise ValueError("grid applies to the test-inversion methods, not to 'FLCI'")
    for name, v in (("grid_points", grid_points), ("lf_draws", lf_draws)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 10:
            raise ValueError(f"{name} must be an integer >= 10, got {v!r}")

    inputs = _event_study_inputs(result, sigma, num_pre, num_post)
    beta, Sig, npre, npost = inputs.betahat, inputs.sigma, inputs.num_pre, inputs.num_post
    if restriction == "relative_magnitude" and npre < 1:
        raise ValueError("relative magnitudes need at least one pre-period coefficient")
    lv, term = _l_vector(l_vec, e, inputs.post_event_times)

    sd_theta = float(np.sqrt(lv @ Sig[npre:, npre:] @ lv))
    est = float(lv @ beta[npre:])
    z = float(stats.norm.ppf(1 - alpha / 2))
    original = Estimate(
        term=term,
        estimate=est,
        std_error=sd_theta,
        conf_low=est - z * sd_theta,
        conf_high=est + z * sd_theta,
        p_value=float(2 * stats.norm.sf(abs(est) / sd_theta)) if sd_theta > 0 else float("nan"),
        event_time=int(inputs.post_event_times[int(np.argmax(lv))])
        if term != "average_post" and term.startswith("event_time::")
        else None,
    )

    if restriction == "relative_magnitude":
        sizes = _sizes(Mbar, DEFAULT_MBAR, "Mbar")
    else:
        sizes = _sizes(M, None, "M")
        if sizes is None:
            sizes = tuple(np.linspace(0.0, _sd_upper_bound_m(beta, Sig, npre, alpha), 10))

    # The solvers work in units of the estimate's standard error: their tolerances are
    # absolute, and outcomes in euros (SEs ~1e4) otherwise gave unbounded sets at every size.
    # Relative magnitudes (Mbar) are scale-free; smoothness sizes M and the grid scale.
    c = 1.0 / sd_theta if (np.isfinite(sd_theta) and sd_theta > 0) else 1.0
    in_units = 1.0 if restriction == "relative_magnitude" else c
    solver = _Solver(
        beta * c, Sig * (c * c), npre, npost, lv, alpha, restriction, method,
        grid=None if grid is None else (grid[0] * c, grid[1] * c, grid[2]),
        grid_points=int(grid_points), lf_draws=int(lf_draws), seed=int(seed),
    )  # fmt: skip
    lows, highs = [], []
    for m in sizes:
        lo, hi = solver.interval(m * in_units)
        lows.append(lo / c)
        highs.append(hi / c)
    notes = list(inputs.notes)
    lows_a, highs_a = np.array(lows, dtype=float), np.array(highs, dtype=float)
    for m, lo, hi in zip(sizes, lows_a, highs_a, strict=True):
        if np.isnan(lo):
            notes.append(
                f"the robust confidence set at {'Mbar' if restriction == 'relative_magnitude' else 'M'}"
                f" = {m:g} is empty: the pre-period coefficients reject that restriction"
            )
        elif np.isinf(lo) or np.isinf(hi):
            notes.append(
                f"the robust confidence set at {m:g} is unbounded: the data cannot bound the "
                "effect under that restriction"
            )
    if grid is not None and np.any(np.isclose(lows_a, grid[0]) | np.isclose(highs_a, grid[1])):
        notes.append("the confidence set reaches an end of the supplied grid; widen the grid")

    bd = solver.breakdown(sd_theta * c) if breakdown else None
    if bd is not None and np.isfinite(bd):
        bd = bd / in_units

    spec = {
        "restriction": restriction,
        "method": method,
        "sizes": [float(m) for m in sizes],
        "e": e if l_vec is None else None,
        "l_vec": [float(x) for x in lv],
        "alpha": alpha,
        "grid": list(grid) if grid is not None else None,
        "grid_points": int(grid_points),
        "lf_draws": int(lf_draws) if method == "C-LF" else None,
        "seed": int(seed) if method == "C-LF" else None,
        "hybrid_kappa": alpha / 10 if method == "C-LF" else None,
    }
    return HonestDiDResult(
        restriction=restriction,
        method=method,
        term=term,
        M=np.array(sizes, dtype=float),
        conf_low=lows_a,
        conf_high=highs_a,
        original=original,
        breakdown=bd,
        l_vec=lv.copy(),
        betahat=beta.copy(),
        sigma=Sig.copy(),
        pre_event_times=inputs.pre_event_times,
        post_event_times=inputs.post_event_times,
        alpha=alpha,
        source=inputs.source,
        spec=spec,
        warnings=tuple(dict.fromkeys(notes)),
    )


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    betahat: np.ndarray
    sigma: np.ndarray
    num_pre: int
    num_post: int
    pre_event_times: tuple[int, ...]
    post_event_times: tuple[int, ...]
    source: str
    notes: tuple[str, ...]


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise TypeError(f"alpha must be a number in (0, 1), got {alpha!r}")
    a = float(alpha)
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return a


def _sizes(value: object, default: tuple[float, ...] | None, name: str) -> tuple[float, ...] | None:
    if value is None:
        return default
    vals = np.atleast_1d(np.asarray(value, dtype=float))
    if vals.ndim != 1 or vals.size == 0 or not np.all(np.isfinite(vals)) or np.any(vals < 0):
        raise ValueError(
            f"{name} must be a non-negative number or a non-empty list of them, got {value!r}"
        )
    return tuple(float(v) for v in vals)


def _check_sigma(sigma: np.ndarray, n: int) -> np.ndarray:
    S = np.asarray(sigma, dtype=float)
    if S.shape != (n, n):
        raise ValueError(f"sigma must be a {n} x {n} matrix, got shape {S.shape}")
    if not np.all(np.isfinite(S)):
        raise ValueError("sigma has missing or infinite entries")
    if not np.allclose(S, S.T, rtol=1e-8, atol=1e-14 * max(1.0, np.abs(S).max())):
        raise ValueError("sigma must be symmetric")
    S = (S + S.T) / 2
    if np.any(np.diag(S) <= 0):
        raise ValueError("every coefficient needs a positive variance (diagonal of sigma)")
    if np.linalg.eigvalsh(S).min() < -1e-10 * np.abs(S).max():
        raise ValueError("sigma must be positive semi-definite")
    return S


def _consecutive(times: list[int], ref: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    pre = sorted(t for t in times if t < ref)
    post = sorted(t for t in times if t > ref)
    want_pre = list(range(ref - len(pre), ref))
    want_post = list(range(ref + 1, ref + 1 + len(post)))
    if pre != want_pre or post != want_post:
        raise ValueError(
            "the event-time coefficients must be consecutive periods around the reference "
            f"period {ref} (got {sorted(times)}); the restrictions compare adjacent periods"
        )
    if not post:
        raise ValueError("no post-period coefficient: nothing to bound")
    return tuple(pre), tuple(post)


def _event_study_inputs(
    result: object, sigma: object, num_pre: int | None, num_post: int | None
) -> _Inputs:
    notes: list[str] = []
    if isinstance(result, DiDResult):
        if sigma is not None or num_pre is not None or num_post is not None:
            raise ValueError("sigma, num_pre and num_post are only for an array of coefficients")
        idx = [i for i, est in enumerate(result.estimates) if est.event_time is not None]
        if not idx:
            raise ValueError(
                f"the {result.method} result has no event-time coefficients; pass an event study"
            )
        times = [int(result.estimates[i].event_time) for i in idx]  # type: ignore[arg-type]
        if -1 in times:
            raise ValueError("event time -1 must be the omitted reference period")
        pre_t, post_t = _consecutive(times, -1)
        order = [idx[times.index(t)] for t in (*pre_t, *post_t)]
        beta = np.array([result.estimates[i].estimate for i in order], dtype=float)
        V = np.asarray(result.vcov, dtype=float)[np.ix_(order, order)]
        if any("binned" in w for w in result.warnings):
            notes.append(
                "the end-point event-time coefficients average several binned years; the "
                "restrictions treat them as single adjacent periods"
            )
        _few_clusters_note(notes, result.n_clusters)
        source = result.method
    elif isinstance(result, AggregateResult):
        if sigma is not None or num_pre is not None or num_post is not None:
            raise ValueError("sigma, num_pre and num_post are only for an array of coefficients")
        if result.kind != "dynamic":
            raise ValueError(
                f"honest_did needs an event study: aggregate(..., kind='dynamic'), got {result.kind!r}"
            )
        att_spec = result.spec.get("att_gt", {})
        if att_spec.get("base_period") != "universal":
            raise ValueError(
                "use att_gt(..., base_period='universal') for honest_did: with a varying base "
                "period the pre-period effects are period-to-period changes, not deviations "
                "from a common reference"
            )
        ref = -1 - int(att_spec.get("anticipation", 0) or 0)
        keys = [int(k) for k in result.keys]
        keep = [i for i, k in enumerate(keys) if k != ref]
        times = [keys[i] for i in keep]
        pre_t, post_t = _consecutive(times, ref)
        order = [keep[times.index(t)] for t in (*pre_t, *post_t)]
        beta = np.asarray(result.estimates, dtype=float)[order]
        V = np.asarray(result.vcov, dtype=float)[np.ix_(order, order)]
        _few_clusters_note(notes, result.n_clusters)
        source = "aggregate:dynamic"
    else:
        try:
            beta = np.asarray(result, dtype=float)
        except (TypeError, ValueError):
            beta = np.zeros((0, 0))
        if beta.ndim != 1 or beta.size == 0:
            raise TypeError(
                "result must be a DiDResult, a dynamic AggregateResult or a 1-d array of "
                f"coefficients, got {type(result).__name__}"
            )
        if sigma is None or num_pre is None or num_post is None:
            raise ValueError("with an array of coefficients give sigma, num_pre and num_post")
        for name, v in (("num_pre", num_pre), ("num_post", num_post)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if num_post < 1:
            raise ValueError("num_post must be at least 1")
        if num_pre + num_post != beta.size:
            raise ValueError(
                f"num_pre + num_post = {num_pre + num_post} but betahat has {beta.size} entries"
            )
        if not np.all(np.isfinite(beta)):
            raise ValueError("betahat has missing or infinite entries")
        V = sigma  # checked below
        pre_t = tuple(range(-1 - int(num_pre), -1))
        post_t = tuple(range(int(num_post)))
        source = "arrays"
    V = _check_sigma(V, beta.size)  # type: ignore[arg-type]
    return _Inputs(beta, V, len(pre_t), len(post_t), pre_t, post_t, source, tuple(notes))


def _few_clusters_note(notes: list[str], n_clusters: int) -> None:
    if 0 < n_clusters < FEW_CLUSTERS:
        notes.append(
            f"the robust sets treat the covariance of the coefficients as known; with "
            f"{n_clusters} clusters the clustered covariance is itself imprecise"
        )


def _l_vector(l_vec: object, e: object, post_times: tuple[int, ...]) -> tuple[np.ndarray, str]:
    n = len(post_times)
    if l_vec is not None:
        lv = np.asarray(l_vec, dtype=float).ravel()
        if lv.size != n or not np.all(np.isfinite(lv)) or not np.any(lv != 0):
            raise ValueError(f"l_vec must be {n} finite weights, not all zero; got {l_vec!r}")
        nz = np.flatnonzero(lv)
        if nz.size == 1 and lv[nz[0]] == 1.0:
            return lv, f"event_time::{post_times[nz[0]]}"
        return lv, "l_vec"
    if isinstance(e, str):
        if e != "average":
            raise ValueError(f"e must be an event time or 'average', got {e!r}")
        return np.full(n, 1.0 / n), "average_post"
    if isinstance(e, bool) or not isinstance(e, (int, np.integer)):
        raise TypeError(f"e must be an event time or 'average', got {e!r}")
    if int(e) not in post_times:
        raise ValueError(f"e = {e} is not a post-period event time (have {list(post_times)})")
    lv = np.zeros(n)
    lv[post_times.index(int(e))] = 1.0
    return lv, f"event_time::{int(e)}"


# --------------------------------------------------------------------------------------
# restriction sets as polyhedra  {delta : A delta <= d}
# --------------------------------------------------------------------------------------


def _first_differences(n_pre: int, n_post: int) -> np.ndarray:
    """Rows ``delta_{t+1} - delta_t`` on the extended vector (reference included)."""
    T = n_pre + n_post
    F = np.zeros((T, T + 1))
    F[np.arange(T), np.arange(T)] = -1.0
    F[np.arange(T), np.arange(T) + 1] = 1.0
    return F


def _second_differences(n_pre: int, n_post: int) -> np.ndarray:
    T = n_pre + n_post
    D = np.zeros((max(T - 1, 0), T + 1))
    for r in range(T - 1):
        D[r, r : r + 3] = (1.0, -2.0, 1.0)
    return D


def _drop_reference(A: np.ndarray, n_pre: int) -> np.ndarray:
    return np.delete(A, n_pre, axis=1)


def rm_polyhedra(n_pre: int, n_post: int, mbar: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """``Delta^RM(Mbar)`` as the union of ``2 * n_pre`` polyhedra ``(A, d)``.

    Piece ``(s, sign)`` says that the pre-period change ``s`` (between positions ``s`` and
    ``s + 1`` of the extended vector) is the largest in absolute value, with that sign:
    ``|pre change r| <= sign * change_s`` for every pre change and ``|post change t| <= Mbar *
    sign * change_s`` for every post change. This is the representation of the R package
    (rows that are identically zero dropped), which the conditional test depends on.
    """
    F = _first_differences(n_pre, n_post)
    out = []
    for s in range(n_pre):
        for sign in (1.0, -1.0):
            v = sign * F[s]
            ub = np.vstack([np.tile(v, (n_pre, 1)), np.tile(mbar * v, (n_post, 1))])
            A = np.vstack([F - ub, -F - ub])
            A = A[np.einsum("ij,ij->i", A, A) > 1e-20]
            A = _drop_reference(A, n_pre)
            out.append((A, np.zeros(A.shape[0])))
    return out


def _rm_polyhedra_stacked(n_pre: int, n_post: int, mbar: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rm_polyhedra` as one ``(2 n_pre, rows, T)`` stack and its ``d`` (the same
    numbers: every piece drops one identically-zero row)."""
    F = _first_differences(n_pre, n_post)
    v = np.concatenate([[sign * F[s] for sign in (1.0, -1.0)] for s in range(n_pre)])
    ub = np.concatenate(
        [
            np.broadcast_to(v[:, None, :], (v.shape[0], n_pre, v.shape[1])),
            np.broadcast_to((mbar * v)[:, None, :], (v.shape[0], n_post, v.shape[1])),
        ],
        axis=1,
    )
    A = np.concatenate([F - ub, -F - ub], axis=1)
    keep = np.einsum("kij,kij->ki", A, A) > 1e-20
    counts = keep.sum(axis=1)
    if np.any(counts != counts[0]):  # not expected; the list form handles it
        polys = rm_polyhedra(n_pre, n_post, mbar)
        return np.stack([a for a, _ in polys]), np.stack([d for _, d in polys])
    A = A[keep].reshape(A.shape[0], int(counts[0]), A.shape[2])
    A = np.delete(A, n_pre, axis=2)
    return A, np.zeros(A.shape[:2])


def sd_polyhedron(n_pre: int, n_post: int, m: float) -> tuple[np.ndarray, np.ndarray]:
    """``Delta^SD(M)``: ``|second difference| <= M`` at every interior period."""
    D = _drop_reference(_second_differences(n_pre, n_post), n_pre)
    A = np.vstack([D, -D])
    return A, np.full(A.shape[0], float(m))


def _post_rows(A: np.ndarray, n_pre: int, n_post: int) -> np.ndarray:
    """Rows the ARP test uses: with several post periods only those that involve a post
    coefficient (R's ``postPeriodMomentsOnly = TRUE``); with one post period all rows."""
    if n_post > 1:
        return np.flatnonzero(np.any(np.abs(A[:, n_pre:]) > 0, axis=1))
    return np.arange(A.shape[0])


def identified_set(
    polyhedra: list[tuple[np.ndarray, np.ndarray]], beta: np.ndarray, n_pre: int, lv: np.ndarray
) -> tuple[float, float]:
    """Bounds of ``theta = l' tau_post`` when ``beta`` is known and ``delta`` lies in the
    union of ``polyhedra`` (``nan, nan`` if ``beta_pre`` is outside every piece)."""
    T = beta.size
    c = np.r_[np.zeros(n_pre), lv]
    a_eq = np.hstack([np.eye(n_pre), np.zeros((n_pre, T - n_pre))])
    lo, hi = np.inf, -np.inf
    for A, d in polyhedra:
        bounds = [(None, None)] * T
        vals = []
        for sense in (1.0, -1.0):
            r = optimize.linprog(
                sense * c, A_ub=A, b_ub=d, A_eq=a_eq if n_pre else None,
                b_eq=beta[:n_pre] if n_pre else None, bounds=bounds, method="highs",
            )  # fmt: skip
            if r.status == 2:  # infeasible piece
                vals = []
                break
            vals.append(-np.inf * sense if r.status == 3 else sense * r.fun)
        if not vals:
            continue
        bias_min, bias_max = vals
        point = float(lv @ beta[n_pre:])
        lo, hi = min(lo, point - bias_max), max(hi, point - bias_min)
    return (lo, hi) if lo <= hi else (float("nan"), float("nan"))


# --------------------------------------------------------------------------------------
# the ARP conditional / hybrid test, vectorised over theta
# --------------------------------------------------------------------------------------


def _cache_put(cache: dict, key: Any, value: Any, maxsize: int = 64) -> Any:
    """Store ``value`` in a small insertion-ordered cache (the oldest entry goes first)."""
    if len(cache) >= maxsize:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


# Memoised pieces of the computation that do not depend on the restriction size. Keys are
# the exact bytes of the inputs, so a hit returns what the computation itself would return.
_NULL_BASES: dict[bytes, np.ndarray] = {}
_BASES: dict[tuple, np.ndarray] = {}  # one basis per dual vertex, by X
_DRAWS: dict[tuple[int, int, int], np.ndarray] = {}  # standard normal draws of the LF stage


def _null_basis(lv: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the complement of ``lv`` (columns)."""
    if lv.size == 1:
        return np.zeros((1, 0))
    key = np.asarray(lv, dtype=float).tobytes()
    N = _NULL_BASES.get(key)
    if N is None:
        N = linalg.null_space(lv[None, :])
        N.setflags(write=False)
        _cache_put(_NULL_BASES, key, N)
    return N


def _dual_vertices(
    X: np.ndarray, sd: np.ndarray, max_bases: int, *, cache: bool = True
) -> np.ndarray | None:
    """Vertices of ``{gamma >= 0 : X' gamma = 0, sd' gamma = 1}`` as rows.

    Returns an empty array when the polytope is empty (the primal LP is unbounded, so the
    test never rejects) and ``None`` when there are more than ``max_bases`` candidate
    bases to try.

    Every basis is tried once per ``X`` (and rank); the vertices do not depend on ``sd >
    0`` except through their scale (the extreme rays of the cone ``{gamma >= 0 : X' gamma =
    0}``, normalised by ``sd' gamma = 1``). So later calls with the same ``X`` (other
    restriction sizes, other data with the same design) solve only one remembered basis
    per vertex, the one with the largest determinant, with the same linear algebra and
    tests as the full enumeration; if a remembered basis fails them, everything is tried
    again. ``cache=False`` always tries every basis.
    """
    m = sd.size
    E = np.vstack([X.T, sd[None, :]])
    b = np.zeros(E.shape[0])
    b[-1] = 1.0
    colnorm = np.linalg.norm(E, axis=0)
    colnorm[colnorm == 0] = 1.0
    En = E / colnorm
    U, s, _ = np.linalg.svd(En, full_matrices=False)
    r = int(np.sum(s > 1e-10 * s[0]))
    Ur = U[:, :r]
    if np.linalg.norm(b - Ur @ (Ur.T @ b)) > 1e-8:
        return np.zeros((0, m))
    Er = Ur.T @ En
    br = Ur.T @ b
    if math.comb(m, r) > max_bases:
        return None
    key = (X.shape, X.tobytes(), r)
    reps = _BASES.get(key) if cache else None
    if reps is not None:
        V = _vertices_from_bases(Er, br, reps, colnorm, m, r)
        if V is not None:
            return V
    combos = np.array(list(itertools.combinations(range(m), r)), dtype=np.intp).reshape(-1, r)
    found, bases, dets = [], [], []
    for start in range(0, combos.shape[0], 20_000):
        cb = combos[start : start + 20_000]
        mats = np.transpose(Er[:, cb], (1, 0, 2))  # (n, r, r)
        det = np.linalg.det(mats)
        ok = np.abs(det) > 1e-10
        if not np.any(ok):
            continue
        sol = np.linalg.solve(mats[ok], np.broadcast_to(br, (int(ok.sum()), r))[..., None])[..., 0]
        feas = np.all(sol >= -1e-9, axis=1)
        if not np.any(feas):
            continue
        g = np.zeros((int(feas.sum()), m))
        rows = np.repeat(np.arange(g.shape[0]), r)
        g[rows, cb[ok][feas].ravel()] = np.clip(sol[feas], 0.0, None).ravel()
        found.append(g / colnorm)
        bases.append(cb[ok][feas])
        dets.append(np.abs(det[ok][feas]))
    if not found:
        if cache:
            _cache_put(_BASES, key, np.zeros((0, r), dtype=np.intp), maxsize=256)
        return np.zeros((0, m))
    V = np.vstack(found)
    V, which = np.unique(np.round(V, 12), axis=0, return_inverse=True)
    if cache:
        # one basis per vertex (the best conditioned), in the order of the vertices
        which = np.asarray(which).ravel()
        d = np.concatenate(dets)
        best = np.lexsort((-d, which))  # by vertex, then largest |det| first
        first = best[np.r_[True, which[best][1:] != which[best][:-1]]]
        reps = np.vstack(bases)[first]
        reps.setflags(write=False)
        _cache_put(_BASES, key, reps, maxsize=256)
    return V


def _vertices_from_bases(
    Er: np.ndarray, br: np.ndarray, reps: np.ndarray, colnorm: np.ndarray, m: int, r: int
) -> np.ndarray | None:
    """The vertices of the remembered bases ``reps`` (one per vertex), computed and
    tested as in the enumeration of :func:`_dual_vertices`; ``None`` if one of them is no
    longer a feasible basis (the caller then enumerates them all)."""
    if reps.shape[0] == 0:
        return np.zeros((0, m))
    mats = np.transpose(Er[:, reps], (1, 0, 2))
    det = np.linalg.det(mats)
    if not np.all(np.abs(det) > 1e-10):
        return None
    sol = np.linalg.solve(mats, np.broadcast_to(br, (reps.shape[0], r))[..., None])[..., 0]
    if not np.all(sol >= -1e-9):
        return None
    g = np.zeros((reps.shape[0], m))
    g[np.repeat(np.arange(g.shape[0]), r), reps.ravel()] = np.clip(sol, 0.0, None).ravel()
    V = np.round(g / colnorm, 12)
    # np.unique's order (rows sorted lexicographically); distinct vertices stay distinct
    V = V[np.lexsort(V.T[::-1])]
    if V.shape[0] > 1 and np.any(np.all(V[1:] == V[:-1], axis=1)):
        return None
    return V


def _log_diff(lu: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """``log(exp(lu) - exp(lv))`` for ``lu >= lv``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return lu + np.log1p(-np.exp(np.minimum(lv - lu, 0.0)))


def truncnorm_sf(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``P(Z > x | a <= Z <= b)`` for a standard normal ``Z``, stable in both tails."""
    x, a, b = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, a, b)))
    x = np.clip(x, a, b)
    out = np.empty(x.shape)
    upper = a >= 0  # interval in the upper half: use survival functions
    with np.errstate(divide="ignore", invalid="ignore"):
        lq = lambda t: special.log_ndtr(-t)
        lp = special.log_ndtr  # log P(Z < t)
        num_u = _log_diff(lq(x[upper]), lq(b[upper]))
        den_u = _log_diff(lq(a[upper]), lq(b[upper]))
        out[upper] = np.exp(num_u - den_u)
        low = ~upper
        num_l = _log_diff(lp(b[low]), lp(x[low]))
        den_l = _log_diff(lp(b[low]), lp(a[low]))
        out[low] = np.exp(num_l - den_l)
    return np.nan_to_num(np.clip(out, 0.0, 1.0), nan=1.0)


def _reject_arp(
    eta: np.ndarray,
    sB: np.ndarray,
    vlo: np.ndarray,
    vup: np.ndarray,
    lf_cv: float | np.ndarray,
    tiny_at: float | np.ndarray,
    size: float,
) -> np.ndarray:
    """The hybrid decision, elementwise: reject in the least-favourable first stage
    (``eta > lf_cv``), else by the conditional test of ``eta`` truncated to
    ``[vlo, min(vup, lf_cv)]`` at level ``size``. ``lf_cv`` and ``tiny_at`` (a standard
    deviation below it is zero) may differ between rows (one per piece)."""
    eta, sB, vlo, vup, lf_cv, tiny_at = np.broadcast_arrays(eta, sB, vlo, vup, lf_cv, tiny_at)
    reject = np.zeros(eta.shape, dtype=bool)
    first = eta > lf_cv
    reject |= first
    tiny = sB < tiny_at
    reject |= tiny & (eta > 0) & ~first
    ok = ~first & ~tiny & (eta > 0)
    if np.any(ok):
        s = sB[ok]
        stat = eta[ok] / s
        zlo = vlo[ok] / s
        zup = np.minimum(vup[ok], lf_cv[ok]) / s
        inside = (zlo <= stat + 1e-9) & (stat <= zup + 1e-9)
        p = truncnorm_sf(stat, np.minimum(zlo, stat), np.maximum(zup, stat))
        reject[ok] = inside & (p < size)
    return reject


def _std_normal_draws(seed: int, draws: int, n: int) -> np.ndarray:
    """``default_rng(seed).standard_normal((draws, n))``, transposed (``n x draws``,
    C-contiguous): the draws behind ``default_rng(seed).multivariate_normal(0, SY, draws,
    method="eigh")`` for any ``n x n`` ``SY`` (numpy multiplies them by ``(u * sqrt|s|)'``
    from ``eigh(SY)``)."""
    key = (seed, draws, n)
    z = _DRAWS.get(key)
    if z is None:
        z = np.ascontiguousarray(np.random.default_rng(seed).standard_normal((draws, n)).T)
        z.setflags(write=False)
        _cache_put(_DRAWS, key, z, maxsize=8)
    return z


def _lf_critical_values(pieces: Sequence[_ArpPiece], draws: int, seed: int) -> np.ndarray:
    """Least-favourable critical values of pieces with listed (non-empty) vertices: the
    ``1 - kappa`` quantile of ``max_v v' xi`` over ``xi ~ N(0, SY)`` drawn as the per-piece
    generator ``default_rng(seed).multivariate_normal(..., method="eigh")`` draws them (same
    standard normals, same factor), for all the pieces together."""
    out = np.empty(len(pieces))
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(pieces):
        groups.setdefault(p.sd.size, []).append(i)
    for n, idx in groups.items():
        ZT = _std_normal_draws(seed, draws, n)
        s, u = np.linalg.eigh(np.stack([pieces[i].SY for i in idx]))  # one per piece
        cols, which = [], []
        for i, si, ui in zip(idx, s, u, strict=True):
            p = pieces[i]
            if np.any(si < -1e-8):  # numpy's own path (it warns about the covariance)
                xi = np.random.default_rng(seed).multivariate_normal(
                    np.zeros(n), p.SY, size=draws, method="eigh"
                )
                out[i] = float(np.quantile((xi @ p.V.T).max(axis=1), 1 - p.kappa))
                continue
            cols.append((ui * np.sqrt(abs(si))).T @ p.V.T)  # (n, vertices)
            which.append(i)
        if not which:
            continue
        nv = max(c.shape[1] for c in cols)
        # pad each piece to nv vertices by repeating its first one (the max is unchanged)
        W = np.hstack([np.hstack([c, np.repeat(c[:, :1], nv - c.shape[1], axis=1)]) for c in cols])
        WT = np.ascontiguousarray(W.T)
        M = np.empty((len(which), draws))
        # products of at most ~2e5 multiply-adds: OpenBLAS keeps them on one thread (a
        # threaded product of this shape is slower, and much slower on a busy machine)
        step = max(64, 200_000 // (WT.shape[0] * n))
        for c in range(0, draws, step):
            M[:, c : c + step] = (WT @ ZT[:, c : c + step]).reshape(len(which), nv, -1).max(axis=1)
        q = np.quantile(M, 1 - pieces[which[0]].kappa, axis=1)
        out[which] = q
    return out


def _arp_pieces(
    polys: Sequence[tuple[np.ndarray, np.ndarray]],
    beta: np.ndarray,
    Sig: np.ndarray,
    n_pre: int,
    n_post: int,
    lv: np.ndarray,
    alpha: float,
    hybrid: bool,
    lf_draws: int,
    seed: int,
    max_bases: int,
) -> list[_ArpPiece]:
    """``_ArpPiece(A, d, ..., lf=False)`` for each polyhedron. Polyhedra of one shape whose
    moments share ``X`` (the relative-magnitude pieces) are computed together, slice by
    slice with the same operations (numpy loops its stacked matrix products and
    factorisations over the slices); anything unusual falls back to one piece at a time."""
    pieces = _arp_pieces_stacked(polys, beta, Sig, n_pre, n_post, lv, alpha, hybrid, max_bases)
    if pieces is None:
        args = (beta, Sig, n_pre, n_post, lv, alpha, hybrid, lf_draws, seed, max_bases)
        pieces = [_ArpPiece(A, d, *args, lf=False) for A, d in polys]
    return pieces


def _arp_pieces_stacked(polys, beta, Sig, n_pre, n_post, lv, alpha, hybrid, max_bases):
    if len(polys) < 2 or len({A.shape for A, _ in polys}) != 1:
        return None
    A = np.stack([A for A, _ in polys])
    d = np.stack([d for _, d in polys])
    k = A.shape[0]
    if n_post > 1:
        each = [_post_rows(a, n_pre, n_post) for a in A]
        if len({r.size for r in each}) != 1:
            return None
        rows = np.array(each)
    else:
        rows = np.broadcast_to(np.arange(A.shape[1]), (k, A.shape[1]))
    kk = np.arange(k)[:, None]
    A_post = A[:, :, n_pre:]
    y0 = (A @ beta - d)[kk, rows]
    a1 = (A_post @ lv / (lv @ lv))[kk, rows]
    X = (A_post @ _null_basis(lv))[kk, rows]
    if not np.all(X == X[:1]):
        return None
    SY = (A @ Sig @ np.swapaxes(A, 1, 2))[kk[:, :, None], rows[:, :, None], rows[:, None, :]]
    sd = np.sqrt(np.clip(np.diagonal(SY, axis1=1, axis2=2), 0.0, None))
    V = _dual_vertices_stacked(X[0], sd, max_bases)
    if V is None:
        return None
    G = V @ SY @ np.swapaxes(V, 1, 2)
    kappa = alpha / 10 if hybrid else 0.0
    out = []
    for i in range(k):
        p = object.__new__(_ArpPiece)
        p.y0, p.a1, p.X, p.SY, p.sd = y0[i], a1[i], X[i], SY[i], sd[i]
        p.alpha, p.hybrid, p.kappa = alpha, hybrid, kappa
        p.size = (alpha - kappa) / (1 - kappa)
        p.tiny_at = 1e-12 * max(1.0, float(sd[i].max()) if sd[i].size else 0.0)
        p.V, p.G = V[i], G[i]
        p.p, p.q = p.V @ p.y0, p.V @ p.a1
        p.lf_cv = np.inf
        out.append(p)
    return out


def _dual_vertices_stacked(X: np.ndarray, sd: np.ndarray, max_bases: int) -> np.ndarray | None:
    """:func:`_dual_vertices` of ``(X, sd[i])`` for each row of ``sd``, stacked ``(k, v,
    m)``, from the remembered bases; ``None`` when one of them needs more (no remembered
    bases yet, an empty polytope, a basis that fails its tests)."""
    k, m = sd.shape
    E = np.concatenate([np.broadcast_to(X.T, (k, *X.T.shape)), sd[:, None, :]], axis=1)
    b = np.zeros(E.shape[1])
    b[-1] = 1.0
    colnorm = np.linalg.norm(E, axis=1)
    colnorm[colnorm == 0] = 1.0
    En = E / colnorm[:, None, :]
    U, s, _ = np.linalg.svd(En, full_matrices=False)
    ranks = np.sum(s > 1e-10 * s[:, :1], axis=1)
    r = int(ranks[0])
    if np.any(ranks != r) or math.comb(m, r) > max_bases:
        return None
    reps = _BASES.get((X.shape, X.tobytes(), r))
    if reps is None or reps.shape[0] == 0:
        return None
    Ur = U[:, :, :r]
    UrT = np.swapaxes(Ur, 1, 2)
    for i in range(k):
        if np.linalg.norm(b - Ur[i] @ (UrT[i] @ b)) > 1e-8:
            return None
    Er = UrT @ En
    br = UrT @ b
    mats = np.transpose(Er[:, :, reps], (0, 2, 1, 3))  # (k, bases, r, r)
    det = np.linalg.det(mats)
    if not np.all(np.abs(det) > 1e-10):
        return None
    nb = reps.shape[0]
    sol = np.linalg.solve(mats, np.broadcast_to(br[:, None, :], (k, nb, r))[..., None])[..., 0]
    if not np.all(sol >= -1e-9):
        return None
    g = np.zeros((k, nb, m))
    g[:, np.repeat(np.arange(nb), r), reps.ravel()] = np.clip(sol, 0.0, None).reshape(k, -1)
    V = np.round(g / colnorm[:, None, :], 12)
    for i in range(k):
        Vi = V[i][np.lexsort(V[i].T[::-1])]
        if nb > 1 and np.any(np.all(Vi[1:] == Vi[:-1], axis=1)):
            return None
        V[i] = Vi
    return V


class _ArpPiece:
    """The ARP (hybrid) test of ``theta`` for one polyhedron ``{A delta <= d}``.

    ``lf=False`` leaves the least-favourable critical value to the caller
    (:func:`_lf_critical_values`, for several pieces at once)."""

    def __init__(
        self,
        A: np.ndarray,
        d: np.ndarray,
        beta: np.ndarray,
        Sig: np.ndarray,
        n_pre: int,
        n_post: int,
        lv: np.ndarray,
        alpha: float,
        hybrid: bool,
        lf_draws: int,
        seed: int,
        max_bases: int = MAX_BASES,
        *,
        lf: bool = True,
    ) -> None:
        rows = _post_rows(A, n_pre, n_post)
        A_post = A[:, n_pre:]
        self.y0 = (A @ beta - d)[rows]
        self.a1 = (A_post @ lv / (lv @ lv))[rows]
        self.X = (A_post @ _null_basis(lv))[rows]
        self.SY = (A @ Sig @ A.T)[np.ix_(rows, rows)]
        self.sd = np.sqrt(np.clip(np.diag(self.SY), 0.0, None))
        self.alpha = alpha
        self.hybrid = hybrid
        self.kappa = alpha / 10 if hybrid else 0.0
        self.size = (alpha - self.kappa) / (1 - self.kappa)
        self.tiny_at = 1e-12 * max(1.0, float(self.sd.max()) if self.sd.size else 0.0)
        self.V = _dual_vertices(self.X, self.sd, max_bases)
        self.lf_cv = np.inf
        if self.V is not None:
            G = self.V @ self.SY @ self.V.T
            self.G, self.p, self.q = G, self.V @ self.y0, self.V @ self.a1
            if hybrid and self.V.shape[0] and lf:
                self.lf_cv = float(_lf_critical_values([self], lf_draws, seed)[0])
        elif hybrid:
            self.lf_cv = self._lf_cv_lp(np.random.default_rng(seed), min(lf_draws, 1000))

    @property
    def needs_lf(self) -> bool:
        """A hybrid piece with listed vertices whose critical value is still to be set."""
        return self.hybrid and self.V is not None and self.V.shape[0] > 0

    # -- fast path: listed vertices ------------------------------------------------------
    def accepts(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        if self.V is None:
            return np.array([self._accepts_lp(t) for t in theta], dtype=bool)
        if self.V.shape[0] == 0:
            return np.ones(theta.shape, dtype=bool)
        vals = self.p[None, :] - theta[:, None] * self.q[None, :]
        star = np.argmax(vals, axis=1)
        eta = vals[np.arange(theta.size), star]
        s2 = self.G[star, star]
        bcoef = self.G[star, :] / np.where(s2 > 0, s2, 1.0)[:, None]
        a = vals - bcoef * eta[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = a / (1.0 - bcoef)
        up = np.where(bcoef > 1 + 1e-9, ratio, np.inf).min(axis=1)
        lo = np.where(bcoef < 1 - 1e-9, ratio, -np.inf).max(axis=1)
        return ~self._reject(eta, np.sqrt(np.clip(s2, 0.0, None)), lo, up)

    def _reject(
        self, eta: np.ndarray, sB: np.ndarray, vlo: np.ndarray, vup: np.ndarray
    ) -> np.ndarray:
        return _reject_arp(eta, sB, vlo, vup, self.lf_cv, self.tiny_at, self.size)

    # -- slow path: linear programmes ------------------------------------------------------
    def _eta_lp(self, y: np.ndarray) -> tuple[float, np.ndarray | None]:
        """``max gamma' y`` over the dual polytope, and a maximising vertex."""
        m = y.size
        A_eq = np.vstack([self.X.T, self.sd[None, :]])
        b_eq = np.r_[np.zeros(self.X.shape[1]), 1.0]
        r = optimize.linprog(-y, A_eq=A_eq, b_eq=b_eq, bounds=[(0, None)] * m, method="highs-ds")
        if r.status != 0:
            return -np.inf, None
        return float(-r.fun), np.asarray(r.x)

    def _lf_cv_lp(self, rng: np.random.Generator, draws: int) -> float:
        xi = rng.multivariate_normal(np.zeros(self.sd.size), self.SY, size=draws, method="eigh")
        etas = np.array([self._eta_lp(x)[0] for x in xi])
        return float(np.quantile(etas[np.isfinite(etas)], 1 - self.kappa))

    def _accepts_lp(self, theta: float) -> bool:
        y = self.y0 - self.a1 * theta
        eta, g = self._eta_lp(y)
        if g is None:
            return True
        s2 = float(g @ self.SY @ g)
        c = self.SY @ g / s2 if s2 > 0 else np.zeros_like(g)
        S = y - c * eta
        A_eq = np.vstack([self.X.T, self.sd[None, :]])
        m = y.size
        k = self.X.shape[1]
        # Charnes-Cooper: the overtaking points min/max a/(1-b) over vertices with b >< 1 are
        # linear-fractional programmes over the polytope, i.e. LPs in (u, t).
        a_eq = np.block([[A_eq[:k], np.zeros((k, 1))], [self.sd[None, :], -np.ones((1, 1))]])
        a_up = np.vstack([a_eq, np.r_[c, -1.0][None, :]])
        r = optimize.linprog(
            np.r_[-S, 0.0],
            A_eq=a_up,
            b_eq=np.r_[np.zeros(k + 1), 1.0],
            bounds=[(0, None)] * (m + 1),
            method="highs",
        )
        vup = float(r.fun) if r.status == 0 else np.inf  # min of -S'u = min a / (1 - b)
        a_lo = np.vstack([a_eq, np.r_[-c, 1.0][None, :]])
        r = optimize.linprog(
            np.r_[-S, 0.0],
            A_eq=a_lo,
            b_eq=np.r_[np.zeros(k + 1), 1.0],
            bounds=[(0, None)] * (m + 1),
            method="highs",
        )
        vlo = float(-r.fun) if r.status == 0 else -np.inf
        return not bool(
            self._reject(
                np.array([eta]),
                np.array([math.sqrt(max(s2, 0.0))]),
                np.array([vlo]),
                np.array([vup]),
            )[0]
        )


class _ArpUnion:
    """``theta`` is accepted when one of the pieces accepts it: :meth:`_ArpPiece.accepts`
    for all the vertex pieces in one vectorised pass (their vertex lists padded to a common
    length with vertices that never attain the maximum), the linear-programme pieces one
    by one."""

    def __init__(self, pieces: Sequence[_ArpPiece]) -> None:
        self.pieces = list(pieces)
        self.accepts_all = any(p.V is not None and p.V.shape[0] == 0 for p in self.pieces)
        self.lp = [p for p in self.pieces if p.V is None]
        fast = [p for p in self.pieces if p.V is not None and p.V.shape[0]]
        self.k = len(fast)
        if fast:
            nv = max(p.V.shape[0] for p in fast)
            self.P = np.full((self.k, nv), -np.inf)
            self.Q = np.zeros((self.k, nv))
            self.G = np.zeros((self.k, nv, nv))
            for i, p in enumerate(fast):
                n = p.V.shape[0]
                self.P[i, :n], self.Q[i, :n], self.G[i, :n, :n] = p.p, p.q, p.G
            self.lf_cv = np.array([p.lf_cv for p in fast])[:, None]
            self.tiny_at = np.array([p.tiny_at for p in fast])[:, None]
            self.size = fast[0].size
            self.rows = np.arange(self.k)[:, None]

    def accepts(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        if self.accepts_all:
            return np.ones(theta.shape, dtype=bool)
        out = np.zeros(theta.shape, dtype=bool)
        if self.k:
            vals = self.P[:, None, :] - theta[None, :, None] * self.Q[:, None, :]  # (k, n, v)
            star = np.argmax(vals, axis=2)
            eta = np.take_along_axis(vals, star[..., None], axis=2)[..., 0]
            first = eta > self.lf_cv  # rejected in the first stage
            # eta <= 0 (and not rejected in the first stage) is accepted
            out |= (~first & (eta <= 0)).any(axis=0)
            # the conditional test, only where it decides: 0 < eta <= lf_cv, theta not
            # yet accepted by another piece
            pi, ti = np.nonzero(~first & (eta > 0) & ~out[None, :])
            if pi.size:
                st, e = star[pi, ti], eta[pi, ti]
                s2 = self.G[pi, st, st]
                bcoef = self.G[pi, st, :] / np.where(s2 > 0, s2, 1.0)[:, None]
                a = vals[pi, ti, :] - bcoef * e[:, None]
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = a / (1.0 - bcoef)
                up = np.where(bcoef > 1 + 1e-9, ratio, np.inf).min(axis=1)
                lo = np.where(bcoef < 1 - 1e-9, ratio, -np.inf).max(axis=1)
                rej = _reject_arp(
                    e,
                    np.sqrt(np.clip(s2, 0.0, None)),
                    lo,
                    up,
                    self.lf_cv[pi, 0],
                    self.tiny_at[pi, 0],
                    self.size,
                )
                out[ti[~rej]] = True
        for p in self.lp:  # one or two linear programmes per theta: only where needed
            todo = np.flatnonzero(~out)
            if todo.size:
                out[todo] |= p.accepts(theta[todo])
        return out


# --------------------------------------------------------------------------------------
# the optimal fixed-length confidence interval for Delta^SD(M)
# --------------------------------------------------------------------------------------


_PPF: dict[float, Any] = {}
_NORM_PDF_C = np.sqrt(2 * np.pi)


def _norm_ppf(q: float) -> Any:
    """``stats.norm.ppf(q)`` (the same float64), memoised."""
    v = _PPF.get(q)
    if v is None:
        v = _cache_put(_PPF, q, stats.norm.ppf(q))
    return v


def _norm_pdf(x: float) -> Any:
    """``stats.norm.pdf(x)`` for a scalar, bit for bit: scipy evaluates
    ``exp(-x**2 / 2) / sqrt(2 pi)`` on a one-element array (numpy's scalar ``exp`` can
    differ in the last bit), without its argument checks."""
    return (np.exp(-np.array([x]) ** 2 / 2.0) / _NORM_PDF_C)[0]


def folded_normal_quantile(b: float, alpha: float) -> float:
    """``cv_alpha(b)``: the ``1 - alpha`` quantile of ``|N(b, 1)|`` (``b >= 0``)."""
    b = abs(float(b))
    lo = b + _norm_ppf(1 - alpha)
    hi = b + _norm_ppf(1 - alpha / 2)
    if hi - lo < 1e-13:
        return hi
    f = lambda c: special.ndtr(c - b) - special.ndtr(-c - b) - (1 - alpha)
    if f(lo) >= 0:
        return float(lo)
    return float(optimize.brentq(f, lo, hi, xtol=1e-14, rtol=1e-14))


def _cv_and_slope(b: float, alpha: float) -> tuple[float, float]:
    c = folded_normal_quantile(b, alpha)
    f1, f2 = _norm_pdf(c - b), _norm_pdf(c + b)
    return c, float((f1 - f2) / (f1 + f2))


@dataclass(frozen=True)
class FLCI:
    """An affine interval ``v' beta_hat +/- half_length``."""

    conf_low: float
    conf_high: float
    weights: np.ndarray
    half_length: float
    max_bias: float
    std_error: float


def _flci_setup(Sig: np.ndarray, n_pre: int, n_post: int, lv: np.ndarray) -> dict[str, np.ndarray]:
    """The affine family ``v(z) = (v0 + N z, l)`` of trend-free estimators and the
    second-difference weights ``mu(z) = mu0 + K z`` with ``D' mu = v``."""
    t_pre = np.arange(-n_pre, 0, dtype=float)
    t_post = np.arange(1, n_post + 1, dtype=float)
    # unbiased under a linear violation delta_t = c t: t_pre' v_pre + t_post' l = 0
    target = -float(t_post @ lv)
    v0 = t_pre * target / float(t_pre @ t_pre)
    N = linalg.null_space(t_pre[None, :]) if n_pre > 1 else np.zeros((n_pre, 0))
    D = _drop_reference(_second_differences(n_pre, n_post), n_pre)
    R = np.linalg.solve(D @ D.T, D)  # mu = R v for every trend-free v
    full0 = np.r_[v0, lv]
    P = np.vstack([N, np.zeros((n_post, N.shape[1]))])
    return {"v0": full0, "P": P, "mu0": R @ full0, "K": R @ P, "Sig": Sig}


def optimal_flci(
    beta: np.ndarray,
    Sig: np.ndarray,
    n_pre: int,
    n_post: int,
    lv: np.ndarray,
    m: float,
    alpha: float,
) -> FLCI:
    """The shortest ``1 - alpha`` fixed-length interval for ``l' tau_post`` over
    ``Delta^SD(m)``. The half-length is convex in the free weights (a perspective of the
    convex ``cv_alpha``), so the local solution found is the global one."""
    return _Flci(Sig, n_pre, n_post, lv, alpha).solve(beta, m)


class _Flci:
    """:func:`optimal_flci` for one covariance, weights and level, for any ``beta`` and
    ``m``: what does not depend on ``m`` (the estimator family, the minimum-variance and the
    minimum-bias starting weights) is computed once."""

    def __init__(self, Sig: np.ndarray, n_pre: int, n_post: int, lv: np.ndarray, alpha: float):
        if n_pre < 1:
            raise ValueError("the smoothness FLCI needs at least one pre-period coefficient")
        st = _flci_setup(Sig, n_pre, n_post, lv)
        self.alpha = alpha
        self.scale = scale = float(np.sqrt(lv @ Sig[n_pre:, n_pre:] @ lv))
        S = Sig / scale**2  # work in units of sd(l' beta_post)
        self.v0, self.P, self.mu0, self.K = st["v0"], st["P"], st["mu0"], st["K"]
        self.k = k = self.P.shape[1]
        self.H = self.P.T @ S @ self.P
        self.g = self.P.T @ S @ self.v0
        self.s0 = float(self.v0 @ S @ self.v0)
        self.z_minvar = -np.linalg.solve(self.H, self.g) if k else np.zeros(0)
        self._starts: list[np.ndarray] | None = None

    def sd(self, z: np.ndarray) -> float:
        return math.sqrt(max(self.s0 + 2 * self.g @ z + z @ self.H @ z, 1e-300))

    def starts(self) -> list[np.ndarray]:
        """The minimum-variance and the minimum-bias weights."""
        if self._starts is None:
            k, mu0, K = self.k, self.mu0, self.K
            nmu = mu0.size
            lp = optimize.linprog(
                np.r_[np.zeros(k), np.ones(nmu)],
                A_ub=np.block([[K, -np.eye(nmu)], [-K, -np.eye(nmu)]]),
                b_ub=np.r_[-mu0, mu0],
                bounds=[(None, None)] * k + [(0, None)] * nmu,
                method="highs",
            )
            self._starts = [self.z_minvar] + ([lp.x[:k]] if lp.status == 0 else [])
        return self._starts

    def solve(self, beta: np.ndarray, m: float) -> FLCI:
        alpha, scale, k = self.alpha, self.scale, self.k
        v0, P, mu0, K, H, g = self.v0, self.P, self.mu0, self.K, self.H, self.g
        sd = self.sd
        mm = m / scale
        if k == 0 or mm == 0:
            z = self.z_minvar
        else:
            nmu = mu0.size

            def obj(x: np.ndarray) -> tuple[float, np.ndarray]:
                z, u = x[:k], x[k:]
                s = sd(z)
                bias = mm * u.sum()
                c, dc = _cv_and_slope(bias / s, alpha)
                grad_z = (H @ z + g) / s * (c - bias / s * dc)
                return s * c, np.concatenate((grad_z, np.full(nmu, mm * dc)))

            def con(x: np.ndarray) -> np.ndarray:
                mu = mu0 + K @ x[:k]
                return np.concatenate((x[k:] - mu, x[k:] + mu))

            jac = np.block([[-K, np.eye(nmu)], [K, np.eye(nmu)]])
            cons = {"type": "ineq", "fun": con, "jac": lambda x: jac}
            # two starts: the minimum-variance and the minimum-bias weights
            best = None
            for z_start in self.starts():
                x0 = np.r_[z_start, np.abs(mu0 + K @ z_start)]
                r = optimize.minimize(
                    obj,
                    x0,
                    jac=True,
                    method="SLSQP",
                    constraints=[cons],
                    options={"ftol": 1e-12, "maxiter": 500},
                )
                zz = r.x[:k]
                val = _half_length(zz, sd, mu0, K, mm, alpha)
                if best is None or val < best[0]:
                    best = (val, zz)
            z = best[1]  # type: ignore[index]
        v = v0 + P @ z
        s = sd(z)
        bias = mm * float(np.abs(mu0 + K @ z).sum())
        half = s * folded_normal_quantile(bias / s, alpha)
        center = float(v @ beta)
        return FLCI(
            conf_low=center - half * scale,
            conf_high=center + half * scale,
            weights=v,
            half_length=half * scale,
            max_bias=bias * scale,
            std_error=s * scale,
        )


def _half_length(z, sd, mu0, K, mm, alpha) -> float:
    s = sd(z)
    return s * folded_normal_quantile(mm * float(np.abs(mu0 + K @ z).sum()) / s, alpha)


def _sd_upper_bound_m(beta: np.ndarray, Sig: np.ndarray, n_pre: int, alpha: float) -> float:
    """Upper ``1 - alpha`` bound of the largest pre-period second difference (R's
    ``DeltaSD_upperBound_Mpre``); with one pre period its standard error."""
    if n_pre < 2:
        return float(np.sqrt(Sig[0, 0])) if n_pre == 1 else 0.0
    D = _drop_reference(_second_differences(n_pre, 0), n_pre)
    A = np.vstack([D, -D])
    diffs = A @ beta[:n_pre]
    se = np.sqrt(np.diag(A @ Sig[:n_pre, :n_pre] @ A.T))
    return float(np.max(diffs + stats.norm.ppf(1 - alpha) * se))


# --------------------------------------------------------------------------------------
# intervals for one restriction size, and the breakdown value
# --------------------------------------------------------------------------------------


class _Solver:
    def __init__(
        self,
        beta,
        Sig,
        n_pre,
        n_post,
        lv,
        alpha,
        restriction,
        method,
        *,
        grid,
        grid_points,
        lf_draws,
        seed,
        max_bases=MAX_BASES,
    ) -> None:
        self.beta, self.Sig, self.n_pre, self.n_post, self.lv = beta, Sig, n_pre, n_post, lv
        self.alpha, self.restriction, self.method = alpha, restriction, method
        self.grid, self.grid_points, self.lf_draws, self.seed = grid, grid_points, lf_draws, seed
        self.max_bases = max_bases
        self.center = float(lv @ beta[n_pre:])
        self.sd_theta = float(np.sqrt(lv @ Sig[n_pre:, n_pre:] @ lv))
        # memoised per restriction size: the breakdown search revisits the reported sizes
        self._intervals: dict[float, tuple[float, float]] = {}
        self._excludes: dict[float, bool] = {}
        self._lf_cache: dict[tuple, float] = {}
        self._flci: _Flci | None = None

    def pieces(self, m: float) -> list[_ArpPiece]:
        if self.restriction == "relative_magnitude":
            polys = list(zip(*_rm_polyhedra_stacked(self.n_pre, self.n_post, m), strict=True))
        else:
            polys = [sd_polyhedron(self.n_pre, self.n_post, m)]
        out = _arp_pieces(
            polys,
            self.beta,
            self.Sig,
            self.n_pre,
            self.n_post,
            self.lv,
            self.alpha,
            self.method == "C-LF",
            self.lf_draws,
            self.seed,
            self.max_bases,
        )
        todo = [p for p in out if p.needs_lf]
        if todo:
            # the critical value depends on SY and the vertices only: the smoothness pieces
            # (SY does not depend on M) share it across sizes
            keys = [(p.SY.tobytes(), p.V.tobytes(), p.V.shape) for p in todo]
            new = [p for p, k in zip(todo, keys, strict=True) if k not in self._lf_cache]
            if new:
                cvs = _lf_critical_values(new, self.lf_draws, self.seed)
                for p, cv in zip(new, cvs, strict=True):
                    self._lf_cache[(p.SY.tobytes(), p.V.tobytes(), p.V.shape)] = float(cv)
            for p, k in zip(todo, keys, strict=True):
                p.lf_cv = self._lf_cache[k]
        return out

    def interval(self, m: float) -> tuple[float, float]:
        key = float(m)
        if key not in self._intervals:
            self._intervals[key] = self._interval(key)
        return self._intervals[key]

    def _interval(self, m: float, zero_only: bool = False) -> Any:
        if self.method == "FLCI":
            if self._flci is None:
                self._flci = _Flci(self.Sig, self.n_pre, self.n_post, self.lv, self.alpha)
            f = self._flci.solve(self.beta, m)
            return f.conf_low, f.conf_high
        union = _ArpUnion(self.pieces(m))
        accept = union.accepts
        if self.grid is not None:
            g = np.linspace(self.grid[0], self.grid[1], int(self.grid[2]))
            acc = accept(g)
            if not acc.any():
                return float("nan"), float("nan")
            return float(g[acc].min()), float(g[acc].max())
        # the linear-programme path costs a few LPs per theta: search a coarser grid
        points = self.grid_points if not union.lp else 60
        return _invert(
            accept,
            self.center,
            self._half_width(m),
            min(self.grid_points, points),
            self.sd_theta,
            zero_only=zero_only,
        )

    def _half_width(self, m: float) -> float:
        s = self.sd_theta
        if self.restriction == "relative_magnitude":
            pre = np.r_[self.beta[: self.n_pre], 0.0]
            biggest = float(np.max(np.abs(np.diff(pre)))) if self.n_pre else 0.0
            t = np.arange(1, self.n_post + 1)
            return 20 * s + m * (biggest + 4 * s) * float(np.abs(self.lv) @ t)
        t = np.arange(1, self.n_post + 1)
        return 20 * s + m * float(np.abs(self.lv) @ (t * (t + 1) / 2))

    def excludes_zero(self, m: float) -> bool:
        """Whether the set at size ``m`` excludes 0, i.e. ``lo > 0 or hi < 0`` for the
        ``(lo, hi)`` of :meth:`interval`. Without a user grid the test-inversion methods
        settle this from the search grid and bisect an endpoint only when 0 lies in its
        grid cell (:func:`_invert` with ``zero_only``): the same answer, fewer tests."""
        key = float(m)
        if key in self._intervals or self.method == "FLCI" or self.grid is not None:
            lo, hi = self.interval(key)
            return bool(np.isfinite(lo) and (lo > 0 or hi < 0))
        if key not in self._excludes:
            self._excludes[key] = bool(self._interval(key, zero_only=True))
        return self._excludes[key]

    def breakdown(self, sd_theta: float) -> float | None:
        if not self.excludes_zero(0.0):
            return None
        start = 1.0 if self.restriction == "relative_magnitude" else max(sd_theta, 1e-12)
        cap = 1e3 * start if self.restriction == "relative_magnitude" else 1e6 * start
        lo, hi = 0.0, start
        while self.excludes_zero(hi):
            lo, hi = hi, 2 * hi
            if hi > cap:
                return float("inf")
        while hi - lo > 1e-3 * max(hi, 1e-300) and hi - lo > 1e-12:
            mid = (lo + hi) / 2
            if self.excludes_zero(mid):
                lo = mid
            else:
                hi = mid
        return lo


def _invert(
    accept: Callable[[np.ndarray], np.ndarray],
    center: float,
    half_width: float,
    points: int,
    scale: float,
    *,
    zero_only: bool = False,
) -> Any:
    """Smallest and largest accepted ``theta``: a grid, widened while its ends are
    accepted, then bisection on each side to ``1e-9 * scale``.

    ``zero_only``: return only whether those endpoints exclude 0 (``lo > 0 or hi < 0``).
    ``lo`` lies in ``[g[i - 1], g[i]]`` (the first accepted grid point and the rejected one
    before it; :func:`_bisect` only moves inwards from ``g[i - 1]`` and never past ``g[i]``
    by more than rounding), ``hi`` in ``[g[j], g[j + 1]]``, so an endpoint is bisected only
    when 0 lies in (or within rounding of) its grid cell, and only until the side of 0 it
    lies on is known: the answer is the one the full computation gives."""
    w = half_width
    for _ in range(12):
        g = np.linspace(center - w, center + w, points)
        acc = accept(g)
        if not acc.any():
            # a narrow accepted region between grid points: look closer around the centre
            g2 = np.linspace(center - w / 50, center + w / 50, points)
            acc2 = accept(g2)
            if not acc2.any():
                return False if zero_only else (float("nan"), float("nan"))
            g, acc = g2, acc2
        if acc[0] or acc[-1]:
            w *= 4
            continue
        i, j = int(np.argmax(acc)), int(acc.size - 1 - np.argmax(acc[::-1]))
        if zero_only:
            return _lo_positive(accept, g[i - 1], g[i], scale) or _hi_negative(
                accept, g[j + 1], g[j], scale
            )
        return _bisect_both(accept, (g[i - 1], g[i]), (g[j + 1], g[j]), scale)
    lo = -np.inf if acc[0] else float(g[int(np.argmax(acc))])
    hi = np.inf if acc[-1] else float(g[int(acc.size - 1 - np.argmax(acc[::-1]))])
    if zero_only:
        return bool(np.isfinite(lo) and (lo > 0 or hi < 0))
    return lo, hi


def _bisect_both(
    accept: Callable[[np.ndarray], np.ndarray],
    lower: tuple[float, float],
    upper: tuple[float, float],
    scale: float,
) -> tuple[float, float]:
    """``_bisect(accept, *lower, scale), _bisect(accept, *upper, scale)``, their rounds run
    side by side: the points of both are tested in one call (``accept`` decides each point
    on its own, so the two searches and their results are those of separate calls)."""
    ends = [[float(lower[0]), float(lower[1])], [float(upper[0]), float(upper[1])]]
    active = [True, True]
    for _ in range(20):
        for e, end in enumerate(ends):
            if active[e] and abs(end[1] - end[0]) <= 1e-9 * max(scale, 1e-300):
                active[e] = False
        live = [e for e in range(2) if active[e]]
        if not live:
            break
        pts = [np.linspace(ends[e][0], ends[e][1], 66)[1:-1] for e in live]
        acc_all = accept(np.concatenate(pts))
        for n, e in enumerate(live):
            p, acc = pts[n], acc_all[64 * n : 64 * (n + 1)]
            if acc.any():
                k = int(np.argmax(acc))  # first accepted point coming from the rejected side
                ends[e][1] = float(p[k])
                ends[e][0] = float(p[k - 1]) if k > 0 else ends[e][0]
            else:
                ends[e][0] = float(p[-1])
    return ends[0][1], ends[1][1]


def _lo_positive(accept, out: float, inside: float, scale: float) -> bool:
    """``_bisect(accept, out, inside, scale) > 0`` for ``out < inside``, stopping as soon
    as the sign is settled: the result is at least ``out`` and (up to rounding) at most
    ``inside``, and :func:`_bisect` only moves them towards each other."""

    def settled(out: float, inside: float) -> float | None:
        if out > 0:
            return np.inf
        if inside < -(1e-6 * (inside - out) + 1e-12 * max(abs(out), abs(inside))):
            return -np.inf
        return None

    return _bisect(accept, out, inside, scale, settled) > 0


def _hi_negative(accept, out: float, inside: float, scale: float) -> bool:
    """``_bisect(accept, out, inside, scale) < 0`` for ``out > inside`` (as
    :func:`_lo_positive`)."""

    def settled(out: float, inside: float) -> float | None:
        if out < 0:
            return -np.inf
        if inside > 1e-6 * (out - inside) + 1e-12 * max(abs(out), abs(inside)):
            return np.inf
        return None

    return _bisect(accept, out, inside, scale, settled) < 0


def _bisect(
    accept: Callable[[np.ndarray], np.ndarray],
    out: float,
    inside: float,
    scale: float,
    settled: Callable[[float, float], float | None] | None = None,
) -> float:
    """Boundary between a rejected point ``out`` and an accepted point ``inside``: each round
    tests 64 points between them (one vectorised call) and keeps the outermost accepted one.

    ``settled(out, inside)``, checked before each round, may stop the search early by
    returning a stand-in for the result (callers that need only its sign)."""
    for _ in range(20):
        if settled is not None:
            early = settled(out, inside)
            if early is not None:
                return early
        if abs(inside - out) <= 1e-9 * max(scale, 1e-300):
            break
        pts = np.linspace(out, inside, 66)[1:-1]
        acc = accept(pts)
        if acc.any():
            k = int(np.argmax(acc))  # first accepted point coming from the rejected side
            inside = float(pts[k])
            out = float(pts[k - 1]) if k > 0 else out
        else:
            out = float(pts[-1])
    return float(inside)
