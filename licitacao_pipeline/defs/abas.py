"""Assets ``contratos_historico``, ``_empenhos``, ``_itens`` and ``_arquivos``: the tabs (abas).

One subsettable multi-asset, so a run shares one bounded worker pool across the selected tabs.
Thin: the use case ``flows.abas_uasg`` reads the queue of due contracts (oldest sync first,
every due tab of a contract together) and syncs them; here its result becomes metadata. A run
ends cleanly on its budget (``max_contratos``, ``max_minutos``, and by default a little before
the run's ``dagster/max_runtime``), reporting the backlog left per tab.
"""

import time

import dagster as dg

from licitacao_pipeline import names, settings
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.contratos import contratos, tag_unidade, textos_metadata
from licitacao_pipeline.defs.parada import parada_com_resumo
from licitacao_pipeline.defs.partitions import uasg_partitions
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows.abas import AbasResult, Limites
from licitacao_pipeline.flows.abas_uasg import (
    AbasDaUasg,
    Janela,
    falha_da_execucao,
    resumo_da_parada,
    sincronizar_uasg,
)

ABA_KEYS = {aba: dg.AssetKey(names.aba_asset(aba)) for aba in ABAS}
CONTRATOS_KEY = dg.AssetKey(names.CONTRATOS)


class AbasConfig(dg.Config):
    completa: bool = False
    """Buscar todas as abas de todos os contratos, devidas ou não (a sincronização completa
    noturna)."""
    validade_horas: float | None = None
    """Horas depois das quais uma aba sincronizada é buscada de novo, mesmo sem mudança no
    contrato, para todas as abas; sem valor: a cadência de cada aba (LICITACAO_CADENCIA_ABAS,
    padrão 24 h para historico, empenhos e faturas, 168 h para as outras)."""
    max_taxa_falhas: float = 0.5
    """Falhar o run (depois de gravar os sucessos) quando falhar uma fração de abas maior que
    esta."""
    max_contratos: int | None = None
    """Orçamento: iniciar no máximo este número de contratos neste run (o resto fica para o
    próximo)."""
    max_minutos: float | None = None
    """Orçamento: não iniciar contrato depois destes minutos. Por padrão o run também para de
    iniciar contratos pouco antes do seu dagster/max_runtime, para terminar em ordem."""


def deadline(context: dg.AssetExecutionContext, max_minutos: float | None) -> float | None:
    """``time.monotonic()`` instant after which no contract is started, or None."""
    limits = []
    if max_minutos is not None:
        limits.append(max_minutos * 60)
    max_runtime = context.run.tags.get(names.MAX_RUNTIME_TAG)
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if max_runtime and record and record.start_time:
        elapsed = time.time() - record.start_time
        margin = max(60.0, 0.1 * float(max_runtime))  # time to drain, write and report
        limits.append(float(max_runtime) - elapsed - margin)
    return time.monotonic() + max(0.0, min(limits)) if limits else None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            deps=[contratos],
            group_name=names.GROUP_CONTRATOS,
            kinds={"postgres", "python"},
            description=f"A aba '{aba}' de todos os contratos da UASG, uma linha por registro.",
        )
        for aba, key in ABA_KEYS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "sem_falhas",
            asset=key,
            description="A aba de cada contrato devido foi buscada e gravada.",
            partitions_def=uasg_partitions,
        )
        for key in ABA_KEYS.values()
    ],
    partitions_def=uasg_partitions,
    can_subset=True,
    pool=names.POOL_COMPRASNET,
    name=names.OP_ABAS,
)
def contratos_abas(
    context: dg.AssetExecutionContext,
    config: AbasConfig,
    comprasnet: ComprasNetResource,
    warehouse: WarehouseResource,
):
    uasg, started, engine = context.partition_key, time.monotonic(), warehouse.get_engine()
    conf = settings.load()
    selected = [aba for aba, key in ABA_KEYS.items() if key in context.selected_asset_keys]
    abas = [aba for aba in selected if aba in conf.abas()]
    if fora := [aba for aba in selected if aba not in abas]:
        context.log.info(
            f"abas fora desta implantação (LICITACAO_ABAS), não sincronizadas: {', '.join(fora)}"
        )
    completa = config.completa or context.job_name == names.JOB_COMPLETA
    janela = Janela(config.validade_horas, completa, conf.cadencia())
    if not abas:
        return
    resultado = AbasResult.para(abas)
    resumo = lambda: resumo_da_parada(engine, uasg, resultado, janela)  # noqa: E731
    with parada_com_resumo(context, resumo), transient_only(context):
        feito = sincronizar_uasg(
            comprasnet.client,
            engine,
            uasg,
            resultado,
            janela=janela,
            workers=comprasnet.max_concurrency,
            limites=Limites(config.max_contratos, deadline(context, config.max_minutos)),
            run_id=context.run.run_id,
            logger=context.log,
            ao_saber_o_nome=lambda nome: tag_unidade(context, nome),
        )
    yield from resultados(context, feito, comprasnet.client, time.monotonic() - started, completa)
    if motivo := falha_da_execucao(resultado, uasg, config.max_taxa_falhas):
        raise dg.Failure(motivo, allow_retries=False)


def resultados(context, feito: AbasDaUasg, client, seconds: float, completa: bool):
    """Each tab's materialization (its counts, the run's requests) and its check."""
    extra = {**run_stats(client, seconds), "completa": completa}
    for aba, t in feito.resultado.totals.items():
        yield dg.MaterializeResult(
            asset_key=ABA_KEYS[aba],
            metadata={
                **metadata_da_aba(feito, aba),
                **extra,
                **textos_metadata(context, client, aba),
            },
        )
        yield dg.AssetCheckResult(
            asset_key=ABA_KEYS[aba],
            check_name="sem_falhas",
            passed=t.falhas == 0,
            metadata={"falhas": t.falhas, "amostras": t.amostras_falhas},
        )


def run_stats(client, seconds: float) -> dict:
    """The run's requests, retries, bytes and duration, as every tab's metadata shows them."""
    stats = client.stats.snapshot()
    return {
        "requisicoes_run": stats["requests"],
        "retentativas_run": stats["retries"],
        "bytes_run": stats["bytes"],
        "duracao_s": round(seconds, 3),
    }


def metadata_da_aba(feito: AbasDaUasg, aba: str) -> dict:
    """One tab's counts and samples, as its materialization shows them."""
    t = feito.resultado.totals[aba]
    return {
        "uasg": feito.uasg,
        "unidade": feito.nome or "",
        "contratos_ativos": feito.ativos,
        "contratos_devidos": t.devidos,
        "contratos_sincronizados": t.sincronizados,
        "contratos_com_falha": t.falhas,
        "contratos_pendentes": feito.pendentes[aba],
        **t.linhas_metadata(),
        "amostras_falhas": t.amostras_falhas,
        "amostras_rejeitadas": t.amostras_rejeitadas,
        "parada": feito.resultado.parada or "fila esgotada",
        "cadencia_horas": feito.cadencia.get(aba),
        "contratos_com_falha_persistente": feito.falhando.get(aba, {}).get("total", 0),
        "falhas_persistentes": feito.falhando.get(aba, {}).get("amostras", []),
    }
