"""``evaluate(config)``: ingest -> indicators -> estimation -> report, the one module that knows
every stage. Each stage is a plain function of plain data; only ``ingest`` reads user files
and only ``report`` writes them.
"""

from __future__ import annotations

import dataclasses
import platform
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd

from ._version import __version__
from .balance import balance_table
from .config import METHOD_LABELS, OUTCOME_LABELS, LabConfig, load_config
from .errors import DesignError, PolicylabWarning
from .estimators import ESTIMATORS
from .evaluation import EvaluationResult, MonitoringResult, RegionDiagnostics, RegionEffect
from .indicators import compute_indicators
from .ingest import LabData, RegionData, ingest
from .synthesis import synthesize

Progress = Callable[[str], None]

PROVENANCE_PACKAGES = (
    "numpy", "pandas", "scipy", "statsmodels", "pyarrow", "pydantic", "jinja2",
)


def _noop(_: str) -> None:
    pass


def _fit_method(method: str, panel: pd.DataFrame, outcome: str, cfg: LabConfig, cluster: str):
    """One estimator on one region's panel, as a DiDResult (plus the raw CS fit, if any):
    the registry's fit (:mod:`policylab.estimators`)."""
    spec = ESTIMATORS.get(method)
    if spec is None or spec.fit is None:
        raise ValueError(f"unknown method {method!r}")  # the config model rules this out
    return spec.fit_function()(panel, outcome, cfg.estimation, cluster)


def _few_cluster_warning(text: str) -> bool:
    """The analytic fit's own few-cluster caveat ("... consider a wild cluster bootstrap"),
    moot once the headline's inference is the bootstrap."""
    return text.startswith("few clusters:") and "wild cluster bootstrap" in text


def headline_inference(res, raw, panel: pd.DataFrame, cfg: LabConfig):
    """The few-cluster policy applied to one fit: ``(result, inference record)``.

    Below ``estimation.few_cluster_threshold`` consortia holding members, the headline's
    interval and p-value come from the wild cluster restricted bootstrap
    (:func:`policylab.did.few_cluster_inference`; evidence in ``studies/COVERAGE.md``), and so
    do its standard error and statistic: the CRV1 standard error the bootstrap-t studentizes
    by (for Callaway-Sant'Anna, that of the aggregate's regression form) and the observed t
    whose bootstrap distribution gives the p-value. The point estimate never changes. The
    record says which method each number comes from (``inference``), keeps the analytic
    numbers it replaced (``analytic``) and the Monte Carlo standard errors of the p-value and
    bounds (``monte_carlo``). Draws are added beyond ``estimation.bootstrap_draws`` until each
    bound's Monte Carlo error is at most ``estimation.bootstrap_mc_target`` of the interval's
    width (0: none added); each draw enumerates the signs of the most influential consortia's
    weights (:mod:`policylab.did.inference.wild_dense`).
    """
    from .did import few_cluster_inference
    from .did.inference.few_clusters import METHOD_TEXT

    est = cfg.estimation
    analytic = res.headline
    vcov = getattr(res, "vcov_type", None) or "analytic"
    record = {"method": "analytic", "used": False, "threshold": est.few_cluster_threshold,
              "analytic": {"std_error": analytic.std_error, "statistic": analytic.statistic,
                           "conf_low": analytic.conf_low, "conf_high": analytic.conf_high,
                           "p_value": analytic.p_value},
              "inference": {"std_error": f"analytic: {vcov}",
                            "statistic": "estimate / standard error",
                            "p_value": "analytic, from the statistic",
                            "interval": "analytic, estimate -+ critical value x standard error"}}
    if est.few_cluster_threshold == 0:
        record["reason"] = "few-cluster inference is switched off (estimation.few_cluster_threshold = 0)"
        return res, record
    spec = ESTIMATORS.get(getattr(res, "method", ""))
    if spec is not None and spec.bootstrap is None:
        record["reason"] = (f"{spec.label} has no few-cluster bootstrap yet: its interval is "
                            "analytic and may be too narrow with few consortia")
        return res, record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicylabWarning)
        decision = few_cluster_inference(raw if raw is not None else res, panel, kind="simple",
                                         min_treated_clusters=est.few_cluster_threshold,
                                         draws=est.bootstrap_draws, seed=est.seed, alpha=est.alpha,
                                         mc_target=est.bootstrap_mc_target or None)
    record.update(method=decision.method, used=decision.used, reason=decision.reason,
                  n_clusters=decision.n_clusters, n_treated_clusters=decision.n_treated_clusters)
    inf = decision.inference
    if inf is not None:
        record.update(draws=inf.draws, exact=inf.exact, weights=inf.weights, seed=est.seed,
                      draws_configured=est.bootstrap_draws, mc_target=est.bootstrap_mc_target or None)
    if not decision.used:
        return decision.apply(res), record
    if inf.method in ("wild_cluster_restricted_bootstrap", "score_bootstrap_restricted"):
        patterns = int((inf.spec or {}).get("sign_patterns") or 1)
        draws = ("all draws enumerated" if inf.exact else
                 f"{inf.draws:,} draws, seed {est.seed}" + (
                     f", each with the {patterns} sign patterns of the "
                     f"{patterns.bit_length() - 1} most influential consortia's weights"
                     if patterns > 1 else ""))
        what = ("CRV1 clustered by consortium" if inf.estimator != "att_gt" else
                "CRV1 clustered by consortium, of the aggregate's regression form")
        record["inference"] = {
            "std_error": f"analytic {what} (the bootstrap-t's denominator)",
            "statistic": "bootstrap-t: estimate / standard error (observed t at 0)",
            "p_value": f"{METHOD_TEXT[decision.method]}: symmetric bootstrap-t p-value, "
                       f"{str(inf.weights).capitalize()} weights, {draws}",
            "interval": "test inversion of the same bootstrap-t (not estimate -+ z x SE)",
        }
    else:  # the multiplier bootstrap (CS with covariates or weights)
        record["inference"] = {
            "std_error": "bootstrap standard error of the cluster multiplier bootstrap",
            "statistic": "estimate / bootstrap standard error",
            "p_value": f"cluster multiplier bootstrap, {inf.weights} multipliers, {inf.draws:,} draws",
            "interval": "cluster multiplier bootstrap",
        }
    mc = dict((inf.spec or {}).get("monte_carlo") or {})
    if mc:
        record["monte_carlo"] = {
            "p_value": mc.get("p_value"), "conf_low": mc.get("conf_low"),
            "conf_high": mc.get("conf_high"),
            "target": (f"draws added (from {est.bootstrap_draws:,}) until each bound's Monte "
                       f"Carlo standard error is at most {100 * est.bootstrap_mc_target:g}% of "
                       "the interval's width"
                       if est.bootstrap_mc_target else
                       f"none: exactly {est.bootstrap_draws:,} draws "
                       "(estimation.bootstrap_mc_target = 0)"),
            "target_met": (inf.spec or {}).get("mc_target_met"),
            "sign_patterns": int((inf.spec or {}).get("sign_patterns") or 1),
        }
    applied = decision.apply(res)
    kept = tuple(w for w in applied.warnings if not _few_cluster_warning(w))
    return dataclasses.replace(applied, warnings=kept), record


def estimate(cfg: LabConfig, *, method: str, outcome: str, regions: list[str] | None = None,
             data: LabData | None = None, engine: str | None = None) -> list[RegionEffect]:
    """One estimator for one outcome in each (chosen) region, as ``policylab estimate`` runs it.

    ``engine`` (default ``lab.engine``): ``"pandas"`` fits in memory; ``"duckdb"`` or
    ``"spark"`` compute Callaway-Sant'Anna's cells, clustered analytic standard errors and
    aggregations as SQL over the lab's Parquet store (:mod:`policylab.engines`), out of core.

    Raises :class:`~policylab.errors.UserError` for an unknown region key or outcome, or an
    estimator the engine cannot run; a region whose design cannot identify the effect raises
    :class:`DesignError`.
    """
    from .config import OUTCOME_COLUMNS
    from .did.panel import firm_panel
    from .errors import UsageError, UserError
    from .threads import one_blas_thread

    engine = engine or cfg.lab.engine
    keys = [r.key for r in cfg.regions]
    if unknown := [r for r in regions or [] if r not in keys]:
        raise UsageError([f"unknown region key(s) {unknown}; the config has {keys}"])
    if lacking := cfg.regions_lacking(outcome, regions or None):
        raise UsageError([f"outcome '{outcome}' needs firms column '{OUTCOME_COLUMNS[outcome]}', "
                          f"which region(s) {', '.join(map(repr, lacking))} of {cfg.source} do not "
                          "map; leave them out with --region, or map the column"])
    if engine != "pandas":
        return _estimate_on_engine(cfg, method=method, outcome=outcome, regions=regions,
                                   engine=engine)
    data = data if data is not None else ingest(cfg)
    cluster = "consortium" if cfg.estimation.cluster == "consortium" else "firm_id"
    out = []
    with one_blas_thread():
        for region in data.regions:
            if regions and region.info.key not in regions:
                continue
            panel = firm_panel(region.tables["firms"], region.tables["membership"])
            if panel[outcome].notna().sum() == 0:
                raise UserError(f"{region.info.name}: outcome '{outcome}' has no known values")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PolicylabWarning)  # carried on the result's own warnings
                try:
                    res, raw = _fit_method(method, panel, outcome, cfg, cluster)
                except DesignError as exc:
                    raise DesignError(f"{region.info.name}: {exc}") from None
            res, record = headline_inference(res, raw, panel, cfg)
            out.append(RegionEffect(region.info.key, outcome, res, record))
    return out


def _estimate_on_engine(cfg: LabConfig, *, method: str, outcome: str, regions: list[str] | None,
                        engine: str) -> list[RegionEffect]:
    """``estimate`` on an SQL engine: the store is brought up to date (ingest writes the regions
    whose inputs changed, streaming their firm tables), then Callaway-Sant'Anna runs as SQL
    over it (:func:`policylab.outofcore.store_effects`). Intervals are the clustered analytic
    ones: the few-cluster bootstrap resamples firms in memory."""
    from .allocators import lean_allocators
    from .errors import UsageError
    from .outofcore import store_effects

    if method != "callaway_santanna":
        raise UsageError([f"engine '{engine}' runs Callaway-Sant'Anna only (its cells, clustered "
                          f"analytic standard errors and aggregations are SQL over the store); "
                          f"'{method}' needs the firm panel in memory: use --engine pandas "
                          "(lab.engine = 'pandas')"])
    keys = [r.key for r in cfg.regions if not regions or r.key in regions]
    with lean_allocators():
        store, _ = _streamed_store(cfg)
        fits = store_effects(cfg, store, keys, [outcome], engine=engine)
    return [RegionEffect(key, outcome, *fits[(key, outcome)]) for key in keys]


def _streamed_store(cfg: LabConfig) -> tuple[Path, LabData]:
    """The lab's store brought up to date for an SQL engine (ingest writes the regions whose
    inputs changed, streaming their firm tables) and the data it returned (members' firm-years
    only): ``(store folder, data)``."""
    from .store import CanonicalStore, store_dir

    configured = cfg.resolve(cfg.lab.store_dir) if cfg.lab.store_dir is not None else None
    store = CanonicalStore(store_dir(cfg.output_dir, configured))
    with store.lock():
        store.remove_leftovers()
        data = ingest(cfg, store=store.root, stream=True)
    return store.root, data


def monitoring(cfg: LabConfig, *, indicators: list[str] | None = None,
               regions: list[str] | None = None, data: LabData | None = None,
               engine: str | None = None) -> MonitoringResult:
    """The monitoring indicators of every (or the chosen) region and indicator, after
    disclosure control, without estimation (``policylab indicators``; I19 needs ``evaluate``).

    ``indicators``: indicator ids; ``regions``: region keys or names, or ``"lab"``. Raises
    :class:`~policylab.errors.UserError` naming an unknown one. ``engine`` (default
    ``lab.engine``): ``"duckdb"`` or ``"spark"`` stream the firms files into the lab's store and
    compute the firm indicators I12-I16 and I21 as SQL over it, as ``evaluate`` does (``data``
    is then not used).
    """
    from .indicators import check_selection, compute_indicators, select_indicators
    from .ingest import region_info
    from .report._indicators import sorted_indicators

    engine = engine or cfg.lab.engine
    check_selection([region_info(r) for r in cfg.regions], indicators=indicators, regions=regions)
    if engine != "pandas":
        from .allocators import lean_allocators

        with lean_allocators():
            store, data = _streamed_store(cfg)
            table, _, _ = _indicators_on_engine(cfg, data, store, engine)
    else:
        data = data if data is not None else ingest(cfg)
        table = compute_indicators(((r.info, r.tables) for r in data.regions),
                                   min_cell_firms=cfg.lab.min_cell_firms,
                                   dominance_share=cfg.lab.dominance_share)
    infos = tuple(r.info for r in data.regions)
    table = select_indicators(table, infos, indicators=indicators, regions=regions)
    settings = {"min_cell_firms": cfg.lab.min_cell_firms, "dominance_share": cfg.lab.dominance_share}
    result = MonitoringResult(cfg.lab.name, infos, table, settings)
    return dataclasses.replace(result, indicators=sorted_indicators(result))


def _too_few_firms(panel: pd.DataFrame, outcome: str, min_cell_firms: int) -> str | None:
    """Why an outcome's effects may not be published (disclosure control), or None.

    An effect rests on the member firms with the outcome observed and on the never-members
    it compares them with: with fewer than ``min_cell_firms`` of either (but some), the
    estimate, its event-time terms and its diagnostics would describe a handful of firms.
    """
    from .outofcore import thin_design

    seen = panel.loc[panel[outcome].notna()]
    members = seen.loc[seen["cohort"] > 0, "firm_id"].nunique()
    never = seen.loc[seen["cohort"] == 0, "firm_id"].nunique()
    return thin_design(int(members), int(never), min_cell_firms)


def _pretrend(res, record: dict, notes: list[str]) -> dict | None:
    """The pre-trend test of the headline estimator's pre-joining event-time estimates.

    With many treated consortia: the joint Wald test. Below the few-cluster threshold that
    test rejects a true null most of the time, so the test shown is of the average
    pre-joining estimate against t(treated consortia - 1) (``average_pretrend_test``), with
    the joint test kept under ``joint_wald`` for the record.
    """
    from .did import average_pretrend_test, pretrend_test

    try:
        joint = pretrend_test(res).to_dict()
    except (DesignError, ValueError) as exc:
        joint, why = None, str(exc)
    g = record.get("n_treated_clusters")
    if not record.get("used") or not g or g < 2:
        if joint is None:
            notes.append(f"pre-trend test not computed: {why}")
        return joint
    try:
        avg = average_pretrend_test(res, df=int(g) - 1).to_dict()
    except (DesignError, ValueError) as exc:
        notes.append(f"pre-trend test not computed: {exc}")
        return None
    avg["joint_wald"] = joint
    avg["reason"] = (f"only {g} consortia hold member firms: the joint Wald test of the "
                     "pre-joining estimates rejects far too often with so few, so their average "
                     f"is tested against a t distribution with {int(g) - 1} degrees of freedom")
    return avg


def _bacon_summary(panel: pd.DataFrame, outcome: str) -> tuple[dict | None, str | None]:
    """Goodman-Bacon decomposition of the static TWFE on the balanced part of the panel."""
    from .did import bacon

    sub = panel[panel[outcome].notna()]
    n_years = sub["year"].nunique()
    counts = sub.groupby("firm_id")["year"].transform("size")
    balanced = sub[counts == n_years]
    dropped = sub["firm_id"].nunique() - balanced["firm_id"].nunique()
    try:
        res = bacon(balanced, outcome=outcome, unit="firm_id", time="year", treatment="treated_now")
    except DesignError as exc:
        return None, f"Bacon decomposition not computed: {exc}"
    rows = res.summary().to_dict(orient="records")
    return {
        "twfe": float(res.estimate),
        "comparisons": rows,
        "sample": f"balanced panel: {balanced['firm_id'].nunique()} firms observed in all {n_years} years "
                  f"({dropped} firms with gaps left out)",
    }, None


def _power(panel: pd.DataFrame, outcome: str, cluster: str) -> tuple[dict | None, str | None]:
    """Minimum detectable effect of the region's design (80% power, 5% two-sided)."""
    from .did.diagnostics.power import mde_for_panel, plausible_effect, warn_if_underpowered

    try:
        res = mde_for_panel(panel, outcome=outcome, unit="firm_id", time="year", cohort="cohort",
                            cluster=cluster)
    except (DesignError, ValueError) as exc:
        return None, f"minimum detectable effect not computed: {exc}"
    out = res.to_dict()
    # log(1 + exports) mixes the extensive margin (0 -> exporting moves it by ~10) with the
    # intensive one, so the published +10-20 % on export value is no guide to its size.
    plausible = None if outcome == "log_exports" else plausible_effect(outcome, baseline_mean=res.baseline_mean)
    out["plausible"] = None if plausible is None else [float(plausible[0]), float(plausible[1])]
    out["warning"] = warn_if_underpowered(res, plausible) if plausible is not None else None
    return out, None


def _honest(effects: list[RegionEffect], region: str, outcome: str,
            restriction: str = "relative_magnitude") -> tuple[dict | None, str | None]:
    """Rambachan-Roth sensitivity of the TWFE event study's average post-joining effect:
    how large may post-joining violations of parallel trends be before the effect is no longer
    distinguishable from zero. ``relative_magnitude``: relative to the largest pre-joining
    violation (M-bar); ``smoothness``: how far the trend may bend from a linear continuation
    of the pre-joining one, per year squared (M, outcome units)."""
    from .did import honest_did

    es = next((e.result for e in effects if e.region == region and e.outcome == outcome
               and e.result.method == "event_study"), None)
    if es is None:
        return None, None
    try:
        res = honest_did(es, restriction=restriction, e="average")
    except (DesignError, ValueError) as exc:
        what = "relative magnitudes" if restriction == "relative_magnitude" else "smoothness"
        return None, f"sensitivity analysis (HonestDiD, {what}) not computed: {exc}"
    return res.to_dict(), None


def estimate_region(region: RegionData, cfg: LabConfig, *, progress: Progress = _noop,
                    ) -> tuple[list[RegionEffect], list[RegionDiagnostics], list[str]]:
    """Every configured estimator for each outcome of one region (members vs comparison firms),
    with the design checks of the headline estimator."""
    from .did.disclosure import hide_thin_terms
    from .did.panel import coded_panel, firm_panel

    est = cfg.estimation
    panel = coded_panel(firm_panel(region.tables["firms"], region.tables["membership"]))
    cluster = "consortium" if est.cluster == "consortium" else "firm_id"
    effects, diagnostics, notes = [], [], []
    methods = list(est.methods)
    members = int(panel.loc[panel["cohort"] > 0, "firm_id"].nunique())
    if 0 < members < est.synthetic_did_below and "synthetic_did" not in methods:
        methods.append("synthetic_did")
        notes.append(f"{region.info.name}: only {members} member firms (fewer than "
                     f"{est.synthetic_did_below}): synthetic DiD, which suits very few treated "
                     "firms, is shown beside the configured estimators "
                     "(estimation.synthetic_did_below)")
    for outcome in est.outcomes:
        if outcome not in panel or panel[outcome].notna().sum() == 0:
            notes.append(f"{region.info.name}: outcome '{outcome}' not available in the data; not estimated")
            continue
        too_few = _too_few_firms(panel, outcome, cfg.lab.min_cell_firms)
        if too_few:
            notes.append(f"{region.info.name}, {outcome}: effects not published: {too_few}")
            continue
        pretrend, diag_notes, fitted = None, [], []
        for i, method in enumerate(methods):
            progress(f"Estimating effects: {region.info.name}, {outcome}, {method}")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PolicylabWarning)  # carried on the result's own warnings
                    res, raw = _fit_method(method, panel, outcome, cfg, cluster)
            except DesignError as exc:
                notes.append(f"{region.info.name}, {outcome}, {method}: not estimated: {exc}")
                continue
            res, record = headline_inference(res, raw, panel, cfg)
            fitted.append(RegionEffect(region.info.key, outcome, res, record))
            # published: terms resting on too few member firms blanked (diagnostics, which
            # pool the terms, are computed from the full fit)
            shown = hide_thin_terms(res, panel, outcome, min_cell_firms=cfg.lab.min_cell_firms,
                                    leads=est.leads, lags=est.lags,
                                    binned=method in ("event_study", "sun_abraham"))
            effects.append(RegionEffect(region.info.key, outcome, shown, record))
            if i == 0:
                pretrend = _pretrend(res, record, diag_notes)
        progress(f"Diagnostics and sensitivity: {region.info.name}, {outcome}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicylabWarning)
            bacon_summary, why = _bacon_summary(panel, outcome)
            power, why_power = _power(panel, outcome, cluster)
            honest, why_honest = _honest(fitted, region.info.key, outcome)
            smooth, why_smooth = _honest(fitted, region.info.key, outcome, "smoothness")
        diag_notes += [w for w in (why, why_power, why_honest, why_smooth) if w]
        diagnostics.append(RegionDiagnostics(region.info.key, outcome, pretrend, bacon_summary, power, honest,
                                             tuple(diag_notes), honest_smoothness=smooth))
    return effects, diagnostics, notes


def common_table(cfg: LabConfig, data: LabData, *,
                 windows: dict[str, tuple[int, int]] | None = None) -> pd.DataFrame:
    """The EU common indicators of every region and the lab (after disclosure control), with
    the milestones and targets of the config's ``[regions.targets]`` (``windows``: each
    region's years when its firm table holds the members' rows only)."""
    from .indicators.common import common_indicators
    from .targets import with_targets

    table = common_indicators(((r.info, r.tables) for r in data.regions),
                              min_cell_firms=cfg.lab.min_cell_firms,
                              dominance_share=cfg.lab.dominance_share,
                              programme_start=cfg.lab.first_year, windows=windows)
    targets = {r.key: {code: t.model_dump() for code, t in r.targets.items()}
               for r in cfg.regions}
    return with_targets(table, targets)


def region_margins(region: RegionData, cfg: LabConfig, fitted: list[RegionEffect] = ()):
    """The export margins of one region (:mod:`policylab.margins`).

    Callaway-Sant'Anna for the linear margins and the split of export value (linear in the
    outcome, so the split adds up), reusing the region's Callaway-Sant'Anna effects on
    ``exporter`` and ``exports_eur`` when ``evaluate`` has fitted them; Poisson extended TWFE
    for export value. The few-cluster policy applies with ``estimation.bootstrap_draws``
    draws (no draws added for a Monte Carlo target), except for the Poisson margin, whose
    interval is analytic (its score bootstrap costs about 8 s per region) and says so. All
    margins of the example's six regions take about 1.5 s.
    """
    from .did.panel import coded_panel, firm_panel
    from .margins import RegionMargins, export_margins

    est = cfg.estimation
    quick = cfg.model_copy(update={"estimation": est.model_copy(update={"bootstrap_mc_target": 0})})
    panel = coded_panel(firm_panel(region.tables["firms"], region.tables["membership"]))
    cluster = "consortium" if est.cluster == "consortium" else "firm_id"
    done = {e.outcome: (e.result, e.inference) for e in fitted
            if e.result.method == "callaway_santanna" and e.region == region.info.key}

    def fit_cs(sub: pd.DataFrame, outcome: str):
        if sub is panel and outcome in done:
            return done[outcome]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicylabWarning)
            res, raw = _fit_method("callaway_santanna", sub, outcome, quick, cluster)
        return headline_inference(res, raw, sub, quick)

    def fit_poisson(sub: pd.DataFrame, outcome: str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicylabWarning)
            res, _ = _fit_method("etwfe_poisson", sub, outcome, quick, cluster)
        return res, {"method": "analytic", "used": False,
                     "reason": "the Poisson margin's interval is analytic (clustered by "
                               "consortium); with few consortia it may be too narrow"}

    def enough(sub: pd.DataFrame, outcome: str) -> str | None:
        return _too_few_firms(sub, outcome, cfg.lab.min_cell_firms)

    try:
        return export_margins(panel, region.info.key, fit=fit_cs, poisson_fit=fit_poisson,
                              enough=enough)
    except DesignError as exc:
        return RegionMargins(region.info.key, None, 0, (), None,
                             (f"export margins not estimated: {exc}",))


def data_quality(region: RegionData) -> dict:
    """One row of the report's data-quality table for a region."""
    firms, mem = region.tables["firms"], region.tables["membership"]
    firm_ids = pd.Index(firms["firm_id"].dropna().unique())
    n_members = int(firm_ids.isin(mem["firm_id"].dropna()).sum())
    firms_src = next((s for s in region.sources if s.table == "firms"), None)
    return {
        "region": region.info.name,
        "nuts2": region.info.nuts2,
        "firm_rows_read": firms_src.rows_read if firms_src else len(firms),
        "firm_years_kept": len(firms),
        "firms": len(firm_ids),
        "first_year": int(firms["year"].min()),
        "last_year": int(firms["year"].max()),
        "members": n_members,
        "never_members": len(firm_ids) - n_members,
        "missing_exports": int(firms["exports_eur"].isna().sum()),
        **region.quality_summary(),
        "warnings": len(region.warnings),
        "conversions": "; ".join(region.conversions),
    }


def provenance(cfg: LabConfig, data: LabData) -> dict:
    versions = {}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "policylab_version": __version__,
        "python": platform.python_version(),
        "packages": versions,
        "config_sha256": cfg.sha256,
        "inputs": [s.to_dict() for r in data.regions for s in r.sources],
    }


#: Columns of the lab's practice-transfer log (``EvaluationResult.practices``).
PRACTICE_LOG_COLUMNS = ["region", "practice_id", "practice", "origin_region", "adopting_region",
                        "stage", "stage_date", "budget_eur"]


def practice_log(data: LabData) -> pd.DataFrame | None:
    """Every region's practice-transfer log in one table (the reporting region's key in
    ``region``), ordered by practice, adopting region and date; None when no region has one."""
    from .schema import PRACTICE_STAGES

    parts = []
    for r in data.regions:
        t = r.tables.get("practices")
        if t is not None:
            part = t.assign(region=r.info.key)
            parts.append(part.reindex(columns=PRACTICE_LOG_COLUMNS))
    if not parts:
        return None
    log = pd.concat(parts, ignore_index=True)
    rank = log["stage"].map({s: i for i, s in enumerate(PRACTICE_STAGES)})
    order = sorted(range(len(log)), key=lambda i: (
        str(log["practice_id"].iat[i]), str(log["adopting_region"].iat[i]),
        log["stage_date"].iat[i], int(rank.iat[i]) if pd.notna(rank.iat[i]) else 99,
        str(log["region"].iat[i])))
    return log.iloc[order].reset_index(drop=True)


def _in_memory(cfg: LabConfig, data: LabData, progress: Progress) -> dict:
    """Every stage on the firm panels in memory (``lab.engine = "pandas"``)."""
    effects: list[RegionEffect] = []
    diagnostics: list[RegionDiagnostics] = []
    notes: list[str] = []
    margins = []
    for region in data.regions:
        progress(f"Estimating effects: {region.info.name}")
        found, checks, msgs = estimate_region(region, cfg, progress=progress)
        if cfg.estimation.margins:
            progress(f"Export margins: {region.info.name}")
            margins.append(region_margins(region, cfg, found))
        effects += found
        diagnostics += checks
        notes += msgs
    headline_method = effects[0].result.method if effects else cfg.estimation.methods[0]
    headline_effects = [e for e in effects if e.result.method == headline_method]
    # after estimation: I19 (public cost per EUR of additional exports) uses the estimates
    progress("Computing indicators")
    indicators = compute_indicators(((r.info, r.tables) for r in data.regions),
                                    min_cell_firms=cfg.lab.min_cell_firms,
                                    dominance_share=cfg.lab.dominance_share, effects=headline_effects)
    progress("Computing the EU common indicators")
    return {
        "effects": effects, "diagnostics": diagnostics, "notes": notes, "margins": margins,
        "indicators": indicators, "common": common_table(cfg, data),
        "data_quality": pd.DataFrame([data_quality(r) for r in data.regions]),
        "balance": pd.concat([balance_table(r.tables["firms"], r.tables["membership"], region=r.info.key,
                                            min_cell_firms=cfg.lab.min_cell_firms,
                                            dominance_share=cfg.lab.dominance_share)
                              for r in data.regions], ignore_index=True),
    }


def _indicators_on_engine(cfg: LabConfig, data: LabData, store: Path, engine: str, *,
                          effects: Sequence[RegionEffect] = ()
                          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[int, int]]]:
    """The indicator table of a lab whose firm tables stay on disk, the engine's firm summary
    (data-quality counts) and each region's first and last year."""
    from .engines import firm_summary
    from .outofcore import engine_options, indicator_cells, windows

    summary = firm_summary(store, [r.info.key for r in data.regions], engine=engine,
                           **engine_options(cfg))
    years = windows(summary)
    table = compute_indicators(((r.info, r.tables) for r in data.regions),
                               min_cell_firms=cfg.lab.min_cell_firms,
                               dominance_share=cfg.lab.dominance_share, effects=list(effects),
                               windows=years,
                               compute=indicator_cells(cfg, data, store, engine=engine, years=years))
    return table, summary, years


def _on_engine(cfg: LabConfig, data: LabData, store: Path, engine: str, progress: Progress) -> dict:
    """The stages of a lab whose firm tables stay on disk (``lab.engine = "duckdb"`` or
    ``"spark"``): what runs as SQL, in memory or not at all is :mod:`policylab.outofcore`'s."""
    from .outofcore import NOT_RUN, region_effects
    from .outofcore import data_quality as engine_quality

    est = cfg.estimation
    progress(f"Estimating effects over the store ({engine})")
    fitted, effects, notes = region_effects(cfg, data, store, engine=engine)
    diagnostics = []
    for eff in fitted:
        diag_notes: list[str] = [NOT_RUN]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicylabWarning)
            pretrend = _pretrend(eff.result, eff.inference, diag_notes)
        diagnostics.append(RegionDiagnostics(eff.region, eff.outcome, pretrend, None, None, None,
                                             tuple(diag_notes)))
    notes.append(f"lab.engine = '{engine}': the firm tables stayed on disk; Callaway-Sant'Anna, the "
                 "firm indicators of every firm group and the data-quality counts ran as SQL over the "
                 "store, everything else on the members' firm-years in memory; the few-cluster "
                 f"bootstrap, the other estimators, the diagnostics beyond the pre-trend test"
                 + (", the export margins" if est.margins else "")
                 + " and the balance table need the whole panel in memory and did not run "
                 "(--engine pandas runs them)")
    progress("Computing indicators")
    indicators, summary, years = _indicators_on_engine(cfg, data, store, engine, effects=effects)
    progress("Computing the EU common indicators")
    return {"effects": effects, "diagnostics": diagnostics, "notes": notes, "margins": [],
            "indicators": indicators, "common": common_table(cfg, data, windows=years),
            "data_quality": engine_quality(data, summary), "balance": None}


def run(cfg: LabConfig, data: LabData | None = None, *, progress: Progress = _noop,
        engine: str | None = None, store: str | Path | None = None) -> EvaluationResult:
    """Indicators and estimates for every region of an ingested lab (ingests if ``data`` is None).

    ``engine`` (default ``lab.engine``): ``"pandas"`` runs every stage in memory; ``"duckdb"``
    or ``"spark"`` runs a lab whose firm tables stay on disk, with ``store`` the lab's
    canonical store and ``data`` ingested from it with ``stream=True``
    (:mod:`policylab.outofcore`; :func:`evaluate` does both).
    """
    from .threads import one_blas_thread

    engine = engine or cfg.lab.engine
    if engine != "pandas" and (store is None or data is None):
        raise ValueError("an SQL engine runs over the lab's store: pass store= and the data "
                         "ingest(cfg, store=..., stream=True) returned, or call evaluate()")
    if data is None:
        progress("Reading and validating inputs")
        data = ingest(cfg)
    with one_blas_thread():  # same bits on every machine; no spinning threads on a busy one
        return _result(cfg, data, progress, engine, store)


def _result(cfg: LabConfig, data: LabData, progress: Progress, engine: str,
            store: str | Path | None) -> EvaluationResult:
    """:func:`run` once the data are read."""
    parts = (_on_engine(cfg, data, Path(store), engine, progress) if engine != "pandas"
             else _in_memory(cfg, data, progress))
    effects = parts["effects"]
    notes = [*parts["notes"], *(f"{p}" for p in data.warnings)]
    est = cfg.estimation
    ran = list(dict.fromkeys([*est.methods, *(e.result.method for e in effects)]))
    settings = {
        "min_cell_firms": cfg.lab.min_cell_firms,
        "outcomes": list(est.outcomes),
        "outcome_labels": {o: OUTCOME_LABELS[o] for o in est.outcomes},
        "leads": est.leads,
        "lags": est.lags,
        "cluster": est.cluster,
        "alpha": est.alpha,
        "comparison_group": "never members" if est.control_group == "never_treated"
        else "never members and members not yet joined",
        "methods": ran,  # the configured ones, then any a small region added
        "method_labels": {m: METHOD_LABELS[m] for m in ran},
        "headline_estimator": est.methods[0],
        "dominance_share": cfg.lab.dominance_share,
    }
    if engine != "pandas":
        settings["engine"] = engine
    return EvaluationResult(
        lab_name=cfg.lab.name,
        lab_description=cfg.lab.description,
        regions=tuple(r.info for r in data.regions),
        indicators=parts["indicators"],
        effects=tuple(effects),
        data_quality=parts["data_quality"],
        provenance=provenance(cfg, data),
        settings=settings,
        warnings=tuple(notes),
        synthesis=synthesize(effects, regions=[r.info.key for r in data.regions], alpha=est.alpha),
        diagnostics=tuple(parts["diagnostics"]),
        practices=practice_log(data),
        margins=tuple(parts["margins"]),
        common=parts["common"],
        balance=parts["balance"],
    )


def evaluate(config: str | Path | LabConfig, *, out_dir: str | Path | None = None, write: bool = True,
             progress: Progress = _noop, timestamp: str | None = None,
             engine: str | None = None) -> EvaluationResult:
    """Run the whole lab: ingest, indicators, estimation, and (``write=True``) the report.

    Outputs go to ``out_dir`` or the config's ``lab.output_dir`` (relative to the config file):
    ``index.html``, ``regions/``, ``results.json``, ``indicators.csv``, switched to the new run
    as one unit (see :mod:`policylab.report.writer`). With ``write=True`` the output folder and
    the store are locked for the whole run: a second run into either stops at once with a
    UserError. ``timestamp`` (text) is written once per page and into the JSON; without it, the
    same inputs give byte-identical outputs.

    ``engine`` (default ``lab.engine``): ``"duckdb"`` or ``"spark"`` keep the firm tables on
    disk (streamed into the store, estimated and counted as SQL over it; see
    :mod:`policylab.outofcore` for what runs where and what does not run).
    """
    cfg = config if isinstance(config, LabConfig) else load_config(config)
    engine = engine or cfg.lab.engine
    out = Path(out_dir) if out_dir is not None else cfg.output_dir
    on_disk = engine != "pandas"
    if on_disk:
        from .outofcore import check_methods

        check_methods(cfg, engine)
    if not write and not on_disk:
        return run(cfg, None, progress=progress)
    from contextlib import nullcontext

    from .report.writer import report_lock, write_report
    from .store import CanonicalStore, store_dir

    from .allocators import lean_allocators

    configured = cfg.resolve(cfg.lab.store_dir) if cfg.lab.store_dir is not None else None
    store = CanonicalStore(store_dir(out, configured))
    with (lean_allocators() if on_disk else nullcontext(),
          report_lock(out) if write else nullcontext(), store.lock()):  # until the report is switched in
        store.remove_leftovers()  # temp files of a killed run
        progress("Reading and validating inputs")
        # through the canonical store: unchanged regions are not read again; on an SQL
        # engine the firm tables are streamed into it and only the members' rows come back
        data = ingest(cfg, store=store.root, stream=on_disk)
        result = run(cfg, data, progress=progress, engine=engine, store=store.root)
        if write:
            progress("Writing the report")
            write_report(result, out, timestamp=timestamp)
    return result
