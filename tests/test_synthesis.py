"""The lab-wide pooled effect: random-effects meta-analysis of the regions' headline estimates.

Checked three ways: against a hand computation of the textbook formulas (inverse-variance
weights, Cochran's Q, DerSimonian–Laird tau², I² = max(0, (Q - df)/Q)), against statsmodels'
``combine_effects`` directly, and by invariants (Paule–Mandel's estimating equation, shifts,
reordering).
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

import policylab.synthesis
from policylab.did.results import DiDResult, Estimate
from policylab.evaluation import RegionEffect
from policylab.synthesis import TIDY_COLUMNS, PooledEffect, Synthesis, pool, synthesize

# Heterogeneous: Q well above df, so tau² > 0 under both estimators.
Y_HET = [0.035, 0.050, 0.109, 0.069, 0.072, -0.008]
SE_HET = [0.030, 0.029, 0.025, 0.032, 0.044, 0.028]
# Homogeneous: Q below df, so DerSimonian–Laird's raw tau² is negative and must be floored.
Y_HOM = [0.10, 0.11, 0.09, 0.10]
SE_HOM = [0.05, 0.06, 0.04, 0.05]


def hand_dl(y, se, alpha=0.05):
    """DerSimonian–Laird written out from the formulas, no library."""
    y, v = np.asarray(y, float), np.asarray(se, float) ** 2
    w = 1 / v
    fe = (w * y).sum() / w.sum()
    q = (w * (y - fe) ** 2).sum()
    df = len(y) - 1
    c = w.sum() - (w**2).sum() / w.sum()
    tau2 = max(0.0, (q - df) / c)
    ws = 1 / (v + tau2)
    est = (ws * y).sum() / ws.sum()
    se_re = math.sqrt(1 / ws.sum())
    z = stats.norm.isf(alpha / 2)
    return {"estimate": est, "std_error": se_re, "conf_low": est - z * se_re,
            "conf_high": est + z * se_re, "tau2": tau2, "q": q, "q_df": df,
            "i2": max(0.0, (q - df) / q), "q_p_value": stats.chi2.sf(q, df),
            "fixed_estimate": fe, "fixed_std_error": math.sqrt(1 / w.sum()),
            "p_value": 2 * stats.norm.sf(abs(est / se_re))}


@pytest.mark.parametrize(("y", "se"), [(Y_HET, SE_HET), (Y_HOM, SE_HOM)],
                         ids=["heterogeneous", "homogeneous"])
def test_dersimonian_laird_equals_the_hand_computation(y, se):
    got = pool(y, se, method="dersimonian_laird")
    want = hand_dl(y, se)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    assert sum(got["weights"]) == pytest.approx(1.0)


def test_homogeneous_case_floors_tau2_and_i2_at_zero():
    for method in ("dersimonian_laird", "paule_mandel"):
        got = pool(Y_HOM, SE_HOM, method=method)
        assert got["tau2"] == 0.0 and got["i2"] == 0.0
        assert got["estimate"] == pytest.approx(got["fixed_estimate"], rel=1e-14)
        assert got["std_error"] == pytest.approx(got["fixed_std_error"], rel=1e-14)
    # statsmodels leaves both negative here: the reason policylab floors them itself
    with np.errstate(invalid="ignore"):
        raw = combine_effects(np.array(Y_HOM), np.array(SE_HOM) ** 2, method_re="dl")
    assert raw.tau2 < 0 and raw.i2 < 0


@pytest.mark.parametrize(("method", "sm_name"), [("dersimonian_laird", "dl"),
                                                  ("paule_mandel", "pm")])
def test_equals_statsmodels_combine_effects(method, sm_name):
    y, v = np.array(Y_HET), np.array(SE_HET) ** 2
    ref = combine_effects(y, v, method_re=sm_name, atol=1e-12, maxiter=500) \
        if sm_name == "pm" else combine_effects(y, v, method_re=sm_name)
    got = pool(Y_HET, SE_HET, method=method)
    assert got["tau2"] > 0
    assert got["tau2"] == pytest.approx(ref.tau2, rel=1e-12)
    assert got["estimate"] == pytest.approx(ref.mean_effect_re, rel=1e-12)
    assert got["std_error"] == pytest.approx(ref.sd_eff_w_re, rel=1e-12)
    assert got["q"] == pytest.approx(ref.q, rel=1e-12)
    assert got["i2"] == pytest.approx(ref.i2, rel=1e-12)  # equal when Q > df
    assert got["q_p_value"] == pytest.approx(ref.test_homogeneity().pvalue, rel=1e-12)
    lo, hi = ref.conf_int(alpha=0.05)[1]
    assert (got["conf_low"], got["conf_high"]) == pytest.approx((lo, hi), rel=1e-12)
    assert got["fixed_estimate"] == pytest.approx(ref.mean_effect_fe, rel=1e-12)


def test_paule_mandel_solves_its_estimating_equation():
    got = pool(Y_HET, SE_HET, method="paule_mandel")
    v = np.array(SE_HET) ** 2
    w = 1 / (v + got["tau2"])
    m = (w * np.array(Y_HET)).sum() / w.sum()
    assert (w * (np.array(Y_HET) - m) ** 2).sum() == pytest.approx(len(Y_HET) - 1, abs=1e-9)
    assert got["converged"]


@pytest.mark.parametrize("se0", [0.059, 0.06, 0.06000000000000001, 0.061])
def test_paule_mandel_is_positive_whenever_q_exceeds_its_df(se0):
    """statsmodels' iteration returned tau² = 0 here (Q = 10.2 on 5 df), flipping the pooled
    estimate with the last digit of one standard error; the root finder does not."""
    ses = [se0, *SE_HET[1:]]
    out = pool(Y_HET, ses, method="paule_mandel")
    assert out["q"] > out["q_df"] and out["tau2"] > 0 and out["converged"]
    w = 1 / (np.asarray(ses) ** 2 + out["tau2"])
    m = (w * Y_HET).sum() / w.sum()
    assert (w * (np.asarray(Y_HET) - m) ** 2).sum() == pytest.approx(out["q_df"], abs=1e-8)
    assert out["estimate"] == pytest.approx(m, rel=1e-12)


def test_paule_mandel_and_dersimonian_laird_share_q_and_i2():
    pm, dl = pool(Y_HET, SE_HET), pool(Y_HET, SE_HET, method="dersimonian_laird")
    assert pm["q"] == dl["q"] and pm["i2"] == dl["i2"]
    assert pm["tau2"] != dl["tau2"]


def test_invariant_to_order_and_equivariant_to_shifts():
    base = pool(Y_HET, SE_HET)
    order = [3, 0, 5, 1, 4, 2]
    shuffled = pool([Y_HET[i] for i in order], [SE_HET[i] for i in order])
    for key in ("estimate", "std_error", "tau2", "q", "i2"):
        assert shuffled[key] == pytest.approx(base[key], rel=1e-10)
    shifted = pool([v + 1.0 for v in Y_HET], SE_HET)
    assert shifted["estimate"] == pytest.approx(base["estimate"] + 1.0, rel=1e-10)
    for key in ("std_error", "tau2", "q", "i2"):
        assert shifted[key] == pytest.approx(base[key], rel=1e-8)


def test_alpha_sets_the_interval():
    wide = pool(Y_HET, SE_HET, alpha=0.01)
    narrow = pool(Y_HET, SE_HET, alpha=0.10)
    assert wide["conf_high"] - wide["conf_low"] > narrow["conf_high"] - narrow["conf_low"]
    z = stats.norm.isf(0.005)
    assert wide["conf_high"] == pytest.approx(wide["estimate"] + z * wide["std_error"])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "reml"}, r"method must be one of \['paule_mandel', 'dersimonian_laird'\]"),
    ({"alpha": 1.5}, "alpha must be"),
])
def test_bad_options_are_refused_naming_the_allowed_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pool(Y_HET, SE_HET, **kwargs)
    with pytest.raises(ValueError, match=match):
        synthesize([], **kwargs)


def test_pool_refuses_unusable_inputs():
    with pytest.raises(ValueError, match="at least two"):
        pool([0.1], [0.1])
    with pytest.raises(ValueError, match="finite"):
        pool([0.1, float("nan")], [0.1, 0.1])
    with pytest.raises(ValueError, match="positive"):
        pool([0.1, 0.2], [0.1, 0.0])


# --------------------------------------------------------------------------- synthesize()

def _effect(region: str, estimate: float, se: float, *, outcome: str = "exporter",
            method: str = "event_study") -> RegionEffect:
    h = Estimate("avg_post", estimate, se, estimate - 1.96 * se, estimate + 1.96 * se, 0.5)
    res = DiDResult(method=method, outcome=outcome, estimates=(h,), headline=h,
                    vcov=np.array([[se**2]]), vcov_type="CRV1", alpha=0.05, n_obs=100,
                    n_units=50, n_treated=10, n_clusters=20)
    return RegionEffect(region, outcome, res)


KEYS = ["a", "b", "c", "d", "e", "f"]


def test_synthesize_pools_each_outcome_and_lists_who_was_left_out():
    effects = [_effect(k, y, s) for k, y, s in zip(KEYS, Y_HET, SE_HET)]
    effects[1] = _effect("b", float("nan"), 0.03)  # no estimate
    effects[4] = _effect("e", 0.07, float("nan"))  # no standard error
    effects.append(_effect("a", 0.5, 0.1, outcome="log_exports"))
    effects.append(_effect("c", 0.7, 0.2, outcome="log_exports"))
    syn = synthesize(effects, regions=[*KEYS, "g"])
    assert [(p.outcome, p.estimator) for p in syn.pooled] == [
        ("exporter", "event_study"), ("log_exports", "event_study")]
    ex = syn.get("exporter")
    assert ex.regions == ("a", "c", "d", "f")
    assert ex.excluded == (("b", "no estimate"), ("e", "no standard error"), ("g", "not estimated"))
    used = [0, 2, 3, 5]
    want = pool([Y_HET[i] for i in used], [SE_HET[i] for i in used])
    assert ex.estimate == want["estimate"] and ex.tau2 == want["tau2"]
    assert ex.n_regions == 4 and ex.q_df == 3 and ex.pooled
    assert sum(ex.weights) == pytest.approx(1.0)
    logx = syn.get("log_exports")
    assert logx.regions == ("a", "c") and len(logx.excluded) == 5
    assert any("only 2 regions" in w for w in logx.warnings)


def test_regions_with_few_cluster_intervals_enter_with_the_se_their_interval_implies():
    import dataclasses

    effects = [_effect(k, y, s) for k, y, s in zip(KEYS, Y_HET, SE_HET)]
    # region "a": a wild-bootstrap interval twice as wide as the analytic one
    a = effects[0]
    h = a.result.headline
    z = stats.norm.isf(0.025)
    wide = dataclasses.replace(h, conf_low=h.estimate - 2 * z * h.std_error,
                               conf_high=h.estimate + 2 * z * h.std_error)
    effects[0] = RegionEffect("a", "exporter", dataclasses.replace(a.result, headline=wide),
                              {"used": True, "method": "wild_cluster_restricted_bootstrap"})
    # region "c": a few-cluster interval narrower than the analytic one never shrinks its SE
    c = effects[2]
    hc = c.result.headline
    narrow = dataclasses.replace(hc, conf_low=hc.estimate - hc.std_error,
                                 conf_high=hc.estimate + hc.std_error)
    effects[2] = RegionEffect("c", "exporter", dataclasses.replace(c.result, headline=narrow),
                              {"used": True, "method": "wild_cluster_restricted_bootstrap"})
    got = synthesize(effects).get("exporter")
    ses = list(SE_HET)
    ses[0] = 2 * SE_HET[0]
    want = pool(Y_HET, ses, method="paule_mandel")
    assert got.estimate == pytest.approx(want["estimate"], rel=1e-12)
    assert got.std_error == pytest.approx(want["std_error"], rel=1e-12)
    assert any("1 of 6 regions' standard errors" in w for w in got.warnings)
    # without the record, the analytic standard errors are pooled
    plain = synthesize([_effect(k, y, s) for k, y, s in zip(KEYS, Y_HET, SE_HET)]).get("exporter")
    assert plain.std_error == pytest.approx(
        pool(Y_HET, SE_HET, method="paule_mandel")["std_error"], rel=1e-12)
    assert plain.std_error < got.std_error


def test_synthesize_with_fewer_than_two_regions_pools_nothing():
    one = synthesize([_effect("a", 0.1, 0.02), _effect("b", float("nan"), 0.02)])
    p = one.pooled[0]
    assert not p.pooled and math.isnan(p.estimate) and math.isnan(p.tau2)
    assert p.regions == ("a",) and p.excluded == (("b", "no estimate"),)
    assert p.warnings == ("only one region has an estimate: nothing to pool",)
    none = synthesize([_effect("a", float("nan"), 0.02)]).pooled[0]
    assert none.warnings == ("no region has an estimate",) and none.regions == ()


def test_estimators_are_pooled_separately_and_mixed_regions_explained():
    effects = [_effect("a", 0.1, 0.02), _effect("b", 0.2, 0.03),
               _effect("c", 0.15, 0.02, method="twfe")]
    syn = synthesize(effects, regions=["a", "b", "c"])
    es, twfe = syn.pooled
    assert (es.estimator, es.regions) == ("event_study", ("a", "b"))
    assert es.excluded == (("c", "only estimated by twfe"),)
    assert twfe.regions == ("c",) and not twfe.pooled
    assert syn.get("exporter", "twfe") is twfe and syn.get("exporter") is es


def test_a_region_twice_for_one_outcome_and_estimator_is_an_error():
    with pytest.raises(ValueError, match="region 'a' has two event_study estimates"):
        synthesize([_effect("a", 0.1, 0.02), _effect("a", 0.2, 0.02)])


def test_the_result_is_frozen_tidy_and_json_ready():
    syn = synthesize([_effect(k, y, s) for k, y, s in zip(KEYS, Y_HET, SE_HET)])
    assert isinstance(syn, Synthesis) and isinstance(syn.pooled[0], PooledEffect)
    with pytest.raises(AttributeError):
        syn.pooled[0].estimate = 0.0  # type: ignore[misc]
    tidy = syn.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS and len(tidy) == 1
    assert tidy.loc[0, "regions"] == "a;b;c;d;e;f" and tidy.loc[0, "method"] == "paule_mandel"
    record = syn.to_dict()
    assert record["method"] == "paule_mandel"
    text = json.dumps(record, allow_nan=False, sort_keys=True)
    assert json.loads(text)["pooled"][0]["i2"] == syn.pooled[0].i2


def test_the_pipeline_records_the_synthesis(tiny_lab):
    import policylab

    result = policylab.evaluate(tiny_lab, write=False)
    assert result.synthesis is not None
    outcomes = {e.outcome for e in result.effects}
    assert {p.outcome for p in result.synthesis.pooled} == outcomes
    assert result.to_json_dict()["synthesis"] == result.synthesis.to_dict()


def test_docstring_examples_run():
    failures, _ = doctest.testmod(policylab.synthesis, optionflags=doctest.ELLIPSIS)
    assert failures == 0

