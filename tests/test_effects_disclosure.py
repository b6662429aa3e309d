"""Disclosure control reaches the impact estimates: an effect resting on fewer firms than
``lab.min_cell_firms`` is not published, like any other cell."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("minimum", "published"), [(2, True), (3, False)])
def test_effects_on_fewer_firms_than_the_minimum_are_not_published(tiny_lab, minimum, published):
    """The tiny lab has 2 member and 2 never-member firms: its effects, event-time terms and
    diagnostics describe those firms, so they follow lab.min_cell_firms like every cell."""
    import policylab

    cfg = policylab.load_config(tiny_lab)
    cfg = cfg.model_copy(update={"lab": cfg.lab.model_copy(update={"min_cell_firms": minimum})})
    result = policylab.evaluate(cfg, write=False)
    assert bool(result.effects) is published
    assert bool(result.diagnostics) is published
    said = [w for w in result.warnings if "not published" in w]
    assert (said == []) is published
    if not published:
        assert all("only 2 member firm(s)" in w and "min_cell_firms = 3" in w for w in said)
        assert len(said) == 2  # one per outcome
