"""Small generated data sets for the DiD estimator tests.

Every generator is seeded, so each test sees the same numbers on every run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def staggered_panel(
    n_firms: int = 60,
    years: tuple[int, int] = (2010, 2019),
    cohorts: tuple[int, ...] = (2013, 2015, 2017),
    share_never: float = 0.4,
    effect: float = 0.5,
    n_consortia: int = 12,
    noise: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Firm-year panel with staggered joining and a constant effect.

    Columns: ``firm`` (string id), ``year``, ``cohort`` (first member year, 0 = never),
    ``member`` (0/1), ``consortium`` (firms nested in consortia), ``exports``.
    """
    rng = np.random.default_rng(seed)
    yrs = np.arange(years[0], years[1] + 1)
    firm = np.repeat(np.arange(n_firms), yrs.size)
    year = np.tile(yrs, n_firms)
    never = rng.random(n_firms) < share_never
    never[0] = share_never > 0  # at least one never-treated firm unless asked for none
    never[1] = False  # and at least one treated firm
    cohort_f = np.where(never, 0, rng.choice(cohorts, n_firms))
    cohort = cohort_f[firm]
    member = ((cohort > 0) & (year >= cohort)).astype(int)
    firm_effect = rng.normal(0, 1, n_firms)[firm]
    year_effect = rng.normal(0, 0.5, yrs.size)[year - yrs[0]]
    exports = firm_effect + year_effect + effect * member + rng.normal(0, noise, firm.size)
    return pd.DataFrame(
        {
            "firm": [f"F{i:03d}" for i in firm],
            "year": year,
            "cohort": cohort,
            "member": member,
            "consortium": (np.arange(n_firms) % n_consortia)[firm],
            "exports": exports,
        }
    )


def unbalanced(df: pd.DataFrame, frac: float, seed: int) -> pd.DataFrame:
    """A random ``frac`` of the rows, in their original order."""
    return df.sample(frac=frac, random_state=seed).sort_index()


@pytest.fixture(scope="session")
def make_panel() -> Callable[..., pd.DataFrame]:
    return staggered_panel


@pytest.fixture(scope="session")
def make_unbalanced() -> Callable[..., pd.DataFrame]:
    return unbalanced


@pytest.fixture
def two_by_two_panel() -> pd.DataFrame:
    """40 firms observed in 2 pre and 2 post years; half of them join."""
    rng = np.random.default_rng(7)
    n, t = 40, 4
    firm = np.repeat(np.arange(n), t)
    year = np.tile(np.arange(t), n)
    treated = (firm < 20).astype(int)
    post = (year >= 2).astype(int)
    y = rng.normal(0, 1, n)[firm] + 0.3 * post + 0.8 * treated * post + rng.normal(0, 1, n * t)
    return pd.DataFrame(
        {"firm": firm, "year": year, "treated": treated, "post": post, "exports": y}
    )


@pytest.fixture
def two_by_two_cross_section() -> pd.DataFrame:
    """Pooled cross-sections: different firms before and after, unequal cell sizes."""
    rng = np.random.default_rng(11)
    n = 300
    treated = (rng.random(n) < 0.35).astype(int)
    post = (rng.random(n) < 0.55).astype(int)
    y = 1.0 + 0.4 * treated + 0.2 * post + 0.6 * treated * post
    y = y + rng.normal(0, 1 + treated, n)  # heteroskedastic
    region = rng.integers(0, 35, n)
    return pd.DataFrame({"treated": treated, "post": post, "region": region, "exports": y})
