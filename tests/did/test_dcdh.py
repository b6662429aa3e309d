"""de Chaisemartin-D'Haultfœuille event study for memberships that switch on and off.

(a) agreement with ``moderndid.did_multiplegt`` (0.2.0, R ``did_multiplegt_dyn`` defaults);
(b) a planted effect that is on while a firm is a member and off after it leaves: recovered
by ``did_multiplegt``, missed by an absorbing estimator (Callaway-Sant'Anna, joining as
permanent); (c) placebos centred on zero without a pre-trend, rejecting with one; (d) bad
input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import policylab.did.estimators.dcdh as dcdh_module
from policylab.did import aggregate, att_gt
from policylab.did.estimators.dcdh import did_multiplegt

EST_TOL = 1e-8
SE_TOL = 1e-6


def onoff_panel(
    n: int = 150,
    periods: int = 8,
    *,
    seed: int = 0,
    effect: float = 1.0,
    pretrend: float = 0.0,
    n_consortia: int = 25,
    first_year: int = 1,
    missing: float = 0.0,
) -> pd.DataFrame:
    """Firm-year panel where membership switches on (joining) and off (leaving).

    A quarter of the firms never join; some start as members and leave (or stay); the rest
    join in a random year and leave a random number of years later (maybe after the end).
    The outcome is ``effect`` higher in member years only. ``pretrend`` adds a slope to the
    joiners' outcome before they join (a violation of parallel trends). ``missing`` is the
    share of outcomes set to NaN.
    """
    rng = np.random.default_rng(seed)
    d = np.zeros((n, periods), dtype=int)
    join = np.full(n, np.inf)
    for i in range(n):
        if i < n // 4:
            continue
        if i >= 2 * n // 5 and rng.random() < 0.3:
            d[i, : min(int(rng.integers(3, periods + 3)) - 1, periods)] = 1
        else:
            j = int(rng.integers(2, periods + 1))
            d[i, j - 1 : min(j + int(rng.integers(1, periods)) - 1, periods)] = 1
            join[i] = j
    t = np.arange(1, periods + 1, dtype=float)
    pre = np.where(np.isfinite(join)[:, None] & (t[None, :] < join[:, None]),
                   pretrend * (t[None, :] - np.where(np.isfinite(join), join, 0.0)[:, None]), 0.0)
    y = (rng.normal(0, 1, n)[:, None] + 0.1 * t[None, :] + effect * d + pre
         + rng.normal(0, 0.5, (n, periods)))
    if missing:
        y[rng.random(y.shape) < missing] = np.nan
    firm = np.repeat(np.arange(n), periods)
    return pd.DataFrame({
        "firm": firm,
        "year": np.tile(np.arange(periods) + first_year, n),
        "member": d.ravel(),
        "exports": y.ravel(),
        "consortium": rng.integers(0, n_consortia, n)[firm],
    })


def _moderndid(df, **kw):
    moderndid = pytest.importorskip("moderndid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return moderndid.did_multiplegt(df, yname="exports", tname="year", idname="firm",
                                        dname="member", **kw)


def _ours(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return did_multiplegt(df, outcome="exports", unit="firm", time="year",
                              treatment="member", **kw)


# --- (a) agreement with moderndid ------------------------------------------------------------

CASES = [
    # (panel arguments, options shared by both)
    ({"seed": 0}, {"effects": 4, "placebo": 3}),
    ({"seed": 1, "first_year": 2010}, {"effects": 5, "placebo": 2}),
    ({"seed": 2, "missing": 0.05}, {"effects": 3, "placebo": 2}),
    ({"seed": 3, "n": 90, "periods": 6}, {"effects": 3, "placebo": 2, "only_never_switchers": True}),
    ({"seed": 4}, {"effects": 3, "placebo": 2, "switchers": "in"}),
    ({"seed": 5}, {"effects": 3, "placebo": 1, "switchers": "out"}),
]


def _compare(df, opts, cluster, monkeypatch):
    mine = dict(opts)
    theirs = dict(opts)
    if "switchers" in theirs:
        theirs["switchers"] = {"both": ""}.get(theirs["switchers"], theirs["switchers"])
    # moderndid 0.2.0 counts a missing cluster as one more cluster in its degrees-of-freedom
    # factors (polars n_unique counts null; R's uniqueN does not): reproduce it to compare.
    monkeypatch.setattr(dcdh_module, "_MODERNDID_NULL_CLUSTER", True)
    res = _ours(df, cluster=cluster, **mine)
    md = _moderndid(df, cluster=cluster, **theirs)
    ref = [(-1 - int(-h), e, s) for h, e, s in zip(md.placebos.horizons, md.placebos.estimates,
                                                   md.placebos.std_errors)] if md.placebos else []
    ref += [(int(h) - 1, e, s) for h, e, s in zip(md.effects.horizons, md.effects.estimates,
                                                  md.effects.std_errors)]
    ref = sorted((e, est, se) for e, est, se in ref if np.isfinite(est))
    tidy = res.tidy()
    assert tidy["event_time"].tolist() == [e for e, _, _ in ref]
    d_est = np.abs(tidy["estimate"].to_numpy() - np.array([x for _, x, _ in ref]))
    d_se = np.abs(tidy["std_error"].to_numpy() - np.array([s for _, _, s in ref]))
    return float(d_est.max()), float(d_se.max()), res, md


@pytest.mark.parametrize("cluster", [None, "consortium"])
@pytest.mark.parametrize(("panel", "opts"), CASES)
def test_matches_moderndid(panel, opts, cluster, monkeypatch):
    """Effects and placebos agree with moderndid.did_multiplegt 0.2.0 (its defaults, which are
    R did_multiplegt_dyn's: not-yet switchers, conservative variance, no normalisation);
    largest differences over these 12 fits: 2.2e-16 (estimates), 5.6e-17 (SEs)."""
    df = onoff_panel(**panel)
    d_est, d_se, res, md = _compare(df, opts, cluster, monkeypatch)
    assert d_est < EST_TOL
    assert d_se < SE_TOL
    assert res.n_units == md.n_units
    # the covariance of the estimates is the one the SEs come from
    np.testing.assert_allclose(np.sqrt(np.diag(res.vcov)), res.tidy()["std_error"], rtol=1e-12)


def test_average_total_effect_matches_moderndid_for_one_effect():
    """With one horizon the average total effect is DID_1 (|D_F - D_1| = 1 for 0/1); moderndid
    clusters neither it nor (with several horizons) weights dD_l as R, so compare unclustered."""
    df = onoff_panel(seed=7)
    res = _ours(df, effects=1)
    md = _moderndid(df, effects=1)
    assert abs(res.headline.estimate - md.ate.estimate) < EST_TOL
    assert abs(res.headline.std_error - md.ate.std_error) < SE_TOL


def test_clustered_dof_differs_from_moderndid_only_by_null_count():
    """Without the reproduction switch the clustered SEs follow R (a missing cluster is not a
    cluster): the estimates are the same and the SEs differ a little."""
    df = onoff_panel(seed=0)
    res = _ours(df, effects=3, placebo=2, cluster="consortium")
    md = _moderndid(df, effects=3, placebo=2, cluster="consortium")
    effects = res.tidy().query("event_time >= 0")
    np.testing.assert_allclose(effects["estimate"], md.effects.estimates, atol=EST_TOL)
    rel = np.abs(effects["std_error"].to_numpy() / md.effects.std_errors - 1)
    assert 0 < rel.max() < 0.2


# --- (b) a membership effect that switches off -------------------------------------------------


def leave_after_two_panel(seed: int = 0, tau: float = 1.0) -> pd.DataFrame:
    """Firms join in 2013..2016 and leave two years later; effect ``tau`` in member years."""
    rng = np.random.default_rng(seed)
    n, years = 400, np.arange(2010, 2021)
    join = np.where(np.arange(n) < 120, 0, rng.choice([2013, 2014, 2015, 2016], n))
    firm = np.repeat(np.arange(n), years.size)
    year = np.tile(years, n)
    j = join[firm]
    member = ((j > 0) & (year >= j) & (year < j + 2)).astype(int)
    y = (rng.normal(0, 1, n)[firm] + 0.05 * (year - 2010) + tau * member
         + rng.normal(0, 0.3, firm.size))
    return pd.DataFrame({"firm": firm, "year": year, "member": member, "exports": y,
                         "cohort": j, "consortium": (firm % 60)})


def test_switching_off_effect_recovered_while_absorbing_estimator_is_biased():
    tau = 1.0
    df = leave_after_two_panel(tau=tau)
    res = _ours(df, effects=4, placebo=2, cluster="consortium")
    tidy = res.tidy().set_index("event_time")
    # truth: tau while a member (switch year and the next), 0 once the firm has left
    truth = {-3: 0.0, -2: 0.0, 0: tau, 1: tau, 2: 0.0, 3: 0.0}
    for e, value in truth.items():
        assert tidy.loc[e, "conf_low"] <= value <= tidy.loc[e, "conf_high"], (e, tidy.loc[e])
    h = res.headline  # per year of membership: tau
    assert h.conf_low <= tau <= h.conf_high

    # Callaway-Sant'Anna treating joining as permanent (cohort = join year) averages member
    # and ex-member years: its overall ATT is far from the membership effect.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = att_gt(df, outcome="exports", unit="firm", time="year", cohort="cohort",
                    cluster="consortium")
        cs = aggregate(gt, "simple")
    assert abs(cs.estimate - tau) > 1.96 * cs.std_error
    assert not (cs.overall.conf_low <= tau <= cs.overall.conf_high)


# --- (c) placebos -----------------------------------------------------------------------------


def _placebo_z(df):
    res = _ours(df, effects=2, placebo=3)
    pl = res.tidy().query("event_time < -1")
    k = len(pl)
    v = res.vcov[:k, :k]
    b = pl["estimate"].to_numpy()
    return pl["statistic"].to_numpy(), float(b @ np.linalg.solve(v, b)), k


def test_placebos_centred_on_zero_without_pretrend():
    from scipy import stats

    zs, rejections = [], 0
    for seed in range(20):
        z, wald, k = _placebo_z(onoff_panel(n=120, seed=100 + seed))
        zs.append(z)
        rejections += stats.chi2.sf(wald, k) < 0.05
    zs = np.concatenate(zs)
    assert abs(zs.mean()) < 0.35  # 60 placebo z-statistics centred on 0
    assert 0.5 < zs.std() < 1.5
    assert rejections <= 3  # the 5% joint test rejects about 1 in 20


def test_placebos_reject_with_pretrend():
    from scipy import stats

    z, wald, k = _placebo_z(onoff_panel(seed=3, pretrend=0.3))
    assert stats.chi2.sf(wald, k) < 1e-6
    assert np.all(np.abs(z) > 2)


# --- result conventions -------------------------------------------------------------------------


def test_result_conventions():
    df = onoff_panel(seed=0)
    res = _ours(df, effects=3, placebo=2, cluster="consortium")
    assert res.method == "dcdh"
    assert res.spec["estimator"] == "dcdh"
    assert res.tidy()["term"].tolist() == [
        "event_time::-3", "event_time::-2", "event_time::0", "event_time::1", "event_time::2"]
    assert res.headline.term == "avg_total_effect"
    assert res.n_clusters == df["consortium"].nunique()
    assert res.n_treated > 0 and res.n_units <= df["firm"].nunique()
    assert any("few clusters" in w for w in res.warnings)
    assert res.vcov.shape == (5, 5)
    # the caller's frame is not modified
    assert list(df.columns) == ["firm", "year", "member", "exports", "consortium"]


def test_horizons_cut_to_what_the_data_identify():
    df = onoff_panel(seed=0, periods=5)
    res = _ours(df, effects=9, placebo=9)
    assert any("effects cut from 9" in w for w in res.warnings)
    assert any("placebos cut from 9" in w for w in res.warnings)


# --- (d) bad input --------------------------------------------------------------------------------


def test_no_switchers_is_a_value_error():
    df = onoff_panel(seed=0)
    df["member"] = np.repeat(np.arange(150) % 2, 8)  # constant within firm
    with pytest.raises(ValueError, match="no switcher"):
        _ours(df)


def test_non_binary_treatment_is_a_value_error():
    df = onoff_panel(seed=0)
    df.loc[3, "member"] = 2
    with pytest.raises(ValueError, match=r"must be 0/1, but holds 2"):
        _ours(df)


def test_missing_treatment_is_a_value_error():
    df = onoff_panel(seed=0).astype({"member": float})
    df.loc[3, "member"] = np.nan
    with pytest.raises(ValueError, match="missing value"):
        _ours(df)


@pytest.mark.parametrize(("kw", "err"), [
    ({"effects": 0}, ValueError),
    ({"placebo": -1}, ValueError),
    ({"switchers": "inn"}, ValueError),
    ({"cluster": "nope"}, ValueError),
    ({"only_never_switchers": "yes"}, TypeError),
])
def test_bad_options(kw, err):
    with pytest.raises(err):
        _ours(onoff_panel(seed=0, n=40), **kw)
