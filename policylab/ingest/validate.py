"""Rules on canonical tables that a single cell cannot show: keys, panel logic, windows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import Problem
from ..schema import Table

MAX_LISTED = 20


def _rows(frame: pd.DataFrame, mask: np.ndarray, label: str, message: str, column: str | None,
          value_col: str | None = None, severity: str = "error") -> list[Problem]:
    idx = np.flatnonzero(mask)
    out = []
    for i in idx[:MAX_LISTED]:
        value = None if value_col is None else frame[value_col].iloc[i]
        out.append(Problem(label, message, row=int(frame["_row"].iloc[i]), column=column,
                           value=None if value is None or value is pd.NA else str(value), severity=severity))
    if len(idx) > MAX_LISTED:
        out.append(Problem(label, f"{len(idx) - MAX_LISTED} more row(s) with the same problem", column=column,
                           severity=severity))
    return out


def check_table(frame: pd.DataFrame, table: Table, label: str, source_cols: dict[str, str],
                first_year: int | None, last_year: int | None) -> list[Problem]:
    """Key uniqueness, year window, and table-specific rules for one canonical table."""
    problems: list[Problem] = []
    key = [k for k in table.key if k in frame]
    if key and len(frame):
        dup = frame.duplicated(subset=key, keep="first").to_numpy()
        if dup.any():
            cols = "+".join(source_cols[k] for k in key)
            problems += _rows(frame, dup, label, f"duplicate of an earlier row with the same {cols}; "
                              f"expected one row per {table.grain}", source_cols[key[0]], key[0])
    for c in ("year", "join_year", "founded_year"):
        if c in frame and (first_year is not None or last_year is not None):
            y = frame[c]
            lo = first_year if first_year is not None else -(10**9)
            hi = last_year if last_year is not None else 10**9
            outside = (y.notna() & ((y < lo) | (y > hi))).to_numpy(dtype=bool)
            problems += _rows(frame, outside, label, f"year outside the lab's window {first_year}-{last_year}",
                              source_cols[c], c)
    if table.name == "firms" and {"exports_eur", "turnover_eur"} <= set(frame):
        over = (frame["exports_eur"] > frame["turnover_eur"] * 1.0001).fillna(False).to_numpy(dtype=bool)
        problems += _rows(frame, over, label, "exports exceed turnover; check units of both columns",
                          source_cols["exports_eur"], "exports_eur", severity="warning")
    if table.name == "membership" and "exit_year" in frame:
        before = (frame["exit_year"] < frame["join_year"]).fillna(False).to_numpy(dtype=bool)
        problems += _rows(frame, before, label, "exit year before join year", source_cols["exit_year"], "exit_year")
    if table.name == "clusters" and "closed_year" in frame:
        before = (frame["closed_year"] < frame["founded_year"]).fillna(False).to_numpy(dtype=bool)
        problems += _rows(frame, before, label, "closed before it was founded", source_cols["closed_year"],
                          "closed_year")
    return problems


def check_links(tables: dict[str, pd.DataFrame], labels: dict[str, str],
                sources: dict[str, dict[str, str]]) -> list[Problem]:
    """Cross-table rules: members must be known firms; clusters referenced must exist."""
    problems: list[Problem] = []
    firms = tables["firms"]
    mem = tables["membership"]
    known = set(firms["firm_id"].dropna())
    unknown = (~mem["firm_id"].isin(known) & mem["firm_id"].notna()).to_numpy(dtype=bool)
    problems += _rows(mem, unknown, labels["membership"], "firm not found in the firms file",
                      sources["membership"]["firm_id"], "firm_id")
    if "clusters" in tables:
        clusters = set(tables["clusters"]["cluster_id"].dropna())
        missing = (~mem["cluster_id"].isin(clusters) & mem["cluster_id"].notna()).to_numpy(dtype=bool)
        problems += _rows(mem, missing, labels["membership"], "cluster not found in the clusters file",
                          sources["membership"]["cluster_id"], "cluster_id")
        for name in ("cluster_finance", "orders"):
            if name in tables and "cluster_id" in tables[name]:
                t = tables[name]
                bad = (t["cluster_id"].notna() & ~t["cluster_id"].isin(clusters)).to_numpy(dtype=bool)
                problems += _rows(t, bad, labels[name], "cluster not found in the clusters file",
                                  sources[name]["cluster_id"], "cluster_id")
    return problems
