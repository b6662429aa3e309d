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

The laboratory's other half (issue 13: the SME panel, cross-regional links and orders, the
practice-transfer log; :mod:`.panel`, :mod:`.links`, :mod:`.practices`) is drawn afterwards
from streams of its own (8 to 11 per region; one lab-wide stream for the links), read from
the finished tables: adding it changed none of the other tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clusters import _cluster_finance, _clusters_table, _make_clusters, _membership_table
from .firms import _firm_traits, _firms_table, _outcomes, _potential_table, _treatment, _truth
from .lab import ExampleLab, RegionExample
from .links import Link, _link_plan, _partner_regions, _partnerships
from .names import _cluster_names, _firm_names, _unique_ids
from .orders import _orders
from .panel import _survey
from .practices import _practices
from .regions import REGIONS
from .spec import DEFAULT_SEED, RegionSpec

#: The lab-wide stream of the cross-regional links: [seed, LAB_STREAM, 1] (regions use
#: [seed, region index, stream]).
LAB_STREAM = 1000


def _rng(seed: int, region_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, region_index, stream])


def _region(seed: int, index: int, spec: RegionSpec, plan: list[Link]) -> RegionExample:
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
    firms_table = _firms_table(ids, names, firms, out)
    membership = _membership_table(mem, ids, cluster_ids)
    clusters_table = _clusters_table(clusters, cluster_ids, cluster_names, seed_grant)

    # --- the laboratory's other half: streams of its own, read from the tables above ----------
    nuts = [r.nuts2 for r in REGIONS]
    orders["partner_region"] = _partner_regions(_rng(seed, index, 8), spec, orders, nuts)
    survey = _survey(_rng(seed, index, 9), spec, firms_table, membership, clusters_table)
    partnerships = _partnerships(_rng(seed, index, 10), spec, plan, clusters_table)
    practices = _practices(_rng(seed, index, 11), spec, {r.nuts2: r.name for r in REGIONS})
    return RegionExample(
        spec,
        firms_table,
        membership,
        clusters_table,
        cluster_finance,
        orders,
        potential,
        _truth(spec.key, potential),
        out.switchers,
        survey,
        partnerships,
        practices,
    )


def generate(seed: int = DEFAULT_SEED) -> ExampleLab:
    """Build the six regions' synthetic worlds; identical output for the same ``seed``."""
    plan = _link_plan(np.random.default_rng([seed, LAB_STREAM, 1]), [r.nuts2 for r in REGIONS])
    regions = tuple(_region(seed, i, spec, plan) for i, spec in enumerate(REGIONS))
    truth = pd.concat([r.truth for r in regions], ignore_index=True)
    return ExampleLab(seed=seed, regions=regions, truth=truth)
