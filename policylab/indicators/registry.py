"""The indicator registry: each indicator's metadata and the pure function computing it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

# A compute function takes the region's canonical tables (and the firm-year panel) and returns
# a frame with columns: period (str: a year or "cumulative"), group, value, n_firms.
ComputeFn = Callable[[dict[str, pd.DataFrame], pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    unit: str
    level: str  # "firm" | "cluster" | "region" | "lab"
    numerator: str
    denominator: str
    needs: tuple[str, ...]  # canonical tables
    eu_code: str | None
    compute: ComputeFn


REGISTRY: dict[str, Indicator] = {}


def indicator(**meta) -> Callable[[ComputeFn], ComputeFn]:
    """Register ``fn`` under ``meta['id']`` with its metadata."""

    def wrap(fn: ComputeFn) -> ComputeFn:
        ind = Indicator(compute=fn, **meta)
        if ind.id in REGISTRY:
            raise ValueError(f"indicator {ind.id} registered twice")
        REGISTRY[ind.id] = ind
        return fn

    return wrap
