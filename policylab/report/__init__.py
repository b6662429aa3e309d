"""The report: self-contained HTML pages (the comparative overview and one per region),
``results.json``, ``indicators.csv`` and ``indicators.xlsx``; and :mod:`~policylab.report.compare` for two runs.

Built in two stages: :func:`build_report` turns an :class:`~policylab.evaluation.EvaluationResult`
into a :class:`ReportModel` (pages of tables, chart specs and SVG), and :func:`render_pages`
pours each page into a jinja2 template. Charts (:mod:`~policylab.report.svg`) and tables
(:mod:`~policylab.report._html_table`) are drawn by this package's own writers, in pure
Python: no browser engine, nothing to start, and importing this package stays cheap.
"""

from ._answer import answers as _answers
from ._indicators import indicators_csv
from ._serialize import results_json, to_jsonable
from ._xlsx import indicators_xlsx
from .build import SECTIONS, ReportModel, build_report
from .html import render_html, render_pages, render_report
from .writer import now_timestamp, write_report

__all__ = [
    "SECTIONS",
    "ReportModel",
    "build_report",
    "headline_answers",
    "indicators_csv",
    "indicators_xlsx",
    "now_timestamp",
    "render_html",
    "render_pages",
    "render_report",
    "results_json",
    "to_jsonable",
    "write_report",
]


def headline_answers(result, headline: str | None = None):
    """The overview's first screen as data (:class:`~policylab.report._answer.OutcomeAnswer`
    per outcome): what ``policylab evaluate`` prints and the report opens with."""
    from .build import region_paths

    return _answers(result, region_paths(result.regions), headline or
                    result.settings.get("headline_estimator"))
