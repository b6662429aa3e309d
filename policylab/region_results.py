"""What one run of the lab found in one region: its effect estimates
(:class:`RegionEffect`) and the checks of its design (:class:`RegionDiagnostics`).

Kept apart from :mod:`policylab.evaluation` (the whole run) so that the lab-wide synthesis
(:mod:`policylab.synthesis`) can read region effects without importing the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .did.results import DiDResult


@dataclass(frozen=True)
class RegionEffect:
    """One estimation for one region and outcome."""

    region: str  # RegionInfo.key
    outcome: str
    result: DiDResult
    #: How the headline interval and p-value were obtained (``method``: ``"analytic"`` or a
    #: few-cluster method; ``reason``; ``n_treated_clusters``; ``threshold``; the analytic
    #: interval it replaced), or None when no policy was applied.
    inference: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "outcome": self.outcome, **self.result.to_dict(),
                "headline_inference": self.inference}

    def __repr__(self) -> str:
        from .did.results import _estimate_text

        res = self.result
        how = (self.inference or {}).get("method", "analytic")
        return (f"RegionEffect(region={self.region!r}, outcome={self.outcome!r}, "
                f"method={res.method!r}: {_estimate_text(res.headline, res.alpha)}; "
                f"inference {how}; n_units={res.n_units}, n_treated={res.n_treated})")


@dataclass(frozen=True)
class RegionDiagnostics:
    """Checks of one region's design for one outcome.

    ``pretrend``: joint Wald test that the headline estimator's pre-joining effects are zero
    (``PretrendResult.to_dict()``), or None when there are no pre-periods. ``bacon``: the
    Goodman-Bacon decomposition of the static TWFE estimate on the balanced part of the panel
    (``type, weight, estimate`` rows plus the TWFE estimate and the sample), or None with the
    reason in ``notes``. ``power``: the minimum detectable effect of the region's design at 80%
    power (``PowerResult.to_dict()`` plus ``plausible`` range and ``warning`` text) — computed
    from the design and pre-period outcomes, before any estimate. ``honest``: Rambachan-Roth
    relative-magnitude sensitivity of the event study's average post-joining effect
    (``HonestDiDResult.to_dict()``), with its breakdown value; ``honest_smoothness`` the same
    under the smoothness restriction (M: how far the trend may bend from a linear
    continuation of the pre-joining trend, outcome units per year squared).
    """

    region: str  # RegionInfo.key
    outcome: str
    pretrend: dict[str, Any] | None = None
    bacon: dict[str, Any] | None = None
    power: dict[str, Any] | None = None
    honest: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    honest_smoothness: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "outcome": self.outcome, "pretrend": self.pretrend,
                "bacon": self.bacon, "power": self.power, "honest": self.honest,
                "honest_smoothness": self.honest_smoothness, "notes": list(self.notes)}

    def __repr__(self) -> str:
        def num(d: dict[str, Any] | None, key: str) -> str:
            x = (d or {}).get(key)
            return f"{x:.3g}" if isinstance(x, (int, float)) else str(x)

        parts = [
            f"pre-trend p = {num(self.pretrend, 'p_value')}" if self.pretrend else "no pre-trend test",
            "Bacon decomposition" if self.bacon else "no Bacon decomposition",
            f"MDE {num(self.power, 'mde')}" if self.power else "no MDE",
            f"HonestDiD breakdown {num(self.honest, 'breakdown')}" if self.honest else "no HonestDiD",
        ]
        notes = f", {len(self.notes)} notes" if self.notes else ""
        return (f"RegionDiagnostics(region={self.region!r}, outcome={self.outcome!r}: "
                f"{', '.join(parts)}{notes})")
