"""The texts written next to the data: ``TRUTH.md`` (what is planted) and ``README.md``.

Every number in them is recomputed from the generated tables, so they always match the files.
"""

from __future__ import annotations

import pandas as pd

from .lab import ExampleLab, RegionExample
from .links import (
    CONSORTIA,
    FIRST_LINK_YEAR,
    LINK_TYPE_ORDER,
    MISSIONS_PER_WEIGHT,
    OTHER_PER_WEIGHT,
    PARTNER_WEIGHTS,
    SHARED_MANAGERS,
)
from .panel import (
    BARRIER_BLANK,
    BARRIER_SD,
    COMMENT_SHARE,
    MOOD_FLIP,
    RETENTION_CHECK,
    SATISFIED,
    SOON,
)
from .practices import PRACTICES
from .spec import (BARRIERS, FX, LAST_YEAR, SURVIVAL_HORIZON, TRUTH_OUTCOMES,
                   VALUE_SPLIT_OUTCOMES, YEARS)
from .summaries import (
    barrier_means,
    baseline_exporter_share,
    cluster_survival,
    cross_regional_orders,
    effect_by_event_time,
    pooled_effect,
    pre_join_growth_gap,
    response_rate,
    retention_by_first_rating,
    retention_split,
    stay_by_satisfaction,
)


def _pct(x: float, digits: int = 1) -> str:
    return "–" if x != x else f"{100 * x:.{digits}f} %"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _region_facts(r: RegionExample) -> dict[str, str]:
    firms, mem, cl = r.firms, r.membership, r.clusters
    n_firms = firms["firm_id"].nunique()
    members = mem["firm_id"].nunique()
    years = firms.groupby("firm_id")["year"].agg(["min", "max", "size"])
    unbalanced = int((years["size"] < len(YEARS)).sum())
    doubles = int((mem.groupby("firm_id").size() > 1).sum())
    founders = mem.merge(cl[["cluster_id", "founded_year"]], on="cluster_id")
    n_founders = (
        founders[founders["join_year"] == founders["founded_year"]].groupby("cluster_id").size()
    )
    return {
        "firms": str(n_firms),
        "members": f"{members} ({_pct(members / n_firms, 0)})",
        "unbalanced": str(unbalanced),
        "clusters": str(len(cl)),
        "founded": ", ".join(str(y) for y in cl["founded_year"]),
        "founders": f"{int(n_founders.min())}–{int(n_founders.max())}",
        "doubles": str(doubles),
        "closed": str(int(cl["closed_year"].notna().sum())),
        "baseline": _pct(baseline_exporter_share(firms)),
        "survival": _pct(cluster_survival(cl), 0),
        "missing": str(int(firms["exports_eur"].isna().sum())),
        "orders": f"{len(r.orders)} ({int(r.orders['cluster_id'].notna().sum())} via clusters)",
    }


def _truth_md(lab: ExampleLab) -> str:
    out = [
        _TRUTH_INTRO.format(seed=lab.seed).strip("\n"),
        "",
        "## Planted parameters",
        "",
    ]
    rows = []
    for r in lab.regions:
        e = r.spec.effects
        pre = "–"
        if e.pretrend_log_exports or e.pretrend_index:
            pre = (
                f"log exports −{e.pretrend_log_exports:g} and latent index "
                f"−{e.pretrend_index:g} per year before joining"
            )
        n_members = r.membership["firm_id"].nunique()
        rows.append(
            [
                r.spec.name,
                r.spec.key,
                "none" if e.is_zero else f"+{100 * e.exporter_pp:g} pp",
                "none" if e.is_zero else f"+{100 * e.value_pct:g} %",
                "–" if e.is_zero else str(e.ramp_years),
                "–" if e.is_zero else f"{r.switchers} of {n_members}",
                "none" if e.markets == 0 else f"+{e.markets:g}",
                pre,
            ]
        )
    header = ["region", "key", "export propensity (exporter_pp)", "export value (value_pct)",
              "ramp R (years)", "members switched on", "markets",
              "selection pre-trend"]  # fmt: skip
    out.append(_md_table(header, rows))
    out += ["", _TRUTH_EFFECTS.strip("\n"), ""]
    for outcome in TRUTH_OUTCOMES:
        rows = []
        for r in lab.regions:
            s = effect_by_event_time(r.truth, outcome)
            rows.append([r.spec.name] + ["–" if v != v else f"{v:.3f}" for v in s.to_numpy()])
        table = _md_table(["region"] + [f"e = {e}" for e in range(6)], rows)
        out += [f"### `{outcome}`", "", table, ""]
    out += ["### Export value and where it comes from", "", _VALUE_SPLIT.strip("\n"), ""]
    rows = []
    for r in lab.regions:
        total, prior, new = (pooled_effect(r.truth, o) for o in VALUE_SPLIT_OUTCOMES)
        share = "–" if total == 0 else f"{100 * new / total:.0f} %"
        rows.append([r.spec.name, _eur(total), _eur(prior), _eur(new), share])
    out += [_md_table(["region", "export value (EUR per member firm-year)",
                       "from prior exporters", "from the other members", "share from the others"],
                      rows), ""]
    out += ["## The regions at a glance (realized)", ""]
    rows = []
    for r in lab.regions:
        f = _region_facts(r)
        gap = pre_join_growth_gap(r.firms, r.membership)
        rows.append(
            [r.spec.name, f["firms"], f["unbalanced"], f["members"], f["baseline"], f["clusters"],
             f["founded"], f["founders"], f["doubles"], f["closed"], f["survival"], f"{gap:+.3f}"]
        )  # fmt: skip
    header = ["region", "firms", "unbalanced", "ever members", "exporters 2012–14", "clusters",
              "founded", "founders per cluster", "in two clusters", "closed",
              f"survival {SURVIVAL_HORIZON} yrs after seed", "pre-join growth gap"]  # fmt: skip
    out += [_md_table(header, rows), ""]
    out += [_TRUTH_GLANCE.format(k=SURVIVAL_HORIZON, last=LAST_YEAR).strip("\n"), ""]
    out += _other_half_md(lab)
    return "\n".join(out)


_TRUTH_INTRO = """
# What is planted in the example data (the truth to recover)

SYNTHETIC data: fictional firms and clusters in six real SIE partner regions. Generated by
`python -m policylab.examples` (seed {seed}); every number below is recomputed from the
generated tables, so it always matches the files.

## How the data are generated

Every firm has an untreated potential outcome `Y0` (exports in EUR) in every year it is
observed. Export status follows a threshold model on a persistent latent export ability (plus
size, a common year effect and an AR(1) shock); the threshold is set so that the planned share
of firms exports in 2012–2014. An exporter's exports are a firm-specific share of its turnover
(log-normal, heavy right tail). Turnover = domestic sales + exports, so turnover ≥ exports.

Membership is selective: firms with a higher export ability and firms in the cluster's sector
are more likely to join, so members differ from non-members in *levels* (which
difference-in-differences removes). A firm's cohort is its first join year; treatment starts
then and persists after it leaves (intention to treat). For treated firm-years the treated
potential outcome `Y1` is:

- a member already exporting under `Y0` exports `(1 + value_pct × ramp(e))` times more;
- in every cohort a share `exporter_pp` of the members (largest-remainder rounding across
  cohorts), drawn among those that would not export from their join year on under `Y0`,
  starts exporting a small amount (2–6 % of turnover): a switcher has a fixed threshold `v`
  (uniform, stratified within the cohort) and exports once `ramp(e) > v`, so the share
  switched on follows the ramp and a firm once switched on stays on;
- exporting members serve on average `markets` more destination countries at full ramp
  (not tabulated in `truth.csv`),

with `ramp(e) = min((e + 1) / R, 1)` for event time `e = year − cohort ≥ 0`. The observed
value is `Y1` for treated firm-years and `Y0` otherwise. About 1 % of export values are blank
(unknown; 0 means the firm does not export); these firm-years are left out of the truth.
"""

_TRUTH_EFFECTS = """
Kent's pre-trend: future members' `Y0` exports (and their chance of exporting) are lower by the
stated amount for each year before they join, i.e. they grow faster than non-members' before
joining. A naive event study attributes this catch-up to the programme; the pre-trend
diagnostics should flag Kent, and its estimates should overshoot the truth below.

## Realized effects (what the estimators should recover)

`truth.csv` has one row per region × cohort × year (year ≥ cohort) × outcome: `att` = mean of
`Y1 − Y0` over the cohort's firms observed with known exports that year, `n_firms` = how many.
Outcomes: `exporter` = 1[exports_eur > 0] and `log_exports` = log(1 + exports_eur) in EUR.
Below, cohorts are pooled by event time (weighted by `n_firms`). `log_exports` is dominated by
the extensive margin: a firm that starts exporting jumps from log(1) = 0 to about 10.
"""

_VALUE_SPLIT = """
The planted gain in export value in EUR (`exports_eur` in `truth.csv`: mean of `Y1 − Y0` over
treated firm-years with known exports, all cohorts and years pooled) and its two parts, which
add up to it (`exports_eur_prior_exporters`, `exports_eur_new_exporters`): the gain of *prior
exporters* (firms with exports above 0 in a year before the region's first cohort) and of the
other members (mostly firms that start exporting). This is the split policylab's export
margins estimate. Switchers export little (2–6 % of turnover), so most of the gain comes from
prior exporters.
"""

_TRUTH_GLANCE = """
Survival {k} years after the seed ends counts clusters whose seed ended at least {k} years
before {last}; younger clusters all stay open. The pre-join growth gap is members' mean yearly
growth of log exports before joining minus never-members' in the same years (firm-years
exporting in both years); only Kent's is planted.
"""


def _readme_md(lab: ExampleLab) -> str:
    halves = [r.spec.other_half for r in lab.regions if r.spec.other_half is not None]
    rr = sorted(h.response_rate for h in halves)
    cross = sorted(h.cross_share for h in halves)
    out = [_README_INTRO.format(k=SURVIVAL_HORIZON, rr=f"{100 * rr[0]:g}–{100 * rr[-1]:g} %",
                                cross=f"{100 * cross[0]:g}–{100 * cross[-1]:g} %").strip("\n"), ""]
    rows = []
    for r in lab.regions:
        spec = r.spec
        files = list(dict.fromkeys(f.file for f in spec.layout))
        fmt = spec.layout[0]
        if fmt.format == "csv":
            thousands = f", thousands `'{fmt.thousands}'`" if fmt.thousands else ""
            how = f"CSV, `{fmt.delimiter}` delimiter, decimal `{fmt.decimal}`{thousands}, "
            how += fmt.encoding
        elif fmt.format == "xlsx":
            books = "Excel workbooks" if len(files) > 1 else "Excel workbook"
            how = f"{books}, one sheet per table, header on row {fmt.header_row}"
        else:
            how = "Parquet"
        money = spec.currency + (" thousands" if fmt.scale >= 1000 else "")
        names = ", ".join(f"`{f}`" for f in files)
        rows.append([f"`{spec.key}/`", spec.name, spec.nuts2, how, money, names])
    out += [_md_table(["folder", "region", "NUTS-2", "format", "money", "files"], rows), ""]
    out += [_README_CONVENTIONS.strip("\n"), ""]
    rows = []
    for r in lab.regions:
        f = _region_facts(r)
        rows.append(
            [r.spec.name, f["firms"], f["members"], f["clusters"], f["baseline"], f["missing"],
             f["orders"]]
        )  # fmt: skip
    header = ["region", "firms", "ever members", "clusters", "exporters 2012–14",
              "blank export values", "orders"]  # fmt: skip
    out += [_md_table(header, rows), ""]
    out += [_README_END.strip("\n"), ""]
    return "\n".join(out)


_README_INTRO = """
# policylab example data: SYNTHETIC

**These data are SYNTHETIC.** The six regions are real SIE partner regions, but every firm,
cluster, consortium, order and amount is fictional, invented by a seeded random generator
(`policylab/examples/`). Firm and cluster names are made-up words; any resemblance to a real
business is a coincidence. Nothing here describes the real programmes or their results.

What is planted (details and the realized numbers in `TRUTH.md`, per cohort and year in
`truth.csv`):

- 12 years (2012–2023), 260–380 SMEs per region, about 30 % ever members of one of 5–9
  clusters founded in staggered years 2015–2020; about a third of firms export at baseline;
- membership raises export propensity by +5 to +10 percentage points and members' export
  value by +10 to +20 % at full ramp, ramping in over 2–4 years (magnitudes from the
  export-promotion literature); the effect persists after a member leaves (intention to
  treat);
- **Molise: no effect at all** (a null result to recover);
- **Kent: selection pre-trend**: future members' exports grow faster before they join, plus
  a modest true effect; the pre-trend diagnostics should flag it;
- clusters: a 3-year seed phase with public funding tapering from 95 % of running costs to
  85 % and then little or nothing, member fees rising accordingly; about 60–70 % of clusters
  are still active {k} years after the seed ends (an assumption of ours; we found no published
  survival rate), clusters too young to tell stay open;
- export orders won via clusters (and some outside any cluster), EUR 20k–500k each;
- about 1 % of export values are blank (unknown), which is not the same as 0 (no exports);
  about 10 % of firms enter the panel late or leave it early;
- the laboratory's other half, in each region's own language and labels: a small SME panel
  asked every year (`survey`: response rates {rr}; members answering 4–5 on satisfaction
  leave their consortium about half as often as those answering 1–3; a different top barrier
  to internationalisation per region; free-text comments that must never be published),
  cross-regional deals among the orders (`partner_region`, {cross} of orders) and
  cross-regional links (`partnerships`: joint missions, cross-regional consortia, shared
  managers; Kent ↔ Aquitaine strongest), and the practice-transfer log (`practices`: Export
  Consortia from Cantabria, Clustering for International Markets from Kujawsko-Pomorskie and
  two fictional practices, stage by stage).

Exchange rates: files of Kujawsko-Pomorskie (PLN), Kent (GBP) and Ústí (CZK) are in local
currency, converted from the generated EUR values with the yearly rates stated in the
config's `fx` tables. **The rates are approximate annual averages (ECB reference rates,
quoted from memory) used only for this example**; do not reuse them for an evaluation.
Money without a year of its own (a cluster's seed grant) uses the founding year's rate.

## Files (each region in its own layout)
"""

_README_CONVENTIONS = """
`configs/example.toml` maps every file's columns to policylab's canonical tables (or run
`policylab example DIR` for a fresh copy with its own `example.toml`). Conventions: years are
calendar years; a membership's exit year and a cluster's closing year are the first year
without membership / activity (blank = still a member / still active); `order_date` is the
signature date as YYYY-MM-DD and `destination_country` an ISO 3166-1 alpha-2 code. Partner,
origin and adopting regions are NUTS-2 codes (Kent: UKJ4); the category columns of the panel,
links and practices are in the region's own labels, recoded by each file's `values` in the
config; survey comments and practice notes are free text that policylab reads but never
stores nor publishes.

## At a glance
"""

_README_END = """
Regenerate with `python -m policylab.examples` (same seed, same files: identical bytes for CSV
and Parquet with the same library versions, identical content for the workbook).
"""


# --------------------------------------------------------------------------------------------
# TRUTH.md: the laboratory's other half (SME panel, cross-regional links, practice transfer)
# --------------------------------------------------------------------------------------------


def _count(k: int, n: int) -> str:
    return f"{k} of {n} ({_pct(k / n) if n else '–'})"


def _eur(x: float) -> str:
    return f"EUR {x:,.0f}".replace(",", " ")


def _ratio(split: pd.DataFrame) -> str:
    """Share leaving after a 4-5 answer over the share after a 1-3 answer."""
    high, low = split.loc["high", "share"], split.loc["low", "share"]
    return "–" if pd.isna(high) or pd.isna(low) or not low else f"{high / low:.2f}"


def _hazard_cells(t: pd.DataFrame) -> list[str]:
    """A retention_by_first_rating frame as table cells (the sum of regions' frames too)."""
    hz = t["left"] / t["years"].where(t["years"] > 0)
    cells = []
    for g in ("high", "low"):
        n, left, years = (int(t.at[g, c]) for c in ("memberships", "left", "years"))
        cells += [f"{n}, {left} ({years})",
                  "–" if pd.isna(hz[g]) else f"{100 * hz[g]:.1f}"]
    ok = pd.notna(hz["high"]) and pd.notna(hz["low"]) and hz["low"] > 0
    return [*cells, f"{hz['high'] / hz['low']:.2f}" if ok else "–"]


def _other_half_md(lab: ExampleLab) -> list[str]:
    names = {r.spec.nuts2: r.spec.name for r in lab.regions}
    halves = {r.spec.key: r.spec.other_half for r in lab.regions}
    out = [_HALF_INTRO.strip("\n"), ""]

    # --- the SME panel ---------------------------------------------------------------------------
    panel = _HALF_PANEL.format(
        soon=_pct(SATISFIED["soon"], 0), later=_pct(SATISFIED["later"], 0),
        stays=_pct(SATISFIED["stays"], 0), k=SOON, flip=_pct(MOOD_FLIP, 0),
        tries=RETENTION_CHECK["tries"], lo=RETENTION_CHECK["hazard"][0],
        hi=RETENTION_CHECK["hazard"][1], blank=_pct(BARRIER_BLANK, 0),
    )  # fmt: skip
    out += [panel.strip("\n"), ""]
    rows = []
    for r in lab.regions:
        h, sv = halves[r.spec.key], r.survey
        per_wave = sv.groupby("wave").size()
        answered = sv[sv["responded"] == "yes"]
        rows.append([
            r.spec.name, f"{sv['wave'].min()}–{sv['wave'].max()}",
            f"{h.panel_members} + {h.panel_never}", f"{per_wave.min()}–{per_wave.max()}",
            str(len(sv)), str(sv["firm_id"].nunique()),
            f"{len(answered)} ({int(answered['cluster_id'].isna().sum())})",
            _pct(h.response_rate, 0), _pct(response_rate(sv)),
        ])  # fmt: skip
    header = ["region", "waves", "invited per wave: members + never-members (planned)",
              "invited per wave (realized)", "invited firm-waves", "distinct firms",
              "answers (of never-members)", "response rate (planted)",
              "response rate (realized)"]  # fmt: skip
    out += [_md_table(header, rows), ""]

    # --- satisfaction and retention ---------------------------------------------------------------
    out += [_HALF_HAZARD.format(last=LAST_YEAR).strip("\n"), ""]
    rows, total = [], None
    for r in lab.regions:
        t = retention_by_first_rating(r.survey, r.membership)
        total = t if total is None else total + t
        rows.append([r.spec.name, *_hazard_cells(t)])
    rows.append(["**all six regions**", *_hazard_cells(total)])
    header = ["region", "first answer 4–5: memberships, left (member-years)",
              "exits per 100 member-years", "first answer 1–3: memberships, left (member-years)",
              "exits per 100 member-years", "hazard ratio"]  # fmt: skip
    out += [_md_table(header, rows), ""]
    out += [_HALF_RETENTION.format(last=LAST_YEAR).strip("\n"), ""]
    rows = []
    totals = {1: [], 2: []}
    for r in lab.regions:
        row = [r.spec.name]
        for horizon in (1, 2):
            t = retention_split(r.survey, r.membership, horizon)
            totals[horizon].append(t[["answers", "left"]])
            row += [_count(int(t.at["high", "left"]), int(t.at["high", "answers"])),
                    _count(int(t.at["low", "left"]), int(t.at["low", "answers"])), _ratio(t)]
        rows.append(row)
    row = ["**all six regions**"]
    for horizon in (1, 2):
        t = sum(totals[horizon][1:], totals[horizon][0])
        t["share"] = t["left"] / t["answers"]
        row += [_count(int(t.at["high", "left"]), int(t.at["high", "answers"])),
                _count(int(t.at["low", "left"]), int(t.at["low", "answers"])), _ratio(t)]
    rows.append(row)
    header = ["region", "4–5: left within 1 year", "1–3: left within 1 year", "ratio (1 year)",
              "4–5: left within 2 years", "1–3: left within 2 years", "ratio (2 years)"]
    out += [_md_table(header, rows), ""]
    rows = []
    for r in lab.regions:
        st = stay_by_satisfaction(r.survey)
        rows.append([r.spec.name, _pct(st["high"]), _pct(st["low"])])
    all_survey = pd.concat([r.survey for r in lab.regions], ignore_index=True)
    st = stay_by_satisfaction(all_survey)
    rows.append(["**all six regions**", _pct(st["high"]), _pct(st["low"])])
    out += [_HALF_STAY.strip("\n"), "",
            _md_table(["region", "intends to stay ('yes'): satisfaction 4–5", "satisfaction 1–3"],
                      rows), ""]

    # --- barriers -------------------------------------------------------------------------------
    out += [_HALF_BARRIERS.format(sd=BARRIER_SD).strip("\n"), ""]
    rows = []
    for r in lab.regions:
        h = halves[r.spec.key]
        m = barrier_means(r.survey)
        top = str(m.idxmax())
        cells = [f"**{m[b]:.2f}**" if b == top else f"{m[b]:.2f}" for b in BARRIERS]
        planted = ", ".join(f"{h.barriers[b]:g}" for b in BARRIERS)
        if h.barrier_shift is not None:
            b, year, add = h.barrier_shift
            planted += f"; {b} +{add:g} from {year}"
        rows.append([r.spec.name, f"**{h.top_barrier}**", *cells, planted])
    header = ["region", "planted top barrier", *BARRIERS, "planted means (same order)"]
    out += [_md_table(header, rows), ""]
    for r in lab.regions:
        h = halves[r.spec.key]
        if h.barrier_shift is None:
            continue
        b, year, _ = h.barrier_shift
        col = r.survey[f"barrier_{b}"].astype("Float64")
        before, after = col[r.survey["wave"] < year].mean(), col[r.survey["wave"] >= year].mean()
        out += [(f"{r.spec.name}'s {b} barrier: mean {before:.2f} in the waves before {year}, "
                 f"{after:.2f} from {year} on (after Brexit)."), ""]

    # --- cross-regional orders --------------------------------------------------------------------
    nuts = [r.spec.nuts2 for r in lab.regions]
    out += [_HALF_ORDERS.format(first=FIRST_LINK_YEAR).strip("\n"), ""]
    weights = sorted(PARTNER_WEIGHTS.items(), key=lambda kv: -kv[1])
    pairs = [f"{' ↔ '.join(names[n] for n in sorted(pair, key=nuts.index))} {w:g}"
             for pair, w in weights]  # fmt: skip
    out += ["Planted pair weights: " + "; ".join(pairs) + "; every other pair 1.", ""]
    rows = []
    for r in lab.regions:
        o = r.orders
        by = cross_regional_orders(o)
        k = int(by.sum())
        rows.append([r.spec.name, _pct(halves[r.spec.key].cross_share, 0), _count(k, len(o))]
                    + ["–" if n == r.spec.nuts2 else str(int(by.get(n, 0))) for n in nuts])
    header = ["region", "planted share", "cross-regional orders", *[f"→ {n}" for n in nuts]]
    out += [_md_table(header, rows), ""]

    # --- partnerships ---------------------------------------------------------------------
    cons = "; ".join(f"{names[a]} ↔ {names[b]} {y}" for a, b, y in CONSORTIA)
    mgrs = "; ".join(f"{names[a]} ↔ {names[b]} {y}" for a, b, y in SHARED_MANAGERS)
    out += [_HALF_LINKS.format(first=FIRST_LINK_YEAR, last=LAST_YEAR, m=MISSIONS_PER_WEIGHT,
                               o=OTHER_PER_WEIGHT, cons=cons, mgrs=mgrs).strip("\n"), ""]
    rows = []
    for r in lab.regions:
        pt = r.partnerships
        types = pt["link_type"].value_counts()
        by = pt["partner_region"].value_counts()
        rows.append([r.spec.name, str(len(pt))]
                    + [str(int(types.get(t, 0))) for t in LINK_TYPE_ORDER]
                    + ["–" if n == r.spec.nuts2 else str(int(by.get(n, 0))) for n in nuts])
    header = ["region", "links", *LINK_TYPE_ORDER, *[f"with {n}" for n in nuts]]
    out += [_md_table(header, rows), ""]

    # --- practices ------------------------------------------------------------------------
    out += [_HALF_PRACTICES.strip("\n"), ""]
    rows = []
    for p in PRACTICES:
        for r in lab.regions:
            pr = r.practices[r.practices["practice"] == p.name]
            if pr.empty:
                continue
            steps = " → ".join(
                f"{s.stage} {s.stage_date}"
                + ("" if pd.isna(s.budget_eur) else f" ({_eur(s.budget_eur)})")
                for s in pr.itertuples())  # fmt: skip
            last = str(pr["stage"].iloc[-1])
            rows.append([p.name + (" (fictional)" if p.fictional else ""),
                         f"{names[p.origin]} ({p.origin})",
                         f"{r.spec.name} ({r.spec.nuts2})", str(pr["practice_id"].iloc[0]), steps,
                         f"**{last}**", _eur(float(pr["budget_eur"].sum()))])  # fmt: skip
    header = ["practice", "origin", "taken up by", "id in its log", "stages (date, budget)",
              "last stage", "budget"]
    out += [_md_table(header, rows), ""]

    # --- private free text ----------------------------------------------------------------------
    rows = []
    for r in lab.regions:
        c = r.survey["comment"].dropna()
        firm_names = set(r.firms["firm_name"])
        naming = sum(any(f in t for f in firm_names) for t in c)
        notes = int(r.practices["notes"].notna().sum())
        rows.append([r.spec.name, str(len(c)), str(naming), str(notes)])
    out += [_HALF_PRIVATE.format(share=_pct(COMMENT_SHARE, 0)).strip("\n"), "",
            _md_table(["region", "survey comments", "of which name another firm",
                       "practice notes"], rows), ""]
    out += [_HALF_MONEY.format(rates=", ".join(sorted(FX))).strip("\n"), ""]
    return out


_HALF_INTRO = """
## The laboratory's other half (SME panel, cross-regional links, practice transfer)

Three more tables per region and one more column, all SYNTHETIC and in each region's own
labels (recoded by the config's `values`): the SME panel (`survey`), the cross-regional links
(`partnerships`), the practice-transfer log (`practices`) and `orders.partner_region`. They are
drawn from random streams of their own, *after* and *from* the tables above, which they do not
change (every number above, and every estimate and indicator of the other tables, is the same
as without them).
"""

_HALF_PANEL = """
### The SME panel (`survey`)

Every year from the year the region's first consortium is founded, each region invites a
small panel: its planned number of active members (all of them while there are fewer; a
member stays in the panel while it stays a member, and leavers are replaced at random) and a
few never-members (kept while they are in the firm panel; they answer without a consortium:
`cluster_id`, `satisfaction` and `intends_to_stay` blank). Exactly the planted response rate
of each wave's invited firms answers (rounded, at random, unrelated to anything else); a
non-respondent's row has no answers. About {blank} of the barrier answers are left blank.

A member's satisfaction (1–5, with the consortium it is a member of; the one it joined first
if it is in two) is drawn FROM the existing membership table, which it does not change: each
membership a member answers about is a satisfied one (answers 4–5) with probability {soon} if
it ends at most {k} years after the member's first answer about it, {later} if it ends later
within the data and {stays} if it does not end within the data (assigned exactly, rounded,
within each region and group); each answer is on its membership's side except for a change of
mood ({flip} of answers, at random); 4–5 is 4 or 5 (60/40), 1–3 is 1, 2 or 3 (15/35/50). The
sides are redrawn (same stream, at most {tries} times) until the region shows the split below:
exits per member-year after a first answer 4–5 between {lo:g} and {hi:g} times those after a
first answer 1–3, and answers 4–5 followed by leaving within 1 and within 2 years less often
than answers 1–3.
"""

_HALF_HAZARD = """
#### Retention by satisfaction (what the planted satisfaction implies)

Members answering 4–5 leave their consortium at about half the rate of those answering 1–3.
By membership, as a survival analysis reads it: each membership grouped by its FIRST
satisfaction answer, at risk from that wave to its exit year (an exit) or to {last} (still a
member), memberships first rated in {last} left out; every end of a membership counts
(leaving, the firm leaving the panel, the consortium closing). Hazard = exits per member-year;
ratio = hazard after a 4–5 ÷ hazard after a 1–3.
"""

_HALF_RETENTION = """
By answer: members' answers in waves with the follow-up in the data (up to {last} − 1 for one
year, {last} − 2 for two); "left" = the membership the answer is about ends 1 (or 1–2) years
after the wave. Ratio = share of 4–5 answers followed by leaving ÷ share of 1–3 answers.
"""

_HALF_STAY = """
`intends_to_stay` follows the answer's satisfaction: yes / unsure / no with probabilities
5: 85/15/0 %, 4: 70/25/5 %, 3: 35/45/20 %, 2: 10/45/45 %, 1: 5/25/70 %.
"""

_HALF_BARRIERS = """
#### Barriers to internationalisation (mean rating 1–5 over the answers given)

Each respondent rates six barriers (1 = none, 5 = major): the region's planted mean plus
normal noise (SD {sd:g}), rounded and clipped to 1–5. The planted top barrier (bold) has the
highest realized mean in every region: Cantabria information on markets, Kujawsko-Pomorskie
finding partners, Kent regulation (higher still after Brexit, from the 2021 wave),
Aquitaine size and capacity, Ústí language and culture, Molise finance.
"""

_HALF_ORDERS = """
### Cross-regional orders (`orders.partner_region`)

Exactly the planted share of each region's orders (rounded) are cross-regional deals, drawn
at random among its orders won via a consortium from {first} on; the deals are split among
the five other regions in proportion to the pair weights below (largest remainders), so
Kent ↔ Aquitaine is the strongest link. `partner_region` is the partner's NUTS-2 code, blank
for every other order; no other column of the orders changed.
"""

_HALF_LINKS = """
### Cross-regional links (`partnerships`)

Links of {first}–{last}, drawn once for the whole lab and recorded by BOTH regions of each link
(each with its own link id, consortium and firms taking part), so the counts below are
symmetric: joint missions ({m:g} × the pair's weight per pair and year, Poisson), other links
({o:g} × weight), the cross-regional consortia ({cons}) and one shared cluster manager per
region ({mgrs}). A link's consortium is one of the region's consortia active that year (blank
for 15 % of missions: the agency's own); a shared manager has no firm count.
"""

_HALF_PRACTICES = """
### Practice transfer (`practices`)

Each region's log holds the practices it takes up (adopting region = its own NUTS-2), one row
per stage, dated in order (first study between June 2016 and May 2018, then 4–14 months per
stage; a drop 3–10 months after the last stage). Export Consortia (Cantabria) is adopted by
Kujawsko-Pomorskie and Molise and dropped by Ústí; Clustering for International Markets
(Kujawsko-Pomorskie) is studied by Cantabria and Ústí and adapted by Kent and Aquitaine. The
two other practices are fictional. Budgets per stage in EUR (uniform: studied 3–12k, adapted
10–45k, piloted 60–180k, adopted 150–450k, rounded to 100; a drop has none).
"""

_HALF_PRIVATE = """
### Free text that must never be published

About {share} of the panel's answers carry a comment (`comment`), every practice stage a note
(`notes`), in the region's language; fictional and harmless, but some name another firm of the
region (its name in the firms file) or a contact person. Both columns are private: read and
checked, never stored nor published; no output of policylab may contain them
(`policylab.examples.summaries.private_texts`).
"""

_HALF_MONEY = """
Budgets in the files of regions outside the euro area ({rates}) are in local currency at the
stage year's rate of the config's `fx`, Kujawsko-Pomorskie's in thousands of PLN.
"""
