"""``indicators.xlsx``: the report's numbers for a spreadsheet.

Sheets: "About" (how to read the workbook), "Effects" (every estimator's headline effect per
region and outcome, and the lab-wide pooled one, in the units of the report), then one sheet
per indicator level ("Lab", "Regions", "Consortia") with the indicator's name beside its ID.

Numbers are stored as numbers with a display format: an effect holds its value in display
units rounded as the report shows it (:mod:`policylab.units`), and its format writes the same
text (``+3.3 pp``); the model-scale estimate and its standard error sit beside it unrounded.
A suppressed cell is empty of any number, reads "suppressed" on a grey ground and carries its
flag, as in the CSV; no value rests on fewer firms than the configured minimum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from .. import units
from ..evaluation import EvaluationResult
from ..workbook import workbook_bytes
from ._answer import _verdict, effect_marks
from ._indicators import SUPPRESSED, sorted_indicators

__all__ = ["EFFECT_COLUMNS", "LEVEL_SHEETS", "SUPPRESSED_TEXT", "indicators_xlsx"]

#: Indicator level -> sheet name, in the workbook's order.
LEVEL_SHEETS = {"lab": "Lab", "region": "Regions", "cluster": "Consortia"}
SUPPRESSED_TEXT = "suppressed"
NOT_AVAILABLE_TEXT = "n/a"

EFFECT_COLUMNS = ("Region", "NUTS-2", "Outcome", "Estimator", "Headline", "Effect",
                  "CI low", "CI high", "Unit", "Verdict", "Marks", "Estimate (model scale)",
                  "SE (model scale)", "p-value", "Firms", "Treated firms", "Clusters")

_INDICATOR_COLUMNS = (("region", "Region"), ("nuts2", "NUTS-2"), ("indicator_id", "ID"),
                      ("indicator", "Indicator"), ("unit", "Unit"), ("period", "Period"),
                      ("group", "Group"), ("cluster_id", "Consortium"), ("value", "Value"),
                      ("n_firms", "Firms"), ("n_missing", "Missing"), ("flag", "Flag"),
                      ("note", "Note"))
_UNIT_FORMATS = {"%": "0.0", "EUR per EUR": "0.00", "firms per cluster": "0.0",
                 "employees (change)": "#,##0.0"}
_GREY = "FFD9D9D9"


def _number_format(unit: str, value: float) -> str:
    if unit in _UNIT_FORMATS:
        return _UNIT_FORMATS[unit]
    return "#,##0" if float(value).is_integer() or abs(value) >= 1000 else "#,##0.00"


def _finite(v: Any) -> bool:
    try:
        return v is not None and not pd.isna(v) and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _text(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    text = str(v)
    # a spreadsheet must not evaluate a cell of the data as a formula
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _effect_rows(result: EvaluationResult) -> Iterable[dict[str, Any]]:
    headline = result.settings.get("headline_estimator")
    labels = result.settings.get("method_labels", {}) or {}
    rank = {info.key: i for i, info in enumerate(result.regions)}
    outcomes = list(dict.fromkeys([*(result.settings.get("outcomes") or []),
                                   *(e.outcome for e in result.effects)]))
    for outcome in outcomes:
        mine = [e for e in result.effects if e.outcome == outcome]
        mine.sort(key=lambda e: (rank.get(e.region, len(rank)), e.result.method != headline))
        for e in mine:
            h = e.result.headline
            info = result.region(e.region)
            is_head = e.result.method == headline
            yield {"region": info.name, "nuts2": info.nuts2, "outcome": outcome,
                   "method": labels.get(e.result.method, e.result.method), "headline": is_head,
                   "estimate": h.estimate, "conf_low": h.conf_low, "conf_high": h.conf_high,
                   "std_error": h.std_error, "p_value": h.p_value,
                   "verdict": _verdict(outcome, h.estimate, h.conf_low, h.conf_high)
                   if is_head else "",
                   "marks": ", ".join(m.text for m in effect_marks(result, e.region, outcome))
                   if is_head else "",
                   "n_firms": e.result.n_units, "n_treated": e.result.n_treated,
                   "n_clusters": e.result.n_clusters}
        pooled = [p for p in (result.synthesis.pooled if result.synthesis else ())
                  if p.outcome == outcome and p.pooled]
        pooled.sort(key=lambda p: p.estimator != headline)
        for p in pooled:
            yield {"region": "Across the lab", "nuts2": "", "outcome": outcome,
                   "method": labels.get(p.estimator, p.estimator) + " (pooled)",
                   "headline": p.estimator == headline, "estimate": p.estimate,
                   "conf_low": p.conf_low, "conf_high": p.conf_high, "std_error": p.std_error,
                   "p_value": p.p_value,
                   "verdict": _verdict(outcome, p.estimate, p.conf_low, p.conf_high)
                   if p.estimator == headline else "",
                   "marks": "", "n_firms": None, "n_treated": None, "n_clusters": None}


def _cell(ws: Any, value: Any, *, number_format: str | None = None, bold: bool = False,
          grey: bool = False) -> Any:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    cell = WriteOnlyCell(ws, value=value)
    if number_format is not None:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    if grey:
        cell.fill = PatternFill("solid", start_color=_GREY, end_color=_GREY)
    return cell


def _header(ws: Any, names: Sequence[str]) -> None:
    ws.append([_cell(ws, n, bold=True) for n in names])


def _about(wb: Any, result: EvaluationResult) -> None:
    ws = wb.create_sheet("About")
    min_cell = result.settings.get("min_cell_firms")
    lines = [
        (f"{result.lab_name or 'policylab'}: indicators and effects", True),
        ("Written by policylab from the same run as index.html, results.json and "
         "indicators.csv.", False),
        ("Effects: every estimator's headline effect of consortium membership per region and "
         "outcome, and the lab-wide pooled effect. Effect and interval are in the report's "
         "units (percentage points for shares, percent change for log outcomes, EUR), rounded "
         "as the report shows them; the model-scale estimate and standard error beside them "
         "are unrounded.", False),
        ("Lab, Regions, Consortia: the monitoring indicators at each level, one row per "
         "indicator, period and group, with the indicator's name beside its ID.", False),
        (f"'{SUPPRESSED_TEXT}' on grey: the cell rests on fewer than {min_cell} firms and is "
         "withheld to protect confidential firm data; 'n/a': not available from the data.",
         False),
    ]
    for text, bold in lines:
        ws.append([_cell(ws, text, bold=bold)])


def _effects(wb: Any, result: EvaluationResult) -> None:
    ws = wb.create_sheet("Effects")
    _header(ws, EFFECT_COLUMNS)
    for r in _effect_rows(result):
        o = r["outcome"]
        u = units.outcome_unit(o)
        row: list[Any] = [_cell(ws, _text(r["region"])), _cell(ws, r["nuts2"] or None),
                          _cell(ws, u.title), _cell(ws, _text(r["method"])),
                          _cell(ws, "yes" if r["headline"] else "no")]
        for key, sign in (("estimate", True), ("conf_low", False), ("conf_high", False)):
            shown = units.display_value(o, r[key])
            if math.isfinite(shown) and abs(shown) < 1e9:
                row.append(_cell(ws, shown, number_format=units.excel_format(o, shown,
                                                                             sign=sign)))
            else:
                row.append(_cell(ws, units.effect_text(o, r[key], sign=sign, unit=False)
                                 if _finite(r[key]) else None))
        row += [_cell(ws, u.unit), _cell(ws, r["verdict"] or None),
                _cell(ws, r["marks"] or None)]
        for key, fmt in (("estimate", "0.000000"), ("std_error", "0.000000"),
                         ("p_value", "0.000")):
            row.append(_cell(ws, float(r[key]) if _finite(r[key]) else None,
                             number_format=fmt))
        for key in ("n_firms", "n_treated", "n_clusters"):
            row.append(_cell(ws, int(r[key]) if _finite(r[key]) else None,
                             number_format="#,##0"))
        ws.append(row)


def _indicators(wb: Any, result: EvaluationResult) -> None:
    df = sorted_indicators(result)
    levels = [lv for lv in LEVEL_SHEETS if (df["level"] == lv).any()]
    levels += sorted(set(map(str, df["level"].dropna().unique())) - set(LEVEL_SHEETS))
    for level in levels:
        ws = wb.create_sheet(LEVEL_SHEETS.get(level, level.capitalize()[:31]))
        part = df.loc[df["level"].astype(object).eq(level).to_numpy(dtype=bool)]
        keep = [(c, name) for c, name in _INDICATOR_COLUMNS
                if not (c == "cluster_id" and level != "cluster")]
        _header(ws, [name for _, name in keep])
        columns = {c: part[c].tolist() for c, _ in keep}
        for i in range(len(part)):
            flag = columns["flag"][i]
            flag = None if not isinstance(flag, str) or not flag else flag
            row = []
            for c, _ in keep:
                v = columns[c][i]
                if c == "value":
                    if flag == SUPPRESSED:
                        row.append(_cell(ws, SUPPRESSED_TEXT, grey=True))
                    elif _finite(v):
                        row.append(_cell(ws, float(v), number_format=_number_format(
                            str(columns["unit"][i]), float(v))))
                    else:
                        row.append(NOT_AVAILABLE_TEXT if flag else None)
                elif c in ("n_firms", "n_missing"):
                    row.append(_cell(ws, int(v), number_format="#,##0") if _finite(v) else None)
                elif c == "flag":
                    row.append(_cell(ws, flag, grey=True) if flag == SUPPRESSED else flag)
                else:
                    row.append(_text(v))  # a plain cell: no style to write
            ws.append(row)


def _common(wb: Any, result: EvaluationResult) -> None:
    """The EU common indicators, as common_indicators.csv, with numbers as numbers."""
    from ..targets import EXPORT_COLUMNS, export_table

    if result.common is None or result.common.empty:
        return
    ws = wb.create_sheet("EU common indicators")
    _header(ws, EXPORT_COLUMNS)
    table = export_table(result.common)
    for rec in table.to_dict("records"):
        flag = rec["flag"] if isinstance(rec["flag"], str) and rec["flag"] else None
        row = []
        for c in EXPORT_COLUMNS:
            v = rec[c]
            if c == "value" and flag == SUPPRESSED:
                row.append(_cell(ws, SUPPRESSED_TEXT, grey=True))
            elif c in ("value", "target", "milestone"):
                row.append(_cell(ws, float(v), number_format="#,##0.##") if _finite(v) else None)
            elif c.endswith("_year"):
                row.append(_cell(ws, int(v)) if _finite(v) else None)
            elif c == "period":
                row.append(_cell(ws, int(v)) if str(v).isdigit() else _text(v))
            else:
                row.append(_text(v) if v is not None and v == v and v != "" else None)
        ws.append(row)


def indicators_xlsx(result: EvaluationResult) -> bytes:
    """The workbook's bytes; the same result always gives the same bytes."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    _about(wb, result)
    _effects(wb, result)
    _indicators(wb, result)
    _common(wb, result)
    return workbook_bytes(wb)
