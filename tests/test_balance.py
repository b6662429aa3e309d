"""Balance before joining: members in their pre-joining year against never-members in the
same calendar years, with the indicators' disclosure rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.balance import BALANCE_COLUMNS, balance_table


def _lab(n_members_2016=6, n_members_2018=3, n_never=8, seed=1):
    """Members joining 2016 and 2018, never-members, years 2014-2019, known values."""
    rng = np.random.default_rng(seed)
    rows, members = [], []
    ids = [f"m{i:02d}" for i in range(n_members_2016 + n_members_2018)] + [f"n{i:02d}" for i in range(n_never)]
    for i, fid in enumerate(ids):
        for year in range(2014, 2020):
            exports = float(rng.integers(0, 2) * rng.integers(1, 100))
            rows.append({"firm_id": fid, "year": year, "exports_eur": exports,
                         "turnover_eur": 100.0 + exports + i, "employees": float(5 + i % 4)})
        if fid.startswith("m"):
            members.append({"firm_id": fid, "cluster_id": "C1" if i < n_members_2016 else "C2",
                            "join_year": 2016 if i < n_members_2016 else 2018, "exit_year": pd.NA})
    return pd.DataFrame(rows), pd.DataFrame(members)


def _cell(table, variable, group):
    return table.set_index(["variable", "group"]).loc[(variable, group)]


def test_members_are_compared_in_their_year_before_joining():
    firms, members = _lab()
    out = balance_table(firms, members, region="r", min_cell_firms=3, dominance_share=1.0)
    assert list(out.columns) == BALANCE_COLUMNS
    join = members.set_index("firm_id")["join_year"]
    pre = firms[firms["firm_id"].isin(join.index)]
    pre = pre[pre["year"] == pre["firm_id"].map(join) - 1]
    got = _cell(out, "turnover_eur", "members")
    assert got["n_firms"] == 9
    assert got["mean"] == pytest.approx(pre["turnover_eur"].mean(), rel=1e-12)
    assert got["sd"] == pytest.approx(pre["turnover_eur"].std(ddof=0), rel=1e-12)


def test_never_members_are_weighted_as_the_members_pre_joining_years():
    firms, members = _lab()
    out = balance_table(firms, members, region="r", min_cell_firms=3, dominance_share=1.0)
    never = firms[firms["firm_id"].str.startswith("n")]
    # 6 members' pre-year is 2015, 3 members' is 2017: the mixture is a pooled sample with
    # each 2015 row weighted 6/9 and each 2017 row 3/9 (both years hold 8 never-members)
    x = pd.concat([never.loc[never["year"] == 2015, "exports_eur"]] * 2
                  + [never.loc[never["year"] == 2017, "exports_eur"]])
    got = _cell(out, "exports_eur", "never_members")
    assert got["n_firms"] == 8
    assert got["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert got["sd"] == pytest.approx(x.std(ddof=0), rel=1e-12)
    share = _cell(out, "exporter", "never_members")
    assert share["mean"] == pytest.approx((x > 0).mean(), rel=1e-12)


def test_cells_on_too_few_firms_are_suppressed_and_keep_their_row():
    firms, members = _lab(n_members_2016=2, n_members_2018=2)
    out = balance_table(firms, members, region="r", min_cell_firms=5, dominance_share=1.0)
    members_rows = out[out["group"] == "members"]
    assert len(members_rows) == 4 and (members_rows["flag"] == "suppressed").all()
    assert members_rows[["n_firms", "mean", "sd"]].isna().all().all()
    assert (out.loc[out["group"] == "never_members", "flag"] == "").all()


def test_a_mean_dominated_by_one_firm_is_suppressed():
    firms, members = _lab()
    big = (firms["firm_id"] == "m00") & (firms["year"] == 2015)
    firms.loc[big, "exports_eur"] = 1e9
    out = balance_table(firms, members, region="r", min_cell_firms=3, dominance_share=0.85)
    assert _cell(out, "exports_eur", "members")["flag"] == "suppressed"
    # a share is not a magnitude: the exporter share of the same firms stays published
    assert _cell(out, "exporter", "members")["flag"] == ""


def test_result_does_not_depend_on_row_order_and_leaves_inputs_alone():
    firms, members = _lab()
    before = firms.copy()
    a = balance_table(firms, members, region="r", min_cell_firms=3, dominance_share=0.85)
    b = balance_table(firms.sample(frac=1, random_state=3), members.iloc[::-1], region="r",
                      min_cell_firms=3, dominance_share=0.85)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(firms, before)


def test_variables_missing_from_the_data_are_left_out():
    firms, members = _lab()
    out = balance_table(firms.drop(columns="employees"), members, region="r",
                        min_cell_firms=3, dominance_share=1.0)
    assert set(out["variable"]) == {"exports_eur", "turnover_eur", "exporter"}
