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
    """12 clusters cannot identify the covariance of 12 pre-treatment effects, and the
    estimates are not confined to the 11 directions it covers: as R did, no statistic (a
    Moore-Penrose inverse would test only part of the estimates); the error names the rank
    and the test that is defined there."""
    res = att_gt(make_panel(n_firms=150, n_consortia=12, seed=23), **KW, cluster="consortium")
    assert res.is_pre.sum() >= 12
    with pytest.raises(DesignError, match="singular") as err:
        pretrend_test(res)
    msg = str(err.value)
    assert "rank 11" in msg and "12 clusters holding treated units" in msg
    assert "R did returns no pre-test" in msg
    assert "average_pretrend_test(result, df=11)" in msg


# ------------------------------------------------ singular covariance: what R did leaves out

def flat_before_2015(df):
    """Firms of cohorts 2015 and 2017 keep their 2010 exports until 2014: with a varying base
    period both cohorts' placebo ATT(g, t), t <= 2014, are minus the comparison group's change,
    identical in estimate and influence function -- the example data's singularity."""
    df = df.copy()
    flat = df["cohort"].isin([2015, 2017]) & (df["year"] <= 2014)
    first = df.groupby("firm")["exports"].transform("first")
    df.loc[flat, "exports"] = first[flat]
    return df


def wald(b, V):
    return float(b @ np.linalg.solve(V, b))


@pytest.mark.parametrize("cluster", [None, "consortium"])
def test_exact_duplicates_are_dropped_and_the_test_is_the_nonsingular_subsets(make_panel, cluster):
    res = att_gt(flat_before_2015(make_panel(n_firms=150, n_consortia=40, seed=23)), **KW,
                 cluster=cluster)
    pre = res.is_pre
    terms = np.array(res.terms)[pre]
    b, V = res.att[pre], res.vcov()[np.ix_(pre, pre)]
    dup = np.isin(terms, [f"ATT(2017,{t})" for t in range(2011, 2015)])
    twins = np.isin(terms, [f"ATT(2015,{t})" for t in range(2011, 2015)])
    np.testing.assert_allclose(b[dup], b[twins])
    assert np.linalg.matrix_rank(V) == pre.sum() - 4  # singular: R did returns no statistic

    test = pretrend_test(res)
    keep = ~dup
    stat = wald(b[keep], V[np.ix_(keep, keep)])  # the Wald test on the non-singular subset
    assert test.statistic == pytest.approx(stat, rel=1e-10)
    assert test.df == keep.sum() == np.linalg.matrix_rank(V)
    assert test.p_value == pytest.approx(stats.chi2.sf(stat, keep.sum()), rel=1e-10)
    assert test.terms == tuple(terms[keep])
    assert test.dropped == tuple(terms[dup])
    assert test.statistic == pytest.approx(float(b @ np.linalg.pinv(V, rcond=1e-10) @ b), rel=1e-8)
    assert test.statistic == pytest.approx(wald(test.estimates, test.vcov), rel=1e-12)
    (note,) = test.notes
    assert "rank 8" in note and "ATT(2017,2011)" in note and "R did" in note
    d = test.to_dict()
    assert d["dropped"] == list(terms[dup]) and d["notes"] == [note]


def test_zero_variance_cells_are_left_out_as_in_r_did(make_panel):
    """Exports of 2012 equal to 2011 for every firm: the placebo cells at t = 2012 are 0 with
    no variance; R did drops them from the pre-test, and so does this, naming them."""
    df = make_panel(n_firms=150, n_consortia=40, seed=23)
    v2011 = df[df["year"] == 2011].set_index("firm")["exports"]
    df.loc[df["year"] == 2012, "exports"] = df.loc[df["year"] == 2012, "firm"].map(v2011).to_numpy()
    res = att_gt(df, **KW)
    pre = res.is_pre
    ok = pre & np.isfinite(res.analytic_se)
    gone = tuple(np.array(res.terms)[pre & ~ok])
    assert gone == ("ATT(2013,2012)", "ATT(2015,2012)", "ATT(2017,2012)")
    test = pretrend_test(res)
    b, V = res.att[ok], res.vcov()[np.ix_(ok, ok)]
    assert test.statistic == pytest.approx(wald(b, V), rel=1e-10)
    assert test.df == ok.sum() and test.dropped == gone
    assert "missing or zero standard error" in test.notes[0]
    avg = average_pretrend_test(res, df=10)
    assert avg.dropped == gone and avg.terms == test.terms


def test_nothing_left_out_keeps_the_record_unchanged(make_panel):
    test = pretrend_test(att_gt(make_panel(n_firms=150, n_consortia=40, seed=23), **KW))
    assert test.dropped == () and test.notes == ()
    assert set(test.to_dict()) == {"test", "source", "statistic", "df", "p_value", "distribution",
                                   "terms"}


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


# ---------------------------------------------------------------- the six example regions

@pytest.fixture(scope="module")
def example_panels():
    from pathlib import Path

    from policylab.config import load_config
    from policylab.did.panel import firm_panel
    from policylab.ingest import ingest

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "example.toml")
    return {r.info.key: firm_panel(r.tables["firms"], r.tables["membership"])
            for r in ingest(cfg).regions}


@pytest.mark.slow
def test_example_regions(example_panels):
    """As ``evaluate`` fits them (``exporter``, never-members, doubly robust). By firm, the
    covariance of the pre-treatment ATT(g,t) is singular in every region only through cells
    that copy others (cohorts whose members did not change): a statistic on the rank.
    Clustered by consortium, 5-9 treated consortia cannot carry 26-42 cells: no joint test,
    and the error names the average test, which is defined everywhere."""
    assert len(example_panels) == 6
    for key, panel in example_panels.items():
        kw = dict(outcome="exporter", unit="firm_id", time="year", cohort="cohort",
                  control_group="never_treated", method="dr")
        res = att_gt(panel, **kw)
        pre = res.is_pre & np.isfinite(res.analytic_se)
        b, V = res.att[pre], res.vcov()[np.ix_(pre, pre)]
        test = pretrend_test(res)
        assert np.isfinite(test.statistic) and 0 < test.p_value <= 1, key
        assert test.df == np.linalg.matrix_rank(V) < pre.sum(), key
        assert len(test.terms) + len(test.dropped) == pre.sum()
        assert f"rank {test.df}" in test.notes[-1]
        assert test.statistic == pytest.approx(float(b @ np.linalg.pinv(V, rcond=1e-10) @ b),
                                               rel=1e-6), key

        clustered = att_gt(panel, **kw, cluster="consortium")
        g = len(np.unique(clustered.unit_cluster[np.isfinite(clustered.unit_cohort)]))
        with pytest.raises(DesignError, match=rf"average_pretrend_test\(result, df={g - 1}\)"):
            pretrend_test(clustered)
        avg = average_pretrend_test(clustered, df=g - 1)
        assert np.isfinite(avg.statistic) and 0 < avg.p_value <= 1, key
