"""Milestones and targets of the EU common indicators, and achievement against them.

A region's config may set, per common indicator code, a milestone and a target (cumulative
values by the end of their years, as in the programme's monitoring system; ``[regions.targets]``,
:class:`policylab.config.Target`). :func:`with_targets` puts them beside the computed values
of :func:`policylab.indicators.common.common_indicators`; the lab's target is the sum of its
regions' targets for the same code, breakdown and year (every common indicator counts
enterprises, organisations, jobs, actions or EUR, which add up across regions), set only
when every region with the indicator set one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EXPORT_COLUMNS", "TARGET_COLUMNS", "achievement", "export_table", "with_targets"]

TARGET_COLUMNS = ["milestone", "milestone_year", "target", "target_year"]

#: The flat table a managing authority pastes into its monitoring system.
EXPORT_COLUMNS = ["code", "name", "unit", "nuts2", "region", "breakdown", "period", "value",
                  "target", "target_year", "milestone", "milestone_year", "flag", "note"]

LAB = "lab"


def _plan(region_targets: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = [{"region": region, "code": code, "breakdown": t.get("breakdown", "total"),
             **{c: t.get(c) for c in TARGET_COLUMNS}}
            for region, targets in region_targets.items() for code, t in targets.items()]
    return pd.DataFrame(rows, columns=["region", "code", "breakdown", *TARGET_COLUMNS])


def _lab_plan(plan: pd.DataFrame, common: pd.DataFrame) -> pd.DataFrame:
    """The lab's milestone and target: the regions' sum, when every region that has the
    indicator (a value that is not ``not_available``) set one for the same year."""
    out = []
    have = common[(common["region"] != LAB) & (common["flag"] != "not_available")]
    for (code, breakdown), group in plan.groupby(["code", "breakdown"], sort=True):
        regions = set(have.loc[(have["code"] == code) & (have["breakdown"] == breakdown), "region"])
        row: dict[str, Any] = {"region": LAB, "code": code, "breakdown": breakdown}
        for what in ("milestone", "target"):
            given = group.dropna(subset=[what])
            years = set(given[f"{what}_year"])
            if regions and set(given["region"]) >= regions and len(years) == 1:
                row[what] = float(given.loc[given["region"].isin(regions), what].sum())
                row[f"{what}_year"] = years.pop()
            else:
                row[what], row[f"{what}_year"] = math.nan, math.nan
        out.append(row)
    return pd.DataFrame(out, columns=["region", "code", "breakdown", *TARGET_COLUMNS])


def with_targets(common: pd.DataFrame,
                 region_targets: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """``common`` with ``milestone``, ``milestone_year``, ``target``, ``target_year`` on every
    row of a (region, code, breakdown) that has them (NaN elsewhere).

    ``region_targets``: region key -> code -> ``{"breakdown", "milestone", "milestone_year",
    "target", "target_year"}`` (the config's ``Target`` as a dict).
    """
    plan = _plan(region_targets)
    if len(plan) and (common["region"] == LAB).any():
        plan = pd.concat([plan, _lab_plan(plan, common)], ignore_index=True)
    out = common.drop(columns=[c for c in TARGET_COLUMNS if c in common])
    out = out.merge(plan, on=["region", "code", "breakdown"], how="left", validate="many_to_one")
    for c in TARGET_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    return out


def _value_at(g: pd.DataFrame, year: float) -> tuple[float, Any, str]:
    """The value of one (region, code, breakdown) series in ``year``, or in its latest year
    when ``year`` is after the data: ``(value, period, flag)``."""
    years = pd.to_numeric(g["period"], errors="coerce")
    pick = g[years == min(year, years.max())] if math.isfinite(year) else g[years == years.max()]
    row = pick.iloc[-1]
    value = float(row["value"]) if pd.notna(row["value"]) and row["flag"] != "suppressed" \
        else math.nan
    return value, row["period"], str(row["flag"] or "")


def achievement(common: pd.DataFrame) -> pd.DataFrame:
    """Achievement against each milestone and target: one row per (region, code, breakdown)
    with one, and per (code, breakdown) one ``lab`` row over the regions that set one.

    A goal is compared with the cumulative value in its year (or the latest year, when the
    goal's year is still ahead: ``*_period`` says which); ``*_share`` is that value over the
    goal (NaN when the value is suppressed or not available). The lab row adds up the
    regions' goals and values when at least two set one for the same year (``regions``: how
    many); it is withheld when any of their values is.
    """
    if not set(TARGET_COLUMNS) <= set(common.columns):  # computed without with_targets
        return pd.DataFrame()
    rows = []
    regional = common[common["region"] != LAB]
    have = regional.dropna(subset=["target", "milestone"], how="all")
    for (region, code, breakdown), g in have.groupby(["region", "code", "breakdown"], sort=False):
        first = g.iloc[0]
        rec: dict[str, Any] = {"region": region, "code": code, "breakdown": breakdown,
                               "name": first["name"], "unit": first["unit"], "regions": 1}
        for what in ("milestone", "target"):
            goal, year = float(first[what]), float(first[f"{what}_year"])
            value, period, flag = _value_at(g, year) if math.isfinite(goal) else (math.nan, None, "")
            rec.update({what: goal, f"{what}_year": year, f"{what}_value": value,
                        f"{what}_period": period, f"{what}_flag": flag,
                        f"{what}_share": value / goal if goal > 0 else math.nan})
        rows.append(rec)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    lab = []
    for (code, breakdown), g in out.groupby(["code", "breakdown"], sort=False):
        if len(g) < 2:
            continue  # one region's goal: its own row says it all
        rec = {"region": LAB, "code": code, "breakdown": breakdown, "name": g.iloc[0]["name"],
               "unit": g.iloc[0]["unit"], "regions": len(g)}
        for what in ("milestone", "target"):
            given = g.dropna(subset=[what])
            ok = len(given) and given[f"{what}_year"].nunique() == 1 and \
                given[f"{what}_period"].nunique() == 1
            goal = float(given[what].sum()) if ok else math.nan
            # NaN when any region's value is withheld: the sum would reveal it
            value = float(given[f"{what}_value"].sum(skipna=False)) if ok else math.nan
            rec.update({what: goal,
                        f"{what}_year": given[f"{what}_year"].iloc[0] if ok else math.nan,
                        f"{what}_value": value,
                        f"{what}_period": given[f"{what}_period"].iloc[0] if ok else None,
                        f"{what}_flag": "suppressed" if ok and not math.isfinite(value) else "",
                        f"{what}_share": value / goal if goal > 0 else math.nan})
        lab.append(rec)
    return pd.concat([out, pd.DataFrame(lab)], ignore_index=True)


def export_table(common: pd.DataFrame) -> pd.DataFrame:
    """The flat table for a monitoring system (:data:`EXPORT_COLUMNS`), rows in the order of
    the computed table; suppressed values are blank and flagged."""
    out = common.reindex(columns=EXPORT_COLUMNS).copy()
    out.loc[out["flag"] == "suppressed", "value"] = np.nan
    return out.reset_index(drop=True)
