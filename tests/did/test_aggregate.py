"""``aggregate``: R ``aggte``'s weights, the estimated-weights term, bands and misuse.

The numbers themselves are checked against R's published output (test_att_gt_reference.py)
and moderndid (test_cs_vs_moderndid.py); here: the weights are what the docstring says, the
sampling weights enter the group shares (moderndid drops them), the extra influence-function
term for estimated weights is R's ``wif`` (built here as R builds it, as an n x cells matrix),
bootstrap bands, and errors for options that do not apply.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.did import AggregateResult, aggregate, att_gt
from policylab.did.results import Estimate

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}


@pytest.fixture(scope="module")
def res(make_panel):
    df = make_panel(n_firms=200, seed=41)
    df["w"] = 1.0 + (df["firm"].str[1:].astype(int) % 5)
    return att_gt(df, **KW, weights="w")


def _pg(r):
    groups = np.unique(r.group)
    return groups, np.array([np.mean(r.unit_weight * (r.unit_cohort == g)) for g in groups])


def test_simple_weights_are_weighted_group_shares(res):
    groups, pg = _pg(res)
    agg = aggregate(res, "simple")
    post = res.time >= res.group
    share = pg[np.searchsorted(groups, res.group)] * post
    np.testing.assert_allclose(agg.overall_weights, share / share.sum(), atol=1e-15)
    assert agg.estimate == pytest.approx(res.att @ agg.overall_weights, abs=1e-14)
    assert agg.keys.size == 0 and agg.tidy()["term"].tolist() == ["overall"]


def test_group_and_dynamic_and_calendar_weights(res):
    _, pg = _pg(res)
    grp = aggregate(res, "group")
    for k, g in enumerate(grp.keys):
        sel = (res.group == g) & (res.time >= g)
        np.testing.assert_allclose(grp.weights[k][sel], 1.0 / sel.sum())
        assert grp.weights[k][~sel].sum() == 0
    np.testing.assert_allclose(grp.estimate, grp.estimates @ (pg / pg.sum()), atol=1e-14)
    dyn = aggregate(res, "dynamic")
    np.testing.assert_allclose(dyn.weights.sum(axis=1), 1.0)
    assert dyn.estimate == pytest.approx(dyn.estimates[dyn.keys >= 0].mean(), abs=1e-14)
    cal = aggregate(res, "calendar")
    assert cal.keys.min() == res.group.min()
    assert cal.estimate == pytest.approx(cal.estimates.mean(), abs=1e-14)
    for agg in (grp, dyn, cal):
        np.testing.assert_allclose(agg.estimates, agg.weights @ res.att, atol=1e-14)
        assert agg.overall_weights.sum() == pytest.approx(1.0)


def test_estimated_weights_term_is_r_wif(res):
    """Simple ATT: SE from IF @ w + wif @ att with R's wif matrix, built literally."""
    groups, pg_g = _pg(res)
    keep = np.flatnonzero(res.time >= res.group)
    pg = pg_g[np.searchsorted(groups, res.group)]
    w = pg[keep] / pg[keep].sum()
    G, wi = res.unit_cohort, res.unit_weight
    if1 = np.column_stack([(wi * (G == res.group[k]) - pg[k]) / pg[keep].sum() for k in keep])
    if2 = np.outer(
        np.column_stack([wi * (G == res.group[k]) - pg[k] for k in keep]).sum(axis=1),
        pg[keep] / pg[keep].sum() ** 2,
    )
    psi = res.influence[:, keep] @ w + (if1 - if2) @ res.att[keep]
    se = np.sqrt((psi**2).sum()) / res.n_units
    assert aggregate(res, "simple").std_error == pytest.approx(se, rel=1e-12)
    # ignoring the term gives a different (smaller here) standard error
    assert np.sqrt(((res.influence[:, keep] @ w) ** 2).sum()) / res.n_units != pytest.approx(se)


def test_vcov_matches_standard_errors(res):
    dyn = aggregate(res, "dynamic")
    np.testing.assert_allclose(np.sqrt(np.diag(dyn.vcov)), dyn.std_errors, rtol=1e-12)


def test_window_options(res):
    dyn = aggregate(res, "dynamic", min_e=-2, max_e=2)
    assert dyn.keys.tolist() == [-2, -1, 0, 1, 2]
    bal = aggregate(res, "dynamic", balance_e=2)
    assert bal.keys.max() == 2
    included = np.unique(res.group[np.abs(bal.weights).sum(axis=0) > 0])
    assert (res.time.max() - included >= 2).all()
    capped = aggregate(res, "group", max_e=0)
    np.testing.assert_allclose(
        capped.estimates, [res.att[(res.group == g) & (res.time == g)][0] for g in capped.keys]
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"kind": "event"},
            ValueError,
            "kind must be one of 'simple', 'group', 'dynamic', 'calendar'",
        ),
        ({"kind": "group", "balance_e": 1}, ValueError, "balance_e only applies"),
        ({"kind": "simple", "min_e": -1}, ValueError, "min_e only applies"),
        ({"kind": "calendar", "max_e": 1}, ValueError, "max_e does not apply"),
        ({"kind": "dynamic", "min_e": 2, "max_e": 1}, ValueError, "larger than max_e"),
        ({"kind": "dynamic", "max_e": 1.5}, TypeError, "max_e must be None or an integer"),
        ({"kind": "dynamic", "bootstrap": 1}, ValueError, "bootstrap must be >= 2"),
        ({"kind": "dynamic", "bootstrap": "yes"}, TypeError, "bootstrap must be None"),
        ({"kind": "dynamic", "max_e": -9}, ValueError, "no event times left"),
        ({"kind": "dynamic", "max_e": -2}, ValueError, "no event time >= 0"),
    ],
)
def test_misuse_raises(res, kwargs, error, match):
    with pytest.raises(error, match=match):
        aggregate(res, **kwargs)


def test_requires_a_group_time_result(make_panel):
    with pytest.raises(TypeError, match="GroupTimeResult"):
        aggregate(make_panel(), "simple")


def test_bootstrap_band_is_uniform_and_seeded(res):
    a = aggregate(res, "dynamic", bootstrap=499, seed=7)
    b = aggregate(res, "dynamic", bootstrap=499, seed=7)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    assert a.uniform_band and a.critical_value > 1.96
    tidy = a.tidy()
    assert list(tidy.columns[-2:]) == ["point_conf_low", "point_conf_high"]
    el = tidy.iloc[1:]
    assert (
        (el["conf_high"] - el["conf_low"]) > (el["point_conf_high"] - el["point_conf_low"])
    ).all()
    analytic = aggregate(res, "dynamic", bootstrap=False)
    assert not analytic.uniform_band
    np.testing.assert_allclose(a.std_errors, analytic.std_errors, rtol=0.25)


def test_inherits_bootstrap_from_the_result(make_panel):
    r = att_gt(make_panel(n_firms=120, seed=3), **KW, bootstrap=199, seed=5)
    agg = aggregate(r, "group")
    assert agg.spec["bootstrap"] == 199 and agg.uniform_band
    assert not aggregate(r, "group", bootstrap=False).uniform_band


def test_universal_base_reference_element(make_panel):
    r = att_gt(make_panel(n_firms=120, seed=3), **KW, base_period="universal")
    ref = r.is_reference
    assert ref.sum() == np.unique(r.group).size
    assert (r.att[ref] == 0).all() and np.isnan(r.se[ref]).all()
    dyn = aggregate(r, "dynamic")
    k = list(dyn.keys).index(-1)
    assert dyn.estimates[k] == 0.0 and np.isnan(dyn.std_errors[k])


def test_tidy_and_result_shape(res):
    agg = aggregate(res, "calendar")
    assert isinstance(agg, AggregateResult) and isinstance(agg.overall, Estimate)
    tidy = agg.tidy()
    assert list(tidy.columns) == [
        "term", "group", "event_time", "time", "estimate", "std_error", "statistic",
        "p_value", "conf_low", "conf_high",
    ]  # fmt: skip
    assert tidy["time"].iloc[1:].tolist() == agg.keys.tolist()
    assert tidy["group"].isna().all() and tidy["event_time"].isna().all()
    assert tidy["term"].iloc[1] == f"time::{agg.keys[0]}"
    assert agg.estimate == tidy["estimate"].iloc[0] and agg.std_error == tidy["std_error"].iloc[0]
    import json

    json.dumps(agg.to_dict())


def test_rows_in_any_order_give_the_same_aggregates(res):
    """att_gt sorts the influence-function rows by cohort (the fast path relies on it); a
    result whose rows come in another order aggregates to the same numbers."""
    import dataclasses

    perm = np.random.default_rng(0).permutation(res.n_units)
    shuffled = dataclasses.replace(
        res,
        influence=np.asfortranarray(res.influence[perm]),
        units=res.units[perm],
        unit_cohort=res.unit_cohort[perm],
        unit_weight=res.unit_weight[perm],
    )
    for kind in ("simple", "group", "dynamic", "calendar"):
        a, b = aggregate(res, kind), aggregate(shuffled, kind)
        pd.testing.assert_frame_equal(a.tidy(), b.tidy(), rtol=1e-12, atol=1e-14)
