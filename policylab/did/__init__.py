"""Difference-in-differences estimators: DataFrame in, frozen :class:`DiDResult` out.

* :func:`did_2x2`: the canonical two-group, two-period comparison of means.
* :func:`twfe`: static two-way fixed effects, ``y_it = a_i + l_t + b * D_it``.
* :func:`event_study`: dynamic two-way fixed effects with event-time indicators.

All three validate their inputs at the boundary, never modify the caller's data, and report
fixest-compatible cluster-robust (CRV1) standard errors by default (see
:mod:`policylab.did.core.vcov`).
"""

from .estimators.callaway_santanna.aggregate import aggregate
from .estimators.callaway_santanna.att_gt import NoComparisonWarning, att_gt
from .diagnostics.bacon import bacon
from .estimators.dynamic_twfe import event_study
from .estimators.etwfe import etwfe
from .results import DiDResult, Estimate
from .results import BaconResult, CellEstimate, StaggeredResult
from .diagnostics.pretrend import average_pretrend_test, pretrend_test
from .results import AggregateResult, GroupTimeResult, PretrendResult
from .estimators.static_twfe import twfe
from .estimators.sun_abraham import sun_abraham
from .estimators.two_by_two import did_2x2

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
from .inference.randomization import randomization_inference
from .results import FewClusterResult
from .inference.wild import multiplier_bootstrap, wild_bootstrap

__all__ += [
    "FewClusterResult",
    "multiplier_bootstrap",
    "randomization_inference",
    "wild_bootstrap",
]

# sensitivity to parallel-trends violations (issue 7): Rambachan-Roth robust sets
from .diagnostics.honest import HonestDiDResult, honest_did

__all__ += ["HonestDiDResult", "honest_did"]

# minimum detectable effects of a region's design (issue 7)
from .diagnostics.power import (
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
from .inference.few_clusters import FewClusterDecision, few_cluster_inference

__all__ += ["FewClusterDecision", "few_cluster_inference"]
