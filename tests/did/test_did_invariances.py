"""Invariants every DiD estimator must keep, whatever the data.

* Row order does not matter (a shuffled frame gives the same result).
* The caller's DataFrame is never modified: same columns, dtypes, index and values.
* An unbalanced panel (a random 90% of a balanced one's rows) runs and gives finite numbers
  (peers crash on firms entering and leaving, see docs/peers.md).
* A planted constant effect of 0.5 is recovered, and pre-period event-study terms are ~0.
* The result is JSON-ready (``to_dict``) and ``tidy()`` has the documented columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from policylab.did import DiDResult, did_2x2, event_study, twfe
from policylab.did.results import TIDY_COLUMNS

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")


def with_2x2_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The panel as a 2x2: firms that ever join vs never; years from 2015 on as "post"."""
    return df.assign(treated=(df["cohort"] > 0).astype(int), post=(df["year"] >= 2015).astype(int))


ESTIMATORS: dict[str, Callable[[pd.DataFrame], DiDResult]] = {
    "did_2x2_panel": lambda d: did_2x2(
        d, outcome="exports", treated="treated", post="post", unit="firm"
    ),
    "did_2x2_pooled": lambda d: did_2x2(d, outcome="exports", treated="treated", post="post"),
    "twfe": lambda d: twfe(d, outcome="exports", unit="firm", time="year", treatment="member"),
    "twfe_two_way": lambda d: twfe(
        d,
        outcome="exports",
        unit="firm",
        time="year",
        treatment="member",
        cluster=["consortium", "year"],
    ),
    "event_study": lambda d: event_study(
        d, outcome="exports", unit="firm", time="year", cohort="cohort", leads=3, lags=3
    ),
}


@pytest.fixture
def panel(make_panel) -> pd.DataFrame:
    df = with_2x2_columns(make_panel(n_firms=50, seed=21))
    df.loc[df.sample(n=7, random_state=3).index, "exports"] = np.nan  # some missing outcomes
    return df


def assert_same_result(a: DiDResult, b: DiDResult) -> None:
    pd.testing.assert_frame_equal(a.tidy(), b.tidy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.vcov, b.vcov, rtol=1e-9, atol=1e-14)
    assert a.headline.estimate == pytest.approx(b.headline.estimate, rel=1e-9, abs=1e-12)
    assert a.headline.std_error == pytest.approx(b.headline.std_error, rel=1e-9)
    counts = ("n_obs", "n_units", "n_treated", "n_clusters")
    assert [getattr(a, c) for c in counts] == [getattr(b, c) for c in counts]
    assert a.vcov_type == b.vcov_type and a.warnings == b.warnings and a.spec == b.spec


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_row_order_does_not_matter(panel, name):
    estimate = ESTIMATORS[name]
    shuffled = panel.sample(frac=1.0, random_state=99)
    assert_same_result(estimate(panel), estimate(shuffled))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_caller_data_is_not_modified(panel, name):
    before = panel.copy(deep=True)
    columns, dtypes, index = list(panel.columns), panel.dtypes.copy(), panel.index.copy()
    ESTIMATORS[name](panel)
    assert list(panel.columns) == columns
    pd.testing.assert_series_equal(panel.dtypes, dtypes)
    pd.testing.assert_index_equal(panel.index, index)
    pd.testing.assert_frame_equal(panel, before)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_ninety_percent_subset_of_balanced_panel_runs(make_panel, name):
    full = with_2x2_columns(make_panel(n_firms=50, seed=22))
    subset = full.sample(frac=0.9, random_state=5)
    res = ESTIMATORS[name](subset)
    assert np.isfinite(res.headline.estimate) and np.isfinite(res.headline.std_error)
    assert res.headline.std_error > 0
    assert res.n_obs <= len(subset)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_result_is_json_ready_and_tidy(panel, name):
    res = ESTIMATORS[name](panel)
    record = json.loads(json.dumps(res.to_dict()))
    assert record["method"] == res.method
    assert record["n_obs"] == res.n_obs
    tidy = res.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS
    assert len(tidy) == len(res.estimates) == res.vcov.shape[0] == res.vcov.shape[1]
    assert any("missing outcome" in w for w in res.warnings)


def test_planted_effect_is_recovered(make_panel):
    df = make_panel(n_firms=200, effect=0.5, share_never=0.35, noise=0.5, seed=31)
    static = twfe(df, outcome="exports", unit="firm", time="year", treatment="member")
    dynamic = event_study(
        df, outcome="exports", unit="firm", time="year", cohort="cohort", leads=3, lags=3
    )
    for res in (static, dynamic):
        h = res.headline
        assert abs(h.estimate - 0.5) < 3 * h.std_error
        assert h.conf_low < 0.5 < h.conf_high
    for est in dynamic.estimates:
        if est.event_time < 0:  # pre-period terms: no anticipation, so ~0
            assert abs(est.estimate) < 3 * est.std_error
        else:
            assert abs(est.estimate - 0.5) < 3 * est.std_error
