"""Monitoring indicators per region and period, with disclosure control applied once, here."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..did.panel import firm_panel
from ..evaluation import INDICATOR_COLUMNS, RegionInfo
from . import core  # noqa: F401  (registers the indicators)
from .registry import REGISTRY, Indicator

__all__ = ["REGISTRY", "Indicator", "region_indicators", "compute_indicators", "suppress_small_cells"]


def suppress_small_cells(table: pd.DataFrame, min_cell_firms: int) -> pd.DataFrame:
    """Blank every value resting on fewer than ``min_cell_firms`` firms and flag it ``suppressed``.

    Zero-firm cells of counts (e.g. no consortium formed this year) reveal nothing about a
    firm and stay visible.
    """
    out = table.copy()
    small = (
        (out["n_firms"] < min_cell_firms)
        & ~((out["n_firms"] == 0) & (out["value"] == 0))
        & (out["flag"] != "not_available")
    )
    out.loc[small, "value"] = np.nan
    out.loc[small, "flag"] = "suppressed"
    return out


def region_indicators(info: RegionInfo, tables: dict[str, pd.DataFrame],
                      ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Every registered indicator for one region (before disclosure control)."""
    panel = firm_panel(tables["firms"], tables["membership"])
    parts = []
    for ind in (REGISTRY[i] for i in (ids or REGISTRY)):
        if all(t in tables for t in ind.needs):
            df = ind.compute(tables, panel)
            df["flag"] = ""
        else:
            df = pd.DataFrame({"period": ["cumulative"], "group": ["all"], "value": [np.nan], "n_firms": [0],
                               "flag": ["not_available"]})
        df = df.assign(region=info.name, nuts2=info.nuts2, indicator_id=ind.id, indicator=ind.name,
                       level=ind.level, unit=ind.unit)
        parts.append(df)
    out = pd.concat(parts, ignore_index=True)
    out["n_firms"] = out["n_firms"].astype("int64")
    out["value"] = out["value"].astype("float64")
    return out[INDICATOR_COLUMNS]


def compute_indicators(regions: Iterable[tuple[RegionInfo, dict[str, pd.DataFrame]]], *,
                       min_cell_firms: int) -> pd.DataFrame:
    """The tidy indicator table for all regions, after disclosure control."""
    frames = [region_indicators(info, tables) for info, tables in regions]
    table = pd.concat(frames, ignore_index=True)
    return suppress_small_cells(table, min_cell_firms)
