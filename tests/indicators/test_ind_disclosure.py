"""Disclosure control: the rules on hand-made cells, then properties over random small labs
(no published cell rests on too few firms or is dominated by one firm; no total minus the
visible cells reveals a suppressed one), then every output format."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ind_checks import check_disclosure, relation_groups
from ind_worlds import NORTH, SOUTH, firm_world

from policylab.evaluation import INDICATOR_COLUMNS, EvaluationResult, RegionInfo
from policylab.indicators import (
    LAB_REGION,
    apply_disclosure_control,
    compute_indicators,
    raw_indicators,
)

# ----------------------------------------------------------------------------- hand-made cells


def raw_cell(indicator_id="I12", period="2020", group="members", value=100.0, n_firms=10,
             n_contrib=np.nan, max_share=np.nan, region="North", level="region", cluster_id="",
             flag="", **kw):
    row = {"region": region, "nuts2": "ES13", "indicator_id": indicator_id, "indicator": "x",
           "level": level, "unit": "EUR", "period": period, "group": group, "cluster_id": cluster_id,
           "n_missing": 0, "note": "", "value": value, "n_firms": n_firms, "flag": flag,
           "n_contrib": n_contrib, "max_share": max_share}
    row.update(kw)
    return row


def disclose(rows, min_cell_firms=5, dominance_share=0.85):
    return apply_disclosure_control(pd.DataFrame(rows), min_cell_firms=min_cell_firms,
                                    dominance_share=dominance_share)


def test_a_cell_on_too_few_firms_is_blanked_and_marked_not_dropped():
    out = disclose([raw_cell(n_firms=4, value=123.0), raw_cell(period="2021", n_firms=5, value=7.0)])
    assert len(out) == 2
    small = out.iloc[0]
    assert small.flag == "suppressed" and math.isnan(small.value)
    assert pd.isna(small.n_firms) and pd.isna(small.n_missing)  # the count itself is a disclosure
    assert out.iloc[1].flag == "" and out.iloc[1].value == 7.0


def test_an_empty_cell_reveals_nothing_and_stays():
    out = disclose([raw_cell(indicator_id="I02", n_firms=0, value=0.0, group="all")])
    assert out.iloc[0].flag == "" and out.iloc[0].value == 0


def test_dominance_suppresses_magnitudes_only_and_is_configurable():
    rows = [raw_cell(indicator_id="I12", max_share=0.86, n_contrib=6),      # export sum: dominated
            raw_cell(indicator_id="I12", period="2019", max_share=0.85, n_contrib=6),  # not above
            raw_cell(indicator_id="I14", max_share=0.99, unit="%")]        # a share of firms
    out = disclose(rows)
    assert out.flag.tolist() == ["suppressed", "", ""]
    assert disclose(rows, dominance_share=0.9).flag.tolist() == ["", "", ""]
    assert disclose(rows, dominance_share=0.5).flag.tolist() == ["suppressed", "suppressed", ""]


def test_too_few_contributors_to_a_sum():
    # ten firms behind the cell, but only two exported: each could work out the other's exports
    out = disclose([raw_cell(n_firms=10, n_contrib=2, max_share=0.6)])
    assert out.iloc[0].flag == "suppressed"
    zero = disclose([raw_cell(n_firms=10, n_contrib=0, max_share=0.0, value=0.0)])
    assert zero.iloc[0].flag == ""


def _groups(**n):
    return [raw_cell(indicator_id="I14", group=g, n_firms=k, value=50.0) for g, k in n.items()]


def test_secondary_suppression_across_groups():
    out = disclose(_groups(all=40, members=3, not_yet_members=0, never_members=37))
    by = dict(zip(out.group, out.flag))
    # all - never_members would give members: never_members (the part on fewest firms) goes too
    assert by == {"all": "", "members": "suppressed", "not_yet_members": "", "never_members": "suppressed"}


def test_secondary_suppression_needs_enough_firms_together():
    out = disclose(_groups(all=60, members=2, not_yet_members=2, never_members=56))
    # members and not-yet members are both small, together 4 < 5 firms: a third cell goes
    assert out.set_index("group").loc["never_members", "flag"] == "suppressed"


def test_secondary_suppression_across_years_and_regions():
    years = [raw_cell(period=str(y), n_firms=n) for y, n in ((2019, 8), (2020, 3), (2021, 9))]
    cum = raw_cell(period="cumulative", n_firms=12)
    out = disclose(years + [cum])
    assert out.flag.tolist() == ["suppressed", "suppressed", "", ""]  # 2019: the smaller other year
    regions = [raw_cell(region=r, n_firms=n, period="cumulative") for r, n in (("A", 3), ("B", 9), ("C", 20))]
    lab = raw_cell(region=LAB_REGION, level="lab", n_firms=32, period="cumulative")
    out = disclose(regions + [lab])
    assert out.flag.tolist() == ["suppressed", "suppressed", "", ""]


def test_secondary_suppression_between_a_region_and_its_clusters():
    rows = [raw_cell(indicator_id="I09", group="all", n_firms=n, level="cluster", cluster_id=c)
            for c, n in (("X", 2), ("Y", 6), ("Z", 7))]
    rows.append(raw_cell(indicator_id="I09", group="all", n_firms=15))
    out = disclose(rows)
    assert out.flag.tolist() == ["suppressed", "suppressed", "", ""]


def test_not_available_cells_are_left_alone():
    out = disclose([raw_cell(n_firms=0, value=np.nan, flag="not_available", note="not available: x")])
    assert out.iloc[0].flag == "not_available" and out.iloc[0].note == "not available: x"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="dominance_share"):
        disclose([raw_cell()], dominance_share=0)
    with pytest.raises(ValueError, match="min_cell_firms"):
        disclose([raw_cell()], min_cell_firms=0)


# ------------------------------------------------------------------- random small labs

PROPERTY_IDS = ["I01", "I09", "I10", "I12", "I13", "I14", "I16"]



def random_region(rng: np.random.Generator, prefix: str) -> dict[str, pd.DataFrame]:
    n = int(rng.integers(3, 14))
    years = list(range(2018, 2018 + int(rng.integers(3, 5))))
    ids = [f"{prefix}{i}" for i in range(n)]
    rows = []
    for f in ids:
        scale = 1e6 if rng.random() < 0.15 else 1.0  # now and then a dominant exporter
        for y in years:
            exports = float(rng.choice([0.0, rng.integers(1, 100) * scale]))
            if rng.random() < 0.08:
                exports = np.nan
            turnover = 150.0 if np.isnan(exports) else exports + float(rng.integers(10, 200))
            rows.append((f, y, exports, turnover,
                         float(rng.integers(1, 300))))
    firms = pd.DataFrame(rows, columns=["firm_id", "year", "exports_eur", "turnover_eur", "employees"])
    firms = firms.astype({"firm_id": "string", "year": "Int64"})
    clusters = [f"{prefix}K{i}" for i in range(int(rng.integers(1, 3)))]
    mem = []
    for f in ids:
        if rng.random() < 0.6:
            join = int(rng.choice(years))
            exit_ = int(rng.integers(join + 1, years[-1] + 3))
            mem.append((f, str(rng.choice(clusters)), join, exit_ if exit_ <= years[-1] else None))
    membership = pd.DataFrame({
        "firm_id": pd.array([m[0] for m in mem], dtype="string"),
        "cluster_id": pd.array([m[1] for m in mem], dtype="string"),
        "join_year": pd.array([m[2] for m in mem], dtype="Int64"),
        "exit_year": pd.array([m[3] for m in mem], dtype="Int64"),
    })
    cl = pd.DataFrame({"cluster_id": pd.array(clusters, dtype="string"),
                       "founded_year": pd.array([years[0]] * len(clusters), dtype="Int64")})
    orders = []
    for i in range(int(rng.integers(0, 12))):
        m = mem[int(rng.integers(len(mem)))] if mem and rng.random() < 0.7 else None
        firm = m[0] if m else str(rng.choice(ids))
        year = int(rng.choice(years))
        via = m[1] if m and m[2] <= year else None
        orders.append((f"{prefix}o{i}", via, firm if rng.random() < 0.9 else None, f"{year}-06-01",
                       float(rng.integers(1, 50)) * (1000 if rng.random() < 0.1 else 1),
                       str(rng.choice(["DE", "US", "FR", "CN"]))))
    o = pd.DataFrame(orders, columns=["order_id", "cluster_id", "firm_id", "order_date", "value_eur",
                                      "destination_country"])
    o = o.astype({"order_id": "string", "cluster_id": "string", "firm_id": "string",
                  "destination_country": "string", "value_eur": "float64"})
    o["order_date"] = pd.to_datetime(o["order_date"])
    return {"firms": firms, "membership": membership, "clusters": cl, "orders": o}


def random_lab(seed: int):
    rng = np.random.default_rng(seed)
    return [(RegionInfo(f"r{i}", f"Region {i}", "ES13", "ES", "", "EUR"), random_region(rng, f"r{i}f"))
            for i in range(int(rng.integers(2, 4)))]


def test_compute_indicators_is_disclosure_control_of_the_raw_table():
    regions = random_lab(1)
    raw = raw_indicators(regions, ids=PROPERTY_IDS)
    direct = compute_indicators(regions, min_cell_firms=3, dominance_share=0.7, ids=PROPERTY_IDS)
    composed = apply_disclosure_control(raw, min_cell_firms=3, dominance_share=0.7)[INDICATOR_COLUMNS]
    pd.testing.assert_frame_equal(direct, composed)


# derandomize: the same examples on every run (CI stays deterministic); database=None: no
# .hypothesis folder is written
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), min_cell=st.sampled_from([2, 3, 5]),
       dominance=st.sampled_from([0.6, 0.85]))
def test_random_labs_never_disclose_a_cell(seed, min_cell, dominance):
    raw = raw_indicators(random_lab(seed), ids=PROPERTY_IDS)
    table = apply_disclosure_control(raw, min_cell_firms=min_cell, dominance_share=dominance)
    check_disclosure(table, raw, min_cell, dominance)


def test_a_total_minus_the_visible_parts_is_never_a_suppressed_part():
    """The recovery attack itself, on export sums of random labs."""
    for seed in range(8):
        raw = raw_indicators(random_lab(seed), ids=["I12"]).reset_index(drop=True)
        table = apply_disclosure_control(raw, min_cell_firms=5, dominance_share=0.85)
        for idx, total_at in relation_groups(table):
            cells, truth = table.loc[idx], raw.loc[idx]
            total = cells.loc[[total_at]]
            if total.flag.iloc[0] != "":
                continue
            parts = cells.drop(index=total_at)
            hidden = parts[parts.flag == "suppressed"]
            if len(hidden):
                residual = float(total.value.iloc[0]) - float(parts.value.sum())  # NaN-skipping sum
                assert len(hidden) >= 2 or not np.isclose(residual, truth.loc[hidden.index, "value"]).any()


# ----------------------------------------------------------------------------- every output

BIG = 987_654_321.0


def dominated_lab():
    """FIRM WORLD with firm B turned into a giant exporter, plus a second region."""
    north = firm_world()
    f = north["firms"]
    north["firms"] = f.assign(exports_eur=f["exports_eur"].where(f["firm_id"] != "B", BIG),
                              turnover_eur=f["turnover_eur"].where(f["firm_id"] != "B", 2 * BIG))
    return [(NORTH, north), (SOUTH, firm_world())]


def test_no_output_format_shows_a_suppressed_value():
    from policylab.report import indicators_csv, render_html, results_json

    regions = dominated_lab()
    table = compute_indicators(regions, min_cell_firms=2)
    raw = raw_indicators(regions)
    check_disclosure(table, raw, 2, 0.85)
    secret = raw.loc[(table.flag == "suppressed").to_numpy() & raw["value"].notna().to_numpy(), "value"]
    assert (secret >= BIG).any()  # B's exports are in the raw table, and suppressed
    result = EvaluationResult("lab", "", (NORTH, SOUTH), table, (), pd.DataFrame(), {},
                              settings={"min_cell_firms": 2})
    texts = {"csv": indicators_csv(result), "json": results_json(result), "html": render_html(result)}
    for name, text in texts.items():
        for token in ("987654321", "987,654,321", "987 654 321", "9.87654321e"):
            assert token not in text, (name, token)
    data = json.loads(texts["json"])
    supp = [r for r in data["indicators"] if r["flag"] == "suppressed"]
    assert supp and all(r["value"] is None and r["n_firms"] is None for r in supp)
    rows = [dict(zip(INDICATOR_COLUMNS, line.split(","))) for line in texts["csv"].splitlines()[1:]]
    for r in rows:
        if r["flag"] == "suppressed":
            assert r["value"] == "" and r["n_firms"] == ""
        elif r["flag"] == "" and r["n_firms"]:
            assert int(r["n_firms"]) == 0 or int(r["n_firms"]) >= 2
