"""The HTTP client against the simulator: throttling, errors that name what went wrong."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import ComprasNetBadResponse, ComprasNetNotFound


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
