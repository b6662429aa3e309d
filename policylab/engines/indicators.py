"""The firm-panel monitoring indicators as SQL over the store, for firm tables past memory.

:func:`firm_indicator_cells` computes, per scope (each region, and the lab), the cells of

====  =========================  ===============================================================
id    pandas function            what the SQL sums per cell
====  =========================  ===============================================================
I12   ``export_turnover``        exports of the firm-years with exports known (and per firm, for
                                 the dominance rule)
I13   ``export_intensity``       exports and turnover of the firm-years with both known and
                                 turnover > 0 (ratio x 100; per firm, both)
I14   ``exporter_share``         exporters and firm-years with exports known (ratio x 100)
I15   ``new_exporters``          firm-years exporting after ``k`` known-zero years (a ``RANGE``
                                 window over the ``k`` previous years), and the firms whose
                                 look-back is unknown or incomplete
I15P  ``new_exporter_share``     the same over the eligible firm-years (ratio x 100)
I21   ``jobs``                   headcount change from the year before (a one-year ``RANGE``
                                 window; per firm, for the dominance rule)
I16   ``new_export_markets``     the firms' new markets (a small table pandas computes from the
                                 orders, :func:`new_markets_frame`) from each region's start
                                 year; per consortium over its member-years (region scope)
====  =========================  ===============================================================

(functions of :mod:`policylab.indicators.firms`) with, as
:func:`policylab.indicators._cells.group_cells` does, ``n_firms`` (distinct firms with a known
row), ``n_missing`` (distinct firms with an unknown row), and for I12, I13, I21
``n_contrib``/``max_share`` from the per-firm sums. The engine returns per-cell sums only (a
few hundred rows); the values, ratios (NaN for a zero denominator, x100 for percentages) and
shares are formed here exactly as pandas forms them, so each cell frame is the one the pandas
function returns for the scope's :class:`~policylab.indicators.inputs.Inputs` (region:
``make_inputs(tables)``; lab: ``make_inputs(stack_regions(...), scope="lab")`` over the
regions with the indicator, as :func:`policylab.indicators.raw_indicators` builds them): same
rows in the same order, counts equal, values and shares to rounding (the engine adds in
another order; below 1e-14 relative on the example and generated panels, counts exact).

What is left to the pandas pipeline (the result omits the id, the pipeline keeps its own row):

* a region without firm-years (the pipeline's "no firm-years in the data" row);
* I21 for a region whose firms table has no known headcount (``firms.employees`` missing:
  the registry's not-available row; the lab scope covers the regions with one);
* I13 for a region without a ``turnover_eur`` column, I12-I15P for one without
  ``exports_eur`` (columns canonical ingestion always writes; the pandas functions raise a
  ``KeyError`` without them, so the lab scope covers the regions that have them; a column
  that is there but all unknown is computed: NaN values, every firm in ``n_missing``);
* I16 for a region not in ``new_markets`` (no firm ids in its orders);
* the lab-wide note "lab-wide over k of n regions": a lab-scope frame has the regions it
  covers in ``frame.attrs["regions"]``, the pipeline adds the note.

Not reproduced: a firm-year listed twice in the firms table (canonical validation rejects
it, so an ingested store never holds one). Pandas takes its first row as the lagged value of
the following years in I15/I15P/I21; the SQL's look-back windows would see both rows (I15:
the next ``k`` years undetermined; I21: the larger headcount as the year before). The other
cells add both rows, as pandas does.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UsageError, UserError
from ..indicators._cells import finish, no_years
from ..indicators.firms import LOOKBACK_NOTE, new_markets
from ..indicators.inputs import CUMULATIVE, Options, make_inputs, stack_regions
from ..indicators.registry import FIRM_GROUPS, REGISTRY, need_missing
from .indicator_sql import (
    NEW_MARKETS_SCHEMA,
    SCOPE_SCHEMA,
    STATS_COLUMNS,
    SUM_COLUMNS,
    YEARS_SCHEMA,
    column,
    firm_cells_sql,
    observed_sql,
    outcome_counts_sql,
    region_stats_sql,
)
from .sql import check_region_key

#: The indicators :func:`firm_indicator_cells` computes (I16 only with ``new_markets``), in
#: the registry's order.
INDICATOR_IDS: tuple[str, ...] = ("I12", "I13", "I14", "I15", "I15P", "I16", "I21")
ENGINES: tuple[str, ...] = ("pandas", "duckdb", "spark")
LAB = "lab"
#: Columns of :func:`new_markets_frame`'s table (``new_markets`` of :func:`firm_indicator_cells`).
NEW_MARKETS_COLUMNS = ("region", "firm_id", "year", "new", "start")
SUMMARY_COLUMNS = ["region", "firm_years", "firms", "first_year", "last_year", "members",
                   "never_members", "missing_exports"]
OUTCOME_COUNT_COLUMNS = ["region", "outcome", "members", "never_members"]
TWO_YEARS_NOTE = "needs two consecutive years of data"
_PERIOD_CUMULATIVE = -1

__all__ = ["ENGINES", "INDICATOR_IDS", "firm_indicator_cells", "firm_summary",
           "max_cell_difference", "new_markets_frame", "outcome_counts"]


# --------------------------------------------------------------------------- arguments


def _engine(engine: object) -> str:
    if not isinstance(engine, str) or engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(repr(e) for e in ENGINES)}; "
                         f"got {engine!r}")
    return engine


def _regions(regions: Sequence[str] | str) -> list[str]:
    regions = [regions] if isinstance(regions, str) else list(regions)
    if not regions:
        raise UsageError("regions must name at least one region of the store")
    return list(dict.fromkeys(check_region_key(r) for r in regions))


def _new_markets(frame: pd.DataFrame | None, regions: Sequence[str]
                 ) -> tuple[pd.DataFrame | None, dict[str, int]]:
    """The per-firm rows (known firm and year) and each region's start year."""
    if frame is None:
        return None, {}
    if not isinstance(frame, pd.DataFrame) or any(c not in frame for c in NEW_MARKETS_COLUMNS):
        got = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise UsageError(f"new_markets must be a DataFrame with columns "
                         f"{', '.join(NEW_MARKETS_COLUMNS)} (see new_markets_frame); got {got}")
    frame = frame[frame["region"].astype(str).isin(regions)]
    starts = {}
    for region, start in frame.groupby(frame["region"].astype(str), sort=False)["start"]:
        values = pd.to_numeric(start, errors="coerce").dropna().unique()
        if len(values) != 1:
            raise UsageError(f"new_markets: region {region!r} needs one start year, got "
                             f"{sorted(values.tolist())}")
        starts[region] = int(values[0])
    rows = frame[frame["firm_id"].notna() & frame["year"].notna()]
    rows = pd.DataFrame({"region": rows["region"].astype(str).to_numpy(dtype=object),
                         "firm_id": rows["firm_id"].astype(str).to_numpy(dtype=object),
                         "year": pd.to_numeric(rows["year"]).astype("int64").to_numpy(),
                         "new": pd.to_numeric(rows["new"]).astype("float64").to_numpy()})
    return rows, starts


def new_markets_frame(orders: Mapping[str, pd.DataFrame],
                      windows: Mapping[str, tuple[int, int] | None], *,
                      options: Options | None = None) -> pd.DataFrame:
    """The ``new_markets`` argument of :func:`firm_indicator_cells`, from the regions' small
    ``orders`` tables: per region key, the rows of :func:`policylab.indicators.firms.new_markets`
    for the region (``firm_id, year, new``: a firm's new destination countries that year)
    and the region's ``start`` (first year with a full look-back window), computed by that
    very function on the region's :class:`~policylab.indicators.inputs.Inputs`.

    ``windows`` gives each region's first and last year of the firms table (``first_year``,
    ``last_year`` of :func:`firm_summary`); orders outside it are left out, as
    :func:`~policylab.indicators.inputs.make_inputs` does. A region without firm ids in its
    orders (I16 not available), or without firm-years, is left out; a region whose orders
    give no new market gets one row with ``firm_id`` missing (its start year).
    """
    options = options or Options()
    parts = []
    for key, table in orders.items():
        window = windows.get(key)
        if window is None or any(v is None or pd.isna(v) for v in window):
            continue
        if need_missing("orders.firm_id", {"orders": table}) is not None:
            continue
        lo, hi = (int(v) for v in window)
        span = pd.DataFrame({"firm_id": pd.Series([pd.NA, pd.NA], dtype="string"),
                             "year": [lo, hi]})
        per_firm, start = new_markets(make_inputs({"firms": span, "orders": table},
                                                  options=options))
        (begin,) = start.values()
        part = pd.DataFrame({"region": key, "firm_id": per_firm["firm_id"].astype("string"),
                             "year": per_firm["year"].astype("Int64"),
                             "new": per_firm["new"].astype("float64"), "start": begin})
        if part.empty:
            part = pd.DataFrame({"region": [key], "firm_id": pd.Series([pd.NA], dtype="string"),
                                 "year": pd.Series([pd.NA], dtype="Int64"), "new": [0.0],
                                 "start": [begin]})
        parts.append(part)
    if not parts:
        return pd.DataFrame({"region": pd.Series([], dtype=object),
                             "firm_id": pd.Series([], dtype="string"),
                             "year": pd.Series([], dtype="Int64"),
                             "new": pd.Series([], dtype="float64"),
                             "start": pd.Series([], dtype="int64")})
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- planning


class _Region:
    """What the scopes are planned from: a region's window and which indicators it has."""

    def __init__(self, key: str, first: int | None, last: int | None, columns: set[str],
                 n_employees: int, start16: int | None) -> None:
        self.key, self.first, self.last = key, first, last
        years = first is not None
        exports = "exports_eur" in columns
        self.has = {
            "I12": years and exports, "I14": years and exports, "I15": years and exports,
            "I15P": years and exports,
            "I13": years and exports and "turnover_eur" in columns,
            "I21": years and n_employees > 0,
            "I16": years and start16 is not None,
        }
        self.start16 = start16


def _keys(plan: list[_Region], ind: str) -> list[str]:
    return [r.key for r in plan if r.has[ind]]


def _span(plan: list[_Region], keys: Sequence[str]) -> tuple[int, int]:
    by = {r.key: r for r in plan}
    return min(by[k].first for k in keys), max(by[k].last for k in keys)


def _lab_wide(lab_wide: bool | None, regions: Sequence[str]) -> bool:
    return len(regions) >= 2 if lab_wide is None else bool(lab_wide)


def _scope_rows(plan: list[_Region], lab: bool, k: int) -> list[tuple]:
    """Rows of the ``scopes`` table (:data:`SCOPE_SCHEMA`)."""
    rows = []
    for r in plan:
        if r.first is None:
            continue
        rows.append((r.key, r.key, int(r.has["I12"]), int(r.has["I13"]), int(r.has["I21"]),
                     int(r.has["I16"]), r.first + k, r.first + 1, r.start16 or 0))
    if lab:
        k12, k21 = _keys(plan, "I12"), _keys(plan, "I21")
        y15 = _span(plan, k12)[0] + k if k12 else 0
        y21 = _span(plan, k21)[0] + 1 if k21 else 0
        sets = {ind: set(_keys(plan, ind)) for ind in ("I12", "I13", "I21", "I16")}
        for r in plan:
            flags = [int(r.key in sets[ind]) for ind in ("I12", "I13", "I21", "I16")]
            if any(flags):
                rows.append((r.key, LAB, *flags, y15, y21, r.start16 or 0))
    return rows


# --------------------------------------------------------------------------- cells


def _ratio(num: np.ndarray, den: np.ndarray, percent: bool) -> np.ndarray:
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den != 0) * (
        100.0 if percent else 1.0)


def _share(top: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.divide(top, total, out=np.zeros(len(top)), where=total > 0)


def _group_frame(sums: Mapping[tuple[str, int, str], Mapping[str, float]], scope: str,
                 years: Sequence[int], ind: str) -> pd.DataFrame:
    """The cells of ``group_cells`` (periods x firm groups, in its order) from the sums."""
    periods = [*years, _PERIOD_CUMULATIVE]
    keys = [(scope, p, g) for p in periods for g in FIRM_GROUPS]
    zero = dict.fromkeys(SUM_COLUMNS, 0.0)
    col = {c: np.array([float(sums.get(key, zero)[c] or 0.0) for key in keys])
           for c in SUM_COLUMNS}
    out: dict[str, object] = {
        "period": np.repeat([str(y) for y in years] + [CUMULATIVE], len(FIRM_GROUPS)),
        "group": np.tile(list(FIRM_GROUPS), len(periods)),
    }
    if ind == "I12":
        out.update(value=col["v12"], n_firms=col["n12"], n_missing=col["m12"],
                   n_contrib=col["c12"], max_share=_share(col["top12"], col["tot12"]))
    elif ind == "I13":
        out.update(value=_ratio(col["v13"], col["d13"], True), n_firms=col["n13"],
                   n_missing=col["m13"], n_contrib=np.minimum(col["c13"], col["cd13"]),
                   max_share=np.maximum(_share(col["top13"], col["tot13"]),
                                        _share(col["topd13"], col["totd13"])))
    elif ind == "I14":
        out.update(value=_ratio(col["v14"], col["d14"], True), n_firms=col["n12"],
                   n_missing=col["m12"])
    elif ind == "I15":
        out.update(value=col["v15"], n_firms=col["n15"], n_missing=col["m15"])
    elif ind == "I15P":
        out.update(value=_ratio(col["v15"], col["d15"], True), n_firms=col["n15"],
                   n_missing=col["m15"])
    elif ind == "I21":
        out.update(value=col["v21"], n_firms=col["n21"], n_missing=col["m21"],
                   n_contrib=col["c21"], max_share=_share(col["top21"], col["tot21"]))
    elif ind == "I16":
        out.update(value=col["v16"], n_firms=col["n16"], n_missing=np.zeros(len(keys)))
    out["n_firms"] = np.asarray(out["n_firms"]).astype("int64")
    return finish(pd.DataFrame(out))


def _cluster_frame(rows: list[tuple]) -> pd.DataFrame:
    """I16's consortium cells (``cluster_id, period, value, n_firms`` rows of one region) in
    the order pandas' ``groupby(["cluster_id", "period"])`` gives them."""
    cells = [(c, CUMULATIVE if p == _PERIOD_CUMULATIVE else str(p), float(v), int(n))
             for c, p, v, n in rows]
    cells.sort(key=lambda c: (c[0], c[1]))
    return finish(pd.DataFrame({"period": [c[1] for c in cells],
                                "cluster_id": [c[0] for c in cells],
                                "value": [c[2] for c in cells],
                                "n_firms": np.array([c[3] for c in cells], dtype="int64"),
                                "group": "all"}))


def _years_of(ind: str, first: int, last: int, k: int, start: int | None) -> list[int]:
    years = list(range(first, last + 1))
    if ind in ("I15", "I15P"):
        return [y for y in years if y - k >= first]
    if ind == "I21":
        return [y for y in years if y > first]
    if ind == "I16":
        return [y for y in years if y >= start]
    return years


_NO_YEARS = {"I15": LOOKBACK_NOTE, "I15P": LOOKBACK_NOTE, "I16": LOOKBACK_NOTE,
             "I21": TWO_YEARS_NOTE}


def _ids(new_markets: object) -> list[str]:
    return [i for i in INDICATOR_IDS if i != "I16" or new_markets is not None]


def _sql_cells(backend, regions: list[str], *, options: Options, lab: bool,
               new_markets: pd.DataFrame | None) -> dict[tuple[str, str], pd.DataFrame]:
    k = int(options.new_exporter_lookback)
    nm_rows, starts = _new_markets(new_markets, regions)
    present = {c: any(c in backend.columns("firms", r) for r in regions)
               for c in ("exports_eur", "turnover_eur", "employees")}
    stats = _stats(backend, regions, present)
    plan = [_Region(r, stats[r]["first_year"], stats[r]["last_year"],
                    set(backend.columns("firms", r)), stats[r]["n_employees"], starts.get(r))
            for r in regions]
    uid = uuid.uuid4().hex[:12]
    scopes = f"pl_scopes_{uid}"
    backend.register(scopes, SCOPE_SCHEMA, _scope_rows(plan, lab, k))
    nm_name = None
    if nm_rows is not None and any(r.has["I16"] for r in plan):
        nm_name = f"pl_new_markets_{uid}"
        backend.register(nm_name, NEW_MARKETS_SCHEMA,
                         list(nm_rows.itertuples(index=False, name=None)))
    ids = _ids(new_markets)
    out: dict[tuple[str, str], pd.DataFrame] = {}
    if not any(r.first is not None for r in plan):
        return out
    with16 = [r for r in plan if r.has["I16"]]
    years_name = None
    if with16:
        years_name = f"pl_years_{uid}"
        backend.register(years_name, YEARS_SCHEMA,
                         [(r.key, y) for r in with16
                          for y in _years_of("I16", r.first, r.last, k, r.start16)])
    sql = firm_cells_sql(
        backend.relations, regions, scopes=scopes, new_markets=nm_name, lookback=k,
        present=present, cluster_years=years_name, cluster_regions=[r.key for r in with16],
        exit_year=any("exit_year" in backend.columns("membership", r.key) for r in with16))
    sums: dict[tuple[str, int, str], dict[str, float]] = {}
    clusters: dict[str, list[tuple]] = {}
    for part, scope, period, grp, *values in backend.query(sql):
        row = dict(zip(SUM_COLUMNS, values, strict=True))
        if part == "cluster":
            clusters.setdefault(str(scope), []).append((str(grp), int(period), row["v16"],
                                                         row["n16"]))
        else:
            sums[(str(scope), int(period), str(grp))] = row
    for r in plan:
        for ind in ids:
            if not r.has[ind]:
                continue
            years = _years_of(ind, r.first, r.last, k, r.start16)
            if not years:
                out[(r.key, ind)] = no_years(_NO_YEARS[ind])
                continue
            frame = _group_frame(sums, r.key, years, ind)
            if ind == "I16":
                frame = pd.concat([frame, _cluster_frame(clusters.get(r.key, []))],
                                  ignore_index=True)
            out[(r.key, ind)] = frame
    if lab:
        for ind in ids:
            keys = _keys(plan, "I12" if ind in ("I14", "I15", "I15P") else ind)
            if not keys:
                continue
            first, last = _span(plan, keys)
            start = min(r.start16 for r in plan if r.key in keys) if ind == "I16" else None
            years = _years_of(ind, first, last, k, start)
            frame = (no_years(_NO_YEARS[ind]) if not years
                     else _group_frame(sums, LAB, years, ind))
            frame.attrs["regions"] = list(keys)
            out[(LAB, ind)] = frame
    return _ordered(out, regions)


def _ordered(out: dict[tuple[str, str], pd.DataFrame], regions: Sequence[str]
             ) -> dict[tuple[str, str], pd.DataFrame]:
    order = {key: i for i, key in enumerate([*regions, LAB])}
    rank = {ind: i for i, ind in enumerate(INDICATOR_IDS)}
    return dict(sorted(out.items(), key=lambda kv: (order[kv[0][0]], rank[kv[0][1]])))


def _stats(backend, regions: list[str], present: Mapping[str, bool]) -> dict[str, dict]:
    rows = backend.query(region_stats_sql(backend.relations, regions,
                                          exports=present["exports_eur"],
                                          employees=present["employees"]))
    found = {str(row[0]): dict(zip(STATS_COLUMNS, row, strict=True)) for row in rows}
    empty = {"firm_years": 0, "first_year": None, "last_year": None, "missing_exports": 0,
             "n_employees": 0, "firms": 0, "members": 0}
    out = {}
    for r in regions:
        s = {**empty, **found.get(r, {}), "region": r}
        for c in ("firm_years", "missing_exports", "n_employees", "firms", "members"):
            s[c] = int(s[c] or 0)
        for c in ("first_year", "last_year"):
            s[c] = None if s[c] is None else int(s[c])
        out[r] = s
    return out


# --------------------------------------------------------------------------- pandas


def _read_table(store_dir: Path, table: str, region: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    folder = Path(store_dir) / table / f"region={region}"
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise UserError(f"the store {store_dir} has no {table!r} table for region {region!r} "
                        f"(no folder {folder})")
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _pandas_cells(store_dir: Path, regions: list[str], *, options: Options, lab: bool,
                  new_markets: pd.DataFrame | None) -> dict[tuple[str, str], pd.DataFrame]:
    """The in-memory reference: the store's tables through the pandas indicator functions."""
    _, starts = _new_markets(new_markets, regions)
    tables = {}
    for r in regions:
        tables[r] = {"firms": _read_table(store_dir, "firms", r),
                     "membership": _read_table(store_dir, "membership", r)}
        if r in starts:
            tables[r]["orders"] = _read_table(store_dir, "orders", r)
    plan = []
    for r in regions:
        firms = tables[r]["firms"]
        years = pd.to_numeric(firms["year"], errors="coerce").dropna() if "year" in firms else []
        n_emp = 0 if need_missing("firms.employees", tables[r]) else 1
        plan.append(_Region(r, int(min(years)) if len(years) else None,
                            int(max(years)) if len(years) else None, set(firms.columns), n_emp,
                            starts.get(r)))
    ids = _ids(new_markets)
    out: dict[tuple[str, str], pd.DataFrame] = {}
    for r in plan:
        wanted = [i for i in ids if r.has[i]]
        if not wanted:
            continue
        inp = make_inputs(tables[r.key], options=options)
        for ind in wanted:
            out[(r.key, ind)] = REGISTRY[ind].compute(inp)
    if lab:
        cache = {}
        for ind in ids:
            keys = tuple(_keys(plan, ind))
            if not keys:
                continue
            if keys not in cache:
                cache[keys] = make_inputs(stack_regions([(k, tables[k]) for k in keys]),
                                          options=options, scope="lab")
            frame = REGISTRY[ind].compute(cache[keys])
            frame = frame[frame["cluster_id"].astype(str) == ""].reset_index(drop=True)
            frame.attrs["regions"] = list(keys)
            out[(LAB, ind)] = frame
    return _ordered(out, regions)


# --------------------------------------------------------------------------- API


def _backend(engine: str, store_dir, regions: list[str], *, spark_master, memory_limit,
             temp_directory=None, threads=None):
    if engine == "duckdb":
        from .duckdb_engine import DuckDBBackend

        return DuckDBBackend(store_dir, regions, memory_limit=memory_limit,
                             temp_directory=temp_directory, threads=threads)
    from .spark_engine import SparkBackend

    return SparkBackend(store_dir, regions, spark_master=spark_master)


def firm_indicator_cells(
    store_dir: str | Path,
    regions: Sequence[str],
    *,
    engine: str = "duckdb",
    options: Options | None = None,
    lab_wide: bool | None = None,
    new_markets: pd.DataFrame | None = None,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    threads: int | None = None,
) -> dict[tuple[str, str], pd.DataFrame]:
    """The firm-panel indicators' cells per scope, from the store (see the module notes).

    Parameters
    ----------
    store_dir : path
        The canonical store; the ``firms`` and ``membership`` tables of ``regions`` are read
        (and ``orders`` by the pandas engine for I16).
    regions : sequence of str
        Region keys: the region scopes, and the lab scope's regions.
    engine : {"duckdb", "spark", "pandas"}
        ``"pandas"`` reads the tables into memory and calls the indicator functions of
        :mod:`policylab.indicators.firms` (the reference); the SQL engines give the same cells.
    options : Options
        The look-back windows (``new_exporter_lookback`` for I15/I15P; I16's is in
        ``new_markets``). Default ``Options()``.
    lab_wide : bool or None
        Add the lab scope (key ``"lab"``); default: when there are at least two regions.
    new_markets : DataFrame or None
        Columns ``region, firm_id, year, new, start`` (:func:`new_markets_frame`): I16 is
        computed for the regions it lists (per-firm new markets and the region's start year,
        what pandas computes from the small orders table). Without it, no I16 cells.
    spark_master, memory_limit, temp_directory, threads
        Engine settings, as :func:`policylab.engines.cs_from_store`.

    Returns
    -------
    dict
        ``{(scope, indicator id): cell frame}`` with scope a region key or ``"lab"`` and the
        frame the pandas function returns (columns ``period, group, cluster_id, value,
        n_firms, n_missing, n_contrib, max_share, flag, note``; the lab frame without
        consortium rows, its regions in ``frame.attrs["regions"]``). Ids a scope cannot have
        are absent (see the module notes).
    """
    engine = _engine(engine)
    regions = _regions(regions)
    options = options or Options()
    lab = _lab_wide(lab_wide, regions)
    if engine == "pandas":
        return _pandas_cells(Path(store_dir), regions, options=options, lab=lab,
                             new_markets=new_markets)
    backend = _backend(engine, store_dir, regions, spark_master=spark_master,
                       memory_limit=memory_limit, temp_directory=temp_directory,
                       threads=threads)
    try:
        return _sql_cells(backend, regions, options=options, lab=lab, new_markets=new_markets)
    finally:
        backend.close()


def firm_summary(store_dir: str | Path, regions: Sequence[str], *, engine: str = "duckdb",
                 spark_master: str | None = None, memory_limit: str | None = None,
                 temp_directory: str | Path | None = None, threads: int | None = None,
                 ) -> pd.DataFrame:
    """Per region the firm numbers of :func:`policylab.pipeline.data_quality`: ``firm_years``
    (rows of the firms table), ``firms`` (distinct ids), ``first_year``, ``last_year``,
    ``members`` (firms whose id appears in the membership table), ``never_members`` and
    ``missing_exports`` (rows with exports unknown). A region without firm-years has missing
    first and last years."""
    engine = _engine(engine)
    regions = _regions(regions)
    if engine == "pandas":
        rows = []
        for r in regions:
            firms = _read_table(Path(store_dir), "firms", r)
            mem = _read_table(Path(store_dir), "membership", r)
            firm_ids = pd.Index(firms["firm_id"].dropna().unique())
            members = int(firm_ids.isin(mem["firm_id"].dropna()).sum())
            year = pd.to_numeric(firms["year"], errors="coerce")
            rows.append({"region": r, "firm_years": len(firms), "firms": len(firm_ids),
                         "first_year": None if year.isna().all() else int(year.min()),
                         "last_year": None if year.isna().all() else int(year.max()),
                         "members": members, "never_members": len(firm_ids) - members,
                         "missing_exports": int(firms["exports_eur"].isna().sum())
                         if "exports_eur" in firms else len(firms)})
    else:
        backend = _backend(engine, store_dir, regions, spark_master=spark_master,
                           memory_limit=memory_limit, temp_directory=temp_directory,
                           threads=threads)
        try:
            present = {c: any(c in backend.columns("firms", r) for r in regions)
                       for c in ("exports_eur", "employees")}
            stats = _stats(backend, regions, present)
        finally:
            backend.close()
        rows = [{**{c: stats[r][c] for c in SUMMARY_COLUMNS if c in stats[r]},
                 "never_members": stats[r]["firms"] - stats[r]["members"]} for r in regions]
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for c in SUMMARY_COLUMNS[1:]:
        out[c] = out[c].astype("Int64" if c in ("first_year", "last_year") else "int64")
    return out


def outcome_counts(store_dir: str | Path, regions: Sequence[str], outcomes: Sequence[str], *,
                   engine: str = "duckdb", spark_master: str | None = None,
                   memory_limit: str | None = None, temp_directory: str | Path | None = None,
                   threads: int | None = None) -> pd.DataFrame:
    """Per region and outcome (of :data:`policylab.config.OUTCOME_COLUMNS`): ``members`` and
    ``never_members``, the distinct firms with the outcome observed among the firms with
    cohort > 0 and cohort 0 of :func:`policylab.did.panel.firm_panel` (what
    ``policylab.pipeline._too_few_firms`` counts). An outcome whose column the region's
    firms table lacks counts 0 and 0."""
    from ..config import OUTCOME_COLUMNS

    engine = _engine(engine)
    regions = _regions(regions)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(dict.fromkeys(outcomes))
    if bad := [o for o in outcomes if o not in OUTCOME_COLUMNS]:
        raise UsageError(f"unknown outcome(s) {bad}; choose from {', '.join(OUTCOME_COLUMNS)}")
    rows = []
    if engine == "pandas":
        from ..did.panel import firm_panel

        for r in regions:
            panel = firm_panel(_read_table(Path(store_dir), "firms", r),
                               _read_table(Path(store_dir), "membership", r))
            for o in outcomes:
                if o not in panel:
                    rows.append((r, o, 0, 0))
                    continue
                seen = panel.loc[panel[o].notna()]
                rows.append((r, o, int(seen.loc[seen["cohort"] > 0, "firm_id"].nunique()),
                             int(seen.loc[seen["cohort"] == 0, "firm_id"].nunique())))
    else:
        backend = _backend(engine, store_dir, regions, spark_master=spark_master,
                           memory_limit=memory_limit, temp_directory=temp_directory,
                           threads=threads)
        try:
            sources = {c: column(c, any(c in backend.columns("firms", r) for r in regions))
                       for c in dict.fromkeys(OUTCOME_COLUMNS[o] for o in outcomes)}
            observed = [observed_sql(o, sources[OUTCOME_COLUMNS[o]]) for o in outcomes]
            found = {str(row[0]): row[1:] for row in
                     backend.query(outcome_counts_sql(backend.relations, regions, observed))}
        finally:
            backend.close()
        for r in regions:
            got = found.get(r, (0,) * (2 * len(outcomes)))
            for i, o in enumerate(outcomes):
                rows.append((r, o, int(got[2 * i] or 0), int(got[2 * i + 1] or 0)))
    out = pd.DataFrame(rows, columns=OUTCOME_COUNT_COLUMNS)
    return out.astype({"members": "int64", "never_members": "int64"})


def max_cell_difference(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """The largest relative difference ``|a - b| / |b|`` of ``value`` and ``max_share``
    between two cell frames (0 where both are equal, ``inf`` when the rows, texts, counts or
    missing values differ). For checking engines against each other."""
    if len(a) != len(b):
        return math.inf
    for col in ("period", "group", "cluster_id", "flag", "note"):
        if a[col].astype(str).tolist() != b[col].astype(str).tolist():
            return math.inf
    if a["n_firms"].tolist() != b["n_firms"].tolist():
        return math.inf
    worst = 0.0
    for col in ("n_missing", "n_contrib", "value", "max_share"):
        u, v = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
        if not np.array_equal(np.isnan(u), np.isnan(v)):
            return math.inf
        ok = ~np.isnan(v)
        diff = np.abs(u[ok] - v[ok])
        if col in ("n_missing", "n_contrib"):
            if diff.any():
                return math.inf
            continue
        scale = np.abs(v[ok])
        rel = np.divide(diff, scale, out=np.where(diff > 0, math.inf, 0.0), where=scale > 0)
        worst = max(worst, float(rel.max(initial=0.0)))
    return worst
