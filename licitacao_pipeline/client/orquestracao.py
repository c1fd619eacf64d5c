"""Submit and watch syncs through the Dagster webserver's GraphQL API, so they go through the
run queue (one run per UASG at a time, priorities, pools) like everything else.

``Orquestrador`` is what other applications call: submit a UASG sync, submit a contract sync,
run status, cancel, queue statistics. The ``licitacao sync`` command is built on it. Submission,
status and cancel use ``dagster_graphql.DagsterGraphQLClient``; partition keys, run details,
run events and queue counts are small queries (``consultas``) sent through the same transport.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DagsterRunStatus

from licitacao_pipeline import settings
from licitacao_pipeline.client import consultas as q
from licitacao_pipeline.client.tipos import (  # noqa: F401 (other applications import them here)
    FINISHED,
    Cancelamento,
    CredenciaisRecusadas,
    EstatisticasFila,
    Evento,
    Execucao,
    OrquestracaoError,
    ParticaoDesconhecida,
    Tempos,
    WebserverInacessivel,
)
from licitacao_pipeline.client.transporte import DEFAULT_URL, Webserver
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

# The webserver terminates runs in these statuses only (a STARTING one is refused).
CANCELABLE = ("QUEUED", "STARTED")
CANCEL_TIMEOUT_S = 120.0
# Runs holding a UASG's slot (started) or waiting for it (queued).
_STARTED = ("STARTING", "STARTED", "CANCELING")
_QUEUED = ("QUEUED",)


def _dev_url() -> str | None:
    from licitacao_pipeline.client.instancia_dev import encontrar

    instancia = encontrar()
    return instancia.url if instancia else None


class Orquestrador(Webserver):
    """The pipeline's Dagster deployment, reached through its webserver."""

    @classmethod
    def from_env(cls, url: str | None = None, env: Mapping[str, str] | None = None):
        """URL from ``url``, else ``DAGSTER_WEBSERVER_URL``, else the running ``licitacao dev``'s,
        else localhost:3000; credentials from ``DAGSTER_WEBSERVER_USER``/``_PASSWORD``."""
        conf = settings.Settings.from_env(env)
        usuario, senha = conf.webserver_user, conf.webserver_password
        if bool(usuario) != bool(senha):
            raise OrquestracaoError(
                "defina DAGSTER_WEBSERVER_USER e DAGSTER_WEBSERVER_PASSWORD juntas, ou nenhuma"
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
            raise OrquestracaoError(f"aba(s) desconhecida(s) {wrong}: use {', '.join(ABAS)}")
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
        data = self._query(q.TERMINATE_MUTATION, {"runId": run_id})
        result = data["terminateRun"]
        if result["__typename"] == "TerminateRunSuccess":
            return True
        if result["__typename"] == "TerminateRunFailure":
            return False
        raise OrquestracaoError(f"{result['__typename']}: {result.get('message', '')}")

    def queue_stats(self) -> EstatisticasFila:
        """Counts of queued and started runs, overall and per UASG (``dagster/partition``)."""
        data = self._query(q.ACTIVE_RUNS_QUERY, {"statuses": [*_QUEUED, *_STARTED]})
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
        data = self._query(q.PARTITIONS_QUERY, {"selector": selector})
        pipeline = self._ok(data["pipelineOrError"], "Pipeline")
        return list(pipeline["partitionKeysOrError"]["partitionKeys"])

    def check_partitions(self, uasgs: Sequence[str]) -> None:
        """Raise ``ParticaoDesconhecida`` naming the UASGs that are not partitions."""
        known = set(self.partitions())
        unknown = [u for u in uasgs if u not in known]
        if unknown:
            raise ParticaoDesconhecida(
                f"UASG {', '.join(unknown)} não é uma partição configurada neste deployment "
                f"(configuradas: {', '.join(sorted(known))}; veja LICITACAO_UASGS)"
            )

    def run(self, run_id: str) -> Execucao:
        data = self._query(q.RUN_QUERY, {"runId": run_id})
        return q.execucao(self._ok(data["runOrError"], "Run"))

    def events(self, run_id: str, cursor: str | None = None) -> tuple[list[Evento], str | None]:
        """The run's events after ``cursor`` (all of them from None) and the new cursor."""
        out: list[Evento] = []
        while True:
            data = self._query(q.EVENTS_QUERY, {"runId": run_id, "after": cursor})
            page = self._ok(data["logsForRun"], "EventConnection")
            out.extend(q.evento(e) for e in page["events"])
            cursor = page["cursor"] or cursor
            if not page["hasMore"]:
                return out, cursor

    def tempos(self, run_id: str) -> Tempos:
        data = self._query(q.TEMPOS_QUERY, {"runId": run_id})
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
        data = self._query(q.CHILD_RUNS_QUERY, {"parent": run_id})
        runs = self._ok(data["runsOrError"], "Runs")["results"]
        return q.execucao(runs[0]) if runs else None

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
