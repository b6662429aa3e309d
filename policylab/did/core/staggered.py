"""Shared pieces of the cohort-based estimators (:func:`sun_abraham`, :func:`etwfe`).

* :func:`cohort_column` validates the first-treated-period column;
* :func:`staggered_sample` decides which firms are controls, which cohorts cannot be used
  (treated from their first observed period) and, without never-treated firms, which
  periods must go because the last-treated cohort serves as the control;
* :func:`aggregate` turns cell coefficients and their covariance into weighted averages
  (event time, cohort, overall) with delta-method covariances.

Everything works on full-length NumPy arrays and boolean row masks; the caller's frame is
never touched.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ...errors import DesignError
from .checks import constant_within, integer_valued, no_missing, numeric_column
from .fit import WithinFit, check_identified, fit_within
from .fixed_effects import (
    Factor,
    first_appearance_codes,
    fixest_dof_k,
    onehot_within,
    singleton_mask,
)
from ..results import CellEstimate, Estimate
from .vcov import Clustering, TableScores, compute_vcov, make_estimate

ControlOption = Literal["never_treated", "last_treated", "auto"]
OVERALL_TERM = "att"


def cohort_term(g: int) -> str:
    """Term name of a cohort aggregate (``"cohort::2015"``)."""
    return f"cohort::{g}"




def cohort_column(data: pd.DataFrame, cohort: Hashable, unit_codes: np.ndarray) -> np.ndarray:
    """The cohort (first treated period; 0 = never) as float64, validated."""
    g = numeric_column(data, cohort, "cohort")
    no_missing(g, cohort, "cohort")
    integer_valued(g, cohort, "cohort")
    constant_within(g, unit_codes, cohort, "the period the firm is first treated; 0 = never")
    return g


@dataclass(frozen=True)
class StaggeredSample:
    """Which rows an estimator uses and what the reader must be told about the rest.

    ``keep`` is a full-length row mask. ``treated_cohort`` marks rows of firms whose cohort
    gets its own effects; ``control`` marks rows of the comparison firms (never treated in
    the sample window, or the last-treated cohort when ``last_cohort`` is set).
    """

    keep: np.ndarray
    treated_cohort: np.ndarray
    control: np.ndarray
    last_cohort: int | None
    notes: tuple[str, ...]


def _firms(n: int) -> str:
    return f"{n} firm{'s' if n != 1 else ''}"


def staggered_sample(
    g: np.ndarray,
    time: np.ndarray,
    unit_codes: np.ndarray,
    rows: np.ndarray,
    *,
    control: ControlOption,
    drop_never_with_last: bool,
) -> StaggeredSample:
    """Split the firms into treated cohorts and controls.

    Parameters
    ----------
    g, time, unit_codes : ndarray
        Full-length cohort, period and firm codes.
    rows : ndarray of bool
        Rows available (e.g. those with an outcome).
    control : {"never_treated", "last_treated", "auto"}
        ``"never_treated"``: firms with cohort 0 (or a cohort after the last observed
        period) are the controls; an error if there are none. ``"last_treated"``: the cohort
        treated last is the control and every period from its first treated period on is
        dropped (Sun and Abraham 2021, Section 4). ``"auto"``: never-treated if any, else
        last-treated (R ``etwfe``'s default).
    drop_never_with_last : bool
        With the last-treated control, leave the never-treated firms out (Sun-Abraham's
        single control cohort) instead of keeping them as additional controls.

    Notes
    -----
    A cohort whose first treated period is at or before its first observed period has no
    pre-treatment observation ("always treated"); its firms are dropped, as ``fixest``'s
    ``sunab`` does, and the count is reported.
    """
    notes: list[str] = []
    keep = rows.copy()
    t_avail = time[keep]
    t_max = float(t_avail.max())
    never = (g == 0) | (g > t_max)
    late = keep & (g > t_max)
    if late.any():
        n_late = int(np.unique(unit_codes[late]).size)
        notes.append(
            f"{_firms(n_late)} first treated after the last observed period "
            f"({int(t_max)}) are never treated within the sample and serve as controls"
        )

    # Always treated: the cohort is at or before the first period its firms are observed.
    treated_rows = keep & ~never
    if treated_rows.any():
        codes, levels = sorted_codes(g[treated_rows])
        first_seen = np.full(levels.size, np.inf)
        np.minimum.at(first_seen, codes, time[treated_rows])
        always_levels = np.asarray(levels)[np.asarray(levels) <= first_seen]
        if always_levels.size:
            always = keep & np.isin(g, always_levels)
            n_units = int(np.unique(unit_codes[always]).size)
            shown = ", ".join(str(int(c)) for c in np.sort(always_levels))
            notes.append(
                f"dropped {_firms(n_units)} of cohort{'s' if always_levels.size > 1 else ''} "
                f"{shown}: treated from their first observed period (always treated), "
                "so they have no pre-treatment period to compare with"
            )
            keep &= ~always

    treated = keep & ~never
    if not treated.any():
        raise DesignError("no firm is ever treated within the sample: nothing to estimate")
    has_never = bool(np.any(keep & never))
    if control == "auto":
        control = "never_treated" if has_never else "last_treated"

    last: int | None = None
    if control == "never_treated":
        if not has_never:
            raise DesignError(
                "no never-treated firms (cohort 0) in the sample: use "
                "control='last_treated' to compare with the cohort treated last"
            )
        ctrl = keep & never
    else:
        last = int(g[treated].max())
        if drop_never_with_last and has_never:
            n_never = int(np.unique(unit_codes[keep & never]).size)
            notes.append(
                f"control='last_treated': the {_firms(n_never)} never treated are left out; "
                f"the cohort first treated in {last} is the only comparison group"
            )
            keep &= ~never
        dropped_periods = keep & (time >= last)
        if dropped_periods.any():
            notes.append(
                f"the last-treated cohort ({last}) is the comparison group, so "
                f"{int(dropped_periods.sum())} observations from {last} on were dropped "
                "(no untreated comparison remains there)"
            )
        keep &= time < last
        if not keep.any():
            raise DesignError("no observations remain before the last cohort is treated")
        ctrl = keep & ((g == last) | never)
    treated_cohort = keep & ~ctrl
    if not np.any(treated_cohort & (time >= g)):
        raise DesignError(
            "no treated observation remains (every treated firm-period falls outside the "
            "window where a comparison group exists)"
        )
    return StaggeredSample(
        keep=keep,
        treated_cohort=treated_cohort,
        control=ctrl,
        last_cohort=last,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class Cells:
    """Cohort-by-period cells that carry their own coefficient."""

    cohort: np.ndarray  # int, per cell
    event_time: np.ndarray  # int, per cell
    time: tuple[int | None, ...]  # calendar period, None for a bin spanning several
    n_obs: np.ndarray  # observations per cell (aggregation weights)


def weight_matrix(
    cells: Cells, groups: np.ndarray, select: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of aggregation weights: for each distinct value of ``groups`` among the
    ``select``-ed cells, the cells' observation shares within that value.

    Returns the sorted group values and the (n_groups x n_cells) weight matrix.
    """
    values = np.unique(groups[select])
    w = np.zeros((values.size, groups.size))
    for i, v in enumerate(values):
        m = select & (groups == v)
        w[i, m] = cells.n_obs[m] / cells.n_obs[m].sum()
    return values, w


def overall_weights(cells: Cells) -> np.ndarray:
    """Observation shares of the post-treatment cells (event time >= 0)."""
    post = cells.event_time >= 0
    w = np.where(post, cells.n_obs, 0.0).astype(np.float64)
    return w / w.sum()


def estimates_from(
    names: Sequence[str],
    values: np.ndarray,
    vcov: np.ndarray,
    *,
    df: float,
    alpha: float,
    event_times: Sequence[int | None] | None = None,
) -> tuple[Estimate, ...]:
    """One :class:`Estimate` per value with the diagonal of ``vcov`` as variance."""
    ets = event_times if event_times is not None else [None] * len(names)
    return tuple(
        make_estimate(n, float(v), float(vcov[i, i]), df=df, alpha=alpha, event_time=e)
        for i, (n, v, e) in enumerate(zip(names, values, ets, strict=True))
    )


def cell_estimates(
    cells: Cells, values: np.ndarray, vcov: np.ndarray, *, df: float, alpha: float
) -> tuple[CellEstimate, ...]:
    out = []
    for j in range(values.size):
        e = make_estimate("cell", float(values[j]), float(vcov[j, j]), df=df, alpha=alpha)
        out.append(
            CellEstimate(
                cohort=int(cells.cohort[j]),
                event_time=int(cells.event_time[j]),
                time=cells.time[j],
                estimate=e.estimate,
                std_error=e.std_error,
                conf_low=e.conf_low,
                conf_high=e.conf_high,
                p_value=e.p_value,
                n_obs=int(cells.n_obs[j]),
            )
        )
    return tuple(out)


def event_term(e: int) -> str:
    """Term name of the event-time indicator ``e`` (``"event_time::-2"``)."""
    return f"event_time::{e}"


def event_names(event_times: np.ndarray) -> list[str]:
    return [event_term(int(e)) for e in event_times]


# --------------------------------------------------------------------------- one-hot fits


class OneHotColumns:
    """The 0/1 regressors ``x_ij = 1[cell_i = j]`` (n x p) stored as each row's column
    (``-1``: a row of zeros). Column sums are counted; ``numpy.asarray`` builds the dense
    matrix when a caller needs it."""

    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(self, cell: np.ndarray, p: int) -> None:
        self.cell = cell
        self.shape = (int(cell.size), int(p))

    def sum(self, axis: int | None = None) -> np.ndarray | float:
        if axis == 0:
            on = self.cell >= 0
            return np.bincount(self.cell[on], minlength=self.shape[1]).astype(np.float64)
        return self.toarray().sum(axis=axis)

    def toarray(self) -> np.ndarray:
        x = np.zeros(self.shape)
        on = np.flatnonzero(self.cell >= 0)
        x[on, self.cell[on]] = 1.0
        return x

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        x = self.toarray()
        return x if dtype is None else x.astype(dtype, copy=False)

    def __getitem__(self, index: object) -> np.ndarray:
        return self.toarray()[index]  # type: ignore[index]


def _offsets(values: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``values - min(values)`` as ``intp`` when ``values`` are whole numbers of moderate
    range (years, cohorts), with the minimum; else ``None``. One n-sized array."""
    v = np.asarray(values)
    if not v.size or v.dtype.kind not in "iuf":
        return None
    lo, hi = float(v.min()), float(v.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo > 4 * v.size + 1_000:
        return None
    if v.dtype.kind == "f":
        idx = v.astype(np.intp)
        if not np.array_equal(idx, v):  # not whole numbers
            return None
        idx -= int(lo)
    else:
        idx = (v - v.min()).astype(np.intp, copy=False)
    return idx, lo


def sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``values`` numbered in sorted order and the sorted distinct values, as
    ``pandas.factorize(values, sort=True)``; whole numbers of moderate range (cohorts,
    years) by a look-up table instead of hashing or sorting."""
    v = np.asarray(values)
    found = _offsets(v)
    if found is not None:
        idx, lo = found
        present = np.bincount(idx) > 0
        levels = (np.flatnonzero(present) + lo).astype(v.dtype)
        if present.all():
            return idx, levels
        return (np.cumsum(present) - 1)[idx], levels
    codes, levels = pd.factorize(v, sort=True)
    return codes.astype(np.intp, copy=False), np.asarray(levels)


def distinct(values: np.ndarray) -> np.ndarray:
    """``numpy.unique(values)``; by a presence table for whole numbers of moderate range."""
    v = np.asarray(values)
    found = _offsets(v)
    if found is not None:
        idx, lo = found
        return (np.flatnonzero(np.bincount(idx)) + lo).astype(v.dtype)
    return np.unique(v)


def period_codes(time_values: np.ndarray) -> np.ndarray:
    """Codes of the periods (any labelling: only which rows share a period matters); whole
    numbers of moderate range are coded by a look-up table instead of hashing."""
    return sorted_codes(time_values)[0]


def contiguous_codes(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Non-negative codes renumbered ``0..L-1`` keeping their order (unchanged, without a
    copy, when no code is missing)."""
    present = np.bincount(codes) > 0
    if present.all():
        return codes, int(present.size)
    return (np.cumsum(present) - 1)[codes], int(present.sum())


def fit_within_onehot(
    y: np.ndarray,
    cell: np.ndarray,
    names: list[str],
    *,
    row_ok: np.ndarray,
    unit_codes: np.ndarray,
    time_values: np.ndarray,
    unit_name: Hashable,
    cluster_names: tuple[Hashable, ...],
    cluster_codes: tuple[np.ndarray, ...],
    drop_empty: bool,
) -> WithinFit:
    """:func:`policylab.did.core.fit.fit_within` for one-hot regressors ``1[cell_i = j]``.

    The same sample (rows with an outcome, singletons dropped iteratively), the same
    checks, notes and errors, the same estimates and CRV1 covariance, computed on the
    distinct rows of the within-transformed regressors
    (:func:`policylab.did.core.fixed_effects.onehot_within`) instead of an n x p matrix:
    ``beta`` from the normal equations on those rows, the residuals from one demeaned
    outcome vector, cluster score sums by (cluster, distinct row). ``regressors`` of the
    result is a :class:`OneHotColumns`. Falls back to ``fit_within`` on the dense matrix
    when the panel does not suit (many periods, a very sparse panel).
    """
    p = len(names)
    all_names = list(names)
    cell = np.asarray(cell)
    notes: list[str] = []
    time_codes = period_codes(time_values)

    # Singletons (iteratively over firms and years), among rows with an outcome.
    every_row = bool(row_ok.all())
    if every_row:  # no copies of the codes
        sub_keep = singleton_mask([unit_codes, time_codes])
        rows = None
    else:
        rows = np.flatnonzero(row_ok)
        sub_keep = singleton_mask([unit_codes[rows], time_codes[rows]])
    n_single = int(sub_keep.size - np.count_nonzero(sub_keep))
    if n_single:
        sub_units = unit_codes if rows is None else unit_codes[rows]
        dropped_units = np.setdiff1d(sub_units[~sub_keep], sub_units[sub_keep]).size
        notes.append(
            f"dropped {n_single} singleton observation{'s' if n_single > 1 else ''} "
            f"({dropped_units} firm{'s' if dropped_units != 1 else ''} observed only once, "
            "or years with a single observation): they are fitted exactly by their own "
            "fixed effect and carry no information"
        )
    if rows is None:
        keep = sub_keep
    else:
        keep = np.zeros_like(row_ok)
        keep[rows[sub_keep]] = True
    del rows, sub_keep
    if np.count_nonzero(keep) < 2:
        raise DesignError("fewer than 2 observations remain after dropping singletons")

    everything = every_row and not n_single  # then no row is dropped: views, not copies
    yk = y if everything else y[keep]
    ck = cell if everything else cell[keep]
    ucodes, n_u = first_appearance_codes(unit_codes if everything else unit_codes[keep])
    tcodes, n_t = contiguous_codes(time_codes if everything else time_codes[keep])
    del time_codes
    if n_t < 2:
        raise DesignError(
            "all remaining observations are in one period: time effects absorb everything"
        )

    names = list(names)
    on = ck >= 0
    counts = np.bincount(ck[on], minlength=p).astype(np.float64)
    empty = counts == 0
    if empty.any():
        lost = [n for n, e in zip(names, empty, strict=True) if e]
        if not drop_empty or empty.all():
            raise DesignError(
                f"{', '.join(lost)} {'is' if len(lost) == 1 else 'are'} zero for every "
                "observation used: no treated observations to identify the effect"
            )
        notes.append(
            f"no observations at {', '.join(lost)}: "
            f"{'this term was' if len(lost) == 1 else 'these terms were'} left out"
        )
        relabel = np.full(p, -1, dtype=ck.dtype)
        relabel[~empty] = np.arange(int((~empty).sum()))
        ck = np.where(on, relabel[ck], -1)
        names = [n for n, e in zip(names, empty, strict=True) if not e]
        counts = counts[~empty]
    k = len(names)

    fe_unit = Factor(ucodes, n_u)
    fe_time = Factor(tcodes, n_t)
    within = onehot_within(ck, k, fe_unit, fe_time)
    if within is None:
        return fit_within(
            y, OneHotColumns(cell, p).toarray(), all_names,
            row_ok=row_ok, unit_codes=unit_codes, time_values=time_values,
            unit_name=unit_name, cluster_names=cluster_names, cluster_codes=cluster_codes,
            drop_empty=drop_empty,
        )  # fmt: skip
    y_w = within.within(yk, fe_unit, fe_time)
    del yk
    x_w = within.weighted()  # distinct rows of the demeaned regressors, sqrt-weighted

    # Identification: the demeaned regressors must have full column rank.
    n = ck.size
    raw_scale = np.sqrt(counts * (1.0 - counts / n))  # |x - mean(x)| of a 0/1 column
    check_identified(x_w, raw_scale, names)

    import scipy.linalg

    # X'M y = C'(M y): sums of the demeaned outcome by column.
    on = ck >= 0
    rhs = np.bincount(ck[on], weights=y_w[on], minlength=k)
    r = np.linalg.qr(x_w, mode="r")
    beta = scipy.linalg.solve_triangular(r, scipy.linalg.solve_triangular(r.T, rhs, lower=True))
    resid = y_w
    resid -= (within.table @ beta)[within.row]
    bread = np.linalg.inv(x_w.T @ x_w)
    scores = TableScores(
        e=resid,
        row=within.row,
        table=within.table,
        units=ucodes,
        times=tcodes,
        unit_type=within.unit_type,
        type_row=within.type_row,
    )

    if cluster_names:
        c_codes = tuple(
            first_appearance_codes(c if everything else c[keep])[0] for c in cluster_codes
        )
        clustering = Clustering(names=cluster_names, codes=c_codes)
    else:
        clustering = Clustering(names=(unit_name,), codes=(ucodes,))
    dof_k, _ = fixest_dof_k(k, [fe_unit, fe_time], list(clustering.codes))
    vcov = compute_vcov("CRV1", scores, bread, dof_k=dof_k, clustering=clustering)
    notes.extend(vcov.notes)

    return WithinFit(
        names=tuple(names),
        beta=beta,
        vcov=vcov,
        keep=keep,
        regressors=OneHotColumns(ck, k),  # type: ignore[arg-type]
        unit_codes=ucodes,
        clustering=clustering,
        notes=tuple(notes),
    )
