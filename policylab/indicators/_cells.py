"""Aggregation helpers shared by the indicator functions: rows in, published cells out.

Every cell carries what disclosure control needs: ``n_firms`` (firms the cell rests on),
``n_contrib`` (firms with a non-zero contribution to a sum) and ``max_share`` (the largest
single firm's share of a sum, in absolute values). Group-bys, no loops over firms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .inputs import CUMULATIVE
from .registry import CELL_COLUMNS, FIRM_GROUPS


def cells(rows: list[dict]) -> pd.DataFrame:
    """A cell frame from dicts; absent fields get their defaults."""
    return finish(pd.DataFrame(rows, columns=CELL_COLUMNS))


def _text(df: pd.DataFrame, name: str, default: str) -> np.ndarray:
    if name not in df:
        return np.full(len(df), default, dtype=object)
    return np.array([default if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)) else str(x)
                     for x in df[name].to_numpy(dtype=object)], dtype=object)


def _number(df: pd.DataFrame, name: str, default: float = np.nan) -> np.ndarray:
    if name not in df:
        return np.full(len(df), default)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def finish(df: pd.DataFrame) -> pd.DataFrame:
    """A cell frame with exactly :data:`CELL_COLUMNS`, defaults filled, plain dtypes
    (``n_missing``, ``n_contrib`` and ``max_share`` stay floats with NaN = not applicable)."""
    return pd.DataFrame({
        "period": _text(df, "period", ""),
        "group": _text(df, "group", "all"),
        "cluster_id": _text(df, "cluster_id", ""),
        "value": _number(df, "value"),
        "n_firms": np.nan_to_num(_number(df, "n_firms", 0.0)).astype("int64"),
        "n_missing": _number(df, "n_missing"),
        "n_contrib": _number(df, "n_contrib"),
        "max_share": _number(df, "max_share"),
        "flag": _text(df, "flag", ""),
        "note": _text(df, "note", ""),
    })


def distinct(frame: pd.DataFrame, keys: list[str], what: str = "firm_id") -> pd.Series:
    """Number of distinct ``what`` per ``keys`` (faster than ``groupby().nunique()``)."""
    d = frame[keys + [what]]
    d = d[d[what].notna()].drop_duplicates()
    return d.groupby(keys, sort=False).size()


def no_years(note: str) -> pd.DataFrame:
    """The one cell of an indicator no year of the data can give a value to."""
    return cells([{"period": CUMULATIVE, "group": "all", "value": np.nan, "n_firms": 0, "note": note}])


def periods(years: Iterable[int], cumulative: bool) -> list[str]:
    return [str(y) for y in years] + ([CUMULATIVE] if cumulative else [])


# ------------------------------------------------------------------ numpy kernels over cells
# A "cell code" numbers the published cells of one call 0..n_cells-1; each input row is
# assigned to one or more cells (its year and the cumulative period; its group and "all";
# its cluster and the region). The kernels aggregate per cell with bincount/unique.


def _codes(values: pd.Series) -> np.ndarray:
    return pd.factorize(values, use_na_sentinel=True)[0].astype("int64")


def _firm_codes(rows: pd.DataFrame, column: str = "firm_id", *, at: np.ndarray | None = None) -> np.ndarray:
    """Codes of ``rows[column]`` (of the rows at positions ``at``): the panel's ``firm_code``
    when the rows come from it (its codes rank firms as factorising the rows would, so sums
    run in the same order)."""
    if column == "firm_id" and "firm_code" in rows:
        codes = rows["firm_code"].to_numpy(dtype="int64")
        return codes if at is None else codes[at]
    return _codes(rows[column] if at is None else rows[column].iloc[at])


#: Largest (cell x contributor) key space :func:`count_distinct` addresses directly (a
#: bitmap of this many bytes); above it, it hashes the keys instead. Both give the same
#: numbers; the direct path is ~100x faster (one pass, no sort).
_DIRECT_KEYS = 1 << 27
#: Largest key space :func:`dominance` sums over in one array (8 bytes a key); above it, it
#: works one cell at a time.
_DIRECT_SUM_KEYS = 1 << 22


def _distinct_keys(cell: np.ndarray, who: np.ndarray) -> tuple[np.ndarray, int]:
    """The sorted distinct keys ``cell * width + who`` and ``width``."""
    width = int(who.max()) + 1
    key = cell * width + who
    space = (int(cell.max()) + 1) * width
    if space <= _DIRECT_KEYS:
        seen = np.zeros(space, dtype=bool)
        seen[key] = True
        return np.flatnonzero(seen), width
    return np.sort(pd.unique(key)), width


def count_distinct(cell: np.ndarray, who: np.ndarray, n_cells: int) -> np.ndarray:
    """Distinct ``who`` (codes >= 0) per cell."""
    ok = who >= 0
    cell, who = cell[ok], who[ok]
    if not len(cell):
        return np.zeros(n_cells, dtype="int64")
    keys, width = _distinct_keys(cell, who)
    return np.bincount(keys // width, minlength=n_cells).astype("int64")


def dominance(cell: np.ndarray, who: np.ndarray, x: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: contributors with a non-zero (net) sum, and the largest contributor's share
    of the sum of absolute contributions (0 for an all-zero cell).

    Each contributor's sum is a bincount in row order and a cell's total adds its
    contributors in ascending code order, either over all (cell, contributor) keys at once
    or, when they are many, one cell at a time over the rows sorted (stably) by cell, so
    memory stays one contributor vector however many cells and contributors there are.
    """
    n, top, total = np.zeros(n_cells), np.zeros(n_cells), np.zeros(n_cells)
    if not len(cell):
        return n, np.zeros(n_cells)
    width = int(who.max()) + 1
    space = (int(cell.max()) + 1) * width
    if space <= _DIRECT_SUM_KEYS:  # small: all cells at once (the same sums, one pass)
        sums = np.bincount(cell * width + who, weights=x, minlength=space)
        keys, _ = _distinct_keys(cell, who)
        per = np.abs(sums[keys])
        at = keys // width
        total = np.bincount(at, weights=per, minlength=n_cells)
        np.maximum.at(top, at, per)
        n = np.bincount(at, weights=(per > 0).astype("float64"), minlength=n_cells)
        return n, np.divide(top, total, out=np.zeros(n_cells), where=total > 0)
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(n_cells + 1))
    for c in range(n_cells):
        rows = order[bounds[c]:bounds[c + 1]]
        if not len(rows):
            continue
        w = who[rows]
        present = np.zeros(width, dtype=bool)
        present[w] = True
        per = np.abs(np.bincount(w, weights=x[rows], minlength=width)[present])
        total[c] = np.bincount(np.zeros(len(per), dtype=np.intp), weights=per)[0]  # in order
        top[c] = per.max()
        n[c] = float(np.count_nonzero(per > 0))
    return n, np.divide(top, total, out=np.zeros(n_cells), where=total > 0)


def group_cells(
    rows: pd.DataFrame,
    *,
    years: Sequence[int],
    num: str,
    den: str | None = None,
    known: str = "known",
    percent: bool = False,
    magnitude: bool = False,
    cumulative: bool = True,
    groups: Sequence[str] = FIRM_GROUPS,
    contributor: str = "firm_id",
) -> pd.DataFrame:
    """Cells per year (and ``cumulative``: all years' rows pooled) for each firm group.

    ``rows`` has ``firm_id, year, group`` (one of ``groups[1:]``; ``groups[0]`` is the
    total over all of them), a boolean ``known`` column and the numeric ``num`` (and ``den``)
    columns. The value is the sum of ``num`` over known rows, or with ``den`` the ratio of
    sums (``percent`` -> x100; NaN when the denominator sums to 0). ``n_firms`` counts
    distinct firms with a known row, ``n_missing`` distinct firms with an unknown one. With
    ``magnitude`` the cell also gets ``n_contrib`` and ``max_share`` (per ``contributor``;
    for a ratio the stricter of numerator and denominator).
    """
    yrs = np.asarray(list(years), dtype="int64")
    per = periods(yrs.tolist(), cumulative)
    groups = list(groups)
    n_p, n_g = len(per), len(groups)
    # the rows kept (in the years, in a group) as positions: columns are read as arrays at
    # them, so no copy of the rows' text columns is made; the group labels are hashed once
    in_years = rows["year"].isin(yrs.tolist()).to_numpy(dtype=bool)
    codes, labels = pd.factorize(rows["group"])
    lookup = np.append(pd.Index(groups[1:], dtype=object).get_indexer(np.asarray(labels, dtype=object)), -1)
    gi_all = lookup[codes].astype("int64") + 1  # 0: not one of the groups (or missing)
    at = np.flatnonzero(in_years & (gi_all > 0))
    gi = gi_all[at]

    def column(name: str) -> pd.Series:
        return rows[name].iloc[at]

    yi = np.searchsorted(yrs, column("year").to_numpy(dtype="int64"))
    sets = [yi * n_g + gi, yi * n_g]
    if cumulative:
        sets += [(n_p - 1) * n_g + gi, np.full(len(at), (n_p - 1) * n_g)]
    cell = np.concatenate(sets).astype("int64")
    rep = len(sets)
    n_cells = n_p * n_g
    firm = np.tile(_firm_codes(rows, at=at), rep)
    known_rows = np.tile(column(known).to_numpy(dtype=bool), rep)
    x = np.tile(np.nan_to_num(column(num).to_numpy(dtype="float64")), rep)

    kc = cell[known_rows]
    n_firms = count_distinct(kc, firm[known_rows], n_cells)
    n_missing = count_distinct(cell[~known_rows], firm[~known_rows], n_cells)
    sx = np.bincount(kc, weights=x[known_rows], minlength=n_cells)
    if den:
        d = np.tile(np.nan_to_num(column(den).to_numpy(dtype="float64")), rep)
        sd = np.bincount(kc, weights=d[known_rows], minlength=n_cells)
        value = np.divide(sx, sd, out=np.full(n_cells, np.nan), where=sd != 0) * (100.0 if percent else 1.0)
    else:
        value = sx
    out = {"period": np.repeat(per, n_g), "group": np.tile(groups, n_p), "value": value,
           "n_firms": n_firms, "n_missing": n_missing.astype("float64")}
    if magnitude:
        who = np.tile(_firm_codes(rows, contributor, at=at), rep)[known_rows]
        n_c, share = dominance(kc, who, x[known_rows], n_cells)
        if den:
            n_d, share_d = dominance(kc, who, d[known_rows], n_cells)
            n_c, share = np.minimum(n_c, n_d), np.maximum(share, share_d)
        out.update(n_contrib=n_c, max_share=share)
    return finish(pd.DataFrame(out))


def cluster_region_cells(
    sums: pd.DataFrame,
    firms: pd.DataFrame,
    *,
    years: Sequence[int],
    value: Callable[[pd.DataFrame], pd.Series],
    cumulative: bool,
    per_cluster: bool = True,
    contrib: pd.DataFrame | None = None,
    contrib_cols: Sequence[str] = (),
    group: str = "all",
) -> pd.DataFrame:
    """Cells of a cluster-level quantity: one row per cluster-year present in ``sums`` (and
    per cluster cumulative) plus the region row per year (and cumulative) over all clusters.

    ``sums`` has ``cluster_id, year`` and the numeric columns that are summed within a cell;
    ``value`` turns a frame of the summed columns into the published values. ``firms``
    (``cluster_id, year, firm_id``) lists the firms each cell rests on. ``contrib``
    (``cluster_id, year, contributor`` + ``contrib_cols``) gives each firm's contribution for
    the dominance rule.
    """
    yrs = np.asarray(list(years), dtype="int64")
    per = periods(yrs.tolist(), cumulative)
    n_p = len(per)
    cols = [c for c in sums.columns if c not in ("cluster_id", "year")]
    sums = sums[sums["year"].isin(yrs.tolist())]
    clusters = pd.unique(sums["cluster_id"].dropna()) if per_cluster else np.array([], dtype=object)
    n_cells = n_p * (1 + len(clusters))

    def assign(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Cell code of each (row, cell) pair and the row it comes from."""
        df = df[df["year"].isin(yrs.tolist())]
        rows = np.arange(len(df))
        yi = np.searchsorted(yrs, df["year"].to_numpy(dtype="int64"))
        ci = pd.Index(clusters, dtype=object).get_indexer(df["cluster_id"].astype(object)).astype("int64")
        period_sets = [yi] + ([np.full(len(df), n_p - 1)] if cumulative else [])
        cells_, from_ = [], []
        for pi in period_sets:
            cells_ += [pi]
            from_ += [rows]
            has = ci >= 0
            cells_ += [n_p + ci[has] * n_p + pi[has]]
            from_ += [rows[has]]
        return np.concatenate(cells_).astype("int64"), np.concatenate(from_).astype("int64")

    cell, src = assign(sums)
    totals = pd.DataFrame({c: np.bincount(cell, weights=np.nan_to_num(
        sums[c].to_numpy(dtype="float64"))[src], minlength=n_cells) for c in cols})
    present = np.bincount(cell, minlength=n_cells) > 0
    present[:n_p] = True
    f = firms[firms["year"].isin(yrs.tolist())]
    fcell, fsrc = assign(f)
    n_firms = count_distinct(fcell, _codes(f["firm_id"])[fsrc], n_cells)
    out = {"period": np.tile(per, 1 + len(clusters)),
           "cluster_id": np.concatenate([np.full(n_p, "", dtype=object), np.repeat(clusters, n_p)]),
           "group": group, "value": np.asarray(value(totals), dtype="float64"), "n_firms": n_firms}
    if contrib is not None:
        c = contrib[contrib["year"].isin(yrs.tolist())]
        ccell, csrc = assign(c)
        who = _codes(c["contributor"])[csrc]
        n_all, share_all = np.full(n_cells, np.inf), np.zeros(n_cells)
        for col in contrib_cols:
            n, sh = dominance(ccell, who, np.nan_to_num(c[col].to_numpy(dtype="float64"))[csrc], n_cells)
            n_all, share_all = np.minimum(n_all, n), np.maximum(share_all, sh)
        out.update(n_contrib=np.where(np.isinf(n_all), 0.0, n_all), max_share=share_all)
    frame = pd.DataFrame(out)
    return finish(frame[present])
