"""Pure parsing of ComprasNet records into typed warehouse rows (no I/O).

Money arrives as Brazilian strings ("1.234,56"), dates as "YYYY-MM-DD", timestamps as ISO UTC.
A value that does not fit raises ``RecordError``; callers record the rejection and go on.
"Fit" means the warehouse column can hold it: integers within int4/int8, money within
NUMERIC(18,2) (16 integer digits), decimals within PostgreSQL's NUMERIC, text without NUL;
ids (``id``, ``contrato_id``) are JSON integers from 1 to 2^63-1, as the API sends them
(``shared/comprasnet-api-server-2021.md`` §0.3), never strings.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from licitacao_pipeline.comprasnet.json_stream import Unreadable
from licitacao_pipeline.textos import curto

# Part of every content hash: bump it when a parser change must re-parse rows whose source
# record did not change (the unchanged-hash shortcut would otherwise keep the old parse).
PARSER_VERSION = 2

_MONEY = re.compile(r"-?(?:\d{1,3}(?:\.\d{3})+|\d+),\d{2}")
_DECIMAL = re.compile(r"-?(\d+)(?:\.(\d+))?")
INT4 = (-(2**31), 2**31 - 1)
INT8 = (-(2**63), 2**63 - 1)
MONEY_DIGITS = 16  # NUMERIC(18,2): 16 digits before the decimal point
# PostgreSQL's NUMERIC without a precision: 131072 digits before the point, 16383 after.
NUMERIC_DIGITS = (131072, 16383)


class RecordError(ValueError):
    """A record that cannot be stored as it is: the message says which field and why."""


def _shown(value: Any) -> str:
    """A value as a reject reason shows it: its repr, at most 80 characters."""
    return curto(repr(value), 80)


def money(value: Any, field: str = "valor") -> Decimal | None:
    """``"1.234,56"`` -> ``Decimal("1234.56")`` exactly; ``None``/``""`` -> ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(
            f"{field}: valor monetário deve ser um texto como '1.234,56', veio {_shown(value)}"
        )
    if isinstance(value, int):
        amount = Decimal(value)
    else:
        text = value.strip()
        if not _MONEY.fullmatch(text):
            raise RecordError(
                f"{field}: valor monetário inválido {_shown(value)} (esperava como '1.234,56')"
            )
        amount = Decimal(text.replace(".", "").replace(",", "."))
    if abs(amount) >= 10**MONEY_DIGITS:
        raise RecordError(
            f"{field}: {_shown(value)} passa de {MONEY_DIGITS} dígitos inteiros (NUMERIC(18,2))"
        )
    return amount


def decimal(value: Any, field: str) -> Decimal | None:
    """A raw decimal (``"12.5000"`` or a JSON number), as used by ``itens.quantidade``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"{field}: decimal inválido {value!r}")
    text = str(value).strip()  # a float's str is its shortest repr: 0.1 -> "0.1"
    found = _DECIMAL.fullmatch(text)
    if not found:
        raise RecordError(f"{field}: decimal inválido {_shown(value)}")
    whole, frac = len(found[1].lstrip("0")), len(found[2] or "")
    if whole > NUMERIC_DIGITS[0] or frac > NUMERIC_DIGITS[1]:
        raise RecordError(f"{field}: {_shown(value)} não cabe em NUMERIC do PostgreSQL")
    return Decimal(text)


def day(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{field}: data inválida {_shown(value)} (esperava AAAA-MM-DD)") from None


def timestamp(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        parsed = datetime.fromisoformat(value)  # Python >= 3.11 also reads "...Z"
    except ValueError:
        raise RecordError(f"{field}: data e hora inválidas {_shown(value)}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def integer(
    value: Any, field: str, required: bool = False, bounds: tuple[int, int] = INT8
) -> int | None:
    """A JSON integer or a string of digits, within ``bounds`` (the column's range)."""
    if value is None or value == "":
        if required:
            raise RecordError(f"{field}: ausente")
        return None
    if isinstance(value, bool):
        raise RecordError(f"{field}: inteiro inválido {_shown(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?\d{1,30}", value.strip()):
        number = int(value)
    else:
        raise RecordError(f"{field}: inteiro inválido {_shown(value)}")
    if not bounds[0] <= number <= bounds[1]:
        raise RecordError(
            f"{field}: {_shown(value)} fora do intervalo da coluna ({bounds[0]} a {bounds[1]})"
        )
    return number


def int4(value: Any, field: str) -> int | None:
    """An ``integer`` column (int4), such as the contract's ``num_parcelas``."""
    return integer(value, field, bounds=INT4)


def identifier(value: Any, field: str) -> int:
    """An id: a JSON integer from 1 to 2^63-1 (a string, even of digits, is not one)."""
    if value is None or value == "":
        raise RecordError(f"{field}: ausente")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= INT8[1]:
        raise RecordError(
            f"{field}: {_shown(value)} não é um id (um inteiro JSON de 1 a {INT8[1]})"
        )
    return value


def text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise RecordError(f"{field}: esperava texto, veio {type(value).__name__}")
    shown = str(value)
    if "\x00" in shown:
        raise RecordError(f"{field}: contém o caractere NUL (U+0000), que o PostgreSQL recusa")
    return shown


def content_hash(record: Mapping[str, Any], ignore: tuple[str, ...] = ("links",)) -> str:
    """SHA-256 of the parser version and the canonical JSON of a record (``links`` ignored)."""
    content = {k: v for k, v in record.items() if k not in ignore}
    canonical = json.dumps(  # pragma: no mutate (ensure_ascii=None is False: an equivalent)
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(f"v{PARSER_VERSION}:{canonical}".encode()).hexdigest()


def _obj(record: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    node: Any = record
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
        if node is None:
            return {}
    if not isinstance(node, Mapping):
        raise RecordError(f"{'.'.join(path)}: esperava um objeto, veio {type(node).__name__}")
    return node


Converter = Callable[[Any, str], Any]
TEXT_FIELDS = [
    "receita_despesa",
    "numero",
    "codigo_tipo",
    "tipo",
    "subtipo",
    "prorrogavel",
    "situacao",
    "justificativa_inativo",
    "categoria",
    "subcategoria",
    "unidades_requisitantes",
    "processo",
    "objeto",
    "amparo_legal",
    "informacao_complementar",
    "codigo_modalidade",
    "modalidade",
    "unidade_compra",
    "licitacao_numero",
]
DATE_FIELDS = [
    "data_assinatura",
    "data_publicacao",
    "data_proposta_comercial",
    "vigencia_inicio",
    "vigencia_fim",
]
MONEY_FIELDS = ["valor_inicial", "valor_global", "valor_parcela", "valor_acumulado"]


def _fields(record: Mapping[str, Any], spec: Mapping[str, Converter]) -> dict[str, Any]:
    return {name: conv(record.get(name), name) for name, conv in spec.items()}


CONTRATO_SPEC: dict[str, Converter] = {
    **{f: text for f in TEXT_FIELDS},
    **{f: day for f in DATE_FIELDS},
    **{f: money for f in MONEY_FIELDS},
    "num_parcelas": int4,
}


def parse_contrato(record: Any, uasg: str, payload_hash: str | None = None) -> dict[str, Any]:
    """One listing (or ``/id``) record -> a ``contratos`` row with typed, flattened columns."""
    if isinstance(record, Unreadable):
        raise RecordError(record.reason)
    if not isinstance(record, Mapping):
        raise RecordError(f"registro: esperava um objeto, veio {type(record).__name__}")
    row = {"id": identifier(record.get("id"), "id"), "uasg": uasg}
    row.update(_fields(record, CONTRATO_SPEC))
    orgao = _obj(record, "contratante", "orgao")
    ug = _obj(orgao, "unidade_gestora")
    origem = _obj(record, "contratante", "orgao_origem")
    ug_origem = _obj(origem, "unidade_gestora_origem")
    fornecedor = _obj(record, "fornecedor")
    row.update(
        orgao_codigo=text(orgao.get("codigo"), "contratante.orgao.codigo"),
        orgao_nome=text(orgao.get("nome"), "contratante.orgao.nome"),
        unidade_gestora_codigo=text(ug.get("codigo"), "unidade_gestora.codigo"),
        unidade_gestora_nome=text(ug.get("nome"), "unidade_gestora.nome"),
        unidade_gestora_nome_resumido=text(
            ug.get("nome_resumido"), "unidade_gestora.nome_resumido"
        ),
        orgao_origem_codigo=text(origem.get("codigo"), "orgao_origem.codigo"),
        orgao_origem_nome=text(origem.get("nome"), "orgao_origem.nome"),
        unidade_gestora_origem_codigo=text(
            ug_origem.get("codigo"), "unidade_gestora_origem.codigo"
        ),
        unidade_gestora_origem_nome=text(ug_origem.get("nome"), "unidade_gestora_origem.nome"),
        fornecedor_tipo=text(fornecedor.get("tipo"), "fornecedor.tipo"),
        fornecedor_cnpj_cpf_idgener=text(
            fornecedor.get("cnpj_cpf_idgener"), "fornecedor.cnpj_cpf_idgener"
        ),
        fornecedor_nome=text(fornecedor.get("nome"), "fornecedor.nome"),
        payload=dict(record),
        payload_hash=payload_hash or content_hash(record),
    )
    return row


def uasg_of(record: Any) -> str | None:
    """The UASG code a contract record belongs to (``contratante.orgao.unidade_gestora``)."""
    try:
        codigo = _obj(record, "contratante", "orgao", "unidade_gestora").get("codigo")
        return text(codigo, "codigo")  # pragma: no mutate (swallowed: the field name is unread)
    except RecordError:
        return None


def unidade_of(record: Any) -> dict[str, str | None] | None:
    """Name and órgão of the UASG as a contract record states them, or None if absent."""
    try:
        orgao = _obj(record, "contratante", "orgao")
        ug = _obj(orgao, "unidade_gestora")
        values = {
            "codigo": ug.get("codigo"),
            "nome": ug.get("nome"),
            "nome_resumido": ug.get("nome_resumido"),
            "orgao_codigo": orgao.get("codigo"),
            "orgao_nome": orgao.get("nome"),
        }
        row = {k: text(v, k) for k, v in values.items()}  # pragma: no mutate (as in uasg_of)
    except RecordError:
        return None
    return row if row["codigo"] and row["nome"] else None


def record_id(record: Any) -> int | None:
    """Best-effort id of a record, even a malformed one (for removal bookkeeping): any integer
    a bigint holds, also written as a string."""
    if isinstance(record, Unreadable):
        return record.record_id
    try:
        rid = record.get("id") if isinstance(record, Mapping) else None
        return integer(rid, "id")  # pragma: no mutate (swallowed: the field name is unread)
    except RecordError:
        return None


def within_vigencia(row: Mapping[str, Any], today: date, janela_dias: int | None) -> bool:
    """The vigência window: keep contracts whose vigência ended at most N days ago."""
    if janela_dias is None or row.get("vigencia_fim") is None:
        return True
    return (today - row["vigencia_fim"]).days <= janela_dias
