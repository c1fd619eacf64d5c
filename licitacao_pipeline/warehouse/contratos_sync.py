"""Upsert of one UASG's listing into ``contratos`` in a single transaction.

Only rows whose content hash changed are written: a record whose hash equals the stored one is
not even parsed again (it was valid when stored), so an unchanged re-sync costs one hash per
record and writes nothing. Contracts that left the listing get ``removido_em`` (never deleted).
Two syncs of the same UASG are serialized by a transaction-level advisory lock, so even runs
that bypass the run queue cannot interleave their writes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.parsing import (
    RecordError,
    content_hash,
    parse_contrato,
    record_id,
    within_vigencia,
)
from licitacao_pipeline.warehouse.rejects import SAMPLE_SIZE, RejectLog
from licitacao_pipeline.warehouse.tables import (
    CONTRATO_DATA_COLUMNS,
    contrato_data_columns,
    contratos,
)
from licitacao_pipeline.warehouse.upserts import INSERTED, changed_only_upsert

log = logging.getLogger(__name__)
BATCH = 1000


class SyncAborted(Exception):
    """The partition's data was not committed because a safety threshold was crossed."""


@dataclass
class ContratosSyncResult:
    listed: int = 0
    kept: int = 0
    filtered: int = 0
    rejected: int = 0
    duplicates: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    reject_samples: list[dict[str, Any]] = field(default_factory=list)
    filtered_samples: list[dict[str, Any]] = field(default_factory=list)
    duplicate_ids: list[int] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.removed

    @property
    def reject_ratio(self) -> float:
        return self.rejected / self.listed if self.listed else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stage_table() -> sa.Table:
    return sa.Table(
        "stage_contratos",
        sa.MetaData(),
        *contrato_data_columns(),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )


_COLS = ", ".join(CONTRATO_DATA_COLUMNS)
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in CONTRATO_DATA_COLUMNS if c != "id")
MERGE = sa.text(
    f"""
    INSERT INTO contratos ({_COLS}) SELECT {_COLS} FROM stage_contratos
    ON CONFLICT (id) DO UPDATE SET {_UPDATES}, atualizado_em = now(), removido_em = NULL
    WHERE contratos.payload_hash IS DISTINCT FROM excluded.payload_hash
       OR contratos.removido_em IS NOT NULL
       OR contratos.uasg IS DISTINCT FROM excluded.uasg
    RETURNING (xmax = 0) AS inserted
    """
)
STORED = sa.text(
    "SELECT id, payload_hash FROM contratos WHERE uasg = :uasg AND removido_em IS NULL"
)
COUNT_ACTIVE = sa.text("SELECT count(*) FROM contratos WHERE uasg = :uasg AND removido_em IS NULL")
MARK_REMOVED = sa.text(
    """
    UPDATE contratos c SET removido_em = now()
    WHERE c.uasg = :uasg AND c.removido_em IS NULL
      AND NOT EXISTS (SELECT 1 FROM stage_seen s WHERE s.id = c.id)
    RETURNING c.id
    """
)
COUNT_VANISHED = sa.text(
    """
    SELECT count(*) FROM contratos c
    WHERE c.uasg = :uasg AND c.removido_em IS NULL
      AND NOT EXISTS (SELECT 1 FROM stage_seen s WHERE s.id = c.id)
    """
)


def upsert_contrato(conn: sa.Connection, row: dict[str, Any]) -> str:
    """Write one parsed contract if its content changed: 'inserted', 'updated' or 'unchanged'."""
    stmt = changed_only_upsert(contratos, ["id"]).returning(INSERTED)
    flag = conn.execute(stmt, row).scalar_one_or_none()
    return "unchanged" if flag is None else "inserted" if flag else "updated"


def sync_contratos(
    engine: Engine,
    uasg: str,
    records: Iterable[Any],
    *,
    today: date,
    janela_dias: int | None,
    max_reject_ratio: float,
    max_removed_ratio: float,
    run_id: str | None = None,
    progress_every: int = 5000,
) -> ContratosSyncResult:
    """Parse, filter and upsert ``records`` (the UASG's active + inactive listings)."""
    result = ContratosSyncResult()
    rejects = RejectLog(engine, "contratos", run_id=run_id, uasg=uasg)
    stage = _stage_table()
    seen: set[int] = set()
    batch: list[dict[str, Any]] = []
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext('contratos'), hashtext(:u))"),
                {"u": uasg},
            )
            stored = dict(conn.execute(STORED, {"uasg": uasg}).all())
            stage.create(conn)
            conn.execute(sa.text("CREATE TEMP TABLE stage_seen (id bigint) ON COMMIT DROP"))
            for record in records:
                result.listed += 1
                if result.listed % progress_every == 0:
                    log.info("uasg %s: %d records read", uasg, result.listed)
                rid = record_id(record)
                if rid is not None and rid in seen:
                    result.duplicates += 1
                    if len(result.duplicate_ids) < SAMPLE_SIZE:
                        result.duplicate_ids.append(rid)
                    continue
                if rid is not None:
                    seen.add(rid)
                digest = content_hash(record) if isinstance(record, dict) else None
                if rid is not None and digest is not None and stored.get(rid) == digest:
                    result.unchanged += 1
                    continue
                try:
                    row = parse_contrato(record, uasg, digest)
                except RecordError as exc:
                    rejects.add(rid, str(exc), record)
                    continue
                if not within_vigencia(row, today, janela_dias):
                    result.filtered += 1
                    if len(result.filtered_samples) < SAMPLE_SIZE:
                        result.filtered_samples.append(
                            {
                                "id": row["id"],
                                "numero": row["numero"],
                                "vigencia_fim": str(row["vigencia_fim"]),
                            }
                        )
                    continue
                result.kept += 1
                batch.append(row)
                if len(batch) >= BATCH:
                    conn.execute(stage.insert(), batch)
                    batch = []
            if batch:
                conn.execute(stage.insert(), batch)
            rejects.flush()
            result.rejected = rejects.count
            result.reject_samples = rejects.samples
            if result.reject_ratio > max_reject_ratio:
                raise SyncAborted(
                    f"uasg {uasg}: {result.rejected} of {result.listed} records rejected "
                    f"({result.reject_ratio:.1%} > max {max_reject_ratio:.1%}); nothing written. "
                    f"Samples: {result.reject_samples[:3]}"
                )
            if seen:
                conn.execute(
                    sa.text("INSERT INTO stage_seen (id) SELECT unnest(CAST(:ids AS bigint[]))"),
                    {"ids": list(seen)},
                )
            flags = conn.execute(MERGE).scalars().all()
            result.inserted = sum(1 for f in flags if f)
            result.updated = len(flags) - result.inserted
            skipped = result.unchanged  # equal hash: neither parsed nor staged
            result.unchanged += result.kept - len(flags)
            result.kept += skipped
            active = conn.execute(COUNT_ACTIVE, {"uasg": uasg}).scalar_one()
            vanishing = conn.execute(COUNT_VANISHED, {"uasg": uasg}).scalar_one()
            if active and vanishing > max_removed_ratio * active:
                raise SyncAborted(
                    f"uasg {uasg}: {vanishing} of {active} stored contracts vanished from the "
                    f"listing (> {max_removed_ratio:.0%}); refusing to mark them removed. "
                    "If this is real, rerun with a higher max_removed_ratio."
                )
            result.removed = len(conn.execute(MARK_REMOVED, {"uasg": uasg}).all())
    finally:
        rejects.flush()
    return result
