"""Order indicators (I09, I10, I10C, I11, I17), the cost per EUR of additional exports (I19) and the
lab-wide rows, on the hand-built worlds of ``ind_worlds``. Disclosure control is off."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from ind_worlds import NORTH, SOUTH, cell, cluster_world, firm_world, value

from policylab.did.results import Estimate
from policylab.evaluation import RegionEffect
from policylab.indicators import LAB_REGION, compute_indicators
from policylab.indicators.orders import in_eu


def compute(ids, regions=None, **kw):
    return compute_indicators(regions or [(NORTH, firm_world())], min_cell_firms=1,
                              dominance_share=1.0, ids=ids, **kw)


def test_i09_i10_orders_won_via_consortia():
    t = compute(["I09", "I10"])
    # via a consortium: o2, o3 (2019), o4 (2020), o6, o7 (2021); o1, o5, o8, o9 are not
    assert [value(t, "I09", y) for y in (2018, 2019, 2020, 2021)] == [0, 2, 1, 2]
    assert value(t, "I09", "cumulative") == 5
    assert value(t, "I10", 2019) == 40 + 60
    assert value(t, "I10", "cumulative") == 40 + 60 + 50 + 20 + 10
    assert cell(t, "I10", 2019).n_firms == 2  # A and B
    # per consortium: X won o2, o3 in 2019, o4 in 2020, o6 in 2021; Y won o7
    assert value(t, "I09", 2019, cluster="X") == 2
    assert value(t, "I10", 2021, cluster="Y") == 10
    # an active consortium without orders has a zero row (Y was active in 2020)
    assert value(t, "I09", 2020, cluster="Y") == 0


def test_i10c_effective_number_of_orders_is_one_over_the_herfindahl_index():
    t = compute(["I10C"])
    # 2019: o2 (40), o3 (60) -> (100)^2 / (40^2 + 60^2)
    assert value(t, "I10C", 2019) == pytest.approx(100 ** 2 / (40 ** 2 + 60 ** 2))
    # whole period: 40, 60, 50, 20, 10 pooled
    vals = [40, 60, 50, 20, 10]
    assert value(t, "I10C", "cumulative") == pytest.approx(sum(vals) ** 2 / sum(v * v for v in vals))
    # a single order is as concentrated as it gets; equal orders give their number
    assert value(t, "I10C", 2020) == pytest.approx(1.0)
    assert value(t, "I10C", 2021, cluster="X") == pytest.approx(1.0)
    # no order via a consortium in 2018: no value, and the cell says why
    c = cell(t, "I10C", 2018)
    assert math.isnan(c.value) and c.flag == "not_available" and "no order" in c.note


def test_i10c_is_bounded_by_the_number_of_orders():
    t = compute(["I09", "I10C"])
    for period in (2019, 2020, 2021, "cumulative"):
        assert 1.0 <= value(t, "I10C", period) <= value(t, "I09", period) + 1e-12


def test_a_joint_order_without_a_firm_rests_on_the_consortium_members():
    tables = firm_world()
    o = tables["orders"]
    tables["orders"] = o.assign(firm_id=o["firm_id"].where(o["order_id"] != "o4"))
    t = compute(["I10"], [(NORTH, tables)])
    # o4 (2020, X, no firm named): X's members active in 2020 are A and B
    assert cell(t, "I10", 2020).n_firms == 2
    assert value(t, "I10", 2020) == 50


def test_i11_share_won_jointly():
    t = compute(["I11"])
    # 2020: via a consortium o4 (50); all orders of members active in 2020 (A, B, C): o4, o5 (30)
    assert value(t, "I11", 2020) == pytest.approx(100 * 50 / 80)
    # 2021: via o6 (20), o7 (10); members A, C ordered nothing else (D is not a member)
    assert value(t, "I11", 2021) == pytest.approx(100 * 30 / 30)
    # 2018: B was not yet a member: no order of members, no value
    assert math.isnan(value(t, "I11", 2018))
    # per consortium, 2020: X won o4 (50); its members A, B also had o5 (30)
    assert value(t, "I11", 2020, cluster="X") == pytest.approx(100 * 50 / 80)


def test_i17_extra_eu_share_as_on_the_order_date():
    t = compute(["I17"])
    # 2019, all orders: o2 DE 40, o3 US 60, o9 GB 25 (the UK was in the EU until 2020-01-31)
    assert value(t, "I17", 2019, "all") == pytest.approx(100 * 60 / 125)
    # 2021: o6 FR 20, o7 GB 10 (now outside the EU), o8 US 70
    assert value(t, "I17", 2021, "all") == pytest.approx(100 * (10 + 70) / 100)
    # via consortia only, 2021: o6 FR 20, o7 GB 10
    assert value(t, "I17", 2021, "via_clusters") == pytest.approx(100 * 10 / 30)
    assert value(t, "I17", 2020, "via_clusters", cluster="X") == 100  # o4 to China


def test_eu_membership_by_date():
    countries = pd.Series(["GB", "GB", "HR", "HR", "EL", "US", "de"])
    dates = pd.Series(pd.to_datetime(["2020-01-31", "2020-02-01", "2013-06-30", "2013-07-01",
                                      "2019-01-01", "2019-01-01", "2019-01-01"]))
    assert in_eu(countries, dates).tolist() == [True, False, False, True, True, False, True]


def _effect(region: str, by_event_time: dict[int, float]) -> RegionEffect:
    est = tuple(Estimate(f"event_time::{e}", b, 1.0, b - 2, b + 2, 0.01, e) for e, b in by_event_time.items())
    head = Estimate("avg_post", 15.0, 1.0, 13.0, 17.0, 0.01)
    return RegionEffect(region, "exports_eur", SimpleNamespace(estimates=est, headline=head))


def _with_finance(tables):
    fin = pd.DataFrame({"cluster_id": pd.array(["X", "X"], dtype="string"),
                        "year": pd.array([2019, 2020], dtype="Int64"),
                        "running_costs_eur": [400.0, 200.0], "member_fees_eur": [100.0, 50.0],
                        "public_funding_eur": [300.0, 150.0]})
    return {**tables, "cluster_finance": fin}


def test_i19_public_cost_per_eur_of_additional_exports():
    tables = _with_finance(firm_world())
    eff = _effect("north", {-2: 5.0, 0: 10.0, 1: 20.0})
    t = compute(["I19"], [(NORTH, tables)], effects=[eff])
    # treated firm-years with known exports, event time binned at 1:
    # A 2019 (e0), 2020 (e1), 2021 (e2 -> 1); B the same; C 2020 (e0), 2021 (e1)
    extra = (10 + 20 + 20) + (10 + 20 + 20) + (10 + 20)
    c = cell(t, "I19", "cumulative")
    assert c.value == pytest.approx((300 + 150) / extra)
    assert c.n_firms == 3


def test_i19_without_an_estimate_says_why():
    t = compute(["I19"], [(NORTH, _with_finance(firm_world()))])
    row = cell(t, "I19", "cumulative")
    assert row.flag == "not_available" and "exports_eur" in row.note
    negative = compute(["I19"], [(NORTH, _with_finance(firm_world()))],
                       effects=[_effect("north", {0: -10.0})])
    row = cell(negative, "I19", "cumulative")
    assert math.isnan(row.value) and row.flag == "" and "no additional exports" in row.note


def test_lab_wide_rows_pool_the_regions():
    north, south = firm_world(), cluster_world()
    t = compute(["I02", "I12", "I14", "I09"], [(NORTH, north), (SOUTH, south)])
    lab = t[t.level == "lab"]
    assert set(lab.region) == {LAB_REGION} and set(lab.nuts2) == {""}
    # sums add up across regions (firm ids of different regions never merge)
    assert value(t, "I02", "cumulative", level="lab") == 2 + 6
    assert value(t, "I12", 2019, "all", level="lab") == 90 + 0
    # a share pools the firms: 2019 exporters B, D of 5 known (north) + 0 of 12 (south)
    assert value(t, "I14", 2019, "all", level="lab") == pytest.approx(100 * 2 / 17)
    assert cell(t, "I14", 2019, "all", level="lab").n_firms == 5 + 12
    # an indicator a region lacks: the lab-wide value covers the other regions, and says so
    lab_orders = cell(t, "I09", "cumulative", level="lab")
    assert lab_orders.value == 5 and "1 of 2 regions" in lab_orders.note
    assert cell(t, "I09", "cumulative", region="South").flag == "not_available"
    assert not (lab.cluster_id != "").any()


def test_one_region_has_no_lab_rows_unless_asked():
    assert not (compute(["I12"]).level == "lab").any()
    assert (compute(["I12"], lab_wide=True).level == "lab").any()
