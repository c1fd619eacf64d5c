"""The production deployment as containers: the real docker-compose.yml built and started (base
images replaced by local stand-ins, ``containers.py``), the ComprasNet simulator as one more
service, the real ``licitacao`` CLI through the proxy, every run in a container of its own. Then
the faults an operator meets, each left alone to recover: the code server killed or redeployed
mid-run, a run container killed, the daemon and the webserver killed, the warehouse restarted,
the whole stack down and up. After each, printed: seconds until the UI and GraphQL serve the
code location, until the interrupted run left STARTED, until the UASG's next successful sync.

One stack for the module (``pytest -m containers`` runs it alone). Docker missing: skipped
locally, failed in CI (``LICITACAO_E2E_REQUIRED``)."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import sqlalchemy as sa

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline import names
from licitacao_pipeline.comprasnet.abas import ABAS

from . import containers
from .instantaneos import expected_snapshot, warehouse_snapshot
from .pilha import BIN, Pilha, wait

pytestmark = pytest.mark.containers

SEED, CONTRACTS = 7, 150
BASICA = "787010"
LIMITES = ["787201", "787202", "787203", "787204"]  # the pool and per-UASG limit test
TERMINAR = "787301"
FALHAS = ["787101", "787102", "787103", "787104", "787105", "787106"]  # one fresh UASG a fault
UASGS = [BASICA, *LIMITES, TERMINAR, *FALHAS]
ACTIVE = {"STARTING", "STARTED", "CANCELING"}
ENDED = {"SUCCESS", "FAILURE", "CANCELED"}


def _log(text: str) -> None:
    print(f"[containers] {text}", flush=True)


@pytest.fixture(scope="module")
def oracle():
    """The simulator's data computed here (same code, same seed): what the warehouse must hold."""
    return ComprasNetSimulator(seed=SEED, contracts=CONTRACTS, uasgs=UASGS)


@pytest.fixture(scope="module")
def pilha(tmp_path_factory):
    t0 = time.monotonic()
    containers.engine()
    images = containers.stand_in_images()
    t1 = time.monotonic()
    sim_args = ["--uasgs", ",".join(UASGS), "--contracts", str(CONTRACTS), "--seed", str(SEED)]
    env = {  # each UASG's daytime slot at night: no scheduled run during the test
        "LICITACAO_UASGS": ",".join(f"{u}@03:30" for u in UASGS),
        "LICITACAO_STEP_RETRY_DELAY_SECONDS": "2",
    }
    stack = Pilha(tmp_path_factory.mktemp("pilha"), images, sim_args, env)
    try:
        stack.compose("build", timeout=1800)
        t2 = time.monotonic()
        stack.up()
        t3 = time.monotonic()
        _log(
            f"stand-in images {t1 - t0:.1f} s, compose build {t2 - t1:.1f} s, "
            f"up until healthy {t3 - t2:.1f} s"
        )
        yield stack
    finally:
        stack.close()
        assert not stack.run_containers(all_=True), "run containers left behind"


def _submit(pilha: Pilha, *args: str) -> list[str]:
    """``licitacao sync ARGS --no-wait``: the run ids it printed."""
    proc = pilha.licitacao("sync", *args, "--no-wait")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return re.findall(r"^([0-9a-f-]{36})$", proc.stdout, re.M)


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception:  # a service down or restarting: not yet
        return None


def _equal_to_source(pilha: Pilha, oracle, uasg: str) -> None:
    assert warehouse_snapshot(pilha.warehouse, uasg) == expected_snapshot(oracle, uasg, 3)


# -- the stack as an operator starts it ------------------------------------------------------------


def test_the_stack_serves_only_with_credentials_and_syncs_a_uasg_in_a_run_container(pilha, oracle):
    import requests

    assert pilha.sim(f"contrato_ids?uasg={BASICA}") == oracle.contrato_ids(BASICA)
    assert pilha.location_loaded()
    for path in ("/", "/graphql"):
        assert requests.get(pilha.url + path, timeout=10).status_code == 401
    proc = pilha.licitacao("sync", BASICA)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _equal_to_source(pilha, oracle, BASICA)
    [run] = pilha.runs(BASICA)
    assert run["status"] == "SUCCESS" and run["tags"]["docker/container_id"]
    # every run container (this sync's, the sensors') removed once ended
    wait(lambda: not pilha.run_containers(all_=True), 60, "the ended run containers to go")
    # The webserver (behind the public proxy) has no Docker socket, and its Docker API is
    # restricted to what Terminate needs.
    web = pilha.container("webserver")
    assert containers.run("exec", web, "test", "-e", "/var/run/docker.sock", check=False).returncode
    probe = (
        "import sys, urllib.request as u, urllib.error as e\n"
        "r = u.Request('http://docker-api:2375' + sys.argv[2], method=sys.argv[1],"
        " data=b'' if sys.argv[1] == 'POST' else None)\n"
        "try: print(u.urlopen(r, timeout=10).status)\n"
        "except e.HTTPError as x: print(x.code)\n"
    )
    for method, path, code in [
        ("GET", "/version", "200"),
        ("GET", f"/v1.41/containers/{web}/json", "200"),
        ("GET", "/v1.41/containers/json", "403"),
        ("POST", "/v1.41/containers/create", "403"),
        ("POST", f"/v1.41/containers/{web}/kill", "403"),
        ("GET", "/v1.41/images/json", "403"),
        ("POST", f"/v1.41/containers/{web}/exec", "403"),
    ]:
        out = containers.run("exec", web, "python", "-c", probe, method, path).stdout.strip()
        assert out == code, (method, path, out)


def test_one_run_per_uasg_and_the_pool_hold_with_run_containers_and_terminate_stops_one(
    pilha, oracle
):
    pilha.set_latency(0.5)
    first = _submit(pilha, *LIMITES)
    [second] = _submit(pilha, LIMITES[0])  # waits for the first run of its UASG
    assert len(first) == len(LIMITES)
    ids = [*first, second]
    most, seen_second_with_first = 0, False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = pilha.statuses(ids)
        running = [rid for rid, s in states.items() if s in ACTIVE]
        most = max(most, len(running))
        seen_second_with_first |= first[0] in running and second in running
        if all(s in ENDED for s in states.values()):
            break
        time.sleep(0.3)
    assert all(pilha.status(rid) == "SUCCESS" for rid in ids)
    assert most == 3  # the comprasnet pool: 3 at once, the fourth waited
    assert not seen_second_with_first
    for uasg in LIMITES:
        _equal_to_source(pilha, oracle, uasg)
    # Terminate from GraphQL (the UI's button): the run container stops within seconds.
    pilha.set_latency(1.0)
    [rid] = _submit(pilha, TERMINAR, "--full")  # every tab due: minutes of requests
    ids = [r["id"] for r in oracle.listing(TERMINAR)]
    wait(lambda: pilha.status(rid) == "STARTED" and pilha.tab_requests(ids), 120, "its tabs")
    assert pilha.status(rid) == "STARTED"
    t0 = time.monotonic()
    answer = pilha.terminate(rid)
    assert answer["__typename"] == "TerminateRunSuccess", (answer, pilha.logs("webserver"))
    wait(lambda: pilha.status(rid) == "CANCELED", 30, "the terminated run to end")
    _log(f"Terminate: run CANCELED after {time.monotonic() - t0:.1f} s")
    assert time.monotonic() - t0 < 15
    wait(lambda: not pilha.run_containers(), 30, "the run container to go")
    pilha.set_latency(0.0)
    proc = pilha.licitacao("sync", TERMINAR)  # the next sync completes what was left
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _equal_to_source(pilha, oracle, TERMINAR)


# -- faults, each left alone to recover ---------------------------------------------------------


def _stored_tabs(pilha: Pilha, uasg: str) -> set[str]:
    """The tab paths whose answers the warehouse has stored for the UASG's contracts."""
    flags = ", ".join(f"{aba}_atualizado_em IS NOT NULL" for aba in ABAS)
    with pilha.warehouse.connect() as conn:
        found = conn.execute(
            sa.text(f"SELECT id, {flags} FROM contratos WHERE uasg = :u"), {"u": uasg}
        ).all()
    return {
        f"/api/contrato/{row[0]}/{aba}"
        for row in found
        for aba, ok in zip(ABAS, row[1:], strict=True)
        if ok
    }


def _fault(pilha: Pilha, oracle, uasg: str, name: str, act, restarted=()) -> dict:
    """A sync of ``uasg`` under way, then ``act()`` (which may return the moment from which to
    measure, e.g. the stack back up); then, with nobody touching anything but the
    operator's next ``licitacao sync`` sent at once: the location served again (after the
    ``restarted`` services came back), the run out of STARTED, the sync done, no tab fetched
    twice but those in flight, the warehouse equal to the source. Returns the measures."""
    ids = oracle.contrato_ids(uasg)
    pilha.set_latency(0.5)  # a run long enough to be interrupted
    [rid] = _submit(pilha, uasg)
    wait(lambda: pilha.status(rid) == "STARTED", 120, f"the {uasg} run to start")
    wait(  # some tabs already stored, most still to fetch
        lambda: sum(pilha.tab_requests(ids).values()) >= 40 and len(_stored_tabs(pilha, uasg)) >= 8,
        120,
        "its tab sync under way",
    )
    before = {s: pilha.started_at(s) for s in restarted}
    stored = _stored_tabs(pilha, uasg)
    t0 = time.monotonic()
    t0 = act() or t0  # measured from when the stack is back, if the fault says so
    pilha.set_latency(0.05)
    nxt = subprocess.Popen(
        [str(BIN / "licitacao"), "sync", uasg],
        env=pilha.cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    location = left = None
    while (location is None or left is None) and time.monotonic() - t0 < 240:
        back = all(_try(pilha.started_at, s) not in (None, before[s]) for s in restarted)
        if location is None and back and _try(pilha.location_loaded):
            location = time.monotonic() - t0
        if left is None and _try(pilha.status, rid) not in (None, *ACTIVE):
            left = time.monotonic() - t0
        time.sleep(0.5)
    out, _ = nxt.communicate(timeout=600)
    synced = time.monotonic() - t0
    # Then the UASG's other runs (an automatic retry) end too, before counting. A launch cut by
    # the database restarting can leave a run created but never queued (NOT_STARTED): it holds
    # nothing (the sync above went through) and run monitoring fails it after its start timeout.
    wait(
        lambda: all(r["status"] in ENDED | {"NOT_STARTED"} for r in pilha.runs(uasg)),
        180,
        f"{uasg}'s runs to end",
    )
    status = pilha.status(rid)
    counts = pilha.tab_requests(ids)
    twice = sum(n - 1 for n in counts.values())
    refetched = [path for path in stored if counts.get(path) != 1]
    measures = {"location": location, "left_started": left, "next_sync": synced}
    _log(
        f"{name}: location served again after {location and round(location, 1)} s; run "
        f"{status} after {left and round(left, 1)} s; next sync done after {synced:.1f} s; "
        f"tabs fetched twice: {twice} of {len(counts)}, none of the {len(stored)} already stored"
    )
    assert nxt.returncode == 0, out[-3000:]
    assert location is not None and location <= 60, pilha.logs("webserver", "code")
    assert left is not None and left <= 180, pilha.logs("daemon")
    assert not refetched, refetched  # the next run resumed where this one stopped
    assert max(counts.values()) <= 2 and (twice == 0 or status != "SUCCESS"), counts
    _equal_to_source(pilha, oracle, uasg)
    return {**measures, "status": status, "run": rid}


def test_the_code_server_killed_mid_run(pilha, oracle):
    """What the OOM killer does: the run (in its own container) goes on; the location is back
    once the restart policy restarted the code server."""
    m = _fault(
        pilha,
        oracle,
        FALHAS[0],
        "code server SIGKILL",
        lambda: pilha.kill_main_process("code"),
        restarted=["code"],
    )
    assert m["status"] == "SUCCESS"


def test_the_code_server_redeployed_mid_run(pilha, oracle):
    def deploy():
        pilha.compose("up", "-d", "--force-recreate", "--no-deps", "code")

    m = _fault(pilha, oracle, FALHAS[1], "code server recreated (deploy)", deploy, ["code"])
    assert m["status"] == "SUCCESS"


def test_a_run_container_killed_is_failed_by_run_monitoring_and_retried(pilha, oracle):
    def kill_run():
        [cid] = pilha.run_containers(job=names.JOB_SINCRONIZAR)  # not a portal refresh's
        containers.run("kill", cid)

    m = _fault(pilha, oracle, FALHAS[2], "run container SIGKILL", kill_run)
    assert m["status"] == "FAILURE"
    [retry] = [
        r for r in pilha.runs(FALHAS[2]) if r["tags"].get("dagster/parent_run_id") == m["run"]
    ]
    assert retry["status"] == "SUCCESS"


def test_the_daemon_and_the_webserver_killed_mid_run(pilha, oracle):
    def kill():
        pilha.kill_main_process("daemon")
        pilha.kill_main_process("webserver")

    m = _fault(
        pilha, oracle, FALHAS[3], "daemon + webserver SIGKILL", kill, ["daemon", "webserver"]
    )
    assert m["status"] == "SUCCESS"


def test_the_warehouse_restarted_mid_run(pilha, oracle):
    def restart():
        pilha.compose("restart", "postgres")
        pilha.endpoints()  # its port on the host is a new one

    _fault(pilha, oracle, FALHAS[4], "postgres restarted", restart)


def test_the_whole_stack_down_and_up_mid_run_loses_no_row(pilha, oracle):
    kept = [BASICA, *LIMITES, TERMINAR, *FALHAS[:5]]
    before = {u: warehouse_snapshot(pilha.warehouse, u) for u in kept}

    def down_up():
        pilha.carry_counts()  # the simulator goes down too
        t = time.monotonic()
        proc = pilha.compose("down")
        assert "Resource is still in use" not in proc.stderr, proc.stderr
        assert not pilha.run_containers(all_=True)  # stopped with the stack
        _log(f"down in {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        pilha.up()
        _log(f"up until healthy in {time.monotonic() - t:.1f} s (measures below: from then)")
        return time.monotonic()

    _fault(pilha, oracle, FALHAS[5], "stack down + up", down_up)
    assert {u: warehouse_snapshot(pilha.warehouse, u) for u in kept} == before


def test_a_warehouse_backup_restores_whole_with_pg_restore(pilha, tmp_path):
    """README's backup and restore commands, restored into a database beside the warehouse."""
    dump = tmp_path / "licitacao.dump"
    with dump.open("wb") as out:
        pilha.compose(
            "exec",
            "-T",
            "postgres",
            "pg_dump",
            "-U",
            "licitacao",
            "-Fc",
            "licitacao",
            stdout=out,
            stderr=subprocess.PIPE,
        )
    assert dump.stat().st_size > 10_000
    pilha.compose("exec", "-T", "postgres", "createdb", "-U", "licitacao", "restaurado")
    with dump.open("rb") as dump_in:
        pilha.compose(
            "exec",
            "-T",
            "postgres",
            "pg_restore",
            "-U",
            "licitacao",
            "-d",
            "restaurado",
            "--no-owner",
            stdin=dump_in,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    restored = sa.create_engine(
        pilha.warehouse.url.set(database="restaurado"), poolclass=sa.NullPool
    )
    try:
        for uasg in UASGS:
            assert warehouse_snapshot(restored, uasg) == warehouse_snapshot(pilha.warehouse, uasg)
    finally:
        restored.dispose()
