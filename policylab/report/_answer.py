"""The answer first: what the first screen of the overview page says.

For each outcome, by the headline estimator: the lab-wide (pooled) effect in the outcome's
natural unit with its interval, and one compact row per region with the effect, its interval,
a plain verdict ("more firms export: likely", "uncertain: the data fit no effect", "not
published: too few firms") and reliability marks that link to the evidence: the pre-trend
test rejects, the effect is below the design's minimum detectable effect (underpowered), few
consortia hold members.

Units come from :mod:`policylab.units`, as everywhere else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..constants import FEW_CLUSTERS
from ..evaluation import EvaluationResult
from ..units import effect_text, interval_text, outcome_unit
from ._overview import headline_effect, treated_clusters

__all__ = ["MARKS_NOTE", "Mark", "OutcomeAnswer", "VerdictRow", "answers", "effect_marks", "effect_text",
           "marked", "region_marks"]

def _interval(outcome: str, lo: float, hi: float) -> str:
    return interval_text(outcome, lo, hi)


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
    u = outcome_unit(outcome)
    up, down = u.up, u.down
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


def effect_marks(result: EvaluationResult, region: str, outcome: str,
                 root: str = "") -> tuple[Mark, ...]:
    """The marks of a region's headline effect on ``outcome``: pre-trend, underpowered."""
    return _marks(result, headline_effect(result, region, outcome), region, outcome, root)


def pretrend_elsewhere(result: EvaluationResult, region: str, outcome: str,
                       root: str = "") -> tuple[Mark, ...]:
    """A mark when the pre-trend test fails for another outcome of the region: a number
    resting on ``outcome`` (the cost per EUR of additional exports) shares its doubt."""
    others = [o for o in dict.fromkeys(e.outcome for e in result.effects if e.region == region)
              if o != outcome and any(m.text == "pre-trend"
                                      for m in effect_marks(result, region, o, root))]
    if not others:
        return ()
    names = ", ".join(outcome_unit(o).short for o in others)
    return (Mark(f"pre-trend on {names}", f"{root}#diagnostics",
                 f"the pre-trend test fails for {names}: members may have been on a different "
                 "path before joining, which casts doubt on this region's export effects"),)


#: The legend of the marks wherever a table or chart shows them.
MARKS_NOTE = ("Marks beside a region: [pre-trend] the test of the years before joining "
              "rejects parallel trends, so the effect may be biased (Diagnostics); "
              "[underpowered] the effect is smaller than the smallest effect the design "
              "detects reliably; [pre-trend on …] the test fails for another export outcome of "
              "the region.")


def marked(name: str, marks: Sequence[Mark]) -> str:
    """``name`` with its marks in brackets, as tables and chart labels show them:
    ``Kent [pre-trend]``."""
    return name + "".join(f" [{m.text}]" for m in marks)


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
        u = outcome_unit(outcome)
        out.append(OutcomeAnswer(outcome, u.title, u.unit, lab, tuple(rows)))
    return tuple(out)
