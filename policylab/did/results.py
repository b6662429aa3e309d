"""Frozen result objects of the DiD estimators.

Every estimate carries its standard error, confidence interval, p-value, method, sample
counts and warnings. ``tidy()`` is the one documented long table that reports, JSON and
comparisons are built from.
"""

from __future__ import annotations

import html as _html

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TIDY_COLUMNS = [
    "term",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]


# --- short reprs: results hold arrays (influence functions, covariances) that must not be printed


def _num(x: Any) -> str:
    """A number in 4 significant digits (``nan``/``inf`` as such)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f"{v:.4g}"


def _level(alpha: float) -> str:
    return f"{100 * (1 - float(alpha)):.4g}%"


def _estimate_text(e: Estimate, alpha: float) -> str:
    """``term = est (SE se, 95% CI [lo, hi], p = p)``."""
    return (f"{e.term} = {_num(e.estimate)} (SE {_num(e.std_error)}, {_level(alpha)} CI "
            f"[{_num(e.conf_low)}, {_num(e.conf_high)}], p = {float(e.p_value):.3g})")


def _counts(r: Any) -> str:
    return (f"n_obs={int(r.n_obs)}, n_units={int(r.n_units)}, n_treated={int(r.n_treated)}, "
            f"n_clusters={int(r.n_clusters)}")


def _n(k: int, word: str) -> str:
    """``"1 estimate"``, ``"5 estimates"``."""
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def _warned(warnings: tuple[str, ...]) -> str:
    return f", {_n(len(warnings), 'warning')}" if warnings else ""


class Summarised:
    """``summary()`` and ``_repr_html_`` (notebooks) from a result's short ``__repr__`` and
    its ``tidy()`` table: the headline line, then one row per estimate."""

    def summary(self) -> str:
        """The repr line and ``tidy()`` as a fixed-width text table."""
        return f"{self!r}\n{self.tidy().to_string(index=False)}"  # type: ignore[attr-defined]

    def _repr_html_(self) -> str:
        table = self.tidy().to_html(index=False, na_rep="", border=0)  # type: ignore[attr-defined]
        return f"<p>{_html.escape(repr(self))}</p>\n{table}"


@dataclass(frozen=True)
class Estimate:
    """One coefficient or aggregate with its inference.

    ``event_time`` is years since joining (0 = the join year) for event-study terms,
    ``None`` otherwise. ``conf_low``/``conf_high`` are the ``1 - alpha`` interval of the
    result that holds this estimate.
    """

    term: str
    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    p_value: float
    event_time: int | None = None

    @property
    def statistic(self) -> float:
        return self.estimate / self.std_error if self.std_error > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "event_time": self.event_time,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
        }


@dataclass(frozen=True)
class DiDResult(Summarised):
    """The result of one DiD estimation.

    Attributes
    ----------
    method : str
        ``"did_2x2"``, ``"twfe"`` or ``"event_study"``.
    outcome : str
        Name of the outcome column.
    estimates : tuple of Estimate
        Every coefficient (event-study terms ordered by event time).
    headline : Estimate
        The one number a report shows: the ATT for 2x2 and TWFE; for an event study the
        average of the post-join terms weighted by treated firm-years.
    vcov : ndarray
        Covariance matrix of ``estimates`` (same order).
    vcov_type : str
        E.g. ``"CRV1 clustered by consortium (fixest small-sample correction)"``.
    n_obs, n_units, n_treated, n_clusters : int
        Observations used, firms, treated firms, clusters of the variance estimator.
    spec : dict
        The arguments that produced the result.
    warnings : tuple of str
        Caveats a reader must see (few clusters, dropped singletons ...).
    """

    method: str
    outcome: str
    estimates: tuple[Estimate, ...]
    headline: Estimate
    vcov: np.ndarray
    vcov_type: str
    alpha: float
    n_obs: int
    n_units: int
    n_treated: int
    n_clusters: int
    spec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(method={self.method!r}, outcome={self.outcome!r}: "
                f"{_estimate_text(self.headline, self.alpha)}; "
                f"{_n(len(self.estimates), 'estimate')}, {_counts(self)}{_warned(self.warnings)})")

    def tidy(self) -> pd.DataFrame:
        """Every estimate as one row: ``term, event_time, estimate, std_error, statistic,
        p_value, conf_low, conf_high``."""
        rows = [e.to_dict() for e in self.estimates]
        df = pd.DataFrame(rows, columns=TIDY_COLUMNS)
        df["event_time"] = df["event_time"].astype("Int64")
        return df

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (no numpy types)."""
        return {
            "method": self.method,
            "outcome": self.outcome,
            "headline": self.headline.to_dict(),
            "estimates": [e.to_dict() for e in self.estimates],
            "vcov_type": self.vcov_type,
            "alpha": self.alpha,
            "n_obs": int(self.n_obs),
            "n_units": int(self.n_units),
            "n_treated": int(self.n_treated),
            "n_clusters": int(self.n_clusters),
            "spec": self.spec,
            "warnings": list(self.warnings),
        }


# --- staggered-adoption results (Sun-Abraham, ETWFE) and the Goodman-Bacon decomposition ---

CELL_TIDY_COLUMNS = [
    "cohort",
    "time",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "n_obs",
]


@dataclass(frozen=True)
class CellEstimate:
    """One cohort-by-period effect: ATT(g, t) of ETWFE or CATT(g, e) of Sun-Abraham.

    ``time`` is the calendar period of the cell, ``None`` for a Sun-Abraham end-point bin
    that pools several periods. ``n_obs`` is the number of treated-cohort observations in
    the cell, the aggregation weight.
    """

    cohort: int
    event_time: int
    time: int | None
    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    p_value: float
    n_obs: int

    @property
    def statistic(self) -> float:
        return self.estimate / self.std_error if self.std_error > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "cohort": self.cohort,
            "time": self.time,
            "event_time": self.event_time,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
            "n_obs": int(self.n_obs),
        }


@dataclass(frozen=True)
class EffectScale:
    """The same effects on another scale (ETWFE Poisson: percent change, ``100 * (R - 1)``
    where ``R`` is treated over counterfactual mean outcome; for one cell ``exp(b) - 1``)."""

    name: str
    headline: Estimate
    estimates: tuple[Estimate, ...]
    by_cohort: tuple[Estimate, ...]
    cells: tuple[CellEstimate, ...]

    def __repr__(self) -> str:
        h = self.headline
        return (f"EffectScale(name={self.name!r}: {h.term} = {_num(h.estimate)} (SE "
                f"{_num(h.std_error)}, CI [{_num(h.conf_low)}, {_num(h.conf_high)}]); "
                f"{_n(len(self.estimates), 'estimate')}, {_n(len(self.by_cohort), 'cohort')}, "
                f"{_n(len(self.cells), 'cell')})")


@dataclass(frozen=True)
class StaggeredResult(DiDResult):
    """A :class:`DiDResult` built from cohort-by-period effects (``sun_abraham``, ``etwfe``).

    ``estimates`` are the event-time aggregates (term ``"event_time::<e>"``), ``vcov``
    their covariance and ``headline`` the overall ATT (term ``"att"``). In addition:

    by_cohort : tuple of Estimate
        Post-treatment average per cohort (term ``"cohort::<g>"``).
    cells : tuple of CellEstimate
        The cohort-by-period coefficients everything is aggregated from.
    percent : EffectScale or None
        ETWFE Poisson only: every effect as a percent change.
    """

    by_cohort: tuple[Estimate, ...] = ()
    cells: tuple[CellEstimate, ...] = ()
    percent: EffectScale | None = None

    def __repr__(self) -> str:
        extra = f", {self.percent.name} scale" if self.percent is not None else ""
        return (f"{type(self).__name__}(method={self.method!r}, outcome={self.outcome!r}: "
                f"{_estimate_text(self.headline, self.alpha)}; "
                f"{_n(len(self.estimates), 'event-time estimate')}, "
                f"{_n(len(self.by_cohort), 'cohort')}, {_n(len(self.cells), 'cell')}{extra}, "
                f"{_counts(self)}{_warned(self.warnings)})")

    def tidy(self, kind: str = "event", *, scale: str = "level") -> pd.DataFrame:
        """One row per effect.

        Parameters
        ----------
        kind : {"event", "overall", "cohort", "cell"}
            ``"event"`` (default) has the columns of :meth:`DiDResult.tidy`; ``"overall"``
            is the headline alone; ``"cohort"`` adds a ``cohort`` column; ``"cell"`` has
            ``cohort, time, event_time, estimate, std_error, statistic, p_value, conf_low,
            conf_high, n_obs``.
        scale : {"level", "percent"}
            ``"percent"`` only for results that carry :attr:`percent`.
        """
        kinds = ("event", "overall", "cohort", "cell")
        if kind not in kinds:
            raise ValueError(f"kind must be one of {kinds}, got {kind!r}")
        if scale not in ("level", "percent"):
            raise ValueError(f"scale must be one of ('level', 'percent'), got {scale!r}")
        if scale == "percent":
            if self.percent is None:
                raise ValueError(f"{self.method} results have no percent scale")
            src = self.percent
            headline, estimates, by_cohort, cells = (
                src.headline,
                src.estimates,
                src.by_cohort,
                src.cells,
            )
        else:
            headline, estimates, by_cohort, cells = (
                self.headline,
                self.estimates,
                self.by_cohort,
                self.cells,
            )
        if kind == "cell":
            df = pd.DataFrame([c.to_dict() for c in cells], columns=CELL_TIDY_COLUMNS)
            df["time"] = df["time"].astype("Int64")
            return df
        rows = {"event": estimates, "overall": (headline,), "cohort": by_cohort}[kind]
        df = pd.DataFrame([e.to_dict() for e in rows], columns=TIDY_COLUMNS)
        df["event_time"] = df["event_time"].astype("Int64")
        if kind == "cohort":
            df.insert(1, "cohort", [int(e.term.split("::")[1]) for e in rows])
        return df

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["by_cohort"] = [e.to_dict() for e in self.by_cohort]
        out["cells"] = [c.to_dict() for c in self.cells]
        if self.percent is not None:
            out["percent"] = {
                "name": self.percent.name,
                "headline": self.percent.headline.to_dict(),
                "estimates": [e.to_dict() for e in self.percent.estimates],
                "by_cohort": [e.to_dict() for e in self.percent.by_cohort],
                "cells": [c.to_dict() for c in self.percent.cells],
            }
        return out


BACON_TIDY_COLUMNS = ["type", "treated", "control", "estimate", "weight"]


@dataclass(frozen=True)
class BaconComparison:
    """One 2x2 comparison of the Goodman-Bacon decomposition.

    ``treated`` and ``control`` are first treated periods; ``control`` is ``None`` for the
    never-treated group. ``type`` is one of ``"Earlier vs Later Treated"``, ``"Later vs
    Earlier Treated"``, ``"Treated vs Untreated"``, ``"Later vs Always Treated"``.
    """

    type: str
    treated: int
    control: int | None
    estimate: float
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "treated": self.treated,
            "control": self.control,
            "estimate": self.estimate,
            "weight": self.weight,
        }


@dataclass(frozen=True)
class BaconResult(Summarised):
    """Goodman-Bacon (2021) decomposition of a static TWFE coefficient.

    ``comparisons`` hold every 2x2 estimate and its weight (weights sum to 1);
    ``twfe`` is the TWFE fit being decomposed (its ``headline`` carries the SE, CI and
    p-value), and ``sum(weight * estimate)`` equals ``twfe.headline.estimate``.
    """

    outcome: str
    comparisons: tuple[BaconComparison, ...]
    twfe: DiDResult
    spec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    method: str = "bacon"

    def __repr__(self) -> str:
        return (f"BaconResult(method={self.method!r}, outcome={self.outcome!r}: TWFE "
                f"{_estimate_text(self.headline, self.twfe.alpha)}; 2x2 comparisons: "
                f"{len(self.comparisons)}{_warned(self.warnings)})")

    @property
    def estimate(self) -> float:
        """``sum(weight * estimate)`` over the comparisons: the TWFE coefficient."""
        return float(sum(c.weight * c.estimate for c in self.comparisons))

    @property
    def headline(self) -> Estimate:
        return self.twfe.headline

    def tidy(self) -> pd.DataFrame:
        """One row per 2x2 comparison: ``type, treated, control, estimate, weight``."""
        df = pd.DataFrame([c.to_dict() for c in self.comparisons], columns=BACON_TIDY_COLUMNS)
        df["control"] = df["control"].astype("Int64")
        return df

    def summary(self) -> pd.DataFrame:
        """Per comparison type: total ``weight`` and weighted average ``estimate`` (the
        table ``bacondecomp::bacon()`` prints)."""
        df = self.tidy()
        df["product"] = df["weight"] * df["estimate"]
        out = df.groupby("type", sort=False).agg(weight=("weight", "sum"), product=("product", "sum"))
        out["estimate"] = out["product"] / out["weight"]
        return out[["weight", "estimate"]].reset_index()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "outcome": self.outcome,
            "estimate": self.estimate,
            "twfe": self.twfe.to_dict(),
            "comparisons": [c.to_dict() for c in self.comparisons],
            "spec": self.spec,
            "warnings": list(self.warnings),
        }


# --- Callaway-Sant'Anna: group-time ATTs, their aggregations, pre-trend tests ---

GROUP_TIME_TIDY_COLUMNS = [
    "term",
    "group",
    "time",
    "event_time",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]
AGGREGATE_TIDY_COLUMNS = [
    "term",
    "group",
    "event_time",
    "time",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]
POINT_BAND_COLUMNS = ["point_conf_low", "point_conf_high"]


def _readonly(*arrays: np.ndarray | None) -> None:
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)


def _normal_stats(est: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z statistics and two-sided normal p-values (NaN where the SE is not available)."""
    import math

    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / se, np.nan)
    p = np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in z.tolist()], dtype=np.float64)
    return z, p


def _ints(x: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(x, dtype=np.int64), dtype="Int64")


@dataclass(frozen=True, eq=False)
class GroupTimeResult(Summarised):
    """Callaway and Sant'Anna (2021) group-time average treatment effects, ``ATT(g, t)``.

    One entry per estimated cell (group ``g`` = first treated period, period ``t``), ordered
    by group and then period, as R ``did``'s ``MP`` object. Cells that have no valid comparison
    group are not listed (see ``warnings``). Arrays are read-only.

    Attributes
    ----------
    outcome : str
        Outcome column.
    group, time, base_period : ndarray of int
        Cohort, period and the base (comparison) period of each cell.
    att, se : ndarray
        Estimates and standard errors: analytic (influence function, clustered by unit or by
        ``spec["cluster"]`` with cluster **sums**) or, when ``spec["bootstrap"]`` is set, the
        multiplier-bootstrap standard errors (interquartile range, as R ``did``). ``se`` is
        NaN for the reference cells of a universal base period (their ATT is 0 by
        construction) and wherever it would be numerically zero.
    analytic_se : ndarray
        The analytic standard errors (equal to ``se`` without bootstrap).
    conf_low, conf_high : ndarray
        ``1 - alpha`` intervals: the uniform (sup-t) band when ``uniform_band`` is true (a
        bootstrap was run), otherwise pointwise normal intervals.
    point_conf_low, point_conf_high : ndarray
        Pointwise normal intervals ``att -/+ z * se``.
    critical_value : float
        Multiplier of ``se`` in ``conf_low/conf_high``.
    influence : ndarray, shape (n_units, n_cells), float64
        Influence function, R ``did``'s convention: the covariance of ``att`` is
        ``S'S / n_units**2`` with ``S`` the within-cluster sums of the rows. Row ``i`` belongs
        to ``units[i]``; align rows by unit label, never by the row order of the input data.
    units, unit_cohort : ndarray
        Unit label and cohort of each influence-function row (``inf`` = never treated, which
        includes units first treated after the last period). Sorted by cohort, then label.
        For repeated cross-sections without ``unit`` the labels are the row positions in
        ``data``.
    unit_weight, unit_cluster : ndarray or None
        Sampling weight and cluster code of each row (``None`` when not given).
    cell_n_treated, cell_n_control : ndarray of int
        Treated and comparison units (observations for repeated cross-sections) of each cell.
    comparison_cohorts : tuple of ndarray
        For each cell, the cohorts whose units formed its comparison group (``inf`` = never
        treated). A cell's influence function is zero outside its cohort and these cohorts.
    n_units, n_treated, n_clusters, n_obs : int
        Units (rows of ``influence``), units in an estimated cohort, clusters of the variance
        (``n_units`` when not clustered), observations used.
    alpha : float
    anticipation : int
    design : str
        ``"panel"``, ``"unbalanced_panel"`` (estimated with the repeated cross-section
        estimators and unit-level influence functions, as R ``did``'s
        ``allow_unbalanced_panel = TRUE``) or ``"repeated_cross_section"``.
    spec : dict
        The arguments that produced the result.
    warnings : tuple of str
        Caveats: skipped cells, dropped units, design notes, few clusters.
    """

    outcome: str
    group: np.ndarray
    time: np.ndarray
    base_period: np.ndarray
    att: np.ndarray
    se: np.ndarray
    analytic_se: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    point_conf_low: np.ndarray
    point_conf_high: np.ndarray
    critical_value: float
    uniform_band: bool
    influence: np.ndarray
    units: np.ndarray
    unit_cohort: np.ndarray
    unit_weight: np.ndarray | None
    unit_cluster: np.ndarray | None
    cell_n_treated: np.ndarray
    cell_n_control: np.ndarray
    comparison_cohorts: tuple[np.ndarray, ...]
    n_units: int
    n_treated: int
    n_clusters: int
    n_obs: int
    alpha: float
    anticipation: int
    design: str
    spec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    method: str = "att_gt"

    def __post_init__(self) -> None:
        _readonly(
            self.group, self.time, self.base_period, self.att, self.se, self.analytic_se,
            self.conf_low, self.conf_high, self.point_conf_low, self.point_conf_high,
            self.influence, self.units, self.unit_cohort, self.unit_weight, self.unit_cluster,
            self.cell_n_treated, self.cell_n_control, *self.comparison_cohorts,
        )  # fmt: skip

    def __repr__(self) -> str:
        groups = np.unique(self.group)
        span = (f"{_n(len(groups), 'cohort')} {int(groups.min())}-{int(groups.max())}, periods "
                f"{int(self.time.min())}-{int(self.time.max())}") if self.att.size else "no cells"
        se = "multiplier bootstrap" if self.spec.get("bootstrap") else "analytic"
        cluster = self.spec.get("cluster")
        se += f", clustered by {cluster}" if cluster else ""
        return (f"GroupTimeResult(method={self.method!r}, outcome={self.outcome!r}: "
                f"{self.att.size} ATT(g,t) ({span}; {int(self.is_pre.sum())} pre-treatment), "
                f"SE {se}; design={self.design}, {_counts(self)}{_warned(self.warnings)}; "
                "overall effect: aggregate(result, 'simple'))")

    @property
    def event_time(self) -> np.ndarray:
        """``time - group`` of each cell."""
        return self.time - self.group

    @property
    def is_reference(self) -> np.ndarray:
        """Cells whose period is their own base period (universal base; ATT = 0, no SE)."""
        return self.time == self.base_period

    @property
    def is_pre(self) -> np.ndarray:
        """Pre-treatment (placebo) cells: ``t < g - anticipation``, reference cells excluded."""
        return (self.time < self.group - self.anticipation) & ~self.is_reference

    @property
    def terms(self) -> list[str]:
        """Term names ``"ATT(g,t)"``."""
        return [f"ATT({g},{t})" for g, t in zip(self.group, self.time, strict=True)]

    def vcov(self) -> np.ndarray:
        """Analytic covariance of ``att`` from the influence function (clustered as ``se``)."""
        from .core.influence import vcov

        return vcov(self.influence, self.unit_cluster)

    def tidy(self) -> pd.DataFrame:
        """One row per cell.

        Columns: ``term`` (``"ATT(g,t)"``), ``group``, ``time``, ``event_time`` (``t - g``),
        ``estimate``, ``std_error``, ``statistic`` (estimate / std_error), ``p_value``
        (pointwise, two-sided normal; it does not account for multiple testing),
        ``conf_low``, ``conf_high`` (the uniform band when ``uniform_band``, else pointwise)
        and, only when a uniform band is used, ``point_conf_low``, ``point_conf_high``.
        """
        z, p = _normal_stats(self.att, self.se)
        df = pd.DataFrame(
            {
                "term": self.terms,
                "group": _ints(self.group),
                "time": _ints(self.time),
                "event_time": _ints(self.event_time),
                "estimate": self.att,
                "std_error": self.se,
                "statistic": z,
                "p_value": p,
                "conf_low": self.conf_low,
                "conf_high": self.conf_high,
            },
            columns=GROUP_TIME_TIDY_COLUMNS,
        )
        if self.uniform_band:
            df["point_conf_low"] = self.point_conf_low
            df["point_conf_high"] = self.point_conf_high
        return df

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (no numpy types, no influence function)."""
        rows = self.tidy().astype(object).where(self.tidy().notna(), None)
        return {
            "method": self.method,
            "outcome": self.outcome,
            "estimates": rows.to_dict(orient="records"),
            "critical_value": float(self.critical_value),
            "uniform_band": bool(self.uniform_band),
            "alpha": self.alpha,
            "design": self.design,
            "n_units": int(self.n_units),
            "n_treated": int(self.n_treated),
            "n_clusters": int(self.n_clusters),
            "n_obs": int(self.n_obs),
            "spec": self.spec,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, eq=False)
class AggregateResult(Summarised):
    """An aggregation of group-time ATTs (R ``did``'s ``aggte``), frozen.

    Attributes
    ----------
    kind : str
        ``"simple"``, ``"group"``, ``"dynamic"`` or ``"calendar"``.
    overall : Estimate
        The overall summary (term ``"overall"``) with a pointwise normal interval: the
        group-size weighted average of post-treatment ATT(g,t) (simple); of the group
        effects (group); the average of the event-time effects at ``e >= 0`` (dynamic); the
        average of the period effects (calendar).
    keys : ndarray of int
        The element of each aggregated effect: group, event time or period (empty for
        ``"simple"``).
    estimates, std_errors, conf_low, conf_high, point_conf_low, point_conf_high : ndarray
        The elements; ``conf_*`` is the uniform band when ``uniform_band`` (bootstrap).
    critical_value : float
    uniform_band : bool
    vcov : ndarray
        Covariance of the elements (analytic, from their influence functions, including the
        term for estimated group-size weights).
    weights : ndarray, shape (n_elements, n_cells)
        Each element as a linear combination of the result's ATT(g,t) (``cell_group``,
        ``cell_time``); ``overall_weights`` likewise for the overall estimate.
    """

    kind: str
    outcome: str
    overall: Estimate
    keys: np.ndarray
    estimates: np.ndarray
    std_errors: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    point_conf_low: np.ndarray
    point_conf_high: np.ndarray
    critical_value: float
    uniform_band: bool
    vcov: np.ndarray
    weights: np.ndarray
    overall_weights: np.ndarray
    cell_group: np.ndarray
    cell_time: np.ndarray
    n_units: int
    n_treated: int
    n_clusters: int
    alpha: float
    spec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _readonly(
            self.keys, self.estimates, self.std_errors, self.conf_low, self.conf_high,
            self.point_conf_low, self.point_conf_high, self.vcov, self.weights,
            self.overall_weights, self.cell_group, self.cell_time,
        )  # fmt: skip

    def __repr__(self) -> str:
        k = self.keys.size
        elements = (f"; {k} {self.key_name} effects {int(self.keys.min())} to "
                    f"{int(self.keys.max())}" if k else "")
        band = " (uniform band)" if self.uniform_band and k else ""
        return (f"AggregateResult(method='aggregate:{self.kind}', outcome={self.outcome!r}: "
                f"{_estimate_text(self.overall, self.alpha)}{elements}{band}; "
                f"n_units={int(self.n_units)}, n_treated={int(self.n_treated)}, "
                f"n_clusters={int(self.n_clusters)}{_warned(self.warnings)})")

    @property
    def estimate(self) -> float:
        """The overall estimate."""
        return self.overall.estimate

    @property
    def std_error(self) -> float:
        """Standard error of the overall estimate."""
        return self.overall.std_error

    @property
    def key_name(self) -> str | None:
        return {"group": "group", "dynamic": "event_time", "calendar": "time"}.get(self.kind)

    def tidy(self) -> pd.DataFrame:
        """The overall estimate (first row, term ``"overall"``) and then each element.

        Columns: ``term`` (``"overall"``, ``"group::2004"``, ``"event_time::-1"``,
        ``"time::2006"``), ``group``, ``event_time``, ``time`` (the element's key in its own
        column, missing elsewhere), ``estimate``, ``std_error``, ``statistic``, ``p_value``
        (pointwise normal), ``conf_low``, ``conf_high`` (uniform band for the elements when
        ``uniform_band``; the overall row is always pointwise) and, only with a uniform band,
        ``point_conf_low``, ``point_conf_high``.
        """
        o = self.overall
        k = self.keys.size
        name = self.key_name
        z, p = _normal_stats(self.estimates, self.std_errors)
        cols: dict[str, Any] = {
            "term": ["overall"] + [f"{name}::{int(v)}" for v in self.keys],
            "estimate": np.r_[o.estimate, self.estimates],
            "std_error": np.r_[o.std_error, self.std_errors],
            "statistic": np.r_[o.statistic, z],
            "p_value": np.r_[o.p_value, p],
            "conf_low": np.r_[o.conf_low, self.conf_low],
            "conf_high": np.r_[o.conf_high, self.conf_high],
        }
        for col in ("group", "event_time", "time"):
            vals = pd.Series([pd.NA] * (k + 1), dtype="Int64")
            if col == name and k:
                vals.iloc[1:] = np.asarray(self.keys, dtype=np.int64)
            cols[col] = vals
        df = pd.DataFrame(cols, columns=AGGREGATE_TIDY_COLUMNS)
        if self.uniform_band:
            df["point_conf_low"] = np.r_[o.conf_low, self.point_conf_low]
            df["point_conf_high"] = np.r_[o.conf_high, self.point_conf_high]
        return df

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        t = self.tidy()
        rows = t.astype(object).where(t.notna(), None)
        return {
            "method": f"aggregate:{self.kind}",
            "outcome": self.outcome,
            "overall": self.overall.to_dict(),
            "estimates": rows.to_dict(orient="records"),
            "critical_value": float(self.critical_value),
            "uniform_band": bool(self.uniform_band),
            "alpha": self.alpha,
            "n_units": int(self.n_units),
            "n_treated": int(self.n_treated),
            "n_clusters": int(self.n_clusters),
            "spec": self.spec,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, eq=False)
class PretrendResult:
    """Joint Wald test that pre-treatment effects are zero (or, ``test ==
    "pretrend_average"``, a t-test of their average; see ``average_pretrend_test``).

    ``statistic = b' V^-1 b`` for the tested estimates ``b`` (``terms``) with covariance
    ``V``; ``p_value`` from the chi-square distribution with ``df = len(b)`` degrees of
    freedom. ``dropped`` names the pre-treatment effects left out of the test and ``notes``
    says why (a missing or zero standard error; an exact linear combination of the tested
    effects where their covariance is singular, so that ``df`` is its rank).
    """

    statistic: float
    df: int
    p_value: float
    terms: tuple[str, ...]
    estimates: np.ndarray
    vcov: np.ndarray
    source: str
    distribution: str = "chi2"
    test: str = "pretrend_wald"  # or "pretrend_average" (average_pretrend_test)
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _readonly(self.estimates, self.vcov)

    def __repr__(self) -> str:
        dropped = f", {len(self.dropped)} left out (see notes)" if self.dropped else ""
        return (f"PretrendResult(test={self.test!r}, source={self.source!r}: statistic = "
                f"{_num(self.statistic)} ~ {self.distribution}({int(self.df)}), p = "
                f"{float(self.p_value):.3g}; {_n(len(self.terms), 'effect')} tested{dropped})")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record; ``dropped`` and ``notes`` only when some effect was left out."""
        out: dict[str, Any] = {
            "test": self.test,
            "source": self.source,
            "statistic": float(self.statistic),
            "df": int(self.df),
            "p_value": float(self.p_value),
            "distribution": self.distribution,
            "terms": list(self.terms),
        }
        if self.dropped or self.notes:
            out["dropped"] = list(self.dropped)
            out["notes"] = list(self.notes)
        return out


# --- few-cluster inference: wild / score / multiplier bootstrap, randomization inference ---

FEW_CLUSTER_TIDY_COLUMNS = [
    *TIDY_COLUMNS,
    "method",
    "draws",
    "weights",
    "exact",
    "n_clusters",
    "n_treated_clusters",
]


@dataclass(frozen=True, eq=False)
class FewClusterResult(Summarised):
    """Few-cluster inference on one estimate (:func:`policylab.did.wild_bootstrap`,
    :func:`policylab.did.multiplier_bootstrap`, :func:`policylab.did.randomization_inference`).

    Attributes
    ----------
    method : str
        ``"wild_cluster_restricted_bootstrap"`` (WCR), ``"wild_cluster_unrestricted_bootstrap"``
        (WCU), ``"score_bootstrap_restricted"`` / ``"score_bootstrap_unrestricted"`` (Poisson),
        ``"multiplier_bootstrap"`` (Callaway-Sant'Anna aggregates) or
        ``"randomization_inference"``.
    estimator : str
        The estimator whose estimate is tested (``"twfe"``, ``"event_study"``, ``"did_2x2"``,
        ``"etwfe"``, ``"att_gt"``).
    term : str
        The tested term (``"att"``, ``"avg_post"``, ``"event_time::2"``, ``"overall"`` ...).
    estimate : float
        The point estimate (unchanged: only the inference differs).
    std_error : float
        CRV1 standard error for the wild and score bootstraps (the denominator of the
        bootstrap-t statistic), the bootstrap standard error for the multiplier bootstrap,
        NaN for randomization inference.
    statistic : float
        The observed test statistic at ``null``: ``(estimate - null) / std_error`` for the
        bootstraps, ``estimate - null`` for randomization inference.
    p_value : float
        Two-sided (symmetric) p-value of ``estimate == null``.
    conf_low, conf_high : float
        ``1 - alpha`` confidence interval by test inversion (``-inf``/``inf`` when the data
        cannot reject any value on that side; NaN when not computed).
    draws : int
        Bootstrap draws or permutations used (all of them when ``exact``).
    weights : str or None
        ``"rademacher"`` or ``"webb"``; ``None`` for randomization inference.
    exact : bool
        Every distinct draw (``2**G`` Rademacher / ``6**G`` Webb sign vectors, or every
        distinct permutation) was enumerated, so the p-value has no simulation error.
    n_clusters, n_treated_clusters : int
        Clusters (resampled units) and clusters holding treated units.
    seed : int or None
        Seed that reproduces the draws (``None`` when ``exact``).
    spec : dict
        The options that produced the result.
    warnings : tuple of str
        Caveats (unbounded interval, disconnected acceptance region, coarse p-values ...).
    """

    method: str
    estimator: str
    term: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    conf_low: float
    conf_high: float
    alpha: float
    null: float
    draws: int
    weights: str | None
    exact: bool
    n_clusters: int
    n_treated_clusters: int
    seed: int | None
    spec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        exact = " (exact)" if self.exact else ""
        weights = f", {self.weights} weights" if self.weights else ""
        return (f"FewClusterResult(method={self.method!r}, estimator={self.estimator!r}: "
                f"{self.term} = {_num(self.estimate)} (SE {_num(self.std_error)}, "
                f"{_level(self.alpha)} CI [{_num(self.conf_low)}, {_num(self.conf_high)}], "
                f"p = {float(self.p_value):.3g}); {_n(int(self.draws), 'draw')}{exact}{weights}, "
                f"{int(self.n_treated_clusters)} of {int(self.n_clusters)} clusters treated"
                f"{_warned(self.warnings)})")

    def as_estimate(self) -> Estimate:
        """The estimate with this inference's interval and p-value (``std_error`` as stored)."""
        return Estimate(
            term=self.term,
            estimate=self.estimate,
            std_error=self.std_error,
            conf_low=self.conf_low,
            conf_high=self.conf_high,
            p_value=self.p_value,
        )

    def tidy(self) -> pd.DataFrame:
        """One row: ``term, event_time, estimate, std_error, statistic, p_value, conf_low,
        conf_high`` (as :meth:`DiDResult.tidy`) and ``method, draws, weights, exact,
        n_clusters, n_treated_clusters``."""
        row = {
            "term": self.term,
            "event_time": pd.NA,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
            "method": self.method,
            "draws": self.draws,
            "weights": self.weights,
            "exact": self.exact,
            "n_clusters": self.n_clusters,
            "n_treated_clusters": self.n_treated_clusters,
        }
        if self.term.startswith("event_time::"):
            row["event_time"] = int(self.term.split("::")[1])
        df = pd.DataFrame([row], columns=FEW_CLUSTER_TIDY_COLUMNS)
        df["event_time"] = df["event_time"].astype("Int64")
        return df

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (non-finite interval ends become ``None``)."""

        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "method": self.method,
            "estimator": self.estimator,
            "term": self.term,
            "estimate": float(self.estimate),
            "std_error": num(self.std_error),
            "statistic": num(self.statistic),
            "p_value": num(self.p_value),
            "conf_low": num(self.conf_low),
            "conf_high": num(self.conf_high),
            "alpha": self.alpha,
            "null": self.null,
            "draws": int(self.draws),
            "weights": self.weights,
            "exact": bool(self.exact),
            "n_clusters": int(self.n_clusters),
            "n_treated_clusters": int(self.n_treated_clusters),
            "seed": self.seed,
            "spec": self.spec,
            "warnings": list(self.warnings),
        }
