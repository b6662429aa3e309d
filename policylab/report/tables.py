"""Result tables of the report.

Every table has a fixed ``id`` (so its element ids are the same on every run). The markup is
the markup great_tables wrote for these tables, written directly by
:mod:`policylab.report._html_table` (great_tables took about 70 ms a table, most of it in its
pandas bookkeeping; this takes well under one): the same structure (column labels with
spanners, row groups, a stub column, source notes), ``scope`` on every header cell, the same
element ids and CSS classes; numbers exactly as great_tables' ``fmt_number``/``fmt_integer``
write them (true minus sign U+2212, thousands separators; the tests compare value by value).
Each builder follows great_tables' order of work: formats, then substitutions (missing values
"—", suppressed cells "·", ...; the last one that applies wins), then merges
("estimate [low, high]"), then cell styles in the order given.

Escaping: every text that comes from data (labels, row and group names, text cells, notes) is
escaped (quotes too) when the markup is written, so user strings (region, indicator, warning
text) are inert; formatted numbers are ours.

Compact markup: every header cell has a ``scope`` (column, column group or row), which is how
assistive technology pairs a cell with its headers in tables like these; there are no per-cell
``headers`` lists and no indentation.

Shared stylesheet: ``templates/tables.css`` is the stylesheet great_tables writes for a table
with :data:`TABLE_OPTIONS` (a test regenerates it with great_tables and compares), with the
table's selector replaced by ``#__gt_scope__``. :func:`stylesheet` scopes it by a class named
after the hash of that text (``gtcss-<10 hex digits>``); each page carries it once, in its
head.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from .. import units
from markupsafe import Markup

from ..estimators import ESTIMATORS
from . import _html_table as H

__all__ = [
    "MISSING",
    "NOT_AVAILABLE",
    "SUPPRESSED_MARK",
    "TABLE_OPTIONS",
    "Column",
    "Table",
    "context_table",
    "dashboard_table",
    "data_quality_table",
    "event_study_table",
    "figures_table",
    "impact_table",
    "key_figures_table",
    "period_table",
    "stylesheet",
    "summary_table",
]

#: Rows of one indicator in the dashboard: totals and the compared groups before breakdowns.
_GROUP_RANK = {g: i for i, g in enumerate(
    ["all", "members", "never_members", "not_yet_members", "via_clusters", "micro", "small",
     "medium", "large", "size_unknown"])}

SUPPRESSED_MARK = "·"
NOT_AVAILABLE = "n/a"
MISSING = "—"

#: Short label of each estimator: the registry's (:mod:`policylab.estimators`).
METHOD_LABELS = {name: spec.label for name, spec in ESTIMATORS.items()}

#: great_tables ``tab_options`` that ``templates/tables.css`` was written with.
TABLE_OPTIONS: dict[str, str] = {
    "table_font_size": "13px",
    "data_row_padding": "3px",
    "column_labels_font_weight": "bold",
    "heading_align": "left",
    "table_margin_left": "0",
    "source_notes_font_size": "12px",
    "row_group_font_weight": "bold",
    "row_group_padding": "5px",
}

_SCOPE = "#__gt_scope__"

# cell styles, as great_tables wrote them (style.text(weight="bold"), style.fill(...), style.css)
_BOLD = "font-weight: bold;"
_GREY = "background-color: #e6e6e6;"
_NOWRAP = "white-space: nowrap"


@functools.lru_cache(maxsize=1)
def stylesheet() -> tuple[str, str]:
    """``(css_class, css)``: the tables' stylesheet, scoped by ``css_class``."""
    text = resources.files("policylab.report").joinpath("templates/tables.css").read_text("utf-8")
    text = text.strip()
    if "</" in text:  # pragma: no cover - guards a file inlined into <style>
        raise ValueError("tables.css must not contain '</'")
    css_class = "gtcss-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return css_class, text.replace(_SCOPE, "." + css_class)


def _decimals(values: Sequence[float]) -> int | None:
    """Decimals for a run of numbers: ``None`` (integers) when all are whole numbers,
    otherwise fewer decimals the larger the numbers are."""
    finite = [float(v) for v in values if v is not None and not pd.isna(v) and math.isfinite(v)]
    if not finite:
        return 2
    if all(v.is_integer() for v in finite):
        return None
    big = max(abs(v) for v in finite)
    if big >= 1000:
        return 0
    if big >= 100:
        return 1
    if big >= 1:
        return 2
    return 3


@dataclass(frozen=True)
class Table:
    """One rendered table: its id, its HTML without the stylesheet, and that stylesheet.

    ``css_class`` names the class the stylesheet is scoped by.
    Rendering a ``Table`` in a template inserts ``html`` (it has ``__html__``).
    """

    id: str
    html: Markup
    css_class: str = ""
    css: str = ""

    def __html__(self) -> str:
        return str(self.html)

    def __str__(self) -> str:
        return str(self.html)


# --------------------------------------------------------------------------- one table's cells

Formatter = Callable[[Any], "str | None"]


class _Body:
    """The body cells of one table, built as great_tables builds them.

    ``values`` holds each column's raw values. :meth:`fmt` formats values (missing ones are
    left for substitutions), :meth:`sub_missing`/:meth:`sub_small` replace a cell by its raw
    value (the last call that applies wins; every format call must come first), :meth:`merge`
    writes several columns' texts into the first through a pattern, :meth:`style` adds inline
    styles. A cell nothing wrote shows its raw value as text, escaped.
    """

    def __init__(self, values: Mapping[str, Sequence[Any]], n: int) -> None:
        self.n = n
        self.values = {k: list(v) for k, v in values.items()}
        self.text: dict[str, list[str | None]] = {k: [None] * n for k in self.values}
        self.styles: dict[tuple[str, int], list[str]] = {}

    def _rows(self, rows: Sequence[int] | None) -> Sequence[int]:
        return range(self.n) if rows is None else rows

    def fmt(self, columns: Sequence[str], formatter: Formatter,
            rows: Sequence[int] | None = None) -> None:
        for c in columns:
            values, text = self.values[c], self.text[c]
            for i in self._rows(rows):
                out = formatter(values[i])
                if out is not None:
                    text[i] = out

    def sub_missing(self, missing_text: str, columns: Sequence[str] | None = None,
                    rows: Sequence[int] | None = None) -> None:
        shown = H.escape(missing_text)
        for c in self.values if columns is None else columns:
            values, text = self.values[c], self.text[c]
            for i in self._rows(rows):
                if H.is_missing(values[i]):
                    text[i] = shown

    def sub_small(self, columns: Sequence[str], threshold: float, small_text: str) -> None:
        """Positive values below ``threshold`` (not zero) shown as ``small_text``."""
        shown = H.escape(small_text)
        for c in columns:
            values, text = self.values[c], self.text[c]
            for i in range(self.n):
                v = values[i]
                if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) \
                        and v == v and 0 < v < threshold:
                    text[i] = shown

    def cell(self, column: str, i: int) -> str:
        text = self.text[column][i]
        if text is not None:
            return text
        value = self.values[column][i]
        if isinstance(value, float) and value == 0:
            value = 0.0  # great_tables shows no "-0.0"
        return H.escape(value)

    def merge(self, columns: Sequence[str], rows: Sequence[int], pattern: str) -> None:
        first = self.text[columns[0]]
        for i in rows:
            out = pattern
            for k, c in enumerate(columns):
                out = out.replace("{" + str(k) + "}", self.cell(c, i))
            first[i] = out

    def style(self, declarations: Sequence[str], columns: Sequence[str],
              rows: Sequence[int] | None = None) -> None:
        for c in columns:
            for i in self._rows(rows):
                self.styles.setdefault((c, i), []).extend(declarations)

    def rows(self, columns: Sequence[str]) -> list[list[tuple[str, str | None]]]:
        out = []
        for i in range(self.n):
            row = []
            for c in columns:
                styles = self.styles.get((c, i))
                row.append((self.cell(c, i), H.join_styles(styles) if styles else None))
            out.append(row)
        return out


def _render(table_id: str, body: _Body, columns: Sequence[H.HeaderColumn], *,
            stub: Sequence[Any] | None = None, groups: Sequence[str] | None = None,
            notes: Sequence[str] = ()) -> Table:
    css_class, css = stylesheet()
    html = H.render(table_id, css_class, columns, body.rows([c.key for c in columns]),
                    stub=stub, groups=groups, notes=notes)
    # every text from data was escaped by the renderer or by _Body: the fragment is ours
    return Table(table_id, Markup(html), css_class, css)


def _gather(order: list[str], spanners: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Column order after great_tables' ``tab_spanner(gather=True)``: each spanner's columns
    moved next to its first one."""
    for _, cols in spanners:
        cols = [c for c in cols if c in order]
        if not cols:
            continue
        moving = [c for c in cols[1:] if c != cols[0]]
        others = [c for c in order if c not in moving]
        k = others.index(cols[0])
        order = [*others[:k + 1], *moving, *others[k + 1:]]
    return order


def _floats(values: Sequence[Any]) -> list[float]:
    """Numbers as floats, missing ones (None, NaN, ``pd.NA``) as NaN."""
    return [math.nan if H.is_missing(v) else float(v) for v in values]


def _finite(*values: Any) -> bool:
    return all(math.isfinite(v) for v in values)


# --------------------------------------------------------------------------- formats by kind

@dataclass(frozen=True)
class Column:
    """A column of a summary table: its key in the frame, label, kind and optional spanner.

    ``kind``: ``"count"`` (integers), ``"money"`` (compact: 12.9M), ``"percent"`` (one
    decimal), ``"effect"`` (signed, one decimal, merged with ``<key>_low``/``<key>_high``
    into "estimate [low, high]") or ``"text"``.
    """

    key: str
    label: str
    kind: str
    spanner: str = ""
    decimals: int | None = None
    formatter: Formatter | None = None  # overrides the kind's format (an effect's units)


_FLAG_TEXT = {"suppressed": SUPPRESSED_MARK, "not_available": NOT_AVAILABLE}


def _number(decimals: int, *, force_sign: bool = False, compact: bool = False) -> Formatter:
    return functools.partial(H.format_number, decimals=decimals, force_sign=force_sign,
                             compact=compact)


def _integer(*, use_seps: bool = True) -> Formatter:
    return functools.partial(H.format_integer, use_seps=use_seps)


def effect_formatter(outcome: str, *, sign: bool = True) -> Formatter:
    """Cells of effects on ``outcome`` already in display units
    (:func:`policylab.units.display_value`), written as :func:`policylab.units.effect_text`
    writes them, without the unit (the header names it)."""
    def fmt(value: Any) -> str | None:
        if H.is_missing(value):
            return None
        return H.escape(units.display_text(outcome, float(value), sign=sign, unit=False))

    if sign:  # an interval's ends carry no plus sign, as in the first screen
        fmt.bounds = effect_formatter(outcome, sign=False)  # type: ignore[attr-defined]
    return fmt


def _bounds(formatter: Formatter | None) -> Formatter | None:
    return getattr(formatter, "bounds", formatter)


def _format_kind(body: _Body, kind: str, columns: list[str], rows: list[int] | None = None,
                 decimals: int | None = None, formatter: Formatter | None = None) -> None:
    """Format ``columns`` by kind: ``count`` (integer), ``money`` (compact: 12.9M), ``eur``
    (whole euros), ``percent`` (one decimal), ``effect`` and ``signed`` (with a sign; an
    effect merges its interval, see :func:`figures_table`), ``number`` (two
    decimals), ``ratio`` (three), ``pvalue`` (three, "<0.001"), ``year`` (no separator);
    ``decimals`` overrides the default of a kind that has decimals. Other kinds (``text``)
    are not formatted; a ``formatter`` replaces the kind's format."""
    if formatter is not None:
        body.fmt(columns, formatter, rows)
        return

    def d(default: int) -> int:
        return default if decimals is None else decimals

    if kind == "count":
        body.fmt(columns, _integer(), rows)
    elif kind == "money":
        body.fmt(columns, _number(d(1), compact=True), rows)
    elif kind == "eur":
        body.fmt(columns, _number(d(0)), rows)
    elif kind == "percent":
        body.fmt(columns, _number(d(1)), rows)
    elif kind in ("effect", "signed"):
        body.fmt(columns, _number(d(1), force_sign=True), rows)
    elif kind == "number":
        body.fmt(columns, _number(d(2)), rows)
    elif kind == "ratio":
        body.fmt(columns, _number(d(3)), rows)
    elif kind == "pvalue":
        body.fmt(columns, _number(3), rows)
        # as great_tables' sub_small_vals(columns=...) did: every row of these columns
        body.sub_small(columns, 0.001, "<0.001")
    elif kind == "year":
        body.fmt(columns, _integer(use_seps=False), rows)


def _flag_cells(body: _Body, flags: Mapping[str, Mapping[int, str]]) -> set[str]:
    """Mark flagged cells ("·" suppressed on grey, "n/a" not available); return the kinds used."""
    used: set[str] = set()
    for column, by_row in flags.items():
        for flag in ("suppressed", "not_available"):
            rows = sorted(i for i, f in by_row.items() if f == flag)
            if not rows:
                continue
            used.add(flag)
            body.sub_missing(_FLAG_TEXT[flag], [column], rows)
            if flag == "suppressed":
                body.style([_BOLD, _GREY], [column], rows)
    return used


def _flag_notes(used: set[str], min_cell_firms: Any) -> list[str]:
    notes = []
    if "suppressed" in used:
        notes.append(f"{SUPPRESSED_MARK} suppressed: fewer than {min_cell_firms} firms")
    if "not_available" in used:
        notes.append(f"{NOT_AVAILABLE}: not available (the input it needs was not provided)")
    return notes


def _spanned(columns: Sequence[Column], visible: list[str], labels: Mapping[str, str],
             aligns: Mapping[str, str]) -> list[H.HeaderColumn]:
    """Header columns of ``visible`` keys, gathered under the spanners of ``columns``."""
    spanner_of = {c.key: c.spanner for c in columns if c.spanner}
    spanners = [(s, [c.key for c in columns if c.spanner == s])
                for s in dict.fromkeys(c.spanner for c in columns if c.spanner)]
    order = _gather(visible, spanners)
    return [H.HeaderColumn(k, labels.get(k, k), aligns[k], spanner_of.get(k)) for k in order]


def _text_values(frame: pd.DataFrame, key: str) -> tuple[list[Any], str]:
    """A text column's values (through :func:`_text`) and its alignment."""
    values = [_text(v) for v in frame[key].tolist()]
    return values, H.text_align(values)


# --------------------------------------------------------------------------- the tables

def dashboard_table(
    rows: pd.DataFrame, *, table_id: str, years: list[str], cumulative: bool, min_cell_firms: Any
) -> Table:
    """One region's indicator dashboard: rows = indicator × group, columns = periods.

    ``rows`` are the region's indicator rows in canonical order. Suppressed cells show a bold
    "·" on a grey ground, indicators whose input was not provided "n/a", empty cells "—".
    """
    periods = [*years, *(["cumulative"] if cumulative else [])]
    ind_ids = rows["indicator_id"].astype(str).tolist()
    groups = rows["group"].astype(str).tolist()
    names, units = rows["indicator"].tolist(), rows["unit"].tolist()
    period_col, value_col, flag_col = (rows["period"].tolist(), rows["value"].tolist(),
                                       rows["flag"].tolist())
    members: dict[tuple[str, str], list[int]] = {}
    for j, key in enumerate(zip(ind_ids, groups)):
        members.setdefault(key, []).append(j)
    keys = list(members)
    first = {ind: i for i, (ind, _) in reversed(list(enumerate(keys)))}
    keys.sort(key=lambda k: (first[k[0]], _GROUP_RANK.get(k[1], len(_GROUP_RANK)), k[1]))
    labels, stub = [], []
    values: dict[str, list[float]] = {p: [] for p in periods}
    flags: dict[str, list[tuple[int, str]]] = {p: [] for p in periods}
    for i, (ind_id, group) in enumerate(keys):
        js = members[(ind_id, group)]
        labels.append(f"{names[js[0]]} ({units[js[0]]}) · {ind_id}")
        stub.append(group.replace("_", " "))
        by_period = {str(period_col[j]): j for j in js}
        for p in periods:
            j = by_period.get(p)
            v = None if j is None else value_col[j]
            values[p].append(math.nan if v is None or pd.isna(v) else float(v))
            flag = "" if j is None or pd.isna(flag_col[j]) else str(flag_col[j])
            if flag:
                flags[p].append((i, flag))

    body = _Body(values, len(keys))
    by_decimals: dict[int | None, list[int]] = {}
    for i in range(len(keys)):
        by_decimals.setdefault(_decimals([values[p][i] for p in periods]), []).append(i)
    for decimals, rows_at in by_decimals.items():
        body.fmt(periods, _integer() if decimals is None else _number(decimals), rows_at)
    body.sub_missing(MISSING)
    n_suppressed = 0
    for p in periods:
        supp = [i for i, f in flags[p] if f == "suppressed"]
        na = [i for i, f in flags[p] if f == "not_available"]
        if supp:
            n_suppressed += len(supp)
            body.sub_missing(SUPPRESSED_MARK, [p], supp)
            body.style([_BOLD, _GREY], [p], supp)
        if na:
            body.sub_missing(NOT_AVAILABLE, [p], na)
    notes = []
    if n_suppressed:
        notes.append(f"{SUPPRESSED_MARK} suppressed: fewer than {min_cell_firms} firms")
    if any(f == "not_available" for p in periods for _, f in flags[p]):
        notes.append(f"{NOT_AVAILABLE}: not available (the input it needs was not provided)")
    notes.append(f"{MISSING}: no value. Earlier years and the number of firms behind each "
                 "cell: indicators.csv")
    columns = [H.HeaderColumn(p, "Cumulative" if p == "cumulative" and cumulative else p,
                              "right") for p in periods]
    return _render(table_id, body, columns, stub=stub, groups=labels, notes=notes)


_IMPACT_COUNTS = ["n_firms", "n_treated", "n_treated_clusters", "n_clusters"]


#: How to read the planning-figure columns of the impact table.
PLANNING_NOTE = (
    "Planning figure: the region's effect in the light of the other regions, for planning, "
    "not its own estimate. It is the empirical-Bayes (BLUP) estimate of the random-effects "
    "model that pools the regions: the region's own estimate pulled toward the lab-wide mean, "
    "the less the more precise it is and the more the regions differ. \"Own data carry\": the "
    "share of the figure that rests on the region's own estimate (the rest on the lab mean). "
    "Its interval allows for the uncertainty of the lab mean and of the between-region "
    "variance (Prasad-Rao correction, never wider than the region's own interval).")


def impact_table(effects: pd.DataFrame, *, table_id: str, ci_label: str,
                 pooled: pd.DataFrame | None = None, pooled_notes: Sequence[str] = (),
                 headline_label: str = "", robustness: Sequence[tuple[str, str]] = (),
                 decimals: int | None = None, outcome: str | None = None) -> Table:
    """Headline effect per region for one outcome, and the lab-wide pooled effect.

    ``effects`` has one row per region (the headline estimator's effect) with columns
    ``region, estimate, std_error, conf_low, conf_high, p_value, n_firms, n_treated,
    n_treated_clusters, n_clusters, notes``; ``pooled`` has the same columns and is shown as a
    second row group. ``robustness`` names other estimators as ``(key, label)``: the frames
    then hold ``<key>``, ``<key>_low``, ``<key>_high`` and each becomes one column
    "estimate [low, high]" under a "Robustness" spanner. ``headline_label`` heads the headline
    columns; ``pooled_notes`` become source notes.
    """
    robust_cols = [f"{k}{e}" for k, _ in robustness for e in ("", "_low", "_high")]
    # a planning figure (the lab-informed empirical-Bayes estimate) when the frame has one
    plan_cols = ["planning", "planning_low", "planning_high"] if "planning" in effects else []
    numeric = ["estimate", "std_error", "conf_low", "conf_high", "p_value", *robust_cols,
               *plan_cols, *(["own_weight"] if plan_cols else [])]
    parts = [effects] + ([pooled] if pooled is not None and len(pooled) else [])
    grouped = len(parts) > 1
    n = sum(len(f) for f in parts)

    def column(c: str) -> list[Any]:
        out: list[Any] = []
        for frame in parts:
            out += frame[c].tolist() if c in frame else [None] * len(frame)
        return out

    values: dict[str, list[Any]] = {c: _floats(column(c)) for c in [*numeric, *_IMPACT_COUNTS]}
    unit = units.outcome_unit(outcome) if outcome is not None else None
    if outcome is not None:
        shown = ["estimate", "conf_low", "conf_high", *robust_cols, *plan_cols]
        if unit is not None and unit.linear:
            shown.append("std_error")
        for c in shown:
            values[c] = [units.display_value(outcome, v) for v in values[c]]
    values["notes"] = [None if v is None or v == "" or (isinstance(v, float) and math.isnan(v))
                       else str(v) for v in column("notes")]
    stub = column("region")
    both = [i for i in range(n) if _finite(values["conf_low"][i], values["conf_high"][i])]
    if decimals is None:
        decimals = max(_decimals([v for c in ("estimate", "std_error", "conf_low", "conf_high")
                                  for v in values[c]]) or 0, 3)

    body = _Body(values, n)
    if outcome is None:
        body.fmt(["estimate", "std_error", "conf_low", "conf_high"], _number(decimals))
    else:
        body.fmt(["estimate"], effect_formatter(outcome))
        body.fmt(["conf_low", "conf_high"], effect_formatter(outcome, sign=False))
        body.fmt(["std_error"], effect_formatter(outcome, sign=False) if unit and unit.linear
                 else _number(3))
    body.fmt(["p_value"], _number(3))
    body.fmt(_IMPACT_COUNTS, _integer())
    for key, _ in robustness:
        body.fmt([key], _number(decimals, force_sign=True) if outcome is None
                 else effect_formatter(outcome))
        body.fmt([f"{key}_low", f"{key}_high"], _number(decimals, force_sign=True)
                 if outcome is None else effect_formatter(outcome, sign=False))
    if plan_cols:
        body.fmt(["planning"], _number(decimals, force_sign=True) if outcome is None
                 else effect_formatter(outcome))
        body.fmt(["planning_low", "planning_high"], _number(decimals, force_sign=True)
                 if outcome is None else effect_formatter(outcome, sign=False))
        body.fmt(["own_weight"], lambda v: None if H.is_missing(v) else f"{100 * float(v):.0f}%")
    body.sub_small(["p_value"], 0.001, "<0.001")
    body.sub_missing(MISSING)
    if both:
        body.merge(["conf_low", "conf_high"], both, "[{0}, {1}]")
    if plan_cols:
        with_plan = [i for i in range(n) if _finite(*(values[k][i] for k in plan_cols))]
        if with_plan:
            body.merge(plan_cols, with_plan, "{0} [{1}, {2}]")
    for key, _ in robustness:
        low, high = f"{key}_low", f"{key}_high"
        with_ci = [i for i in range(n) if _finite(*(values[k][i] for k in (key, low, high)))]
        if with_ci:
            body.merge([key, low, high], with_ci, "{0} [{1}, {2}]")
    robust_keys = [k for k, _ in robustness]
    body.style([_NOWRAP], ["estimate", "std_error", "conf_low", "p_value", *robust_keys])
    if grouped:
        body.style([_BOLD], list(values), list(range(len(parts[0]), n)))

    in_unit = f", {unit.unit}" if unit is not None and unit.unit != "units" else ""
    se_label = "SE" if unit is None or unit.linear else "SE, log points"
    labels = {"estimate": "Estimate", "std_error": se_label, "conf_low": ci_label,
              "p_value": "p-value", "n_firms": "Firms", "n_treated": "Treated firms",
              "n_treated_clusters": "Treated consortia", "n_clusters": "Clusters",
              "notes": "Notes", "planning": f"Planning figure [{ci_label}]",
              "own_weight": "Own data carry", **{k: label for k, label in robustness}}
    headline = ["estimate", "std_error", "conf_low", "p_value"]
    spans = {**{k: (headline_label or "Headline estimate") + in_unit for k in headline},
             **{k: "Sample" for k in _IMPACT_COUNTS},
             **{k: f"Robustness: other estimators{in_unit}, estimate [{ci_label}]"
                for k in robust_keys},
             **{k: f"Lab-informed expectation (planning, not the headline){in_unit}"
                for k in ("planning", "own_weight")}}
    plan_keys = ["planning", "own_weight"] if plan_cols else []
    columns = [H.HeaderColumn(k, labels[k], H.text_align(values["notes"]) if k == "notes"
                              else "right", spans.get(k), _NOWRAP)
               for k in [*headline, *plan_keys, *_IMPACT_COUNTS, *robust_keys, "notes"]]
    notes = ["Estimate: the headline effect of membership (see Methods). SE: standard error; "
             "p-value: two-sided, for this estimate alone. Clusters: clusters of the standard "
             "errors (each never-member is its own); treated consortia: those with member firms.",
             *([] if unit is None or unit.linear else [
                 "Estimates and interval ends are percent changes, 100 (exp(b) − 1) of the "
                 "estimate b in log points; the standard error stays in log points."]),
             *([PLANNING_NOTE] if plan_cols else []),
             *pooled_notes]
    groups = ["Regions"] * len(parts[0]) + ["Lab-wide"] * (n - len(parts[0])) if grouped else None
    return _render(table_id, body, columns, stub=stub, groups=groups, notes=notes)


def event_study_table(points: pd.DataFrame, *, table_id: str, ci_label: str,
                      series_order: Sequence[str] = (), outcome: str | None = None) -> Table:
    """The numbers behind one event-study chart: one row per event time; with a ``series``
    column (several estimators), one "estimate [CI]" column group per series. With
    ``outcome``, the points are in its display unit (:func:`policylab.units.convert`) and
    written as everywhere else; the standard error then stays as given."""
    effect = None if outcome is None else effect_formatter(outcome)
    se_label = ("SE, log points" if outcome is not None and not units.outcome_unit(outcome).linear
                else "SE")
    if "series" not in points or len(series_order) <= 1:
        cols = ["event_time", "estimate", "std_error", "conf_low", "conf_high", "p_value"]
        values = {c: points[c].tolist() for c in cols}
        kinds = {"reference": "reference (0 by construction)", "estimate": ""}
        values["kind"] = [kinds.get(k, math.nan) if isinstance(k, str) else math.nan
                          for k in points["kind"].tolist()]
        aligns = {c: H.dtype_align(points[c].dtype, values[c]) for c in cols}
        aligns["kind"] = H.text_align(values["kind"])
        n = len(points)
        numbers = ["estimate", "std_error", "conf_low", "conf_high"]
        decimals = max(_decimals([v for c in numbers for v in values[c]]) or 0, 3)
        both = [i for i in range(n) if _finite(values["conf_low"][i], values["conf_high"][i])]
        body = _Body(values, n)
        body.fmt(["event_time"], _integer())
        body.fmt(numbers, _number(decimals))
        if effect is not None:
            body.fmt(["estimate"], effect)
            body.fmt(["conf_low", "conf_high"], _bounds(effect))
        body.fmt(["p_value"], _number(3))
        body.sub_small(["p_value"], 0.001, "<0.001")
        body.sub_missing(MISSING)
        if both:
            body.merge(["conf_low", "conf_high"], both, "[{0}, {1}]")
        body.style([_NOWRAP], ["estimate", "std_error", "conf_low", "p_value"])
        labels = {"event_time": "Event time", "estimate": "Estimate", "std_error": se_label,
                  "conf_low": ci_label, "p_value": "p-value", "kind": ""}
        visible = [c for c in [*cols, "kind"] if not (c == "conf_high" and both)]
        columns = [H.HeaderColumn(c, labels.get(c, c), aligns[c]) for c in visible]
        return _render(table_id, body, columns)

    times = sorted({int(t) for t in points["event_time"]})
    values = {"event_time": times}
    keys: list[tuple[str, str]] = []
    refs: dict[str, list[int]] = {}
    series, event_times = points["series"].tolist(), points["event_time"].tolist()
    for j, name in enumerate(series_order):
        at: dict[Any, int] = {}
        for r, (s, t) in enumerate(zip(series, event_times)):
            if s == name and t not in at:
                at[t] = r
        key = f"s{j}"
        keys.append((key, name))
        for col, src in (("", "estimate"), ("_se", "std_error"), ("_low", "conf_low"),
                         ("_high", "conf_high")):
            column = points[src].tolist()
            values[key + col] = [float(column[at[t]]) if t in at else math.nan for t in times]
        kind = points["kind"].tolist()
        refs[key] = [i for i, t in enumerate(times) if t in at and kind[at[t]] == "reference"]
    numeric = [c for c in values if c != "event_time"]
    decimals = max(_decimals([v for c in numeric for v in values[c]]) or 0, 3)
    n = len(times)
    body = _Body(values, n)
    body.fmt(["event_time"], _integer())
    body.fmt(numeric, _number(decimals))
    if effect is not None:
        for key, _ in keys:
            body.fmt([key], effect)
            body.fmt([key + "_low", key + "_high"], _bounds(effect))
    body.sub_missing(MISSING)
    for key, _ in keys:
        if refs[key]:
            body.sub_missing("reference", [key + "_se", key + "_low"], refs[key])
    for key, _ in keys:
        with_ci = [i for i in range(n)
                   if _finite(values[key + "_low"][i], values[key + "_high"][i])]
        if with_ci:
            body.merge([key + "_low", key + "_high"], with_ci, "[{0}, {1}]")
    body.style([_NOWRAP], numeric)
    columns = [H.HeaderColumn("event_time", "Event time", "right")]
    for key, name in keys:
        columns += [H.HeaderColumn(key, "Estimate", "right", name),
                    H.HeaderColumn(key + "_se", se_label, "right", name),
                    H.HeaderColumn(key + "_low", ci_label, "right", name)]
    note = ("reference: the year the estimator sets to 0 (no uncertainty). "
            f"{MISSING}: no estimate for that event time.")
    return _render(table_id, body, columns, notes=[note])


def data_quality_table(frame: pd.DataFrame, *, table_id: str) -> Table:
    """Every column of ``EvaluationResult.data_quality``, one row per region."""
    df = frame.reset_index(drop=True).copy()
    df.columns = [str(c) for c in df.columns]
    numeric: list[str] = []
    values: dict[str, list[Any]] = {}
    aligns: dict[str, str] = {}
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_bool_dtype(col):
            values[c] = [MISSING if pd.isna(v) else ("yes" if v else "no") for v in col.tolist()]
            aligns[c] = H.text_align(values[c])
        elif pd.api.types.is_numeric_dtype(col):
            values[c] = _floats(col.tolist())
            aligns[c] = "right"
            numeric.append(c)
        else:
            values[c] = [_text(v) for v in col.tolist()]
            aligns[c] = H.text_align(values[c])
    body = _Body(values, len(df))
    for c in numeric:
        if c == "year" or c.endswith("_year"):  # calendar years: no thousands separator
            body.fmt([c], _integer(use_seps=False))
        else:
            decimals = _decimals(values[c])
            body.fmt([c], _integer() if decimals is None else _number(decimals))
    body.sub_missing(MISSING)
    columns = [H.HeaderColumn(c, c.replace("_", " "), aligns[c]) for c in values]
    return _render(table_id, body, columns)


def summary_table(frame: pd.DataFrame, *, table_id: str, columns: Sequence[Column],
                  flags: Mapping[str, Mapping[int, str]], notes: Sequence[str],
                  min_cell_firms: Any) -> Table:
    """Headline numbers, one row per region (``frame['region']``), one column per figure."""
    df = frame.reset_index(drop=True)
    values: dict[str, list[Any]] = {}
    aligns: dict[str, str] = {}
    for c in columns:
        if c.kind == "text":
            values[c.key] = df[c.key].tolist()
            aligns[c.key] = H.dtype_align(df[c.key].dtype, values[c.key])
        else:
            values[c.key] = df[c.key].astype("float64").tolist()
            aligns[c.key] = "right"
    for c in columns:
        if c.kind == "effect":
            for e in ("low", "high"):
                values[f"{c.key}_{e}"] = df[f"{c.key}_{e}"].astype("float64").tolist()
    body = _Body(values, len(df))
    for c in columns:
        _format_kind(body, c.kind, [c.key], formatter=c.formatter)
        if c.kind == "effect":
            _format_kind(body, "effect", [f"{c.key}_low", f"{c.key}_high"],
                         formatter=_bounds(c.formatter))
    body.sub_missing(MISSING)
    used = _flag_cells(body, flags)  # after the general rule: the last substitution wins
    _merge_effects(body, columns)
    effect_cols = [c.key for c in columns if c.kind == "effect"]
    if effect_cols:
        body.style([_NOWRAP], effect_cols)
    header = _spanned(columns, [c.key for c in columns], {c.key: c.label for c in columns},
                      aligns)
    return _render(table_id, body, header, stub=df["region"].tolist(),
                   notes=[*notes, *_flag_notes(used, min_cell_firms)])


def _merge_effects(body: _Body, columns: Sequence[Column]) -> None:
    """Each effect column shows "estimate [low, high]" where all three are finite."""
    for c in columns:
        if c.kind == "effect":
            keys = [c.key, f"{c.key}_low", f"{c.key}_high"]
            with_ci = [i for i in range(body.n) if _finite(*(body.values[k][i] for k in keys))]
            if with_ci:
                body.merge(keys, with_ci, "{0} [{1}, {2}]")


def key_figures_table(frame: pd.DataFrame, *, table_id: str, ci_label: str,
                      notes: Sequence[str], min_cell_firms: Any,
                      effect_format: Formatter | None = None) -> Table:
    """One region's headline numbers, one row each.

    ``frame`` columns: ``label, value, kind, period, conf_low, conf_high, flag`` (``kind`` as in
    :class:`Column`).
    """
    df = frame.reset_index(drop=True)
    values: dict[str, list[Any]] = {
        "value": df["value"].astype("float64").tolist(),
        "period": [None if p is None or p == "" else str(p) for p in df["period"].tolist()],
        "conf_low": df["conf_low"].astype("float64").tolist(),
        "conf_high": df["conf_high"].astype("float64").tolist(),
    }
    kinds = df["kind"].tolist()
    n = len(df)
    body = _Body(values, n)
    for kind in dict.fromkeys(kinds):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        own = effect_format if kind == "effect" else None
        _format_kind(body, kind, ["value"], rows, formatter=own)
        if kind == "effect":
            _format_kind(body, kind, ["conf_low", "conf_high"], rows, formatter=_bounds(own))
    body.sub_missing(MISSING)
    no_ci = [i for i in range(n) if kinds[i] != "effect"]
    if no_ci:  # a count or a share has no interval: an empty cell, not a "missing" dash
        body.sub_missing("", ["conf_low", "conf_high"], no_ci)
    flags = {"value": {i: str(f) for i, f in enumerate(df["flag"].tolist()) if f}}
    used = _flag_cells(body, flags)  # after the general rule: the last substitution wins
    with_ci = [i for i in range(n) if _finite(values["conf_low"][i], values["conf_high"][i])]
    if with_ci:
        body.merge(["conf_low", "conf_high"], with_ci, "[{0}, {1}]")
    body.style([_NOWRAP], ["value", "conf_low"])
    labels = {"value": "Value", "period": "Period", "conf_low": ci_label, "conf_high": ""}
    visible = ["value", "period", "conf_low", *([] if with_ci else ["conf_high"])]
    aligns = {"value": "right", "period": H.text_align(values["period"]), "conf_low": "right",
              "conf_high": "right"}
    columns = [H.HeaderColumn(k, labels[k], aligns[k]) for k in visible]
    return _render(table_id, body, columns, stub=df["label"].tolist(),
                   notes=[*notes, *_flag_notes(used, min_cell_firms)])


def figures_table(frame: pd.DataFrame, *, table_id: str, columns: Sequence[Column],
                  flags: Mapping[str, Mapping[int, str]] | None = None,
                  notes: Sequence[str] = (), min_cell_firms: Any = None,
                  rowname: str = "label", groupname: str | None = None,
                  highlight_columns: Sequence[str] = (), bold_rows: Sequence[int] = (),
                  bold_cells: Mapping[str, Sequence[int]] | None = None,
                  row_kinds: Mapping[str, Sequence[str]] | None = None) -> Table:
    """A table of figures: one row per ``frame[rowname]`` (grouped by ``frame[groupname]``),
    one column per :class:`Column`.

    ``effect`` columns merge ``<key>_low``/``<key>_high`` into "estimate [low, high]".
    ``flags`` mark cells by column and row ("suppressed" shows a grey "·", "not_available"
    "n/a"). ``highlight_columns`` get a grey ground and bold text (cells a reader must not
    miss); ``bold_rows`` bold whole rows, ``bold_cells`` single cells (``{column: rows}``).
    ``row_kinds`` overrides a column's kind row by row
    (``{column: [kind per row]}``), for a column that mixes counts and shares.
    """
    df = frame.reset_index(drop=True)
    values: dict[str, list[Any]] = {}
    aligns: dict[str, str] = {}
    for c in columns:
        if c.kind == "text":
            values[c.key], aligns[c.key] = _text_values(df, c.key)
        else:
            values[c.key] = _floats(df[c.key].tolist())
            aligns[c.key] = "right"
    for c in columns:
        if c.kind == "effect":
            for e in ("low", "high"):
                values[f"{c.key}_{e}"] = _floats(df[f"{c.key}_{e}"].tolist())
    body = _Body(values, len(df))
    for c in columns:
        kinds = list((row_kinds or {}).get(c.key, ()))
        if kinds:
            for kind in dict.fromkeys(kinds):
                rows = [i for i, k in enumerate(kinds) if k == kind]
                _format_kind(body, kind, [c.key], rows, c.decimals, c.formatter)
        else:
            _format_kind(body, c.kind, [c.key], None, c.decimals, c.formatter)
        if c.kind == "effect":
            _format_kind(body, "effect", [f"{c.key}_low", f"{c.key}_high"], None, c.decimals,
                         _bounds(c.formatter))
    body.sub_missing(MISSING)
    used = _flag_cells(body, flags or {})  # after the general rule: the last one wins
    _merge_effects(body, columns)
    wide = [c.key for c in columns if c.kind in ("effect", "money", "eur")]
    if wide:
        body.style([_NOWRAP], wide)
    if highlight_columns:
        body.style([_BOLD, _GREY], list(highlight_columns))
    if bold_rows:
        body.style([_BOLD], [c.key for c in columns], list(bold_rows))
    for column, rows in (bold_cells or {}).items():
        if rows:
            body.style([_BOLD], [column], list(rows))
    header = _spanned(columns, [c.key for c in columns], {c.key: c.label for c in columns},
                      aligns)
    stub = [_text(v) for v in df[rowname].tolist()]
    groups = None if groupname is None else [str(g) for g in df[groupname].tolist()]
    return _render(table_id, body, header, stub=stub, groups=groups,
                   notes=[*notes, *_flag_notes(used, min_cell_firms)])


_LONG = ("group", "row", "kind", "period", "value", "flag")


def period_table(frame: pd.DataFrame | Sequence[Mapping[str, Any]], *, table_id: str,
                 periods: Sequence[str], min_cell_firms: Any, notes: Sequence[str] = (),
                 period_labels: Mapping[str, str] | None = None) -> Table:
    """Rows by periods: ``frame`` is long, one row per cell (a frame, or its records), with
    columns ``row`` (the row label), ``group`` (its row group, may be empty), ``kind`` (as in
    :class:`Column`, per row label), ``period``, ``value`` and ``flag``. Rows keep their
    first-seen order; periods are ``periods``. Suppressed cells show "·" on grey,
    not-available ones "n/a"."""
    periods = list(periods)
    if isinstance(frame, pd.DataFrame):
        long = {c: frame[c].tolist() for c in _LONG}
    else:
        long = {c: [r[c] for r in frame] for c in _LONG}
    group_col = [str(g) for g in long["group"]]
    row_col = [str(r) for r in long["row"]]
    index: dict[tuple[str, str], int] = {}
    for k in zip(group_col, row_col):
        index.setdefault(k, len(index))
    keys = list(index)
    n = len(keys)
    values: dict[str, list[float]] = {p: [math.nan] * n for p in periods}
    kinds = [""] * n
    flags: dict[str, dict[int, str]] = {p: {} for p in periods}
    for k, kind, period, value, flag in zip(zip(group_col, row_col), long["kind"],
                                            long["period"], long["value"], long["flag"]):
        i = index[k]
        kinds[i] = kinds[i] or str(kind)
        p = str(period)
        if p not in flags:
            continue
        flag = "" if flag is None or pd.isna(flag) else str(flag)
        if flag in _FLAG_TEXT:
            flags[p][i] = flag
        elif value is not None and not pd.isna(value):
            values[p][i] = float(value)
    body = _Body(values, n)
    for kind in dict.fromkeys(kinds):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        _format_kind(body, kind or "number", periods, rows)
    body.sub_missing(MISSING)
    used = _flag_cells(body, flags)
    labels = period_labels or {}
    columns = [H.HeaderColumn(p, labels.get(p, p), "right") for p in periods]
    grouped = any(g for g, _ in keys)
    return _render(table_id, body, columns, stub=[r for _, r in keys],
                   groups=[g for g, _ in keys] if grouped else None,
                   notes=[*notes, *_flag_notes(used, min_cell_firms)])


def context_table(frame: pd.DataFrame, *, table_id: str, columns: Sequence[Column],
                  flags: Mapping[str, Mapping[int, str]], notes: Sequence[str],
                  min_cell_firms: Any) -> Table:
    """Programme context, one row per region: text columns and counts."""
    df = frame.reset_index(drop=True)
    values: dict[str, list[Any]] = {}
    aligns: dict[str, str] = {}
    for c in columns:
        if c.kind == "text":
            values[c.key], aligns[c.key] = _text_values(df, c.key)
        else:
            values[c.key] = _floats(df[c.key].tolist())
            aligns[c.key] = "right"
    body = _Body(values, len(df))
    for c in columns:
        _format_kind(body, c.kind, [c.key])
    body.sub_missing(MISSING)
    used = _flag_cells(body, flags)  # after the general rule: the last substitution wins
    header = _spanned(columns, [c.key for c in columns], {c.key: c.label for c in columns},
                      aligns)
    return _render(table_id, body, header, stub=df["region"].tolist(),
                   notes=[*notes, *_flag_notes(used, min_cell_firms)])


def _text(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)
