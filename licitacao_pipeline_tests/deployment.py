"""A real Dagster deployment for the daemon tests: a DAGSTER_HOME built from the project's
dagster.yaml with PostgreSQL run storage, a ``dagster-daemon`` and a ``dagster-webserver``, both
serving the code location ``licitacao_pipeline`` from the project's workspace.yaml (the name
``licitacao sync`` and ``dagster job launch`` address)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import requests
import sqlalchemy as sa
import yaml

from licitacao_pipeline.warehouse.engine import normalize_url

BIN = Path(sys.executable).parent
PG_URL = os.environ.get("TEST_DAGSTER_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def admin_engine() -> sa.Engine:
    return sa.create_engine(
        normalize_url(PG_URL), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    """Started once per test module; ``close()`` stops what it started."""

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
        self.workspace = ["-w", str(repo_root / "workspace.yaml")]
        self.url = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DAGSTER_HOME": str(home),
            "DATABASE_URL": warehouse_url.render_as_string(hide_password=False),
            "COMPRASNET_BASE_URL": sim.base_url,
            "LICITACAO_STEP_RETRIES": "1",
            "LICITACAO_STEP_RETRY_DELAY_SECONDS": "0.1",
            "DAGSTER_WEBSERVER_URL": self.url,  # for `licitacao sync`
        }
        # The storage schema first, so the daemon and the webserver do not race to create it.
        self.instance = dg.DagsterInstance.from_config(str(home))
        self.warehouse = sa.create_engine(warehouse_url, poolclass=sa.NullPool)
        self._logs: dict[str, object] = {}
        self.daemon = self._start("daemon", [str(BIN / "dagster-daemon"), "run", *self.workspace])
        port = self.url.rsplit(":", 1)[1]
        self.webserver = self._start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", port, *self.workspace],
        )
        self._web_ready = False

    def _start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = self._logs[name] = open(self.home / f"{name}.log", "w")  # noqa: SIM115
        return subprocess.Popen(
            cmd,
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(
            f"--- {name} log tail:\n{(self.home / f'{name}.log').read_text()[-chars:]}"
            for name in self._logs
        )

    # -- clients --------------------------------------------------------------------------------
    def webserver_ready(self, timeout: float = 180) -> str:
        """The webserver's URL once it serves the code location (started in the background)."""
        if not self._web_ready:
            self.wait(self._serves_the_location, timeout, "the webserver to serve the location")
            self._web_ready = True
        return self.url

    def _serves_the_location(self) -> bool:
        assert self.webserver.poll() is None, "the webserver exited"
        query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
        try:
            resp = requests.post(f"{self.url}/graphql", json={"query": query}, timeout=5)
        except requests.ConnectionError:
            return False
        return resp.ok and bool(resp.json()["data"]["repositoriesOrError"].get("nodes"))

    def licitacao(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """The ``licitacao`` command as a user runs it, against this deployment."""
        return subprocess.run(
            [str(BIN / "licitacao"), *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def licitacao_popen(self, *args: str) -> subprocess.Popen:
        """Same, in the background, stdout and stderr merged into one text pipe."""
        return subprocess.Popen(
            [str(BIN / "licitacao"), *args],
            env=self.env,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def launch(self, job: str, partition: str, tags: dict | None = None) -> str:
        """`dagster job launch` as a user would; returns the new run's id."""
        marker = uuid.uuid4().hex
        all_tags = {"dagster/partition": partition, "test/marker": marker, **(tags or {})}
        cmd = [
            str(BIN / "dagster"),
            "job",
            "launch",
            *self.workspace,
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

    # -- waiting and reading --------------------------------------------------------------------
    def wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}\n{self.log_tail()}")

    def records(self, run_ids):
        return {
            r.dagster_run.run_id: r
            for r in self.instance.get_run_records(filters=dg.RunsFilter(run_ids=list(run_ids)))
        }

    def runs_tagged(self, tags: dict[str, str]):
        return self.instance.get_run_records(filters=dg.RunsFilter(tags=tags))

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
        for proc in (self.webserver, self.daemon):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.webserver, self.daemon):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.instance.dispose()
        self.warehouse.dispose()
        for log in self._logs.values():
            log.close()
