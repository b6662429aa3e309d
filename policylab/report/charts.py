"""Charts of the report: small declarative specs (plain dicts), drawn to static SVG by
:mod:`policylab.report.svg` in pure Python.

Each chart exists twice: as a spec (a plain dict, testable without rendering) and as the SVG
string inlined in the page (:func:`render_svg`), so the page needs no script at view time.

The spec format
---------------
policylab's own, small enough to check by hand (:func:`check_spec`); the names of its parts
follow Vega-Lite's (``layer``, ``mark``, ``datasets``, ``facet``) but it is not Vega-Lite::

    {
      "width": 440, "height": 120,          # px of one plot area (one panel)
      "x": AXIS, "y": AXIS,                  # the two position scales and their axes
      "datasets": {name: [row, ...]},        # data rows (dicts of str/int/float/None)
      "layer": [LAYER, ...],                 # marks, drawn in order
      "series": [{"name", "color", "shape", "dash"}, ...],  # optional: styles by series
      "legend": {"direction": "horizontal" | "vertical"},   # optional: names the series
    }

Small multiples put ``"facet": {"field", "sort", "columns", "labelLimit"}``, the shared
``"data": {"name": ...}`` and ``"spec": {"layer": [...]}`` in place of ``"layer"``; every panel
has the same scales. ``AXIS`` is ``{"type": "linear" | "band" | "point", "domain": [lo, hi] or
[category, ...], "title", "ticks" (explicit tick values) or "tickCount" (round numbers),
"format" (None, "d" or "~s", see :func:`policylab.report.svg.format_number`), "grid",
"tickSize", "labelPadding", "labelLimit"}``. ``LAYER`` is ``{"mark": {"type": "point" | "line" |
"rule" | "bar" | "text", ...style}, "data": {"name": ...}, "encoding": {channel: field}}`` with
channels ``x, x2, y, y2, text, series``. Marks: a point per row (``shape``, ``size`` = width²,
``filled``, ``fill``, ``stroke``, ``strokeWidth``); a line per series through its rows in x
order, broken where ``y`` is missing (``interpolate: "step-after"`` for steps); a rule across
the plot (x or y alone), or a segment (``x``–``x2`` at ``y``, ``y``–``y2`` at ``x``: an error
bar); a bar from 0 to ``y`` on a band x scale; a text (``align``, ``baseline``, ``dx``, ``dy``,
``fontSize``). A row whose position is missing or not finite draws no mark. With a
``series`` channel, the series' colour, shape and dash style the mark.

Escaping and ids: the renderer escapes every text it writes; the only ids in a chart's SVG
are ``<chart id>-svg`` and ``<chart id>-title``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup

from . import svg
from .svg import FONT, INK, LIGHT, MID, THEME

__all__ = [
    "FONT",
    "INK",
    "LIGHT",
    "MID",
    "THEME",
    "Chart",
    "bars_spec",
    "category_bars_spec",
    "check_spec",
    "emphasise",
    "event_study_frame",
    "event_study_spec",
    "forest_spec",
    "heatmap_spec",
    "is_finite",
    "lines_spec",
    "render_svg",
    "value_domain",
]


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its stable id, caption, text alternative, spec and SVG."""

    id: str
    caption: str
    description: str
    spec: dict[str, Any]
    svg: Markup
    detail: str = ""  # the method's vocabulary (τ², I²), shown as the caption's tooltip


_SAFE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def render_svg(spec: dict[str, Any], *, chart_id: str, description: str) -> Markup:
    """Render a chart ``spec`` to inline SVG with stable ids and a text alternative.

    ``chart_id`` must be a safe id (letters, digits, ``-``); it prefixes every id in the SVG.
    ``description`` (any text; escaped) becomes the SVG's ``<title>`` and accessible name.
    """
    if not _SAFE_ID.fullmatch(chart_id):
        raise ValueError(f"chart id must be letters, digits, '-' or '_'; got {chart_id!r}")
    check_spec(spec)
    return Markup(svg.render(spec, chart_id=chart_id, description=description))


# ----------------------------------------------------------------------------- checking

_MARKS = {
    "point": {"shape", "size", "filled", "fill", "stroke", "strokeWidth", "color"},
    "line": {"strokeWidth", "interpolate", "color", "strokeDash"},
    "rule": {"strokeWidth", "strokeDash", "color"},
    "bar": {"color", "stroke", "strokeWidth"},
    "text": {"align", "baseline", "dx", "dy", "fontSize", "color"},
    "cell": {"domain"},
}
_SHAPES = {"circle", "square", "diamond", "triangle-up", "cross"}
_CHANNELS = {"x", "x2", "y", "y2", "text", "series"}
_AXIS_KEYS = {"type", "domain", "title", "ticks", "tickCount", "format", "grid", "tickSize",
              "labelPadding", "labelLimit"}
_TOP_KEYS = {"width", "height", "x", "y", "datasets", "layer", "series", "legend", "facet",
             "data", "spec"}


def _fail(msg: str) -> None:
    raise ValueError(f"invalid chart spec: {msg}")


def _check_axis(name: str, axis: Any) -> None:
    if not isinstance(axis, dict) or set(axis) - _AXIS_KEYS:
        _fail(f"axis {name}: unknown keys {sorted(set(axis) - _AXIS_KEYS)}"
              if isinstance(axis, dict) else f"axis {name} is not a dict")
    kind, domain = axis.get("type"), axis.get("domain")
    if kind not in ("linear", "band", "point") or not isinstance(domain, list):
        _fail(f"axis {name}: type must be linear, band or point, with a domain list")
    if kind == "linear" and not (len(domain) == 2 and all(is_finite(v) for v in domain)
                                 and float(domain[0]) < float(domain[1])):
        _fail(f"axis {name}: a linear domain is [low, high], finite, low < high; got {domain}")
    if kind != "linear" and len(set(map(repr, domain))) != len(domain):
        _fail(f"axis {name}: repeated categories in the domain")
    if axis.get("format") not in (None, "d", "~s"):
        _fail(f"axis {name}: format must be None, 'd' or '~s'")
    if axis.get("ticks") is not None and not all(is_finite(v) for v in axis["ticks"]):
        _fail(f"axis {name}: ticks must be numbers")


def check_spec(spec: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``spec`` is a chart spec the renderer can draw (see the
    module docstring): known keys, marks, shapes and channels, every layer's data present,
    every encoded field in its rows, every series styled, every panel in the facet order."""
    if not isinstance(spec, dict) or set(spec) - _TOP_KEYS:
        _fail(f"unknown keys {sorted(set(spec) - _TOP_KEYS)}" if isinstance(spec, dict)
              else "not a dict")
    for key in ("width", "height"):
        if not (is_finite(spec.get(key)) and spec[key] > 0):
            _fail(f"{key} must be a positive number")
    _check_axis("x", spec.get("x"))
    _check_axis("y", spec.get("y"))
    datasets = spec.get("datasets", {})
    facet = spec.get("facet")
    layers = spec.get("spec", {}).get("layer") if facet else spec.get("layer")
    if not layers:
        _fail("no layers")
    shared = spec.get("data", {}).get("name")
    if shared is not None and shared not in datasets:
        _fail(f"unknown dataset {shared!r}")
    series = [s.get("name") for s in spec.get("series", [])]
    for s in spec.get("series", []):
        if s.get("shape", "circle") not in _SHAPES:
            _fail(f"unknown shape {s.get('shape')!r}")
    for i, layer in enumerate(layers):
        mark = layer.get("mark", {})
        kind = mark.get("type")
        if kind not in _MARKS or set(mark) - _MARKS[kind] - {"type"}:
            _fail(f"layer {i}: unknown mark {kind!r} or mark keys "
                  f"{sorted(set(mark) - _MARKS.get(kind, set()) - {'type'})}")
        if mark.get("shape", "circle") not in _SHAPES:
            _fail(f"layer {i}: unknown shape {mark.get('shape')!r}")
        enc = layer.get("encoding", {})
        if set(enc) - _CHANNELS or not ({"x", "y"} & set(enc)):
            _fail(f"layer {i}: channels must be among {sorted(_CHANNELS)}, with x or y")
        if kind in ("point", "text", "bar", "line") and not {"x", "y"} <= set(enc):
            _fail(f"layer {i}: a {kind} needs x and y")
        if kind == "text" and "text" not in enc:
            _fail(f"layer {i}: a text needs a text field")
        if kind == "bar" and spec["x"]["type"] != "band":
            _fail(f"layer {i}: bars need a band x axis")
        if kind == "cell" and not (spec["x"]["type"] == spec["y"]["type"] == "band"
                                   and {"x", "y", "text"} <= set(enc)):
            _fail(f"layer {i}: heat-map cells need band x and y axes and x, y, text fields")
        name = layer.get("data", {}).get("name") or shared
        if name not in datasets:
            _fail(f"layer {i}: unknown dataset {name!r}")
        fields = set(enc.values()) | ({facet["field"]} if facet else set())
        for row in datasets[name]:
            if fields - set(row):
                _fail(f"layer {i}: rows lack the fields {sorted(fields - set(row))}")
            if "series" in enc and row[enc["series"]] not in series:
                _fail(f"layer {i}: series {row[enc['series']]!r} has no style")
    if facet is not None:
        if set(facet) - {"field", "sort", "columns", "labelLimit"} or "field" not in facet:
            _fail("facet: keys are field, sort, columns, labelLimit")
        order = facet.get("sort", [])
        for name in {shared, *(layer.get("data", {}).get("name") for layer in layers)} - {None}:
            missing = {r[facet["field"]] for r in datasets[name]} - set(order)
            if missing:
                _fail(f"facet: panels {sorted(map(str, missing))} are not in the sort order")


# ----------------------------------------------------------------------------- helpers

def is_finite(value: Any) -> bool:
    """True for a real, finite number (``None``, NA and NaN are not)."""
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def value_domain(lows: list[float], highs: list[float]) -> list[float]:
    """A value axis that always shows zero and every interval, with a little air."""
    lo = min([0.0, *[v for v in lows if is_finite(v)]])
    hi = max([0.0, *[v for v in highs if is_finite(v)]])
    pad = (hi - lo) * 0.08 or 0.1
    return [lo - pad, hi + pad]


def _plain(value: Any) -> Any:
    """A data value as plain JSON: numpy scalars to Python, NaN/NA to None."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if pd.isna(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = list(frame.columns)
    return [{c: _plain(v) for c, v in zip(cols, values)}
            for values in frame.itertuples(index=False, name=None)]


class _Data:
    """The datasets of one spec, named by content: identical rows are stored once."""

    def __init__(self) -> None:
        self.sets: dict[str, list[dict[str, Any]]] = {}

    def add(self, rows: pd.DataFrame | list[dict[str, Any]]) -> dict[str, str]:
        records = _rows(rows) if isinstance(rows, pd.DataFrame) else rows
        text = json.dumps(records, sort_keys=True, allow_nan=False, ensure_ascii=False)
        name = "data-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        self.sets.setdefault(name, records)
        return {"name": name}


def forest_spec(rows: pd.DataFrame, *, x_title: str) -> dict[str, Any]:
    """Forest plot: one row per label, point = estimate, bar = confidence interval.

    ``rows`` has columns ``label, estimate, conf_low, conf_high`` in display order, and
    optionally ``kind`` (``"region"`` or ``"pooled"``) and ``emphasis`` (bool). Regions are
    grey bars with black squares; a pooled row is a thick black bar with a large diamond; an
    emphasised region (the page's own) gets an open ring around its square. Rows with a
    missing estimate are left out (the table next to the chart still lists them). Marks
    differ in shape and weight, not colour, so the chart reads the same in greyscale.

    Layers: zero line, region bars, region squares (:data:`_FOREST_POINTS`), then the pooled
    bar and diamond.
    """
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
    regions = data.loc[data["kind"] != "pooled"]
    pooled = data.loc[data["kind"] == "pooled"]

    def with_ci(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[frame["conf_low"].map(is_finite) & frame["conf_high"].map(is_finite)]

    ds = _Data()
    interval = {"y": "label", "x": "conf_low", "x2": "conf_high"}
    point = {"x": "estimate", "y": "label"}
    layers = [
        {"mark": {"type": "rule", "strokeDash": [4, 3], "color": INK},
         "data": ds.add([{"x": 0.0}]), "encoding": {"x": "x"}},
        {"mark": {"type": "rule", "strokeWidth": 2, "color": MID},
         "data": ds.add(with_ci(regions)), "encoding": dict(interval)},
        {"mark": {"type": "point", "filled": True, "shape": "square", "size": 70, "color": INK},
         "data": ds.add(regions), "encoding": dict(point)},
    ]
    if len(pooled):
        layers.append({"mark": {"type": "rule", "strokeWidth": 4, "color": INK},
                       "data": ds.add(with_ci(pooled)), "encoding": dict(interval)})
        layers.append({"mark": {"type": "point", "filled": True, "shape": "diamond", "size": 260,
                                "color": INK, "stroke": "white", "strokeWidth": 1},
                       "data": ds.add(pooled), "encoding": dict(point)})
    spec = {
        "width": 440, "height": max(60, 34 * len(labels)),
        "x": {"type": "linear", "domain": domain, "title": x_title, "tickCount": 6,
              "grid": True},
        "y": {"type": "point", "domain": labels, "title": None, "tickSize": 0,
              "labelPadding": 6},
        "datasets": ds.sets,
        "layer": layers,
    }
    return emphasise(spec, emphasised) if emphasised else spec


#: Index of the region squares among a forest spec's layers (zero line, bars, squares, ...).
_FOREST_POINTS = 2


def emphasise(spec: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """A copy of a :func:`forest_spec` with an open ring around the squares of ``labels``.

    A plain transformation of the spec, so a region page can ring its own region on the
    overview's forest plot cheaply. The ring layer comes right after the squares.
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
                 "stroke": INK, "strokeWidth": 1.5},
        "encoding": copy.deepcopy(points["encoding"]),
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
SERIES_SHADES = (INK, MID, "#8c8c8c", "#4d4d4d", "#a6a6a6", "#737373", "#595959", "#bfbfbf")
SERIES_DASHES = ([1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [4, 2], [10, 4], [3, 5])


def series_shape(i: int) -> str:
    """The shape of series ``i`` (shapes repeat after five; shade and dash do not until
    eight, and only the headline, series 0, is black)."""
    return SERIES_SHAPES[i % len(SERIES_SHAPES)]


def _series_styles(order: list[str]) -> list[dict[str, Any]]:
    """The style of each series (cycling if there are more series than styles; the
    headline's black is never reused)."""
    n = len(SERIES_SHADES)
    return [{"name": name, "color": SERIES_SHADES[i % n if i < n else 1 + (i - 1) % (n - 1)],
             "shape": series_shape(i), "dash": list(SERIES_DASHES[i % n])}
            for i, name in enumerate(order)]


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

    Layers: zero line, joining marker, its label, CI bars, estimates, reference points.
    """
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
    ci = data.loc[data["conf_low"].map(is_finite) & data["conf_high"].map(is_finite)]
    est = data.loc[data["kind"] == "estimate"]
    ref = data.loc[data["kind"] == "reference"]
    ds = _Data()
    join = ds.add([{"x": -0.5, "y": y_domain[1], "label": "joining"}])
    layers = [
        {"mark": {"type": "rule", "strokeDash": [5, 3], "color": INK},
         "data": ds.add([{"y": 0.0}]), "encoding": {"y": "y"}},
        {"mark": {"type": "rule", "strokeDash": [2, 2], "color": MID},
         "data": join, "encoding": {"x": "x"}},
        {"mark": {"type": "text", "align": "left", "baseline": "top", "dx": 4, "dy": 2,
                  "color": MID, "fontSize": 10},
         "data": dict(join), "encoding": {"x": "x", "y": "y", "text": "label"}},
        {"mark": {"type": "rule", "strokeWidth": 1.5},
         "data": ds.add(ci),
         "encoding": {"x": "x", "y": "conf_low", "y2": "conf_high", "series": "series"}},
        {"mark": {"type": "point", "filled": True},
         "data": ds.add(est), "encoding": {"x": "x", "y": "estimate", "series": "series"}},
        {"mark": {"type": "point", "filled": True, "fill": "white", "stroke": INK,
                  "strokeWidth": 1.5, "shape": "circle"},
         "data": ds.add(ref), "encoding": {"x": "x", "y": "estimate"}},
    ]
    spec: dict[str, Any] = {
        "width": 360, "height": 220,
        "x": {"type": "linear", "domain": [x_domain[0] - 0.6, x_domain[1] + 0.6],
              "ticks": list(range(x_domain[0], x_domain[1] + 1)), "format": "d",
              "grid": False, "title": "Years since joining"},
        "y": {"type": "linear", "domain": list(y_domain), "title": y_title, "grid": True},
        "datasets": ds.sets,
        "layer": layers,
        "series": _series_styles(order),
    }
    if several:
        spec["legend"] = {"direction": "horizontal"}
    return spec


def _facet(panel_order: list[str], columns: int, width: int) -> dict[str, Any]:
    return {"field": "panel", "sort": list(panel_order), "columns": columns,
            "labelLimit": width + 40}


def lines_spec(
    data: pd.DataFrame, *, x_title: str, y_title: str, series_order: list[str],
    panel_order: list[str], step: bool = False, y_domain: list[float] | None = None,
    x_domain: list[float] | None = None, x_ticks: list[int] | None = None, columns: int = 3,
    width: int = 210, height: int = 120, y_format: str | None = None,
) -> dict[str, Any]:
    """Small multiples of lines: one panel per ``panel`` value, one line per ``series``.

    ``data`` columns: ``panel, x, y, series``. A missing ``y`` (a suppressed or undefined
    point) breaks the line there instead of joining its neighbours, and has no point. Series
    differ by shade, dash and point shape (the first is black, solid, circles), so the chart
    reads in greyscale; a legend names them when there are several. ``step=True`` draws step
    lines (a survival curve: the value holds until the next point).
    """
    frame = data.loc[:, ["panel", "x", "y", "series"]].copy()
    frame["x"] = frame["x"].astype(float)
    frame["y"] = [float(v) if is_finite(v) else None for v in frame["y"]]  # None: a gap
    finite = [float(v) for v in frame["y"] if is_finite(v)]
    if y_domain is None:
        hi = max(finite, default=1.0)
        lo = min([0.0, *finite])
        y_domain = [lo, hi + (hi - lo) * 0.08 or 1.0]
    if x_domain is None:
        xs = list(frame["x"])
        x_domain = [min(xs) - 0.3, max(xs) + 0.3] if xs else [0.0, 1.0]
    ticks = x_ticks if x_ticks is not None else sorted({int(v) for v in frame["x"]})
    ds = _Data()
    line = {"type": "line", "strokeWidth": 1.6,
            "interpolate": "step-after" if step else "linear"}
    enc = {"x": "x", "y": "y", "series": "series"}
    spec: dict[str, Any] = {
        "width": width, "height": height,
        "x": {"type": "linear", "domain": list(x_domain), "ticks": list(ticks), "format": "d",
              "grid": False, "title": x_title},
        "y": {"type": "linear", "domain": list(y_domain), "tickCount": 4, "format": y_format,
              "grid": True, "title": y_title},
        "datasets": {},
        "data": ds.add(frame),
        "facet": _facet(panel_order, columns, width),
        "spec": {"layer": [
            {"mark": line, "encoding": dict(enc)},
            {"mark": {"type": "point", "filled": True, "size": 28}, "encoding": dict(enc)},
        ]},
        "series": _series_styles(series_order),
    }
    spec["datasets"] = ds.sets
    if len(series_order) > 1:
        spec["legend"] = {"direction": "vertical"}
    return spec


def bars_spec(
    data: pd.DataFrame, *, x_title: str, y_title: str, panel_order: list[str],
    columns: int = 3, width: int = 210, height: int = 120, y_format: str | None = None,
) -> dict[str, Any]:
    """Small multiples of bars by year with a count written above each bar.

    ``data`` columns: ``panel, x`` (a year), ``y`` (the bar), ``label`` (text above it, may be
    empty). Rows with a missing ``y`` (suppressed) get no bar; the caption says which.
    """
    frame = data.loc[:, ["panel", "x", "y", "label"]].copy()
    frame = frame.loc[frame["y"].map(is_finite)]
    frame = frame.astype({"x": int, "y": float, "label": str})
    years = sorted({int(v) for v in data["x"]})
    top = max(list(frame["y"]) or [1.0]) * 1.18 or 1.0
    return _small_multiple_bars(
        frame, {"type": "band", "domain": years, "title": x_title},
        {"type": "linear", "domain": [0.0, top], "tickCount": 4, "format": y_format,
         "grid": True, "title": y_title}, panel_order, columns, width, height)


def _small_multiple_bars(frame: pd.DataFrame, x: dict[str, Any], y: dict[str, Any],
                         panel_order: list[str], columns: int, width: int,
                         height: int) -> dict[str, Any]:
    """Bars with their value written above, one panel per ``frame["panel"]``."""
    ds = _Data()
    enc = {"x": "x", "y": "y"}
    return {
        "width": width, "height": height, "x": x, "y": y,
        "data": ds.add(frame),
        "datasets": ds.sets,
        "facet": _facet(panel_order, columns, width),
        "spec": {"layer": [
            {"mark": {"type": "bar", "color": MID, "stroke": INK, "strokeWidth": 0.6},
             "encoding": dict(enc)},
            {"mark": {"type": "text", "baseline": "bottom", "dy": -2, "fontSize": 9,
                      "color": INK}, "encoding": {**enc, "text": "label"}},
        ]},
    }


def heatmap_spec(cells: pd.DataFrame, *, rows: list[str], columns: list[str], x_title: str,
                 y_title: str, cell: int = 46) -> dict[str, Any]:
    """A heat map: one square per (``row``, ``column``) of ``cells``, shaded from near white
    (0) to near black (the largest value), the value written in it (white on dark cells).

    ``cells`` columns: ``row, column, value`` (a number, or missing: a suppressed cell, drawn
    white and labelled "·"), ``label`` (the text to write). Shade and text, never colour.
    """
    frame = cells.loc[:, ["row", "column", "value", "label"]].copy()
    frame["value"] = pd.Series([float(v) if is_finite(v) else None for v in frame["value"]],
                               index=frame.index, dtype=object)
    frame["label"] = frame["label"].astype(str)
    top = max([v for v in frame["value"] if is_finite(v)] or [1.0]) or 1.0
    dark = [is_finite(v) and v / top > 0.55 for v in frame["value"]]
    ds = _Data()
    enc = {"x": "column", "y": "row", "text": "value"}
    text = {"x": "column", "y": "row", "text": "label"}
    layers = [{"mark": {"type": "cell", "domain": [0.0, top]}, "data": ds.add(frame),
               "encoding": enc}]
    for is_dark, color in ((False, INK), (True, "#ffffff")):
        part = frame.loc[[d == is_dark for d in dark]]
        if len(part):
            layers.append({"mark": {"type": "text", "fontSize": 10, "color": color},
                           "data": ds.add(part), "encoding": dict(text)})
    return {
        "width": cell * max(1, len(columns)), "height": cell * max(1, len(rows)),
        "x": {"type": "band", "domain": list(columns), "title": x_title, "tickSize": 0},
        "y": {"type": "band", "domain": list(rows), "title": y_title, "tickSize": 0},
        "datasets": ds.sets,
        "layer": layers,
    }


def category_bars_spec(data: pd.DataFrame, *, categories: list[str], panel_order: list[str],
                       y_title: str, y_domain: tuple[float, float], columns: int = 3,
                       width: int = 230, height: int = 120) -> dict[str, Any]:
    """Small multiples of bars over categories (one panel per ``panel``), the value written
    above each bar.

    ``data`` columns: ``panel, x`` (a category of ``categories``), ``y``, ``label``. A row
    with a missing ``y`` (suppressed) gets no bar; the caption says which.
    """
    frame = data.loc[:, ["panel", "x", "y", "label"]].copy()
    frame = frame.loc[frame["y"].map(is_finite)].astype({"y": float, "label": str})
    return _small_multiple_bars(
        frame, {"type": "band", "domain": list(categories), "title": None, "labelLimit": 60},
        {"type": "linear", "domain": [float(y_domain[0]), float(y_domain[1])], "tickCount": 4,
         "grid": True, "title": y_title}, panel_order, columns, width, height)
