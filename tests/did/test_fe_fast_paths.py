"""The fast paths of the fixed-effects estimators, pinned to the definitions they replace.

* ``fit_within_onehot`` (event study, Sun-Abraham: one-hot regressors, distinct rows of the
  within-transformed design) against ``_fit.fit_within`` on the dense 0/1 matrix;
* ``etwfe`` without covariates (distinct cohort x period rows, IRLS on them) against the
  dense design path (``_design`` + ``fit_poisson`` / least squares on every observation);
* the two-way within transformation (complete panels by reshaping, others by the exact
  Frisch-Waugh-Lovell solve) against least squares on explicit dummies;
* the cluster meats from distinct rows (``TableScores``) against the n x p score matrix;
* the hashing-free codes against ``pandas.factorize`` / ``numpy.unique``.

Everything to 1e-10 relative, on balanced and unbalanced panels with missing outcomes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policylab.did import etwfe
from policylab.did.core import fixed_effects as fe
from policylab.did.core.checks import normalise_cluster, panel_inputs, recode
from policylab.did.core.fit import fit_within
from policylab.did.core.staggered import (
    OneHotColumns,
    distinct,
    fit_within_onehot,
    period_codes,
    sorted_codes,
    staggered_sample,
)
from policylab.did.estimators.etwfe import _cell_design, _design, _fit_poisson_rows
from policylab.did.core.fixed_effects import (
    Factor,
    balanced_layout,
    cross_gram,
    demean_two_way,
    first_appearance_codes,
    onehot_within,
)
from policylab.did.core.poisson import fit_poisson
from policylab.did.core.vcov import Clustering, TableScores, _cluster_meat
from policylab.errors import DesignError

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::policylab.errors.SeparationWarning"),
]

RTOL = 1e-10


def panel(kind: str, make_panel, seed: int = 4) -> pd.DataFrame:
    """Generated staggered panels: ``balanced`` (sorted by firm and year), ``unbalanced``
    (15% of the rows dropped, rows shuffled, 5% of outcomes missing, one firm observed
    once) and ``no_never`` (every firm joins)."""
    df = make_panel(n_firms=160, years=(2008, 2019), cohorts=(2011, 2014, 2016), seed=seed)
    rng = np.random.default_rng(seed)
    df["random_group"] = rng.integers(0, 13, len(df))
    if kind == "unbalanced":
        df = df.sample(frac=0.85, random_state=seed).reset_index(drop=True)
        df.loc[rng.random(len(df)) < 0.05, "exports"] = np.nan
        lone = df["firm"] == df["firm"].iloc[0]
        df = df[~lone | (np.cumsum(lone) == 1)].reset_index(drop=True)  # a singleton firm
    if kind == "no_never":
        df = make_panel(n_firms=90, share_never=0.0, cohorts=(2012, 2015), seed=seed)
        df["random_group"] = rng.integers(0, 13, len(df))
    return df


def event_cells(df: pd.DataFrame, leads: int, lags: int) -> tuple[np.ndarray, list[str]]:
    """Event-study indicators as event_study builds them: one column per binned event time
    but -1, for firms that join."""
    g = df["cohort"].to_numpy(float)
    joins = g != 0
    binned = np.clip(np.where(joins, df["year"].to_numpy(float) - g, 0.0), -leads, lags)
    terms = [e for e in range(-leads, lags + 1) if e != -1]
    cell = np.full(len(df), -1, dtype=np.intp)
    for j, e in enumerate(terms):
        cell[joins & (binned == e)] = j
    return cell, [f"event_time::{e}" for e in terms]


def both_fits(df, cell, names, cluster, *, drop_empty=True):
    inputs = panel_inputs(
        df,
        outcome="exports",
        unit="firm",
        time="year",
        cluster=normalise_cluster(cluster),
        whole_time=True,
    )
    kw = dict(
        row_ok=inputs.outcome_rows.keep,
        unit_codes=inputs.unit_codes,
        time_values=inputs.time,
        unit_name="firm",
        cluster_names=inputs.cluster_names,
        cluster_codes=inputs.cluster_codes,
        drop_empty=drop_empty,
    )
    fast = fit_within_onehot(inputs.y, cell, names, **kw)
    slow = fit_within(inputs.y, OneHotColumns(cell, len(names)).toarray(), names, **kw)
    return fast, slow


def assert_same_fit(fast, slow):
    assert fast.names == slow.names
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=RTOL, atol=1e-13)
    scale = np.abs(slow.vcov.matrix).max()
    np.testing.assert_allclose(fast.vcov.matrix, slow.vcov.matrix, rtol=RTOL, atol=RTOL * scale)
    assert (fast.vcov.dof_k, fast.vcov.n_clusters, fast.vcov.df, fast.vcov.label) == (
        slow.vcov.dof_k,
        slow.vcov.n_clusters,
        slow.vcov.df,
        slow.vcov.label,
    )
    np.testing.assert_array_equal(fast.keep, slow.keep)
    np.testing.assert_array_equal(fast.unit_codes, slow.unit_codes)
    for a, b in zip(fast.clustering.codes, slow.clustering.codes, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.asarray(fast.regressors), slow.regressors)
    np.testing.assert_array_equal(fast.regressors.sum(axis=0), slow.regressors.sum(axis=0))
    assert fast.notes == slow.notes


CLUSTERS = [None, "consortium", "random_group", ["consortium", "year"], ["firm", "year"]]


@pytest.mark.parametrize("kind", ["balanced", "unbalanced"])
@pytest.mark.parametrize("cluster", CLUSTERS, ids=str)
def test_onehot_fit_equals_dense_fit_within(make_panel, kind, cluster):
    df = panel(kind, make_panel)
    cell, names = event_cells(df, leads=3, lags=4)
    fast, slow = both_fits(df, cell, names, None if cluster is None else cluster)
    assert_same_fit(fast, slow)
    if kind == "unbalanced":
        assert any("singleton" in n for n in slow.notes)  # the singleton path was exercised


def test_onehot_fit_equals_dense_with_cohort_by_event_time_cells(make_panel):
    """Sun-Abraham's saturated cells (45-odd columns), unbalanced panel."""
    df = panel("unbalanced", make_panel, seed=9)
    g, t = df["cohort"].to_numpy(), df["year"].to_numpy()
    on = (g > 0) & (t - g != -1)
    key = pd.Series(np.where(on, g * 100 + (t - g) + 50, -1))
    codes, uniq = pd.factorize(key[on], sort=True)
    cell = np.full(len(df), -1, dtype=np.intp)
    cell[on] = codes
    names = [f"c{k}" for k in uniq]
    for cluster in (None, "consortium"):
        fast, slow = both_fits(df, cell, names, cluster)
        assert_same_fit(fast, slow)


def test_onehot_fit_drops_empty_columns_and_raises_like_dense(make_panel):
    df = panel("balanced", make_panel)
    cell, names = event_cells(df, leads=3, lags=4)
    names = [*names, "event_time::99"]  # a column no observation reaches
    fast, slow = both_fits(df, cell, names, None)
    assert any("no observations at event_time::99" in n for n in fast.notes)
    assert_same_fit(fast, slow)
    with pytest.raises(DesignError) as e_fast:
        both_fits(df, cell, names, None, drop_empty=False)
    with pytest.raises(DesignError) as e_slow:
        inputs = panel_inputs(df, outcome="exports", unit="firm", time="year", cluster=None,
                              whole_time=True)  # fmt: skip
        fit_within(inputs.y, OneHotColumns(cell, len(names)).toarray(), names,
                   row_ok=inputs.outcome_rows.keep, unit_codes=inputs.unit_codes,
                   time_values=inputs.time, unit_name="firm", cluster_names=(),
                   cluster_codes=(), drop_empty=False)  # fmt: skip
    assert str(e_fast.value) == str(e_slow.value)


def test_onehot_fit_collinear_window_raises_like_dense(make_panel):
    """No never-treated firms and a window that bins nothing: collinear with the effects."""
    df = panel("no_never", make_panel)
    cell, names = event_cells(df, leads=20, lags=20)
    keep = np.asarray(OneHotColumns(cell, len(names))).any(axis=0)
    names = [n for n, k in zip(names, keep, strict=True) if k]
    relabel = np.cumsum(keep) - 1
    cell = np.where(cell >= 0, relabel[np.maximum(cell, 0)], -1)
    messages = []
    for fit in (fit_within_onehot, fit_within):
        inputs = panel_inputs(df, outcome="exports", unit="firm", time="year", cluster=None,
                              whole_time=True)  # fmt: skip
        x = cell if fit is fit_within_onehot else OneHotColumns(cell, len(names)).toarray()
        with pytest.raises(DesignError) as err:
            fit(inputs.y, x, names, row_ok=inputs.outcome_rows.keep,
                unit_codes=inputs.unit_codes, time_values=inputs.time, unit_name="firm",
                cluster_names=(), cluster_codes=(), drop_empty=True)  # fmt: skip
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "collinear" in messages[0]


def test_onehot_fit_falls_back_to_dense_on_long_panels(make_panel, monkeypatch):
    df = panel("unbalanced", make_panel)
    cell, names = event_cells(df, leads=3, lags=4)
    monkeypatch.setattr(fe, "ONEHOT_MAX_PERIODS", 2)
    fast, slow = both_fits(df, cell, names, "consortium")
    assert isinstance(fast.regressors, np.ndarray)  # the dense path ran
    assert_same_fit(fast, slow)


def test_onehot_within_rows_equal_demeaned_dense_columns():
    rng = np.random.default_rng(0)
    units, times, p = 300, 8, 5
    u = np.repeat(np.arange(units), times)
    t = np.tile(np.arange(times), units)
    keep = rng.random(u.size) < 0.8
    u, t = recode(u[keep])[0], recode(t[keep])[0]
    cell = np.where(rng.random(u.size) < 0.5, rng.integers(0, p, u.size), -1)
    unit, time = Factor(u, units), Factor(t, times)
    x = OneHotColumns(cell, p).toarray()
    reference = demean_two_way(x, unit, time, method="map", tol=1e-15)
    within = onehot_within(cell, p, unit, time)
    assert within is not None
    np.testing.assert_allclose(within.table[within.row], reference, atol=1e-12)
    xw = within.weighted()
    np.testing.assert_allclose(xw.T @ xw, reference.T @ reference, rtol=1e-11, atol=1e-10)
    # a repeated (unit, period) pair is not a panel: no fast path
    assert onehot_within(np.r_[cell, cell[:1]], p, Factor(np.r_[u, u[:1]], units),
                         Factor(np.r_[t, t[:1]], times)) is None  # fmt: skip


# --------------------------------------------------------------------------- demeaning


def dummies_residuals(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.column_stack([pd.get_dummies(a).to_numpy(float), pd.get_dummies(b).to_numpy(float)])
    return y - d @ np.linalg.lstsq(d, y, rcond=None)[0]


@pytest.mark.parametrize("layout", ["sorted", "shuffled", "unbalanced", "disconnected"])
def test_within_transformation_equals_least_squares_on_dummies(layout):
    rng = np.random.default_rng(3)
    units, times = 120, 7
    perm = rng.permutation(times)  # the same period order in every firm's block
    u = np.repeat(np.arange(units), times)
    t = np.tile(perm, units)
    if layout == "shuffled":
        o = rng.permutation(u.size)
        u, t = u[o], t[o]
    if layout == "unbalanced":
        keep = rng.random(u.size) < 0.7
        u, t = u[keep], t[keep]
    if layout == "disconnected":  # two groups of firms observed in disjoint periods
        keep = (u < 60) == (t < 3)
        u, t = u[keep], t[keep]
    uc, nu = recode(u)
    tc, nt = recode(t)
    a, b = Factor(uc, nu), Factor(tc, nt)
    assert balanced_layout(a, b) == (layout == "sorted")
    y = rng.normal(size=(u.size, 3)) + 5.0 * rng.normal(size=nu)[uc, None]
    ref = dummies_residuals(y, uc, tc)
    np.testing.assert_allclose(demean_two_way(y, a, b), ref, atol=1e-11)
    np.testing.assert_allclose(demean_two_way(y[:, 0], a, b), ref[:, 0], atol=1e-11)
    np.testing.assert_allclose(demean_two_way(y, b, a), ref, atol=1e-11)  # roles swapped
    if layout != "disconnected":
        np.testing.assert_allclose(demean_two_way(y, a, b, method="map"), ref, atol=1e-11)


def test_cross_gram_equals_sparse_count_matrix_formula():
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    for repeat in (False, True):
        u = rng.integers(0, 50, 600)
        t = rng.integers(0, 9, 600)
        if not repeat:  # one row per (unit, period) pair: the pattern path
            pairs = pd.DataFrame({"u": u, "t": t}).drop_duplicates()
            u, t = pairs["u"].to_numpy(), pairs["t"].to_numpy()
        a, b = Factor(*recode(u)), Factor(*recode(t))
        c = sp.csr_matrix((np.ones(u.size), (a.codes, b.codes)), shape=(a.n_levels, b.n_levels))
        ref = np.diag(b.counts) - (c.T @ sp.diags(1.0 / a.counts) @ c).toarray()
        np.testing.assert_allclose(cross_gram(a, b), ref, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- meats


def table_scores(n_units=200, times=6, p=4, seed=0, frac=0.8):
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n_units), times)
    t = np.tile(np.arange(times), n_units)
    keep = rng.random(u.size) < frac
    u, t = recode(u[keep])[0], recode(t[keep])[0]
    n_types = 7
    unit_type = rng.integers(0, n_types, u.max() + 1)
    type_row = np.arange(n_types * times).reshape(n_types, times)
    table = rng.normal(size=(n_types * times, p))
    e = rng.normal(size=u.size)
    row = type_row[unit_type[u], t]
    ts = TableScores(e=e, row=row, table=table, units=u, times=t, unit_type=unit_type,
                     type_row=type_row)  # fmt: skip
    return ts, table[row] * e[:, None], u, t, rng


def test_table_meats_equal_dense_score_meats():
    ts, scores, u, t, rng = table_scores()
    consortium = recode((u // 5) % 17)[0]  # firms nested in consortia
    random_group = recode(rng.integers(0, 11, u.size))[0]  # not nested
    every_row = np.arange(u.size)
    for codes in (u, consortium, random_group, t, every_row):
        ref = _cluster_meat(scores, codes)
        np.testing.assert_allclose(ts.meat(codes), ref, rtol=1e-11, atol=1e-11 * abs(ref).max())
    np.testing.assert_allclose(ts.outer(), scores.T @ scores, rtol=1e-11)
    # the sparse branch for unit clusters when there are too many unit types
    many = TableScores(e=ts.e, row=ts.row, table=ts.table, units=ts.units, times=ts.times,
                       unit_type=ts.unit_type, type_row=ts.type_row)  # fmt: skip
    object.__setattr__(many, "MAX_TYPES", 1)
    np.testing.assert_allclose(many.meat(u), _cluster_meat(scores, u), rtol=1e-11)


def test_crv1_from_table_scores_equals_dense_scores():
    from policylab.did.core.vcov import crv1

    ts, scores, u, t, rng = table_scores(seed=5)
    bread = np.linalg.inv(scores.T @ scores / 10 + np.eye(scores.shape[1]))
    for codes in ((u,), (recode((u // 3) % 19)[0], t)):
        cl = Clustering(names=tuple(f"c{i}" for i in range(len(codes))), codes=codes)
        fast = crv1(ts, bread, dof_k=7, clustering=cl)
        slow = crv1(scores, bread, dof_k=7, clustering=cl)
        np.testing.assert_allclose(fast.matrix, slow.matrix, rtol=1e-11, atol=1e-14)


# --------------------------------------------------------------------------- ETWFE


def etwfe_inputs(df: pd.DataFrame):
    inputs = panel_inputs(df, outcome="pos", unit="firm", time="year", cluster=None,
                          whole_time=True)  # fmt: skip
    g = df["cohort"].to_numpy(float)
    sample = staggered_sample(g, inputs.time, inputs.unit_codes, inputs.outcome_rows.keep,
                              control="auto", drop_never_with_last=False)  # fmt: skip
    in_cell = sample.treated_cohort & (inputs.time >= g)
    return inputs, g, sample.keep, in_cell


@pytest.mark.parametrize("kind", ["balanced", "unbalanced"])
def test_etwfe_cell_rows_fit_equals_dense_design_fit(make_panel, kind):
    df = panel(kind, make_panel, seed=11)
    df["pos"] = np.exp(df["exports"] / 2)
    inputs, g, keep, in_cell = etwfe_inputs(df)
    dense = _design(g, inputs.time, np.empty((len(df), 0)), keep, in_cell, ())
    cells, row = _cell_design(sorted_codes(g), sorted_codes(inputs.time), keep, in_cell)
    np.testing.assert_array_equal(cells.x[row], dense.x)
    assert cells.names == dense.names
    np.testing.assert_array_equal(cells.cells.n_obs, dense.cells.n_obs)
    np.testing.assert_array_equal(cells.cells.cohort, dense.cells.cohort)
    y = inputs.y[keep]
    slow = fit_poisson(y, dense.x)
    fast = _fit_poisson_rows(y, row, cells)
    assert fast.converged and slow.converged
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(fast.mu[row], slow.mu, rtol=RTOL)
    scale = abs(slow.bread).max()
    np.testing.assert_allclose(fast.bread, slow.bread, rtol=1e-9, atol=1e-12 * scale)


@pytest.mark.parametrize("family", ["linear", "poisson"])
@pytest.mark.parametrize("cluster", [None, "consortium", "random_group"], ids=str)
def test_etwfe_without_covariates_equals_dense_path(make_panel, family, cluster):
    """A covariate that is 0 everywhere sends etwfe down the dense path (its slopes are
    dropped as collinear), which is then the same model as without covariates."""
    df = panel("unbalanced", make_panel, seed=2)
    df["pos"] = np.exp(df["exports"] / 2)
    df["zero"] = 0.0
    kw = dict(outcome="pos", unit="firm", time="year", cohort="cohort", family=family,
              cluster=cluster)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = etwfe(df, **kw)
        slow = etwfe(df, **kw, covariates=["zero"])
    for kind in ("cell", "event", "cohort", "overall"):
        a, b = fast.tidy(kind), slow.tidy(kind)
        np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=RTOL)
    np.testing.assert_allclose(fast.vcov, slow.vcov, rtol=RTOL, atol=1e-12)
    if family == "poisson":
        a, b = fast.tidy("cell", scale="percent"), slow.tidy("cell", scale="percent")
        np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=RTOL)
        np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=RTOL)
    assert fast.n_obs == slow.n_obs and fast.n_clusters == slow.n_clusters
    assert [w for w in slow.warnings if "collinear" not in w] == list(fast.warnings)


# --------------------------------------------------------------------------- codes


def test_codes_without_hashing_equal_pandas():
    rng = np.random.default_rng(2)
    for _ in range(200):
        c = rng.integers(0, rng.integers(1, 30), rng.integers(1, 60))
        codes, n = first_appearance_codes(c)
        ref, uniq = pd.factorize(c)
        np.testing.assert_array_equal(codes, ref)
        assert n == uniq.size
        np.testing.assert_array_equal(first_appearance_codes(ref)[0], ref)
        np.testing.assert_array_equal(Clustering(("c",), (c,)).codes[0], ref)
        sc, levels = sorted_codes(c + 2000)
        ref_sc, ref_levels = pd.factorize(c + 2000, sort=True)
        np.testing.assert_array_equal(sc, ref_sc)
        np.testing.assert_array_equal(levels, ref_levels)
        np.testing.assert_array_equal(distinct(c.astype(float)), np.unique(c))
        same = pd.factorize(period_codes(c.astype(float) + 0.5 * (c % 2 == 0)))[0]
        np.testing.assert_array_equal(same, pd.factorize(c)[0])  # the same partition
    wide = np.array([1e12, 3.0, 1e12, 7.5])  # large range and fractions: hashing fallback
    np.testing.assert_array_equal(sorted_codes(wide)[0], pd.factorize(wide, sort=True)[0])
    np.testing.assert_array_equal(distinct(wide), np.unique(wide))
    cl = Clustering(("a", "b"), (np.array([3, 1, 3, 2]), np.array([0, 0, 1, 0])))
    np.testing.assert_array_equal(cl.intersection(), [0, 1, 2, 3])
