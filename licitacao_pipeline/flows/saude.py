"""Use case: is ComprasNet answering, is the warehouse answering — each one timed request, no
retries, with what people need to read when it is not."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.engine import URL

from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import ComprasNetError, ComprasNetNotFound
from licitacao_pipeline.warehouse import portal as sql


@dataclass(frozen=True)
class Health:
    ok: bool
    duracao_s: float
    detalhe: str


def check_comprasnet(base_url: str, path: str, timeout_s: float) -> Health:
    """One request, no retries, all of it (connect, headers, body) within ``timeout_s``.
    Healthy: a JSON answer, or a small 404 (the API answered that the probe does not exist).
    Anything else (refused, too slow, 5xx, 429, 403, HTML, a 404 over 64 KiB) is not."""
    client = ComprasNetClient(
        base_url,
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        request_deadline_s=timeout_s,
        max_retries=0,
        body_retries=0,
    )
    started = time.monotonic()
    try:
        client.get_json(path)
        ok, detalhe = True, f"{base_url}{path} respondeu JSON"
    except ComprasNetNotFound as exc:
        ok, detalhe = True, f"{base_url}{path} respondeu 404 (a API está no ar)"
        if exc.corpo_truncado:  # not the API's {"message": ""}
            ok, detalhe = False, f"{base_url}{path} respondeu 404 com um corpo acima de 64 KiB"
    except ComprasNetError as exc:
        # The deadline here is the check's own: say which setting changes it.
        said = str(exc).replace("request_deadline_s do recurso comprasnet", "tempo_limite_s")
        ok, detalhe = False, f"o ComprasNet está inacessível ou falhando: {said}"
    finally:
        client.close()
    return Health(ok, round(time.monotonic() - started, 3), detalhe)


def check_warehouse(url: URL, timeout_s: float) -> Health:
    """``SELECT 1`` on a new connection within ``timeout_s``."""
    started = time.monotonic()
    where = url.render_as_string(hide_password=True)
    try:
        sql.ping(url, timeout_s)
        ok, detalhe = True, f"{where} respondeu SELECT 1"
    except Exception as exc:  # every driver/network error means the same: not reachable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        ok, detalhe = False, f"o warehouse {where} está inacessível: {type(exc).__name__}: {first}"
    return Health(ok, round(time.monotonic() - started, 3), detalhe)
