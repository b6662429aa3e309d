"""Benchmark: policylab's fixed-effects estimators beside pyfixest on large panels.

The data are those of ``benchmarks/bench_att_gt.py`` (its generator is imported): N firms x
10 years, staggered cohorts 2012/2014/2015/2017/2018 and 40% never members, outcome ``y``
(log exports). Two columns are added before the panel is written to Parquet: ``treat`` =
1[cohort > 0 and year >= cohort] and ``exports = exp(y)`` (a positive level for Poisson).

Every (tool, estimator, size) runs in its **own subprocess** on that file: import, Parquet
read, one estimation with analytic standard errors clustered by firm. The parent measures
the wall time of the whole process (interpreter start to exit); peak memory is the worker's
``ru_maxrss``. Estimators and their pyfixest equivalents:

* ``twfe``: ``twfe(treatment="treat")`` | ``feols("y ~ treat | firm + year")``;
* ``event_study``: ``event_study(leads=4, lags=5)`` (as the example config) |
  ``feols("y ~ i(rel_time, ref=-1) | firm + year")`` with ``rel_time = clip(year - cohort,
  -4, 5)`` for members and ``-1`` (the reference) for never members, i.e. policylab's
  binning and reference period;
* ``sun_abraham``: ``sun_abraham()`` (every event time, never-treated controls) |
  ``feols("y ~ i(sa_cell, ref='ref') | firm + year")`` with one level per treated cohort and
  event time except -1 (fixest's ``sunab`` regression written out; pyfixest has no
  ``sunab``); the event-time and ATT aggregates are computed from pyfixest's coefficients
  and covariance with fixest's observation-share weights;
* ``etwfe``: ``etwfe(family="linear")`` | ``feols("y ~ i(cell, ref='none') | cohort + year")``;
* ``etwfe_poisson``: ``etwfe(family="poisson", outcome="exports")`` |
  ``fepois("exports ~ i(cell, ref='none') | cohort + year")`` with one level per treated
  cohort x year cell (Wooldridge's ETWFE as R ``etwfe`` specifies it).

pyfixest runs with ``vcov={"CRV1": "firm"}``, ``copy_data=False``, ``store_data=False`` and
``lean=True`` (its leanest settings) and its default demeaner (``MapDemeaner``, rust backend).
With ``--baseline SRC`` the policylab workers also run on another source tree (e.g. the
last commit, exported with ``git archive HEAD policylab | tar -x -C SRC``), labelled
``policylab (before)``, so that before and after are measured in the same run.

Usage::

    python benchmarks/bench_estimators.py                       # 100k and 1M firms
    python benchmarks/bench_estimators.py --sizes 100000 --no-write
    python benchmarks/bench_estimators.py --baseline SRC --baseline-label "HEAD abc1234"
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_att_gt import (  # noqa: E402  (the same data as the att_gt benchmark)
    COHORTS,
    FIRST_YEAR,
    YEARS,
    Phases,
    generate,
    read_parquet,
    write_parquet,
)

OUT = HERE / "ESTIMATORS.md"
ESTIMATORS = ("twfe", "event_study", "sun_abraham", "etwfe", "etwfe_poisson")
LEADS, LAGS = 4, 5
# Agreement required of the estimates (absolute, the outcome is O(1)) and reported for SEs.
EST_TOL = 1e-8


def add_columns(df):
    import numpy as np

    df["treat"] = ((df["cohort"] > 0) & (df["year"] >= df["cohort"])).astype(np.int8)
    df["exports"] = np.exp(df["y"].to_numpy())
    return df


# --------------------------------------------------------------------------- workers


def worker_policylab(path: str, estimator: str) -> dict:
    import warnings

    ph = Phases()
    from policylab.did import etwfe, event_study, sun_abraham, twfe

    ph.done("import")
    df = read_parquet(path)
    ph.done("read")
    kw = {"unit": "firm", "time": "year"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if estimator == "twfe":
            r = twfe(df, outcome="y", treatment="treat", **kw)
        elif estimator == "event_study":
            r = event_study(df, outcome="y", cohort="cohort", leads=LEADS, lags=LAGS, **kw)
        elif estimator == "sun_abraham":
            r = sun_abraham(df, outcome="y", cohort="cohort", **kw)
        elif estimator == "etwfe":
            r = etwfe(df, outcome="y", cohort="cohort", **kw)
        else:
            r = etwfe(df, outcome="exports", cohort="cohort", family="poisson", **kw)
    ph.done("fit")
    out: dict = {"phases": ph.wall, "phases_cpu": ph.cpu, "n_obs": int(r.n_obs)}
    out["headline"] = [r.headline.estimate, r.headline.std_error]
    if estimator in ("event_study", "sun_abraham"):
        t = r.tidy()
        out["event"] = _table(t["event_time"].astype(int), t["estimate"], t["std_error"])
    if estimator == "sun_abraham":
        c = r.tidy("cell")
        keys = [f"{g}:{e}" for g, e in zip(c["cohort"], c["event_time"], strict=True)]
        out["cells"] = _table(keys, c["estimate"], c["std_error"])
    if estimator == "etwfe":
        c = r.tidy("cell")
        keys = [f"{g}:{t}" for g, t in zip(c["cohort"], c["time"], strict=True)]
        out["cells"] = _table(keys, c["estimate"], c["std_error"])
    if estimator == "etwfe_poisson":
        c = r.tidy("cell", scale="percent")
        keys = [f"{g}:{t}" for g, t in zip(c["cohort"], c["time"], strict=True)]
        out["cells"] = _table(keys, c["estimate"], c["std_error"])
        out["headline"] = None  # level ATT: needs the fixed effects' covariance
    return out


def _table(keys, est, se) -> dict:
    return {str(k): [float(a), float(b)] for k, a, b in zip(keys, est, se, strict=True)}


def worker_pyfixest(path: str, estimator: str) -> dict:
    import warnings

    import numpy as np

    ph = Phases()
    import pyfixest as pf

    ph.done("import")
    df = read_parquet(path)
    ph.done("read")
    opts = {"vcov": {"CRV1": "firm"}, "copy_data": False, "store_data": False, "lean": True}
    g, t = df["cohort"].to_numpy(), df["year"].to_numpy()
    member = g > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if estimator == "twfe":
            fit = pf.feols("y ~ treat | firm + year", data=df, **opts)
        elif estimator == "event_study":
            df["rel_time"] = np.where(member, np.clip(t - g, -LEADS, LAGS), -1)
            fit = pf.feols("y ~ i(rel_time, ref=-1) | firm + year", data=df, **opts)
        elif estimator == "sun_abraham":
            e = t - g
            # fixest::sunab's regression: one dummy per treated cohort x event time but -1
            lab = np.char.add(np.char.add(g.astype(str), "_"), e.astype(str))
            df["sa_cell"] = np.where(member & (e != -1), lab, "ref")
            fit = pf.feols("y ~ i(sa_cell, ref='ref') | firm + year", data=df, **opts)
        else:
            lab = np.char.add(np.char.add(g.astype(str), "_"), t.astype(str))
            df["cell"] = np.where(member & (t >= g), lab, "none")
            if estimator == "etwfe":
                fit = pf.feols("y ~ i(cell, ref='none') | cohort + year", data=df, **opts)
            else:
                fit = pf.fepois("exports ~ i(cell, ref='none') | cohort + year", data=df, **opts)
    ph.done("fit")
    names = list(fit._coefnames)
    beta = np.asarray(fit.coef()[names], dtype=float)
    se = np.asarray(fit.se()[names], dtype=float)
    vcov = np.asarray(fit._vcov, dtype=float)
    out: dict = {"phases": ph.wall, "phases_cpu": ph.cpu, "n_obs": int(fit._N)}
    if estimator == "twfe":
        out["headline"] = [float(beta[0]), float(se[0])]
    elif estimator == "event_study":
        ev = [int(n.split("::")[1]) for n in names]
        out["event"] = _table(ev, beta, se)
        # policylab's headline: observation shares of the post-period event times
        counts = np.array([np.sum((df["rel_time"] == e) & member) for e in ev], dtype=float)
        w = np.where(np.array(ev) >= 0, counts, 0.0)
        w /= w.sum()
        out["headline"] = [float(w @ beta), float(np.sqrt(w @ vcov @ w))]
    else:
        labels = [n.split("::")[1] for n in names]
        gg = np.array([int(s.split("_")[0]) for s in labels])
        second = np.array([int(s.split("_")[1]) for s in labels])
        col = df["sa_cell" if estimator == "sun_abraham" else "cell"]
        counts = col.value_counts()
        n_obs = np.array([counts[s] for s in labels], dtype=float)
        if estimator == "etwfe_poisson":
            # percent change of one cell, 100 (exp(b) - 1), delta-method SE
            out["cells"] = _table(
                [f"{a}:{b}" for a, b in zip(gg, second, strict=True)],
                100 * np.expm1(beta),
                100 * np.exp(beta) * se,
            )
            out["headline"] = None
        else:
            out["cells"] = _table([f"{a}:{b}" for a, b in zip(gg, second, strict=True)], beta, se)
            ev = second if estimator == "sun_abraham" else second - gg
            post = ev >= 0
            w = np.where(post, n_obs, 0.0) / n_obs[post].sum()
            out["headline"] = [float(w @ beta), float(np.sqrt(w @ vcov @ w))]
            if estimator == "sun_abraham":
                event = {}
                for e in np.unique(ev):
                    m = ev == e
                    we = np.where(m, n_obs, 0.0) / n_obs[m].sum()
                    event[str(int(e))] = [float(we @ beta), float(np.sqrt(we @ vcov @ we))]
                out["event"] = event
    return out


WORKERS = {"policylab": worker_policylab, "pyfixest": worker_pyfixest}


def run_worker(tool: str, estimator: str, path: str, out: str) -> None:
    import resource

    result = WORKERS[tool.split("@")[0]](path, estimator)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0
    result["cpu"] = usage.ru_utime + usage.ru_stime
    Path(out).write_text(json.dumps(result))


# --------------------------------------------------------------------------- parent


def tool_version(tool: str, baseline_label: str | None) -> str | None:
    from importlib import metadata

    if tool == "policylab@before":
        return baseline_label or "before"
    name = {"policylab": "policylab", "pyfixest": "pyfixest"}[tool]
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def spawn(
    tool: str,
    estimator: str,
    path: Path,
    workdir: Path,
    baseline: str | None,
    mem_limit_gb: float | None = None,
    timeout: float | None = None,
) -> dict:
    out = workdir / f"{tool}-{estimator}.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ)
    env.pop("NUMPY_MADVISE_HUGEPAGE", None)  # numpy's default huge-page advice
    src = baseline if tool == "policylab@before" else str(HERE.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"  # as bench_att_gt.py

    def limit() -> None:  # the machine is shared: a worker fails instead of swapping
        import resource

        if mem_limit_gb:
            cap = int(mem_limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", tool, estimator,
             str(path), str(out)],
            env=env, capture_output=True, text=True, check=False, preexec_fn=limit,
            timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{tool} {estimator} stopped after {timeout:.0f} s") from None
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        # the most telling line: an exception, a Rust panic or an allocation failure
        hits = [ln for ln in lines if any(k in ln for k in ("Error", "panicked", "alloc"))]
        raise RuntimeError(f"{tool} {estimator} failed: {(hits or lines)[-1].strip()[:300]}")
    res = json.loads(out.read_text())
    res["wall"] = wall
    return res


def compare(a: dict, b: dict) -> dict:
    """Largest absolute difference of the estimates and largest relative difference of the
    SEs over every number both report (headline, event times, cells)."""
    est, est_rel, se, n = 0.0, 0.0, 0.0, 0
    pairs = []
    if a.get("headline") and b.get("headline"):
        pairs.append((a["headline"], b["headline"]))
    for part in ("event", "cells"):
        if part in a and part in b:
            shared = set(a[part]) & set(b[part])
            if len(shared) != len(a[part]) or len(shared) != len(b[part]):
                raise ValueError(f"{part}: different terms {sorted(a[part])} vs {sorted(b[part])}")
            pairs += [(a[part][k], b[part][k]) for k in shared]
    for (ea, sa), (eb, sb) in pairs:
        est = max(est, abs(ea - eb))
        est_rel = max(est_rel, abs(ea - eb) / abs(ea)) if ea else est_rel
        se = max(se, abs(sa - sb) / abs(sa))
        n += 1
    return {"numbers": n, "est": est, "est_rel": est_rel, "se_rel": se,
            "n_obs": (a["n_obs"], b["n_obs"])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="firms")
    ap.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    ap.add_argument("--tools", nargs="+", default=["policylab", "pyfixest"],
                    choices=["policylab", "pyfixest"])  # fmt: skip
    ap.add_argument("--baseline", help="another policylab source tree to run as 'before'")
    ap.add_argument("--baseline-label", help="how to name the baseline (e.g. a commit)")
    ap.add_argument("--baseline-max-size", type=int, default=None,
                    help="run the baseline only up to this many firms ...")  # fmt: skip
    ap.add_argument("--baseline-always", nargs="*", default=[], choices=ESTIMATORS,
                    help="... except for these estimators")  # fmt: skip
    ap.add_argument("--mem-limit-gb", type=float, default=None,
                    help="address-space limit of each worker (RLIMIT_AS)")  # fmt: skip
    ap.add_argument("--timeout", type=float, default=None, help="seconds per worker")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the fastest is kept")
    ap.add_argument("--baseline-repeat", type=int, default=1, help="runs of the baseline")
    ap.add_argument("--no-write", action="store_true", help="print only, do not write the table")
    ap.add_argument("--note", action="append", default=[], help="a note to add to the file")
    args = ap.parse_args()

    tools = list(args.tools)
    if args.baseline:
        tools.insert(0, "policylab@before")
    rows, checks, notes = [], [], list(args.note)
    for n in args.sizes:
        df = add_columns(generate(n))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"panel_{n}.parquet"
            t_write = write_parquet(df, path)
            size_mb = path.stat().st_size / 1e6
            del df
            print(f"{n:,} firms: wrote {size_mb:.0f} MB Parquet in {t_write:.1f} s", flush=True)
            for est in args.estimators:
                results = {}
                for tool in tools:
                    if tool == "policylab@before" and args.baseline_max_size is not None:
                        if n > args.baseline_max_size and est not in args.baseline_always:
                            notes.append(f"{n:,} firms, {est}: the baseline was not run")
                            continue
                    version = tool_version(tool, args.baseline_label)
                    if version is None:
                        notes.append(f"{tool} is not installed; not run")
                        continue
                    runs = []
                    repeat = args.baseline_repeat if tool == "policylab@before" else args.repeat
                    for _ in range(repeat):
                        try:
                            runs.append(spawn(tool, est, path, Path(tmp), args.baseline,
                                              args.mem_limit_gb, args.timeout))  # fmt: skip
                        except RuntimeError as e:  # e.g. out of memory: record it
                            notes.append(f"{n:,} firms: {e}")
                            print(f"  {e}", flush=True)
                            break
                    if not runs:
                        continue
                    best = min(runs, key=lambda r: r["wall"])
                    results[tool] = best
                    cpu = best["phases_cpu"]
                    phases = ", ".join(
                        f"{k} {v:.2f}/{cpu[k]:.2f}" for k, v in best["phases"].items()
                    )
                    load1 = os.getloadavg()[0]
                    rows.append((n, est, tool, version, best["wall"], best["cpu"],
                                 best["peak_rss_mb"], phases, load1))  # fmt: skip
                    print(f"  {est:14s} {tool:17s} {best['wall']:7.2f} s (cpu {best['cpu']:.2f} s)"
                          f" {best['peak_rss_mb']:7.0f} MB  ({phases})  load {load1:.1f}",
                          flush=True)  # fmt: skip
                for other in ("pyfixest", "policylab@before"):
                    if "policylab" in results and other in results:
                        c = compare(results["policylab"], results[other])
                        checks.append((n, est, other, c))
                        print(f"  {est} vs {other}: {c}", flush=True)
                        if c["est"] > EST_TOL or c["n_obs"][0] != c["n_obs"][1]:
                            notes.append(f"{n:,} firms, {est}: policylab and {other} DISAGREE: {c}")
    if not args.no_write:
        write_results(rows, checks, notes, args)


def write_results(rows, checks, notes, args) -> None:
    import numpy as np
    import pandas as pd

    load = os.getloadavg()
    label = {"policylab@before": f"policylab (before: {args.baseline_label or 'baseline'})"}
    lines = [
        "# Benchmark: fixed-effects estimators on large panels, beside pyfixest",
        "",
        "Written by `python benchmarks/bench_estimators.py` (do not edit by hand).",
        "",
        (
            f"- date: {_dt.date.today().isoformat()}; machine: {os.cpu_count()} cores, "
            f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
            f"pandas {pd.__version__}; load average at the end {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1/5/15 min); the machine is shared, so wall times are inflated "
            "when the load exceeds the 2 cores"
        ),
        (
            f"- data: the panel of `bench_att_gt.py`: N firms x {YEARS} years ({FIRST_YEAR}-"
            f"{FIRST_YEAR + YEARS - 1}), cohorts {', '.join(map(str, COHORTS[1:]))} (12% each), "
            "40% never members, `y` = firm effect + trend + dynamic effect + noise; plus "
            "`treat` = 1[member and year >= cohort] and `exports` = exp(y)"
        ),
        (
            "- task per row: one worker process reads the Parquet file and fits one model with "
            "CRV1 standard errors clustered by firm: `twfe` (y ~ treat, firm + year effects), "
            f"`event_study` (leads {LEADS}, lags {LAGS}, end points binned, reference -1, never "
            "members without indicators), `sun_abraham` (cohort x event-time interactions, "
            "never-treated controls, every event time), `etwfe` (linear, cohort + year effects "
            "and one term per treated cohort x year) and `etwfe_poisson` (the same by Poisson "
            "PML, outcome `exports`); pyfixest fits the same regressions written out "
            "(`feols`/`fepois` with `i()` dummies; see the module docstring), with "
            "`copy_data=False, store_data=False, lean=True` and its default demeaner"
        ),
        (
            "- wall: the whole worker process (interpreter start, imports, read, fit, exit), "
            "measured by the parent; peak RSS: `ru_maxrss` of the worker; the fastest of "
            f"`--repeat` ({args.repeat}; baseline {args.baseline_repeat}) runs is kept; CPU: "
            "user + system time of the worker; "
            "load: 1-minute load average right after the row's runs; numpy's default huge-page "
            "setting"
            + (f"; each worker limited to {args.mem_limit_gb:g} GB of address space (RLIMIT_AS)"
               if args.mem_limit_gb else "")
            + (f" and {args.timeout:.0f} s" if args.timeout else "")
        ),
        (
            "- target (issue 11): policylab at least 3x faster than pyfixest at no more memory, "
            "same estimates to 1e-8"
        ),
        "",
        (
            "| firms | rows | estimator | tool | version | wall (s) | CPU (s) | peak RSS (MB) "
            "| phases inside the worker, wall/CPU (s) | load |"
        ),
        "|---:|---:|---|---|---|---:|---:|---:|---|---:|",
    ]
    for n, est, tool, version, wall, cpu, rss, phases, load1 in rows:
        lines.append(
            f"| {n:,} | {n * YEARS:,} | {est} | {label.get(tool, tool)} | {version} | {wall:.2f} "
            f"| {cpu:.2f} | {rss:,.0f} | {phases} | {load1:.1f} |"
        )
    if checks:
        lines += [
            "",
            "Agreement (largest absolute and relative difference of the estimates over the "
            "headline, event times and cells; largest relative difference of their SEs; Poisson "
            "cells compared as percent changes, 100 (exp(b) - 1); pyfixest's Poisson runs to its "
            "default IRLS tolerance 1e-8, hence SEs to ~1e-7):",
            "",
        ]
        for n, est, other, c in checks:
            lines.append(
                f"- {n:,} firms, {est}, policylab vs {label.get(other, other)}: {c['numbers']} "
                f"number{'s' if c['numbers'] != 1 else ''}, estimates {c['est']:.1e} "
                f"({c['est_rel']:.1e} relative), SEs {c['se_rel']:.1e} (relative); "
                f"observations {c['n_obs'][0]:,} / {c['n_obs'][1]:,}"
            )
    if notes:
        lines += ["", "Notes:", ""] + [f"- {m}" for m in notes]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        run_worker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        main()
