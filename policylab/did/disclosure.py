"""Disclosure control for published estimates: terms resting on too few member firms.

An event-time effect far from joining, a cohort's effect or a cohort-by-period cell can rest
on one small cohort. Before a result is published, every such term whose member firms
(firms of the cohorts it averages, observed with the outcome at that event time or period)
number fewer than ``min_cell_firms`` is blanked: estimate, standard error, interval and
p-value become NaN and a warning says how many terms were hidden and why. The headline
(which rests on all members) is left alone; the caller checks the outcome as a whole.

Counts come from the firm panel, not from the estimator: event time ``e`` counts members
observed at ``year - cohort == e``; ``binned=True`` (TWFE event study, Sun-Abraham) pools the
end points as those estimators do (``e <= -leads``, ``e >= lags``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from .results import CellEstimate, DiDResult, Estimate

__all__ = ["hide_thin_terms"]

_NAN = math.nan


def _blank(e):
    return dataclasses.replace(e, estimate=_NAN, std_error=_NAN, conf_low=_NAN, conf_high=_NAN,
                               p_value=_NAN)


def hide_thin_terms(result: DiDResult, panel: pd.DataFrame, outcome: str, *,
                    min_cell_firms: int, leads: int | None = None, lags: int | None = None,
                    binned: bool = False) -> DiDResult:
    """``result`` with every event-time, cohort and cell term resting on fewer than
    ``min_cell_firms`` member firms blanked (see the module docstring).

    ``panel`` is the firm-year panel the result was fitted on (``firm_id``, ``year``,
    ``cohort`` with 0 for never-members, and ``outcome``). Returns ``result`` itself when
    nothing is hidden.
    """
    seen = panel.loc[panel[outcome].notna() & (panel["cohort"] > 0), ["firm_id", "year", "cohort"]]
    e = (seen["year"] - seen["cohort"]).to_numpy()
    if binned:
        lo = -np.inf if leads is None else -leads
        hi = np.inf if lags is None else lags
        e = np.clip(e, lo, hi)
    seen = seen.assign(e=e)
    by_event = seen.groupby("e")["firm_id"].nunique()
    by_cohort = seen.loc[seen["e"] >= 0].groupby("cohort")["firm_id"].nunique()
    by_cell = seen.groupby(["cohort", "e"])["firm_id"].nunique()
    by_period = seen.groupby(["cohort", "year"])["firm_id"].nunique()

    def thin(n: float) -> bool:
        return n < min_cell_firms

    hidden = 0
    estimates = []
    for est in result.estimates:
        if est.event_time is not None and thin(by_event.get(est.event_time, 0)):
            est, hidden = _blank(est), hidden + 1
        estimates.append(est)
    changes: dict = {}
    cohorts = getattr(result, "by_cohort", ())
    if cohorts:
        out = []
        for est in cohorts:
            c = _cohort_of(est)
            if c is not None and thin(by_cohort.get(c, 0)):
                est, hidden = _blank(est), hidden + 1
            out.append(est)
        changes["by_cohort"] = tuple(out)
    cells = getattr(result, "cells", ())
    if cells:
        out = []
        for cell in cells:
            n = (by_period.get((cell.cohort, cell.time), 0) if cell.time is not None
                 else by_cell.get((cell.cohort, cell.event_time), 0))
            if thin(n):
                cell, hidden = _blank(cell), hidden + 1
            out.append(cell)
        changes["cells"] = tuple(out)
    if not hidden:
        return result
    note = (f"{hidden} term(s) not published: they rest on fewer than {min_cell_firms} member "
            "firms (disclosure control)")
    return dataclasses.replace(result, estimates=tuple(estimates), **changes,
                               warnings=tuple(result.warnings) + (note,))


def _cohort_of(est: Estimate | CellEstimate) -> int | None:
    term = str(getattr(est, "term", ""))
    if term.startswith("cohort::"):
        try:
            return int(term.split("::", 1)[1])
        except ValueError:
            return None
    return None
