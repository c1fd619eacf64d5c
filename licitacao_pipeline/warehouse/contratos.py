"""SQL of the ``contratos`` sync: stored versions, the changed-only upsert, removals, unidades.

Every function runs inside the caller's transaction (``conn``); the use case that strings them
together is ``licitacao_pipeline.flows.contratos``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert

from licitacao_pipeline.warehouse import alteracoes
from licitacao_pipeline.warehouse.alteracoes import Visto
from licitacao_pipeline.warehouse.tables import (
    REMOVIDO_AUSENTE,
    REMOVIDO_FORA_DA_JANELA,
    contratos,
    unidades,
)
from licitacao_pipeline.warehouse.upserts import INSERTED, changed_only_upsert

_IDS = sa.bindparam("ids", type_=ARRAY(sa.BigInteger))
_UPSERT = changed_only_upsert(contratos, ["id"], also_changed=("uasg",)).returning(
    contratos.c.id, INSERTED
)


class Stored(NamedTuple):
    payload_hash: str
    vigencia_fim: date | None
    active: bool


def lock_uasg(conn: sa.Connection, uasg: str) -> None:
    """Serialize writers of one UASG (even runs that bypass the run queue) until commit."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext('contratos'), hashtext(:u))"), {"u": uasg}
    )


def create_seen_table(conn: sa.Connection) -> None:
    """``listados``: ids seen in this listing; ``fora`` when outside the vigência window."""
    conn.exec_driver_sql(
        "CREATE TEMP TABLE listados (id bigint PRIMARY KEY, fora boolean NOT NULL) ON COMMIT DROP"
    )


def mark_seen(conn: sa.Connection, ids: list[int]) -> set[int]:
    """Record ids as listed; returns those seen for the first time (the rest are duplicates)."""
    if not ids:
        return set()
    result = conn.execute(
        sa.text(
            "INSERT INTO listados (id, fora) SELECT unnest(CAST(:ids AS bigint[])), false "
            "ON CONFLICT DO NOTHING RETURNING id"
        ),
        {"ids": ids},
    )
    return set(result.scalars())


def set_fora(conn: sa.Connection, ids: list[int]) -> None:
    """Listed contracts outside the vigência window (stored ones get removido_em)."""
    if ids:
        conn.execute(
            sa.text("UPDATE listados SET fora = true WHERE id = ANY(CAST(:ids AS bigint[]))"),
            {"ids": ids},
        )


def stored_versions(conn: sa.Connection, ids: list[int]) -> dict[int, Stored]:
    """Hash, vigência end and active flag of the stored rows among ``ids``."""
    query = sa.select(
        contratos.c.id,
        contratos.c.payload_hash,
        contratos.c.vigencia_fim,
        contratos.c.removido_em.is_(None),
    ).where(contratos.c.id == sa.any_(_IDS))
    return {row[0]: Stored(*row[1:]) for row in conn.execute(query, {"ids": ids})}


def upsert_contratos(
    conn: sa.Connection, rows: list[dict[str, Any]], visto: Visto | None = None
) -> tuple[int, int]:
    """Write changed or new rows (restoring removed ones); returns (inserted, updated). With
    ``visto``, what changed goes to the history in the same transaction."""
    if not rows:
        return 0, 0
    antes = alteracoes.antes_contratos(conn, [r["id"] for r in rows]) if visto else ""
    written = conn.execute(_UPSERT, rows).all()
    if visto:
        alteracoes.registrar(conn, "contrato", [(i, i) for i, _ in written], antes, visto=visto)
    inserted = sum(1 for _, f in written if f)
    return inserted, len(written) - inserted


def upsert_contrato(conn: sa.Connection, row: dict[str, Any], visto: Visto | None = None) -> str:
    """One parsed contract: 'inserted', 'updated' or 'unchanged'."""
    inserted, updated = upsert_contratos(conn, [row], visto)
    return "inserted" if inserted else "updated" if updated else "unchanged"


_VANISHED = """
    FROM contratos c WHERE c.uasg = :uasg AND c.removido_em IS NULL
      AND NOT EXISTS (SELECT 1 FROM listados s WHERE s.id = c.id)"""


def count_active(conn: sa.Connection, uasg: str) -> int:
    return conn.execute(
        sa.select(sa.func.count()).where(
            contratos.c.uasg == uasg, contratos.c.removido_em.is_(None)
        )
    ).scalar_one()


def count_vanished(conn: sa.Connection, uasg: str) -> int:
    """Active contracts of the UASG that were not in this listing."""
    return conn.execute(sa.text("SELECT count(*)" + _VANISHED), {"uasg": uasg}).scalar_one()


# What mark_removed may change: vanished and active, or outside the window and not yet
# removed for that reason.
_MAY_BE_REMOVED = sa.text(
    """
    SELECT c.id FROM contratos c LEFT JOIN listados s ON s.id = c.id
    WHERE c.uasg = :uasg
      AND (s.id IS NULL AND c.removido_em IS NULL
           OR s.fora AND c.removido_motivo IS DISTINCT FROM :fora)
    """
)


def mark_removed(conn: sa.Connection, uasg: str, visto: Visto | None = None) -> tuple[int, int]:
    """Set ``removido_em`` on vanished contracts and on listed ones now outside the window;
    returns (vanished, out of window). With ``visto``, the removals go to the history."""
    ids = []
    if visto:
        params = {"uasg": uasg, "fora": REMOVIDO_FORA_DA_JANELA}
        ids = conn.execute(_MAY_BE_REMOVED, params).scalars().all()
    antes = alteracoes.antes_contratos(conn, ids) if ids else ""
    vanished = conn.execute(
        sa.text(
            "UPDATE contratos c SET removido_em = now(), removido_motivo = :motivo"
            + _VANISHED.replace("FROM contratos c WHERE", "WHERE")
        ),
        {"uasg": uasg, "motivo": REMOVIDO_AUSENTE},
    ).rowcount
    fora = conn.execute(
        sa.text(
            """
            UPDATE contratos c SET removido_em = now(), removido_motivo = :motivo
            FROM listados s WHERE s.id = c.id AND s.fora AND c.uasg = :uasg
              AND c.removido_em IS NULL
            """
        ),
        {"uasg": uasg, "motivo": REMOVIDO_FORA_DA_JANELA},
    ).rowcount
    # Removed earlier because it vanished, listed again but outside the window: say so.
    conn.execute(
        sa.text(
            """
            UPDATE contratos c SET removido_motivo = :motivo
            FROM listados s WHERE s.id = c.id AND s.fora AND c.uasg = :uasg
              AND c.removido_motivo IS DISTINCT FROM :motivo
            """
        ),
        {"uasg": uasg, "motivo": REMOVIDO_FORA_DA_JANELA},
    )
    if ids:
        alteracoes.registrar(conn, "contrato", [(i, i) for i in ids], antes, visto=visto)
    return vanished, fora


def contrato_uasg(conn: sa.Connection, contrato_id: int) -> str | None:
    return conn.execute(
        sa.select(contratos.c.uasg).where(contratos.c.id == contrato_id)
    ).scalar_one_or_none()


def upsert_unidade(conn: sa.Connection, row: Mapping[str, Any]) -> None:
    """Name and órgão of a UASG as its listing states them (written only when they change)."""
    stmt = insert(unidades).values(**row)
    data = ["nome", "nome_resumido", "orgao_codigo", "orgao_nome"]
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["codigo"],
            set_={**{c: stmt.excluded[c] for c in data}, "atualizado_em": sa.func.now()},
            where=sa.or_(*(unidades.c[c].is_distinct_from(stmt.excluded[c]) for c in data)),
        )
    )
