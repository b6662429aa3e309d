"""Cross-regional links: the planted region x region pattern, the partnerships tables and which
export orders are cross-regional deals (``orders.partner_region``).

One pattern drives both: :data:`PARTNER_WEIGHTS`, a symmetric weight per pair of SIE regions
(Kent <-> Aquitaine strongest). The lab's links are drawn once for the whole lab
(:func:`_link_plan`, a stream of its own) and every link is recorded by both of its regions,
each in its own partnerships file with its own link id, consortium and firms. Everything here
draws from streams of its own, never from the streams of the firms, clusters or orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .spec import CANONICAL, LAST_YEAR, RegionSpec

#: The first year of cross-regional links: the SIE project started in April 2016.
FIRST_LINK_YEAR = 2016
#: Weight of each pair of regions (NUTS-2); pairs not listed weigh 1.
PARTNER_WEIGHTS: dict[frozenset[str], float] = {
    frozenset({"UKJ4", "FRI1"}): 5.0,  # Kent <-> Aquitaine: the strongest link
    frozenset({"ES13", "FRI1"}): 3.0,  # Cantabria <-> Aquitaine
    frozenset({"PL61", "CZ04"}): 3.0,  # Kujawsko-Pomorskie <-> Ústí
    frozenset({"ES13", "ITF2"}): 2.0,  # Cantabria <-> Molise
    frozenset({"UKJ4", "PL61"}): 2.0,  # Kent <-> Kujawsko-Pomorskie
    frozenset({"CZ04", "ITF2"}): 1.5,  # Ústí <-> Molise
}
#: Expected joint missions (and other links) per pair and year, per unit of weight.
MISSIONS_PER_WEIGHT = 0.35
OTHER_PER_WEIGHT = 0.05
#: The cross-regional consortia (pair, founding year) and the shared cluster managers: one per
#: region, three pairs.
CONSORTIA: tuple[tuple[str, str, int], ...] = (
    ("UKJ4", "FRI1", 2017),
    ("ES13", "FRI1", 2018),
    ("PL61", "CZ04", 2018),
    ("ES13", "ITF2", 2019),
    ("UKJ4", "FRI1", 2021),
)
SHARED_MANAGERS: tuple[tuple[str, str, int], ...] = (
    ("UKJ4", "FRI1", 2019),
    ("PL61", "CZ04", 2020),
    ("ES13", "ITF2", 2020),
)
LINK_TYPE_ORDER = ("joint_mission", "cross_regional_consortium", "shared_manager", "other")


def partner_weight(a: str, b: str) -> float:
    return 0.0 if a == b else PARTNER_WEIGHTS.get(frozenset({a, b}), 1.0)


@dataclass(frozen=True)
class Link:
    """One link of the lab between two regions (NUTS-2 codes, ``a`` < ``b``)."""

    year: int
    a: str
    b: str
    link_type: str


def _link_plan(rng: np.random.Generator, nuts: list[str]) -> list[Link]:
    """Every cross-regional link of the lab: joint missions and other links drawn per pair and
    year in proportion to the pair's weight, plus the planted consortia and shared managers."""
    pairs = [(a, b) for i, a in enumerate(sorted(nuts)) for b in sorted(nuts)[i + 1 :]]
    links: list[Link] = []
    for year in range(FIRST_LINK_YEAR, LAST_YEAR + 1):
        for a, b in pairs:
            w = partner_weight(a, b)
            links += [Link(year, a, b, "joint_mission")] * int(rng.poisson(MISSIONS_PER_WEIGHT * w))
            links += [Link(year, a, b, "other")] * int(rng.poisson(OTHER_PER_WEIGHT * w))
    for kind, plan in (
        ("cross_regional_consortium", CONSORTIA),
        ("shared_manager", SHARED_MANAGERS),
    ):
        for a, b, year in plan:
            a, b = sorted((a, b))
            links.append(Link(year, a, b, kind))
    return sorted(links, key=lambda k: (k.year, LINK_TYPE_ORDER.index(k.link_type), k.a, k.b))


def _active_cluster_ids(clusters: pd.DataFrame, year: int) -> list[str]:
    closed = clusters["closed_year"].astype("Float64").fillna(10**4)
    ok = (clusters["founded_year"] <= year) & (closed > year)
    return sorted(clusters.loc[ok.to_numpy(dtype=bool), "cluster_id"].astype(str))


def _partnerships(
    rng: np.random.Generator, spec: RegionSpec, plan: list[Link], clusters: pd.DataFrame
) -> pd.DataFrame:
    """The region's partnerships table: every link of the plan it takes part in."""
    assert spec.other_half is not None
    rows = []
    seq: dict[int, int] = {}
    for link in plan:
        if spec.nuts2 not in (link.a, link.b):
            continue
        partner = link.b if link.a == spec.nuts2 else link.a
        seq[link.year] = seq.get(link.year, 0) + 1
        active = _active_cluster_ids(clusters, link.year)
        cluster = str(rng.choice(active)) if active else None
        if link.link_type == "joint_mission":
            n_firms: int | None = int(rng.integers(2, 8))
            if rng.random() < 0.15:  # a mission of the agency, not of one consortium
                cluster = None
        elif link.link_type == "cross_regional_consortium":
            n_firms = int(rng.integers(3, 7))
        elif link.link_type == "shared_manager":
            n_firms = None
        else:
            n_firms = int(rng.integers(1, 5))
        rows.append(
            (spec.other_half.link_id.format(year=link.year, n=seq[link.year]), link.year, partner,
             link.link_type, cluster, n_firms)
        )  # fmt: skip
    df = pd.DataFrame(rows, columns=CANONICAL["partnerships"])
    return df.astype(
        {"link_id": "str", "year": "int64", "partner_region": "str", "link_type": "str",
         "cluster_id": "str", "n_firms": "Int64"}
    )  # fmt: skip


def _partner_regions(
    rng: np.random.Generator, spec: RegionSpec, orders: pd.DataFrame, nuts: list[str]
) -> pd.Series:
    """``orders.partner_region``: a planted share of the region's orders (``cross_share`` of all
    its orders, exactly, rounded) are cross-regional deals, drawn among orders won via a
    consortium from :data:`FIRST_LINK_YEAR` on; the deals are split among the partner regions
    in proportion to :data:`PARTNER_WEIGHTS` (largest remainders), in random order."""
    assert spec.other_half is not None
    out = pd.Series([None] * len(orders), index=orders.index, dtype="str")
    year = orders["order_date"].str.slice(0, 4).astype("int64")
    eligible = np.flatnonzero((orders["cluster_id"].notna() & (year >= FIRST_LINK_YEAR)).to_numpy())
    k = min(round(spec.other_half.cross_share * len(orders)), len(eligible))
    chosen = np.sort(rng.choice(eligible, size=k, replace=False))
    partners = [n for n in nuts if n != spec.nuts2]
    w = np.array([partner_weight(spec.nuts2, n) for n in partners])
    quota = k * w / w.sum()
    counts = np.floor(quota).astype(int)
    extra = k - int(counts.sum())
    counts[np.argsort(-(quota - counts), kind="stable")[:extra]] += 1
    labels = np.repeat(np.array(partners, dtype=object), counts)
    out.iloc[chosen] = [str(x) for x in rng.permutation(labels)]
    return out
