"""``pretrend_test``: the joint Wald statistic is the quadratic form computed by hand.

peers.md: the pre-trend test of ``differences`` 0.3 crashes (``wald_pre_test`` TypeError).
Here it is ``b' V^-1 b`` with chi-square(len(b)) p-value, for the pre-treatment ATT(g,t) of a
group-time result (covariance ``IF'IF / n**2``, clustered as the result) and for the leads of
an event study (the result's CRV1 covariance).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from policylab.did import (
    PretrendResult,
    att_gt,
    average_pretrend_test,
    did_2x2,
    event_study,
    pretrend_test,
)
from policylab.errors import DesignError

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}


@pytest.mark.parametrize("cluster", [None, "consortium"])
@pytest.mark.parametrize("anticipation", [0, 1])
def test_group_time_quadratic_form_by_hand(make_panel, cluster, anticipation):
    df = make_panel(n_firms=150, n_consortia=40, seed=23)
    res = att_gt(df, **KW, cluster=cluster, anticipation=anticipation)
    test = pretrend_test(res)
    pre = (res.time < res.group - anticipation) & (res.time != res.base_period)
    b = res.att[pre]
    psi = res.influence[:, pre]
    if cluster is not None:  # cluster sums of the influence function
        codes = res.unit_cluster
        psi = np.vstack([psi[codes == c].sum(axis=0) for c in np.unique(codes)])
    V = psi.T @ psi / res.n_units**2
    stat = float(b @ np.linalg.inv(V) @ b)
    assert isinstance(test, PretrendResult)
    assert test.statistic == pytest.approx(stat, rel=1e-10)
    assert test.df == pre.sum()
    assert test.p_value == pytest.approx(stats.chi2.sf(stat, pre.sum()), rel=1e-10)
    assert test.terms == tuple(np.array(res.terms)[pre])


def test_event_study_leads_quadratic_form_by_hand(make_panel):
    es = event_study(make_panel(n_firms=150, seed=23), **KW, leads=3, lags=2)
    test = pretrend_test(es)
    tidy = es.tidy()
    leads = (tidy["event_time"] < -1).to_numpy()
    b = tidy.loc[leads, "estimate"].to_numpy()
    V = es.vcov[np.ix_(leads, leads)]
    stat = float(b @ np.linalg.inv(V) @ b)
    assert test.statistic == pytest.approx(stat, rel=1e-10)
    assert test.df == 2 and test.terms == ("event_time::-3", "event_time::-2")
    assert test.p_value == pytest.approx(stats.chi2.sf(stat, 2), rel=1e-10)
    assert test.to_dict()["source"] == "event_study"


def test_no_pre_periods_or_no_leads_is_a_design_error(make_panel):
    df = make_panel(n_firms=60, seed=2)
    with pytest.raises(DesignError, match="no lead coefficients"):
        pretrend_test(event_study(df, **KW, leads=1, lags=2))
    late = df.assign(treated=(df["cohort"] > 0).astype(int), post=(df["year"] >= 2015).astype(int))
    with pytest.raises(DesignError, match="no lead coefficients"):
        pretrend_test(did_2x2(late, outcome="exports", treated="treated", post="post", unit="firm"))
    early = df[df["year"] >= 2012].assign(cohort=lambda d: np.where(d["cohort"] > 0, 2013, 0))
    with pytest.raises(DesignError, match="no pre-treatment group-time effect"):
        pretrend_test(att_gt(early, **KW))


def test_more_pre_periods_than_clusters_is_singular(make_panel):
    """12 clusters cannot identify the covariance of 12 pre-treatment effects."""
    res = att_gt(make_panel(n_firms=150, n_consortia=12, seed=23), **KW, cluster="consortium")
    assert res.is_pre.sum() >= 12
    with pytest.raises(DesignError, match="singular"):
        pretrend_test(res)


def test_rejects_other_objects():
    with pytest.raises(TypeError, match="GroupTimeResult"):
        pretrend_test({"att": 1})


# --------------------------------------------------------------------------- average test

def test_average_test_is_the_t_statistic_of_the_mean_lead(make_panel):
    es = event_study(make_panel(n_firms=150, seed=23), **KW, leads=3, lags=2,
                     cluster="consortium")
    test = average_pretrend_test(es, df=7)
    tidy = es.tidy()
    leads = (tidy["event_time"] < -1).to_numpy()
    b = tidy.loc[leads, "estimate"].to_numpy()
    V = es.vcov[np.ix_(leads, leads)]
    t = b.mean() / np.sqrt(V.sum() / b.size**2)
    assert test.statistic == pytest.approx(t, rel=1e-10)
    assert test.p_value == pytest.approx(2 * stats.t.sf(abs(t), 7), rel=1e-10)
    assert (test.df, test.distribution, test.test) == (7, "t", "pretrend_average")
    assert test.to_dict()["test"] == "pretrend_average"
    assert pretrend_test(es).to_dict()["test"] == "pretrend_wald"


def test_average_test_stays_defined_where_the_joint_test_is_singular(make_panel):
    """Few clusters: the joint covariance is singular, the average's variance is not."""
    res = att_gt(make_panel(n_firms=150, n_consortia=12, seed=23), **KW, cluster="consortium")
    with pytest.raises(DesignError, match="singular"):
        pretrend_test(res)
    test = average_pretrend_test(res, df=11)
    assert np.isfinite(test.statistic) and 0 < test.p_value <= 1


def test_fewer_degrees_of_freedom_give_larger_p_values(make_panel):
    res = att_gt(make_panel(n_firms=150, n_consortia=40, seed=5), **KW, cluster="consortium")
    p = [average_pretrend_test(res, df=d).p_value for d in (2, 5, 30)]
    assert p[0] > p[1] > p[2]


@pytest.mark.parametrize("df", [0, -1, 2.5, True, None])
def test_average_test_needs_positive_integer_df(make_panel, df):
    res = att_gt(make_panel(n_firms=60, seed=5), **KW)
    with pytest.raises(ValueError, match="df must be a positive integer"):
        average_pretrend_test(res, df=df)
