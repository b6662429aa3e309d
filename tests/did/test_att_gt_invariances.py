"""Invariants and hand computations for ``att_gt`` (R ``did``'s invariance tests, ported).

* Row order does not matter: same estimates, same influence function (rows are ordered by
  cohort and unit label, never by input order).
* Adding effectively always-treated units (cohort <= first period) changes nothing. R ``did``
  had a bug here (PR #266): with ``control_group = "notyettreated"`` and no never-treated
  units, dropping the always-treated units also deleted the comparison cohort, a ~7x error
  in a user's example. Tested with and without never-treated units.
* The caller's DataFrame is never modified, whatever the options.
* A random 90% of a balanced panel's rows runs and gives finite numbers (peers crash).
* Not-yet-treated without never-treated units equals a hand computation (cell by cell).
* Clustered standard errors equal a hand-built cluster-**sum** sandwich on a toy panel with
  unequal cluster sizes (consortia of 20 firms next to one-firm clusters); moderndid averages
  within clusters instead (peers.md), so it cannot be the reference here.
* The closed form used without covariates equals the general 2x2 estimators (DRDID formulas)
  run with an intercept-only design: fast and slow paths agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt
from policylab.did.estimators.callaway_santanna.estimation import panel_2x2, rc_2x2
from policylab.errors import FewClustersWarning

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}


@pytest.fixture
def panel(make_panel) -> pd.DataFrame:
    df = make_panel(n_firms=150, seed=31)
    rng = np.random.default_rng(5)
    size = df.groupby("firm")["exports"].transform("size")
    df["size"] = df.groupby("firm")["exports"].transform(lambda s: rng.normal())  # time-invariant
    df["w"] = 1.0 + (df["firm"].str[1:].astype(int) % 4) / 2.0
    assert (size == 10).all()
    return df


def assert_same(a, b, *, rtol=1e-10, atol=1e-12):
    pd.testing.assert_frame_equal(a.tidy(), b.tidy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.influence, b.influence, rtol=rtol, atol=1e-10)
    for kind in ("simple", "group", "dynamic", "calendar"):
        x, y = aggregate(a, kind), aggregate(b, kind)
        pd.testing.assert_frame_equal(x.tidy(), y.tidy(), rtol=rtol, atol=atol)


OPTIONS = {
    "never": {},
    "notyet-dr-x": {"control_group": "not_yet_treated", "covariates": ["size"]},
    "ipw-weights-universal": {"method": "ipw", "weights": "w", "base_period": "universal"},
    "reg-cluster-anticipation": {"method": "reg", "cluster": "consortium", "anticipation": 1},
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_row_order_does_not_matter(panel, name):
    opts = OPTIONS[name]
    shuffled = panel.sample(frac=1.0, random_state=9)
    assert_same(att_gt(panel, **KW, **opts), att_gt(shuffled, **KW, **opts))


@pytest.mark.parametrize("name", list(OPTIONS))
def test_unbalanced_row_order_does_not_matter(panel, make_unbalanced, name):
    opts = OPTIONS[name]
    sub = make_unbalanced(panel, 0.9, seed=4)
    assert_same(att_gt(sub, **KW, **opts), att_gt(sub.iloc[::-1], **KW, **opts))


def _with_always_treated(df: pd.DataFrame, n: int = 12, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.sort(df["year"].unique())
    extra = []
    for i in range(n):
        cohort = years[0] if i % 2 else years[0] - 3  # treated in, or before, the first period
        extra.append(
            pd.DataFrame(
                {
                    "firm": f"A{i:03d}",
                    "year": years,
                    "cohort": cohort,
                    "member": 1,
                    "consortium": 99,
                    "exports": rng.normal(3.0, 2.0, years.size),
                    "size": rng.normal(),
                    "w": 1.0,
                }
            )
        )
    return pd.concat([df, *extra], ignore_index=True)


@pytest.mark.parametrize(
    ("control_group", "never_treated"),
    [("never_treated", True), ("not_yet_treated", True), ("not_yet_treated", False)],
)
def test_always_treated_units_change_nothing(panel, control_group, never_treated):
    df = panel if never_treated else panel[panel["cohort"] > 0]
    base = att_gt(df, **KW, control_group=control_group)
    more = att_gt(_with_always_treated(df), **KW, control_group=control_group)
    assert_same(base, more)
    assert base.n_units == more.n_units
    assert any("always treated" in w for w in more.warnings)


OPTION_SETS = [
    {},
    {"covariates": ["size"], "weights": "w", "cluster": "consortium"},
    {"method": "ipw", "covariates": ["size"], "base_period": "universal", "bootstrap": 49},
    {"control_group": "not_yet_treated", "anticipation": 1},
]


@pytest.mark.parametrize("opts", OPTION_SETS)
@pytest.mark.parametrize("shape", ["balanced", "unbalanced", "cross_sections"])
def test_caller_data_is_not_mutated(panel, make_unbalanced, opts, shape):
    df = panel if shape == "balanced" else make_unbalanced(panel, 0.9, seed=2)
    df = df.copy()
    df.loc[df.index[3], "exports"] = np.nan
    snapshot = df.copy(deep=True)
    cols, dtypes, index = list(df.columns), df.dtypes.copy(), df.index.copy()
    if shape == "cross_sections":
        res = att_gt(df, **{**KW, "unit": None}, panel=False, **opts)
    else:
        res = att_gt(df, **KW, **opts)
    for kind in ("simple", "group", "dynamic", "calendar"):
        aggregate(res, kind)
    assert list(df.columns) == cols
    pd.testing.assert_series_equal(df.dtypes, dtypes)
    pd.testing.assert_index_equal(df.index, index)
    pd.testing.assert_frame_equal(df, snapshot, check_exact=True)


def test_result_arrays_are_read_only(panel):
    res = att_gt(panel, **KW)
    with pytest.raises(ValueError):
        res.att[0] = 1.0
    with pytest.raises(ValueError):
        res.influence[0, 0] = 1.0
    with pytest.raises(AttributeError):
        res.att = np.zeros(3)  # frozen dataclass


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("covariates", [[], ["size"]])
@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_ninety_percent_subset_runs(panel, make_unbalanced, method, covariates, control_group):
    sub = make_unbalanced(panel, 0.9, seed=11)
    res = att_gt(sub, **KW, method=method, covariates=covariates, control_group=control_group)
    assert res.design == "unbalanced_panel"
    assert any("allow_unbalanced_panel" in w for w in res.warnings)
    assert res.att.size > 0 and np.isfinite(res.att).all() and np.isfinite(res.se).all()
    assert res.influence.shape == (res.n_units, res.att.size)
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg = aggregate(res, kind)
        assert np.isfinite(agg.estimate) and np.isfinite(agg.std_error)


def test_planted_effect_is_recovered(make_panel):
    df = make_panel(n_firms=600, noise=0.3, seed=8)
    res = att_gt(df, **KW)
    post = res.time >= res.group
    np.testing.assert_allclose(res.att[post], 0.5, atol=0.15)
    np.testing.assert_allclose(res.att[~post], 0.0, atol=0.15)
    assert aggregate(res, "simple").estimate == pytest.approx(0.5, abs=0.05)


# --------------------------------------------------------------------------- hand computations


def _no_never_panel(seed: int = 3) -> pd.DataFrame:
    """Years 2011-2016, cohorts 2013, 2014 and 2016, no never-treated firm, plus firms
    treated from the first period on (the R did #266 trigger)."""
    rng = np.random.default_rng(seed)
    years = np.arange(2011, 2017)
    cohorts = np.repeat([2013, 2014, 2016, 2011], [40, 35, 30, 10])
    n = cohorts.size
    G = np.repeat(cohorts, years.size)
    year = np.tile(years, n)
    y = (
        np.repeat(rng.normal(0, 1, n), years.size)
        + 0.2 * (year - 2011)
        + np.where(year >= G, 1.0 + 0.5 * (year - G), 0.0)
        + rng.normal(0, 1, G.size)
    )
    return pd.DataFrame(
        {"firm": np.repeat(np.arange(n), years.size), "year": year, "cohort": G, "exports": y}
    )


def test_not_yet_treated_without_never_treated_equals_hand_computation():
    df = _no_never_panel()
    res = att_gt(df, **KW, control_group="not_yet_treated")
    wide = df.pivot(index="firm", columns="year", values="exports")
    coh = df.groupby("firm")["cohort"].first()
    # the last cohort (2016) is only a comparison group; periods from 2016 on are dropped,
    # units treated in the first period (2011) are dropped
    expected_cells = [(g, t) for g in (2013, 2014) for t in range(2012, 2016)]
    assert list(zip(res.group, res.time, strict=True)) == expected_cells
    assert any("cohort 2016 only serves" in w for w in res.warnings)
    for k, (g, t) in enumerate(expected_cells):
        b = t - 1 if t < g else g - 1
        dy = wide[t] - wide[b]
        treated = coh == g
        control = (coh > max(t, b)) & (coh != g)
        assert control.sum() > 0
        mu1, mu0 = dy[treated].mean(), dy[control].mean()
        se = np.sqrt(((dy[treated] - mu1) ** 2).sum() / treated.sum() ** 2
                     + ((dy[control] - mu0) ** 2).sum() / control.sum() ** 2)  # fmt: skip
        assert res.att[k] == pytest.approx(mu1 - mu0, abs=1e-12)
        assert res.se[k] == pytest.approx(se, rel=1e-12)
        assert res.base_period[k] == b
        assert res.cell_n_control[k] == control.sum()


def _clustered_panel(seed: int = 12) -> pd.DataFrame:
    """Consortia of 20 member firms (one cohort each) next to 150 never-member firms that are
    each their own cluster; consortium-by-year shocks."""
    rng = np.random.default_rng(seed)
    years = np.arange(2014, 2020)
    rows = []
    for c, cohort in enumerate([2016, 2016, 2017, 2017, 2018, 2018, 2016, 2017]):
        shock = rng.normal(0, 0.8, years.size)
        for i in range(20):
            rows.append(
                (f"C{c}-{i}", f"cons{c}", cohort, shock + rng.normal() + 0.3 * (years >= cohort))
            )
    for i in range(150):
        rows.append((f"N{i}", f"solo{i}", 0, rng.normal() + rng.normal(0, 0.8, years.size)))
    out = []
    for firm, cl, cohort, y in rows:
        out.append(pd.DataFrame({"firm": firm, "consortium": cl, "cohort": cohort, "year": years,
                                 "exports": y + rng.normal(0, 1, years.size)}))  # fmt: skip
    return pd.concat(out, ignore_index=True)


def test_clustered_se_is_the_cluster_sum_sandwich():
    df = _clustered_panel()
    with pytest.warns(FewClustersWarning):
        res = att_gt(df, **KW, cluster="consortium")
    plain = att_gt(df, **KW)
    wide = df.pivot(index="firm", columns="year", values="exports")
    first = df.groupby("firm")[["cohort", "consortium"]].first()
    n = len(first)
    cohort = first["cohort"]
    for k, (g, t, b) in enumerate(zip(res.group, res.time, res.base_period, strict=True)):
        dy = wide[t] - wide[b]
        tr, co = cohort == g, cohort == 0
        psi = pd.Series(0.0, index=first.index)
        psi[tr] = n * (dy[tr] - dy[tr].mean()) / tr.sum()
        psi[co] = -n * (dy[co] - dy[co].mean()) / co.sum()
        sums = psi.groupby(first["consortium"]).sum()  # cluster SUMS, not means
        assert res.se[k] == pytest.approx(np.sqrt((sums**2).sum()) / n, rel=1e-10)
        assert plain.se[k] == pytest.approx(np.sqrt((psi**2).sum()) / n, rel=1e-10)
    assert res.n_clusters == 158
    np.testing.assert_array_equal(res.att, plain.att)
    assert (res.se > 1.2 * plain.se).mean() > 0.5  # common shocks: clustering matters
    # aggregation uses the same cluster sums
    assert aggregate(res, "simple").std_error > aggregate(plain, "simple").std_error


def test_clustering_by_the_unit_equals_the_default(panel):
    a = att_gt(panel, **KW)
    b = att_gt(panel, **KW, cluster="firm")
    np.testing.assert_allclose(a.se, b.se, rtol=1e-12)
    assert b.n_clusters == a.n_units


def test_clustered_bootstrap_agrees_with_clustered_analytic():
    """With many clusters of unequal size (1, 2, 4, 10 firms; treatment assigned per cluster,
    as R did's test-cluster-analytic.R) the clustered multiplier bootstrap (one Rademacher
    draw per cluster, cluster sums) estimates the clustered analytic SE."""
    rng = np.random.default_rng(11)
    sizes = np.resize([1, 2, 4, 10], 120)
    cl = np.repeat(np.arange(sizes.size), sizes)
    g = rng.choice([3, 4, 0], size=sizes.size, p=[0.34, 0.33, 0.33])[cl]
    n, T = cl.size, 4
    eta = rng.normal(0, 1.5, (sizes.size, T))
    t = np.tile(np.arange(1, T + 1), n)
    y = (np.repeat(rng.normal(size=n), T) + 0.3 * t + eta[np.repeat(cl, T), t - 1]
         + ((np.repeat(g, T) > 0) & (t >= np.repeat(g, T))) + rng.normal(size=n * T))  # fmt: skip
    df = pd.DataFrame({"firm": np.repeat(np.arange(n), T), "year": t, "cohort": np.repeat(g, T),
                       "consortium": np.repeat(cl, T), "exports": y})  # fmt: skip
    res = att_gt(df, **KW, cluster="consortium", bootstrap=1999, seed=1)
    np.testing.assert_allclose(res.se, res.analytic_se, rtol=0.15)
    plain = att_gt(df, **KW)
    assert (res.analytic_se > plain.se).all()


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_closed_form_equals_general_panel_estimator(panel, method):
    res = att_gt(panel, **KW, method=method, weights="w")
    wide = panel.pivot(index="firm", columns="year", values="exports").loc[res.units]
    w = panel.groupby("firm")["w"].first().loc[res.units].to_numpy()
    n = res.n_units
    for k in range(res.att.size):
        g, t, b = res.group[k], res.time[k], res.base_period[k]
        sub = (res.unit_cohort == g) | np.isinf(res.unit_cohort)
        d = (res.unit_cohort[sub] == g).astype(float)
        dy = (wide[t] - wide[b]).to_numpy()[sub]
        att, inf = panel_2x2(method, dy, d, np.ones((sub.sum(), 1)), w[sub])
        assert res.att[k] == pytest.approx(att, abs=1e-12)
        np.testing.assert_allclose(res.influence[sub, k], n / sub.sum() * inf, atol=1e-10)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_closed_form_equals_general_cross_section_estimator(panel, make_unbalanced, method):
    sub = make_unbalanced(panel, 0.85, seed=6).reset_index(drop=True)
    res = att_gt(sub, **{**KW, "unit": None}, panel=False, method=method)
    n = res.n_units
    cohort = sub["cohort"].where(sub["cohort"] > 0, np.inf).to_numpy()
    for k in range(res.att.size):
        g, t, b = res.group[k], res.time[k], res.base_period[k]
        rows = np.flatnonzero(
            ((cohort == g) | np.isinf(cohort)) & sub["year"].isin([t, b]).to_numpy()
        )
        d = (cohort[rows] == g).astype(float)
        post = (sub["year"].to_numpy()[rows] == t).astype(float)
        att, inf = rc_2x2(
            method, sub["exports"].to_numpy()[rows], post, d, np.ones((rows.size, 1)), None
        )
        assert res.att[k] == pytest.approx(att, abs=1e-12)
        pos = pd.Index(res.units).get_indexer(rows)  # units are the row positions
        np.testing.assert_allclose(res.influence[pos, k], n / rows.size * inf, atol=1e-10)


@pytest.mark.parametrize("unit", ["firm", None])
def test_adding_a_constant_to_the_outcome_changes_nothing(panel, make_unbalanced, unit):
    """Outcomes in levels (exports in euro, ~1e8) lose no precision: differences are taken
    before means."""
    df = panel if unit else make_unbalanced(panel, 0.9, seed=1)
    kw = {**KW, "unit": unit} if unit else {**KW, "unit": None}
    opts = {} if unit else {"panel": False}
    a = att_gt(df, **kw, **opts)
    b = att_gt(df.assign(exports=df["exports"] + 1e8), **kw, **opts)
    np.testing.assert_allclose(b.att, a.att, rtol=0, atol=1e-7)
    np.testing.assert_allclose(b.se, a.se, rtol=1e-6)
