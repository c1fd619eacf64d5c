"""Asset ``alteracoes_recentes`` (group ``portal``): the view of the changes of the last 30 days
(7 days flagged) per UASG, for the public portal. The view is always current; each
materialization summarizes it per UASG in the catalog.
"""

import dagster as dg

from licitacao_pipeline.defs.metadados import markdown_table
from licitacao_pipeline.defs.portal import GROUP, REFRESH, UPSTREAM
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows import alteracoes

RESUMO_UASGS = 20


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=UPSTREAM,
    automation_condition=REFRESH,
    metadata={"dagster/table_name": "alteracoes_recentes"},
    description=(
        "Alterações recentes (visão PostgreSQL sobre `contratos_alteracoes`): cada alteração que "
        "as sincronizações viram nos últimos 30 dias — contrato, campo, valor anterior e novo, "
        "quando — com `ultimos_7_dias` para a última semana, por UASG. Sempre atual (uma visão "
        "simples); cada materialização a resume por UASG: alterações e contratos alterados em "
        "7 / 30 dias."
    ),
)
def alteracoes_recentes(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with transient_only(context):
        por_uasg = alteracoes.recentes_por_uasg(warehouse.get_engine())
    total_7 = sum(r["alteracoes_7_dias"] for r in por_uasg)
    total_30 = sum(r["alteracoes_30_dias"] for r in por_uasg)
    context.log.info(f"alteracoes_recentes: {total_30} alterações em 30 dias, {total_7} em 7")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total_30,
            "alteracoes_7_dias": total_7,
            "alteracoes_30_dias": total_30,
            "uasgs_com_alteracoes": len(por_uasg),
            "por_uasg": markdown_table(
                ["UASG", "unidade", "alterações 7 / 30 dias", "contratos 7 / 30 dias"],
                [
                    [
                        r["uasg"],
                        r["unidade_nome"],
                        f"{r['alteracoes_7_dias']} / {r['alteracoes_30_dias']}",
                        f"{r['contratos_7_dias']} / {r['contratos_30_dias']}",
                    ]
                    for r in por_uasg[:RESUMO_UASGS]
                ],
            ),
        }
    )
