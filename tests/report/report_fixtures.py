"""Real EvaluationResult objects built from plain numbers, for the report tests.

A plain module (not ``conftest``), so tests and a fresh interpreter can import it by a name
no other test folder uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.did.results import DiDResult, Estimate
from policylab.evaluation import INDICATOR_COLUMNS, EvaluationResult, RegionEffect, RegionInfo
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


def _twfe(outcome: str, est: float, se: float) -> DiDResult:
    h = _estimate("treated_post", est, se, None, p=float("nan"))
    return DiDResult(
        method="twfe", outcome=outcome, estimates=(h,), headline=h, vcov=np.array([[se**2]]),
        vcov_type="CRV1 clustered by consortium", alpha=0.05, n_obs=3000, n_units=300,
        n_treated=40, n_clusters=4, spec={"cluster": "consortium"},
        warnings=("only 4 treated clusters: intervals may be too narrow",),
    )


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


def make_result() -> EvaluationResult:
    """Three regions (one with a hostile name), a suppressed cell, event studies and a TWFE."""
    can, kuj, hos = REGIONS
    indicators = pd.DataFrame(
        _indicator_rows(can, 1.0, suppress=True, formula=False)
        + _indicator_rows(kuj, 0.8, suppress=False, formula=False)
        + _indicator_rows(hos, 1.2, suppress=True, formula=True, suppress_latest=True),
        columns=INDICATOR_COLUMNS,
    )
    # Shuffle rows: the outputs must not depend on the order the indicator stage produced.
    indicators = indicators.sample(frac=1.0, random_state=7).reset_index(drop=True)
    effects = (
        RegionEffect("cantabria", "exporter", _event_study(
            "exporter", {-4: 0.01, -3: -0.005, -2: 0.004, 0: 0.03, 1: 0.055, 2: 0.07, 3: 0.08},
            0.015)),
        RegionEffect("kujawsko", "exporter", _event_study(
            "exporter", {-4: -0.02, -3: 0.01, -2: 0.0, -1: 0.0, 0: 0.01, 1: 0.0, 2: 0.02}, 0.02,
            warnings=("pre-trend test p = 0.03: members already differed before joining",))),
        RegionEffect("hostile", "exporter", _event_study(
            "exporter", {-3: 0.02, -2: 0.01, 0: 0.1 + 0.2, 1: 0.12, 2: float("nan")}, 0.03,
            warnings=(f"{HOSTILE} <img src=x onerror=alert(2)>",))),
        RegionEffect("cantabria", "log_exports", _event_study(
            "log_exports", {-3: 0.05, -2: -0.02, 0: 0.12, 1: 0.18, 2: 0.21}, 0.06)),
        RegionEffect("kujawsko", "log_exports", _twfe("log_exports", 0.09, 0.05)),
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
                  "leads": 4, "lags": 4, "outcomes": ["exporter", "log_exports"],
                  "headline_estimator": "event_study"},
        warnings=("Kent is not in this lab: its files were missing", f"lab note {HOSTILE}"),
    )
