"""Asset ``sinais_de_alerta`` (group ``portal``): red flags an auditor acts on, refreshed with the
panel. Thin: the rules and the refresh are in ``flows.sinais`` / ``warehouse.sinais``; here the
result becomes metadata and one asset check per rule (a warning when a UASG's open flags of
that rule grow by more than ``max_novos_por_uasg`` in one refresh)."""

import dagster as dg

from licitacao_pipeline import names, settings
from licitacao_pipeline.defs.metadados import markdown_table
from licitacao_pipeline.defs.portal import GROUP, PORTAL_FRESHNESS, REFRESH, UPSTREAM
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows import sinais
from licitacao_pipeline.relogio import local_today

ASSET = names.SINAIS
RESUMO_UASGS = 20


class SinaisConfig(dg.Config):
    max_novos_por_uasg: int = 10
    """A verificação de cada regra avisa quando os sinais abertos dessa regra numa UASG crescem
    mais do que isto numa só atualização."""


@dg.asset(
    name=ASSET,
    group_name=GROUP,
    kinds={"postgres"},
    deps=UPSTREAM,
    automation_condition=REFRESH,
    freshness_policy=PORTAL_FRESHNESS,
    metadata={"dagster/table_name": "sinais_alerta"},
    check_specs=[
        dg.AssetCheckSpec(
            f"crescimento_{regra}",
            asset=ASSET,
            description=f"Os sinais abertos de {regra} de nenhuma UASG cresceram de repente.",
        )
        for regra in sinais.REGRAS
    ],
    description=(
        "Sinais de alerta: acréscimos acima do limite legal, vigência além do máximo, contrato "
        "Ativo muito depois do fim, pago acima do valor (empenhos e faturas), fim sem "
        "prorrogação, garantia vencida, faturas vencidas não pagas. Um por regra e "
        "contrato enquanto vale (aberto_em, visto_em); resolvido quando deixa de valer, nunca "
        "apagado; cada sinal novo gera um alerta, por UASG e atualização. Visão: sinais_abertos."
    ),
)
def sinais_de_alerta(
    context: dg.AssetExecutionContext, config: SinaisConfig, warehouse: WarehouseResource
):
    regras = sinais.regras_para(settings.load().abas())
    if fora := [r for r in sinais.REGRAS if r not in regras]:
        context.log.info(
            f"regras sem sua aba nesta implantação (LICITACAO_ABAS): {', '.join(fora)}"
        )
    with transient_only(context):
        feito = sinais.atualizar(
            warehouse.get_engine(), local_today(), regras=regras, run_id=context.run.run_id
        )
    context.log.info(
        f"sinais de alerta: {len(feito.abertos)} abertos agora, "
        f"{sum(feito.resolvidos.values())} resolvidos, {sum(feito.abertos_por_regra.values())} "
        f"em aberto; {feito.alertas} alerta(s) em {feito.duracao_s}s"
    )
    yield dg.MaterializeResult(metadata=metadata_dos_sinais(feito))
    for regra in sinais.REGRAS:
        if regra not in regras:
            yield dg.AssetCheckResult(
                check_name=f"crescimento_{regra}",
                passed=True,
                metadata={"ignorada": f"a aba {sinais.REQUER_ABA[regra]} não é sincronizada"},
            )
            continue
        grew = {u: n for u, n in feito.crescimento(regra).items() if n > config.max_novos_por_uasg}
        yield dg.AssetCheckResult(
            check_name=f"crescimento_{regra}",
            passed=not grew,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "uasgs_acima_do_limite": dg.MetadataValue.json(grew),
                "max_novos_por_uasg": config.max_novos_por_uasg,
                "abertos": feito.abertos_por_regra[regra],
            },
        )


def metadata_dos_sinais(feito: sinais.Atualizacao) -> dict:
    """Open flags per rule and per UASG, what this refresh opened and resolved, the worst ten."""
    por_uasg = sorted(feito.abertos_por_uasg.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "dagster/row_count": sum(feito.abertos_por_regra.values()),
        "abertos_por_regra": dg.MetadataValue.json(feito.abertos_por_regra),
        "abertos_por_uasg": markdown_table(["UASG", "abertos"], por_uasg[:RESUMO_UASGS]),
        "uasgs_com_sinais": len(por_uasg),
        "abertos_nesta_atualizacao": len(feito.abertos),
        "resolvidos_nesta_atualizacao": sum(feito.resolvidos.values()),
        "alertas": feito.alertas,
        "duracao_s": feito.duracao_s,
        "mais_graves": markdown_table(
            ["severidade", "regra", "UASG", "contrato", "fornecedor", "detalhe"],
            [
                [
                    s["severidade"],
                    s["regra"],
                    s["uasg"],
                    f"{s['numero'] or ''} ({s['contrato_id']})",
                    s["fornecedor_nome"],
                    s["detalhe"],
                ]
                for s in feito.principais
            ],
        ),
    }
