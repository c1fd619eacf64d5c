"""Bounded, interruptible, fair tab sync: real `dagster asset materialize` processes stopped by
signals, runs cut by their budget, over HTTP against a real PostgreSQL."""

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.flows import abas as abas_sync
from licitacao_pipeline.flows.abas import Limites, sync_abas

from .helpers import materialize, rows, stamped, tab_requests, with_client

DAGSTER = str(Path(sys.executable).with_name("dagster"))
UASG = "787010"
ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
# the first four tabs: enough for the pool's interrupts, and quicker
QUATRO = ABAS[:4]
SELECTION = ",".join(["contratos", *(f"contratos_{a}" for a in ABAS)])
CONCURRENCY = 8


def start_materialize(sim, db_url, cwd, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_HOME")}
    environ.update(
        DATABASE_URL=db_url,
        COMPRASNET_BASE_URL=sim.base_url,
        COMPRASNET_MAX_RPS="0",  # the request budget has its own tests (test_orcamento)
        LICITACAO_UASGS=UASG,
        **env,
    )
    cmd = [
        DAGSTER,
        "asset",
        "materialize",
        "-m",
        "licitacao_pipeline.definitions",
        "--select",
        SELECTION,
        "--partition",
        UASG,
        "--config-json",
        '{"ops": {"contratos": {"config": {"vigencia_janela_dias": null}}}}',
    ]
    return subprocess.Popen(
        cmd, env=environ, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_sync_stops_requests_keeps_work_and_next_run_resumes(
    db_url, engine, tmp_path, signum
):
    n = 200
    with ComprasNetSimulator(seed=5, contracts={UASG: n}, latency=0.05) as sim:
        proc = start_materialize(sim, db_url, tmp_path)
        try:
            wait_for(lambda: tab_requests(sim) >= 150, 120, "the tab sync to be under way")
            proc.send_signal(signum)
            at_signal, signalled = tab_requests(sim), time.monotonic()
            out, _ = proc.communicate(timeout=30)
            took = time.monotonic() - signalled
        finally:
            proc.kill()
        first = tab_requests(sim)
        assert proc.returncode != 0, out[-2000:]
        assert took < 10, f"the process took {took:.1f}s to exit after the signal"
        assert first - at_signal <= CONCURRENCY, (first, at_signal)
        assert first < len(ABAS) * n / 2, "the signal came too late to interrupt anything"
        kept = stamped(engine)
        assert kept >= first - CONCURRENCY, (kept, first)  # what arrived was written
        # one line says what was stored and what is left, instead of the interrupt's traceback
        said = re.search(rf"{UASG} \(.+\): parada pedida; abas gravadas nesta execução: (.+)", out)
        assert said and "ainda devidas: historico " in said[1], out[-3000:]
        assert "DagsterExecutionInterruptedError" not in out

        sim.reset_counts()
        materialize([contratos, contratos_abas], UASG, _resources(sim, db_url), ALL)
        second = tab_requests(sim)
    assert second == len(ABAS) * n - kept  # only what was left
    assert first + second <= len(ABAS) * n * 1.02
    assert stamped(engine) == len(ABAS) * n


def test_sigterm_during_a_step_retry_wait_ends_the_process_at_once(db_url, tmp_path):
    with ComprasNetSimulator(seed=5, contracts={UASG: 5}) as sim:
        sim.inject_fault("html200", path=r"/api/contrato/ug/", times=-1)
        proc = start_materialize(
            sim,
            db_url,
            tmp_path,
            LICITACAO_STEP_RETRIES="3",
            LICITACAO_STEP_RETRY_DELAY_SECONDS="120",
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        try:  # the client's own retries end, then the step waits 120 s before its retry
            wait_for(
                lambda: any("nova tentativa do step 1/3 em" in line for line in lines),
                90,
                "the wait",
            )
            time.sleep(1)
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            proc.wait(timeout=60)
            took = time.monotonic() - signalled
        finally:
            proc.kill()
        reader.join(5)
    assert took < 10, f"{took:.1f}s to exit after SIGTERM during the retry wait"
    assert proc.returncode != 0, "".join(lines)[-3000:]


def _resources(sim, db_url):
    from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource

    return {
        "comprasnet": ComprasNetResource(base_url=sim.base_url, max_concurrency=CONCURRENCY),
        "warehouse": WarehouseResource(database_url=db_url),
    }


def test_runs_cut_every_time_still_sync_every_tab_of_every_contract(sim, resources, engine):
    """Every tab is always due (validade 0) and each run may start only 10 of the 25 contracts:
    oldest-first with all tabs of a contract together reaches every contract and tab kind."""
    ids = sim.contrato_ids(UASG)
    assert len(ids) == 25
    materialize([contratos], UASG, resources, ALL)
    budget = {"contratos_abas": {"config": {"validade_horas": 0, "max_contratos": 10}}}
    pending = []
    for _ in range(3):
        sim.reset_counts()
        result = materialize([contratos_abas], UASG, resources, budget)
        assert tab_requests(sim) == len(ABAS) * 10  # every tab of each started contract
        meta = {
            m.asset_key.path[0]: {k: v.value for k, v in m.materialization.metadata.items()}
            for m in result.get_asset_materialization_events()
        }
        assert {m["parada"] for m in meta.values()} == {"max_contratos"}
        pending.append(meta["contratos_arquivos"]["contratos_pendentes"])
    assert pending == [15, 15, 15]  # due as of each run's start: everything synced before it
    synced = rows(engine)
    assert all(r[f"{a}_atualizado_em"] is not None for r in synced for a in ABAS)
    assert all(r["detalhes_atualizados_em"] is not None for r in synced)


def test_after_its_budget_a_run_waits_for_requests_in_flight_only_the_grace(
    sim, resources, engine, monkeypatch, caplog
):
    """The budget is reached with 4 tabs in flight; historico waits out a 60 s Retry-After.
    After BUDGET_GRACE (here 1 s) the client is stopped: the wait ends, the other three tabs
    are stored and historico stays due for the next run."""
    monkeypatch.setattr(abas_sync, "BUDGET_GRACE", 1.0)
    materialize([contratos], UASG, resources, ALL)
    first, second = sim.contrato_ids(UASG)[:2]
    sim.inject_fault("429", path=rf"^/api/contrato/{first}/historico$", times=-1, retry_after=60)
    client = with_client(resources, sim, max_retries=1)["comprasnet"].client
    logger = logging.getLogger("test_interrupcao.budget")
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger=logger.name):
        result = sync_abas(
            client,
            engine,
            [(first, QUATRO), (second, QUATRO)],
            QUATRO,
            workers=4,
            limites=Limites(max_contratos=1),
            logger=logger,
        )
    assert time.monotonic() - started < 10  # not the 60 s Retry-After
    assert (result.contratos, result.parada, result.falhas) == (1, "max_contratos", 0)
    assert "abas: orçamento atingido (max_contratos); terminando 4" in caplog.messages
    [row] = rows(engine, where="id = :i", i=first)
    assert row["historico_atualizado_em"] is None
    assert all(row[f"{a}_atualizado_em"] is not None for a in QUATRO[1:])
    assert stamped(engine) == 3


def test_a_run_past_its_time_budget_starts_no_contract_and_says_why(sim, resources, engine):
    materialize([contratos], UASG, resources, ALL)
    sim.reset_counts()
    budget = {"contratos_abas": {"config": {"max_minutos": 0}}}
    result = materialize([contratos_abas], UASG, resources, budget)
    assert tab_requests(sim) == 0 and stamped(engine) == 0
    for m in result.get_asset_materialization_events():
        meta = {k: v.value for k, v in m.materialization.metadata.items()}
        assert (meta["parada"], meta["contratos_pendentes"]) == ("prazo", 25)


def test_an_interrupt_writes_the_answers_already_on_their_way_and_no_more(sim, resources, engine):
    """In process, so that it is exact: the interrupt comes while tab requests are in flight.
    Every request the API received is answered within the drain grace and written; the rest
    is never sent, and the interrupt goes on."""
    materialize([contratos], UASG, resources, ALL)
    ids = sim.contrato_ids(UASG)

    def work():  # 28 tabs, room for 32: the interrupt comes once the first 8 are sent
        yield from ((cid, QUATRO) for cid in ids[:7])
        time.sleep(0.2)  # the answers take 0.4 s: they come back during the drain (1 s)
        raise KeyboardInterrupt

    sim.latency = 0.4
    sim.reset_counts()
    client = resources["comprasnet"].make_client()
    with pytest.raises(KeyboardInterrupt):
        sync_abas(client, engine, work(), QUATRO, workers=8)
    sent = tab_requests(sim)
    assert client.stopped and 0 < sent <= 8  # only what the 8 workers had already sent
    assert stamped(engine) == sent  # ... and all of it was written


def test_an_interrupt_does_not_wait_for_a_request_that_hangs(sim, resources, engine):
    """The drain waits for the answers on their way for a second, not for a stuck request
    (here one that would take its whole 10 s read timeout)."""
    materialize([contratos], UASG, resources, ALL)
    cid = sim.contrato_ids(UASG)[0]
    sim.inject_fault("timeout", path=rf"^/api/contrato/{cid}/historico$", delay=30)
    interrupted = []

    def work():
        yield cid, QUATRO
        time.sleep(0.3)  # the other three tabs are back, historico hangs
        interrupted.append(time.monotonic())
        raise KeyboardInterrupt

    client = with_client(resources, sim, read_timeout=10.0, max_retries=0)["comprasnet"].client
    with pytest.raises(KeyboardInterrupt):
        sync_abas(client, engine, work(), QUATRO, workers=4)
    assert time.monotonic() - interrupted[0] < 5  # DRAIN_GRACE (1 s), the write, some slack
    stuck = [t for t in threading.enumerate() if re.fullmatch(r"comprasnet-\d+", t.name)]
    assert stuck and all(t.daemon for t in stuck)  # cannot keep the process alive at its end
    [row] = rows(engine, where="id = :i", i=cid)
    assert row["historico_atualizado_em"] is None
    assert all(row[f"{a}_atualizado_em"] is not None for a in QUATRO[1:])


def test_an_interrupt_goes_on_as_soon_as_every_answer_on_its_way_is_in(
    sim, resources, engine, monkeypatch
):
    """The drain grace is a ceiling, not a wait: once the requests in flight have all answered,
    the interrupt goes on at once (here the grace is 30 s and the answers are already back)."""
    monkeypatch.setattr(abas_sync, "DRAIN_GRACE", 30.0)
    materialize([contratos], UASG, resources, ALL)
    ids = sim.contrato_ids(UASG)
    interrupted = []

    def work():
        yield from ((cid, QUATRO) for cid in ids[:2])
        time.sleep(0.5)  # the 8 answers come back meanwhile, nobody reads them yet
        interrupted.append(time.monotonic())
        raise KeyboardInterrupt

    sim.reset_counts()
    client = resources["comprasnet"].make_client()
    with pytest.raises(KeyboardInterrupt):
        sync_abas(client, engine, work(), QUATRO, workers=8)
    assert time.monotonic() - interrupted[0] < 10  # not the 30 s grace
    assert tab_requests(sim) == stamped(engine) == 8  # every answer written, none lost
