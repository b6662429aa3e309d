"""From canonical tables to the firm-year panel the estimators use.

Treatment is derived, never typed by hand: a firm's cohort is the first year it joined any
consortium (0 = never a member, the comparison pool). Leavers stay treated after they exit
(intention to treat). Standard errors cluster where treatment is assigned: members by their
first consortium, each never-member as its own cluster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OUTCOME_COLUMNS = ("exporter", "log_exports", "exports_eur", "n_export_markets")


def cohorts(membership: pd.DataFrame) -> pd.DataFrame:
    """One row per ever-member firm: ``firm_id, cohort, consortium`` (first consortium joined).

    Ties in the first join year are broken by the consortium id, so the result does not
    depend on row order.
    """
    m = membership.dropna(subset=["firm_id", "join_year"]).sort_values(["firm_id", "join_year", "cluster_id"])
    first = m.drop_duplicates("firm_id", keep="first")
    return pd.DataFrame(
        {
            "firm_id": first["firm_id"].astype("string").to_numpy(),
            "cohort": first["join_year"].astype("int64").to_numpy(),
            "consortium": first["cluster_id"].astype("string").to_numpy(),
        }
    )


def firm_panel(firms: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Firm-year panel with ``cohort``, ``consortium``, ``treated_now`` and the outcomes.

    ``treated_now`` is absorbing (1 from the first join year on, leavers included: the
    intention-to-treat view of the staggered estimators); ``member_now`` is 1 in the years a
    membership covers (join year to the year before the exit year), for estimators of
    treatments that switch off (de Chaisemartin-D'Haultfoeuille).

    Outcomes: ``exporter`` = 1[exports_eur > 0] (missing when exports are unknown),
    ``log_exports`` = log(1 + exports_eur), ``exports_eur`` and, when present,
    ``n_export_markets``. Rows are sorted by firm and year.
    """
    panel = firms[[c for c in ("firm_id", "year", "exports_eur", "turnover_eur", "n_export_markets") if c in firms]]
    panel = panel.astype({"firm_id": "string"}).copy()
    panel["year"] = panel["year"].astype("int64")
    coh = cohorts(membership)
    panel = panel.merge(coh, on="firm_id", how="left")
    panel["cohort"] = panel["cohort"].fillna(0).astype("int64")
    panel["consortium"] = panel["consortium"].fillna("firm:" + panel["firm_id"])
    exports = panel["exports_eur"].astype("float64")
    panel["exporter"] = np.where(exports.isna(), np.nan, (exports > 0).astype("float64"))
    panel["log_exports"] = np.log1p(exports)
    panel["treated_now"] = ((panel["cohort"] > 0) & (panel["year"] >= panel["cohort"])).astype("int64")
    panel["member_now"] = _member_now(panel, membership)
    return panel.sort_values(["firm_id", "year"]).reset_index(drop=True)


def _member_now(panel: pd.DataFrame, membership: pd.DataFrame) -> np.ndarray:
    """1 where a firm-year lies in one of the firm's membership spells
    (``join_year <= year < exit_year``; a blank exit year: still a member)."""
    spells = membership.reindex(columns=["firm_id", "join_year", "exit_year"]).astype(
        {"firm_id": "string"}).dropna(subset=["join_year"])
    rows = panel[["firm_id", "year"]].reset_index().merge(spells, on="firm_id", how="inner")
    exit_year = rows["exit_year"].astype("Float64").fillna(np.inf).to_numpy(dtype="float64")
    inside = (rows["year"].to_numpy() >= rows["join_year"].astype("int64").to_numpy()) & \
        (rows["year"].to_numpy() < exit_year)
    out = np.zeros(len(panel), dtype="int64")
    out[rows.loc[inside, "index"].to_numpy()] = 1
    return out


def coded_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """``panel`` with ``firm_id`` and ``consortium`` replaced by integer codes numbered in
    the ids' sorted order, so every sort and group-by over them runs as over the ids (the
    same numbers) without hashing or comparing strings again in each estimator and
    bootstrap. For estimation only: the codes identify firms and clusters, they are never
    published."""
    out = panel.copy()
    for col in ("firm_id", "consortium"):
        if col in out:
            out[col] = pd.factorize(out[col], sort=True)[0].astype("int64")
    return out
