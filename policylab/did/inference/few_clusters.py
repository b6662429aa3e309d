"""The few-cluster policy: which inference the headline of a result should carry.

Below a configurable number of **treated** clusters (default 30) analytic cluster-robust
intervals are too narrow (``studies/COVERAGE.md``), so the headline interval
and p-value are replaced by a few-cluster method, and the decision is returned as text a
report can show. The point estimate never changes.

Which method (evidence: ``studies/COVERAGE.md``, 1000 replications per design):

* **Linear estimators** (``did_2x2``, ``twfe``, ``event_study``, ``sun_abraham``, linear
  ``etwfe``): the wild cluster restricted bootstrap (WCR) with Webb weights. WCR is the method with near-nominal
  coverage from 6 treated consortia on in both designs of the study; Webb's six-point
  weights give 6**G distinct draws where Rademacher's 2**G make p-values coarse (exact
  enumeration with 5 clusters has 32 draws, so nothing is significant at 5%), and they
  are never worse in the study.
* **Poisson** ``etwfe``: the Kline-Santos score bootstrap (restricted), Webb weights.
* **Callaway-Sant'Anna** aggregates:

  1. WCR in the aggregate's regression form under the constant-effect null (Webb), when
     the result qualifies (panel data, balanced or not, either comparison group, no
     covariates, no sampling weights: evaluate's CS fits). The study's candidates were the
     cluster multiplier bootstrap, whose
     coverage is that of the analytic interval (0.7-0.9 with 3-6 treated consortia: it
     re-draws the same too-small variance), and randomization inference, which is exact
     under the constant-effect null but wide and, with 3 treated consortia, unbounded
     (at most 3! = 6 timing permutations). WCR keeps near-nominal coverage down to 3
     treated consortia with finite (if wide) intervals; see the table for the numbers.
  2. Otherwise (covariates, sampling weights, repeated cross-sections) the Webb cluster
     multiplier bootstrap, with a note that it does not correct the few-cluster bias.
     Randomization inference is not a fallback: it runs without refits only where WCR
     applies too, and refitting ``att_gt`` 2 x B times is too slow for ``evaluate``. It
     remains available (:func:`randomization_inference`) for a design-based answer.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...constants import FEW_CLUSTERS
from ...errors import DesignError, PolicylabWarning
from ..core.checks import check_alpha, check_frame, check_int, renamed_keyword
from ..results import AggregateResult, DiDResult, Estimate, FewClusterResult, GroupTimeResult
from .wild import DEFAULT_DRAWS, MAX_DRAWS, check_draws, check_seed

#: Below this many treated clusters the headline uses a few-cluster method.
MIN_TREATED_CLUSTERS = FEW_CLUSTERS
#: Draw policy: draws are added (the bootstrap is rerun with more draws, same seed) until
#: the Monte Carlo standard error of each finite bound is at most this share of the
#: interval's width (then the range of a bound over 10 seeds, about 3 standard errors, is
#: about 1% of the width, and the largest of the example's 72 bounds' ranges about 1.5%),
#: within the budgets below.
MC_TARGET = 0.003
#: In each draw, the signs of the weights of this many most influential clusters are
#: enumerated (conditional Monte Carlo, :mod:`policylab.did.inference.wild_dense`): the same
#: bootstrap p-value with 15-500x less Monte Carlo variance at the example's bounds.
SIGN_CLUSTERS = 6
#: Budget of added draws in draws x clusters (the time of a pass: with hundreds of
#: thousands of singleton clusters draws are not sign-enumerated and each costs a pass over
#: all clusters); also at most ``wild.MAX_DRAWS`` draws and 4 million draws x sign patterns.
MAX_CODES = 10_000_000
POLICY_SEED = 0  # fixed default: reports must be identical for the same inputs

__all__ = [
    "MAX_DRAWS", "MC_TARGET", "SIGN_CLUSTERS", "METHOD_TEXT", "MIN_TREATED_CLUSTERS", "FewClusterDecision",
    "few_cluster_inference",
]

#: Each inference method of a headline in words (``FewClusterDecision.method``; also used
#: by the report).
METHOD_TEXT = {
    "analytic": "analytic clustered standard errors",
    "wild_cluster_restricted_bootstrap": "wild cluster restricted bootstrap",
    "wild_cluster_unrestricted_bootstrap": "wild cluster unrestricted bootstrap",
    "score_bootstrap_restricted": "score bootstrap (Kline and Santos 2012), restricted",
    "score_bootstrap_unrestricted": "score bootstrap (Kline and Santos 2012), unrestricted",
    "multiplier_bootstrap": "cluster multiplier bootstrap",
    "randomization_inference": "randomization inference",
}


@dataclass(frozen=True)
class FewClusterDecision:
    """What the headline of a result should show, and why.

    Attributes
    ----------
    used : bool
        The few-cluster method replaced the analytic interval and p-value.
    method : str
        ``"analytic"`` or the :class:`FewClusterResult` method name.
    reason : str
        One or two sentences for a report: which inference and why.
    headline : Estimate
        The estimate to show (same point estimate; interval and p-value from ``method``).
    inference : FewClusterResult or None
        The few-cluster result (``None`` when not used).
    n_clusters, n_treated_clusters, threshold : int
    """

    used: bool
    method: str
    reason: str
    headline: Estimate
    inference: FewClusterResult | None
    n_clusters: int
    n_treated_clusters: int
    threshold: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        from ..results import _estimate_text

        alpha = self.inference.alpha if self.inference is not None else 0.05
        return (f"FewClusterDecision(used={self.used}, method={self.method!r}: "
                f"{_estimate_text(self.headline, alpha)}; {self.n_treated_clusters} of "
                f"{self.n_clusters} clusters treated, threshold {self.threshold})")

    def apply(self, result: DiDResult | AggregateResult) -> DiDResult | AggregateResult:
        """A copy of ``result`` whose headline (``overall`` for an aggregate) carries this
        decision's interval, p-value and standard error (the one the p-value's statistic
        uses), with ``reason`` added to its warnings."""
        if isinstance(result, AggregateResult):
            current = result.overall
        elif isinstance(result, DiDResult):
            current = result.headline
        else:
            raise TypeError(
                "apply takes the DiDResult or AggregateResult the decision was made for "
                f"(e.g. evaluate's CS headline result), got {type(result).__name__}"
            )
        if not math.isclose(current.estimate, self.headline.estimate, rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(
                f"this decision is for an estimate of {self.headline.estimate:.6g}, but the "
                f"result's headline is {current.estimate:.6g}"
            )
        if not self.used:
            return result
        # keep the target's own term name (e.g. evaluate's "simple_att")
        headline = dataclasses.replace(
            self.headline, term=current.term, event_time=current.event_time
        )
        extra = (self.reason, *self.notes)
        if isinstance(result, AggregateResult):
            return dataclasses.replace(
                result, overall=headline, warnings=tuple(result.warnings) + extra
            )
        return dataclasses.replace(
            result, headline=headline, warnings=tuple(result.warnings) + extra
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "used": self.used,
            "method": self.method,
            "reason": self.reason,
            "headline": self.headline.to_dict(),
            "inference": None if self.inference is None else self.inference.to_dict(),
            "n_clusters": self.n_clusters,
            "n_treated_clusters": self.n_treated_clusters,
            "threshold": self.threshold,
            "notes": list(self.notes),
        }


def _treated_clusters(
    result: DiDResult | GroupTimeResult, data: pd.DataFrame
) -> tuple[int, int, Any]:
    """(clusters, treated clusters) of the result's inference, and the wild bootstrap's
    problem when it had to be built to count them (it is then bootstrapped as is)."""
    from . import wild

    if isinstance(result, GroupTimeResult):
        coh = np.asarray(result.unit_cohort, dtype=np.float64)
        if result.unit_cluster is None:
            return result.n_units, int(np.isfinite(coh).sum()), None
        cl = np.asarray(result.unit_cluster)
        return int(cl.max()) + 1, int(np.unique(cl[np.isfinite(coh)]).size), None
    est = result.spec.get("estimator", result.method)
    if est not in ("did_2x2", "twfe", "event_study", "sun_abraham", "etwfe"):
        raise ValueError(
            "few_cluster_inference supports did_2x2, twfe, event_study, sun_abraham, etwfe and "
            f"att_gt results; got {est!r}"
        )
    prepared = wild._prepare(result, data)
    return prepared.n_clusters, prepared.treated_clusters, prepared


def _fmt_ci(r: FewClusterResult) -> str:
    def f(x: float) -> str:
        if not math.isfinite(x):
            return "-inf" if x == -math.inf else "inf" if x == math.inf else "nan"
        if abs(x) >= 1e4:  # four significant digits, no exponent: 180,600 not 1.806e+05
            return f"{round(x, 3 - int(math.floor(math.log10(abs(x))))):,.0f}"
        return f"{x:.4g}"

    return f"[{f(r.conf_low)}, {f(r.conf_high)}]"


def few_cluster_inference(
    result: DiDResult | GroupTimeResult,
    data: pd.DataFrame,
    *,
    kind: str = "simple",
    min_treated_clusters: int = MIN_TREATED_CLUSTERS,
    draws: int = DEFAULT_DRAWS,
    seed: int | None = POLICY_SEED,
    alpha: float | None = None,
    mc_target: float | None = None,
    enumerate_signs: int = SIGN_CLUSTERS,
    B: int | None = None,
) -> FewClusterDecision:
    """Decide the headline inference of ``result`` (see the module docstring for the policy
    and the evidence behind it).

    Parameters
    ----------
    result : DiDResult or GroupTimeResult
        A fitted ``did_2x2``, ``twfe``, ``event_study``, ``sun_abraham``, ``etwfe``
        (headline) or ``att_gt`` (the overall ``kind`` aggregate) result.
    data : DataFrame
        The data ``result`` was fitted on.
    kind : {"simple", "group", "dynamic", "calendar"}
        ``att_gt`` only: the aggregation whose overall estimate is the headline.
    min_treated_clusters : int
        Use the few-cluster method when fewer clusters than this hold treated units.
    draws : int
        Bootstrap draws / permutations (``B=`` is its deprecated name).
    seed : int or None
        Seed of the draws; the default is fixed so reports are reproducible.
    alpha : float or None
        Default: the result's.
    mc_target : float or None
        Draw policy. ``None``: exactly ``draws`` draws. A share such as ``MC_TARGET`` (0.003,
        what ``evaluate`` uses): while the Monte Carlo standard error of a finite bound
        (``inference.spec["monte_carlo"]``, see :func:`policylab.did.inference.wild.monte_carlo_error`)
        exceeds this share of the interval's width, draws are added (the same seeded stream
        continued) as that error calls for (:func:`policylab.did.inference.wild.draws_for_target`),
        at most twice, within ``wild.MAX_DRAWS`` draws, 4 million draws x sign patterns and
        ``MAX_CODES`` draws x clusters; ``inference.spec["mc_target_met"]`` says whether it
        was reached. Linear estimators and Callaway-Sant'Anna only (the Poisson score and
        multiplier bootstraps keep ``draws`` draws). Deterministic: same seed, same numbers.
    enumerate_signs : int
        Wild bootstrap of linear models: enumerate the signs of this many most influential
        clusters in each draw (see :func:`policylab.did.inference.wild.wild_bootstrap`); 0 for plain
        draws.

    Returns
    -------
    FewClusterDecision
        ``decision.apply(result)`` (or ``decision.apply(aggregate(result, kind))`` for
        ``att_gt``) gives the result with the decided headline; ``decision.reason`` is the
        text for the report.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from policylab.did import twfe
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"firm": np.repeat(np.arange(40), 6),
    ...                    "year": np.tile(np.arange(2015, 2021), 40)})
    >>> df["consortium"] = df["firm"] // 5
    >>> df["member"] = ((df["firm"] < 20) & (df["year"] >= 2018)).astype(int)
    >>> df["exports"] = 0.5 * df["member"] + rng.normal(0, 1, len(df))
    >>> res = twfe(df, outcome="exports", unit="firm", time="year", treatment="member",
    ...            cluster="consortium")
    >>> d = few_cluster_inference(res, df, draws=999)
    >>> d.used, d.method, d.n_treated_clusters
    (True, 'wild_cluster_restricted_bootstrap', 4)
    >>> d.apply(res).headline.estimate == res.headline.estimate
    True
    """
    from ..estimators.callaway_santanna.aggregate import KINDS, aggregate
    from .wild import _wild_bootstrap, multiplier_bootstrap

    if not isinstance(result, (DiDResult, GroupTimeResult)):
        raise TypeError(
            f"result must be a DiDResult or GroupTimeResult, got {type(result).__name__}"
        )
    data = check_frame(data)
    threshold = check_int(min_treated_clusters, "min_treated_clusters", minimum=1)
    draws = check_draws(renamed_keyword("B", B, "draws", draws), "draws")
    seed = check_seed(seed)
    if mc_target is not None and not (
        isinstance(mc_target, (int, float)) and not isinstance(mc_target, bool) and mc_target > 0
    ):
        raise ValueError(f"mc_target must be None or a positive share, got {mc_target!r}")
    if isinstance(enumerate_signs, bool) or not isinstance(enumerate_signs, int) \
            or not 0 <= enumerate_signs <= 12:
        raise ValueError(f"enumerate_signs must be an integer from 0 to 12, got {enumerate_signs!r}")
    alpha = result.alpha if alpha is None else check_alpha(alpha)
    is_cs = isinstance(result, GroupTimeResult)
    if is_cs and (not isinstance(kind, str) or kind not in KINDS):
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")

    if is_cs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicylabWarning)
            base = aggregate(result, kind, bootstrap=False).overall
    else:
        base = result.headline
    try:
        g, g_tr, prepared = _treated_clusters(result, data)
    except ValueError as exc:  # e.g. two-way clustering, clusters cutting across firms
        return _not_available(base, threshold, str(exc))
    if g_tr >= threshold:
        return FewClusterDecision(
            used=False,
            method="analytic",
            reason=(
                f"{g_tr} clusters hold treated firms (at least {threshold}): the analytic "
                "cluster-robust interval and p-value are shown"
            ),
            headline=base,
            inference=None,
            n_clusters=g,
            n_treated_clusters=g_tr,
            threshold=threshold,
        )

    why_few = (
        f"only {g_tr} of {g} clusters hold treated firms (fewer than {threshold}), and "
        "analytic cluster-robust intervals are too narrow with few treated clusters "
        "(studies/COVERAGE.md)"
    )
    notes: list[str] = []

    def run(n_draws: int) -> tuple[FewClusterResult, str]:
        opts = {"draws": n_draws, "seed": seed, "alpha": alpha}
        wild = {"weights": "webb", "enumerate_signs": enumerate_signs, "mc_target": mc_target,
                "max_draws": max(n_draws, min(MAX_DRAWS, MAX_CODES // max(g, 1)))}
        if not is_cs:
            inf = _wild_bootstrap(result, data, prepared=prepared, **wild, **opts)
            return inf, "Webb weights, restricted (null imposed), CRV1 bootstrap-t"
        try:
            inf = _wild_bootstrap(result, data, term=f"overall:{kind}", **wild, **opts)
            return inf, (
                "Webb weights, CRV1 bootstrap-t in the aggregate's regression form under "
                "the constant-effect null"
            )
        except ValueError as exc:
            if not any(n.startswith("wild bootstrap not available") for n in notes):
                notes.append(f"wild bootstrap not available for this result: {exc}")
        inf = multiplier_bootstrap(result, kind, weights="webb", **opts)
        return inf, (
            "Webb multipliers; note that it re-draws the analytic variance and "
            "does not correct its few-cluster bias"
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicylabWarning)
        try:
            inf, detail = run(draws)
        except (ValueError, DesignError) as exc:
            if is_cs:
                raise
            return _not_available(base, threshold, str(exc), g, g_tr)
    exact = "exact enumeration of all draws" if inf.exact else f"{inf.draws:,} draws"
    reason = (
        f"Headline {100 * (1 - alpha):g}% interval {_fmt_ci(inf)} and p-value "
        f"{inf.p_value:.3g} from the {METHOD_TEXT[inf.method]} ({detail}; {exact}; "
        f"interval by test inversion) because {why_few}."
    )
    # SE and statistic: the ones the p-value refers to (the bootstrap-t's CRV1 standard
    # error and observed t), so that SE, statistic, p-value and interval form one method;
    # the analytic ones are kept by the caller (pipeline: record["analytic"]).
    se = inf.std_error if math.isfinite(inf.std_error) and inf.std_error > 0 else base.std_error
    if math.isclose(se, base.std_error, rel_tol=1e-6):
        se = base.std_error  # the same CRV1 (linear estimators): keep it to the last digit
    headline = Estimate(
        term=base.term,
        estimate=base.estimate,
        std_error=se,
        conf_low=inf.conf_low,
        conf_high=inf.conf_high,
        p_value=inf.p_value,
        event_time=base.event_time,
    )
    return FewClusterDecision(
        used=True,
        method=inf.method,
        reason=reason,
        headline=headline,
        inference=inf,
        n_clusters=g,
        n_treated_clusters=g_tr,
        threshold=threshold,
        notes=tuple(notes) + tuple(inf.warnings),
    )


def _not_available(
    base: Estimate, threshold: int, why: str, g: int = 0, g_tr: int = 0
) -> FewClusterDecision:
    return FewClusterDecision(
        used=False,
        method="analytic",
        reason=(
            "the few-cluster method is not available for this result, so the analytic "
            f"cluster-robust interval is shown and may be too narrow: {why}"
        ),
        headline=base,
        inference=None,
        n_clusters=g,
        n_treated_clusters=g_tr,
        threshold=threshold,
    )
