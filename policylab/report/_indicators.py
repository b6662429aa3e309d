"""The indicator table in its canonical order, and ``indicators.csv``.

One ordering is used everywhere (CSV and dashboard): regions in the order of
``EvaluationResult.regions`` (lab-wide rows after them), then indicator id, level (region
before its clusters), cluster, group and period (years in numeric order, other periods after
them, ``cumulative`` last). It does not depend on the row order the
indicator stage happened to produce, so two runs on the same data diff cleanly.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ..evaluation import INDICATOR_COLUMNS, EvaluationResult

__all__ = [
    "CUMULATIVE",
    "SUPPRESSED",
    "indicators_csv",
    "neutralise_cell",
    "period_sort_key",
    "region_rows",
    "sorted_indicators",
]

CUMULATIVE = "cumulative"
SUPPRESSED = "suppressed"
#: Row order within a region and indicator: region-level rows, then its clusters' rows.
_LEVEL_RANK = {"lab": 0, "region": 1, "cluster": 2}

_YEAR = re.compile(r"^\d{4}$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
# Spreadsheets treat a text cell starting with one of these as a formula (OWASP "CSV
# injection"); the brief names = + - @, tab and carriage return are OWASP's additions.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def period_sort_key(period: Any) -> tuple[int, int, str]:
    """Years first in numeric order, then other period labels, then ``cumulative``."""
    text = "" if period is None else str(period)
    if _YEAR.match(text):
        return (0, int(text), "")
    if text == CUMULATIVE:
        return (2, 0, "")
    return (1, 0, text)


def _region_rank(result: EvaluationResult) -> dict[str, int]:
    """Indicator rows name a region by ``RegionInfo.name`` (or key); both map to its position."""
    rank: dict[str, int] = {}
    for i, info in enumerate(result.regions):
        rank.setdefault(info.key, i)
        rank.setdefault(info.name, i)
    return rank


def sorted_indicators(result: EvaluationResult) -> pd.DataFrame:
    """The indicator table with exactly :data:`INDICATOR_COLUMNS`, in the canonical order.

    A suppressed cell (``flag == "suppressed"``) always has a missing value here, even if
    an upstream stage forgot to blank it.
    """
    table = result.indicators
    missing = [c for c in INDICATOR_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"indicator table lacks column(s) {missing}; expected {INDICATOR_COLUMNS}")
    df = table.loc[:, INDICATOR_COLUMNS].copy()
    suppressed = df["flag"].astype(object).eq(SUPPRESSED).to_numpy(dtype=bool)
    if suppressed.any():
        df["value"] = df["value"].astype("float64")
        df.loc[suppressed, "value"] = np.nan
    rank = _region_rank(result)
    n = len(result.regions)

    def text(value: Any) -> str:
        return "" if _is_missing(value) else str(value)

    def key(row: tuple) -> tuple:
        region, _, indicator_id, _, level, _, period, group, cluster_id = row[:9]
        region_s = text(region)
        return (
            rank.get(region_s, n),
            region_s,
            text(indicator_id),
            _LEVEL_RANK.get(text(level), len(_LEVEL_RANK)),
            text(cluster_id),
            text(group),
            period_sort_key(None if _is_missing(period) else period),
        )

    rows = list(df.itertuples(index=False, name=None))
    order = sorted(range(len(rows)), key=lambda i: key(rows[i]))  # sorted() is stable
    return df.iloc[order].reset_index(drop=True)


def region_rows(table: pd.DataFrame, result: EvaluationResult, key: str) -> pd.DataFrame:
    """The region-level rows of ``table`` for region ``key`` (matched by its name or key).

    Rows of the region's clusters (``level == "cluster"``) and lab-wide rows are left out.
    """
    info = result.region(key)
    region = table["region"].astype(object)
    mine = region.eq(info.name) | region.eq(info.key)
    if "level" in table:
        mine &= ~table["level"].astype(object).isin(["cluster", "lab"])
    return table.loc[mine]


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def neutralise_cell(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula; leave numbers alone.

    ``"-0.5"`` stays as it is (a number); ``"=cmd|' /C calc'!A1"``, ``"+A1"`` and ``"-x"`` become
    ``"'=cmd|' /C calc'!A1"``, ``"'+A1"`` and ``"'-x"``.
    """
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def _cell(column: str, value: Any) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            return ""
        if column == "n_firms" and number.is_integer():
            return str(int(number))
        return repr(number)
    return neutralise_cell(str(value))


def common_indicators_csv(result: EvaluationResult) -> str:
    """The EU common indicators as the flat CSV a managing authority pastes into its
    monitoring system (:data:`policylab.targets.EXPORT_COLUMNS`: code, name, unit, NUTS-2,
    region, breakdown, period, value, target and milestone with their years, flag, note);
    written as ``indicators.csv`` is (a suppressed value is empty and flagged)."""
    from ..targets import EXPORT_COLUMNS, export_table

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    if result.common is not None:
        table = export_table(result.common)
        for row in table.itertuples(index=False, name=None):
            writer.writerow([_cell(c, int(v) if c.endswith("_year") and _finite_number(v) else v)
                             for c, v in zip(EXPORT_COLUMNS, row)])
    return buffer.getvalue()


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v))


def indicators_csv(result: EvaluationResult) -> str:
    """The tidy indicator table as CSV text.

    Columns are :data:`INDICATOR_COLUMNS`; rows are in the canonical order; lines end with
    ``\\n``; floats are written with ``repr`` (shortest round-trip form); a suppressed value is
    empty and its flag is ``suppressed``; text cells that a spreadsheet would evaluate as a
    formula get a leading ``'``.
    """
    df = sorted_indicators(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INDICATOR_COLUMNS)
    for row in df.itertuples(index=False, name=None):
        writer.writerow([_cell(c, v) for c, v in zip(INDICATOR_COLUMNS, row)])
    return buffer.getvalue()
