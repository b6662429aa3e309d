"""What the example is made of: its years, tables, money conventions and the region spec types.

The six regions themselves (:data:`REGIONS`) are in :mod:`.regions`. Money is in EUR unless a
file says otherwise; ``FX`` rates are local currency units per EUR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_SEED = 20261127
FIRST_YEAR, LAST_YEAR = 2012, 2023
YEARS = np.arange(FIRST_YEAR, LAST_YEAR + 1)
SEED_YEARS = 3  # a consortium's seed phase: founding year + 2 more years
SURVIVAL_HORIZON = 3  # cluster survival is measured this many years after the seed ends
TRUTH_COLUMNS = ["region", "cohort", "year", "event_time", "outcome", "att", "n_firms"]
TRUTH_OUTCOMES = ("exporter", "log_exports")
#: The realized gain in export value (EUR) and its split by prior export status (a firm with
#: observed exports above 0 in a year before the region's first cohort is a prior exporter),
#: the split ``policylab.margins`` estimates: the two parts add up to the first.
VALUE_SPLIT_OUTCOMES = ("exports_eur", "exports_eur_prior_exporters", "exports_eur_new_exporters")

# fmt: off
# Canonical column order, as in policylab/schema.py (kept literal so this module imports light).
CANONICAL = {
    "firms": ["firm_id", "year", "exports_eur", "turnover_eur", "employees", "sector",
              "n_export_markets", "firm_name"],
    "membership": ["firm_id", "cluster_id", "join_year", "exit_year"],
    "clusters": ["cluster_id", "cluster_name", "sector", "founded_year", "seed_end_year",
                 "seed_grant_eur", "closed_year"],
    "cluster_finance": ["cluster_id", "year", "running_costs_eur", "member_fees_eur",
                        "public_funding_eur"],
    "orders": ["order_id", "cluster_id", "firm_id", "order_date", "value_eur",
               "destination_country", "partner_region"],
    # the laboratory's other half (issue 13): SME panel, cross-regional links, practice transfer
    "survey": ["firm_id", "wave", "responded", "cluster_id", "satisfaction", "intends_to_stay",
               "barrier_size", "barrier_finance", "barrier_information", "barrier_regulation",
               "barrier_language", "barrier_partners", "comment"],
    "partnerships": ["link_id", "year", "partner_region", "link_type", "cluster_id", "n_firms"],
    "practices": ["practice_id", "practice", "origin_region", "adopting_region", "stage",
                  "stage_date", "budget_eur", "notes"],
}
TABLE_ORDER = tuple(CANONICAL)
MONEY = {c for cols in CANONICAL.values() for c in cols if c.endswith("_eur")}
BARRIERS = ("size", "finance", "information", "regulation", "language", "partners")
INTEGERS = {"year", "join_year", "exit_year", "founded_year", "seed_end_year", "closed_year",
            "employees", "n_export_markets", "wave", "satisfaction", "n_firms",
            *(f"barrier_{b}" for b in BARRIERS)}

# Approximate ECB annual average reference rates, local currency units per EUR (from memory;
# good enough for a synthetic example, not for an evaluation).
FX: dict[str, dict[int, float]] = {
    "PLN": {2012: 4.1847, 2013: 4.1975, 2014: 4.1843, 2015: 4.1841, 2016: 4.3632, 2017: 4.2570,
            2018: 4.2615, 2019: 4.2976, 2020: 4.4430, 2021: 4.5652, 2022: 4.6861, 2023: 4.5420},
    "CZK": {2012: 25.149, 2013: 25.980, 2014: 27.536, 2015: 27.279, 2016: 27.034, 2017: 26.326,
            2018: 25.647, 2019: 25.670, 2020: 26.455, 2021: 25.640, 2022: 24.566, 2023: 24.004},
    "GBP": {2012: 0.81087, 2013: 0.84926, 2014: 0.80612, 2015: 0.72584, 2016: 0.81948,
            2017: 0.87667, 2018: 0.88471, 2019: 0.87777, 2020: 0.88970, 2021: 0.85960,
            2022: 0.85276, 2023: 0.86979},
}

EU = ("DE", "FR", "IT", "ES", "NL", "BE", "PL", "AT", "CZ", "SE", "DK", "PT", "IE", "SK", "HU",
      "FI", "RO")
NON_EU = ("US", "GB", "CH", "NO", "CN", "JP", "MA", "TR", "AE", "CA", "MX", "BR", "IN", "KR")
# fmt: on


# --------------------------------------------------------------------------------------------
# Region specifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effects:
    """The planted treatment effects of one region (all zero = no effect).

    ``exporter_pp`` is the rise in the share of members exporting at full ramp: that share of
    each cohort, drawn among members that would not export under ``Y0``, is switched on.
    ``value_pct`` raises the export value of members that export anyway. ``ramp_years`` R gives
    ``ramp(e) = min((e + 1) / R, 1)`` at event time e >= 0. ``markets`` is the expected number of
    extra export markets of exporting members at full ramp. The two ``pretrend_*`` terms plant
    a selection pre-trend: a future member's log exports (and latent export index) are lower by
    that amount per year before joining, i.e. they grow faster than non-members' before joining.
    """

    exporter_pp: float
    value_pct: float
    ramp_years: int
    markets: float = 0.0
    pretrend_log_exports: float = 0.0
    pretrend_index: float = 0.0

    @property
    def is_zero(self) -> bool:
        return self.exporter_pp == 0 and self.value_pct == 0 and self.markets == 0

    def ramp(self, event_time: np.ndarray) -> np.ndarray:
        e = np.asarray(event_time, dtype="float64")
        if self.ramp_years <= 0:
            return np.zeros_like(e)
        return np.where(e >= 0, np.minimum((e + 1) / self.ramp_years, 1.0), 0.0)


@dataclass(frozen=True)
class FileLayout:
    """How one canonical table is laid out in a region's file (what the config must say)."""

    table: str
    file: str
    columns: Mapping[str, str]  # canonical column -> column name in the file, in file order
    delimiter: str | None = None
    decimal: str = "."
    thousands: str = ""
    encoding: str = "utf-8"
    sheet: str | None = None
    header_row: int = 1
    scale: float = 1.0
    title: str = ""  # xlsx only: the title line above the header
    # category column -> {the file's label: canonical value}; the first label of a value is
    # the one written (the config's ``values``)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def format(self) -> str:
        return Path(self.file).suffix.lstrip(".")

    def label(self, column: str, value: str) -> str:
        """The file's label of a canonical category value (the value itself if not recoded)."""
        for label, canonical in self.values.get(column, {}).items():
            if canonical == value:
                return label
        return value


@dataclass(frozen=True)
class OtherHalf:
    """What is planted in a region's "other half" (issue 13): its SME panel, its cross-regional
    orders and links, the ids of its links and practices (:mod:`.panel`, :mod:`.links`,
    :mod:`.practices`).

    ``barriers`` are the mean ratings (1-5) of the six barriers to internationalisation before
    rounding and clipping; ``barrier_shift`` = (barrier, first wave, added mean) raises one from
    a wave on (Kent's regulation after Brexit). ``cross_share`` is the share of the region's
    orders that are cross-regional deals.
    """

    panel_members: int  # members invited per wave (all active members if fewer)
    panel_never: int  # never-members invited per wave
    response_rate: float
    barriers: Mapping[str, float]
    cross_share: float
    link_id: str  # format with {year} and {n}
    practice_id: str  # format with {n}
    barrier_shift: tuple[str, int, float] | None = None

    @property
    def top_barrier(self) -> str:
        return max(self.barriers, key=lambda b: self.barriers[b])


@dataclass(frozen=True)
class RegionSpec:
    """A region of the example: identity, size of its synthetic world, effects and file layout."""

    key: str
    name: str
    nuts2: str
    country: str
    currency: str
    programme: str
    n_firms: int
    n_clusters: int
    baseline_exporters: float  # target share of firms exporting in 2012-2014
    member_share: float  # target share of firms ever joining a consortium
    close_share: float  # share of clusters (old enough) closing within 3 years after the seed ends
    effects: Effects
    sectors: tuple[str, ...]
    language: str
    firm_id: str  # format with {n}
    cluster_id: str  # format with {n}
    order_id: str  # format with {year} and {n}
    layout: tuple[FileLayout, ...]
    notes: tuple[str, ...] = ()  # config comments: the quirks of this region's files
    other_half: OtherHalf | None = None

    @property
    def fx(self) -> dict[int, float]:
        return dict(FX.get(self.currency, {}))

    def file(self, table: str) -> FileLayout:
        for f in self.layout:
            if f.table == table:
                return f
        raise KeyError(table)
