"""The indicator registry: each indicator's metadata and the pure function computing it.

An indicator is registered with :func:`indicator` on its compute function. The metadata say
what is counted (numerator, denominator, unit), at which levels it is published, which
canonical inputs it needs (``"table"`` or ``"table.column"``; ``"impact.<outcome>"`` for an
impact estimate) and how disclosure control must treat it:

``cumulative``
    what the ``cumulative`` period is: ``"sum"`` of the years, ``"pooled"`` (the same
    statistic over all years' rows), ``"distinct"`` (firms counted once over all years) or
    ``"none"`` (no cumulative row). ``sum`` and ``pooled`` tie the cumulative cell to the
    year cells in one relation for secondary suppression.
``partition``
    ``"firm_groups"``: ``all`` = ``members`` + ``not_yet_members`` + ``never_members``;
    ``"size_classes"``: ``members`` = ``micro`` + ``small`` + ``medium`` + ``large`` +
    ``size_unknown``; ``"none"``. The first group of each tuple in :data:`PARTITIONS` is the
    total.
``magnitude``
    the value is built from sums of firms' money (or headcounts): the dominance rule and the
    rule on contributing firms apply to it.

``eu_code`` is the nearest EU Cohesion Policy common indicator (Reg. (EU) 2021/1058,
Annex I). Only I01 (RCO01), I20 (RCR02) and I21 (RCR01) measure what their code measures;
no common indicator covers exports, so the export indicators point to RCR19 (enterprises
with higher turnover) as the nearest proxy and are programme-specific indicators, as are the
cluster indicators pointing to RCO05, RCR02 and RCR84 (durability after support ends).

Indicators of domain notes §1.2 that the canonical tables cannot support are listed in
:data:`NOT_BUILT` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from .inputs import Inputs

Level = Literal["firm", "cluster", "region", "lab"]
Cumulative = Literal["sum", "pooled", "distinct", "none"]
Partition = Literal["none", "firm_groups", "size_classes"]

LEVELS: tuple[str, ...] = ("firm", "cluster", "region", "lab")
FIRM_GROUPS: tuple[str, ...] = ("all", "members", "not_yet_members", "never_members")
SIZE_CLASSES: tuple[str, ...] = ("members", "micro", "small", "medium", "large", "size_unknown")
PARTITIONS: dict[str, tuple[str, ...]] = {"firm_groups": FIRM_GROUPS, "size_classes": SIZE_CLASSES}

#: Columns of the frame a compute function returns (one row per published cell).
#: ``n_contrib`` (firms with a non-zero contribution to a sum) and ``max_share`` (largest
#: single firm's share of a sum) feed disclosure control and are never published.
CELL_COLUMNS = ["period", "group", "cluster_id", "value", "n_firms", "n_missing", "n_contrib",
                "max_share", "flag", "note"]

ComputeFn = Callable[["Inputs"], pd.DataFrame]


@dataclass(frozen=True)
class Indicator:
    """One registered indicator: metadata plus its compute function."""

    id: str
    name: str
    unit: str
    levels: tuple[str, ...]
    numerator: str
    denominator: str
    needs: tuple[str, ...]
    eu_code: str | None
    compute: ComputeFn
    cumulative: Cumulative = "none"
    partition: Partition = "none"
    magnitude: bool = False
    notes: str = ""

    def missing_inputs(self, tables: Mapping[str, pd.DataFrame],
                       impact_outcomes: frozenset[str] = frozenset()) -> list[str]:
        """The needs a region does not meet (a table, a column, an impact estimate).

        A column counts as missing when it is absent or has no known value at all.
        """
        missing = []
        for need in self.needs:
            table, _, column = need.partition(".")
            if table == "impact":
                if column not in impact_outcomes:
                    missing.append(need)
            elif table not in tables:
                missing.append(table)
            elif column and (column not in tables[table] or tables[table][column].isna().all()):
                missing.append(need)
        return missing

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "name": self.name, "unit": self.unit, "levels": list(self.levels),
            "numerator": self.numerator, "denominator": self.denominator,
            "needs": list(self.needs), "eu_code": self.eu_code, "cumulative": self.cumulative,
            "partition": self.partition, "magnitude": self.magnitude, "notes": self.notes,
        }


@dataclass(frozen=True)
class NotBuilt:
    """An indicator of the domain notes that the canonical data cannot support (yet)."""

    id: str
    name: str
    eu_code: str | None
    reason: str


REGISTRY: dict[str, Indicator] = {}

NOT_BUILT: dict[str, NotBuilt] = {
    "I22": NotBuilt(
        "I22", "Cross-regional cooperation", "RCO87",
        "the canonical tables do not record partners in other regions: orders have no "
        "partner_region and clusters no cross_region_partner field"),
    "I23": NotBuilt(
        "I23", "Policy-lab uptake", "RCR104",
        "good practices transferred between regions are not modelled in any input table"),
}


def indicator(**meta: object) -> Callable[[ComputeFn], ComputeFn]:
    """Register the decorated function under ``meta['id']`` with its metadata."""

    def wrap(fn: ComputeFn) -> ComputeFn:
        ind = Indicator(compute=fn, **meta)  # type: ignore[arg-type]
        if ind.id in REGISTRY:
            raise ValueError(f"indicator {ind.id} registered twice")
        bad = [lvl for lvl in ind.levels if lvl not in LEVELS]
        if bad:
            raise ValueError(f"indicator {ind.id}: unknown level(s) {bad}; expected some of {LEVELS}")
        REGISTRY[ind.id] = ind
        return fn

    return wrap


def catalogue() -> pd.DataFrame:
    """Every indicator of domain notes §1.2 with its metadata and status.

    ``status`` is ``implemented`` or ``not_built`` (with ``reason``). Whether an implemented
    indicator is available for a region depends on that region's inputs (see ``needs``).
    """
    rows = [{**REGISTRY[k].to_dict(), "status": "implemented", "reason": ""}
            for k in sorted(REGISTRY, key=_id_key)]
    rows += [{"id": nb.id, "name": nb.name, "eu_code": nb.eu_code, "status": "not_built",
              "reason": nb.reason} for nb in NOT_BUILT.values()]
    return pd.DataFrame(rows).sort_values("id", key=lambda s: s.map(_id_key),
                                          ignore_index=True)


def _id_key(ind_id: str) -> tuple[int, str]:
    digits = "".join(ch for ch in ind_id[1:3] if ch.isdigit())
    return (int(digits) if digits else 999, ind_id)
