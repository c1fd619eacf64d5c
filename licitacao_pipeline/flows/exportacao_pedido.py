"""What an export is asked: the options as the job's config gives them, checked whole before any
work (``validate``), and the files they name, confined to the export directory (``targets``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from licitacao_pipeline import validators
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.errors import ConfigRecusada, Recusado
from licitacao_pipeline.files.cells import Style
from licitacao_pipeline.files.paths import UnsafePathError, inside, plain_name
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.warehouse import exportacao as sql

FORMATS = ("csv", "json", "ndjson", "xml", "pdf")
SITUACOES = ("ativo", "inativo", "todos")
DELIMITERS = (";", ",")
STYLES = ("br", "iso")
TABS = (*ABAS, "alteracoes", "sinais")  # tabs, the last 30 days' changes, open red flags


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
    incluir_dados_pessoais: bool = False


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
    dados_pessoais: bool = False  # names, CPFs, phones, salaries: left out unless asked

    def describe(self) -> dict[str, Any]:
        """The filters and options used, for the run's metadata."""
        out: dict[str, Any] = {
            "format": self.format,
            "uasgs": list(self.filters.uasgs),
            "situacao": self.filters.situacao,
            "vigente_em": self.filters.vigente_em.isoformat() if self.filters.vigente_em else None,
            "include_tabs": list(self.tabs),
            "incluir_dados_pessoais": self.dados_pessoais,
        }
        if self.format == "csv":
            out.update(delimiter=self.delimiter, bom=self.bom, decimal=self.style)
        return out


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ExportConfigError(name, f"{value!r} não está entre {', '.join(allowed)}")
    return value


def parse_day(name: str, value: str | date) -> date:
    """``2026-12-31`` or ``31/12/2026``."""
    if isinstance(value, date):
        return value
    if day := validators.parse_day(value):
        return day
    raise ExportConfigError(name, f"{value!r} não é uma data (2026-12-31 ou 31/12/2026)")


def validate(options: ExportOptions) -> Request:
    """Every option checked, before any work; ``ExportConfigError`` names the first bad one."""
    fmt = _choice("format", options.format, FORMATS)
    uasgs = []
    for code in options.uasgs:
        if not validators.is_uasg(code):
            raise ExportConfigError(
                "uasgs",
                f"{code!r} não é um código de UASG (exatamente 6 dígitos, com os zeros à esquerda)",
            )
        uasgs.append(code)
    situacao = _choice("situacao", options.situacao, SITUACOES)
    vigente_em = parse_day("vigente_em", options.vigente_em) if options.vigente_em else None
    tabs = []
    for aba in options.include_tabs:
        tabs.append(_choice("include_tabs", aba, TABS))
    if tabs and fmt == "pdf":
        raise ExportConfigError("include_tabs", "as abas vão junto só em csv, json, ndjson e xml")
    delimiter = _choice("delimiter", options.delimiter, DELIMITERS)
    style = _choice("decimal", options.decimal, STYLES)
    if not isinstance(options.bom, bool):
        raise ExportConfigError("bom", f"{options.bom!r} não é true nem false")
    if not isinstance(options.incluir_dados_pessoais, bool):
        raise ExportConfigError(
            "incluir_dados_pessoais", f"{options.incluir_dados_pessoais!r} não é true nem false"
        )
    return Request(
        format=fmt,
        filters=sql.Filters(tuple(dict.fromkeys(uasgs)), situacao, vigente_em),
        tabs=tuple(dict.fromkeys(tabs)),
        delimiter=delimiter,
        bom=options.bom,
        style=style,  # type: ignore[arg-type]
        nome_arquivo=options.nome_arquivo,
        dados_pessoais=options.incluir_dados_pessoais,
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
                raise ExportConfigError("nome_arquivo", f"{name!r} deve terminar em {ext}")
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
