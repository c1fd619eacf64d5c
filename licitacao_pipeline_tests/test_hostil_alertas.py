"""Issue 20, items 3, 4, 11 and 12 for the alert webhook: its secret part (path, query,
userinfo) is never logged or stored, redirects are not followed (delivered only on a 2xx), and
its answer is read only up to a small cap and within the attempt's deadline."""

import time
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa

from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.sensors import alerta_falhas
from licitacao_pipeline.flows import alertas

from .helpers import rows
from .hostil import MiB, ServidorHostil, corpo, enorme, gotejando, medir, redireciona
from .test_orchestration import _closed_port_url, failed_run, sensor_context

SEGREDOS = ("usuario-x", "senha-s3creta", "T0KEN-DO-CAMINHO", "Q-S3CRETO")


def _secret_url(origin: str) -> str:
    host = origin.removeprefix("http://")
    return f"http://usuario-x:senha-s3creta@{host}/hooks/T0KEN-DO-CAMINHO?token=Q-S3CRETO"


def _closed_origin() -> str:
    port = _closed_port_url().split("127.0.0.1:")[1].split("/")[0]
    return f"http://127.0.0.1:{port}"


def _alerta(run_id: str = "r1") -> alertas.Alerta:
    return alertas.Alerta(run_id, "sincronizar_contratos", "787010", "falhou", ["contratos"])


def _no_secret(text: str) -> None:
    for secret in SEGREDOS:
        assert secret not in text, (secret, text)


def test_the_webhooks_secret_is_never_stored_nor_logged(sim, resources, engine, capfd, monkeypatch):
    """Was: the full URL, secret path and query included, in ``alertas.post_error`` and, with
    the warehouse down, in the failure sensor's tick log and the daemon's output."""
    origin = _closed_origin()
    url = _secret_url(origin)
    alertas.record(engine, _alerta())
    assert alertas.deliver(engine, url, budget_s=10)["failed"] == 1
    [stored] = rows(engine, "alertas")
    assert stored["posted_at"] is None and origin in stored["post_error"]
    _no_secret(stored["post_error"])

    error = alertas.post_unrecorded(url, _alerta("r2"))
    assert error and origin in error
    _no_secret(error)

    down = {"warehouse": WarehouseResource(database_url=_closed_port_url())}
    monkeypatch.setenv("ALERT_WEBHOOK_URL", url)
    with dg.instance_for_test() as instance:
        result = failed_run(sim, resources, instance)
        capfd.readouterr()
        alerta_falhas(sensor_context(instance, result, down))
    out = capfd.readouterr()
    assert "webhook" in out.err + out.out
    _no_secret(out.err + out.out)


def test_a_webhook_redirect_is_not_followed_and_not_delivered(engine):
    """Was: a 302 turned the POST into a body-less GET (marked delivered); a 307 re-posted the
    payload to another host."""
    with ServidorHostil() as outro, ServidorHostil() as hook:
        hook.rotas["/h302"] = redireciona(hook.url("/aqui"), 302)
        hook.rotas["/aqui"] = corpo(b"", 200)
        hook.rotas["/h307"] = redireciona(outro.url("/roubado"), 307)
        outro.rotas["/roubado"] = corpo(b"", 200)
        for path, status in (("/h302", 302), ("/h307", 307)):
            alertas.record(engine, _alerta(f"run-{status}"))
            delivered = alertas.deliver(engine, hook.url(path), budget_s=10, run_id=f"run-{status}")
            assert delivered == {"posted": 0, "failed": 1, "left": 0}, status
            [alert] = rows(engine, "alertas", "run_id = :r", r=f"run-{status}")
            assert alert["posted_at"] is None and f"HTTP {status}" in alert["post_error"]
        assert hook.caminhos() == ["/h302", "/h307"] and outro.pedidos == []


def test_a_huge_webhook_error_body_is_read_only_in_part():
    """Was: a 1 GiB 500 body was read whole (4 GB)."""
    with ServidorHostil({"/hook": enorme(500, 1024 * MiB)}) as hook:
        code = f"""
from licitacao_pipeline.flows import alertas
a = alertas.Alerta("r", "j", None, "m", [])
return {{"error": alertas.post_unrecorded({hook.url("/hook")!r}, a)}}
"""
        out = medir(code, limite_mb=512)
    assert out["error"].startswith("HTTP 500"), out
    assert out["pico_rss_mb"] < 150 and out["segundos"] < alertas.ATTEMPT_S, out


def test_a_trickling_webhook_is_cut_at_the_attempts_deadline():
    """Was: the attempt was abandoned after 8 s but its thread kept the connection open,
    reading a byte a second, for as long as the receiver liked."""
    with ServidorHostil({"/hook": gotejando(b"{}" * 100, 0.2, headers_too=True)}) as hook:
        started = time.monotonic()
        error = alertas.post_unrecorded(hook.url("/hook"), _alerta())
        took = time.monotonic() - started
        assert error and took < alertas.ATTEMPT_S + 1, (error, took)
        deadline = time.monotonic() + 3
        while hook.fechadas == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hook.fechadas == 1, "the client still holds the trickling connection"


def test_delivery_is_only_on_a_2xx(engine):
    with ServidorHostil({"/ok": corpo(b"", 204), "/info": corpo(b"", 304)}) as hook:
        alertas.record(engine, _alerta("a"))
        assert alertas.deliver(engine, hook.url("/info"), budget_s=10)["failed"] == 1
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alertas SET ultima_tentativa_em = NULL"))
        assert alertas.deliver(engine, hook.url("/ok"), budget_s=10)["posted"] == 1
    [alert] = rows(engine, "alertas")
    assert alert["posted_at"] <= datetime.now(UTC) and alert["post_error"] is None
