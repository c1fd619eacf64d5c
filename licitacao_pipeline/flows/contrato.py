"""Use case: refresh one contract and the tabs a user asked for (the old "load the tab when
the user opens it"), under the same rules as the UASG sync."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import ComprasNetNotFound
from licitacao_pipeline.comprasnet.json_stream import Unreadable
from licitacao_pipeline.comprasnet.parsing import RecordError, parse_contrato, uasg_of
from licitacao_pipeline.errors import Recusado
from licitacao_pipeline.flows.abas import AbasResult, sync_abas
from licitacao_pipeline.flows.contratos import Janela
from licitacao_pipeline.warehouse import alteracoes
from licitacao_pipeline.warehouse import contratos as sql

log = logging.getLogger(__name__)


class ContratoRecusado(Recusado):
    """The contract cannot be refreshed as asked (unknown, malformed, other UASG, not tracked);
    trying again will not help."""


@dataclass
class ContratoResult:
    contrato: str  # "inserted", "updated" or "unchanged"
    abas: AbasResult

    def resumo(self, contrato_id: int, uasg: str) -> dict[str, Any]:
        """What was refreshed, per tab: rows, inserted, updated, removed."""
        return {
            "contrato_id": contrato_id,
            "uasg": uasg,
            "contrato": self.contrato,
            **{
                f"{a}_{k}": getattr(t, k)
                for a, t in self.abas.totals.items()
                for k in ("linhas", "inseridas", "atualizadas", "removidas")
            },
        }

    def falhas(self) -> dict[str, list]:
        """The tabs that failed after the client's retries, with samples."""
        return {a: t.amostras_falhas for a, t in self.abas.totals.items() if t.falhas}


def escolher_abas(pedidas: Sequence[str]) -> list[str]:
    """The tabs asked for, in the usual order; an unknown one (or none) is refused."""
    unknown = sorted(set(pedidas) - set(ABAS))
    if unknown or not pedidas:
        raise ContratoRecusado(
            f"aba(s) desconhecida(s) {unknown or list(pedidas)}: escolha entre {', '.join(ABAS)}"
        )
    return [a for a in ABAS if a in pedidas]


def sync_contrato(
    client: ComprasNetClient,
    engine: Engine,
    contrato_id: int,
    uasg: str,
    abas: Sequence[str],
    *,
    janela: Janela,
    run_id: str | None = None,
    logger: logging.Logger | Any = log,
) -> ContratoResult:
    """Fetch ``/api/contrato/id/{id}`` fresh, store it, then fetch and store ``abas``."""
    try:
        record = client.contrato(contrato_id)
    except ComprasNetNotFound:
        raise ContratoRecusado(
            f"contrato {contrato_id} não existe no ComprasNet "
            f"({client.base_url}/api/contrato/id/{contrato_id} respondeu 404)"
        ) from None
    if isinstance(record, Unreadable):
        raise ContratoRecusado(f"contrato {contrato_id} está malformado na origem: {record.reason}")
    with engine.connect() as conn:
        owner = sql.contrato_uasg(conn, contrato_id) or uasg_of(record)
    if owner != uasg:
        raise ContratoRecusado(
            f"contrato {contrato_id} pertence à UASG {owner}, mas este run é da UASG {uasg}: "
            f"lance-o para a partição {owner}"
        )
    try:
        row = parse_contrato(record, uasg)
    except RecordError as exc:
        raise ContratoRecusado(f"contrato {contrato_id} está malformado na origem: {exc}") from exc
    if not janela.keeps(row["vigencia_fim"]):
        raise ContratoRecusado(
            f"contrato {contrato_id}: a vigência terminou em {row['vigencia_fim']}, há mais de "
            f"{janela.dias} dias, então o warehouse não o acompanha; ajuste "
            "vigencia_janela_dias (null mantém todos) para buscá-lo mesmo assim"
        )
    with engine.begin() as conn:
        sql.lock_uasg(conn, uasg)
        change = sql.upsert_contrato(conn, row, alteracoes.visto(conn, uasg, run_id))
    result = sync_abas(
        client,
        engine,
        [(contrato_id, tuple(abas))],
        abas,
        uasg=uasg,
        workers=len(abas),
        devidos={a: 1 for a in abas},
        run_id=run_id,
        logger=logger,
    )
    return ContratoResult(change, result)
