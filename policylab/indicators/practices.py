"""Policy-lab uptake (I23, EU common indicator RCR104 "solutions taken up or up-scaled by
organisations"): practices transferred between regions by the stage they have reached, the
practices adopted, and the time from studying a practice to adopting it (I23, I23A, I23T).

The practices log has one row per practice and stage (``studied``, ``adapted``,
``piloted``, ``adopted``, ``dropped``) with the date the stage was reached. A practice is
identified by its adopting region and its ``practice_id``; the same practice and stage
logged by two regions of the lab (the origin and the adopting region) counts once, at the
earlier date.

Region rows count the practices the region takes up: the rows of its own log whose
``adopting_region`` is the region's NUTS-2 code (a row naming another adopting region only
counts in the lab-wide rows). Periods are the scope's years: a stage counts in year ``y``
when it was reached on or before 31 December of ``y``.

These indicators rest on no firm's data (a policy log of the regions' agencies): their
cells carry ``n_firms`` 0 and disclosure control never suppresses them (registry
``firm_data=False``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import PRACTICE_STAGES
from ._cells import cells
from .inputs import CUMULATIVE, Inputs
from .registry import STAGE_GROUPS, indicator

ORDER = {s: i for i, s in enumerate(PRACTICE_STAGES)}
FIRM_FREE = ("Rests on no firm's data (the regions' practice log): n_firms is 0 and disclosure "
             "control never suppresses it.")


def practice_log(inp: Inputs) -> pd.DataFrame:
    """``key`` (adopting region / practice id), ``stage``, ``date``: one row per practice and
    stage reached, with the earliest date logged; for a region, its own uptake only."""
    p = inp.tables["practices"]
    p = p[p["practice_id"].notna() & p["stage"].isin(PRACTICE_STAGES) & p["stage_date"].notna()]
    adopting = p["adopting_region"].astype("string").fillna("").to_numpy(dtype=object)
    if inp.scope == "region":
        own = inp.own_region(p)
        p = p[(own == "") | (adopting == own)]
        adopting = p["adopting_region"].astype("string").fillna("").to_numpy(dtype=object)
    out = pd.DataFrame({"key": adopting + "/" + p["practice_id"].astype(str).to_numpy(dtype=object),
                        "stage": p["stage"].astype(str).to_numpy(dtype=object),
                        "date": pd.to_datetime(p["stage_date"]).to_numpy()})
    return out.sort_values("date", kind="stable").drop_duplicates(["key", "stage"]).reset_index(drop=True)


def latest_stage(log: pd.DataFrame, year: int) -> pd.Series:
    """Each practice's latest stage reached by the end of ``year`` (the stage with the latest
    date; on the same date the later stage in :data:`~policylab.schema.PRACTICE_STAGES`)."""
    done = log[log["date"].dt.year <= year]
    done = done.assign(_o=done["stage"].map(ORDER))
    last = done.sort_values(["key", "date", "_o"], kind="stable").drop_duplicates("key", keep="last")
    return last.set_index("key")["stage"]


@indicator(
    id="I23", optional=True, name="Transferred practices by stage", unit="practices", levels=("region", "lab"),
    numerator="practices in the log at the end of the year, each at its latest stage reached by "
              "then (studied, adapted, piloted, adopted or dropped)",
    denominator="-", needs=("practices",), eu_code="RCR104", partition="practice_stages",
    firm_data=False,
    notes="Groups: 'all' and each stage; a stock at the end of each year (no cumulative row). "
          "A practice dropped after adoption counts under 'dropped'; RCR104 (solutions taken up) "
          "is the 'adopted' group. " + FIRM_FREE)
def practices_by_stage(inp: Inputs) -> pd.DataFrame:
    log = practice_log(inp)
    rows = []
    for y in inp.years:
        stage = latest_stage(log, y)
        for group in STAGE_GROUPS:
            n = len(stage) if group == "all" else int((stage == group).sum())
            rows.append({"period": str(y), "group": group, "value": float(n), "n_firms": 0})
    return cells(rows)


def _adoptions(inp: Inputs) -> pd.DataFrame:
    """Practices adopted: ``key``, ``adopted`` date, ``studied`` date (NaT when not logged),
    ``months`` from studied to adopted (NaN when not known or negative), ``year`` adopted."""
    log = practice_log(inp)
    wide = log.pivot(index="key", columns="stage", values="date")
    if "adopted" not in wide:
        return pd.DataFrame({"key": [], "adopted": [], "studied": [], "months": [], "year": []})
    a = wide[wide["adopted"].notna()]
    studied = a["studied"] if "studied" in a else pd.Series(pd.NaT, index=a.index, dtype="datetime64[ns]")
    months = whole_months(studied, a["adopted"])
    months = months.where(months >= 0)
    return pd.DataFrame({"key": a.index, "adopted": a["adopted"].to_numpy(), "studied": studied.to_numpy(),
                         "months": months.to_numpy(), "year": a["adopted"].dt.year.to_numpy()})


def whole_months(start: pd.Series, end: pd.Series) -> pd.Series:
    """Whole calendar months from ``start`` to ``end`` (a month counts once its day of the
    month is reached: 15 Jan -> 14 Jul is 5 months, -> 15 Jul 6); NaN where a date is
    missing."""
    s, e = pd.to_datetime(start), pd.to_datetime(end)
    months = (e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month) - (e.dt.day < s.dt.day).astype("int64")
    return months.astype("float64").where(s.notna() & e.notna())


def _by_period(frame: pd.DataFrame, years) -> list[tuple[str, pd.DataFrame]]:
    yrs = list(years)
    inside = frame[frame["year"].isin(yrs)]
    return [(str(y), inside[inside["year"] == y]) for y in yrs] + [(CUMULATIVE, inside)]


@indicator(
    id="I23A", optional=True, name="Practices adopted", unit="practices", levels=("region", "lab"),
    numerator="practices that reached the stage 'adopted' in the period (by the date of adoption)",
    denominator="-", needs=("practices",), eu_code="RCR104", cumulative="sum", firm_data=False,
    notes="A flow: a practice counts in the year it was adopted, even if dropped later "
          "(cumulative: all the years). " + FIRM_FREE)
def practices_adopted(inp: Inputs) -> pd.DataFrame:
    a = _adoptions(inp)
    return cells([{"period": p, "value": float(len(sub)), "n_firms": 0} for p, sub in _by_period(a, inp.years)])


@indicator(
    id="I23T", optional=True, name="Time from studying a practice to adopting it", unit="months",
    levels=("region", "lab"),
    numerator="median over the practices adopted in the period of the time from the date the "
              "practice reached 'studied' to the date it reached 'adopted'",
    denominator="-", needs=("practices",), eu_code="RCR104", cumulative="pooled", firm_data=False,
    notes="Whole calendar months (a month counts once its day is reached, as the report's "
          "practice log shows them). A practice adopted without a 'studied' date (or adopted "
          "before it was studied) is left out and counted in the note. Cumulative: the median "
          "over all the years' adoptions. " + FIRM_FREE)
def time_to_adoption(inp: Inputs) -> pd.DataFrame:
    a = _adoptions(inp)
    rows = []
    for period, sub in _by_period(a, inp.years):
        m = sub["months"].dropna()
        lost = len(sub) - len(m)
        note = f"{lost} adopted practice(s) without a 'studied' date before adoption left out" if lost else ""
        if not len(sub):
            note = "no practice adopted in the period"
        rows.append({"period": period, "value": float(m.median()) if len(m) else np.nan, "n_firms": 0,
                     "note": note})
    return cells(rows)
