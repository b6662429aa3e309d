"""Frozen result objects of the DiD estimators.

Every estimate carries its standard error, confidence interval, p-value, method, sample
counts and warnings. ``tidy()`` is the one documented long table that reports, JSON and
comparisons are built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TIDY_COLUMNS = [
    "term",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]


@dataclass(frozen=True)
class Estimate:
    """One coefficient or aggregate with its inference.

    ``event_time`` is years since joining (0 = the join year) for event-study terms,
    ``None`` otherwise. ``conf_low``/``conf_high`` are the ``1 - alpha`` interval of the
    result that holds this estimate.
    """

    term: str
    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    p_value: float
    event_time: int | None = None

    @property
    def statistic(self) -> float:
        return self.estimate / self.std_error if self.std_error > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "event_time": self.event_time,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
        }


@dataclass(frozen=True)
class DiDResult:
    """The result of one DiD estimation.

    Attributes
    ----------
    method : str
        ``"did_2x2"``, ``"twfe"`` or ``"event_study"``.
    outcome : str
        Name of the outcome column.
    estimates : tuple of Estimate
        Every coefficient (event-study terms ordered by event time).
    headline : Estimate
        The one number a report shows: the ATT for 2x2 and TWFE; for an event study the
        average of the post-join terms weighted by treated firm-years.
    vcov : ndarray
        Covariance matrix of ``estimates`` (same order).
    vcov_type : str
        E.g. ``"CRV1 clustered by consortium (fixest small-sample correction)"``.
    n_obs, n_units, n_treated, n_clusters : int
        Observations used, firms, treated firms, clusters of the variance estimator.
    spec : dict
        The arguments that produced the result.
    warnings : tuple of str
        Caveats a reader must see (few clusters, dropped singletons ...).
    """

    method: str
    outcome: str
    estimates: tuple[Estimate, ...]
    headline: Estimate
    vcov: np.ndarray
    vcov_type: str
    alpha: float
    n_obs: int
    n_units: int
    n_treated: int
    n_clusters: int
    spec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """Every estimate as one row: ``term, event_time, estimate, std_error, statistic,
        p_value, conf_low, conf_high``."""
        rows = [e.to_dict() for e in self.estimates]
        df = pd.DataFrame(rows, columns=TIDY_COLUMNS)
        df["event_time"] = df["event_time"].astype("Int64")
        return df

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (no numpy types)."""
        return {
            "method": self.method,
            "outcome": self.outcome,
            "headline": self.headline.to_dict(),
            "estimates": [e.to_dict() for e in self.estimates],
            "vcov_type": self.vcov_type,
            "alpha": self.alpha,
            "n_obs": int(self.n_obs),
            "n_units": int(self.n_units),
            "n_treated": int(self.n_treated),
            "n_clusters": int(self.n_clusters),
            "spec": self.spec,
            "warnings": list(self.warnings),
        }
