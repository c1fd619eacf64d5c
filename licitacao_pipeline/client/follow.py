"""Follow submitted runs until they end, printing what matters (status changes, step starts and
ends, the pipeline's own log lines, materialized counts, failures), then each run's counts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dagster import DagsterRunStatus

from licitacao_pipeline.client.orquestracao import (
    Evento,
    Execucao,
    OrquestracaoError,
    Orquestrador,
)
from licitacao_pipeline.flows import contratos
from licitacao_pipeline.flows.abas import AbaTotals
from licitacao_pipeline.names import TIPO_TAG, UNIDADE_TAG

# Metadata keys shown as counts, in this order: ``contratos``, then the tabs.
CONTAGENS = (
    *contratos.CONTAGENS,
    "contratos_alterados",  # the change history (contratos_alteracoes)
    "alteracoes_registradas",
    "contratos_devidos",
    "contratos_sincronizados",
    "contratos_com_falha",
    "contratos_pendentes",
    *AbaTotals().linhas_metadata(),
)
# An op's output metadata shown at the end (exports, imports), in this order.
RESULTADO = (
    "caminho",
    "linhas",
    "bytes",
    "linhas_abas",
    "arquivos_abas",
    "arquivo",
    "total",
    "aceitos",
    "rejeitados",
    "arquivo_rejeicoes",
    "inseridos",
    "atualizados",
    "removidos",
    "inalterados",
)
RETRY_WAIT_SECONDS = 60.0  # how long a crashed run's automatic retry may take to appear
_LOG_LEVELS = {"INFO", "WARNING", "ERROR", "CRITICAL"}
_CLASS_PATH = re.compile(r"^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*): ")


@dataclass
class FollowedRun:
    """One followed run: what was submitted, and what has been seen of it so far."""

    run_id: str
    rotulo: str  # how the UASG is shown, e.g. "787010 (CAPITANIA ...)"
    cursor: str | None = None
    execucao: Execucao | None = None
    contagens: dict[str, dict[str, Any]] = field(default_factory=dict)
    erros: list[str] = field(default_factory=list)
    retry_deadline: float | None = None
    iniciado: bool = False  # its run worker started (a run canceled in the queue never does)
    resultado: dict[str, Any] = field(default_factory=dict)  # an op's output metadata
    enviado_em: float = field(default_factory=time.time)  # when this command submitted it

    @property
    def codigo(self) -> str:
        return self.rotulo.split(" ", 1)[0]

    @property
    def succeeded(self) -> bool:
        return self.execucao is not None and self.execucao.status == DagsterRunStatus.SUCCESS


def _valor(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def contagens(metadados: dict[str, Any]) -> str:
    return " ".join(f"{k}={metadados[k]}" for k in CONTAGENS if k in metadados)


def _erro(text: str | None) -> str:
    """An error message on one line, without the exception's module path."""
    line = " ".join((text or "").split())
    line = _CLASS_PATH.sub(r"\1: ", line)
    return line if len(line) <= 400 else line[:399] + "…"


def describe(e: Evento) -> str | None:
    """The line to print for an event, or None for the ones that do not matter to people."""
    if e.tipo == "ExecutionStepStartEvent":
        return f"step {e.step} iniciado"
    if e.tipo in ("ExecutionStepSuccessEvent", "ExecutionStepUpForRetryEvent"):
        return e.mensagem
    if e.tipo == "ExecutionStepRestartEvent":
        return e.mensagem or f"step {e.step} reiniciado"
    if e.tipo == "ExecutionStepFailureEvent":
        return f"step {e.step} FALHOU: {_erro(e.erro or e.mensagem)}"
    if e.tipo == "LogMessageEvent" and e.nivel in _LOG_LEVELS:
        return e.mensagem
    if e.tipo in ("MaterializationEvent", "ObservationEvent"):
        verb = "materializado" if e.tipo == "MaterializationEvent" else "observado"
        return f"{verb} {e.asset}: {contagens(dict(e.metadados))}".rstrip(": ")
    if e.tipo == "AssetCheckEvaluationEvent" and e.sucesso is False:
        return e.mensagem
    if e.tipo in ("RunFailureEvent", "RunCanceledEvent", "RunCancelingEvent"):
        return e.mensagem + (f": {_erro(e.erro)}" if e.erro else "")
    if e.tipo == "EngineEvent" and e.nivel in ("WARNING", "ERROR", "CRITICAL"):
        return e.mensagem
    return None


def _stamp(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts or time.time()).strftime("%H:%M:%S")


class Follower:
    """Polls the runs' status and events through ``orq`` and prints with ``out``."""

    def __init__(
        self, orq: Orquestrador, out: Callable[[str], None] = print, interval: float = 0.3
    ):
        self.orq, self.out, self.interval = orq, out, interval

    def follow(self, runs: list[FollowedRun]) -> list[FollowedRun]:
        """Until every run (or its automatic retry) has ended; returns them."""
        pending = list(runs)
        while pending:
            for run in list(pending):
                if self._poll(run):
                    pending.remove(run)
            if pending:
                time.sleep(self.interval)
        return runs

    def summary(self, run: FollowedRun) -> list[str]:
        ex = run.execucao
        assert ex is not None
        nome = ex.tags.get(UNIDADE_TAG)
        rotulo = f"{run.codigo} ({nome})" if nome else run.rotulo
        took = ""
        if run.iniciado and ex.start_time and ex.end_time:
            took = f" em {ex.end_time - ex.start_time:.1f}s"
        tipo = f" [{ex.tags[TIPO_TAG]}]" if ex.tags.get(TIPO_TAG) else ""
        lines = [f"{rotulo}: {ex.status.value}{took}{tipo}  {self.orq.run_url(run.run_id)}"]
        if espera := self._espera(run):
            lines.append(f"  {espera}")
        lines += [f"  {asset}: {contagens(m)}" for asset, m in run.contagens.items()]
        lines += [f"  {k}: {_valor(run.resultado[k])}" for k in RESULTADO if k in run.resultado]
        lines += [f"  erro: {erro}" for erro in dict.fromkeys(run.erros)]
        return lines

    def _espera(self, run: FollowedRun) -> str:
        """What the user waited for, from this command's submission to the run's end: the
        queue, the run worker's start (a new process importing Dagster and this code), the
        work itself."""
        ex = run.execucao
        try:
            etapas = self.orq.tempos(run.run_id).etapas()
        except OrquestracaoError:  # timings are a courtesy: never fail a summary for them
            return ""
        parts = [f"{nome} {s:.1f}s" for nome, s in etapas.items()]
        if ex is not None and ex.end_time:
            parts.append(f"total {max(0.0, ex.end_time - run.enviado_em):.1f}s desde o envio")
        return "tempo: " + ", ".join(parts) if parts else ""

    def _say(self, run: FollowedRun, text: str, ts: float | None = None) -> None:
        self.out(f"{_stamp(ts)} [{run.codigo}] {text}")

    def _poll(self, run: FollowedRun) -> bool:
        """One look at the run; True once it has ended and will not be retried."""
        ex = self.orq.run(run.run_id)  # status first: the events read next include its cause
        changed = run.execucao is None or ex.status != run.execucao.status
        run.execucao = ex
        if changed and not ex.finished:
            started = ex.status == DagsterRunStatus.STARTED
            self._say(run, ex.status.value, ex.start_time if started else None)
        events, run.cursor = self.orq.events(run.run_id, run.cursor)
        for e in events:
            self._collect(run, e)
        if changed and ex.finished:  # after the events that led to it
            self._say(run, ex.status.value, ex.end_time)
        if not ex.finished:
            return False
        if ex.status == DagsterRunStatus.FAILURE and ex.tags.get("dagster/will_retry") == "true":
            return self._switch_to_retry(run)
        return True

    def _collect(self, run: FollowedRun, e: Evento) -> None:
        run.iniciado = run.iniciado or e.tipo == "RunStartEvent"
        if e.tipo in ("MaterializationEvent", "ObservationEvent") and e.asset:
            counts = {k: v for k, v in e.metadados.items() if k in CONTAGENS}
            if counts:
                run.contagens[e.asset] = counts
        if e.tipo == "ExecutionStepOutputEvent":
            run.resultado.update({k: v for k, v in e.metadados.items() if k in RESULTADO})
        line = describe(e)
        if e.tipo == "RunFailureEvent" and run.erros:
            line = e.mensagem  # the step failure above already said why
        if e.tipo in ("ExecutionStepFailureEvent", "RunFailureEvent") and e.erro:
            run.erros.append(_erro(e.erro))
        if line:
            self._say(run, line, e.timestamp)

    def _switch_to_retry(self, run: FollowedRun) -> bool:
        if run.retry_deadline is None:
            run.retry_deadline = time.monotonic() + RETRY_WAIT_SECONDS
        retry = self.orq.retry_of(run.run_id)
        if retry is None:
            return time.monotonic() > run.retry_deadline  # give up: report the failure
        self._say(run, f"run {run.run_id} caiu; o Dagster o repete como run {retry.run_id}")
        run.run_id, run.cursor, run.execucao, run.retry_deadline = retry.run_id, None, None, None
        run.iniciado = False
        run.resultado.clear()
        run.erros.clear()
        return False
