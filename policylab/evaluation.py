"""The frozen result of one lab evaluation: what the report, JSON and CSV are written from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .region_results import RegionDiagnostics, RegionEffect
from .schema import INDICATOR_COLUMNS, RegionInfo
from .synthesis import Synthesis

__all__ = ["INDICATOR_COLUMNS", "SCHEMA_VERSION", "EvaluationResult", "MonitoringResult",
           "RegionDiagnostics", "RegionEffect", "RegionInfo"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class EvaluationResult:
    """Everything one run of the lab produced.

    ``indicators`` is the tidy long table (columns :data:`INDICATOR_COLUMNS`), already through
    disclosure control: a suppressed cell has ``value`` NaN and ``flag == "suppressed"``.
    ``data_quality`` has one row per region. ``provenance`` names versions and hashes.
    ``synthesis`` holds the pooled lab-wide effects (:mod:`policylab.synthesis`), if computed.
    ``balance`` compares members before joining with never-members (:mod:`policylab.balance`),
    already through disclosure control. ``practices`` is the practice-transfer log of every
    region (one row per practice and stage; policy actions, not firm data; free-text notes
    never reach it).
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
    practices: pd.DataFrame | None = None  # the practice-transfer log (PRACTICE_LOG_COLUMNS)
    margins: tuple[Any, ...] = ()  # policylab.margins.RegionMargins, one per region
    #: the EU common indicators with milestones and targets (policylab.indicators.common,
    #: policylab.targets), already through disclosure control
    common: pd.DataFrame | None = None

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
            "synthesis": None if self.synthesis is None else _synthesis_record(self.synthesis),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "balance": [] if self.balance is None else
            self.balance.astype(object).where(self.balance.notna(), None).to_dict(orient="records"),
            "practices": [] if self.practices is None else _records(self.practices),
            "margins": [m.to_dict() for m in self.margins],
            "common_indicators": [] if self.common is None else _records(_common_rows(self.common)),
        }


def _synthesis_record(synthesis: Any) -> dict[str, Any]:
    """The synthesis with each pooled region's planning figure (``expected``)."""
    from .shrinkage import expected_records

    record = synthesis.to_dict()
    for pooled, rec in zip(synthesis.pooled, record["pooled"]):
        expected = expected_records(pooled)
        for row in rec["regions"]:
            if row["region"] in expected:
                row["expected"] = expected[row["region"]]
    return record


def _common_rows(common: pd.DataFrame) -> pd.DataFrame:
    from .targets import EXPORT_COLUMNS, export_table

    out = export_table(common)
    out.insert(EXPORT_COLUMNS.index("value") + 1, "n_firms", common["n_firms"].to_numpy())
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready records: missing values None, dates as ISO ``YYYY-MM-DD``."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out.astype(object).where(out.notna(), None).to_dict(orient="records")


@dataclass(frozen=True)
class MonitoringResult:
    """The monitoring indicators of a lab after disclosure control, without estimation
    (:func:`policylab.pipeline.monitoring`; ``policylab indicators``).

    ``indicators`` has exactly :data:`INDICATOR_COLUMNS`, in the report's canonical order; a
    suppressed cell has ``value`` NaN and ``flag == "suppressed"``. ``settings`` holds the
    disclosure-control settings it was computed with.
    """

    lab_name: str
    regions: tuple[RegionInfo, ...]
    indicators: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        supp = int((self.indicators["flag"] == "suppressed").sum()) if len(self.indicators) else 0
        return (f"MonitoringResult(lab={self.lab_name!r}: {len(self.regions)} regions, "
                f"{len(self.indicators):,} indicator cells ({supp:,} suppressed))")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (what ``policylab indicators --format json`` prints)."""
        rows = self.indicators.astype(object).where(self.indicators.notna(), None)
        return {"schema_version": SCHEMA_VERSION, "settings": dict(self.settings),
                "regions": [i.to_dict() for i in self.regions],
                "indicators": rows.to_dict(orient="records")}
