"""The Examples sections of the Callaway-Sant'Anna modules run and show what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["policylab.did.estimators.callaway_santanna.att_gt", "policylab.did.estimators.callaway_santanna.aggregate", "policylab.did.diagnostics.pretrend"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    # import_module returns the module even though policylab.did re-exports same-named functions
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
