"""One follow-up spreadsheet row checked on its own (the header, each cell's format); what needs
the warehouse (the contract exists, is not ambiguous) is checked by the import's loader."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from licitacao_pipeline.files.cells import unneutralize
from licitacao_pipeline.flows.importacao_arquivo import ImportFileError
from licitacao_pipeline.validators import is_uasg, parse_day
from licitacao_pipeline.warehouse.tables import PRIORIDADES

COLUMNS = ("uasg", "numero", "gestor", "fiscal", "prioridade", "observacao", "alertar_em")
# Optional: names the contract when uasg + numero do not (ComprasNet repeats some números within
# a UASG); the exports write it, so an exported file is imported back without ambiguity.
ID_COLUMN = "contrato_id"
DELIMITERS = (";", ",")
MAX_CHARS = {"gestor": 200, "fiscal": 200, "observacao": 4000}
_NUMERO = re.compile(r"^\d{5}/\d{4}$")
_ID = re.compile(r"^\d{1,18}$")
_YEARS = range(2000, 2101)


def header_name(cell: str) -> str:
    """``" Número "`` -> ``numero``; ``"Alertar em"`` -> ``alertar_em``."""
    text = unicodedata.normalize("NFKD", cell.strip().lstrip("\ufeff").strip())
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[\s-]+", "_", text)


def _header(row: list[str] | None, name: str, delimiter: str) -> list[str]:
    if not row or not any(c.strip() for c in row):
        raise ImportFileError(
            f"{name} line 1: no header (expected {delimiter.join(COLUMNS)} as the first line)"
        )
    names = [header_name(c) for c in row]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise ImportFileError(f"{name} line 1: column {repeated[0]!r} is repeated")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        other = next(d for d in DELIMITERS if d != delimiter)
        hint = ""
        if len(row) == 1 and all(c in header_name(row[0]).split(other) for c in COLUMNS):
            hint = f"; the file seems to use {other!r}: set delimiter to {other!r}"
        raise ImportFileError(
            f"{name} line 1: wrong header, missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (expected {delimiter.join(COLUMNS)}; other columns are "
            f"ignored){hint}"
        )
    return names


# --- one row ------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    cells: list[str]
    key: tuple[str, str] | None = None  # (uasg, numero) when both are well-formed
    contrato_id: int | None = None  # from the optional contrato_id column
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _text(row: _Row, cells: dict[str, str], name: str) -> None:
    value = unneutralize(cells[name].strip())
    if len(value) > MAX_CHARS[name]:
        row.problems.append(
            f"{name}: {len(value):,} characters (at most {MAX_CHARS[name]:,})".replace(",", ".")
        )
    row.values[name] = value or None


def _prioridade(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in plain if not unicodedata.combining(c))


def validate_row(line: int, cells_list: list[str], header: Sequence[str]) -> _Row:
    """Field checks of one row (the contract's existence and duplicates are checked after)."""
    row = _Row(line, cells_list)
    if len(cells_list) != len(header):
        row.problems.append(f"{len(cells_list)} values for {len(header)} columns")
        return row
    cells = dict(zip(header, cells_list, strict=True))
    uasg, numero = cells["uasg"].strip(), cells["numero"].strip()
    if not uasg:
        row.problems.append("uasg: missing")
    elif not is_uasg(uasg):
        row.problems.append(
            f"uasg: {uasg!r} is not a UASG code (exactly 6 digits, leading zeros kept: 012345)"
        )
    if not numero:
        row.problems.append("numero: missing")
    elif not _NUMERO.match(numero):
        row.problems.append(f"numero: {numero!r} is not a contract number like 00013/2026")
    if not row.problems:
        row.key = (uasg, numero)
    given_id = cells.get(ID_COLUMN, "").strip()
    if given_id and not _ID.match(given_id):
        row.problems.append(f"contrato_id: {given_id!r} is not a contract id (digits)")
        row.key = None  # the row names no contract
    elif given_id:
        row.contrato_id = int(given_id)
    for name in ("gestor", "fiscal", "observacao"):
        _text(row, cells, name)
    prioridade = _prioridade(cells["prioridade"])
    if prioridade and prioridade not in PRIORIDADES:
        row.problems.append(
            f"prioridade: {cells['prioridade'].strip()!r} is not one of {', '.join(PRIORIDADES)}"
        )
    row.values["prioridade"] = prioridade or None
    alertar = cells["alertar_em"].strip()
    row.values["alertar_em"] = None
    if alertar:
        day = parse_day(alertar)
        if day is None:
            row.problems.append(f"alertar_em: {alertar!r} is not a date (31/12/2026 or 2026-12-31)")
        elif day.year not in _YEARS:
            row.problems.append(f"alertar_em: year {day.year} is out of range (2000-2100)")
        else:
            row.values["alertar_em"] = day
    return row


# --- the use case -------------------------------------------------------------------------------
