"""A run on an SQL engine keeps the process's address space near its resident memory
(:mod:`policylab.allocators`): glibc's arenas capped, pyarrow on the system allocator, DuckDB's
jemalloc unmapping what it frees; what the user set is left alone, and pyarrow's pool comes
back on exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from policylab.allocators import lean_allocators


def test_pyarrow_uses_the_system_pool_inside_and_its_own_after(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    monkeypatch.delenv("DUCKDB_JE_MALLOC_CONF", raising=False)
    before = pa.default_memory_pool().backend_name
    with lean_allocators():
        assert pa.default_memory_pool().backend_name == "system"
        assert os.environ["DUCKDB_JE_MALLOC_CONF"] == "retain:false"
    assert pa.default_memory_pool().backend_name == before
    assert "DUCKDB_JE_MALLOC_CONF" not in os.environ


def test_what_the_user_set_is_left_alone(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "anything")
    monkeypatch.setenv("DUCKDB_JE_MALLOC_CONF", "narenas:1")
    before = pa.default_memory_pool().backend_name
    with lean_allocators():
        assert pa.default_memory_pool().backend_name == before
        assert os.environ["DUCKDB_JE_MALLOC_CONF"] == "narenas:1"
    assert os.environ["DUCKDB_JE_MALLOC_CONF"] == "narenas:1"


THREADS = """
import contextlib, ctypes, sys, threading
from policylab.allocators import lean_allocators

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p

def address_space():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmSize:"))

with lean_allocators() if sys.argv[1] == "lean" else contextlib.nullcontext():
    ready, done = threading.Barrier(17), threading.Barrier(17)
    def work():
        libc.malloc(1024)  # the thread's first malloc: glibc gives it an arena
        ready.wait()
        done.wait()
    threads = [threading.Thread(target=work) for _ in range(16)]
    before = address_space()
    for t in threads:
        t.start()
    ready.wait()
    print(address_space() - before)
    done.wait()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_sixteen_allocating_threads_share_two_malloc_arenas():
    """Each glibc arena reserves 64 MB of address space; by default every thread that
    allocates gets one (up to 8 per core). Sixteen threads are measured while all alive (their
    stacks, 16 x 8 MB, count in both runs)."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    grown = {}
    for mode in ("default", "lean"):
        done = subprocess.run([sys.executable, "-c", THREADS, mode], capture_output=True, text=True,
                              env=env, check=True)
        grown[mode] = int(done.stdout.split()[-1]) / 2**20
    assert grown["lean"] <= 16 * 8.1 + 2 * 64 + 16, grown  # stacks and at most two new arenas
    assert grown["default"] >= grown["lean"] + 3 * 64, grown  # glibc's default: an arena each


def test_before_loading_gives_pyarrow_the_system_pool_at_its_start():
    """pyarrow's C++ default pool (which its Parquet reader uses whatever the Python default
    is) is chosen once, when pyarrow loads: the command line sets it first."""
    code = ("from policylab.allocators import before_loading; before_loading(); import pyarrow as pa; "
            "print(pa.default_memory_pool().backend_name)")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True)
    assert done.stdout.split() == ["system"]
