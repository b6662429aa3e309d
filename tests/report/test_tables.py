"""The report's tables, written without great_tables: numbers exactly as great_tables formats
them, the same table structure, escaped text, identical bytes on every run.

great_tables is a test dependency only: it is the reference the formatting and the stylesheet
are compared with.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from html.parser import HTMLParser

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_data import table_grid

from policylab.report import _html_table as H
from policylab.report import tables
from policylab.report.tables import Column

great_tables = pytest.importorskip("great_tables")
from great_tables import GT, vals  # noqa: E402

# --------------------------------------------------------------------------- numbers

EDGE_VALUES = [
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.05, -0.05, 0.004, -0.004, 0.0049999,
    -0.0050001, 0.125, -0.125, 999.5, -999.5, 999.95, 999999.5, -999999.5, 1000.0, 1234.5678,
    -1234.5678, 12345678.9, -98765432.1, 1e15, -1e15, 1e18, 1e21, 9.999e20, 1e-5, -1e-7,
    1e-300, 5e-324, -5e-324, 1e300, -1e300, 0.1 + 0.2, 1 / 3, -2 / 3, 123456.0, math.inf,
    -math.inf, 7, -12, 10**12,
]

finite_or_inf = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True),
    st.floats(min_value=-1e7, max_value=1e7, allow_nan=False),
    st.floats(min_value=-1.0, max_value=1.0, allow_nan=False),
    st.integers(min_value=-10**15, max_value=10**15).map(float),
    st.integers(min_value=-10**6, max_value=10**6).map(lambda i: i / 1000),  # ties: x.xx5
)


def _ours(values, **kw):
    return [H.format_number(v, **kw) for v in values]


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("force_sign", [False, True])
@pytest.mark.parametrize("compact", [False, True])
def test_format_number_equals_great_tables_on_edge_values(decimals, force_sign, compact):
    expected = vals.fmt_number(EDGE_VALUES, decimals=decimals, force_sign=force_sign,
                               compact=compact)
    assert _ours(EDGE_VALUES, decimals=decimals, force_sign=force_sign,
                 compact=compact) == expected


@pytest.mark.parametrize("use_seps", [True, False])
def test_format_integer_equals_great_tables_on_edge_values(use_seps):
    assert [H.format_integer(v, use_seps=use_seps) for v in EDGE_VALUES] == vals.fmt_integer(
        EDGE_VALUES, use_seps=use_seps)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(finite_or_inf, min_size=1, max_size=30),
       decimals=st.integers(min_value=0, max_value=6), force_sign=st.booleans(),
       use_seps=st.booleans(), compact=st.booleans())
def test_format_number_equals_great_tables(values, decimals, force_sign, use_seps, compact):
    expected = vals.fmt_number(values, decimals=decimals, force_sign=force_sign,
                               use_seps=use_seps, compact=compact)
    assert _ours(values, decimals=decimals, force_sign=force_sign, use_seps=use_seps,
                 compact=compact) == expected


@settings(max_examples=200, deadline=None)
@given(values=st.lists(finite_or_inf, min_size=1, max_size=30), use_seps=st.booleans(),
       force_sign=st.booleans())
def test_format_integer_equals_great_tables(values, use_seps, force_sign):
    assert [H.format_integer(v, use_seps=use_seps, force_sign=force_sign) for v in values] == \
        vals.fmt_integer(values, use_seps=use_seps, force_sign=force_sign)


def test_number_formatting_details():
    assert H.format_number(-1234.5, 1) == "\u22121,234.5"  # true minus sign, separators
    assert H.format_number(-0.0, 2) == "0.00" and H.format_number(-0.004, 2) == "0.00"
    assert H.format_number(0.0, 1, force_sign=True) == "0.0"  # no sign on zero
    assert H.format_number(0.04, 1, force_sign=True) == "0.0"  # nor on what rounds to zero
    assert H.format_number(12_900_000, 1, compact=True) == "12.9M"
    assert H.format_number(999_999, 1, compact=True) == "1.0M"  # the suffix after rounding
    assert H.format_integer(2023, use_seps=False) == "2023"
    for missing in (None, math.nan, float("nan"), pd.NA):
        assert H.format_number(missing, 2) is None and H.format_integer(missing) is None


def test_missing_and_infinite_values_in_a_table_as_great_tables_shows_them():
    values = [1.5, math.nan, None, math.inf, -math.inf, -0.0, 1234.5]
    frame = pd.DataFrame({"label": [f"r{i}" for i in range(len(values))],
                          "x": pd.array(values, dtype="Float64").astype("float64")})
    gt = (GT(frame, id="ref", rowname_col="label").fmt_number(columns="x", decimals=1)
          .sub_missing(missing_text=tables.MISSING))
    ours = tables.figures_table(frame, table_id="ref", columns=[Column("x", "x", "number", "",
                                                                       1)])
    assert table_grid(ours) == table_grid(gt.as_raw_html())
    assert [row[1] for row in table_grid(ours)[1:]] == [
        "1.5", "—", "—", "inf", "\u2212inf", "0.0", "1,234.5"]


# --------------------------------------------------------------------------- one table

def _frame() -> pd.DataFrame:
    nan = math.nan
    return pd.DataFrame({
        "label": ["Cantabria", "Kent", "Lab <b>"],
        "grp": ["Regions", "Regions", "Lab-wide"],
        "firms": [1234, None, 5],
        "share": [12.345, -0.04, 3.0],
        "effect": [-1.25, 2.0, nan], "effect_low": [-3.5, 1.0, nan],
        "effect_high": [0.5, 3.0, nan],
        "reading": ["fine", None, "a & b"],
    })


COLUMNS = [Column("firms", "Firms", "count", "In the data"),
           Column("share", "Share, %", "percent", "In the data"),
           Column("effect", "Effect [95% CI]", "effect"),
           Column("reading", "Reading", "text")]


def _table(table_id: str = "t") -> tables.Table:
    return tables.figures_table(_frame(), table_id=table_id, columns=COLUMNS,
                                flags={"firms": {1: "suppressed"}}, groupname="grp",
                                notes=["Source: <registry>"], min_cell_firms=5)


def test_a_small_table_has_the_expected_cells():
    assert table_grid(_table()) == [
        ["", "In the data", "Effect [95% CI]", "Reading"],  # spanner row (stub head first)
        ["Firms", "Share, %"],  # the labels under the spanner
        ["Regions"],
        ["Cantabria", "1,234", "12.3", "\u22121.2 [\u22123.5, +0.5]", "fine"],
        ["Kent", "·", "0.0", "+2.0 [+1.0, +3.0]", "—"],
        ["Lab-wide"],
        ["Lab <b>", "5", "3.0", "—", "a & b"],
        ["Source: <registry>"],
        ["· suppressed: fewer than 5 firms"],
    ]


def test_a_small_table_has_great_tables_structure():
    html = str(_table())
    assert html.startswith('<div id="t" class="gtcss-') and html.endswith("</div>\n")
    head = re.findall(r"<th [^>]*>", html)
    assert all(' scope="' in th for th in head)  # every header cell says what it heads
    assert 'colspan="2" scope="colgroup" id="t-In-the-data"' in html  # the spanner
    assert 'scope="colgroup" id="t-Regions">Regions</th>' in html  # a row group
    assert '<th scope="row" id="t-stub-2" class="gt_row gt_left gt_stub">Kent</th>' in html
    assert ('<td style="font-weight: bold; background-color: #e6e6e6;" '
            'class="gt_row gt_right">·</td>') in html  # the suppressed cell, on grey
    assert ('<td style="white-space: nowrap" class="gt_row gt_right">+2.0 [+1.0, +3.0]</td>'
            in html)
    assert '<td class="gt_row gt_left">a &amp; b</td>' in html
    assert " headers=" not in html and "\n " not in html  # compact
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)) and all(i == "t" or i.startswith("t-") for i in ids)


def test_the_same_cells_as_great_tables_builds():
    """The same table built with great_tables (what the report used before) reads the same."""
    df = _frame().astype({"firms": "float64"})
    gt = (GT(df, id="t", rowname_col="label", groupname_col="grp")
          .fmt_integer(columns="firms").fmt_number(columns="share", decimals=1)
          .fmt_number(columns=["effect", "effect_low", "effect_high"], decimals=1,
                      force_sign=True)
          .cols_merge(columns=["effect", "effect_low", "effect_high"], rows=[0, 1],
                      pattern="{0} [{1}, {2}]")
          .cols_hide(columns=["effect_low", "effect_high"])
          .sub_missing(missing_text="—")
          .sub_missing(columns="firms", rows=[1], missing_text="·")
          .cols_label(cases={c.key: c.label for c in COLUMNS})
          .tab_spanner(label="In the data", columns=["firms", "share"])
          .tab_source_note("Source: <registry>")
          .tab_source_note("· suppressed: fewer than 5 firms"))
    assert table_grid(_table()) == table_grid(gt.as_raw_html())


def test_period_table_from_records_or_a_frame_is_the_same():
    long = [{"row": r, "group": g, "kind": k, "period": p, "value": v, "flag": f}
            for r, g, k in (("A", "Value", "money"), ("B", "Value", "money"),
                            ("A", "Count", "count"))
            for p, v, f in (("2022", 1234567.0, ""), ("2023", None, "suppressed"),
                            ("cumulative", 2.5e6, ""))]
    kw = {"table_id": "p", "periods": ["2022", "2023", "cumulative"], "min_cell_firms": 3,
          "period_labels": {"cumulative": "Whole period"}}
    a, b = tables.period_table(long, **kw), tables.period_table(pd.DataFrame(long), **kw)
    assert str(a) == str(b)
    assert table_grid(a) == [
        ["", "2022", "2023", "Whole period"],
        ["Value"], ["A", "1.2M", "·", "2.5M"], ["B", "1.2M", "·", "2.5M"],
        ["Count"], ["A", "1,234,567", "·", "2,500,000"],
        ["· suppressed: fewer than 3 firms"],
    ]


# --------------------------------------------------------------------------- escaping

EVIL = "<script>alert(1)</script> \"q\" 'a' & <img src=x onerror=alert(2)>"
EVIL_ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt; &quot;q&quot; &#x27;a&#x27; &amp; "
                "&lt;img src=x onerror=alert(2)&gt;")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(a for a, _ in attrs)


def _assert_inert(html: str) -> None:
    assert "<script" not in html and "<img" not in html
    parser = _Tags()
    parser.feed(html)
    assert parser.tags <= {"div", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "span"}
    assert parser.attrs <= {"id", "class", "style", "rowspan", "colspan", "scope",
                            "data-quarto-disable-processing", "data-quarto-bootstrap"}


def test_hostile_strings_are_escaped_everywhere():
    frame = pd.DataFrame({"label": [EVIL], "grp": [EVIL], "n": [1.0], "text": [EVIL],
                          "e": [0.1], "e_low": [0.0], "e_high": [0.2]})
    columns = [Column("n", EVIL, "count", EVIL), Column("text", EVIL, "text"),
               Column("e", EVIL, "effect", EVIL + "2")]
    html = str(tables.figures_table(frame, table_id="x", columns=columns, groupname="grp",
                                    notes=[EVIL]))
    _assert_inert(html)
    # stub, group, three column labels, two spanner labels, text cell, note: all escaped
    assert html.count(EVIL_ESCAPED) == 9
    assert table_grid(html)[0] == ["", EVIL, EVIL, EVIL + "2"]

    long = [{"row": EVIL, "group": EVIL, "kind": "count", "period": "2023", "value": 1.0,
             "flag": ""}]
    html = str(tables.period_table(long, table_id="y", periods=["2023"], min_cell_firms=EVIL,
                                   notes=[EVIL], period_labels={"2023": EVIL}))
    _assert_inert(html)
    assert html.count(EVIL_ESCAPED) == 4  # row, group, period label, note
    assert table_grid(html) == [["", EVIL], [EVIL], [EVIL, "1"], [EVIL]]

    rows = pd.DataFrame({"indicator_id": ["I01"], "indicator": [EVIL], "unit": [EVIL],
                         "group": ["all"], "period": ["2023"], "value": [3.0],
                         "flag": ["suppressed"]})
    html = str(tables.dashboard_table(rows, table_id="z", years=["2023"], cumulative=False,
                                      min_cell_firms=EVIL))
    _assert_inert(html)
    assert EVIL_ESCAPED in html


# --------------------------------------------------------------------------- bytes, stylesheet

def test_the_same_table_renders_identical_bytes_twice():
    assert str(_table()).encode() == str(_table()).encode()
    assert _table() == _table()


def test_table_ids_are_fixed_by_the_caller():
    a, b = _table("first"), _table("second")
    assert a.id == "first" and b.id == "second"
    assert str(b) == str(a).replace('id="first', 'id="second')


def test_the_stylesheet_is_the_one_great_tables_writes():
    """templates/tables.css is great_tables' stylesheet for the report's table options, with
    the table's selector as a placeholder; it is shared by every table."""
    raw = GT(pd.DataFrame({"x": [1]}), id="probe").tab_options(
        **tables.TABLE_OPTIONS).as_raw_html()
    css = re.search(r"<style>(.*?)</style>", raw, re.S).group(1)
    css = re.sub(r"#probe(?![\w-])", "#__gt_scope__", css)
    css = "\n".join(line.strip() for line in css.strip().splitlines() if line.strip())
    css_class, scoped = tables.stylesheet()
    assert scoped == css.replace("#__gt_scope__", "." + css_class)
    assert re.fullmatch(r"gtcss-[0-9a-f]{10}", css_class)
    assert _table().css_class == css_class and _table().css == scoped


def test_tables_do_not_import_great_tables():
    code = ("import sys; import pandas as pd; from policylab.report import tables;"
            "from policylab.report._overview import fmt_number;"
            "tables.figures_table(pd.DataFrame({'label': ['a'], 'x': [1.5]}), table_id='t',"
            " columns=[tables.Column('x', 'X', 'number')]); fmt_number(-1.5);"
            "print('great_tables' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
