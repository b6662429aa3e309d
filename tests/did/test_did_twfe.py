"""twfe: equals OLS on explicit firm and year dummies; CRV1 follows fixest's nested-K rule.

fixest's default small-sample correction for a clustered covariance is

    V = G/(G-1) * (n-1)/(n-K) * (X'X)^-1 (sum_g X_g'e_g e_g'X_g) (X'X)^-1

where K counts the slope plus the fixed effects *not nested* in the cluster variable
(each nested factor counts as one): K = k + sum(levels) - (n_fe - 1) - sum_nested(levels - 1).
By Frisch-Waugh-Lovell the treatment's element of the sandwich built from the full dummy
regression equals the within-transformed one, so the tests below rebuild it from the dummy
regression's residuals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from policylab.did import twfe
from policylab.did.core.fixed_effects import Factor, demean_two_way
from policylab.errors import DesignError, FewClustersWarning

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")


@pytest.fixture
def small_unbalanced(make_panel, make_unbalanced) -> pd.DataFrame:
    df = make_unbalanced(make_panel(n_firms=24, years=(2014, 2019), seed=3), 0.85, seed=5)
    assert df.groupby("firm").size().min() >= 2  # no singletons: same sample as the OLS
    rng = np.random.default_rng(9)
    df["random_group"] = rng.integers(0, 8, len(df))  # firms are not nested in it
    return df


def dummy_ols(df: pd.DataFrame):
    """OLS of exports on member + firm dummies + year dummies (one year dropped)."""
    firms = pd.get_dummies(df["firm"], dtype=float)
    years = pd.get_dummies(df["year"], dtype=float).iloc[:, 1:]
    x = pd.concat([df[["member"]].astype(float), firms, years], axis=1).to_numpy()
    fit = sm.OLS(df["exports"].to_numpy(), x).fit()
    return fit, x


def crv1_by_hand(x, resid, cluster_ids, k, column=0):
    n = x.shape[0]
    bread = np.linalg.inv(x.T @ x)
    scores = x * resid[:, None]
    _, g_idx = np.unique(np.asarray(cluster_ids), return_inverse=True)
    sums = np.zeros((g_idx.max() + 1, x.shape[1]))
    np.add.at(sums, g_idx, scores)
    g = sums.shape[0]
    v = bread @ (sums.T @ sums) @ bread
    return g / (g - 1) * (n - 1) / (n - k) * v[column, column]


def test_estimate_equals_ols_on_dummies(small_unbalanced):
    df = small_unbalanced
    fit, _ = dummy_ols(df)
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member")
    assert res.headline.estimate == pytest.approx(fit.params[0], abs=1e-8)
    assert res.headline.term == "att" and res.estimates == (res.headline,)


def test_se_clustered_by_firm_uses_k_equal_one_plus_years(small_unbalanced):
    df = small_unbalanced
    fit, x = dummy_ols(df)
    n_years = df["year"].nunique()
    k = 1 + n_years  # firm effects nested in firm clusters: slope + T
    expected = crv1_by_hand(x, fit.resid, df["firm"], k)
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member")
    assert res.headline.std_error**2 == pytest.approx(expected, rel=1e-8)
    assert res.n_clusters == df["firm"].nunique()
    assert f"K={k}" in res.vcov_type
    assert res.vcov_type.startswith(f"CRV1 clustered by firm (G={res.n_clusters};")


def test_se_clustered_by_consortium_nests_firms(small_unbalanced):
    df = small_unbalanced
    fit, x = dummy_ols(df)
    k = 1 + df["year"].nunique()  # firms nested in consortia
    expected = crv1_by_hand(x, fit.resid, df["consortium"], k)
    res = twfe(
        df, outcome="exports", unit="firm", time="year", treatment="member", cluster="consortium"
    )
    assert res.headline.std_error**2 == pytest.approx(expected, rel=1e-8)
    assert res.n_clusters == 12


def test_se_with_non_nested_clusters_counts_all_fixed_effects(small_unbalanced):
    df = small_unbalanced
    fit, x = dummy_ols(df)
    k = 1 + df["firm"].nunique() + df["year"].nunique() - 1  # nothing nested
    expected = crv1_by_hand(x, fit.resid, df["random_group"], k)
    res = twfe(
        df, outcome="exports", unit="firm", time="year", treatment="member", cluster="random_group"
    )
    assert res.headline.std_error**2 == pytest.approx(expected, rel=1e-8)


def test_two_way_clustering_is_cgm_with_g_min(small_unbalanced):
    # V = Gmin/(Gmin-1) * (n-1)/(n-K) * B (M_consortium + M_year - M_consortium x year) B,
    # K = 1 + 1 (firms nested in consortia, years in years: fixest counts one per factor).
    df = small_unbalanced
    fit, x = dummy_ols(df)
    n = len(df)
    bread = np.linalg.inv(x.T @ x)
    scores = x * fit.resid[:, None]

    def meat(ids):
        _, idx = np.unique(np.asarray(ids), return_inverse=True)
        s = np.zeros((idx.max() + 1, x.shape[1]))
        np.add.at(s, idx, scores)
        return s.T @ s

    inter = df["consortium"].astype(str) + "_" + df["year"].astype(str)
    g_min = min(df["consortium"].nunique(), df["year"].nunique())
    m = meat(df["consortium"]) + meat(df["year"]) - meat(inter)
    expected = g_min / (g_min - 1) * (n - 1) / (n - 2) * (bread @ m @ bread)[0, 0]
    res = twfe(
        df,
        outcome="exports",
        unit="firm",
        time="year",
        treatment="member",
        cluster=["consortium", "year"],
    )
    assert res.headline.std_error**2 == pytest.approx(expected, rel=1e-8)
    assert res.n_clusters == g_min
    assert "two-way clustered by consortium and year" in res.vcov_type
    assert res.spec["cluster"] == ["consortium", "year"]
    # t with G_min - 1 degrees of freedom
    from scipy import stats

    half = res.headline.conf_high - res.headline.estimate
    assert half == pytest.approx(stats.t.ppf(0.975, g_min - 1) * res.headline.std_error)


def test_singleton_firms_are_dropped_and_reported(small_unbalanced):
    df = small_unbalanced
    lone = pd.DataFrame(
        {
            "firm": ["LONE"],
            "year": [2016],
            "cohort": [0],
            "member": [0],
            "consortium": [3],
            "exports": [10.0],
            "random_group": [1],
        }
    )
    with_lone = pd.concat([df, lone], ignore_index=True)
    a = twfe(df, outcome="exports", unit="firm", time="year", treatment="member")
    b = twfe(with_lone, outcome="exports", unit="firm", time="year", treatment="member")
    assert b.headline == a.headline
    assert b.n_obs == a.n_obs == len(df)
    assert b.n_units == a.n_units
    assert any(
        "dropped 1 singleton observation (1 firm observed only once" in w for w in b.warnings
    )
    assert not any("singleton" in w for w in a.warnings)


def test_counts_and_staggered_caveat(small_unbalanced):
    df = small_unbalanced
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member")
    assert res.n_obs == len(df)
    assert res.n_units == df["firm"].nunique()
    assert res.n_treated == df.loc[df["member"] == 1, "firm"].nunique()
    assert any("staggered adoption" in w for w in res.warnings)


def test_few_clusters_warns_and_counts_treated_clusters(small_unbalanced):
    df = small_unbalanced
    treated_consortia = df.loc[df["member"] == 1, "consortium"].nunique()
    with pytest.warns(FewClustersWarning, match=r"'consortium' has 12 clusters"):
        res = twfe(
            df,
            outcome="exports",
            unit="firm",
            time="year",
            treatment="member",
            cluster="consortium",
        )
    assert any(f"12 clusters, only {treated_consortia} with treated firms" in w for w in res.warnings)


def test_treatment_absorbed_by_fixed_effects_is_a_design_error(small_unbalanced):
    df = small_unbalanced.copy()
    df["group_flag"] = (df["cohort"] > 0).astype(int)  # constant within firm
    with pytest.raises(DesignError, match="does not vary once firm and year effects"):
        twfe(df, outcome="exports", unit="firm", time="year", treatment="group_flag")


def test_exact_and_alternating_projections_agree(small_unbalanced):
    df = small_unbalanced
    firm = Factor.from_codes(pd.factorize(df["firm"])[0])
    year = Factor.from_codes(pd.factorize(df["year"])[0])
    z = df[["exports", "member"]].to_numpy(dtype=float)
    exact = demean_two_way(z, firm, year, method="exact")
    slow = demean_two_way(z, firm, year, method="map", tol=1e-14)
    np.testing.assert_allclose(exact, slow, atol=1e-10)
    # the residual is orthogonal to every firm and year dummy
    np.testing.assert_allclose(firm.sums(exact), 0, atol=1e-10)
    np.testing.assert_allclose(year.sums(exact), 0, atol=1e-10)


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_disconnected_panel_still_matches_dummy_ols(make_panel):
    # Two groups of firms observed in disjoint years: the firm-year graph is disconnected, so
    # the dummy regression has one more redundant column (statsmodels' pinv copes; the
    # treatment coefficient is still identified).
    a = make_panel(n_firms=10, years=(2010, 2014), cohorts=(2012,), seed=1)
    b = make_panel(n_firms=10, years=(2015, 2019), cohorts=(2017,), seed=2)
    b["firm"] = "B" + b["firm"]
    df = pd.concat([a, b], ignore_index=True)
    fit, _ = dummy_ols(df)
    res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member")
    assert res.headline.estimate == pytest.approx(fit.params[0], abs=1e-8)
