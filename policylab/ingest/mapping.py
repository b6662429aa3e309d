"""Map a raw table into a canonical table: rename, parse, normalise years, scale, convert currency.

Each cell that cannot be parsed becomes a :class:`~policylab.errors.Problem` naming the file,
the row as the user sees it, the source column and the value. Blank stays blank (missing),
zero stays zero: nothing is imputed. Rules that concern parsed values (required, ranges,
keys) are checked afterwards against the declarative schema (``validate.py``); the mapped
table carries the raw cells so those problems can quote the value as it is in the file.

Conversions, in order: cell texts declared as ``missing_values`` become blank; numbers are
read with the file's decimal and thousands separators; fiscal years become calendar years
(the calendar year holding most of the fiscal year's months); money is multiplied by
``scale`` and divided by the region's rate (local units per EUR) of the row's calendar year.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import FileSpec
from ..errors import Problem
from ..schema import Table
from . import numbers
from .readers import RawTable, display

#: Problems listed per column and kind before one "N more row(s)" line.
MAX_PROBLEMS_PER_COLUMN = 20
_CAP: ContextVar[int] = ContextVar("problem_cap", default=MAX_PROBLEMS_PER_COLUMN)


def problem_cap() -> int:
    """How many problems of one kind are listed (:data:`MAX_PROBLEMS_PER_COLUMN`, unless
    inside :func:`listing_all`)."""
    return _CAP.get()


@contextmanager
def listing_all() -> Iterator[None]:
    """List every problem (no "N more" line) inside the block: the streamed ingest maps and
    checks a file chunk by chunk and caps the whole file's list itself. A context variable,
    so other threads keep the cap."""
    token = _CAP.set(sys.maxsize)
    try:
        yield
    finally:
        _CAP.reset(token)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
PERIOD_TABLES = ("firms", "cluster_finance")  # tables whose ``year`` is an accounting period
NOT_FINITE = "expected a finite number (this one is beyond the range of numbers, about 1.8e308)"


@dataclass(frozen=True)
class FiscalRule:
    """How a file's year labels become calendar years."""

    start_month: int = 1
    label: str | None = None  # "start" | "end": the year a label names

    @property
    def is_calendar(self) -> bool:
        return self.start_month == 1

    def calendar_year(self, start_year: pd.Series) -> pd.Series:
        """The calendar year holding most months of the fiscal year starting in ``start_year``.

        A fiscal year starting in month m has 13 - m months in its first calendar year and
        m - 1 in the next: it belongs to its first year if m <= 6, to the next if m >= 8, and a
        July start (6 + 6) goes to the year it ends in.
        """
        return start_year if self.start_month <= 6 else start_year + 1

    def describe(self) -> str:
        if self.is_calendar:
            return "calendar years"
        m = MONTHS[self.start_month - 1]
        goes = "the year it starts in" if self.start_month <= 6 else "the year it ends in"
        return (f"fiscal years starting in {m} (a label names the year the fiscal year {self.label}s in; "
                f"'2019/20' names both) mapped to the calendar year holding most of their months: {goes}")


@dataclass(frozen=True)
class Mapped:
    frame: pd.DataFrame  # canonical columns + "_row" (user-visible row number)
    problems: list[Problem]
    label: str
    source_cols: dict[str, str]  # canonical -> column in the file
    raw: dict[str, pd.Series] = field(default_factory=dict)  # canonical -> cells as in the file
    invalid: dict[str, np.ndarray] = field(default_factory=dict)  # cells already reported
    applied: dict[str, Any] = field(default_factory=dict)  # the mapping applied, for provenance
    conversions: list[str] = field(default_factory=list)  # "kind:arg" notes for the report

    def raw_value(self, canon: str, i: int) -> str | None:
        s = self.raw.get(canon)
        return None if s is None else display(s.iloc[i])


def _problems_for(mask: np.ndarray, rows: np.ndarray, label: str, source_col: str | None, values: pd.Series,
                  message: str, severity: str = "error") -> list[Problem]:
    idx = np.flatnonzero(mask)
    cap = problem_cap()
    out = [
        Problem(label, message, row=int(rows[i]), column=source_col, value=display(values.iloc[i]),
                severity=severity)
        for i in idx[:cap]
    ]
    if len(idx) > cap:
        out.append(Problem(label, f"{len(idx) - cap} more row(s) with the same problem",
                           column=source_col, severity=severity))
    return out


@dataclass(frozen=True)
class Cells:
    """One column's cells as read, and which of them are text, typed numbers and typed dates."""

    values: pd.Series
    text: np.ndarray
    number: np.ndarray
    date: np.ndarray

    @classmethod
    def of(cls, values: pd.Series) -> Cells:
        values = values.reset_index(drop=True)
        n = len(values)
        present = values.notna().to_numpy()
        none = np.zeros(n, dtype=bool)
        dtype = values.dtype
        if isinstance(dtype, pd.StringDtype):
            return cls(values, present, none, none)
        if pd.api.types.is_bool_dtype(dtype):
            return cls(values.astype("str").mask(~present), present, none, none)
        if pd.api.types.is_numeric_dtype(dtype):
            return cls(values, none, present, none)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return cls(values, none, none, present)
        text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=n)
        number = np.fromiter((isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                              for v in values), dtype=bool, count=n) & present
        date = np.fromiter((isinstance(v, (_dt.date, pd.Timestamp)) for v in values), dtype=bool, count=n)
        return cls(values, text, number, date)

    def texts(self) -> pd.Series:
        """The text cells ('str' dtype, stripped, in order)."""
        v = self.values[self.text]
        if isinstance(v.dtype, pd.StringDtype):
            return v.reset_index(drop=True).astype("str")
        return pd.Series(v.to_numpy(), dtype="str").str.strip()

    def numbers(self) -> np.ndarray:
        """The typed numbers (float, in order)."""
        v = self.values[self.number]
        if pd.api.types.is_numeric_dtype(v.dtype):  # a copy: callers write into it
            return np.array(v.to_numpy(dtype="float64", na_value=np.nan), dtype="float64", copy=True)
        return np.array([float(x) for x in v], dtype="float64")

    def as_text(self) -> pd.Series:
        """Every cell as text ('string' dtype; numbers as the file shows them); blank stays missing."""
        v = self.values
        if self.text.all() or not self.values.notna().any():
            return v.astype("string")
        if pd.api.types.is_integer_dtype(v.dtype):
            return v.astype("string")
        out = v.astype(object).copy()
        other = ~self.text & v.notna().to_numpy()
        out[other] = [display(x) for x in v[other]]
        return out.astype("string")


def _parse_year(cells: Cells, fiscal: FiscalRule | None) -> tuple[pd.Series, np.ndarray]:
    """Calendar years (Int64) and the mask of cells that are not a year.

    With a fiscal rule, a label is first turned into the year the fiscal year starts in (a
    'start' label as is, an 'end' label minus one, '2019/20' or '2019-2020' their first year),
    then into the calendar year holding most of its months.
    """
    n = len(cells.values)
    fiscal = None if fiscal is None or fiscal.is_calendar else fiscal
    start = np.full(n, np.nan)
    if cells.text.any():
        t = cells.texts()
        plain = t.str.fullmatch(r"\d{4}(\.0+)?").fillna(False).astype(bool)
        vals = pd.to_numeric(t.str.slice(0, 4).where(plain), errors="coerce").to_numpy(dtype=float)
        if fiscal is not None:
            if fiscal.label == "end":
                vals = vals - 1
            pair = t.str.fullmatch(r"\d{4}\s*[/-]\s*(\d{2}|\d{4})").fillna(False).astype(bool)
            if pair.any():
                first = pd.to_numeric(t.str.slice(0, 4).where(pair), errors="coerce").to_numpy(dtype=float)
                rest = t.str.replace(r"^\d{4}\s*[/-]\s*", "", regex=True).where(pair)
                second = pd.to_numeric(rest, errors="coerce").to_numpy(dtype=float)
                two = (rest.str.len() == 2).fillna(False).to_numpy(dtype=bool)
                second = np.where(two, (first // 100) * 100 + second, second)
                second = np.where(two & (second < first), second + 100, second)
                vals = np.where(second == first + 1, first, vals)
        start[cells.text] = vals
    if cells.number.any():
        v = cells.numbers()
        with np.errstate(invalid="ignore"):
            v[~np.isfinite(v) | (v != np.round(v))] = np.nan
        start[cells.number] = v - 1 if fiscal is not None and fiscal.label == "end" else v
    bad = cells.values.notna().to_numpy() & np.isnan(start)
    year = fiscal.calendar_year(start) if fiscal is not None else start
    with np.errstate(invalid="ignore"):
        bad |= ~np.isnan(year) & ((year < 1900) | (year > 2100))
    year = np.where(bad, np.nan, year)
    return pd.Series(np.round(year), dtype="Float64").astype("Int64"), bad


def _parse_date(cells: Cells, fmt: str) -> tuple[pd.Series, np.ndarray]:
    n = len(cells.values)
    parsed = pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]")
    if cells.text.any():
        got = pd.to_datetime(cells.texts(), format=fmt, errors="coerce")
        parsed.iloc[np.flatnonzero(cells.text)] = got.astype("datetime64[us]").to_numpy()
    if cells.date.any():
        got = pd.to_datetime(pd.Series(list(cells.values[cells.date]))).dt.normalize()
        parsed.iloc[np.flatnonzero(cells.date)] = got.astype("datetime64[us]").to_numpy()
    bad = cells.values.notna().to_numpy() & parsed.isna().to_numpy()
    return parsed, bad


def _number_columns(raw: RawTable, spec: FileSpec, table: Table) -> list[str]:
    return [c for c in spec.columns if table.column(c).kind in ("money", "number")]


def _formula_like(text: pd.Series) -> np.ndarray:
    """Text a spreadsheet would run as a formula: '=...', '@...', a leading tab or CR, or '+'/'-'
    followed by formula syntax ('-2+3+cmd|...'), but not a lone '-' or '+34 600 123 456'."""
    return numbers.starts_like(text, r"[=@]\S|[\t\r]|[+-].*[=(|!+\-@]")


def _missing_column_problems(raw: RawTable, spec: FileSpec, missing: list[str]) -> list[Problem]:
    header = list(raw.frame.columns)
    available = ", ".join(map(repr, header))
    if len(missing) == len(spec.columns):  # nothing matches: the header itself is not what the config says
        hint = ""
        if len(header) == 1 and (delims := numbers_delims(header[0])):
            hint = f"; the header was not split into columns: is the delimiter {delims[0]!r}? (set 'delimiter')"
        wanted = ", ".join(map(repr, spec.columns.values()))
        return [Problem(raw.label, f"none of the mapped columns ({wanted}) is in the header; "
                        f"the header has: {available}{hint}", row=raw.header_row)]
    out = []
    for canon, src in spec.columns.items():
        if src in missing:
            near = difflib.get_close_matches(src, header, n=1, cutoff=0.75) or [
                h for h in header if h.casefold() == src.casefold()]
            extra = f"; did you mean {near[0]!r}?" if near else ""
            out.append(Problem(raw.label, f"column not found (mapped to '{canon}'); the header has: {available}{extra}",
                               column=src))
    return out


def numbers_delims(text: str) -> list[str]:
    return [d for d in (";", ",", "\t", "|") if d in text]


def map_table(raw: RawTable, spec: FileSpec, table: Table, *, fx: dict[int, float], currency: str,
              fiscal: FiscalRule | None = None, window: tuple[int | None, int | None] = (None, None)) -> Mapped:
    """Rename, parse and convert ``raw`` into ``table``'s canonical columns."""
    label = raw.label
    problems: list[Problem] = list(raw.problems)
    conversions: list[str] = []
    missing = [src for src in spec.columns.values() if src not in raw.frame.columns]
    applied: dict[str, Any] = {"table": table.name, "columns": dict(spec.columns), **raw.settings}
    if missing:
        problems += _missing_column_problems(raw, spec, missing)
        return Mapped(pd.DataFrame(), problems, label, dict(spec.columns), applied=applied)

    rows = raw.source_rows
    cells: dict[str, pd.Series] = {}
    kinds: dict[str, Cells] = {}
    na_texts = sorted({v.strip() for v in spec.missing_values})
    for canon, src in spec.columns.items():
        col = raw.frame[src].reset_index(drop=True)
        if na_texts:
            is_na = col.isin(na_texts).to_numpy(dtype=bool)
            if is_na.any():
                col = col.mask(is_na) if col.dtype != object else col.where(~is_na, None)
        cells[canon] = col
        kinds[canon] = Cells.of(col)
    if na_texts:
        applied["missing_values"] = na_texts

    # The file's number format, from every money and count column at once.
    fmt = None
    undecided = False
    num_cols = _number_columns(raw, spec, table)
    evidence_cols = []
    for canon in num_cols:
        k = kinds[canon]
        evidence_cols.append((spec.columns[canon], k.texts(), rows[k.text]))
    try:
        fmt = numbers.resolve(numbers.gather(evidence_cols), decimal=spec.decimal, thousands=spec.thousands)
    except numbers.FormatUndecided as exc:
        undecided = True
        row, value, column = exc.example
        problems.append(Problem(label, exc.message, row=row, column=column, value=value))
    if fmt is not None and any(len(text) for _, text, _ in evidence_cols):  # numbers written as text
        applied["numbers"] = fmt.describe() + (f" ({' and '.join(fmt.detected)} detected)" if fmt.detected else "")
        if "decimal" in fmt.detected and fmt.decimal == ",":
            conversions.append("detected:decimal comma")

    out: dict[str, pd.Series] = {}
    invalid: dict[str, np.ndarray] = {}
    for canon, src in spec.columns.items():
        col = table.column(canon)
        c = cells[canon]
        k = kinds[canon]
        if col.kind in ("id", "text", "country", "nuts", "category"):
            text = k.as_text().str.strip()
            if col.kind in ("country", "nuts"):
                text = text.str.upper()
            elif col.kind == "category":
                text = _recode(text, spec.values.get(canon, {}))
            else:
                flagged = _formula_like(text)
                problems += _problems_for(flagged, rows, label, src, c,
                                          "formula-like text; kept as inert text, never evaluated", "warning")
            out[canon] = text
            invalid[canon] = np.zeros(len(c), dtype=bool)
        elif col.kind == "year":
            rule = fiscal if (table.name in PERIOD_TABLES and canon == "year") else None
            values, bad = _parse_year(k, rule)
            msg = "expected a calendar year such as 2019"
            if bad.any() and (rule is None or rule.is_calendar):
                fy = np.zeros(len(c), dtype=bool)
                fy[k.text] = k.texts().str.fullmatch(r"\d{4}\s*[/-]\s*\d{2,4}").fillna(False).to_numpy(bool)
                fy &= bad
                problems += _problems_for(fy, rows, label, src, c,
                                          msg + " (a fiscal year like '2019/20' needs fiscal_year_start)")
                problems += _problems_for(bad & ~fy, rows, label, src, c, msg)
            elif bad.any():
                problems += _problems_for(bad, rows, label, src, c, "expected a fiscal year such as 2019 or 2019/20")
            out[canon] = values
            invalid[canon] = bad
        elif col.kind in ("money", "number"):
            values = np.full(len(c), np.nan)
            bad = np.zeros(len(c), dtype=bool)
            if k.text.any() and not undecided:
                parsed, bad_text = numbers.parse(k.texts(), fmt)
                values[k.text] = parsed.to_numpy(dtype="float64", na_value=np.nan)
                bad[k.text] = bad_text
                problems += _problems_for(bad, rows, label, src, c, f"expected a number (with a {fmt.describe()})")
            elif k.text.any():
                bad = k.text.copy()  # the column-level problem above says why
            if k.number.any():
                values[k.number] = k.numbers()
            infinite = np.isinf(values)  # 1e309 as text, inf in a typed file
            if infinite.any():
                problems += _problems_for(infinite, rows, label, src, c, NOT_FINITE)
                values[infinite] = np.nan
                bad |= infinite
            other = c.notna().to_numpy() & ~k.text & ~k.number
            if other.any():  # a date or anything else where a number belongs
                problems += _problems_for(other, rows, label, src, c, "expected a number")
                bad |= other
            out[canon] = pd.Series(values, dtype="float64")
            invalid[canon] = bad
        elif col.kind == "date":
            parsed, bad = _parse_date(k, spec.date_format)
            shown = spec.date_format.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
            problems += _problems_for(bad, rows, label, src, c, f"expected a date as {shown}")
            out[canon] = parsed
            invalid[canon] = bad
    frame = pd.DataFrame(out)
    frame["_row"] = rows
    if fiscal is not None and not fiscal.is_calendar and table.name in PERIOD_TABLES and "year" in spec.columns:
        applied["fiscal_year"] = fiscal.describe()
        conversions.append(f"fiscal:{fiscal.start_month}")
    if spec.date_format != "%Y-%m-%d" and any(table.column(c).kind == "date" for c in spec.columns):
        applied["date_format"] = spec.date_format

    money = [c for c in spec.columns if table.column(c).kind == "money"]
    if money and spec.scale != 1.0:
        for c in money:
            frame[c] = frame[c] * spec.scale
        conversions.append(f"scale:{spec.scale:g}")
        applied["scale"] = spec.scale
    if money and currency != "EUR":
        year_col, year = _conversion_year(frame, table)
        rate = year.map(fx).astype("float64")
        lo = window[0] if window[0] is not None else -(10**9)
        hi = window[1] if window[1] is not None else 10**9
        in_window = (year >= lo) & (year <= hi)  # a year outside the window is reported as such
        if year_col not in ("year", "founded_year"):  # (order dates are not checked against the window)
            in_window = year.notna()
        no_rate = (year.notna() & rate.isna() & in_window.fillna(False)).to_numpy(dtype=bool)
        for y in sorted({int(v) for v in year[no_rate]}):
            i = int(np.flatnonzero(no_rate & (year == y).fillna(False).to_numpy(dtype=bool))[0])
            problems.append(Problem(label, f"no {currency} rate for {y} in the region's 'fx' (units per EUR); "
                                    "add it to the config", row=int(rows[i]), column=spec.columns[year_col],
                                    value=display(cells[year_col].iloc[i])))
        for c in money:
            frame[c] = frame[c] / rate
        conversions.append(f"fx:{currency}")
        used = sorted({int(y) for y in year.dropna().unique()} & set(fx))
        applied["currency"] = f"{currency} converted to EUR (divided by {currency} per EUR of the row's year)"
        applied["fx_rates"] = {y: fx[y] for y in used}
    return Mapped(frame, problems, label, dict(spec.columns), cells, invalid, applied, conversions)


def _recode(text: pd.Series, labels: dict[str, str]) -> pd.Series:
    """A category column in canonical values: the file's ``labels`` recoded (matched ignoring
    case and surrounding spaces), then lower case."""
    folded = {" ".join(k.split()).casefold(): v for k, v in labels.items()}
    key = text.str.split().str.join(" ").str.casefold()
    out = key.map(folded) if folded else key
    return out.where(out.notna() | text.isna(), key).astype("string")


def _conversion_year(frame: pd.DataFrame, table: Table) -> tuple[str, pd.Series]:
    """The column and calendar year whose exchange rate converts a row's money."""
    if "year" in frame:
        return "year", frame["year"]
    if "order_date" in frame:
        return "order_date", frame["order_date"].dt.year.astype("Int64")
    if "founded_year" in frame:
        return "founded_year", frame["founded_year"]
    if "stage_date" in frame:
        return "stage_date", frame["stage_date"].dt.year.astype("Int64")
    raise AssertionError(f"table {table.name} has money but no year to convert it at")  # schema bug
