"""did_2x2: the estimate is the difference of four cell means; the SEs are statsmodels'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from policylab.did import did_2x2
from policylab.errors import DesignError


def cell_means_did(df: pd.DataFrame) -> float:
    m = df.groupby(["treated", "post"])["exports"].mean()
    return (m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0])


@pytest.mark.parametrize("variant", ["panel", "cross_section"])
def test_estimate_is_difference_of_four_cell_means(variant, request):
    df = request.getfixturevalue(f"two_by_two_{variant}")
    unit = "firm" if variant == "panel" else None
    res = did_2x2(df, outcome="exports", treated="treated", post="post", unit=unit)
    assert res.headline.estimate == pytest.approx(cell_means_did(df), rel=1e-13, abs=1e-13)
    assert res.estimates == (res.headline,)
    assert res.headline.term == "att"


def test_panel_se_equals_statsmodels_cluster_by_unit(two_by_two_panel):
    # statsmodels' cluster correction is G/(G-1) * (N-1)/(N-K): the same as fixest's CRV1.
    df = two_by_two_panel
    res = did_2x2(df, outcome="exports", treated="treated", post="post", unit="firm")
    ols = smf.ols("exports ~ treated * post", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["firm"]}, use_t=True
    )
    assert res.headline.estimate == pytest.approx(ols.params["treated:post"], rel=1e-12)
    assert res.headline.std_error == pytest.approx(ols.bse["treated:post"], rel=1e-10)
    low, high = ols.conf_int().loc["treated:post"]
    assert (res.headline.conf_low, res.headline.conf_high) == pytest.approx((low, high), rel=1e-10)
    assert res.headline.p_value == pytest.approx(ols.pvalues["treated:post"], rel=1e-8)
    assert res.vcov[0, 0] == pytest.approx(ols.cov_params().loc["treated:post", "treated:post"])
    assert res.n_clusters == 40 and res.n_units == 40 and res.n_treated == 20
    assert res.n_obs == 160
    assert "CRV1 clustered by firm (G=40" in res.vcov_type


def test_cross_section_se_equals_statsmodels_hc1_with_t(two_by_two_cross_section):
    # HC1 = n/(n-K) * sandwich; intervals use Student t with n - K df (fixest "hetero").
    df = two_by_two_cross_section
    res = did_2x2(df, outcome="exports", treated="treated", post="post")
    ols = smf.ols("exports ~ treated * post", df).fit(cov_type="HC1", use_t=True)
    assert res.headline.std_error == pytest.approx(ols.bse["treated:post"], rel=1e-10)
    low, high = ols.conf_int().loc["treated:post"]
    assert (res.headline.conf_low, res.headline.conf_high) == pytest.approx((low, high), rel=1e-10)
    assert res.headline.p_value == pytest.approx(ols.pvalues["treated:post"], rel=1e-8)
    assert res.vcov_type.startswith("HC1")
    assert res.n_clusters == 0
    assert res.n_units == res.n_obs == len(df)
    assert res.n_treated == int(df["treated"].sum())


def test_cluster_argument_overrides_unit_and_uses_g_minus_1_df(two_by_two_cross_section):
    df = two_by_two_cross_section
    res = did_2x2(df, outcome="exports", treated="treated", post="post", cluster="region")
    ols = smf.ols("exports ~ treated * post", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["region"]}, use_t=True
    )
    assert res.headline.std_error == pytest.approx(ols.bse["treated:post"], rel=1e-10)
    g = df["region"].nunique()
    crit = stats.t.ppf(0.975, g - 1)
    assert res.headline.conf_high - res.headline.estimate == pytest.approx(
        crit * res.headline.std_error
    )
    assert res.n_clusters == g


def test_alpha_sets_interval_level(two_by_two_panel):
    df = two_by_two_panel
    wide = did_2x2(df, outcome="exports", treated="treated", post="post", unit="firm", alpha=0.01)
    ols = smf.ols("exports ~ treated * post", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["firm"]}, use_t=True
    )
    low, high = ols.conf_int(alpha=0.01).loc["treated:post"]
    assert (wide.headline.conf_low, wide.headline.conf_high) == pytest.approx((low, high))
    assert wide.alpha == 0.01


def test_spec_records_the_call(two_by_two_panel):
    res = did_2x2(two_by_two_panel, outcome="exports", treated="treated", post="post", unit="firm")
    assert res.spec == {
        "estimator": "did_2x2",
        "outcome": "exports",
        "treated": "treated",
        "post": "post",
        "unit": "firm",
        "cluster": None,
        "alpha": 0.05,
    }
    assert res.method == "did_2x2" and res.outcome == "exports"


def test_treated_must_be_constant_within_firm(two_by_two_panel):
    df = two_by_two_panel.copy()
    df.loc[0, "treated"] = 1 - df.loc[0, "treated"]
    with pytest.raises(DesignError, match="constant within each unit"):
        did_2x2(df, outcome="exports", treated="treated", post="post", unit="firm")


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("treated == 1", "treated firms before, treated firms after"),
        ("post == 1", "comparison firms after, treated firms after"),
        ("treated == 1 and post == 0", "treated firms before"),
    ],
)
def test_missing_cell_is_a_design_error(two_by_two_cross_section, drop, message):
    df = two_by_two_cross_section.query(f"not ({drop})")
    with pytest.raises(DesignError, match=message):
        did_2x2(df, outcome="exports", treated="treated", post="post")


@pytest.mark.parametrize("column", ["treated", "post"])
def test_non_binary_group_or_period_is_rejected(two_by_two_cross_section, column):
    df = two_by_two_cross_section.copy()
    df[column] = df[column] * 2
    with pytest.raises(ValueError, match=rf"'{column}'.*must be 0/1.*2"):
        did_2x2(df, outcome="exports", treated="treated", post="post")


def test_boolean_indicators_are_accepted(two_by_two_cross_section):
    df = two_by_two_cross_section
    as_bool = df.astype({"treated": bool, "post": bool})
    a = did_2x2(df, outcome="exports", treated="treated", post="post")
    b = did_2x2(as_bool, outcome="exports", treated="treated", post="post")
    assert a.headline == b.headline


def test_missing_outcomes_are_dropped_and_counted(two_by_two_panel):
    df = two_by_two_panel.copy()
    df.loc[[3, 17, 40], "exports"] = np.nan
    res = did_2x2(df, outcome="exports", treated="treated", post="post", unit="firm")
    assert res.n_obs == len(df) - 3
    assert res.headline.estimate == pytest.approx(cell_means_did(df.dropna()), rel=1e-12)
    assert "dropped 3 rows with missing outcome 'exports'" in res.warnings
