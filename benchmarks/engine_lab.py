"""A generated staggered firm-year panel, written as a canonical store, at any size (issue 14).

The engine benchmark (``benchmarks/bench_engines.py``) needs stores of 1 M to 50 M firm-years
for one region; this writes them in bounded memory: the panel is generated in chunks of
``chunk_rows`` firm-years (default 1 M), each appended as one row group to the region's single
part file with a pyarrow ``ParquetWriter``, so a 50 M-row store needs the memory of one chunk
(about 200 MB), not of the panel. The output is what :class:`policylab.store.CanonicalStore`
writes (the same columns, Arrow types and pandas metadata, so ``pandas`` reads ``year`` as
``Int64`` and the ids as ``string``)::

    <out>/firms/region=<key>/part-0.parquet         firm_id, year, sector, employees,
                                                    turnover_eur, exports_eur, n_export_markets
    <out>/membership/region=<key>/part-0.parquet    firm_id, cluster_id, join_year, exit_year
    <out>/_manifest/<key>.json                      what was generated (no content hashes)
    <out>/engine_lab.json                           the generator's parameters and row counts

The panel (deterministic given ``seed``; chunk ``c`` of region ``r`` draws from
``default_rng([seed, r, c])``):

* years 2008-2022 (15); 70 % of the firms are observed every year, the others enter between
  2008 and 2015 and stay at least 5 years (an unbalanced panel); a region's firm-years are
  exactly ``n_rows / n_regions`` (the last firm of a chunk may be cut short);
* 70 % never-members (``member_share``, default 0.30, sets the members' share). Members join a consortium of about 15 members in the consortium's
  founding year or 1-3 years later; consortia are founded 2011-2018, so the cohorts spread
  over 8 years (2011-2021, most in 2011-2019). 3 % of the members joined before 2009
  (treated in the first year: the estimator drops them) and 3 % join after 2022 (not yet
  treated in the window: never-treated to the estimator). 10 % of the members join a second
  consortium 1-3 years later, 15 % of the memberships end (``exit_year``);
* exports: a firm's export propensity and scale (members are somewhat more export-prone:
  selection on levels, which the difference-in-differences removes), a common trend, and
  an effect of membership from the join year on (+0.3 on the log-odds of exporting, +10 %
  on the positive part); zero for non-exporters (about half of the firm-years), lognormal
  otherwise; 1 % of the values missing; ``n_export_markets`` 0 for non-exporters, 1 +
  Poisson otherwise (missing with exports); turnover = exports + a lognormal domestic part.

Usage::

    python benchmarks/engine_lab.py --rows 10000000 --out engine-lab-10m
    python benchmarks/engine_lab.py --rows 1000000 --regions 2 --out engine-lab-2
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

FIRST_YEAR, LAST_YEAR = 2008, 2022
N_YEARS = LAST_YEAR - FIRST_YEAR + 1
NEVER_SHARE = 0.70
MEMBERS_PER_CONSORTIUM = 15
FOUNDED = (2011, 2018)  # consortia founded in these years (inclusive): 8 cohorts and their lags
BALANCED_SHARE = 0.70
MIN_SPELL = 5
MISSING_SHARE = 0.01
SECTORS = ("C10", "C13", "C16", "C20", "C22", "C25", "C26", "C27", "C28", "C29", "C31", "C32",
           "G46", "H49", "J62", "M71", "M72", "N82")
GENERATOR = "policylab benchmarks/engine_lab.py v1"

#: firm-years a firm has on average (70 % full spells, 30 % entering 2008-2015 and staying
#: at least MIN_SPELL years); used to size chunks and the number of consortia
_MEAN_SPELL = BALANCED_SHARE * N_YEARS + (1 - BALANCED_SHARE) * 11.25


def _schemas():
    """The canonical Arrow schemas, with the pandas metadata ``CanonicalStore`` writes."""
    import pandas as pd
    import pyarrow as pa

    firms = pd.DataFrame({
        "firm_id": pd.Series([], dtype="string"), "year": pd.Series([], dtype="Int64"),
        "sector": pd.Series([], dtype="string"), "employees": pd.Series([], dtype="float64"),
        "turnover_eur": pd.Series([], dtype="float64"),
        "exports_eur": pd.Series([], dtype="float64"),
        "n_export_markets": pd.Series([], dtype="float64"),
    })
    membership = pd.DataFrame({
        "firm_id": pd.Series([], dtype="string"), "cluster_id": pd.Series([], dtype="string"),
        "join_year": pd.Series([], dtype="Int64"), "exit_year": pd.Series([], dtype="Int64"),
    })
    out = {}
    for name, frame in (("firms", firms), ("membership", membership)):
        schema = pa.Schema.from_pandas(frame, preserve_index=False)
        # the store's files hold large_string ids (pandas' string dtype as written by pyarrow)
        fields = [pa.field(f.name, pa.large_string() if pa.types.is_string(f.type)
                           or pa.types.is_large_string(f.type) else f.type) for f in schema]
        out[name] = pa.schema(fields, metadata=schema.metadata)
    return out


def _region_consortia(n_rows: int, member_share: float) -> int:
    members = n_rows / _MEAN_SPELL * member_share
    return max(1, round(members / MEMBERS_PER_CONSORTIUM))


def _chunk(rng: np.random.Generator, n_rows: int, first_firm: int, region: str,
           n_consortia: int, founded: np.ndarray, member_share: float):
    """``n_rows`` firm-years of new firms numbered from ``first_firm``: (firms table,
    membership table, number of firms)."""
    import pyarrow as pa

    # spells: enough firms for n_rows, the last one cut short
    n_guess = math.ceil(n_rows / _MEAN_SPELL * 1.1) + 16
    full = rng.random(n_guess) < BALANCED_SHARE
    entry = np.where(full, FIRST_YEAR, rng.integers(FIRST_YEAR, 2016, n_guess))
    stay = rng.integers(MIN_SPELL, N_YEARS + 1, n_guess)
    exit_ = np.where(full, LAST_YEAR, np.minimum(entry + stay - 1, LAST_YEAR))
    length = exit_ - entry + 1
    ends = np.cumsum(length)
    n_firms = int(np.searchsorted(ends, n_rows) + 1)
    if n_firms > n_guess:  # pragma: no cover - 10 % headroom
        raise RuntimeError("spell draw too short")
    length = length[:n_firms].copy()
    length[-1] -= int(ends[n_firms - 1] - n_rows)
    entry = entry[:n_firms]

    firm_of = np.repeat(np.arange(n_firms), length)
    starts = np.repeat(np.cumsum(length) - length, length)
    year = entry[firm_of] + (np.arange(n_rows) - starts)

    # membership: cohort = first join year (0 = never a member)
    member = rng.random(n_firms) >= 1 - member_share  # as v1 drew them at 30 %
    consortium = rng.integers(0, n_consortia, n_firms)
    lag = np.minimum(rng.geometric(0.55, n_firms) - 1, 3)
    join = founded[consortium] + lag
    odd = rng.random(n_firms)
    join = np.where(odd < 0.03, rng.integers(2004, 2009, n_firms),
                    np.where(odd > 0.97, rng.integers(2023, 2026, n_firms), join))
    cohort = np.where(member, join, 0)

    # outcomes
    propensity = rng.normal(-0.2, 1.6, n_firms) + 0.4 * member
    scale = rng.normal(11.8, 1.3, n_firms) + 0.2 * member
    t = (year - FIRST_YEAR).astype(np.float64)
    coh = cohort[firm_of]
    on = (coh > 0) & (year >= coh)
    logit = propensity[firm_of] + 0.04 * t + 0.3 * on + rng.normal(0.0, 0.6, n_rows)
    exporter = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))
    log_x = scale[firm_of] + 0.03 * t + 0.10 * on + rng.normal(0.0, 0.6, n_rows)
    exports = np.where(exporter, np.round(np.exp(log_x), 2), 0.0)
    missing = rng.random(n_rows) < MISSING_SHARE
    exports[missing] = np.nan
    lam = np.exp(0.4 + 0.35 * (scale[firm_of] - 11.8))
    markets = np.where(exporter, 1.0 + rng.poisson(np.minimum(lam, 50.0)), 0.0)
    markets = np.minimum(markets, 250.0)
    markets[missing] = np.nan
    domestic = np.exp(scale[firm_of] + 1.0 + 0.02 * t + rng.normal(0.0, 0.3, n_rows))
    turnover = np.round(np.nan_to_num(exports) + domestic, 2)
    size = rng.normal(2.6, 1.1, n_firms)
    employees = np.maximum(1.0, np.round(np.exp(size[firm_of] + rng.normal(0.0, 0.15, n_rows))))
    sector_of = rng.integers(0, len(SECTORS), n_firms)

    prefix = region[:2].upper()
    ids = pa.array([f"{prefix}{i:09d}" for i in range(first_firm, first_firm + n_firms)],
                   type=pa.large_string())
    sectors = pa.array(SECTORS, type=pa.large_string())
    rows = pa.array(firm_of)
    firms = {
        "firm_id": ids.take(rows),
        "year": pa.array(year.astype(np.int64)),
        "sector": sectors.take(pa.array(sector_of[firm_of])),
        "employees": pa.array(employees),
        "turnover_eur": pa.array(turnover),
        "exports_eur": pa.array(exports, from_pandas=True),
        "n_export_markets": pa.array(markets, from_pandas=True),
    }

    m = np.flatnonzero(member)
    second = m[rng.random(m.size) < 0.10]
    m_firm = np.r_[m, second]
    m_cons = np.r_[consortium[m], (consortium[second] + 1 + rng.integers(0, 7, second.size))
                   % n_consortia]
    m_join = np.r_[join[m], join[second] + rng.integers(1, 4, second.size)]
    ends_ = rng.random(m_firm.size) < 0.15
    m_exit = np.where(ends_, m_join + rng.integers(2, 7, m_firm.size), 0)
    cons_ids = pa.array([f"K{c:06d}" for c in range(n_consortia)], type=pa.large_string())
    membership = {
        "firm_id": ids.take(pa.array(m_firm)),
        "cluster_id": cons_ids.take(pa.array(m_cons)),
        "join_year": pa.array(m_join.astype(np.int64)),
        "exit_year": pa.array(m_exit.astype(np.int64), mask=~ends_),
    }
    return firms, membership, n_firms


def write_store(out: str | Path, n_rows: int, *, seed: int = 2024, n_regions: int = 1,
                chunk_rows: int = 1_000_000, region_prefix: str = "gen",
                member_share: float = 1 - NEVER_SHARE, quiet: bool = False) -> dict:
    """Write the generated store to ``out`` (see the module notes); returns its description
    (also written to ``<out>/engine_lab.json``). ``n_rows`` firm-years in all, split equally
    over ``n_regions`` regions named ``<region_prefix>0, <region_prefix>1, ...``; a share
    ``member_share`` of the firms are members (0.30 by default; a register of all firms, of
    which a programme supports a few, is nearer 0.01-0.02)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    if n_rows < n_regions * 1000:
        raise ValueError("at least 1000 firm-years per region")
    schemas = _schemas()
    t0 = time.perf_counter()
    regions = []
    for r in range(n_regions):
        key = f"{region_prefix}{r}"
        rows_r = n_rows // n_regions + (1 if r < n_rows % n_regions else 0)
        n_consortia = _region_consortia(rows_r, member_share)
        founded = np.random.default_rng([seed, r, 1 << 30]).integers(
            FOUNDED[0], FOUNDED[1] + 1, n_consortia)
        paths = {t: out / t / f"region={key}" / "part-0.parquet" for t in schemas}
        for p in paths.values():
            p.parent.mkdir(parents=True, exist_ok=True)
        writers = {t: pq.ParquetWriter(paths[t], schemas[t], compression="snappy")
                   for t in schemas}
        done, firms_so_far, m_rows, c = 0, 0, 0, 0
        try:
            while done < rows_r:
                n = min(chunk_rows, rows_r - done)
                f, m, nf = _chunk(np.random.default_rng([seed, r, c]), n, firms_so_far, key,
                                  n_consortia, founded, member_share)
                writers["firms"].write_table(pa.table(f, schema=schemas["firms"]),
                                             row_group_size=chunk_rows)
                mt = pa.table(m, schema=schemas["membership"])
                writers["membership"].write_table(mt, row_group_size=chunk_rows)
                done += n
                firms_so_far += nf
                m_rows += mt.num_rows
                c += 1
                if not quiet and c % 10 == 0:
                    print(f"  {key}: {done:,} / {rows_r:,} firm-years "
                          f"({time.perf_counter() - t0:.0f} s)", flush=True)
        finally:
            for w in writers.values():
                w.close()
        info = {"region": key, "firm_years": rows_r, "firms": firms_so_far,
                "membership_rows": m_rows, "consortia": n_consortia, "chunks": c,
                "bytes": {t: p.stat().st_size for t, p in paths.items()}}
        regions.append(info)
        manifest = {"format": 1, "region": key, "fingerprint": f"{GENERATOR} seed={seed}",
                    "generated": True,
                    "tables": {t: {"path": paths[t].relative_to(out).as_posix(),
                                   "rows": rows_r if t == "firms" else m_rows} for t in paths}}
        (out / "_manifest").mkdir(parents=True, exist_ok=True)
        (out / "_manifest" / f"{key}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    desc = {"generator": GENERATOR, "seed": seed, "n_rows": n_rows, "n_regions": n_regions,
            "member_share": member_share,
            "chunk_rows": chunk_rows, "years": [FIRST_YEAR, LAST_YEAR], "regions": regions,
            "seconds": round(time.perf_counter() - t0, 1)}
    (out / "engine_lab.json").write_text(json.dumps(desc, indent=2) + "\n")
    return desc


def existing(out: str | Path, n_rows: int, *, seed: int, n_regions: int,
             member_share: float = 1 - NEVER_SHARE) -> dict | None:
    """The description of a store already written at ``out`` with these parameters, or None."""
    try:
        desc = json.loads((Path(out) / "engine_lab.json").read_text())
    except (OSError, ValueError):
        return None
    same = (desc.get("generator") == GENERATOR and desc.get("seed") == seed
            and desc.get("n_rows") == n_rows and desc.get("n_regions") == n_regions
            and desc.get("member_share", 1 - NEVER_SHARE) == member_share)
    return desc if same else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, required=True, help="firm-years in all (e.g. 1e7)")
    ap.add_argument("--out", required=True, help="store folder to write")
    ap.add_argument("--regions", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--member-share", type=float, default=1 - NEVER_SHARE,
                    help="share of the firms that are members (default 0.30)")
    args = ap.parse_args()
    desc = write_store(args.out, int(args.rows), seed=args.seed, n_regions=args.regions,
                       chunk_rows=args.chunk_rows, member_share=args.member_share)
    print(json.dumps(desc, indent=2))


if __name__ == "__main__":
    main()
