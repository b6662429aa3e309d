"""Joint Wald pre-trend test: are all pre-treatment effects zero?

For a :class:`~policylab.did.GroupTimeResult` the tested effects are the pre-treatment
``ATT(g, t)`` (``t < g - anticipation``; the reference cells of a universal base period are
0 by construction and left out) with their analytic influence-function covariance (clustered
as the result). With ``anticipation = 0`` this is R ``did``'s "P-value for pre-test of
parallel trends assumption" (``MP$Wpval``). For an event-study :class:`~policylab.did.DiDResult`
they are the lead coefficients (``event_time < -1``; ``-1`` is the reference) with the
result's cluster-robust covariance.

The statistic is the quadratic form ``b' V^-1 b``, compared with a chi-square distribution
with ``len(b)`` degrees of freedom.

A singular covariance is handled in two steps, the first as R ``did`` (``att_gt.R``, the
Wald pre-test; ``moderndid`` 0.2 ports it):

1. Effects whose standard error is missing or numerically zero (below R's
   ``sqrt(.Machine$double.eps) * 10``) are left out of the test, as R does.
2. If the covariance of the rest is still singular, R returns no statistic ("Not returning
   pre-test Wald statistic due to singular covariance matrix"). policylab goes one step
   further only where that is exact: when every effect outside a maximal linearly
   independent set (taken in term order) is, in its estimate **and** its covariance, the
   same linear combination of the effects in the set -- as in the example data, where a
   cohort whose members' outcome did not change between two years has a placebo ATT(g,t)
   identical to other cohorts' -- the dropped effects carry no information of their own,
   and the Wald test of the set (``df`` = its size, the rank of the covariance) equals
   ``b' V^+ b`` with the Moore-Penrose inverse. The result names the dropped effects and the
   rank in ``dropped`` and ``notes``. Otherwise -- typically a covariance clustered on fewer
   clusters than there are effects, whose rank is bounded by the cluster count while the
   estimates vary in directions it cannot see -- the test is not defined and a
   :class:`~policylab.errors.DesignError` says so, pointing to
   :func:`average_pretrend_test`. A generalized inverse is not used there: on the example
   data (clustered by consortium: 5-9 consortia hold members, rank 9-15 for 26-42 cells,
   estimates 5 to 1,700 standard errors off the span of the covariance) ``b' V^+ b`` gave
   p < 1e-5 in every region and outcome, Molise included, where no pre-trend is planted.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import DesignError
from ..results import DiDResult, GroupTimeResult, PretrendResult

__all__ = ["average_pretrend_test", "pretrend_test"]

# R did: standard errors at or below this are reported as NA and their cells left out of the
# pre-test (``se[se <= sqrt(.Machine$double.eps) * 10] <- NA``)
_SE_FLOOR = math.sqrt(np.finfo(float).eps) * 10
# a dropped effect counts as a combination of the kept ones when its estimate differs from
# that combination by less than this many of its standard errors (exact collinearity leaves
# ~1e-12; a covariance of too low a rank leaves differences of order one)
_COMBINATION_TOL = 1e-6


def _pre_estimates(result: GroupTimeResult | DiDResult, name: str):
    """(estimates, covariance, terms, source, left_out) of the pre-treatment effects of
    ``result``; ``left_out`` names the pre-treatment effects without a usable standard error."""
    if isinstance(result, GroupTimeResult):
        pre = result.is_pre
        if not pre.any():
            raise DesignError(
                "no pre-treatment group-time effect (t < g - anticipation) to test: every cohort "
                "is treated too early in the sample"
            )
        mask = pre & np.isfinite(result.analytic_se)  # att_gt sets SEs below R's floor to NaN
        terms_all = result.terms
        left_out = tuple(t for t, p, m in zip(terms_all, pre, mask, strict=True) if p and not m)
        if not mask.any():
            raise DesignError(
                f"every pre-treatment group-time effect ({', '.join(left_out)}) has a missing or "
                "zero standard error; there is nothing to test (R did: no pre-test)"
            )
        b = result.att[mask]
        V = result.vcov()[np.ix_(mask, mask)]
        terms = tuple(t for t, m in zip(terms_all, mask, strict=True) if m)
        source = "att_gt"
    elif isinstance(result, DiDResult):
        # TWFE event studies normalise event time -1 to zero, so their leads are e < -1. The
        # Callaway-Sant'Anna dynamic aggregation (varying base period) estimates e = -1 as a
        # genuine placebo (g-1 against g-2), so there every e < 0 is tested.
        cut = 0 if result.method == "callaway_santanna" else -1
        idx = [
            i
            for i, e in enumerate(result.estimates)
            if e.event_time is not None and e.event_time < cut
        ]
        if not idx:
            raise DesignError(
                f"{result.method} result has no lead coefficients (event_time < -1) to test; "
                "an event study with leads >= 2 has"
            )
        V_all = np.asarray(result.vcov)
        var = np.diag(V_all)[idx]
        ok = np.isfinite(var) & (np.sqrt(np.where(var > 0, var, 0.0)) > _SE_FLOOR)
        left_out = tuple(result.estimates[i].term for i, k in zip(idx, ok, strict=True) if not k)
        idx = [i for i, k in zip(idx, ok, strict=True) if k]
        if not idx:
            raise DesignError(
                f"every lead coefficient ({', '.join(left_out)}) has a missing or zero standard "
                "error; there is nothing to test"
            )
        b = np.array([result.estimates[i].estimate for i in idx])
        V = V_all[np.ix_(idx, idx)]
        terms = tuple(result.estimates[i].term for i in idx)
        source = result.method
    else:
        raise TypeError(
            f"{name} takes a GroupTimeResult (att_gt) or an event-study DiDResult, got "
            f"{type(result).__name__}"
        )
    return b, V, terms, source, left_out


def _independent(V: np.ndarray) -> list[int]:
    """Positions of a maximal linearly independent set of the effects, taken in order: an
    effect joins unless the covariance of the set with it is rank deficient (numpy's
    ``matrix_rank`` tolerance of the whole matrix)."""
    tol = float(np.linalg.svd(V, compute_uv=False).max()) * V.shape[0] * np.finfo(float).eps
    keep: list[int] = []
    for j in range(V.shape[0]):
        cand = [*keep, j]
        if np.linalg.matrix_rank(V[np.ix_(cand, cand)], tol=tol) == len(cand):
            keep = cand
    return keep


def _treated_clusters(result: GroupTimeResult | DiDResult) -> int | None:
    """Clusters holding treated units (GroupTimeResult clustered beyond the unit), else None."""
    if isinstance(result, GroupTimeResult) and result.unit_cluster is not None:
        treated = np.isfinite(result.unit_cohort)
        return int(np.unique(result.unit_cluster[treated]).size)
    return None


def _abbreviate(terms: tuple[str, ...] | list[str], n: int = 8) -> str:
    terms = list(terms)
    shown = ", ".join(terms[:n])
    return shown + (f" and {len(terms) - n} more" if len(terms) > n else "")


def _not_defined(result, q: int, rank: int, gap: float) -> DesignError:
    cluster = result.spec.get("cluster") if isinstance(result.spec, dict) else None
    g = _treated_clusters(result)
    where, hint = "", "average_pretrend_test(result, df=...) tests their average"
    if cluster and g:
        where = f", clustered by {cluster} with {g} clusters holding treated units"
        hint = (f"average_pretrend_test(result, df={g - 1}) tests their average against "
                f"t({g - 1}), the pre-trend test for few clusters")
    return DesignError(
        f"the covariance of the {q} pre-treatment estimates is singular (rank {rank}{where}) and "
        f"the estimates are not confined to the directions it covers (one lies {gap:.3g} "
        "standard errors off what the others imply), so the joint Wald test is not defined "
        f"(R did returns no pre-test here either); {hint}"
    )


def pretrend_test(result: GroupTimeResult | DiDResult) -> PretrendResult:
    """Joint Wald test that all pre-treatment effects of ``result`` are zero.

    Parameters
    ----------
    result : GroupTimeResult or DiDResult
        Group-time ATTs from :func:`policylab.did.estimators.callaway_santanna.att_gt` (every pre-treatment ATT(g,t)), or an
        event study whose lead terms are tested: ``event_study`` (event time < -1, the
        reference -1 being zero) or a Callaway-Sant'Anna dynamic aggregation packaged by
        :func:`policylab.did.estimators.callaway_santanna.headline.cs_headline_result` (event time < 0). With few clusters
        the many ATT(g,t) have a singular covariance; the aggregated event times then still
        give a test, and so does :func:`average_pretrend_test`.

    Returns
    -------
    PretrendResult
        ``statistic``, ``df``, ``p_value`` and the tested ``terms``, ``estimates``, ``vcov``
        (``statistic == estimates @ inv(vcov) @ estimates``). Effects left out are named in
        ``dropped`` and explained in ``notes``: those without a usable standard error (as R
        ``did``) and, where the covariance is singular, those that are exact linear
        combinations of the tested ones (then ``df`` is the rank of the covariance; see the
        module docstring).

    Raises
    ------
    TypeError
        ``result`` is neither kind.
    DesignError
        There is no pre-treatment effect to test, or their covariance is singular in a way
        the estimates do not share (typically: clustered on fewer clusters than there are
        pre-treatment effects; :func:`average_pretrend_test` is defined there).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from policylab.did import att_gt
    >>> rng = np.random.default_rng(3)
    >>> firms, years = np.arange(300), np.arange(2010, 2016)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 6), "year": np.tile(years, 300)})
    >>> df["joined"] = np.repeat(np.where(firms < 100, 0, 2012 + firms % 3), 6)
    >>> df["exports"] = rng.normal(0, 0.1, len(df))
    >>> test = pretrend_test(att_gt(df, outcome="exports", unit="firm", time="year",
    ...                             cohort="joined"))
    >>> test.df, bool(0 < test.p_value < 1)
    (6, True)
    """
    b, V, terms, source, left_out = _pre_estimates(result, "pretrend_test")
    q = b.size
    if not np.all(np.isfinite(V)):
        raise DesignError(
            "the covariance of the pre-treatment estimates has missing values; the joint Wald "
            "test is not defined (R did: no pre-test)"
        )
    notes: list[str] = []
    if left_out:
        notes.append(
            f"{len(left_out)} pre-treatment effect(s) left out for a missing or zero standard "
            f"error (as in R did): {_abbreviate(left_out)}"
        )
    dropped = list(left_out)
    keep = _independent(V) if np.linalg.matrix_rank(V) < q else list(range(q))
    rest = [j for j in range(q) if j not in keep]
    if rest:
        Vk = V[np.ix_(keep, keep)]
        implied = np.linalg.solve(Vk, V[np.ix_(keep, rest)]).T @ b[keep]
        gaps = np.abs(b[rest] - implied) / np.sqrt(np.diag(V)[rest])
        gap = float(gaps.max())
        if not gap <= _COMBINATION_TOL:
            raise _not_defined(result, q, len(keep), gap)
        gone = [terms[j] for j in rest]
        notes.append(
            f"covariance of the {q} pre-treatment effects has rank {len(keep)}: "
            f"{len(gone)} effect(s) are, in estimate and covariance, linear combinations of "
            f"the others (e.g. identical cells) and were dropped: {_abbreviate(gone)}; the test "
            f"uses the {len(keep)} linearly independent ones (equal to b' V^+ b), "
            "df = rank (R did returns no statistic for a singular covariance)"
        )
        dropped += gone
        b, V, terms = b[keep], Vk, tuple(terms[j] for j in keep)
        q = b.size
    stat = float(b @ np.linalg.solve(V, b))
    from scipy import stats

    return PretrendResult(
        statistic=stat,
        df=int(q),
        p_value=float(stats.chi2.sf(stat, q)),
        terms=terms,
        estimates=b.copy(),
        vcov=V.copy(),
        source=source,
        dropped=tuple(dropped),
        notes=tuple(notes),
    )


def average_pretrend_test(result: GroupTimeResult | DiDResult, *, df: int) -> PretrendResult:
    """t-test that the **average** pre-treatment effect of ``result`` is zero, against a t
    distribution with ``df`` degrees of freedom: the pre-trend test for few treated clusters.

    With few treated clusters the joint Wald test rejects far too often: its covariance of
    several pre-treatment estimates rests on a handful of cluster sums. In simulations
    (``studies/PRETREND.md``: the design of ``studies/coverage.py``, Callaway-Sant'Anna
    dynamic pre-terms, 4 of them, 500 replications) it rejected a true null 46-63% of the time
    at 5% with 6 treated consortia; this test, with ``df = treated clusters - 1``, rejected
    2.6-6.8% with 3 to 20. The price is power: a pre-trend of a third of the effect a year
    was found 18-23% of the time with 6-10 consortia. With a varying base period
    (Callaway-Sant'Anna) each pre-term is a one-year change, so their average is the average
    yearly pre-trend, the violation a selection on rising exports produces; for a TWFE event
    study (reference year -1) it is the average level difference before joining. It has no
    power against pre-terms that cancel out.

    Parameters
    ----------
    result : GroupTimeResult or DiDResult
        As for :func:`pretrend_test`.
    df : int
        Degrees of freedom of the reference t distribution, usually the number of clusters
        with treated units minus one.

    Returns
    -------
    PretrendResult
        ``statistic`` is the t statistic, ``df`` the given degrees of freedom,
        ``distribution == "t"``, ``test == "pretrend_average"``. Effects without a usable
        standard error are left out of the average (``dropped``, ``notes``).
    """
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df must be a positive integer, got {df!r}")
    b, V, terms, source, left_out = _pre_estimates(result, "average_pretrend_test")
    c = np.full(b.size, 1.0 / b.size)
    var = float(c @ V @ c)
    if not (np.isfinite(var) and var > 0):
        raise DesignError("the variance of the average pre-treatment estimate is not positive")
    from scipy import stats

    t = float(c @ b) / np.sqrt(var)
    return PretrendResult(
        statistic=t,
        df=int(df),
        p_value=float(2.0 * stats.t.sf(abs(t), df)),
        terms=terms,
        estimates=b.copy(),
        vcov=V.copy(),
        source=source,
        distribution="t",
        test="pretrend_average",
        dropped=left_out,
        notes=(f"{len(left_out)} pre-treatment effect(s) left out of the average for a missing or "
               f"zero standard error: {_abbreviate(left_out)}",) if left_out else (),
    )
