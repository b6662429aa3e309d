"""Ingestion: each region's layout mapped into canonical tables; problems named precisely."""

from __future__ import annotations

import math

import openpyxl
import pytest

from labfiles import TINY_FIRMS, write_tiny_lab
from policylab.config import load_config
from policylab.errors import InputDataError
from policylab.ingest import check_inputs, ingest


def firms_of(cfg_path):
    return ingest(load_config(cfg_path)).regions[0].tables["firms"]


def test_decimal_comma_thousands_and_currency_are_converted_to_eur(tiny_lab):
    firms = firms_of(tiny_lab)
    row = firms[(firms.firm_id == "001") & (firms.year == 2018)].iloc[0]
    assert row.turnover_eur == pytest.approx(100.5 * 1000 / 4.0)  # 100,5 thousand PLN at 4 PLN/EUR
    row = firms[(firms.firm_id == "001") & (firms.year == 2020)].iloc[0]
    assert row.exports_eur == pytest.approx(5 * 1000 / 5.0)  # 2020 rate is 5


def test_ids_keep_leading_zeros_and_blank_stays_missing_not_zero(tiny_lab):
    firms = firms_of(tiny_lab)
    assert set(firms.firm_id) == {"001", "002", "003", "004"}
    e = firms.set_index(["firm_id", "year"])["exports_eur"]
    assert math.isnan(e[("004", 2018)])
    assert e[("003", 2018)] == 0.0


def test_provenance_records_hashes_and_conversions(tiny_lab):
    region = ingest(load_config(tiny_lab)).regions[0]
    assert {s.table for s in region.sources} == {"firms", "membership", "clusters", "orders"}
    assert all(len(s.sha256) == 64 for s in region.sources)
    assert any("PLN converted to EUR" in c for c in region.conversions)
    assert any("multiplied by 1000" in c for c in region.conversions)


def test_a_bad_number_is_reported_with_file_row_column_and_value(tmp_path):
    bad = TINY_FIRMS.replace("002;2019;2;55;4", "002;2019;two;55;4")
    cfg = write_tiny_lab(tmp_path, firms=bad)
    with pytest.raises(InputDataError) as err:
        ingest(load_config(cfg))
    msg = str(err.value)
    # line 6 of the file: header is line 1, 002;2019 is the 5th data row
    assert msg == "firms.csv, row 6, column 'export': expected a number (with a decimal comma) (got 'two')"


def test_every_problem_is_collected_in_one_pass(tmp_path):
    bad = TINY_FIRMS.replace("002;2019;2;55;4", "002;2019;-2;55;4").replace("003;2018", "003;20x8")
    cfg = write_tiny_lab(tmp_path, firms=bad, members="firm,cluster,joined,left\n001,C1,2019,2017\n")
    _, problems = check_inputs(load_config(cfg))
    messages = {(p.file, p.row, p.column, p.message) for p in problems if p.severity == "error"}
    assert ("firms.csv", 6, "export", "negative value; expected 0 or more") in messages
    assert ("firms.csv", 8, "anyo", "expected a calendar year such as 2019") in messages
    assert ("members.csv", 2, "left", "exit year before join year") in messages


def test_a_missing_column_lists_the_header(tmp_path):
    cfg = write_tiny_lab(tmp_path, firms=TINY_FIRMS.replace("ventas", "turnover"))
    with pytest.raises(InputDataError, match=r"firms.csv, column 'ventas': column not found \(mapped to "
                                             r"'turnover_eur'\); the header has: 'id', 'anyo'"):
        ingest(load_config(cfg))


def test_duplicate_firm_years_are_errors(tmp_path):
    cfg = write_tiny_lab(tmp_path, firms=TINY_FIRMS + "001;2018;0;100;10\n")
    with pytest.raises(InputDataError, match=r"firms.csv, row 14, column 'id': duplicate of an earlier row"):
        ingest(load_config(cfg))


def test_exports_above_turnover_is_a_warning_not_an_error(tmp_path):
    cfg = write_tiny_lab(tmp_path, firms=TINY_FIRMS.replace("002;2018;1;50;4", "002;2018;70;50;4"))
    data = ingest(load_config(cfg))
    [w] = data.warnings
    assert (w.row, w.column, w.severity) == (5, "export", "warning")
    assert "exports exceed turnover" in w.message


def test_members_must_be_known_firms(tmp_path):
    cfg = write_tiny_lab(tmp_path, members="firm,cluster,joined,left\n009,C1,2019,\n")
    with pytest.raises(InputDataError, match=r"members.csv, row 2, column 'firm': firm not found in the firms file"):
        ingest(load_config(cfg))


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "file is empty"),
        (b"\x00\x01\x02garbage\x00", "file is binary"),
        ("id;anyo\n".encode("utf-16"), "file is binary"),
        (b"id;anyo;export;ventas;id\n1;2018;0;1;2\n", "duplicated column name"),
        ("id;anyo;export;ventas;empleados\n001;2018;0;10\xe9;1\n".encode("latin-1"), "cannot be decoded as utf-8"),
    ],
    ids=["empty", "binary", "utf16", "duplicated-header", "latin1-as-utf8"],
)
def test_unreadable_files_give_one_clear_problem(tmp_path, content, expected):
    cfg = write_tiny_lab(tmp_path)
    (tmp_path / "firms.csv").write_bytes(content)
    with pytest.raises(InputDataError, match=expected):
        ingest(load_config(cfg))


def test_a_missing_file_is_named(tmp_path):
    cfg = write_tiny_lab(tmp_path)
    (tmp_path / "orders.csv").unlink()
    with pytest.raises(InputDataError, match=r"orders.csv: file not found"):
        ingest(load_config(cfg))


def test_excel_with_a_title_row(tmp_path):
    extra = ""
    cfg = write_tiny_lab(tmp_path, extra=extra)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Firms"
    ws.append(["Export panel, thousands of PLN"])
    ws.append([])
    ws.append(["id", "anyo", "export", "ventas", "empleados"])
    for line in TINY_FIRMS.splitlines()[1:]:
        fid, year, exp, turn, emp = line.split(";")
        ws.append([fid, int(year), float(exp) if exp else None, float(turn.replace(",", ".")), int(emp)])
    wb.save(tmp_path / "firms.xlsx")
    text = cfg.read_text().replace('path = "firms.csv"', 'path = "firms.xlsx"\nsheet = "Firms"\nheader_row = 3')
    cfg.write_text(text)
    firms = firms_of(cfg)
    a = firms.set_index(["firm_id", "year"])
    assert a.loc[("001", 2018), "turnover_eur"] == pytest.approx(100.5 * 1000 / 4)
    assert math.isnan(a.loc[("004", 2018), "exports_eur"])
    text = cfg.read_text().replace('sheet = "Firms"', 'sheet = "Firmy"')
    cfg.write_text(text)
    with pytest.raises(InputDataError, match=r"firms.xlsx: has no sheet 'Firmy'; sheets are \['Firms'\]"):
        ingest(load_config(cfg))
