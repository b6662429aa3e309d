"""The example's lab config (TOML text), written from the region specs."""

from __future__ import annotations

from .regions import REGIONS
from .spec import FIRST_YEAR, LAST_YEAR, MONEY


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


#: Milestones and targets of two regions' programmes for the EU common indicators (invented
#: for the example): code -> (milestone, its year, target, its year), cumulative values.
EXAMPLE_TARGETS = {
    "cantabria": {"RCO01": (50, 2019, 100, 2023), "RCO87": (4, 2019, 8, 2023),
                  "RCR02": (300_000, 2019, 800_000, 2023)},
    "kujawsko_pomorskie": {"RCO01": (60, 2019, 100, 2023), "RCR01": (100, 2019, 250, 2023),
                           "RCR19": (40, 2019, 80, 2023)},
}


def _targets_lines(key: str) -> list[str]:
    lines = []
    for code, (milestone, m_year, target, t_year) in EXAMPLE_TARGETS.get(key, {}).items():
        lines += ["", f"[regions.targets.{code}]  # the programme's milestone and target "
                      "(cumulative, EU common indicator)",
                  f"milestone = {milestone}", f"milestone_year = {m_year}",
                  f"target = {target}", f"target_year = {t_year}"]
    return lines


def example_config_text(data_prefix: str, output_dir: str) -> str:
    """The lab config (TOML) for the example; file paths are ``data_prefix/<region>/<file>``."""
    prefix = data_prefix.rstrip("/") or "."
    # input files must stay under the config's folder unless lab.data_root widens it
    climb = 0
    for part in prefix.split("/"):
        if part != "..":
            break
        climb += 1
    data_root = prefix if prefix.startswith("/") else "/".join([".."] * climb)
    lines = [
        "# policylab lab config: the SYNTHETIC example of six SIE partner regions.",
        "#",
        "# Copy this file as the template for a real lab. Paths are relative to this file. Each",
        "# region's files are mapped into policylab's canonical tables: each",
        "# [regions.files.<table>] says how the file is read (delimiter, decimal, thousands,",
        "# encoding, sheet, header_row, scale) and its [regions.files.<table>.columns] which",
        "# file column holds each canonical column (canonical name = name in the file).",
        "# [regions.files.<table>.values.<column>] recodes a category column's own labels (a",
        "# region's language: 'tak', 'nie wiem', 'misión conjunta') into policylab's values.",
        "# Money is converted to EUR with the yearly 'fx' rates (local currency units per EUR).",
        "# The rates below are APPROXIMATE annual averages, for the example only. What is",
        "# planted in the synthetic data (the truth to recover) is described in the example",
        "# data's TRUTH.md, next to its README.md.",
        "",
        "[lab]",
        f"name = {_toml_str('SIE policy lab (synthetic example)')}",
        "description = "
        + _toml_str(
            "Export consortia in six SIE partner regions, 2012-2023 (SYNTHETIC data; "
            "planted effects in TRUTH.md)"
        ),
        f"output_dir = {_toml_str(output_dir)}",
        *(["# input files are read only from under this folder (relative to this file)",
            f"data_root = {_toml_str(data_root)}"] if data_root else []),
        "min_cell_firms = 5",
        f"first_year = {FIRST_YEAR}",
        f"last_year = {LAST_YEAR}",
        "",
        "[estimation]",
        "# exporter: 1 if the firm exports (effect in share points); log_exports: log(1 + EUR);",
        "# exports_eur: EUR in levels (its estimate feeds I19, public cost per EUR of extra exports)",
        'outcomes = ["exporter", "log_exports", "exports_eur"]',
        "# the first method gives the headline number; the others are shown beside it",
        'methods = ["callaway_santanna", "event_study"]',
        'control_group = "never_treated"  # or "not_yet_treated"',
        "leads = 4",
        "lags = 5",
        'cluster = "consortium"  # cluster standard errors by consortium (where treatment is set)',
        "# below this many consortia with members, headline intervals and p-values come from the",
        "# wild cluster restricted bootstrap (analytic ones are too narrow; studies/COVERAGE.md)",
        "few_cluster_threshold = 30",
        "# bootstrap draws to start from; more are added until each bound's Monte Carlo error is",
        "# at most bootstrap_mc_target of the interval's width, so a changed seed barely moves it",
        "# (benchmarks/SEED_STABILITY.md; 0 = exactly bootstrap_draws)",
        "bootstrap_draws = 999",
        "bootstrap_mc_target = 0.003",
        "seed = 0",
    ]
    for spec in REGIONS:
        bar = f"# --- {spec.name} ({spec.nuts2}) "
        lines += ["", "", bar + "-" * max(3, 96 - len(bar))]
        lines += [f"# {note}" for note in spec.notes]
        lines += [
            "[[regions]]",
            f"key = {_toml_str(spec.key)}",
            f"name = {_toml_str(spec.name)}",
            f"nuts2 = {_toml_str(spec.nuts2)}",
            f"country = {_toml_str(spec.country)}",
            f"programme = {_toml_str(spec.programme)}",
            f"currency = {_toml_str(spec.currency)}",
        ]
        if spec.currency != "EUR":
            lines += ["", f"[regions.fx]  # {spec.currency} per EUR, approximate annual averages"]
            lines += [f"{y} = {_toml_num(v)}" for y, v in spec.fx.items()]
        for layout in spec.layout:
            lines += [
                "",
                f"[regions.files.{layout.table}]",
                f"path = {_toml_str(f'{prefix}/{spec.key}/{layout.file}')}",
            ]
            if layout.format == "csv":
                lines.append(f"delimiter = {_toml_str(layout.delimiter or ',')}")
                if layout.decimal != ".":
                    lines.append(f"decimal = {_toml_str(layout.decimal)}")
                if layout.thousands:
                    lines.append(f"thousands = {_toml_str(layout.thousands)}")
                if layout.encoding != "utf-8":
                    lines.append(f"encoding = {_toml_str(layout.encoding)}")
            if layout.sheet is not None:
                lines.append(f"sheet = {_toml_str(layout.sheet)}")
            if layout.header_row != 1:
                lines.append(f"header_row = {layout.header_row}")
            if layout.scale != 1.0 and any(c in MONEY for c in layout.columns):
                lines.append(f"scale = {_toml_num(layout.scale)}  # money in thousands")
            lines += [f"[regions.files.{layout.table}.columns]"]
            width = max(len(c) for c in layout.columns)
            lines += [f"{c.ljust(width)} = {_toml_str(src)}" for c, src in layout.columns.items()]
            for column, labels in layout.values.items():
                head = f"[regions.files.{layout.table}.values.{column}]"
                lines += [f"{head}  # the file's label = canonical value"]
                width = max(len(_toml_str(k)) for k in labels)
                lines += [
                    f"{_toml_str(k).ljust(width)} = {_toml_str(v)}" for k, v in labels.items()
                ]
        lines += _targets_lines(spec.key)
    return "\n".join(lines) + "\n"
