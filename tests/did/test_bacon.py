"""Goodman-Bacon (2021) decomposition: the weights sum to one, recombine to the TWFE
coefficient of :func:`policylab.did.twfe`, and every 2x2 is the 2x2 it claims to be."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest

from policylab.did import bacon, did_2x2, twfe
from policylab.errors import DesignError

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")

KW = {"outcome": "exports", "unit": "firm", "time": "year", "treatment": "member"}


def dynamic_panel(make_panel, **kw) -> pd.DataFrame:
    """Effects that grow with time since joining, so the 2x2s differ."""
    df = make_panel(**kw)
    since = (df["year"] - df["cohort"]).where(df["member"] == 1, -1) + 1
    return df.assign(exports=df["exports"] + 0.3 * since)


@pytest.mark.parametrize(
    "kw",
    [
        {"seed": 1},  # never-treated and three cohorts
        {"seed": 2, "share_never": 0.0},  # timing groups only
        {"seed": 3, "cohorts": (2010, 2013, 2016)},  # 2010 = always treated
        {"seed": 4, "cohorts": (2011, 2012, 2014, 2017, 2019)},
    ],
    ids=["with-never", "no-never", "with-always", "five-cohorts"],
)
def test_weights_sum_to_one_and_recombine_to_twfe(make_panel, kw):
    df = dynamic_panel(make_panel, n_firms=70, **kw)
    res = bacon(df, **KW)
    ref = twfe(df, **KW)
    weights = res.tidy()["weight"].to_numpy()
    assert np.all(weights > 0)
    assert weights.sum() == pytest.approx(1.0, abs=1e-10)
    assert res.estimate == pytest.approx(ref.headline.estimate, abs=1e-10)
    assert res.twfe.headline == ref.headline  # SE, CI, p-value of the decomposed TWFE
    s = res.summary()
    assert s["weight"].sum() == pytest.approx(1.0, abs=1e-10)
    assert (s["weight"] * s["estimate"]).sum() == pytest.approx(ref.headline.estimate, abs=1e-10)


def test_types_present(make_panel):
    df = dynamic_panel(make_panel, n_firms=70, seed=3, cohorts=(2010, 2013, 2016))
    types = set(bacon(df, **KW).tidy()["type"])
    assert types == {
        "Treated vs Untreated",
        "Earlier vs Later Treated",
        "Later vs Earlier Treated",
        "Later vs Always Treated",
    }


def test_each_comparison_is_its_2x2(make_panel):
    """Every estimate equals did_2x2 on the two groups and the window the type implies."""
    df = dynamic_panel(make_panel, n_firms=70, seed=5)
    res = bacon(df, **KW)
    first = df.loc[df["member"] == 1].groupby("firm")["year"].min()
    group = df["firm"].map(first).fillna(0).astype(int)
    for c in res.comparisons:
        ctrl = 0 if c.control is None else c.control
        sub = df[group.isin([c.treated, ctrl])]
        g = group[sub.index]
        if c.type == "Earlier vs Later Treated":
            sub = sub[sub["year"] < c.control]
        elif c.type == "Later vs Earlier Treated":
            sub = sub[sub["year"] >= c.control]
        sub = sub.assign(
            treated=(g[sub.index] == c.treated).astype(int),
            post=(sub["year"] >= c.treated).astype(int),
        )
        ref = did_2x2(sub, outcome="exports", treated="treated", post="post", unit="firm")
        assert c.estimate == pytest.approx(ref.headline.estimate, abs=1e-10), c


def test_published_toy_example():
    """Three units, ten periods: unit 2 treated from t=5 with effect 2, unit 3 from t=8 with
    effect 4 (the worked example of Naqvi's 'DiD' guide, Bacon decomposition page, run with
    Stata's ddtiming): TWFE 2.909; Earlier T vs Later C 0.182 / 2.000; Later T vs Earlier C
    0.136 / 4.000; T vs Never treated 0.682 / 2.933 (three decimals published)."""
    df = pd.DataFrame({"id": np.repeat([1, 2, 3], 10), "t": np.tile(np.arange(1, 11), 3)})
    df["D"] = (((df["id"] == 2) & (df["t"] >= 5)) | ((df["id"] == 3) & (df["t"] >= 8))).astype(int)
    df["Y"] = df["D"] * df["id"].map({1: 0, 2: 2, 3: 4})
    res = bacon(df, outcome="Y", unit="id", time="t", treatment="D")
    s = res.summary().set_index("type")
    assert res.estimate == pytest.approx(2.909, abs=5e-4)
    assert s.loc["Earlier vs Later Treated"].tolist() == pytest.approx([0.182, 2.000], abs=5e-4)
    assert s.loc["Later vs Earlier Treated"].tolist() == pytest.approx([0.136, 4.000], abs=5e-4)
    assert s.loc["Treated vs Untreated"].tolist() == pytest.approx([0.682, 2.933], abs=5e-4)


def test_rejects_unbalanced_missing_and_reversible(make_panel, make_unbalanced):
    df = make_panel(n_firms=40, seed=6)
    with pytest.raises(DesignError, match="unbalanced panel: .* missing"):
        bacon(make_unbalanced(df, 0.9, seed=1), **KW)
    with pytest.raises(DesignError, match="balanced panel"):
        bacon(df.assign(exports=df["exports"].where(df.index != 3)), **KW)
    flips = df.copy()
    treated_firm = flips.loc[flips["member"] == 1, "firm"].iloc[0]
    flips.loc[(flips["firm"] == treated_firm) & (flips["year"] == 2019), "member"] = 0
    with pytest.raises(DesignError, match="absorbing"):
        bacon(flips, **KW)
    with pytest.raises(DesignError, match="0 everywhere"):
        bacon(df.assign(member=0), **KW)
    with pytest.raises(TypeError, match="unexpected keyword argument 'cluster'"):
        bacon(df, **KW, cluster="firm")
    with pytest.raises(ValueError, match="must be 0/1"):
        bacon(df.assign(member=df["member"] * 2), **KW)


def test_does_not_mutate_and_tidy_columns(make_panel):
    df = dynamic_panel(make_panel, n_firms=40, seed=7)
    before = df.copy(deep=True)
    res = bacon(df, **KW)
    pd.testing.assert_frame_equal(df, before)
    assert list(res.tidy().columns) == ["type", "treated", "control", "estimate", "weight"]
    assert res.tidy()["control"].isna().sum() == res.tidy()["type"].eq("Treated vs Untreated").sum()
    assert res.to_dict()["twfe"]["headline"]["term"] == "att"
    shuffled = bacon(df.sample(frac=1.0, random_state=2), **KW)
    pd.testing.assert_frame_equal(res.tidy(), shuffled.tidy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["policylab.did.diagnostics.bacon"])
def test_docstring_examples_run(name):
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0
