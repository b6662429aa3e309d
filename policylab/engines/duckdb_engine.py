"""DuckDB over the store's Parquet files: the queries of :mod:`policylab.engines.sql` run out
of core on one machine.

Each call opens its own in-memory connection with a ``memory_limit`` and a ``temp_directory``
(so joins, group-bys and the materialised panel spill to disk instead of failing) and reads
the regions' hive partitions with ``read_parquet(..., hive_partitioning = true,
union_by_name = true)`` (a region's files may lack an optional column). The firm-year panel
is a temporary table; the small coefficient tables are registered Arrow tables. Under a
memory limit the influence query runs in parts small enough for DuckDB's aggregation (see
:data:`BYTES_PER_SUM`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from .combine import arrow_table
from .sql import Relations

TABLES = ("firms", "membership")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}

#: How many per-cluster sums an influence query may hold: ``(memory_limit - OVERHEAD) /
#: BYTES_PER_SUM`` (at least ``memory_limit / 16`` of it). DuckDB's hash aggregate spills,
#: but behind a join with wide states it did not get under a tight limit (duckdb 2.0.1, 40k
#: firms: the largest batch that passed was ~0.4M sums under 32 MB, ~2M under 64 MB, over 8M
#: under 128 MB), so a larger batch runs as several queries. Measured, not guaranteed.
BYTES_PER_SUM = 24
OVERHEAD = 24 * 2**20


def _cell_budget(con) -> int | None:
    """How many per-cluster sums an influence query may hold under the connection's
    ``memory_limit`` (None when it cannot be read)."""
    (value,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    parts = str(value).strip().lower().split()
    try:
        amount = float(parts[0]) * _UNITS[parts[1] if len(parts) > 1 else "b"]
    except (ValueError, KeyError, IndexError):
        return None
    return max(1, int(max(amount / 16, amount - OVERHEAD) // BYTES_PER_SUM))


def _import_duckdb():
    try:
        import duckdb
    except ModuleNotFoundError:  # pragma: no cover - duckdb is installed with the scale extra
        raise UserError("engine 'duckdb' needs the duckdb package: pip install 'policylab[scale]' "
                        "(or choose engine='pandas')") from None
    except ImportError as e:  # installed, but e.g. no address space left to load it (ulimit -v)
        raise UserError(f"engine 'duckdb': the duckdb package could not be loaded: {e}") from None
    return duckdb


@contextmanager
def _out_of_memory(memory_limit: str | None) -> Iterator[None]:
    """DuckDB running out of memory as a UserError saying what to change (not a traceback):
    it fails when its memory_limit is too small for what it cannot spill, or when the process
    reaches its own limit (ulimit -v, a container's) before that."""
    duckdb = _import_duckdb()
    try:
        yield
    except duckdb.OutOfMemoryException as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"duckdb ran out of memory ({first}) with lab.engine_memory_limit = "
                        f"{memory_limit or 'its default, 80% of RAM'!r}: give the process more "
                        "memory (a ulimit -v or container limit counts address space, which "
                        "DuckDB and Python's libraries use beyond the memory_limit), or lower "
                        "lab.engine_memory_limit so DuckDB spills to disk sooner") from None


class DuckDBBackend:
    """Regions of a store, read by DuckDB (see the module notes).

    ``memory_limit`` is DuckDB's (e.g. ``'2GB'``, ``'64MB'``); ``temp_directory`` is where it
    spills (default: a fresh folder under the system's temporary folder, removed on
    :meth:`close`); ``threads`` defaults to DuckDB's (the machine's cores).
    """

    name = "duckdb"
    #: estimates per slot of the influence query (DuckDB runs wide rows well)
    width = 256
    #: per-cluster sums one influence query may hold (see _cell_budget)
    cell_budget: int | None = None

    def __init__(self, store_dir: str | Path, regions: Sequence[str], *,
                 memory_limit: str | None = None, temp_directory: str | Path | None = None,
                 threads: int | None = None) -> None:
        duckdb = _import_duckdb()
        self.con = None
        self._own_tmp = None
        self.memory_limit = memory_limit
        if temp_directory is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="policylab-duckdb-")
            temp_directory = self._own_tmp.name
        config = {"temp_directory": str(temp_directory)}
        if memory_limit is not None:
            config["memory_limit"] = str(memory_limit)
        if threads is not None:
            config["threads"] = int(threads)
        try:
            self.con = duckdb.connect(database=":memory:", config=config)
            # large aggregations spill; the row order of results is never relied on
            self.con.execute("SET preserve_insertion_order = false")
        except duckdb.Error as e:
            self.close()
            raise UserError(f"duckdb could not start with memory_limit={memory_limit!r}, "
                            f"temp_directory={str(temp_directory)!r}: {e}") from None
        self._files: dict[tuple[str, str], list[str]] = {}
        names = {}
        for table in TABLES:
            files = []
            for region in regions:
                folder = Path(store_dir) / table / f"region={region}"
                found = sorted(p.as_posix() for p in folder.glob("*.parquet")) if folder.is_dir() else []
                if not found:
                    self.close()
                    raise UserError(f"the store {store_dir} has no {table!r} table for region "
                                    f"{region!r} (no Parquet file in {folder})")
                self._files[(table, region)] = found
                files += found
            view = f"pl_{table}"
            self.con.execute(
                f"CREATE VIEW {view} AS SELECT * FROM read_parquet("
                f"[{', '.join(_literal(f) for f in files)}], hive_partitioning = true, "
                f"hive_types = {{'region': VARCHAR}}, union_by_name = true)")
            names[table] = view
        self.relations = Relations(firms=names["firms"], membership=names["membership"])
        self.cell_budget = _cell_budget(self.con)

    def columns(self, table: str, region: str) -> list[str]:
        files = ", ".join(_literal(f) for f in self._files[(table, region)])
        rows = self.con.execute(f"DESCRIBE SELECT * FROM read_parquet([{files}], "
                                "union_by_name = true)").fetchall()
        return [row[0] for row in rows]

    def query(self, sql: str) -> list[tuple]:
        with _out_of_memory(self.memory_limit):
            return self.con.execute(sql).fetchall()

    def register(self, name: str, schema: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
        self.con.register(name, arrow_table(schema, rows))

    def materialize(self, name: str, sql: str) -> None:
        # a temporary table lives in DuckDB's buffer pool: past memory_limit it goes to disk
        with _out_of_memory(self.memory_limit):
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None
