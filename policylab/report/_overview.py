"""The report's first two sections, as data: the executive summary and the programme context.

Everything here is read from numbers the evaluation already holds: the monitoring indicators
(already through disclosure control), the regional effect estimates, the pooled lab-wide
effects and the data-quality table. Caveat lines are generated from those numbers by the
rules below; none is typed in by hand for a particular region.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..did.inference.few_clusters import METHOD_TEXT
from ..constants import FEW_CLUSTERS
from ..evaluation import EvaluationResult, RegionEffect, RegionInfo
from ..synthesis import PooledEffect
from ..units import convert, display_text, effect_text, interval_text, outcome_unit
from ._html_table import format_number
from ._indicators import CUMULATIVE, SUPPRESSED, period_sort_key, region_rows

__all__ = [
    "FEW_TREATED_CLUSTERS",
    "FEW_TREATED_FIRMS",
    "HEADLINE_INDICATORS",
    "MISSING_SHARE",
    "ContextRow",
    "Figure",
    "RegionSummary",
    "context_rows",
    "fmt_number",
    "fmt_p",
    "headline_outcome",
    "pooled_sentences",
    "region_summary",
    "treated_clusters",
]

#: Below this many treated clusters, cluster-robust intervals tend to be too narrow (peers.md:
#: coverage 0.68–0.90 at 3–10 treated consortia); the same threshold as the estimators' warning.
FEW_TREATED_CLUSTERS = FEW_CLUSTERS

#: Below this many treated firms a region's estimate is read as descriptive (domain notes §2.2).
FEW_TREATED_FIRMS = 30
#: A share of firm-years with unknown exports from which the summary mentions it.
MISSING_SHARE = 0.05

LATEST = "latest"


@dataclass(frozen=True)
class HeadlineIndicator:
    """Where a headline number comes from: indicator id, group and period (or "latest")."""

    key: str
    label: str
    kind: str  # tables.Column kind
    indicator_id: str
    group: str
    period: str
    spanner: str = ""


#: The monitoring numbers of the executive summary, in display order.
HEADLINE_INDICATORS: tuple[HeadlineIndicator, ...] = (
    HeadlineIndicator("smes_supported", "SMEs supported", "count", "I01", "members", CUMULATIVE),
    HeadlineIndicator("consortia_active", "Consortia active", "count", "I02A", "all", LATEST),
    HeadlineIndicator("survival_3y", "Consortia active 3 years after seed funding, %",
                      "percent", "I04K", "3_years", CUMULATIVE),
    HeadlineIndicator("self_sustainability", "Running costs paid by members, %", "percent",
                      "I05", "all", LATEST),
    HeadlineIndicator("orders_value", "New export orders via consortia, EUR", "money", "I10",
                      "all", CUMULATIVE),
    HeadlineIndicator("exporters_members", "Members", "percent", "I14", "members", LATEST,
                      spanner="Exporting firms, %"),
    HeadlineIndicator("exporters_never", "Never-members", "percent", "I14", "never_members",
                      LATEST, spanner="Exporting firms, %"),
)

def outcome_short(outcome: str) -> str:
    return outcome_unit(outcome).short


@dataclass(frozen=True)
class Figure:
    """One headline number. ``value`` is in display units (effects already scaled)."""

    key: str
    label: str
    kind: str
    period: str
    value: float
    conf_low: float = math.nan
    conf_high: float = math.nan
    flag: str = ""  # "", "suppressed", "not_available"
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RegionSummary:
    key: str
    name: str
    nuts2: str
    id: str
    href: str
    figures: tuple[Figure, ...]
    caveats: tuple[str, ...]


@dataclass(frozen=True)
class ContextRow:
    key: str
    name: str
    programme: str
    nuts2: str
    country: str
    currency: str
    period: str
    firms: float
    members: float
    never_members: float
    consortia: float
    flags: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- formatting

def fmt_number(value: float, decimals: int = 1, *, sign: bool = False) -> str:
    """A number as the report's tables write it (true minus sign, thousands separators)."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    value = float(value)
    if abs(value) < 0.5 * 10.0**-decimals:
        value = 0.0  # no "−0.0"
    return format_number(value, decimals, force_sign=sign and value != 0) or "—"


def fmt_p(p: float) -> str:
    """A p-value as "p = 0.054" or "p < 0.001"."""
    if p is None or not math.isfinite(float(p)):
        return "p = —"
    return "p < 0.001" if p < 0.001 else f"p = {fmt_number(p, 3)}"


def ci_level(alpha: float) -> str:
    return f"{100 * (1 - float(alpha)):g}%"


# --------------------------------------------------------------------------- headline numbers

def _indicator_figure(rows: pd.DataFrame, spec: HeadlineIndicator,
                      keys: tuple[Any, ...] | None = None) -> Figure:
    """``keys``: :func:`_figure_keys` of ``rows``, when the caller has them (they are the same
    for every figure of a region; selecting rows in them is cheaper than ``.loc``)."""
    ind, grp, periods, flags, values = keys if keys is not None else _figure_keys(rows)
    at = np.flatnonzero((ind == spec.indicator_id) & (grp == spec.group)).tolist()
    if spec.period == LATEST:
        years = [str(periods[j]) for j in at
                 if not pd.isna(periods[j]) and period_sort_key(periods[j])[0] == 0]
        period = max(years, key=period_sort_key) if years else None
    else:
        period = spec.period
    hit = None if period is None else next(
        (j for j in at if str(periods[j]) == str(period)), None)
    if hit is None:
        # the indicator, group or period is not in the table: not computed for this region
        return Figure(spec.key, spec.label, spec.kind, period or "", math.nan,
                      flag="not_available", source=spec.indicator_id)
    flag = "" if pd.isna(flags[hit]) else str(flags[hit])
    value = math.nan if pd.isna(values[hit]) or flag == SUPPRESSED else float(values[hit])
    return Figure(spec.key, spec.label, spec.kind, str(period), value,
                  flag=flag if flag in (SUPPRESSED, "not_available") else "",
                  source=spec.indicator_id)


def _figure_keys(rows: pd.DataFrame) -> tuple[Any, ...]:
    """Indicator ids and groups (arrays of strings), periods, flags and values of ``rows``."""
    return (rows["indicator_id"].astype(str).to_numpy(), rows["group"].astype(str).to_numpy(),
            rows["period"].tolist(), rows["flag"].tolist(), rows["value"].tolist())


def headline_outcome(result: EvaluationResult) -> str | None:
    """The outcome whose effect the summary shows: export propensity if estimated."""
    outcomes = list(dict.fromkeys(e.outcome for e in result.effects))
    configured = list(result.settings.get("outcomes", []) or [])
    for candidate in ("exporter", *configured, *outcomes):
        if candidate in outcomes:
            return candidate
    return None


def headline_effect(result: EvaluationResult, region: str, outcome: str | None) -> RegionEffect | None:
    """The region's effect on ``outcome`` by the headline estimator (else the first one)."""
    if outcome is None:
        return None
    mine = [e for e in result.effects if e.region == region and e.outcome == outcome]
    preferred = result.settings.get("headline_estimator")
    for e in mine:
        if e.result.method == preferred:
            return e
    return mine[0] if mine else None


def _effect_figure(eff: RegionEffect | None, outcome: str | None) -> Figure:
    if outcome is None:
        return Figure("effect", "Effect", "effect", "", math.nan, flag="not_available")
    u = outcome_unit(outcome)
    label = f"Effect on {u.short}, {u.unit}"
    if eff is None:
        return Figure("effect", label, "effect", "", math.nan, source=outcome)
    h = eff.result.headline
    return Figure("effect", label, "effect", "", convert(outcome, h.estimate),
                  convert(outcome, h.conf_low), convert(outcome, h.conf_high),
                  source=f"{eff.result.method}:{h.term}")


def treated_clusters(result: Any) -> int | None:
    """How many clusters with treated firms a regional estimate rests on, if known.

    Uses the estimator's own count when it reports one (``n_treated_clusters``). Otherwise,
    for estimates clustered by consortium, derives it from the firm panel's convention that
    every never-member is its own cluster (:func:`policylab.did.panel.firm_panel`):
    clusters − (firms − treated firms).
    """
    own = getattr(result, "n_treated_clusters", None)
    if own is not None:
        return int(own)
    spec = getattr(result, "spec", {}) or {}
    if spec.get("cluster") != "consortium":
        return None
    try:
        n = int(result.n_clusters) - (int(result.n_units) - int(result.n_treated))
    except (TypeError, ValueError):
        return None
    return n if 0 < n <= int(result.n_treated) else None


def _pre_join_away_from_zero(eff: RegionEffect) -> tuple[int, int]:
    """(estimates before joining whose interval excludes zero, estimates before joining);
    a reference year the estimator sets to 0 (no standard error) is not counted, an
    estimated year −1 (Callaway–Sant'Anna's varying base period) is."""
    tidy = eff.result.tidy()
    if "event_time" not in tidy:
        return 0, 0
    pre = tidy.loc[tidy["event_time"].notna()]
    pre = pre.loc[pre["event_time"].astype("int64") < 0]
    se = pre["std_error"].astype("float64")
    pre = pre.loc[(se > 0).to_numpy(dtype=bool)]
    lo, hi = pre["conf_low"].astype("float64"), pre["conf_high"].astype("float64")
    ok = lo.notna() & hi.notna()
    away = ((lo > 0) | (hi < 0)) & ok
    return int(away.sum()), int(ok.sum())


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _caveats(result: EvaluationResult, info: RegionInfo, figures: Sequence[Figure],
             eff: RegionEffect | None, outcome: str | None, dq: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    short = outcome_short(outcome) if outcome else "the outcome"
    effect = next((f for f in figures if f.key == "effect"), None)
    if outcome is not None and eff is None:
        out.append(f"No effect on {short} could be estimated for this region (see Warnings).")
    if eff is not None and effect is not None:
        ci = ci_level(eff.result.alpha) + " confidence interval"
        lo, hi = effect.conf_low, effect.conf_high
        o = outcome or ""
        if math.isfinite(lo) and math.isfinite(hi) and lo <= 0 <= hi:
            out.append(f"The effect on {short} is uncertain: its {ci} "
                       f"({display_text(o, lo, unit=False)} to {display_text(o, hi, unit=False)} "
                       f"{outcome_unit(o).unit}) includes zero, so the data are also consistent "
                       "with no effect.")
        elif not (math.isfinite(lo) and math.isfinite(hi)):
            out.append(f"The effect on {short} has no confidence interval.")
        res = eff.result
        t = treated_clusters(res)
        inference = eff.inference or {}
        if inference.get("used"):
            t = inference.get("n_treated_clusters", t)
            out.append(f"Few treated consortia: the estimate rests on "
                       f"{_plural(int(t), 'consortium', 'consortia')} with member firms, fewer "
                       f"than the {inference.get('threshold')} analytic clustered intervals "
                       f"need, so its interval and p-value come from the "
                       f"{METHOD_TEXT.get(inference.get('method'), inference.get('method'))}"
                       ", its standard error from the clustered t statistic that bootstrap "
                       "tests (see Methods).")
        elif t is not None and t < FEW_TREATED_CLUSTERS:
            out.append(f"Few treated consortia: the estimate rests on "
                       f"{_plural(t, 'consortium', 'consortia')} with member firms. With fewer "
                       f"than {FEW_TREATED_CLUSTERS}, its interval may be too narrow "
                       "(see Methods).")
        n_treated = int(res.n_treated)
        if n_treated < FEW_TREATED_FIRMS:
            out.append(f"Only {_plural(n_treated, 'member firm')} in the estimate: read it as "
                       "descriptive rather than as a reliable effect.")
        away, pre = _pre_join_away_from_zero(eff)
        if away:
            level = ci_level(res.alpha)
            out.append(f"Before joining, {away} of the {pre} yearly estimates already differ "
                       f"from zero (at {level}): members may have been on a different path "
                       "from never-members before they joined, which would bias the effect "
                       f"(see the event study; with {pre} years, one such estimate can also "
                       "occur by chance).")
        test = next((d.pretrend for d in result.diagnostics
                     if d.region == info.key and d.outcome == outcome and d.pretrend), None)
        p = (test or {}).get("p_value")
        if p is not None and math.isfinite(float(p)) and float(p) < float(res.alpha):
            out.append(f"The joint test of the years before joining rejects parallel trends "
                       f"({fmt_p(float(p))}; see Diagnostics): the effect may be partly a "
                       "difference that existed before joining.")
    hidden = [f for f in figures if f.flag == SUPPRESSED]
    if hidden:
        min_cell = result.settings.get("min_cell_firms", "the minimum number of")
        out.append(f"{_plural(len(hidden), 'headline figure')} "
                   f"{'is' if len(hidden) == 1 else 'are'} hidden to protect confidential firm "
                   f"data (fewer than {min_cell} firms).")
    missing, kept = dq.get("missing_exports"), dq.get("firm_years_kept")
    if _finite(missing) and _finite(kept) and float(kept) > 0:
        share = float(missing) / float(kept)
        if share >= MISSING_SHARE:
            out.append(f"Exports are unknown for {fmt_number(100 * share, 1)}% of firm-years "
                       "(left out of the estimates).")
    return tuple(out)


def _finite(v: Any) -> bool:
    try:
        return v is not None and not pd.isna(v) and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def data_quality_row(result: EvaluationResult, info: RegionInfo) -> dict[str, Any]:
    """The region's row of the data-quality table (matched by name or key, then NUTS-2), or {}."""
    dq = result.data_quality
    if "region" not in dq:
        return {}
    hit = dq.loc[dq["region"].astype(object).isin([info.name, info.key]).to_numpy(dtype=bool)]
    if len(hit) > 1 and "nuts2" in hit:
        hit = hit.loc[hit["nuts2"].astype(object).eq(info.nuts2).to_numpy(dtype=bool)]
    return {} if hit.empty else dict(hit.iloc[0])


def region_summary(result: EvaluationResult, table: pd.DataFrame, info: RegionInfo, *,
                   id_: str, href: str) -> RegionSummary:
    """Headline numbers and caveat lines of one region."""
    rows = region_rows(table, result, info.key)
    keys = _figure_keys(rows)
    figures = [_indicator_figure(rows, spec, keys) for spec in HEADLINE_INDICATORS]
    outcome = headline_outcome(result)
    eff = headline_effect(result, info.key, outcome)
    figures.append(_effect_figure(eff, outcome))
    caveats = _caveats(result, info, figures, eff, outcome, data_quality_row(result, info))
    return RegionSummary(info.key, info.name, info.nuts2, id_, href, tuple(figures), caveats)


# --------------------------------------------------------------------------- lab-wide effects

def pooled_sentences(p: PooledEffect, result: EvaluationResult, *,
                     estimator: str = "") -> tuple[str, ...]:
    """Plain-language sentences about one pooled effect, generated from its numbers;
    ``estimator`` (its label) is named in the first."""
    short = outcome_short(p.outcome)
    by = f" by {estimator}" if estimator else ""
    names = {r.key: r.name for r in result.regions}
    out = []
    if not p.pooled:
        out.append(f"No lab-wide effect on {short}: {p.warnings[0] if p.warnings else 'too few regions'}.")
    else:
        out.append(
            f"Lab-wide effect on {short}{by}: {effect_text(p.outcome, p.estimate)} "
            f"({ci_level(p.alpha)} CI {interval_text(p.outcome, p.conf_low, p.conf_high)}), the "
            f"average of {p.n_regions} regions' effects weighted by their precision and "
            "allowing them to differ (a random-effects average; Methods)."
        )
        # one sentence whatever the p-value: how much regions differ, with its uncertainty
        weak = f"; with {p.n_regions} regions a weak test" if p.n_regions < 10 else ""
        if float(p.tau2) > 0:
            out.append(
                f"How much the regions differ: their effects spread around it by about "
                f"{spread_text(p)} (one standard deviation), and "
                f"{fmt_number(100 * p.i2, 0)}% of the differences between the regions' "
                f"estimates is more than sampling error (test of equal effects "
                f"{fmt_p(p.q_p_value)}{weak}).")
        else:
            out.append(
                "How much the regions differ: no more than sampling error explains; the "
                "estimated spread of their effects is zero (test of equal effects "
                f"{fmt_p(p.q_p_value)}{weak}).")
    if p.excluded:
        left = "; ".join(f"{names.get(r, r)} ({reason_text(why)})" for r, why in p.excluded)
        out.append(f"Not pooled: {left}.")
    return tuple(out)


def spread_text(p: PooledEffect) -> str:
    """The between-region standard deviation τ in the outcome's display unit (for a log
    outcome, the percent change of one standard deviation, 100 (exp(τ) − 1))."""
    tau = math.sqrt(max(float(p.tau2), 0.0)) if math.isfinite(p.tau2) else math.nan
    return effect_text(p.outcome, tau, sign=False)


def reason_text(reason: str) -> str:
    """A synthesis exclusion reason with estimator names as the report labels them."""
    from .tables import METHOD_LABELS

    for name, label in METHOD_LABELS.items():
        reason = re.sub(rf"\b{re.escape(name)}\b", label, reason)
    return reason


# --------------------------------------------------------------------------- context

def context_rows(result: EvaluationResult, table: pd.DataFrame,
                 infos: Sequence[RegionInfo]) -> tuple[ContextRow, ...]:
    """Programme context of each region: who runs what, where, when, with how many firms."""
    min_cell = result.settings.get("min_cell_firms")
    out = []
    for info in infos:
        dq = data_quality_row(result, info)
        first, last = dq.get("first_year"), dq.get("last_year")
        period = f"{int(first)}–{int(last)}" if _finite(first) and _finite(last) else ""
        flags: dict[str, str] = {}
        counts = {}
        for col, keys in (("firms", ("firms", "n_firms")), ("members", ("members",)),
                          ("never_members", ("never_members",))):
            value = next((dq[k] for k in keys if k in dq and _finite(dq[k])), math.nan)
            value = float(value)
            if (isinstance(min_cell, (int, float)) and math.isfinite(value)
                    and 0 < value < min_cell):
                value, flags[col] = math.nan, SUPPRESSED  # the same small-cell rule as indicators
            counts[col] = value
        rows = region_rows(table, result, info.key)
        consortia = _indicator_figure(
            rows, HeadlineIndicator("consortia", "", "count", "I02", "all", CUMULATIVE))
        if consortia.flag:
            flags["consortia"] = consortia.flag
        out.append(ContextRow(info.key, info.name, info.programme, info.nuts2, info.country,
                              info.currency, period, counts["firms"], counts["members"],
                              counts["never_members"], consortia.value, flags))
    return tuple(out)
