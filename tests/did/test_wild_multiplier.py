"""Cluster multiplier bootstrap of Callaway-Sant'Anna aggregates
(:func:`policylab.did.multiplier_bootstrap`).

The reference is built by hand on a toy panel with unequal clusters (a consortium of five
firms next to one-firm clusters): cohort means give the ATT(g,t), the influence function is
written cell by cell, R ``did``'s estimated-weights term is formed literally (the ``n x K``
``wif`` matrix of ``aggte``), the influence function is **summed** within clusters, and all
``6**G`` Webb vectors are enumerated with ``itertools.product``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt, multiplier_bootstrap
from policylab.did.inference.wild import WEBB_POINTS, aggregate_influence, draw_weights

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")

# cluster: (size, cohort); 0 = never treated
CLUSTERS = [(5, 2012), (2, 2013), (1, 0), (1, 0), (3, 0)]
YEARS = np.arange(2010, 2015)


def toy_panel(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    firm = 0
    for c, (size, g) in enumerate(CLUSTERS):
        shock = rng.normal(0, 0.7, YEARS.size)
        for _ in range(size):
            a = rng.normal()
            for j, t in enumerate(YEARS):
                d = g > 0 and t >= g
                rows.append((firm, t, c, g, a + 0.2 * j + shock[j] + 0.5 * d + rng.normal()))
            firm += 1
    return pd.DataFrame(rows, columns=["firm", "year", "consortium", "cohort", "y"])


def hand_influence(df: pd.DataFrame) -> tuple[float, np.ndarray, np.ndarray]:
    """Simple aggregate, its influence function (R did's scaling) and unit clusters."""
    wide = df.pivot(index="firm", columns="year", values="y")
    unit = df.groupby("firm")[["cohort", "consortium"]].first().loc[wide.index]
    G = unit["cohort"].to_numpy()
    n = G.size
    never = G == 0
    groups = sorted(set(G[~never]))
    cells, att, psi = [], [], []
    for g in groups:
        for t in YEARS[YEARS >= g]:
            dy = (wide[t] - wide[g - 1]).to_numpy()
            tr = G == g
            m1, m0 = dy[tr].mean(), dy[never].mean()
            col = np.zeros(n)
            col[tr] = n / tr.sum() * (dy[tr] - m1)
            col[never] = -n / never.sum() * (dy[never] - m0)
            cells.append(g)
            att.append(m1 - m0)
            psi.append(col)
    att, psi, cg = np.array(att), np.column_stack(psi), np.array(cells)
    pg = np.array([np.mean(G == g) for g in cg])  # pg of each cell's group
    theta = float(pg @ att / pg.sum())
    # R aggte's wif, literally: if1 - if2 with n x K matrices
    ind = np.column_stack([(G == g).astype(float) for g in cg])
    if1 = (ind - pg[None, :]) / pg.sum()
    if2 = np.outer((ind - pg[None, :]).sum(axis=1), pg / pg.sum() ** 2)
    wif = if1 - if2
    inf = psi @ (pg / pg.sum()) + wif @ att
    return theta, inf, unit["consortium"].to_numpy()


def test_influence_function_matches_hand_build():
    df = toy_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    ag = aggregate(gt, "simple")
    theta, inf, cl = hand_influence(df)
    assert ag.overall.estimate == pytest.approx(theta, abs=1e-12)
    ours = aggregate_influence(gt, ag)
    # align: the result's rows are sorted by cohort then label
    order = pd.Index(np.sort(df["firm"].unique())).get_indexer(gt.units)
    np.testing.assert_allclose(ours, inf[order], atol=1e-10)
    s = np.bincount(cl, weights=inf)
    assert math.sqrt(s @ s) / inf.size == pytest.approx(ag.overall.std_error, rel=1e-10)


def test_webb_multiplier_equals_hand_enumeration():
    df = toy_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    mb = multiplier_bootstrap(gt, "simple", draws=9999, weights="webb")
    assert mb.exact and mb.draws == 6**5 and mb.seed is None
    theta, inf, cl = hand_influence(df)
    s = np.bincount(cl, weights=inf)  # cluster SUMS, unequal sizes 5, 2, 1, 1, 3
    n = inf.size
    star = np.array([np.dot(v, s) / n for v in itertools.product(WEBB_POINTS, repeat=5)])
    q75, q25 = np.quantile(star, [0.75, 0.25], method="inverted_cdf")
    assert mb.std_error == pytest.approx((q75 - q25) / 1.3489795003921634, rel=1e-12)
    assert mb.p_value == pytest.approx(np.mean(np.abs(star) >= abs(theta) * (1 - 1e-8)))
    # interval: theta -/+ the m-th largest |theta*|, m = floor(alpha * B) + 1
    c = np.sort(np.abs(star))[::-1][int(0.05 * star.size)]
    assert mb.conf_low == pytest.approx(theta - c, abs=1e-12)
    assert mb.conf_high == pytest.approx(theta + c, abs=1e-12)


def test_webb_multiplier_random_draws_equal_hand_computation():
    df = toy_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    mb = multiplier_bootstrap(gt, "simple", draws=999, weights="webb", seed=7)
    assert not mb.exact and mb.draws == 999
    _, inf, cl = hand_influence(df)
    s = np.bincount(cl, weights=inf)
    v, _ = draw_weights("webb", 5, 999, seed=7)
    star = v @ s / inf.size
    q75, q25 = np.quantile(star, [0.75, 0.25], method="inverted_cdf")
    assert mb.std_error == pytest.approx((q75 - q25) / 1.3489795003921634, rel=1e-12)
    again = multiplier_bootstrap(gt, "simple", draws=999, weights="webb", seed=7)
    assert again.to_dict() == mb.to_dict()


def test_summing_not_averaging_matters():
    """Averaging within clusters (moderndid 0.2) would shrink the big cluster's weight."""
    df = toy_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    mb = multiplier_bootstrap(gt, "simple", draws=9999, weights="webb")
    _, inf, cl = hand_influence(df)
    sizes = np.bincount(cl)
    averaged = np.bincount(cl, weights=inf) / sizes
    se_avg = math.sqrt(averaged @ averaged) / inf.size
    se_sum = mb.spec["analytic_std_error"]
    assert se_sum > 1.25 * se_avg


@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_every_kind_reproduces_the_analytic_se(make_panel, kind):
    df = make_panel(n_firms=90, seed=3, n_consortia=9)
    gt = att_gt(df, outcome="exports", unit="firm", time="year", cohort="cohort",
                cluster="consortium")  # fmt: skip
    mb = multiplier_bootstrap(gt, kind, draws=199, seed=1)  # raises if the IF is off
    ag = aggregate(gt, kind)
    assert mb.spec["analytic_std_error"] == pytest.approx(ag.overall.std_error, rel=1e-9)
    assert mb.estimate == pytest.approx(ag.overall.estimate)
    assert mb.term == f"overall:{kind}"


def test_unclustered_and_weighted(make_panel):
    df = make_panel(n_firms=80, seed=2)
    df["w"] = np.repeat(np.random.default_rng(0).uniform(0.5, 2, 80), df["year"].nunique())
    gt = att_gt(df, outcome="exports", unit="firm", time="year", cohort="cohort", weights="w")
    mb = multiplier_bootstrap(gt, "dynamic", draws=199, seed=1)
    assert mb.n_clusters == gt.n_units
    assert mb.spec["analytic_std_error"] == pytest.approx(
        aggregate(gt, "dynamic").overall.std_error, rel=1e-9
    )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"kind": "overall"}, ValueError),
        ({"B": 10}, ValueError),
        ({"B": 99.5}, TypeError),
        ({"weights": "normal"}, ValueError),
        ({"seed": "1"}, TypeError),
        ({"null": None}, TypeError),
        ({"alpha": 0}, ValueError),
    ],
    ids=str,
)
def test_bad_arguments(kwargs, error):
    df = toy_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    with pytest.raises(error):
        multiplier_bootstrap(gt, **kwargs)


def test_wrong_result_type():
    df = toy_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    with pytest.raises(TypeError, match="GroupTimeResult"):
        multiplier_bootstrap(aggregate(gt, "simple"))
