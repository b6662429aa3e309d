"""One set of units: every effect reads the same in the report, the terminal and the
spreadsheet (policylab.units)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policylab.units import (
    convert,
    display_text,
    display_value,
    effect_text,
    excel_format,
    interval_text,
    outcome_unit,
)

OUTCOMES = ("exporter", "log_exports", "exports_eur", "n_export_markets", "jobs")


def excel_text(value: float, number_format: str) -> str:
    """What a spreadsheet shows for ``value`` under the formats policylab writes
    (``"+"#,##0.0" pp";"−"#,##0.0" pp";#,##0.0" pp"``): a positive, a negative and a zero
    section of quoted literals around ``#,##0`` with or without decimals."""
    positive, negative, zero = number_format.split(";")
    section = positive if value > 0 else negative if value < 0 else zero
    parts = section.split('"')
    literals, code = parts[1::2], "".join(parts[0::2])
    decimals = len(code.split(".")[1]) if "." in code else 0
    prefix = literals[0] if section.startswith('"') else ""
    suffix = "".join(literals)[len(prefix):]
    return prefix + f"{abs(value):,.{decimals}f}" + suffix


@pytest.mark.parametrize(("outcome", "value", "text"), [
    ("exporter", 0.0331, "+3.3 pp"),
    ("exporter", -0.0004, "0.0 pp"),  # no "−0.0"
    ("exporter", -0.0, "0.0 pp"),
    ("log_exports", math.log(1.48), "+48%"),
    ("log_exports", 0.05, "+5.1%"),  # below 10 %: one decimal
    ("log_exports", 1.63, "+410%"),  # two significant digits
    ("exports_eur", 113768.79, "+114,000 EUR"),
    ("exports_eur", -6940.2, "−6,940 EUR"),
    ("n_export_markets", 0.1, "+0.10 markets"),
])
def test_an_effect_reads_in_its_natural_unit(outcome, value, text):
    assert effect_text(outcome, value) == text


def test_an_interval_reads_without_signs_or_unit():
    assert interval_text("exporter", -0.037, 0.121) == "−3.7 to 12.1"
    assert interval_text("exporter", math.nan, 0.121) == ""


def test_a_log_outcome_is_the_exact_percent_change_and_its_interval_transforms_the_same_way():
    assert convert("log_exports", math.log(1.25)) == pytest.approx(25.0)
    assert not outcome_unit("log_exports").linear
    assert outcome_unit("exporter").factor == 100.0


@given(outcome=st.sampled_from(OUTCOMES),
       value=st.floats(min_value=-5e6, max_value=5e6, allow_nan=False))
def test_the_spreadsheet_format_shows_the_text_the_report_writes(outcome, value):
    if outcome == "log_exports":
        value = max(min(value, 12.0), -12.0)  # percent changes of log points that fit
    shown = display_value(outcome, value)
    assert excel_text(shown, excel_format(outcome, shown)) == effect_text(outcome, value)
    # rounding the shown value again changes nothing: every place rounds the same way
    assert display_text(outcome, shown) == effect_text(outcome, value)
    bound = excel_text(shown, excel_format(outcome, shown, sign=False))
    assert bound + "" == effect_text(outcome, value, sign=False)
