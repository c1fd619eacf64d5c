"""Per-contract snapshot writes of a tab, and the selection of contracts whose tab is due.

A tab's rows for one contract are replaced as a snapshot in one transaction: changed rows are
upserted (unchanged ones are not written), rows that left the source get ``removido_em``, and the
contract's ``<tab>_atualizado_em`` advances. ``detalhes_atualizados_em`` is the oldest of the four
tab timestamps: the moment since which every tab of the contract is at least that fresh.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.parsing import RecordError, record_id
from licitacao_pipeline.comprasnet.tabs import SPECS, TABS
from licitacao_pipeline.warehouse.tables import TAB_TABLES, contratos, rejected_records
from licitacao_pipeline.warehouse.upserts import INSERTED, changed_only_upsert


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


@dataclass(frozen=True)
class _Statements:
    upsert: Any
    mark_removed: Any
    stamp: Any


@functools.cache
def _statements(tab: str) -> _Statements:
    """Statements built once per tab, so SQLAlchemy compiles them once (the hot path)."""
    table = TAB_TABLES[tab]
    upsert = changed_only_upsert(table, ["contrato_id", "id"]).returning(
        table.c.contrato_id, INSERTED
    )
    # Rows of the batch's contracts that are not in the new snapshots: (contrato_id, id) pairs
    # arrive as two parallel arrays. The table name is a constant, never user input.
    mark_removed = sa.text(
        f"""
        UPDATE {table.name} t SET removido_em = now()
        WHERE t.contrato_id = ANY(CAST(:cids AS bigint[])) AND t.removido_em IS NULL
          AND NOT EXISTS (
            SELECT 1 FROM unnest(CAST(:seen_cids AS bigint[]), CAST(:seen_ids AS bigint[]))
              AS s(cid, id)
            WHERE s.cid = t.contrato_id AND s.id = t.id)
        RETURNING t.contrato_id
        """
    )
    cids = sa.bindparam("cids", type_=ARRAY(sa.BigInteger))
    stamp = (
        sa.update(contratos)
        .where(contratos.c.id == sa.any_(cids))
        .values(
            {f"{tab}_atualizado_em": sa.func.now(), "detalhes_atualizados_em": _detalhes_expr(tab)}
        )
    )
    return _Statements(upsert, mark_removed, stamp)


def _parse(tab: str, contrato_id: int, records: list[Any]):
    """Rows to store, ids seen (rejected ones included: they are not "removed") and rejects."""
    spec = SPECS[tab]
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
    return rows, seen, rejects


def write_snapshots(
    conn: sa.Connection, tab: str, snapshots: dict[int, list[Any]], run_id: str | None
) -> dict[int, SnapshotResult]:
    """Replace ``tab`` of each contract in ``snapshots`` ({contrato_id: records}) within the
    caller's transaction: a few statements for the whole batch, whatever its size."""
    stmts = _statements(tab)
    results = {cid: SnapshotResult() for cid in snapshots}
    rows, seen_cids, seen_ids, rejects = [], [], [], []
    for cid, records in snapshots.items():
        parsed, seen, rejected = _parse(tab, cid, records)
        results[cid].rows = len(parsed)
        results[cid].rejects = rejected
        rows += parsed
        seen_cids += [cid] * len(seen)
        seen_ids += sorted(seen)
        rejects += [
            {
                "run_id": run_id,
                "source": f"contratos_{tab}",
                "record_id": None if r["record_id"] is None else str(r["record_id"]),
                "reason": f"contrato {cid}: {r['reason']}",
                "payload": r["payload"],
            }
            for r in rejected
        ]
    if rows:
        for cid, inserted in conn.execute(stmts.upsert, rows).all():
            if inserted:
                results[cid].inserted += 1
            else:
                results[cid].updated += 1
    cids = list(snapshots)
    params = {"cids": cids, "seen_cids": seen_cids, "seen_ids": seen_ids}
    for (cid,) in conn.execute(stmts.mark_removed, params).all():
        results[cid].removed += 1
    if rejects:
        conn.execute(rejected_records.insert(), rejects)
    conn.execute(stmts.stamp, {"cids": cids})
    return results


def write_snapshot(
    conn: sa.Connection, contrato_id: int, tab: str, records: list[Any], run_id: str | None
) -> SnapshotResult:
    """Replace one contract's ``tab`` with ``records`` (inside the caller's transaction)."""
    return write_snapshots(conn, tab, {contrato_id: records}, run_id)[contrato_id]


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
