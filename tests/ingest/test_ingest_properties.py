"""Property-based tests: whatever text a firms file holds, ingestion returns valid canonical tables
or raises the documented user error (``InputDataError``, exit 2) — nothing else.

Hypothesis writes generated CSV text (and raw bytes) as the firms file of the tiny lab. The
generated files mix plausible cells (numbers with decimal commas and thousands separators,
years, fiscal labels, leading-zero IDs, blanks, 'n/a', formula-like text) with arbitrary
unicode (quotes, delimiters and line breaks inside cells), and are written either through a
CSV writer (well quoted) or joined raw (possibly ragged or with open quotes).
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from labfiles import TINY_CONFIG, write_tiny_lab

from policylab.config import FileSpec, load_config
from policylab.errors import InputDataError, Problem
from policylab.ingest import ingest
from policylab.ingest.readers import RawTable, ReadError, read_raw
from policylab.schema import TABLES

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER = ["id", "anyo", "export", "ventas", "empleados"]

ids = st.sampled_from(["001", "002", "003", "004", "0042", "x-1", "", " 001 ", "1"])
years = st.one_of(st.integers(2017, 2021).map(str), st.sampled_from(["2019/20", "20x8", "", "1899", "2019.0", "FY19"]))
plain_numbers = st.one_of(
    st.integers(0, 10**7).map(str),
    st.floats(0, 1e6, allow_nan=False).map(lambda v: f"{v:.2f}"),
    st.floats(0, 1e6, allow_nan=False).map(lambda v: f"{v:.2f}".replace(".", ",")),
    st.floats(1e3, 1e9, allow_nan=False).map(lambda v: f"{v:,.2f}"),
    st.floats(1e3, 1e9, allow_nan=False).map(lambda v: f"{v:,.2f}".replace(",", " ").replace(".", ",")),
)
odd_cells = st.one_of(
    st.sampled_from(["", "n/a", "-", "-5", "1,234", "1.234", "1e5", "inf", "NaN", "=cmd|' /C calc'!A0", '"', "0"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),
)
numbers = st.one_of(plain_numbers, plain_numbers, plain_numbers, odd_cells)
rows = st.lists(st.tuples(ids, years, numbers, numbers, st.one_of(st.integers(0, 500).map(str), odd_cells)),
                min_size=0, max_size=12, unique_by=lambda r: (r[0].strip(), r[1]))


def render(header: list[str], body: list[tuple], delimiter: str, quoted: bool) -> str:
    if quoted:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)
        return buf.getvalue()
    return "\n".join(delimiter.join(r) for r in [header, *body]) + "\n"


def lab_with(root: Path, firms: str | bytes, spec_lines: str = "") -> Path:
    cfg = write_tiny_lab(root)
    target = root / "firms.csv"
    target.write_bytes(firms if isinstance(firms, bytes) else firms.encode("utf-8"))
    text = TINY_CONFIG.format(extra="").replace('delimiter = ";"\ndecimal = ","\n', spec_lines, 1)
    cfg.write_text(text, encoding="utf-8")
    return cfg


def check_outcome(cfg: Path) -> str:
    """Ingest; assert the outcome is valid tables or a well-formed InputDataError. Returns which."""
    try:
        data = ingest(load_config(cfg))
    except InputDataError as exc:
        assert exc.problems
        for p in exc.problems:
            assert isinstance(p, Problem) and p.severity == "error"
            assert p.file in {"firms.csv", "members.csv", "clusters.csv", "orders.csv"}
            assert p.row is None or p.row >= 1
            assert "\n" not in str(p) and "\r" not in str(p)
        event("InputDataError")
        return "error"
    firms = data.regions[0].tables["firms"]
    assert set(firms.columns) <= set(TABLES["firms"].column_names)
    assert str(firms["firm_id"].dtype) == "string" and firms["firm_id"].notna().all()
    assert str(firms["year"].dtype) == "Int64" and firms["year"].between(1900, 2100).all()
    assert not firms.duplicated(["firm_id", "year"]).any()
    for col in ("exports_eur", "turnover_eur", "employees"):
        v = firms[col].to_numpy(dtype=float)
        assert firms[col].dtype == "float64" and ((v >= 0) | np.isnan(v)).all()
    mem = data.regions[0].tables["membership"]
    assert set(mem["firm_id"]) <= set(firms["firm_id"])
    event("valid tables")
    return "ok"


@SETTINGS
@given(body=rows, delimiter=st.sampled_from([";", ",", "\t", "|"]), quoted=st.booleans(),
       declared=st.booleans(), decimal=st.sampled_from(["", 'decimal = ","\n', 'decimal = "."\n']))
def test_generated_csv_gives_valid_tables_or_the_documented_error(body, delimiter, quoted, declared, decimal):
    spec = (f'delimiter = "{delimiter}"\n'.replace("\t", "\\t") if declared else "") + decimal
    with tempfile.TemporaryDirectory() as d:
        check_outcome(lab_with(Path(d), render(HEADER, body, delimiter, quoted), spec))


@SETTINGS
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_give_valid_tables_or_the_documented_error(data):
    with tempfile.TemporaryDirectory() as d:
        check_outcome(lab_with(Path(d), data))


@SETTINGS
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
       header_row=st.integers(1, 3), delimiter=st.sampled_from([None, ";", ","]))
def test_the_reader_returns_rows_it_can_name_or_one_read_error(text, header_row, delimiter):
    spec = FileSpec(path=Path("f.csv"), columns={"firm_id": "id"}, header_row=header_row, delimiter=delimiter)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.csv"
        path.write_text(text, encoding="utf-8")
        try:
            raw = read_raw(path, spec, "f.csv")
        except ReadError as exc:
            assert exc.problems and all(p.file == "f.csv" for p in exc.problems)
            return
    assert isinstance(raw, RawTable)
    assert len(raw.frame) == len(raw.source_rows)
    assert (np.diff(raw.source_rows) > 0).all() and (raw.source_rows > header_row).all()
    assert raw.rows_read >= len(raw.frame) and raw.blank_rows >= 0


firm_years = st.lists(st.tuples(st.sampled_from(["001", "002", "003", "004", "0042"]), st.integers(2018, 2020),
                                st.one_of(st.none(), st.floats(0, 1e7, allow_nan=False)),
                                st.floats(0, 1e8, allow_nan=False)),
                      min_size=1, max_size=15, unique_by=lambda r: (r[0], r[1]))


@SETTINGS
@given(body=firm_years, style=st.sampled_from(["point", "comma", "comma-dots", "point-commas", "spaces"]),
       declare=st.booleans())
def test_well_formed_numbers_round_trip_in_every_style(body, style, declare):
    """Numbers written in any common convention come back as the same EUR values."""
    body = [r for r in body] + [(f, y, 0.0, 1.0) for f in ("001", "002") for y in (2018,)
                                if not any(r[0] == f and r[1] == y for r in body)]

    def fmt(v: float | None) -> str:
        if v is None:
            return ""
        s = f"{v:,.2f}"  # 1,234,567.89
        return {"point": s.replace(",", ""), "comma": s.replace(",", "").replace(".", ","),
                "comma-dots": s.replace(",", "_").replace(".", ",").replace("_", "."),
                "point-commas": s, "spaces": s.replace(",", " ").replace(".", ",")}[style]

    lines = ["id;anyo;export;ventas;empleados"] + [f"{f};{y};{fmt(e)};{fmt(t)};1" for f, y, e, t in body]
    decimal = "," if style in ("comma", "comma-dots", "spaces") else "."
    thousands = {"point": "", "comma": "", "comma-dots": ".", "point-commas": ",", "spaces": " "}[style]
    spec = 'delimiter = ";"\n' + (f'decimal = "{decimal}"\nthousands = "{thousands}"\n' if declare else "")
    with tempfile.TemporaryDirectory() as d:
        try:
            data = ingest(load_config(lab_with(Path(d), "\n".join(lines) + "\n", spec)))
        except InputDataError as exc:
            # only an undecidable format may stop an undeclared file: '1,234' alone is ambiguous
            assert not declare and all("cannot tell the decimal separator" in p.message for p in exc.problems), exc
            return
    firms = data.regions[0].tables["firms"].set_index(["firm_id", "year"])
    rate = {2018: 4.0, 2019: 4.0, 2020: 5.0}
    for f, y, e, t in body:
        got = firms.loc[(f, y)]
        assert math.isclose(got["turnover_eur"], round(t, 2) * 1000 / rate[y], rel_tol=1e-9, abs_tol=1e-6)
        if e is None:
            assert pd.isna(got["exports_eur"])
        else:
            assert math.isclose(got["exports_eur"], round(e, 2) * 1000 / rate[y], rel_tol=1e-9, abs_tol=1e-6)
