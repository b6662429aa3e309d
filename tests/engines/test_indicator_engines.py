"""The out-of-core firm-panel indicators (issue 14): DuckDB and Spark SQL over the Parquet store
give the cells of the pandas indicator functions (I12-I15P, I16, I21) per region and lab-wide,
and the firm counts of the pipeline's data-quality table and disclosure check.

Data: the shipped example (six regions; orders, so I16 with its consortium cells), ingested
once for the module, plus generated regions written into the same store: a staggered panel
with unknown exports, gaps in firms' years, firms without a headcount, zero and unknown
turnover, a firm-year without a firm id, memberships without a consortium or with an exit,
and orders; a region without a turnover (and headcount) column starting two years later; a
two-year region (no look-back window for I15) and a one-year one (no year for I21) whose
turnover is all unknown. Firm-years listed twice are not generated: canonical validation
rejects them, so the store never holds one. Spark (``-m spark``) shares the local[1] session
of test_cs_engines.py and runs the whole grid in one call.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cs_engines import EXAMPLE_REGIONS, staggered_tables

from policylab.engines import firm_indicator_cells, firm_summary, outcome_counts
from policylab.engines.indicators import (
    INDICATOR_IDS,
    max_cell_difference,
    new_markets_frame,
)
from policylab.errors import UsageError, UserError
from policylab.indicators import LAB_REGION, raw_indicators
from policylab.indicators.firms import LOOKBACK_NOTE
from policylab.indicators.inputs import Options
from policylab.indicators.registry import CELL_COLUMNS
from policylab.store import CanonicalStore

RTOL = 1e-9
GENERATED_REGIONS = ["gen_missing", "gen_no_turnover", "gen_short", "gen_one_year"]
ALL_REGIONS = [*EXAMPLE_REGIONS, *GENERATED_REGIONS]
OUTCOMES = ["exporter", "log_exports", "exports_eur", "n_export_markets"]

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.PolicylabWarning")


# --------------------------------------------------------------------------- data


def _headcounts(firms: pd.DataFrame, rng: np.random.Generator, *, none_share: float = 0.1,
                unknown: float = 0.05) -> pd.Series:
    """Whole headcounts drifting by firm and year; some firms never report one, some years
    are unknown."""
    ids = pd.Index(firms["firm_id"].unique())
    base = pd.Series(rng.integers(2, 300, len(ids)), index=ids)
    emp = (base[firms["firm_id"]].to_numpy() + (firms["year"].to_numpy() - 2010)
           * rng.integers(-3, 4, len(firms))).clip(1).astype("float64")
    emp[rng.random(len(firms)) < unknown] = np.nan
    emp[firms["firm_id"].isin(ids[rng.random(len(ids)) < none_share]).to_numpy()] = np.nan
    return pd.Series(emp, index=firms.index)


def _orders(firms: pd.DataFrame, rng: np.random.Generator, n: int) -> pd.DataFrame:
    ids = firms["firm_id"].unique()
    firm = pd.array(rng.choice(ids, n), dtype="string")
    firm[rng.random(n) < 0.1] = pd.NA  # orders not attributed to a firm
    days = rng.integers(0, 365 * 12, n)  # 2009-2020: some outside the region's years
    return pd.DataFrame({
        "order_id": pd.array([f"O{i:05d}" for i in range(n)], dtype="string"),
        "cluster_id": pd.array([pd.NA] * n, dtype="string"),
        "firm_id": firm,
        "order_date": pd.Timestamp("2009-01-01") + pd.to_timedelta(days, unit="D"),
        "value_eur": rng.uniform(1e3, 1e5, n),
        "destination_country": pd.array(rng.choice(["DE", "FR", "US", "CN", "IT", "MA"], n),
                                        dtype="string"),
    })


def _gen_missing() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(31)
    firms, membership = staggered_tables(400, seed=31)
    firms = firms[rng.random(len(firms)) >= 0.04]  # gaps in firms' years
    firms = firms.assign(employees=_headcounts(firms, rng))
    turnover = firms["turnover_eur"].to_numpy().copy()
    turnover[rng.random(len(firms)) < 0.03] = 0.0
    turnover[rng.random(len(firms)) < 0.03] = np.nan
    firms = firms.assign(turnover_eur=turnover)
    nameless = pd.DataFrame({"firm_id": pd.array([pd.NA], dtype="string"), "year": [2008],
                             "turnover_eur": [1e5], "exports_eur": [0.0],
                             "n_export_markets": [0.0], "employees": [5.0]})
    firms = pd.concat([firms.astype({"firm_id": "string"}), nameless], ignore_index=True)
    exits = membership["join_year"].to_numpy() + rng.integers(1, 6, len(membership))
    left = rng.random(len(membership)) < 0.3
    membership = membership.assign(exit_year=pd.array(
        [int(x) if out else pd.NA for x, out in zip(exits, left, strict=True)], dtype="Int64"))
    never = sorted(set(firms["firm_id"].dropna()) - set(membership["firm_id"]))[:5]
    orphan = pd.DataFrame({"firm_id": never, "cluster_id": pd.array([pd.NA] * 5, dtype="string"),
                           "join_year": [2014] * 5,
                           "exit_year": pd.array([pd.NA] * 5, dtype="Int64")})
    membership = pd.concat([membership, orphan], ignore_index=True)
    return {"firms": firms, "membership": membership, "orders": _orders(firms, rng, 900)}


def _gen_no_turnover() -> dict[str, pd.DataFrame]:
    firms, membership = staggered_tables(250, seed=32)
    firms = firms.drop(columns=["turnover_eur"]).assign(year=firms["year"] + 2)
    return {"firms": firms, "membership": membership}


def _gen_short(years: tuple[int, ...], seed: int, **changes) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    firms, membership = staggered_tables(120, seed=seed)
    firms = firms[firms["year"].isin(years)]
    firms = firms.assign(employees=_headcounts(firms, rng, none_share=0.0), **changes)
    return {"firms": firms, "membership": membership}


GENERATED = {
    "gen_missing": _gen_missing,
    "gen_no_turnover": _gen_no_turnover,
    "gen_short": lambda: _gen_short((2018, 2019), 33),
    "gen_one_year": lambda: _gen_short((2019,), 34, turnover_eur=np.nan),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, example_store):
    """The example lab's store (a copy, with its ``LabData``), the generated regions written
    into it, and each region's ``new_markets`` rows (from the stored orders)."""
    root = tmp_path_factory.mktemp("indicator-engines") / "store"
    shutil.copytree(example_store[0], root)
    data = example_store[1]
    CanonicalStore(root).write([(key, make(), {}) for key, make in GENERATED.items()])
    windows = {r: (a, b) for r, a, b in firm_summary(root, ALL_REGIONS, engine="pandas")
               [["region", "first_year", "last_year"]].itertuples(index=False)}
    orders = {r: pd.read_parquet(root / "orders" / f"region={r}")
              for r in ALL_REGIONS if (root / "orders" / f"region={r}").is_dir()}
    return root, data, new_markets_frame(orders, windows)


_REFERENCE: dict[tuple, dict] = {}


def reference(store: Path, regions: list[str], new_markets, **opts) -> dict:
    """The pandas engine (the indicator functions on the store's tables), cached."""
    key = (str(store), tuple(regions), new_markets is None, tuple(sorted(
        (k, repr(v)) for k, v in opts.items())))
    if key not in _REFERENCE:
        _REFERENCE[key] = firm_indicator_cells(store, regions, engine="pandas",
                                               new_markets=new_markets, **opts)
    return _REFERENCE[key]


_COUNTS: dict[str, pd.DataFrame] = {}


def pandas_counts(store: Path) -> pd.DataFrame:
    """``outcome_counts`` of every region and outcome on the pandas engine, cached."""
    if str(store) not in _COUNTS:
        _COUNTS[str(store)] = outcome_counts(store, ALL_REGIONS, OUTCOMES, engine="pandas")
    return _COUNTS[str(store)]


def assert_same_cells(got: dict, want: dict, what: str) -> None:
    """Every scope and indicator of ``want``, with the same rows, texts and counts, values
    and shares to RTOL (relative)."""
    assert list(got) == list(want), what
    for key, frame in want.items():
        cells = got[key]
        assert list(cells.columns) == CELL_COLUMNS, (what, key)
        assert cells.dtypes.equals(frame.dtypes), (what, key)
        diff = max_cell_difference(cells, frame)
        assert diff <= RTOL, f"{what} {key}: differs by {diff:.3g}"
        assert cells.attrs.get("regions") == frame.attrs.get("regions"), (what, key)


# --------------------------------------------------------------------------- pandas reference


def test_pandas_engine_is_the_pipelines_indicators(lab) -> None:
    store, data, markets = lab
    ids = list(INDICATOR_IDS)
    raw = raw_indicators([(r.info, r.tables) for r in data.regions], ids=ids)
    got = reference(store, EXAMPLE_REGIONS, markets)
    names = {r.info.key: r.info.name for r in data.regions}
    assert len(got) == (6 + 1) * len(ids)
    for (scope, ind), cells in got.items():
        rows = raw[(raw["region"] == (LAB_REGION if scope == "lab" else names[scope]))
                   & (raw["indicator_id"] == ind)]
        assert max_cell_difference(cells, rows[CELL_COLUMNS].reset_index(drop=True)) == 0.0, (
            scope, ind)
    # consortium cells of I16 in the region scope only
    assert (got[("kent", "I16")]["cluster_id"] != "").any()
    assert (got[("lab", "I16")]["cluster_id"] == "").all()


# --------------------------------------------------------------------------- DuckDB


def test_duckdb_equals_pandas_on_the_example_and_generated_panels(lab) -> None:
    store, _, markets = lab
    want = reference(store, ALL_REGIONS, markets)
    got = firm_indicator_cells(store, ALL_REGIONS, engine="duckdb", new_markets=markets)
    assert_same_cells(got, want, "duckdb")
    # what the generated regions exercise
    assert ("gen_no_turnover", "I13") not in got and ("gen_no_turnover", "I21") not in got
    assert ("gen_no_turnover", "I16") not in got and ("gen_missing", "I16") in got
    with_turnover = [r for r in ALL_REGIONS if r != "gen_no_turnover"]
    assert got[("lab", "I21")].attrs["regions"] == with_turnover
    assert got[("lab", "I13")].attrs["regions"] == got[("lab", "I21")].attrs["regions"]
    assert got[("lab", "I12")].attrs["regions"] == ALL_REGIONS
    assert got[("gen_short", "I15")]["note"].tolist() == [LOOKBACK_NOTE]
    assert got[("gen_one_year", "I21")]["note"].tolist() == ["needs two consecutive years of data"]
    assert got[("gen_one_year", "I13")]["value"].isna().all()  # turnover all unknown
    i15 = got[("gen_missing", "I15")]
    assert i15["period"].iloc[0] == "2010" and (i15["n_missing"] > 0).any()  # window from 2008
    assert got[("gen_missing", "I21")]["n_contrib"].notna().all()


@pytest.mark.parametrize("lookback", [1, 3])
def test_duckdb_look_back_windows_and_scopes(lab, lookback: int) -> None:
    store, _, _ = lab
    opts = {"options": Options(new_exporter_lookback=lookback), "lab_wide": True}
    want = reference(store, GENERATED_REGIONS, None, **opts)
    got = firm_indicator_cells(store, GENERATED_REGIONS, engine="duckdb", **opts)
    assert_same_cells(got, want, "duckdb")
    assert ("gen_missing", "I16") not in got  # no new_markets: no I16
    assert (got[("gen_short", "I15")]["note"].iloc[0] == LOOKBACK_NOTE) == (lookback > 1)
    if lookback == 1:
        return
    one = firm_indicator_cells(store, ["kent"], engine="duckdb")  # one region: no lab scope
    assert {scope for scope, _ in one} == {"kent"}
    assert_same_cells(one, reference(store, ["kent"], None), "duckdb")
    two = firm_indicator_cells(store, ["kent", "usti"], engine="duckdb", lab_wide=False)
    assert {scope for scope, _ in two} == {"kent", "usti"}
    # no region of the call has a turnover or headcount column: no I13, I21 at all
    alone = firm_indicator_cells(store, ["gen_no_turnover"], engine="duckdb", lab_wide=True)
    assert {ind for _, ind in alone} == {"I12", "I14", "I15", "I15P"}
    assert_same_cells(alone, reference(store, ["gen_no_turnover"], None, lab_wide=True),
                      "duckdb")


def test_firm_summary_and_outcome_counts_duckdb(lab) -> None:
    from policylab.did.panel import firm_panel
    from policylab.pipeline import data_quality

    store, data, _ = lab
    summary = firm_summary(store, ALL_REGIONS, engine="duckdb")
    assert summary.equals(firm_summary(store, ALL_REGIONS, engine="pandas"))
    for region in data.regions:  # the report's data-quality numbers
        row = summary.set_index("region").loc[region.info.key]
        dq = data_quality(region)
        assert (row["firm_years"], row["firms"], row["first_year"], row["last_year"],
                row["members"], row["never_members"], row["missing_exports"]) == (
            dq["firm_years_kept"], dq["firms"], dq["first_year"], dq["last_year"],
            dq["members"], dq["never_members"], dq["missing_exports"])
    gen = summary.set_index("region").loc["gen_missing"]
    assert gen["first_year"] == 2008 and gen["firm_years"] > gen["firms"]

    counts = outcome_counts(store, ALL_REGIONS, OUTCOMES, engine="duckdb")
    assert counts.equals(pandas_counts(store))
    for region in ("kent", "usti", "gen_missing"):  # as pipeline._too_few_firms counts them
        panel = firm_panel(pd.read_parquet(store / "firms" / f"region={region}"),
                           pd.read_parquet(store / "membership" / f"region={region}"))
        for outcome in OUTCOMES:
            row = counts[(counts["region"] == region) & (counts["outcome"] == outcome)].iloc[0]
            if outcome not in panel:
                assert (row["members"], row["never_members"]) == (0, 0)
                continue
            seen = panel.loc[panel[outcome].notna()]
            assert row["members"] == seen.loc[seen["cohort"] > 0, "firm_id"].nunique()
            assert row["never_members"] == seen.loc[seen["cohort"] == 0, "firm_id"].nunique()
    usti = counts[counts["region"] == "usti"].set_index("outcome")
    assert usti.loc["n_export_markets", "members"] == 0 and usti.loc["exporter", "members"] > 0
    # no region of the call has the column
    lacking = outcome_counts(store, ["usti", "molise"], ["n_export_markets"], engine="duckdb")
    assert lacking[["members", "never_members"]].to_numpy().tolist() == [[0, 0], [0, 0]]


def test_bad_arguments_are_refused(lab) -> None:
    store, _, markets = lab
    with pytest.raises(UsageError, match="engine must be one of"):
        firm_indicator_cells(store, ["kent"], engine="polars")
    with pytest.raises(UsageError, match="region must be a region key"):
        firm_summary(store, ["Kent'; DROP TABLE firms; --"])
    with pytest.raises(UsageError, match="new_markets must be a DataFrame with columns"):
        firm_indicator_cells(store, ["kent"], new_markets=markets.drop(columns="start"))
    with pytest.raises(UsageError, match="unknown outcome"):
        outcome_counts(store, ["kent"], ["turnover_eur"])
    with pytest.raises(UserError, match="no 'firms' table for region 'atlantis'"):
        firm_indicator_cells(store, ["kent", "atlantis"])


# --------------------------------------------------------------------------- Spark


@pytest.mark.spark
def test_spark_equals_pandas(lab, spark) -> None:
    store, _, markets = lab
    got = firm_indicator_cells(store, ALL_REGIONS, engine="spark", new_markets=markets)
    assert_same_cells(got, reference(store, ALL_REGIONS, markets), "spark")
    counts = outcome_counts(store, ALL_REGIONS, OUTCOMES, engine="spark")
    assert counts.equals(pandas_counts(store))
    assert not [v for v in spark.catalog.listTables() if v.name.startswith("pl_")]
