"""The diagnostics section: can the impact estimates be trusted?

Three checks, each from the result: the pre-trend test of the headline estimator
(``EvaluationResult.diagnostics[*].pretrend``), the Goodman-Bacon decomposition of the static
TWFE estimate (``...bacon``), and the balance of members and never-members before joining
(a ``balance`` table on the result when the pipeline provides one; otherwise the comparison
the indicator table allows: exporter share and export intensity of the firms that joined
later, in the first year of data, against never-members).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..evaluation import RegionDiagnostics
from . import tables
from ._blocks import Block, SectionBody, cell
from ._indicators import SUPPRESSED, period_sort_key
from ._monitoring import Ctx
from ._overview import FEW_TREATED_CLUSTERS, ci_level, headline_effect, treated_clusters

__all__ = ["BACON_TYPES", "BALANCE_VARIABLES", "diagnostics", "pretrend_reading", "smd"]

#: Bacon comparison types as the report names them, and whether they are "forbidden" (an
#: already-treated group serves as the control).
BACON_TYPES: dict[str, tuple[str, bool]] = {
    "Treated vs Untreated": ("Joiners vs never-members", False),
    "Earlier vs Later Treated": ("Earlier vs later joiners, before the later join", False),
    "Later vs Earlier Treated": ("Later vs earlier joiners, already members (forbidden)", True),
    "Later vs Always Treated": ("Joiners vs firms members throughout (forbidden)", True),
}

#: Variables of a ``balance`` table: label and table kind.
BALANCE_VARIABLES: dict[str, tuple[str, str]] = {
    "exports_eur": ("Exports, EUR", "eur"),
    "turnover_eur": ("Turnover, EUR", "eur"),
    "exporter": ("Exporting firms, share", "ratio"),
    "employees": ("Employees", "number"),
}

#: |SMD| at or above this is commonly read as imbalance.
SMD_THRESHOLD = 0.1


def smd(mean_1: float, sd_1: float, mean_0: float, sd_0: float) -> float:
    """Standardised mean difference (mean_1 − mean_0) / sqrt((sd_1² + sd_0²) / 2)."""
    pooled = math.sqrt((sd_1 ** 2 + sd_0 ** 2) / 2.0)
    if not (math.isfinite(pooled) and pooled > 0):
        return math.nan
    return (mean_1 - mean_0) / pooled


def pretrend_reading(p: float, alpha: float) -> str:
    """A plain-language reading of a pre-trend test's p-value."""
    if p is None or not math.isfinite(p):
        return "not computed"
    if p < alpha:
        return "differed before joining: parallel trends doubtful, read the effect with caution"
    if p < 2 * alpha:
        return "a weak sign of a difference before joining"
    return "no evidence of a difference before joining (the test has little power)"


def _minus(n: int) -> str:
    return f"−{-n}" if n < 0 else str(n)


def _outcome_label(ctx: Ctx, outcome: str) -> str:
    return (ctx.result.settings.get("outcome_labels", {}) or {}).get(outcome, outcome)


def _est_kind(values: Sequence[float]) -> tuple[str, int]:
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    big = max(finite, default=0.0)
    if big >= 1000:
        return "eur", 0
    if big >= 100:
        return "number", 1
    return "ratio", 3


def _diag(ctx: Ctx) -> dict[tuple[str, str], RegionDiagnostics]:
    return {(d.region, d.outcome): d for d in ctx.result.diagnostics}


def _outcomes(ctx: Ctx) -> list[str]:
    configured = list(ctx.result.settings.get("outcomes", []) or [])
    seen = [d.outcome for d in ctx.result.diagnostics]
    return list(dict.fromkeys([o for o in configured if o in seen] + seen))


# --------------------------------------------------------------------------- pre-trends

def _pretrend(ctx: Ctx) -> Block:
    result = ctx.result
    alpha = float(result.settings.get("alpha", 0.05))
    headline = result.settings.get("headline_estimator")
    labels = result.settings.get("method_labels", {}) or {}
    est_label = labels.get(headline, headline or "the headline estimator")
    diags = _diag(ctx)
    units = ctx.units(with_lab=False)
    records: list[dict[str, Any]] = []
    bold: list[int] = []
    few_counts: list[int] = []
    notes: list[str] = []
    terms: set[str] = set()
    n_average = n_joint = 0
    for outcome in _outcomes(ctx):
        for u in units:
            d = diags.get((u.key, outcome))
            if d is None:
                continue
            eff = headline_effect(result, u.key, outcome)
            few = treated_clusters(eff.result) if eff is not None else None
            pt = d.pretrend or {}
            p = pt.get("p_value")
            p = float(p) if p is not None else math.nan
            reading = pretrend_reading(p, alpha)
            if not d.pretrend:
                why = "; ".join(n for n in d.notes if "pre-trend" in n) or "no pre-joining estimates"
                reading = f"not computed: {why}"
            if math.isfinite(p) and p < alpha:
                bold.append(len(records))
            if few is not None:
                few_counts.append(few)
            terms |= {str(t) for t in pt.get("terms", [])}
            average = pt.get("test") == "pretrend_average"
            n_average += average
            n_joint += bool(pt) and not average
            reference = ""
            if pt:
                reference = (f"average, t({int(pt['df'])})" if average
                             else f"joint, χ²({int(pt['df'])})")
            records.append({
                "label": u.name if ctx.index else _outcome_label(ctx, outcome),
                "group": _outcome_label(ctx, outcome),
                "statistic": pt.get("statistic", math.nan), "test": reference,
                "p_value": p, "n_pre": float(len(pt.get("terms", []))) if pt else math.nan,
                "few": float(few) if few is not None else math.nan, "reading": reading,
            })
    block_id = "diagnostics-pretrend"
    title = "Pre-trend test"
    intro = (f"Before joining, members and never-members should have moved alike (parallel "
             f"trends). The test asks whether the estimates of the headline estimator, "
             f"{est_label}, for the years before joining are zero: a small p-value says they "
             "are not, so the measured effect may partly be a difference that existed already.",)
    if not records:
        return Block(block_id, title, intro, empty="No pre-trend test was computed.")
    times = sorted({int(t.split("::")[-1]) for t in terms if "::" in t})
    span = (f" (event times {_minus(times[0])} to {_minus(times[-1])})" if times else "")
    kinds = []
    if n_joint:
        kinds.append("Joint: Wald test that every pre-joining estimate is zero, statistic "
                     "chi-squared with df = their number.")
    if n_average:
        kinds.append("Average: t-test that their average is zero, against t with df = treated "
                     "consortia − 1, used where fewer than the few-cluster threshold of "
                     "consortia hold members: there the joint test rejects a true null far too "
                     "often (46–63% of the time with 6 consortia in simulation), the average "
                     "test about as often as it should (3–7%), but it finds a real pre-trend "
                     "less often. It catches a steady pre-joining trend, not estimates that "
                     "cancel out.")
    notes.append(f"Tested: the pre-joining estimates{span}. With a varying base period each of "
                 "them compares a year with the year before. " + " ".join(kinds) +
                 f" Bold: p-value below {alpha:g}. Treated consortia: consortia with member "
                 "firms in the estimate.")
    columns = [tables.Column("statistic", "Statistic", "number"),
               tables.Column("test", "Test", "text"),
               tables.Column("p_value", "p-value", "pvalue"),
               tables.Column("few", "Treated consortia", "count"),
               tables.Column("reading", "Reading", "text")]
    table = tables.figures_table(pd.DataFrame(records), table_id=f"{block_id}-table",
                                 columns=columns, notes=notes, min_cell_firms=ctx.min_cell,
                                 groupname="group" if ctx.index else None, bold_rows=bold)
    warnings = []
    if few_counts and min(few_counts) < FEW_TREATED_CLUSTERS:
        lo, hi = min(few_counts), max(few_counts)
        n = f"{lo}" if lo == hi else f"{lo} to {hi}"
        n = f"{n} per region and outcome" if ctx.index else f"{n} in this region"
        warnings.append(
            f"Few treated consortia ({n}, against the {FEW_TREATED_CLUSTERS} or "
            "more that clustered standard errors need): "
            + ("the average test is used where the joint one would raise false alarms, but "
               "with so few consortia every test has little power. " if n_average else
               "clustered tests like this one reject too often, so a small p-value may be a "
               "false alarm. ")
            + f"A p-value above {alpha:g} is no proof of parallel trends: read the test with "
            "the event studies and the sensitivity analysis.")
    return Block(block_id, title, intro, None, table, (), tuple(warnings))


# --------------------------------------------------------------------------- power, sensitivity

def _power_reading(power: dict[str, Any]) -> str:
    warning = power.get("warning")
    if warning:
        return str(warning).split(":", 1)[0].strip()
    if power.get("plausible") is None:
        return "no plausible range for this outcome"
    return "adequately powered for the plausible range"


def _power(ctx: Ctx) -> Block:
    """Minimum detectable effect of each design and the HonestDiD sensitivity of the event
    study, where the result carries them."""
    result = ctx.result
    diags = _diag(ctx)
    units = ctx.units(with_lab=False)
    block_id = "diagnostics-power"
    title = "Power and sensitivity"
    alpha = float(result.settings.get("alpha", 0.05))
    intro = ("Could the design have found an effect of a plausible size, and how much may "
             "parallel trends fail before the effect is lost? The minimum detectable effect "
             "(MDE) is the smallest true effect the design finds with 80% power at a "
             f"{ci_level(alpha)} level, worked out from the design and the pre-joining data "
             "before any estimate. The sensitivity analysis (Rambachan and Roth, relative "
             "magnitudes) widens the event study's average post-joining effect for trend "
             "violations up to M̄ times the largest one seen before joining; the breakdown M̄ "
             "is the largest for which the interval still excludes zero. The smoothness "
             "restriction (where shown) bounds instead how far the trend may bend away from a "
             "straight continuation of the pre-joining trend.",)
    records: list[dict[str, Any]] = []
    kinds: list[str] = []
    source = ""
    has_smooth = False
    for outcome in _outcomes(ctx):
        for u in units:
            d = diags.get((u.key, outcome))
            smooth = (getattr(d, "honest_smoothness", None) or {}) if d is not None else {}
            if d is None or not (d.power or d.honest or smooth):
                continue
            pw, hd = d.power or {}, d.honest or {}
            at0 = next((r for r in smooth.get("robust", []) if float(r.get("M", -1)) == 0.0), {})
            has_smooth = has_smooth or bool(smooth)
            lo, hi = (pw.get("plausible") or [math.nan, math.nan])[:2]
            at1 = next((r for r in hd.get("robust", []) if float(r.get("M", -1)) == 1.0), {})
            breakdown = hd.get("breakdown")
            source = source or str(hd.get("source") or "")
            records.append({
                "label": u.name if ctx.index else _outcome_label(ctx, outcome),
                "group": _outcome_label(ctx, outcome),
                "mde": _num(pw.get("mde")), "lo": _num(lo), "hi": _num(hi),
                "reading": _power_reading(pw) if pw else None,
                "breakdown": _num(breakdown),
                "m1_low": _num(at1.get("conf_low")), "m1_high": _num(at1.get("conf_high")),
                "sd_breakdown": _num(smooth.get("breakdown")),
                "m0_low": _num(at0.get("conf_low")), "m0_high": _num(at0.get("conf_high")),
            })
            kinds.append(_est_kind([_num(pw.get("mde")), _num(hi)])[0])
    if not records:
        return Block(block_id, title, intro, empty="Not computed in this run.")
    columns = [tables.Column("mde", "MDE", "ratio", "Power (80%)"),
               tables.Column("lo", "Plausible from", "ratio", "Power (80%)"),
               tables.Column("hi", "to", "ratio", "Power (80%)"),
               tables.Column("reading", "Reading", "text", "Power (80%)"),
               tables.Column("breakdown", "Breakdown M̄", "number", "Sensitivity (HonestDiD)"),
               tables.Column("m1_low", "Interval at M̄ = 1, from", "ratio",
                             "Sensitivity (HonestDiD)"),
               tables.Column("m1_high", "to", "ratio", "Sensitivity (HonestDiD)")]
    if has_smooth:
        columns += [tables.Column("sd_breakdown", "Breakdown M", "ratio", "Smoothness (HonestDiD)"),
                    tables.Column("m0_low", "Interval at M = 0, from", "ratio",
                                  "Smoothness (HonestDiD)"),
                    tables.Column("m0_high", "to", "ratio", "Smoothness (HonestDiD)")]
    est_label = (result.settings.get("method_labels", {}) or {}).get(source, source)
    notes = [f"Plausible: the range of effects published evaluations of export promotion make "
             "plausible for the outcome; none is set for log(1 + exports), which mixes "
             "starting to export with exporting more. "
             f"Sensitivity: of the {est_label or 'event study'} (a breakdown M̄ of “—”: "
             "the interval includes zero already without any violation, M̄ = 0). An effect "
             "below the MDE is likely to be missed: a non-significant estimate is then no "
             "evidence of no effect."]
    if has_smooth:
        notes.append("Smoothness: the trend may bend away from a straight continuation of the "
                     "pre-joining trend by at most M (outcome units per year, per year); M = 0 "
                     "extrapolates the pre-joining trend linearly. Breakdown M: the largest M "
                     "for which the interval still excludes zero (“—”: none).")
    row_kinds = {c: kinds for c in ("mde", "lo", "hi", "m1_low", "m1_high", "sd_breakdown",
                                    "m0_low", "m0_high")}
    table = tables.figures_table(pd.DataFrame(records), table_id=f"{block_id}-table",
                                 columns=columns, notes=notes, min_cell_firms=ctx.min_cell,
                                 groupname="group" if ctx.index else None, row_kinds=row_kinds)
    return Block(block_id, title, intro, None, table)


def _num(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


# --------------------------------------------------------------------------- Bacon

def _bacon_types(ctx: Ctx) -> list[str]:
    present = {str(c.get("type")) for d in ctx.result.diagnostics if d.bacon
               for c in d.bacon.get("comparisons", [])}
    order = [t for t in BACON_TYPES if t in present]
    return order + sorted(present - set(order))


def bacon_notes(headline_label: str, forbidden: bool) -> list[str]:
    """How to read a Bacon table (said once per section on the overview)."""
    notes = [f"Headline: {headline_label}. Static TWFE: firm and year effects with a single "
             "after-joining indicator, on the balanced panel; it equals the weighted sum of the "
             "comparisons' estimates."]
    if forbidden:
        notes.append("Grey, bold: forbidden comparisons, in which firms that had already joined "
                     "serve as the comparison group. When effects grow with time since joining "
                     "they bias TWFE, even to the wrong sign; a large weight on them and a TWFE "
                     "far from the headline estimate are the warning signs.")
    return notes


def _bacon_table(ctx: Ctx, table_id: str, rows: list[tuple[str, str, str]], types: list[str],
                 notes: list[str], general: bool = True) -> tables.Table | None:
    """``rows``: (row label, region key, outcome)."""
    result = ctx.result
    diags = _diag(ctx)
    headline = result.settings.get("headline_estimator")
    records: list[dict[str, Any]] = []
    kinds: list[tuple[str, int]] = []
    for label, key, outcome in rows:
        d = diags.get((key, outcome))
        b = (d.bacon if d is not None else None) or {}
        eff = headline_effect(result, key, outcome)
        cs = eff.result.headline.estimate if eff is not None else math.nan
        twfe = float(b.get("twfe", math.nan)) if b else math.nan
        rec: dict[str, Any] = {"label": label, "twfe": twfe, "cs": cs,
                               "gap": twfe - cs if math.isfinite(twfe) and math.isfinite(cs)
                               else math.nan}
        by_type = {str(c.get("type")): c for c in b.get("comparisons", [])}
        for j, t in enumerate(types):
            c = by_type.get(t)
            rec[f"w{j}"] = 100.0 * float(c["weight"]) if c else math.nan
            rec[f"e{j}"] = float(c["estimate"]) if c else math.nan
        records.append(rec)
        kinds.append(_est_kind([twfe, cs, *(rec[f"e{j}"] for j in range(len(types)))]))
    if not records:
        return None
    est_cols = ["twfe", "cs", "gap", *(f"e{j}" for j in range(len(types)))]
    row_kinds = {c: [k for k, _ in kinds] for c in est_cols}
    hl = (result.settings.get("method_labels", {}) or {}).get(headline, headline or "headline")
    columns = [tables.Column("twfe", "Static TWFE", "ratio", "Overall estimate"),
               tables.Column("cs", "Headline", "ratio", "Overall estimate"),
               tables.Column("gap", "TWFE − headline", "ratio", "Overall estimate")]
    highlight: list[str] = []
    for j, t in enumerate(types):
        name, forbidden = BACON_TYPES.get(t, (t, False))
        columns.append(tables.Column(f"w{j}", "Weight, %", "percent", name))
        columns.append(tables.Column(f"e{j}", "Estimate", "ratio", name))
        if forbidden:
            highlight += [f"w{j}", f"e{j}"]
    if general:
        notes = [*bacon_notes(hl, bool(highlight)), *notes]
    return tables.figures_table(pd.DataFrame(records), table_id=table_id, columns=columns,
                                notes=notes, min_cell_firms=ctx.min_cell,
                                highlight_columns=highlight, row_kinds=row_kinds)


def _bacon(ctx: Ctx) -> list[Block]:
    diags = _diag(ctx)
    types = _bacon_types(ctx)
    units = ctx.units(with_lab=False)
    block_id = "diagnostics-bacon"
    title = "Goodman-Bacon decomposition of TWFE"
    intro = ("A static two-way fixed-effects (TWFE) regression is a weighted average of every "
             "2×2 comparison between groups of firms that joined in different years and "
             "never-members. Where firms join in different years and effects change over time, "
             "some of those comparisons use already-treated firms as controls. The "
             "decomposition shows each kind's weight and estimate, and how far TWFE lands from "
             "the headline estimate that avoids them.",)
    outcomes = _outcomes(ctx)
    samples = []
    for u in units:
        texts = {str(diags[(u.key, o)].bacon.get("sample")) for o in outcomes
                 if (u.key, o) in diags and diags[(u.key, o)].bacon}
        for t in sorted(texts):
            samples.append(f"{u.name}: {t}." if ctx.index else f"Sample: {t}.")
    missing = [f"{u.name}, {_outcome_label(ctx, o)}: {n}" for o in outcomes for u in units
               if (u.key, o) in diags for n in diags[(u.key, o)].notes if "Bacon" in n]
    if not types:
        return [Block(block_id, title, intro, notes=tuple(missing),
                      empty="No Bacon decomposition was computed.")]
    if not ctx.index:
        only = units[0]
        rows = [(_outcome_label(ctx, o), only.key, o) for o in outcomes if (only.key, o) in diags]
        table = _bacon_table(ctx, f"{block_id}-table", rows, types, samples)
        return [Block(block_id, title, intro, None, table, tuple(missing))]
    headline = ctx.result.settings.get("headline_estimator")
    hl = (ctx.result.settings.get("method_labels", {}) or {}).get(headline, headline or "headline")
    forbidden = any(BACON_TYPES.get(t, (t, False))[1] for t in types)
    blocks = [Block(block_id, title, intro,
                    notes=(*bacon_notes(hl, forbidden), *samples, *missing))]
    for o in outcomes:
        rows = [(u.name, u.key, o) for u in units if (u.key, o) in diags]
        table = _bacon_table(ctx, f"{block_id}-{o.replace('_', '-')}-table", rows, types, [],
                             general=False)
        blocks.append(Block(f"{block_id}-{o.replace('_', '-')}", _outcome_label(ctx, o), (),
                            None, table, level=4))
    return blocks


# --------------------------------------------------------------------------- balance

def _balance_table_from_result(ctx: Ctx, frame: pd.DataFrame) -> Block:
    """Balance from a ``balance`` table on the result: one row per region × variable × group
    (``members`` / ``never_members``) with ``n_firms, mean, sd, flag``."""
    block_id = "diagnostics-balance"
    units = ctx.units(with_lab=False)
    names = {u.key: u.name for u in units}
    records, flags, bold, kinds = [], {}, [], []
    df = frame
    # one pass over the frame (a .loc per region, variable and group was most of the cost)
    regions = df["region"].astype(str).tolist()
    variables_of = df["variable"].astype(str).tolist()
    groups_of = df["group"].astype(str).tolist()
    flag_of = df["flag"].tolist() if "flag" in df else [""] * len(df)

    def number(column: str, j: int) -> float:
        return float(df[column].iat[j])

    for u in units:
        mine = [j for j, r in enumerate(regions) if r in (u.key, u.name)]
        variables = list(dict.fromkeys(variables_of[j] for j in mine))
        order = [v for v in BALANCE_VARIABLES if v in variables] + [v for v in variables
                                                                  if v not in BALANCE_VARIABLES]
        first: dict[tuple[str, str], int] = {}
        for j in mine:
            first.setdefault((variables_of[j], groups_of[j]), j)
        for var in order:
            got = {}
            for g in ("members", "never_members"):
                j = first.get((var, g))
                if j is None:
                    got[g] = (math.nan, math.nan, math.nan, "not_available")
                    continue
                flag = "" if pd.isna(flag_of[j]) else str(flag_of[j])
                if flag == SUPPRESSED:
                    got[g] = (math.nan, math.nan, math.nan, SUPPRESSED)
                else:
                    got[g] = (number("mean", j), number("sd", j), number("n_firms", j), flag)
            (m1, s1, n1, f1), (m0, s0, n0, f0) = got["members"], got["never_members"]
            d = smd(m1, s1, m0, s0)
            i = len(records)
            label, kind = BALANCE_VARIABLES.get(var, (var.replace("_", " "), "number"))
            records.append({"label": label, "group": names[u.key], "m1": m1, "n1": n1,
                            "m0": m0, "n0": n0, "smd": d})
            kinds.append(kind)
            for col, f in (("m1", f1), ("m0", f0)):
                if f in (SUPPRESSED, "not_available"):
                    flags.setdefault(col, {})[i] = f
            if SUPPRESSED in (f1, f0):
                flags.setdefault("smd", {})[i] = SUPPRESSED
            if math.isfinite(d) and abs(d) >= SMD_THRESHOLD:
                bold.append(i)
    columns = [tables.Column("m1", "Mean", "number", "Members, before joining"),
               tables.Column("n1", "Firms", "count", "Members, before joining"),
               tables.Column("m0", "Mean", "number", "Never-members"),
               tables.Column("n0", "Firms", "count", "Never-members"),
               tables.Column("smd", "SMD", "number")]
    period = ""
    if "period" in df and df["period"].notna().any():
        period = " " + "; ".join(dict.fromkeys(str(p) for p in df["period"].dropna())) + "."
    notes = [f"SMD: standardised mean difference, (members − never-members) / √((sd₁² + sd₀²)/2). "
             f"Bold SMD: |SMD| ≥ {SMD_THRESHOLD:g}, the usual threshold for imbalance.{period}"]
    table = tables.figures_table(pd.DataFrame(records), table_id=f"{block_id}-table",
                                 columns=columns, flags=flags, notes=notes,
                                 min_cell_firms=ctx.min_cell,
                                 groupname="group" if ctx.index else None,
                                 bold_cells={"smd": bold}, row_kinds={"m1": kinds, "m0": kinds})
    return Block(block_id, "Balance before joining", (
        "Members should resemble never-members before joining; the further apart they were, "
        "the more the estimates lean on the parallel-trends assumption. Pre-joining means by "
        "group and their standardised mean differences.",), None, table)


def _balance_from_indicators(ctx: Ctx) -> Block:
    """The comparison the indicator table allows: exporter share (with its SMD, which a share
    determines) and export intensity of firms that joined later, before joining, against
    never-members, in each region's first year of data."""
    block_id = "diagnostics-balance"
    units = ctx.units(with_lab=False)
    records, flags, bold = [], {}, []
    for i, u in enumerate(units):
        i14 = ctx.rows(u, "I14")
        i13 = ctx.rows(u, "I13")
        years = sorted((p for p in i14.only(group="not_yet_members").periods()
                        if period_sort_key(p)[0] == 0), key=period_sort_key)
        year = years[0] if years else ""
        p1, f1 = cell(i14, period=year, group="not_yet_members")
        p0, f0 = cell(i14, period=year, group="never_members")
        x1, g1 = cell(i13, period=year, group="not_yet_members")
        x0, g0 = cell(i13, period=year, group="never_members")
        d = math.nan
        if all(math.isfinite(v) for v in (p1, p0)):
            a, b = p1 / 100.0, p0 / 100.0
            d = smd(a, math.sqrt(a * (1 - a)), b, math.sqrt(b * (1 - b)))
        records.append({"label": u.name, "year": float(year) if year else math.nan,
                        "p1": p1, "p0": p0, "dp": p1 - p0, "smd": d,
                        "x1": x1, "x0": x0, "dx": x1 - x0})
        for cols, fs in ((("p1",), (f1,)), (("p0",), (f0,)), (("x1",), (g1,)), (("x0",), (g0,)),
                         (("dp", "smd"), (f1, f0)), (("dx",), (g1, g0))):
            worst = SUPPRESSED if SUPPRESSED in fs else next(
                (f for f in fs if f == "not_available"), "")
            for c in cols:
                if worst:
                    flags.setdefault(c, {})[i] = worst
        if math.isfinite(d) and abs(d) >= SMD_THRESHOLD and i not in flags.get("smd", {}):
            bold.append(i)
    columns = [tables.Column("year", "Year", "year"),
               tables.Column("p1", "Joined later", "percent", "Exporting firms, % (I14)"),
               tables.Column("p0", "Never-members", "percent", "Exporting firms, % (I14)"),
               tables.Column("dp", "Difference, pp", "signed", "Exporting firms, % (I14)"),
               tables.Column("smd", "SMD", "number", "Exporting firms, % (I14)"),
               tables.Column("x1", "Joined later", "percent", "Export intensity, % (I13)"),
               tables.Column("x0", "Never-members", "percent", "Export intensity, % (I13)"),
               tables.Column("dx", "Difference, pp", "signed", "Export intensity, % (I13)")]
    notes = ["Joined later: firms that joined a consortium after this year, observed before "
             "they joined. Year: the region's first year of data. SMD of a share p: (p₁ − p₀) / "
             f"√((p₁(1 − p₁) + p₀(1 − p₀))/2); bold SMD: |SMD| ≥ {SMD_THRESHOLD:g}, the usual "
             "threshold for imbalance. A difference involving a suppressed share is suppressed "
             "too."]
    table = tables.figures_table(pd.DataFrame(records), table_id=f"{block_id}-table",
                                 columns=columns, flags=flags, notes=notes,
                                 min_cell_firms=ctx.min_cell, bold_cells={"smd": bold})
    intro = ("Members should resemble never-members before joining; the further apart they "
             "were, the more the estimates lean on the parallel-trends assumption. The results "
             "of this run allow the comparison for two variables, from the indicators: the "
             "share of exporting firms (whose standardised mean difference the shares "
             "determine) and export intensity, of the firms that joined later against "
             "never-members, in the first year of data. Exports, turnover and employees would "
             "need pre-joining means and standard deviations by group, which this run does not "
             "produce.",)
    return Block(block_id, "Balance before joining", intro, None, table)


def _balance(ctx: Ctx) -> Block:
    frame = getattr(ctx.result, "balance", None)
    if isinstance(frame, pd.DataFrame) and not frame.empty:
        return _balance_table_from_result(ctx, frame)
    return _balance_from_indicators(ctx)


def diagnostics(ctx: Ctx) -> SectionBody:
    alpha = float(ctx.result.settings.get("alpha", 0.05))
    where = "each region" if ctx.index else ctx.only.name  # type: ignore[union-attr]
    intro = (f"Checks of the assumptions behind the impact estimates for {where}. None of them "
             "can prove an estimate right; each can show a reason to doubt it. Tests use a "
             f"{ci_level(alpha)} level (p-value below {alpha:g}).",)
    power = _power(ctx)
    blocks = (_pretrend(ctx), *_bacon(ctx), _balance(ctx))
    if not power.empty:  # a run without design checks shows no empty block
        blocks = (*blocks, power)
    return SectionBody(intro, blocks)

