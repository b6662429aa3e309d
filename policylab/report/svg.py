"""SVG drawing of the report's charts: a chart spec (:mod:`policylab.report.charts`) to the SVG
string inlined in the page.

Pure Python string building, no JavaScript engine, no plotting library: a chart is axes,
gridlines, a few kinds of marks (point, line, rule, bar, text), optional small-multiple
panels and a legend, so drawing it by hand takes a few milliseconds. The output is a pure
function of the spec, the chart id and the description: the same input gives the same bytes
(coordinates are rounded to 0.1 px, floats are never printed raw, nothing depends on the
clock, the process or hash order).

Escaping: every text (labels, titles, the description) and every attribute value written here
goes through :func:`markupsafe.escape`, so a region name such as ``<script>`` ends up as
``&lt;script&gt;`` and a quote cannot end an attribute.

Text width: SVG text cannot be measured without the fonts the reader's browser picks, so
layout (the room for axis labels, truncation of long labels, legend spacing) uses
:func:`text_width`, a per-character estimate from the advance widths of DejaVu Sans, the
first font of :data:`FONT` and the widest of the common sans-serif fonts. The estimate errs
on the wide side: with Verdana, Arial or Helvetica labels come out a little narrower than
the room they were given, never wider.

The SVG keeps the class names Vega gave the same parts (``g.role-mark`` with ``mark-symbol``,
``mark-line``, ``mark-rule``, ``mark-rect``, ``mark-text``; ``g.role-axis``,
``g.role-legend``), so selectors written against the earlier renderer keep working.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from markupsafe import escape

__all__ = ["FONT", "INK", "LIGHT", "MID", "THEME", "format_number", "nice_ticks", "render",
           "text_width"]

INK = "#1a1a1a"
MID = "#6b6b6b"
LIGHT = "#d9d9d9"
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"

#: The look shared by every chart: black, greys and dashes only, so a chart reads the same
#: printed in greyscale. Sizes in px; a point's ``size`` is the square of its width (as in
#: Vega), so a symbol of size 45 is about 6.7 px across.
THEME: dict[str, Any] = {
    "font": FONT,
    "background": "white",
    "padding": 8,
    "axis": {"color": INK, "labelColor": INK, "titleColor": INK, "gridColor": LIGHT,
             "labelFontSize": 11, "titleFontSize": 11, "tickSize": 5, "labelPadding": 2,
             "titlePadding": 5, "labelLimit": 260, "labelSeparation": 4},
    "header": {"fontSize": 12, "color": INK, "padding": 7},
    "legend": {"fontSize": 11, "color": INK, "padding": 14, "rowHeight": 17, "itemGap": 18,
               "symbolSize": 64, "lineLength": 24},
    "facet": {"columnGap": 26, "rowGap": 16},
    "point": {"size": 45, "color": INK},
    "line": {"strokeWidth": 1.5, "color": INK},
    "rule": {"strokeWidth": 1, "color": INK},
    "bar": {"color": MID},
    "text": {"fontSize": 10, "color": MID},
}

MINUS = "\u2212"

# ----------------------------------------------------------------------------- text width

#: Advance widths (in em) of DejaVu Sans, grouped; other characters: see :func:`_char_em`.
_EM_GROUPS = {
    0.28: "iljI.,:;'!|`",
    0.33: " ",
    0.36: "-",
    0.40: "ftr()[]{}/\\\"*",
    0.53: "sczJ",
    0.64: "0123456789$?#+=<>~^_",
    0.72: "ABCDEFGHKLNOPQRSTUVXYZ&",
    0.86: "mM%",
    0.82: "wW@",
}
_EM = {ch: em for em, chars in _EM_GROUPS.items() for ch in chars}


def _char_em(ch: str) -> float:
    em = _EM.get(ch)
    if em is not None:
        return em
    if ch.isascii():
        return 0.61  # lowercase letters and the rest of ASCII
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0.0
    if ord(ch) >= 0x1F000 or unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.25  # emoji and CJK, drawn by a fallback font
    return 0.66


@lru_cache(maxsize=4096)
def _em_width(text: str) -> float:
    return sum(_char_em(ch) for ch in text)


def text_width(text: str, size: float) -> float:
    """Estimated width in px of ``text`` at font size ``size`` (see the module docstring)."""
    return _em_width(text) * size


def _fit(text: str, limit: float, size: float) -> str:
    """``text``, cut with an ellipsis if it is wider than ``limit`` px."""
    if text_width(text, size) <= limit:
        return text
    while text and text_width(text + "…", size) > limit:
        text = text[:-1]
    return text.rstrip() + "…"


# ----------------------------------------------------------------------------- numbers

def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2 or 5 times a power of ten) inside
    ``[lo, hi]``; the algorithm of d3-array's ``ticks``, which Vega uses."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or count <= 0:
        return []
    if lo == hi:
        return [lo]
    if lo > hi:
        lo, hi = hi, lo
    step = (hi - lo) / count
    power = math.floor(math.log10(step))
    error = step / 10.0 ** power
    factor = 10 if error >= math.sqrt(50) else 5 if error >= math.sqrt(10) else (
        2 if error >= math.sqrt(2) else 1)
    if power < 0:
        inc = 10.0 ** -power / factor
        i1, i2 = round(lo * inc), round(hi * inc)
        if i1 / inc < lo:
            i1 += 1
        if i2 / inc > hi:
            i2 -= 1
        return [i / inc for i in range(i1, i2 + 1)]
    inc = 10.0 ** power * factor
    i1, i2 = round(lo / inc), round(hi / inc)
    if i1 * inc < lo:
        i1 += 1
    if i2 * inc > hi:
        i2 -= 1
    return [i * inc for i in range(i1, i2 + 1)]


_SI = {-2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T", 5: "P"}


def _trim(text: str) -> str:
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_number(value: float, fmt: str | None, step: float | None = None) -> str:
    """A tick label, with a true minus sign (−).

    ``fmt``: ``None`` fixed decimals from the tick ``step`` (0.05 → two decimals) with
    thousands separators (``200,000``); ``"d"`` an integer (``2019``); ``"~s"`` an SI
    prefix with trailing zeros trimmed (``2.5k``, ``3M``; below 1000 plain, as ``~g``).
    """
    value = float(value) + 0.0  # -0.0 -> 0.0
    if fmt == "d":
        text = f"{round(value):d}"
    elif fmt == "~s":
        if value == 0:
            text = "0"
        elif abs(value) < 1000:
            text = _trim(f"{value:.6g}")
        else:
            k = max(min(int(math.floor(math.log10(abs(value)) / 3)), 5), -2)
            scaled = value / 1000.0 ** k
            if abs(float(f"{scaled:.6g}")) >= 1000 and k < 5:  # rounding reached the next prefix
                k += 1
                scaled = value / 1000.0 ** k
            text = _trim(f"{scaled:.6g}") + _SI[k]
    else:
        decimals = 0
        if step:
            decimals = max(0, -math.floor(math.log10(abs(step)) + 1e-9))
        text = f"{round(value, decimals) + 0.0:,.{decimals}f}"
    return text.replace("-", MINUS)


def _n(value: float) -> str:
    """A coordinate: 0.1 px is finer than any screen or printer needs."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ----------------------------------------------------------------------------- scales

class _Scale:
    """A position scale: linear (numbers) or band/point (categories, in domain order)."""

    def __init__(self, axis: dict[str, Any], r0: float, r1: float) -> None:
        self.kind = axis["type"]
        self.domain = list(axis["domain"])
        self.r0, self.r1 = r0, r1
        if self.kind == "linear":
            d0, d1 = (float(v) for v in self.domain)
            self.k = (r1 - r0) / (d1 - d0)
            self.d0 = d0
            self.bandwidth = 0.0
        else:
            n = len(self.domain)
            inner, outer = (0.1, 0.05) if self.kind == "band" else (1.0, 0.5)
            span = r1 - r0
            self.step = span / max(1.0, n - inner + outer * 2)
            self.start = r0 + (span - self.step * (n - inner)) * 0.5
            self.bandwidth = self.step * (1 - inner)
            self.index = {v: i for i, v in enumerate(self.domain)}

    def __call__(self, value: Any) -> float | None:
        """The position of ``value`` (a band's centre), or None if it cannot be placed."""
        if self.kind == "linear":
            if not _finite(value):
                return None
            return self.r0 + (float(value) - self.d0) * self.k
        i = self.index.get(value)
        if i is None:
            return None
        return self.start + self.step * i + self.bandwidth / 2

    def band_start(self, value: Any) -> float | None:
        centre = self(value)
        return None if centre is None else centre - self.bandwidth / 2


def _ticks(axis: dict[str, Any], scale: _Scale, *, count: int) -> list[tuple[float, str]]:
    """(position, label) of an axis's ticks."""
    if axis["type"] != "linear":
        return [(scale(v), str(v)) for v in axis["domain"]]  # type: ignore[misc]
    lo, hi = sorted(float(v) for v in axis["domain"])
    values = axis.get("ticks")
    step = None
    if values is None:
        values = nice_ticks(lo, hi, axis.get("tickCount") or count)
        step = values[1] - values[0] if len(values) > 1 else None
    out = []
    for v in values:
        if lo - 1e-9 * (hi - lo) <= v <= hi + 1e-9 * (hi - lo):
            out.append((scale(v), format_number(v, axis.get("format"), step)))
    return out  # type: ignore[return-value]


def _greedy(ticks: list[tuple[float, str]], size: float, gap: float) -> list[tuple[float, str]]:
    """Horizontal labels that do not overlap: keep a label when it clears the last kept one."""
    out, right = [], -math.inf
    for x, label in ticks:
        half = text_width(label, size) / 2
        if x - half >= right + gap:
            out.append((x, label))
            right = x + half
    return out


# ----------------------------------------------------------------------------- symbols

_HALF_SQRT3 = math.sqrt(3) / 2


def _symbol(shape: str, x: float, y: float, size: float) -> str:
    """Path data of a symbol centred at (x, y); ``size`` is its width squared."""
    r = math.sqrt(size) / 2
    if shape == "square":
        return f"M{_n(x - r)},{_n(y - r)}h{_n(2 * r)}v{_n(2 * r)}h{_n(-2 * r)}Z"
    if shape == "diamond":
        return f"M{_n(x - r)},{_n(y)}L{_n(x)},{_n(y - r)}L{_n(x + r)},{_n(y)}L{_n(x)},{_n(y + r)}Z"
    if shape == "triangle-up":
        h = _HALF_SQRT3 * r
        return f"M{_n(x)},{_n(y - h)}L{_n(x - r)},{_n(y + h)}L{_n(x + r)},{_n(y + h)}Z"
    if shape == "cross":
        s = r / 2.5
        pts = [(-r, -s), (-r, s), (-s, s), (-s, r), (s, r), (s, s), (r, s), (r, -s), (s, -s),
               (s, -r), (-s, -r), (-s, -s)]
        return "M" + "L".join(f"{_n(x + a)},{_n(y + b)}" for a, b in pts) + "Z"
    # circle
    return (f"M{_n(x + r)},{_n(y)}A{_n(r)},{_n(r)},0,1,1,{_n(x - r)},{_n(y)}"
            f"A{_n(r)},{_n(r)},0,1,1,{_n(x + r)},{_n(y)}Z")


def _dash(dash: Sequence[float] | None) -> str:
    if not dash or (len(dash) == 2 and dash[1] == 0):
        return ""
    return f' stroke-dasharray="{",".join(_n(d) for d in dash)}"'


def _attr(value: Any) -> str:
    return str(escape(str(value)))


# ----------------------------------------------------------------------------- the chart

_CLASS = {"point": "mark-symbol", "line": "mark-line", "rule": "mark-rule", "bar": "mark-rect",
          "text": "mark-text", "cell": "mark-cell"}
_ANCHOR = {"left": "start", "center": "middle", "right": "end"}


class _Panel:
    """One plot area: its scales and size; marks are drawn in its own coordinates."""

    def __init__(self, x: _Scale, y: _Scale, width: float, height: float,
                 series: dict[str, dict[str, Any]]) -> None:
        self.x, self.y, self.width, self.height, self.series = x, y, width, height, series

    def style(self, mark: dict[str, Any], enc: dict[str, str], row: dict[str, Any],
              kind: str) -> dict[str, Any]:
        base = THEME.get(kind, {})
        out = {"color": mark.get("color", base.get("color", INK)),
               "shape": mark.get("shape", "circle"), "dash": mark.get("strokeDash")}
        if "series" in enc:
            s = self.series.get(row.get(enc["series"]), {})
            out.update({k: s[k] for k in ("color", "shape") if k in s})
            if kind == "line":  # dashes tell lines apart; error bars stay solid
                out["dash"] = mark.get("strokeDash", s.get("dash"))
        return out


def _group_key(style: dict[str, Any]) -> tuple[Any, ...]:
    return style["color"], style["shape"], tuple(style["dash"] or ())


def _draw_points(p: _Panel, mark: dict[str, Any], enc: dict[str, str],
                 rows: list[dict[str, Any]]) -> list[str]:
    size = float(mark.get("size", THEME["point"]["size"]))
    filled = mark.get("filled", True)
    groups: dict[tuple[Any, ...], list[str]] = {}
    styles: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        x, y = p.x(row.get(enc["x"])), p.y(row.get(enc["y"]))
        if x is None or y is None:
            continue
        st = p.style(mark, enc, row, "point")
        key = _group_key(st)
        styles[key] = st
        groups.setdefault(key, []).append(_symbol(st["shape"], x, y, size))
    out = []
    for key, paths in groups.items():
        st = styles[key]
        fill = mark.get("fill", st["color"]) if filled else "none"
        stroke = mark.get("stroke", "none" if filled else st["color"])
        sw = mark.get("strokeWidth", 1)
        attrs = f'fill="{_attr(fill)}" stroke="{_attr(stroke)}"'
        if stroke != "none":
            attrs += f' stroke-width="{_n(sw)}"'
        out.append(f"<g {attrs}>" + "".join(f'<path d="{d}"/>' for d in paths) + "</g>")
    return out


def _draw_lines(p: _Panel, mark: dict[str, Any], enc: dict[str, str],
                rows: list[dict[str, Any]]) -> list[str]:
    step = mark.get("interpolate") == "step-after"
    by_series: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        by_series.setdefault(row.get(enc["series"]) if "series" in enc else None, []).append(row)
    out = []
    width = mark.get("strokeWidth", THEME["line"]["strokeWidth"])
    for rs in by_series.values():
        st = p.style(mark, enc, rs[0], "line")
        pts = sorted(((p.x(r.get(enc["x"])), p.y(r.get(enc["y"]))) for r in rs
                      if p.x(r.get(enc["x"])) is not None),
                     key=lambda xy: xy[0])  # type: ignore[arg-type,return-value]
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y in pts:
            if y is None:  # a missing value breaks the line
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append((x, y))  # type: ignore[arg-type]
        d = []
        for run in runs:
            if len(run) < 2:
                continue
            (x0, y0), rest = run[0], run[1:]
            if step:
                d.append(f"M{_n(x0)},{_n(y0)}" + "".join(f"H{_n(x)}V{_n(y)}" for x, y in rest))
            else:
                d.append(f"M{_n(x0)},{_n(y0)}" + "".join(f"L{_n(x)},{_n(y)}" for x, y in rest))
        if d:
            out.append(f'<path d="{"".join(d)}" fill="none" stroke="{_attr(st["color"])}" '
                       f'stroke-width="{_n(width)}"{_dash(st["dash"])}/>')
    return out


def _draw_rules(p: _Panel, mark: dict[str, Any], enc: dict[str, str],
                rows: list[dict[str, Any]]) -> list[str]:
    groups: dict[tuple[Any, ...], list[str]] = {}
    styles: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        x = p.x(row.get(enc["x"])) if "x" in enc else None
        y = p.y(row.get(enc["y"])) if "y" in enc else None
        if "x" in enc and "x2" in enc:  # horizontal segment at y
            x2 = p.x(row.get(enc["x2"]))
            seg = (x, y, x2, y) if "y" in enc else None
        elif "y" in enc and "y2" in enc:  # vertical segment at x
            y2 = p.y(row.get(enc["y2"]))
            seg = (x, y, x, y2) if "x" in enc else None
        elif "x" in enc and "y" not in enc:  # vertical line across the plot
            seg = (x, 0.0, x, p.height)
        elif "y" in enc and "x" not in enc:  # horizontal line across the plot
            seg = (0.0, y, p.width, y)
        else:
            seg = None
        if seg is None or any(v is None for v in seg):
            continue
        st = p.style(mark, enc, row, "rule")
        key = _group_key(st)
        styles[key] = st
        x1, y1, x2_, y2_ = seg  # type: ignore[misc]
        groups.setdefault(key, []).append(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2_)}" y2="{_n(y2_)}"/>')
    out = []
    width = mark.get("strokeWidth", THEME["rule"]["strokeWidth"])
    for key, lines in groups.items():
        st = styles[key]
        out.append(f'<g stroke="{_attr(st["color"])}" stroke-width="{_n(width)}"'
                   f'{_dash(st["dash"])}>' + "".join(lines) + "</g>")
    return out


def _draw_bars(p: _Panel, mark: dict[str, Any], enc: dict[str, str],
               rows: list[dict[str, Any]]) -> list[str]:
    base = p.y(0.0)
    if base is None:
        return []
    base = min(max(base, 0.0), p.height)
    paths = []
    for row in rows:
        x, y = p.x.band_start(row.get(enc["x"])), p.y(row.get(enc["y"]))
        if x is None or y is None:
            continue
        paths.append(f'<path d="M{_n(x)},{_n(base)}V{_n(y)}h{_n(p.x.bandwidth)}V{_n(base)}Z"/>')
    color = mark.get("color", THEME["bar"]["color"])
    stroke = mark.get("stroke")
    attrs = f'fill="{_attr(color)}"'
    if stroke:
        attrs += f' stroke="{_attr(stroke)}" stroke-width="{_n(mark.get("strokeWidth", 1))}"'
    return [f"<g {attrs}>" + "".join(paths) + "</g>"] if paths else []


def _baseline_shift(baseline: str, size: float) -> float:
    """From a text's anchor point to its SVG baseline (an estimate, as for widths)."""
    return {"top": 0.78 * size, "middle": 0.35 * size, "bottom": -0.22 * size}.get(baseline, 0.0)


def _draw_text(p: _Panel, mark: dict[str, Any], enc: dict[str, str],
               rows: list[dict[str, Any]]) -> list[str]:
    size = float(mark.get("fontSize", THEME["text"]["fontSize"]))
    dx, dy = float(mark.get("dx", 0)), float(mark.get("dy", 0))
    shift = _baseline_shift(mark.get("baseline", "middle"), size)
    texts = []
    for row in rows:
        x, y = p.x(row.get(enc["x"])), p.y(row.get(enc["y"]))
        label = row.get(enc["text"])
        if x is None or y is None or label is None or label == "":
            continue
        texts.append(f'<text x="{_n(x + dx)}" y="{_n(y + dy + shift)}">{escape(str(label))}</text>')
    if not texts:
        return []
    color = mark.get("color", THEME["text"]["color"])
    anchor = _ANCHOR.get(mark.get("align", "center"), "middle")
    return [f'<g fill="{_attr(color)}" font-size="{_n(size)}" text-anchor="{anchor}">'
            + "".join(texts) + "</g>"]


def _grey(value: Any, lo: float, hi: float) -> str:
    """A grey from near white (``lo``) to near black (``hi``), as a hex colour."""
    t = 0.0 if hi <= lo else min(max((float(value) - lo) / (hi - lo), 0.0), 1.0)
    level = round(242 - t * (242 - 38))
    return f"#{level:02x}{level:02x}{level:02x}"


def _draw_cells(p: _Panel, mark: dict[str, Any], enc: dict[str, str],
                rows: list[dict[str, Any]]) -> list[str]:
    """Heat-map cells on two band axes, shaded by ``enc["text"]``'s number on the mark's
    ``domain``; a missing number (a suppressed cell) is white with a grey outline."""
    lo, hi = (float(v) for v in mark.get("domain", [0.0, 1.0]))
    rects = []
    for row in rows:
        x, y = p.x.band_start(row.get(enc["x"])), p.y.band_start(row.get(enc["y"]))
        if x is None or y is None:
            continue
        v = row.get(enc["text"])
        fill = _grey(v, lo, hi) if _finite(v) else "#ffffff"
        rects.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(p.x.bandwidth)}" '
                     f'height="{_n(p.y.bandwidth)}" fill="{fill}"/>')
    return [f'<g stroke="{MID}" stroke-width="0.5">' + "".join(rects) + "</g>"] if rects else []


_DRAW: dict[str, Callable[..., list[str]]] = {
    "point": _draw_points, "line": _draw_lines, "rule": _draw_rules, "bar": _draw_bars,
    "text": _draw_text, "cell": _draw_cells}


def _axis_defaults(axis: dict[str, Any]) -> dict[str, Any]:
    a = THEME["axis"]
    return {"tickSize": a["tickSize"], "labelPadding": a["labelPadding"],
            "labelLimit": a["labelLimit"], "grid": False, "title": None, "format": None, **axis}


def render(spec: dict[str, Any], *, chart_id: str, description: str) -> str:
    """The SVG of ``spec`` (a :mod:`~policylab.report.charts` spec, already checked), with the
    root id ``<chart_id>-svg``, a ``<title>`` (``<chart_id>-title``) holding ``description``
    and ``role="img"``. ``chart_id`` must be a safe id (checked by the caller)."""
    th, ax = THEME, THEME["axis"]
    pad = th["padding"]
    width, height = float(spec["width"]), float(spec["height"])
    xa, ya = _axis_defaults(spec["x"]), _axis_defaults(spec["y"])
    xs = _Scale(xa, 0.0, width)
    ys = _Scale(ya, height, 0.0) if ya["type"] == "linear" else _Scale(ya, 0.0, height)
    lfs, tfs = ax["labelFontSize"], ax["titleFontSize"]
    xticks = _greedy(_ticks(xa, xs, count=max(2, math.ceil(width / 40))), lfs,
                     ax["labelSeparation"])
    yticks = _ticks(ya, ys, count=max(2, math.ceil(height / 40)))
    ylabels = [(pos, _fit(label, ya["labelLimit"], lfs)) for pos, label in yticks]
    ylabel_w = max((text_width(lbl, lfs) for _, lbl in ylabels), default=0.0)
    # room left of a plot (y axis) and below it (x axis)
    left = ya["tickSize"] + ya["labelPadding"] + ylabel_w
    if ya["title"]:
        left += ax["titlePadding"] + tfs
    bottom = xa["tickSize"] + xa["labelPadding"] + lfs * 1.05
    if xa["title"]:
        bottom += ax["titlePadding"] + tfs
    overhang = max([0.0, *(x + text_width(lbl, lfs) / 2 - width for x, lbl in xticks)])
    # rows of data by dataset, and panels
    datasets = spec.get("datasets", {})
    facet = spec.get("facet")
    layers = spec["spec"]["layer"] if facet else spec["layer"]
    shared = spec.get("data", {}).get("name")
    series = {s["name"]: s for s in spec.get("series", [])}
    if facet:
        field = facet["field"]
        panels = list(facet.get("sort", []))
        for name in {shared, *(layer.get("data", {}).get("name") for layer in layers)} - {None}:
            for row in datasets.get(name, []):
                if row.get(field) not in panels:
                    panels.append(row.get(field))
        columns = max(1, min(int(facet.get("columns", 1)), len(panels) or 1))
        header = th["header"]["fontSize"] + th["header"]["padding"]
    else:
        field, panels, columns, header = None, [None], 1, 0.0
    nrows = math.ceil(len(panels) / columns)
    col_gap, row_gap = th["facet"]["columnGap"] + overhang, th["facet"]["rowGap"]
    top = pad + (0.0 if facet else lfs / 2)  # room for the top y label's upper half
    cell_h = header + height + bottom
    grid_w = pad + left + columns * width + (columns - 1) * col_gap + overhang
    grid_h = top + nrows * cell_h + (nrows - 1) * row_gap

    def rows_of(layer: dict[str, Any], panel: Any) -> list[dict[str, Any]]:
        rows = datasets.get(layer.get("data", {}).get("name") or shared, [])
        return rows if field is None else [r for r in rows if r.get(field) == panel]

    body: list[str] = []
    for i, panel in enumerate(panels):
        col, row_i = i % columns, i // columns
        px = pad + left + col * (width + col_gap)
        py = top + row_i * (cell_h + row_gap) + header
        body.append(f'<g transform="translate({_n(px)},{_n(py)})">')
        if facet:
            # bold: about a tenth wider than the regular advance widths of the estimate
            name = _fit(str(panel), facet.get("labelLimit", width + 40),
                        th["header"]["fontSize"] * 1.1)
            body.append(f'<text class="role-header" x="{_n(width / 2)}" '
                        f'y="{_n(-th["header"]["padding"])}" text-anchor="middle" '
                        f'font-size="{th["header"]["fontSize"]}" font-weight="bold" '
                        f'fill="{th["header"]["color"]}">{escape(name)}</text>')
        body += _axes(xa, ya, xticks, ylabels, width, height, y_labels=(col == 0))
        p = _Panel(xs, ys, width, height, series)
        for layer in layers:
            mark = layer["mark"]
            drawn = _DRAW[mark["type"]](p, mark, layer.get("encoding", {}), rows_of(layer, panel))
            if drawn:
                body.append(f'<g class="{_CLASS[mark["type"]]} role-mark">' + "".join(drawn)
                            + "</g>")
        body.append("</g>")
    total_w, total_h = grid_w, grid_h
    legend = spec.get("legend")
    if legend and series:
        lx, ly = pad + left, grid_h + th["legend"]["padding"]
        with_line = any(layer["mark"]["type"] == "line" for layer in layers)
        parts, (lw, lh) = _legend(list(series.values()), legend.get("direction", "horizontal"),
                                  with_line)
        body.append(f'<g class="role-legend" transform="translate({_n(lx)},{_n(ly)})">'
                    + "".join(parts) + "</g>")
        total_w, total_h = max(total_w, lx + lw), ly + lh
    total_w, total_h = math.ceil(total_w + pad), math.ceil(total_h + pad)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}-svg" class="marks" '
            f'role="img" aria-labelledby="{chart_id}-title" width="{total_w}" '
            f'height="{total_h}" viewBox="0 0 {total_w} {total_h}" '
            f'font-family="{_attr(th["font"])}" font-size="{lfs}">'
            f'<title id="{chart_id}-title">{escape(description)}</title>'
            f'<rect class="background" width="{total_w}" height="{total_h}" '
            f'fill="{th["background"]}"/>')
    return head + "".join(body) + "</svg>"


def _axes(xa: dict[str, Any], ya: dict[str, Any], xticks: list[tuple[float, str]],
          yticks: list[tuple[float, str]], width: float, height: float, *,
          y_labels: bool) -> list[str]:
    """Grid, axis lines, ticks, labels and titles of one panel."""
    ax = THEME["axis"]
    lfs, tfs = ax["labelFontSize"], ax["titleFontSize"]
    ink = ax["color"]
    out = []
    grid = []
    if xa["grid"]:
        grid += [f'<line x1="{_n(x)}" y1="0" x2="{_n(x)}" y2="{_n(height)}"/>' for x, _ in xticks]
    if ya["grid"]:
        grid += [f'<line x1="0" y1="{_n(y)}" x2="{_n(width)}" y2="{_n(y)}"/>' for y, _ in yticks]
    if grid:
        out.append(f'<g class="role-axis-grid" stroke="{ax["gridColor"]}" stroke-width="1">'
                   + "".join(grid) + "</g>")
    # x axis
    t, lp = xa["tickSize"], xa["labelPadding"]
    parts = [f'<line x1="0" y1="{_n(height)}" x2="{_n(width)}" y2="{_n(height)}" '
             f'stroke="{ink}"/>']
    if t:
        parts.append(f'<g stroke="{ink}">' + "".join(
            f'<line x1="{_n(x)}" y1="{_n(height)}" x2="{_n(x)}" y2="{_n(height + t)}"/>'
            for x, _ in xticks) + "</g>")
    ly = height + t + lp + 0.8 * lfs
    parts.append(f'<g text-anchor="middle" fill="{ax["labelColor"]}">' + "".join(
        f'<text x="{_n(x)}" y="{_n(ly)}">{escape(lbl)}</text>' for x, lbl in xticks) + "</g>")
    if xa["title"]:
        title = _fit(xa["title"], max(width + 60, 120), tfs)
        ty = ly + 0.2 * lfs + ax["titlePadding"] + 0.8 * tfs
        parts.append(f'<text x="{_n(width / 2)}" y="{_n(ty)}" text-anchor="middle" '
                     f'fill="{ax["titleColor"]}">{escape(title)}</text>')
    out.append('<g class="role-axis">' + "".join(parts) + "</g>")
    # y axis: only on the first panel of a row of small multiples
    if not y_labels:
        return out
    t, lp = ya["tickSize"], ya["labelPadding"]
    parts = [f'<line x1="0" y1="0" x2="0" y2="{_n(height)}" stroke="{ink}"/>']
    if t:
        parts.append(f'<g stroke="{ink}">' + "".join(
            f'<line x1="{_n(-t)}" y1="{_n(y)}" x2="0" y2="{_n(y)}"/>' for y, _ in yticks)
            + "</g>")
    parts.append(f'<g text-anchor="end" fill="{ax["labelColor"]}">' + "".join(
        f'<text x="{_n(-t - lp)}" y="{_n(y + 0.35 * lfs)}">{escape(lbl)}</text>'
        for y, lbl in yticks) + "</g>")
    if ya["title"]:
        label_w = max((text_width(lbl, lfs) for _, lbl in yticks), default=0.0)
        tx = -t - lp - label_w - ax["titlePadding"]
        title = _fit(ya["title"], max(height + 40, 100), tfs)
        parts.append(f'<text transform="translate({_n(tx)},{_n(height / 2)}) rotate(-90)" '
                     f'text-anchor="middle" fill="{ax["titleColor"]}">{escape(title)}</text>')
    out.append('<g class="role-axis">' + "".join(parts) + "</g>")
    return out


def _legend(items: list[dict[str, Any]], direction: str,
            with_line: bool) -> tuple[list[str], tuple[float, float]]:
    """The legend's parts (in its own coordinates) and its size: one entry per series, its
    symbol (and line with its dash, for line charts) and its name."""
    lg = THEME["legend"]
    fs, rh = lg["fontSize"], lg["rowHeight"]
    sym_w = lg["lineLength"] if with_line else math.sqrt(lg["symbolSize"])
    parts, x, y, width = [], 0.0, 0.0, 0.0
    for item in items:
        label = _fit(str(item["name"]), 420, fs)
        cx, cy = x + sym_w / 2, y + rh / 2
        color = _attr(item.get("color", INK))
        entry = []
        if with_line:
            entry.append(f'<line x1="{_n(x)}" y1="{_n(cy)}" x2="{_n(x + sym_w)}" y2="{_n(cy)}" '
                         f'stroke="{color}" stroke-width="1.6"{_dash(item.get("dash"))}/>')
        entry.append(f'<path d="{_symbol(item.get("shape", "circle"), cx, cy, lg["symbolSize"])}" '
                     f'fill="{color}"/>')
        tx = x + sym_w + 6
        entry.append(f'<text x="{_n(tx)}" y="{_n(cy + 0.35 * fs)}" fill="{lg["color"]}">'
                     f"{escape(label)}</text>")
        parts.append("<g>" + "".join(entry) + "</g>")
        right = tx + text_width(label, fs)
        width = max(width, right)
        if direction == "horizontal":
            x = right + lg["itemGap"]
        else:
            y += rh
    height = rh if direction == "horizontal" else y
    return parts, (width, height)
