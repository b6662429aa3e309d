"""Difference-in-differences estimators: DataFrame in, frozen :class:`DiDResult` out.

* :func:`did_2x2`: the canonical two-group, two-period comparison of means.
* :func:`twfe`: static two-way fixed effects, ``y_it = a_i + l_t + b * D_it``.
* :func:`event_study`: dynamic two-way fixed effects with event-time indicators.

All three validate their inputs at the boundary, never modify the caller's data, and report
fixest-compatible cluster-robust (CRV1) standard errors by default (see
:mod:`policylab.did.vcov`).
"""

from .aggregate import aggregate
from .att_gt import NoComparisonWarning, att_gt
from .bacon import bacon
from .dynamic_twfe import event_study
from .etwfe import etwfe
from .results import DiDResult, Estimate
from .results import BaconResult, CellEstimate, StaggeredResult
from .pretrend import average_pretrend_test, pretrend_test
from .results import AggregateResult, GroupTimeResult, PretrendResult
from .static_twfe import twfe
from .sun_abraham import sun_abraham
from .two_by_two import did_2x2

__all__ = ["DiDResult", "Estimate", "did_2x2", "event_study", "twfe"]
__all__ += ["BaconResult", "CellEstimate", "StaggeredResult", "bacon", "etwfe", "sun_abraham"]
__all__ += [
    "AggregateResult",
    "GroupTimeResult",
    "NoComparisonWarning",
    "PretrendResult",
    "aggregate",
    "att_gt",
    "average_pretrend_test",
    "pretrend_test",
]

# few-cluster inference (issue 7): wild/score/multiplier bootstrap, randomization inference
from .randomization import randomization_inference
from .results import FewClusterResult
from .wild import multiplier_bootstrap, wild_bootstrap

__all__ += [
    "FewClusterResult",
    "multiplier_bootstrap",
    "randomization_inference",
    "wild_bootstrap",
]

# sensitivity to parallel-trends violations (issue 7): Rambachan-Roth robust sets
from .honest import HonestDiDResult, honest_did

__all__ += ["HonestDiDResult", "honest_did"]

# minimum detectable effects of a region's design (issue 7)
from .power import (
    PowerDesign,
    PowerResult,
    mde_for_panel,
    minimum_detectable_effect,
    warn_if_underpowered,
)

__all__ += [
    "PowerDesign",
    "PowerResult",
    "mde_for_panel",
    "minimum_detectable_effect",
    "warn_if_underpowered",
]
from .few_clusters import FewClusterDecision, few_cluster_inference

__all__ += ["FewClusterDecision", "few_cluster_inference"]
