"""The generator: one region's synthetic world from seeded random streams; :func:`generate`.

- the firm panel is generated from potential outcomes: ``Y0`` for every firm-year and ``Y1``
  for treated firm-years (a member from its first join year on, also after it leaves:
  intention to treat). The observed value is ``Y1`` where treated. ``truth.csv`` holds the
  realized sample effects (mean of ``Y1 - Y0``) that the estimators should recover;
- the effects are calibrated to the published magnitudes in the domain notes (section 2.3):
  +5 to +10 percentage points of export propensity, +10 to +20 % export value for members that
  already export, ramping in over 2-4 years; Molise has no effect at all and Kent has a
  selection pre-trend (future members' exports grow faster before they join).

Everything is drawn from ``numpy.random.default_rng`` with fixed seeds, one stream per concern
(firms, names, clusters, effects, finance, orders, blanks), so ``generate()`` and the written
files are identical on every run. The pieces are in :mod:`.firms`, :mod:`.clusters`,
:mod:`.orders` and :mod:`.names`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clusters import _cluster_finance, _clusters_table, _make_clusters, _membership_table
from .firms import _firm_traits, _firms_table, _outcomes, _potential_table, _treatment, _truth
from .lab import ExampleLab, RegionExample
from .names import _cluster_names, _firm_names, _unique_ids
from .orders import _orders
from .regions import REGIONS
from .spec import DEFAULT_SEED, RegionSpec


def _rng(seed: int, region_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, region_index, stream])


def _region(seed: int, index: int, spec: RegionSpec) -> RegionExample:
    """One region's world. Each stream is drawn in a fixed order: ``rng_firm`` is used by
    :func:`_firm_traits` and then by :func:`_outcomes`, so keep the calls in this order."""
    n = spec.n_firms
    rng_firm = _rng(seed, index, 1)
    rng_names = _rng(seed, index, 2)
    rng_clus = _rng(seed, index, 3)
    rng_eff = _rng(seed, index, 4)
    rng_fin = _rng(seed, index, 5)
    rng_ord = _rng(seed, index, 6)
    rng_miss = _rng(seed, index, 7)

    # --- ids and names ---------------------------------------------------------------------------
    firm_ids = _unique_ids(rng_names, spec.firm_id, n, 10**5 if "06d" in spec.firm_id else 10**4)
    if spec.key == "kujawsko_pomorskie":  # numeric ids without leading zeros
        firm_ids = [str(100000 + 7 * int(x)) for x in firm_ids]
    names = _firm_names(rng_names, spec.language, n)
    cluster_ids = [spec.cluster_id.format(n=c + 1) for c in range(spec.n_clusters)]
    cluster_names = _cluster_names(rng_names, spec.language, spec.n_clusters)
    ids = np.array(firm_ids, dtype=object)

    # --- firms, clusters and membership (selection on ability and sector), outcomes -------------
    firms = _firm_traits(rng_firm, spec)
    clusters, mem = _make_clusters(
        rng_clus, spec, firms.ability, firms.sector, firms.first, firms.last, cluster_ids
    )
    treatment = _treatment(mem, n)
    out = _outcomes(rng_firm, rng_eff, rng_miss, spec, firms, treatment)

    # --- the canonical tables, the potential outcomes and the truth ------------------------------
    potential = _potential_table(ids, firms, treatment, out)
    cluster_finance, seed_grant = _cluster_finance(rng_fin, clusters, mem)
    orders = _orders(
        rng_ord, spec, clusters, mem, ids, cluster_ids, firms.observed, out.exports_obs
    )
    return RegionExample(
        spec,
        _firms_table(ids, names, firms, out),
        _membership_table(mem, ids, cluster_ids),
        _clusters_table(clusters, cluster_ids, cluster_names, seed_grant),
        cluster_finance,
        orders,
        potential,
        _truth(spec.key, potential),
        out.switchers,
    )


def generate(seed: int = DEFAULT_SEED) -> ExampleLab:
    """Build the six regions' synthetic worlds; identical output for the same ``seed``."""
    regions = tuple(_region(seed, i, spec) for i, spec in enumerate(REGIONS))
    truth = pd.concat([r.truth for r in regions], ignore_index=True)
    return ExampleLab(seed=seed, regions=regions, truth=truth)
