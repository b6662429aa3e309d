"""Spark over the store's Parquet files: the same SQL text as DuckDB, for data past one machine.

The regions' partitions are read in one ``spark.read.parquet`` (hive layout: ``basePath`` is
the table folder, so ``region`` is a column) and exposed as temporary views with names unique
to the call. The firm-year panel is persisted (``MEMORY_AND_DISK``) for the two queries that
read it; the small coefficient tables go to the JVM as Arrow streams (``createDataFrame`` of a
pyarrow table). Everything runs as Spark SQL: no Python UDFs, no Python worker processes,
nothing pickled. pyspark is imported only when this engine is used.

The session: ``spark_master`` names the master of a session to create (``"local[4]"``,
``"spark://host:7077"``, ``"yarn"``); without it the active session is used, else a
``local[*]`` one (an active session is also what ``getOrCreate`` returns when one exists). A
session is never stopped here (starting one takes tens of seconds): only this call's views
and cached tables are dropped. On a cluster the store must be where the executors can read
it (a shared file system, or a URI such as ``s3a://...``).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from ..errors import UserError
from .combine import arrow_table
from .sql import Relations

TABLES = ("firms", "membership")


def _import_pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError("engine 'spark' needs pyspark (and Java 17+): pip install "
                        "'policylab[spark]', or choose engine='duckdb'") from None
    return SparkSession


def _spark_errors() -> tuple[type[BaseException], ...]:
    """pyspark's and py4j's exception base classes (a missing JVM, a bad master URL, an
    unreadable path)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


def session(spark_master: str | None = None):
    """The Spark session to run on (see the module notes)."""
    SparkSession = _import_pyspark()
    if spark_master is None:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
    try:
        # only temporary views are made: keep Spark's (empty) warehouse folder out of the cwd
        warehouse = Path(tempfile.gettempdir()) / "policylab-spark-warehouse"
        spark = (SparkSession.builder.master(spark_master or "local[*]").appName("policylab")
                 .config("spark.sql.warehouse.dir", warehouse.as_posix())
                 # a command-line tool: no progress bars over the terminal's own lines
                 .config("spark.ui.showConsoleProgress", "false").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        return spark
    except (*_spark_errors(), OSError) as e:  # no Java, a bad master URL
        raise UserError(f"could not start a Spark session (master {spark_master or 'local[*]'!r};"
                        f" Spark needs Java 17 or later on PATH or JAVA_HOME): "
                        f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}"
                        ) from None


def _is_uri(path: str) -> bool:
    return "://" in path


class SparkBackend:
    """Regions of a store, read by Spark (see the module notes)."""

    name = "spark"
    #: estimates per slot of the influence query: rows of at most ~90 fields keep Spark's
    #: whole-stage code generation on (spark.sql.codegen.maxFields = 100)
    width = 40
    #: Spark's aggregations spill on their own: one influence query per batch
    cell_budget = None

    def __init__(self, store_dir: str | Path, regions: Sequence[str], *,
                 spark_master: str | None = None, spark=None) -> None:
        self.spark = spark if spark is not None else session(spark_master)
        uid = uuid.uuid4().hex[:12]
        self._views: list[str] = []
        self._columns: dict[tuple[str, str], list[str]] = {}
        self._cached = []
        root = str(store_dir)
        if not _is_uri(root):
            root = Path(root).resolve().as_posix()
        for table in TABLES:
            base = f"{root.rstrip('/')}/{table}"
            folders = [f"{base}/region={region}" for region in regions]
            for region, folder in zip(regions, folders, strict=True):
                if not _is_uri(root) and not Path(folder).is_dir():
                    raise UserError(f"the store {store_dir} has no {table!r} table for region "
                                    f"{region!r} (no folder {folder})")
            try:
                frame = self._read(base, folders, local=not _is_uri(root))
                for region, folder in zip(regions, folders, strict=True):
                    self._columns[(table, region)] = self._folder_columns(base, folder)
            except (*_spark_errors(), OSError, ValueError, TypeError) as e:
                # unreadable path or footer, column types that do not merge
                raise UserError(f"Spark cannot read the {table!r} table of regions "
                                f"{', '.join(regions)} in {store_dir}: "
                                f"{str(e).strip().splitlines()[0]}") from None
            name = f"pl_{table}_{uid}"
            frame.createOrReplaceTempView(name)
            self._views.append(name)
        self.relations = Relations(firms=f"pl_firms_{uid}", membership=f"pl_membership_{uid}",
                                   obs=f"pl_obs_{uid}", units=f"pl_units_{uid}",
                                   row_coef=f"pl_row_coef_{uid}",
                                   unit_coef=f"pl_unit_coef_{uid}")

    def _read(self, base: str, folders: list[str], *, local: bool):
        """One scan of the regions' folders (``region`` from the hive path). A region's files
        may lack an optional column: the schema is the union of the files' schemas, read
        from the local footers with pyarrow (Spark's ``mergeSchema`` runs a job for it,
        which is what it does for remote stores)."""
        reader = self.spark.read.option("basePath", base)
        if not local:
            return reader.option("mergeSchema", "true").parquet(*folders)
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark.sql.pandas.types import from_arrow_schema

        schemas = [pq.read_schema(p) for f in folders for p in sorted(Path(f).glob("*.parquet"))]
        merged = pa.unify_schemas([pa.schema([x.remove_metadata() for x in sch])
                                   for sch in schemas], promote_options="permissive")
        if "region" in merged.names:  # hive partition column: Spark adds it from the path
            merged = merged.remove(merged.get_field_index("region"))
        return reader.schema(from_arrow_schema(merged.remove_metadata())).parquet(*folders)

    def _folder_columns(self, base: str, folder: str) -> list[str]:
        """Columns of one region's files: from the Parquet footers (pyarrow) when local, else
        as Spark reads them."""
        if not _is_uri(folder):
            import pyarrow.parquet as pq

            names: dict[str, None] = {}
            for path in sorted(Path(folder).glob("*.parquet")):
                names.update(dict.fromkeys(pq.read_schema(path).names))
            return [*names, "region"]
        return list(self.spark.read.option("basePath", base).parquet(folder).columns)

    def columns(self, table: str, region: str) -> list[str]:
        return self._columns[(table, region)]

    def query(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self.spark.sql(sql).collect()]

    def register(self, name: str, schema: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
        # an Arrow table goes to the JVM as an Arrow stream (no Python worker reads it)
        self.spark.createDataFrame(arrow_table(schema, rows)).createOrReplaceTempView(name)
        self._views.append(name)

    def materialize(self, name: str, sql: str) -> None:
        from pyspark import StorageLevel

        frame = self.spark.sql(sql).persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(frame)
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def close(self) -> None:
        errors = _spark_errors()
        for frame in self._cached:
            with suppress(*errors):  # the session went away meanwhile
                frame.unpersist()
        self._cached = []
        for name in self._views:
            with suppress(*errors):
                self.spark.catalog.dropTempView(name)
        self._views = []
