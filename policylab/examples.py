"""The seeded synthetic example: six SIE partner regions, fictional firms, planted effects.

The example is what ``policylab example DIR`` writes and what ``data/example/`` holds. It is a
*synthetic* world built to exercise every stage of the tool:

- each region's files come in that region's own layout (language of the column names, CSV
  delimiter, decimal comma, encoding, Excel title lines, Parquet, money in thousands, local
  currency), so ingestion and the config's column maps are exercised for real;
- the firm panel is generated from potential outcomes: ``Y0`` for every firm-year and ``Y1``
  for treated firm-years (a member from its first join year on, also after it leaves:
  intention to treat). The observed value is ``Y1`` where treated. ``truth.csv`` holds the
  realized sample effects (mean of ``Y1 - Y0``) that the estimators should recover;
- the effects are calibrated to the published magnitudes in the domain notes (section 2.3):
  +5 to +10 percentage points of export propensity, +10 to +20 % export value for members that
  already export, ramping in over 2-4 years; Molise has no effect at all and Kent has a
  selection pre-trend (future members' exports grow faster before they join).

Everything is drawn from ``numpy.random.default_rng`` with fixed seeds, so ``generate()`` and
the written files are identical on every run. Regenerate the committed copy with
``python -m policylab.examples``.
"""

from __future__ import annotations

import datetime as _dt
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_SEED",
    "FIRST_YEAR",
    "LAST_YEAR",
    "REGIONS",
    "Effects",
    "ExampleLab",
    "FileLayout",
    "RegionExample",
    "RegionSpec",
    "example_config_text",
    "generate",
    "write_example",
    "write_example_data",
]

DEFAULT_SEED = 20261127
FIRST_YEAR, LAST_YEAR = 2012, 2023
YEARS = np.arange(FIRST_YEAR, LAST_YEAR + 1)
SEED_YEARS = 3  # a consortium's seed phase: founding year + 2 more years
SURVIVAL_HORIZON = 3  # cluster survival is measured this many years after the seed ends
XLSX_TIMESTAMP = _dt.datetime(2026, 11, 27, 0, 0, 0)
TRUTH_COLUMNS = ["region", "cohort", "year", "event_time", "outcome", "att", "n_firms"]
TRUTH_OUTCOMES = ("exporter", "log_exports")

# fmt: off
# Canonical column order, as in policylab/schema.py (kept literal so this module imports light).
CANONICAL = {
    "firms": ["firm_id", "year", "exports_eur", "turnover_eur", "employees", "sector",
              "n_export_markets", "firm_name"],
    "membership": ["firm_id", "cluster_id", "join_year", "exit_year"],
    "clusters": ["cluster_id", "cluster_name", "sector", "founded_year", "seed_end_year",
                 "seed_grant_eur", "closed_year"],
    "cluster_finance": ["cluster_id", "year", "running_costs_eur", "member_fees_eur",
                        "public_funding_eur"],
    "orders": ["order_id", "cluster_id", "firm_id", "order_date", "value_eur",
               "destination_country"],
}
TABLE_ORDER = tuple(CANONICAL)
MONEY = {c for cols in CANONICAL.values() for c in cols if c.endswith("_eur")}
INTEGERS = {"year", "join_year", "exit_year", "founded_year", "seed_end_year", "closed_year",
            "employees", "n_export_markets"}

# Approximate ECB annual average reference rates, local currency units per EUR (from memory;
# good enough for a synthetic example, not for an evaluation).
FX: dict[str, dict[int, float]] = {
    "PLN": {2012: 4.1847, 2013: 4.1975, 2014: 4.1843, 2015: 4.1841, 2016: 4.3632, 2017: 4.2570,
            2018: 4.2615, 2019: 4.2976, 2020: 4.4430, 2021: 4.5652, 2022: 4.6861, 2023: 4.5420},
    "CZK": {2012: 25.149, 2013: 25.980, 2014: 27.536, 2015: 27.279, 2016: 27.034, 2017: 26.326,
            2018: 25.647, 2019: 25.670, 2020: 26.455, 2021: 25.640, 2022: 24.566, 2023: 24.004},
    "GBP": {2012: 0.81087, 2013: 0.84926, 2014: 0.80612, 2015: 0.72584, 2016: 0.81948,
            2017: 0.87667, 2018: 0.88471, 2019: 0.87777, 2020: 0.88970, 2021: 0.85960,
            2022: 0.85276, 2023: 0.86979},
}

EU = ("DE", "FR", "IT", "ES", "NL", "BE", "PL", "AT", "CZ", "SE", "DK", "PT", "IE", "SK", "HU",
      "FI", "RO")
NON_EU = ("US", "GB", "CH", "NO", "CN", "JP", "MA", "TR", "AE", "CA", "MX", "BR", "IN", "KR")
# fmt: on


# --------------------------------------------------------------------------------------------
# Region specifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effects:
    """The planted treatment effects of one region (all zero = no effect).

    ``exporter_pp`` is the rise in the share of members exporting at full ramp: that share of
    each cohort, drawn among members that would not export under ``Y0``, is switched on.
    ``value_pct`` raises the export value of members that export anyway. ``ramp_years`` R gives
    ``ramp(e) = min((e + 1) / R, 1)`` at event time e >= 0. ``markets`` is the expected number of
    extra export markets of exporting members at full ramp. The two ``pretrend_*`` terms plant
    a selection pre-trend: a future member's log exports (and latent export index) are lower by
    that amount per year before joining, i.e. they grow faster than non-members' before joining.
    """

    exporter_pp: float
    value_pct: float
    ramp_years: int
    markets: float = 0.0
    pretrend_log_exports: float = 0.0
    pretrend_index: float = 0.0

    @property
    def is_zero(self) -> bool:
        return self.exporter_pp == 0 and self.value_pct == 0 and self.markets == 0

    def ramp(self, event_time: np.ndarray) -> np.ndarray:
        e = np.asarray(event_time, dtype="float64")
        if self.ramp_years <= 0:
            return np.zeros_like(e)
        return np.where(e >= 0, np.minimum((e + 1) / self.ramp_years, 1.0), 0.0)


@dataclass(frozen=True)
class FileLayout:
    """How one canonical table is laid out in a region's file (what the config must say)."""

    table: str
    file: str
    columns: Mapping[str, str]  # canonical column -> column name in the file, in file order
    delimiter: str | None = None
    decimal: str = "."
    thousands: str = ""
    encoding: str = "utf-8"
    sheet: str | None = None
    header_row: int = 1
    scale: float = 1.0
    title: str = ""  # xlsx only: the title line above the header

    @property
    def format(self) -> str:
        return Path(self.file).suffix.lstrip(".")


@dataclass(frozen=True)
class RegionSpec:
    """A region of the example: identity, size of its synthetic world, effects and file layout."""

    key: str
    name: str
    nuts2: str
    country: str
    currency: str
    programme: str
    n_firms: int
    n_clusters: int
    baseline_exporters: float  # target share of firms exporting in 2012-2014
    member_share: float  # target share of firms ever joining a consortium
    close_share: float  # share of clusters (old enough) closing within 3 years after the seed ends
    effects: Effects
    sectors: tuple[str, ...]
    language: str
    firm_id: str  # format with {n}
    cluster_id: str  # format with {n}
    order_id: str  # format with {year} and {n}
    layout: tuple[FileLayout, ...]
    notes: tuple[str, ...] = ()  # config comments: the quirks of this region's files

    @property
    def fx(self) -> dict[int, float]:
        return dict(FX.get(self.currency, {}))

    def file(self, table: str) -> FileLayout:
        for f in self.layout:
            if f.table == table:
                return f
        raise KeyError(table)


def _cols(pairs: str) -> dict[str, str]:
    """``"canonical=file column; ..."`` -> ordered mapping (file column names may have spaces)."""
    out: dict[str, str] = {}
    for pair in pairs.split(";"):
        if pair.strip():
            canonical, column = pair.split("=", 1)
            out[canonical.strip()] = column.strip()
    return out


# fmt: off
_ES = {"delimiter": ";", "decimal": ","}
_CANTABRIA = RegionSpec(
    key="cantabria", name="Cantabria", nuts2="ES13", country="ES", currency="EUR",
    programme="Export Consortia (SODERCAN)",
    n_firms=320, n_clusters=7, baseline_exporters=0.33, member_share=0.30, close_share=0.35,
    effects=Effects(exporter_pp=0.08, value_pct=0.15, ramp_years=3, markets=0.8),
    sectors=("C10", "C25", "C24", "C28", "C20", "C22", "C33", "A03", "M71"),
    language="es", firm_id="ES13-{n:04d}", cluster_id="CEX{n:02d}", order_id="PE-{year}-{n:04d}",
    layout=(
        FileLayout("firms", "empresas.csv", _cols(
            "firm_id=id_empresa; year=ejercicio; firm_name=razon_social; sector=cnae;"
            "employees=empleados; turnover_eur=facturacion; exports_eur=exportaciones;"
            "n_export_markets=num_mercados_exportacion"), **_ES),
        FileLayout("membership", "socios_consorcios.csv", _cols(
            "firm_id=id_empresa; cluster_id=id_consorcio; join_year=año_alta; exit_year=año_baja"),
            **_ES),
        FileLayout("clusters", "consorcios.csv", _cols(
            "cluster_id=id_consorcio; cluster_name=nombre_consorcio; sector=sector_cnae;"
            "founded_year=año_constitucion; seed_end_year=fin_ayuda_semilla;"
            "seed_grant_eur=ayuda_semilla; closed_year=año_disolucion"), **_ES),
        FileLayout("cluster_finance", "cuentas_consorcios.csv", _cols(
            "cluster_id=id_consorcio; year=ejercicio; running_costs_eur=gastos_funcionamiento;"
            "member_fees_eur=cuotas_socios; public_funding_eur=subvencion_publica"), **_ES),
        FileLayout("orders", "pedidos_exportacion.csv", _cols(
            "order_id=id_pedido; cluster_id=id_consorcio; firm_id=id_empresa;"
            "order_date=fecha_firma; value_eur=importe; destination_country=pais_destino"), **_ES),
    ),
    notes=(
        "Spanish CSV export: ';' between fields and a decimal comma (1234,56); UTF-8.",
        "Money in EUR. A blank 'exportaciones' is unknown; 0 means the firm did not export.",
    ),
)

_PL = {"delimiter": ","}
_PL_MONEY = {"delimiter": ",", "scale": 1000.0}
_KUJAWSKO = RegionSpec(
    key="kujawsko_pomorskie", name="Kujawsko-Pomorskie", nuts2="PL61", country="PL",
    currency="PLN", programme="Clustering for International Markets (TARR)",
    n_firms=380, n_clusters=9, baseline_exporters=0.28, member_share=0.28, close_share=0.30,
    effects=Effects(exporter_pp=0.10, value_pct=0.20, ramp_years=4),
    sectors=("C22", "C10", "C16", "C31", "C25", "C28", "C27", "C20", "I56"),
    language="pl", firm_id="{n:06d}", cluster_id="KL{n:02d}", order_id="ZAM/{year}/{n:04d}",
    layout=(
        FileLayout("firms", "firmy.csv", _cols(
            "firm_id=id_firmy; year=rok; firm_name=nazwa_firmy; sector=pkd;"
            "employees=zatrudnienie; turnover_eur=przychody_tys_zl; exports_eur=eksport_tys_zl"),
            **_PL_MONEY),
        FileLayout("membership", "czlonkowie_klastrow.csv", _cols(
            "firm_id=id_firmy; cluster_id=id_klastra; join_year=rok_przystąpienia;"
            "exit_year=rok_wystąpienia"), **_PL),
        FileLayout("clusters", "klastry.csv", _cols(
            "cluster_id=id_klastra; cluster_name=nazwa_klastra; sector=branża_pkd;"
            "founded_year=rok_założenia; seed_end_year=koniec_wsparcia;"
            "seed_grant_eur=dotacja_startowa_tys_zl; closed_year=rok_likwidacji"), **_PL_MONEY),
        FileLayout("cluster_finance", "finanse_klastrow.csv", _cols(
            "cluster_id=id_klastra; year=rok; running_costs_eur=koszty_tys_zl;"
            "member_fees_eur=składki_tys_zl; public_funding_eur=dofinansowanie_tys_zl"),
            **_PL_MONEY),
        FileLayout("orders", "zamowienia.csv", _cols(
            "order_id=nr_zamówienia; cluster_id=id_klastra; firm_id=id_firmy;"
            "order_date=data_podpisania; value_eur=wartość_tys_zl;"
            "destination_country=kraj_docelowy"), **_PL_MONEY),
    ),
    notes=(
        "Polish CSV: ',' between fields, decimal point, UTF-8 column names with diacritics.",
        "Money in THOUSANDS of PLN (scale = 1000), converted to EUR at the yearly rates in 'fx'.",
        "Firm ids are numbers written as text; no export-market counts in this region.",
    ),
)

_KENT_BOOK = "kent_export_clusters.xlsx"
_KENT = RegionSpec(
    key="kent", name="Kent", nuts2="UKJ4", country="UK", currency="GBP",
    programme="Kent export clusters (SELEP ESIF)",
    n_firms=300, n_clusters=6, baseline_exporters=0.36, member_share=0.32, close_share=0.40,
    effects=Effects(exporter_pp=0.06, value_pct=0.10, ramp_years=2, markets=0.5,
                    pretrend_log_exports=0.06, pretrend_index=0.12),
    sectors=("C10", "C11", "C20", "C21", "C26", "C28", "C32", "J62", "M71"),
    language="en", firm_id="KT{n:04d}", cluster_id="KEC{n:02d}", order_id="KO{year}{n:04d}",
    layout=(
        FileLayout("firms", _KENT_BOOK, _cols(
            "firm_id=Company ref; year=Year; firm_name=Company name; sector=NACE code;"
            "employees=Employees; turnover_eur=Turnover (GBP); exports_eur=Export sales (GBP);"
            "n_export_markets=Export markets"),
            sheet="Firms", header_row=3, title="Kent export clusters: firm panel, calendar years"),
        FileLayout("membership", _KENT_BOOK, _cols(
            "firm_id=Company ref; cluster_id=Cluster ref; join_year=Joined; exit_year=Left"),
            sheet="Members", header_row=3, title="Kent export clusters: membership register"),
        FileLayout("clusters", _KENT_BOOK, _cols(
            "cluster_id=Cluster ref; cluster_name=Cluster name; sector=NACE code;"
            "founded_year=Founded; seed_end_year=Seed funding ends;"
            "seed_grant_eur=Seed grant (GBP); closed_year=Closed"),
            sheet="Clusters", header_row=3, title="Kent export clusters: clusters"),
        FileLayout("cluster_finance", _KENT_BOOK, _cols(
            "cluster_id=Cluster ref; year=Year; running_costs_eur=Running costs (GBP);"
            "member_fees_eur=Member fees (GBP); public_funding_eur=Public funding (GBP)"),
            sheet="Finance", header_row=3, title="Kent export clusters: cluster accounts"),
        FileLayout("orders", _KENT_BOOK, _cols(
            "order_id=Order ref; cluster_id=Cluster ref; firm_id=Company ref;"
            "order_date=Date signed; value_eur=Value (GBP); destination_country=Destination"),
            sheet="Orders", header_row=3, title="Kent export clusters: export orders"),
    ),
    notes=(
        "One Excel workbook, one sheet per table; a title line and a note line sit above the",
        "header, so the header is on row 3. Money in GBP, converted at the yearly rates in 'fx'.",
    ),
)

_FR = {"delimiter": ";", "decimal": ",", "thousands": " ", "encoding": "latin-1"}
_AQUITAINE = RegionSpec(
    key="aquitaine", name="Aquitaine", nuts2="FRI1", country="FR", currency="EUR",
    programme="Aquitaine export groupings",
    n_firms=350, n_clusters=8, baseline_exporters=0.34, member_share=0.27, close_share=0.35,
    effects=Effects(exporter_pp=0.07, value_pct=0.12, ramp_years=3, markets=0.6),
    sectors=("C11", "C10", "C16", "C30", "C20", "C28", "C25", "C31"),
    language="fr", firm_id="AQ{n:05d}", cluster_id="GEX{n:02d}", order_id="CMD-{year}-{n:04d}",
    layout=(
        FileLayout("firms", "entreprises.csv", _cols(
            "firm_id=id_entreprise; year=année; firm_name=raison_sociale; sector=code_naf;"
            "employees=effectif; turnover_eur=chiffre_d_affaires;"
            "exports_eur=chiffre_d_affaires_à_l_export; n_export_markets=nb_marchés_export"),
            **_FR),
        FileLayout("membership", "adhesions.csv", _cols(
            "firm_id=id_entreprise; cluster_id=id_groupement; join_year=année_adhésion;"
            "exit_year=année_sortie"), **_FR),
        FileLayout("clusters", "groupements.csv", _cols(
            "cluster_id=id_groupement; cluster_name=nom_du_groupement; sector=secteur_naf;"
            "founded_year=année_création; seed_end_year=fin_aide_amorçage;"
            "seed_grant_eur=aide_amorçage; closed_year=année_dissolution"), **_FR),
        FileLayout("cluster_finance", "comptes_groupements.csv", _cols(
            "cluster_id=id_groupement; year=année; running_costs_eur=coûts_de_fonctionnement;"
            "member_fees_eur=cotisations_membres; public_funding_eur=financement_public"), **_FR),
        FileLayout("orders", "commandes_export.csv", _cols(
            "order_id=numéro_commande; cluster_id=id_groupement; firm_id=id_entreprise;"
            "order_date=date_signature; value_eur=montant; destination_country=pays_destination"),
            **_FR),
    ),
    notes=(
        "French CSV in Latin-1 (not UTF-8): accented column names such as 'année'.",
        "';' between fields, decimal comma and a space as thousands separator (1 234 567,89).",
    ),
)

_CS = {"delimiter": ";", "decimal": ","}
_USTI = RegionSpec(
    key="usti", name="Ústí nad Labem", nuts2="CZ04", country="CZ", currency="CZK",
    programme="Ústí export clusters",
    n_firms=260, n_clusters=5, baseline_exporters=0.30, member_share=0.33, close_share=0.35,
    effects=Effects(exporter_pp=0.09, value_pct=0.18, ramp_years=4),
    sectors=("C20", "C23", "C24", "C25", "C28", "C29", "C22", "C27"),
    language="cs", firm_id="{n:06d}", cluster_id="EK{n:02d}", order_id="ZAK{year}-{n:04d}",
    layout=(
        FileLayout("firms", "firmy.csv", _cols(
            "firm_id=ičo; year=rok; firm_name=název_firmy; sector=cz_nace;"
            "employees=počet_zaměstnanců; turnover_eur=obrat_kč; exports_eur=vývoz_kč"), **_CS),
        FileLayout("membership", "clenstvi.csv", _cols(
            "firm_id=ičo; cluster_id=id_klastru; join_year=rok_vstupu; exit_year=rok_výstupu"),
            **_CS),
        FileLayout("clusters", "klastry.csv", _cols(
            "cluster_id=id_klastru; cluster_name=název_klastru; sector=odvětví;"
            "founded_year=rok_založení; seed_end_year=konec_podpory;"
            "seed_grant_eur=počáteční_dotace_kč; closed_year=rok_zániku"), **_CS),
        FileLayout("cluster_finance", "finance_klastru.csv", _cols(
            "cluster_id=id_klastru; year=rok; running_costs_eur=provozní_náklady_kč;"
            "member_fees_eur=členské_příspěvky_kč; public_funding_eur=veřejná_podpora_kč"), **_CS),
        FileLayout("orders", "zakazky.csv", _cols(
            "order_id=číslo_zakázky; cluster_id=id_klastru; firm_id=ičo;"
            "order_date=datum_podpisu; value_eur=hodnota_kč; destination_country=země_určení"),
            **_CS),
    ),
    notes=(
        "Czech CSV: ';' between fields, decimal comma, UTF-8 column names with diacritics.",
        "Money in CZK. Firm ids (IČO-like) have LEADING ZEROS ('004217'): keep them as text.",
        "No export-market counts in this region.",
    ),
)

_MOLISE = RegionSpec(
    key="molise", name="Molise", nuts2="ITF2", country="IT", currency="EUR",
    programme="Molise export consortia",
    n_firms=280, n_clusters=6, baseline_exporters=0.27, member_share=0.30, close_share=0.35,
    effects=Effects(exporter_pp=0.0, value_pct=0.0, ramp_years=0),
    sectors=("C10", "C11", "C13", "C14", "C22", "C25", "C28", "C31"),
    language="it", firm_id="MOL{n:04d}", cluster_id="CON{n:02d}", order_id="ORD{year}{n:04d}",
    layout=(
        FileLayout("firms", "imprese.parquet", _cols(
            "firm_id=codice_impresa; year=anno; firm_name=ragione_sociale; sector=codice_ateco;"
            "employees=addetti; turnover_eur=fatturato; exports_eur=esportazioni")),
        FileLayout("membership", "adesioni.parquet", _cols(
            "firm_id=codice_impresa; cluster_id=codice_consorzio; join_year=anno_adesione;"
            "exit_year=anno_recesso")),
        FileLayout("clusters", "consorzi.parquet", _cols(
            "cluster_id=codice_consorzio; cluster_name=denominazione; sector=settore_ateco;"
            "founded_year=anno_costituzione; seed_end_year=fine_fase_avvio;"
            "seed_grant_eur=contributo_avvio; closed_year=anno_scioglimento")),
        FileLayout("cluster_finance", "bilanci_consorzi.parquet", _cols(
            "cluster_id=codice_consorzio; year=anno; running_costs_eur=costi_gestione;"
            "member_fees_eur=quote_associative; public_funding_eur=contributi_pubblici")),
        FileLayout("orders", "ordini_export.parquet", _cols(
            "order_id=codice_ordine; cluster_id=codice_consorzio; firm_id=codice_impresa;"
            "order_date=data_ordine; value_eur=importo; destination_country=paese_destinazione")),
    ),
    notes=("Parquet files with Italian column names; money in EUR; blanks are Parquet nulls.",),
)

# fmt: on

REGIONS: tuple[RegionSpec, ...] = (_CANTABRIA, _KUJAWSKO, _KENT, _AQUITAINE, _USTI, _MOLISE)


# --------------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionExample:
    """One region's synthetic world: the canonical tables (EUR) plus what was planted.

    ``potential`` has one row per observed firm-year: ``cohort`` (0 = never a member),
    ``treated``, the potential outcomes ``exports_eur_y0`` / ``exports_eur_y1`` (Y1 only for
    treated rows) and ``exports_missing`` (the observed value is blank).
    """

    spec: RegionSpec
    firms: pd.DataFrame
    membership: pd.DataFrame
    clusters: pd.DataFrame
    cluster_finance: pd.DataFrame
    orders: pd.DataFrame
    potential: pd.DataFrame
    truth: pd.DataFrame
    switchers: int  # members switched on to exporting by the programme (at full ramp)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLE_ORDER}


@dataclass(frozen=True)
class ExampleLab:
    """The whole synthetic lab: one :class:`RegionExample` per region, in :data:`REGIONS` order."""

    seed: int
    regions: tuple[RegionExample, ...]
    truth: pd.DataFrame = field(repr=False)

    def region(self, key: str) -> RegionExample:
        for r in self.regions:
            if r.spec.key == key:
                return r
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(r.spec.key for r in self.regions)


# --------------------------------------------------------------------------------------------
# Fictional names
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


def _rng(seed: int, region_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, region_index, stream])


def _ar1(rng: np.random.Generator, n: int, t: int, rho: float, sd: float) -> np.ndarray:
    out = np.empty((n, t))
    out[:, 0] = rng.normal(0, sd, n)
    innov = sd * np.sqrt(1 - rho**2)
    for j in range(1, t):
        out[:, j] = rho * out[:, j - 1] + rng.normal(0, innov, n)
    return out


def _panel_span(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last observed year per firm: ~5 % enter late, ~5 % leave early."""
    first = np.full(n, FIRST_YEAR)
    last = np.full(n, LAST_YEAR)
    order = rng.permutation(n)
    n_late = round(0.05 * n)
    n_early = round(0.05 * n)
    late, early = order[:n_late], order[n_late : n_late + n_early]
    first[late] = rng.integers(2013, 2020, n_late)
    last[early] = rng.integers(2016, 2023, n_early)
    return first, last


def _make_clusters(
    rng: np.random.Generator,
    spec: RegionSpec,
    ability: np.ndarray,
    sector: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    cluster_ids: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clusters (staggered 2015-2020) and memberships; selection on export ability and sector."""
    n_c = spec.n_clusters
    for _ in range(100):
        founded = np.sort(rng.integers(2015, 2021, n_c))
        if len(set(founded.tolist())) >= min(4, n_c):
            break
    csector = rng.choice(np.array(spec.sectors[: max(4, n_c)]), size=n_c)
    late = rng.integers(0, 3, n_c)  # firms joining one or two years after founding
    target = round(spec.member_share * spec.n_firms)
    extra = max(target - int(late.sum()) - 5 * n_c, 0)
    founders = 5 + rng.multinomial(extra, rng.dirichlet(np.full(n_c, 2.0)))
    founders = np.minimum(founders, 16)

    taken = np.zeros(spec.n_firms, dtype=bool)
    rows: list[tuple[int, int, int]] = []  # (firm index, cluster index, join year)

    def pick(k: int, year: int, sec: str) -> np.ndarray:
        alive = (first <= year) & (last >= year) & ~taken
        idx = np.flatnonzero(alive)
        w = np.exp(0.6 * ability[idx]) * np.where(sector[idx] == sec, 4.0, 1.0)
        chosen = rng.choice(idx, size=min(k, len(idx)), replace=False, p=w / w.sum())
        taken[chosen] = True
        return np.sort(chosen)

    for c in range(n_c):
        for i in pick(int(founders[c]), int(founded[c]), str(csector[c])):
            rows.append((int(i), c, int(founded[c])))
        for _ in range(int(late[c])):
            year = int(min(founded[c] + rng.integers(1, 3), LAST_YEAR))
            for i in pick(1, year, str(csector[c])):
                rows.append((int(i), c, year))
    # A few firms belong to two clusters: members of an earlier cluster join a later one.
    n_double = int(rng.integers(2, 5))
    later = [c for c in range(n_c) if founded[c] > founded.min()]
    for _ in range(n_double):
        if not later:
            break
        c = int(rng.choice(later))
        year = int(founded[c])
        if sum(1 for _, cc, _ in rows if cc == c) >= 20:  # 5-20 members per cluster
            continue
        pool = sorted(
            {
                i
                for i, cc, y in rows
                if founded[cc] < year and cc != c and first[i] <= year <= last[i]
            }
            - {i for i, cc, _ in rows if cc == c}
        )
        if pool:
            rows.append((int(rng.choice(pool)), c, year))

    # Closures: among clusters whose seed ended at least 3 years before the last year, a
    # share closes 1-3 years after the seed ends; the younger ones all stay open.
    seed_end = founded + SEED_YEARS - 1
    eligible = np.flatnonzero(seed_end + SURVIVAL_HORIZON <= LAST_YEAR)
    n_close = int(round(spec.close_share * len(eligible)))
    closed = np.full(n_c, -1)
    if n_close:
        shut = rng.choice(eligible, size=n_close, replace=False)
        closed[shut] = seed_end[shut] + rng.integers(1, SURVIVAL_HORIZON + 1, n_close)

    firm_idx = np.array([r[0] for r in rows])
    clus_idx = np.array([r[1] for r in rows])
    join = np.array([r[2] for r in rows])
    exit_ = np.full(len(rows), 10**4)
    voluntary = (rng.random(len(rows)) < 0.12) & (join < LAST_YEAR)
    exit_[voluntary] = [int(rng.integers(j + 1, LAST_YEAR + 1)) for j in join[voluntary]]
    gone = last[firm_idx] < LAST_YEAR  # firm left the panel (closed down): membership ends too
    exit_[gone] = np.minimum(exit_[gone], last[firm_idx][gone] + 1)
    cl = closed[clus_idx]
    exit_ = np.where(cl > 0, np.minimum(exit_, cl), exit_)
    membership = pd.DataFrame(
        {
            "firm_index": firm_idx,
            "cluster_index": clus_idx,
            "join_year": join,
            "exit_year": np.where(exit_ <= LAST_YEAR, exit_, -1),
        }
    )
    clusters = pd.DataFrame(
        {
            "cluster_index": np.arange(n_c),
            "cluster_id": cluster_ids,
            "sector": csector.astype(str),
            "founded_year": founded,
            "seed_end_year": seed_end,
            "closed_year": closed,
        }
    )
    return clusters, membership


def _switchers(
    rng: np.random.Generator,
    eff: Effects,
    cohort: np.ndarray,
    exporter0: np.ndarray,
    observed: np.ndarray,
) -> np.ndarray:
    """When each firm is switched on to exporting, as a ramp threshold (inf = never).

    Every cohort gets its share ``exporter_pp`` of switchers (largest-remainder rounding across
    cohorts), drawn among its members that would not export from their join year on (``Y0``).
    A switcher's threshold ``v`` is a stratified uniform within its cohort; it exports from the
    first event time with ``ramp(e) > v``, so the share switched on follows the ramp and, once on,
    a firm stays on.
    """
    n = len(cohort)
    switch_at = np.full(n, np.inf)
    groups = np.unique(cohort[cohort > 0])
    if eff.exporter_pp <= 0 or len(groups) == 0:
        return switch_at
    sizes = np.array([(cohort == g).sum() for g in groups])
    quota = eff.exporter_pp * sizes
    k = np.floor(quota).astype(int)
    extra = round(float(quota.sum())) - int(k.sum())
    k[np.argsort(-(quota - k), kind="stable")[:extra]] += 1
    for g, q in zip(groups, k, strict=True):
        in_g = np.flatnonzero(cohort == g)
        after = observed[in_g, g - FIRST_YEAR :]
        never = ~(exporter0[in_g, g - FIRST_YEAR :] & after).any(axis=1)
        pool = in_g[never]
        chosen = np.sort(rng.choice(pool, size=min(int(q), len(pool)), replace=False))
        m = len(chosen)
        switch_at[chosen] = (rng.permutation(m) + rng.random(m)) / max(m, 1)
    return switch_at


def _region(seed: int, index: int, spec: RegionSpec) -> RegionExample:
    n, t = spec.n_firms, len(YEARS)
    rng_firm = _rng(seed, index, 1)
    rng_names = _rng(seed, index, 2)
    rng_clus = _rng(seed, index, 3)
    rng_eff = _rng(seed, index, 4)
    rng_fin = _rng(seed, index, 5)
    rng_ord = _rng(seed, index, 6)
    rng_miss = _rng(seed, index, 7)

    # --- firms: static traits and panel span ---------------------------------------------------
    firm_ids = _unique_ids(rng_names, spec.firm_id, n, 10**5 if "06d" in spec.firm_id else 10**4)
    if spec.key == "kujawsko_pomorskie":  # numeric ids without leading zeros
        firm_ids = [str(100000 + 7 * int(x)) for x in firm_ids]
    names = _firm_names(rng_names, spec.language, n)
    cluster_ids = [spec.cluster_id.format(n=c + 1) for c in range(spec.n_clusters)]
    cluster_names = _cluster_names(rng_names, spec.language, spec.n_clusters)

    ability = rng_firm.normal(0, 1, n)  # latent export capability
    sector_w = np.linspace(2.0, 1.0, len(spec.sectors))
    sector = rng_firm.choice(np.array(spec.sectors), size=n, p=sector_w / sector_w.sum())
    first, last = _panel_span(rng_firm, n)
    observed = (YEARS[None, :] >= first[:, None]) & (YEARS[None, :] <= last[:, None])

    log_emp = np.log(14) + 0.9 * rng_firm.normal(0, 1, n) + 0.35 * ability
    log_emp = log_emp[:, None] + np.cumsum(
        np.c_[np.zeros(n), rng_firm.normal(0.01, 0.06, (n, t - 1))], axis=1
    )
    employees = np.clip(np.round(np.exp(log_emp)), 2, 249).astype("int64")
    productivity = np.exp(rng_firm.normal(np.log(110_000), 0.35, n))
    macro = np.cumsum(rng_firm.normal(0.025, 0.02, t))
    macro[YEARS >= 2020] -= 0.07
    macro[YEARS >= 2021] += 0.06
    turnover0 = (
        employees * productivity[:, None] * np.exp(macro[None, :] + _ar1(rng_firm, n, t, 0.6, 0.08))
    )

    # --- clusters and membership (selection on ability and sector) --------------------------------
    clusters, mem = _make_clusters(rng_clus, spec, ability, sector, first, last, cluster_ids)
    cohort = np.zeros(n, dtype="int64")
    first_join = mem.groupby("firm_index")["join_year"].min()
    cohort[first_join.index.to_numpy()] = first_join.to_numpy()
    member = cohort > 0
    event = np.where(member[:, None], YEARS[None, :] - cohort[:, None], -999)
    treated = member[:, None] & (event >= 0)
    pre_years = np.where(member[:, None] & (event < 0), -event, 0)  # years before joining

    # --- Y0: export status (threshold model) and export value ------------------------------------
    eff = spec.effects
    year_index = np.cumsum(rng_firm.normal(0.02, 0.03, t))
    z = (
        ability[:, None]
        + 0.3 * (log_emp - log_emp.mean())
        + year_index[None, :]
        + _ar1(rng_firm, n, t, 0.7, 0.3)
        - eff.pretrend_index * pre_years
    )
    base = observed[:, :3]
    threshold = np.quantile(z[:, :3][base], 1 - spec.baseline_exporters)
    exporter0 = z > threshold
    intensity = np.clip(rng_firm.beta(2, 5, n), 0.03, 0.9)
    export_trend = np.cumsum(rng_firm.normal(0.01, 0.03, t))
    export_trend[YEARS >= 2020] -= 0.08
    share = np.minimum(
        intensity[:, None]
        * np.exp(
            export_trend[None, :]
            + _ar1(rng_firm, n, t, 0.5, 0.12)
            - eff.pretrend_log_exports * pre_years
        ),
        0.95,
    )
    exports0 = np.where(exporter0, share * turnover0, 0.0)
    markets_base = rng_firm.gamma(2.0, 1.2, n)
    rel = np.where(exports0 > 0, exports0, 1.0) / 250_000
    markets0 = np.where(exporter0, 1 + np.floor(markets_base[:, None] * rel**0.3), 0).astype(
        "int64"
    )
    markets0 = np.minimum(markets0, 30)

    # --- Y1: planted effects on treated firm-years -----------------------------------------------
    ramp = eff.ramp(event) * treated
    switch_at = _switchers(rng_eff, eff, cohort, exporter0, observed)
    switch_on = treated & (switch_at[:, None] < ramp)
    small_share = rng_eff.uniform(0.02, 0.06, n)
    exports1 = np.where(
        exporter0,
        exports0 * (1 + eff.value_pct * ramp),
        np.where(switch_on, small_share[:, None] * turnover0, 0.0),
    )
    gain = rng_eff.binomial(2, min(eff.markets / 2, 1.0), n)
    markets1 = np.where(
        exporter0,
        markets0 + np.floor(gain[:, None] * ramp + 0.5).astype("int64"),
        np.where(switch_on, 1, 0),
    )
    if eff.is_zero:  # exactly no effect: Y1 is Y0, bit for bit
        exports1, markets1 = exports0.copy(), markets0.copy()

    exports0 = np.round(exports0, 2)
    exports1 = np.round(exports1, 2)
    turnover0 = np.round(turnover0, 2)
    turnover1 = np.where(
        exports1 != exports0, np.round(turnover0 + (exports1 - exports0), 2), turnover0
    )
    exports_obs = np.where(treated, exports1, exports0)
    turnover_obs = np.where(treated, turnover1, turnover0)
    markets_obs = np.where(treated, markets1, markets0)

    # ~1 % of export values are unknown (blank), distinct from 0 (= does not export).
    missing = observed & (rng_miss.random((n, t)) < 0.01)

    # --- canonical firms table -------------------------------------------------------------------
    ii, jj = np.nonzero(observed)
    ids = np.array(firm_ids, dtype=object)
    firms = pd.DataFrame(
        {
            "firm_id": pd.array(ids[ii], dtype="str"),
            "year": YEARS[jj].astype("int64"),
            "exports_eur": np.where(missing[ii, jj], np.nan, exports_obs[ii, jj]),
            "turnover_eur": turnover_obs[ii, jj],
            "employees": employees[ii, jj],
            "sector": pd.array(sector[ii].astype(object), dtype="str"),
            "n_export_markets": pd.array(
                np.where(missing[ii, jj], pd.NA, markets_obs[ii, jj]).tolist(), dtype="Int64"
            ),
            "firm_name": pd.array(np.array(names, dtype=object)[ii], dtype="str"),
        }
    )
    potential = pd.DataFrame(
        {
            "firm_id": pd.array(ids[ii], dtype="str"),
            "year": YEARS[jj].astype("int64"),
            "cohort": cohort[ii],
            "treated": treated[ii, jj],
            "exports_eur_y0": exports0[ii, jj],
            "exports_eur_y1": np.where(treated[ii, jj], exports1[ii, jj], np.nan),
            "exports_missing": missing[ii, jj],
        }
    )

    membership = pd.DataFrame(
        {
            "firm_id": pd.array(ids[mem["firm_index"].to_numpy()], dtype="str"),
            "cluster_id": pd.array(
                np.array(cluster_ids, dtype=object)[mem["cluster_index"].to_numpy()], dtype="str"
            ),
            "join_year": mem["join_year"].to_numpy().astype("int64"),
            "exit_year": pd.array(
                [None if y < 0 else int(y) for y in mem["exit_year"]], dtype="Int64"
            ),
        }
    ).sort_values(["cluster_id", "firm_id"], ignore_index=True)

    # --- cluster finance: tapering public funding, rising member fees -----------------------------
    fin_rows = []
    seed_grant = []
    for c in clusters.itertuples():
        end = LAST_YEAR if c.closed_year < 0 else c.closed_year - 1
        base_cost = rng_fin.uniform(30_000, 110_000)
        # small or no public money after the seed; other income covers a little of the costs
        after_public = rng_fin.choice([0.0, 0.0, 0.05, 0.10])
        other = rng_fin.uniform(0.0, 0.10)
        grant = 0.0
        for y in range(c.founded_year, end + 1):
            age = y - c.founded_year
            n_active = len(_active_members(mem, c.cluster_index, y))
            costs = (
                base_cost
                * (1 + 0.04 * age)
                * (0.85 + 0.015 * n_active)
                * np.exp(rng_fin.normal(0, 0.05))
            )
            if age == 0:
                pub_share = 0.95
            elif age < SEED_YEARS:
                pub_share = 0.85
            else:
                pub_share = after_public
            public = round(costs * pub_share, 2)
            fees = round(costs * (1 - pub_share - (other if age >= SEED_YEARS else 0.0)), 2)
            if age < SEED_YEARS:
                grant += public
            fin_rows.append((c.cluster_id, y, round(costs, 2), fees, public))
        seed_grant.append(round(grant, 2))
    cluster_finance = pd.DataFrame(fin_rows, columns=CANONICAL["cluster_finance"])
    cluster_finance = cluster_finance.astype({"cluster_id": "str", "year": "int64"})
    clusters_tbl = pd.DataFrame(
        {
            "cluster_id": pd.array(cluster_ids, dtype="str"),
            "cluster_name": pd.array(cluster_names, dtype="str"),
            "sector": pd.array(clusters["sector"].tolist(), dtype="str"),
            "founded_year": clusters["founded_year"].to_numpy().astype("int64"),
            "seed_end_year": pd.array(clusters["seed_end_year"].tolist(), dtype="Int64"),
            "seed_grant_eur": np.array(seed_grant),
            "closed_year": pd.array(
                [None if y < 0 else int(y) for y in clusters["closed_year"]], dtype="Int64"
            ),
        }
    )

    # --- export orders: via clusters (members) and outside any cluster --------------------------
    orders = _orders(rng_ord, spec, clusters, mem, ids, cluster_ids, observed, exports_obs)

    truth = _truth(spec.key, potential)
    return RegionExample(
        spec,
        firms,
        membership,
        clusters_tbl,
        cluster_finance,
        orders,
        potential,
        truth,
        int(np.isfinite(switch_at).sum()),
    )


def _active_members(mem: pd.DataFrame, cluster_index: int, year: int) -> np.ndarray:
    """Firm indices that are members of a cluster in a year (joined, not yet left)."""
    c = mem["cluster_index"].to_numpy()
    j = mem["join_year"].to_numpy()
    x = mem["exit_year"].to_numpy()
    keep = (c == cluster_index) & (j <= year) & ((x < 0) | (x > year))
    return mem["firm_index"].to_numpy()[keep]


def _destinations(rng: np.random.Generator, own: str, k: int) -> list[str]:
    eu = [c for c in EU if c != own]
    non = [c for c in NON_EU if c != own]
    pool = np.array(eu + non)
    w = np.r_[
        np.linspace(3, 1, len(eu)) * 0.65 / np.linspace(3, 1, len(eu)).sum(),
        np.linspace(3, 1, len(non)) * 0.35 / np.linspace(3, 1, len(non)).sum(),
    ]
    return [str(x) for x in rng.choice(pool, size=k, p=w / w.sum())]


def _orders(
    rng: np.random.Generator,
    spec: RegionSpec,
    clusters: pd.DataFrame,
    mem: pd.DataFrame,
    ids: np.ndarray,
    cluster_ids: list[str],
    observed: np.ndarray,
    exports: np.ndarray,
) -> pd.DataFrame:
    own = "GB" if spec.country == "UK" else spec.country
    rows: list[tuple[str | None, str, int, int, float]] = []  # cluster, firm, year, day, value
    for c in clusters.itertuples():
        end = LAST_YEAR if c.closed_year < 0 else c.closed_year - 1
        for y in range(c.founded_year, end + 1):
            members = _active_members(mem, c.cluster_index, y)
            active = [int(i) for i in members if observed[i, y - FIRST_YEAR]]
            if not active:
                continue
            for _ in range(int(rng.poisson(0.3 * len(active)))):
                rows.append(
                    (
                        cluster_ids[c.cluster_index],
                        str(ids[int(rng.choice(active))]),
                        y,
                        int(rng.integers(0, 365)),
                        0.0,
                    )
                )
    for j, y in enumerate(YEARS):
        exporters = np.flatnonzero(observed[:, j] & (exports[:, j] > 0))
        for _ in range(int(rng.poisson(6))):
            rows.append(
                (None, str(ids[int(rng.choice(exporters))]), int(y), int(rng.integers(0, 365)), 0.0)
            )
    values = np.round(
        np.clip(np.exp(rng.normal(np.log(80_000), 0.75, len(rows))), 20_000, 500_000), 0
    )
    dest = _destinations(rng, own, len(rows))
    dates = [np.datetime64(f"{y}-01-01") + np.timedelta64(d, "D") for _, _, y, d, _ in rows]
    df = pd.DataFrame(
        {
            "cluster_id": [r[0] for r in rows],
            "firm_id": [r[1] for r in rows],
            "order_date": [str(d) for d in dates],
            "value_eur": values,
            "destination_country": dest,
        }
    )
    df = df.sort_values(["order_date", "firm_id", "value_eur"], kind="stable", ignore_index=True)
    year = df["order_date"].str.slice(0, 4).astype("int64")
    seq = df.groupby(year).cumcount() + 1
    df.insert(
        0,
        "order_id",
        [spec.order_id.format(year=int(y), n=int(s)) for y, s in zip(year, seq, strict=True)],
    )
    return df.astype(
        {
            "order_id": "str",
            "cluster_id": "str",
            "firm_id": "str",
            "order_date": "str",
            "destination_country": "str",
        }
    )[CANONICAL["orders"]]


def _truth(key: str, potential: pd.DataFrame) -> pd.DataFrame:
    """Realized effects: mean of Y1 - Y0 over a cohort's firms observed (non-missing) in a year."""
    p = potential[potential["treated"] & ~potential["exports_missing"]]
    y0, y1 = p["exports_eur_y0"].to_numpy(), p["exports_eur_y1"].to_numpy()
    diffs = {
        "exporter": (y1 > 0).astype("float64") - (y0 > 0).astype("float64"),
        "log_exports": np.log1p(y1) - np.log1p(y0),
    }
    frames = []
    for outcome in TRUTH_OUTCOMES:
        d = pd.DataFrame(
            {"cohort": p["cohort"].to_numpy(), "year": p["year"].to_numpy(), "diff": diffs[outcome]}
        )
        g = d.groupby(["cohort", "year"], sort=True)["diff"].agg(["mean", "size"]).reset_index()
        frames.append(
            pd.DataFrame(
                {
                    "region": key,
                    "cohort": g["cohort"].astype("int64"),
                    "year": g["year"].astype("int64"),
                    "event_time": (g["year"] - g["cohort"]).astype("int64"),
                    "outcome": outcome,
                    "att": g["mean"].astype("float64"),
                    "n_firms": g["size"].astype("int64"),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return out.astype({"region": "str", "outcome": "str"})[TRUTH_COLUMNS]


def generate(seed: int = DEFAULT_SEED) -> ExampleLab:
    """Build the six regions' synthetic worlds; identical output for the same ``seed``."""
    regions = tuple(_region(seed, i, spec) for i, spec in enumerate(REGIONS))
    truth = pd.concat([r.truth for r in regions], ignore_index=True)
    return ExampleLab(seed=seed, regions=regions, truth=truth)


# --------------------------------------------------------------------------------------------
# Summaries used by TRUTH.md, README.md and the tests
# --------------------------------------------------------------------------------------------


def baseline_exporter_share(firms: pd.DataFrame, before: int = 2015) -> float:
    """Share of firm-years with exports > 0 among known values in years before ``before``."""
    x = firms.loc[(firms["year"] < before) & firms["exports_eur"].notna(), "exports_eur"]
    return float((x > 0).mean())


def cluster_survival(
    clusters: pd.DataFrame, k: int = SURVIVAL_HORIZON, last_year: int = LAST_YEAR
) -> float:
    """Share still active k years after the seed ended, among clusters whose seed ended >= k
    years before ``last_year``."""
    c = clusters[clusters["seed_end_year"].notna() & (clusters["seed_end_year"] + k <= last_year)]
    if c.empty:
        return float("nan")
    alive = c["closed_year"].isna() | (c["closed_year"] > c["seed_end_year"] + k)
    return float(alive.mean())


def effect_by_event_time(truth: pd.DataFrame, outcome: str, max_e: int = 5) -> pd.Series:
    """Realized effect by event time 0..max_e, cohorts weighted by their firms."""
    t = truth[(truth["outcome"] == outcome) & (truth["event_time"] <= max_e)]
    w = t.assign(wx=t["att"] * t["n_firms"]).groupby("event_time")[["wx", "n_firms"]].sum()
    return (w["wx"] / w["n_firms"]).reindex(range(max_e + 1))


def pre_join_growth_gap(firms: pd.DataFrame, membership: pd.DataFrame) -> float:
    """Members' mean yearly growth of log exports before joining minus never-members' (same years).

    Growth is measured on firm-years exporting in both years; for members only years before
    their first join year count; never-members contribute the same calendar years.
    """
    cohort = membership.groupby("firm_id")["join_year"].min()
    f = firms[["firm_id", "year", "exports_eur"]].sort_values(["firm_id", "year"])
    prev = f.groupby("firm_id")["exports_eur"].shift(1)
    prev_year = f.groupby("firm_id")["year"].shift(1)
    ok = (f["exports_eur"] > 0) & (prev > 0) & (prev_year == f["year"] - 1)
    g = pd.DataFrame(
        {
            "firm_id": f["firm_id"],
            "year": f["year"],
            "growth": np.log(f["exports_eur"].where(ok)) - np.log(prev.where(ok)),
        }
    )[ok]
    g["cohort"] = g["firm_id"].map(cohort)
    members = g[g["cohort"].notna() & (g["year"] < g["cohort"])]
    if members.empty:
        return float("nan")
    never = g[g["cohort"].isna() & g["year"].isin(members["year"].unique())]
    return float(members["growth"].mean() - never["growth"].mean())


# --------------------------------------------------------------------------------------------
# Writing each region's files in its own layout
# --------------------------------------------------------------------------------------------


def _to_local(
    values: pd.Series, years: pd.Series, spec: RegionSpec, layout: FileLayout
) -> pd.Series:
    """EUR -> the file's currency and unit, rounded to 2 decimals of the unit (3 in thousands)."""
    v = values.astype("float64")
    if spec.currency != "EUR":
        v = v * years.map(spec.fx).astype("float64")
    v = v / layout.scale
    return v.round(3 if layout.scale >= 1000 else 2)


def _file_frame(table: pd.DataFrame, spec: RegionSpec, layout: FileLayout) -> pd.DataFrame:
    """The canonical table in file units (local currency, scale), columns renamed and ordered."""
    df = table.copy()
    money = [c for c in layout.columns if c in MONEY]
    if money:
        if "year" in df:
            years = df["year"]
        elif "order_date" in df:
            years = df["order_date"].str.slice(0, 4).astype("int64")
        else:
            years = df["founded_year"]
        for c in money:
            df[c] = _to_local(df[c], years, spec, layout)
    df = df[list(layout.columns)].rename(columns=dict(layout.columns))
    return df


def _format_number(x: float, decimals: int, decimal: str, thousands: str) -> str:
    s = f"{x:,.{decimals}f}" if thousands else f"{x:.{decimals}f}"
    if thousands or decimal != ".":
        s = s.replace(",", "\0").replace(".", decimal).replace("\0", thousands)
    return s


def _csv_text(df: pd.DataFrame, layout: FileLayout, canon: list[str]) -> str:
    cols: dict[str, list[str]] = {}
    for c, src in zip(canon, df.columns, strict=True):
        s = df[src]
        if c in MONEY:
            d = 3 if layout.scale >= 1000 else 2
            cols[src] = [
                "" if pd.isna(v) else _format_number(float(v), d, layout.decimal, layout.thousands)
                for v in s
            ]
        elif c in INTEGERS:
            cols[src] = ["" if pd.isna(v) else str(int(v)) for v in s]
        else:
            cols[src] = ["" if pd.isna(v) else str(v) for v in s]
    sep = layout.delimiter or ","
    out = pd.DataFrame(cols, dtype=object)
    return out.to_csv(sep=sep, index=False, lineterminator="\n")


def _write_csv(path: Path, df: pd.DataFrame, layout: FileLayout, canon: list[str]) -> None:
    path.write_bytes(_csv_text(df, layout, canon).encode(layout.encoding))


def _write_parquet(path: Path, df: pd.DataFrame, canon: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, names = [], []
    for c, src in zip(canon, df.columns, strict=True):
        s = df[src]
        if c in INTEGERS:
            arr = pa.array([None if pd.isna(v) else int(v) for v in s], type=pa.int32())
        elif c in MONEY:
            arr = pa.array([None if pd.isna(v) else float(v) for v in s], type=pa.float64())
        else:
            arr = pa.array([None if pd.isna(v) else str(v) for v in s], type=pa.string())
        arrays.append(arr)
        names.append(src)
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path, compression="snappy")


def _write_xlsx(
    path: Path, sheets: list[tuple[FileLayout, pd.DataFrame, list[str]]], region: RegionSpec
) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    wb.remove(wb.active)
    for layout, df, canon in sheets:
        ws = wb.create_sheet(layout.sheet)
        ws.append([f"{layout.title} (SYNTHETIC EXAMPLE DATA, fictional firms)"])
        ws["A1"].font = Font(bold=True)
        currency = region.currency if any(c in MONEY for c in canon) else ""
        note = f"Amounts in {currency}; blank = unknown." if currency else "Blank = not applicable."
        ws.append([note + " Generated by policylab.examples."])
        ws.append(list(df.columns))
        for cell in ws[3]:
            cell.font = Font(bold=True)
        rows = []
        for c, src in zip(canon, df.columns, strict=True):
            s = df[src]
            if c in INTEGERS:
                rows.append([None if pd.isna(v) else int(v) for v in s])
            elif c in MONEY:
                rows.append([None if pd.isna(v) else float(v) for v in s])
            else:
                rows.append([None if pd.isna(v) else str(v) for v in s])
        for row in zip(*rows, strict=True):
            ws.append(list(row))
    wb.properties.creator = "policylab.examples"
    wb.properties.created = XLSX_TIMESTAMP
    wb.properties.modified = XLSX_TIMESTAMP
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    # Rewrite the zip with fixed member timestamps, so the bytes are stable too.
    out = io.BytesIO()
    stamp = XLSX_TIMESTAMP.timetuple()[:6]
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            dst.writestr(member, src.read(info.filename))
    path.write_bytes(out.getvalue())


def _write_region(root: Path, region: RegionExample) -> None:
    spec = region.spec
    folder = root / spec.key
    folder.mkdir(parents=True, exist_ok=True)
    tables = region.tables()
    books: dict[str, list[tuple[FileLayout, pd.DataFrame, list[str]]]] = {}
    for layout in spec.layout:
        df = _file_frame(tables[layout.table], spec, layout)
        canon = list(layout.columns)
        if layout.format == "csv":
            _write_csv(folder / layout.file, df, layout, canon)
        elif layout.format == "parquet":
            _write_parquet(folder / layout.file, df, canon)
        elif layout.format == "xlsx":
            books.setdefault(layout.file, []).append((layout, df, canon))
        else:  # pragma: no cover - a spec bug
            raise ValueError(f"unknown format of {layout.file}")
    for file, sheets in books.items():
        _write_xlsx(folder / file, sheets, spec)


def write_example_data(data_dir: Path) -> None:
    """Write every region's files in its own layout under ``data_dir/<region>/``, plus
    ``README.md``, ``TRUTH.md`` and ``truth.csv``."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lab = generate()
    for region in lab.regions:
        _write_region(data_dir, region)
    truth = lab.truth.copy()
    truth["att"] = truth["att"].map(lambda v: f"{v:.8f}")
    (data_dir / "truth.csv").write_bytes(
        truth.to_csv(index=False, lineterminator="\n").encode("utf-8")
    )
    (data_dir / "TRUTH.md").write_bytes(_truth_md(lab).encode("utf-8"))
    (data_dir / "README.md").write_bytes(_readme_md(lab).encode("utf-8"))


# --------------------------------------------------------------------------------------------
# README.md and TRUTH.md
# --------------------------------------------------------------------------------------------


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

_TRUTH_GLANCE = """
Survival {k} years after the seed ends counts clusters whose seed ended at least {k} years
before {last}; younger clusters all stay open. The pre-join growth gap is members' mean yearly
growth of log exports before joining minus never-members' in the same years (firm-years
exporting in both years); only Kent's is planted.
"""


def _readme_md(lab: ExampleLab) -> str:
    out = [_README_INTRO.format(k=SURVIVAL_HORIZON).strip("\n"), ""]
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
            how = f"Excel workbook, one sheet per table, header on row {fmt.header_row}"
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
(`policylab/examples.py`). Firm and cluster names are made-up words; any resemblance to a real
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
  about 10 % of firms enter the panel late or leave it early.

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
signature date as YYYY-MM-DD and `destination_country` an ISO 3166-1 alpha-2 code.

## At a glance
"""

_README_END = """
Regenerate with `python -m policylab.examples` (same seed, same files: identical bytes for CSV
and Parquet with the same library versions, identical content for the workbook).
"""


# --------------------------------------------------------------------------------------------
# The lab config
# --------------------------------------------------------------------------------------------


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def example_config_text(data_prefix: str, output_dir: str) -> str:
    """The lab config (TOML) for the example; file paths are ``data_prefix/<region>/<file>``."""
    prefix = data_prefix.rstrip("/") or "."
    # input files must stay under the config's folder unless lab.data_root widens it
    climb = 0
    for part in prefix.split("/"):
        if part != "..":
            break
        climb += 1
    data_root = prefix if prefix.startswith("/") else "/".join([".."] * climb)
    lines = [
        "# policylab lab config: the SYNTHETIC example of six SIE partner regions.",
        "#",
        "# Copy this file as the template for a real lab. Paths are relative to this file. Each",
        "# region's files are mapped into policylab's canonical tables: each",
        "# [regions.files.<table>] says how the file is read (delimiter, decimal, thousands,",
        "# encoding, sheet, header_row, scale) and its [regions.files.<table>.columns] which",
        "# file column holds each canonical column (canonical name = name in the file).",
        "# Money is converted to EUR with the yearly 'fx' rates (local currency units per EUR).",
        "# The rates below are APPROXIMATE annual averages, for the example only. What is",
        "# planted in the synthetic data (the truth to recover) is described in the example",
        "# data's TRUTH.md, next to its README.md.",
        "",
        "[lab]",
        f"name = {_toml_str('SIE policy lab (synthetic example)')}",
        "description = "
        + _toml_str(
            "Export consortia in six SIE partner regions, 2012-2023 (SYNTHETIC data; "
            "planted effects in TRUTH.md)"
        ),
        f"output_dir = {_toml_str(output_dir)}",
        *(["# input files are read only from under this folder (relative to this file)",
            f"data_root = {_toml_str(data_root)}"] if data_root else []),
        "min_cell_firms = 5",
        f"first_year = {FIRST_YEAR}",
        f"last_year = {LAST_YEAR}",
        "",
        "[estimation]",
        "# exporter: 1 if the firm exports (effect in share points); log_exports: log(1 + EUR);",
        "# exports_eur: EUR in levels (its estimate feeds I19, public cost per EUR of extra exports)",
        'outcomes = ["exporter", "log_exports", "exports_eur"]',
        "# the first method gives the headline number; the others are shown beside it",
        'methods = ["callaway_santanna", "event_study"]',
        'control_group = "never_treated"  # or "not_yet_treated"',
        "leads = 4",
        "lags = 5",
        'cluster = "consortium"  # cluster standard errors by consortium (where treatment is set)',
        "# below this many consortia with members, headline intervals and p-values come from the",
        "# wild cluster restricted bootstrap (analytic ones are too narrow; studies/COVERAGE.md)",
        "few_cluster_threshold = 30",
        "# bootstrap draws to start from; more are added until each bound's Monte Carlo error is",
        "# at most bootstrap_mc_target of the interval's width, so a changed seed barely moves it",
        "# (benchmarks/SEED_STABILITY.md; 0 = exactly bootstrap_draws)",
        "bootstrap_draws = 999",
        "bootstrap_mc_target = 0.003",
        "seed = 0",
    ]
    for spec in REGIONS:
        bar = f"# --- {spec.name} ({spec.nuts2}) "
        lines += ["", "", bar + "-" * max(3, 96 - len(bar))]
        lines += [f"# {note}" for note in spec.notes]
        lines += [
            "[[regions]]",
            f"key = {_toml_str(spec.key)}",
            f"name = {_toml_str(spec.name)}",
            f"nuts2 = {_toml_str(spec.nuts2)}",
            f"country = {_toml_str(spec.country)}",
            f"programme = {_toml_str(spec.programme)}",
            f"currency = {_toml_str(spec.currency)}",
        ]
        if spec.currency != "EUR":
            lines += ["", f"[regions.fx]  # {spec.currency} per EUR, approximate annual averages"]
            lines += [f"{y} = {_toml_num(v)}" for y, v in spec.fx.items()]
        for layout in spec.layout:
            lines += [
                "",
                f"[regions.files.{layout.table}]",
                f"path = {_toml_str(f'{prefix}/{spec.key}/{layout.file}')}",
            ]
            if layout.format == "csv":
                lines.append(f"delimiter = {_toml_str(layout.delimiter or ',')}")
                if layout.decimal != ".":
                    lines.append(f"decimal = {_toml_str(layout.decimal)}")
                if layout.thousands:
                    lines.append(f"thousands = {_toml_str(layout.thousands)}")
                if layout.encoding != "utf-8":
                    lines.append(f"encoding = {_toml_str(layout.encoding)}")
            if layout.sheet is not None:
                lines.append(f"sheet = {_toml_str(layout.sheet)}")
            if layout.header_row != 1:
                lines.append(f"header_row = {layout.header_row}")
            if layout.scale != 1.0 and any(c in MONEY for c in layout.columns):
                lines.append(f"scale = {_toml_num(layout.scale)}  # money in thousands")
            lines += [f"[regions.files.{layout.table}.columns]"]
            width = max(len(c) for c in layout.columns)
            lines += [f"{c.ljust(width)} = {_toml_str(src)}" for c, src in layout.columns.items()]
    return "\n".join(lines) + "\n"


def example_files() -> list[str]:
    """The files :func:`write_example` writes, relative to its folder."""
    files = [f"{spec.key}/{layout.file}" for spec in REGIONS for layout in spec.layout]
    return list(dict.fromkeys([*files, "truth.csv", "TRUTH.md", "README.md", "example.toml"]))


def write_example(dest: Path, *, force: bool = False) -> Path:
    """Write the example data into ``dest`` and ``dest/example.toml``; return the config's path.

    Raises :class:`~policylab.errors.UserError` when ``dest`` already holds a file of the
    example (a config the user edited, say), unless ``force``.
    """
    from .errors import UserError

    dest = Path(dest)
    if not force:
        existing = sorted((f for f in example_files() if (dest / f).exists()), key=lambda f: f != "example.toml")
        if existing:
            shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
            raise UserError(f"{dest}: already holds files the example would overwrite ({shown}); "
                            "choose an empty folder, or pass --force to overwrite them")
    write_example_data(dest)
    config = dest / "example.toml"
    config.write_bytes(example_config_text(".", "reports").encode("utf-8"))
    return config


def main() -> None:
    """Regenerate the committed copy: ``data/example/`` and ``configs/example.toml``."""
    root = Path(__file__).resolve().parent.parent
    write_example_data(root / "data" / "example")
    (root / "configs").mkdir(exist_ok=True)
    (root / "configs" / "example.toml").write_bytes(
        example_config_text("../data/example", "../reports").encode("utf-8")
    )
    print(f"wrote {Path('data') / 'example'} and {Path('configs') / 'example.toml'}")


if __name__ == "__main__":
    main()
