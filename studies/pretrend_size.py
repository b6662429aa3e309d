"""Size and power of pre-trend tests with few treated consortia (the test ``evaluate`` shows).

Same simulation as ``studies/coverage.py`` (firms nested in consortia, AR(1) cluster-by-year
shocks, staggered joining 2014-2018); without a planted pre-trend every rejection is a false
alarm, with one (members rising 0.1 a year before joining) a rejection is power.
For the Callaway-Sant'Anna dynamic aggregation's pre-joining estimates (event times -4 to -1,
varying base period, as ``evaluate`` computes them) it records how often, at 5%:

* the joint Wald test (chi-squared, df = 4) rejects,
* the same statistic as F(4, G - 1) (Stata's small-sample convention) rejects,
* the average pre-joining estimate against t(G - 1) rejects (``average_pretrend_test``:
  policylab's test below the few-cluster threshold),
* the same average against the normal distribution rejects,

where G is the number of treated consortia.

Usage::

    python studies/pretrend_size.py --reps 1000 --workers 2     # writes studies/PRETREND.md
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

_spec = importlib.util.spec_from_file_location("coverage_study", HERE / "coverage.py")
study = importlib.util.module_from_spec(_spec)
sys.modules["coverage_study"] = study
_spec.loader.exec_module(study)

# (label, treated consortia, comparison consortia, never-member firms, pre-trend per year)
DESIGNS = [("i", 6, 6, 0, 0.0), ("i", 10, 10, 0, 0.0), ("i", 20, 20, 0, 0.0),
           ("ii", 3, 0, 300, 0.0), ("ii", 6, 0, 300, 0.0), ("ii", 10, 0, 300, 0.0),
           # power: members' outcome rises by TREND a year relative to never-members until
           # they join (selection on a rising path; Kent in the example data)
           ("ii", 6, 0, 300, 0.1), ("ii", 10, 0, 300, 0.1)]
ALPHA = 0.05
SEED = 20261128
TESTS = {
    "joint_chi2": "Joint Wald, chi-squared(4)",
    "joint_f": "Joint Wald / 4, F(4, G - 1)",
    "average_t": "**Average, t(G - 1) — policylab below the threshold**",
    "average_normal": "Average, normal",
}


def one_rep(task: tuple[int, int]) -> dict:
    from scipy import stats

    from policylab.did import aggregate, att_gt, average_pretrend_test, pretrend_test
    from policylab.did.estimators.callaway_santanna.headline import cs_headline_result

    d_idx, rep = task
    label, g, comp, single, trend = DESIGNS[d_idx]
    rng = np.random.default_rng(np.random.SeedSequence([SEED, d_idx, rep]))
    df = study.simulate(rng, g, comp, single)
    before = (df["cohort"] > 0) & (df["year"] < df["cohort"])
    df["y"] = df["y"] + trend * np.where(before, df["year"] - df["cohort"], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="cluster")
        res = cs_headline_result(gt, aggregate(gt, "simple"), aggregate(gt, "dynamic", min_e=-4, max_e=5))
        out = {"design": label, "g": g, "trend": trend, "rep": rep}
        try:
            joint = pretrend_test(res)
            q = joint.df
            out["joint_chi2"] = joint.p_value < ALPHA
            out["joint_f"] = stats.f.sf(joint.statistic / q, q, g - 1) < ALPHA
        except Exception:  # noqa: BLE001 -- singular covariance: no joint test
            out["joint_chi2"] = out["joint_f"] = np.nan
        avg = average_pretrend_test(res, df=g - 1)
        out["average_t"] = avg.p_value < ALPHA
        out["average_normal"] = 2 * stats.norm.sf(abs(avg.statistic)) < ALPHA
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "PRETREND.md")
    args = ap.parse_args(argv)
    tasks = [(d, r) for d in range(len(DESIGNS)) for r in range(args.reps)]
    with mp.get_context("fork").Pool(args.workers) as pool:
        rows = pool.map(one_rep, tasks, chunksize=8)
    raw = pd.DataFrame(rows)
    lines = ["# Size and power of pre-trend tests with few treated consortia", "",
             f"Written by `studies/pretrend_size.py` (see its docstring). {args.reps} replications "
             "per design. Each entry is the share of tests rejecting at "
             f"{ALPHA:g}: without a pre-trend (trend 0) a false alarm, whose share should be "
             f"{ALPHA:g} (Monte Carlo s.e. about {np.sqrt(ALPHA * (1 - ALPHA) / args.reps):.3f}); "
             "with a pre-trend (members' outcome rising 0.1 a year relative to never-members "
             "until they join; the effect after joining is 0.3) the power.", "",
             "| design | treated consortia | pre-trend per year | " + " | ".join(TESTS.values()) + " |",
             "|---|---|---|" + "---|" * len(TESTS)]
    for (label, g, trend), d in raw.groupby(["design", "g", "trend"], sort=False):
        cells = [f"{d[k].astype(float).mean():.3f}" if d[k].notna().any() else "–" for k in TESTS]
        lines.append(f"| ({label}) | {g} | {trend:g} | " + " | ".join(cells) + " |")
    lines += ["", "Design (i): G treated and G comparison consortia; (ii): G treated consortia "
              "among 300 never-member firms, each its own cluster.", ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
