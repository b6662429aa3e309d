"""Cluster indicators: formation, size, survival past the seed phase (with a Kaplan-Meier
curve from statsmodels' ``SurvfuncRight``), self-sustainability, public dependence,
leverage, member retention and churn (I02-I08, I20).

A cluster is active in ``year`` while ``founded_year <= year < closed_year``; the closed year
is the first year the cluster no longer operated. Cluster finance figures are the cluster
organisation's own accounts; each cell rests on the member firms active in the clusters
behind it (``n_firms``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight

from ._cells import cells, cluster_region_cells, distinct
from .inputs import CUMULATIVE, Inputs
from .registry import indicator


def _ever_members(inp: Inputs, cluster_ids, up_to: int | None = None) -> int:
    m = inp.membership
    keep = m["cluster_id"].isin(list(cluster_ids))
    if up_to is not None:
        keep &= m["join_year"] <= up_to
    return int(m.loc[keep, "firm_id"].nunique())


def _horizon_group(k: int) -> str:
    return f"{k}_year" if k == 1 else f"{k}_years"


# ------------------------------------------------------------------------------ I02, I02A


@indicator(
    id="I02", name="Consortia formed", unit="consortia", levels=("region", "lab"),
    numerator="clusters/consortia with founded_year in the period", denominator="-",
    needs=("clusters", "membership"), eu_code="RCO05", cumulative="sum",
    notes="Programme-specific; RCO05 (new enterprises supported) applies where the consortium "
          "is a newly registered legal entity.")
def consortia_formed(inp: Inputs) -> pd.DataFrame:
    c = inp.clusters
    rows = []
    founded = c["founded_year"].to_numpy()
    for y in inp.years:
        ids = c.loc[(founded == y) & inp.in_window(c, y), "cluster_id"]
        rows.append({"period": str(y), "value": float(len(ids)), "n_firms": _ever_members(inp, ids)})
    ids = c.loc[inp.in_window(c, founded), "cluster_id"]
    rows.append({"period": CUMULATIVE, "value": float(len(ids)), "n_firms": _ever_members(inp, ids)})
    return cells(rows)


@indicator(
    id="I02A", name="Consortia active", unit="consortia", levels=("region", "lab"),
    numerator="clusters active in the year (founded_year <= year < closed_year)", denominator="-",
    needs=("clusters", "membership"), eu_code="RCO05")
def consortia_active(inp: Inputs) -> pd.DataFrame:
    rows = []
    for y in inp.years:
        ids = inp.active_clusters(y)["cluster_id"]
        act = inp.active_memberships(y)
        rows.append({"period": str(y), "value": float(len(ids)),
                     "n_firms": int(act.loc[act["cluster_id"].isin(ids), "firm_id"].nunique())})
    return cells(rows)


# ------------------------------------------------------------------------------------ I03


@indicator(
    id="I03", name="Cluster size", unit="firms per cluster", levels=("region", "lab"),
    numerator="active members at year end (memberships active in the year) per active cluster",
    denominator="active clusters", needs=("clusters", "membership"), eu_code="RCO01",
    notes="Groups 'mean' and 'median' over the active clusters (a cluster without active "
          "members counts as size 0). The Torun fund required at least 5 enterprises.")
def cluster_size(inp: Inputs) -> pd.DataFrame:
    rows = []
    for y in inp.years:
        ids = inp.active_clusters(y)["cluster_id"]
        act = inp.active_memberships(y)
        act = act[act["cluster_id"].isin(ids)]
        sizes = distinct(act, ["cluster_id"]).reindex(ids, fill_value=0)
        n = int(act["firm_id"].nunique())
        mean = float(sizes.mean()) if len(sizes) else np.nan
        median = float(sizes.median()) if len(sizes) else np.nan
        rows.append({"period": str(y), "group": "mean", "value": mean, "n_firms": n})
        rows.append({"period": str(y), "group": "median", "value": median, "n_firms": n})
    return cells(rows)


# ------------------------------------------------------------------------------- I04, I04K


@indicator(
    id="I04", name="Cluster survival past the seed phase", unit="%", levels=("region", "lab"),
    numerator="clusters still active k years after their seed phase ended (active in year "
              "seed_end_year + k)",
    denominator="clusters whose seed phase ended at least k years before the year",
    needs=("clusters.seed_end_year", "membership"), eu_code="RCR84",
    notes="Groups k = 1, 2, 3 years; each year's value is as at the end of that year. The "
          "Kaplan-Meier estimate using every cluster's follow-up is I04K.")
def cluster_survival(inp: Inputs) -> pd.DataFrame:
    c = inp.clusters[inp.clusters["seed_end_year"].notna()]
    seed_end = c["seed_end_year"].to_numpy()
    closed = c["closed_year"].to_numpy()
    rows = []
    for k in inp.options.survival_horizons:
        alive = np.isnan(closed) | (closed > seed_end + k)
        for y in inp.years:
            due = (seed_end + k <= y) & inp.in_window(c, y)
            n_due = int(due.sum())
            value = 100.0 * float(alive[due].sum()) / n_due if n_due else np.nan
            rows.append({"period": str(y), "group": _horizon_group(k), "value": value,
                         "n_firms": _ever_members(inp, c.loc[due, "cluster_id"], up_to=y)})
    return cells(rows)


def km_sample(inp: Inputs) -> pd.DataFrame:
    """Clusters past their seed phase by the last year: ``time`` = years from the seed end
    to closing (event) or to the last year observed (censored), ``event`` 1 = closed.

    A cluster closed in ``seed_end_year + t`` was active ``t - 1`` but not ``t`` years after
    the seed ended, so S(t) = P(time > t) is the share still active t years after.
    """
    c = inp.clusters[inp.clusters["seed_end_year"].notna()]
    last = inp.window(c)[1]  # each cluster is followed up to its region's last year
    c, last = c[c["seed_end_year"].to_numpy() < last], last[c["seed_end_year"].to_numpy() < last]
    seed_end = c["seed_end_year"].to_numpy()
    closed = c["closed_year"].to_numpy()
    event = ~np.isnan(closed) & (closed <= last)
    time = np.where(event, closed - seed_end, last - seed_end)
    return pd.DataFrame({"cluster_id": c["cluster_id"].to_numpy(), "time": np.clip(time, 0, None),
                         "event": event.astype("int64")})


def km_survival(time: np.ndarray, event: np.ndarray, at: list[int],
                entry: np.ndarray | None = None) -> list[float]:
    """Kaplan-Meier S(t) at each ``t`` in ``at`` (statsmodels ``SurvfuncRight``); NaN past
    the longest follow-up.

    ``entry`` (optional) is each subject's delayed entry (left truncation): it is at risk
    only at times after it; S(t) is NaN where no subject entered before ``t``.
    """
    if len(time) == 0:
        return [np.nan] * len(at)
    if entry is None:
        sf = SurvfuncRight(np.asarray(time, dtype="float64"), np.asarray(event, dtype="float64"))
    else:
        sf = SurvfuncRight(np.asarray(time, dtype="float64"), np.asarray(event, dtype="float64"),
                           entry=np.asarray(entry, dtype="float64"))
    out = []
    for t in at:
        if t > np.max(time) or (entry is not None and not (np.asarray(entry) < t).any()):
            out.append(np.nan)
            continue
        before = sf.surv_times <= t
        out.append(float(sf.surv_prob[before][-1]) if before.any() else 1.0)
    return out


@indicator(
    id="I04K", name="Cluster survival past the seed phase (Kaplan-Meier)", unit="%",
    levels=("region", "lab"),
    numerator="Kaplan-Meier product over years t <= k of (1 - clusters closing t years after "
              "the seed end / clusters at risk)",
    denominator="clusters whose seed phase ended before the last year (still-open clusters "
                "censored at the last year)",
    needs=("clusters.seed_end_year", "membership"), eu_code="RCR84",
    notes="statsmodels SurvfuncRight; one group per year k after the seed end, up to the "
          "longest follow-up; period 'cumulative' = the whole observation window.")
def cluster_survival_km(inp: Inputs) -> pd.DataFrame:
    s = km_sample(inp)
    if s.empty:
        return cells([{"period": CUMULATIVE, "group": _horizon_group(1), "value": np.nan, "n_firms": 0,
                       "note": "no cluster has finished its seed phase"}])
    ks = list(range(1, int(s["time"].max()) + 1)) or [1]
    surv = km_survival(s["time"].to_numpy(), s["event"].to_numpy(), ks)
    n = _ever_members(inp, s["cluster_id"])
    return cells([{"period": CUMULATIVE, "group": _horizon_group(k), "value": 100.0 * v, "n_firms": n}
                  for k, v in zip(ks, surv)])


# --------------------------------------------------------------------------- I05, I06, I20


def _finance(inp: Inputs, num: str, den: str, *, scale: float, undefined: str) -> pd.DataFrame:
    f = inp.tables["cluster_finance"]
    f = f[f["cluster_id"].notna() & f["year"].notna()][["cluster_id", "year", num, den]]
    f = f.dropna().astype({"year": "int64"})
    sums = f.rename(columns={num: "num", den: "den"})
    firms = inp.member_years.merge(sums[["cluster_id", "year"]].drop_duplicates(), on=["cluster_id", "year"])

    def value(t: pd.DataFrame) -> pd.Series:
        return (scale * t["num"] / t["den"]).where(t["den"] > 0)

    out = cluster_region_cells(sums, firms, years=inp.years, value=value, cumulative=True,
                               per_cluster=inp.scope == "region")
    keyed = out.set_index(["cluster_id", "period"]).index
    dens = _finance_denominators(sums, inp.years)
    zero = dens.reindex(keyed).fillna(0).to_numpy() <= 0
    out.loc[zero & out["value"].isna() & (out["n_firms"] > 0), "note"] = undefined
    return out


def _finance_denominators(sums: pd.DataFrame, years) -> pd.Series:
    s = sums[sums["year"].isin(list(years))]
    a = s.assign(period=s["year"].astype(str))
    a = pd.concat([a, a.assign(period=CUMULATIVE)])
    region = a.groupby("period")["den"].sum()
    region.index = pd.MultiIndex.from_arrays([[""] * len(region), region.index])
    cl = a.groupby(["cluster_id", "period"])["den"].sum()
    out = pd.concat([region, cl])
    out.index.names = ["cluster_id", "period"]
    return out


@indicator(
    id="I05", name="Self-sustainability ratio", unit="%", levels=("cluster", "region", "lab"),
    numerator="member fees paid to the cluster organisation", denominator="its running costs",
    needs=("cluster_finance", "membership"), eu_code="RCR02", cumulative="pooled",
    notes="The canonical cluster_finance table has no own-revenue column, so only member fees "
          "count as paid by the members themselves; I05 + I06 falls short of 100 % by other "
          "income (or a deficit). Region and lab: ratio of sums over clusters.")
def self_sustainability(inp: Inputs) -> pd.DataFrame:
    return _finance(inp, "member_fees_eur", "running_costs_eur", scale=100.0,
                    undefined="no running costs recorded")


@indicator(
    id="I06", name="Public-dependence ratio", unit="%", levels=("cluster", "region", "lab"),
    numerator="public funding of the cluster organisation", denominator="its running costs",
    needs=("cluster_finance", "membership"), eu_code="RCR02", cumulative="pooled")
def public_dependence(inp: Inputs) -> pd.DataFrame:
    return _finance(inp, "public_funding_eur", "running_costs_eur", scale=100.0,
                    undefined="no running costs recorded")


@indicator(
    id="I20", name="Leverage of private co-financing", unit="EUR per EUR",
    levels=("cluster", "region", "lab"),
    numerator="member fees (private contributions)", denominator="public funding",
    needs=("cluster_finance", "membership"), eu_code="RCR02", cumulative="pooled",
    notes="RCR02 counts the private money matching public support; co-finance of members' own "
          "projects is not in the canonical tables. Undefined (blank) when there was no public "
          "funding.")
def leverage(inp: Inputs) -> pd.DataFrame:
    return _finance(inp, "member_fees_eur", "public_funding_eur", scale=1.0,
                    undefined="no public funding in the period: ratio undefined")


# --------------------------------------------------------------------------------- I07, I08


def _transitions(inp: Inputs) -> pd.DataFrame:
    """Per membership and year y > first year: active in y-1 (``start``), still active in y
    (``stay``), joined in y (``entry``), left in y (``exit``), active in y (``end``)."""
    m = inp.membership
    rows = []
    for y in inp.years[1:]:
        j = m["join_year"].to_numpy()
        ex = m["exit_year"].to_numpy()
        both = inp.in_window(m, y - 1) & inp.in_window(m, y)
        start = both & (j <= y - 1) & (np.isnan(ex) | (ex > y - 1))
        end = both & (j <= y) & (np.isnan(ex) | (ex > y))
        rows.append(pd.DataFrame({
            "firm_id": m["firm_id"].to_numpy(), "cluster_id": m["cluster_id"].to_numpy(), "year": y,
            "start": start.astype("float64"), "stay": (start & end).astype("float64"),
            "entry": (both & (j == y)).astype("float64"), "exit": (start & ~end).astype("float64"),
            "end": end.astype("float64"),
        }))
    if not rows:
        return pd.DataFrame(columns=["firm_id", "cluster_id", "year", "start", "stay", "entry", "exit", "end"])
    t = pd.concat(rows, ignore_index=True)
    return t[(t["start"] > 0) | (t["end"] > 0)]


@indicator(
    id="I07", name="Member retention", unit="%", levels=("cluster", "region", "lab"),
    numerator="memberships active in year t-1 and still active in year t",
    denominator="memberships active in year t-1", needs=("membership",), eu_code="RCR84",
    cumulative="pooled",
    notes="The manager's 'continued commitment'. A cluster closing in year t ends all its "
          "memberships (none retained).")
def member_retention(inp: Inputs) -> pd.DataFrame:
    t = _transitions(inp)
    t = t[t["start"] > 0]
    return cluster_region_cells(t[["cluster_id", "year", "stay", "start"]], t[["cluster_id", "year", "firm_id"]],
                                years=inp.years[1:], cumulative=True, per_cluster=inp.scope == "region",
                                value=lambda s: (100.0 * s["stay"] / s["start"]).where(s["start"] > 0))


@indicator(
    id="I08", name="Member churn", unit="%", levels=("cluster", "region", "lab"),
    numerator="entries (joined in t) + exits (members in t-1, not in t)",
    denominator="average membership ((members in t-1 + members in t) / 2)",
    needs=("clusters", "membership"), eu_code="RCR84", cumulative="pooled",
    notes="Only clusters active in both t-1 and t (founding and closing years are not churn).")
def member_churn(inp: Inputs) -> pd.DataFrame:
    t = _transitions(inp)
    c = inp.clusters
    found = dict(zip(c["cluster_id"], c["founded_year"]))
    closed = dict(zip(c["cluster_id"], c["closed_year"]))
    f = t["cluster_id"].map(found).astype("float64").to_numpy()
    cl = t["cluster_id"].map(closed).astype("float64").to_numpy()
    y = t["year"].to_numpy()
    both = (f <= y - 1) & (np.isnan(cl) | (cl > y))
    t = t[both].assign(moves=lambda d: d["entry"] + d["exit"], avg=lambda d: (d["start"] + d["end"]) / 2)
    return cluster_region_cells(t[["cluster_id", "year", "moves", "avg"]], t[["cluster_id", "year", "firm_id"]],
                                years=inp.years[1:], cumulative=True, per_cluster=inp.scope == "region",
                                value=lambda s: (100.0 * s["moves"] / s["avg"]).where(s["avg"] > 0))

