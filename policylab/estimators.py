"""The estimator registry: every estimator ``evaluate`` can run, declared once.

A frozen :class:`EstimatorSpec` per method says what it is called (in the config, the CLI,
``results.json`` and every table), how it is described in the Methods, which estimator
family of :mod:`policylab.did` fits it, how its few-cluster bootstrap is built, and which
terms it reports. The config's allowed ``methods``, the CLI's ``--method`` choices, the
pipeline's dispatch and the report's labels are all read from :data:`ESTIMATORS`.

Adding an estimator: write it in ``policylab/did/`` (a function returning a ``DiDResult``
whose ``spec["estimator"]`` names its bootstrap problem builder in
``policylab.did.inference.wild.PROBLEM_BUILDERS``), its lab fit in :mod:`policylab.fits`, then one
entry here. This module imports
nothing: the fits (:mod:`policylab.fits`) are named and loaded when they run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ESTIMATORS", "METHOD_NAMES", "EstimatorSpec"]


@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator of the lab.

    name : the key in configs, the CLI, ``results.json`` (``method``) and CSVs.
    label : short label for tables and charts.
    description : one line for the Methods and ``settings.method_labels``.
    family : ``"staggered"`` (heterogeneity-robust), ``"regression"`` (TWFE family) or
        ``"poisson"`` (effects on a count or money outcome in levels, zeros kept).
    fit : the function of :mod:`policylab.fits` that runs it on a region's panel, by name
        (named, not imported, so that the config can read this registry without loading
        the estimators); ``None`` when ``evaluate`` cannot run it.
    bootstrap : the ``spec["estimator"]`` of its result, i.e. which problem builder of
        ``policylab.did.inference.wild.PROBLEM_BUILDERS`` its few-cluster bootstrap uses;
        ``None``: no few-cluster bootstrap yet (its analytic interval is kept and flagged).
    terms : what it reports besides the headline.
    evaluate : whether ``evaluate`` can run it (``did_2x2`` needs a 2x2 design).
    """

    name: str
    label: str
    description: str
    family: str
    fit: str | None
    bootstrap: str | None
    terms: str
    evaluate: bool = True

    def fit_function(self) -> Callable[..., tuple[Any, Any]]:
        """``fit(panel, outcome, estimation settings, cluster column)`` ->
        ``(DiDResult, raw)`` (see :mod:`policylab.fits`)."""
        if self.fit is None:
            raise ValueError(f"evaluate cannot run {self.name!r}")
        return getattr(importlib.import_module("policylab.fits"), self.fit)


ESTIMATORS: dict[str, EstimatorSpec] = {s.name: s for s in (
    EstimatorSpec("callaway_santanna", "Callaway–Sant'Anna",
                  "Callaway-Sant'Anna (doubly robust; simple aggregation)", "staggered",
                  "callaway_santanna", "att_gt", "event-time (dynamic) aggregation"),
    EstimatorSpec("event_study", "Event study (TWFE)",
                  "Event study (TWFE with never-member controls)", "regression",
                  "event_study_fit", "event_study", "event-time coefficients"),
    EstimatorSpec("sun_abraham", "Sun–Abraham",
                  "Sun-Abraham interaction-weighted event study", "staggered",
                  "sun_abraham_fit", "sun_abraham", "event-time and cohort effects"),
    EstimatorSpec("etwfe", "Extended TWFE", "Extended TWFE (Wooldridge, linear)", "staggered",
                  "etwfe_linear", "etwfe", "cohort effects"),
    EstimatorSpec("etwfe_poisson", "Extended TWFE (Poisson)",
                  "Extended TWFE (Wooldridge, Poisson; effect in levels)", "poisson",
                  "etwfe_poisson", "etwfe", "cohort effects (levels)"),
    EstimatorSpec("imputation", "Imputation (BJS)",
                  "Imputation estimator (Borusyak, Jaravel and Spiess)", "staggered",
                  "imputation_fit", None, "event-time and cohort effects"),
    EstimatorSpec("did2s", "Two-stage DiD",
                  "Two-stage difference in differences (Gardner)", "staggered",
                  "did2s_fit", None, "event-time and cohort effects"),
    EstimatorSpec("dcdh", "dCDH (switching)",
                  "de Chaisemartin-D'Haultfoeuille event study (membership that switches off)",
                  "staggered", "dcdh_fit", None, "effects by years since switching, placebos"),
    EstimatorSpec("synthetic_did", "Synthetic DiD",
                  "Synthetic difference in differences (Arkhangelsky et al.; placebo SE)",
                  "staggered", "synthetic_did_fit", None, "cohort effects"),
    EstimatorSpec("twfe", "TWFE DiD",
                  "Static two-way fixed effects (biased under staggered, dynamic effects)",
                  "regression", "twfe_fit", "twfe", "none"),
    EstimatorSpec("did_2x2", "2×2 DiD", "Two-by-two difference in differences", "regression",
                  None, "did_2x2", "none", evaluate=False),
)}

#: The methods a config may list (and the CLI offers), in registry order.
METHOD_NAMES: tuple[str, ...] = tuple(n for n, s in ESTIMATORS.items() if s.evaluate)

