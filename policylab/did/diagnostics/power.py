"""Minimum detectable effect (MDE) of a region's difference-in-differences design.

What a region's sample can show is fixed before any estimate: its numbers of treated and
comparison firms, of consortia (treatment is assigned to whole consortia, so firms in one
consortium share shocks), of years before and after joining, and how noisy and how
persistent the outcome is. :func:`minimum_detectable_effect` turns these into the smallest
true effect that a two-sided test of size ``alpha`` detects with probability ``power``;
:func:`mde_for_panel` estimates the noise from the panel's pre-treatment years first.

The formula (a clustered two-group comparison of pre-post changes)
-------------------------------------------------------------------
Each firm's outcome, net of firm and year effects, is ``e_it = v_ct + u_it``: a shock
``v_ct`` shared by the firms of consortium ``c`` and an idiosyncratic ``u_it``, both AR(1)
with the same autocorrelation ``rho``; ``sigma2 = Var(e_it)`` and ``icc = Var(v) /
sigma2``. The DiD estimate is the mean change ``D_i = mean(e_post) - mean(e_pre)`` of the
treated firms minus that of the comparison firms (equal to the two-way fixed-effects
estimate on a balanced two-group panel). With ``m`` pre and ``r`` post periods

    Var(D_i) = sigma2 * q(rho, m, r),   q = l' R l,   R_st = rho^|s - t|,
    l = (-1/m, ..., -1/m, 1/r, ..., 1/r)

(``q = 1/m + 1/r`` without serial correlation; the same role as the pre/post covariance
terms of Burlig, Preonas and Woerman 2020, *J. Dev. Econ.*, here under an AR(1)). Averaging
over ``N`` firms in clusters of sizes ``n_c`` multiplies the variance by the design effect
``1 + (n_eff - 1) icc`` with ``n_eff = sum n_c^2 / sum n_c`` (Kish), so

    SE^2 = sigma2 q [DEFF_T / N_T + DEFF_C / N_C]
    MDE  = lambda * SE

with ``lambda`` the noncentrality at which a two-sided t test with ``df`` degrees of freedom
rejects with probability ``power``; ``df`` is the Welch-Satterthwaite value of the two
cluster-level variance terms (``G_T - 1`` and ``G_C - 1``). For moderate ``df``
``lambda ~ t_{1 - alpha/2, df} + t_{power, df}`` (Bloom 1995, "Minimum detectable
effects"); with three treated consortia the exact value is 5% larger, with six treated
consortia among many comparison firms ``lambda`` is about 3.4 instead of 2.8.

Estimation from the pre-treatment years (:func:`mde_for_panel`)
---------------------------------------------------------------
First differences remove the firm effects (without the small-``T`` bias of within-firm
demeaning), and demeaning them by year removes the year effects. Under the AR(1),
``Var(De) = 2 sigma2 (1 - rho)`` and ``Corr(De_t, De_{t-1}) = -(1 - rho) / 2``, which gives
``rho`` and ``sigma2``; the intra-cluster correlation of the differences (one-way ANOVA over
consortium-by-year cells) estimates ``icc``. Treated firms contribute the years before they
join, never-members every year.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..results import Summarised

__all__ = [
    "PLAUSIBLE_EFFECTS",
    "PowerDesign",
    "PowerResult",
    "mde_for_panel",
    "minimum_detectable_effect",
    "plausible_effect",
    "warn_if_underpowered",
]

# domain.md section 2.3: effects to plant / expect, in outcome units.
PLAUSIBLE_EFFECTS: dict[str, tuple[float, float]] = {
    # extensive margin: +5 to +10 percentage points in export propensity
    "exporter": (0.05, 0.10),
    # +10 to +20 % on export value (Canada TCS 17.9 %), in log points
    "log_exports": (math.log(1.10), math.log(1.20)),
    # +0.3 to +1 destination country per firm
    "n_export_markets": (0.3, 1.0),
}
PLAUSIBLE_SOURCES = {
    "exporter": "domain.md §2.3: +5 to +10 pp on export propensity",
    "log_exports": "domain.md §2.3: +10 to +20 % on export value (log points)",
    "n_export_markets": "domain.md §2.3: +0.3 to +1 destination country",
    "exports_eur": "domain.md §2.3: +10 to +20 % of the treated firms' pre-period mean",
}


@dataclass(frozen=True)
class PowerDesign:
    """The numbers of one region's DiD design.

    Attributes
    ----------
    n_treated, n_control : int
        Treated (member) and comparison firms.
    n_pre, n_post : int
        Periods before and after joining that each firm's change compares.
    sigma2 : float
        Variance of a firm's outcome net of firm and year effects.
    rho : float
        AR(1) autocorrelation of that residual (between consecutive periods).
    icc : float
        Share of ``sigma2`` that is shared by the firms of one consortium.
    treated_cluster_sizes, control_cluster_sizes : tuple of int
        Firms per treated consortium and per comparison cluster; by default every treated
        consortium has ``n_treated / n_clusters_treated`` firms and every comparison firm
        is its own cluster (never-members are not in a consortium).
    """

    n_treated: int
    n_control: int
    n_pre: int
    n_post: int
    sigma2: float
    rho: float = 0.0
    icc: float = 0.0
    treated_cluster_sizes: tuple[int, ...] = ()
    control_cluster_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("n_treated", "n_control", "n_pre", "n_post"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not (
            isinstance(self.sigma2, (int, float)) and math.isfinite(self.sigma2) and self.sigma2 > 0
        ):
            raise ValueError(f"sigma2 must be a positive number, got {self.sigma2!r}")
        if not -1 < self.rho < 1:
            raise ValueError(f"rho must be in (-1, 1), got {self.rho!r}")
        if not 0 <= self.icc <= 1:
            raise ValueError(f"icc must be in [0, 1], got {self.icc!r}")
        for name, total in (
            ("treated_cluster_sizes", self.n_treated),
            ("control_cluster_sizes", self.n_control),
        ):
            sizes = getattr(self, name)
            if sizes and (sum(sizes) != total or min(sizes) < 1):
                raise ValueError(f"{name} must be positive and sum to {total}, got {sizes!r}")

    @classmethod
    def from_counts(
        cls,
        *,
        n_treated: int,
        n_control: int,
        n_clusters_treated: int,
        n_clusters_control: int | None = None,
        n_pre: int,
        n_post: int,
        sigma2: float,
        rho: float = 0.0,
        icc: float = 0.0,
    ) -> PowerDesign:
        """A design with (as nearly as possible) equal clusters: ``n_clusters_control``
        defaults to ``n_control`` (every comparison firm its own cluster)."""
        n_clusters_control = n_control if n_clusters_control is None else n_clusters_control
        return cls(
            n_treated=n_treated, n_control=n_control, n_pre=n_pre, n_post=n_post,
            sigma2=sigma2, rho=rho, icc=icc,
            treated_cluster_sizes=_equal_sizes(n_treated, n_clusters_treated, "treated"),
            control_cluster_sizes=_equal_sizes(n_control, n_clusters_control, "control"),
        )  # fmt: skip

    @property
    def n_clusters_treated(self) -> int:
        return len(self.treated_cluster_sizes) or self.n_treated

    @property
    def n_clusters_control(self) -> int:
        return len(self.control_cluster_sizes) or self.n_control

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["treated_cluster_sizes"] = list(self.treated_cluster_sizes)
        out["control_cluster_sizes"] = list(self.control_cluster_sizes)
        out["n_clusters_treated"] = self.n_clusters_treated
        out["n_clusters_control"] = self.n_clusters_control
        return out


def _equal_sizes(n: int, g: int, what: str) -> tuple[int, ...]:
    if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 1 <= g <= n:
        raise ValueError(f"the number of {what} clusters must be between 1 and {n}, got {g!r}")
    base, extra = divmod(int(n), int(g))
    return tuple([base + 1] * extra + [base] * (g - extra))


POWER_TIDY_COLUMNS = ["term", "value"]


@dataclass(frozen=True)
class PowerResult(Summarised):
    """A minimum detectable effect and everything it was computed from, frozen.

    Attributes
    ----------
    mde : float
        Minimum detectable effect in outcome units (e.g. 0.08 = 8 pp on export propensity).
    std_error : float
        Standard error of the DiD estimate implied by the design.
    df : float
        Welch-Satterthwaite degrees of freedom of the t quantiles.
    multiplier : float
        ``lambda = mde / std_error``: the noncentrality of the t statistic at which the
        two-sided test rejects with probability ``power``.
    design_effect_treated, design_effect_control : float
        Kish design effects ``1 + (n_eff - 1) icc``.
    variance_factor : float
        ``q(rho, n_pre, n_post)``: the variance of one firm's pre-post change over ``sigma2``.
    alpha, power : float
    design : PowerDesign
        The inputs.
    outcome : str or None
    baseline_mean : float or None
        Pre-period mean outcome of the treated firms (``mde_for_panel``), for relative
        effects.
    notes : tuple of str
        How inputs were estimated or defaulted.
    """

    mde: float
    std_error: float
    df: float
    multiplier: float
    design_effect_treated: float
    design_effect_control: float
    variance_factor: float
    alpha: float
    power: float
    design: PowerDesign
    outcome: str | None = None
    baseline_mean: float | None = None
    notes: tuple[str, ...] = ()
    spec: dict[str, Any] = field(default_factory=dict)

    def power_at(self, effect: float) -> float:
        """Probability that the two-sided size-``alpha`` test rejects when the true effect
        is ``effect`` (same t approximation as the MDE)."""
        crit = float(stats.t.ppf(1 - self.alpha / 2, self.df))
        return _t_power(abs(float(effect)) / self.std_error, crit, self.df)

    def tidy(self) -> pd.DataFrame:
        """Inputs and outputs as rows ``term, value``: ``mde``, ``std_error``, ``df``,
        ``multiplier``, ``alpha``, ``power``, ``n_treated``, ``n_control``,
        ``n_clusters_treated``, ``n_clusters_control``, ``n_pre``, ``n_post``, ``sigma2``,
        ``rho``, ``icc``, ``design_effect_treated``, ``design_effect_control``,
        ``variance_factor`` and, when known, ``baseline_mean``."""
        d = self.design
        rows = [
            ("mde", self.mde), ("std_error", self.std_error), ("df", self.df),
            ("multiplier", self.multiplier), ("alpha", self.alpha), ("power", self.power),
            ("n_treated", d.n_treated), ("n_control", d.n_control),
            ("n_clusters_treated", d.n_clusters_treated),
            ("n_clusters_control", d.n_clusters_control),
            ("n_pre", d.n_pre), ("n_post", d.n_post), ("sigma2", d.sigma2), ("rho", d.rho),
            ("icc", d.icc), ("design_effect_treated", self.design_effect_treated),
            ("design_effect_control", self.design_effect_control),
            ("variance_factor", self.variance_factor),
        ]  # fmt: skip
        if self.baseline_mean is not None:
            rows.append(("baseline_mean", self.baseline_mean))
        return pd.DataFrame(
            {"term": [r[0] for r in rows], "value": [float(r[1]) for r in rows]},
            columns=POWER_TIDY_COLUMNS,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "minimum_detectable_effect",
            "outcome": self.outcome,
            "mde": self.mde,
            "std_error": self.std_error,
            "df": self.df,
            "multiplier": self.multiplier,
            "alpha": self.alpha,
            "power": self.power,
            "design_effect_treated": self.design_effect_treated,
            "design_effect_control": self.design_effect_control,
            "variance_factor": self.variance_factor,
            "baseline_mean": self.baseline_mean,
            "design": self.design.to_dict(),
            "spec": self.spec,
            "notes": list(self.notes),
        }


def serial_variance_factor(rho: float, n_pre: int, n_post: int) -> float:
    """``q = Var(mean of post - mean of pre) / sigma2`` for an AR(1) with coefficient
    ``rho``, ``n_pre`` periods followed directly by ``n_post`` periods."""
    t = np.arange(n_pre + n_post)
    lv = np.r_[np.full(n_pre, -1.0 / n_pre), np.full(n_post, 1.0 / n_post)]
    R = float(rho) ** np.abs(t[:, None] - t[None, :]) if rho != 0 else np.eye(t.size)
    return float(lv @ R @ lv)


def _t_power(lam: float, crit: float, df: float) -> float:
    """``P(|T| > crit)`` for a noncentral t with ``df`` degrees of freedom and noncentrality
    ``lam``."""
    lower = float(stats.nct.cdf(-crit, df, lam))
    return float(stats.nct.sf(crit, df, lam)) + (lower if math.isfinite(lower) else 0.0)


def _kish(sizes: tuple[int, ...], n: int) -> float:
    if not sizes:
        return 1.0
    s = np.asarray(sizes, dtype=float)
    return float((s**2).sum() / s.sum()) if n else 1.0


def minimum_detectable_effect(
    design: PowerDesign,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str | None = None,
    baseline_mean: float | None = None,
    notes: Sequence[str] = (),
) -> PowerResult:
    """Minimum detectable effect of a clustered DiD design (see the module docstring).

    Parameters
    ----------
    design : PowerDesign
        Firms, clusters, periods and the outcome's variance, autocorrelation and
        intra-cluster correlation (:meth:`PowerDesign.from_counts` builds one from counts).
    alpha : float
        Size of the two-sided test.
    power : float
        Probability of detecting an effect equal to the MDE.
    outcome, baseline_mean : optional
        Carried into the result (for reports and relative effects).

    Returns
    -------
    PowerResult
        ``.mde`` in outcome units, ``.power_at(effect)``, ``.tidy()``.

    Examples
    --------
    >>> d = PowerDesign.from_counts(n_treated=60, n_control=240, n_clusters_treated=6,
    ...                             n_pre=3, n_post=3, sigma2=0.04, rho=0.5, icc=0.1)
    >>> res = minimum_detectable_effect(d)
    >>> round(res.mde, 3), round(res.df, 1)
    (0.118, 6.4)
    >>> round(res.power_at(0.05), 3)
    0.225
    """
    if not isinstance(design, PowerDesign):
        raise TypeError(f"design must be a PowerDesign, got {type(design).__name__}")
    for name, v in (("alpha", alpha), ("power", power)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ValueError(f"{name} must be in (0, 1), got {v!r}")
    d = design
    q = serial_variance_factor(d.rho, d.n_pre, d.n_post)
    deff_t = 1 + (_kish(d.treated_cluster_sizes, d.n_treated) - 1) * d.icc
    deff_c = 1 + (_kish(d.control_cluster_sizes, d.n_control) - 1) * d.icc
    v_t = d.sigma2 * q * deff_t / d.n_treated
    v_c = d.sigma2 * q * deff_c / d.n_control
    se = math.sqrt(v_t + v_c)
    g_t, g_c = d.n_clusters_treated, d.n_clusters_control
    denom = (v_t**2 / (g_t - 1) if g_t > 1 else math.inf) + (
        v_c**2 / (g_c - 1) if g_c > 1 else math.inf
    )
    df = (v_t + v_c) ** 2 / denom if math.isfinite(denom) else 1.0
    df = max(df, 1.0)
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    approx = crit + float(stats.t.ppf(power, df))
    mult = float(
        optimize.brentq(lambda lam: _t_power(lam, crit, df) - power, 0.0, 4 * approx, xtol=1e-12)
    )
    notes = list(notes)
    if min(g_t, g_c) < 2:
        notes.append("a group has a single cluster: its variance cannot be estimated, df set to 1")
    return PowerResult(
        mde=mult * se,
        std_error=se,
        df=float(df),
        multiplier=mult,
        design_effect_treated=deff_t,
        design_effect_control=deff_c,
        variance_factor=q,
        alpha=float(alpha),
        power=float(power),
        design=d,
        outcome=outcome,
        baseline_mean=baseline_mean,
        notes=tuple(notes),
        spec={"alpha": float(alpha), "power": float(power)},
    )


# --------------------------------------------------------------------------------------
# from a panel
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoiseEstimates:
    """Residual variance, AR(1) coefficient and intra-cluster correlation from the
    pre-treatment years, with the numbers they rest on."""

    sigma2: float
    rho: float
    icc: float
    n_differences: int
    n_pairs: int
    n_cells: int
    notes: tuple[str, ...]


def estimate_noise(
    pre: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cluster: Hashable | None,
) -> NoiseEstimates:
    """``sigma2``, ``rho`` and ``icc`` from pre-treatment observations (module docstring)."""
    notes: list[str] = []
    df = pre[[unit, time, outcome] + ([cluster] if cluster is not None else [])].dropna()
    df = df.sort_values([unit, time])
    y = df[outcome].to_numpy(dtype=float)
    t = df[time].to_numpy()
    u = df[unit].to_numpy()
    same = (u[1:] == u[:-1]) & (t[1:] - t[:-1] == 1)
    dy = (y[1:] - y[:-1])[same]
    dt = t[1:][same]
    du = u[1:][same]
    if dy.size < 3:
        raise ValueError(
            "too few consecutive pre-treatment years to estimate the outcome's variance: "
            "give the design's sigma2 directly (PowerDesign)"
        )
    d = pd.DataFrame({"u": du, "t": dt, "dy": dy})
    if cluster is not None:
        d["c"] = df[cluster].to_numpy()[1:][same]
    # year effects: demean the changes within each year
    d["e"] = d["dy"] - d.groupby("t")["dy"].transform("mean")
    n_years = d["t"].nunique()
    v1 = float((d["e"] ** 2).sum() / max(d.shape[0] - n_years, 1))
    # lag-1 covariance of consecutive changes within a firm
    d = d.sort_values(["u", "t"]).reset_index(drop=True)
    e = d["e"].to_numpy()
    pair = (d["u"].to_numpy()[1:] == d["u"].to_numpy()[:-1]) & (
        d["t"].to_numpy()[1:] - d["t"].to_numpy()[:-1] == 1
    )
    n_pairs = int(pair.sum())
    if n_pairs >= 3:
        c1 = float((e[1:][pair] * e[:-1][pair]).mean())
        rho = 1 + 2 * c1 / v1
        if not -0.9 <= rho <= 0.95:
            notes.append(f"the estimated autocorrelation {rho:.2f} was clipped to [-0.9, 0.95]")
        rho = float(np.clip(rho, -0.9, 0.95))
    else:
        rho = 0.0
        notes.append(
            "fewer than three consecutive pre-treatment years per firm: no serial correlation "
            "can be estimated, rho = 0 assumed (optimistic if outcomes are persistent)"
        )
    sigma2 = v1 / (2 * (1 - rho))
    icc, n_cells = 0.0, 0
    if cluster is not None:
        icc, n_cells = _anova_icc(d, notes)
    return NoiseEstimates(sigma2, rho, icc, int(d.shape[0]), n_pairs, n_cells, tuple(notes))


def _anova_icc(d: pd.DataFrame, notes: list[str]) -> tuple[float, int]:
    """One-way ANOVA ICC of the year-demeaned changes, groups = cluster-by-year cells of at
    least two firms."""
    cells = d.groupby(["c", "t"])["e"]
    size = cells.transform("size")
    dd = d[size >= 2]
    if dd.empty:
        notes.append(
            "no consortium has two firms observed in the same pre-treatment year: icc = 0 assumed"
        )
        return 0.0, 0
    g = dd.groupby(["c", "t"])["e"]
    k = g.ngroups
    n = dd.shape[0]
    means = g.transform("mean")
    grand = dd["e"].mean()
    ssw = float(((dd["e"] - means) ** 2).sum())
    ssb = float((g.size() * (g.mean() - grand) ** 2).sum())
    msw = ssw / (n - k)
    msb = ssb / (k - 1) if k > 1 else 0.0
    sizes = g.size().to_numpy(dtype=float)
    n0 = (n - (sizes**2).sum() / n) / (k - 1) if k > 1 else sizes[0]
    var_b = max((msb - msw) / n0, 0.0)
    icc = var_b / (var_b + msw) if var_b + msw > 0 else 0.0
    return float(icc), int(k)


def mde_for_panel(
    panel: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cohort: Hashable,
    cluster: Hashable | None = None,
    n_pre: int | None = None,
    n_post: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PowerResult:
    """MDE of a region's DiD from its firm-year panel, before estimating any effect.

    Parameters
    ----------
    panel : DataFrame
        One row per firm and year (e.g. :func:`policylab.did.panel.firm_panel`). Not
        modified.
    outcome, unit, time : column names
        Outcome, firm and year (whole numbers).
    cohort : column name
        First member year (0 = never a member).
    cluster : column name, optional
        Where treatment is assigned (the consortium; never-members each their own cluster,
        as :func:`~policylab.did.panel.firm_panel` codes them). ``None``: every firm is its
        own cluster and ``icc`` is 0.
    n_pre, n_post : int, optional
        Years compared before and after joining; default the median over the treated firms
        of the years observed before joining (at least 1) and from joining on.
    alpha, power : float

    Returns
    -------
    PowerResult
        ``.design`` holds the counts and the estimated ``sigma2``, ``rho``, ``icc``;
        ``.baseline_mean`` the treated firms' pre-treatment mean outcome.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> firms, years = np.arange(200), np.arange(2012, 2020)
    >>> df = pd.DataFrame({"firm": np.repeat(firms, 8), "year": np.tile(years, 200)})
    >>> df["joined"] = np.repeat(np.where(firms < 40, 2016, 0), 8)
    >>> df["consortium"] = np.repeat(np.where(firms < 40, firms % 5, 100 + firms), 8)
    >>> df["exports"] = rng.normal(0, 1, 200)[df["firm"]] + rng.normal(0, 0.3, len(df))
    >>> res = mde_for_panel(df, outcome="exports", unit="firm", time="year",
    ...                     cohort="joined", cluster="consortium")
    >>> res.design.n_clusters_treated, res.design.n_pre, res.design.n_post
    (5, 4, 4)
    >>> bool(0.1 < res.mde < 0.4)
    True
    """
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, got {type(panel).__name__}")
    cols = [outcome, unit, time, cohort] + ([cluster] if cluster is not None else [])
    missing = [c for c in cols if c not in panel.columns]
    if missing:
        raise ValueError(f"columns not in the panel: {missing}")
    df = panel[cols].copy()
    df = df[df[outcome].notna()]
    coh = pd.to_numeric(df[cohort], errors="raise").fillna(0).astype("int64")
    yr = pd.to_numeric(df[time], errors="raise").astype("int64")
    df = df.assign(_coh=coh.to_numpy(), _t=yr.to_numpy())
    treated = df["_coh"] > 0
    pre_rows = (~treated) | (df["_t"] < df["_coh"])
    firm_first = df.groupby(unit)["_coh"].first()
    t_units = firm_first.index[firm_first > 0]
    c_units = firm_first.index[firm_first == 0]
    tr = df[treated]
    n_pre_f = tr[tr["_t"] < tr["_coh"]].groupby(unit).size()
    n_post_f = tr[tr["_t"] >= tr["_coh"]].groupby(unit).size()
    t_units = [u for u in t_units if n_pre_f.get(u, 0) >= 1]
    if not t_units:
        raise ValueError("no member firm is observed before it joins: nothing to plan for")
    if len(c_units) == 0:
        raise ValueError("no never-member firms (cohort 0): no comparison group")
    notes: list[str] = []
    if n_pre is None:
        n_pre = max(1, int(np.median([n_pre_f.get(u, 0) for u in t_units])))
        notes.append(f"n_pre = {n_pre}: median pre-join years observed per member firm")
    if n_post is None:
        post = [n_post_f.get(u, 0) for u in t_units]
        if max(post) == 0:
            raise ValueError("no member firm is observed after joining: give n_post")
        n_post = max(1, int(np.median(post)))
        notes.append(f"n_post = {n_post}: median years from joining observed per member firm")
    noise = estimate_noise(
        df[pre_rows].rename(columns={"_t": "_time"}),
        outcome=outcome,
        unit=unit,
        time="_time",
        cluster=cluster,
    )
    notes.extend(noise.notes)
    if cluster is not None:
        first_c = df.groupby(unit)[cluster].first()
        t_sizes = tuple(int(s) for s in first_c.loc[t_units].value_counts().sort_index())
        c_sizes = tuple(int(s) for s in first_c.loc[c_units].value_counts().sort_index())
    else:
        t_sizes, c_sizes = (), ()
    design = PowerDesign(
        n_treated=len(t_units), n_control=len(c_units), n_pre=int(n_pre), n_post=int(n_post),
        sigma2=noise.sigma2, rho=noise.rho, icc=noise.icc,
        treated_cluster_sizes=t_sizes, control_cluster_sizes=c_sizes,
    )  # fmt: skip
    baseline = float(df.loc[treated & pre_rows, outcome].mean())
    notes.append(
        f"sigma2, rho and icc estimated from {noise.n_differences} year-on-year changes "
        f"({noise.n_pairs} consecutive pairs, {noise.n_cells} consortium-year cells) in "
        "pre-treatment years"
    )
    res = minimum_detectable_effect(
        design, alpha=alpha, power=power, outcome=str(outcome), baseline_mean=baseline, notes=notes
    )
    spec = {
        "estimator": "mde_for_panel",
        "outcome": str(outcome), "unit": str(unit), "time": str(time), "cohort": str(cohort),
        "cluster": None if cluster is None else str(cluster),
        "n_pre": n_pre, "n_post": n_post, "alpha": alpha, "power": power,
    }  # fmt: skip
    return replace(res, spec=spec)


# --------------------------------------------------------------------------------------
# plausible effects and the warning
# --------------------------------------------------------------------------------------


def plausible_effect(
    outcome: str, baseline_mean: float | None = None
) -> tuple[float, float] | None:
    """Plausible effect range of ``outcome`` in its own units (domain.md §2.3), or ``None``
    when none is known. ``exports_eur`` needs the treated firms' ``baseline_mean``
    (+10 to +20 % of it)."""
    if outcome in PLAUSIBLE_EFFECTS:
        return PLAUSIBLE_EFFECTS[outcome]
    if outcome == "exports_eur" and baseline_mean is not None and baseline_mean > 0:
        return (0.10 * baseline_mean, 0.20 * baseline_mean)
    return None


def warn_if_underpowered(
    mde: PowerResult | float, plausible_effect: float | tuple[float, float]
) -> str | None:
    """The warning a report shows when a plausible effect is smaller than the MDE.

    Parameters
    ----------
    mde : PowerResult or float
        The minimum detectable effect (a result also gives the power at the plausible
        effect).
    plausible_effect : float or (low, high)
        The effect the literature makes plausible, in outcome units.

    Returns
    -------
    str or None
        ``None`` when even the low end of the plausible range is at least the MDE;
        otherwise one sentence saying what the design cannot show.

    Examples
    --------
    >>> warn_if_underpowered(0.12, (0.05, 0.10))[:40]
    'Underpowered: the minimum detectable eff'
    >>> warn_if_underpowered(0.04, (0.05, 0.10)) is None
    True
    """
    if isinstance(plausible_effect, (tuple, list)):
        if len(plausible_effect) != 2:
            raise ValueError("plausible_effect must be a number or a (low, high) pair")
        low, high = sorted(abs(float(x)) for x in plausible_effect)
    else:
        low = high = abs(float(plausible_effect))
    res = mde if isinstance(mde, PowerResult) else None
    m = res.mde if res is not None else float(mde)
    if not math.isfinite(m) or m <= 0:
        raise ValueError(f"mde must be a positive number, got {m!r}")
    if low >= m:
        return None
    level = f"{100 * res.power:.0f}%" if res is not None else "the chosen"
    rng = f"{low:.3g}" if low == high else f"{low:.3g} to {high:.3g}"
    head = (
        f"Underpowered: the minimum detectable effect at {level} power is {m:.3g}, "
        if high < m
        else f"Partly underpowered: the minimum detectable effect at {level} power is {m:.3g}, "
    )
    if high < m:
        body = f"above the whole plausible range ({rng})"
    else:
        body = f"inside the plausible range ({rng}); effects below it are likely to be missed"
    tail = ""
    if res is not None:
        tail = f"; the chance of detecting an effect of {low:.3g} is {100 * res.power_at(low):.0f}%"
    return head + body + tail + ". A non-significant estimate is not evidence of no effect."
