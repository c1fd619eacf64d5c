"""SQL of the exports: the contracts matching the filters (with their UASG's name and their
follow-up from ``acompanhamento``), read through a server-side cursor in chunks, and the rows
of their tabs (and of their recent changes, view ``alteracoes_recentes``) fetched per chunk of
contracts.

The caller opens the transaction (``read_snapshot``): one REPEATABLE READ, READ ONLY snapshot,
so the count, the contracts and their tabs agree with each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.abas import SPECS
from licitacao_pipeline.files.cells import Kind
from licitacao_pipeline.warehouse.tables import ABA_TABLES, contratos_alteracoes, sinais_alerta


def _designados(funcao: str) -> str:
    """SQL: the active designations of a role (``funcao_id`` starting with it), by name."""
    return (
        "(SELECT string_agg(r.usuario_nome, ', ' ORDER BY r.data_inicio, r.id) "
        "FROM contratos_responsaveis r WHERE r.contrato_id = c.id AND r.removido_em IS NULL "
        f"AND r.situacao = 'Ativo' AND r.funcao_id ILIKE '{funcao}%')"
    )


# (name, kind, SQL expression) of each exported contract column, in file order.
CONTRATO_COLUMNS: list[tuple[str, Kind, str]] = [
    ("contrato_id", "int", "c.id"),
    ("uasg", "text", "c.uasg"),
    ("unidade_nome", "text", "coalesce(u.nome, c.unidade_gestora_nome)"),
    ("numero", "text", "c.numero"),
    ("tipo", "text", "c.tipo"),
    ("categoria", "text", "c.categoria"),
    ("processo", "text", "c.processo"),
    ("modalidade", "text", "c.modalidade"),
    ("objeto", "text", "c.objeto"),
    ("fornecedor_tipo", "text", "c.fornecedor_tipo"),
    ("fornecedor_documento", "text", "c.fornecedor_cnpj_cpf_idgener"),
    ("fornecedor_nome", "text", "c.fornecedor_nome"),
    ("situacao", "text", "c.situacao"),
    ("data_assinatura", "date", "c.data_assinatura"),
    ("vigencia_inicio", "date", "c.vigencia_inicio"),
    ("vigencia_fim", "date", "c.vigencia_fim"),
    ("valor_inicial", "money", "c.valor_inicial"),
    ("valor_global", "money", "c.valor_global"),
    ("valor_parcela", "money", "c.valor_parcela"),
    ("valor_acumulado", "money", "c.valor_acumulado"),
    ("num_parcelas", "int", "c.num_parcelas"),
    ("gestor", "text", "a.gestor"),
    ("fiscal", "text", "a.fiscal"),
    ("prioridade", "text", "a.prioridade"),
    ("observacao", "text", "a.observacao"),
    ("alertar_em", "date", "a.alertar_em"),
    # the official gestor / fiscal, as ComprasNet's tab responsaveis designates them (names:
    # personal data, exported only when asked), beside the follow-up's
    ("gestor_oficial", "text", _designados("gestor")),
    ("fiscal_oficial", "text", _designados("fiscal")),
]
CONTRATO_PESSOAIS = frozenset({"gestor_oficial", "fiscal_oficial"})
CONTRATO_FIELDS: list[tuple[str, Kind]] = [(n, k) for n, k, _ in CONTRATO_COLUMNS]
# Tracking columns of the tab tables are not exported (neither is the raw payload).
_NOT_EXPORTED = {"payload", "payload_hash", "primeiro_visto_em", "atualizado_em", "removido_em"}


def _kind(column: sa.Column) -> Kind:
    t = column.type
    if isinstance(t, JSONB):
        return "json"
    if isinstance(t, sa.Numeric):
        return "money" if t.scale == 2 else "decimal"
    if isinstance(t, sa.DateTime):
        return "timestamp"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, (sa.BigInteger, sa.Integer)):
        return "int"
    return "text"


# Per tab: (name, kind) of its exported columns, ``contrato_id`` and ``id`` first; and
# ``alteracoes``, the contract's changes of the last 30 days (its UASG is the contract's).
TAB_FIELDS: dict[str, list[tuple[str, Kind]]] = {
    aba: [(c.name, _kind(c)) for c in table.columns if c.name not in _NOT_EXPORTED]
    for aba, table in ABA_TABLES.items()
}
TAB_FIELDS["alteracoes"] = [(c.name, _kind(c)) for c in contratos_alteracoes.c if c.name != "uasg"]
# ``sinais``: the contract's open red flags (view sinais_abertos), with their evidence.
_SINAIS_NOT_EXPORTED = {"uasg", "resolvido_em"}
TAB_FIELDS["sinais"] = [
    ("contrato_id", "int"),
    ("id", "int"),
    *(
        (c.name, _kind(c))
        for c in sinais_alerta.c
        if c.name not in {"id", "contrato_id"} and c.name not in _SINAIS_NOT_EXPORTED
    ),
]
# Personal data (LGPD) per tab, as each spec marks it: exported only when asked.
PESSOAIS: dict[str, frozenset[str]] = {aba: SPECS[aba].pessoais for aba in ABA_TABLES}


def contrato_fields(pessoais: bool = False) -> list[tuple[str, Kind]]:
    """The contract's exported columns; without ``pessoais`` the personal ones left out."""
    return [(n, k) for n, k in CONTRATO_FIELDS if pessoais or n not in CONTRATO_PESSOAIS]


def tab_fields(aba: str, pessoais: bool = False) -> list[tuple[str, Kind]]:
    """A tab's exported columns (``contrato_id`` and ``id`` first); without ``pessoais`` the
    personal ones left out."""
    hidden = () if pessoais else PESSOAIS.get(aba, ())
    return [(n, k) for n, k in TAB_FIELDS[aba] if n not in hidden]


# Where each tab's rows come from: (relation, condition, order).
_TAB_SOURCES = {
    **{aba: (f"contratos_{aba}", "removido_em IS NULL", "id") for aba in ABA_TABLES},
    "alteracoes": ("alteracoes_recentes", "true", "visto_em, origem, registro_id, campo"),
    "sinais": (
        "sinais_abertos",
        "true",
        "CASE severidade WHEN 'alta' THEN 0 WHEN 'media' THEN 1 ELSE 2 END, regra, id",
    ),
}


@dataclass(frozen=True)
class Filters:
    uasgs: Sequence[str] = ()  # empty: every UASG
    situacao: str = "todos"  # ativo: situacao 'Ativo'; inativo: any other; todos
    vigente_em: date | None = None  # vigencia_inicio <= day <= vigencia_fim


def _where(f: Filters) -> tuple[str, dict[str, Any]]:
    clauses, params = ["c.removido_em IS NULL"], {}
    if f.uasgs:
        clauses.append("c.uasg = ANY(:uasgs)")
        params["uasgs"] = list(f.uasgs)
    if f.situacao == "ativo":
        clauses.append("c.situacao = 'Ativo'")
    elif f.situacao == "inativo":
        clauses.append("c.situacao IS DISTINCT FROM 'Ativo'")
    if f.vigente_em is not None:
        clauses.append("c.vigencia_inicio <= :dia AND c.vigencia_fim >= :dia")
        params["dia"] = f.vigente_em
    return " AND ".join(clauses), params


_FROM = """
FROM contratos c
LEFT JOIN unidades u ON u.codigo = c.uasg
LEFT JOIN acompanhamento a ON a.contrato_id = c.id
"""


@contextlib.contextmanager
def read_snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """A connection in one REPEATABLE READ, READ ONLY transaction (rolled back at the end)."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn


def count_contracts(conn: sa.Connection, filters: Filters) -> int:
    where, params = _where(filters)
    return conn.execute(sa.text(f"SELECT count(*) {_FROM} WHERE {where}"), params).scalar_one()


def stream_contracts(
    conn: sa.Connection, filters: Filters, chunk: int, pessoais: bool = False
) -> Iterator[list[Mapping[str, Any]]]:
    """The matching contracts, ordered by UASG, número and id, ``chunk`` rows at a time from
    a server-side cursor: memory does not grow with the number of contracts."""
    where, params = _where(filters)
    shown = {n for n, _ in contrato_fields(pessoais)}
    select = ", ".join(f"{expr} AS {name}" for name, _, expr in CONTRATO_COLUMNS if name in shown)
    query = f"SELECT {select} {_FROM} WHERE {where} ORDER BY c.uasg, c.numero, c.id"
    result = conn.execute(sa.text(query), params, execution_options={"stream_results": True})
    try:
        for part in result.yield_per(chunk).mappings().partitions():
            yield list(part)
    finally:
        result.close()


def tab_rows(
    conn: sa.Connection, aba: str, contrato_ids: Sequence[int], pessoais: bool = False
) -> dict[int, list[Mapping[str, Any]]]:
    """The rows of tab ``aba`` (not removed) of these contracts, by contract, ordered by id
    (``alteracoes``: by when they were seen); personal columns only with ``pessoais``."""
    columns = ", ".join(name for name, _ in tab_fields(aba, pessoais))
    relation, condition, order = _TAB_SOURCES[aba]
    query = (
        f"SELECT {columns} FROM {relation} "
        f"WHERE contrato_id = ANY(:ids) AND {condition} ORDER BY contrato_id, {order}"
    )
    out: dict[int, list[Mapping[str, Any]]] = {cid: [] for cid in contrato_ids}
    for row in conn.execute(sa.text(query), {"ids": list(contrato_ids)}).mappings():
        out[row["contrato_id"]].append(row)
    return out
