"""Jobs over the UASG assets: the daytime sync and the nightly full sync, each one run per UASG
with the listing and the tabs (the tab automation is only for a listing materialized alone)."""

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
    selection=dg.AssetSelection.assets("contratos", *ABA_KEYS.values()),
    tags=TAGS_AGENDADA,
    description=(
        "Sync of one UASG in one run: the listing, then the tabs that are due (new, changed or "
        "older than 24 h), oldest first, within the run's budget."
    ),
)

sincronizacao_completa = dg.define_asset_job(
    "sincronizacao_completa",
    selection=dg.AssetSelection.assets("contratos", *ABA_KEYS.values()),
    tags=TAGS_COMPLETA,
    config={"ops": {"contratos_abas": {"config": {"completa": True}}}},
    description="Full sync of one UASG: listing and every tab of every contract.",
)
