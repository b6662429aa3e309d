"""The Examples sections of the public DiD functions run and show what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "policylab.did.estimators.two_by_two",
    "policylab.did.estimators.static_twfe",
    "policylab.did.estimators.dynamic_twfe",
    "policylab.did.core.fixed_effects",
]


@pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")
@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
