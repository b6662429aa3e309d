"""The markup of the report's tables, written directly: great_tables' HTML, without great_tables.

The report's tables were rendered with great_tables (about 70 ms a table, most of it pandas
bookkeeping inside its formatting and rendering stages). This module writes the same markup
for the features the report uses, in well under a millisecond a table:

* numbers as great_tables' ``fmt_number``/``fmt_integer`` write them (:func:`format_number`,
  :func:`format_integer`: true minus sign U+2212, thousands separators, fixed decimals, the
  compact suffixes K/M/B/T/Q, a forced sign, no sign on a value that rounds to zero). The
  tests compare them with great_tables value by value;
* one table (:func:`render`): column labels with one level of spanners, row groups, a stub
  column, body cells with inline styles, source notes; the same element ids (prefixed by the
  table id, unique within it), ``scope`` attributes and CSS classes, so the stylesheet
  great_tables wrote (``templates/tables.css``, see :mod:`policylab.report.tables`) still
  applies.

Every text that comes from data (labels, group names, stub labels, cell texts, notes) is
escaped here with :func:`html.escape` (quotes too, as great_tables did); callers pass plain
text, except for body cells: their text is markup the caller built from formatted numbers and
values passed through :func:`escape` (see :func:`render`).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "CONTAINER_STYLE",
    "HeaderColumn",
    "dtype_align",
    "escape",
    "format_integer",
    "format_number",
    "is_missing",
    "join_styles",
    "render",
    "text_align",
]

MINUS = "\u2212"
_SUFFIXES = ("", "K", "M", "B", "T", "Q")

#: The container ``<div>``'s style great_tables writes with the report's options.
CONTAINER_STYLE = ("padding-left:0px;padding-right:0px;padding-top:10px;padding-bottom:10px;"
                   "overflow-x:auto;overflow-y:auto;width:auto;height:auto;")


def escape(text: Any) -> str:
    """``text`` (``str()`` of it) with ``& < > " '`` escaped, as great_tables escapes."""
    return html.escape(str(text))


def is_missing(value: Any) -> bool:
    """Whether a cell value is missing (None, NaN, ``pd.NA``, ``NaT``): shown by substitution."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    if isinstance(value, (str, int)):
        return False
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- numbers

def _fixed(value: float, decimals: int, use_seps: bool) -> str:
    """great_tables' ``_format_number_fixed_decimals`` (``sep_mark=","``, ``dec_mark="."``)."""
    text = format(value, f".{decimals}f")
    if "e" in text or "E" in text:  # pragma: no cover - "f" never writes an exponent
        text = f"{Decimal(text):f}"
    integer, _, fraction = text.partition(".")
    integer = integer.lstrip("-")
    if use_seps and len(integer) >= 4:
        groups = []
        while len(integer) > 3:
            groups.append(integer[-3:])
            integer = integer[:-3]
        integer = ",".join([integer, *reversed(groups)])
    out = ("-" if value < 0 else "") + integer
    return out + "." + fraction if fraction else out


_NONZERO_DIGIT = re.compile(r"[1-9]")


def _rounds_to_zero(text: str) -> bool:
    """Whether a formatted number shows as zero (it has digits, all of them ``0``)."""
    return "0" in text and _NONZERO_DIGIT.search(text) is None


def _decimal_notation(value: float, decimals: int, use_seps: bool, force_sign: bool) -> str:
    """great_tables' ``_value_to_decimal_notation`` (no significant-digits pathway)."""
    positive = value > 0
    out = _fixed(value, decimals, use_seps).rstrip(".")
    if _rounds_to_zero(out):
        out = out.lstrip("-")
        positive = False
    return "+" + out if positive and force_sign else out


def _compact(value: float, decimals: int, use_seps: bool, force_sign: bool) -> str:
    """great_tables' ``_format_number_compactly``: 12.9M, 1.0K (the suffix after rounding)."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return _decimal_notation(value, 2, True, force_sign)
    power = max(0, min(5, math.floor(math.log(abs(value), 1000))))
    scaled = value / 1000**power
    if power < 5 and float(_decimal_notation(abs(scaled), decimals, False, False)) >= 1000:
        power += 1
        scaled = math.copysign(1.0, value)
    return _decimal_notation(scaled, decimals, use_seps, force_sign) + _SUFFIXES[power]


def format_number(value: Any, decimals: int = 2, *, use_seps: bool = True,
                  force_sign: bool = False, compact: bool = False) -> str | None:
    """``value`` as great_tables' ``fmt_number`` writes it in HTML; ``None`` if it is missing.

    Fixed ``decimals`` (rounded as Python's ``format`` rounds), ``,`` between thousands, the
    true minus sign U+2212, ``+`` with ``force_sign`` (not on zero, nor on a value that rounds
    to zero, which has no sign either), ``compact`` suffixes (``12.9M``); infinities as
    ``inf``/``−inf``.
    """
    if is_missing(value):
        return None
    x = float(value)
    if compact:
        out = _compact(x, decimals, use_seps, force_sign)
    else:
        out = _decimal_notation(x, decimals, use_seps, force_sign)
    if x < 0 and not _rounds_to_zero(out):
        out = out.replace("-", MINUS)
    return out


def format_integer(value: Any, *, use_seps: bool = True, force_sign: bool = False) -> str | None:
    """``value`` as great_tables' ``fmt_integer`` writes it in HTML; ``None`` if it is missing."""
    return format_number(value, 0, use_seps=use_seps, force_sign=force_sign)


# --------------------------------------------------------------------------- alignment

_NUMBER_LIKE = re.compile(r"^[0-9 -/:\\.]*$")


def text_align(values: Sequence[Any]) -> str:
    """great_tables' alignment of a text column: right when every string in it looks like a
    number or a date (digits, spaces, ``-/:.`` and the like; no strings at all counts), else
    left."""
    return "right" if all(_NUMBER_LIKE.match(v) for v in values if isinstance(v, str)) \
        else "left"


def dtype_align(dtype: Any, values: Sequence[Any]) -> str:
    """great_tables' alignment of a pandas column of ``dtype`` holding ``values``."""
    name = str(dtype).lower()
    if re.match(r"int|uint|float|date|double", name):
        return "right"
    if name in {"object", "utf8", "string", "str", "string[pyarrow]", "large_string[pyarrow]",
                "string_view[pyarrow]"}:
        return text_align(values)
    return "center"


# --------------------------------------------------------------------------- markup

def join_styles(styles: Sequence[str]) -> str:
    """Declarations of several styles in one ``style`` attribute, each ended by ``;`` (great_tables
    joined ``white-space: nowrap`` and ``font-weight: bold;`` without one, which made browsers
    drop both)."""
    out = ""
    for s in styles:
        if out and not out.rstrip().endswith(";"):
            out += ";"
        out += (" " if out else "") + s
    return out


_ID_JUNK = re.compile(r"[^\w.:-]+")
_TAG = re.compile(r"<[^>]+>")


def _sanitize_id(text: str) -> str:
    return _ID_JUNK.sub("-", html.unescape(_TAG.sub("", text))).strip("-")


class _Ids:
    """great_tables' ``_IdRegistry``: ids prefixed by the table id, unique within the table."""

    def __init__(self, table_id: str) -> None:
        prefix = _sanitize_id(table_id)
        self.prefix = f"{prefix}-" if prefix else ""
        self.used = {table_id}

    def make(self, base: str, fallback: str) -> str:
        name = _sanitize_id(escape(base)) or fallback
        candidate, n = f"{self.prefix}{name}", 2
        while candidate in self.used:
            candidate, n = f"{self.prefix}{name}-{n}", n + 1
        self.used.add(candidate)
        return candidate


@dataclass(frozen=True)
class HeaderColumn:
    """A visible body column: its label (plain text), alignment (``left``/``right``/``center``),
    spanner label (plain text, or None) and the style of its label cell (or None)."""

    key: str
    label: str
    align: str
    spanner: str | None = None
    label_style: str | None = None


_NO_GROUP = object()


def _display_order(n: int, groups: Sequence[str] | None) -> list[tuple[int, str | None]]:
    """Rows grouped by their group in order of first appearance (as great_tables shows them)."""
    if groups is None:
        return [(i, None) for i in range(n)]
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    return [(i, g) for g, rows in by_group.items() for i in rows]


def _th(cls: str, rowspan: int, colspan: int, scope: str, *, style: str | None = None,
        id_: str | None = None, inner: str = "") -> str:
    attrs = f'class="{cls}" rowspan="{rowspan}" colspan="{colspan}"'
    if style:
        attrs += f' style="{escape(style)}"'
    attrs += f' scope="{scope}"'
    if id_:
        attrs += f' id="{escape(id_)}"'
    return f"<th {attrs}>{inner}</th>"


def render(table_id: str, css_class: str, columns: Sequence[HeaderColumn],
           cells: Sequence[Sequence[tuple[str, str | None]]], *,
           stub: Sequence[Any] | None = None, groups: Sequence[str] | None = None,
           notes: Sequence[str] = ()) -> str:
    """One table's markup, as great_tables writes it (compact: no indentation, no per-cell
    ``headers`` lists; every header cell has a ``scope``).

    ``cells[i]`` holds row ``i``'s body cells, one ``(html, style)`` per column of ``columns``:
    ``html`` is markup-safe text (escaped by the caller), ``style`` the cell's inline style or
    None. ``stub`` holds the row labels (plain text; None for a table without a stub column),
    ``groups`` each row's group (plain text; rows are shown grouped, groups in order of first
    appearance), ``notes`` the source notes (plain text).
    """
    ids = _Ids(table_id)
    column_ids = [ids.make(c.key, "column") for c in columns]
    # spanners: one level, runs of equal labels (great_tables' run-length encoding)
    runs: list[tuple[str | None, int]] = []
    for c in columns:
        if c.spanner is not None and runs and runs[-1][0] == c.spanner:
            runs[-1] = (c.spanner, runs[-1][1] + 1)
        else:
            runs.append((c.spanner, 1))
    spanner_ids: dict[str, str] = {}
    for label, _ in runs:
        if label is not None and label not in spanner_ids:
            spanner_ids[label] = ids.make(label, "spanner")

    n_stub = 0 if stub is None else 1
    n_cols = len(columns) + n_stub
    spanned = any(label is not None for label, _ in runs)
    head: list[str] = []
    if not spanned:
        row = ['<tr class="gt_col_headings">']
        if stub is not None:
            row.append(_th("gt_col_heading gt_columns_bottom_border gt_left", 1, 1, "col"))
        for c, cid in zip(columns, column_ids):
            row.append(_th(f"gt_col_heading gt_columns_bottom_border gt_{c.align}", 1, 1, "col",
                           style=c.label_style, id_=cid, inner=escape(c.label)))
        row.append("</tr>")
        head = row
    else:
        top = ['<tr class="gt_col_headings gt_spanner_row">']
        below = ['<tr class="gt_col_headings">']
        if stub is not None:
            top.append(_th("gt_col_heading gt_columns_bottom_border gt_left", 2, 1, "col"))
        k = 0
        for label, span in runs:
            if label is None:
                for c, cid in zip(columns[k:k + span], column_ids[k:k + span]):
                    top.append(_th(f"gt_col_heading gt_columns_bottom_border gt_{c.align}", 2, 1,
                                   "col", style=c.label_style, id_=cid, inner=escape(c.label)))
            else:
                top.append(_th("gt_center gt_columns_top_border gt_column_spanner_outer", 1, span,
                               "colgroup" if span > 1 else "col", id_=spanner_ids[label],
                               inner=f'\n<span class="gt_column_spanner">{escape(label)}</span>\n'))
                for c, cid in zip(columns[k:k + span], column_ids[k:k + span]):
                    below.append(_th(f"gt_col_heading gt_columns_bottom_border gt_{c.align}", 1,
                                     1, "col", style=c.label_style, id_=cid,
                                     inner=escape(c.label)))
            k += span
        head = [*top, "</tr>", *below, "</tr>"]

    body: list[str] = []
    current: object = _NO_GROUP
    for i, group in _display_order(len(cells), groups):
        if groups is not None and group != current:
            current = group
            gid = ids.make(group, "group")
            label = escape(group)
            row_class = "gt_empty_group_heading" if label == "" else "gt_group_heading_row"
            scope = "colgroup" if n_cols > 1 else "col"
            body.append(f'<tr class="{row_class}">\n<th class="gt_group_heading" '
                        f'colspan="{n_cols}" scope="{scope}" id="{escape(gid)}">{label}</th>'
                        "\n</tr>")
        body.append("<tr>")
        if stub is not None:
            sid = ids.make(f"stub-{i + 1}", "stub")
            body.append(f'<th scope="row" id="{escape(sid)}" class="gt_row gt_left gt_stub">'
                        f"{escape(stub[i])}</th>")
        for c, (text, style) in zip(columns, cells[i]):
            style_attr = f' style="{escape(style)}"' if style else ""
            body.append(f'<td{style_attr} class="gt_row gt_{c.align}">{text}</td>')
        body.append("</tr>")

    foot = ""
    if notes:
        foot = "<tfoot>" + "".join(
            f'<tr class="gt_sourcenotes"><td class="gt_sourcenote" colspan="{n_cols}">'
            f'<span class="gt_from_md">{escape(n)}</span></td></tr>' for n in notes) + "</tfoot>"
    return (f'<div id="{escape(table_id)}" class="{css_class}" style="{CONTAINER_STYLE}">\n'
            '<table class="gt_table" data-quarto-disable-processing="false" '
            'data-quarto-bootstrap="false">\n<thead>\n\n' + "\n".join(head)
            + '\n</thead>\n<tbody class="gt_table_body">\n' + "\n".join(body)
            + f"\n</tbody>\n{foot}\n</table>\n\n</div>\n")
