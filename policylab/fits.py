"""How ``evaluate`` runs each estimator of the registry (:mod:`policylab.estimators`) on
one region's firm-year panel (:func:`policylab.did.panel.firm_panel` columns: ``firm_id``,
``year``, ``cohort``, ``treated_now``, the outcomes) with the lab's estimation settings
(``leads``, ``lags``, ``alpha``, ``control_group``; :class:`policylab.config.Estimation`).

Each function returns ``(DiDResult, raw)``: ``raw`` is the fit the few-cluster bootstrap
needs when it is not the result itself (Callaway-Sant'Anna's ATT(g,t)), else None.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from .did import aggregate, att_gt, etwfe, event_study, sun_abraham, twfe
from .did.estimators.dcdh import did_multiplegt
from .did.estimators.imputation import did2s, imputation
from .did.estimators.synthetic_did import synthetic_did
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


def _never_untreated_dropped(panel: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, str | None]:
    """The panel without the firms that have no untreated year with the outcome (members
    from their first observed year on): imputation cannot estimate their firm effect. The
    note says how many were left out (ETWFE leaves them out the same way)."""
    seen = panel.loc[panel[outcome].notna(), ["firm_id", "year", "cohort"]]
    first = seen.groupby("firm_id", sort=False)["year"].min()
    cohort = seen.groupby("firm_id", sort=False)["cohort"].first()
    always = cohort.index[(cohort > 0) & (cohort <= first)]
    if len(always) == 0:
        return panel, None
    return (panel[~panel["firm_id"].isin(always)],
            f"left out {len(always)} member firm(s) with no year before joining (their firm "
            "effect cannot be estimated from untreated years)")


def _with_note(res: DiDResult, note: str | None) -> DiDResult:
    return res if note is None else dataclasses.replace(res, warnings=(*res.warnings, note))


def imputation_fit(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    kept, note = _never_untreated_dropped(panel, outcome)
    # BJS's pre-trend Wald test is not run here: with the lab's 5-10 treated consortia its
    # clustered covariance of 8-9 leads is near singular and the statistic explodes (p ~ 0
    # where Callaway-Sant'Anna's test gives 0.4-0.9 on the example); the lab's pre-trend
    # diagnostic stays policylab.did.pretrend_test. The Python API still offers it.
    return _with_note(imputation(kept, outcome=outcome, **PANEL, cohort="cohort", cluster=cluster,
                                 alpha=est.alpha, pretrend=False), note), None


def did2s_fit(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    kept, note = _never_untreated_dropped(panel, outcome)
    return _with_note(did2s(kept, outcome=outcome, **PANEL, cohort="cohort", cluster=cluster,
                            alpha=est.alpha), note), None


def dcdh_fit(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    """Effects of membership that switches on and off (``member_now``), ``lags + 1``
    horizons and ``leads`` placebos."""
    res = did_multiplegt(panel, outcome=outcome, **PANEL, treatment="member_now",
                         effects=est.lags + 1, placebo=est.leads, cluster=cluster,
                         alpha=est.alpha)
    left = (panel["treated_now"] != panel["member_now"]).any()
    return _with_note(res, None if left else (
        "no member left its consortium in this region: membership never switches off, so "
        "this estimator measures what the absorbing ones do")), None


def synthetic_did_fit(panel: pd.DataFrame, outcome: str, est: Any, cluster: str) -> tuple[DiDResult, None]:
    """Synthetic DiD by cohort against never-members; placebo standard errors (seeded with the
    lab's seed). Firms not seen in every year are left out (a balanced panel is needed)."""
    return synthetic_did(panel, outcome=outcome, **PANEL, cohort="cohort", seed=est.seed,
                         alpha=est.alpha), None
