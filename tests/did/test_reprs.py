"""Results print as a short line: method, outcome, counts and the headline with its SE and CI.

The default dataclass repr printed every array (an ATT(g,t) result of the example: 18,903
characters, its influence function included).
"""

from __future__ import annotations

import numpy as np
import pytest

from policylab.did import (
    aggregate,
    att_gt,
    average_pretrend_test,
    bacon,
    did_2x2,
    etwfe,
    event_study,
    pretrend_test,
    sun_abraham,
    twfe,
    wild_bootstrap,
)

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}
LIMIT = 500


@pytest.fixture(scope="module")
def panel(make_panel):
    return make_panel(n_firms=150, n_consortia=40, seed=23)


@pytest.fixture(scope="module")
def gt(panel):
    return att_gt(panel, **KW, cluster="consortium")


def short(obj, *names: str) -> str:
    text = repr(obj)
    assert len(text) < LIMIT, text
    assert "\n" not in text and "array(" not in text
    for name in names:
        assert name in text, (name, text)
    return text


def test_group_time_result(gt):
    assert len(repr(gt.influence)) > LIMIT  # what the default repr used to print
    text = short(gt, "GroupTimeResult", "att_gt", "'exports'", "clustered by consortium")
    assert f"{gt.att.size} ATT(g,t)" in text and f"n_units={gt.n_units}" in text


@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_aggregate_results(gt, kind):
    agg = aggregate(gt, kind)
    o = agg.overall
    text = short(agg, "AggregateResult", f"aggregate:{kind}", "overall = ", "95% CI")
    assert f"{o.estimate:.4g}" in text and f"SE {o.std_error:.4g}" in text
    assert f"[{o.conf_low:.4g}, {o.conf_high:.4g}]" in text


def test_did_results(panel):
    es = event_study(panel, **KW, leads=3, lags=2, cluster="consortium")
    h = es.headline
    text = short(es, "DiDResult", "event_study", f"avg_post = {h.estimate:.4g}", "95% CI")
    assert f"SE {h.std_error:.4g}" in text and f"n_clusters={es.n_clusters}" in text
    short(twfe(panel, outcome="exports", unit="firm", time="year", treatment="member"),
          "DiDResult", "twfe", "att = ", "1 estimate,")
    two = panel[panel["year"].isin([2012, 2014]) & panel["cohort"].isin([0, 2013])].assign(
        treated=lambda d: (d["cohort"] > 0).astype(int),
        post=lambda d: (d["year"] == 2014).astype(int),
    )
    short(did_2x2(two, outcome="exports", treated="treated", post="post", unit="firm"),
          "DiDResult", "did_2x2")


def test_staggered_results(panel):
    sa = sun_abraham(panel, **KW)
    short(sa, "StaggeredResult", "sun_abraham", "att = ", "cells")
    pois = etwfe(panel.assign(exports=np.abs(panel["exports"])), **KW, family="poisson")
    short(pois, "StaggeredResult", "etwfe_poisson", "percent scale")
    short(pois.percent, "EffectScale", "percent")


def test_pretrend_results(gt):
    short(pretrend_test(gt), "PretrendResult", "pretrend_wald", "chi2(", "p = ")
    short(average_pretrend_test(gt, df=5), "PretrendResult", "pretrend_average", "t(5)")


def test_bacon_and_few_cluster_results(panel):
    short(bacon(panel, outcome="exports", unit="firm", time="year", treatment="member"),
          "BaconResult", "bacon", "TWFE att = ")
    res = twfe(panel, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")
    short(wild_bootstrap(res, panel, draws=99, seed=1), "FewClusterResult",
          "wild_cluster_restricted_bootstrap", "95% CI", "99 draws")


def test_example_sized_result_is_short(make_panel):
    """Many cells and thousands of influence-function rows still print one short line."""
    big = make_panel(n_firms=2000, years=(2008, 2023), cohorts=tuple(range(2011, 2022)),
                          seed=1)
    res = att_gt(big, **KW)
    assert res.att.size > 100
    short(res, "GroupTimeResult")


def test_honest_did_result():
    from policylab.did import honest_did

    beta = np.array([-0.02, 0.01, 0.15, 0.2])
    res = honest_did(beta, np.diag([4e-4, 4e-4, 9e-4, 9e-4]), num_pre=2, num_post=2)
    assert len(repr(res.sigma)) > 0  # arrays are not printed
    text = short(res, "HonestDiDResult", "relative_magnitude", "breakdown", "original")
    assert f"{res.M.size} restriction sizes" in text


def test_few_cluster_decision(panel):
    from policylab.did import few_cluster_inference

    res = twfe(panel, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")
    d = few_cluster_inference(res, panel, draws=199, min_treated_clusters=1000)
    short(d, "FewClusterDecision", "used=True", "clusters treated", "threshold 1000")


def test_results_print_a_summary_and_an_html_table(panel, gt):
    # notebooks show _repr_html_; summary() is the repr line and the tidy table as text
    res = twfe(panel, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")
    for obj in (res, gt, aggregate(gt, "dynamic")):
        text = obj.summary()
        assert text.startswith(repr(obj)) and "conf_low" in text
        page = obj._repr_html_()
        assert page.count("<table") == 1 and "conf_low" in page and "array(" not in page
