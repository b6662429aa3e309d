"""The firm panel: traits, potential outcomes ``Y0`` / ``Y1`` (planted effects) and the truth.

Arrays are firm x year over :data:`~.spec.YEARS` (firms in the order of their ids); money is in
EUR. The observed value is ``Y1`` for treated firm-years (a member from its first join year on,
also after it leaves) and ``Y0`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .spec import (FIRST_YEAR, LAST_YEAR, TRUTH_COLUMNS, TRUTH_OUTCOMES, VALUE_SPLIT_OUTCOMES,
                   YEARS, Effects, RegionSpec)


@dataclass(frozen=True)
class _Firms:
    """One region's firms before any treatment: traits per firm, the rest firm x year."""

    ability: np.ndarray  # latent export capability
    sector: np.ndarray
    first: np.ndarray  # first observed year
    last: np.ndarray  # last observed year
    observed: np.ndarray  # firm x year: the firm is in the panel
    log_emp: np.ndarray  # firm x year
    employees: np.ndarray  # firm x year
    turnover0: np.ndarray  # firm x year: untreated turnover, EUR, not rounded


@dataclass(frozen=True)
class _Treatment:
    """Who is treated when; ``cohort`` is the first join year per firm (0 = never a member)."""

    cohort: np.ndarray
    event: np.ndarray  # firm x year: year - cohort (-999 for never-members)
    treated: np.ndarray  # firm x year: event >= 0 (intention to treat)
    pre_years: np.ndarray  # firm x year: years before joining (0 if not a future member)


@dataclass(frozen=True)
class _Outcomes:
    """Potential and observed outcomes, firm x year; money in EUR rounded to cents."""

    exports0: np.ndarray  # Y0
    exports1: np.ndarray  # Y1 (equal to Y0 where untreated)
    exports_obs: np.ndarray
    turnover_obs: np.ndarray
    markets_obs: np.ndarray
    missing: np.ndarray  # the observed export value is blank (unknown)
    switchers: int  # members switched on to exporting by the programme (at full ramp)


def _ar1(rng: np.random.Generator, n: int, t: int, rho: float, sd: float) -> np.ndarray:
    out = np.empty((n, t))
    out[:, 0] = rng.normal(0, sd, n)
    innov = sd * np.sqrt(1 - rho**2)
    for j in range(1, t):
        out[:, j] = rho * out[:, j - 1] + rng.normal(0, innov, n)
    return out


def _panel_span(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last observed year per firm: ~5 % enter late, ~5 % leave early."""
    first = np.full(n, FIRST_YEAR)
    last = np.full(n, LAST_YEAR)
    order = rng.permutation(n)
    n_late = round(0.05 * n)
    n_early = round(0.05 * n)
    late, early = order[:n_late], order[n_late : n_late + n_early]
    first[late] = rng.integers(2013, 2020, n_late)
    last[early] = rng.integers(2016, 2023, n_early)
    return first, last



def _firm_traits(rng: np.random.Generator, spec: RegionSpec) -> _Firms:
    """Static traits, panel span, employees and untreated turnover (EUR) of a region's firms."""
    n, t = spec.n_firms, len(YEARS)
    ability = rng.normal(0, 1, n)  # latent export capability
    sector_w = np.linspace(2.0, 1.0, len(spec.sectors))
    sector = rng.choice(np.array(spec.sectors), size=n, p=sector_w / sector_w.sum())
    first, last = _panel_span(rng, n)
    observed = (YEARS[None, :] >= first[:, None]) & (YEARS[None, :] <= last[:, None])

    log_emp = np.log(14) + 0.9 * rng.normal(0, 1, n) + 0.35 * ability
    log_emp = log_emp[:, None] + np.cumsum(
        np.c_[np.zeros(n), rng.normal(0.01, 0.06, (n, t - 1))], axis=1
    )
    employees = np.clip(np.round(np.exp(log_emp)), 2, 249).astype("int64")
    productivity = np.exp(rng.normal(np.log(110_000), 0.35, n))
    macro = np.cumsum(rng.normal(0.025, 0.02, t))
    macro[YEARS >= 2020] -= 0.07
    macro[YEARS >= 2021] += 0.06
    turnover0 = (
        employees * productivity[:, None] * np.exp(macro[None, :] + _ar1(rng, n, t, 0.6, 0.08))
    )
    return _Firms(ability, sector, first, last, observed, log_emp, employees, turnover0)


def _treatment(mem: pd.DataFrame, n: int) -> _Treatment:
    """Cohorts (first join year) and treated firm-years from the memberships (firm indices)."""
    cohort = np.zeros(n, dtype="int64")
    first_join = mem.groupby("firm_index")["join_year"].min()
    cohort[first_join.index.to_numpy()] = first_join.to_numpy()
    member = cohort > 0
    event = np.where(member[:, None], YEARS[None, :] - cohort[:, None], -999)
    treated = member[:, None] & (event >= 0)
    pre_years = np.where(member[:, None] & (event < 0), -event, 0)  # years before joining
    return _Treatment(cohort, event, treated, pre_years)


def _untreated_exports(
    rng: np.random.Generator, spec: RegionSpec, firms: _Firms, pre_years: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y0: export status (threshold model), export value (EUR, not rounded) and markets."""
    n, t = spec.n_firms, len(YEARS)
    eff = spec.effects
    year_index = np.cumsum(rng.normal(0.02, 0.03, t))
    z = (
        firms.ability[:, None]
        + 0.3 * (firms.log_emp - firms.log_emp.mean())
        + year_index[None, :]
        + _ar1(rng, n, t, 0.7, 0.3)
        - eff.pretrend_index * pre_years
    )
    base = firms.observed[:, :3]
    threshold = np.quantile(z[:, :3][base], 1 - spec.baseline_exporters)
    exporter0 = z > threshold
    intensity = np.clip(rng.beta(2, 5, n), 0.03, 0.9)
    export_trend = np.cumsum(rng.normal(0.01, 0.03, t))
    export_trend[YEARS >= 2020] -= 0.08
    share = np.minimum(
        intensity[:, None]
        * np.exp(
            export_trend[None, :]
            + _ar1(rng, n, t, 0.5, 0.12)
            - eff.pretrend_log_exports * pre_years
        ),
        0.95,
    )
    exports0 = np.where(exporter0, share * firms.turnover0, 0.0)
    markets_base = rng.gamma(2.0, 1.2, n)
    rel = np.where(exports0 > 0, exports0, 1.0) / 250_000
    markets0 = np.where(exporter0, 1 + np.floor(markets_base[:, None] * rel**0.3), 0).astype(
        "int64"
    )
    markets0 = np.minimum(markets0, 30)
    return exporter0, exports0, markets0


def _switchers(
    rng: np.random.Generator,
    eff: Effects,
    cohort: np.ndarray,
    exporter0: np.ndarray,
    observed: np.ndarray,
) -> np.ndarray:
    """When each firm is switched on to exporting, as a ramp threshold (inf = never).

    Every cohort gets its share ``exporter_pp`` of switchers (largest-remainder rounding across
    cohorts), drawn among its members that would not export from their join year on (``Y0``).
    A switcher's threshold ``v`` is a stratified uniform within its cohort; it exports from the
    first event time with ``ramp(e) > v``, so the share switched on follows the ramp and, once on,
    a firm stays on.
    """
    n = len(cohort)
    switch_at = np.full(n, np.inf)
    groups = np.unique(cohort[cohort > 0])
    if eff.exporter_pp <= 0 or len(groups) == 0:
        return switch_at
    sizes = np.array([(cohort == g).sum() for g in groups])
    quota = eff.exporter_pp * sizes
    k = np.floor(quota).astype(int)
    extra = round(float(quota.sum())) - int(k.sum())
    k[np.argsort(-(quota - k), kind="stable")[:extra]] += 1
    for g, q in zip(groups, k, strict=True):
        in_g = np.flatnonzero(cohort == g)
        after = observed[in_g, g - FIRST_YEAR :]
        never = ~(exporter0[in_g, g - FIRST_YEAR :] & after).any(axis=1)
        pool = in_g[never]
        chosen = np.sort(rng.choice(pool, size=min(int(q), len(pool)), replace=False))
        m = len(chosen)
        switch_at[chosen] = (rng.permutation(m) + rng.random(m)) / max(m, 1)
    return switch_at


def _treated_exports(
    rng: np.random.Generator,
    eff: Effects,
    firms: _Firms,
    treatment: _Treatment,
    exporter0: np.ndarray,
    exports0: np.ndarray,
    markets0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y1: the planted effects on treated firm-years; returns exports (EUR), markets, switch_at."""
    n = len(treatment.cohort)
    treated = treatment.treated
    ramp = eff.ramp(treatment.event) * treated
    switch_at = _switchers(rng, eff, treatment.cohort, exporter0, firms.observed)
    switch_on = treated & (switch_at[:, None] < ramp)
    small_share = rng.uniform(0.02, 0.06, n)
    exports1 = np.where(
        exporter0,
        exports0 * (1 + eff.value_pct * ramp),
        np.where(switch_on, small_share[:, None] * firms.turnover0, 0.0),
    )
    gain = rng.binomial(2, min(eff.markets / 2, 1.0), n)
    markets1 = np.where(
        exporter0,
        markets0 + np.floor(gain[:, None] * ramp + 0.5).astype("int64"),
        np.where(switch_on, 1, 0),
    )
    if eff.is_zero:  # exactly no effect: Y1 is Y0, bit for bit
        exports1, markets1 = exports0.copy(), markets0.copy()
    return exports1, markets1, switch_at


def _outcomes(
    rng_firm: np.random.Generator,
    rng_eff: np.random.Generator,
    rng_miss: np.random.Generator,
    spec: RegionSpec,
    firms: _Firms,
    treatment: _Treatment,
) -> _Outcomes:
    """Y0, Y1 and the observed values (Y1 where treated), with ~1 % of export values blank."""
    n, t = spec.n_firms, len(YEARS)
    exporter0, exports0, markets0 = _untreated_exports(rng_firm, spec, firms, treatment.pre_years)
    exports1, markets1, switch_at = _treated_exports(
        rng_eff, spec.effects, firms, treatment, exporter0, exports0, markets0
    )

    exports0 = np.round(exports0, 2)
    exports1 = np.round(exports1, 2)
    turnover0 = np.round(firms.turnover0, 2)
    turnover1 = np.where(
        exports1 != exports0, np.round(turnover0 + (exports1 - exports0), 2), turnover0
    )
    treated = treatment.treated
    exports_obs = np.where(treated, exports1, exports0)
    turnover_obs = np.where(treated, turnover1, turnover0)
    markets_obs = np.where(treated, markets1, markets0)

    # ~1 % of export values are unknown (blank), distinct from 0 (= does not export).
    missing = firms.observed & (rng_miss.random((n, t)) < 0.01)
    return _Outcomes(
        exports0,
        exports1,
        exports_obs,
        turnover_obs,
        markets_obs,
        missing,
        int(np.isfinite(switch_at).sum()),
    )


# --------------------------------------------------------------------------------------------
# Tables: firms, potential outcomes, truth
# --------------------------------------------------------------------------------------------


def _firms_table(ids: np.ndarray, names: list[str], firms: _Firms, out: _Outcomes) -> pd.DataFrame:
    """The canonical firms table: one row per observed firm-year, money in EUR."""
    ii, jj = np.nonzero(firms.observed)
    return pd.DataFrame(
        {
            "firm_id": pd.array(ids[ii], dtype="str"),
            "year": YEARS[jj].astype("int64"),
            "exports_eur": np.where(out.missing[ii, jj], np.nan, out.exports_obs[ii, jj]),
            "turnover_eur": out.turnover_obs[ii, jj],
            "employees": firms.employees[ii, jj],
            "sector": pd.array(firms.sector[ii].astype(object), dtype="str"),
            "n_export_markets": pd.array(
                np.where(out.missing[ii, jj], pd.NA, out.markets_obs[ii, jj]).tolist(),
                dtype="Int64",
            ),
            "firm_name": pd.array(np.array(names, dtype=object)[ii], dtype="str"),
        }
    )


def _potential_table(
    ids: np.ndarray, firms: _Firms, treatment: _Treatment, out: _Outcomes
) -> pd.DataFrame:
    """One row per observed firm-year: cohort, treated, Y0, Y1 (treated rows only), blank."""
    ii, jj = np.nonzero(firms.observed)
    treated = treatment.treated
    return pd.DataFrame(
        {
            "firm_id": pd.array(ids[ii], dtype="str"),
            "year": YEARS[jj].astype("int64"),
            "cohort": treatment.cohort[ii],
            "treated": treated[ii, jj],
            "exports_eur_y0": out.exports0[ii, jj],
            "exports_eur_y1": np.where(treated[ii, jj], out.exports1[ii, jj], np.nan),
            "exports_missing": out.missing[ii, jj],
        }
    )


def _truth(key: str, potential: pd.DataFrame) -> pd.DataFrame:
    """Realized effects: mean of Y1 - Y0 over a cohort's firms observed (non-missing) in a year;
    for export value also its parts from prior exporters and from the other firms."""
    p = potential[potential["treated"] & ~potential["exports_missing"]]
    y0, y1 = p["exports_eur_y0"].to_numpy(), p["exports_eur_y1"].to_numpy()
    first = potential.loc[potential["cohort"] > 0, "cohort"].min()
    before = potential[(potential["year"] < first) & ~potential["exports_missing"]]
    prior = p["firm_id"].isin(before.loc[before["exports_eur_y0"] > 0, "firm_id"]).to_numpy()
    gain = y1 - y0
    diffs = {
        "exporter": (y1 > 0).astype("float64") - (y0 > 0).astype("float64"),
        "log_exports": np.log1p(y1) - np.log1p(y0),
        "exports_eur": gain,
        "exports_eur_prior_exporters": np.where(prior, gain, 0.0),
        "exports_eur_new_exporters": np.where(prior, 0.0, gain),
    }
    frames = []
    for outcome in (*TRUTH_OUTCOMES, *VALUE_SPLIT_OUTCOMES):
        d = pd.DataFrame(
            {"cohort": p["cohort"].to_numpy(), "year": p["year"].to_numpy(), "diff": diffs[outcome]}
        )
        g = d.groupby(["cohort", "year"], sort=True)["diff"].agg(["mean", "size"]).reset_index()
        frames.append(
            pd.DataFrame(
                {
                    "region": key,
                    "cohort": g["cohort"].astype("int64"),
                    "year": g["year"].astype("int64"),
                    "event_time": (g["year"] - g["cohort"]).astype("int64"),
                    "outcome": outcome,
                    "att": g["mean"].astype("float64"),
                    "n_firms": g["size"].astype("int64"),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return out.astype({"region": "str", "outcome": "str"})[TRUTH_COLUMNS]
