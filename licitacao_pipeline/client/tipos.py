"""What the webserver reports, as the client hands it on: runs, their events and times, queue
counts, and the errors a request can end in (messages for people)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterRunStatus

from licitacao_pipeline.names import PARTITION_TAG

FINISHED = frozenset(
    {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
)


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
