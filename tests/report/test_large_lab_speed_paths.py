"""The fast paths a lab with many consortia and member firms takes give what the plain ones
gave: per-cluster cells grouped in one pass, and the RCR01/RCR19 before-after firms found
without ``isin`` on string ids."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import make_result

from policylab.indicators import common
from policylab.indicators.inputs import make_inputs
from policylab.report import build_report
from policylab.report._blocks import Cells


def _only_each(cells: Cells) -> dict[str, Cells]:
    return {cid: cells.only(cluster=cid) for cid in cells.clusters()}


def test_cells_by_cluster_is_only_for_each_cluster():
    rows = [("K2", "2020", "all", 1.0, ""), ("K1", "2020", "all", 2.0, ""),
            ("K2", "2021", "all", math.nan, "suppressed"), ("K2", "2020", "all", 9.0, ""),
            ("K1", "cumulative", "members", 3.0, ""), ("K3", "2020", "all", 4.0, "")]
    cells = Cells(rows)
    fast, slow = cells.by_cluster(), _only_each(cells)
    assert list(fast) == list(slow) == ["K2", "K1", "K3"]
    for cid, want in slow.items():
        assert fast[cid].rows == want.rows
        for _, period, group, _, _ in rows:
            assert repr(fast[cid].get(period, group)) == repr(want.get(period, group))
    assert fast["K2"].get("2020") == (1.0, "")  # the first row of a cell wins, as before
    assert Cells(()).by_cluster() == {}


def test_region_pages_are_the_same_as_filtering_each_cluster(monkeypatch):
    result = make_result()
    fast = build_report(result)
    monkeypatch.setattr(Cells, "by_cluster", _only_each)
    assert repr(build_report(result)) == repr(fast)


# --------------------------------------------------------------------------- RCR01, RCR19


def _before_after_by_isin(sc, column: str, what: str):
    """:func:`policylab.indicators.common._before_after` as it was written first."""
    first = common._first_year(common._support(sc))
    p = sc.inp.panel
    p = p.loc[p[column].notna(), ["firm_id", "year", column]].drop_duplicates(["firm_id", "year"])
    p = p.astype({"firm_id": str})
    f = pd.Series(first.to_numpy(), index=first.index.astype(str))
    p = p[p["firm_id"].isin(f.index)]
    p = p.assign(first=p["firm_id"].map(f).to_numpy())
    base = p.loc[p["year"] == p["first"] - 1].set_index("firm_id")[column]
    after = p[p["year"] >= p["first"]].sort_values(["firm_id", "year"])
    out, notes = {}, {}
    for y in sc.periods:
        supported = f.index[f.to_numpy() <= y]
        last = (after[after["year"] <= y].drop_duplicates("firm_id", keep="last")
                .set_index("firm_id")[column])
        both = supported[supported.isin(base.index) & supported.isin(last.index)]
        out[y] = pd.DataFrame({"firm_id": both.to_numpy(dtype=object),
                               "base": base.reindex(both).to_numpy(dtype="float64"),
                               "now": last.reindex(both).to_numpy(dtype="float64")})
        lost = len(supported) - len(both)
        if lost:
            notes[y] = (f"{lost} supported firm(s) without {what} in the year before support or "
                        "since: not counted")
    return out, notes


def _random_world(seed: int) -> dict[str, pd.DataFrame]:
    """Firms with gaps in their headcount and turnover, joining (and leaving) consortia in
    every year, some before the data begin."""
    rng = np.random.default_rng(seed)
    years = np.arange(2014, 2024)
    n = 300
    ids = np.array([f"F{i:04d}" for i in rng.permutation(n)])
    firm, year = np.repeat(ids, len(years)), np.tile(years, n)
    keep = rng.random(len(firm)) > 0.15
    emp = np.where(rng.random(len(firm)) < 0.2, np.nan, rng.integers(1, 250, len(firm)))
    turn = np.where(rng.random(len(firm)) < 0.2, np.nan, rng.uniform(1e5, 5e7, len(firm)))
    firms = pd.DataFrame({"firm_id": firm, "year": year, "exports_eur": 0.0,
                          "turnover_eur": turn, "employees": emp})[keep]
    firms = firms.astype({"firm_id": "string", "year": "Int64"})
    members = rng.choice(ids, 180, replace=False)
    join = rng.integers(2012, 2024, len(members))
    exit_ = np.where(rng.random(len(members)) < 0.3, join + rng.integers(0, 4, len(members)), -1)
    clusters = [f"K{i}" for i in range(12)]
    membership = pd.DataFrame({
        "firm_id": pd.array(members, dtype="string"),
        "cluster_id": pd.array(rng.choice(clusters, len(members)), dtype="string"),
        "join_year": pd.array(join, dtype="Int64"),
        "exit_year": pd.array([None if e < 0 else int(e) for e in exit_], dtype="Int64"),
    })
    cl = pd.DataFrame({"cluster_id": pd.array(clusters, dtype="string"),
                       "founded_year": pd.array([2012] * len(clusters), dtype="Int64")})
    return {"firms": firms, "membership": membership, "clusters": cl}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("start", [None, 2017])
@pytest.mark.parametrize("column", ["employees", "turnover_eur"])
def test_before_after_is_what_isin_gave(seed, start, column):
    sc = common._scope(make_inputs(_random_world(seed), nuts2={"": "ES13"}), start)
    out, notes = common._before_after(sc, column, "a value")
    want_out, want_notes = _before_after_by_isin(sc, column, "a value")
    assert notes == want_notes and notes
    assert list(out) == list(want_out) == list(sc.periods)
    for y, frame in out.items():
        pd.testing.assert_frame_equal(frame, want_out[y], check_exact=True)
    assert any(len(frame) for frame in out.values())
