"""The canonical store, content hashes and atomic file writes.

The store is a plain folder of hive-partitioned Parquet files, one partition per region::

    <store>/<table>/region=<key>/part-0.parquet      (firms, membership, clusters, ...)
    <store>/_manifest/<key>.json                      (what the region's partition was made from)

Any Parquet engine reads a table across regions (``duckdb``:
``read_parquet('<store>/firms/*/*.parquet', hive_partitioning = true)``). The manifest records
the region's fingerprint (the content hashes of its input files, the mapping in the config,
the policylab version), the hashes of the Parquet parts, and what ingestion reported (sources,
conversions, warnings, data-quality counts). A region whose fingerprint is unchanged is
loaded from the store and not written again; a changed region replaces only its own files.

Writes go to temporary files in the destination folder, which are moved into place with
``os.replace`` once every file has been written, so a reader sees either the old file or the
new one, never half of one; the manifest is moved last, so a region interrupted half-way has
a stale manifest and is rebuilt on the next run. Temporary files a killed run left
(``.<name>.<random>.tmp``) are removed by :meth:`CanonicalStore.remove_leftovers`, which
``evaluate`` calls while it holds the store's lock (:meth:`CanonicalStore.lock`, a file
``.policylab.lock`` in the store folder): one run at a time writes a store.

A part too large for memory (a streamed ingest's firms table) is written chunk by chunk by a
:class:`PartWriter` into such a temporary file and moved into place by
:meth:`CanonicalStore.write_staged`; :meth:`CanonicalStore.load_members` loads a region with
only its member firms' rows of the firms table, reading that part one row group at a time.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pandas as pd

from .errors import UserError

STORE_FORMAT = 1
MANIFEST_DIR = "_manifest"
PART = "part-0.parquet"
LOCK_FILE = ".policylab.lock"

# The temporary files atomic_write_many makes: tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_many(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: all temp files are written first, then each is moved into place.

    If writing any temp file fails, the temp files are removed and the destinations are untouched.
    Files are moved in the mapping's order.
    """
    for tmp, dest in _temp_files(files):
        os.replace(tmp, dest)


def _temp_files(files: Mapping[Path, bytes]) -> list[tuple[str, Path]]:
    """Each file written (and synced) to a temporary file beside its destination:
    ``(temporary, destination)`` in the mapping's order. If any write fails, the temporary
    files are removed and the error raised."""
    staged: list[tuple[str, Path]] = []
    try:
        for dest, data in files.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
            staged.append((tmp, dest))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    return staged


_held: dict[str, int] = {}


@contextmanager
def exclusive_lock(path: Path, busy: Callable[[int | None], str], *,
                   record_pid: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) for the ``with`` block.

    The lock is ``fcntl.flock`` without waiting: if another process holds it, a
    :class:`~policylab.errors.UserError` is raised at once with the text ``busy(pid)`` (the
    holder's process id when it recorded one, else None). With ``record_pid``, this process
    writes its id into the file while it holds the lock and empties the file when it lets go.
    The lock goes with the process, so a killed run never leaves a stale lock. Taking a lock
    this process already holds is allowed (nested ``with``). Where ``fcntl`` is missing
    (Windows), nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        fcntl = None
    key = os.path.realpath(path)
    if fcntl is None or key in _held:
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise UserError(busy(int(text) if text.isdigit() else None)) from None
        if record_pid:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            if record_pid:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # lets go of the lock


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as Parquet bytes (no index; pandas dtypes kept in the file's metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


def store_dir(output_dir: Path, configured: Path | None) -> Path:
    """Where a lab's store is: the configured folder, else ``<output folder>/store``."""
    return configured if configured is not None else Path(output_dir) / "store"


@dataclass(frozen=True)
class StoredRegion:
    """A region as found in the store: its canonical tables and its manifest."""

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]


class CanonicalStore:
    """The hive-partitioned Parquet store of a lab's canonical tables (see the module notes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def part_path(self, table: str, region: str) -> Path:
        return self.root / table / f"region={region}" / PART

    def manifest_path(self, region: str) -> Path:
        return self.root / MANIFEST_DIR / f"{region}.json"

    def manifest(self, region: str) -> dict[str, Any] | None:
        """The region's manifest, or None if there is none (or it cannot be read)."""
        try:
            found = json.loads(self.manifest_path(region).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and found.get("format") == STORE_FORMAT else None

    def regions(self) -> list[str]:
        """Keys of the regions with a manifest."""
        folder = self.root / MANIFEST_DIR
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    def load(self, region: str, fingerprint: str) -> StoredRegion | None:
        """The stored region if it was made from exactly ``fingerprint`` and is intact, else None."""
        import pyarrow.parquet as pq

        manifest = self.manifest(region)
        if manifest is None or manifest.get("fingerprint") != fingerprint:
            return None
        tables: dict[str, pd.DataFrame] = {}
        for name, info in manifest.get("tables", {}).items():
            path = self.part_path(name, region)
            try:
                if sha256_file(path) != info.get("sha256"):
                    return None
                tables[name] = pq.read_table(path).to_pandas()
            except OSError:
                return None
        return StoredRegion(tables, manifest)

    def write(self, regions: list[tuple[str, dict[str, pd.DataFrame], dict[str, Any]]]) -> None:
        """Replace the partitions of the given regions: ``(key, tables, manifest)`` each.

        Nothing is touched until every file is staged; manifests are moved into place last.
        Tables a region no longer has are removed after the new files are in place.
        """
        parts: dict[Path, bytes] = {}
        manifests: dict[Path, bytes] = {}
        for key, tables, manifest in regions:
            entry = dict(manifest, format=STORE_FORMAT, region=key, tables={})
            for name, frame in tables.items():
                data = parquet_bytes(frame)
                parts[self.part_path(name, key)] = data
                entry["tables"][name] = {"path": self.part_path(name, key).relative_to(self.root).as_posix(),
                                         "sha256": hashlib.sha256(data).hexdigest(), "rows": len(frame)}
            manifests[self.manifest_path(key)] = (json.dumps(entry, indent=2, sort_keys=True, default=str)
                                                  + "\n").encode("utf-8")
        atomic_write_many({**parts, **manifests})
        for key, tables, _ in regions:
            for folder in self.root.glob(f"*/region={key}"):
                if folder.parent.name not in tables:
                    shutil.rmtree(folder, ignore_errors=True)

    def part_writer(self, table: str, region: str) -> PartWriter:
        """A :class:`PartWriter` staging ``table``'s part of ``region`` chunk by chunk."""
        return PartWriter(self.part_path(table, region))

    def write_staged(self, regions: list[tuple[str, Mapping[str, pd.DataFrame | StagedPart], dict[str, Any]]]) -> None:
        """:meth:`write`, where a table may also be a :class:`StagedPart` (already written by a
        :class:`PartWriter`): every file or none, manifests moved into place last."""
        parts: dict[Path, bytes] = {}
        staged: list[StagedPart] = []
        manifests: dict[Path, bytes] = {}
        for key, tables, manifest in regions:
            entry = dict(manifest, format=STORE_FORMAT, region=key, tables={})
            for name, frame in tables.items():
                path = self.part_path(name, key)
                if isinstance(frame, StagedPart):
                    if frame.dest != path:
                        raise ValueError(f"staged part for {frame.dest}, not {path}")
                    staged.append(frame)
                    digest, rows = frame.sha256, frame.rows
                else:
                    data = parquet_bytes(frame)
                    parts[path] = data
                    digest, rows = hashlib.sha256(data).hexdigest(), len(frame)
                entry["tables"][name] = {"path": path.relative_to(self.root).as_posix(), "sha256": digest,
                                         "rows": rows}
            manifests[self.manifest_path(key)] = (json.dumps(entry, indent=2, sort_keys=True, default=str)
                                                  + "\n").encode("utf-8")
        _staged_write(parts, staged, manifests)
        for key, tables, _ in regions:
            for folder in self.root.glob(f"*/region={key}"):
                if folder.parent.name not in tables:
                    shutil.rmtree(folder, ignore_errors=True)

    def load_members(self, region: str, fingerprint: str, *, table: str = "firms", members: str = "membership",
                     column: str = "firm_id") -> StoredRegion | None:
        """:meth:`load`, but ``table`` holds only the rows whose ``column`` is in ``members``'
        ``column`` (the firm-years of member firms); its part is read one row group at a time
        and never whole. Every part's hash is checked as in :meth:`load`."""
        import pyarrow.parquet as pq

        manifest = self.manifest(region)
        if manifest is None or manifest.get("fingerprint") != fingerprint:
            return None
        infos = manifest.get("tables", {})
        tables: dict[str, pd.DataFrame] = {}
        for name, info in infos.items():
            path = self.part_path(name, region)
            try:
                if sha256_file(path) != info.get("sha256"):
                    return None
                if name != table:
                    tables[name] = pq.read_table(path).to_pandas()
            except OSError:
                return None
        if table in infos:
            keep = set(tables[members][column].dropna()) if members in tables else set()
            try:
                tables[table] = _filtered_part(self.part_path(table, region), column, keep)
            except OSError:
                return None
            tables = {name: tables[name] for name in infos}  # the manifest's order
        return StoredRegion(tables, manifest)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's lock (see :func:`exclusive_lock`); the store folder is created.

        A second run writing the same store meanwhile stops at once with a UserError.
        """
        self.root.mkdir(parents=True, exist_ok=True)

        def busy(pid: int | None) -> str:
            held = f" (pid {pid})" if pid else ""
            return (f"another policylab run is writing to the store {self.root}{held}; "
                    "wait for it or choose another lab.store_dir")

        with exclusive_lock(self.root / LOCK_FILE, busy):
            yield

    def remove_leftovers(self) -> None:
        """Remove the temporary files a killed write left (call it holding :meth:`lock`).

        Only names :func:`atomic_write_many` makes for store files (``.part-0.parquet.<random>.tmp``
        in a partition, ``.<region>.json.<random>.tmp`` in ``_manifest``) are removed.
        """
        folders = [(self.root / MANIFEST_DIR, lambda name: name.endswith(".json"))]
        folders += [(f, lambda name: name == PART) for f in self.root.glob("*/region=*")]
        for folder, ours in folders:
            if folder.is_symlink() or not folder.is_dir():
                continue
            for path in folder.iterdir():
                found = _TEMP_NAME.fullmatch(path.name)
                if found and ours(found["name"]) and not path.is_symlink() and path.is_file():
                    path.unlink(missing_ok=True)

    def prune(self, keep: set[str]) -> None:
        """Remove the partitions and manifests of regions not in ``keep``."""
        for key in self.regions():
            if key in keep:
                continue
            for folder in self.root.glob(f"*/region={key}"):
                shutil.rmtree(folder, ignore_errors=True)
            self.manifest_path(key).unlink(missing_ok=True)


# --- streamed parts (issue 14: a firms table larger than memory) ----------------------------------

#: Rows per Parquet row group: ``pyarrow.parquet.write_table``'s default, so a part written in
#: chunks by :class:`PartWriter` has the same row groups, and so the same bytes, as one written
#: whole by :func:`parquet_bytes`.
ROW_GROUP_ROWS = 1024 * 1024


@dataclass(frozen=True)
class StagedPart:
    """A Parquet part written to a temporary file beside its destination, not yet in place."""

    tmp: Path
    dest: Path
    sha256: str
    rows: int
    created: tuple[Path, ...] = ()  # folders made for it (deepest first), removed with it if empty


def discard_staged(part: StagedPart) -> None:
    """Remove a staged part that is not to be written (and the empty folders made for it)."""
    part.tmp.unlink(missing_ok=True)
    discard_dirs(list(part.created))


class PartWriter:
    """Appends pandas chunks to one table's part of one region, in a temporary file.

    The temporary file is made in the partition folder with the names :func:`atomic_write_many`
    uses (``.part-0.parquet.<random>.tmp``), so :meth:`CanonicalStore.remove_leftovers` removes
    it if the run is killed. Chunks are buffered into row groups of :data:`ROW_GROUP_ROWS` rows
    (at most one row group and one chunk are held), so the file is byte for byte the one
    :func:`parquet_bytes` writes for the whole table. :meth:`close` returns the
    :class:`StagedPart` for :meth:`CanonicalStore.write_staged`; :meth:`abort` (or leaving a
    ``with`` block by an exception) removes the temporary file and the folders it created.
    """

    def __init__(self, dest: Path, row_group_rows: int = ROW_GROUP_ROWS):
        self.dest = dest
        self.row_group_rows = row_group_rows
        self._created: list[Path] = []
        folder = dest.parent
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._created = missing  # deepest first
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        self.tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")
        self._writer: Any = None
        self._schema: Any = None
        self._pending: list[Any] = []
        self._pending_rows = 0
        self.rows = 0
        self.closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.abort()

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (same columns and dtypes as the chunks before it)."""
        import pyarrow as pa

        if self._schema is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._schema = table.schema
        else:
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        if not table.num_rows:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        while self._pending_rows >= self.row_group_rows:
            self._flush(self.row_group_rows)

    def _flush(self, n: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables(self._pending) if len(self._pending) > 1 else self._pending[0]
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._fh, self._schema)
        self._writer.write_table(table.slice(0, n))
        rest = table.slice(n)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self, empty: pd.DataFrame | None = None) -> StagedPart:
        """Finish the file (``empty``: the table's columns, for a table without rows) and hash it."""
        try:
            if self._schema is None or not self.rows:  # no row: the empty table, as parquet_bytes writes it
                self._fh.write(parquet_bytes(empty if empty is not None else pd.DataFrame()))
            else:
                if self._pending_rows:
                    self._flush(self._pending_rows)
                self._writer.close()
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self.closed = True
            return StagedPart(self.tmp, self.dest, sha256_file(self.tmp), self.rows, tuple(self._created))
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Remove the temporary file (and the folders made for it); the store is as it was."""
        with suppress(Exception):  # closing a half-written file, to remove it
            if self._writer is not None:
                self._writer.close()
        if not self._fh.closed:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)
        discard_dirs(self._created)
        self._created = []


def discard_dirs(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) that are empty: the ones a staged write made."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def _staged_write(files: Mapping[Path, bytes], staged: list[StagedPart], last: Mapping[Path, bytes]) -> None:
    """Like :func:`atomic_write_many` with some files already staged: every file or none.

    ``files`` are written to temporary files first; then the staged parts and ``files`` are
    moved into place, and ``last`` (the manifests) after them. If any write fails, every
    temporary file, the staged ones included, is removed and the destinations are untouched.
    """
    try:
        moves = _temp_files({**files, **last})
    except BaseException:
        for part in staged:
            part.tmp.unlink(missing_ok=True)
        raise
    n_files = len(files)
    ordered = [(str(p.tmp), p.dest) for p in staged] + moves[:n_files] + moves[n_files:]
    for tmp, dest in ordered:
        os.replace(tmp, dest)


def _filtered_part(path: Path, column: str, keep: set[str]) -> pd.DataFrame:
    """The rows of a Parquet part whose ``column`` is in ``keep``, read one row group at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    value_set = pa.array(sorted(keep), type=pa.string())
    with pq.ParquetFile(path) as pf:
        batches = []
        for i in range(pf.num_row_groups):
            rg = pf.read_row_group(i)
            mask = pc.fill_null(pc.is_in(rg.column(column).cast(pa.string()), value_set=value_set), False)
            batches.append(rg.filter(mask))
        table = pa.concat_tables(batches) if batches else pf.schema_arrow.empty_table()
    return table.to_pandas()
