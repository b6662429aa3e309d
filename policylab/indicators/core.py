"""Monitoring indicators (definitions: shared domain notes §1.2).

Conventions: a member-year is a (firm, year) with join_year <= year < exit_year (the exit year
is the first year without membership; blank exit = still a member); money in EUR; "members" are
firms that joined by that year, "never_members" firms that never joined. Gross, descriptive
numbers: not impact estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import indicator

COLUMNS = ["period", "group", "value", "n_firms"]


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def _years(panel: pd.DataFrame) -> list[int]:
    return sorted(int(y) for y in panel["year"].unique())


def _active_members(membership: pd.DataFrame, year: int) -> pd.DataFrame:
    m = membership
    active = (m["join_year"] <= year) & (m["exit_year"].isna() | (m["exit_year"] > year)) if "exit_year" in m \
        else (m["join_year"] <= year)
    return m[active.fillna(False).to_numpy(dtype=bool)]


@indicator(id="I01", name="SMEs supported", unit="enterprises", level="region",
           numerator="distinct firms with an active consortium membership in the period, counted once",
           denominator="-", needs=("membership",), eu_code="RCO01")
def smes_supported(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    m = tables["membership"]
    rows = []
    for y in _years(panel):
        n = _active_members(m, y)["firm_id"].nunique()
        rows.append({"period": str(y), "group": "members", "value": float(n), "n_firms": n})
    last = max(_years(panel))
    n = m.loc[m["join_year"] <= last, "firm_id"].nunique()
    rows.append({"period": "cumulative", "group": "members", "value": float(n), "n_firms": n})
    return _frame(rows)


@indicator(id="I02", name="Consortia formed", unit="consortia", level="region",
           numerator="consortia founded in the period", denominator="-", needs=("clusters", "membership"),
           eu_code=None)
def consortia_formed(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    c, m = tables["clusters"], tables["membership"]
    rows = []
    for y in _years(panel):
        ids = c.loc[c["founded_year"] == y, "cluster_id"]
        n_firms = m.loc[m["cluster_id"].isin(ids), "firm_id"].nunique()
        rows.append({"period": str(y), "group": "all", "value": float(len(ids)), "n_firms": n_firms})
    ids = c.loc[c["founded_year"] <= max(_years(panel)), "cluster_id"]
    rows.append({"period": "cumulative", "group": "all", "value": float(len(ids)),
                 "n_firms": m.loc[m["cluster_id"].isin(ids), "firm_id"].nunique()})
    return _frame(rows)


@indicator(id="I02A", name="Consortia active at year end", unit="consortia", level="region",
           numerator="consortia founded by the year and not closed by its end", denominator="-",
           needs=("clusters", "membership"), eu_code=None)
def consortia_active(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    c, m = tables["clusters"], tables["membership"]
    closed = c["closed_year"] if "closed_year" in c else pd.Series(pd.NA, index=c.index, dtype="Int64")
    rows = []
    for y in _years(panel):
        alive = (c["founded_year"] <= y) & (closed.isna() | (closed > y))
        ids = c.loc[alive.fillna(False).to_numpy(dtype=bool), "cluster_id"]
        act = _active_members(m, y)
        n_firms = act.loc[act["cluster_id"].isin(ids), "firm_id"].nunique()
        rows.append({"period": str(y), "group": "all", "value": float(len(ids)), "n_firms": n_firms})
    return _frame(rows)


def _by_group(panel: pd.DataFrame, stat) -> pd.DataFrame:
    """Apply ``stat(rows) -> (value, n_firms)`` to members (joined by the year) and never-members."""
    rows = []
    groups = {
        "members": panel["treated_now"] == 1,
        "never_members": panel["cohort"] == 0,
    }
    for y, at_y in panel.groupby("year", sort=True):
        for g, mask in groups.items():
            sub = at_y[mask.loc[at_y.index]]
            value, n = stat(sub)
            rows.append({"period": str(int(y)), "group": g, "value": value, "n_firms": int(n)})
    return _frame(rows)


@indicator(id="I12", name="Export turnover", unit="EUR", level="region",
           numerator="sum of firms' export turnover (known values)", denominator="-", needs=("firms",),
           eu_code="RCR19")
def export_turnover(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    def stat(rows: pd.DataFrame):
        known = rows["exports_eur"].dropna()
        return float(known.sum()), known.size

    return _by_group(panel, stat)


@indicator(id="I13", name="Export intensity", unit="%", level="region",
           numerator="sum of export turnover", denominator="sum of total turnover (firms with both known)",
           needs=("firms",), eu_code=None)
def export_intensity(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    def stat(rows: pd.DataFrame):
        ok = rows["exports_eur"].notna() & rows["turnover_eur"].notna() & (rows["turnover_eur"] > 0)
        tot = rows.loc[ok, "turnover_eur"].sum()
        value = float(100.0 * rows.loc[ok, "exports_eur"].sum() / tot) if tot > 0 else np.nan
        return value, int(ok.sum())

    return _by_group(panel, stat)


@indicator(id="I14", name="Share of exporting firms", unit="%", level="region",
           numerator="firms with export turnover > 0", denominator="firms with known export turnover",
           needs=("firms",), eu_code=None)
def exporter_share(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    def stat(rows: pd.DataFrame):
        known = rows["exporter"].dropna()
        return (float(100.0 * known.mean()) if known.size else np.nan), known.size

    return _by_group(panel, stat)


def _via_cluster(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    o = tables["orders"]
    o = o[o["cluster_id"].notna()] if "cluster_id" in o else o.iloc[0:0]
    return o.assign(year=o["order_date"].dt.year.astype("int64"))


def _order_firms(orders: pd.DataFrame, membership: pd.DataFrame, year: int | None) -> int:
    """Firms behind a set of orders: the named firms, else the clusters' active members."""
    if "firm_id" in orders and orders["firm_id"].notna().all():
        return int(orders["firm_id"].nunique())
    m = membership if year is None else _active_members(membership, year)
    return int(m.loc[m["cluster_id"].isin(orders["cluster_id"]), "firm_id"].nunique())


def _orders_indicator(tables: dict[str, pd.DataFrame], panel: pd.DataFrame, value_of) -> pd.DataFrame:
    o, m = _via_cluster(tables), tables["membership"]
    rows = []
    for y in _years(panel):
        oy = o[o["year"] == y]
        rows.append({"period": str(y), "group": "all", "value": value_of(oy), "n_firms": _order_firms(oy, m, y)})
    rows.append({"period": "cumulative", "group": "all", "value": value_of(o), "n_firms": _order_firms(o, m, None)})
    return _frame(rows)


@indicator(id="I09", name="New export orders via consortia", unit="orders", level="region",
           numerator="export orders signed in the period and won via a consortium", denominator="-",
           needs=("orders", "membership"), eu_code=None)
def orders_count(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    return _orders_indicator(tables, panel, lambda o: float(len(o)))


@indicator(id="I10", name="Value of new export orders via consortia", unit="EUR", level="region",
           numerator="sum of the values of those orders", denominator="-", needs=("orders", "membership"),
           eu_code=None)
def orders_value(tables: dict[str, pd.DataFrame], panel: pd.DataFrame) -> pd.DataFrame:
    return _orders_indicator(tables, panel, lambda o: float(o["value_eur"].sum()))
