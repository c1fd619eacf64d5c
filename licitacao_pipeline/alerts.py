"""Failure alerts: a row in ``alertas`` per failed run, and one webhook POST per alert.

Delivery is durable and bounded: the row is written first; the POST has short timeouts and a
few quick retries; an alert that could not be posted stays pending and is retried on later
sensor ticks (up to ``MAX_ATTEMPTS``), so a slow or dead receiver never blocks anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine
from urllib3.util.retry import Retry

from licitacao_pipeline.warehouse.tables import alertas

MAX_ATTEMPTS = 5
TIMEOUT = (3.0, 5.0)


@dataclass
class Alerta:
    run_id: str
    job_name: str
    uasg: str | None
    message: str
    failed_steps: list[str]


def record(engine: Engine, alerta: Alerta) -> bool:
    """Insert the alert once per run; returns False when it was already recorded."""
    stmt = (
        insert(alertas)
        .values(
            run_id=alerta.run_id,
            job_name=alerta.job_name,
            uasg=alerta.uasg,
            message=alerta.message,
            failed_steps=alerta.failed_steps,
        )
        .on_conflict_do_nothing(index_elements=["run_id"])
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def _session() -> requests.Session:
    session = requests.Session()
    retry = Retry(
        total=2,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        raise_on_status=False,
    )
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def payload(row: Any) -> dict[str, Any]:
    return {
        "source": "licitacao_pipeline",
        "run_id": row.run_id,
        "job_name": row.job_name,
        "uasg": row.uasg,
        "failed_at": row.failed_at.isoformat(),
        "message": row.message,
        "failed_steps": row.failed_steps,
    }


def deliver_pending(engine: Engine, url: str | None) -> dict[str, int]:
    """POST every pending alert to ``url``; returns counts of posted and still-failing alerts."""
    if not url:
        return {"posted": 0, "failed": 0}
    with engine.connect() as conn:
        pending = conn.execute(
            sa.select(alertas)
            .where(alertas.c.posted_at.is_(None), alertas.c.post_attempts < MAX_ATTEMPTS)
            .order_by(alertas.c.id)
            .limit(50)
        ).all()
    posted = failed = 0
    with _session() as session:
        for row in pending:
            error = None
            try:
                resp = session.post(url, json=payload(row), timeout=TIMEOUT)
                if resp.status_code >= 300:
                    error = f"HTTP {resp.status_code}: {resp.text[:200]}"
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            values: dict[str, Any] = {
                "post_attempts": alertas.c.post_attempts + 1,
                "post_error": error,
            }
            if error is None:
                values["posted_at"] = sa.func.now()
                posted += 1
            else:
                failed += 1
            with engine.begin() as conn:
                conn.execute(sa.update(alertas).where(alertas.c.id == row.id).values(values))
    return {"posted": posted, "failed": failed}
