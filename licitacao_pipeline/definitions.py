"""The single ``Definitions`` of the code location."""

import dagster as dg

from licitacao_pipeline import settings
from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.alteracoes import alteracoes_recentes
from licitacao_pipeline.defs.contrato_sob_demanda import sincronizar_contrato
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.exportacao import exportar_contratos
from licitacao_pipeline.defs.garantias import garantias_a_vencer
from licitacao_pipeline.defs.importacao import importar_acompanhamento
from licitacao_pipeline.defs.jobs import sincronizacao_completa, sincronizar_contratos
from licitacao_pipeline.defs.limpeza import limpeza
from licitacao_pipeline.defs.portal import atualizacao_portal, portal_assets
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.defs.saude import verificacao_saude, verificar_saude
from licitacao_pipeline.defs.schedules import build_schedules
from licitacao_pipeline.defs.sensors import abas_seguem_contratos, alerta_falhas, alertas_pendentes
from licitacao_pipeline.defs.sinais import sinais_de_alerta

SETTINGS = settings.load()


def _comprasnet() -> ComprasNetResource:
    """The API resource: base URL and the request budget shared by every run (in the
    warehouse) from the settings; the rest its defaults."""
    fields: dict = {
        "max_rps": SETTINGS.comprasnet_max_rps,
        "rajada": SETTINGS.comprasnet_rajada,
        "orcamento_compartilhado": True,
    }
    if SETTINGS.comprasnet_base_url:
        fields["base_url"] = SETTINGS.comprasnet_base_url
    if SETTINGS.database_url:  # an EnvVar: the URL holds a password
        fields["orcamento_database_url"] = dg.EnvVar("DATABASE_URL")
    return ComprasNetResource(**fields)


# A bad tab cadence or tab list fails the load, naming its variable.
SETTINGS.cadencia()
SETTINGS.abas()


defs = dg.Definitions(
    assets=[
        contratos,
        contratos_abas,
        *portal_assets,
        garantias_a_vencer,
        alteracoes_recentes,
        sinais_de_alerta,
    ],
    # One process per run: steps share it sequentially (the parallelism is inside the steps and
    # across UASG runs), which saves a Python start per step and keeps memory predictable.
    executor=dg.in_process_executor,
    jobs=[
        sincronizar_contratos,
        sincronizacao_completa,
        sincronizar_contrato,
        limpeza,
        verificar_saude,
        exportar_contratos,
        importar_acompanhamento,
    ],
    schedules=[*build_schedules(), verificacao_saude],
    sensors=[abas_seguem_contratos, alerta_falhas, alertas_pendentes, atualizacao_portal],
    resources={
        "comprasnet": _comprasnet(),
        # an EnvVar, not the value: the URL holds a password, and the UI shows resource config
        "warehouse": WarehouseResource(
            **({"database_url": dg.EnvVar("DATABASE_URL")} if SETTINGS.database_url else {})
        ),
    },
)
