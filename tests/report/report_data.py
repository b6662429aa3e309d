"""The built report as plain data (numbers and labels) for snapshot tests.

Tables become grids of cell texts (what a reader sees: formatted numbers, labels, notes),
charts their caption, text alternative and the data rows of their spec; no markup, no SVG
geometry, no stylesheet. Floats are rounded to 12 significant digits so that last-bit noise
between platforms does not break the snapshot.
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from typing import Any

from policylab.report.build import Page, ReportModel


class _Grid(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = re.sub(r"\s+", " ", "".join(self._cell)).strip()
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_grid(table: Any) -> list[list[str]] | None:
    """The cell texts of a rendered table, row by row (None for no table)."""
    if table is None:
        return None
    parser = _Grid()
    parser.feed(str(table))
    parser.close()
    return [row for row in parser.rows if row]


def _num(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {str(k): _num(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_num(v) for v in value]
    return value


def chart_layers(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(mark type, data rows) of each layer of a chart spec, layered or faceted (a facet's
    layers share the chart's top-level data)."""
    datasets = spec.get("datasets", {})
    layers = spec.get("layer") or spec.get("spec", {}).get("layer", [])
    shared = spec.get("data", {}).get("name")
    out = []
    for layer in layers:
        mark = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        out.append((mark, datasets.get(layer.get("data", {}).get("name") or shared, [])))
    return out


def _chart(chart: Any) -> dict[str, Any] | None:
    if chart is None:
        return None
    layers = chart_layers(chart.spec)
    data: list[Any] = []
    for _, rows in layers:  # layers of a faceted chart share one dataset: list it once
        if not any(rows is seen for seen in data):
            data.append(rows)
    return {"id": chart.id, "caption": chart.caption, "description": chart.description,
            "marks": [m for m, _ in layers], "data": _num(data)}


def body_data(body: Any) -> dict[str, Any]:
    """One block section (life-cycle, orders, diagnostics, cost-effectiveness) as data."""
    return {
        "intro": list(body.intro),
        "blocks": [{
            "id": b.id, "title": b.title, "level": b.level, "intro": list(b.intro),
            "chart": _chart(b.chart), "table": table_grid(b.table), "notes": list(b.notes),
            "warnings": list(b.warnings), "empty": b.empty,
            "details": [{"id": d.id, "summary": d.summary, "table": table_grid(d.table)}
                        for d in b.details],
        } for b in body.blocks],
    }


def page_data(page: Page, *, shared: bool = True) -> dict[str, Any]:
    """One page as data; ``shared=False`` leaves out the parts every page has in common with
    the overview (dashboards, event-study panels, methods), naming them by id only."""
    impacts = []
    for o in page.impacts:
        impacts.append({
            "id": o.id, "outcome": o.outcome, "label": o.label, "ci_label": o.ci_label,
            "lab_sentences": list(o.lab_sentences),
            "headline_label": o.headline_label,
            "robustness_labels": list(o.robustness_labels), "es_note": o.es_note,
            "table": table_grid(o.table),
            "notes": [[name, list(items)] for name, items in o.notes],
            "pooled": [_num(p.to_dict()) for p in o.pooled],
            "forest": _chart(o.forest),
            "event_studies": [
                ({"id": p.id, "region": p.region, "method": p.method, "note": p.note,
                  "chart": _chart(p.chart), "table": table_grid(p.table)} if shared else p.id)
                for p in o.event_studies],
        })
    data: dict[str, Any] = {
        "path": page.path, "kind": page.kind, "region": page.region, "root": page.root,
        "title": page.title, "heading": page.heading, "kicker": page.kicker, "meta": page.meta,
        "sections": [[s.id, s.title] for s in page.sections],
        "contents": [[n.id, n.title, [[c.id, c.title] for c in n.children]]
                     for n in page.contents],
        "site_nav": [[link.title, link.href, link.current] for link in page.site_nav],
        "summary": {
            "lab_sentences": list(page.summary.lab_sentences),
            "lab_notes": list(page.summary.lab_notes),
            "regions": [{"key": r.key, "name": r.name, "id": r.id, "href": r.href,
                         "figures": [_num(f.as_dict()) for f in r.figures],
                         "caveats": list(r.caveats)} for r in page.summary.regions],
            "table": table_grid(page.summary.table),
        },
        "context": {"rows": [_num(dict(r.__dict__)) for r in page.context.rows],
                    "table": table_grid(page.context.table)},
        "warnings": [[w.group, w.source, w.text] for w in page.warnings],
        "dashboards": [
            ({"id": d.id, "name": d.name, "n_suppressed": d.n_suppressed, "note": d.note,
              "table": table_grid(d.table)} if shared else d.id) for d in page.dashboards],
        "dashboard_years": list(page.dashboard_years),
        "impacts": impacts,
        "life_cycle": body_data(page.life_cycle),
        "orders": body_data(page.orders),
        "diagnostics": body_data(page.diagnostics),
        "cost_effectiveness": body_data(page.costs),
        "data_quality": table_grid(page.data_quality),
        "provenance": _num(page.provenance),
        "n_table_stylesheets": len(page.table_css),
    }
    if shared:
        m = page.methods
        data["methods"] = {"estimators": list(m.estimators), "comparison": m.comparison,
                           "clustering": list(m.clustering), "headline": list(m.headline),
                           "inference": m.inference, "synthesis": list(m.synthesis),
                           "caveats": list(m.caveats), "settings": _num(m.settings)}
    return data


def report_data(model: ReportModel) -> dict[str, Any]:
    """The whole report: the overview in full, the region pages without the shared parts."""
    return {
        "version": "VERSION",
        "lab_name": model.lab_name,
        "caveat": model.caveat,
        "timestamp": model.timestamp,
        "pages": [page_data(model.index)]
        + [page_data(p, shared=False) for p in model.region_pages],
    }
