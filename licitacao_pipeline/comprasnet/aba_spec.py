"""The spec of a contract's tab (aba) and its pure parser; the converters only tabs use.

A spec declares, once, what a tab is: each warehouse column as (converter, path in the record),
which columns are personal data (left out of exports unless asked for, never shown in reject
reasons, metadata or logs), which the change history follows, how often it is due, and, for
records the server sends without an ``id``, the fields that identify one. The warehouse table,
the migration, the exports and the history follow from it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from licitacao_pipeline.comprasnet.json_stream import Unreadable
from licitacao_pipeline.comprasnet.parsing import (
    INT8,
    RecordError,
    content_hash,
    identifier,
    record_id,
    text,
)

Converter = Callable[[Any, str], Any]
Columns = Mapping[str, tuple[Converter, tuple[str, ...]]]


def json_value(value: Any, field: str) -> Any:
    if value is not None and not isinstance(value, (list, dict)):
        raise RecordError(f"{field}: esperava uma lista ou objeto, veio {type(value).__name__}")
    return value


def text_or_number(value: Any, field: str) -> str | None:
    """Codes that the API sends sometimes as numbers, sometimes as strings."""
    if isinstance(value, bool):
        raise RecordError(f"{field}: código inválido {value!r}")
    return None if value is None else text(value, field)


def descricao(value: Any, field: str) -> str | None:
    """A lookup's description: ``''`` (no lookup) and ``" - "`` (an empty "código - descrição"
    join) are NULL."""
    shown = text_or_number(value, field)
    return None if shown is None or shown.strip() in ("", "-") else shown


def sim_nao(value: Any, field: str) -> bool | None:
    """``"Sim"``/``"Não"`` -> True/False (the server renders NULL as ``"Não"``)."""
    if value is None or value == "":
        return None
    if value in ("Sim", "Não"):
        return value == "Sim"
    raise RecordError(f"{field}: esperava 'Sim' ou 'Não', veio {str(value)[:20]!r}")


_CPF = re.compile(r"[\d.*-]{11,14}")


def _usuario(value: Any, field: str) -> tuple[str | None, str | None]:
    """``"***.456.789-** - NOME"`` -> (masked CPF, name); a CPF sent in full is masked here."""
    shown = text(value, field)
    if shown is None or not shown.strip():
        return None, None
    doc, sep, nome = shown.partition(" - ")
    if not sep or not _CPF.fullmatch(doc.strip()):
        return None, shown.strip() or None
    digits = re.sub(r"\D", "", doc)
    if "*" not in doc and len(digits) == 11:  # unmasked (a JWT user's view): mask as the API does
        doc = f"***.{digits[3:6]}.{digits[6:9]}-**"
    return doc.strip(), nome.strip() or None


def cpf_mascarado(value: Any, field: str) -> str | None:
    return _usuario(value, field)[0]


def nome_usuario(value: Any, field: str) -> str | None:
    return _usuario(value, field)[1]


def _derived_id(record: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    """A stable id from the fields that identify a record sent without one."""
    if all(record.get(k) in (None, "") for k in keys):
        raise RecordError(f"id: ausente, e também {', '.join(keys)}")
    raw = "\x1f".join("" if record.get(k) is None else str(record.get(k)) for k in keys)
    return int.from_bytes(hashlib.sha256(raw.encode()).digest()[:8], "big") % INT8[1] or 1


@dataclass(frozen=True)
class AbaSpec:
    aba: str
    columns: Columns
    cadencia_horas: float  # due again after this many hours (LICITACAO_CADENCIA_ABAS overrides)
    descricao: str = ""  # what the tab holds, as the UI shows it
    pessoais: frozenset[str] = frozenset()  # personal data (LGPD)
    historico: tuple[str, ...] = ()  # the fields the change history follows
    chave_natural: tuple[str, ...] = ()  # fields naming a record that comes without ``id``
    singular: str = "registro"  # one record, as the XML export names its element

    def parse(self, record: Any, contrato_id: int) -> dict[str, Any]:
        """A tab record -> row. ``contrato_id`` comes from the URL called (empenhos lack it)."""
        if isinstance(record, Unreadable):
            raise RecordError(record.reason)
        if not isinstance(record, Mapping):
            raise RecordError(f"registro: esperava um objeto, veio {type(record).__name__}")
        rid = record.get("id")
        if rid is None and self.chave_natural:
            rid = _derived_id(record, self.chave_natural)
        row: dict[str, Any] = {"id": identifier(rid, "id"), "contrato_id": contrato_id}
        own = record.get("contrato_id")
        if own is not None and identifier(own, "contrato_id") != contrato_id:
            raise RecordError(f"contrato_id: o registro diz {own!r}, a URL diz {contrato_id}")
        for column, (convert, path) in self.columns.items():
            value: Any = record
            for key in path:
                if value is not None and not isinstance(value, Mapping):
                    raise RecordError(f"{'.'.join(path[:-1])}: esperava um objeto")
                value = None if value is None else value.get(key)
            try:
                row[column] = convert(value, ".".join(path))
            except RecordError:
                if column in self.pessoais:  # the reason must not carry the personal value
                    raise RecordError(f"{'.'.join(path)}: valor inválido (dado pessoal)") from None
                raise
        row["payload"] = dict(record)
        row["payload_hash"] = content_hash(record)
        return row


@dataclass(frozen=True)
class Snapshot:
    """One contract's tab as parsed: rows to store, ids seen (rejected ones included: they are
    not "removed") and the rejected records with their reasons."""

    rows: list[dict[str, Any]]
    seen: set[int]
    rejects: list[dict[str, Any]]


def parse_snapshot(spec: AbaSpec, contrato_id: int, records: list[Any]) -> Snapshot:
    """Every record of one contract's tab parsed; a bad or repeated record is rejected alone."""
    rows, seen, rejects = [], set(), []
    for record in records:
        rid = record_id(record)
        try:
            row = spec.parse(record, contrato_id)
        except RecordError as exc:
            rejects.append({"record_id": rid, "reason": str(exc), "payload": record})
        else:
            rid = row["id"]
            if rid in seen:
                rejects.append(
                    {"record_id": rid, "reason": "id repetido na aba", "payload": record}
                )
                continue
            rows.append(row)
        if rid is not None:
            seen.add(rid)
    return Snapshot(rows, seen, rejects)
