"""Statistical disclosure control, applied once to the whole indicator table.

Every output (``indicators.csv``, ``results.json``, the HTML dashboard, ``policylab
indicators``) is written from the table this module returns, so no other stage suppresses
anything. The rules:

1. **Minimum firms.** A cell resting on 1 to ``min_cell_firms - 1`` firms (``n_firms``;
   config ``lab.min_cell_firms``, default 5) is suppressed. A cell resting on no firm at all
   (e.g. "0 consortia formed this year", or a group that is empty) reveals nothing about a
   firm and stays visible.
2. **Contributors.** A *magnitude* cell (a sum of firms' money or headcounts, or a ratio of
   such sums: I10-I13, I17, I21) to which 1 to ``min_cell_firms - 1`` firms contribute a
   non-zero amount is suppressed, even if more firms stand behind it with zeros.
3. **Dominance.** A magnitude cell in which one firm accounts for more than
   ``dominance_share`` (config ``lab.dominance_share``, default 0.85) of the sum (absolute
   values; for a ratio, of the numerator's or the denominator's sum) is suppressed. The
   largest firm's share is carried from the computation (``max_share``), never published.
4. **Secondary suppression.** Published cells are tied by relations in which one cell is
   the total of the others: the cumulative cell and its years (indicators whose cumulative
   is a sum or a pooled statistic), the lab-wide cell and its regions, a region and its
   clusters, ``all`` and its groups (members + not-yet members + never-members), I01's
   ``members`` and its size classes. In every relation that holds a suppressed cell, at least two cells are
   suppressed and the suppressed cells together rest on at least ``min_cell_firms`` firms
   (sum of their ``n_firms``); otherwise the non-total cell resting on the fewest firms
   (ties: table order; the total only when no part is left) is suppressed too, repeated
   until every relation holds. Relations are treated as additive even for ratios, which
   errs on the side of suppressing.
5. **Marking.** A suppressed cell keeps its row: ``value``, ``n_firms``, ``n_missing`` and
   ``note`` are blanked and ``flag`` is ``suppressed``. Primary and secondary suppressions
   are not told apart (that would tell which cells are small or dominated). The one
   exception is rule 6's note on a distribution's hidden answers, which says why without
   saying which answer was small.
6. **Survey distributions** (registry ``distribution``: I25 ratings 1-5, I26 yes / unsure /
   no; ``n_firms`` = respondents, ``n_contrib`` = respondents giving the cell's answer).
   A block (one indicator, region, level, cluster and wave) with 1 to ``min_cell_firms - 1``
   respondents is suppressed whole, with its mean (I25M). Otherwise the answers are
   published only when each has 0 respondents or at least ``min_cell_firms``; if not, the
   ratings 1, 2, 4, 5 are suppressed and the collapsed 1-2 / 3 / 4-5 published, and if one
   of those is unsafe too (or for yes / unsure / no, which do not collapse) every answer is
   suppressed and only the mean is published. The mean is suppressed as well where, with
   the published answers, it pins down how many respondents gave an answer that has 1 to
   ``min_cell_firms - 1`` of them (e.g. 4-5 = 100 % and a mean of 4.8 of 5 respondents: one
   4). Within a block the hidden answers never stand alone (1 and 2 go together, as 4 and 5
   do, and 1-2 and 4-5 are published). Across blocks (the lab and its regions, a region and
   its consortia) rule 4 runs on whole blocks, one level of detail at a time (answers,
   collapsed answers, mean): a block hiding a level of detail next to blocks showing it is
   joined by the block with the fewest respondents until the hidden blocks rest on at least
   ``min_cell_firms`` respondents together.
7. **Blocks.** For an indicator whose cells of one region (or cluster), level and period
   determine one another (registry ``block``: the ranks of I27R), one suppressed cell
   suppresses the whole block (and rule 4 runs again).

Indicators that rest on no firm's data (registry ``firm_data=False``: the practice log,
I23) are never suppressed; their ``n_firms`` is 0.

Known limits: the sum of several suppressed cells can be derived from a relation; rule 4
only checks that it rests on enough firms (not its dominance), and overlapping firms across
years are counted once per year. Rule 6 checks what a mean and the published answers pin
down exactly, not what they make likely; across blocks it checks the hidden blocks'
respondents together, not each answer's count in their sum; I27's mean ratings are not
checked against I27M's shares of major ratings. Cells are protected within each indicator;
relations between different indicators (e.g. I12 and I13 share their numerator) are not
modelled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import DISTRIBUTIONS, PARTITIONS, REGISTRY

SUPPRESSED = "suppressed"
NOT_AVAILABLE = "not_available"
INTERNAL_COLUMNS = ("n_contrib", "max_share")


def primary_suppression(table: pd.DataFrame, *, min_cell_firms: int, dominance_share: float) -> np.ndarray:
    """Rules 1-3: which cells must be suppressed on their own."""
    available = table["flag"].to_numpy(dtype=object) != NOT_AVAILABLE
    n = table["n_firms"].fillna(0).to_numpy(dtype="float64")
    magnitude = table["indicator_id"].map(lambda i: REGISTRY[i].magnitude if i in REGISTRY else False)
    magnitude = magnitude.to_numpy(dtype=bool)
    n_contrib = table["n_contrib"].fillna(0).to_numpy(dtype="float64")
    share = table["max_share"].fillna(0).to_numpy(dtype="float64")
    small = (n > 0) & (n < min_cell_firms)
    few_contributors = magnitude & (n_contrib > 0) & (n_contrib < min_cell_firms)
    dominated = magnitude & (share > dominance_share)
    return available & (small | few_contributors | dominated)


def relations(table: pd.DataFrame) -> list[tuple[np.ndarray, int]]:
    """Rule 4's relations: (positions of the cells, position of the total)."""
    t = table.reset_index(drop=True).assign(_pos=np.arange(len(table)))
    t = t[t["flag"] != NOT_AVAILABLE]
    meta = {i: REGISTRY[i] for i in t["indicator_id"].unique() if i in REGISTRY}
    out: list[tuple[np.ndarray, int]] = []

    def add(frame: pd.DataFrame, keys: list[str], is_total: pd.Series) -> None:
        if frame.empty:
            return
        gid = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
        pos = frame["_pos"].to_numpy()
        total = is_total.loc[frame.index].to_numpy(dtype=bool)
        order = np.argsort(gid, kind="stable")
        for chunk in np.split(order, np.flatnonzero(np.diff(gid[order])) + 1):
            if len(chunk) >= 2 and total[chunk].sum() == 1:
                out.append((pos[chunk], int(pos[chunk][total[chunk]][0])))

    # the cumulative cell and its years
    cum_ids = [i for i, m in meta.items() if m.cumulative in ("sum", "pooled")]
    timed = t[t["indicator_id"].isin(cum_ids)]
    add(timed, ["region", "indicator_id", "level", "group", "cluster_id"], timed["period"] == "cumulative")
    # the lab and its regions
    spatial = t[t["level"].isin(["region", "lab"])]
    add(spatial, ["indicator_id", "group", "period"], spatial["level"] == "lab")
    # a region and its clusters
    local = t[t["level"].isin(["region", "cluster"])]
    add(local, ["region", "indicator_id", "group", "period"], local["level"] == "region")
    # all and its groups
    for ind_id, m in meta.items():
        if m.partition == "none":
            continue
        if m.partition == "open":  # "all" and whatever groups the data hold
            part = t[t["indicator_id"] == ind_id]
            add(part, ["region", "level", "period", "cluster_id"], part["group"] == "all")
            continue
        part = t[(t["indicator_id"] == ind_id) & t["group"].isin(PARTITIONS[m.partition])]
        add(part, ["region", "level", "period", "cluster_id"], part["group"] == PARTITIONS[m.partition][0])
    return out


def secondary_suppression(table: pd.DataFrame, primary: np.ndarray, *, min_cell_firms: int) -> np.ndarray:
    """Rule 4: extend ``primary`` until no relation reveals a suppressed cell."""
    supp = primary.copy()
    n = table["n_firms"].fillna(0).to_numpy(dtype="float64")
    eligible = (table["flag"].to_numpy(dtype=object) != NOT_AVAILABLE) & (n > 0)
    close_relations(relations(table), supp, n, eligible, min_cell_firms)
    return supp


def close_relations(rels, supp: np.ndarray, n: np.ndarray, eligible: np.ndarray,
                    min_cell_firms: int) -> bool:
    """Rule 4's loop, in place on ``supp``: in every relation ``(cells, total)`` holding a
    suppressed cell, at least two cells are suppressed and together rest on at least
    ``min_cell_firms`` firms; otherwise the eligible cell resting on the fewest firms (the
    total last) is suppressed too, until every relation holds. True if any was added."""
    grew, changed = False, True
    while changed:
        changed = False
        for idx, total in rels:
            s = supp[idx]
            k = int(s.sum())
            if k == 0 or (k >= 2 and n[idx][s].sum() >= min_cell_firms):
                continue
            cand = idx[~s & eligible[idx]]
            if cand.size == 0:
                continue
            pick = cand[np.lexsort((cand, n[cand], cand == total))[0]]
            supp[pick] = True
            changed = grew = True
    return grew


def _meta(table: pd.DataFrame, attr: str, default) -> np.ndarray:
    """Registry attribute ``attr`` of each row's indicator (``default`` for an unknown id)."""
    return table["indicator_id"].map(
        lambda i: getattr(REGISTRY[i], attr) if i in REGISTRY else default).to_numpy(dtype=object)


def block_suppression(table: pd.DataFrame, supp: np.ndarray) -> np.ndarray:
    """Rule 7: every published cell of a block (indicator, region, level, cluster, period)
    of a ``block`` indicator that holds a suppressed cell is suppressed too."""
    out = supp.copy()
    blocky = _meta(table, "block", False).astype(bool) & (table["flag"].to_numpy(dtype=object) != NOT_AVAILABLE)
    if not blocky.any():
        return out
    t = table[blocky]
    gid = t.groupby(["indicator_id", "region", "level", "cluster_id", "period"], sort=False,
                    dropna=False).ngroup().to_numpy()
    hit = np.zeros(gid.max() + 1, dtype=bool)
    hit[gid[out[blocky]]] = True
    out[np.flatnonzero(blocky)[hit[gid]]] = True
    return out


def apply_disclosure_control(raw: pd.DataFrame, *, min_cell_firms: int, dominance_share: float) -> pd.DataFrame:
    """The publishable table: rules 1-7 applied; internal columns dropped."""
    if min_cell_firms < 1:
        raise ValueError(f"min_cell_firms must be at least 1, got {min_cell_firms!r}")
    if not 0 < dominance_share <= 1:
        raise ValueError(f"dominance_share must be in (0, 1], got {dominance_share!r}")
    table = raw.reset_index(drop=True)
    survey = (_meta(table, "distribution", "none") != "none") | pd.notna(_meta(table, "mean_of", None))
    firm_free = ~_meta(table, "firm_data", True).astype(bool)
    rest = np.flatnonzero(~survey)
    t = table.iloc[rest].reset_index(drop=True)
    primary = primary_suppression(t, min_cell_firms=min_cell_firms, dominance_share=dominance_share)
    primary &= ~firm_free[rest]
    supp_rest = secondary_suppression(t, primary, min_cell_firms=min_cell_firms)
    while True:
        grown = block_suppression(t, supp_rest)
        if (grown == supp_rest).all():
            break
        supp_rest = secondary_suppression(t, grown, min_cell_firms=min_cell_firms)
    supp = np.zeros(len(table), dtype=bool)
    supp[rest] = supp_rest
    notes = np.full(len(table), "", dtype=object)
    if survey.any():
        at = np.flatnonzero(survey)
        supp[at], notes[at] = distribution_control(table.iloc[at].reset_index(drop=True),
                                                   min_cell_firms=min_cell_firms)
    out = table.drop(columns=[c for c in INTERNAL_COLUMNS if c in table]).copy()
    out["n_firms"] = out["n_firms"].astype("Int64")
    out["n_missing"] = out["n_missing"].astype("Int64")
    out.loc[supp, "value"] = np.nan
    out.loc[supp, "n_firms"] = pd.NA
    out.loc[supp, "n_missing"] = pd.NA
    out.loc[supp, "note"] = notes[supp]
    out.loc[supp, "flag"] = SUPPRESSED
    return out


# ------------------------------------------------------------------------------- rule 6

_DETAIL = ("answers", "collapsed", "mean")


def _unsafe(count: float, min_cell_firms: int) -> bool:
    return 0 < count < min_cell_firms


def fixed_rating_counts(n: int, total: int) -> dict[int, int]:
    """The counts of ratings 1-5 that ``n`` respondents and the sum of their ratings
    ``total`` (i.e. a published mean) pin down: ``{rating: count}`` for each rating whose
    count is the same in every way of giving ``n`` ratings 1-5 summing to ``total``.

    Exact (bitset dynamic programme over the respondents: O(n^2) bit operations).
    """
    excess = total - n  # each respondent adds 0..4 above the lowest rating
    fixed: dict[int, int] = {}
    if n <= 0 or not 0 <= excess <= 4 * n:
        return fixed
    for r in range(1, 6):
        others = [v - 1 for v in range(1, 6) if v != r]
        reach = [1]  # reach[m]: bit e set if m respondents without rating r add up to excess e
        for _ in range(n):
            prev, cur = reach[-1], 0
            for a in others:
                cur |= prev << a
            reach.append(cur)
        feasible = [t for t in range(n + 1)
                    if excess - t * (r - 1) >= 0 and (reach[n - t] >> (excess - t * (r - 1))) & 1]
        if len(feasible) == 1:
            fixed[r] = feasible[0]
    return fixed


def _mean_pins(counts: dict[str, float], show_answers: bool, show_collapsed: bool,
               min_cell_firms: int) -> bool:
    """Whether a block's mean rating, with what is published of its distribution, pins down
    an unsafe count of one rating."""
    if show_answers:
        return False
    c = {r: int(counts.get(str(r), 0)) for r in range(1, 6)}
    total = sum(r * k for r, k in c.items())
    if show_collapsed:
        c12, c3, c45 = c[1] + c[2], c[3], c[4] + c[5]
        k = 2 * c12 + 3 * c3 + 5 * c45 - total  # = c1 + c4
        lo, hi = max(0, k - c45), min(c12, k)
        if lo != hi:
            return False
        pinned = [lo, c12 - lo, k - lo, c45 - (k - lo)]
    else:
        pinned = list(fixed_rating_counts(sum(c.values()), total).values())
    return any(_unsafe(x, min_cell_firms) for x in pinned)


def distribution_control(table: pd.DataFrame, *, min_cell_firms: int) -> tuple[np.ndarray, np.ndarray]:
    """Rule 6 on the rows of survey distributions and their means: which to suppress, and
    the note a hidden answer carries."""
    t = table.assign(_pos=np.arange(len(table)))
    t = t[t["flag"].to_numpy(dtype=object) != NOT_AVAILABLE]
    supp = np.zeros(len(table), dtype=bool)
    notes = np.full(len(table), "", dtype=object)
    if t.empty:
        return supp, notes
    mean_of = t["indicator_id"].map(lambda i: REGISTRY[i].mean_of if i in REGISTRY else None)
    is_mean = mean_of.notna().to_numpy(dtype=bool)
    dist_id = np.where(is_mean, mean_of.fillna("").to_numpy(dtype=object), t["indicator_id"].to_numpy(dtype=object))
    t = t.assign(_dist=dist_id, _mean=is_mean)
    keys = ["_dist", "region", "level", "cluster_id", "period"]
    t = t.assign(_block=t.groupby(keys, sort=False, dropna=False).ngroup().to_numpy())
    first = t.drop_duplicates("_block").sort_values("_block")
    n = t.groupby("_block")["n_firms"].max().fillna(0).reindex(first["_block"]).to_numpy(dtype="float64")
    kind = [REGISTRY[d].distribution if d in REGISTRY else "none" for d in first["_dist"]]
    answers = t[~t["_mean"]]
    # respondents giving each answer: n_contrib, or (a table without it) the share of n
    k = pd.to_numeric(answers["n_contrib"], errors="coerce") if "n_contrib" in answers else None
    share = (pd.to_numeric(answers["value"], errors="coerce") * answers["n_firms"].astype("float64") / 100.0).round()
    k = share if k is None else k.fillna(share)
    counts: list[dict[str, float]] = [{} for _ in range(len(first))]
    for b, g, c in zip(answers["_block"], answers["group"], k.fillna(0)):
        counts[b][str(g)] = float(c)
    has_answers = np.zeros(len(first), dtype=bool)
    has_answers[answers["_block"].unique()] = True
    has_mean = np.zeros(len(first), dtype=bool)
    has_mean[t.loc[t["_mean"], "_block"].unique()] = True

    small = (n > 0) & (n < min_cell_firms)
    hide = {d: small.copy() for d in _DETAIL}
    for b in range(len(first)):
        if small[b] or kind[b] == "none" or not has_answers[b]:
            continue
        fine, collapsed = DISTRIBUTIONS[kind[b]]
        c = counts[b]
        if any(_unsafe(c.get(a, 0), min_cell_firms) for a in fine):
            hide["answers"][b] = True
            if not collapsed or any(_unsafe(sum(c.get(a, 0) for a in parts), min_cell_firms)
                                    for parts in collapsed.values()):
                hide["collapsed"][b] = True

    frame = first[["region", "level", "cluster_id", "period"]].assign(
        indicator_id=first["_dist"].to_numpy(), flag="", n_firms=n).reset_index(drop=True)
    present = {"answers": has_answers, "collapsed": has_answers, "mean": has_mean}
    while True:
        before = {d: h.copy() for d, h in hide.items()}
        for b in range(len(first)):
            if kind[b] != "ratings" or not has_mean[b] or hide["mean"][b] or not has_answers[b]:
                continue
            if _mean_pins(counts[b], not hide["answers"][b], not hide["collapsed"][b], min_cell_firms):
                hide["mean"][b] = True
        for d in _DETAIL:  # rule 4 across blocks, one level of detail at a time
            rows = np.flatnonzero(present[d])
            if not len(rows):
                continue
            sub = frame.iloc[rows].assign(group=d).reset_index(drop=True)
            hide[d][rows] = secondary_suppression(sub, hide[d][rows], min_cell_firms=min_cell_firms)
        no_collapse = np.array([k == "answers" for k in kind], dtype=bool)
        hide["answers"] |= hide["collapsed"]
        hide["collapsed"] |= hide["answers"] & no_collapse
        if all((before[d] == hide[d]).all() for d in _DETAIL):
            break

    block = t["_block"].to_numpy()
    group = t["group"].astype(str).to_numpy(dtype=object)
    pos = t["_pos"].to_numpy()
    for i, b in enumerate(block):
        if t["_mean"].iat[i]:
            supp[pos[i]] = hide["mean"][b]
            continue
        fine, collapsed = DISTRIBUTIONS.get(kind[b], ((), {}))
        coarse = group[i] in collapsed  # "1-2", "3", "4-5"
        hidden = hide["collapsed"][b] if coarse else hide["answers"][b]
        supp[pos[i]] = hidden
        if hidden and not small[b]:
            notes[pos[i]] = _hidden_note(kind[b], collapsed_shown=not hide["collapsed"][b],
                                         mean_shown=has_mean[b] and not hide["mean"][b],
                                         min_cell_firms=min_cell_firms)
    return supp, notes


def _hidden_note(kind: str, *, collapsed_shown: bool, mean_shown: bool, min_cell_firms: int) -> str:
    rule = f"each answer must have 0 or at least {min_cell_firms} respondents (disclosure control)"
    if kind == "ratings" and collapsed_shown:
        return f"published as 1-2 / 3 / 4-5: {rule}"
    if kind == "ratings":
        return f"{'only the mean is published' if mean_shown else 'not published'}: {rule}, also as 1-2 / 3 / 4-5"
    return f"not published: {rule}"
