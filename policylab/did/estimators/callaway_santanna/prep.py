"""Data preparation for :func:`policylab.did.estimators.callaway_santanna.att_gt` (Callaway and Sant'Anna).

Turns the caller's long firm-year frame into the arrays the group-time estimators work on,
without writing to the frame:

* a **unit table** (one entry per row of the influence-function matrix): label, cohort,
  weight and cluster, sorted by cohort and then by label, so that every cohort is one
  contiguous block of units;
* for a balanced panel, the **wide outcome matrix** ``Yt`` (periods x units, each period one
  contiguous row) and the unit-level covariates;
* for an unbalanced panel or repeated cross-sections, the **rows** sorted by (cohort, period),
  so that each (cohort, period) cell is one contiguous block of rows.

Two ways in. The usual layout (rows sorted by unit and then period, every unit observed in
every period, nothing missing) is recognised with a few comparisons over the columns, and the
outcome column is then read as the unit x period matrix it already is (a reshaped view, no
scatter); anything else goes through integer codes of units and periods (duplicates and
unbalanced panels included). Both give the same arrays.

Everything is vectorised over rows and units; nothing loops over firms. Cohort handling
follows R ``did`` (>= 2.5): cohort 0 and cohorts after the last period are never treated;
units treated in the first period that can serve as a base (``cohort <= first period +
anticipation``) are dropped; without never-treated units and with the not-yet-treated
comparison group, periods from the last cohort's (anticipation-adjusted) first treated
period on are dropped and that cohort only serves as a comparison group (R ``did`` PR #266).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ....errors import DesignError
from ...core.checks import DiDInputError, numeric_column

NEVER = np.inf


@dataclass(frozen=True)
class CSData:
    """Prepared arrays; ``design`` is ``"panel"``, ``"unbalanced_panel"`` or
    ``"repeated_cross_section"``."""

    design: str
    periods: np.ndarray  # sorted unique periods kept (int64)
    # --- unit table (rows of the influence function), sorted by cohort then label ---
    n: int
    unit_labels: np.ndarray
    unit_cohort: np.ndarray  # float64, inf = never treated (incl. treated after the window)
    unit_weight: np.ndarray | None
    unit_cluster: np.ndarray | None  # int codes 0..G-1
    cohort_values: np.ndarray  # sorted distinct cohorts of the unit table (inf last)
    cohort_start: np.ndarray  # unit block [start, end) of each cohort value
    cohort_end: np.ndarray
    treated_cohorts: np.ndarray  # cohorts whose ATT(g,t) are estimated
    # --- balanced panel ---
    Yt: np.ndarray | None = None  # (T, n)
    X: np.ndarray | None = None  # (n, k) with intercept, or None
    # --- long rows (unbalanced panel / repeated cross-sections), sorted by (cohort, period) ---
    row_unit: np.ndarray | None = None  # index into the unit table
    row_period: np.ndarray | None = None  # index into periods
    row_y: np.ndarray | None = None
    row_weight: np.ndarray | None = None
    row_X: np.ndarray | None = None
    block_start: np.ndarray | None = None  # (n_cohorts, T): rows of (cohort c, period t)
    block_end: np.ndarray | None = None
    n_obs: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def T(self) -> int:
        return int(self.periods.size)


# --------------------------------------------------------------------------- columns


def _series(data: pd.DataFrame, col: Hashable, arg: str) -> pd.Series:
    s = data[col]
    if isinstance(s, pd.DataFrame):
        raise DiDInputError(f"column {col!r} (argument {arg}=) is duplicated in data")
    return s


def integer_column(data: pd.DataFrame, col: Hashable, arg: str) -> np.ndarray:
    """Whole-number column without missing values, as an integer array (no copy when the
    column already holds integers)."""
    s = _series(data, col, arg)
    if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(
        s.dtype, pd.api.types.CategoricalDtype
    ):
        if s.hasnans:
            _missing(int(s.isna().sum()), col, arg)
        a = s.to_numpy()
        return a if a.dtype.kind in "iu" else a.astype(np.int64)
    x = numeric_column(data, col, arg)
    bad = np.isnan(x)
    if bad.any():
        _missing(int(bad.sum()), col, arg)
    if not np.all(np.isfinite(x)) or not np.all(x == np.round(x)):
        raise DiDInputError(
            f"column {col!r} (argument {arg}=) must hold whole numbers (e.g. years)"
        )
    if np.abs(x).max(initial=0.0) > 2.0**52:
        raise DiDInputError(f"column {col!r} (argument {arg}=) has values too large for periods")
    return x.astype(np.int64)


def _missing(count: int, col: Hashable, arg: str) -> None:
    raise DiDInputError(
        f"column {col!r} (argument {arg}=) has {count} missing value{'s' if count > 1 else ''}; "
        "only the outcome and covariates may be missing (those rows are dropped)"
    )


def label_codes(data: pd.DataFrame, col: Hashable, arg: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0..L-1`` of a label column in sorted label order, and the labels.

    Sorted order makes the unit order (and so the influence-function rows) independent of the
    row order of the input. Integer labels with a compact range use an O(N) offset table.
    """
    s = _series(data, col, arg)
    if s.hasnans:
        _missing(int(s.isna().sum()), col, arg)
    if pd.api.types.is_integer_dtype(s.dtype) and len(s):
        v = s.to_numpy(dtype=np.int64)
        lo, hi = int(v.min()), int(v.max())
        if hi - lo <= 4 * v.size + 1024:
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[v - lo] = True
            remap = np.cumsum(present, dtype=np.int64) - 1
            labels = np.flatnonzero(present).astype(np.int64) + lo
            return remap[v - lo], labels
    codes, uniques = pd.factorize(s, sort=False)
    labels = np.asarray(uniques)
    try:
        order = np.argsort(labels, kind="stable")
    except TypeError:  # labels of mixed types: keep first-appearance order
        return codes.astype(np.int64, copy=False), labels
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank[codes], labels[order]


def period_codes(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of integer periods into their sorted distinct values."""
    if t.size == 0:
        return t.astype(np.int64), t.astype(np.int64)
    lo, hi = int(t.min()), int(t.max())
    if hi - lo <= 4 * t.size + 1024:
        counts = np.bincount((t - lo).astype(np.intp, copy=False))
        periods = np.flatnonzero(counts)
        remap = np.full(counts.size, -1, dtype=np.int64)
        remap[periods] = np.arange(periods.size)
        return remap[t - lo], periods.astype(np.int64) + lo
    periods, codes = np.unique(t, return_inverse=True)
    return codes.astype(np.int64), periods.astype(np.int64)


def per_unit(values: np.ndarray, unit: np.ndarray, n_units: int, col: Hashable, what: str):
    """The value of each unit; DesignError when it changes within a unit."""
    out = np.empty(n_units, dtype=values.dtype)
    out[unit] = values
    varying = out[unit] != values
    if values.dtype.kind == "f":
        varying &= ~(np.isnan(out[unit]) & np.isnan(values))
    if varying.any():
        k = int(np.unique(unit[varying]).size)
        raise DesignError(
            f"column {col!r} must be constant within each unit ({what}), "
            f"but it changes within {k} unit{'s' if k > 1 else ''}"
        )
    return out


# --------------------------------------------------------------------------- main


@dataclass
class _Units:
    """Stage 1 output: one entry per unit of the input (before any unit is dropped)."""

    labels: np.ndarray
    g: np.ndarray  # int, 0 = never
    w: np.ndarray | None
    x: list[np.ndarray]
    cl: np.ndarray | None
    periods: np.ndarray
    # regular layout (rows sorted by unit then period, every unit observed every period)
    ymat: np.ndarray | None = None  # (n_units, T) view of the outcome column
    # general layout
    u: np.ndarray | None = None  # row -> unit
    tc: np.ndarray | None = None  # row -> period index
    y: np.ndarray | None = None


def prepare(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable | None,
    time: Hashable,
    cohort: Hashable,
    covariates: tuple[Hashable, ...],
    weights: Hashable | None,
    cluster: Hashable | None,
    panel: bool,
    control_group: str,
    anticipation: int,
) -> CSData:
    notes: list[str] = []

    # ---- raw columns: fresh arrays or read-only views; the frame is never written ----
    y = numeric_column(data, outcome, "outcome")
    finite = bool(np.isfinite(y).all())
    if not finite and np.isinf(y).any():
        raise DiDInputError(f"column {outcome!r} (argument outcome=) has infinite values")
    t_raw = integer_column(data, time, "time")
    g_raw = integer_column(data, cohort, "cohort")
    if g_raw.min(initial=0) < 0:
        raise DiDInputError(
            f"column {cohort!r} (argument cohort=) must be the first treated period, or 0 for "
            f"never treated; found negative values"
        )
    xs = [numeric_column(data, c, "covariates") for c in covariates]
    for c, x in zip(covariates, xs, strict=True):
        if np.isinf(x).any():
            raise DiDInputError(f"column {c!r} (argument covariates=) has infinite values")
        finite = finite and not np.isnan(x).any()
    w_raw = None
    if weights is not None:
        w_raw = numeric_column(data, weights, "weights")
        if np.isnan(w_raw).any():
            _missing(int(np.isnan(w_raw).sum()), weights, "weights")
        if not np.all(np.isfinite(w_raw)) or (w_raw < 0).any():
            raise DiDInputError(
                f"column {weights!r} (argument weights=) must be finite and non-negative"
            )
    if len(data) == 0:
        raise DesignError("data has no rows")

    units = None
    if unit is not None and panel and finite:
        units = _regular_units(data, unit, cohort, covariates, weights, cluster, y, t_raw, g_raw,
                               xs, w_raw)  # fmt: skip
    if units is None:
        units = _general_units(data, unit, time, cohort, covariates, weights, cluster, y, t_raw,
                               g_raw, xs, w_raw, notes)  # fmt: skip
    return _finish(units, notes, covariates=covariates, cohort=cohort, unit=unit,
                   panel=panel, control_group=control_group, anticipation=anticipation)  # fmt: skip


def _constant_rows(m: np.ndarray, col: Hashable, what: str) -> np.ndarray:
    """First column of ``m`` (units x periods); DesignError if a row is not constant."""
    first = m[:, 0]
    same = m == first[:, None]
    if m.dtype.kind == "f":
        same |= np.isnan(m) & np.isnan(first)[:, None]
    if not same.all():
        k = int((~same.all(axis=1)).sum())
        raise DesignError(
            f"column {col!r} must be constant within each unit ({what}), "
            f"but it changes within {k} unit{'s' if k > 1 else ''}"
        )
    return first


def _regular_units(data, unit, cohort, covariates, weights, cluster, y, t_raw, g_raw, xs, w_raw):
    """Fast path for the usual layout: rows sorted by unit (labels increasing) and period,
    every unit observed in every period, nothing missing. Then the outcome column *is* the
    wide unit x period matrix (a reshaped view) and no row needs to be scattered. Returns
    None when the layout does not hold (the general path handles everything)."""
    s = _series(data, unit, "unit")
    n_rows = y.size
    v = s.to_numpy()
    head = v[: min(n_rows, 4096)]
    change = np.flatnonzero(head != head[0])
    if change.size == 0:
        return None
    T = int(change[0])
    if T < 2 or n_rows % T:
        return None
    p = t_raw[:T]
    if not (np.diff(p) > 0).all():
        return None
    n = n_rows // T
    V = v.reshape(n, T)
    labels = V[:, 0]
    try:
        if not (labels[1:] > labels[:-1]).all():
            return None
        if not (V == labels[:, None]).all():
            return None
    except TypeError:  # labels that do not compare (mixed types)
        return None
    if s.hasnans or not (t_raw.reshape(n, T) == p).all():
        return None
    g = _constant_rows(g_raw.reshape(n, T), cohort, "the period the unit is first treated")
    w = None
    if w_raw is not None:
        w = _constant_rows(w_raw.reshape(n, T), weights, "sampling weights are unit-level")
    x = [
        _constant_rows(xv.reshape(n, T), c, "covariates must be time-invariant")
        for c, xv in zip(covariates, xs, strict=True)
    ]
    cl = None
    if cluster is not None:
        codes, _ = label_codes(data, cluster, "cluster")
        cl = _constant_rows(codes.reshape(n, T), cluster, "units are nested in clusters")
    return _Units(labels=np.asarray(labels), g=g, w=w, x=x, cl=cl,
                  periods=p.astype(np.int64), ymat=y.reshape(n, T))  # fmt: skip


def _general_units(data, unit, time, cohort, covariates, weights, cluster, y, t_raw, g_raw,
                   xs, w_raw, notes):  # fmt: skip
    keep = ~np.isnan(y)
    for x in xs:
        keep &= ~np.isnan(x)
    n_drop = int(keep.size - keep.sum())
    if n_drop:
        notes.append(
            f"dropped {n_drop} row{'s' if n_drop > 1 else ''} with a missing outcome or covariate"
        )
    if not keep.any():
        raise DesignError("the outcome (or a covariate) is missing in every row")
    if unit is not None:
        u, labels = label_codes(data, unit, "unit")
        n_units = int(labels.size)
        # unit-level columns are checked on every row, kept or not
        g = per_unit(g_raw, u, n_units, cohort, "the period the unit is first treated")
        w = None if w_raw is None else per_unit(
            w_raw, u, n_units, weights, "sampling weights are unit-level"
        )  # fmt: skip
        cl = None
        if cluster is not None:
            codes, _ = label_codes(data, cluster, "cluster")
            cl = per_unit(codes, u, n_units, cluster, "units are nested in clusters")
        if n_drop:
            idx = np.flatnonzero(keep)
            y, t_raw, u = y[idx], t_raw[idx], u[idx]
            xs = [x[idx] for x in xs]
        x_unit = [
            per_unit(x, u, n_units, c, "covariates must be time-invariant")
            for c, x in zip(covariates, xs, strict=True)
        ]
    else:  # repeated cross-sections without ids: every kept row is its own unit
        idx = np.flatnonzero(keep)
        labels = idx
        y, t_raw = y[idx], t_raw[idx]
        n_units = int(y.size)
        u = np.arange(n_units)
        g = g_raw[idx]
        w = None if w_raw is None else w_raw[idx]
        x_unit = [x[idx] for x in xs]
        cl = None
        if cluster is not None:
            codes, _ = label_codes(data, cluster, "cluster")
            cl = codes[idx]
    tc, periods = period_codes(t_raw)
    if unit is not None:
        key = u * periods.size + tc
        if _has_dup(key, n_units * periods.size):
            n_dup = int(pd.Series(key).duplicated().sum())
            raise DiDInputError(
                f"{n_dup} duplicated ({unit!r}, {time!r}) pair{'s' if n_dup > 1 else ''}: "
                "each unit can appear once per period"
            )
    return _Units(labels=labels, g=g, w=w, x=x_unit, cl=cl, periods=periods, u=u, tc=tc, y=y)


def _finish(units: _Units, notes: list[str], *, covariates, cohort, unit, panel, control_group,
            anticipation) -> CSData:  # fmt: skip
    periods = units.periods
    regular = units.ymat is not None
    if periods.size < 2:
        raise DesignError(
            f"only {periods.size} period{'s' if periods.size != 1 else ''} with an outcome; "
            "a difference-in-differences needs at least 2"
        )
    n_units = int(units.labels.size)

    # ---- cohorts (R did >= 2.5 rules) ----
    g_int = np.asarray(units.g)
    gf = g_int.astype(np.float64)
    first, last = int(periods[0]), int(periods[-1])
    late = gf > last
    gf[(g_int == 0) | late] = NEVER
    n_late = int((late & (g_int != 0)).sum())
    if n_late:
        notes.append(
            f"{n_late} unit{'s' if n_late > 1 else ''} first treated after the last period "
            f"({last}) {'are' if n_late > 1 else 'is'} used as never treated"
        )
    if regular:
        present = np.ones(n_units, dtype=bool)
    else:
        present = np.zeros(n_units, dtype=bool)
        present[units.u] = True
    early = (gf <= first + anticipation) & present
    n_early = int(early.sum())
    if n_early == int(present.sum()):
        raise DesignError(
            f"every unit is treated from the first period on ({first}"
            + (f" + anticipation {anticipation}" if anticipation else "")
            + "): treatment does not vary over time, so there is nothing to compare"
        )
    if n_early:
        what = (
            "in or before the first period"
            if anticipation == 0
            else f"no later than the first period plus anticipation ({first} + {anticipation})"
        )
        notes.append(
            f"dropped {n_early} unit{'s' if n_early > 1 else ''} already treated {what}: "
            "they have no untreated base period (always treated)"
        )
    usable = present & ~early
    has_never = bool(np.isinf(gf[usable]).any())
    period_keep = None
    comparison_only: float | None = None
    if not has_never:
        if control_group == "never_treated":
            raise DesignError(
                f"no never-treated units (cohort 0, or first treated after {last}): the "
                "never-treated comparison group is empty; use control_group='not_yet_treated'"
            )
        gmax = float(gf[usable].max())
        cut = gmax - anticipation
        period_keep = periods < cut
        if period_keep.sum() < 2:
            raise DesignError(
                "no never-treated units, and fewer than 2 periods before the last cohort is "
                "treated: no comparison group is left for any cohort"
            )
        comparison_only = gmax
        notes.append(
            f"no never-treated units: cohort {int(gmax)} only serves as the not-yet-treated "
            f"comparison group and periods from {int(cut)} on are dropped (as R did)"
        )

    # ---- drop always-treated units and the cut periods ----
    if regular:
        remaining = np.flatnonzero(~early)
        y = u = tc = None
    else:
        u, tc, y = units.u, units.tc, units.y
        row_ok = ~early[u]
        if period_keep is not None:
            row_ok &= period_keep[tc]
        if not row_ok.all():
            idx = np.flatnonzero(row_ok)
            y, tc, u = y[idx], tc[idx], u[idx]
        if period_keep is not None:
            tc = (np.cumsum(period_keep) - 1)[tc]
        seen = np.zeros(n_units, dtype=bool)
        seen[u] = True
        remaining = np.flatnonzero(seen & ~early)
    if period_keep is not None:
        periods = periods[period_keep]
    # units ordered by cohort, then label (remaining is in label order)
    sel = remaining[np.argsort(gf[remaining], kind="stable")]
    n = int(sel.size)
    unit_cohort = gf[sel]
    unit_labels = units.labels[sel]
    unit_weight = None if units.w is None else np.asarray(units.w, dtype=np.float64)[sel]
    unit_cluster = None
    if units.cl is not None:
        unit_cluster, _ = pd.factorize(np.asarray(units.cl)[sel], sort=True)
        unit_cluster = unit_cluster.astype(np.int64)
    cohort_values, cohort_start = np.unique(unit_cohort, return_index=True)
    cohort_end = np.append(cohort_start[1:], n)

    treated = cohort_values[np.isfinite(cohort_values)]
    if comparison_only is not None:
        treated = treated[treated < comparison_only]
    if treated.size == 0:
        raise DesignError(
            f"no unit is first treated within the sample periods ({periods[0]}..{periods[-1]}):"
            f" column {cohort!r} does not vary, so there is no treatment to evaluate"
        )
    small = [
        int(cv)
        for cv, s, e in zip(cohort_values, cohort_start, cohort_end, strict=True)
        if np.isfinite(cv) and e - s < len(covariates) + 5
    ]
    if small:
        notes.append(
            "small cohorts (fewer than covariates + 5 units): "
            + ", ".join(str(s) for s in small)
            + "; their group-time effects rest on few firms"
        )

    T = int(periods.size)
    X_unit = None
    if covariates:
        X_unit = np.column_stack(
            [np.ones(n)] + [np.asarray(x, dtype=np.float64)[sel] for x in units.x]
        )
    common: dict[str, Any] = {
        "periods": periods,
        "n": n,
        "unit_labels": unit_labels,
        "unit_cohort": unit_cohort,
        "unit_weight": unit_weight,
        "unit_cluster": unit_cluster,
        "cohort_values": cohort_values,
        "cohort_start": cohort_start,
        "cohort_end": cohort_end,
        "treated_cohorts": treated,
        "X": X_unit,
        "notes": tuple(notes),
    }
    if regular:
        # units in (cohort, label) order, periods as rows: gather whole unit rows (contiguous)
        # in cache-sized chunks and transpose each, ~2x faster than strided per-period gathers
        Yt = np.empty((T, n), dtype=np.float64)
        chunk = 1 << 16
        for lo in range(0, n, chunk):
            rows = units.ymat[sel[lo : lo + chunk]]
            if period_keep is not None:
                rows = rows[:, period_keep]
            Yt[:, lo : lo + chunk] = rows.T
        return CSData(design="panel", Yt=Yt, n_obs=n * T, **common)

    pos = np.empty(n_units, dtype=np.int64)
    pos[sel] = np.arange(n)
    rows_u = pos[u]
    n_obs = int(y.size)
    if panel and unit is not None and n_obs == n * T:
        Yt = np.empty((T, n), dtype=np.float64)
        Yt.ravel()[tc * n + rows_u] = y
        return CSData(design="panel", Yt=Yt, n_obs=n_obs, **common)

    if panel and unit is not None:
        share = 1.0 - n_obs / (n * T)
        notes.append(
            f"unbalanced panel ({share:.1%} of unit-periods missing): estimated with the "
            "repeated cross-section estimators and unit-level influence functions, as R did's "
            "allow_unbalanced_panel = TRUE"
        )
        common["notes"] = tuple(notes)
        design = "unbalanced_panel"
    else:
        design = "repeated_cross_section"
    # rows sorted by (cohort, period, unit): each (cohort, period) cell is one block
    coh_idx = np.searchsorted(cohort_values, unit_cohort)[rows_u]
    order = np.lexsort((rows_u, tc, coh_idx))
    row_unit = rows_u[order]
    row_period = tc[order]
    cell_key = coh_idx[order] * T + row_period
    counts = np.bincount(cell_key, minlength=cohort_values.size * T)
    ends = np.cumsum(counts)
    starts = ends - counts
    return CSData(
        design=design,
        row_unit=row_unit,
        row_period=row_period,
        row_y=y[order],
        row_weight=None if unit_weight is None else unit_weight[row_unit],
        row_X=None if X_unit is None else X_unit[row_unit],
        block_start=starts.reshape(cohort_values.size, T),
        block_end=ends.reshape(cohort_values.size, T),
        n_obs=n_obs,
        **common,
    )


def _has_dup(key: np.ndarray, size: int) -> bool:
    """Whether ``key`` (values in ``0..size-1``) has a repeated value."""
    if size > 16 * key.size + 1024:
        return bool(np.unique(key).size != key.size)
    seen = np.zeros(size, dtype=bool)
    seen[key] = True
    return int(np.count_nonzero(seen)) != key.size
