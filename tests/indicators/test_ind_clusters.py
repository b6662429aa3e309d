"""Cluster indicators (I02-I08, I18, I20) on the CLUSTER WORLD of ``ind_worlds``, each value
counted by hand here. Disclosure control is switched off."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ind_worlds import SOUTH, cell, cluster_world, value
from statsmodels.duration.survfunc import SurvfuncRight

from policylab.indicators import Options, compute_indicators


def compute(ids, tables=None, **kw):
    return compute_indicators([(SOUTH, tables or cluster_world())], min_cell_firms=1,
                              dominance_share=1.0, ids=ids, **kw)


def test_i02_consortia_formed_and_i02a_active():
    t = compute(["I02", "I02A"])
    formed = {y: value(t, "I02", y) for y in range(2015, 2024)}
    assert formed == {2015: 2, 2016: 1, 2017: 0, 2018: 1, 2019: 0, 2020: 1, 2021: 1, 2022: 0, 2023: 0}
    assert value(t, "I02", "cumulative") == 6
    c = cell(t, "I02", 2015)  # K1 and K2: ever-members F01, F02, F03, F04, F05
    assert c.n_firms == 5
    # 2019: K1 closed in 2019 (its first year without activity); K2, K3, K4 are active
    assert value(t, "I02A", 2019) == 3
    assert value(t, "I02A", 2023) == 3  # K2, K5, K6 (K3 closed 2022, K4 2021)


def test_i03_cluster_size_mean_and_median():
    t = compute(["I03"])
    # 2019: K2 has F03, F04, F05 (F05 leaves in 2020); K3 has F06, F07; K4 has F08
    assert value(t, "I03", 2019, "mean") == pytest.approx((3 + 2 + 1) / 3)
    assert value(t, "I03", 2019, "median") == 2
    assert cell(t, "I03", 2019, "mean").n_firms == 6


def test_i04_survival_k_years_after_the_seed_phase():
    t = compute(["I04"])
    # As at 2023, k = 1: seed ended by 2022: K1..K5. Active one year after the seed end:
    # K1 (closed 2019 > 2018) yes, K2 yes, K3 (2022 > 2019) yes, K4 (closed 2021 = 2020 + 1) no,
    # K5 yes -> 4 of 5
    assert value(t, "I04", 2023, "1_year") == pytest.approx(100 * 4 / 5)
    # k = 2: seed ended by 2021: K1..K4; active at seed end + 2: K2, K3 -> 2 of 4
    assert value(t, "I04", 2023, "2_years") == pytest.approx(100 * 2 / 4)
    # k = 3: seed ended by 2020: K1..K4; active at seed end + 3: K2, K3 (closed 2022 > 2021)
    assert value(t, "I04", 2023, "3_years") == pytest.approx(100 * 2 / 4)
    # as at 2019, k = 1: K1, K2, K3 qualify and all were active in their seed end + 1
    assert value(t, "I04", 2019, "1_year") == 100
    early = cell(t, "I04", 2017, "1_year")  # no seed phase ended a year before 2017
    assert math.isnan(early.value) and early.n_firms == 0


def test_i04_horizons_are_an_option():
    t = compute(["I04"], options=Options(survival_horizons=(2,)))
    assert set(t.group) == {"2_years"}


def test_i04k_kaplan_meier_by_hand():
    t = compute(["I04K"])
    # years from seed end to closing (event) or to 2023 (censored); K6's seed ends in 2023
    # K1 2 (closed), K2 6 (open), K3 4 (closed), K4 1 (closed), K5 1 (open)
    s1 = (5 - 1) / 5                 # at risk 5, K4 closes at 1 (K5 censored at 1, after)
    s2 = s1 * (3 - 1) / 3            # at risk K1, K2, K3; K1 closes
    s4 = s2 * (2 - 1) / 2            # at risk K2, K3; K3 closes
    expect = {1: s1, 2: s2, 3: s2, 4: s4, 5: s4, 6: s4}
    got = {k: value(t, "I04K", "cumulative", f"{k}_year" if k == 1 else f"{k}_years") / 100 for k in expect}
    assert got == pytest.approx(expect)
    sf = SurvfuncRight(np.array([2, 6, 4, 1, 1.0]), np.array([1, 0, 1, 1, 0.0]))  # the same in statsmodels
    assert sf.surv_prob == pytest.approx([s1, s2, s4])


def test_i05_i06_i20_cluster_finance():
    t = compute(["I05", "I06", "I20"])
    # 2015: fees 5 + 10 over costs 100 + 200; per cluster K1: 5 / 100
    assert value(t, "I05", 2015) == pytest.approx(100 * 15 / 300)
    assert value(t, "I05", 2015, cluster="K1") == pytest.approx(5.0)
    assert cell(t, "I05", 2015, cluster="K1").n_firms == 2  # F01, F02 active in K1
    assert value(t, "I05", "cumulative") == pytest.approx(100 * (5 + 15 + 10 + 30 + 180) / 800)
    # 2016: public 85 + 170 over costs 200 + 200... K1 100 + K2 200
    assert value(t, "I06", 2016) == pytest.approx(100 * (85 + 170) / 300)
    # leverage: member fees per EUR of public funding
    assert value(t, "I20", 2016) == pytest.approx((15 + 30) / (85 + 170))
    no_public = cell(t, "I20", 2018, cluster="K2")  # K2 got no public money in 2018
    assert math.isnan(no_public.value) and "no public funding" in no_public.note
    assert value(t, "I05", 2018, cluster="K2") == pytest.approx(100 * 180 / 200)


def test_i07_retention_and_i08_churn():
    t = compute(["I07", "I08"])
    # 2017: members in 2016: F01, F02 (K1), F03, F04 (K2), F06, F07 (K3) = 6;
    # still members in 2017: all but F02 (exit year 2017) = 5
    assert value(t, "I07", 2017) == pytest.approx(100 * 5 / 6)
    assert value(t, "I07", 2017, cluster="K1") == pytest.approx(100 * 1 / 2)
    # churn 2017, K2: entries 1 (F05) + exits 0 over average membership (2 + 3) / 2
    assert value(t, "I08", 2017, cluster="K2") == pytest.approx(100 * 1 / 2.5)
    # K1: exit of F02 over (2 + 1) / 2; K3: no move over (2 + 2) / 2
    assert value(t, "I08", 2017, cluster="K1") == pytest.approx(100 * 1 / 1.5)
    assert value(t, "I08", 2017) == pytest.approx(100 * (1 + 1 + 0) / (2.5 + 1.5 + 2))
    # a cluster's founding year is not churn: K4 (founded 2018) has no 2018 row
    assert not ((t.indicator_id == "I08") & (t.cluster_id == "K4") & (t.period == "2018")).any()
    # 2019: K1 closes, its member F01 is not retained
    k1 = cell(t, "I07", 2019, cluster="K1")
    assert k1.value == 0 and k1.n_firms == 1


def test_i18_public_cost_per_sme():
    t = compute(["I18"])
    # 2016: public 85 + 170; active members F01, F02, F03, F04, F06, F07
    assert value(t, "I18", 2016) == pytest.approx((85 + 170) / 6)
    # cumulative: all public money 95 + 85 + 190 + 170 + 0 over the 10 firms ever supported
    assert value(t, "I18", "cumulative") == pytest.approx(540 / 10)


def test_cluster_indicators_are_not_available_without_their_tables():
    tables = cluster_world()
    del tables["cluster_finance"]
    tables["clusters"] = tables["clusters"].drop(columns="seed_end_year")
    t = compute(["I04", "I04K", "I05", "I18", "I02"], tables)
    for ind in ("I04", "I04K", "I05", "I18"):
        row = cell(t, ind, "cumulative")
        assert row.flag == "not_available" and math.isnan(row.value), ind
    assert "clusters.seed_end_year" in cell(t, "I04", "cumulative").note
    assert "cluster_finance" in cell(t, "I05", "cumulative").note
    assert value(t, "I02", "cumulative") == 6  # unaffected
