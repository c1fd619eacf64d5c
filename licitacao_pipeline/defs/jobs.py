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
        "Sincronização de uma UASG em um run: a listagem, depois as abas devidas (novas, alteradas "
        "ou com mais de 24 h), as mais antigas primeiro, dentro do orçamento do run."
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
    description=(
        "Sincronização completa de uma UASG: a listagem e todas as abas de todos os contratos."
    ),
)
