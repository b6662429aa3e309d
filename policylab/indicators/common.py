"""The EU Cohesion Policy common indicators a managing authority reports (Regulation (EU)
2021/1058, Annex I; methodological fiches in SWD(2021) 198 final, annex), computed from
policylab's canonical tables as one flat table to paste into a monitoring system.

Each indicator is a frozen :class:`CommonIndicator` in :data:`COMMON` (code, the Annex I name
and unit, the counting rule as policylab applies it, the fiche it paraphrases, the reference
period, the breakdowns and the canonical inputs it needs); :func:`common_indicators` computes
them all for every region and, with two regions or more, the whole lab.

Sources. Codes, names and units are Annex I's, as the Interreg Jems monitoring system encodes
them (domain notes §1.1). The fiche of RCO84 is paraphrased from programme manuals that quote
SWD(2021) 198 (Interreg NPA programme manual §6.1; Interreg CENTRAL EUROPE programme manual,
annex 2); the once-per-enterprise rule and "the subsets may add up to more than the total"
from the 2014-2020 fiches of CO01-CO05 (cohesiondata, ERDF common indicators). The other fiche
paraphrases (``fiche`` of each entry) were written from general knowledge of the fiches and
are marked "to verify": check them against the fiche text before quoting them.

Reference period. Monitoring systems report cumulative achievement, so every row's ``period``
is a calendar year ``Y`` and its value is the achievement **from the programme start to the
end of Y** (no per-year flows, no separate "cumulative" row: the last year's row is the
cumulative achievement to date). The programme start is each region's first year of data,
or ``programme_start`` when given (the later of the two). Support before the programme start
does not count; a firm still a member at the start counts from the start.

Disclosure control (rules implemented here; :mod:`.disclosure`'s relations are built from the
main registry and do not cover these breakdowns, so only its flag names are reused):

1. a cell resting on 1 to ``min_cell_firms - 1`` firms is suppressed; a cell resting on no
   firm (a zero count) stays visible; for the sums of firms' headcounts (RCR01) also a cell
   with 1 to ``min_cell_firms - 1`` firms contributing a non-zero amount, or one firm
   contributing more than ``dominance_share`` of the sum;
2. **years**: consecutive published years of one series differ by the change between them,
   which must rest on no firm or on at least ``min_cell_firms`` firms (firms whose
   contribution changed); otherwise the earlier year is suppressed (the latest, the cumulative
   achievement to date, is kept where it can be);
3. **breakdowns and regions**: in every relation total = parts (RCO01 total = SMEs + large +
   size unknown, SMEs = micro + small + medium; RCR02 total = grants; the lab = its regions)
   that holds a suppressed cell, at least two cells are suppressed and together rest on at
   least ``min_cell_firms`` firms; otherwise the part resting on the fewest firms (the total
   only when no part is left) is suppressed too, as in rule 4 of :mod:`.disclosure`;

rules 2 and 3 repeat until neither suppresses anything more. A suppressed row keeps its row,
with ``value`` and ``n_firms`` blank and ``flag`` ``suppressed`` (primary and secondary
suppressions are not told apart). Indicators that rest on no firm's data (consortia counted
by RCO87, practices counted by RCO84, RCR79, RCR104) carry ``n_firms`` 0 and are never
suppressed. Known limits: differences across two relations at once (a size class's change
between two years beside its siblings' changes) are not modelled beyond rules 2 and 3, and
the dominance rule is not applied to changes between years.

Example
-------
>>> table = common_indicators(regions, min_cell_firms=5, programme_start=2014)  # doctest: +SKIP
>>> table[(table.code == "RCO01") & (table.period == "2023")]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..schema import RegionInfo
from .disclosure import NOT_AVAILABLE, SUPPRESSED, close_relations
from .inputs import Inputs, make_inputs, map_region, stack_regions
from .practices import practice_log
from .registry import need_missing

__all__ = [
    "COMMON",
    "COMMON_COLUMNS",
    "LAB",
    "SIZE_CLASSES",
    "CommonIndicator",
    "common_catalogue",
    "common_indicators",
    "eu_size_class",
]

#: ``region`` of the lab-wide rows (``nuts2`` empty).
LAB = "lab"
#: Columns of :func:`common_indicators`' table.
COMMON_COLUMNS = ["code", "name", "unit", "region", "nuts2", "breakdown", "period", "value",
                  "n_firms", "flag", "note"]
#: EU SME classes (Recommendation 2003/361, Annex, Art. 2): staff below and turnover at most.
SME_CEILINGS: tuple[tuple[str, float, float], ...] = (("micro", 10, 2e6), ("small", 50, 10e6),
                                                     ("medium", 250, 50e6))
SIZE_CLASSES = ("micro", "small", "medium", "large", "size_unknown")
SIZE_BREAKDOWNS = ("total", "sme", *SIZE_CLASSES)
_SIZE_NEEDS = ("firms.employees", "firms.turnover_eur")
_SUPPRESSED_NOTE = "suppressed: disclosure control (min_cell_firms = {m})"
_CHECK = "to verify against the fiche text"


# ------------------------------------------------------------------------------ the registry


@dataclass
class _Part:
    """What one indicator's compute function returns for one scope.

    ``contrib``: ``breakdown, period, unit, value`` (a unit's contribution to the cell of a
    breakdown and period; a cumulative cell lists every unit counted up to its year).
    ``firms``: ``unit, firm_id`` (the firms each unit rests on); ``None`` when each unit is a
    firm. ``notes``: ``{(breakdown, period): note}`` for cells with something to say.
    """

    contrib: pd.DataFrame
    firms: pd.DataFrame | None = None
    notes: dict[tuple[str, int], str] = field(default_factory=dict)


ComputeFn = Callable[["_Scope"], _Part]


@dataclass(frozen=True)
class CommonIndicator:
    """One EU common indicator as policylab computes it.

    ``needs``: canonical inputs (``"table"`` or ``"table.column"``; ``"a|b"`` when either
    will do, ``"a+b"`` when both are needed together). ``breakdown_needs``: inputs a breakdown
    needs beyond them (its rows are ``not_available`` without them); ``unsupported``: the
    breakdowns no canonical table can give, with the field that is missing. ``relations``:
    ``(total, parts)`` of the breakdowns, for disclosure control. ``row_note``: a short
    caveat every published row carries (where the measurement departs from the fiche).
    ``twin``: the policylab indicator measuring the same concept and how they relate.
    """

    code: str
    name: str
    unit: str
    kind: Literal["output", "result"]
    rule: str
    fiche: str
    reference_period: str
    breakdowns: tuple[str, ...]
    needs: tuple[str, ...]
    compute: ComputeFn
    relations: tuple[tuple[str, tuple[str, ...]], ...] = ()
    breakdown_needs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unsupported: tuple[tuple[str, str], ...] = ()
    firm_data: bool = True
    magnitude: bool = False
    row_note: str = ""
    twin: str = ""

    def missing(self, tables: Mapping[str, pd.DataFrame]) -> list[str]:
        """The needs the tables do not meet (as written in ``needs``)."""
        return [n for n in self.needs if not _met(n, tables)]

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "unit": self.unit, "kind": self.kind,
                "counting_rule": self.rule, "fiche": self.fiche,
                "reference_period": self.reference_period, "breakdowns": list(self.breakdowns),
                "needs": list(self.needs), "firm_data": self.firm_data,
                "row_note": self.row_note, "twin": self.twin}


def _met(need: str, tables: Mapping[str, pd.DataFrame]) -> bool:
    return any(all(need_missing(part, tables) is None for part in alt.split("+"))
               for alt in need.split("|"))


def _explain(need: str, tables: Mapping[str, pd.DataFrame]) -> str:
    """A need in words: ``table t`` when the table itself is absent, else ``column t.c``."""

    def one(p: str) -> str:
        table = p.split(".")[0]
        return f"column {p}" if "." in p and table in tables else f"table {table}"

    return " or ".join(" with ".join(dict.fromkeys(one(p) for p in alt.split("+"))) for alt in need.split("|"))


COMMON: dict[str, CommonIndicator] = {}


def _register(**meta: object) -> Callable[[ComputeFn], ComputeFn]:
    def wrap(fn: ComputeFn) -> ComputeFn:
        ind = CommonIndicator(compute=fn, **meta)  # type: ignore[arg-type]
        if ind.code in COMMON:
            raise ValueError(f"common indicator {ind.code} registered twice")
        COMMON[ind.code] = ind
        return fn

    return wrap


def common_catalogue() -> pd.DataFrame:
    """Every common indicator policylab computes, with its counting rule, the fiche it
    paraphrases, its reference period, breakdowns, inputs and policylab twin."""
    return pd.DataFrame([ind.to_dict() for ind in COMMON.values()])


# ------------------------------------------------------------------------------- the scope


@dataclass(frozen=True)
class _Scope:
    """One region's (or the lab's) inputs, programme start and reporting years."""

    inp: Inputs
    start: Mapping[str, int]  # region ("" for one region's own tables) -> programme start
    periods: tuple[int, ...]

    def start_of(self, frame: pd.DataFrame) -> np.ndarray:
        return map_region(frame["region"], self.start)

    @property
    def first(self) -> int:
        return min(self.start.values())


def _scope(inp: Inputs, programme_start: int | None) -> _Scope:
    start = {r: max(lo, programme_start) if programme_start is not None else lo
             for r, (lo, _) in inp.windows.items()}
    if not start:
        return _Scope(inp, {"": 0}, ())
    last = max(hi for _, hi in inp.windows.values())
    return _Scope(inp, start, tuple(range(min(start.values()), last + 1)))


# ------------------------------------------------------------------------------- helpers


def eu_size_class(employees, turnover_eur) -> np.ndarray:
    """EU SME class (Recommendation 2003/361) of each firm from its headcount and turnover.

    Micro: fewer than 10 staff and turnover at most EUR 2 m; small: fewer than 50 and at most
    EUR 10 m; medium: fewer than 250 and at most EUR 50 m; large otherwise. The balance-sheet
    alternative of the Recommendation is not applied (the canonical tables have no balance
    sheet), so a firm over a turnover ceiling moves up a class even if its balance sheet would
    keep it below. ``size_unknown`` when either number is missing.
    """
    e = np.asarray(employees, dtype="float64")
    t = np.asarray(turnover_eur, dtype="float64")
    conds = [np.isnan(e) | np.isnan(t)] + [(e < staff) & (t <= ceiling) for _, staff, ceiling in SME_CEILINGS]
    return np.select(conds, ["size_unknown"] + [c for c, _, _ in SME_CEILINGS], default="large")


def _support(sc: _Scope) -> pd.DataFrame:
    """Member-years (``firm_id, cluster_id, year, region``) from the programme start on."""
    my = sc.inp.member_years
    return my[my["year"].to_numpy() >= sc.start_of(my)]


def _first_year(frame: pd.DataFrame, key: str = "firm_id") -> pd.Series:
    """Each unit's first year in ``frame`` (int, sorted by unit)."""
    if frame.empty:
        return pd.Series([], dtype="int64")
    return frame.groupby(key, sort=True)["year"].min().astype("int64")


def _cumulative(first: pd.Series, periods, groups: Mapping[str, pd.Index] | None = None) -> pd.DataFrame:
    """Contributions of units counted once from their first year: one row per breakdown,
    period and unit with first year <= period (value 1)."""
    groups = groups if groups is not None else {"total": first.index}
    parts = []
    years = first.to_numpy(dtype="int64")
    units = first.index.astype(str).to_numpy(dtype=object)
    for b, members in groups.items():
        inside = first.index.isin(members)
        for y in periods:
            keep = inside & (years <= y)
            parts.append(pd.DataFrame({"breakdown": b, "period": int(y), "unit": units[keep], "value": 1.0}))
    return _frame(parts)


def _frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    empty = pd.DataFrame({"breakdown": pd.Series([], dtype=object), "period": pd.Series([], dtype="int64"),
                          "unit": pd.Series([], dtype=object), "value": pd.Series([], dtype="float64")})
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else empty


def _finance_years(sc: _Scope, column: str) -> pd.DataFrame:
    """``cluster_id, year`` of the cluster-years with ``column`` > 0."""
    f = sc.inp.tables["cluster_finance"]
    f = f[f["cluster_id"].notna() & f["year"].notna() & (f[column] > 0)]
    return f[["cluster_id", "year"]].astype({"year": "int64"}).drop_duplicates()


def _member_years_in(sc: _Scope, cluster_years: pd.DataFrame) -> pd.DataFrame:
    my = _support(sc)
    return my.merge(cluster_years, on=["cluster_id", "year"], how="inner")


# ------------------------------------------------------------------------------ RCO01-RCO04


def _size_at_support(sc: _Scope, first: pd.Series) -> pd.Series:
    """Each firm's EU size class in the last year before its first support (Rec. 2003/361
    Art. 4: the last closed accounting period), else in its first year of support."""
    p = sc.inp.panel
    if not all(c in p for c in ("employees", "turnover_eur")):
        return pd.Series("size_unknown", index=first.index, dtype=object)
    cls = eu_size_class(p["employees"], p["turnover_eur"])
    known = p.loc[cls != "size_unknown", ["firm_id", "year"]].assign(size=cls[cls != "size_unknown"])
    known = known.drop_duplicates(["firm_id", "year"])
    out = pd.Series("size_unknown", index=first.index, dtype=object)
    for lag in (0, 1):  # the year of support first, then the year before overwrites it
        at = pd.DataFrame({"firm_id": first.index.astype(str), "year": first.to_numpy() - lag})
        hit = at.merge(known.astype({"firm_id": str}), on=["firm_id", "year"], how="left")["size"]
        ok = hit.notna().to_numpy()
        out.iloc[np.flatnonzero(ok)] = hit[ok].to_numpy()
    return out


@_register(
    code="RCO01", name="Enterprises supported (of which: micro, small, medium, large)",
    unit="enterprises", kind="output",
    rule="Distinct firms with at least one member-year of a consortium (join_year <= year < "
         "exit_year) from the programme start on, each counted once however many consortia it "
         "belongs to and however many years, from the first year it was supported (a firm "
         "that left stays counted). Size class (EU definition, Rec. 2003/361, by headcount and "
         "turnover: micro < 10 staff and <= EUR 2 m, small < 50 and <= EUR 10 m, medium < 250 "
         "and <= EUR 50 m, large otherwise; the balance-sheet alternative is not applied as the "
         "data have no balance sheet) in the last year before the first support (the last "
         "closed accounting year), else in the first year of support; size_unknown without "
         "both numbers. 'sme' = micro + small + medium.",
    fiche="SWD(2021) 198, annex, fiche RCO01: enterprises receiving support in any form from "
          "the ERDF, counted once whatever the number or kinds of support; breakdown by size "
          "under Rec. 2003/361 (the once-per-enterprise rule as in the 2014-2020 fiche CO01; "
          f"the timing rule, counted when first supported, {_CHECK}).",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=SIZE_BREAKDOWNS, needs=("membership",),
    relations=(("total", ("sme", "large", "size_unknown")), ("sme", ("micro", "small", "medium"))),
    breakdown_needs=tuple((b, _SIZE_NEEDS) for b in SIZE_BREAKDOWNS[1:]),
    twin="I01 (SMEs supported): the total equals I01's cumulative 'members' over the same "
         "years. The size classes differ from I01's: I01 uses headcount only, in the first "
         "member-year; RCO01 adds the turnover ceilings and takes the year before support.")
def rco01(sc: _Scope) -> _Part:
    first = _first_year(_support(sc))
    size = _size_at_support(sc, first)
    groups = {"total": first.index, "sme": first.index[size.isin(["micro", "small", "medium"]).to_numpy()]}
    groups |= {c: first.index[(size == c).to_numpy()] for c in SIZE_CLASSES}
    return _Part(_cumulative(first, sc.periods, groups))


def _grant_cluster_years(sc: _Scope) -> pd.DataFrame:
    """Cluster-years with a grant: public funding > 0 in cluster_finance, else the seed years
    (founded_year to seed_end_year) of clusters with a seed grant > 0."""
    if _met("cluster_finance.public_funding_eur", sc.inp.tables):
        return _finance_years(sc, "public_funding_eur")
    c = sc.inp.clusters
    c = c[(c["seed_grant_eur"] > 0) & c["founded_year"].notna() & c["seed_end_year"].notna()]
    n = (c["seed_end_year"] - c["founded_year"] + 1).clip(lower=0).astype("int64").to_numpy()
    idx = np.repeat(np.arange(len(c)), n)
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return pd.DataFrame({"cluster_id": c["cluster_id"].to_numpy()[idx],
                         "year": (c["founded_year"].to_numpy()[idx] + offset).astype("int64")})


@_register(
    code="RCO02", name="Enterprises supported by grants", unit="enterprises", kind="output",
    rule="Distinct firms that were members of a consortium in a year in which the consortium "
         "received a grant: public funding > 0 in cluster_finance.public_funding_eur (all "
         "public money to the consortia is grant money); without that table, the seed years "
         "(founded_year to seed_end_year) of consortia with clusters.seed_grant_eur > 0. "
         "Counted once, from the first such year on the programme's years. The grant is paid "
         "to the consortium organisation, so the firms are supported indirectly.",
    fiche="SWD(2021) 198, annex, fiche RCO02: enterprises receiving non-repayable support "
          "(grants), a subset of RCO01, each counted once (as the 2014-2020 fiche CO02; "
          f"indirect support through a consortium {_CHECK}).",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=("total",),
    needs=("membership", "cluster_finance.public_funding_eur|clusters.seed_grant_eur+clusters.seed_end_year"),
    twin="None; a subset of RCO01 (<= RCO01 total).")
def rco02(sc: _Scope) -> _Part:
    return _Part(_cumulative(_first_year(_member_years_in(sc, _grant_cluster_years(sc))), sc.periods))


@_register(
    code="RCO04", name="Enterprises with non-financial support", unit="enterprises", kind="output",
    rule="Distinct firms that were members of a consortium in a year in which the consortium "
         "organisation operated (running costs > 0 in cluster_finance.running_costs_eur): its "
         "running costs pay for the shared services members receive (shared export manager, "
         "joint promotion, missions, matchmaking). Counted once, from the first such year.",
    fiche="SWD(2021) 198, annex, fiche RCO04: enterprises receiving non-monetary support "
          "(guidance, consultancy, services), a subset of RCO01; RCO02 + RCO03 + RCO04 may "
          f"exceed RCO01 (as the 2014-2020 fiches CO01-CO05; services of a consortium {_CHECK}).",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=("total",), needs=("membership", "cluster_finance.running_costs_eur"),
    twin="None; a subset of RCO01 (<= RCO01 total).")
def rco04(sc: _Scope) -> _Part:
    return _Part(_cumulative(_first_year(_member_years_in(sc, _finance_years(sc, "running_costs_eur"))),
                             sc.periods))


# ------------------------------------------------------------------------------ RCR01, RCR19


def _before_after(sc: _Scope, column: str, what: str) -> tuple[dict[int, pd.DataFrame], dict[int, str]]:
    """Per period Y: supported firms (first support year f <= Y) with ``column`` known in the
    year before support (f - 1, the baseline) and in some year from f to Y (the latest such
    year is the comparison): ``firm_id, base, now``. And a note per period naming the
    supported firms left out for want of either value."""
    first = _first_year(_support(sc))
    p = sc.inp.panel
    p = p.loc[p[column].notna(), ["firm_id", "year", column]].drop_duplicates(["firm_id", "year"])
    p = p.astype({"firm_id": str})
    f = pd.Series(first.to_numpy(), index=first.index.astype(str))
    at = f.index.get_indexer(p["firm_id"])
    p = p[at >= 0].assign(first=f.to_numpy()[at[at >= 0]])
    base = p.loc[p["year"] == p["first"] - 1].set_index("firm_id")[column]
    after = p[p["year"] >= p["first"]].sort_values(["firm_id", "year"])
    has_base = base.index.get_indexer(f.index) >= 0
    known_from = (after.groupby("firm_id")["year"].min().reindex(f.index)
                  .to_numpy(dtype="float64", na_value=np.inf))
    out, notes = {}, {}
    for y in sc.periods:
        supported = f.to_numpy() <= y
        last = after[after["year"] <= y].drop_duplicates("firm_id", keep="last").set_index("firm_id")[column]
        both = f.index[supported & has_base & (known_from <= y)]
        out[y] = pd.DataFrame({"firm_id": both.to_numpy(dtype=object),
                               "base": base.reindex(both).to_numpy(dtype="float64"),
                               "now": last.reindex(both).to_numpy(dtype="float64")})
        lost = int(supported.sum()) - len(both)
        if lost:
            notes[y] = (f"{lost} supported firm(s) without {what} in the year before support or "
                        "since: not counted")
    return out, notes


@_register(
    code="RCR01", name="Jobs created in supported entities", unit="annual FTEs", kind="result",
    rule="Sum over supported firms (RCO01) of the increase in headcount (firms.employees) from "
         "the year before the first support (baseline) to the latest year observed from the "
         "first year of support up to the period's year; a firm whose headcount fell counts 0 "
         "(gross jobs created, not net). Firms without a baseline (e.g. supported from the first "
         "year of data) or without a later headcount are left out (counted in the note). "
         "Leavers are followed after they leave, as I21 does.",
    fiche="SWD(2021) 198, annex, fiche RCR01: new gross direct jobs in supported entities in "
          "annual FTEs, employment after support compared with before it, a decrease not "
          f"offsetting increases elsewhere (as the 2014-2020 fiche CO08; timing {_CHECK}).",
    reference_period="cumulative: baseline the year before first support, comparison the "
                     "latest year up to the end of each year",
    breakdowns=("total",), needs=("membership", "firms.employees"), magnitude=True,
    row_note="headcount (firms.employees), not FTE",
    twin="I21 (jobs in supported SMEs): I21's cumulative 'members' cell sums the net changes "
         "of member firm-years, i.e. per firm the latest headcount minus the year before "
         "joining, decreases included, and also counts firms supported before the data begin "
         "(from their first year of data). RCR01 counts increases only and only firms with a "
         "pre-support baseline: RCR01 >= I21 where every firm has its baseline.")
def rcr01(sc: _Scope) -> _Part:
    per, notes = _before_after(sc, "employees", "a headcount")
    parts = [pd.DataFrame({"breakdown": "total", "period": y, "unit": d["firm_id"],
                           "value": np.maximum(d["now"] - d["base"], 0.0)}) for y, d in per.items()]
    return _Part(_frame(parts), notes={("total", y): n for y, n in notes.items()})


@_register(
    code="RCR19", name="Enterprises with higher turnover", unit="enterprises", kind="result",
    rule="Supported firms (RCO01) whose turnover (firms.turnover_eur) in the latest year "
         "observed from the first year of support up to the period's year is higher than in the "
         "year before the first support. n_firms is the firms compared (both values known); "
         "the others are counted in the note. Turnover in EUR as stored (converted at each "
         "year's rate, not deflated).",
    fiche="SWD(2021) 198, annex, fiche RCR19: supported enterprises whose turnover after the "
          "support is higher than before it (measured in a year after the support ends; "
          f"window {_CHECK}).",
    reference_period="cumulative: baseline the year before first support, comparison the "
                     "latest year up to the end of each year",
    breakdowns=("total",), needs=("membership", "firms.turnover_eur"),
    row_note="nominal EUR at each year's exchange rate; support is ongoing, so the comparison "
             "year is the latest observed",
    twin="None (I12-I16 measure exports; RCR19 is the nearest common indicator).")
def rcr19(sc: _Scope) -> _Part:
    per, notes = _before_after(sc, "turnover_eur", "a turnover")
    parts = [pd.DataFrame({"breakdown": "total", "period": y, "unit": d["firm_id"],
                           "value": (d["now"] > d["base"]).astype("float64")}) for y, d in per.items()]
    return _Part(_frame(parts), notes={("total", y): n for y, n in notes.items()})


# ------------------------------------------------------------------------------------ RCR02


@_register(
    code="RCR02", name="Private investments matching public support (of which: grants, financial instruments)",
    unit="euro", kind="result",
    rule="Sum of the member fees (cluster_finance.member_fees_eur) paid to consortia in the "
         "years they received public funding (public_funding_eur > 0): the members' private "
         "money in the operations the grants co-finance. Fees of years without public funding "
         "(self-funded years) are not counted. 'grants' = the total (all public support to the "
         "consortia is grants); financial instruments are not in the canonical tables. "
         "n_firms: the member firms of those consortium-years.",
    fiche="SWD(2021) 198, annex, fiche RCR02: the private contributions co-financing supported "
          "operations whose public support is grants or financial instruments, in EUR, split "
          f"by the form of support (as the 2014-2020 fiches CO06/CO07; {_CHECK}).",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=("total", "grants", "financial_instruments"),
    needs=("cluster_finance.member_fees_eur", "cluster_finance.public_funding_eur"),
    relations=(("total", ("grants",)),),
    unsupported=(("financial_instruments", ("a record of financial-instrument support (no "
                                            "canonical table or column holds one)")),),
    twin="I20 (leverage): I20's numerator is the member fees of every cluster-year, RCR02 those "
         "of the years with public funding only; RCR02 = I20 x public funding when every "
         "cluster-year had public funding.")
def rcr02(sc: _Scope) -> _Part:
    f = sc.inp.tables["cluster_finance"]
    f = f[f["cluster_id"].notna() & f["year"].notna() & (f["public_funding_eur"] > 0)]
    f = f[f["year"].to_numpy() >= sc.start_of(f)].astype({"year": "int64"})
    unknown = f[f["member_fees_eur"].isna()]
    f = f[f["member_fees_eur"].notna()]
    units = f["cluster_id"].astype(str) + "@" + f["year"].astype(str)
    firms = _member_years_in(sc, f[["cluster_id", "year"]].drop_duplicates())
    firms = pd.DataFrame({"unit": (firms["cluster_id"].astype(str) + "@" + firms["year"].astype(str)).to_numpy(),
                          "firm_id": firms["firm_id"].astype(str).to_numpy()})
    parts, notes = [], {}
    for y in sc.periods:
        at = (f["year"] <= y).to_numpy()
        for b in ("total", "grants"):
            parts.append(pd.DataFrame({"breakdown": b, "period": y, "unit": units[at].to_numpy(),
                                       "value": f.loc[at, "member_fees_eur"].to_numpy(dtype="float64")}))
        lost = int((unknown["year"] <= y).sum())
        if lost:
            for b in ("total", "grants"):
                notes[(b, y)] = f"{lost} publicly funded consortium-year(s) without member fees: not counted"
    return _Part(_frame(parts), firms, notes)


# ------------------------------------------------------------------------------------ RCO87


@_register(
    code="RCO87", name="Organisations cooperating across borders", unit="organisations", kind="output",
    rule="Distinct consortia of the region named (partnerships.cluster_id) in at least one link "
         "with a partner region (partner_region given and not the region's own NUTS-2 code) "
         "from the programme start on, each counted once from its first link. Firms taking "
         "part are recorded per link as a number (partnerships.n_firms), not by identity, so "
         "they cannot be counted once and are left out, as are links without a consortium "
         "(the agency's own): a lower bound.",
    fiche="SWD(2021) 198, annex, Interreg fiche RCO87: organisations cooperating formally "
          f"across borders in supported projects, each counted once ({_CHECK}).",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=("total",), needs=("partnerships.cluster_id",), firm_data=False,
    row_note="consortia only (firms and agencies taking part not counted)",
    twin="I22P / I22R count links and partner regions, not organisations.")
def rco87(sc: _Scope) -> _Part:
    p = sc.inp.tables["partnerships"]
    p = p[p["year"].notna()]
    partner = p["partner_region"].astype("string").str.strip().str.upper()
    cross = partner.notna().to_numpy(dtype=bool) & (partner.fillna("").to_numpy(dtype=object) != sc.inp.own_region(p))
    p = p[cross & (p["year"].to_numpy() >= sc.start_of(p))]
    with_cluster = p["cluster_id"].notna().to_numpy(dtype=bool)
    first = _first_year(p[with_cluster].astype({"cluster_id": str}), "cluster_id")
    notes = {}
    for y in sc.periods:
        k = int((~with_cluster & (p["year"].to_numpy() <= y)).sum())
        if k:
            notes[("total", y)] = f"{k} cross-regional link(s) without a consortium: not counted"
    return _Part(_cumulative(first, sc.periods), notes=notes)


# --------------------------------------------------------------------- RCO84, RCR79, RCR104


def _transfers(sc: _Scope) -> tuple[pd.DataFrame, int]:
    """Practices (``key`` = adopting region / practice id) with the date of each stage
    reached (earliest logged) and whether the transfer crosses a border (origin and adopting
    regions in different countries: the first two letters of their NUTS codes). Returns the
    cross-border ones and the number of others."""
    log = practice_log(sc.inp)
    p = sc.inp.tables["practices"]
    keys = (p["adopting_region"].astype("string").fillna("") + "/" + p["practice_id"].astype(str)).astype(str)
    origin = pd.Series(p["origin_region"].astype("string").to_numpy(), index=keys.to_numpy())
    origin = origin[origin.notna()]
    origin = origin[~origin.index.duplicated()]
    if log.empty:
        return pd.DataFrame(index=pd.Index([], name="key")), 0
    wide = log.pivot(index="key", columns="stage", values="date")
    adopting = wide.index.str.split("/").str[0]
    org = origin.reindex(wide.index).fillna("")
    joint = (org.str[:2].to_numpy(dtype=object) != adopting.str[:2].to_numpy(dtype=object)) & (org != "").to_numpy()
    return wide[joint], int((~joint).sum())


def _practice_part(sc: _Scope, when: Callable[[pd.DataFrame], pd.Series]) -> _Part:
    wide, within = _transfers(sc)
    date = when(wide) if len(wide) else pd.Series([], dtype="datetime64[ns]")
    year = pd.to_datetime(date).dt.year
    year = year[year.notna() & (year >= sc.first)].astype("int64")
    note = (f"{within} practice transfer(s) within one country left out (not developed jointly "
            "across borders)") if within else ""
    return _Part(_cumulative(year.rename_axis("key"), sc.periods),
                 notes={("total", y): note for y in sc.periods} if note else {})


def _stage(wide: pd.DataFrame, stage: str) -> pd.Series:
    return wide[stage] if stage in wide else pd.Series(pd.NaT, index=wide.index, dtype="datetime64[ns]")


_PRACTICE_FREE = "Rests on no firm's data (the regions' practice log): n_firms 0, never suppressed."


@_register(
    code="RCO84", name="Pilot actions developed jointly and implemented in projects",
    unit="pilot actions", kind="output",
    rule="Practices transferred across a border (origin and adopting regions in different "
         "countries) that reached the stage 'piloted' (the pilot was run), counted once in the "
         "year of that stage, by the adopting region. " + _PRACTICE_FREE,
    fiche="SWD(2021) 198, Interreg fiche RCO84 (as quoted in the Interreg NPA programme manual "
          "§6.1): pilot actions developed jointly and implemented by supported projects, e.g. "
          "to test procedures, tools or the transfer of practices; counted only when "
          "implemented within the project; jointly = organisations from at least two "
          "participating countries.",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=("total",), needs=("practices",), firm_data=False,
    row_note="piloted transfers of practices between regions of different countries",
    twin="I23 'piloted' is a stock of practices whose latest stage is piloted; RCO84 keeps a "
         "pilot once run, whatever happened next.")
def rco84(sc: _Scope) -> _Part:
    return _practice_part(sc, lambda w: _stage(w, "piloted"))


@_register(
    code="RCR79", name="Joint strategies and action plans taken up by organisations",
    unit="joint strategy/action plan", kind="result",
    rule="The log records practices, not strategies: a practice's 'adapted' stage (the plan "
         "for transferring it, drawn up with its region of origin) is read as a joint action "
         "plan, taken up when the adopting region then pilots or adopts it. Counted once, in "
         "the year of the first of 'piloted' or 'adopted', for cross-border transfers only. "
         "It overlaps RCR104 (the same practices seen as solutions): a programme reports the one "
         "its specific objective uses. " + _PRACTICE_FREE,
    fiche="SWD(2021) 198, annex, Interreg fiche RCR79: joint strategies and action plans "
          "developed by supported projects and taken up (implemented) by organisations during "
          f"or after the project ({_CHECK}).",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=("total",), needs=("practices",), firm_data=False,
    row_note="practices adapted, then piloted or adopted (the log has no strategy records)",
    twin="None; overlaps RCR104 and RCO84.")
def rcr79(sc: _Scope) -> _Part:
    def taken_up(w: pd.DataFrame) -> pd.Series:
        up = pd.concat([_stage(w, "piloted"), _stage(w, "adopted")], axis=1).min(axis=1)
        return up.where(_stage(w, "adapted").notna())

    return _practice_part(sc, taken_up)


@_register(
    code="RCR104", name="Solutions taken up or up-scaled by organisations", unit="solutions",
    kind="result",
    rule="Practices transferred across a border that reached the stage 'adopted', counted once "
         "in the year of adoption (even if dropped later), by the adopting region. "
         + _PRACTICE_FREE,
    fiche="SWD(2021) 198, annex, Interreg fiche RCR104: solutions developed jointly by "
          "supported projects that organisations take up or up-scale during or after the "
          f"project ({_CHECK}).",
    reference_period="cumulative from the programme start to the end of each year",
    breakdowns=("total",), needs=("practices",), firm_data=False,
    twin="I23A (practices adopted): equal where every transfer crosses a border and the "
         "programme start is the first year of data; I23A also counts transfers within one "
         "country.")
def rcr104(sc: _Scope) -> _Part:
    return _practice_part(sc, lambda w: _stage(w, "adopted"))


# ------------------------------------------------------------------------------ the cells


def _cells(ind: CommonIndicator, part: _Part, periods, region: str, nuts2: str,
           skip: Mapping[str, str]) -> list[dict]:
    """One row per breakdown and period (``_units``: unit -> contribution; ``_fmap``: unit ->
    firms, shared by the rows of one scope and indicator)."""
    fmap: dict[str, frozenset] | None = None
    if part.firms is not None:
        fmap = {u: frozenset(g) for u, g in part.firms.groupby("unit")["firm_id"]}
    c = part.contrib
    groups = {k: g for k, g in c.groupby(["breakdown", "period"], sort=False)} if len(c) else {}
    rows = []
    for b in ind.breakdowns:
        for y in periods:
            base = {"code": ind.code, "name": ind.name, "unit": ind.unit, "region": region, "nuts2": nuts2,
                    "breakdown": b, "period": int(y), "firm_data": ind.firm_data, "magnitude": ind.magnitude}
            if b in skip:
                if y == periods[-1]:
                    rows.append({**base, "value": np.nan, "n_firms": np.nan, "n_contrib": np.nan,
                                 "max_share": np.nan, "flag": NOT_AVAILABLE, "note": skip[b],
                                 "_units": {}, "_fmap": None})
                continue
            g = groups.get((b, int(y)))
            units = dict(zip(g["unit"], g["value"].astype("float64"))) if g is not None else {}
            firms = _firms(units, fmap)
            nonzero = _firms({u: v for u, v in units.items() if v != 0}, fmap)
            absval = np.abs(np.fromiter(units.values(), dtype="float64", count=len(units)))
            share = float(absval.max() / absval.sum()) if absval.sum() > 0 else 0.0
            note = part.notes.get((b, int(y)), "")
            rows.append({**base, "value": float(sum(units.values())),
                         "n_firms": float(len(firms)) if ind.firm_data else 0.0,
                         "n_contrib": float(len(nonzero)), "max_share": share, "flag": "",
                         "note": note, "_units": units, "_fmap": fmap})
    return rows


def _firms(units: Mapping[str, float], fmap: Mapping[str, frozenset] | None) -> set:
    if fmap is None:
        return set(units)
    out: set = set()
    for u in units:
        out |= fmap.get(u, frozenset())
    return out


def _not_available_rows(ind: CommonIndicator, region: str, nuts2: str, period: int, note: str) -> list[dict]:
    return [{"code": ind.code, "name": ind.name, "unit": ind.unit, "region": region, "nuts2": nuts2,
             "breakdown": b, "period": int(period), "value": np.nan, "n_firms": np.nan, "n_contrib": np.nan,
             "max_share": np.nan, "flag": NOT_AVAILABLE, "note": note, "firm_data": ind.firm_data,
             "magnitude": ind.magnitude, "_units": {}, "_fmap": None} for b in ind.breakdowns]


def _skipped(ind: CommonIndicator, tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Breakdowns without their inputs: breakdown -> the not-available note."""
    out = {b: f"not available: needs {why}" for b, why in ind.unsupported}
    for b, needs in ind.breakdown_needs:
        lack = [n for n in needs if not _met(n, tables)]
        if lack:
            out[b] = "not available: needs " + ", ".join(dict.fromkeys(_explain(n, tables) for n in lack))
    return out


# ---------------------------------------------------------------------------- the table


def common_indicators(
    regions: Iterable[tuple[RegionInfo, Mapping[str, pd.DataFrame]]],
    *,
    min_cell_firms: int = 5,
    dominance_share: float = 0.85,
    programme_start: int | None = None,
    codes: Iterable[str] | None = None,
    lab_wide: bool | None = None,
    windows: Mapping[str, tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """The EU common indicators of every region (and the whole lab) as one flat table, after
    disclosure control.

    Parameters
    ----------
    regions
        ``(RegionInfo, canonical tables)`` pairs, money in EUR (as for
        :func:`~policylab.indicators.compute_indicators`).
    min_cell_firms, dominance_share
        Disclosure control (config ``lab.min_cell_firms``, ``lab.dominance_share``); see the
        module docstring.
    programme_start
        First year of the programme: achievement is cumulated from it (default: each region's
        first year of data; a later first year of data wins).
    codes
        Compute only these codes (default: all of :data:`COMMON`).
    lab_wide
        Add the lab-wide rows (``region == "lab"``); default: with at least two regions.
    windows
        Each region's first and last year (region key -> years) when its ``firms`` table holds
        only its members' firm-years (the rest on disk, :mod:`policylab.engines`); every
        common indicator counts supported firms only, so the members' rows are all it reads.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMMON_COLUMNS`: ``code, name, unit`` (Annex I), ``region`` (the region
        key, or ``"lab"``), ``nuts2``, ``breakdown`` (``total``; RCO01 also ``sme``, ``micro``,
        ``small``, ``medium``, ``large``, ``size_unknown``; RCR02 ``grants``,
        ``financial_instruments``), ``period`` (a year: achievement from the programme start to
        the end of that year), ``value``, ``n_firms`` (firms the value rests on; 0 for the
        indicators resting on no firm's data), ``flag`` (``""``, ``suppressed`` or
        ``not_available``) and ``note`` (what is missing, left out or measured differently).
    """
    if min_cell_firms < 1:
        raise ValueError(f"min_cell_firms must be at least 1, got {min_cell_firms!r}")
    if not 0 < dominance_share <= 1:
        raise ValueError(f"dominance_share must be in (0, 1], got {dominance_share!r}")
    unknown = [c for c in (codes or []) if c.upper() not in COMMON]
    if unknown:
        raise ValueError(f"unknown common indicator code(s) {unknown}; known: {', '.join(COMMON)}")
    chosen = [COMMON[c.upper()] for c in codes] if codes else list(COMMON.values())
    regions = list(regions)
    rows: list[dict] = []
    available: dict[str, list[str]] = {ind.code: [] for ind in chosen}
    region_periods: dict[str, tuple[int, ...]] = {}
    for info, tables in regions:
        inp = make_inputs(tables, nuts2={"": info.nuts2},
                          windows={"": windows[info.key]} if windows is not None else None)
        sc = _scope(inp, programme_start)
        region_periods[info.key] = sc.periods
        for ind in chosen:
            missing = ind.missing(tables)
            if missing or not sc.periods:
                why = ("needs " + ", ".join(dict.fromkeys(_explain(m, tables) for m in missing)) if missing
                       else "no firm-years in the data" if not inp.years
                       else f"no year of data from the programme start ({programme_start}) on")
                rows += _not_available_rows(ind, info.key, info.nuts2, inp.years[-1] if inp.years else 0,
                                            f"not available: {why}")
                continue
            available[ind.code].append(info.key)
            rows += _cells(ind, ind.compute(sc), sc.periods, info.key, info.nuts2, _skipped(ind, tables))
    if lab_wide is None:
        lab_wide = len(regions) >= 2
    if lab_wide:
        rows += _lab_rows(regions, chosen, available, programme_start, windows)
    cells = pd.DataFrame(rows)
    if cells.empty:
        return pd.DataFrame(columns=COMMON_COLUMNS)
    supp = _protect(cells, available, region_periods, min_cell_firms=min_cell_firms,
                    dominance_share=dominance_share)
    return _publish(cells, supp, chosen, min_cell_firms)


def _lab_rows(regions, chosen, available, programme_start, windows=None) -> list[dict]:
    by_key = {info.key: tables for info, tables in regions}
    codes = {info.key: info.nuts2 for info, _ in regions}
    cache: dict[tuple[str, ...], _Scope] = {}
    rows: list[dict] = []
    for ind in chosen:
        keys = tuple(available[ind.code])
        if not keys:
            rows += _not_available_rows(ind, LAB, "", _last_year(regions), "not available: no region has "
                                        "the inputs it needs")
            continue
        if keys not in cache:
            stacked = stack_regions([(k, by_key[k]) for k in keys])
            inp = make_inputs(stacked, scope="lab", nuts2={k: codes[k] for k in keys},
                              windows={k: windows[k] for k in keys} if windows is not None else None)
            cache[keys] = _scope(inp, programme_start)
        sc = cache[keys]
        skip: dict[str, str] = {}
        for k in keys:  # a breakdown counts lab-wide only when every region can give it
            for b, why in _skipped(ind, by_key[k]).items():
                skip.setdefault(b, why)
        lab = _cells(ind, ind.compute(sc), sc.periods, LAB, "", skip)
        if len(keys) < len(regions):
            extra = f"lab-wide over {len(keys)} of {len(regions)} regions ({', '.join(keys)})"
            for r in lab:
                r["note"] = f"{r['note']}; {extra}" if r["note"] else extra
        rows += lab
    return rows


def _last_year(regions) -> int:
    years = [int(pd.to_numeric(t["firms"]["year"], errors="coerce").max()) for _, t in regions
             if "firms" in t and len(t["firms"])]
    return max(years) if years else 0


# ----------------------------------------------------------------------- disclosure control


def _protect(cells: pd.DataFrame, available: Mapping[str, list[str]], region_periods: Mapping[str, tuple],
             *, min_cell_firms: int, dominance_share: float) -> np.ndarray:
    """Rules 1-3 of the module docstring: which cells to suppress."""
    avail = cells["flag"].to_numpy(dtype=object) != NOT_AVAILABLE
    firm = cells["firm_data"].to_numpy(dtype=bool) & avail
    n = cells["n_firms"].fillna(0).to_numpy(dtype="float64")
    nc = cells["n_contrib"].fillna(0).to_numpy(dtype="float64")
    share = cells["max_share"].fillna(0).to_numpy(dtype="float64")
    mag = cells["magnitude"].to_numpy(dtype=bool)
    small = (n > 0) & (n < min_cell_firms)
    supp = firm & (small | (mag & (((nc > 0) & (nc < min_cell_firms)) | (share > dominance_share))))
    series = _series(cells, firm)
    rels = _relations(cells, firm, available, region_periods)
    eligible = firm & (n > 0)
    while True:
        grew = _over_years(cells, series, supp, min_cell_firms)
        grew |= _secondary(rels, supp, n, eligible, min_cell_firms)
        if not grew:
            return supp


def _series(cells: pd.DataFrame, keep: np.ndarray) -> list[np.ndarray]:
    """Positions of each (region, code, breakdown) series, by period."""
    t = cells[keep].reset_index().sort_values(["region", "code", "breakdown", "period"], kind="stable")
    return [g["index"].to_numpy() for _, g in t.groupby(["region", "code", "breakdown"], sort=False)]


def _changed_firms(a: Mapping[str, float], b: Mapping[str, float], fmap) -> int:
    changed = {u for u in a.keys() | b.keys()
               if u not in a or u not in b or not math.isclose(a[u], b[u], rel_tol=1e-12, abs_tol=1e-9)}
    return len(_firms(dict.fromkeys(changed, 1.0), fmap))


def _over_years(cells: pd.DataFrame, series: list[np.ndarray], supp: np.ndarray, min_cell_firms: int) -> bool:
    """Rule 2: walking back from the latest year, an earlier published year whose change to
    the next published one rests on 1 to min_cell_firms - 1 firms is suppressed."""
    units = cells["_units"].to_numpy(dtype=object)
    fmaps = cells["_fmap"].to_numpy(dtype=object)
    grew = False
    for idx in series:
        later = None
        for i in idx[::-1]:
            if supp[i]:
                continue
            if later is not None:
                k = _changed_firms(units[i], units[later], fmaps[i])
                if 0 < k < min_cell_firms:
                    supp[i] = True
                    grew = True
                    continue
            later = i
    return grew


def _relations(cells: pd.DataFrame, firm: np.ndarray, available: Mapping[str, list[str]],
               region_periods: Mapping[str, tuple]) -> list[tuple[np.ndarray, int]]:
    """Rule 3's relations: (positions of the cells, position of the total)."""
    pos = {(r, c, b, p): i for i, (r, c, b, p, ok) in enumerate(zip(
        cells["region"], cells["code"], cells["breakdown"], cells["period"], firm)) if ok}
    out: list[tuple[np.ndarray, int]] = []

    def add(total_key, part_keys) -> None:
        if total_key not in pos:
            return
        parts = [pos[k] for k in part_keys if k in pos]
        if parts:
            out.append((np.array([pos[total_key], *parts]), pos[total_key]))

    for (r, c, b, p) in list(pos):
        for total, parts in COMMON[c].relations:
            if b == total:
                add((r, c, b, p), [(r, c, part, p) for part in parts])
        if r == LAB:
            members = []
            for k in available.get(c, []):
                per = region_periods.get(k, ())
                if per and p >= per[0]:
                    members.append((k, c, b, min(p, per[-1])))
            add((r, c, b, p), members)
    return out


def _secondary(rels, supp: np.ndarray, n: np.ndarray, eligible: np.ndarray, min_cell_firms: int) -> bool:
    """Rule 3: rule 4 of :mod:`.disclosure`, until every relation holds."""
    return close_relations(rels, supp, n, eligible, min_cell_firms)


def _publish(cells: pd.DataFrame, supp: np.ndarray, chosen: list[CommonIndicator], min_cell_firms: int) -> pd.DataFrame:
    out = cells.copy()
    notes = {ind.code: ind.row_note for ind in chosen}
    published = (out["flag"].to_numpy(dtype=object) == "") & ~supp
    row_note = out["code"].map(notes).fillna("").to_numpy(dtype=object)
    add = published & (row_note != "")
    own = out["note"].astype(str).to_numpy(dtype=object)
    out["note"] = np.where(add, np.where(own != "", row_note + "; " + own, row_note), own)
    out["value"] = out["value"].round(2)
    out["n_firms"] = out["n_firms"].astype("Int64")
    out.loc[supp, ["value"]] = np.nan
    out.loc[supp, "n_firms"] = pd.NA
    out.loc[supp, "flag"] = SUPPRESSED
    out.loc[supp, "note"] = _SUPPRESSED_NOTE.format(m=min_cell_firms)
    out["period"] = out["period"].astype(int).astype(str)
    order = {c.code: i for i, c in enumerate(chosen)}
    border = {b: i for i, b in enumerate(dict.fromkeys(b for c in chosen for b in c.breakdowns))}
    regions = list(dict.fromkeys(out["region"]))
    out = out.assign(_r=out["region"].map({r: (i if r != LAB else len(regions)) for i, r in enumerate(regions)}),
                     _c=out["code"].map(order), _b=out["breakdown"].map(border))
    out = out.sort_values(["_r", "_c", "_b", "period"], kind="stable")
    return out[COMMON_COLUMNS].reset_index(drop=True)


def _check_registry() -> None:
    from ..constants import COMMON_CODES

    if tuple(COMMON) != COMMON_CODES:  # the config validates targets against COMMON_CODES
        raise AssertionError(f"COMMON {tuple(COMMON)} != constants.COMMON_CODES {COMMON_CODES}")


_check_registry()
