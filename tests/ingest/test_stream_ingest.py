"""Streamed ingest of the firms table (issue 14): ``ingest(cfg, store=..., stream=True)``.

The firms file is read in chunks of ``stream_rows`` records, each mapped and checked by the
same code as a file read whole, and appended to the store's part file. Specifications: the
store is the one a whole-file ingest writes (the same bytes), the problems are the same (rows,
columns, order, "N more" counts), rules over the whole file (duplicate keys, links, number
format, encoding, blank-row counts) still hold across chunks, a failed run leaves the store as
it was, and the regions returned hold the member firms' rows only. Small ``stream_rows`` (97)
exercise many chunks on small files, so the module stays fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from labfiles import TINY_CLUSTERS, TINY_CONFIG, TINY_ORDERS

from policylab.config import load_config
from policylab.errors import InputDataError, UserError
from policylab.ingest import check_inputs, ingest
from policylab.store import CanonicalStore

ROOT = Path(__file__).resolve().parents[2]
ROWS = 97


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and folder of the store, with bytes and inode (a rewrite changes the inode)."""
    return {p.relative_to(folder).as_posix(): ((p.read_bytes(), p.stat().st_ino) if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def members_only(firms: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    return firms[firms["firm_id"].isin(set(membership["firm_id"].dropna()))].reset_index(drop=True)


# --- the shipped example ---------------------------------------------------------------------


def example_config(root: Path, name: str, keep) -> Path:
    """A copy of the example config holding the regions ``keep(key)`` accepts."""
    text = (ROOT / "configs" / "example.toml").read_text(encoding="utf-8")
    head, *regions = text.split("[[regions]]")
    chosen = [r for r in regions if keep(r.split('key = "', 1)[1].split('"', 1)[0])]
    path = root / "configs" / name
    path.write_text(head + "".join("[[regions]]" + r for r in chosen), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory):
    """The shipped example's data and config copied, and its store written by a whole-file ingest.

    Kent's workbooks are left out here: Excel is read whole in a streamed ingest too (openpyxl
    reads a sheet whole), see test_an_excel_firms_file_is_read_whole; reading them twice would
    double this module's time.
    """
    root = tmp_path_factory.mktemp("example")
    (root / "configs").mkdir()
    shutil.copytree(ROOT / "data" / "example", root / "data" / "example")
    cfg = load_config(example_config(root, "example.toml", lambda key: key != "kent"))
    assert len(cfg.regions) == 5
    whole = ingest(cfg, store=root / "whole")
    return root, cfg, whole


def test_the_streamed_store_is_the_whole_file_store(example):
    root, cfg, whole = example
    data = ingest(cfg, store=root / "streamed", stream=True, stream_rows=500)
    assert files(root / "streamed") == files(root / "whole")  # parts byte for byte, manifests alike
    for a, b in zip(whole.regions, data.regions):
        assert b.firms_on_disk and not a.firms_on_disk
        assert (a.sources, a.conversions, a.warnings, a.quality) == (b.sources, b.conversions, b.warnings, b.quality)
        expected = members_only(a.tables["firms"], a.tables["membership"])
        assert 0 < len(expected) < len(a.tables["firms"])  # the never-members stay on disk
        pd.testing.assert_frame_equal(b.tables["firms"], expected)
        for name in a.tables:
            if name != "firms":
                pd.testing.assert_frame_equal(b.tables[name], a.tables[name])
    assert data.warnings == whole.warnings
    # unchanged: loaded from the store, the firms part read for the members' rows only
    again = ingest(cfg, store=root / "streamed", stream=True)
    assert files(root / "streamed") == files(root / "whole")
    for a, b in zip(data.regions, again.regions):
        assert b.firms_on_disk
        pd.testing.assert_frame_equal(b.tables["firms"], a.tables["firms"])
        assert (a.sources, a.conversions, a.warnings, a.quality) == (b.sources, b.conversions, b.warnings, b.quality)
    # the store is the whole-file one: a run without stream loads it as it is
    full = ingest(cfg, store=root / "streamed")
    for a, b in zip(whole.regions, full.regions):
        pd.testing.assert_frame_equal(b.tables["firms"], a.tables["firms"])


def test_many_chunks_of_parquet(example):
    """97 records a chunk (and row groups of another size): molise's Parquet firms file."""
    root = example[0]
    sub = example_config(root, "molise.toml", lambda key: key == "molise")
    ingest(load_config(sub), store=root / "molise", stream=True, stream_rows=ROWS)
    whole = files(root / "whole")
    got = files(root / "molise")
    assert got and got == {k: v for k, v in whole.items() if "molise" in k}


# --- a generated lab: one region, firms in as many chunks as wanted ----------------------------


def lab(root: Path, firms: str | pd.DataFrame, *, members: str | None = None, orders: str = TINY_ORDERS,
        firms_spec: str | None = None, extra: str = "") -> Path:
    """The tiny lab of tests/labfiles.py with another firms file (text: firms.csv; a frame:
    firms.parquet) and a wider exchange-rate table."""
    root.mkdir(parents=True, exist_ok=True)
    if isinstance(firms, str):
        (root / "firms.csv").write_bytes(firms.encode("utf-8") if isinstance(firms, str) else firms)
    else:
        pq.write_table(pa.Table.from_pandas(firms, preserve_index=False), root / "firms.parquet",
                       row_group_size=150)
    (root / "members.csv").write_text(members or "firm,cluster,joined,left\n001,C1,2019,\n002,C1,2019,2020\n",
                                      encoding="utf-8")
    (root / "clusters.csv").write_text(TINY_CLUSTERS, encoding="utf-8")
    (root / "orders.csv").write_text(orders, encoding="utf-8")
    config = TINY_CONFIG.format(extra=extra).replace(
        "fx = { 2018 = 4.0, 2019 = 4.0, 2020 = 5.0 }", "fx = { 2017 = 4.0, 2018 = 4.0, 2019 = 4.0, 2020 = 5.0 }")
    if firms_spec is not None:
        start = config.index("[regions.files.firms]")
        end = config.index("[regions.files.membership]")
        config = config[:start] + firms_spec + "\n" + config[end:]
    elif not isinstance(firms, str):
        config = config.replace('path = "firms.csv"\ndelimiter = ";"\ndecimal = ","', 'path = "firms.parquet"')
    (root / "lab.toml").write_text(config, encoding="utf-8")
    return root / "lab.toml"


def panel(n_firms: int = 100, years: range = range(2017, 2021)) -> list[list[str]]:
    """Rows of id, year, exports, turnover, employees (firm 001 and 002 are the members)."""
    out = []
    for i in range(1, n_firms + 1):
        for y in years:
            out.append([f"{i:03d}", str(y), str((i * y) % 7), f"{100 + i},{y % 10}", str(i % 40 + 1)])
    return out


def csv_text(rows: list[list[str]], header: str = "id;anyo;export;ventas;empleados") -> str:
    return header + "\n" + "".join(";".join(r) + "\n" for r in rows)


def same_as_whole(cfg_path: Path, rows: int = ROWS) -> list:
    """Streamed and whole: the same problems (in the same order); when there is no error, the
    same store, byte for byte, and the same provenance. Returns the problems."""
    cfg = load_config(cfg_path)
    root = cfg_path.parent
    for folder in ("whole", "streamed"):
        shutil.rmtree(root / folder, ignore_errors=True)
    try:
        whole = ingest(cfg, store=root / "whole")
    except InputDataError:
        _, expected = check_inputs(cfg)
        _, got = check_inputs(cfg, stream=True, stream_rows=rows)
        assert got == expected
        with pytest.raises(InputDataError):
            ingest(cfg, store=root / "streamed", stream=True, stream_rows=rows)
        assert not (root / "streamed").exists() or not any((root / "streamed").rglob("*"))
        return expected
    streamed = ingest(cfg, store=root / "streamed", stream=True, stream_rows=rows)
    assert files(root / "streamed") == files(root / "whole")
    for a, b in zip(whole.regions, streamed.regions):
        assert (a.sources, a.conversions, a.warnings, a.quality) == (b.sources, b.conversions, b.warnings, b.quality)
        pd.testing.assert_frame_equal(b.tables["firms"], members_only(a.tables["firms"], a.tables["membership"]))
    return list(whole.warnings)


def test_a_bad_value_in_a_late_chunk_names_its_row_and_leaves_the_store(tmp_path):
    rows = panel()
    cfg_path = lab(tmp_path / "lab", csv_text(rows))
    store = tmp_path / "store"
    ingest(load_config(cfg_path), store=store, stream=True, stream_rows=ROWS)
    before = state(store)
    rows[340][3] = "12abc"  # data row 341: line 342 of the file (the header is line 1), chunk 4
    rows[341][1] = "2031"
    (tmp_path / "lab" / "firms.csv").write_text(csv_text(rows), encoding="utf-8")
    with pytest.raises(InputDataError) as err:
        ingest(load_config(cfg_path), store=store, stream=True, stream_rows=ROWS)
    found = [(p.row, p.column, p.value) for p in err.value.problems]
    assert (342, "ventas", "12abc") in found and (343, "anyo", "2031") in found
    assert state(store) == before  # nothing written, no temporary file left
    assert same_as_whole(cfg_path)


def test_a_failed_first_run_leaves_no_folder(tmp_path):
    rows = panel()
    rows[300][4] = "-3"
    cfg_path = lab(tmp_path / "lab", csv_text(rows))
    with pytest.raises(InputDataError) as err:
        ingest(load_config(cfg_path), store=tmp_path / "store", stream=True, stream_rows=ROWS)
    assert [(p.row, p.column) for p in err.value.problems] == [(302, "empleados")]
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*"))


def test_a_duplicate_split_across_chunks_is_reported(tmp_path):
    rows = panel()
    rows.insert(350, list(rows[5]))  # firm 002, 2018 again, in the fourth chunk; first on line 7
    cfg_path = lab(tmp_path / "lab", csv_text(rows))
    problems = same_as_whole(cfg_path)
    assert [(p.row, p.column, p.value, p.message) for p in problems] == [
        (352, "id", "002", "duplicate of row 7 (same id+anyo); expected one row per firm x year")]


def test_the_duplicate_check_running_out_of_memory_is_a_user_error(tmp_path, monkeypatch):
    """DuckDB finds duplicate firm-years under its own memory limit; when even that cannot be
    had (here a limit of 64 KB, as a process under ulimit -v meets it) the run stops with a
    message saying what to change, not a traceback, and writes nothing."""
    import policylab.ingest.stream as stream

    monkeypatch.setattr(stream, "DUCKDB_MEMORY", "64KB")
    cfg_path = lab(tmp_path / "lab", csv_text(panel()))
    with pytest.raises(UserError, match=r"duplicate firm-years, DuckDB ran out of memory .*give the "
                                         r"process more memory"):
        ingest(load_config(cfg_path), store=tmp_path / "store", stream=True, stream_rows=ROWS)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.parquet"))


def test_many_duplicates_are_counted_over_the_file(tmp_path):
    rows = panel()
    rows += [list(r) for r in rows[::13]]  # 31 repeated firm-years at the end, over several chunks
    same_as_whole(lab(tmp_path / "lab", csv_text(rows)))


def test_links_are_checked_across_chunks(tmp_path):
    rows = panel()
    members = ("firm,cluster,joined,left\n001,C1,2019,\n099,C1,2019,\n777,C1,2018,\n45,C1,2019,\n")
    orders = TINY_ORDERS + "O4,C1,888,2019-02-02,5,US\n"
    problems = same_as_whole(lab(tmp_path / "lab", csv_text(rows), members=members, orders=orders))
    assert {(p.file, p.row, p.value, p.severity) for p in problems} == {
        ("members.csv", 4, "777", "error"), ("members.csv", 5, "45", "error"), ("orders.csv", 5, "888", "warning")}
    assert any("leading zeros lost" in p.message and "'045'" in p.message for p in problems)


def test_members_in_the_last_chunk_link_and_are_kept(tmp_path):
    rows = panel()
    members = "firm,cluster,joined,left\n001,C1,2019,\n100,C1,2019,\n"
    cfg_path = lab(tmp_path / "lab", csv_text(rows), members=members)
    same_as_whole(cfg_path)
    data = ingest(load_config(cfg_path), store=tmp_path / "lab" / "streamed", stream=True)
    firms = data.regions[0].tables["firms"]
    assert sorted(set(firms["firm_id"])) == ["001", "100"] and len(firms) == 8


def test_pseudonymised_ids_are_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYLAB_TEST_KEY", "a secret key")
    orders = TINY_ORDERS + "O4,C1,888,2019-02-02,5,US\n"  # a warning quoting a firm ID: pseudonymised
    cfg_path = lab(tmp_path / "lab", csv_text(panel()), orders=orders)
    cfg_path.write_text(cfg_path.read_text().replace(
        "min_cell_firms = 1", 'min_cell_firms = 1\npseudonymise_key_env = "POLICYLAB_TEST_KEY"'))
    same_as_whole(cfg_path)
    whole = ingest(load_config(cfg_path), store=tmp_path / "lab" / "whole")
    data = ingest(load_config(cfg_path), store=tmp_path / "lab" / "streamed", stream=True)  # loaded
    ids = set(data.regions[0].tables["firms"]["firm_id"])
    assert len(ids) == 2 and "001" not in ids
    assert ids == set(data.regions[0].tables["membership"]["firm_id"])
    assert ids <= set(whole.regions[0].tables["firms"]["firm_id"])
    assert data.warnings == whole.warnings and "888" not in str(data.warnings)


def test_parquet_firms_in_record_batches(tmp_path):
    rows = panel()
    frame = pd.DataFrame(rows, columns=["id", "anyo", "export", "ventas", "empleados"])
    frame["anyo"] = frame["anyo"].astype("Int64")
    frame["export"] = frame["export"].astype("float64")
    frame["empleados"] = frame["empleados"].astype("Int64")
    frame["id"] = frame["id"].astype("string")
    frame["ventas"] = frame["ventas"].astype("string")
    blank = frame.index == 7  # a blank record: dropped and counted
    for c in frame.columns:
        frame[c] = frame[c].mask(blank)
    cfg_path = lab(tmp_path / "lab", frame)
    same_as_whole(cfg_path)
    frame.loc[310, "anyo"] = 2030
    frame.loc[315, "ventas"] = "n.a."
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "lab" / "firms.parquet",
                   row_group_size=150)
    problems = same_as_whole(cfg_path)
    assert [(p.row, p.column) for p in problems] == [(311, "anyo"), (316, "ventas")]


def test_problem_lists_are_capped_over_the_file(tmp_path):
    """Many problems of several kinds, over several chunks: the same 20 listed, the same counts."""
    rows = panel()
    for i in range(0, 400, 9):
        rows[i][4] = "-1"  # negative employees
    for i in range(4, 400, 14):
        rows[i][4] = "99999999"  # and more than any employer: two kinds of problem in one column
    for i in range(3, 400, 11):
        rows[i][1] = "1999"  # outside the window
    for i in range(5, 400, 17):
        rows[i][1] = ""  # blank year
    for i in range(7, 400, 13):
        rows[i][3] = "x"  # not a number
    text = csv_text(rows).splitlines(keepends=True)
    for i in range(30, 400, 17):
        text[i] = text[i].rstrip("\n") + ";9;9\n"  # ragged rows
    text.insert(250, "\n")
    text.insert(251, ";;;;\n")  # blank records
    problems = same_as_whole(lab(tmp_path / "lab", "".join(text)))
    more = [p.column for p in problems if "more row(s)" in p.message]
    assert more == [None, "ventas", "anyo", "empleados", "empleados"]  # the file's, map_table's, check_table's


def test_quoted_records_over_several_lines(tmp_path):
    rows = panel()
    text = csv_text(rows, header="id;anyo;export;ventas;empleados;nombre")
    lines = text.splitlines(keepends=True)
    lines = [lines[0]] + [ln.rstrip("\n") + f';"Firm ""{i}""\nLtd"\n' if i % 50 == 0 else ln.rstrip("\n") + ";x\n"
                          for i, ln in enumerate(lines[1:], start=1)]
    lines.insert(200, "\n\n")
    spec = ('[regions.files.firms]\npath = "firms.csv"\ndelimiter = ";"\ndecimal = ","\nscale = 1000\n'
            'columns = { firm_id = "id", year = "anyo", exports_eur = "export", turnover_eur = "ventas", '
            'employees = "empleados", sector = "nombre" }\n')
    cfg_path = lab(tmp_path / "lab", "".join(lines), firms_spec=spec)
    same_as_whole(cfg_path)
    lines[320] = lines[320].replace(";x\n", ";x;extra\n")
    (tmp_path / "lab" / "firms.csv").write_text("".join(lines), encoding="utf-8")
    problems = same_as_whole(cfg_path)
    assert len(problems) == 1 and "field(s)" in problems[0].message


def test_number_format_and_encoding_are_told_by_the_whole_file(tmp_path):
    """Decimal comma shown only in a late chunk; a cp1252 byte only in the last line."""
    rows = panel()
    for r in rows:
        r[3] = r[3].split(",")[0]  # whole numbers: they tell no decimal separator
    rows[350][3] = "1234,5"
    text = csv_text(rows).encode("utf-8") + "999;2019;1;5;1;caf\xe9\n".encode("cp1252")
    spec = ('[regions.files.firms]\npath = "firms.csv"\ndelimiter = ";"\nscale = 1000\n'
            'columns = { firm_id = "id", year = "anyo", exports_eur = "export", turnover_eur = "ventas", '
            'employees = "empleados", sector = "sector" }\n')
    text = text.replace(b"id;anyo;export;ventas;empleados\n", b"id;anyo;export;ventas;empleados;sector\n")
    text = b"".join(line if line.count(b";") == 5 else line.rstrip(b"\n") + b";x\n"
                    for line in text.splitlines(keepends=True))
    root = tmp_path / "lab"
    cfg_path = lab(root, "", firms_spec=spec)
    (root / "firms.csv").write_bytes(text)
    same_as_whole(cfg_path)
    data = ingest(load_config(cfg_path), store=root / "streamed", stream=True)
    source = data.regions[0].sources[0]
    assert "decimal comma" in source.mapping["numbers"] and "cp1252" in source.mapping["encoding"]
    # the same ambiguous values with nothing to tell them apart: the run asks for 'decimal'
    text = text.replace(b"1234,5", b"1,234")
    (root / "firms.csv").write_bytes(text)
    problems = same_as_whole(cfg_path)
    assert len(problems) == 1 and "declare decimal" in problems[0].message and problems[0].row == 352


def test_two_thousands_separators_fall_back_to_the_whole_file(tmp_path):
    """'1 234 567' and '1,234' with a decimal point: two thousands separators, which the
    config cannot declare for the chunks: the file is read whole (the same store)."""
    rows = panel()
    for r in rows:
        r[3] = r[3].replace(",", ".")
    rows[100][3] = "1 234 567"
    rows[300][3] = "1,234"
    spec = ('[regions.files.firms]\npath = "firms.csv"\ndelimiter = ";"\ndecimal = "."\nscale = 1000\n'
            'columns = { firm_id = "id", year = "anyo", exports_eur = "export", turnover_eur = "ventas", '
            'employees = "empleados" }\n')
    cfg_path = lab(tmp_path / "lab", csv_text(rows), firms_spec=spec)
    same_as_whole(cfg_path)
    data = ingest(load_config(cfg_path), store=tmp_path / "lab" / "streamed", stream=True)
    assert data.regions[0].firms_on_disk and "between thousands" in data.regions[0].sources[0].mapping["numbers"]


def test_a_column_missing_from_the_header(tmp_path):
    rows = panel()
    same_as_whole(lab(tmp_path / "lab", csv_text(rows, header="id;anyo;export;sales;empleados")))


def test_a_killed_streamed_write_is_cleaned_up(tmp_path):
    store = CanonicalStore(tmp_path / "s")
    writer = store.part_writer("firms", "tiny")
    writer.write(pd.DataFrame({"firm_id": pd.Series(["a"], dtype="string")}))
    assert writer.tmp.is_file() and writer.tmp.parent == store.part_path("firms", "tiny").parent
    store.remove_leftovers()  # what evaluate does under the store's lock after a killed run
    assert not writer.tmp.exists()
    writer.abort()
    assert not (tmp_path / "s" / "firms").exists()


def test_the_store_files_are_manifested(tmp_path):
    cfg_path = lab(tmp_path / "lab", csv_text(panel()))
    data = ingest(load_config(cfg_path), store=tmp_path / "s", stream=True, stream_rows=ROWS)
    manifest = json.loads((tmp_path / "s" / "_manifest" / "tiny.json").read_text())
    assert manifest["tables"]["firms"]["rows"] == 400
    assert data.regions[0].quality["rows_dropped"] == 0
    assert "firms" not in data.regions[0].quality["missing_by_column"]
    assert not list((tmp_path / "s").rglob("*.tmp"))
    assert CanonicalStore(tmp_path / "s").load_members("tiny", manifest["fingerprint"]) is not None


def test_an_excel_firms_file_is_read_whole(tmp_path):
    rows = panel(40)
    root = tmp_path / "lab"
    cfg_path = lab(root, csv_text(rows))
    frame = pd.DataFrame(rows, columns=["id", "anyo", "export", "ventas", "empleados"])
    frame.to_excel(root / "firms.xlsx", index=False)
    cfg_path.write_text(cfg_path.read_text().replace('path = "firms.csv"', 'path = "firms.xlsx"'))
    same_as_whole(cfg_path)
    data = ingest(load_config(cfg_path), store=root / "streamed", stream=True)
    assert data.regions[0].firms_on_disk and set(data.regions[0].tables["firms"]["firm_id"]) == {"001", "002"}


def test_stream_needs_a_store_and_a_chunk_size(tmp_path):
    cfg = load_config(lab(tmp_path / "lab", csv_text(panel())))
    with pytest.raises(ValueError, match="store="):
        ingest(cfg, stream=True)
    with pytest.raises(ValueError, match="stream_rows"):
        ingest(cfg, store=tmp_path / "s", stream=True, stream_rows=0)
