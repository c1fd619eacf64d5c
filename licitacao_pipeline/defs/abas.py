"""Assets ``contratos_historico``, ``_empenhos``, ``_itens`` and ``_arquivos``: the tabs (abas).

One subsettable multi-asset, so a run shares one bounded worker pool across the selected tabs.
Thin: opens the warehouse's queue of due contracts (oldest sync first, every due tab of a
contract together) and hands it to ``flows.abas``. A run ends cleanly on its budget
(``max_contratos``, ``max_minutos``, and by default a little before the run's
``dagster/max_runtime``), reporting the backlog left per tab.
"""

import time

import dagster as dg

from licitacao_pipeline import names
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.contratos import contratos, tag_unidade, textos_metadata
from licitacao_pipeline.defs.parada import parada_com_resumo
from licitacao_pipeline.defs.partitions import uasg_partitions
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows.abas import AbasResult, Limites, sync_abas
from licitacao_pipeline.textos import curto
from licitacao_pipeline.uasgs import uasg_label
from licitacao_pipeline.warehouse import abas as sql
from licitacao_pipeline.warehouse.contratos import count_active
from licitacao_pipeline.warehouse.unidades import nome as nome_da_unidade

ABA_KEYS = {aba: dg.AssetKey(names.aba_asset(aba)) for aba in ABAS}
CONTRATOS_KEY = dg.AssetKey(names.CONTRATOS)


class AbasConfig(dg.Config):
    completa: bool = False
    """Fetch every tab of every contract, due or not (the nightly full sync)."""
    validade_horas: float = 24.0
    """A tab synced longer ago than this is fetched again even if the contract did not change."""
    max_taxa_falhas: float = 0.5
    """Fail the run (after storing the successes) when more contract tabs than this share fail."""
    max_contratos: int | None = None
    """Budget: start at most this many contracts in this run (the rest is left for the next)."""
    max_minutos: float | None = None
    """Budget: start no contract after this many minutes. By default the run also stops
    starting contracts a little before its dagster/max_runtime, so it ends cleanly."""


def _resumo_da_parada(engine, uasg: str, rotulo: str, result: AbasResult, window: dict) -> str:
    """One line for a stopped tab sync: what this run stored, what is still due."""
    feitas = ", ".join(f"{a} {t.sincronizados}/{t.devidos}" for a, t in result.totals.items())
    abas = list(result.totals)
    pendentes = sql.due_counts(engine, uasg, abas, inicio=sql.now(engine), **window)
    return (
        f"{rotulo}: parada pedida; abas gravadas nesta execução: {feitas}; ainda devidas: "
        + ", ".join(f"{a} {n}" for a, n in pendentes.items())
        + " (a próxima execução continua daqui)"
    )


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
            description=f"The '{aba}' tab of every contract of the UASG, one row per record.",
        )
        for aba, key in ABA_KEYS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "sem_falhas",
            asset=key,
            description="Every due contract's tab was fetched and stored.",
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
    uasg = context.partition_key
    started = time.monotonic()
    engine = warehouse.get_engine()
    client = comprasnet.client
    abas = [aba for aba, key in ABA_KEYS.items() if key in context.selected_asset_keys]
    limites = Limites(config.max_contratos, deadline(context, config.max_minutos))
    completa = config.completa or context.job_name == names.JOB_COMPLETA
    window = {"validade_horas": config.validade_horas, "completa": completa}
    result = AbasResult.para(abas)
    rotulo = uasg
    resumo = lambda: _resumo_da_parada(engine, uasg, rotulo, result, window)  # noqa: E731
    with parada_com_resumo(context, resumo), transient_only(context):
        nome = nome_da_unidade(engine, uasg)
        rotulo = uasg_label(uasg, nome)
        tag_unidade(context, nome)
        nome = curto(nome) if nome else None
        inicio = sql.now(engine)
        with engine.connect() as conn:
            ativos = count_active(conn, uasg)
        devidos = sql.due_counts(engine, uasg, abas, inicio=inicio, **window)
        for aba, n in devidos.items():
            result.totals[aba].devidos = n
        context.log.info(
            f"{rotulo}: {ativos} active contracts; due per tab: "
            + ", ".join(f"{a}={n}" for a, n in devidos.items())
        )
        with sql.DueQueue(engine, uasg, abas, inicio=inicio, **window) as fila:
            sync_abas(
                client,
                engine,
                fila,
                abas,
                uasg=uasg,
                rotulo=rotulo,
                workers=comprasnet.max_concurrency,
                limites=limites,
                devidos=devidos,
                run_id=context.run.run_id,
                logger=context.log,
                result=result,
            )
        pendentes = sql.due_counts(engine, uasg, abas, inicio=inicio, **window)
    stats = client.stats.snapshot()
    duration = round(time.monotonic() - started, 3)
    for aba in abas:
        t = result.totals[aba]
        yield dg.MaterializeResult(
            asset_key=ABA_KEYS[aba],
            metadata={
                "uasg": uasg,
                "unidade": nome or "",
                "contratos_ativos": ativos,
                "contratos_devidos": t.devidos,
                "contratos_sincronizados": t.sincronizados,
                "contratos_com_falha": t.falhas,
                "contratos_pendentes": pendentes[aba],
                **t.linhas_metadata(),
                "amostras_falhas": t.amostras_falhas,
                "amostras_rejeitadas": t.amostras_rejeitadas,
                "parada": result.parada or "fila esgotada",
                "requisicoes_run": stats["requests"],
                "retentativas_run": stats["retries"],
                "bytes_run": stats["bytes"],
                "duracao_s": duration,
                "completa": completa,
                **textos_metadata(context, client, aba),
            },
        )
        yield dg.AssetCheckResult(
            asset_key=ABA_KEYS[aba],
            check_name="sem_falhas",
            passed=t.falhas == 0,
            metadata={"falhas": t.falhas, "amostras": t.amostras_falhas},
        )
    unexpected = sum(t.falhas_inesperadas for t in result.totals.values())
    if unexpected:
        first = next(s for t in result.totals.values() for s in t.amostras_falhas)
        raise dg.Failure(
            f"uasg {uasg}: {unexpected} contract tabs failed unexpectedly (successes were "
            f"stored); first: {first}",
            allow_retries=False,
        )
    if result.tarefas and result.falhas > config.max_taxa_falhas * result.tarefas:
        first = next(s for t in result.totals.values() for s in t.amostras_falhas)
        raise dg.Failure(
            f"uasg {uasg}: {result.falhas} of {result.tarefas} contract tabs failed after "
            f"retries (> {config.max_taxa_falhas:.0%}); successes were stored, failures will "
            f"be fetched again next run. First: {first}",
            allow_retries=False,
        )
