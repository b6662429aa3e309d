"""event_study: equals OLS on explicit firm, year and (binned) event-time dummies.

Event time is ``e = year - cohort`` for firms that join (cohort != 0); ``e < -leads`` is binned
into ``-leads`` and ``e > lags`` into ``lags``; ``e = -1`` is the omitted reference; never-treated
firms get no indicator. The headline ``avg_post`` is ``w'b`` over ``e >= 0`` with ``w``
proportional to the number of treated observations at each event time, and its standard
error is ``sqrt(w'Vw)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from policylab.did import event_study
from policylab.errors import DesignError

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")

LEADS, LAGS = 3, 3


@pytest.fixture
def staggered(make_panel, make_unbalanced) -> pd.DataFrame:
    df = make_unbalanced(make_panel(n_firms=30, years=(2010, 2019), seed=4), 0.9, seed=2)
    assert df.groupby("firm").size().min() >= 2
    return df


def event_dummies(df: pd.DataFrame, leads: int, lags: int) -> pd.DataFrame:
    e = df["year"] - df["cohort"]
    e = e.where(e >= -leads, -leads).where(e <= lags, lags)
    joins = df["cohort"] != 0
    cols = {
        f"event_time::{k}": (joins & (e == k)).astype(float)
        for k in range(-leads, lags + 1)
        if k != -1
    }
    return pd.DataFrame(cols, index=df.index)


def dummy_fit(df: pd.DataFrame, leads: int = LEADS, lags: int = LAGS):
    ev = event_dummies(df, leads, lags)
    firms = pd.get_dummies(df["firm"], dtype=float)
    years = pd.get_dummies(df["year"], dtype=float).iloc[:, 1:]
    x = pd.concat([ev, firms, years], axis=1)
    fit = sm.OLS(df["exports"].to_numpy(), x.to_numpy()).fit()
    p = ev.shape[1]
    # CRV1 by firm with fixest's nested K: p event-time slopes + T (firm effects nested).
    xm = x.to_numpy()
    n = len(df)
    bread = np.linalg.inv(xm.T @ xm)
    _, g_idx = np.unique(df["firm"], return_inverse=True)
    sums = np.zeros((g_idx.max() + 1, xm.shape[1]))
    np.add.at(sums, g_idx, xm * fit.resid[:, None])
    g = sums.shape[0]
    k = p + df["year"].nunique()
    v = g / (g - 1) * (n - 1) / (n - k) * (bread @ sums.T @ sums @ bread)[:p, :p]
    return ev, fit.params[:p], v


def test_coefficients_and_vcov_equal_ols_on_explicit_dummies(staggered):
    ev, beta, v = dummy_fit(staggered)
    res = event_study(
        staggered,
        outcome="exports",
        unit="firm",
        time="year",
        cohort="cohort",
        leads=LEADS,
        lags=LAGS,
    )
    tidy = res.tidy()
    assert tidy["term"].tolist() == list(ev.columns)
    assert tidy["event_time"].tolist() == [-3, -2, 0, 1, 2, 3]
    np.testing.assert_allclose(tidy["estimate"], beta, atol=1e-8)
    np.testing.assert_allclose(res.vcov, v, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(tidy["std_error"], np.sqrt(np.diag(v)), rtol=1e-8)


def test_headline_is_treated_observation_weighted_average_of_post_terms(staggered):
    ev, beta, v = dummy_fit(staggered)
    res = event_study(
        staggered,
        outcome="exports",
        unit="firm",
        time="year",
        cohort="cohort",
        leads=LEADS,
        lags=LAGS,
    )
    post = [c for c in ev.columns if int(c.split("::")[1]) >= 0]
    counts = ev[post].sum()
    w = np.array([counts[c] / counts.sum() if c in post else 0.0 for c in ev.columns])
    assert res.headline.term == "avg_post"
    assert res.headline.event_time is None
    assert res.headline.estimate == pytest.approx(w @ beta, abs=1e-8)
    assert res.headline.std_error == pytest.approx(np.sqrt(w @ v @ w), rel=1e-8)


def test_binning_is_reported(staggered):
    res = event_study(
        staggered,
        outcome="exports",
        unit="firm",
        time="year",
        cohort="cohort",
        leads=LEADS,
        lags=LAGS,
    )
    e = staggered["year"] - staggered["cohort"]
    joins = staggered["cohort"] != 0
    below, above = int((joins & (e < -LEADS)).sum()), int((joins & (e > LAGS)).sum())
    assert below > 0 and above > 0
    note = next(w for w in res.warnings if w.startswith("event times outside the window"))
    assert f"{below} observations before -3 into event_time::-3" in note
    assert f"{above} observations after 3 into event_time::3" in note


def test_counts_and_spec(staggered):
    res = event_study(
        staggered,
        outcome="exports",
        unit="firm",
        time="year",
        cohort="cohort",
        leads=LEADS,
        lags=LAGS,
        cluster="consortium",
    )
    post_rows = (staggered["cohort"] > 0) & (staggered["year"] >= staggered["cohort"])
    assert res.method == "event_study"
    assert res.n_obs == len(staggered)
    assert res.n_units == staggered["firm"].nunique()
    assert res.n_treated == staggered.loc[post_rows, "firm"].nunique()
    assert res.n_clusters == staggered["consortium"].nunique()
    assert res.spec == {
        "estimator": "event_study",
        "outcome": "exports",
        "unit": "firm",
        "time": "year",
        "cohort": "cohort",
        "leads": 3,
        "lags": 3,
        "cluster": "consortium",
        "alpha": 0.05,
    }


def test_event_times_nobody_reaches_are_left_out_and_said(staggered):
    # Earliest cohort 2013 in 2010-2019: event times go down to -7 only, so -8 is empty.
    res = event_study(
        staggered, outcome="exports", unit="firm", time="year", cohort="cohort", leads=8, lags=3
    )
    terms = res.tidy()["term"].tolist()
    assert "event_time::-8" not in terms and "event_time::-7" in terms
    assert any("no observations at event_time::-8" in w for w in res.warnings)
    assert res.vcov.shape == (len(terms), len(terms))


def test_no_never_treated_firms_warns(make_panel):
    df = make_panel(n_firms=30, share_never=0.0, cohorts=(2013, 2015, 2017), seed=8)
    assert (df["cohort"] > 0).all()
    res = event_study(
        df, outcome="exports", unit="firm", time="year", cohort="cohort", leads=3, lags=3
    )
    assert any("no never-treated firms" in w for w in res.warnings)
    assert np.isfinite(res.headline.std_error)


def test_no_never_treated_and_nothing_binned_is_collinear(make_panel):
    # e = year - cohort is then a linear function of firm and year effects.
    df = make_panel(n_firms=30, share_never=0.0, cohorts=(2013, 2015, 2017), seed=8)
    with pytest.raises(DesignError, match="collinear"):
        event_study(
            df, outcome="exports", unit="firm", time="year", cohort="cohort", leads=7, lags=6
        )


def test_cohort_must_be_constant_within_firm(staggered):
    df = staggered.copy()
    first = df.index[df["cohort"] > 0][0]
    df.loc[first, "cohort"] = df.loc[first, "cohort"] + 1
    with pytest.raises(DesignError, match="'cohort' must be constant within each unit"):
        event_study(df, outcome="exports", unit="firm", time="year", cohort="cohort")


def test_nobody_ever_joins_is_a_design_error(staggered):
    df = staggered.assign(cohort=0)
    with pytest.raises(DesignError, match="no firm ever joins"):
        event_study(df, outcome="exports", unit="firm", time="year", cohort="cohort")


@pytest.mark.parametrize(
    ("leads", "lags", "error"), [(0, 3, ValueError), (2, -1, ValueError), (2.5, 3, TypeError)]
)
def test_window_is_validated(staggered, leads, lags, error):
    with pytest.raises(error, match="leads|lags"):
        event_study(
            staggered,
            outcome="exports",
            unit="firm",
            time="year",
            cohort="cohort",
            leads=leads,
            lags=lags,
        )
