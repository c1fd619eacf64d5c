"""The request budget toward ComprasNet shared by every process (a GCRA row in the warehouse):
measured at the simulator with syncs running in separate processes."""

import re
import subprocess
import sys
import threading
import time

import pytest

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import ComprasNetCancelled
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.warehouse import orcamento

from .helpers import materialize

UASGS = ("787010", "787000", "770001")
ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
RPS, RAJADA = 20.0, 3


@pytest.fixture
def sim3():
    with ComprasNetSimulator(seed=3, contracts=dict.fromkeys(UASGS, 7)) as s:
        yield s


def _listings(sim, db_url):
    resources = {
        "comprasnet": ComprasNetResource(base_url=sim.base_url),
        "warehouse": WarehouseResource(database_url=db_url),
    }
    for uasg in UASGS:
        materialize([contratos], uasg, resources, ALL)
    sim.reset_counts()


def _run_three(sim, db_url, before_go=None):
    """The tab syncs of the three UASGs, one process each, started at the same moment."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "licitacao_pipeline_tests.sincronizar_abas_processo",
                sim.base_url,
                db_url,
                uasg,
                str(RPS),
                str(RAJADA),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for uasg in UASGS
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "pronto", proc.stderr.read()[-2000:]
        if before_go:
            before_go()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0 and "feito" in out, err[-3000:]
    return [out for out, _ in outs]


def max_in_window(times, window=1.0):
    """The most requests the server saw within any ``window`` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_three_processes_share_one_budget_measured_at_the_server(sim3, db_url, engine):
    _listings(sim3, db_url)
    _run_three(sim3, db_url)
    stamps = [t for t, path in sim3.request_times()]
    assert len(stamps) == 3 * 7 * 4  # every tab of every contract, once
    peak = max_in_window(stamps)
    span = stamps[-1] - stamps[0]
    # within any second: the burst plus one second's rate (one request of jitter at the edges)
    assert peak <= RAJADA + RPS + 1, (peak, span)
    # sustained: the whole run no faster than the rate (after the first burst)
    assert (len(stamps) - RAJADA) / span <= RPS * 1.05, (len(stamps), span)
    # and the three did run at once, at the budget's pace (not one after the other, slower)
    assert (len(stamps) - RAJADA) / span >= RPS * 0.6, (len(stamps), span)
    state = orcamento.estado(engine, sim3.base_url)
    assert state["requisicoes"] == len(stamps) and state["pausas"] == 0


def test_a_429_to_one_process_pauses_every_process(sim3, db_url, engine):
    _listings(sim3, db_url)
    pausa = 2
    # the first tab request of 787010's contracts gets 429 with Retry-After: 2
    first_787010 = r"^/api/contrato/787010\d{5}/"
    go = lambda: sim3.inject_fault("429", path=first_787010, times=1, retry_after=pausa)  # noqa: E731
    _run_three(sim3, db_url, before_go=go)
    stamps = sim3.request_times()
    t429 = next(t for t, path in stamps if re.search(first_787010, path))
    others = [t for t, path in stamps if not re.search(first_787010, path)]
    # requests already past their turn when the pause was taken may still arrive at once;
    # then nothing from any process until the pause is over
    during = [t - t429 for t in others if t429 + 0.25 < t < t429 + pausa - 0.05]
    assert during == [], during
    assert any(t > t429 + pausa for t in others)  # they went on afterwards
    assert sum(1 for t in others if t < t429) >= 1  # they were running before the 429
    assert orcamento.estado(engine, sim3.base_url)["pausas"] >= 1


def test_a_wait_for_the_budget_ends_at_once_when_the_client_is_stopped(sim, engine):
    budget = orcamento.OrcamentoCompartilhado(engine, sim.base_url, rps=5, rajada=1)
    client = ComprasNetClient(sim.base_url, orcamento=budget)
    cid = sim.contrato_ids("787010")[0]
    client.aba(cid, "itens")
    budget.pausar(60)  # another process was told to wait a minute
    errors = []

    def fetch():
        try:
            client.aba(cid, "itens")
        except ComprasNetCancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=fetch)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive() and sim.count("itens") == 1  # waiting for the pause to end
    stopped = time.monotonic()
    client.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - stopped < 1.0
    assert len(errors) == 1 and sim.count("itens") == 1
