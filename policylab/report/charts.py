"""Charts of the report: Vega-Lite specs built with Altair, rendered to static SVG by vl-convert.

Each chart exists twice: as a spec (a plain dict, testable without rendering) and as the SVG
string inlined in the page. Rendering runs in vl-convert's embedded JavaScript engine, offline
(``allowed_base_urls=[]``, data inlined in the spec), so the page needs no script at view time.

Determinism: vl-convert numbers clip paths and gradients with a counter that lives for the
whole process (``clip1`` on the first call, ``clip2`` on the next ...), so the same chart
rendered twice differs, and two charts on one page could clash. :func:`render_svg` renames
every ``id`` to ``<chart id>-<n>`` in order of appearance and rewrites the references.

Escaping: vl-convert escapes text and attribute values it writes (``<script>`` in a region
name comes out as ``&lt;script&gt;``); the title and description added here are escaped with
markupsafe.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

__all__ = [
    "THEME",
    "Chart",
    "bars_spec",
    "emphasise",
    "event_study_frame",
    "event_study_spec",
    "forest_spec",
    "is_finite",
    "lines_spec",
    "render_svg",
    "value_domain",
]

INK = "#1a1a1a"
MID = "#6b6b6b"
LIGHT = "#d9d9d9"
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"

#: Vega-Lite config shared by every chart: black, greys and dashes only, so a chart reads the
#: same printed in greyscale.
THEME: dict[str, Any] = {
    "background": "white",
    "font": FONT,
    # the whole chart is one image with its own text alternative (role="img" and <title>):
    # no ARIA labels per mark, axis or legend, which screen readers would skip anyway
    "aria": False,
    "mark": {"aria": False},
    "padding": 8,
    "view": {"stroke": None},
    "axis": {
        "domainColor": INK,
        "tickColor": INK,
        "labelColor": INK,
        "titleColor": INK,
        "gridColor": LIGHT,
        "labelFontSize": 11,
        "titleFontSize": 11,
        "titleFontWeight": "normal",
        "labelLimit": 260,
        "aria": False,
    },
    "legend": {"aria": False},
    "point": {"color": INK, "size": 45},
    "rule": {"color": INK},
    "text": {"color": MID, "fontSize": 10},
}

_ID_ATTR = re.compile(r'\bid="([^"]+)"')


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its stable id, caption, text alternative, spec and SVG."""

    id: str
    caption: str
    description: str
    spec: dict[str, Any]
    svg: Markup


def render_svg(spec: dict[str, Any], *, chart_id: str, description: str) -> Markup:
    """Render a Vega-Lite ``spec`` to inline SVG with stable ids and a text alternative.

    ``chart_id`` must be a safe id (letters, digits, ``-``); it prefixes every id in the SVG.
    ``description`` (any text; escaped here) becomes the SVG's ``<title>`` and accessible name.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", chart_id):
        raise ValueError(f"chart id must be letters, digits, '-' or '_'; got {chart_id!r}")
    svg = _normalise_ids(_compact(_vegalite_svg(json.dumps(spec, sort_keys=True))), chart_id)
    head_end = svg.index(">", svg.index("<svg")) + 1
    head = svg[:head_end]
    title_id = f"{chart_id}-title"
    head = head.replace(
        "<svg ", f'<svg id="{chart_id}-svg" role="img" aria-labelledby="{title_id}" ', 1
    )
    title = f'<title id="{title_id}">{escape(description)}</title>'
    return Markup(head + title + svg[head_end:])


@functools.lru_cache(maxsize=256)
def _vegalite_svg(spec_json: str) -> str:
    """vl-convert's SVG of a spec (as canonical JSON). Rendering is a pure function of the spec,
    so identical charts (the same chart on the overview and a region page, or a report built
    twice) are drawn once."""
    import vl_convert

    return vl_convert.vegalite_to_svg(json.loads(spec_json), allowed_base_urls=[])


_GEOMETRY = re.compile(r'\b(d|transform|x|y|x1|x2|y1|y2|width|height|points|cx|cy|r)="([^"]*)"')
_LONG_DECIMAL = re.compile(r"(-?\d+)\.(\d)\d+")
_FONT_ATTR = re.compile(r' font-family="([^"]*)"')


def _round_geometry(match: re.Match[str]) -> str:
    def one(m: re.Match[str]) -> str:
        value = round(float(m.group(0)), 1)
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text

    return f'{match.group(1)}="{_LONG_DECIMAL.sub(one, match.group(2))}"'


def _compact(svg: str) -> str:
    """Smaller SVG that draws the same: coordinates rounded to 0.1 px (geometry attributes
    only; text is untouched), and the font family, identical on every text, set once on the
    root element, from which SVG text inherits it."""
    svg = _GEOMETRY.sub(_round_geometry, svg)
    fonts = set(_FONT_ATTR.findall(svg))
    if len(fonts) == 1:
        (font,) = fonts
        svg = _FONT_ATTR.sub("", svg)
        svg = svg.replace("<svg ", f'<svg font-family="{font}" ', 1)
    return svg


def _normalise_ids(svg: str, prefix: str) -> str:
    ids = list(dict.fromkeys(_ID_ATTR.findall(svg)))
    if not ids:
        return svg
    mapping = {old: f"{prefix}-{n}" for n, old in enumerate(ids, start=1)}
    pattern = re.compile(
        r'(\bid="|url\(#|href="#)(' + "|".join(re.escape(i) for i in ids) + r')(?=[")])'
    )
    return pattern.sub(lambda m: m.group(1) + mapping[m.group(2)], svg)


def is_finite(value: Any) -> bool:
    """True for a real, finite number (``None``, NA and NaN are not)."""
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def value_domain(lows: list[float], highs: list[float]) -> list[float]:
    """A value axis that always shows zero and every interval, with a little air."""
    lo = min([0.0, *[v for v in lows if is_finite(v)]])
    hi = max([0.0, *[v for v in highs if is_finite(v)]])
    pad = (hi - lo) * 0.08 or 0.1
    return [lo - pad, hi + pad]


def forest_spec(rows: pd.DataFrame, *, x_title: str) -> dict[str, Any]:
    """Forest plot: one row per label, point = estimate, bar = confidence interval.

    ``rows`` has columns ``label, estimate, conf_low, conf_high`` in display order, and
    optionally ``kind`` (``"region"`` or ``"pooled"``) and ``emphasis`` (bool). Regions are
    grey bars with black squares; a pooled row is a thick black bar with a large diamond; an
    emphasised region (the page's own) gets an open ring around its square. Rows with a
    missing estimate are left out (the table next to the chart still lists them). Marks
    differ in shape and weight, not colour, so the chart reads the same in greyscale.
    """
    import altair as alt

    data = rows.loc[rows["estimate"].map(is_finite)].copy()
    if "kind" not in data:
        data["kind"] = "region"
    if "emphasis" not in data:
        data["emphasis"] = False
    emphasised = list(data.loc[data["emphasis"].astype(bool) & (data["kind"] != "pooled"),
                               "label"])
    data = data.loc[:, ["label", "estimate", "conf_low", "conf_high", "kind"]]
    data = data.astype({"estimate": float, "conf_low": float, "conf_high": float})
    labels = list(dict.fromkeys(data["label"]))
    domain = value_domain(list(data["conf_low"]) + list(data["estimate"]),
                          list(data["conf_high"]) + list(data["estimate"]))
    y = alt.Y("label:N", sort=labels, title=None, axis=alt.Axis(labelPadding=6, ticks=False))
    x_scale = alt.Scale(domain=domain, nice=False, zero=False)
    regions = data.loc[data["kind"] != "pooled"]
    pooled = data.loc[data["kind"] == "pooled"]
    ci = ["conf_low", "conf_high"]

    def with_ci(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[frame[ci[0]].map(is_finite) & frame[ci[1]].map(is_finite)]

    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 3], color=INK).encode(
        x=alt.X("x:Q", scale=x_scale)
    )
    bars = alt.Chart(with_ci(regions)).mark_rule(strokeWidth=2, color=MID).encode(
        y=y, x=alt.X("conf_low:Q", scale=x_scale, title=x_title, axis=alt.Axis(tickCount=6)),
        x2="conf_high:Q",
    )
    points = alt.Chart(regions).mark_point(filled=True, shape="square", size=70, color=INK,
                                           opacity=1).encode(
        y=y, x=alt.X("estimate:Q", scale=x_scale)
    )
    layers = [zero, bars, points]
    if len(pooled):
        layers.append(alt.Chart(with_ci(pooled)).mark_rule(strokeWidth=4, color=INK).encode(
            y=y, x=alt.X("conf_low:Q", scale=x_scale, title=x_title), x2="conf_high:Q"))
        layers.append(alt.Chart(pooled).mark_point(
            filled=True, shape="diamond", size=260, color=INK, stroke="white", strokeWidth=1,
            opacity=1
        ).encode(y=y, x=alt.X("estimate:Q", scale=x_scale)))
    height = max(60, 34 * len(labels))
    chart = alt.layer(*layers).properties(width=440, height=height).configure(**THEME)
    spec = chart.to_dict(validate=False)  # validated once in the tests; slow on every chart
    return emphasise(spec, emphasised) if emphasised else spec


#: Index of the region squares among a forest spec's layers (zero line, bars, squares, ...).
_FOREST_POINTS = 2


def emphasise(spec: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """A copy of a :func:`forest_spec` with an open ring around the squares of ``labels``.

    A plain transformation of the spec (no Altair), so a region page can ring its own region
    on the overview's forest plot cheaply. The ring layer comes right after the squares.
    """
    out = copy.deepcopy(spec)
    points = out["layer"][_FOREST_POINTS]
    rows = [dict(r) for r in out["datasets"][points["data"]["name"]] if r["label"] in labels]
    if not rows:
        return out
    name = "emphasis-" + hashlib.sha256(
        json.dumps(rows, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    out["datasets"][name] = rows
    ring = {
        "data": {"name": name},
        "mark": {"type": "point", "filled": False, "shape": "circle", "size": 330,
                 "stroke": INK, "strokeWidth": 1.5, "opacity": 1},
        "encoding": {"x": copy.deepcopy(points["encoding"]["x"]),
                     "y": copy.deepcopy(points["encoding"]["y"])},
    }
    out["layer"].insert(_FOREST_POINTS + 1, ring)
    return out


def event_study_frame(tidy: pd.DataFrame) -> pd.DataFrame:
    """Event-study points from a ``DiDResult.tidy()`` frame, with the reference year added.

    Keeps the rows with an ``event_time``; adds event time −1 at 0 (the normalised reference)
    if the estimator did not report it. Columns: ``event_time, estimate, std_error, conf_low,
    conf_high, p_value, kind`` with ``kind`` ``"estimate"`` or ``"reference"``.
    """
    es = tidy.loc[tidy["event_time"].notna()].copy()
    es["event_time"] = es["event_time"].astype(int)
    cols = ["event_time", "estimate", "std_error", "conf_low", "conf_high", "p_value"]
    es = es.loc[:, cols].astype({c: float for c in cols[1:]})
    es["kind"] = "estimate"
    if len(es) and -1 not in set(es["event_time"]):
        ref = pd.DataFrame(
            {"event_time": [-1], "estimate": [0.0], "std_error": [math.nan], "conf_low": [math.nan],
             "conf_high": [math.nan], "p_value": [math.nan], "kind": ["reference"]}
        )
        es = pd.concat([es, ref], ignore_index=True)
    else:
        # event time -1 is the normalised reference only when it carries no uncertainty (an
        # event study sets it to 0); Callaway-Sant'Anna with a varying base period estimates it
        se = es["std_error"]
        fixed = se.isna() | (se == 0)
        es.loc[(es["event_time"] == -1) & fixed & (es["estimate"].fillna(0.0) == 0.0),
               "kind"] = "reference"
    return es.sort_values("event_time", kind="stable").reset_index(drop=True)


#: Marks of the series of a chart, in order: the first is the headline (black, filled circle),
#: the others robustness checks (grey, other shapes). Shape and shade, never colour alone.
SERIES_SHAPES = ("circle", "triangle-up", "square", "diamond", "cross")
SERIES_SHADES = (INK, MID, "#8c8c8c", "#4d4d4d", "#a6a6a6")
SERIES_DASHES = ([1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3])


def _series_scales(order: list[str]) -> dict[str, Any]:
    import altair as alt

    n = len(order)
    return {
        "color": alt.Scale(domain=order, range=list(SERIES_SHADES[:n])),
        "shape": alt.Scale(domain=order, range=list(SERIES_SHAPES[:n])),
        "dash": alt.Scale(domain=order, range=[list(d) for d in SERIES_DASHES[:n]]),
    }


def event_study_spec(
    points: pd.DataFrame, *, y_title: str, y_domain: list[float] | None = None,
    x_domain: tuple[int, int] | None = None, series_order: list[str] | None = None,
) -> dict[str, Any]:
    """Event-study chart: estimates and CI bars by event time, a dashed zero line and a
    dotted marker where firms join (between event times −1 and 0).

    ``points`` is :func:`event_study_frame` output, optionally with a ``series`` column (the
    estimator's label) to overlay several estimators: ``series_order`` lists them, the
    headline first (black filled circles); the others are drawn in grey with other shapes,
    shifted a little to the right, with a legend. ``y_domain``/``x_domain`` let several
    regions share one scale. A reference point (set to 0 by the estimator) is an open circle.
    """
    import altair as alt

    data = points.loc[points["estimate"].map(is_finite)].copy()
    data = data.astype({"estimate": float, "conf_low": float, "conf_high": float})
    if "series" not in data:
        data["series"] = "estimate"
    order = list(series_order or dict.fromkeys(data["series"]))
    several = len(order) > 1
    step = 0.26 / max(len(order) - 1, 1) if several else 0.0
    shift = {name: (i * step - 0.13 if several else 0.0) for i, name in enumerate(order)}
    data["x"] = data["event_time"].astype(float) + data["series"].map(shift).astype(float)
    data = data.loc[:, ["x", "event_time", "estimate", "conf_low", "conf_high", "kind", "series"]]
    if x_domain is None:
        x_domain = (int(data["event_time"].min()), int(data["event_time"].max()))
    if y_domain is None:
        y_domain = value_domain(list(data["conf_low"]) + list(data["estimate"]),
                                list(data["conf_high"]) + list(data["estimate"]))
    ticks = list(range(x_domain[0], x_domain[1] + 1))
    x_scale = alt.Scale(domain=[x_domain[0] - 0.6, x_domain[1] + 0.6], nice=False, zero=False)
    y_scale = alt.Scale(domain=y_domain, nice=False, zero=False)
    x = alt.X("x:Q", scale=x_scale, title="Years since joining",
              axis=alt.Axis(values=ticks, format="d", grid=False))
    ci = data.loc[data["conf_low"].map(is_finite) & data["conf_high"].map(is_finite)]
    est = data.loc[data["kind"] == "estimate"]
    ref = data.loc[data["kind"] == "reference"]
    scales = _series_scales(order)
    legend = (alt.Legend(title=None, orient="bottom", direction="horizontal", labelLimit=300)
              if several else None)

    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(strokeDash=[5, 3], color=INK).encode(
        y=alt.Y("y:Q", scale=y_scale, title=y_title)
    )
    join = pd.DataFrame({"x": [-0.5], "y": [y_domain[1]], "label": ["joining"]})
    join_rule = alt.Chart(join).mark_rule(strokeDash=[2, 2], color=MID).encode(
        x=alt.X("x:Q", scale=x_scale)
    )
    join_text = alt.Chart(join).mark_text(align="left", baseline="top", dx=4, dy=2).encode(
        x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale), text="label:N"
    )
    bars = alt.Chart(ci).mark_rule(strokeWidth=1.5).encode(
        x=x, y=alt.Y("conf_low:Q", scale=y_scale, title=y_title), y2="conf_high:Q",
        color=alt.Color("series:N", scale=scales["color"], legend=legend),
    )
    dots = alt.Chart(est).mark_point(filled=True, opacity=1).encode(
        x=x, y=alt.Y("estimate:Q", scale=y_scale, title=y_title),
        color=alt.Color("series:N", scale=scales["color"], legend=legend),
        shape=alt.Shape("series:N", scale=scales["shape"], legend=legend),
    )
    refdot = alt.Chart(ref).mark_point(filled=True, fill="white", stroke=INK, opacity=1,
                                       strokeWidth=1.5).encode(
        x=x, y=alt.Y("estimate:Q", scale=y_scale, title=y_title)
    )
    chart = alt.layer(zero, join_rule, join_text, bars, dots, refdot).properties(
        width=360, height=220
    ).configure(**THEME)
    return chart.to_dict(validate=False)  # validated once in the tests; slow on every chart


def _null_nans(spec: dict[str, Any]) -> dict[str, Any]:
    """NaN in a spec's inline data becomes null (JSON has no NaN; Vega reads null as
    missing)."""
    for rows in spec.get("datasets", {}).values():
        for row in rows:
            for k, v in row.items():
                if isinstance(v, float) and not math.isfinite(v):
                    row[k] = None
    return spec


def lines_spec(
    data: pd.DataFrame, *, x_title: str, y_title: str, series_order: list[str],
    panel_order: list[str], step: bool = False, y_domain: list[float] | None = None,
    x_domain: list[float] | None = None, x_ticks: list[int] | None = None, columns: int = 3,
    width: int = 210, height: int = 120, y_format: str | None = None,
) -> dict[str, Any]:
    """Small multiples of lines: one panel per ``panel`` value, one line per ``series``.

    ``data`` columns: ``panel, x, y, series``. A missing ``y`` (a suppressed or undefined
    point) breaks the line there instead of joining its neighbours. Series differ by shade,
    dash and point shape (the first is black, solid, circles), so the chart reads in
    greyscale; a legend names them when there are several. ``step=True`` draws step lines
    (a survival curve: the value holds until the next point).
    """
    import altair as alt

    frame = data.loc[:, ["panel", "x", "y", "series"]].copy()
    frame["x"] = frame["x"].astype(float)
    frame["y"] = frame["y"].map(lambda v: float(v) if is_finite(v) else None)
    frame = frame.astype({"y": object})
    frame.loc[frame["y"].isna(), "y"] = None
    scales = _series_scales(series_order)
    several = len(series_order) > 1
    legend = (alt.Legend(title=None, orient="bottom", direction="horizontal", labelLimit=420,
                         columns=1) if several else None)
    finite = [float(v) for v in frame["y"] if v is not None]
    if y_domain is None:
        hi = max(finite, default=1.0)
        lo = min([0.0, *finite])
        y_domain = [lo, hi + (hi - lo) * 0.08 or 1.0]
    if x_domain is None:
        xs = list(frame["x"])
        x_domain = [min(xs) - 0.3, max(xs) + 0.3] if xs else [0.0, 1.0]
    ticks = x_ticks if x_ticks is not None else sorted({int(v) for v in frame["x"]})
    x = alt.X("x:Q", scale=alt.Scale(domain=x_domain, nice=False, zero=False), title=x_title,
              axis=alt.Axis(values=ticks, format="d", grid=False, labelAngle=0,
                            labelOverlap="greedy"))
    y_axis = alt.Axis(tickCount=4, format=y_format) if y_format else alt.Axis(tickCount=4)
    y = alt.Y("y:Q", scale=alt.Scale(domain=y_domain, nice=False, zero=False), title=y_title,
              axis=y_axis)
    line = alt.Chart().mark_line(
        strokeWidth=1.6, invalid="break-paths-filter-domains",
        **({"interpolate": "step-after"} if step else {})).encode(
        x=x, y=y, detail="series:N",
        # the same legend on every channel of the field: Vega-Lite merges them into one
        # (a legend=None on any of them would drop the merged legend)
        color=alt.Color("series:N", scale=scales["color"], legend=legend),
        strokeDash=alt.StrokeDash("series:N", scale=scales["dash"], legend=legend),
    )
    points = alt.Chart().transform_filter("isValid(datum.y)").mark_point(
        filled=True, opacity=1, size=28).encode(
        x=x, y=y,
        color=alt.Color("series:N", scale=scales["color"], legend=legend),
        shape=alt.Shape("series:N", scale=scales["shape"], legend=legend),
    )
    chart = alt.layer(line, points, data=frame).properties(width=width, height=height).facet(
        facet=alt.Facet("panel:N", sort=panel_order, title=None,
                        header=alt.Header(labelFontSize=12, labelColor=INK, labelFontWeight="bold",
                                          labelLimit=width + 40)),
        columns=columns,
    ).resolve_axis(x="independent").configure(**THEME)
    return _null_nans(chart.to_dict(validate=False))


def bars_spec(
    data: pd.DataFrame, *, x_title: str, y_title: str, panel_order: list[str],
    columns: int = 3, width: int = 210, height: int = 120, y_format: str | None = None,
) -> dict[str, Any]:
    """Small multiples of bars by year with a count written above each bar.

    ``data`` columns: ``panel, x`` (a year), ``y`` (the bar), ``label`` (text above it, may be
    empty). Rows with a missing ``y`` (suppressed) get no bar; the caption says which.
    """
    import altair as alt

    frame = data.loc[:, ["panel", "x", "y", "label"]].copy()
    frame = frame.loc[frame["y"].map(is_finite)]
    frame = frame.astype({"x": int, "y": float, "label": str})
    years = sorted({int(v) for v in data["x"]})
    x = alt.X("x:O", title=x_title, scale=alt.Scale(domain=years),
              axis=alt.Axis(labelAngle=0, labelOverlap="greedy"))
    y_axis = alt.Axis(tickCount=4, format=y_format) if y_format else alt.Axis(tickCount=4)
    top = max(list(frame["y"]) or [1.0]) * 1.18 or 1.0
    y = alt.Y("y:Q", title=y_title, axis=y_axis, scale=alt.Scale(domain=[0, top], nice=False))
    bars = alt.Chart().mark_bar(color=MID, stroke=INK, strokeWidth=0.6).encode(x=x, y=y)
    text = alt.Chart().mark_text(baseline="bottom", dy=-2, fontSize=9, color=INK).encode(
        x=x, y=y, text="label:N")
    chart = alt.layer(bars, text, data=frame).properties(width=width, height=height).facet(
        facet=alt.Facet("panel:N", sort=panel_order, title=None,
                        header=alt.Header(labelFontSize=12, labelColor=INK, labelFontWeight="bold",
                                          labelLimit=width + 40)),
        columns=columns,
    ).resolve_axis(x="independent").configure(**THEME)
    return chart.to_dict(validate=False)
