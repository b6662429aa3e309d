"""Result tables of the report, built with great_tables.

Every table gets a fixed ``id`` (so its scoped CSS and element ids are the same on every
run) and all number formatting is great_tables' (``fmt_number``/``fmt_integer``, true minus
signs, thousands separators). great_tables escapes cell text, column labels, row-group
labels and source notes, so user strings (region, indicator, warning text) are inert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    "dashboard_table",
    "data_quality_table",
    "event_study_table",
    "impact_table",
]

SUPPRESSED_MARK = "·"
NOT_AVAILABLE = "n/a"
MISSING = "—"

METHOD_LABELS = {
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


def _html(gt: GT) -> Markup:
    # great_tables escaped every user string it was given; the fragment is ours.
    return Markup(gt.as_raw_html())


def _fmt_numbers(gt: GT, columns: str | list[str], values: Sequence[float],
                 rows: list[int] | None = None) -> GT:
    decimals = _decimals(values)
    if decimals is None:
        return gt.fmt_integer(columns=columns, rows=rows)
    return gt.fmt_number(columns=columns, rows=rows, decimals=decimals)


def dashboard_table(
    rows: pd.DataFrame, *, table_id: str, years: list[str], cumulative: bool, min_cell_firms: Any
) -> Markup:
    """One region's indicator dashboard: rows = indicator × group, columns = periods.

    ``rows`` are the region's indicator rows in canonical order. Suppressed cells show a bold
    "·" on a grey ground, indicators whose input was not provided "n/a", empty cells "—".
    """
    from great_tables import GT, loc, style

    periods = [*years, *(["cumulative"] if cumulative else [])]
    keys = list(dict.fromkeys(zip(rows["indicator_id"].astype(str), rows["group"].astype(str))))
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
    for i in range(len(wide)):
        gt = _fmt_numbers(gt, periods, wide.loc[i, periods].tolist(), rows=[i])
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


def impact_table(effects: pd.DataFrame, *, table_id: str, ci_label: str) -> Markup:
    """Headline effect per region for one outcome (rows of ``EvaluationResult.effects_tidy()``)."""
    from great_tables import GT, loc, style

    df = effects.loc[:, ["region", "method", "estimate", "std_error", "conf_low", "conf_high",
                         "p_value", "n_firms", "n_treated", "n_clusters", "warnings"]].copy()
    df["method"] = df["method"].map(lambda m: METHOD_LABELS.get(str(m), str(m)))
    df["warnings"] = df["warnings"].map(
        lambda w: f"{len(w.split('; '))} (see Warnings)" if isinstance(w, str) and w else MISSING)
    for c in ["estimate", "std_error", "conf_low", "conf_high", "p_value"]:
        df[c] = df[c].astype("float64")
    for c in ["n_firms", "n_treated", "n_clusters"]:
        df[c] = df[c].astype("Float64").astype("float64")
    df = df.reset_index(drop=True)
    both = [i for i in range(len(df))
            if math.isfinite(df.loc[i, "conf_low"]) and math.isfinite(df.loc[i, "conf_high"])]
    values = [*df["estimate"], *df["std_error"], *df["conf_low"], *df["conf_high"]]
    decimals = max(_decimals(values) or 0, 3)

    gt = _style(GT(df, id=table_id, rowname_col="region"))
    gt = gt.fmt_number(columns=["estimate", "std_error", "conf_low", "conf_high"],
                       decimals=decimals)
    gt = gt.fmt_number(columns="p_value", decimals=3).sub_small_vals(
        columns="p_value", threshold=0.001, small_pattern="<0.001"
    )
    gt = gt.fmt_integer(columns=["n_firms", "n_treated", "n_clusters"])
    if both:
        gt = gt.cols_merge(columns=["conf_low", "conf_high"], rows=both, pattern="[{0}, {1}]")
    else:
        gt = gt.cols_hide(columns="conf_high")
    gt = gt.sub_missing(missing_text=MISSING)
    gt = gt.tab_style(style=style.css("white-space: nowrap"),
                      locations=loc.body(columns=["estimate", "std_error", "conf_low", "p_value"]))
    gt = gt.tab_style(style=style.css("white-space: nowrap"), locations=loc.column_labels())
    gt = gt.cols_label(
        cases={
            "method": "Method", "estimate": "Estimate", "std_error": "SE", "conf_low": ci_label,
            "p_value": "p-value", "n_firms": "Firms", "n_treated": "Treated firms",
            "n_clusters": "Clusters", "warnings": "Notes",
        }
    )
    gt = gt.tab_spanner(label="Sample", columns=["n_firms", "n_treated", "n_clusters"])
    gt = gt.tab_source_note(
        "Estimate: the headline effect of membership (see Methods). SE: standard error; "
        "p-value: two-sided, for this estimate alone."
    )
    return _html(gt)


def event_study_table(points: pd.DataFrame, *, table_id: str, ci_label: str) -> Markup:
    """The numbers behind one event-study chart."""
    from great_tables import GT, loc, style

    df = points.loc[:, ["event_time", "estimate", "std_error", "conf_low", "conf_high", "p_value",
                        "kind"]].reset_index(drop=True)
    df["kind"] = df["kind"].map({"reference": "reference (0 by construction)", "estimate": ""})
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
                      locations=loc.body(columns=["estimate", "std_error", "conf_low", "p_value"]))
    gt = gt.cols_label(cases={"event_time": "Event time", "estimate": "Estimate",
                              "std_error": "SE", "conf_low": ci_label, "p_value": "p-value",
                              "kind": ""})
    return _html(gt)


def data_quality_table(frame: pd.DataFrame, *, table_id: str) -> Markup:
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


def _text(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)
