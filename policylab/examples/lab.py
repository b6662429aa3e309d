"""The generator's results: an :class:`ExampleLab` of one :class:`RegionExample` per region."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .spec import TABLE_ORDER, RegionSpec


@dataclass(frozen=True)
class RegionExample:
    """One region's synthetic world: the canonical tables (EUR) plus what was planted.

    ``potential`` has one row per observed firm-year: ``cohort`` (0 = never a member),
    ``treated``, the potential outcomes ``exports_eur_y0`` / ``exports_eur_y1`` (Y1 only for
    treated rows) and ``exports_missing`` (the observed value is blank).

    ``survey``, ``partnerships`` and ``practices`` are the laboratory's other half (the SME
    panel, cross-regional links, the practice-transfer log); ``orders.partner_region`` marks
    the cross-regional deals. They come from streams of their own: the other tables do not
    depend on them.
    """

    spec: RegionSpec
    firms: pd.DataFrame
    membership: pd.DataFrame
    clusters: pd.DataFrame
    cluster_finance: pd.DataFrame
    orders: pd.DataFrame
    potential: pd.DataFrame
    truth: pd.DataFrame
    switchers: int  # members switched on to exporting by the programme (at full ramp)
    survey: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    partnerships: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    practices: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLE_ORDER}


@dataclass(frozen=True)
class ExampleLab:
    """The whole synthetic lab: one :class:`RegionExample` per region, in :data:`REGIONS` order."""

    seed: int
    regions: tuple[RegionExample, ...]
    truth: pd.DataFrame = field(repr=False)

    def region(self, key: str) -> RegionExample:
        for r in self.regions:
            if r.spec.key == key:
                return r
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(r.spec.key for r in self.regions)
