"""Cleanup of what the warehouse and the export directory accumulate."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from licitacao_pipeline.warehouse import alertas, portal, rejects


def delete_old_exports(root: Path, cutoff: datetime, dry_run: bool) -> tuple[int, int]:
    """Files of the export directory ``root`` older than ``cutoff``: (count, bytes)."""
    if not root.exists():
        return 0, 0
    count = size = 0
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff.timestamp():
            count += 1
            size += path.stat().st_size
            if not dry_run:
                path.unlink()
    return count, size


def purge_warehouse(engine: Engine, retention_days: int, dry_run: bool) -> dict[str, int]:
    """Rejected records not seen, alerts and portal snapshots older than the retention
    (portal snapshots older than two days are also thinned to one per UASG per day)."""
    with engine.begin() as conn:
        counts = {
            "rejeicoes_removidas": rejects.purge_rejects(conn, retention_days),
            "alertas_removidos": alertas.purge(conn, retention_days),
            **portal.purge_snapshots(conn, retention_days),
        }
        if dry_run:
            conn.rollback()
    return counts
