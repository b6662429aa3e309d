"""The indicator registry: each indicator's metadata and the pure function computing it.

An indicator is registered with :func:`indicator` on its compute function. The metadata say
what is counted (numerator, denominator, unit), at which levels it is published, which
canonical inputs it needs (``"table"`` or ``"table.column"``; ``"impact.<outcome>"`` for an
impact estimate; ``"a|b"`` when either will do) and how disclosure control must treat it:

``cumulative``
    what the ``cumulative`` period is: ``"sum"`` of the years, ``"pooled"`` (the same
    statistic over all years' rows), ``"distinct"`` (firms counted once over all years) or
    ``"none"`` (no cumulative row). ``sum`` and ``pooled`` tie the cumulative cell to the
    year cells in one relation for secondary suppression.
``partition``
    ``"firm_groups"``: ``all`` = ``members`` + ``not_yet_members`` + ``never_members``;
    ``"size_classes"``: ``members`` = ``micro`` + ``small`` + ``medium`` + ``large`` +
    ``size_unknown``; ``"link_types"``: ``all`` = the kinds of cross-regional link (I22P);
    ``"practice_stages"``: ``all`` = the stages of the transferred practices (I23);
    ``"open"``: ``all`` = every other group, whatever they are (the partner regions of I22M);
    ``"none"``. The first group of each tuple in :data:`PARTITIONS` is the total.
``magnitude``
    the value is built from sums of firms' money (or headcounts): the dominance rule and the
    rule on contributing firms apply to it.
``firm_data``
    ``False`` for an indicator that rests on no firm's data (the policy-lab practice log,
    I23): its cells carry ``n_firms`` 0 and disclosure control never suppresses them.
``distribution``
    ``"ratings"`` (shares of answers 1-5, collapsible to 1-2 / 3 / 4-5) or ``"answers"``
    (shares of yes / unsure / no) for an ordinal distribution of survey answers, published
    only where every answer is safe (disclosure rule 6); ``mean_of`` names the distribution
    whose mean an indicator is (published with it under the same rule).
``block``
    ``True`` when the cells of one region (or cluster), level and period determine one
    another (the ranks of the barriers, I27R): one suppressed cell suppresses its block.
``optional``
    ``True`` for the indicators of the lab's other half (I22-I28, from the optional survey,
    partnerships and practices tables and orders' partner_region): a region without their
    inputs gets no rows at all (and the lab-wide rows cover the regions with them), where
    other indicators get one ``not_available`` row saying what is missing.
``discloses_with``
    indicators whose cells disclosure control needs to decide on this one's (the mean I25M
    needs the distribution I25); :func:`~policylab.indicators.compute_indicators` computes
    them too and drops them afterwards.

``eu_code`` is the nearest EU Cohesion Policy common indicator (Reg. (EU) 2021/1058,
Annex I). Only I01 (RCO01), I20 (RCR02) and I21 (RCR01) measure what their code measures;
the I22 family points to RCO87 but counts deals and links (not organisations), the I23
family to RCR104 counting practices taken up by regions; no common indicator covers exports, so the export indicators point to RCR19 (enterprises
with higher turnover) as the nearest proxy and are programme-specific indicators, as are the
cluster indicators pointing to RCO05, RCR02 and RCR84 (durability after support ends).

Indicators of domain notes §1.2 that the canonical tables cannot support are listed in
:data:`NOT_BUILT` with the reason (none since the lab's other half, issue 13: orders'
partner regions, the partnerships and practice logs, and the SME panel survey).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd

from ..schema import LINK_TYPES, PRACTICE_STAGES

if TYPE_CHECKING:  # pragma: no cover
    from .inputs import Inputs

Level = Literal["firm", "cluster", "region", "lab"]
Cumulative = Literal["sum", "pooled", "distinct", "none"]
Partition = Literal["none", "firm_groups", "size_classes", "link_types", "practice_stages",
                    "open"]
Distribution = Literal["none", "ratings", "answers"]

LEVELS: tuple[str, ...] = ("firm", "cluster", "region", "lab")
FIRM_GROUPS: tuple[str, ...] = ("all", "members", "not_yet_members", "never_members")
SIZE_CLASSES: tuple[str, ...] = ("members", "micro", "small", "medium", "large", "size_unknown")
LINK_GROUPS: tuple[str, ...] = ("all", *LINK_TYPES)
STAGE_GROUPS: tuple[str, ...] = ("all", *PRACTICE_STAGES)
PARTITIONS: dict[str, tuple[str, ...]] = {"firm_groups": FIRM_GROUPS, "size_classes": SIZE_CLASSES,
                                          "link_types": LINK_GROUPS, "practice_stages": STAGE_GROUPS}

#: Ordinal distributions of survey answers (disclosure rule 6): the answers (groups) and
#: how they collapse when one of them is unsafe (collapsed group -> its answers; none for
#: yes / unsure / no, which is then not published).
RATINGS: tuple[str, ...] = ("1", "2", "3", "4", "5")
ANSWERS: tuple[str, ...] = ("yes", "unsure", "no")
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "ratings": (RATINGS, {"1-2": ("1", "2"), "3": ("3",), "4-5": ("4", "5")}),
    "answers": (ANSWERS, {}),
}

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
    firm_data: bool = True
    distribution: Distribution = "none"
    mean_of: str | None = None
    block: bool = False
    optional: bool = False
    discloses_with: tuple[str, ...] = ()

    def missing_inputs(self, tables: Mapping[str, pd.DataFrame],
                       impact_outcomes: frozenset[str] = frozenset()) -> list[str]:
        """The needs a region does not meet (a table, a column, an impact estimate).

        A column counts as missing when it is absent or has no known value at all. A need
        ``"a|b"`` is met when ``a`` or ``b`` is (and reported as ``"a|b"`` when neither is).
        """
        missing = []
        for need in self.needs:
            lack = need_missing(need, tables, impact_outcomes)
            if lack is not None:
                missing.append(lack)
        return missing

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "name": self.name, "unit": self.unit, "levels": list(self.levels),
            "numerator": self.numerator, "denominator": self.denominator,
            "needs": list(self.needs), "eu_code": self.eu_code, "cumulative": self.cumulative,
            "partition": self.partition, "magnitude": self.magnitude, "notes": self.notes,
            "firm_data": self.firm_data, "distribution": self.distribution,
        }


def need_missing(need: str, tables: Mapping[str, pd.DataFrame],
                 impact_outcomes: frozenset[str] = frozenset()) -> str | None:
    """The part of one need that is not met (``None`` when it is met)."""
    if "|" in need:
        alternatives = need.split("|")
        if any(need_missing(a, tables, impact_outcomes) is None for a in alternatives):
            return None
        return need
    table, _, column = need.partition(".")
    if table == "impact":
        return None if column in impact_outcomes else need
    if table not in tables:
        return table
    if column and (column not in tables[table] or tables[table][column].isna().all()):
        return need
    return None


@dataclass(frozen=True)
class NotBuilt:
    """An indicator of the domain notes that the canonical data cannot support (yet)."""

    id: str
    name: str
    eu_code: str | None
    reason: str


REGISTRY: dict[str, Indicator] = {}

NOT_BUILT: dict[str, NotBuilt] = {}


def indicator(**meta: object) -> Callable[[ComputeFn], ComputeFn]:
    """Register the decorated function under ``meta['id']`` with its metadata."""

    def wrap(fn: ComputeFn) -> ComputeFn:
        ind = Indicator(compute=fn, **meta)  # type: ignore[arg-type]
        if ind.id in REGISTRY:
            raise ValueError(f"indicator {ind.id} registered twice")
        bad = [lvl for lvl in ind.levels if lvl not in LEVELS]
        if bad:
            raise ValueError(f"indicator {ind.id}: unknown level(s) {bad}; expected some of {LEVELS}")
        if ind.distribution != "none" and ind.distribution not in DISTRIBUTIONS:
            raise ValueError(f"indicator {ind.id}: unknown distribution {ind.distribution!r}")
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
