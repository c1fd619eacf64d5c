"""Asset ``contratos``: one UASG's contracts (active + inactive listings) in PostgreSQL."""

import contextlib
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from licitacao_pipeline.assets.checks import offending_ids
from licitacao_pipeline.assets.retries import transient_only
from licitacao_pipeline.config import TIMEZONE
from licitacao_pipeline.partitions import uasg_partitions
from licitacao_pipeline.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.warehouse.contratos_sync import sync_contratos

CHECKS = {
    "ids_unicos": "Each contract id appears once in the listing and matches its payload.",
    "valores_nao_negativos": "valor_inicial, valor_global and valor_parcela are never negative.",
    "vigencia_coerente": "vigencia_fim is not before vigencia_inicio.",
    "taxa_rejeicao": "No listing record was rejected as malformed (ratio in metadata).",
}


def local_today() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


class ContratosConfig(dg.Config):
    vigencia_janela_dias: int | None = 730
    """Keep contracts whose vigência ended at most this many days ago (None keeps all)."""
    max_reject_ratio: float = 0.05
    """Fail the run, writing nothing, when more than this share of records is malformed."""
    max_removed_ratio: float = 0.5
    """Fail instead of marking removed when more than this share of stored contracts vanished."""


@dg.asset(
    partitions_def=uasg_partitions,
    group_name="contratos",
    kinds={"postgres", "python"},
    pool="comprasnet",
    check_specs=[
        dg.AssetCheckSpec(name, asset="contratos", description=desc, partitions_def=uasg_partitions)
        for name, desc in CHECKS.items()
    ],
    description=__doc__,
)
def contratos(
    context: dg.AssetExecutionContext,
    config: ContratosConfig,
    comprasnet: ComprasNetResource,
    warehouse: WarehouseResource,
):
    uasg = context.partition_key
    started = time.monotonic()
    client = comprasnet.client
    engine = warehouse.get_engine()
    context.log.info("uasg %s: downloading active and inactive listings", uasg)
    listings = []
    with transient_only(context), contextlib.ExitStack() as stack:
        for inativo in (False, True):
            listing = client.contratos(uasg, inativo=inativo)
            stack.callback(listing.close)
            listings.append(listing)
            context.log.info(
                "uasg %s: %s listing has %d records",
                uasg,
                "inactive" if inativo else "active",
                listing.count,
            )
        result = sync_contratos(
            engine,
            uasg,
            (record for listing in listings for record in listing),
            today=local_today(),
            janela_dias=config.vigencia_janela_dias,
            max_reject_ratio=config.max_reject_ratio,
            max_removed_ratio=config.max_removed_ratio,
            run_id=context.run.run_id,
        )
    stats = client.stats.snapshot()
    duration = time.monotonic() - started
    context.log.info(
        "uasg %s: %d inserted, %d updated, %d unchanged, %d removed, %d rejected, %d filtered "
        "in %.1fs",
        uasg,
        result.inserted,
        result.updated,
        result.unchanged,
        result.removed,
        result.rejected,
        result.filtered,
        duration,
    )
    with engine.connect() as conn:
        bad = {name: offending_ids(conn, name, uasg) for name in CHECKS if name != "taxa_rejeicao"}
    dup_ok = result.duplicates == 0 and not bad["ids_unicos"]
    yield dg.MaterializeResult(
        metadata={
            "uasg": uasg,
            "listed": result.listed,
            "kept": result.kept,
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "removed": result.removed,
            "rejected": result.rejected,
            "filtered_by_vigencia": result.filtered,
            "duplicates": result.duplicates,
            "rows_written": result.rows_written,
            "requests": stats["requests"],
            "retries": stats["retries"],
            "bytes": stats["bytes"],
            "duration_s": round(duration, 3),
            "vigencia_janela_dias": config.vigencia_janela_dias
            if config.vigencia_janela_dias is not None
            else "all",
            "reject_samples": result.reject_samples,
            "filtered_samples": result.filtered_samples,
        }
    )
    yield dg.AssetCheckResult(
        check_name="ids_unicos",
        passed=dup_ok,
        metadata={
            "duplicates_in_listing": result.duplicates,
            "duplicate_ids": result.duplicate_ids,
            "payload_id_mismatch": bad["ids_unicos"],
        },
    )
    for name in ("valores_nao_negativos", "vigencia_coerente"):
        yield dg.AssetCheckResult(
            check_name=name, passed=not bad[name], metadata={"offending_ids": bad[name]}
        )
    yield dg.AssetCheckResult(
        check_name="taxa_rejeicao",
        passed=result.rejected == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected": result.rejected,
            "reject_ratio": round(result.reject_ratio, 4),
            "max_reject_ratio": config.max_reject_ratio,
            "samples": result.reject_samples,
        },
    )
