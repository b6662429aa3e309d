"""The impact section: the effect estimates by outcome, as tables, forest plots and event
studies.

Per outcome, the headline estimator's effect in each region and the lab-wide pooled effect
(a table and a forest plot), the other estimators beside it as robustness columns, and each
region's event study with every estimator overlaid, on one vertical scale shared by all
regions. Notes say which inference gave the intervals and how the regions were pooled. Event
studies and the forest plot's spec are built once and shared by the overview and the region
pages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..did.inference.few_clusters import METHOD_TEXT
from ..evaluation import EvaluationResult, RegionEffect, RegionInfo
from ..synthesis import METHOD_LABELS as POOL_METHOD_LABELS
from ..shrinkage import expectations
from ..synthesis import PooledEffect, Synthesis
from . import charts, tables
from ..units import convert, effect_text, interval_text, outcome_unit
from ._agreement import MEANING as AGREEMENT_MEANING
from ._agreement import disagreements
from ._answer import MARKS_NOTE, effect_marks, marked
from ._labels import _ci_label, _Ids, _method_label, _method_short, _outcome_label
from ._overview import (
    ci_level,
    fmt_number,
    fmt_p,
    pooled_sentences,
    reason_text,
    treated_clusters,
)

__all__ = ["EventStudyPanel", "ImpactBuilder", "OutcomeImpact", "heterogeneity_text"]


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


_NO_PLAN = {"planning": math.nan, "planning_low": math.nan, "planning_high": math.nan,
            "own_weight": math.nan}


def _planning(pooled: PooledEffect | None) -> dict[str, dict[str, float]]:
    """Each pooled region's planning figure (its empirical-Bayes estimate) by region key."""
    expected = expectations(pooled)
    if expected is None:
        return {}
    return {r: {"planning": b, "planning_low": lo, "planning_high": hi, "own_weight": w}
            for r, b, lo, hi, w in zip(expected.regions, expected.blups, expected.conf_low,
                                       expected.conf_high, expected.own_weights)}


def _planning_sentence(name: str, outcome: str, plan: dict[str, float]) -> str:
    """"Kent's own data carry 54% of its planning figure ..." (the shrinkage in words)."""
    share = 100 * plan["own_weight"]
    return (f"For planning, the lab suggests {effect_text(outcome, plan['planning'])} "
            f"[{interval_text(outcome, plan['planning_low'], plan['planning_high'])}]: "
            f"{name}'s own data carry {share:.0f}% of this figure and the other regions' "
            f"average the rest. It is not {name}'s estimate, which stays the headline.")


class ImpactBuilder:
    """Builds the impact section of each page; keeps what pages share (the event studies, the
    forest plots' specs) to build it once."""

    def __init__(self, result: EvaluationResult, headline: str | None) -> None:
        self.result = result
        self.synthesis: Synthesis | None = result.synthesis
        self.headline = headline
        self._panels: dict[tuple[str, str], EventStudyPanel] = {}  # (outcome, region key)
        self._disagree = disagreements(result)
        self._forest_specs: dict[str, dict[str, Any]] = {}

    def impacts(self, ids: _Ids, only: RegionInfo | None) -> tuple[OutcomeImpact, ...]:
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
            robust = [(f"r{j}", _method_short(m)) for j, m in enumerate(others)]
            planning = _planning(pooled)
            flagged = {r: marked(result.region(r).name, effect_marks(result, r, outcome))
                       for r in regions}
            rows = []
            for r in mine:
                h = by.get((headline, r))
                rec: dict[str, Any] = {"region": flagged[r]}
                if h is not None:
                    res, est = h.result, h.result.headline
                    rec.update(estimate=est.estimate, std_error=est.std_error,
                               conf_low=est.conf_low, conf_high=est.conf_high,
                               p_value=est.p_value, n_firms=res.n_units,
                               n_treated=res.n_treated, n_clusters=res.n_clusters,
                               n_treated_clusters=_nan_if_none(treated_clusters(res)))
                if planning:
                    rec.update(planning.get(r, _NO_PLAN))
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
                              *_pooled_notes(pooled, pooled_others, result),
                              *([MARKS_NOTE] if any(flagged[r] != result.region(r).name
                                                    for r in mine) else [])],
                headline_label=f"Headline: {self.method_label(headline)}",
                robustness=robust, outcome=outcome)
            names = [flagged[e.region] for e in heads]
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
            if others:
                sentences.append(self._agreement_sentence(outcome, only))
            if only is not None and only.key in planning:
                sentences.append(_planning_sentence(only.name, outcome, planning[only.key]))
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

    def _agreement_sentence(self, outcome: str, only: RegionInfo | None) -> str:
        """Whether the estimators agree on this outcome, region by region."""
        found = [d for d in self._disagree
                 if d.outcome == outcome and (only is None or d.region == only.name)]
        if not found:
            return ("The estimators agree: in every region each one's interval overlaps every "
                    "other's.")
        pairs = "; ".join(f"{d.region}: {d.first} {d.first_text} against {d.second} "
                          f"{d.second_text}" for d in found)
        return f"The estimators disagree beyond their intervals ({pairs}). {AGREEMENT_MEANING}"

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
        unit = outcome_unit(outcome)
        for e in effs:
            f = charts.event_study_frame(e.result.tidy())
            for c in ("estimate", "conf_low", "conf_high"):  # in the outcome's display unit
                f[c] = [convert(outcome, v) for v in f[c].tolist()]
            if unit.factor is not None:
                f["std_error"] = f["std_error"] * unit.factor
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
            spec = charts.event_study_spec(points, y_title=f"Effect by years since joining, "
                                                           f"{unit.unit}",
                                           y_domain=y_domain, x_domain=x_domain,
                                           series_order=series)
            caption = f"{name}: effect on {label} by years since joining, with {ci_label}"
            if len(series) > 1:
                caption += (f" ({series[0]}: black circles; "
                            + "; ".join(f"{s}: grey {_shape_word(i)}" for i, s in
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
                                             ci_label=ci_label, series_order=series,
                                             outcome=outcome)
            self._panels[(outcome, region)] = EventStudyPanel(panel_id, region, name, methods,
                                                              chart, table, "")


_SHAPE_WORDS = {"circle": "circles", "triangle-up": "triangles", "square": "squares",
                "diamond": "diamonds", "cross": "crosses"}


def _shape_word(i: int) -> str:
    return _SHAPE_WORDS[charts.series_shape(i)]


def _event_study_note(panels: Sequence[EventStudyPanel], headline: str | None,
                      others: Sequence[str]) -> str:
    """How to read the event-study charts of one outcome (said once, not under every chart)."""
    if not any(p.chart is not None for p in panels):
        return ""
    text = ("Each chart shows the effect in each year before and after joining, with its "
            "interval; the dotted line marks joining and the dashed line no effect.")
    if others:
        text += (f" The headline estimator, {_method_short(headline or '')}, is drawn in black "
                 "circles; " + ", ".join(f"{_method_short(m)} in grey {_shape_word(i)}"
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
                          builder: ImpactBuilder) -> list[str]:
    out = []
    for m, p in pooled_others:
        if p is None or not p.pooled:
            continue
        out.append(f"Robustness: with {builder.method_label(m)} the lab-wide effect is "
                   f"{effect_text(p.outcome, p.estimate)} ({ci_level(p.alpha)} CI "
                   f"{interval_text(p.outcome, p.conf_low, p.conf_high)}).")
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
    outcome = spec_key

    def shown(values: list[float]) -> list[float]:
        return [convert(outcome, v) for v in values]

    frame = pd.DataFrame({
        "label": all_labels,
        "estimate": shown([h.estimate for h in heads] + [p.estimate for p in pooled_shown]),
        "conf_low": shown([h.conf_low for h in heads] + [p.conf_low for p in pooled_shown]),
        "conf_high": shown([h.conf_high for h in heads] + [p.conf_high for p in pooled_shown]),
        "kind": ["region"] * len(heads) + ["pooled"] * len(pooled_shown),
    })
    if not frame["estimate"].map(charts.is_finite).any():
        return None
    if spec_key not in specs:
        specs[spec_key] = charts.forest_spec(
            frame, x_title=f"Headline effect with {ci_label}, {outcome_unit(outcome).unit}")
    spec = specs[spec_key]
    if emphasis is not None:
        spec = charts.emphasise(spec, [lab for lab, e in zip(all_labels, effs)
                                       if e.region == emphasis])
    chart_id = f"{out_id}-forest"
    caption = f"Headline effect on {label} by region ({estimator}), with {ci_label}."
    detail = ""
    if pooled_shown:
        caption += (" The diamond is the lab-wide effect: the regions' effects averaged, "
                    "weighted by their precision and allowing them to differ.")
        detail = ("Random-effects meta-analysis: "
                  + "; ".join(heterogeneity_text(p) for p in pooled_shown) + ".")
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
    return charts.Chart(chart_id, caption, description, spec, svg, detail)
