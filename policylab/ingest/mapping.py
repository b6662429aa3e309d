"""Map a raw table into a canonical table: rename, parse, scale, convert currency.

Each cell that cannot be parsed becomes a :class:`~policylab.errors.Problem` naming the file,
the row as the user sees it, the source column and the value. Blank stays blank (missing),
zero stays zero: nothing is imputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import FileSpec
from ..errors import Problem
from ..schema import Table
from .readers import RawTable

MAX_PROBLEMS_PER_COLUMN = 20


@dataclass(frozen=True)
class Mapped:
    frame: pd.DataFrame  # canonical columns (+ "_row": user-visible row number)
    problems: list[Problem]
    conversions: list[str]  # "scale:<factor>" and/or "fx:<currency>" applied to money columns


def _problems_for(mask: np.ndarray, raw: RawTable, source_col: str, values: pd.Series, message: str,
                  severity: str = "error") -> list[Problem]:
    idx = np.flatnonzero(mask)
    out = [
        Problem(raw.label, message, row=int(raw.source_rows.iloc[i]), column=source_col,
                value=None if values.iloc[i] is None else str(values.iloc[i]), severity=severity)
        for i in idx[:MAX_PROBLEMS_PER_COLUMN]
    ]
    if len(idx) > MAX_PROBLEMS_PER_COLUMN:
        out.append(Problem(raw.label, f"{len(idx) - MAX_PROBLEMS_PER_COLUMN} more row(s) with the same problem",
                           column=source_col, severity=severity))
    return out


def _parse_number(text: pd.Series, spec: FileSpec) -> tuple[pd.Series, np.ndarray]:
    """Numbers written with the file's decimal and thousands separators; returns (values, bad)."""
    s = text.astype("string")
    if spec.thousands:
        s = s.str.replace(spec.thousands, "", regex=False)
    s = s.str.replace(" ", "", regex=False).str.replace("\u00a0", "", regex=False)
    if spec.decimal == ",":
        s = s.str.replace(",", ".", regex=False)
    values = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = (text.notna() & values.isna()).to_numpy() | ~np.isfinite(values.fillna(0).to_numpy())
    return values.where(~bad), bad


def _parse_year(text: pd.Series, spec: FileSpec) -> tuple[pd.Series, np.ndarray]:
    values, bad = _parse_number(text, spec)
    frac = values.notna() & (values != values.round())
    out_of_range = values.notna() & ((values < 1900) | (values > 2100))
    bad = bad | frac.to_numpy() | out_of_range.to_numpy()
    return values.where(~bad).round().astype("Int64"), bad


def map_table(raw: RawTable, spec: FileSpec, table: Table, *, fx: dict[int, float], currency: str) -> Mapped:
    """Rename, parse and convert ``raw`` into ``table``'s canonical columns."""
    problems: list[Problem] = []
    conversions: list[str] = []
    missing = [src for src in spec.columns.values() if src not in raw.frame.columns]
    if missing:
        available = ", ".join(map(repr, raw.frame.columns))
        for canon, src in spec.columns.items():
            if src in missing:
                problems.append(Problem(raw.label, f"column not found (mapped to '{canon}'); the header has: {available}",
                                        column=src))
        return Mapped(pd.DataFrame(), problems, conversions)

    out: dict[str, pd.Series] = {}
    for canon, src in spec.columns.items():
        col = table.column(canon)
        text = raw.frame[src]
        if col.required:
            blank = text.isna().to_numpy()
            if col.kind in ("id", "year", "date", "country") and blank.any():
                problems += _problems_for(blank, raw, src, text, f"blank cell; '{canon}' is required")
        if col.kind in ("id", "text"):
            out[canon] = text.astype("string")
        elif col.kind == "year":
            values, bad = _parse_year(text, spec)
            problems += _problems_for(bad, raw, src, text, "expected a calendar year such as 2019")
            out[canon] = values
        elif col.kind in ("money", "number"):
            values, bad = _parse_number(text, spec)
            dec = "decimal comma" if spec.decimal == "," else "decimal point"
            problems += _problems_for(bad, raw, src, text, f"expected a number (with a {dec})")
            neg = (values < 0).to_numpy()
            problems += _problems_for(neg, raw, src, text, "negative value; expected 0 or more")
            out[canon] = values.where(~neg)
        elif col.kind == "date":
            parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
            bad = (text.notna() & parsed.isna()).to_numpy()
            problems += _problems_for(bad, raw, src, text, "expected a date as YYYY-MM-DD")
            out[canon] = parsed
        elif col.kind == "country":
            up = text.astype("string").str.upper()
            bad = (up.notna() & ~up.str.fullmatch(r"[A-Z]{2}").fillna(False)).to_numpy()
            problems += _problems_for(bad, raw, src, text, "expected an ISO 3166-1 alpha-2 country code such as DE")
            out[canon] = up
    frame = pd.DataFrame(out)
    frame["_row"] = raw.source_rows.to_numpy()

    money = [c for c in spec.columns if table.column(c).kind == "money"]
    if money and spec.scale != 1.0:
        for c in money:
            frame[c] = frame[c] * spec.scale
        conversions.append(f"scale:{spec.scale:g}")
    if money and currency != "EUR":
        year = _conversion_year(frame, table)
        rate = year.map(fx).astype("float64")
        no_rate = (year.notna() & rate.isna()).to_numpy()
        if no_rate.any():
            years = sorted({int(y) for y in year[no_rate]})
            problems.append(Problem(raw.label, f"no {currency} rate in 'fx' for year(s) {years}", column=None))
        for c in money:
            frame[c] = frame[c] / rate
        conversions.append(f"fx:{currency}")
    return Mapped(frame, problems, conversions)


def _conversion_year(frame: pd.DataFrame, table: Table) -> pd.Series:
    """The calendar year whose exchange rate converts a row's money."""
    if "year" in frame:
        return frame["year"]
    if "order_date" in frame:
        return frame["order_date"].dt.year.astype("Int64")
    if "founded_year" in frame:
        return frame["founded_year"]
    raise AssertionError(f"table {table.name} has money but no year to convert it at")  # schema bug
