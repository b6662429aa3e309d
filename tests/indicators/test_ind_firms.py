"""Firm indicators (I01, I12-I16, I21) on the FIRM WORLD of ``ind_worlds``, each value counted
by hand here: numerator / denominator. Disclosure control is switched off (a cell needs one
firm, no dominance), so the raw definitions are what is checked."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from ind_worlds import NORTH, cell, firm_world, value

from policylab.indicators import Options, compute_indicators


def compute(ids, tables=None, **kw):
    return compute_indicators([(NORTH, tables or firm_world())], min_cell_firms=1,
                              dominance_share=1.0, ids=ids, **kw)


# ------------------------------------------------------------------------------------ I01

def test_i01_counts_active_members_once_with_size_classes():
    t = compute(["I01"])
    # 2019: A (6 employees, micro) and B (45, small) are members; C joins in 2020
    assert value(t, "I01", 2019, "members") == 2
    assert (value(t, "I01", 2019, "micro"), value(t, "I01", 2019, "small")) == (1, 1)
    # 2020: A (8, micro), B (260, large), C (3, micro)
    assert value(t, "I01", 2020, "members") == 3
    assert (value(t, "I01", 2020, "micro"), value(t, "I01", 2020, "large")) == (2, 1)
    # 2021: B's exit year is its first year without membership -> A and C only
    assert value(t, "I01", 2021, "members") == 2
    assert value(t, "I01", 2018, "members") == 0
    # cumulative: A, B, C once each, sized in their first member-year (6, 45, 3 employees)
    assert value(t, "I01", "cumulative", "members") == 3
    assert (value(t, "I01", "cumulative", "micro"), value(t, "I01", "cumulative", "small")) == (2, 1)
    c = cell(t, "I01", 2020, "members")
    assert c.n_firms == 3 and c.level == "region" and c.unit == "enterprises"


def test_i01_without_headcounts_has_no_size_classes():
    tables = firm_world()
    tables["firms"] = tables["firms"].drop(columns="employees")
    t = compute(["I01"], tables)
    assert set(t.group) == {"members"}
    assert "size classes not available" in cell(t, "I01", "cumulative", "members").note


def test_a_firm_in_two_clusters_is_one_sme():
    tables = firm_world()
    m = tables["membership"]
    extra = m.iloc[[0]].assign(cluster_id="Y", join_year=pd.array([2020], dtype="Int64"))
    tables["membership"] = pd.concat([m, extra], ignore_index=True)
    t = compute(["I01"], tables)
    assert value(t, "I01", 2020, "members") == 3  # A counted once though in X and Y


# ---------------------------------------------------------------------------- I12, I13, I14

def test_i12_export_turnover_by_group():
    t = compute(["I12"])
    assert value(t, "I12", 2019, "members") == 0 + 60  # A, B
    assert value(t, "I12", 2019, "not_yet_members") == 0  # C
    assert value(t, "I12", 2019, "never_members") == 30 + 0  # D, E
    assert value(t, "I12", 2019, "all") == 90
    c = cell(t, "I12", 2018, "all")  # D's exports unknown: left out and counted as missing
    assert (c.value, c.n_firms, c.n_missing) == (0 + 50 + 0 + 0, 4, 1)
    # cumulative = sum over the years of the firm-years in the group
    assert value(t, "I12", "cumulative", "members") == (0 + 60) + (10 + 70 + 0) + (20 + 80 + 5)


def test_i13_export_intensity_is_a_ratio_of_sums():
    t = compute(["I13"])
    # 2020 members A, B, C: exports 10 + 70 + 0 over turnover 110 + 210 + 80
    assert value(t, "I13", 2020, "members") == pytest.approx(100 * 80 / 400)
    # 2018 all: D has no known exports, so neither its exports nor its turnover count
    assert value(t, "I13", 2018, "all") == pytest.approx(100 * 50 / (100 + 200 + 80 + 60))


def test_i14_share_of_exporters():
    t = compute(["I14"])
    # 2021: A, B, C export, D does not (E is gone) -> 3 of 4
    assert value(t, "I14", 2021, "all") == pytest.approx(100 * 3 / 4)
    assert value(t, "I14", 2019, "never_members") == pytest.approx(100 * 1 / 2)  # D yes, E no
    members = cell(t, "I14", 2018, "members")  # nobody had joined: an empty group, no value
    assert math.isnan(members.value) and members.n_firms == 0
    # cumulative = share of known firm-years: exporters 1 + 2 + 3 + 3 (B; B, D; A, B, D;
    # A, B, C) over known firm-years 4 + 5 + 5 + 4
    assert value(t, "I14", "cumulative", "all") == pytest.approx(100 * 9 / 18)


# ------------------------------------------------------------------------------- I15, I15P

def test_i15_new_exporters_with_a_two_year_look_back():
    t = compute(["I15", "I15P"])
    assert set(t.period) == {"2020", "2021", "cumulative"}  # 2018-19 lack a full look-back
    # 2020: at risk = known zero exports in 2018 and 2019: A, C, E (D unknown in 2018, B exports)
    c = cell(t, "I15", 2020, "all")
    assert (c.value, c.n_firms, c.n_missing) == (1, 3, 1)  # A starts exporting
    assert value(t, "I15P", 2020, "all") == pytest.approx(100 * 1 / 3)
    # 2021: at risk = zero in 2019 and 2020: C only (A exported in 2020); C exports now
    assert value(t, "I15", 2021, "members") == 1
    assert value(t, "I15P", 2021, "all") == pytest.approx(100 * 1 / 1)
    assert value(t, "I15", "cumulative", "all") == 1 + 1


def test_i15_look_back_is_an_option():
    t = compute(["I15"], options=Options(new_exporter_lookback=1))
    # 2019: at risk (zero in 2018): A, C, E; none exports in 2019
    assert value(t, "I15", 2019, "all") == 0
    assert cell(t, "I15", 2019, "all").n_firms == 3


# ------------------------------------------------------------------------------------ I16

def test_i16_new_markets_from_orders_three_year_look_back():
    t = compute(["I16"])
    assert set(t.period) == {"2021", "cumulative"}  # orders start in 2018
    # 2021: A -> FR (it served DE before), C -> GB, D -> US; B has no order
    assert value(t, "I16", 2021, "all") == 3
    assert value(t, "I16", 2021, "members") == 2  # A and C
    assert value(t, "I16", 2021, "never_members") == 1
    # per cluster: sum over its members active in 2021 (X: A; Y: C)
    assert value(t, "I16", 2021, cluster="X") == 1
    assert value(t, "I16", 2021, cluster="Y") == 1
    assert cell(t, "I16", 2021, cluster="X").level == "cluster"


def test_i16_look_back_of_one_year():
    t = compute(["I16"], options=Options(new_market_lookback=1))
    # 2019: A -> DE new, B -> US served in 2018, E -> GB new; 2020: B -> CN new, A -> DE served
    assert value(t, "I16", 2019, "all") == 2
    assert value(t, "I16", 2020, "all") == 1


def test_i16_needs_the_firm_of_each_order():
    tables = firm_world()
    tables["orders"] = tables["orders"].drop(columns="firm_id")
    t = compute(["I16"], tables)
    row = cell(t, "I16", "cumulative")
    assert row.flag == "not_available" and "orders.firm_id" in row.note


# ------------------------------------------------------------------------------------ I21

def test_i21_headcount_change():
    t = compute(["I21"])
    # 2019: A +1, B +5, C 0, D 0; E's headcount is unknown
    c = cell(t, "I21", 2019, "all")
    assert (c.value, c.n_firms, c.n_missing) == (1 + 5 + 0 + 0, 4, 1)
    assert value(t, "I21", 2019, "members") == 1 + 5
    # 2020: A +2, B +215, C 0, D 0 (E 2019 unknown)
    assert value(t, "I21", 2020, "all") == 2 + 215
    # 2021: A +4, B +10, C +1, D -2
    assert value(t, "I21", 2021, "all") == 4 + 10 + 1 - 2
    assert value(t, "I21", "cumulative", "all") == 6 + 217 + 13


def test_i21_not_available_without_headcounts():
    tables = firm_world()
    tables["firms"] = tables["firms"].assign(employees=float("nan"))
    row = cell(compute(["I21"], tables), "I21", "cumulative")
    assert row.flag == "not_available" and "firms.employees" in row.note


def test_inputs_are_not_modified():
    tables = firm_world()
    before = {k: v.copy() for k, v in tables.items()}
    compute(None, tables)
    for k, v in tables.items():
        assert v.equals(before[k]), k
