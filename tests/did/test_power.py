"""Minimum detectable effect: hand formulas, simulated rejection rates, estimation from a panel.

The simulation model is the one the formula assumes: firm effects, year effects, a
consortium-by-year shock and an idiosyncratic shock, both stationary AR(1) with the same
coefficient. At a true effect equal to the MDE, the two-sided 5% test (Welch t test on the
consortium means of the firms' pre-post changes, or policylab's clustered TWFE in the slow
test) must reject in about 80% of the simulated panels.
"""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import policylab.did.diagnostics.power as power_module
from policylab.did import (
    PowerDesign,
    mde_for_panel,
    minimum_detectable_effect,
    twfe,
    warn_if_underpowered,
)
from policylab.did.diagnostics.power import estimate_noise, plausible_effect, serial_variance_factor


def ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float, var: float) -> np.ndarray:
    """Stationary AR(1) paths along the last axis."""
    x = np.empty(shape)
    x[..., 0] = rng.normal(0, math.sqrt(var), shape[:-1])
    innov = rng.normal(0, math.sqrt(var * (1 - rho**2)), shape)
    for t in range(1, shape[-1]):
        x[..., t] = rho * x[..., t - 1] + innov[..., t]
    return x


def simulate_changes(reps, gt, nt, gc, nc, m, r, s2, rho, icc, effect, seed):
    """Per-firm pre-post changes of ``reps`` panels, grouped (reps, cluster, firm)."""
    rng = np.random.default_rng(seed)
    year_effects = rng.normal(0, 1, (reps, 1, 1, m + r))  # common to both groups

    def group(g: int, n: int, eff: float) -> np.ndarray:
        y = ar1(rng, (reps, g, 1, m + r), rho, s2 * icc) + ar1(
            rng, (reps, g, n, m + r), rho, s2 * (1 - icc)
        )
        y = y + rng.normal(0, 2, (reps, g, n, 1)) + year_effects
        y[..., m:] += eff
        return y[..., m:].mean(-1) - y[..., :m].mean(-1)

    return group(gt, nt, effect), group(gc, nc, 0.0)


def welch_rejects(dt: np.ndarray, dc: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    mt, mc = dt.mean(-1), dc.mean(-1)  # consortium means (equal sizes)
    gt, gc = mt.shape[-1], mc.shape[-1]
    est = mt.mean(-1) - mc.mean(-1)
    vt, vc = mt.var(-1, ddof=1) / gt, mc.var(-1, ddof=1) / gc
    df = (vt + vc) ** 2 / (vt**2 / (gt - 1) + vc**2 / (gc - 1))
    return 2 * stats.t.sf(np.abs(est) / np.sqrt(vt + vc), df) < alpha


def simulate_panel(rng, gt, nt, gc, nc, years, join, s2, rho, icc, effect) -> pd.DataFrame:
    """Long firm-year panel: ``gt`` consortia of ``nt`` members joining in ``join``, ``gc``
    comparison clusters of ``nc`` never-members."""
    T = len(years)
    frames = []
    for g, n, treated in ((gt, nt, True), (gc, nc, False)):
        y = ar1(rng, (g, 1, T), rho, s2 * icc) + ar1(rng, (g, n, T), rho, s2 * (1 - icc))
        y = y + rng.normal(0, 2, (g, n, 1))
        if treated:
            y[..., np.asarray(years) >= join] += effect
        cl = np.repeat(np.arange(g), n * T)
        firm = np.repeat(np.arange(g * n), T)
        frames.append(pd.DataFrame({
            "firm": (("T" if treated else "C") + pd.Series(firm).astype(str)).to_numpy(),
            "year": np.tile(years, g * n),
            "cohort": join if treated else 0,
            "consortium": (("t" if treated else "c") + pd.Series(cl).astype(str)).to_numpy(),
            "y": y.ravel(),
        }))  # fmt: skip
    df = pd.concat(frames, ignore_index=True)
    df["y"] += rng.normal(0, 1, T)[df["year"] - years[0]]  # year effects
    df["member"] = ((df["cohort"] > 0) & (df["year"] >= df["cohort"])).astype(int)
    return df


# --- hand formulas ---------------------------------------------------------------------------


def test_hand_formula_without_correlation():
    """sigma2 = 1, one pre and one post period, 50 + 50 firms each their own cluster:
    Var(D_i) = 2, SE = sqrt(2/50 + 2/50) = sqrt(0.08), df = 98 (Welch, equal variances)."""
    d = PowerDesign(n_treated=50, n_control=50, n_pre=1, n_post=1, sigma2=1.0)
    res = minimum_detectable_effect(d)
    assert res.std_error == pytest.approx(math.sqrt(0.08), rel=1e-12)
    assert res.df == pytest.approx(98.0, rel=1e-12)
    approx = stats.t.ppf(0.975, 98) + stats.t.ppf(0.8, 98)
    assert res.multiplier == pytest.approx(approx, rel=2e-4)  # Bloom's approximation
    crit = stats.t.ppf(0.975, 98)
    lam = res.multiplier
    assert stats.nct.sf(crit, 98, lam) + stats.nct.cdf(-crit, 98, lam) == pytest.approx(0.8)
    assert res.mde == pytest.approx(lam * math.sqrt(0.08), rel=1e-12)
    assert res.power_at(res.mde) == pytest.approx(0.8, abs=1e-9)


def test_hand_formula_with_clusters_and_serial_correlation():
    """6 consortia of 10 members against 240 single never-members, 3 + 3 years."""
    s2, rho, icc = 0.04, 0.5, 0.1
    d = PowerDesign.from_counts(
        n_treated=60,
        n_control=240,
        n_clusters_treated=6,
        n_pre=3,
        n_post=3,
        sigma2=s2,
        rho=rho,
        icc=icc,
    )
    res = minimum_detectable_effect(d, alpha=0.10, power=0.9)
    q = serial_variance_factor(rho, 3, 3)
    vt = s2 * q * (1 + 9 * icc) / 60
    vc = s2 * q / 240
    df = (vt + vc) ** 2 / (vt**2 / 5 + vc**2 / 239)
    assert res.std_error == pytest.approx(math.sqrt(vt + vc), rel=1e-12)
    assert res.df == pytest.approx(df, rel=1e-12)
    assert res.design_effect_treated == pytest.approx(1.9)
    assert res.design_effect_control == 1.0
    assert res.power_at(res.mde) == pytest.approx(0.9, abs=1e-9)


def test_serial_variance_factor_against_a_double_sum():
    for rho, m, r in [(0.0, 3, 2), (0.6, 3, 2), (-0.3, 1, 4), (0.9, 5, 5)]:
        t = list(range(m + r))
        w = [-1 / m] * m + [1 / r] * r
        brute = sum(w[a] * w[b] * rho ** abs(t[a] - t[b]) for a in t for b in t)
        assert serial_variance_factor(rho, m, r) == pytest.approx(brute, rel=1e-12)
    assert serial_variance_factor(0.0, 4, 2) == pytest.approx(1 / 4 + 1 / 2)
    assert serial_variance_factor(0.7, 1, 1) == pytest.approx(2 * (1 - 0.7))


def test_design_effect_uses_kish_cluster_size():
    d = PowerDesign(
        n_treated=12,
        n_control=30,
        n_pre=2,
        n_post=2,
        sigma2=1.0,
        icc=0.2,
        treated_cluster_sizes=(2, 4, 6),
    )
    res = minimum_detectable_effect(d)
    n_eff = (4 + 16 + 36) / 12
    assert res.design_effect_treated == pytest.approx(1 + (n_eff - 1) * 0.2)
    assert d.n_clusters_treated == 3 and d.n_clusters_control == 30


def test_more_consortia_lower_the_mde():
    kw = {
        "n_treated": 60,
        "n_control": 300,
        "n_pre": 3,
        "n_post": 3,
        "sigma2": 1.0,
        "rho": 0.3,
        "icc": 0.15,
    }
    mdes = [
        minimum_detectable_effect(PowerDesign.from_counts(n_clusters_treated=g, **kw)).mde
        for g in (3, 6, 12, 30)
    ]
    assert all(a > b for a, b in itertools.pairwise(mdes))


# --- simulation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gt", "nt", "gc", "nc"),
    [(12, 5, 12, 5), (6, 10, 300, 1), (3, 10, 300, 1)],
    ids=["12-vs-12-consortia", "6-consortia-vs-300-firms", "3-consortia-vs-300-firms"],
)
def test_rejection_rate_at_the_mde_is_the_power(gt, nt, gc, nc):
    """4,000 panels at effect = MDE: the rejection rate is 0.80 within 3.5 Monte Carlo
    standard errors (0.022)."""
    d = PowerDesign.from_counts(
        n_treated=gt * nt,
        n_control=gc * nc,
        n_clusters_treated=gt,
        n_clusters_control=gc,
        n_pre=3,
        n_post=3,
        sigma2=1.0,
        rho=0.5,
        icc=0.2,
    )
    res = minimum_detectable_effect(d)
    dt, dc = simulate_changes(4000, gt, nt, gc, nc, 3, 3, 1.0, 0.5, 0.2, res.mde, seed=11)
    rate = welch_rejects(dt, dc).mean()
    assert abs(rate - 0.8) < 3.5 * math.sqrt(0.16 / 4000)
    if gt < 6:
        return  # with 3 treated clusters the Welch test itself over-rejects (about 7%)
    # and the test has its size at a zero effect
    dt0, dc0 = simulate_changes(4000, gt, nt, gc, nc, 3, 3, 1.0, 0.5, 0.2, 0.0, seed=12)
    assert abs(welch_rejects(dt0, dc0).mean() - 0.05) < 3.5 * math.sqrt(0.05 * 0.95 / 4000)


def test_noise_estimates_recover_the_simulated_parameters():
    rng = np.random.default_rng(5)
    years = np.arange(2010, 2018)
    df = simulate_panel(rng, 200, 5, 0, 0, years, 2030, 0.5, 0.6, 0.25, 0.0)
    est = estimate_noise(df, outcome="y", unit="firm", time="year", cluster="consortium")
    assert est.rho == pytest.approx(0.6, abs=0.04)
    assert est.sigma2 == pytest.approx(0.5, rel=0.1)
    assert est.icc == pytest.approx(0.25, abs=0.04)


def test_mde_for_panel_counts_and_defaults():
    rng = np.random.default_rng(8)
    years = np.arange(2012, 2021)
    df = simulate_panel(rng, 5, 8, 150, 1, years, 2016, 0.3, 0.4, 0.2, 0.0)
    before = df.copy()
    res = mde_for_panel(
        df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium"
    )
    pd.testing.assert_frame_equal(df, before)
    d = res.design
    assert (d.n_treated, d.n_control, d.n_clusters_treated, d.n_clusters_control) == (
        40,
        150,
        5,
        150,
    )
    assert (d.n_pre, d.n_post) == (4, 5)
    assert res.baseline_mean == pytest.approx(
        df.loc[(df["cohort"] > 0) & (df["year"] < 2016), "y"].mean()
    )
    assert res.design_effect_treated == pytest.approx(1 + 7 * d.icc)
    assert res.tidy().set_index("term").loc["mde", "value"] == pytest.approx(res.mde)
    no_cluster = mde_for_panel(df, outcome="y", unit="firm", time="year", cohort="cohort")
    assert no_cluster.design.icc == 0 and no_cluster.mde < res.mde
    fixed = mde_for_panel(
        df,
        outcome="y",
        unit="firm",
        time="year",
        cohort="cohort",
        cluster="consortium",
        n_pre=2,
        n_post=2,
    )
    assert (fixed.design.n_pre, fixed.design.n_post) == (2, 2)


@pytest.mark.slow
def test_clustered_twfe_rejects_at_the_mde_about_80_percent():
    """End to end with policylab's estimator: 400 panels (20 consortia of 5 members joining
    in 2015 and 20 comparison clusters of 5, 2012-2017) at the MDE of the true design,
    estimated by TWFE with consortium-clustered (CRV1) standard errors: rejection rate 0.80
    within 3 Monte Carlo standard errors (0.06)."""
    years = np.arange(2012, 2018)
    design = {
        "gt": 20,
        "nt": 5,
        "gc": 20,
        "nc": 5,
        "years": years,
        "join": 2015,
        "s2": 0.3,
        "rho": 0.5,
        "icc": 0.2,
    }
    truth = minimum_detectable_effect(
        PowerDesign.from_counts(
            n_treated=100,
            n_control=100,
            n_clusters_treated=20,
            n_clusters_control=20,
            n_pre=3,
            n_post=3,
            sigma2=0.3,
            rho=0.5,
            icc=0.2,
        )
    )
    rng = np.random.default_rng(21)
    hits = []
    for _ in range(400):
        df = simulate_panel(rng, effect=truth.mde, **design)
        fit = twfe(
            df, outcome="y", unit="firm", time="year", treatment="member", cluster="consortium"
        )
        hits.append(fit.headline.p_value < 0.05)
    assert abs(np.mean(hits) - 0.8) < 0.06


# --- warnings and plausible effects ---------------------------------------------------------


def test_warning_texts():
    d = PowerDesign.from_counts(
        n_treated=30,
        n_control=200,
        n_clusters_treated=5,
        n_pre=3,
        n_post=2,
        sigma2=0.05,
        rho=0.4,
        icc=0.1,
    )
    res = minimum_detectable_effect(d, outcome="exporter")
    assert res.mde > 0.10
    text = warn_if_underpowered(res, plausible_effect("exporter"))
    assert text.startswith("Underpowered: the minimum detectable effect at 80% power is")
    assert "above the whole plausible range (0.05 to 0.1)" in text
    assert f"{100 * res.power_at(0.05):.0f}%" in text
    partly = warn_if_underpowered(0.07, (0.05, 0.10))
    assert partly.startswith("Partly underpowered") and "inside the plausible range" in partly
    assert warn_if_underpowered(0.05, (0.05, 0.10)) is None
    assert warn_if_underpowered(0.2, 0.18) is not None
    with pytest.raises(ValueError):
        warn_if_underpowered(0.0, 0.1)


def test_plausible_effects_from_the_domain_notes():
    assert plausible_effect("exporter") == (0.05, 0.10)
    lo, hi = plausible_effect("log_exports")
    assert (lo, hi) == pytest.approx((math.log(1.1), math.log(1.2)))
    assert plausible_effect("exports_eur", baseline_mean=200_000) == pytest.approx((20_000, 40_000))
    assert plausible_effect("turnover_eur") is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_treated": 0}, "n_treated"),
        ({"sigma2": -1.0}, "sigma2"),
        ({"rho": 1.0}, "rho"),
        ({"icc": 1.5}, "icc"),
        ({"treated_cluster_sizes": (3, 3)}, "sum to 10"),
    ],
)
def test_bad_designs_raise(kwargs, match):
    base = {"n_treated": 10, "n_control": 20, "n_pre": 2, "n_post": 2, "sigma2": 1.0}
    with pytest.raises(ValueError, match=match):
        PowerDesign(**{**base, **kwargs})


def test_bad_panels_raise():
    df = pd.DataFrame(
        {
            "firm": [1, 1, 2, 2],
            "year": [1, 2, 1, 2],
            "cohort": [0, 0, 0, 0],
            "y": [1.0, 2.0, 3.0, 4.0],
        }
    )
    with pytest.raises(ValueError, match="before it joins"):
        mde_for_panel(df, outcome="y", unit="firm", time="year", cohort="cohort")
    with pytest.raises(ValueError, match="columns"):
        mde_for_panel(df, outcome="z", unit="firm", time="year", cohort="cohort")
    with pytest.raises(ValueError, match="alpha"):
        minimum_detectable_effect(PowerDesign(10, 10, 1, 1, 1.0), alpha=2)


def test_docstring_examples_run():
    import policylab.did.diagnostics.honest as honest_module

    for module in (power_module, honest_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0
