"""One set of units for every effect policylab shows: the report, the CLI, the spreadsheet.

An estimator returns an effect on the outcome's own scale: a share of firms (0–1) for
``exporter``, log points for ``log_exports``, EUR per firm-year for ``exports_eur``, markets
per firm for ``n_export_markets``. A reader sees it in the outcome's natural unit:

- a share in **percentage points** (``0.033`` → ``+3.3 pp``), one decimal;
- a log outcome as the **percent change** ``100 (exp(b) − 1)`` (``0.39`` → ``+48%``), two
  significant digits from 10 % up, one decimal below; the transformation is exact, so an
  interval's ends transform the same way (its standard error stays in log points);
- money in **EUR** with thousands separators at three significant digits
  (``113768.79`` → ``+114,000 EUR``);
- counts (markets) at two significant digits.

:func:`display_value` does the conversion and the rounding, :func:`effect_text` writes the
text, and :func:`excel_format` the spreadsheet number format that shows the same text, so the
HTML, the terminal and ``indicators.xlsx`` agree digit for digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "OutcomeUnit",
    "convert",
    "display_text",
    "display_value",
    "effect_text",
    "excel_format",
    "interval_text",
    "outcome_unit",
    "rounded",
]

MINUS = "\u2212"


@dataclass(frozen=True)
class OutcomeUnit:
    """How effects on one outcome are named and shown.

    ``title``: the outcome as a heading; ``short``: as a phrase ("export propensity");
    ``unit``: the display unit in words; ``symbol``: its short form after a number;
    ``up``/``down``: what a positive/negative effect means for a programme;
    ``factor``: display units per model unit for a linear outcome (``None``: the log
    outcome's percent change, not linear).
    """

    outcome: str
    title: str
    short: str
    unit: str
    symbol: str
    up: str
    down: str
    factor: float | None = 1.0
    significant: int = 3

    @property
    def linear(self) -> bool:
        return self.factor is not None


_UNITS: dict[str, OutcomeUnit] = {u.outcome: u for u in (
    OutcomeUnit("exporter", "Firms that export", "export propensity", "percentage points",
                " pp", "more firms export", "fewer firms export", factor=100.0),
    OutcomeUnit("log_exports", "Exports", "exports (log of 1 + EUR)", "percent", "%",
                "higher exports", "lower exports", factor=None, significant=2),
    OutcomeUnit("exports_eur", "Exports in EUR", "exports in EUR", "EUR per firm-year",
                " EUR", "higher exports", "lower exports"),
    OutcomeUnit("n_export_markets", "Export markets", "the number of export markets",
                "markets per firm", " markets", "more export markets", "fewer export markets",
                significant=2),
)}


def outcome_unit(outcome: str) -> OutcomeUnit:
    """The unit of ``outcome``; an outcome policylab does not know keeps its own scale."""
    known = _UNITS.get(outcome)
    if known is not None:
        return known
    words = outcome.replace("_", " ")
    return OutcomeUnit(outcome, words.capitalize(), words, "units", "", f"a higher {words}",
                       f"a lower {words}")


def _decimals(outcome: str, shown: float) -> int:
    """Decimals of a value already in display units and rounded by :func:`display_value`."""
    if outcome == "exporter":
        return 1
    if outcome == "log_exports":
        return 0 if abs(shown) >= 10 else 1
    if shown == 0 or not math.isfinite(shown):
        return 0
    sig = outcome_unit(outcome).significant
    return max(0, sig - 1 - int(math.floor(math.log10(abs(shown)))))


def convert(outcome: str, value: float | None) -> float:
    """``value`` (model scale) in display units, unrounded (a chart's coordinates)."""
    if value is None or not math.isfinite(float(value)):
        return math.nan
    return _raw_display(outcome, float(value))


def _raw_display(outcome: str, value: float) -> float:
    u = outcome_unit(outcome)
    if u.factor is not None:
        return value * u.factor
    return 100.0 * math.expm1(value) if value < 700.0 else math.inf


def display_value(outcome: str, value: float | None) -> float:
    """``value`` (model scale) in display units, rounded as it is shown; NaN when missing."""
    return rounded(outcome, convert(outcome, value))


def rounded(outcome: str, shown: float) -> float:
    """A value in display units (from :func:`convert`) rounded as it is shown."""
    v = shown
    if not math.isfinite(v) or v == 0:
        return v + 0.0  # no "−0"
    if outcome == "exporter" or (outcome == "log_exports" and abs(v) < 10):
        return round(v, 1) + 0.0  # no "−0"
    sig = outcome_unit(outcome).significant
    return round(v, sig - 1 - int(math.floor(math.log10(abs(v))))) + 0.0


def effect_text(outcome: str, value: float | None, *, sign: bool = True,
                unit: bool = True) -> str:
    """An effect on ``outcome`` (model scale) in its natural unit: ``+3.3 pp``, ``+48%``,
    ``+114,000 EUR``, ``+0.12 markets`` (``unit=False``: the number alone; ``sign=False``: no
    plus sign); ``n/a`` when missing, ``off the scale`` when the percent change overflows."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return display_text(outcome, display_value(outcome, float(value)), sign=sign, unit=unit)


def display_text(outcome: str, shown: float, *, sign: bool = True, unit: bool = True) -> str:
    """:func:`effect_text` of a value already in display units (rounded here if it is not)."""
    if math.isnan(shown):
        return "n/a"
    if not math.isfinite(shown):
        return "off the scale"
    shown = rounded(outcome, shown)
    symbol = outcome_unit(outcome).symbol if unit else ""
    plus = "+" if sign and shown > 0 else ""
    if abs(shown) >= 1e9:  # a degenerate fit's bound: keep it readable
        return (plus + f"{shown:.1e}").replace("-", MINUS) + symbol
    return (plus + f"{shown:,.{_decimals(outcome, shown)}f}").replace("-", MINUS) + symbol


def interval_text(outcome: str, low: float | None, high: float | None) -> str:
    """An interval's ends in display units, ``−3.7 to 12.1`` (no unit); empty when missing."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return (f"{effect_text(outcome, low, sign=False, unit=False)} to "
            f"{effect_text(outcome, high, sign=False, unit=False)}")


def excel_format(outcome: str, shown: float, *, sign: bool = True) -> str:
    """The spreadsheet number format under which :func:`display_value`'s ``shown`` reads as
    :func:`effect_text` writes it (``+#,##0.0" pp"``)."""
    d = _decimals(outcome, shown) if math.isfinite(shown) else 0
    body = "#,##0" + ("." + "0" * d if d else "")
    symbol = outcome_unit(outcome).symbol
    tail = f'"{symbol}"' if symbol else ""
    positive = ('"+"' if sign else "") + body + tail
    return f'{positive};"{MINUS}"{body}{tail};{body}{tail}'
