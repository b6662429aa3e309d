"""Every user error, operating-system error and corrupt input ends in one line per problem and
exit 2, never a traceback; ``validate`` finds what ``evaluate`` would refuse (issue 17).

One test (or one parametrised test) per failure class, on real files and the real CLI: the
message names the file (and the row and column where there are such), and ``evaluate`` leaves
the previous report as it was.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from labfiles import TINY_FIRMS, TINY_MEMBERS, TINY_ORDERS, write_tiny_lab
from policylab.cli import app
from policylab.config import load_config, output_folder_problem, parse_config
from policylab.errors import ConfigError, InputDataError, UserError, escape_controls, os_error
from policylab.ingest import check_inputs, ingest

runner = CliRunner()


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny lab after one good ``evaluate``: its folder holds the report in ``out/``."""
    root = tmp_path_factory.mktemp("reported") / "lab"
    cfg = write_tiny_lab(root)
    first = runner.invoke(app, ["evaluate", str(cfg), "--quiet"])
    assert first.exit_code == 0, first.output
    return root


@pytest.fixture
def lab(reported: Path, tmp_path: Path) -> Path:
    """A copy of the reported tiny lab (config, data and report); returns its folder."""
    root = tmp_path / "lab"
    shutil.copytree(reported, root, symlinks=True)
    return root


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def one_error(result, *, code: int = 2) -> str:
    """The single ``error:`` line of a run that must exit ``code`` without a traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def evaluate_refuses(root: Path, *args: str) -> str:
    """Run ``evaluate`` on the lab in ``root``: exit 2, one line, the old report untouched."""
    before = snapshot(root / "out")
    assert before  # there is a previous report to keep
    line = one_error(runner.invoke(app, ["evaluate", str(root / "lab.toml"), *args]))
    assert snapshot(root / "out") == before
    return line


def validate_problems(cfg: Path) -> list[dict]:
    result = runner.invoke(app, ["validate", str(cfg), "--format", "json"])
    assert result.exit_code == 2, result.output
    return json.loads(result.stdout)["problems"]


# --- 1. operating-system errors ---------------------------------------------------------------


def test_a_data_path_too_long_names_the_file_and_the_os_reason(lab):
    long_name = "a" * 300 + ".csv"
    edit(lab / "lab.toml", 'path = "firms.csv"', f'path = "{long_name}"')
    line = evaluate_refuses(lab)
    assert line == f"error: {long_name}: cannot be opened: File name too long"
    [problem] = validate_problems(lab / "lab.toml")
    assert problem["file"] == long_name and "File name too long" in problem["message"]


def test_a_config_name_too_long_or_a_symlink_loop_is_one_line(tmp_path):
    too_long = tmp_path / ("b" * 300 + ".toml")
    loop = tmp_path / "loop.toml"
    os.symlink(loop.name, loop)
    for cfg, reason in ((too_long, "File name too long"), (loop, "Too many levels of symbolic links")):
        for command in ("evaluate", "validate"):
            line = one_error(runner.invoke(app, [command, str(cfg)]))
            assert line == f"error: {cfg}: config file cannot be read: {reason}"


@pytest.mark.parametrize("where", ["--out", "store_dir", "--out below a file", "--out too long"])
def test_an_output_folder_that_is_a_file_or_cannot_be_made(lab, where):
    (lab / "afile").write_text("not a folder")
    args: list[str] = []
    if where == "--out":
        args, expected = ["--out", str(lab / "afile")], f"{lab / 'afile'}: --out names an existing file"
    elif where == "store_dir":
        edit(lab / "lab.toml", 'output_dir = "out"', 'output_dir = "out"\nstore_dir = "afile"')
        expected = f"{lab / 'afile'}: lab.store_dir names an existing file"
    elif where == "--out below a file":
        target = lab / "afile" / "report"
        args, expected = ["--out", str(target)], f"{target}: --out cannot be created: {lab / 'afile'} is a file"
    else:
        target = lab / ("c" * 300)
        args, expected = ["--out", str(target)], f"{target}: --out cannot be used: File name too long"
    line = evaluate_refuses(lab, *args)
    assert line.startswith(f"error: {expected}")
    if where == "store_dir":  # validate finds it too
        assert any("lab.store_dir names an existing file" in p["message"] for p in validate_problems(lab / "lab.toml"))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder(lab):
    (lab / "out").chmod(0o555)
    try:
        line = evaluate_refuses(lab)
    finally:
        (lab / "out").chmod(0o755)
    assert line == f"error: {lab / 'out'}: lab.output_dir cannot be written: permission denied"


def test_an_os_error_while_writing_the_report_is_one_line(lab, monkeypatch):
    """A failure the preflight cannot foresee (a full disk): mapped where the report is written."""
    import policylab.report
    import policylab.report.writer

    target = lab / "out" / "index.html"

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(policylab.report.writer, "write_report", full_disk)
    monkeypatch.setattr(policylab.report, "write_report", full_disk, raising=False)
    line = evaluate_refuses(lab)
    assert line == f"error: {target}: cannot be written: No space left on device"


def test_running_out_of_memory_is_one_line_pointing_to_the_out_of_core_engine(lab, monkeypatch):
    """A MemoryError (the firm tables past what the process may use) is the environment's limit,
    not a bug: one line naming --engine duckdb, exit 2, the old report kept."""
    import policylab.pipeline

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 572. MiB for an array")

    monkeypatch.setattr(policylab.pipeline, "run", too_big)
    line = evaluate_refuses(lab)
    assert line.startswith("error: out of memory:") and "--engine duckdb" in line


def test_os_error_mapping():
    exc = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "out/index.html")
    err = os_error(exc, action="cannot be written")
    assert isinstance(err, UserError) and str(err) == "out/index.html: cannot be written: Permission denied"
    assert str(os_error(OSError(errno.EIO, "Input/output error"), "data/f.csv")) == \
        "data/f.csv: cannot be read: Input/output error"
    assert str(os_error(OSError(errno.ENOSPC, None), "x")) == "x: cannot be read: ENOSPC"


def test_output_folder_problem(tmp_path):
    (tmp_path / "f").write_text("x")
    assert output_folder_problem(tmp_path / "new" / "deeper", "--out") is None
    assert output_folder_problem(tmp_path, "--out") is None
    assert "names an existing file" in output_folder_problem(tmp_path / "f", "--out")
    assert "is a file, not a folder" in output_folder_problem(tmp_path / "f" / "x" / "y", "--out")


# --- 2. config values checked when the config is read -----------------------------------------


@pytest.mark.parametrize("codec", ["base64", "zlib_codec", "hex", "rot13"])
def test_an_encoding_that_is_not_a_text_codec_is_a_config_error(tiny_lab, codec):
    edit(tiny_lab, 'delimiter = ";"', f'delimiter = ";"\nencoding = "{codec}"')
    line = one_error(runner.invoke(app, ["validate", str(tiny_lab)]))
    assert line.startswith(f"error: {tiny_lab}: regions.0.files.firms.encoding: "
                           f"encoding '{codec}' is not a text encoding")


@pytest.mark.parametrize(("fmt", "why"), [("%Q", "'Q' is a bad directive"), ("%Y-%m-%", "stray %"),
                                          ("%d.%m", "does not hold the year")])
def test_a_date_format_that_cannot_read_dates_is_a_config_error(tiny_lab, fmt, why):
    edit(tiny_lab, 'path = "orders.csv"', f'path = "orders.csv"\ndate_format = "{fmt}"')
    line = one_error(runner.invoke(app, ["evaluate", str(tiny_lab)]))
    assert line.startswith(f"error: {tiny_lab}: regions.0.files.orders.date_format: date_format '{fmt}'")
    assert why in line


def test_an_outcome_a_region_does_not_map_is_a_config_error(tiny_lab):
    edit(tiny_lab, 'outcomes = ["exporter", "log_exports"]', 'outcomes = ["exporter", "n_export_markets"]')
    line = one_error(runner.invoke(app, ["validate", str(tiny_lab)]))
    assert line == (f"error: {tiny_lab}: estimation.outcomes: 'n_export_markets' needs firms column "
                    "'n_export_markets', which region(s) 'tiny' do not map; map it in their "
                    "[regions.files.firms.columns] or remove the outcome")


def write_small_lab(root: Path, methods: list[str]) -> Path:
    """40 firms over six years, 24 of them members of 6 consortia: enough for Poisson."""
    rng = np.random.default_rng(3)
    firms, members = ["id,year,exports,turnover"], ["firm,cluster,joined"]
    for i in range(40):
        fid = f"F{i:03d}"
        cohort = (2017, 2018)[i % 2] if i < 24 else None
        if cohort:
            members.append(f"{fid},K{i % 6},{cohort}")
        base = rng.gamma(2.0, 50.0)
        for year in range(2015, 2021):
            lift = 1.3 if cohort and year >= cohort else 1.0
            exports = 0 if rng.random() < 0.25 else round(base * lift * rng.gamma(4, 0.25), 1)
            firms.append(f"{fid},{year},{exports},{round(exports * 3 + 100, 1)}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "firms.csv").write_text("\n".join(firms) + "\n", encoding="utf-8")
    (root / "members.csv").write_text("\n".join(members) + "\n", encoding="utf-8")
    cfg = root / "lab.toml"
    cfg.write_text(f"""\
[lab]
name = "Small lab"
output_dir = "out"
min_cell_firms = 1

[estimation]
outcomes = ["exports_eur"]
methods = {json.dumps(methods)}
leads = 1
lags = 1
few_cluster_threshold = 0

[[regions]]
key = "small"
name = "Small Region"
nuts2 = "ES13"
country = "ES"

[regions.files.firms]
path = "firms.csv"
columns = {{ firm_id = "id", year = "year", exports_eur = "exports", turnover_eur = "turnover" }}

[regions.files.membership]
path = "members.csv"
columns = {{ firm_id = "firm", cluster_id = "cluster", join_year = "joined" }}
""", encoding="utf-8")
    return cfg


def test_etwfe_and_etwfe_poisson_coexist(tmp_path, tiny_lab):
    """Both are recorded under their own method name, so the synthesis no longer finds 'two
    etwfe estimates' of one region."""
    cfg = write_small_lab(tmp_path / "small", ["etwfe", "etwfe_poisson"])
    result = runner.invoke(app, ["evaluate", str(cfg), "--quiet", "--format", "json"])
    assert result.exit_code == 0, (result.output, result.exception)
    methods = {e["method"] for e in json.loads(result.stdout)["effects"]}
    assert methods == {"etwfe", "etwfe_poisson"}
    html = (tmp_path / "small" / "out" / "index.html").read_text(encoding="utf-8")
    assert "Extended TWFE (Poisson)" in html
    # and on the tiny lab, where the Poisson fit is not identified, listing both still evaluates
    edit(tiny_lab, "lags = 1", 'lags = 1\nmethods = ["callaway_santanna", "etwfe", "etwfe_poisson"]')
    assert runner.invoke(app, ["evaluate", str(tiny_lab), "--quiet"]).exit_code == 0


# --- 3. a corrupt workbook --------------------------------------------------------------------


def test_a_workbook_with_a_sheet_cut_short_is_not_readable(tiny_lab):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Firms"
    for line in TINY_FIRMS.splitlines():
        sheet.append(line.split(";"))
    whole = tiny_lab.parent / "whole.xlsx"
    book.save(whole)
    broken = tiny_lab.parent / "firms.xlsx"
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # the sheet's XML cut short
            dst.writestr(item, data)
    edit(tiny_lab, 'path = "firms.csv"', 'path = "firms.xlsx"')
    line = one_error(runner.invoke(app, ["evaluate", str(tiny_lab)]))
    assert line.startswith("error: firms.xlsx: is not a readable Excel workbook: sheet 'Firms' is damaged")
    [problem] = validate_problems(tiny_lab)
    assert problem["file"] == "firms.xlsx" and "not a readable Excel workbook" in problem["message"]


# --- 4. numbers at the edge -------------------------------------------------------------------


def test_non_finite_and_implausible_numbers_are_input_errors(lab):
    (lab / "orders.csv").write_text(TINY_ORDERS.replace("O1,C1,001,2019-05-02,10,US", "O1,C1,001,2019-05-02,1e309,US")
                                    .replace("O2,C1,002,2020-01-15,20,DE", "O2,C1,002,2020-01-15,1e308,DE"),
                                    encoding="utf-8")
    (lab / "firms.csv").write_text(TINY_FIRMS.replace("003;2019;0;80;7", "003;2019;0;80;100000000"),
                                   encoding="utf-8")
    found = [(p["file"], p["row"], p["column"], p["message"], p["value"]) for p in validate_problems(lab / "lab.toml")]
    assert found == [
        ("firms.csv", 9, "empleados", "implausibly large: more than 10,000,000 (the bound of 'employees'); "
         "check the column", "100000000"),
        ("orders.csv", 2, "value", "expected a finite number (this one is beyond the range of numbers, about "
         "1.8e308)", "1e309"),
        ("orders.csv", 3, "value", "implausibly large: more than 1e15 EUR after scale and exchange rate (the bound "
         "of money columns); check the file's units", "1e308"),
    ]
    before = snapshot(lab / "out")
    result = runner.invoke(app, ["evaluate", str(lab / "lab.toml")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 3
    assert "error: orders.csv, row 2, column 'value': expected a finite number" in result.stderr
    assert snapshot(lab / "out") == before


def test_money_far_above_the_bound_after_scale_is_refused(tiny_lab):
    # the tiny firms file is in thousands of PLN: 1e15 there is 2.5e17 EUR
    firms = TINY_FIRMS.replace("001;2019;0;110;10", "001;2019;0;1000000000000000;10")
    (tiny_lab.parent / "firms.csv").write_text(firms, encoding="utf-8")
    [problem] = validate_problems(tiny_lab)
    assert (problem["row"], problem["column"], problem["value"]) == (3, "ventas", "1000000000000000")
    assert problem["message"].startswith("implausibly large: more than 1e15 EUR")


# --- 5. terminal control sequences ------------------------------------------------------------


def test_control_characters_are_escaped_on_the_terminal(lab):
    firms = TINY_FIRMS.replace("002;2019;2;55;4", '002;2019;"\x1b[31m2\x07";55;4') \
                      .replace("003;2018;0;80;7", '003;2018;0;"\u202e8\r0";7')
    (lab / "firms.csv").write_text(firms, encoding="utf-8")
    shown = runner.invoke(app, ["validate", str(lab / "lab.toml")])
    assert shown.exit_code == 2
    for raw, escaped in (("\x1b", "\\x1b"), ("\x07", "\\x07"), ("\u202e", "\\u202e"), ("\r", "\\r")):
        assert raw not in shown.stdout and escaped in shown.stdout
    before = snapshot(lab / "out")
    result = runner.invoke(app, ["evaluate", str(lab / "lab.toml")])
    assert result.exit_code == 2 and snapshot(lab / "out") == before
    assert result.stderr.splitlines() == [
        "error: firms.csv, row 6, column 'export': expected a number (with a decimal comma) (got '\\x1b[31m2\\x07')",
        "error: firms.csv, row 8, column 'ventas': expected a number (with a decimal comma) (got '\\u202e8\\r0')",
    ]


def test_escape_controls():
    assert escape_controls("a\x1b[31mb\x07\r\n\t\x7f\x9b\u202a\u2066\u2069z é ü €") == \
        "a\\x1b[31mb\\x07\\r\\n\\t\\x7f\\x9b\\u202a\\u2066\\u2069z é ü €"


# --- 6. as a new user -------------------------------------------------------------------------


def test_estimate_an_outcome_some_regions_lack_names_them(tiny_lab):
    line = one_error(runner.invoke(app, ["estimate", str(tiny_lab), "-o", "n_export_markets"]))
    assert line == (f"error: outcome 'n_export_markets' needs firms column 'n_export_markets', which region(s) "
                    f"'tiny' of {tiny_lab} do not map; leave them out with --region, or map the column")


def test_estimate_on_the_example_names_the_regions_without_markets():
    example = Path(__file__).resolve().parent.parent / "configs" / "example.toml"
    line = one_error(runner.invoke(app, ["estimate", str(example), "-o", "n_export_markets"]))
    lacking = [r.key for r in load_config(example).regions if "n_export_markets" not in r.files.firms.columns]
    assert lacking and all(f"'{k}'" in line for k in lacking)


@pytest.mark.parametrize(("args", "expected"), [
    (["-i", "I99"], "error: unknown indicator id(s) 'I99'; known ids: I01, I02"),
    (["-r", "narnia"], "error: unknown region(s) 'narnia'; the config has 'tiny' (a key or a name), or 'lab'"),
    (["-i", "I24"], "error: indicator I24 has no value in this lab: it needs survey, which no "
                    "region's files provide"),
])
def test_indicators_with_an_unknown_id_or_region(tiny_lab, args, expected):
    line = one_error(runner.invoke(app, ["indicators", str(tiny_lab), *args]))
    assert line.startswith(expected)


def test_example_refuses_to_overwrite_an_edited_config(tmp_path):
    first = runner.invoke(app, ["example", str(tmp_path / "ex")])
    assert first.exit_code == 0, first.output
    config = tmp_path / "ex" / "example.toml"
    config.write_text(config.read_text(encoding="utf-8") + "# my edit\n", encoding="utf-8")
    line = one_error(runner.invoke(app, ["example", str(tmp_path / "ex")]))
    assert line.startswith(f"error: {tmp_path / 'ex'}: already holds files the example would overwrite "
                           "(example.toml, ")
    assert line.endswith("pass --force to overwrite them")
    assert config.read_text(encoding="utf-8").endswith("# my edit\n")
    forced = runner.invoke(app, ["example", str(tmp_path / "ex"), "--force"])
    assert forced.exit_code == 0 and not config.read_text(encoding="utf-8").endswith("# my edit\n")
    (tmp_path / "file").write_text("x")
    line = one_error(runner.invoke(app, ["example", str(tmp_path / "file")]))
    assert "names an existing file" in line


def test_validate_lists_row_and_cross_table_problems_in_one_run(tiny_lab):
    (tiny_lab.parent / "firms.csv").write_text(TINY_FIRMS.replace("002;2019;2;55;4", "002;2019;two;55;4"),
                                               encoding="utf-8")
    (tiny_lab.parent / "members.csv").write_text(TINY_MEMBERS + "009,C1,2019,\n", encoding="utf-8")
    found = [(p["file"], p["row"], p["column"], p["value"]) for p in validate_problems(tiny_lab)]
    assert ("firms.csv", 6, "export", "two") in found
    assert ("members.csv", 4, "firm", "009") in found  # a member missing from the firms file


# --- 7. decided: BOM, one line per config problem, binary ids, pipes, size cap, paths ------------


def test_a_config_with_a_utf8_bom_is_accepted_and_hashed_as_its_bytes(tiny_lab):
    data = b"\xef\xbb\xbf" + tiny_lab.read_bytes()
    tiny_lab.write_bytes(data)
    cfg = load_config(tiny_lab)
    assert cfg.sha256 == hashlib.sha256(data).hexdigest()
    assert runner.invoke(app, ["validate", str(tiny_lab)]).exit_code == 0


def test_several_config_errors_come_one_line_each(tiny_lab):
    edit(tiny_lab, "leads = 1", "lead = 1")
    edit(tiny_lab, "lags = 1", "lags = -1")
    result = runner.invoke(app, ["validate", str(tiny_lab)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"error: {tiny_lab}: estimation.") for line in lines)
    with pytest.raises(ConfigError) as caught:
        load_config(tiny_lab)
    assert len(caught.value.problems) == 2


def _members_parquet(path: Path, firms: list[bytes]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"firm": pa.array(firms, type=pa.binary()),
                      "cluster": pa.array([b"C1"] * len(firms), type=pa.binary()),
                      "joined": pa.array([2019] * len(firms), type=pa.int64())})
    pq.write_table(table, path)


def test_binary_parquet_ids_are_read_as_utf8_text(tiny_lab):
    edit(tiny_lab, 'path = "members.csv"\ncolumns = { firm_id = "firm", cluster_id = "cluster", join_year = "joined", '
                   'exit_year = "left" }',
         'path = "members.parquet"\ncolumns = { firm_id = "firm", cluster_id = "cluster", join_year = "joined" }')
    _members_parquet(tiny_lab.parent / "members.parquet", [b"001", b"002"])
    members = ingest(load_config(tiny_lab)).regions[0].tables["membership"]
    assert list(members["firm_id"]) == ["001", "002"] and list(members["cluster_id"]) == ["C1", "C1"]
    _members_parquet(tiny_lab.parent / "members.parquet", [b"001", b"\xff02"])
    with pytest.raises(InputDataError) as caught:
        ingest(load_config(tiny_lab))
    assert [str(p) for p in caught.value.problems] == [
        "members.parquet, row 2, column 'firm': bytes that are not UTF-8 text; expected text (got \"b'\\\\xff02'\")"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_refused_not_read(tiny_lab):
    (tiny_lab.parent / "firms.csv").unlink()
    os.mkfifo(tiny_lab.parent / "firms.csv")  # reading it would wait forever
    line = one_error(runner.invoke(app, ["evaluate", str(tiny_lab)]))
    assert line.startswith("error: firms.csv: is not a regular file")
    pipe_config = tiny_lab.parent / "pipe.toml"
    os.mkfifo(pipe_config)
    line = one_error(runner.invoke(app, ["validate", str(pipe_config)]))
    assert line.startswith(f"error: {pipe_config}: is not a regular file")


def test_an_input_above_the_size_cap_is_refused(tiny_lab, monkeypatch):
    from policylab.ingest import readers

    assert readers.MAX_INPUT_BYTES == 20 * 1024**3  # the documented cap
    size = (tiny_lab.parent / "firms.csv").stat().st_size
    monkeypatch.setattr(readers, "MAX_INPUT_BYTES", size - 1)
    _, problems = check_inputs(load_config(tiny_lab))
    assert [str(p) for p in problems] == [
        f"firms.csv: is {size} bytes, above the limit of {size - 1} bytes per input file; split it (e.g. by "
        "year) or keep only the programme's firms"]


def test_data_paths_stay_under_the_config_folder_or_data_root(tmp_path):
    cfg = write_tiny_lab(tmp_path / "project" / "configs")
    secret = tmp_path / "secret.csv"
    secret.write_text(TINY_FIRMS, encoding="utf-8")
    text = cfg.read_text(encoding="utf-8")
    for path in ("../../secret.csv", str(secret), "sub/../../firms.csv"):
        bad = text.replace('path = "firms.csv"', f'path = "{path}"')
        with pytest.raises(ConfigError) as caught:
            parse_config(bad, source="lab.toml", base_dir=cfg.parent)
        [line] = caught.value.problems
        assert line.startswith(f"lab.toml: regions.0.files.firms.path: '{Path(path).as_posix()}' is outside the "
                               "config's folder")
    # data_root widens it to the project, but not beyond
    (tmp_path / "project" / "data").mkdir()
    shutil.copy(cfg.parent / "firms.csv", tmp_path / "project" / "data" / "firms.csv")
    widened = text.replace('output_dir = "out"', 'output_dir = "out"\ndata_root = ".."')
    ok = parse_config(widened.replace('path = "firms.csv"', 'path = "../data/firms.csv"'), base_dir=cfg.parent)
    assert ok.data_root == cfg.parent / ".."
    with pytest.raises(ConfigError, match=r"'../../secret.csv' is outside lab.data_root \('..'\)"):
        parse_config(widened.replace('path = "firms.csv"', 'path = "../../secret.csv"'), base_dir=cfg.parent)
    # the shipped example reads ../data/example from configs/ with data_root = ".."
    example = Path(__file__).resolve().parent.parent / "configs" / "example.toml"
    assert load_config(example).lab.data_root == Path("..")
