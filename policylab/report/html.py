"""Stage 2 of the report: pour each page of a :class:`ReportModel` into the jinja2 template.

The environment autoescapes everything and fails on any undefined name. The only values
that are not escaped are the fragments the build stage produced itself (SVG from
:mod:`~policylab.report.svg`, tables from :mod:`~policylab.report._html_table`, both escaping
every user string) and the package's own stylesheets.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from markupsafe import Markup

from ..evaluation import EvaluationResult
from .build import Page, ReportModel, build_report

__all__ = ["CSP", "render_html", "render_model", "render_pages", "render_report"]

#: Nothing may load: no scripts, no fonts, no network; inline styles and data: images only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_HASH_KEYS = ("sha256", "hash", "checksum", "digest")


@dataclass(frozen=True)
class Node:
    """One node of a display tree: ``dl``, ``table``, ``ul`` or ``text``."""

    kind: str
    items: tuple[Any, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple["Node", ...], ...] = ()
    details: tuple[tuple[tuple[str, str], ...], ...] = ()  # per row: (key, compact text)
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
            keys = list(dict.fromkeys(str(k) for v in value for k in v))
            nested = {k for k in keys
                      if any(isinstance(v.get(k), (dict, list, tuple)) for v in value)}
            columns = tuple(k for k in keys if k not in nested)
            rows = tuple(
                tuple(_scalar(v.get(c), c) if c in v else Node("text", text="")
                      for c in columns)
                for v in value
            )
            # nested values (a column mapping ...) go on a full-width line under their row:
            # in a narrow cell they would stretch the table over many screens
            details = tuple(
                tuple((k, _compact(v[k])) for k in keys if k in nested and k in v)
                for v in value
            )
            return Node("table", columns=columns, rows=rows, details=details)
        return Node("ul", items=tuple(_tree(v, key) for v in value))
    return _scalar(value, key)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_compact(v)}" if isinstance(v, (dict, list, tuple))
                         else f"{k} = {_compact(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_compact(v) for v in value)
    node = _scalar(value)
    return node.text


def _safe_css(text: str) -> Markup:
    if "</" in text:  # pragma: no cover - guards CSS we inline unescaped
        raise ValueError("an inlined stylesheet must not contain '</'")
    return Markup(text)


def render_model(model: ReportModel, page: Page | None = None) -> str:
    """Render one page of an already built :class:`ReportModel` (default: the overview)."""
    page = model.index if page is None else page
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=model,
        page=page,
        css=_css(),
        table_css=_safe_css("\n".join(page.table_css)),
        csp=CSP,
        settings_tree=_tree(page.methods.settings),
        provenance_tree=_tree(page.provenance),
    )


def render_pages(model: ReportModel) -> dict[str, str]:
    """Every page of the report: path (relative to the output folder) to HTML text."""
    return {page.path: render_model(model, page) for page in model.pages}


def render_report(result: EvaluationResult, *, timestamp: str | None = None) -> dict[str, str]:
    """Build and render every page of the report (see :func:`render_pages`)."""
    return render_pages(build_report(result, timestamp=timestamp))


def render_html(result: EvaluationResult, *, timestamp: str | None = None) -> str:
    """The comparative overview page (``index.html``) as one self-contained HTML page.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to report on.
    timestamp : str, optional
        Shown once, in the footer; None (default) for a page that is the same on every run.

    Returns
    -------
    str
        The page: inline CSS and SVG only, no scripts, no external resources, and no
        timestamps or random ids, so the same ``result`` always gives the same text.
    """
    return render_model(build_report(result, timestamp=timestamp, region_pages=False))
