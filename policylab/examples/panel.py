"""The SME panel (the ``survey`` table): a small panel of firms asked every year.

Every year from the first year a consortium exists, each region invites its panel: up to
``panel_members`` active members (kept from year to year while they stay members, topped up at
random) and ``panel_never`` never-members (kept while they are in the firm panel). A planted
share of the invited answers (``response_rate``, exactly, rounded per wave, at random). A
non-respondent's row holds no answers.

The answers are drawn FROM the existing membership table, which they do not change: every
membership a member answers about (the consortium it is a member of; the one it joined first
if several) is a satisfied one (answers 4-5) or not (1-3), with probability
:data:`SATISFIED` by when the membership ends after the member's first answer (assigned
exactly, rounded, within each region), so members answering 4-5 leave less; each answer
keeps its membership's side except for a change of mood now and then (:data:`MOOD_FLIP`).
The sides are redrawn until the region shows the planted split (:data:`RETENTION_CHECK`).
The intention to stay follows the satisfaction (:data:`STAY`). Barrier ratings follow the
region's planted means (``barriers``) plus noise; a few comments are free text, some naming
another firm or a person (private: never stored nor published).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .spec import BARRIERS, CANONICAL, LAST_YEAR, RegionSpec

#: P(a membership is a satisfied one, answering 4-5) by when it ends: at most ``SOON`` years
#: after the member's first answer about it, later, or not within the data.
SATISFIED = {"soon": 0.30, "later": 0.50, "stays": 0.75}
SOON = 2
#: P(an answer is on the other side of its membership's: 1-3 for a satisfied one, 4-5 else).
MOOD_FLIP = 0.10
#: The split each region must show (else the sides are redrawn, at most ``tries`` times):
#: bounds of the ratio of exits per member-year after a first answer 4-5 to those after 1-3.
RETENTION_CHECK = {"hazard": (0.3, 0.65), "tries": 200}
#: P(rating) within the high (4, 5) and low (1, 2, 3) answers.
HIGH_RATINGS = ((4, 5), (0.6, 0.4))
LOW_RATINGS = ((1, 2, 3), (0.15, 0.35, 0.50))
#: P(intends to stay: yes, unsure, no) by satisfaction.
STAY = {5: (0.85, 0.15, 0.0), 4: (0.70, 0.25, 0.05), 3: (0.35, 0.45, 0.20),
        2: (0.10, 0.45, 0.45), 1: (0.05, 0.25, 0.70)}  # fmt: skip
STAY_LABELS = ("yes", "unsure", "no")
BARRIER_SD = 0.9  # noise of a barrier rating around the region's mean, before rounding
BARRIER_BLANK = 0.03  # share of barrier answers left blank
COMMENT_SHARE = 0.12  # share of respondents writing a comment

# Fictional, harmless comments; {firm} is another firm's name (private: never published).
_COMMENTS: dict[str, tuple[str, ...]] = {
    "es": ("Muy útil la misión comercial a Burdeos.",
           "Queremos más formación sobre licitaciones internacionales.",
           "Buen contacto con {firm} en la feria; seguimos hablando.",
           "La cuota anual es alta para una microempresa.",
           "El consorcio nos abrió la puerta de Francia, gracias.",
           "Llamar a {firm} por el pedido conjunto; preguntar por Marta."),
    "pl": ("Bardzo przydatna misja gospodarcza do Czech.",
           "Potrzebujemy więcej szkoleń z procedur celnych.",
           "Dobra współpraca z {firm}, wspólna oferta do Niemiec.",
           "Składka członkowska za wysoka, jak na mikrofirmę.",
           "Klaster pomógł nam znaleźć dystrybutora w Kent.",
           "Kontakt w sprawie targów: {firm}, pan Marek."),
    "en": ("The trade mission to Bordeaux was very useful.",
           "Customs paperwork for EU buyers takes far too long now.",
           "Met {firm} on the joint stand; a follow-up order is in progress.",
           "Fees are too high for a micro firm.",
           "Good events, but we need more help with distributors.",
           "Please call me about the Aquitaine consortium (ask for Sarah at {firm})."),
    "fr": ("Mission au Royaume-Uni très utile.",
           "Trop de démarches administratives pour exporter.",
           "Bon contact avec {firm} sur le salon de Santander.",
           "La cotisation est élevée pour une TPE.",
           "Le groupement nous a aidés à trouver un agent en Espagne.",
           "Rappeler {firm} pour la commande commune, demander Julie."),
    "cs": ("Mise do Polska byla velmi užitečná.",
           "Chybí nám lidé se znalostí němčiny.",
           "Dobrá spolupráce s {firm}, společná nabídka do Bavorska.",
           "Členský příspěvek je pro malou firmu vysoký.",
           "Klastr nám pomohl najít partnera v Itálii.",
           "Zavolat {firm} kvůli společné zakázce, paní Jana."),
    "it": ("Missione in Spagna molto utile.",
           "Il credito per l'export è difficile da ottenere.",
           "Ottimo contatto con {firm} alla fiera di Santander.",
           "La quota associativa è alta per una micro impresa.",
           "Il consorzio ci ha aiutato a trovare un agente in Francia.",
           "Richiamare {firm} per l'ordine congiunto, chiedere di Paolo."),
}  # fmt: skip


def _spoken_membership(mem: pd.DataFrame, wave: int) -> pd.DataFrame:
    """Per firm that is a member in ``wave``: the membership it speaks about (first joined,
    then the lowest cluster id) and the year it ends (NaN = not within the data)."""
    exit_ = mem["exit_year"].astype("Float64").astype("float64")
    active = mem[(mem["join_year"] <= wave) & (np.isnan(exit_) | (exit_ > wave))]
    active = active.assign(exit=exit_[active.index])
    active = active.sort_values(["firm_id", "join_year", "cluster_id"], kind="stable")
    return active.drop_duplicates("firm_id").set_index("firm_id")


def _exact_choice(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """A boolean mask of ``n`` with exactly ``round(p * n)`` True, at random."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: round(p * n)]] = True
    return mask


def _retention_ok(
    invited: list[tuple[int, str, str | None, float]], member: np.ndarray, high: np.ndarray
) -> bool:
    """Whether the answers show the planted split in this region (:data:`RETENTION_CHECK`):
    memberships first answered 4-5 leave at RETENTION_CHECK["hazard"] times the rate per
    member-year of those first answered 1-3 (within the bounds), and answers 4-5 are followed
    by leaving within 1 and within 2 years less often than answers 1-3."""
    wave = np.array([r[0] for r in invited], dtype=float)
    end = np.array([r[3] for r in invited], dtype=float)
    for h in (1, 2):
        ok = member & (wave <= LAST_YEAR - h)
        left = ok & (end - wave >= 1) & (end - wave <= h)
        a, b = ok & high, ok & ~high
        if not a.any() or not b.any() or left[a].mean() >= left[b].mean():
            return False
    exits, years = {True: 0, False: 0}, {True: 0.0, False: 0.0}
    seen: set[tuple[str, str | None]] = set()
    for i in np.flatnonzero(member):
        key = (invited[i][1], invited[i][2])
        if key in seen:
            continue
        seen.add(key)
        ended = not np.isnan(end[i])
        exits[bool(high[i])] += ended
        years[bool(high[i])] += (end[i] if ended else LAST_YEAR) - wave[i]
    if not (years[True] and years[False] and exits[False]):
        return False
    lo, hi = RETENTION_CHECK["hazard"]
    return lo <= (exits[True] / years[True]) / (exits[False] / years[False]) <= hi


def _satisfied_answers(
    rng: np.random.Generator, invited: list[tuple[int, str, str | None, float]], member: np.ndarray
) -> np.ndarray:
    """Which answers are 4-5: each membership's side (:data:`SATISFIED`, exactly per stratum),
    flipped for a change of mood (:data:`MOOD_FLIP`); redrawn (at most
    ``RETENTION_CHECK["tries"]`` times) until the region shows the planted split."""
    first: dict[
        tuple[str, str | None], float
    ] = {}  # membership -> years from its 1st answer to its end
    for r, m in zip(invited, member, strict=True):
        if m and (r[1], r[2]) not in first:
            first[(r[1], r[2])] = r[3] - r[0]  # NaN: no end within the data
    spells = sorted(first, key=lambda k: (k[0], str(k[1])))
    until = np.array([first[k] for k in spells])
    stratum = np.where(until <= SOON, "soon", np.where(until > SOON, "later", "stays"))
    for _ in range(int(RETENTION_CHECK["tries"])):
        satisfied: dict[tuple[str, str | None], bool] = {}
        for name, p in SATISFIED.items():
            keys = [k for k, st in zip(spells, stratum, strict=True) if st == name]
            satisfied.update(zip(keys, _exact_choice(rng, len(keys), p).tolist(), strict=True))
        flip = rng.random(len(invited)) < MOOD_FLIP
        high = np.array([bool(m) and satisfied[(r[1], r[2])] != bool(f)
                         for r, m, f in zip(invited, member, flip, strict=True)])  # fmt: skip
        if _retention_ok(invited, member, high):
            break
    return high


def _survey(
    rng: np.random.Generator,
    spec: RegionSpec,
    firms: pd.DataFrame,
    membership: pd.DataFrame,
    clusters: pd.DataFrame,
) -> pd.DataFrame:
    """The region's SME panel: one row per invited firm and wave."""
    half = spec.other_half
    assert half is not None
    observed = firms.groupby("firm_id")["year"].agg(["min", "max"])
    never_pool = sorted(set(observed.index) - set(membership["firm_id"]))
    names = firms.drop_duplicates("firm_id").set_index("firm_id")["firm_name"]

    # --- who is invited, who answers, and (members) which membership and when it ends ----------
    invited: list[tuple[int, str, str | None, float]] = []  # wave, firm, cluster, exit year
    responded: list[bool] = []
    panel_m: list[str] = []
    panel_n: list[str] = []
    for wave in range(int(clusters["founded_year"].min()), LAST_YEAR + 1):
        spoken = _spoken_membership(membership, wave)
        panel_m = [f for f in panel_m if f in spoken.index]
        fresh = [f for f in spoken.index if f not in panel_m]
        need = min(half.panel_members - len(panel_m), len(fresh))
        if need > 0:
            panel_m += [str(f) for f in rng.choice(fresh, size=need, replace=False)]
        alive = set(observed.index[(observed["min"] <= wave) & (observed["max"] >= wave)])
        panel_n = [f for f in panel_n if f in alive]
        fresh = [f for f in never_pool if f in alive and f not in panel_n]
        need = min(half.panel_never - len(panel_n), len(fresh))
        if need > 0:
            panel_n += [str(f) for f in rng.choice(fresh, size=need, replace=False)]
        wave_rows = sorted(
            [
                (wave, f, str(spoken.at[f, "cluster_id"]), float(spoken.at[f, "exit"]))
                for f in panel_m
            ]
            + [(wave, f, None, np.nan) for f in panel_n],
            key=lambda r: r[1],
        )
        invited += wave_rows
        responded += _exact_choice(rng, len(wave_rows), half.response_rate).tolist()

    n = len(invited)
    wave = np.array([r[0] for r in invited], dtype="int64")
    cluster = [r[2] if ok else None for r, ok in zip(invited, responded, strict=True)]
    resp = np.array(responded, dtype=bool)
    member = resp & np.array([r[2] is not None for r in invited])

    # --- satisfaction: a side per membership, from when it ends -------------------------------
    high = _satisfied_answers(rng, invited, member)
    satisfaction = np.full(n, np.nan)
    for mask, (ratings, probs) in ((member & high, HIGH_RATINGS), (member & ~high, LOW_RATINGS)):
        satisfaction[mask] = rng.choice(ratings, size=int(mask.sum()), p=probs)
    stay: list[str | None] = [None] * n
    for i in np.flatnonzero(member):
        stay[i] = STAY_LABELS[int(rng.choice(3, p=STAY[int(satisfaction[i])]))]

    # --- barriers: the region's means (and Kent's post-2020 shift) plus noise -----------------
    barriers = {}
    for b in BARRIERS:
        mean = np.full(n, half.barriers[b])
        if half.barrier_shift is not None and half.barrier_shift[0] == b:
            mean = mean + np.where(wave >= half.barrier_shift[1], half.barrier_shift[2], 0.0)
        rating = np.clip(np.round(mean + rng.normal(0, BARRIER_SD, n)), 1, 5)
        blank = ~resp | (rng.random(n) < BARRIER_BLANK)
        barriers[f"barrier_{b}"] = pd.array(
            np.where(blank, np.nan, rating), dtype="Float64"
        ).astype("Int64")

    # --- free-text comments (private) ------------------------------------------------------
    templates = _COMMENTS[spec.language]
    comment: list[str | None] = [None] * n
    others = sorted(names.index)
    for i in np.flatnonzero(resp & (rng.random(n) < COMMENT_SHARE)):
        text = templates[int(rng.integers(len(templates)))]
        if "{firm}" in text:
            pool = [f for f in others if f != invited[i][1]]
            text = text.format(firm=names[pool[int(rng.integers(len(pool)))]])
        comment[i] = text

    df = pd.DataFrame(
        {
            "firm_id": [r[1] for r in invited],
            "wave": wave,
            "responded": np.where(resp, "yes", "no"),
            "cluster_id": cluster,
            "satisfaction": pd.array(satisfaction, dtype="Float64").astype("Int64"),
            "intends_to_stay": stay,
            **barriers,
            "comment": comment,
        }
    )
    return df.astype(
        {"firm_id": "str", "responded": "str", "cluster_id": "str", "intends_to_stay": "str",
         "comment": "str"}
    )[CANONICAL["survey"]]  # fmt: skip
