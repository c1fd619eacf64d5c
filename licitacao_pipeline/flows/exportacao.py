"""Export of contracts with their follow-up (the old Celery task ``export_data_async``),
Dagster-free: validate the options before any work, stream the matching contracts from one
database snapshot in chunks, write them as CSV, JSON, NDJSON, XML or PDF atomically into the
export directory.

Memory does not grow with the number of contracts, except for PDF: fpdf2 holds the document
until it is saved, so a PDF is refused above ``MAX_PDF_ROWS`` contracts (counted first, before
anything is written). How each format presents a contract: ``flows.exportacao_formatos``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.files.cells import thousands
from licitacao_pipeline.flows import exportacao_formatos as formatos
from licitacao_pipeline.flows.exportacao_pedido import (  # noqa: F401 (the use case's API)
    FORMATS,
    TABS,
    ExportConfigError,
    ExportOptions,
    ExportTooLargeError,
    Request,
    Targets,
    parse_day,
    targets,
    validate,
)
from licitacao_pipeline.warehouse import exportacao as sql

CHUNK = 1000  # contracts per fetch from the server-side cursor (and per tab query)
MAX_PDF_ROWS = 20_000  # see the module docstring; the benchmark measures the growth


def _lidas(request: Request) -> tuple[str, ...]:
    """The tabs to read per chunk: those asked for; a PDF lists each contract's open flags."""
    return ("sinais",) if request.format == "pdf" else request.tabs


# --- the use case -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    path: Path
    rows: int
    bytes: int
    duracao_s: float
    filtros: dict[str, Any]
    tab_files: dict[str, Path] = field(default_factory=dict)
    tab_rows: dict[str, int] = field(default_factory=dict)


Progress = Callable[[int, int], None]  # (contracts written, contracts matching)


def export(
    engine: Engine | Callable[[], Engine],
    options: ExportOptions,
    directory: Path,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
    chunk: int = CHUNK,
    max_pdf_rows: int = MAX_PDF_ROWS,
    progress: Progress | None = None,
) -> Exported:
    """Write the contracts matching ``options`` to a new file in ``directory``.

    Nothing is read or written before the options and the file name are valid. The files
    appear whole when everything is written (a failure leaves none, and an older file of the
    same name untouched). Contracts and their tabs come from one snapshot, ``chunk`` at a time.
    """
    request = validate(options)
    now = now or datetime.now(UTC)
    paths = targets(directory, request, now, run_id)
    started = time.monotonic()
    if callable(engine):  # a factory: no connection before the options are known good
        engine = engine()
    with sql.read_snapshot(engine) as conn:
        total = sql.count_contracts(conn, request.filters)
        if request.format == "pdf" and total > max_pdf_rows:
            raise ExportTooLargeError(
                f"{thousands(total)} contratos atendem a esses filtros; um PDF comporta no máximo "
                f"{thousands(max_pdf_rows)} (restrinja uasgs, situacao ou vigente_em, ou use "
                "csv, json, ndjson ou xml, que não têm limite)"
            )
        with contextlib.ExitStack() as files:
            sink = formatos.open_sink(request, paths, files, total, now)
            rows = 0
            pessoais = request.dados_pessoais
            for contracts in sql.stream_contracts(conn, request.filters, chunk, pessoais):
                ids = [r["contrato_id"] for r in contracts]
                tabs = {aba: sql.tab_rows(conn, aba, ids, pessoais) for aba in _lidas(request)}
                sink.write(contracts, tabs)
                rows += len(contracts)
                if progress is not None:
                    progress(rows, total)
            tab_rows = sink.close()
        # leaving the stack renamed every file into place
    written = [paths.main, *paths.tabs.values()]
    return Exported(
        path=paths.main,
        rows=rows,
        bytes=sum(p.stat().st_size for p in written),
        duracao_s=round(time.monotonic() - started, 3),
        filtros=request.describe(),
        tab_files=dict(paths.tabs),
        tab_rows=tab_rows,
    )
