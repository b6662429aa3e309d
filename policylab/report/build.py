"""Stage 1 of the report: turn an :class:`EvaluationResult` into a :class:`ReportModel`.

The model is plain frozen data: one :class:`Page` for the comparative overview
(``index.html``) and one per region (``regions/<nuts2>.html``), each with the same sections
(:data:`SECTIONS`) holding texts, ids, chart specs with their rendered SVG, and table HTML
(:mod:`policylab.report.tables`). Stage 2 (:mod:`policylab.report.html`) only pours each page
into the jinja2 template. Tests can check the model as data (which charts exist, what a spec
encodes, which numbers a summary shows) without scraping HTML.

Every fragment of markup in the model (``Markup``, :class:`~policylab.report.tables.Table`)
was produced by code in this package (the tables' and the charts' writers, both of which
escape the user strings they contain); everything else is plain text that the template escapes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._version import __version__
from ..did.few_clusters import METHOD_TEXT
from ..evaluation import EvaluationResult, RegionEffect, RegionInfo
from ..synthesis import METHOD_LABELS as POOL_METHOD_LABELS
from ..synthesis import PooledEffect, Synthesis
from . import charts, tables
from ._blocks import Block, Detail, IndicatorIndex, SectionBody
from ._diagnostics import diagnostics as _diagnostics_section
from ._indicators import CUMULATIVE, period_sort_key, region_rows, sorted_indicators
from ._monitoring import Ctx, cost_effectiveness, life_cycle, orders
from ._overview import (
    HEADLINE_INDICATORS,
    ContextRow,
    RegionSummary,
    ci_level,
    context_rows,
    data_quality_row,
    effect_decimals,
    fmt_number,
    fmt_p,
    headline_outcome,
    outcome_scale,
    pooled_sentences,
    reason_text,
    region_summary,
    treated_clusters,
)
from ._serialize import to_jsonable

__all__ = [
    "SECTIONS",
    "Block",
    "Context",
    "Detail",
    "EventStudyPanel",
    "MethodsNote",
    "NavItem",
    "OutcomeImpact",
    "Page",
    "RegionDashboard",
    "ReportModel",
    "Section",
    "SectionBody",
    "SiteLink",
    "Summary",
    "WarningItem",
    "build_report",
    "region_paths",
]

#: How many of the latest years the dashboard shows (the CSV has them all).
DASHBOARD_YEARS = 6

CAVEAT = (
    "These figures compare firms that joined an export consortium with similar firms in the "
    "same region that never joined. The effects are estimates with a margin of error, not "
    "exact measurements, and they rest on assumptions explained under Methods. Regions differ "
    "in their data and in how their programmes work, so compare them with care."
)

INDEX_PATH = "index.html"
REGIONS_DIR = "regions"


@dataclass(frozen=True)
class Section:
    """One top-level section: its stable ``id`` (the anchor), title and template file."""

    id: str
    title: str
    template: str


#: The sections of every page, in page order. A new section is one entry here plus one
#: template (which sees ``page`` and ``report``).
SECTIONS: tuple[Section, ...] = (
    Section("summary", "Executive summary", "sections/summary.html.j2"),
    Section("context", "Programme context", "sections/context.html.j2"),
    Section("dashboard", "Indicator dashboard", "sections/dashboard.html.j2"),
    Section("life-cycle", "Cluster life-cycle", "sections/blocks.html.j2"),
    Section("orders", "Export orders", "sections/blocks.html.j2"),
    Section("impact", "Impact estimates", "sections/impact.html.j2"),
    Section("diagnostics", "Diagnostics", "sections/blocks.html.j2"),
    Section("cost-effectiveness", "Cost-effectiveness", "sections/blocks.html.j2"),
    Section("warnings", "Warnings", "sections/warnings.html.j2"),
    Section("methods", "Methods and caveats", "sections/methods.html.j2"),
    Section("data-quality", "Data quality", "sections/data_quality.html.j2"),
    Section("provenance", "Provenance", "sections/provenance.html.j2"),
)

#: Ids the page layout uses besides the sections'.
LAYOUT_IDS = ("report-header", "site-nav", "contents", "report-footer")


@dataclass(frozen=True)
class WarningItem:
    source: str
    text: str
    group: str = "Lab"  # "Lab" or the region's display name


@dataclass(frozen=True)
class RegionDashboard:
    id: str
    key: str
    name: str
    nuts2: str
    country: str
    programme: str
    currency: str
    table: tables.Table | None
    n_suppressed: int
    note: str


@dataclass(frozen=True)
class EventStudyPanel:
    id: str
    region_key: str
    region: str
    method: str
    chart: charts.Chart | None
    table: tables.Table | None
    note: str


@dataclass(frozen=True)
class OutcomeImpact:
    id: str
    outcome: str
    label: str
    ci_label: str
    table: tables.Table
    forest: charts.Chart | None
    event_studies: tuple[EventStudyPanel, ...]
    pooled: tuple[PooledEffect, ...]  # the headline estimator's first, then the others'
    lab_sentences: tuple[str, ...]
    notes: tuple[tuple[str, tuple[str, ...]], ...]  # ("region · estimator", its notes)
    headline_label: str = ""
    robustness_labels: tuple[str, ...] = ()
    es_note: str = ""  # how to read the event-study charts


@dataclass(frozen=True)
class MethodsNote:
    estimators: tuple[str, ...]
    comparison: str
    clustering: tuple[str, ...]
    headline: tuple[str, ...]
    inference: str
    synthesis: tuple[str, ...]
    caveats: tuple[str, ...]
    settings: dict[str, Any]


@dataclass(frozen=True)
class Summary:
    """The executive summary of a page: lab-wide sentences, a table and each region's caveats."""

    lab_sentences: tuple[str, ...]
    lab_notes: tuple[str, ...]
    regions: tuple[RegionSummary, ...]
    table: tables.Table | None


@dataclass(frozen=True)
class Context:
    rows: tuple[ContextRow, ...]
    table: tables.Table | None


@dataclass(frozen=True)
class NavItem:
    id: str
    title: str
    children: tuple[NavItem, ...] = ()


@dataclass(frozen=True)
class SiteLink:
    """One link of the navigation bar: to the overview or a region page (relative href)."""

    title: str
    href: str
    current: bool


@dataclass(frozen=True)
class Page:
    """One HTML file of the report and everything its template shows."""

    path: str  # relative to the output folder, "/"-separated
    kind: str  # "index" or "region"
    region: str | None  # the region key of a region page
    root: str  # relative prefix from this page to the output folder ("" or "../")
    title: str
    heading: str
    kicker: str
    meta: str
    sections: tuple[Section, ...]
    contents: tuple[NavItem, ...]
    site_nav: tuple[SiteLink, ...]
    summary: Summary
    context: Context
    warnings: tuple[WarningItem, ...]
    dashboards: tuple[RegionDashboard, ...]
    dashboard_years: tuple[str, ...]
    impacts: tuple[OutcomeImpact, ...]
    life_cycle: SectionBody
    orders: SectionBody
    diagnostics: SectionBody
    costs: SectionBody
    methods: MethodsNote
    data_quality: tables.Table | None
    data_quality_rows: int
    provenance: dict[str, Any]
    table_css: tuple[str, ...]  # every distinct table stylesheet the page uses (one)

    @property
    def lab_warnings(self) -> tuple[WarningItem, ...]:
        return tuple(w for w in self.warnings if w.group == "Lab")

    @property
    def region_warnings(self) -> tuple[tuple[str, tuple[WarningItem, ...]], ...]:
        """Per-region notes, regions in the lab's order."""
        groups: dict[str, list[WarningItem]] = {}
        for w in self.warnings:
            if w.group != "Lab":
                groups.setdefault(w.group, []).append(w)
        return tuple((g, tuple(items)) for g, items in groups.items())

    def href(self, path: str) -> str:
        """A link from this page to ``path`` (relative to the output folder)."""
        return self.root + path

    @property
    def all_charts(self) -> tuple[charts.Chart, ...]:
        """Every chart of the page, in page order."""
        out: list[charts.Chart] = []
        for section in self.sections:
            if section.id == "impact":
                for o in self.impacts:
                    out += [c for c in (o.forest, *(p.chart for p in o.event_studies)) if c]
            elif section.template.endswith("blocks.html.j2"):
                out += [b.chart for b in self.body(section.id).blocks if b.chart is not None]
        return tuple(out)

    def body(self, section_id: str) -> SectionBody:
        """The blocks of one of the block sections (life-cycle, orders, diagnostics, costs)."""
        return {"life-cycle": self.life_cycle, "orders": self.orders,
                "diagnostics": self.diagnostics, "cost-effectiveness": self.costs}[section_id]


@dataclass(frozen=True)
class ReportModel:
    """Everything the templates need, already built: the overview page and the region pages."""

    version: str
    lab_name: str
    lab_description: str
    caveat: str
    min_cell_firms: Any
    timestamp: str | None
    pages: tuple[Page, ...]

    @property
    def index(self) -> Page:
        return self.pages[0]

    @property
    def region_pages(self) -> tuple[Page, ...]:
        return self.pages[1:]

    def page(self, path: str) -> Page:
        for p in self.pages:
            if p.path == path:
                return p
        raise KeyError(path)


# --------------------------------------------------------------------------- helpers

class _Ids:
    """Stable, unique, safe HTML ids from arbitrary (user) text."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._used: set[str] = set(reserved)

    def reserve(self, id_: str) -> None:
        self._used.update((id_, f"{id_}-title"))

    def make(self, prefix: str, *parts: str) -> str:
        slug = "-".join(s for s in (_slug(p) for p in parts) if s) or "x"
        base = f"{prefix}-{slug}"
        candidate, n = base, 2
        # a heading inside an element takes the element's id + "-title": keep both free
        while candidate in self._used or f"{candidate}-title" in self._used:
            candidate, n = f"{base}-{n}", n + 1
        self._used.update((candidate, f"{candidate}-title"))
        return candidate


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", str(text).lower()))[:40]


def _page_ids() -> _Ids:
    # reserve, so no generated id can collide with a section or layout id
    return _Ids([*(s.id for s in SECTIONS), *(f"{s.id}-title" for s in SECTIONS), *LAYOUT_IDS])


def _outcome_label(outcome: str, result: EvaluationResult | None = None) -> str:
    """The outcome's label: the run's own (``settings["outcome_labels"]``), else the config's."""
    if result is not None:
        own = (result.settings.get("outcome_labels") or {}).get(outcome)
        if own:
            return str(own)
    try:
        from ..config import OUTCOME_LABELS
    except Exception:  # pragma: no cover - the config module is optional here
        return outcome
    return OUTCOME_LABELS.get(outcome, outcome)


def _ci_label(alphas: Iterable[float]) -> str:
    levels = sorted({round(100 * (1 - float(a)), 6) for a in alphas})
    if len(levels) == 1:
        return f"{levels[0]:g}% CI"
    return "CI"


def _method_label(method: str, result: EvaluationResult | None = None) -> str:
    """An estimator's full label: the run's own (``settings["method_labels"]``), else ours."""
    if result is not None:
        own = (result.settings.get("method_labels") or {}).get(method)
        if own:
            return str(own)
    return tables.METHOD_LABELS.get(method, method)


def _method_short(method: str) -> str:
    """An estimator's short name, for legends and column heads."""
    return tables.METHOD_LABELS.get(method, method.replace("_", " "))


_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
# Windows reserves these device names whatever the extension; NUTS-like codes can spell them.
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                     *(f"LPT{i}" for i in range(10))}


def region_paths(regions: Sequence[RegionInfo]) -> dict[str, str]:
    """``regions/<nuts2>.html`` for each region key: safe, unique and stable file names.

    The NUTS-2 code is used as it is when it is a plain code (letters, digits, ``-``/``_``);
    anything else (or a device name Windows reserves, such as ``CON``) is replaced by a name
    made from the region key and a hash. Names are unique even on case-insensitive file
    systems: a second region with the same code gets its key appended.
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for info in regions:
        code = str(info.nuts2)
        if _SAFE_STEM.fullmatch(code) and code.upper() not in _WINDOWS_RESERVED:
            stem = code
        else:
            digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:8]
            stem = f"region-{_slug(info.key)[:20] or 'x'}-{digest}"
        candidate, n = stem, 2
        if candidate.lower() in used:
            candidate = f"{stem}-{_slug(info.key)[:20] or 'x'}"
        while candidate.lower() in used:
            candidate, n = f"{stem}-{n}", n + 1
        used.add(candidate.lower())
        out[info.key] = f"{REGIONS_DIR}/{candidate}.html"
    return out


def _collect_tables(obj: Any, found: dict[str, str]) -> None:
    if isinstance(obj, tables.Table):
        if obj.css_class:
            found.setdefault(obj.css_class, obj.css)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _collect_tables(getattr(obj, f.name), found)
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            _collect_tables(item, found)


# --------------------------------------------------------------------------- the builder

class _Builder:
    """Builds each page; keeps what pages share (dashboards, event studies) to build it once."""

    def __init__(self, result: EvaluationResult) -> None:
        self.result = result
        self.synthesis: Synthesis | None = result.synthesis
        self.table = sorted_indicators(result)
        self.cells = IndicatorIndex(self.table, result)
        self.paths = region_paths(result.regions)
        self.min_cell = result.settings.get("min_cell_firms", "the minimum number of")
        self.methods = _methods(result)
        periods = {str(p) for p in self.table["period"].dropna()}
        years = sorted((p for p in periods if period_sort_key(p)[0] == 0), key=period_sort_key)
        self.years = tuple(years[-DASHBOARD_YEARS:])
        self._dashboards: dict[str, RegionDashboard] = {}
        self._panels: dict[tuple[str, str], EventStudyPanel] = {}  # (outcome, region key)
        self.headline: str | None = result.settings.get("headline_estimator") or (
            result.effects[0].result.method if result.effects else None)
        self._lab_sentences: tuple[str, ...] | None = None
        self._forest_specs: dict[str, dict[str, Any]] = {}

    # ---- pages

    def page(self, only: RegionInfo | None) -> Page:
        result = self.result
        infos = list(result.regions) if only is None else [only]
        keys = [i.key for i in infos]
        ids = _page_ids()
        path = INDEX_PATH if only is None else self.paths[only.key]
        root = "" if only is None else "../" * path.count("/")
        summary = self._summary(infos, ids, root, single=only is not None)
        context = self._context(infos, ids)
        dashboards = tuple(self._dashboard(info) for info in infos)
        for d in dashboards:
            ids.reserve(d.id)
        ctx = Ctx(result, self.cells, self.min_cell, only, ids)
        life = life_cycle(ctx)
        order_body = orders(ctx)
        impacts = self._impacts(ids, only)
        diag = _diagnostics_section(ctx)
        costs = cost_effectiveness(ctx)
        dq_html, dq_rows = self._data_quality(infos)
        if only is None:
            title = f"{result.lab_name} · policylab report"
            heading, kicker = result.lab_name, "policylab · comparative report across regions"
            meta = result.lab_description
        else:
            title = f"{only.name} · {result.lab_name} · policylab report"
            heading, kicker = only.name, f"policylab · region report · {result.lab_name}"
            meta = " · ".join(p for p in (f"NUTS-2 {only.nuts2}", only.country, only.programme,
                                          f"local currency {only.currency}") if p)
        site_nav = (SiteLink("Lab overview", root + INDEX_PATH, only is None),) + tuple(
            SiteLink(i.name, root + self.paths[i.key], only is not None and i.key == only.key)
            for i in result.regions)
        contents = _contents(SECTIONS, dashboards if only is None else (), impacts,
                             {"life-cycle": life, "orders": order_body, "diagnostics": diag,
                              "cost-effectiveness": costs})
        page = Page(
            path=path, kind="index" if only is None else "region",
            region=None if only is None else only.key, root=root, title=title, heading=heading,
            kicker=kicker, meta=meta, sections=SECTIONS, contents=contents, site_nav=site_nav,
            summary=summary, context=context, warnings=_warnings(result, keys if only else None),
            dashboards=dashboards, dashboard_years=self.years, impacts=impacts,
            life_cycle=life, orders=order_body, diagnostics=diag, costs=costs,
            methods=self.methods, data_quality=dq_html, data_quality_rows=dq_rows,
            provenance=_provenance(result, only), table_css=(),
        )
        found: dict[str, str] = {}
        _collect_tables(page, found)
        return dataclasses.replace(page, table_css=tuple(found[k] for k in sorted(found)))

    # ---- executive summary

    def lab_sentences(self) -> tuple[str, ...]:
        if self._lab_sentences is None:
            out: list[str] = []
            chosen = self._headline_pooled()
            if chosen:
                out.append(f"Every effect in this summary is by the headline estimator, "
                           f"{self.method_label(self.headline)}; other estimators are shown as "
                           "robustness checks under Impact estimates.")
            for p in chosen:
                out += pooled_sentences(p, self.result)
            self._lab_sentences = tuple(out)
        return self._lab_sentences

    def _headline_pooled(self) -> list[PooledEffect]:
        """One pooled effect per outcome, by the headline estimator only."""
        if self.synthesis is None:
            return []
        chosen: dict[str, PooledEffect] = {}
        for p in self.synthesis.pooled:
            if p.estimator == self.headline and p.outcome not in chosen:
                chosen[p.outcome] = p
        first = headline_outcome(self.result)
        order = sorted(chosen, key=lambda o: (o != first,))
        return [chosen[o] for o in order]

    def _summary(self, infos: list[RegionInfo], ids: _Ids, root: str, single: bool) -> Summary:
        result = self.result
        regions = tuple(
            region_summary(result, self.table, info, id_=ids.make("summary", info.key),
                           href=root + self.paths[info.key])
            for info in infos)
        ci = _ci_label([result.settings.get("alpha", 0.05)])
        table: tables.Table | None = None
        if regions:
            if single:
                table = self._key_figures(regions[0], ids, ci)
            else:
                table = self._summary_table(regions, ids, ci)
        return Summary(self.lab_sentences(), tuple(str(w) for w in result.warnings), regions,
                       table)

    def _period_note(self, regions: Sequence[RegionSummary]) -> str:
        latest = sorted({f.period for r in regions for f in r.figures
                         if f.key in ("consortia_active", "exporters_members") and f.period},
                        key=period_sort_key)
        when = (f"{latest[0]}" if len(latest) == 1 else ", ".join(latest)) if latest else "—"
        return ("SMEs supported and export orders: cumulative over the period covered. "
                f"Consortia active, self-sustainability and exporting firms: latest year "
                f"({when}). Survival: Kaplan–Meier share of consortia still active 3 years "
                "after their seed funding ended. Monitoring figures are gross numbers from "
                "programme records; the effect is a net estimate against never-members by the "
                f"headline estimator, {self.method_label(self.headline)} (other estimators: "
                "Impact estimates).")

    def _summary_table(self, regions: tuple[RegionSummary, ...], ids: _Ids,
                       ci: str) -> tables.Table:
        effect_label = regions[0].figures[-1].label
        columns = [tables.Column(s.key, s.label, s.kind, s.spanner) for s in HEADLINE_INDICATORS]
        columns.append(tables.Column("effect", f"{effect_label} [{ci}]", "effect",
                                     f"Estimated effect ({_method_short(self.headline or '')})"))
        records, flags = [], {}
        for i, r in enumerate(regions):
            rec: dict[str, Any] = {"region": r.name}
            for f in r.figures:
                rec[f.key] = f.value
                if f.kind == "effect":
                    rec[f"{f.key}_low"], rec[f"{f.key}_high"] = f.conf_low, f.conf_high
                if f.flag:
                    flags.setdefault(f.key, {})[i] = f.flag
            records.append(rec)
        frame = pd.DataFrame(records)
        return tables.summary_table(frame, table_id=ids.make("summary", "table"),
                                    columns=columns, flags=flags,
                                    notes=[self._period_note(regions)],
                                    min_cell_firms=self.min_cell)

    def _key_figures(self, region: RegionSummary, ids: _Ids, ci: str) -> tables.Table:
        frame = pd.DataFrame([
            {"label": (f"Exporting firms, %: {f.label.lower()}" if f.key.startswith("exporters")
                       else f.label),
             "value": f.value, "kind": f.kind,
             "period": (f"after joining ({_method_short(self.headline or '')})"
                        if f.kind == "effect" else f.period),
             "conf_low": f.conf_low, "conf_high": f.conf_high, "flag": f.flag}
            for f in region.figures])
        return tables.key_figures_table(frame, table_id=ids.make("summary", "table"),
                                        ci_label=ci, notes=[self._period_note([region])],
                                        min_cell_firms=self.min_cell)

    # ---- programme context

    def _context(self, infos: list[RegionInfo], ids: _Ids) -> Context:
        rows = context_rows(self.result, self.table, infos)
        if not rows:
            return Context((), None)
        columns = [
            tables.Column("programme", "Programme", "text"),
            tables.Column("nuts2", "NUTS-2", "text"),
            tables.Column("country", "Country", "text"),
            tables.Column("currency", "Currency", "text"),
            tables.Column("period", "Period covered", "text"),
            tables.Column("firms", "Firms", "count", "In the data"),
            tables.Column("members", "Members", "count", "In the data"),
            tables.Column("never_members", "Never-members", "count", "In the data"),
            tables.Column("consortia", "Consortia", "count", "In the data"),
        ]
        frame = pd.DataFrame([{"region": r.name, **{c.key: getattr(r, c.key) for c in columns}}
                              for r in rows])
        flags: dict[str, dict[int, str]] = {}
        for i, r in enumerate(rows):
            for col, flag in r.flags.items():
                flags.setdefault(col, {})[i] = flag
        notes = ["Firms: all firms in the region's data; members: firms that joined a consortium "
                 "at some point; never-members: the comparison firms. Consortia: formed up to "
                 "the last year covered (indicator I02). Money is converted to EUR at the rates "
                 "stated in the lab config."]
        table = tables.context_table(frame, table_id=ids.make("context", "table"),
                                     columns=columns, flags=flags, notes=notes,
                                     min_cell_firms=self.min_cell)
        return Context(rows, table)

    # ---- indicator dashboard

    def _dashboard(self, info: RegionInfo) -> RegionDashboard:
        if info.key in self._dashboards:
            return self._dashboards[info.key]
        rows = region_rows(self.table, self.result, info.key)
        dash_id = f"dashboard-{_slug(info.key) or 'x'}"
        taken = {d.id for d in self._dashboards.values()}
        n = 2
        while dash_id in taken:
            dash_id, n = f"dashboard-{_slug(info.key) or 'x'}-{n}", n + 1
        cumulative = bool(rows["period"].astype(str).eq(CUMULATIVE).any())
        if rows.empty or not (self.years or cumulative):
            html, n_supp = None, 0
            note = "No indicators were computed for this region."
        else:
            html = tables.dashboard_table(rows, table_id=f"{dash_id}-table",
                                          years=list(self.years), cumulative=cumulative,
                                          min_cell_firms=self.min_cell)
            visible = rows["period"].astype(str).isin([*self.years, CUMULATIVE])
            n_supp = int((rows.loc[visible, "flag"].astype(str) == "suppressed").sum())
            note = ""
        dash = RegionDashboard(dash_id, info.key, info.name, info.nuts2, info.country,
                               info.programme, info.currency, html, n_supp, note)
        self._dashboards[info.key] = dash
        return dash

    # ---- impact

    def _impacts(self, ids: _Ids, only: RegionInfo | None) -> tuple[OutcomeImpact, ...]:
        """Per outcome: the headline estimator's effect by region (table, forest plot), the
        other estimators beside it as robustness columns, and each region's event study with
        every estimator overlaid."""
        result = self.result
        headline = self.headline
        outcomes = list(dict.fromkeys(e.outcome for e in result.effects))
        rank = {info.key: i for i, info in enumerate(result.regions)}
        out = []
        for outcome in outcomes:
            effs = sorted((e for e in result.effects if e.outcome == outcome),
                          key=lambda e: rank.get(e.region, len(rank)))  # stable
            by = {(e.result.method, e.region): e for e in effs}
            regions = list(dict.fromkeys(e.region for e in effs))
            others = [m for m in dict.fromkeys(e.result.method for e in effs) if m != headline]
            heads = [by[(headline, r)] for r in regions if (headline, r) in by]
            label = _outcome_label(outcome, result)
            ci_label = _ci_label(e.result.alpha for e in effs)
            out_id = ids.make("impact", outcome)
            pooled = self._pooled(outcome, headline)
            pooled_others = [(m, self._pooled(outcome, m)) for m in others]
            mine = [r for r in regions if only is None or r == only.key]
            decimals = _effect_decimals([v for e in effs for v in
                                         (e.result.headline.estimate, e.result.headline.conf_low,
                                          e.result.headline.conf_high)])
            robust = [(f"r{j}", _method_short(m)) for j, m in enumerate(others)]
            rows = []
            for r in mine:
                h = by.get((headline, r))
                rec: dict[str, Any] = {"region": result.region(r).name}
                if h is not None:
                    res, est = h.result, h.result.headline
                    rec.update(estimate=est.estimate, std_error=est.std_error,
                               conf_low=est.conf_low, conf_high=est.conf_high,
                               p_value=est.p_value, n_firms=res.n_units,
                               n_treated=res.n_treated, n_clusters=res.n_clusters,
                               n_treated_clusters=_nan_if_none(treated_clusters(res)))
                for (key, _), m in zip(robust, others):
                    o = by.get((m, r))
                    oh = o.result.headline if o is not None else None
                    rec[key] = oh.estimate if oh else math.nan
                    rec[f"{key}_low"] = oh.conf_low if oh else math.nan
                    rec[f"{key}_high"] = oh.conf_high if oh else math.nan
                n_notes = sum(len(by[(m, r)].result.warnings) for m in [headline, *others]
                              if (m, r) in by)
                rec["notes"] = f"{n_notes} (listed below)" if n_notes else ""
                rows.append(rec)
            pooled_frame = _pooled_frame(pooled, pooled_others, robust, heads)
            table = tables.impact_table(
                pd.DataFrame(rows), table_id=f"{out_id}-table", ci_label=ci_label,
                pooled=pooled_frame,
                pooled_notes=[*_inference_notes([e for e in effs if only is None
                                                 or e.region == only.key]),
                              *_pooled_notes(pooled, pooled_others, result)],
                headline_label=f"Headline: {self.method_label(headline)}",
                robustness=robust, decimals=decimals)
            names = [result.region(e.region).name for e in heads]
            forest = _forest(heads, names, [pooled] if pooled is not None else [], out_id,
                             label, ci_label, estimator=self.method_label(headline),
                             emphasis=None if only is None else only.key,
                             emphasis_name=None if only is None else only.name,
                             specs=self._forest_specs, spec_key=outcome)
            panels = self._event_studies(outcome, effs, headline, others, label, ci_label,
                                         out_id, mine, ids)
            sentences: list[str] = []
            if pooled is not None:
                sentences += pooled_sentences(pooled, result,
                                              estimator=self.method_label(headline))
            sentences += _robustness_sentences(pooled_others, self)
            notes = tuple((f"{result.region(r).name} · {_method_short(m)}",
                           tuple(str(w) for w in by[(m, r)].result.warnings))
                          for r in mine for m in [headline, *others]
                          if (m, r) in by and by[(m, r)].result.warnings)
            shown = tuple(p for p in [pooled, *(q for _, q in pooled_others)] if p is not None)
            out.append(OutcomeImpact(out_id, outcome, label, ci_label, table, forest, panels,
                                     shown, tuple(sentences), notes,
                                     self.method_label(headline),
                                     tuple(self.method_label(m) for m in others),
                                     _event_study_note(panels, headline, others)))
        return tuple(out)

    def _pooled(self, outcome: str, method: str | None) -> PooledEffect | None:
        if self.synthesis is None or method is None:
            return None
        return self.synthesis.get(outcome, method)

    def method_label(self, method: str | None) -> str:
        return _method_label(method or "", self.result)

    def _event_studies(self, outcome: str, effs: list[RegionEffect], headline: str,
                       others: list[str], label: str, ci_label: str, out_id: str,
                       mine: list[str], ids: _Ids) -> tuple[EventStudyPanel, ...]:
        if not all((outcome, r) in self._panels for r in mine):
            self._build_event_studies(outcome, effs, headline, others, label, ci_label, out_id)
        panels = tuple(self._panels[(outcome, r)] for r in mine)
        for p in panels:
            ids.reserve(p.id)
            if p.chart is not None:
                ids.reserve(p.chart.id)
        return panels

    def _build_event_studies(self, outcome: str, effs: list[RegionEffect], headline: str,
                             others: list[str], label: str, ci_label: str, out_id: str) -> None:
        """Every region's event study of one outcome, every estimator overlaid (the headline
        first), on one vertical scale shared by all regions."""
        order = [m for m in [headline, *others] if any(e.result.method == m for e in effs)]
        names = {m: _method_short(m) for m in order}
        frames: dict[tuple[str, str], pd.DataFrame] = {}
        for e in effs:
            f = charts.event_study_frame(e.result.tidy())
            f["series"] = names[e.result.method]
            frames[(e.region, e.result.method)] = f
        finite = [f.loc[f["estimate"].map(charts.is_finite)] for f in frames.values()]
        nonempty = [f for f in finite if len(f)]
        y_domain = x_domain = None
        if nonempty:
            allpts = pd.concat(nonempty, ignore_index=True)
            y_domain = charts.value_domain(list(allpts["conf_low"]) + list(allpts["estimate"]),
                                           list(allpts["conf_high"]) + list(allpts["estimate"]))
            x_domain = (int(allpts["event_time"].min()), int(allpts["event_time"].max()))
        local = _Ids()
        for region in dict.fromkeys(e.region for e in effs):
            name = self.result.region(region).name
            panel_id = local.make(out_id + "-es", region)
            mine = [(m, frames[(region, m)]) for m in order if (region, m) in frames]
            shown = [(m, f) for m, f in mine if f["estimate"].map(charts.is_finite).any()]
            methods = " and ".join(names[m] for m, _ in mine)
            if not shown:
                self._panels[(outcome, region)] = EventStudyPanel(
                    panel_id, region, name, methods, None, None,
                    f"{methods}: no event-time estimates.")
                continue
            points = pd.concat([f for _, f in shown], ignore_index=True)
            series = [names[m] for m, _ in shown]
            spec = charts.event_study_spec(points, y_title="Effect by years since joining",
                                           y_domain=y_domain, x_domain=x_domain,
                                           series_order=series)
            caption = f"{name}: effect on {label} by years since joining, with {ci_label}"
            if len(series) > 1:
                caption += (f" ({series[0]}: black circles; "
                            + "; ".join(f"{s}: grey {_SHAPE_WORDS[i]}" for i, s in
                                        enumerate(series[1:], start=1)) + ")")
            caption += "."
            without = [names[m] for m, f in mine if not any(m == k for k, _ in shown)]
            if without:
                caption += f" No event-time estimates: {', '.join(without)}."
            first = int(points["event_time"].min())
            last = int(points["event_time"].max())
            description = (f"Event-study chart for {name}, outcome {label}: estimates with "
                           f"{ci_label} by {', '.join(series)} for event times {first} to "
                           f"{last}. The numbers are in the table below the chart.")
            chart = _chart(spec, f"{panel_id}-chart", caption, description)
            table = tables.event_study_table(points, table_id=f"{panel_id}-table",
                                             ci_label=ci_label, series_order=series)
            self._panels[(outcome, region)] = EventStudyPanel(panel_id, region, name, methods,
                                                              chart, table, "")

    # ---- data quality

    def _data_quality(self, infos: list[RegionInfo]) -> tuple[tables.Table | None, int]:
        dq = self.result.data_quality
        if not len(dq.columns):
            return None, 0
        if len(infos) == len(self.result.regions):
            frame = dq
        else:
            rows = [data_quality_row(self.result, info) for info in infos]
            frame = pd.DataFrame([r for r in rows if r], columns=dq.columns)
            if frame.empty:
                return None, 0
        return tables.data_quality_table(frame, table_id="data-quality-table"), len(frame)


# --------------------------------------------------------------------------- sections

def _contents(sections: Sequence[Section], dashboards: Sequence[RegionDashboard],
              impacts: Sequence[OutcomeImpact],
              bodies: dict[str, SectionBody] | None = None) -> tuple[NavItem, ...]:
    children = {
        "dashboard": tuple(NavItem(d.id, d.name) for d in dashboards),
        "impact": tuple(NavItem(o.id, o.label) for o in impacts),
        **{sid: tuple(NavItem(b.id, b.title) for b in body.blocks if b.level == 3)
           for sid, body in (bodies or {}).items()},
    }
    return tuple(NavItem(s.id, s.title, children.get(s.id, ())) for s in sections)


def _warnings(result: EvaluationResult, keys: Sequence[str] | None) -> tuple[WarningItem, ...]:
    items = [WarningItem("Lab", str(w)) for w in result.warnings]
    for eff in result.effects:
        if keys is not None and eff.region not in keys:
            continue
        region = result.region(eff.region).name
        source = f"{_outcome_label(eff.outcome, result)} · {_method_short(eff.result.method)}"
        for w in eff.result.warnings:
            items.append(WarningItem(source, str(w), group=region))
    return tuple(items)


_SHAPE_WORDS = ("circles", "triangles", "squares", "diamonds", "crosses")


def _event_study_note(panels: Sequence[EventStudyPanel], headline: str | None,
                      others: Sequence[str]) -> str:
    """How to read the event-study charts of one outcome (said once, not under every chart)."""
    if not any(p.chart is not None for p in panels):
        return ""
    text = ("Each chart shows the effect in each year before and after joining, with its "
            "interval; the dotted line marks joining and the dashed line no effect.")
    if others:
        text += (f" The headline estimator, {_method_short(headline or '')}, is drawn in black "
                 "circles; " + ", ".join(f"{_method_short(m)} in grey {_SHAPE_WORDS[i]}"
                                         for i, m in enumerate(others, start=1))
                 + ", shifted a little to the right, as a robustness check.")
    if headline == "callaway_santanna" or "callaway_santanna" in others:
        text += (" Before joining, Callaway–Sant'Anna compares each year with the year before "
                 "(a varying base period), so its pre-joining points test for sudden changes, "
                 "not for a drift; after joining, each year is compared with the year before "
                 "joining.")
    if any("event_study" == m for m in [headline, *others]):
        text += (" The event study sets year −1 to 0 (open circle) and measures every other "
                 "year against it.")
    text += " Every region's chart has the same vertical scale."
    return text


def _nan_if_none(value: Any) -> float:
    return math.nan if value is None else float(value)


def _effect_decimals(values: Sequence[float]) -> int:
    """Decimals of raw effect estimates: none for EUR-sized numbers, three for shares/logs."""
    finite = [abs(float(v)) for v in values if charts.is_finite(v)]
    big = max(finite, default=0.0)
    if big >= 1000:
        return 0
    if big >= 100:
        return 1
    return 3


def _chart(spec: dict[str, Any], chart_id: str, caption: str, description: str) -> charts.Chart:
    svg = charts.render_svg(spec, chart_id=chart_id, description=description)
    return charts.Chart(chart_id, caption, description, spec, svg)


def _pooled_label(p: PooledEffect) -> str:
    return f"Lab-wide, {p.n_regions} region{'s' if p.n_regions != 1 else ''}"


def _pooled_frame(pooled: PooledEffect | None, others: Sequence[tuple[str, PooledEffect | None]],
                  robust: Sequence[tuple[str, str]], heads: Sequence[RegionEffect]) -> pd.DataFrame:
    """The lab-wide row of the impact table: the pooled headline estimate, the other
    estimators' pooled estimates in their robustness columns."""
    if pooled is None:
        return pd.DataFrame()
    used = [e for e in heads if e.region in pooled.regions]
    rec: dict[str, Any] = {
        "region": _pooled_label(pooled), "estimate": pooled.estimate,
        "std_error": pooled.std_error, "conf_low": pooled.conf_low,
        "conf_high": pooled.conf_high, "p_value": pooled.p_value,
        "n_firms": sum(int(e.result.n_units) for e in used) if used else math.nan,
        "n_treated": sum(int(e.result.n_treated) for e in used) if used else math.nan,
        "n_clusters": sum(int(e.result.n_clusters) for e in used) if used else math.nan,
        "n_treated_clusters": (sum(treated_clusters(e.result) or 0 for e in used)
                               if used and all(treated_clusters(e.result) is not None
                                               for e in used) else math.nan),
        "notes": (f"I² {fmt_number(100 * pooled.i2, 0)}%; equal effects {fmt_p(pooled.q_p_value)}"
                  if pooled.pooled else (pooled.warnings[0] if pooled.warnings else "")),
    }
    if not pooled.pooled:
        for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
            rec[k] = math.nan
    for (key, _), (_, p) in zip(robust, others):
        ok = p is not None and p.pooled
        rec[key] = p.estimate if ok else math.nan
        rec[f"{key}_low"] = p.conf_low if ok else math.nan
        rec[f"{key}_high"] = p.conf_high if ok else math.nan
    return pd.DataFrame([rec])


def heterogeneity_text(p: PooledEffect) -> str:
    """τ², I² and Cochran's Q test of one pooled effect, as one line."""
    if not p.pooled:
        return p.warnings[0] if p.warnings else "not pooled"
    d = 0 if p.tau2 >= 100 or p.tau2 == 0 else (4 if p.tau2 < 0.01 else 3)
    return (f"τ² = {fmt_number(p.tau2, d)}, I² = {fmt_number(100 * p.i2, 0)}%, Cochran's "
            f"Q = {fmt_number(p.q, 2)} on {p.q_df} df, {fmt_p(p.q_p_value)}")


def _inference_notes(effects: Sequence[RegionEffect]) -> list[str]:
    """Which inference gave the intervals and p-values of a table's estimates."""
    records = [e.inference for e in effects if e.inference]
    used = [r for r in records if r.get("used")]
    if not used:
        return []
    names = " and the ".join(sorted({METHOD_TEXT.get(r["method"], r["method"]) for r in used}))
    which = "every estimate" if len(used) == len(records) else f"{len(used)} of the {len(records)} estimates"
    return [f"Intervals and p-values of {which}: {names}, because fewer than "
            f"{used[0].get('threshold')} consortia hold member firms (analytic clustered "
            "intervals are too narrow then; see Methods). SE: the analytic standard error."]


def _pooled_notes(pooled: PooledEffect | None, others: Sequence[tuple[str, PooledEffect | None]],
                  result: EvaluationResult) -> list[str]:
    notes = []
    names = {r.key: r.name for r in result.regions}
    if pooled is not None:
        if pooled.pooled:
            notes.append(
                "Lab-wide: random-effects meta-analysis of the regions' headline estimates "
                f"({POOL_METHOD_LABELS.get(pooled.method, pooled.method)} τ², weights "
                f"1/(SE² + τ²)); {heterogeneity_text(pooled)} (test that every region has the "
                "same effect). I²: share of the spread between regions beyond sampling error.")
        else:
            notes.append(f"Lab-wide: not pooled: {heterogeneity_text(pooled)}.")
        if pooled.excluded:
            left = "; ".join(f"{names.get(r, r)} ({reason_text(why)})" for r, why in pooled.excluded)
            notes.append(f"Left out of the pooled effect: {left}.")
    for m, p in others:
        label = _method_label(m, result)
        if p is not None and p.pooled:
            notes.append(f"Robustness, {_method_short(m)}: {label}; its lab-wide row pools the "
                         f"regions' estimates the same way ({heterogeneity_text(p)}).")
        elif label != _method_short(m):
            notes.append(f"Robustness, {_method_short(m)}: {label}.")
    return notes


def _robustness_sentences(pooled_others: Sequence[tuple[str, PooledEffect | None]],
                          builder: _Builder) -> list[str]:
    out = []
    for m, p in pooled_others:
        if p is None or not p.pooled:
            continue
        factor, unit, _ = outcome_scale(p.outcome)
        est, lo, hi = (v * factor for v in (p.estimate, p.conf_low, p.conf_high))
        d = effect_decimals(p.outcome, [est, lo, hi])
        out.append(f"Robustness: with {builder.method_label(m)} the lab-wide effect is "
                   f"{fmt_number(est, d, sign=True)} {unit} ({ci_level(p.alpha)} CI "
                   f"{fmt_number(lo, d, sign=True)} to {fmt_number(hi, d, sign=True)}).")
    return out


def _forest(effs: Sequence[RegionEffect], labels: Sequence[str],
            pooled: Sequence[PooledEffect], out_id: str, label: str, ci_label: str, *,
            estimator: str, emphasis: str | None, emphasis_name: str | None,
            specs: dict[str, dict[str, Any]], spec_key: str) -> charts.Chart | None:
    """The forest plot of one outcome (headline estimator only); ``emphasis`` (a region key)
    rings that region's square.

    ``specs`` keeps the plain spec under ``spec_key`` (the outcome): a region page rings its
    region on a copy of it instead of building the chart again.
    """
    heads = [e.result.headline for e in effs]
    pooled_shown = [p for p in pooled if p.pooled]
    all_labels = [*labels, *(_pooled_label(p) for p in pooled_shown)]
    frame = pd.DataFrame({
        "label": all_labels,
        "estimate": [h.estimate for h in heads] + [p.estimate for p in pooled_shown],
        "conf_low": [h.conf_low for h in heads] + [p.conf_low for p in pooled_shown],
        "conf_high": [h.conf_high for h in heads] + [p.conf_high for p in pooled_shown],
        "kind": ["region"] * len(heads) + ["pooled"] * len(pooled_shown),
    })
    if not frame["estimate"].map(charts.is_finite).any():
        return None
    if spec_key not in specs:
        specs[spec_key] = charts.forest_spec(frame, x_title=f"Headline effect with {ci_label}")
    spec = specs[spec_key]
    if emphasis is not None:
        spec = charts.emphasise(spec, [lab for lab, e in zip(all_labels, effs)
                                       if e.region == emphasis])
    chart_id = f"{out_id}-forest"
    caption = f"Headline effect on {label} by region ({estimator}), with {ci_label}."
    if pooled_shown:
        caption += (" The diamond is the lab-wide effect, pooled by random-effects "
                    "meta-analysis (" + "; ".join(heterogeneity_text(p) for p in pooled_shown)
                    + ").")
    if emphasis_name is not None:
        caption += f" The ringed square is {emphasis_name}."
    caption += " The dashed line marks no effect. Other estimators: the robustness columns of the table."
    left_out = [lab for lab, h in zip(all_labels, heads) if not charts.is_finite(h.estimate)]
    if left_out:
        caption += f" Not shown (no estimate): {', '.join(left_out)}."
    description = (f"Forest plot of the headline effect ({estimator}) on {label} with "
                   f"{ci_label} for {', '.join(dict.fromkeys(all_labels[:len(heads)]))}"
                   + (" and the lab-wide pooled effect" if pooled_shown else "")
                   + ". The numbers are in the table above.")
    svg = charts.render_svg(spec, chart_id=chart_id, description=description)
    return charts.Chart(chart_id, caption, description, spec, svg)


def _provenance(result: EvaluationResult, only: RegionInfo | None) -> dict[str, Any]:
    prov = to_jsonable(dict(result.provenance))
    if only is None or not isinstance(prov.get("inputs"), list):
        return prov
    mine = [r for r in prov["inputs"]
            if not isinstance(r, dict) or r.get("region") in (only.key, only.name)]
    return {**prov, "inputs": mine}


_ESTIMATOR_TEXT = {
    "callaway_santanna": (
        "A separate 2×2 comparison for each cohort of joiners (the year "
        "they joined) and each year, against never-members (or members not yet joined, as "
        "configured), combined with a doubly robust estimator; firms that have already "
        "joined never serve as controls, so effects that differ by cohort or grow over time "
        "do not bias it. The cohort-year effects are then averaged: over every post-joining "
        "cohort-year, weighted by cohort size (the headline), and by years since joining "
        "(the event study). Before joining, each year is compared with the year before "
        "(varying base period)."
    ),
    "sun_abraham": (
        "An event-study regression with cohort-specific event-time effects "
        "(interaction-weighted), averaged with the cohorts' shares; robust to effects that "
        "differ between cohorts."
    ),
    "event_study": (
        "A two-way fixed-effects regression (firm and year effects) of the outcome "
        "on indicators for each year relative to joining, with never-members as the comparison "
        "group. Event time −1, the year before joining, is the reference and is 0 by "
        "construction."
    ),
    "twfe": "Two-way fixed-effects difference-in-differences (firm and year effects) with an "
            "indicator for years after joining.",
    "did_2x2": "A 2×2 difference in differences: the change in members' mean outcome from "
               "before to after joining, minus the same change for never-members.",
}
_HEADLINE_TEXT = {
    "callaway_santanna": "For Callaway–Sant'Anna, the headline number is the simple "
                         "aggregation: the average of all post-joining cohort-year effects, "
                         "weighted by cohort size (the average effect on members, ATT).",
    "event_study": "For the event study, the headline number is the average of the effects in "
                   "the years from joining onwards (event time 0 and later), weighted by the "
                   "number of treated firm-years behind each.",
    "twfe": "For TWFE, the headline number is the coefficient on the after-joining indicator "
            "(the average effect on members, ATT).",
    "did_2x2": "For the 2×2 design, the headline number is the difference in differences itself "
               "(the average effect on members, ATT).",
}
_CAVEATS = (
    "Parallel trends: without the programme, members' outcomes would have moved like "
    "never-members'. The event-time estimates before joining are a check on this; estimates far "
    "from zero before joining are a warning sign.",
    "No spillovers: never-members are assumed not to be affected by their neighbours joining "
    "(for example through shared export orders or competition).",
    "No anticipation: firms are assumed not to change their exporting in the years before they "
    "join because they expect to join.",
    "The event study is a two-way fixed-effects regression with never-members as controls. When "
    "firms join in different years and the effect differs between those cohorts, its "
    "coefficients can mix effects from different years since joining; it is shown as a "
    "robustness check next to the headline Callaway–Sant'Anna estimate, which avoids that "
    "problem. The Goodman-Bacon decomposition under Diagnostics shows how much a static TWFE "
    "leans on such comparisons.",
    "Few treated consortia: treatment is set by consortium and each region has only a handful "
    "of them, so cluster-robust standard errors, intervals and tests (the pre-trend test "
    "included) are likely too optimistic.",
    "Comparing regions: each region is estimated separately on its own data; differences "
    "between regions mix programme design, data sources and the kinds of firm that joined, so "
    "they are not by themselves evidence that one programme works better.",
)


def _synthesis_text(result: EvaluationResult) -> tuple[str, ...]:
    syn = result.synthesis
    if syn is None or not syn.pooled:
        return ()
    method = POOL_METHOD_LABELS.get(syn.method, syn.method)
    alpha = result.settings.get("alpha", 0.05)
    return (
        "The lab-wide effect pools the regions' headline estimates by a random-effects "
        "meta-analysis: each region is taken to have its own true effect, spread around a "
        "lab-wide mean with between-region variance τ² (estimated by the "
        f"{method} method). Each region's weight is 1/(SE² + τ²), so precise estimates count "
        "more, but less so the more the regions differ.",
        f"Its interval is a normal-theory {ci_level(alpha)} interval. Cochran's Q tests whether "
        "every region has the same effect (a chi-squared test with one degree of freedom fewer "
        "than the number of regions); I² = max(0, (Q − df)/Q) is the share of the spread "
        "between regions' estimates that is more than sampling error. With few regions both "
        "τ² and the test are imprecise. A region whose interval comes from the few-cluster "
        "method enters with the standard error that interval implies ((upper − lower) / "
        "(2 × 1.96) for a 95% interval) when it is larger than the analytic one, so the pooled "
        "interval carries the few-cluster correction too.",
        "Regions without an estimate, or whose estimate has no standard error, are left out and "
        "named under the impact table.",
    )


def _methods(result: EvaluationResult) -> MethodsNote:
    methods = list(dict.fromkeys(e.result.method for e in result.effects))
    headline = result.settings.get("headline_estimator")
    methods.sort(key=lambda m: m != headline)  # stable: the headline estimator first
    estimators = tuple(
        ("Headline. " if m == headline else ("Robustness. " if headline in methods else ""))
        + f"{_method_label(m, result)}. "
        + _ESTIMATOR_TEXT.get(m, "See the estimator's documentation.") for m in methods)
    headline_text = tuple(_HEADLINE_TEXT[m] for m in methods if m in _HEADLINE_TEXT)
    clustering = tuple(dict.fromkeys(str(e.result.vcov_type) for e in result.effects))
    ci = _ci_label(e.result.alpha for e in result.effects) if result.effects else "CI"
    inference = (f"Intervals are {ci}s with standard errors clustered as listed; p-values are "
                 "two-sided and apply to each estimate on its own, with no correction for "
                 "testing many regions, outcomes or years.")
    records = [e.inference for e in result.effects if e.inference]
    used = [r for r in records if r.get("used")]
    if used:
        threshold = used[0].get("threshold")
        names = sorted({METHOD_TEXT.get(r["method"], r["method"]) for r in used})
        draws = sorted({int(r["draws"]) for r in used if r.get("draws")})
        counts = [int(r["n_treated_clusters"]) for r in used if r.get("n_treated_clusters") is not None]
        span = (f" (here {min(counts)} to {max(counts)})" if counts and min(counts) != max(counts)
                else f" (here {counts[0]})" if counts else "")
        n_draws = ("all" if not draws else f"{draws[0]:,}" if len(draws) == 1
                   else f"{draws[0]:,} to {draws[-1]:,}")
        configured = used[0].get("draws_configured")
        target = used[0].get("mc_target")
        mc = [r["monte_carlo"] for r in used if r.get("monte_carlo")]
        mc_p = [float(m["p_value"]) for m in mc if m.get("p_value") is not None]
        mc_text = ""
        if mc:
            patterns = max(int(m.get("sign_patterns") or 1) for m in mc)
            missed = sum(1 for m in mc if m.get("target_met") is False)
            signs = (f" Each draw is evaluated at all {patterns} sign patterns of the weights of "
                     f"the {patterns.bit_length() - 1} most influential consortia (conditional "
                     "Monte Carlo: the same bootstrap p-value with a much smaller simulation "
                     "error)." if patterns > 1 else "")
            added = (signs + f" Draws are added (from {configured:,}) until the Monte Carlo "
                     f"standard error of each bound is at most {target:.1%} of the interval's "
                     "width, so that changing only the seed moves a bound by a small fraction "
                     "of the width"
                     + (f" (not reached within the draw budget for {missed} estimates, whose "
                        "errors are larger);" if missed else ";")
                     if target and configured else
                     signs + " The bootstrap's own (Monte Carlo) error is reported, not "
                     "reduced: with these draws a changed seed can move a bound by several "
                     "percent of the interval's width (estimation.bootstrap_mc_target adds "
                     "draws until it cannot);")
            mc_text = (added
                       + (f" the Monte Carlo standard error of the p-values is at most "
                          f"{max(mc_p):.2g}, and" if mc_p else "")
                       + " each estimate's Monte Carlo errors of its p-value and bounds are in "
                       "results.json (headline_inference.monte_carlo).")
        inference += (
            f" Few treated consortia: where fewer than {threshold} consortia hold member firms"
            f"{span}, analytic clustered intervals are too narrow, so the headline p-value and "
            f"interval of {len(used)} of the {len(records)} estimates come from the "
            f"{' and the '.join(names)} (Webb weights, {n_draws} draws, seed "
            f"{used[0].get('seed', 0)}): the p-value compares the observed t statistic (estimate "
            "over its CRV1 standard error clustered by consortium) with its bootstrap "
            "distribution, and the interval collects the effects that test does not reject "
            "(test inversion), so it need not be symmetric around the estimate and is not the "
            "estimate plus or minus a multiple of the standard error. The standard error and "
            "statistic shown are that CRV1 standard error and that t (for Callaway–Sant'Anna, "
            "those of the aggregate's regression form, which the bootstrap resamples); "
            "results.json says which method each number comes from "
            "(headline_inference.inference). The yearly event-study intervals in the charts stay "
            f"analytic and are therefore too narrow.{mc_text} In a "
            "simulation with 3 to 40 treated consortia (11 designs, 1,000 replications each) "
            "the 95% intervals of the Callaway–Sant'Anna headline covered the true effect "
            "93–96% of the time, analytic ones as little as 73% with 3 treated consortia "
            "(studies/COVERAGE.md in the policylab repository). The analytic standard errors, "
            "intervals and p-values are kept in results.json (headline_inference.analytic).")
    comparison = ("Never-members: firms in the same region that never joined a consortium during "
                  "the period observed. Each region is compared only with its own never-members.")
    if result.settings.get("comparison_group") not in (None, "never members"):
        comparison += (f" This run compares with {result.settings['comparison_group']} "
                       "(Callaway–Sant'Anna's control group).")
    return MethodsNote(estimators, comparison, clustering, headline_text, inference,
                       _synthesis_text(result), _CAVEATS, to_jsonable(dict(result.settings)))


# --------------------------------------------------------------------------- entry point

def build_report(result: EvaluationResult, *, timestamp: str | None = None,
                 region_pages: bool = True) -> ReportModel:
    """Build every page of the report (tables, charts, texts) from ``result``.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to report on.
    timestamp : str, optional
        When the report was generated, shown once per page (in the footer). None (the
        default) keeps the output free of anything that changes from run to run.
    region_pages : bool
        Build the region pages too (default); False builds the overview page alone (its
        navigation still links to the region pages' paths).

    Returns
    -------
    ReportModel
        Frozen data ready for :func:`policylab.report.html.render_pages`: the overview page
        first, then one page per region in the lab's order.
    """
    if not isinstance(result, EvaluationResult):
        raise TypeError(f"build_report expects an EvaluationResult, got {type(result).__name__}")
    builder = _Builder(result)
    pages = [builder.page(None)]
    if region_pages:
        pages += [builder.page(info) for info in result.regions]
    return ReportModel(
        version=__version__,
        lab_name=result.lab_name,
        lab_description=result.lab_description,
        caveat=CAVEAT,
        min_cell_firms=result.settings.get("min_cell_firms"),
        timestamp=timestamp,
        pages=tuple(pages),
    )
