"""Cost indicators: public cost per SME supported (I18) and per EUR of additional exports
(I19, from the impact estimate).

Public expenditure is the public funding of the cluster organisations recorded in
``cluster_finance`` (the seed grant of ``clusters.seed_grant_eur`` is the same money over the
seed years, so it is not added). Agency costs are not in the canonical tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._cells import cells
from .inputs import CUMULATIVE, Inputs
from .registry import indicator


def _public(inp: Inputs) -> pd.DataFrame:
    f = inp.tables["cluster_finance"]
    f = f[f["year"].notna() & f["public_funding_eur"].notna()]
    f = f.assign(year=f["year"].astype("int64"))
    return f[f["year"].between(inp.first_year, inp.last_year)]


@indicator(
    id="I18", name="Public cost per SME supported", unit="EUR per enterprise", levels=("region", "lab"),
    numerator="public funding of the cluster organisations in the period",
    denominator="SMEs supported in the period (I01)", needs=("cluster_finance", "membership"),
    eu_code="RCO01", cumulative="pooled",
    notes="Agency costs are not in the canonical tables, so this is a lower bound.")
def public_cost_per_sme(inp: Inputs) -> pd.DataFrame:
    pub = _public(inp)
    my = inp.member_years
    rows = []
    for y in inp.years:
        n = int(my.loc[my["year"] == y, "firm_id"].nunique())
        cost = float(pub.loc[pub["year"] == y, "public_funding_eur"].sum())
        rows.append({"period": str(y), "value": cost / n if n else np.nan, "n_firms": n})
    n = int(my["firm_id"].nunique())
    cost = float(pub["public_funding_eur"].sum())
    rows.append({"period": CUMULATIVE, "value": cost / n if n else np.nan, "n_firms": n})
    return cells(rows)


def additional_exports(result, panel: pd.DataFrame) -> tuple[float, int]:
    """Estimated additional exports (EUR) and the treated firms behind them: the sum over
    treated firm-years (year >= cohort, known exports) of the event-time effect of their
    event time (end points binned as in the estimate), or the headline ATT when the result
    has no event-time terms."""
    t = panel[(panel["cohort"] > 0) & (panel["year"] >= panel["cohort"]) & panel["exports_eur"].notna()]
    by_e = {int(e.event_time): float(e.estimate) for e in getattr(result, "estimates", ())
            if getattr(e, "event_time", None) is not None and e.event_time >= 0 and np.isfinite(e.estimate)}
    if by_e:
        top = max(by_e)
        e = np.minimum((t["year"] - t["cohort"]).to_numpy(), top)
        effect = np.array([by_e.get(int(k), np.nan) for k in e])
        total = float(np.nansum(effect))
    else:
        total = float(result.headline.estimate) * len(t)
    return total, int(t["firm_id"].nunique())


@indicator(
    id="I19", name="Public cost per EUR of additional exports", unit="EUR per EUR",
    levels=("region", "lab"),
    numerator="public funding of the cluster organisations over the observed years",
    denominator="DiD-estimated additional exports: effect on exports in EUR x treated "
                "firm-years (impact estimate of outcome exports_eur)",
    needs=("cluster_finance", "membership", "impact.exports_eur"), eu_code="RCR19",
    notes="Computed at evaluation from the impact estimate (net, counterfactual); blank when "
          "the estimate shows no additional exports. Compare with the export-promotion "
          "literature (USD 15-40 of exports per USD 1).")
def cost_per_additional_export(inp: Inputs) -> pd.DataFrame:
    pub = _public(inp)
    panel = inp.panel
    cost, extra, n = 0.0, 0.0, 0
    for region, outcomes in inp.impact.items():
        res = outcomes.get("exports_eur")
        if res is None:
            continue
        in_region = panel["region"] == region if inp.scope == "lab" else slice(None)
        more, firms = additional_exports(res, panel[in_region])
        extra += more
        n += firms
        cost += float(pub.loc[pub["region"] == region, "public_funding_eur"].sum()
                      if inp.scope == "lab" else pub["public_funding_eur"].sum())
    note = "" if extra > 0 else "no additional exports estimated: ratio undefined"
    return cells([{"period": CUMULATIVE, "value": cost / extra if extra > 0 else np.nan,
                   "n_firms": n, "note": note}])
