"""The lab on an SQL engine (``lab.engine = "duckdb"`` or ``"spark"``): ``evaluate`` for a lab
whose firm tables do not fit in memory.

What runs where (``evaluate --engine duckdb``):

- **ingest** streams each region's firm table into the Parquet store in bounded memory and
  keeps in memory only the members' firm-years (:attr:`RegionData.firms_on_disk`); the
  comparison pool stays on disk;
- **SQL over the store** (:mod:`policylab.engines`): Callaway-Sant'Anna with clustered
  analytic standard errors and its event-time covariance (the pre-trend test's), the firm
  indicators that compare members with every other firm (I12-I16, I21), the data-quality
  counts and the firm counts of the effects' disclosure rule;
- **in memory**, from the members' rows and the small tables (membership, clusters, finance,
  orders, the lab's other half): every other indicator, the EU common indicators (they count
  supported firms only), I19, and the blanking of event-time terms resting on too few member
  firms;
- **not run**, each said in the report's notes: estimators other than Callaway-Sant'Anna
  (refused: ``estimation.methods``), the few-cluster bootstrap (intervals are the analytic
  ones, flagged), the Goodman-Bacon decomposition, the minimum detectable effect, HonestDiD,
  the export margins and the members/never-members balance table (the report falls back to
  the comparison from the indicators).

Numbers equal the pandas engine's with ``estimation.few_cluster_threshold = 0`` to about
1e-12 (``tests/test_evaluate_engine.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import OUTCOME_COLUMNS, LabConfig
from .did.results import DiDResult, Estimate
from .errors import DesignError, PolicylabWarning, UsageError
from .evaluation import RegionEffect
from .ingest import LabData

#: The firm indicators computed as SQL over the store (every firm group, the comparison
#: pool included); the others read only members' rows and the small tables.
SQL_INDICATORS = ("I12", "I13", "I14", "I15", "I15P", "I16", "I21")

#: What an SQL engine does not run, as the report's notes say it.
NOT_RUN = ("the Goodman-Bacon decomposition, the minimum detectable effect and the HonestDiD "
           "sensitivity analysis need the firm panel in memory and were not computed")


def check_methods(cfg: LabConfig, engine: str) -> None:
    """Refuse, before anything is read, estimators an SQL engine cannot run."""
    others = [m for m in cfg.estimation.methods if m != "callaway_santanna"]
    if others:
        raise UsageError([(
            f"lab.engine = '{engine}' runs Callaway-Sant'Anna only (as SQL over the store); "
            f"estimation.methods also lists {', '.join(repr(m) for m in others)}, which need the "
            "firm panel in memory: set estimation.methods = [\"callaway_santanna\"], or use "
            "--engine pandas (lab.engine = 'pandas')")])


def engine_options(cfg: LabConfig) -> dict[str, Any]:
    """The engine settings of ``[lab]``: Spark's master, DuckDB's memory limit and threads
    (one by default: DuckDB's parallel sums add in a varying order, so only one thread
    gives byte-identical outputs; 0 = all cores)."""
    return {"spark_master": cfg.lab.spark_master, "memory_limit": cfg.lab.engine_memory_limit,
            "threads": cfg.lab.engine_threads or None}


def _why_analytic(engine: str) -> str:
    return (f"computed by engine '{engine}' as SQL over the store: clustered analytic "
            "intervals (the few-cluster bootstrap needs the firm panel in memory: --engine "
            "pandas); with few consortia they are too narrow")


def _result(found: Any, engine: str, alpha: float) -> tuple[DiDResult, dict]:
    """A :class:`StoreCSResult` as the headline DiDResult the in-memory fit gives
    (:func:`policylab.did.estimators.callaway_santanna.headline.cs_headline_result`) and
    its inference record."""
    simple = found.aggregates["simple"].iloc[0]
    dynamic = found.aggregates["dynamic"]
    dynamic = dynamic[dynamic["term"] != "overall"]
    terms = tuple(Estimate(f"event_time::{int(r.event_time)}", float(r.estimate), float(r.std_error),
                           float(r.conf_low), float(r.conf_high), float(r.p_value), int(r.event_time))
                  for r in dynamic.itertuples())
    headline = Estimate("simple_att", float(simple["estimate"]), float(simple["std_error"]),
                        float(simple["conf_low"]), float(simple["conf_high"]), float(simple["p_value"]))
    vcov = np.asarray(getattr(found, "vcov", {}).get("dynamic", np.empty((0, 0))), dtype=float)
    why = _why_analytic(engine)
    cluster = found.spec.get("cluster") or "firm_id"
    spec = {"engine": engine, **dict(found.spec),
            "aggregation": {"headline": "simple", "event_study": "dynamic",
                            "min_e": found.spec.get("min_e"), "max_e": found.spec.get("max_e")}}
    res = DiDResult(method="callaway_santanna", outcome=found.outcome, estimates=terms,
                    headline=headline, vcov=vcov,
                    vcov_type=(f"analytic influence function, clustered by {cluster} (summed within "
                               f"clusters, G={found.n_clusters}; {engine} over the store)"),
                    alpha=alpha, n_obs=found.n_obs, n_units=found.n_units,
                    n_treated=found.n_treated, n_clusters=found.n_clusters, spec=spec,
                    warnings=(*found.warnings, why))
    h = res.headline
    record = {"method": "analytic", "used": False, "reason": why,
              "analytic": {"std_error": h.std_error, "statistic": h.statistic, "conf_low": h.conf_low,
                           "conf_high": h.conf_high, "p_value": h.p_value},
              "inference": {"std_error": f"analytic: {res.vcov_type}",
                            "statistic": "estimate / standard error",
                            "p_value": "analytic, from the statistic",
                            "interval": "analytic, estimate -+ critical value x standard error"}}
    return res, record


def store_effects(cfg: LabConfig, store: Path, keys: Sequence[str], outcomes: Sequence[str], *,
                  engine: str) -> dict[tuple[str, str], tuple[DiDResult, dict]]:
    """Callaway-Sant'Anna of each region x outcome as SQL over the store, in one batch (the
    engine reads the regions once): ``{(region, outcome): (result, inference record)}``."""
    from .engines import cs_from_store_many

    est = cfg.estimation
    if not keys or not outcomes:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicylabWarning)  # carried on the result's own warnings
        batch = cs_from_store_many(
            store, list(keys), list(outcomes), engine=engine, control_groups=(est.control_group,),
            cluster="consortium" if est.cluster == "consortium" else "firm_id",
            min_e=-est.leads, max_e=est.lags, alpha=est.alpha,
            aggregations=("simple", "dynamic"), **engine_options(cfg))
    return {(key, outcome): _result(batch[(key, outcome, est.control_group)], engine, est.alpha)
            for key in keys for outcome in outcomes if (key, outcome, est.control_group) in batch}


def thin_design(members: int, never: int, min_cell_firms: int) -> str | None:
    """Why an outcome's effects may not be published, from the firms with the outcome
    observed: fewer than ``min_cell_firms`` members, or some but fewer never-members."""
    if members < min_cell_firms:
        return (f"only {members} member firm(s) with the outcome observed, fewer than "
                f"lab.min_cell_firms = {min_cell_firms}")
    if 0 < never < min_cell_firms:
        return (f"only {never} never-member firm(s) with the outcome observed, fewer than "
                f"lab.min_cell_firms = {min_cell_firms}")
    return None


def region_effects(cfg: LabConfig, data: LabData, store: Path, *, engine: str
                   ) -> tuple[list[RegionEffect], list[RegionEffect], list[str]]:
    """Every region's Callaway-Sant'Anna effects on the configured outcomes over the store:
    ``(fitted, published, notes)``; published effects have the event-time terms resting on
    too few member firms blanked (counted on the members' rows in memory)."""
    from .did.disclosure import hide_thin_terms
    from .did.panel import coded_panel, firm_panel
    from .engines import outcome_counts

    est = cfg.estimation
    regions = {r.info.key: r for r in data.regions}
    keys = list(regions)
    notes: list[str] = []
    wanted: dict[str, list[str]] = {}
    for key in keys:
        firms = regions[key].tables["firms"]
        wanted[key] = [o for o in est.outcomes if OUTCOME_COLUMNS[o] in firms]
    counts = outcome_counts(store, keys, list(est.outcomes), engine=engine, **engine_options(cfg))
    seen = {(r.region, r.outcome): (int(r.members), int(r.never_members)) for r in counts.itertuples()}
    run: dict[str, list[str]] = {}
    for key in keys:
        name = regions[key].info.name
        for outcome in est.outcomes:
            members, never = seen.get((key, outcome), (0, 0))
            if outcome not in wanted[key] or members + never == 0:
                notes.append(f"{name}: outcome '{outcome}' not available in the data; not estimated")
                continue
            if too_few := thin_design(members, never, cfg.lab.min_cell_firms):
                notes.append(f"{name}, {outcome}: effects not published: {too_few}")
                continue
            run.setdefault(outcome, []).append(key)
    fits: dict[tuple[str, str], tuple[DiDResult, dict]] = {}
    for outcome in est.outcomes:  # one batch per outcome: the engine reads the regions once
        try:
            fits.update(store_effects(cfg, store, run.get(outcome, []), [outcome], engine=engine))
        except DesignError:  # a region's design cannot identify the effect: find which
            for key in run.get(outcome, []):
                try:
                    fits.update(store_effects(cfg, store, [key], [outcome], engine=engine))
                except DesignError as exc:
                    notes.append(f"{regions[key].info.name}, {outcome}, callaway_santanna: "
                                 f"not estimated: {exc}")
    fitted, shown = [], []
    for key in keys:
        region = regions[key]
        panel = None
        for outcome in est.outcomes:
            if (key, outcome) not in fits:
                continue
            res, record = fits[(key, outcome)]
            if panel is None:  # the members' firm-years: all the blanking rule counts
                panel = coded_panel(firm_panel(region.tables["firms"], region.tables["membership"]))
            fitted.append(RegionEffect(key, outcome, res, record))
            blanked = hide_thin_terms(res, panel, outcome, min_cell_firms=cfg.lab.min_cell_firms,
                                      leads=est.leads, lags=est.lags)
            shown.append(RegionEffect(key, outcome, blanked, record))
    return fitted, shown, notes


def windows(summary: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Each region's first and last year of firm data, from :func:`policylab.engines.firm_summary`."""
    return {str(r.region): (int(r.first_year), int(r.last_year)) for r in summary.itertuples()}


def indicator_cells(cfg: LabConfig, data: LabData, store: Path, *, engine: str,
                    years: Mapping[str, tuple[int, int]]):
    """The ``compute`` hook of :func:`policylab.indicators.compute_indicators`: the firm
    indicators of :data:`SQL_INDICATORS` from the engine, the others from memory."""
    from .engines.indicators import firm_indicator_cells, new_markets_frame

    keys = [r.info.key for r in data.regions]
    orders = {r.info.key: r.tables["orders"] for r in data.regions if "orders" in r.tables}
    # new destination markets per firm-year come from the (small) orders tables
    markets = new_markets_frame(orders, years) if orders else None
    cells = firm_indicator_cells(store, keys, engine=engine, new_markets=markets,
                                 **engine_options(cfg))

    def compute(ind, inp, scope: str) -> pd.DataFrame:
        found = cells.get((scope, ind.id))
        return ind.compute(inp) if found is None else found

    return compute


def data_quality(data: LabData, summary: pd.DataFrame) -> pd.DataFrame:
    """The report's data-quality table from the engine's counts (firms on disk)."""
    by_key = {str(r.region): r for r in summary.itertuples()}
    rows = []
    for region in data.regions:
        s = by_key[region.info.key]
        src = next((x for x in region.sources if x.table == "firms"), None)
        rows.append({
            "region": region.info.name, "nuts2": region.info.nuts2,
            "firm_rows_read": src.rows_read if src else int(s.firm_years),
            "firm_years_kept": int(s.firm_years), "firms": int(s.firms),
            "first_year": int(s.first_year), "last_year": int(s.last_year),
            "members": int(s.members), "never_members": int(s.never_members),
            "missing_exports": int(s.missing_exports), **region.quality_summary(),
            "warnings": len(region.warnings), "conversions": "; ".join(region.conversions),
        })
    return pd.DataFrame(rows)
