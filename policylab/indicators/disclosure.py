"""Statistical disclosure control, applied once to the whole indicator table.

Every output (``indicators.csv``, ``results.json``, the HTML dashboard, ``policylab
indicators``) is written from the table this module returns, so no other stage suppresses
anything. The rules:

1. **Minimum firms.** A cell resting on 1 to ``min_cell_firms - 1`` firms (``n_firms``;
   config ``lab.min_cell_firms``, default 5) is suppressed. A cell resting on no firm at all
   (e.g. "0 consortia formed this year", or a group that is empty) reveals nothing about a
   firm and stays visible.
2. **Contributors.** A *magnitude* cell (a sum of firms' money or headcounts, or a ratio of
   such sums: I10-I13, I17, I21) to which 1 to ``min_cell_firms - 1`` firms contribute a
   non-zero amount is suppressed, even if more firms stand behind it with zeros.
3. **Dominance.** A magnitude cell in which one firm accounts for more than
   ``dominance_share`` (config ``lab.dominance_share``, default 0.85) of the sum (absolute
   values; for a ratio, of the numerator's or the denominator's sum) is suppressed. The
   largest firm's share is carried from the computation (``max_share``), never published.
4. **Secondary suppression.** Published cells are tied by relations in which one cell is
   the total of the others: the cumulative cell and its years (indicators whose cumulative
   is a sum or a pooled statistic), the lab-wide cell and its regions, a region and its
   clusters, ``all`` and its groups (members + not-yet members + never-members), I01's
   ``members`` and its size classes. In every relation that holds a suppressed cell, at least two cells are
   suppressed and the suppressed cells together rest on at least ``min_cell_firms`` firms
   (sum of their ``n_firms``); otherwise the non-total cell resting on the fewest firms
   (ties: table order; the total only when no part is left) is suppressed too, repeated
   until every relation holds. Relations are treated as additive even for ratios, which
   errs on the side of suppressing.
5. **Marking.** A suppressed cell keeps its row: ``value``, ``n_firms``, ``n_missing`` and
   ``note`` are blanked and ``flag`` is ``suppressed``. Primary and secondary suppressions
   are not told apart (that would tell which cells are small or dominated).

Known limits: the sum of several suppressed cells can be derived from a relation; rule 4
only checks that it rests on enough firms (not its dominance), and overlapping firms across
years are counted once per year. Cells are protected within each indicator; relations
between different indicators (e.g. I12 and I13 share their numerator) are not modelled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import PARTITIONS, REGISTRY

SUPPRESSED = "suppressed"
NOT_AVAILABLE = "not_available"
INTERNAL_COLUMNS = ("n_contrib", "max_share")


def primary_suppression(table: pd.DataFrame, *, min_cell_firms: int, dominance_share: float) -> np.ndarray:
    """Rules 1-3: which cells must be suppressed on their own."""
    available = table["flag"].to_numpy(dtype=object) != NOT_AVAILABLE
    n = table["n_firms"].fillna(0).to_numpy(dtype="float64")
    magnitude = table["indicator_id"].map(lambda i: REGISTRY[i].magnitude if i in REGISTRY else False)
    magnitude = magnitude.to_numpy(dtype=bool)
    n_contrib = table["n_contrib"].fillna(0).to_numpy(dtype="float64")
    share = table["max_share"].fillna(0).to_numpy(dtype="float64")
    small = (n > 0) & (n < min_cell_firms)
    few_contributors = magnitude & (n_contrib > 0) & (n_contrib < min_cell_firms)
    dominated = magnitude & (share > dominance_share)
    return available & (small | few_contributors | dominated)


def relations(table: pd.DataFrame) -> list[tuple[np.ndarray, int]]:
    """Rule 4's relations: (positions of the cells, position of the total)."""
    t = table.reset_index(drop=True).assign(_pos=np.arange(len(table)))
    t = t[t["flag"] != NOT_AVAILABLE]
    meta = {i: REGISTRY[i] for i in t["indicator_id"].unique() if i in REGISTRY}
    out: list[tuple[np.ndarray, int]] = []

    def add(frame: pd.DataFrame, keys: list[str], is_total: pd.Series) -> None:
        if frame.empty:
            return
        gid = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
        pos = frame["_pos"].to_numpy()
        total = is_total.loc[frame.index].to_numpy(dtype=bool)
        order = np.argsort(gid, kind="stable")
        for chunk in np.split(order, np.flatnonzero(np.diff(gid[order])) + 1):
            if len(chunk) >= 2 and total[chunk].sum() == 1:
                out.append((pos[chunk], int(pos[chunk][total[chunk]][0])))

    # the cumulative cell and its years
    cum_ids = [i for i, m in meta.items() if m.cumulative in ("sum", "pooled")]
    timed = t[t["indicator_id"].isin(cum_ids)]
    add(timed, ["region", "indicator_id", "level", "group", "cluster_id"], timed["period"] == "cumulative")
    # the lab and its regions
    spatial = t[t["level"].isin(["region", "lab"])]
    add(spatial, ["indicator_id", "group", "period"], spatial["level"] == "lab")
    # a region and its clusters
    local = t[t["level"].isin(["region", "cluster"])]
    add(local, ["region", "indicator_id", "group", "period"], local["level"] == "region")
    # all and its groups
    for ind_id, m in meta.items():
        if m.partition == "none":
            continue
        part = t[(t["indicator_id"] == ind_id) & t["group"].isin(PARTITIONS[m.partition])]
        add(part, ["region", "level", "period", "cluster_id"], part["group"] == PARTITIONS[m.partition][0])
    return out


def secondary_suppression(table: pd.DataFrame, primary: np.ndarray, *, min_cell_firms: int) -> np.ndarray:
    """Rule 4: extend ``primary`` until no relation reveals a suppressed cell."""
    supp = primary.copy()
    n = table["n_firms"].fillna(0).to_numpy(dtype="float64")
    eligible = (table["flag"].to_numpy(dtype=object) != NOT_AVAILABLE) & (n > 0)
    rels = relations(table)
    changed = True
    while changed:
        changed = False
        for idx, total in rels:
            s = supp[idx]
            k = int(s.sum())
            if k == 0 or (k >= 2 and n[idx][s].sum() >= min_cell_firms):
                continue
            cand = idx[~s & eligible[idx]]
            if cand.size == 0:
                continue
            pick = cand[np.lexsort((cand, n[cand], cand == total))[0]]
            supp[pick] = True
            changed = True
    return supp


def apply_disclosure_control(raw: pd.DataFrame, *, min_cell_firms: int, dominance_share: float) -> pd.DataFrame:
    """The publishable table: rules 1-5 applied; internal columns dropped."""
    if min_cell_firms < 1:
        raise ValueError(f"min_cell_firms must be at least 1, got {min_cell_firms!r}")
    if not 0 < dominance_share <= 1:
        raise ValueError(f"dominance_share must be in (0, 1], got {dominance_share!r}")
    table = raw.reset_index(drop=True)
    primary = primary_suppression(table, min_cell_firms=min_cell_firms, dominance_share=dominance_share)
    supp = secondary_suppression(table, primary, min_cell_firms=min_cell_firms)
    out = table.drop(columns=[c for c in INTERNAL_COLUMNS if c in table]).copy()
    out["n_firms"] = out["n_firms"].astype("Int64")
    out["n_missing"] = out["n_missing"].astype("Int64")
    out.loc[supp, "value"] = np.nan
    out.loc[supp, "n_firms"] = pd.NA
    out.loc[supp, "n_missing"] = pd.NA
    out.loc[supp, "note"] = ""
    out.loc[supp, "flag"] = SUPPRESSED
    return out
