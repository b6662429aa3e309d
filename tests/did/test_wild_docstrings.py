"""The Examples sections of the few-cluster inference functions run and show what they
claim (wild/multiplier bootstrap, randomization inference, the few-cluster policy)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "policylab.did.inference.wild",
    "policylab.did.inference.randomization",
    "policylab.did.inference.few_clusters",
]


@pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")
@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
