"""Per-contract snapshot writes of a tab, and the selection of contracts whose tab is due.

A tab's rows for one contract are replaced as a snapshot in one transaction: changed rows are
upserted (unchanged ones are not written), rows that left the source get ``removido_em``, and the
contract's ``<tab>_atualizado_em`` advances. ``detalhes_atualizados_em`` is the oldest of the four
tab timestamps: the moment since which every tab of the contract is at least that fresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.parsing import RecordError, record_id
from licitacao_pipeline.comprasnet.tabs import SPECS, TABS
from licitacao_pipeline.warehouse.tables import TAB_TABLES, contratos, rejected_records


@dataclass
class SnapshotResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    removed: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)


def _detalhes_expr(tab: str):
    """LEAST of the four tab timestamps, NULL while any tab was never synced."""
    cols = [sa.func.now() if t == tab else contratos.c[f"{t}_atualizado_em"] for t in TABS]
    return sa.case((sa.and_(*(c.is_not(None) for c in cols)), sa.func.least(*cols)), else_=None)


def write_snapshot(
    conn: sa.Connection, contrato_id: int, tab: str, records: list[Any], run_id: str | None
) -> SnapshotResult:
    """Replace one contract's ``tab`` with ``records`` (inside the caller's transaction)."""
    spec, table = SPECS[tab], TAB_TABLES[tab]
    result = SnapshotResult()
    rows, seen = [], set()
    for record in records:
        rid = record_id(record)
        try:
            row = spec.parse(record, contrato_id)
        except RecordError as exc:
            result.rejects.append({"record_id": rid, "reason": str(exc), "payload": record})
        else:
            if row["id"] in seen:
                result.rejects.append(
                    {"record_id": rid, "reason": "duplicate id in tab", "payload": record}
                )
                continue
            rows.append(row)
        if rid is not None:
            seen.add(rid)
    result.rows = len(rows)
    if rows:
        stmt = insert(table).values(rows)
        data_cols = [c for c in rows[0] if c not in ("contrato_id", "id")]
        stmt = stmt.on_conflict_do_update(
            index_elements=["contrato_id", "id"],
            set_={
                **{c: stmt.excluded[c] for c in data_cols},
                "atualizado_em": sa.func.now(),
                "removido_em": None,
            },
            where=sa.or_(
                table.c.payload_hash != stmt.excluded.payload_hash,
                table.c.removido_em.is_not(None),
            ),
        ).returning(sa.literal_column("xmax = 0"))
        flags = conn.execute(stmt).scalars().all()
        result.inserted = sum(1 for f in flags if f)
        result.updated = len(flags) - result.inserted
    removed = conn.execute(
        sa.update(table)
        .where(
            table.c.contrato_id == contrato_id,
            table.c.removido_em.is_(None),
            table.c.id.not_in(seen) if seen else sa.true(),
        )
        .values(removido_em=sa.func.now())
        .returning(table.c.id)
    )
    result.removed = len(removed.all())
    if result.rejects:
        conn.execute(
            rejected_records.insert(),
            [
                {
                    "run_id": run_id,
                    "source": f"contratos_{tab}",
                    "record_id": None if r["record_id"] is None else str(r["record_id"]),
                    "reason": f"contrato {contrato_id}: {r['reason']}",
                    "payload": r["payload"],
                }
                for r in result.rejects
            ],
        )
    conn.execute(
        sa.update(contratos)
        .where(contratos.c.id == contrato_id)
        .values(
            {f"{tab}_atualizado_em": sa.func.now(), "detalhes_atualizados_em": _detalhes_expr(tab)}
        )
    )
    return result


def contracts_due(
    engine: Engine, uasg: str, tab: str, staleness: timedelta, full_refresh: bool = False
) -> list[int]:
    """Contracts of the UASG whose ``tab`` is new, older than their listing record, or stale."""
    ts = contratos.c[f"{tab}_atualizado_em"]
    query = sa.select(contratos.c.id).where(
        contratos.c.uasg == uasg, contratos.c.removido_em.is_(None)
    )
    if not full_refresh:
        query = query.where(
            sa.or_(
                ts.is_(None),
                ts < contratos.c.atualizado_em,
                ts < sa.func.now() - staleness,
            )
        )
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(contratos.c.id)).scalars())


def active_contracts(engine: Engine, uasg: str) -> int:
    query = sa.select(sa.func.count()).where(
        contratos.c.uasg == uasg, contratos.c.removido_em.is_(None)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()
