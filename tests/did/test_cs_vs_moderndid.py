"""Differential tests: ``att_gt``/``aggregate`` against moderndid 0.2 on random panels.

moderndid ports R ``did``'s ``att_gt``/``aggte``; on the same data and options both must give
the same group-time ATTs and the same analytic, unclustered standard errors to 1e-8
(we see ~1e-13). Designs: balanced panels with and without (time-invariant) covariates,
never-treated and not-yet-treated comparison groups, all three estimators, sampling weights,
anticipation, a universal base period, repeated cross-sections, and unbalanced panels.

Two places where moderndid cannot be the reference (docs/peers.md):

* unbalanced panels: moderndid crashes with ``allow_unbalanced_panel=True`` (TypeError).
  R ``did`` then uses the repeated cross-section estimators and sums the influence function
  within unit. The ATTs are therefore compared with moderndid's repeated cross-section fit
  (``panel=False``) and the standard errors with that fit's row-level influence function
  summed by unit here in the test, R's construction;
* clustered standard errors: moderndid averages the influence function within clusters (and
  ignores clusters in analytic SEs); those are tested against a hand-built cluster-sum
  sandwich in ``test_att_gt_invariances.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt

moderndid = pytest.importorskip("moderndid", reason="differential tests need moderndid")
pl = pytest.importorskip("polars")

ATOL_ATT = 1e-8
RTOL_SE = 1e-8


def random_panel(seed: int, n: int = 240, T: int = 6, never: float = 0.3) -> pd.DataFrame:
    """Staggered panel whose untreated trend depends on a covariate that also predicts the
    cohort (so covariates matter), with heterogeneous dynamic effects."""
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2001 + T)
    x = rng.normal(size=n)
    cohorts = np.array([0, 2003, 2004, 2006])
    p = [never, (1 - never) / 3, (1 - never) / 3, (1 - never) / 3]
    g = rng.choice(cohorts, size=n, p=p)
    g = np.where((x > 1.0) & (g == 0), 2004, g)
    G = np.repeat(g, T)
    year = np.tile(years, n)
    X = np.repeat(x, T)
    y = (
        np.repeat(rng.normal(size=n), T)
        + 0.3 * (year - 2000)
        + 0.5 * X * (year - 2000) / T
        + ((G > 0) & (year >= G)) * (1 + 0.2 * (year - G))
        + rng.normal(size=n * T)
    )
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n) + 100, T),
            "t": year,
            "g": G,
            "x": X,
            "y": y,
            "w": np.repeat(rng.uniform(0.5, 2.0, size=n), T),
        }
    )


def moderndid_sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in moderndid's internal order (period, cohort with never = inf, id), so that the
    rows of its repeated cross-section influence function line up with ``df``."""
    g = df["g"].where(df["g"] > 0, np.inf)
    return df.assign(_g=g).sort_values(["t", "_g", "id"]).drop(columns="_g").reset_index(drop=True)


def fit_moderndid(df: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return moderndid.att_gt(
            data=pl.from_pandas(df), yname="y", tname="t", gname="g", boot=False, cband=False, **kw
        )


CASES = {
    # name: (att_gt options, moderndid options)
    "never-dr": ({}, {}),
    "notyet-dr": ({"control_group": "not_yet_treated"}, {"control_group": "notyettreated"}),
    "never-dr-x": ({"covariates": ["x"]}, {"xformla": "~x"}),
    "never-ipw-x": ({"covariates": ["x"], "method": "ipw"}, {"xformla": "~x", "est_method": "ipw"}),
    "never-reg-x": ({"covariates": ["x"], "method": "reg"}, {"xformla": "~x", "est_method": "reg"}),
    "notyet-dr-x": (
        {"covariates": ["x"], "control_group": "not_yet_treated"},
        {"xformla": "~x", "control_group": "notyettreated"},
    ),
    "notyet-ipw-x-universal": (
        {
            "covariates": ["x"],
            "method": "ipw",
            "control_group": "not_yet_treated",
            "base_period": "universal",
        },
        {
            "xformla": "~x",
            "est_method": "ipw",
            "control_group": "notyettreated",
            "base_period": "universal",
        },
    ),
    "never-dr-x-weights": (
        {"covariates": ["x"], "weights": "w"},
        {"xformla": "~x", "weightsname": "w"},
    ),
    "notyet-reg-anticipation": (
        {"method": "reg", "control_group": "not_yet_treated", "anticipation": 1},
        {"est_method": "reg", "control_group": "notyettreated", "anticipation": 1},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_balanced_panel_matches_moderndid(case):
    ours, theirs = CASES[case]
    df = random_panel(seed=sum(map(ord, case)))
    res = att_gt(df, outcome="y", unit="id", time="t", cohort="g", **ours)
    ref = fit_moderndid(df, idname="id", **theirs)
    np.testing.assert_array_equal(res.group, ref.groups)
    np.testing.assert_array_equal(res.time, ref.times)
    np.testing.assert_allclose(res.att, ref.att_gt, rtol=0, atol=ATOL_ATT)
    finite = np.isfinite(ref.se_gt)
    np.testing.assert_array_equal(np.isfinite(res.se), finite)
    np.testing.assert_allclose(res.se[finite], ref.se_gt[finite], rtol=RTOL_SE)
    if "weights" in ours:
        # moderndid's aggte drops the sampling weights from the group shares (its MP object
        # has weights_ind=None); R did weights them (pg = mean(w * 1{G = g})). Weighted
        # aggregation is checked by hand in test_aggregate.py.
        assert ref.weights_ind is None
        return
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg = aggregate(res, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = moderndid.aggte(ref, type=kind)
        assert agg.estimate == pytest.approx(other.overall_att, abs=ATOL_ATT)
        assert agg.std_error == pytest.approx(other.overall_se, rel=RTOL_SE)
        if kind != "simple":
            np.testing.assert_allclose(agg.estimates, other.att_by_event, atol=ATOL_ATT)
            ok = np.isfinite(other.se_by_event)
            np.testing.assert_allclose(agg.std_errors[ok], other.se_by_event[ok], rtol=RTOL_SE)


RCS_CASES = {
    "dr": {},
    "dr-x": {"covariates": ["x"]},
    "ipw-x": {"covariates": ["x"], "method": "ipw"},
    "reg-x-notyet": {"covariates": ["x"], "method": "reg", "control_group": "not_yet_treated"},
}


def _theirs(ours: dict) -> dict:
    out: dict = {}
    if "covariates" in ours:
        out["xformla"] = "~x"
    if "method" in ours:
        out["est_method"] = ours["method"]
    if "control_group" in ours:
        out["control_group"] = ours["control_group"].replace("_", "")
    return out


@pytest.mark.parametrize("case", list(RCS_CASES))
def test_repeated_cross_sections_match_moderndid(case):
    ours = RCS_CASES[case]
    df = moderndid_sorted(random_panel(seed=7 + len(case)).sample(frac=0.9, random_state=3))
    res = att_gt(df, outcome="y", unit=None, time="t", cohort="g", panel=False, **ours)
    # every row its own id: moderndid's repeated cross-section n is then the number of rows
    ref = fit_moderndid(
        df.assign(rid=np.arange(len(df))), idname="rid", panel=False, **_theirs(ours)
    )
    assert res.design == "repeated_cross_section"
    np.testing.assert_allclose(res.att, ref.att_gt, rtol=0, atol=ATOL_ATT)
    np.testing.assert_allclose(res.se, ref.se_gt, rtol=RTOL_SE)
    for kind in ("simple", "dynamic"):
        agg = aggregate(res, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = moderndid.aggte(ref, type=kind)
        assert agg.estimate == pytest.approx(other.overall_att, abs=ATOL_ATT)
        assert agg.std_error == pytest.approx(other.overall_se, rel=RTOL_SE)


@pytest.mark.parametrize("case", list(RCS_CASES))
def test_unbalanced_panel_is_rcs_with_unit_level_influence(case):
    ours = RCS_CASES[case]
    df = moderndid_sorted(random_panel(seed=11 + len(case)).sample(frac=0.9, random_state=5))
    with pytest.raises(TypeError):  # peers.md: moderndid crashes on unbalanced panels
        fit_moderndid(df, idname="id", allow_unbalanced_panel=True, **_theirs(ours))
    res = att_gt(df, outcome="y", unit="id", time="t", cohort="g", **ours)
    assert res.design == "unbalanced_panel"
    assert any("unbalanced panel" in w for w in res.warnings)
    ref = fit_moderndid(
        df.assign(rid=np.arange(len(df))), idname="rid", panel=False, **_theirs(ours)
    )
    np.testing.assert_allclose(res.att, ref.att_gt, rtol=0, atol=ATOL_ATT)
    # R did: rescale the row influence function to n_units and sum it within unit
    inf_rows = np.asarray(ref.influence_func)
    ids, unit_of_row = np.unique(df["id"].to_numpy(), return_inverse=True)
    psi = np.zeros((ids.size, inf_rows.shape[1]))
    np.add.at(psi, unit_of_row, inf_rows * (ids.size / inf_rows.shape[0]))
    se = np.sqrt((psi**2).sum(axis=0)) / ids.size
    np.testing.assert_allclose(res.se, se, rtol=RTOL_SE)
    # and the stored influence function is exactly that unit-level one
    order = np.searchsorted(ids, res.units)
    np.testing.assert_allclose(res.influence, psi[order], atol=1e-10)
