"""Export of contracts with their follow-up (seed 002's ``export_data_async``), Dagster-free:
validate the options before any work, stream the matching contracts from one database snapshot
in chunks, write them as CSV, JSON, NDJSON, XML or PDF atomically into the export directory.

Memory does not grow with the number of contracts, except for PDF: fpdf2 holds the document
until it is saved, so a PDF is refused above ``MAX_PDF_ROWS`` contracts (counted first, before
anything is written). How each format presents a contract: ``flows.exportacao_formatos``.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.errors import ConfigRecusada, Recusado
from licitacao_pipeline.files.cells import Style, thousands
from licitacao_pipeline.files.paths import UnsafePathError, inside, plain_name
from licitacao_pipeline.flows import exportacao_formatos as formatos
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.warehouse import exportacao as sql

FORMATS = ("csv", "json", "ndjson", "xml", "pdf")
SITUACOES = ("ativo", "inativo", "todos")
DELIMITERS = (";", ",")
STYLES = ("br", "iso")
TABS = (*ABAS, "alteracoes")  # the four tabs and the contract's changes of the last 30 days
CHUNK = 1000  # contracts per fetch from the server-side cursor (and per tab query)
MAX_PDF_ROWS = 20_000  # see the module docstring; the benchmark measures the growth
_UASG = re.compile(r"^\d{6}$")
_BR_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ExportConfigError(ConfigRecusada):
    """An invalid export option; the message starts with the option's name."""


class ExportTooLargeError(Recusado, ValueError):
    """More contracts than the format allows (PDF)."""


@dataclass(frozen=True)
class ExportOptions:
    """What the job's config says (the same names)."""

    format: str = "csv"
    uasgs: Sequence[str] = ()
    situacao: str = "todos"
    vigente_em: str | date | None = None
    include_tabs: Sequence[str] = ()
    delimiter: str = ";"
    bom: bool = True
    decimal: str = "br"
    nome_arquivo: str | None = None


@dataclass(frozen=True)
class Request:
    """Validated options."""

    format: str
    filters: sql.Filters
    tabs: tuple[str, ...]
    delimiter: str
    bom: bool
    style: Style
    nome_arquivo: str | None

    def describe(self) -> dict[str, Any]:
        """The filters and options used, for the run's metadata."""
        out: dict[str, Any] = {
            "format": self.format,
            "uasgs": list(self.filters.uasgs),
            "situacao": self.filters.situacao,
            "vigente_em": self.filters.vigente_em.isoformat() if self.filters.vigente_em else None,
            "include_tabs": list(self.tabs),
        }
        if self.format == "csv":
            out.update(delimiter=self.delimiter, bom=self.bom, decimal=self.style)
        return out


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ExportConfigError(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def parse_day(name: str, value: str | date) -> date:
    """``2026-12-31`` or ``31/12/2026``."""
    if isinstance(value, date):
        return value
    text = value.strip()
    try:
        if m := _BR_DATE.match(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ExportConfigError(name, f"{value!r} is not a date (2026-12-31 or 31/12/2026)")


def validate(options: ExportOptions) -> Request:
    """Every option checked, before any work; ``ExportConfigError`` names the first bad one."""
    fmt = _choice("format", options.format, FORMATS)
    uasgs = []
    for code in options.uasgs:
        if not isinstance(code, str) or not _UASG.match(code):
            raise ExportConfigError(
                "uasgs", f"{code!r} is not a UASG code (exactly 6 digits, leading zeros kept)"
            )
        uasgs.append(code)
    situacao = _choice("situacao", options.situacao, SITUACOES)
    vigente_em = parse_day("vigente_em", options.vigente_em) if options.vigente_em else None
    tabs = []
    for aba in options.include_tabs:
        tabs.append(_choice("include_tabs", aba, TABS))
    if tabs and fmt == "pdf":
        raise ExportConfigError("include_tabs", "tabs go along in csv, json, ndjson and xml only")
    delimiter = _choice("delimiter", options.delimiter, DELIMITERS)
    style = _choice("decimal", options.decimal, STYLES)
    if not isinstance(options.bom, bool):
        raise ExportConfigError("bom", f"{options.bom!r} is not true or false")
    return Request(
        format=fmt,
        filters=sql.Filters(tuple(dict.fromkeys(uasgs)), situacao, vigente_em),
        tabs=tuple(dict.fromkeys(tabs)),
        delimiter=delimiter,
        bom=options.bom,
        style=style,  # type: ignore[arg-type]
        nome_arquivo=options.nome_arquivo,
    )


@dataclass(frozen=True)
class Targets:
    main: Path
    tabs: dict[str, Path]  # CSV only: one file per tab


def targets(directory: Path, request: Request, now: datetime, run_id: str | None) -> Targets:
    """The file names: given (a plain name, the format's extension added if missing) or
    generated; each resolved inside ``directory`` (symlinks followed) or refused."""
    ext = f".{request.format}"
    if request.nome_arquivo:
        try:
            name = plain_name(request.nome_arquivo)
        except UnsafePathError as exc:
            raise ExportConfigError("nome_arquivo", str(exc)) from None
        suffix = Path(name).suffix.lower()
        if suffix != ext:
            if suffix in {f".{f}" for f in FORMATS}:
                raise ExportConfigError("nome_arquivo", f"{name!r} must end in {ext}")
            name += ext
    else:
        name = f"contratos_{now.astimezone(ZoneInfo(TIMEZONE)):%Y%m%d_%H%M%S}_"
        name += (run_id or uuid.uuid4().hex)[:8] + ext
    stem = name[: -len(ext)]
    try:
        main = inside(directory, name)
        tabs = {aba: inside(directory, f"{stem}_{aba}.csv") for aba in request.tabs}
    except UnsafePathError as exc:
        raise ExportConfigError("nome_arquivo", str(exc)) from None
    return Targets(main, tabs if request.format == "csv" else {})


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
                f"{thousands(total)} contracts match these filters; a PDF holds at most "
                f"{thousands(max_pdf_rows)} (narrow uasgs, situacao or vigente_em, or use "
                "csv, json, ndjson or xml, which have no limit)"
            )
        with contextlib.ExitStack() as files:
            sink = formatos.open_sink(request, paths, files, total, now)
            rows = 0
            for contracts in sql.stream_contracts(conn, request.filters, chunk):
                ids = [r["contrato_id"] for r in contracts]
                tabs = {aba: sql.tab_rows(conn, aba, ids) for aba in request.tabs}
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
