"""Read one input file (CSV, Excel, Parquet) into a frame of raw cells.

Every cell comes back as text (or ``None`` for an empty cell), so nothing is guessed yet:
parsing numbers, years and dates is the mapper's job, where each failure can be reported
with its row. ``source_rows`` gives, for each data row, the line number a user sees when
opening the file (1 = first line).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..config import FileSpec
from ..errors import Problem

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


@dataclass(frozen=True)
class RawTable:
    """Cells as text, with the user-visible row number of each data row."""

    frame: pd.DataFrame  # object dtype; str or None
    source_rows: pd.Series  # int, aligned with frame
    label: str  # how the file is named in messages


class ReadError(Exception):
    """Carries one Problem; turned into InputDataError by the caller."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def _cells_as_text(df: pd.DataFrame) -> pd.DataFrame:
    def one(v: object) -> str | None:
        if v is None:
            return None
        if isinstance(v, float):
            if v != v:  # NaN
                return None
            return repr(int(v)) if v.is_integer() else repr(v)
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%d")
        if hasattr(v, "isoformat") and not isinstance(v, str):
            return v.isoformat()[:10]
        s = str(v).strip()
        return s if s != "" else None

    return df.astype(object).map(one) if len(df.columns) else df


def _check_header(columns: list[str], label: str, header_row: int) -> None:
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise ReadError(
                Problem(label, "duplicated column name in the header; each column needs a unique name",
                        row=header_row, column=name)
            )
        seen.add(name)


def _read_csv(path: Path, spec: FileSpec, label: str) -> RawTable:
    data = path.read_bytes()
    if not data.strip():
        raise ReadError(Problem(label, "file is empty; expected a header line and data rows"))
    if b"\x00" in data[:4096]:
        raise ReadError(Problem(label, "file is binary, not delimited text; check the path and format"))
    try:
        text = data.decode(spec.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        pos = getattr(exc, "start", None)
        row = data[:pos].count(b"\n") + 1 if pos is not None else None
        raise ReadError(
            Problem(label, f"cannot be decoded as {spec.encoding}; set 'encoding' for this file", row=row)
        ) from None
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    header_idx = spec.header_row - 1
    if header_idx >= len(lines):
        raise ReadError(Problem(label, f"has {len(lines)} line(s); header expected on line {spec.header_row}"))
    delimiter = spec.delimiter
    if delimiter is None:
        sample = "\n".join(lines[header_idx : header_idx + 20])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    body = "\n".join(lines[header_idx:])
    try:
        df = pd.read_csv(
            io.StringIO(body),
            sep=delimiter,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="python",
        )
    except pd.errors.ParserError as exc:
        raise ReadError(Problem(label, f"cannot be parsed as CSV with delimiter {delimiter!r}: {exc}")) from None
    except pd.errors.EmptyDataError:
        raise ReadError(Problem(label, "file has no header line")) from None
    columns = [str(c).strip() for c in df.iloc[0]]
    _check_header(columns, label, spec.header_row)
    df = df.iloc[1:].reset_index(drop=True)
    df.columns = columns
    # Line numbers: header line + 1 + position, skipping blank lines as pandas does.
    data_lines = [i for i, ln in enumerate(lines[header_idx + 1 :], start=spec.header_row + 1) if ln.strip()]
    if len(data_lines) != len(df):  # quoted multi-line cells: fall back to record numbers
        data_lines = list(range(spec.header_row + 1, spec.header_row + 1 + len(df)))
    return RawTable(_cells_as_text(df), pd.Series(data_lines, dtype="int64"), label)


def _read_excel(path: Path, spec: FileSpec, label: str) -> RawTable:
    import openpyxl  # noqa: F401  (clear error if missing)

    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception:  # noqa: BLE001 - any failure here means "not a workbook"
        raise ReadError(Problem(label, "is not a readable .xlsx workbook")) from None
    sheet = spec.sheet if spec.sheet is not None else book.sheet_names[0]
    if sheet not in book.sheet_names:
        raise ReadError(
            Problem(label, f"has no sheet {sheet!r}; sheets are {book.sheet_names}", column=None)
        )
    df = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    header_idx = spec.header_row - 1
    if header_idx >= len(df):
        raise ReadError(Problem(label, f"sheet {sheet!r} has no header on row {spec.header_row}"))
    header = [("" if v is None or (isinstance(v, float) and v != v) else str(v).strip()) for v in df.iloc[header_idx]]
    body = df.iloc[header_idx + 1 :].reset_index(drop=True)
    rows = pd.Series(range(spec.header_row + 1, spec.header_row + 1 + len(body)), dtype="int64")
    keep = [i for i, h in enumerate(header) if h != ""]
    body = body.iloc[:, keep]
    header = [header[i] for i in keep]
    _check_header(header, label, spec.header_row)
    body.columns = header
    cells = _cells_as_text(body)
    nonblank = cells.notna().any(axis=1).to_numpy()
    return RawTable(cells[nonblank].reset_index(drop=True), rows[nonblank].reset_index(drop=True), f"{label} [{sheet}]")


def _read_parquet(path: Path, spec: FileSpec, label: str) -> RawTable:
    import pyarrow.parquet as pq

    try:
        df = pq.read_table(path).to_pandas()
    except Exception:  # noqa: BLE001
        raise ReadError(Problem(label, "is not a readable Parquet file")) from None
    df.columns = [str(c) for c in df.columns]
    return RawTable(_cells_as_text(df), pd.Series(range(1, len(df) + 1), dtype="int64"), label)


def read_raw(path: Path, spec: FileSpec, label: str) -> RawTable:
    """Read ``path`` as described by ``spec``; raise :class:`ReadError` with one clear problem."""
    if not path.exists():
        raise ReadError(Problem(label, "file not found; check 'path' in the config (relative to the config file)"))
    if path.is_dir():
        raise ReadError(Problem(label, "is a folder; expected a file"))
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, spec, label)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, spec, label)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path, spec, label)
    raise ReadError(Problem(label, f"unsupported file type {suffix!r}; expected .csv, .xlsx or .parquet"))
