"""SME panel (survey) indicators I24-I28 on hand-built panels, every number worked out by
hand, then disclosure control of the answers (rule 6: minimum respondents, distributions
published only where every answer is safe, collapsed otherwise, the mean as a last resort).

PANEL (region north = the firm world, 2018-2021), ratings 1..5, '-' = no answer:

    wave firm responded consortium satisfaction stay    size finance information regulation language partners
    2020 A    yes       X          5            yes     4    5       2           1          3        4
    2020 B    yes       X          4            yes     2    4       3           1          2        5
    2020 C    yes       Y          2            no      5    3       4           2          -        4
    2020 D    no
    2021 A    yes       X          4            unsure  3    5       1           1          1        2
    2021 B    no
    2021 C    yes       Y          3            unsure  -    -       -           -          -        -
    2021 E    yes       -          5            yes     5    4       2           1          2        3
    2021 D    yes       -          -            -       -    -       -           -          -        -

RETENTION WORLD (region north, 2015-2022; the last year 2022 censors), memberships and the
first satisfaction rating each gave while a member:

    firm consortium joined left  first rating (wave)
    F1   K1         2015   2017  5 (2015)         satisfied,     left after 2 years
    F2   K1         2015   -     4 (2015)         satisfied,     censored at 7 years (a later 2 is ignored)
    F3   K1         2016   2020  4 (2016)         satisfied,     left after 4 years
    F4   K2         2016   2017  2 (2016)         not satisfied, left after 1 year
    F5   K2         2016   2019  3 (2017)         not satisfied, left after 3 years, at risk from year 1 on
    F6   K2         2019   -     1 (2019)         not satisfied, censored at 3 years
    F7   K2         2016   -     none             left out
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from ind_checks import check_disclosure
from ind_worlds import NORTH, SOUTH, _years, cell, firm_world, value

from policylab.indicators import REGISTRY, compute_indicators, raw_indicators, suppress_small_cells
from policylab.indicators.disclosure import fixed_rating_counts
from policylab.schema import BARRIERS

SURVEY_IDS = ["I24", "I25", "I25M", "I26", "I27", "I27M", "I27R", "I28"]
B = list(BARRIERS)  # size, finance, information, regulation, language, partners
NIL = None  # a blank cell
PANEL = [
    # wave, firm, responded, cluster, satisfaction, stay, barriers in B's order
    (2020, "A", "yes", "X", 5, "yes", (4, 5, 2, 1, 3, 4)),
    (2020, "B", "yes", "X", 4, "yes", (2, 4, 3, 1, 2, 5)),
    (2020, "C", "yes", "Y", 2, "no", (5, 3, 4, 2, NIL, 4)),
    (2020, "D", "no", NIL, NIL, NIL, (NIL,) * 6),
    (2021, "A", "yes", "X", 4, "unsure", (3, 5, 1, 1, 1, 2)),
    (2021, "B", "no", NIL, NIL, NIL, (NIL,) * 6),
    (2021, "C", "yes", "Y", 3, "unsure", (NIL,) * 6),
    (2021, "E", "yes", NIL, 5, "yes", (5, 4, 2, 1, 2, 3)),
    (2021, "D", "yes", NIL, NIL, NIL, (NIL,) * 6),
]


def survey_frame(rows, *, columns=None) -> pd.DataFrame:
    """A canonical survey table (dtypes as ingest gives them) from PANEL-like tuples."""
    def num(v):
        return np.nan if v is None else float(v)

    df = pd.DataFrame({
        "firm_id": pd.array([r[1] for r in rows], dtype="string"),
        "wave": _years([r[0] for r in rows]),
        "responded": pd.array([r[2] for r in rows], dtype="string"),
        "cluster_id": pd.array([r[3] for r in rows], dtype="string"),
        "satisfaction": [num(r[4]) for r in rows],
        "intends_to_stay": pd.array([r[5] for r in rows], dtype="string"),
        **{f"barrier_{k}": [num(r[6][i]) for r in rows] for i, k in enumerate(B)},
    })
    return df if columns is None else df[columns]


def panel_world(**kw) -> dict[str, pd.DataFrame]:
    return {**firm_world(), "survey": survey_frame(PANEL, **kw)}


def compute(regions=None, ids=SURVEY_IDS, min_cell_firms=1, **kw):
    return compute_indicators(regions or [(NORTH, panel_world())], min_cell_firms=min_cell_firms,
                              dominance_share=1.0, ids=ids, **kw)


# ------------------------------------------------------------------------------ I24 - I27


def test_i24_response_rate_of_invited_firms():
    t = compute()
    assert value(t, "I24", 2020) == 75.0  # A, B, C of A, B, C, D
    assert value(t, "I24", 2021) == 80.0  # A, C, E, D of A, B, C, E, D
    assert cell(t, "I24", 2020).n_firms == 4  # n_firms = invited
    assert cell(t, "I24", 2021).n_firms == 5
    assert not (t[t.indicator_id == "I24"].level == "cluster").any()


def test_i25_satisfaction_distribution_and_mean():
    t = compute()
    # region 2020: ratings 5, 4, 2
    third = 100 / 3
    assert [value(t, "I25", 2020, g) for g in "12345"] == pytest.approx([0, third, 0, third, third])
    assert value(t, "I25", 2020, "1-2") == pytest.approx(third)
    assert value(t, "I25", 2020, "4-5") == pytest.approx(2 * third)
    assert value(t, "I25M", 2020, "mean") == pytest.approx((5 + 4 + 2) / 3)
    assert cell(t, "I25", 2020, "4").n_firms == 3  # respondents who gave a rating
    # per consortium (the one the respondent speaks about): X 2020 = 5, 4; Y 2020 = 2
    assert value(t, "I25", 2020, "5", cluster="X") == 50.0
    assert value(t, "I25M", 2020, "mean", cluster="X") == 4.5
    assert value(t, "I25", 2020, "2", cluster="Y") == 100.0
    # 2021: 4, 3, 5 (D answered, but not this question; E names no consortium)
    assert value(t, "I25M", 2021, "mean") == 4.0 and cell(t, "I25M", 2021, "mean").n_firms == 3
    assert value(t, "I25M", 2021, "mean", cluster="X") == 4.0
    assert t[(t.indicator_id == "I25") & (t.period == "2021")].cluster_id.tolist().count("") == 7


def test_i26_intention_to_stay():
    t = compute()
    assert value(t, "I26", 2020, "yes") == pytest.approx(200 / 3)
    assert value(t, "I26", 2020, "unsure") == 0
    assert value(t, "I26", 2020, "no") == pytest.approx(100 / 3)
    # 2021: A unsure, C unsure, E yes
    assert value(t, "I26", 2021, "unsure") == pytest.approx(200 / 3)
    assert value(t, "I26", 2021, "unsure", cluster="Y") == 100.0


def test_i27_barriers_mean_share_major_and_rank():
    t = compute()
    means = {"size": 11 / 3, "finance": 4.0, "information": 3.0, "regulation": 4 / 3,
             "language": 2.5, "partners": 13 / 3}
    for k, m in means.items():
        assert value(t, "I27", 2020, k) == pytest.approx(m), k
    assert cell(t, "I27", 2020, "language").n_firms == 2  # C did not rate it
    major = {"size": 200 / 3, "finance": 200 / 3, "information": 100 / 3, "regulation": 0,
             "language": 0, "partners": 100}
    for k, m in major.items():
        assert value(t, "I27M", 2020, k) == pytest.approx(m), k
    # rank by mean, 1 = the biggest barrier
    ranks = {"partners": 1, "finance": 2, "size": 3, "information": 4, "language": 5, "regulation": 6}
    assert {k: value(t, "I27R", 2020, k) for k in B} == ranks
    # 2021 (A and E): size 4, finance 4.5, information 1.5, regulation 1, language 1.5,
    # partners 2.5 -> ties share the better rank
    assert {k: value(t, "I27R", 2021, k) for k in B} == {
        "finance": 1, "size": 2, "partners": 3, "information": 4, "language": 4, "regulation": 6}
    # per consortium: X 2020 (A, B) partners (4 + 5) / 2
    assert value(t, "I27", 2020, "partners", cluster="X") == 4.5


def test_periods_are_the_waves_without_a_cumulative_row():
    t = compute()
    survey = t[t.indicator_id.isin(["I24", "I25", "I25M", "I26", "I27", "I27M", "I27R"])]
    assert set(survey.period) == {"2020", "2021"}


def test_lab_wide_rows_pool_the_regions_respondents():
    south = {**firm_world(), "survey": survey_frame([
        (2020, "S1", "yes", NIL, 4, "yes", (1,) * 6), (2020, "S2", "no", NIL, NIL, NIL, (NIL,) * 6)])}
    t = compute([(NORTH, panel_world()), (SOUTH, south)])
    # 2020: north 3 of 4 + south 1 of 2
    assert value(t, "I24", 2020, level="lab") == pytest.approx(100 * 4 / 6)
    assert value(t, "I25M", 2020, "mean", level="lab") == pytest.approx((5 + 4 + 2 + 4) / 4)
    assert not (t[t.level == "lab"].cluster_id != "").any()


# ------------------------------------------------------------------------------ absent inputs


def test_no_survey_no_survey_rows():
    t = compute_indicators([(NORTH, firm_world())], min_cell_firms=1, dominance_share=1.0, ids=SURVEY_IDS)
    assert t.empty


def test_each_question_switches_on_its_own_indicators():
    tables = panel_world(columns=["firm_id", "wave", "responded"])
    t = compute([(NORTH, tables)])
    assert set(t.indicator_id) == {"I24"}
    tables = panel_world(columns=["firm_id", "wave", "responded", "intends_to_stay"])
    assert set(compute([(NORTH, tables)]).indicator_id) == {"I24", "I26"}


def test_no_free_text_reaches_any_cell():
    tables = panel_world()
    tables["survey"] = tables["survey"].assign(comment=pd.array(["SECRET remark"] * len(PANEL), dtype="string"))
    raw = raw_indicators([(NORTH, tables)], ids=SURVEY_IDS)
    text = raw.select_dtypes(exclude="number").astype(str)
    assert not text.apply(lambda c: c.str.contains("SECRET")).any().any()
    groups = set(raw.group)
    assert groups <= {"all", "1", "2", "3", "4", "5", "1-2", "4-5", "mean", "yes", "unsure", "no", *B} | {
        g for g in groups if g.startswith(("satisfied_", "not_satisfied_"))}


# ------------------------------------------------------------------------------ I28


def retention_world() -> dict[str, pd.DataFrame]:
    ids = [f"F{i}" for i in range(1, 8)]
    firms = pd.DataFrame([(f, y, 0.0, 100.0) for f in ids for y in range(2015, 2023)],
                         columns=["firm_id", "year", "exports_eur", "turnover_eur"])
    firms = firms.astype({"firm_id": "string", "year": "Int64"})
    mem = [("F1", "K1", 2015, 2017), ("F2", "K1", 2015, None), ("F3", "K1", 2016, 2020),
           ("F4", "K2", 2016, 2017), ("F5", "K2", 2016, 2019), ("F6", "K2", 2019, None),
           ("F7", "K2", 2016, None)]
    membership = pd.DataFrame({"firm_id": pd.array([m[0] for m in mem], dtype="string"),
                               "cluster_id": pd.array([m[1] for m in mem], dtype="string"),
                               "join_year": _years([m[2] for m in mem]),
                               "exit_year": _years([m[3] for m in mem])})
    six = (NIL,) * 6
    rows = [(2015, "F1", "yes", "K1", 5, NIL, six), (2015, "F2", "yes", "K1", 4, NIL, six),
            (2016, "F3", "yes", "K1", 4, NIL, six), (2016, "F4", "yes", "K2", 2, NIL, six),
            (2016, "F5", "no", NIL, NIL, NIL, six), (2016, "F7", "no", NIL, NIL, NIL, six),
            (2017, "F5", "yes", "K2", 3, NIL, six), (2017, "F2", "yes", "K1", 2, NIL, six),
            (2018, "F5", "yes", "K2", 5, NIL, six), (2019, "F6", "yes", "K2", 1, NIL, six),
            (2014, "F6", "yes", "K2", 5, NIL, six)]  # before F6 joined: not a member's rating
    return {"firms": firms, "membership": membership, "survey": survey_frame(rows)}


def _km(t, group, k):
    return value(t, "I28", "cumulative", f"{group}_{k}_year" if k == 1 else f"{group}_{k}_years")


def test_i28_kaplan_meier_retention_by_first_satisfaction_by_hand():
    t = compute([(NORTH, retention_world())], ids=["I28"])
    # satisfied (F1 left at 2, F2 censored at 7, F3 left at 4):
    #   t = 2: 3 at risk, 1 leaves -> 2/3;  t = 4: 2 at risk (F2, F3), 1 leaves -> 2/3 * 1/2
    assert [_km(t, "satisfied", k) for k in (1, 2, 3, 4, 5)] == pytest.approx(
        [100, 200 / 3, 200 / 3, 100 / 3, 100 / 3])
    # not satisfied (F4 left at 1; F5 at risk after year 1, left at 3; F6 censored at 3):
    #   t = 1: at risk F4, F6 (F5 only from its rating in year 1 on) -> 1/2
    #   t = 3: at risk F5, F6 -> 1/2 * 1/2; no one followed past 3 years -> blank
    got = [_km(t, "not_satisfied", k) for k in (1, 2, 3)]
    assert got == pytest.approx([50, 50, 25])
    assert math.isnan(_km(t, "not_satisfied", 4)) and math.isnan(_km(t, "not_satisfied", 5))
    c = cell(t, "I28", "cumulative", "not_satisfied_4_years")
    assert "followed 4 year(s)" in c.note
    # n_firms = the firms in the group; F7 (never rated) is left out and said so
    assert cell(t, "I28", "cumulative", "satisfied_1_year").n_firms == 3
    assert cell(t, "I28", "cumulative", "not_satisfied_1_year").n_firms == 3
    assert "1 membership(s) without a rating" in cell(t, "I28", "cumulative", "satisfied_1_year").note


def test_i28_is_described_as_descriptive_not_causal():
    notes = REGISTRY["I28"].notes
    assert "DESCRIPTIVE, NOT CAUSAL" in notes and "I04K" in notes


def test_i28_cells_of_too_few_members_are_suppressed():
    t = compute([(NORTH, retention_world())], ids=["I28"], min_cell_firms=5)
    rows = t[t.indicator_id == "I28"]
    assert (rows.flag == "suppressed").all() and rows.value.isna().all()


# ------------------------------------------------------------------------------ disclosure

#: One region, one wave per scenario: counts of respondents per rating (or answer).
MIN = 5
SCENARIOS = {
    2015: {3: 5, 4: 5, 5: 6},              # every rating safe: published as is
    2016: {2: 5, 3: 5, 4: 3, 5: 2},        # 4 and 5 unsafe, 1-2 / 3 / 4-5 safe: collapsed
    2017: {3: 5, 4: 4, 5: 1},              # collapsed, but the mean would pin 4 x 4 and 1 x 5
    2018: {1: 1, 2: 2, 3: 5, 4: 5, 5: 5},  # 1-2 unsafe too: the mean only
    2019: {4: 2, 5: 2},                    # 4 respondents: nothing
}


def survey_from_counts(blocks) -> pd.DataFrame:
    """One respondent per count: ``{(wave, cluster): {rating: n}}``; answers to the stay
    question copy ``stay`` blocks ``{(wave, cluster): {answer: n}}`` when given."""
    rows, i = [], 0
    for (wave, cluster), counts in blocks.items():
        for rating, n in counts.items():
            for _k in range(n):
                i += 1
                sat, stay = (rating, None) if isinstance(rating, int) else (None, rating)
                rows.append((wave, f"R{i:03d}", "yes", cluster, sat, stay, (NIL,) * 6))
    return survey_frame(rows)


def disclosed(blocks, ids=("I25", "I25M", "I26"), min_cell_firms=MIN):
    tables = {**firm_world(), "survey": survey_from_counts(blocks)}
    t = compute([(NORTH, tables)], ids=list(ids), min_cell_firms=min_cell_firms)
    raw = raw_indicators([(NORTH, tables)], ids=list(ids))
    return t, raw


def _row(t, ind, wave, group, cluster=""):
    return cell(t, ind, wave, group, cluster=cluster)


def test_a_distribution_of_safe_ratings_is_published_whole():
    t, _raw = disclosed({(w, NIL): c for w, c in SCENARIOS.items()})
    assert [value(t, "I25", 2015, g) for g in "12345"] == pytest.approx([0, 0, 31.25, 31.25, 37.5])
    assert value(t, "I25", 2015, "4-5") == pytest.approx(68.75)
    assert value(t, "I25M", 2015, "mean") == pytest.approx((15 + 20 + 30) / 16)
    # a rating nobody gave (count 0) is safe
    assert _row(t, "I25", 2015, "1").flag == ""


def test_an_unsafe_rating_collapses_the_distribution():
    t, _raw = disclosed({(w, NIL): c for w, c in SCENARIOS.items()})
    for g in ("1", "2", "4", "5"):
        r = _row(t, "I25", 2016, g)
        assert r.flag == "suppressed" and math.isnan(r.value) and pd.isna(r.n_firms)
        assert r.note.startswith("published as 1-2 / 3 / 4-5") and "at least 5 respondents" in r.note
    assert [value(t, "I25", 2016, g) for g in ("1-2", "3", "4-5")] == pytest.approx([100 / 3] * 3)
    # the mean (47 / 15) with 1-2, 3 and 4-5 leaves several splits of 1-2 and 4-5 open
    assert value(t, "I25M", 2016, "mean") == pytest.approx(47 / 15)


def test_the_mean_is_withheld_where_it_would_pin_an_unsafe_rating():
    t, _raw = disclosed({(w, NIL): c for w, c in SCENARIOS.items()})
    # 2017: 1-2 = 0, 3 = 5, 4-5 = 5 and a mean of 38 / 10 -> 4 fours and 1 five
    assert [value(t, "I25", 2017, g) for g in ("1-2", "3", "4-5")] == [0, 50, 50]
    assert _row(t, "I25M", 2017, "mean").flag == "suppressed"


def test_when_the_collapsed_groups_are_unsafe_only_the_mean_is_published():
    t, _raw = disclosed({(w, NIL): c for w, c in SCENARIOS.items()})
    rows = t[(t.indicator_id == "I25") & (t.period == "2018")]
    assert (rows.flag == "suppressed").all() and rows.value.isna().all()
    assert rows.note.str.startswith("only the mean is published").all()
    assert value(t, "I25M", 2018, "mean") == pytest.approx((1 + 4 + 15 + 20 + 25) / 18)


def test_fewer_respondents_than_the_minimum_suppresses_everything():
    t, _raw = disclosed({(w, NIL): c for w, c in SCENARIOS.items()})
    rows = t[t.indicator_id.isin(["I25", "I25M"]) & (t.period == "2019")]
    assert len(rows) == 8 and (rows.flag == "suppressed").all() and rows.value.isna().all()
    assert (rows.note == "").all() and rows.n_firms.isna().all()


def test_intention_to_stay_is_published_only_when_every_answer_is_safe():
    t, _raw = disclosed({(2015, NIL): {"yes": 6, "unsure": 5}, (2016, NIL): {"yes": 6, "unsure": 4}}, ids=["I26"])
    assert [value(t, "I26", 2015, g) for g in ("yes", "unsure", "no")] == pytest.approx([600 / 11, 500 / 11, 0])
    rows = t[t.period == "2016"]
    assert (rows.flag == "suppressed").all()
    assert rows.note.str.startswith("not published: each answer must have 0 or at least 5").all()


def test_a_consortium_hidden_next_to_its_visible_region_is_not_recoverable():
    # X is safe, Y is not; the region (X + Y) is safe: publishing X and the region would give Y
    blocks = {(2020, "X"): {4: 5, 5: 5}, (2020, "Y"): {3: 5, 4: 1}}
    t, raw = disclosed(blocks)
    assert [value(t, "I25", 2020, g) for g in "345"] == pytest.approx([31.25, 37.5, 31.25])
    for c in ("X", "Y"):
        hidden = t[(t.indicator_id == "I25") & (t.cluster_id == c)]
        assert (hidden.flag == "suppressed").all(), c
        assert value(t, "I25M", 2020, "mean", cluster=c) > 0  # the means stay (region = X + Y)
    check_distributions(t, raw, MIN)


def test_registry_states_the_survey_disclosure_rules():
    assert REGISTRY["I25"].distribution == "ratings" and REGISTRY["I26"].distribution == "answers"
    assert REGISTRY["I25M"].mean_of == "I25" and REGISTRY["I25M"].discloses_with == ("I25",)
    assert REGISTRY["I27R"].block
    for ind in SURVEY_IDS:
        assert "n_firms = respondents" in REGISTRY[ind].notes or ind == "I24"


def test_a_mean_asked_for_alone_is_disclosed_as_with_its_distribution():
    blocks = {(w, NIL): c for w, c in SCENARIOS.items()}
    alone, _raw = disclosed(blocks, ids=["I25M"])
    assert set(alone.indicator_id) == {"I25M"}
    both, _raw = disclosed(blocks)
    assert alone.flag.tolist() == both[both.indicator_id == "I25M"].flag.tolist()


def test_one_hidden_rank_hides_its_block():
    rows = [(2020, f"R{i}", "yes", NIL, NIL, NIL, (4, 3, 2, 1, 5 if i < 2 else NIL, 3)) for i in range(6)]
    tables = {**firm_world(), "survey": survey_frame(rows)}
    t = compute([(NORTH, tables)], ids=["I27", "I27R"], min_cell_firms=5)
    # language rated by 2 of 6: its mean is suppressed, and with it every rank of the wave
    assert cell(t, "I27", 2020, "language").flag == "suppressed"
    assert cell(t, "I27", 2020, "size").flag == "" and value(t, "I27", 2020, "size") == 4
    assert (t[t.indicator_id == "I27R"].flag == "suppressed").all()


def test_fixed_rating_counts():
    # 5 respondents summing to 6: four 1s and one 2, whatever else
    assert fixed_rating_counts(5, 6) == {1: 4, 2: 1, 3: 0, 4: 0, 5: 0}
    # 5 respondents summing to 7: 4 x 1 + 3, or 3 x 1 + 2 x 2: only 4 and 5 are pinned (none)
    assert fixed_rating_counts(5, 7) == {4: 0, 5: 0}
    assert fixed_rating_counts(3, 11) == {}


@pytest.mark.parametrize("seed", range(12))
def test_random_panels_never_publish_an_unsafe_or_recoverable_answer(seed):
    rng = np.random.default_rng(seed)
    blocks = {}
    for wave in (2020, 2021):
        for c in ("X", "Y", "Z", NIL):
            n = int(rng.integers(0, 14))
            ratings = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.05, 0.1, 0.2, 0.4, 0.25])
            blocks[(wave, c)] = {int(r): int((ratings == r).sum()) for r in np.unique(ratings)}
    t, raw = disclosed(blocks, min_cell_firms=3)
    check_distributions(t, raw, 3)


def check_distributions(t: pd.DataFrame, raw: pd.DataFrame, min_cell_firms: int) -> None:
    """No published answer has 1 to min - 1 respondents; within a block hidden answers come
    as 1, 2, 4, 5 (with 1-2, 3, 4-5 shown) or all; a visible region next to its consortia
    never has exactly one consortium hiding an answer."""
    keys = ["indicator_id", "region", "level", "cluster_id", "period", "group"]
    m = t.merge(raw[keys + ["n_contrib"]], on=keys)
    shown = m[(m.indicator_id == "I25") & (m.flag == "")]
    assert not ((shown.n_contrib > 0) & (shown.n_contrib < min_cell_firms)).any()
    d = m[m.indicator_id == "I25"]
    for _key, b in d.groupby(["region", "level", "cluster_id", "period"]):
        hidden = set(b[b.flag == "suppressed"].group)
        assert hidden in (set(), {"1", "2", "4", "5"}, {"1", "2", "3", "4", "5", "1-2", "4-5"}), hidden
    for (_p, g), rel in d.groupby(["period", "group"]):
        region = rel[rel.level == "region"]
        if len(region) and region.flag.iloc[0] == "":
            assert (rel[rel.level == "cluster"].flag == "suppressed").sum() != 1, (_p, g)
    means = m[m.indicator_id == "I25M"]
    assert not ((means.flag == "") & (means.n_firms < min_cell_firms) & (means.n_firms > 0)).any()


def test_the_house_disclosure_checks_hold_on_a_random_panel_lab():
    rng = np.random.default_rng(7)
    regions = []
    for info in (NORTH, SOUTH):
        rows, i = [], 0
        for wave in (2019, 2020, 2021):
            for c in ("X", "Y", NIL):
                for _k in range(int(rng.integers(0, 9))):
                    i += 1
                    answered = rng.random() < 0.8
                    pick = [int(v) for v in rng.integers(1, 6, size=7)]
                    stay = str(rng.choice(["yes", "unsure", "no"]))
                    rows.append((wave, f"{info.key}{i}", "yes" if answered else "no", c if answered else NIL,
                                 pick[0] if answered else NIL, stay if answered else NIL,
                                 tuple(pick[1:]) if answered else (NIL,) * 6))
        regions.append((info, {**firm_world(), "survey": survey_frame(rows)}))
    raw = raw_indicators(regions, ids=SURVEY_IDS[:-1])
    table = compute_indicators(regions, min_cell_firms=3, dominance_share=0.85, ids=SURVEY_IDS[:-1])
    check_disclosure(table, raw, 3, 0.85)
    check_distributions(table, raw, 3)
    assert (table.flag == "suppressed").any() and (table.flag == "").any()


def test_disclosure_of_a_table_without_the_internal_counts_gives_the_same_answer():
    blocks = {(w, NIL): c for w, c in SCENARIOS.items()}
    tables = {**firm_world(), "survey": survey_from_counts(blocks)}
    raw = raw_indicators([(NORTH, tables)], ids=["I25", "I25M"])
    full = suppress_small_cells(raw, MIN)
    bare = suppress_small_cells(raw.drop(columns=["n_contrib", "max_share"]), MIN)
    assert full.flag.tolist() == bare.flag.tolist()
