"""The single ``Definitions`` of the code location."""

import os

import dagster as dg

from licitacao_pipeline.assets.contratos import contratos
from licitacao_pipeline.assets.tabs import contratos_abas
from licitacao_pipeline.jobs import sync_contrato
from licitacao_pipeline.resources import ComprasNetResource, WarehouseResource


def _from_env(**fields: str) -> dict[str, dg.EnvVar]:
    """Resource fields bound to env vars that are set; unset ones keep the field default."""
    return {field: dg.EnvVar(var) for field, var in fields.items() if os.environ.get(var)}


defs = dg.Definitions(
    assets=[contratos, contratos_abas],
    jobs=[sync_contrato],
    resources={
        "comprasnet": ComprasNetResource(**_from_env(base_url="COMPRASNET_BASE_URL")),
        "warehouse": WarehouseResource(**_from_env(database_url="DATABASE_URL")),
    },
)
