"""The HTTP client against the simulator: throttling, errors that name what went wrong."""

import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest
from sqlalchemy.exc import InterfaceError, OperationalError

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import (
    ComprasNetBadResponse,
    ComprasNetCancelled,
    ComprasNetHTTPError,
    ComprasNetNotFound,
    ComprasNetUnavailable,
)
from licitacao_pipeline.comprasnet.parsing import RecordError
from licitacao_pipeline.defs.retries import is_transient, retry_policy

from .helpers import StatusServer


def test_requests_per_second_cap_holds_across_threads(sim):
    client = ComprasNetClient(sim.base_url, max_rps=20)
    cid = sim.contrato_ids("787010")[0]
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.aba(cid, "itens"), range(21)))
    # 21 request starts spaced 1/20 s apart cannot fit in less than one second
    assert time.monotonic() - started >= 0.95
    assert client.stats.snapshot()["requests"] == 21


def test_html_page_with_status_200_is_a_clear_error(sim):
    sim.inject_fault("html200", path=r"/historico$", times=-1)
    client = ComprasNetClient(sim.base_url, body_retries=1, backoff_factor=0.01)
    cid = sim.contrato_ids("787010")[0]
    with pytest.raises(ComprasNetBadResponse) as err:
        client.aba(cid, "historico")
    text = str(err.value)
    assert f"/api/contrato/{cid}/historico" in text and "status=200" in text
    assert "<html" in text.lower()
    assert client.stats.snapshot()["retries"] == 1


def test_unknown_contract_is_not_found_and_not_transient(sim):
    client = ComprasNetClient(sim.base_url)
    with pytest.raises(ComprasNetNotFound) as err:
        client.contrato(999)
    assert err.value.status == 404 and not err.value.transient


def test_gzip_is_negotiated_and_single_contract_may_come_wrapped(sim):
    client = ComprasNetClient(sim.base_url)
    cid = sim.contrato_ids("787010")[0]
    resp = client.session.get(f"{sim.base_url}/api/contrato/id/{cid}", stream=True)
    assert resp.headers.get("Content-Encoding") == "gzip"
    resp.close()
    assert client.contrato(cid) == sim.contrato(cid)
    with ComprasNetSimulator(seed=7, contracts={"787010": 2}, wrap_single=True) as wrapped:
        raw = ComprasNetClient(wrapped.base_url).get_json(f"/api/contrato/id/{cid}")
        assert isinstance(raw, list) and len(raw) == 1
        assert ComprasNetClient(wrapped.base_url).contrato(cid) == raw[0]


# -- which failures are worth trying again: the client's retry list and the step's decision ----

# Transient (the client retries it, then the step is retried): 429 and every 5xx. Permanent
# (fails at once, nothing retried): every other 4xx.
STATUS_TRANSIENT = {
    400: False,
    401: False,
    403: False,
    404: False,
    405: False,
    408: False,
    409: False,
    410: False,
    422: False,
    428: False,
    429: True,
    430: False,
    451: False,
    499: False,
    500: True,
    501: True,
    502: True,
    503: True,
    504: True,
    599: True,
}


@pytest.mark.parametrize("status,transient", STATUS_TRANSIENT.items())
def test_only_429_and_5xx_http_errors_are_transient(status, transient):
    cls = ComprasNetNotFound if status == 404 else ComprasNetHTTPError
    exc = cls("erro HTTP", url="http://x/api/contrato/1/itens", status=status)
    assert exc.transient is transient
    assert is_transient(exc) is transient


def test_an_http_error_without_a_status_is_transient():
    assert ComprasNetHTTPError("erro HTTP", url="http://x").transient is True


@pytest.mark.parametrize(
    "exc,transient",
    [
        (
            ComprasNetUnavailable("a requisição falhou após as novas tentativas", url="http://x"),
            True,
        ),
        (ComprasNetBadResponse("invalid JSON", url="http://x", status=200), True),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (InterfaceError("SELECT 1", {}, Exception("connection already closed")), True),
        (ConnectionResetError("reset by peer"), True),
        (TimeoutError("timed out"), True),
        (RecordError("valor_global: valor monetário inválido"), False),
        (ValueError("bad"), False),
        (KeyError("id"), False),
        (ComprasNetCancelled("o cliente foi parado"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_step_retries_only_transient_faults(exc, transient):
    assert is_transient(exc) is transient


def test_errors_name_the_url_the_status_and_what_came_back():
    exc = ComprasNetHTTPError("erro HTTP", url="http://x/a", status=503, snippet="<html>")
    assert str(exc) == "erro HTTP [url=http://x/a status=503] início do corpo: '<html>'"
    assert (exc.url, exc.status, exc.snippet) == ("http://x/a", 503, "<html>")
    bare = ComprasNetUnavailable("a requisição falhou", url="http://x/b")
    assert str(bare) == "a requisição falhou [url=http://x/b]"
    assert (bare.url, bare.status, bare.snippet) == ("http://x/b", None, "")
    missing = ComprasNetNotFound("erro HTTP", url="http://x/c", status=404, snippet="{}")
    assert str(missing) == "erro HTTP [url=http://x/c status=404] início do corpo: '{}'"
    assert (missing.url, missing.status, missing.snippet) == ("http://x/c", 404, "{}")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_the_client_retries_429_and_5xx_even_without_retry_after(status):
    """urllib3 retries a 429 or 503 *with* Retry-After whatever the retry list says; without
    the header only the client's own list (RETRY_STATUSES) makes it try again."""
    with StatusServer(status, status, 200) as server:
        client = ComprasNetClient(server.base_url, backoff_factor=0.01, backoff_max=0.05)
        assert client.aba(1, "itens") == []
    assert server.requests == {"/api/contrato/1/itens": 3}
    assert client.stats.snapshot()["retries"] == 2


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
def test_the_client_does_not_retry_other_4xx(status):
    with StatusServer(status, 200) as server:
        client = ComprasNetClient(server.base_url, backoff_factor=0.01, backoff_max=0.05)
        with pytest.raises(ComprasNetHTTPError) as err:
            client.aba(1, "itens")
    assert err.value.status == status and not err.value.transient
    assert isinstance(err.value, ComprasNetNotFound) is (status == 404)
    assert server.requests == {"/api/contrato/1/itens": 1}
    assert client.stats.snapshot() == {
        "requests": 1,
        "bytes": len(b'{"message": "erro"}'),
        "retries": 0,
    }


def test_step_retry_policy_defaults_to_the_celery_tasks_settings(monkeypatch):
    """3 retries, 120 s exponential and jittered backoff, unless the environment says else."""
    monkeypatch.delenv("LICITACAO_STEP_RETRIES", raising=False)
    monkeypatch.delenv("LICITACAO_STEP_RETRY_DELAY_SECONDS", raising=False)
    assert retry_policy() == dg.RetryPolicy(
        max_retries=3, delay=120.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )
    monkeypatch.setenv("LICITACAO_STEP_RETRIES", "5")
    monkeypatch.setenv("LICITACAO_STEP_RETRY_DELAY_SECONDS", "0.5")
    policy = retry_policy()
    assert (policy.max_retries, policy.delay) == (5, 0.5)
