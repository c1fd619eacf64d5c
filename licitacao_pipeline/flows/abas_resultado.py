"""What a tab run did (per tab and in all), its budget, and its progress lines: the values the
tab use cases fill in and the assets turn into metadata."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_FAILURE_SAMPLES = 20


@dataclass
class AbaTotals:
    """What one run did to one tab."""

    devidos: int = 0  # contracts whose tab was due when the run started
    sincronizados: int = 0
    falhas: int = 0
    falhas_inesperadas: int = 0  # a write that failed for another reason than the API
    linhas: int = 0
    inseridas: int = 0
    atualizadas: int = 0
    removidas: int = 0
    rejeitadas: int = 0
    pendentes: int | None = None  # contracts still due after the run (the backlog)
    amostras_falhas: list[dict[str, Any]] = field(default_factory=list)
    amostras_rejeitadas: list[dict[str, Any]] = field(default_factory=list)

    def linhas_metadata(self) -> dict[str, int]:
        """Row counts as materialization/observation metadata."""
        return {
            "linhas": self.linhas,
            "linhas_inseridas": self.inseridas,
            "linhas_atualizadas": self.atualizadas,
            "linhas_removidas": self.removidas,
            "linhas_rejeitadas": self.rejeitadas,
        }

    def fail(self, contrato_id: int, error: str, *, unexpected: bool) -> None:
        self.falhas += 1
        self.falhas_inesperadas += unexpected
        if len(self.amostras_falhas) < MAX_FAILURE_SAMPLES:
            self.amostras_falhas.append({"contrato_id": contrato_id, "erro": error[:500]})


@dataclass
class Limites:
    """A run's budget: at most ``max_contratos`` contracts, no new one after ``prazo``
    (a ``time.monotonic()`` instant)."""

    max_contratos: int | None = None
    prazo: float | None = None

    def reached(self, contratos: int) -> str | None:
        if self.max_contratos is not None and contratos >= self.max_contratos:
            return "max_contratos"
        if self.prazo is not None and time.monotonic() >= self.prazo:
            return "prazo"
        return None


@dataclass
class AbasResult:
    totals: dict[str, AbaTotals]
    contratos: int = 0  # contracts started
    parada: str | None = None  # why the run stopped before the queue ended

    @classmethod
    def para(cls, abas: Sequence[str], devidos: dict[str, int] | None = None) -> AbasResult:
        return cls({a: AbaTotals(devidos=(devidos or {}).get(a, 0)) for a in abas})

    @property
    def falhas(self) -> int:
        return sum(t.falhas for t in self.totals.values())

    @property
    def tarefas(self) -> int:
        return sum(t.sincronizados + t.falhas for t in self.totals.values())


class Progress:
    """The run's progress lines: how far, how fast, per tab."""

    def __init__(self, logger, rotulo: str | None, total: int, every: float):
        self.logger, self.rotulo, self.total, self.every = logger, rotulo, total, every
        self.started = self.last = time.monotonic()

    def maybe_log(self, result: AbasResult) -> None:
        if time.monotonic() - self.last >= self.every:
            self.log(result)

    def log(self, result: AbasResult, final: bool = False) -> None:
        self.last = time.monotonic()
        elapsed = self.last - self.started
        done = result.tarefas
        per_aba = ", ".join(f"{a} {t.sincronizados}/{t.devidos}" for a, t in result.totals.items())
        self.logger.info(
            f"{self.rotulo} abas{' concluídas' if final else ''}: {done}/{self.total} abas de "
            f"contratos em {elapsed:.0f}s ({done / elapsed if elapsed else 0:.1f}/s; {per_aba}; "
            f"{result.falhas} com falha)"
        )
