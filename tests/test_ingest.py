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
    with pytest.raises(InputDataError, match=r"firms.csv, row 14, column 'id': duplicate of row 2 \(same id\+anyo\); "
                                             r"expected one row per firm x year \(got '001'\)"):
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
        ("id;anyo\n".encode("utf-16-le"), "file is binary"),  # UTF-16 without a byte-order mark
        (b"id;anyo;export;ventas;id\n1;2018;0;1;2\n", "duplicated column name"),
        ("id;anyo;export;ventas;empleados\n001;2018;0;10\xe9;1\n".encode("latin-1"), "got '10\xe9'"),
    ],
    ids=["empty", "binary", "utf16-without-bom", "duplicated-header", "latin1-read-as-cp1252"],
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


# --- fiscal years, pseudonymisation, provenance, data quality ------------------------------------


@pytest.mark.parametrize("month", range(1, 13))
def test_a_fiscal_year_goes_to_the_calendar_year_holding_most_of_its_months(month):
    import pandas as pd

    from policylab.ingest.mapping import FiscalRule

    starts = pd.Series([2019.0])
    got = FiscalRule(month, "start").calendar_year(starts).iloc[0]
    months_in_first_year = 13 - month
    assert got == (2019 if months_in_first_year > 6 else 2020)  # July (6 + 6) goes to the year it ends in


def test_fiscal_labels_that_name_the_end_year(tmp_path):
    # July-June fiscal years labelled by the year they end in: FY2019 = Jul 2018 - Jun 2019 -> 2019
    cfg = write_tiny_lab(tmp_path, extra="")
    cfg.write_text(cfg.read_text().replace('currency = "PLN"',
                                           'currency = "PLN"\nfiscal_year_start = 7\nfiscal_year_label = "end"'))
    firms = firms_of(cfg)
    assert sorted(firms["year"].unique()) == [2018, 2019, 2020]
    region = ingest(load_config(cfg)).regions[0]
    src = next(s for s in region.sources if s.table == "firms")
    assert "fiscal years starting in July" in src.mapping["fiscal_year"]
    assert any("fiscal years starting in July" in c for c in region.conversions)


def test_a_fiscal_start_needs_its_label_declared(tmp_path):
    from policylab.errors import ConfigError

    cfg = write_tiny_lab(tmp_path)
    cfg.write_text(cfg.read_text().replace('currency = "PLN"', 'currency = "PLN"\nfiscal_year_start = 4'))
    with pytest.raises(ConfigError, match=r"fiscal_year_start = 4 needs fiscal_year_label = 'start' or 'end'"):
        load_config(cfg)


@pytest.mark.parametrize("line, message", [
    ('encoding = "utf-9"', "unknown encoding 'utf-9'"),
    ('thousands = ","', "decimal and thousands separators are both ','"),
    ('delimiter = ";;"', "delimiter must be a single character"),
])
def test_reading_settings_are_checked_in_the_config(tmp_path, line, message):
    from policylab.errors import ConfigError

    cfg = write_tiny_lab(tmp_path)
    cfg.write_text(cfg.read_text().replace('decimal = ","', f'decimal = ","\n{line}', 1).replace(
        'delimiter = ";"\ndecimal = ","\ndelimiter = ";;"', 'decimal = ","\ndelimiter = ";;"'))
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


KEY_ENV = "POLICYLAB_TEST_PSEUDONYM_KEY"


def pseudonymised_lab(tmp_path):
    cfg = write_tiny_lab(tmp_path)
    cfg.write_text(cfg.read_text().replace("min_cell_firms = 1", f'min_cell_firms = 1\npseudonymise_key_env = "{KEY_ENV}"'))
    return cfg


def test_firm_ids_are_pseudonymised_with_a_keyed_hash(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "s3cret-key-for-tests")
    cfg = pseudonymised_lab(tmp_path)
    region = ingest(load_config(cfg)).regions[0]
    firms, mem, orders = (region.tables[n] for n in ("firms", "membership", "orders"))
    assert firms["firm_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert not set(firms["firm_id"]) & {"001", "002", "003", "004"}
    assert set(mem["firm_id"]) <= set(firms["firm_id"])  # links survive
    assert set(orders["firm_id"].dropna()) <= set(firms["firm_id"])
    again = ingest(load_config(cfg)).regions[0].tables["firms"]
    assert again["firm_id"].tolist() == firms["firm_id"].tolist()  # deterministic
    monkeypatch.setenv(KEY_ENV, "another key")
    other = ingest(load_config(cfg)).regions[0].tables["firms"]
    assert not set(other["firm_id"]) & set(firms["firm_id"])
    assert any("pseudonymised" in c and KEY_ENV in c for c in region.conversions)
    assert next(s for s in region.sources if s.table == "firms").mapping["pseudonymised"] == ["firm_id"]


def test_warnings_quote_pseudonyms_not_firm_ids(tmp_path, monkeypatch):
    from policylab.ingest.pseudonym import pseudonym

    monkeypatch.setenv(KEY_ENV, "k")
    cfg = pseudonymised_lab(tmp_path)
    (tmp_path / "orders.csv").write_text("order,cluster,firm,date,value,dest\nO1,C1,077,2019-05-02,10,US\n")
    [w] = ingest(load_config(cfg)).warnings
    assert (w.row, w.column, w.value) == (2, "firm", pseudonym(b"k", "077"))
    assert w.message == "firm not found in the firms file"


def test_the_key_is_never_written(tmp_path, monkeypatch):
    import policylab

    key = "s3cret-key-for-tests"
    monkeypatch.setenv(KEY_ENV, key)
    cfg = pseudonymised_lab(tmp_path)
    policylab.evaluate(cfg)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in written) and any(p.name == "results.json" for p in written)
    for p in written:
        assert key.encode() not in p.read_bytes(), p


def test_a_missing_key_is_a_config_error_naming_the_variable(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from policylab.cli import app

    monkeypatch.delenv(KEY_ENV, raising=False)
    cfg = pseudonymised_lab(tmp_path)
    result = CliRunner().invoke(app, ["validate", str(cfg)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: lab.pseudonymise_key_env (region tiny): environment variable {KEY_ENV} "
                                     "is not set; it must hold the secret key that pseudonymises firm IDs")


def test_data_quality_counts_come_from_ingestion(tmp_path):
    from policylab.pipeline import data_quality, provenance

    body = TINY_FIRMS.replace("002;2018", "\n;;;;\n002;2018").replace("003;2019;0;80;7", "003;2019;0;80;")
    cfg = write_tiny_lab(tmp_path, firms=body)
    data = ingest(load_config(cfg))
    row = data_quality(data.regions[0])
    assert row["firm_rows_read"] == 14 and row["firm_years_kept"] == 12 and row["rows_dropped"] == 2
    assert row["missing_by_column"] == "exports_eur 1; employees 1"
    assert row["missing_exports"] == 1
    inputs = provenance(load_config(cfg), data)["inputs"]
    firms = next(i for i in inputs if i["table"] == "firms")
    assert firms["rows"] == 14 and firms["rows_dropped"] == 2
    assert firms["mapping"]["columns"]["turnover_eur"] == "ventas"
    assert firms["mapping"]["fx_rates"] == {"2018": 4.0, "2019": 4.0, "2020": 5.0}
    assert firms["mapping"]["delimiter"] == "semicolon" and firms["mapping"]["encoding"] == "utf-8 (detected)"
    from policylab.store import sha256_file

    assert firms["sha256"] == sha256_file(tmp_path / "firms.csv")


def test_validate_prints_a_table_and_values_are_never_markup(tmp_path):
    from typer.testing import CliRunner

    from policylab.cli import app

    cfg = write_tiny_lab(tmp_path, firms=TINY_FIRMS.replace("002;2019;2;", "002;2019;[bold]x[/bold];"))
    result = CliRunner().invoke(app, ["validate", str(cfg)])
    assert result.exit_code == 2
    assert "[bold]x[/bold]" in result.stdout
    assert "severity" in result.stdout and "firms.csv" in result.stdout
    assert result.stdout.rstrip().endswith("1 region(s) checked: 1 error(s), 0 warning(s)")


def test_typed_parquet_columns_read_as_the_same_cells_as_text(tmp_path):
    """Parquet columns are read typed (no Python object per cell): integers with nulls, floats
    with NaN, decimals, padded and blank strings and integer ids give the canonical table
    that the same values written as CSV text give."""
    import decimal

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from policylab.config import parse_config
    from policylab.ingest import ingest

    ids = pa.array([1, 1, 2, 2, 3, 3], pa.int64())
    years = pa.array([2019, 2020, 2019, 2020, 2019, 2020], pa.int32())
    exports = pa.array([0.0, 5.5, float("nan"), 2.0, None, 1e6], pa.float64())
    turnover = pa.array([decimal.Decimal(x) for x in ("10.5", "11", "20", "21", "30", "31")],
                        pa.decimal128(10, 2))
    sector = pa.array(["  C10 ", "C10", "", None, "C25", "C25"], pa.string())
    pq.write_table(pa.table({"id": ids, "year": years, "exports": exports, "turnover": turnover,
                             "sector": sector}), tmp_path / "firms.parquet")
    (tmp_path / "firms.csv").write_text(
        "id,year,exports,turnover,sector\n1,2019,0,10.5,  C10 \n1,2020,5.5,11,C10\n2,2019,,20,\n"
        "2,2020,2,21,\n3,2019,,30,C25\n3,2020,1000000,31,C25\n", encoding="utf-8")
    (tmp_path / "members.csv").write_text("id,cluster,joined\n1,C1,2020\n", encoding="utf-8")
    tables = {}
    for suffix in ("parquet", "csv"):
        text = f"""
[lab]
name = "t"
[[regions]]
key = "r"
name = "R"
nuts2 = "ES13"
country = "ES"
[regions.files.firms]
path = "firms.{suffix}"
[regions.files.firms.columns]
firm_id = "id"
year = "year"
exports_eur = "exports"
turnover_eur = "turnover"
sector = "sector"
[regions.files.membership]
path = "members.csv"
[regions.files.membership.columns]
firm_id = "id"
cluster_id = "cluster"
join_year = "joined"
"""
        data = ingest(parse_config(text, base_dir=tmp_path))
        tables[suffix] = data.regions[0].tables["firms"]
    pd.testing.assert_frame_equal(tables["parquet"], tables["csv"], check_exact=True)
    assert tables["parquet"]["firm_id"].tolist() == ["1", "1", "2", "2", "3", "3"]


def test_policylab_ingest_stays_callable_after_the_package_is_imported(tiny_lab):
    """``policylab.ingest(cfg)`` works however ``policylab.ingest`` was reached: importing the
    package ``policylab.ingest`` (as ``evaluate`` does) rebinds the name to the package."""
    import importlib

    import policylab

    importlib.import_module("policylab.ingest")
    data = policylab.ingest(policylab.load_config(tiny_lab))
    assert [r.info.key for r in data.regions] == ["tiny"]


def test_a_parquet_firms_file_with_float_years_is_read(tmp_path):
    """Parquet writers often store years as floats (2018.0): they are whole years, read as such
    (the typed numbers are a copy the year parser may write into, not pyarrow's read-only
    buffer)."""
    import pandas as pd

    config = write_tiny_lab(tmp_path)
    firms = pd.read_csv(tmp_path / "firms.csv", sep=";", decimal=",", dtype={"id": str})
    firms.astype({"anyo": "float64"}).to_parquet(tmp_path / "firms.parquet")
    config.write_text(config.read_text(encoding="utf-8").replace(
        'path = "firms.csv"\ndelimiter = ";"\ndecimal = ","\n', 'path = "firms.parquet"\n'), encoding="utf-8")
    (region,) = ingest(load_config(config)).regions
    assert region.tables["firms"]["year"].tolist() == [2018, 2019, 2020] * 4
