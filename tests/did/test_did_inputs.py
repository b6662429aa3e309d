"""Bad input fails at the boundary with a message that names the problem.

Peers' failure modes this guards against (docs/peers.md): an argument silently re-read as
another (so unknown keywords must raise), a time-invariant treatment flag silently giving
ATT = 0 (so a degenerate design must raise), years stored as text giving a raw TypeError (so
a non-numeric column must raise a ValueError naming it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.did import did_2x2, event_study, twfe
from policylab.errors import DesignError, FewClustersWarning, UserError

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")

CALLS = {
    "did_2x2": (
        did_2x2,
        {"outcome": "exports", "treated": "treated", "post": "post", "unit": "firm"},
    ),
    "twfe": (twfe, {"outcome": "exports", "unit": "firm", "time": "year", "treatment": "member"}),
    "event_study": (
        event_study,
        {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"},
    ),
}


@pytest.fixture
def panel(make_panel) -> pd.DataFrame:
    df = make_panel(n_firms=40, seed=12)
    return df.assign(treated=(df["cohort"] > 0).astype(int), post=(df["year"] >= 2015).astype(int))


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("arg", ["outcome", "unit"])
def test_missing_column_names_it_and_lists_available(panel, name, arg):
    func, kwargs = CALLS[name]
    kwargs = {**kwargs, arg: "no_such_column"}
    with pytest.raises(ValueError, match=r"'no_such_column' \(argument " + arg) as err:
        func(panel, **kwargs)
    assert "available columns: 'firm', 'year'" in str(err.value)
    assert isinstance(err.value, UserError)  # the CLI reports it as a data error (exit 2)


@pytest.mark.parametrize("name", ["twfe", "event_study"])
def test_missing_cluster_column_is_named(panel, name):
    func, kwargs = CALLS[name]
    with pytest.raises(ValueError, match=r"'region' \(argument cluster="):
        func(panel, **kwargs, cluster=["consortium", "region"])


@pytest.mark.parametrize("name", list(CALLS))
def test_text_outcome_is_rejected_by_name(panel, name):
    func, kwargs = CALLS[name]
    df = panel.assign(exports=panel["exports"].map("{:.2f}".format))
    with pytest.raises(ValueError, match=r"'exports' \(argument outcome=\) must be numeric"):
        func(df, **kwargs)


@pytest.mark.parametrize("name", ["twfe", "event_study"])
def test_years_as_text_are_rejected_by_name(panel, name):
    func, kwargs = CALLS[name]
    df = panel.assign(year=panel["year"].astype(str))
    with pytest.raises(ValueError, match=r"'year' \(argument time=\) must be numeric"):
        func(df, **kwargs)


@pytest.mark.parametrize("name", list(CALLS))
def test_unknown_keyword_is_a_type_error(panel, name):
    func, kwargs = CALLS[name]
    with pytest.raises(TypeError, match="unexpected keyword argument 'post_period'"):
        func(panel, **kwargs, post_period="post")


@pytest.mark.parametrize("name", list(CALLS))
def test_positional_options_are_refused(panel, name):
    func, _ = CALLS[name]
    with pytest.raises(TypeError):
        func(panel, "exports")


def test_data_must_be_a_dataframe(panel):
    with pytest.raises(TypeError, match="DataFrame"):
        twfe(panel.to_dict("list"), outcome="exports", unit="firm", time="year", treatment="member")


@pytest.mark.parametrize("value", [0, 1])
def test_treatment_that_never_varies_is_a_design_error(panel, value):
    df = panel.assign(member=value)
    with pytest.raises(DesignError, match=f"'member' is {value} in every observation"):
        twfe(df, outcome="exports", unit="firm", time="year", treatment="member")


def test_treatment_flag_constant_within_firms_is_a_design_error(panel):
    # The krl-toolkit pitfall: a group flag used as the treatment silently gave ATT = 0.
    with pytest.raises(DesignError, match="not identified"):
        twfe(panel, outcome="exports", unit="firm", time="year", treatment="treated")


def test_2x2_without_variation_in_groups_is_a_design_error(panel):
    with pytest.raises(DesignError, match="both groups in both periods"):
        did_2x2(panel.assign(treated=1), outcome="exports", treated="treated", post="post")


def test_missing_values_in_design_columns_are_rejected(panel):
    df = panel.astype({"member": float})
    df.loc[5, "member"] = np.nan
    with pytest.raises(ValueError, match=r"'member' \(argument treatment=\) has 1 missing value"):
        twfe(df, outcome="exports", unit="firm", time="year", treatment="member")


@pytest.mark.parametrize("name", list(CALLS))
def test_missing_outcomes_are_dropped_and_counted(panel, name):
    func, kwargs = CALLS[name]
    df = panel.copy()
    df.loc[[2, 50, 51], "exports"] = np.nan
    full = func(panel, **kwargs)
    res = func(df, **kwargs)
    assert res.n_obs == full.n_obs - 3
    assert "dropped 3 rows with missing outcome 'exports'" in res.warnings


def test_duplicate_firm_years_are_rejected(panel):
    df = pd.concat([panel, panel.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"1 duplicated \('firm', 'year'\) pair"):
        twfe(df, outcome="exports", unit="firm", time="year", treatment="member")


def test_one_column_cannot_play_two_roles(panel):
    with pytest.raises(ValueError, match="both as"):
        twfe(panel, outcome="exports", unit="firm", time="year", treatment="year")


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5])
def test_alpha_must_be_a_probability(panel, alpha):
    with pytest.raises(ValueError, match="alpha"):
        twfe(panel, outcome="exports", unit="firm", time="year", treatment="member", alpha=alpha)


def test_more_than_two_cluster_variables_are_refused(panel):
    with pytest.raises(ValueError, match="list of two"):
        twfe(
            panel,
            outcome="exports",
            unit="firm",
            time="year",
            treatment="member",
            cluster=["firm", "year", "consortium"],
        )


@pytest.mark.parametrize("name", list(CALLS))
def test_few_clusters_raise_a_typed_warning_and_a_note(panel, name):
    func, kwargs = CALLS[name]
    with pytest.warns(FewClustersWarning, match="'consortium' has 12 clusters"):
        res = func(panel, **kwargs, cluster="consortium")
    assert any(w.startswith("few clusters:") and "with treated firms" in w for w in res.warnings)


@pytest.mark.filterwarnings("error::policylab.errors.FewClustersWarning")
def test_few_treated_clusters_warn_even_among_many_clusters(make_panel):
    """What matters for CRV1 coverage is the number of treated clusters (peers.md)."""
    few = make_panel(n_firms=80, share_never=0.8, seed=3)
    res = twfe(few, outcome="exports", unit="firm", time="year", treatment="member")
    n_treated = few.loc[few["cohort"] > 0, "firm"].nunique()
    assert n_treated < 30
    assert any(f"'firm' has 80 clusters, only {n_treated} with treated firms" in w for w in res.warnings)


def test_many_treated_clusters_do_not_warn(make_panel):
    many = make_panel(n_firms=120, share_never=0.3, seed=3)
    assert many.loc[many["cohort"] > 0, "firm"].nunique() >= 30
    res = twfe(many, outcome="exports", unit="firm", time="year", treatment="member")
    assert not any("few clusters" in w for w in res.warnings)


def test_estimators_accept_non_string_column_labels(panel):
    df = panel.rename(columns={"exports": 0, "firm": 1})
    res = twfe(df, outcome=0, unit=1, time="year", treatment="member")
    assert res.spec["outcome"] == 0 and res.outcome == "0"
