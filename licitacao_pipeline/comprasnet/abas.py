"""Field specs and pure parsers of a contract's tabs (abas: historico, empenhos, itens, arquivos).

Each spec maps a warehouse column to (converter, path in the record); the warehouse tables are
derived from the same specs, so a column is declared once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from licitacao_pipeline.comprasnet.json_stream import Unreadable
from licitacao_pipeline.comprasnet.parsing import (
    RecordError,
    content_hash,
    day,
    decimal,
    identifier,
    integer,
    money,
    record_id,
    text,
    timestamp,
)

ABAS = ("historico", "empenhos", "itens", "arquivos")


def json_value(value: Any, field: str) -> Any:
    if value is not None and not isinstance(value, (list, dict)):
        raise RecordError(f"{field}: esperava uma lista ou objeto, veio {type(value).__name__}")
    return value


def text_or_number(value: Any, field: str) -> str | None:
    """Codes that the API sends sometimes as numbers, sometimes as strings."""
    if isinstance(value, bool):
        raise RecordError(f"{field}: código inválido {value!r}")
    return None if value is None else text(value, field)


Converter = Callable[[Any, str], Any]


@dataclass(frozen=True)
class AbaSpec:
    aba: str
    columns: Mapping[str, tuple[Converter, tuple[str, ...]]]

    def parse(self, record: Any, contrato_id: int) -> dict[str, Any]:
        """A tab record -> row. ``contrato_id`` comes from the URL called (empenhos lack it)."""
        if isinstance(record, Unreadable):
            raise RecordError(record.reason)
        if not isinstance(record, Mapping):
            raise RecordError(f"registro: esperava um objeto, veio {type(record).__name__}")
        row: dict[str, Any] = {"id": identifier(record.get("id"), "id"), "contrato_id": contrato_id}
        own = record.get("contrato_id")
        if own is not None and identifier(own, "contrato_id") != contrato_id:
            raise RecordError(f"contrato_id: o registro diz {own!r}, a URL diz {contrato_id}")
        for column, (convert, path) in self.columns.items():
            value: Any = record
            for key in path:
                if value is not None and not isinstance(value, Mapping):
                    raise RecordError(f"{'.'.join(path[:-1])}: esperava um objeto")
                value = None if value is None else value.get(key)
            row[column] = convert(value, ".".join(path))
        row["payload"] = dict(record)
        row["payload_hash"] = content_hash(record)
        return row


def _cols(conv: Converter, names: str) -> dict[str, tuple[Converter, tuple[str, ...]]]:
    return {n: (conv, (n,)) for n in names.split()}


def _nested(conv: Converter, prefix: str, obj: str, names: str):
    return {f"{prefix}_{n}": (conv, (obj, n)) for n in names.split()}


SPECS: dict[str, AbaSpec] = {
    "historico": AbaSpec(
        "historico",
        {
            **_cols(
                text,
                "receita_despesa numero observacao ug gestao codigo_tipo tipo categoria "
                "processo objeto modalidade licitacao_numero retroativo situacao_contrato",
            ),
            **_nested(text, "fornecedor", "fornecedor", "tipo cnpj_cpf_idgener nome"),
            **_cols(
                day,
                "data_assinatura data_publicacao vigencia_inicio vigencia_fim "
                "data_inicio_novo_valor",
            ),
            **_cols(
                money,
                "valor_inicial valor_global valor_parcela novo_valor_global "
                "novo_valor_parcela retroativo_valor",
            ),
            **_cols(integer, "num_parcelas novo_num_parcelas"),
            **_cols(json_value, "qualificacao_termo"),
            **_cols(timestamp, "criado_em alterado_em"),
        },
    ),
    "empenhos": AbaSpec(
        "empenhos",
        {
            **_cols(
                text,
                "unidade_gestora gestao numero credor fonte_recurso programa_trabalho "
                "planointerno naturezadespesa informacao_complementar sistema_origem",
            ),
            **_nested(text, "credor", "credor_obj", "cnpj_cpf_idgener nome tipo"),
            **_cols(day, "data_emissao"),
            **_cols(
                money,
                "empenhado aliquidar liquidado pago rpinscrito rpaliquidar rpliquidado rppago",
            ),
        },
    ),
    "itens": AbaSpec(
        "itens",
        {
            **_cols(
                text_or_number, "tipo_id tipo_material grupo_id catmatseritem_id numero_item_compra"
            ),
            **_cols(text, "descricao_complementar"),
            **_cols(decimal, "quantidade"),
            **_cols(money, "valorunitario valortotal"),
        },
    ),
    "arquivos": AbaSpec(
        "arquivos",
        _cols(text, "tipo processo sequencial_documento descricao path_arquivo origem link_sei"),
    ),
}


@dataclass(frozen=True)
class Snapshot:
    """One contract's tab as parsed: rows to store, ids seen (rejected ones included: they are
    not "removed") and the rejected records with their reasons."""

    rows: list[dict[str, Any]]
    seen: set[int]
    rejects: list[dict[str, Any]]


def parse_snapshot(aba: str, contrato_id: int, records: list[Any]) -> Snapshot:
    """Every record of one contract's tab parsed; a bad or repeated record is rejected alone."""
    spec = SPECS[aba]
    rows, seen, rejects = [], set(), []
    for record in records:
        rid = record_id(record)
        try:
            row = spec.parse(record, contrato_id)
        except RecordError as exc:
            rejects.append({"record_id": rid, "reason": str(exc), "payload": record})
        else:
            if row["id"] in seen:
                rejects.append(
                    {"record_id": rid, "reason": "duplicate id in tab", "payload": record}
                )
                continue
            rows.append(row)
        if rid is not None:
            seen.add(rid)
    return Snapshot(rows, seen, rejects)
