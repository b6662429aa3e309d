"""The frozen result of one lab evaluation: what the report, JSON and CSV are written from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .did.results import DiDResult

if TYPE_CHECKING:  # pragma: no cover
    from .synthesis import Synthesis

SCHEMA_VERSION = 1

INDICATOR_COLUMNS = [
    "region",
    "nuts2",
    "indicator_id",
    "indicator",
    "level",
    "unit",
    "period",
    "group",
    "cluster_id",  # the cluster of a level == "cluster" row; "" otherwise
    "n_missing",  # firms of the cell's population whose input value is missing
    "note",  # why a cell is not available or has no value
    "value",
    "n_firms",
    "flag",  # "", "suppressed" or "not_available"
]


@dataclass(frozen=True)
class RegionInfo:
    key: str
    name: str
    nuts2: str
    country: str
    programme: str
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


@dataclass(frozen=True)
class EvaluationResult:
    """Everything one run of the lab produced.

    ``indicators`` is the tidy long table (columns :data:`INDICATOR_COLUMNS`), already through
    disclosure control: a suppressed cell has ``value`` NaN and ``flag == "suppressed"``.
    ``data_quality`` has one row per region. ``provenance`` names versions and hashes.
    ``synthesis`` holds the pooled lab-wide effects (:mod:`policylab.synthesis`), if computed.
    ``balance`` compares members before joining with never-members (:mod:`policylab.balance`),
    already through disclosure control.
    """

    lab_name: str
    lab_description: str
    regions: tuple[RegionInfo, ...]
    indicators: pd.DataFrame
    effects: tuple[RegionEffect, ...]
    data_quality: pd.DataFrame
    provenance: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    synthesis: Synthesis | None = None
    diagnostics: tuple[RegionDiagnostics, ...] = ()
    balance: pd.DataFrame | None = None  # policylab.balance.balance_table rows, all regions

    def __repr__(self) -> str:
        supp = int((self.indicators.get("flag") == "suppressed").sum()) \
            if "flag" in self.indicators else 0
        synth = "" if self.synthesis is None else ", a lab-wide synthesis"
        return (f"EvaluationResult(lab={self.lab_name!r}: {len(self.regions)} regions "
                f"({', '.join(r.key for r in self.regions[:8])}"
                f"{', ...' if len(self.regions) > 8 else ''}), {len(self.indicators):,} "
                f"indicator cells ({supp:,} suppressed), {len(self.effects)} effects, "
                f"{len(self.diagnostics)} diagnostics{synth}, {len(self.warnings)} warnings)")

    def region(self, key: str) -> RegionInfo:
        for r in self.regions:
            if r.key == key:
                return r
        raise KeyError(key)

    def effects_tidy(self) -> pd.DataFrame:
        """Headline effect per region and outcome, one row each."""
        rows = []
        for eff in self.effects:
            res, h = eff.result, eff.result.headline
            info = self.region(eff.region)
            rows.append(
                {
                    "region": info.name,
                    "nuts2": info.nuts2,
                    "outcome": eff.outcome,
                    "method": res.method,
                    "term": h.term,
                    "estimate": h.estimate,
                    "std_error": h.std_error,
                    "conf_low": h.conf_low,
                    "conf_high": h.conf_high,
                    "p_value": h.p_value,
                    "n_obs": res.n_obs,
                    "n_firms": res.n_units,
                    "n_treated": res.n_treated,
                    "n_clusters": res.n_clusters,
                    "vcov_type": res.vcov_type,
                    "inference": (eff.inference or {}).get("method", "analytic"),
                    "warnings": "; ".join(res.warnings),
                }
            )
        return pd.DataFrame(rows)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready record: ``schema_version``, settings, regions, indicators, effects."""
        ind = self.indicators.astype(object).where(self.indicators.notna(), None)
        dq = self.data_quality.astype(object).where(self.data_quality.notna(), None)
        return {
            "schema_version": SCHEMA_VERSION,
            "lab": {"name": self.lab_name, "description": self.lab_description},
            "settings": self.settings,
            "regions": [r.to_dict() for r in self.regions],
            "indicators": ind.to_dict(orient="records"),
            "effects": [e.to_dict() for e in self.effects],
            "data_quality": dq.to_dict(orient="records"),
            "warnings": list(self.warnings),
            "provenance": self.provenance,
            "synthesis": None if self.synthesis is None else self.synthesis.to_dict(),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "balance": [] if self.balance is None else
            self.balance.astype(object).where(self.balance.notna(), None).to_dict(orient="records"),
        }
