"""Wooldridge's extended two-way fixed effects (ETWFE), linear and Poisson."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...errors import ConvergenceWarning, DesignError, SeparationWarning
from ..core.checks import (
    DiDInputError,
    as_spec_value,
    check_alpha,
    check_columns,
    check_frame,
    cluster_spec,
    no_missing,
    normalise_cluster,
    numeric_column,
    panel_inputs,
)
from ..core.checks import check_choice
from ..core.staggered import (
    OVERALL_TERM,
    Cells,
    cell_estimates,
    cohort_column,
    cohort_term,
    contiguous_codes,
    estimates_from,
    event_names,
    overall_weights,
    sorted_codes,
    staggered_sample,
    weight_matrix,
)
from ..core.fixed_effects import Factor, first_appearance_codes, fixest_dof_k
from ..core.poisson import PoissonFit, fit_poisson, group_codes, irls_converged, separated_rows
from ..results import CellEstimate, EffectScale, Estimate, StaggeredResult
from ..core.vcov import Clustering, TableScores, compute_vcov, few_clusters_warning, make_estimate

FAMILIES = ("linear", "poisson")
RANK_TOL = 1e-9


@dataclass(frozen=True)
class EtwfeSpec:
    """The validated request of one :func:`etwfe` call."""

    # --- data ---
    outcome: Hashable
    unit: Hashable
    time: Hashable
    cohort: Hashable
    covariates: tuple[Hashable, ...]
    # --- model ---
    family: str
    # --- inference ---
    cluster: tuple[Hashable, ...] | None
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": "etwfe",
            "family": self.family,
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "cohort": as_spec_value(self.cohort),
            "covariates": [as_spec_value(c) for c in self.covariates],
            "fixed_effects": "cohort and period (cohort-specific and period-specific "
            "covariate slopes)",
            "control": "never treated and not-yet-treated firm-periods",
            "cluster": cluster_spec(self.cluster),
            "alpha": self.alpha,
        }


def _covariate_names(covariates: object) -> tuple[Hashable, ...]:
    if covariates is None:
        return ()
    if isinstance(covariates, str):
        return (covariates,)
    if isinstance(covariates, (list, tuple)):
        names = tuple(covariates)
        if len(set(names)) != len(names):
            raise ValueError(f"covariates names a column twice: {list(names)!r}")
        return names
    raise TypeError(f"covariates must be a list of column names, got {type(covariates).__name__}")


def etwfe(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    family: str = "linear",
    covariates: Sequence[Hashable] = (),
    cluster: Hashable | list[Hashable] | None = None,
    alpha: float = 0.05,
) -> StaggeredResult:
    """Extended TWFE of Wooldridge (2021, linear; 2023, Poisson), as R ``etwfe``/``emfx``.

    Fits ``E[y_it] = h(a_g + l_t + sum_{g, s >= g} d_gs 1[G_i = g, t = s])`` with cohort
    effects ``a_g``, period effects ``l_t`` and one coefficient per treated cohort-period
    cell (``h`` the identity, or ``exp`` for Poisson pseudo-maximum likelihood). Never
    treated firms and the not-yet-treated periods of later cohorts are the comparison.
    The cell effects are then averaged over treated observations as ``emfx`` does: overall
    (``type = "simple"``), by cohort (``"group"``) and by event time (``"event"``).

    Parameters
    ----------
    data : DataFrame
        One row per firm and period (unbalanced panels are fine). Not modified.
    outcome : column name
        Numeric outcome (non-negative for Poisson, zeros allowed); rows where it is
        missing are dropped and counted in ``warnings``.
    unit, time : column names
        Firm identifier (for clustering and counting; the model uses cohort effects, not
        firm effects, as R ``etwfe``'s default) and period (whole numbers).
    cohort : column name
        First treated period, constant within firm; ``0`` = never treated.
    family : {"linear", "poisson"}
        ``"poisson"`` models the conditional mean as ``exp(.)``: the natural choice for
        export values with many zeros.
    covariates : list of column names
        Time-invariant controls. Each gets cohort- and period-specific slopes, and the
        cells are interacted with the covariate demeaned within each cohort-period cell
        (so a cell coefficient is the effect at the cell's mean covariates), as ``etwfe``
        with ``fe = "vs"``.
    cluster : column name, list of two column names, or None
        Cluster variable(s) of the CRV1 covariance; default ``unit``.
    alpha : float
        ``1 - alpha`` confidence intervals.

    Returns
    -------
    StaggeredResult
        ``method="etwfe"`` (``"etwfe_poisson"`` for Poisson; ``spec["estimator"]`` is
        ``"etwfe"`` for both). ``headline``: the ATT (term ``"att"``), the average effect over
        all treated observations; ``estimates``: by event time ``e = t - g >= 0``
        (``"event_time::<e>"``), ``vcov`` their covariance; ``by_cohort``: by cohort;
        ``cells``: the ATT(g, t). For Poisson these are in outcome units (average of
        ``E[y(1)] - E[y(0)]`` over the treated observations) and ``percent`` holds the
        same effects as percent changes, ``100 * (sum E[y(1)] / sum E[y(0)] - 1)``, which
        for one cell is ``100 * (exp(d_gs) - 1)``.

    Notes
    -----
    **Comparison group.** Without never-treated firms, the last-treated cohort is the
    comparison and every period from its first treated period on is dropped (R ``etwfe``
    does the same). Cohorts treated from their first observed period are dropped.

    **Standard errors.** CRV1 with fixest's small-sample factor, ``K`` counting every
    coefficient of the design (cohort and period effects included, nested ones as one);
    t with ``G - 1`` degrees of freedom for the linear model, the normal distribution for
    Poisson (as fixest and pyfixest for GLMs). Aggregates use the delta method with the
    full covariance; for Poisson the level effects also depend on the cohort and period
    effects and slopes, whose uncertainty is included (this reproduces the standard
    errors ``emfx`` publishes for the Poisson example of the ``etwfe`` vignette).

    **Separation (Poisson).** Observations in a cohort, a period or a treated cell whose
    outcome is zero throughout have infinite coefficients. They are detected (iteratively,
    ppmlhdfe's fixed-effect rule applied to the cohort, period and cell indicators),
    dropped, counted in ``warnings`` and signalled with a
    :class:`~policylab.errors.SeparationWarning`; an affected cell has no effect
    estimate. Separation caused by covariates is not detected.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(5)
    >>> firms, years = np.arange(90), np.arange(2010, 2018)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 8), "year": np.tile(years, 90)})
    >>> df["joined"] = np.repeat(np.where(firms < 30, 0, 2013 + firms % 2 * 2), 8)
    >>> on = (df["joined"] > 0) & (df["year"] >= df["joined"])
    >>> df["exports"] = rng.poisson(np.exp(1.0 + 0.4 * on))
    >>> res = etwfe(df, outcome="exports", unit="firm", time="year", cohort="joined",
    ...             family="poisson")
    >>> round(res.percent.headline.estimate / 10)   # about exp(0.4) - 1 = 49%
    5
    """
    spec = EtwfeSpec(
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=_covariate_names(covariates),
        family=check_choice(family, "family", FAMILIES),
        cluster=normalise_cluster(cluster),
        alpha=check_alpha(alpha),
    )
    data = check_frame(data)
    roles: dict[str, Hashable | None] = {
        "outcome": outcome,
        "unit": unit,
        "time": time,
        "cohort": cohort,
    }
    roles.update({f"covariates[{i}]": c for i, c in enumerate(spec.covariates)})
    check_columns(data, roles, spec.cluster)
    panel = panel_inputs(
        data, outcome=outcome, unit=unit, time=time, cluster=spec.cluster, whole_time=True
    )
    g = cohort_column(data, cohort, panel.unit_codes)
    xcov = (
        np.column_stack([numeric_column(data, c, "covariates") for c in spec.covariates])
        if spec.covariates
        else np.empty((len(data), 0))
    )
    for j, c in enumerate(spec.covariates):
        no_missing(xcov[:, j], c, "covariates")
    poisson = spec.family == "poisson"
    y_all = panel.y
    if poisson and np.any(y_all[panel.outcome_rows.keep] < 0):
        raise DiDInputError(
            f"column {outcome!r} (argument outcome=) has negative values; "
            "family='poisson' needs a non-negative outcome"
        )

    sample = staggered_sample(
        g,
        panel.time,
        panel.unit_codes,
        panel.outcome_rows.keep,
        control="auto",
        drop_never_with_last=False,
    )
    notes: list[str | None] = [panel.outcome_rows.warning(outcome), *sample.notes]
    keep = sample.keep.copy()
    in_cell_all = sample.treated_cohort & (panel.time >= g)

    g_codes = t_codes = None
    if not spec.covariates:
        g_codes, t_codes = sorted_codes(g), sorted_codes(panel.time)
    if poisson:
        rows = None if keep.all() else np.flatnonzero(keep)  # None: every row, no copies
        (gc, _), (tc, t_levels) = g_codes or sorted_codes(g), t_codes or sorted_codes(panel.time)
        if rows is not None:
            gc, tc = gc[rows], tc[rows]
        cell_key = gc * t_levels.size
        cell_key += tc
        cell_key[~(in_cell_all if rows is None else in_cell_all[rows])] = -1
        sep = separated_rows(y_all if rows is None else y_all[rows], [gc, tc, cell_key])
        del gc, tc, cell_key
        if sep.any():
            dropped = np.flatnonzero(sep) if rows is None else rows[sep]
            n_units = int(np.unique(panel.unit_codes[dropped]).size)
            msg = (
                f"separation: dropped {int(sep.sum())} observations ({n_units} firms) in "
                "cohorts, periods or treated cells whose outcome is zero throughout; their "
                "Poisson coefficients are not finite (ppmlhdfe's rule)"
            )
            warnings.warn(msg, SeparationWarning, stacklevel=2)
            notes.append(msg)
            keep[dropped] = False
        del sep, rows
        if not np.any(keep & in_cell_all):
            raise DesignError("every treated observation is separated (outcome zero throughout)")

    if spec.covariates:
        design = _design(g, panel.time, xcov, keep, in_cell_all, spec.covariates)
        row = None
    else:
        # Without covariates every regressor is a function of (cohort, period): fit on the
        # distinct cohort x period rows, weighted by their observations (the same
        # estimates; no n x p design).
        assert g_codes is not None and t_codes is not None
        design, row = _cell_design(g_codes, t_codes, keep, in_cell_all)
    notes.extend(design.notes)
    everything = bool(keep.all())

    def kept(a: np.ndarray) -> np.ndarray:
        return a if everything else a[keep]

    x, y = design.x, kept(y_all)
    n = y.size
    ucodes, n_units = first_appearance_codes(kept(panel.unit_codes))
    if spec.cluster:
        clustering = Clustering(
            spec.cluster, tuple(first_appearance_codes(kept(c))[0] for c in panel.cluster_codes)
        )
    else:
        clustering = Clustering((unit,), (ucodes,))

    if poisson:
        try:
            pfit = fit_poisson(y, x) if row is None else _fit_poisson_rows(y, row, design)
        except np.linalg.LinAlgError as err:
            raise DesignError(
                f"the Poisson fit failed ({err}); the fitted means may have underflowed "
                "(separation by covariates?)"
            ) from None
        if not pfit.converged:
            msg = f"Poisson IRLS did not converge in {pfit.n_iter} iterations"
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
            notes.append(msg)
        beta, fitted, bread = pfit.beta, pfit.mu, pfit.bread
        if not np.all(np.isfinite(beta)):
            raise DesignError("the Poisson estimates are not finite (separated data)")
    elif row is None:
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        fitted = x @ beta
        bread = np.linalg.inv(x.T @ x)
    else:
        assert design.row_weight is not None
        sw = np.sqrt(design.row_weight)
        y_sum = np.bincount(row, weights=y, minlength=sw.size)
        beta, *_ = np.linalg.lstsq(x * sw[:, None], y_sum / sw, rcond=None)
        fitted = x @ beta
        bread = np.linalg.inv((x * design.row_weight[:, None]).T @ x)
    if row is None:
        scores: np.ndarray | TableScores = x * (y - fitted)[:, None]
        cohort_codes, time_codes = design.cohort_codes, design.time_codes
    else:
        assert g_codes is not None and t_codes is not None
        # design.cohort_codes[row] and design.time_codes[row], from the sorted codes
        cohort_codes = contiguous_codes(kept(g_codes[0]))[0]
        time_codes = contiguous_codes(kept(t_codes[0]))[0]
        unit_type = np.zeros(n_units, dtype=np.intp)
        unit_type[ucodes] = cohort_codes  # the cohort is constant within firm
        type_row = np.full((design.n_cohorts, design.n_times), -1, dtype=np.intp)
        type_row[design.cohort_codes, design.time_codes] = np.arange(x.shape[0])
        resid = fitted[row]
        np.subtract(y, resid, out=resid)
        scores = TableScores(
            e=resid,
            row=row,
            table=x,
            units=ucodes,
            times=time_codes,
            unit_type=unit_type,
            type_row=type_row,
        )
    n_fe = design.n_cohorts + design.n_times - 1
    dof_k, _ = fixest_dof_k(
        x.shape[1] - n_fe,
        [Factor(*first_appearance_codes(c)) for c in (cohort_codes, time_codes)],
        list(clustering.codes),
    )
    v = compute_vcov("CRV1", scores, bread, dof_k=dof_k, clustering=clustering)
    notes.extend(v.notes)
    df = np.inf if poisson else v.df

    cells = design.cells
    ev_values, w_event = weight_matrix(cells, cells.event_time, np.ones(cells.n_obs.size, bool))
    co_values, w_cohort = weight_matrix(cells, cells.cohort, np.ones(cells.n_obs.size, bool))
    w_all = overall_weights(cells)
    # Rows: overall, event times, cohorts, cells -> one matrix of aggregation weights.
    w = np.vstack([w_all[None, :], w_event, w_cohort, np.eye(cells.n_obs.size)])

    if poisson:
        level, level_v, pct, pct_v = _poisson_effects(x, beta, design, w, v.matrix)
    else:
        b_cells = beta[design.cell_cols]
        v_cells = v.matrix[np.ix_(design.cell_cols, design.cell_cols)]
        level, level_v = w @ b_cells, w @ v_cells @ w.T

    def build(
        values: np.ndarray, cov: np.ndarray, prefix: str = ""
    ) -> tuple[Estimate, tuple[Estimate, ...], tuple[Estimate, ...], tuple[CellEstimate, ...]]:
        i_ev = slice(1, 1 + ev_values.size)
        i_co = slice(i_ev.stop, i_ev.stop + co_values.size)
        i_ce = slice(i_co.stop, None)
        head = make_estimate(
            prefix + OVERALL_TERM, float(values[0]), float(cov[0, 0]), df=df, alpha=spec.alpha
        )
        ev = estimates_from(
            [prefix + n for n in event_names(ev_values)],
            values[i_ev],
            cov[i_ev, i_ev],
            df=df,
            alpha=spec.alpha,
            event_times=[int(e) for e in ev_values],
        )
        co = estimates_from(
            [prefix + cohort_term(int(c)) for c in co_values],
            values[i_co],
            cov[i_co, i_co],
            df=df,
            alpha=spec.alpha,
        )
        ce = cell_estimates(cells, values[i_ce], cov[i_ce, i_ce], df=df, alpha=spec.alpha)
        return head, ev, co, ce

    headline, estimates, by_cohort, cell_est = build(level, level_v)
    percent = None
    if poisson:
        p_head, p_ev, p_co, p_ce = build(pct, pct_v)
        percent = EffectScale("percent", p_head, p_ev, p_co, p_ce)

    treated_rows = design.in_cell if row is None else design.in_cell[row]
    ever = np.zeros(n_units, dtype=bool)
    ever[ucodes[treated_rows]] = True
    notes.append(few_clusters_warning(clustering, ever[ucodes]))
    i_ev = slice(1, 1 + ev_values.size)
    event_vcov = level_v[i_ev, i_ev].copy()
    event_vcov.setflags(write=False)
    label = v.label + ("; normal distribution (Poisson)" if poisson else "")
    return StaggeredResult(
        method="etwfe_poisson" if poisson else "etwfe",
        outcome=str(outcome),
        estimates=estimates,
        headline=headline,
        vcov=event_vcov,
        vcov_type=label,
        alpha=spec.alpha,
        n_obs=n,
        n_units=n_units,
        n_treated=int(ever.sum()),
        n_clusters=v.n_clusters,
        spec=spec.to_dict(),
        warnings=tuple(m for m in notes if m),
        by_cohort=by_cohort,
        cells=cell_est,
        percent=percent,
    )


@dataclass(frozen=True)
class Design:
    """The dense ETWFE design on the estimation rows."""

    x: np.ndarray
    names: tuple[str, ...]
    cell_cols: np.ndarray  # columns of the cell indicators (one per cell, in cell order)
    cell_x_cols: np.ndarray  # columns of cell x demeaned covariate (n_cells x k)
    nuisance_cols: np.ndarray  # cohort/period effects and slopes
    cells: Cells
    cell_of_row: np.ndarray  # cell index per row, -1 if untreated
    in_cell: np.ndarray  # rows in a treated cell
    cohort_codes: np.ndarray
    time_codes: np.ndarray
    n_cohorts: int
    n_times: int
    notes: tuple[str, ...]
    # observations per row when the rows are distinct cohort x period combinations
    row_weight: np.ndarray | None = None


def _design(
    g_all: np.ndarray,
    t_all: np.ndarray,
    xcov_all: np.ndarray,
    keep: np.ndarray,
    in_cell_all: np.ndarray,
    cov_names: tuple[Hashable, ...],
    weights: np.ndarray | None = None,
) -> Design:
    """The dense ETWFE design on the rows ``keep``. ``weights``: each row stands for that
    many observations (rows are distinct cohort x period combinations); counts, covariate
    means and the rank check are weighted."""
    g, t, xc = g_all[keep], t_all[keep], xcov_all[keep]
    in_cell = in_cell_all[keep]
    wt = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    n, k = xc.shape
    c_codes, c_levels = pd.factorize(g, sort=True)
    t_codes, t_levels = pd.factorize(t, sort=True)
    n_c, n_t = len(c_levels), len(t_levels)

    cell_key = group_codes(g, t)
    cell_codes_raw = np.where(in_cell, cell_key, -1)
    cell_of_row, cell_ids = pd.factorize(cell_codes_raw[in_cell], sort=True)
    # cells sorted by (cohort, time): the factorized key is in (g, t) order of first
    # appearance; sort explicitly.
    cell_g = np.zeros(len(cell_ids))
    cell_t = np.zeros(len(cell_ids))
    cell_g[cell_of_row] = g[in_cell]
    cell_t[cell_of_row] = t[in_cell]
    order = np.lexsort((cell_t, cell_g))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    cell_idx = np.full(n, -1)
    cell_idx[in_cell] = rank[cell_of_row]
    cell_g, cell_t = cell_g[order], cell_t[order]
    n_cells = cell_g.size
    counts = np.bincount(
        cell_idx[in_cell], weights=None if wt is None else wt[in_cell], minlength=n_cells
    ).astype(np.float64)

    # Covariates demeaned within cohort-by-period cells (etwfe's `ave(x, g, t)`).
    if k:
        ct = group_codes(g, t)
        w_ct = np.ones(n) if wt is None else wt
        sums = np.column_stack([np.bincount(ct, weights=xc[:, j] * w_ct) for j in range(k)])
        x_dm = xc - (sums / np.bincount(ct, weights=w_ct)[:, None])[ct]
    else:
        x_dm = xc

    blocks: list[sp.spmatrix] = []
    names: list[str] = []
    rows = np.arange(n)
    coh = sp.csr_matrix((np.ones(n), (rows, c_codes)), shape=(n, n_c))
    per = sp.csr_matrix((np.ones(n), (rows, t_codes)), shape=(n, n_t))[:, 1:]
    blocks += [coh, per]
    names += [f"cohort::{int(c)}" for c in c_levels]
    names += [f"time::{int(s)}" for s in t_levels[1:]]
    for j, cname in enumerate(cov_names):
        blocks += [coh.multiply(xc[:, [j]]).tocsr(), per.multiply(xc[:, [j]]).tocsr()]
        names += [f"cohort::{int(c)}:{cname}" for c in c_levels]
        names += [f"time::{int(s)}:{cname}" for s in t_levels[1:]]
    n_nuisance = sum(b.shape[1] for b in blocks)
    tr = np.flatnonzero(in_cell)
    cel = sp.csr_matrix((np.ones(tr.size), (tr, cell_idx[tr])), shape=(n, n_cells))
    blocks.append(cel)
    cell_names = [f"cell::{int(a)}:{int(b)}" for a, b in zip(cell_g, cell_t, strict=True)]
    names += cell_names
    for j, cname in enumerate(cov_names):
        blocks.append(cel.multiply(x_dm[:, [j]]).tocsr())
        names += [f"{c}:{cname}_dm" for c in cell_names]
    x = sp.hstack(blocks).toarray()

    cell_cols = np.arange(n_nuisance, n_nuisance + n_cells)
    cell_x_cols = np.array(
        [[n_nuisance + n_cells * (1 + j) + c for j in range(k)] for c in range(n_cells)],
        dtype=np.intp,
    ).reshape(n_cells, k)
    x_rank = x if wt is None else x * np.sqrt(wt)[:, None]
    keep_cols, notes = _independent_columns(x_rank, names, n_nuisance, n_cells)
    # Re-index the column sets after dropping dependent nuisance/interaction columns.
    new_index = np.full(x.shape[1], -1)
    new_index[keep_cols] = np.arange(keep_cols.size)
    cells = Cells(
        cohort=cell_g.astype(np.int64),
        event_time=(cell_t - cell_g).astype(np.int64),
        time=tuple(int(s) for s in cell_t),
        n_obs=counts,
    )
    return Design(
        x=x[:, keep_cols],
        names=tuple(names[i] for i in keep_cols),
        cell_cols=new_index[cell_cols],
        cell_x_cols=new_index[cell_x_cols],
        nuisance_cols=new_index[np.arange(n_nuisance)][new_index[np.arange(n_nuisance)] >= 0],
        cells=cells,
        cell_of_row=cell_idx,
        in_cell=in_cell,
        cohort_codes=c_codes,
        time_codes=t_codes,
        n_cohorts=n_c,
        n_times=n_t,
        notes=notes,
        row_weight=wt,
    )


def _cell_design(
    g_codes: tuple[np.ndarray, np.ndarray],
    t_codes: tuple[np.ndarray, np.ndarray],
    keep: np.ndarray,
    in_cell_all: np.ndarray,
) -> tuple[Design, np.ndarray]:
    """The design without covariates on the distinct (cohort, period) rows of ``keep``,
    weighted by their observations, and the design row of each kept observation.
    ``g_codes``, ``t_codes``: full-length sorted codes and levels of cohort and period."""
    (gc, g_levels), (tc, t_levels) = g_codes, t_codes
    every = bool(keep.all())
    key = (gc if every else gc[keep]) * t_levels.size
    key += tc if every else tc[keep]
    count = np.bincount(key, minlength=g_levels.size * t_levels.size)
    present = np.flatnonzero(count)
    lookup = np.full(count.size, -1, dtype=np.intp)
    lookup[present] = np.arange(present.size)
    row = np.take(lookup, key, out=key)
    # Treated cells are a function of (cohort, period) on the kept rows.
    in_cell = np.zeros(present.size, dtype=bool)
    in_cell[row[in_cell_all if every else in_cell_all[keep]]] = True
    design = _design(
        g_levels[present // t_levels.size].astype(np.float64),
        t_levels[present % t_levels.size].astype(np.float64),
        np.empty((present.size, 0)),
        np.ones(present.size, dtype=bool),
        in_cell,
        (),
        weights=count[present].astype(np.float64),
    )
    return design, row


def _fit_poisson_rows(y: np.ndarray, row: np.ndarray, design: Design) -> PoissonFit:
    """:func:`policylab.did.core.poisson.fit_poisson` when observation ``i`` has the design row
    ``design.x[row[i]]``: the same IRLS iterations on the distinct rows.

    The start ``mu_i = (y_i + mean(y)) / 2`` varies within a row, so the first iteration
    uses the rows' sums of ``mu_i`` and ``mu_i z_i``; after it ``mu`` is constant within a
    row and every sum (``X'WX``, ``X'Wz``, the deviance) is one over the distinct rows.
    ``mu`` of the result is per distinct row.
    """
    x = design.x
    assert design.row_weight is not None
    w = design.row_weight
    k = x.shape[0]
    tol, maxiter = 1e-13, 200
    mu0 = y + y.mean()
    mu0 *= 0.5
    w_sum = np.bincount(row, weights=mu0, minlength=k)  # X'WX weights of iteration 1
    work = np.log(mu0)
    work *= mu0
    work += y
    work -= mu0  # mu0 * z0 = mu0 * eta0 + (y - mu0)
    z_sum = np.bincount(row, weights=work, minlength=k)  # X'Wz
    del mu0
    # The deviance before the first step only enters the convergence test of the first
    # iteration, which cannot pass (no step size yet): it is not computed.
    dev_old = np.inf
    y_sum = np.bincount(row, weights=y, minlength=k)
    np.copyto(work, y)
    np.log(work, out=work, where=y > 0)  # log y where y > 0, else y = 0
    y_log_y = float(y @ work)
    del work
    y_total = float(y_sum.sum())
    beta = np.zeros(x.shape[1])
    mu = np.zeros(k)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        if it > 1:
            w_sum = w * mu
            z_sum = w_sum * eta + (y_sum - w_sum)
        xtwx = (x * w_sum[:, None]).T @ x
        beta_new = np.linalg.solve(xtwx, x.T @ z_sum)
        eta = x @ beta_new
        mu = np.exp(eta)
        # sum_i [y_i log(y_i / mu_i) - (y_i - mu_i)] with mu_i constant within a row
        dev = 2.0 * (y_log_y - float(y_sum @ eta) - y_total + float(w @ mu))
        done = irls_converged(dev, dev_old, beta_new, beta, it, tol)
        beta, dev_old = beta_new, dev
        if done:
            converged = True
            break
    bread = np.linalg.inv((x * (w * mu)[:, None]).T @ x)
    return PoissonFit(
        beta=beta, mu=mu, bread=(bread + bread.T) / 2.0, converged=converged, n_iter=it
    )


def _independent_columns(
    x: np.ndarray, names: list[str], n_nuisance: int, n_cells: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Columns that are not linear combinations of earlier ones (in order).

    Nuisance columns (cohort/period effects and slopes) and covariate interactions that
    are collinear are dropped with a note, as fixest does; a collinear cell indicator means
    the effect is not identified (DesignError).
    """
    scale = np.linalg.norm(x, axis=0)
    r = np.linalg.qr(x / np.where(scale > 0, scale, 1.0), mode="r")
    dependent = (np.abs(np.diag(r)) <= RANK_TOL) | (scale == 0)
    if not dependent.any():
        return np.arange(x.shape[1]), ()
    lost = np.flatnonzero(dependent)
    cell_lost = [j for j in lost if n_nuisance <= j < n_nuisance + n_cells]
    if cell_lost:
        raise DesignError(
            "treatment-cell effects are collinear with the cohort and period effects: "
            + ", ".join(names[j] for j in cell_lost)
        )
    shown = [names[j] for j in lost]
    note = (
        f"{len(shown)} collinear term{'s' if len(shown) > 1 else ''} dropped "
        f"({', '.join(shown[:5])}{', ...' if len(shown) > 5 else ''})"
    )
    # Re-check: dropping may not be exhaustive under non-pivoted QR; verify full rank.
    kept = np.flatnonzero(~dependent)
    sv = np.linalg.svd(x[:, kept] / np.where(scale[kept] > 0, scale[kept], 1.0), compute_uv=False)
    if sv.min() <= RANK_TOL * sv.max():
        raise DesignError("the ETWFE design is rank deficient: " + ", ".join(shown))
    return kept, (note,)


def _poisson_effects(
    x: np.ndarray,
    beta: np.ndarray,
    design: Design,
    w_cells: np.ndarray,
    vcov: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Level and percent effects of sets of treated observations, with delta-method
    covariances.

    ``w_cells`` (sets x cells) gives each set as cell-count weights, i.e. the set's
    treated observations each weighted ``1 / n_set``. For a set ``S``:
    level ``= mean_S [mu_i(1) - mu_i(0)]`` with ``mu_i(1) = exp(x_i'b)`` and ``mu_i(0)``
    the same with the cell terms removed; percent ``= 100 * (sum_S mu(1) / sum_S mu(0) - 1)``.
    """
    tr = np.flatnonzero(design.in_cell)
    xt = x[tr]
    cell = design.cell_of_row[tr]
    treat_cols = np.concatenate([design.cell_cols, design.cell_x_cols.ravel()])
    treat_cols = treat_cols[treat_cols >= 0]
    x0 = xt.copy()
    x0[:, treat_cols] = 0.0
    mu1 = np.exp(xt @ beta)
    mu0 = np.exp(x0 @ beta)
    # Row weights of each set: w[set, cell] / n_obs[cell] on the rows of that cell.
    per = np.ones(tr.size) if design.row_weight is None else design.row_weight[tr]
    per_row = sp.csr_matrix(
        (per, (cell, np.arange(tr.size))), shape=(design.cells.n_obs.size, tr.size)
    )
    a = sp.csr_matrix(w_cells / design.cells.n_obs[None, :]) @ per_row  # sets x rows
    s1 = a @ mu1
    s0 = a @ mu0
    g1 = a @ (xt * mu1[:, None])
    g0 = a @ (x0 * mu0[:, None])
    level = s1 - s0
    grad_level = g1 - g0
    ratio = s1 / s0
    pct = 100.0 * (ratio - 1.0)
    grad_pct = 100.0 * (g1 - ratio[:, None] * g0) / s0[:, None]
    return (
        level,
        grad_level @ vcov @ grad_level.T,
        pct,
        grad_pct @ vcov @ grad_pct.T,
    )
