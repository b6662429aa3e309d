"""How ``evaluate`` runs each estimator of the registry (:mod:`policylab.estimators`) on
one region's firm-year panel (:func:`policylab.did.panel.firm_panel` columns: ``firm_id``,
``year``, ``cohort``, ``treated_now``, the outcomes) with the lab's estimation settings
(``leads``, ``lags``, ``alpha``, ``control_group``; :class:`policylab.config.Estimation`).

Each function returns ``(DiDResult, raw)``: ``raw`` is the fit the few-cluster bootstrap
needs when it is not the result itself (Callaway-Sant'Anna's ATT(g,t)), else None.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .did import aggregate, att_gt, etwfe, event_study, sun_abraham, twfe
from .did.estimators.callaway_santanna.headline import cs_headline_result
from .did.results import DiDResult

PANEL = {"unit": "firm_id", "time": "year"}


def callaway_santanna(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, Any]:
    gt = att_gt(panel, outcome=outcome, **PANEL, cohort="cohort", control_group=est.control_group,
                method="dr", cluster=cluster, alpha=est.alpha)
    simple = aggregate(gt, "simple")
    dynamic = aggregate(gt, "dynamic", min_e=-est.leads, max_e=est.lags)
    return cs_headline_result(gt, simple, dynamic), gt


def event_study_fit(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    return event_study(panel, outcome=outcome, **PANEL, cohort="cohort", leads=est.leads,
                       lags=est.lags, cluster=cluster, alpha=est.alpha), None


def sun_abraham_fit(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    return sun_abraham(panel, outcome=outcome, **PANEL, cohort="cohort", leads=est.leads,
                       lags=est.lags, cluster=cluster, alpha=est.alpha), None


def etwfe_linear(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    return etwfe(panel, outcome=outcome, **PANEL, cohort="cohort", family="linear",
                 cluster=cluster, alpha=est.alpha), None


def etwfe_poisson(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    return etwfe(panel, outcome=outcome, **PANEL, cohort="cohort", family="poisson",
                 cluster=cluster, alpha=est.alpha), None


def twfe_fit(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    return twfe(panel, outcome=outcome, **PANEL, treatment="treated_now", cluster=cluster,
                alpha=est.alpha), None
