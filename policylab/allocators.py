"""Allocator settings for a run whose firm tables stay on disk (issue 14).

Under an address-space limit (``ulimit -v``, i.e. ``RLIMIT_AS``, as shared servers and batch
schedulers set it) a process fails when its *address space* reaches the limit, which can be
long before its resident memory does. Three allocators keep address space they do not use:

- glibc gives each thread that allocates an arena of its own, up to eight per core, and each
  reserves 64 MB of address space (pyarrow's I/O threads, DuckDB's workers);
- pyarrow's default memory pool (jemalloc or mimalloc) keeps freed memory mapped for reuse;
- so does DuckDB's jemalloc, which reads its options from ``DUCKDB_JE_MALLOC_CONF`` once, at
  its first allocation in the process.

:func:`lean_allocators` caps glibc at :data:`ARENAS` arenas, gives pyarrow the system pool
(malloc) and asks DuckDB's jemalloc to unmap what it frees (``retain:false``). Measured on
``evaluate --engine duckdb`` of 3 M firm-years: a peak of 4.3 GB of address space for 1.3 GB
resident before, 2.5 GB after (``benchmarks/EVALUATE_ENGINE.md``). What the user has set
(``MALLOC_ARENA_MAX``, ``ARROW_DEFAULT_MEMORY_POOL``, ``DUCKDB_JE_MALLOC_CONF``) is left alone.

Two of these settings are read once, when the library loads: pyarrow's C++ default pool (its
Parquet reader allocates from it whatever pyarrow's Python default is; mimalloc reserves its
address space in large arenas) and DuckDB's jemalloc options. :func:`before_loading` sets them
as environment variables; the command line calls it for a run on an SQL engine before it
imports pyarrow. A Python session that has already loaded them gets what can still change.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: malloc arenas a run on an SQL engine keeps (glibc's default: 8 per core)
ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (glibc's malloc.h)
_DUCKDB_CONF = "DUCKDB_JE_MALLOC_CONF"


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter runs on
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return None
    return libc


def before_loading() -> None:
    """The settings of :func:`lean_allocators` that only count before pyarrow and DuckDB load
    (see the module notes); what the user set stays. The arena cap holds from here on."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    os.environ.setdefault(_DUCKDB_CONF, "retain:false")
    _cap_arenas()


def _cap_arenas() -> None:
    if "MALLOC_ARENA_MAX" not in os.environ and (libc := _glibc()) is not None:
        libc.mallopt(_M_ARENA_MAX, ARENAS)


@contextmanager
def lean_allocators() -> Iterator[None]:
    """Keep the process's address space near its resident memory while inside (see the module
    notes). pyarrow's pool and the environment are restored on exit; glibc's arena cap stays
    (for the life of the process)."""
    import pyarrow as pa

    _cap_arenas()
    set_conf = _DUCKDB_CONF not in os.environ
    if set_conf:
        os.environ[_DUCKDB_CONF] = "retain:false"
    pool = pa.default_memory_pool()
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(pool)
        if set_conf:
            os.environ.pop(_DUCKDB_CONF, None)
