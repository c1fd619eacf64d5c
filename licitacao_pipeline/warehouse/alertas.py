"""SQL of failure alerts: one row per failed run, delivery attempts, purge."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from licitacao_pipeline.warehouse.tables import alertas

MAX_ATTEMPTS = 5


def record(conn: sa.Connection, values: dict[str, Any]) -> bool:
    """Insert the alert once per run; False when that run's alert was already recorded."""
    stmt = insert(alertas).values(**values).on_conflict_do_nothing(index_elements=["run_id"])
    return conn.execute(stmt).rowcount == 1


def pending(conn: sa.Connection, run_id: str | None = None, limit: int = 50) -> list[Any]:
    """Alerts to post now: not posted, attempts left, and (after a failed attempt) backed off
    exponentially: 1, 2, 4, 8 minutes. ``run_id`` narrows to one run's alert."""
    minutes = sa.cast(sa.func.power(2, alertas.c.post_attempts - 1), sa.Integer)
    backoff = sa.func.make_interval(0, 0, 0, 0, 0, minutes)
    query = sa.select(alertas).where(
        alertas.c.posted_at.is_(None),
        alertas.c.post_attempts < MAX_ATTEMPTS,
        sa.or_(
            alertas.c.ultima_tentativa_em.is_(None),
            alertas.c.ultima_tentativa_em < sa.func.now() - backoff,
        ),
    )
    if run_id is not None:
        query = query.where(alertas.c.run_id == run_id)
    return conn.execute(query.order_by(alertas.c.id).limit(limit)).all()


def mark_attempt(conn: sa.Connection, alerta_id: int, error: str | None) -> None:
    values: dict[str, Any] = {
        "post_attempts": alertas.c.post_attempts + 1,
        "post_error": error,
        "ultima_tentativa_em": sa.func.now(),
    }
    if error is None:
        values["posted_at"] = sa.func.now()
    conn.execute(sa.update(alertas).where(alertas.c.id == alerta_id).values(values))


def purge(conn: sa.Connection, older_than_days: int) -> int:
    """Delete alerts older than the retention (posted or not: the run history goes too)."""
    cutoff = sa.func.now() - sa.func.make_interval(0, 0, 0, older_than_days)
    return conn.execute(sa.delete(alertas).where(alertas.c.failed_at < cutoff)).rowcount
