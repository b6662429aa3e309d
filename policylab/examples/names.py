"""Fictional firm and cluster names and ids: made-up words in each region's language."""

from __future__ import annotations

import numpy as np

# Syllables of made-up stems, and words of firm names (legal forms after the bar).
_SYLLABLES = {
    "es": "ba ca da ga la ma na ra sa ta ve lo ri mo ne to ru pe za che gue llo rre cu bi".split(),
    "pl": "ko wa ru mi bro szy czo la de po wi ska tor gru lin ne sto kra zie da mo bia".split(),
    "en": (
        "ash brook dun ford hal ing ley mar new ock rid stan ton wick wel cor bel den ham low "
        "ster ber"
    ).split(),
    "fr": (
        "bel cha dou gar lan mar nac pey rou sau tau ver bas que lac mon ber gui del ret sac vil"
    ).split(),
    "cs": "bo ra ni ko vá lu te še ma dlo ři ce hu pa sk no vec žel tí ro bí ne".split(),
    "it": "ca ma ro li ta ne sa vi to ri pa gno lo de mi ce ra fe bi no ze gu".split(),
}
_FIRM_WORDS = {
    "es": "Talleres Conservas Industrias Mecanizados Componentes Técnicas Suministros Fundiciones"
    " | S.L. | S.A. | S.L.U.",
    "pl": "Zakład Przedsiębiorstwo Fabryka Wytwórnia Zakłady Pracownia Tłocznia"
    " | sp. z o.o. | S.A. | sp.j.",
    "en": "Engineering Foods Precision Components Systems Technologies Manufacturing Instruments"
    " | Ltd | Limited | LLP",
    "fr": "Ateliers Établissements Société Conserverie Menuiserie Tonnellerie Fonderie"
    " | SARL | SAS | SA",
    "cs": "Strojírna Sklárna Kovovýroba Slévárna Dílny Chemie Plasty | s.r.o. | a.s.",
    "it": "Officine Pastificio Cantine Lanificio Mobilificio Tecnomeccanica Oleificio"
    " | S.r.l. | S.p.A. | S.n.c.",
}
_CLUSTER_TEMPLATE = {
    "es": "Consorcio Exportador {stem}",
    "pl": "Klaster Eksportowy {stem}",
    "en": "{stem} Export Cluster",
    "fr": "Groupement Export {stem}",
    "cs": "Exportní klastr {stem}",
    "it": "Consorzio Export {stem}",
}


def _stem(rng: np.random.Generator, language: str) -> str:
    syl = _SYLLABLES[language]
    n = int(rng.integers(2, 4))
    return "".join(syl[int(i)] for i in rng.integers(0, len(syl), n)).capitalize()


def _firm_names(rng: np.random.Generator, language: str, n: int) -> list[str]:
    head, *forms = (part.strip() for part in _FIRM_WORDS[language].split("|"))
    words = head.split()
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        stem = _stem(rng, language)
        word = words[int(rng.integers(len(words)))]
        form = forms[int(rng.integers(len(forms)))]
        name = f"{stem} {word} {form}" if language == "en" else f"{word} {stem} {form}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _cluster_names(rng: np.random.Generator, language: str, n: int) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        name = _CLUSTER_TEMPLATE[language].format(stem=_stem(rng, language))
        if name not in names:
            names.append(name)
    return names


def _unique_ids(rng: np.random.Generator, fmt: str, n: int, high: int) -> list[str]:
    numbers = np.sort(rng.choice(np.arange(1, high), size=n, replace=False))
    return [fmt.format(n=int(k)) for k in numbers]
