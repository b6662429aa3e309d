"""The few-cluster policy (:func:`policylab.did.few_cluster_inference`): which headline
inference a result gets, and the text that says why."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from policylab.did import (
    aggregate,
    att_gt,
    etwfe,
    event_study,
    few_cluster_inference,
    sun_abraham,
    twfe,
    wild_bootstrap,
)
from policylab.did.inference import few_clusters

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::policylab.did.estimators.callaway_santanna.att_gt.NoComparisonWarning"),
]


def region_panel(n_consortia: int = 6, singles: int = 60, seed: int = 0) -> pd.DataFrame:
    """Treated consortia (staggered) plus never-member firms, each its own cluster, as
    :func:`policylab.did.panel.firm_panel` builds them."""
    rng = np.random.default_rng(seed)
    years = np.arange(2011, 2019)
    rows, firm = [], 0
    cohorts = [2013 + c % 4 for c in range(n_consortia)]
    spec = [(f"C{c}", g, 5) for c, g in enumerate(cohorts)] + [(None, 0, 1)] * singles
    for name, g, size in spec:
        shock = rng.normal(0, 0.5, years.size)
        for _ in range(size):
            a = rng.normal()
            cl = name if name is not None else f"firm:{firm}"
            for j, t in enumerate(years):
                d = int(g > 0 and t >= g)
                y = a + 0.1 * j + shock[j] + 0.3 * d + rng.normal()
                rows.append((f"F{firm}", t, cl, g, d, y))
            firm += 1
    return pd.DataFrame(rows, columns=["firm_id", "year", "consortium", "cohort", "member", "y"])


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return region_panel()


def test_linear_estimator_below_threshold_uses_wcr_webb(panel):
    res = twfe(panel, outcome="y", unit="firm_id", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    d = few_cluster_inference(res, panel, draws=999)
    assert d.used and d.method == "wild_cluster_restricted_bootstrap"
    assert d.inference.weights == "webb" and d.n_treated_clusters == 6
    assert d.n_clusters == 66 and d.threshold == 30
    ref = wild_bootstrap(res, panel, draws=999, weights="webb", seed=0,
                         enumerate_signs=few_clusters.SIGN_CLUSTERS)
    assert (d.headline.conf_low, d.headline.conf_high) == (ref.conf_low, ref.conf_high)
    assert d.inference.spec["sign_patterns"] == 2**few_clusters.SIGN_CLUSTERS
    assert d.headline.estimate == res.headline.estimate
    assert "wild cluster restricted bootstrap" in d.reason and "only 6 of 66" in d.reason
    new = d.apply(res)
    assert new.headline == d.headline and new.estimates == res.estimates
    assert new.warnings[-len(d.notes) - 1] == d.reason
    assert res.headline.conf_low != new.headline.conf_low  # the input is unchanged
    json.dumps(d.to_dict())


def test_event_study_headline(panel):
    res = event_study(panel, outcome="y", unit="firm_id", time="year", cohort="cohort",
                      leads=2, lags=3, cluster="consortium")  # fmt: skip
    d = few_cluster_inference(res, panel, draws=499)
    assert d.used and d.inference.term == "avg_post"
    assert d.apply(res).headline.term == "avg_post"


@pytest.mark.parametrize("estimator", ["event_study", "twfe", "etwfe"])
def test_the_bootstrap_problem_is_built_once(panel, monkeypatch, estimator):
    """The problem built to count treated clusters is the one bootstrapped: built once, and
    the result is wild_bootstrap's."""
    from policylab.did.inference import wild

    name = {"event_study": "_problem_event", "twfe": "_problem_twfe", "etwfe": "_etwfe_design"}
    calls = []
    orig = getattr(wild, name[estimator])

    def counted(*args):
        calls.append(args[2])
        return orig(*args)

    monkeypatch.setattr(wild, name[estimator], counted)
    if estimator in wild.PROBLEM_BUILDERS and estimator != "etwfe":
        monkeypatch.setitem(wild.PROBLEM_BUILDERS, estimator, counted)
    common = {"outcome": "y", "unit": "firm_id", "time": "year", "cluster": "consortium"}
    if estimator == "event_study":
        res = event_study(panel, cohort="cohort", leads=2, lags=3, **common)
    elif estimator == "twfe":
        res = twfe(panel, treatment="member", **common)
    else:
        res = etwfe(panel, cohort="cohort", **common)
    d = few_cluster_inference(res, panel, draws=199)
    assert d.used and calls == [res.headline.term]
    ref = wild_bootstrap(res, panel, draws=199, weights="webb", seed=0,
                         enumerate_signs=few_clusters.SIGN_CLUSTERS)
    assert len(calls) == 2  # wild_bootstrap builds its own
    assert (d.inference.p_value, d.inference.conf_low, d.inference.conf_high) == (
        ref.p_value, ref.conf_low, ref.conf_high)
    assert (d.n_clusters, d.n_treated_clusters) == (ref.n_clusters, ref.n_treated_clusters)


def test_sun_abraham_headline(panel):
    res = sun_abraham(panel, outcome="y", unit="firm_id", time="year", cohort="cohort",
                      cluster="consortium")  # fmt: skip
    d = few_cluster_inference(res, panel, draws=499)
    assert d.used and d.method == "wild_cluster_restricted_bootstrap"
    assert d.inference.term == res.headline.term
    out = d.apply(res).headline
    assert out.estimate == res.headline.estimate and out.std_error == res.headline.std_error


def test_enough_treated_clusters_keep_the_analytic_interval(panel):
    res = twfe(panel, outcome="y", unit="firm_id", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    d = few_cluster_inference(res, panel, min_treated_clusters=6)
    assert not d.used and d.method == "analytic" and d.inference is None
    assert d.headline == res.headline and d.apply(res) is res
    assert "6 clusters hold treated firms" in d.reason


def test_callaway_santanna_uses_the_regression_form_wcr(panel):
    gt = att_gt(panel, outcome="y", unit="firm_id", time="year", cohort="cohort",
                cluster="consortium")  # fmt: skip
    d = few_cluster_inference(gt, panel, kind="dynamic", draws=499)
    assert d.used and d.method == "wild_cluster_restricted_bootstrap"
    assert d.inference.spec["null_model"] == "constant_effect"
    agg = aggregate(gt, "dynamic")
    new = d.apply(agg)
    assert new.overall.estimate == agg.overall.estimate
    assert (new.overall.conf_low, new.overall.conf_high) == (d.inference.conf_low,
                                                            d.inference.conf_high)  # fmt: skip
    assert "constant-effect null" in d.reason


def test_callaway_santanna_not_yet_treated_and_unbalanced(panel):
    """evaluate's CS fits: either comparison group, firms entering and leaving."""
    df = panel.drop(panel.sample(frac=0.1, random_state=3).index)
    gt = att_gt(df, outcome="y", unit="firm_id", time="year", cohort="cohort",
                cluster="consortium", control_group="not_yet_treated")  # fmt: skip
    assert gt.design == "unbalanced_panel"
    d = few_cluster_inference(gt, df, draws=499)
    assert d.method == "wild_cluster_restricted_bootstrap"
    assert d.headline.conf_low < d.headline.estimate < d.headline.conf_high


def test_evaluate_style_headline_keeps_its_term(panel):
    """evaluate packages CS as a DiDResult whose headline term is 'simple_att'."""
    from policylab.did.estimators.callaway_santanna.headline import cs_headline_result

    gt = att_gt(panel, outcome="y", unit="firm_id", time="year", cohort="cohort",
                cluster="consortium")  # fmt: skip
    res = cs_headline_result(gt, aggregate(gt, "simple"), aggregate(gt, "dynamic"))
    d = few_cluster_inference(gt, panel, kind="simple", draws=299)
    new = d.apply(res)
    assert new.headline.term == res.headline.term
    assert new.headline.conf_low == d.inference.conf_low
    with pytest.raises(ValueError, match="decision is for"):
        few_cluster_inference(gt, panel, kind="dynamic", draws=99).apply(res)


def test_callaway_santanna_with_covariates_uses_the_multiplier_bootstrap(panel):
    df = panel.assign(size=panel.groupby("firm_id")["y"].transform("first").round())
    gt = att_gt(df, outcome="y", unit="firm_id", time="year", cohort="cohort",
                cluster="consortium", covariates=["size"], method="reg")  # fmt: skip
    d = few_cluster_inference(gt, df, draws=499)
    assert d.method == "multiplier_bootstrap"
    assert any("wild bootstrap not available" in n for n in d.notes)
    assert "does not correct" in d.reason


def test_poisson_etwfe_uses_the_score_bootstrap():
    df = region_panel(n_consortia=6, singles=20, seed=2)
    df["orders"] = np.random.default_rng(0).poisson(np.exp(0.4 + 0.3 * df["member"]))
    res = etwfe(df, outcome="orders", unit="firm_id", time="year", cohort="cohort",
                cluster="consortium", family="poisson")  # fmt: skip
    d = few_cluster_inference(res, df, draws=199)
    assert d.method == "score_bootstrap_restricted"
    assert d.headline.conf_low < d.headline.estimate < d.headline.conf_high


def test_not_available_keeps_the_analytic_interval_and_says_so(panel):
    res = twfe(panel, outcome="y", unit="firm_id", time="year", treatment="member",
               cluster=["consortium", "year"])  # fmt: skip
    d = few_cluster_inference(res, panel, draws=99)
    assert not d.used and d.method == "analytic" and d.headline == res.headline
    assert "not available" in d.reason and "one-way" in d.reason


def test_deterministic_by_default(panel):
    res = twfe(panel, outcome="y", unit="firm_id", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    a = few_cluster_inference(res, panel, draws=299)
    b = few_cluster_inference(res, panel, draws=299)
    assert a.to_dict() == b.to_dict()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"min_treated_clusters": 0}, ValueError),
        ({"min_treated_clusters": 2.5}, TypeError),
        ({"B": 1}, ValueError),
        ({"seed": "x"}, TypeError),
        ({"alpha": 2}, ValueError),
        ({"method": "wcr"}, TypeError),
    ],
    ids=str,
)
def test_bad_arguments(panel, kwargs, error):
    res = twfe(panel, outcome="y", unit="firm_id", time="year", treatment="member",
               cluster="consortium")  # fmt: skip
    with pytest.raises(error):
        few_cluster_inference(res, panel, **kwargs)


def test_bad_kind_and_types(panel):
    gt = att_gt(panel, outcome="y", unit="firm_id", time="year", cohort="cohort",
                cluster="consortium")  # fmt: skip
    with pytest.raises(ValueError):
        few_cluster_inference(gt, panel, kind="overall")
    with pytest.raises(TypeError):
        few_cluster_inference(aggregate(gt), panel)
    d = few_cluster_inference(gt, panel, draws=99)
    with pytest.raises(TypeError):
        d.apply(gt)
    assert math.isfinite(d.headline.estimate)
