"""Numbers written as text: which separators a file uses, and parsing them strictly.

Detection looks at every money and count cell of a file that is text (numbers an Excel or
Parquet file stores as numbers need no separators). A value tells the decimal separator only
when no other reading is possible:

- ``1,5`` / ``0,250`` / ``12345,678`` / ``1.234,56`` -> decimal comma;
- ``1.5`` / ``0.250`` / ``12345.678`` / ``1,234.56`` -> decimal point;
- ``1.234.567`` or ``1 234`` -> thousands separator ('.' or a space);
- ``1,234`` or ``1.234`` alone are ambiguous (1.234 or 1234).

If the values point both ways the file's numbers are inconsistent; if a comma is only ever
seen in ambiguous values the run stops and asks for ``decimal`` to be declared. Ambiguous
values with a point are read as a decimal point, the universal default for machine-written
files, unless the rest of the file shows the point to be a thousands separator.

Parsing is strict: a thousands separator is accepted only between groups of three digits,
so ``1.5`` is never read as 15.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

NAMES = {",": "comma", ".": "point", " ": "space", "'": "apostrophe", "": "none"}


@dataclass(frozen=True)
class NumberFormat:
    """The separators used to read a file's numbers, and which of them were detected."""

    decimal: str
    thousands: tuple[str, ...]
    detected: tuple[str, ...] = ()  # "decimal" and/or "thousands"

    def describe(self) -> str:
        dec = "decimal comma" if self.decimal == "," else "decimal point"
        if self.thousands:
            seps = " or ".join(f"'{t}'" if t != " " else "a space" for t in self.thousands)
            return f"{dec} and {seps} between thousands"
        return dec

    def to_dict(self) -> dict[str, object]:
        return {"decimal": self.decimal, "thousands": "".join(self.thousands), "detected": list(self.detected)}


Example = tuple[int, str, str]  # (row, text, column)


@dataclass(frozen=True)
class Evidence:
    """First example (row, text, column) of each kind of evidence, by separator."""

    decimal: dict[str, Example]
    thousands: dict[str, Example]
    ambiguous: dict[str, Example]


class FormatUndecided(Exception):
    """The separators cannot be told from the values; ``example`` is a value showing why."""

    def __init__(self, message: str, example: Example):
        self.message, self.example = message, example
        super().__init__(message)


def _arrow(text: pd.Series) -> pa.Array:
    """Text cells as an Arrow string array (nulls for missing), for pyarrow's vectorised regexes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text.astype("str"), type=pa.string(), from_pandas=True)
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, "[\u00a0\u202f]", " "))


def _normalise(text: pd.Series) -> pa.Array:
    import pyarrow.compute as pc

    return pc.replace_substring_regex(_arrow(text), r"^[+-]\s*", "")


def _fullmatch(t: pa.Array, pattern: str) -> np.ndarray:
    return _regex(t, f"^(?:{pattern})$")


def _regex(t: pa.Array, pattern: str) -> np.ndarray:
    import pyarrow.compute as pc

    hit = pc.fill_null(pc.match_substring_regex(t, pattern), False)
    return hit.to_numpy(zero_copy_only=False).astype(bool)


def starts_like(text: pd.Series, pattern: str) -> np.ndarray:
    """Where text cells match ``pattern`` at their start (missing: False), vectorised by pyarrow."""
    import pyarrow as pa

    if not len(text):
        return np.zeros(0, dtype=bool)
    return _regex(pa.array(text.astype("str"), type=pa.string(), from_pandas=True), f"^(?:{pattern})")


def isin(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """Where ``values`` (text) occur in ``pool`` (missing: False), vectorised by pyarrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a = pa.array(values.astype("str"), type=pa.string(), from_pandas=True)
    b = pa.array(pool.astype("str"), type=pa.string(), from_pandas=True)
    return pc.fill_null(pc.is_in(a, value_set=b), False).to_numpy(zero_copy_only=False).astype(bool)


def gather(columns: list[tuple[str, pd.Series, np.ndarray]]) -> Evidence:
    """Evidence about separators in text cells: ``(column, cells, rows)`` per column."""
    ev = Evidence({}, {}, {})
    for column, text, rows in columns:
        if len(text):
            _gather_one(ev, column, text.reset_index(drop=True), rows)
    return ev


def _gather_one(ev: Evidence, column: str, text: pd.Series, rows: np.ndarray) -> None:
    def first(pattern: str) -> Example | None:
        idx = np.flatnonzero(_fullmatch(t, pattern))
        return (int(rows[idx[0]]), str(text.iloc[idx[0]]), column) if len(idx) else None

    t = _normalise(text)
    has_sep = _regex(t, "[.,' ]")
    if not has_sep.any():
        return
    if not has_sep.all():  # only values with a separator tell anything
        keep = np.flatnonzero(has_sep)
        t, text, rows = t.take(keep), text.iloc[keep].reset_index(drop=True), rows[keep]
    for sep, other in ((",", "."), (".", ",")):
        e, o = re.escape(sep), re.escape(other)
        # decimal for sure: not 3 digits after it, or 4+ digits / a leading 0 / nothing before it
        clear = rf"\d*{e}(\d{{1,2}}|\d{{4,}})|\d{{4,}}{e}\d{{3}}|0\d*{e}\d{{3}}|{e}\d{{3}}"
        if (hit := first(clear)) is not None:
            ev.decimal.setdefault(sep, hit)
        if (hit := first(rf"[1-9]\d{{0,2}}{e}\d{{3}}")) is not None:
            ev.ambiguous.setdefault(sep, hit)
        if (hit := first(rf"\d{{1,3}}({e}\d{{3}}){{2,}}")) is not None:
            ev.thousands.setdefault(sep, hit)
        if (hit := first(rf"\d{{1,3}}({e}\d{{3}})+{o}\d+")) is not None:
            ev.thousands.setdefault(sep, hit)
            ev.decimal.setdefault(other, hit)
    for sep in (" ", "'"):
        e = re.escape(sep)
        if (hit := first(rf"\d{{1,3}}({e}\d{{3}})+([.,]\d+)?")) is not None:
            ev.thousands.setdefault(sep, hit)
            for d in (",", "."):
                if (h2 := first(rf"\d{{1,3}}({e}\d{{3}})+{re.escape(d)}\d+")) is not None:
                    ev.decimal.setdefault(d, h2)


def resolve(ev: Evidence, *, decimal: str, thousands: str) -> NumberFormat:
    """The file's separators: declared ones as given, ``"auto"`` ones from the evidence."""
    detected: list[str] = []
    if decimal == "auto":
        cands = dict(ev.decimal)
        for t, hit in ev.thousands.items():
            if t in ".,":
                cands.setdefault("," if t == "." else ".", hit)
        if len(cands) > 1:
            a, b = sorted([cands[","], cands["."]])
            raise FormatUndecided(
                f"numbers use both ',' and '.' as decimal separator (this {a[1]!r} and {b[1]!r} in column "
                f"'{b[2]}', row {b[0]}); declare 'decimal' (and 'thousands') for this file", a)
        if cands:
            decimal = next(iter(cands))
            detected.append("decimal")
        elif "," in ev.ambiguous:
            ex = ev.ambiguous[","]
            raise FormatUndecided(
                f"cannot tell the decimal separator: {ex[1]!r} may be {ex[1].replace(',', '.')} or "
                f"{ex[1].replace(',', '')}; declare decimal = ',' or '.' (and 'thousands') for this file", ex)
        else:
            decimal = "."
    if thousands == "auto":
        if decimal in ev.thousands:
            ex = ev.thousands[decimal]
            raise FormatUndecided(
                f"{ex[1]!r} uses {decimal!r} between thousands, but {decimal!r} is the decimal separator; "
                "declare 'decimal' and 'thousands' for this file", ex)
        seps = set(ev.thousands)
        other = "," if decimal == "." else "."
        if other in ev.ambiguous:
            seps.add(other)
        thousands_t = tuple(sorted(seps))
        if thousands_t:
            detected.append("thousands")
    else:
        thousands_t = (thousands,) if thousands else ()
    return NumberFormat(decimal, thousands_t, tuple(detected))


def parse(text: pd.Series, fmt: NumberFormat) -> tuple[pd.Series, np.ndarray]:
    """Parse text cells with ``fmt``; return float values (NaN where bad) and the bad mask.

    A well-formed number too large for a float (``1e309``) is not bad here but comes back as
    ``inf``: the caller reports it as not finite.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(text):
        return pd.Series([], dtype="float64"), np.zeros(0, dtype=bool)
    s = _arrow(text)
    d = re.escape(fmt.decimal)
    if fmt.thousands:
        t = "[" + "".join(re.escape(x) for x in fmt.thousands) + "]"
        body = rf"(\d{{1,3}}({t}\d{{3}})+|\d+)({d}\d*)?|{d}\d+"
    else:
        body = rf"\d+({d}\d*)?|{d}\d+"
    pattern = rf"[+-]?\s?({body})"
    if fmt.decimal == ".":
        pattern += r"|[+-]?(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+"
    ok = _fullmatch(s, pattern)
    clean = pc.replace_substring_regex(s, r"\s|^\+", "")
    for x in fmt.thousands:
        if x != " ":
            clean = pc.replace_substring(clean, x, "")
    if fmt.decimal == ",":
        clean = pc.replace_substring(clean, ",", ".")
    clean = pc.if_else(pa.array(ok), clean, pa.scalar(None, pa.string()))
    try:
        values = pc.cast(clean, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # a form the pattern lets through but Arrow does not read: ask pandas
        values = pd.to_numeric(pd.Series(clean.to_pylist(), dtype="object"), errors="coerce").to_numpy(float)
    values = values.astype("float64")
    bad = ~ok
    values[bad] = np.nan  # a well-formed number beyond the float range (1e309) stays +-inf
    return pd.Series(values, dtype="float64"), bad
