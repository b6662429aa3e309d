"""Monitoring indicators on the tiny lab, read from real files, each checked against a hand count
(the indicator-by-indicator tests on hand-built tables are in tests/indicators/).

Tiny lab: firms 001-004 observed 2018-2020; 001 and 002 join consortium C1 in 2019, 002 leaves
in 2020 (2020 is its first year without membership); 003 and 004 never join. Rates: 4 PLN/EUR in 2018-19, 5 in 2020.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from labfiles import write_tiny_lab

from policylab.config import load_config
from policylab.indicators import compute_indicators
from policylab.ingest import ingest


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return ingest(load_config(write_tiny_lab(tmp_path_factory.mktemp("tiny") / "lab")))


@pytest.fixture(scope="module")
def table(data):
    # disclosure control off: one firm is enough, no dominance
    return compute_indicators(((r.info, r.tables) for r in data.regions), min_cell_firms=1,
                              dominance_share=1.0)


def cell(table, ind, period, group):
    rows = table[(table.indicator_id == ind) & (table.period == period) & (table.group == group)
                 & (table.level != "cluster")]
    assert len(rows) == 1, (ind, period, group)
    return rows.iloc[0]


def test_smes_supported_counts_active_members_once(table):
    assert cell(table, "I01", "2018", "members").value == 0
    assert cell(table, "I01", "2019", "members").value == 2
    assert cell(table, "I01", "2020", "members").value == 1  # the exit year is not a member-year
    assert cell(table, "I01", "cumulative", "members").value == 2


def test_consortia_formed_and_active(table):
    assert [cell(table, "I02", y, "all").value for y in ("2018", "2019", "2020")] == [0, 1, 0]
    assert [cell(table, "I02A", y, "all").value for y in ("2018", "2019", "2020")] == [0, 1, 1]
    # per consortium: C1's churn in 2020 = 002's exit over the average of 2 and 1 members
    c1 = table[(table.indicator_id == "I08") & (table.cluster_id == "C1") & (table.period == "2020")]
    assert c1.value.iloc[0] == pytest.approx(100 * 1 / 1.5)


def test_share_of_exporters_members_vs_never_members(table):
    # 2019: members 001 (0) and 002 (2) -> 1 of 2; never-members 003 (0) and 004 (4) -> 1 of 2
    assert cell(table, "I14", "2019", "members").value == pytest.approx(50.0)
    assert cell(table, "I14", "2019", "never_members").value == pytest.approx(50.0)
    # 2018: 004's exports are unknown, so only 003 (a non-exporter) counts
    c = cell(table, "I14", "2018", "never_members")
    assert (c.value, c.n_firms) == (0.0, 1)


def test_export_intensity_is_a_ratio_of_sums(table):
    # 2020 members: exports 5 + 3, turnover 120 + 60 (same rate, so units cancel)
    assert cell(table, "I13", "2020", "members").value == pytest.approx(100 * 8 / 180)


def test_orders_via_consortia_in_eur(table):
    assert cell(table, "I09", "2019", "all").value == 1  # O3 was not won via a consortium
    assert cell(table, "I10", "2019", "all").value == pytest.approx(10 / 4.0)
    assert cell(table, "I10", "cumulative", "all").value == pytest.approx(10 / 4.0 + 20 / 5.0)


def test_an_indicator_whose_table_is_missing_is_not_available_not_zero(data):
    region = data.regions[0]
    tables = {k: v for k, v in region.tables.items() if k != "orders"}
    t = compute_indicators([(region.info, tables)], min_cell_firms=1, ids=["I09"])
    row = t[t.indicator_id == "I09"]
    assert list(row.flag) == ["not_available"] and math.isnan(row.value.iloc[0])
    assert row.note.iloc[0] == "not available: needs table orders"


def test_cells_on_too_few_firms_are_suppressed_and_marked(data):
    t = compute_indicators(((r.info, r.tables) for r in data.regions), min_cell_firms=2)
    c = cell(t, "I09", "2019", "all")  # one firm behind it
    assert c.flag == "suppressed" and math.isnan(c.value) and pd.isna(c.n_firms)
    shown = t[t.flag == ""]
    assert ((shown.n_firms >= 2) | (shown.n_firms == 0)).all()


def test_one_exporter_dominating_a_sum_is_suppressed(data):
    t = compute_indicators(((r.info, r.tables) for r in data.regions), min_cell_firms=1, ids=["I10"])
    c = cell(t, "I10", "2019", "all")  # O1, EUR 2.5k, all from firm 001
    assert c.flag == "suppressed"
