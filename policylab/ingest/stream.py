"""Streamed ingest of a firms table larger than memory (``ingest(cfg, store=..., stream=True)``).

The firms file is read in chunks of ``stream_rows`` records; each chunk goes through the same
:func:`~policylab.ingest.mapping.map_table` and :func:`~policylab.ingest.validate.check_table`
as a file read whole (with the chunk's real file rows, so every problem names its line) and is
appended to the store's part file by a :class:`~policylab.store.PartWriter` (a temporary file
in the partition folder, moved into place only when the whole run is free of errors). What
only the whole file can tell is kept as follows, so that the store, the problems and the
manifest are those of the whole-file read:

- **CSV encoding** (``encoding = "auto"``: UTF-8 unless any byte of the file says otherwise):
  a first pass decodes the whole file block by block with each candidate in turn; a declared
  encoding that fails is reported with the line and byte, as the whole-file reader does.
- **CSV records**: the whole-file reader takes a fast path (pyarrow, one record per line) unless
  the body holds a quote or a lone carriage return. The first pass counts those; without them a
  record is a line, so the body is cut into blocks of ``stream_rows`` lines, each read by the
  same fast reader (or the same csv-module reader when a block is irregular); with them, one
  csv-module reader runs over the whole text (records may span lines) and its records are
  batched. Blank records are counted as the whole-file reader does (only those above the last
  non-blank one), the ragged-row problems are listed up to the same limit across chunks, and an
  unclosed quote is told from the last record and the body's quote count.
- **Number format** (``decimal`` / ``thousands`` = ``"auto"``): detected from every money and
  count cell of the file. A pass over those columns gathers the same evidence
  (:func:`~policylab.ingest.numbers.gather`, column by column, first example first), resolves
  it once, and every chunk is mapped with the resolved separators declared. A file whose numbers
  are undecided is mapped as the whole-file path maps it (its text numbers unread, one problem).
- **Capped problem lists** ("N more row(s) with the same problem"): each chunk is mapped and
  checked with the caps lifted, and the lists are capped again over the whole file, in the
  order the whole-file path lists them.
- **Duplicate (firm_id, year)**: keys and file rows go to a temporary Parquet file; DuckDB
  (``memory_limit`` :data:`DUCKDB_MEMORY`, spilling to a temporary folder) finds the repeated
  keys once every chunk is read, and the first 20 are listed with the row they repeat, as
  ``check_table`` lists them (the per-chunk duplicate problems are dropped).
- **Links** (members, orders and survey answers name firms of the firms file): the IDs those
  small tables name are kept, each chunk marks the ones it holds (and, for the "leading zeros
  lost" hint, the firm IDs equal to one of them but for leading zeros), and
  :func:`~policylab.ingest.validate.check_links` runs on that subset of firm IDs.
- **Data-quality counts** (``rows_dropped``, ``missing_by_column``) are sums over chunks.
- **Pseudonyms** are a function of the ID and the key alone, so each chunk is pseudonymised on
  its own; only the check that no two IDs share a pseudonym (probability 2**-64 a pair) is per
  chunk, not over the whole file.

Read whole instead (the caller falls back to the whole-file path): Excel workbooks (openpyxl
reads a sheet whole), files that are not a regular file or of another type (the whole-file
reader reports them), and files whose numbers use two different thousands separators (the
config cannot declare that format for the chunks). Unlike the whole-file reader, a streamed
CSV or Parquet file is not refused above ``readers.MAX_INPUT_BYTES`` (that limit guards memory).

Cost: the CSV file is decoded once more (the encoding pass, C speed), and when ``decimal`` or
``thousands`` is left to be detected its money and count columns are read once more too
(declare both to skip that pass). Memory is bounded by the chunk (about 1.5 kB a record of a
six-column firms table, all transient), one Parquet row group being buffered (the part's row
groups are those a whole-table write makes, so small parts are byte for byte the same), the
member firms' rows and the IDs the other tables name: not by the file's size.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import FileSpec
from ..errors import Problem, UserError, os_reason
from ..schema import Table
from ..store import PartWriter, StagedPart
from . import mapping as _mapping
from . import numbers
from .mapping import FiscalRule, Mapped, _number_columns, map_table
from .pseudonym import pseudonymise
from .readers import (
    _BOMS,
    CP1250_COUNTRIES,
    CSV_SUFFIXES,
    MAX_LISTED,
    PARQUET_SUFFIXES,
    RawTable,
    ReadError,
    RecordCount,
    _check_header,
    _fast_records,
    _looks_binary,
    _slow_records,
    _text_column,
    check_closed,
    csv_header,
    csv_layout,
    csv_records,
    csv_settings,
    parquet_cells,
)
from .validate import check_table, table_schema

STREAM_ROWS = 1_000_000
LISTED = _mapping.MAX_PROBLEMS_PER_COLUMN  # problems listed per kind before "N more"
SCAN_BLOCK = 4 << 20  # bytes decoded at a time in the first pass
DUCKDB_MEMORY = "128MB"


class Fallback(Exception):
    """This file cannot be streamed: read it whole (the reason is the message)."""


# --- problem lists: lift the caps per chunk, cap again over the file --------------------------

def _more(label: str, n: int, column: str | None, severity: str) -> Problem:
    return Problem(label, f"{n} more row(s) with the same problem", column=column, severity=severity)


@dataclass
class _Group:
    listed: list[tuple[tuple, Problem]] = field(default_factory=list)  # (sort key, problem)
    count: int = 0


class _Problems:
    """A file's problems gathered chunk by chunk, listed at the end as the whole-file path lists
    them: the file's rows in order, problems without a row ("N more ...") first."""

    def __init__(self, label: str, spec: FileSpec, table: Table, check_rank: dict[tuple[str, str | None], tuple]):
        self.label = label
        self.columns = list(spec.columns.values())  # source columns, in the config's order
        self.check_rank = check_rank
        self.seq = 0
        self.ragged: list[Problem] = []
        self.ragged_count = 0
        self.first: list[tuple[tuple, Problem]] = []  # FormatUndecided, no-rate: once each
        self.once: set[str] = set()
        self.groups: dict[tuple, _Group] = {}
        self.map_order: dict[str | None, list[tuple]] = {}  # per column: map groups in code order
        self.errors = False

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def add_ragged(self, found: list[Problem], count: int) -> None:
        for p in found:
            if p.row is not None and len(self.ragged) < MAX_LISTED:
                self.ragged.append(p)
        self.ragged_count += count
        self.errors |= count > 0

    def add_once(self, p: Problem, first: bool = False) -> None:
        """A problem named once per file (at its first row): later chunks' copies are dropped."""
        if p.message in self.once:
            return
        self.once.add(p.message)
        self.first.append(((p.row or 0, 1, -1 if first else self._next()), p))
        self.errors |= p.severity == "error"

    def add_map(self, found: list[Problem]) -> None:
        """map_table's problems of one chunk (uncapped, in the order the code appends them)."""
        seen: dict[str | None, list[tuple]] = {}
        for p in found:
            key = ("map", p.message, p.column, p.severity)
            self._add(key, (p.row or 0, 1, self._next()), p)
            order = seen.setdefault(p.column, [])
            if key not in order:
                order.append(key)
        for column, order in seen.items():
            _merge_order(self.map_order.setdefault(column, []), order)

    def add_check(self, found: list[Problem]) -> None:
        for p in found:
            key = ("check", p.message, p.column, p.severity)
            self._add(key, (p.row or 0, 2, self._rank(key), self._next()), p)

    def add_group(self, key: tuple, listed: list[Problem], count: int) -> None:
        """A whole group computed over the file (duplicate keys): its first rows and its count."""
        g = self.groups.setdefault(key, _Group())
        for p in listed:
            g.listed.append(((p.row or 0, 2, self._rank(key), self._next()), p))
        g.count += count
        self.errors |= count > 0 and key[3] == "error"

    def _rank(self, key: tuple) -> tuple:
        _, message, column, severity = key
        return (0 if severity == "error" else 1, *self.check_rank.get((message, column), (10**6, 0)))

    def _add(self, key: tuple, sort: tuple, p: Problem) -> None:
        g = self.groups.setdefault(key, _Group())
        if len(g.listed) < LISTED:
            g.listed.append((sort, p))
        g.count += 1
        self.errors |= p.severity == "error"

    def result(self) -> list[Problem]:
        """The file's problems, as ``sorted(found, key=row)`` of the whole-file path lists them."""
        summaries: list[Problem] = []
        if self.ragged_count > MAX_LISTED:
            summaries.append(Problem(self.label, f"{self.ragged_count - MAX_LISTED} more row(s) with the wrong "
                                     "number of fields"))
        col_index = {c: i for i, c in enumerate(self.columns)}
        map_keys = [k for k in self.groups if k[0] == "map"]
        order = {k: (col_index.get(k[2], len(self.columns)), self.map_order.get(k[2], []).index(k)
                     if k in self.map_order.get(k[2], []) else 0) for k in map_keys}
        for k in sorted(map_keys, key=lambda k: order[k]):
            g = self.groups[k]
            if g.count > LISTED:
                summaries.append(_more(self.label, g.count - LISTED, k[2], k[3]))
        check_keys = [k for k in self.groups if k[0] == "check"]
        for k in sorted(check_keys, key=self._rank):
            g = self.groups[k]
            if g.count > LISTED:
                summaries.append(_more(self.label, g.count - LISTED, k[2], k[3]))
        listed = [(sort, p) for p in self.ragged for sort in [(p.row or 0, 0, 0)]]
        listed += self.first
        for g in self.groups.values():
            listed += g.listed
        listed.sort(key=lambda sp: sp[0])
        return summaries + [p for _, p in listed]


def _merge_order(known: list, seen: list) -> None:
    """Insert the new items of ``seen`` (a chunk's order) into ``known`` (the file's order so
    far) after their nearest predecessor in ``seen`` (else before their nearest successor)."""
    for i, item in enumerate(seen):
        if item in known:
            continue
        before = next((known.index(s) for s in reversed(seen[:i]) if s in known), None)
        if before is not None:
            known.insert(before + 1, item)
            continue
        after = next((known.index(s) for s in seen[i + 1:] if s in known), None)
        known.insert(after if after is not None else len(known), item)


def _check_ranks(table: Table, spec: FileSpec, columns: list[str], first_year: int | None,
                 last_year: int | None) -> dict[tuple[str, str | None], tuple]:
    """The order in which check_table lists its kinds of problem, from the schema (not the data):
    duplicate keys first, then column by column, a blank required cell before the column's checks."""
    schema, messages = table_schema(table, columns, first_year, last_year)
    ranks: dict[tuple[str, str | None], tuple] = {}
    for ci, canon in enumerate(columns):
        src = spec.columns.get(canon)
        names = ["not_nullable"] + [c.name for c in schema.columns[canon].checks]
        for j, check in enumerate(names):
            try:
                message = messages.get(check, f"fails the check {check!r}").format(canon=canon)
            except (KeyError, IndexError, ValueError):
                continue
            ranks.setdefault((message, src), (1 + ci, j))
    return ranks


# --- reading in chunks -------------------------------------------------------------------------


@dataclass
class Chunk:
    frame: pd.DataFrame  # raw cells, as RawTable.frame
    rows: np.ndarray  # file row of each record


class _Source:
    label: str
    header_row: int | None
    top: tuple[tuple[str, ...], ...]
    settings: dict[str, Any]
    names: list[str]
    rows_read: int
    blank_rows: int
    ragged_listed: list[Problem]
    ragged_count: int

    def chunks(self, rows: int) -> Iterator[Chunk]:  # pragma: no cover - interface
        raise NotImplementedError

    def finish(self) -> None:
        """Raise the ReadError only the end of the file can tell (no data rows, ...)."""


def _scan_encoding(path: Path, spec: FileSpec, label: str, country: str) -> tuple[str, str, dict[str, int]]:
    """The codec that decodes the whole file, its note for the settings (as ``_decode``), and
    counts over the decoded text: quotes, carriage returns, CR LF pairs.

    ``readers._decode`` decodes the file whole with each candidate in turn; this does the same
    block by block (a failing candidate's pass stops at the first bad byte).
    """
    with open(path, "rb") as fh:
        head = fh.read(65536)
    declared = spec.encoding
    bom = next((enc for mark, enc in _BOMS if head.startswith(mark)), None)
    if declared == "auto" and bom is not None:
        candidates = [(bom, f"{bom.removesuffix('-sig')} (byte-order mark)")]
    elif declared == "auto":
        why = _looks_binary(head)
        if why:
            raise ReadError(Problem(label, why))
        legacy = "cp1250" if country in CP1250_COUNTRIES else "cp1252"
        candidates = [("utf-8", "utf-8 (detected)"), (legacy, f"{legacy} (detected: not UTF-8)"),
                      ("latin-1", "latin-1 (detected: not UTF-8)")]
    else:
        if not codecs.lookup(declared).name.startswith(("utf-16", "utf-32")):
            why = _looks_binary(head)
            if why:
                raise ReadError(Problem(label, why))
        enc = "utf-8-sig" if codecs.lookup(declared).name == "utf-8" else declared
        candidates = [(enc, declared)]
    whitespace = b" \t\r\n\x0c"
    for i, (enc, note) in enumerate(candidates):
        dec = codecs.getincrementaldecoder(enc)("strict")
        counts = {"quotes": 0, "cr": 0, "crlf": 0}
        content = False
        text_content = False
        first = True
        last_cr = False
        offset = 0
        newlines = 0
        try:
            with open(path, "rb") as fh:
                while True:
                    block = fh.read(SCAN_BLOCK)
                    final = not block
                    buffered = dec.getstate()[0]
                    try:
                        text = dec.decode(block, final=final)
                    except UnicodeDecodeError as exc:
                        if i + 1 < len(candidates):
                            raise
                        data = buffered + block
                        line = newlines - buffered.count(b"\n") + data[: exc.start].count(b"\n") + 1
                        byte = data[exc.start : exc.start + 1].hex()
                        raise ReadError(Problem(
                            label, f"cannot be decoded as {declared if declared != 'auto' else enc} (byte "
                            f"0x{byte}); set 'encoding' for this file (e.g. 'utf-8', 'cp1252', 'cp1250') or "
                            "'auto'", row=line)) from None
                    offset += len(block)
                    newlines += block.count(b"\n")
                    content = content or bool(block.translate(None, whitespace))
                    if first and text:
                        text = text.removeprefix("\ufeff")
                        first = False
                    if text:
                        text_content = text_content or bool(text.strip())
                        counts["quotes"] += text.count('"')
                        counts["cr"] += text.count("\r")
                        counts["crlf"] += text.count("\r\n") + (1 if last_cr and text.startswith("\n") else 0)
                        last_cr = text.endswith("\r")
                    if final:
                        break
        except UnicodeDecodeError:
            continue
        if not content or not text_content:
            raise ReadError(Problem(label, "file is empty; expected a header line and data rows"))
        return enc, note, counts
    raise AssertionError("unreachable")  # pragma: no cover


class _CsvSource(_Source):
    """A CSV file read as ``readers._read_csv`` reads it, a chunk of records at a time."""

    def __init__(self, path: Path, spec: FileSpec, label: str, country: str):
        self.path, self.spec, self.label = path, spec, label
        self.codec, note, self.counts = _scan_encoding(path, spec, label, country)
        self.header_row = spec.header_row
        self.settings = {"format": "csv", "encoding": note}
        self.rows_read = self.blank_rows = self.ragged_count = 0
        self.ragged_listed = []
        self._last_rec: list[str] = []
        self._last_start = 0
        self._open()  # the header, the delimiter, the names (and their errors) before any chunk
        self._fh.close()

    def _open(self) -> None:
        spec, label = self.spec, self.label
        fh = open(self.path, encoding=self.codec, newline="", errors="strict")  # noqa: SIM115
        self._fh = fh
        lines = iter(fh)
        head_lines: list[str] = []
        eof = False
        prefix = 0  # characters of the lines above the header
        total = 0
        need = 65536
        while True:
            # the lines above the header and 64 kB of text below them (or the whole file): what
            # _read_csv looks at to find the delimiter and the header
            while not eof and (len(head_lines) < spec.header_row or total - prefix < need):
                line = next(lines, None)
                if line is None:
                    eof = True
                    break
                if not head_lines:
                    line = line.removeprefix("\ufeff")
                head_lines.append(line)
                total += len(line)
                if len(head_lines) < spec.header_row:
                    prefix = total
            text = "".join(head_lines)
            buf, delimiter, detected, top = csv_layout(text, spec, label)
            head_reader = csv.reader(buf, delimiter=delimiter, strict=False)
            try:
                rec = next(head_reader)
            except StopIteration:
                raise ReadError(Problem(label, f"has no line {spec.header_row}; header expected there")) from None
            except csv.Error as exc:
                if not eof:  # perhaps a quoted header longer than the text read so far
                    need *= 4
                    continue
                raise ReadError(Problem(label, f"header cannot be parsed as CSV ({exc})",
                                        row=spec.header_row)) from None
            if buf.tell() >= len(text) and not eof:  # a header record that may go on below the text read
                need *= 4
                continue
            break
        header = csv_header(rec, label, spec.header_row)
        self.header = header
        self.names = [h for h in header if h]
        self.top = top
        self.delimiter = delimiter
        self.settings = csv_settings(self.settings["encoding"], delimiter, detected, spec.header_row)
        self.first_line = spec.header_row + head_reader.line_num
        pos = buf.tell()
        above = text[:pos]
        self.body_quotes = self.counts["quotes"] - above.count('"')
        body_cr = self.counts["cr"] - above.count("\r")
        body_crlf = self.counts["crlf"] - above.count("\r\n")
        self.lines_mode = self.body_quotes == 0 and body_cr == body_crlf  # a record is a line
        self._body = itertools.chain(io.StringIO(text[pos:], newline=""), lines)

    def _frame(self, columns: list[pd.Series]) -> pd.DataFrame:
        return pd.DataFrame({h: col for h, col in zip(self.header, columns) if h})

    def chunks(self, rows: int) -> Iterator[Chunk]:
        self.rows_read = self.blank_rows = self.ragged_count = 0
        self.ragged_listed = []
        self._open()
        try:
            if self.lines_mode:
                yield from self._line_chunks(rows)
            else:
                yield from self._record_chunks(rows)
        except UnicodeDecodeError as exc:  # the file changed since the first pass
            raise ReadError(Problem(self.label, f"cannot be decoded as {self.codec} ({exc.reason})")) from None
        finally:
            self._fh.close()

    def _line_chunks(self, rows: int) -> Iterator[Chunk]:
        """Blocks of ``rows`` lines, each read as ``_read_csv`` reads a body (fast, else csv module)."""
        width = len(self.header)
        first = self.first_line
        pending = 0  # blank lines below the last non-blank record so far
        nonblank = blank = 0
        while True:
            block = list(itertools.islice(self._body, rows))
            if not block:
                break
            text = "".join(block)
            parsed = _fast_records(text, self.delimiter, width, first)
            if parsed is None:
                parsed = _slow_records(text, self.delimiter, width, first, self.label)
            columns, good, problems, read, blank_b = parsed
            nonblank_b = read - blank_b
            if nonblank_b:
                blank += pending + blank_b
                pending = len(block) - read
            else:
                pending += len(block)
            nonblank += nonblank_b
            ragged = nonblank_b - len(good)
            self.ragged_count += ragged
            self.ragged_listed += [p for p in problems if p.row is not None][: MAX_LISTED - len(self.ragged_listed)]
            first += len(block)
            self.rows_read, self.blank_rows = nonblank + blank, blank
            if len(good):
                yield Chunk(self._frame(columns), good)

    def _record_chunks(self, rows: int) -> Iterator[Chunk]:
        """``readers.csv_records`` over the whole body, its records handed out ``rows`` at a time."""
        width = len(self.header)
        count = RecordCount()
        records: list[list[str]] = []
        found: list[int] = []

        def seen() -> None:
            self.rows_read, self.blank_rows, self.ragged_count = count.rows_read, count.blank, count.ragged
            self.ragged_listed = list(count.ragged_listed)

        for line, rec in csv_records(self._body, self.delimiter, width, self.first_line, self.label, count):
            records.append(rec)
            found.append(line)
            if len(records) >= rows:
                seen()
                yield self._records(records, found, width)
                records, found = [], []
        check_closed(count, self.body_quotes, self.label)
        seen()
        if records:
            yield self._records(records, found, width)

    def _records(self, records: list[list[str]], found: list[int], width: int) -> Chunk:
        cols = list(zip(*records)) if records else [()] * width
        return Chunk(self._frame([_text_column(list(col)) for col in cols]), np.asarray(found, dtype="int64"))

    def finish(self) -> None:
        if not self.rows_read - self.blank_rows - self.ragged_count and not self.ragged_count:
            raise ReadError(Problem(self.label, "header but no data rows below it; expected at least one row",
                                    row=self.spec.header_row))


class _ParquetSource(_Source):
    """A Parquet file read as ``readers._read_parquet`` reads it, one batch of records at a time."""

    def __init__(self, path: Path, spec: FileSpec, label: str):
        import pyarrow.parquet as pq

        self.path, self.label = path, label
        try:
            with pq.ParquetFile(path) as pf:
                self.names = [str(c) for c in pf.schema_arrow.names]
        except Exception:  # noqa: BLE001
            raise ReadError(Problem(label, "is not a readable Parquet file")) from None
        _check_header(self.names, label, None)
        self.header_row = None
        self.top = (tuple(self.names),)
        self.settings = {"format": "parquet"}
        self.rows_read = self.blank_rows = self.ragged_count = 0
        self.ragged_listed = []

    def chunks(self, rows: int, columns: list[str] | None = None) -> Iterator[Chunk]:
        """Batches of ``rows`` records; with ``columns``, only those columns of every record
        (blank ones included: the number-format pass)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.rows_read = self.blank_rows = 0
        self.undecodable: dict[str, list[Problem]] = {}
        self.undecodable_count = 0
        try:
            pf = pq.ParquetFile(self.path)
        except Exception:  # noqa: BLE001
            raise ReadError(Problem(self.label, "is not a readable Parquet file")) from None
        with pf:
            batches = pf.iter_batches(batch_size=rows, columns=columns)
            while True:
                try:
                    batch = next(batches, None)
                except Exception:  # noqa: BLE001 - a damaged row group
                    raise ReadError(Problem(self.label, "is not a readable Parquet file")) from None
                if batch is None:
                    break
                table = pa.Table.from_batches([batch])
                if columns is not None:
                    cols, _ = parquet_cells(table, columns, self.label, first=self.rows_read)
                    first = self.rows_read
                    self.rows_read += table.num_rows
                    yield Chunk(pd.DataFrame(cols), np.arange(first + 1, self.rows_read + 1, dtype="int64"))
                    continue
                cols, bad = parquet_cells(table, self.names, self.label, first=self.rows_read)
                for p in bad:
                    kept = self.undecodable.setdefault(p.column or "", [])
                    if len(kept) < MAX_LISTED:
                        kept.append(p)
                self.undecodable_count += len(bad)
                frame = pd.DataFrame(cols)
                blank = frame.isna().all(axis=1).to_numpy() if len(frame.columns) else np.zeros(len(frame), bool)
                found = np.arange(self.rows_read + 1, self.rows_read + len(frame) + 1, dtype="int64")[~blank]
                self.rows_read += len(frame)
                self.blank_rows += int(blank.sum())
                if self.undecodable_count:
                    continue  # the file is refused at the end; read on for the list of cells
                if len(found):
                    yield Chunk(frame[~blank].reset_index(drop=True), found)

    def finish(self) -> None:
        if self.undecodable_count:
            listed = [p for name in self.names for p in self.undecodable.get(name, [])][:MAX_LISTED]
            more = self.undecodable_count - MAX_LISTED
            raise ReadError(listed + ([Problem(self.label, f"{more} more cell(s) of bytes that are not UTF-8 text")]
                                      if more > 0 else []))
        if self.rows_read - self.blank_rows == 0:
            raise ReadError(Problem(self.label, "has no data rows; expected at least one"))


def open_source(path: Path, spec: FileSpec, label: str, country: str) -> _Source:
    """The chunked reader of ``path``; Fallback when only the whole-file reader can read it."""
    try:
        st = os.stat(path)
    except OSError:
        raise Fallback("the whole-file reader reports the path") from None
    if not stat.S_ISREG(st.st_mode):
        raise Fallback("not a regular file")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _CsvSource(path, spec, label, country)
    if suffix in PARQUET_SUFFIXES:
        return _ParquetSource(path, spec, label)
    raise Fallback(f"{suffix} files are read whole")


@contextmanager
def _read_errors(label: str) -> Iterator[None]:
    """OS errors while streaming, reported as ``read_raw`` reports them."""
    try:
        yield
    except PermissionError:
        raise ReadError(Problem(label, "cannot be opened: permission denied")) from None
    except MemoryError:
        raise ReadError(Problem(label, "is too large to read into memory")) from None
    except OSError as exc:
        raise ReadError(Problem(label, f"cannot be read: {os_reason(exc)}")) from None


# --- the number format, from the whole file ---------------------------------------------------


def _masked(col: pd.Series, na_texts: list[str]) -> pd.Series:
    """A raw column with the ``missing_values`` texts blanked, as ``map_table`` does."""
    col = col.reset_index(drop=True)
    if na_texts:
        is_na = col.isin(na_texts).to_numpy(dtype=bool)
        if is_na.any():
            col = col.mask(is_na) if col.dtype != object else col.where(~is_na, None)
    return col


def number_format(source: _Source, spec: FileSpec, table: Table, rows: int) -> numbers.NumberFormat | \
        numbers.FormatUndecided | None:
    """The separators ``map_table`` would resolve for the whole file (None: nothing to detect)."""
    raw = RawTable(pd.DataFrame(columns=source.names), np.zeros(0, "int64"), source.label)
    num_cols = _number_columns(raw, spec, table)
    if not num_cols or (spec.decimal != "auto" and spec.thousands != "auto"):
        return None
    if any(spec.columns[c] not in source.names for c in num_cols):
        return None  # columns missing: map_table reports them
    na_texts = sorted({v.strip() for v in spec.missing_values})
    per_column = {c: numbers.Evidence({}, {}, {}) for c in num_cols}
    wanted = list(dict.fromkeys(spec.columns[c] for c in num_cols))
    chunks = source.chunks(rows, wanted) if isinstance(source, _ParquetSource) else source.chunks(rows)
    for chunk in chunks:
        for canon in num_cols:
            src = spec.columns[canon]
            k = _mapping.Cells.of(_masked(chunk.frame[src], na_texts))
            if not k.text.any():
                continue
            found = numbers.gather([(src, k.texts(), chunk.rows[k.text])])
            ev = per_column[canon]
            for kind in ("decimal", "thousands", "ambiguous"):
                for sep, example in getattr(found, kind).items():
                    getattr(ev, kind).setdefault(sep, example)
    merged = numbers.Evidence({}, {}, {})  # gather's order: column by column, first row first
    for canon in num_cols:
        for kind in ("decimal", "thousands", "ambiguous"):
            for sep, example in getattr(per_column[canon], kind).items():
                getattr(merged, kind).setdefault(sep, example)
    try:
        return numbers.resolve(merged, decimal=spec.decimal, thousands=spec.thousands)
    except numbers.FormatUndecided as exc:
        return exc


# --- the streamed table ----------------------------------------------------------------------


@dataclass
class Streamed:
    """What streaming one firms file gave: what ``_ingest_region`` takes from a file read whole."""

    problems: list[Problem]  # the file's problems, in the order of the file
    settings: dict[str, Any]
    rows_read: int = 0
    blank_rows: int = 0
    applied: dict[str, Any] = field(default_factory=dict)
    conversions: list[str] = field(default_factory=list)
    links: Mapped | None = None  # the firm IDs check_links needs (None: the columns are missing)
    members: pd.DataFrame | None = None  # the firm-years of member firms (stored columns)
    missing: dict[str, int] = field(default_factory=dict)  # blank cells per stored column
    staged: StagedPart | None = None
    read_error: bool = False


def stream_table(path: Path, spec: FileSpec, table: Table, label: str, *, country: str, fx: dict[int, float],
                 currency: str, fiscal: FiscalRule, window: tuple[int | None, int | None], key: bytes | None,
                 members: pd.Series, linked: pd.Series, private: list[str], writer: PartWriter | None,
                 rows: int = STREAM_ROWS) -> Streamed:
    """Read, map and check ``path`` (the firms table) chunk by chunk; append the canonical rows to
    ``writer`` (aborted on the first error). ``members``: the member firms' IDs (their rows are
    kept in memory); ``linked``: every firm ID the region's other tables name (for check_links).
    Raises :class:`Fallback` when the file must be read whole."""
    try:
        return _stream(path, spec, table, label, country=country, fx=fx, currency=currency, fiscal=fiscal,
                       window=window, key=key, members=members, linked=linked, private=private,
                       writer=writer, rows=rows)
    except ReadError as exc:
        if writer is not None:
            writer.abort()
        return Streamed(list(exc.problems), {}, read_error=True)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _guarded(chunks: Iterator[Chunk], label: str) -> Iterator[Chunk]:
    """``chunks``, with the OS errors of reading reported as ``read_raw`` reports them."""
    while True:
        with _read_errors(label):
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


def _stream(path: Path, spec: FileSpec, table: Table, label: str, *, country: str, fx: dict[int, float],
            currency: str, fiscal: FiscalRule, window: tuple[int | None, int | None], key: bytes | None,
            members: pd.Series, linked: pd.Series, private: list[str], writer: PartWriter | None,
            rows: int) -> Streamed:
    with _read_errors(label):
        source = open_source(path, spec, label, country)
    label = source.label
    missing_cols = [src for src in spec.columns.values() if src not in source.names]
    if missing_cols:  # reported by map_table, from the header; the file is read for its other problems
        empty = RawTable(pd.DataFrame(columns=source.names), np.zeros(0, "int64"), label, source.header_row,
                         source.top, (), source.settings)
        m = map_table(empty, spec, table, fx=fx, currency=currency, fiscal=fiscal, window=window)
        for _ in _guarded(source.chunks(rows), label):
            pass
        with _read_errors(label):
            source.finish()
        if writer is not None:
            writer.abort()
        found = _Problems(label, spec, table, {})
        found.add_ragged(source.ragged_listed, source.ragged_count)
        return Streamed(found.result() + [p for p in m.problems], source.settings, source.rows_read,
                        source.blank_rows, dict(m.applied))

    with _read_errors(label):
        fmt = number_format(source, spec, table, rows)
    undecided = isinstance(fmt, numbers.FormatUndecided)
    chunk_spec = spec
    if isinstance(fmt, numbers.NumberFormat):
        if len(fmt.thousands) > 1:
            raise Fallback("two thousands separators")
        chunk_spec = spec.model_copy(update={"decimal": fmt.decimal,
                                             "thousands": fmt.thousands[0] if fmt.thousands else ""})
    elif undecided:
        chunk_spec = spec.model_copy(update={"decimal": ".", "thousands": ""})
    num_cols = [c for c in spec.columns if table.column(c).kind in ("money", "number")]
    columns = list(spec.columns)
    found = _Problems(label, spec, table, _check_ranks(table, spec, columns, *window))
    if undecided:
        row, value, column = fmt.example
        found.add_once(Problem(label, fmt.message, row=row, column=column, value=value), first=True)
    member_ids = members.dropna().astype("str")
    targets = pd.Series(pd.unique(linked.dropna().astype("str")), dtype="str")
    strip_targets = set(targets.str.lstrip("0"))
    by_stripped: dict[str, dict[str, None]] = {}  # stripped ID -> firm IDs, in the file's order
    kept: list[pd.DataFrame] = []
    no_rows: pd.DataFrame | None = None
    missing: dict[str, int] = {}
    applied: dict[str, Any] | None = None
    fx_used: dict[int, float] = {}
    numbers_text = False
    conversions: list[str] = []
    key_cols = [c for c in table.key if c in spec.columns]
    grain_suffix = f"; expected one row per {table.grain}"
    firm_src = spec.columns.get(key_cols[0]) if key_cols else None
    tmpdir = tempfile.TemporaryDirectory(prefix="policylab-keys-")
    keys_path = Path(tmpdir.name) / "keys.parquet"
    keys_writer: Any = None
    try:
        for chunk in _guarded(source.chunks(rows), label):
            if source.ragged_count:
                found.errors = True
            raw = RawTable(chunk.frame, chunk.rows, label, source.header_row, source.top, (), source.settings)
            with _mapping.listing_all():
                m = map_table(raw, chunk_spec, table, fx=fx, currency=currency, fiscal=fiscal, window=window)
                if undecided:
                    _unread_numbers(m, spec, num_cols)
                map_problems = list(m.problems)
                checked = check_table(m, table, *window)
            found.add_map([p for p in map_problems if not p.message.startswith(f"no {currency} rate for ")])
            for p in map_problems:
                if p.message.startswith(f"no {currency} rate for "):
                    found.add_once(p)
            found.add_check([p for p in checked if not (p.column == firm_src and p.message.startswith("duplicate ")
                                                        and p.message.endswith(grain_suffix))])
            if applied is None:
                applied = dict(m.applied)
                conversions = list(m.conversions)
            fx_used.update(m.applied.get("fx_rates", {}))
            if "numbers" in m.applied and not numbers_text:  # numbers written as text: the first chunk with some
                numbers_text = True
                applied["numbers"] = m.applied["numbers"]
            frame = m.frame
            if key_cols:  # the keys and rows, for the duplicate check over the whole file
                import pyarrow as pa
                import pyarrow.parquet as pq

                ok = frame[key_cols].notna().all(axis=1).to_numpy()
                keys = pa.table({"firm_id": pa.array(frame[key_cols[0]][ok].astype("str").to_numpy(),
                                                     type=pa.string()),
                                 "year": pa.array(frame[key_cols[1]][ok].astype("int64").to_numpy()
                                                  if len(key_cols) > 1 else np.zeros(int(ok.sum()), "int64")),
                                 "_row": pa.array(frame["_row"][ok].to_numpy(dtype="int64"))})
                if keys_writer is None:
                    keys_writer = pq.ParquetWriter(keys_path, keys.schema)
                keys_writer.write_table(keys)
            ids = frame["firm_id"]
            present = ids.notna().to_numpy()
            if len(targets):
                stripped = ids[present].astype("str").str.lstrip("0")
                near = stripped.isin(strip_targets).to_numpy()
                for sid, fid in zip(stripped[near], ids[present][near].astype("str")):
                    by_stripped.setdefault(sid, {}).setdefault(fid, None)
            out = frame.drop(columns=["_row", *private], errors="ignore").reset_index(drop=True)
            is_member = (ids.isin(member_ids).to_numpy() & present) if len(member_ids) else np.zeros(len(ids), bool)
            if key is not None:
                out = pseudonymise({"firms": out}, key)["firms"]
            if no_rows is None:
                no_rows = out.iloc[:0]
            for c, n in out.isna().sum().items():
                if n:
                    missing[c] = missing.get(c, 0) + int(n)
            if found.errors and writer is not None:
                writer.abort()
                writer = None
            if writer is not None:
                writer.write(out)
            if not found.errors and is_member.any():
                kept.append(out[is_member])
        with _read_errors(label):
            source.finish()
        found.add_ragged(source.ragged_listed, source.ragged_count)
        if keys_writer is not None:
            keys_writer.close()
            keys_writer = None
            listed, count = _duplicates(keys_path, Path(tmpdir.name))
            if count:
                cols = "+".join(spec.columns[k] for k in key_cols)
                dup_message = f"duplicate of row {{}} (same {cols}){grain_suffix}"
                group = ("check", "duplicate", firm_src, "error")
                found.check_rank[("duplicate", firm_src)] = (0, 0)
                found.add_group(group, [Problem(label, dup_message.format(first), row=row, column=firm_src,
                                                value=firm_id) for row, first, firm_id in listed], count)
    finally:
        if keys_writer is not None:
            keys_writer.close()
        tmpdir.cleanup()
    applied = applied or {}
    if fx_used:
        applied["fx_rates"] = {y: fx_used[y] for y in sorted(fx_used)}
    if undecided:
        applied.pop("numbers", None)
    elif isinstance(fmt, numbers.NumberFormat) and numbers_text:
        applied["numbers"] = fmt.describe() + (f" ({' and '.join(fmt.detected)} detected)" if fmt.detected else "")
        if "decimal" in fmt.detected and fmt.decimal == ",":
            conversions.insert(0, "detected:decimal comma")
    known = [fid for ids_ in by_stripped.values() for fid in ids_]
    links = Mapped(pd.DataFrame({"firm_id": pd.Series(known, dtype="string")}), [], label, dict(spec.columns))
    staged = None
    if writer is not None and not found.errors:
        staged = writer.close(_empty_frame(table, spec, private))
    elif writer is not None:
        writer.abort()
    members_frame = pd.concat(kept, ignore_index=True) if kept else no_rows
    return Streamed(found.result(), source.settings, source.rows_read, source.blank_rows, applied, conversions,
                    links, members_frame, missing, staged)


def _empty_frame(table: Table, spec: FileSpec, private: list[str]) -> pd.DataFrame:
    """The stored table without rows (for a writer that got none; a file without data rows is
    an error, so this is a safeguard)."""
    from .validate import DTYPES

    cols = [c for c in spec.columns if c not in private]
    return pd.DataFrame({c: pd.Series(dtype=DTYPES[table.column(c).kind]) for c in cols})


def _unread_numbers(m: Mapped, spec: FileSpec, num_cols: list[str]) -> None:
    """A chunk as ``map_table`` maps it when the file's number format is undecided: money and
    counts written as text are left unread (blank, marked invalid, no problem of their own)."""
    for canon in num_cols:
        src = spec.columns[canon]
        text = _mapping.Cells.of(m.raw[canon]).text
        if not text.any():
            continue
        m.frame[canon] = m.frame[canon].mask(text)
        m.invalid[canon] = m.invalid[canon] | text
        rows = set(m.frame["_row"].to_numpy()[text].tolist())
        m.problems[:] = [p for p in m.problems if not (p.column == src and p.row in rows)]


def _duplicates(keys: Path, tmp: Path) -> tuple[list[tuple[int, int, str]], int]:
    """Rows repeating an earlier row's key (firm_id, year), over the whole file: the first
    ``LISTED`` as (row, first row of the key, firm_id) and how many there are. DuckDB, with a
    memory limit (it spills to ``tmp``)."""
    try:
        import duckdb
    except ModuleNotFoundError:
        raise UserError("a streamed ingest (stream=True) checks duplicate firm-years with DuckDB, which is "
                        "not installed: pip install 'policylab[scale]'") from None
    except ImportError as e:  # installed, but e.g. no address space left to load it (ulimit -v)
        raise UserError(f"a streamed ingest (stream=True) checks duplicate firm-years with DuckDB, which "
                        f"could not be loaded: {e}") from None
    try:
        return _duplicate_rows(duckdb, keys, tmp)
    except duckdb.OutOfMemoryException as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"checking the firms file for duplicate firm-years, DuckDB ran out of memory "
                        f"({first}): give the process more memory (a ulimit -v or container limit "
                        "counts address space, which DuckDB and Python's libraries use beyond the "
                        "data)") from None


def _duplicate_rows(duckdb: Any, keys: Path, tmp: Path) -> tuple[list[tuple[int, int, str]], int]:
    con = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY, "temp_directory": str(tmp), "threads": 2})
    try:
        con.execute("SET enable_progress_bar = false")
        src = str(keys).replace("'", "''")
        con.execute(f"""CREATE TEMP TABLE d AS
                        SELECT firm_id, year, min(_row) AS first_row, count(*) AS n
                        FROM read_parquet('{src}') GROUP BY firm_id, year HAVING count(*) > 1""")
        count = int(con.execute("SELECT coalesce(sum(n - 1), 0) FROM d").fetchone()[0])
        if not count:
            return [], 0
        listed = con.execute(f"""SELECT k._row, d.first_row, k.firm_id
                                 FROM read_parquet('{src}') k JOIN d USING (firm_id, year)
                                 WHERE k._row > d.first_row ORDER BY k._row LIMIT {LISTED}""").fetchall()
        return [(int(r), int(f), str(i)) for r, f, i in listed], count
    finally:
        con.close()


__all__ = ["STREAM_ROWS", "Fallback", "Streamed", "stream_table"]
