"""The normal-distribution helpers of the estimators (stdlib: keeps scipy.stats off the
import path of the fits)."""

from __future__ import annotations

from statistics import NormalDist

_STANDARD = NormalDist()


def z_critical(alpha: float) -> float:
    """Two-sided normal critical value ``z_{1 - alpha/2}`` (1.959964 for ``alpha = 0.05``)."""
    return _STANDARD.inv_cdf(1.0 - alpha / 2.0)

