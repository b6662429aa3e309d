"""Synthetic difference-in-differences (Arkhangelsky et al. 2021) with placebo standard errors.

References: the published California Proposition 99 estimate of the R package synthdid
(README: -15.604; the data ship with ``synthdid-py``, a test extra), and ``diff_diff``'s
``SyntheticDiD`` (bench extra), which implements the same Frank-Wolfe solver, regularisation
and two-pass sparsification as R synthdid, on generated panels: block designs directly,
staggered designs cohort by cohort, aggregated with treated-firm x post-period weights.
"""

from __future__ import annotations

import doctest
import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

from policylab.did.estimators.synthetic_did import (
    SyntheticDiDError,
    frank_wolfe_weights,
    synthetic_did,
)
from policylab.did.results import DiDResult

KW = {"outcome": "y", "unit": "firm", "time": "year", "cohort": "cohort"}


def factor_panel(
    n_firms: int = 24,
    years: tuple[int, int] = (2008, 2019),
    treated: dict[int, int] | None = None,
    effect: float = 3.0,
    noise: float = 0.3,
    seed: int = 0,
) -> pd.DataFrame:
    """Firm-year panel with firm and year effects, a firm-specific trend loading on a
    common factor, and a constant ``effect`` for the firms in ``treated`` (firm -> cohort)
    from their cohort on. Columns ``firm, year, cohort, y``."""
    treated = {0: 2016} if treated is None else treated
    rng = np.random.default_rng(seed)
    yrs = np.arange(years[0], years[1] + 1)
    firm = np.repeat(np.arange(n_firms), yrs.size)
    year = np.tile(yrs, n_firms)
    cohort_f = np.array([treated.get(i, 0) for i in range(n_firms)])
    cohort = cohort_f[firm]
    factor = np.cumsum(rng.normal(0, 1, yrs.size))
    loading = rng.normal(1, 0.5, n_firms)
    y = (rng.normal(10, 2, n_firms)[firm] + rng.normal(0, 1, yrs.size)[year - yrs[0]]
         + loading[firm] * factor[year - yrs[0]]
         + effect * ((cohort > 0) & (year >= cohort)) + rng.normal(0, noise, firm.size))
    return pd.DataFrame({"firm": [f"F{i:02d}" for i in firm], "year": year,
                         "cohort": cohort, "y": y})


# --------------------------------------------------------------------------- (a) published


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    datasets = pytest.importorskip(
        "synthdid.datasets", reason="california_prop99 ships with synthdid-py (test extra)"
    )
    d = datasets.load_california_prop99()
    first = d[d["treated"] == 1].groupby("State")["Year"].min()
    d["cohort"] = d["State"].map(first).fillna(0).astype(int)
    return d


def test_prop99_published_estimate(prop99):
    """synthdid's README: California's Proposition 99 cut sales by 15.6 packs per capita."""
    r = synthetic_did(prop99, outcome="PacksPerCapita", unit="State", time="Year",
                      cohort="cohort", replications=2)
    assert r.headline.estimate == pytest.approx(-15.604, abs=1e-3)
    assert (r.n_units, r.n_treated, r.n_obs) == (39, 1, 1209)


def test_prop99_placebo_se_near_published(prop99):
    """The README's placebo interval is about -15.6 +- 1.96 * 10; Monte Carlo spread with
    100 draws is a few tenths."""
    r = synthetic_did(prop99, outcome="PacksPerCapita", unit="State", time="Year",
                      cohort="cohort", replications=100, seed=1)
    assert 8.0 < r.headline.std_error < 13.0


# --------------------------------------------------------------------------- (b) diff_diff


def _diff_diff_block(df: pd.DataFrame, cohort: int) -> float:
    """diff_diff's SDID point estimate of the block of ``cohort`` vs the never-treated."""
    dd = pytest.importorskip("diff_diff", reason="diff_diff is the bench-extra peer")
    sub = df[df["cohort"].isin([0, cohort])].copy()
    sub["ever"] = (sub["cohort"] > 0).astype(int)
    post = sorted(y for y in sub["year"].unique() if y >= cohort)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = dd.SyntheticDiD(variance_method="placebo", n_bootstrap=2, seed=0).fit(
            sub, outcome="y", treatment="ever", unit="firm", time="year", post_periods=post)
    return float(res.att)


@pytest.mark.parametrize("treated", [{0: 2016}, {0: 2015, 5: 2015}, {3: 2012}])
@pytest.mark.parametrize("seed", [1, 2])
def test_block_matches_diff_diff(treated, seed):
    """Same solver, regularisation and sparsification: agreement to rounding (diff_diff
    3.13.0 normalises the outcome before solving, which is exact in theory)."""
    df = factor_panel(treated=treated, seed=seed)
    ours = synthetic_did(df, **KW, replications=2).headline.estimate
    g = next(iter(treated.values()))
    assert ours == pytest.approx(_diff_diff_block(df, g), abs=1e-6)


def test_staggered_matches_diff_diff_by_cohort():
    """Each cohort is diff_diff's block fit on (cohort, never-treated); the headline weights
    cohorts by treated firms x post-periods (Stata sdid / synthdid convention)."""
    treated = {0: 2013, 1: 2013, 2: 2016, 3: 2018}
    df = factor_panel(n_firms=26, treated=treated, seed=3)
    r = synthetic_did(df, **KW, replications=2)
    tidy = r.tidy().set_index("term")
    assert list(tidy.index) == ["att", "cohort::2013", "cohort::2016", "cohort::2018"]
    peer = {g: _diff_diff_block(df, g) for g in (2013, 2016, 2018)}
    for g, v in peer.items():
        assert tidy.loc[f"cohort::{g}", "estimate"] == pytest.approx(v, abs=1e-6)
    # treated firms x post-periods: 2013-2019, 2016-2019, 2018-2019
    w = {2013: 2 * 7, 2016: 1 * 4, 2018: 1 * 2}
    att = sum(w[g] * peer[g] for g in w) / sum(w.values())
    assert r.headline.estimate == pytest.approx(att, abs=1e-6)


# --------------------------------------------------------------------------- (c) recovery


@pytest.mark.parametrize("treated", [{0: 2015}, {0: 2015, 1: 2015}])
def test_recovers_planted_effect_with_placebo_se(treated):
    df = factor_panel(n_firms=30, treated=treated, effect=5.0, noise=0.2, seed=11)
    r = synthetic_did(df, **KW, replications=40, seed=7)
    assert isinstance(r, DiDResult) and r.method == "synthetic_did"
    h = r.headline
    assert h.estimate == pytest.approx(5.0, abs=0.5)
    assert np.isfinite(h.std_error) and h.std_error > 0
    assert h.conf_low < h.estimate < h.conf_high
    assert r.vcov.shape == (1, 1) and r.vcov[0, 0] == pytest.approx(h.std_error**2)
    assert (r.n_treated, r.n_units, r.n_clusters) == (len(treated), 30, 30)
    assert r.spec["estimator"] == "synthetic_did" and r.spec["replications"] == 40
    assert "placebo" in r.vcov_type


def test_no_effect_is_not_significant_and_effect_is():
    null = synthetic_did(factor_panel(n_firms=30, effect=0.0, seed=4), **KW, replications=40)
    big = synthetic_did(factor_panel(n_firms=30, effect=8.0, seed=4), **KW, replications=40)
    assert null.headline.p_value > 0.05
    assert big.headline.p_value < 0.05


def test_weights_on_the_simplex_and_plain_did_limit():
    """With a huge ridge penalty the unit weights are uniform (plain DiD weights)."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=(6, 9))
    w = frank_wolfe_weights(y, zeta=1e6, min_decrease=1e-8)
    assert w == pytest.approx(np.full(8, 1 / 8), abs=1e-6)
    w = frank_wolfe_weights(y, zeta=1e-6, min_decrease=1e-8)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- (d) determinism


def test_deterministic_given_seed():
    df = factor_panel(treated={0: 2015, 1: 2017}, seed=5)
    a = synthetic_did(df, **KW, replications=10, seed=3)
    b = synthetic_did(df, **KW, replications=10, seed=3)
    c = synthetic_did(df, **KW, replications=10, seed=4)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    np.testing.assert_array_equal(a.vcov, b.vcov)
    assert a.headline.estimate == c.headline.estimate
    assert a.headline.std_error != c.headline.std_error
    drawn = synthetic_did(df, **KW, replications=10, seed=None)
    again = synthetic_did(df, **KW, replications=10, seed=drawn.spec["seed"])
    assert drawn.headline.std_error == again.headline.std_error


def test_does_not_modify_input():
    df = factor_panel(seed=6)
    before = df.copy()
    synthetic_did(df, **KW, replications=2)
    pd.testing.assert_frame_equal(df, before)


# --------------------------------------------------------------------------- (e) bad input


@pytest.mark.parametrize(
    ("treated", "match"),
    [
        ({0: 2008}, "2 periods before treatment"),  # no pre-period
        ({0: 2009}, "2 periods before treatment"),  # one pre-period: no noise level
        ({}, "needs treated firms"),
        ({0: 2030}, "needs treated firms"),  # treated after the window: all controls
    ],
)
def test_bad_design_is_a_clear_value_error(treated, match):
    df = factor_panel(n_firms=6, treated=treated)
    with pytest.raises(ValueError, match=match) as e:
        synthetic_did(df, **KW)
    assert isinstance(e.value, SyntheticDiDError)


def test_no_controls_is_a_value_error():
    df = factor_panel(n_firms=4, treated={i: 2015 for i in range(4)})
    with pytest.raises(ValueError, match="needs control firms"):
        synthetic_did(df, **KW)


def test_bad_arguments():
    df = factor_panel(n_firms=6)
    with pytest.raises(ValueError, match="replications"):
        synthetic_did(df, **KW, replications=1)
    with pytest.raises(ValueError, match="alpha"):
        synthetic_did(df, **KW, alpha=1.5)
    with pytest.raises(ValueError, match="cohort"):
        synthetic_did(df.assign(cohort=-1), **KW)
    with pytest.raises(ValueError):
        synthetic_did(df.drop(columns="y"), **KW)


def test_unusable_cohort_and_incomplete_firm_are_dropped_with_warnings():
    df = factor_panel(n_firms=20, treated={0: 2009, 1: 2015, 2: 2015}, seed=8)
    df = df[~((df["firm"] == "F05") & (df["year"] == 2010))]
    r = synthetic_did(df, **KW, replications=5)
    assert r.n_treated == 2 and r.n_units == 18
    text = " ".join(r.warnings)
    assert "balanced panel" in text and "cohort 2009" in text


def test_too_few_controls_gives_nan_se_with_warning():
    df = factor_panel(n_firms=3, treated={0: 2015, 1: 2015})
    r = synthetic_did(df, **KW)
    assert np.isfinite(r.headline.estimate) and np.isnan(r.headline.std_error)
    assert any("more control firms" in w for w in r.warnings)


def test_docstring_examples():
    mod = importlib.import_module("policylab.did.estimators.synthetic_did")
    assert doctest.testmod(mod).failed == 0
