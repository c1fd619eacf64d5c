"""`licitacao dev --simulator` on a checkout that has no warehouse yet: the newcomer's path."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from licitacao_pipeline.warehouse.engine import stop_embedded_server

from .processos import stop_marked

LICITACAO = str(Path(sys.executable).with_name("licitacao"))
SENSORS = {"alerta_falhas", "alertas_pendentes", "abas_seguem_contratos"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serves(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def sensor_ticks(instance) -> dict[str, list]:
    out = {}
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=10)
        out[state.instigator_name] = [t for t in ticks if t.status != TickStatus.STARTED]
    return out


def test_dev_starts_the_warehouse_first_and_its_sensors_tick_cleanly(repo_root, tmp_path):
    """On a fresh checkout the sensors are the first to need the warehouse; they run in the
    code server, where starting the embedded PostgreSQL failed (initdb crashed) and every later
    tick failed with it, alerts included. `licitacao dev` starts it before Dagster."""
    data = repo_root / ".data" / f"dev-{uuid.uuid4().hex[:8]}"  # not tmp_path: postgres's user
    home, port = tmp_path / "home", free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ALERT_WEBHOOK_URL")}
    mark = uuid.uuid4().hex  # on every process `licitacao dev` starts, wherever it runs
    env.update(DAGSTER_HOME=str(home), LICITACAO_DATA_DIR=str(data), LICITACAO_TEST_DEV=mark)
    cmd = [LICITACAO, "dev", "--simulator", "--port", str(port)]
    cmd += ["--simulator-port", str(free_port()), "--contracts", "5"]
    log = open(tmp_path / "dev.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        cmd, env=env, cwd=repo_root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        ticks: dict = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            if (home / "schedules").exists():
                with dg.DagsterInstance.from_config(str(home)) as instance:
                    ticks = sensor_ticks(instance)
                if all(ticks.get(name) for name in SENSORS) and _serves(port):
                    break
            time.sleep(1)
        assert all(ticks.get(name) for name in SENSORS), ticks
        failed = {
            name: [t.error for t in ts if t.status == TickStatus.FAILURE]
            for name, ts in ticks.items()
        }
        assert not any(failed.values()), failed
        assert _serves(port)  # the UI, which the sensors may tick before
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        stop_embedded_server(data / "pgdata")
        # what dagster dev started in sessions of its own (code servers), if still running
        stop_marked("LICITACAO_TEST_DEV", mark)
        shutil.rmtree(data, ignore_errors=True)
