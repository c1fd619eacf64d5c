"""SQL of the change history (``contratos_alteracoes``): one row per changed field, written in
the transaction that changes the row.

A writer takes a **before-image** of the rows it may change (``antes_*``: only rows whose
content hash differs, removed ones, or those about to be removed, so an unchanged sync reads a
few ids and writes nothing), writes as usual, then ``registrar`` compares the stored rows with
the before-image column by column (``IS DISTINCT FROM``) in one ``INSERT ... SELECT``. Values
keep their type: money and counts in ``valor_*_numerico``, dates in ``valor_*_data``, the rest in
``valor_*_texto``.

Events: ``inserido`` (one row per non-NULL field of a new row), ``alterado``, ``removido`` and
``reaparecido`` (field ``removido_motivo``: NULL -> motivo and back). The first time the
warehouse sees a UASG's listing, or a contract's tab, is the **baseline**: its rows are not
reported as insertions. So replaying the events over the baseline gives every later state.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from licitacao_pipeline.comprasnet.abas import SPECS
from licitacao_pipeline.warehouse.tables import ABA_TABLES, CONTRATO_DATA_COLUMNS, contratos

REMOVIDO_DA_ABA = "ausente_da_aba"  # removido_motivo of a tab record that left its tab
MOTIVO = "removido_motivo"


@dataclass(frozen=True)
class Origem:
    """Where events come from: the table, its tracked fields and how a row names its contract."""

    nome: str
    tabela: sa.Table
    campos: tuple[str, ...]
    contrato: str  # column holding the contract id ("id" for contratos itself)

    def motivo(self, alias: str) -> str:
        """SQL of ``removido_motivo`` of a row (tab records have none: a fixed motivo)."""
        if "removido_motivo" in self.tabela.c:
            return f"{alias}.removido_motivo"
        return f"CASE WHEN {alias}.removido_em IS NULL THEN NULL ELSE '{REMOVIDO_DA_ABA}' END"


# Every typed column of a contract as the warehouse stores it (nested objects flattened).
_CONTRATO_FIELDS = tuple(
    c for c in CONTRATO_DATA_COLUMNS if c not in ("id", "payload", "payload_hash")
)
ORIGENS: dict[str, Origem] = {
    "contrato": Origem("contrato", contratos, _CONTRATO_FIELDS, "id"),
    # per tab, the fields its spec follows: a new aditivo and what it changed, a new empenho
    # and its values, a fatura's situação and values, who entered or left a role ...
    **{
        aba: Origem(aba, ABA_TABLES[aba], spec.historico, "contrato_id")
        for aba, spec in SPECS.items()
        if spec.historico
    },
}
ABAS_COM_HISTORICO = frozenset(o for o in ORIGENS if o != "contrato")


def tipo(column: sa.Column) -> str:
    """``numerico``, ``data`` or ``texto``: which typed value columns hold this field."""
    if isinstance(column.type, (sa.Numeric, sa.Integer)):
        return "numerico"
    if isinstance(column.type, sa.Date):
        return "data"
    return "texto"


@dataclass(frozen=True)
class Visto:
    """One sync's identity in the history: its instant, run and whether new rows are events."""

    em: datetime
    run_id: str | None
    insercoes: bool  # False on the UASG's first sync: its contracts are the baseline


def visto(conn: sa.Connection, uasg: str, run_id: str | None) -> Visto:
    """Call after taking the UASG's lock: writers of a UASG then see increasing instants."""
    em, insercoes = conn.execute(
        sa.text("SELECT clock_timestamp(), EXISTS (SELECT 1 FROM contratos WHERE uasg = :u)"),
        {"u": uasg},
    ).one()
    return Visto(em, run_id, insercoes)


_ANTES_CONTRATOS = sa.text(
    "SELECT CAST(coalesce(jsonb_agg(to_jsonb(t) - 'payload'), '[]') AS text) "
    "FROM contratos t WHERE t.id = ANY(CAST(:ids AS bigint[]))"
)


def antes_contratos(conn: sa.Connection, ids: Sequence[int]) -> str:
    """Before-image (JSON text: exact numbers, ISO dates) of the stored contracts among ids."""
    return conn.execute(_ANTES_CONTRATOS, {"ids": list(ids)}).scalar_one()


@functools.cache
def _antes_aba(aba: str) -> sa.TextClause:
    # Rows of these contracts that the write may change: listed with another hash, listed but
    # removed (they come back), or not listed and not removed (they will be removed).
    return sa.text(
        f"""
        SELECT CAST(coalesce(jsonb_agg(to_jsonb(t) - 'payload'), '[]') AS text)
        FROM contratos_{aba} t
        LEFT JOIN unnest(CAST(:row_cids AS bigint[]), CAST(:row_ids AS bigint[]),
                         CAST(:row_hashes AS text[])) AS n(cid, id, h)
          ON n.cid = t.contrato_id AND n.id = t.id
        WHERE t.contrato_id = ANY(CAST(:cids AS bigint[]))
          AND CASE WHEN n.id IS NULL THEN t.removido_em IS NULL
                   ELSE t.removido_em IS NOT NULL OR t.payload_hash <> n.h END
        """
    )


def antes_aba(
    conn: sa.Connection, aba: str, cids: Sequence[int], rows: Sequence[Mapping[str, Any]]
) -> str:
    """Before-image of the tab rows of contracts ``cids`` that writing ``rows`` may change."""
    params = {
        "cids": list(cids),
        "row_cids": [r["contrato_id"] for r in rows],
        "row_ids": [r["id"] for r in rows],
        "row_hashes": [r["payload_hash"] for r in rows],
    }
    return conn.execute(_antes_aba(aba), params).scalar_one()


def _values(origem: Origem) -> str:
    """One VALUES row per tracked field: (campo, texto a/n, numerico a/n, data a/n)."""
    nulls = {"texto": "NULL::text", "numerico": "NULL::numeric", "data": "NULL::date"}
    lines = []
    for campo in (*origem.campos, MOTIVO):
        if campo == MOTIVO:
            kind, old, new = "texto", origem.motivo("a"), origem.motivo("t")
        else:
            kind = tipo(origem.tabela.c[campo])
            cast = {"texto": "text", "numerico": "numeric", "data": "date"}[kind]
            old, new = f"CAST(a.{campo} AS {cast})", f"CAST(t.{campo} AS {cast})"
        cells = [f"'{campo}'"]
        for k in ("texto", "numerico", "data"):
            cells += [old, new] if k == kind else [nulls[k], nulls[k]]
        lines.append("(" + ", ".join(cells) + ")")
    return ",\n".join(lines)


@functools.cache
def _registrar(nome: str) -> sa.TextClause:
    origem = ORIGENS[nome]
    table, contrato = origem.tabela.name, f"t.{origem.contrato}"
    antes_key = " AND ".join(f"a.{k} = t.{k}" for k in dict.fromkeys([origem.contrato, "id"]))
    # the contract's row (for its UASG): the row itself, or joined to a tab's row
    c = "t" if table == "contratos" else "c"
    join_c = "" if c == "t" else f"JOIN contratos c ON c.id = {contrato}"
    # New rows are events unless they are the baseline: the UASG's first listing, a tab's
    # first sync for its contract (its timestamp is stamped after this statement).
    baseline = (
        "CAST(:insercoes AS boolean)"
        if nome == "contrato"
        else f"c.{nome}_atualizado_em IS NOT NULL"
    )
    return sa.text(
        f"""
        WITH antes AS (
            SELECT * FROM jsonb_populate_recordset(NULL::{table}, CAST(:antes AS jsonb))
        ), agora AS MATERIALIZED (
            SELECT coalesce(CAST(:visto_em AS timestamptz), clock_timestamp()) AS em
        )
        INSERT INTO contratos_alteracoes (
            contrato_id, visto_em, uasg, origem, registro_id, evento, campo,
            valor_anterior_texto, valor_novo_texto, valor_anterior_numerico,
            valor_novo_numerico, valor_anterior_data, valor_novo_data, run_id)
        SELECT {contrato}, agora.em, {c}.uasg, '{nome}', t.id,
               CASE WHEN a.id IS NULL THEN 'inserido'
                    WHEN v.campo = '{MOTIVO}' AND v.ta IS NULL THEN 'removido'
                    WHEN v.campo = '{MOTIVO}' AND v.tn IS NULL THEN 'reaparecido'
                    ELSE 'alterado' END,
               v.campo, v.ta, v.tn, v.na, v.nn, v.da, v.dn, :run_id
        FROM unnest(CAST(:cids AS bigint[]), CAST(:ids AS bigint[])) AS k(cid, id)
        JOIN {table} t ON {contrato} = k.cid AND t.id = k.id
        {join_c}
        LEFT JOIN antes a ON {antes_key}
        CROSS JOIN agora
        CROSS JOIN LATERAL (VALUES
            {_values(origem)}
        ) AS v(campo, ta, tn, na, nn, da, dn)
        WHERE (a.id IS NOT NULL OR {baseline})
          AND (v.ta IS DISTINCT FROM v.tn OR v.na IS DISTINCT FROM v.nn
               OR v.da IS DISTINCT FROM v.dn)
        ON CONFLICT DO NOTHING
        """
    )


def registrar(
    conn: sa.Connection,
    origem: str,
    chaves: Sequence[tuple[int, int]],
    antes: str,
    *,
    visto: Visto | None = None,
    run_id: str | None = None,
) -> int:
    """Record what changed in the rows ``chaves`` ((contrato_id, id) pairs) since ``antes``
    (their before-image); returns the number of events. Without ``visto`` (tabs) the instant is
    taken now, after the rows were written (so their row locks order concurrent writers)."""
    if not chaves:
        return 0
    params = {
        "cids": [c for c, _ in chaves],
        "ids": [i for _, i in chaves],
        "antes": antes,
        "visto_em": visto.em if visto else None,
        "run_id": visto.run_id if visto else run_id,
        "insercoes": visto.insercoes if visto else True,
    }
    return conn.execute(_registrar(origem), params).rowcount


# --- reading it back -----------------------------------------------------------------------------

_EXIBIDO = """
    coalesce(CAST(a.valor_{lado}_numerico AS text), to_char(a.valor_{lado}_data, 'YYYY-MM-DD'),
             a.valor_{lado}_texto)"""
_RESUMO = sa.text(
    """
    SELECT count(*) AS eventos,
           count(DISTINCT contrato_id) FILTER (WHERE evento = 'alterado') AS contratos_alterados
    FROM contratos_alteracoes
    WHERE uasg = :uasg AND visto_em = :visto_em AND origem = 'contrato'
    """
)
_PRIMEIRAS = sa.text(
    f"""
    SELECT a.contrato_id, c.numero, a.evento, a.campo,
           {_EXIBIDO.format(lado="anterior")} AS valor_anterior,
           {_EXIBIDO.format(lado="novo")} AS valor_novo
    FROM contratos_alteracoes a JOIN contratos c ON c.id = a.contrato_id
    WHERE a.uasg = :uasg AND a.visto_em = :visto_em AND a.origem = 'contrato'
      AND a.evento <> 'inserido'
    ORDER BY a.contrato_id, a.campo
    LIMIT :limite
    """
)


@dataclass(frozen=True)
class Resumo:
    eventos: int = 0
    contratos_alterados: int = 0  # contracts with at least one field changed (not inserted)
    primeiras: tuple[Mapping[str, Any], ...] = ()  # first changes (insertions left out)


def resumo(conn: sa.Connection, uasg: str, visto: Visto, limite: int = 20) -> Resumo:
    """What one contratos sync recorded for its UASG."""
    params = {"uasg": uasg, "visto_em": visto.em}
    eventos, alterados = conn.execute(_RESUMO, params).one()
    if not eventos:
        return Resumo()
    primeiras = conn.execute(_PRIMEIRAS, {**params, "limite": limite}).mappings().all()
    return Resumo(eventos, alterados, tuple(dict(r) for r in primeiras))


_RECENTES = sa.text(
    """
    SELECT uasg, max(unidade_nome) AS unidade_nome,
           count(*) FILTER (WHERE ultimos_7_dias) AS alteracoes_7_dias,
           count(*) AS alteracoes_30_dias,
           count(DISTINCT contrato_id) FILTER (WHERE ultimos_7_dias) AS contratos_7_dias,
           count(DISTINCT contrato_id) AS contratos_30_dias
    FROM alteracoes_recentes
    GROUP BY uasg
    ORDER BY alteracoes_30_dias DESC, uasg
    """
)


def recentes_por_uasg(conn: sa.Connection) -> list[Mapping[str, Any]]:
    """Per UASG: events and contracts changed in the last 7 and 30 days (view
    ``alteracoes_recentes``)."""
    return [dict(r) for r in conn.execute(_RECENTES).mappings()]
