"""Real EvaluationResult objects built from plain numbers, for the report tests.

A plain module (not ``conftest``), so tests and a fresh interpreter can import it by a name
no other test folder uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.did.results import DiDResult, Estimate
from policylab.evaluation import (
    INDICATOR_COLUMNS,
    EvaluationResult,
    RegionDiagnostics,
    RegionEffect,
    RegionInfo,
)
from policylab.synthesis import synthesize

HOSTILE = '<script>alert(1)</script> "Quote" عربي 🚀'
FORMULA = "=cmd|' /C calc'!A1"
MIN_CELL = 5
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

REGIONS = (
    RegionInfo("cantabria", "Cantabria", "ES13", "ES", "Export Consortia (SODERCAN)", "EUR"),
    RegionInfo("kujawsko", "Kujawsko-Pomorskie", "PL61", "PL", "Co-operation Links Fund", "PLN"),
    RegionInfo("hostile", HOSTILE, "XX99", "XX", "<b>bold</b> & co", "EUR"),
)


#: A value planted in suppressed cells: the report must never show it (the disclosure tests
#: look for its digits). No legitimate number in the fixture contains "777".
SECRET = 7777.77
SECRET_SHARE = 77.77
CLUSTER_HOSTILE = '<i>C2</i> "ç" 🤝'
METHOD_LABELS = {
    "callaway_santanna": "Callaway-Sant'Anna (doubly robust; simple aggregation)",
    "event_study": "Event study (TWFE with never-member controls)",
    "twfe": "Static two-way fixed effects",
}
OUTCOME_LABELS = {
    "exporter": "Export propensity (share of firms exporting, 0/1)",
    "log_exports": "log(1 + exports in EUR)",
    "exports_eur": "Exports, EUR",
}


def _estimate(term: str, est: float, se: float, event_time: int | None = None,
              p: float | None = None) -> Estimate:
    half = 1.959963984540054 * se
    return Estimate(term, est, se, est - half, est + half,
                    0.5 if p is None else p, event_time)


def _event_study(outcome: str, effects: dict[int, float], se: float, *,
                 warnings: tuple[str, ...] = (), n_clusters: int = 368) -> DiDResult:
    estimates = tuple(_estimate(f"event_time::{k}", v, se, k, p=0.04 if v > 2 * se else 0.6)
                      for k, v in sorted(effects.items()))
    post = [v for k, v in effects.items() if k >= 0]
    headline = _estimate("att_post_avg", float(np.nanmean(post)), se / 2, None, p=0.0004)
    return DiDResult(
        method="event_study", outcome=outcome, estimates=estimates, headline=headline,
        vcov=np.eye(len(estimates)) * se**2,
        vcov_type="CRV1 clustered by consortium (fixest small-sample correction)",
        alpha=0.05, n_obs=4200, n_units=420, n_treated=60, n_clusters=n_clusters,
        spec={"leads": 4, "lags": 4, "control_group": "never_treated", "cluster": "consortium"},
        warnings=warnings,
    )


def _cs(outcome: str, effects: dict[int, float], se: float, headline: float, *,
        warnings: tuple[str, ...] = (), n_clusters: int = 368) -> DiDResult:
    """A Callaway-Sant'Anna result: event time -1 is estimated (varying base period)."""
    estimates = tuple(_estimate(f"event_time::{k}", v, se, k, p=0.04 if v > 2 * se else 0.6)
                      for k, v in sorted(effects.items()))
    return DiDResult(
        method="callaway_santanna", outcome=outcome, estimates=estimates,
        headline=_estimate("simple_att", headline, se / 2, None, p=0.002),
        vcov=np.eye(len(estimates)) * se**2,
        vcov_type="analytic influence function, clustered by consortium",
        alpha=0.05, n_obs=4200, n_units=420, n_treated=60, n_clusters=n_clusters,
        spec={"control_group": "never_treated", "cluster": "consortium",
              "base_period": "varying"},
        warnings=warnings,
    )


def _twfe(outcome: str, est: float, se: float) -> DiDResult:
    h = _estimate("treated_post", est, se, None, p=float("nan"))
    return DiDResult(
        method="twfe", outcome=outcome, estimates=(h,), headline=h, vcov=np.array([[se**2]]),
        vcov_type="CRV1 clustered by consortium", alpha=0.05, n_obs=3000, n_units=300,
        n_treated=40, n_clusters=4, spec={"cluster": "consortium"},
        warnings=("only 4 treated clusters: intervals may be too narrow",),
    )


def _row(ind: str, name: str, unit: str, period: str, value: float, *, group: str = "all",
         level: str = "region", cluster: str = "", n: int = 40, flag: str = "") -> dict:
    return {"indicator_id": ind, "indicator": name, "level": level, "unit": unit,
            "period": period, "group": group, "cluster_id": cluster,
            "value": SECRET if flag == "suppressed" and unit == "EUR" else
            (SECRET_SHARE if flag == "suppressed" else value),
            "n_firms": 3 if flag == "suppressed" else n, "flag": flag}


def _monitoring_rows(k: int, *, suppress: bool, level: str = "region",
                     clusters: tuple[str, ...] = ()) -> list[dict]:
    """Life-cycle, order and cost indicators of one region (``k`` varies the numbers) or, with
    ``level="lab"``, of the lab as a whole."""
    rows = []
    s = "suppressed" if suppress else ""
    for i, h in enumerate(("1_year", "2_years", "3_years", "4_years")):
        flag = s if (h == "3_years" and suppress) else ""
        rows.append(_row("I04K", "Cluster survival past the seed phase (Kaplan-Meier)", "%",
                         "cumulative", 100.0 - (10 + k) * i, group=h, level=level, flag=flag))
    years = range(2016, 2023)
    for y in years:
        t = y - 2016
        rows.append(_row("I05", "Self-sustainability ratio", "%", str(y), 5.0 + 12.5 * t + k,
                         level=level))
        rows.append(_row("I06", "Public-dependence ratio", "%", str(y), 95.0 - 12.5 * t - k,
                         level=level))
        if y > 2016:
            rows.append(_row("I07", "Member retention", "%", str(y), 90.0 - k + (t % 3),
                             level=level))
            rows.append(_row("I08", "Member churn", "%", str(y), 10.0 + k - (t % 2), level=level))
        flag = s if (y == 2017 and suppress) else ""
        rows.append(_row("I09", "New export orders via consortia", "orders", str(y),
                         float(10 + 2 * t + k), level=level, flag=flag))
        rows.append(_row("I10", "Value of new export orders via consortia", "EUR", str(y),
                         125_000.0 * (1 + t) + 1000 * k, level=level, flag=flag))
        rows.append(_row("I11", "Share of orders won jointly", "%", str(y), 60.0 + 2 * t + k,
                         level=level, flag=flag))
        rows.append(_row("I17", "Extra-EU share of export orders", "%", str(y), 30.0 + t + k,
                         group="via_clusters", level=level, flag=flag))
        rows.append(_row("I17", "Extra-EU share of export orders", "%", str(y), 25.0 + t + k,
                         level=level))
        for g, v in (("members", 3.0 + t), ("never_members", 1.0)):
            rows.append(_row("I16", "New export markets entered", "countries", str(y), v + k,
                             group=g, level=level))
        rows.append(_row("I18", "Public cost per SME supported", "EUR per enterprise", str(y),
                         6000.0 - 800 * t + 10 * k, level=level))
        rows.append(_row("I20", "Leverage of private co-financing", "EUR per EUR", str(y),
                         0.05 + 0.25 * t + 0.01 * k, level=level))
    for ind, name, unit, value in (
            ("I05", "Self-sustainability ratio", "%", 45.5 + k),
            ("I06", "Public-dependence ratio", "%", 50.5 - k),
            ("I07", "Member retention", "%", 88.5 - k),
            ("I08", "Member churn", "%", 9.5 + k),
            ("I09", "New export orders via consortia", "orders", 110.0 + k),
            ("I11", "Share of orders won jointly", "%", 64.5 + k),
            ("I17", "Extra-EU share of export orders", "%", 28.5 + k),
            ("I18", "Public cost per SME supported", "EUR per enterprise", 16_400.0 + 10 * k),
            ("I19", "Public cost per EUR of additional exports", "EUR per EUR", 0.0125 * (1 + k)),
            ("I20", "Leverage of private co-financing", "EUR per EUR", 0.95 + 0.01 * k)):
        rows.append(_row(ind, name, unit, "cumulative", value, level=level))
    for j, c in enumerate(clusters):
        for y in years:
            t = y - 2016
            flag = "suppressed" if (suppress and j == 1 and y == 2018) else ""
            rows.append(_row("I05", "Self-sustainability ratio", "%", str(y), 5.0 + 10 * t + j,
                             level="cluster", cluster=c, flag=flag))
            rows.append(_row("I06", "Public-dependence ratio", "%", str(y), 90.0 - 10 * t - j,
                             level="cluster", cluster=c))
            rows.append(_row("I09", "New export orders via consortia", "orders", str(y),
                             float(5 + t + j), level="cluster", cluster=c, flag=flag))
            rows.append(_row("I10", "Value of new export orders via consortia", "EUR", str(y),
                             60_000.0 + 5000 * t + j, level="cluster", cluster=c, flag=flag))
            rows.append(_row("I20", "Leverage of private co-financing", "EUR per EUR", str(y),
                             0.1 + 0.2 * t + 0.01 * j, level="cluster", cluster=c))
    return rows


def _indicator_rows(info: RegionInfo, scale: float, *, suppress: bool, formula: bool,
                    suppress_latest: bool = False) -> list[dict]:
    rows = []
    for year in range(2014, 2023):
        rows.append({"indicator_id": "I02A", "indicator": "Consortia active at year end",
                     "level": "region", "unit": "consortia", "period": str(year), "group": "all",
                     "value": float(3 + (year - 2014) // 3), "n_firms": 40, "flag": ""})
        n = int(20 + 3 * (year - 2014) * scale)
        rows.append({"indicator_id": "I01", "indicator": "SMEs supported", "level": "region",
                     "unit": "enterprises", "period": str(year), "group": "members",
                     "value": float(n), "n_firms": n, "flag": ""})
        for group, share in (("members", 41.5 + year - 2014), ("never_members", 30.25)):
            rows.append({"indicator_id": "I14", "indicator": "Share of exporting firms",
                         "level": "region", "unit": "%", "period": str(year), "group": group,
                         "value": share * scale, "n_firms": 60, "flag": ""})
        rows.append({"indicator_id": "I12", "indicator": "Export turnover", "level": "region",
                     "unit": "EUR", "period": str(year), "group": "members",
                     "value": 1_234_567.891 * scale * (1 + 0.1 * (year - 2014)), "n_firms": 60,
                     "flag": ""})
    rows.append({"indicator_id": "I01", "indicator": "SMEs supported", "level": "region",
                 "unit": "enterprises", "period": "cumulative", "group": "members",
                 "value": 95.0, "n_firms": 95, "flag": ""})
    rows.append({"indicator_id": "I02", "indicator": "Consortia formed", "level": "region",
                 "unit": "consortia", "period": "cumulative", "group": "all", "value": 6.0,
                 "n_firms": 95, "flag": ""})
    rows.append({"indicator_id": "I10", "indicator": "Value of new export orders via consortia",
                 "level": "region", "unit": "EUR", "period": "cumulative", "group": "all",
                 "value": np.nan, "n_firms": 0, "flag": "not_available"})
    if suppress:
        for r in rows:
            if (r["indicator_id"], r["period"], r["group"]) == ("I14", "2021", "never_members"):
                r.update(value=np.nan, n_firms=3, flag="suppressed")
    if suppress_latest:
        for r in rows:
            if (r["indicator_id"], r["period"], r["group"]) == ("I14", "2022", "never_members"):
                r.update(value=np.nan, n_firms=2, flag="suppressed")
    if formula:
        rows.append({"indicator_id": "I99", "indicator": FORMULA, "level": "region",
                     "unit": "-share", "period": "2022", "group": "@members",
                     "value": -0.5, "n_firms": 12, "flag": ""})
    return [{"region": info.name, "nuts2": info.nuts2, **r} for r in rows]


def _balance_rows(info: RegionInfo, k: float, *, suppress: bool) -> list[dict]:
    """Exporter share (I14) and export intensity (I13) of firms that joined later, in the
    first year, against never-members (the balance the indicators allow)."""
    flag = "suppressed" if suppress else ""
    rows = [
        _row("I14", "Share of exporting firms", "%", "2014", 44.5 + k, group="not_yet_members",
             flag=flag),
        _row("I13", "Export intensity", "%", "2014", 18.5 + k, group="not_yet_members"),
        _row("I13", "Export intensity", "%", "2014", 12.25, group="never_members"),
    ]
    return [{"region": info.name, "nuts2": info.nuts2, **r} for r in rows]


def _diagnostics() -> tuple[RegionDiagnostics, ...]:
    def bacon(twfe: float, later: float) -> dict:
        return {"twfe": twfe, "sample": "balanced panel: 250 firms observed in all 9 years "
                                        "(10 firms with gaps left out)",
                "comparisons": [
                    {"type": "Treated vs Untreated", "weight": 0.9, "estimate": twfe + 0.01},
                    {"type": "Earlier vs Later Treated", "weight": 0.06, "estimate": 0.05},
                    {"type": "Later vs Earlier Treated", "weight": 0.04, "estimate": later}]}

    def pretrend(stat: float, p: float) -> dict:
        return {"test": "pretrend_wald", "source": "callaway_santanna", "statistic": stat,
                "df": 3, "p_value": p, "distribution": "chi2",
                "terms": ["event_time::-3", "event_time::-2", "event_time::-1"]}

    return (
        RegionDiagnostics("cantabria", "exporter", pretrend(4.25, 0.236), bacon(0.0415, -0.12),
                          power={"method": "minimum_detectable_effect", "mde": 0.0645,
                                 "plausible": [0.05, 0.1], "baseline_mean": 0.5,
                                 "warning": "Partly underpowered: the minimum detectable effect "
                                            "at 80% power is 0.0645, inside the plausible range"},
                          honest={"method": "honest_did:C-LF", "source": "event_study",
                                  "breakdown": 0.5, "robust": [
                                      {"M": 0.0, "conf_low": 0.01, "conf_high": 0.09},
                                      {"M": 1.0, "conf_low": -0.035, "conf_high": 0.135}]}),
        RegionDiagnostics("cantabria", "log_exports", pretrend(2.5, 0.475), bacon(0.155, 0.02)),
        RegionDiagnostics("kujawsko", "exporter", pretrend(14.5, 0.0023), bacon(0.0125, 0.09)),
        RegionDiagnostics("hostile", "exporter", None, None, notes=(
            "pre-trend test not computed: no pre-joining estimates",
            f"Bacon decomposition not computed: {HOSTILE} has a single cohort")),
    )


def make_result() -> EvaluationResult:
    """Three regions (one with a hostile name), suppressed cells, Callaway-Sant'Anna headline
    estimates with event studies beside them, a TWFE, diagnostics and monitoring indicators."""
    can, kuj, hos = REGIONS

    def region(info: RegionInfo, k: int, suppress: bool, clusters: tuple[str, ...]) -> list[dict]:
        return [{"region": info.name, "nuts2": info.nuts2, **r}
                for r in _monitoring_rows(k, suppress=suppress, clusters=clusters)]

    lab = [{"region": "All regions", "nuts2": "", **r}
           for r in _monitoring_rows(2, suppress=False, level="lab")]
    indicators = pd.DataFrame(
        _indicator_rows(can, 1.0, suppress=True, formula=False)
        + _indicator_rows(kuj, 0.8, suppress=False, formula=False)
        + _indicator_rows(hos, 1.2, suppress=True, formula=True, suppress_latest=True)
        + region(can, 0, True, ("CAN01", CLUSTER_HOSTILE)) + region(kuj, 1, False, ("KUJ01",))
        + region(hos, 3, True, ()) + lab
        + _balance_rows(can, 0.0, suppress=False) + _balance_rows(kuj, -8.0, suppress=False)
        + _balance_rows(hos, 1.0, suppress=True),
        columns=INDICATOR_COLUMNS,
    )
    # Shuffle rows: the outputs must not depend on the order the indicator stage produced.
    indicators = indicators.sample(frac=1.0, random_state=7).reset_index(drop=True)
    few = ("few clusters: 'consortium' has 368 clusters, only 8 with treated units",)
    effects = (
        RegionEffect("cantabria", "exporter", _cs(
            "exporter", {-3: 0.01, -2: -0.005, -1: 0.012, 0: 0.03, 1: 0.055, 2: 0.07, 3: 0.08},
            0.015, 0.0526, warnings=few)),
        RegionEffect("cantabria", "exporter", _event_study(
            "exporter", {-4: 0.01, -3: -0.005, -2: 0.004, 0: 0.03, 1: 0.055, 2: 0.07, 3: 0.08},
            0.015)),
        RegionEffect("kujawsko", "exporter", _cs(
            "exporter", {-3: -0.02, -2: 0.01, -1: 0.005, 0: 0.01, 1: 0.0, 2: 0.02}, 0.02, 0.01)),
        RegionEffect("kujawsko", "exporter", _event_study(
            "exporter", {-4: -0.02, -3: 0.01, -2: 0.0, -1: 0.0, 0: 0.01, 1: 0.0, 2: 0.02}, 0.02,
            warnings=("pre-trend test p = 0.03: members already differed before joining",))),
        RegionEffect("hostile", "exporter", _cs(
            "exporter", {0: 0.1 + 0.2, 1: 0.12, 2: float("nan")}, 0.03, 0.205,
            warnings=(f"{HOSTILE} <img src=x onerror=alert(2)>",))),
        RegionEffect("hostile", "exporter", _event_study(
            "exporter", {-3: 0.02, -2: 0.01, 0: 0.1 + 0.2, 1: 0.12, 2: float("nan")}, 0.03)),
        RegionEffect("cantabria", "log_exports", _cs(
            "log_exports", {-2: 0.04, -1: -0.02, 0: 0.12, 1: 0.18, 2: 0.21}, 0.06, 0.165)),
        RegionEffect("cantabria", "log_exports", _event_study(
            "log_exports", {-3: 0.05, -2: -0.02, 0: 0.12, 1: 0.18, 2: 0.21}, 0.06)),
        RegionEffect("kujawsko", "log_exports", _twfe("log_exports", 0.09, 0.05)),
        RegionEffect("cantabria", "exports_eur", _cs(
            "exports_eur", {-1: 1500.0, 0: 12_000.0, 1: 25_000.0}, 11_000.0, 18_500.0)),
    )
    data_quality = pd.DataFrame({
        "region": [r.name for r in REGIONS],
        "n_firms": [420, 300, 77],
        "n_firm_years": [4200, 3000, 693],
        "share_exports_missing": [0.012, 0.0, float("nan")],
        "rows_dropped": [3, 0, 12],
        "fx_rate_source": ["EUR (none)", "config: PLN per EUR 4.18–4.54", FORMULA],
        "fiscal_year_shifted": [False, False, True],
    })
    provenance = {
        "policylab_version": "0.1.0",
        "config": {"path": "configs/example.toml", "sha256": "9f" * 32},
        "inputs": [
            {"region": "cantabria", "table": "firms", "path": "data/example/cantabria/firms.csv",
             "sha256": "a1" * 32, "rows": 4200},
            {"region": "hostile", "table": "firms", "path": f"data/{HOSTILE}/firms.csv",
             "sha256": "b2" * 32, "rows": 693},
        ],
        "python": "3.11.7",
        "packages": {"pandas": "3.1.1", "numpy": "2.4.6", "statsmodels": "0.15.0"},
        "seed": 20261127,
    }
    outcomes = ["exporter", "log_exports", "exports_eur"]
    return EvaluationResult(
        synthesis=synthesize(effects, regions=[r.key for r in REGIONS], alpha=0.05),
        lab_name=f"SIE policy lab {HOSTILE}",
        lab_description=("Export consortia and cluster programmes in three regions "
                         "(synthetic test data)."),
        regions=REGIONS,
        indicators=indicators,
        effects=effects,
        data_quality=data_quality,
        provenance=provenance,
        settings={"min_cell_firms": MIN_CELL, "alpha": 0.05, "cluster": "consortium",
                  "leads": 4, "lags": 4, "outcomes": outcomes,
                  "outcome_labels": {o: OUTCOME_LABELS[o] for o in outcomes},
                  "methods": ["callaway_santanna", "event_study"],
                  "method_labels": {m: METHOD_LABELS[m] for m in ("callaway_santanna",
                                                                   "event_study")},
                  "headline_estimator": "callaway_santanna"},
        warnings=("Kent is not in this lab: its files were missing", f"lab note {HOSTILE}"),
        diagnostics=_diagnostics(),
    )
