"""Cross-regional cooperation (I22, EU common indicator RCO87 "organisations cooperating
across borders"): deals with firms in partner regions, their value and share of all export
orders, the partner regions linked, and the cross-regional links by kind (I22, I22V, I22S,
I22R, I22P).

Two sources, each optional:

- **deals**: export orders with a partner region (``orders.partner_region``, a NUTS-2 code;
  blank = not a cross-regional deal). An order rests on the same firms as in
  :mod:`~policylab.indicators.orders` (its named firm, else the consortium's members active
  that year, else one unknown firm);
- **links**: the partnerships log (one row per joint mission, cross-regional consortium,
  shared manager or other link, with its year). A link rests on ``n_firms`` of this
  region's firms when the log says so; a link without ``n_firms`` rests on no known firm.

A partner region equal to the region's own NUTS-2 code is not a partner (left out). In the
lab-wide rows every region's deals and links count, so a deal between two regions of the
lab that both record it counts twice (once per region taking part, as participations do).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._cells import cells, cluster_region_cells, finish
from .inputs import CUMULATIVE, Inputs
from .orders import _contributor, _firms_of
from .registry import LINK_GROUPS, indicator

LINKS_NOTE = "link(s) without n_firms (firms taking part unknown) count as resting on no firm"


def _partner(inp: Inputs, frame: pd.DataFrame) -> np.ndarray:
    """Each row's partner region, or ``None`` when blank or the region's own code."""
    p = frame["partner_region"].astype("string").str.strip().str.upper()
    own = inp.own_region(frame)
    keep = p.notna().to_numpy(dtype=bool) & (p.fillna("").to_numpy(dtype=object) != own)
    return np.where(keep, p.fillna("").to_numpy(dtype=object), None)


def _deals(inp: Inputs) -> pd.DataFrame:
    """Orders with a partner region (other than the region's own), ``partner`` column added."""
    o = inp.orders.reset_index(drop=True)
    o = o.assign(partner=_partner(inp, o))
    return o[o["partner"].notna()].reset_index(drop=True)


def _region_key(frame: pd.DataFrame) -> pd.Series:
    return pd.Series("", index=frame.index, dtype=object)


def _deal_cells(inp: Inputs, column: str) -> pd.DataFrame:
    o = _deals(inp).assign(n=1.0)
    key = _region_key(o)
    sums = pd.DataFrame({"cluster_id": key.to_numpy(), "year": o["year"].to_numpy(dtype="int64"),
                         column: o[column].to_numpy(dtype="float64")})
    contrib = sums.assign(contributor=_contributor(o).to_numpy())
    out = cluster_region_cells(sums, _firms_of(inp, o, key), years=inp.years, cumulative=True,
                               value=lambda s: s[column].astype("float64"), per_cluster=False,
                               contrib=contrib if column == "value_eur" else None,
                               contrib_cols=("value_eur",))
    return finish(out[out["cluster_id"] == ""])


@indicator(
    id="I22", optional=True, name="Cross-regional deals", unit="orders", levels=("region", "lab"),
    numerator="export orders signed in the period with a firm or buyer in a partner region "
              "(orders.partner_region given, not the region's own NUTS-2 code)",
    denominator="-", needs=("orders.partner_region", "membership"), eu_code="RCO87",
    cumulative="sum",
    notes="RCO87 counts organisations cooperating across borders; the orders log records deals, "
          "so I22 counts deals (each order once, whether or not won via a consortium). "
          "n_firms: the firms the orders rest on (as I09). A partner_region column with no value "
          "at all reads as not recorded (not available), not as zero deals.")
def cross_regional_deals(inp: Inputs) -> pd.DataFrame:
    return _deal_cells(inp, "n")


@indicator(
    id="I22V", optional=True, name="Value of cross-regional deals", unit="EUR", levels=("region", "lab"),
    numerator="sum of the values of the cross-regional deals (EUR)", denominator="-",
    needs=("orders.partner_region", "membership"), eu_code="RCO87", cumulative="sum",
    magnitude=True,
    notes="A sum of firms' order values: the rule on contributing firms and the dominance rule "
          "apply, as for I10.")
def cross_regional_value(inp: Inputs) -> pd.DataFrame:
    return _deal_cells(inp, "value_eur")


@indicator(
    id="I22S", optional=True, name="Share of export orders that are cross-regional", unit="%",
    levels=("region", "lab"),
    numerator="export orders with a partner region (I22)",
    denominator="all export orders signed in the period", needs=("orders.partner_region", "membership"),
    eu_code="RCO87", cumulative="pooled",
    notes="A share of orders by number (not value). n_firms: the firms all the period's orders "
          "rest on.")
def cross_regional_share(inp: Inputs) -> pd.DataFrame:
    o = inp.orders.reset_index(drop=True)
    cross = pd.notna(_partner(inp, o)).astype("float64")
    key = _region_key(o)
    sums = pd.DataFrame({"cluster_id": key.to_numpy(), "year": o["year"].to_numpy(dtype="int64"),
                         "num": cross, "den": 1.0})
    out = cluster_region_cells(sums, _firms_of(inp, o, key), years=inp.years, cumulative=True,
                               value=lambda s: (100.0 * s["num"] / s["den"]).where(s["den"] > 0),
                               per_cluster=False)
    return finish(out[out["cluster_id"] == ""])


@indicator(
    id="I22M", optional=True, name="Cross-regional deals by partner region", unit="orders",
    levels=("region", "lab"),
    numerator="cross-regional deals (I22) over the whole period, by the partner region's NUTS-2 "
              "code (the group); group all = every partner",
    denominator="-", needs=("orders.partner_region", "membership"), eu_code="RCO87",
    cumulative="none", partition="open",
    notes="The region x partner-region matrix of the report's heat map: whole period only. "
          "n_firms: the firms the deals with that partner rest on (as I09); a partner cell on "
          "too few firms is suppressed, and so is another one of the region, so that no hidden "
          "cell follows from the total.")
def deals_by_partner(inp: Inputs) -> pd.DataFrame:
    o = _deals(inp)
    rows = []
    for partner in ["all", *sorted(set(o["partner"]))]:
        part = (o if partner == "all" else o[o["partner"] == partner]).reset_index(drop=True)
        firms = _firms_of(inp, part, _region_key(part))
        rows.append({"period": CUMULATIVE, "group": partner, "value": float(len(part)),
                     "n_firms": int(firms["firm_id"].nunique())})
    return cells(rows)


# ------------------------------------------------------------------------------- the links


def _links(inp: Inputs) -> pd.DataFrame:
    """Partnership links of the scope's years with a partner region (not the own one)."""
    if "partnerships" not in inp.tables:
        return pd.DataFrame({"year": pd.Series([], dtype="int64"), "partner": pd.Series([], dtype=object),
                             "link_type": pd.Series([], dtype=object), "n_firms": pd.Series([], dtype="float64")})
    p = inp.tables["partnerships"]
    p = p[p["year"].notna()].reset_index(drop=True)
    p = p.assign(partner=_partner(inp, p))
    p = p[p["partner"].notna()].reset_index(drop=True)
    n = p["n_firms"] if "n_firms" in p else pd.Series(np.nan, index=p.index)
    return pd.DataFrame({"year": p["year"].to_numpy(dtype="int64"), "partner": p["partner"].to_numpy(),
                         "link_type": p["link_type"].astype("string").fillna("other").to_numpy(dtype=object),
                         "n_firms": pd.to_numeric(n, errors="coerce").to_numpy(dtype="float64")})


def _period_rows(frame: pd.DataFrame, years) -> list[tuple[str, pd.DataFrame]]:
    yrs = list(years)
    inside = frame[frame["year"].isin(yrs)]
    return [(str(y), inside[inside["year"] == y]) for y in yrs] + [(CUMULATIVE, inside)]


@indicator(
    id="I22P", optional=True, name="Cross-regional links", unit="links", levels=("region", "lab"),
    numerator="links with partner regions in the partnerships log in the period (joint missions, "
              "cross-regional consortia, shared managers, other)",
    denominator="-", needs=("partnerships",), eu_code="RCO87", cumulative="sum",
    partition="link_types",
    notes="Groups: 'all' and each link_type. n_firms: the region's firms taking part (sum of the "
          "links' n_firms; a firm in two links counts twice). A link whose n_firms is blank rests "
          "on no known firm: a count of organisational links is not a firm's data, so a cell of "
          "such links only is published; a cell resting on 1 to min_cell_firms - 1 known firms is "
          "suppressed like any other.")
def cross_regional_links(inp: Inputs) -> pd.DataFrame:
    links = _links(inp)
    rows = []
    for period, sub in _period_rows(links, inp.years):
        for group in LINK_GROUPS:
            g = sub if group == "all" else sub[sub["link_type"] == group]
            unknown = int(g["n_firms"].isna().sum())
            rows.append({"period": period, "group": group, "value": float(len(g)),
                         "n_firms": float(np.nansum(g["n_firms"].to_numpy(dtype="float64"))),
                         "note": f"{unknown} {LINKS_NOTE}" if unknown else ""})
    return cells(rows)


@indicator(
    id="I22R", optional=True, name="Partner regions linked", unit="regions", levels=("region", "lab"),
    numerator="distinct partner regions (NUTS-2 codes) of the period's cross-regional deals and "
              "links", denominator="-",
    needs=("orders.partner_region|partnerships", "membership"), eu_code="RCO87", cumulative="distinct",
    notes="Cumulative: distinct regions over all years (not the sum of the years). Either source "
          "suffices; with both, a region counts once. n_firms: the firms the deals rest on plus the "
          "links' n_firms (blank = no known firm).")
def regions_linked(inp: Inputs) -> pd.DataFrame:
    if "orders" in inp.tables and "partner_region" in inp.tables["orders"]:
        deals = _deals(inp)
        firms = _firms_of(inp, deals, _region_key(deals))
    else:
        deals = pd.DataFrame({"year": pd.Series([], dtype="int64"), "partner": pd.Series([], dtype=object)})
        firms = pd.DataFrame({"year": pd.Series([], dtype="int64"), "firm_id": pd.Series([], dtype=object)})
    links = dict(_period_rows(_links(inp), inp.years))
    firms_in = dict(_period_rows(firms.astype({"year": "int64"}), inp.years))
    rows = []
    for period, d in _period_rows(deals, inp.years):
        lk = links[period]
        regions = set(d["partner"].dropna()) | set(lk["partner"].dropna())
        n = firms_in[period]["firm_id"].nunique() + np.nansum(lk["n_firms"].to_numpy(dtype="float64"))
        rows.append({"period": period, "value": float(len(regions)), "n_firms": float(n)})
    return cells(rows)
