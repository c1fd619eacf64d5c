"""Use case: one UASG's listing (active + inactive records) into ``contratos``, one transaction.

Records are read as a stream and handled in batches, so memory does not grow with the UASG:
for each batch the stored versions are looked up, and

- a record whose content hash equals the stored one is not parsed again (the hash includes the
  parser version, so a parser fix re-parses everything once); it is still checked against the
  vigência window with the stored ``vigencia_fim``;
- a changed or new record is parsed; a malformed one is rejected (recorded, counted) and its
  stored version kept; one outside the window is counted as filtered;
- the rest is written with the changed-only upsert.

Then contracts that left the listing get ``removido_em`` (motivo ``ausente_da_listagem``) and
stored ones that fell out of the window get it too (``fora_da_janela_de_vigencia``): a contract
no longer tracked stops being synced, and comes back if the window is widened. Two syncs of one
UASG are serialized by an advisory lock, so even runs that bypass the run queue cannot
interleave.

Every field that changed (insertions, removals and reappearances included) goes to the history
``contratos_alteracoes`` in the same transaction (``warehouse.alteracoes``): a failed run
records nothing, and a sync that changes nothing records nothing.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.parsing import (
    RecordError,
    content_hash,
    parse_contrato,
    record_id,
    unidade_of,
    within_vigencia,
)
from licitacao_pipeline.errors import Recusado
from licitacao_pipeline.textos import curto
from licitacao_pipeline.warehouse import alteracoes
from licitacao_pipeline.warehouse import contratos as sql
from licitacao_pipeline.warehouse.rejects import SAMPLE_SIZE, RejectLog

log = logging.getLogger(__name__)
BATCH = 1000


CONTAGENS = (
    "listados",
    "inseridos",
    "atualizados",
    "inalterados",
    "removidos",
    "removidos_fora_da_janela",
    "rejeitados",
    "filtrados_por_vigencia",
    "duplicados",
)


class SyncAborted(Recusado):
    """The partition's data was not committed because a safety threshold was crossed."""


@dataclass
class ContratosSyncResult:
    listados: int = 0
    duplicados: int = 0
    rejeitados: int = 0
    filtrados_por_vigencia: int = 0
    inalterados: int = 0
    inseridos: int = 0
    atualizados: int = 0
    removidos: int = 0
    removidos_fora_da_janela: int = 0
    unidade: dict[str, Any] | None = None
    amostras_rejeitados: list[dict[str, Any]] = field(default_factory=list)
    amostras_filtrados: list[dict[str, Any]] = field(default_factory=list)
    ids_duplicados: list[int] = field(default_factory=list)
    alteracoes: alteracoes.Resumo = field(default_factory=alteracoes.Resumo)

    @property
    def linhas_escritas(self) -> int:
        return self.inseridos + self.atualizados + self.removidos + self.removidos_fora_da_janela

    @property
    def taxa_rejeicao(self) -> float:
        return self.rejeitados / self.listados if self.listados else 0.0

    def contagens(self) -> dict[str, int]:
        """The counts, in the order people read them."""
        return {k: getattr(self, k) for k in CONTAGENS}


@dataclass(frozen=True)
class Janela:
    """The vigência window: keep contracts whose vigência ended at most ``dias`` before
    ``hoje`` (``dias`` None keeps all)."""

    hoje: date
    dias: int | None

    def keeps(self, vigencia_fim: date | None) -> bool:
        return within_vigencia({"vigencia_fim": vigencia_fim}, self.hoje, self.dias)


def sync_contratos(
    engine: Engine,
    uasg: str,
    records: Iterable[Any],
    *,
    janela: Janela,
    max_taxa_rejeicao: float,
    max_taxa_remocao: float,
    run_id: str | None = None,
    progress_every: int = 5000,
    registrar_alteracoes: bool = True,
) -> ContratosSyncResult:
    """Parse, filter and upsert ``records``; raises SyncAborted (nothing written) on a
    threshold. ``registrar_alteracoes=False`` skips the change history (to measure its cost)."""
    result = ContratosSyncResult()
    rejects = RejectLog(engine, "contratos", run_id=run_id, uasg=uasg)
    stream = iter(records)
    try:
        with engine.begin() as conn:
            sql.lock_uasg(conn, uasg)
            visto = alteracoes.visto(conn, uasg, run_id) if registrar_alteracoes else None
            sql.create_seen_table(conn)
            while batch := list(itertools.islice(stream, BATCH)):
                _sync_batch(conn, uasg, batch, janela, result, rejects, visto)
                if result.listados // progress_every != (result.listados - len(batch)) // (
                    progress_every
                ):
                    log.info("uasg %s: %d registros lidos", uasg, result.listados)
            rejects.flush()
            result.rejeitados = rejects.count
            result.amostras_rejeitados = rejects.samples
            if result.taxa_rejeicao > max_taxa_rejeicao:
                raise SyncAborted(
                    f"uasg {uasg}: {result.rejeitados} de {result.listados} registros rejeitados "
                    f"({result.taxa_rejeicao:.1%} > máx. {max_taxa_rejeicao:.1%}); nenhum contrato "
                    "gravado (os rejeitados foram registrados em rejected_records). "
                    f"Amostras: {result.amostras_rejeitados[:3]}"
                )
            active = sql.count_active(conn, uasg)
            vanishing = sql.count_vanished(conn, uasg)
            if active and vanishing > max_taxa_remocao * active:
                raise SyncAborted(
                    f"uasg {uasg}: {vanishing} de {active} contratos gravados sumiram da "
                    f"listagem (> {max_taxa_remocao:.0%}); eles não serão marcados como "
                    "removidos. Se for real, rode de novo com um max_taxa_remocao maior."
                )
            result.removidos, result.removidos_fora_da_janela = sql.mark_removed(conn, uasg, visto)
            if result.unidade:
                sql.upsert_unidade(conn, result.unidade)
            if visto:
                result.alteracoes = alteracoes.resumo(conn, uasg, visto)
    finally:
        rejects.flush()
    return result


def _sync_batch(conn, uasg, batch, janela, result, rejects, visto) -> None:
    result.listados += len(batch)
    if result.unidade is None:
        unidade = next((u for r in batch if (u := unidade_of(r))), None)
        result.unidade = unidade if unidade and unidade["codigo"] == uasg else None
    keyed: dict[int, Any] = {}
    anonymous = []  # no usable id: rejected by the parser below
    for record in batch:
        rid = record_id(record)
        if rid is None:
            anonymous.append((None, record))
        elif rid in keyed:
            _duplicate(result, rid)
        else:
            keyed[rid] = record
    first_time = sql.mark_seen(conn, list(keyed))
    for rid in keyed.keys() - first_time:  # listed in an earlier batch
        _duplicate(result, rid)
    stored = sql.stored_versions(conn, list(first_time))
    fora, rows = [], []
    for rid, record in [(i, r) for i, r in keyed.items() if i in first_time] + anonymous:
        digest = content_hash(record) if isinstance(record, dict) else None
        old = stored.get(rid)
        if old is not None and old.active and old.payload_hash == digest:
            if janela.keeps(old.vigencia_fim):
                result.inalterados += 1
            else:
                fora.append(rid)
                _filtered(result, rid, _numero(record), old.vigencia_fim)
            continue
        try:  # a malformed record is rejected; its stored version (if any) is kept as it is
            row = parse_contrato(record, uasg, digest)
        except RecordError as exc:
            rejects.add(rid, str(exc), record)
            continue
        if janela.keeps(row["vigencia_fim"]):
            rows.append(row)
        else:
            fora.append(row["id"])
            _filtered(result, row["id"], row["numero"], row["vigencia_fim"])
    sql.set_fora(conn, fora)
    inserted, updated = sql.upsert_contratos(conn, rows, visto)
    result.inseridos += inserted
    result.atualizados += updated
    result.inalterados += len(rows) - inserted - updated


def _duplicate(result: ContratosSyncResult, rid: int) -> None:
    result.duplicados += 1
    if len(result.ids_duplicados) < SAMPLE_SIZE:
        result.ids_duplicados.append(rid)


def _numero(record: Any) -> str | None:
    numero = record.get("numero")
    return curto(numero, 40) if isinstance(numero, str) else None


def _filtered(result: ContratosSyncResult, rid: int, numero: Any, fim: date | None) -> None:
    result.filtrados_por_vigencia += 1
    if len(result.amostras_filtrados) < SAMPLE_SIZE:
        result.amostras_filtrados.append({"id": rid, "numero": numero, "vigencia_fim": str(fim)})
