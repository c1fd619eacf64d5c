"""A newcomer's day, as the README gives it: `licitacao dev --simulator` started in the background
(SIGINT ignored, as a shell's `cmd &` leaves it), then a second shell with no environment variable
at all: `licitacao sync` (plain, --full, --contrato), cancel, every export format with every tab,
an import, the UI's one click, the nightly full sync through the daemon, and `licitacao stop`.
Verified from the run storage, the warehouse and the simulator's request counts."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import requests
import sqlalchemy as sa

from comprasnet_simulator.control import SimulatorControl
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.warehouse.engine import embedded_running, embedded_url

from . import topologia
from .instantaneos import SimuladorHTTP, expected_snapshot, warehouse_snapshot
from .processos import MARK, carrying, stop_marked

pytestmark = pytest.mark.daemon

BIN = Path(sys.executable).parent
SYNCED, CANCELED, CLICKED = "787010", "787000", "787400"  # each test's own UASG
DEV_MARK = "LICITACAO_TEST_DIA"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `licitacao dev &` inherits


class Dia:
    """A project directory of its own (its `.data/` and `.dagster_home/` inside), the running
    `licitacao dev`, and a second shell: the `licitacao` command with a bare environment."""

    def __init__(self, repo_root: Path):
        # Under the repository's .data/ (not pytest's tmp dir): postgres's user traverses it.
        self.proj = repo_root / ".data" / f"dia-{uuid.uuid4().hex[:8]}"
        self.proj.mkdir(parents=True)
        for name in ("dagster.yaml", "workspace.yaml"):
            shutil.copy(repo_root / name, self.proj / name)
        self.mark = uuid.uuid4().hex
        self.port, sim_port = _port(), _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim = SimulatorControl(f"http://127.0.0.1:{sim_port}")
        # the full-sync schedule fires a few minutes from now, so its test sees the daemon run it
        self.full_sync_at = (datetime.now(ZoneInfo(TIMEZONE)) + timedelta(minutes=4)).replace(
            second=0, microsecond=0
        )
        env = {
            **self.bare_env(),
            "LICITACAO_UASGS": f"{SYNCED},{CANCELED},{CLICKED}",
            "LICITACAO_FULL_SYNC_AT": f"{self.full_sync_at:%H:%M}",
            "LICITACAO_STEP_RETRIES": "1",
            "LICITACAO_STEP_RETRY_DELAY_SECONDS": "0.1",
        }
        cmd = [str(BIN / "licitacao"), "dev", "--simulator", "--port", str(self.port)]
        cmd += ["--simulator-port", str(sim_port), "--contracts", "25"]
        self.log = open(self.proj / "dev.log", "w")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=self.proj,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_ignore_sigint,
            start_new_session=True,
        )
        self.home = self.proj / ".dagster_home"
        self._instance = None
        self.wait(self._serves, 240, "the UI to serve the code location")
        self.warehouse = sa.create_engine(
            embedded_url(self.proj / ".data" / "pgdata", database="postgres"),
            poolclass=sa.NullPool,
        )

    def bare_env(self) -> dict[str, str]:
        """A shell's own variables, nothing of the project's (the session's and this module's
        process marks ride along, for the stray-process check)."""
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        return {**env, MARK: os.environ.get(MARK, ""), DEV_MARK: self.mark}

    def licitacao(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "licitacao"), *args],
            env=self.bare_env(),
            cwd=self.proj,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def instance(self) -> dg.DagsterInstance:
        if self._instance is None:
            self._instance = dg.DagsterInstance.from_config(str(self.home))
        return self._instance

    def _serves(self) -> bool:
        assert self.proc.poll() is None, self.log_tail()
        query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
        try:
            resp = requests.post(f"{self.url}/graphql", json={"query": query}, timeout=5)
            return resp.ok and bool(resp.json()["data"]["repositoriesOrError"].get("nodes"))
        except requests.RequestException:
            return False

    def wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := predicate():
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}\n{self.log_tail()}")

    def log_tail(self) -> str:
        return (self.proj / "dev.log").read_text()[-4000:]

    def runs(self, uasg: str) -> list[dg.DagsterRun]:
        records = self.instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/partition": uasg})
        )
        return [r.dagster_run for r in records]

    def finished(self, run_id: str, timeout: float = 240) -> dg.DagsterRun:
        return self.wait(
            lambda: (run := self.instance.get_run_by_id(run_id)).status in FINISHED and run,
            timeout,
            f"run {run_id} to end",
        )

    def metadata(self, run_id: str, asset: str) -> dict:
        records = self.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        for record in records:
            mat = record.event_log_entry.asset_materialization
            if mat.asset_key == dg.AssetKey(asset):
                return {k: v.value for k, v in mat.metadata.items()}
        raise AssertionError(f"run {run_id} did not materialize {asset}")

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        stop_marked(DEV_MARK, self.mark)
        from licitacao_pipeline.warehouse.engine import stop_embedded_server

        stop_embedded_server(self.proj / ".data" / "pgdata")
        if self._instance is not None:
            self._instance.dispose()
        self.log.close()
        shutil.rmtree(self.proj, ignore_errors=True)


@pytest.fixture(scope="module")
def dia(repo_root):
    d = Dia(repo_root)
    try:
        yield d
    finally:
        d.close()


def _run_ids(text: str, url: str) -> list[str]:
    return re.findall(rf"{re.escape(url)}/runs/([0-9a-f-]{{36}})", text)


def _tab_requests(sim: SimulatorControl, ids) -> dict[str, int]:
    """Requests per tab path for the given contracts."""
    wanted = {str(i) for i in ids}
    return {
        path: n
        for path, n in sim.requests.items()
        if (m := re.fullmatch(r"/api/contrato/(\d+)/(\w+)", path)) and m[1] in wanted
    }


def _source(dia, uasg):
    expected = expected_snapshot(SimuladorHTTP(dia.sim.base_url), uasg, minimum=3)
    dia.sim.reset_counts()
    return expected


def test_a_second_shell_syncs_with_no_environment_and_sees_what_it_waited_for(dia):
    proc = dia.licitacao("sync", SYNCED)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:] + dia.log_tail()
    (run_id,) = set(_run_ids(out, dia.url))
    run = dia.instance.get_run_by_id(run_id)
    assert run.tags["licitacao/tipo"] == "sob_demanda"  # a person asked, not the schedule
    assert re.search(rf"{SYNCED} \(.+\): SUCCESS em [\d.]+s \[sob_demanda\]", out), out
    # what the user waited for, part by part, measured from the submission
    waited = re.search(r"tempo: fila ([\d.]+)s, inicio ([\d.]+)s, execucao ([\d.]+)s, total "
                       r"([\d.]+)s desde o envio", out)  # fmt: skip
    assert waited, out
    fila, inicio, execucao, total = map(float, waited.groups())
    assert total >= execucao and total + 0.5 >= fila + inicio + execucao, waited.groups()
    assert warehouse_snapshot(dia.warehouse, SYNCED) == _source(dia, SYNCED)


def test_full_sync_from_the_cli_takes_every_tab_of_every_contract(dia):
    expected = _source(dia, SYNCED)
    ids = [cid for cid, _ in expected["contratos"]]
    proc = dia.licitacao("sync", SYNCED, "--full")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    (run_id,) = set(_run_ids(proc.stdout + proc.stderr, dia.url))
    assert dia.instance.get_run_by_id(run_id).tags["licitacao/tipo"] == "completa"
    for aba in ABAS:  # every tab due, although all of them were synced minutes ago
        meta = dia.metadata(run_id, f"contratos_{aba}")
        assert meta["completa"] is True
        assert meta["contratos_devidos"] == meta["contratos_sincronizados"] == len(ids), meta
    asked = _tab_requests(dia.sim, ids)
    assert asked == {f"/api/contrato/{c}/{a}": 1 for c in ids for a in ABAS}


def test_sync_of_a_contract_not_yet_stored_asks_the_running_simulator(dia):
    cid = min(c for c, _ in _source(dia, CLICKED)["contratos"])  # CLICKED was never synced
    proc = dia.licitacao("sync", "--contrato", str(cid), "--tab", "empenhos")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"contrato {cid}: UASG {CLICKED} (do ComprasNet)" in out
    (run_id,) = set(_run_ids(out, dia.url))
    assert dia.instance.get_run_by_id(run_id).tags["licitacao/tipo"] == "sob_demanda"


def test_cancel_works_right_after_a_run_leaves_the_queue(dia):
    """The webserver refuses to terminate a STARTING run; cancel waits for it to start."""
    from licitacao_pipeline.client.orquestracao import Orquestrador

    dia.sim.set_latency(0.5)  # the run lasts long enough to still be running when canceled
    try:
        orq = Orquestrador(dia.url)
        run_id = orq.submit_uasg(CANCELED)
        dia.wait(
            lambda: dia.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTING,
            120,
            "the run to leave the queue",
        )
        feito = orq.cancel(run_id)
    finally:
        dia.sim.set_latency(0)
    assert (feito.acao, feito.status) == ("interrompida", dg.DagsterRunStatus.CANCELED), feito
    assert dia.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
    # and a queued one, from the command line: canceled at once, and it says so
    queued = dia.licitacao("sync", CANCELED, "--no-wait")
    waiting = dia.licitacao("sync", CANCELED, "--no-wait")
    ids = [queued.stdout.strip(), waiting.stdout.strip()]
    proc = dia.licitacao("cancel", ids[1])
    assert proc.returncode == 0, proc.stderr
    status = dia.instance.get_run_by_id(ids[1]).status
    assert proc.stdout.strip() in (
        f"{ids[1]}: cancelada na fila (CANCELED)",
        f"{ids[1]}: interrompida (CANCELED)",  # the first one ended before the cancel
    ), proc.stdout
    assert status == dg.DagsterRunStatus.CANCELED
    dia.finished(ids[0])


@pytest.fixture(scope="module")
def cancelado(dia):
    """A running full sync of CANCELED stopped in its tab phase: its run id."""
    from licitacao_pipeline.client.orquestracao import Orquestrador

    orq = Orquestrador(dia.url)
    dia.sim.set_latency(1.0)  # ~10 s of tab requests: the cancel lands in the middle
    try:
        run_id = orq.submit_uasg(CANCELED, completa=True)
        dia.wait(lambda: _tabs_started(dia, run_id), 180, "the tab sync to be under way")
        feito = orq.cancel(run_id)
    finally:
        dia.sim.set_latency(0)
    assert feito.acao == "interrompida", feito
    return run_id


def _tabs_started(dia, run_id) -> bool:
    """The run's tab step has been under way for a second (its requests are in flight)."""
    starts = [
        e.timestamp
        for e in dia.instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        if e.step_key == "contratos_abas"
    ]
    return bool(starts) and time.time() - starts[0] > 1.0


def test_a_stopped_sync_says_what_it_stored_and_what_is_left_without_a_traceback(dia, cancelado):
    run_id = cancelado
    run = dia.finished(run_id)
    assert run.status == dg.DagsterRunStatus.CANCELED
    failures = [
        e.dagster_event.step_failure_data.error
        for e in dia.instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ]
    assert failures and all(err.cls_name == "Failure" for err in failures), failures
    said = [e.user_message for e in dia.instance.all_logs(run_id) if "parada pedida" in (
        e.user_message or "")]  # fmt: skip
    assert any("abas gravadas nesta execução" in m and "ainda devidas" in m for m in said), said


def test_the_ui_materializes_a_uasg_and_its_tabs_follow_in_one_click(dia, tmp_path):
    """The asset page's Materialize syncs the listing; the tabs run next, by themselves."""
    chromium = topologia.chromium_or_missing()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=topologia.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{dia.url}/assets/contratos")
            topologia.skip_welcome_dialog(page)
            page.get_by_role("button", name="Materialize…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Select a partition or create one").click()
            page.get_by_placeholder("Filter partitions").fill(CLICKED)
            page.get_by_text(CLICKED, exact=True).filter(visible=True).last.click()
            page.keyboard.press("Escape")
            dialog.get_by_role("button", name="Launch 1 run").click()
            expect(page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))).to_be_visible()
        finally:
            browser.close()

    def tabs_run():
        auto = [r for r in dia.runs(CLICKED) if r.tags.get("licitacao/tipo") == "automatica"]
        return auto and auto[0].status in FINISHED and auto[0]

    run = dia.wait(tabs_run, 240, "the tabs to follow the listing")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert warehouse_snapshot(dia.warehouse, CLICKED) == _source(dia, CLICKED)


def test_every_export_format_with_every_tab_and_an_import_from_the_second_shell(dia):
    exports, imports = dia.proj / ".data" / "exports", dia.proj / ".data" / "imports"
    assert imports.is_dir()  # `licitacao dev` made the directories the project owns
    tabs = [arg for aba in (*ABAS, "alteracoes") for arg in ("--tab", aba)]
    for fmt in ("csv", "json", "ndjson", "xml", "pdf"):
        args = ["export", "--format", fmt, "--uasg", SYNCED, "--nome-arquivo", f"dia_{fmt}"]
        proc = dia.licitacao(*args, *(tabs if fmt != "pdf" else []))
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        assert f"caminho: {exports / f'dia_{fmt}.{fmt}'}" in out, out
        assert re.search(r"linhas: \d+", out) and (exports / f"dia_{fmt}.{fmt}").stat().st_size
        if fmt == "csv":
            for aba in (*ABAS, "alteracoes"):
                assert str(exports / f"dia_csv_{aba}.csv") in out, out
    # the exported CSV, back as a follow-up spreadsheet: every row accepted, nothing changed
    (imports / "acompanhamento.csv").write_bytes((exports / "dia_csv.csv").read_bytes())
    proc = dia.licitacao("import", "acompanhamento.csv")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "rejeitados: 0" in out and re.search(r"aceitos: [1-9]", out), out


def test_the_nightly_full_sync_runs_from_the_daemon_with_every_tab(dia, cancelado):
    """The schedule `sincronizacao_completa_diaria`, ticked by the daemon (its hour moved to a
    few minutes after the start): every tab of every contract of tonight's UASGs, although the
    earlier syncs left nothing due."""
    wait = (dia.full_sync_at - datetime.now(ZoneInfo(TIMEZONE))).total_seconds()

    def nightly():
        runs = {
            u: [
                r
                for r in dia.runs(u)
                if r.tags.get("dagster/schedule_name") == "sincronizacao_completa_diaria"
            ]  # fmt: skip
            for u in (SYNCED, CANCELED, CLICKED)
        }
        done = all(rs and rs[0].status in FINISHED for rs in runs.values())
        return done and {u: rs[0] for u, rs in runs.items()}

    runs = dia.wait(nightly, max(wait, 0) + 300, "tonight's full syncs")
    for uasg, run in runs.items():
        assert run.status == dg.DagsterRunStatus.SUCCESS, (uasg, run.status)
        assert run.tags["licitacao/tipo"] == "completa"
        active = len(warehouse_snapshot(dia.warehouse, uasg)["contratos"])
        for aba in ABAS:
            meta = dia.metadata(run.run_id, f"contratos_{aba}")
            assert meta["completa"] is True
            assert meta["contratos_devidos"] == meta["contratos_sincronizados"] == active, meta
    # stop means stop: the canceled sync was not launched again by the automation, and no run
    # of the automation followed a sync that did its own tabs (a full one among them)
    for uasg in (SYNCED, CANCELED):
        automatic = [r for r in dia.runs(uasg) if "dagster/sensor_name" in r.tags
                     or "dagster/from_automation_condition" in r.tags]  # fmt: skip
        assert not automatic, [(r.run_id, r.tags) for r in automatic]


def test_licitacao_stop_from_the_second_shell_stops_dev_and_its_warehouse(dia):
    pgdata = dia.proj / ".data" / "pgdata"
    assert embedded_running(pgdata) and (dia.proj / ".data" / "licitacao-dev.json").exists()
    proc = dia.licitacao("stop", timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert dia.proc.wait(30) == 0, dia.log_tail()  # SIGTERM, though SIGINT was ignored
    assert "warehouse embutido parado" in dia.log_tail()
    assert not embedded_running(pgdata)
    assert not (dia.proj / ".data" / "licitacao-dev.json").exists()
    dia.wait(lambda: not carrying(DEV_MARK, dia.mark), 15, "every dev process to end")
