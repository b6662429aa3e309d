"""Options are checked in one place: the allowed set named, the closest one suggested."""

from __future__ import annotations

import pytest

from policylab.did.core.checks import check_choice


def test_an_unknown_option_names_the_allowed_set_and_the_closest():
    with pytest.raises(ValueError, match=r"kind must be one of 'simple', 'dynamic'; got "
                                         r"'dynamc' \(did you mean 'dynamic'\?\)"):
        check_choice("dynamc", "kind", ("simple", "dynamic"))


def test_nothing_close_no_suggestion_and_a_non_string_is_a_type_error():
    with pytest.raises(ValueError, match=r"got 'zzz'$"):
        check_choice("zzz", "kind", ("simple", "dynamic"))
    with pytest.raises(TypeError, match="kind must be one of"):
        check_choice(3, "kind", ("simple", "dynamic"))
    assert check_choice("simple", "kind", ("simple", "dynamic")) == "simple"


def test_estimators_use_it(make_panel):
    from policylab.did import aggregate, att_gt

    panel = make_panel(n_firms=60, n_consortia=12, seed=1)
    gt = att_gt(panel, outcome="exports", unit="firm", time="year", cohort="cohort")
    with pytest.raises(ValueError, match="did you mean 'dynamic'"):
        aggregate(gt, "dinamic")
    with pytest.raises(ValueError, match="did you mean 'not_yet_treated'"):
        att_gt(panel, outcome="exports", unit="firm", time="year", cohort="cohort",
               control_group="not_yet_treatd")


def test_the_number_of_draws_is_called_draws_and_B_still_works(make_panel):
    import warnings

    from policylab.did import few_cluster_inference, twfe, wild_bootstrap

    panel = make_panel(n_firms=60, n_consortia=12, seed=2)
    res = twfe(panel, outcome="exports", unit="firm", time="year", treatment="member",
               cluster="consortium")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        new = wild_bootstrap(res, panel, draws=99, seed=1)
        with pytest.deprecated_call(match="B= is deprecated"):
            old = wild_bootstrap(res, panel, B=99, seed=1)
        assert (old.p_value, old.draws) == (new.p_value, new.draws)
        with pytest.deprecated_call():
            few_cluster_inference(res, panel, B=99)
