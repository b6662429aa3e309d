"""Stage 1 of the report: turn an :class:`EvaluationResult` into a :class:`ReportModel`.

The model is plain frozen data: one :class:`Page` for the comparative overview
(``index.html``) and one per region (``regions/<nuts2>.html``), each with the same sections
(:data:`SECTIONS`) holding texts, ids, chart specs with their rendered SVG, and table HTML
from great_tables. Stage 2 (:mod:`policylab.report.html`) only pours each page into the jinja2
template. Tests can check the model as data (which charts exist, what a spec encodes, which
numbers a summary shows) without scraping HTML.

Every fragment of markup in the model (``Markup``, :class:`~policylab.report.tables.Table`)
was produced by code in this package (great_tables or vl-convert output, both of which escape
the user strings they contain); everything else is plain text that the template escapes.
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
from ..evaluation import EvaluationResult, RegionEffect, RegionInfo
from ..synthesis import METHOD_LABELS as POOL_METHOD_LABELS
from ..synthesis import PooledEffect, Synthesis
from . import charts, tables
from ._indicators import CUMULATIVE, period_sort_key, region_rows, sorted_indicators
from ._overview import (
    HEADLINE_INDICATORS,
    ContextRow,
    RegionSummary,
    ci_level,
    context_rows,
    data_quality_row,
    fmt_number,
    fmt_p,
    headline_outcome,
    pooled_sentences,
    reason_text,
    region_summary,
)
from ._serialize import to_jsonable

__all__ = [
    "SECTIONS",
    "Context",
    "EventStudyPanel",
    "MethodsNote",
    "NavItem",
    "OutcomeImpact",
    "Page",
    "RegionDashboard",
    "ReportModel",
    "Section",
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
    Section("impact", "Impact estimates", "sections/impact.html.j2"),
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
    pooled: tuple[PooledEffect, ...]
    lab_sentences: tuple[str, ...]
    notes: tuple[tuple[str, tuple[str, ...]], ...]  # (region name, that region's notes)


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
    methods: MethodsNote
    data_quality: tables.Table | None
    data_quality_rows: int
    provenance: dict[str, Any]
    table_css: tuple[str, ...]  # every distinct great_tables stylesheet the page uses

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


def _outcome_label(outcome: str) -> str:
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


def _method_label(method: str) -> str:
    return tables.METHOD_LABELS.get(method, method)


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
        self.paths = region_paths(result.regions)
        self.min_cell = result.settings.get("min_cell_firms", "the minimum number of")
        self.methods = _methods(result)
        periods = {str(p) for p in self.table["period"].dropna()}
        years = sorted((p for p in periods if period_sort_key(p)[0] == 0), key=period_sort_key)
        self.years = tuple(years[-DASHBOARD_YEARS:])
        self._dashboards: dict[str, RegionDashboard] = {}
        self._panels: dict[tuple[str, int], EventStudyPanel] = {}  # (outcome, effect index)
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
        impacts = self._impacts(ids, only)
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
        contents = _contents(SECTIONS, dashboards if only is None else (), impacts)
        page = Page(
            path=path, kind="index" if only is None else "region",
            region=None if only is None else only.key, root=root, title=title, heading=heading,
            kicker=kicker, meta=meta, sections=SECTIONS, contents=contents, site_nav=site_nav,
            summary=summary, context=context, warnings=_warnings(result, keys if only else None),
            dashboards=dashboards, dashboard_years=self.years, impacts=impacts,
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
            for p in self._headline_pooled():
                out += pooled_sentences(p, self.result)
            self._lab_sentences = tuple(out)
        return self._lab_sentences

    def _headline_pooled(self) -> list[PooledEffect]:
        """One pooled effect per outcome: the headline estimator's, else the first."""
        if self.synthesis is None:
            return []
        preferred = self.result.settings.get("headline_estimator")
        chosen: dict[str, PooledEffect] = {}
        for p in self.synthesis.pooled:
            if p.outcome not in chosen or (p.estimator == preferred
                                           and chosen[p.outcome].estimator != preferred):
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
                f"Consortia active and exporting firms: latest year ({when}). Monitoring "
                "figures are gross numbers from programme records; the effect is a net "
                "estimate against never-members (see Impact estimates).")

    def _summary_table(self, regions: tuple[RegionSummary, ...], ids: _Ids,
                       ci: str) -> tables.Table:
        effect_label = regions[0].figures[-1].label
        columns = [tables.Column(s.key, s.label, s.kind, s.spanner) for s in HEADLINE_INDICATORS]
        columns.append(tables.Column("effect", f"{effect_label} [{ci}]", "effect",
                                     "Estimated effect"))
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
             "period": "after joining" if f.kind == "effect" else f.period,
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
        result = self.result
        tidy = result.effects_tidy()
        outcomes = list(dict.fromkeys(e.outcome for e in result.effects))
        rank = {info.key: i for i, info in enumerate(result.regions)}
        out = []
        for outcome in outcomes:
            idx = [i for i, e in enumerate(result.effects) if e.outcome == outcome]
            idx.sort(key=lambda i: rank.get(result.effects[i].region, len(rank)))  # stable
            effs = [result.effects[i] for i in idx]
            names = [result.region(e.region).name for e in effs]
            repeated = {n for n in names if names.count(n) > 1}
            labels = [f"{n} · {_method_label(e.result.method)}" if n in repeated else n
                      for n, e in zip(names, effs)]
            label = _outcome_label(outcome)
            ci_label = _ci_label(e.result.alpha for e in effs)
            out_id = ids.make("impact", outcome)
            pooled = self._pooled_for(outcome, effs)
            mine = [j for j, e in enumerate(effs) if only is None or e.region == only.key]
            rows = tidy.iloc[[idx[j] for j in mine]].reset_index(drop=True)
            rows["region"] = [labels[j] for j in mine]
            rows["notes"] = [f"{len(effs[j].result.warnings)} (listed below)"
                             if effs[j].result.warnings else "" for j in mine]
            table = tables.impact_table(
                rows, table_id=f"{out_id}-table", ci_label=ci_label,
                pooled=_pooled_rows(pooled, effs), pooled_notes=_pooled_notes(pooled, result))
            forest = _forest(effs, labels, pooled, out_id, label, ci_label,
                             emphasis=None if only is None else only.key,
                             emphasis_name=None if only is None else only.name,
                             specs=self._forest_specs, spec_key=outcome)
            panels = self._event_studies(outcome, effs, labels, idx, out_id, label, ci_label,
                                         mine, ids)
            sentences: list[str] = []
            for p in pooled:
                sentences += pooled_sentences(p, result)
            notes = tuple((labels[j], tuple(str(w) for w in effs[j].result.warnings))
                          for j in mine if effs[j].result.warnings)
            out.append(OutcomeImpact(out_id, outcome, label, ci_label, table, forest, panels,
                                     tuple(pooled), tuple(sentences), notes))
        return tuple(out)

    def _pooled_for(self, outcome: str, effs: list[RegionEffect]) -> list[PooledEffect]:
        if self.synthesis is None:
            return []
        methods = list(dict.fromkeys(e.result.method for e in effs))
        return [p for m in methods for p in self.synthesis.pooled
                if p.outcome == outcome and p.estimator == m]

    def _event_studies(self, outcome: str, effs: list[RegionEffect], labels: list[str],
                       idx: list[int], out_id: str, label: str, ci_label: str, mine: list[int],
                       ids: _Ids) -> tuple[EventStudyPanel, ...]:
        if not all((outcome, idx[j]) in self._panels for j in mine):
            self._build_event_studies(outcome, effs, labels, idx, out_id, label, ci_label)
        panels = tuple(self._panels[(outcome, idx[j])] for j in mine)
        for p in panels:
            ids.reserve(p.id)
        return panels

    def _build_event_studies(self, outcome: str, effs: list[RegionEffect], labels: list[str],
                             idx: list[int], out_id: str, label: str, ci_label: str) -> None:
        """Every region's event study of one outcome, on one shared vertical scale."""
        frames = [charts.event_study_frame(e.result.tidy()) for e in effs]
        finite = [f.loc[f["estimate"].map(charts.is_finite)] for f in frames]
        nonempty = [f for f in finite if len(f)]
        y_domain = x_domain = None
        if nonempty:
            allpts = pd.concat(nonempty, ignore_index=True)
            y_domain = charts.value_domain(list(allpts["conf_low"]) + list(allpts["estimate"]),
                                           list(allpts["conf_high"]) + list(allpts["estimate"]))
            x_domain = (int(allpts["event_time"].min()), int(allpts["event_time"].max()))
        ids = _Ids()
        for j, (eff, name, points, pts) in enumerate(zip(effs, labels, frames, finite)):
            panel_id = ids.make(out_id + "-es", eff.region, eff.result.method)
            method = _method_label(eff.result.method)
            if not len(pts):
                panel = EventStudyPanel(panel_id, eff.region, name, method, None, None,
                                        f"{method} has no event-time estimates.")
            else:
                spec = charts.event_study_spec(points, y_title="Effect relative to year −1",
                                               y_domain=y_domain, x_domain=x_domain)
                caption = (f"{name}: effect on {label} by years since joining, with {ci_label} "
                           "(open circle: reference year −1, set to 0).")
                first, last = int(pts["event_time"].min()), int(pts["event_time"].max())
                description = (f"Event-study chart for {name}, outcome {label}: estimates with "
                               f"{ci_label} for event times {first} to {last}; year −1 is the "
                               "reference. The numbers are in the table below the chart.")
                svg = charts.render_svg(spec, chart_id=panel_id, description=description)
                chart = charts.Chart(panel_id, caption, description, spec, svg)
                table = tables.event_study_table(points, table_id=f"{panel_id}-table",
                                                 ci_label=ci_label)
                panel = EventStudyPanel(panel_id, eff.region, name, method, chart, table, "")
            self._panels[(outcome, idx[j])] = panel

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
              impacts: Sequence[OutcomeImpact]) -> tuple[NavItem, ...]:
    children = {
        "dashboard": tuple(NavItem(d.id, d.name) for d in dashboards),
        "impact": tuple(NavItem(o.id, o.label) for o in impacts),
    }
    return tuple(NavItem(s.id, s.title, children.get(s.id, ())) for s in sections)


def _warnings(result: EvaluationResult, keys: Sequence[str] | None) -> tuple[WarningItem, ...]:
    items = [WarningItem("Lab", str(w)) for w in result.warnings]
    for eff in result.effects:
        if keys is not None and eff.region not in keys:
            continue
        region = result.region(eff.region).name
        for w in eff.result.warnings:
            items.append(WarningItem(_outcome_label(eff.outcome), str(w), group=region))
    return tuple(items)


def _pooled_label(p: PooledEffect, several: bool) -> str:
    base = f"Lab-wide, {p.n_regions} regions"
    return f"{base} · {_method_label(p.estimator)}" if several else base


def _pooled_rows(pooled: Sequence[PooledEffect], effs: Sequence[RegionEffect]) -> pd.DataFrame:
    several = len(pooled) > 1
    rows = []
    for p in pooled:
        used = [e for e in effs if e.result.method == p.estimator and e.region in p.regions]
        rows.append({
            "region": _pooled_label(p, several),
            "method": f"Random effects ({POOL_METHOD_LABELS.get(p.method, p.method)})",
            "estimate": p.estimate, "std_error": p.std_error, "conf_low": p.conf_low,
            "conf_high": p.conf_high, "p_value": p.p_value,
            "n_firms": sum(int(e.result.n_units) for e in used) if used else math.nan,
            "n_treated": sum(int(e.result.n_treated) for e in used) if used else math.nan,
            "n_clusters": sum(int(e.result.n_clusters) for e in used) if used else math.nan,
            "notes": (f"I² {fmt_number(100 * p.i2, 0)}%; equal effects {fmt_p(p.q_p_value)}"
                      if p.pooled else (p.warnings[0] if p.warnings else "")),
        })
    return pd.DataFrame(rows, columns=["region", "method", "estimate", "std_error", "conf_low",
                                       "conf_high", "p_value", "n_firms", "n_treated",
                                       "n_clusters", "notes"])


def heterogeneity_text(p: PooledEffect) -> str:
    """τ², I² and Cochran's Q test of one pooled effect, as one line."""
    if not p.pooled:
        return p.warnings[0] if p.warnings else "not pooled"
    d = 4 if p.tau2 < 0.01 else 3
    return (f"τ² = {fmt_number(p.tau2, d)}, I² = {fmt_number(100 * p.i2, 0)}%, Cochran's "
            f"Q = {fmt_number(p.q, 2)} on {p.q_df} df, {fmt_p(p.q_p_value)}")


def _pooled_notes(pooled: Sequence[PooledEffect], result: EvaluationResult) -> list[str]:
    notes = []
    names = {r.key: r.name for r in result.regions}
    for p in pooled:
        what = f" ({_method_label(p.estimator)})" if len(pooled) > 1 else ""
        if p.pooled:
            notes.append(
                f"Lab-wide{what}: random-effects meta-analysis of the regions' headline "
                f"estimates ({POOL_METHOD_LABELS.get(p.method, p.method)} τ², weights "
                f"1/(SE² + τ²)); {heterogeneity_text(p)} (test that every region has the same "
                "effect). I²: share of the spread between regions beyond sampling error.")
        else:
            notes.append(f"Lab-wide{what}: not pooled: {heterogeneity_text(p)}.")
        if p.excluded:
            left = "; ".join(f"{names.get(r, r)} ({reason_text(why)})" for r, why in p.excluded)
            notes.append(f"Left out of the pooled effect: {left}.")
    return notes


def _unique(labels: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        n = seen.get(lab, 0)
        seen[lab] = n + 1
        out.append(lab if n == 0 else f"{lab} ({n + 1})")
    return out


def _forest(effs: Sequence[RegionEffect], labels: Sequence[str],
            pooled: Sequence[PooledEffect], out_id: str, label: str, ci_label: str, *,
            emphasis: str | None, emphasis_name: str | None,
            specs: dict[str, dict[str, Any]], spec_key: str) -> charts.Chart | None:
    """The forest plot of one outcome; ``emphasis`` (a region key) rings that region's square.

    ``specs`` keeps the plain spec under ``spec_key`` (the outcome): a region page rings its
    region on a copy of it instead of building the chart again.
    """
    heads = [e.result.headline for e in effs]
    several = len(pooled) > 1
    pooled_shown = [p for p in pooled if p.pooled]
    all_labels = _unique([*labels, *(_pooled_label(p, several) for p in pooled_shown)])
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
    caption = f"Headline effect on {label} by region, with {ci_label}."
    if pooled_shown:
        caption += (" The diamond is the lab-wide effect, pooled by random-effects "
                    "meta-analysis (" + "; ".join(heterogeneity_text(p) for p in pooled_shown)
                    + ").")
    if emphasis_name is not None:
        caption += f" The ringed square is {emphasis_name}."
    caption += " The dashed line marks no effect."
    n_regions = len(heads)
    left_out = [lab for lab, h in zip(all_labels[:n_regions], heads)
                if not charts.is_finite(h.estimate)]
    if left_out:
        caption += f" Not shown (no estimate): {', '.join(left_out)}."
    description = (f"Forest plot of the headline effect on {label} with {ci_label} for "
                   f"{', '.join(dict.fromkeys(all_labels[:n_regions]))}"
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
    "event_study": (
        "Event study: a two-way fixed-effects regression (firm and year effects) of the outcome "
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
    "coefficients can mix effects from different years since joining. Estimators that are "
    "robust to such heterogeneity (Callaway–Sant'Anna, Sun–Abraham) will follow in a later "
    "version.",
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
        "τ² and the test are imprecise, and the pooled interval inherits any understatement in "
        "the regions' own intervals (few treated consortia).",
        "Regions without an estimate, or whose estimate has no standard error, are left out and "
        "named under the impact table.",
    )


def _methods(result: EvaluationResult) -> MethodsNote:
    methods = list(dict.fromkeys(e.result.method for e in result.effects))
    estimators = tuple(_ESTIMATOR_TEXT.get(m, f"{m}: see the estimator's documentation.")
                       for m in methods)
    headline = tuple(_HEADLINE_TEXT[m] for m in methods if m in _HEADLINE_TEXT)
    clustering = tuple(dict.fromkeys(str(e.result.vcov_type) for e in result.effects))
    ci = _ci_label(e.result.alpha for e in result.effects) if result.effects else "CI"
    inference = (f"Intervals are {ci}s with standard errors clustered as listed; p-values are "
                 "two-sided and apply to each estimate on its own, with no correction for "
                 "testing many regions, outcomes or years.")
    comparison = ("Never-members: firms in the same region that never joined a consortium during "
                  "the period observed. Each region is compared only with its own never-members.")
    return MethodsNote(estimators, comparison, clustering, headline, inference,
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
