"""Write the malformed-and-awkward input corpus (``tests/ingest/corpus/``).

Run ``python tests/ingest/make_corpus.py`` after changing a case; the files are committed so
that a reader can open each one and see what the test feeds to policylab. Text files are
written byte for byte from the strings below; workbooks and Parquet files are built with
openpyxl and pyarrow. Each file replaces one file of the tiny lab (``labfiles.py``) in a case
of ``cases.toml``; the firms files use that lab's layout (``id;anyo;export;ventas;empleados``,
decimal comma, money in thousands of PLN) unless the case changes the file's settings.
"""

from __future__ import annotations

import codecs
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"

H = "id;anyo;export;ventas;empleados\n"
GOOD = """\
001;2018;0;100,5;10
001;2019;0;110;10
001;2020;5;120;11
002;2018;1;50;4
002;2019;2;55;4
002;2020;3;60;4
003;2018;0;80;7
003;2019;0;80;7
003;2020;0;85;7
004;2018;;90;9
004;2019;4;95;9
004;2020;6;99;9
"""
NAMED_H = "id;anyo;export;ventas;empleados;nombre\n"


def named(names: dict[str, str], body: str = GOOD) -> str:
    """The good firms rows with a name column (names by firm id)."""
    return "".join(f"{line};{names[line.split(';')[0]]}\n" for line in body.splitlines())


TEXT: dict[str, str] = {
    # --- unreadable or structurally broken ------------------------------------------------
    "empty.csv": "",
    "blank_lines_only.csv": "\n   \n\t\n",
    "header_only.csv": H,
    "header_row_beyond_end.csv": H + "001;2018;0;1;1\n",
    "blank_header_line.csv": "\n" + H + GOOD,
    "duplicated_header.csv": "id;anyo;export;ventas;empleados;anyo\n001;2018;0;1;1;2018\n",
    "ragged_rows.csv": H + "001;2018;0;100,5;10\n001;2019;0;110;10;7\n001;2020;5;120\n" + GOOD.split("\n", 3)[3],
    "unclosed_quote.csv": NAMED_H + '001;2018;0;100,5;10;"Unclosed Ltd\n001;2019;0;110;10;Next\n002;2018;1;50;4;More\n',
    "missing_required_column.csv": "id;anyo;export;empleados\n001;2018;0;10\n",
    "column_name_case.csv": "id;anyo;export;Ventas;empleados\n001;2018;0;100,5;10\n",
    "wrong_delimiter_declared.csv": H.replace(";", ",") + GOOD.replace(",", ".").replace(";", ","),
    "title_line_no_header_row.csv": "Export panel, thousands of PLN\n" + H + GOOD,
    "title_line_with_header_row.csv": "Export panel, thousands of PLN\n\n" + H + GOOD,
    "unsupported.json": '{"id": "001"}\n',
    "not_a_workbook.xlsx": H + GOOD,
    "not_parquet.parquet": H + GOOD,
    # --- delimiters, quoting, line ends --------------------------------------------------------
    "semicolon_sniffed.csv": H + GOOD,
    "tab_delimited.tsv": (H + GOOD).replace(";", "\t"),
    "pipe_delimited.csv": (H + GOOD).replace(";", "|"),
    "multiline_quoted.csv": NAMED_H
    + '001;2018;0;100,5;10;"Conservas\nMoche S.A."\n'
    + '001;2019;0;110;10;"Three\nline\nname"\n'
    + "001;2020;five;120;11;Plain\n"
    + named({"002": "B", "003": "C", "004": "D"}, GOOD.split("\n", 3)[3]),
    "crlf_line_endings.csv": (H + GOOD.replace("003;2019", "003;2O19")).replace("\n", "\r\n"),
    "blank_rows_inside.csv": H + GOOD.replace("002;2018", "\n;;;;\n002;2018"),
    "trailing_delimiters.csv": "".join(line + ";;\n" for line in (H + GOOD).splitlines()),
    # --- numbers -------------------------------------------------------------------------------
    "decimal_comma_detected.csv": H + GOOD,
    "ambiguous_decimal.csv": H + GOOD.replace("100,5", "1,234").replace(";110;", ";2,500;"),
    "mixed_decimal.csv": H + GOOD.replace("100,5", "100.5").replace(";110;", ";110,25;"),
    "thousands_dot_decimal_comma.csv": H + GOOD.replace("100,5", "1.234.567,89"),
    "thousands_space.csv": H + GOOD.replace("100,5", "1 234,5").replace(";110;", ";2\u00a0345;"),
    "thousands_comma_decimal_point.csv": H + GOOD.replace(",", ".").replace(";100.5;", ";1,234.5;"),
    "bad_numbers.csv": H + GOOD.replace(";110;", ";12abc;").replace("002;2020;3;", "002;2020;3 EUR;"),
    "negative_values.csv": H + GOOD.replace("001;2020;5;120", "001;2020;-5;120").replace(";80;7", ";-80;7", 1),
    "blank_vs_zero.csv": H + GOOD,
    "na_text_declared.csv": H + GOOD.replace("004;2018;;", "004;2018;n/a;").replace("003;2018;0;80;7", "003;2018;-;80;7"),
    "na_text_undeclared.csv": H + GOOD.replace("004;2018;;", "004;2018;n/a;"),
    "exports_over_turnover.csv": H + GOOD.replace("002;2018;1;50;4", "002;2018;70;50;4"),
    # --- years -------------------------------------------------------------------------------
    "years_as_text.csv": H + GOOD.replace("001;2018", "001;2018.0").replace("002;2019", "002;dos mil")
    .replace("003;2020", "003;FY2020"),
    "years_out_of_window.csv": H + GOOD.replace("003;2020", "003;2025").replace("004;2018", "004;1999"),
    "fiscal_years_april.csv": H + GOOD.replace("001;2019", "001;2019/20").replace("001;2020", "001;2020-2021"),
    "fiscal_years_october.csv": H + GOOD,
    "fiscal_text_undeclared.csv": H + GOOD.replace("001;2019", "001;2019/20"),
    # --- identifiers and panel rules --------------------------------------------------------
    "duplicated_firm_years.csv": H + GOOD + "001;2018;0;100;10\n003;2019;1;1;1\n",
    "leading_zero_ids.csv": H + GOOD.replace("004;", "0004;"),
    "blank_firm_id.csv": H + GOOD.replace("003;2019", ";2019"),
    "unicode_names.csv": NAMED_H + named({
        "001": "Ελληνικά Τρόφιμα Α.Ε.",
        "002": "北京出口有限公司",
        "003": "شركة التصدير 🚢",
        "004": "Ústí Žluťoučký kůň s.r.o. — «Ŋ» e\u0301",
    }),
    "formula_text.csv": NAMED_H + named({"001": "Plain S.A.", "002": "-", "003": "+34 Export", "004": "Plain"})
    .replace("001;2018;0;100,5;10;Plain S.A.", "001;2018;0;100,5;10;=cmd|' /C calc'!A0")
    .replace("002;2019;2;55;4;-", "002;2019;2;55;4;@SUM(A1:A9)")
    .replace("003;2020;0;85;7;+34 Export", '003;2020;0;85;7;"+cmd|\' /C notepad\'!A0"')
    .replace("004;2018;;90;9;Plain", "004;2018;;90;9;-2+3+cmd|' /C calc'!A0"),
    "members_exit_before_join.csv": "firm,cluster,joined,left\n001,C1,2019,2017\n002,C1,2019,2020\n",
    "members_exit_equals_join.csv": "firm,cluster,joined,left\n001,C1,2019,2019\n002,C1,2019,2020\n",
    "members_unknown_firm.csv": "firm,cluster,joined,left\n001,C1,2019,\n009,C1,2019,\n1,C1,2019,\n",
    "members_unknown_cluster.csv": "firm,cluster,joined,left\n001,C1,2019,\n002,C9,2019,2020\n",
    "members_duplicated.csv": "firm,cluster,joined,left\n001,C1,2019,\n002,C1,2019,2020\n001,C1,2020,\n",
    "members_blank_join.csv": "firm,cluster,joined,left\n001,C1,,\n002,C1,2019,2020\n",
    # --- dates and countries (orders) -------------------------------------------------------
    "orders_dates_wrong_format.csv": "order,cluster,firm,date,value,dest\n"
    "O1,C1,001,02/05/2019,10,US\nO2,C1,002,2020-01-15,20,DE\nO3,,003,2020-13-01,7,FR\n",
    "orders_dates_declared_format.csv": "order,cluster,firm,date,value,dest\n"
    "O1,C1,001,02/05/2019,10,US\nO2,C1,002,15/01/2020,20,DE\nO3,,003,01/03/2020,7,FR\n",
    "orders_bad_countries.csv": "order,cluster,firm,date,value,dest\n"
    "O1,C1,001,2019-05-02,10,XX\nO2,C1,002,2020-01-15,20,Germany\nO3,,003,2020-03-01,7,de\n",
}

ENCODED: dict[str, bytes] = {
    "latin1_declared_utf8.csv": (NAMED_H + named({"001": "Société Générale d'Export", "002": "Müller",
                                                  "003": "Peña", "004": "Ørsted"})).encode("latin-1"),
    "latin1_auto.csv": (NAMED_H + named({"001": "Société Générale d'Export", "002": "Müller",
                                         "003": "Peña", "004": "Ørsted"})).encode("latin-1"),
    "cp1250_auto.csv": (NAMED_H + named({"001": "Chemie Želpa s.r.o.", "002": "Łódź Eksport sp. z o.o.",
                                         "003": "Vývoz Ústí", "004": "Řeka"})).encode("cp1250"),
    "utf8_bom.csv": codecs.BOM_UTF8 + (H + GOOD).encode("utf-8"),
    "utf16_bom.csv": (H + GOOD).encode("utf-16"),
    "binary_garbage.csv": bytes((i * 37 + 11) % 256 for i in range(512)),
    "binary_no_nul.csv": b"id;anyo\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\n",
}


def firms_rows() -> list[list]:
    rows = []
    for line in GOOD.splitlines():
        fid, year, exp, turn, emp = line.split(";")
        rows.append([fid, int(year), float(exp) if exp else None, float(turn.replace(",", ".")), int(emp)])
    return rows


def write_workbooks() -> None:
    import openpyxl

    header = ["id", "anyo", "export", "ventas", "empleados"]

    def book(path: str, *, title: bool = True, sheet: str = "Firms", rows=None, extra=None) -> None:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = sheet
        if title:
            ws.append(["Export panel, thousands of PLN"])
            ws.append(["Source: regional agency"])
        ws.append(header)
        for r in rows if rows is not None else firms_rows():
            ws.append(r)
        if extra:
            extra(ws)
        notes = wb.create_sheet("Notes")
        notes.append(["Synthetic corpus file for policylab tests"])
        wb.save(CORPUS / path)

    book("excel_title_rows.xlsx")
    book("excel_title_rows_no_header_row.xlsx")
    book("excel_wrong_sheet.xlsx")
    book("excel_unknown_sheet.xlsx")

    def formula(ws) -> None:
        ws["D4"] = "=B4*2"  # a formula whose result was never computed by a spreadsheet program

    book("excel_formula_without_result.xlsx", extra=formula)

    def formula_text(ws) -> None:
        ws["F3"] = "nombre"
        for r in range(4, 16):
            ws.cell(row=r, column=6, value="Plain name")
        cell = ws["F4"]
        cell.value = "=cmd|' /C calc'!A0"
        cell.data_type = "s"  # stored as text, not as a formula

    book("excel_formula_text.xlsx", extra=formula_text)
    import datetime as dt

    rows = firms_rows()
    rows[1][1] = dt.datetime(2019, 1, 1)
    book("excel_dates_in_year_column.xlsx", rows=rows)
    rows = firms_rows()
    for r in rows:
        r[0] = int(r[0])  # ids stored as numbers: the leading zeros are already gone in the file
    book("excel_numeric_ids.xlsx", rows=rows)
    wb = openpyxl.Workbook()
    wb.active.title = "Firms"
    wb.save(CORPUS / "excel_empty_sheet.xlsx")


def write_parquet() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = firms_rows()
    cols = list(zip(*rows))
    table = pa.table({
        "id": pa.array(cols[0], pa.string()),
        "anyo": pa.array(cols[1], pa.int32()),
        "export": pa.array(cols[2], pa.float64()),
        "ventas": pa.array(cols[3], pa.float64()),
        "empleados": pa.array(cols[4], pa.int64()),
    })
    pq.write_table(table, CORPUS / "parquet_typed.parquet")
    neg = list(cols[2])
    neg[2] = -5.0
    pq.write_table(table.set_column(2, "export", pa.array(neg, pa.float64())), CORPUS / "parquet_negative.parquet")
    ints = pa.table({"id": pa.array([int(x) for x in cols[0]], pa.int64()), **{n: table[n] for n in table.column_names[1:]}})
    pq.write_table(ints, CORPUS / "parquet_integer_ids.parquet")


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, text in TEXT.items():
        (CORPUS / name).write_bytes(text.encode("utf-8"))
    for name, data in ENCODED.items():
        (CORPUS / name).write_bytes(data)
    write_workbooks()
    write_parquet()
    # a workbook saved under a .csv name
    (CORPUS / "workbook_named.csv").write_bytes((CORPUS / "excel_title_rows.xlsx").read_bytes())


if __name__ == "__main__":
    main()
