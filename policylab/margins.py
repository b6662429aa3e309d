"""Export margins: does the programme work by turning non-exporters into exporters, or by
raising the exports of firms that already export?

Per region, on the firm-year panel (:func:`policylab.did.panel.firm_panel`):

``extensive``
    effect on export propensity (``exporter``, share of firms exporting), all firms;
``intensive``
    effect on ``log_exports`` among *prior exporters* only (firms that exported in at least
    one year before the region's first consortium took members in);
``markets``
    effect on the number of destination countries (``n_export_markets``), all firms;
``value``
    effect on export value in EUR by Poisson extended TWFE (zeros kept), as a percent change.

**The split of the extra export value.** A linear DiD estimator is linear in the outcome, so
with ``prior`` a fixed, pre-programme trait of each firm,
``ATT(exports) = ATT(exports x prior) + ATT(exports x (1 - prior))`` exactly, on the same
sample and with the same weights. The second term is the extra export value coming from firms
that did not export before the programme (most of it: firms that started exporting), the
first from firms that already exported. Each term is a Callaway-Sant'Anna estimate in EUR per
member firm and year with its own (few-cluster) interval. The percent is the total's effect
over members' counterfactual mean (their mean observed exports in member years less the
effect); the decomposition puts the same percent into the two groups' points.

The fits are passed in (``fit(panel, outcome) -> (DiDResult, inference record)``), so this
module computes and :mod:`policylab.pipeline` decides how each estimate is inferred.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .did.results import DiDResult
from .units import effect_text

__all__ = ["MARGINS", "Margin", "RegionMargins", "ValueSplit", "export_margins",
           "prior_exporters"]

#: The margins, in report order: (name, label, panel column, sample, unit).
MARGINS: tuple[tuple[str, str, str, str], ...] = (
    ("extensive", "Export propensity (extensive margin)", "exporter", "all firms"),
    ("intensive", "Log exports of prior exporters (intensive margin)", "log_exports",
     "prior exporters"),
    ("markets", "Destination countries", "n_export_markets", "all firms"),
    ("value", "Export value (Poisson)", "exports_eur", "all firms"),
)

Fit = Callable[[pd.DataFrame, str], tuple[DiDResult, dict[str, Any]]]


@dataclass(frozen=True)
class Margin:
    """One margin's effect: the estimator's result with its inference record."""

    name: str
    label: str
    outcome: str  # the panel column estimated
    sample: str  # "all firms" or "prior exporters"
    result: DiDResult
    inference: dict[str, Any]
    percent: tuple[float, float, float] | None = None  # value margin: estimate, low, high (%)


@dataclass(frozen=True)
class ValueSplit:
    """Where the extra export value comes from (EUR per member firm and year).

    ``total`` = ``from_prior_exporters`` + ``from_new_exporters`` exactly (same estimator,
    same sample). ``counterfactual_mean`` is members' mean observed exports in member years
    less the total effect; ``percent`` the total over it.
    """

    total: DiDResult
    from_prior_exporters: DiDResult
    from_new_exporters: DiDResult
    inference: dict[str, dict[str, Any]]  # by "total", "prior", "new"
    counterfactual_mean: float
    percent: float

    @property
    def share_new(self) -> float:
        """Share of the extra export value from firms that did not export before (may fall
        outside 0-1 when the two groups' effects have opposite signs)."""
        t = self.total.headline.estimate
        return self.from_new_exporters.headline.estimate / t if t else math.nan

    def sentence(self, region: str) -> str:
        """The decomposition in one or two plain sentences."""
        t = self.total.headline
        pct = self.percent
        new, prior = self.from_new_exporters.headline, self.from_prior_exporters.headline
        covers_zero = not (t.conf_low > 0 or t.conf_high < 0)
        head = (f"{region}: export value {_signed_pct(pct)} "
                f"({_eur(t.estimate)} per member firm and year, "
                f"interval {_eur(t.conf_low)} to {_eur(t.conf_high)})")
        if not math.isfinite(pct) or covers_zero:
            return (f"{head}. The interval includes no effect, so how it splits between new "
                    f"and prior exporters is not informative.")
        share = self.share_new
        if not 0 <= share <= 1:
            return (f"{head}. The two groups' estimates have opposite signs (new exporters "
                    f"{_eur(new.estimate)}, prior exporters {_eur(prior.estimate)}), "
                    f"so the split is not a share.")
        return (f"{head}. Of the {_signed_pct(pct)}, about {share * pct:.1f} points "
                f"({100 * share:.0f}%) come from firms that did not export before the "
                f"programme ({_eur(new.estimate)}, interval {_eur(new.conf_low)} to "
                f"{_eur(new.conf_high)}) and {(1 - share) * pct:.1f} points from firms that "
                f"already exported ({_eur(prior.estimate)}, interval "
                f"{_eur(prior.conf_low)} to {_eur(prior.conf_high)}).")


@dataclass(frozen=True)
class RegionMargins:
    """The export margins of one region."""

    region: str
    prior_window: tuple[int, int] | None  # years that define a prior exporter
    prior_exporters: int  # firms
    margins: tuple[Margin, ...]
    split: ValueSplit | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (``results.json`` ``margins``)."""
        rows = self.tidy()
        inference = [m.inference.get("method", "analytic") for m in self.margins]
        if self.split is not None:
            inference += [self.split.inference[k].get("method", "analytic")
                          for k in ("total", "prior", "new")]
        rows["inference"] = inference
        split = None
        if self.split is not None:
            split = {"percent": _finite_or_none(self.split.percent),
                     "counterfactual_mean_eur": _finite_or_none(self.split.counterfactual_mean),
                     "share_from_new_exporters": _finite_or_none(self.split.share_new)}
        return {"region": self.region,
                "prior_window": list(self.prior_window) if self.prior_window else None,
                "prior_exporters": self.prior_exporters,
                "estimates": rows.astype(object).where(rows.notna(), None).to_dict("records"),
                "split": split, "notes": list(self.notes)}

    def tidy(self) -> pd.DataFrame:
        """One row per margin and split component: estimate, interval, counts."""
        rows = []
        for m in self.margins:
            h = m.result.headline
            rows.append({"region": self.region, "margin": m.name, "outcome": m.outcome,
                         "sample": m.sample, "method": m.result.method,
                         "estimate": h.estimate, "std_error": h.std_error,
                         "conf_low": h.conf_low, "conf_high": h.conf_high,
                         "p_value": h.p_value, "n_firms": m.result.n_units,
                         "n_treated": m.result.n_treated, "n_clusters": m.result.n_clusters,
                         "percent": m.percent[0] if m.percent else math.nan})
        if self.split is not None:
            for part, res in (("value_total", self.split.total),
                              ("value_from_prior_exporters", self.split.from_prior_exporters),
                              ("value_from_new_exporters", self.split.from_new_exporters)):
                h = res.headline
                rows.append({"region": self.region, "margin": part, "outcome": res.outcome,
                             "sample": "all firms", "method": res.method,
                             "estimate": h.estimate, "std_error": h.std_error,
                             "conf_low": h.conf_low, "conf_high": h.conf_high,
                             "p_value": h.p_value, "n_firms": res.n_units,
                             "n_treated": res.n_treated, "n_clusters": res.n_clusters,
                             "percent": math.nan})
        return pd.DataFrame(rows)


def prior_exporters(panel: pd.DataFrame) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Which rows belong to a prior exporter: a firm with exports above 0 in at least one
    year before the region's first cohort (its first consortium's first members). Returns a
    boolean per row and the window ``(first year, last pre-programme year)``, or None when
    the panel has no year before the programme (then no firm is a prior exporter)."""
    cohorts = panel.loc[panel["cohort"] > 0, "cohort"]
    if cohorts.empty:
        return np.zeros(len(panel), dtype=bool), None
    first = int(cohorts.min())
    before = panel.loc[panel["year"] < first]
    if before.empty:
        return np.zeros(len(panel), dtype=bool), None
    ids = before.loc[before["exports_eur"] > 0, "firm_id"].unique()
    window = (int(before["year"].min()), first - 1)
    return panel["firm_id"].isin(ids).to_numpy(), window


def export_margins(panel: pd.DataFrame, region: str, *, fit: Fit, poisson_fit: Fit,
                   enough: Callable[[pd.DataFrame, str], str | None]) -> RegionMargins:
    """The export margins of one region.

    ``fit`` runs the linear estimator (Callaway-Sant'Anna in ``evaluate``) and ``poisson_fit``
    the Poisson one on ``(panel, outcome)``; ``enough(panel, outcome)`` says why an estimate
    on that (sub)panel may not be published (disclosure control), or None.
    """
    prior, window = prior_exporters(panel)
    n_prior = int(panel.loc[prior, "firm_id"].nunique())
    notes: list[str] = []
    margins: list[Margin] = []
    for name, label, outcome, sample in MARGINS:
        if outcome not in panel or panel[outcome].notna().sum() == 0:
            notes.append(f"{label}: '{outcome}' not in the data")
            continue
        sub = panel.loc[prior] if sample == "prior exporters" else panel
        if sample == "prior exporters" and window is None:
            notes.append(f"{label}: no year before the programme to tell prior exporters")
            continue
        why = enough(sub, outcome)
        if why:
            notes.append(f"{label}: not published: {why}")
            continue
        res, record = (poisson_fit if name == "value" else fit)(sub, outcome)
        pct = _percent(res, sub, outcome) if name == "value" else None
        margins.append(Margin(name, label, outcome, sample, res, record, pct))
    split = _split(panel, prior, fit, enough, notes) if window is not None else None
    return RegionMargins(region, window, n_prior, tuple(margins), split, tuple(notes))


def _split(panel: pd.DataFrame, prior: np.ndarray, fit: Fit,
           enough: Callable[[pd.DataFrame, str], str | None], notes: list[str]) -> ValueSplit | None:
    if "exports_eur" not in panel:
        return None
    for group, rows in (("prior exporters", prior), ("firms that did not export before", ~prior)):
        why = enough(panel.loc[rows], "exports_eur")
        if why:
            notes.append(f"Split of export value: not published: {group}: {why}")
            return None
    y = panel["exports_eur"].astype("float64")
    parts = panel.assign(_prior=y.where(prior, 0.0).where(y.notna()),
                         _new=y.where(~prior, 0.0).where(y.notna()))
    total, rt = fit(panel, "exports_eur")
    from_prior, rp = fit(parts, "_prior")
    from_new, rn = fit(parts, "_new")
    members = parts.loc[(parts["treated_now"] == 1) & y.notna(), "exports_eur"]
    att = total.headline.estimate
    cf = float(members.mean()) - att if len(members) else math.nan
    pct = 100.0 * att / cf if cf and math.isfinite(cf) and cf > 0 else math.nan
    return ValueSplit(total, from_prior, from_new, {"total": rt, "prior": rp, "new": rn}, cf, pct)


def _percent(res: DiDResult, panel: pd.DataFrame, outcome: str) -> tuple[float, float, float] | None:
    """A levels effect as a percent of members' counterfactual mean (their mean observed value
    in member years less the effect); interval ends transformed the same way."""
    y = panel[outcome].astype("float64")
    m = float(y[(panel["treated_now"] == 1) & y.notna()].mean())
    h = res.headline
    vals = [100.0 * v / (m - v) if m - v > 0 else math.nan
            for v in (h.estimate, h.conf_low, h.conf_high)]
    return tuple(vals) if math.isfinite(m) else None  # type: ignore[return-value]


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _signed_pct(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    digits = 0 if abs(x) >= 10 else 1
    return f"{x:+.{digits}f}%".replace("-", "−")


def _eur(x: float) -> str:
    """EUR as the report shows them (three significant digits, sign, unit)."""
    return effect_text("exports_eur", x)
