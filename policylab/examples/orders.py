"""Export orders: won via clusters (by active members) and outside any cluster; EUR.

Which orders are cross-regional deals (``partner_region``) is decided afterwards, from a
stream of its own (:func:`.links._partner_regions`), so the orders themselves do not change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clusters import _active_members
from .spec import CANONICAL, EU, FIRST_YEAR, LAST_YEAR, NON_EU, YEARS, RegionSpec


def _destinations(rng: np.random.Generator, own: str, k: int) -> list[str]:
    eu = [c for c in EU if c != own]
    non = [c for c in NON_EU if c != own]
    pool = np.array(eu + non)
    w = np.r_[
        np.linspace(3, 1, len(eu)) * 0.65 / np.linspace(3, 1, len(eu)).sum(),
        np.linspace(3, 1, len(non)) * 0.35 / np.linspace(3, 1, len(non)).sum(),
    ]
    return [str(x) for x in rng.choice(pool, size=k, p=w / w.sum())]


def _orders(
    rng: np.random.Generator,
    spec: RegionSpec,
    clusters: pd.DataFrame,
    mem: pd.DataFrame,
    ids: np.ndarray,
    cluster_ids: list[str],
    observed: np.ndarray,
    exports: np.ndarray,
) -> pd.DataFrame:
    own = "GB" if spec.country == "UK" else spec.country
    rows: list[tuple[str | None, str, int, int, float]] = []  # cluster, firm, year, day, value
    for c in clusters.itertuples():
        end = LAST_YEAR if c.closed_year < 0 else c.closed_year - 1
        for y in range(c.founded_year, end + 1):
            members = _active_members(mem, c.cluster_index, y)
            active = [int(i) for i in members if observed[i, y - FIRST_YEAR]]
            if not active:
                continue
            for _ in range(int(rng.poisson(0.3 * len(active)))):
                rows.append(
                    (
                        cluster_ids[c.cluster_index],
                        str(ids[int(rng.choice(active))]),
                        y,
                        int(rng.integers(0, 365)),
                        0.0,
                    )
                )
    for j, y in enumerate(YEARS):
        exporters = np.flatnonzero(observed[:, j] & (exports[:, j] > 0))
        for _ in range(int(rng.poisson(6))):
            rows.append(
                (None, str(ids[int(rng.choice(exporters))]), int(y), int(rng.integers(0, 365)), 0.0)
            )
    values = np.round(
        np.clip(np.exp(rng.normal(np.log(80_000), 0.75, len(rows))), 20_000, 500_000), 0
    )
    dest = _destinations(rng, own, len(rows))
    dates = [np.datetime64(f"{y}-01-01") + np.timedelta64(d, "D") for _, _, y, d, _ in rows]
    df = pd.DataFrame(
        {
            "cluster_id": [r[0] for r in rows],
            "firm_id": [r[1] for r in rows],
            "order_date": [str(d) for d in dates],
            "value_eur": values,
            "destination_country": dest,
        }
    )
    df = df.sort_values(["order_date", "firm_id", "value_eur"], kind="stable", ignore_index=True)
    year = df["order_date"].str.slice(0, 4).astype("int64")
    seq = df.groupby(year).cumcount() + 1
    df.insert(
        0,
        "order_id",
        [spec.order_id.format(year=int(y), n=int(s)) for y, s in zip(year, seq, strict=True)],
    )
    return df.astype(
        {
            "order_id": "str",
            "cluster_id": "str",
            "firm_id": "str",
            "order_date": "str",
            "destination_country": "str",
        }
    )[[c for c in CANONICAL["orders"] if c != "partner_region"]]
