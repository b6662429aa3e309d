"""The malformed-and-awkward input corpus: every case gives its precise problems, or clean tables.

Each case of ``corpus/cases.toml`` swaps one file of a tiny lab for a corpus file. Through
the Python API, the problems reported must be exactly the listed lines (file, row as seen in
the file, column, value, what was expected), and a clean case must give the listed canonical
values. Through the command line, a case with an error exits 2 from both ``validate`` and
``evaluate`` with one line per problem and no traceback, and leaves the report and the
canonical store written by an earlier successful run byte for byte (and mtime) as they were.
A case with only warnings passes ``validate`` and fails ``validate --strict``.

Closing note: the corpus (``make_corpus.py`` writes it, 74 files, 74 KB) is behind 77 cases (49
errors, 4 with warnings only, 24 read cleanly; two cases need no file: a missing path and a
folder), in ten families:

- unreadable (13): empty, blank lines only, header only, header row past the end, a blank
  header line, binary garbage (with and without NUL bytes), a workbook named .csv, text
  named .xlsx/.parquet, an unsupported extension, a missing file, a folder instead of a file;
- structure (12): an unclosed quote, a duplicated header, ragged rows, a missing required
  column, a column name differing in case, a wrong declared delimiter, a title line with and
  without ``header_row``, blank rows inside, trailing delimiters, quoted values spanning
  lines (row numbers stay the lines the user sees), CRLF line ends;
- delimiter (3): semicolons, tabs and pipes detected;
- encoding (7): Latin-1 declared as UTF-8; Latin-1 and cp1250 detected; UTF-8 with a BOM
  (detected and declared); UTF-16 with a BOM; names in Greek, Chinese, Arabic, emoji and
  combining accents;
- numbers (12): decimal comma detected; ambiguous '1,234' and mixed separators (declaration
  required); thousands separators '.', space/no-break space and ','; bad numbers; negative
  values; blank vs 0; 'n/a' declared and undeclared; exports above turnover (warning);
- years (5): years as text, outside the window, fiscal years from April (labels 2019/20,
  2020-2021) and October (shifted to the next calendar year), fiscal labels undeclared;
- panel (10): duplicated firm-years, leading-zero IDs, a blank ID, formula-like text
  (warning, kept verbatim), exit before join, exit equal to join (warning), members not in
  the firms file, unknown clusters, duplicated memberships, a blank join year;
- dates and countries (3): dates in another format, a declared date format, bad country codes;
- excel (9) and parquet (3): title rows with and without ``header_row``, a wrong and an
  unknown sheet, an empty sheet, a formula without a saved result, formula-like text, a date
  in the year column, numeric IDs that lost their leading zeros; typed Parquet, a negative
  value, integer IDs.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from corpus_lab import CORPUS, apply_case, load_cases, write_base
from typer.testing import CliRunner

from policylab.cli import app
from policylab.config import load_config
from policylab.errors import Problem
from policylab.ingest import check_inputs

runner = CliRunner()
CASES = load_cases()
ERROR_CASES = [c for c in CASES if any(e.startswith("error: ") for e in c["expect"])]
WARNING_CASES = [c for c in CASES if c["expect"] and c not in ERROR_CASES]
CLEAN_CASES = [c for c in CASES if c not in ERROR_CASES]


def ids(cases):
    return [c["id"] for c in cases]


#: Lock files a run takes (and stamps with its pid) even when it then stops on an input
#: error: run bookkeeping, not part of the report or the store.
LOCKS = {".policylab/lock", "store/.policylab.lock"}


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).as_posix() not in LOCKS}


@pytest.fixture(scope="module")
def reported_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus lab after a successful ``policylab evaluate``: report and store written."""
    root = tmp_path_factory.mktemp("corpus") / "lab"
    cfg = write_base(root)
    result = runner.invoke(app, ["evaluate", str(cfg), "--quiet"])
    assert result.exit_code == 0, result.output
    written = snapshot(root / "out")
    assert "index.html" in written and "store/firms/region=tiny/part-0.parquet" in written
    return root


def test_the_corpus_is_big_small_and_fully_used():
    files = {p.name for p in CORPUS.iterdir() if p.name not in ("cases.toml",)}
    used = {c["file"] for c in CASES}
    assert len(CASES) >= 40 and len(files) >= 40
    assert files - used == set(), "corpus files no case uses"
    assert used - files <= {"@missing", "@folder"}
    assert sum((CORPUS / f).stat().st_size for f in files) < 200_000
    assert len(set(ids(CASES))) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_each_case_reports_exactly_its_problems(case, tmp_path):
    root = tmp_path / "lab"
    write_base(root)
    cfg = load_config(apply_case(root, case))
    data, problems = check_inputs(cfg)
    assert [f"{p.severity}: {p}" for p in problems] == case["expect"]
    errors = [p for p in problems if p.severity == "error"]
    assert (data is None) == bool(errors)
    if errors:
        return  # ingest() raising InputDataError with these errors: through the CLI below
    region = data.regions[0]
    for v in case.get("values", []):
        frame = region.tables[v["table"]]
        for col, want in v["where"].items():
            frame = frame[frame[col] == want]
        assert len(frame) == 1, (v, region.tables[v["table"]])
        got = frame[v["column"]].iloc[0]
        if isinstance(v["equals"], float) and math.isnan(v["equals"]):
            assert pd.isna(got), v
        elif v["column"] == "order_date":
            assert got.strftime("%Y-%m-%d") == v["equals"]
        else:
            assert got == pytest.approx(v["equals"]) if isinstance(v["equals"], float) else got == v["equals"], v
    source = next(s for s in region.sources if s.table == case["table"])
    for key, want in case.get("mapping", {}).items():
        assert source.mapping[key] == want
    for key, want in case.get("quality", {}).items():
        assert region.quality_summary()[key] == want
    for line in case.get("conversions", []):
        assert line in region.conversions
    assert tuple(p for p in problems if p.severity == "warning") == region.warnings


@pytest.mark.parametrize("case", ERROR_CASES, ids=ids(ERROR_CASES))
def test_an_error_exits_2_and_leaves_the_report_and_store_untouched(case, reported_lab, tmp_path):
    root = tmp_path / "lab"
    shutil.copytree(reported_lab, root)
    cfg = apply_case(root, case)
    before = snapshot(root / "out")

    checked = runner.invoke(app, ["validate", str(cfg), "--format", "json"])
    assert checked.exit_code == 2
    report = json.loads(checked.stdout)
    assert report["valid"] is False and report["errors"] == sum(e.startswith("error: ") for e in case["expect"])
    assert [f"{p['severity']}: {Problem(**p)}" for p in report["problems"]] == case["expect"]

    result = runner.invoke(app, ["evaluate", str(cfg)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [e for e in case["expect"] if e.startswith("error: ")]
    assert "Traceback" not in result.output
    assert snapshot(root / "out") == before


@pytest.mark.parametrize("case", WARNING_CASES, ids=ids(WARNING_CASES))
def test_warnings_pass_validate_but_not_strict(case, tmp_path):
    root = tmp_path / "lab"
    write_base(root)
    cfg = apply_case(root, case)
    ok = runner.invoke(app, ["validate", str(cfg)])
    assert ok.exit_code == 0, ok.output
    assert f"0 error(s), {len(case['expect'])} warning(s)" in ok.stdout
    strict = runner.invoke(app, ["validate", str(cfg), "--strict", "--format", "json"])
    assert strict.exit_code == 2
    report = json.loads(strict.stdout)
    assert report["valid"] is False and report["strict"] is True and report["errors"] == len(case["expect"])
    assert [f"{p['severity']}: {Problem(**p)}" for p in report["problems"]] == case["expect"]


def test_the_committed_text_files_are_what_make_corpus_writes():
    import make_corpus

    for name, text in make_corpus.TEXT.items():
        assert (CORPUS / name).read_bytes() == text.encode("utf-8"), name
    for name, data in make_corpus.ENCODED.items():
        assert (CORPUS / name).read_bytes() == data, name
