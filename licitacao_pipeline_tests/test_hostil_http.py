"""Issue 20, items 1-4, 6 and 13: whatever a server sends (size, depth, compression, speed,
redirects), a ComprasNet request ends in bounded memory and time with an error that names the
URL and the limit. Against the tests' own hostile server; memory is the peak RSS of a child
process that does the request under an address-space limit (``hostil.medir``)."""

import json
import time

import pytest

from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import ComprasNetError
from licitacao_pipeline.flows.saude import check_comprasnet

from .hostil import (
    MiB,
    ServidorHostil,
    bomba,
    corpo,
    enorme,
    gotejando,
    medir,
    redireciona,
)

UG = "/api/contrato/ug/787010"
INATIVO = "/api/contrato/inativo/ug/787010"
GiB = 1024 * MiB


def _child(base: str, call: str, **client) -> str:
    """Child code: one client call against ``base``; returns what was raised and the bytes."""
    return f"""
from licitacao_pipeline.comprasnet.client import ComprasNetClient
c = ComprasNetClient({base!r}, max_retries=0, body_retries=0, **{client!r})
try:
    value = {call}
    items = list(value) if hasattr(value, "count") and hasattr(value, "close") else value
    return {{"erro": None, "valor": items if isinstance(items, list) else [items]}}
except Exception as e:
    return {{"erro": type(e).__name__, "mensagem": str(e),
            "transient": getattr(e, "transient", None), "bytes": c.stats.snapshot()["bytes"]}}
"""


# -- 1. nesting is bounded: a record nested 100,000 deep is rejected alone --------------------


def _deep(depth: int, rid: int = 2) -> bytes:
    return b'{"id": %d, "objeto": ' % rid + b"[" * depth + b"]" * depth + b"}"


def test_a_listing_record_nested_100000_deep_is_rejected_alone_in_flat_memory():
    """Was: the listing parser's memory grew with the square of the depth (22 GB, OOM-killed).
    Now the record is handed on as rejected (with its id) and its neighbours are read."""
    listing = b"[" + b'{"id": 1}, ' + _deep(100_000) + b', {"id": 3}]'
    with ServidorHostil({UG: corpo(listing)}) as api:
        code = f"""
from licitacao_pipeline.comprasnet.client import ComprasNetClient
listing = ComprasNetClient({api.origin!r}, max_retries=0, body_retries=0).contratos("787010")
out = []
for item in listing:
    out.append(item if isinstance(item, dict) else
               {{"rejeitado": getattr(item, "record_id", None), "motivo": item.reason}})
return {{"count": listing.count, "itens": out}}
"""
        out = medir(code, limite_mb=768)
    assert "erro" not in out, out
    assert out["count"] == 3
    first, deep, last = out["itens"]
    assert first == {"id": 1} and last == {"id": 3}
    assert deep["rejeitado"] == 2 and "profundidade" in deep["motivo"]
    assert out["pico_rss_mb"] < 200, out


# -- 2. every body has a decompressed-size limit, counted while reading ------------------------


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/api/contrato/1/empenhos", "c.aba(1, 'empenhos')"),
        ("/api/contrato/id/1", "c.contrato(1)"),
    ],
    ids=["aba", "contrato"],
)
def test_a_gzip_bomb_stops_at_the_size_limit_with_flat_memory(path, call):
    """Was: 1 MB on the wire, 1 GiB unpacked: 2.27 GB RSS on /id, MemoryError on the tabs."""
    with ServidorHostil({path: bomba(b"[", GiB, b"]")}) as api:
        out = medir(_child(api.origin, call), limite_mb=768)
    assert out["erro"] == "ComprasNetBodyTooLarge", out
    assert path in out["mensagem"] and "MiB" in out["mensagem"] and "_max_bytes" in out["mensagem"]
    assert out["transient"] is False
    assert out["pico_rss_mb"] < 200, out


def test_a_gzip_bomb_on_the_listing_stops_at_its_limit(tmp_path):
    """Was: memory held, but the whole 2 GiB went to the spool on disk for 2 MB received."""
    with ServidorHostil({UG: bomba(b"[", GiB, b"]")}) as api:
        out = medir(
            _child(api.origin, "c.contratos('787010')", listing_max_bytes=8 * MiB), limite_mb=768
        )
    assert out["erro"] == "ComprasNetBodyTooLarge", out
    assert "8 MiB" in out["mensagem"] and "listing_max_bytes" in out["mensagem"]
    assert out["bytes"] <= 8 * MiB + 1 * MiB  # stopped at the limit, not at 1 GiB
    assert out["pico_rss_mb"] < 200, out


# -- 3. error bodies are read only up to a small cap ------------------------------------------


def test_a_huge_error_body_is_not_read_whole():
    """Was: a 300 MB 503 was read whole (by the retry's drain and then by ``resp.content``)."""
    path = "/api/contrato/1/itens"
    with ServidorHostil({path: enorme(503, 300 * MiB)}) as api:
        out = medir(
            _child(api.origin, "c.aba(1, 'itens')").replace("max_retries=0", "max_retries=1"),
            limite_mb=512,
        )
    assert out["erro"] == "ComprasNetHTTPError" and "status=503" in out["mensagem"], out
    assert out["pico_rss_mb"] < 150 and out["segundos"] < 10, out


def test_the_health_check_reads_a_huge_404_only_in_part_and_calls_it_unhealthy():
    """Was: a 300 MB 404 on the health path took 773 MB and was reported healthy."""
    path = "/api/contrato/0/empenhos"
    with ServidorHostil({path: enorme(404, 300 * MiB)}) as api:
        code = f"""
from licitacao_pipeline.flows.saude import check_comprasnet
h = check_comprasnet({api.origin!r}, {path!r}, 5.0)
return {{"ok": h.ok, "detalhe": h.detalhe, "duracao_s": h.duracao_s}}
"""
        out = medir(code, limite_mb=512)
    assert out["ok"] is False and "64 KiB" in out["detalhe"], out
    assert out["pico_rss_mb"] < 150 and out["duracao_s"] < 5, out


# -- 4. every request has a whole-request deadline --------------------------------------------


def test_a_listing_trickled_a_byte_at_a_time_ends_at_its_deadline():
    """Was: a listing trickled at 1 byte/s over 59 s passed a 5 s read timeout."""
    body = b"[" + b" " * 200 + b"]"
    with ServidorHostil({UG: gotejando(body, 0.1), INATIVO: corpo(b"[]")}) as api:
        client = ComprasNetClient(
            api.origin, read_timeout=1.0, listing_deadline_s=2.0, max_retries=0, body_retries=0
        )
        started = time.monotonic()
        with pytest.raises(ComprasNetError) as err:
            client.contratos("787010")
        took = time.monotonic() - started
    assert took < 4.0, took
    assert err.value.transient and "prazo" in str(err.value) and "2 s" in str(err.value)
    assert "listing_deadline_s" in str(err.value)


def test_trickled_headers_end_at_the_deadline_too():
    with ServidorHostil(
        {"/api/contrato/1/arquivos": gotejando(b"[]", 0.1, headers_too=True)}
    ) as api:
        client = ComprasNetClient(
            api.origin, read_timeout=1.0, request_deadline_s=1.5, max_retries=0, body_retries=0
        )
        started = time.monotonic()
        with pytest.raises(ComprasNetError) as err:
            client.aba(1, "arquivos")
    assert time.monotonic() - started < 3.5
    assert err.value.transient and "prazo" in str(err.value)


def test_the_health_checks_time_limit_is_the_whole_answers():
    """Was: ``tempo_limite_s: 5`` reported "answered JSON in 59.062s"."""
    path = "/api/contrato/0/empenhos"
    with ServidorHostil({path: gotejando(b"[" + b" " * 100 + b"]", 0.1)}) as api:
        health = check_comprasnet(api.origin, path, 2.0)
    assert not health.ok and health.duracao_s < 3.5, health
    assert "prazo" in health.detalhe and "tempo_limite_s" in health.detalhe


# -- 6. what will be the same next time is not transient ----------------------------------------


def test_a_listing_that_is_not_json_in_its_middle_is_not_retried():
    """A complete body with a syntax error in the middle will be the same next time: no body
    retries, no step retries. A body cut short stays transient."""
    bad = b'[{"id": 1}, {"id": 2,, "x": 1}, {"id": 3}]'
    with ServidorHostil({UG: corpo(bad), INATIVO: corpo(b'[{"id": 4}, {"id"')}) as api:
        client = ComprasNetClient(api.origin, max_retries=0, body_retries=2, backoff_factor=0.01)
        with pytest.raises(ComprasNetError) as err:
            client.contratos("787010")
        assert not err.value.transient and "JSON" in str(err.value)
        assert api.caminhos().count(UG) == 1
        with pytest.raises(ComprasNetError) as cut:
            client.contratos("787010", inativo=True)
        assert cut.value.transient
        assert api.caminhos().count(INATIVO) == 3  # the body retries


# -- 13. redirects only within the configured origin -------------------------------------------


def _listing(rid: int) -> bytes:
    return json.dumps([{"id": rid}]).encode()


def test_a_redirect_to_another_origin_is_refused_naming_both():
    """Was: followed silently, and the other host's data stored."""
    with ServidorHostil() as outro, ServidorHostil() as api:
        outro.rotas[UG] = corpo(_listing(666))
        outro.rotas["/api/contrato/1/itens"] = corpo(b"[]")
        api.rotas[UG] = redireciona(outro.url(UG))
        api.rotas["/api/contrato/1/itens"] = redireciona(outro.url("/api/contrato/1/itens"), 307)
        client = ComprasNetClient(api.origin, max_retries=0, body_retries=0)
        for call in (lambda: client.contratos("787010"), lambda: client.aba(1, "itens")):
            with pytest.raises(ComprasNetError) as err:
                call()
            text = str(err.value)
            assert api.origin in text and outro.origin in text and "redirecion" in text
            assert not err.value.transient
        assert outro.pedidos == []


def test_redirects_within_the_origin_or_to_an_allowed_one_are_followed():
    with ServidorHostil() as outro, ServidorHostil() as api:
        api.rotas[UG] = redireciona(api.url(UG + "/"), 301)
        api.rotas[UG + "/"] = corpo(_listing(1))
        api.rotas["/api/contrato/1/itens"] = redireciona(outro.url("/x"), 302)
        outro.rotas["/x"] = corpo(b'[{"id": 9}]')
        client = ComprasNetClient(
            api.origin, max_retries=0, body_retries=0, allowed_redirect_origins=[outro.origin]
        )
        assert list(client.contratos("787010")) == [{"id": 1}]
        assert client.aba(1, "itens") == [{"id": 9}]
