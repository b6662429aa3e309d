"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021).

For designs with very few treated firms: a synthetic comparison group (unit weights
``omega``) that tracks the treated firms' pre-period path up to a constant, and time weights
``lambda`` that make the pre-periods resemble the post-periods, enter a weighted two-way
fixed-effects comparison. Conventions of the reference R package ``synthdid``
(``synthdid_estimate`` with its defaults):

* the panel is balanced; for one adoption period (a block design) ``N_co`` controls and
  ``N_tr`` treated firms, ``T_pre`` periods before and ``T_post`` periods from it on;
* ``sigma`` is the standard deviation (``ddof = 1``) of the first differences over time of
  the controls' pre-period outcomes, pooled;
* unit weights: Frank-Wolfe on the simplex with an intercept,
  ``min ||A w - b||^2 / T_pre + zeta_omega^2 ||w||^2`` on the time-demeaned pre-period
  outcomes (``A``: controls, ``b``: treated mean), ``zeta_omega = (N_tr T_post)^(1/4) sigma``;
* time weights: the same solver on the controls' pre-period outcomes (columns) against their
  post-period mean, demeaned over controls, ``zeta_lambda = 1e-6 sigma``;
* both solves run 100 iterations, sparsify (weights ``<= max / 4`` set to 0, renormalised),
  and run again to convergence: stop when one iteration lowers the objective by less than
  ``(1e-5 sigma)^2``, or after 10,000 iterations;
* ``tau = (Ybar_tr,post - lambda' Ybar_tr,pre) - (omega' Y_co,post-mean - omega' Y_co,pre lambda)``,
  i.e. ``[-omega, 1/N_tr]' Y [-lambda, 1/T_post]``.

Staggered adoption (the Stata ``sdid`` / Clarke, Pailanir, Athey & Imbens 2023 convention):
each adoption cohort ``g`` is its own block design (the cohort's firms against the
never-treated firms, periods before ``g`` against ``g`` onwards, its own ``sigma`` and
``zeta``), and the headline averages the cohort effects with weights
``N_tr,g * T_post,g`` (treated firm x post-period cells).

Variance: the placebo estimator (Algorithm 4 of the paper; ``vcov(method = "placebo")``), the
one that works with a single treated firm. Each replication permutes the control firms and
gives the last ``N_tr`` of them the treated firms' adoption periods, re-solves the weights
(warm-started at the fitted ones, with the fitted ``zeta`` and stopping rule, as synthdid
does) and recomputes every estimate; the covariance is that of the replications with
divisor ``B`` (``sqrt((B - 1) / B) * sd``), intervals and p-values are normal.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DesignError
from ..core.checks import (
    ATT_TERM,
    as_spec_value,
    check_alpha,
    check_columns,
    check_frame,
    check_int,
    constant_within,
    integer_valued,
    no_missing,
    numeric_column,
    panel_inputs,
)
from ..core.normal import z_critical
from ..core.staggered import cohort_term
from ..results import DiDResult, Estimate

__all__ = [
    "DEFAULT_REPLICATIONS",
    "CohortFit",
    "SyntheticDiDError",
    "SyntheticDiDSpec",
    "fit_cohorts",
    "frank_wolfe_weights",
    "synthetic_did",
]

METHOD = "synthetic_did"
DEFAULT_REPLICATIONS = 200
#: synthdid's defaults: eta.lambda, the stopping tolerance factor, the iteration caps.
ETA_LAMBDA = 1e-6
MIN_DECREASE_FACTOR = 1e-5
MAX_ITER_PRE_SPARSIFY = 100
MAX_ITER = 10_000


class SyntheticDiDError(DesignError, ValueError):
    """The data cannot identify a synthetic DiD effect (no pre-periods, no controls ...).

    A :class:`ValueError` and a :class:`~policylab.errors.DesignError` (the CLI reports it
    as a data error)."""


@dataclass(frozen=True)
class SyntheticDiDSpec:
    """The validated request of one :func:`synthetic_did` call."""

    outcome: Hashable
    unit: Hashable
    time: Hashable
    cohort: Hashable
    replications: int
    seed: int
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": METHOD,
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "cohort": as_spec_value(self.cohort),
            "replications": self.replications,
            "seed": self.seed,
            "alpha": self.alpha,
            "variance": "placebo",
            "weights": "cohort effects weighted by treated firms x post-periods",
        }


# --------------------------------------------------------------------------- the solver


def _fw_solve(
    y: np.ndarray, zeta: float, x: np.ndarray, min_decrease: float, max_iter: int
) -> np.ndarray:
    """Frank-Wolfe with exact line search (synthdid's ``fw.step``) for
    ``min_x ||A x - b||^2 / n + zeta^2 ||x||^2`` over the simplex, ``A = y[..., :-1]``,
    ``b = y[..., -1]`` (``y`` already centred when there is an intercept), for a stack of
    ``B`` problems at once: ``y`` is ``B x n x (k + 1)``, ``x`` the ``B x k`` starts. Each
    problem stops on its own when an iteration lowers its objective by ``min_decrease^2`` or
    less (after at least two iterations), or after ``max_iter``; a stopped problem is left
    as it was, so every problem gets exactly the iterates it would get alone."""
    if y.shape[0] == 1:
        return _fw_solve_one(y[0], zeta, x[0], min_decrease, max_iter)[None]
    a, b = y[..., :-1], y[..., -1]
    n_b, n, _ = a.shape
    z2 = zeta * zeta
    eta = n * z2
    x = np.array(x, dtype=np.float64)
    out = x.copy()
    idx = np.arange(n_b)  # the problems still running, compacted as others stop
    rows = idx.copy()
    ax = (a @ x[:, :, None])[:, :, 0]
    tol = min_decrease * min_decrease
    prev = np.full(n_b, np.inf)
    for t in range(max_iter):
        # d_x = e_i - x: grad . d_x and |d_x|^2 need no vector d_x
        half_grad = ((ax - b)[:, None, :] @ a)[:, 0, :] + eta * x
        i = half_grad.argmin(axis=1)
        xx = (x * x).sum(axis=1)
        d_err = a[rows, :, i] - ax
        denom = (d_err * d_err).sum(axis=1) + eta * (1.0 - 2.0 * x[rows, i] + xx)
        slope = half_grad[rows, i] - (half_grad * x).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(denom > 0.0, np.clip(-slope / denom, 0.0, 1.0), 0.0)
        x *= (1.0 - step)[:, None]
        x[rows, i] += step
        ax += step[:, None] * d_err
        err = ax - b
        val = z2 * (x * x).sum(axis=1) + (err * err).sum(axis=1) / n
        if t >= 1:
            going = prev - val > tol
            if not going.all():
                out[idx[~going]] = x[~going]
                idx, a, b = idx[going], a[going], b[going]
                x, ax, val = x[going], ax[going], val[going]
                if idx.size == 0:
                    return out
                rows = np.arange(idx.size)
        prev = val
    out[idx] = x
    return out


def _fw_solve_one(
    y: np.ndarray, zeta: float, x: np.ndarray, min_decrease: float, max_iter: int
) -> np.ndarray:
    """:func:`_fw_solve` for one problem (``y`` is ``n x (k + 1)``): the same iterates with
    fewer array operations per iteration."""
    a, b = y[:, :-1], y[:, -1]
    n = y.shape[0]
    z2 = zeta * zeta
    eta = n * z2
    x = np.array(x, dtype=np.float64)
    ax = a @ x
    tol = min_decrease * min_decrease
    prev = np.inf
    for t in range(max_iter):
        half_grad = (ax - b) @ a + eta * x
        i = int(half_grad.argmin())
        xx = float(x @ x)
        d_err = a[:, i] - ax
        denom = float(d_err @ d_err) + eta * (1.0 - 2.0 * x[i] + xx)
        if denom > 0.0:
            step = min(1.0, max(0.0, -(float(half_grad[i]) - float(half_grad @ x)) / denom))
            x *= 1.0 - step
            x[i] += step
            ax = ax + step * d_err
        err = ax - b
        val = z2 * float(x @ x) + float(err @ err) / n
        if t >= 1 and prev - val <= tol:
            break
        prev = val
    return x


def _sparsify(v: np.ndarray) -> np.ndarray:
    """synthdid's ``sparsify_function`` on each row: weights ``<= max / 4`` set to 0."""
    w = np.where(v <= v.max(axis=-1, keepdims=True) / 4.0, 0.0, v)
    return w / w.sum(axis=-1, keepdims=True)


def frank_wolfe_weights(
    y: np.ndarray,
    zeta: float,
    *,
    init: np.ndarray | None = None,
    min_decrease: float,
    intercept: bool = True,
) -> np.ndarray:
    """Simplex weights ``x`` for ``y[:, :-1] x ~ y[:, -1]`` as synthdid's
    ``sc.weight.fw`` within ``synthdid_estimate``: 100 iterations from ``init`` (uniform by
    default), sparsify, then to convergence (at most 10,000 iterations). ``intercept``
    centres each column first. A 3-d ``y`` (and 2-d ``init``) solves a stack of problems."""
    y = np.asarray(y, dtype=np.float64)
    single = y.ndim == 2
    if single:
        y = y[None]
    if intercept:
        y = y - y.mean(axis=1, keepdims=True)
    n_b, _, k1 = y.shape
    if init is None:
        x0 = np.full((n_b, k1 - 1), 1.0 / (k1 - 1))
    else:
        x0 = np.array(init, dtype=np.float64).reshape(n_b, k1 - 1)
    x = _fw_solve(y, zeta, x0, min_decrease, MAX_ITER_PRE_SPARSIFY)
    x = _fw_solve(y, zeta, _sparsify(x), min_decrease, MAX_ITER)
    return x[0] if single else x


def _sum_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one (uniform where a row sums to zero), as synthdid's."""
    s = x.sum(axis=-1, keepdims=True)
    safe = np.where(s != 0, s, 1.0)
    return np.where(s != 0, x / safe, 1.0 / x.shape[-1])


# --------------------------------------------------------------------------- one block


@dataclass(frozen=True)
class CohortFit:
    """The synthetic DiD of one adoption cohort (a block design).

    ``omega`` weights the controls (in the order of ``controls``), ``lambda_`` the
    ``n_pre`` periods before ``cohort``; ``zeta_omega``, ``zeta_lambda``, ``noise`` and
    ``min_decrease`` are the tuning the placebo replications reuse. ``weight`` is
    ``n_treated * n_post``, the cohort's share in the headline before normalisation.
    """

    cohort: int
    estimate: float
    omega: np.ndarray
    lambda_: np.ndarray
    controls: np.ndarray
    treated: np.ndarray
    n_pre: int
    n_post: int
    noise: float
    zeta_omega: float
    zeta_lambda: float
    min_decrease: float

    @property
    def weight(self) -> int:
        return int(self.treated.size * self.n_post)


def _tuning(pre_co: np.ndarray, n_treated: int, n_post: int) -> tuple[float, float, float, float]:
    """``(sigma, zeta_omega, zeta_lambda, min_decrease)`` as synthdid's defaults, from the
    controls' pre-period outcomes (controls x periods)."""
    noise = float(np.std(np.diff(pre_co, axis=1), ddof=1))
    return (noise, (n_treated * n_post) ** 0.25 * noise, ETA_LAMBDA * noise,
            MIN_DECREASE_FACTOR * noise)


def _blocks(
    y_co: np.ndarray,
    y_tr: np.ndarray,
    n_pre: int,
    tuning: tuple[float, float, float, float],
    *,
    lam0: np.ndarray | None = None,
    omega0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tau, omega, lambda)`` of a stack of ``B`` block designs: ``y_co`` is
    ``B x controls x periods``, ``y_tr`` ``B x treated x periods``, the first ``n_pre``
    periods before treatment; ``lam0``/``omega0`` start the solver (uniform if None)."""
    _, zeta_omega, zeta_lambda, min_decrease = tuning
    pre_co, post_mean_co = y_co[..., :n_pre], y_co[..., n_pre:].mean(axis=2)
    tr = y_tr.mean(axis=1)
    tr_pre, tr_post = tr[:, :n_pre], tr[:, n_pre:].mean(axis=1)
    lam = frank_wolfe_weights(np.concatenate([pre_co, post_mean_co[..., None]], axis=2),
                              zeta_lambda, init=lam0, min_decrease=min_decrease)
    omega = frank_wolfe_weights(
        np.concatenate([pre_co.transpose(0, 2, 1), tr_pre[..., None]], axis=2),
        zeta_omega, init=omega0, min_decrease=min_decrease)
    synth_pre = np.einsum("bc,bct->bt", omega, pre_co)
    tau = ((tr_post - np.einsum("bt,bt->b", tr_pre, lam))
           - (np.einsum("bc,bc->b", omega, post_mean_co) - np.einsum("bt,bt->b", synth_pre, lam)))
    return tau, omega, lam


# --------------------------------------------------------------------------- the panel


@dataclass(frozen=True)
class _Panel:
    y: np.ndarray  # units x periods
    periods: np.ndarray
    cohort: np.ndarray  # per unit; 0 = control (never treated in the window)
    n_obs: int
    notes: tuple[str, ...]


def _firms(n: int) -> str:
    return f"{n} firm{'s' if n != 1 else ''}"


def _balanced_panel(data: pd.DataFrame, spec: SyntheticDiDSpec) -> _Panel:
    panel = panel_inputs(
        data, outcome=spec.outcome, unit=spec.unit, time=spec.time, cluster=None, whole_time=True
    )
    g = numeric_column(data, spec.cohort, "cohort")
    no_missing(g, spec.cohort, "cohort")
    integer_valued(g, spec.cohort, "cohort")
    constant_within(
        g, panel.unit_codes, spec.cohort, "the period the firm is first treated; 0 = never"
    )
    if (g < 0).any():
        raise SyntheticDiDError(
            f"column {spec.cohort!r} (argument cohort=) must be the first treated period or 0 "
            f"(never treated), but holds {g[g < 0].min():g}"
        )
    keep = panel.outcome_rows.keep
    notes: list[str] = []
    if not keep.all():
        notes.append(panel.outcome_rows.warning(spec.outcome) or "")
    u_codes, u_levels = pd.factorize(panel.unit_codes[keep])
    periods, t_codes = np.unique(panel.time[keep], return_inverse=True)
    n_units, n_t = u_levels.size, periods.size
    y = np.full((n_units, n_t), np.nan)
    y[u_codes, t_codes] = panel.y[keep]
    coh = np.zeros(n_units)
    coh[u_codes] = g[keep]
    complete = ~np.isnan(y).any(axis=1)
    if not complete.all():
        n_inc = int((~complete).sum())
        n_inc_tr = int(((~complete) & (coh > 0)).sum())
        notes.append(
            f"synthetic DiD needs a balanced panel: dropped {_firms(n_inc)} not observed in all "
            f"{n_t} periods ({n_inc_tr} of them treated)"
        )
        y, coh = y[complete], coh[complete]
    late = (coh > periods[-1]) if periods.size else np.zeros(coh.size, bool)
    if late.any():
        notes.append(
            f"{_firms(int(late.sum()))} first treated after the last period serve as controls"
        )
        coh = np.where(late, 0.0, coh)
    return _Panel(y, periods, coh, int(y.size), tuple(n for n in notes if n))


def fit_cohorts(panel_y: np.ndarray, periods: np.ndarray, cohort: np.ndarray) -> list[CohortFit]:
    """One :class:`CohortFit` per adoption cohort of the balanced unit x period matrix
    ``panel_y`` (``cohort`` per row, 0 = control), each against all controls. Cohorts are
    assumed usable (2 periods before, one from the adoption on, at least one control)."""
    controls = np.flatnonzero(cohort == 0)
    fits = []
    for g in np.unique(cohort[cohort > 0]):
        treated = np.flatnonzero(cohort == g)
        n_pre = int((periods < g).sum())
        n_post = periods.size - n_pre
        tuning = _tuning(panel_y[controls, :n_pre], treated.size, n_post)
        tau, omega, lam = _blocks(panel_y[None, controls], panel_y[None, treated], n_pre, tuning)
        fits.append(CohortFit(int(g), float(tau[0]), omega[0], lam[0], controls, treated,
                              n_pre, n_post, *tuning))
    return fits


def _usable_cohorts(p: _Panel) -> tuple[np.ndarray, list[str]]:
    """The panel's cohort column with unusable cohorts recoded as dropped (-1), and notes.
    Raises :class:`SyntheticDiDError` when nothing can be estimated."""
    coh = p.cohort.copy()
    notes: list[str] = []
    if not (coh > 0).any():
        raise SyntheticDiDError(
            "synthetic DiD needs treated firms: no firm has a cohort (first treated period) "
            "within the panel's periods"
        )
    n_controls = int((coh == 0).sum())
    if n_controls == 0:
        raise SyntheticDiDError(
            "synthetic DiD needs control firms (cohort 0, never treated in the panel's "
            "periods); every firm is treated"
        )
    dropped = []
    for g in np.unique(coh[coh > 0]):
        n_pre = int((p.periods < g).sum())
        if n_pre < 2 or n_controls * (n_pre - 1) < 2:  # sigma needs 2 pre-period changes
            dropped.append((int(g), n_pre, int((coh == g).sum())))
            coh[coh == g] = -1.0
    if dropped:
        what = "; ".join(f"cohort {g} ({_firms(k)}, {n} pre-period{'s' if n != 1 else ''})"
                         for g, n, k in dropped)
        if not (coh > 0).any():
            raise SyntheticDiDError(
                "synthetic DiD needs at least 2 periods before treatment starts (the noise "
                f"level is the spread of pre-period changes); none has: {what}"
            )
        notes.append(f"dropped cohorts with fewer than 2 pre-periods: {what}")
    return coh, notes


def _aggregate(fits: list[CohortFit]) -> tuple[float, np.ndarray]:
    w = np.array([f.weight for f in fits], dtype=np.float64)
    w /= w.sum()
    return float(w @ np.array([f.estimate for f in fits])), w


#: Placebo replications solved together (bounds the memory of the stacked problems).
_CHUNK_CELLS = 4_000_000


def _placebo(
    y: np.ndarray, fits: list[CohortFit], controls: np.ndarray, replications: int, seed: int
) -> np.ndarray:
    """``replications x (1 + n_cohorts)`` placebo estimates (headline, then cohorts).

    Replication ``r`` permutes the controls; the last ``N_tr`` of the permutation take the
    treated firms' cohorts (in firm order), the others stay controls (synthdid's
    ``placebo_se``: ``sample(1:N0)``). Weights are re-solved from the fitted ones (``omega``
    restricted to the remaining controls and renormalised, ``lambda`` as fitted) with the
    fitted ``zeta`` and tolerance."""
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(controls.size) for _ in range(replications)])
    labels = np.concatenate([np.full(f.treated.size, k) for k, f in enumerate(fits)])
    n_keep = controls.size - labels.size
    w = np.array([f.weight for f in fits], dtype=np.float64)
    w /= w.sum()
    out = np.empty((replications, 1 + len(fits)))
    chunk = max(1, _CHUNK_CELLS // max(1, y.size))
    for lo in range(0, replications, chunk):
        pos = perms[lo:lo + chunk]
        keep_pos, placebo = pos[:, :n_keep], controls[pos[:, n_keep:]]
        for k, f in enumerate(fits):
            omega0 = _sum_normalize(f.omega[keep_pos])
            lam0 = np.broadcast_to(f.lambda_, (pos.shape[0], f.n_pre))
            tau, _, _ = _blocks(y[controls[keep_pos]], y[placebo[:, labels == k]], f.n_pre,
                                (f.noise, f.zeta_omega, f.zeta_lambda, f.min_decrease),
                                lam0=lam0, omega0=omega0)
            out[lo:lo + chunk, 1 + k] = tau
    out[:, 0] = out[:, 1:] @ w
    return out


# --------------------------------------------------------------------------- the estimator


def _normal_estimate(term: str, est: float, var: float, alpha: float) -> Estimate:
    if not np.isfinite(var):
        se = float("nan")
    else:
        se = float(np.sqrt(var)) if var > 0 else 0.0
    if se > 0:
        z = z_critical(alpha)
        p = 2.0 * NormalDist().cdf(-abs(est) / se)
        return Estimate(term, float(est), se, float(est - z * se), float(est + z * se), float(p))
    nan = float("nan")
    return Estimate(term, float(est), se, nan, nan, nan)


def _check_seed(seed: object) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    return check_int(seed, "seed", minimum=0)


def synthetic_did(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int | None = 0,
    alpha: float = 0.05,
) -> DiDResult:
    """Synthetic difference-in-differences with placebo standard errors.

    Parameters
    ----------
    data : DataFrame
        Firm-period panel, one row per firm and period. Not modified. Rows with a missing
        outcome are dropped, then firms not observed in every period (the estimator needs a
        balanced panel); both are counted in ``warnings``.
    outcome : column name
        Numeric outcome.
    unit, time : column names
        Firm identifier; period (whole numbers, e.g. years).
    cohort : column name
        The period the firm is first treated, constant within a firm; 0 = never treated
        (the controls). Firms first treated after the last period are controls. One
        cohort is a block design; several are estimated cohort by cohort (module
        docstring). Cohorts with fewer than 2 periods before their start are dropped.
    replications : int
        Placebo replications (``B``, at least 2; synthdid's default is 200).
    seed : int or None
        Seed of the placebo permutations (``None``: drawn and recorded in ``spec``).
    alpha : float
        ``1 - alpha`` normal confidence intervals.

    Returns
    -------
    DiDResult
        ``method="synthetic_did"``; headline term ``"att"``, then one ``"cohort::g"``
        term per cohort when there are several. ``vcov`` is the placebo covariance of the
        estimates. ``n_clusters`` is the number of firms (the placebo permutes firms).
        The standard error is NaN, with a warning, when there are not more controls
        than treated firms.

    Raises
    ------
    SyntheticDiDError
        (a ``ValueError``) without treated firms, without control firms, or without a
        cohort that has 2 periods before its start.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> rows = [(i, t, 1.0 * i + 0.5 * t + (2.0 if (i == 0 and t >= 6) else 0.0)
    ...          + rng.normal(0, 0.1), 6 if i == 0 else 0) for i in range(8) for t in range(9)]
    >>> df = pd.DataFrame(rows, columns=["firm", "year", "y", "cohort"])
    >>> r = synthetic_did(df, outcome="y", unit="firm", time="year", cohort="cohort",
    ...                   replications=20)
    >>> round(r.headline.estimate, 1)
    2.0
    """
    spec = SyntheticDiDSpec(
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        replications=check_int(replications, "replications", minimum=2),
        seed=_check_seed(seed),
        alpha=check_alpha(alpha),
    )
    data = check_frame(data)
    check_columns(data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}, None)
    p = _balanced_panel(data, spec)
    coh, notes = _usable_cohorts(p)
    notes = [*p.notes, *notes]
    use = coh >= 0
    y, coh = p.y[use], coh[use]
    fits = fit_cohorts(y, p.periods, coh)
    att, _ = _aggregate(fits)
    controls = fits[0].controls
    n_tr = int(sum(f.treated.size for f in fits))

    point = np.array([att, *(f.estimate for f in fits)])
    if controls.size > n_tr:
        draws = _placebo(y, fits, controls, spec.replications, spec.seed)
        vcov = np.atleast_2d(np.cov(draws, rowvar=False, ddof=0))
    else:
        vcov = np.full((point.size, point.size), np.nan)
        notes.append(
            f"no placebo standard error: it needs more control firms ({controls.size}) than "
            f"treated firms ({n_tr})"
        )
    terms = [ATT_TERM, *(cohort_term(f.cohort) for f in fits)]
    estimates = [
        _normal_estimate(t, e, vcov[k, k], spec.alpha)
        for k, (t, e) in enumerate(zip(terms, point, strict=True))
    ]
    if len(fits) == 1:  # a block design: the cohort term is the headline itself
        estimates, vcov = estimates[:1], vcov[:1, :1]
    return DiDResult(
        method=METHOD,
        outcome=str(outcome),
        estimates=tuple(estimates),
        headline=estimates[0],
        vcov=vcov,
        vcov_type=(f"placebo (Arkhangelsky et al. 2021, Algorithm 4): {spec.replications} "
                   f"permutations of the control firms, seed {spec.seed}"),
        alpha=spec.alpha,
        n_obs=int(y.size),
        n_units=int(y.shape[0]),
        n_treated=n_tr,
        n_clusters=int(y.shape[0]),
        spec=spec.to_dict(),
        warnings=tuple(notes),
    )
