"""What every indicator function reads: a region's (or the whole lab's) canonical tables,
normalised once, and the firm-year panel with each firm-year's group.

Conventions (shared domain notes §1.2, as the example data define them):

- a member-year is a (firm, cluster, year) with ``join_year <= year < exit_year``; the exit
  year is the first year without membership, a blank exit = still a member;
- a cluster is active in ``year`` while ``founded_year <= year < closed_year`` (blank closed
  year = still active);
- for firm outcomes, a firm-year is in group ``members`` if the firm joined a consortium in
  that year or earlier (it stays there after leaving: intention to treat, as the impact
  estimates count it), ``not_yet_members`` if it joins later, ``never_members`` otherwise;
  ``all`` is the three together;
- firm size classes follow the EU SME definition's headcount limits (Rec. 2003/361):
  micro < 10, small < 50, medium < 250 employees, large otherwise; turnover and balance-sheet
  ceilings are not applied (the schema has no balance sheet);
- the lab's other half (optional tables): a survey wave's year is ``wave``; categories
  (``responded``, ``intends_to_stay``, ``link_type``, ``stage``) are lower case and NUTS
  codes (``partner_region``, ``origin_region``, ``adopting_region``) upper case, blank = none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..did.panel import cohorts
from ..schema import BARRIERS

CUMULATIVE = "cumulative"
#: Category columns (lower case) and NUTS-code columns (upper case) of the optional tables.
CATEGORIES = ("responded", "intends_to_stay", "link_type", "stage")
NUTS = ("partner_region", "origin_region", "adopting_region")
#: The survey's barrier ratings (``barrier_<key>``, keys of :data:`policylab.schema.BARRIERS`).
RATED = tuple(f"barrier_{k}" for k in BARRIERS)


@dataclass(frozen=True)
class Options:
    """Definitions a lab may tune (defaults as in the domain notes)."""

    new_exporter_lookback: int = 2  # I15: no exports in the previous k years
    new_market_lookback: int = 3  # I16: destination not served in the previous k years
    survival_horizons: tuple[int, ...] = (1, 2, 3)  # I04: years after the seed phase

    def __post_init__(self) -> None:
        for name in ("new_exporter_lookback", "new_market_lookback"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if not self.survival_horizons or min(self.survival_horizons) < 1:
            raise ValueError(f"survival_horizons must be positive years, got {self.survival_horizons!r}")


def _years(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("Float64")


def _blank(s: pd.Series) -> pd.Series:
    """Empty text as missing."""
    return s.mask(s == "")


def normalise_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copies of the canonical tables with plain dtypes: ids as strings, years as floats
    (NaN = blank), an order ``year`` column. The caller's frames are never modified."""
    out: dict[str, pd.DataFrame] = {}
    for name, df in tables.items():
        df = df.copy()
        for col in ("firm_id", "cluster_id", "order_id", "destination_country", "link_id", "practice_id"):
            if col in df:
                df[col] = df[col].astype("string")
        for col in CATEGORIES:
            if col in df:
                df[col] = _blank(df[col].astype("string").str.strip().str.lower())
        for col in NUTS:
            if col in df:
                df[col] = _blank(df[col].astype("string").str.strip().str.upper())
        for col in ("year", "join_year", "exit_year", "founded_year", "seed_end_year", "closed_year", "wave"):
            if col in df:
                df[col] = _years(df[col]).astype("float64")
        counts = ("n_firms",) if name == "partnerships" else ()
        for col in ("exports_eur", "turnover_eur", "employees", "value_eur", "running_costs_eur",
                    "member_fees_eur", "public_funding_eur", "seed_grant_eur", "n_export_markets",
                    "satisfaction", *RATED, "budget_eur", *counts):
            if col in df:
                df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        if name == "practices" and "stage_date" in df:
            df["stage_date"] = pd.to_datetime(df["stage_date"], errors="coerce")
        if "region" not in df:
            df["region"] = ""
        df["region"] = df["region"].astype(str)
        if name == "orders" and "order_date" in df:
            df["order_date"] = pd.to_datetime(df["order_date"], errors="coerce")
            df["year"] = df["order_date"].dt.year.astype("float64")
        out[name] = df
    return out


@dataclass(frozen=True)
class Inputs:
    """One scope's inputs: a region, or the whole lab (tables of several regions stacked,
    ids prefixed with the region key). Built by :func:`make_inputs`; read-only."""

    tables: Mapping[str, pd.DataFrame]
    years: tuple[int, ...]
    options: Options = Options()
    scope: str = "region"  # "region" | "lab"
    impact: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # region -> outcome -> DiDResult
    windows: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # region -> (first, last year)
    nuts2: Mapping[str, str] = field(default_factory=dict)  # region -> its NUTS-2 code

    def own_region(self, frame: pd.DataFrame) -> np.ndarray:
        """The NUTS-2 code of each row's region (``""`` when not known)."""
        codes = frame["region"].astype(str).map(dict(self.nuts2))
        return codes.fillna("").astype(str).to_numpy(dtype=object)

    def window(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """First and last year of each row's region (columns ``_lo``, ``_hi`` that
        :func:`make_inputs` adds to every table)."""
        return frame["_lo"].to_numpy(dtype="float64"), frame["_hi"].to_numpy(dtype="float64")

    def in_window(self, frame: pd.DataFrame, year) -> np.ndarray:
        """Whether ``year`` (scalar or per row) is inside each row's region's years: in the
        lab-wide scope a region only counts in the years it reports."""
        lo, hi = self.window(frame)
        y = np.asarray(year, dtype="float64")
        return (y >= lo) & (y <= hi)

    @property
    def first_year(self) -> int:
        return self.years[0]

    @property
    def last_year(self) -> int:
        return self.years[-1]

    @cached_property
    def membership(self) -> pd.DataFrame:
        m = self.tables["membership"]
        m = m[m["firm_id"].notna() & m["cluster_id"].notna() & m["join_year"].notna()]
        if "exit_year" not in m:
            m = m.assign(exit_year=np.nan)
        return m.reset_index(drop=True)

    @cached_property
    def member_years(self) -> pd.DataFrame:
        """One row per member-year inside the window: ``firm_id, cluster_id, year``."""
        m = self.membership
        if not self.years:
            return pd.DataFrame({"firm_id": [], "cluster_id": [], "year": []})
        lo, hi = self.window(m)
        start = np.maximum(m["join_year"].to_numpy(), lo)
        ex = m["exit_year"].to_numpy()
        stop = np.minimum(np.where(np.isnan(ex), hi + 1, ex), hi + 1)
        n = np.clip(stop - start, 0, None).astype("int64")
        idx = np.repeat(np.arange(len(m)), n)
        offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        out = pd.DataFrame({
            "firm_id": m["firm_id"].to_numpy()[idx],
            "cluster_id": m["cluster_id"].to_numpy()[idx],
            "year": (start[idx] + offset).astype("int64"),
            "region": m["region"].to_numpy()[idx],
        })
        return out

    def active_memberships(self, year: int) -> pd.DataFrame:
        """Memberships active in ``year`` (``join_year <= year < exit_year``)."""
        m = self.membership
        ex = m["exit_year"].to_numpy()
        keep = (m["join_year"].to_numpy() <= year) & (np.isnan(ex) | (ex > year))
        return m[keep & self.in_window(m, year)]

    @cached_property
    def clusters(self) -> pd.DataFrame:
        c = self.tables["clusters"]
        c = c[c["cluster_id"].notna()]
        if "closed_year" not in c:
            c = c.assign(closed_year=np.nan)
        return c.reset_index(drop=True)

    @cached_property
    def cluster_years(self) -> pd.DataFrame:
        """One row per year a cluster is active inside its region's years: ``cluster_id, year``."""
        c = self.clusters
        lo, hi = self.window(c)
        start = np.maximum(c["founded_year"].to_numpy(dtype="float64"), lo)
        closed = c["closed_year"].to_numpy(dtype="float64")
        stop = np.minimum(np.where(np.isnan(closed), hi + 1, closed), hi + 1)
        n = np.nan_to_num(np.clip(stop - start, 0, None)).astype("int64")
        idx = np.repeat(np.arange(len(c)), n)
        offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        return pd.DataFrame({"cluster_id": c["cluster_id"].to_numpy()[idx],
                             "year": (start[idx] + offset).astype("int64")})

    def active_clusters(self, year: int) -> pd.DataFrame:
        """Clusters active in ``year`` (``founded_year <= year < closed_year``)."""
        c = self.clusters
        closed = c["closed_year"].to_numpy()
        keep = (c["founded_year"].to_numpy() <= year) & (np.isnan(closed) | (closed > year))
        return c[keep & self.in_window(c, year)]

    @cached_property
    def panel(self) -> pd.DataFrame:
        """Firm-year rows: ``region, firm_id, year, cohort`` (0 = never a member), ``group``
        and the firms columns (``exports_eur``, ``turnover_eur``, ``employees`` if given)."""
        f = self.tables["firms"]
        keep = [c for c in ("region", "firm_id", "year", "exports_eur", "turnover_eur", "employees")
                if c in f]
        p = f.loc[f["firm_id"].notna() & f["year"].notna(), keep].copy()
        p["year"] = p["year"].astype("int64")
        coh = cohorts(self.membership.astype({"join_year": "int64"}))[["firm_id", "cohort"]]
        # the ids are hashed once: codes in their sorted order give the cohort look-up (one
        # per firm) and the sort by firm and year (a stable sort, as sort_values would do)
        codes, ids = pd.factorize(p["firm_id"], sort=True)
        at = pd.Index(coh["firm_id"]).get_indexer(ids)
        per_firm = np.where(at >= 0, coh["cohort"].to_numpy(dtype="int64")[at], 0)
        p["cohort"] = per_firm[codes]
        p["group"] = np.where(p["cohort"] == 0, "never_members",
                              np.where(p["year"] >= p["cohort"], "members", "not_yet_members"))
        order = np.lexsort((p["year"].to_numpy(), codes))
        p = p.take(order).reset_index(drop=True)
        # integer firm codes in the panel's (sorted) order: group-bys and look-ups on them
        # avoid hashing the id strings again in every indicator
        p["firm_code"] = codes[order].astype("int64")
        return p

    @cached_property
    def orders(self) -> pd.DataFrame:
        o = self.tables["orders"]
        o = o[o["year"].notna()].copy()
        o["year"] = o["year"].astype("int64")
        if "cluster_id" not in o:
            o["cluster_id"] = pd.Series(pd.NA, index=o.index, dtype="string")
        if "firm_id" not in o:
            o["firm_id"] = pd.Series(pd.NA, index=o.index, dtype="string")
        return o.reset_index(drop=True)


def size_class(employees: pd.Series) -> pd.Series:
    """EU SME headcount classes; ``size_unknown`` when the headcount is missing."""
    e = employees.to_numpy(dtype="float64")
    out = np.select([np.isnan(e), e < 10, e < 50, e < 250], ["size_unknown", "micro", "small", "medium"],
                    default="large")
    return pd.Series(out, index=employees.index)


def map_region(region: pd.Series, values: Mapping[str, float]) -> np.ndarray:
    """``values`` of each row's region as floats (NaN for a region not in ``values``); one
    look-up per distinct region, not per row."""
    codes, uniques = pd.factorize(region)
    per = np.array([float(values.get(u, np.nan)) for u in uniques] + [np.nan], dtype="float64")
    return per[codes]  # code -1 (a missing region) takes the trailing NaN


def make_inputs(tables: Mapping[str, pd.DataFrame], *, options: Options = Options(),
                impact: Mapping[str, Mapping[str, Any]] | None = None, scope: str = "region",
                nuts2: Mapping[str, str] | None = None,
                windows: Mapping[str, tuple[int, int]] | None = None) -> Inputs:
    """Normalise canonical tables (one region's, or several stacked by :func:`stack_regions`)
    into :class:`Inputs`.

    Each region's years run from its first to its last year in ``firms`` (or as ``windows``
    gives them, region -> (first, last year), when ``firms`` holds only some of the region's
    firm-years: the members', with the rest on disk); yearly rows of
    ``orders``, ``cluster_finance`` and ``partnerships`` outside them are left out, and the
    scope's years are the union. ``nuts2`` maps each region (``""`` for one region's own
    tables, the region key in the lab-wide scope) to its NUTS-2 code.
    """
    given = windows
    norm = normalise_tables(tables)
    f = norm["firms"].dropna(subset=["year"])
    span = f.groupby("region")["year"].agg(["min", "max"])
    windows = {str(r): (int(lo), int(hi)) for r, lo, hi in zip(span.index, span["min"], span["max"])}
    if given is not None:
        windows = {str(r): (int(lo), int(hi)) for r, (lo, hi) in given.items()}
    years: tuple[int, ...] = ()
    if windows:
        years = tuple(range(min(w[0] for w in windows.values()), max(w[1] for w in windows.values()) + 1))
    first = {k: w[0] for k, w in windows.items()}
    last = {k: w[1] for k, w in windows.items()}
    for name, df in list(norm.items()):
        df["_lo"] = map_region(df["region"], first)
        df["_hi"] = map_region(df["region"], last)
        if name in ("orders", "cluster_finance", "partnerships"):
            df = df[(df["year"] >= df["_lo"]) & (df["year"] <= df["_hi"])].reset_index(drop=True)
        norm[name] = df
    return Inputs(tables=norm, years=years, options=options, scope=scope, impact=dict(impact or {}),
                  windows=windows, nuts2=dict(nuts2 or {}))


def stack_regions(parts: list[tuple[str, Mapping[str, pd.DataFrame]]]) -> dict[str, pd.DataFrame]:
    """The tables of several regions stacked into one lab, with ids prefixed ``<key>/`` so
    firms and clusters of different regions never merge, and a ``region`` column."""
    stacked: dict[str, list[pd.DataFrame]] = {}
    for key, tables in parts:
        for name, df in tables.items():
            df = df.copy()
            for col in ("firm_id", "cluster_id", "order_id"):
                if col in df:
                    df[col] = (key + "/") + df[col].astype("string")
            df["region"] = key
            stacked.setdefault(name, []).append(df)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in stacked.items()}
