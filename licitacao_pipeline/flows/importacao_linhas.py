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
            f"{name} linha 1: sem cabeçalho (esperava {delimiter.join(COLUMNS)} na primeira linha)"
        )
    names = [header_name(c) for c in row]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise ImportFileError(f"{name} linha 1: a coluna {repeated[0]!r} se repete")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        other = next(d for d in DELIMITERS if d != delimiter)
        hint = ""
        if len(row) == 1 and all(c in header_name(row[0]).split(other) for c in COLUMNS):
            hint = f"; o arquivo parece usar {other!r}: defina delimiter como {other!r}"
        falta = "faltam as colunas" if len(missing) > 1 else "falta a coluna"
        raise ImportFileError(
            f"{name} linha 1: cabeçalho errado, {falta} "
            f"{', '.join(missing)} (esperava {delimiter.join(COLUMNS)}; outras colunas são "
            f"ignoradas){hint}"
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
            f"{name}: {len(value):,} caracteres (no máximo {MAX_CHARS[name]:,})".replace(",", ".")
        )
    row.values[name] = value or None


def _prioridade(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in plain if not unicodedata.combining(c))


def validate_row(line: int, cells_list: list[str], header: Sequence[str]) -> _Row:
    """Field checks of one row (the contract's existence and duplicates are checked after)."""
    row = _Row(line, cells_list)
    if len(cells_list) != len(header):
        row.problems.append(f"{len(cells_list)} valores para {len(header)} colunas")
        return row
    cells = dict(zip(header, cells_list, strict=True))
    uasg, numero = cells["uasg"].strip(), cells["numero"].strip()
    if not uasg:
        row.problems.append("uasg: ausente")
    elif not is_uasg(uasg):
        row.problems.append(
            f"uasg: {uasg!r} não é um código de UASG (exatamente 6 dígitos, com os zeros à "
            "esquerda: 012345)"
        )
    if not numero:
        row.problems.append("numero: ausente")
    elif not _NUMERO.match(numero):
        row.problems.append(f"numero: {numero!r} não é um número de contrato como 00013/2026")
    if not row.problems:
        row.key = (uasg, numero)
    given_id = cells.get(ID_COLUMN, "").strip()
    if given_id and not _ID.match(given_id):
        row.problems.append(f"contrato_id: {given_id!r} não é um id de contrato (dígitos)")
        row.key = None  # the row names no contract
    elif given_id:
        row.contrato_id = int(given_id)
    for name in ("gestor", "fiscal", "observacao"):
        _text(row, cells, name)
    prioridade = _prioridade(cells["prioridade"])
    if prioridade and prioridade not in PRIORIDADES:
        row.problems.append(
            f"prioridade: {cells['prioridade'].strip()!r} não está entre {', '.join(PRIORIDADES)}"
        )
    row.values["prioridade"] = prioridade or None
    alertar = cells["alertar_em"].strip()
    row.values["alertar_em"] = None
    if alertar:
        day = parse_day(alertar)
        if day is None:
            row.problems.append(
                f"alertar_em: {alertar!r} não é uma data (31/12/2026 ou 2026-12-31)"
            )
        elif day.year not in _YEARS:
            row.problems.append(f"alertar_em: ano {day.year} fora do intervalo (2000-2100)")
        else:
            row.values["alertar_em"] = day
    return row


# --- the use case -------------------------------------------------------------------------------
