"""Summaries of the generated tables, used by TRUTH.md, README.md and the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .spec import LAST_YEAR, SURVIVAL_HORIZON


def baseline_exporter_share(firms: pd.DataFrame, before: int = 2015) -> float:
    """Share of firm-years with exports > 0 among known values in years before ``before``."""
    x = firms.loc[(firms["year"] < before) & firms["exports_eur"].notna(), "exports_eur"]
    return float((x > 0).mean())


def cluster_survival(
    clusters: pd.DataFrame, k: int = SURVIVAL_HORIZON, last_year: int = LAST_YEAR
) -> float:
    """Share still active k years after the seed ended, among clusters whose seed ended >= k
    years before ``last_year``."""
    c = clusters[clusters["seed_end_year"].notna() & (clusters["seed_end_year"] + k <= last_year)]
    if c.empty:
        return float("nan")
    alive = c["closed_year"].isna() | (c["closed_year"] > c["seed_end_year"] + k)
    return float(alive.mean())


def effect_by_event_time(truth: pd.DataFrame, outcome: str, max_e: int = 5) -> pd.Series:
    """Realized effect by event time 0..max_e, cohorts weighted by their firms."""
    t = truth[(truth["outcome"] == outcome) & (truth["event_time"] <= max_e)]
    w = t.assign(wx=t["att"] * t["n_firms"]).groupby("event_time")[["wx", "n_firms"]].sum()
    return (w["wx"] / w["n_firms"]).reindex(range(max_e + 1))


def pre_join_growth_gap(firms: pd.DataFrame, membership: pd.DataFrame) -> float:
    """Members' mean yearly growth of log exports before joining minus never-members' (same years).

    Growth is measured on firm-years exporting in both years; for members only years before
    their first join year count; never-members contribute the same calendar years.
    """
    cohort = membership.groupby("firm_id")["join_year"].min()
    f = firms[["firm_id", "year", "exports_eur"]].sort_values(["firm_id", "year"])
    prev = f.groupby("firm_id")["exports_eur"].shift(1)
    prev_year = f.groupby("firm_id")["year"].shift(1)
    ok = (f["exports_eur"] > 0) & (prev > 0) & (prev_year == f["year"] - 1)
    g = pd.DataFrame(
        {
            "firm_id": f["firm_id"],
            "year": f["year"],
            "growth": np.log(f["exports_eur"].where(ok)) - np.log(prev.where(ok)),
        }
    )[ok]
    g["cohort"] = g["firm_id"].map(cohort)
    members = g[g["cohort"].notna() & (g["year"] < g["cohort"])]
    if members.empty:
        return float("nan")
    never = g[g["cohort"].isna() & g["year"].isin(members["year"].unique())]
    return float(members["growth"].mean() - never["growth"].mean())
