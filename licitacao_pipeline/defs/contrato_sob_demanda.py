"""Job ``sincronizar_contrato``: on-demand refresh of one contract's chosen tabs.

Partitioned by UASG, so the per-UASG run limit covers it too: pick the contract's UASG as the
partition. It records observations of the tab assets, not materializations: no partition is
claimed as synced.
"""

import time

import dagster as dg

from licitacao_pipeline import names
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.abas import ABA_KEYS
from licitacao_pipeline.defs.contratos import tag_unidade, textos_metadata
from licitacao_pipeline.defs.partitions import uasg_partitions
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows.contrato import escolher_abas, sync_contrato
from licitacao_pipeline.flows.contratos import Janela
from licitacao_pipeline.relogio import local_today
from licitacao_pipeline.warehouse.unidades import nome as nome_da_unidade


class SincronizarContratoConfig(dg.Config):
    contrato_id: int
    """O id do contrato no ComprasNet (o campo ``id``, p. ex. 78701000001)."""
    abas: list[str] = list(ABAS)
    """Quais abas atualizar: quaisquer de historico, empenhos, itens, arquivos."""
    vigencia_janela_dias: int | None = 730
    """Como em ``contratos``: um contrato cuja vigência terminou há mais tempo não é acompanhado."""


@dg.op(
    name=names.OP_CONTRATO,
    pool=names.POOL_COMPRASNET,
    description="Busca um contrato de novo e atualiza só as abas escolhidas.",
)
def sincronizar_abas_do_contrato(
    context: dg.OpExecutionContext,
    config: SincronizarContratoConfig,
    comprasnet: ComprasNetResource,
    warehouse: WarehouseResource,
) -> dg.Output[dict]:
    started, cid, uasg = time.monotonic(), config.contrato_id, context.partition_key
    client, engine = comprasnet.client, warehouse.get_engine()
    with transient_only(context):
        abas = escolher_abas(config.abas)
        tag_unidade(context, nome_da_unidade(engine, uasg))
        result = sync_contrato(
            client,
            engine,
            cid,
            uasg,
            abas,
            janela=Janela(local_today(), config.vigencia_janela_dias),
            run_id=context.run.run_id,
            logger=context.log,
        )
    for observation in observacoes(result, cid, uasg):
        context.log_event(observation)
    if failures := result.falhas():
        raise dg.Failure(f"contrato {cid}: abas falharam após novas tentativas: {failures}")
    summary = result.resumo(cid, uasg)
    context.log.info(f"contrato {cid}: atualizadas {', '.join(abas)}: {summary}")
    textos = {
        f"{kind}_{k}": v
        for kind in ("contratos", *abas)
        for k, v in textos_metadata(context, client, kind).items()
        if v
    }
    return dg.Output(
        summary,
        metadata={
            **summary,
            "abas": abas,
            "requisicoes": client.stats.snapshot()["requests"],
            "duracao_s": round(time.monotonic() - started, 3),
            **textos,
        },
    )


def observacoes(result, cid: int, uasg: str) -> list[dg.AssetObservation]:
    """One observation per refreshed tab: no partition is claimed as materialized."""
    return [
        dg.AssetObservation(
            asset_key=ABA_KEYS[aba],
            partition=uasg,
            metadata={
                "contrato_id": cid,
                "sob_demanda": True,
                **t.linhas_metadata(),
                "amostras_falhas": t.amostras_falhas,
            },
        )
        for aba, t in result.abas.totals.items()
    ]


@dg.job(
    name=names.JOB_CONTRATO,
    partitions_def=uasg_partitions,
    tags=names.run_tags("contrato"),
    description=(
        "Atualização sob demanda das abas de um contrato. Escolha a UASG do contrato como partição."
    ),
)
def sincronizar_contrato():
    sincronizar_abas_do_contrato()
