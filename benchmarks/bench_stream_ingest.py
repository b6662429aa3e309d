"""Peak memory and time of a whole-file and a streamed ingest of a large firms table (issue 14).

Writes a one-region lab whose firms file has ``--rows`` firm-years (CSV, ';' and a decimal
comma, as a register export), then ingests it into a fresh store in a child process per run,
whole-file (``ingest(cfg, store=...)``) and streamed (``stream=True``), and reports each
child's wall time and peak resident memory (``ru_maxrss`` from ``os.wait4``). The streamed
store must be the whole-file one (the parts' hashes in the manifests are compared). Results:
benchmarks/STREAM_INGEST.md.

    python benchmarks/bench_stream_ingest.py --rows 5000000 --runs whole,stream,stream@250000
    python benchmarks/bench_stream_ingest.py --rows 1000000 --thousands ""

``--runs`` chooses the ingests: ``whole``, ``stream`` (chunks of ``--stream-rows`` records) or
``stream@N`` (chunks of N). The config declares ``decimal = ","`` and leaves ``thousands`` to be
detected, as the shipped example does: the streamed ingest then makes one more pass over the
money columns to detect it over the whole file; ``--thousands ""`` declares it (no such pass).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

YEARS = range(2012, 2024)
N_MEMBERS = 2_000

CONFIG = """\
[lab]
name = "Register-sized lab (benchmark)"
output_dir = "out"
first_year = 2012
last_year = 2023

[estimation]
outcomes = ["exporter"]

[[regions]]
key = "big"
name = "Big Region"
nuts2 = "ES13"
country = "ES"
currency = "EUR"

[regions.files.firms]
path = "firms.csv"
delimiter = ";"
decimal = "{decimal}"
{thousands}columns = {{ firm_id = "id", year = "anyo", exports_eur = "export", turnover_eur = "ventas", employees = "empleados", sector = "cnae" }}

[regions.files.membership]
path = "members.csv"
columns = {{ firm_id = "firm", cluster_id = "cluster", join_year = "joined", exit_year = "left" }}

[regions.files.clusters]
path = "clusters.csv"
columns = {{ cluster_id = "cluster", cluster_name = "name", founded_year = "founded", closed_year = "closed" }}
"""


def write_lab(root: Path, rows: int, decimal: str, thousands: str) -> Path:
    """The lab's files; the firms file written a block of firms at a time (bounded memory)."""
    root.mkdir(parents=True, exist_ok=True)
    n_firms = rows // len(YEARS)
    rng = np.random.default_rng(14)
    years = np.array(YEARS)
    with open(root / "firms.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("id;anyo;export;ventas;empleados;cnae\n")
        block = 50_000
        for start in range(0, n_firms, block):
            ids = np.repeat(np.arange(start, min(start + block, n_firms)), len(YEARS))
            n = len(ids)
            yr = np.tile(years, n // len(YEARS))
            turnover = rng.integers(10_000, 5_000_000, n)
            exports = np.where(rng.random(n) < 0.4, 0, turnover // rng.integers(2, 20, n))
            cents = rng.integers(0, 100, n)
            employees = rng.integers(1, 250, n)
            sector = rng.integers(10, 99, n)
            blank = rng.random(n) < 0.02  # unknown exports
            exp_text = np.where(blank, "", exports.astype(str))
            lines = [f"F{i:08d};{y};{e};{t},{c:02d};{m};{s}.1\n" for i, y, e, t, c, m, s in
                     zip(ids.tolist(), yr.tolist(), exp_text.tolist(), turnover.tolist(), cents.tolist(),
                         employees.tolist(), sector.tolist())]
            fh.write("".join(lines))
    members = rng.choice(n_firms, size=min(N_MEMBERS, n_firms), replace=False)
    with open(root / "members.csv", "w", encoding="utf-8") as fh:
        fh.write("firm,cluster,joined,left\n")
        fh.writelines(f"F{i:08d},C{j % 20 + 1},{2015 + j % 6},\n" for j, i in enumerate(sorted(members.tolist())))
    with open(root / "clusters.csv", "w", encoding="utf-8") as fh:
        fh.write("cluster,name,founded,closed\n")
        fh.writelines(f"C{c},Consortium {c},2014,\n" for c in range(1, 21))
    cfg = root / "lab.toml"
    declared = "" if thousands == "auto" else f'thousands = "{thousands}"\n'
    cfg.write_text(CONFIG.format(decimal=decimal, thousands=declared), encoding="utf-8")
    return cfg


CHILD = """
import sys, time
from policylab.config import load_config
from policylab.ingest import ingest
cfg = load_config(sys.argv[1])
t = time.perf_counter()
data = ingest(cfg, store=sys.argv[2], stream=sys.argv[3] == "stream", stream_rows=int(sys.argv[4]))
print(time.perf_counter() - t, len(data.regions[0].tables["firms"]))
"""


def run(cfg: Path, store: Path, mode: str, stream_rows: int) -> dict[str, float]:
    shutil.rmtree(store, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(cfg), str(store), mode, str(stream_rows)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().split() if proc.stdout else []
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or len(out) != 2:
        raise SystemExit(f"{mode} ingest failed (exit {proc.returncode})")
    return {"wall_s": wall, "ingest_s": float(out[0]), "peak_rss_mb": usage.ru_maxrss / 1024,
            "firms_in_memory": int(out[1])}


def compare(a: Path, b: Path) -> str:
    """'bytes' if every part is byte for byte the same, 'content' if the rows, columns and types
    are (read back one row group at a time), else what differs."""
    import pyarrow.parquet as pq

    ma = json.loads((a / "_manifest" / "big.json").read_text())
    mb = json.loads((b / "_manifest" / "big.json").read_text())
    if ma == mb:
        return "bytes (every part's sha256 and the manifests)"
    rest = {k: v for k, v in ma.items() if k != "tables"} == {k: v for k, v in mb.items() if k != "tables"}
    for name in ma["tables"]:
        fa, fb = pq.ParquetFile(a / ma["tables"][name]["path"]), pq.ParquetFile(b / mb["tables"][name]["path"])
        if fa.schema_arrow != fb.schema_arrow or fa.metadata.num_rows != fb.metadata.num_rows:
            return f"no: {name} differs"
        ia, ib = fa.iter_batches(batch_size=200_000), fb.iter_batches(batch_size=200_000)
        for x, y in zip(ia, ib):
            if not x.equals(y):
                return f"no: {name} rows differ"
    parts = [n for n in ma["tables"] if ma["tables"][n] != mb["tables"][n]]
    return (f"content (rows, columns, types; manifests alike but for the hash of {', '.join(parts)}: "
            "other Parquet pages)" if rest else "no: the manifests differ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--stream-rows", type=int, default=1_000_000)
    ap.add_argument("--runs", default="whole,stream")
    ap.add_argument("--decimal", default=",", choices=[",", "auto"])
    ap.add_argument("--thousands", default="auto", choices=["", ".", " ", "auto"])
    ap.add_argument("--keep", type=Path, default=None, help="folder to keep the lab and stores in")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-stream-"))
    try:
        t = time.perf_counter()
        cfg = write_lab(tmp / "lab", args.rows, args.decimal, args.thousands)
        size = (tmp / "lab" / "firms.csv").stat().st_size
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
              f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}; "
              f"firms.csv {args.rows:,} rows, {size / 2**20:.0f} MiB (written in {time.perf_counter() - t:.0f} s)")
        whole = None
        for name in args.runs.split(","):
            mode, _, chunk = name.partition("@")
            store = tmp / f"store-{name}"
            r = run(cfg, store, mode, int(chunk or args.stream_rows))
            label = "whole" if mode == "whole" else f"stream, chunks of {int(chunk or args.stream_rows):,}"
            print(f"{label:>6}: ingest {r['ingest_s']:.1f} s (process {r['wall_s']:.1f} s), peak RSS "
                  f"{r['peak_rss_mb']:.0f} MiB, firms rows in memory after {r['firms_in_memory']:,}", flush=True)
            if mode == "whole":
                whole = store
            elif whole is not None:
                print("        same store as whole:", compare(whole, store), flush=True)
                shutil.rmtree(store, ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
