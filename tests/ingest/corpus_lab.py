"""The corpus lab: the tiny lab of ``labfiles.py`` with one file swapped for a corpus file.

A case of ``corpus/cases.toml`` names the table whose file it replaces, the corpus file, and
changes to that file's settings (``spec``, ``drop``, ``columns``), to the region or to the
lab. ``build_case`` writes the lab into a folder and returns the config path.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

from labfiles import TINY_CLUSTERS, TINY_FIRMS, TINY_MEMBERS, TINY_ORDERS

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES_FILE = CORPUS / "cases.toml"

BASE: dict[str, Any] = {
    "lab": {"name": "Corpus lab", "output_dir": "out", "min_cell_firms": 1},
    "estimation": {"outcomes": ["exporter", "log_exports"], "leads": 1, "lags": 1},
    "region": {
        "key": "tiny", "name": "Tiny Region", "nuts2": "ES13", "country": "ES", "currency": "PLN",
        "fx": {"2018": 4.0, "2019": 4.0, "2020": 5.0},
    },
    "files": {
        "firms": {"path": "firms.csv", "delimiter": ";", "decimal": ",", "scale": 1000,
                  "columns": {"firm_id": "id", "year": "anyo", "exports_eur": "export", "turnover_eur": "ventas",
                              "employees": "empleados"}},
        "membership": {"path": "members.csv",
                       "columns": {"firm_id": "firm", "cluster_id": "cluster", "join_year": "joined",
                                   "exit_year": "left"}},
        "clusters": {"path": "clusters.csv",
                     "columns": {"cluster_id": "cluster", "cluster_name": "name", "founded_year": "founded",
                                 "closed_year": "closed"}},
        "orders": {"path": "orders.csv",
                   "columns": {"order_id": "order", "cluster_id": "cluster", "firm_id": "firm",
                               "order_date": "date", "value_eur": "value", "destination_country": "dest"}},
    },
}
BASE_TEXT = {"firms.csv": TINY_FIRMS, "members.csv": TINY_MEMBERS, "clusters.csv": TINY_CLUSTERS,
             "orders.csv": TINY_ORDERS}


def load_cases() -> list[dict[str, Any]]:
    return tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))["case"]


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_text(lab: dict, estimation: dict, region: dict, files: dict) -> str:
    lines = ["[lab]"] + [f"{_key(k)} = {_value(v)}" for k, v in lab.items()]
    lines += ["", "[estimation]"] + [f"{_key(k)} = {_value(v)}" for k, v in estimation.items()]
    lines += ["", "[[regions]]"] + [f"{_key(k)} = {_value(v)}" for k, v in region.items()]
    for name, spec in files.items():
        lines += ["", f"[regions.files.{name}]"] + [f"{_key(k)} = {_value(v)}" for k, v in spec.items()]
    return "\n".join(lines) + "\n"


def write_base(root: Path) -> Path:
    """The unmodified corpus lab in ``root``; returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in BASE_TEXT.items():
        (root / name).write_text(text, encoding="utf-8")
    cfg = root / "lab.toml"
    cfg.write_text(toml_text(BASE["lab"], BASE["estimation"], BASE["region"], BASE["files"]), encoding="utf-8")
    return cfg


def apply_case(root: Path, case: dict[str, Any]) -> Path:
    """Swap the case's file into the lab in ``root`` (written by ``write_base``) and rewrite its config."""
    lab = {**BASE["lab"], **case.get("lab", {})}
    region = {**BASE["region"], **case.get("region", {})}
    files = copy.deepcopy(BASE["files"])
    spec = files[case["table"]]
    name = case["file"]
    if name == "@missing":
        spec["path"] = "nope.csv"
    elif name == "@folder":
        (root / "a_folder.csv").mkdir()
        spec["path"] = "a_folder.csv"
    else:
        shutil.copyfile(CORPUS / name, root / name)
        spec["path"] = name
    for k in case.get("drop", []):
        spec.pop(k, None)
    spec.update(case.get("spec", {}))
    spec["columns"] = {**spec["columns"], **case.get("columns", {})}
    for k in case.get("drop_columns", []):
        spec["columns"].pop(k)
    cfg = root / "lab.toml"
    cfg.write_text(toml_text(lab, BASE["estimation"], region, files), encoding="utf-8")
    return cfg
