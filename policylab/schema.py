"""The canonical tables every region's files are mapped into.

Money is in EUR (``*_eur`` columns), converted at the fixed yearly rates stated in the config.
Years are calendar years (int). Identifiers are strings, so leading zeros survive. Money and
counts are finite, not negative and at most a plausibility bound (``MONEY_LIMIT_EUR`` for
money after conversion to EUR, ``EMPLOYEES_LIMIT``, ``MARKETS_LIMIT``).
Only ``firms`` and ``membership`` are required; the other tables switch on the indicators
that need them.

Kinds beyond numbers and text: ``nuts`` is a NUTS region code (``ES13``, upper case);
``category`` is one of a column's ``choices`` (after the file's own labels are recoded with
``values`` in the config, lower case); a ``private`` column (free text) is read and checked,
then dropped: it is never stored nor published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["id", "text", "year", "money", "number", "date", "country", "nuts", "category"]

#: Plausibility bounds: a larger value is an input error (named by file, row and column), not
#: data. Money is checked in EUR after ``scale`` and the exchange rate: no firm or consortium
#: of an SME programme has a quadrillion EUR of anything, and a value that large is a unit
#: error (or a number that would overflow the estimators' sums).
MONEY_LIMIT_EUR = 1e15
#: More than any employer on Earth.
EMPLOYEES_LIMIT = 1e7
#: ISO 3166-1 lists 249 countries and territories.
MARKETS_LIMIT = 250


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    description: str = ""
    limit: float | None = None  # largest plausible value (money: EUR); money is bounded by MONEY_LIMIT_EUR
    lower: float = 0.0  # smallest accepted value of a number
    integer: bool = False  # a number must be whole (a rating)
    choices: tuple[str, ...] = ()  # the values of a category
    private: bool = False  # free text: read, never stored or published

    @property
    def upper(self) -> float | None:
        """The largest value accepted: ``limit``, or :data:`MONEY_LIMIT_EUR` for money."""
        if self.limit is not None:
            return self.limit
        return MONEY_LIMIT_EUR if self.kind == "money" else None


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


FIRMS = Table(
    "firms",
    "firm x year",
    ("firm_id", "year"),
    (
        Column("firm_id", "id", description="the region's firm identifier"),
        Column("year", "year", description="calendar year"),
        Column("exports_eur", "money", description="export turnover, EUR; 0 = no exports, blank = unknown"),
        Column("turnover_eur", "money", description="total turnover, EUR"),
        Column("employees", "number", required=False, description="headcount", limit=EMPLOYEES_LIMIT),
        Column("sector", "text", required=False, description="NACE Rev.2 code"),
        Column("n_export_markets", "number", required=False, description="destination countries served",
               limit=MARKETS_LIMIT),
        Column("firm_name", "text", required=False, description="display name (never published)"),
    ),
    required=True,
)

MEMBERSHIP = Table(
    "membership",
    "firm x cluster",
    ("firm_id", "cluster_id"),
    (
        Column("firm_id", "id"),
        Column("cluster_id", "id"),
        Column("join_year", "year", description="first year of membership"),
        Column("exit_year", "year", required=False, description="first year without membership; blank = still a member"),
    ),
    required=True,
)

CLUSTERS = Table(
    "clusters",
    "cluster",
    ("cluster_id",),
    (
        Column("cluster_id", "id"),
        Column("cluster_name", "text", required=False),
        Column("sector", "text", required=False),
        Column("founded_year", "year"),
        Column("seed_end_year", "year", required=False, description="last year of seed funding"),
        Column("seed_grant_eur", "money", required=False),
        Column("closed_year", "year", required=False, description="first year the cluster no longer operated; blank = still active"),
    ),
)

CLUSTER_FINANCE = Table(
    "cluster_finance",
    "cluster x year",
    ("cluster_id", "year"),
    (
        Column("cluster_id", "id"),
        Column("year", "year"),
        Column("running_costs_eur", "money"),
        Column("member_fees_eur", "money"),
        Column("public_funding_eur", "money"),
    ),
)

ORDERS = Table(
    "orders",
    "export order",
    ("order_id",),
    (
        Column("order_id", "id"),
        Column("cluster_id", "id", required=False, description="blank = not won via a cluster"),
        Column("firm_id", "id", required=False),
        Column("order_date", "date", description="signature date, ISO YYYY-MM-DD"),
        Column("value_eur", "money"),
        Column("destination_country", "country", description="ISO 3166-1 alpha-2"),
        Column("partner_region", "nuts", required=False,
               description="NUTS-2 code of the partner region of a cross-regional deal; blank = none"),
    ),
)

# --------------------------------------------------------------------------- the lab's other half

#: Barriers to internationalisation the SME panel rates (domain.md, after the OECD 2009
#: taxonomy): column suffix -> label.
BARRIERS: dict[str, str] = {
    "size": "Size and capacity",
    "finance": "Finance",
    "information": "Information on markets",
    "regulation": "Regulation",
    "language": "Language and culture",
    "partners": "Finding partners",
}
#: A rating from 1 (very dissatisfied / not a barrier) to 5 (very satisfied / a major barrier).
RATING: dict[str, Any] = dict(required=False, lower=1.0, limit=5.0, integer=True)

SURVEY = Table(
    "survey",
    "firm x wave",
    ("firm_id", "wave"),
    (
        Column("firm_id", "id", description="the firm invited to the SME panel (a firm of the firms file)"),
        Column("wave", "year", description="the year of the survey wave"),
        Column("responded", "category", choices=("yes", "no"),
               description="whether the firm answered this wave (yes/no); a no has no answers"),
        Column("cluster_id", "id", required=False,
               description="the consortium the respondent speaks about; blank = none"),
        Column("satisfaction", "number", **RATING,
               description="satisfaction with the consortium, 1 (very dissatisfied) to 5 (very satisfied)"),
        Column("intends_to_stay", "category", required=False, choices=("yes", "unsure", "no"),
               description="intends to remain a member next year: yes / unsure / no"),
        *(Column(f"barrier_{k}", "number", **RATING,
                 description=f"barrier to internationalisation: {v.lower()}, 1 (none) to 5 (major)")
          for k, v in BARRIERS.items()),
        Column("comment", "text", required=False, private=True,
               description="free text; read and checked, never stored or published"),
    ),
)

#: Kinds of cross-regional link (partnerships.link_type).
LINK_TYPES = ("joint_mission", "cross_regional_consortium", "shared_manager", "other")

PARTNERSHIPS = Table(
    "partnerships",
    "cross-regional link",
    ("link_id",),
    (
        Column("link_id", "id", description="the region's identifier of the link"),
        Column("year", "year", description="the year of the link (a mission's, a consortium's start)"),
        Column("partner_region", "nuts", description="NUTS-2 code of the partner region"),
        Column("link_type", "category", choices=LINK_TYPES,
               description="joint_mission / cross_regional_consortium / shared_manager / other"),
        Column("cluster_id", "id", required=False, description="this region's consortium in the link"),
        Column("n_firms", "number", required=False, integer=True, limit=EMPLOYEES_LIMIT,
               description="this region's firms taking part"),
    ),
)

#: Stages of a transferred practice, in order (``dropped`` can follow any other).
PRACTICE_STAGES = ("studied", "adapted", "piloted", "adopted", "dropped")

PRACTICES = Table(
    "practices",
    "practice x stage",
    ("practice_id", "stage"),
    (
        Column("practice_id", "id", description="the practice's identifier in the log"),
        Column("practice", "text", description="the practice's name (e.g. Export Consortia)"),
        Column("origin_region", "nuts", description="NUTS-2 code of the region the practice comes from"),
        Column("adopting_region", "nuts", description="NUTS-2 code of the region taking it up"),
        Column("stage", "category", choices=PRACTICE_STAGES,
               description="studied / adapted / piloted / adopted / dropped"),
        Column("stage_date", "date", description="when the practice reached the stage"),
        Column("budget_eur", "money", required=False, description="budget of the stage, EUR"),
        Column("notes", "text", required=False, private=True,
               description="free text; read and checked, never stored or published"),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (FIRMS, MEMBERSHIP, CLUSTERS, CLUSTER_FINANCE, ORDERS,
                                                SURVEY, PARTNERSHIPS, PRACTICES)}


# --------------------------------------------------------------------------- lab outputs

#: Columns of the indicator table (:func:`policylab.indicators.compute_indicators`, the
#: CSV and ``results.json``).
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
