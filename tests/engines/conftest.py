"""Shared by the engine tests: the shipped example ingested into a store once per session,
and one local Spark session (tests marked ``spark``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "example.toml"


@pytest.fixture(scope="session")
def example_store(tmp_path_factory: pytest.TempPathFactory):
    """``(store folder, LabData)`` of the example lab, ingested once; copy the folder before
    adding regions to it."""
    from policylab.config import load_config
    from policylab.ingest import ingest

    root = tmp_path_factory.mktemp("example-store") / "store"
    data = ingest(load_config(EXAMPLE_CONFIG), store=root)
    return root, data


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """One local[1] Spark session for the test session (starting one takes ~25 s)."""
    ci = os.environ.get("CI", "").lower() == "true"
    java = shutil.which("java") or (os.environ.get("JAVA_HOME") and
                                    shutil.which("java", path=str(Path(os.environ["JAVA_HOME"]) / "bin")))
    if not java:
        if ci:
            pytest.fail("CI=true but Java is not installed: the spark tests need a JVM (Java 17+)")
        pytest.skip("Java not found: the spark tests need a JVM (Java 17+); CI=true makes this a failure")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        if ci:
            pytest.fail("CI=true but pyspark is not installed: the spark tests need it")
        pytest.skip("pyspark is not installed")
    session = (SparkSession.builder.master("local[1]").appName("policylab-tests")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
               # a short-lived JVM: the quick JIT tier only (half the CPU time of this file)
               .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
