"""Use case: the due tabs of one UASG — which contracts are due, oldest first, fetched and stored
through the bounded pool (``flows.abas.sync_abas``), and what is still due afterwards.

The caller hands in an empty ``AbasResult`` and gets it filled as the run goes, so after an
interrupt it still knows what was stored (``resumo_da_parada``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.cadencia import CADENCIA_PADRAO, cadencia_padrao
from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.flows.abas import AbasResult, Limites, sync_abas
from licitacao_pipeline.textos import curto
from licitacao_pipeline.uasgs import uasg_label
from licitacao_pipeline.warehouse import abas as sql
from licitacao_pipeline.warehouse import abas_falhas
from licitacao_pipeline.warehouse.contratos import count_active
from licitacao_pipeline.warehouse.unidades import nome as nome_da_unidade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Janela:
    """Which tabs are due: older than their cadence (hours per tab; ``validade_horas``, when
    given, for every tab), changed, never synced — or, with ``completa``, every tab synced
    before the run started. A tab backing off after failures waits in both."""

    validade_horas: float | None = None
    completa: bool = False
    cadencia: Mapping[str, float] = field(default_factory=lambda: dict(CADENCIA_PADRAO))

    def horas(self, aba: str) -> float:
        if self.validade_horas is not None:
            return self.validade_horas
        return self.cadencia.get(aba, cadencia_padrao(aba))

    def por_aba(self) -> dict[str, float]:
        return {a: self.horas(a) for a in {*CADENCIA_PADRAO, *self.cadencia}}

    def kwargs(self) -> dict[str, Any]:
        return {"cadencia": self.por_aba(), "completa": self.completa}


@dataclass
class AbasDaUasg:
    """What a tab run did for one UASG."""

    uasg: str
    resultado: AbasResult
    nome: str | None = None  # capped for display
    rotulo: str = ""
    ativos: int = 0
    pendentes: dict[str, int] = field(default_factory=dict)
    falhando: dict[str, Any] = field(default_factory=dict)  # per tab: total and samples
    cadencia: dict[str, float] = field(default_factory=dict)  # hours per tab, as this run used


def sincronizar_uasg(
    client: ComprasNetClient,
    engine: Engine,
    uasg: str,
    resultado: AbasResult,
    *,
    janela: Janela,
    workers: int,
    limites: Limites,
    run_id: str | None = None,
    logger: logging.Logger | Any = log,
    ao_saber_o_nome: Callable[[str | None], None] | None = None,
) -> AbasDaUasg:
    """Fetch and store the due tabs (``resultado.totals``' keys) of ``uasg``'s contracts."""
    abas: Sequence[str] = list(resultado.totals)
    nome = nome_da_unidade(engine, uasg)
    if ao_saber_o_nome is not None:
        ao_saber_o_nome(nome)
    feito = AbasDaUasg(uasg, resultado, curto(nome) if nome else None, uasg_label(uasg, nome))
    feito.cadencia = janela.por_aba()
    inicio = sql.now(engine)
    with engine.connect() as conn:
        feito.ativos = count_active(conn, uasg)
    devidos = sql.due_counts(engine, uasg, abas, inicio=inicio, **janela.kwargs())
    for aba, n in devidos.items():
        resultado.totals[aba].devidos = n
    logger.info(
        f"{feito.rotulo}: {feito.ativos} contratos ativos; devidos por aba: "
        + ", ".join(f"{a}={n}" for a, n in devidos.items())
    )
    with sql.DueQueue(engine, uasg, abas, inicio=inicio, **janela.kwargs()) as fila:
        sync_abas(
            client,
            engine,
            fila,
            abas,
            uasg=uasg,
            rotulo=feito.rotulo,
            workers=workers,
            limites=limites,
            devidos=devidos,
            run_id=run_id,
            logger=logger,
            result=resultado,
            cadencia=janela.por_aba(),
        )
    feito.pendentes = sql.due_counts(engine, uasg, abas, inicio=inicio, **janela.kwargs())
    feito.falhando = abas_falhas.da_uasg(engine, uasg, abas)
    return feito


def resumo_da_parada(engine: Engine, uasg: str, resultado: AbasResult, janela: Janela) -> str:
    """One line for a stopped tab sync: what this run stored, what is still due."""
    rotulo = uasg_label(uasg, nome_da_unidade(engine, uasg))
    feitas = ", ".join(f"{a} {t.sincronizados}/{t.devidos}" for a, t in resultado.totals.items())
    abas = list(resultado.totals)
    pendentes = sql.due_counts(engine, uasg, abas, inicio=sql.now(engine), **janela.kwargs())
    return (
        f"{rotulo}: parada pedida; abas gravadas nesta execução: {feitas}; ainda devidas: "
        + ", ".join(f"{a} {n}" for a, n in pendentes.items())
        + " (a próxima execução continua daqui)"
    )


def falha_da_execucao(resultado: AbasResult, uasg: str, max_taxa_falhas: float) -> str | None:
    """Why the run must fail after storing its successes, or None."""
    unexpected = sum(t.falhas_inesperadas for t in resultado.totals.values())
    if not unexpected and not (
        resultado.tarefas and resultado.falhas > max_taxa_falhas * resultado.tarefas
    ):
        return None
    first = next(s for t in resultado.totals.values() for s in t.amostras_falhas)
    if unexpected:
        return (
            f"uasg {uasg}: {unexpected} abas de contratos falharam de forma inesperada (os "
            f"sucessos foram gravados); primeira: {first}"
        )
    return (
        f"uasg {uasg}: {resultado.falhas} de {resultado.tarefas} abas de contratos falharam "
        f"após novas tentativas (> {max_taxa_falhas:.0%}); os sucessos foram gravados, as "
        f"falhas serão buscadas de novo no próximo run. Primeira: {first}"
    )
