"""Fetch contract tabs through a bounded worker pool and write each as a per-contract snapshot."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.comprasnet.errors import ComprasNetError
from licitacao_pipeline.warehouse.rejects import SAMPLE_SIZE
from licitacao_pipeline.warehouse.tabs_sync import write_snapshot, write_snapshots

log = logging.getLogger(__name__)


@dataclass
class TabTotals:
    """What one run did to one tab."""

    considered: int = 0
    fetched: int = 0
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    removed: int = 0
    rejected: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    reject_samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def metadata(self) -> dict[str, Any]:
        return {
            "contracts_fetched": self.fetched,
            "contracts_failed": self.failed,
            "rows": self.rows,
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "rows_removed": self.removed,
            "rows_rejected": self.rejected,
            "failures": self.failures[:50],
            "reject_samples": self.reject_samples,
        }


BATCH = 32  # contract tabs written per transaction


class _Writer:
    """Writes fetched snapshots from the coordinating thread in small multi-contract batches,
    so the worker threads only do HTTP. Each contract's snapshot is inside one transaction."""

    def __init__(self, engine: Engine, run_id: str | None, totals: dict[str, TabTotals], logger):
        self.engine, self.run_id, self.totals, self.logger = engine, run_id, totals, logger
        self.pending: dict[str, dict[int, list[Any]]] = {}
        self.size = 0

    def add(self, tab: str, cid: int, records: list[Any]) -> None:
        self.pending.setdefault(tab, {})[cid] = records
        self.size += 1
        if self.size >= BATCH:
            self.flush()

    def flush(self) -> None:
        pending, self.pending, self.size = self.pending, {}, 0
        if not pending:
            return
        try:
            with self.engine.begin() as conn:
                # A commit lost in a server crash only means the tab is fetched again next run.
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                results = {
                    t: write_snapshots(conn, t, snaps, self.run_id) for t, snaps in pending.items()
                }
        except Exception as exc:  # isolate the culprit: one transaction per contract
            self.logger.warning(f"batch write failed ({type(exc).__name__}); writing one by one")
            results = {t: {} for t in pending}
            for tab, snaps in pending.items():
                for cid, records in snaps.items():
                    try:
                        with self.engine.begin() as conn:
                            results[tab][cid] = write_snapshot(conn, cid, tab, records, self.run_id)
                    except Exception as one:
                        self.logger.error(f"contrato {cid} {tab}: {type(one).__name__}: {one}")
                        self.totals[tab].failures.append(
                            {
                                "contrato_id": cid,
                                "error": f"{type(one).__name__}: {one}"[:500],
                                "unexpected": True,
                            }
                        )
        for tab, per_contract in results.items():
            t = self.totals[tab]
            for cid, snap in per_contract.items():
                t.fetched += 1
                t.rows += snap.rows
                t.inserted += snap.inserted
                t.updated += snap.updated
                t.removed += snap.removed
                t.rejected += len(snap.rejects)
                for r in snap.rejects[: SAMPLE_SIZE - len(t.reject_samples)]:
                    t.reject_samples.append(
                        {"contrato_id": cid, "record_id": r["record_id"], "reason": r["reason"]}
                    )


def sync_tabs(
    client: ComprasNetClient,
    engine: Engine,
    due: Mapping[str, Sequence[int]],
    *,
    max_workers: int = 8,
    run_id: str | None = None,
    logger: logging.Logger | Any = log,
) -> dict[str, TabTotals]:
    """Sync ``due[tab]`` contracts for each tab; failures are collected, never raised here.

    A failed contract's tab timestamp is not advanced, so the next run picks it up again.
    """
    totals = {tab: TabTotals(considered=len(ids)) for tab, ids in due.items()}
    tasks = [(cid, tab) for tab, ids in due.items() for cid in ids]
    if not tasks:
        return totals
    writer = _Writer(engine, run_id, totals, logger)
    started, done, step = time.monotonic(), 0, max(1, len(tasks) // 10)
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="comprasnet") as pool:
        futures = {pool.submit(client.tab, cid, tab): (cid, tab) for cid, tab in tasks}
        for future in as_completed(futures):
            cid, tab = futures[future]
            done += 1
            try:
                writer.add(tab, cid, future.result())
            except ComprasNetError as exc:
                totals[tab].failures.append({"contrato_id": cid, "error": str(exc)[:500]})
            if done % step == 0 or done == len(tasks):
                writer.flush()
                logger.info(
                    f"tabs: {done}/{len(tasks)} contract tabs done "
                    f"({time.monotonic() - started:.1f}s)"
                )
    writer.flush()
    return totals
