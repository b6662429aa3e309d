"""honest_did: hand-checked small cases, invariances, inputs, and the two computation paths.

The closed forms used here (derived in the docstrings, not taken from any package):

* Smoothness, one pre and one post period: the only trend-free affine estimator is
  ``beta_post + beta_pre`` (a linear violation has ``delta_post = -delta_pre`` around the
  reference ``delta = 0``); its worst-case bias over ``Delta^SD(M)`` is ``M``, so the FLCI is
  ``beta_post + beta_pre +/- sd * cv_alpha(M / sd)`` with ``cv_alpha(b)`` the ``1 - alpha``
  quantile of ``|N(b, 1)|`` (scipy's ``foldnorm``).
* Smoothness at ``M = 0``: the FLCI is the best linear unbiased estimator under an exactly
  linear violation, ``min v' Sigma v`` subject to ``v_post = l`` and ``sum_t t v_t = 0``
  (a KKT system), plus or minus ``z_{1 - alpha/2}`` standard errors.
* Relative magnitudes at ``Mbar = 0`` with one pre and one post period, independent
  coefficients and a pre-period coefficient 10 standard errors below zero: the piece whose
  sign is violated rejects every ``theta`` in the least-favourable first stage, and the other
  piece is a conditional test of ``|Z| = |beta_post - theta| / sd`` truncated to
  ``[0, L]``, ``L`` the ``1 - kappa`` quantile of ``max(W, |Z|)`` for independent standard
  normals, ``Phi(L) (2 Phi(L) - 1) = 1 - kappa``. The interval is ``beta_post +/- c sd``
  with ``(Phi(L) - Phi(c)) / (Phi(L) - 1/2) = (alpha - kappa) / (1 - kappa)``.
* With a vanishing covariance every robust set shrinks to the identified set; with one pre
  and one post period that is ``beta_post +/- Mbar |beta_pre|`` (relative magnitudes) and
  ``beta_post + beta_pre +/- M`` (smoothness).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import optimize, special, stats

from policylab.did import aggregate, att_gt, event_study, honest_did
from policylab.did.diagnostics import honest as H
from policylab.did.diagnostics.honest import (
    _invert,
    _Solver,
    folded_normal_quantile,
    identified_set,
    rm_polyhedra,
    sd_polyhedron,
    truncnorm_sf,
)

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")


def example(seed: int = 0, n_pre: int = 3, n_post: int = 3):
    rng = np.random.default_rng(seed)
    n = n_pre + n_post
    a = rng.normal(size=(n, n))
    sigma = 0.0004 * (a @ a.T / n + np.eye(n))
    beta = np.r_[rng.normal(0, 0.01, n_pre), 0.1 + rng.normal(0, 0.01, n_post)]
    return beta, sigma


# --- hand-checked small cases ---------------------------------------------------------------


@pytest.mark.parametrize("m", [0.0, 0.01, 0.05, 0.3])
def test_smoothness_flci_one_pre_one_post_closed_form(m):
    beta = np.array([-0.02, 0.15])
    sigma = np.array([[0.0004, 0.0001], [0.0001, 0.0009]])
    res = honest_did(
        beta, sigma, num_pre=1, num_post=1, restriction="smoothness", M=m, breakdown=False
    )
    sd = np.sqrt(np.ones(2) @ sigma @ np.ones(2))
    half = sd * stats.foldnorm.ppf(0.95, m / sd)
    assert res.conf_low[0] == pytest.approx(beta.sum() - half, abs=1e-9)
    assert res.conf_high[0] == pytest.approx(beta.sum() + half, abs=1e-9)


def test_smoothness_flci_second_post_period_worst_bias_is_3m():
    """One pre, two post periods, the effect at the second: the trend-free estimator is
    ``beta_2 + 2 beta_pre``; with second differences ``a0 = delta_1 + delta_-1`` and
    ``a1 = delta_2 - 2 delta_1`` its bias is ``a1 + 2 a0``, at most ``3 M``."""
    beta = np.array([0.01, 0.1, 0.2])
    sigma = np.diag([0.0004, 0.0005, 0.0006])
    m = 0.02
    res = honest_did(
        beta, sigma, num_pre=1, num_post=2, restriction="smoothness", M=m, e=1, breakdown=False
    )
    v = np.array([2.0, 0.0, 1.0])
    sd = np.sqrt(v @ sigma @ v)
    half = sd * stats.foldnorm.ppf(0.95, 3 * m / sd)
    assert res.conf_low[0] == pytest.approx(v @ beta - half, abs=1e-9)
    assert res.conf_high[0] == pytest.approx(v @ beta + half, abs=1e-9)


@pytest.mark.parametrize("e", [0, 2, "average"])
def test_smoothness_m0_is_the_blue_under_a_linear_violation(e):
    beta, sigma = example(3, n_pre=4, n_post=3)
    res = honest_did(
        beta, sigma, num_pre=4, num_post=3, restriction="smoothness", M=0.0, e=e, breakdown=False
    )
    lv = res.l_vec
    t = np.r_[np.arange(-4, 0), np.arange(1, 4)].astype(float)
    n = beta.size
    # KKT: 2 Sigma v + C' lambda = 0, C v = b with C = [[0 I]; t'], b = [l; 0]
    C = np.vstack([np.hstack([np.zeros((3, 4)), np.eye(3)]), t])
    b = np.r_[lv, 0.0]
    kkt = np.block([[2 * sigma, C.T], [C, np.zeros((C.shape[0], C.shape[0]))]])
    v = np.linalg.solve(kkt, np.r_[np.zeros(n), b])[:n]
    half = stats.norm.ppf(0.975) * np.sqrt(v @ sigma @ v)
    assert res.conf_low[0] == pytest.approx(v @ beta - half, abs=1e-9)
    assert res.conf_high[0] == pytest.approx(v @ beta + half, abs=1e-9)


def test_relative_magnitude_mbar0_closed_form_hybrid():
    s1, s2 = 0.01, 0.02
    beta = np.array([-10 * s1, 0.1])
    sigma = np.diag([s1**2, s2**2])
    alpha, kappa = 0.05, 0.005
    res = honest_did(
        beta, sigma, num_pre=1, num_post=1, Mbar=0.0, lf_draws=400_000, breakdown=False
    )
    L = optimize.brentq(
        lambda x: stats.norm.cdf(x) * (2 * stats.norm.cdf(x) - 1) - (1 - kappa), 1, 5
    )
    size = (alpha - kappa) / (1 - kappa)
    pl = stats.norm.cdf(L)
    c = stats.norm.ppf(pl - size * (pl - 0.5))
    # the simulated L (400k draws) moves c by about 0.002 sd
    assert res.conf_low[0] == pytest.approx(0.1 - c * s2, abs=0.006 * s2)
    assert res.conf_high[0] == pytest.approx(0.1 + c * s2, abs=0.006 * s2)


def test_identified_set_closed_forms_one_pre_one_post():
    beta = np.array([-0.03, 0.2])
    lv = np.array([1.0])
    lo, hi = identified_set(rm_polyhedra(1, 1, 1.5), beta, 1, lv)
    assert (lo, hi) == pytest.approx((0.2 - 1.5 * 0.03, 0.2 + 1.5 * 0.03), abs=1e-12)
    lo, hi = identified_set([sd_polyhedron(1, 1, 0.04)], beta, 1, lv)
    assert (lo, hi) == pytest.approx((0.17 - 0.04, 0.17 + 0.04), abs=1e-12)


@pytest.mark.parametrize(
    ("restriction", "size"), [("relative_magnitude", 1.0), ("smoothness", 0.05)]
)
@pytest.mark.parametrize("method", [None, "Conditional"])
def test_robust_sets_shrink_to_the_identified_set(restriction, size, method):
    beta, sigma = example(5)
    tiny = sigma * 1e-10
    kw = {"Mbar": size} if restriction == "relative_magnitude" else {"M": size}
    res = honest_did(
        beta,
        tiny,
        num_pre=3,
        num_post=3,
        restriction=restriction,
        method=method,
        breakdown=False,
        **kw,
    )
    polys = (
        rm_polyhedra(3, 3, size)
        if restriction == "relative_magnitude"
        else [sd_polyhedron(3, 3, size)]
    )
    lo, hi = identified_set(polys, beta, 3, res.l_vec)
    assert res.conf_low[0] == pytest.approx(lo, abs=1e-3)
    assert res.conf_high[0] == pytest.approx(hi, abs=1e-3)


def test_folded_normal_quantile_and_truncated_normal_tails():
    for b in (0.0, 0.3, 2.0, 40.0):
        assert folded_normal_quantile(b, 0.05) == pytest.approx(
            stats.foldnorm.ppf(0.95, b), rel=1e-10
        )
    # far in the upper tail, where 1 - Phi underflows in a naive difference
    x, a, b = np.array([40.05]), np.array([40.0]), np.array([np.inf])
    assert truncnorm_sf(x, a, b)[0] == pytest.approx(np.exp(-40 * 0.05 - 0.05**2 / 2), rel=2e-3)
    assert truncnorm_sf(np.array([0.3]), np.array([-1.0]), np.array([2.0]))[0] == pytest.approx(
        stats.truncnorm.sf(0.3, -1, 2), rel=1e-12
    )


# --- invariances ---------------------------------------------------------------------------


def test_smoothness_sets_ignore_a_linear_trend():
    """``Delta^SD`` contains every linear trend, so adding one to all coefficients (zero at
    the reference period) moves neither the FLCI nor the conditional set."""
    beta, sigma = example(7)
    t = np.r_[np.arange(-3, 0), np.arange(1, 4)]
    for method in ("FLCI", "Conditional"):
        a = honest_did(
            beta,
            sigma,
            num_pre=3,
            num_post=3,
            restriction="smoothness",
            M=[0.0, 0.01],
            method=method,
            breakdown=False,
        )
        b = honest_did(
            beta + 0.05 * t,
            sigma,
            num_pre=3,
            num_post=3,
            restriction="smoothness",
            M=[0.0, 0.01],
            method=method,
            breakdown=False,
        )
        np.testing.assert_allclose(b.conf_low - 0.05 * 0.0, a.conf_low, atol=1e-7)
        np.testing.assert_allclose(b.conf_high, a.conf_high, atol=1e-7)


@pytest.mark.parametrize("k", [250.0, 1e5, 1e-4])  # 1e5: effects in euros (SEs ~1e4)
@pytest.mark.parametrize("restriction", ["relative_magnitude", "smoothness"])
def test_scale_equivariance(restriction, k):
    """Regression: at the scale of exports in euros the relative-magnitude sets came out
    unbounded at every Mbar (absolute solver tolerances); the solvers now work in units of
    the estimate's standard error."""
    beta, sigma = example(11)
    kw = {"Mbar": [0.5, 1.0]} if restriction == "relative_magnitude" else {"M": [0.0, 0.01]}
    kw_k = kw if restriction == "relative_magnitude" else {"M": [0.0, 0.01 * k]}
    a = honest_did(beta, sigma, num_pre=3, num_post=3, restriction=restriction, **kw)
    b = honest_did(k * beta, k * k * sigma, num_pre=3, num_post=3, restriction=restriction, **kw_k)
    np.testing.assert_allclose(b.conf_low, k * a.conf_low, rtol=1e-6, atol=1e-7 * k)
    np.testing.assert_allclose(b.conf_high, k * a.conf_high, rtol=1e-6, atol=1e-7 * k)
    scale = 1.0 if restriction == "relative_magnitude" else k
    assert b.breakdown == pytest.approx(scale * a.breakdown, rel=2e-3)


def test_flci_widens_with_m_and_breakdown_brackets_zero():
    beta, sigma = example(2)
    res = honest_did(
        beta, sigma, num_pre=3, num_post=3, restriction="smoothness", M=np.linspace(0, 0.05, 6)
    )
    assert np.all(np.diff(res.conf_high - res.conf_low) > 0)
    bd = res.breakdown
    assert bd is not None and 0 < bd < np.inf
    below = honest_did(
        beta, sigma, num_pre=3, num_post=3, restriction="smoothness", M=0.995 * bd, breakdown=False
    )
    above = honest_did(
        beta, sigma, num_pre=3, num_post=3, restriction="smoothness", M=1.01 * bd, breakdown=False
    )
    assert below.conf_low[0] > 0 and above.conf_low[0] < 0


def test_relative_magnitude_breakdown_brackets_zero():
    beta, sigma = example(4)
    res = honest_did(beta, sigma, num_pre=3, num_post=3, Mbar=[0.0])
    bd = res.breakdown
    assert bd is not None and 0 < bd < np.inf
    near = honest_did(
        beta, sigma, num_pre=3, num_post=3, Mbar=[0.99 * bd, 1.02 * bd], breakdown=False
    )
    assert near.conf_low[0] > 0 and near.conf_low[1] < 0


def test_no_breakdown_when_the_original_effect_is_insignificant():
    beta, sigma = example(1)
    beta[3:] = 0.0
    res = honest_did(beta, sigma, num_pre=3, num_post=3, Mbar=1.0)
    assert res.breakdown is None
    assert res.conf_low[0] < 0 < res.conf_high[0]


def test_robust_sets_contain_more_than_the_point_and_are_nested_in_mbar():
    beta, sigma = example(9)
    res = honest_did(beta, sigma, num_pre=3, num_post=3, Mbar=[0.5, 1.0, 2.0], breakdown=False)
    assert np.all(np.diff(res.conf_low) < 0) and np.all(np.diff(res.conf_high) > 0)
    assert np.all(res.conf_low < res.original.estimate)


def test_vertex_and_linear_programme_paths_agree():
    """The vertex enumeration (fast) and the HiGHS programmes (used when there are too many
    candidate bases) are the same test."""
    beta, sigma = example(6, n_pre=2, n_post=3)
    lv = np.array([0.0, 1.0, 0.0])
    for method in ("Conditional", "C-LF"):
        out = []
        for max_bases in (10**6, 0):
            s = _Solver(
                beta,
                sigma,
                2,
                3,
                lv,
                0.05,
                "relative_magnitude",
                method,
                grid=(-0.2, 0.4, 25),
                grid_points=100,
                lf_draws=300,
                seed=3,
                max_bases=max_bases,
            )
            out.append(s.interval(1.0))
        assert out[0] == pytest.approx(out[1], abs=1e-12)


# --- the fast computation against the straightforward one ---------------------------------
#
# honest_did shares work between restriction sizes (remembered dual-vertex bases, one set of
# least-favourable draws, all polyhedra in one pass, a breakdown search that reuses sizes
# and stops bisecting once the side of 0 is known). The reference below recomputes every
# size from scratch as the method was first written: each polyhedron on its own, every
# basis of its dual polytope tried, numpy's multivariate normal for the least-favourable
# draws, both endpoints bisected to the end for every step of the breakdown bisection.


def _slow_piece(A, d, beta, sigma, n_pre, n_post, lv, alpha, hybrid, draws, seed):
    """The ARP (hybrid) test of one polyhedron ``{A delta <= d}``: ``theta -> accepted``."""
    rows = H._post_rows(A, n_pre, n_post)
    A_post = A[:, n_pre:]
    y0 = (A @ beta - d)[rows]
    a1 = (A_post @ lv / (lv @ lv))[rows]
    X = (A_post @ H._null_basis(lv))[rows]
    SY = (A @ sigma @ A.T)[np.ix_(rows, rows)]
    sd = np.sqrt(np.clip(np.diag(SY), 0.0, None))
    V = H._dual_vertices(X, sd, 10**6, cache=False)
    if V.shape[0] == 0:
        return lambda theta: np.ones(theta.shape, dtype=bool)
    kappa = alpha / 10 if hybrid else 0.0
    size = (alpha - kappa) / (1 - kappa)
    G, p, q = V @ SY @ V.T, V @ y0, V @ a1
    lf_cv = np.inf
    if hybrid:
        rng = np.random.default_rng(seed)
        xi = rng.multivariate_normal(np.zeros(sd.size), SY, size=draws, method="eigh")
        lf_cv = float(np.quantile((xi @ V.T).max(axis=1), 1 - kappa))
    tiny = 1e-12 * max(1.0, float(sd.max()))

    def accepts(theta):
        vals = p[None, :] - theta[:, None] * q[None, :]
        star = np.argmax(vals, axis=1)
        eta = vals[np.arange(theta.size), star]
        s2 = G[star, star]
        bcoef = G[star, :] / np.where(s2 > 0, s2, 1.0)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (vals - bcoef * eta[:, None]) / (1.0 - bcoef)
        vup = np.where(bcoef > 1 + 1e-9, ratio, np.inf).min(axis=1)
        vlo = np.where(bcoef < 1 - 1e-9, ratio, -np.inf).max(axis=1)
        sB = np.sqrt(np.clip(s2, 0.0, None))
        reject = (eta > lf_cv) | ((sB < tiny) & (eta > 0))
        ok = ~reject & (eta > 0)
        if ok.any():
            s = sB[ok]
            stat, zlo, zup = eta[ok] / s, vlo[ok] / s, np.minimum(vup[ok], lf_cv) / s
            inside = (zlo <= stat + 1e-9) & (stat <= zup + 1e-9)
            pv = truncnorm_sf(stat, np.minimum(zlo, stat), np.maximum(zup, stat))
            reject[ok] = inside & (pv < size)
        return ~reject

    return accepts


def _slow_cv(b, alpha):
    """The ``1 - alpha`` quantile of ``|N(b, 1)|`` with scipy.stats, as first written."""
    b = abs(float(b))
    lo, hi = b + stats.norm.ppf(1 - alpha), b + stats.norm.ppf(1 - alpha / 2)
    if hi - lo < 1e-13:
        return hi
    f = lambda c: special.ndtr(c - b) - special.ndtr(-c - b) - (1 - alpha)
    if f(lo) >= 0:
        return float(lo)
    return float(optimize.brentq(f, lo, hi, xtol=1e-14, rtol=1e-14))


def _slow_flci(beta, sigma, n_pre, n_post, lv, m, alpha):
    """``(conf_low, conf_high)`` of the optimal FLCI, everything set up for this ``m``."""
    st = H._flci_setup(sigma, n_pre, n_post, lv)
    scale = float(np.sqrt(lv @ sigma[n_pre:, n_pre:] @ lv))
    S, mm = sigma / scale**2, m / scale
    v0, P, mu0, K = st["v0"], st["P"], st["mu0"], st["K"]
    k, nmu = P.shape[1], mu0.size
    Hm, g, s0 = P.T @ S @ P, P.T @ S @ v0, float(v0 @ S @ v0)

    def sd(z):
        return np.sqrt(max(s0 + 2 * g @ z + z @ Hm @ z, 1e-300))

    def half(z):
        return sd(z) * _slow_cv(mm * float(np.abs(mu0 + K @ z).sum()) / sd(z), alpha)

    z = -np.linalg.solve(Hm, g) if k else np.zeros(0)
    if k and mm != 0:

        def obj(x):
            z, u = x[:k], x[k:]
            s = sd(z)
            bias = mm * u.sum()
            c = _slow_cv(bias / s, alpha)
            f1, f2 = stats.norm.pdf(c - bias / s), stats.norm.pdf(c + bias / s)
            dc = float((f1 - f2) / (f1 + f2))
            grad_z = (Hm @ z + g) / s * (c - bias / s * dc)
            return s * c, np.r_[grad_z, np.full(nmu, mm * dc)]

        cons = {
            "type": "ineq",
            "fun": lambda x: np.r_[x[k:] - (mu0 + K @ x[:k]), x[k:] + (mu0 + K @ x[:k])],
            "jac": lambda x: np.block([[-K, np.eye(nmu)], [K, np.eye(nmu)]]),
        }
        lp = optimize.linprog(
            np.r_[np.zeros(k), np.ones(nmu)],
            A_ub=np.block([[K, -np.eye(nmu)], [-K, -np.eye(nmu)]]),
            b_ub=np.r_[-mu0, mu0],
            bounds=[(None, None)] * k + [(0, None)] * nmu,
            method="highs",
        )
        best = None
        for z0 in [z] + ([lp.x[:k]] if lp.status == 0 else []):
            r = optimize.minimize(
                obj, np.r_[z0, np.abs(mu0 + K @ z0)], jac=True, method="SLSQP",
                constraints=[cons], options={"ftol": 1e-12, "maxiter": 500},
            )  # fmt: skip
            if best is None or half(r.x[:k]) < best[0]:
                best = (half(r.x[:k]), r.x[:k])
        z = best[1]
    center = float((v0 + P @ z) @ beta)
    return center - half(z) * scale, center + half(z) * scale


def _slow_honest(beta, sigma, n_pre, n_post, lv, restriction, method, sizes, draws=10_000):
    """``(conf_low, conf_high, breakdown)`` of ``honest_did`` (alpha 0.05, seed 0, 1000 grid
    points), every interval computed from scratch."""
    rm = restriction == "relative_magnitude"
    sd_theta = float(np.sqrt(lv @ sigma[n_pre:, n_pre:] @ lv))
    c = 1.0 / sd_theta  # honest_did works in units of the estimate's standard error
    units = 1.0 if rm else c
    b, S = beta * c, sigma * (c * c)
    center = float(lv @ b[n_pre:])
    s = float(np.sqrt(lv @ S[n_pre:, n_pre:] @ lv))
    t = np.arange(1, n_post + 1)

    def interval(m):
        if method == "FLCI":
            return _slow_flci(b, S, n_pre, n_post, lv, m, 0.05)
        polys = rm_polyhedra(n_pre, n_post, m) if rm else [sd_polyhedron(n_pre, n_post, m)]
        hybrid = method == "C-LF"
        tests = [
            _slow_piece(A, d, b, S, n_pre, n_post, lv, 0.05, hybrid, draws, 0) for A, d in polys
        ]

        def accept(theta):
            theta = np.atleast_1d(theta)
            return np.any([test(theta) for test in tests], axis=0)

        if rm:
            pre = np.r_[b[:n_pre], 0.0]
            w = 20 * s + m * (float(np.max(np.abs(np.diff(pre)))) + 4 * s) * float(np.abs(lv) @ t)
        else:
            w = 20 * s + m * float(np.abs(lv) @ (t * (t + 1) / 2))
        return _invert(accept, center, w, 1000, s)

    def excludes_zero(m):
        lo, hi = interval(m)
        return bool(np.isfinite(lo) and (lo > 0 or hi < 0))

    lows, highs = zip(*(interval(m * units) for m in sizes), strict=True)
    bd = None
    if excludes_zero(0.0):
        start = 1.0 if rm else max(sd_theta * c, 1e-12)
        cap = 1e3 * start if rm else 1e6 * start
        lo, hi = 0.0, start
        while excludes_zero(hi):
            lo, hi = hi, 2 * hi
            if hi > cap:
                bd = np.inf
                break
        if bd is None:
            while hi - lo > 1e-3 * max(hi, 1e-300) and hi - lo > 1e-12:
                mid = (lo + hi) / 2
                if excludes_zero(mid):
                    lo = mid
                else:
                    hi = mid
            bd = lo / units
    return np.array(lows) / c, np.array(highs) / c, bd


@pytest.mark.parametrize(
    ("seed", "n_pre", "n_post"), [(0, 3, 3), (4, 3, 3), (6, 2, 3), (3, 4, 2), (2, 1, 1)]
)
@pytest.mark.parametrize(
    ("restriction", "method", "sizes"),
    [
        ("relative_magnitude", "C-LF", [0.0, 0.5, 1.0]),
        ("relative_magnitude", "Conditional", [0.0, 1.0]),
        ("smoothness", "C-LF", [0.0, 0.01, 0.02]),
        ("smoothness", "FLCI", [0.0, 0.01, 0.05]),
    ],
)
def test_fast_path_equals_the_straightforward_computation(
    seed, n_pre, n_post, restriction, method, sizes
):
    H._BASES.clear()  # the first size enumerates every basis, the later ones reuse them
    beta, sigma = example(seed, n_pre, n_post)
    kw = {"Mbar": sizes} if restriction == "relative_magnitude" else {"M": sizes}
    for e in ("average", 0):
        res = honest_did(
            beta, sigma, num_pre=n_pre, num_post=n_post, restriction=restriction,
            method=method, e=e, **kw,
        )  # fmt: skip
        lows, highs, bd = _slow_honest(
            beta, sigma, n_pre, n_post, res.l_vec, restriction, method, sizes
        )
        np.testing.assert_allclose(res.conf_low, lows, rtol=0, atol=1e-8)
        np.testing.assert_allclose(res.conf_high, highs, rtol=0, atol=1e-8)
        assert (res.breakdown is None) == (bd is None)
        if bd is not None:
            assert res.breakdown == pytest.approx(bd, rel=1e-8, abs=1e-8)


def test_breakdown_cases_are_exercised():
    """The comparison above covers breakdown values (significant effects), not only None."""
    beta, sigma = example(0, 3, 3)
    for restriction in ("relative_magnitude", "smoothness"):
        res = honest_did(beta, sigma, num_pre=3, num_post=3, restriction=restriction)
        assert res.breakdown is not None and 0 < res.breakdown < np.inf


@pytest.mark.parametrize("method", ["C-LF", "Conditional"])
def test_excludes_zero_shortcut_equals_the_full_interval(method):
    """Deciding whether the set excludes 0 from the search grid (bisecting only the cell
    that holds 0, and only until the side is known) gives the answer of the full interval,
    at sizes on both sides of the breakdown value."""
    beta, sigma = example(4)
    lv = np.full(3, 1 / 3)
    kw = dict(grid=None, grid_points=1000, lf_draws=10_000, seed=0)
    bd = _Solver(beta, sigma, 3, 3, lv, 0.05, "relative_magnitude", method, **kw).breakdown(1.0)
    assert bd is not None and 0 < bd < np.inf
    answers = []
    for m in np.r_[np.linspace(0.5, 1.5, 9) * bd, bd, bd * (1 + 2e-3)]:
        quick = _Solver(beta, sigma, 3, 3, lv, 0.05, "relative_magnitude", method, **kw)
        full = _Solver(beta, sigma, 3, 3, lv, 0.05, "relative_magnitude", method, **kw)
        lo, hi = full.interval(m)
        answers.append(quick.excludes_zero(m))
        assert answers[-1] == bool(np.isfinite(lo) and (lo > 0 or hi < 0))
    assert any(answers) and not all(answers)


def test_remembered_dual_vertex_bases_give_the_enumerated_vertices():
    """The dual vertices from the remembered bases are those of the full enumeration, for
    other standard deviations (other sizes, other data) of the same design."""
    rng = np.random.default_rng(1)
    for n_pre, n_post in [(3, 3), (2, 4), (4, 2), (1, 1), (2, 1)]:
        lv = np.full(n_post, 1.0 / n_post)
        A, _ = rm_polyhedra(n_pre, n_post, 1.0)[1]
        rows = H._post_rows(A, n_pre, n_post)
        X = (A[:, n_pre:] @ H._null_basis(lv))[rows]
        H._BASES.clear()
        for _ in range(25):
            sd = np.exp(rng.normal(0, 1.0, rows.size))
            fresh = H._dual_vertices(X, sd, 10**6, cache=False)
            remembered = H._dual_vertices(X, sd, 10**6)
            assert fresh.shape[0] > 0
            np.testing.assert_array_equal(remembered, fresh)


def test_normal_density_and_quantile_are_scipys_bit_for_bit():
    """The FLCI's optimiser sees the same numbers as with scipy.stats (its path, and so the
    interval, depends on them)."""
    for x in np.r_[np.random.default_rng(2).normal(0, 3, 2000), 0.0, -0.0, 8.5, 39.0]:
        assert H._norm_pdf(float(x)) == stats.norm.pdf(float(x))
    for q in (0.95, 0.975, 0.9, 0.995):
        assert H._norm_ppf(q) == stats.norm.ppf(q)


def test_inputs_are_not_modified():
    beta, sigma = example(8)
    b0, s0 = beta.copy(), sigma.copy()
    res = honest_did(beta, sigma, num_pre=3, num_post=3, Mbar=1.0, breakdown=False)
    np.testing.assert_array_equal(beta, b0)
    np.testing.assert_array_equal(sigma, s0)
    with pytest.raises(ValueError):
        res.betahat[0] = 1.0


# --- results, inputs from estimators -------------------------------------------------------


def test_tidy_and_to_dict():
    beta, sigma = example(0)
    res = honest_did(
        beta, sigma, num_pre=3, num_post=3, restriction="smoothness", M=[0.0, 0.01], e="average"
    )
    t = res.tidy()
    assert list(t.columns) == ["term", "restriction", "M", "conf_low", "conf_high", "method"]
    assert t["method"].tolist() == ["original", "FLCI", "FLCI"]
    assert t["restriction"].tolist() == ["none", "smoothness", "smoothness"]
    assert t["term"].unique().tolist() == ["average_post"]
    assert np.isnan(t["M"].iloc[0])
    z = stats.norm.ppf(0.975)
    sd = np.sqrt(np.full(3, 1 / 3) @ sigma[3:, 3:] @ np.full(3, 1 / 3))
    assert t["conf_low"].iloc[0] == pytest.approx(beta[3:].mean() - z * sd, rel=1e-12)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["restriction"] == "smoothness" and len(d["robust"]) == 2


def test_event_study_result_equals_the_array_call(make_panel):
    df = make_panel(n_firms=120, seed=3)
    es = event_study(
        df,
        outcome="exports",
        unit="firm",
        time="year",
        cohort="cohort",
        leads=3,
        lags=2,
        cluster="consortium",
    )
    res = honest_did(es, Mbar=[1.0], e=1, breakdown=False)
    beta = np.array([e.estimate for e in es.estimates])
    arr = honest_did(beta, es.vcov, num_pre=2, num_post=3, Mbar=[1.0], e=1, breakdown=False)
    assert res.term == "event_time::1" and res.source == "event_study"
    assert res.pre_event_times == (-3, -2) and res.post_event_times == (0, 1, 2)
    np.testing.assert_allclose(res.conf_low, arr.conf_low)
    assert any("binned" in w for w in res.warnings)
    assert any("12 clusters" in w for w in res.warnings)


def test_callaway_santanna_dynamic_needs_a_universal_base(make_panel):
    df = make_panel(n_firms=150, seed=5)
    kw = {"outcome": "exports", "unit": "firm", "time": "year", "cohort": "cohort"}
    varying = aggregate(att_gt(df, **kw), "dynamic")
    with pytest.raises(ValueError, match="universal"):
        honest_did(varying)
    es = aggregate(att_gt(df, base_period="universal", **kw), "dynamic", min_e=-3, max_e=3)
    res = honest_did(es, Mbar=[0.5], breakdown=False)
    assert res.pre_event_times == (-3, -2) and res.post_event_times == (0, 1, 2, 3)
    keep = [i for i, k in enumerate(es.keys) if k != -1]
    np.testing.assert_allclose(res.betahat, es.estimates[keep])
    with pytest.raises(ValueError, match="dynamic"):
        honest_did(aggregate(att_gt(df, base_period="universal", **kw), "group"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"restriction": "linear"}, "restriction must be one of"),
        ({"method": "FLCI"}, "only available for restriction='smoothness'"),
        ({"method": "C-F"}, "method must be one of"),
        ({"M": 0.1}, "takes Mbar, not M"),
        ({"restriction": "smoothness", "Mbar": 1}, "takes M, not Mbar"),
        ({"Mbar": -1}, "non-negative"),
        ({"e": 5}, "not a post-period event time"),
        ({"e": "mean"}, "'average'"),
        ({"l_vec": [1, 0]}, "l_vec must be 3"),
        ({"alpha": 1.5}, "alpha"),
        ({"grid": (1, 0, 10)}, "grid"),
    ],
)
def test_bad_options_raise(kwargs, match):
    beta, sigma = example(0)
    with pytest.raises(ValueError, match=match):
        honest_did(beta, sigma, num_pre=3, num_post=3, **kwargs)


def test_bad_arrays_raise():
    beta, sigma = example(0)
    with pytest.raises(ValueError, match="num_pre \\+ num_post"):
        honest_did(beta, sigma, num_pre=2, num_post=3)
    with pytest.raises(ValueError, match="give sigma"):
        honest_did(beta)
    with pytest.raises(ValueError, match="symmetric"):
        honest_did(beta, sigma + np.triu(np.ones((6, 6)), 1) * 1e-3, num_pre=3, num_post=3)
    bad = sigma.copy()
    bad[0, 1] = bad[1, 0] = 10 * np.sqrt(sigma[0, 0] * sigma[1, 1])
    with pytest.raises(ValueError, match="positive semi-definite"):
        honest_did(beta, bad, num_pre=3, num_post=3)
    with pytest.raises(TypeError):
        honest_did("not an estimate")


@pytest.mark.slow
def test_relative_magnitude_sets_cover_at_the_edge_of_the_restriction():
    """Coverage of the C-LF set when the violation is as large as Delta^RM(1) allows: one
    pre-period change of 0.02 (the other is 0), and the post-period violation keeps changing
    by 0.02 per period, so the true effect 0.1 is the lower end of the identified set
    [0.10, 0.14]. 300 draws of beta_hat ~ N(tau + delta, Sigma) with standard errors of
    about 0.005: coverage is at least 0.95 minus 3 Monte Carlo standard errors, and below
    0.99 (the check is not vacuous: the set is not simply wide)."""
    rng = np.random.default_rng(17)
    a = rng.normal(size=(4, 4))
    sigma = 1e-5 * (a @ a.T / 4 + np.eye(4))
    delta = np.array([-0.02, -0.02, 0.02, 0.04])  # e = -3, -2 | 0, 1; reference e = -1 is 0
    tau = np.array([0.0, 0.0, 0.1, 0.1])
    draws = rng.multivariate_normal(tau + delta, sigma, size=300)
    covered = []
    for b in draws:
        res = honest_did(b, sigma, num_pre=2, num_post=2, Mbar=1.0, breakdown=False)
        covered.append(res.conf_low[0] <= 0.1 <= res.conf_high[0])
    assert 0.95 - 3 * np.sqrt(0.05 * 0.95 / 300) <= np.mean(covered) < 0.99
