"""Wooldridge's extended TWFE, linear and Poisson.

References: the regression R ``etwfe`` runs (cell indicators with cohort and year fixed
effects), written out with pyfixest ``feols``/``fepois``; ordinary least squares on explicit
dummies with numpy; and the delta method computed by hand from pyfixest's full covariance.
Published numbers on mpdta are in ``test_reference_published.py``.
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest

from policylab.did import etwfe
from policylab.errors import DesignError, SeparationWarning

pf = pytest.importorskip("pyfixest")

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::policylab.errors.SeparationWarning"),
]

KW = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}


@pytest.fixture(scope="module")
def linear_data(make_panel, make_unbalanced) -> pd.DataFrame:
    df = make_panel(n_firms=140, years=(2010, 2018), cohorts=(2012, 2014, 2016), seed=31)
    df = make_unbalanced(df, 0.9, seed=2).reset_index(drop=True)
    rng = np.random.default_rng(0)
    size = rng.normal(0, 1, df["firm"].nunique())
    df["size"] = size[pd.factorize(df["firm"])[0]]  # time-invariant covariate
    return df


def zero_heavy_panel(seed: int = 3, n_firms: int = 150) -> pd.DataFrame:
    """Export values with ~70% zeros and a small cohort (2018) that never exports."""
    rng = np.random.default_rng(seed)
    years = np.arange(2012, 2020)
    firm = np.repeat(np.arange(n_firms), years.size)
    year = np.tile(years, n_firms)
    cohort_f = rng.choice([0, 0, 2015, 2016, 2017], n_firms)
    cohort_f[:6] = 2018
    cohort = cohort_f[firm]
    on = (cohort > 0) & (year >= cohort)
    firm_effect = rng.normal(-0.5, 1.0, n_firms)[firm]
    mu = np.exp(firm_effect + 0.1 * (year - 2012) + 0.3 * on)
    exports = rng.poisson(mu) * (rng.random(firm.size) < 0.6)
    exports = np.where(cohort == 2018, 0, exports).astype(float)
    return pd.DataFrame(
        {
            "firm": firm,
            "year": year,
            "cohort": cohort,
            "exports": exports,
            "consortium": (np.arange(n_firms) % 17)[firm],
        }
    )


def with_cell_dummies(df: pd.DataFrame, cells: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    out, names = df.copy(), []
    for g, t in zip(cells["cohort"], cells["time"], strict=True):
        names.append(f"c{g}_{t}")
        out[names[-1]] = ((df["cohort"] == g) & (df["year"] == t)).astype(float)
    return out, names


def aggregate(beta, v, n_obs, groups):
    values = np.unique(groups)
    w = np.vstack([np.where(groups == g, n_obs, 0.0) / n_obs[groups == g].sum() for g in values])
    return values, w @ beta, np.sqrt(np.diag(w @ v @ w.T))


# --- linear -----------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("cluster", ["firm", "consortium"])
def test_linear_matches_fixest_cells_and_emfx_aggregates(linear_data, cluster):
    res = etwfe(linear_data, **KW, cluster=cluster)
    cells = res.tidy("cell")
    assert (cells["time"] >= cells["cohort"]).all()
    d, names = with_cell_dummies(linear_data, cells)
    fit = pf.feols(f"exports ~ {'+'.join(names)} | cohort + year", data=d, vcov={"CRV1": cluster})
    beta = fit.coef()[names].to_numpy()
    v = pd.DataFrame(fit._vcov, index=fit._coefnames, columns=fit._coefnames).loc[names, names]
    np.testing.assert_allclose(cells["estimate"], beta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(cells["std_error"], fit.se()[names], rtol=1e-8)
    np.testing.assert_allclose(cells["p_value"], fit.pvalue()[names], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(cells["n_obs"], d[names].sum())
    assert res.n_obs == fit._N

    n_obs, v = cells["n_obs"].to_numpy(float), v.to_numpy()
    ev, est, se = aggregate(beta, v, n_obs, cells["event_time"].to_numpy())
    np.testing.assert_array_equal(res.tidy()["event_time"], ev)
    np.testing.assert_allclose(res.tidy()["estimate"], est, rtol=1e-8)
    np.testing.assert_allclose(res.tidy()["std_error"], se, rtol=1e-8)
    _, att, att_se = aggregate(beta, v, n_obs, np.zeros(n_obs.size))
    assert res.headline.estimate == pytest.approx(att[0], rel=1e-8)
    assert res.headline.std_error == pytest.approx(att_se[0], rel=1e-8)
    _, c_est, c_se = aggregate(beta, v, n_obs, cells["cohort"].to_numpy())
    np.testing.assert_allclose(res.tidy("cohort")["estimate"], c_est, rtol=1e-8)
    np.testing.assert_allclose(res.tidy("cohort")["std_error"], c_se, rtol=1e-8)


def test_linear_equals_hand_ols_on_dummies_with_covariate(linear_data):
    """Cohort and year dummies, cohort- and year-specific slopes on the covariate, cell
    dummies and cell x (covariate demeaned within cohort-year): plain OLS with numpy."""
    df = linear_data
    res = etwfe(df, **KW, covariates=["size"])
    cells = res.tidy("cell")
    d, names = with_cell_dummies(df, cells)
    coh = pd.get_dummies(df["cohort"], dtype=float).to_numpy()
    yr = pd.get_dummies(df["year"], dtype=float).to_numpy()[:, 1:]
    x = df["size"].to_numpy()
    x_dm = x - df.groupby(["cohort", "year"])["size"].transform("mean").to_numpy()
    cell = d[names].to_numpy()
    design = np.column_stack(
        [coh, yr, coh * x[:, None], yr * x[:, None], cell, cell * x_dm[:, None]]
    )
    beta = np.linalg.lstsq(design, df["exports"].to_numpy(), rcond=None)[0]
    b_cells = beta[coh.shape[1] + 2 * yr.shape[1] + coh.shape[1] :][: len(names)]
    np.testing.assert_allclose(cells["estimate"], b_cells, rtol=1e-8, atol=1e-10)
    # the cell coefficient is the ATT at the cell's mean covariate, so the emfx average
    # over treated rows is the cell-count weighted mean of the cell coefficients
    w = cells["n_obs"].to_numpy(float)
    assert res.headline.estimate == pytest.approx(w @ b_cells / w.sum(), rel=1e-8)
    assert res.spec["covariates"] == ["size"]


def test_without_never_treated_last_cohort_is_the_control(make_panel):
    df = make_panel(n_firms=90, share_never=0.0, cohorts=(2012, 2014, 2016), seed=9)
    res = etwfe(df, **KW)
    assert res.tidy("cell")["time"].max() < 2016
    assert 2016 not in set(res.tidy("cell")["cohort"])
    assert any("last-treated cohort (2016)" in w for w in res.warnings)
    sub = df[df["year"] < 2016]
    cells = res.tidy("cell")
    d, names = with_cell_dummies(sub, cells)
    fit = pf.feols(f"exports ~ {'+'.join(names)} | cohort + year", data=d, vcov={"CRV1": "firm"})
    np.testing.assert_allclose(cells["estimate"], fit.coef()[names], rtol=1e-8, atol=1e-10)


# --- Poisson ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zeros() -> pd.DataFrame:
    return zero_heavy_panel()


@pytest.mark.reference
@pytest.mark.filterwarnings("ignore:48 observations removed because of separation:UserWarning")
@pytest.mark.parametrize("cluster", ["firm", "consortium"])
def test_poisson_matches_fepois_with_separated_group(zeros, cluster):
    with pytest.warns(SeparationWarning, match="dropped 48 observations"):
        res = etwfe(zeros, **KW, family="poisson", cluster=cluster)
    assert (zeros["exports"] == 0).mean() > 0.6
    assert any("separation: dropped 48 observations (6 firms)" in w for w in res.warnings)
    cells = res.tidy("cell", scale="percent")
    assert 2018 not in set(cells["cohort"])  # the separated cohort has no effects
    d, names = with_cell_dummies(zeros, cells)
    fit = pf.fepois(
        f"exports ~ {'+'.join(names)} | cohort + year",
        data=d,
        vcov={"CRV1": cluster},
        iwls_tol=1e-12,
    )
    assert fit._N == res.n_obs == len(zeros) - 48  # fepois drops the same rows
    b, se_b = fit.coef()[names].to_numpy(), fit.se()[names].to_numpy()
    # percent change of one cell: 100 * (exp(b) - 1), delta-method SE 100 * exp(b) * se(b)
    np.testing.assert_allclose(cells["estimate"], 100 * np.expm1(b), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(cells["std_error"], 100 * np.exp(b) * se_b, rtol=1e-6)
    # normal-distribution inference, as fixest/pyfixest for Poisson
    level = res.tidy("cell")
    assert level["conf_high"].iloc[0] - level["estimate"].iloc[0] == pytest.approx(
        1.959963984540054 * level["std_error"].iloc[0], rel=1e-9
    )


def test_poisson_level_effects_equal_hand_delta_method(zeros):
    """ATT in levels: mean over treated rows of exp(x'b) - exp(x'b - cell terms); its SE by
    the delta method with the full covariance (cohort and year effects included), built
    here from fepois on explicit dummies."""
    res = etwfe(zeros, **KW, family="poisson")
    keep = zeros["cohort"] != 2018
    df = zeros[keep].reset_index(drop=True)
    cells = res.tidy("cell")
    d, names = with_cell_dummies(df, cells)
    d["cohort_f"] = d["cohort"].astype(str)
    d["year_f"] = d["year"].astype(str)
    fit = pf.fepois(
        f"exports ~ 0 + C(cohort_f) + C(year_f) + {'+'.join(names)}",
        data=d,
        vcov={"CRV1": "firm"},
        iwls_tol=1e-12,
    )
    coef = fit.coef().to_numpy()
    order = list(fit._coefnames)
    coh = pd.get_dummies(d["cohort_f"], dtype=float)
    yr = pd.get_dummies(d["year_f"], dtype=float).iloc[:, 1:]
    design = pd.concat([coh, yr, d[names]], axis=1)
    design.columns = (
        [f"C(cohort_f)[{c}]" for c in coh.columns]
        + [f"C(year_f)[T.{c}]" for c in yr.columns]
        + names
    )
    xmat = design[order].to_numpy()
    vcov = np.asarray(fit._vcov)
    treated = d[names].sum(axis=1).to_numpy() > 0
    is_cell = np.isin(order, names)
    x0 = xmat.copy()
    x0[:, is_cell] = 0.0
    mu1, mu0 = np.exp(xmat @ coef), np.exp(x0 @ coef)
    att = np.mean((mu1 - mu0)[treated])
    grad = (mu1[treated, None] * xmat[treated] - mu0[treated, None] * x0[treated]).mean(axis=0)
    assert res.headline.estimate == pytest.approx(att, rel=1e-6)
    assert res.headline.std_error == pytest.approx(np.sqrt(grad @ vcov @ grad), rel=1e-6)
    ratio = mu1[treated].sum() / mu0[treated].sum()
    g_pct = (
        100
        * (
            (mu1[treated, None] * xmat[treated]).sum(0)
            - ratio * (mu0[treated, None] * x0[treated]).sum(0)
        )
        / mu0[treated].sum()
    )
    assert res.percent.headline.estimate == pytest.approx(100 * (ratio - 1), rel=1e-6)
    assert res.percent.headline.std_error == pytest.approx(np.sqrt(g_pct @ vcov @ g_pct), rel=1e-6)


def test_poisson_recovers_percent_effect_on_unbalanced_panel():
    rng = np.random.default_rng(12)
    n, years = 400, np.arange(2010, 2019)
    firm = np.repeat(np.arange(n), years.size)
    year = np.tile(years, n)
    cohort = np.repeat(rng.choice([0, 2013, 2015], n), years.size)
    on = (cohort > 0) & (year >= cohort)
    df = pd.DataFrame(
        {
            "firm": firm,
            "year": year,
            "cohort": cohort,
            "exports": rng.poisson(np.exp(0.5 + 0.05 * (year - 2010) + np.log(1.25) * on)),
        }
    ).sample(frac=0.9, random_state=7)
    res = etwfe(df, **KW, family="poisson")
    assert res.percent.headline.estimate == pytest.approx(
        25.0, abs=3 * res.percent.headline.std_error
    )
    assert res.tidy(scale="percent")["term"].str.startswith("event_time::").all()


def test_bad_arguments(linear_data, zeros):
    with pytest.raises(ValueError, match="'linear', 'poisson'"):
        etwfe(linear_data, **KW, family="logit")
    with pytest.raises(TypeError, match="unexpected keyword argument 'cgroup'"):
        etwfe(linear_data, **KW, cgroup="never")
    with pytest.raises(ValueError, match="negative values"):
        etwfe(linear_data.assign(exports=linear_data["exports"] - 10), **KW, family="poisson")
    with pytest.raises(ValueError, match=r"'nope' \(argument covariates\[0\]=\) not found"):
        etwfe(linear_data, **KW, covariates=["nope"])
    with pytest.raises(ValueError, match="no percent scale"):
        etwfe(linear_data, **KW).tidy(scale="percent")
    all_zero = zeros.assign(exports=np.where(zeros["cohort"] > 0, 0.0, zeros["exports"]))
    with pytest.warns(SeparationWarning), pytest.raises(DesignError, match="separated"):
        etwfe(all_zero, **KW, family="poisson")


def test_does_not_mutate_and_ignores_row_order(zeros):
    before = zeros.copy(deep=True)
    res = etwfe(zeros, **KW, family="poisson")
    pd.testing.assert_frame_equal(zeros, before)
    again = etwfe(zeros.sample(frac=1.0, random_state=1), **KW, family="poisson")
    pd.testing.assert_frame_equal(res.tidy("cell"), again.tidy("cell"), rtol=1e-9)
    assert res.to_dict()["percent"]["headline"]["term"] == "att"


@pytest.mark.parametrize("name", ["policylab.did.estimators.etwfe", "policylab.did.core.poisson"])
def test_docstring_examples_run(name):
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0
