"""Benchmark: the few-cluster headline inference ``evaluate`` adds to each estimate.

For N firms x 10 years (members in 10 consortia joining 2014-2018, 60% never members, each
its own cluster) it times ``few_cluster_inference`` on the two headlines ``evaluate``
computes: ``att_gt`` (Callaway-Sant'Anna, its simple aggregate) and the TWFE event study,
each with the wild cluster restricted bootstrap, Webb weights, B = 999 draws (evaluate's
``bootstrap_draws``) and test inversion for the interval.

Each firm count runs in a fresh worker process: it builds the panel and the fits, then
times each headline (wall and CPU seconds, best of ``--repeat``) and measures the memory the
headline adds at its peak (peak resident set size during the call minus the resident set
before it; the peak is reset with ``/proc/self/clear_refs``). The p-value and interval are
recorded too, so before and after can be checked to agree.

``--src DIR`` also times another copy of policylab (e.g. the base commit, from
``git archive``) in the same run, for a before/after table; ``--src-label`` names it. The
run prints one JSON line per measurement; ``--render LOG`` rewrites the file from them.

Usage::

    python benchmarks/bench_few_clusters.py                          # 20k, 100k, 1M firms
    python benchmarks/bench_few_clusters.py --src BASE --src-label "6888b90 (before)"
    python benchmarks/bench_few_clusters.py --firms 2000 --no-write
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "FEW_CLUSTERS.md"
DRAWS = 999


def panel(n_firms: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2020)
    member = rng.random(n_firms) < 0.4
    consortium = np.where(member, rng.integers(0, 10, n_firms), -1)
    join = np.array([2014, 2015, 2016, 2017, 2018, 2014, 2015, 2016, 2017, 2018])
    cohort = np.where(member, join[np.maximum(consortium, 0)], 0)
    firm = np.repeat(np.arange(n_firms), years.size)
    year = np.tile(years, n_firms)
    coh = cohort[firm]
    shock = rng.normal(0, 0.3, (11, years.size))
    cl = consortium[firm]
    y = (rng.normal(0, 1, n_firms)[firm] + 0.1 * (year - 2010) + rng.normal(0, 1, firm.size)
         + np.where(cl >= 0, shock[np.maximum(cl, 0), year - 2010], 0.0)
         + 0.3 * ((coh > 0) & (year >= coh)))
    return pd.DataFrame({"firm": firm, "year": year, "cohort": coh, "y": y,
                         "cluster": np.where(cl >= 0, cl.astype(str), "f" + firm.astype(str))})


# --- worker -----------------------------------------------------------------------------


def _memory_mb() -> tuple[float, float]:
    """(resident, peak resident) MB of this process."""
    text = Path("/proc/self/status").read_text()
    rss, hwm = (int(re.search(rf"{k}:\s+(\d+)", text).group(1)) / 1024 for k in ("VmRSS", "VmHWM"))
    return rss, hwm


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the peak RSS to the current


def _worker(n_firms: int, repeat: int, draws: int, mem_limit_gb: float | None) -> None:
    from policylab.did import aggregate, att_gt, event_study, few_cluster_inference

    if mem_limit_gb:  # address-space cap: a MemoryError rather than the machine's OOM killer
        import resource

        cap = int(mem_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    df = panel(n_firms)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort",
                    cluster="cluster")
        aggregate(gt, "simple")
        fit_cs = time.perf_counter() - t0
        t0 = time.perf_counter()
        es = event_study(df, outcome="y", unit="firm", time="year", cohort="cohort", leads=4,
                         lags=5, cluster="cluster")
        fit_es = time.perf_counter() - t0
        for name, res, fit in (("callaway_santanna", gt, fit_cs), ("event_study", es, fit_es)):
            best = None
            try:
                for _ in range(repeat):
                    _reset_peak()
                    rss0, _ = _memory_mb()
                    w0, c0 = time.perf_counter(), time.process_time()
                    d = few_cluster_inference(res, df, draws=draws)
                    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                    peak = _memory_mb()[1] - rss0
                    if best is None or wall < best["wall"]:
                        best = {"wall": wall, "cpu": cpu}
                    best["peak_mb"] = max(best.get("peak_mb", 0.0), peak)
            except MemoryError:
                out.append({"firms": n_firms, "headline": name, "fit": fit,
                            "error": f"MemoryError (address space capped at {mem_limit_gb:g} GB)",
                            "clusters": int(df["cluster"].nunique()),
                            "load": os.getloadavg()[0]})
                continue
            inf = d.inference
            out.append({"firms": n_firms, "headline": name, "fit": fit, **best,
                        "method": d.method, "clusters": d.n_clusters,
                        "treated": d.n_treated_clusters, "p": inf.p_value,
                        "lo": inf.conf_low, "hi": inf.conf_high,
                        "load": os.getloadavg()[0]})
    print(json.dumps(out))


# --- parent -----------------------------------------------------------------------------


def _run(
    n_firms: int, repeat: int, draws: int, src: Path | None, mem_limit_gb: float | None
) -> list[dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src if src is not None else HERE.parent)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--firms", str(n_firms),
           "--repeat", str(repeat), "--draws", str(draws)]
    if mem_limit_gb:
        cmd += ["--mem-limit-gb", str(mem_limit_gb)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker failed ({n_firms} firms):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt_ci(r: dict) -> str:
    return f"{r['p']:.4f}, [{r['lo']:.4f}, {r['hi']:.4f}]"


def _table(rows: list[dict], versions: list[str]) -> list[str]:
    head = "| firms | clusters | headline |"
    rule = "|---:|---:|---|"
    for v in versions:
        head += f" {v}: wall s | CPU s | peak MB |"
        rule += "---:|---:|---:|"
    head += " p-value, 95% interval |"
    rule += "---|"
    lines = [head, rule]
    keys = sorted({(r["firms"], r["headline"]) for r in rows})
    for firms, headline in keys:
        by = {r["version"]: r for r in rows if (r["firms"], r["headline"]) == (firms, headline)}
        first = next(iter(by.values()))
        line = f"| {firms:,} | {first['clusters']:,} | {headline} |"
        for v in versions:
            r = by.get(v)
            if r is None:
                line += " - | - | - |"
            elif "error" in r:
                line += f" {r['error']} | | |"
            else:
                line += f" {r['wall']:.2f} | {r['cpu']:.2f} | {r['peak_mb']:,.0f} |"
        ok = {v: r for v, r in by.items() if "error" not in r}
        cis = {_fmt_ci(r) for r in ok.values()}
        line += (f" {cis.pop()} (same in all)" if len(cis) == 1 else
                 " " + " / ".join(f"{v}: {_fmt_ci(ok[v])}" for v in versions if v in ok)) + " |"
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, nargs="*", default=[20000, 100000, 1000000])
    ap.add_argument("--repeat", type=int, default=2, help="best of this many calls")
    ap.add_argument("--draws", type=int, default=DRAWS)
    ap.add_argument("--src", type=Path, help="another copy of policylab to time (before)")
    ap.add_argument("--src-label", default="before")
    ap.add_argument("--src-repeat", type=int, help="repeats for --src (default --repeat)")
    ap.add_argument("--src-mem-limit-gb", type=float,
                    help="cap the --src worker's address space (GB): the old code holds dense "
                    "rows x columns designs and the draws x clusters weights")
    ap.add_argument("--mem-limit-gb", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--render", type=Path, help="write the file from a previous run's output")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.firms[0], args.repeat, args.draws, args.mem_limit_gb)
        return
    loads = [os.getloadavg()[0]]
    rows = []
    if args.render:
        lines = args.render.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(x) for x in lines if x.startswith('{"firms"')]
        loads = []
    for n in [] if args.render else args.firms:
        for label, src in ([(args.src_label, args.src)] if args.src else []) + [("after", None)]:
            repeat = (args.src_repeat or args.repeat) if src is not None else args.repeat
            cap = args.src_mem_limit_gb if src is not None else None
            for r in _run(n, repeat, args.draws, src, cap):
                rows.append({**r, "version": label})
                print(json.dumps(rows[-1]), flush=True)
            loads.append(os.getloadavg()[0])
    loads += [r["load"] for r in rows]
    versions = list(dict.fromkeys(r["version"] for r in rows if r["version"] != "after"))
    versions.append("after")
    import numpy
    import scipy

    fits = sorted((r["firms"], r["headline"], r["fit"]) for r in rows if r["version"] == "after")
    lines = [
        "# Benchmark: few-cluster headline inference", "",
        "Written by `python benchmarks/bench_few_clusters.py` (do not edit by hand).", "",
        f"- date: {_dt.date.today()}; machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, scipy "
        f"{scipy.__version__}; load average (1 min) during the run "
        f"{min(loads):.1f}-{max(loads):.1f}: a shared machine, other work ran at the same "
        "time (on 2 cores), so wall times are noisy and longer than on an idle machine (CPU "
        "seconds less so)",
        "- data: N firms x 10 years; 40% members in 10 consortia joining 2014-2018, "
        "never-members their own clusters (clusters = 10 + never-members)",
        f"- each headline: `few_cluster_inference(result, data, draws={args.draws})`, i.e. the wild "
        "cluster restricted bootstrap with Webb weights and test inversion, as `evaluate` runs "
        f"it; best of {args.repeat} calls"
        + (f" ({args.src_repeat or args.repeat} for {args.src_label})" if args.src else "")
        + " in a fresh worker per firm count and version (after the fits); peak MB = peak "
        "resident memory during the call minus the resident memory before it"
        + (f"; {args.src_label} is the same benchmark on that commit's policylab"
           if args.src else ""),
        "- earlier versions of this file called `few_cluster_inference(result, data)`, whose "
        "default is B = 9,999 draws, while saying 999; the 17 s / 14 s per headline at "
        "100,000 firms they reported were 9,999 draws",
        "", *_table(rows, versions), "",
        "Fits before the bootstrap (after, seconds): "
        + "; ".join(f"{n:,} firms {h} {t:.1f}" for n, h, t in fits) + ".",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
