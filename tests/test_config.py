"""The lab config: TOML validated by pydantic; every mistake named by its dotted location."""

from __future__ import annotations

import pytest

from policylab.config import load_config, parse_config
from policylab.errors import ConfigError

from labfiles import TINY_CONFIG


def tiny_text(extra: str = "") -> str:
    return TINY_CONFIG.format(extra=extra)


def test_tiny_config_parses_with_paths_relative_to_the_config(tiny_lab):
    cfg = load_config(tiny_lab)
    assert cfg.regions[0].fx[2020] == 5.0
    assert cfg.output_dir == tiny_lab.parent / "out"
    assert cfg.resolve(cfg.regions[0].files.firms.path) == tiny_lab.parent / "firms.csv"
    assert len(cfg.sha256) == 64


def test_a_misspelt_key_is_reported_with_its_dotted_location():
    text = tiny_text().replace('min_cell_firms = 1', 'min_cel_firms = 1')
    with pytest.raises(ConfigError, match=r"lab\.min_cel_firms: unknown key"):
        parse_config(text, source="lab.toml")


def test_a_misspelt_nested_key_names_the_region_and_file():
    text = tiny_text().replace('decimal = ","', 'decimals = ","')
    with pytest.raises(ConfigError, match=r"regions\.0\.files\.firms\.decimals: unknown key"):
        parse_config(text)


def test_an_unknown_canonical_column_is_named():
    text = tiny_text().replace('employees = "empleados"', 'staff = "empleados"')
    with pytest.raises(ConfigError, match=r"unknown canonical column\(s\) \['staff'\]"):
        parse_config(text)


def test_a_required_column_left_unmapped_is_named():
    text = tiny_text().replace('exports_eur = "export", ', "")
    with pytest.raises(ConfigError, match=r"required canonical column\(s\) \['exports_eur'\] not mapped"):
        parse_config(text)


def test_a_foreign_currency_needs_rates():
    text = tiny_text().replace("fx = { 2018 = 4.0, 2019 = 4.0, 2020 = 5.0 }", "")
    with pytest.raises(ConfigError, match="currency PLN needs yearly rates"):
        parse_config(text)


def test_out_of_range_values_are_rejected():
    text = tiny_text().replace("lags = 1", "lags = -1")
    with pytest.raises(ConfigError, match=r"estimation\.lags: Input should be greater than or equal to 0"):
        parse_config(text)


def test_invalid_toml_is_a_config_error():
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[lab\nname = 1")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
