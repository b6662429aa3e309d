"""Do the estimators agree? The headline effect of every configured estimator side by side,
per region and outcome, and where two of them disagree beyond their intervals.

Two estimates disagree when their intervals do not overlap. Under staggered joining with
effects that grow over time or differ by cohort, two-way fixed-effects estimators (TWFE, the
TWFE event study) weight some comparisons negatively and can differ from the
heterogeneity-robust ones (Callaway-Sant'Anna, Sun-Abraham, imputation, extended TWFE); the
Bacon decomposition under Diagnostics shows which comparisons drive TWFE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..units import effect_text

__all__ = ["Disagreement", "MEANING", "disagreements"]

#: What a disagreement means, said once where disagreements are listed.
MEANING = ("When estimators disagree beyond their intervals, the effect probably differs by "
           "cohort or grows over time: two-way fixed-effects estimators (TWFE, the TWFE event "
           "study) then weight some comparisons negatively, while Callaway-Sant'Anna, "
           "Sun-Abraham, imputation and extended TWFE do not; the Bacon decomposition under "
           "Diagnostics shows which comparisons drive TWFE.")


@dataclass(frozen=True)
class Disagreement:
    """Two estimators of one region and outcome whose intervals do not overlap."""

    region: str
    outcome: str
    first: str
    second: str
    first_text: str
    second_text: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _finite(*values: Any) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def disagreements(result: Any) -> tuple[Disagreement, ...]:
    """Every pair of estimators whose headline intervals do not overlap, in the order of the
    regions, outcomes and configured methods."""
    order = list(result.settings.get("methods") or [])
    labels = result.settings.get("method_labels", {}) or {}
    by: dict[tuple[str, str], list[Any]] = {}
    for e in result.effects:
        by.setdefault((e.region, e.outcome), []).append(e)
    out = []
    for info in result.regions:
        for outcome in result.settings.get("outcomes") or []:
            effs = sorted(by.get((info.key, outcome), []),
                          key=lambda e: order.index(e.result.method)
                          if e.result.method in order else len(order))
            for a, b in combinations(effs, 2):
                ha, hb = a.result.headline, b.result.headline
                if not _finite(ha.conf_low, ha.conf_high, hb.conf_low, hb.conf_high):
                    continue
                if ha.conf_low > hb.conf_high or hb.conf_low > ha.conf_high:
                    out.append(Disagreement(
                        info.name, outcome, labels.get(a.result.method, a.result.method),
                        labels.get(b.result.method, b.result.method),
                        effect_text(outcome, ha.estimate), effect_text(outcome, hb.estimate)))
    return tuple(out)
