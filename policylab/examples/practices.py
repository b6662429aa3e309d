"""The practice-transfer log: which region takes up which good practice, stage by stage.

:data:`PRACTICES` is the plan (fixed): the two SIE good practices named in the domain notes,
Export Consortia (Cantabria) and Clustering for International Markets (Kujawsko-Pomorskie),
and two fictional ones. Each region's log holds the practices it takes up (adopting region =
its own NUTS-2), one row per stage; the dates (stages in order, about 4-14 months apart),
budgets and free-text notes are drawn from the region's own stream.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .spec import CANONICAL, RegionSpec

STAGES = ("studied", "adapted", "piloted", "adopted", "dropped")
_ADOPTED = ("studied", "adapted", "piloted", "adopted")


@dataclass(frozen=True)
class Practice:
    number: int
    name: str
    origin: str  # NUTS-2
    takers: dict[str, tuple[str, ...]]  # adopting region (NUTS-2) -> its stages, in order
    fictional: bool = False


PRACTICES: tuple[Practice, ...] = (
    Practice(1, "Export Consortia", "ES13",
             {"PL61": _ADOPTED, "ITF2": _ADOPTED, "CZ04": ("studied", "adapted", "dropped")}),
    Practice(2, "Clustering for International Markets", "PL61",
             {"UKJ4": ("studied", "adapted"), "FRI1": ("studied", "adapted"), "ES13": ("studied",),
              "CZ04": ("studied",)}),
    Practice(3, "Joint Trade Missions", "UKJ4", {"FRI1": _ADOPTED}, fictional=True),
    Practice(4, "Shared Export Manager", "ITF2",
             {"CZ04": ("studied", "adapted", "piloted"), "ES13": ("studied", "adapted")},
             fictional=True),
)  # fmt: skip

#: The budget of a stage, EUR (uniform, rounded to 100); a dropped stage has none.
BUDGETS = {"studied": (3_000, 12_000), "adapted": (10_000, 45_000), "piloted": (60_000, 180_000),
           "adopted": (150_000, 450_000)}  # fmt: skip
FIRST_STUDY = _dt.date(2016, 6, 1)  # SIE started in April 2016

# Free-text notes (private: read, never stored nor published); {origin} = the practice's home
# region, {person} = a fictional contact person.
_NOTES: dict[str, dict[str, str]] = {
    "es": {"studied": "Visita de estudio a {origin}; contacto: {person}.",
           "adapted": "Bases adaptadas a la normativa regional; revisado por {person}.",
           "piloted": "Piloto con empresas de dos consorcios.",
           "adopted": "Incluida en la convocatoria anual de SODERCAN.",
           "dropped": "Abandonada: poca demanda de las empresas."},
    "pl": {"studied": "Wizyta studyjna w regionie {origin}, kontakt: {person}.",
           "adapted": "Regulamin dostosowany do przepisów krajowych, uwagi: {person}.",
           "piloted": "Pilotaż z firmami z dwóch klastrów.",
           "adopted": "Włączone do regionalnego programu operacyjnego.",
           "dropped": "Rezygnacja: za mało chętnych firm."},
    "en": {"studied": "Study visit to {origin}; contact: {person}.",
           "adapted": "Rules adapted to the SELEP funding conditions; checked by {person}.",
           "piloted": "Pilot with firms of two clusters.",
           "adopted": "Part of the county's export support from now on.",
           "dropped": "Dropped: too little interest from firms."},
    "fr": {"studied": "Visite d'étude en région {origin} ; contact : {person}.",
           "adapted": "Règlement adapté au cadre régional, relu par {person}.",
           "piloted": "Expérimentation avec les entreprises de deux groupements.",
           "adopted": "Intégrée au dispositif régional d'aide à l'export.",
           "dropped": "Abandonnée : trop peu d'entreprises intéressées."},
    "cs": {"studied": "Studijní cesta do regionu {origin}; kontakt: {person}.",
           "adapted": "Pravidla upravena podle krajských předpisů, připomínky: {person}.",
           "piloted": "Pilotní ověření s firmami dvou klastrů.",
           "adopted": "Součást krajského programu podpory exportu.",
           "dropped": "Ukončeno: malý zájem firem."},
    "it": {"studied": "Visita di studio in {origin}; referente: {person}.",
           "adapted": "Regolamento adattato alla normativa regionale, rivisto da {person}.",
           "piloted": "Sperimentazione con le imprese di due consorzi.",
           "adopted": "Inserita nel programma regionale per l'export.",
           "dropped": "Abbandonata: scarso interesse delle imprese."},
}  # fmt: skip
_PEOPLE = {
    "es": ("Marta Ruiz Sainz", "Jorge Gómez Diego"),
    "pl": ("Anna Wiśniewska", "Piotr Zieliński"),
    "en": ("Sarah Whitcombe", "Tom Ashdown"),
    "fr": ("Claire Dubosc", "Julien Lartigue"),
    "cs": ("Jana Dvořáková", "Petr Holub"),
    "it": ("Giulia Di Iorio", "Marco Petrella"),
}


def _practices(
    rng: np.random.Generator, spec: RegionSpec, region_names: dict[str, str]
) -> pd.DataFrame:
    """The region's practice-transfer log: the stages of every practice it takes up."""
    assert spec.other_half is not None
    rows = []
    for p in PRACTICES:
        stages = p.takers.get(spec.nuts2)
        if not stages:
            continue
        day = FIRST_STUDY + _dt.timedelta(days=int(rng.integers(0, 700)))
        for i, stage in enumerate(stages):
            if i:
                gap = (90, 300) if stage == "dropped" else (120, 420)
                day += _dt.timedelta(days=int(rng.integers(*gap)))
            budget = None
            if stage in BUDGETS:
                budget = float(round(rng.uniform(*BUDGETS[stage]), -2))
            person = _PEOPLE[spec.language][int(rng.integers(2))]
            note = _NOTES[spec.language][stage].format(origin=region_names[p.origin], person=person)
            rows.append((spec.other_half.practice_id.format(n=p.number), p.name, p.origin,
                         spec.nuts2, stage, day.isoformat(), budget, note))  # fmt: skip
    df = pd.DataFrame(rows, columns=CANONICAL["practices"])
    return df.astype(
        {"practice_id": "str", "practice": "str", "origin_region": "str",
         "adopting_region": "str", "stage": "str", "stage_date": "str", "budget_eur": "float64",
         "notes": "str"}
    )  # fmt: skip
