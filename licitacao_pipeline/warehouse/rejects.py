"""Recording rejected records: written at once, outside the sync transaction, so they survive it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.warehouse.tables import rejected_records

SAMPLE_SIZE = 10


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
        rid = None if record_id is None else str(record_id)
        if len(self.samples) < SAMPLE_SIZE:
            self.samples.append({"record_id": rid, "reason": reason})
        self._pending.append(
            {
                "run_id": self.run_id,
                "source": self.source,
                "uasg": self.uasg,
                "record_id": rid,
                "reason": reason,
                "payload": payload if isinstance(payload, (dict, list)) else {"raw": repr(payload)},
            }
        )
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            with self.engine.begin() as conn:
                conn.execute(rejected_records.insert(), self._pending)
            self._pending = []
