"""Job ``importar_acompanhamento`` (the old Celery task ``import_data_async``): a UASG's follow-up
spreadsheet (CSV: uasg, numero, gestor, fiscal, prioridade, observacao, alertar_em) into the
``acompanhamento`` table. The run's metadata is the result: ``total``, ``aceitos``,
``rejeitados``, ``arquivo_rejeicoes`` (a CSV of the rejected rows with line and reason).

Thin: the work is in ``flows.importacao``.
"""

from datetime import UTC, datetime
from typing import Literal

import dagster as dg

from licitacao_pipeline import names, settings
from licitacao_pipeline.defs.portal import markdown_table
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows import importacao


class ImportacaoConfig(dg.Config):
    path: str
    """O arquivo CSV, relativo ao diretório de importação (LICITACAO_IMPORT_DIR) ou absoluto
    dentro dele; qualquer coisa fora é recusada."""
    encoding: Literal["utf-8", "latin-1"] = "utf-8"
    """A codificação do arquivo (com utf-8, um BOM é aceito)."""
    delimiter: Literal[";", ","] = ";"
    """O separador de colunas."""


@dg.op(
    name=names.OP_IMPORTAR,
    description="Valida um CSV de acompanhamento linha a linha e grava (upsert) as linhas válidas.",
)
def importar(
    context: dg.OpExecutionContext, config: ImportacaoConfig, warehouse: WarehouseResource
) -> dg.Output:
    opts = importacao.ImportOptions(config.path, config.encoding, config.delimiter)
    conf = settings.load()
    with transient_only(context):  # a refused path or file fails before any change
        result = importacao.import_file(
            warehouse.get_engine,
            opts,
            import_root=conf.import_dir,
            export_root=conf.export_dir,
            run_id=context.run_id,
            now=datetime.now(UTC),
        )
    log = context.log.warning if result.rejected else context.log.info
    log(
        f"{result.source.name}: {result.total} linhas, {result.accepted} aceitas, "
        f"{result.rejected} rejeitadas -> {result.rejects_path}"
    )
    return dg.Output(
        None,
        metadata={
            "total": result.total,
            "aceitos": result.accepted,
            "rejeitados": result.rejected,
            "arquivo_rejeicoes": dg.MetadataValue.path(str(result.rejects_path)),
            "arquivo": dg.MetadataValue.path(str(result.source)),
            "inseridos": result.inserted,
            "atualizados": result.updated,
            "removidos": result.removed,
            "inalterados": result.unchanged,
            "linhas_em_branco": result.blank_lines,
            "colunas_ignoradas": dg.MetadataValue.json(result.ignored_columns),
            "rejeicoes": markdown_table(["linha", "motivo"], result.samples),
            "duracao_s": result.duracao_s,
        },
    )


@dg.job(
    name=names.JOB_IMPORTAR,
    tags=names.run_tags("importacao"),
    description=(
        "Importa o CSV de acompanhamento dos contratos de uma UASG (gestor, fiscal, prioridade, "
        "observação, alertar_em) do diretório de importação para `acompanhamento`: cada linha "
        "validada, as válidas gravadas (upsert) numa transação, as rejeitadas escritas com linha "
        "e motivo num CSV no diretório de exportação."
    ),
)
def importar_acompanhamento():
    importar()
