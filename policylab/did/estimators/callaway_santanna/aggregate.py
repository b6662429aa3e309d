"""Aggregations of group-time ATTs, as R ``did``'s ``aggte``.

``kind`` and what it averages (``pg`` = share of units in group ``g``, sampling-weighted):

``"simple"``
    Post-treatment ``ATT(g, t)`` (``g <= t <= g + max_e``) weighted by ``pg``.
``"group"``
    Per group, the mean of its post-treatment cells; overall, the groups weighted by ``pg``.
``"dynamic"``
    Per event time ``e = t - g`` (within ``[min_e, max_e]``; with ``balance_e`` only groups
    observed for ``balance_e`` periods after treatment, and ``e`` between
    ``balance_e - (T_max - T_min)`` and ``balance_e``), the cells weighted by ``pg``; overall,
    the mean of the effects at ``e >= 0``.
``"calendar"``
    Per period ``t`` (from the first treated period on), the treated cells weighted by ``pg``;
    overall, the mean over periods.

Standard errors come from the influence function of each aggregate: the weighted cell
influence functions plus, where the weights are estimated group shares (simple, the group
overall, dynamic and calendar elements), R ``did``'s extra term for the estimated weights
(``wif``). Its closed form per unit is ``w_i (a(G_i) - m(G_i) theta) / sum(pg)`` with
``a(g)`` the sum of the aggregated cells' ATTs of group ``g`` and ``m(g)`` their number; no
``n x cells`` matrix is formed. Clustering and the bootstrap follow the ``GroupTimeResult``
unless overridden. The group shares ``pg`` are taken over the rows of the influence function:
units (balanced or unbalanced panels) or observations (repeated cross-sections without
``unit``), with the sampling weights when given (as R ``did``; moderndid 0.2 drops the
weights here).
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

import numpy as np

from ...core.checks import check_choice, check_int
from ...core.normal import z_critical
from ...core.influence import multiplier_draws, standard_errors, vcov
from ...results import AggregateResult, Estimate, GroupTimeResult

AggregateKind = Literal["simple", "group", "dynamic", "calendar"]
KINDS: tuple[str, ...] = get_args(AggregateKind)

__all__ = ["KINDS", "aggregate"]


def _opt_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be None or an integer (periods), got {value!r}")
    return int(value)


def _bootstrap_option(value: object, inherited: int | None) -> int | None:
    if value is None:
        return inherited
    if value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            "bootstrap must be None (as the group-time result), False (analytic standard "
            f"errors) or the number of multiplier bootstrap draws; got {value!r}"
        )
    return check_int(value, "bootstrap", minimum=2)


def aggregate(
    result: GroupTimeResult,
    kind: AggregateKind = "simple",
    *,
    balance_e: int | None = None,
    min_e: int | None = None,
    max_e: int | None = None,
    bootstrap: int | bool | None = None,
    seed: int | None = None,
) -> AggregateResult:
    """Aggregate group-time ATTs into an overall effect and its elements (R ``aggte``).

    Parameters
    ----------
    result : GroupTimeResult
        Output of :func:`policylab.did.estimators.callaway_santanna.att_gt`.
    kind : {"simple", "group", "dynamic", "calendar"}
        The aggregation (see the module docstring).
    balance_e : int or None
        ``"dynamic"`` only: keep the groups observed for at least ``balance_e`` periods after
        treatment and event times up to ``balance_e``.
    min_e, max_e : int or None
        Event-time window: ``min_e`` for ``"dynamic"``; ``max_e`` for ``"simple"``,
        ``"group"`` and ``"dynamic"``.
    bootstrap : None, False or int
        ``None``: as ``result`` (analytic, or its bootstrap draws); ``False``: analytic;
        ``B``: multiplier bootstrap with ``B`` draws and a uniform band over the elements.
    seed : int or None
        Bootstrap seed (default: ``result``'s).

    Returns
    -------
    AggregateResult
        ``.estimate``/``.std_error`` (overall), ``.overall`` (an :class:`Estimate`) and the
        elements in ``.tidy()``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from policylab.did import att_gt
    >>> rng = np.random.default_rng(3)
    >>> firms, years = np.arange(300), np.arange(2010, 2016)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 6), "year": np.tile(years, 300)})
    >>> df["joined"] = np.repeat(np.where(firms < 100, 0, 2012 + firms % 3), 6)
    >>> on = (df["joined"] > 0) & (df["year"] >= df["joined"])
    >>> df["exports"] = 0.5 * on + rng.normal(0, 0.1, len(df))
    >>> res = att_gt(df, outcome="exports", unit="firm", time="year", cohort="joined")
    >>> es = aggregate(res, "dynamic")
    >>> es.tidy()["term"].tolist()[:3]
    ['overall', 'event_time::-3', 'event_time::-2']
    >>> round(es.estimate, 1)
    0.5
    """
    if not isinstance(result, GroupTimeResult):
        raise TypeError(
            f"result must be a GroupTimeResult (from att_gt), got {type(result).__name__}"
        )
    check_choice(kind, "kind", KINDS)
    balance_e = _opt_int(balance_e, "balance_e")
    min_e = _opt_int(min_e, "min_e")
    max_e = _opt_int(max_e, "max_e")
    if balance_e is not None and kind != "dynamic":
        raise ValueError(f"balance_e only applies to kind='dynamic' (got kind={kind!r})")
    if min_e is not None and kind != "dynamic":
        raise ValueError(f"min_e only applies to kind='dynamic' (got kind={kind!r})")
    if max_e is not None and kind == "calendar":
        raise ValueError("max_e does not apply to kind='calendar'")
    if min_e is not None and max_e is not None and min_e > max_e:
        raise ValueError(f"min_e ({min_e}) is larger than max_e ({max_e})")
    draws = _bootstrap_option(bootstrap, result.spec.get("bootstrap"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be None or an integer, got {seed!r}")
    seed = result.spec.get("seed") if seed is None else int(seed)

    agg = _Aggregator(result)
    keys, W, wif_cols, ov_w, ov_wif, notes = agg.plan(kind, balance_e, min_e, max_e)
    est = result.att @ W if W.size else np.zeros(0)

    # Influence functions, column by column (each element uses a few cells: a sparse
    # combination of the cell influence functions is far cheaper than a dense product).
    IF = result.influence
    k = keys.size
    inf = np.empty((result.n_units, k + 1), order="F")
    for j in range(k):
        agg.combine(IF, W[:, j], inf[:, j])
        if wif_cols[j] is not None:
            agg.add_wif(inf[:, j], wif_cols[j], est[j])
    ov_est = float(result.att @ ov_w)
    if kind == "simple":
        agg.combine(IF, ov_w, inf[:, -1])
        agg.add_wif(inf[:, -1], ov_wif, ov_est)
    elif kind == "group":
        # groups weighted by pg, plus the term for the estimated group shares
        _weighted_sum(inf[:, :k], ov_wif / ov_wif.sum(), inf[:, -1])
        agg.add_wif_groups(inf[:, -1], keys, est, ov_est)
    else:
        # dynamic: mean of the elements at e >= 0; calendar: mean of all elements. Each
        # element already carries its estimated-weights term (R aggte).
        use = np.flatnonzero(keys >= 0) if kind == "dynamic" else np.arange(k)
        lo, hi = int(use[0]), int(use[-1]) + 1  # keys are sorted: a contiguous block
        _weighted_sum(inf[:, lo:hi], np.full(hi - lo, 1.0 / (hi - lo)), inf[:, -1])

    cluster = result.unit_cluster
    el_inf = inf[:, :-1]
    se_el = standard_errors(el_inf, cluster) if keys.size else np.zeros(0)
    se_ov = float(standard_errors(inf[:, -1], cluster)[0])
    z = z_critical(result.alpha)
    crit, uniform = z, False
    if draws:
        rng = np.random.default_rng(seed)
        if keys.size:
            se_el, crit_b = multiplier_draws(
                el_inf, cluster, draws=draws, seed=rng, alpha=result.alpha
            )
            if math.isfinite(crit_b) and crit_b >= z:
                crit, uniform = crit_b, True
            elif keys.size > 1:
                notes.append(
                    "the bootstrap gave no usable uniform critical value; element intervals "
                    "are pointwise"
                )
        se_boot, _ = multiplier_draws(
            inf[:, -1], cluster, draws=draws, seed=rng, alpha=result.alpha
        )
        se_ov = float(se_boot[0])
    V = vcov(el_inf, cluster) if keys.size else np.zeros((0, 0))
    p_ov = math.erfc(abs(ov_est / se_ov) / math.sqrt(2.0)) if se_ov > 0 else float("nan")
    overall = Estimate(
        term="overall",
        estimate=ov_est,
        std_error=se_ov,
        conf_low=ov_est - z * se_ov,
        conf_high=ov_est + z * se_ov,
        p_value=p_ov,
    )
    spec: dict[str, Any] = {
        "aggregation": kind,
        "balance_e": balance_e,
        "min_e": min_e,
        "max_e": max_e,
        "bootstrap": draws,
        "seed": seed if draws else None,
        "att_gt": dict(result.spec),
    }
    return AggregateResult(
        kind=kind,
        outcome=result.outcome,
        overall=overall,
        keys=keys.astype(np.int64),
        estimates=est,
        std_errors=se_el,
        conf_low=est - crit * se_el,
        conf_high=est + crit * se_el,
        point_conf_low=est - z * se_el,
        point_conf_high=est + z * se_el,
        critical_value=float(crit),
        uniform_band=uniform,
        vcov=V,
        weights=W.T.copy(),
        overall_weights=ov_w.copy(),
        cell_group=result.group.copy(),
        cell_time=result.time.copy(),
        n_units=result.n_units,
        n_treated=result.n_treated,
        n_clusters=result.n_clusters,
        alpha=result.alpha,
        spec=spec,
        warnings=tuple(result.warnings) + tuple(notes),
    )




def _weighted_sum(cols: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    """``out = cols @ w`` column by column (no BLAS: see ``core.influence._dot``)."""
    np.multiply(cols[:, 0], w[0], out=out)
    for j in range(1, w.size):
        out += w[j] * cols[:, j]


def _combine(IF: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    """``out = IF @ w`` using only the non-zero weights, one matrix-vector product per run of
    consecutive cells (``IF`` is column-major, so each run is a contiguous block)."""
    nz = np.flatnonzero(w)
    if nz.size == 0:
        out[:] = 0.0
        return
    breaks = np.flatnonzero(np.diff(nz) > 1) + 1
    for i, run in enumerate(np.split(nz, breaks)):
        lo, hi = int(run[0]), int(run[-1]) + 1
        part = np.einsum("ij,j->i", IF[:, lo:hi], w[lo:hi])
        if i == 0:
            out[:] = part
        else:
            out += part


def _pg_weights(sel: np.ndarray, pg_cell: np.ndarray) -> np.ndarray:
    w = np.zeros(pg_cell.size)
    w[sel] = pg_cell[sel] / pg_cell[sel].sum()
    return w


def aggregation_plan(kind: str, group: np.ndarray, time: np.ndarray, groups: np.ndarray,
                     pg: np.ndarray, balance_e: int | None, min_e: int | None,
                     max_e: int | None):
    """The weights of one aggregation of ``ATT(g,t)`` cells (``group``, ``time`` per cell;
    ``pg`` the share of units in each of ``groups``, R ``aggte``'s): element keys, weights
    ``W`` (cells x elements), each element's estimated-weights cells, the overall weights and
    their cells or group shares, and notes. Shared by :func:`aggregate` and the SQL engines
    (:mod:`policylab.engines`)."""
    g, t = group, time
    e = t - g
    K = g.size
    cell_g = np.searchsorted(groups, g)
    pg_cell = pg[cell_g]
    post = g <= t
    if max_e is not None and kind != "calendar":
        post = post & (e <= max_e)
    notes: list[str] = []
    cols, wifs, keys = [], [], []
    if kind == "simple":
        if not post.any():
            raise ValueError("no post-treatment group-time effects to aggregate")
        ov = _pg_weights(post, pg_cell)
        return np.zeros(0), np.zeros((K, 0)), [], ov, np.flatnonzero(post), notes
    if kind == "group":
        for gv in groups:
            sel = (g == gv) & post
            if not sel.any():
                notes.append(f"group {int(gv)} has no post-treatment cells in the window")
                continue
            w = np.zeros(K)
            w[sel] = 1.0 / sel.sum()
            cols.append(w)
            wifs.append(None)
            keys.append(gv)
        if not cols:
            raise ValueError("no post-treatment group-time effects to aggregate")
        W = np.column_stack(cols)
        key_arr = np.asarray(keys)
        pgg = pg[np.searchsorted(groups, key_arr)]
        ov = W @ (pgg / pgg.sum())
        return key_arr, W, wifs, ov, pgg, notes
    if kind == "dynamic":
        include = np.ones(K, dtype=bool)
        eseq = np.unique(e)
        if balance_e is not None:
            t_max = t.max()
            t_min = min(t.min(), g.min())
            include = (t_max - g) >= balance_e
            eseq = np.unique(e[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_max + t_min)]
        if min_e is not None:
            eseq = eseq[eseq >= min_e]
        if max_e is not None:
            eseq = eseq[eseq <= max_e]
        for ev in eseq:
            sel = (e == ev) & include
            if not sel.any():
                continue
            cols.append(_pg_weights(sel, pg_cell))
            wifs.append(np.flatnonzero(sel))
            keys.append(ev)
        if not cols:
            raise ValueError("no event times left to aggregate (check balance_e/min_e/max_e)")
        W = np.column_stack(cols)
        key_arr = np.asarray(keys)
        posk = key_arr >= 0
        if not posk.any():
            raise ValueError("no event time >= 0 in the window: no overall dynamic effect")
        ov = W[:, posk].mean(axis=1)
        return key_arr, W, wifs, ov, None, notes
    tseq = np.unique(t[t >= g.min()])
    for tv in tseq:
        sel = (t == tv) & (g <= tv)
        if not sel.any():
            continue
        cols.append(_pg_weights(sel, pg_cell))
        wifs.append(np.flatnonzero(sel))
        keys.append(tv)
    if not cols:
        raise ValueError("no post-treatment group-time effects to aggregate")
    W = np.column_stack(cols)
    ov = W.mean(axis=1)
    return np.asarray(keys), W, wifs, ov, None, notes



class _Aggregator:
    """Group shares and the estimated-weights term, using the cohort blocks of the units.

    ``att_gt`` orders the influence-function rows by cohort, so each group is one contiguous
    block of units and the term ``w_i (a(G_i) - m(G_i) theta) / sum(pg)`` is added block by
    block, touching only the units of the groups involved.
    """

    def __init__(self, r: GroupTimeResult) -> None:
        self.r = r
        self.groups = np.unique(r.group)
        coh = r.unit_cohort
        self.w = None if r.unit_weight is None else np.asarray(r.unit_weight, dtype=float)
        self.sorted = coh.size < 2 or bool((coh[1:] >= coh[:-1]).all())
        if not self.sorted:  # not built by att_gt
            order = np.argsort(coh, kind="stable")
            self.members = [order[coh[order] == g] for g in self.groups]
        else:
            lo = np.searchsorted(coh, self.groups, side="left")
            hi = np.searchsorted(coh, self.groups, side="right")
            self.members = [slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True)]
        self._support: dict[int, list[slice]] = {}
        n = r.n_units
        # pg: mean over units of w * 1{G = g} (R aggte)
        self.pg = np.array(
            [(self.w[m].sum() if self.w is not None else _size(m)) / n for m in self.members]
        )
        self.cell_g = np.searchsorted(self.groups, r.group)
        self.pg_cell = self.pg[self.cell_g]

    # -- influence functions of weighted sums of cells ------------------------------
    def support(self, c: int) -> list[slice]:
        """Rows where cell ``c``'s influence function can be non-zero: its cohort and its
        comparison cohorts, as merged contiguous unit blocks."""
        if c not in self._support:
            r = self.r
            coh = r.unit_cohort
            vals = np.union1d([float(r.group[c])], np.asarray(r.comparison_cohorts[c], float))
            lo = np.searchsorted(coh, vals, side="left")
            hi = np.searchsorted(coh, vals, side="right")
            merged: list[list[int]] = []
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                if merged and a <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b)
                elif b > a:
                    merged.append([a, b])
            self._support[c] = [slice(a, b) for a, b in merged]
        return self._support[c]

    def combine(self, IF: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
        """``out = IF @ w``, visiting only the rows where each weighted cell is non-zero
        (about half of them with never-treated comparisons)."""
        if not self.sorted:
            _combine(IF, w, out)
            return
        out.fill(0.0)
        for c in np.flatnonzero(w).tolist():
            wc = w[c]
            for sl in self.support(c):
                seg = out[sl]
                seg += wc * IF[sl, c]

    # -- weights -----------------------------------------------------------------
    def plan(self, kind: str, balance_e, min_e, max_e):
        return aggregation_plan(kind, self.r.group, self.r.time, self.groups, self.pg,
                                balance_e, min_e, max_e)

    # -- estimated-weights term --------------------------------------------------
    def _add(self, col: np.ndarray, coef: np.ndarray) -> None:
        for gi in np.flatnonzero(coef):
            m = self.members[gi]
            col[m] += coef[gi] if self.w is None else coef[gi] * self.w[m]

    def add_wif(self, col: np.ndarray, cells: np.ndarray, theta: float) -> None:
        """Add R ``did``'s ``wif %*% att`` for cells weighted by their groups' ``pg``."""
        r = self.r
        G = self.groups.size
        a = np.bincount(self.cell_g[cells], weights=r.att[cells], minlength=G)
        m = np.bincount(self.cell_g[cells], minlength=G).astype(float)
        self._add(col, (a - m * theta) / self.pg_cell[cells].sum())

    def add_wif_groups(self, col: np.ndarray, keys: np.ndarray, theta_g: np.ndarray, theta):
        """The same term for the group overall: one 'cell' per group with ATT ``theta_g``."""
        G = self.groups.size
        gi = np.searchsorted(self.groups, keys)
        a = np.zeros(G)
        m = np.zeros(G)
        a[gi] = theta_g
        m[gi] = 1.0
        self._add(col, (a - m * theta) / self.pg[gi].sum())


def _size(m: slice | np.ndarray) -> int:
    return m.stop - m.start if isinstance(m, slice) else int(m.size)
