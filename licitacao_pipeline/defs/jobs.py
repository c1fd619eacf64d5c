"""Jobs over the UASG assets: the daytime sync and the nightly full sync."""

import dagster as dg

from licitacao_pipeline.defs.abas import ABA_KEYS

TAGS_AGENDADA = {
    "dagster/priority": "0",
    "dagster/max_runtime": "3600",
    "licitacao/tipo": "agendada",
}
TAGS_COMPLETA = {
    "dagster/priority": "-10",
    "dagster/max_runtime": "14400",
    "licitacao/tipo": "completa",
}

sincronizar_contratos = dg.define_asset_job(
    "sincronizar_contratos",
    selection=dg.AssetSelection.assets("contratos"),
    tags=TAGS_AGENDADA,
    description="Daily sync of one UASG's listing; its tabs follow through automation.",
)

sincronizacao_completa = dg.define_asset_job(
    "sincronizacao_completa",
    selection=dg.AssetSelection.assets("contratos", *ABA_KEYS.values()),
    tags=TAGS_COMPLETA,
    config={"ops": {"contratos_abas": {"config": {"completa": True}}}},
    description="Full sync of one UASG: listing and every tab of every contract.",
)
