"""Submit and watch syncs through the Dagster webserver's GraphQL API, so they go through the
run queue (one run per UASG at a time, priorities, pools) like everything else.

``Orquestrador`` is what other applications call: submit a UASG sync, submit a contract sync,
run status, cancel, queue statistics. The ``licitacao sync`` command is built on it. Submission,
status and cancel use ``dagster_graphql.DagsterGraphQLClient``; partition keys, run details,
run events and queue counts are small queries sent through the same transport.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from gql import Client, gql
from gql.transport.exceptions import TransportError, TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport
from requests.auth import HTTPBasicAuth

from licitacao_pipeline import settings
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.names import (
    CONTRATO_TAG,
    JOB_COMPLETA,
    JOB_CONTRATO,
    JOB_SINCRONIZAR,
    LOCATION,
    OP_CONTRATO,
    ORIGEM_TAG,
    PARTITION_TAG,
    REPOSITORY,
    UNIDADE_TAG,
)

DEFAULT_URL = "http://localhost:3000"
FINISHED = frozenset(
    {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
)
# The webserver terminates runs in these statuses only (a STARTING one is refused).
CANCELABLE = ("QUEUED", "STARTED")
CANCEL_TIMEOUT_S = 120.0
# Runs holding a UASG's slot (started) or waiting for it (queued).
_STARTED = ("STARTING", "STARTED", "CANCELING")
_QUEUED = ("QUEUED",)


# A webserver restarting behind the proxy (HTTP 502/503/504), whose database has just restarted
# (a pooled connection found closed: the transaction rolled back) or whose code server is
# restarting (a deploy: nothing was launched) is waited for this long.
ESPERA_MAXIMA = 60
_log = logging.getLogger(__name__)


def _momentaneo(exc: BaseException) -> bool:
    """Whether ``exc`` says the webserver did not carry the request out, for a moment only. A
    refused connection is not waited for: nothing may be listening there at all."""
    while exc is not None:
        if isinstance(exc, TransportServerError) and exc.code in (502, 503, 504):
            return True
        text = str(exc)
        if "OperationalError" in text:  # psycopg2's, relayed in a GraphQL error
            return True
        if "DagsterUserCodeUnreachableError" in text:  # the code server restarting (a deploy)
            return True
        exc = exc.__cause__
    return False


def _resumo(exc: BaseException) -> str:
    text = str(exc)
    if "OperationalError" in text:
        return "conexão com o banco de dados perdida"
    if "DagsterUserCodeUnreachableError" in text:
        return "servidor de código indisponível"
    return text[:120]


class OrquestracaoError(Exception):
    """A request the webserver did not carry out; the message says why, for people."""


class WebserverInacessivel(OrquestracaoError):
    pass


class CredenciaisRecusadas(OrquestracaoError):
    pass


class ParticaoDesconhecida(OrquestracaoError):
    pass


@dataclass(frozen=True)
class Execucao:
    """A run as the webserver reports it."""

    run_id: str
    job: str
    status: DagsterRunStatus
    tags: Mapping[str, str]
    start_time: float | None = None
    end_time: float | None = None

    @property
    def uasg(self) -> str | None:
        return self.tags.get(PARTITION_TAG)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class Evento:
    """One entry of a run's event log (``logsForRun``), reduced to what people read."""

    tipo: str  # GraphQL type, e.g. ExecutionStepStartEvent, LogMessageEvent, MaterializationEvent
    mensagem: str
    nivel: str
    timestamp: float  # seconds
    step: str | None = None
    asset: str | None = None
    metadados: Mapping[str, Any] = field(default_factory=dict)
    erro: str | None = None
    sucesso: bool | None = None  # asset check evaluations


@dataclass(frozen=True)
class Tempos:
    """When a run was created, queued, launched, started and ended (epoch seconds)."""

    criada: float | None
    na_fila: float | None
    lancada: float | None
    iniciada: float | None
    terminada: float | None

    def etapas(self) -> dict[str, float]:
        """Seconds in the queue, starting (the run worker's process), working."""
        out = {}
        marks = [
            ("fila", self.na_fila or self.criada, self.lancada),
            ("inicio", self.lancada, self.iniciada),
            ("execucao", self.iniciada, self.terminada),
        ]
        for name, a, b in marks:
            if a and b:
                out[name] = max(0.0, b - a)
        return out


@dataclass(frozen=True)
class Cancelamento:
    """What ``Orquestrador.cancel`` did: ``acao`` for people, the run's last status."""

    run_id: str
    acao: str  # "cancelada na fila", "interrompida", "já estava sendo cancelada", ...
    status: DagsterRunStatus


@dataclass(frozen=True)
class EstatisticasFila:
    """Runs waiting in the queue and runs holding a slot, overall and per UASG."""

    na_fila: int
    em_execucao: int
    por_uasg: Mapping[str, Mapping[str, int]]  # {uasg: {"na_fila": n, "em_execucao": n}}


_RUN_FIELDS = "runId jobName status startTime endTime tags { key value }"
_RUN_QUERY = f"""
query LicitacaoRun($runId: ID!) {{
  runOrError(runId: $runId) {{
    __typename
    ... on Run {{ {_RUN_FIELDS} }}
    ... on RunNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}"""
_TEMPOS_QUERY = """
query LicitacaoTempos($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      creationTime
      stats { __typename ... on RunStatsSnapshot { enqueuedTime launchTime startTime endTime } }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}"""
_METADATA = """metadataEntries { label
  ... on IntMetadataEntry { intRepr }
  ... on FloatMetadataEntry { floatValue }
  ... on TextMetadataEntry { text }
  ... on BoolMetadataEntry { boolValue }
  ... on PathMetadataEntry { path }
  ... on JsonMetadataEntry { jsonString }
}"""
_EVENTS_QUERY = f"""
query LicitacaoRunEvents($runId: ID!, $after: String) {{
  logsForRun(runId: $runId, afterCursor: $after) {{
    __typename
    ... on EventConnection {{
      cursor
      hasMore
      events {{
        __typename
        ... on MessageEvent {{ message level timestamp stepKey }}
        ... on ErrorEvent {{ error {{ message }} }}
        ... on MaterializationEvent {{ assetKey {{ path }} {_METADATA} }}
        ... on ObservationEvent {{ assetKey {{ path }} {_METADATA} }}
        ... on ExecutionStepOutputEvent {{ outputName {_METADATA} }}
        ... on AssetCheckEvaluationEvent {{
          evaluation {{ checkName success assetKey {{ path }} }}
        }}
      }}
    }}
    ... on RunNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}"""
_ACTIVE_RUNS_QUERY = """
query LicitacaoActiveRuns($statuses: [RunStatus!]) {
  runsOrError(filter: {statuses: $statuses}) {
    __typename
    ... on Runs { results { status tags { key value } } }
    ... on PythonError { message }
  }
}"""
_CHILD_RUNS_QUERY = f"""
query LicitacaoChildRuns($parent: String!) {{
  runsOrError(filter: {{tags: [{{key: "dagster/parent_run_id", value: $parent}}]}}) {{
    __typename
    ... on Runs {{ results {{ {_RUN_FIELDS} }} }}
    ... on PythonError {{ message }}
  }}
}}"""
_TERMINATE_MUTATION = """
mutation LicitacaoTerminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}"""
_PARTITIONS_QUERY = """
query LicitacaoPartitions($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline { partitionKeysOrError { partitionKeys } }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message }
  }
}"""


def _dev_url() -> str | None:
    from licitacao_pipeline.cliente.instancia_dev import encontrar

    instancia = encontrar()
    return instancia.url if instancia else None


def _metadata(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in entries:
        if "intRepr" in e:
            out[e["label"]] = int(e["intRepr"])
        elif "jsonString" in e:
            out[e["label"]] = json.loads(e["jsonString"])
        else:
            for key in ("floatValue", "text", "boolValue", "path"):
                if key in e:
                    out[e["label"]] = e[key]
    return out


def _evento(raw: Mapping[str, Any]) -> Evento:
    asset = raw.get("assetKey") or (raw.get("evaluation") or {}).get("assetKey")
    evaluation = raw.get("evaluation") or {}
    return Evento(
        tipo=raw["__typename"],
        mensagem=raw.get("message") or "",
        nivel=raw.get("level") or "",
        timestamp=int(raw.get("timestamp") or 0) / 1000,
        step=raw.get("stepKey"),
        asset="/".join(asset["path"]) if asset else None,
        metadados=_metadata(raw.get("metadataEntries") or []),
        erro=(raw.get("error") or {}).get("message"),
        sucesso=evaluation.get("success"),
    )


def _execucao(raw: Mapping[str, Any]) -> Execucao:
    return Execucao(
        run_id=raw["runId"],
        job=raw["jobName"],
        status=DagsterRunStatus(raw["status"]),
        tags={t["key"]: t["value"] for t in raw["tags"]},
        start_time=raw.get("startTime"),
        end_time=raw.get("endTime"),
    )


class Orquestrador:
    """The pipeline's Dagster deployment, reached through its webserver.

    ``url`` is the webserver's address (with its path prefix, if any); ``usuario``/``senha``
    are sent as HTTP basic auth (a reverse proxy in front of the webserver checks them).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        usuario: str | None = None,
        senha: str | None = None,
        timeout: int = 30,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OrquestracaoError(f"invalid webserver URL {url!r} (expected http(s)://host:port)")
        if parts.username or parts.password:
            raise OrquestracaoError(
                "do not put credentials in the webserver URL: set DAGSTER_WEBSERVER_USER and "
                "DAGSTER_WEBSERVER_PASSWORD"
            )
        self.url = url.rstrip("/")
        auth = HTTPBasicAuth(usuario, senha or "") if usuario else None
        transport = RequestsHTTPTransport(
            url=f"{self.url}/graphql", use_json=True, timeout=timeout, auth=auth
        )
        self._client = DagsterGraphQLClient(parts.hostname, transport=transport)
        self._gql = Client(transport=transport)
        self._aguardou = False

    @classmethod
    def from_env(cls, url: str | None = None, env: Mapping[str, str] | None = None):
        """URL from ``url``, else ``DAGSTER_WEBSERVER_URL``, else the running ``licitacao dev``'s,
        else localhost:3000; credentials from ``DAGSTER_WEBSERVER_USER``/``_PASSWORD``."""
        conf = settings.Settings.from_env(env)
        usuario, senha = conf.webserver_user, conf.webserver_password
        if bool(usuario) != bool(senha):
            raise OrquestracaoError(
                "set both DAGSTER_WEBSERVER_USER and DAGSTER_WEBSERVER_PASSWORD, or neither"
            )
        url = url or conf.webserver_url or _dev_url() or DEFAULT_URL
        return cls(url, usuario=usuario, senha=senha)

    def run_url(self, run_id: str) -> str:
        return f"{self.url}/runs/{run_id}"

    # -- the operations other applications use ------------------------------------------------
    def submit_uasg(
        self,
        uasg: str,
        *,
        completa: bool = False,
        nome: str | None = None,
        origem: str = "cli",
    ) -> str:
        """Queue a sync of one UASG; returns the run id.

        Job ``sincronizar_contratos``: the listing, then the due tabs, in one run; with
        ``completa``, job ``sincronizacao_completa``: every tab of every contract. Raises
        ``ParticaoDesconhecida`` for a UASG the deployment does not sync.
        """
        job = JOB_COMPLETA if completa else JOB_SINCRONIZAR
        return self._submit(job, uasg, {}, self._tags(uasg, nome, origem))

    def submit_contrato(
        self,
        contrato_id: int,
        uasg: str,
        abas: Sequence[str] = ABAS,
        *,
        nome: str | None = None,
        origem: str = "cli",
    ) -> str:
        """Queue an on-demand refresh of one contract's ``abas`` (run in the contract's UASG
        partition, so it waits for that UASG's other runs); returns the run id."""
        unknown = sorted(set(abas) - set(ABAS))
        if unknown or not abas:
            wrong = unknown or list(abas)
            raise OrquestracaoError(f"unknown tab(s) {wrong}: use {', '.join(ABAS)}")
        op_config = {"contrato_id": contrato_id, "abas": list(abas)}
        config = {"ops": {OP_CONTRATO: {"config": op_config}}}
        tags = {**self._tags(uasg, nome, origem), CONTRATO_TAG: str(contrato_id)}
        return self._submit(JOB_CONTRATO, uasg, config, tags)

    def submit_job(self, job: str, run_config: Mapping[str, Any], *, origem: str = "cli") -> str:
        """Queue a run of an unpartitioned job (``exportar_contratos``,
        ``importar_acompanhamento``) with its config; returns the run id."""
        return self._call(
            self._client.submit_job_execution,
            job,
            repository_location_name=LOCATION,
            repository_name=REPOSITORY,
            run_config=dict(run_config),
            tags={ORIGEM_TAG: origem},
        )

    def run_status(self, run_id: str) -> DagsterRunStatus:
        return self._call(self._client.get_run_status, run_id)

    def cancel(self, run_id: str, *, timeout: float = CANCEL_TIMEOUT_S) -> Cancelamento:
        """Cancel a run in any live status and wait (up to ``timeout``) until it has ended.

        A queued run is canceled at once; a starting one is waited for until its worker runs,
        then interrupted (the webserver refuses a STARTING run); a running one is interrupted
        and stops within seconds. Returns what was done and the run's last status.
        """
        deadline = time.monotonic() + timeout
        acao = None
        while True:
            run = self.run(run_id)
            if run.finished:
                return Cancelamento(run_id, acao or "já tinha terminado", run.status)
            if acao is None and run.status == DagsterRunStatus.CANCELING:
                acao = "já estava sendo cancelada"
            elif acao is None and run.status.value in CANCELABLE and self._terminate(run_id):
                queued = run.status == DagsterRunStatus.QUEUED
                acao = "cancelada na fila" if queued else "interrompida"
            if time.monotonic() > deadline:
                if acao is None:
                    raise OrquestracaoError(
                        f"run {run_id} não pôde ser cancelada em {timeout:.0f} s "
                        f"(status {run.status.value})"
                    )
                return Cancelamento(run_id, acao, run.status)
            time.sleep(0.3)

    def _terminate(self, run_id: str) -> bool:
        """One terminate request; False when the run's status does not allow it right now
        (it just left the queue, or already ended): the caller looks again."""
        data = self._query(_TERMINATE_MUTATION, {"runId": run_id})
        result = data["terminateRun"]
        if result["__typename"] == "TerminateRunSuccess":
            return True
        if result["__typename"] == "TerminateRunFailure":
            return False
        raise OrquestracaoError(f"{result['__typename']}: {result.get('message', '')}")

    def queue_stats(self) -> EstatisticasFila:
        """Counts of queued and started runs, overall and per UASG (``dagster/partition``)."""
        data = self._query(_ACTIVE_RUNS_QUERY, {"statuses": [*_QUEUED, *_STARTED]})
        runs = self._ok(data["runsOrError"], "Runs")["results"]
        totals: Counter[str] = Counter()
        por_uasg: dict[str, Counter[str]] = {}
        for run in runs:
            kind = "na_fila" if run["status"] in _QUEUED else "em_execucao"
            totals[kind] += 1
            uasg = next((t["value"] for t in run["tags"] if t["key"] == PARTITION_TAG), None)
            if uasg:
                por_uasg.setdefault(uasg, Counter())[kind] += 1
        return EstatisticasFila(
            na_fila=totals["na_fila"],
            em_execucao=totals["em_execucao"],
            por_uasg={
                u: {"na_fila": c["na_fila"], "em_execucao": c["em_execucao"]}
                for u, c in sorted(por_uasg.items())
            },
        )

    # -- reading runs ----------------------------------------------------------------------------
    def partitions(self, job: str = JOB_SINCRONIZAR) -> list[str]:
        """The UASG partitions the deployment knows. The webserver accepts a run for any key and
        the run fails late, so every submit checks first."""
        selector = {
            "pipelineName": job,
            "repositoryName": REPOSITORY,
            "repositoryLocationName": LOCATION,
        }
        data = self._query(_PARTITIONS_QUERY, {"selector": selector})
        pipeline = self._ok(data["pipelineOrError"], "Pipeline")
        return list(pipeline["partitionKeysOrError"]["partitionKeys"])

    def check_partitions(self, uasgs: Sequence[str]) -> None:
        """Raise ``ParticaoDesconhecida`` naming the UASGs that are not partitions."""
        known = set(self.partitions())
        unknown = [u for u in uasgs if u not in known]
        if unknown:
            raise ParticaoDesconhecida(
                f"UASG {', '.join(unknown)} is not a configured partition of this deployment "
                f"(configured: {', '.join(sorted(known))}; see LICITACAO_UASGS)"
            )

    def run(self, run_id: str) -> Execucao:
        data = self._query(_RUN_QUERY, {"runId": run_id})
        return _execucao(self._ok(data["runOrError"], "Run"))

    def events(self, run_id: str, cursor: str | None = None) -> tuple[list[Evento], str | None]:
        """The run's events after ``cursor`` (all of them from None) and the new cursor."""
        out: list[Evento] = []
        while True:
            data = self._query(_EVENTS_QUERY, {"runId": run_id, "after": cursor})
            page = self._ok(data["logsForRun"], "EventConnection")
            out.extend(_evento(e) for e in page["events"])
            cursor = page["cursor"] or cursor
            if not page["hasMore"]:
                return out, cursor

    def tempos(self, run_id: str) -> Tempos:
        data = self._query(_TEMPOS_QUERY, {"runId": run_id})
        run = self._ok(data["runOrError"], "Run")
        stats = run["stats"] if run["stats"]["__typename"] == "RunStatsSnapshot" else {}
        return Tempos(
            run["creationTime"],
            stats.get("enqueuedTime"),
            stats.get("launchTime"),
            stats.get("startTime"),
            stats.get("endTime"),
        )

    def retry_of(self, run_id: str) -> Execucao | None:
        """The automatic re-execution of a crashed run (``run_retries``), once it exists."""
        data = self._query(_CHILD_RUNS_QUERY, {"parent": run_id})
        runs = self._ok(data["runsOrError"], "Runs")["results"]
        return _execucao(runs[0]) if runs else None

    # -- plumbing --------------------------------------------------------------------------------
    def _tags(self, uasg: str, nome: str | None, origem: str) -> dict[str, str]:
        tags = {PARTITION_TAG: uasg, ORIGEM_TAG: origem}
        if nome:
            tags[UNIDADE_TAG] = nome
        return tags

    def _submit(self, job: str, uasg: str, run_config: dict, tags: dict[str, str]) -> str:
        self.check_partitions([uasg])
        return self._call(
            self._client.submit_job_execution,
            job,
            repository_location_name=LOCATION,
            repository_name=REPOSITORY,
            run_config=run_config,
            tags=tags,
        )

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self._call(self._gql.execute, gql(query), variable_values=variables)

    def _ok(self, result: Mapping[str, Any], expected: str) -> Mapping[str, Any]:
        if result["__typename"] != expected:
            raise OrquestracaoError(f"{result['__typename']}: {result.get('message', '')}")
        return result

    def _call(self, fn, *args, **kwargs):
        """``fn``, waiting up to ``ESPERA_MAXIMA`` seconds while the webserver is momentarily
        unable to answer (``_momentaneo``): it did not carry the request out, so asking again
        cannot do it twice."""
        deadline = time.monotonic() + ESPERA_MAXIMA
        while True:
            try:
                return self._call_once(fn, *args, **kwargs)
            except OrquestracaoError as exc:
                if not _momentaneo(exc) or time.monotonic() >= deadline:
                    raise
                if not self._aguardou:  # said once per client
                    _log.warning(
                        "o webserver em %s não está respondendo agora (%s); aguardando até %d s",
                        self.url,
                        _resumo(exc),
                        ESPERA_MAXIMA,
                    )
                    self._aguardou = True
                time.sleep(2)

    def _call_once(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DagsterGraphQLClientError as exc:
            if exc.__cause__ is not None:
                raise self._explain(exc.__cause__) from exc
            kind, *detail = exc.args
            raise OrquestracaoError(f"{kind}: {' '.join(map(str, detail))}".strip()) from exc
        except (requests.RequestException, TransportError) as exc:
            raise self._explain(exc) from exc

    def _explain(self, exc: BaseException) -> OrquestracaoError:
        chain = [exc]
        while chain[-1].__cause__ is not None and len(chain) < 10:
            chain.append(chain[-1].__cause__)
        if any(isinstance(e, requests.ConnectionError | requests.Timeout) for e in chain):
            return WebserverInacessivel(
                f"cannot reach the Dagster webserver at {self.url}: start it with "
                "`licitacao dev`, or pass --url (or set DAGSTER_WEBSERVER_URL)"
            )
        if isinstance(exc, TransportServerError) and exc.code in (401, 403):
            return CredenciaisRecusadas(
                f"the webserver at {self.url} refused the credentials (HTTP {exc.code}): set "
                "DAGSTER_WEBSERVER_USER and DAGSTER_WEBSERVER_PASSWORD"
            )
        if isinstance(exc, TransportServerError):
            return OrquestracaoError(f"the webserver at {self.url} answered HTTP {exc.code}")
        if isinstance(exc, TransportQueryError):
            return OrquestracaoError(f"GraphQL error from {self.url}: {json.dumps(exc.errors)}")
        return OrquestracaoError(f"{type(exc).__name__}: {exc}")
