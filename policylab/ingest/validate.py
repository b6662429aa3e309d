"""Validation of mapped tables: a declarative schema per canonical table, then panel rules.

The schema of each table is a pandera ``DataFrameSchema`` built from :mod:`policylab.schema`
(types, required columns, non-negative money and counts, years inside the lab's window,
ISO country codes, one row per key, exit not before join, ...) and validated lazily, so every
failure is collected in one pass. Each failure becomes a :class:`~policylab.errors.Problem`
quoting the file, the row as the user sees it, the source column and the cell as written in
the file. A second schema holds the advisory rules (exports above turnover), whose failures
are warnings.

Rules across tables are written by hand (``check_links``): members must be firms of the
firms file, clusters referenced must exist, and a firm's cohort is derived from membership
(its first join year) and is one value per firm.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: pandera imports pyspark.pandas when pyspark is installed (the spark extra), on import or
#: (pandera 0.35) when it first validates; pyspark.pandas warns about pandas 3 on import.
#: policylab never uses pyspark.pandas, so the warning is noise on every command's stderr.
_PYSPARK_PANDAS = "PySpark does not yet fully support"

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=_PYSPARK_PANDAS, category=FutureWarning)
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

from ..errors import Problem
from ..schema import Table
from .countries import COUNTRY_CODES
from .mapping import Mapped, problem_cap
from .numbers import isin

MAX_LISTED = 20
YEAR_MIN, YEAR_MAX = 1900, 2100
WINDOWED_YEARS = ("year", "join_year", "founded_year", "wave")  # must lie in the lab's window
DTYPES = {"id": "string", "text": "string", "country": "string", "year": "Int64", "money": "float64",
          "number": "float64", "date": "datetime64[us]", "nuts": "string", "category": "string"}
#: A NUTS code: two letters of the country, then one to three letters or digits (NUTS-2: ES13).
NUTS_PATTERN = r"[A-Z]{2}[A-Z0-9]{1,3}"

_SURVEY_ANSWERS = ("satisfaction", "intends_to_stay", "barrier_size", "barrier_finance",
                   "barrier_information", "barrier_regulation", "barrier_language",
                   "barrier_partners", "comment")


def _no_answers_without_response(d: pd.DataFrame) -> pd.Series:
    answered = d[[c for c in _SURVEY_ANSWERS if c in d]].notna().any(axis=1)
    return ~((d["responded"] == "no").fillna(False) & answered)


@dataclass(frozen=True)
class Rule:
    """A row-wise rule over several columns: ``ok(frame)`` is True where a row passes."""

    name: str
    columns: tuple[str, ...]  # all must be mapped for the rule to apply
    ok: Callable[[pd.DataFrame], pd.Series]
    column: str  # the column a failure is reported in
    message: str


TABLE_RULES: dict[str, tuple[Rule, ...]] = {
    "membership": (
        Rule("exit_not_before_join", ("join_year", "exit_year"),
             lambda d: ~(d["exit_year"] < d["join_year"]).fillna(False), "exit_year", "exit year before join year"),
    ),
    "survey": (
        Rule("answers_only_from_respondents", ("responded",), _no_answers_without_response,
             "responded", "answers given although 'responded' is no"),
    ),
    "practices": (
        Rule("origin_is_not_adopter", ("origin_region", "adopting_region"),
             lambda d: ~(d["origin_region"] == d["adopting_region"]).fillna(False), "adopting_region",
             "the adopting region is the practice's origin region; expected another region"),
    ),
    "clusters": (
        Rule("closed_not_before_founded", ("founded_year", "closed_year"),
             lambda d: ~(d["closed_year"] < d["founded_year"]).fillna(False), "closed_year",
             "closed before it was founded"),
    ),
}

ADVISORY_RULES: dict[str, tuple[Rule, ...]] = {
    "firms": (
        Rule("exports_within_turnover", ("exports_eur", "turnover_eur"),
             lambda d: ~(d["exports_eur"] > d["turnover_eur"] * 1.0001).fillna(False), "exports_eur",
             "exports exceed turnover; check units of both columns"),
    ),
    "membership": (
        Rule("membership_of_a_year_at_least", ("join_year", "exit_year"),
             lambda d: ~(d["exit_year"] == d["join_year"]).fillna(False), "exit_year",
             "exit year equals join year: a membership of less than one year"),
    ),
}


def _window_text(first_year: int | None, last_year: int | None) -> str:
    return f"{first_year if first_year is not None else '…'}-{last_year if last_year is not None else '…'}"


def table_schema(table: Table, columns: list[str], first_year: int | None = None,
                 last_year: int | None = None) -> tuple[pa.DataFrameSchema, dict[str, str]]:
    """The declarative schema of ``table`` restricted to the mapped ``columns``, and its messages."""
    return _table_schema(table, tuple(columns), first_year, last_year)


@functools.lru_cache(maxsize=64)
def _table_schema(table: Table, columns: tuple[str, ...], first_year: int | None,
                  last_year: int | None) -> tuple[pa.DataFrameSchema, dict[str, str]]:
    messages: dict[str, str] = {"not_nullable": "blank cell; '{canon}' is required"}
    cols: dict[str, pa.Column] = {}
    for name in columns:
        col = table.column(name)
        checks = []
        if col.kind == "year":
            lo, hi = YEAR_MIN, YEAR_MAX
            if name in WINDOWED_YEARS and (first_year is not None or last_year is not None):
                lo = first_year if first_year is not None else YEAR_MIN
                hi = last_year if last_year is not None else YEAR_MAX
                messages[f"window_{name}"] = (f"year outside the lab's window "
                                              f"{_window_text(first_year, last_year)}")
                checks.append(pa.Check.in_range(lo, hi, name=f"window_{name}", error=f"window_{name}"))
        elif col.kind in ("money", "number"):
            if col.lower > 0:
                top = f"{col.upper:g}" if col.upper is not None else "…"
                checks.append(pa.Check.ge(col.lower, name=f"lower_{name}", error=f"lower_{name}"))
                messages[f"lower_{name}"] = f"out of range; expected {col.lower:g} to {top}"
            else:
                checks.append(pa.Check.ge(0, name="non_negative", error="non_negative"))
                messages["non_negative"] = "negative value; expected 0 or more"
            if col.integer:
                checks.append(pa.Check(lambda v: (v == np.floor(v)) | v.isna(), element_wise=False,
                                       name="whole_number", error="whole_number"))
                messages["whole_number"] = "expected a whole number"
            if col.upper is not None:
                checks.append(pa.Check.le(col.upper, name=f"limit_{name}", error=f"limit_{name}"))
                bound = f"{col.upper:.0e}".replace("e+", "e")
                messages[f"limit_{name}"] = (
                    f"implausibly large: more than {bound} EUR after scale and exchange rate (the bound of "
                    "money columns); check the file's units" if col.kind == "money" else
                    f"out of range; expected {col.lower:g} to {col.upper:g}" if col.lower > 0 else
                    f"implausibly large: more than {col.upper:,.0f} (the bound of '{name}'); check the column")
        elif col.kind == "category":
            checks.append(pa.Check.isin(list(col.choices), name=f"choice_{name}", error=f"choice_{name}"))
            messages[f"choice_{name}"] = (f"expected one of {', '.join(col.choices)} (map the file's own "
                                          f"labels with 'values' in the config)")
        elif col.kind == "nuts":
            checks.append(pa.Check.str_matches(NUTS_PATTERN + "$", name="nuts_code", error="nuts_code"))
            messages["nuts_code"] = "expected a NUTS-2 region code such as ES13"
        elif col.kind == "country":
            checks.append(pa.Check.isin(sorted(COUNTRY_CODES), name="iso_country", error="iso_country"))
            messages["iso_country"] = "expected an ISO 3166-1 alpha-2 country code such as DE"
        # A required money or count column must be mapped, but a blank cell means "unknown", not 0.
        nullable = not col.required or col.kind in ("money", "number")
        cols[name] = pa.Column(DTYPES[col.kind], checks=checks, nullable=nullable)
    df_checks = []
    for rule in TABLE_RULES.get(table.name, ()):
        if set(rule.columns) <= set(columns):
            df_checks.append(pa.Check(rule.ok, name=rule.name, error=rule.name))
            messages[rule.name] = rule.message
    key = [k for k in table.key if k in columns]
    schema = pa.DataFrameSchema(cols, checks=df_checks, unique=key or None, report_duplicates="exclude_first",
                                strict=False, name=table.name)
    return schema, messages


def advisory_schema(table: Table, columns: list[str]) -> tuple[pa.DataFrameSchema | None, dict[str, str]]:
    """Rules whose failures are warnings, not errors."""
    return _advisory_schema(table, tuple(columns))


@functools.lru_cache(maxsize=64)
def _advisory_schema(table: Table, columns: tuple[str, ...]) -> tuple[pa.DataFrameSchema | None, dict[str, str]]:
    rules = [r for r in ADVISORY_RULES.get(table.name, ()) if set(r.columns) <= set(columns)]
    if not rules:
        return None, {}
    schema = pa.DataFrameSchema(checks=[pa.Check(r.ok, name=r.name, error=r.name) for r in rules],
                                name=f"{table.name} (advisory)")
    return schema, {r.name: r.message for r in rules}


def _rule_columns(table: Table) -> dict[str, str]:
    return {r.name: r.column for r in TABLE_RULES.get(table.name, ()) + ADVISORY_RULES.get(table.name, ())}


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_PYSPARK_PANDAS, category=FutureWarning)
            schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["column", "check", "index", "failure_case"])


def _to_problems(fc: pd.DataFrame, mapped: Mapped, table: Table, messages: dict[str, str],
                 severity: str) -> list[Problem]:
    """One problem per failing row and rule, in the order of the file."""
    frame = mapped.frame
    rule_cols = _rule_columns(table)
    key = [k for k in table.key if k in frame]
    first_row: dict[tuple, int] = {}
    if key and len(frame) and (fc["check"] == "multiple_fields_uniqueness").any():
        dups = frame[frame.duplicated(subset=key, keep=False)]
        firsts = dups.drop_duplicates(subset=key, keep="first")
        first_row = {tuple(r[:-1]): int(r[-1]) for r in firsts[key + ["_row"]].itertuples(index=False)}
    found: dict[tuple[str, str | None], list[int]] = {}
    for rec in fc.itertuples(index=False):
        check = str(rec.check)
        idx = None if rec.index is None or pd.isna(rec.index) else int(rec.index)
        if check == "multiple_fields_uniqueness":
            canon = key[0]
        elif check in rule_cols:
            canon = rule_cols[check]
        else:
            canon = None if rec.column is None or pd.isna(rec.column) else str(rec.column)
        if check == "not_nullable" and idx is not None and canon in mapped.invalid and mapped.invalid[canon][idx]:
            continue  # unparseable cell: already reported with its value
        if check == "multiple_fields_uniqueness" and idx is not None and frame[key].iloc[idx].isna().any():
            continue  # a key cell is blank or unparseable: already reported
        found.setdefault((check, canon), [])
        if idx is None or idx not in found[(check, canon)]:
            found[(check, canon)].append(idx)
    problems: list[Problem] = []
    for (check, canon), idxs in found.items():
        src = mapped.source_cols.get(canon) if canon else None
        idxs = sorted(i for i in idxs if i is not None) + [None] * sum(i is None for i in idxs)
        for n, i in enumerate(idxs[:problem_cap()]):
            if check == "multiple_fields_uniqueness" and i is not None:
                cols = "+".join(mapped.source_cols[k] for k in key)
                first = first_row.get(tuple(frame[k].iloc[i] for k in key))
                message = (f"duplicate of row {first} (same {cols}); expected one row per {table.grain}"
                           if first is not None else f"duplicate {cols}; expected one row per {table.grain}")
            else:
                message = messages.get(check, f"fails the check {check!r}").format(canon=canon)
            row = None if i is None else int(frame["_row"].iloc[i])
            value = None if i is None or canon is None else mapped.raw_value(canon, i)
            problems.append(Problem(mapped.label, message, row=row, column=src, value=value, severity=severity))
        if len(idxs) > problem_cap():
            problems.append(Problem(mapped.label, f"{len(idxs) - problem_cap()} more row(s) with the same problem",
                                    column=src, severity=severity))
    return problems


def check_table(mapped: Mapped, table: Table, first_year: int | None, last_year: int | None) -> list[Problem]:
    """Every schema rule of one mapped table: errors, then warnings."""
    frame = mapped.frame
    columns = [c for c in frame.columns if c != "_row"]
    schema, messages = table_schema(table, columns, first_year, last_year)
    failures = _failures(schema, frame)
    problems = _to_problems(failures, mapped, table, messages, "error")
    advisory, adv_messages = advisory_schema(table, columns)
    if advisory is not None:
        # advisory rules look only at values that passed: a negative turnover is not also "below exports"
        checked = frame.copy()
        for column, idx in failures[["column", "index"]].itertuples(index=False):
            if column in checked and idx is not None and not pd.isna(idx):
                checked.loc[int(idx), column] = pd.NA if checked[column].dtype != "float64" else np.nan
        problems += _to_problems(_failures(advisory, checked), mapped, table, adv_messages, "warning")
    return sorted(problems, key=lambda p: (p.row if p.row is not None else 0))


def cohorts(membership: pd.DataFrame) -> pd.Series:
    """Each member firm's cohort: its first join year (one value per firm, by construction)."""
    return membership.groupby("firm_id", sort=True)["join_year"].min().astype("Int64").rename("cohort")


COHORT_SCHEMA = pa.DataFrameSchema(
    {"firm_id": pa.Column("string", nullable=False), "cohort": pa.Column("Int64", nullable=False)},
    unique=["firm_id"], name="cohorts",
)


def _rows(mapped: Mapped, mask: np.ndarray, message: str, canon: str, severity: str = "error") -> list[Problem]:
    idx = np.flatnonzero(mask)
    src = mapped.source_cols.get(canon)
    out = [Problem(mapped.label, message, row=int(mapped.frame["_row"].iloc[i]), column=src,
                   value=mapped.raw_value(canon, i), severity=severity) for i in idx[:problem_cap()]]
    if len(idx) > problem_cap():
        out.append(Problem(mapped.label, f"{len(idx) - problem_cap()} more row(s) with the same problem", column=src,
                           severity=severity))
    return out


def _unknown_firms(t: Mapped, known: pd.Series, severity: str) -> list[Problem]:
    """Rows whose firm is not in the firms file; says so when only leading zeros differ."""
    ids = t.frame["firm_id"]
    bad = ids.notna().to_numpy() & ~isin(ids, known)
    if not bad.any():
        return []
    stripped = dict(zip(known.str.lstrip("0"), known))
    lost = bad & ids.map(lambda v: isinstance(v, str) and v.lstrip("0") in stripped).to_numpy(dtype=bool)
    out = _rows(t, bad & ~lost, "firm not found in the firms file", "firm_id", severity)
    for i in np.flatnonzero(lost)[:problem_cap()]:
        other = stripped[ids.iloc[i].lstrip("0")]
        out.append(Problem(t.label, f"firm not found in the firms file, which has {other!r}: leading zeros lost "
                           "(IDs stored as numbers?)", row=int(t.frame["_row"].iloc[i]),
                           column=t.source_cols.get("firm_id"), value=t.raw_value("firm_id", i), severity=severity))
    return sorted(out, key=lambda p: p.row or 0)


def _stages_in_order(t: Mapped) -> list[Problem]:
    """A practice's stages (studied, adapted, piloted, adopted) carry dates in that order;
    ``dropped`` may follow any of them but precede none."""
    from ..schema import PRACTICE_STAGES

    f = t.frame
    if not {"practice_id", "stage", "stage_date"} <= set(f.columns):
        return []
    rank = f["stage"].map({s: i for i, s in enumerate(PRACTICE_STAGES)})
    bad = np.zeros(len(f), dtype=bool)
    for _, idx in f.groupby("practice_id", sort=False).groups.items():
        rows = list(idx)
        for i in rows:
            for j in rows:
                ri, rj = rank.iloc[i], rank.iloc[j]
                di, dj = f["stage_date"].iloc[i], f["stage_date"].iloc[j]
                if pd.isna(ri) or pd.isna(rj) or pd.isna(di) or pd.isna(dj):
                    continue
                if ri > rj and di < dj:  # a later stage dated before an earlier one
                    bad[i] = True
    return _rows(t, bad, "stage dated before an earlier stage of the same practice (stages run "
                 "studied, adapted, piloted, adopted; dropped last)", "stage_date")


def check_links(mapped: dict[str, Mapped], nuts2: str | None = None) -> list[Problem]:
    """Cross-table rules: members are known firms; referenced clusters exist; cohorts are well
    defined; a partner region is another region (``nuts2`` is this region's code); a practice
    reaches its stages in order."""
    problems: list[Problem] = []
    firms, mem = mapped["firms"], mapped["membership"]
    known = firms.frame["firm_id"].dropna().drop_duplicates()
    m = mem.frame
    problems += _unknown_firms(mem, known, "error")
    if "orders" in mapped and "firm_id" in mapped["orders"].frame:
        problems += _unknown_firms(mapped["orders"], known, "warning")
    if "survey" in mapped:
        problems += _unknown_firms(mapped["survey"], known, "error")
    if nuts2 is not None:
        for name in ("orders", "partnerships"):
            if name in mapped and "partner_region" in mapped[name].frame:
                t = mapped[name]
                own = (t.frame["partner_region"] == nuts2).fillna(False).to_numpy(dtype=bool)
                problems += _rows(t, own, f"the partner region is this region ({nuts2}); expected "
                                  "another region's NUTS-2 code", "partner_region")
    if "practices" in mapped:
        problems += _stages_in_order(mapped["practices"])
    if "clusters" in mapped:
        clusters = mapped["clusters"].frame["cluster_id"].dropna()
        missing = m["cluster_id"].notna().to_numpy() & ~isin(m["cluster_id"], clusters)
        problems += _rows(mem, missing, "cluster not found in the clusters file", "cluster_id")
        for name in ("cluster_finance", "orders", "survey", "partnerships"):
            if name in mapped and "cluster_id" in mapped[name].frame:
                t = mapped[name]
                bad = t.frame["cluster_id"].notna().to_numpy() & ~isin(t.frame["cluster_id"], clusters)
                problems += _rows(t, bad, "cluster not found in the clusters file", "cluster_id")
    found = cohorts(m)
    if not any(p.severity == "error" for p in problems) and found.notna().all():
        # (a blank or unreadable join year is reported with its row; the firm has no cohort then)
        COHORT_SCHEMA.validate(found.reset_index())  # one cohort per member firm
    return problems
