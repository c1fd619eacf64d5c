"""Assets ``contratos_historico``, ``_empenhos``, ``_itens`` and ``_arquivos`` (one per tab).

One multi-asset so a run shares one bounded worker pool across the selected tabs (subsettable:
any tab can be materialized alone). Only contracts whose tab is due are fetched: new contracts,
contracts whose listing record changed after the tab was synced, and tabs older than the
staleness window.
"""

import time
from datetime import timedelta

import dagster as dg

from licitacao_pipeline.assets.contratos import contratos
from licitacao_pipeline.assets.retries import transient_only
from licitacao_pipeline.comprasnet.tabs import TABS
from licitacao_pipeline.partitions import uasg_partitions
from licitacao_pipeline.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.sync.tabs import sync_tabs
from licitacao_pipeline.warehouse.tabs_sync import active_contracts, contracts_due

TAB_KEYS = {tab: dg.AssetKey(f"contratos_{tab}") for tab in TABS}


class TabsConfig(dg.Config):
    full_refresh: bool = False
    """Fetch every tab of every contract, due or not."""
    staleness_hours: float = 24.0
    """A tab synced longer ago than this is fetched again even if the contract did not change."""
    max_failure_ratio: float = 0.5
    """Fail the run (after committing the successes) when more contracts than this share fail."""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            deps=[contratos],
            group_name="contratos",
            kinds={"postgres", "python"},
            automation_condition=dg.AutomationCondition.eager(),
            description=f"The '{tab}' tab of every contract of the UASG, one row per record.",
        )
        for tab, key in TAB_KEYS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "sem_falhas",
            asset=key,
            description="Every due contract's tab was fetched and stored.",
            partitions_def=uasg_partitions,
        )
        for key in TAB_KEYS.values()
    ],
    partitions_def=uasg_partitions,
    can_subset=True,
    pool="comprasnet",
    name="contratos_abas",
)
def contratos_abas(
    context: dg.AssetExecutionContext,
    config: TabsConfig,
    comprasnet: ComprasNetResource,
    warehouse: WarehouseResource,
):
    uasg = context.partition_key
    started = time.monotonic()
    engine = warehouse.get_engine()
    client = comprasnet.client
    tabs = [tab for tab, key in TAB_KEYS.items() if key in context.selected_asset_keys]
    staleness = timedelta(hours=config.staleness_hours)
    with transient_only(context):
        due = {t: contracts_due(engine, uasg, t, staleness, config.full_refresh) for t in tabs}
        active = active_contracts(engine, uasg)
    context.log.info(
        f"uasg {uasg}: {active} active contracts; due per tab: "
        + ", ".join(f"{t}={len(ids)}" for t, ids in due.items())
    )
    totals = sync_tabs(
        client,
        engine,
        due,
        max_workers=comprasnet.max_concurrency,
        run_id=context.run.run_id,
        logger=context.log,
    )
    stats = client.stats.snapshot()
    duration = round(time.monotonic() - started, 3)
    for tab in tabs:
        t = totals[tab]
        yield dg.MaterializeResult(
            asset_key=TAB_KEYS[tab],
            metadata={
                "uasg": uasg,
                "contracts_considered": active,
                "contracts_due": t.considered,
                "contracts_skipped_fresh": active - t.considered,
                **t.metadata(),
                "requests_run": stats["requests"],
                "retries_run": stats["retries"],
                "bytes_run": stats["bytes"],
                "duration_s": duration,
                "full_refresh": config.full_refresh,
            },
        )
        yield dg.AssetCheckResult(
            asset_key=TAB_KEYS[tab],
            check_name="sem_falhas",
            passed=t.failed == 0,
            metadata={"failed": t.failed, "failures": t.failures[:20]},
        )
    failed = sum(t.failed for t in totals.values())
    considered = sum(t.considered for t in totals.values())
    unexpected = [f for t in totals.values() for f in t.failures if f.get("unexpected")]
    if unexpected:
        raise dg.Failure(
            f"uasg {uasg}: {len(unexpected)} contract tabs failed unexpectedly (successes were "
            f"committed); first: {unexpected[0]}",
            allow_retries=False,
        )
    if considered and failed > config.max_failure_ratio * considered:
        raise dg.Failure(
            f"uasg {uasg}: {failed} of {considered} contract tabs failed after retries "
            f"(> {config.max_failure_ratio:.0%}); successes were committed, failures will be "
            f"retried next run. First: {next(f for t in totals.values() for f in t.failures)}",
            allow_retries=False,
        )
