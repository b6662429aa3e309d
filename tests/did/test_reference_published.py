"""Published numbers reproduced on real public data shipped by installed packages.

Data: ``mpdta`` (county teen employment, minimum-wage rises; Callaway and Sant'Anna 2021) from
``moderndid``; ``castle`` (Cheng and Hoekstra 2013, as distributed with Cunningham's Mixtape)
and ``organ_donations`` (Kessler and Roth 2014, used in Huntington-Klein's The Effect) from
``causaldata``. Nothing is copied into the repository; each number below is quoted from the
source named next to it, and the tolerance is half a unit of the last printed digit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.did import bacon, did_2x2, etwfe, sun_abraham, twfe

from printed import close

pytestmark = [
    pytest.mark.reference,
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
]


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    moderndid = pytest.importorskip("moderndid")
    df = moderndid.load_mpdta().to_pandas()
    post = (df["first.treat"] > 0) & (df["year"] >= df["first.treat"])
    return df.assign(post=post.astype(int), emp=np.exp(df["lemp"]))


@pytest.fixture(scope="module")
def castle() -> pd.DataFrame:
    causaldata = pytest.importorskip("causaldata")
    return causaldata.castle.load_pandas().data


@pytest.fixture(scope="module")
def organ() -> pd.DataFrame:
    causaldata = pytest.importorskip("causaldata")
    od = causaldata.organ_donations.load_pandas().data
    ca = (od["State"] == "California").astype(int)
    after = (od["Quarter_Num"] > 3).astype(int)
    return od.assign(ca=ca, after=after, treated=ca * after)


# --- TWFE and 2x2 ------------------------------------------------------------------------


def test_twfe_mpdta_fixest(mpdta):
    """bcallaway11/twfeweights README: ``fixest::feols(lemp ~ post | countyreal + year,
    cluster = "countyreal", data = mpdta)`` prints post -0.036549, Std. Error 0.013265,
    t value -2.75526, Pr(>|t|) 0.006079; the same README recombines it as -0.03654894."""
    res = twfe(mpdta, outcome="lemp", unit="countyreal", time="year", treatment="post")
    h = res.headline
    assert close(h.estimate, "-0.036549") and close(h.estimate, "-0.03654894")
    assert close(h.std_error, "0.013265")
    assert close(h.statistic, "-2.75526")
    assert close(h.p_value, "0.006079")
    assert res.n_obs == 2500 and res.n_clusters == 500


def test_twfe_and_2x2_organ_donations_the_effect(organ):
    """The Effect, ch. 18 (Huntington-Klein), as replicated in pyfixest's documentation
    ("Replicating examples from The Effect"): ``Rate ~ Treated | State + Quarter`` gives
    Treated -0.022. With one treated state and one treatment date the 2x2 on the four
    group-period means is the same number exactly."""
    tw = twfe(organ, outcome="Rate", unit="State", time="Quarter_Num", treatment="treated")
    dd = did_2x2(organ, outcome="Rate", treated="ca", post="after", unit="State")
    assert close(tw.headline.estimate, "-0.022")
    assert dd.headline.estimate == pytest.approx(tw.headline.estimate, abs=1e-12)
    assert tw.n_obs == 162 and tw.n_clusters == 27


def test_castle_twfe_and_bacon_decomposition_mixtape(castle):
    """Cunningham, Causal Inference: The Mixtape (2021), ch. 9, Bacon decomposition of
    ``l_homicide ~ post`` with state and year effects on castle.dta (ddtiming output):
    Earlier T vs. Later C weight 0.077, average DD -0.029; Later T vs. Earlier C 0.024,
    0.046; T vs. Never treated 0.899, 0.078. Their weighted sum is the TWFE coefficient,
    0.069. (Transcribed from the book's printed table, not re-checked against a stored copy
    in this repository's history; the bacondecomp CRAN vignette ships its own castle file with
    a different ``post`` coding and prints TWFE 0.0818, which this data set does not give.)"""
    res = bacon(castle, outcome="l_homicide", unit="sid", time="year", treatment="post")
    s = res.summary().set_index("type")
    for kind, weight, est in [
        ("Earlier vs Later Treated", "0.077", "-0.029"),
        ("Later vs Earlier Treated", "0.024", "0.046"),
        ("Treated vs Untreated", "0.899", "0.078"),
    ]:
        assert close(s.loc[kind, "weight"], weight), kind
        assert close(s.loc[kind, "estimate"], est), kind
    fit = twfe(castle, outcome="l_homicide", unit="sid", time="year", treatment="post")
    assert close(fit.headline.estimate, "0.069")
    assert res.estimate == pytest.approx(fit.headline.estimate, abs=1e-10)
    assert fit.n_clusters == 50


# --- Sun and Abraham ---------------------------------------------------------------------

# ura8107/gravitydid README: jwdid(lemp ~ 1, ivar = countyreal, tvar = year,
# gvar = first.treat, never = TRUE) on mpdta, i.e. firm and year effects plus one indicator
# per cohort and event time except -1 with the never treated as reference -- the regression
# fixest::sunab runs -- aggregated with cohort shares: jwdid_simple() and jwdid_event().
SA_MPDTA_EVENT = {
    -3: ("0.02502183", "0.01815434"),
    -2: ("0.02445874", "0.01426679"),
    0: ("-0.01993182", "0.01185754"),
    1: ("-0.05095737", "0.01687068"),
    2: ("-0.13725874", "0.03658948"),
    3: ("-0.10081136", "0.03450427"),
}


def test_sun_abraham_mpdta(mpdta):
    res = sun_abraham(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    assert close(res.headline.estimate, "-0.03995128")
    assert close(res.headline.std_error, "0.01179628")
    tidy = res.tidy().set_index("event_time")
    for e, (est, se) in SA_MPDTA_EVENT.items():
        assert close(tidy.loc[e, "estimate"], est), e
        assert close(tidy.loc[e, "std_error"], se), e
    # R did README / moderndid docs, aggte(type = "dynamic") with never-treated controls:
    # post-treatment event-time effects -0.019932, -0.050957, -0.137259, -0.100811 -- equal
    # to Sun-Abraham's without covariates in a balanced panel.
    for e, est in zip(range(4), ["-0.019932", "-0.050957", "-0.137259", "-0.100811"], strict=True):
        assert close(tidy.loc[e, "estimate"], est)


# --- ETWFE -------------------------------------------------------------------------------

# grantmcdermott/etwfe README: etwfe(lemp ~ 0, gvar = first.treat, gref = 0, tvar = year,
# data = mpdta, vcov = ~countyreal): .Dtreat:first.treat::g:year::t, estimate and SE.
ETWFE_MPDTA_CELLS = {
    (2004, 2004): ("-0.019372", "0.022395"),
    (2004, 2005): ("-0.078319", "0.030506"),
    (2004, 2006): ("-0.136078", "0.035477"),
    (2004, 2007): ("-0.104707", "0.033895"),
    (2006, 2006): ("0.002514", "0.019945"),
    (2006, 2007): ("-0.039193", "0.024023"),
    (2007, 2007): ("-0.043106", "0.018442"),
}


def test_etwfe_linear_mpdta(mpdta):
    res = etwfe(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    cells = res.tidy("cell").set_index(["cohort", "time"])
    assert len(cells) == len(ETWFE_MPDTA_CELLS)
    for key, (est, se) in ETWFE_MPDTA_CELLS.items():
        assert close(cells.loc[key, "estimate"], est), key
        assert close(cells.loc[key, "std_error"], se), key


def test_etwfe_linear_with_covariate_mpdta(mpdta):
    """etwfe README and vignette: etwfe(lemp ~ lpop, ...) then emfx(): simple ATT -0.0506
    (SE 0.0125); emfx(type = "event"): -0.03321 (0.01337), -0.05735 (0.01715), -0.13787
    (0.03079), -0.10954 (0.03232)."""
    res = etwfe(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=["lpop"],
    )
    assert close(res.headline.estimate, "-0.0506") and close(res.headline.std_error, "0.0125")
    tidy = res.tidy().set_index("event_time")
    for e, (est, se) in enumerate(
        [
            ("-0.03321", "0.01337"),
            ("-0.05735", "0.01715"),
            ("-0.13787", "0.03079"),
            ("-0.10954", "0.03232"),
        ]
    ):
        assert close(tidy.loc[e, "estimate"], est), e
        assert close(tidy.loc[e, "std_error"], se), e


def test_etwfe_poisson_mpdta(mpdta):
    """etwfe vignette, "Other families": emp = exp(lemp); etwfe(emp ~ lpop, ..., family =
    "poisson") |> emfx("event"): -25.35 (15.9), 1.09 (40.3), -75.12 (23.2), -101.82 (27.1).
    The standard errors include the uncertainty of the cohort and year effects."""
    res = etwfe(
        mpdta,
        outcome="emp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=["lpop"],
        family="poisson",
    )
    tidy = res.tidy().set_index("event_time")
    for e, (est, se) in enumerate(
        [("-25.35", "15.9"), ("1.09", "40.3"), ("-75.12", "23.2"), ("-101.82", "27.1")]
    ):
        assert close(tidy.loc[e, "estimate"], est), e
        assert close(tidy.loc[e, "std_error"], se), e
