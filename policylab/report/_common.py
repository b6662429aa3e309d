"""The report's "EU common indicators" section: what a managing authority reports to the
Commission (Reg. (EU) 2021/1058 Annex I), against the programme's milestones and targets.

Three blocks: achievement against the milestones and targets the config sets
(``[regions.targets]``), the common indicators' latest values (cumulative from the programme
start) by region, and how policylab counts each one (the rule, the fiche it paraphrases, the
reference period). Every number comes from ``EvaluationResult.common``, already through
disclosure control; the flat table is ``common_indicators.csv`` and a sheet of
``indicators.xlsx``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..targets import LAB, achievement
from . import tables
from ._blocks import LAB_NAME, Block, Detail, SectionBody

__all__ = ["common_section", "shown"]


def shown(result: Any) -> bool:
    """Whether the report has the section: the run computed the common indicators."""
    common = getattr(result, "common", None)
    return common is not None and not common.empty


def _number(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return ""
    text = f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.1f}"
    return f"{text} EUR" if unit.upper().startswith("EUR") else text


def _cell(row: Any) -> str:
    if row["flag"] == "suppressed":
        return tables.SUPPRESSED_MARK
    if row["flag"] == "not_available":
        return tables.NOT_AVAILABLE
    return _number(float(row["value"]), str(row["unit"]))


def _share(x: float) -> str:
    return f"{100 * x:.0f}%" if math.isfinite(x) else ""


def _goal(value: float, year: Any, unit: str) -> str:
    if not math.isfinite(value):
        return ""
    return f"{_number(value, unit)} by {int(year)}"


def _names(result: Any) -> dict[str, str]:
    return {**{r.key: r.name for r in result.regions}, LAB: LAB_NAME}


def _achievement_block(result: Any, mine: list[str], min_cell: Any) -> Block:
    block_id = "common-targets"
    title = "Against milestones and targets"
    intro = ("Each milestone and target the programmes set (the config's [regions.targets]), "
             "the cumulative value reached by its year and the share of it reached.",)
    have = achievement(result.common)
    have = have[have["region"].isin(mine)] if len(have) else have
    if have.empty:
        return Block(block_id, title, intro, empty="No milestone or target is set in the "
                     "config ([regions.targets]).")
    names = _names(result)
    rows = []
    for rec in have.to_dict("records"):
        unit = str(rec["unit"])
        label = names.get(rec["region"], rec["region"])
        if rec["region"] == LAB:
            label = f"{LAB_NAME} with a goal ({rec['regions']})"
        row = {"label": label,
               "indicator": f"{rec['code']} {rec['name']}" + (
                   f" ({rec['breakdown']})" if rec["breakdown"] != "total" else "")}
        for what in ("milestone", "target"):
            row[what] = _goal(rec[what], rec[f"{what}_year"], unit)
            if rec.get(f"{what}_flag") == "suppressed":
                row[f"{what}_value"] = tables.SUPPRESSED_MARK
            elif math.isfinite(rec[f"{what}_value"]):
                row[f"{what}_value"] = (_number(rec[f"{what}_value"], unit)
                                        + f" ({rec[f'{what}_period']})")
            else:
                row[f"{what}_value"] = ""
            row[f"{what}_share"] = _share(rec[f"{what}_share"])
        rows.append(row)
    columns = [tables.Column("indicator", "Indicator", "text")]
    for what, title_ in (("milestone", "Milestone"), ("target", "Target")):
        columns += [tables.Column(what, title_, "text", title_),
                    tables.Column(f"{what}_value", "Achieved (year)", "text", title_),
                    tables.Column(f"{what}_share", "Reached", "text", title_)]
    notes = ["Achieved: the cumulative value from the programme start to the end of the goal's "
             "year, or of the latest year in the data while the goal's year is ahead (the "
             "year is shown in brackets). The lab's row adds up the regions that set the goal "
             "for the same year."]
    table = tables.figures_table(pd.DataFrame(rows), table_id=f"{block_id}-table",
                                 columns=columns, notes=notes, min_cell_firms=min_cell)
    return Block(block_id, title, intro, None, table)


def _values_block(result: Any, mine: list[str], min_cell: Any) -> Block:
    block_id = "common-values"
    title = "Common indicators by region"
    common = result.common
    last = common.assign(_y=pd.to_numeric(common["period"], errors="coerce"))
    last = last[last["_y"] == last.groupby(["region", "code"])["_y"].transform("max")]
    last = last[last["region"].isin(mine)]
    names = _names(result)
    regions = [r for r in [*(r.key for r in result.regions), LAB] if r in set(last["region"])]
    codes = list(dict.fromkeys(common["code"]))
    rows = []
    for code in codes:
        part = last[last["code"] == code]
        for breakdown in dict.fromkeys(part["breakdown"]):
            cells = part[part["breakdown"] == breakdown].set_index("region")
            first = cells.iloc[0]
            rec = {"label": f"{code} {first['name']}" + (
                       "" if breakdown == "total" else f": {breakdown.replace('_', ' ')}"),
                   "unit": str(first["unit"])}
            for r in regions:
                rec[r] = _cell(cells.loc[r]) if r in cells.index else ""
            rows.append(rec)
    columns = [tables.Column("unit", "Unit", "text"),
               *(tables.Column(r, names.get(r, r), "text") for r in regions)]
    notes = ["Cumulative from the programme start (lab.first_year) to the latest year in the "
             f"data. '{tables.SUPPRESSED_MARK}': withheld, rests on fewer firms than "
             "lab.min_cell_firms or would reveal such a cell; 'n/a': the data lack a field "
             "(common_indicators.csv names it). RCO01's size classes follow the EU SME "
             "definition from headcount and turnover (no balance sheet in the data)."]
    table = tables.figures_table(pd.DataFrame(rows), table_id=f"{block_id}-table",
                                 columns=columns, notes=notes, min_cell_firms=min_cell)
    intro = ("The values to report, per region and for the lab; every year's values, the "
             "breakdowns and the notes are in common_indicators.csv (and the 'EU common "
             "indicators' sheet of indicators.xlsx), ready to paste into a monitoring system.",)
    return Block(block_id, title, intro, None, table)


def _rules_block() -> Block:
    from ..indicators.common import common_catalogue

    cat = common_catalogue()
    rows = [{"label": f"{r.code} {r.name}", "unit": r.unit, "rule": r.counting_rule,
             "period": r.reference_period} for r in cat.itertuples()]
    columns = [tables.Column("unit", "Unit", "text"),
               tables.Column("rule", "How policylab counts it", "text"),
               tables.Column("period", "Reference period", "text")]
    table = tables.figures_table(pd.DataFrame(rows), table_id="common-rules-table",
                                 columns=columns)
    return Block("common-rules", "How each indicator is counted",
                 ("The counting rule policylab applies to each indicator, paraphrasing the "
                  "Commission's methodological fiches (SWD(2021) 198 final, annex); where the "
                  "data cannot follow a fiche exactly the rule says what was done instead.",),
                 details=(Detail("common-rules-detail", "Show the counting rules", table),))


def common_section(ctx: Any) -> SectionBody:
    """The section on the overview (every region and the lab) or one region's page."""
    result = ctx.result
    mine = ([r.key for r in result.regions] + [LAB] if ctx.only is None else [ctx.only.key])
    intro = ("The EU's common output and result indicators (Regulation (EU) 2021/1058, Annex "
             "I) that a managing authority reports for its programme, computed from the same "
             "files as the rest of this report, so the two sets of numbers cannot drift "
             "apart.",)
    return SectionBody(intro, (_achievement_block(result, mine, ctx.min_cell),
                               _values_block(result, mine, ctx.min_cell), _rules_block()))
