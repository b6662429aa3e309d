"""Lab-informed expectations: each region's empirical-Bayes (BLUP) estimate.

Checked against published reference numbers (metafor's ``blup()`` on the BCG vaccine trials;
Raudenbush & Bryk's 1985 empirical-Bayes estimates), against statsmodels' ``combine_effects``
for the lab mean and tau², against the textbook formulas written out by hand, by the
model's invariants, and by a small seeded simulation (the full one is studies/shrinkage.py).
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib.util
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

import policylab.shrinkage
from policylab.did.results import DiDResult, Estimate
from policylab.evaluation import RegionEffect
from policylab.shrinkage import SHRINKAGE_COLUMNS, reml_tau2, shrink, shrink_pooled
from policylab.synthesis import pool, synthesize

STUDIES = Path(__file__).resolve().parents[1] / "studies"
Z = stats.norm.isf(0.025)

# --- the BCG vaccine trials ---------------------------------------------------------------
# Colditz et al. (1994), "Efficacy of BCG vaccine in the prevention of tuberculosis",
# JAMA 271(9), 698-702: the 13 trials' 2x2 tables (tuberculosis cases / non-cases among the
# vaccinated and the controls), as shipped by R's metadat/metafor as ``dat.bcg``. No Python
# package ships them, so the log risk ratios are computed here from the published counts.
BCG = [  # (trial, tpos, tneg, cpos, cneg)
    ("Aronson 1948", 4, 119, 11, 128),
    ("Ferguson & Simes 1949", 6, 300, 29, 274),
    ("Rosenthal et al 1960", 3, 228, 11, 209),
    ("Hart & Sutherland 1977", 62, 13536, 248, 12619),
    ("Frimodt-Moller et al 1973", 33, 5036, 47, 5761),
    ("Stein & Aronson 1953", 180, 1361, 372, 1079),
    ("Vandiviere et al 1973", 8, 2537, 10, 619),
    ("TPT Madras 1980", 505, 87886, 499, 87892),
    ("Coetzee & Berjak 1968", 29, 7470, 45, 7232),
    ("Rosenthal et al 1961", 17, 1699, 65, 1600),
    ("Comstock et al 1974", 186, 50448, 141, 27197),
    ("Comstock & Webster 1969", 5, 2493, 3, 2338),
    ("Comstock et al 1976", 27, 16886, 29, 17825),
]


def bcg_log_risk_ratios() -> tuple[list[str], np.ndarray, np.ndarray]:
    """metafor's escalc(measure="RR"): log risk ratio and its large-sample variance."""
    names = [t[0] for t in BCG]
    a, b, c, d = (np.array([t[i] for t in BCG], dtype=float) for i in range(1, 5))
    yi = np.log(a / (a + b)) - np.log(c / (c + d))
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return names, yi, np.sqrt(vi)


# metafor's printed escalc output (README, 4 decimals): checks the data and the formula.
BCG_YI = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120, -0.4694,
          -1.3713, -0.3394, 0.4459, -0.0173]
BCG_VI = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564, 0.0730,
          0.0124, 0.5325, 0.0714]

# metafor 5.1 documentation, ?blup, example: res <- rma(yi, vi, data=dat); blup(res, transf=exp)
# (printed to 4 decimals): the BLUPs of the risk ratios and their 95% interval bounds.
BCG_BLUP_EXP = [
    (0.4492, 0.2012, 1.0032), (0.2860, 0.1431, 0.5716), (0.3727, 0.1590, 0.8740),
    (0.2471, 0.1887, 0.3236), (0.7502, 0.4958, 1.1352), (0.4563, 0.3883, 0.5362),
    (0.2882, 0.1400, 0.5936), (1.0029, 0.8871, 1.1338), (0.6024, 0.3911, 0.9279),
    (0.2873, 0.1775, 0.4651), (0.7021, 0.5665, 0.8702), (0.7522, 0.3064, 1.8469),
    (0.8635, 0.5359, 1.3915),
]
# metafor's printed rma() fit of the same data (?rma.uni): tau² 0.3132, estimate -0.7145,
# se 0.1798; its stored REML tau² (tests/testthat/test_misc_influence.r) 0.313243325980895,
# found by Fisher scoring stopped at a change below 1e-5.
BCG_REML_TAU2 = 0.313243325980895
# metafor's DerSimonian–Laird fit, checked there against Stata's metan: tau² 0.3088, -0.7141.


def _approx4(x: float) -> pytest.approx:
    """Equal to a number printed to 4 decimals."""
    return pytest.approx(x, abs=0.5e-4 + 1e-12)


def test_bcg_log_risk_ratios_are_metafors():
    _, y, se = bcg_log_risk_ratios()
    assert [round(v, 4) for v in y] == BCG_YI
    assert [round(v, 4) for v in se**2] == BCG_VI


def test_equals_metafor_blup_on_the_bcg_trials():
    names, y, se = bcg_log_risk_ratios()
    out = shrink(y, se, method="REML", interval="tau2_known", labels=names)
    assert out.tau2 == pytest.approx(BCG_REML_TAU2, abs=1e-6)
    assert out.tau2 == _approx4(0.3132)
    assert out.mu == _approx4(-0.7145) and out.mu_std_error == _approx4(0.1798)
    for i, (pred, lo, hi) in enumerate(BCG_BLUP_EXP):
        assert math.exp(out.blups[i]) == _approx4(pred), names[i]
        assert math.exp(out.conf_low[i]) == _approx4(lo), names[i]
        assert math.exp(out.conf_high[i]) == _approx4(hi), names[i]


def test_largest_difference_from_metafor_is_below_its_printing_precision():
    _, y, se = bcg_log_risk_ratios()
    out = shrink(y, se, interval="tau2_known")
    got = np.exp(np.column_stack([out.blups, out.conf_low, out.conf_high]))
    assert np.abs(got - np.array(BCG_BLUP_EXP)).max() <= 0.5e-4


def test_dersimonian_laird_on_the_bcg_trials_is_metafors_and_statas():
    _, y, se = bcg_log_risk_ratios()
    out = shrink(y, se, method="DL")
    assert out.tau2 == _approx4(0.3088) and out.mu == _approx4(-0.7141)


@pytest.mark.parametrize(("method", "sm_name", "kwds"), [
    ("dersimonian_laird", "dl", {}),
    ("paule_mandel", "pm", {"atol": 1e-12, "maxiter": 500}),
])
def test_lab_mean_and_tau2_equal_statsmodels_combine_effects(method, sm_name, kwds):
    _, y, se = bcg_log_risk_ratios()
    res = combine_effects(y, se**2, method_re=sm_name, **kwds)
    out = shrink(y, se, method=method)
    assert out.tau2 == pytest.approx(res.tau2, rel=1e-8)
    assert out.mu == pytest.approx(res.mean_effect_re, rel=1e-8)
    assert out.mu_std_error == pytest.approx(res.sd_eff_w_re, rel=1e-8)
    # and the BLUPs are the textbook formula on statsmodels' tau² and mean
    b = res.tau2 / (res.tau2 + se**2)
    assert np.allclose(out.blups, res.mean_effect_re + b * (y - res.mean_effect_re), rtol=1e-8)
    assert np.allclose(out.own_weights, b, rtol=1e-8)


def test_paule_mandel_and_dersimonian_laird_tau2_are_the_poolings_own():
    _, y, se = bcg_log_risk_ratios()
    for method in ("paule_mandel", "dersimonian_laird"):
        want = pool(y, se, method=method)
        out = shrink(y, se, method=method)
        assert out.tau2 == want["tau2"] and out.mu == want["estimate"]
        assert out.mu_std_error == want["std_error"]


# --- Raudenbush & Bryk (1985), teacher expectancy ------------------------------------------
# Table 1 of Raudenbush & Bryk (1985), "Empirical Bayes meta-analysis", J. Educ. Stat. 10(2),
# 75-98 (R's dat.raudenbush1985): standardized mean differences and their variances.
RB_YI = [0.03, 0.12, -0.14, 1.18, 0.26, -0.06, -0.02, -0.32, 0.27, 0.80, 0.54, 0.18, -0.02,
         0.23, -0.18, -0.06, 0.30, 0.07, -0.07]
RB_VI = [0.0156, 0.0216, 0.0279, 0.1391, 0.1362, 0.0106, 0.0106, 0.0484, 0.0269, 0.0630,
         0.0912, 0.0497, 0.0835, 0.0841, 0.0253, 0.0279, 0.0193, 0.0088, 0.0303]
# Their Figure 2's empirical-Bayes estimates and 95% bounds, as transcribed in metafor's
# tests/testthat/test_analysis_example_raudenbush1985.r (which holds blup() to them).
RB_PRED = [0.0543, 0.1006, -0.0064, 0.2144, 0.1051, -0.0082, 0.0174, -0.0293, 0.1604, 0.2485,
           0.1618, 0.1102, 0.0646, 0.1105, -0.0288, 0.0258, 0.1905, 0.0744, 0.0248]
RB_LOW = [-0.1324, -0.1033, -0.2228, -0.0533, -0.1622, -0.1737, -0.1481, -0.2689, -0.0543, 0,
          -0.097, -0.1303, -0.192, -0.1463, -0.2405, -0.1906, -0.0076, -0.0808, -0.1954]
RB_HIGH = [0.2411, 0.3045, 0.21, 0.4821, 0.3724, 0.1572, 0.1828, 0.2102, 0.3751, 0.497,
           0.4206, 0.3507, 0.3212, 0.3672, 0.1829, 0.2422, 0.3886, 0.2295, 0.245]


def test_equals_raudenbush_and_bryk_empirical_bayes_estimates():
    out = shrink(RB_YI, np.sqrt(RB_VI), method="REML", interval="tau2_known")
    # their REML fit (pages 83-86): tau² 0.0188, mean 0.0837, z 1.6208 (metafor's digits)
    assert out.tau2 == _approx4(0.0188) and out.mu == _approx4(0.0837)
    assert out.mu / out.mu_std_error == _approx4(1.6208)
    # the published figure's numbers carry the paper's rounding: within 1.5e-4
    assert np.abs(np.array(out.blups) - RB_PRED).max() < 1.5e-4
    assert np.abs(np.array(out.conf_low) - RB_LOW).max() < 1.5e-4
    assert np.abs(np.array(out.conf_high) - RB_HIGH).max() < 1.5e-4


# --- the formulas written out by hand -----------------------------------------------------

def hand_blup(y, se, tau2, alpha=0.05):
    """metafor's blup.rma.uni for an intercept-only model, from its formula."""
    y, v = np.asarray(y, float), np.asarray(se, float) ** 2
    w = 1 / (v + tau2)
    mu = (w * y).sum() / w.sum()
    li = tau2 / (tau2 + v)
    pred = li * y + (1 - li) * mu
    var = li * v + (1 - li) ** 2 / w.sum()
    z = stats.norm.isf(alpha / 2)
    return pred, np.sqrt(var), pred - z * np.sqrt(var), pred + z * np.sqrt(var)


def test_tau2_known_interval_is_metafors_formula():
    _, y, se = bcg_log_risk_ratios()
    out = shrink(y, se, tau2=0.2, interval="tau2_known", alpha=0.1)
    pred, s, lo, hi = hand_blup(y, se, 0.2, alpha=0.1)
    for got, want in ((out.blups, pred), (out.blup_std_errors, s), (out.conf_low, lo),
                      (out.conf_high, hi)):
        assert np.allclose(got, want, rtol=1e-12, atol=1e-15)
    assert out.method == "given"


def hand_mse_corrected(y, se, tau2, method):
    """The second-order MSE of the empirical BLUP as R's sae::mseFH writes it (REML, and
    "FH", which is Paule–Mandel), kept between g1 + g2 and the region's own variance."""
    v = np.asarray(se, float) ** 2
    vi = 1 / (tau2 + v)
    bd = v / (tau2 + v)
    g1 = v * (1 - bd)
    g2 = bd**2 / vi.sum()
    k = len(v)
    if method == "reml":
        var_a, b = 2 / (vi**2).sum(), 0.0
    else:
        var_a = 2 * k / vi.sum() ** 2
        b = 2 * (k * (vi**2).sum() - vi.sum() ** 2) / vi.sum() ** 3
    g3 = bd**2 * var_a / (tau2 + v)
    mse = g1 + g2 + 2 * g3 - b * bd**2
    return np.sqrt(np.clip(mse, g1 + g2, v))


@pytest.mark.parametrize("method", ["reml", "paule_mandel"])
def test_tau2_estimated_interval_is_the_small_area_second_order_mse(method):
    y = [-0.20, 0.50, 0.05, 0.60, 0.30, 0.10]
    se = [0.15, 0.30, 0.20, 0.40, 0.25, 0.10]
    out = shrink(y, se, method=method)  # the default interval
    assert out.interval == "tau2_estimated" and out.tau2 > 0
    assert np.allclose(out.blup_std_errors, hand_mse_corrected(y, se, out.tau2, method),
                       rtol=1e-12)
    known = shrink(y, se, tau2=out.tau2, interval="tau2_known")
    assert all(a >= b for a, b in zip(out.blup_std_errors, known.blup_std_errors))
    assert out.blups == known.blups


def test_dersimonian_laird_correction_uses_the_variance_of_q_under_the_model():
    """Var(Q) = 2[(k-1) + 2 tau² c + tau⁴ (S2 - 2 S3/S1 + S2²/S1²)] checked by simulation."""
    rng = np.random.default_rng(7)
    se = np.array([0.1, 0.2, 0.15, 0.3, 0.25])
    tau2 = 0.04
    y = 0.3 + rng.standard_normal((200_000, 5)) * np.sqrt(se**2 + tau2)
    u = 1 / se**2
    q = (u * (y - (y @ u / u.sum())[:, None]) ** 2).sum(axis=1)
    var_t, bias = policylab.shrinkage._tau2_variance_and_bias(
        "dersimonian_laird", se**2, tau2)
    c = u.sum() - (u**2).sum() / u.sum()
    assert bias == 0.0
    assert var_t * c**2 == pytest.approx(q.var(), rel=0.02)


# --- invariants ----------------------------------------------------------------------------

def _labs(n=60, seed=3):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        k = int(rng.integers(2, 12))
        se = 0.75 / np.sqrt(rng.integers(3, 31, size=k))
        y = 0.3 + rng.normal(0, rng.choice([0.0, 0.1, 0.4]), k) + se * rng.standard_normal(k)
        yield y, se


@pytest.mark.parametrize("method", ["REML", "PM", "DL"])
@pytest.mark.parametrize("interval", ["tau2_known", "tau2_estimated"])
def test_invariants_of_the_lab_informed_estimate(method, interval):
    for y, se in _labs():
        out = shrink(y, se, method=method, interval=interval)
        b = np.asarray(out.own_weights)
        blup = np.asarray(out.blups)
        assert ((0 <= b) & (b <= 1)).all()
        lo, hi = np.minimum(y, out.mu), np.maximum(y, out.mu)
        assert ((lo - 1e-12 <= blup) & (blup <= hi + 1e-12)).all()  # between own and lab mean
        assert (np.asarray(out.blup_std_errors) <= se * (1 + 1e-12)).all()  # never less sure
        assert np.allclose(np.asarray(out.conf_high) - blup, Z * np.asarray(out.blup_std_errors))


def test_tau2_zero_gives_the_lab_mean_to_every_region():
    y, se = [0.1, 0.25, 0.4], [0.1, 0.2, 0.3]
    out = shrink(y, se, tau2=0.0)
    assert out.own_weights == (0.0, 0.0, 0.0)
    assert out.blups == (out.mu,) * 3
    # tau2_known: the lab mean's own standard error
    assert shrink(y, se, tau2=0.0, interval="tau2_known").blup_std_errors == (
        out.mu_std_error,) * 3
    # an estimated tau² of 0 says so
    flat = shrink([0.10, 0.11, 0.09], [0.1, 0.1, 0.1])
    assert flat.tau2 == 0 and any("tau² is 0" in w for w in flat.warnings)


def test_huge_tau2_gives_the_regions_own_estimates():
    y, se = np.array([0.1, 0.25, 0.4]), np.array([0.1, 0.2, 0.3])
    for interval in ("tau2_known", "tau2_estimated"):
        out = shrink(y, se, tau2=1e12, interval=interval)
        assert np.allclose(out.blups, y, rtol=0, atol=1e-12)
        assert np.allclose(out.blup_std_errors, se, rtol=1e-9)
        assert np.allclose(out.own_weights, 1.0, atol=1e-12)


def test_shrinkage_grows_as_tau2_falls():
    y, se = [0.1, 0.25, 0.6], [0.1, 0.2, 0.3]
    pulls = [abs(shrink(y, se, tau2=t).blups[2] - 0.6) for t in (1.0, 0.1, 0.01, 0.0)]
    assert pulls == sorted(pulls)


def test_the_own_weight_reads_as_a_share_of_the_estimate():
    # tau² 0.04, SE 0.2 -> v 0.04: half of the region's estimate is its own data
    out = shrink([0.5, 0.1, 0.3], [0.2, 0.1, 0.1], tau2=0.04, labels=["Kent", "Fife", "Cork"])
    row = out.tidy().set_index("region").loc["Kent"]
    assert row["own_weight"] == pytest.approx(0.5, rel=1e-12)
    assert row["blup"] == pytest.approx(out.mu + 0.5 * (0.5 - out.mu))


@pytest.mark.parametrize("method", ["REML", "PM", "DL"])
def test_results_follow_the_estimates_unit_and_origin(method):
    """Estimates in EUR or in shares, shifted or not: the same lab-informed estimates."""
    y, se = np.array([1.0, 2.0, 4.0, 3.0]), np.array([0.3, 0.4, 0.5, 0.2])
    base = shrink(y, se, method=method)
    for scale, shift in ((1e-3, 0.0), (1e4, 0.0), (1.0, 250.0)):
        out = shrink(y * scale + shift, se * scale, method=method)
        assert out.tau2 == pytest.approx(base.tau2 * scale**2, rel=1e-7)
        assert np.allclose((np.asarray(out.blups) - shift) / scale, base.blups, rtol=1e-7)
        assert np.allclose(np.asarray(out.blup_std_errors) / scale, base.blup_std_errors,
                           rtol=1e-7)
        assert np.allclose(out.own_weights, base.own_weights, rtol=1e-7)


def test_reml_solves_its_score_equation():
    _, y, se = bcg_log_risk_ratios()
    t = reml_tau2(y, se)
    w = 1 / (se**2 + t)
    m = (w @ y) / w.sum()
    score = (w**2 * (y - m) ** 2).sum() - w.sum() + (w**2).sum() / w.sum()
    assert abs(score) < 1e-9


def test_one_region_is_not_pooled_and_keeps_its_own_estimate():
    out = shrink([0.2], [0.05], labels=["Kent"])
    assert out.blups == (0.2,) and out.blup_std_errors == (0.05,)
    assert out.own_weights == (1.0,) and not out.pooled
    assert math.isnan(out.mu) and math.isnan(out.tau2)
    assert out.conf_low[0] == pytest.approx(0.2 - Z * 0.05)
    assert any("only one region" in w and "100 %" in w for w in out.warnings)


def test_two_regions_warn_that_tau2_rests_on_little():
    out = shrink([0.1, 0.4], [0.1, 0.1])
    assert any("only 2 regions" in w for w in out.warnings)


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (([], []), {}, "empty"),
    (([0.1, float("nan")], [0.1, 0.1]), {}, "estimates must be finite"),
    (([0.1, float("inf")], [0.1, 0.1]), {}, "estimates must be finite"),
    (([0.1, 0.2], [0.1, 0.0]), {}, "finite and positive"),
    (([0.1, 0.2], [0.1, -0.1]), {}, "finite and positive"),
    (([0.1, 0.2], [0.1, float("nan")]), {}, "finite and positive"),
    (([0.1, 0.2], [0.1]), {}, "same length"),
    (([0.1, 0.2], [0.1, 0.1]), {"tau2": -0.1}, "non-negative"),
    (([0.1, 0.2], [0.1, 0.1]), {"tau2": float("inf")}, "non-negative"),
    (([0.1, 0.2], [0.1, 0.1]), {"method": "hedges"}, "method must be one of"),
    (([0.1, 0.2], [0.1, 0.1]), {"interval": "exact"}, "interval must be one of"),
    (([0.1, 0.2], [0.1, 0.1]), {"alpha": 1.5}, "alpha"),
    (([0.1, 0.2], [0.1, 0.1]), {"labels": ["a"]}, "labels"),
    (([0.1, 0.2], [0.1, 0.1]), {"labels": ["a", "a"]}, "distinct"),
    ((["x", 0.2], [0.1, 0.1]), {}, "numbers"),
])
def test_unusable_inputs_are_refused_with_a_clear_message(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        shrink(*args, **kwargs)


def test_the_result_is_frozen_tidy_and_json_ready():
    names, y, se = bcg_log_risk_ratios()
    out = shrink(y, se, labels=names)
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.mu = 0.0  # type: ignore[misc]
    t = out.tidy()
    assert list(t.columns) == SHRINKAGE_COLUMNS and len(t) == 13
    assert list(t["region"]) == names
    d = json.loads(json.dumps(out.to_dict()))
    assert d["tau2"] == out.tau2 and d["regions"][3]["blup"] == out.blups[3]
    assert "n_regions=13" in repr(out)


# --- from the pooled effect ----------------------------------------------------------------

def _effect(region, estimate, se, *, used=False):
    h = Estimate("avg_post", estimate, se, estimate - Z * se, estimate + Z * se, 0.5)
    res = DiDResult(method="event_study", outcome="exporter", estimates=(h,), headline=h,
                    vcov=np.array([[se**2]]), vcov_type="CRV1", alpha=0.05, n_obs=100,
                    n_units=50, n_treated=10, n_clusters=20)
    return RegionEffect(region, "exporter", res, {"used": True} if used else None)


KEYS = ["kent", "fife", "cork", "bern", "lyon", "gent"]
Y = [0.035, 0.050, 0.109, 0.069, 0.072, -0.008]
SE = [0.030, 0.029, 0.025, 0.032, 0.044, 0.028]


def test_shrink_pooled_uses_the_pooled_tau2_and_mean():
    effects = [_effect(k, y, s) for k, y, s in zip(KEYS, Y, SE)]
    effects.append(_effect("oslo", float("nan"), 0.03))  # excluded: no estimate
    p = synthesize(effects, regions=[*KEYS, "oslo", "rome"]).get("exporter")
    ests = {e.region: e.result.headline.estimate for e in effects}
    ses = {e.region: e.result.headline.std_error for e in effects}
    out = shrink_pooled(p, ests, ses)
    assert out.regions == tuple(KEYS)  # only the pooled regions
    assert out.tau2 == p.tau2 and out.mu == p.estimate and out.mu_std_error == p.std_error
    assert out.method == "paule_mandel" and out.alpha == p.alpha
    direct = shrink(Y, SE, method="paule_mandel", labels=KEYS)
    assert np.allclose(out.blups, direct.blups, rtol=1e-12)
    assert np.allclose(out.blup_std_errors, direct.blup_std_errors, rtol=1e-12)
    # sequences in the pooled regions' order work too
    assert shrink_pooled(p, Y, SE, interval="tau2_known").blups == out.blups


def test_shrink_pooled_refuses_numbers_that_were_not_pooled():
    effects = [_effect(k, y, s) for k, y, s in zip(KEYS, Y, SE)]
    effects[0] = _effect("kent", Y[0], SE[0], used=True)
    h = effects[0].result.headline
    wide = dataclasses.replace(h, conf_low=h.estimate - 2 * Z * h.std_error,
                               conf_high=h.estimate + 2 * Z * h.std_error)
    effects[0] = RegionEffect("kent", "exporter",
                              dataclasses.replace(effects[0].result, headline=wide),
                              {"used": True})
    p = synthesize(effects).get("exporter")
    # the analytic SE of the few-cluster region is not what was pooled
    with pytest.raises(ValueError, match="not the ones pooled"):
        shrink_pooled(p, Y, SE)
    ses = list(SE)
    ses[0] = 2 * SE[0]  # the SE its interval implies (few_cluster_std_error)
    assert shrink_pooled(p, Y, ses).mu == p.estimate
    with pytest.raises(ValueError, match="no estimates for pooled region"):
        shrink_pooled(p, dict(zip(KEYS[1:], Y[1:])), ses)
    # synthesize records what each region entered with: shrink_pooled reads it
    assert shrink_pooled(p).blups == shrink_pooled(p, Y, ses).blups
    with pytest.raises(ValueError, match="pass the regions' estimates"):
        shrink_pooled(dataclasses.replace(p, estimates=(), std_errors=()))


def test_shrink_pooled_with_one_region_returns_its_own_estimate():
    p = synthesize([_effect("kent", 0.1, 0.02), _effect("fife", float("nan"), 0.02)]).pooled[0]
    out = shrink_pooled(p, {"kent": 0.1}, {"kent": 0.02})
    assert out.blups == (0.1,) and out.own_weights == (1.0,) and not out.pooled
    empty = synthesize([_effect("fife", float("nan"), 0.02)]).pooled[0]
    with pytest.raises(ValueError, match="no region was pooled"):
        shrink_pooled(empty, {}, {})


def test_docstring_examples_run():
    failures, _ = doctest.testmod(policylab.shrinkage, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# --- the simulation ------------------------------------------------------------------------

def _study():
    spec = importlib.util.spec_from_file_location("shrinkage_study", STUDIES / "shrinkage.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["shrinkage_study"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_blups_are_closer_to_the_true_effects_than_the_regions_own_estimates():
    """300 seeded labs of 5 regions (tau 0.1, 3-30 consortia each): the BLUPs' mean squared
    error is below the own estimates', and the default intervals cover."""
    study = _study()
    start = time.perf_counter()
    raw = study.run_design(5, 0.1, 300, seed=20270120, methods=("paule_mandel",))
    s = study.summarise(raw).iloc[0]
    assert time.perf_counter() - start < 5
    assert s["mse_blup"] < s["mse_own"]
    assert s["ratio"] + 3 * s["ratio_mcse"] < 1
    assert s["cover_tau2_estimated"] > 0.93


def test_the_committed_study_supports_the_default_interval():
    text = (STUDIES / "SHRINKAGE.md").read_text(encoding="utf-8")
    rows = [r for r in text.splitlines() if re.match(r"\| \d+ \| [\d.]+ \|", r)]
    assert len(rows) == 3 * 3 * 5  # three estimators, k in {3, 5, 10}, five tau
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        ratio = float(cells[6].split()[0])
        cover_estimated = float(cells[9].split()[0])
        assert ratio < 1, r
        assert cover_estimated >= 0.93, r
