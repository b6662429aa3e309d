"""Checks shared by the disclosure tests: every published cell is safe, and no relation
between cells (a total and its parts) reveals a suppressed one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.indicators import REGISTRY

#: Indicators whose cumulative cell is a sum or a pooled statistic of the years (all of them
#: that the tests compute).
CUMULATIVE_RELATION = {i for i, ind in REGISTRY.items() if ind.cumulative in ("sum", "pooled")}
FIRM_GROUPS = {"all", "members", "not_yet_members", "never_members"}
SIZES = {"members", "micro", "small", "medium", "large", "size_unknown"}


def _groups_of(frame: pd.DataFrame, keys: list[str]) -> list[pd.Index]:
    if frame.empty:
        return []
    gid = frame.groupby(keys, sort=False).ngroup().to_numpy()
    order = np.argsort(gid, kind="stable")
    chunks = np.split(order, np.flatnonzero(np.diff(gid[order])) + 1)
    return [frame.index[c] for c in chunks if len(c) >= 2]


def relation_groups(table: pd.DataFrame) -> list[tuple[pd.Index, int]]:
    """Sets of cells of which one is the total of the others, with the total's index
    (written independently of the implementation's own list)."""
    t = table[table.flag != "not_available"]
    out = []

    def add(frame, keys, is_total):
        for idx in _groups_of(frame, keys):
            tot = idx[is_total.loc[idx].to_numpy()]
            if len(tot) == 1:
                out.append((idx, tot[0]))

    timed = t[t.indicator_id.isin(CUMULATIVE_RELATION)]
    add(timed, ["region", "indicator_id", "level", "group", "cluster_id"], timed.period == "cumulative")
    spatial = t[t.level.isin(["region", "lab"])]
    add(spatial, ["indicator_id", "group", "period"], spatial.level == "lab")
    local = t[t.level.isin(["region", "cluster"])]
    add(local, ["region", "indicator_id", "group", "period"], local.level == "region")
    for ind in t.indicator_id.unique():
        parts, total = (SIZES, "members") if ind == "I01" else (FIRM_GROUPS, "all")
        sub = t[(t.indicator_id == ind) & t.group.isin(parts)]
        if sub.group.nunique() > 1:
            add(sub, ["region", "level", "period", "cluster_id"], sub.group == total)
    return out


def check_disclosure(table: pd.DataFrame, raw: pd.DataFrame, min_cell_firms: int, dominance_share: float):
    assert len(table) == len(raw)
    raw = raw.reset_index(drop=True)
    table = table.reset_index(drop=True)
    shown = table.flag == ""
    # every published cell rests on enough firms (or on none)
    n = table.loc[shown, "n_firms"].astype("int64")
    assert ((n == 0) | (n >= min_cell_firms)).all()
    # no published magnitude is dominated by one firm or built from too few contributors
    magnitude = raw.indicator_id.map(lambda i: REGISTRY[i].magnitude).to_numpy(dtype=bool)
    m = shown.to_numpy() & magnitude
    assert (raw.loc[m, "max_share"].fillna(0) <= dominance_share).all()
    k = raw.loc[m, "n_contrib"].fillna(0)
    assert ((k == 0) | (k >= min_cell_firms)).all()
    # suppressed cells are marked and blank
    supp = table.flag == "suppressed"
    assert table.loc[supp, "value"].isna().all() and table.loc[supp, "n_firms"].isna().all()
    # no relation holds exactly one suppressed cell, and suppressed cells together rest on
    # enough firms, so a total minus the visible cells never gives a suppressed cell
    for idx, total in relation_groups(table):
        s = supp.loc[idx]
        assert s.sum() != 1, table.loc[idx, ["region", "indicator_id", "level", "period", "group", "flag"]]
        hidden_parts = s.drop(index=total)
        if not supp.loc[total] and hidden_parts.any():  # the total gives the hidden parts' sum
            assert raw.loc[hidden_parts.index[hidden_parts.to_numpy()], "n_firms"].sum() >= min_cell_firms
