"""Benchmark: the few-cluster headline inference ``evaluate`` adds to each estimate.

For N firms x 10 years (members in 10 consortia joining 2014-2018, 60% never members, each
its own cluster) it times, in this process after a warm-up on a small panel:
``att_gt`` + simple aggregation (the analytic headline), then ``few_cluster_inference`` on
it (wild cluster restricted bootstrap, Webb weights, B = 999, test inversion for the
interval), and the same for the TWFE event study. Wall and CPU seconds, best of ``--repeat``.

Usage::

    python benchmarks/bench_few_clusters.py                 # 2,000, 20,000 and 100,000 firms
    python benchmarks/bench_few_clusters.py --firms 2000 --no-write
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
OUT = HERE / "FEW_CLUSTERS.md"


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


def timed(fn, repeat: int) -> tuple[float, float, object]:
    best = (float("inf"), float("inf"), None)
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        if w < best[0]:
            best = (w, c, out)
    return best


def run(n_firms: int, repeat: int) -> list[dict]:
    from policylab.did import aggregate, att_gt, event_study, few_cluster_inference

    df = panel(n_firms)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w, c, gt = timed(lambda: att_gt(df, outcome="y", unit="firm", time="year",
                                        cohort="cohort", cluster="cluster"), repeat)
        aggregate(gt, "simple")
        rows.append({"firms": n_firms, "step": "att_gt (analytic, clustered)", "wall": w, "cpu": c})
        w, c, d = timed(lambda: few_cluster_inference(gt, df), repeat)
        rows.append({"firms": n_firms, "step": f"few_cluster_inference on CS ({d.method}, "
                     f"{d.n_treated_clusters} treated clusters)", "wall": w, "cpu": c})
        w, c, es = timed(lambda: event_study(df, outcome="y", unit="firm", time="year",
                                             cohort="cohort", leads=4, lags=5,
                                             cluster="cluster"), repeat)
        rows.append({"firms": n_firms, "step": "event_study (CRV1)", "wall": w, "cpu": c})
        w, c, d = timed(lambda: few_cluster_inference(es, df), repeat)
        rows.append({"firms": n_firms, "step": f"few_cluster_inference on the event study "
                     f"({d.method})", "wall": w, "cpu": c})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, nargs="*", default=[2000, 20000, 100000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    run(500, 1)  # warm-up: imports, first calls
    rows = [r for n in args.firms for r in run(n, args.repeat)]
    lines = ["# Benchmark: few-cluster headline inference", "",
             "Written by `python benchmarks/bench_few_clusters.py` (do not edit by hand).", "",
             f"- date: {_dt.date.today()}; machine: {os.cpu_count()} cores, {platform.machine()}, "
             f"Python {platform.python_version()}; load average at the end "
             f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine)",
             "- data: N firms x 10 years; 40% members in 10 consortia joining 2014-2018, "
             "never-members their own clusters; best of "
             f"{args.repeat} runs in one process after a warm-up; B = 999 Webb draws",
             "", "| firms | step | wall (s) | CPU (s) |", "|---:|---|---:|---:|"]
    lines += [f"| {r['firms']:,} | {r['step']} | {r['wall']:.2f} | {r['cpu']:.2f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
