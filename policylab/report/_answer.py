"""The answer first: what the first screen of the overview page says.

For each outcome, by the headline estimator: the lab-wide (pooled) effect in the outcome's
natural unit with its interval, and one compact row per region with the effect, its interval,
a plain verdict ("more firms export: likely", "uncertain: the data fit no effect", "not
published: too few firms") and reliability marks that link to the evidence: the pre-trend
test rejects, the effect is below the design's minimum detectable effect (underpowered), few
consortia hold members.

Units: a share (export propensity) in percentage points; a log outcome as the percent change
``100 (exp(b) - 1)`` (the exact transformation of log points, stated in Methods); money in EUR
with thousands separators at three significant digits; counts in their own unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..constants import FEW_CLUSTERS
from ..evaluation import EvaluationResult
from ._overview import headline_effect, treated_clusters

__all__ = ["Mark", "OutcomeAnswer", "VerdictRow", "answers", "effect_text", "region_marks"]

#: (positive phrase, negative phrase, unit label) per outcome.
_WORDS: dict[str, tuple[str, str, str]] = {
    "exporter": ("more firms export", "fewer firms export", "percentage points"),
    "log_exports": ("higher exports", "lower exports", "percent"),
    "exports_eur": ("higher exports", "lower exports", "EUR per firm-year"),
    "n_export_markets": ("more export markets", "fewer export markets", "markets per firm"),
}
_TITLES = {
    "exporter": "Firms that export",
    "log_exports": "Exports (percent change)",
    "exports_eur": "Exports in EUR",
    "n_export_markets": "Export markets",
}


def _sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def effect_text(outcome: str, value: float, *, sign: bool = True, unit: bool = True) -> str:
    """An effect on ``outcome`` in its natural unit: ``+3.3 pp``, ``+12%``, ``+114,000 EUR``,
    ``+0.12 markets`` (``unit=False``: the number alone); ``n/a`` when missing."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    v = float(value)
    if outcome == "log_exports":  # log points -> percent change
        v = 100.0 * math.expm1(v) if v < 700.0 else math.inf
    if not math.isfinite(v):
        return "off the scale"
    if abs(v) >= 1e9:  # a degenerate fit's bound: keep it readable
        return (("+" if sign and v > 0 else "") + f"{v:.1e}").replace("-", "−") + \
            ({"exporter": " pp", "log_exports": "%", "exports_eur": " EUR"}.get(outcome, "")
             if unit else "")
    plus = "+" if sign and v > 0 else ""
    if outcome == "exporter":
        text, suffix = f"{100 * v:.1f}", " pp"
    elif outcome == "log_exports":
        text, suffix = (f"{_sig(v, 2):,.0f}" if abs(v) >= 10 else f"{v:.1f}"), "%"
    elif outcome == "exports_eur":
        text, suffix = f"{_sig(v):,.0f}", " EUR"
    elif outcome == "n_export_markets":
        text, suffix = f"{_sig(v, 2):g}", " markets"
    else:
        text, suffix = f"{_sig(v):g}", ""
    return (plus + text + (suffix if unit else "")).replace("-", "−")


def _interval(outcome: str, lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return (f"{effect_text(outcome, lo, sign=False, unit=False)} to "
            f"{effect_text(outcome, hi, sign=False, unit=False)}")


@dataclass(frozen=True)
class Mark:
    """A reliability mark beside an effect: short text, the link to its evidence, a tooltip."""

    text: str
    href: str
    title: str


@dataclass(frozen=True)
class VerdictRow:
    region: str
    href: str
    effect: str
    interval: str
    verdict: str
    marks: tuple[Mark, ...]
    region_marks: tuple[Mark, ...] = ()


@dataclass(frozen=True)
class OutcomeAnswer:
    """One outcome's column: the lab-wide effect (``lab``, None without a synthesis) and one
    row per region, in the lab's order."""

    outcome: str
    title: str
    unit: str
    lab: VerdictRow | None
    rows: tuple[VerdictRow, ...]


def _verdict(outcome: str, est: float, lo: float, hi: float) -> str:
    up, down, _ = _WORDS.get(outcome, ("a higher outcome", "a lower outcome", ""))
    if not all(math.isfinite(x) for x in (est, lo, hi)):
        return "not published: too few firms" if not math.isfinite(est) else "uncertain"
    if lo > 0:
        return f"{up}: likely"
    if hi < 0:
        return f"{down}: likely"
    return "uncertain: the data fit no effect"


def _diagnostics(result: EvaluationResult, region: str, outcome: str) -> Any:
    return next((d for d in result.diagnostics if d.region == region and d.outcome == outcome),
                None)


def _marks(result: EvaluationResult, eff: Any, region: str, outcome: str,
           root: str) -> tuple[Mark, ...]:
    out: list[Mark] = []
    alpha = float(result.settings.get("alpha", 0.05) or 0.05)
    diag = _diagnostics(result, region, outcome)
    pre = (diag.pretrend or {}) if diag is not None else {}
    p = pre.get("p_value")
    if isinstance(p, (int, float)) and math.isfinite(p) and p < alpha:
        out.append(Mark("pre-trend", f"{root}#diagnostics",
                        f"members' outcomes already moved apart before joining (pre-trend test "
                        f"p = {p:.2g}): the effect may be biased"))
    power = (diag.power or {}) if diag is not None else {}
    mde = power.get("mde")
    est = eff.result.headline.estimate if eff is not None else math.nan
    if isinstance(mde, (int, float)) and math.isfinite(mde) and math.isfinite(est) \
            and abs(est) < mde:
        out.append(Mark("underpowered", f"{root}#diagnostics",
                        f"the effect is smaller than the smallest effect this design detects "
                        f"reliably ({effect_text(outcome, mde, sign=False)})"))
    return tuple(out)


def region_marks(result: EvaluationResult, region: str, outcomes: Sequence[str],
                 headline: str | None, root: str = "") -> tuple[Mark, ...]:
    """Marks of a region as a whole: few consortia hold members (the same for every outcome)."""
    for outcome in outcomes:
        eff = headline_effect(result, region, outcome)
        g = treated_clusters(eff.result) if eff is not None else None
        if g is not None:
            if g < FEW_CLUSTERS:
                return (Mark(f"{g} consortia", f"{root}#methods",
                             f"only {g} consortia hold members (fewer than {FEW_CLUSTERS}): the "
                             "intervals come from the wild cluster bootstrap and are wide"),)
            return ()
    return ()


def answers(result: EvaluationResult, paths: dict[str, str], headline: str | None,
            root: str = "") -> tuple[OutcomeAnswer, ...]:
    """One :class:`OutcomeAnswer` per estimated outcome (the configured order)."""
    outcomes: Sequence[str] = list(dict.fromkeys(
        [*(result.settings.get("outcomes") or []), *(e.outcome for e in result.effects)]))
    pooled = {p.outcome: p for p in (result.synthesis.pooled if result.synthesis else ())
              if p.estimator == headline}
    marks_of_region = [region_marks(result, info.key, outcomes, headline, root)
                       for info in result.regions]
    out = []
    for outcome in outcomes:
        if not any(e.outcome == outcome for e in result.effects):
            continue
        p = pooled.get(outcome)
        lab = None
        if p is not None and math.isfinite(p.estimate):
            lab = VerdictRow("Across the lab", f"{root}#impact", effect_text(outcome, p.estimate),
                             _interval(outcome, p.conf_low, p.conf_high),
                             _verdict(outcome, p.estimate, p.conf_low, p.conf_high), ())
        rows = []
        for info, rmarks in zip(result.regions, marks_of_region, strict=True):
            eff = headline_effect(result, info.key, outcome)
            h = eff.result.headline if eff is not None else None
            est = h.estimate if h is not None else math.nan
            lo = h.conf_low if h is not None else math.nan
            hi = h.conf_high if h is not None else math.nan
            rows.append(VerdictRow(
                region=info.name, href=f"{root}{paths[info.key]}",
                effect=effect_text(outcome, est), interval=_interval(outcome, lo, hi),
                verdict=_verdict(outcome, est, lo, hi),
                marks=_marks(result, eff, info.key, outcome, root),
                region_marks=rmarks))
        unit = _WORDS.get(outcome, ("", "", ""))[2]
        out.append(OutcomeAnswer(outcome, _TITLES.get(outcome, outcome), unit, lab, tuple(rows)))
    return tuple(out)
