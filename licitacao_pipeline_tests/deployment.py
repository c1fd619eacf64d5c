"""A real Dagster deployment for the daemon tests, in production's topology (docker-compose.yml)
without Docker: a DAGSTER_HOME with the production instance config
(licitacao_pipeline/deploy/dagster.yaml: PostgreSQL storage named by ``DAGSTER_PG_*``), the code
location ``licitacao_pipeline`` served by a gRPC code server (``dagster code-server start``), a
``dagster-daemon`` and a ``dagster-webserver`` loading it through the production workspace
(licitacao_pipeline/deploy/workspace.yaml), and Caddy with the production Caddyfile (basic auth)
in front of the webserver: ``url`` is the proxy's, and ``licitacao sync`` goes through it with
credentials. Without a ``caddy`` binary (and outside CI) ``url`` is the webserver's own.

Everything the deployment starts carries its mark in the environment
(``LICITACAO_TEST_DEPLOYMENT``): ``close()`` finds and stops the code servers and run workers
that the daemon and the webserver started in sessions of their own, which their process groups'
signals do not reach."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from unittest import mock

import dagster as dg
import requests
import sqlalchemy as sa
import yaml

from licitacao_pipeline.warehouse.engine import normalize_url

from . import topologia
from .processos import stop_marked

BIN = Path(sys.executable).parent
PG_URL = os.environ.get("TEST_DAGSTER_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
MARK = "LICITACAO_TEST_DEPLOYMENT"
DEPLOY = Path("licitacao_pipeline") / "deploy"  # production's files, from the repository root


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

    def __init__(
        self, home: Path, repo_root: Path, dagster_url, warehouse_url, sim, extra_env=None
    ):
        # Production's instance config as it is, but for a faster run-monitoring poll and its
        # runs as processes of the code server (no Docker here: test_containers.py runs them
        # in containers, as production does).
        config = yaml.safe_load((repo_root / DEPLOY / "dagster.yaml").read_text())
        config["run_monitoring"]["poll_interval_seconds"] = 1  # faster than production's 10
        assert config.pop("run_launcher")["class"] == "DockerRunLauncher"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        self.home, self.sim, self.root = home, sim, repo_root
        self.workspace = ["-w", str(repo_root / DEPLOY / "workspace.yaml")]
        self.code_port = free_port()
        self.webserver_url = f"http://127.0.0.1:{free_port()}"
        self.url = self.webserver_url  # the proxy's, once it runs
        self.mark = uuid.uuid4().hex
        storage = {  # what the production instance config reads
            "DAGSTER_PG_HOST": dagster_url.host or "127.0.0.1",
            "DAGSTER_PG_PORT": str(dagster_url.port or 5432),
            "DAGSTER_PG_DB": dagster_url.database,
            "DAGSTER_PG_USER": dagster_url.username or "postgres",
            "DAGSTER_PG_PASSWORD": dagster_url.password or "",
        }
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            **storage,
            "DAGSTER_HOME": str(home),
            "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
            "DAGSTER_CODE_SERVER_PORT": str(self.code_port),
            "LICITACAO_AMBIENTE": "producao",
            "DATABASE_URL": warehouse_url.render_as_string(hide_password=False),
            "COMPRASNET_BASE_URL": sim.base_url,
            "COMPRASNET_MAX_RPS": "0",  # the request budget has its own tests (test_orcamento)
            "LICITACAO_STEP_RETRIES": "1",
            "LICITACAO_STEP_RETRY_DELAY_SECONDS": "0.1",
            "DAGSTER_WEBSERVER_URL": self.url,  # for `licitacao sync`
            **(extra_env or {}),
            MARK: self.mark,
        }
        # The storage schema first, so the processes do not race to create it.
        with mock.patch.dict(os.environ, storage):
            self.instance = dg.DagsterInstance.from_config(str(home))
        self.warehouse = sa.create_engine(warehouse_url, poolclass=sa.NullPool)
        self._logs: dict[str, object] = {}
        self.proxy = None
        self.code_server = self._start(
            "code_server",
            [
                str(BIN / "dagster"),
                "code-server",
                "start",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.code_port),
                "-m",
                "licitacao_pipeline.definitions",
                "--location-name",
                "licitacao_pipeline",
            ],
        )
        try:
            self.wait(self._code_server_serving, 180, "the code server to serve")
            self.daemon = self._start(
                "daemon", [str(BIN / "dagster-daemon"), "run", *self.workspace]
            )
            port = self.webserver_url.rsplit(":", 1)[1]
            self.webserver = self._start(
                "webserver",
                [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", port, *self.workspace],
            )
            if topologia.binary("caddy") or topologia.required():
                self.proxy = topologia.Proxy(
                    home / "proxy",
                    free_port(),
                    upstream=f"127.0.0.1:{port}",
                    extra_env={MARK: self.mark},
                )
                self.url = self.proxy.url
                self.env.update(
                    DAGSTER_WEBSERVER_URL=self.url,
                    DAGSTER_WEBSERVER_USER=self.proxy.usuario,
                    DAGSTER_WEBSERVER_PASSWORD=self.proxy.senha,
                )
        except BaseException:
            self.close()
            raise
        self._web_ready = False

    def _code_server_serving(self) -> bool:
        from dagster._grpc.client import DagsterGrpcClient

        assert self.code_server.poll() is None, "the code server exited"
        try:
            client = DagsterGrpcClient(port=self.code_port, host="127.0.0.1")
            return client.health_check_query() == "SERVING"
        except Exception:
            return False

    @property
    def auth(self) -> tuple[str, str] | None:
        """Basic-auth credentials the proxy asks for (None: no proxy)."""
        return self.proxy.auth if self.proxy else None

    def orquestrador(self, **kwargs):
        """The client other applications use, with this deployment's URL and credentials."""
        from licitacao_pipeline.client.orquestracao import Orquestrador

        return Orquestrador.from_env(env=self.env, **kwargs)

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
            resp = requests.post(
                f"{self.url}/graphql", json={"query": query}, auth=self.auth, timeout=5
            )
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
            # As from a terminal, Ctrl-C (SIGINT) must reach it even when the tests were started
            # in the background: a shell's `cmd &` ignores SIGINT, and children inherit that.
            preexec_fn=_default_sigint,
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
        """Stop the proxy, the webserver, the daemon and the code server (their process groups),
        then whatever they started elsewhere: run workers in sessions of their own."""
        if self.proxy:
            self.proxy.close()
        procs = [
            p
            for p in (
                getattr(self, "webserver", None),
                getattr(self, "daemon", None),
                self.code_server,
            )
            if p is not None
        ]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        stop_marked(MARK, self.mark)
        self.instance.dispose()
        self.warehouse.dispose()
        for log in self._logs.values():
            log.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
