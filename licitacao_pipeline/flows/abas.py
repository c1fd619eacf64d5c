"""Use case: fetch contracts' tabs (abas) through a bounded worker pool and store them.

- **Bounded.** Work comes from an iterator of ``(contrato_id, abas)`` (the warehouse's due
  queue, read in pages) and at most ``4 x workers`` tab requests are queued or in flight; results
  are written in small batches. Memory does not grow with the number of contracts.
- **Interleaved.** Every due tab of a contract is requested together, so a run cut anywhere
  leaves no tab kind behind.
- **Budgeted.** ``Limites`` ends a run cleanly after N contracts or at a deadline: no new
  contract is started, the requests in flight finish and are stored.
- **Stoppable.** On an interrupt (Terminate, max runtime, SIGINT/SIGTERM) the client is stopped
  at once (no new request, retry waits abort), what already arrived is written, and the
  interrupt goes on. Tab timestamps advance only for what was written, so the next run resumes.
- **Failures** of one contract's tab (after the client's retries) are collected, never raised:
  its timestamp is not advanced. One the server answered for that contract (an HTTP error,
  a bad body) is recorded in ``abas_falhas`` with the batch, so the tab backs off (1 h, 2 h,
  4 h ...) instead of being fetched in every run; a network failure or a 429 stays due for the
  next run. A lost warehouse connection is retried once and then raised (transient: the step
  is retried and resumes).
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from licitacao_pipeline.cadencia import CADENCIA_PADRAO
from licitacao_pipeline.comprasnet.abas import Snapshot, parse_snapshot
from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import (
    ComprasNetBadResponse,
    ComprasNetCancelled,
    ComprasNetError,
    ComprasNetHTTPError,
)
from licitacao_pipeline.flows.abas_resultado import AbasResult, AbaTotals, Limites, Progress
from licitacao_pipeline.textos import curto
from licitacao_pipeline.warehouse import abas_falhas
from licitacao_pipeline.warehouse.abas import write_snapshots
from licitacao_pipeline.warehouse.rejects import SAMPLE_SIZE

log = logging.getLogger(__name__)

BATCH = 32  # contract tabs written per transaction
FLUSH_SECONDS = 2.0  # ... or at least this often, so a slow API still commits steadily
DRAIN_GRACE = 1.0  # after an interrupt: how long to wait for answers already on their way
BUDGET_GRACE = 30.0  # after a budget stop: how long requests in flight may take to finish


_OK, _FAILED, _CANCELLED = "ok", "failed", "cancelled"
_FAILED_HERE = "failed_contract"  # the server's answer for this contract: backs off


def _this_contract(exc: ComprasNetError) -> bool:
    """An error the server gave for this contract's tab, not one of the network or the rate."""
    if isinstance(exc, ComprasNetHTTPError):
        return exc.status is not None and exc.status != 429
    return isinstance(exc, ComprasNetBadResponse)


class _Pool:
    """Daemon worker threads doing only HTTP. Daemon: a thread stuck in a request does not keep
    the process alive once the run has ended; its answer is simply dropped."""

    def __init__(self, client: ComprasNetClient, workers: int):
        self.client = client
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=self._work, name=f"comprasnet-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        while (task := self.tasks.get()) is not None:
            cid, aba = task
            try:
                if self.client.stopped:
                    raise ComprasNetCancelled("stopped")
                self.results.put((cid, aba, _OK, self.client.aba(cid, aba)))
            except ComprasNetCancelled:
                self.results.put((cid, aba, _CANCELLED, None))
            except ComprasNetError as exc:
                if _this_contract(exc):
                    self.results.put((cid, aba, _FAILED_HERE, (str(exc), exc.status)))
                else:
                    self.results.put((cid, aba, _FAILED, str(exc)))
            except Exception as exc:  # a bug, not the API: reported as unexpected
                self.results.put((cid, aba, "unexpected", f"{type(exc).__name__}: {exc}"))

    def close(self) -> None:
        for _ in self.threads:
            self.tasks.put(None)


class _Writer:
    """Writes fetched snapshots in small multi-contract batches; each batch is one transaction
    and the batch is kept until it is committed (an interrupted flush can be flushed again)."""

    def __init__(
        self,
        engine: Engine,
        uasg: str | None,
        run_id: str | None,
        totals,
        logger,
        cadencia: Mapping[str, float] = CADENCIA_PADRAO,
    ):
        self.engine, self.uasg, self.run_id = engine, uasg, run_id
        self.totals, self.logger, self.cadencia = totals, logger, cadencia
        self.pending: dict[str, dict[int, Snapshot]] = {}
        self.failed: list[dict[str, Any]] = []  # failures to record (back-off)
        self.size, self.last = 0, time.monotonic()

    def fail(self, aba: str, cid: int, erro: str, status: int | None) -> None:
        self.failed.append({"contrato_id": cid, "aba": aba, "erro": erro, "status": status})

    def add(self, aba: str, cid: int, records: list[Any], *, flush: bool) -> None:
        self.pending.setdefault(aba, {})[cid] = parse_snapshot(aba, cid, records)
        self.size += 1
        if flush and (self.size >= BATCH or time.monotonic() - self.last >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        if not self.pending and not self.failed:
            return
        try:
            results = self._write_batch()
        except sa.exc.DBAPIError as exc:
            if _connection_lost(exc):
                self.logger.warning(
                    f"conexão com o warehouse perdida ({exc.orig}); gravando de novo"
                )
                results = self._write_batch()  # a second loss propagates (transient)
            else:
                self.logger.warning(f"gravação em lote falhou ({type(exc).__name__}): um a um")
                results = self._write_one_by_one()
        self.pending, self.failed, self.size, self.last = {}, [], 0, time.monotonic()
        for aba, per_contract in results.items():
            self._count(self.totals[aba], per_contract)

    def _write_batch(self):
        with self.engine.begin() as conn:
            # A commit lost in a server crash only means the tab is fetched again next run.
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            results = {}
            for aba, snaps in self.pending.items():
                results[aba] = write_snapshots(conn, aba, snaps, uasg=self.uasg, run_id=self.run_id)
                abas_falhas.limpar(conn, aba, list(snaps))
            abas_falhas.registrar(conn, self.failed, self.cadencia)
            return results

    def _write_one_by_one(self):
        results: dict[str, dict] = {aba: {} for aba in self.pending}
        for aba, snaps in self.pending.items():
            for cid, snapshot in snaps.items():
                try:
                    with self.engine.begin() as conn:
                        results[aba].update(
                            write_snapshots(
                                conn, aba, {cid: snapshot}, uasg=self.uasg, run_id=self.run_id
                            )
                        )
                        abas_falhas.limpar(conn, aba, [cid])
                except sa.exc.DBAPIError as exc:
                    if _connection_lost(exc):
                        raise
                    self.logger.error(f"contrato {cid} {aba}: {type(exc).__name__}: {exc}")
                    self.totals[aba].fail(cid, f"{type(exc).__name__}: {exc}", unexpected=True)
        with self.engine.begin() as conn:
            abas_falhas.registrar(conn, self.failed, self.cadencia)
        return results

    @staticmethod
    def _count(t: AbaTotals, per_contract) -> None:
        for cid, snap in per_contract.items():
            t.sincronizados += 1
            t.linhas += snap.linhas
            t.inseridas += snap.inseridas
            t.atualizadas += snap.atualizadas
            t.removidas += snap.removidas
            t.rejeitadas += len(snap.rejeitadas)
            for r in snap.rejeitadas[: SAMPLE_SIZE - len(t.amostras_rejeitadas)]:
                t.amostras_rejeitadas.append(
                    {"contrato_id": cid, "record_id": r["record_id"], "reason": curto(r["reason"])}
                )


def _connection_lost(exc: sa.exc.DBAPIError) -> bool:
    return exc.connection_invalidated or isinstance(
        exc, (sa.exc.OperationalError, sa.exc.InterfaceError)
    )


def sync_abas(
    client: ComprasNetClient,
    engine: Engine,
    work: Iterable[tuple[int, Sequence[str]]],
    abas: Sequence[str],
    *,
    uasg: str | None = None,
    rotulo: str | None = None,
    workers: int,
    limites: Limites | None = None,
    devidos: dict[str, int] | None = None,
    run_id: str | None = None,
    logger: logging.Logger | Any = log,
    progress_seconds: float = 10.0,
    result: AbasResult | None = None,
    cadencia: Mapping[str, float] = CADENCIA_PADRAO,
) -> AbasResult:
    """Fetch and store ``abas`` of each ``(contrato_id, due abas)`` from ``work``, in order.
    ``rotulo`` names the UASG in progress logs; ``result``, when given, is filled as the run
    goes (the caller still has it after an interrupt); ``cadencia`` (hours per tab) caps the
    back-off of a tab that keeps failing.

    Returns the totals per tab; raises only on an interrupt (after writing what arrived) or a
    warehouse that stays unreachable.
    """
    limites = limites or Limites()
    result = result or AbasResult.para(abas, devidos)
    writer = _Writer(engine, uasg, run_id, result.totals, logger, cadencia)
    progress = Progress(logger, rotulo or uasg, sum((devidos or {}).values()), progress_seconds)
    pool = _Pool(client, workers)
    contracts: Iterator = iter(work)
    queued: collections.deque = collections.deque()
    in_flight, capacity, stopping_since = 0, 4 * workers, None
    try:
        while True:
            while result.parada is None and in_flight < capacity:
                if not queued:
                    result.parada = limites.reached(result.contratos)
                    item = None if result.parada else next(contracts, None)
                    if item is None:
                        break
                    result.contratos += 1
                    queued.extend((item[0], aba) for aba in item[1])
                    continue
                pool.tasks.put(queued.popleft())
                in_flight += 1
            if in_flight == 0:
                break
            if result.parada and stopping_since is None:
                stopping_since = time.monotonic()
                logger.info(f"abas: orçamento atingido ({result.parada}); terminando {in_flight}")
            if stopping_since and time.monotonic() - stopping_since > BUDGET_GRACE:
                client.stop()  # requests stuck in retries give up; they stay due
            try:
                answer = pool.results.get(timeout=0.5)
            except queue.Empty:
                progress.maybe_log(result)
                continue
            in_flight -= 1
            _handle(answer, writer, result)
            progress.maybe_log(result)
        writer.flush()
    except BaseException:
        client.stop()  # from here on no request leaves this process
        _drain(pool, writer, result, in_flight)
        raise
    finally:
        pool.close()
    progress.log(result, final=True)
    return result


def _handle(answer, writer: _Writer, result: AbasResult, flush: bool = True) -> None:
    cid, aba, status, payload = answer
    if status == _OK:
        writer.add(aba, cid, payload, flush=flush)
    elif status == _CANCELLED and result.parada:
        pass  # we stopped the client (budget): the tab stays due for the next run
    elif status == _CANCELLED:  # stopped by someone else: never a silent success
        result.totals[aba].fail(cid, "requisição cancelada: o cliente foi parado", unexpected=True)
    elif status == _FAILED_HERE:
        erro, http_status = payload
        result.totals[aba].fail(cid, erro, unexpected=False)
        writer.fail(aba, cid, erro, http_status)
    else:
        result.totals[aba].fail(cid, payload, unexpected=status != _FAILED)


def _drain(pool: _Pool, writer: _Writer, result: AbasResult, in_flight: int) -> None:
    """After an interrupt or an error: keep the answers already here (or arriving within a
    second), in one last write that never hides the original exception."""
    deadline = time.monotonic() + DRAIN_GRACE
    try:
        while in_flight > 0:
            answer = pool.results.get(timeout=max(0.0, deadline - time.monotonic()))
            in_flight -= 1
            _handle(answer, writer, result, flush=False)
    except queue.Empty:
        pass
    try:
        writer.flush()
    except Exception as exc:  # what is not written stays due for the next run
        writer.logger.warning(f"abas: não foi possível gravar as últimas respostas: {exc}")
