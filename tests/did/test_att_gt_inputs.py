"""``att_gt`` refuses bad input at the boundary, with messages that name the problem.

Peers' failure modes guarded against (docs/peers.md): arguments silently re-read (unknown or
invalid options must raise and name the allowed set), a time-invariant treatment silently
giving ATT = 0 (a degenerate design is a DesignError), text years giving a raw TypeError, and
cells without a comparison group silently turning into NA (they are skipped with a typed
warning and listed in the result).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policylab.did import NoComparisonWarning, att_gt
from policylab.errors import DesignError, FewClustersWarning, PolicylabWarning, UserError

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}


@pytest.fixture
def panel(make_panel) -> pd.DataFrame:
    return make_panel(n_firms=80, seed=17)


@pytest.mark.parametrize(
    ("arg", "value", "allowed"),
    [
        ("control_group", "nevertreated", "'never_treated', 'not_yet_treated'"),
        ("control_group", "notyet", "'never_treated', 'not_yet_treated'"),
        ("method", "DR", "'dr', 'ipw', 'reg'"),
        ("method", "twfe", "'dr', 'ipw', 'reg'"),
        ("base_period", "Universal", "'varying', 'universal'"),
    ],
)
def test_unknown_option_names_the_allowed_set(panel, arg, value, allowed):
    with pytest.raises(ValueError, match=f"{arg} must be one of {allowed}; got '{value}'"):
        att_gt(panel, **KW, **{arg: value})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": 1}, TypeError, "method must be one of"),
        ({"panel": "yes"}, TypeError, "panel must be True or False"),
        ({"bootstrap": True}, TypeError, "number of multiplier bootstrap draws"),
        ({"bootstrap": 1}, ValueError, "at least 2 draws"),
        ({"bootstrap": 99.0}, TypeError, "bootstrap must be None"),
        ({"seed": "x"}, TypeError, "seed must be None or an integer"),
        ({"alpha": 1.5}, ValueError, "alpha must be in"),
        ({"anticipation": -1}, ValueError, "anticipation must be >= 0"),
        ({"anticipation": 0.5}, TypeError, "anticipation must be an integer"),
        ({"covariates": 3}, TypeError, "covariates must be a list"),
        ({"covariates": ["consortium", "consortium"]}, ValueError, "same column twice"),
        ({"cluster": ["consortium", "firm"]}, ValueError, "one-way clustering"),
        ({"unit": None}, ValueError, "unit is required with panel=True"),
    ],
)
def test_invalid_arguments_raise(panel, kwargs, error, match):
    with pytest.raises(error, match=match):
        att_gt(panel, **{**KW, **kwargs})


def test_unknown_keyword_is_a_type_error(panel):
    with pytest.raises(TypeError, match="unexpected keyword argument 'treated'"):
        att_gt(panel, **KW, treated="member")
    with pytest.raises(TypeError):
        att_gt(panel, "exports", "firm", "year", "cohort")  # options are keyword-only


def test_missing_column_is_named(panel):
    with pytest.raises(ValueError, match=r"'region' \(argument cluster=\) not found") as err:
        att_gt(panel, **KW, cluster="region")
    assert isinstance(err.value, UserError)
    with pytest.raises(ValueError, match=r"'sales' \(argument covariates\[0\]=\) not found"):
        att_gt(panel, **KW, covariates=["sales"])


def test_text_years_are_rejected_by_name(panel):
    df = panel.assign(year=panel["year"].astype(str))
    with pytest.raises(ValueError, match=r"column 'year' \(argument time=\) must be numeric"):
        att_gt(df, **KW)


def test_fractional_cohorts_are_rejected(panel):
    df = panel.assign(cohort=panel["cohort"] + 0.5)
    with pytest.raises(ValueError, match="whole numbers"):
        att_gt(df, **KW)


def test_negative_cohort_is_rejected(panel):
    df = panel.assign(cohort=np.where(panel["cohort"] == 0, -1, panel["cohort"]))
    with pytest.raises(ValueError, match="0 for never treated"):
        att_gt(df, **KW)


def test_cohort_changing_within_firm_is_a_design_error(panel):
    df = panel.copy()
    df.loc[df.index[5], "cohort"] = 2019
    with pytest.raises(DesignError, match="constant within each unit"):
        att_gt(df, **KW)


def test_time_varying_covariate_is_refused(panel):
    with pytest.raises(DesignError, match="covariates must be time-invariant"):
        att_gt(panel, **KW, covariates=["member"])


def test_duplicated_firm_year_is_refused(panel):
    df = pd.concat([panel, panel.iloc[:3]])
    with pytest.raises(ValueError, match="3 duplicated \\('firm', 'year'\\) pairs"):
        att_gt(df, **KW)


def test_missing_cohort_is_refused(panel):
    df = panel.astype({"cohort": "float64"})
    df.loc[df.index[0], "cohort"] = np.nan
    with pytest.raises(ValueError, match="'cohort' \\(argument cohort=\\) has 1 missing value"):
        att_gt(df, **KW)


def test_time_invariant_treatment_is_a_design_error(panel):
    """krl-causal-policy-toolkit reported ATT = 0.0000 for a treatment flag that never
    changes (peers.md). No cohort within the window means nothing to estimate."""
    with pytest.raises(DesignError, match="no unit is first treated within the sample"):
        att_gt(panel.assign(cohort=0), **KW)
    with pytest.raises(DesignError, match="every unit is treated from the first period"):
        att_gt(panel.assign(cohort=2010), **KW)


def test_never_treated_comparison_without_never_treated_units(panel):
    df = panel[panel["cohort"] > 0]
    with pytest.raises(DesignError, match="use control_group='not_yet_treated'"):
        att_gt(df, **KW)
    res = att_gt(df, **KW, control_group="not_yet_treated")
    assert res.att.size > 0


def test_single_cluster_is_a_design_error(panel):
    with pytest.raises(DesignError, match="single cluster"):
        att_gt(panel.assign(one=1), **KW, cluster="one")


def test_cluster_must_nest_units(panel):
    df = panel.assign(shifting=np.arange(len(panel)) % 3)
    with pytest.raises(DesignError, match="units are nested in clusters"):
        att_gt(df, **KW, cluster="shifting")


def test_few_clusters_warn_and_are_recorded(panel):
    with pytest.warns(FewClustersWarning, match="only"):
        res = att_gt(panel, **KW, cluster="consortium")
    assert any("few clusters" in w for w in res.warnings)


def test_cells_without_comparison_units_are_skipped_with_a_typed_warning(make_panel):
    """A cell whose comparison units are all trimmed (treated share >= 99.5%, R DRDID) or
    that has no comparison observations in a period is skipped, warned about and listed."""
    df = make_panel(n_firms=80, seed=2, share_never=0.3)
    never = df.loc[df["cohort"] == 0, "firm"].unique()
    # the never-treated firms are not observed in 2016: no comparison units in that period
    df = df[~(df["firm"].isin(never) & (df["year"] == 2016))]
    with pytest.warns(NoComparisonWarning, match="no comparison observations") as rec:
        res = att_gt(df, **KW)
    assert issubclass(rec[0].category, PolicylabWarning)
    assert 2016 not in set(res.time)
    assert any("not estimated" in w and "(2013,2016)" in w for w in res.warnings)


def test_trimmed_comparison_group_skips_dr_but_not_reg():
    rng = np.random.default_rng(0)
    years = np.arange(2010, 2014)
    cohorts = np.r_[np.full(400, 2012), 0]  # 400 treated firms, 1 never-treated firm
    df = pd.DataFrame({
        "firm": np.repeat(np.arange(cohorts.size), years.size),
        "year": np.tile(years, cohorts.size),
        "cohort": np.repeat(cohorts, years.size),
        "exports": rng.normal(size=cohorts.size * years.size),
    })  # fmt: skip
    with (
        pytest.raises(DesignError, match="no group-time cell has a valid comparison group"),
        pytest.warns(NoComparisonWarning, match="trimming level"),
    ):
        att_gt(df, **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = att_gt(df, **KW, method="reg")
    assert res.att.size == 3


def test_late_cohort_counts_as_never_treated(panel):
    df = panel.copy()
    df.loc[df["cohort"] == 0, "cohort"] = 2030  # joins after the last period
    res = att_gt(df, **KW)
    ref = att_gt(panel, **KW)
    np.testing.assert_allclose(res.att, ref.att, atol=1e-12)
    assert any("after the last period" in w for w in res.warnings)


def test_missing_outcomes_are_dropped_and_reported(panel):
    df = panel.copy()
    df.loc[df.index[:4], "exports"] = np.nan
    res = att_gt(df, **KW)
    assert any("dropped 4 rows with a missing outcome" in w for w in res.warnings)
    assert res.design == "unbalanced_panel"
    assert res.n_obs == len(df) - 4


def test_spec_records_the_request(panel):
    res = att_gt(panel, **KW, method="reg", cluster="firm", bootstrap=19, seed=3)
    assert res.spec == {
        "estimator": "att_gt",
        "outcome": "exports",
        "unit": "firm",
        "time": "year",
        "cohort": "cohort",
        "covariates": [],
        "weights": None,
        "panel": True,
        "control_group": "never_treated",
        "method": "reg",
        "base_period": "varying",
        "anticipation": 0,
        "cluster": "firm",
        "bootstrap": 19,
        "multiplier": "rademacher",
        "seed": 3,
        "alpha": 0.05,
        "design": "panel",
    }
    import json

    json.dumps(res.to_dict())


def test_tidy_columns_are_documented(panel):
    res = att_gt(panel, **KW)
    tidy = res.tidy()
    assert list(tidy.columns) == [
        "term", "group", "time", "event_time", "estimate", "std_error", "statistic",
        "p_value", "conf_low", "conf_high",
    ]  # fmt: skip
    assert str(tidy["group"].dtype) == "Int64"
    assert (tidy["event_time"] == tidy["time"] - tidy["group"]).all()
    boot = att_gt(panel, **KW, bootstrap=99, seed=1).tidy()
    assert list(boot.columns[-2:]) == ["point_conf_low", "point_conf_high"]
    assert (
        (boot["conf_high"] - boot["conf_low"]) >= (boot["point_conf_high"] - boot["point_conf_low"])
    ).all()
