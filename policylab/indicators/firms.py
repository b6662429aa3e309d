"""Firm indicators: SMEs supported (I01) and firm outcomes of members side by side with
never-members (I12-I16, I21).

Firm outcome cells are published for the groups ``all``, ``members``, ``not_yet_members``
and ``never_members`` (see :mod:`policylab.indicators.inputs`), per year and cumulative.
Firm-level values themselves are never published (each would rest on one firm).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._cells import distinct, finish, group_cells, no_years
from .inputs import CUMULATIVE, Inputs, map_region, size_class
from .registry import SIZE_CLASSES, indicator

LOOKBACK_NOTE = "no year of the data has a full look-back window"
SIZE_NOTE = "EU SME headcount classes (micro < 10, small < 50, medium < 250 employees)"


def _lag(panel: pd.DataFrame, column: str, k: int) -> np.ndarray:
    """``column`` of the same firm ``k`` years earlier (NaN when not observed; a firm-year
    listed twice takes its first row).

    ``panel`` is :attr:`Inputs.panel` (sorted by firm and year, with ``firm_code``): a dense
    firm x year table is filled once and read at year - k, with no index built on the ids.
    """
    code = panel["firm_code"].to_numpy(dtype="int64")
    year = panel["year"].to_numpy(dtype="int64")
    out = np.full(len(panel), np.nan)
    if not len(panel):
        return out
    y0 = int(year.min())
    span = int(year.max()) - y0 + 1
    key = code * span + (year - y0)
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]  # duplicates are adjacent in the sorted panel
    table = np.full((int(code.max()) + 1) * span, np.nan)
    table[key[first]] = panel[column].to_numpy(dtype="float64")[first]
    back = year - k - y0
    ok = back >= 0
    out[ok] = table[code[ok] * span + back[ok]]
    return out


# --------------------------------------------------------------------------------------- I01


@indicator(
    id="I01", name="SMEs supported", unit="enterprises", levels=("region", "lab"),
    numerator="distinct firms with at least one member-year (join_year <= year < exit_year) in "
              "the period, each counted once however many consortia it belongs to",
    denominator="-", needs=("membership",), eu_code="RCO01", cumulative="distinct",
    partition="size_classes",
    notes="Consortium membership is the only support record in the canonical tables, so the "
          "RCO02 (grants) / RCO04 (non-financial support) split cannot be made. Size class: "
          "headcount in the year (cumulative: in the first member-year of the window); "
          + SIZE_NOTE + ".")
def smes_supported(inp: Inputs) -> pd.DataFrame:
    my = inp.member_years.drop_duplicates(["firm_id", "year"])
    with_size = "employees" in inp.panel and inp.panel["employees"].notna().any()
    if with_size:
        members = inp.panel[inp.panel["cohort"].to_numpy() > 0]  # every firm of member_years
        emp = members[["firm_id", "year", "employees"]].drop_duplicates(["firm_id", "year"])
        my = my.merge(emp, on=["firm_id", "year"], how="left")
        my["size"] = size_class(my["employees"])
    first = my.sort_values(["firm_id", "year"]).drop_duplicates("firm_id")
    frames = [my.assign(period=my["year"].astype(str)), first.assign(period=CUMULATIVE)]
    long = pd.concat(frames, ignore_index=True)
    groups = SIZE_CLASSES if with_size else ("members",)
    parts = [long.assign(group="members")] + ([long.assign(group=long["size"])] if with_size else [])
    long = pd.concat(parts, ignore_index=True)
    counts = distinct(long, ["period", "group"])
    index = pd.MultiIndex.from_product([[str(y) for y in inp.years] + [CUMULATIVE], list(groups)],
                                       names=["period", "group"])
    counts = counts.reindex(index, fill_value=0)
    out = pd.DataFrame({"value": counts.astype("float64"), "n_firms": counts}, index=index).reset_index()
    if not with_size:
        out["note"] = np.where(out["period"] == CUMULATIVE,
                               "size classes not available: needs firms.employees", "")
    return finish(out)


# ---------------------------------------------------------------------------- I12, I13, I14


@indicator(
    id="I12", name="Export turnover", unit="EUR", levels=("firm", "region", "lab"),
    numerator="sum of firms' export turnover (firm-years with known exports)", denominator="-",
    needs=("firms",), eu_code="RCR19", cumulative="sum", partition="firm_groups", magnitude=True,
    notes="No EU common indicator measures exports; RCR19 (enterprises with higher turnover) "
          "is the nearest.")
def export_turnover(inp: Inputs) -> pd.DataFrame:
    p = inp.panel.assign(known=inp.panel["exports_eur"].notna())
    return group_cells(p, years=inp.years, num="exports_eur", magnitude=True)


@indicator(
    id="I13", name="Export intensity", unit="%", levels=("firm", "region", "lab"),
    numerator="sum of export turnover", denominator="sum of total turnover (firm-years with "
    "both known and turnover > 0)", needs=("firms",), eu_code="RCR19", cumulative="pooled",
    partition="firm_groups", magnitude=True,
    notes="Turnover-weighted mean of firms' export intensity (a ratio of sums).")
def export_intensity(inp: Inputs) -> pd.DataFrame:
    p = inp.panel
    known = p["exports_eur"].notna() & p["turnover_eur"].notna() & (p["turnover_eur"] > 0)
    return group_cells(p.assign(known=known), years=inp.years, num="exports_eur",
                       den="turnover_eur", percent=True, magnitude=True)


@indicator(
    id="I14", name="Share of exporting firms", unit="%", levels=("region", "lab"),
    numerator="firms with export turnover > 0", denominator="firms with known export turnover",
    needs=("firms",), eu_code="RCR19", cumulative="pooled", partition="firm_groups",
    notes="Export propensity (Eurobarometer 421 / OECD TEC). Cumulative: share of firm-years.")
def exporter_share(inp: Inputs) -> pd.DataFrame:
    p = inp.panel
    known = p["exports_eur"].notna()
    rows = p.assign(known=known, exporter=(p["exports_eur"] > 0).astype("float64"), one=1.0)
    return group_cells(rows, years=inp.years, num="exporter", den="one", percent=True)


# ------------------------------------------------------------------------------- I15, I15P


def _new_exporter_rows(inp: Inputs) -> tuple[pd.DataFrame, list[int]]:
    """Firm-years whose status is known or undetermined; ``known`` = a non-exporter (exports
    known and 0) in each of the look-back years; ``new`` = such a firm exporting now."""
    p = inp.panel
    k = inp.options.new_exporter_lookback
    lags = np.column_stack([_lag(p, "exports_eur", j) for j in range(1, k + 1)])
    now = p["exports_eur"].to_numpy(dtype="float64")
    determined = ~np.isnan(now) & ~np.isnan(lags).any(axis=1)
    eligible = determined & (lags == 0).all(axis=1)
    rows = p.assign(known=eligible, new=(eligible & (now > 0)).astype("float64"), one=1.0)
    rows = rows[eligible | ~determined]  # firms exporting in a look-back year are not in the population
    years = [y for y in inp.years if y - k >= inp.first_year]
    return rows, years


@indicator(
    id="I15", name="New exporters", unit="firms", levels=("region", "lab"),
    numerator="firms exporting in year t that had known zero exports in each of the previous "
              "k years (k = 2 by default)", denominator="-", needs=("firms",), eu_code="RCR19",
    cumulative="sum", partition="firm_groups",
    notes="Extensive margin. n_firms is the population at risk (non-exporters in the look-back "
          "years); years without a full look-back window are not reported.")
def new_exporters(inp: Inputs) -> pd.DataFrame:
    rows, years = _new_exporter_rows(inp)
    if not years:
        return no_years(LOOKBACK_NOTE)
    return group_cells(rows, years=years, num="new")


@indicator(
    id="I15P", name="New exporters, share of non-exporters", unit="%", levels=("region", "lab"),
    numerator="new exporters (I15)", denominator="firms with known zero exports in each of the "
    "previous k years and known exports in year t", needs=("firms",), eu_code="RCR19",
    cumulative="pooled", partition="firm_groups")
def new_exporter_share(inp: Inputs) -> pd.DataFrame:
    rows, years = _new_exporter_rows(inp)
    if not years:
        return no_years(LOOKBACK_NOTE)
    return group_cells(rows, years=years, num="new", den="one", percent=True)


# ------------------------------------------------------------------------------------ I16


def new_markets(inp: Inputs) -> tuple[pd.DataFrame, dict[str, int]]:
    """New destination countries per firm-year from orders (all orders, via a consortium or
    not), and each region's first year with a full look-back window."""
    o = inp.orders
    o = o[o["firm_id"].notna() & o["destination_country"].notna()]
    k = inp.options.new_market_lookback
    served = o[["firm_id", "destination_country", "year"]].drop_duplicates()
    served = served.sort_values(["firm_id", "destination_country", "year"], ignore_index=True)
    prev = served.groupby(["firm_id", "destination_country"])["year"].shift(1)
    served["new"] = (prev.isna() | (served["year"] - prev > k)).astype("float64")
    per_firm = served.groupby(["firm_id", "year"], as_index=False)["new"].sum()
    # a region's first year with a full look-back: k years after its first year of data and
    # after its first order
    first_order = o.groupby("region")["year"].min()
    start = {r: max(w[0], int(first_order.get(r, w[0]))) + k for r, w in inp.windows.items()}
    return per_firm, start


@indicator(
    id="I16", name="New export markets entered", unit="countries", levels=("firm", "cluster", "region", "lab"),
    numerator="per firm, destination countries of its orders in year t not served by its "
              "orders in the previous 3 years; summed over the firms (cluster: over its members "
              "active in t)", denominator="-", needs=("orders.firm_id", "firms"), eu_code="RCR19",
    cumulative="sum", partition="firm_groups",
    notes="Destinations come from the orders table, so only markets reached through recorded "
          "orders count. Years without a full look-back window after the first order year are "
          "not reported.")
def new_export_markets(inp: Inputs) -> pd.DataFrame:
    per_firm, start = new_markets(inp)
    years = [y for y in inp.years if y >= min(start.values(), default=inp.last_year + 1)]
    if not years:
        return no_years(LOOKBACK_NOTE)
    p = inp.panel.merge(per_firm, on=["firm_id", "year"], how="left")
    p = p[p["year"].to_numpy() >= map_region(p["region"], start)]
    p["new"] = p["new"].fillna(0.0)
    region = group_cells(p.assign(known=True), years=years, num="new")
    if inp.scope != "region":
        return region
    my = inp.member_years[inp.member_years["year"].isin(years)]
    my = my.merge(per_firm, on=["firm_id", "year"], how="left").fillna({"new": 0.0})
    long = pd.concat([my.assign(period=my["year"].astype(str)), my.assign(period=CUMULATIVE)])
    per_cluster = pd.DataFrame({"value": long.groupby(["cluster_id", "period"])["new"].sum(),
                                "n_firms": distinct(long, ["cluster_id", "period"])}).reset_index()
    return pd.concat([region, finish(per_cluster.assign(group="all"))], ignore_index=True)


# ------------------------------------------------------------------------------------ I21


@indicator(
    id="I21", name="Jobs in supported SMEs", unit="employees (change)", levels=("region", "lab"),
    numerator="sum over firms of the change in headcount from t-1 to t (firms observed with a "
              "known headcount in both years)", denominator="-", needs=("firms.employees",),
    eu_code="RCR01", cumulative="sum", partition="firm_groups", magnitude=True,
    notes="Headcount, not FTE (the schema records headcount). Gross change in members, shown "
          "next to never-members: not an impact estimate.")
def jobs(inp: Inputs) -> pd.DataFrame:
    p = inp.panel
    prev = _lag(p, "employees", 1)
    now = p["employees"].to_numpy(dtype="float64")
    rows = p.assign(known=~np.isnan(prev) & ~np.isnan(now), change=np.nan_to_num(now - prev))
    years = [y for y in inp.years if y > inp.first_year]
    if not years:
        return no_years("needs two consecutive years of data")
    return group_cells(rows, years=years, num="change", magnitude=True)

