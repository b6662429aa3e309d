"""The SQL of the out-of-core firm-panel indicators, written once for DuckDB and Spark SQL.

The same dialect subset as :mod:`policylab.engines.sql`: ``SELECT`` / ``JOIN`` /
``GROUP BY`` / ``UNION ALL``, window aggregates over ``RANGE`` frames, ``CASE``, ``CAST``,
``COALESCE``, ``abs``, ``isnan``. No division happens in SQL (Spark's ANSI mode would raise on a
zero denominator): every ratio and share is formed in Python from the per-cell sums.

Two statements (three with :func:`outcome_counts_sql`), each returning a few hundred rows
at most:

:func:`region_stats_sql`
    per region: firm-years, firms, first and last year, member firms, missing exports and
    the known headcounts (what :func:`policylab.pipeline.data_quality` reports, and what the
    indicator scopes are planned from: each region's window and whether it has a headcount);
:func:`firm_cells_sql`
    per scope (a region, or the lab), period (a year, or ``-1`` = cumulative) and firm group
    (``members`` / ``not_yet_members`` / ``never_members`` / ``all``): the counts and sums
    of I12, I13, I14, I15/I15P, I21 and the region cells of I16. The firm-year panel is that
    of :attr:`policylab.indicators.inputs.Inputs.panel`; every row goes to its year's cell
    and the cumulative one, for its group and ``all`` (a cross join with four rows), is
    summed per firm (the contributions the dominance rule needs) and then per cell;
    with, in the same statement, I16's per-consortium cells (region scope): member-years
    (``join_year <= year < exit_year``) in the indicator's years, with the firm's new
    markets that year.

Relations the caller binds: the ``firms`` and ``membership`` views of
:class:`~policylab.engines.sql.Relations`, and small registered tables: ``scopes`` (per
region and scope: which indicators the region counts in and the scope's first reported
years), ``new_markets`` (I16's per-firm counts, computed by pandas from the small orders
table) and ``years`` (I16's years per region).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .sql import Relations, _double, _regions_in

#: What a column reads as when no region's files have it.
NULL_DOUBLE = "CAST(NULL AS DOUBLE)"

#: Columns of :func:`region_stats_sql`.
STATS_COLUMNS = ("region", "firm_years", "first_year", "last_year", "missing_exports",
                 "n_employees", "firms", "members")

#: Per-cell sums of :func:`firm_cells_sql` (after ``scope, period, grp``), by indicator.
CELL_SUMS: dict[str, tuple[str, ...]] = {
    # known firms, firms with an unknown row, sum, and the dominance parts of the sum
    "I12": ("n12", "m12", "v12", "c12", "top12", "tot12"),
    "I14": ("v14", "d14"),  # exporters and known rows (firms as I12's)
    "I13": ("n13", "m13", "v13", "d13", "c13", "top13", "tot13", "cd13", "topd13", "totd13"),
    "I15": ("n15", "m15", "v15", "d15"),  # eligible firms, undetermined, new exporters, rows
    "I21": ("n21", "m21", "v21", "c21", "top21", "tot21"),
    "I16": ("n16", "v16"),
}
SUM_COLUMNS: tuple[str, ...] = tuple(c for cols in CELL_SUMS.values() for c in cols)

#: The schema of the registered tables.
SCOPE_SCHEMA = (("region", "STRING"), ("scope", "STRING"), ("u12", "BIGINT"), ("u13", "BIGINT"),
                ("u21", "BIGINT"), ("u16", "BIGINT"), ("y15", "BIGINT"), ("y21", "BIGINT"),
                ("s16", "BIGINT"))
NEW_MARKETS_SCHEMA = (("region", "STRING"), ("firm_id", "STRING"), ("year", "BIGINT"),
                      ("new", "DOUBLE"))
YEARS_SCHEMA = (("region", "STRING"), ("year", "BIGINT"))

# every row in its year's cell and the cumulative one (cy), for its group and "all" (cg)
_EXPAND = ("(SELECT 0 AS cy, 0 AS cg UNION ALL SELECT 0 AS cy, 1 AS cg "
           "UNION ALL SELECT 1 AS cy, 0 AS cg UNION ALL SELECT 1 AS cy, 1 AS cg)")
_ZERO = "CAST(0 AS DOUBLE)"


def column(name: str, present: bool) -> str:
    """A numeric column as DOUBLE with NaN read as missing, or NULL when no file has it."""
    return _double(name) if present else NULL_DOUBLE


def region_stats_sql(rel: Relations, regions: Sequence[str], *, exports: bool,
                     employees: bool) -> str:
    """Per region (:data:`STATS_COLUMNS`): rows of the firms table, distinct firm ids, first
    and last year, firms whose id appears in the membership table, rows with unknown exports
    (all of them when the column is missing) and rows with a known headcount."""
    where = f"region IN {_regions_in(regions)}"
    x = column("exports_eur", exports)
    e = column("employees", employees)
    return f"""WITH pl_ids AS (
  SELECT DISTINCT CAST(region AS STRING) AS region, CAST(firm_id AS STRING) AS firm_id
  FROM {rel.firms}
  WHERE {where} AND firm_id IS NOT NULL
),
pl_member_ids AS (
  SELECT DISTINCT CAST(region AS STRING) AS region, CAST(firm_id AS STRING) AS firm_id
  FROM {rel.membership}
  WHERE {where} AND firm_id IS NOT NULL
),
pl_firm_counts AS (
  SELECT i.region, COUNT(*) AS firms, COUNT(m.firm_id) AS members
  FROM pl_ids i
  LEFT JOIN pl_member_ids m ON i.region = m.region AND i.firm_id = m.firm_id
  GROUP BY i.region
),
pl_row_counts AS (
  SELECT CAST(region AS STRING) AS region, COUNT(*) AS firm_years,
         MIN(CAST(year AS BIGINT)) AS first_year, MAX(CAST(year AS BIGINT)) AS last_year,
         SUM(CASE WHEN {x} IS NULL THEN 1 ELSE 0 END) AS missing_exports,
         COUNT({e}) AS n_employees
  FROM {rel.firms}
  WHERE {where}
  GROUP BY CAST(region AS STRING)
)
SELECT r.region, r.firm_years, r.first_year, r.last_year, r.missing_exports, r.n_employees,
       COALESCE(c.firms, CAST(0 AS BIGINT)) AS firms,
       COALESCE(c.members, CAST(0 AS BIGINT)) AS members
FROM pl_row_counts r
LEFT JOIN pl_firm_counts c ON r.region = c.region
"""


def _cohorts(rel: Relations, where: str, *, cluster_known: bool) -> str:
    """Per region and ever-member firm its cohort (first join year) over its membership rows
    with firm, join year (and, for the indicators, consortium) known."""
    cluster = " AND cluster_id IS NOT NULL" if cluster_known else ""
    return f"""SELECT CAST(region AS STRING) AS region, CAST(firm_id AS STRING) AS firm_id,
         MIN(CAST(join_year AS BIGINT)) AS cohort
  FROM {rel.membership}
  WHERE {where} AND firm_id IS NOT NULL AND join_year IS NOT NULL{cluster}
  GROUP BY CAST(region AS STRING), CAST(firm_id AS STRING)"""


def firm_cells_sql(rel: Relations, regions: Sequence[str], *, scopes: str,
                   new_markets: str | None, lookback: int, present: Mapping[str, bool],
                   cluster_years: str | None = None, cluster_regions: Sequence[str] = (),
                   exit_year: bool = False) -> str:
    """Rows ``part, scope, period, grp`` and the sums :data:`SUM_COLUMNS`: per scope, period
    and group (``part = 'cell'``; see the module notes) and, with ``cluster_years``, I16 per
    consortium of ``cluster_regions`` (``part = 'cluster'``, ``scope`` = the region, ``grp``
    = the consortium, the sums in ``v16`` and the member firms in ``n16``, the other
    columns NULL; see :func:`cluster_markets_sql`).

    ``scopes`` names the registered table (:data:`SCOPE_SCHEMA`): one row per region and
    scope the region counts in, with flags ``u12`` (its firm-years count in I12-I15P),
    ``u13`` (I13), ``u21`` (I21), ``u16`` (I16) and the scope's first years: ``y15`` (first
    year + look-back, I15), ``y21`` (first year + 1, I21) and the region's ``s16`` (I16's
    start). ``new_markets`` names the registered I16 table (:data:`NEW_MARKETS_SCHEMA`), or
    None. ``present`` says which of ``exports_eur``, ``turnover_eur``, ``employees`` some
    region's files have.

    Row rules, as :mod:`policylab.indicators.firms`: rows without firm id or year are left
    out; I12/I14 count rows with exports known, I13 rows with exports and turnover known and
    turnover > 0, I15 rows with exports known in the year and in each of the ``lookback``
    previous years (known: all of those 0; undetermined: any of them unknown or absent;
    firms exporting in a look-back year are not in the population), I21 rows with a headcount
    known in the year and the year before (the change), I16 rows from the region's start.
    """
    k = int(lookback)
    where = f"region IN {_regions_in(regions)}"
    x = column("exports_eur", present.get("exports_eur", False))
    t = column("turnover_eur", present.get("turnover_eur", False))
    e = column("employees", present.get("employees", False))
    firm = "PARTITION BY r.region, r.firm_id ORDER BY r.year"
    if new_markets is not None:
        nm_join = (f"LEFT JOIN {new_markets} n "
                   "ON f.region = n.region AND f.firm_id = n.firm_id AND f.year = n.year")
        nm_new = f"COALESCE(n.new, {_ZERO})"
    else:
        nm_join, nm_new = "", _ZERO
    in15 = "s.u12 = 1 AND f.year >= s.y15"
    in21 = "s.u21 = 1 AND f.year >= s.y21"
    in16 = "s.u16 = 1 AND f.year >= s.s16"

    clusters = ctes = ""
    if cluster_years is not None:
        ctes = _cluster_ctes(rel, cluster_regions, new_markets=new_markets, years=cluster_years,
                             exit_year=exit_year) + ",\n"
        nulls = {c: ("COUNT(DISTINCT firm_id)" if c == "n16" else "SUM(new)" if c == "v16"
                     else "CAST(NULL AS DOUBLE)") for c in SUM_COLUMNS}
        clusters = ("\nUNION ALL\nSELECT 'cluster' AS part, region AS scope, period, "
                    "cluster_id AS grp,\n       "
                    + ", ".join(f"{v} AS {c}" for c, v in nulls.items())
                    + "\nFROM pl_cluster_cells\nGROUP BY region, cluster_id, period")

    def dominance(name: str, col: str) -> str:
        return (f"SUM(CASE WHEN {col} <> 0 THEN 1 ELSE 0 END) AS {name[0]}, "
                f"MAX(abs({col})) AS {name[1]}, SUM(abs({col})) AS {name[2]}")

    return f"""WITH {ctes}pl_cohorts AS (
  {_cohorts(rel, where, cluster_known=True)}
),
pl_rows AS (
  SELECT CAST(region AS STRING) AS region, CAST(firm_id AS STRING) AS firm_id,
         CAST(year AS BIGINT) AS year, {x} AS x, {t} AS t, {e} AS e
  FROM {rel.firms}
  WHERE {where} AND firm_id IS NOT NULL AND year IS NOT NULL
),
pl_lagged AS (
  SELECT r.region, r.firm_id, r.year, r.x, r.t, r.e,
         COALESCE(c.cohort, CAST(0 AS BIGINT)) AS cohort,
         COUNT(r.x) OVER ({firm} RANGE BETWEEN {k} PRECEDING AND 1 PRECEDING) AS nk,
         SUM(CASE WHEN r.x = 0 THEN 1 ELSE 0 END)
           OVER ({firm} RANGE BETWEEN {k} PRECEDING AND 1 PRECEDING) AS nz,
         MAX(r.e) OVER ({firm} RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS e_prev
  FROM pl_rows r
  LEFT JOIN pl_cohorts c ON r.region = c.region AND r.firm_id = c.firm_id
),
pl_flags AS (
  SELECT region, firm_id, year, x, t, e, e_prev,
         CASE WHEN cohort = 0 THEN 'never_members'
              WHEN year >= cohort THEN 'members' ELSE 'not_yet_members' END AS grp,
         CASE WHEN x IS NOT NULL THEN 1 ELSE 0 END AS k12,
         CASE WHEN x IS NOT NULL AND t IS NOT NULL AND t > 0 THEN 1 ELSE 0 END AS k13,
         CASE WHEN x IS NOT NULL AND nk = {k} THEN 1 ELSE 0 END AS det15,
         CASE WHEN x IS NOT NULL AND nk = {k} AND nz = {k} THEN 1 ELSE 0 END AS el15,
         CASE WHEN e IS NOT NULL AND e_prev IS NOT NULL THEN 1 ELSE 0 END AS k21
  FROM pl_lagged
),
pl_scoped AS (
  SELECT s.scope, f.region, f.firm_id, f.year, f.grp,
         s.u12 * f.k12 AS a12, s.u12 * (1 - f.k12) AS b12,
         CASE WHEN s.u12 = 1 AND f.k12 = 1 THEN f.x ELSE {_ZERO} END AS x12,
         CASE WHEN s.u12 = 1 AND f.k12 = 1 AND f.x > 0 THEN 1 ELSE 0 END AS e14,
         s.u13 * f.k13 AS a13, s.u13 * (1 - f.k13) AS b13,
         CASE WHEN s.u13 = 1 AND f.k13 = 1 THEN f.x ELSE {_ZERO} END AS x13,
         CASE WHEN s.u13 = 1 AND f.k13 = 1 THEN f.t ELSE {_ZERO} END AS t13,
         CASE WHEN {in15} AND f.el15 = 1 THEN 1 ELSE 0 END AS a15,
         CASE WHEN {in15} AND f.det15 = 0 THEN 1 ELSE 0 END AS b15,
         CASE WHEN {in15} AND f.el15 = 1 AND f.x > 0 THEN 1 ELSE 0 END AS x15,
         CASE WHEN {in21} AND f.k21 = 1 THEN 1 ELSE 0 END AS a21,
         CASE WHEN {in21} AND f.k21 = 0 THEN 1 ELSE 0 END AS b21,
         CASE WHEN {in21} AND f.k21 = 1 THEN f.e - f.e_prev ELSE {_ZERO} END AS x21,
         CASE WHEN {in16} THEN 1 ELSE 0 END AS a16,
         CASE WHEN {in16} THEN {nm_new} ELSE {_ZERO} END AS x16
  FROM pl_flags f
  JOIN {scopes} s ON f.region = s.region
  {nm_join}
),
pl_expanded AS (
  SELECT p.*,
         CASE WHEN c.cy = 1 THEN CAST(-1 AS BIGINT) ELSE p.year END AS period,
         CASE WHEN c.cg = 1 THEN 'all' ELSE p.grp END AS cell_group
  FROM pl_scoped p
  CROSS JOIN {_EXPAND} c
),
pl_firm_cells AS (
  SELECT scope, period, cell_group, region, firm_id,
         MAX(a12) AS a12, MAX(b12) AS b12, SUM(x12) AS x12, SUM(e14) AS e14, SUM(a12) AS r12,
         MAX(a13) AS a13, MAX(b13) AS b13, SUM(x13) AS x13, SUM(t13) AS t13,
         MAX(a15) AS a15, MAX(b15) AS b15, SUM(x15) AS x15, SUM(a15) AS r15,
         MAX(a21) AS a21, MAX(b21) AS b21, SUM(x21) AS x21,
         MAX(a16) AS a16, SUM(x16) AS x16
  FROM pl_expanded
  GROUP BY scope, period, cell_group, region, firm_id
)
SELECT 'cell' AS part, scope, period, cell_group AS grp,
       SUM(a12) AS n12, SUM(b12) AS m12, SUM(x12) AS v12,
       {dominance(("c12", "top12", "tot12"), "x12")},
       SUM(e14) AS v14, SUM(r12) AS d14,
       SUM(a13) AS n13, SUM(b13) AS m13, SUM(x13) AS v13, SUM(t13) AS d13,
       {dominance(("c13", "top13", "tot13"), "x13")},
       {dominance(("cd13", "topd13", "totd13"), "t13")},
       SUM(a15) AS n15, SUM(b15) AS m15, SUM(x15) AS v15, SUM(r15) AS d15,
       SUM(a21) AS n21, SUM(b21) AS m21, SUM(x21) AS v21,
       {dominance(("c21", "top21", "tot21"), "x21")},
       SUM(a16) AS n16, SUM(x16) AS v16
FROM pl_firm_cells
GROUP BY scope, period, cell_group{clusters}
"""


def _cluster_ctes(rel: Relations, regions: Sequence[str], *, new_markets: str, years: str,
                  exit_year: bool) -> str:
    """I16 per consortium (region scope), ``pl_cluster_cells``: one row per member-year
    (:attr:`~policylab.indicators.inputs.Inputs.member_years`: memberships with firm,
    consortium and join year known, ``join_year <= year < exit_year``, a blank exit: still
    a member) in the region's years of the indicator (table ``years``), with the firm's new
    markets that year, for its year and the cumulative period (``-1``). Summed per
    consortium and period (a firm in two memberships of a consortium counts twice, as the
    member-year rows do in pandas) beside its distinct member firms."""
    where = f"region IN {_regions_in(regions)}"
    exit_col = column("exit_year", exit_year)
    return f"""pl_memberships AS (
  SELECT CAST(region AS STRING) AS region, CAST(firm_id AS STRING) AS firm_id,
         CAST(cluster_id AS STRING) AS cluster_id, CAST(join_year AS BIGINT) AS join_year,
         {exit_col} AS exit_year
  FROM {rel.membership}
  WHERE {where} AND firm_id IS NOT NULL AND cluster_id IS NOT NULL AND join_year IS NOT NULL
),
pl_member_years AS (
  SELECT m.region, m.cluster_id, m.firm_id, y.year, COALESCE(n.new, {_ZERO}) AS new
  FROM pl_memberships m
  JOIN {years} y ON m.region = y.region AND y.year >= m.join_year
       AND (m.exit_year IS NULL OR y.year < m.exit_year)
  LEFT JOIN {new_markets} n ON n.region = m.region AND n.firm_id = m.firm_id AND n.year = y.year
),
pl_cluster_cells AS (
  SELECT my.region, my.cluster_id, my.firm_id, my.new,
         CASE WHEN c.cy = 1 THEN CAST(-1 AS BIGINT) ELSE my.year END AS period
  FROM pl_member_years my
  CROSS JOIN (SELECT 0 AS cy UNION ALL SELECT 1 AS cy) c
)"""


#: Whether a firm-year has each outcome of :data:`policylab.config.OUTCOME_COLUMNS`
#: (as :func:`policylab.did.panel.firm_panel` derives it): exports known for ``exporter``
#: and ``exports_eur``, ``log1p(exports)`` not NaN (exports >= -1) for ``log_exports``,
#: the column known for ``n_export_markets``.
def observed_sql(outcome: str, source: str) -> str:
    if source == NULL_DOUBLE:
        return "FALSE"
    if outcome == "log_exports":
        return f"({source} >= -1)"
    return f"({source} IS NOT NULL)"


def outcome_counts_sql(rel: Relations, regions: Sequence[str],
                       observed: Sequence[str]) -> str:
    """Per region: for each outcome ``i`` (its condition ``observed[i]`` on the firms row)
    ``m_i`` = distinct firms with the outcome observed and cohort > 0, ``n_i`` = with cohort
    0 (cohort as :func:`policylab.did.panel.cohorts`: first join year over the memberships
    with firm and join year known)."""
    where = f"region IN {_regions_in(regions)}"
    seen = ",\n         ".join(
        f"MAX(CASE WHEN {cond} THEN 1 ELSE 0 END) AS o_{i}" for i, cond in enumerate(observed))
    sums = ",\n       ".join(
        f"SUM(CASE WHEN cohort > 0 THEN o_{i} ELSE 0 END) AS m_{i}, "
        f"SUM(CASE WHEN cohort = 0 THEN o_{i} ELSE 0 END) AS n_{i}"
        for i in range(len(observed)))
    return f"""WITH pl_cohorts AS (
  {_cohorts(rel, where, cluster_known=False)}
),
pl_firms AS (
  SELECT CAST(region AS STRING) AS region, CAST(firm_id AS STRING) AS firm_id,
         {seen}
  FROM {rel.firms}
  WHERE {where} AND firm_id IS NOT NULL
  GROUP BY CAST(region AS STRING), CAST(firm_id AS STRING)
)
SELECT f.region, {sums}
FROM (
  SELECT p.*, COALESCE(c.cohort, CAST(0 AS BIGINT)) AS cohort
  FROM pl_firms p
  LEFT JOIN pl_cohorts c ON p.region = c.region AND p.firm_id = c.firm_id
) f
GROUP BY f.region
"""
