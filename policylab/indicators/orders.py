"""Export-order indicators: count, value and concentration of new orders won via consortia,
the share won jointly, and the extra-EU share (I09, I10, I10C, I11, I17).

An order's year is the year of its signature date. The firms an order rests on are its
named firm, or, for an order a consortium won without naming a firm, the consortium's
members active that year. For the dominance rule such a joint order is the consortium's
(one contributor), and an order with neither firm nor consortium counts as one unknown firm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._cells import cluster_region_cells, finish
from .inputs import Inputs
from .registry import indicator

#: EU member states (ISO 3166-1 alpha-2) with the dates membership began/ended where that
#: falls inside the years policylab is used for.
EU27 = frozenset({"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
                  "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"})
JOINED = {"HR": pd.Timestamp("2013-07-01")}
LEFT = {"GB": pd.Timestamp("2020-02-01")}


def in_eu(country: pd.Series, date: pd.Series) -> np.ndarray:
    """Whether each destination was an EU member state on the order date ('EL' = Greece)."""
    c = country.astype("string").str.upper().replace({"EL": "GR", "UK": "GB"})
    d = pd.to_datetime(date)
    out = c.isin(EU27).fillna(False).to_numpy(dtype=bool).copy()
    for code, since in JOINED.items():
        out &= ~((c == code).fillna(False).to_numpy(dtype=bool) & (d < since).to_numpy(dtype=bool))
    for code, until in LEFT.items():
        out |= (c == code).fillna(False).to_numpy(dtype=bool) & (d < until).to_numpy(dtype=bool)
    return out


def _firms_of(inp: Inputs, o: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """``cluster_id`` (= ``key``), ``year``, ``firm_id`` of the firms each order rests on."""
    named = o["firm_id"].notna().to_numpy(dtype=bool)
    a = pd.DataFrame({"cluster_id": key[named].to_numpy(), "year": o["year"].to_numpy()[named],
                      "firm_id": o["firm_id"].to_numpy()[named]})
    joint = o[~named & o["cluster_id"].notna()]
    b = joint[["cluster_id", "year"]].assign(_k=key[joint.index].to_numpy())
    b = b.merge(inp.member_years[["cluster_id", "year", "firm_id"]], on=["cluster_id", "year"])
    b = b.drop(columns="cluster_id").rename(columns={"_k": "cluster_id"})
    unknown = o[~named & o["cluster_id"].isna()]
    c = pd.DataFrame({"cluster_id": key[unknown.index].to_numpy(), "year": unknown["year"].to_numpy(),
                      "firm_id": "unknown"})
    return pd.concat([a, b[["cluster_id", "year", "firm_id"]], c], ignore_index=True)


def _contributor(o: pd.DataFrame) -> pd.Series:
    who = o["firm_id"].astype("string")
    who = who.fillna("cluster:" + o["cluster_id"].astype("string"))
    return who.fillna("unknown")


def _via(inp: Inputs) -> pd.DataFrame:
    o = inp.orders
    return o[o["cluster_id"].notna()].reset_index(drop=True)


def _active_cluster_years(inp: Inputs) -> pd.DataFrame:
    """Cluster-years in which a cluster was active (zero-order rows), if clusters are known."""
    if "clusters" not in inp.tables or inp.scope != "region":
        return pd.DataFrame({"cluster_id": pd.Series([], dtype=object), "year": pd.Series([], dtype="int64")})
    return inp.cluster_years


def _orders_cells(inp: Inputs, column: str) -> pd.DataFrame:
    o = _via(inp).assign(n=1.0)
    zero = _active_cluster_years(inp).assign(n=0.0, value_eur=0.0)
    sums = pd.concat([o[["cluster_id", "year", "n", "value_eur"]], zero], ignore_index=True)
    sums = sums.astype({"year": "int64"})[["cluster_id", "year", column]]
    contrib = o[["cluster_id", "year", "value_eur"]].assign(contributor=_contributor(o))
    return cluster_region_cells(sums, _firms_of(inp, o, o["cluster_id"]), years=inp.years,
                                value=lambda s: s[column].astype("float64"), cumulative=True,
                                per_cluster=inp.scope == "region",
                                contrib=contrib if column == "value_eur" else None,
                                contrib_cols=("value_eur",))


@indicator(
    id="I09", name="New export orders via consortia", unit="orders", levels=("cluster", "region", "lab"),
    numerator="export orders signed in the period and won via a consortium (cluster_id given)",
    denominator="-", needs=("orders", "membership"), eu_code="RCR19", cumulative="sum",
    notes="The consortium manager's first success criterion (number of new export orders).")
def orders_count(inp: Inputs) -> pd.DataFrame:
    return _orders_cells(inp, "n")


@indicator(
    id="I10", name="Value of new export orders via consortia", unit="EUR",
    levels=("cluster", "region", "lab"),
    numerator="sum of the values of those orders (EUR)", denominator="-",
    needs=("orders", "membership"), eu_code="RCR19", cumulative="sum", magnitude=True)
def orders_value(inp: Inputs) -> pd.DataFrame:
    return _orders_cells(inp, "value_eur")


# ------------------------------------------------------------------------------------ I10C


@indicator(
    id="I10C", name="Concentration of export orders via consortia (effective number of orders)",
    unit="orders", levels=("cluster", "region", "lab"),
    numerator="(sum of order values)^2", denominator="sum of squared order values",
    needs=("orders", "membership"), eu_code="-", cumulative="pooled", magnitude=True,
    notes="1 / Herfindahl index of the values of orders won via consortia: the number of "
          "equal orders that would be as concentrated. Much smaller than the number of orders "
          "(I09) flags dependence on a few contracts. A concentration measure from sums, so "
          "it reveals no single order (a top-k share would, with I10 published: it rests on "
          "k firms' contracts).")
def orders_concentration(inp: Inputs) -> pd.DataFrame:
    o = _via(inp)
    o = o[o["value_eur"].notna()].reset_index(drop=True)
    v = o["value_eur"].to_numpy(dtype="float64")
    sums = pd.DataFrame({"cluster_id": o["cluster_id"].to_numpy(), "year": o["year"].astype("int64").to_numpy(),
                         "s1": v, "s2": v * v})
    contrib = sums[["cluster_id", "year", "s1"]].assign(contributor=_contributor(o).to_numpy())
    out = finish(cluster_region_cells(
        sums, _firms_of(inp, o, o["cluster_id"]), years=inp.years, cumulative=True,
        value=lambda s: (s["s1"] ** 2 / s["s2"]).where(s["s2"] > 0),
        per_cluster=inp.scope == "region", contrib=contrib, contrib_cols=("s1",)))
    none = out["value"].isna() & out["flag"].eq("")
    out.loc[none, "flag"] = "not_available"
    out.loc[none, "note"] = "no order with a positive value via consortia in the period"
    return out


# ------------------------------------------------------------------------------------ I11


def _joint_share_rows(inp: Inputs, key: str) -> pd.DataFrame:
    """Orders counted for each cluster (or, ``key="region"``, once for the region): those won
    via it, and those of its active members won otherwise."""
    o = inp.orders.reset_index(drop=True).assign(_row=lambda d: np.arange(len(d)))
    my = inp.member_years[["firm_id", "cluster_id", "year"]].rename(columns={"cluster_id": "_member_of"})
    by_member = o[o["firm_id"].notna()].merge(my, on=["firm_id", "year"])
    if key == "region":
        members = by_member.drop_duplicates("_row").assign(_c="")
        via = o[o["cluster_id"].notna()].assign(_c="")
    else:
        members = by_member.assign(_c=by_member["_member_of"])
        via = o[o["cluster_id"].notna()].assign(_c=o["cluster_id"])
    rows = pd.concat([via, members.drop(columns="_member_of")], ignore_index=True)
    rows = rows.drop_duplicates(["_c", "_row"], ignore_index=True)
    won = rows["cluster_id"].notna() if key == "region" else rows["cluster_id"] == rows["_c"]
    rows["num"] = np.where(won.fillna(False).to_numpy(dtype=bool), rows["value_eur"], 0.0)
    rows["den"] = rows["value_eur"]
    return rows


def _joint_share(inp: Inputs, key: str) -> pd.DataFrame:
    rows = _joint_share_rows(inp, key)
    c = rows["_c"]
    sums = pd.DataFrame({"cluster_id": c, "year": rows["year"], "num": rows["num"], "den": rows["den"]})
    contrib = sums.assign(contributor=_contributor(rows))
    out = cluster_region_cells(sums, _firms_of(inp, rows, c), years=inp.years, cumulative=True,
                               value=lambda s: (100.0 * s["num"] / s["den"]).where(s["den"] > 0),
                               per_cluster=key != "region", contrib=contrib, contrib_cols=("num", "den"))
    if key == "region":
        return out[out["cluster_id"] == ""]
    return out[out["cluster_id"] != ""]


@indicator(
    id="I11", name="Share of orders won jointly", unit="%", levels=("cluster", "region", "lab"),
    numerator="value of export orders won via the consortium",
    denominator="value of all export orders of its members active that year (via the "
                "consortium or not)", needs=("orders.firm_id", "membership"), eu_code="RCR19",
    cumulative="pooled", magnitude=True,
    notes="Region and lab: orders won via any consortium over all orders of active members "
          "(each order once).")
def joint_order_share(inp: Inputs) -> pd.DataFrame:
    parts = [_joint_share(inp, "region")]
    if inp.scope == "region":
        parts.append(_joint_share(inp, "cluster"))
    return finish(pd.concat(parts, ignore_index=True))


# ------------------------------------------------------------------------------------ I17


def _extra_eu(inp: Inputs, o: pd.DataFrame, key: pd.Series, group: str, per_cluster: bool) -> pd.DataFrame:
    extra = ~in_eu(o["destination_country"], o["order_date"])
    sums = pd.DataFrame({"cluster_id": key.to_numpy(), "year": o["year"].to_numpy(),
                         "num": np.where(extra, o["value_eur"], 0.0), "den": o["value_eur"].to_numpy()})
    contrib = sums.assign(contributor=_contributor(o).to_numpy())
    out = cluster_region_cells(sums, _firms_of(inp, o, key), years=inp.years, cumulative=True,
                               value=lambda s: (100.0 * s["num"] / s["den"]).where(s["den"] > 0),
                               per_cluster=per_cluster, contrib=contrib, contrib_cols=("num", "den"),
                               group=group)
    return out if per_cluster else out[out["cluster_id"] == ""]


@indicator(
    id="I17", name="Extra-EU share of export orders", unit="%", levels=("cluster", "region", "lab"),
    numerator="value of export orders to destinations outside the EU on the order date",
    denominator="value of all export orders", needs=("orders",), eu_code="RCR19",
    cumulative="pooled", magnitude=True,
    notes="Groups: 'all' (every recorded order) and 'via_clusters' (orders won via a "
          "consortium; also per consortium). The United Kingdom counts as EU until 31 January "
          "2020; for a UK region the split keeps the EU's perspective.")
def extra_eu_share(inp: Inputs) -> pd.DataFrame:
    o = inp.orders.reset_index(drop=True)
    o = o[o["destination_country"].notna()].reset_index(drop=True)
    via = o[o["cluster_id"].notna()].reset_index(drop=True)
    parts = [
        _extra_eu(inp, o, pd.Series("", index=o.index), "all", per_cluster=False),
        _extra_eu(inp, via, via["cluster_id"], "via_clusters", per_cluster=inp.scope == "region"),
    ]
    return finish(pd.concat(parts, ignore_index=True))
