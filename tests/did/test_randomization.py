"""Randomization inference for Callaway-Sant'Anna aggregates
(:func:`policylab.did.randomization_inference`).

The reference is brute force: every distinct permutation of the consortium -> cohort map
(``itertools.permutations``, deduplicated), ``att_gt`` and ``aggregate`` refitted on
``y - tau * D_obs`` for each, and the share of permutations whose aggregate is at least as
far from zero as the observed one.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt, randomization_inference
from policylab.did.inference.randomization import assignments, count_assignments
from policylab.errors import DesignError

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::policylab.did.estimators.callaway_santanna.att_gt.NoComparisonWarning"),
]

YEARS = np.arange(2010, 2016)


def consortia_panel(
    cohorts=(2012, 2013, 2013, 2014), never_consortia: int = 1, singles: int = 6, seed: int = 0
) -> pd.DataFrame:
    """Treated consortia (3-5 firms), never-treated consortia and singleton never-members."""
    rng = np.random.default_rng(seed)
    spec = [(g, 3 + i % 3) for i, g in enumerate(cohorts)]
    spec += [(0, 3 + i % 2) for i in range(never_consortia)] + [(0, 1)] * singles
    rows, firm = [], 0
    for c, (g, size) in enumerate(spec):
        shock = rng.normal(0, 0.6, YEARS.size)
        for _ in range(size):
            a = rng.normal()
            for j, t in enumerate(YEARS):
                d = g > 0 and t >= g
                rows.append((firm, t, c, g, int(d), a + 0.1 * j + shock[j] + 0.4 * d + rng.normal()))
            firm += 1
    return pd.DataFrame(rows, columns=["firm", "year", "consortium", "cohort", "member", "y"])


def brute_force_p(df: pd.DataFrame, kind: str, tau: float, among: str, **fit) -> float:
    cons = df.groupby("consortium")["cohort"].first()
    movable = cons[cons > 0] if among == "treated_clusters" else cons
    y0 = df["y"] - tau * df["member"]
    stats = []
    seen = set()
    for perm in itertools.permutations(movable.to_numpy()):
        if perm in seen:
            continue
        seen.add(perm)
        mapping = dict(zip(movable.index, perm, strict=True))
        cohort = df["consortium"].map(mapping).fillna(df["cohort"]).astype(int)
        d = df.assign(cohort=cohort, y=y0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = att_gt(d, outcome="y", unit="firm", time="year", cohort="cohort",
                        cluster="consortium", **fit)  # fmt: skip
            stats.append(aggregate(gt, kind).overall.estimate)
        if perm == tuple(movable.to_numpy()):
            observed = stats[-1]
    stats = np.abs(np.array(stats))
    return float(np.mean(stats >= abs(observed) * (1 - 1e-8)))


@pytest.mark.parametrize("kind", ["simple", "dynamic", "group", "calendar"])
def test_timing_permutations_equal_brute_force(kind):
    df = consortia_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    for tau in (0.0, 0.4):
        ri = randomization_inference(gt, df, kind, null=tau, conf_int=False)
        assert ri.exact and ri.draws == 12  # 4! / 2!
        assert ri.p_value == pytest.approx(brute_force_p(df, kind, tau, "treated_clusters"))


def test_all_cluster_permutations_equal_brute_force():
    df = consortia_panel(cohorts=(2012, 2013, 2014), never_consortia=2, singles=0)
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    ri = randomization_inference(gt, df, "simple", among="all_clusters", null=0.2, conf_int=False)
    assert ri.exact and ri.draws == 60  # 5! / 2!
    assert ri.p_value == pytest.approx(brute_force_p(df, "simple", 0.2, "all_clusters"))


def test_not_yet_treated_equals_brute_force():
    df = consortia_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort",
                cluster="consortium", control_group="not_yet_treated")  # fmt: skip
    ri = randomization_inference(gt, df, "simple", null=0.1, conf_int=False)
    bp = brute_force_p(df, "simple", 0.1, "treated_clusters", control_group="not_yet_treated")
    assert ri.p_value == pytest.approx(bp)


def test_refit_path_equals_fast_path():
    """Sampling weights force the general (refitting) path; unit weights of 1 change
    nothing, so both paths must give the same p-values and interval."""
    df = consortia_panel().assign(w=1.0)
    fast = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    slow = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort",
                  cluster="consortium", weights="w")  # fmt: skip
    a = randomization_inference(fast, df, "simple", null=0.3)
    b = randomization_inference(slow, df, "simple", null=0.3)
    assert "no refit" in a.spec["computation"] and "refitted" in b.spec["computation"]
    assert a.p_value == pytest.approx(b.p_value)
    for x, y in ((a.conf_low, b.conf_low), (a.conf_high, b.conf_high)):
        assert x == pytest.approx(y, rel=1e-6) or (math.isinf(x) and x == y)


def test_interval_by_test_inversion():
    df = consortia_panel(cohorts=(2012, 2013, 2014, 2012, 2013, 2014), singles=20, seed=3)
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    ri = randomization_inference(gt, df, "simple")
    assert ri.exact and ri.draws == 90  # 6! / (2! 2! 2!)
    assert math.isfinite(ri.conf_low) and math.isfinite(ri.conf_high)
    assert ri.conf_low < ri.estimate < ri.conf_high
    width = ri.conf_high - ri.conf_low
    for bound, side in ((ri.conf_low, -1), (ri.conf_high, 1)):
        inside = randomization_inference(gt, df, "simple", null=bound - side * 1e-4 * width,
                                         conf_int=False)  # fmt: skip
        outside = randomization_inference(gt, df, "simple", null=bound + side * 1e-4 * width,
                                          conf_int=False)  # fmt: skip
        assert inside.p_value > 0.05 >= outside.p_value


def test_few_assignments_give_an_unbounded_interval():
    df = consortia_panel(cohorts=(2012, 2013, 2014))  # 3! = 6 timing assignments
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    ri = randomization_inference(gt, df)
    assert ri.exact and ri.draws == 6
    assert ri.conf_low == -math.inf and ri.conf_high == math.inf
    assert any("only 6 distinct assignments" in w for w in ri.warnings)


def test_sampled_permutations_are_seeded():
    df = consortia_panel(cohorts=(2012, 2013, 2014, 2012, 2013, 2014, 2012, 2014), singles=10)
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    a = randomization_inference(gt, df, draws=199, seed=3)
    b = randomization_inference(gt, df, draws=199, seed=3)
    assert not a.exact and a.draws == 200 and a.spec["distinct_assignments"] == 560
    assert a.to_dict() == b.to_dict()
    # p = (1 + #{b : |T_b| >= |T_obs|}) / (B + 1): a multiple of 1/200
    assert (a.p_value * 200) == pytest.approx(round(a.p_value * 200))


def test_assignments_and_counts():
    labels = np.array([1.0, 1.0, 2.0, np.inf])
    assert count_assignments(labels) == 12
    rows, exact, total = assignments(labels, 100, seed=0)
    assert exact and total == 12 and rows.shape == (12, 4)
    np.testing.assert_array_equal(rows[0], labels)  # the observed assignment first
    assert np.unique(rows, axis=0).shape[0] == 12
    rows, exact, _ = assignments(labels, 5, seed=0)
    assert not exact and rows.shape == (6, 4)


def test_cohort_must_be_constant_within_clusters():
    df = consortia_panel()
    df.loc[df["firm"] == 0, "cohort"] = 2013  # one firm of consortium 0 joins later
    df["member"] = ((df["cohort"] > 0) & (df["year"] >= df["cohort"])).astype(int)
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    with pytest.raises(DesignError, match="different cohorts"):
        randomization_inference(gt, df)


def test_does_not_modify_data():
    df = consortia_panel()
    snap = df.copy()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    randomization_inference(gt, df)
    pd.testing.assert_frame_equal(df, snap)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"kind": "average"}, ValueError),
        ({"among": "all"}, ValueError),
        ({"B": 3}, ValueError),
        ({"B": "999"}, TypeError),
        ({"seed": -2}, ValueError),
        ({"null": float("nan")}, ValueError),
        ({"conf_int": "yes"}, TypeError),
        ({"max_e": 1.5}, TypeError),
    ],
    ids=str,
)
def test_bad_arguments(kwargs, error):
    df = consortia_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    with pytest.raises(error):
        randomization_inference(gt, df, **kwargs)


def test_wrong_types():
    df = consortia_panel()
    gt = att_gt(df, outcome="y", unit="firm", time="year", cohort="cohort", cluster="consortium")
    with pytest.raises(TypeError):
        randomization_inference(aggregate(gt), df)
    with pytest.raises(TypeError):
        randomization_inference(gt, df.to_numpy())
