"""The lab's other half is read like every other table: the SME panel (survey), the
cross-regional partnerships, the practice-transfer log and orders' partner regions, each with
its own labels mapped by the config, each bad cell named in one line (file, row, column, what
was expected), and free text read but never kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labfiles import write_tiny_lab
from policylab.cli import app
from policylab.config import load_config
from policylab.ingest import check_inputs

runner = CliRunner()

SURVEY = """\
firma;ola;odpowiedz;klaster;zadowolenie;zostaje;finanse;jezyk;komentarz
001;2019;tak;C1;4;tak;3;5;Great consortium, thanks to Jan Kowalski
002;2019;tak;C1;2;nie wiem;5;1;
003;2019;nie;;;;;;
004;2020;TAK;;5;tak;;;
"""
PARTNERS = """\
link,year,partner,type,cluster,firms
L1,2019,PL61,joint_mission,C1,2
L2,2020,UKJ4,shared_manager,,
"""
PRACTICES = """\
id,name,origin,adopter,stage,date,budget,notes
P1,Export Consortia,ES13,PL61,studied,2019-02-01,1000,visit to Santander
P1,Export Consortia,ES13,PL61,adopted,2020-06-30,25000,
"""
EXTRA = """
[regions.files.survey]
path = "survey.csv"
delimiter = ";"
columns = { firm_id = "firma", wave = "ola", responded = "odpowiedz", cluster_id = "klaster", satisfaction = "zadowolenie", intends_to_stay = "zostaje", barrier_finance = "finanse", barrier_language = "jezyk", comment = "komentarz" }
values = { responded = { tak = "yes", nie = "no" }, intends_to_stay = { tak = "yes", nie = "no", "nie wiem" = "unsure" } }

[regions.files.partnerships]
path = "partners.csv"
columns = { link_id = "link", year = "year", partner_region = "partner", link_type = "type", cluster_id = "cluster", n_firms = "firms" }

[regions.files.practices]
path = "practices.csv"
columns = { practice_id = "id", practice = "name", origin_region = "origin", adopting_region = "adopter", stage = "stage", stage_date = "date", budget_eur = "budget", notes = "notes" }
"""


def lab_with(root: Path, *, survey: str = SURVEY, partners: str = PARTNERS,
             practices: str = PRACTICES, extra: str = EXTRA) -> Path:
    cfg = write_tiny_lab(root, extra=extra)
    (root / "survey.csv").write_text(survey, encoding="utf-8")
    (root / "partners.csv").write_text(partners, encoding="utf-8")
    (root / "practices.csv").write_text(practices, encoding="utf-8")
    return cfg


def problems(cfg: Path) -> list[dict]:
    result = runner.invoke(app, ["validate", str(cfg), "--format", "json"])
    assert result.exit_code == 2, result.output
    return [p for p in json.loads(result.stdout)["problems"] if p["severity"] == "error"]


def test_the_new_tables_are_read_with_the_regions_own_labels(tmp_path):
    data, found = check_inputs(load_config(lab_with(tmp_path / "lab")))
    assert [p for p in found if p.severity == "error"] == []
    tables = data.regions[0].tables
    survey = tables["survey"]
    assert list(survey["responded"]) == ["yes", "yes", "no", "yes"]  # TAK too: case ignored
    assert list(survey["intends_to_stay"].astype(object).fillna("")) == ["yes", "unsure", "", "yes"]
    assert survey["satisfaction"].tolist()[:2] == [4.0, 2.0]
    assert list(tables["partnerships"]["partner_region"]) == ["PL61", "UKJ4"]
    assert list(tables["practices"]["stage"]) == ["studied", "adopted"]
    # free text is read and checked, then dropped: never stored, never published
    assert "comment" not in survey and "notes" not in tables["practices"]


def test_free_text_reaches_no_output(tmp_path):
    cfg = lab_with(tmp_path / "lab")
    run = runner.invoke(app, ["evaluate", str(cfg), "--quiet"])
    assert run.exit_code == 0, run.output
    out = tmp_path / "lab" / "out"
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"Kowalski" not in data and b"Santander" not in data, path


@pytest.mark.parametrize(("table", "before", "after", "column", "row", "message"), [
    ("survey", "001;2019;tak;C1;4;", "001;2019;tak;C1;6;", "zadowolenie", 2,
     "out of range; expected 1 to 5"),
    ("survey", "001;2019;tak;C1;4;", "001;2019;tak;C1;3,5;", "zadowolenie", 2,
     "expected a whole number"),
    ("survey", "002;2019;tak;C1;2;nie wiem", "002;2019;tak;C1;2;maybe", "zostaje", 3,
     "expected one of yes, unsure, no (map the file's own labels with 'values' in the config)"),
    ("survey", "003;2019;nie;;;;;;", "003;2019;nie;;3;;;;", "odpowiedz", 4,
     "answers given although 'responded' is no"),
    ("survey", "004;2020;TAK", "009;2020;TAK", "firma", 5, "firm not found in the firms file"),
    ("survey", "001;2019;tak;C1", "001;2019;tak;C9", "klaster", 2,
     "cluster not found in the clusters file"),
    ("partners", "L1,2019,PL61", "L1,2019,Poland", "partner", 2,
     "expected a NUTS-2 region code such as ES13"),
    ("partners", "L2,2020,UKJ4", "L2,2020,ES13", "partner", 3,
     "the partner region is this region (ES13); expected another region's NUTS-2 code"),
    ("partners", "joint_mission", "trade fair", "type", 2,
     "expected one of joint_mission, cross_regional_consortium, shared_manager, other (map the "
     "file's own labels with 'values' in the config)"),
    ("practices", "adopted,2020-06-30", "adopted,2018-06-30", "date", 3,
     "stage dated before an earlier stage of the same practice (stages run studied, adapted, "
     "piloted, adopted; dropped last)"),
    ("practices", "P1,Export Consortia,ES13,PL61,studied", "P1,Export Consortia,ES13,ES13,studied",
     "adopter", 2, "the adopting region is the practice's origin region; expected another region"),
])
def test_a_bad_cell_is_one_line_naming_file_row_and_column(tmp_path, table, before, after,
                                                           column, row, message):
    texts = {"survey": SURVEY, "partners": PARTNERS, "practices": PRACTICES}
    assert before in texts[table]
    texts[table] = texts[table].replace(before, after, 1)
    cfg = lab_with(tmp_path / "lab", survey=texts["survey"], partners=texts["partners"],
                   practices=texts["practices"])
    [p] = problems(cfg)
    assert (p["file"], p["row"], p["column"], p["message"]) == \
        (f"{table}.csv", row, column, message)
    run = runner.invoke(app, ["evaluate", str(cfg)])
    assert run.exit_code == 2 and "Traceback" not in run.output
    assert run.stderr.startswith(f"error: {table}.csv, row {row}, column '{column}': {message}")


def test_a_recode_to_an_unknown_value_is_a_config_error(tmp_path):
    extra = EXTRA.replace('nie = "no" },', 'nie = "nope" },', 1)
    cfg = lab_with(tmp_path / "lab", extra=extra)
    run = runner.invoke(app, ["validate", str(cfg)])
    assert run.exit_code == 2
    assert "survey.values.responded: ['nope'] not among ['yes', 'no']" in run.stderr
