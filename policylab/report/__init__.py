"""The report: one self-contained HTML page, ``results.json`` and ``indicators.csv``.

Built in two stages: :func:`build_report` turns an :class:`~policylab.evaluation.EvaluationResult`
into a :class:`ReportModel` (tables, chart specs and SVG), and :func:`render_html` pours that
into a jinja2 template. Altair, vl-convert and great_tables are imported only when a report
is built, so importing this package stays cheap.
"""

from ._indicators import indicators_csv
from ._serialize import results_json
from .build import SECTIONS, ReportModel, build_report
from .html import render_html
from .writer import write_report

__all__ = [
    "SECTIONS",
    "ReportModel",
    "build_report",
    "indicators_csv",
    "render_html",
    "results_json",
    "write_report",
]
