"""Job ``exportar_contratos`` (replaces the old Celery task ``export_data_async``): contracts
with their follow-up as CSV, JSON, NDJSON, XML or PDF in the export directory. Launched from the
Launchpad or the CLI with config; the run's status is the export's status and the op's metadata its
result (``caminho``, ``linhas``, ``bytes``, ``duracao_s``, ``filtros``).

Thin: the work is in ``flows.exportacao``.
"""

from typing import Literal

import dagster as dg

from licitacao_pipeline import names, settings
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows import exportacao


class ExportacaoConfig(dg.Config):
    format: Literal["csv", "json", "ndjson", "xml", "pdf"] = "csv"
    """Formato do arquivo. JSON: um array; NDJSON: um contrato por linha; PDF: uma tabela em
    paisagem (no máximo 20.000 contratos)."""
    uasgs: list[str] = []
    """Códigos de UASG (6 dígitos, zeros à esquerda mantidos); vazio: todas as UASGs."""
    situacao: Literal["ativo", "inativo", "todos"] = "todos"
    """ativo: situação "Ativo"; inativo: qualquer outra; todos: ambos."""
    vigente_em: str | None = None
    """Só contratos vigentes nesse dia (vigência início <= dia <= fim): 2026-12-31 ou
    31/12/2026. Vazio: sem filtro de data."""
    include_tabs: list[str] = []
    """Abas cujas linhas vão junto (historico, empenhos, itens, arquivos, faturas, garantias,
    cronograma, responsaveis, prepostos, despesas_acessorias, ocorrencias, terceirizados;
    alteracoes: as alterações do contrato nos últimos 30 dias; sinais: seus sinais de alerta
    abertos): aninhadas em JSON, NDJSON e XML; em CSV um arquivo a mais por aba
    (``<nome>_<aba>.csv``). Não vale para PDF."""
    incluir_dados_pessoais: bool = False
    """Incluir os dados pessoais (LGPD): nomes, CPFs mascarados, telefones, e-mails e salários
    de responsáveis, prepostos, ocorrências e terceirizados, e o gestor / fiscal oficiais do
    contrato. Sem isso essas colunas ficam fora do arquivo."""
    delimiter: Literal[";", ","] = ";"
    """Só CSV: ``;`` para planilhas brasileiras, ou ``,``."""
    bom: bool = True
    """Só CSV: começar com um BOM UTF-8, para o Excel ler os acentos certo."""
    decimal: Literal["br", "iso"] = "br"
    """Só CSV: ``br`` valores 1.234,56 e datas 31/12/2026; ``iso`` 1234.56 e 2026-12-31."""
    nome_arquivo: str | None = None
    """Nome do arquivo no diretório de exportação (letras, dígitos, ``_.-``; a extensão do
    formato é acrescentada se faltar). Vazio: ``contratos_AAAAMMDD_HHMMSS_<run>.<formato>``."""


def options(config: ExportacaoConfig) -> exportacao.ExportOptions:
    return exportacao.ExportOptions(**config.model_dump())


class _Progress:
    """Logs every tenth of the way (and the end)."""

    def __init__(self, context: dg.OpExecutionContext):
        self.context, self.next = context, 0.1

    def __call__(self, done: int, total: int) -> None:
        if done >= total or done >= self.next * total:
            self.context.log.info(f"exportados {done:,} de {total:,} contratos")
            self.next = (done / total if total else 1) + 0.1


@dg.op(
    name=names.OP_EXPORTAR,
    description=(
        "Escreve os contratos que atendem aos filtros num arquivo do diretório de exportação."
    ),
)
def exportar(
    context: dg.OpExecutionContext, config: ExportacaoConfig, warehouse: WarehouseResource
) -> dg.Output:
    with transient_only(context):  # a refused option fails before any connection or file
        result = exportacao.export(
            warehouse.get_engine,
            options(config),
            settings.load().export_dir,
            run_id=context.run_id,
            progress=_Progress(context),
        )
    context.log.info(f"{result.rows:,} contratos -> {result.path} ({result.bytes:,} bytes)")
    metadata = {
        "caminho": dg.MetadataValue.path(str(result.path)),
        "linhas": result.rows,
        "bytes": result.bytes,
        "duracao_s": result.duracao_s,
        "filtros": dg.MetadataValue.json(result.filtros),
    }
    if result.tab_rows:
        metadata["linhas_abas"] = dg.MetadataValue.json(result.tab_rows)
    if result.tab_files:
        files = {aba: str(path) for aba, path in result.tab_files.items()}
        metadata["arquivos_abas"] = dg.MetadataValue.json(files)
    return dg.Output(None, metadata=metadata)


@dg.job(
    name=names.JOB_EXPORTAR,
    tags=names.run_tags("exportacao"),
    description=(
        "Exporta contratos com seu acompanhamento (gestor, fiscal, prioridade, observação, "
        "alertar_em) em CSV, JSON, NDJSON, XML ou PDF no diretório de exportação, filtrados por "
        "UASG, situação e vigência; lidos em fluxo de um só retrato do banco, escritos de forma "
        "atômica."
    ),
)
def exportar_contratos():
    exportar()
