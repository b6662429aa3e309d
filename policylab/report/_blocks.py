"""Building blocks of the report's monitoring and diagnostic sections, and the helpers they
share: reading one indicator cell for a region or the lab as a whole, and turning indicator
rows into chart data that leaves suppressed points out (and says so).

A :class:`Block` is one titled part of a section: lead text, an optional chart with its
numbers in a table beside it, notes, warnings and collapsed detail tables. Templates render
every block the same way (``macros.html.j2``), so a new part of a section is data, not markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..evaluation import EvaluationResult, RegionInfo
from . import charts, tables
from ._indicators import CUMULATIVE, SUPPRESSED, period_sort_key

__all__ = [
    "LAB_NAME",
    "Block",
    "Cells",
    "Detail",
    "IndicatorIndex",
    "SectionBody",
    "Unit",
    "cell",
    "render_chart",
    "skipped_text",
    "units_for",
    "years_with_data",
]

#: How the lab as a whole is named in tables and charts.
LAB_NAME = "All regions"


@dataclass(frozen=True)
class Detail:
    """A table shown collapsed (``<details>``) under a block: long per-cluster tables."""

    id: str
    summary: str
    table: tables.Table


@dataclass(frozen=True)
class Block:
    """One titled part of a section (``level`` 3 is listed in the contents, 4 is not)."""

    id: str
    title: str
    intro: tuple[str, ...] = ()
    chart: charts.Chart | None = None
    table: tables.Table | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    details: tuple[Detail, ...] = ()
    empty: str = ""
    level: int = 3


@dataclass(frozen=True)
class SectionBody:
    """What one of the new sections shows: lead paragraphs and its blocks, in order."""

    intro: tuple[str, ...]
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Unit:
    """A row of a comparative table: one region (``key``) or the lab as a whole (``lab``)."""

    key: str
    name: str
    lab: bool = False


def units_for(result: EvaluationResult, only: RegionInfo | None, *,
              with_lab: bool = True) -> list[Unit]:
    """The regions a page shows (all, or its own), then the lab as a whole for comparison."""
    infos = list(result.regions) if only is None else [only]
    units = [Unit(i.key, i.name) for i in infos]
    if with_lab:
        units.append(Unit("", LAB_NAME, lab=True))
    return units


class Cells:
    """Indicator cells of one region (or the lab, or a region's clusters) and indicator:
    ``(cluster_id, period, group, value, flag)`` tuples with a lookup by period and group.

    A suppressed cell's value is always NaN here. Built once per report from the indicator
    table (:class:`IndicatorIndex`): looking cells up in a DataFrame for every table and
    chart cell was most of the time a report took to build.
    """

    __slots__ = ("_map", "rows")

    def __init__(self, rows: Iterable[tuple[str, str, str, float, str]]) -> None:
        self.rows = tuple(rows)
        self._map: dict[tuple[str, str], tuple[float, str]] = {}
        for _, period, group, value, flag in self.rows:
            self._map.setdefault((period, group), (value, flag))

    @property
    def empty(self) -> bool:
        return not self.rows

    def only(self, *, group: str | None = None, cluster: str | None = None,
             period: str | None = None) -> Cells:
        return Cells(r for r in self.rows
                     if (group is None or r[2] == group) and (cluster is None or r[0] == cluster)
                     and (period is None or r[1] == period))

    def by_cluster(self) -> dict[str, Cells]:
        """Each cluster's cells (as ``only(cluster=...)`` gives them), in one pass over the
        rows: clusters in first-seen order, rows in their order."""
        rows: dict[str, list[tuple[str, str, str, float, str]]] = {}
        for r in self.rows:
            rows.setdefault(r[0], []).append(r)
        return {cid: Cells(r) for cid, r in rows.items()}

    def get(self, period: str, group: str = "all") -> tuple[float, str]:
        """(value, flag) of one cell; ``(nan, "not_available")`` when there is no such cell."""
        return self._map.get((str(period), group), (math.nan, "not_available"))

    def groups(self) -> list[str]:
        return list(dict.fromkeys(r[2] for r in self.rows))

    def clusters(self) -> list[str]:
        return list(dict.fromkeys(r[0] for r in self.rows))

    def periods(self) -> list[str]:
        return list(dict.fromkeys(r[1] for r in self.rows))


class IndicatorIndex:
    """Every indicator cell of a result, grouped by (region key or "" for the lab, indicator,
    level)."""

    def __init__(self, table: pd.DataFrame, result: EvaluationResult) -> None:
        keys: dict[str, str] = {}
        for info in result.regions:
            keys.setdefault(info.key, info.key)
            keys.setdefault(info.name, info.key)
        buckets: dict[tuple[str, str, str], list[tuple[str, str, str, float, str]]] = {}
        cols = [table[c].astype(object).tolist() for c in
                ("region", "indicator_id", "level", "period", "group", "cluster_id", "value",
                 "flag")]
        for region, ind, level, period, group, cluster, value, flag in zip(*cols):
            level = _text(level)
            flag = _text(flag)
            if level == "lab":
                key = ("", _text(ind), "lab")
            else:
                region_key = keys.get(_text(region))
                if region_key is None:
                    continue
                key = (region_key, _text(ind), "cluster" if level == "cluster" else "region")
            number = math.nan if flag == SUPPRESSED or _missing(value) else float(value)
            buckets.setdefault(key, []).append(
                (_text(cluster), _text(period), _text(group), number, flag))
        self._cells = {k: Cells(v) for k, v in buckets.items()}

    def unit(self, unit: Unit, indicator_id: str) -> Cells:
        key = ("", indicator_id, "lab") if unit.lab else (unit.key, indicator_id, "region")
        return self._cells.get(key, _EMPTY)

    def clusters(self, region_key: str, indicator_id: str) -> Cells:
        return self._cells.get((region_key, indicator_id, "cluster"), _EMPTY)


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


_EMPTY = Cells(())


def cell(rows: Cells, *, period: str, group: str = "all") -> tuple[float, str]:
    """(value, flag) of one cell; a suppressed cell's value is always NaN, a missing cell is
    ``(nan, "not_available")``."""
    return rows.get(period, group)


def years_with_data(frames: Iterable[Cells]) -> list[str]:
    """Years (as text) in which any of ``frames`` has a value or a flagged cell, in order."""
    years: set[str] = set()
    for f in frames:
        for _, period, _, value, flag in f.rows:
            if (flag or not math.isnan(value)) and period_sort_key(period)[0] == 0:
                years.add(period)
    return sorted(years, key=period_sort_key)


def skipped_text(skipped: Sequence[tuple[str, str]], min_cell: Any) -> str:
    """One sentence on the points a chart leaves out because they are suppressed: each named
    when there are few, otherwise counted (the table marks every one)."""
    if not skipped:
        return ""
    n = len(skipped)
    head = (f"{n} point{'s' if n != 1 else ''} not shown: {'they rest' if n != 1 else 'it rests'} "
            f"on fewer than {min_cell} firms (suppressed, “·” in the table)")
    if n > 8:
        return head + "."
    by_panel: dict[str, list[str]] = {}
    for panel, x in skipped:
        by_panel.setdefault(panel, []).append(str(x))
    return head + ": " + "; ".join(f"{panel} ({', '.join(xs)})" for panel, xs in by_panel.items()) + "."


def render_chart(spec: dict[str, Any], *, chart_id: str, caption: str,
                 description: str) -> charts.Chart:
    svg = charts.render_svg(spec, chart_id=chart_id, description=description)
    return charts.Chart(chart_id, caption, description, spec, svg)


def period_cells(rows: Cells, *, group: str, periods: Sequence[str]) -> list[tuple[str, float, str]]:
    """(period, value, flag) for each of ``periods``."""
    return [(p, *rows.get(p, group)) for p in periods]


def long_rows(row: str, group: str, kind: str,
              cells: Iterable[tuple[str, float, str]]) -> list[dict[str, Any]]:
    """Rows of :func:`policylab.report.tables.period_table`'s long frame."""
    return [{"row": row, "group": group, "kind": kind, "period": p, "value": v,
             "flag": f if f in (SUPPRESSED, "not_available") else ""} for p, v, f in cells]


def periods_with(years: Sequence[str], rows: Iterable[Cells]) -> list[str]:
    """``years`` plus ``cumulative`` when any of ``rows`` has a cumulative cell."""
    has_cum = any(r[1] == CUMULATIVE for c in rows for r in c.rows)
    return [*years, *([CUMULATIVE] if has_cum else [])]
