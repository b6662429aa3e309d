"""The synthetic example data set: reproducible, faithful to its config, calibrated as documented.

The example (``policylab/examples/``) is what evaluators start from and what the estimators'
golden tests run on, so these tests pin down three things:

1. reproducibility: the same seed gives the same tables and the same files, and the committed
   copy under ``data/example`` and ``configs/example.toml`` is exactly what the generator makes;
2. the config describes the files: it validates, every file it names exists, and reading each
   file the way the config says (delimiter, decimal, encoding, sheet, header row, scale, FX)
   gives back the canonical EUR tables;
3. the synthetic world is calibrated as ``TRUTH.md`` states (domain notes section 2.3).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policylab import examples as ex
from policylab.config import parse_config
from policylab.ingest import ingest
from policylab.schema import TABLES

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_DATA = ROOT / "data" / "example"
COMMITTED_CONFIG = ROOT / "configs" / "example.toml"
NONZERO = ("cantabria", "kujawsko_pomorskie", "kent", "aquitaine", "usti")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> ex.ExampleLab:
    return ex.generate()


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ``policylab example DIR``: data plus ``example.toml``."""
    dest = tmp_path_factory.mktemp("example")
    ex.write_example(dest)
    return dest


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def _xlsx_content(path: Path) -> dict[str, list[tuple]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def _assert_same_files(a: Path, b: Path, ignore: set[str] = frozenset()) -> None:
    fa, fb = _files(a), _files(b)
    fa = {k: v for k, v in fa.items() if k not in ignore}
    fb = {k: v for k, v in fb.items() if k not in ignore}
    assert sorted(fa) == sorted(fb)
    for name in fa:
        if name.endswith(".xlsx"):
            assert _xlsx_content(fa[name]) == _xlsx_content(fb[name]), name
        elif name.endswith(".parquet"):  # bytes carry the pyarrow version: compare content
            pd.testing.assert_frame_equal(pd.read_parquet(fa[name]), pd.read_parquet(fb[name]))
        else:
            assert fa[name].read_bytes() == fb[name].read_bytes(), name


# --- 1. reproducibility -----------------------------------------------------------------------


def test_generating_twice_gives_identical_tables(lab: ex.ExampleLab) -> None:
    again = ex.generate()
    assert again.keys == lab.keys
    for r1, r2 in zip(lab.regions, again.regions, strict=True):
        for name in ex.TABLE_ORDER:
            pd.testing.assert_frame_equal(r1.tables()[name], r2.tables()[name])
        pd.testing.assert_frame_equal(r1.potential, r2.potential)
    pd.testing.assert_frame_equal(lab.truth, again.truth)


def test_another_seed_gives_another_world(lab: ex.ExampleLab) -> None:
    other = ex.generate(seed=7)
    assert not other.region("molise").firms.equals(lab.region("molise").firms)


def test_tables_have_exactly_the_canonical_columns(lab: ex.ExampleLab) -> None:
    assert lab.keys == ("cantabria", "kujawsko_pomorskie", "kent", "aquitaine", "usti", "molise")
    for r in lab.regions:
        for name, frame in r.tables().items():
            assert list(frame.columns) == list(TABLES[name].column_names), (r.spec.key, name)
            key = list(TABLES[name].key)
            assert not frame.duplicated(subset=key).any(), (r.spec.key, name)
    assert list(lab.truth.columns) == [
        "region",
        "cohort",
        "year",
        "event_time",
        "outcome",
        "att",
        "n_firms",
    ]


def test_writing_twice_gives_identical_files(example_dir: Path, tmp_path: Path) -> None:
    ex.write_example(tmp_path)
    _assert_same_files(example_dir, tmp_path)


def test_committed_copy_matches_a_fresh_regeneration(example_dir: Path) -> None:
    _assert_same_files(COMMITTED_DATA, example_dir, ignore={"example.toml"})
    assert COMMITTED_CONFIG.read_text(encoding="utf-8") == ex.example_config_text(
        "../data/example", "../reports"
    )


def test_committed_copy_is_small() -> None:
    assert sum(p.stat().st_size for p in _files(COMMITTED_DATA).values()) <= 3 * 1024 * 1024


def test_readme_says_synthetic_and_approximate_rates(example_dir: Path) -> None:
    readme = (example_dir / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "fictional" in readme.lower()
    assert "approximate" in readme.lower()
    truth_md = (example_dir / "TRUTH.md").read_text(encoding="utf-8")
    for r in ex.REGIONS:
        assert r.name in truth_md


# --- 2. the config describes the files ----------------------------------------------------------


def test_config_validates_and_names_existing_files(example_dir: Path) -> None:
    text = (example_dir / "example.toml").read_text(encoding="utf-8")
    assert text == ex.example_config_text(".", "reports")
    cfg = parse_config(text, base_dir=example_dir)
    assert [r.key for r in cfg.regions] == [s.key for s in ex.REGIONS]
    assert cfg.estimation.outcomes == ["exporter", "log_exports", "exports_eur"]
    assert cfg.estimation.methods[0] == "callaway_santanna"
    assert (cfg.estimation.leads, cfg.estimation.lags, cfg.estimation.cluster) == (
        4,
        5,
        "consortium",
    )
    assert (cfg.lab.min_cell_firms, cfg.lab.first_year, cfg.lab.last_year) == (5, 2012, 2023)
    for region in cfg.regions:
        if region.currency != "EUR":
            assert sorted(region.fx) == list(range(2012, 2024))
        for name in TABLES:
            spec = getattr(region.files, name)
            assert spec is not None, (region.key, name)
            assert not spec.path.is_absolute()
            assert cfg.resolve(spec.path).is_file(), spec.path


def test_committed_config_validates() -> None:
    cfg = parse_config(
        COMMITTED_CONFIG.read_text(encoding="utf-8"), base_dir=COMMITTED_CONFIG.parent
    )
    for region in cfg.regions:
        for name in TABLES:
            assert cfg.resolve(getattr(region.files, name).path).is_file()






@pytest.mark.parametrize("key", [s.key for s in ex.REGIONS])
def test_ingesting_each_region_gives_back_the_generators_canonical_tables(
    key: str, example_dir: Path, lab: ex.ExampleLab
) -> None:
    """policylab's own ingestion, reading each region's layout as the config says (delimiter,
    decimal, encoding, sheet, header row, scale, FX), recovers the generator's EUR tables."""
    cfg = parse_config(
        (example_dir / "example.toml").read_text(encoding="utf-8"), base_dir=example_dir
    )
    one = cfg.model_copy(update={"regions": [r for r in cfg.regions if r.key == key]})
    region = one.regions[0]
    got_tables = ingest(one).regions[0].tables
    expected = lab.region(key).tables()
    for name, table in TABLES.items():
        spec = getattr(region.files, name)
        got, want = got_tables[name], expected[name]
        assert len(got) == len(want), (key, name)
        for canon in spec.columns:
            if table.column(canon).private:  # free text: read and checked, never stored
                assert canon not in got.columns, (key, name, canon)
                continue
            kind = table.column(canon).kind
            if kind == "money":
                # files are rounded to 0.01 of their unit (0.001 thousand): tolerance in EUR
                unit = spec.scale / 1000 if spec.scale > 1 else 0.01
                w = want[canon].astype(float).to_numpy()
                g = got[canon].astype(float).to_numpy()
                assert np.array_equal(np.isnan(g), np.isnan(w)), (key, name, canon)
                assert np.nanmax(np.abs(g - w), initial=0) <= unit, (key, name, canon)
            elif kind in ("year", "number"):
                g = got[canon].astype("Float64").astype(float).to_numpy()
                w = want[canon].astype("Float64").astype(float).to_numpy()
                assert np.array_equal(g, w, equal_nan=True), (key, name, canon)
            elif kind == "date":
                g = got[canon].dt.strftime("%Y-%m-%d").tolist()
                assert g == want[canon].astype(str).tolist(), (key, name, canon)
            else:  # text, ids, countries, NUTS codes and categories (recoded by 'values')
                g = got[canon].astype("string").fillna("<blank>").tolist()
                w = want[canon].astype("string").fillna("<blank>").tolist()
                assert g == w, (key, name, canon)


def test_region_quirks_are_real(example_dir: Path) -> None:
    # Ústí's ids keep leading zeros only if read as text.
    usti = (example_dir / "usti" / "firmy.csv").read_text(encoding="utf-8").splitlines()
    assert usti[1].split(";")[0].startswith("0")
    # Cantabria: ';' and a decimal comma.
    cant = (example_dir / "cantabria" / "empresas.csv").read_text(encoding="utf-8").splitlines()
    assert cant[0].startswith("id_empresa;ejercicio;") and "," in cant[1].split(";")[5]
    # Aquitaine is Latin-1, not UTF-8, with accented column names.
    raw = (example_dir / "aquitaine" / "entreprises.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "année" in raw.decode("latin-1").splitlines()[0]
    # Kent: a title line above the header on row 3, one sheet per table.
    book = _xlsx_content(example_dir / "kent" / "kent_export_clusters.xlsx")
    assert list(book) == ["Firms", "Members", "Clusters", "Finance", "Orders", "Links", "Practices"]
    assert "SYNTHETIC" in str(book["Firms"][0][0]) and book["Firms"][2][0] == "Company ref"
    panel = _xlsx_content(example_dir / "kent" / "kent_sme_panel.xlsx")
    assert list(panel) == ["Responses"] and "SYNTHETIC" in str(panel["Responses"][0][0])
    # the other half speaks each region's language: labels recoded by the config's 'values'
    pl_survey = (example_dir / "kujawsko_pomorskie" / "ankieta_msp.csv").read_text(encoding="utf-8")
    assert ",tak," in pl_survey and ",nie wiem," in pl_survey and ",yes," not in pl_survey
    fr_links = (example_dir / "aquitaine" / "liens_interregionaux.csv").read_bytes()
    fr_links = fr_links.decode("latin-1")
    assert "mission collective" in fr_links and "joint_mission" not in fr_links
    # Kujawsko-Pomorskie: money in thousands of PLN (3 decimals).
    pl = (example_dir / "kujawsko_pomorskie" / "firmy.csv").read_text(encoding="utf-8").splitlines()
    assert len(pl[1].split(",")[5].split(".")[1]) == 3


# --- 3. calibration ---------------------------------------------------------------------------


def test_about_a_third_of_firms_export_before_2015(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        assert 0.25 <= ex.baseline_exporter_share(r.firms) <= 0.40, r.spec.key


def test_firm_panel_shape(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        f = r.firms
        n = f["firm_id"].nunique()
        assert 250 <= n <= 400
        assert f["year"].between(2012, 2023).all()
        per_firm = f.groupby("firm_id").size()
        assert 0.05 <= (per_firm < 12).mean() <= 0.15  # unbalanced: ~10 % of firms
        blank = f["exports_eur"].isna().mean()
        assert 0.003 <= blank <= 0.02  # ~1 % unknown, kept distinct from 0
        assert (f["exports_eur"] == 0).mean() > 0.3
        assert (f["turnover_eur"] >= f["exports_eur"].fillna(0)).all()
        assert f["employees"].between(2, 249).all()
        assert f["sector"].str.fullmatch(r"[A-Z]\d\d").all()
        exports = f.loc[f["exports_eur"] > 0, "exports_eur"]
        assert exports.mean() > 1.5 * exports.median()  # heavy right tail


def test_clusters_and_membership(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        c, m = r.clusters, r.membership
        assert 5 <= len(c) <= 9
        assert c["founded_year"].between(2015, 2020).all() and c["founded_year"].nunique() >= 3
        founders = m.merge(c[["cluster_id", "founded_year"]], on="cluster_id")
        founders = (
            founders[founders["join_year"] == founders["founded_year"]].groupby("cluster_id").size()
        )
        assert founders.reindex(c["cluster_id"]).fillna(0).min() >= 5, r.spec.key
        assert m.groupby("cluster_id").size().between(5, 20).all()
        assert (
            m["join_year"] > m.merge(c, on="cluster_id", how="left")["founded_year"]
        ).any()  # late joiners
        assert (m.groupby("firm_id").size() > 1).any()  # some firms in two clusters
        assert (
            m["exit_year"].notna().any()
            and (m["exit_year"].dropna() > m.loc[m["exit_year"].notna(), "join_year"]).all()
        )
        share = m["firm_id"].nunique() / r.firms["firm_id"].nunique()
        assert 0.25 <= share <= 0.35, r.spec.key
        assert set(m["firm_id"]) <= set(r.firms["firm_id"])
        # members are observed in their join year
        seen = set(zip(r.firms["firm_id"], r.firms["year"], strict=True))
        assert all((f, y) in seen for f, y in zip(m["firm_id"], m["join_year"], strict=True))
        assert (c["seed_end_year"] == c["founded_year"] + 2).all()
        survival = ex.cluster_survival(c)
        assert 0.55 <= survival <= 0.75, (r.spec.key, survival)
        young = c[c["seed_end_year"] + 3 > 2023]
        assert young["closed_year"].isna().all()
        # a closed cluster ends its memberships
        closed = c.dropna(subset=["closed_year"])
        mm = m.merge(closed[["cluster_id", "closed_year"]], on="cluster_id")
        assert (mm["exit_year"].notna() & (mm["exit_year"] <= mm["closed_year"])).all()


def test_cluster_finance_tapers_from_seed_to_self_funding(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        f = r.cluster_finance.merge(
            r.clusters[["cluster_id", "founded_year", "seed_grant_eur"]], on="cluster_id"
        )
        age = f["year"] - f["founded_year"]
        public = f["public_funding_eur"] / f["running_costs_eur"]
        fees = f["member_fees_eur"] / f["running_costs_eur"]
        assert np.allclose(public[age == 0], 0.95, atol=1e-4)
        assert np.allclose(public[(age >= 1) & (age <= 2)], 0.85, atol=1e-4)
        assert (public[age >= 3] <= 0.15).all()
        assert fees[age >= 3].min() > fees[age <= 2].max()
        assert (
            f["member_fees_eur"] + f["public_funding_eur"] <= f["running_costs_eur"] + 0.02
        ).all()
        grants = f[age <= 2].groupby("cluster_id")["public_funding_eur"].sum()
        assert np.allclose(
            grants,
            r.clusters.set_index("cluster_id").loc[grants.index, "seed_grant_eur"],
            atol=0.05,
        )
        # one row per active year
        for c in r.clusters.itertuples():
            end = 2023 if pd.isna(c.closed_year) else c.closed_year - 1
            years = f.loc[f["cluster_id"] == c.cluster_id, "year"].tolist()
            assert years == list(range(c.founded_year, end + 1))


def test_orders(lab: ex.ExampleLab) -> None:
    eu = set(ex.EU)
    for r in lab.regions:
        o = r.orders
        assert o["order_id"].is_unique
        assert o["order_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
        assert pd.to_datetime(o["order_date"], format="%Y-%m-%d").dt.year.between(2012, 2023).all()
        assert o["destination_country"].str.fullmatch(r"[A-Z]{2}").all()
        assert (
            o["destination_country"].isin(eu).any() and (~o["destination_country"].isin(eu)).any()
        )
        via = o[o["cluster_id"].notna()]
        assert 0 < len(via) < len(o)
        pairs = set(zip(r.membership["firm_id"], r.membership["cluster_id"], strict=True))
        assert all(p in pairs for p in zip(via["firm_id"], via["cluster_id"], strict=True))
        assert o["value_eur"].between(20_000, 500_000).all()


# --- the planted truth ------------------------------------------------------------------------


def test_truth_is_the_mean_of_y1_minus_y0_over_observed_cohort_firms(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        p = r.potential
        obs = r.firms.merge(p, on=["firm_id", "year"])
        treated = obs[obs["treated"]]
        # observed = Y1 for treated firm-years, Y0 otherwise (blank where unknown)
        known = treated[treated["exports_eur"].notna()]
        assert np.array_equal(known["exports_eur"].to_numpy(), known["exports_eur_y1"].to_numpy())
        untreated = obs[~obs["treated"] & obs["exports_eur"].notna()]
        assert np.array_equal(
            untreated["exports_eur"].to_numpy(), untreated["exports_eur_y0"].to_numpy()
        )
        # cohort = first join year; treatment persists after exit
        cohort = r.membership.groupby("firm_id")["join_year"].min()
        assert (obs["cohort"] == obs["firm_id"].map(cohort).fillna(0).astype(int)).all()
        assert (obs["treated"] == ((obs["cohort"] > 0) & (obs["year"] >= obs["cohort"]))).all()
        # monotone switch-on: once a member exports because of the programme, it stays on
        y = treated.sort_values(["firm_id", "year"])
        on = (y["exports_eur_y1"] > 0) & (y["exports_eur_y0"] == 0)
        started = on.astype(int).groupby(y["firm_id"]).cummax().astype(bool)
        assert (~started | on | (y["exports_eur_y0"] > 0)).all()
        # exporter never goes down with treatment; exports never go down
        assert (y["exports_eur_y1"] >= y["exports_eur_y0"]).all()
        # recompute one outcome of the truth from the observed firms table
        t = r.truth[r.truth["outcome"] == "exporter"]
        k = known.assign(
            d=(known["exports_eur"] > 0).astype(float) - (known["exports_eur_y0"] > 0).astype(float)
        )
        g = k.groupby(["cohort", "year"])["d"].agg(["mean", "size"]).reset_index()
        assert np.allclose(t["att"].to_numpy(), g["mean"].to_numpy())
        assert np.array_equal(t["n_firms"].to_numpy(), g["size"].to_numpy())
        assert (t["year"] >= t["cohort"]).all() and (
            t["event_time"] == t["year"] - t["cohort"]
        ).all()


def test_truth_covers_every_cohort_and_year(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        cohorts = sorted(r.membership.groupby("firm_id")["join_year"].min().unique())
        for outcome in ("exporter", "log_exports"):
            t = r.truth[r.truth["outcome"] == outcome]
            assert sorted(t["cohort"].unique()) == cohorts
            for g in cohorts:
                assert t.loc[t["cohort"] == g, "year"].tolist() == list(range(g, 2024))


def test_molise_has_exactly_no_effect(lab: ex.ExampleLab) -> None:
    t = lab.truth[lab.truth["region"] == "molise"]
    assert len(t) > 0 and (t["att"] == 0.0).all()


def test_realized_export_propensity_effect_is_5_to_10_points_at_full_ramp(
    lab: ex.ExampleLab,
) -> None:
    for key in NONZERO:
        t = lab.truth[(lab.truth["region"] == key) & (lab.truth["outcome"] == "exporter")]
        late = t[t["event_time"] >= 3]
        pooled = (late["att"] * late["n_firms"]).sum() / late["n_firms"].sum()
        assert 0.04 <= pooled <= 0.12, (key, pooled)
        by_e = ex.effect_by_event_time(t, "exporter")
        assert ((by_e.loc[3:5] >= 0.04) & (by_e.loc[3:5] <= 0.12)).all(), (key, by_e.tolist())
        assert by_e.loc[0] < by_e.loc[3]  # the effect ramps in
        log_e = ex.effect_by_event_time(lab.truth[lab.truth["region"] == key], "log_exports")
        assert (log_e.loc[0:5] > 0).all()


def test_export_value_effect_of_exporting_members(lab: ex.ExampleLab) -> None:
    for r in lab.regions:
        p = r.potential[r.potential["treated"] & (r.potential["exports_eur_y0"] > 0)]
        full = p[p["year"] - p["cohort"] >= r.spec.effects.ramp_years]
        ratio = (full["exports_eur_y1"] / full["exports_eur_y0"]).to_numpy()
        assert np.allclose(ratio, 1 + r.spec.effects.value_pct, atol=1e-4), r.spec.key
    assert {
        r.spec.key: r.spec.effects.value_pct for r in lab.regions if r.spec.effects.value_pct
    } == {
        "cantabria": 0.15,
        "kujawsko_pomorskie": 0.20,
        "kent": 0.10,
        "aquitaine": 0.12,
        "usti": 0.18,
    }


def test_kent_members_grow_faster_before_joining(lab: ex.ExampleLab) -> None:
    gaps = {r.spec.key: ex.pre_join_growth_gap(r.firms, r.membership) for r in lab.regions}
    assert gaps["kent"] > 0.04
    assert all(abs(v) < 0.03 for k, v in gaps.items() if k != "kent"), gaps
    assert not math.isnan(gaps["kent"])
