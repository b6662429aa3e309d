"""Stage 1 of the report: turn an :class:`EvaluationResult` into a :class:`ReportModel`.

The model is plain frozen data: texts, ids, chart specs with their rendered SVG, and table
HTML from great_tables. Stage 2 (:mod:`policylab.report.html`) only pours it into the jinja2
template. Tests can check the model as data (which charts exist, what a spec encodes) without
scraping HTML.

Every fragment of markup in the model (``Markup``) was produced by code in this package
(great_tables or vl-convert output, both of which escape the user strings they contain);
everything else is plain text that the template escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup

from .._version import __version__
from ..evaluation import EvaluationResult, RegionEffect
from . import charts, tables
from ._indicators import CUMULATIVE, period_sort_key, region_rows, sorted_indicators
from ._serialize import to_jsonable

__all__ = [
    "SECTIONS",
    "EventStudyPanel",
    "MethodsNote",
    "OutcomeImpact",
    "RegionDashboard",
    "ReportModel",
    "Section",
    "WarningItem",
    "build_report",
]

#: How many of the latest years the dashboard shows (the CSV has them all).
DASHBOARD_YEARS = 6

CAVEAT = (
    "These figures compare firms that joined an export consortium with similar firms in the "
    "same region that never joined. The effects are estimates with a margin of error, not "
    "exact measurements, and they rest on assumptions explained under Methods. Regions differ "
    "in their data and in how their programmes work, so compare them with care."
)


@dataclass(frozen=True)
class Section:
    """One top-level section: its stable ``id`` (the anchor), title and template file."""

    id: str
    title: str
    template: str


#: The report's sections in page order. A new section is one entry here plus one template.
SECTIONS: tuple[Section, ...] = (
    Section("warnings", "Warnings", "sections/warnings.html.j2"),
    Section("dashboard", "Indicator dashboard", "sections/dashboard.html.j2"),
    Section("impact", "Impact estimates", "sections/impact.html.j2"),
    Section("methods", "Methods and caveats", "sections/methods.html.j2"),
    Section("data-quality", "Data quality", "sections/data_quality.html.j2"),
    Section("provenance", "Provenance", "sections/provenance.html.j2"),
)


@dataclass(frozen=True)
class WarningItem:
    source: str
    text: str
    group: str = "Lab"  # "Lab" or the region's display name


@dataclass(frozen=True)
class RegionDashboard:
    id: str
    name: str
    nuts2: str
    country: str
    programme: str
    currency: str
    table: Markup | None
    n_suppressed: int
    note: str


@dataclass(frozen=True)
class EventStudyPanel:
    id: str
    region: str
    method: str
    chart: charts.Chart | None
    table: Markup | None
    note: str


@dataclass(frozen=True)
class OutcomeImpact:
    id: str
    outcome: str
    label: str
    ci_label: str
    table: Markup
    forest: charts.Chart | None
    event_studies: tuple[EventStudyPanel, ...]


@dataclass(frozen=True)
class MethodsNote:
    estimators: tuple[str, ...]
    comparison: str
    clustering: tuple[str, ...]
    headline: tuple[str, ...]
    inference: str
    caveats: tuple[str, ...]
    settings: dict[str, Any]


@dataclass(frozen=True)
class ReportModel:
    """Everything the template needs, already built."""

    version: str
    lab_name: str
    lab_description: str
    caveat: str
    sections: tuple[Section, ...]
    warnings: tuple[WarningItem, ...]
    dashboards: tuple[RegionDashboard, ...]
    dashboard_years: tuple[str, ...]
    min_cell_firms: Any
    impacts: tuple[OutcomeImpact, ...]
    methods: MethodsNote
    data_quality: Markup | None
    data_quality_rows: int
    provenance: dict[str, Any]

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


# --------------------------------------------------------------------------- helpers

class _Ids:
    """Stable, unique, safe HTML ids from arbitrary (user) text."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def reserve(self, id_: str) -> None:
        self._used.add(id_)

    def make(self, prefix: str, *parts: str) -> str:
        slug = "-".join(s for s in (_slug(p) for p in parts) if s) or "x"
        base = f"{prefix}-{slug}"
        candidate, n = base, 2
        while candidate in self._used:
            candidate, n = f"{base}-{n}", n + 1
        self._used.add(candidate)
        return candidate


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", str(text).lower()))[:40]


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


# --------------------------------------------------------------------------- sections

def _warnings(result: EvaluationResult) -> tuple[WarningItem, ...]:
    items = [WarningItem("Lab", str(w)) for w in result.warnings]
    for eff in result.effects:
        region = result.region(eff.region).name
        for w in eff.result.warnings:
            items.append(WarningItem(_outcome_label(eff.outcome), str(w), group=region))
    return tuple(items)


def _dashboards(
    result: EvaluationResult, ids: _Ids
) -> tuple[tuple[RegionDashboard, ...], tuple[str, ...]]:
    table = sorted_indicators(result)
    periods = {str(p) for p in table["period"].dropna()}
    years = sorted((p for p in periods if period_sort_key(p)[0] == 0), key=period_sort_key)
    shown = tuple(years[-DASHBOARD_YEARS:])
    min_cell = result.settings.get("min_cell_firms", "the minimum number of")
    out = []
    for info in result.regions:
        rows = region_rows(table, result, info.key)
        dash_id = ids.make("dashboard", info.key)
        cumulative = bool(rows["period"].astype(str).eq(CUMULATIVE).any())
        if rows.empty or not (shown or cumulative):
            html, n_supp = None, 0
            note = "No indicators were computed for this region."
        else:
            html = tables.dashboard_table(rows, table_id=f"{dash_id}-table", years=list(shown),
                                          cumulative=cumulative, min_cell_firms=min_cell)
            visible = rows["period"].astype(str).isin([*shown, CUMULATIVE])
            n_supp = int((rows.loc[visible, "flag"].astype(str) == "suppressed").sum())
            note = ""
        out.append(RegionDashboard(dash_id, info.name, info.nuts2, info.country, info.programme,
                                   info.currency, html, n_supp, note))
    return tuple(out), shown


def _impacts(result: EvaluationResult, ids: _Ids) -> tuple[OutcomeImpact, ...]:
    tidy = result.effects_tidy()
    outcomes = list(dict.fromkeys(e.outcome for e in result.effects))
    rank = {info.key: i for i, info in enumerate(result.regions)}
    out = []
    for outcome in outcomes:
        idx = [i for i, e in enumerate(result.effects) if e.outcome == outcome]
        idx.sort(key=lambda i: rank.get(result.effects[i].region, len(rank)))  # stable
        effs = [result.effects[i] for i in idx]
        rows = tidy.iloc[idx].reset_index(drop=True)
        label = _outcome_label(outcome)
        ci_label = _ci_label(e.result.alpha for e in effs)
        out_id = ids.make("impact", outcome)
        table = tables.impact_table(rows, table_id=f"{out_id}-table", ci_label=ci_label)

        names = [result.region(e.region).name for e in effs]
        repeated = {n for n in names if names.count(n) > 1}
        labels = [f"{n} · {_method_label(e.result.method)}" if n in repeated else n
                  for n, e in zip(names, effs)]
        forest = _forest(rows, labels, out_id, label, ci_label)
        panels = _event_studies(result, effs, labels, out_id, label, ci_label, ids)
        out.append(OutcomeImpact(out_id, outcome, label, ci_label, table, forest, panels))
    return tuple(out)


def _forest(rows: pd.DataFrame, labels: list[str], out_id: str, label: str,
            ci_label: str) -> charts.Chart | None:
    frame = pd.DataFrame({"label": labels, "estimate": rows["estimate"],
                          "conf_low": rows["conf_low"], "conf_high": rows["conf_high"]})
    if not frame["estimate"].map(charts.is_finite).any():
        return None
    spec = charts.forest_spec(frame, x_title=f"Headline effect with {ci_label}")
    chart_id = f"{out_id}-forest"
    caption = (f"Headline effect on {label} by region, with {ci_label}. "
               "The dashed line marks no effect.")
    left_out = [lab for lab, est in zip(labels, frame["estimate"]) if not charts.is_finite(est)]
    if left_out:
        caption += f" Not shown (no estimate): {', '.join(left_out)}."
    description = (f"Forest plot of the headline effect on {label} with {ci_label} for "
                   f"{', '.join(dict.fromkeys(labels))}. The numbers are in the table above.")
    svg = charts.render_svg(spec, chart_id=chart_id, description=description)
    return charts.Chart(chart_id, caption, description, spec, svg)


def _event_studies(result: EvaluationResult, effs: list[RegionEffect], labels: list[str],
                   out_id: str, label: str, ci_label: str,
                   ids: _Ids) -> tuple[EventStudyPanel, ...]:
    frames = [charts.event_study_frame(e.result.tidy()) for e in effs]
    finite = [f.loc[f["estimate"].map(charts.is_finite)] for f in frames]
    nonempty = [f for f in finite if len(f)]
    y_domain = x_domain = None
    if nonempty:
        allpts = pd.concat(nonempty, ignore_index=True)
        y_domain = charts.value_domain(list(allpts["conf_low"]) + list(allpts["estimate"]),
                                       list(allpts["conf_high"]) + list(allpts["estimate"]))
        x_domain = (int(allpts["event_time"].min()), int(allpts["event_time"].max()))
    panels = []
    for eff, name, points, pts in zip(effs, labels, frames, finite):
        panel_id = ids.make(out_id + "-es", eff.region, eff.result.method)
        method = _method_label(eff.result.method)
        if not len(pts):
            panels.append(EventStudyPanel(panel_id, name, method, None, None,
                                          f"{method} has no event-time estimates."))
            continue
        spec = charts.event_study_spec(points, y_title="Effect relative to year −1",
                                       y_domain=y_domain, x_domain=x_domain)
        caption = (f"{name}: effect on {label} by years since joining, with {ci_label} "
                   "(open circle: reference year −1, set to 0).")
        first, last = int(pts["event_time"].min()), int(pts["event_time"].max())
        description = (f"Event-study chart for {name}, outcome {label}: estimates with {ci_label} "
                       f"for event times {first} to {last}; year −1 is the reference. "
                       "The numbers are in the table below the chart.")
        svg = charts.render_svg(spec, chart_id=panel_id, description=description)
        chart = charts.Chart(panel_id, caption, description, spec, svg)
        table = tables.event_study_table(points, table_id=f"{panel_id}-table", ci_label=ci_label)
        panels.append(EventStudyPanel(panel_id, name, method, chart, table, ""))
    return tuple(panels)


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
    return MethodsNote(estimators, comparison, clustering, headline, inference, _CAVEATS,
                       to_jsonable(dict(result.settings)))


# --------------------------------------------------------------------------- entry point

def build_report(result: EvaluationResult) -> ReportModel:
    """Build every part of the report (tables, charts, texts) from ``result``.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to report on.

    Returns
    -------
    ReportModel
        Frozen data ready for :func:`policylab.report.render_html`.
    """
    if not isinstance(result, EvaluationResult):
        raise TypeError(f"build_report expects an EvaluationResult, got {type(result).__name__}")
    ids = _Ids()
    for section in SECTIONS:
        ids.reserve(section.id)  # reserve, so no generated id can collide with a section id
    dashboards, years = _dashboards(result, ids)
    impacts = _impacts(result, ids)
    dq = result.data_quality
    dq_html = (tables.data_quality_table(dq, table_id="data-quality-table")
               if len(dq.columns) else None)
    return ReportModel(
        version=__version__,
        lab_name=result.lab_name,
        lab_description=result.lab_description,
        caveat=CAVEAT,
        sections=SECTIONS,
        warnings=_warnings(result),
        dashboards=dashboards,
        dashboard_years=years,
        min_cell_firms=result.settings.get("min_cell_firms"),
        impacts=impacts,
        methods=_methods(result),
        data_quality=dq_html,
        data_quality_rows=len(dq),
        provenance=to_jsonable(dict(result.provenance)),
    )
