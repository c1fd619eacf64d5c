"""Use case: one UASG's listing — the active and inactive listings downloaded side by side, their
records stored in one transaction (``flows.contratos.sync_contratos``), then what the asset
checks look at: the stored contracts that break a rule, and how many are stored."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.flows.contratos import ContratosSyncResult, Janela, sync_contratos
from licitacao_pipeline.warehouse.checks import offending_ids
from licitacao_pipeline.warehouse.contratos import count_active

log = logging.getLogger(__name__)
VERIFICACOES_SQL = ("ids_unicos", "valores_nao_negativos", "vigencia_coerente")


@dataclass
class Listagem:
    resultado: ContratosSyncResult
    armazenados: int  # contracts stored and not removed, after the sync
    violacoes: dict[str, list[int]] = field(default_factory=dict)  # check -> offending ids


def sincronizar_listagem(
    client: ComprasNetClient,
    engine: Engine,
    uasg: str,
    *,
    janela: Janela,
    max_taxa_rejeicao: float,
    max_taxa_remocao: float,
    run_id: str | None = None,
    logger: logging.Logger | Any = log,
    ao_gravar: Callable[[], None] | None = None,
) -> Listagem:
    """Download and store ``uasg``'s listings; ``ao_gravar`` is called once they committed."""
    with contextlib.ExitStack() as stack:
        listings = client.listagens(uasg)
        for listing, kind in zip(listings, ("ativos", "inativos"), strict=True):
            stack.callback(listing.close)
            logger.info(f"uasg {uasg}: a listagem de {kind} tem {listing.count} registros")
        resultado = sync_contratos(
            engine,
            uasg,
            (record for listing in listings for record in listing),
            janela=janela,
            max_taxa_rejeicao=max_taxa_rejeicao,
            max_taxa_remocao=max_taxa_remocao,
            run_id=run_id,
        )
    if ao_gravar is not None:
        ao_gravar()
    with engine.connect() as conn:
        violacoes = {n: offending_ids(conn, n, uasg) for n in VERIFICACOES_SQL}
        return Listagem(resultado, count_active(conn, uasg), violacoes)


def resumo_da_parada(uasg: str, gravado: bool) -> str:
    """One line for a listing stopped by Terminate, max runtime or a signal."""
    if gravado:
        return (
            f"uasg {uasg}: parada pedida depois de gravar a listagem; as abas ficam para a próxima"
        )
    return (
        f"uasg {uasg}: parada pedida durante a listagem; nada foi gravado (a listagem é gravada "
        "numa transação só; a próxima execução recomeça)"
    )
