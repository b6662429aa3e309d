"""Cross-regional cooperation (I22, I22V, I22S, I22R, I22P) on the firm world of
``ind_worlds`` with partner regions and a partnerships log added, every number worked out by
hand below.

NETWORK WORLD (north = ES13, 2018-2021): the firm world's orders with partner regions

    o2 2019 A via X  40  PL61 | o3 2019 B via X 60  ES13 (the region itself: not a partner)
    o4 2020 B via X  50  CZ04 | o5 2020 A       30  PL61 | o8 2021 D 70 ITF2
    (o1, o6, o7, o9: no partner region)

    partnerships: L1 2019 PL61 joint_mission  n_firms 3
                  L2 2020 FR10 joint_mission  n_firms blank
                  L3 2020 PL61 shared_manager n_firms 6
                  L4 2021 ES13 other          n_firms 2   (the region itself: left out)
                  L5 2017 DE11 joint_mission  n_firms 2   (before the region's years: left out)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from ind_checks import check_disclosure
from ind_worlds import NORTH, SOUTH, cell, cluster_world, firm_world, value

from policylab.indicators import REGISTRY, compute_indicators, raw_indicators
from policylab.schema import LINK_TYPES

IDS = ["I22", "I22V", "I22S", "I22R", "I22P"]
YEARS = (2018, 2019, 2020, 2021)


def partnerships() -> pd.DataFrame:
    return pd.DataFrame({
        "link_id": pd.array(["L1", "L2", "L3", "L4", "L5"], dtype="string"),
        "year": pd.array([2019, 2020, 2020, 2021, 2017], dtype="Int64"),
        "partner_region": pd.array(["PL61", "FR10", "PL61", "ES13", "DE11"], dtype="string"),
        "link_type": pd.array(["joint_mission", "joint_mission", "shared_manager", "other",
                               "joint_mission"], dtype="string"),
        "n_firms": [3.0, np.nan, 6.0, 2.0, 2.0],
    })


def network_world(*, deals: bool = True, links: bool = True) -> dict[str, pd.DataFrame]:
    tables = firm_world()
    if deals:
        partner = {"o2": "PL61", "o3": "ES13", "o4": "CZ04", "o5": "PL61", "o8": "ITF2"}
        o = tables["orders"]
        tables["orders"] = o.assign(partner_region=pd.array([partner.get(i) for i in o["order_id"]],
                                                            dtype="string"))
    if links:
        tables["partnerships"] = partnerships()
    return tables


def compute(tables=None, ids=IDS, regions=None, min_cell_firms=1, dominance_share=1.0, **kw):
    return compute_indicators(regions or [(NORTH, tables if tables is not None else network_world())],
                              min_cell_firms=min_cell_firms, dominance_share=dominance_share, ids=ids, **kw)


# ----------------------------------------------------------------------------- the deals


def test_i22_counts_orders_with_a_partner_region_other_than_the_own():
    t = compute()
    # 2018: none; 2019: o2 (o3's partner is ES13 itself); 2020: o4, o5; 2021: o8
    assert [value(t, "I22", y) for y in YEARS] == [0, 1, 2, 1]
    assert value(t, "I22", "cumulative") == 4
    # the firms the deals rest on: 2019 A; 2020 B (o4) and A (o5); 2021 D; all years A, B, D
    assert [cell(t, "I22", y).n_firms for y in YEARS] == [0, 1, 2, 1]
    assert cell(t, "I22", "cumulative").n_firms == 3


def test_i22v_sums_the_deals_values():
    t = compute()
    assert [value(t, "I22V", y) for y in YEARS] == [0, 40, 50 + 30, 70]
    assert value(t, "I22V", "cumulative") == 40 + 50 + 30 + 70
    assert REGISTRY["I22V"].magnitude and REGISTRY["I22V"].unit == "EUR"


def test_i22s_share_of_all_orders_by_number():
    t = compute()
    # orders per year: 2018 o1; 2019 o2, o3, o9; 2020 o4, o5; 2021 o6, o7, o8
    assert value(t, "I22S", 2018) == 0
    assert value(t, "I22S", 2019) == pytest.approx(100 * 1 / 3)
    assert value(t, "I22S", 2020) == pytest.approx(100.0)
    assert value(t, "I22S", 2021) == pytest.approx(100 * 1 / 3)
    assert value(t, "I22S", "cumulative") == pytest.approx(100 * 4 / 9)
    # a share rests on every order's firm: 2019 A, B, E; all years A-E
    assert cell(t, "I22S", 2019).n_firms == 3
    assert cell(t, "I22S", "cumulative").n_firms == 5


# ----------------------------------------------------------------------------- the links


def test_i22p_links_by_type_with_all_as_their_total():
    t = compute()
    assert set(t[t.indicator_id == "I22P"].group) == {"all", *LINK_TYPES}
    # 2019: L1; 2020: L2, L3; 2021: L4 is the region itself; L5 is before 2018
    assert [value(t, "I22P", y) for y in YEARS] == [0, 1, 2, 0]
    assert value(t, "I22P", 2020, "joint_mission") == 1 and value(t, "I22P", 2020, "shared_manager") == 1
    assert value(t, "I22P", "cumulative", "joint_mission") == 2
    assert value(t, "I22P", "cumulative", "cross_regional_consortium") == 0
    for period in (*YEARS, "cumulative"):
        parts = sum(value(t, "I22P", period, g) for g in LINK_TYPES)
        assert parts == value(t, "I22P", period, "all")
    # n_firms: the links' n_firms added up; L2's is blank, so it rests on no known firm
    assert cell(t, "I22P", 2019).n_firms == 3
    assert cell(t, "I22P", 2020).n_firms == 6
    assert cell(t, "I22P", 2020, "joint_mission").n_firms == 0
    assert "1 link(s) without n_firms" in cell(t, "I22P", 2020, "joint_mission").note


def test_i22r_distinct_partner_regions_over_deals_and_links():
    t = compute()
    # 2019: PL61 (o2 and L1); 2020: CZ04, PL61 (o4, o5) + FR10, PL61 (L2, L3); 2021: ITF2
    assert [value(t, "I22R", y) for y in YEARS] == [0, 1, 3, 1]
    # all years: PL61, CZ04, ITF2, FR10 (distinct, not the sum of the years)
    assert value(t, "I22R", "cumulative") == 4
    assert REGISTRY["I22R"].cumulative == "distinct"
    # n_firms: the deals' firms plus the links' n_firms: 2019 A + 3; 2020 A, B + 6 (+ L2 unknown)
    assert cell(t, "I22R", 2019).n_firms == 1 + 3
    assert cell(t, "I22R", 2020).n_firms == 2 + 6


def test_i22r_works_from_either_source():
    only_links = compute(network_world(deals=False))
    assert value(only_links, "I22R", "cumulative") == 2  # PL61, FR10
    only_deals = compute(network_world(links=False))
    assert value(only_deals, "I22R", "cumulative") == 3  # PL61, CZ04, ITF2


# ---------------------------------------------------------------------------- availability


def test_without_partner_regions_or_partnerships_there_are_no_rows_at_all():
    t = compute(firm_world())
    assert t.empty  # not "not available" rows: the lab simply has no such data
    t = compute(firm_world(), ids=["I09", *IDS])
    assert set(t.indicator_id) == {"I09"}


def test_each_source_switches_on_its_own_indicators():
    links = compute(network_world(deals=False))
    assert set(links.indicator_id) == {"I22R", "I22P"}
    deals = compute(network_world(links=False))
    assert set(deals.indicator_id) == {"I22", "I22V", "I22S", "I22R"}


def test_a_partner_region_column_without_any_value_reads_as_not_recorded():
    tables = firm_world()
    tables["orders"] = tables["orders"].assign(partner_region=pd.array([None] * 9, dtype="string"))
    assert compute(tables).empty


def test_lab_wide_rows_add_the_regions_up():
    south = cluster_world()
    south["partnerships"] = pd.DataFrame({
        "link_id": pd.array(["S1", "S2"], dtype="string"), "year": pd.array([2019, 2020], dtype="Int64"),
        "partner_region": pd.array(["ES13", "CZ04"], dtype="string"),
        "link_type": pd.array(["cross_regional_consortium", "joint_mission"], dtype="string"),
        "n_firms": [4.0, 5.0]})
    t = compute(regions=[(NORTH, network_world()), (SOUTH, south)])
    lab = t[t.level == "lab"]
    # north has deals and links, south only links: the deals' lab rows cover north alone
    assert value(t, "I22", "cumulative", level="lab") == 4
    assert "1 of 2 regions" in cell(t, "I22", "cumulative", level="lab").note
    assert value(t, "I22P", "cumulative", level="lab") == 3 + 2
    assert value(t, "I22P", 2019, "cross_regional_consortium", level="lab") == 1
    # regions linked, lab-wide: north's PL61, CZ04, ITF2, FR10 and south's ES13 (north is a
    # partner region of south), CZ04 again
    assert value(t, "I22R", "cumulative", level="lab") == 5
    assert not (lab.cluster_id != "").any()


# ---------------------------------------------------------------------------- disclosure


def test_deals_on_too_few_firms_are_suppressed_and_cannot_be_recovered():
    t = compute(min_cell_firms=2)
    # I22 2019 (A) and 2021 (D) rest on one firm each: both suppressed, so the cumulative minus
    # the other years never gives one of them
    rows = t[t.indicator_id == "I22"].set_index("period")
    assert rows.loc["2019", "flag"] == "suppressed" and math.isnan(rows.loc["2019", "value"])
    assert rows.loc["2021", "flag"] == "suppressed"
    assert rows.loc["2020", "flag"] == "" and rows.loc["cumulative", "flag"] == ""
    assert rows.loc["2018", "flag"] == ""  # no deal: rests on no firm, reveals nothing


def test_i22v_follows_the_dominance_rule_like_i10():
    t = compute(min_cell_firms=1, dominance_share=0.85)
    # 2020: B 50, A 30 -> B has 62.5 %; all years: A 70, B 50, D 70 of 190
    assert cell(t, "I22V", 2020).flag == ""
    t = compute(min_cell_firms=1, dominance_share=0.6)
    assert cell(t, "I22V", 2020).flag == "suppressed"
    # one contributor: 2019 (A) and 2021 (D) fail the rule on contributing firms at 2
    t = compute(min_cell_firms=2)
    assert cell(t, "I22V", 2019).flag == "suppressed" and cell(t, "I22V", 2021).flag == "suppressed"


def test_links_without_n_firms_are_published_and_small_known_ones_are_not():
    t = compute(min_cell_firms=5)
    # 2020 joint_mission = L2 alone, n_firms blank: a count of links, no firm behind it known
    assert cell(t, "I22P", 2020, "joint_mission").flag == "" and value(t, "I22P", 2020, "joint_mission") == 1
    # 2019: L1 rests on 3 firms (< 5): suppressed, with 'all' (the same link)
    assert cell(t, "I22P", 2019, "joint_mission").flag == "suppressed"
    assert cell(t, "I22P", 2019, "all").flag == "suppressed"
    # no link type stands alone suppressed next to its visible total
    for period in (*YEARS, "cumulative"):
        rows = t[(t.indicator_id == "I22P") & (t.period == str(period))].set_index("group")
        hidden = rows.loc[list(LINK_TYPES), "flag"].eq("suppressed")
        if rows.loc["all", "flag"] == "" and hidden.any():
            assert hidden.sum() >= 2


def test_raw_cells_carry_what_disclosure_reads():
    raw = raw_indicators([(NORTH, network_world())], ids=["I22V"])
    c = raw[(raw.period == "2020")].iloc[0]
    assert c.n_contrib == 2 and c.max_share == pytest.approx(50 / 80)


@pytest.mark.parametrize("min_cell_firms", [2, 3, 5])
def test_the_house_disclosure_checks_hold(min_cell_firms):
    south = cluster_world()
    south["partnerships"] = partnerships().assign(year=pd.array([2016, 2017, 2019, 2020, 2022], dtype="Int64"))
    regions = [(NORTH, network_world()), (SOUTH, south)]
    raw = raw_indicators(regions, ids=IDS)
    table = compute_indicators(regions, min_cell_firms=min_cell_firms, dominance_share=0.85, ids=IDS)
    check_disclosure(table, raw, min_cell_firms, 0.85)
    # link types: a suppressed type never stands alone next to its visible 'all'
    p = table[table.indicator_id == "I22P"]
    for _key, b in p.groupby(["region", "level", "period"]):
        b = b.set_index("group")
        if b.loc["all", "flag"] == "":
            assert b.loc[list(LINK_TYPES), "flag"].eq("suppressed").sum() != 1
