"""The indicator dashboard: each region's monitoring indicators for the latest years.

One table per region, the latest :data:`DASHBOARD_YEARS` years of the indicator table plus
the whole-period (cumulative) figures; suppressed cells stay suppressed and are counted. A
region's dashboard is the same on the overview and on its own page, so it is built once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..evaluation import EvaluationResult, RegionInfo
from . import tables
from ._indicators import CUMULATIVE, period_sort_key, region_rows
from ._labels import _slug

__all__ = ["DASHBOARD_YEARS", "Dashboards", "RegionDashboard"]

#: How many of the latest years the dashboard shows (the CSV has them all).
DASHBOARD_YEARS = 6


@dataclass(frozen=True)
class RegionDashboard:
    id: str
    key: str
    name: str
    nuts2: str
    country: str
    programme: str
    currency: str
    table: tables.Table | None
    n_suppressed: int
    note: str


class Dashboards:
    """Builds each region's dashboard once; ``years`` are the years every dashboard shows."""

    def __init__(self, result: EvaluationResult, table: pd.DataFrame, min_cell: Any) -> None:
        self.result = result
        self.table = table
        self.min_cell = min_cell
        periods = {str(p) for p in self.table["period"].dropna()}
        years = sorted((p for p in periods if period_sort_key(p)[0] == 0), key=period_sort_key)
        self.years = tuple(years[-DASHBOARD_YEARS:])
        self._dashboards: dict[str, RegionDashboard] = {}

    def get(self, info: RegionInfo) -> RegionDashboard:
        """The dashboard of one region (built on first use)."""
        if info.key in self._dashboards:
            return self._dashboards[info.key]
        rows = region_rows(self.table, self.result, info.key)
        dash_id = f"dashboard-{_slug(info.key) or 'x'}"
        taken = {d.id for d in self._dashboards.values()}
        n = 2
        while dash_id in taken:
            dash_id, n = f"dashboard-{_slug(info.key) or 'x'}-{n}", n + 1
        cumulative = bool(rows["period"].astype(str).eq(CUMULATIVE).any())
        if rows.empty or not (self.years or cumulative):
            html, n_supp = None, 0
            note = "No indicators were computed for this region."
        else:
            html = tables.dashboard_table(rows, table_id=f"{dash_id}-table",
                                          years=list(self.years), cumulative=cumulative,
                                          min_cell_firms=self.min_cell)
            visible = rows["period"].astype(str).isin([*self.years, CUMULATIVE])
            n_supp = int((rows.loc[visible, "flag"].astype(str) == "suppressed").sum())
            note = ""
        dash = RegionDashboard(dash_id, info.key, info.name, info.nuts2, info.country,
                               info.programme, info.currency, html, n_supp, note)
        self._dashboards[info.key] = dash
        return dash
