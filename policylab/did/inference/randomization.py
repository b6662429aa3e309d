"""Randomization inference for Callaway-Sant'Anna aggregates, permuting treatment timing
across clusters (consortia).

Treatment is assigned to whole consortia: a consortium's firms join in the same year. Under
the sharp null of a constant effect ``tau`` (``y_it(0) = y_it - tau * D_it``), the outcomes
without treatment are fixed, and any other assignment of the observed cohorts to the
consortia was as likely as the observed one (if timing was as good as random). The
p-value is the share of assignments whose aggregate ATT, computed on ``y - tau * D``, is at
least as far from zero as the observed one. Firms keep their consortium; the
consortium -> cohort map is permuted.

* ``among="treated_clusters"`` (default) permutes the cohorts among the clusters that were
  treated: only the *timing* is re-randomized, the comparison group (never-members, each
  its own cluster) stays as it is. This is the design policylab's data have: never-members
  are not consortia and could not have been assigned a cohort.
* ``among="all_clusters"`` permutes the cohorts, "never" included, among all clusters: valid
  when the treated consortia were drawn from comparable clusters (e.g. the comparison group
  is made of consortia that were not funded), never when the comparison units are single
  firms (a permutation would treat one firm in place of a consortium of twenty).

Exact or sampled. When the number of distinct assignments (a multinomial coefficient) is at
most ``B``, all of them are enumerated once (``exact=True``) and
``p = #{|T_b| >= |T_obs|} / N`` (identity included); otherwise ``B`` random permutations
give ``p = (1 + #{|T_b| >= |T_obs|}) / (B + 1)``.

Interval. The aggregate is linear in the outcome for a given assignment (the comparison
means, outcome regressions and group shares do not depend on ``y``), so
``T_b(tau) = T_b(y) - tau * T_b(D)`` and the p-value of every ``tau`` comes from two numbers
per assignment; the interval ``{tau : p(tau) > alpha}`` is found by bracketing and
bisection. It is a confidence interval for a *constant* effect. With few distinct
assignments no ``tau`` can be rejected and the interval is unbounded: that is the honest
answer of the design, and the result says so.

Fast path. Balanced panels without covariates or sampling weights (the usual firm-year
panel): each permutation's aggregate is computed from cluster-by-period outcome sums
(no refit), vectorised over permutations. Anything else refits :func:`att_gt` twice per
permutation (slow: use a small ``B``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd

from ...errors import DesignError, PolicylabWarning
from ..core.checks import check_alpha, check_frame, renamed_keyword
from ..results import FewClusterResult, GroupTimeResult
from .wild import (
    _TIE,
    DEFAULT_DRAWS,
    check_draws,
    check_flag,
    check_null,
    check_seed,
    invert_test,
    resolve_seed,
)

Among = Literal["treated_clusters", "all_clusters"]
AMONG: tuple[str, ...] = ("treated_clusters", "all_clusters")
NEVER = math.inf

__all__ = ["AMONG", "count_assignments", "randomization_inference"]


# --------------------------------------------------------------------------- permutations


def count_assignments(labels: np.ndarray) -> int:
    """Distinct arrangements of a multiset of labels: ``n! / prod(m_k!)``.

    Examples
    --------
    >>> count_assignments(np.array([2014, 2014, 2016, 2018]))
    12
    """
    _, counts = np.unique(labels, return_counts=True)
    out = math.factorial(int(labels.size))
    for c in counts:
        out //= math.factorial(int(c))
    return out


def _multiset_permutations(labels: np.ndarray) -> Iterator[tuple]:
    """Every distinct arrangement of ``labels`` once (the sorted one first)."""
    values, counts = np.unique(labels, return_counts=True)
    counts = counts.tolist()
    n = int(labels.size)
    out = [None] * n

    def rec(pos: int) -> Iterator[tuple]:
        if pos == n:
            yield tuple(out)
            return
        for k, v in enumerate(values.tolist()):
            if counts[k]:
                counts[k] -= 1
                out[pos] = v
                yield from rec(pos + 1)
                counts[k] += 1

    return rec(0)


def assignments(
    labels: np.ndarray, draws: int, seed: int
) -> tuple[np.ndarray, bool, int]:
    """Assignment matrix (rows = assignments, the observed one first), whether it is the
    exact enumeration, and the number of distinct assignments."""
    total = count_assignments(labels)
    if total <= draws:
        rows = np.array(list(_multiset_permutations(labels)), dtype=np.float64)
        obs = np.flatnonzero((rows == labels[None, :]).all(axis=1))
        order = np.r_[obs, np.setdiff1d(np.arange(rows.shape[0]), obs)]
        return rows[order], True, total
    rng = np.random.default_rng(seed)
    perm = rng.permuted(np.tile(labels, (draws, 1)), axis=1)
    return np.vstack([labels[None, :], perm]), False, total


# --------------------------------------------------------------------------- fast path


class _FastCS:
    """Callaway-Sant'Anna overall aggregates from cohort-by-period sums, for many
    assignments at once (balanced panel, no covariates, no weights)."""

    def __init__(
        self,
        periods: np.ndarray,
        cohorts: np.ndarray,
        kind: str,
        control_group: str,
        anticipation: int,
        min_e: int | None,
        max_e: int | None,
    ) -> None:
        self.periods = periods
        self.cohorts = cohorts  # treated cohort values, sorted
        self.kind = kind
        self.control = control_group
        self.ant = anticipation
        self.min_e, self.max_e = min_e, max_e
        T = periods.size
        self.base = np.array(
            [int(np.flatnonzero(periods + anticipation < g)[-1]) for g in cohorts]
        )
        # post cells (c, t): g <= t
        self.cells = [
            (c, t) for c, g in enumerate(cohorts) for t in range(T) if periods[t] >= g
        ]

    def __call__(self, sy: np.ndarray, n: np.ndarray, sy_never: np.ndarray, n_never: np.ndarray):
        """``sy`` (draws x cohorts x T), ``n`` (draws x cohorts): treated cohorts' sums and
        sizes; ``sy_never`` (draws x T), ``n_never`` (draws): never treated. Returns the
        overall aggregate per draw."""
        per = self.periods
        att = {}
        for c, t in self.cells:
            b = self.base[c]
            d_treat = (sy[:, c, t] - sy[:, c, b]) / n[:, c]
            num = sy_never[:, t] - sy_never[:, b]
            den = n_never.astype(np.float64).copy()
            if self.control == "not_yet_treated":
                horizon = max(per[t], per[b]) + self.ant
                for c2, g2 in enumerate(self.cohorts):
                    if g2 > horizon and c2 != c:
                        num = num + sy[:, c2, t] - sy[:, c2, b]
                        den = den + n[:, c2]
            att[(c, t)] = d_treat - num / den
        e_of = {(c, t): int(per[t] - self.cohorts[c]) for c, t in self.cells}
        kind = self.kind
        if kind == "simple":
            use = [k for k in self.cells if self.max_e is None or e_of[k] <= self.max_e]
            w = np.stack([n[:, c] for c, _ in use], axis=1).astype(np.float64)
            a = np.stack([att[k] for k in use], axis=1)
            return (w * a).sum(axis=1) / w.sum(axis=1)
        if kind == "group":
            thetas, sizes = [], []
            for c in range(self.cohorts.size):
                ks = [
                    k for k in self.cells
                    if k[0] == c and (self.max_e is None or e_of[k] <= self.max_e)
                ]  # fmt: skip
                if not ks:
                    continue
                thetas.append(np.mean(np.stack([att[k] for k in ks], axis=1), axis=1))
                sizes.append(n[:, c].astype(np.float64))
            th, sz = np.stack(thetas, axis=1), np.stack(sizes, axis=1)
            return (th * sz).sum(axis=1) / sz.sum(axis=1)
        if kind == "dynamic":
            es = sorted({e for e in e_of.values()})
            es = [
                e for e in es
                if (self.min_e is None or e >= self.min_e)
                and (self.max_e is None or e <= self.max_e)
            ]  # fmt: skip
            out = []
            for e in es:
                ks = [k for k in self.cells if e_of[k] == e]
                w = np.stack([n[:, c] for c, _ in ks], axis=1).astype(np.float64)
                a = np.stack([att[k] for k in ks], axis=1)
                out.append((w * a).sum(axis=1) / w.sum(axis=1))
            return np.mean(np.stack(out, axis=1), axis=1)
        # calendar
        ts = sorted({t for _, t in self.cells})
        out = []
        for t in ts:
            ks = [k for k in self.cells if k[1] == t]
            w = np.stack([n[:, c] for c, _ in ks], axis=1).astype(np.float64)
            a = np.stack([att[k] for k in ks], axis=1)
            out.append((w * a).sum(axis=1) / w.sum(axis=1))
        return np.mean(np.stack(out, axis=1), axis=1)


def fast_statistics(
    ysum: np.ndarray,
    dsum: np.ndarray,
    size: np.ndarray,
    fixed_y: np.ndarray,
    fixed_d: np.ndarray,
    fixed_n: int,
    rows: np.ndarray,
    stat: _FastCS,
    chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate of ``y`` and of ``D`` for every assignment (row of ``rows``: the label of
    each permuted cluster), from the permuted clusters' period sums (``ysum``, ``dsum``:
    clusters x T; ``size``: units per cluster) and the fixed never-treated units' sums."""
    a_all, c_all = [], []
    cohorts = stat.cohorts
    for lo in range(0, rows.shape[0], chunk):
        lab = rows[lo : lo + chunk]
        oh = (lab[:, :, None] == cohorts[None, None, :]).astype(np.float64)  # b x j x c
        never = np.isinf(lab).astype(np.float64)  # b x j
        n = np.einsum("bjc,j->bc", oh, size)
        n_never = never @ size + fixed_n
        out = []
        for s, fixed in ((ysum, fixed_y), (dsum, fixed_d)):
            sy = np.einsum("bjc,jt->bct", oh, s)
            sy_never = never @ s + fixed[None, :]
            out.append(stat(sy, n, sy_never, n_never))
        a_all.append(out[0])
        c_all.append(out[1])
    return np.concatenate(a_all), np.concatenate(c_all)


# --------------------------------------------------------------------------- public


def _check_among(value: object) -> str:
    if not isinstance(value, str) or value not in AMONG:
        raise ValueError(f"among must be one of {', '.join(map(repr, AMONG))}; got {value!r}")
    return value


def randomization_inference(
    result: GroupTimeResult,
    data: pd.DataFrame,
    kind: str = "simple",
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int | None = None,
    null: float = 0.0,
    alpha: float | None = None,
    among: Among = "treated_clusters",
    conf_int: bool = True,
    min_e: int | None = None,
    max_e: int | None = None,
    B: int | None = None,
) -> FewClusterResult:
    """Randomization inference for a Callaway-Sant'Anna aggregate by permuting the
    cluster -> cohort map (see the module docstring).

    Parameters
    ----------
    result : GroupTimeResult
        From :func:`att_gt`; its ``cluster`` is the unit of assignment (each firm its own
        cluster when not clustered). The cohort must be constant within each permuted
        cluster.
    data : DataFrame
        The data ``result`` was fitted on. Not modified.
    kind : {"simple", "group", "dynamic", "calendar"}
        The aggregation whose overall estimate is the test statistic (as
        :func:`aggregate`; ``min_e``/``max_e`` as there).
    draws : int
        Permutations (``B=`` is its deprecated name) when there are more than ``draws``
        distinct assignments; otherwise all are
        enumerated (exact).
    seed : int or None
        Seed of the sampled permutations (``None``: drawn and recorded).
    null : float
        Constant effect tested by the reported p-value.
    alpha : float or None
        Default: the result's.
    among : {"treated_clusters", "all_clusters"}
        Permute timing among the treated clusters only, or cohorts (never included) among
        all clusters.
    conf_int : bool
        Compute the interval by test inversion.

    Returns
    -------
    FewClusterResult
        ``method="randomization_inference"``, ``statistic = estimate - null``,
        ``std_error`` NaN, ``draws`` the assignments used (observed included),
        ``exact`` whether all were enumerated.

    Raises
    ------
    TypeError, ValueError
        Wrong argument types or values.
    DesignError
        A permuted cluster holds firms of different cohorts.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from policylab.did import att_gt
    >>> rng = np.random.default_rng(3)
    >>> firms, years = np.arange(200), np.arange(2010, 2018)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 8), "year": np.tile(years, 200)})
    >>> cons = np.where(firms < 80, firms // 10, 100 + firms)  # 8 consortia + singletons
    >>> df["consortium"] = np.repeat(cons, 8)
    >>> df["joined"] = np.repeat(np.where(firms < 80, 2012 + (firms // 10) % 4, 0), 8)
    >>> on = (df["joined"] > 0) & (df["year"] >= df["joined"])
    >>> df["exports"] = 0.5 * on + rng.normal(0, 1, len(df))
    >>> res = att_gt(df, outcome="exports", unit="firm", time="year", cohort="joined",
    ...              cluster="consortium")
    >>> ri = randomization_inference(res, df, "simple", seed=1)
    >>> ri.exact, ri.draws          # 8! / (2! 2! 2! 2!) timing assignments
    (True, 2520)
    """
    from ..estimators.callaway_santanna.aggregate import KINDS, aggregate

    if not isinstance(result, GroupTimeResult):
        raise TypeError(
            "randomization_inference takes the GroupTimeResult of att_gt; got "
            f"{type(result).__name__}"
        )
    data = check_frame(data)
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    draws = check_draws(renamed_keyword("B", B, "draws", draws), "draws")
    seed = check_seed(seed)
    null = check_null(null)
    alpha = result.alpha if alpha is None else check_alpha(alpha)
    among = _check_among(among)
    conf_int = check_flag(conf_int, "conf_int")
    for name, v in (("min_e", min_e), ("max_e", max_e)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"{name} must be None or an integer, got {v!r}")
    s = result.spec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicylabWarning)
        agg = aggregate(result, kind, min_e=min_e, max_e=max_e, bootstrap=False)
    estimate = float(agg.overall.estimate)

    # --- units, clusters and their cohorts -------------------------------------------
    units = np.asarray(result.units)
    ucoh = np.asarray(result.unit_cohort, dtype=np.float64)
    ucl = (
        np.asarray(result.unit_cluster)
        if result.unit_cluster is not None
        else np.arange(units.size)
    )
    g_all = int(ucl.max()) + 1
    first = np.full(g_all, np.nan)
    first[ucl] = ucoh
    mixed = np.flatnonzero(
        np.bincount(ucl, weights=(first[ucl] != ucoh).astype(float), minlength=g_all) > 0
    )
    if mixed.size:
        raise DesignError(
            f"randomization inference permutes cohorts across whole clusters, but "
            f"{mixed.size} cluster{'s' if mixed.size > 1 else ''} of {s['cluster']!r} hold "
            "firms of different cohorts"
        )
    cl_coh = first
    treated_cl = np.isfinite(cl_coh)
    n_treated_clusters = int(treated_cl.sum())
    permuted = treated_cl if among == "treated_clusters" else np.ones(g_all, dtype=bool)
    perm_ids = np.flatnonzero(permuted)
    labels = cl_coh[perm_ids]
    used_seed = resolve_seed(seed)
    rows, exact, total = assignments(labels, draws, used_seed)

    # --- statistics of y and D for every assignment ------------------------------------
    fast = (
        result.design == "panel"
        and not s.get("covariates")
        and s.get("weights") is None
        and np.isinf(ucoh).any()
        and s.get("control_group") in ("never_treated", "not_yet_treated")
    )
    notes: list[str] = []
    if fast:
        a, c = _fast_path(result, data, kind, rows, ucl, perm_ids, min_e, max_e)
        path = "cluster-by-period sums (no refit)"
    else:
        a, c = _slow_path(result, data, kind, rows, ucl, perm_ids, min_e, max_e)
        path = "att_gt refitted for every assignment"
    if not math.isclose(a[0], estimate, rel_tol=1e-7, abs_tol=1e-10):
        raise RuntimeError(
            f"internal: the permutation statistic of the observed assignment ({a[0]:.10g}) "
            f"differs from the aggregate ({estimate:.10g})"
        )

    def pfun(taus: np.ndarray) -> np.ndarray:
        taus = np.atleast_1d(np.asarray(taus, dtype=np.float64))
        t = np.abs(a[:, None] - taus[None, :] * c[:, None])
        obs = t[0] * (1.0 - _TIE)
        # row 0 is the observed assignment: exact -> #{...} / N (identity included);
        # sampled -> (1 + #{b : ...}) / (B + 1)
        return (t >= obs[None, :]).sum(axis=0) / t.shape[0]

    p = float(pfun(np.array([null]))[0])
    lo = hi = math.nan
    if conf_int:
        spread = float(np.std(a[1:])) if a.size > 1 else 0.0
        lo, hi, inv_notes = invert_test(pfun, estimate, spread, alpha)
        notes += inv_notes
    n_used = int(rows.shape[0])
    if total == 1:
        notes.append(
            "every permuted cluster has the same cohort: permuting the timing changes "
            "nothing, so randomization inference carries no information here"
        )
    elif exact and 1.0 / total > alpha:
        notes.append(
            f"only {total} distinct assignments of the cohorts to the "
            f"{perm_ids.size} permuted clusters: no p-value can be below {1.0 / total:.3g}, "
            f"so nothing can be rejected at alpha={alpha:g} and the interval is unbounded"
        )
    if math.isinf(lo) or math.isinf(hi):
        notes.append(
            "the randomization test does not reject any constant effect on at least one "
            "side: the interval is unbounded (the data cannot rule out effects of any size "
            "there)"
        )
    return FewClusterResult(
        method="randomization_inference",
        estimator="att_gt",
        term=f"overall:{kind}",
        estimate=estimate,
        std_error=math.nan,
        statistic=estimate - null,
        p_value=p,
        conf_low=lo,
        conf_high=hi,
        alpha=alpha,
        null=null,
        draws=n_used,
        weights=None,
        exact=exact,
        n_clusters=g_all,
        n_treated_clusters=n_treated_clusters,
        seed=None if exact else used_seed,
        spec={
            "estimator": "att_gt",
            "aggregation": kind,
            "min_e": min_e,
            "max_e": max_e,
            "among": among,
            "B": draws,
            "distinct_assignments": total,
            "seed": None if exact else used_seed,
            "null": null,
            "alpha": alpha,
            "statistic": "aggregate ATT of y - tau * D (sharp null of a constant effect)",
            "computation": path,
            "att_gt": dict(s),
        },
        warnings=tuple(notes),
    )


def _unit_rows(result: GroupTimeResult, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``data`` rows in the result's unit table (-1 if not used) and periods."""
    s = result.spec
    pos = pd.Index(result.units).get_indexer(data[s["unit"]])
    return pos, data[s["time"]].to_numpy()


def _fast_path(
    result: GroupTimeResult,
    data: pd.DataFrame,
    kind: str,
    rows: np.ndarray,
    ucl: np.ndarray,
    perm_ids: np.ndarray,
    min_e: int | None,
    max_e: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    s = result.spec
    pos, t_raw = _unit_rows(result, data)
    y = data[s["outcome"]].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = (pos >= 0) & ~np.isnan(y)
    periods = np.unique(np.r_[result.time, result.base_period]).astype(np.int64)
    tcode = np.searchsorted(periods, t_raw[ok])
    if np.any(periods[np.clip(tcode, 0, periods.size - 1)] != t_raw[ok]):
        raise RuntimeError("internal: periods of the data and the result differ")
    n, T = result.n_units, periods.size
    ymat = np.zeros((n, T))
    ymat[pos[ok], tcode] = y[ok]
    ucoh = np.asarray(result.unit_cohort, dtype=np.float64)
    dmat = (np.isfinite(ucoh)[:, None] & (periods[None, :] >= ucoh[:, None])).astype(float)
    g_all = int(ucl.max()) + 1
    in_perm = np.zeros(g_all, dtype=bool)
    in_perm[perm_ids] = True
    # cluster-by-period sums of the permuted clusters (in perm_ids order)
    remap = np.full(g_all, -1)
    remap[perm_ids] = np.arange(perm_ids.size)
    mov = in_perm[ucl]
    j = remap[ucl[mov]]
    ysum = np.zeros((perm_ids.size, T))
    dsum = np.zeros((perm_ids.size, T))
    np.add.at(ysum, j, ymat[mov])
    np.add.at(dsum, j, dmat[mov])
    size = np.bincount(j, minlength=perm_ids.size).astype(np.float64)
    fixed = ~mov
    if np.any(np.isfinite(ucoh[fixed])):
        raise RuntimeError("internal: a treated unit outside the permuted clusters")
    fixed_y = ymat[fixed].sum(axis=0)
    fixed_d = dmat[fixed].sum(axis=0)
    cohorts = np.unique(ucoh[np.isfinite(ucoh)])
    stat = _FastCS(
        periods.astype(np.float64),
        cohorts,
        kind,
        s["control_group"],
        int(s.get("anticipation", 0)),
        min_e,
        max_e,
    )
    return fast_statistics(ysum, dsum, size, fixed_y, fixed_d, int(fixed.sum()), rows, stat)


def _slow_path(
    result: GroupTimeResult,
    data: pd.DataFrame,
    kind: str,
    rows: np.ndarray,
    ucl: np.ndarray,
    perm_ids: np.ndarray,
    min_e: int | None,
    max_e: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    from ..estimators.callaway_santanna.aggregate import aggregate
    from ..estimators.callaway_santanna.att_gt import att_gt

    s = result.spec
    pos, t_raw = _unit_rows(result, data)
    coh_col = data[s["cohort"]].to_numpy(dtype=np.float64)
    used = pos >= 0
    ucoh = np.asarray(result.unit_cohort, dtype=np.float64)
    obs_coh = np.where(used, ucoh[np.where(used, pos, 0)], np.nan)
    d_obs = (used & np.isfinite(obs_coh) & (t_raw >= np.nan_to_num(obs_coh, posinf=0))).astype(
        float
    )
    g_all = int(ucl.max()) + 1
    row_cl = np.where(used, ucl[np.where(used, pos, 0)], -1)
    kwargs: dict[str, Any] = {
        k: s[k]
        for k in (
            "unit", "time", "control_group", "method", "covariates", "base_period",
            "anticipation", "cluster", "weights", "panel",
        )
    }  # fmt: skip
    work = data.copy()
    tmp_y, tmp_g = "__ri_outcome__", "__ri_cohort__"
    a_out, c_out = [], []
    for row in rows:
        lab = np.full(g_all, np.nan)
        lab[perm_ids] = row
        new = lab[np.where(row_cl >= 0, row_cl, 0)]
        cohort = np.where(
            (row_cl >= 0) & ~np.isnan(new), np.where(np.isinf(new), 0.0, new), coh_col
        )
        work[tmp_g] = cohort
        vals = []
        for outcome in (s["outcome"], None):
            work[tmp_y] = data[s["outcome"]] if outcome is not None else d_obs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PolicylabWarning)
                gt = att_gt(work, outcome=tmp_y, cohort=tmp_g, **kwargs)
                vals.append(aggregate(gt, kind, min_e=min_e, max_e=max_e).overall.estimate)
        a_out.append(vals[0])
        c_out.append(vals[1])
    return np.asarray(a_out), np.asarray(c_out)
