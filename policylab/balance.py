"""Balance of members and never-members before joining (a diagnostics table).

Members are compared in the **year before they joined** (one value per firm: its own
pre-joining year ``cohort - 1``). Never-members are compared in the **same calendar
years, weighted as the members' pre-joining years**: with ``w_y`` the share of members
whose pre-joining year is ``y``, the never-members' mean is ``sum_y w_y mean_y`` and their
variance the mixture's, ``sum_y w_y (var_y + mean_y^2) - mean^2``. So a region whose
members joined in 2016 and 2018 is compared with never-members in 2015 and 2017, not with
never-members at an unrelated date. Standard deviations are population (ddof 0) within a
year, as the mixture needs.

Disclosure control as the indicators': a cell resting on fewer than ``min_cell_firms`` firms
is suppressed, and so is a mean of money or headcount (``exports_eur``, ``turnover_eur``,
``employees``) to which one firm contributes more than ``dominance_share`` of the absolute
sum. A suppressed cell keeps its row with ``mean``, ``sd`` and ``n_firms`` blank and
``flag == "suppressed"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .did.panel import cohorts
from .indicators.disclosure import NOT_AVAILABLE, SUPPRESSED

__all__ = ["BALANCE_COLUMNS", "BALANCE_PERIOD", "balance_table"]

BALANCE_COLUMNS = ["region", "variable", "group", "n_firms", "mean", "sd", "flag", "period"]

#: Variables compared, in report order; True for sums of money or headcounts (dominance rule).
VARIABLES: dict[str, bool] = {"exports_eur": True, "turnover_eur": True, "exporter": False,
                              "employees": True}

BALANCE_PERIOD = ("Members: the year before joining; never-members: the same calendar years, "
                  "weighted as the members' joining years")


def _firm_years(firms: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    values = [c for c in ("exports_eur", "turnover_eur", "employees") if c in firms]
    cols = ["firm_id", "year", *values]
    df = firms[cols].astype({"firm_id": "string"}).copy()
    df["year"] = df["year"].astype("int64")
    for c in cols[2:]:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    if "exports_eur" in df:
        exports = df["exports_eur"]
        df["exporter"] = np.where(exports.isna(), np.nan, (exports > 0).astype("float64"))
    df = df.merge(cohorts(membership)[["firm_id", "cohort"]], on="firm_id", how="left")
    df["cohort"] = df["cohort"].fillna(0).astype("int64")
    # firms only need telling apart from here on: integer codes in the ids' sorted order
    # group and sum exactly as the id strings did, without hashing them again
    df["firm_id"] = pd.factorize(df["firm_id"], sort=True)[0].astype("int64")
    return df


def _mixture(values: pd.DataFrame, column: str,
             weights: pd.Series) -> tuple[float, float, pd.Series]:
    """Weighted mixture of the never-members' yearly distributions: mean, sd, and the firms'
    absolute contributions (for the dominance rule)."""
    v = values.dropna(subset=[column])
    v = v[v["year"].isin(weights.index)]
    if v.empty:
        return np.nan, np.nan, pd.Series(dtype="float64")
    by_year = v.groupby("year")[column].agg(["mean", lambda s: float(np.var(s.to_numpy()))])
    by_year.columns = ["mean", "var"]
    w = weights.reindex(by_year.index).fillna(0.0)
    w = w / w.sum()
    mean = float((w * by_year["mean"]).sum())
    var = float((w * (by_year["var"] + by_year["mean"] ** 2)).sum()) - mean ** 2
    per_row = w.reindex(v["year"]).to_numpy() / v["year"].map(v["year"].value_counts()).to_numpy()
    per_firm = v.assign(a=v[column].abs().to_numpy() * per_row)
    return mean, float(np.sqrt(max(var, 0.0))), per_firm.groupby("firm_id")["a"].sum()


def _cell(region: str, variable: str, group: str, n: int, mean: float, sd: float,
          contributions: pd.Series, magnitude: bool, *, min_cell_firms: int,
          dominance_share: float) -> dict:
    row = {"region": region, "variable": variable, "group": group, "n_firms": float(n),
           "mean": mean, "sd": sd, "flag": "", "period": BALANCE_PERIOD}
    total = float(contributions.sum()) if len(contributions) else 0.0
    dominated = magnitude and total > 0 and float(contributions.max()) / total > dominance_share
    contributors = int((contributions > 0).sum()) if magnitude else n
    if n == 0 or not np.isfinite(mean):
        row.update(n_firms=float(n), mean=np.nan, sd=np.nan, flag=NOT_AVAILABLE)
    elif n < min_cell_firms or dominated or (0 < contributors < min_cell_firms):
        row.update(n_firms=np.nan, mean=np.nan, sd=np.nan, flag=SUPPRESSED)
    return row


def balance_table(firms: pd.DataFrame, membership: pd.DataFrame, *, region: str,
                  min_cell_firms: int, dominance_share: float) -> pd.DataFrame:
    """Pre-joining means and standard deviations of members and never-members.

    One row per variable (exports and turnover in EUR, exporter as a 0/1 share, employees as
    headcount; those present in ``firms``) and group (``members``, ``never_members``); columns
    :data:`BALANCE_COLUMNS`. Members first observed after their pre-joining year and firms
    with the value missing do not count. Pure: inputs are not modified.
    """
    df = _firm_years(firms, membership)
    pre = df[(df["cohort"] > 0) & (df["year"] == df["cohort"] - 1)]
    never = df[df["cohort"] == 0]
    rows = []
    for variable, magnitude in VARIABLES.items():
        if variable not in df:
            continue
        m = pre.dropna(subset=[variable])
        weights = m["year"].value_counts(normalize=True).sort_index()
        mean1 = float(m[variable].mean()) if len(m) else np.nan
        sd1 = float(np.std(m[variable].to_numpy())) if len(m) else np.nan
        contrib1 = m.groupby("firm_id")[variable].sum().abs()
        rows.append(_cell(region, variable, "members", m["firm_id"].nunique(), mean1, sd1,
                          contrib1, magnitude, min_cell_firms=min_cell_firms,
                          dominance_share=dominance_share))
        mean0, sd0, contrib0 = _mixture(never, variable, weights)
        n0 = len(contrib0)
        rows.append(_cell(region, variable, "never_members", n0, mean0, sd0, contrib0, magnitude,
                          min_cell_firms=min_cell_firms, dominance_share=dominance_share))
    return pd.DataFrame(rows, columns=BALANCE_COLUMNS)
