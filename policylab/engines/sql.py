"""The SQL of the out-of-core Callaway-Sant'Anna stage, written once for DuckDB and Spark SQL.

Only plain ``SELECT`` / ``JOIN`` / ``GROUP BY`` / ``UNION ALL`` and window aggregates
(``ROW_NUMBER``, ``MIN ... OVER``) are used, with functions both dialects know
(``CAST(... AS STRING)``, ``concat``, ``ln``, ``isnan``, ``abs``, ``COALESCE``, simple
``CASE``), so the same text runs on either engine. The engines bind the relation names
(:class:`Relations`) to the regions' Parquet partitions (with a ``region`` column, as hive
partitioning gives) and to the small coefficient tables :mod:`policylab.engines.combine`
computes.

A batch of requests (regions x outcomes x comparison groups x options) takes the same few
statements, whatever its size, each returning a few hundred rows at most:

:func:`panel_sql`
    the firm-year panel of the regions with every requested outcome, materialised once by
    the engine (relation ``obs``), and :func:`units_sql`, its firms (relation ``units``);
:func:`stats_sql`
    per region, cohort and year and for each outcome: rows with the outcome, their sum, and
    how many firms are first seen (with the outcome) that year; and per region the data
    checks (rows without firm or year, missing and infinite outcomes, duplicated firm-years);
:func:`influence_sql`
    for every slot ``q`` (a request, or a block of its estimates) and each of its estimates
    ``j`` (``ATT(g,t)`` and the aggregates), the sum over clusters of the squared
    per-cluster sums of the estimate's influence function. A firm-year row adds
    ``a_j * (y - m) + c_j`` (coefficients per slot, cohort and year: table ``row_coef``), a
    firm adds ``u_j`` (the term for the estimated aggregation weights, per slot and cohort:
    table ``unit_coef``) when it belongs to the request's unit table (first seen before the
    request's last period ``cut``). The firms-sized work is a join and a ``GROUP BY`` slot
    and cluster inside the engine (spilling to disk as needed); Python only ever sees the
    cohort-year counts and one sum of squares per estimate;
:func:`cross_sql`
    the same per-cluster sums for blocks of estimates (a request's event-time estimates),
    and per block the sums over clusters of their pairwise products (a k x k matrix per
    block): the clustered covariance of the dynamic aggregation, from a cross join of the
    per-cluster sums with the k estimate indices, never a firms-sized result.

The firm-year panel is the one :func:`policylab.did.panel.firm_panel` builds: cohort = the
first join year (ties broken by the consortium id), 0 for never-members; consortium = the
consortium of that first membership, ``"firm:<id>"`` for never-members.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: The outcomes the out-of-core path derives, as did.panel.firm_panel does, and the store
#: column each one is made from.
OUTCOME_SOURCE: dict[str, str] = {
    "exporter": "exports_eur",
    "log_exports": "exports_eur",
    "exports_eur": "exports_eur",
    "n_export_markets": "n_export_markets",
}

#: What standard errors may cluster on: the consortium (the lab's default) or the firm.
CLUSTER_COLUMNS: dict[str, str] = {"consortium": "consortium", "firm_id": "firm_id"}

_REGION_KEY = re.compile(r"^[a-z0-9_]+$")  # config.Region.key


@dataclass(frozen=True)
class Relations:
    """The names the queries read: ``firms`` and ``membership`` (every requested region, with
    a ``region`` column), the materialised panel ``obs`` (:func:`panel_sql`) and its firms
    ``units`` (:func:`units_sql`), and the two coefficient tables."""

    firms: str
    membership: str
    obs: str = "pl_obs"
    units: str = "pl_units"
    row_coef: str = "pl_row_coef"
    unit_coef: str = "pl_unit_coef"


def check_region_key(region: object) -> str:
    """``region`` if it is a valid region key (``[a-z0-9_]+``, as in the lab config)."""
    if not isinstance(region, str) or not _REGION_KEY.match(region):
        from ..errors import UsageError

        raise UsageError(f"region must be a region key of the lab (lowercase letters, digits and "
                         f"'_'), got {region!r}")
    return region


def _double(col: str) -> str:
    """The column as DOUBLE with NaN read as missing (pandas treats both alike)."""
    x = f"CAST({col} AS DOUBLE)"
    return f"(CASE WHEN isnan({x}) THEN NULL ELSE {x} END)"


def outcome_sql(outcome: str) -> str:
    """The SQL expression of ``outcome`` from a firms row, as ``firm_panel`` computes it:
    ``exporter = 1[exports_eur > 0]``, ``log_exports = log(1 + exports_eur)`` (``-inf`` at
    -1 and missing below, as ``numpy.log1p``), ``exports_eur`` and ``n_export_markets``."""
    x = _double(OUTCOME_SOURCE[outcome])
    if outcome == "exporter":
        return (f"(CASE WHEN {x} IS NULL THEN NULL WHEN {x} > 0 THEN CAST(1 AS DOUBLE) "
                f"ELSE CAST(0 AS DOUBLE) END)")
    if outcome == "log_exports":
        return (f"(CASE WHEN {x} > -1 THEN ln(1 + {x}) "
                f"WHEN {x} = -1 THEN CAST('-Infinity' AS DOUBLE) ELSE NULL END)")
    return x


def _regions_in(regions: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{check_region_key(r)}'" for r in regions) + ")"


def panel_sql(rel: Relations, regions: Sequence[str], outcomes: Sequence[str],
              cluster: str) -> str:
    """The firm-year panel of the regions, every firms row: ``region, firm_id, year, cohort,
    cl`` (the cluster), ``y_0..`` (the outcomes), ``fy_0..`` (the firm's first year with
    outcome ``i``) and ``fy`` (its first year). The engines materialise it once
    (:attr:`Relations.obs`) for the queries."""
    where = f"region IN {_regions_in(regions)}"
    O = len(outcomes)
    ys = ", ".join(f"{outcome_sql(o)} AS y_{i}" for i, o in enumerate(outcomes))
    ycols = ", ".join(f"r.y_{i}" for i in range(O))
    first = ",\n       ".join(
        f"MIN(CASE WHEN y_{i} IS NOT NULL THEN year END) OVER (PARTITION BY region, firm_id) "
        f"AS fy_{i}" for i in range(O))
    return f"""WITH pl_first AS (
  SELECT region, firm_id, cohort, consortium
  FROM (
    SELECT CAST(region AS STRING) AS region,
           CAST(firm_id AS STRING) AS firm_id,
           CAST(join_year AS BIGINT) AS cohort,
           CAST(cluster_id AS STRING) AS consortium,
           ROW_NUMBER() OVER (
             PARTITION BY CAST(region AS STRING), CAST(firm_id AS STRING)
             ORDER BY CAST(join_year AS BIGINT) ASC, CAST(cluster_id AS STRING) ASC NULLS LAST
           ) AS pl_rank
    FROM {rel.membership}
    WHERE {where} AND firm_id IS NOT NULL AND join_year IS NOT NULL
  ) ranked
  WHERE pl_rank = 1
),
pl_raw AS (
  SELECT CAST(region AS STRING) AS region, CAST(firm_id AS STRING) AS firm_id,
         CAST(year AS BIGINT) AS year, {ys}
  FROM {rel.firms}
  WHERE {where}
),
pl_panel AS (
  SELECT r.region, r.firm_id, r.year, {ycols},
         COALESCE(f.cohort, CAST(0 AS BIGINT)) AS cohort,
         COALESCE(f.consortium, concat('firm:', r.firm_id)) AS consortium
  FROM pl_raw r
  LEFT JOIN pl_first f ON r.region = f.region AND r.firm_id = f.firm_id
)
SELECT region, firm_id, year, cohort, {CLUSTER_COLUMNS[cluster]} AS cl,
       {", ".join(f"y_{i}" for i in range(O))},
       {first},
       MIN(year) OVER (PARTITION BY region, firm_id) AS fy
FROM pl_panel
"""


_KEYED = "firm_id IS NOT NULL AND year IS NOT NULL"


def units_sql(rel: Relations, n_outcomes: int) -> str:
    """One row per firm of the panel ``rel.obs``: ``region, firm_id, cohort, cl, fy_0..``."""
    fys = ", ".join(f"fy_{i}" for i in range(n_outcomes))
    return (f"SELECT DISTINCT region, firm_id, cohort, cl, {fys} FROM {rel.obs} "
            f"WHERE firm_id IS NOT NULL")


def stats_sql(rel: Relations, n_outcomes: int) -> str:
    """The small tables the estimates are planned from, read from the panel ``rel.obs``.
    Columns ``part, region, cohort, k, a`` and, for each outcome ``i``, ``n_i, s_i, f_i``:

    * ``part = 'cell'``, per (region, cohort, year ``k``): the firms first seen that year
      (``a``), rows with outcome ``i`` (``n_i``), their sum (``s_i``) and the firms first seen
      with it that year (``f_i``);
    * ``part = 'rows'``, per region: ``k`` rows without firm id or year, ``n_i`` rows missing
      outcome ``i``, ``s_i`` rows where it is infinite, ``f_i`` rows in all;
    * ``part = 'dup'``, per region: ``n_i`` firm-years seen more than once with outcome ``i``
      (the extra rows).
    """
    O = n_outcomes
    cell = ", ".join(
        f"COUNT(y_{i}) AS n_{i}, SUM(y_{i}) AS s_{i}, "
        f"SUM(CASE WHEN y_{i} IS NOT NULL AND year = fy_{i} THEN 1 ELSE 0 END) AS f_{i}"
        for i in range(O))
    rows = ", ".join(
        f"COUNT(*) - COUNT(y_{i}) AS n_{i}, "
        f"CAST(SUM(CASE WHEN abs(y_{i}) = CAST('Infinity' AS DOUBLE) THEN 1 ELSE 0 END) "
        f"AS DOUBLE) AS s_{i}, COUNT(*) AS f_{i}" for i in range(O))
    dup_counts = ", ".join(f"COUNT(y_{i}) AS d_{i}" for i in range(O))
    dup = ", ".join(
        f"SUM(CASE WHEN d_{i} > 1 THEN d_{i} - 1 ELSE 0 END) AS n_{i}, "
        f"CAST(0 AS DOUBLE) AS s_{i}, CAST(0 AS BIGINT) AS f_{i}" for i in range(O))
    return f"""SELECT 'cell' AS part, region, cohort, year AS k,
       SUM(CASE WHEN year = fy THEN 1 ELSE 0 END) AS a, {cell}
FROM {rel.obs}
WHERE {_KEYED}
GROUP BY region, cohort, year
UNION ALL
SELECT 'rows' AS part, region, CAST(0 AS BIGINT) AS cohort,
       SUM(CASE WHEN {_KEYED} THEN 0 ELSE 1 END) AS k, CAST(0 AS BIGINT) AS a, {rows}
FROM {rel.obs}
GROUP BY region
UNION ALL
SELECT 'dup' AS part, region, CAST(0 AS BIGINT) AS cohort, CAST(0 AS BIGINT) AS k,
       CAST(0 AS BIGINT) AS a, {dup}
FROM (
  SELECT region, firm_id, year, {dup_counts}
  FROM {rel.obs}
  WHERE {_KEYED}
  GROUP BY region, firm_id, year
) pl_firm_years
GROUP BY region
"""


def clusters_sql(rel: Relations) -> str:
    """Clusters per region (``region, n``) of the panel's firms ``rel.units``."""
    return f"SELECT region, COUNT(DISTINCT cl) AS n FROM {rel.units} GROUP BY region"


def _cluster_sums(rel: Relations, n_outcomes: int, n_columns: int, unit_terms: Sequence[bool],
                  slots: tuple[int, int] | None, counts: bool) -> str:
    """The CTEs up to ``pl_cluster``: per slot ``q`` and cluster ``cl`` the sums ``s_0..`` of
    the estimates' influence functions (and, with ``counts``, ``p``: the cluster has a unit
    of the request, ``tp``: a treated one)."""
    J, O = n_columns, n_outcomes
    only = "" if slots is None else f" WHERE q >= {int(slots[0])} AND q < {int(slots[1])}"
    y_of = "CASE c.o " + " ".join(f"WHEN {i} THEN o.y_{i}" for i in range(O)) + " END"
    fy_of = "CASE c.o " + " ".join(f"WHEN {i} THEN u.fy_{i}" for i in range(O)) + " END"
    coefs = ", ".join([f"c.a_{j}" for j in range(J)] + [f"c.c_{j}" for j in range(J)])
    row_terms = ",\n         ".join(f"a_{j} * d + c_{j} AS s_{j}" for j in range(J))
    unit_cols = ",\n         ".join(
        (f"c.u_{j} AS s_{j}" if unit_terms[j] else f"CAST(0 AS DOUBLE) AS s_{j}") for j in range(J))
    sums = ",\n         ".join(f"SUM(s_{j}) AS s_{j}" for j in range(J))
    rows_p = "CAST(0 AS BIGINT) AS p, CAST(0 AS BIGINT) AS tp,\n         " if counts else ""
    units_p = "CAST(1 AS BIGINT) AS p, treated AS tp,\n         " if counts else ""
    cluster_p = "MAX(p) AS p, MAX(tp) AS tp,\n         " if counts else ""
    return f"""WITH pl_rows AS (
  SELECT c.q, o.cl, ({y_of}) - c.m AS d, {coefs}
  FROM {rel.obs} o
  JOIN (SELECT * FROM {rel.row_coef}{only}) c
    ON o.region = c.region AND o.cohort = c.cohort AND o.year = c.year
  WHERE o.firm_id IS NOT NULL
),
pl_units AS (
  SELECT c.q, u.cl, c.treated, c.cut, ({fy_of}) AS fy,
         {unit_cols}
  FROM {rel.units} u
  JOIN (SELECT * FROM {rel.unit_coef}{only}) c ON u.region = c.region AND u.cohort = c.cohort
),
pl_contrib AS (
  SELECT q, cl, {rows_p}{row_terms}
  FROM pl_rows
  WHERE d IS NOT NULL
  UNION ALL
  SELECT q, cl, {units_p}{", ".join(f"s_{j}" for j in range(J))}
  FROM pl_units
  WHERE fy < cut
),
pl_cluster AS (
  SELECT q, cl, {cluster_p}{sums}
  FROM pl_contrib
  GROUP BY q, cl
)"""


def influence_sql(rel: Relations, n_outcomes: int, n_columns: int,
                  unit_terms: Sequence[bool], slots: tuple[int, int] | None = None) -> str:
    """Per request ``q``: clusters with a unit of the request (``n_clusters``), those with a
    treated one (``n_treated_clusters``) and ``q_j``, the sum over clusters of the squared
    per-cluster influence-function sums of estimate ``j`` (``j < n_columns``), from the panel
    ``rel.obs`` and its firms ``rel.units``.

    Reads ``rel.row_coef`` (``q, region, cohort, year, o, m, a_0.., c_0..``: the request's
    outcome index ``o``, centring ``m`` and coefficients per kept raw cohort and year) and
    ``rel.unit_coef`` (``q, region, cohort, o, cut, treated, u_0..``, per kept raw cohort).
    ``unit_terms[j]`` is False when no request has a firm-level term in column ``j``;
    ``slots = (lo, hi)`` limits the query to the requests (slots) ``lo <= q < hi``.
    """
    squares = ",\n       ".join(f"SUM(s_{j} * s_{j}) AS q_{j}" for j in range(n_columns))
    return _cluster_sums(rel, n_outcomes, n_columns, unit_terms, slots, counts=True) + f"""
SELECT q, SUM(p) AS n_clusters, SUM(tp) AS n_treated_clusters,
       {squares}
FROM pl_cluster
GROUP BY q
"""


def cross_sql(rel: Relations, n_outcomes: int, n_columns: int, unit_terms: Sequence[bool],
              slots: tuple[int, int] | None = None) -> str:
    """The cross products of each block ``q`` of estimates (one slot: e.g. a request's
    event-time estimates): per block and estimate ``e`` (``e < n_columns``), ``v_j``, the sum
    over clusters of the product of the per-cluster influence-function sums of estimates
    ``e`` and ``j``. Rows with all products zero (an estimate with no influence) are left out.

    Reads ``rel.row_coef`` and ``rel.unit_coef`` as :func:`influence_sql` does (a slot is a
    block). The per-cluster sums (one wide row per block and cluster, as in
    :func:`influence_sql`) are paired with themselves by a cross join with the ``n_columns``
    estimate indices (one row per block, cluster and estimate ``e``, carrying the ``s_e`` it
    multiplies): no join on clusters, and only blocks x estimates rows come back.
    """
    J = n_columns
    index = " UNION ALL ".join(f"SELECT CAST({j} AS BIGINT) AS e" for j in range(J))
    pick = "CASE i.e " + " ".join(f"WHEN {j} THEN s_{j}" for j in range(J)) + " END"
    wide = ", ".join(f"s_{j}" for j in range(J))
    products = ",\n       ".join(f"SUM(s * s_{j}) AS v_{j}" for j in range(J))
    return _cluster_sums(rel, n_outcomes, J, unit_terms, slots, counts=False) + f""",
pl_pairs AS (
  SELECT q, e, s, {wide}
  FROM (
    SELECT q, i.e, {pick} AS s, {wide}
    FROM pl_cluster
    CROSS JOIN ({index}) i
  ) pl_unpivot
  WHERE s <> 0
)
SELECT q, e,
       {products}
FROM pl_pairs
GROUP BY q, e
"""
