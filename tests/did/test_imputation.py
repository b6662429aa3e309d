"""Imputation (Borusyak, Jaravel and Spiess 2024) and two-stage DiD (Gardner 2021).

Specifications: the point estimates equal linear ETWFE's on a balanced panel; did2s
reproduces pyfixest's ``did2s`` (point estimates and GMM clustered SEs); imputation
reproduces diff-diff's ``ImputationDiD`` (point estimates, BJS conservative SEs, pre-trend
Wald statistic); the pre-trend test has size and power on planted data; a constant effect is
recovered; bad designs fail with a ValueError naming what is missing.
"""

from __future__ import annotations

import functools
import importlib
import json

import numpy as np
import pandas as pd
import pytest

from policylab.did import etwfe
from policylab.did.core.checks import DiDInputError
from policylab.did.estimators.imputation import (
    ImputationResult,
    did2s,
    imputation,
    imputation_pretrend_test,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort",
      "cluster": "consortium"}  # fmt: skip


def heterogeneous(make_panel, seed: int = 3, n_firms: int = 120, **kw) -> pd.DataFrame:
    """Balanced staggered panel whose effect varies by cohort and event time."""
    df = make_panel(n_firms=n_firms, seed=seed, effect=0.0, **kw)
    e = df["year"] - df["cohort"]
    tau = 0.2 + 0.1 * e + 0.3 * (df["cohort"] == 2015) - 0.2 * (df["cohort"] == 2017)
    df["exports"] = df["exports"] + np.where(df["member"] == 1, tau, 0.0)
    return df


@pytest.fixture(scope="module")
def balanced(make_panel) -> pd.DataFrame:
    return heterogeneous(make_panel)


@pytest.fixture(scope="module")
def unbalanced_panel(make_panel, make_unbalanced) -> pd.DataFrame:
    df = heterogeneous(make_panel, seed=8, n_firms=150)
    return make_unbalanced(df, 0.85, seed=4).reset_index(drop=True)


def event_table(res) -> pd.DataFrame:
    return res.tidy().set_index("event_time")[["estimate", "std_error"]]


# --------------------------------------------------------------------------- (a) equalities


def test_imputation_did2s_etwfe_coincide_on_balanced_panel(balanced):
    """Imputation = did2s = linear ETWFE, overall and by event time, cohort and cell.

    Precise condition: a **balanced** panel (every firm observed in every period; no
    outcome missing), **no covariates**, never-treated firms present (so every period has
    untreated observations and ETWFE's comparison group is the same: never and
    not-yet-treated), no always-treated firm, and the same aggregation weights (each
    treated firm-period equally: ETWFE's cell-count weights). Then the saturated ETWFE with
    unit effects equals imputation (Wooldridge 2021; BJS 2024, Prop. 5 with full
    heterogeneity of the cell effects), and on a balanced panel cohort effects (policylab's
    ETWFE, as R ``etwfe``) give the same cell coefficients as unit effects, because the
    within-cohort firm deviations are orthogonal to every other regressor. did2s with
    treatment indicators only is the group means of the imputed effects, i.e. imputation,
    on any panel.
    """
    imp = imputation(balanced, **KW)
    two = did2s(balanced, **KW)
    et = etwfe(balanced, **KW)
    assert abs(imp.headline.estimate - two.headline.estimate) < 1e-8
    assert abs(imp.headline.estimate - et.headline.estimate) < 1e-8
    for other in (two, et):
        a, b = event_table(imp), event_table(other)
        assert a.index.tolist() == b.index.tolist()
        np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=0, atol=1e-8)
        ca, cb = imp.tidy("cohort"), other.tidy("cohort")
        np.testing.assert_allclose(ca["estimate"], cb["estimate"], rtol=0, atol=1e-8)
        la, lb = imp.tidy("cell"), other.tidy("cell")
        assert la[["cohort", "time", "n_obs"]].equals(lb[["cohort", "time", "n_obs"]])
        np.testing.assert_allclose(la["estimate"], lb["estimate"], rtol=0, atol=1e-8)


def test_estimate_is_implied_weights_times_outcomes(unbalanced_panel):
    """did2s and imputation share point estimates on an unbalanced panel too, and the
    headline is the treated mean of ``y - Y(0)`` (checked against explicit dummies OLS)."""
    imp = imputation(unbalanced_panel, **KW, pretrend=False)
    two = did2s(unbalanced_panel, **KW)
    np.testing.assert_allclose(event_table(imp)["estimate"], event_table(two)["estimate"],
                               rtol=0, atol=1e-10)  # fmt: skip
    d = unbalanced_panel
    u0 = d["member"] == 0
    x = pd.get_dummies(d[["firm", "year"]].astype(str), drop_first=False).to_numpy(float)
    coef = np.linalg.lstsq(x[u0.to_numpy()], d.loc[u0, "exports"].to_numpy(), rcond=None)[0]
    tau = (d["exports"].to_numpy() - x @ coef)[~u0.to_numpy()]
    assert abs(imp.headline.estimate - tau.mean()) < 1e-10


# --------------------------------------------------------------------------- (b) pyfixest


@pytest.fixture
def exact_pyfixest(monkeypatch):
    """pyfixest's ``did2s`` with its first stage solved to machine precision.

    Its defaults (demeaning ``fixef_tol`` and ``Feols.fixef``'s LSQR ``atol = btol = 1e-6``)
    leave ~1e-5 of error in the recovered fixed effects and hence in every imputed effect;
    tightening them changes no formula, only the convergence of pyfixest's iterations.
    """
    pf = pytest.importorskip("pyfixest")
    from pyfixest.estimation.models.feols_ import Feols

    importlib.import_module("pyfixest.did.estimation")
    mod = importlib.import_module("pyfixest.did.did2s")
    orig = Feols.fixef
    monkeypatch.setattr(Feols, "fixef", lambda self, atol=1e-14, btol=1e-14: orig(self, atol=atol, btol=btol))
    monkeypatch.setattr(mod, "feols", functools.partial(mod.feols, fixef_tol=1e-14))
    return pf


def test_did2s_matches_pyfixest(balanced, exact_pyfixest):
    """Compared: the ATT (second stage ``~ i(treat)``) and the event-time effects (second
    stage ``~ i(rel, ref=-1000)``, one indicator per treated event time ``e >= 0``, all
    untreated rows in the reference) with pyfixest 0.60's GMM standard errors clustered by
    consortium. Largest differences seen: ~1e-15 (estimates and SEs)."""
    pf = exact_pyfixest
    ours = did2s(balanced, **KW)
    d = balanced.copy()
    d["treat"] = d["member"].astype(bool)
    d["rel"] = np.where(d["member"] == 1, d["year"] - d["cohort"], -1000)
    common = {"yname": "exports", "first_stage": "~ 0 | firm + year", "treatment": "treat",
              "cluster": "consortium"}  # fmt: skip
    fit = pf.did2s(d, second_stage="~ i(treat)", **common)
    assert abs(float(fit.coef().iloc[0]) - ours.headline.estimate) < 1e-6
    assert abs(float(fit.se().iloc[0]) - ours.headline.std_error) < 1e-6
    fit_e = pf.did2s(d, second_stage="~ i(rel, ref=-1000)", **common)
    e_ref = [int(float(n.split("::")[1])) for n in fit_e.coef().index]
    mine = event_table(ours).loc[e_ref]
    np.testing.assert_allclose(fit_e.coef().to_numpy(), mine["estimate"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit_e.se().to_numpy(), mine["std_error"], rtol=0, atol=1e-6)
    # the event-time covariance too
    np.testing.assert_allclose(np.asarray(fit_e._vcov), ours.vcov, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- (c) diff-diff


def test_imputation_matches_diff_diff(unbalanced_panel):
    """diff-diff ``ImputationDiD`` (3.13, default ``aux_partition="cohort_horizon"``, no
    leave-one-out) on an unbalanced panel, clustered by consortium: the ATT, event-time and
    cohort effects and their BJS conservative SEs; the pre-trend Wald statistic (diff-diff's
    ``F * df``; it leaves lead -1 out where policylab leaves the earliest lead out, which
    is the same hypothesis "all leads equal" when every pre-period carries a lead).
    Largest difference seen: ~1e-11 (estimates), ~1e-12 (SEs)."""
    dd = pytest.importorskip("diff_diff")
    ours = imputation(unbalanced_panel, **KW)
    est = dd.ImputationDiD(cluster="consortium")
    res = est.fit(unbalanced_panel, outcome="exports", unit="firm", time="year",
                  first_treat="cohort")  # fmt: skip
    assert abs(res.overall_att - ours.headline.estimate) < 1e-8
    assert abs(res.overall_se - ours.headline.std_error) < 1e-8
    es = res.aggregate("event_study").to_dataframe()
    es = es[~es["is_reference"]].set_index("event_time")
    mine = event_table(ours)
    assert es.index.tolist() == mine.index.tolist()
    np.testing.assert_allclose(es["att"], mine["estimate"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(es["se"], mine["std_error"], rtol=0, atol=1e-8)
    grp = res.aggregate("group").to_dataframe()
    np.testing.assert_allclose(grp["att"], [e.estimate for e in ours.by_cohort], atol=1e-8)
    np.testing.assert_allclose(grp["se"], [e.std_error for e in ours.by_cohort], atol=1e-8)
    pt = res.pretrend_test()
    assert pt["df"] == ours.pretrend.df
    assert ours.pretrend.statistic == pytest.approx(pt["f_stat"] * pt["df"], rel=1e-8)


# --------------------------------------------------------------------------- (d) pre-trends


def test_pretrend_test_has_size_and_power(make_panel):
    """400 firms in 40 consortia, 10 years, noise 1 (seeded). A linear pre-trend of 0.3 per
    year before joining is rejected at p < 1e-10 (seeds 21-28 give p < 1e-18); without it
    seed 21 gives p = 0.64 (seeds 21-28: 0.02 to 0.77, as a uniform p-value should)."""
    df = make_panel(n_firms=400, n_consortia=40, seed=21)
    e = df["year"] - df["cohort"]
    lead = (df["cohort"] > 0) & (e < 0)
    clean = imputation_pretrend_test(df, **KW)
    assert clean.p_value > 0.05 and clean.df >= 5 and clean.source == "imputation"
    tilted = df.assign(exports=df["exports"] + np.where(lead, 0.3 * e, 0.0))
    bad = imputation_pretrend_test(tilted, **KW)
    assert bad.p_value < 1e-10
    res = imputation(tilted, **KW)  # attached to the result
    assert res.pretrend.statistic == pytest.approx(bad.statistic)
    few = imputation_pretrend_test(tilted, **KW, leads=2)
    assert few.terms == ("event_time::-1", "event_time::-2") and few.df == 2


# --------------------------------------------------------------------------- (e) recovery


@pytest.mark.parametrize("estimator", [imputation, did2s])
def test_constant_effect_recovered(make_panel, estimator):
    df = make_panel(n_firms=300, effect=0.7, noise=2.0, n_consortia=30, seed=5)
    res = estimator(df, **KW)
    h = res.headline
    assert h.conf_low < 0.7 < h.conf_high
    assert 0.0 < h.std_error < 0.5 and h.p_value < 0.05
    assert res.method == estimator.__name__ and res.spec["estimator"] == estimator.__name__
    assert res.n_clusters == 30 and res.n_obs == len(df)


# --------------------------------------------------------------------------- (f) bad input


def test_always_treated_firm_is_named(make_panel):
    df = make_panel(n_firms=40, seed=1)
    df.loc[df["firm"] == "F001", "cohort"] = 2010  # treated from its first year
    with pytest.raises(ValueError, match=r"no untreated observation.*F001"):
        imputation(df, **KW)


def test_period_without_untreated_observation_is_named(make_panel):
    df = make_panel(n_firms=40, seed=1, share_never=0.0, cohorts=(2013, 2015))
    with pytest.raises(ValueError, match=r"period.*no untreated observation.*2015"):
        did2s(df, **KW)


def test_no_treated_units(make_panel):
    df = make_panel(n_firms=40, seed=1).assign(cohort=0)
    with pytest.raises(DiDInputError, match="no treated observations"):
        imputation(df, **KW)


def test_disconnected_untreated_graph():
    """Firm a is untreated only in years 1-2, the others only in 3-4: a's treated year 3
    has an untreated period effect but one not comparable with a's firm effect."""
    df = pd.DataFrame({
        "firm": ["a", "a", "a", "b", "b", "c", "c"], "year": [1, 2, 3, 3, 4, 3, 4],
        "cohort": [3, 3, 3, 0, 0, 0, 0], "exports": [1.0, 2.0, 3.0, 3.0, 4.0, 2.0, 5.0],
        "consortium": [1, 1, 1, 2, 2, 3, 3],
    })  # fmt: skip
    with pytest.raises(ValueError, match=r"'firm': a\) (is|are) not connected"):
        imputation(df, **KW)


# --------------------------------------------------------------------------- result


def test_result_fields(balanced):
    res = imputation(balanced, **KW)
    assert isinstance(res, ImputationResult)
    assert res.tidy("overall")["term"].tolist() == ["att"]
    assert (res.tidy()["event_time"] >= 0).all()
    assert res.vcov.shape == (len(res.estimates),) * 2
    assert "pre-trend" in repr(res)
    json.dumps(res.to_dict())
    assert res.to_dict()["pretrend"]["test"] == "pretrend_wald"
    assert did2s(balanced, **KW).pretrend is None
