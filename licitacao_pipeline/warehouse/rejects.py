"""Rejected records: one row per distinct bad record, kept outside the sync transaction.

A record that stays malformed run after run does not pile up: its row (keyed by source, UASG,
record id and the record's content) gets a new ``ultima_vez_em``, ``run_id`` and one more in
``ocorrencias``. The cleanup job purges rows not seen for the retention period.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.json_stream import Unreadable, safe
from licitacao_pipeline.textos import curto
from licitacao_pipeline.warehouse.tables import rejected_records

SAMPLE_SIZE = 10


def reject_row(
    source: str, uasg: str | None, record_id: Any, reason: str, payload: Any, run_id: str | None
) -> dict[str, Any]:
    rid = None if record_id is None else str(record_id)[:64]
    if isinstance(payload, Unreadable):
        payload = payload.payload
    # What PostgreSQL can store and people can read: NUL, lone surrogates, depth made safe.
    body = safe(payload) if isinstance(payload, (dict, list)) else {"raw": repr(payload)[:2000]}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = "\x1f".join([source, uasg or "", rid or "", canonical])
    return {
        "chave": hashlib.sha256(key.encode()).hexdigest(),
        "run_id": run_id,
        "source": source,
        "uasg": uasg,
        "record_id": rid,
        "reason": safe(reason[:4000]),
        "payload": body,
    }


def upsert_rejects(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new rejects; a known one gets ``ultima_vez_em``, ``run_id``, ``ocorrencias + 1``."""
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:  # one statement may not touch a row twice
        if row["chave"] in unique:
            unique[row["chave"]]["ocorrencias"] += 1
        else:
            unique[row["chave"]] = {**row, "ocorrencias": 1}
    if not unique:
        return
    stmt = insert(rejected_records)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["chave"],
            set_={
                "ultima_vez_em": sa.func.now(),
                "run_id": stmt.excluded.run_id,
                "reason": stmt.excluded.reason,
                "ocorrencias": rejected_records.c.ocorrencias + stmt.excluded.ocorrencias,
            },
        ),
        list(unique.values()),
    )


@dataclass
class RejectLog:
    """Buffers rejections and flushes them to ``rejected_records`` in small batches."""

    engine: Engine
    source: str
    run_id: str | None = None
    uasg: str | None = None
    batch_size: int = 500
    count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    _pending: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record_id: Any, reason: str, payload: Any) -> None:
        self.count += 1
        row = reject_row(self.source, self.uasg, record_id, reason, payload, self.run_id)
        if len(self.samples) < SAMPLE_SIZE:
            self.samples.append({"record_id": row["record_id"], "reason": curto(reason, 300)})
        self._pending.append(row)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            with self.engine.begin() as conn:
                upsert_rejects(conn, self._pending)
            self._pending = []


def purge_rejects(conn: sa.Connection, older_than_days: int) -> int:
    """Delete rejects not seen for ``older_than_days``; returns how many."""
    result = conn.execute(
        sa.delete(rejected_records).where(
            rejected_records.c.ultima_vez_em
            < sa.func.now() - sa.func.make_interval(0, 0, 0, older_than_days)
        )
    )
    return result.rowcount
