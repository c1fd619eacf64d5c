"""The single ``Definitions`` of the code location."""

import os

import dagster as dg

from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.alteracoes import alteracoes_recentes
from licitacao_pipeline.defs.contrato_sob_demanda import sincronizar_contrato
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.exportacao import exportar_contratos
from licitacao_pipeline.defs.importacao import importar_acompanhamento
from licitacao_pipeline.defs.jobs import sincronizacao_completa, sincronizar_contratos
from licitacao_pipeline.defs.limpeza import limpeza
from licitacao_pipeline.defs.portal import (
    atualizacao_portal,
    portal_assets,
    verificacao_saude,
    verificar_saude,
)
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.defs.schedules import build_schedules
from licitacao_pipeline.defs.sensors import abas_seguem_contratos, alerta_falhas, alertas_pendentes


def _from_env(**fields: str) -> dict[str, dg.EnvVar]:
    """Resource fields bound to env vars that are set; unset ones keep the field default."""
    return {field: dg.EnvVar(var) for field, var in fields.items() if os.environ.get(var)}


def _max_rps() -> dict[str, float]:
    """``COMPRASNET_MAX_RPS``: requests per second per run toward ComprasNet (unset: no cap)."""
    raw = os.environ.get("COMPRASNET_MAX_RPS", "").strip()
    if not raw:
        return {}
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ValueError(f"COMPRASNET_MAX_RPS={raw!r}: expected a positive number of requests/s")
    return {"max_rps": value}


defs = dg.Definitions(
    assets=[contratos, contratos_abas, *portal_assets, alteracoes_recentes],
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
        "comprasnet": ComprasNetResource(**_from_env(base_url="COMPRASNET_BASE_URL"), **_max_rps()),
        "warehouse": WarehouseResource(**_from_env(database_url="DATABASE_URL")),
    },
)
