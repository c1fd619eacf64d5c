"""Asset ``garantias_a_vencer`` (group ``portal``): the daily report of guarantees that expire
or expired on contracts in force, beside ``contratos_a_vencer``. Thin: ``flows.garantias``."""

import dagster as dg

from licitacao_pipeline import settings
from licitacao_pipeline.defs.abas import ABA_KEYS
from licitacao_pipeline.defs.metadados import markdown_table
from licitacao_pipeline.defs.portal import (
    GROUP,
    PREVIEW_ROWS,
    REPORT,
    REPORT_FRESHNESS,
    painel_contratos,
)
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows import garantias
from licitacao_pipeline.relogio import local_today


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "csv"},
    deps=[painel_contratos, ABA_KEYS["garantias"]],
    automation_condition=REPORT,
    freshness_policy=REPORT_FRESHNESS,
    metadata={"dagster/table_name": "garantias_a_vencer"},
    description=(
        "Garantias a vencer: as garantias (aba `garantias`) dos contratos vigentes que vencem "
        "em até 90 dias ou já venceram (dias negativos), como a tabela `garantias_a_vencer` e "
        "como um CSV no diretório de exportação, `garantias_a_vencer_AAAAMMDD.csv`. "
        "Diariamente depois das 06:00 (São Paulo), junto com `contratos_a_vencer`."
    ),
)
def garantias_a_vencer(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with transient_only(context):
        report = garantias.write_report(
            warehouse.get_engine(), settings.load().export_dir, local_today()
        )
    vencidas = sum(1 for r in report.rows if r["dias_para_vencimento"] < 0)
    context.log.info(f"garantias_a_vencer: {len(report.rows)} garantias -> {report.path}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(report.rows),
            "arquivo": dg.MetadataValue.path(str(report.path)),
            "vencidas": vencidas,
            "a_vencer_90_dias": len(report.rows) - vencidas,
            "previa": markdown_table(
                garantias.CSV_HEADER, [garantias.csv_row(r) for r in report.rows[:PREVIEW_ROWS]]
            ),
        }
    )
