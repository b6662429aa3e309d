"""Tiny hand-built labs for the indicator tests, as canonical tables (money already in EUR).

FIRM WORLD (2018-2021), region "north":

    firm  year:  2018        2019        2020        2021         (exports / turnover / employees)
    A            0/100/5     0/100/6     10/110/8    20/120/12
    B            50/200/40   60/200/45   70/210/260  80/220/270
    C            0/80/3      0/80/3      0/80/3      5/90/4
    D            ?/150/20    30/150/20   30/150/20   0/140/18     (? = unknown exports)
    E            0/60/?      0/60/?      0/60/9      -            (E leaves the panel after 2020)

    membership: A in X from 2019; B in X 2019-2020 (exit year 2021); C in Y from 2020;
                D and E never members.
    clusters:   X founded 2019, seed ends 2020; Y founded 2020, seed ends 2021.
    orders:     o1 2018 B -  100 US | o2 2019 A X 40 DE | o3 2019 B X 60 US | o4 2020 B X 50 CN
                o5 2020 A -  30 DE  | o6 2021 A X 20 FR | o7 2021 C Y 10 GB | o8 2021 D - 70 US
                o9 2019 E -  25 GB  (the UK was in the EU until 31 January 2020)

CLUSTER WORLD (2015-2023), region "south": firms F01-F12 observed every year.

    cluster founded seed_end closed   members (join-exit; exit = first year without membership)
    K1      2015    2017     2019     F01 2015-2019, F02 2015-2017
    K2      2015    2017     -        F03 2015-, F04 2016-, F05 2017-2020
    K3      2016    2018     2022     F06 2016-2022, F07 2016-2022
    K4      2018    2020     2021     F08 2018-2021
    K5      2020    2022     -        F09 2020-, F01 2020-
    K6      2021    2023     -        F10 2021-

    finance (costs / member fees / public): K1 2015 100/5/95, 2016 100/15/85;
                                            K2 2015 200/10/190, 2016 200/30/170, 2018 200/180/0
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from policylab.evaluation import RegionInfo

NA = np.nan


def _years(values):
    return pd.array([None if (v is None or (isinstance(v, float) and math.isnan(v))) else int(v)
                     for v in values], dtype="Int64")


def firm_world() -> dict[str, pd.DataFrame]:
    rows = [
        ("A", 2018, 0, 100, 5), ("A", 2019, 0, 100, 6), ("A", 2020, 10, 110, 8), ("A", 2021, 20, 120, 12),
        ("B", 2018, 50, 200, 40), ("B", 2019, 60, 200, 45), ("B", 2020, 70, 210, 260), ("B", 2021, 80, 220, 270),
        ("C", 2018, 0, 80, 3), ("C", 2019, 0, 80, 3), ("C", 2020, 0, 80, 3), ("C", 2021, 5, 90, 4),
        ("D", 2018, NA, 150, 20), ("D", 2019, 30, 150, 20), ("D", 2020, 30, 150, 20), ("D", 2021, 0, 140, 18),
        ("E", 2018, 0, 60, NA), ("E", 2019, 0, 60, NA), ("E", 2020, 0, 60, 9),
    ]
    firms = pd.DataFrame(rows, columns=["firm_id", "year", "exports_eur", "turnover_eur", "employees"])
    firms = firms.astype({"firm_id": "string", "year": "Int64", "exports_eur": "float64",
                          "turnover_eur": "float64", "employees": "float64"})
    membership = pd.DataFrame({
        "firm_id": pd.array(["A", "B", "C"], dtype="string"),
        "cluster_id": pd.array(["X", "X", "Y"], dtype="string"),
        "join_year": _years([2019, 2019, 2020]),
        "exit_year": _years([None, 2021, None]),
    })
    clusters = pd.DataFrame({
        "cluster_id": pd.array(["X", "Y"], dtype="string"),
        "founded_year": _years([2019, 2020]),
        "seed_end_year": _years([2020, 2021]),
        "closed_year": _years([None, None]),
    })
    orders = pd.DataFrame(
        [("o1", None, "B", "2018-03-01", 100, "US"), ("o2", "X", "A", "2019-05-01", 40, "DE"),
         ("o3", "X", "B", "2019-06-01", 60, "US"), ("o4", "X", "B", "2020-02-01", 50, "CN"),
         ("o5", None, "A", "2020-07-01", 30, "DE"), ("o6", "X", "A", "2021-01-10", 20, "FR"),
         ("o7", "Y", "C", "2021-03-03", 10, "GB"), ("o8", None, "D", "2021-04-04", 70, "US"),
         ("o9", None, "E", "2019-12-01", 25, "GB")],
        columns=["order_id", "cluster_id", "firm_id", "order_date", "value_eur", "destination_country"])
    orders = orders.astype({"order_id": "string", "cluster_id": "string", "firm_id": "string",
                            "value_eur": "float64", "destination_country": "string"})
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    return {"firms": firms, "membership": membership, "clusters": clusters, "orders": orders}


def cluster_world() -> dict[str, pd.DataFrame]:
    ids = [f"F{i:02d}" for i in range(1, 13)]
    firms = pd.DataFrame([(f, y, 0.0, 100.0) for f in ids for y in range(2015, 2024)],
                         columns=["firm_id", "year", "exports_eur", "turnover_eur"])
    firms = firms.astype({"firm_id": "string", "year": "Int64"})
    mem = [("F01", "K1", 2015, 2019), ("F02", "K1", 2015, 2017), ("F03", "K2", 2015, None),
           ("F04", "K2", 2016, None), ("F05", "K2", 2017, 2020), ("F06", "K3", 2016, 2022),
           ("F07", "K3", 2016, 2022), ("F08", "K4", 2018, 2021), ("F09", "K5", 2020, None),
           ("F01", "K5", 2020, None), ("F10", "K6", 2021, None)]
    membership = pd.DataFrame({
        "firm_id": pd.array([m[0] for m in mem], dtype="string"),
        "cluster_id": pd.array([m[1] for m in mem], dtype="string"),
        "join_year": _years([m[2] for m in mem]),
        "exit_year": _years([m[3] for m in mem]),
    })
    cl = [("K1", 2015, 2017, 2019), ("K2", 2015, 2017, None), ("K3", 2016, 2018, 2022),
          ("K4", 2018, 2020, 2021), ("K5", 2020, 2022, None), ("K6", 2021, 2023, None)]
    clusters = pd.DataFrame({
        "cluster_id": pd.array([c[0] for c in cl], dtype="string"),
        "founded_year": _years([c[1] for c in cl]),
        "seed_end_year": _years([c[2] for c in cl]),
        "closed_year": _years([c[3] for c in cl]),
    })
    fin = [("K1", 2015, 100, 5, 95), ("K1", 2016, 100, 15, 85), ("K2", 2015, 200, 10, 190),
           ("K2", 2016, 200, 30, 170), ("K2", 2018, 200, 180, 0)]
    finance = pd.DataFrame(fin, columns=["cluster_id", "year", "running_costs_eur", "member_fees_eur",
                                         "public_funding_eur"])
    finance = finance.astype({"cluster_id": "string", "year": "Int64", "running_costs_eur": "float64",
                              "member_fees_eur": "float64", "public_funding_eur": "float64"})
    return {"firms": firms, "membership": membership, "clusters": clusters, "cluster_finance": finance}


NORTH = RegionInfo("north", "North", "ES13", "ES", "Export consortia", "EUR")
SOUTH = RegionInfo("south", "South", "PL61", "PL", "Cluster fund", "EUR")


def cell(table: pd.DataFrame, ind: str, period, group: str = "all", *, cluster: str = "",
         region: str | None = None, level: str | None = None) -> pd.Series:
    """The one row of ``table`` for an indicator, period, group (and cluster / region / level)."""
    t = table[(table.indicator_id == ind) & (table.period == str(period)) & (table.group == group)
              & (table.cluster_id == cluster)]
    if region is not None:
        t = t[t.region == region]
    if level is not None:
        t = t[t.level == level]
    assert len(t) == 1, (ind, period, group, cluster, region, len(t))
    return t.iloc[0]


def value(table: pd.DataFrame, ind: str, period, group: str = "all", **kw) -> float:
    return float(cell(table, ind, period, group, **kw).value)
