"""Stage 1 of the report: turn an :class:`EvaluationResult` into a :class:`ReportModel`.

The model is plain frozen data: one :class:`Page` for the comparative overview
(``index.html``) and one per region (``regions/<nuts2>.html``), each with the same sections
(:data:`SECTIONS`) holding texts, ids, chart specs with their rendered SVG, and table HTML
(:mod:`policylab.report.tables`). Stage 2 (:mod:`policylab.report.html`) only pours each page
into the jinja2 template. Tests can check the model as data (which charts exist, what a spec
encodes, which numbers a summary shows) without scraping HTML.

This module holds the model and the builder that assembles each page; each part of a page is
built in its own module: the summary and context (``_summary``), the indicator dashboard
(``_dashboard``), the monitoring sections (``_monitoring``), the impact estimates
(``_impact``), the diagnostics (``_diagnostics``), the methods text (``_methods``), the
warnings, data quality and provenance (``_records``), and the pages' paths, headers and
navigation (``_pages``). Ids and labels they share are in ``_labels``.

Every fragment of markup in the model (``Markup``, :class:`~policylab.report.tables.Table`)
was produced by code in this package (the tables' and the charts' writers, both of which
escape the user strings they contain); everything else is plain text that the template escapes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..evaluation import EvaluationResult, RegionInfo
from . import charts, tables
from ._answer import OutcomeAnswer, answers
from ._blocks import Block, Detail, IndicatorIndex, SectionBody
from ._dashboard import Dashboards, RegionDashboard
from ._diagnostics import diagnostics as _diagnostics_section
from ._impact import EventStudyPanel, ImpactBuilder, OutcomeImpact
from ._indicators import sorted_indicators
from ._labels import _Ids
from ._methods import CAVEAT, MethodsNote, methods_note
from ._lab_half import network, shown, voice
from ._common import common_section as _common_section
from ._common import shown as _common_shown
from ._margins import margins as _margins_section
from ._margins import shown as _margins_shown
from ._monitoring import Ctx, cost_effectiveness, life_cycle, orders
from ._pages import INDEX_PATH, REGIONS_DIR, SiteLink, page_header, region_paths, site_nav
from ._records import (
    WarningItem,
    WarningKind,
    data_quality,
    provenance,
    warning_items,
    warning_kinds,
)
from ._summary import Context, Summary, SummaryBuilder

__all__ = [
    "INDEX_PATH",
    "REGIONS_DIR",
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
    Section("margins", "Export margins", "sections/blocks.html.j2"),
    Section("diagnostics", "Diagnostics", "sections/blocks.html.j2"),
    Section("cost-effectiveness", "Cost-effectiveness", "sections/blocks.html.j2"),
    Section("network", "Network and practice transfer", "sections/blocks.html.j2"),
    Section("voice", "Voice of the SMEs", "sections/blocks.html.j2"),
    Section("common", "EU common indicators", "sections/blocks.html.j2"),
    Section("warnings", "Warnings", "sections/warnings.html.j2"),
    Section("methods", "Methods and caveats", "sections/methods.html.j2"),
    Section("data-quality", "Data quality", "sections/data_quality.html.j2"),
    Section("provenance", "Provenance", "sections/provenance.html.j2"),
)

#: Ids the page layout uses besides the sections'.
LAYOUT_IDS = ("report-header", "site-nav", "contents", "report-footer")


@dataclass(frozen=True)
class NavItem:
    id: str
    title: str
    children: tuple[NavItem, ...] = ()


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
    answers: tuple[OutcomeAnswer, ...] = ()  # the first screen of the overview page
    network: SectionBody = SectionBody((), ())  # shown when the lab gave its inputs
    voice: SectionBody = SectionBody((), ())
    margins: SectionBody = SectionBody((), ())  # shown when some region has export margins
    common: SectionBody = SectionBody((), ())  # shown when the run computed them

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

    @property
    def warning_kinds(self) -> tuple[WarningKind, ...]:
        """The estimators' notes, one line per kind (the full list is in results.json)."""
        return warning_kinds(self.warnings)

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
                "diagnostics": self.diagnostics, "cost-effectiveness": self.costs,
                "network": self.network, "voice": self.voice,
                "margins": self.margins, "common": self.common}[section_id]


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


# --------------------------------------------------------------------------- page assembly

def _page_ids() -> _Ids:
    # reserve, so no generated id can collide with a section or layout id
    return _Ids([*(s.id for s in SECTIONS), *(f"{s.id}-title" for s in SECTIONS), *LAYOUT_IDS])


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
    """Builds each page from its parts; the parts keep what pages share (dashboards, event
    studies, the lab-wide sentences) to build it once."""

    def __init__(self, result: EvaluationResult) -> None:
        self.result = result
        table = sorted_indicators(result)
        self.cells = IndicatorIndex(table, result)
        self.paths = region_paths(result.regions)
        self.min_cell = result.settings.get("min_cell_firms", "the minimum number of")
        self.methods = methods_note(result)
        headline: str | None = result.settings.get("headline_estimator") or (
            result.effects[0].result.method if result.effects else None)
        self.summaries = SummaryBuilder(result, table, self.paths, self.min_cell, headline)
        self.dashboards = Dashboards(result, table, self.min_cell)
        self.impacts = ImpactBuilder(result, headline)
        self.headline = headline

    def page(self, only: RegionInfo | None) -> Page:
        result = self.result
        infos = list(result.regions) if only is None else [only]
        keys = [i.key for i in infos]
        ids = _page_ids()
        path = INDEX_PATH if only is None else self.paths[only.key]
        root = "" if only is None else "../" * path.count("/")
        summary = self.summaries.summary(infos, ids, root, single=only is not None)
        context = self.summaries.context(infos, ids)
        dashboards = tuple(self.dashboards.get(info) for info in infos)
        for d in dashboards:
            ids.reserve(d.id)
        ctx = Ctx(result, self.cells, self.min_cell, only, ids)
        life = life_cycle(ctx)
        order_body = orders(ctx)
        impacts = self.impacts.impacts(ids, only)
        diag = _diagnostics_section(ctx)
        costs = cost_effectiveness(ctx)
        net = network(ctx) if shown(result, "network") else SectionBody((), ())
        heard = voice(ctx) if shown(result, "voice") else SectionBody((), ())
        with_margins = _margins_shown(result)
        marg = _margins_section(ctx) if with_margins else SectionBody((), ())
        with_common = _common_shown(result)
        eu = _common_section(ctx) if with_common else SectionBody((), ())
        sections = tuple(s for s in SECTIONS
                         if (s.id not in ("network", "voice") or shown(result, s.id))
                         and (s.id != "margins" or with_margins)
                         and (s.id != "common" or with_common))
        dq_html, dq_rows = data_quality(result, infos)
        title, heading, kicker, meta = page_header(result, only)
        contents = _contents(sections, dashboards if only is None else (), impacts,
                             {"life-cycle": life, "orders": order_body, "diagnostics": diag,
                              "cost-effectiveness": costs, "network": net, "voice": heard,
                              "margins": marg, "common": eu})
        page = Page(
            path=path, kind="index" if only is None else "region",
            region=None if only is None else only.key, root=root, title=title, heading=heading,
            kicker=kicker, meta=meta, sections=sections, contents=contents,
            site_nav=site_nav(result, self.paths, root, only), summary=summary,
            context=context, warnings=warning_items(result, keys if only else None),
            dashboards=dashboards, dashboard_years=self.dashboards.years, impacts=impacts,
            life_cycle=life, orders=order_body, diagnostics=diag, costs=costs,
            methods=self.methods, data_quality=dq_html, data_quality_rows=dq_rows,
            provenance=provenance(result, only), table_css=(),
            answers=answers(result, self.paths, self.headline) if only is None else (),
            network=net, voice=heard, margins=marg, common=eu,
        )
        found: dict[str, str] = {}
        _collect_tables(page, found)
        return dataclasses.replace(page, table_css=tuple(found[k] for k in sorted(found)))


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
