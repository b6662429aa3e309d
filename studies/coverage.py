"""Coverage of 95% intervals with few treated clusters: policylab's methods and peers.

Simulation (issue 7). Staggered adoption over 2011-2020; firms (15-25, about 20, per
consortium) nested in consortia; every cluster has an AR(1) cluster-by-year shock
(rho 0.5, stationary s.d. 0.5); firm effects N(0, 1), year effects N(0, 0.5^2), idiosyncratic
noise N(0, 1); a constant effect of 0.3 from the join year on. Each treated consortium joins
in a year drawn uniformly from 2014-2018 (all its firms together). Two designs:

* (i)  G treated consortia and G comparison consortia that never join, G in {3, 6, 10, 20, 40}
       (3 added to the issue's list so the 3-treated target can be read in both designs);
* (ii) 3, 6 or 10 treated consortia among 300 never-member firms, each its own cluster
       (so each never-member has its own AR(1) shock);
* (ii-u) design (ii) with 10% of the firm-years missing at random: the unbalanced panels
       ``evaluate`` gets from real programme files (added after the first run, with
       ``--designs 8,9,10 --append``).

The design was fixed before any result was seen and is not tuned to any method.

Methods (every interval is a nominal 95% interval for the ATT; for CS the "simple"
aggregate, for TWFE the static coefficient, which is unbiased here because the effect is
constant):

policylab
    CS analytic (influence function summed within clusters, normal critical value);
    the same with a t(G_treated - 1) critical value (a reference row, not a policylab
    option); CS cluster multiplier bootstrap with Webb weights; CS wild cluster restricted
    bootstrap in the aggregate's regression form, under the constant-effect null
    (Rademacher and Webb) and with only the aggregate restricted (Webb); CS randomization inference
    permuting the timing among treated consortia (and, in design (i), the cohorts among all
    consortia); TWFE CRV1 (t with G - 1 df); TWFE wild cluster restricted bootstrap (WCR) with
    Rademacher and with Webb weights (interval by test inversion). All bootstraps and
    permutations use B = 999.
peers
    moderndid 0.2 CS clustered multiplier bootstrap (it averages the influence function
    within clusters); diff-diff CS analytic clustered and Webb multiplier bootstrap;
    the ``wildboottest`` package (the engine of pyfixest's ``Feols.wildboottest()``) WCR on
    TWFE with Webb and Rademacher weights. pyfixest's own method one-hot encodes the firm
    effects (seconds per call); with firms nested in clusters the firm-demeaned design with
    year dummies is the same regression, so the engine is called on that. It returns a
    p-value only: its coverage is the share of ``p(true effect) > 0.05`` (test inversion),
    and it has no width.

Usage::

    python studies/coverage.py --reps 1000 --workers 2          # writes studies/COVERAGE.md
    python studies/coverage.py --reps 50 --workers 2 --out pilot/COVERAGE.md   # a quick pilot

Raw per-replication results go next to the markdown (``coverage_raw.csv``).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
# Running ``python studies/coverage.py`` puts this folder first on sys.path, where this file
# would shadow the ``coverage`` package that numba (used by wildboottest/moderndid) imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

YEARS = np.arange(2011, 2021)
COHORTS = np.array([2014, 2015, 2016, 2017, 2018])
EFFECT = 0.3
RHO = 0.5
SD_SHOCK = 0.5
DRAWS = 999
ALPHA = 0.05
BASE_SEED = 20261127
ONLY: set[str] = set()  # --methods: run only these (pilots); empty = all

# (label, treated consortia, comparison consortia, never-member firms, share of firm-years
# missing at random)
DESIGNS = [
    ("i", 3, 3, 0, 0.0),
    ("i", 6, 6, 0, 0.0),
    ("i", 10, 10, 0, 0.0),
    ("i", 20, 20, 0, 0.0),
    ("i", 40, 40, 0, 0.0),
    ("ii", 3, 0, 300, 0.0),
    ("ii", 6, 0, 300, 0.0),
    ("ii", 10, 0, 300, 0.0),
    # what evaluate sees: firms entering and leaving, outcomes missing
    ("ii-u", 3, 0, 300, 0.1),
    ("ii-u", 6, 0, 300, 0.1),
    ("ii-u", 10, 0, 300, 0.1),
]

#: The interval policylab's few-cluster policy shows for CS aggregates (few_clusters.py).
HEADLINE_CS = "cs_wcr_webb"
TARGETS = {3: 0.93, 6: 0.94}  # issue 7: headline CS coverage at 3 and 6 treated consortia

METHODS = {
    # key: (label, group)
    "cs_analytic": ("CS analytic, clustered (normal)", "policylab"),
    "cs_analytic_t": ("CS analytic, clustered, t(G_treated-1) critical value [reference]", "reference"),
    "cs_webb": ("CS multiplier bootstrap, Webb", "policylab"),
    "cs_wcr_rad": ("CS WCR (regression form, constant-effect null), Rademacher", "policylab"),
    "cs_wcr_webb": ("**CS WCR (regression form, constant-effect null), Webb — headline**", "policylab"),
    "cs_wcr_webb_agg": ("CS WCR (regression form, only the aggregate restricted), Webb", "policylab"),
    "cs_ri_treated": ("CS randomization inference, timing among treated consortia", "policylab"),
    "cs_ri_all": ("CS randomization inference, cohorts among all consortia", "policylab"),
    "twfe_crv1": ("TWFE CRV1 (t, G-1 df)", "policylab"),
    "twfe_wcr_rad": ("TWFE WCR, Rademacher", "policylab"),
    "twfe_wcr_webb": ("**TWFE WCR, Webb — headline for linear estimators**", "policylab"),
    "moderndid_boot": ("moderndid 0.2 CS clustered multiplier bootstrap", "peer"),
    "diffdiff_analytic": ("diff-diff CS analytic, clustered", "peer"),
    "diffdiff_webb": ("diff-diff CS multiplier bootstrap, Webb", "peer"),
    "wbt_webb": ("wildboottest (pyfixest's engine) TWFE WCR, Webb [p-value only]", "peer"),
    "wbt_rad": ("wildboottest (pyfixest's engine) TWFE WCR, Rademacher [p-value only]", "peer"),
}


def simulate(rng: np.random.Generator, n_treated: int, n_comparison: int, n_single: int):
    """One panel: treated consortia, comparison consortia, singleton never-members."""
    T = YEARS.size
    sizes = rng.integers(15, 26, n_treated + n_comparison)
    cl_size = np.r_[sizes, np.ones(n_single, dtype=int)]
    G = cl_size.size
    cl_cohort = np.r_[rng.choice(COHORTS, n_treated), np.zeros(G - n_treated, dtype=int)]
    firm_cl = np.repeat(np.arange(G), cl_size)
    n = firm_cl.size
    innov = rng.normal(0.0, SD_SHOCK * math.sqrt(1 - RHO**2), (G, T))
    u = np.empty((G, T))
    u[:, 0] = rng.normal(0.0, SD_SHOCK, G)
    for t in range(1, T):
        u[:, t] = RHO * u[:, t - 1] + innov[:, t]
    alpha = rng.normal(0.0, 1.0, n)
    lam = rng.normal(0.0, 0.5, T)
    coh = cl_cohort[firm_cl]
    D = (coh[:, None] > 0) & (YEARS[None, :] >= coh[:, None])
    y = alpha[:, None] + lam[None, :] + u[firm_cl] + rng.normal(0.0, 1.0, (n, T)) + EFFECT * D
    return pd.DataFrame(
        {
            "firm": np.repeat(np.arange(n), T),
            "year": np.tile(YEARS, n),
            "cluster": np.repeat(firm_cl, T),
            "cohort": np.repeat(coh, T),
            "member": D.ravel().astype(int),
            "y": y.ravel(),
        }
    )


def _interval(lo: float, hi: float) -> tuple[float, float]:
    return float(lo), float(hi)


def run_methods(df: pd.DataFrame, design: str, rep: int) -> dict[str, tuple]:
    """(conf_low, conf_high) per method, or (p_value,) for p-value-only peers."""
    from scipy import stats

    from policylab.did import (
        aggregate,
        att_gt,
        multiplier_bootstrap,
        randomization_inference,
        twfe,
        wild_bootstrap,
    )

    out: dict[str, tuple] = {}
    errors: dict[str, str] = {}

    def attempt(key, fn):
        if ONLY and key not in ONLY:
            return
        try:
            out[key] = fn()
        except Exception as exc:  # noqa: BLE001 -- recorded in the table, never hidden
            errors[key] = f"{type(exc).__name__}: {exc}"[:200]

    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="cluster")
    ag = aggregate(gt, "simple")
    n_tr = int(df.loc[df["cohort"] > 0, "cluster"].nunique())
    o = ag.overall
    out["cs_analytic"] = _interval(o.conf_low, o.conf_high)
    crit = stats.t.ppf(1 - ALPHA / 2, max(n_tr - 1, 1))
    out["cs_analytic_t"] = _interval(o.estimate - crit * o.std_error, o.estimate + crit * o.std_error)
    attempt(
        "cs_webb",
        lambda: _interval(
            *_ci(multiplier_bootstrap(gt, "simple", draws=DRAWS, weights="webb", seed=rep))
        ),
    )
    for key, w, nm in (
        ("cs_wcr_rad", "rademacher", "constant_effect"),
        ("cs_wcr_webb", "webb", "constant_effect"),
        ("cs_wcr_webb_agg", "webb", "restriction"),
    ):
        attempt(
            key,
            lambda w=w, nm=nm: _interval(
                *_ci(wild_bootstrap(gt, df, draws=DRAWS, weights=w, seed=rep, null_model=nm))
            ),
        )
    if design != "ii-u":  # unbalanced: RI would refit att_gt 2 x 999 times per replication
        attempt(
            "cs_ri_treated",
            lambda: _interval(*_ci(randomization_inference(gt, df, "simple", draws=DRAWS, seed=rep))),
        )
    if design == "i":
        attempt(
            "cs_ri_all",
            lambda: _interval(
                *_ci(
                    randomization_inference(
                        gt, df, "simple", draws=DRAWS, seed=rep, among="all_clusters"
                    )
                )
            ),
        )
    tw = twfe(df, outcome="y", unit="firm", time="year", treatment="member", cluster="cluster")
    out["twfe_crv1"] = _interval(tw.headline.conf_low, tw.headline.conf_high)
    for key, w in (("twfe_wcr_rad", "rademacher"), ("twfe_wcr_webb", "webb")):
        attempt(key, lambda w=w: _interval(*_ci(wild_bootstrap(tw, df, draws=DRAWS, weights=w, seed=rep))))
    attempt("moderndid_boot", lambda: _moderndid(df, rep))
    attempt("diffdiff_analytic", lambda: _diffdiff(df, rep, boot=False))
    attempt("diffdiff_webb", lambda: _diffdiff(df, rep, boot=True))
    attempt("wbt_webb", lambda: (_wildboottest(df, rep, "webb"),))
    attempt("wbt_rad", lambda: (_wildboottest(df, rep, "rademacher"),))
    out["_errors"] = tuple(f"{k}: {v}" for k, v in errors.items())
    return out


def _ci(res) -> tuple[float, float]:
    return res.conf_low, res.conf_high


def _moderndid(df: pd.DataFrame, rep: int) -> tuple[float, float]:
    import moderndid

    m = moderndid.att_gt(
        df,
        yname="y",
        tname="year",
        idname="firm",
        gname="cohort",
        clustervars=["cluster"],
        boot=True,
        biters=DRAWS,
        random_state=rep,
        # on unbalanced data: as R did's allow_unbalanced_panel (else it drops firms)
        allow_unbalanced_panel=bool(df.groupby("firm")["year"].size().nunique() > 1),
    )
    a = moderndid.aggte(m, type="simple")
    z = 1.959963984540054
    return float(a.overall_att - z * a.overall_se), float(a.overall_att + z * a.overall_se)


def _diffdiff(df: pd.DataFrame, rep: int, boot: bool) -> tuple[float, float]:
    import diff_diff

    kw = {"n_bootstrap": DRAWS, "bootstrap_weights": "webb"} if boot else {}
    if df.groupby("firm")["year"].size().nunique() > 1:
        kw["allow_unbalanced_panel"] = True  # else it balances the panel (drops firms)
    cs = diff_diff.CallawaySantAnna(cluster="cluster", seed=rep, **kw).fit(
        df, outcome="y", unit="firm", time="year", first_treat="cohort", aggregate="simple"
    )
    lo, hi = cs.overall_conf_int
    return float(lo), float(hi)


def _wildboottest(df: pd.DataFrame, rep: int, weights: str) -> float:
    """WCR p-value of H0: effect = EFFECT, with the ``wildboottest`` package on the
    firm-demeaned design with year dummies (pyfixest's regression, firms nested in
    clusters)."""
    from wildboottest.wildboottest import WildboottestCL

    y = (df["y"] - EFFECT * df["member"]).to_numpy()
    firm = df["firm"].to_numpy()
    tdum = pd.get_dummies(df["year"], drop_first=True).to_numpy(dtype=float)
    x = np.column_stack([df["member"].to_numpy(dtype=float), tdum])
    cnt = np.bincount(firm)
    x = x - (np.stack([np.bincount(firm, weights=x[:, j]) for j in range(x.shape[1])], 1) / cnt[:, None])[firm]
    y = y - (np.bincount(firm, weights=y) / cnt)[firm]
    R = np.zeros(x.shape[1])
    R[0] = 1.0
    boot = WildboottestCL(
        X=x, Y=y, cluster=df["cluster"].to_numpy(), R=R, B=DRAWS, seed=rep, parallel=False
    )
    boot.get_scores(bootstrap_type="11", impose_null=True)
    boot.get_weights(weights_type=weights)
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    return float(np.asarray(boot.pvalue).ravel()[0])


def one_rep(task: tuple[int, int]) -> list[dict]:
    d_idx, rep = task
    design, n_tr, n_comp, n_single, missing = DESIGNS[d_idx]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rng = np.random.default_rng(np.random.SeedSequence([BASE_SEED, d_idx, rep]))
    df = simulate(rng, n_tr, n_comp, n_single)
    if missing:
        df = df[rng.random(len(df)) >= missing].reset_index(drop=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_methods(df, design, rep)
    elapsed = time.perf_counter() - t0
    rows = []
    for key in METHODS:
        if key not in res:
            continue
        val = res[key]
        if len(val) == 1:
            p = val[0]
            rows.append(
                {"design": design, "g": n_tr, "rep": rep, "method": key, "conf_low": np.nan,
                 "conf_high": np.nan, "covers": float(p > ALPHA), "p_truth": p}
            )  # fmt: skip
        else:
            lo, hi = val
            rows.append(
                {"design": design, "g": n_tr, "rep": rep, "method": key, "conf_low": lo,
                 "conf_high": hi, "covers": float(lo <= EFFECT <= hi), "p_truth": np.nan}
            )  # fmt: skip
    for err in res.get("_errors", ()):
        rows.append(
            {"design": design, "g": n_tr, "rep": rep, "method": "_error", "error": err}
        )
    rows.append({"design": design, "g": n_tr, "rep": rep, "method": "_seconds", "p_truth": elapsed})
    return rows


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    ok = raw[~raw["method"].str.startswith("_")].copy()
    ok["width"] = ok["conf_high"] - ok["conf_low"]
    rows = []
    for (design, g, method), d in ok.groupby(["design", "g", "method"], sort=False):
        r = len(d)
        cov = d["covers"].mean()
        w = d["width"]
        finite = np.isfinite(w)
        rows.append(
            {
                "design": design,
                "g": int(g),
                "method": method,
                "reps": r,
                "coverage": cov,
                "mc_se": math.sqrt(max(cov * (1 - cov), 1e-12) / r),
                "mean_width": float(w[finite].mean()) if finite.any() else np.nan,
                "median_width": float(w.median()) if w.notna().any() else np.nan,
                "unbounded": float((~finite & w.notna()).mean()) if w.notna().any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _fmt(x: float, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.{nd}f}"


def _reps_text(summary: pd.DataFrame) -> str:
    per = summary.groupby(["design", "g"])["reps"].max()
    lo, hi = int(per.min()), int(per.max())
    return f"{lo} replications" if lo == hi else f"{lo} to {hi} replications (see each column)"


def markdown(summary: pd.DataFrame, raw: pd.DataFrame, reps: int, seconds: float) -> str:
    lines = [
        "# Coverage of 95% intervals with few treated consortia",
        "",
        "Written by `studies/coverage.py` (see its docstring for the simulation and the methods);",
        (
            f"{_reps_text(summary)} per design, B = {DRAWS} bootstrap draws / permutations, true "
            f"effect {EFFECT}. Coverage is the share of intervals containing the true effect; "
            "MC s.e. is its Monte Carlo standard error. Widths: mean over the bounded intervals "
            "and median over all (∞ when more than half are unbounded); \"unbounded\" is the "
            "share of intervals with an infinite end. p-value-only peers have coverage by test "
            "inversion and no width."
        ),
        "",
    ]
    versions = {}
    for pkg in ("numpy", "pandas", "scipy", "moderndid", "diff-diff", "wildboottest", "pyfixest"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    lines.append(
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; Python {platform.python_version()}. The replications took "
        f"{raw.loc[raw['method'] == '_seconds', 'p_truth'].sum() / 60:.0f} CPU-minutes in all "
        f"({os.cpu_count()} cores, one worker process each)."
    )
    lines.append("")
    for design, title in (
        ("i", "Design (i): G treated consortia and G comparison consortia"),
        ("ii", "Design (ii): G treated consortia among 300 never-member firms (own clusters)"),
        (
            "ii-u",
            (
                "Design (ii), unbalanced: 10% of firm-years missing at random (what evaluate "
                "sees; CS uses its repeated cross-section form; randomization inference not "
                "run, it would refit for every permutation)"
            ),
        ),
    ):
        s = summary[summary["design"] == design]
        if s.empty:
            continue
        gs = sorted(s["g"].unique())
        lines += [f"## {title}", ""]
        lines.append(
            "| method | "
            + " | ".join(f"G={g} ({int(s.loc[s['g'] == g, 'reps'].max())} reps): coverage (MC s.e.) "
                         "| width mean / median | unbounded" for g in gs)
            + " |"
        )
        lines.append("|---|" + "---|---|---|" * len(gs))
        for key, (label, group) in METHODS.items():
            row = s[s["method"] == key]
            if row.empty:
                continue
            cells = []
            for g in gs:
                r = row[row["g"] == g]
                if r.empty:
                    cells += ["–", "–", "–"]
                    continue
                r = r.iloc[0]
                cells.append(f"{_fmt(r.coverage)} ({_fmt(r.mc_se)})")
                cells.append(f"{_fmt(r.mean_width, 2)} / {_fmt(r.median_width, 2)}")
                cells.append(_fmt(r.unbounded, 2))
            tag = "" if group == "policylab" else f" *({group})*"
            lines.append(f"| {label}{tag} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += targets(summary)
    errs = raw[raw["method"] == "_error"]
    if not errs.empty:
        lines += ["## Failures", "", "| design | G | reps failed | method: error (first) |", "|---|---|---|---|"]
        for (design, g), d in errs.groupby(["design", "g"]):
            lines.append(f"| {design} | {g} | {d['rep'].nunique()} | {d['error'].iloc[0]} |")
        lines.append("")
    secs = raw[raw["method"] == "_seconds"].groupby(["design", "g"])["p_truth"].mean()
    lines += [
        "Mean seconds per replication (all methods): "
        + ", ".join(f"({d}) G={g}: {v:.2f}" for (d, g), v in secs.items()),
        "",
    ]
    return "\n".join(lines)


def targets(summary: pd.DataFrame) -> list[str]:
    """Issue 7's check: the headline CS interval covers at least the target and is no wider
    (median width) than the narrowest peer interval that covers at least the target."""
    out = [
        "## Issue 7 targets",
        "",
        (
            f"Headline CS interval: {METHODS[HEADLINE_CS][0].strip('*')}. A peer \"covers\" "
            "when its coverage is at least the target; widths are medians. Peers without a "
            "width (p-value only) cannot be compared on width."
        ),
        "",
        (
            "| design | G | target | headline coverage (MC s.e.) | met | headline median "
            "width | narrowest covering peer (coverage, median width) | no wider |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for design in ("i", "ii", "ii-u"):
        for g, target in TARGETS.items():
            s = summary[(summary["design"] == design) & (summary["g"] == g)]
            h = s[s["method"] == HEADLINE_CS]
            if h.empty:
                continue
            h = h.iloc[0]
            peers = s[
                s["method"].map(lambda m: METHODS.get(m, ("", ""))[1] == "peer")
                & (s["coverage"] >= target)
                & s["median_width"].notna()
            ]
            if peers.empty:
                peer_txt, wider = "none covers", "–"
            else:
                best = peers.sort_values("median_width").iloc[0]
                peer_txt = (
                    f"{METHODS[best.method][0]} ({_fmt(best.coverage)}, "
                    f"{_fmt(best.median_width, 2)})"
                )
                wider = "yes" if h.median_width <= best.median_width else "no"
            out.append(
                f"| ({design}) | {g} | {target:.2f} | {_fmt(h.coverage)} ({_fmt(h.mc_se)}) | "
                f"{'yes' if h.coverage >= target else 'no'} | {_fmt(h.median_width, 2)} | "
                f"{peer_txt} | {wider} |"
            )
    out.append("")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "COVERAGE.md")
    ap.add_argument("--designs", type=str, default="", help="comma-separated indices")
    ap.add_argument("--methods", type=str, default="", help="comma-separated keys (pilots)")
    ap.add_argument(
        "--append",
        action="store_true",
        help="keep the other designs' rows of the raw CSV and rebuild the whole table",
    )
    args = ap.parse_args(argv)
    ONLY.update(m for m in args.methods.split(",") if m)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    idx = [int(i) for i in args.designs.split(",")] if args.designs else range(len(DESIGNS))
    tasks = [(d, r) for d in idx for r in range(args.reps)]
    t0 = time.time()
    rows: list[dict] = []
    raw_path = args.out.with_name(args.out.stem.lower() + "_raw.csv")
    if args.append and raw_path.exists():  # the progress writes below overwrite raw_path
        raw_path.replace(raw_path.with_suffix(".previous.csv"))
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers, maxtasksperchild=200) as pool:
        for i, res in enumerate(pool.imap_unordered(one_rep, tasks, chunksize=4), 1):
            rows += res
            if i % 200 == 0 or i == len(tasks):
                print(f"{i}/{len(tasks)} replications, {time.time() - t0:.0f}s", file=sys.stderr)
                raw = pd.DataFrame(rows)
                raw.to_csv(raw_path, index=False)
    raw = pd.DataFrame(rows)
    seconds = time.time() - t0
    if args.append and raw_path.exists():
        old = pd.read_csv(raw_path.with_suffix(".previous.csv"))
        ran = {DESIGNS[i][0] + f":{DESIGNS[i][1]}" for i in idx}
        keep = ~(old["design"] + ":" + old["g"].astype(str)).isin(ran)
        raw = pd.concat([old[keep], raw], ignore_index=True)
    raw.to_csv(raw_path, index=False)
    raw_path.with_suffix(".previous.csv").unlink(missing_ok=True)
    summary = summarise(raw)
    args.out.write_text(markdown(summary, raw, args.reps, seconds), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
