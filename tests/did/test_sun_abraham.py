"""Sun and Abraham (2021) interaction-weighted event study.

The reference is the regression ``fixest::sunab`` runs, written out with pyfixest (a port of
fixest): one indicator per treated cohort and event time except -1, firm and year fixed
effects, CRV1 errors. The aggregation is then done here by hand the way fixest's
``aggregate()`` does it (observation shares as weights, ``W V W'``), so the test checks
both the regression and the aggregation. Published numbers on mpdta are in
``test_reference_published.py``.
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from policylab.did import StaggeredResult, sun_abraham
from policylab.errors import DesignError

pf = pytest.importorskip("pyfixest")

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}


@pytest.fixture(scope="module")
def data(make_panel, make_unbalanced) -> pd.DataFrame:
    df = make_panel(n_firms=150, years=(2008, 2019), cohorts=(2011, 2014, 2016), seed=21)
    return make_unbalanced(df, 0.9, seed=5).reset_index(drop=True)


def cell_dummies(df: pd.DataFrame, event: pd.Series, cells: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c, e in zip(cells["cohort"], cells["event_time"], strict=True):
        name = f"d_{c}_{'m' if e < 0 else 'p'}{abs(e)}"
        out[name] = ((df["cohort"] == c) & (event == e)).astype(float)
    return out


def dummy_names(cells: pd.DataFrame) -> list[str]:
    return [
        f"d_{c}_{'m' if e < 0 else 'p'}{abs(e)}"
        for c, e in zip(cells["cohort"], cells["event_time"], strict=True)
    ]


def reference(df, event, cells, cluster):
    d = cell_dummies(df, event, cells)
    names = dummy_names(cells)
    vcov = {"CRV1": cluster if isinstance(cluster, str) else "+".join(cluster)}
    fit = pf.feols(f"exports ~ {' + '.join(names)} | firm + year", data=d, vcov=vcov)
    beta = fit.coef()[names].to_numpy()
    v = pd.DataFrame(fit._vcov, index=fit._coefnames, columns=fit._coefnames)
    v = v.loc[names, names].to_numpy()
    n_obs = d[names].sum().to_numpy()
    return fit, beta, v, n_obs


def fixest_aggregate(beta, v, n_obs, groups, select):
    """fixest's aggregate(): per group, observation shares of the selected cells."""
    values = np.unique(groups[select])
    w = np.zeros((values.size, beta.size))
    for i, g in enumerate(values):
        m = select & (groups == g)
        w[i, m] = n_obs[m] / n_obs[m].sum()
    return values, w @ beta, np.sqrt(np.diag(w @ v @ w.T)), w @ v @ w.T


@pytest.mark.reference
@pytest.mark.parametrize("cluster", ["firm", "consortium"], ids=str)
def test_matches_fixest_sunab_regression_and_aggregation(data, cluster):
    res = sun_abraham(data, **KW, cluster=cluster)
    cells = res.tidy("cell")
    event = (data["year"] - data["cohort"]).where(data["cohort"] > 0, -1000)
    fit, beta, v, n_obs = reference(data, event, cells, cluster)

    # the cohort x event-time coefficients and their SEs
    np.testing.assert_allclose(cells["estimate"], beta, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cells["std_error"], np.sqrt(np.diag(v)), rtol=1e-6)
    np.testing.assert_allclose(cells["n_obs"], n_obs)
    assert res.n_obs == fit._N

    # event-time aggregates: estimate, SE and the full covariance (cross-cohort terms)
    ev = cells["event_time"].to_numpy()
    values, est, se, cov = fixest_aggregate(beta, v, n_obs, ev, np.ones(ev.size, bool))
    tidy = res.tidy()
    np.testing.assert_array_equal(tidy["event_time"].to_numpy(), values)
    np.testing.assert_allclose(tidy["estimate"], est, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(tidy["std_error"], se, rtol=1e-6)
    np.testing.assert_allclose(res.vcov, cov, rtol=1e-6, atol=1e-6 * np.abs(cov).max())

    # ATT (fixest agg = "ATT") and per-cohort averages (agg = "cohort")
    post = ev >= 0
    _, att, att_se, _ = fixest_aggregate(beta, v, n_obs, np.zeros(ev.size), post)
    assert res.headline.estimate == pytest.approx(att[0], rel=1e-6)
    assert res.headline.std_error == pytest.approx(att_se[0], rel=1e-6)
    coh, c_est, c_se, _ = fixest_aggregate(beta, v, n_obs, cells["cohort"].to_numpy(), post)
    by = res.tidy("cohort")
    np.testing.assert_array_equal(by["cohort"], coh)
    np.testing.assert_allclose(by["estimate"], c_est, rtol=1e-6)
    np.testing.assert_allclose(by["std_error"], c_se, rtol=1e-6)

    # t with G - 1 degrees of freedom, as fixest
    p_ref = 2 * stats.t.sf(np.abs(est / se), res.n_clusters - 1)
    np.testing.assert_allclose(tidy["p_value"], p_ref, rtol=1e-5, atol=1e-12)


@pytest.mark.reference
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_matches_pyfixest_saturated_event_study_on_a_balanced_panel(make_panel):
    """pyfixest's own Sun-Abraham port, ``event_study(..., estimator="saturated")`` and its
    ``aggregate()`` (cohort shares, full covariance; normal p-values). It raises a KeyError
    on the 90% unbalanced panel used above, hence the balanced panel here."""
    df = make_panel(n_firms=90, years=(2008, 2017), cohorts=(2011, 2014), seed=13)
    fit = pf.event_study(
        data=df,
        yname="exports",
        idname="firm",
        tname="year",
        gname="cohort",
        estimator="saturated",
    )
    agg = fit.aggregate()
    res = sun_abraham(df, **KW).tidy()
    np.testing.assert_allclose(res["event_time"], agg.index.astype(float))
    np.testing.assert_allclose(res["estimate"], agg["Estimate"].astype(float), rtol=1e-8)
    np.testing.assert_allclose(res["std_error"], agg["Std. Error"].astype(float), rtol=1e-8)


@pytest.mark.reference
@pytest.mark.parametrize("cluster", ["firm", "consortium"], ids=str)
def test_binned_window_matches_regression_on_binned_dummies(data, cluster):
    res = sun_abraham(data, **KW, leads=2, lags=1, cluster=cluster)
    cells = res.tidy("cell")
    assert cells["event_time"].min() == -2 and cells["event_time"].max() == 1
    assert cells.loc[cells["event_time"].isin([-2, 1]), "time"].isna().all()
    event = (data["year"] - data["cohort"]).clip(-2, 1).where(data["cohort"] > 0, -1000)
    _, beta, v, _ = reference(data, event, cells, cluster)
    np.testing.assert_allclose(cells["estimate"], beta, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cells["std_error"], np.sqrt(np.diag(v)), rtol=1e-6)
    assert any("end-point bins" in w for w in res.warnings)


@pytest.mark.reference
def test_last_treated_control_drops_never_treated_and_late_periods(data):
    res = sun_abraham(data, **KW, control="last_treated")
    last = data["cohort"].max()
    sub = data[(data["cohort"] != 0) & (data["year"] < last)]
    cells = res.tidy("cell")
    assert last not in set(cells["cohort"])
    event = (sub["year"] - sub["cohort"]).where(sub["cohort"] != last, -1000)
    _, beta, v, _ = reference(sub, event, cells, "firm")
    np.testing.assert_allclose(cells["estimate"], beta, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cells["std_error"], np.sqrt(np.diag(v)), rtol=1e-6)
    assert any("never treated are left out" in w for w in res.warnings)
    assert res.spec["control"] == "last_treated"


def test_recovers_a_constant_effect_and_reports_counts(make_panel):
    df = make_panel(n_firms=300, noise=0.3, effect=0.5, seed=2)
    res = sun_abraham(df, **KW)
    assert isinstance(res, StaggeredResult)
    assert res.method == "sun_abraham"
    assert res.headline.term == "att"
    assert res.headline.estimate == pytest.approx(0.5, abs=0.06)
    post = res.tidy().query("event_time >= 0")
    assert np.all(np.abs(post["estimate"] - 0.5) < 4 * post["std_error"] + 1e-9)
    assert res.n_units == df["firm"].nunique()
    assert res.n_treated == df.loc[df["cohort"] > 0, "firm"].nunique()
    assert res.n_clusters == res.n_units
    assert res.headline.conf_low < res.headline.estimate < res.headline.conf_high
    assert set(res.tidy("overall")["term"]) == {"att"}
    assert res.to_dict()["cells"]  # JSON-ready


def test_unbalanced_panel_runs(make_panel, make_unbalanced):
    df = make_unbalanced(make_panel(n_firms=80, seed=8), 0.9, seed=1)
    res = sun_abraham(df, **KW)
    assert res.n_obs == len(df)
    assert np.isfinite(res.headline.std_error)


def test_does_not_mutate_and_ignores_row_order(data):
    before = data.copy(deep=True)
    res = sun_abraham(data, **KW)
    pd.testing.assert_frame_equal(data, before)
    shuffled = sun_abraham(data.sample(frac=1.0, random_state=3), **KW)
    pd.testing.assert_frame_equal(res.tidy(), shuffled.tidy(), rtol=1e-10)


def test_always_treated_cohort_is_dropped_and_reported(data):
    extra = data[data["firm"].isin(data["firm"].unique()[:8])].copy()
    extra["firm"] = extra["firm"] + "_always"
    extra["cohort"] = 2008  # treated from the first year
    res = sun_abraham(pd.concat([data, extra], ignore_index=True), **KW)
    base = sun_abraham(data, **KW)
    pd.testing.assert_frame_equal(res.tidy(), base.tidy(), rtol=1e-10)
    assert any("always treated" in w for w in res.warnings)


def test_without_never_treated_asks_for_last_treated(make_panel):
    df = make_panel(n_firms=60, share_never=0.0, seed=4)
    with pytest.raises(DesignError, match="control='last_treated'"):
        sun_abraham(df, **KW)
    res = sun_abraham(df, **KW, control="last_treated")
    assert np.isfinite(res.headline.estimate)


def test_bad_arguments(data):
    with pytest.raises(TypeError, match="unexpected keyword argument 'control_group'"):
        sun_abraham(data, **KW, control_group="never_treated")
    with pytest.raises(ValueError, match="'never_treated', 'last_treated'"):
        sun_abraham(data, **KW, control="not_yet_treated")
    with pytest.raises(ValueError, match="leads must be >= 1"):
        sun_abraham(data, **KW, leads=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        sun_abraham(data, **KW).tidy("calendar")
    wobbly = data.assign(cohort=np.where(data.index % 7 == 0, 2011, data["cohort"]))
    with pytest.raises(DesignError, match="constant within each unit"):
        sun_abraham(wobbly, **KW)


@pytest.mark.parametrize("name", ["policylab.did.estimators.sun_abraham"])
def test_docstring_examples_run(name):
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0
