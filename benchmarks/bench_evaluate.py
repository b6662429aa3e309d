"""``policylab evaluate`` end to end, stage by stage, on the example and on registry-scale labs.

Run by hand; it writes ``benchmarks/EVALUATE.md``. Each measurement is a fresh worker
process (interpreter start, imports, ingest through the store, estimation, report, exit),
timed by the parent; its peak RSS is the worker's ``ru_maxrss``. Inside the worker, the
pipeline's stage functions are wrapped with timers (wall seconds, summed over calls):

- ingest: reading, mapping and validating the inputs (``policylab.ingest``), store included
- panel: building each region's firm-year panel (``firm_panel``)
- estimation: the estimators' fits (``_fit_method``)
- few-cluster: the wild cluster restricted bootstrap of each headline (``headline_inference``)
- HonestDiD: the sensitivity analysis (``_honest``)
- other diagnostics: pre-trend tests, Bacon decomposition, power, disclosure of terms
- indicators: the monitoring indicators (``compute_indicators``)
- synthesis and balance: pooling across regions, balance before joining
- report: building and writing HTML, JSON and CSV (``write_report``)

``--src DIR`` times another checkout of policylab (e.g. the commit before a change, from
``git worktree add``) in the same run, so before and after share the machine's state.

    python benchmarks/registry_lab.py --firms 100000 --out LABS/100k   # once per size
    python benchmarks/bench_evaluate.py --labs LABS --sizes 10k 100k 1m --src OLD_CHECKOUT
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "EVALUATE.md"

STAGES = ["ingest", "panel", "estimation", "few-cluster", "HonestDiD", "other diagnostics",
          "indicators", "synthesis and balance", "report"]


# --- worker -----------------------------------------------------------------------------------


def _worker(config: str, out: str) -> None:
    import resource

    t0 = time.perf_counter()
    import policylab
    import policylab.did.disclosure
    import policylab.did.panel
    import policylab.pipeline as pl
    import policylab.report.writer

    t_import = time.perf_counter() - t0
    spent = dict.fromkeys(STAGES, 0.0)

    def timed(module, name: str, stage: str) -> None:
        fn = getattr(module, name)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[stage] += time.perf_counter() - start

        setattr(module, name, wrapper)

    for module, name, stage in [
        (pl, "ingest", "ingest"), (policylab.did.panel, "firm_panel", "panel"),
        (pl, "_fit_method", "estimation"), (pl, "headline_inference", "few-cluster"),
        (pl, "_honest", "HonestDiD"), (pl, "_pretrend", "other diagnostics"),
        (pl, "_bacon_summary", "other diagnostics"), (pl, "_power", "other diagnostics"),
        (policylab.did.disclosure, "hide_thin_terms", "other diagnostics"),
        (pl, "compute_indicators", "indicators"), (pl, "synthesize", "synthesis and balance"),
        (pl, "balance_table", "synthesis and balance"), (policylab.report.writer, "write_report", "report"),
        (policylab.report, "write_report", "report"),  # where older versions' evaluate found it
    ]:
        timed(module, name, stage)
    t1 = time.perf_counter()
    pl.evaluate(config, out_dir=out)
    total = time.perf_counter() - t1
    spent["rest"] = total - sum(spent.values())
    print(json.dumps({"import": t_import, "evaluate": total, "stages": spent,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


# --- parent -----------------------------------------------------------------------------------


def _run(config: Path, src: Path | None) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--worker", str(config), out],
                                stdout=subprocess.PIPE, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stdout = proc.stdout.read()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed on {config} (exit {proc.returncode})")
    res = json.loads(stdout.strip().splitlines()[-1])
    res.update(wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss_mb=usage.ru_maxrss / 1024)
    return res


def _rows(config: Path) -> int:
    import pyarrow.parquet as pq

    files = sorted(config.parent.glob("*/firms.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _version(src: Path | None) -> str:
    where = src or ROOT
    try:
        return subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--labs", type=Path, help="folder holding the generated labs (<size>/lab.toml)")
    ap.add_argument("--sizes", nargs="*", default=[], help="lab folder names under --labs, e.g. 10k 100k 1m")
    ap.add_argument("--src", type=Path, help="another checkout to time beside this one (before)")
    ap.add_argument("--src-max-rows", type=int, default=None,
                    help="time --src only on labs with at most this many firm-years (it may take hours)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per cell; the fastest is kept")
    ap.add_argument("--no-example", action="store_true")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    args = ap.parse_args()
    if args.worker:
        _worker(*args.worker)
        return

    labs = [] if args.no_example else [("example (1,890 firms)", ROOT / "configs" / "example.toml", None)]
    for size in args.sizes:
        cfg = args.labs / size / "lab.toml"
        labs.append((f"{size} ({_rows(cfg):,} firm-years)", cfg, _rows(cfg)))
    versions = ([("before", args.src)] if args.src else []) + [("after", None)]
    results = []
    for name, cfg, rows in labs:
        for label, src in versions:
            if src is not None and args.src_max_rows is not None and (rows or 0) > args.src_max_rows:
                continue
            # the shipped example as that checkout ships it (its config keys may differ)
            own = src / "configs" / "example.toml" if src is not None and rows is None else cfg
            best = min((_run(own, src) for _ in range(args.repeat)), key=lambda r: r["wall"])
            best.update(lab=name, rows=rows, version=f"{label} ({_version(src)})")
            results.append(best)
            print(f"{name:32s} {label:7s} wall {best['wall']:7.1f} s  rss {best['rss_mb']:7.0f} MB  "
                  + ", ".join(f"{k} {v:.1f}" for k, v in best["stages"].items()), flush=True)
    table = _table(results)
    print(table)
    if args.write:
        _write(table, results)


def _table(results: list[dict]) -> str:
    head = ["lab", "version", "wall (s)", "CPU (s)", "peak RSS (MB)", "import", *STAGES, "rest"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for r in results:
        cells = [r["lab"], r["version"], f"{r['wall']:.1f}", f"{r['cpu']:.1f}", f"{r['rss_mb']:,.0f}",
                 f"{r['import']:.1f}", *(f"{r['stages'][s]:.2f}" for s in [*STAGES, "rest"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write(table: str, results: list[dict]) -> None:
    load = os.getloadavg()
    text = [
        "# Benchmark: `policylab evaluate` end to end, by stage",
        "",
        "Written by `python benchmarks/bench_evaluate.py --write` (do not edit by hand); labs made by "
        "`benchmarks/registry_lab.py` (the example with each region's never-members replicated).",
        "",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)",
        "- wall and CPU: the whole worker process (start, imports, evaluate with writing, exit); "
        "peak RSS: its `ru_maxrss`; stage columns: wall seconds inside `evaluate`, summed over "
        "regions and outcomes (`rest`: what no stage timer covers)",
        "",
        table,
        "",
    ]
    OUT.write_text("\n".join(text), encoding="utf-8")


if __name__ == "__main__":
    main()
