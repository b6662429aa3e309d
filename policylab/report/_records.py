"""The record sections of a page: warnings, data quality and provenance.

Warnings are the lab's own and those each estimator raised for a region; the data-quality
table and the provenance (inputs, versions, settings) come from the result as they are, cut
down to the region on a region page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..evaluation import EvaluationResult, RegionInfo
from . import tables
from ._labels import _method_short, _outcome_label
from ._overview import data_quality_row
from ._serialize import to_jsonable

__all__ = ["WarningItem", "WarningKind", "data_quality", "provenance", "warning_items",
           "warning_kinds"]


@dataclass(frozen=True)
class WarningItem:
    source: str
    text: str
    group: str = "Lab"  # "Lab" or the region's display name


@dataclass(frozen=True)
class WarningKind:
    """Notes of one kind (the same sentence up to its numbers and quoted names): one example,
    how many estimates carry it, and where."""

    text: str
    count: int
    groups: tuple[str, ...]
    sources: tuple[str, ...]


_VARIABLE = re.compile(r"'[^']*'|\[[^\]]*\]|[-+−]?\d[\d,.]*(?:e[-+]?\d+)?%?")


def warning_kinds(items: Sequence[WarningItem]) -> tuple[WarningKind, ...]:
    """The estimators' notes (not the lab's) grouped by kind, most frequent first (ties in
    first-seen order); each kind keeps its first note as the example."""
    kinds: dict[str, list[WarningItem]] = {}
    for w in items:
        if w.group != "Lab":
            kinds.setdefault(_VARIABLE.sub("#", w.text), []).append(w)
    ordered = sorted(kinds.values(), key=lambda ws: -len(ws))  # sorted() is stable
    return tuple(WarningKind(ws[0].text, len(ws), tuple(dict.fromkeys(w.group for w in ws)),
                             tuple(dict.fromkeys(w.source for w in ws))) for ws in ordered)


def warning_items(result: EvaluationResult,
                  keys: Sequence[str] | None) -> tuple[WarningItem, ...]:
    """The lab's warnings, then the estimators' for the regions ``keys`` (None: every region)."""
    items = [WarningItem("Lab", str(w)) for w in result.warnings]
    for eff in result.effects:
        if keys is not None and eff.region not in keys:
            continue
        region = result.region(eff.region).name
        source = f"{_outcome_label(eff.outcome, result)} · {_method_short(eff.result.method)}"
        for w in eff.result.warnings:
            items.append(WarningItem(source, str(w), group=region))
    return tuple(items)


def data_quality(result: EvaluationResult,
                 infos: list[RegionInfo]) -> tuple[tables.Table | None, int]:
    """The data-quality table of the regions ``infos`` and its number of rows."""
    dq = result.data_quality
    if not len(dq.columns):
        return None, 0
    if len(infos) == len(result.regions):
        frame = dq
    else:
        rows = [data_quality_row(result, info) for info in infos]
        frame = pd.DataFrame([r for r in rows if r], columns=dq.columns)
        if frame.empty:
            return None, 0
    return tables.data_quality_table(frame, table_id="data-quality-table"), len(frame)


def provenance(result: EvaluationResult, only: RegionInfo | None) -> dict[str, Any]:
    """The run's provenance; on a region page (``only``) only that region's inputs."""
    prov = to_jsonable(dict(result.provenance))
    if only is None or not isinstance(prov.get("inputs"), list):
        return prov
    mine = [r for r in prov["inputs"]
            if not isinstance(r, dict) or r.get("region") in (only.key, only.name)]
    return {**prov, "inputs": mine}
