"""Read one input file (CSV, Excel, Parquet) into a frame of raw cells.

Nothing is interpreted here beyond what the file format itself says: a CSV cell comes back as
text, an Excel or Parquet cell as the number, text or date it holds, and an empty cell as
``None``. Parsing numbers, years and dates is the mapper's job, where each failure can be
reported with its row. ``source_rows`` gives, for each data row, the line a user sees when
opening the file (1 = first line; a quoted value spanning several lines counts them all, and
the row is the line the record starts on). For Parquet, which has no lines, it is the record
number (1 = first record).

What a reader could not be told by the config it detects, and records in ``settings``:
the CSV delimiter (the candidate that splits the header and the first rows into the same
number of fields) and the encoding (a byte-order mark; else UTF-8 if the bytes are valid
UTF-8; else the region's legacy code page).
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import FileSpec
from ..errors import InputDataError, Problem, os_reason

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", " ": "space"}
#: Countries whose legacy Windows code page is cp1250 (central Europe); elsewhere cp1252.
CP1250_COUNTRIES = frozenset({"CZ", "PL", "SK", "HU", "SI", "HR", "RO", "BA", "RS", "ME", "MK", "AL"})
MAX_LISTED = 20  # problems of one kind listed per file before "N more"
TOP_ROWS = 30  # rows kept for hints (where the header really is)
#: The largest input file read (bytes). Files are read into memory whole; a bigger one is
#: refused with a message rather than left to exhaust the machine's memory.
MAX_INPUT_BYTES = 20 * 1024**3

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class RawTable:
    """Cells as found, with the user-visible row number of each data row."""

    frame: pd.DataFrame  # object columns of str / int / float / date / None
    source_rows: np.ndarray  # int64, aligned with frame
    label: str  # how the file is named in messages
    header_row: int | None = None  # line of the header (None for Parquet)
    top_rows: tuple[tuple[str, ...], ...] = ()  # the first rows as text, for hints
    problems: tuple[Problem, ...] = ()  # found while reading, reading went on (ragged rows)
    settings: dict[str, Any] = field(default_factory=dict)  # how the file was read
    rows_read: int = 0  # records below the header, blank ones included
    blank_rows: int = 0  # of which entirely blank (skipped)


class ReadError(InputDataError):
    """Carries the problem(s) that make the whole file unusable (a user error: exit 2)."""

    def __init__(self, problems: Problem | list[Problem]):
        super().__init__([problems] if isinstance(problems, Problem) else list(problems))
        self.problem = self.problems[0]


# --- cells ------------------------------------------------------------------------------------


def display(value: Any) -> str | None:
    """A cell as the user would recognise it in a message."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (_dt.datetime, pd.Timestamp)):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.strftime("%Y-%m-%d")
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _excel_cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        return s or None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (int, float, _dt.date, _dt.datetime)):
        return v
    if isinstance(v, _dt.time):
        return v.isoformat()
    return str(v).strip() or None


def _header_names(cells: list[Any]) -> list[str]:
    return ["" if c is None else (display(c) or "").strip().lstrip("\ufeff") for c in cells]


def _check_header(columns: list[str], label: str, header_row: int | None) -> None:
    first: dict[str, int] = {}
    for pos, name in enumerate(columns, start=1):
        if name == "":
            continue
        if name in first:
            raise ReadError(
                Problem(label, f"duplicated column name in the header (columns {first[name]} and {pos}); "
                        "each column needs a unique name", row=header_row, column=name)
            )
        first[name] = pos


# --- CSV --------------------------------------------------------------------------------------


def _looks_binary(head: bytes) -> str | None:
    """Why ``head`` is not delimited text, or None."""
    if head.startswith(b"PK\x03\x04"):
        return "is a zip archive (an .xlsx workbook?), not delimited text; check the path and its extension"
    if head.startswith(b"PAR1"):
        return "is a Parquet file, not delimited text; name it .parquet or check the path"
    if b"\x00" in head:
        return "file is binary, not delimited text; check the path and format"
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13)) + head.count(0x7F)
    if controls > max(2, len(head) // 100):
        return "file is binary, not delimited text; check the path and format"
    return None


def _decode(data: bytes, spec: FileSpec, label: str, country: str) -> tuple[str, str]:
    """Text and a note of the encoding used (``'cp1250 (detected: not UTF-8)'``)."""
    declared = spec.encoding
    bom = next((enc for mark, enc in _BOMS if data.startswith(mark)), None)
    if declared == "auto" and bom is not None:
        candidates = [(bom, f"{bom.removesuffix('-sig')} (byte-order mark)")]
    elif declared == "auto":
        why = _looks_binary(data[:65536])
        if why:
            raise ReadError(Problem(label, why))
        legacy = "cp1250" if country in CP1250_COUNTRIES else "cp1252"
        candidates = [("utf-8", "utf-8 (detected)"), (legacy, f"{legacy} (detected: not UTF-8)"),
                      ("latin-1", "latin-1 (detected: not UTF-8)")]
    else:
        if not codecs.lookup(declared).name.startswith(("utf-16", "utf-32")):  # those hold NUL bytes
            why = _looks_binary(data[:65536])
            if why:
                raise ReadError(Problem(label, why))
        enc = "utf-8-sig" if codecs.lookup(declared).name == "utf-8" else declared
        candidates = [(enc, declared)]
    for i, (enc, note) in enumerate(candidates):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as exc:
            if i + 1 < len(candidates):
                continue
            line = data[: exc.start].count(b"\n") + 1
            byte = data[exc.start : exc.start + 1].hex()
            raise ReadError(Problem(
                label, f"cannot be decoded as {declared if declared != 'auto' else enc} (byte 0x{byte}); "
                "set 'encoding' for this file (e.g. 'utf-8', 'cp1252', 'cp1250') or 'auto'", row=line)) from None
        return text.removeprefix("\ufeff"), note
    raise AssertionError("unreachable")  # pragma: no cover


def _header_hint(top: tuple[tuple[str, ...], ...], wanted: set[str], header_row: int, unit: str) -> Problem | None:
    """If the header row lacks the mapped columns but another of the first rows has them all."""
    if not wanted or header_row > len(top) or wanted <= {c.strip() for c in top[header_row - 1]}:
        return None
    for i, row in enumerate(top, start=1):
        if wanted <= {c.strip() for c in row}:
            return Problem("", f"the mapped columns are not on {unit} {header_row} but on {unit} {i}: "
                           f"set header_row = {i}", row=header_row)
    return None


def _sniff_delimiter(sample: str, head: str = "", wanted: set[str] | frozenset[str] = frozenset()) -> str | None:
    """The delimiter that splits the header and the first rows into the same number (> 1) of fields.

    A delimiter that shows every mapped column name in one of the file's first rows wins.
    """
    if wanted:
        for d in DELIMITERS:
            rows = csv.reader(io.StringIO(head, newline=""), delimiter=d, strict=False)
            if any(wanted <= {c.strip() for c in r} for r, _ in zip(rows, range(TOP_ROWS))):
                return d
    best: tuple[float, int] | None = None
    choice = None
    for d in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=d, strict=False)]
        except csv.Error:
            continue
        rows = [r for r in rows[:-1] if any(f.strip() for f in r)] if len(rows) > 2 else \
            [r for r in rows if any(f.strip() for f in r)]
        if not rows or len(rows[0]) < 2:
            continue
        n = len(rows[0])
        rest = rows[1:]
        consistency = sum(len(r) == n for r in rest) / len(rest) if rest else 1.0
        score = (consistency, n)
        if best is None or score > best:
            best, choice = score, d
    return choice


def csv_layout(text: str, spec: FileSpec, label: str) -> tuple[io.StringIO, str, bool, tuple]:
    """Where a CSV text's header is and how its cells are separated: ``(buffer at the header
    line, delimiter, whether it was detected, the top rows)``. The delimiter is sniffed from the
    first 64 kB below the lines above the header; a header that is not where ``header_row``
    says raises ReadError with a hint."""
    buf = io.StringIO(text, newline="")
    for n in range(1, spec.header_row):
        if buf.readline() == "":
            raise ReadError(Problem(label, f"has {n - 1} line(s); header expected on line {spec.header_row}"))
    start = buf.tell()
    delimiter = spec.delimiter
    detected = delimiter is None
    wanted = set(spec.columns.values())
    if delimiter is None:
        delimiter = _sniff_delimiter(text[start : start + 65536], text[:65536], wanted) or ","
    top = tuple(tuple(r) for r, _ in zip(csv.reader(io.StringIO(text[:65536], newline=""), delimiter=delimiter,
                                                       strict=False), range(TOP_ROWS)))
    if (hint := _header_hint(top, wanted, spec.header_row, "line")) is not None:
        raise ReadError(Problem(label, hint.message, row=hint.row))
    return buf, delimiter, detected, top


def csv_header(rec: list[str], label: str, header_row: int) -> list[str]:
    """The column names of a header record (ReadError for a blank or unusable one)."""
    if not rec or not "".join(rec).strip():
        raise ReadError(Problem(label, "blank line where the header (column names) is expected; "
                                "remove it or set 'header_row'", row=header_row))
    header = _header_names(rec)
    _check_header(header, label, header_row)
    return header


def csv_settings(encoding_note: str, delimiter: str, detected: bool, header_row: int) -> dict[str, Any]:
    """How a CSV file was read, as the manifest records it."""
    return {"format": "csv", "encoding": encoding_note,
            "delimiter": DELIMITER_NAMES.get(delimiter, repr(delimiter)) + (" (detected)" if detected else ""),
            "header_row": header_row}


def _read_csv(path: Path, spec: FileSpec, label: str, country: str) -> RawTable:
    data = path.read_bytes()
    if not data.strip(b" \t\r\n\x0c"):
        raise ReadError(Problem(label, "file is empty; expected a header line and data rows"))
    text, encoding_note = _decode(data, spec, label, country)
    if not text.strip():
        raise ReadError(Problem(label, "file is empty; expected a header line and data rows"))
    buf, delimiter, detected, top = csv_layout(text, spec, label)
    head_reader = csv.reader(buf, delimiter=delimiter, strict=False)
    try:
        rec = next(head_reader)
    except StopIteration:
        raise ReadError(Problem(label, f"has no line {spec.header_row}; header expected there")) from None
    except csv.Error as exc:
        raise ReadError(Problem(label, f"header cannot be parsed as CSV ({exc})", row=spec.header_row)) from None
    header = csv_header(rec, label, spec.header_row)
    first_line = spec.header_row + head_reader.line_num  # line of the first record below the header
    body = text[buf.tell():]
    parsed = _fast_records(body, delimiter, len(header), first_line)
    if parsed is None:
        parsed = _slow_records(body, delimiter, len(header), first_line, label)
    columns, rows, problems, rows_read, blank = parsed
    if not len(rows) and not problems:
        raise ReadError(Problem(label, "header but no data rows below it; expected at least one row",
                                row=spec.header_row))
    frame = pd.DataFrame({h: col for h, col in zip(header, columns) if h})
    settings = csv_settings(encoding_note, delimiter, detected, spec.header_row)
    return RawTable(frame, rows, label, spec.header_row, top, tuple(problems), settings,
                    rows_read=rows_read, blank_rows=blank)


Records = tuple[list[pd.Series], np.ndarray, list[Problem], int, int]  # columns, rows, problems, read, blank


def _text_column(values: Any) -> pd.Series:
    """Cells as text ('str' dtype): surrounding spaces stripped, empty -> missing."""
    s = pd.Series(values, dtype="str").str.strip()
    return s.mask(s == "")


def _fast_records(body: str, delimiter: str, width: int, first_line: int) -> Records | None:
    """pyarrow's reader, for files whose every record is one line; None when that is not so.

    Without quote characters (and without lone carriage returns) a record cannot span lines,
    so the record numbers map to the non-empty lines. Anything irregular (a row with the
    wrong number of fields, a line of spaces) falls back to the slow reader, which reports it.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if '"' in body or body.count("\r") != body.count("\r\n") or not body.strip():
        return None
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    data = body.encode("utf-8")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False, newlines_in_values=False,
                                             ignore_empty_lines=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, null_values=[]),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    if invalid:
        return None
    # the line of each record: the non-empty lines of the body, in order
    raw = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(raw == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(raw)]))
    lengths = ends - starts
    cr = (lengths > 0) & (raw[np.maximum(ends - 1, 0)] == 13)
    lengths = lengths - cr
    lines = np.flatnonzero(lengths > 0) + first_line
    if len(lines) != table.num_rows:
        return None
    columns = [_text_column(table.column(i).to_pandas()) for i in range(width)]
    blank_rec = np.logical_and.reduce([c.isna().to_numpy() for c in columns]) if columns else np.zeros(0, bool)
    keep = ~blank_rec
    rows = lines[keep].astype("int64")
    last = int(rows[-1]) if len(rows) else first_line - 1
    blank = (last - first_line + 1) - len(rows)  # empty lines and blank records above the last row
    columns = [c[keep].reset_index(drop=True) for c in columns]
    return columns, rows, [], len(rows) + blank, blank


@dataclass
class RecordCount:
    """What :func:`csv_records` has seen so far: blank and ragged records (the first
    :data:`MAX_LISTED` ragged ones listed), and the last record with its first line."""

    records: int = 0
    blank: int = 0
    ragged: int = 0
    ragged_listed: list[Problem] = field(default_factory=list)
    last_start: int = 0
    last_record: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.records + self.blank + self.ragged


def csv_records(lines: Iterable[str], delimiter: str, width: int, first_line: int, label: str,
                count: RecordCount) -> Iterator[tuple[int, list[str]]]:
    """The csv module, record by record: ``(file line, cells)`` of each data record (quoted
    values over several lines, trailing empty cells cut), blank records and records with the
    wrong number of fields skipped and counted in ``count``. Raises ReadError where the csv
    module gives up; :func:`check_closed` afterwards finds a quote never closed."""
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    pending_blank = prev = 0
    count.last_start = first_line
    try:
        for rec in reader:
            line = first_line + prev
            prev = reader.line_num
            count.last_start, count.last_record = line, rec
            if not rec or not "".join(rec).strip():
                pending_blank += 1
                continue
            count.blank += pending_blank
            pending_blank = 0
            if len(rec) != width:
                if len(rec) > width and not "".join(rec[width:]).strip():
                    rec = rec[:width]  # trailing delimiters: empty cells beyond the header
                else:
                    count.ragged += 1
                    if count.ragged <= MAX_LISTED:
                        count.ragged_listed.append(Problem(
                            label, f"row has {len(rec)} field(s) but the header has {width}; "
                            f"check the delimiter ({delimiter!r}) and the quoting of values that contain it",
                            row=line))
                    continue
            count.records += 1
            yield line, rec
    except csv.Error as exc:
        raise ReadError(Problem(label, f"cannot be parsed as CSV near this line ({exc}); "
                                "is a quote (\") left open?", row=first_line + prev)) from None


def check_closed(count: RecordCount, quotes: int, label: str) -> None:
    """Raise ReadError when the last record swallowed the rest of the file: it holds a line
    break and the body has an odd number of quotes."""
    if any("\n" in f or "\r" in f for f in count.last_record) and quotes % 2 == 1:
        raise ReadError(Problem(label, "a quoted value is never closed (an unmatched '\"'); "
                                "everything after it was read as one cell", row=count.last_start))


def _slow_records(body: str, delimiter: str, width: int, first_line: int, label: str) -> Records:
    """The csv module, record by record: quoted values over several lines, ragged rows."""
    count = RecordCount()
    records: list[list[str]] = []
    rows: list[int] = []
    for line, rec in csv_records(io.StringIO(body, newline=""), delimiter, width, first_line, label, count):
        records.append(rec)
        rows.append(line)
    check_closed(count, body.count('"'), label)
    problems = list(count.ragged_listed)
    if count.ragged > MAX_LISTED:
        problems.append(Problem(label, f"{count.ragged - MAX_LISTED} more row(s) with the wrong number of fields"))
    cols = list(zip(*records)) if records else [()] * width
    columns = [_text_column(list(col)) for col in cols]
    return columns, np.asarray(rows, dtype="int64"), problems, count.rows_read, count.blank


# --- Excel ------------------------------------------------------------------------------------


def _read_excel(path: Path, spec: FileSpec, label: str) -> RawTable:
    import difflib

    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any failure here means "not a workbook"
        raise ReadError(Problem(label, "is not a readable .xlsx workbook")) from None
    try:
        names = list(book.sheetnames)
        sheet = spec.sheet if spec.sheet is not None else names[0]
        if sheet not in names:
            close = difflib.get_close_matches(sheet, names, n=1) or [
                n for n in names if n.strip().casefold() == sheet.strip().casefold()]
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ReadError(Problem(label, f"has no sheet {sheet!r}; sheets are {names}{hint}"))
        try:
            values = [list(r) for r in book[sheet].iter_rows(values_only=True)]
        except (MemoryError, OSError):
            raise
        except Exception as exc:  # noqa: BLE001 - XML cut short, a damaged zip member, ...
            raise ReadError(Problem(label, f"is not a readable Excel workbook: sheet {sheet!r} is damaged "
                                    f"({type(exc).__name__}); open and save it again in a spreadsheet "
                                    "program")) from None
    finally:
        book.close()
    label = f"{label} [{sheet}]"
    top = tuple(tuple(display(_excel_cell(v)) or "" for v in r) for r in values[:TOP_ROWS])
    if (hint := _header_hint(top, set(spec.columns.values()), spec.header_row, "row")) is not None:
        raise ReadError(Problem(label, hint.message, row=hint.row))
    header_idx = spec.header_row - 1
    if header_idx >= len(values) or not any(_excel_cell(v) is not None for v in values[header_idx]):
        if not any(any(_excel_cell(v) is not None for v in r) for r in values):
            raise ReadError(Problem(label, "sheet is empty; expected a header row and data rows"))
        raise ReadError(Problem(label, "blank row where the header (column names) is expected; "
                                "set 'header_row'", row=spec.header_row))
    header = _header_names(values[header_idx])
    _check_header(header, label, spec.header_row)
    keep = [i for i, h in enumerate(header) if h]
    body = values[header_idx + 1 :]
    cells = [[_excel_cell(r[i]) if i < len(r) else None for i in keep] for r in body]
    nonblank = [i for i, r in enumerate(cells) if any(v is not None for v in r)]
    last = nonblank[-1] + 1 if nonblank else 0
    formula_problems = _formula_problems(path, sheet, label, spec.header_row, keep, [header[i] for i in keep],
                                         cells, nonblank)
    if formula_problems:
        raise ReadError(formula_problems)
    if not nonblank:
        raise ReadError(Problem(label, "header but no data rows below it; expected at least one row",
                                row=spec.header_row))
    frame = pd.DataFrame([cells[i] for i in nonblank], columns=[header[i] for i in keep], dtype=object)
    rows = np.asarray([spec.header_row + 1 + i for i in nonblank], dtype="int64")
    settings = {"format": "xlsx", "sheet": sheet, "header_row": spec.header_row}
    return RawTable(frame, rows, label, spec.header_row, top, (), settings,
                    rows_read=last, blank_rows=last - len(nonblank))


def _formula_problems(path: Path, sheet: str, label: str, header_row: int, keep: list[int], names: list[str],
                      cells: list[list[Any]], nonblank: list[int]) -> list[Problem]:
    """Formula cells whose result was never saved: they would silently read as blank."""
    blanks = {(i, j) for i in nonblank for j, v in enumerate(cells[i]) if v is None}
    if not blanks:
        return []
    try:
        return _formula_cells(path, sheet, label, header_row, keep, names, blanks)
    except (MemoryError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - the formulas' XML is damaged
        return [Problem(label, f"is not a readable Excel workbook: sheet {sheet!r} is damaged "
                        f"({type(exc).__name__}); open and save it again in a spreadsheet program")]


def _formula_cells(path: Path, sheet: str, label: str, header_row: int, keep: list[int], names: list[str],
                   blanks: set[tuple[int, int]]) -> list[Problem]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found = []
        for i, row in enumerate(book[sheet].iter_rows(min_row=header_row + 1)):
            for j, col in enumerate(keep):
                if (i, j) in blanks and col < len(row) and getattr(row[col], "data_type", None) == "f":
                    found.append(Problem(label, "formula without a saved result (the file was not saved by a "
                                         "spreadsheet program); open and save it, or paste values",
                                         row=header_row + 1 + i, column=names[j], value=str(row[col].value)))
    finally:
        book.close()
    if len(found) > MAX_LISTED:
        found = found[:MAX_LISTED] + [Problem(label, f"{len(found) - MAX_LISTED} more formula cell(s) "
                                              "without a saved result")]
    return found


# --- Parquet ----------------------------------------------------------------------------------


def _read_parquet(path: Path, spec: FileSpec, label: str) -> RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception:  # noqa: BLE001
        raise ReadError(Problem(label, "is not a readable Parquet file")) from None
    names = [str(c) for c in table.column_names]
    _check_header(names, label, None)
    cols, undecodable = parquet_cells(table, names, label)
    if undecodable:
        more = len(undecodable) - MAX_LISTED
        raise ReadError(undecodable[:MAX_LISTED] + (
            [Problem(label, f"{more} more cell(s) of bytes that are not UTF-8 text")] if more > 0 else []))
    frame = pd.DataFrame(cols)
    blank = frame.isna().all(axis=1).to_numpy() if len(frame.columns) else np.zeros(len(frame), bool)
    rows = np.arange(1, len(frame) + 1, dtype="int64")[~blank]
    frame = frame[~blank].reset_index(drop=True)
    if not len(frame):
        raise ReadError(Problem(label, "has no data rows; expected at least one"))
    settings = {"format": "parquet"}
    return RawTable(frame, rows, label, None, (tuple(names),), (), settings,
                    rows_read=len(blank), blank_rows=int(blank.sum()))


def parquet_cells(table: Any, names: list[str], label: str, first: int = 0) -> tuple[dict[str, pd.Series],
                                                                                   list[Problem]]:
    """The cells of an Arrow table read from Parquet, one series per column, and the problems of
    binary cells that are not UTF-8 (column by column, in record order). ``first`` is the number
    of records before the table's first one in the file (a streamed read passes one batch at a
    time), so the problems name the record number in the file."""
    import pyarrow as pa

    cols: dict[str, pd.Series] = {}
    undecodable: list[Problem] = []
    for name, col in zip(names, table.columns):
        t = col.type
        if pa.types.is_dictionary(t):
            col = col.cast(t.value_type)
            t = t.value_type
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            col, bad = _binary_as_text(col)  # ids written as bytes: b'CON01' is the text CON01
            t = col.type
            undecodable += [Problem(label, "bytes that are not UTF-8 text; expected text", row=first + i + 1,
                                    column=name, value=v) for i, v in bad]
        # typed columns stay typed (one vectorised conversion, no Python object per cell);
        # a null, or a float NaN, is a blank cell either way
        if pa.types.is_integer(t):
            s = pd.Series(col.to_pandas(types_mapper={t: pd.Int64Dtype()}.get), dtype="Int64")
        elif pa.types.is_floating(t) or pa.types.is_decimal(t):
            s = pd.Series(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            text = pd.Series(col.to_pandas(), dtype="string").str.strip()
            s = text.mask(text == "")
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            s = pd.Series(col.to_pylist(), dtype=object)
        else:
            s = pd.Series([_excel_cell(v) for v in col.to_pylist()], dtype=object)
        cols[name] = s
    return cols, undecodable


def _binary_as_text(col: Any) -> tuple[Any, list[tuple[int, str]]]:
    """A binary Parquet column as UTF-8 text, and ``(record index, bytes shown)`` of the cells
    that are not UTF-8 (those become null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.cast(pa.binary()) if not pa.types.is_binary(col.type) else col
    try:
        return pc.cast(col, pa.string()), []  # validates the UTF-8
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    values, bad = [], []
    for i, v in enumerate(col.to_pylist()):
        try:
            values.append(None if v is None else v.decode("utf-8"))
        except UnicodeDecodeError:
            values.append(None)
            bad.append((i, repr(v)))
    return pa.chunked_array([pa.array(values, type=pa.string())]), bad


# --- entry point ------------------------------------------------------------------------------


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def read_raw(path: Path, spec: FileSpec, label: str, *, country: str = "") -> RawTable:
    """Read ``path`` as described by ``spec``; raise :class:`ReadError` naming what makes it unusable.

    ``country`` (the region's ISO code) chooses the legacy code page tried when an ``auto``
    encoded file is not UTF-8: cp1250 for central Europe, cp1252 elsewhere.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ReadError(Problem(label, "file not found; check 'path' in the config (relative to the config file)")) \
            from None
    except OSError as exc:  # a name too long, a symbolic-link loop, ...
        raise ReadError(Problem(label, f"cannot be opened: {os_reason(exc)}")) from None
    if stat.S_ISDIR(st.st_mode):
        raise ReadError(Problem(label, "is a folder; expected a file"))
    if not stat.S_ISREG(st.st_mode):  # reading a named pipe would wait forever
        raise ReadError(Problem(label, "is not a regular file (a named pipe, device or socket); expected a "
                                ".csv, .xlsx or .parquet file"))
    if st.st_size > MAX_INPUT_BYTES:
        raise ReadError(Problem(label, f"is {_size(st.st_size)}, above the limit of {_size(MAX_INPUT_BYTES)} "
                                "per input file; split it (e.g. by year) or keep only the programme's firms"))
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            return _read_csv(path, spec, label, country)
        if suffix in EXCEL_SUFFIXES:
            return _read_excel(path, spec, label)
        if suffix in PARQUET_SUFFIXES:
            return _read_parquet(path, spec, label)
    except PermissionError:
        raise ReadError(Problem(label, "cannot be opened: permission denied")) from None
    except MemoryError:
        raise ReadError(Problem(label, "is too large to read into memory: keep the firm tables on disk "
                                "with --engine duckdb (lab.engine = 'duckdb')")) from None
    except OSError as exc:
        raise ReadError(Problem(label, f"cannot be read: {os_reason(exc)}")) from None
    raise ReadError(Problem(label, f"unsupported file type {suffix!r}; expected .csv, .xlsx or .parquet"))
