"""Summaries of the generated tables, used by TRUTH.md, README.md and the tests (also of the
laboratory's other half: the SME panel, cross-regional orders, private free text)."""

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


def pooled_effect(truth: pd.DataFrame, outcome: str) -> float:
    """Realized effect over every treated cohort-year, cohorts weighted by their firms (the
    mean over treated firm-years with known exports)."""
    t = truth[truth["outcome"] == outcome]
    return float((t["att"] * t["n_firms"]).sum() / t["n_firms"].sum()) if len(t) else float("nan")


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


# --------------------------------------------------------------------------------------------
# The laboratory's other half: SME panel, cross-regional orders
# --------------------------------------------------------------------------------------------


def response_rate(survey: pd.DataFrame) -> float:
    """Share of the invited firm-waves that answered."""
    return float((survey["responded"] == "yes").mean())


def member_answers(survey: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Members' answers (responded, a cluster and a satisfaction), with ``exit_year`` of the
    membership they speak about (NaN = still a member at the end of the data)."""
    s = survey[(survey["responded"] == "yes") & survey["cluster_id"].notna()
               & survey["satisfaction"].notna()]  # fmt: skip
    m = membership[["firm_id", "cluster_id", "exit_year"]]
    out = s.merge(m, on=["firm_id", "cluster_id"], how="left", validate="many_to_one")
    out["exit_year"] = out["exit_year"].astype("Float64").astype("float64")
    out["satisfaction"] = out["satisfaction"].astype("int64")
    return out


def retention_split(
    survey: pd.DataFrame, membership: pd.DataFrame, horizon: int = 1, last_year: int = LAST_YEAR
) -> pd.DataFrame:
    """Members answering 4-5 vs 1-3: how many answers (waves up to ``last_year - horizon``, so
    the follow-up is in the data) and how many of them left their consortium within
    ``horizon`` years of the wave (exit year in wave + 1 .. wave + horizon).

    Rows ``high`` (4-5) and ``low`` (1-3); columns ``answers``, ``left``, ``share``.
    """
    a = member_answers(survey, membership)
    a = a[a["wave"] <= last_year - horizon]
    left = (a["exit_year"] > a["wave"]) & (a["exit_year"] <= a["wave"] + horizon)
    group = np.where(a["satisfaction"] >= 4, "high", "low")
    g = pd.DataFrame({"group": group, "left": left.to_numpy()}).groupby("group")["left"]
    out = pd.DataFrame({"answers": g.size(), "left": g.sum()}).reindex(["high", "low"]).fillna(0)
    out = out.astype("int64")
    out["share"] = out["left"] / out["answers"].where(out["answers"] > 0)
    return out


def stay_by_satisfaction(survey: pd.DataFrame) -> pd.Series:
    """Share of members' answers intending to stay ('yes'), by satisfaction 4-5 / 1-3."""
    s = survey[(survey["responded"] == "yes") & survey["satisfaction"].notna()]
    high = s["satisfaction"] >= 4
    yes = s["intends_to_stay"] == "yes"
    return pd.Series({"high": float(yes[high].mean()), "low": float(yes[~high].mean())})


def barrier_means(survey: pd.DataFrame) -> pd.Series:
    """Mean rating of each barrier over the answers given (blanks left out), in schema order."""
    cols = [c for c in survey.columns if c.startswith("barrier_")]
    means = survey[cols].astype("Float64").mean()
    return pd.Series({c.removeprefix("barrier_"): float(means[c]) for c in cols})


def top_barrier(survey: pd.DataFrame) -> str:
    """The barrier with the highest mean rating."""
    m = barrier_means(survey)
    return str(m.idxmax())


def cross_regional_orders(orders: pd.DataFrame) -> pd.Series:
    """Cross-regional deals by partner region (NUTS-2), most first."""
    p = orders["partner_region"].dropna()
    return p.value_counts().sort_index().sort_values(ascending=False, kind="stable")


def private_texts(survey: pd.DataFrame, practices: pd.DataFrame) -> list[str]:
    """The free texts of a region (survey comments, practice notes): read, never stored nor
    published, so none may appear in any output."""
    texts = [*survey["comment"].dropna(), *practices["notes"].dropna()]
    return [str(t) for t in texts]


def retention_by_first_rating(
    survey: pd.DataFrame, membership: pd.DataFrame, last_year: int = LAST_YEAR
) -> pd.DataFrame:
    """Memberships by their FIRST satisfaction answer (4-5 ``high`` or 1-3 ``low``): how many,
    how many ended within the data, the member-years at risk from that answer on (to the exit
    year, or to ``last_year``) and the exit rate per member-year (the hazard). Memberships first
    rated in ``last_year`` have no follow-up and are left out."""
    a = member_answers(survey, membership).sort_values(["firm_id", "cluster_id", "wave"])
    first = a.drop_duplicates(["firm_id", "cluster_id"])
    ended = first["exit_year"].notna() & (first["exit_year"] <= last_year)
    years = np.where(ended, first["exit_year"], last_year) - first["wave"]
    f = pd.DataFrame({"group": np.where(first["satisfaction"] >= 4, "high", "low"),
                      "left": ended.to_numpy(), "years": years})[years > 0]  # fmt: skip
    g = f.groupby("group")
    out = pd.DataFrame(
        {"memberships": g.size(), "left": g["left"].sum(), "years": g["years"].sum()}
    )
    out = out.reindex(["high", "low"]).fillna(0).astype("int64")
    out["hazard"] = out["left"] / out["years"].where(out["years"] > 0)
    return out
