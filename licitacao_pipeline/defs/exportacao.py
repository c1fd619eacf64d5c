"""Job ``exportar_contratos`` (seed 002's ``export_data_async``): contracts with their
follow-up as CSV, JSON, NDJSON, XML or PDF in the export directory. Launched from the Launchpad
or the CLI with config; the run's status is the export's status and the op's metadata its
result (``path``, ``rows``, ``bytes``, ``duracao_s``, ``filtros``).

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
    """File format. JSON: one array; NDJSON: one contract per line; PDF: a landscape table
    (at most 20,000 contracts)."""
    uasgs: list[str] = []
    """UASG codes (6 digits, leading zeros kept); empty: every UASG."""
    situacao: Literal["ativo", "inativo", "todos"] = "todos"
    """ativo: situação "Ativo"; inativo: any other; todos: both."""
    vigente_em: str | None = None
    """Only contracts in force that day (vigência início <= day <= fim): 2026-12-31 or
    31/12/2026. Empty: no date filter."""
    include_tabs: list[str] = []
    """Tabs whose rows go along (historico, empenhos, itens, arquivos; alteracoes: the
    contract's changes of the last 30 days): nested in JSON, NDJSON and XML; in CSV one extra
    file per tab (``<name>_<tab>.csv``). Not for PDF."""
    delimiter: Literal[";", ","] = ";"
    """CSV only: ``;`` for Brazilian spreadsheets, or ``,``."""
    bom: bool = True
    """CSV only: start with a UTF-8 BOM, so Excel reads the accents right."""
    decimal: Literal["br", "iso"] = "br"
    """CSV only: ``br`` money 1.234,56 and dates 31/12/2026; ``iso`` 1234.56 and 2026-12-31."""
    nome_arquivo: str | None = None
    """File name in the export directory (letters, digits, ``_.-``; the format's extension is
    added if missing). Empty: ``contratos_AAAAMMDD_HHMMSS_<run>.<format>``."""


def options(config: ExportacaoConfig) -> exportacao.ExportOptions:
    return exportacao.ExportOptions(**config.model_dump())


class _Progress:
    """Logs every tenth of the way (and the end)."""

    def __init__(self, context: dg.OpExecutionContext):
        self.context, self.next = context, 0.1

    def __call__(self, done: int, total: int) -> None:
        if done >= total or done >= self.next * total:
            self.context.log.info(f"exported {done:,} of {total:,} contracts")
            self.next = (done / total if total else 1) + 0.1


@dg.op(
    name=names.OP_EXPORTAR,
    description="Write the contracts matching the filters to a file in the export directory.",
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
    context.log.info(f"{result.rows:,} contracts -> {result.path} ({result.bytes:,} bytes)")
    metadata = {
        "path": dg.MetadataValue.path(str(result.path)),
        "rows": result.rows,
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
        "Export contracts with their follow-up (gestor, fiscal, prioridade, observação, "
        "alertar_em) as CSV, JSON, NDJSON, XML or PDF into the export directory, filtered by "
        "UASG, situação and vigência; streamed from one database snapshot, written atomically."
    ),
)
def exportar_contratos():
    exportar()
