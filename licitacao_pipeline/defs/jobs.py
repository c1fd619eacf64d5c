"""Jobs over the UASG assets: the daytime sync and the full sync, each one run per UASG with the
listing and the tabs.

``licitacao/tipo`` says who asked: ``sob_demanda`` (a person: UI, CLI, API), ``agendada`` (the
daytime schedule sets it on its runs), ``completa`` (every full sync), ``automatica`` (the tabs
that follow a listing materialized alone).
"""

import dagster as dg

from licitacao_pipeline import names
from licitacao_pipeline.defs.abas import ABA_KEYS, CONTRATOS_KEY

sincronizar_contratos = dg.define_asset_job(
    names.JOB_SINCRONIZAR,
    selection=dg.AssetSelection.assets(CONTRATOS_KEY, *ABA_KEYS.values()),
    tags=names.run_tags("sob_demanda"),
    description=(
        "Sync of one UASG in one run: the listing, then the tabs that are due (new, changed or "
        "older than 24 h), oldest first, within the run's budget."
    ),
)

sincronizacao_completa = dg.define_asset_job(
    names.JOB_COMPLETA,
    selection=dg.AssetSelection.assets(CONTRATOS_KEY, *ABA_KEYS.values()),
    tags=names.run_tags("completa"),
    # What the Launchpad shows; every run of this job takes every tab anyway (the tab asset
    # looks at the job's name), also one launched through GraphQL with an empty config, which
    # gets no job config defaults.
    config={"ops": {names.OP_ABAS: {"config": {"completa": True}}}},
    description="Full sync of one UASG: listing and every tab of every contract.",
)
