"""Callaway-Sant'Anna on ``mpdta`` reproduces the numbers R ``did`` publishes.

Data: ``mpdta`` (500 US counties, 2003-2007; Callaway and Sant'Anna 2021) as shipped in the
``moderndid`` package (``moderndid.load_mpdta()``, a pickled copy of R ``did``'s ``data(mpdta)``;
the column ``first.treat`` is the cohort, 0 = never treated). The data are loaded from the
installed package at test time, never copied into this repository.

Reference numbers and their sources
-----------------------------------
[README]  bcallaway11/did, README.md (devel version 2.5.0), ``att_gt(yname = "lemp",
          tname = "year", idname = "countyreal", gname = "first.treat", xformla = ~1,
          data = mpdta, est_method = "reg")``: ATT(g,t) to 4 decimals, the Wald pre-test
          p-value (0.16812), ``aggte(type = "dynamic")`` and ``aggte(type = "group")``.
[VIGNETTE] bcallaway11/did, vignettes ``did-basics`` (docs/articles/did-basics.md): the same
          call with the default ``est_method = "dr"``; bootstrap standard errors
          (``bstrap = TRUE``, 1000 draws) for ATT(g,t) and ``aggte(type = "dynamic")``;
          ``aggte(type = "dynamic", balance_e = 1)``.
[R 2.3.0] R ``did`` 2.3.0 output with analytic standard errors (``bstrap = FALSE,
          cband = FALSE``; est_method "dr", never treated, varying base period) recorded by
          the StatsPAI project (brycewang-stanford/StatsPAI: its ``sp.aggte`` parity test,
          ``R_AGGTE`` to 10 decimals and ``R_ATT_GT`` to 8 decimals; the simple ATT also in
          tests/orig_parity/results/02_mpdta_original_R.json, -0.0399512751551772 with
          SE 0.0120340127701854).

Analytic standard errors of single cells and aggregation elements are not published to more
than 4 digits; they are checked against ``moderndid`` 0.2 (a port of R ``did`` that matches
[R 2.3.0] to 1e-10 on the aggregates) in ``test_cs_vs_moderndid.py`` and below. No published
numbers exist for the covariate version (``xformla = ~lpop``; the vignette shows only the
call), so it is checked against ``moderndid``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt, pretrend_test

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    moderndid = pytest.importorskip("moderndid", reason="mpdta ships with moderndid (test extra)")
    return moderndid.load_mpdta().to_pandas()


@pytest.fixture(scope="module")
def mw(mpdta):
    return att_gt(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")


# [R 2.3.0] ATT(g,t), 8 decimals
R_ATT_GT = {
    (2004, 2004): -0.01050325,
    (2004, 2005): -0.07042316,
    (2004, 2006): -0.13725874,
    (2004, 2007): -0.10081136,
    (2006, 2004): 0.00652011,
    (2006, 2005): -0.00275082,
    (2006, 2006): -0.00459461,
    (2006, 2007): -0.04122447,
    (2007, 2004): 0.03050666,
    (2007, 2005): -0.00272589,
    (2007, 2006): -0.03108712,
    (2007, 2007): -0.02605441,
}
# [R 2.3.0] aggte overall (estimate, analytic SE), 10 decimals
R_AGGTE = {
    "simple": (-0.0399512752, 0.0120340128),
    "group": (-0.0310182822, 0.0124460593),
    "calendar": (-0.0417004321, 0.0159718519),
    "dynamic": (-0.0772398215, 0.0199649891),
}
# [README]/[VIGNETTE] ATT(g,t) to 4 decimals (identical in both), and the vignette's bootstrap SEs
PUBLISHED_ATT_GT = [
    (2004, 2004, -0.0105, 0.0243),
    (2004, 2005, -0.0704, 0.0331),
    (2004, 2006, -0.1373, 0.0412),
    (2004, 2007, -0.1008, 0.0358),
    (2006, 2004, 0.0065, 0.0230),
    (2006, 2005, -0.0028, 0.0210),
    (2006, 2006, -0.0046, 0.0175),
    (2006, 2007, -0.0412, 0.0196),
    (2007, 2004, 0.0305, 0.0147),
    (2007, 2005, -0.0027, 0.0156),
    (2007, 2006, -0.0311, 0.0179),
    (2007, 2007, -0.0261, 0.0175),
]
# [VIGNETTE] aggte(type = "dynamic"): event time, estimate, bootstrap SE; overall -0.0772 (0.0203)
PUBLISHED_DYNAMIC = [
    (-3, 0.0305, 0.0157),
    (-2, -0.0006, 0.0136),
    (-1, -0.0245, 0.0144),
    (0, -0.0199, 0.0124),
    (1, -0.0510, 0.0163),
    (2, -0.1373, 0.0402),
    (3, -0.1008, 0.0354),
]
# [README] aggte(type = "group"): overall -0.031; groups
PUBLISHED_GROUP = [(2004, -0.0797), (2006, -0.0229), (2007, -0.0261)]
# [VIGNETTE] aggte(type = "dynamic", balance_e = 1): overall -0.0288 (SE 0.0135)
PUBLISHED_BALANCED = [(-2, 0.0065), (-1, -0.0028), (0, -0.0066), (1, -0.0510)]


def test_group_time_atts_match_r_to_8_decimals(mw):
    got = {(g, t): a for g, t, a in zip(mw.group, mw.time, mw.att, strict=True)}
    assert set(got) == set(R_ATT_GT)
    for key, expected in R_ATT_GT.items():
        assert got[key] == pytest.approx(expected, abs=5e-9), key


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_published_group_time_table(mpdta, method):
    """README (est_method = "reg") and vignette ("dr") print the same 4-decimal ATTs."""
    res = att_gt(
        mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", method=method
    )
    tidy = res.tidy()
    for g, t, att, _ in PUBLISHED_ATT_GT:
        row = tidy[(tidy["group"] == g) & (tidy["time"] == t)].iloc[0]
        assert row["estimate"] == pytest.approx(att, abs=5e-5)
        assert row["event_time"] == t - g


@pytest.mark.parametrize("kind", list(R_AGGTE))
def test_aggregations_match_r_to_10_decimals(mw, kind):
    est, se = R_AGGTE[kind]
    agg = aggregate(mw, kind)
    assert agg.estimate == pytest.approx(est, abs=1e-9)
    assert agg.std_error == pytest.approx(se, abs=1e-9)
    assert agg.overall.conf_low == pytest.approx(est - 1.959963984540054 * se, abs=1e-8)


def test_published_dynamic_and_group_elements(mw):
    dyn = aggregate(mw, "dynamic")
    assert dyn.keys.tolist() == [e for e, _, _ in PUBLISHED_DYNAMIC]
    np.testing.assert_allclose(dyn.estimates, [a for _, a, _ in PUBLISHED_DYNAMIC], atol=5e-5)
    assert dyn.estimate == pytest.approx(-0.0772, abs=5e-5)
    grp = aggregate(mw, "group")
    assert grp.keys.tolist() == [g for g, _ in PUBLISHED_GROUP]
    np.testing.assert_allclose(grp.estimates, [a for _, a in PUBLISHED_GROUP], atol=5e-5)
    assert grp.estimate == pytest.approx(-0.031, abs=5e-4)


def test_published_balanced_event_study(mw):
    bal = aggregate(mw, "dynamic", balance_e=1)
    assert bal.keys.tolist() == [e for e, _ in PUBLISHED_BALANCED]
    np.testing.assert_allclose(bal.estimates, [a for _, a in PUBLISHED_BALANCED], atol=5e-5)
    assert bal.estimate == pytest.approx(-0.0288, abs=5e-5)


def test_pretest_p_value_matches_published(mw):
    """README and vignette: 'P-value for pre-test of parallel trends assumption: 0.16812'."""
    test = pretrend_test(mw)
    assert test.df == 5
    assert round(test.p_value, 5) == 0.16812


def test_bootstrap_standard_errors_within_sampling_noise_of_published(mpdta):
    """The vignette's SEs are one multiplier-bootstrap run (1000 draws). Ours (999 draws,
    another random stream) must agree within sampling noise: the IQR-based SE of 1000 draws
    has a relative standard deviation of about 4%, so two runs differ by more than 20% with
    negligible probability."""
    res = att_gt(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        bootstrap=999,
        seed=20240914,
    )
    published = np.array([se for *_, se in PUBLISHED_ATT_GT])
    np.testing.assert_allclose(res.se, published, rtol=0.20)
    # and the bootstrap SEs estimate the analytic ones
    np.testing.assert_allclose(res.se, res.analytic_se, rtol=0.15)
    assert res.uniform_band
    assert 2.2 < res.critical_value < 3.4  # vignette: "about 2.7 instead of 1.96"
    dyn = aggregate(res, "dynamic")
    np.testing.assert_allclose(dyn.std_errors, [s for *_, s in PUBLISHED_DYNAMIC], rtol=0.20)
    assert dyn.std_error == pytest.approx(0.0203, rel=0.20)


def test_analytic_ses_match_moderndid_on_mpdta(mpdta, mw):
    moderndid = pytest.importorskip("moderndid")
    ref = moderndid.att_gt(
        data=moderndid.load_mpdta(),
        yname="lemp",
        tname="year",
        idname="countyreal",
        gname="first.treat",
        boot=False,
        cband=False,
    )
    np.testing.assert_allclose(mw.att, ref.att_gt, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mw.se, ref.se_gt, rtol=1e-10)
    for kind in ("group", "dynamic", "calendar"):
        agg = aggregate(mw, kind)
        other = moderndid.aggte(ref, type=kind)
        np.testing.assert_allclose(agg.estimates, other.att_by_event, atol=1e-12)
        np.testing.assert_allclose(agg.std_errors, other.se_by_event, rtol=1e-10)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_covariate_version_matches_moderndid(mpdta, method):
    """``xformla = ~lpop`` (no published numbers): against moderndid, cells and aggregates."""
    moderndid = pytest.importorskip("moderndid")
    res = att_gt(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=["lpop"],
        method=method,
    )
    ref = moderndid.att_gt(
        data=moderndid.load_mpdta(),
        yname="lemp",
        tname="year",
        idname="countyreal",
        gname="first.treat",
        xformla="~lpop",
        est_method=method,
        boot=False,
        cband=False,
    )
    np.testing.assert_allclose(res.att, ref.att_gt, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.se, ref.se_gt, rtol=1e-8)
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg, other = aggregate(res, kind), moderndid.aggte(ref, type=kind)
        assert agg.estimate == pytest.approx(other.overall_att, abs=1e-10)
        assert agg.std_error == pytest.approx(other.overall_se, rel=1e-8)
