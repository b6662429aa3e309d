"""Wild cluster bootstrap (:func:`policylab.did.wild_bootstrap`).

* Exact enumeration (``2**G <= B``) equals a brute-force loop that builds every bootstrap
  sample, refits the public estimator and recomputes its CRV1 t-statistic.
* p-values agree with pyfixest's ``Feols.wildboottest()`` (identical under enumeration) and
  with the ``wildboottest`` package (random draws, within Monte Carlo error), including a
  linear combination (the event-study headline).
* The test-inversion interval is the set of nulls with ``p > alpha``; seeds reproduce;
  bad arguments raise ``TypeError``/``ValueError``; the caller's data are not modified.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from policylab.did import (
    att_gt,
    did_2x2,
    etwfe,
    event_study,
    sun_abraham,
    twfe,
    wild_bootstrap,
)
from policylab.did.inference.wild import WEBB_POINTS, draw_weights

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def tiny_panel(n_cons: int = 5, per: int = 3, years: int = 6, seed: int = 0) -> pd.DataFrame:
    """Firms nested in consortia of unequal size; consortia 0..2 join in 2013/2014."""
    rng = np.random.default_rng(seed)
    sizes = [per + (c % 2) for c in range(n_cons)]
    cons = np.repeat(np.arange(n_cons), sizes)
    n = cons.size
    yrs = np.arange(2010, 2010 + years)
    cohort_c = np.array([2013, 2014, 2013] + [0] * (n_cons - 3))
    coh = cohort_c[cons]
    firm = np.repeat(np.arange(n), years)
    year = np.tile(yrs, n)
    cf = coh[firm]
    member = ((cf > 0) & (year >= cf)).astype(int)
    shock = rng.normal(0, 0.5, (n_cons, years))[cons[firm], year - yrs[0]]
    y = rng.normal(0, 1, n)[firm] + 0.1 * (year - 2010) + 0.4 * member + shock
    y = y + rng.normal(0, 0.5, firm.size)
    return pd.DataFrame(
        {
            "firm": firm,
            "year": year,
            "consortium": cons[firm],
            "cohort": cf,
            "member": member,
            "treated": (cf > 0).astype(int),
            "post": (year >= 2013).astype(int),
            "y": y,
        }
    )


def crv1_t(x: np.ndarray, y: np.ndarray, cl: np.ndarray, r: np.ndarray, theta0: float) -> float:
    """CRV1 t-statistic of ``r'b = theta0`` by plain OLS on explicit dummies."""
    b, *_ = np.linalg.lstsq(x, y, rcond=None)
    u = y - x @ b
    xtx_inv = np.linalg.pinv(x.T @ x)
    q = xtx_inv @ r
    s = np.array([q @ (x[cl == g].T @ u[cl == g]) for g in np.unique(cl)])
    return float((r @ b - theta0) / math.sqrt(s @ s))


def restricted_fit(x: np.ndarray, y: np.ndarray, r: np.ndarray, theta0: float) -> np.ndarray:
    """Fitted values of OLS subject to ``r'b = theta0`` (KKT system, explicit dummies)."""
    k = x.shape[1]
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = x.T @ x
    kkt[:k, k] = r
    kkt[k, :k] = r
    sol = np.linalg.lstsq(kkt, np.r_[x.T @ y, theta0], rcond=None)[0]
    return x @ sol[:k]


def dummies(s: pd.Series, drop_first: bool) -> np.ndarray:
    return pd.get_dummies(s, drop_first=drop_first).to_numpy(dtype=float)


def brute_force_p(x, y, cl, r, theta0, weights="rademacher") -> float:
    """p-value of WCR by building all 2**G (or 6**G) bootstrap samples explicitly."""
    fit = restricted_fit(x, y, r, theta0)
    u = y - fit
    t = crv1_t(x, y, cl, r, theta0)
    codes = pd.factorize(cl)[0]
    g = codes.max() + 1
    points = [-1.0, 1.0] if weights == "rademacher" else list(WEBB_POINTS)
    ts = []
    for v in itertools.product(points, repeat=g):
        ystar = fit + np.asarray(v)[codes] * u
        ts.append(crv1_t(x, ystar, cl, r, theta0))
    ts = np.abs(np.array(ts))
    return float(np.mean(ts >= abs(t) * (1 - 1e-8)))


# --------------------------------------------------------------------------- enumeration


@pytest.mark.parametrize("theta0", [0.0, 0.4, -0.3])
def test_twfe_enumeration_equals_brute_force(theta0):
    df = tiny_panel()
    res = twfe(df, outcome="y", unit="firm", time="year", treatment="member", cluster="consortium")
    wb = wild_bootstrap(res, df, null=theta0, draws=999, seed=1)
    assert wb.exact and wb.draws == 2**5
    x = np.column_stack([df["member"], dummies(df["firm"], False), dummies(df["year"], True)])
    r = np.zeros(x.shape[1])
    r[0] = 1.0
    p = brute_force_p(x, df["y"].to_numpy(), df["consortium"].to_numpy(), r, theta0)
    assert wb.p_value == pytest.approx(p, abs=1e-12)
    assert wb.statistic == pytest.approx(
        (res.headline.estimate - theta0) / res.headline.std_error, rel=1e-8
    )


def test_twfe_webb_enumeration_equals_brute_force():
    df = tiny_panel(n_cons=4)
    res = twfe(df, outcome="y", unit="firm", time="year", treatment="member", cluster="consortium")
    wb = wild_bootstrap(res, df, weights="webb", draws=6**4, seed=1)
    assert wb.exact and wb.draws == 6**4
    x = np.column_stack([df["member"], dummies(df["firm"], False), dummies(df["year"], True)])
    r = np.zeros(x.shape[1])
    r[0] = 1.0
    p = brute_force_p(x, df["y"].to_numpy(), df["consortium"].to_numpy(), r, 0.0, "webb")
    assert wb.p_value == pytest.approx(p, abs=1e-12)


def test_event_study_headline_enumeration_equals_brute_force():
    df = tiny_panel()
    res = event_study(
        df, outcome="y", unit="firm", time="year", cohort="cohort", leads=2, lags=2,
        cluster="consortium",
    )  # fmt: skip
    wb = wild_bootstrap(res, df, null=0.2, draws=999)
    assert wb.term == "avg_post" and wb.exact
    e = np.where(df["cohort"] > 0, df["year"] - df["cohort"], -99).clip(-2, 2)
    terms = [k for k in range(-2, 3) if k != -1]
    ev = np.column_stack([(df["cohort"] > 0) & (e == k) for k in terms]).astype(float)
    counts = ev.sum(axis=0)
    w = np.where(np.array(terms) >= 0, counts, 0.0)
    w = w / w.sum()
    x = np.column_stack([ev, dummies(df["firm"], False), dummies(df["year"], True)])
    r = np.r_[w, np.zeros(x.shape[1] - w.size)]
    p = brute_force_p(x, df["y"].to_numpy(), df["consortium"].to_numpy(), r, 0.2)
    assert wb.p_value == pytest.approx(p, abs=1e-12)
    # a single event-time term too
    wb1 = wild_bootstrap(res, df, term="event_time::1", draws=999)
    r1 = np.zeros(x.shape[1])
    r1[terms.index(1)] = 1.0
    p1 = brute_force_p(x, df["y"].to_numpy(), df["consortium"].to_numpy(), r1, 0.0)
    assert wb1.p_value == pytest.approx(p1, abs=1e-12)


@pytest.mark.parametrize("term", [None, "event_time::1", "cohort::2014"])
def test_sun_abraham_enumeration_equals_brute_force(term):
    df = tiny_panel()
    res = sun_abraham(df, outcome="y", unit="firm", time="year", cohort="cohort",
                      cluster="consortium")
    wb = wild_bootstrap(res, df, term=term, null=0.1, draws=999)
    assert wb.exact
    # the saturated regression with explicit dummies: one per (cohort, event time != -1)
    g, yr = df["cohort"].to_numpy(), df["year"].to_numpy()
    e = np.where(g > 0, yr - g, -99)
    keys = sorted({(int(c), int(k)) for c, k in zip(g, e, strict=True) if c > 0 and k != -1})
    cells = np.column_stack([(g == c) & (e == k) for c, k in keys]).astype(float)
    n = cells.sum(axis=0)
    if term is None:  # overall: post cells weighted by their observations
        w = np.array([n[j] if k >= 0 else 0.0 for j, (c, k) in enumerate(keys)])
    elif term.startswith("event_time"):
        w = np.array([n[j] if k == 1 else 0.0 for j, (c, k) in enumerate(keys)])
    else:
        w = np.array([n[j] if (c == 2014 and k >= 0) else 0.0 for j, (c, k) in enumerate(keys)])
    w = w / w.sum()
    x = np.column_stack([cells, dummies(df["firm"], False), dummies(df["year"], True)])
    r = np.r_[w, np.zeros(x.shape[1] - w.size)]
    bp = brute_force_p(x, df["y"].to_numpy(), df["consortium"].to_numpy(), r, 0.1)
    assert wb.p_value == pytest.approx(bp, abs=1e-12)
    reported = res.headline if term is None else next(
        t for t in (*res.estimates, *res.by_cohort) if t.term == term)
    assert wb.estimate == pytest.approx(reported.estimate, rel=1e-9)


def test_did_2x2_enumeration_equals_brute_force():
    df = tiny_panel()
    res = did_2x2(df, outcome="y", treated="treated", post="post", cluster="consortium")
    wb = wild_bootstrap(res, df, draws=999)
    d, p = df["treated"].to_numpy(float), df["post"].to_numpy(float)
    x = np.column_stack([np.ones_like(d), d, p, d * p])
    bp = brute_force_p(x, df["y"].to_numpy(), df["consortium"].to_numpy(), np.eye(4)[3], 0.0)
    assert wb.exact and wb.p_value == pytest.approx(bp, abs=1e-12)


def test_etwfe_linear_enumeration_equals_brute_force():
    df = tiny_panel()
    res = etwfe(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    wb = wild_bootstrap(res, df, draws=999, null=0.1)
    # ETWFE's dense design: cohort and period dummies plus one dummy per treated cell
    from policylab.did.inference.wild import _etwfe_design

    ed = _etwfe_design(res, df, "att")
    r = np.zeros(ed.x.shape[1])
    r[ed.design.cell_cols] = ed.w_row
    bp = brute_force_p(ed.x, ed.y, ed.cluster, r, 0.1)
    assert wb.exact and wb.p_value == pytest.approx(bp, abs=1e-12)
    assert wb.estimate == pytest.approx(res.headline.estimate)


@pytest.mark.parametrize("null_model", ["constant_effect", "restriction"])
def test_att_gt_enumeration_equals_brute_force(null_model):
    """CS aggregate in its regression form; the bootstrap samples are built by hand from
    the restricted fit and the saturated regression is refitted on explicit dummies."""
    df = tiny_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    wb = wild_bootstrap(gt, df, draws=999, null=0.3, null_model=null_model)
    from policylab.did import aggregate

    ag = aggregate(gt, "simple")
    assert wb.estimate == pytest.approx(ag.overall.estimate, abs=1e-12)
    # saturated design: firm and year dummies + cohort x period except the base g-1
    years = np.sort(df["year"].unique())
    cols, names = [], []
    for g in sorted(df.loc[df["cohort"] > 0, "cohort"].unique()):
        for t in years:
            if t == g - 1:
                continue
            cols.append(((df["cohort"] == g) & (df["year"] == t)).to_numpy(float))
            names.append((g, t))
    cells = np.column_stack(cols)
    x = np.column_stack([cells, dummies(df["firm"], False), dummies(df["year"], True)])
    r = np.zeros(x.shape[1])
    ow = np.asarray(ag.overall_weights)
    for k in np.flatnonzero(ow):
        r[names.index((int(gt.group[k]), int(gt.time[k])))] = ow[k]
    y, cl = df["y"].to_numpy(), df["consortium"].to_numpy()
    b, *_ = np.linalg.lstsq(x, y, rcond=None)
    assert r @ b == pytest.approx(ag.overall.estimate, abs=1e-10)
    theta0 = 0.3
    if null_model == "constant_effect":
        z = np.column_stack([dummies(df["firm"], False), dummies(df["year"], True)])
        ytil = y - theta0 * df["member"].to_numpy(float)
        c, *_ = np.linalg.lstsq(z, ytil, rcond=None)
        fit = z @ c + theta0 * df["member"].to_numpy(float)
    else:
        fit = restricted_fit(x, y, r, theta0)
    u = y - fit
    t = crv1_t(x, y, cl, r, theta0)
    ts = []
    for v in itertools.product([-1.0, 1.0], repeat=5):
        ts.append(crv1_t(x, fit + np.asarray(v)[cl] * u, cl, r, theta0))
    p = float(np.mean(np.abs(ts) >= abs(t) * (1 - 1e-8)))
    assert wb.exact and wb.p_value == pytest.approx(p, abs=1e-12)


def _cs_cell_design(df: pd.DataFrame, panel: bool) -> tuple[np.ndarray, list]:
    """One dummy per cohort (never = 0) and year; the first year dropped per cohort when
    firm dummies are added (balanced panel form)."""
    cols, names = [], []
    years = np.sort(df["year"].unique())
    for g in np.sort(df["cohort"].unique()):
        for t in years[1:] if panel else years:
            cols.append(((df["cohort"] == g) & (df["year"] == t)).to_numpy(float))
            names.append((g, t))
    return np.column_stack(cols), names


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("balanced", [True, False], ids=["balanced", "unbalanced"])
def test_att_gt_general_regression_form_equals_brute_force(control_group, balanced):
    """Any panel without covariates: the aggregate is r'b of the cell regression (firm
    dummies for a balanced panel, none for CS's repeated cross-section form), comparison
    cohorts pooled by firm counts (balanced) or cell counts (unbalanced). The hand-built r
    reproduces the estimate, and the enumerated p-value equals the brute-force loop."""
    df = tiny_panel(n_cons=5, seed=3)
    if not balanced:
        df = df.drop(df.sample(frac=0.15, random_state=2).index).reset_index(drop=True)
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort",
                cluster="consortium", control_group=control_group)  # fmt: skip
    assert gt.design == ("panel" if balanced else "unbalanced_panel")
    from policylab.did import aggregate

    ag = aggregate(gt, "simple")
    wb = wild_bootstrap(gt, df, draws=999, null_model="restriction")
    cells, names = _cs_cell_design(df, balanced)
    x = np.column_stack([cells, dummies(df["firm"], False)]) if balanced else cells
    r = np.zeros(x.shape[1])

    def add(v, g, t):
        key = (0 if math.isinf(g) else int(g), int(t))
        if key in names:
            r[names.index(key)] += v

    units = df.groupby("firm")["cohort"].first()
    ow = np.asarray(ag.overall_weights)
    for k in np.flatnonzero(ow):
        g, t, b = float(gt.group[k]), int(gt.time[k]), int(gt.base_period[k])
        add(ow[k], g, t)
        add(-ow[k], g, b)
        ctrl = [0 if math.isinf(c) else int(c) for c in gt.comparison_cohorts[k]]
        for per, sign in ((t, -1.0), (b, 1.0)):
            if balanced:
                cnt = np.array([(units == c).sum() for c in ctrl], float)
            else:
                cnt = np.array([((df["cohort"] == c) & (df["year"] == per)).sum() for c in ctrl],
                               float)  # fmt: skip
            for c, sh in zip(ctrl, cnt / cnt.sum(), strict=True):
                add(sign * ow[k] * sh, c, per)
    y, cl = df["y"].to_numpy(), df["consortium"].to_numpy()
    b_hat, *_ = np.linalg.lstsq(x, y, rcond=None)
    assert r @ b_hat == pytest.approx(ag.overall.estimate, abs=1e-10)
    fit = restricted_fit(x, y, r, 0.0)
    u = y - fit
    t0 = crv1_t(x, y, cl, r, 0.0)
    ts = [crv1_t(x, fit + np.asarray(v)[cl] * u, cl, r, 0.0)
          for v in itertools.product([-1.0, 1.0], repeat=5)]  # fmt: skip
    p = float(np.mean(np.abs(ts) >= abs(t0) * (1 - 1e-8)))
    assert wb.exact and wb.p_value == pytest.approx(p, abs=1e-12)
    assert wb.estimate == pytest.approx(ag.overall.estimate, abs=1e-12)


def test_att_gt_regression_form_se_is_the_cs_cluster_sum_se():
    """With one cohort the estimated-weights term vanishes, so the regression form's CRV1
    standard error is CS's analytic (cluster-sum) one times the CRV1 small-sample factor."""
    df = tiny_panel()
    df = df[df["cohort"] != 2014].copy()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    from policylab.did import aggregate
    from policylab.did.inference.wild import _problem_att_gt

    ag = aggregate(gt, "simple")
    prob, _ = _problem_att_gt(gt, df, "overall:simple")
    wb = wild_bootstrap(gt, df, draws=99, seed=1)
    assert wb.std_error / math.sqrt(prob.ssc) == pytest.approx(ag.overall.std_error, rel=1e-9)


# --------------------------------------------------------------------------- references


@pytest.fixture(scope="module")
def mid_panel(make_panel) -> pd.DataFrame:
    return make_panel(n_firms=150, seed=21, n_consortia=9)


def test_exact_p_equals_pyfixest_wildboottest(mid_panel):
    pf = pytest.importorskip("pyfixest")
    pytest.importorskip("wildboottest")
    df = mid_panel
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    ours = wild_bootstrap(res, df, draws=9999)
    fit = pf.feols("exports ~ member | firm + year", data=df, vcov={"CRV1": "consortium"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fit.wildboottest(reps=9999, param="member", seed=1)
    assert ours.exact and ours.draws == 2**9
    # wildboottest counts |t*| > |t| strictly; the draws v = +-1 reproduce |t| exactly
    # (ours counts them), so the p-values differ by those ties at most.
    diff = ours.p_value - float(ref["Pr(>|t|)"])
    assert min(abs(diff), abs(diff - 1 / 2**9), abs(diff - 2 / 2**9)) < 1e-12


def _wildboottest_p(x, y, cl, R, weights, B, seed):
    from wildboottest.wildboottest import WildboottestCL

    boot = WildboottestCL(X=x, Y=y, cluster=cl, R=R, B=B, seed=seed, parallel=False)
    boot.get_scores(bootstrap_type="11", impose_null=True)
    boot.get_weights(weights_type=weights)
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    return float(np.asarray(boot.pvalue).ravel()[0])


def _within_mc(p1: float, p2: float, b: int) -> bool:
    p = max(min((p1 + p2) / 2, 1 - 1e-3), 1e-3)
    return abs(p1 - p2) <= 4.5 * math.sqrt(2 * p * (1 - p) / b) + 1e-12


@pytest.mark.parametrize("weights", ["webb", "rademacher"])
def test_random_draws_agree_with_wildboottest_twfe(make_panel, weights):
    pytest.importorskip("wildboottest")
    df = make_panel(n_firms=200, seed=5, n_consortia=16, effect=0.25)
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    ours = wild_bootstrap(res, df, draws=9999, weights=weights, seed=3)
    assert not ours.exact
    x = np.column_stack([df["member"], dummies(df["firm"], False), dummies(df["year"], True)])
    R = np.zeros(x.shape[1])
    R[0] = 1.0
    ref = _wildboottest_p(x, df["exports"].to_numpy(), df["consortium"].to_numpy(), R,
                          weights, 9999, 7)  # fmt: skip
    assert 0.001 < ref < 0.999
    assert _within_mc(ours.p_value, ref, 9999)


def test_random_draws_agree_with_wildboottest_linear_combination(make_panel):
    """The event-study headline is a weighted sum of coefficients (R vector)."""
    pytest.importorskip("wildboottest")
    df = make_panel(n_firms=200, seed=8, n_consortia=16, effect=0.2)
    res = event_study(df, outcome="exports", unit="firm", time="year", cohort="cohort",
                      leads=2, lags=2, cluster="consortium")  # fmt: skip
    ours = wild_bootstrap(res, df, draws=9999, weights="webb", seed=2)
    e = np.where(df["cohort"] > 0, df["year"] - df["cohort"], -99).clip(-2, 2)
    terms = [k for k in range(-2, 3) if k != -1]
    ev = np.column_stack([(df["cohort"] > 0) & (e == k) for k in terms]).astype(float)
    w = np.where(np.array(terms) >= 0, ev.sum(axis=0), 0.0)
    w = w / w.sum()
    x = np.column_stack([ev, dummies(df["firm"], False), dummies(df["year"], True)])
    R = np.r_[w, np.zeros(x.shape[1] - w.size)]
    ref = _wildboottest_p(x, df["exports"].to_numpy(), df["consortium"].to_numpy(), R,
                          "webb", 9999, 11)  # fmt: skip
    assert 0.001 < ref < 0.999
    assert _within_mc(ours.p_value, ref, 9999)


# --------------------------------------------------------------------------- intervals


def test_interval_is_the_set_of_unrejected_nulls(mid_panel):
    df = mid_panel
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    wb = wild_bootstrap(res, df, draws=999, weights="webb", seed=4)
    assert wb.conf_low < wb.estimate < wb.conf_high
    eps = 1e-4 * (wb.conf_high - wb.conf_low)
    for bound, side in ((wb.conf_low, -1), (wb.conf_high, 1)):
        inside = wild_bootstrap(res, df, draws=999, weights="webb", seed=4, null=bound - side * eps,
                                conf_int=False)  # fmt: skip
        outside = wild_bootstrap(res, df, draws=999, weights="webb", seed=4,
                                 null=bound + side * eps, conf_int=False)  # fmt: skip
        assert inside.p_value > 0.05 >= outside.p_value


def test_unrestricted_interval_is_percentile_t(mid_panel):
    df = mid_panel
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    wb = wild_bootstrap(res, df, draws=999, impose_null=False, weights="webb", seed=1)
    assert wb.method == "wild_cluster_unrestricted_bootstrap"
    half_lo = wb.estimate - wb.conf_low
    half_hi = wb.conf_high - wb.estimate
    assert half_lo == pytest.approx(half_hi, rel=1e-5)
    assert half_lo / wb.std_error > 1.0


def test_too_few_draws_give_unbounded_interval():
    df = tiny_panel(n_cons=4)  # 2**4 = 16 sign vectors: p >= 2/16 > 0.05
    res = twfe(df, outcome="y", unit="firm", time="year", treatment="member", cluster="consortium")
    wb = wild_bootstrap(res, df, draws=999)
    assert wb.exact and wb.draws == 16
    assert math.isinf(wb.conf_low) and math.isinf(wb.conf_high)
    assert any("only 16 distinct" in w for w in wb.warnings)
    assert wb.to_dict()["conf_low"] is None


def test_poisson_score_bootstrap(make_panel):
    df = make_panel(n_firms=80, seed=4, n_consortia=12)
    rng = np.random.default_rng(0)
    df["count"] = rng.poisson(np.exp(0.5 + 0.3 * df["member"]))
    res = etwfe(df, outcome="count", unit="firm", time="year", cohort="cohort",
                cluster="consortium", family="poisson")  # fmt: skip
    wb = wild_bootstrap(res, df, draws=199, weights="webb", seed=1)
    assert wb.method == "score_bootstrap_restricted"
    assert wb.estimate == pytest.approx(res.headline.estimate)
    assert wb.std_error == pytest.approx(res.headline.std_error, rel=1e-6)
    assert wb.conf_low < wb.estimate < wb.conf_high
    assert (wb.p_value <= 0.05) == (not wb.conf_low <= 0.0 <= wb.conf_high)
    again = wild_bootstrap(res, df, draws=199, weights="webb", seed=1, conf_int=False)
    assert again.p_value == wb.p_value
    # at the estimate itself the restricted fit is the unrestricted one: p = 1
    at = wild_bootstrap(res, df, draws=199, seed=1, null=wb.estimate, conf_int=False)
    assert at.p_value == pytest.approx(1.0)


def test_poisson_restricted_fit_meets_the_restriction(make_panel):
    from policylab.did.core.poisson import fit_poisson
    from policylab.did.inference.wild import _constrained_poisson, _etwfe_design, _PoissonLevel

    df = make_panel(n_firms=80, seed=4, n_consortia=8)
    df["count"] = np.random.default_rng(1).poisson(np.exp(0.5 + 0.3 * df["member"]))
    res = etwfe(df, outcome="count", unit="firm", time="year", cohort="cohort",
                cluster="consortium", family="poisson")  # fmt: skip
    ed = _etwfe_design(res, df, "att")
    h = _PoissonLevel(ed.x, ed.design, ed.w_row)
    b0 = fit_poisson(ed.y, ed.x).beta
    for target in (0.0, 0.3, 1.2):
        b = _constrained_poisson(ed.y, ed.x, h, target, b0)
        assert h(b)[0] == pytest.approx(target, abs=1e-8)
        # KKT: the score is parallel to the constraint gradient
        mu = np.exp(ed.x @ b)
        score = ed.x.T @ (ed.y - mu)
        grad = h(b)[1]
        lam = (score @ grad) / (grad @ grad)
        np.testing.assert_allclose(score, lam * grad, atol=1e-6 * (1 + np.abs(score).max()))


# --------------------------------------------------------------------------- API contract


def test_seeds_reproduce_and_differ(mid_panel):
    df = mid_panel
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="firm")  # fmt: skip
    a = wild_bootstrap(res, df, draws=199, weights="webb", seed=5)
    b = wild_bootstrap(res, df, draws=199, weights="webb", seed=5)
    c = wild_bootstrap(res, df, draws=199, weights="webb", seed=6)
    assert a.to_dict() == b.to_dict()
    assert a.p_value != c.p_value or a.conf_low != c.conf_low
    d = wild_bootstrap(res, df, draws=199, weights="webb")  # seed drawn and recorded
    e = wild_bootstrap(res, df, draws=199, weights="webb", seed=d.seed)
    assert d.seed is not None and d.to_dict() == e.to_dict()


def test_draw_weights():
    v, exact = draw_weights("webb", 2, 36, seed=None)
    assert exact and v.shape == (36, 2)
    assert np.unique(v, axis=0).shape[0] == 36
    v, exact = draw_weights("rademacher", 20, 999, seed=1)
    assert not exact and set(np.unique(v)) == {-1.0, 1.0}


def test_tidy_and_to_dict(mid_panel):
    df = mid_panel
    res = event_study(df, outcome="exports", unit="firm", time="year", cohort="cohort",
                      leads=2, lags=2, cluster="consortium")  # fmt: skip
    wb = wild_bootstrap(res, df, term="event_time::1", draws=199, seed=1)
    t = wb.tidy()
    assert list(t.columns[:8]) == [
        "term", "event_time", "estimate", "std_error", "statistic", "p_value", "conf_low",
        "conf_high",
    ]  # fmt: skip
    assert t.loc[0, "event_time"] == 1 and t.loc[0, "method"] == wb.method
    d = wb.to_dict()
    assert d["n_clusters"] == 9 and d["weights"] == "rademacher"
    import json

    json.dumps(d)


def test_does_not_modify_data(mid_panel):
    df = mid_panel.copy()
    snapshot = df.copy()
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    wild_bootstrap(res, df, draws=99, seed=1)
    pd.testing.assert_frame_equal(df, snapshot)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"B": 99.0}, TypeError),
        ({"B": True}, TypeError),
        ({"B": 5}, ValueError),
        ({"weights": "mammen"}, ValueError),
        ({"weights": None}, ValueError),
        ({"seed": -1}, ValueError),
        ({"seed": 1.5}, TypeError),
        ({"null": "0"}, TypeError),
        ({"null": math.inf}, ValueError),
        ({"impose_null": 1}, TypeError),
        ({"alpha": 1.5}, ValueError),
        ({"term": "event_time::3"}, ValueError),
        ({"term": 3}, TypeError),
        ({"null_model": "constant_effect"}, ValueError),
        ({"null_model": "sharp"}, ValueError),
        ({"cluster": "firm"}, TypeError),  # unknown argument
    ],
    ids=str,
)
def test_bad_arguments(mid_panel, kwargs, error):
    df = mid_panel
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    with pytest.raises(error):
        wild_bootstrap(res, df, **kwargs)


def test_bad_inputs(mid_panel):
    df = mid_panel
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    with pytest.raises(TypeError):
        wild_bootstrap(res.to_dict(), df)
    with pytest.raises(TypeError):
        wild_bootstrap(res, df.to_dict())
    other = df.assign(exports=df["exports"] + np.random.default_rng(0).normal(size=len(df)))
    with pytest.raises(ValueError, match="reproduce"):
        wild_bootstrap(res, other, draws=99)
    two = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
               cluster=["consortium", "year"])  # fmt: skip
    with pytest.raises(ValueError, match="one-way"):
        wild_bootstrap(two, df, draws=99)
    by_year = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
                   cluster="year")  # fmt: skip
    with pytest.raises(ValueError, match="nested"):
        wild_bootstrap(by_year, df, draws=99)
    df = df.assign(x=np.repeat(np.arange(df["firm"].nunique()) % 3, df["year"].nunique()))
    gt = att_gt(df, outcome="exports", unit="firm", time="year", cohort="cohort",
                cluster="consortium", covariates=["x"])  # fmt: skip
    with pytest.raises(ValueError, match="covariates"):
        wild_bootstrap(gt, df, draws=99)


# --------------------------------------------------------------------------- fast path
# The bootstrap never refits: per draw it needs only cluster sums (see wild._t_parts). The
# tests below pin it against a straightforward evaluation on data shaped like a registry
# (a few multi-firm consortia, hundreds of never-member firms that are each their own
# cluster, some of them with gaps): for the same draws, every bootstrap t statistic equals
# the one from refitting OLS on y* = restricted fit + v_g * restricted residual.


def singleton_panel(n_single: int = 300, seed: int = 0, gaps: bool = False) -> pd.DataFrame:
    """5 consortia of 6 member firms (joining 2013-2016), 2 members that are alone in their
    consortium, and ``n_single`` never-member firms, each its own cluster. With ``gaps``,
    80 never-members miss 2011 (a support pattern of its own) and 20 miss a random year
    (rare patterns, pooled)."""
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2018)
    spec = [(f"C{c}", 2013 + c % 4, 6) for c in range(5)] + [("C5", 2014, 1), ("C6", 2016, 1)]
    spec += [(None, 0, 1)] * n_single
    rows, firm = [], 0
    for name, g, size in spec:
        shock = rng.normal(0, 0.5, years.size)
        for _ in range(size):
            a = rng.normal()
            cl = name if name is not None else f"f{firm}"
            for j, t in enumerate(years):
                d = int(g > 0 and t >= g)
                y = a + 0.1 * j + shock[j] + 0.3 * d + rng.normal()
                rows.append((firm, t, cl, g, d, y))
            firm += 1
    df = pd.DataFrame(rows, columns=["firm", "year", "consortium", "cohort", "member", "y"])
    if gaps:
        never = np.sort(df.loc[df["cohort"] == 0, "firm"].unique())
        drop = df["firm"].isin(never[:80]) & (df["year"] == 2011)
        for f in never[80:100]:
            drop |= (df["firm"] == f) & (df["year"] == rng.choice(years[1:]))
        df = df.loc[~drop].reset_index(drop=True)
    return df


def _demean(a: np.ndarray, firm: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(np.asarray(a, dtype=float).reshape(len(firm), -1))
    return (frame - frame.groupby(firm).transform("mean")).to_numpy().reshape(np.shape(a))


def _refit_tstats(x, fit, u, cl, r, theta0, v) -> np.ndarray:
    """Bootstrap t statistics (CRV1 without the small-sample factor) of ``r'b = theta0``
    by refitting OLS on ``y* = fit + v_g u`` for every draw ``v`` (rows of ``v``)."""
    codes = pd.factorize(cl)[0]
    ystar = fit[:, None] + v.T[codes] * u[:, None]
    b, *_ = np.linalg.lstsq(x, ystar, rcond=None)
    e = ystar - x @ b
    xq = x @ (np.linalg.pinv(x.T @ x) @ r)
    s = pd.DataFrame(xq[:, None] * e).groupby(codes).sum().to_numpy()
    return (r @ b - theta0) / np.sqrt((s**2).sum(axis=0))


def _fast_tstats(monkeypatch, run) -> tuple:
    """The result of ``run()`` and the bootstrap-t pieces the fast path computed in it."""
    from policylab.did.inference import wild

    seen = []
    orig = wild._t_parts

    def spy(*args, **kwargs):
        seen.append(orig(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(wild, "_t_parts", spy)
    res = run()
    assert len(seen) == 1
    return res, seen[0]


def _draws(g: int, b: int, seed: int) -> np.ndarray:
    v, exact = draw_weights("webb", g, b, seed)
    assert not exact
    return v


@pytest.mark.parametrize("gaps", [False, True], ids=["balanced", "gaps"])
def test_event_study_fast_path_equals_refits(monkeypatch, gaps):
    df = singleton_panel(gaps=gaps)
    res = event_study(df, outcome="y", unit="firm", time="year", cohort="cohort", leads=3,
                      lags=2, cluster="consortium")  # fmt: skip
    wb, parts = _fast_tstats(
        monkeypatch, lambda: wild_bootstrap(res, df, draws=199, weights="webb", seed=3)
    )
    assert wb.n_clusters == 307 and wb.n_treated_clusters == 7
    # the regression by hand: event-time and year dummies, firm effects by demeaning
    firm, cl, y = df["firm"].to_numpy(), df["consortium"].to_numpy(), df["y"].to_numpy()
    e = np.where(df["cohort"] > 0, df["year"] - df["cohort"], -99).clip(-3, 2)
    terms = [k for k in range(-3, 3) if k != -1]
    ev = np.column_stack([(df["cohort"] > 0) & (e == k) for k in terms]).astype(float)
    x = _demean(np.column_stack([ev, dummies(df["year"], True)]), firm)
    yd = _demean(y, firm)
    w = np.where(np.array(terms) >= 0, ev.sum(axis=0), 0.0)
    r = np.r_[w / w.sum(), np.zeros(x.shape[1] - len(terms))]
    b, *_ = np.linalg.lstsq(x, yd, rcond=None)
    assert wb.estimate == pytest.approx(r @ b, abs=1e-12)
    v = _draws(307, 199, 3)
    for theta0 in (0.0, wb.estimate - 0.2, 1.5):
        fit = restricted_fit(x, yd, r, theta0)
        ref = _refit_tstats(x, fit, yd - fit, cl, r, theta0, v)
        got = parts.tstats(np.array([theta0 - wb.estimate]))[:, 0] * math.sqrt(parts.ssc)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    t = (wb.estimate - 0.0) / wb.std_error
    ref0 = _refit_tstats(x, restricted_fit(x, yd, r, 0.0), yd - restricted_fit(x, yd, r, 0.0),
                         cl, r, 0.0, v) / math.sqrt(parts.ssc)  # fmt: skip
    assert wb.p_value == pytest.approx(np.mean(np.abs(ref0) >= abs(t) * (1 - 1e-8)), abs=1e-12)


@pytest.mark.parametrize("balanced", [True, False], ids=["balanced", "unbalanced"])
def test_att_gt_fast_path_equals_refits(monkeypatch, balanced):
    """CS's regression form under the constant-effect null: balanced (firm effects) and
    unbalanced (the repeated cross-section form, no firm effects)."""
    from policylab.did import aggregate

    df = singleton_panel(gaps=not balanced, seed=1)
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort",
                cluster="consortium")  # fmt: skip
    assert gt.design == ("panel" if balanced else "unbalanced_panel")
    wb, parts = _fast_tstats(
        monkeypatch, lambda: wild_bootstrap(gt, df, draws=199, weights="webb", seed=5)
    )
    ag = aggregate(gt, "simple")
    cells, names = _cs_cell_design(df, balanced)
    firm, cl, y = df["firm"].to_numpy(), df["consortium"].to_numpy(), df["y"].to_numpy()
    r = _cs_r(gt, ag, df, names, balanced)
    d = df["member"].to_numpy(float)
    years = dummies(df["year"], True)
    if balanced:  # firm effects by demeaning
        x, yy, dd, z = (_demean(a, firm) for a in (cells, y, d, years))
    else:
        x, yy, dd = cells, y, d
        z = np.column_stack([dummies(df["cohort"], False), years])
    b, *_ = np.linalg.lstsq(x, yy, rcond=None)
    assert r @ b == pytest.approx(ag.overall.estimate, abs=1e-10)
    v = _draws(307, 199, 5)
    for theta0 in (0.0, wb.estimate + 0.3):
        # constant-effect null: y - theta0 D = (firm +) year (+ cohort) effects + u
        c, *_ = np.linalg.lstsq(z, yy - theta0 * dd, rcond=None)
        fit = theta0 * dd + z @ c
        ref = _refit_tstats(x, fit, yy - fit, cl, r, theta0, v)
        got = parts.tstats(np.array([theta0 - wb.estimate]))[:, 0] * math.sqrt(parts.ssc)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


def _cs_r(gt, ag, df, names, balanced) -> np.ndarray:
    """The aggregate's weights on the cells of :func:`_cs_cell_design` (comparison cohorts
    pooled by firm counts, balanced, or cell counts, unbalanced)."""
    r = np.zeros(len(names))
    units = df.groupby("firm")["cohort"].first()
    ow = np.asarray(ag.overall_weights)

    def add(v, g, t):
        key = (0 if math.isinf(g) else int(g), int(t))
        if key in names:
            r[names.index(key)] += v

    for k in np.flatnonzero(ow):
        g, t, b = float(gt.group[k]), int(gt.time[k]), int(gt.base_period[k])
        add(ow[k], g, t)
        add(-ow[k], g, b)
        ctrl = [0 if math.isinf(c) else int(c) for c in gt.comparison_cohorts[k]]
        for per, sign in ((t, -1.0), (b, 1.0)):
            if balanced:
                cnt = np.array([(units == c).sum() for c in ctrl], float)
            else:
                cnt = np.array([((df["cohort"] == c) & (df["year"] == per)).sum() for c in ctrl],
                               float)  # fmt: skip
            for c, sh in zip(ctrl, cnt / cnt.sum(), strict=True):
                add(sign * ow[k] * sh, c, per)
    return r


def test_twfe_unrestricted_fast_path_equals_refits(monkeypatch):
    """WCU (residuals of the unrestricted fit) through the same path."""
    df = singleton_panel(gaps=True, seed=2)
    res = twfe(df, outcome="y", unit="firm", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    wb, parts = _fast_tstats(
        monkeypatch,
        lambda: wild_bootstrap(res, df, draws=199, weights="webb", seed=7, impose_null=False),
    )
    firm, cl = df["firm"].to_numpy(), df["consortium"].to_numpy()
    x = _demean(np.column_stack([df["member"], dummies(df["year"], True)]), firm)
    yd = _demean(df["y"].to_numpy(), firm)
    b, *_ = np.linalg.lstsq(x, yd, rcond=None)
    r = np.eye(x.shape[1])[0]
    ref = _refit_tstats(x, x @ b, yd - x @ b, cl, r, b[0], _draws(307, 199, 7))
    np.testing.assert_allclose(parts.tstats(np.zeros(1))[:, 0] * math.sqrt(parts.ssc), ref,
                               rtol=1e-10, atol=1e-10)  # fmt: skip


@pytest.mark.parametrize("kind", ["webb", "rademacher"])
def test_streamed_draws_equal_draw_weights(monkeypatch, kind):
    """The bootstrap draws its weights block by block (numpy's bounded-integer algorithm
    on the generator's bytes); they are draw_weights' weights, value for value."""
    from policylab.did.inference import wild

    monkeypatch.setattr(wild, "_CACHE_CODES", 0)  # stream even small problems
    for g, b, seed, step in [(13, 4099, 5, 7), (13, 999, 0, 64), (5001, 99, 3, 10),
                             (20011, 131, 2**31 + 1, 17)]:  # fmt: skip
        ref, exact = draw_weights(kind, g, b, seed)
        d = wild._Draws(kind, g, b, seed)
        assert not exact and not d.exact and d._codes is None
        got = np.concatenate([d.table[c] for _, c in d.blocks(step)])
        np.testing.assert_array_equal(got, ref)
    grid, exact = draw_weights(kind, 3, 999, seed=1)  # exact enumeration: the same grid
    d = wild._Draws(kind, 3, 999, 1)
    assert exact and d.exact and np.array_equal(d.matrix(), grid)


def test_within_sample_is_fit_withins_sample():
    """The bootstrap's sample (singletons dropped, empty event-time terms dropped, clusters
    in first-appearance order, fixest's K) is the one the estimator fitted on."""
    from policylab.did.core.fit import fit_within
    from policylab.did.inference.wild import _onehot, _panel, _within_sample

    df = singleton_panel(n_single=40, gaps=True, seed=4)
    df = pd.concat([df, pd.DataFrame([{"firm": 999, "year": 2012, "consortium": "solo",
                                       "cohort": 0, "member": 0, "y": 0.1}])],
                   ignore_index=True)  # fmt: skip
    df.loc[df.sample(frac=0.05, random_state=1).index, "y"] = np.nan
    df = df.sample(frac=1.0, random_state=3).reset_index(drop=True)  # rows in any order
    res = event_study(df, outcome="y", unit="firm", time="year", cohort="cohort", leads=6,
                      lags=6, cluster="consortium")  # fmt: skip
    panel = _panel(res, df, whole_time=True)
    e = np.where(df["cohort"] > 0, df["year"] - df["cohort"], 0).clip(-6, 6).astype(int)
    terms = [k for k in range(-6, 7) if k != -1]
    col = np.where(df["cohort"] > 0, [terms.index(k) if k in terms else -1 for k in e], -1)
    names = [f"event_time::{k}" for k in terms]
    ours = _within_sample(panel, _onehot(col, len(terms)), names, drop_empty=True)
    x = np.column_stack([col == j for j in range(len(terms))]).astype(float)
    ref = fit_within(panel.y, x, names, row_ok=panel.outcome_rows.keep,
                     unit_codes=panel.unit_codes, time_values=panel.time, unit_name="firm",
                     cluster_names=panel.cluster_names, cluster_codes=panel.cluster_codes,
                     drop_empty=True)  # fmt: skip
    assert not ref.keep.all() and len(ref.names) < len(names)  # the cases are exercised
    np.testing.assert_array_equal(ours.keep, ref.keep)
    assert ours.names == list(ref.names)
    np.testing.assert_array_equal(ours.x.toarray(), np.asarray(ref.regressors))
    np.testing.assert_array_equal(ours.cluster, ref.clustering.codes[0])
    assert ours.dof_k == ref.vcov.dof_k
    assert pd.factorize(ours.unit_codes)[0].tolist() == pd.factorize(ref.unit_codes)[0].tolist()


def test_sparse_helpers():
    import scipy.sparse as sp

    from policylab.did.inference.wild import _hstack_rows, _independent, _onehot, _sparse_gram, _Within

    rng = np.random.default_rng(0)
    mats = [_onehot(rng.integers(-1, 4, 50), 4), _onehot(rng.integers(-1, 3, 50), 3)]
    for group in (mats, [sp.random(50, 6, density=0.3, format="csr", random_state=1),
                         *mats]):  # fmt: skip
        np.testing.assert_array_equal(
            _hstack_rows(group).toarray(), sp.hstack(group, format="csr").toarray()
        )
        x = _hstack_rows(group)
        np.testing.assert_allclose(_sparse_gram(x), (x.T @ x).toarray(), rtol=1e-14)
    firm = rng.integers(0, 12, 50)
    x = _hstack_rows(mats)
    xd = _demean(x.toarray(), firm)
    np.testing.assert_allclose(_Within(pd.factorize(firm)[0]).gram(x), xd.T @ xd, atol=1e-12)
    # a column that is a combination of earlier ones is dropped, the protected one kept
    z = rng.normal(size=(40, 3))
    z = np.column_stack([z, z[:, 1] - 2 * z[:, 2], rng.normal(size=40), np.zeros(40)])
    keep = _independent(z.T @ z, (z**2).sum(axis=0), protected=1)
    assert keep.tolist() == [True, True, True, False, True, False]
