"""The lab's other half in the report: "Network and practice transfer" and "Voice of the SMEs".

Every number comes from the indicator table (already through disclosure control) except the
practice-transfer log, which is a record of policy actions, not of firms
(``EvaluationResult.practices``; its free-text notes never reach it). A section is shown only
when the lab gave the input it needs (:func:`shown`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..schema import BARRIERS, PRACTICE_STAGES
from . import charts, tables
from ._blocks import Block, SectionBody, Unit, cell, render_chart
from ._indicators import CUMULATIVE, SUPPRESSED

__all__ = ["network", "practice_months", "shown", "voice"]

#: Indicator ids of each section (the registry's, policylab.indicators).
NETWORK_IDS = ("I22", "I22V", "I22S", "I22R", "I22P", "I22M", "I23", "I23T")
VOICE_IDS = ("I24", "I25", "I26", "I27", "I27M", "I27R", "I28")


def shown(result: Any, section_id: str) -> bool:
    """Whether a page shows the section: the lab gave the input it needs."""
    ids = NETWORK_IDS if section_id == "network" else VOICE_IDS
    have = set(result.indicators["indicator_id"].astype(str)) if len(result.indicators) else set()
    if section_id == "network" and result.practices is not None and len(result.practices):
        return True
    return bool(have & set(ids))


# --------------------------------------------------------------------------- practice transfer

def practice_months(studied: pd.Timestamp, adopted: pd.Timestamp) -> float:
    """Whole months from the date a practice was studied to the date it was adopted
    (calendar months, a month counted when its day is reached)."""
    months = (adopted.year - studied.year) * 12 + adopted.month - studied.month
    return float(months - (1 if adopted.day < studied.day else 0))


def _names(result: Any) -> dict[str, str]:
    return {r.nuts2: r.name for r in result.regions}


def practice_timeline(result: Any, only: Any, block_id: str) -> Block | None:
    """The transfer log as a timeline table: one row per practice and adopting region, the
    date each stage was reached, the months from study to adoption, the budget."""
    log = result.practices
    if log is None or log.empty:
        return None
    if only is not None:
        log = log.loc[(log["adopting_region"] == only.nuts2) | (log["origin_region"] == only.nuts2)]
        if log.empty:
            return Block(block_id, "Practice transfer log",
                         empty=f"No practice transfer recorded for {only.name}.")
    names = _names(result)
    records = []
    for (_, _, adopter), rows in log.groupby(["region", "practice_id", "adopting_region"],
                                             sort=False):
        dates = {str(s): d for s, d in zip(rows["stage"], rows["stage_date"], strict=True)}
        latest = max(dates, key=lambda s: (dates[s], PRACTICE_STAGES.index(s)))
        months = (practice_months(dates["studied"], dates["adopted"])
                  if "studied" in dates and "adopted" in dates else math.nan)
        budget = rows["budget_eur"].astype("float64")
        rec: dict[str, Any] = {
            "label": str(rows["practice"].iloc[0]),
            "origin": names.get(str(rows["origin_region"].iloc[0]), str(rows["origin_region"].iloc[0])),
            "adopter": names.get(str(adopter), str(adopter)),
            "status": latest,
            "months": months,
            "budget": float(budget.sum()) if budget.notna().any() else math.nan,
        }
        for stage in PRACTICE_STAGES:
            rec[stage] = dates[stage].strftime("%Y-%m") if stage in dates else ""
        records.append(rec)
    columns = [
        tables.Column("origin", "From", "text"),
        tables.Column("adopter", "Taken up by", "text"),
        *(tables.Column(s, s.capitalize(), "text", "Stage reached (year-month)")
          for s in PRACTICE_STAGES),
        tables.Column("status", "Latest stage", "text"),
        tables.Column("months", "Months from study to adoption", "count"),
        tables.Column("budget", "Budget, EUR", "eur"),
    ]
    table = tables.figures_table(pd.DataFrame(records), table_id=f"{block_id}-table",
                                 columns=columns,
                                 notes=["One row per practice and region taking it up, from the "
                                        "regions' transfer logs. Months: calendar months from the "
                                        "date the practice was studied to the date it was adopted. "
                                        "Budget: the stages' budgets added up. The logs' notes are "
                                        "not published."])
    adopted = sum(1 for r in records if r["adopted"])
    dropped = sum(1 for r in records if r["status"] == "dropped")
    intro = (f"{len(records)} transfers of {log['practice'].nunique()} practices: "
             f"{adopted} adopted, {dropped} dropped, the others on their way.",)
    return Block(block_id, "Practice transfer log", intro, table=table)


# --------------------------------------------------------------------------- reading cells

def _latest_wave(ctx: Any, units: Sequence[Unit], indicator_id: str) -> str | None:
    """The latest period with a year (a wave) among ``units``' cells of ``indicator_id``."""
    years = [r[1] for u in units for r in ctx.rows(u, indicator_id).rows if str(r[1]).isdigit()]
    return max(years, key=int) if years else None


def _value(ctx: Any, unit: Unit, indicator_id: str, period: str, group: str) -> tuple[float, str]:
    return cell(ctx.rows(unit, indicator_id), period=period, group=group)


def _flag_of(flag: str) -> str:
    return flag if flag in (SUPPRESSED, "not_available") else ""


def _figures(ctx: Any, records: list[dict[str, Any]], flags: dict[str, dict[int, str]],
             columns: Sequence[tables.Column], table_id: str, notes: Sequence[str]) -> tables.Table:
    return tables.figures_table(pd.DataFrame(records), table_id=table_id, columns=columns,
                                flags=flags, notes=list(notes), min_cell_firms=ctx.min_cell)


# --------------------------------------------------------------------------- network

#: Partner-region heat map: deals by region (rows) and partner region (columns).
DEALS_BY_PARTNER = "I22M"


def _deals_block(ctx: Any) -> Block | None:
    units = ctx.units()
    specs = [("I22", "all", "deals", "Cross-regional deals", "count"),
             ("I22V", "all", "value", "Their value, EUR", "money"),
             ("I22S", "all", "share", "Share of export orders, %", "percent"),
             ("I22R", "all", "regions", "Partner regions linked", "count"),
             ("I22P", "all", "links", "Cross-regional links", "count")]
    present = [s for s in specs if any(not ctx.rows(u, s[0]).empty for u in units)]
    if not present:
        return None
    records, flags = [], {}
    for i, u in enumerate(units):
        rec: dict[str, Any] = {"label": u.name}
        for ind, group, key, _, _ in present:
            v, f = _value(ctx, u, ind, CUMULATIVE, group)
            rec[key] = v
            if _flag_of(f):
                flags.setdefault(key, {})[i] = _flag_of(f)
        records.append(rec)
    columns = [tables.Column(key, label, kind) for _, _, key, label, kind in present]
    table = _figures(ctx, records, flags, columns, "network-deals-table", [
        "Whole period. Cross-regional deals: export orders with a firm or buyer in another "
        "region (the order's partner region). Links: joint missions, cross-regional consortia, "
        "shared managers and other links in the regions' partnership logs. Regions linked: "
        "distinct partner regions over deals and links. All regions: every region's deals "
        "and links, so a deal two regions of the lab both record counts twice."])
    chart = _heat_map(ctx)
    return Block("network-deals", "Cross-regional deals and links",
                 ("Where the lab's firms do business with another region's firms or buyers, "
                  "and the links the regions built between them (EU indicator RCO87, "
                  "organisations cooperating across borders).",),
                 chart=chart, table=table)


def _heat_map(ctx: Any) -> charts.Chart | None:
    """Deals by region and partner region (whole period), shaded by count."""
    units = ctx.units(with_lab=False)
    names = _names(ctx.result)
    rows: list[dict[str, Any]] = []
    partners: set[str] = set()
    for u in units:
        for _, period, group, value, flag in ctx.rows(u, DEALS_BY_PARTNER).rows:
            if period != CUMULATIVE or group == "all":
                continue
            partners.add(group)
            rows.append({"row": u.name, "column": names.get(group, group),
                         "value": value if flag != SUPPRESSED else math.nan,
                         "label": "·" if flag == SUPPRESSED else f"{value:,.0f}"})
    if not rows:
        return None
    order = [names[c] for c in sorted(partners) if c in names]
    order += sorted(c for c in partners if c not in names)
    seen = {(r["row"], r["column"]) for r in rows}
    for u in units:  # the full grid: a pair without deals is an empty cell, a region's own "–"
        for column in order:
            if (u.name, column) not in seen:
                rows.append({"row": u.name, "column": column, "value": math.nan,
                             "label": "–" if column == u.name else ""})
    hidden = sum(1 for r in rows if r["label"] == "·")
    spec = charts.heatmap_spec(pd.DataFrame(rows), rows=[u.name for u in units], columns=order,
                               x_title="Partner region", y_title="")
    caption = ("Cross-regional deals over the whole period, by region (rows) and partner region "
               "(columns): the darker, the more deals. An empty cell: no deal; “–”: the region "
               "itself.")
    if hidden:
        caption += (f" “·”: {hidden} cell(s) rest on fewer than {ctx.min_cell} firms and are "
                    "withheld.")
    description = ("Heat map of cross-regional deals by region and partner region; "
                   + "; ".join(f"{r['row']} with {r['column']}: {r['label']}" for r in rows
                               if r["label"] not in ("", "–")) + ".")
    return render_chart(spec, chart_id="network-heat", caption=caption, description=description)


def _uptake_notes(ctx: Any) -> tuple[str, ...]:
    lab = Unit("", "All regions", lab=True)
    adopted, _ = _value(ctx, lab, "I23A", CUMULATIVE, "all")
    months, _ = _value(ctx, lab, "I23T", CUMULATIVE, "all")
    if math.isnan(adopted):
        return ()
    text = f"Across the lab, {adopted:,.0f} transferred practice(s) reached adoption"
    if not math.isnan(months):
        text += f", a median of {months:,.0f} months after they were first studied"
    return (text + " (indicators I23A and I23T; EU indicator RCR104, solutions taken up).",)


def network(ctx: Any) -> SectionBody:
    """"Network and practice transfer": cross-regional deals and links, and the transfer log."""
    where = "the lab's regions" if ctx.index else ctx.only.name
    blocks = [b for b in (_deals_block(ctx),) if b is not None]
    log = practice_timeline(ctx.result, ctx.only, "network-practices")
    if log is not None:
        blocks.append(Block(log.id, log.title, log.intro + _uptake_notes(ctx), log.chart,
                            log.table, log.notes, log.warnings, log.details, log.empty))
    intro = (f"How {where} work with other regions: deals and links across regional borders, "
             "and the practices the policy lab passes from one region to another.",)
    return SectionBody(intro, tuple(blocks))


# --------------------------------------------------------------------------- voice of the SMEs

_SHORT_BARRIERS = {"size": "Size", "finance": "Finance", "information": "Information",
                   "regulation": "Regulation", "language": "Language", "partners": "Partners"}
_RATING_ORDER = ("1", "2", "3", "4", "5", "1-2", "4-5")


def _response_block(ctx: Any) -> Block | None:
    units = ctx.units()
    frames = {u: ctx.rows(u, "I24") for u in units}
    waves = sorted({r[1] for f in frames.values() for r in f.rows if str(r[1]).isdigit()}, key=int)
    if not waves:
        return None
    long = []
    for u in units:
        for p in waves:
            v, f = cell(frames[u], period=p, group="all")
            long.append({"row": u.name, "group": "", "kind": "percent", "period": p, "value": v,
                         "flag": _flag_of(f)})
    table = tables.period_table(long, table_id="voice-response-table", periods=waves,
                                min_cell_firms=ctx.min_cell,
                                notes=["Share of the firms invited to the SME panel that answered, "
                                       "by wave (I24)."])
    return Block("voice-response", "Who answered",
                 ("The SME panel: the small group of firms the policy lab asks every year about "
                  "their consortium and the barriers they meet abroad. Answers are published only "
                  f"where at least {ctx.min_cell} firms gave them; comments are never published.",),
                 table=table)


def _satisfaction_block(ctx: Any) -> Block | None:
    units = ctx.units()
    wave = _latest_wave(ctx, units, "I25M") or _latest_wave(ctx, units, "I25")
    if wave is None:
        return None
    groups = [g for g in _RATING_ORDER
              if any(r[1] == wave and r[2] == g for u in units for r in ctx.rows(u, "I25").rows)]
    records, flags, collapsed = [], {}, []
    for i, u in enumerate(units):
        rec: dict[str, Any] = {"label": u.name}
        got = {r[2] for r in ctx.rows(u, "I25").rows if r[1] == wave}
        if got and not got & set("12345"):
            collapsed.append(u.name)
        for g in groups:
            v, f = _value(ctx, u, "I25", wave, g)
            rec[f"r{g}"] = v
            if _flag_of(f):
                flags.setdefault(f"r{g}", {})[i] = _flag_of(f)
        for key, ind, group in (("mean", "I25M", "mean"), ("stay", "I26", "yes")):
            v, f = _value(ctx, u, ind, wave, group)
            rec[key] = v
            if _flag_of(f):
                flags.setdefault(key, {})[i] = _flag_of(f)
        records.append(rec)
    columns = [tables.Column(f"r{g}", g, "percent", "Answered, % of respondents (1 = very "
                                                    "dissatisfied, 5 = very satisfied)")
               for g in groups]
    columns += [tables.Column("mean", "Mean (1-5)", "number"),
                tables.Column("stay", "Intend to stay, %", "percent")]
    notes = [f"Wave {wave}, members answering about their consortium (I25, I25M, I26)."]
    if collapsed:
        notes.append("Where a single answer rested on fewer than "
                     f"{ctx.min_cell} respondents, answers are grouped (1-2, 3, 4-5) or only "
                     f"the mean is shown: {', '.join(collapsed)}.")
    table = _figures(ctx, records, flags, columns, "voice-satisfaction-table", notes)
    return Block("voice-satisfaction", "Satisfaction with the consortium",
                 ("How satisfied members are with their consortium, and whether they mean to "
                  "stay: \"the companies would soon let us know if they weren't happy\".",),
                 table=table)


def _barriers_block(ctx: Any) -> Block | None:
    units = ctx.units()
    wave = _latest_wave(ctx, units, "I27")
    if wave is None:
        return None
    keys = list(BARRIERS)
    chart_rows, records, flags, skipped = [], [], {}, []
    for i, u in enumerate(units):
        rec: dict[str, Any] = {"label": u.name}
        ranked = []
        for k in keys:
            v, f = _value(ctx, u, "I27", wave, k)
            rec[k] = v
            if _flag_of(f):
                flags.setdefault(k, {})[i] = _flag_of(f)
            if f == SUPPRESSED:
                skipped.append((u.name, _SHORT_BARRIERS[k]))
            chart_rows.append({"panel": u.name, "x": _SHORT_BARRIERS[k], "y": v,
                               "label": "" if math.isnan(v) else f"{v:.1f}"})
            if not math.isnan(v):
                ranked.append((v, BARRIERS[k]))
        rec["top"] = max(ranked)[1] if ranked else None
        records.append(rec)
    columns = [tables.Column(k, BARRIERS[k], "number", "Mean rating, 1 (no barrier) to 5 (major)")
               for k in keys]
    columns.append(tables.Column("top", "Rated highest", "text"))
    table = _figures(ctx, records, flags, columns, "voice-barriers-table", [
        f"Wave {wave}: respondents' mean rating of each barrier to internationalisation (I27); "
        "the share rating it 4 or 5 and the rank are in indicators I27M and I27R."])
    spec = charts.category_bars_spec(pd.DataFrame(chart_rows),
                                     categories=[_SHORT_BARRIERS[k] for k in keys],
                                     panel_order=[u.name for u in units],
                                     y_title="Mean rating (1-5)", y_domain=(0.0, 5.0), width=290)
    caption = (f"Barriers to internationalisation as the SME panel rates them, wave {wave}: mean "
               "rating from 1 (no barrier) to 5 (a major barrier), by region.")
    if skipped:
        caption += f" Not shown: {len(skipped)} rating(s) from fewer than {ctx.min_cell} firms."
    description = ("Bar charts of the mean rating of six barriers by region: "
                   + "; ".join(rec_text(rec) for rec in records) + ".")
    chart = render_chart(spec, chart_id="voice-barriers", caption=caption,
                         description=description)
    return Block("voice-barriers", "Barriers to internationalisation",
                 ("What holds the panel's firms back abroad, ranked by how strongly they rate "
                  "it.",), chart=chart, table=table)


def rec_text(rec: dict[str, Any]) -> str:
    """One region's barrier ratings as text (a chart's text alternative)."""
    parts = [f"{BARRIERS[k].lower()} {rec[k]:.1f}" for k in BARRIERS
             if isinstance(rec.get(k), float) and not math.isnan(rec[k])]
    return f"{rec['label']}: " + (", ".join(parts) if parts else "withheld")


def _retention_block(ctx: Any) -> Block | None:
    units = ctx.units()
    if all(ctx.rows(u, "I28").empty for u in units):
        return None
    horizons = (1, 2, 3, 4, 5)
    periods = [f"{k} year{'s' if k > 1 else ''}" for k in horizons]
    long = []
    for u in units:
        for group, label in (("satisfied", "satisfied (4-5)"),
                             ("not_satisfied", "not satisfied (1-3)")):
            for k, p in zip(horizons, periods, strict=True):
                name = f"{group}_{k}_year" if k == 1 else f"{group}_{k}_years"
                v, f = _value(ctx, u, "I28", CUMULATIVE, name)
                long.append({"row": f"{u.name}, {label}", "group": "", "kind": "percent",
                             "period": p, "value": v, "flag": _flag_of(f)})
    table = tables.period_table(long, table_id="voice-retention-table", periods=periods,
                                min_cell_firms=ctx.min_cell, notes=[
                                    "Share of members still members the given number of years "
                                    "after joining (Kaplan-Meier, I28), by the satisfaction they "
                                    "reported in their first answer."])
    return Block("voice-retention", "Do satisfied members stay longer?",
                 ("Members who rate their consortium 4 or 5 against those who rate it 1 to 3: "
                  "the share still in the consortium 1 to 5 years after joining. Descriptive, not "
                  "causal: satisfied firms may differ in other ways that also keep them in.",),
                 table=table)


def voice(ctx: Any) -> SectionBody:
    """"Voice of the SMEs": response, satisfaction, barriers and retention by satisfaction."""
    blocks = [b for b in (_response_block(ctx), _satisfaction_block(ctx), _barriers_block(ctx),
                          _retention_block(ctx)) if b is not None]
    intro = ("What the firms of the SME panel tell the lab: how satisfied they are, whether they "
             "stay, and what holds them back abroad. Small-number answers are grouped or withheld "
             "so no firm can be recognised.",)
    return SectionBody(intro, tuple(blocks))
