"""Policy-lab uptake (I23, I23A, I23T) on a hand-built practice log, every number worked out
by hand below.

PRACTICE WORLD: the firm world (north = ES13, 2018-2021) with this log

    practice origin adopting  studied     adapted     piloted     adopted     dropped
    P1       PL61   ES13      2018-03-01  2018-09-01  2019-05-01  2020-01-01
    P2       ITF2   ES13      2019-01-15                          2019-07-15
    P3       PL61   ES13      2019-06-01                                      2020-02-01
    P4       ES13   PL61      2018-01-01                          2018-12-01   (taken up by PL61)
    P5       PL61   ES13                                          2021-03-01   (no 'studied' date)
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from ind_worlds import NORTH, SOUTH, cell, cluster_world, firm_world, value

from policylab.indicators import REGISTRY, compute_indicators
from policylab.indicators.practices import whole_months
from policylab.schema import PRACTICE_STAGES

IDS = ["I23", "I23A", "I23T"]
LOG = [
    ("P1", "PL61", "ES13", "studied", "2018-03-01"), ("P1", "PL61", "ES13", "adapted", "2018-09-01"),
    ("P1", "PL61", "ES13", "piloted", "2019-05-01"), ("P1", "PL61", "ES13", "adopted", "2020-01-01"),
    ("P2", "ITF2", "ES13", "studied", "2019-01-15"), ("P2", "ITF2", "ES13", "adopted", "2019-07-15"),
    ("P3", "PL61", "ES13", "studied", "2019-06-01"), ("P3", "PL61", "ES13", "dropped", "2020-02-01"),
    ("P4", "ES13", "PL61", "studied", "2018-01-01"), ("P4", "ES13", "PL61", "adopted", "2018-12-01"),
    ("P5", "PL61", "ES13", "adopted", "2021-03-01"),
]


def practice_log(rows=LOG) -> pd.DataFrame:
    return pd.DataFrame({
        "practice_id": pd.array([r[0] for r in rows], dtype="string"),
        "practice": pd.array(["Export Consortia"] * len(rows), dtype="string"),
        "origin_region": pd.array([r[1] for r in rows], dtype="string"),
        "adopting_region": pd.array([r[2] for r in rows], dtype="string"),
        "stage": pd.array([r[3] for r in rows], dtype="string"),
        "stage_date": pd.to_datetime([r[4] for r in rows]),
        "budget_eur": [1000.0] * len(rows),
    })


def practice_world(rows=LOG) -> dict[str, pd.DataFrame]:
    return {**firm_world(), "practices": practice_log(rows)}


def compute(regions=None, ids=IDS, min_cell_firms=1, **kw):
    return compute_indicators(regions or [(NORTH, practice_world())], min_cell_firms=min_cell_firms,
                              dominance_share=1.0, ids=ids, **kw)


def test_i23_counts_each_practice_at_its_latest_stage_by_the_year_end():
    t = compute()
    assert set(t[t.indicator_id == "I23"].group) == {"all", *PRACTICE_STAGES}
    # 2018: P1 adapted (P4 is taken up by PL61, not by this region)
    assert value(t, "I23", 2018, "all") == 1 and value(t, "I23", 2018, "adapted") == 1
    # 2019: P1 piloted, P2 adopted, P3 studied
    assert [value(t, "I23", 2019, s) for s in PRACTICE_STAGES] == [1, 0, 1, 1, 0]
    # 2020: P1 and P2 adopted, P3 dropped
    assert [value(t, "I23", 2020, s) for s in PRACTICE_STAGES] == [0, 0, 0, 2, 1]
    # 2021: P5 adopted too
    assert [value(t, "I23", 2021, s) for s in PRACTICE_STAGES] == [0, 0, 0, 3, 1]
    assert value(t, "I23", 2021, "all") == 4
    # a stock: no cumulative row
    assert not (t[t.indicator_id == "I23"].period == "cumulative").any()


def test_i23a_practices_adopted_per_year_and_in_all():
    t = compute()
    assert [value(t, "I23A", y) for y in (2018, 2019, 2020, 2021)] == [0, 1, 1, 1]  # P2, P1, P5
    assert value(t, "I23A", "cumulative") == 3


def test_i23t_median_months_from_studied_to_adopted():
    t = compute()
    # P2: 15 Jan 2019 -> 15 Jul 2019 = 6 months; P1: 1 Mar 2018 -> 1 Jan 2020 = 22 months
    assert value(t, "I23T", 2019) == 6
    assert value(t, "I23T", 2020) == 22
    assert value(t, "I23T", "cumulative") == (6 + 22) / 2
    # 2021: P5 has no 'studied' date: no value, and the note says why
    c = cell(t, "I23T", 2021)
    assert math.isnan(c.value) and "without a 'studied' date" in c.note
    assert "1 adopted practice" in cell(t, "I23T", "cumulative").note
    assert cell(t, "I23T", 2018).note == "no practice adopted in the period"


def test_whole_calendar_months_count_a_month_once_its_day_is_reached():
    start = pd.Series(pd.to_datetime(["2019-01-15", "2019-01-15", "2019-01-31", "2018-03-01"]))
    end = pd.Series(pd.to_datetime(["2019-07-14", "2019-07-15", "2019-02-28", "2020-01-01"]))
    assert whole_months(start, end).tolist() == [5, 6, 0, 22]


def test_the_practice_log_rests_on_no_firm_and_is_never_suppressed():
    t = compute(min_cell_firms=5)
    rows = t[t.indicator_id.isin(IDS)]
    assert (rows.flag == "").all() and (rows.n_firms == 0).all()
    assert not any(REGISTRY[i].firm_data for i in IDS)
    # even a count of one practice is published: it is a policy action, not a firm's data
    assert value(t, "I23", 2018, "adapted") == 1


def test_no_practice_log_no_rows():
    t = compute_indicators([(NORTH, firm_world())], min_cell_firms=1, dominance_share=1.0, ids=IDS)
    assert t.empty


def test_a_stage_logged_by_two_regions_counts_once_lab_wide_at_the_earlier_date():
    south = {**cluster_world(), "practices": practice_log([
        # PL61's own log: P4 as it took it up (adopted a day later than ES13 logged it) and a
        # practice of its own
        ("P4", "ES13", "PL61", "studied", "2018-01-01"), ("P4", "ES13", "PL61", "adopted", "2018-12-02"),
        ("Q1", "ES13", "PL61", "studied", "2019-04-10"),
    ])}
    t = compute([(NORTH, practice_world()), (SOUTH, south)])
    # south (PL61) region rows: P4 and Q1; north's row of P4 is not south's
    assert value(t, "I23", 2019, "all", region="South") == 2
    assert value(t, "I23A", 2018, region="South") == 1
    # lab-wide: P1, P2, P3, P5 (north) + P4, Q1 (south); P4 logged twice counts once
    assert value(t, "I23", 2021, "all", level="lab") == 6
    assert value(t, "I23A", "cumulative", level="lab") == 3 + 1
    # P4 at the earlier of the two adoption dates: 1 Jan -> 1 Dec 2018 = 11 months
    assert value(t, "I23T", 2018, level="lab") == 11


def test_stages_on_the_same_date_take_the_later_stage():
    rows = [("P9", "PL61", "ES13", "studied", "2019-05-05"), ("P9", "PL61", "ES13", "adopted", "2019-05-05")]
    t = compute([(NORTH, practice_world(rows))])
    assert value(t, "I23", 2019, "adopted") == 1 and value(t, "I23", 2019, "studied") == 0
    assert value(t, "I23T", 2019) == 0


@pytest.mark.parametrize("ind", IDS)
def test_registry_says_what_disclosure_does(ind):
    meta = REGISTRY[ind]
    assert meta.eu_code == "RCR104" and "never suppresses" in meta.notes
