"""The chart layer as a specification: specs (plain dicts) drawn to SVG by policylab's own
renderer (no JavaScript engine). Every chart is well-formed XML with prefixed ids, the same
spec gives the same bytes, every finite data point is a mark and a missing one is not,
axes cover what they plot, and user text is escaped."""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from labfiles import write_tiny_lab  # tests/labfiles.py (tests/ is on the path: its conftest)

from policylab.report import charts
from policylab.report.charts import (
    bars_spec,
    check_spec,
    emphasise,
    event_study_spec,
    forest_spec,
    lines_spec,
    render_svg,
)
from policylab.report.svg import format_number, nice_ticks, text_width

NS = "{http://www.w3.org/2000/svg}"
NASTY = ['<script>alert(1)</script>', 'say "hi" & \'bye\'', "</text></svg><b>x</b>", "a&amp;b"]


def _svg(spec, chart_id="t", description="d") -> ET.Element:
    return ET.fromstring(str(render_svg(spec, chart_id=chart_id, description=description)))


def _marks(root: ET.Element, kind: str) -> list[ET.Element]:
    """The drawn elements of every ``mark-<kind>`` group (paths, lines, texts)."""
    out = []
    for g in root.iter(f"{NS}g"):
        if g.get("class") == f"mark-{kind} role-mark":
            out += [e for e in g.iter() if e.tag in (f"{NS}path", f"{NS}line", f"{NS}text")]
    return out


def _layer_rows(spec, i):
    layers = spec["spec"]["layer"] if "facet" in spec else spec["layer"]
    name = layers[i].get("data", {}).get("name") or spec["data"]["name"]
    return spec["datasets"][name]


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _placed(spec, axis, value) -> bool:
    """Whether ``value`` has a position on ``axis`` (a finite number, or a category)."""
    if spec[axis]["type"] == "linear":
        return _finite(value)
    return value in spec[axis]["domain"]


@pytest.fixture(scope="module")
def all_charts(model):
    return [c for page in model.pages for c in page.all_charts]


# ------------------------------------------------------------------------ small specs

FOREST = pd.DataFrame({
    "label": ["A", "B", "C", "Lab-wide"], "estimate": [0.1, math.nan, -0.2, 0.05],
    "conf_low": [0.0, math.nan, -0.5, 0.0], "conf_high": [0.2, math.nan, 0.1, 0.1],
    "kind": ["region", "region", "region", "pooled"]})

LINES = pd.DataFrame({
    "panel": ["P"] * 10 + ["Q"] * 5,
    "x": [2016, 2017, 2018, 2019, 2020] * 3,
    "y": [1.0, 2.0, math.nan, 4.0, 5.0,   # series s: a gap in 2018
          2.0, math.nan, 3.0, math.nan, 1.0,  # series t: isolated points
          7.0, 8.0, 9.0, 10.0, 11.0],
    "series": ["s"] * 5 + ["t"] * 5 + ["s"] * 5})

BARS = pd.DataFrame({"panel": ["P"] * 4 + ["Q"] * 2, "x": [2016, 2017, 2018, 2019, 2016, 2017],
                     "y": [100.0, math.nan, 3000.0, 250.0, 50.0, 75.0],
                     "label": ["3", "", "12", "·", "1", "2"]})

ES = pd.DataFrame({
    "event_time": [-2, -1, 0, 1, -2, -1, 0, 1],
    "estimate": [0.1, 0.0, 0.2, math.nan, 0.05, 0.02, 0.3, 0.4],
    "std_error": [0.1, math.nan, 0.1, math.nan, 0.1, 0.1, 0.1, 0.1],
    "conf_low": [0.0, math.nan, 0.1, math.nan, -0.1, -0.1, 0.1, math.nan],
    "conf_high": [0.2, math.nan, 0.3, math.nan, 0.2, 0.1, 0.5, math.nan],
    "p_value": [0.5] * 8,
    "kind": ["estimate", "reference", "estimate", "estimate"] + ["estimate"] * 4,
    "series": ["A"] * 4 + ["B"] * 4})


def _small_specs():
    return {
        "forest": emphasise(forest_spec(FOREST, x_title="Effect"), ["C"]),
        "lines": lines_spec(LINES, x_title="Year", y_title="Value", series_order=["s", "t"],
                            panel_order=["P", "Q"]),
        "steps": lines_spec(LINES, x_title="Year", y_title="Value", series_order=["s", "t"],
                            panel_order=["P", "Q"], step=True, columns=1),
        "bars": bars_spec(BARS, x_title="Year", y_title="EUR", panel_order=["P", "Q"],
                          y_format="~s"),
        "event_study": event_study_spec(ES, y_title="Effect", series_order=["A", "B"]),
    }


# ------------------------------------------------------------------------ well-formed, ids

def test_every_chart_is_well_formed_svg_with_prefixed_unique_ids(all_charts):
    assert len(all_charts) > 20
    for chart in all_charts:
        root = ET.fromstring(str(chart.svg))
        assert root.tag == f"{NS}svg"
        assert root.get("role") == "img" and root.get("aria-labelledby") == f"{chart.id}-title"
        title = root.find(f"{NS}title")
        assert title is not None and title.get("id") == f"{chart.id}-title"
        assert title.text == chart.description  # the text alternative, unescaped by parsing
        ids = [e.get("id") for e in root.iter() if e.get("id") is not None]
        assert len(ids) == len(set(ids)) and all(i.startswith(chart.id + "-") for i in ids)
        assert float(root.get("width")) > 100 and float(root.get("height")) > 50
        assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"


def test_same_spec_same_bytes_also_in_another_process():
    specs = _small_specs()
    first = {k: str(render_svg(s, chart_id="c", description="d")) for k, s in specs.items()}
    again = {k: str(render_svg(s, chart_id="c", description="d")) for k, s in specs.items()}
    assert first == again
    # a fresh interpreter with another hash seed draws the same bytes
    code = textwrap.dedent("""
        import json, sys
        from policylab.report.charts import render_svg
        specs = json.load(sys.stdin)
        print(json.dumps({k: str(render_svg(s, chart_id="c", description="d"))
                          for k, s in specs.items()}))
    """)
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(specs), text=True,
                         capture_output=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(out.stdout) == first


def test_every_spec_is_checked_and_a_broken_one_is_refused():
    for spec in _small_specs().values():
        check_spec(spec)
    spec = _small_specs()["forest"]
    bad = json.loads(json.dumps(spec))
    bad["layer"][1]["mark"]["type"] = "violin"
    with pytest.raises(ValueError, match="unknown mark"):
        render_svg(bad, chart_id="x", description="d")
    bad = json.loads(json.dumps(spec))
    bad["layer"][2]["encoding"]["x"] = "no_such_field"
    with pytest.raises(ValueError, match="lack the fields"):
        check_spec(bad)
    bad = json.loads(json.dumps(spec))
    bad["x"]["domain"] = [1.0, float("nan")]
    with pytest.raises(ValueError, match="linear domain"):
        check_spec(bad)
    lines = _small_specs()["lines"]
    bad = json.loads(json.dumps(lines))
    bad["facet"]["sort"] = ["P"]
    with pytest.raises(ValueError, match="not in the sort order"):
        check_spec(bad)


# ------------------------------------------------------------------------ a mark per point

def test_forest_draws_a_square_and_a_bar_per_finite_row_and_nothing_for_missing():
    spec = _small_specs()["forest"]
    root = _svg(spec)
    symbols = _marks(root, "symbol")
    # squares A and C, the ring around C, the pooled diamond; B (no estimate) has none
    assert len(symbols) == 2 + 1 + 1
    rules = _marks(root, "rule")
    assert len(rules) == 1 + 2 + 1  # zero line, two region bars, the pooled bar
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert "B" not in labels and {"A", "C", "Lab-wide"} <= set(labels)


def test_event_study_draws_every_finite_estimate_and_interval():
    spec = _small_specs()["event_study"]
    root = _svg(spec)
    finite = ES.loc[ES["estimate"].map(charts.is_finite)]
    with_ci = finite.loc[finite["conf_low"].map(charts.is_finite)
                         & finite["conf_high"].map(charts.is_finite)]
    assert len(_marks(root, "symbol")) == len(finite) == 7  # estimates and the reference
    # zero line, the joining marker, one bar per interval
    assert len(_marks(root, "rule")) == 2 + len(with_ci)
    assert [t.text for t in _marks(root, "text")] == ["joining"]
    legend = next(g for g in root.iter(f"{NS}g") if g.get("class") == "role-legend")
    assert [t.text for t in legend.iter(f"{NS}text")] == ["A", "B"]


def _subpaths(el: ET.Element) -> int:
    return el.get("d").count("M")


@pytest.mark.parametrize("kind", ["lines", "steps"])
def test_lines_have_a_point_per_finite_value_and_break_at_missing_ones(kind):
    spec = _small_specs()[kind]
    root = _svg(spec)
    rows = _layer_rows(spec, 1)
    finite = [r for r in rows if _finite(r["y"])]
    assert len(rows) == len(LINES) and len(finite) == 12
    assert len(_marks(root, "symbol")) == len(finite)
    lines = _marks(root, "line")
    # P/s: 2016-17 and 2019-20 (2018 missing): two pieces; P/t: no two neighbours, no line;
    # Q/s: one piece
    assert sorted(_subpaths(e) for e in lines) == [1, 2]
    assert len(lines) == 2
    # a missing value is kept in the spec as null (the table marks it), not as a number
    assert [r["y"] for r in rows if r["panel"] == "P" and r["series"] == "s"] == [
        1.0, 2.0, None, 4.0, 5.0]
    if kind == "steps":
        assert all("H" in e.get("d") and "L" not in e.get("d") for e in lines)


def test_bars_have_a_bar_and_a_label_per_finite_value():
    spec = _small_specs()["bars"]
    root = _svg(spec)
    finite = BARS.loc[BARS["y"].map(charts.is_finite)]
    assert len(_marks(root, "rect")) == len(finite) == 5
    texts = [t.text for t in _marks(root, "text")]
    assert sorted(texts) == sorted(lab for lab in finite["label"] if lab)
    # P's 2017 (missing) is left out of the data; Q's 2017 is there
    assert [r["x"] for r in _layer_rows(spec, 0) if r["panel"] == "P"] == [2016, 2018, 2019]
    assert [r["x"] for r in _layer_rows(spec, 0) if r["panel"] == "Q"] == [2016, 2017]
    headers = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "role-header"]
    assert headers == ["P", "Q"]
    ticks = [t.text for t in root.iter(f"{NS}text")]
    assert "3k" in ticks or "2k" in ticks  # the "~s" format


def test_every_report_chart_draws_one_mark_per_finite_point(all_charts):
    for chart in all_charts:
        spec, root = chart.spec, ET.fromstring(str(chart.svg))
        layers = spec["spec"]["layer"] if "facet" in spec else spec["layer"]
        expected = {"symbol": 0, "rect": 0}
        for i, layer in enumerate(layers):
            enc, kind = layer["encoding"], layer["mark"]["type"]
            rows = _layer_rows(spec, i)
            if kind == "point":
                expected["symbol"] += sum(_placed(spec, "x", r[enc["x"]])
                                          and _placed(spec, "y", r[enc["y"]]) for r in rows)
            elif kind == "bar":
                expected["rect"] += sum(_placed(spec, "x", r[enc["x"]])
                                        and _placed(spec, "y", r[enc["y"]]) for r in rows)
        assert len(_marks(root, "symbol")) == expected["symbol"], chart.id
        assert len(_marks(root, "rect")) == expected["rect"], chart.id


# ------------------------------------------------------------------------ axes

def _values(spec, channels):
    layers = spec["spec"]["layer"] if "facet" in spec else spec["layer"]
    for i, layer in enumerate(layers):
        for ch in channels:
            field = layer["encoding"].get(ch)
            if field is not None:
                yield from (r[field] for r in _layer_rows(spec, i) if _finite(r[field]))


def test_axis_domains_hold_every_plotted_value_and_zero(all_charts):
    specs = [c.spec for c in all_charts] + list(_small_specs().values())
    for spec in specs:
        for axis, channels in (("x", ("x", "x2")), ("y", ("y", "y2"))):
            a = spec[axis]
            if a["type"] == "linear":
                lo, hi = a["domain"]
                assert all(lo <= v <= hi for v in _values(spec, channels)), (axis, a)
                if a.get("ticks") is not None:
                    assert all(lo <= t <= hi for t in a["ticks"])
            else:
                assert set(_values(spec, channels)) <= set(a["domain"]) or not any(
                    isinstance(v, (int, float)) for v in a["domain"])
        is_forest = spec["y"]["type"] == "point"
        is_es = spec["x"].get("title") == "Years since joining"
        if is_forest:  # effects: "no effect" is always on the axis
            assert spec["x"]["domain"][0] < 0 < spec["x"]["domain"][1]
        if is_es:
            assert spec["y"]["domain"][0] < 0 < spec["y"]["domain"][1]
        if any(layer["mark"]["type"] == "bar" for layer in spec.get("spec", {}).get("layer", [])):
            assert spec["y"]["domain"][0] == 0  # bars start at zero


def test_drawn_marks_stay_inside_their_plot_area(all_charts):
    number = re.compile(r"-?\d+(?:\.\d+)?")
    for chart in all_charts:
        root = ET.fromstring(str(chart.svg))
        w, h = chart.spec["width"], chart.spec["height"]
        for kind in ("symbol", "rect", "rule", "line"):
            for el in _marks(root, kind):
                if el.tag == f"{NS}line":
                    xs = [float(el.get("x1")), float(el.get("x2"))]
                    ys = [float(el.get("y1")), float(el.get("y2"))]
                else:
                    d = re.sub(r"A[^A-Za-z]*", "", el.get("d"))  # arc radii are no points
                    nums = [float(v) for v in number.findall(re.sub(r"[hHvV][^A-Za-z]*", "", d))]
                    xs, ys = nums[0::2], nums[1::2]
                assert all(-12 <= x <= w + 12 for x in xs), (chart.id, kind, xs)
                assert all(-12 <= y <= h + 12 for y in ys), (chart.id, kind, ys)


@pytest.mark.parametrize("lo,hi,count", [(-0.12, 0.22, 6), (0, 105, 4), (-1.3e6, 9.9e5, 6),
                                         (0.001, 0.0042, 5), (2015, 2023, 5), (-3, -1, 4)])
def test_ticks_are_round_numbers_inside_the_domain(lo, hi, count):
    ticks = nice_ticks(lo, hi, count)
    assert 2 <= len(ticks) <= 2 * count + 1
    assert all(lo <= t <= hi for t in ticks)
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-9
    assert all(math.isclose(b - a, step, rel_tol=1e-9) for a, b in zip(ticks, ticks[1:]))


def test_tick_labels():
    assert nice_ticks(-0.12, 0.22, 6) == pytest.approx([-0.1, -0.05, 0, 0.05, 0.1, 0.15, 0.2])
    assert [format_number(v, None, 0.05) for v in (-0.1, 0.0, 0.15)] == ["−0.10", "0.00", "0.15"]
    assert format_number(-200000, None, 200000) == "−200,000"
    assert [format_number(v, "~s") for v in (0, 2500, 3e6, 8000, 999999.9, 125)] == [
        "0", "2.5k", "3M", "8k", "1M", "125"]
    assert format_number(2019, "d") == "2019" and format_number(-4, "d") == "−4"


def test_text_width_estimate_makes_room_for_long_labels():
    assert text_width("Kujawsko-Pomorskie", 11) > text_width("Kent", 11) * 3
    assert text_width("WWW", 11) > text_width("iii", 11) * 2
    short = _svg(forest_spec(FOREST, x_title="x"))
    longer = _svg(forest_spec(FOREST.assign(label=["A region with a long name", "B", "C",
                                                   "Lab-wide"]), x_title="x"))
    assert float(longer.get("width")) > float(short.get("width")) + 80
    very = "x" * 200
    cut = _svg(forest_spec(FOREST.assign(label=[very, "B", "C", "Lab-wide"]), x_title="x"))
    assert very not in [t.text for t in cut.iter(f"{NS}text")]
    assert any(t.text and t.text.endswith("…") for t in cut.iter(f"{NS}text"))


# ------------------------------------------------------------------------ escaping

def test_hostile_text_is_escaped_everywhere_and_reads_back_unchanged():
    # (B, the second row, has no estimate: not drawn)
    forest = forest_spec(FOREST.assign(label=[NASTY[0], "B", NASTY[2], NASTY[1]]),
                         x_title=NASTY[3])
    lines = lines_spec(LINES.assign(panel=LINES["panel"].map({"P": NASTY[0], "Q": NASTY[1]}),
                                    series=LINES["series"].map({"s": NASTY[2], "t": NASTY[3]})),
                       x_title=NASTY[1], y_title=NASTY[0], series_order=[NASTY[2], NASTY[3]],
                       panel_order=[NASTY[0], NASTY[1]])
    bars = bars_spec(BARS.assign(label=NASTY + NASTY[:2]), x_title="x", y_title="y",
                     panel_order=["P", "Q"])
    for spec in (forest, lines, bars):
        svg = str(render_svg(spec, chart_id="h", description=NASTY[2] + NASTY[0]))
        assert "<script" not in svg and "<b>" not in svg
        assert svg.count("<svg") == svg.count("</svg>") == 1 and svg.endswith("</svg>")
        root = ET.fromstring(svg)  # still one well-formed document
        texts = {t.text for t in root.iter(f"{NS}text")}
        assert root.find(f"{NS}title").text == NASTY[2] + NASTY[0]
        expected = {r["label"] for r in _layer_rows(spec, 1) if r["label"]} if spec is bars \
            else set(NASTY)
        assert expected <= texts, expected - texts
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in str(render_svg(forest, chart_id="h",
                                                                      description="d"))


def test_unsafe_chart_id_is_refused():
    with pytest.raises(ValueError, match="chart id"):
        render_svg(_small_specs()["forest"], chart_id='a"><script>', description="d")


# ------------------------------------------------------------------------ no V8

@pytest.mark.slow
def test_evaluate_runs_under_an_address_space_limit(tmp_path):
    """vl-convert's V8 reserved a huge address-space cage at start and died under any
    ``ulimit -v``; the pure-Python renderer needs no such thing."""
    lab = write_tiny_lab(tmp_path / "lab")
    out = tmp_path / "out"
    limit = 4_000_000 * 1024

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    run = subprocess.run(
        [sys.executable, "-c", "from policylab.cli import main; main()", "evaluate", str(lab),
         "--out", str(out), "--quiet"],
        preexec_fn=limit_memory, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    html = (out / "index.html").read_text(encoding="utf-8")
    svgs = re.findall(r"<svg\b[^>]*>", html)
    assert len(svgs) >= 3 and all('role="img"' in s for s in svgs)
    assert html.count('class="mark-symbol role-mark"') >= 2  # forest plots drew their points
    assert Path(out / "regions").is_dir()


# --------------------------------------------------------------------------- heat maps

def _heat_cells():
    regions = ["ES13", "PL61", "UKJ4"]
    rows = []
    for a in regions:
        for b in regions:
            value = None if a == b else (12.0 if b == "UKJ4" else 3.0)
            rows.append({"row": a, "column": b, "value": value,
                         "label": "·" if value is None else f"{value:g}"})
    return regions, pd.DataFrame(rows)


def test_a_heat_map_shades_by_value_and_leaves_a_suppressed_cell_white():
    regions, cells = _heat_cells()
    spec = charts.heatmap_spec(cells, rows=regions, columns=regions, x_title="Partner region",
                               y_title="Region")
    svg = str(charts.render_svg(spec, chart_id="heat", description="deals by region pair"))
    rects = re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="(#[0-9a-f]{6})"',
                       svg)
    assert len(rects) == 9
    assert rects.count("#ffffff") == 3  # the diagonal: no value
    assert rects.count("#262626") == 2  # the largest value: the darkest grey
    assert rects.count("#bfbfbf") == 4  # 3 of 12: a quarter of the way, 242 - 0.25 * 204 = 191
    assert svg.count(">12<") == 2 and svg.count(">·<") == 3  # every cell says its number


def test_heat_map_cells_need_two_band_axes():
    regions, cells = _heat_cells()
    spec = charts.heatmap_spec(cells, rows=regions, columns=regions, x_title="", y_title="")
    spec["y"] = {"type": "linear", "domain": [0.0, 1.0]}
    with pytest.raises(ValueError, match="heat-map cells need band x and y axes"):
        charts.check_spec(spec)
