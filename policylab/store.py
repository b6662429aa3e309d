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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    for tmp, dest in staged:
        os.replace(tmp, dest)


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
