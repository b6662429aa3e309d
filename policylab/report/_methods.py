"""The methods-and-caveats text: how each estimator works, what the headline number is, how
intervals and p-values were computed, how the regions were pooled, and the assumptions the
estimates rest on; plus the short caveat every page shows.

The text is generated from the run: only the estimators it used are described (the headline
one first), and the few-cluster inference and the meta-analysis are explained only when the
run used them, with the numbers (thresholds, draws, seeds) it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..did.inference.few_clusters import METHOD_TEXT
from ..evaluation import EvaluationResult
from ..synthesis import METHOD_LABELS as POOL_METHOD_LABELS
from ._labels import _ci_label, _method_label, _method_short
from ._overview import ci_level
from ._serialize import to_jsonable

__all__ = ["CAVEAT", "MethodsNote", "methods_note"]

#: The "read with care" note every page shows under its header.
CAVEAT = (
    "These figures compare firms that joined an export consortium with similar firms in the "
    "same region that never joined. The effects are estimates with a margin of error, not "
    "exact measurements, and they rest on assumptions explained under Methods. Regions differ "
    "in their data and in how their programmes work, so compare them with care."
)


@dataclass(frozen=True)
class MethodsNote:
    estimators: tuple[str, ...]
    comparison: str
    clustering: tuple[str, ...]
    headline: tuple[str, ...]
    inference: str
    synthesis: tuple[str, ...]
    caveats: tuple[str, ...]
    settings: dict[str, Any]


_ESTIMATOR_TEXT = {
    "callaway_santanna": (
        "A separate 2×2 comparison for each cohort of joiners (the year "
        "they joined) and each year, against never-members (or members not yet joined, as "
        "configured), combined with a doubly robust estimator; firms that have already "
        "joined never serve as controls, so effects that differ by cohort or grow over time "
        "do not bias it. The cohort-year effects are then averaged: over every post-joining "
        "cohort-year, weighted by cohort size (the headline), and by years since joining "
        "(the event study). Before joining, each year is compared with the year before "
        "(varying base period)."
    ),
    "sun_abraham": (
        "An event-study regression with cohort-specific event-time effects "
        "(interaction-weighted), averaged with the cohorts' shares; robust to effects that "
        "differ between cohorts."
    ),
    "event_study": (
        "A two-way fixed-effects regression (firm and year effects) of the outcome "
        "on indicators for each year relative to joining, with never-members as the comparison "
        "group. Event time −1, the year before joining, is the reference and is 0 by "
        "construction."
    ),
    "etwfe": (
        "Wooldridge's extended two-way fixed-effects regression: firm and year effects and a "
        "separate effect for each cohort of joiners in each post-joining year, never-members "
        "as the comparison group, averaged with the cohorts' shares; robust to effects that "
        "differ by cohort or over time."
    ),
    "etwfe_poisson": (
        "The extended two-way fixed-effects regression as a Poisson model (pseudo-maximum "
        "likelihood: zeros kept, firm and year effects multiplicative); its cohort-year "
        "effects are expressed in the outcome's own units and averaged with the cohorts' "
        "shares."
    ),
    "twfe": "Two-way fixed-effects difference-in-differences (firm and year effects) with an "
            "indicator for years after joining.",
    "did_2x2": "A 2×2 difference in differences: the change in members' mean outcome from "
               "before to after joining, minus the same change for never-members.",
    "imputation": (
        "Borusyak, Jaravel and Spiess's imputation estimator: firm and year effects are fitted "
        "on the years firms were not (yet) members only, each member firm-year's outcome "
        "without the programme is imputed from them, and the effect is the average gap over "
        "every member firm-year; robust to effects that differ by cohort or over time. Its "
        "pre-trend test asks whether the years before joining already differ."
    ),
    "did2s": (
        "Gardner's two-stage difference in differences: the outcome is cleaned of firm and "
        "year effects fitted on untreated years, then regressed on membership; the same point "
        "estimate as the imputation estimator, with GMM standard errors for both stages."
    ),
    "dcdh": (
        "de Chaisemartin and D'Haultfœuille's event study for a treatment that switches on "
        "and off: firms whose membership changed are compared with firms whose membership had "
        "not changed yet, year by year after the change; leaving a consortium counts as a "
        "change. The headline is the average total effect per year of membership; placebos "
        "compare the years before the change."
    ),
    "synthetic_did": (
        "Synthetic difference in differences (Arkhangelsky et al.): never-members and years are "
        "weighted so that the weighted never-members track the members before joining, then a "
        "weighted two-way comparison; standard errors from placebo reassignments among "
        "never-members. Suited to regions with very few member firms."
    ),
}
_MARGINS_TEXT = (
    "Export margins. Callaway–Sant'Anna effects on export propensity (all firms), on "
    "log(1 + exports) of prior exporters (firms with exports in a year before the region's "
    "first cohort) and on the number of destination countries; Poisson extended TWFE on export "
    "value, as a percent of members' exports without the programme (analytic clustered "
    "interval). The extra export value in EUR is split by running the same Callaway–Sant'Anna "
    "estimator on exports times 1[prior exporter] and on exports times 1[not a prior "
    "exporter]: the estimator is linear in the outcome, so the two parts add up exactly to "
    "the effect on export value. Intervals follow the few-cluster policy with the configured "
    "draws (no draws added for a Monte Carlo target)."
)
_HEADLINE_TEXT = {
    "callaway_santanna": "For Callaway–Sant'Anna, the headline number is the simple "
                         "aggregation: the average of all post-joining cohort-year effects, "
                         "weighted by cohort size (the average effect on members, ATT).",
    "event_study": "For the event study, the headline number is the average of the effects in "
                   "the years from joining onwards (event time 0 and later), weighted by the "
                   "number of treated firm-years behind each.",
    "twfe": "For TWFE, the headline number is the coefficient on the after-joining indicator "
            "(the average effect on members, ATT).",
    "did_2x2": "For the 2×2 design, the headline number is the difference in differences itself "
               "(the average effect on members, ATT).",
}
_CAVEATS = (
    "Parallel trends: without the programme, members' outcomes would have moved like "
    "never-members'. The event-time estimates before joining are a check on this; estimates far "
    "from zero before joining are a warning sign.",
    "No spillovers: never-members are assumed not to be affected by their neighbours joining "
    "(for example through shared export orders or competition).",
    "No anticipation: firms are assumed not to change their exporting in the years before they "
    "join because they expect to join.",
    "The event study is a two-way fixed-effects regression with never-members as controls. When "
    "firms join in different years and the effect differs between those cohorts, its "
    "coefficients can mix effects from different years since joining; it is shown as a "
    "robustness check next to the headline Callaway–Sant'Anna estimate, which avoids that "
    "problem. The Goodman-Bacon decomposition under Diagnostics shows how much a static TWFE "
    "leans on such comparisons.",
    "Few treated consortia: treatment is set by consortium and each region has only a handful "
    "of them, so cluster-robust standard errors, intervals and tests (the pre-trend test "
    "included) are likely too optimistic.",
    "Comparing regions: each region is estimated separately on its own data; differences "
    "between regions mix programme design, data sources and the kinds of firm that joined, so "
    "they are not by themselves evidence that one programme works better.",
)


def _synthesis_text(result: EvaluationResult) -> tuple[str, ...]:
    syn = result.synthesis
    if syn is None or not syn.pooled:
        return ()
    method = POOL_METHOD_LABELS.get(syn.method, syn.method)
    alpha = result.settings.get("alpha", 0.05)
    return (
        "The lab-wide effect pools the regions' headline estimates by a random-effects "
        "meta-analysis: each region is taken to have its own true effect, spread around a "
        "lab-wide mean with between-region variance τ² (estimated by the "
        f"{method} method). Each region's weight is 1/(SE² + τ²), so precise estimates count "
        "more, but less so the more the regions differ.",
        f"Its interval is a normal-theory {ci_level(alpha)} interval. Cochran's Q tests whether "
        "every region has the same effect (a chi-squared test with one degree of freedom fewer "
        "than the number of regions); I² = max(0, (Q − df)/Q) is the share of the spread "
        "between regions' estimates that is more than sampling error. With few regions both "
        "τ² and the test are imprecise. A region whose interval comes from the few-cluster "
        "method enters with the standard error that interval implies ((upper − lower) / "
        "(2 × 1.96) for a 95% interval) when it is larger than the analytic one, so the pooled "
        "interval carries the few-cluster correction too.",
        "Regions without an estimate, or whose estimate has no standard error, are left out and "
        "named under the impact table.",
        "Planning figures (the impact table's 'lab-informed expectation'): each pooled region's "
        "empirical-Bayes (BLUP) estimate under the same random-effects model, "
        "μ + B (y − μ) with B = τ² / (τ² + SE²) the share its own data carry (policylab.shrink). "
        "Its interval adds to B·SE² + (1 − B)² Var(μ) (metafor's blup()) the second-order "
        "term for the estimated τ² (Prasad and Rao 1990; Datta, Rao and Smith 2005 for "
        "Paule–Mandel), never wider than the region's own interval; in simulated labs of 3 to "
        "10 regions it covers 94-100% and has a lower mean squared error than the regions' "
        "own estimates (studies/SHRINKAGE.md). It is a figure to plan with, not the region's "
        "estimate, which stays the headline.",
    )


def methods_note(result: EvaluationResult) -> MethodsNote:
    """The methods-and-caveats text of the run (the same on every page)."""
    methods = list(dict.fromkeys(e.result.method for e in result.effects))
    headline = result.settings.get("headline_estimator")
    methods.sort(key=lambda m: m != headline)  # stable: the headline estimator first
    estimators = tuple(
        ("Headline. " if m == headline else ("Robustness. " if headline in methods else ""))
        + f"{_method_label(m, result)}. "
        + _ESTIMATOR_TEXT.get(m, "See the estimator's documentation.") for m in methods)
    if getattr(result, "margins", ()):
        estimators += (_MARGINS_TEXT,)
    headline_text = tuple(_HEADLINE_TEXT[m] for m in methods if m in _HEADLINE_TEXT)
    # one bullet per region, naming it, with each estimator's standard errors
    by_region: dict[str, dict[str, str]] = {}
    for e in result.effects:
        by_region.setdefault(e.region, {}).setdefault(_method_short(e.result.method),
                                                      str(e.result.vcov_type))
    names = {r.key: r.name for r in result.regions}
    clustering = tuple(f"{names.get(k, k)}: " + "; ".join(f"{m}: {v}" for m, v in d.items())
                       for k, d in by_region.items())
    ci = _ci_label(e.result.alpha for e in result.effects) if result.effects else "CI"
    inference = (f"Intervals are {ci}s with standard errors clustered as listed; p-values are "
                 "two-sided and apply to each estimate on its own, with no correction for "
                 "testing many regions, outcomes or years.")
    records = [e.inference for e in result.effects if e.inference]
    used = [r for r in records if r.get("used")]
    if used:
        threshold = used[0].get("threshold")
        names = sorted({METHOD_TEXT.get(r["method"], r["method"]) for r in used})
        draws = sorted({int(r["draws"]) for r in used if r.get("draws")})
        counts = [int(r["n_treated_clusters"]) for r in used if r.get("n_treated_clusters") is not None]
        span = (f" (here {min(counts)} to {max(counts)})" if counts and min(counts) != max(counts)
                else f" (here {counts[0]})" if counts else "")
        n_draws = ("all" if not draws else f"{draws[0]:,}" if len(draws) == 1
                   else f"{draws[0]:,} to {draws[-1]:,}")
        configured = used[0].get("draws_configured")
        target = used[0].get("mc_target")
        mc = [r["monte_carlo"] for r in used if r.get("monte_carlo")]
        mc_p = [float(m["p_value"]) for m in mc if m.get("p_value") is not None]
        mc_text = ""
        if mc:
            patterns = max(int(m.get("sign_patterns") or 1) for m in mc)
            missed = sum(1 for m in mc if m.get("target_met") is False)
            signs = (f" Each draw is evaluated at all {patterns} sign patterns of the weights of "
                     f"the {patterns.bit_length() - 1} most influential consortia (conditional "
                     "Monte Carlo: the same bootstrap p-value with a much smaller simulation "
                     "error)." if patterns > 1 else "")
            added = (signs + f" Draws are added (from {configured:,}) until the Monte Carlo "
                     f"standard error of each bound is at most {target:.1%} of the interval's "
                     "width, so that changing only the seed moves a bound by a small fraction "
                     "of the width"
                     + (f" (not reached within the draw budget for {missed} estimates, whose "
                        "errors are larger);" if missed else ";")
                     if target and configured else
                     signs + " The bootstrap's own (Monte Carlo) error is reported, not "
                     "reduced: with these draws a changed seed can move a bound by several "
                     "percent of the interval's width (estimation.bootstrap_mc_target adds "
                     "draws until it cannot);")
            mc_text = (added
                       + (f" the Monte Carlo standard error of the p-values is at most "
                          f"{max(mc_p):.2g}, and" if mc_p else "")
                       + " each estimate's Monte Carlo errors of its p-value and bounds are in "
                       "results.json (headline_inference.monte_carlo).")
        inference += (
            f" Few treated consortia: where fewer than {threshold} consortia hold member firms"
            f"{span}, analytic clustered intervals are too narrow, so the headline p-value and "
            f"interval of {len(used)} of the {len(records)} estimates come from the "
            f"{' and the '.join(names)} (Webb weights, {n_draws} draws, seed "
            f"{used[0].get('seed', 0)}): the p-value compares the observed t statistic (estimate "
            "over its CRV1 standard error clustered by consortium) with its bootstrap "
            "distribution, and the interval collects the effects that test does not reject "
            "(test inversion), so it need not be symmetric around the estimate and is not the "
            "estimate plus or minus a multiple of the standard error. The standard error and "
            "statistic shown are that CRV1 standard error and that t (for Callaway–Sant'Anna, "
            "those of the aggregate's regression form, which the bootstrap resamples); "
            "results.json says which method each number comes from "
            "(headline_inference.inference). The yearly event-study intervals in the charts stay "
            f"analytic and are therefore too narrow.{mc_text} In a "
            "simulation with 3 to 40 treated consortia (11 designs, 1,000 replications each) "
            "the 95% intervals of the Callaway–Sant'Anna headline covered the true effect "
            "93–96% of the time, analytic ones as little as 73% with 3 treated consortia "
            "(studies/COVERAGE.md in the policylab repository). The analytic standard errors, "
            "intervals and p-values are kept in results.json (headline_inference.analytic).")
    comparison = ("Never-members: firms in the same region that never joined a consortium during "
                  "the period observed. Each region is compared only with its own never-members.")
    if result.settings.get("comparison_group") not in (None, "never members"):
        comparison += (f" This run compares with {result.settings['comparison_group']} "
                       "(Callaway–Sant'Anna's control group).")
    return MethodsNote(estimators, comparison, clustering, headline_text, inference,
                       _synthesis_text(result), _CAVEATS, to_jsonable(dict(result.settings)))
