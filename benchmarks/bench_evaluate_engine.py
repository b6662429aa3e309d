"""Benchmark (issue 14): a whole ``policylab evaluate`` under a memory cap, DuckDB against pandas.

``bench_engines.py`` times the engines' two SQL stages on a store; this times the whole
command a user runs, from input files to the written report, with the firm tables on disk
(``evaluate --engine duckdb``: streamed ingest, Callaway-Sant'Anna, the firm indicators and
the data-quality counts as SQL over the store, the rest on the members' rows in memory; see
``policylab/outofcore.py``) and in memory (``--engine pandas``).

The lab (written to ``--data``, outside the repository): one region whose firms file is a
Parquet file of ``--rows`` firm-years (default 10 M) with the canonical column names, the
panel of ``benchmarks/engine_lab.py`` (seed 2024) streamed row group by row group out of the
store it generates (plain ``string`` ids, no pandas metadata, 1 M-row row groups); its
membership file (Parquet) and a clusters file (Parquet: ``cluster_id, cluster_name,
founded_year`` of every consortium); and ``lab.toml``::

    [lab]      engine_memory_limit = "1GB"
    [estimation]  methods = ["callaway_santanna"], outcomes = ["exporter", "exports_eur"],
                  margins = false

Runs, each a fresh subprocess under ``RLIMIT_AS`` ``--cap-gb`` (default 4 GB), with the
environment of the user who started the script less ``MALLOC_ARENA_MAX``,
``ARROW_DEFAULT_MEMORY_POOL`` and ``DUCKDB_JE_MALLOC_CONF`` (what an SQL-engine run sets for
itself, :mod:`policylab.allocators`, unless the user has):

* ``cli duckdb`` / ``cli pandas``: ``python -c "from policylab.cli import main; main()"
  evaluate lab.toml --engine ENGINE --out OUT --quiet``; the parent records the wall time,
  the peak resident memory of the process tree (psutil, every 0.2 s) and the child's
  ``ru_maxrss`` (``os.wait4``), the exit code and the last stderr line, and whether the
  report (``index.html``, ``results.json``) was written, with its headline effects;
* ``phases duckdb``: the same evaluation through the Python API
  (``policylab.allocators.before_loading()`` first, as the command line does, then
  ``policylab.pipeline.evaluate(..., progress=...)``), each progress message time-stamped
  with the process's resident memory and its high-water mark: the share of the streamed
  ingest and of every later stage, and which stage sets the peak;
* at ``--small-rows`` (default 2 M, unless ``--no-small``): ``cli pandas`` without the cap
  (under the guard ``--guard-gb`` only, the machine being shared) for the memory pandas
  needs, and ``cli duckdb`` under the cap, whose headline effects are compared with pandas'.

Usage::

    python benchmarks/bench_evaluate_engine.py --write
    python benchmarks/bench_evaluate_engine.py --rows 1e6 --small-rows 5e5 --no-load-wait
    python benchmarks/bench_evaluate_engine.py --render RESULTS.json --write
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
OUT = HERE / "EVALUATE_ENGINE.md"
SEED = 2024
REGION = "gen0"
OUTCOMES = ("exporter", "exports_eur")

CONFIG = """\
[lab]
name = "Out-of-core evaluate (benchmark, {rows:,} firm-years)"
output_dir = "out"
engine_memory_limit = "{memory_limit}"

[estimation]
outcomes = {outcomes}
methods = ["callaway_santanna"]
margins = false

[[regions]]
key = "{region}"
name = "Generated region"
nuts2 = "ES13"
country = "ES"
currency = "EUR"

[regions.files.firms]
path = "firms.parquet"
columns = {{ firm_id = "firm_id", year = "year", sector = "sector", employees = "employees", turnover_eur = "turnover_eur", exports_eur = "exports_eur", n_export_markets = "n_export_markets" }}

[regions.files.membership]
path = "membership.parquet"
columns = {{ firm_id = "firm_id", cluster_id = "cluster_id", join_year = "join_year", exit_year = "exit_year" }}

[regions.files.clusters]
path = "clusters.parquet"
columns = {{ cluster_id = "cluster_id", cluster_name = "cluster_name", founded_year = "founded_year" }}
"""

CLI = "from policylab.cli import main; main()"

PHASES = """
import json, sys, time
t0 = time.perf_counter()
from policylab.allocators import before_loading
before_loading()  # as the command line does on an SQL engine, before pyarrow loads
import psutil
from policylab.pipeline import evaluate
proc = psutil.Process()
marks = []
def vm():
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmSize", "VmPeak", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out
def mark(stage):
    v = vm()
    marks.append({"t": round(time.perf_counter() - t0, 2), "stage": stage,
                  "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                  "hwm_mb": v.get("VmHWM"),  # not ru_maxrss: it keeps the parent's from the fork
                  "vm_mb": v.get("VmSize"), "vmpeak_mb": v.get("VmPeak")})
    with open(sys.argv[4], "w") as fh:
        json.dump(marks, fh)
mark("(imports done)")
try:
    evaluate(sys.argv[1], out_dir=sys.argv[2], engine=sys.argv[3], progress=mark)
except BaseException as e:
    mark(f"failed: {type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}")
    raise
mark("(done)")
"""


# --------------------------------------------------------------------------- the lab


def write_lab(root: Path, rows: int, *, memory_limit: str, member_share: float) -> dict:
    """The lab's input files and config under ``root`` (see the module notes); reused when
    already there for the same rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from engine_lab import FOUNDED, existing, write_store

    done = root / "lab.json"
    if done.exists():
        desc = json.loads(done.read_text())
        if (desc.get("rows") == rows and desc.get("memory_limit") == memory_limit
                and desc.get("member_share") == member_share):
            return desc
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    store = root.parent / f"store-{rows}"
    gen = existing(store, rows, seed=SEED, n_regions=1, member_share=member_share)
    if gen is None:
        shutil.rmtree(store, ignore_errors=True)
        gen = write_store(store, rows, seed=SEED, n_regions=1, member_share=member_share,
                          quiet=True)
    region = gen["regions"][0]

    def plain(schema: pa.Schema) -> pa.Schema:  # string ids, no pandas metadata: an input file
        return pa.schema([pa.field(f.name, pa.string() if pa.types.is_large_string(f.type)
                                   else f.type) for f in schema])

    for table, name in (("firms", "firms.parquet"), ("membership", "membership.parquet")):
        src = pq.ParquetFile(store / table / f"region={REGION}" / "part-0.parquet")
        schema = plain(src.schema_arrow)
        with pq.ParquetWriter(root / name, schema, compression="snappy") as w:
            for batch in src.iter_batches(batch_size=1_000_000):
                w.write_table(pa.Table.from_batches([batch]).cast(schema),
                              row_group_size=1_000_000)
        src.close()
    n = region["consortia"]
    founded = np.random.default_rng([SEED, 0, 1 << 30]).integers(FOUNDED[0], FOUNDED[1] + 1, n)
    pq.write_table(pa.table({"cluster_id": [f"K{c:06d}" for c in range(n)],
                             "cluster_name": [f"Consortium {c}" for c in range(n)],
                             "founded_year": founded.astype(np.int64)}),
                   root / "clusters.parquet")
    (root / "lab.toml").write_text(CONFIG.format(
        rows=rows, memory_limit=memory_limit, region=REGION,
        outcomes=json.dumps(list(OUTCOMES))), encoding="utf-8")
    from policylab.config import load_config

    lab_cfg = load_config(root / "lab.toml").lab
    desc = {"rows": rows, "memory_limit": memory_limit, "member_share": member_share,
            "firms": region["firms"],
            "engine_threads": getattr(lab_cfg, "engine_threads", None),
            "membership_rows": region["membership_rows"], "consortia": n,
            "bytes": {p.name: p.stat().st_size for p in sorted(root.glob("*.parquet"))},
            "seconds": round(time.perf_counter() - t0, 1)}
    done.write_text(json.dumps(desc, indent=1))
    shutil.rmtree(store, ignore_errors=True)
    return desc


# --------------------------------------------------------------------------- runs


def spawn(cmd: list[str], *, cap_gb: float | None, log: Path, timeout: float,
          cwd: Path) -> dict:
    """Run ``cmd`` under RLIMIT_AS ``cap_gb``; wall time, peak RSS (sampled process tree and
    the child's ru_maxrss), exit code and the last stderr line."""
    import psutil

    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_ARENA_MAX", "ARROW_DEFAULT_MEMORY_POOL", "DUCKDB_JE_MALLOC_CONF")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "ignore"

    def limit() -> None:
        import resource

        if cap_gb:
            cap = int(cap_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    with open(log, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=limit,  # noqa: PLW1509 - no threads in the parent
                                start_new_session=True)
        root = psutil.Process(proc.pid)
        peak, timed_out = 0, False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = 0
            try:
                for p in (root, *root.children(recursive=True)):
                    with_rss = p.memory_info().rss
                    rss += with_rss
            except psutil.Error:
                pass
            peak = max(peak, rss)
            if time.perf_counter() - t0 > timeout and not timed_out:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.2)
        wall = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ("Error" in ln or "Exception" in ln) and not
              ln.startswith(("File ", "Traceback", "raise ", "^"))]
    frames = re.findall(r'File "[^"]*?/(policylab/[^"]+)", line (\d+), in (\w+)',
                        "\n".join(lines))
    return {"where": ":".join(frames[-1][:2]) + f" ({frames[-1][2]})" if frames else "",
            "stack": [f"{f}:{n} ({fn})" for f, n, fn in frames],
            "last_line": lines[-1][:300] if lines else "","wall": round(wall, 1), "sampled_peak_mb": round(peak / 2**20, 1),
            "ru_maxrss_mb": round(usage.ru_maxrss / 1024, 1),
            "peak_mb": round(max(peak / 2**20, usage.ru_maxrss / 1024), 1),
            "exit": code, "timed_out": timed_out,
            "last_stderr": (f"stopped after {timeout:.0f} s" if timed_out
                            else ((errors or lines)[-1][:300] if lines else ""))}


def report_of(out: Path) -> dict:
    """What the run wrote: index.html and results.json, and the headline effects."""
    rec = {"index_html": (out / "index.html").is_file(),
           "results_json": (out / "results.json").is_file(), "headline": {}}
    if rec["results_json"]:
        data = json.loads((out / "results.json").read_text(encoding="utf-8"))
        for e in data.get("effects", []):
            h = e["headline"]
            rec["headline"][e["outcome"]] = {
                "method": e["method"], "estimate": h["estimate"], "std_error": h["std_error"],
                "conf_low": h["conf_low"], "conf_high": h["conf_high"],
                "n_obs": e["n_obs"], "n_units": e["n_units"], "n_treated": e["n_treated"],
                "n_clusters": e["n_clusters"]}
        rec["engine"] = data.get("settings", {}).get("engine", "pandas")
        rec["indicator_cells"] = len(data.get("indicators", []))
    return rec


def phases_of(marks: list[dict]) -> list[dict]:
    """The progress marks as stages: start, duration, RSS at the end, peak within."""
    if not marks:
        return []
    first = marks[0]
    out = [{"stage": "(imports)", "start": 0.0, "seconds": first["t"],
            "rss_end_mb": first["rss_mb"], "hwm_end_mb": min(first["hwm_mb"], first["rss_mb"]),
            "new_peak": True,
            "vm_end_mb": first.get("vm_mb"), "vmpeak_end_mb": first.get("vmpeak_mb")}]
    for a, b in itertools.pairwise(marks):
        stage = "(config, store lock)" if a is first else a["stage"]
        out.append({"stage": stage, "start": a["t"], "seconds": round(b["t"] - a["t"], 2),
                    "rss_end_mb": b["rss_mb"], "hwm_end_mb": b["hwm_mb"],
                    "new_peak": b["hwm_mb"] > a["hwm_mb"] + 1, "vm_end_mb": b.get("vm_mb"),
                    "vmpeak_end_mb": b.get("vmpeak_mb"),
                    "failed": b["stage"].startswith("failed:"),
                    "error": b["stage"][len("failed: "):] if b["stage"].startswith("failed:")
                    else None})
    return out


def versions() -> dict:
    import platform

    import duckdb
    import pandas
    import psutil
    import pyarrow

    from policylab import __version__

    cpu = "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"python": platform.python_version(), "pandas": pandas.__version__,
            "pyarrow": pyarrow.__version__, "duckdb": duckdb.__version__,
            "policylab": __version__, "cpu": cpu, "cores": os.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "machine": platform.machine()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--small-rows", type=float, default=2e6)
    ap.add_argument("--no-small", action="store_true")
    ap.add_argument("--no-phases", action="store_true")
    ap.add_argument("--no-uncapped", action="store_true",
                    help="no phases run under the guard only")
    ap.add_argument("--cap-gb", type=float, default=4.0)
    ap.add_argument("--memory-limit", default="1GB", help="lab.engine_memory_limit")
    ap.add_argument("--member-share", type=float, default=0.30,
                    help="share of the firms that are members (a register: 0.01-0.02)")
    ap.add_argument("--guard-gb", type=float, default=16.0,
                    help="RLIMIT_AS of the uncapped pandas run (the shared machine)")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir())
                                          / "policylab-evaluate-engine-bench"))
    ap.add_argument("--max-load", type=float, default=2.0)
    ap.add_argument("--max-wait", type=float, default=180.0)
    ap.add_argument("--wait-budget", type=float, default=300.0)
    ap.add_argument("--no-load-wait", action="store_true")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--render", help="only write the page from this results JSON")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    ap.add_argument("--keep-data", action="store_true")
    args = ap.parse_args()
    if args.render:
        run = json.loads(Path(args.render).read_text())
        run["notes"] = [*run.get("notes", []), *args.note]
        write_results(run, OUT if args.write else None)
        return
    from bench_engines import Waiter, available_gb, load1

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    wait = Waiter(args.max_load, args.max_wait, args.wait_budget, not args.no_load_wait)
    t_start = time.perf_counter()
    run: dict = {"date": _dt.datetime.now().isoformat(timespec="minutes"),
                 "versions": versions(), "args": vars(args), "labs": {}, "runs": [],
                 "notes": list(args.note)}
    results = data / "results.json"

    def save() -> None:
        run["total_s"] = round(time.perf_counter() - t_start, 1)
        results.write_text(json.dumps(run, indent=1, default=str))

    def one(kind: str, engine: str, rows: int, lab: Path, cap: float | None,
            cap_note: str) -> dict:
        tag = f"{kind}-{engine}-{rows}{'-capped' if cap == args.cap_gb else ''}"
        out = data / "out" / tag
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        row = {"kind": kind, "engine": engine, "rows": rows, "cap": cap_note,
               **wait(tag)}
        print(f"{tag}: running (load {row['load_start']}, {cap_note})", flush=True)
        if kind == "cli":
            cmd = [sys.executable, "-c", CLI, "evaluate", str(lab / "lab.toml"), "--engine",
                   engine, "--out", str(out), "--quiet"]
        else:
            marks = data / f"{tag}.marks.json"
            marks.unlink(missing_ok=True)
            cmd = [sys.executable, "-c", PHASES, str(lab / "lab.toml"), str(out), engine,
                   str(marks)]
        row.update(spawn(cmd, cap_gb=cap, log=data / f"{tag}.stderr", timeout=args.timeout,
                         cwd=data))
        row["load_end"] = round(load1(), 2)
        row["report"] = report_of(out)
        if kind == "phases" and marks.exists():
            row["phases"] = phases_of(json.loads(marks.read_text()))
        print(f"{tag}: exit {row['exit']}, wall {row['wall']} s, peak {row['peak_mb']:.0f} MB, "
              f"report {row['report']['index_html']}/{row['report']['results_json']}, "
              f"headline {row['report']['headline'].get(OUTCOMES[0], {}).get('estimate')}; "
              f"{row['last_stderr'][:200]}", flush=True)
        run["runs"].append(row)
        save()
        shutil.rmtree(out / "store", ignore_errors=True)  # the runs' stores: GBs at 10 M
        return row

    rows = int(args.rows)
    lab = data / f"lab-{rows}-{args.member_share:g}"
    print(f"writing the lab ({rows:,} firm-years)", flush=True)
    run["labs"][str(rows)] = write_lab(lab, rows, memory_limit=args.memory_limit,
                                       member_share=args.member_share)
    save()
    cap = f"RLIMIT_AS {args.cap_gb:g} GB"
    one("cli", "duckdb", rows, lab, args.cap_gb,
        f"{cap}, engine_memory_limit {args.memory_limit}")
    one("cli", "pandas", rows, lab, args.cap_gb, cap)
    if not args.no_phases:
        one("phases", "duckdb", rows, lab, args.cap_gb,
            f"{cap}, engine_memory_limit {args.memory_limit}")
        if not args.no_uncapped:  # where the address space goes when nothing stops it
            guard = min(args.guard_gb, max(2.0, available_gb() - 2.0))
            one("phases", "duckdb", rows, lab, guard,
                f"guard: RLIMIT_AS {guard:.0f} GB, engine_memory_limit {args.memory_limit}")
    if not args.no_small:
        small = int(args.small_rows)
        lab_s = data / f"lab-{small}-{args.member_share:g}"
        print(f"writing the lab ({small:,} firm-years)", flush=True)
        run["labs"][str(small)] = write_lab(lab_s, small, memory_limit=args.memory_limit,
                                         member_share=args.member_share)
        guard = min(args.guard_gb, max(2.0, available_gb() - 2.0))
        one("cli", "pandas", small, lab_s, guard, f"guard: RLIMIT_AS {guard:.0f} GB")
        one("cli", "duckdb", small, lab_s, args.cap_gb,
            f"{cap}, engine_memory_limit {args.memory_limit}")
    run["load_end"] = list(os.getloadavg())
    save()
    print(f"results in {results}; total {run['total_s']:.0f} s")
    write_results(run, OUT if args.write else None)
    if not args.keep_data:
        for p in data.glob("lab-*"):
            shutil.rmtree(p, ignore_errors=True)
        shutil.rmtree(data / "out", ignore_errors=True)


# --------------------------------------------------------------------------- the page


def _mb(x: float | None) -> str:
    return "" if x is None else f"{x:,.0f}"


def _headline(rep: dict, outcome: str) -> str:
    h = rep.get("headline", {}).get(outcome)
    if not h:
        return ""
    return f"{h['estimate']:.4g} (SE {h['std_error']:.2g})"


def write_results(run: dict, path: Path | None) -> None:
    v, a = run["versions"], run["args"]
    load = run.get("load_end") or [float("nan")] * 3
    labs = run["labs"]
    share = 100 * a.get("member_share", 0.30)
    scale_note = (", and thousands of consortia: far more of both than a real programme has"
                  if share >= 10 else
                  ": a register of all the region's firms, of which the programme supports a "
                  "few")
    lines = [
        ("# Benchmark: a whole `policylab evaluate` under a memory cap, DuckDB against pandas "
         "(issue 14)"),
        "",
        ("Written by `python benchmarks/bench_evaluate_engine.py --write` (do not edit by "
         "hand); the engine stages alone at 1-50 M firm-years are in `ENGINES.md`."),
        "",
        (f"- date: {run['date'][:10]}; machine: {v['cores']} cores ({v['cpu']}), "
         f"{v['ram_gb']:g} GB RAM, no swap, {v['machine']}, shared with other work; Python "
         f"{v['python']}, pandas {v['pandas']}, pyarrow {v['pyarrow']}, duckdb {v['duckdb']}, "
         f"policylab {v['policylab']}; before each run the script waited (up to "
         f"{a['max_wait']:.0f} s, {a['wait_budget']:.0f} s in all) for the 1-minute load to "
         f"fall below {a['max_load']:g}; load average at the end {load[0]:.1f} / "
         f"{load[1]:.1f} / {load[2]:.1f}"),
        ("- the lab, written by the script into a scratch folder outside the repository: one "
         "region whose firms file is Parquet with the canonical column names (`firm_id, year, "
         "sector, employees, turnover_eur, exports_eur, n_export_markets`; the panel of "
         "`engine_lab.py`, seed 2024, streamed out of the store it generates one 1 M-row row "
         f"group at a time: 2008-2022, {share:g} % of the firms members of consortia of "
         f"about 15, so about {share:g} % of the firm-years are members' and stay in memory "
         f"on the out-of-core path{scale_note}), a membership file and a clusters file "
         "(Parquet); "
         + "; ".join(f"{int(n) / 1e6:g} M firm-years: {d['firms']:,} firms, "
                     f"{d['membership_rows']:,} memberships in {d['consortia']:,} consortia, "
                     f"firms file {d['bytes']['firms.parquet'] / 2**20:,.0f} MB"
                     for n, d in sorted(labs.items(), key=lambda kv: int(kv[0])))),
        (f"- config: `[estimation] methods = [\"callaway_santanna\"]`, outcomes "
         f"{', '.join(f'`{o}`' for o in OUTCOMES)}, `margins = false` (the out-of-core run "
         f"does not estimate the export margins; switched off so both engines compute the "
         f"same effects); `[lab] engine_memory_limit = \"{a['memory_limit']}\"` (DuckDB's "
         f"memory_limit, which each of its connections gets); everything else default"
         + "".join(f" (`engine_threads` = {t}: DuckDB's threads; 1 keeps the outputs "
                   "byte-identical between runs)" for t in
                   {d.get("engine_threads") for d in labs.values()} - {None})),
        ("- each row: a fresh process under an address-space limit (`RLIMIT_AS`), the allocators "
         "as policylab sets them (no `MALLOC_ARENA_MAX`, `ARROW_DEFAULT_MEMORY_POOL` or "
         "`DUCKDB_JE_MALLOC_CONF` in the environment). `cli`: `python -c \"from policylab.cli import "
         "main; main()\" evaluate lab.toml --engine ENGINE --out OUT --quiet`; `phases`: the "
         "same evaluation through the Python API (`policylab.allocators.before_loading()`, as "
         "the command line calls it, then `policylab.pipeline.evaluate(..., progress=...)`), each "
         "progress message time-stamped with the resident memory and the address space. "
         "wall: the process's life, timed by the parent; peak RSS: the larger of the process "
         "tree's resident memory sampled every 0.2 s and the child's `ru_maxrss` "
         "(`os.wait4`); error: the exception's line of stderr (`--quiet` leaves errors only); "
         "where: the innermost policylab frame of its traceback; every run ingests into a "
         "fresh store"),
        "",
        ("| run | engine | firm-years | limits | wall (s) | peak RSS (MB) | exit code | report "
         "written | headline exporter | headline exports_eur | error (stderr) | where "
         "(innermost policylab frame) | load at start |"),
        "|---|---|---:|---|---:|---:|---:|---|---|---|---|---|---:|",
    ]
    for r in run["runs"]:
        rep = r.get("report", {})
        written = ("index.html, results.json" if rep.get("index_html") and rep.get("results_json")
                   else "**no**")
        err = r.get("last_stderr", "").replace("|", "/")
        where = f"`{r['where']}`" if r.get("where") and r["exit"] else ""
        lines.append(
            f"| {r['kind']} | {r['engine']} | {r['rows']:,} | {r['cap']} | {r['wall']:.1f} | "
            f"{_mb(r['peak_mb'])} | {r['exit']} | {written} | {_headline(rep, OUTCOMES[0])} | "
            f"{_headline(rep, OUTCOMES[1])} | {f'`{err}`' if err else ''} | "
            f"{where} | "
            f"{r.get('load_start', float('nan')):.1f} |")
    for ph in (r for r in run["runs"] if r["kind"] == "phases" and r.get("phases")):
        total = sum(p["seconds"] for p in ph["phases"])
        failed = next((p for p in ph["phases"] if p.get("failed")), None)
        lines += ["", (f"Where the time and memory go: `phases` row, {ph['engine']}, "
                       f"{ph['rows'] / 1e6:g} M firm-years, {ph['cap']}"
                       + (f", **failed** in \"{failed['stage']}\"" if failed else "")
                       + ". The stages are the progress messages `evaluate` gives; RSS is "
                       "resident memory, the address space (`VmSize`, `VmPeak` of "
                       "`/proc/self/status`) is what `RLIMIT_AS` limits:"), "",
                  ("| stage | from (s) | seconds | share | RSS at its end (MB) | RSS "
                   "high-water mark at its end (MB) | address space at its end (MB) | "
                   "address-space peak at its end (MB) |"),
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        first = ph["phases"][0]
        inherited = (first["hwm_end_mb"] if first["hwm_end_mb"] > first["rss_end_mb"] + 50
                     else None)  # ru_maxrss of an older run: the parent's, kept across fork
        for p in ph["phases"]:
            mark = " (new peak)" if p["new_peak"] else ""
            hwm = "" if p["hwm_end_mb"] == inherited else f"{_mb(p['hwm_end_mb'])}{mark}"
            stage = p["stage"] + (f" — **failed**: `{p['error']}`" if p.get("failed") else "")
            lines.append(f"| {stage} | {p['start']:.1f} | {p['seconds']:.1f} | "
                         f"{100 * p['seconds'] / total:.0f} % | {_mb(p['rss_end_mb'])} | "
                         f"{hwm} | {_mb(p.get('vm_end_mb'))} | "
                         f"{_mb(p.get('vmpeak_end_mb'))} |")
        if inherited:
            lines += ["", (f"(A blank high-water mark: below the {_mb(inherited)} MB the "
                           "benchmark's parent process held when it started the run, which "
                           "`ru_maxrss` reported instead; the script now reads `VmHWM`.)")]
    lines += ["", "## What the numbers say", ""] + [f"- {x}" for x in findings(run)]
    notes = list(run.get("notes", []))
    if notes:
        lines += ["", "Notes:", ""] + [f"- {m}" for m in notes]
    lines += ["", (f"Total run time of the script: {run.get('total_s', float('nan')) / 60:.0f} "
                   "min (writing the labs, load waits and every run).")]
    text = "\n".join(lines) + "\n"
    if path is None:
        print(text)
    else:
        path.write_text(text)
        print(f"wrote {path}")


def _stage(stages: list[dict], prefix: str) -> dict | None:
    return next((x for x in stages if x["stage"].startswith(prefix)), None)


def findings(run: dict) -> list[str]:
    """The page's conclusions, from the rows."""
    a = run["args"]
    big = int(a["rows"])
    runs = run["runs"]

    def find(kind: str, engine: str, rows: int, capped: bool | None = None) -> dict | None:
        return next((r for r in runs if r["kind"] == kind and r["engine"] == engine
                     and r["rows"] == rows and (capped is None
                                                or r["cap"].startswith("RLIMIT") == capped)),
                    None)

    out = []
    d, p = find("cli", "duckdb", big), find("cli", "pandas", big)
    pc, pu = find("phases", "duckdb", big, True), find("phases", "duckdb", big, False)
    if d:
        ok = d["exit"] == 0 and d["report"].get("index_html") and d["report"].get("results_json")
        h = d["report"].get("headline", {}).get(OUTCOMES[0])
        txt = (f"`evaluate --engine duckdb` on {big / 1e6:g} M firm-years under RLIMIT_AS "
               f"{a['cap_gb']:g} GB {'finished' if ok else '**did not finish**'} "
               f"({d['wall']:.0f} s, resident peak {_mb(d['peak_mb'])} MB)")
        if ok and h:
            txt += (f" and wrote the report: headline effect on `{OUTCOMES[0]}` "
                    f"{h['estimate']:.4f} (SE {h['std_error']:.4f}, 95 % CI {h['conf_low']:.4f} "
                    f"to {h['conf_high']:.4f}; {h['n_units']:,} firms, {h['n_treated']:,} "
                    f"members, {h['n_clusters']:,} clusters)")
        else:
            txt += (f": exit code {d['exit']}, `{d['last_stderr']}`, raised in `{d['where']}`"
                    + (f" (called from {' <- '.join(f'`{x}`' for x in d['stack'][-4:-1][::-1])})"
                       if len(d.get("stack", [])) > 1 else ""))
            stages = (pc or {}).get("phases") or []
            bad = next((x for x in stages if x.get("failed")), None)
            if bad:
                before = stages[stages.index(bad) - 1] if stages.index(bad) else bad
                txt += (f". The `phases` run failed the same way in \"{bad['stage']}\" "
                        f"after {bad['seconds']:.0f} s of it: the process's resident memory had "
                        f"not passed {_mb(bad['hwm_end_mb'])} MB, but its address space had "
                        f"reached {_mb(bad['vmpeak_end_mb'])} MB, the cap (it held "
                        f"{_mb(before.get('vm_end_mb'))} MB of address space against "
                        f"{_mb(before['rss_end_mb'])} MB resident when the stage began): "
                        "RLIMIT_AS limits address space, and what ran out is address space, "
                        "not memory")
        out.append(txt)
    if p:
        failed = p["exit"] != 0
        out.append(
            "`evaluate --engine pandas` on the same lab under the same cap "
            + (f"**failed** after {p['wall']:.0f} s (exit code {p['exit']}, resident peak "
               f"{_mb(p['peak_mb'])} MB) " + (
                   f"in the whole-file ingest: `{p['last_stderr']}` in `{p['where']}`"
                   if p["exit"] > 0 and p.get("where") else
                   f"with one line and no traceback: `{p['last_stderr']}`"
                   if p["exit"] > 0 else
                   f"killed by signal {-p['exit']} ({signal.Signals(-p['exit']).name}: a "
                   "library's unchecked allocation failing under the cap), with no message")
               if failed else
               f"finished in {p['wall']:.0f} s with a {_mb(p['peak_mb'])} MB peak"))
    if pu and pu.get("phases"):
        stages = pu["phases"]
        total = sum(x["seconds"] for x in stages)
        ingest = _stage(stages, "Reading")
        rss_top = max(stages, key=lambda x: x["hwm_end_mb"] if x["new_peak"] else 0)
        vm_top = max(stages, key=lambda x: x.get("vmpeak_end_mb") or 0)
        vm_first = next((x for x in stages if (x.get("vmpeak_end_mb") or 0) > a["cap_gb"] * 1024),
                        None)
        txt = (f"without the cap (the guard only) the same run finished in {total:.0f} s "
               f"(exit {pu['exit']}) with a resident peak of {_mb(pu['peak_mb'])} MB, set in "
               f"\"{rss_top['stage']}\", and an address-space peak of "
               f"{_mb(vm_top.get('vmpeak_end_mb'))} MB")
        if vm_first:
            txt += (f", first above {a['cap_gb']:g} GB in \"{vm_first['stage']}\"")
        if pu["peak_mb"] < a["cap_gb"] * 1024 < (vm_top.get("vmpeak_end_mb") or 0):
            txt += (f" (so under a {a['cap_gb']:g} GB limit on resident memory, such as a "
                    "container's cgroup memory limit, rather than on address space it would "
                    "presumably have finished; not measured here)")
        if ingest:
            txt += (f"; the streamed ingest took {ingest['seconds']:.0f} s of the {total:.0f} s "
                    f"({100 * ingest['seconds'] / total:.0f} %) and left "
                    f"{_mb(ingest.get('vm_end_mb'))} MB of address space for "
                    f"{_mb(ingest['rss_end_mb'])} MB resident")
        mem = [x for x in stages if x["stage"].startswith(("Computing the EU", "Writing"))]
        if mem:
            txt += ("; the stages that run in memory on the members' rows took " + ", ".join(
                f"\"{x['stage']}\" {x['seconds']:.0f} s" for x in mem) + " ("
                f"{100 * sum(x['seconds'] for x in mem) / total:.0f} % of the run)")
        out.append(txt)
    sp_p = next((r for r in runs if r["kind"] == "cli" and r["engine"] == "pandas"
                 and r["rows"] != big), None)
    sp_d = next((r for r in runs if r["kind"] == "cli" and r["engine"] == "duckdb"
                 and r["rows"] != big), None)
    if sp_p:
        n = sp_p["rows"]
        per = sp_p["peak_mb"] * 2**20 / n
        txt = (f"uncapped, pandas needed {_mb(sp_p['peak_mb'])} MB for {n / 1e6:g} M firm-years "
               f"({per / 1e3:.2f} kB per firm-year, imports included: about "
               f"{per * big / 2**30:.0f} GB at {big / 1e6:g} M if it grows in proportion) in "
               f"{sp_p['wall']:.0f} s"
               + ("" if sp_p["exit"] == 0 else f", exit {sp_p['exit']}: `{sp_p['last_stderr']}`"))
        if sp_d:
            txt += (f"; DuckDB under RLIMIT_AS {a['cap_gb']:g} GB "
                    + ("finished" if sp_d["exit"] == 0 else "**failed**")
                    + f" at that size ({_mb(sp_d['peak_mb'])} MB, {sp_d['wall']:.0f} s)")
            hd, hp = sp_d["report"].get("headline", {}), sp_p["report"].get("headline", {})
            diffs = [(o, abs(hd[o]["estimate"] - hp[o]["estimate"]) / max(1.0, abs(hp[o]["estimate"])),
                      abs(hd[o]["std_error"] - hp[o]["std_error"]) / max(1.0, abs(hp[o]["std_error"])))
                     for o in OUTCOMES if o in hd and o in hp]
            if diffs:
                txt += ("; the two reports' headline effects agree ("
                        + "; ".join(f"`{o}`: estimates {de:.1e}, standard errors {ds:.1e} "
                                    "apart, relative to max(1, |pandas|)" for o, de, ds in diffs)
                        + ")")
        out.append(txt)
    return out


if __name__ == "__main__":
    main()
