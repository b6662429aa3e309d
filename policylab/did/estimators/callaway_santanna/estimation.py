"""Two-group, two-period DiD estimators with covariates and their influence functions.

These are the building blocks of :func:`policylab.did.estimators.callaway_santanna.att_gt` for one group-time cell, written
from the formulas of Sant'Anna and Zhao (2020) as R ``DRDID`` implements them (and R ``did``
calls them):

======  =====================================  ===========================================
method  panel (one row per unit)               repeated cross-sections (one row per obs.)
======  =====================================  ===========================================
"dr"    ``drdid_panel``: locally efficient DR  ``drdid_rc``: locally efficient DR
        (logit propensity score by maximum     (logit propensity score, outcome
        likelihood, OLS outcome regression     regressions for both groups and periods)
        for the comparison units' change)
"ipw"   ``std_ipw_did_panel`` (normalised      ``std_ipw_did_rc``
        Hajek weights)
"reg"   ``reg_did_panel`` (outcome regression) ``reg_did_rc``
======  =====================================  ===========================================

Conventions (as DRDID): the unit weights are normalised to mean 1 within the cell's sample;
propensity scores are clipped to ``[1e-6, 1 - 1e-6]``; comparison units with a propensity
score of at least 0.995 get weight 0 (trimming). Every function returns ``(att, inf)``
where ``inf`` is the influence function of the cell's sample, with ``mean(inf**2) / n_s`` the
variance of ``att``. A cell the data cannot identify raises :class:`CellFailure` with the
reason, which the caller reports and skips.
"""

from __future__ import annotations

import numpy as np

PS_CLIP = 1e-6
TRIM_LEVEL = 0.995
OVERLAP_LEVEL = 0.999


class CellFailure(Exception):
    """The 2x2 comparison of one cell cannot be estimated (reason in ``str()``)."""


# --------------------------------------------------------------------------- first steps


def _solve_spd(a: np.ndarray, b: np.ndarray, what: str) -> np.ndarray:
    cond = np.linalg.cond(a)
    if not np.isfinite(cond) or cond > 1.0 / np.finfo(float).eps:
        raise CellFailure(f"{what} is singular (collinear covariates or too few units)")
    return np.linalg.solve(a, b)


def logit(d: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fitted probabilities of the weighted logit of ``d`` on ``X`` (maximum likelihood).

    Newton-Raphson from zero to a relative step below 1e-11: the same optimum as R's
    ``glm(family = binomial)`` and statsmodels' IRLS, to more digits.
    """
    k = X.shape[1]
    beta = np.zeros(k)
    for _ in range(100):
        p = 0.5 * (1.0 + np.tanh(0.5 * (X @ beta)))
        grad = X.T @ (w * (d - p))
        hess = (X * (w * p * (1.0 - p))[:, None]).T @ X
        step = _solve_spd(hess, grad, "the propensity-score information matrix")
        beta = beta + step
        if np.max(np.abs(step)) <= 1e-11 * (1.0 + np.max(np.abs(beta))):
            break
    else:
        raise CellFailure(
            "the propensity score does not converge (covariates separate the treated from the "
            "comparison units)"
        )
    return 0.5 * (1.0 + np.tanh(0.5 * (X @ beta)))


def wls(y: np.ndarray, X: np.ndarray, w: np.ndarray, what: str) -> np.ndarray:
    """Weighted least-squares coefficients (normal equations, singularity checked)."""
    if X.shape[0] < X.shape[1]:
        raise CellFailure(f"{what}: fewer units than covariates")
    xw = X * w[:, None]
    return _solve_spd(xw.T @ X, xw.T @ y, what)


def _ps(d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clipped propensity score and the asymptotic linear representation of its logit."""
    raw = logit(d, X, w)
    if raw.max() >= OVERLAP_LEVEL:
        raise CellFailure(
            f"overlap fails: a propensity score reaches {OVERLAP_LEVEL} (some treated units have "
            "no comparable comparison units)"
        )
    ps = np.clip(raw, PS_CLIP, 1.0 - PS_CLIP)
    n = d.size
    info = (X * (ps * (1.0 - ps) * w)[:, None]).T @ X
    hess_inv = _solve_spd(info, np.eye(X.shape[1]), "the propensity-score information matrix") * n
    alr = ((w * (d - ps))[:, None] * X) @ hess_inv
    return ps, alr


def _ols_alr(resid: np.ndarray, X: np.ndarray, wsub: np.ndarray, what: str) -> np.ndarray:
    """Asymptotic linear representation of a WLS fit on the rows where ``wsub > 0``."""
    n = X.shape[0]
    gram = (X * wsub[:, None]).T @ X / n
    inv = _solve_spd(gram, np.eye(X.shape[1]), what)
    return ((wsub * resid)[:, None] * X) @ inv


def _normalise(w: np.ndarray | None, n: int) -> np.ndarray:
    if w is None:
        return np.ones(n)
    m = w.mean()
    if m <= 0:
        raise CellFailure("all units of the cell have weight 0")
    return w / m


def _trim(d: np.ndarray, ps: np.ndarray) -> np.ndarray:
    keep = np.ones(d.size, dtype=bool)
    ctrl = d == 0
    keep[ctrl] = ps[ctrl] < TRIM_LEVEL
    return keep


def _check_groups(d: np.ndarray) -> None:
    if not (d == 1).any():
        raise CellFailure("no treated units")
    if not (d == 0).any():
        raise CellFailure("no comparison units")


# --------------------------------------------------------------------------- panel


def panel_2x2(
    method: str, dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """ATT and influence function of one panel 2x2 (``dy`` = outcome change per unit)."""
    _check_groups(d)
    n = d.size
    w = _normalise(w, n)
    ctrl = d == 0
    if method == "reg":
        beta = wls(dy[ctrl], X[ctrl], w[ctrl], "the outcome regression of the comparison units")
        out = X @ beta
        w_t = w * d
        mt = w_t.mean()
        att_treat = (w_t * dy).mean() / mt
        att_cont = (w_t * out).mean() / mt
        alr = _ols_alr(dy - out, X, w * (1 - d), "the outcome regression")
        inf_treat = (w_t * dy - w_t * att_treat) / mt
        inf_cont = (w_t * out - w_t * att_cont + alr @ (w_t[:, None] * X).mean(axis=0)) / mt
        return float(att_treat - att_cont), inf_treat - inf_cont

    ps, alr_ps = _ps(d, X, w)
    trim = _trim(d, ps)
    w_t = trim * w * d
    w_c = trim * w * ps * (1 - d) / (1 - ps)
    mt, mc = w_t.mean(), w_c.mean()
    if mc <= 0:
        raise CellFailure(
            f"every comparison unit has a propensity score of at least {TRIM_LEVEL} (trimmed)"
        )
    if method == "ipw":
        att_t = (w_t * dy).mean() / mt
        att_c = (w_c * dy).mean() / mc
        inf_t = (w_t * dy - w_t * att_t) / mt
        inf_c = (w_c * dy - w_c * att_c) / mc
        mom = ((w_c * (dy - att_c))[:, None] * X).mean(axis=0) / mc
        return float(att_t - att_c), inf_t - (inf_c + alr_ps @ mom)

    # "dr": drdid_panel
    beta = wls(dy[ctrl], X[ctrl], w[ctrl], "the outcome regression of the comparison units")
    out = X @ beta
    r = dy - out
    dr_t = w_t * r
    dr_c = w_c * r
    eta_t = dr_t.mean() / mt
    eta_c = dr_c.mean() / mc
    alr_ols = _ols_alr(r, X, w * (1 - d), "the outcome regression")
    inf_t = (dr_t - w_t * eta_t - alr_ols @ (w_t[:, None] * X).mean(axis=0)) / mt
    c1 = dr_c - w_c * eta_c
    c2 = alr_ps @ (c1[:, None] * X).mean(axis=0)
    c3 = alr_ols @ (w_c[:, None] * X).mean(axis=0)
    inf_c = (c1 + c2 - c3) / mc
    return float(eta_t - eta_c), inf_t - inf_c


# --------------------------------------------------------------------------- cross-sections


def rc_2x2(
    method: str,
    y: np.ndarray,
    post: np.ndarray,
    d: np.ndarray,
    X: np.ndarray,
    w: np.ndarray | None,
) -> tuple[float, np.ndarray]:
    """ATT and influence function of one repeated cross-section 2x2 (one row per observation)."""
    _check_groups(d)
    for grp, name in ((d == 1, "treated"), (d == 0, "comparison")):
        if not (grp & (post == 1)).any() or not (grp & (post == 0)).any():
            raise CellFailure(f"no {name} observations in one of the two periods")
    n = d.size
    w = _normalise(w, n)
    pre = 1 - post

    def fit(mask: np.ndarray, what: str) -> np.ndarray:
        return X @ wls(y[mask], X[mask], w[mask], what)

    if method == "reg":
        c_pre = fit((d == 0) & (pre == 1), "the regression of comparison units, base period")
        c_post = fit((d == 0) & (post == 1), "the regression of comparison units, period t")
        w_tpre, w_tpost, w_c = w * d * pre, w * d * post, w * d
        m_tpre, m_tpost, m_c = w_tpre.mean(), w_tpost.mean(), w_c.mean()
        e_tpre = (w_tpre * y).mean() / m_tpre
        e_tpost = (w_tpost * y).mean() / m_tpost
        dc = c_post - c_pre
        e_c = (w_c * dc).mean() / m_c
        alr_pre = _ols_alr(y - c_pre, X, w * (1 - d) * pre, "the base-period regression")
        alr_post = _ols_alr(y - c_post, X, w * (1 - d) * post, "the period-t regression")
        inf_t = (w_tpost * (y - e_tpost)) / m_tpost - (w_tpre * (y - e_tpre)) / m_tpre
        der = (w_c[:, None] * X).mean(axis=0)
        inf_c = (w_c * (dc - e_c) + alr_post @ der - alr_pre @ der) / m_c
        return float((e_tpost - e_tpre) - e_c), inf_t - inf_c

    ps, alr_ps = _ps(d, X, w)
    trim = _trim(d, ps)
    odds = ps / (1 - ps)
    w_tpre = trim * w * d * pre
    w_tpost = trim * w * d * post
    w_cpre = trim * w * odds * (1 - d) * pre
    w_cpost = trim * w * odds * (1 - d) * post
    means = [v.mean() for v in (w_tpre, w_tpost, w_cpre, w_cpost)]
    if means[2] <= 0 or means[3] <= 0:
        raise CellFailure(
            f"every comparison unit has a propensity score of at least {TRIM_LEVEL} (trimmed)"
        )
    m_tpre, m_tpost, m_cpre, m_cpost = means

    if method == "ipw":
        a_tpre = (w_tpre * y).mean() / m_tpre
        a_tpost = (w_tpost * y).mean() / m_tpost
        a_cpre = (w_cpre * y).mean() / m_cpre
        a_cpost = (w_cpost * y).mean() / m_cpost
        inf_t = w_tpost * (y - a_tpost) / m_tpost - w_tpre * (y - a_tpre) / m_tpre
        inf_c = w_cpost * (y - a_cpost) / m_cpost - w_cpre * (y - a_cpre) / m_cpre
        m2_pre = ((w_cpre * (y - a_cpre))[:, None] * X).mean(axis=0) / m_cpre
        m2_post = ((w_cpost * (y - a_cpost))[:, None] * X).mean(axis=0) / m_cpost
        inf_c = inf_c + alr_ps @ (m2_post - m2_pre)
        return float((a_tpost - a_tpre) - (a_cpost - a_cpre)), inf_t - inf_c

    # "dr": drdid_rc (locally efficient)
    c_pre = fit((d == 0) & (pre == 1), "the regression of comparison units, base period")
    c_post = fit((d == 0) & (post == 1), "the regression of comparison units, period t")
    t_pre = fit((d == 1) & (pre == 1), "the regression of treated units, base period")
    t_post = fit((d == 1) & (post == 1), "the regression of treated units, period t")
    c_y = post * c_post + pre * c_pre
    w_d = trim * w * d
    w_dt1 = trim * w * d * post
    w_dt0 = trim * w * d * pre
    m_d, m_dt1, m_dt0 = w_d.mean(), w_dt1.mean(), w_dt0.mean()
    r = y - c_y
    eta = {
        "tpre": w_tpre * r / m_tpre,
        "tpost": w_tpost * r / m_tpost,
        "cpre": w_cpre * r / m_cpre,
        "cpost": w_cpost * r / m_cpost,
        "dpost": w_d * (t_post - c_post) / m_d,
        "dt1": w_dt1 * (t_post - c_post) / m_dt1,
        "dpre": w_d * (t_pre - c_pre) / m_d,
        "dt0": w_dt0 * (t_pre - c_pre) / m_dt0,
    }
    a = {k: v.mean() for k, v in eta.items()}
    att = (
        (a["tpost"] - a["tpre"])
        - (a["cpost"] - a["cpre"])
        + (a["dpost"] - a["dt1"])
        - (a["dpre"] - a["dt0"])
    )
    alr_cpre = _ols_alr(y - c_pre, X, w * (1 - d) * pre, "the comparison base-period regression")
    alr_cpost = _ols_alr(y - c_post, X, w * (1 - d) * post, "the comparison period-t regression")
    alr_tpre = _ols_alr(y - t_pre, X, w * d * pre, "the treated base-period regression")
    alr_tpost = _ols_alr(y - t_post, X, w * d * post, "the treated period-t regression")

    inf_tpre = eta["tpre"] - w_tpre * a["tpre"] / m_tpre
    inf_tpost = eta["tpost"] - w_tpost * a["tpost"] / m_tpost
    mom_t_post = -((w_tpost * post)[:, None] * X).mean(axis=0) / m_tpost
    mom_t_pre = -((w_tpre * pre)[:, None] * X).mean(axis=0) / m_tpre
    inf_t = inf_tpost - inf_tpre + alr_cpost @ mom_t_post + alr_cpre @ mom_t_pre

    inf_cpre = eta["cpre"] - w_cpre * a["cpre"] / m_cpre
    inf_cpost = eta["cpost"] - w_cpost * a["cpost"] / m_cpost
    mom_c_pre = ((w_cpre * (r - a["cpre"]))[:, None] * X).mean(axis=0) / m_cpre
    mom_c_post = ((w_cpost * (r - a["cpost"]))[:, None] * X).mean(axis=0) / m_cpost
    inf_c_ps = alr_ps @ (mom_c_post - mom_c_pre)
    mom_cr_post = -((w_cpost * post)[:, None] * X).mean(axis=0) / m_cpost
    mom_cr_pre = -((w_cpre * pre)[:, None] * X).mean(axis=0) / m_cpre
    inf_c = inf_cpost - inf_cpre + inf_c_ps + alr_cpost @ mom_cr_post + alr_cpre @ mom_cr_pre

    inf_eff = (
        (eta["dpost"] - w_d * a["dpost"] / m_d)
        - (eta["dt1"] - w_dt1 * a["dt1"] / m_dt1)
        - ((eta["dpre"] - w_d * a["dpre"] / m_d) - (eta["dt0"] - w_dt0 * a["dt0"] / m_dt0))
    )
    mom_post = ((w_d / m_d - w_dt1 / m_dt1)[:, None] * X).mean(axis=0)
    mom_pre = ((w_d / m_d - w_dt0 / m_dt0)[:, None] * X).mean(axis=0)
    inf_or = (alr_tpost - alr_cpost) @ mom_post - (alr_tpre - alr_cpre) @ mom_pre
    return float(att), inf_t - inf_c + inf_eff + inf_or
