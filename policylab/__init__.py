"""policylab: a policy laboratory for SME internationalisation programmes.

The same steps the ``policylab`` command runs, as a Python API::

    import policylab
    cfg = policylab.load_config("configs/example.toml")
    data = policylab.ingest(cfg)                       # canonical tables per region (EUR)
    result = policylab.evaluate(cfg, write=False)      # indicators + effects, frozen
    result.effects_tidy()

Estimators take a firm-year frame and return frozen results with ``tidy()``:
``did_2x2``, ``twfe``, ``event_study``, ``att_gt`` (+ ``aggregate``, ``pretrend_test``),
``sun_abraham``, ``etwfe``, ``bacon``; inference with few consortia: ``wild_bootstrap``,
``multiplier_bootstrap``, ``randomization_inference``, ``few_cluster_inference`` (the policy
``evaluate`` applies), ``average_pretrend_test``; sensitivity: ``honest_did``. Across
regions: ``synthesize`` (random-effects pooling) and ``shrink`` / ``shrink_pooled`` (each
region's lab-informed planning figure); ``export_margins``; the EU common indicators:
``common_indicators``. Submodules are
imported on first use, so ``import policylab`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__

_EXPORTS = {
    "load_config": "policylab.config",
    "parse_config": "policylab.config",
    "LabConfig": "policylab.config",
    "ingest": "policylab.ingest",
    "LabData": "policylab.ingest",
    "compute_indicators": "policylab.indicators",
    "run": "policylab.pipeline",
    "evaluate": "policylab.pipeline",
    "estimate": "policylab.pipeline",
    "monitoring": "policylab.pipeline",
    "EvaluationResult": "policylab.evaluation",
    "synthesize": "policylab.synthesis",
    "shrink": "policylab.shrinkage",
    "shrink_pooled": "policylab.shrinkage",
    "export_margins": "policylab.margins",
    "common_indicators": "policylab.indicators.common",
    "firm_panel": "policylab.did.panel",
    "did_2x2": "policylab.did",
    "twfe": "policylab.did",
    "event_study": "policylab.did",
    "att_gt": "policylab.did",
    "aggregate": "policylab.did",
    "pretrend_test": "policylab.did",
    "average_pretrend_test": "policylab.did",
    "sun_abraham": "policylab.did",
    "etwfe": "policylab.did",
    "bacon": "policylab.did",
    "wild_bootstrap": "policylab.did",
    "multiplier_bootstrap": "policylab.did",
    "randomization_inference": "policylab.did",
    "few_cluster_inference": "policylab.did",
    "honest_did": "policylab.did",
    "GroupTimeResult": "policylab.did",
    "AggregateResult": "policylab.did",
    "DiDResult": "policylab.did.results",
    "Estimate": "policylab.did.results",
    "write_report": "policylab.report",
    "write_example": "policylab.examples",
    "UserError": "policylab.errors",
    "InputDataError": "policylab.errors",
    "ConfigError": "policylab.errors",
    "DesignError": "policylab.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'policylab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
