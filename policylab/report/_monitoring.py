"""The monitoring sections of the report: cluster life-cycle, export orders and
cost-effectiveness, built from the indicator table (already through disclosure control).

Every number comes from ``EvaluationResult.indicators`` (and, for the cost per EUR of
additional exports, from the headline estimate it was derived from). A suppressed cell is
shown as "·" in tables and left out of charts, and each chart's caption names the points it
leaves out; a figure derived from a suppressed cell is suppressed too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..evaluation import EvaluationResult, RegionInfo
from . import charts, tables
from ._blocks import (
    LAB_NAME,
    Block,
    Cells,
    Detail,
    IndicatorIndex,
    SectionBody,
    Unit,
    cell,
    long_rows,
    period_cells,
    periods_with,
    render_chart,
    skipped_text,
    units_for,
    years_with_data,
)
from ._indicators import CUMULATIVE, SUPPRESSED
from ..units import display_value
from ._answer import MARKS_NOTE, effect_marks, marked, pretrend_elsewhere
from ._overview import ci_level, headline_effect

__all__ = ["Ctx", "cost_effectiveness", "life_cycle", "orders"]

_HORIZON = re.compile(r"^(\d+)_years?$")
#: Survival horizons the life-cycle table always shows (more follow-up stays in the chart).
SURVIVAL_TABLE_YEARS = (1, 2, 3)


@dataclass(frozen=True)
class Ctx:
    """What every section builder reads: the result, its sorted indicator table, the
    small-cell threshold, the page's region (None on the overview) and an id maker."""

    result: EvaluationResult
    cells: IndicatorIndex
    min_cell: Any
    only: RegionInfo | None
    ids: Any  # build._Ids

    @property
    def index(self) -> bool:
        return self.only is None

    def units(self, with_lab: bool = True) -> list[Unit]:
        return units_for(self.result, self.only, with_lab=with_lab)

    def rows(self, unit: Unit, indicator_id: str) -> Cells:
        return self.cells.unit(unit, indicator_id)

    def cluster_rows(self, indicator_id: str) -> Cells:
        assert self.only is not None
        return self.cells.clusters(self.only.key, indicator_id)


@dataclass(frozen=True)
class Series:
    """One line of a trajectory chart: indicator, group, label, table kind."""

    indicator_id: str
    group: str
    label: str
    kind: str = "percent"


_NO_CELLS = Cells(())


def _horizon(group: str) -> int | None:
    m = _HORIZON.match(str(group))
    return int(m.group(1)) if m else None


def _where(ctx: Ctx) -> str:
    return "each region" if ctx.index else ctx.only.name  # type: ignore[union-attr]


# --------------------------------------------------------------------------- trajectories

def _trajectory(ctx: Ctx, *, block_id: str, title: str, intro: Sequence[str],
                series: Sequence[Series], y_title: str, chart_units: Sequence[Unit] | None = None,
                per_cluster_chart: bool = False, cluster_details: bool = True,
                notes: Sequence[str] = (), y_format: str | None = None) -> Block:
    """Lines by year (one panel per region, or per cluster) and the numbers by year beside."""
    units = ctx.units()
    frames = {(u, s): ctx.rows(u, s.indicator_id) for u in units for s in series}
    years = years_with_data(f.only(group=s.group) for (u, s), f in frames.items())
    if not years:
        return Block(block_id, title, tuple(intro),
                     empty="Not computed for this lab: the input it needs was not provided.")
    periods = periods_with(years, frames.values())
    long: list[dict[str, Any]] = []
    for s in series:
        group_label = s.label
        for u in units:
            long += long_rows(u.name, group_label, s.kind,
                              period_cells(frames[(u, s)], group=s.group, periods=periods))
    table = tables.period_table(long, table_id=f"{block_id}-table", periods=periods,
                                min_cell_firms=ctx.min_cell, notes=list(notes),
                                period_labels={CUMULATIVE: "Whole period"})
    # chart: panels are regions (and the lab) or, on a region page, the region and its clusters
    chart_rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    panels: list[str] = []
    if per_cluster_chart and ctx.only is not None:
        region_unit = Unit(ctx.only.key, ctx.only.name)
        sources: list[tuple[str, dict[Series, Cells]]] = [
            (ctx.only.name, {s: frames[(region_unit, s)] for s in series})]
        clusters = _cluster_ids(ctx, [s.indicator_id for s in series])
        by_cluster = {s: ctx.cluster_rows(s.indicator_id).by_cluster() for s in series}
        for cid in clusters:
            sources.append((f"Consortium {cid}", {
                s: by_cluster[s].get(cid, _NO_CELLS) for s in series}))
    else:
        chosen = chart_units if chart_units is not None else units
        sources = [(u.name, {s: frames[(u, s)] for s in series}) for u in chosen]
    for panel, by_series in sources:
        panels.append(panel)
        for s in series:
            for p, v, f in period_cells(by_series[s], group=s.group, periods=years):
                if f == SUPPRESSED:
                    skipped.append((panel if len(series) == 1 else f"{panel}, {s.label}", p))
                chart_rows.append({"panel": panel, "x": int(p), "y": v, "series": s.label})
    chart = None
    frame = pd.DataFrame(chart_rows)
    if len(frame) and frame["y"].map(charts.is_finite).any():
        spec = charts.lines_spec(frame, x_title="Year", y_title=y_title,
                                 series_order=[s.label for s in series], panel_order=panels,
                                 x_ticks=[int(y) for y in years], columns=min(3, len(panels)),
                                 y_format=y_format)
        what = " and ".join(s.label for s in series)
        caption = f"{what}, by year" + (", one panel per region" if ctx.index else "")
        caption += "." if not (per_cluster_chart and ctx.only) else ": the region and each consortium."
        if len(series) > 1:
            caption += (" " + "; ".join(f"{s.label}: {_style_word(i)}" for i, s in enumerate(series))
                        + ".")
        gap = skipped_text(skipped, ctx.min_cell)
        caption += (" " + gap if gap else "") + " A gap in a line is a year without a value."
        description = (f"Line chart of {what} by year for {', '.join(panels)}. "
                       "The numbers are in the table beside the chart.")
        chart = render_chart(spec, chart_id=f"{block_id}-chart", caption=caption,
                             description=description)
    details: tuple[Detail, ...] = ()
    if cluster_details and ctx.only is not None:
        detail = _cluster_table(ctx, f"{block_id}-clusters", series, notes=notes)
        if detail is not None:
            details = (detail,)
    return Block(block_id, title, tuple(intro), chart, table, (), (), details)


def _style_word(i: int) -> str:
    return ("solid black line, circles", "dashed grey line, triangles", "dotted line, squares",
            "dash-dot line, diamonds")[min(i, 3)]


def _cluster_ids(ctx: Ctx, indicator_ids: Sequence[str]) -> list[str]:
    assert ctx.only is not None
    ids: list[str] = []
    for ind in indicator_ids:
        ids += ctx.cluster_rows(ind).clusters()
    return list(dict.fromkeys(ids))


def _cluster_table(ctx: Ctx, table_id: str, series: Sequence[Series],
                   notes: Sequence[str] = ()) -> Detail | None:
    """The region's per-cluster numbers by year (a collapsed table)."""
    assert ctx.only is not None
    frames = {s: ctx.cluster_rows(s.indicator_id).only(group=s.group) for s in series}
    if all(f.empty for f in frames.values()):
        return None
    years = years_with_data(frames.values())
    periods = periods_with(years, frames.values())
    clusters = _cluster_ids(ctx, [s.indicator_id for s in series])
    by_cluster = {s: frames[s].by_cluster() for s in series}
    long: list[dict[str, Any]] = []
    for s in series:
        for cid in clusters:
            rows = by_cluster[s].get(cid)
            if rows is None:
                continue
            long += long_rows(cid, s.label, s.kind, period_cells(rows, group=s.group, periods=periods))
    if not long:
        return None
    table = tables.period_table(long, table_id=table_id, periods=periods,
                                min_cell_firms=ctx.min_cell, notes=list(notes),
                                period_labels={CUMULATIVE: "Whole period"})
    n = len(clusters)
    return Detail(table_id, f"By consortium ({n} consortia, by year)", table)


# --------------------------------------------------------------------------- life-cycle

def _survival(ctx: Ctx) -> Block:
    block_id = "life-cycle-survival"
    title = "Survival after the seed funding"
    intro = ("How many consortia keep operating once their public seed funding ends: the "
             "Kaplan–Meier estimate of the share still active 1, 2, 3 … years after the seed "
             "phase (indicator I04K). Consortia still active at the end of the data count as "
             "survivors for as long as they are observed (censored), so younger consortia are "
             "used without being counted as closed.",)
    units = ctx.units()
    curves: dict[Unit, dict[int, tuple[float, str]]] = {}
    for u in units:
        rows = ctx.rows(u, "I04K").only(period=CUMULATIVE)
        curve: dict[int, tuple[float, str]] = {}
        for g in rows.groups():
            k = _horizon(g)
            if k is not None:
                curve[k] = cell(rows, period=CUMULATIVE, group=g)
        curves[u] = dict(sorted(curve.items()))
    if not any(curves.values()):
        return Block(block_id, title, intro,
                     empty="Not computed: no consortium has a seed-funding end year in the data.")
    lab = next((u for u in units if u.lab), None)
    regions = [u for u in units if not u.lab]
    # chart: one panel per region, its curve (black) over the lab's (grey, dashed)
    own, allr = "This region's consortia", f"{LAB_NAME} (lab-wide)"
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for u in regions:
        for series, src in ((own, u), (allr, lab)):
            curve = curves.get(src) if src is not None else None
            if not curve:
                continue
            rows.append({"panel": u.name, "x": 0, "y": 100.0, "series": series})
            for k, (v, f) in curve.items():
                if f == SUPPRESSED and series == own:
                    skipped.append((u.name, f"{k} y"))
                rows.append({"panel": u.name, "x": k, "y": v, "series": series})
    chart = None
    frame = pd.DataFrame(rows)
    if len(frame) and frame["y"].map(charts.is_finite).any():
        top = int(max(frame["x"]))
        series_order = [s for s in (own, allr) if s in set(frame["series"])]
        spec = charts.lines_spec(frame, x_title="Years since the seed funding ended",
                                 y_title="Still active, %", series_order=series_order,
                                 panel_order=[u.name for u in regions], step=True,
                                 y_domain=[0.0, 105.0], x_domain=[-0.3, top + 0.3],
                                 x_ticks=list(range(top + 1)), columns=min(3, len(regions)))
        caption = ("Kaplan–Meier survival of consortia after their seed funding ended"
                   + (", one panel per region" if ctx.index else f", {ctx.only.name}")  # type: ignore[union-attr]
                   + ". Solid black steps: the region's consortia; dashed grey steps: all "
                   "regions together. Every curve starts at 100% (all consortia are active when "
                   "their seed funding ends) and drops in the year consortia close.")
        gap = skipped_text(skipped, ctx.min_cell)
        caption += " " + gap if gap else ""
        description = ("Step chart of the share of consortia still active by years since "
                       f"their seed funding ended, for {', '.join(u.name for u in regions)}, "
                       "each against all regions. The numbers are in the table beside it.")
        chart = render_chart(spec, chart_id=f"{block_id}-chart", caption=caption,
                             description=description)
    # table: survival at 1, 2, 3 years and the longest follow-up
    columns = [tables.Column(f"k{k}", f"{k} year{'s' if k > 1 else ''}", "percent",
                             "Still active after, %") for k in SURVIVAL_TABLE_YEARS]
    columns.append(tables.Column("follow", "Longest follow-up, years", "count"))
    records: list[dict[str, Any]] = []
    flags: dict[str, dict[int, str]] = {}
    for i, u in enumerate(units):
        curve = curves.get(u, {})
        rec: dict[str, Any] = {"label": u.name,
                               "follow": float(max(curve)) if curve else math.nan}
        for k in SURVIVAL_TABLE_YEARS:
            v, f = curve.get(k, (math.nan, ""))
            rec[f"k{k}"] = v
            if not curve:
                f = "not_available"
            if f in (SUPPRESSED, "not_available"):
                flags.setdefault(f"k{k}", {})[i] = f
        records.append(rec)
    notes = ["Kaplan–Meier estimate (I04K, statsmodels): consortia whose seed funding ended "
             "before the last year of data; a consortium is at risk until it closes or the data "
             "end. “—” past the longest follow-up: no consortium has been observed that long. "
             f"{LAB_NAME}: every region's consortia together."]
    table = tables.figures_table(pd.DataFrame(records), table_id=f"{block_id}-table",
                                 columns=columns, flags=flags, notes=notes,
                                 min_cell_firms=ctx.min_cell,
                                 bold_rows=[i for i, u in enumerate(units) if u.lab])
    return Block(block_id, title, intro, chart, table)


def life_cycle(ctx: Ctx) -> SectionBody:
    where = _where(ctx)
    intro = (f"How the consortia of {where} develop after they are founded: whether they survive "
             "once public seed funding stops, how far their members pay for them, and whether "
             "members stay. All figures are gross monitoring numbers from the programme records, "
             "not effects.",)
    sustain = _trajectory(
        ctx, block_id="life-cycle-funding", title="Self-sustainability and public dependence",
        intro=("The share of each consortium organisation's running costs paid by member fees "
               "(self-sustainability, I05) against the share paid by public funding (public "
               "dependence, I06), year by year. As seed grants taper off, the first should rise "
               "and the second fall; the two need not add up to 100% (other income, deficits).",)
        + (("Region pages show the same by consortium.",) if ctx.index else ()),
        series=[Series("I05", "all", "Member fees / running costs (I05)"),
                Series("I06", "all", "Public funding / running costs (I06)")],
        y_title="% of running costs", per_cluster_chart=True,
        notes=[f"Region and {LAB_NAME}: ratio of the sums over consortia. Whole period: the "
               "same over all years."])
    retention = _trajectory(
        ctx, block_id="life-cycle-retention", title="Member retention and churn",
        intro=("Member retention (I07): the share of memberships active at the start of a year "
               "that are still active at its end. Churn (I08): entries plus exits over the "
               "average membership, counted only in consortia active the whole year; a high "
               "churn with a high retention means a growing consortium.",),
        series=[Series("I07", "all", "Retention (I07)"), Series("I08", "all", "Churn (I08)")],
        y_title="%", notes=[f"Region and {LAB_NAME}: over all memberships. Whole period: pooled "
                            "over the years."])
    return SectionBody(intro, (_survival(ctx), sustain, retention))


# --------------------------------------------------------------------------- export orders

def _orders_value(ctx: Ctx) -> Block:
    block_id = "orders-value"
    title = "New export orders won via consortia"
    intro = ("The consortium managers' own yardstick: the value (I10) and number (I09) of new "
             "export orders won via a consortium, by the year the order was signed, and how "
             "concentrated their value is (I10C).",)
    units = ctx.units()
    value = {u: ctx.rows(u, "I10") for u in units}
    count = {u: ctx.rows(u, "I09") for u in units}
    years = years_with_data([*value.values(), *count.values()])
    if not years:
        return Block(block_id, title, intro, empty="Not computed: no export orders in the data.")
    periods = periods_with(years, value.values())
    long: list[dict[str, Any]] = []
    for u in units:
        long += long_rows(u.name, "Value, EUR (I10)", "money",
                          period_cells(value[u], group="all", periods=periods))
    for u in units:
        long += long_rows(u.name, "Number of orders (I09)", "count",
                          period_cells(count[u], group="all", periods=periods))
    concentration = {u: ctx.rows(u, "I10C") for u in units}
    has_concentration = not all(c.empty for c in concentration.values())
    for u in units if has_concentration else ():
        long += long_rows(u.name, "Effective number of orders (I10C)", "number",
                          period_cells(concentration[u], group="all", periods=periods))
    notes = ["Orders with a consortium named on them; value in EUR at the lab's conversion "
             "rates. Whole period: the sum over all years."]
    notes += ["Effective number of orders (I10C): 1 / Herfindahl index of the orders' values, "
              "the number of equal orders that would be as concentrated (whole period: of all "
              "the period's orders). Far below the number "
              "of orders, it flags dependence on a few large contracts. A top-3 share is not "
              "shown: with the total published it would reveal the sum of three firms' "
              "contracts."] if has_concentration else []
    table = tables.period_table(long, table_id=f"{block_id}-table", periods=periods,
                                min_cell_firms=ctx.min_cell, notes=notes,
                                period_labels={CUMULATIVE: "Whole period"})
    regions = [u for u in units if not u.lab]
    rows, skipped = [], []
    for u in regions:
        counts = {p: (v, f) for p, v, f in period_cells(count[u], group="all", periods=years)}
        for p, v, f in period_cells(value[u], group="all", periods=years):
            if f == SUPPRESSED:
                skipped.append((u.name, p))
                continue
            n, nf = counts.get(p, (math.nan, ""))
            label = "·" if nf == SUPPRESSED else (f"{int(n)}" if charts.is_finite(n) and n > 0 else "")
            rows.append({"panel": u.name, "x": int(p), "y": v, "label": label})
    chart = None
    frame = pd.DataFrame(rows, columns=["panel", "x", "y", "label"])
    if len(frame) and frame["y"].map(charts.is_finite).any():
        spec = charts.bars_spec(frame, x_title="Year of signature", y_title="Value, EUR",
                                panel_order=[u.name for u in regions],
                                columns=min(3, len(regions)), y_format="~s")
        caption = ("Value of new export orders won via consortia by year (bars, EUR; same scale "
                   "for every region); the number above a bar is the number of orders"
                   + (" (“·”: suppressed)" if any(r["label"] == "·" for r in rows) else "") + ".")
        gap = skipped_text(skipped, ctx.min_cell)
        if gap:
            caption += " " + gap.replace(" points not shown", " bars not shown").replace(
                "1 point not shown", "1 bar not shown")
        description = ("Bar chart of the value of new export orders via consortia by year, for "
                       f"{', '.join(u.name for u in regions)}, with the number of orders above "
                       "each bar. The numbers are in the table beside it.")
        chart = render_chart(spec, chart_id=f"{block_id}-chart", caption=caption,
                             description=description)
    details = ()
    if ctx.only is not None:
        d = _cluster_table(ctx, f"{block_id}-clusters",
                           [Series("I10", "all", "Value, EUR (I10)", "money"),
                            Series("I09", "all", "Number of orders (I09)", "count"),
                            Series("I10C", "all", "Effective number of orders (I10C)", "number")])
        details = (d,) if d else ()
    return Block(block_id, title, intro, chart, table, (), (), details)


def orders(ctx: Ctx) -> SectionBody:
    where = _where(ctx)
    intro = (f"Export orders of {where}'s consortia and their members: how many and how much, "
             "where they go, how many markets are new, and how much of the members' exporting "
             "goes through the consortium. Gross monitoring numbers from the order records.",)
    markets = _trajectory(
        ctx, block_id="orders-markets", title="Destinations, new markets and joint orders",
        intro=("The extra-EU share of the value of orders (I17: all recorded orders, and those "
               "won via consortia), the share of members' order value won jointly via their "
               "consortium (I11), and the number of destination countries members entered that "
               "they had not served in the previous three years (I16).",),
        series=[Series("I17", "via_clusters", "Extra-EU share of orders via consortia (I17)"),
                Series("I11", "all", "Members' orders won jointly (I11)")],
        y_title="% of order value", per_cluster_chart=False, cluster_details=False,
        notes=["Shares: of the value of orders. Whole period: pooled over the years."])
    extra = _markets_table(ctx)
    if extra is not None:
        markets = Block(markets.id, markets.title, markets.intro, markets.chart, markets.table,
                        markets.notes, markets.warnings, (extra, *_orders_cluster_details(ctx)),
                        markets.empty)
    value = _orders_value(ctx)
    return SectionBody(intro, (value, markets))


def _markets_table(ctx: Ctx) -> Detail | None:
    """Extra-EU share of all orders and new markets entered, by year (collapsed)."""
    units = ctx.units()
    series = [Series("I17", "all", "Extra-EU share, all orders, % (I17)", "percent"),
              Series("I16", "members", "New export markets entered by members (I16)", "count"),
              Series("I16", "never_members", "… by never-members (I16)", "count")]
    frames = {(u, s): ctx.rows(u, s.indicator_id).only(group=s.group) for u in units
              for s in series}
    years = years_with_data(frames.values())
    if not years:
        return None
    periods = periods_with(years, frames.values())
    long: list[dict[str, Any]] = []
    for s in series:
        for u in units:
            long += long_rows(u.name, s.label, s.kind,
                              period_cells(frames[(u, s)], group=s.group, periods=periods))
    table = tables.period_table(
        long, table_id="orders-markets-more", periods=periods,
        min_cell_firms=ctx.min_cell, period_labels={CUMULATIVE: "Whole period"},
        notes=["I16 counts, per firm, destination countries of its orders not served in the "
               "previous three years, summed over firms; years without a full look-back are "
               "not reported."])
    return Detail("orders-markets-more", "Extra-EU share of all orders and new export markets, by year",
                  table)


def _orders_cluster_details(ctx: Ctx) -> tuple[Detail, ...]:
    if ctx.only is None:
        return ()
    d = _cluster_table(ctx, "orders-markets-clusters", [
        Series("I17", "via_clusters", "Extra-EU share of orders via the consortium, % (I17)"),
        Series("I11", "all", "Share of members' orders won jointly, % (I11)"),
        Series("I16", "all", "New export markets entered by members (I16)", "count")])
    return (d,) if d else ()


# --------------------------------------------------------------------------- cost-effectiveness

def cost_effectiveness(ctx: Ctx) -> SectionBody:
    result = ctx.result
    where = _where(ctx)
    headline = result.settings.get("headline_estimator")
    labels = result.settings.get("method_labels", {}) or {}
    est_label = labels.get(headline, headline or "the headline estimator")
    alpha = result.settings.get("alpha", 0.05)
    ci = f"{ci_level(alpha)} CI"
    intro = (f"What the programme of {where} cost the public purse per firm supported and per "
             "euro of additional exports, and how much private money it drew in. Public cost is "
             "the public funding of the consortium organisations recorded in their accounts; "
             "the programme agency's own costs are not in the data, so every cost figure is a "
             "lower bound.",)
    units = ctx.units()
    effects = {u: (headline_effect(result, u.key, "exports_eur") if not u.lab else None)
               for u in units}
    pooled = None
    if result.synthesis is not None:
        pooled = result.synthesis.get("exports_eur", headline)
    columns = [
        tables.Column("i18", "Public cost per SME supported, EUR (I18)", "eur"),
        tables.Column("i19", "Public cost per EUR of additional exports, EUR (I19)", "ratio"),
        tables.Column("per_eur", "Additional exports per EUR of public money, EUR", "number",
                      decimals=1),
        tables.Column("effect", f"Effect on exports per member firm-year, EUR [{ci}]", "effect",
                      formatter=tables.effect_formatter("exports_eur")),
        tables.Column("i20", "Leverage: member fees per EUR of public funding (I20)", "number"),
        tables.Column("reading", "Reading", "text"),
    ]
    records, flags = [], {}
    readings: list[str] = []
    for i, u in enumerate(units):
        i18, f18 = cell(ctx.rows(u, "I18"), period=CUMULATIVE)
        i19, f19 = cell(ctx.rows(u, "I19"), period=CUMULATIVE)
        i20, f20 = cell(ctx.rows(u, "I20"), period=CUMULATIVE)
        per_eur = 1.0 / i19 if charts.is_finite(i19) and i19 > 0 else math.nan
        eff = effects.get(u)
        if u.lab and pooled is not None and pooled.pooled:
            est, lo, hi = pooled.estimate, pooled.conf_low, pooled.conf_high
        elif eff is not None:
            h = eff.result.headline
            est, lo, hi = h.estimate, h.conf_low, h.conf_high
        else:
            est = lo = hi = math.nan
        reading = ""
        if charts.is_finite(lo) and charts.is_finite(hi) and lo <= 0 <= hi:
            reading = "interval includes zero: I19 very uncertain"
        elif charts.is_finite(est) and est <= 0:
            reading = "no additional exports estimated: I19 undefined"
        elif not charts.is_finite(est):
            reading = "no estimate of the effect on exports in EUR"
        flags_of = () if u.lab else (effect_marks(result, u.key, "exports_eur")
                                     + pretrend_elsewhere(result, u.key, "exports_eur"))
        shown = [display_value("exports_eur", v) for v in (est, lo, hi)]
        records.append({"label": marked(u.name, flags_of), "i18": i18, "i19": i19,
                        "per_eur": per_eur, "effect": shown[0], "effect_low": shown[1],
                        "effect_high": shown[2], "i20": i20,
                        "reading": reading or None})
        for col, f in (("i18", f18), ("i19", f19), ("per_eur", f19), ("i20", f20)):
            if f in (SUPPRESSED, "not_available"):
                flags.setdefault(col, {})[i] = f
        readings.append(reading)
    notes = [
        "I18: public funding of the consortium organisations over the whole period, divided by "
        "the SMEs supported (I01).",
        f"I19: the same public funding divided by the additional exports estimated from the "
        f"headline estimate ({est_label}) of the effect on exports in EUR, summed over the "
        "member firm-years after joining. It rests on that estimate and inherits its "
        "uncertainty; the effect column shows it with its interval. The next column is its "
        "inverse, the form the export-promotion literature reports (roughly 15 to 40 of exports "
        "per 1 of promotion spending across countries' agencies).",
        f"{LAB_NAME}: I18 to I20 over every region; the effect is the lab-wide pooled headline "
        "estimate (random-effects meta-analysis).",
        "I20: member fees divided by public funding (RCR02-style private co-financing).",
        *([MARKS_NOTE] if any("[" in str(r["label"]) for r in records) else []),
    ]
    table = tables.figures_table(pd.DataFrame(records), table_id="cost-table", columns=columns,
                                 flags=flags, notes=notes, min_cell_firms=ctx.min_cell,
                                 bold_rows=[i for i, u in enumerate(units) if u.lab])
    uncertain = [u.name for u, r in zip(units, readings) if r and "interval" in r]
    warnings = ()
    if uncertain:
        who = (", ".join(uncertain[:-1]) + " and " + uncertain[-1]) if len(uncertain) > 1 \
            else uncertain[0]
        warnings = (f"For {who}, the effect on exports in EUR is not distinguishable from zero "
                    f"(its {ci} includes zero): the data are also consistent with no additional "
                    "exports, so the cost per EUR of additional exports (I19) and its inverse "
                    "are very uncertain.",)
    summary = Block("cost-summary", "Cost per firm and per euro of additional exports",
                    (), None, table, (), warnings)
    trend = _trajectory(
        ctx, block_id="cost-trend", title="Cost per SME and leverage by year",
        intro=("Public cost per SME supported (I18) year by year: it falls as seed grants taper "
               "off and members take over the running costs. The table beside it adds the "
               "leverage of private co-financing (I20) by year.",),
        series=[Series("I18", "all", "Public cost per SME supported, EUR (I18)", "eur")],
        y_title="EUR per SME", cluster_details=False, y_format="~s",
        notes=["Whole period: the total over all years divided by all SMEs supported."])
    lev = _leverage_detail(ctx)
    if lev is not None:
        trend = Block(trend.id, trend.title, trend.intro, trend.chart, trend.table, trend.notes,
                      trend.warnings, lev, trend.empty)
    return SectionBody(intro, (summary, trend))


def _leverage_detail(ctx: Ctx) -> tuple[Detail, ...] | None:
    units = ctx.units()
    frames = {u: ctx.rows(u, "I20") for u in units}
    years = years_with_data(frames.values())
    if not years:
        return None
    periods = periods_with(years, frames.values())
    long: list[dict[str, Any]] = []
    for u in units:
        long += long_rows(u.name, "", "number", period_cells(frames[u], group="all", periods=periods))
    table = tables.period_table(long, table_id="cost-leverage", periods=periods,
                                min_cell_firms=ctx.min_cell,
                                period_labels={CUMULATIVE: "Whole period"},
                                notes=["Member fees per EUR of public funding; blank where there "
                                       "was no public funding."])
    out = [Detail("cost-leverage", "Leverage of private co-financing (I20) by year", table)]
    if ctx.only is not None:
        d = _cluster_table(ctx, "cost-leverage-clusters",
                           [Series("I20", "all", "Member fees per EUR of public funding (I20)",
                                   "number")])
        if d is not None:
            out.append(d)
    return tuple(out)
