"""Difference-in-differences estimators: DataFrame in, frozen :class:`DiDResult` out.

* :func:`did_2x2`: the canonical two-group, two-period comparison of means.
* :func:`twfe`: static two-way fixed effects, ``y_it = a_i + l_t + b * D_it``.
* :func:`event_study`: dynamic two-way fixed effects with event-time indicators.

All three validate their inputs at the boundary, never modify the caller's data, and report
fixest-compatible cluster-robust (CRV1) standard errors by default (see
:mod:`policylab.did.vcov`).
"""

from .dynamic_twfe import event_study
from .results import DiDResult, Estimate
from .static_twfe import twfe
from .two_by_two import did_2x2

__all__ = ["DiDResult", "Estimate", "did_2x2", "event_study", "twfe"]
