"""Monitoring indicators per region, cluster and the whole lab, with disclosure control
applied once, here (rules: :mod:`policylab.indicators.disclosure`).

Definitions follow the shared domain notes §1.2 (I01-I23) plus the SME panel (I24-I28);
:func:`catalogue` lists every indicator with its metadata and status. Gross, descriptive
numbers, kept apart from the impact estimates (I19 is the one indicator that uses an
estimate). The lab's other half (I22-I28: cross-regional deals and links, practice transfer,
the SME panel survey) comes from optional tables: a region without them has no such rows.

Example
-------
>>> from policylab.indicators import compute_indicators
>>> table = compute_indicators(regions, min_cell_firms=5, dominance_share=0.85)  # doctest: +SKIP
>>> table[(table.indicator_id == "I14") & (table.level == "region")]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..schema import INDICATOR_COLUMNS, RegionInfo
from . import clusters, costs, firms, network, orders, practices, survey  # noqa: F401  (register the indicators)
from .disclosure import apply_disclosure_control
from .inputs import CUMULATIVE, Inputs, Options, make_inputs, stack_regions
from .registry import CELL_COLUMNS, NOT_BUILT, REGISTRY, Indicator, catalogue

__all__ = [
    "LAB_REGION",
    "NOT_BUILT",
    "REGISTRY",
    "Indicator",
    "Options",
    "apply_disclosure_control",
    "catalogue",
    "check_selection",
    "compute_indicators",
    "raw_indicators",
    "select_indicators",
    "suppress_small_cells",
]

#: An indicator's cells computed elsewhere: ``(indicator, inputs, scope) -> cells``.
Compute = Callable[[Indicator, Inputs, str], pd.DataFrame]

#: ``region`` of the lab-wide rows (``level == "lab"``, ``nuts2`` empty).
LAB_REGION = "All regions"
RAW_COLUMNS = [*INDICATOR_COLUMNS, "n_contrib", "max_share"]


def _impact_by_region(effects: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """``{region key: {outcome: DiDResult}}`` from ``RegionEffect`` objects."""
    out: dict[str, dict[str, Any]] = {}
    for eff in effects:
        out.setdefault(eff.region, {})[eff.outcome] = eff.result
    return out


def _not_available(reason: str) -> pd.DataFrame:
    from ._cells import cells

    return cells([{"period": CUMULATIVE, "group": "all", "value": np.nan, "n_firms": 0,
                   "flag": "not_available", "note": f"not available: {reason}"}])


def _explain(need: str) -> str:
    if "|" in need:
        return " or ".join(_explain(n) for n in need.split("|"))
    table, _, column = need.partition(".")
    if table == "impact":
        return (f"an impact estimate of outcome {column} (policylab evaluate with "
                f"'{column}' in estimation.outcomes)")
    return f"column {need}" if column else f"table {need}"


def _label(df: pd.DataFrame, ind: Indicator, region: str, nuts2: str, level: str | None) -> pd.DataFrame:
    df = df.reindex(columns=CELL_COLUMNS)
    lvl = level or "region"
    levels = np.where(df["cluster_id"].astype(str) != "", "cluster", lvl)
    return df.assign(region=region, nuts2=nuts2, indicator_id=ind.id, indicator=ind.name,
                     level=levels, unit=ind.unit)


def raw_indicators(
    regions: Iterable[tuple[RegionInfo, Mapping[str, pd.DataFrame]]],
    *,
    effects: Iterable[Any] = (),
    options: Options | None = None,
    ids: Iterable[str] | None = None,
    lab_wide: bool | None = None,
    windows: Mapping[str, tuple[int, int]] | None = None,
    compute: Compute | None = None,
) -> pd.DataFrame:
    """Every indicator for every region (and lab-wide), before disclosure control.

    Columns :data:`~policylab.evaluation.INDICATOR_COLUMNS` plus ``n_contrib`` and
    ``max_share`` (disclosure control's inputs, never published). ``lab_wide`` defaults to
    "when there are at least two regions".

    For a lab whose firm tables stay on disk (an SQL engine, :mod:`policylab.engines`):
    ``windows`` gives each region's first and last year (region key -> years) when its
    ``firms`` table in ``regions`` holds only its members' firm-years, and ``compute(indicator,
    inputs, scope)`` (scope: a region key or ``"lab"``) computes an indicator's cells in place
    of ``indicator.compute(inputs)``.
    """
    regions = list(regions)
    options = options or Options()
    chosen = [REGISTRY[i] for i in (ids or REGISTRY)]
    impact = _impact_by_region(effects)
    parts: list[pd.DataFrame] = []
    available: dict[str, list[str]] = {ind.id: [] for ind in chosen}
    for info, tables in regions:
        own = impact.get(info.key, {})
        inp = make_inputs(tables, options=options, impact={"": own}, nuts2={"": info.nuts2},
                          windows={"": windows[info.key]} if windows is not None else None)
        for ind in chosen:
            missing = ind.missing_inputs(tables, frozenset(own))
            if missing and ind.optional:
                continue  # an optional table the region does not have: no rows
            if missing:
                df = _not_available("needs " + ", ".join(_explain(m) for m in missing))
            elif not inp.years:
                df = _not_available("no firm-years in the data")
            else:
                df = compute(ind, inp, info.key) if compute is not None else ind.compute(inp)
                available[ind.id].append(info.key)
            parts.append(_label(df, ind, info.name, info.nuts2, "region"))
    if lab_wide is None:
        lab_wide = len(regions) >= 2
    if lab_wide:
        parts += _lab_rows(regions, chosen, available, impact, options, windows, compute)
    if not parts:
        return pd.DataFrame(columns=RAW_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    return out[RAW_COLUMNS]


def _lab_rows(regions, chosen, available, impact, options, windows=None, compute=None) -> list[pd.DataFrame]:
    by_key = {info.key: tables for info, tables in regions}
    codes = {info.key: info.nuts2 for info, _ in regions}
    cache: dict[tuple[str, ...], Inputs] = {}
    parts = []
    for ind in chosen:
        if "lab" not in ind.levels:
            continue
        keys = tuple(available[ind.id])
        if not keys and ind.optional:
            continue
        if not keys:
            df = _not_available("no region has the inputs it needs")
        else:
            if keys not in cache:
                stacked = stack_regions([(k, by_key[k]) for k in keys])
                cache[keys] = make_inputs(stacked, options=options, scope="lab",
                                          impact={k: impact.get(k, {}) for k in keys},
                                          nuts2={k: codes[k] for k in keys},
                                          windows={k: windows[k] for k in keys} if windows is not None else None)
            df = compute(ind, cache[keys], "lab") if compute is not None else ind.compute(cache[keys])
            df = df[df["cluster_id"].astype(str) == ""].copy()
            if len(keys) < len(regions):
                note = f"lab-wide over {len(keys)} of {len(regions)} regions ({', '.join(keys)})"
                df["note"] = np.where(df["note"].astype(str) == "", note, df["note"].astype(str) + "; " + note)
        parts.append(_label(df, ind, LAB_REGION, "", "lab"))
    return parts


def compute_indicators(
    regions: Iterable[tuple[RegionInfo, Mapping[str, pd.DataFrame]]],
    *,
    min_cell_firms: int = 5,
    dominance_share: float = 0.85,
    effects: Iterable[Any] = (),
    options: Options | None = None,
    ids: Iterable[str] | None = None,
    lab_wide: bool | None = None,
    windows: Mapping[str, tuple[int, int]] | None = None,
    compute: Compute | None = None,
) -> pd.DataFrame:
    """The tidy indicator table of all regions (and lab-wide), after disclosure control.

    Parameters
    ----------
    regions
        ``(RegionInfo, canonical tables)`` pairs, money in EUR.
    min_cell_firms, dominance_share
        Disclosure control (config ``lab.min_cell_firms``, ``lab.dominance_share``).
    effects
        ``RegionEffect`` objects of the impact estimation; I19 needs an estimate of
        outcome ``exports_eur`` and is "not available" without one.
    options
        Look-back windows and survival horizons (:class:`Options`; default ``Options()``).
    ids
        Compute only these indicator ids (default: all registered).
    lab_wide
        Add the lab-wide rows (``region == "All regions"``, ``level == "lab"``); default: when
        there are at least two regions.
    windows, compute
        For firm tables kept on disk: see :func:`raw_indicators`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~policylab.evaluation.INDICATOR_COLUMNS`; one row per published cell.
        ``level`` is ``cluster``, ``region`` or ``lab``; ``period`` a year or
        ``cumulative``; ``flag`` ``""``, ``suppressed`` or ``not_available`` (reason in
        ``note``).
    """
    wanted = list(ids) if ids else None
    raw = raw_indicators(regions, effects=effects, options=options, ids=_with_companions(wanted),
                         lab_wide=lab_wide, windows=windows, compute=compute)
    table = apply_disclosure_control(raw, min_cell_firms=min_cell_firms, dominance_share=dominance_share)
    if wanted is not None:
        table = table[table["indicator_id"].isin(wanted)].reset_index(drop=True)
    return table[INDICATOR_COLUMNS]


def _with_companions(ids: list[str] | None) -> list[str] | None:
    """``ids`` plus the indicators disclosure control needs to decide on them
    (``discloses_with``) after them."""
    if ids is None:
        return None
    extra = [c for i in ids if i in REGISTRY for c in REGISTRY[i].discloses_with]
    return list(dict.fromkeys([*ids, *extra]))


def suppress_small_cells(table: pd.DataFrame, min_cell_firms: int, *, dominance_share: float = 0.85) -> pd.DataFrame:
    """Disclosure control of an already computed raw table (see :mod:`.disclosure`)."""
    raw = table.copy()
    for col in ("n_contrib", "max_share"):
        if col not in raw:
            raw[col] = np.nan
    for col in ("cluster_id", "note"):
        if col not in raw:
            raw[col] = ""
    if "n_missing" not in raw:
        raw["n_missing"] = pd.NA
    out = apply_disclosure_control(raw, min_cell_firms=min_cell_firms, dominance_share=dominance_share)
    return out[[c for c in INDICATOR_COLUMNS if c in out]]


def _region_names(infos: Iterable[RegionInfo]) -> dict[str, str]:
    names = {LAB_REGION: LAB_REGION, "lab": LAB_REGION}
    for info in infos:
        names[info.key] = info.name
        names[info.name] = info.name
    return names


def check_selection(infos: Iterable[RegionInfo], *, indicators: Iterable[str] | None = None,
                    regions: Iterable[str] | None = None) -> None:
    """Raise :class:`~policylab.errors.UsageError` naming any unknown indicator id or region
    (with the known ones), so a typo never yields an empty table."""
    from ..errors import UsageError

    infos = list(infos)
    problems = []
    unknown = [i for i in (indicators or []) if i.upper() not in REGISTRY]
    not_built = [i for i in unknown if i.upper() in NOT_BUILT]
    unknown = [i for i in unknown if i.upper() not in NOT_BUILT]
    if unknown:
        known = ", ".join(sorted(REGISTRY))
        problems.append(f"unknown indicator id(s) {', '.join(map(repr, unknown))}; known ids: {known}")
    for i in not_built:
        problems.append(f"indicator {i.upper()} is not built: {NOT_BUILT[i.upper()].reason}")
    names = _region_names(infos)
    bad = [r for r in (regions or []) if r not in names]
    if bad:
        keys = ", ".join(repr(i.key) for i in infos)
        problems.append(f"unknown region(s) {', '.join(map(repr, bad))}; the config has {keys} "
                        "(a key or a name), or 'lab' for the lab-wide rows")
    if problems:
        raise UsageError(problems)


def select_indicators(table: pd.DataFrame, infos: Iterable[RegionInfo], *,
                      indicators: Iterable[str] | None = None,
                      regions: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows of some indicator ids and some regions (key or name; ``"lab"`` = lab-wide).

    Whole series are kept or dropped, so a selection never undoes disclosure control. An
    unknown id or region raises :class:`~policylab.errors.UsageError` (see :func:`check_selection`).
    """
    infos = list(infos)
    check_selection(infos, indicators=indicators, regions=regions)
    out = table
    if indicators:
        ids = {i.upper() for i in indicators}
        out = out[out["indicator_id"].astype(str).str.upper().isin(ids)]
        have = set(out["indicator_id"].astype(str).str.upper())
        missing = sorted(i for i in ids if i not in have)
        if missing:  # an optional indicator whose input no region gives: say so, not an empty table
            from ..errors import UsageError

            raise UsageError([f"indicator {i} has no value in this lab: it needs "
                              f"{' and '.join(REGISTRY[i].needs)}, which no region's files "
                              "provide" for i in missing])
    if regions:
        names = _region_names(infos)
        out = out[out["region"].isin({names.get(r, r) for r in regions})]
    return out.reset_index(drop=True)
