"""The report's "Export margins" section: whether the programme works by turning
non-exporters into exporters or by raising prior exporters' sales (:mod:`policylab.margins`).

One table, one row per region: the effect on export propensity, on prior exporters' log
exports, on destination countries and on export value (Poisson, percent), then the extra
export value (EUR per member firm and year) split between firms that did not export before
the programme and prior exporters; one sentence per region reads the split.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .. import units
from ..margins import MARGINS, RegionMargins
from . import tables
from ._blocks import Block, SectionBody
from ._answer import MARKS_NOTE, effect_marks, marked, pretrend_elsewhere
from ._overview import ci_level

__all__ = ["margins", "shown"]

#: Display unit of each margin's column: the outcome whose unit it shares.
_UNIT = {"extensive": "exporter", "intensive": "log_exports",
         "markets": "n_export_markets", "value": "log_exports"}  # value: a percent already
_HEADERS = {"extensive": "Export propensity, pp", "intensive": "Prior exporters' exports, %",
            "markets": "Destination countries", "value": "Export value (Poisson), %",
            "new": "From firms new to exporting, EUR", "prior": "From prior exporters, EUR"}


def shown(result: Any) -> bool:
    """Whether the report has the section: some region has export margins."""
    return any(m.margins or m.split is not None for m in getattr(result, "margins", ()))


def _row(name: str, m: RegionMargins) -> dict[str, Any]:
    rec: dict[str, Any] = {"label": name}
    for mg in m.margins:
        h = mg.result.headline
        if mg.name == "value" and mg.percent is not None:
            est, low, high = mg.percent
        else:
            est, low, high = (units.display_value(mg.outcome, v)
                              for v in (h.estimate, h.conf_low, h.conf_high))
        rec.update({mg.name: est, f"{mg.name}_low": low, f"{mg.name}_high": high})
    if m.split is not None:
        for key, res in (("new", m.split.from_new_exporters), ("prior", m.split.from_prior_exporters)):
            h = res.headline
            rec.update({key: h.estimate, f"{key}_low": h.conf_low, f"{key}_high": h.conf_high})
    return rec


def margins(ctx: Any) -> SectionBody:
    """The section on the overview (every region) or on one region's page."""
    result = ctx.result
    names = {r.key: r.name for r in result.regions}
    mine = [m for m in result.margins if ctx.only is None or m.region == ctx.only.key]
    alpha = float(result.settings.get("alpha", 0.05))
    intro = (
        "Does the programme work by turning firms that did not export into exporters (the "
        "extensive margin) or by raising the exports of firms that already exported (the "
        "intensive margin)? Each column is a Callaway-Sant'Anna effect on members against "
        "never-members, except export value, which is Poisson extended TWFE (zeros kept) as "
        f"a percent of members' exports without the programme; {ci_level(alpha)} intervals "
        "in brackets. A prior exporter exported in at least one year before the region's "
        "first consortium took members in.",
        "The last two columns split the extra export value per member firm and year between "
        "firms that did not export before the programme and prior exporters. The estimator is "
        "linear in the outcome, so the two parts add up exactly to the effect on export value "
        "in EUR.",
    )
    # a region's marks: those of its headline effect on export value, and a failed pre-trend
    # test on another export outcome (the margins rest on the same comparison)
    labels = {m.region: marked(names.get(m.region, m.region),
                               effect_marks(result, m.region, "exports_eur")
                               + pretrend_elsewhere(result, m.region, "exports_eur"))
              for m in mine}
    rows = [_row(labels[m.region], m) for m in mine]
    present = {k for r in rows for k in r if k != "label" and not k.endswith(("_low", "_high"))}
    keys = [k for k in (*(n for n, *_ in MARGINS), "new", "prior") if k in present]
    if not rows or not keys:
        return SectionBody(intro, (Block("margins-table", "Export margins by region", (),
                                         empty="Not estimated in this run."),))
    frame = pd.DataFrame(rows)
    for k in keys:
        for c in (k, f"{k}_low", f"{k}_high"):
            if c not in frame:
                frame[c] = math.nan
    columns = []
    for k in keys:
        outcome = _UNIT.get(k, "exports_eur")
        columns.append(tables.Column(k, _HEADERS[k], "effect",
                                     "Split of export value" if k in ("new", "prior") else "",
                                     formatter=tables.effect_formatter(outcome)))
    notes = ["Intervals: the wild cluster restricted bootstrap below the few-cluster threshold "
             "(as the headline effects), analytic and clustered by consortium for the Poisson "
             "column, whose score bootstrap is not run here; with few consortia that interval "
             "may be too narrow."]
    notes += [f"{names.get(m.region, m.region)}: {n}" for m in mine for n in m.notes]
    if any(labels[m.region] != names.get(m.region, m.region) for m in mine):
        notes.append(MARKS_NOTE)
    table = tables.figures_table(frame, table_id="margins-table-table", columns=columns,
                                 notes=notes, min_cell_firms=ctx.min_cell)
    sentences = tuple(m.split.sentence(names.get(m.region, m.region))
                      for m in mine if m.split is not None)
    block = Block("margins-table", "Export margins by region", sentences, None, table)
    return SectionBody(intro, (block,))
