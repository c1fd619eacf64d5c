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
from licitacao_pipeline.warehouse.tabs_sync import write_snapshot

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


def _one(client: ComprasNetClient, engine: Engine, contrato_id: int, tab: str, run_id: str | None):
    records = client.tab(contrato_id, tab)
    with engine.begin() as conn:
        return write_snapshot(conn, contrato_id, tab, records, run_id)


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
    started, done, step = time.monotonic(), 0, max(1, len(tasks) // 10)
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="comprasnet") as pool:
        futures = {
            pool.submit(_one, client, engine, cid, tab, run_id): (cid, tab) for cid, tab in tasks
        }
        for future in as_completed(futures):
            cid, tab = futures[future]
            t = totals[tab]
            done += 1
            try:
                snap = future.result()
            except ComprasNetError as exc:
                t.failures.append({"contrato_id": cid, "error": str(exc)[:500]})
            except Exception as exc:  # a bug or DB fault: recorded, and the caller fails the run
                logger.error(f"contrato {cid} {tab}: unexpected {type(exc).__name__}: {exc}")
                t.failures.append(
                    {
                        "contrato_id": cid,
                        "error": f"{type(exc).__name__}: {exc}"[:500],
                        "unexpected": True,
                    }
                )
            else:
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
            if done % step == 0 or done == len(tasks):
                logger.info(
                    f"tabs: {done}/{len(tasks)} contract tabs done "
                    f"({time.monotonic() - started:.1f}s)"
                )
    return totals
