"""The six regions of the example: size, planted effects and each file's local layout.

The layouts are what the example config (:mod:`.config_text`) tells ingestion; the notes become
that config's comments.
"""

from __future__ import annotations

from .spec import Effects, FileLayout, OtherHalf, RegionSpec


def _cols(pairs: str) -> dict[str, str]:
    """``"canonical=file column; ..."`` -> ordered mapping (file column names may have spaces)."""
    out: dict[str, str] = {}
    for pair in pairs.split(";"):
        if pair.strip():
            canonical, column = pair.split("=", 1)
            out[canonical.strip()] = column.strip()
    return out


def _labels(**columns: str) -> dict[str, dict[str, str]]:
    """``column="label=value; ..."`` -> the config's ``values`` (the file's label -> canonical)."""
    return {c: _cols(pairs) for c, pairs in columns.items()}


# The barriers' planted mean ratings (1-5), in the order size, finance, information,
# regulation, language, partners.
def _barriers(*means: float) -> dict[str, float]:
    keys = ("size", "finance", "information", "regulation", "language", "partners")
    return dict(zip(keys, means, strict=True))


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
            "order_date=fecha_firma; value_eur=importe; destination_country=pais_destino;"
            "partner_region=región_socia"), **_ES),
        FileLayout("survey", "encuesta_pymes.csv", _cols(
            "firm_id=id_empresa; wave=oleada; responded=respondió; cluster_id=id_consorcio;"
            "satisfaction=satisfacción; intends_to_stay=intención_permanencia;"
            "barrier_size=barrera_tamaño; barrier_finance=barrera_financiación;"
            "barrier_information=barrera_información; barrier_regulation=barrera_regulación;"
            "barrier_language=barrera_idioma; barrier_partners=barrera_socios;"
            "comment=comentario"), **_ES,
            values=_labels(responded="sí=yes; no=no",
                           intends_to_stay="sí=yes; no sabe=unsure; no=no")),
        FileLayout("partnerships", "enlaces_interregionales.csv", _cols(
            "link_id=id_enlace; year=año; partner_region=región_socia; link_type=tipo_enlace;"
            "cluster_id=id_consorcio; n_firms=num_empresas"), **_ES,
            values=_labels(link_type="misión conjunta=joint_mission;"
                           "consorcio interregional=cross_regional_consortium;"
                           "gerente compartido=shared_manager; otro=other")),
        FileLayout("practices", "buenas_practicas.csv", _cols(
            "practice_id=id_práctica; practice=práctica; origin_region=región_origen;"
            "adopting_region=región_adoptante; stage=fase; stage_date=fecha_fase;"
            "budget_eur=presupuesto; notes=notas"), **_ES,
            values=_labels(stage="estudiada=studied; adaptada=adapted; piloto=piloted;"
                           "adoptada=adopted; abandonada=dropped")),
    ),
    notes=(
        "Spanish CSV export: ';' between fields and a decimal comma (1234,56); UTF-8.",
        "Money in EUR. A blank 'exportaciones' is unknown; 0 means the firm did not export.",
        "Panel survey, links and practices in Spanish labels (sí / no sabe / no, misión",
        "conjunta, estudiada ...), recoded by each file's 'values'.",
    ),
    other_half=OtherHalf(
        panel_members=26, panel_never=6, response_rate=0.80,
        barriers=_barriers(2.6, 2.9, 4.0, 2.3, 3.0, 2.8), cross_share=0.10,
        link_id="ENL-{year}-{n:02d}", practice_id="BP-{n:02d}"),
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
            "destination_country=kraj_docelowy; partner_region=region_partnerski"), **_PL_MONEY),
        FileLayout("survey", "ankieta_msp.csv", _cols(
            "firm_id=id_firmy; wave=rok_badania; responded=odpowiedź; cluster_id=id_klastra;"
            "satisfaction=zadowolenie; intends_to_stay=zamiar_pozostania;"
            "barrier_size=bariera_wielkość; barrier_finance=bariera_finansowanie;"
            "barrier_information=bariera_informacja; barrier_regulation=bariera_przepisy;"
            "barrier_language=bariera_język; barrier_partners=bariera_partnerzy;"
            "comment=komentarz"), **_PL,
            values=_labels(responded="tak=yes; nie=no",
                           intends_to_stay="tak=yes; nie wiem=unsure; nie=no")),
        FileLayout("partnerships", "wspolpraca_miedzyregionalna.csv", _cols(
            "link_id=id_powiązania; year=rok; partner_region=region_partnerski;"
            "link_type=rodzaj_powiązania; cluster_id=id_klastra; n_firms=liczba_firm"), **_PL,
            values=_labels(link_type="misja wspólna=joint_mission;"
                           "konsorcjum międzyregionalne=cross_regional_consortium;"
                           "wspólny menedżer=shared_manager; inne=other")),
        FileLayout("practices", "dobre_praktyki.csv", _cols(
            "practice_id=id_praktyki; practice=praktyka; origin_region=region_pochodzenia;"
            "adopting_region=region_przyjmujący; stage=etap; stage_date=data_etapu;"
            "budget_eur=budżet_tys_zl; notes=uwagi"), **_PL_MONEY,
            values=_labels(stage="analiza=studied; dostosowanie=adapted; pilotaż=piloted;"
                           "wdrożenie=adopted; rezygnacja=dropped")),
    ),
    notes=(
        "Polish CSV: ',' between fields, decimal point, UTF-8 column names with diacritics.",
        "Money in THOUSANDS of PLN (scale = 1000), converted to EUR at the yearly rates in 'fx'.",
        "Firm ids are numbers written as text; no export-market counts in this region.",
        "Panel survey, links and practices in Polish labels (tak / nie wiem / nie, misja",
        "wspólna, analiza ...); free text with commas is quoted.",
    ),
    other_half=OtherHalf(
        panel_members=30, panel_never=8, response_rate=0.70,
        barriers=_barriers(2.8, 3.0, 3.1, 2.4, 2.9, 4.0), cross_share=0.08,
        link_id="WSP/{year}/{n:02d}", practice_id="DP/{n:02d}"),
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
            "order_date=Date signed; value_eur=Value (GBP); destination_country=Destination;"
            "partner_region=Partner region"),
            sheet="Orders", header_row=3, title="Kent export clusters: export orders"),
        FileLayout("partnerships", _KENT_BOOK, _cols(
            "link_id=Link ref; year=Year; partner_region=Partner region; link_type=Link type;"
            "cluster_id=Cluster ref; n_firms=Firms taking part"),
            sheet="Links", header_row=3, title="Kent export clusters: cross-regional links",
            values=_labels(link_type="Joint trade mission=joint_mission;"
                           "Cross-regional consortium=cross_regional_consortium;"
                           "Shared cluster manager=shared_manager; Other=other")),
        FileLayout("practices", _KENT_BOOK, _cols(
            "practice_id=Practice ref; practice=Practice; origin_region=Origin region;"
            "adopting_region=Adopting region; stage=Stage; stage_date=Date;"
            "budget_eur=Budget (GBP); notes=Notes"),
            sheet="Practices", header_row=3, title="Kent export clusters: practice transfer log",
            values=_labels(stage="Studied=studied; Adapted=adapted; Piloted=piloted;"
                           "Adopted=adopted; Dropped=dropped")),
        FileLayout("survey", "kent_sme_panel.xlsx", _cols(
            "firm_id=Company ref; wave=Wave; responded=Responded; cluster_id=Cluster ref;"
            "satisfaction=Satisfaction (1-5); intends_to_stay=Intends to stay;"
            "barrier_size=Barrier: size; barrier_finance=Barrier: finance;"
            "barrier_information=Barrier: market information;"
            "barrier_regulation=Barrier: regulation; barrier_language=Barrier: language;"
            "barrier_partners=Barrier: finding partners; comment=Comments"),
            sheet="Responses", header_row=3, title="Kent SME panel: responses by wave",
            values=_labels(responded="Y=yes; N=no",
                           intends_to_stay="Yes=yes; Not sure=unsure; No=no")),
    ),
    notes=(
        "One Excel workbook, one sheet per table; a title line and a note line sit above the",
        "header, so the header is on row 3. Money in GBP, converted at the yearly rates in 'fx'.",
        "The SME panel is a workbook of its own (kent_sme_panel.xlsx); Y / N and capitalised",
        "labels are recoded by 'values'.",
    ),
    other_half=OtherHalf(
        panel_members=26, panel_never=6, response_rate=0.55,
        barriers=_barriers(2.7, 2.6, 2.9, 3.6, 2.2, 2.8), cross_share=0.12,
        link_id="LNK{year}{n:02d}", practice_id="GP{n:02d}",
        barrier_shift=("regulation", 2021, 0.9)),
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
            "order_date=date_signature; value_eur=montant; destination_country=pays_destination;"
            "partner_region=région_partenaire"), **_FR),
        FileLayout("survey", "enquete_pme.csv", _cols(
            "firm_id=id_entreprise; wave=vague; responded=a_répondu; cluster_id=id_groupement;"
            "satisfaction=satisfaction; intends_to_stay=intention_de_rester;"
            "barrier_size=frein_taille; barrier_finance=frein_financement;"
            "barrier_information=frein_information; barrier_regulation=frein_réglementation;"
            "barrier_language=frein_langue; barrier_partners=frein_partenaires;"
            "comment=commentaire"), **_FR,
            values=_labels(responded="oui=yes; non=no",
                           intends_to_stay="oui=yes; ne sait pas=unsure; non=no")),
        FileLayout("partnerships", "liens_interregionaux.csv", _cols(
            "link_id=id_lien; year=année; partner_region=région_partenaire;"
            "link_type=type_de_lien; cluster_id=id_groupement; n_firms=nb_entreprises"), **_FR,
            values=_labels(link_type="mission collective=joint_mission;"
                           "consortium interrégional=cross_regional_consortium;"
                           "animateur partagé=shared_manager; autre=other")),
        FileLayout("practices", "transfert_pratiques.csv", _cols(
            "practice_id=id_pratique; practice=pratique; origin_region=région_origine;"
            "adopting_region=région_adoptante; stage=étape; stage_date=date_étape;"
            "budget_eur=budget; notes=notes"), **_FR,
            values=_labels(stage="étudiée=studied; adaptée=adapted; expérimentée=piloted;"
                           "adoptée=adopted; abandonnée=dropped")),
    ),
    notes=(
        "French CSV in Latin-1 (not UTF-8): accented column names such as 'année'.",
        "';' between fields, decimal comma and a space as thousands separator (1 234 567,89).",
        "Panel survey, links and practices in French labels (oui / ne sait pas / non, mission",
        "collective, étudiée ...), recoded by each file's 'values'.",
    ),
    other_half=OtherHalf(
        panel_members=28, panel_never=6, response_rate=0.65,
        barriers=_barriers(4.0, 3.0, 2.8, 2.6, 2.9, 2.7), cross_share=0.14,
        link_id="LIEN-{year}-{n:02d}", practice_id="BP{n:03d}"),
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
            "order_date=datum_podpisu; value_eur=hodnota_kč; destination_country=země_určení;"
            "partner_region=partnerský_region"), **_CS),
        FileLayout("survey", "dotaznik_msp.csv", _cols(
            "firm_id=ičo; wave=vlna; responded=odpověděl; cluster_id=id_klastru;"
            "satisfaction=spokojenost; intends_to_stay=setrvání;"
            "barrier_size=bariéra_velikost; barrier_finance=bariéra_financování;"
            "barrier_information=bariéra_informace; barrier_regulation=bariéra_předpisy;"
            "barrier_language=bariéra_jazyk; barrier_partners=bariéra_partneři;"
            "comment=komentář"), **_CS,
            values=_labels(responded="ano=yes; ne=no",
                           intends_to_stay="ano=yes; neví=unsure; ne=no")),
        FileLayout("partnerships", "meziregionalni_vazby.csv", _cols(
            "link_id=id_vazby; year=rok; partner_region=partnerský_region; link_type=typ_vazby;"
            "cluster_id=id_klastru; n_firms=počet_firem"), **_CS,
            values=_labels(link_type="společná mise=joint_mission;"
                           "meziregionální konsorcium=cross_regional_consortium;"
                           "sdílený manažer=shared_manager; jiné=other")),
        FileLayout("practices", "prenos_praxe.csv", _cols(
            "practice_id=id_praxe; practice=praxe; origin_region=region_původu;"
            "adopting_region=přejímající_region; stage=fáze; stage_date=datum_fáze;"
            "budget_eur=rozpočet_kč; notes=poznámka"), **_CS,
            values=_labels(stage="studována=studied; upravena=adapted; pilotována=piloted;"
                           "zavedena=adopted; ukončena=dropped")),
    ),
    notes=(
        "Czech CSV: ';' between fields, decimal comma, UTF-8 column names with diacritics.",
        "Money in CZK. Firm ids (IČO-like) have LEADING ZEROS ('004217'): keep them as text.",
        "No export-market counts in this region.",
        "Panel survey, links and practices in Czech labels (ano / neví / ne, společná mise,",
        "studována ...), recoded by each file's 'values'.",
    ),
    other_half=OtherHalf(
        panel_members=22, panel_never=5, response_rate=0.85,
        barriers=_barriers(2.7, 2.8, 3.0, 2.5, 4.0, 3.1), cross_share=0.06,
        link_id="VAZ{year}-{n:02d}", practice_id="DP-{n:02d}"),
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
            "order_date=data_ordine; value_eur=importo; destination_country=paese_destinazione;"
            "partner_region=regione_partner")),
        FileLayout("survey", "indagine_pmi.parquet", _cols(
            "firm_id=codice_impresa; wave=anno_indagine; responded=ha_risposto;"
            "cluster_id=codice_consorzio; satisfaction=soddisfazione;"
            "intends_to_stay=intende_restare; barrier_size=ostacolo_dimensione;"
            "barrier_finance=ostacolo_finanza; barrier_information=ostacolo_informazione;"
            "barrier_regulation=ostacolo_normativa; barrier_language=ostacolo_lingua;"
            "barrier_partners=ostacolo_partner; comment=commento"),
            values=_labels(responded="sì=yes; no=no",
                           intends_to_stay="sì=yes; incerto=unsure; no=no")),
        FileLayout("partnerships", "collaborazioni_interregionali.parquet", _cols(
            "link_id=codice_collegamento; year=anno; partner_region=regione_partner;"
            "link_type=tipo_collegamento; cluster_id=codice_consorzio; n_firms=num_imprese"),
            values=_labels(link_type="missione congiunta=joint_mission;"
                           "consorzio interregionale=cross_regional_consortium;"
                           "manager condiviso=shared_manager; altro=other")),
        FileLayout("practices", "buone_pratiche.parquet", _cols(
            "practice_id=codice_pratica; practice=pratica; origin_region=regione_origine;"
            "adopting_region=regione_adottante; stage=fase; stage_date=data_fase;"
            "budget_eur=importo; notes=note"),
            values=_labels(stage="studiata=studied; adattata=adapted; sperimentata=piloted;"
                           "adottata=adopted; abbandonata=dropped")),
    ),
    notes=(
        "Parquet files with Italian column names; money in EUR; blanks are Parquet nulls.",
        "Panel survey, links and practices in Italian labels (sì / incerto / no, missione",
        "congiunta, studiata ...), recoded by each file's 'values'.",
    ),
    other_half=OtherHalf(
        panel_members=24, panel_never=6, response_rate=0.60,
        barriers=_barriers(3.3, 4.2, 2.9, 2.8, 2.6, 3.0), cross_share=0.05,
        link_id="COL{year}{n:02d}", practice_id="BP{n:02d}"),
)

# fmt: on

REGIONS: tuple[RegionSpec, ...] = (_CANTABRIA, _KUJAWSKO, _KENT, _AQUITAINE, _USTI, _MOLISE)
