"""Comparing with numbers printed in a reference's documentation: equal to the printed digits."""

from __future__ import annotations


def half_unit(printed: str) -> float:
    """Half a unit of the last printed digit: '-0.0395' -> 5e-5."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0**-decimals


def close(value: float, printed: str) -> bool:
    """``value`` rounds to ``printed`` (half a unit of its last digit, with float slack)."""
    return abs(value - float(printed)) <= half_unit(printed) * (1 + 1e-9)
