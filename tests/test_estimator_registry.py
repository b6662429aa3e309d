"""One estimator registry: every place that names estimators reads it."""

from __future__ import annotations

import typing

import policylab.cli as cli
import policylab.config as config
from policylab.did.inference import wild
from policylab.estimators import ESTIMATORS, METHOD_NAMES
from policylab.report import tables


def test_every_output_reads_the_registry():
    assert typing.get_args(config.Method) == METHOD_NAMES
    assert [m.value for m in cli.MethodChoice] == list(METHOD_NAMES)
    assert config.METHOD_LABELS == {n: ESTIMATORS[n].description for n in METHOD_NAMES}
    assert tables.METHOD_LABELS == {n: s.label for n, s in ESTIMATORS.items()}


def test_each_estimator_has_a_fit_and_a_bootstrap_problem():
    for name, spec in ESTIMATORS.items():
        assert spec.name == name
        # a few-cluster bootstrap, or none yet (the analytic interval is kept and flagged)
        assert spec.bootstrap is None or spec.bootstrap in wild.PROBLEM_BUILDERS, name
        assert (spec.fit is not None) == spec.evaluate, name
        if spec.evaluate:
            assert callable(spec.fit_function()), name
    labels = [s.label for s in ESTIMATORS.values()]
    assert len(set(labels)) == len(labels)  # etwfe and etwfe_poisson told apart

# evaluating etwfe and etwfe_poisson together: tests/test_user_errors.py::test_etwfe_and_etwfe_poisson_coexist


def test_the_methods_describe_every_estimator():
    from policylab.report._methods import _ESTIMATOR_TEXT

    assert set(ESTIMATORS) <= set(_ESTIMATOR_TEXT)
