"""The indicator kernels' fast paths give the numbers of their plain definitions.

``count_distinct`` and ``dominance`` address a (cell x firm) key space directly when it is
small and hash the keys when it is not; ``_lag`` reads a dense firm x year table. Each is
checked here against a straightforward pandas computation, on random inputs with repeated
(cell, firm) pairs, negative contributions and duplicated firm-years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policylab.indicators import _cells
from policylab.indicators.firms import _lag


def _random_cells(seed: int, n: int = 3000, n_cells: int = 17, n_firms: int = 400):
    rng = np.random.default_rng(seed)
    cell = rng.integers(0, n_cells, n)
    who = rng.integers(0, n_firms, n)
    x = rng.normal(size=n) * rng.integers(0, 2, n)  # zeros and negative contributions
    return cell, who, x, n_cells


@pytest.fixture(params=["direct", "hashed"])
def path(request, monkeypatch):
    if request.param == "hashed":
        monkeypatch.setattr(_cells, "_DIRECT_KEYS", 1)
        monkeypatch.setattr(_cells, "_DIRECT_SUM_KEYS", 1)
    return request.param


@pytest.mark.parametrize("seed", range(5))
def test_count_distinct_is_the_number_of_distinct_firms_per_cell(seed, path):
    cell, who, _, n_cells = _random_cells(seed)
    who[::7] = -1  # a missing firm is not counted
    got = _cells.count_distinct(cell, who, n_cells)
    frame = pd.DataFrame({"cell": cell, "who": who})
    want = frame[frame["who"] >= 0].groupby("cell")["who"].nunique().reindex(range(n_cells), fill_value=0)
    np.testing.assert_array_equal(got, want.to_numpy())


@pytest.mark.parametrize("seed", range(5))
def test_dominance_counts_contributors_and_the_largest_share(seed, path):
    cell, who, x, n_cells = _random_cells(seed)
    n, share = _cells.dominance(cell, who, x, n_cells)
    per = pd.DataFrame({"cell": cell, "who": who, "x": x}).groupby(["cell", "who"])["x"].sum().abs()
    by_cell = per.groupby(level="cell")
    want_n = (per > 0).groupby(level="cell").sum().reindex(range(n_cells), fill_value=0)
    total = by_cell.sum().reindex(range(n_cells), fill_value=0.0)
    top = by_cell.max().reindex(range(n_cells), fill_value=0.0)
    want_share = np.where(total > 0, top / total.where(total > 0, 1.0), 0.0)
    np.testing.assert_array_equal(n, want_n.to_numpy(dtype="float64"))
    np.testing.assert_allclose(share, want_share, rtol=1e-12, atol=0)


def test_both_paths_give_identical_bits(monkeypatch):
    cell, who, x, n_cells = _random_cells(11, n=20_000)
    direct = _cells.dominance(cell, who, x, n_cells), _cells.count_distinct(cell, who, n_cells)
    monkeypatch.setattr(_cells, "_DIRECT_KEYS", 1)
    monkeypatch.setattr(_cells, "_DIRECT_SUM_KEYS", 1)
    hashed = _cells.dominance(cell, who, x, n_cells), _cells.count_distinct(cell, who, n_cells)
    for a, b in zip([*direct[0], direct[1]], [*hashed[0], hashed[1]]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_lag_reads_the_same_firm_k_years_earlier(k):
    rng = np.random.default_rng(k)
    firms = np.repeat([f"F{i:03d}" for i in range(60)], 8)
    years = np.tile(np.arange(2015, 2023), 60)
    keep = rng.random(len(firms)) > 0.25  # gaps in the panel
    panel = pd.DataFrame({"firm_id": firms[keep], "year": years[keep]})
    panel = pd.concat([panel, panel.iloc[::29]], ignore_index=True)  # some firm-years twice
    panel["x"] = np.where(rng.random(len(panel)) < 0.1, np.nan, rng.normal(size=len(panel)))
    panel = panel.sort_values(["firm_id", "year"], kind="stable", ignore_index=True)
    panel["firm_code"] = pd.factorize(panel["firm_id"])[0]
    got = _lag(panel, "x", k)
    # the definition: the first row of (firm, year - k), NaN when there is none
    s = panel.set_index(["firm_id", "year"])["x"]
    s = s[~s.index.duplicated()]
    want = s.reindex(pd.MultiIndex.from_arrays([panel["firm_id"], panel["year"] - k])).to_numpy()
    np.testing.assert_array_equal(got, want)
