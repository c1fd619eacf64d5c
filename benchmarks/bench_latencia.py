"""Latency a user feels: from launch to data committed, through `licitacao dev --simulator`.

Starts the real development setup (`licitacao dev --simulator`, with a fresh DAGSTER_HOME and
warehouse), then measures, a few times each:
  A. a UI-style launch (the webserver's GraphQL API, as the Launchpad does) of a UASG sync with
     its tabs -> every due tab committed           (target < 10 s)
  B. an on-demand refresh of one contract's tab, through GraphQL -> the tab committed
                                                   (target < 4 s)
  C. the same from the CLI: `licitacao sync --contrato ID --tab empenhos` -> committed
and prints the breakdown from the run's own events: queued, dequeued (run queue), process
started (run worker start + code load), step started, steps, run ended.

`--load N` keeps N CPU-bound processes busy meanwhile (a loaded machine: on 2 cores, 2 of them
is the machine of a session running its tests while it works).

    python benchmarks/bench_latencia.py [--repeat 3] [--load 2]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from _common import free_port

from comprasnet_simulator import SimulatorControl
from licitacao_pipeline.client.orquestracao import Orquestrador
from licitacao_pipeline.warehouse.engine import embedded_url, stop_embedded_server

ROOT = Path(__file__).resolve().parent.parent
LICITACAO = str(Path(sys.executable).with_name("licitacao"))
UASG = "787010"
EVENTS = {
    "RUN_ENQUEUED": "enfileirado",
    "RUN_DEQUEUED": "retirado da fila",
    "RUN_STARTING": "iniciando",
    "RUN_START": "processo pronto",
    "STEP_START": "1º passo",
    "RUN_SUCCESS": "fim",
}


class Dev:
    """`licitacao dev --simulator` in its own session, with a throwaway home and warehouse."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="liclat-"))
        self.data = ROOT / ".data" / f"lat-{uuid.uuid4().hex[:8]}"  # postgres's user reads it
        self.home, self.port, self.sim_port = self.tmp / "home", free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(DAGSTER_HOME=str(self.home), LICITACAO_DATA_DIR=str(self.data))
        self.env = env
        self.log = open(self.tmp / "dev.log", "w")  # noqa: SIM115 (closed in close())
        cmd = [LICITACAO, "dev", "--simulator", "--port", str(self.port)]
        cmd += ["--simulator-port", str(self.sim_port)]
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        while not self._serves():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError((self.tmp / "dev.log").read_text()[-3000:])
            time.sleep(0.5)
        self.sim = SimulatorControl(f"http://127.0.0.1:{self.sim_port}")
        self.warehouse = sa.create_engine(embedded_url(self.data / "pgdata"), poolclass=sa.NullPool)
        self.instance = dg.DagsterInstance.from_config(str(self.home))

    def _serves(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def close(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        self.instance.dispose()
        self.warehouse.dispose()
        stop_embedded_server(self.data / "pgdata")
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_until(predicate, timeout=120.0, step=0.02):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(step)
    return time.time()


def breakdown(instance, run_id: str, launched: float) -> dict[str, float]:
    """Seconds from the launch to each of the run's milestones (first occurrence)."""
    out = {}
    for entry in instance.all_logs(run_id):
        kind = entry.dagster_event.event_type.name if entry.dagster_event else None
        if kind in EVENTS and EVENTS[kind] not in out:
            out[EVENTS[kind]] = entry.timestamp - launched
    return out


def stamp(engine, contrato_id: int, aba: str):
    with engine.connect() as conn:
        return conn.execute(
            sa.text(f"SELECT {aba}_atualizado_em FROM contratos WHERE id = :i"), {"i": contrato_id}
        ).scalar()


def uasg_committed(engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) > 0 AND count(*) = count(detalhes_atualizados_em) "
                "FROM contratos WHERE uasg = :u AND removido_em IS NULL"
            ),
            {"u": UASG},
        ).scalar()


def measure_uasg(dev: Dev, orq: Orquestrador) -> tuple[float, dict]:
    with dev.warehouse.begin() as conn:  # every tab due again, as on a first sync
        conn.execute(sa.text("UPDATE contratos SET detalhes_atualizados_em = NULL, "
                             "historico_atualizado_em = NULL"))  # fmt: skip
    launched = time.time()
    run_id = orq.submit_uasg(UASG, origem="bench")
    committed = wait_until(lambda: uasg_committed(dev.warehouse))
    wait_until(lambda: orq.run_status(run_id).value == "SUCCESS", step=0.2)
    return committed - launched, breakdown(dev.instance, run_id, launched)


def measure_contrato_graphql(dev: Dev, orq: Orquestrador, cid: int) -> tuple[float, dict]:
    before = stamp(dev.warehouse, cid, "empenhos")
    launched = time.time()
    run_id = orq.submit_contrato(cid, UASG, ["empenhos"], origem="bench")
    committed = wait_until(lambda: stamp(dev.warehouse, cid, "empenhos") != before)
    wait_until(lambda: orq.run_status(run_id).value == "SUCCESS", step=0.2)
    return committed - launched, breakdown(dev.instance, run_id, launched)


def measure_contrato_cli(dev: Dev, cid: int) -> float:
    before = stamp(dev.warehouse, cid, "empenhos")
    env = dict(dev.env, DAGSTER_WEBSERVER_URL=dev.url)
    started = time.time()
    proc = subprocess.run(
        [LICITACAO, "sync", "--contrato", str(cid), "--uasg", UASG, "--tab", "empenhos"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert stamp(dev.warehouse, cid, "empenhos") != before
    return time.time() - started


def report(name: str, samples: list[tuple[float, dict]], target: float) -> None:
    total = statistics.median(s for s, _ in samples)
    print(f"{name}: median {total:.2f} s over {len(samples)} (target < {target:.0f} s)")
    for label in EVENTS.values():
        values = [b[label] for _, b in samples if label in b]
        if values:
            print(f"    {label:<18} at {statistics.median(values):6.2f} s")


def busy(n: int) -> list[subprocess.Popen]:
    """``n`` processes spinning on the CPU (a loaded machine)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--load", type=int, default=0, help="CPU-bound processes meanwhile")
    args = parser.parse_args()
    dev = Dev()
    hogs = busy(args.load)
    if args.load:
        print(f"under load: {args.load} CPU-bound processes on {os.cpu_count()} cores")
    try:
        orq = Orquestrador(dev.url)
        first = measure_uasg(dev, orq)  # the first sync: embedded warehouse, migrations
        print(f"first UASG sync after start: {first[0]:.2f} s (warms the warehouse)")
        uasg = [measure_uasg(dev, orq) for _ in range(args.repeat)]
        with dev.warehouse.connect() as conn:
            cid = conn.execute(sa.text("SELECT min(id) FROM contratos")).scalar()
        graphql = [measure_contrato_graphql(dev, orq, cid) for _ in range(args.repeat)]
        cli = [measure_contrato_cli(dev, cid) for _ in range(args.repeat)]
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        dev.close()
    report("A. UASG sync with tabs, UI-style launch -> committed", uasg, 10)
    report("B. one contract's tab, GraphQL launch -> committed", graphql, 4)
    print(
        f"C. one contract's tab, `licitacao sync --contrato` -> committed and reported: median "
        f"{statistics.median(cli):.2f} s over {len(cli)} (target < 4 s)"
    )


if __name__ == "__main__":
    main()
