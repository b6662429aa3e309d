"""Ids and labels the report's parts share: safe, unique HTML ids made from user text, and
the labels of outcomes, confidence intervals and estimators.

An outcome's or estimator's label is the run's own when its settings give one
(``settings["outcome_labels"]``, ``settings["method_labels"]``), else the config's or
:data:`policylab.report.tables.METHOD_LABELS`. Every section takes its labels from here, so
the same outcome or estimator is named the same way across the whole report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..evaluation import EvaluationResult
from . import tables

__all__ = ["_Ids", "_ci_label", "_method_label", "_method_short", "_outcome_label", "_slug"]


class _Ids:
    """Stable, unique, safe HTML ids from arbitrary (user) text."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._used: set[str] = set(reserved)

    def reserve(self, id_: str) -> None:
        self._used.update((id_, f"{id_}-title"))

    def make(self, prefix: str, *parts: str) -> str:
        slug = "-".join(s for s in (_slug(p) for p in parts) if s) or "x"
        base = f"{prefix}-{slug}"
        candidate, n = base, 2
        # a heading inside an element takes the element's id + "-title": keep both free
        while candidate in self._used or f"{candidate}-title" in self._used:
            candidate, n = f"{base}-{n}", n + 1
        self._used.update((candidate, f"{candidate}-title"))
        return candidate


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", str(text).lower()))[:40]


def _outcome_label(outcome: str, result: EvaluationResult | None = None) -> str:
    """The outcome's label: the run's own (``settings["outcome_labels"]``), else the config's."""
    if result is not None:
        own = (result.settings.get("outcome_labels") or {}).get(outcome)
        if own:
            return str(own)
    try:
        from ..config import OUTCOME_LABELS
    except Exception:  # pragma: no cover - the config module is optional here
        return outcome
    return OUTCOME_LABELS.get(outcome, outcome)


def _ci_label(alphas: Iterable[float]) -> str:
    levels = sorted({round(100 * (1 - float(a)), 6) for a in alphas})
    if len(levels) == 1:
        return f"{levels[0]:g}% CI"
    return "CI"


def _method_label(method: str, result: EvaluationResult | None = None) -> str:
    """An estimator's full label: the run's own (``settings["method_labels"]``), else ours."""
    if result is not None:
        own = (result.settings.get("method_labels") or {}).get(method)
        if own:
            return str(own)
    return tables.METHOD_LABELS.get(method, method)


def _method_short(method: str) -> str:
    """An estimator's short name, for legends and column heads."""
    return tables.METHOD_LABELS.get(method, method.replace("_", " "))
