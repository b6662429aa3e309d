"""Stage 2 of the report: pour a :class:`ReportModel` into the jinja2 page template.

The environment autoescapes everything and fails on any undefined name. The only values
that are not escaped are the ``Markup`` fragments the build stage produced itself (SVG from
vl-convert, tables from great_tables) and the package's own stylesheet.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from markupsafe import Markup

from ..evaluation import EvaluationResult
from .build import ReportModel, build_report

__all__ = ["CSP", "render_html", "render_model"]

#: Nothing may load: no scripts, no fonts, no network; inline styles and data: images only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_HASH_KEYS = ("sha256", "hash", "checksum", "digest")


@dataclass(frozen=True)
class NavItem:
    id: str
    title: str
    children: tuple["NavItem", ...] = ()


@dataclass(frozen=True)
class Node:
    """One node of a display tree: ``dl``, ``table``, ``ul`` or ``text``."""

    kind: str
    items: tuple[Any, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple["Node", ...], ...] = ()
    text: str = ""
    css: str = ""


@functools.lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("policylab.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=1)
def _css() -> Markup:
    text = resources.files("policylab.report").joinpath("templates/report.css").read_text("utf-8")
    if "</" in text:  # pragma: no cover - guards the one unescaped file we inline
        raise ValueError("report.css must not contain '</'")
    return Markup(text.strip())


def _scalar(value: Any, key: str = "") -> Node:
    if value is None:
        return Node("text", text="—", css="missing")
    if isinstance(value, bool):
        return Node("text", text="yes" if value else "no")
    if isinstance(value, float) and not math.isfinite(value):
        return Node("text", text="—", css="missing")
    text = str(value)
    css = "hash" if any(h in key.lower() for h in _HASH_KEYS) else ""
    if key.lower() in ("path", "file", "filename") or key.lower().endswith("_path"):
        css = "path"
    return Node("text", text=text, css=css)


def _tree(value: Any, key: str = "") -> Node:
    """A display tree for any JSON-like value; new keys simply appear as new rows."""
    if isinstance(value, dict):
        return Node("dl", items=tuple((str(k), _tree(v, str(k))) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, dict) for v in value):
            columns = tuple(dict.fromkeys(str(k) for v in value for k in v))
            rows = tuple(
                tuple(_tree(v.get(c), c) if c in v else Node("text", text="") for c in columns)
                for v in value
            )
            return Node("table", columns=columns, rows=rows)
        return Node("ul", items=tuple(_tree(v, key) for v in value))
    return _scalar(value, key)


def _nav(model: ReportModel) -> tuple[NavItem, ...]:
    children = {
        "dashboard": tuple(NavItem(d.id, d.name) for d in model.dashboards),
        "impact": tuple(NavItem(o.id, o.label) for o in model.impacts),
    }
    return tuple(NavItem(s.id, s.title, children.get(s.id, ())) for s in model.sections)


def render_model(model: ReportModel) -> str:
    """Render an already built :class:`ReportModel` to the HTML page."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=model,
        nav=_nav(model),
        css=_css(),
        csp=CSP,
        settings_tree=_tree(model.methods.settings),
        provenance_tree=_tree(model.provenance),
    )


def render_html(result: EvaluationResult) -> str:
    """The comparative report as one self-contained HTML page.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to report on.

    Returns
    -------
    str
        The page: inline CSS and SVG only, no scripts, no external resources, and no
        timestamps or random ids, so the same ``result`` always gives the same text.
    """
    return render_model(build_report(result))
