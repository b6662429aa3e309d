"""One region's effect as a report reads it: a :class:`DiDResult` with event-time terms and a
headline, whichever estimator produced it.

Callaway–Sant'Anna is the headline estimator of ``evaluate``: its simple aggregation (the
group-size weighted average of all post-joining ATT(g,t)) is the headline number, and its
dynamic aggregation gives the event-time terms of the chart. Both keep their analytic
influence-function standard errors (clustered by summing within clusters).
"""

from __future__ import annotations

import math

import numpy as np

from ...results import AggregateResult, DiDResult, Estimate, GroupTimeResult

CS_METHOD = "callaway_santanna"


def _normal_p(estimate: float, se: float) -> float:
    if not (se > 0 and math.isfinite(se)):
        return float("nan")
    from scipy import stats

    return float(2.0 * stats.norm.sf(abs(estimate) / se))


def cs_headline_result(gt: GroupTimeResult, simple: AggregateResult, dynamic: AggregateResult) -> DiDResult:
    """Package a CS fit as a :class:`DiDResult`.

    ``estimates`` are the dynamic aggregation's event-time effects (pointwise intervals,
    term ``event_time::e``); ``headline`` is the simple aggregation (term ``simple_att``);
    ``vcov`` is the event-time effects' covariance.
    """
    terms = []
    for k, est, se, lo, hi in zip(dynamic.keys, dynamic.estimates, dynamic.std_errors,
                                  dynamic.point_conf_low, dynamic.point_conf_high, strict=True):
        terms.append(Estimate(term=f"event_time::{int(k)}", estimate=float(est), std_error=float(se),
                              conf_low=float(lo), conf_high=float(hi), p_value=_normal_p(float(est), float(se)),
                              event_time=int(k)))
    o = simple.overall
    headline = Estimate(term="simple_att", estimate=o.estimate, std_error=o.std_error, conf_low=o.conf_low,
                        conf_high=o.conf_high, p_value=o.p_value)
    cluster = gt.spec.get("cluster") or gt.spec.get("unit")
    vcov_type = (f"analytic influence function, clustered by {cluster} (summed within clusters, "
                 f"G={gt.n_clusters})")
    spec = {**gt.spec, "aggregation": {"headline": "simple", "event_study": "dynamic",
                                       "min_e": dynamic.spec.get("min_e"), "max_e": dynamic.spec.get("max_e")}}
    notes = tuple(dict.fromkeys((*gt.warnings, *simple.warnings, *dynamic.warnings)))
    return DiDResult(method=CS_METHOD, outcome=gt.spec.get("outcome", simple.outcome), estimates=tuple(terms),
                     headline=headline, vcov=np.asarray(dynamic.vcov, dtype=float), vcov_type=vcov_type,
                     alpha=gt.spec.get("alpha", simple.alpha), n_obs=int(gt.n_obs), n_units=int(gt.n_units),
                     n_treated=int(gt.n_treated), n_clusters=int(gt.n_clusters), spec=spec, warnings=notes)
