"""Agreement with pyfixest (a port of R fixest) on generated data, to 1e-6.

Skipped when pyfixest is not installed. pyfixest's defaults are fixest's: singletons dropped,
``ssc(k_adj=True, k_fixef="nonnested", G_adj=True, G_df="min")`` and t with ``G - 1``
(``G_min - 1``) degrees of freedom for clustered errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.did import event_study, twfe

pf = pytest.importorskip("pyfixest")

pytestmark = [
    pytest.mark.reference,
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

CLUSTERS = ["firm", "consortium", "random_group", ["consortium", "year"], ["firm", "year"]]


@pytest.fixture(scope="module")
def data(make_panel) -> pd.DataFrame:
    df = make_panel(n_firms=120, years=(2008, 2019), seed=17)
    df = df.sample(frac=0.9, random_state=4).reset_index(drop=True)
    df["random_group"] = np.random.default_rng(2).integers(0, 15, len(df))
    return df


def pyfixest_vcov(cluster) -> dict[str, str]:
    return {"CRV1": cluster if isinstance(cluster, str) else "+".join(cluster)}


def assert_matches(ours, fit, terms):
    tidy = ours.tidy().set_index("term")
    ref = fit.tidy()
    np.testing.assert_allclose(tidy.loc[terms, "estimate"], ref["Estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tidy.loc[terms, "std_error"], ref["Std. Error"], rtol=1e-6)
    np.testing.assert_allclose(tidy.loc[terms, "conf_low"], ref["2.5%"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tidy.loc[terms, "p_value"], ref["Pr(>|t|)"], rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(ours.vcov, np.asarray(fit._vcov), rtol=1e-6, atol=1e-12)
    assert ours.n_obs == fit._N


@pytest.mark.parametrize("cluster", CLUSTERS, ids=str)
def test_twfe_matches_pyfixest(data, cluster):
    ours = twfe(
        data, outcome="exports", unit="firm", time="year", treatment="member", cluster=cluster
    )
    fit = pf.feols("exports ~ member | firm + year", data=data, vcov=pyfixest_vcov(cluster))
    assert_matches(ours, fit, ["att"])


@pytest.mark.parametrize("cluster", CLUSTERS[:2] + CLUSTERS[3:4], ids=str)
def test_event_study_matches_pyfixest_on_binned_dummies(data, cluster):
    leads, lags = 3, 4
    ours = event_study(
        data,
        outcome="exports",
        unit="firm",
        time="year",
        cohort="cohort",
        leads=leads,
        lags=lags,
        cluster=cluster,
    )
    e = (data["year"] - data["cohort"]).clip(-leads, lags)
    joins = data["cohort"] != 0
    names = {}
    dummies = {}
    for k in range(-leads, lags + 1):
        if k == -1:
            continue
        col = f"e_m{-k}" if k < 0 else f"e_p{k}"
        names[col] = f"event_time::{k}"
        dummies[col] = (joins & (e == k)).astype(float)
    df = data.assign(**dummies)
    fit = pf.feols(
        f"exports ~ {' + '.join(dummies)} | firm + year", data=df, vcov=pyfixest_vcov(cluster)
    )
    assert list(fit.tidy().index) == list(dummies)
    assert_matches(ours, fit, [names[c] for c in dummies])
