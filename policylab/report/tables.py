"""Result tables of the report, built with great_tables.

Every table gets a fixed ``id`` (so its element ids are the same on every run) and all number
formatting is great_tables' (``fmt_number``/``fmt_integer``, true minus signs, thousands
separators). great_tables escapes cell text, column labels, row-group labels and source notes,
so user strings (region, indicator, warning text) are inert.

Compact markup: every header cell has a ``scope`` (column, column group or row), so the
per-cell ``headers`` attribute lists great_tables also writes are dropped, with the
indentation (a third of the bytes of a report); see :func:`_compact_body`.

Shared stylesheet: great_tables writes about 10 KB of CSS into every table, scoped by the
table's id. :func:`_html` takes that ``<style>`` block out, scopes it by a class named after
the hash of its text instead (``gtcss-<10 hex digits>``; tables styled alike share one), and
returns a :class:`Table`; each page then carries every distinct stylesheet once, in its head.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from markupsafe import Markup

if TYPE_CHECKING:  # pragma: no cover
    from great_tables import GT

__all__ = [
    "MISSING",
    "NOT_AVAILABLE",
    "SUPPRESSED_MARK",
    "Table",
    "context_table",
    "dashboard_table",
    "data_quality_table",
    "event_study_table",
    "figures_table",
    "impact_table",
    "key_figures_table",
    "period_table",
    "summary_table",
]

#: Rows of one indicator in the dashboard: totals and the compared groups before breakdowns.
_GROUP_RANK = {g: i for i, g in enumerate(
    ["all", "members", "never_members", "not_yet_members", "via_clusters", "micro", "small",
     "medium", "large", "size_unknown"])}

SUPPRESSED_MARK = "·"
NOT_AVAILABLE = "n/a"
MISSING = "—"

METHOD_LABELS = {
    "callaway_santanna": "Callaway–Sant'Anna",
    "sun_abraham": "Sun–Abraham",
    "etwfe": "Extended TWFE",
    "event_study": "Event study (TWFE)",
    "twfe": "TWFE DiD",
    "did_2x2": "2×2 DiD",
}


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


def _style(gt: GT) -> GT:
    return gt.tab_options(
        table_font_size="13px",
        data_row_padding="3px",
        column_labels_font_weight="bold",
        heading_align="left",
        table_margin_left="0",
        source_notes_font_size="12px",
        row_group_font_weight="bold",
        row_group_padding="5px",
    )


@dataclass(frozen=True)
class Table:
    """One rendered table: its id, its HTML without the stylesheet, and that stylesheet.

    ``css_class`` names the class the stylesheet is scoped by (empty, with ``css`` empty, if
    great_tables' output had an unexpected shape and the stylesheet was left inline).
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


_GT_HEAD = re.compile(r'\A<div id="(?P<id>[A-Za-z][\w-]*)" style="(?P<style>[^"<>]*)">\s*'
                      r"<style>(?P<css>[^<]*)</style>\s*")
_SCOPE = "#__gt_scope__"


def _html(gt: GT) -> Table:
    """Render ``gt`` and move its stylesheet out (see the module docstring)."""
    # great_tables escaped every user string it was given; the fragment is ours.
    raw = gt.as_raw_html()
    m = _GT_HEAD.match(raw)
    if m is None:  # pragma: no cover - a great_tables layout we do not know: keep it inline
        return Table(_table_id(raw), Markup(raw))
    table_id = m.group("id")
    css = re.sub(r"#" + re.escape(table_id) + r"(?![\w-])", _SCOPE, m.group("css"))
    css = "\n".join(line.strip() for line in css.strip().splitlines() if line.strip())
    css_class = "gtcss-" + hashlib.sha256(css.encode("utf-8")).hexdigest()[:10]
    css = css.replace(_SCOPE, "." + css_class)
    head = f'<div id="{table_id}" class="{css_class}" style="{m.group("style")}">\n'
    return Table(table_id, Markup(head + _compact_body(raw[m.end():])), css_class, css)


_HEADERS_ATTR = re.compile(r' headers="[^"<>]*"')
_INDENT = re.compile(r"\n[ \t]+<")


def _compact_body(html: str) -> str:
    """great_tables' table without its per-cell ``headers`` attributes and indentation.

    Every header cell keeps its ``scope`` (``col``, ``colgroup``, ``row``), which is how
    assistive technology pairs a cell with its headers in tables like these (one or two
    header rows, one stub column); the ``headers`` lists repeated the same pairing on every
    cell and were about a third of a report's bytes.
    """
    return _INDENT.sub("\n<", _HEADERS_ATTR.sub("", html))


def _table_id(raw: str) -> str:
    m = re.search(r'\bid="([^"]+)"', raw)
    return m.group(1) if m else ""


def _fmt_numbers(gt: GT, columns: str | list[str], values: Sequence[float],
                 rows: list[int] | None = None) -> GT:
    decimals = _decimals(values)
    if decimals is None:
        return gt.fmt_integer(columns=columns, rows=rows)
    return gt.fmt_number(columns=columns, rows=rows, decimals=decimals)


def dashboard_table(
    rows: pd.DataFrame, *, table_id: str, years: list[str], cumulative: bool, min_cell_firms: Any
) -> Table:
    """One region's indicator dashboard: rows = indicator × group, columns = periods.

    ``rows`` are the region's indicator rows in canonical order. Suppressed cells show a bold
    "·" on a grey ground, indicators whose input was not provided "n/a", empty cells "—".
    """
    from great_tables import GT, loc, style

    periods = [*years, *(["cumulative"] if cumulative else [])]
    keys = list(dict.fromkeys(zip(rows["indicator_id"].astype(str), rows["group"].astype(str))))
    first = {ind: i for i, (ind, _) in reversed(list(enumerate(keys)))}
    keys.sort(key=lambda k: (first[k[0]], _GROUP_RANK.get(k[1], len(_GROUP_RANK)), k[1]))
    flat: list[dict[str, Any]] = []
    flags: dict[str, list[tuple[int, str]]] = {p: [] for p in periods}
    for i, (ind_id, group) in enumerate(keys):
        sub = rows.loc[(rows["indicator_id"].astype(str) == ind_id)
                       & (rows["group"].astype(str) == group)]
        first = sub.iloc[0]
        record: dict[str, Any] = {
            "_indicator": f"{first['indicator']} ({first['unit']}) · {ind_id}",
            "_group": group.replace("_", " "),
        }
        by_period = {str(p): r for p, r in zip(sub["period"], sub.itertuples(index=False))}
        for p in periods:
            r = by_period.get(p)
            record[p] = math.nan if r is None or pd.isna(r.value) else float(r.value)
            flag = "" if r is None or pd.isna(r.flag) else str(r.flag)
            if flag:
                flags[p].append((i, flag))
        flat.append(record)
    wide = pd.DataFrame(flat, columns=["_indicator", "_group", *periods])

    gt = GT(wide, id=table_id, rowname_col="_group", groupname_col="_indicator")
    gt = _style(gt).cols_label(cases={"cumulative": "Cumulative"}) if cumulative else _style(gt)
    by_decimals: dict[int | None, list[int]] = {}  # one format call per precision: fast
    for i in range(len(wide)):
        by_decimals.setdefault(_decimals(wide.loc[i, periods].tolist()), []).append(i)
    for decimals, rows_at in by_decimals.items():
        if decimals is None:
            gt = gt.fmt_integer(columns=periods, rows=rows_at)
        else:
            gt = gt.fmt_number(columns=periods, rows=rows_at, decimals=decimals)
    gt = gt.sub_missing(missing_text=MISSING)
    n_suppressed = 0
    for p in periods:
        supp = [i for i, f in flags[p] if f == "suppressed"]
        na = [i for i, f in flags[p] if f == "not_available"]
        if supp:
            n_suppressed += len(supp)
            gt = gt.sub_missing(columns=p, rows=supp, missing_text=SUPPRESSED_MARK).tab_style(
                style=[style.text(weight="bold"), style.fill(color="#e6e6e6")],
                locations=loc.body(columns=p, rows=supp),
            )
        if na:
            gt = gt.sub_missing(columns=p, rows=na, missing_text=NOT_AVAILABLE)
    notes = []
    if n_suppressed:
        notes.append(f"{SUPPRESSED_MARK} suppressed: fewer than {min_cell_firms} firms")
    if any(f == "not_available" for p in periods for _, f in flags[p]):
        notes.append(f"{NOT_AVAILABLE}: not available (the input it needs was not provided)")
    notes.append(f"{MISSING}: no value. Earlier years and the number of firms behind each "
                 "cell: indicators.csv")
    for note in notes:
        gt = gt.tab_source_note(note)
    return _html(gt)


def impact_table(effects: pd.DataFrame, *, table_id: str, ci_label: str,
                 pooled: pd.DataFrame | None = None, pooled_notes: Sequence[str] = (),
                 headline_label: str = "", robustness: Sequence[tuple[str, str]] = (),
                 decimals: int | None = None) -> Table:
    """Headline effect per region for one outcome, and the lab-wide pooled effect.

    ``effects`` has one row per region (the headline estimator's effect) with columns
    ``region, estimate, std_error, conf_low, conf_high, p_value, n_firms, n_treated,
    n_treated_clusters, n_clusters, notes``; ``pooled`` has the same columns and is shown as a
    second row group. ``robustness`` names other estimators as ``(key, label)``: the frames
    then hold ``<key>``, ``<key>_low``, ``<key>_high`` and each becomes one column
    "estimate [low, high]" under a "Robustness" spanner. ``headline_label`` heads the headline
    columns; ``pooled_notes`` become source notes.
    """
    from great_tables import GT, loc, style

    robust_cols = [f"{k}{e}" for k, _ in robustness for e in ("", "_low", "_high")]
    cols = ["region", "estimate", "std_error", "conf_low", "conf_high", "p_value",
            "n_firms", "n_treated", "n_treated_clusters", "n_clusters", *robust_cols, "notes"]

    def shaped(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        for c in cols:
            if c not in frame:
                frame[c] = None if c in ("region", "notes") else math.nan
        return frame.loc[:, cols]

    parts = [shaped(effects).assign(_group="Regions")]
    if pooled is not None and len(pooled):
        parts.append(shaped(pooled).assign(_group="Lab-wide"))
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].copy()
    df["notes"] = df["notes"].map(lambda v: None if v is None or v == "" or
                                  (isinstance(v, float) and math.isnan(v)) else str(v))
    numeric = ["estimate", "std_error", "conf_low", "conf_high", "p_value", *robust_cols]
    for c in numeric:
        df[c] = df[c].astype("float64")
    for c in ["n_firms", "n_treated", "n_treated_clusters", "n_clusters"]:
        df[c] = df[c].astype("Float64").astype("float64")
    df = df.reset_index(drop=True)
    both = [i for i in range(len(df))
            if math.isfinite(df.loc[i, "conf_low"]) and math.isfinite(df.loc[i, "conf_high"])]
    if decimals is None:
        values = [*df["estimate"], *df["std_error"], *df["conf_low"], *df["conf_high"]]
        decimals = max(_decimals(values) or 0, 3)

    grouped = len(parts) > 1
    gt = GT(df, id=table_id, rowname_col="region", groupname_col="_group" if grouped else None)
    gt = _style(gt)
    if not grouped:
        gt = gt.cols_hide(columns="_group")
    gt = gt.fmt_number(columns=["estimate", "std_error", "conf_low", "conf_high"],
                       decimals=decimals)
    gt = gt.fmt_number(columns="p_value", decimals=3).sub_small_vals(
        columns="p_value", threshold=0.001, small_pattern="<0.001"
    )
    gt = gt.fmt_integer(columns=["n_firms", "n_treated", "n_treated_clusters", "n_clusters"])
    if both:
        gt = gt.cols_merge(columns=["conf_low", "conf_high"], rows=both, pattern="[{0}, {1}]")
    else:
        gt = gt.cols_hide(columns="conf_high")
    for key, _ in robustness:
        low, high = f"{key}_low", f"{key}_high"
        gt = gt.fmt_number(columns=[key, low, high], decimals=decimals, force_sign=True)
        with_ci = [i for i in range(len(df))
                   if all(math.isfinite(df.loc[i, k]) for k in (key, low, high))]
        if with_ci:
            gt = gt.cols_merge(columns=[key, low, high], rows=with_ci, pattern="{0} [{1}, {2}]")
        gt = gt.cols_hide(columns=[low, high])
    gt = gt.sub_missing(missing_text=MISSING)
    nowrap = ["estimate", "std_error", "conf_low", "p_value", *(k for k, _ in robustness)]
    gt = gt.tab_style(style=style.css("white-space: nowrap"), locations=loc.body(columns=nowrap))
    gt = gt.tab_style(style=style.css("white-space: nowrap"), locations=loc.column_labels())
    if grouped:
        first_pooled = len(parts[0])
        gt = gt.tab_style(style=style.text(weight="bold"),
                          locations=loc.body(rows=list(range(first_pooled, len(df)))))
    gt = gt.cols_label(
        cases={
            "estimate": "Estimate", "std_error": "SE", "conf_low": ci_label,
            "p_value": "p-value", "n_firms": "Firms", "n_treated": "Treated firms",
            "n_treated_clusters": "Treated consortia", "n_clusters": "Clusters",
            "notes": "Notes", **{k: label for k, label in robustness},
        }
    )
    gt = gt.tab_spanner(label=headline_label or "Headline estimate",
                        columns=["estimate", "std_error", "conf_low", "conf_high", "p_value"])
    gt = gt.tab_spanner(label="Sample", columns=["n_firms", "n_treated", "n_treated_clusters",
                                                 "n_clusters"])
    if robustness:
        gt = gt.tab_spanner(label=f"Robustness: other estimators, estimate [{ci_label}]",
                            columns=[k for k, _ in robustness])
    gt = gt.tab_source_note(
        "Estimate: the headline effect of membership (see Methods). SE: standard error; "
        "p-value: two-sided, for this estimate alone. Clusters: clusters of the standard "
        "errors (each never-member is its own); treated consortia: those with member firms."
    )
    for note in pooled_notes:
        gt = gt.tab_source_note(note)
    return _html(gt)


def _count_notes(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    n = len(str(value).split("; "))
    return f"{n} (see Warnings)"


def event_study_table(points: pd.DataFrame, *, table_id: str, ci_label: str,
                      series_order: Sequence[str] = ()) -> Table:
    """The numbers behind one event-study chart: one row per event time; with a ``series``
    column (several estimators), one "estimate [CI]" column group per series."""
    from great_tables import GT, loc, style

    if "series" not in points or len(series_order) <= 1:
        df = points.loc[:, ["event_time", "estimate", "std_error", "conf_low", "conf_high",
                            "p_value", "kind"]].reset_index(drop=True)
        df["kind"] = df["kind"].map({"reference": "reference (0 by construction)",
                                     "estimate": ""})
        values = [*df["estimate"], *df["std_error"], *df["conf_low"], *df["conf_high"]]
        decimals = max(_decimals(values) or 0, 3)
        both = [i for i in range(len(df))
                if math.isfinite(df.loc[i, "conf_low"]) and math.isfinite(df.loc[i, "conf_high"])]
        gt = _style(GT(df, id=table_id))
        gt = gt.fmt_integer(columns="event_time")
        gt = gt.fmt_number(columns=["estimate", "std_error", "conf_low", "conf_high"],
                           decimals=decimals)
        gt = gt.fmt_number(columns="p_value", decimals=3).sub_small_vals(
            columns="p_value", threshold=0.001, small_pattern="<0.001"
        )
        if both:
            gt = gt.cols_merge(columns=["conf_low", "conf_high"], rows=both, pattern="[{0}, {1}]")
        gt = gt.sub_missing(missing_text=MISSING)
        gt = gt.tab_style(style=style.css("white-space: nowrap"),
                          locations=loc.body(columns=["estimate", "std_error", "conf_low",
                                                      "p_value"]))
        gt = gt.cols_label(cases={"event_time": "Event time", "estimate": "Estimate",
                                  "std_error": "SE", "conf_low": ci_label, "p_value": "p-value",
                                  "kind": ""})
        return _html(gt)
    times = sorted({int(t) for t in points["event_time"]})
    wide = pd.DataFrame({"event_time": times})
    keys: list[tuple[str, str]] = []
    refs: dict[str, list[int]] = {}
    for j, name in enumerate(series_order):
        sub = points.loc[points["series"] == name].drop_duplicates("event_time")
        sub = sub.set_index("event_time")
        key = f"s{j}"
        keys.append((key, name))
        for col, src in (("", "estimate"), ("_se", "std_error"), ("_low", "conf_low"),
                         ("_high", "conf_high")):
            wide[key + col] = [float(sub.at[t, src]) if t in sub.index else math.nan
                               for t in times]
        refs[key] = [i for i, t in enumerate(times)
                     if t in sub.index and sub.at[t, "kind"] == "reference"]
    numeric = [c for c in wide.columns if c != "event_time"]
    decimals = max(_decimals([v for c in numeric for v in wide[c]]) or 0, 3)
    gt = _style(GT(wide, id=table_id))
    gt = gt.fmt_integer(columns="event_time")
    gt = gt.fmt_number(columns=numeric, decimals=decimals)
    for key, name in keys:
        with_ci = [i for i in range(len(wide)) if math.isfinite(wide.loc[i, key + "_low"])
                   and math.isfinite(wide.loc[i, key + "_high"])]
        if with_ci:
            gt = gt.cols_merge(columns=[key + "_low", key + "_high"], rows=with_ci,
                               pattern="[{0}, {1}]")
        gt = gt.cols_hide(columns=key + "_high")
        gt = gt.tab_spanner(label=name, columns=[key, key + "_se", key + "_low"])
    gt = gt.sub_missing(missing_text=MISSING)
    for key, _ in keys:
        if refs[key]:
            gt = gt.sub_missing(columns=[key + "_se", key + "_low"], rows=refs[key],
                                missing_text="reference")
    gt = gt.tab_style(style=style.css("white-space: nowrap"),
                      locations=loc.body(columns=numeric))
    gt = gt.cols_label(cases={"event_time": "Event time",
                              **{k: "Estimate" for k, _ in keys},
                              **{k + "_se": "SE" for k, _ in keys},
                              **{k + "_low": ci_label for k, _ in keys}})
    gt = gt.tab_source_note("reference: the year the estimator sets to 0 (no uncertainty). "
                            f"{MISSING}: no estimate for that event time.")
    return _html(gt)


def data_quality_table(frame: pd.DataFrame, *, table_id: str) -> Table:
    """Every column of ``EvaluationResult.data_quality``, one row per region."""
    from great_tables import GT

    df = frame.reset_index(drop=True).copy()
    df.columns = [str(c) for c in df.columns]
    numeric: list[str] = []
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_bool_dtype(col):
            df[c] = col.map(lambda v: MISSING if pd.isna(v) else ("yes" if v else "no"))
        elif pd.api.types.is_numeric_dtype(col):
            df[c] = col.astype("Float64").astype("float64")
            numeric.append(c)
        else:
            df[c] = col.map(_text)
    gt = _style(GT(df, id=table_id))
    years = [c for c in numeric if c == "year" or c.endswith("_year")]
    for c in numeric:
        if c in years:  # calendar years: no thousands separator
            gt = gt.fmt_integer(columns=c, use_seps=False)
        else:
            gt = _fmt_numbers(gt, c, df[c].tolist())
    gt = gt.sub_missing(missing_text=MISSING)
    gt = gt.cols_label(cases={c: c.replace("_", " ") for c in df.columns})
    return _html(gt)


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


_FLAG_TEXT = {"suppressed": SUPPRESSED_MARK, "not_available": NOT_AVAILABLE}


def _format_kind(gt: GT, kind: str, columns: list[str], rows: list[int] | None = None,
                 decimals: int | None = None) -> GT:
    """Format ``columns`` by kind: ``count`` (integer), ``money`` (compact: 12.9M), ``eur``
    (whole euros), ``percent`` (one decimal), ``effect`` and ``signed`` (with a sign; an
    effect merges its interval, see :func:`figures_table`), ``number`` (two
    decimals), ``ratio`` (three), ``pvalue`` (three, "<0.001"), ``year`` (no separator);
    ``decimals`` overrides the default of a kind that has decimals."""
    if kind == "count":
        return gt.fmt_integer(columns=columns, rows=rows)
    if kind == "money":
        return gt.fmt_number(columns=columns, rows=rows, decimals=1 if decimals is None
                             else decimals, compact=True)
    if kind == "eur":
        return gt.fmt_number(columns=columns, rows=rows, decimals=0 if decimals is None
                             else decimals)
    if kind == "percent":
        return gt.fmt_number(columns=columns, rows=rows, decimals=1 if decimals is None
                             else decimals)
    if kind == "effect":
        return gt.fmt_number(columns=columns, rows=rows, decimals=1 if decimals is None
                             else decimals, force_sign=True)
    if kind == "signed":
        return gt.fmt_number(columns=columns, rows=rows, decimals=1 if decimals is None
                             else decimals, force_sign=True)
    if kind == "number":
        return gt.fmt_number(columns=columns, rows=rows, decimals=2 if decimals is None
                             else decimals)
    if kind == "ratio":
        return gt.fmt_number(columns=columns, rows=rows, decimals=3 if decimals is None
                             else decimals)
    if kind == "pvalue":
        return gt.fmt_number(columns=columns, rows=rows, decimals=3).sub_small_vals(
            columns=columns, threshold=0.001, small_pattern="<0.001")
    if kind == "year":
        return gt.fmt_integer(columns=columns, rows=rows, use_seps=False)
    return gt


def _flag_cells(gt: GT, flags: Mapping[str, Mapping[int, str]]) -> tuple[GT, set[str]]:
    """Mark flagged cells ("·" suppressed on grey, "n/a" not available); return the kinds used."""
    from great_tables import loc, style

    used: set[str] = set()
    for column, by_row in flags.items():
        for flag in ("suppressed", "not_available"):
            rows = sorted(i for i, f in by_row.items() if f == flag)
            if not rows:
                continue
            used.add(flag)
            gt = gt.sub_missing(columns=column, rows=rows, missing_text=_FLAG_TEXT[flag])
            if flag == "suppressed":
                gt = gt.tab_style(style=[style.text(weight="bold"), style.fill(color="#e6e6e6")],
                                  locations=loc.body(columns=column, rows=rows))
    return gt, used


def _flag_notes(used: set[str], min_cell_firms: Any) -> list[str]:
    notes = []
    if "suppressed" in used:
        notes.append(f"{SUPPRESSED_MARK} suppressed: fewer than {min_cell_firms} firms")
    if "not_available" in used:
        notes.append(f"{NOT_AVAILABLE}: not available (the input it needs was not provided)")
    return notes


def summary_table(frame: pd.DataFrame, *, table_id: str, columns: Sequence[Column],
                  flags: Mapping[str, Mapping[int, str]], notes: Sequence[str],
                  min_cell_firms: Any) -> Table:
    """Headline numbers, one row per region (``frame['region']``), one column per figure."""
    from great_tables import GT, loc, style

    keys = [c.key for c in columns]
    extra = [f"{c.key}_{e}" for c in columns if c.kind == "effect" for e in ("low", "high")]
    df = frame.loc[:, ["region", *keys, *extra]].reset_index(drop=True).copy()
    for c in columns:
        if c.kind != "text":
            df[c.key] = df[c.key].astype("float64")
    for c in extra:
        df[c] = df[c].astype("float64")
    gt = _style(GT(df, id=table_id, rowname_col="region"))
    for c in columns:
        gt = _format_kind(gt, c.kind, [c.key])
        if c.kind == "effect":
            low, high = f"{c.key}_low", f"{c.key}_high"
            gt = _format_kind(gt, "effect", [low, high])
            with_ci = [i for i in range(len(df))
                       if all(math.isfinite(df.loc[i, k]) for k in (c.key, low, high))]
            if with_ci:
                gt = gt.cols_merge(columns=[c.key, low, high], rows=with_ci,
                                   pattern="{0} [{1}, {2}]")
            gt = gt.cols_hide(columns=[low, high])
    gt = gt.sub_missing(missing_text=MISSING)
    gt, used = _flag_cells(gt, flags)  # after the general rule: the last substitution wins
    gt = gt.cols_label(cases={c.key: c.label for c in columns})
    for spanner in dict.fromkeys(c.spanner for c in columns if c.spanner):
        gt = gt.tab_spanner(label=spanner, columns=[c.key for c in columns if c.spanner == spanner])
    effect_cols = [c.key for c in columns if c.kind == "effect"]
    if effect_cols:
        gt = gt.tab_style(style=style.css("white-space: nowrap"),
                          locations=loc.body(columns=effect_cols))
    for note in [*notes, *_flag_notes(used, min_cell_firms)]:
        gt = gt.tab_source_note(note)
    return _html(gt)


def key_figures_table(frame: pd.DataFrame, *, table_id: str, ci_label: str,
                      notes: Sequence[str], min_cell_firms: Any) -> Table:
    """One region's headline numbers, one row each.

    ``frame`` columns: ``label, value, kind, period, conf_low, conf_high, flag`` (``kind`` as in
    :class:`Column`).
    """
    from great_tables import GT, loc, style

    df = frame.loc[:, ["label", "value", "period", "conf_low", "conf_high"]].reset_index(drop=True)
    df = df.astype({"value": "float64", "conf_low": "float64", "conf_high": "float64"})
    df["period"] = df["period"].map(lambda p: None if p is None or p == "" else str(p))
    kinds = list(frame["kind"])
    gt = _style(GT(df, id=table_id, rowname_col="label"))
    for kind in dict.fromkeys(kinds):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        gt = _format_kind(gt, kind, ["value"], rows)
        if kind == "effect":
            gt = _format_kind(gt, kind, ["conf_low", "conf_high"], rows)
    with_ci = [i for i in range(len(df))
               if math.isfinite(df.loc[i, "conf_low"]) and math.isfinite(df.loc[i, "conf_high"])]
    if with_ci:
        gt = gt.cols_merge(columns=["conf_low", "conf_high"], rows=with_ci, pattern="[{0}, {1}]")
    flags = {"value": {i: str(f) for i, f in enumerate(frame["flag"]) if f}}
    gt = gt.sub_missing(missing_text=MISSING)
    no_ci = [i for i in range(len(df)) if kinds[i] != "effect"]
    if no_ci:  # a count or a share has no interval: an empty cell, not a "missing" dash
        gt = gt.sub_missing(columns=["conf_low", "conf_high"], rows=no_ci, missing_text="")
    gt, used = _flag_cells(gt, flags)  # after the general rule: the last substitution wins
    gt = gt.tab_style(style=style.css("white-space: nowrap"),
                      locations=loc.body(columns=["value", "conf_low"]))
    gt = gt.cols_label(cases={"value": "Value", "period": "Period", "conf_low": ci_label,
                              "conf_high": ""})
    for note in [*notes, *_flag_notes(used, min_cell_firms)]:
        gt = gt.tab_source_note(note)
    return _html(gt)


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
    from great_tables import GT, loc, style

    keys = [c.key for c in columns]
    extra = [f"{c.key}_{e}" for c in columns if c.kind == "effect" for e in ("low", "high")]
    lead = [rowname, *([groupname] if groupname else [])]
    df = frame.loc[:, [*lead, *keys, *extra]].reset_index(drop=True).copy()
    df[rowname] = df[rowname].map(_text)
    for c in columns:
        if c.kind == "text":
            df[c.key] = df[c.key].map(_text)
        else:
            df[c.key] = df[c.key].astype("Float64").astype("float64")
    for c in extra:
        df[c] = df[c].astype("Float64").astype("float64")
    gt = _style(GT(df, id=table_id, rowname_col=rowname, groupname_col=groupname))
    for c in columns:
        kinds = list((row_kinds or {}).get(c.key, ()))
        if kinds:
            for kind in dict.fromkeys(kinds):
                rows = [i for i, k in enumerate(kinds) if k == kind]
                gt = _format_kind(gt, kind, [c.key], rows, c.decimals)
        else:
            gt = _format_kind(gt, c.kind, [c.key], None, c.decimals)
        if c.kind == "effect":
            low, high = f"{c.key}_low", f"{c.key}_high"
            gt = _format_kind(gt, "effect", [low, high], None, c.decimals)
            with_ci = [i for i in range(len(df))
                       if all(math.isfinite(df.loc[i, k]) for k in (c.key, low, high))]
            if with_ci:
                gt = gt.cols_merge(columns=[c.key, low, high], rows=with_ci,
                                   pattern="{0} [{1}, {2}]")
            gt = gt.cols_hide(columns=[low, high])
    gt = gt.sub_missing(missing_text=MISSING)
    gt, used = _flag_cells(gt, flags or {})  # after the general rule: the last one wins
    gt = gt.cols_label(cases={c.key: c.label for c in columns})
    for spanner in dict.fromkeys(c.spanner for c in columns if c.spanner):
        gt = gt.tab_spanner(label=spanner, columns=[c.key for c in columns if c.spanner == spanner])
    wide = [c.key for c in columns if c.kind in ("effect", "money", "eur")]
    if wide:
        gt = gt.tab_style(style=style.css("white-space: nowrap"), locations=loc.body(columns=wide))
    if highlight_columns:
        gt = gt.tab_style(style=[style.text(weight="bold"), style.fill(color="#e6e6e6")],
                          locations=loc.body(columns=list(highlight_columns)))
    if bold_rows:
        gt = gt.tab_style(style=style.text(weight="bold"), locations=loc.body(rows=list(bold_rows)))
    for column, rows in (bold_cells or {}).items():
        if rows:
            gt = gt.tab_style(style=style.text(weight="bold"),
                              locations=loc.body(columns=column, rows=list(rows)))
    for note in [*notes, *_flag_notes(used, min_cell_firms)]:
        gt = gt.tab_source_note(note)
    return _html(gt)


def period_table(frame: pd.DataFrame, *, table_id: str, periods: Sequence[str],
                 min_cell_firms: Any, notes: Sequence[str] = (),
                 period_labels: Mapping[str, str] | None = None) -> Table:
    """Rows by periods: ``frame`` is long, one row per cell, with columns ``row`` (the row
    label), ``group`` (its row group, may be empty), ``kind`` (as in :class:`Column`, per row
    label), ``period``, ``value`` and ``flag``. Rows keep their first-seen order; periods are
    ``periods``. Suppressed cells show "·" on grey, not-available ones "n/a"."""
    from great_tables import GT

    keys = list(dict.fromkeys(zip(frame["group"].astype(str), frame["row"].astype(str))))
    records: list[dict[str, Any]] = []
    kinds: list[str] = []
    flags: dict[str, dict[int, str]] = {p: {} for p in periods}
    index = {k: i for i, k in enumerate(keys)}
    for k in keys:
        records.append({"_group": k[0], "_row": k[1], **{p: math.nan for p in periods}})
        kinds.append("")
    for rec in frame.itertuples(index=False):
        i = index[(str(rec.group), str(rec.row))]
        kinds[i] = kinds[i] or str(rec.kind)
        p = str(rec.period)
        if p not in flags:
            continue
        flag = "" if rec.flag is None or pd.isna(rec.flag) else str(rec.flag)
        if flag in _FLAG_TEXT:
            flags[p][i] = flag
        elif rec.value is not None and not pd.isna(rec.value):
            records[i][p] = float(rec.value)
    wide = pd.DataFrame(records, columns=["_group", "_row", *periods])
    grouped = any(g for g, _ in keys)
    gt = _style(GT(wide, id=table_id, rowname_col="_row",
                   groupname_col="_group" if grouped else None))
    if not grouped:
        gt = gt.cols_hide(columns="_group")
    for kind in dict.fromkeys(kinds):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        gt = _format_kind(gt, kind or "number", list(periods), rows)
    gt = gt.sub_missing(missing_text=MISSING)
    gt, used = _flag_cells(gt, flags)
    gt = gt.cols_label(cases={p: (period_labels or {}).get(p, p) for p in periods})
    for note in [*notes, *_flag_notes(used, min_cell_firms)]:
        gt = gt.tab_source_note(note)
    return _html(gt)


def context_table(frame: pd.DataFrame, *, table_id: str, columns: Sequence[Column],
                  flags: Mapping[str, Mapping[int, str]], notes: Sequence[str],
                  min_cell_firms: Any) -> Table:
    """Programme context, one row per region: text columns and counts."""
    from great_tables import GT

    keys = [c.key for c in columns]
    df = frame.loc[:, ["region", *keys]].reset_index(drop=True).copy()
    for c in columns:
        if c.kind == "text":
            df[c.key] = df[c.key].map(_text)
        else:
            df[c.key] = df[c.key].astype("Float64").astype("float64")
    gt = _style(GT(df, id=table_id, rowname_col="region"))
    for c in columns:
        gt = _format_kind(gt, c.kind, [c.key])
    gt = gt.sub_missing(missing_text=MISSING)
    gt, used = _flag_cells(gt, flags)  # after the general rule: the last substitution wins
    gt = gt.cols_label(cases={c.key: c.label for c in columns})
    for spanner in dict.fromkeys(c.spanner for c in columns if c.spanner):
        gt = gt.tab_spanner(label=spanner, columns=[c.key for c in columns if c.spanner == spanner])
    for note in [*notes, *_flag_notes(used, min_cell_firms)]:
        gt = gt.tab_source_note(note)
    return _html(gt)


def _text(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)
