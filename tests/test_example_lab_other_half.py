"""The example's "other half" (issue 13): the SME panel, cross-regional orders and links, the
practice-transfer log. What ``data/example/TRUTH.md`` says is planted is checked here on the
generated TABLES, computed afresh (not with policylab's indicators), and the other half is
shown to leave the rest of the example untouched.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policylab import examples as ex
from policylab.schema import LINK_TYPES, PRACTICE_STAGES

gen_module = importlib.import_module("policylab.examples.generate")  # the module, not the function
ROOT = Path(__file__).resolve().parent.parent
TRUTH_MD = ROOT / "data" / "example" / "TRUTH.md"
NUTS = {"cantabria": "ES13", "kujawsko_pomorskie": "PL61", "kent": "UKJ4", "aquitaine": "FRI1",
        "usti": "CZ04", "molise": "ITF2"}  # fmt: skip
RESPONSE_RATES = {"cantabria": 0.80, "kujawsko_pomorskie": 0.70, "kent": 0.55, "aquitaine": 0.65,
                  "usti": 0.85, "molise": 0.60}  # fmt: skip
TOP_BARRIERS = {"cantabria": "information", "kujawsko_pomorskie": "partners", "kent": "regulation",
                "aquitaine": "size", "usti": "language", "molise": "finance"}  # fmt: skip
CROSS_SHARES = {"cantabria": 0.10, "kujawsko_pomorskie": 0.08, "kent": 0.12, "aquitaine": 0.14,
                "usti": 0.06, "molise": 0.05}  # fmt: skip
ANSWERS = [
    "satisfaction",
    "intends_to_stay",
    *(f"barrier_{b}" for b in ex.spec.BARRIERS),
    "comment",
]


@pytest.fixture(scope="module")
def lab() -> ex.ExampleLab:
    return ex.generate()


@pytest.fixture(scope="module")
def truth_md() -> str:
    return TRUTH_MD.read_text(encoding="utf-8")


def _members(r: ex.RegionExample) -> pd.DataFrame:
    """Members' answers with the exit year of the membership they speak about (NaN = none)."""
    s = r.survey
    s = s[(s["responded"] == "yes") & s["cluster_id"].notna()]
    m = r.membership.assign(exit=r.membership["exit_year"].astype("Float64").astype(float))
    out = s.merge(m[["firm_id", "cluster_id", "join_year", "exit"]], on=["firm_id", "cluster_id"],
                  how="left", validate="many_to_one")  # fmt: skip
    return out.assign(sat=out["satisfaction"].astype(int))


def _left_shares(a: pd.DataFrame, horizon: int) -> tuple[int, int, int, int]:
    """(left, answers) of members answering 4-5, then 1-3, followed up ``horizon`` years."""
    a = a[a["wave"] <= 2023 - horizon]
    left = (a["exit"] > a["wave"]) & (a["exit"] <= a["wave"] + horizon)
    high = a["sat"] >= 4
    return int(left[high].sum()), int(high.sum()), int(left[~high].sum()), int((~high).sum())


# --- the SME panel ----------------------------------------------------------------------------


def test_panel_is_small_yearly_and_mostly_members(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        s, key = r.survey, r.spec.key
        assert not s.duplicated(["firm_id", "wave"]).any()
        first = int(r.clusters["founded_year"].min())
        assert sorted(s["wave"].unique()) == list(range(first, 2024)), key
        per_wave = s.groupby("wave").size()
        assert per_wave.max() <= 40 and per_wave.iloc[-3:].min() >= 20, (key, per_wave.tolist())
        # every invited firm is in the firms file that year
        seen = set(zip(r.firms["firm_id"], r.firms["year"], strict=True))
        assert all((f, w) in seen for f, w in zip(s["firm_id"], s["wave"], strict=True)), key
        # never-members answer without a consortium; members about one they belong to that year
        ever = set(r.membership["firm_id"])
        answered = s[s["responded"] == "yes"]
        never = answered[~answered["firm_id"].isin(ever)]
        assert never[["cluster_id", "satisfaction", "intends_to_stay"]].isna().all().all()
        assert 0.1 <= len(never) / len(answered) <= 0.35, key  # mostly members, some never-members
        a = _members(r)
        assert len(a) == len(answered) - len(never)
        assert ((a["join_year"] <= a["wave"]) & ~(a["exit"] <= a["wave"])).all(), key
        assert a["satisfaction"].between(1, 5).all() and a["intends_to_stay"].notna().all()


def test_response_rates_are_as_planted_and_differ_by_region(
    lab: ex.ExampleLab, truth_md: str
) -> None:
    rates = {}
    for r in lab.regions:
        s, key = r.survey, r.spec.key
        assert set(s["responded"]) == {"yes", "no"}
        rates[key] = (s["responded"] == "yes").mean()
        assert rates[key] == pytest.approx(RESPONSE_RATES[key], abs=0.02), key
        # exactly the planted share of each wave answers (rounded)
        for _, w in s.groupby("wave"):
            assert (w["responded"] == "yes").sum() == round(RESPONSE_RATES[key] * len(w))
        # a non-respondent's row holds no answers
        no = s[s["responded"] == "no"]
        assert no[["cluster_id", *ANSWERS]].isna().all().all(), key
        assert f"{100 * rates[key]:.1f} %" in truth_md
    assert max(rates.values()) - min(rates.values()) >= 0.25


def _by_first_answer(a: pd.DataFrame) -> dict[str, tuple[int, int, int]]:
    """Memberships by their first answer (4-5 / 1-3): (memberships, exits, member-years at risk
    from that answer to the exit year or to 2023), those first answered in 2023 left out."""
    first = a.sort_values("wave").drop_duplicates(["firm_id", "cluster_id"])
    years = first["exit"].fillna(2023) - first["wave"]
    first = first.assign(years=years)[years > 0]
    out = {}
    for name, g in (("high", first[first["sat"] >= 4]), ("low", first[first["sat"] <= 3])):
        out[name] = (len(g), int(g["exit"].notna().sum()), int(g["years"].sum()))
    return out


def test_members_answering_4_5_leave_less(lab: ex.ExampleLab, truth_md: str) -> None:
    """Satisfaction was drawn from the existing membership spells: members answering 4-5 leave
    their consortium at about half the rate of those answering 1-3, by membership (first
    answer, exits per member-year, as a survival analysis reads it) and by answer (leaving
    within 1 or 2 years after the wave)."""
    pooled = {1: np.zeros(4, int), 2: np.zeros(4, int), "m": np.zeros(4, int)}
    for r in lab.regions:
        a = _members(r)
        m = _by_first_answer(a)
        (nh, eh, yh), (nl, el, yl) = m["high"], m["low"]
        ratio = (eh / yh) / (el / yl)
        assert 0.3 <= ratio <= 0.65, (r.spec.key, m)
        assert f"| {r.spec.name} | {nh}, {eh} ({yh}) |" in truth_md
        pooled["m"] += (eh, yh, el, yl)
        for horizon in (1, 2):
            lh, nh, ll, nl = _left_shares(a, horizon)
            pooled[horizon] += (lh, nh, ll, nl)
            assert lh / nh < ll / nl, (r.spec.key, horizon, (lh, nh, ll, nl))
            assert f"{lh} of {nh} (" in truth_md and f"{ll} of {nl} (" in truth_md
    for key in (1, 2, "m"):
        lh, nh, ll, nl = pooled[key]
        ratio = (lh / nh) / (ll / nl)
        assert 0.35 <= ratio <= 0.65, (key, ratio)  # about half
        assert ll >= 30  # enough leavers that the split is not noise
    assert (
        "| **all six regions** | {}, {} ({}) |".format(
            sum(_by_first_answer(_members(r))["high"][0] for r in lab.regions), *pooled["m"][:2]
        )
        in truth_md
    )


def test_intention_to_stay_follows_satisfaction(lab: ex.ExampleLab) -> None:
    s = pd.concat([_members(r) for r in lab.regions])
    yes = s["intends_to_stay"] == "yes"
    no = s["intends_to_stay"] == "no"
    high = s["sat"] >= 4
    assert yes[high].mean() > 0.65 and yes[~high].mean() < 0.35
    assert no[~high].mean() > 3 * no[high].mean()
    assert set(s["intends_to_stay"]) == {"yes", "unsure", "no"}


def test_top_barrier_per_region(lab: ex.ExampleLab, truth_md: str) -> None:
    for r in lab.regions:
        s, key = r.survey, r.spec.key
        cols = [f"barrier_{b}" for b in ex.spec.BARRIERS]
        ratings = s[cols].astype("Float64")
        assert ratings.stack().between(1, 5).all()
        answered = s["responded"] == "yes"
        assert 0.0 < ratings[answered].isna().mean().mean() < 0.06  # a few blanks
        means = ratings.mean().sort_values(ascending=False)
        assert means.index[0] == f"barrier_{TOP_BARRIERS[key]}", (key, means.round(2).to_dict())
        assert means.iloc[0] - means.iloc[1] >= 0.5, (key, means.round(2).to_dict())
        assert r.spec.other_half.top_barrier == TOP_BARRIERS[key]
        assert f"| {r.spec.name} | **{TOP_BARRIERS[key]}** |" in truth_md
    kent = lab.region("kent").survey
    reg = kent["barrier_regulation"].astype("Float64")
    assert reg[kent["wave"] >= 2021].mean() > reg[kent["wave"] < 2021].mean() + 0.5  # Brexit


def test_comments_are_free_text_some_naming_firms(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        c = r.survey["comment"].dropna()
        assert 5 <= len(c) <= 0.2 * (r.survey["responded"] == "yes").sum()
        names = set(r.firms["firm_name"])
        assert any(any(n in t for n in names) for t in c), r.spec.key
        texts = ex.summaries.private_texts(r.survey, r.practices)
        assert len(texts) == len(c) + r.practices["notes"].notna().sum()


# --- cross-regional orders and links ------------------------------------------------------------


def test_cross_regional_order_share_and_pattern(lab: ex.ExampleLab, truth_md: str) -> None:
    counts: dict[frozenset[str], int] = {}
    for r in lab.regions:
        o, key = r.orders, r.spec.key
        cross = o[o["partner_region"].notna()]
        assert len(cross) == round(CROSS_SHARES[key] * len(o)), key
        assert 0.04 <= len(cross) / len(o) <= 0.15
        assert set(cross["partner_region"]) <= set(NUTS.values()) - {NUTS[key]}
        assert cross["cluster_id"].notna().all() and (cross["order_date"] >= "2016").all()
        assert f"{len(cross)} of {len(o)} (" in truth_md
        for p, n in cross["partner_region"].value_counts().items():
            pair = frozenset({NUTS[key], p})
            counts[pair] = counts.get(pair, 0) + int(n)
    assert lab.region("kent").orders["partner_region"].value_counts().index[0] == "FRI1"
    assert lab.region("aquitaine").orders["partner_region"].value_counts().index[0] == "UKJ4"
    assert max(counts, key=counts.get) == frozenset({"UKJ4", "FRI1"})


def test_partnerships_are_recorded_by_both_regions(lab: ex.ExampleLab) -> None:
    by_pair: dict[tuple[str, str, int, str], int] = {}
    for r in lab.regions:
        p, key = r.partnerships, r.spec.key
        assert p["link_id"].is_unique and set(p["link_type"]) <= set(LINK_TYPES)
        assert (p["partner_region"] != NUTS[key]).all()
        assert p["year"].between(2016, 2023).all()
        assert (p["link_type"] == "shared_manager").sum() == 1
        assert (p["link_type"] == "cross_regional_consortium").sum() >= 1
        assert 2 <= len(p) / 8 <= 6, key  # a handful of links a year
        # a link's consortium is active that year
        c = r.clusters.set_index("cluster_id")
        for row in p.dropna(subset=["cluster_id"]).itertuples():
            closed = c.at[row.cluster_id, "closed_year"]
            assert c.at[row.cluster_id, "founded_year"] <= row.year
            assert pd.isna(closed) or closed > row.year
        for row in p.itertuples():
            k = (NUTS[key], row.partner_region, row.year, row.link_type)
            by_pair[k] = by_pair.get(k, 0) + 1
    for (a, b, year, kind), n in by_pair.items():
        assert by_pair.get((b, a, year, kind)) == n, (a, b, year, kind)
    totals: dict[frozenset[str], int] = {}
    for (a, b, _, _), n in by_pair.items():
        totals[frozenset({a, b})] = totals.get(frozenset({a, b}), 0) + n
    assert max(totals, key=totals.get) == frozenset({"UKJ4", "FRI1"})


# --- practice transfer ------------------------------------------------------------------------


def test_practices_stages_in_order_by_date(lab: ex.ExampleLab) -> None:
    rank = {s: i for i, s in enumerate(PRACTICE_STAGES)}
    takers: dict[str, dict[str, str]] = {}
    for r in lab.regions:
        p, key = r.practices, r.spec.key
        assert len(p) > 0 and (p["adopting_region"] == NUTS[key]).all(), key
        assert (p["origin_region"] != p["adopting_region"]).all()
        assert not p.duplicated(["practice_id", "stage"]).any()
        for _, g in p.groupby("practice_id"):
            dates = pd.to_datetime(g["stage_date"], format="%Y-%m-%d")
            order = g["stage"].map(rank)
            g = g.assign(d=dates, o=order).sort_values("d")
            assert g["o"].is_monotonic_increasing and g["d"].is_unique, (key, g["stage"].tolist())
            assert g["stage"].iloc[0] == "studied"
            stages = [s for s in PRACTICE_STAGES if s != "dropped"]
            kept = [s for s in g["stage"] if s != "dropped"]
            assert kept == stages[: len(kept)], (key, kept)  # no stage skipped
            assert g["d"].dt.year.between(2016, 2023).all()
            takers.setdefault(g["practice"].iloc[0], {})[NUTS[key]] = g["stage"].iloc[-1]
            budget = g["budget_eur"]
            assert (budget[g["stage"] != "dropped"] > 0).all()
            assert budget[g["stage"] == "dropped"].isna().all()
    ec = takers["Export Consortia"]
    assert sorted(k for k, v in ec.items() if v == "adopted") == ["ITF2", "PL61"]
    assert [k for k, v in ec.items() if v == "dropped"] == ["CZ04"]
    cim = takers["Clustering for International Markets"]
    assert set(cim.values()) <= {"studied", "adapted"} and len(cim) >= 3
    assert len(takers) >= 3
    origins = {r.practices["practice"].iloc[i]: r.practices["origin_region"].iloc[i]
               for r in lab.regions for i in range(len(r.practices))}  # fmt: skip
    assert origins["Export Consortia"] == "ES13"
    assert origins["Clustering for International Markets"] == "PL61"


# --- the other half leaves the rest of the example as it was -------------------------------------


def test_other_half_does_not_touch_the_other_tables(
    lab: ex.ExampleLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawn from streams of their own: without them, every other table is the same."""
    empty = pd.DataFrame()
    monkeypatch.setattr(gen_module, "_survey", lambda *a, **k: empty)
    monkeypatch.setattr(gen_module, "_partnerships", lambda *a, **k: empty)
    monkeypatch.setattr(gen_module, "_practices", lambda *a, **k: empty)
    monkeypatch.setattr(gen_module, "_partner_regions", lambda rng, spec, orders, nuts: None)
    monkeypatch.setattr(gen_module, "_link_plan", lambda *a, **k: [])
    bare = gen_module.generate()
    for r1, r2 in zip(lab.regions, bare.regions, strict=True):
        for name in ("firms", "membership", "clusters", "cluster_finance", "potential", "truth"):
            pd.testing.assert_frame_equal(getattr(r1, name), getattr(r2, name))
        pd.testing.assert_frame_equal(
            r1.orders.drop(columns="partner_region"), r2.orders.drop(columns="partner_region")
        )
    pd.testing.assert_frame_equal(lab.truth, bare.truth)


def test_private_free_text_never_reaches_the_ingested_tables(tmp_path: Path) -> None:
    """Comments and notes are read and checked, then dropped: no ingested table holds them."""
    from policylab.config import parse_config
    from policylab.ingest import ingest

    config = ex.write_example(tmp_path)
    cfg = parse_config(config.read_text(encoding="utf-8"), base_dir=tmp_path)
    lab = ex.generate()
    for region in ingest(cfg).regions:
        r = lab.region(region.info.key)
        secrets = set(ex.summaries.private_texts(r.survey, r.practices))
        assert secrets
        for name, table in region.tables.items():
            assert "comment" not in table.columns and "notes" not in table.columns
            for col in table.columns:
                if table[col].dtype == object or str(table[col].dtype).startswith(
                    ("string", "str")
                ):
                    assert not set(table[col].dropna().astype(str)) & secrets, (name, col)
