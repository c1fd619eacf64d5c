"""The real thing, in production's topology without Docker (docker-compose.yml as processes):
the production instance config with PostgreSQL storage (the machine's PostgreSQL), a gRPC code
server, a dagster-daemon and a dagster-webserver loading it through the production workspace,
Caddy with the production Caddyfile (basic auth) in front, run workers in their own processes,
the simulator over HTTP, `licitacao sync` and the `Orquestrador` client going through the proxy
to the webserver's GraphQL API, and a real browser (Chromium) driving the UI. Verified from run
records and the warehouse, not from logs.
"""

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.client.orquestracao import CredenciaisRecusadas, Orquestrador
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.uasgs import DEFAULT_UASGS
from licitacao_pipeline.warehouse.migrate import ensure_migrated
from licitacao_pipeline.warehouse.unidades import nome as nome_da_unidade

from . import topologia
from .deployment import BIN, FINISHED, PG_URL, Deployment, admin_engine
from .instantaneos import expected_snapshot, warehouse_snapshot

# One module-scoped deployment: pyproject's `--dist loadfile` keeps this file on one xdist worker.
pytestmark = pytest.mark.daemon

CLI_UASG = "787700"  # the UASG the `licitacao sync` tests own: no other test here touches it
API_UASG = "787777"  # the Orquestrador test's
BROWSER_UASG = "787888"  # materialized from the UI by the browser
SCHEDULE_UASG = "787999"  # its daytime slot falls a few minutes after the deployment starts
TERMINATE_UASG = "787500"  # the terminate test's: no earlier test leaves state behind in it


@pytest.fixture(scope="module")
def server_databases():
    try:
        with admin_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server for the daemon tests at {PG_URL}: {exc}")
    names = [f"lic_dagster_{uuid.uuid4().hex[:8]}", f"lic_wh_{uuid.uuid4().hex[:8]}"]
    with admin_engine().connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = admin_engine().url
    yield [base.set(database=n) for n in names]
    with admin_engine().connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def deployment(server_databases, tmp_path_factory, repo_root):
    sim = ComprasNetSimulator(
        seed=11,
        contracts={
            "787010": 3,
            "787000": 80,
            "770001": 3,
            "787400": 3,
            CLI_UASG: 20,
            API_UASG: 20,
            BROWSER_UASG: 10,
            SCHEDULE_UASG: 3,
            TERMINATE_UASG: 80,
        },
        latency=0.3,
    ).start()
    # The default UASGs and this module's own; the dedicated ones at hours of their own (the
    # schedule's a few minutes from now, São Paulo time, the others at night).
    slot = datetime.now(ZoneInfo(TIMEZONE)) + timedelta(minutes=3)
    uasgs = (
        f"{DEFAULT_UASGS},{API_UASG}@03:45,{BROWSER_UASG}@03:50,{TERMINATE_UASG}@03:55,"
        f"{SCHEDULE_UASG}@{slot:%H:%M}"
    )
    try:
        dep = Deployment(
            tmp_path_factory.mktemp("dagster_home"),
            repo_root,
            *server_databases,
            sim,
            extra_env={"LICITACAO_UASGS": uasgs},
        )
        dep.schedule_slot = slot.replace(second=0, microsecond=0)
        try:
            yield dep
        finally:
            dep.close()
    finally:
        sim.stop()


def _empenho_numeros(dep, cid) -> set[str]:
    """The números of a contract's stored (not removed) empenhos."""
    with dep.warehouse.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "SELECT payload->>'numero' FROM contratos_empenhos "
                    "WHERE contrato_id = :c AND removido_em IS NULL"
                ),
                {"c": cid},
            ).scalars()
        )


def _intervals(records):
    return sorted((r.start_time, r.end_time) for r in records if r.start_time)


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_same_uasg_runs_queue_and_never_overlap_while_other_uasgs_run_in_parallel(deployment):
    # Runs must outlast the ~4 s it takes the daemon to launch one here, or they could not
    # overlap even without the limit: slow listings (the simulator answers after a delay).
    deployment.sim.inject_fault(
        "timeout", path=r"^/api/contrato/inativo/ug/787010$", times=-1, delay=5
    )
    deployment.sim.inject_fault(
        "timeout", path=r"^/api/contrato/inativo/ug/770001$", times=-1, delay=10
    )
    order = ["787010"] * 10
    for i in (1, 4, 7):
        order.insert(i, "770001")  # launched among the others, so they are queued together
    with ThreadPoolExecutor(4) as pool:
        launched = list(
            pool.map(lambda p: (p, deployment.launch("sincronizar_contratos", p)), order)
        )
    ids = [run for p, run in launched if p == "787010"]
    other = [run for p, run in launched if p == "770001"]
    recs = deployment.wait_finished(ids + other, timeout=400)
    deployment.sim.clear_faults()
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in recs.values())
    # every run that touched 787010 (including tab runs launched by automation)
    same = deployment.instance.get_run_records(
        filters=dg.RunsFilter(tags={"dagster/partition": "787010"})
    )
    spans = _intervals(same)
    assert len(spans) >= 10 and all(end for _, end in spans)
    for i in range(len(spans) - 1):
        assert spans[i][1] <= spans[i + 1][0], f"787010 runs overlap: {spans[i]} {spans[i + 1]}"
    mine = _intervals([recs[i] for i in ids])
    theirs = _intervals([recs[i] for i in other])
    assert any(_overlap(a, b) for a in mine for b in theirs), (
        f"different UASGs never ran together: 787010 {mine} 770001 {theirs}"
    )


def _pid_of(instance, run_id):
    for entry in instance.all_logs(run_id):
        text = entry.user_message or ""
        if "pid:" in text and "Executing steps" in text:
            return int(text.split("pid:")[1].split(")")[0])
    return None


def test_killed_run_is_retried_and_the_warehouse_ends_as_if_uninterrupted(deployment):
    dep = deployment
    dep.sim.latency = 1.0  # slow enough that the kill lands in the middle of the tab sync
    run_id = dep.launch("sincronizacao_completa", "787000")
    pid = dep.wait(lambda: _pid_of(dep.instance, run_id), 120, "the run worker to start")

    def tabs_in_progress():
        with dep.warehouse.connect() as conn:
            return (
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM contratos_historico h "
                        "JOIN contratos c ON c.id = h.contrato_id "
                        "WHERE c.uasg = '787000'"
                    )
                ).scalar_one()
                > 0
            )

    dep.wait(tabs_in_progress, 120, "the tab sync to be under way")
    os.kill(pid, signal.SIGKILL)  # the whole run worker (in-process executor: one process)
    dep.sim.latency = 0.3
    with dep.warehouse.connect() as conn:
        partial = conn.execute(
            sa.text(
                "SELECT count(*) FROM contratos WHERE uasg = '787000' "
                "AND detalhes_atualizados_em IS NULL"
            )
        ).scalar_one()
    assert partial > 0, "the kill came too late to interrupt anything"

    def retry_finished():
        runs = dep.instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/parent_run_id": run_id})
        )
        return runs and runs[0].dagster_run.status in FINISHED and runs[0]

    retry = dep.wait(retry_finished, 300, "the automatic retry of the killed run")
    assert dep.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert retry.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert warehouse_snapshot(dep.warehouse, "787000") == expected_snapshot(dep.sim, "787000")


def test_run_past_its_max_runtime_is_failed_and_the_next_queued_run_starts(deployment):
    dep = deployment
    dep.sim.inject_fault("timeout", path=r"^/api/contrato/ug/787400$", times=1, delay=120)
    hung = dep.launch("sincronizar_contratos", "787400", tags={"dagster/max_runtime": "5"})
    dep.wait(
        lambda: dep.instance.get_run_by_id(hung).status == dg.DagsterRunStatus.STARTED,
        240,
        "the hung run to start",
    )
    nxt = dep.launch("sincronizar_contratos", "787400")
    recs = dep.wait_finished([hung, nxt], timeout=240)
    assert recs[hung].dagster_run.status in (
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.CANCELED,
    )
    assert recs[hung].end_time - recs[hung].start_time < 60  # not the 120 s hang
    assert recs[nxt].dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert recs[nxt].start_time >= recs[hung].end_time - 1.0
    messages = " ".join(
        (e.dagster_event.message if e.dagster_event else None) or e.user_message or ""
        for e in dep.instance.all_logs(hung)
    )
    assert "max runtime" in messages.lower() or "exceeded" in messages.lower()


def _tab_requests(sim, uasg) -> int:
    """Tab requests for the UASG's contracts only: other runs of the deployment (the schedule
    test's slot can fall in the middle) fetch tabs of their own at the same time."""
    ids = {str(cid) for cid in sim.contrato_ids(uasg)}
    return sum(
        n
        for path, n in list(sim.requests.items())
        if (m := re.fullmatch(r"/api/contrato/(\d+)/(\w+)", path)) and m[1] in ids and m[2] in ABAS
    )


def test_terminated_run_stops_its_requests_at_once_and_the_next_run_resumes(deployment):
    """Terminate as the UI does (the run coordinator's cancel_run): the run worker stops
    sending requests within 2 s, keeps what it stored, ends CANCELED, and the next run of the
    UASG fetches only the rest."""
    dep, uasg = deployment, TERMINATE_UASG
    expected = expected_snapshot(dep.sim, uasg)
    total = len(ABAS) * len(expected["contratos"])  # one request per tab of each contract
    ensure_migrated(dep.warehouse)
    with dep.warehouse.begin() as conn:  # every tab due (whatever earlier tests synced)
        stamps = ", ".join(f"{a}_atualizado_em = NULL" for a in ABAS)
        conn.execute(sa.text(f"UPDATE contratos SET {stamps} WHERE uasg = :u"), {"u": uasg})
    dep.sim.reset_counts()
    first = dep.launch("sincronizar_contratos", uasg)
    dep.wait(lambda: _tab_requests(dep.sim, uasg) >= 40, 180, "the tab sync to be under way")
    cancelled_at = time.monotonic()
    assert dep.instance.run_coordinator.cancel_run(first)
    last_change, seen = cancelled_at, _tab_requests(dep.sim, uasg)
    while dep.instance.get_run_by_id(first).status not in FINISHED:
        now = _tab_requests(dep.sim, uasg)
        if now != seen:
            last_change, seen = time.monotonic(), now
        time.sleep(0.05)
        assert time.monotonic() - cancelled_at < 60, "the terminated run did not end"
    assert dep.instance.get_run_by_id(first).status == dg.DagsterRunStatus.CANCELED
    assert _tab_requests(dep.sim, uasg) == seen  # nothing after the run ended either
    assert last_change - cancelled_at <= 2.1, f"requests went on {last_change - cancelled_at:.1f}s"
    assert seen < total, "the cancel came too late to interrupt anything"

    second = dep.launch("sincronizar_contratos", uasg)
    assert dep.wait_finished([second])[second].dagster_run.status == dg.DagsterRunStatus.SUCCESS
    refetched = _tab_requests(dep.sim, uasg) - total
    again = sorted(p for p, n in dep.sim.requests.items() if n > 1 and p.endswith(tuple(ABAS)))
    assert refetched <= total * 0.02, (refetched, again)  # both runs: little refetched
    assert warehouse_snapshot(dep.warehouse, uasg) == expected


# -- `licitacao sync`: submitted through the webserver's GraphQL API, so through the run queue --


@pytest.fixture(scope="module")
def synced_by_cli(deployment):
    """`licitacao sync 787700`, followed to its end: the first sync of that UASG."""
    deployment.webserver_ready()
    return deployment.licitacao("sync", CLI_UASG)


def _run_ids(text: str, url: str) -> list[str]:
    return re.findall(rf"{re.escape(url)}/runs/([0-9a-f-]{{36}})", text)


def _submitted_run_id(proc: subprocess.Popen, url: str) -> str:
    """Read a background `licitacao sync` until it has printed its run's URL."""
    for line in iter(proc.stdout.readline, ""):
        if ids := _run_ids(line, url):
            return ids[0]
    raise AssertionError(f"licitacao sync exited with {proc.wait()} before submitting")


def test_sync_cli_follows_a_uasg_sync_to_its_final_counts(deployment, synced_by_cli):
    dep, proc = deployment, synced_by_cli
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    (run_id,) = set(_run_ids(proc.stderr + out, dep.url))
    run = dep.instance.get_run_by_id(run_id)
    assert run.job_name == "sincronizar_contratos" and run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == CLI_UASG and run.tags["licitacao/origem"] == "cli"
    expected = expected_snapshot(dep.sim, CLI_UASG, minimum=3)
    assert warehouse_snapshot(dep.warehouse, CLI_UASG) == expected
    # the final counts, from the run's materializations, under the UASG's name
    kept, listed = len(expected["contratos"]), len(dep.sim.contrato_ids(CLI_UASG))
    nome = nome_da_unidade(dep.warehouse, CLI_UASG)
    assert f"{CLI_UASG} ({nome}): SUCCESS em " in out
    assert f"  contratos: listados={listed} inseridos={kept} atualizados=0 " in out
    assert " contratos_alterados=0 alteracoes_registradas=0" in out  # the first sync: baseline
    for tab in ABAS:
        rows = len(expected[tab])
        assert (
            f"  contratos_{tab}: contratos_devidos={kept} contratos_sincronizados={kept} "
            f"contratos_com_falha=0 contratos_pendentes=0 linhas={rows} linhas_inseridas={rows} "
        ) in out
    # and the progress while it ran: steps, the pipeline's own log lines
    assert "step contratos iniciado" in out and "step contratos_abas iniciado" in out
    assert f"abas concluídas: {len(ABAS) * kept}/{len(ABAS) * kept} abas de contratos" in out


def test_sync_cli_names_a_failed_run_and_refuses_an_unknown_uasg(deployment):
    dep = deployment
    dep.webserver_ready()
    missing = str(int(CLI_UASG) * 100000 + 99)  # the simulator has 20 contracts there
    proc = dep.licitacao("sync", "--contrato", missing, "--uasg", CLI_UASG, "--aba", "empenhos")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = [line for line in proc.stdout.splitlines() if line.startswith(CLI_UASG)]
    assert len(summary) == 1 and ": FAILURE" in summary[0], proc.stdout
    assert f"erro: Failure: contrato {missing} não existe no ComprasNet" in proc.stdout

    before = len(dep.runs_tagged({"dagster/partition": CLI_UASG}))
    unknown = dep.licitacao("sync", CLI_UASG, "999999")
    assert unknown.returncode == 2, unknown.stderr
    assert "UASG 999999 não é uma partição configurada" in unknown.stderr
    assert not dep.runs_tagged({"dagster/partition": "999999"})
    assert len(dep.runs_tagged({"dagster/partition": CLI_UASG})) == before  # none of the two


def test_sync_cli_runs_of_one_uasg_queue_and_one_contract_tab_is_refreshed_alone(
    deployment, synced_by_cli
):
    dep, sim = deployment, deployment.sim
    assert synced_by_cli.returncode == 0
    with dep.warehouse.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT id FROM contratos WHERE uasg = :u AND removido_em IS NULL ORDER BY id"),
            {"u": CLI_UASG},
        ).scalars()
        cid = next(c for c in stored if sim.tab(c, "empenhos"))
    sim.change_tab_record(cid, "empenhos", 0, numero="2099NE999999")
    sim.reset_counts()
    # The UASG run waits on a slow listing: the runs submitted after it stay queued meanwhile.
    sim.inject_fault("timeout", path=rf"^/api/contrato/inativo/ug/{CLI_UASG}$", times=1, delay=5)
    with ThreadPoolExecutor(2) as pool:
        submitted = list(
            pool.map(
                lambda args: dep.licitacao(*args),
                [
                    ("sync", CLI_UASG, "--no-wait"),
                    ("sync", "--contrato", str(cid), "--tab", "empenhos", "--no-wait"),
                ],
            )
        )
    for proc in submitted:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert len(proc.stdout.split()) == 1, proc.stdout  # --no-wait: just the run id
    ids = [proc.stdout.strip() for proc in submitted]
    assert set(dep.records(ids)) == set(ids)
    assert f"contrato {cid}: UASG {CLI_UASG} (do warehouse)" in submitted[1].stderr

    # Two followers of later runs: one is interrupted (Ctrl-C), the other sees its run canceled.
    interrupted = dep.licitacao_popen("sync", CLI_UASG)
    canceled = dep.licitacao_popen("sync", CLI_UASG)
    waiting = [_submitted_run_id(p, dep.url) for p in (interrupted, canceled)]
    orq = dep.orquestrador()

    def one_running_the_rest_queued():
        stats = orq.queue_stats()
        mine = stats.por_uasg.get(CLI_UASG, {})
        assert mine.get("em_execucao", 0) <= 1, stats
        return mine.get("em_execucao") == 1 and mine["na_fila"] >= 2 and stats

    stats = dep.wait(one_running_the_rest_queued, 60, f"{CLI_UASG}: one run started, 2 queued")
    assert stats.na_fila >= 2 and stats.em_execucao >= 1

    interrupted.send_signal(signal.SIGINT)
    out, _ = interrupted.communicate(timeout=60)
    assert interrupted.returncode == 130, out
    assert f"licitacao cancel {waiting[0]}" in out
    cancel = dep.licitacao("cancel", *waiting)
    assert cancel.returncode == 0, cancel.stderr
    out, _ = canceled.communicate(timeout=120)
    assert canceled.returncode == 1, out
    assert f"): CANCELED [sob_demanda]  {dep.url}/runs/{waiting[1]}" in out

    recs = dep.wait_finished(ids + waiting, timeout=240)
    statuses = [recs[i].dagster_run.status.value for i in ids + waiting]
    assert statuses == ["SUCCESS", "SUCCESS", "CANCELED", "CANCELED"]
    assert recs[ids[1]].dagster_run.tags["licitacao/unidade"] == nome_da_unidade(
        dep.warehouse, CLI_UASG
    )
    # never two runs of the UASG at once, whoever submitted them
    spans = _intervals(dep.runs_tagged({"dagster/partition": CLI_UASG}))
    assert len(spans) >= 3 and all(end for _, end in spans)
    for a, b in zip(spans, spans[1:], strict=False):
        assert a[1] <= b[0], f"{CLI_UASG} runs overlap: {a} {b}"
    # the contract run fetched that contract and that tab only, and stored the change
    asked = {p: n for p, n in sim.requests.items() if re.search(rf"/{cid}(/|$)", p)}
    assert asked == {f"/api/contrato/id/{cid}": 1, f"/api/contrato/{cid}/empenhos": 1}
    assert "2099NE999999" in _empenho_numeros(dep, cid)


# -- production's topology: the proxy, other applications, the schedule and sensors, a browser ----


def _proxy(dep):
    """The deployment's proxy; without one (no caddy binary) the test is skipped, or fails in CI."""
    if dep.proxy is None:
        topologia.missing("the caddy binary is not installed")
    return dep.proxy


def test_without_credentials_the_proxy_answers_401_to_the_ui_and_the_graphql_api(deployment):
    dep = deployment
    proxy = _proxy(dep)
    dep.webserver_ready()
    marker = uuid.uuid4().hex
    selector = {
        "repositoryLocationName": "licitacao_pipeline",
        "repositoryName": "__repository__",
        "pipelineName": "sincronizar_contratos",
    }
    tags = [
        {"key": "dagster/partition", "value": API_UASG},
        {"key": "test/marker", "value": marker},
    ]
    launch = {
        "query": "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename } }",
        "variables": {
            "p": {"selector": selector, "runConfigData": {}, "executionMetadata": {"tags": tags}}
        },
    }
    for auth in (None, (proxy.usuario, "errada"), ("intruso", proxy.senha)):
        for path in ("/", "/assets/contratos", "/runs", "/graphql", "/server_info"):
            resp = requests.get(f"{dep.url}{path}", auth=auth, timeout=10)
            assert resp.status_code == 401, (auth, path)
            assert resp.headers["WWW-Authenticate"].startswith("Basic"), (auth, path)
        resp = requests.post(f"{dep.url}/graphql", json=launch, auth=auth, timeout=10)
        assert resp.status_code == 401, auth
    assert not dep.runs_tagged({"test/marker": marker})  # nothing was launched
    # with the credentials, the same doors open
    resp = requests.post(
        f"{dep.url}/graphql", json={"query": "{ version }"}, auth=proxy.auth, timeout=10
    )
    assert resp.status_code == 200 and resp.json()["data"]["version"]
    assert requests.get(f"{dep.url}/runs", auth=proxy.auth, timeout=10).status_code == 200
    # and the clients say why they were refused
    with pytest.raises(CredenciaisRecusadas):
        Orquestrador(dep.url).queue_stats()
    env = {
        k: v
        for k, v in dep.env.items()
        if k not in ("DAGSTER_WEBSERVER_USER", "DAGSTER_WEBSERVER_PASSWORD")
    }
    proc = subprocess.run(
        [str(BIN / "licitacao"), "sync", API_UASG, "--no-wait"],
        env=env,
        cwd=dep.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "recusou as credenciais (HTTP 401)" in proc.stderr


def test_other_applications_sync_follow_cancel_and_count_through_the_proxy(deployment):
    """The old frontend's five REST routes, as `Orquestrador` calls through the proxy: a UASG
    sync followed to success (the warehouse checked), one contract's tab, queue statistics with
    the per-UASG limit holding, and cancel."""
    dep, sim = deployment, deployment.sim
    _proxy(dep)
    dep.webserver_ready()
    orq = dep.orquestrador()

    def finished(run_id):
        return dep.wait(lambda: (run := orq.run(run_id)).finished and run, 240, f"run {run_id}")

    run_id = orq.submit_uasg(API_UASG, origem="api")
    run = finished(run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.job == "sincronizar_contratos"
    assert run.uasg == API_UASG and run.tags["licitacao/origem"] == "api"
    assert orq.run_status(run_id) == dg.DagsterRunStatus.SUCCESS
    expected = expected_snapshot(sim, API_UASG, minimum=3)
    assert warehouse_snapshot(dep.warehouse, API_UASG) == expected

    cid = next(c for c, _ in expected["contratos"] if sim.tab(c, "empenhos"))
    sim.change_tab_record(cid, "empenhos", 0, numero="2099NE000777")
    tab_run = orq.submit_contrato(cid, API_UASG, ["empenhos"], origem="api")
    assert finished(tab_run).status == dg.DagsterRunStatus.SUCCESS
    assert dep.instance.get_run_by_id(tab_run).job_name == "sincronizar_contrato"
    assert "2099NE000777" in _empenho_numeros(dep, cid)

    # One run per UASG: the second sync waits while the first holds the UASG; then cancel it.
    sim.inject_fault("timeout", path=rf"^/api/contrato/inativo/ug/{API_UASG}$", times=1, delay=8)
    first = orq.submit_uasg(API_UASG, origem="api")
    second = orq.submit_uasg(API_UASG, origem="api")

    def one_running_one_waiting():
        stats = orq.queue_stats()
        mine = stats.por_uasg.get(API_UASG, {})
        assert mine.get("em_execucao", 0) <= 1, stats
        return mine == {"na_fila": 1, "em_execucao": 1} and stats

    stats = dep.wait(one_running_one_waiting, 60, f"{API_UASG}: one run started, one queued")
    assert stats.na_fila >= 1 and stats.em_execucao >= 1
    orq.cancel(second)
    assert finished(second).status == dg.DagsterRunStatus.CANCELED
    assert finished(first).status == dg.DagsterRunStatus.SUCCESS
    assert dep.records([second])[second].start_time is None  # it never ran


def _ticks(instance, kind) -> dict[str, list]:
    out = {}
    for state in instance.all_instigator_state(instigator_type=kind):
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=50)
        out[state.instigator_name] = [t for t in ticks if t.status != TickStatus.STARTED]
    return out


def test_the_daytime_schedule_and_the_sensors_tick_in_the_code_server(deployment):
    dep = deployment
    left = (dep.schedule_slot - datetime.now(ZoneInfo(TIMEZONE))).total_seconds()

    def scheduled_run():
        runs = dep.runs_tagged(
            {"dagster/schedule_name": "sincronizacao_diaria", "dagster/partition": SCHEDULE_UASG}
        )
        return runs and runs[0].dagster_run.status in FINISHED and runs[0]

    record = dep.wait(scheduled_run, max(left, 0) + 240, f"the {SCHEDULE_UASG} slot's run")
    run = record.dagster_run
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.job_name == "sincronizar_contratos"
    expected = expected_snapshot(dep.sim, SCHEDULE_UASG, minimum=1)
    assert warehouse_snapshot(dep.warehouse, SCHEDULE_UASG) == expected
    ticks = _ticks(dep.instance, InstigatorType.SCHEDULE)["sincronizacao_diaria"]
    assert any(t.status == TickStatus.SUCCESS and run.run_id in t.run_ids for t in ticks)

    sensors = {"alerta_falhas", "alertas_pendentes", "abas_seguem_contratos"}

    def every_sensor_ticked():
        ticks = _ticks(dep.instance, InstigatorType.SENSOR)
        return all(ticks.get(name) for name in sensors) and ticks

    ticks = dep.wait(every_sensor_ticked, 120, "a tick of every sensor")
    failed = {n: [t.error for t in ticks[n] if t.status == TickStatus.FAILURE] for n in sensors}
    assert not any(failed.values()), failed


def test_a_browser_materializes_a_partition_from_the_ui_through_the_proxy(deployment, tmp_path):
    """Chromium, driven by Playwright, logs in through the proxy, finds `contratos` and its UASG
    partitions, launches one partition from the UI and sees the run succeed; then it takes the
    asset graph's picture (LICITACAO_CAPTURA=path also keeps it there, for the README)."""
    dep = deployment
    proxy = _proxy(dep)
    chromium = topologia.chromium_or_missing()
    dep.webserver_ready()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    uasgs = [u.split("@")[0] for u in dep.env["LICITACAO_UASGS"].split(",")]
    capture = tmp_path / "grafo_de_assets.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=topologia.CHROMIUM_ARGS)
        try:
            anonymous = browser.new_context()  # no credentials: the proxy's 401, no page
            with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
                anonymous.new_page().goto(f"{dep.url}/assets/contratos")
            anonymous.close()
            context = browser.new_context(
                http_credentials={"username": proxy.usuario, "password": proxy.senha},
                viewport={"width": 1600, "height": 1100},
            )
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{dep.url}/assets/contratos?view=partitions")
            topologia.skip_welcome_dialog(page)
            for uasg in uasgs:  # its UASG partitions
                expect(page.get_by_text(uasg, exact=True).filter(visible=True)).to_have_count(
                    1, timeout=60_000
                )
            page.get_by_role("button", name="Materialize…").click()
            dialog = page.get_by_role("dialog")
            expect(dialog).to_contain_text("Launch runs to materialize contratos")
            dialog.get_by_text("Select a partition or create one").click()
            page.get_by_placeholder("Filter partitions").fill(BROWSER_UASG)
            page.get_by_text(BROWSER_UASG, exact=True).filter(visible=True).last.click()
            page.keyboard.press("Escape")  # closes the partition list
            dialog.get_by_role("button", name="Launch 1 run").click()
            toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
            expect(toast).to_be_visible()
            short = re.search(r"Launched run ([0-9a-f]{8})", toast.inner_text()).group(1)
            [run_id] = [
                r.dagster_run.run_id
                for r in dep.runs_tagged({"dagster/partition": BROWSER_UASG})
                if r.dagster_run.run_id.startswith(short)
            ]
            page.goto(f"{dep.url}/runs/{run_id}")  # the run's page, where the UI follows it
            expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=240_000)
            page.goto(f"{dep.url}/locations/licitacao_pipeline/asset-groups/contratos")
            # the graph draws only what is in view (twelve tabs): the listing's first tab is
            expect(page.get_by_text("contratos_historico").first).to_be_visible(timeout=60_000)
            page.wait_for_timeout(2_000)  # the graph's layout settles, then all of it in view
            for _ in range(6):
                page.locator('[aria-label="zoom_out"]').click()
                page.wait_for_timeout(300)
            page.screenshot(path=str(capture))
        finally:
            browser.close()
    run = dep.instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
    assert run.tags["dagster/partition"] == BROWSER_UASG
    with dep.warehouse.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT id FROM contratos WHERE uasg = :u AND removido_em IS NULL ORDER BY id"),
            {"u": BROWSER_UASG},
        ).scalars()
        expected = expected_snapshot(dep.sim, BROWSER_UASG, minimum=1)["contratos"]
        assert list(stored) == [cid for cid, _ in expected]
    assert capture.stat().st_size > 10_000
    if keep := os.environ.get("LICITACAO_CAPTURA"):
        shutil.copy(capture, keep)
