"""Jobs: scheduled and full syncs, the on-demand sync of one contract's tabs, cleanup."""

import time

import dagster as dg
import sqlalchemy as sa

from licitacao_pipeline.assets.tabs import TAB_KEYS
from licitacao_pipeline.cleanup import limpar_registros_antigos
from licitacao_pipeline.comprasnet.errors import ComprasNetNotFound
from licitacao_pipeline.comprasnet.parsing import RecordError, parse_contrato
from licitacao_pipeline.comprasnet.tabs import TABS
from licitacao_pipeline.partitions import uasg_partitions
from licitacao_pipeline.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.sync.tabs import sync_tabs
from licitacao_pipeline.warehouse.contratos_sync import upsert_contrato
from licitacao_pipeline.warehouse.tables import contratos as contratos_table


class SyncContratoConfig(dg.Config):
    contrato_id: int
    """The ComprasNet contract id (the ``id`` field, e.g. 123456)."""
    tabs: list[str] = list(TABS)
    """Which tabs to refresh: any of historico, empenhos, itens, arquivos."""


def _uasg_of(record: dict) -> str | None:
    ug = ((record.get("contratante") or {}).get("orgao") or {}).get("unidade_gestora") or {}
    return ug.get("codigo")


@dg.op(pool="comprasnet", description="Fetch one contract fresh and refresh only the chosen tabs.")
def sync_contrato_tabs(
    context: dg.OpExecutionContext,
    config: SyncContratoConfig,
    comprasnet: ComprasNetResource,
    warehouse: WarehouseResource,
) -> dg.Output[dict]:
    started = time.monotonic()
    unknown = sorted(set(config.tabs) - set(TABS))
    if unknown or not config.tabs:
        raise dg.Failure(
            f"unknown tab(s) {unknown or config.tabs}: choose from {', '.join(TABS)}",
            allow_retries=False,
        )
    tabs = [t for t in TABS if t in config.tabs]
    cid, uasg = config.contrato_id, context.partition_key
    client, engine = comprasnet.client, warehouse.get_engine()
    try:
        record = client.contrato(cid)
    except ComprasNetNotFound:
        raise dg.Failure(
            f"contrato {cid} does not exist at ComprasNet ({client.base_url}/api/contrato/id/{cid}"
            " answered 404)",
            allow_retries=False,
        ) from None
    with engine.connect() as conn:
        stored_uasg = conn.execute(
            sa.select(contratos_table.c.uasg).where(contratos_table.c.id == cid)
        ).scalar_one_or_none()
    owner = stored_uasg or _uasg_of(record)
    if owner != uasg:
        raise dg.Failure(
            f"contrato {cid} belongs to UASG {owner}, but this run is for UASG {uasg}: "
            f"launch it for partition {owner}",
            allow_retries=False,
        )
    try:
        row = parse_contrato(record, uasg)
    except RecordError as exc:
        raise dg.Failure(
            f"contrato {cid} is malformed at the source: {exc}", allow_retries=False
        ) from exc
    with engine.begin() as conn:
        contrato_change = upsert_contrato(conn, row)
    totals = sync_tabs(
        client, engine, {t: [cid] for t in tabs}, run_id=context.run.run_id, logger=context.log
    )
    stats = client.stats.snapshot()
    for tab in tabs:
        context.log_event(
            dg.AssetObservation(
                asset_key=TAB_KEYS[tab],
                partition=uasg,
                metadata={"contrato_id": cid, "on_demand": True, **totals[tab].metadata()},
            )
        )
    failures = {t: totals[t].failures for t in tabs if totals[t].failures}
    if failures:
        raise dg.Failure(f"contrato {cid}: tabs failed after retries: {failures}")
    summary = {
        "contrato_id": cid,
        "uasg": uasg,
        "contrato": contrato_change,
        **{
            f"{t}_{k}": getattr(totals[t], k)
            for t in tabs
            for k in ("rows", "inserted", "updated", "removed")
        },
    }
    context.log.info(f"contrato {cid}: refreshed {', '.join(tabs)}: {summary}")
    return dg.Output(
        summary,
        metadata={
            **summary,
            "tabs": tabs,
            "requests": stats["requests"],
            "duration_s": round(time.monotonic() - started, 3),
        },
    )


@dg.job(
    partitions_def=uasg_partitions,
    tags={"dagster/priority": "10", "dagster/max_runtime": "900", "licitacao/kind": "on-demand"},
    description="On-demand refresh of one contract's tabs. Pick the contract's UASG as partition.",
)
def sync_contrato():
    sync_contrato_tabs()


TAGS_SCHEDULED = {
    "dagster/priority": "0",
    "dagster/max_runtime": "3600",
    "licitacao/kind": "scheduled",
}
TAGS_FULL = {
    "dagster/priority": "-10",
    "dagster/max_runtime": "14400",
    "licitacao/kind": "full-sync",
}

sincronizar_contratos = dg.define_asset_job(
    "sincronizar_contratos",
    selection=dg.AssetSelection.assets("contratos"),
    tags=TAGS_SCHEDULED,
    description="Daily sync of one UASG's listing; its tabs follow through automation.",
)

sincronizacao_completa = dg.define_asset_job(
    "sincronizacao_completa",
    selection=dg.AssetSelection.assets("contratos", *TAB_KEYS.values()),
    tags=TAGS_FULL,
    config={"ops": {"contratos_abas": {"config": {"full_refresh": True}}}},
    description="Nightly full sync of one UASG: listing and every tab of every contract.",
)


@dg.job(tags={"dagster/priority": "-20", "licitacao/kind": "maintenance"})
def limpeza():
    """Remove old runs, their logs and old export files."""
    limpar_registros_antigos()
