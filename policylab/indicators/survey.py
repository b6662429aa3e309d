"""SME panel (survey) indicators: response rate, satisfaction with the consortium, intention
to stay, barriers to internationalisation, and retention by satisfaction (I24-I28).

The SME panel is the small group of firms the policy lab asks once a wave (domain notes
§1.2 and the SIE recommendation): one row per invited firm and wave, ``responded`` yes/no
(a no has no answers). Periods are the waves (a wave's year); there is no cumulative row,
since waves ask the same firms again and pooling them would count a firm once per wave.
Cells are per region, per consortium (``cluster_id`` the respondent speaks about; a
respondent naming none counts for the region only) and lab-wide.

``n_firms`` of a survey cell is the number of respondents behind it (I24: the firms
invited). Free text never reaches the indicators (``survey.comment`` is dropped at ingest)
and no cell holds an answer's text: groups are the fixed answer codes. Disclosure control
(:mod:`~policylab.indicators.disclosure`, rules 1, 4, 6 and 7) suppresses cells with
fewer respondents than ``min_cell_firms`` and publishes a distribution of answers only
where every answer is safe; see the registry notes of I25 and I26.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import BARRIERS
from ._cells import cells, finish
from .clusters import km_survival
from .inputs import CUMULATIVE, Inputs
from .registry import ANSWERS, DISTRIBUTIONS, RATINGS, indicator

#: Years after joining at which I28 reads the retention curve.
RETENTION_HORIZONS = (1, 2, 3, 4, 5)
#: Satisfaction groups of I28 (first rating while a member).
SATISFIED, NOT_SATISFIED = "satisfied", "not_satisfied"
SURVEY_NOTE = ("n_firms = respondents; disclosure control: fewer than min_cell_firms respondents "
               "-> suppressed.")
_BARRIER_NEEDS = "|".join(f"survey.barrier_{k}" for k in BARRIERS)


def survey_rows(inp: Inputs) -> pd.DataFrame:
    """The survey with ``wave`` as int, ``responded`` as bool and a ``cluster_id`` column
    (missing when the respondent names no consortium or the survey has none)."""
    s = inp.tables["survey"]
    s = s[s["firm_id"].notna() & s["wave"].notna()].copy()
    s["wave"] = s["wave"].astype("int64")
    s["responded"] = s["responded"].astype("string").eq("yes").fillna(False).astype(bool)
    if "cluster_id" not in s:
        s["cluster_id"] = pd.Series(pd.NA, index=s.index, dtype="string")
    return s.reset_index(drop=True)


def in_blocks(inp: Inputs, rows: pd.DataFrame, *, per_cluster: bool = True) -> pd.DataFrame:
    """``rows`` once for the region (``block`` = ``""``) and, in the region scope, once more
    for the consortium each names (``block`` = its ``cluster_id``): one row per respondent
    and cell block."""
    parts = [rows.assign(block="")]
    if per_cluster and inp.scope == "region":
        named = rows[rows["cluster_id"].notna()]
        parts.append(named.assign(block=named["cluster_id"].astype(str)))
    return pd.concat(parts, ignore_index=True)


def block_index(inp: Inputs, long: pd.DataFrame) -> pd.MultiIndex:
    """The cell blocks ``(block, wave)``: the region in every wave of the survey, each
    consortium in the waves it has rows; waves in order, the region before its consortia."""
    waves = sorted(survey_rows(inp)["wave"].unique().tolist())
    have = long[["block", "wave"]].drop_duplicates()
    keys = pd.concat([have, pd.DataFrame({"block": "", "wave": waves})]).drop_duplicates()
    keys = keys.sort_values(["wave", "block"], kind="stable")
    return pd.MultiIndex.from_frame(keys.astype({"block": object, "wave": "int64"}))


def _frame(index: pd.MultiIndex, **columns) -> pd.DataFrame:
    """Cells of each block of ``index``: ``cluster_id`` = the block, ``period`` = the wave."""
    return pd.DataFrame({"cluster_id": index.get_level_values("block").to_numpy(dtype=object),
                         "period": index.get_level_values("wave").astype(str).to_numpy(dtype=object),
                         **columns})


# ------------------------------------------------------------------------------------ I24


@indicator(
    id="I24", optional=True, name="SME panel response rate", unit="%", levels=("region", "lab"),
    numerator="invited firms that responded to the wave (responded = yes)",
    denominator="firms invited to the wave", needs=("survey",), eu_code="-",
    notes="Per wave (period = the wave's year). n_firms = firms invited. Not per consortium: a "
          "non-respondent's row need not name a consortium (cluster_id is the one a respondent "
          "speaks about), so a per-consortium rate would count only those who answered.")
def response_rate(inp: Inputs) -> pd.DataFrame:
    long = in_blocks(inp, survey_rows(inp), per_cluster=False)
    idx = block_index(inp, long)
    by = long.groupby(["block", "wave"])
    invited = by["firm_id"].nunique().reindex(idx, fill_value=0).to_numpy(dtype="float64")
    answered = long[long["responded"]].groupby(["block", "wave"])["firm_id"].nunique()
    answered = answered.reindex(idx, fill_value=0).to_numpy(dtype="float64")
    value = np.divide(100.0 * answered, invited, out=np.full(len(idx), np.nan), where=invited > 0)
    return finish(_frame(idx, value=value, n_firms=invited))


# ------------------------------------------------------------------------------- I25, I26


def _answers(inp: Inputs, column: str, categories: tuple[str, ...]) -> pd.DataFrame:
    """Respondents' answers to ``column`` as the category codes (other values left out)."""
    s = survey_rows(inp)
    s = s[s["responded"] & s[column].notna()] if column in s else s.iloc[0:0]
    if column == "satisfaction":
        v = s[column].astype("float64")
        ok = v.isin([float(c) for c in categories]).to_numpy(dtype=bool)
        s = s[ok].assign(answer=v[ok].astype("int64").astype(str).to_numpy())
    else:
        s = s.assign(answer=s[column].astype("string").str.lower())
        s = s[s["answer"].isin(categories)]
    return s.reset_index(drop=True)


def distribution_cells(inp: Inputs, column: str, distribution: str) -> pd.DataFrame:
    """Shares (%) of respondents giving each answer, per block, and the collapsed groups.

    ``n_firms`` = respondents of the block (who gave one of the answers); ``n_contrib`` =
    respondents giving the cell's answer(s), which disclosure rule 6 reads.
    """
    categories, collapsed = DISTRIBUTIONS[distribution]
    long = in_blocks(inp, _answers(inp, column, categories))
    idx = block_index(inp, long)
    n = long.groupby(["block", "wave"])["firm_id"].nunique().reindex(idx, fill_value=0).to_numpy(dtype="float64")
    count = long.groupby(["block", "wave", "answer"])["firm_id"].nunique()
    count = (count.unstack("answer") if len(count) else pd.DataFrame(index=idx))
    count = count.reindex(index=idx, columns=list(categories)).fillna(0)
    groups = [(c, (c,)) for c in categories] + [(g, p) for g, p in collapsed.items() if g not in categories]
    parts = []
    for group, answers in groups:
        k = count[list(answers)].sum(axis=1).to_numpy(dtype="float64")
        parts.append(_frame(idx, group=group, n_firms=n, n_contrib=k, _order=np.arange(len(idx)),
                            value=np.divide(100.0 * k, n, out=np.full(len(idx), np.nan), where=n > 0),
                            note=np.where(n > 0, "", "no respondent answered")))
    out = pd.concat(parts, ignore_index=True).sort_values("_order", kind="stable")
    return finish(out)


@indicator(
    id="I25", optional=True, name="Satisfaction with the consortium", unit="%", levels=("cluster", "region", "lab"),
    numerator="respondents rating their satisfaction with the consortium 1 (very dissatisfied) .. "
              "5 (very satisfied), per rating",
    denominator="respondents who gave a rating", needs=("survey.satisfaction",), eu_code="-",
    distribution="ratings",
    notes="Groups '1'..'5' and the collapsed '1-2', '3', '4-5' (each a % of respondents). "
          "Disclosure rule 6: ratings 1..5 are published only when each has 0 or at least "
          "min_cell_firms respondents; otherwise 1, 2, 4 and 5 are suppressed and the collapsed "
          "1-2 / 3 / 4-5 shown, and if one of those is unsafe too only the mean (I25M) is; "
          "the cells hidden this way say so in their note. " + SURVEY_NOTE)
def satisfaction(inp: Inputs) -> pd.DataFrame:
    return distribution_cells(inp, "satisfaction", "ratings")


@indicator(
    id="I25M", optional=True, name="Mean satisfaction with the consortium", unit="rating (1-5)",
    levels=("cluster", "region", "lab"),
    numerator="sum of the respondents' satisfaction ratings (1 = very dissatisfied, 5 = very "
              "satisfied)", denominator="respondents who gave a rating",
    needs=("survey.satisfaction",), eu_code="-", mean_of="I25", discloses_with=("I25",),
    notes="Published under disclosure rule 6 with the distribution I25: suppressed with fewer than "
          "min_cell_firms respondents, and also where, with the published groups of I25, it would "
          "give away how many respondents gave a rating that has 1 to min_cell_firms - 1 of them. "
          + SURVEY_NOTE)
def satisfaction_mean(inp: Inputs) -> pd.DataFrame:
    long = in_blocks(inp, _answers(inp, "satisfaction", RATINGS))
    idx = block_index(inp, long)
    rating = long.assign(r=long["answer"].astype("int64")).groupby(["block", "wave"])["r"]
    n = rating.size().reindex(idx, fill_value=0).to_numpy(dtype="float64")
    mean = rating.mean().reindex(idx).to_numpy(dtype="float64")
    return finish(_frame(idx, group="mean", value=mean, n_firms=n, n_contrib=n,
                         note=np.where(n > 0, "", "no respondent answered")))


@indicator(
    id="I26", optional=True, name="Intention to stay in the consortium", unit="%", levels=("cluster", "region", "lab"),
    numerator="respondents answering yes / unsure / no to 'do you intend to remain a member next "
              "year?'", denominator="respondents who answered", needs=("survey.intends_to_stay",),
    eu_code="RCR84", distribution="answers",
    notes="Groups 'yes', 'unsure', 'no' (% of respondents). Disclosure rule 6: published only when "
          "each answer has 0 or at least min_cell_firms respondents, otherwise all three are "
          "suppressed (the note says why). " + SURVEY_NOTE)
def intention_to_stay(inp: Inputs) -> pd.DataFrame:
    return distribution_cells(inp, "intends_to_stay", "answers")


# ------------------------------------------------------------------------------ I27 family


def _barrier_stats(inp: Inputs) -> pd.DataFrame:
    """Per block and barrier: respondents rating it (``n_firms``), mean rating, % rating it
    4-5 and its rank by mean within the block (1 = highest mean; ties share the better
    rank)."""
    s = survey_rows(inp)
    long = in_blocks(inp, s[s["responded"]])
    idx = block_index(inp, long)
    parts = []
    for k in (k for k in BARRIERS if f"barrier_{k}" in s):
        r = long[f"barrier_{k}"].astype("float64")
        ok = r.isin([1.0, 2.0, 3.0, 4.0, 5.0])
        by = long[ok].assign(r=r[ok], major=(r[ok] >= 4).astype("float64")).groupby(["block", "wave"])
        n = by["r"].size().reindex(idx, fill_value=0).to_numpy(dtype="float64")
        parts.append(_frame(idx, group=k, n_firms=n, mean=by["r"].mean().reindex(idx).to_numpy(dtype="float64"),
                            major=100.0 * by["major"].mean().reindex(idx).to_numpy(dtype="float64"),
                            _order=np.arange(len(idx))))
    if not parts:
        return pd.DataFrame(columns=["period", "cluster_id", "group", "n_firms", "mean", "major", "rank"])
    out = pd.concat(parts, ignore_index=True)
    out["rank"] = out.groupby("_order")["mean"].rank(ascending=False, method="min")
    return out.sort_values("_order", kind="stable").reset_index(drop=True)


def _barrier_cells(inp: Inputs, stat: str) -> pd.DataFrame:
    t = _barrier_stats(inp)
    note = np.where(t["n_firms"].to_numpy(dtype="float64") > 0, "", "no respondent rated this barrier")
    return finish(t[["period", "cluster_id", "group", "n_firms"]].assign(value=t[stat], note=note))


_BARRIER_GROUPS = "Groups: the barriers (" + ", ".join(f"'{k}' {v.lower()}" for k, v in BARRIERS.items()) + ")."


@indicator(
    id="I27", optional=True, name="Barriers to internationalisation (mean rating)", unit="rating (1-5)",
    levels=("cluster", "region", "lab"),
    numerator="sum of the respondents' ratings of the barrier (1 = not a barrier, 5 = a major "
              "barrier)", denominator="respondents who rated it", needs=(_BARRIER_NEEDS,),
    eu_code="-",
    notes=_BARRIER_GROUPS + " Barrier taxonomy after OECD (2009). " + SURVEY_NOTE)
def barrier_mean(inp: Inputs) -> pd.DataFrame:
    return _barrier_cells(inp, "mean")


@indicator(
    id="I27M", optional=True, name="Barriers to internationalisation (share rating it major)", unit="%",
    levels=("cluster", "region", "lab"),
    numerator="respondents rating the barrier 4 or 5 (a major barrier)",
    denominator="respondents who rated it", needs=(_BARRIER_NEEDS,), eu_code="-",
    notes=_BARRIER_GROUPS + " " + SURVEY_NOTE)
def barrier_major(inp: Inputs) -> pd.DataFrame:
    return _barrier_cells(inp, "major")


@indicator(
    id="I27R", optional=True, name="Barriers to internationalisation (rank)", unit="rank",
    levels=("cluster", "region", "lab"),
    numerator="rank of the barrier's mean rating among the barriers rated in the same region (or "
              "consortium) and wave, 1 = the highest mean (ties share the better rank)",
    denominator="-", needs=(_BARRIER_NEEDS,), eu_code="-", block=True,
    notes=_BARRIER_GROUPS + " Disclosure rule 7: the ranks of a block determine one another, so "
          "one suppressed rank suppresses every rank of its region (or consortium) and wave. "
          + SURVEY_NOTE)
def barrier_rank(inp: Inputs) -> pd.DataFrame:
    return _barrier_cells(inp, "rank")


# ------------------------------------------------------------------------------------ I28


def retention_sample(inp: Inputs) -> tuple[pd.DataFrame, int]:
    """Memberships with a satisfaction rating while a member, and how many had none.

    Returns ``firm_id, cluster_id, group`` (satisfied / not_satisfied by the FIRST rating
    while a member: a response about that consortium or naming none, in a wave with
    ``join_year <= wave < exit_year``), ``time`` (years from joining to leaving, or to the
    region's last year: censored), ``event`` (1 = left by the last year) and ``entry``
    (years from joining to that first rating: the membership is at risk only after it).
    """
    m = inp.membership
    last = inp.window(m)[1]
    m = m.assign(_last=last).reset_index(drop=True)
    m = m[m["join_year"].to_numpy() <= m["_last"].to_numpy()].reset_index(drop=True)
    m = m.assign(_m=np.arange(len(m)))
    s = survey_rows(inp)
    s = s[s["responded"] & s["satisfaction"].isin([1.0, 2.0, 3.0, 4.0, 5.0])] if "satisfaction" in s else s.iloc[0:0]
    s = s[["firm_id", "wave", "cluster_id", "satisfaction"]].rename(columns={"cluster_id": "_about"})
    pairs = m.merge(s, on="firm_id")
    ex = pairs["exit_year"].to_numpy(dtype="float64")
    w = pairs["wave"].to_numpy(dtype="float64")
    about = pairs["_about"].astype("string")
    same = (about.isna() | (about == pairs["cluster_id"].astype("string"))).fillna(False).to_numpy(dtype=bool)
    member = (pairs["join_year"].to_numpy() <= w) & (np.isnan(ex) | (w < ex)) & (w <= pairs["_last"].to_numpy())
    first = pairs[same & member].sort_values(["_m", "wave"], kind="stable").drop_duplicates("_m")
    join = first["join_year"].to_numpy(dtype="float64")
    ex = first["exit_year"].to_numpy(dtype="float64")
    lst = first["_last"].to_numpy(dtype="float64")
    event = ~np.isnan(ex) & (ex <= lst)
    time = np.where(event, ex - join, lst - join)
    entry = first["wave"].to_numpy(dtype="float64") - join
    out = pd.DataFrame({"firm_id": first["firm_id"].to_numpy(), "cluster_id": first["cluster_id"].to_numpy(),
                        "group": np.where(first["satisfaction"].to_numpy() >= 4, SATISFIED, NOT_SATISFIED),
                        "time": time, "event": event.astype("int64"), "entry": entry})
    out = out[out["time"] > out["entry"]].reset_index(drop=True)  # followed up after the rating
    return out, int(len(m) - len(first))


def _horizon(group: str, k: int) -> str:
    return f"{group}_{k}_year" if k == 1 else f"{group}_{k}_years"


@indicator(
    id="I28", optional=True, name="Member retention by satisfaction (Kaplan-Meier)", unit="%", levels=("region", "lab"),
    numerator="Kaplan-Meier product over years t <= k after joining of (1 - memberships ending t "
              "years after joining / memberships at risk), by the member's first satisfaction "
              "rating while a member",
    denominator="memberships with a satisfaction rating, each at risk from its first rating "
                "(delayed entry) to its exit or the last year (censored)",
    needs=("survey.satisfaction", "membership"), eu_code="RCR84",
    notes="DESCRIPTIVE, NOT CAUSAL: members who are satisfied may differ in many other ways from "
          "those who are not, so the gap between the curves is not the effect of satisfaction. "
          "Groups '<satisfied|not_satisfied>_<k>_year(s)', k = 1..5 years after joining: the "
          "share of memberships still active in year join_year + k (satisfied = first rating 4-5, "
          "not_satisfied = 1-3). A membership counts from its first rating on (left truncation), "
          "so members surveyed late do not count as surviving the years before; NaN where no "
          "membership was followed at k. Period 'cumulative' = the whole observation window; "
          "each membership is censored at its region's last year. statsmodels SurvfuncRight, as "
          "I04K. n_firms = the firms in the group. " + SURVEY_NOTE)
def retention_by_satisfaction(inp: Inputs) -> pd.DataFrame:
    sample, unrated = retention_sample(inp)
    note = f"{unrated} membership(s) without a rating while a member left out" if unrated else ""
    rows = []
    for group in (SATISFIED, NOT_SATISFIED):
        g = sample[sample["group"] == group]
        surv = km_survival(g["time"].to_numpy(), g["event"].to_numpy(), list(RETENTION_HORIZONS),
                           entry=g["entry"].to_numpy())
        n = g["firm_id"].nunique()
        for k, v in zip(RETENTION_HORIZONS, surv):
            why = "" if not np.isnan(v) else (
                "no rated membership in the group" if not n else f"no rated membership followed {k} year(s) after joining")
            rows.append({"period": CUMULATIVE, "group": _horizon(group, k), "value": 100.0 * v,
                         "n_firms": n, "note": "; ".join(x for x in (why, note) if x)})
    return cells(rows)


__all__ = ["ANSWERS", "RATINGS", "retention_sample", "survey_rows"]
