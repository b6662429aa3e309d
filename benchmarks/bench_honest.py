"""Benchmark: ``honest_did`` on the example lab's 36 sensitivity analyses.

``policylab evaluate configs/example.toml`` runs HonestDiD on the TWFE event study (leads 4,
lags 5) of each region x outcome, twice: relative magnitudes (C-LF, with the breakdown value)
and smoothness (FLCI, with the breakdown value), 36 calls. This script fits those event
studies as the pipeline does (``estimate_region``, ``_honest``), then times the 36 calls of
the current ``honest_did`` and, with ``--baseline REV``, of the implementation at git
revision ``REV`` (read with ``git show``, run in this process), and reports the largest
difference between the two results. Best of ``--repeat`` passes; every pass starts with
empty memo caches, as a fresh ``policylab evaluate`` does.

Two smaller tables show what the run time depends on: one call on an event study with more
post periods (4 pre, 8 post; synthetic coefficients) and, with ``--firms N``, one call on a
synthetic N-firm event study (the inputs are the coefficients and their covariance, so the
number of firms should not matter).

Usage::

    python benchmarks/bench_honest.py --baseline 6888b90 --firms 100000   # writes HONEST.md
    python benchmarks/bench_honest.py --no-write
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import platform
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
OUT = HERE / "HONEST.md"
RESTRICTIONS = ("relative_magnitude", "smoothness")
LABELS = {"relative_magnitude": "relative magnitudes", "smoothness": "smoothness"}
NOTES = """\
Where the time went, and what changed (`policylab/did/honest.py`; the numbers are the same,
see the largest difference above and `test_fast_path_equals_the_straightforward_computation`
in `tests/did/test_honest.py`):

- Every restriction size rebuilt the 6 polyhedra of relative magnitudes and, for each,
  enumerated every basis of the dual polytope (924 here, 12,870 with 8 post periods) and drew
  10,000 least-favourable draws; the breakdown bisection did this at 12 to 15 sizes more.
  Now the bases are enumerated once per design: the dual vertices are the extreme rays of a
  cone that does not involve the standard deviations, so later sizes (and other data with the
  same design) re-solve one remembered basis per vertex, with the same linear algebra and
  tests. The standard normal draws are drawn once per seed and multiplied by each piece's
  factor of `eigh(SY)` (numpy's `multivariate_normal` does the same); the pieces of one size
  are built, and tested for all `theta`, in one pass.
- The breakdown search reuses the reported sizes (0, 0.5, 1, ...), and deciding whether a set
  excludes 0 bisects an endpoint only when 0 lies in its grid cell, and only until the side
  is known; the two endpoints of a reported interval are bisected side by side.
- The FLCI keeps its estimator family and its two starting weights (one linear programme)
  across sizes and evaluates the normal density and quantile without scipy.stats overhead
  (bit for bit the same values).
- Nothing depends on the number of firms: `honest_did` receives the event-study coefficients
  and their covariance (9 numbers and 9 x 9 here). Its time depends on the number of event
  times (the vertex enumeration grows combinatorially with the post periods) and, through the
  breakdown search, on how many sizes are evaluated.
"""


def example_event_studies() -> list[tuple[str, str, object]]:
    """The event studies ``_honest`` receives in ``policylab evaluate configs/example.toml``."""
    from policylab.config import load_config
    from policylab.did import event_study
    from policylab.did.panel import firm_panel
    from policylab.ingest import ingest
    from policylab.pipeline import _too_few_firms, headline_inference

    cfg = load_config(ROOT / "configs" / "example.toml")
    est = cfg.estimation
    out = []
    for region in ingest(cfg).regions:
        panel = firm_panel(region.tables["firms"], region.tables["membership"])
        cluster = "consortium" if est.cluster == "consortium" else "firm_id"
        for outcome in est.outcomes:
            if outcome not in panel or panel[outcome].notna().sum() == 0:
                continue
            if _too_few_firms(panel, outcome, cfg.lab.min_cell_firms):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = event_study(panel, outcome=outcome, unit="firm_id", time="year",
                                  cohort="cohort", leads=est.leads, lags=est.lags,
                                  cluster=cluster, alpha=est.alpha)
                res, _ = headline_inference(res, None, panel, cfg)
            out.append((region.info.key, outcome, res))
    return out


def load_baseline(rev: str) -> types.ModuleType:
    """``policylab/did/honest.py`` at git revision ``rev``, as a module of ``policylab.did``."""
    src = subprocess.run(["git", "show", f"{rev}:policylab/did/honest.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    import policylab.did  # noqa: F401  (the package its relative imports resolve in)

    name = "policylab.did._honest_baseline"
    mod = types.ModuleType(name)
    mod.__package__ = "policylab.did"
    sys.modules[name] = mod
    exec(compile(src, f"honest.py@{rev}", "exec"), mod.__dict__)
    return mod


def clear_caches(mod: types.ModuleType) -> None:
    for name in ("_BASES", "_DRAWS", "_NULL_BASES", "_PPF"):
        cache = getattr(mod, name, None)
        if isinstance(cache, dict):
            cache.clear()


def one_pass(mod: types.ModuleType, studies) -> tuple[dict, dict]:
    """Wall and CPU seconds per restriction, and the results, of the 36 calls."""
    clear_caches(mod)
    times, results = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for restriction in RESTRICTIONS:
            w0, c0 = time.perf_counter(), time.process_time()
            for key, outcome, es in studies:
                res = mod.honest_did(es, restriction=restriction, e="average")
                results[(key, outcome, restriction)] = res.to_dict()
            times[restriction] = (time.perf_counter() - w0, time.process_time() - c0)
    return times, results


def best_of(mod, studies, repeat: int) -> tuple[dict, dict]:
    best, results = None, None
    for _ in range(repeat):
        t, r = one_pass(mod, studies)
        if best is None or sum(w for w, _ in t.values()) < sum(w for w, _ in best.values()):
            best, results = t, r
    return best, results


def largest_difference(a, b) -> tuple[float, int, str]:
    """Largest ``|x - y| / max(1, |x|)`` over every number of two result trees (absolute for
    values below 1, relative above), how many numbers were compared, and where."""
    worst, where, count = 0.0, "", 0

    def walk(x, y, path):
        nonlocal worst, where, count
        if isinstance(x, dict):
            if set(x) != set(y):
                raise AssertionError(f"{path}: different keys")
            for k in x:
                walk(x[k], y[k], f"{path}/{k}")
        elif isinstance(x, (list, tuple)):
            if len(x) != len(y):
                raise AssertionError(f"{path}: different lengths")
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                walk(u, v, f"{path}[{i}]")
        elif isinstance(x, float) or isinstance(y, float):
            if x is None or y is None or isinstance(x, str) or isinstance(y, str):
                if x != y:
                    raise AssertionError(f"{path}: {x!r} != {y!r}")
                return
            count += 1
            d = abs(x - y) / max(1.0, abs(x)) if math.isfinite(x) else float(x != y)
            if d > worst:
                worst, where = d, path
        elif x != y:
            raise AssertionError(f"{path}: {x!r} != {y!r}")

    walk(a, b, "")
    return worst, count, where


def design_call(mod, n_pre: int = 4, n_post: int = 8) -> tuple[float, dict]:
    rng = np.random.default_rng(5)
    n = n_pre + n_post
    a = rng.normal(size=(n, n))
    sigma = 0.0004 * (a @ a.T / n + np.eye(n))
    beta = np.r_[rng.normal(0, 0.01, n_pre), 0.08 + rng.normal(0, 0.01, n_post)]
    clear_caches(mod)
    w0 = time.perf_counter()
    res = mod.honest_did(beta, sigma, num_pre=n_pre, num_post=n_post, e="average")
    return time.perf_counter() - w0, res.to_dict()


def firms_study(n_firms: int):
    sys.path.insert(0, str(HERE))
    from bench_few_clusters import panel

    from policylab.did import event_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return event_study(panel(n_firms), outcome="y", unit="firm", time="year",
                           cohort="cohort", leads=4, lags=5, cluster="cluster")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="git revision of the implementation to compare with")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline-repeat", type=int, default=1)
    ap.add_argument("--firms", type=int, nargs="*", default=[])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    from policylab.did.diagnostics import honest as current

    studies = example_event_studies()
    impls = [("current", current, args.repeat)]
    if args.baseline:
        impls.insert(0, (f"baseline ({args.baseline})", load_baseline(args.baseline),
                         args.baseline_repeat))
    timed, results = {}, {}
    for label, mod, repeat in impls:
        timed[label], results[label] = best_of(mod, studies, repeat)

    lines = ["# Benchmark: HonestDiD sensitivity analyses of the example lab", "",
             "Written by `python benchmarks/bench_honest.py` (do not edit by hand).", "",
             f"- date: {_dt.date.today()}; machine: {os.cpu_count()} cores, {platform.machine()}, "
             f"Python {platform.python_version()}, numpy {np.__version__}; load average at the "
             f"end {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine: wall "
             "times include waiting for a core, CPU times do not)",
             f"- work: the {len(studies)} event studies of `configs/example.toml` (leads 4, lags "
             "5: 3 pre and 6 post periods), `honest_did(es, restriction=..., e=\"average\")` "
             "with its defaults (relative magnitudes: C-LF, Mbar 0 to 2, breakdown; smoothness: "
             "FLCI, 10 values of M, breakdown), as `policylab evaluate` calls it; best of "
             f"{args.repeat} passes (the baseline: {args.baseline_repeat}), each starting with "
             "empty caches", "",
             f"| implementation | relative magnitudes, {len(studies)} calls: wall / CPU (s) "
             f"| smoothness, {len(studies)} calls: wall / CPU (s) | all {2 * len(studies)}: "
             "wall / CPU (s) |",
             "|---|---:|---:|---:|"]
    for label, t in timed.items():
        cells = [f"{t[r][0]:.2f} / {t[r][1]:.2f}" for r in RESTRICTIONS]
        total = (sum(t[r][0] for r in RESTRICTIONS), sum(t[r][1] for r in RESTRICTIONS))
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {total[0]:.2f} / {total[1]:.2f} |")
    extra = []
    if args.baseline:
        base, cur = list(results)
        worst, count, where = largest_difference(results[base], results[cur])
        tb, tc = timed[base], timed[cur]
        speed = sum(tb[r][1] for r in RESTRICTIONS) / max(sum(tc[r][1] for r in RESTRICTIONS),
                                                          1e-9)
        lines += ["", f"CPU time {speed:.0f} times lower. Largest difference between the two "
                  f"implementations over the {count} numbers of the 36 results (intervals, "
                  f"breakdown values, original intervals): {worst:.1e} "
                  "(absolute below 1, relative above)"
                  + (f", at `{where}`" if worst > 0 else "") + "."]
        wb, rb = design_call(impls[0][1])
        wc, rc = design_call(current)
        dw, _, _ = largest_difference(rb, rc)
        extra += ["| one call, 4 pre and 8 post periods (relative magnitudes, C-LF, breakdown) "
                  f"| {wb:.2f} | {wc:.2f} | {dw:.1e} |"]
    for n in args.firms:
        es = firms_study(n)
        for restriction in RESTRICTIONS:
            row = []
            for _, mod, _ in impls:
                clear_caches(mod)
                w0 = time.perf_counter()
                row.append(mod.honest_did(es, restriction=restriction, e="average"))
                row[-1] = (time.perf_counter() - w0, row[-1].to_dict())
            if len(row) == 2:
                d, _, _ = largest_difference(row[0][1], row[1][1])
                extra.append(f"| one call on a synthetic {n:,}-firm event study "
                             f"({LABELS[restriction]}) | {row[0][0]:.2f} | {row[1][0]:.2f} "
                             f"| {d:.1e} |")
            else:
                extra.append(f"| one call on a synthetic {n:,}-firm event study "
                             f"({LABELS[restriction]}) | | {row[0][0]:.2f} | |")
    if extra:
        lines += ["", "What the time depends on (wall seconds; differences as above):", "",
                  "| call | baseline | current | largest difference |", "|---|---:|---:|---:|"]
        lines += extra
    text = "\n".join(lines) + "\n\n" + NOTES
    print(text)
    if not args.no_write:
        OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
