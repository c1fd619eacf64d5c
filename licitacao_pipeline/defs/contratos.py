"""Asset ``contratos``: one UASG's contracts (active + inactive listings) in PostgreSQL.

Thin: downloads the listings and hands them to ``flows.contratos``; reports counts, checks and
the UASG's name.
"""

import time

import dagster as dg

from licitacao_pipeline import names
from licitacao_pipeline.defs.metadados import markdown_table
from licitacao_pipeline.defs.parada import parada_com_resumo
from licitacao_pipeline.defs.partitions import uasg_partitions
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows.contratos import Janela
from licitacao_pipeline.flows.listagem import Listagem, resumo_da_parada, sincronizar_listagem
from licitacao_pipeline.relogio import local_today
from licitacao_pipeline.textos import curto
from licitacao_pipeline.uasgs import uasg_label

CHECKS = {
    "ids_unicos": "Cada id de contrato aparece uma vez na listagem e confere com o seu payload.",
    "valores_nao_negativos": "valor_inicial, valor_global e valor_parcela nunca são negativos.",
    "vigencia_coerente": "vigencia_fim não é anterior a vigencia_inicio.",
    "taxa_rejeicao": (
        "Nenhum registro da listagem foi rejeitado como malformado (taxa nos metadados)."
    ),
}


class ContratosConfig(dg.Config):
    vigencia_janela_dias: int | None = 730
    """Manter os contratos cuja vigência terminou há no máximo estes dias (null mantém todos)."""
    max_taxa_rejeicao: float = 0.05
    """Falhar o run, sem gravar nada, quando uma fração maior que esta dos registros for
    malformada."""
    max_taxa_remocao: float = 0.5
    """Falhar em vez de marcar como removidos quando sumir uma fração maior que esta dos contratos
    gravados."""


def tabela_alteracoes(primeiras) -> dg.MetadataValue:
    """The first changes of a sync as a Markdown table: contract, field, old -> new."""
    return markdown_table(
        ["contrato", "campo", "anterior -> novo"],
        [
            [
                f"{r['numero'] or ''} ({r['contrato_id']})",
                r["campo"] if r["evento"] == "alterado" else f"{r['campo']} ({r['evento']})",
                f"{'∅' if r['valor_anterior'] is None else r['valor_anterior']} -> "
                f"{'∅' if r['valor_novo'] is None else r['valor_novo']}",
            ]
            for r in primeiras
        ],
    )


def tag_unidade(context, nome: str | None) -> None:
    """Show the UASG's name on the run (Runs page, run header) once it is known (capped: the
    name comes from the API, and the warehouse keeps it whole)."""
    nome = curto(nome) if nome else None
    if nome and context.run.tags.get(names.UNIDADE_TAG) != nome:
        context.instance.add_run_tags(context.run.run_id, {names.UNIDADE_TAG: nome})


def textos_metadata(context, client, kind: str) -> dict:
    """How many fields of ``kind`` had a lone surrogate (not storable in UTF-8) replaced by
    U+FFFD, with samples; said in the log too, so the replacement is never silent."""
    count = client.textos.counts.get(kind, 0)
    samples = client.textos.samples.get(kind, [])
    if count:
        context.log.warning(
            f"{kind}: {count} campos de texto tinham um surrogate UTF-16 "
            "isolado, gravado como U+FFFD "
            f"(o PostgreSQL não o aceita); primeiros: {samples[:3]}"
        )
    return {"textos_substituidos": count, "amostras_textos_substituidos": samples}


@dg.asset(
    partitions_def=uasg_partitions,
    group_name=names.GROUP_CONTRATOS,
    kinds={"postgres", "python"},
    pool=names.POOL_COMPRASNET,
    check_specs=[
        dg.AssetCheckSpec(
            name, asset=names.CONTRATOS, description=desc, partitions_def=uasg_partitions
        )
        for name, desc in CHECKS.items()
    ],
    description=(
        "Os contratos de uma UASG (listagens de ativos e inativos), uma linha por contrato."
    ),
)
def contratos(
    context: dg.AssetExecutionContext,
    config: ContratosConfig,
    comprasnet: ComprasNetResource,
    warehouse: WarehouseResource,
):
    uasg, started, client = context.partition_key, time.monotonic(), comprasnet.client
    context.log.info(f"uasg {uasg}: baixando as listagens de ativos e inativos")
    gravado: list = []  # the listing's transaction committed (before the interrupt, if any)
    resumo = lambda: resumo_da_parada(uasg, bool(gravado))  # noqa: E731
    with parada_com_resumo(context, resumo), transient_only(context):
        listagem = sincronizar_listagem(
            client,
            warehouse.get_engine(),
            uasg,
            janela=Janela(local_today(), config.vigencia_janela_dias),
            max_taxa_rejeicao=config.max_taxa_rejeicao,
            max_taxa_remocao=config.max_taxa_remocao,
            run_id=context.run.run_id,
            logger=context.log,
            ao_gravar=lambda: gravado.append(True),
        )
    nome = (listagem.resultado.unidade or {}).get("nome")
    tag_unidade(context, nome)
    duration = time.monotonic() - started
    context.log.info(
        f"{uasg_label(uasg, nome)}: "
        + ", ".join(f"{v} {k}" for k, v in listagem.resultado.contagens().items())
        + f" em {duration:.1f}s"
    )
    metadata = metadata_da_listagem(uasg, curto(nome) if nome else None, listagem, config)
    stats = client.stats.snapshot()
    yield dg.MaterializeResult(
        metadata={
            **metadata,
            "requisicoes": stats["requests"],
            "retentativas": stats["retries"],
            "bytes": stats["bytes"],
            "duracao_s": round(duration, 3),
            **textos_metadata(context, client, names.CONTRATOS),
        }
    )
    yield from verificacoes(listagem, config)


def metadata_da_listagem(uasg, nome, listagem: Listagem, config: ContratosConfig) -> dict:
    """The listing's counts, samples and changes, as its materialization shows them."""
    result = listagem.resultado
    janela = config.vigencia_janela_dias
    return {
        "uasg": uasg,
        "unidade": nome or "",
        **result.contagens(),
        "linhas_escritas": result.linhas_escritas,
        "dagster/row_count": listagem.armazenados,
        "vigencia_janela_dias": janela if janela is not None else "todas",
        "amostras_rejeitados": result.amostras_rejeitados,
        "amostras_filtrados": result.amostras_filtrados,
        "contratos_alterados": result.alteracoes.contratos_alterados,
        "alteracoes_registradas": result.alteracoes.eventos,
        "alteracoes": tabela_alteracoes(result.alteracoes.primeiras),
    }


def verificacoes(listagem: Listagem, config: ContratosConfig):
    """The four asset checks of a listing."""
    result, bad = listagem.resultado, listagem.violacoes
    yield dg.AssetCheckResult(
        check_name="ids_unicos",
        passed=result.duplicados == 0 and not bad["ids_unicos"],
        metadata={
            "duplicados_na_listagem": result.duplicados,
            "ids_duplicados": result.ids_duplicados,
            "id_diferente_do_payload": bad["ids_unicos"],
        },
    )
    for name in ("valores_nao_negativos", "vigencia_coerente"):
        yield dg.AssetCheckResult(
            check_name=name, passed=not bad[name], metadata={"ids": bad[name]}
        )
    yield dg.AssetCheckResult(
        check_name="taxa_rejeicao",
        passed=result.rejeitados == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejeitados": result.rejeitados,
            "taxa_rejeicao": round(result.taxa_rejeicao, 4),
            "max_taxa_rejeicao": config.max_taxa_rejeicao,
            "amostras": result.amostras_rejeitados,
        },
    )
