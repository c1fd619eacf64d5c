"""Failure alerts: a row in ``alertas`` per failed run, and one webhook POST per alert.

Delivery is durable and bounded in time: the row is written first; each POST is a single
attempt with a whole-request deadline (connect, send, status, headers and body); a caller gives
a time budget and what does not fit waits for the next sensor tick (failed posts back off: 1,
2, 4, 8 minutes, at most 5 attempts). So a slow or dead receiver never makes a sensor tick run
long, and new failures are always recorded.

Delivered means a 2xx: a redirect is not followed (a 3xx is a failed delivery, with its
status), and the answer is never read past 64 KiB. The URL's secret part (userinfo, path,
query) appears nowhere: errors, logs and ``alertas.post_error`` show only its origin.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import requests
from sqlalchemy.engine import Engine

from licitacao_pipeline import bounded_http
from licitacao_pipeline.bounded_http import BoundedAdapter, origin, scrub
from licitacao_pipeline.warehouse import alertas as sql

TIMEOUT = (3.0, 5.0)  # connect, read (each socket read)
ATTEMPT_S = sum(TIMEOUT)  # one attempt costs the caller at most this, whatever the receiver does
DEADLINE_S = ATTEMPT_S - 0.5  # the attempt's own whole-request deadline, inside that
_OBJECT = re.compile(r"<[^<>]*object at 0x[0-9a-f]+>:?\s*|\w*Connection\(host=[^)]*\):\s*")


@dataclass
class Alerta:
    run_id: str
    job_name: str
    uasg: str | None
    message: str
    failed_steps: list[str]


def record(engine: Engine, alerta: Alerta) -> bool:
    """Insert the alert once per run; returns False when it was already recorded."""
    with engine.begin() as conn:
        return sql.record(conn, asdict(alerta))


def payload(row: Any) -> dict[str, Any]:
    return {
        "source": "licitacao_pipeline",
        "run_id": row.run_id,
        "job_name": row.job_name,
        "uasg": row.uasg,
        "failed_at": row.failed_at.isoformat(),
        "message": row.message,
        "failed_steps": row.failed_steps,
        # 'falha' (a failed run) or 'sinais' (a UASG's new red flags, listed in detalhes)
        "tipo": getattr(row, "tipo", "falha"),
        "detalhes": getattr(row, "detalhes", []),
    }


def _describe(exc: requests.RequestException, url: str) -> str:
    """Why a POST failed, naming the receiver by its origin only."""
    shown = origin(url)
    if bounded_http.expired() is not None:
        return f"nenhuma resposta completa em {DEADLINE_S:g}s de {shown}"
    cause = exc.args[0] if exc.args else exc
    detail = _OBJECT.sub("", str(getattr(cause, "reason", None) or cause))
    if isinstance(exc, requests.Timeout):
        detail = f"tempo esgotado: {detail}"
    return scrub(f"{type(exc).__name__} ({shown}): {detail}", url)[:500]


def _post(session: requests.Session, url: str, row: Any) -> str | None:
    try:
        with bounded_http.deadline(DEADLINE_S):
            resp = session.post(
                url, json=payload(row), timeout=TIMEOUT, stream=True, allow_redirects=False
            )
    except requests.RequestException as exc:
        return _describe(exc, url)
    status = resp.status_code
    if 200 <= status < 300:
        resp.close()
        return None
    if 300 <= status < 400:
        resp.close()
        return f"HTTP {status} de {origin(url)}: um redirecionamento, não seguido (responda 2xx)"
    body, _ = bounded_http.read_error_body(resp)
    said = scrub(body[:200].decode("utf-8", "replace").strip(), url)
    return f"HTTP {status} de {origin(url)}: {said}"[:500]


def _post_within(url: str, row: Any) -> str | None:
    """``_post`` in a thread, joined just after its deadline: a backstop for what no socket
    deadline bounds (a name lookup that hangs). Past it the POST is left to end in its daemon
    thread and counts as a failed attempt."""
    outcome: list[str | None] = []

    def attempt() -> None:
        with requests.Session() as session:
            adapter = BoundedAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            outcome.append(_post(session, url, row))

    worker = threading.Thread(target=attempt, name="alerta-webhook", daemon=True)
    worker.start()
    worker.join(ATTEMPT_S)
    return outcome[0] if outcome else f"nenhuma resposta completa em {ATTEMPT_S:g}s"


def post_unrecorded(url: str | None, alerta: Alerta) -> str | None:
    """The warehouse is down, so the alert cannot be recorded (nor retried later): post it at
    once, one bounded attempt, so the failure still reaches someone. Returns the error."""
    if not url:
        return "ALERT_WEBHOOK_URL não definida"
    row = SimpleNamespace(**asdict(alerta), failed_at=datetime.now(UTC))
    return _post_within(url, row)


def deliver(
    engine: Engine, url: str | None, *, budget_s: float, run_id: str | None = None
) -> dict[str, int]:
    """POST pending alerts (or only ``run_id``'s) until done or ``budget_s`` is spent."""
    if not url:
        return {"posted": 0, "failed": 0, "left": 0}
    deadline = time.monotonic() + budget_s
    with engine.connect() as conn:
        rows = sql.pending(conn, run_id=run_id)
    posted = failed = 0
    for row in rows:
        if time.monotonic() + ATTEMPT_S > deadline:
            break  # the rest waits for the next tick
        error = _post_within(url, row)
        with engine.begin() as conn:
            sql.mark_attempt(conn, row.id, error)
        posted += error is None
        failed += error is not None
    return {"posted": posted, "failed": failed, "left": len(rows) - posted - failed}
