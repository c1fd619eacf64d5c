"""The real thing: a dagster-daemon with the project's dagster.yaml, PostgreSQL run storage
(the machine's PostgreSQL, as in production), run workers in their own processes, the simulator
over HTTP. Verified from run records and the warehouse, not from logs.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.warehouse.engine import normalize_url

BIN = Path(sys.executable).parent
PG_URL = os.environ.get("TEST_DAGSTER_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MODULE = ["-m", "licitacao_pipeline.definitions"]
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}

# One module-scoped daemon: pyproject's `--dist loadfile` keeps this file on one xdist worker.
pytestmark = pytest.mark.daemon


def _admin():
    return sa.create_engine(
        normalize_url(PG_URL), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )


@pytest.fixture(scope="module")
def server_databases():
    try:
        with _admin().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server for the daemon tests at {PG_URL}: {exc}")
    names = [f"lic_dagster_{uuid.uuid4().hex[:8]}", f"lic_wh_{uuid.uuid4().hex[:8]}"]
    with _admin().connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = normalize_url(PG_URL)
    yield [base.set(database=n) for n in names]
    with _admin().connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class Deployment:
    """A DAGSTER_HOME built from the project's dagster.yaml plus a running dagster-daemon."""

    def __init__(self, home: Path, repo_root: Path, dagster_url, warehouse_url, sim):
        config = yaml.safe_load((repo_root / "dagster.yaml").read_text())
        config["storage"] = {
            "postgres": {"postgres_url": dagster_url.render_as_string(hide_password=False)}
        }
        config["run_monitoring"]["poll_interval_seconds"] = 1  # faster than production's 30
        config["run_queue"] = {"dequeue_interval_seconds": 1}
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        self.home, self.sim, self.root = home, sim, repo_root
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DAGSTER_HOME": str(home),
            "DATABASE_URL": warehouse_url.render_as_string(hide_password=False),
            "COMPRASNET_BASE_URL": sim.base_url,
            "LICITACAO_STEP_RETRIES": "1",
            "LICITACAO_STEP_RETRY_DELAY_SECONDS": "0.1",
        }
        self.log = open(home / "daemon.log", "w")  # noqa: SIM115 (closed in close())
        self.daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", *MODULE],
            env=self.env,
            cwd=repo_root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.instance = dg.DagsterInstance.from_config(str(home))
        self.warehouse = sa.create_engine(warehouse_url, poolclass=sa.NullPool)

    def launch(self, job: str, partition: str, tags: dict | None = None) -> str:
        """`dagster job launch` as a user would; returns the new run's id."""
        marker = uuid.uuid4().hex
        all_tags = {"dagster/partition": partition, "test/marker": marker, **(tags or {})}
        cmd = [
            str(BIN / "dagster"),
            "job",
            "launch",
            *MODULE,
            "-j",
            job,
            "--tags",
            json.dumps(all_tags),
        ]
        proc = subprocess.run(
            cmd, env=self.env, cwd=self.root, capture_output=True, text=True, timeout=180
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs = self.instance.get_run_records(filters=dg.RunsFilter(tags={"test/marker": marker}))
        assert len(runs) == 1
        return runs[0].dagster_run.run_id

    def wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        tail = (self.home / "daemon.log").read_text()[-4000:]
        raise AssertionError(f"timed out waiting for {what}; daemon log tail:\n{tail}")

    def records(self, run_ids):
        return {
            r.dagster_run.run_id: r
            for r in self.instance.get_run_records(filters=dg.RunsFilter(run_ids=list(run_ids)))
        }

    def wait_finished(self, run_ids, timeout=240):
        return self.wait(
            lambda: (
                (recs := self.records(run_ids))
                and all(r.dagster_run.status in FINISHED for r in recs.values())
                and recs
            ),
            timeout,
            f"runs {list(run_ids)} to finish",
        )

    def close(self):
        os.killpg(self.daemon.pid, signal.SIGTERM)
        try:
            self.daemon.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.daemon.pid, signal.SIGKILL)
        self.instance.dispose()
        self.warehouse.dispose()
        self.log.close()


@pytest.fixture(scope="module")
def deployment(server_databases, tmp_path_factory, repo_root):
    sim = ComprasNetSimulator(
        seed=11, contracts={"787010": 3, "787000": 80, "770001": 3, "787400": 3}, latency=0.3
    ).start()
    dep = Deployment(tmp_path_factory.mktemp("dagster_home"), repo_root, *server_databases, sim)
    yield dep
    dep.close()
    sim.stop()


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


def _warehouse_snapshot(engine, uasg):
    with engine.connect() as conn:
        out = {
            "contratos": sorted(
                conn.execute(
                    sa.text(
                        "SELECT id, payload_hash FROM contratos "
                        "WHERE uasg = :u AND removido_em IS NULL"
                    ),
                    {"u": uasg},
                ).all()
            )
        }
        for tab in ABAS:
            out[tab] = sorted(
                conn.execute(
                    sa.text(
                        "SELECT t.contrato_id, t.id, t.payload_hash "
                        f"FROM contratos_{tab} t JOIN contratos c "
                        "ON c.id = t.contrato_id WHERE c.uasg = :u AND t.removido_em IS NULL"
                    ),
                    {"u": uasg},
                ).all()
            )
        out["stale"] = conn.execute(
            sa.text(
                "SELECT count(*) FROM contratos WHERE uasg = :u AND detalhes_atualizados_em IS NULL"
            ),
            {"u": uasg},
        ).scalar_one()
    return out


def _expected_snapshot(sim, uasg):
    """What an uninterrupted sync stores: every listed contract within the vigência window."""
    from licitacao_pipeline.comprasnet.parsing import content_hash, parse_contrato, within_vigencia
    from licitacao_pipeline.defs.contratos import ContratosConfig, local_today

    window = ContratosConfig().vigencia_janela_dias
    listing = [
        r
        for r in sim.listing(uasg) + sim.listing(uasg, inativo=True)
        if within_vigencia(parse_contrato(r, uasg), local_today(), window)
    ]
    assert len(listing) > 10
    out = {"contratos": sorted((r["id"], content_hash(r)) for r in listing)}
    for tab in ABAS:
        out[tab] = sorted(
            (r["id"], t["id"], content_hash(t)) for r in listing for t in sim.tab(r["id"], tab)
        )
    out["stale"] = 0
    return out


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
    assert _warehouse_snapshot(dep.warehouse, "787000") == _expected_snapshot(dep.sim, "787000")


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
