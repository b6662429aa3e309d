"""Clusters (consortia) and their members, and the clusters' accounts.

Clusters are founded in staggered years 2015-2020; members are picked with selection on export
ability and sector. Internally firms and clusters are indices (``firm_index``,
``cluster_index``) and a missing year (exit, closure) is -1; the canonical tables use ids and
blanks. Money in EUR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .spec import CANONICAL, LAST_YEAR, SEED_YEARS, SURVIVAL_HORIZON, RegionSpec


def _make_clusters(
    rng: np.random.Generator,
    spec: RegionSpec,
    ability: np.ndarray,
    sector: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    cluster_ids: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clusters (staggered 2015-2020) and memberships; selection on export ability and sector."""
    n_c = spec.n_clusters
    for _ in range(100):
        founded = np.sort(rng.integers(2015, 2021, n_c))
        if len(set(founded.tolist())) >= min(4, n_c):
            break
    csector = rng.choice(np.array(spec.sectors[: max(4, n_c)]), size=n_c)
    late = rng.integers(0, 3, n_c)  # firms joining one or two years after founding
    target = round(spec.member_share * spec.n_firms)
    extra = max(target - int(late.sum()) - 5 * n_c, 0)
    founders = 5 + rng.multinomial(extra, rng.dirichlet(np.full(n_c, 2.0)))
    founders = np.minimum(founders, 16)

    taken = np.zeros(spec.n_firms, dtype=bool)
    rows: list[tuple[int, int, int]] = []  # (firm index, cluster index, join year)

    def pick(k: int, year: int, sec: str) -> np.ndarray:
        alive = (first <= year) & (last >= year) & ~taken
        idx = np.flatnonzero(alive)
        w = np.exp(0.6 * ability[idx]) * np.where(sector[idx] == sec, 4.0, 1.0)
        chosen = rng.choice(idx, size=min(k, len(idx)), replace=False, p=w / w.sum())
        taken[chosen] = True
        return np.sort(chosen)

    for c in range(n_c):
        for i in pick(int(founders[c]), int(founded[c]), str(csector[c])):
            rows.append((int(i), c, int(founded[c])))
        for _ in range(int(late[c])):
            year = int(min(founded[c] + rng.integers(1, 3), LAST_YEAR))
            for i in pick(1, year, str(csector[c])):
                rows.append((int(i), c, year))
    # A few firms belong to two clusters: members of an earlier cluster join a later one.
    n_double = int(rng.integers(2, 5))
    later = [c for c in range(n_c) if founded[c] > founded.min()]
    for _ in range(n_double):
        if not later:
            break
        c = int(rng.choice(later))
        year = int(founded[c])
        if sum(1 for _, cc, _ in rows if cc == c) >= 20:  # 5-20 members per cluster
            continue
        pool = sorted(
            {
                i
                for i, cc, y in rows
                if founded[cc] < year and cc != c and first[i] <= year <= last[i]
            }
            - {i for i, cc, _ in rows if cc == c}
        )
        if pool:
            rows.append((int(rng.choice(pool)), c, year))

    # Closures: among clusters whose seed ended at least 3 years before the last year, a
    # share closes 1-3 years after the seed ends; the younger ones all stay open.
    seed_end = founded + SEED_YEARS - 1
    eligible = np.flatnonzero(seed_end + SURVIVAL_HORIZON <= LAST_YEAR)
    n_close = int(round(spec.close_share * len(eligible)))
    closed = np.full(n_c, -1)
    if n_close:
        shut = rng.choice(eligible, size=n_close, replace=False)
        closed[shut] = seed_end[shut] + rng.integers(1, SURVIVAL_HORIZON + 1, n_close)

    firm_idx = np.array([r[0] for r in rows])
    clus_idx = np.array([r[1] for r in rows])
    join = np.array([r[2] for r in rows])
    exit_ = np.full(len(rows), 10**4)
    voluntary = (rng.random(len(rows)) < 0.12) & (join < LAST_YEAR)
    exit_[voluntary] = [int(rng.integers(j + 1, LAST_YEAR + 1)) for j in join[voluntary]]
    gone = last[firm_idx] < LAST_YEAR  # firm left the panel (closed down): membership ends too
    exit_[gone] = np.minimum(exit_[gone], last[firm_idx][gone] + 1)
    cl = closed[clus_idx]
    exit_ = np.where(cl > 0, np.minimum(exit_, cl), exit_)
    membership = pd.DataFrame(
        {
            "firm_index": firm_idx,
            "cluster_index": clus_idx,
            "join_year": join,
            "exit_year": np.where(exit_ <= LAST_YEAR, exit_, -1),
        }
    )
    clusters = pd.DataFrame(
        {
            "cluster_index": np.arange(n_c),
            "cluster_id": cluster_ids,
            "sector": csector.astype(str),
            "founded_year": founded,
            "seed_end_year": seed_end,
            "closed_year": closed,
        }
    )
    return clusters, membership


def _active_members(mem: pd.DataFrame, cluster_index: int, year: int) -> np.ndarray:
    """Firm indices that are members of a cluster in a year (joined, not yet left)."""
    c = mem["cluster_index"].to_numpy()
    j = mem["join_year"].to_numpy()
    x = mem["exit_year"].to_numpy()
    keep = (c == cluster_index) & (j <= year) & ((x < 0) | (x > year))
    return mem["firm_index"].to_numpy()[keep]


def _membership_table(mem: pd.DataFrame, ids: np.ndarray, cluster_ids: list[str]) -> pd.DataFrame:
    """The canonical membership table (blank exit year = still a member)."""
    return pd.DataFrame(
        {
            "firm_id": pd.array(ids[mem["firm_index"].to_numpy()], dtype="str"),
            "cluster_id": pd.array(
                np.array(cluster_ids, dtype=object)[mem["cluster_index"].to_numpy()], dtype="str"
            ),
            "join_year": mem["join_year"].to_numpy().astype("int64"),
            "exit_year": pd.array(
                [None if y < 0 else int(y) for y in mem["exit_year"]], dtype="Int64"
            ),
        }
    ).sort_values(["cluster_id", "firm_id"], ignore_index=True)


def _cluster_finance(
    rng: np.random.Generator, clusters: pd.DataFrame, mem: pd.DataFrame
) -> tuple[pd.DataFrame, list[float]]:
    """Cluster accounts (tapering public funding, rising member fees) and each seed grant.

    The seed grant is the public funding of the seed phase (its first ``SEED_YEARS`` years).
    """
    fin_rows = []
    seed_grant = []
    for c in clusters.itertuples():
        end = LAST_YEAR if c.closed_year < 0 else c.closed_year - 1
        base_cost = rng.uniform(30_000, 110_000)
        # small or no public money after the seed; other income covers a little of the costs
        after_public = rng.choice([0.0, 0.0, 0.05, 0.10])
        other = rng.uniform(0.0, 0.10)
        grant = 0.0
        for y in range(c.founded_year, end + 1):
            age = y - c.founded_year
            n_active = len(_active_members(mem, c.cluster_index, y))
            costs = (
                base_cost
                * (1 + 0.04 * age)
                * (0.85 + 0.015 * n_active)
                * np.exp(rng.normal(0, 0.05))
            )
            if age == 0:
                pub_share = 0.95
            elif age < SEED_YEARS:
                pub_share = 0.85
            else:
                pub_share = after_public
            public = round(costs * pub_share, 2)
            fees = round(costs * (1 - pub_share - (other if age >= SEED_YEARS else 0.0)), 2)
            if age < SEED_YEARS:
                grant += public
            fin_rows.append((c.cluster_id, y, round(costs, 2), fees, public))
        seed_grant.append(round(grant, 2))
    cluster_finance = pd.DataFrame(fin_rows, columns=CANONICAL["cluster_finance"])
    cluster_finance = cluster_finance.astype({"cluster_id": "str", "year": "int64"})
    return cluster_finance, seed_grant


def _clusters_table(
    clusters: pd.DataFrame,
    cluster_ids: list[str],
    cluster_names: list[str],
    seed_grant: list[float],
) -> pd.DataFrame:
    """The canonical clusters table (blank closing year = still active)."""
    return pd.DataFrame(
        {
            "cluster_id": pd.array(cluster_ids, dtype="str"),
            "cluster_name": pd.array(cluster_names, dtype="str"),
            "sector": pd.array(clusters["sector"].tolist(), dtype="str"),
            "founded_year": clusters["founded_year"].to_numpy().astype("int64"),
            "seed_end_year": pd.array(clusters["seed_end_year"].tolist(), dtype="Int64"),
            "seed_grant_eur": np.array(seed_grant),
            "closed_year": pd.array(
                [None if y < 0 else int(y) for y in clusters["closed_year"]], dtype="Int64"
            ),
        }
    )
