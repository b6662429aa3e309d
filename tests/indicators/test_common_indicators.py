"""EU common indicators (policylab.indicators.common) on a tiny hand-built lab, every number
worked out by hand below, and invariants on the shipped example.

HAND WORLD (region "north" = ES13, 2018-2021; turnover in EUR m, employees = headcount)

    firm  2018      2019      2020      2021       size in the year before first support
    A     5 / 1.0   6 / 1.1   8 / 1.2   9 / 0.9    2018: 5 staff, EUR 1.0 m -> micro
    B     300/60    310/65    290/70    280/72     2018: 300 staff           -> large
    C     8 / 3.0   8 / 3.0   8 / 3.5   8 / 3.5    2019: 8 staff but EUR 3 m -> small (I01: micro)
    D     100/20    100/20    120/20    130/25     2020: 120 staff, EUR 20 m -> medium
    E     20 / 2.0  (every year; never a member)

    membership: A in X from 2019 and in Y from 2020 (two consortia: counted once)
                B in X 2019 only (exit year 2020: joined and left)
                C in Y from 2020;  D in X from 2021
    finance (running costs / member fees / public funding):
                X 2019 100/10/90, X 2020 100/30/70, X 2021 100/100/0 (self-funded)
                Y 2020 200/20/180, Y 2021 200/50/150
    partnerships: L1 2019 PL61 X | L2 2020 FR10 X | L3 2020 ITF2 Y | L4 2021 ES13 Y (own region)
                  L5 2021 DE11 no consortium
    practices (adopting ES13 unless said): P1 PL61: adapted 2018, piloted 2019, adopted 2020
                  P2 ITF2: adapted 2019, adopted 2021 (no pilot)
                  P3 ES51 (same country): adapted 2018, piloted 2019, adopted 2020
                  P4 FRI1: piloted 2020 (no adaptation)
                  P5 ES13 -> PL61 (another region's uptake, in north's log)

By hand (cumulative from 2018 to the end of each year):

    RCO01 total 0/2/3/4 (2021: micro A, small C, medium D, large B; sme 3)
    RCO02 0/2/3/3 (D's only member-year, X 2021, had no public funding)
    RCO04 0/2/3/4
    RCR01 0/11/3/14 (2019: A +1, B +10; 2020: A +3, B -10 -> 0, C 0; 2021: A +4, B 0, C 0, D +10)
    RCR19 0/2/3/3 of 0/2/3/4 compared (A's 2021 turnover fell below its 2018 one)
    RCR02 0/10/60/110 EUR (fees of publicly funded years; X 2021's 100 not counted)
    RCO87 0/1/2/2;  RCO84 0/1/2/2;  RCR79 0/1/1/2;  RCR104 0/0/1/2
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ind_worlds import NORTH, SOUTH

from policylab.indicators import raw_indicators
from policylab.indicators.common import (
    COMMON,
    COMMON_COLUMNS,
    LAB,
    common_catalogue,
    common_indicators,
    eu_size_class,
)

YEARS = (2018, 2019, 2020, 2021)
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "example.toml"


def _y(values):
    return pd.array([None if v is None else int(v) for v in values], dtype="Int64")


def hand_world() -> dict[str, pd.DataFrame]:
    emp = {"A": (5, 6, 8, 9), "B": (300, 310, 290, 280), "C": (8, 8, 8, 8), "D": (100, 100, 120, 130),
           "E": (20, 20, 20, 20)}
    turn = {"A": (1.0, 1.1, 1.2, 0.9), "B": (60, 65, 70, 72), "C": (3.0, 3.0, 3.5, 3.5),
            "D": (20, 20, 20, 25), "E": (2, 2, 2, 2)}
    rows = [(f, y, 0.0, turn[f][i] * 1e6, float(emp[f][i])) for f in emp for i, y in enumerate(YEARS)]
    firms = pd.DataFrame(rows, columns=["firm_id", "year", "exports_eur", "turnover_eur", "employees"])
    firms = firms.astype({"firm_id": "string", "year": "Int64"})
    membership = pd.DataFrame({
        "firm_id": pd.array(["A", "A", "B", "C", "D"], dtype="string"),
        "cluster_id": pd.array(["X", "Y", "X", "Y", "X"], dtype="string"),
        "join_year": _y([2019, 2020, 2019, 2020, 2021]),
        "exit_year": _y([None, None, 2020, None, None]),
    })
    clusters = pd.DataFrame({
        "cluster_id": pd.array(["X", "Y"], dtype="string"),
        "founded_year": _y([2019, 2020]), "seed_end_year": _y([2020, 2021]),
        "seed_grant_eur": [160.0, 330.0], "closed_year": _y([None, None]),
    })
    fin = [("X", 2019, 100, 10, 90), ("X", 2020, 100, 30, 70), ("X", 2021, 100, 100, 0),
           ("Y", 2020, 200, 20, 180), ("Y", 2021, 200, 50, 150)]
    finance = pd.DataFrame(fin, columns=["cluster_id", "year", "running_costs_eur", "member_fees_eur",
                                         "public_funding_eur"])
    finance = finance.astype({"cluster_id": "string", "year": "Int64", "running_costs_eur": "float64",
                              "member_fees_eur": "float64", "public_funding_eur": "float64"})
    partnerships = pd.DataFrame({
        "link_id": pd.array(["L1", "L2", "L3", "L4", "L5"], dtype="string"),
        "year": _y([2019, 2020, 2020, 2021, 2021]),
        "partner_region": pd.array(["PL61", "FR10", "ITF2", "ES13", "DE11"], dtype="string"),
        "link_type": pd.array(["joint_mission", "shared_manager", "joint_mission", "other", "joint_mission"],
                              dtype="string"),
        "cluster_id": pd.array(["X", "X", "Y", "Y", None], dtype="string"),
        "n_firms": [3.0, np.nan, 2.0, 2.0, 4.0],
    })
    log = [("P1", "PL61", "ES13", "studied", "2018-03-01"), ("P1", "PL61", "ES13", "adapted", "2018-09-01"),
           ("P1", "PL61", "ES13", "piloted", "2019-05-01"), ("P1", "PL61", "ES13", "adopted", "2020-06-01"),
           ("P2", "ITF2", "ES13", "studied", "2019-01-01"), ("P2", "ITF2", "ES13", "adapted", "2019-08-01"),
           ("P2", "ITF2", "ES13", "adopted", "2021-02-01"),
           ("P3", "ES51", "ES13", "adapted", "2018-06-01"), ("P3", "ES51", "ES13", "piloted", "2019-03-01"),
           ("P3", "ES51", "ES13", "adopted", "2020-01-01"),
           ("P4", "FRI1", "ES13", "studied", "2019-02-01"), ("P4", "FRI1", "ES13", "piloted", "2020-04-01"),
           ("P5", "ES13", "PL61", "studied", "2019-01-01"), ("P5", "ES13", "PL61", "adopted", "2020-01-01")]
    practices = pd.DataFrame(log, columns=["practice_id", "origin_region", "adopting_region", "stage",
                                           "stage_date"])
    practices = practices.assign(practice=practices["practice_id"]).astype(
        {"practice_id": "string", "origin_region": "string", "adopting_region": "string", "stage": "string"})
    return {"firms": firms, "membership": membership, "clusters": clusters, "cluster_finance": finance,
            "partnerships": partnerships, "practices": practices}


def compute(tables=None, regions=None, min_cell_firms=1, **kw) -> pd.DataFrame:
    return common_indicators(regions or [(NORTH, tables if tables is not None else hand_world())],
                             min_cell_firms=min_cell_firms, dominance_share=1.0, **kw)


def row(table: pd.DataFrame, code: str, period, breakdown: str = "total", region: str = "north") -> pd.Series:
    t = table[(table.code == code) & (table.period == str(period)) & (table.breakdown == breakdown)
              & (table.region == region)]
    assert len(t) == 1, (code, period, breakdown, region, len(t))
    return t.iloc[0]


def series(table, code, breakdown="total", region="north") -> list[float]:
    return [float(row(table, code, y, breakdown, region).value) for y in YEARS]


# --------------------------------------------------------------------------- the hand world


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    return compute()


def test_table_shape_and_registry(hand):
    assert list(hand.columns) == COMMON_COLUMNS
    assert set(hand.code) == set(COMMON) >= {"RCO01", "RCO02", "RCO04", "RCR01", "RCR02", "RCR19", "RCO87",
                                             "RCO84", "RCR79", "RCR104"}
    assert set(hand.period) == {str(y) for y in YEARS}  # a year each: achievement to its end
    assert set(hand.region) == {"north"}  # one region: no lab rows
    cat = common_catalogue()
    assert {"code", "name", "unit", "counting_rule", "fiche", "reference_period", "breakdowns", "needs",
            "twin"} <= set(cat.columns)
    assert cat["fiche"].str.contains("SWD\\(2021\\) 198").all()
    assert row(hand, "RCO01", 2021)["name"] == "Enterprises supported (of which: micro, small, medium, large)"
    assert row(hand, "RCR01", 2021).unit == "annual FTEs"


def test_every_indicator_by_hand(hand):
    assert series(hand, "RCO01") == [0, 2, 3, 4]
    assert series(hand, "RCO02") == [0, 2, 3, 3]
    assert series(hand, "RCO04") == [0, 2, 3, 4]
    assert series(hand, "RCR01") == [0, 11, 3, 14]
    assert [int(row(hand, "RCR01", y).n_firms) for y in YEARS] == [0, 2, 3, 4]
    assert series(hand, "RCR19") == [0, 2, 3, 3]
    assert [int(row(hand, "RCR19", y).n_firms) for y in YEARS] == [0, 2, 3, 4]
    assert series(hand, "RCR02") == [0, 10, 60, 110]
    assert series(hand, "RCR02", "grants") == [0, 10, 60, 110]
    assert [int(row(hand, "RCR02", y).n_firms) for y in YEARS] == [0, 2, 3, 3]  # A, B; + C
    assert series(hand, "RCO87") == [0, 1, 2, 2]
    assert series(hand, "RCO84") == [0, 1, 2, 2]
    assert series(hand, "RCR79") == [0, 1, 1, 2]
    assert series(hand, "RCR104") == [0, 0, 1, 2]
    for code in ("RCO87", "RCO84", "RCR79", "RCR104"):  # rest on no firm's data
        assert (hand.loc[hand.code == code, "n_firms"] == 0).all()
    assert "1 cross-regional link(s) without a consortium" in row(hand, "RCO87", 2021).note
    assert "1 practice transfer(s) within one country left out" in row(hand, "RCR104", 2021).note
    assert "headcount" in row(hand, "RCR01", 2021).note


def test_size_breakdown_by_hand(hand):
    got = {b: series(hand, "RCO01", b) for b in ("total", "sme", "micro", "small", "medium", "large",
                                                 "size_unknown")}
    assert got == {"total": [0, 2, 3, 4], "sme": [0, 1, 2, 3], "micro": [0, 1, 1, 1], "small": [0, 0, 1, 1],
                   "medium": [0, 0, 0, 1], "large": [0, 1, 1, 1], "size_unknown": [0, 0, 0, 0]}


def test_eu_size_class_uses_headcount_and_turnover():
    got = eu_size_class([5, 8, 8, 49, 100, 249, 250, 5, np.nan], [2e6, 2.5e6, 2e6, 10e6, 20e6, 50.5e6, 1e6,
                                                                  np.nan, 1e6])
    assert list(got) == ["micro", "small", "micro", "small", "medium", "large", "large", "size_unknown",
                         "size_unknown"]


# ----------------------------------------------------------------------- counting rules


def test_a_firm_in_two_consortia_counts_once(hand):
    # A is in X (2019-) and Y (2020-): 2020 counts A, B, C, not A twice
    assert row(hand, "RCO01", 2020).value == 3
    assert row(hand, "RCO04", 2021).value == 4
    # and its jobs count once: A's +4 is in RCR01 2021 once (4 + 0 + 0 + 10)
    assert row(hand, "RCR01", 2021).value == 14


def test_a_firm_that_joined_and_left_counts_in_the_year_it_was_supported(hand):
    # B: member of X in 2019 only (exit year 2020): counted from 2019 on, and stays counted
    assert series(hand, "RCO01", "large") == [0, 1, 1, 1]
    # ... but not when the programme starts after it left
    late = compute(programme_start=2020)
    assert sorted(late.period.unique()) == ["2020", "2021"]
    assert [row(late, "RCO01", y).value for y in (2020, 2021)] == [2, 3]  # A (first in 2020), C; + D
    assert row(late, "RCO01", 2021, "large").value == 0
    # A's baseline is now 2019 (the year before its first support in the programme): 8-6, 9-6
    assert row(late, "RCR01", 2021).value == (9 - 6) + 0 + 10


def test_large_enterprises_are_not_smes(hand):
    r = {b: row(hand, "RCO01", 2021, b).value for b in ("total", "sme", "micro", "small", "medium", "large")}
    assert r["large"] == 1 and r["sme"] == 3  # B counts under large, outside the SME cell
    assert r["total"] == r["sme"] + r["large"]
    assert r["sme"] == r["micro"] + r["small"] + r["medium"]


def test_turnover_ceiling_moves_a_small_headcount_firm_up_a_class(hand):
    # C has 8 staff (micro by headcount, as I01 counts it) but EUR 3 m turnover: small
    assert row(hand, "RCO01", 2020, "small").value == 1
    raw = raw_indicators([(NORTH, hand_world())], ids=["I01"])
    i01 = raw[(raw.period == "2020") & (raw.group == "micro")]
    assert float(i01.value.iloc[0]) == 2  # A and C by headcount only


def test_grants_need_a_publicly_funded_member_year():
    # D's only member-year is X 2021, a self-funded year: no grant, but services
    t = compute()
    assert row(t, "RCO02", 2021).value == 3 and row(t, "RCO04", 2021).value == 4
    # without cluster_finance, the seed years of clusters with a seed grant: X 2019-20, Y 2020-21
    tables = hand_world()
    del tables["cluster_finance"]
    seed = compute(tables)
    assert series(seed, "RCO02") == [0, 2, 3, 3]


def test_twins_agree_or_differ_as_stated(hand):
    raw = raw_indicators([(NORTH, hand_world())], ids=["I01", "I20", "I21", "I23A"])

    def cum(ind, group):
        r = raw[(raw.indicator_id == ind) & (raw.period == "cumulative") & (raw.group == group)
                & (raw.cluster_id == "")]
        return float(r.value.iloc[0])

    assert row(hand, "RCO01", 2021).value == cum("I01", "members")
    # I21 sums net changes (B's fall included): 4 - 20 + 0 + 10; RCR01 counts increases only
    assert cum("I21", "members") == -6 and row(hand, "RCR01", 2021).value == 14
    # I20 = all member fees / all public funding; RCR02 = fees of publicly funded years only
    assert cum("I20", "all") == pytest.approx(210 / 490)
    assert row(hand, "RCR02", 2021).value == 110
    # I23A counts P3 (a transfer within Spain) too
    assert cum("I23A", "all") == 3 and row(hand, "RCR104", 2021).value == 2


# ----------------------------------------------------------------------- not available


def test_not_available_rows_name_the_missing_field():
    tables = hand_world()
    for name in ("cluster_finance", "partnerships", "practices"):
        del tables[name]
    tables["firms"] = tables["firms"].drop(columns=["employees"])
    tables["clusters"] = tables["clusters"].drop(columns=["seed_grant_eur"])
    t = compute(tables)
    na = t[t.flag == "not_available"]
    note = {(c, b): n for c, b, n in zip(na.code, na.breakdown, na.note)}
    assert note[("RCO02", "total")] == ("not available: needs table cluster_finance or column "
                                        "clusters.seed_grant_eur with column clusters.seed_end_year")
    assert note[("RCO04", "total")] == "not available: needs table cluster_finance"
    assert note[("RCR01", "total")] == "not available: needs column firms.employees"
    assert note[("RCR02", "total")] == "not available: needs table cluster_finance"
    assert note[("RCO87", "total")] == "not available: needs table partnerships"
    for code in ("RCO84", "RCR79", "RCR104"):
        assert note[(code, "total")] == "not available: needs table practices"
    for b in ("sme", "micro", "small", "medium", "large", "size_unknown"):
        assert note[("RCO01", b)] == "not available: needs column firms.employees"
    assert na.value.isna().all() and na.n_firms.isna().all()
    assert set(na.period) == {"2021"}  # one row per breakdown, at the last year
    # what can still be counted is
    assert series(t, "RCO01") == [0, 2, 3, 4]
    assert series(t, "RCR19") == [0, 2, 3, 3]
    # a column present but blank throughout is missing too
    tables = hand_world()
    tables["cluster_finance"]["member_fees_eur"] = np.nan
    t = compute(tables)
    assert row(t, "RCR02", 2021).note == "not available: needs column cluster_finance.member_fees_eur"
    # financial instruments: never in the canonical tables
    fi = row(compute(), "RCR02", 2021, "financial_instruments")
    assert fi.flag == "not_available" and "financial-instrument" in fi.note


# ------------------------------------------------------------------------------- disclosure


def disclosure_world() -> dict[str, pd.DataFrame]:
    """2018-2020: micro M1-M6, small S1-S5, medium Q1 join K in 2019; micro M7, M8 in 2020."""
    sizes = {**{f"M{i}": (3, 0.5e6) for i in range(1, 9)}, **{f"S{i}": (20, 5e6) for i in range(1, 6)},
             "Q1": (100, 20e6)}
    firms = pd.DataFrame([(f, y, 0.0, t, float(e)) for f, (e, t) in sizes.items() for y in (2018, 2019, 2020)],
                         columns=["firm_id", "year", "exports_eur", "turnover_eur", "employees"])
    firms = firms.astype({"firm_id": "string", "year": "Int64"})
    ids = list(sizes)
    membership = pd.DataFrame({"firm_id": pd.array(ids, dtype="string"),
                               "cluster_id": pd.array(["K"] * len(ids), dtype="string"),
                               "join_year": _y([2020 if f in ("M7", "M8") else 2019 for f in ids]),
                               "exit_year": _y([None] * len(ids))})
    return {"firms": firms, "membership": membership}


def test_small_cells_are_suppressed_with_a_second_size_class():
    t = compute(disclosure_world(), min_cell_firms=5, codes=["RCO01"])

    def shown(y):
        return {b: (None if row(t, "RCO01", y, b).flag == "suppressed" else row(t, "RCO01", y, b).value)
                for b in ("total", "sme", "micro", "small", "medium", "large", "size_unknown")}

    # 2020: medium rests on 1 firm; small (5 firms, fewer than micro's 8) hides with it, so
    # sme - micro reveals only small + medium together (6 firms)
    assert shown(2020) == {"total": 14, "sme": 14, "micro": 8, "small": None, "medium": None, "large": 0,
                           "size_unknown": 0}
    # 2019: 2 micro firms joined in 2020, so 2019's total, sme and micro would tell them apart
    # from 2020's: the earlier year hides (the latest achievement is kept)
    assert shown(2019) == {"total": None, "sme": None, "micro": None, "small": 5, "medium": None, "large": 0,
                           "size_unknown": 0}
    assert shown(2018) == {b: 0 for b in ("total", "sme", "micro", "small", "medium", "large", "size_unknown")}
    hidden = t[t.flag == "suppressed"]
    assert hidden.value.isna().all() and hidden.n_firms.isna().all()
    assert (hidden.note == "suppressed: disclosure control (min_cell_firms = 5)").all()
    # with min_cell_firms 1 everything shows
    assert not (compute(disclosure_world(), codes=["RCO01"]).flag == "suppressed").any()


def test_hand_world_suppression_and_practices_never_suppressed():
    t = compute(min_cell_firms=5)
    every = compute()
    firm = t.code.isin(["RCO01", "RCO02", "RCO04", "RCR01", "RCR19", "RCR02"]) & (t.flag != "not_available")
    # every firm cell of the hand world rests on 1-4 firms or on none: the others (zeros) stay
    assert ((t.flag == "suppressed") == (firm & (every.n_firms > 0))).all()
    assert (t[firm & (every.n_firms == 0)].value == 0).all()
    for code in ("RCO87", "RCO84", "RCR79", "RCR104"):
        assert (t[t.code == code].flag == "").all()


def test_dominance_rule_on_jobs_created():
    # RCR01 2019: B's +10 is 10/11 of the sum; 2021: D's +10 is 10/14
    t = common_indicators([(NORTH, hand_world())], min_cell_firms=1, dominance_share=0.85, codes=["RCR01"])
    assert row(t, "RCR01", 2019).flag == "suppressed"
    assert row(t, "RCR01", 2021).value == 14
    with pytest.raises(ValueError, match="RCX99"):
        common_indicators([(NORTH, hand_world())], codes=["RCX99"])


def test_lab_rows_are_the_sum_of_the_regions_and_protected():
    south = hand_world()
    south["practices"] = south["practices"].assign(adopting_region=pd.array(["PL61"] * len(south["practices"]),
                                                                            dtype="string"))
    regions = [(NORTH, hand_world()), (SOUTH, south)]
    t = compute(regions=regions)
    for code in ("RCO01", "RCO02", "RCO04", "RCR01", "RCR19", "RCR02", "RCO87"):
        for y in YEARS:
            lab = row(t, code, y, region=LAB)
            assert lab.nuts2 == ""
            assert lab.value == row(t, code, y, region="north").value + row(t, code, y, region="south").value
    # disclosure across regions: the lab's RCO01 2019 rests on 4 firms, each region's on 2
    t5 = compute(regions=regions, min_cell_firms=3, codes=["RCO01"])
    assert row(t5, "RCO01", 2021, region=LAB).value == 8
    for region in ("north", "south"):
        assert row(t5, "RCO01", 2021, region=region).value == 4
        assert row(t5, "RCO01", 2019, region=region).flag == "suppressed"


# --------------------------------------------------------------------------- the example


@pytest.fixture(scope="module")
def example():
    from policylab.config import load_config
    from policylab.ingest import ingest

    cfg = load_config(CONFIG)
    data = ingest(cfg)
    regions = [(r.info, r.tables) for r in data.regions]
    table = common_indicators(regions, min_cell_firms=cfg.lab.min_cell_firms,
                              dominance_share=cfg.lab.dominance_share)
    raw = raw_indicators(regions, ids=["I01", "I21", "I23A"])
    return cfg, data, table, raw


def _published(t: pd.DataFrame) -> pd.DataFrame:
    return t[t.flag == ""]


def test_example_invariants(example):
    _, data, t, _ = example
    keys = [r.info.key for r in data.regions]
    assert set(t.region) == {*keys, LAB}
    pub = _published(t)
    assert (pub.value >= 0).all()
    assert not pub.value.isna().any()
    assert set(t.code) == set(COMMON)
    v = pub.set_index(["region", "code", "breakdown", "period"])["value"]
    n_checked = 0
    for (region, period), _ in pub.groupby(["region", "period"]):
        def get(code, b="total", region=region, period=period):
            return v.get((region, code, b, period))

        parts = [get("RCO01", b) for b in ("sme", "large", "size_unknown")]
        if get("RCO01") is not None and all(p is not None for p in parts):
            assert get("RCO01") == sum(parts)
            n_checked += 1
        sizes = [get("RCO01", b) for b in ("micro", "small", "medium")]
        if get("RCO01", "sme") is not None and all(p is not None for p in sizes):
            assert get("RCO01", "sme") == sum(sizes)
        for sub in ("RCO02", "RCO04"):
            if get(sub) is not None and get("RCO01") is not None:
                assert get(sub) <= get("RCO01")
        if get("RCR19") is not None and get("RCO01") is not None:
            assert get("RCR19") <= get("RCO01")
    assert n_checked > 20
    # cumulative counts never fall
    for (region, code, b), g in pub[pub.code.isin(["RCO01", "RCO02", "RCO04", "RCO87", "RCR104"])].groupby(
            ["region", "code", "breakdown"]):
        assert g.sort_values("period").value.is_monotonic_increasing, (region, code, b)


def test_example_totals_agree_with_the_policylab_twins(example):
    cfg, data, t, raw = example
    names = {r.info.name: r.info.key for r in data.regions}
    names["All regions"] = LAB
    last = str(cfg.lab.last_year)
    for ind, group, code in (("I01", "members", "RCO01"), ("I23A", "all", "RCR104")):
        r = raw[(raw.indicator_id == ind) & (raw.period == "cumulative") & (raw.group == group)]
        for region, value in zip(r.region, r.value):
            assert row(t, code, last, region=names[region]).value == value, (code, region)
    r = raw[(raw.indicator_id == "I21") & (raw.period == "cumulative") & (raw.group == "members")]
    for region, value in zip(r.region, r.value):
        assert row(t, "RCR01", last, region=names[region]).value >= value  # gross >= net


def test_example_rcr02_is_the_fees_of_publicly_funded_years(example):
    cfg, data, t, _ = example
    total = 0.0
    for region in data.regions:
        f = region.tables["cluster_finance"]
        want = float(f.loc[f.public_funding_eur > 0, "member_fees_eur"].sum())
        total += want
        assert row(t, "RCR02", cfg.lab.last_year, region=region.info.key).value == pytest.approx(want, abs=0.01)
    assert row(t, "RCR02", cfg.lab.last_year, region=LAB).value == pytest.approx(total, abs=0.05)


def test_example_lab_is_the_sum_of_regions(example):
    cfg, data, t, _ = example
    pub = _published(t).set_index(["region", "code", "breakdown", "period"])["value"]
    keys = [r.info.key for r in data.regions]
    checked = 0
    for code in ("RCO01", "RCO02", "RCO04", "RCR01", "RCR19", "RCR02", "RCO87", "RCO84"):
        for y in range(cfg.lab.first_year, cfg.lab.last_year + 1):
            parts = [pub.get((k, code, "total", str(y))) for k in keys]
            lab = pub.get((LAB, code, "total", str(y)))
            if lab is not None and all(p is not None for p in parts):
                assert lab == pytest.approx(sum(parts), abs=0.05), (code, y)
                checked += 1
    assert checked > 30


def test_example_disclosure_leaves_nothing_to_derive(example):
    cfg, _, t, _ = example
    m = cfg.lab.min_cell_firms
    pub = _published(t)
    firm = pub[pub.n_firms > 0]
    assert (firm.n_firms >= m).all()
    # relations total = parts: never exactly one suppressed cell
    flag = t.set_index(["region", "code", "breakdown", "period"])["flag"]
    for (region, code, period), _ in t.groupby(["region", "code", "period"]):
        for total, parts in COMMON[code].relations:
            cells = [flag.get((region, code, b, period)) for b in (total, *parts)]
            cells = [c for c in cells if c is not None and c != "not_available"]
            assert sum(c == "suppressed" for c in cells) != 1, (region, code, period, total)
    # consecutive published years of a count of firms differ by 0 or >= m firms
    for (region, code, b), g in pub[pub.code.isin(["RCO01", "RCO02", "RCO04"])].groupby(
            ["region", "code", "breakdown"]):
        steps = np.diff(g.sort_values("period").value.to_numpy())
        assert ((steps == 0) | (steps >= m)).all(), (region, code, b, steps)
    # the cumulative achievement to date is published for every count of the example
    last = t[(t.period == str(cfg.lab.last_year)) & (t.breakdown == "total") & (t.flag != "not_available")]
    assert (last.flag == "").all()
    assert math.isfinite(row(t, "RCO01", cfg.lab.last_year, region=LAB).value)
