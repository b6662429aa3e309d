"""The executive summary and the programme context sections of a page, as tables.

The numbers and caveat lines come from :mod:`policylab.report._overview`; this module lays
them out: a table with one row per region on the overview, the key figures of one region on
a region page, the lab-wide sentences of the pooled effects (the same on every page), and the
programme context table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..evaluation import EvaluationResult, RegionInfo
from ..synthesis import PooledEffect, Synthesis
from . import tables
from ._answer import MARKS_NOTE, effect_marks, marked
from ._indicators import period_sort_key
from ._labels import _ci_label, _Ids, _method_label, _method_short
from ._overview import (
    HEADLINE_INDICATORS,
    ContextRow,
    RegionSummary,
    context_rows,
    headline_outcome,
    pooled_sentences,
    region_summary,
)

__all__ = ["Context", "Summary", "SummaryBuilder"]


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


class SummaryBuilder:
    """Builds the summary and context of each page; keeps the lab-wide sentences, which every
    page shows, to build them once."""

    def __init__(self, result: EvaluationResult, table: pd.DataFrame, paths: dict[str, str],
                 min_cell: Any, headline: str | None) -> None:
        self.result = result
        self.synthesis: Synthesis | None = result.synthesis
        self.table = table
        self.paths = paths
        self.min_cell = min_cell
        self.headline = headline
        self._lab_sentences: tuple[str, ...] | None = None

    def method_label(self, method: str | None) -> str:
        return _method_label(method or "", self.result)

    # ---- executive summary

    def lab_sentences(self) -> tuple[str, ...]:
        """The lab-wide sentences (pooled effects by the headline estimator), built once."""
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

    def summary(self, infos: list[RegionInfo], ids: _Ids, root: str, single: bool) -> Summary:
        """The summary of the regions ``infos``: a table of them, or one's key figures."""
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
        outcome = headline_outcome(self.result) or ""
        columns.append(tables.Column("effect", f"{effect_label} [{ci}]", "effect",
                                     f"Estimated effect ({_method_short(self.headline or '')})",
                                     formatter=tables.effect_formatter(outcome)))
        records, flags = [], {}
        for i, r in enumerate(regions):
            rec: dict[str, Any] = {"region": marked(r.name, effect_marks(self.result, r.key,
                                                                        outcome))}
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
                                    notes=[self._period_note(regions),
                                           *([MARKS_NOTE] if any("[" in str(r["region"])
                                                                 for r in records) else [])],
                                    min_cell_firms=self.min_cell)

    def _key_figures(self, region: RegionSummary, ids: _Ids, ci: str) -> tables.Table:
        outcome = headline_outcome(self.result) or ""
        flags = effect_marks(self.result, region.key, outcome)
        frame = pd.DataFrame([
            {"label": (f"Exporting firms, %: {f.label.lower()}" if f.key.startswith("exporters")
                       else marked(f.label, flags) if f.kind == "effect" else f.label),
             "value": f.value, "kind": f.kind,
             "period": (f"after joining ({_method_short(self.headline or '')})"
                        if f.kind == "effect" else f.period),
             "conf_low": f.conf_low, "conf_high": f.conf_high, "flag": f.flag}
            for f in region.figures])
        return tables.key_figures_table(frame, table_id=ids.make("summary", "table"),
                                        ci_label=ci, notes=[self._period_note([region]),
                                                            *([MARKS_NOTE] if flags else [])],
                                        min_cell_firms=self.min_cell,
                                        effect_format=tables.effect_formatter(outcome))

    # ---- programme context

    def context(self, infos: list[RegionInfo], ids: _Ids) -> Context:
        """The programme context of the regions ``infos``."""
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
