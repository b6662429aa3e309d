"""Goodman-Bacon (2021) decomposition of the static TWFE coefficient."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DesignError
from ..core.checks import (
    as_spec_value,
    binary_column,
    check_columns,
    check_frame,
    panel_inputs,
)
from ..results import BaconComparison, BaconResult
from ..estimators.static_twfe import twfe

EARLIER_VS_LATER = "Earlier vs Later Treated"
LATER_VS_EARLIER = "Later vs Earlier Treated"
TREATED_VS_UNTREATED = "Treated vs Untreated"
LATER_VS_ALWAYS = "Later vs Always Treated"


@dataclass(frozen=True)
class BaconSpec:
    outcome: Hashable
    unit: Hashable
    time: Hashable
    treatment: Hashable

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": "bacon",
            "outcome": as_spec_value(self.outcome),
            "unit": as_spec_value(self.unit),
            "time": as_spec_value(self.time),
            "treatment": as_spec_value(self.treatment),
        }


def bacon(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    treatment: Hashable,
) -> BaconResult:
    """Goodman-Bacon (2021) decomposition of ``y_it = a_i + l_t + b * D_it + e_it``.

    With staggered adoption the TWFE coefficient ``b`` is a weighted average of every 2x2
    DiD between timing groups (firms first treated in the same period):

    * ``"Treated vs Untreated"``: a timing group against the never treated, all periods;
    * ``"Earlier vs Later Treated"``: an earlier group against a later one, before the
      later one is treated;
    * ``"Later vs Earlier Treated"``: a later group against an earlier, *already treated*
      one, after the earlier one is treated (the "forbidden" comparison that biases TWFE
      when effects change over time);
    * ``"Later vs Always Treated"``: a group against firms treated from the first period.

    The weights (Goodman-Bacon 2021, Theorem 1) grow with the groups' sizes and the
    variance of treatment within each 2x2; they sum to 1, and ``sum(weight * estimate)``
    equals the TWFE coefficient (``result.estimate == result.twfe.headline.estimate``).

    Parameters
    ----------
    data : DataFrame
        A balanced panel: every firm observed, with an outcome, in every period. Not
        modified.
    outcome : column name
        Numeric outcome.
    unit, time : column names
        Firm identifier and period.
    treatment : column name
        ``D_it`` in {0, 1}, absorbing: once 1 for a firm, 1 in every later period.

    Returns
    -------
    BaconResult
        ``comparisons`` (``tidy()``: ``type, treated, control, estimate, weight``),
        ``summary()`` by type, and ``twfe``, the :func:`twfe` fit (clustered by firm)
        whose coefficient is decomposed, with its standard error.

    Raises
    ------
    DesignError
        Unbalanced panel, missing outcomes, treatment that switches off, or no variation
        in treatment timing to decompose.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": [1] * 10 + [2] * 10 + [3] * 10, "t": list(range(1, 11)) * 3})
    >>> start = df["id"].map({1: 99, 2: 5, 3: 8})          # unit 1 is never treated
    >>> df["D"] = (df["t"] >= start).astype(int)
    >>> df["Y"] = df["D"] * df["id"].map({1: 0, 2: 2, 3: 4})  # effects 2 and 4
    >>> res = bacon(df, outcome="Y", unit="id", time="t", treatment="D")
    >>> print(res.summary().round(3).to_string(index=False))
                        type  weight  estimate
        Treated vs Untreated   0.682     2.933
    Earlier vs Later Treated   0.182     2.000
    Later vs Earlier Treated   0.136     4.000
    >>> round(res.estimate, 3), round(res.twfe.headline.estimate, 3)
    (2.909, 2.909)
    """
    spec = BaconSpec(outcome=outcome, unit=unit, time=time, treatment=treatment)
    data = check_frame(data)
    check_columns(data, {"outcome": outcome, "unit": unit, "time": time, "treatment": treatment})
    panel = panel_inputs(
        data, outcome=outcome, unit=unit, time=time, cluster=None, whole_time=False
    )
    if panel.outcome_rows.n_dropped:
        raise DesignError(
            f"outcome {outcome!r} is missing in {panel.outcome_rows.n_dropped} rows: the "
            "Goodman-Bacon decomposition needs a balanced panel (every firm in every period)"
        )
    d = binary_column(data, treatment, "treatment")
    u_codes, u_levels = pd.factorize(panel.unit_codes, sort=True)
    t_codes, t_levels = pd.factorize(panel.time, sort=True)
    n_u, n_t = len(u_levels), len(t_levels)
    if n_t < 2:
        raise DesignError("a decomposition needs at least two periods")
    if u_codes.size != n_u * n_t:
        missing = n_u * n_t - u_codes.size
        raise DesignError(
            f"unbalanced panel: {missing} firm-period{'s' if missing > 1 else ''} missing "
            f"out of {n_u} firms x {n_t} periods; the Goodman-Bacon decomposition needs every "
            "firm in every period (use sun_abraham, etwfe or att_gt for unbalanced panels)"
        )
    y_w = np.empty((n_u, n_t))
    d_w = np.empty((n_u, n_t))
    y_w[u_codes, t_codes] = panel.y
    d_w[u_codes, t_codes] = d
    switch_off = np.any(np.diff(d_w, axis=1) < 0, axis=1)
    if switch_off.any():
        raise DesignError(
            f"treatment {treatment!r} switches from 1 back to 0 for {int(switch_off.sum())} "
            "firm(s): the decomposition needs an absorbing treatment (once treated, "
            "always treated)"
        )
    # Timing group of each firm: index of its first treated period; n_t = never.
    first = np.where(d_w.any(axis=1), np.argmax(d_w == 1, axis=1), n_t)
    groups, sizes = np.unique(first, return_counts=True)
    timing = groups[groups < n_t]
    if timing.size == 0:
        raise DesignError(f"treatment {treatment!r} is 0 everywhere: nothing to decompose")

    means = np.vstack([y_w[first == k].mean(axis=0) for k in groups])  # groups x periods
    share = dict(zip(groups.tolist(), (sizes / n_u).tolist(), strict=True))
    dbar = {int(k): (n_t - k) / n_t for k in groups}  # share of periods treated
    row = {int(k): i for i, k in enumerate(groups)}
    periods = np.asarray(t_levels)

    def did(k: int, c: int, start: int, stop: int, cut: int) -> float:
        """2x2 of group k vs group c on periods [start, stop), post from ``cut``."""
        yk, yc = means[row[k], start:stop], means[row[c], start:stop]
        post = np.arange(start, stop) >= cut
        return float((yk[post].mean() - yk[~post].mean()) - (yc[post].mean() - yc[~post].mean()))

    comps: list[tuple[str, int, int | None, float, float]] = []
    never = n_t in share
    for k in (int(x) for x in timing):
        if never and 0 < k:
            n_k, n_u_ = share[k], share[n_t]
            nku = n_k / (n_k + n_u_)
            s = (n_k + n_u_) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k])
            comps.append((TREATED_VS_UNTREATED, k, None, did(k, n_t, 0, n_t, k), s))
    for i, k in enumerate(int(x) for x in timing):
        for l_ in (int(x) for x in timing[i + 1 :]):
            n_k, n_l = share[k], share[l_]
            nkl = n_k / (n_k + n_l)
            dk, dl = dbar[k], dbar[l_]
            if k > 0:  # earlier k vs later l, before l is treated
                s_e = (
                    ((n_k + n_l) * (1 - dl)) ** 2
                    * nkl
                    * (1 - nkl)
                    * (dk - dl)
                    / (1 - dl)
                    * (1 - dk)
                    / (1 - dl)
                )
                comps.append((EARLIER_VS_LATER, k, l_, did(k, l_, 0, l_, k), s_e))
            # later l vs earlier (already treated) k, from k's first treated period on
            s_l = ((n_k + n_l) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * (dk - dl) / dk
            kind = LATER_VS_ALWAYS if k == 0 else LATER_VS_EARLIER
            comps.append((kind, l_, k, did(l_, k, k, n_t, l_), s_l))

    total = sum(c[4] for c in comps)
    if total <= 0:
        raise DesignError("no 2x2 comparison has variation in treatment: nothing to decompose")
    comparisons = tuple(
        BaconComparison(
            type=kind,
            treated=_period(periods, k),
            control=None if c is None else _period(periods, c),
            estimate=est,
            weight=s / total,
        )
        for kind, k, c, est, s in comps
        if s > 0
    )
    fit = twfe(data, outcome=outcome, unit=unit, time=time, treatment=treatment)
    notes = list(fit.warnings)
    if not never:
        notes.append(
            "no never-treated firms: every comparison uses differently timed treated firms"
        )
    return BaconResult(
        outcome=str(outcome),
        comparisons=comparisons,
        twfe=fit,
        spec=spec.to_dict(),
        warnings=tuple(notes),
    )


def _period(periods: np.ndarray, k: int) -> int:
    v = periods[k]
    return int(v) if float(v).is_integer() else v  # type: ignore[return-value]
