"""Portal layer in the Dagster UI (group ``portal``): the ``painel_contratos`` view, its
statistics, dashboard metrics and the expiring-contracts report, kept fresh by declarative
automation (sensor ``atualizacao_portal``) under freshness policies; and the health-check job.

Thin: the work is in ``flows.portal``; here are conditions, policies, metadata and the Dagster
instance queries (last sync per UASG, run counts).
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from licitacao_pipeline import names, settings
from licitacao_pipeline.defs.abas import ABA_KEYS
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.metadados import markdown_table
from licitacao_pipeline.defs.partitions import UASGS
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.retries import transient_only
from licitacao_pipeline.flows import portal
from licitacao_pipeline.relogio import TIMEZONE, local_today

GROUP = names.GROUP_PORTAL
CONTRATOS = dg.AssetKey(names.CONTRATOS)
UPSTREAM = [contratos, *ABA_KEYS.values()]
RUN_TAGS = names.run_tags("portal")
PREVIEW_ROWS = 10
RUNNING = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
NEVER = datetime.min.replace(tzinfo=UTC)

# --- automation -------------------------------------------------------------------------------


def _tick(cron: str) -> dg.AutomationCondition:
    """A tick of ``cron`` (São Paulo) passed since this asset was last requested or updated."""
    return dg.AutomationCondition.cron_tick_passed(cron, TIMEZONE).since_last_handled()


_NOT_RUNNING = ~dg.AutomationCondition.in_progress()
# Every 10 min whatever happens (so one failed refresh still keeps the 30-minute bound), and at
# the next 5-minute tick after any UASG's contratos or tab lands. Not while a refresh is queued
# or running; never waits for syncs in progress or UASGs never synced (thousands of partitions).
REFRESH = (
    (
        _tick("*/10 * * * *")
        | (_tick("*/5 * * * *") & dg.AutomationCondition.any_deps_updated().since_last_handled())
    )
    & _NOT_RUNNING
).with_label("a cada 10 min, ou no próximo múltiplo de 5 min após uma sincronização")
# Requested together with the view (same run), and after any refresh of it.
FOLLOWS_VIEW = (
    dg.AutomationCondition.any_deps_updated().since_last_handled() & _NOT_RUNNING
).with_label("após cada atualização de painel_contratos")
# Every 4 minutes: a value always lands inside the 5-minute window despite sensor and launch lag.
METRICS = (_tick("*/4 * * * *") & _NOT_RUNNING).with_label("a cada 4 min")
# 06:00, as soon as the view has been refreshed after 06:00.
REPORT = dg.AutomationCondition.on_cron("0 6 * * *", TIMEZONE)

# Legal bound (REN 1.137/2025 Art. 106): published data at most 30 minutes old.
PORTAL_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=30), warn_window=timedelta(minutes=20)
)
METRICS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=5))
REPORT_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 7 * * *", lower_bound_delta=timedelta(hours=1), timezone=TIMEZONE
)

atualizacao_portal = dg.AutomationConditionSensorDefinition(
    "atualizacao_portal",
    target=dg.AssetSelection.groups(GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags=RUN_TAGS,
    emit_backfills=False,
    description=(
        "Atualiza o portal: `painel_contratos` e `estatisticas_contratos` a cada 10 min e "
        "5 min depois que chega a sincronização de uma UASG, `metricas_painel` a cada 4 min, "
        "`contratos_a_vencer` diariamente depois das 06:00. Nunca duas atualizações de um "
        "mesmo asset ao mesmo tempo."
    ),
)

# --- metadata helpers -------------------------------------------------------------------------


def _reais(value) -> str:
    return f"R$ {portal.brl(value)}"


def _minutes(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else round((now - since).total_seconds() / 60, 1)


def _age(since: datetime | None, now: datetime) -> float | str:
    return "nunca" if since is None else _minutes(since, now)


# --- the view and its statistics ----------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=UPSTREAM,
    automation_condition=REFRESH,
    freshness_policy=PORTAL_FRESHNESS,
    metadata={"dagster/table_name": "painel_contratos"},
    description=(
        "Portal público (visão materializada PostgreSQL): uma linha por contrato gravado e não "
        "removido — UASG, número, fornecedor, objeto, valores, vigência, dias até o fim, se "
        "está vigente hoje (São Paulo), seus totais empenhado / liquidado / pago (empenhos) e "
        "pago / a pagar / glosa / vencidas não pagas (faturas), quantos responsáveis ativos "
        "tem (sem nomes). Atualizada "
        "`CONCURRENTLY` (leitores nunca ficam bloqueados), uma atualização por vez; no máximo "
        "30 minutos de atraso (REN 1.137/2025 Art. 106)."
    ),
)
def painel_contratos(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with transient_only(context):
        refresh = portal.refresh_painel(warehouse.get_engine())
    context.log.info(f"painel_contratos: {refresh.linhas} linhas em {refresh.duracao_s}s")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": refresh.linhas,
            "linhas": refresh.linhas,
            "duracao_refresh_s": refresh.duracao_s,
        }
    )


_STATS_HEADER = [
    "UASG",
    "contratos",
    "vigentes",
    "valor global vigentes",
    "empenhado",
    "liquidado",
    "pago (empenhos)",
    "pago (faturas)",
    "a pagar (faturas)",
    "glosa",
    "vencem em 30 / 60 / 90 dias",
]


def _stats_row(r: Mapping[str, Any]) -> list[Any]:
    return [
        r["uasg"] or "**todas**",
        r["contratos"],
        r["contratos_vigentes"],
        _reais(r["valor_global_vigentes"]),
        _reais(r["total_empenhado"]),
        _reais(r["total_liquidado"]),
        _reais(r["total_pago"]),
        _reais(r["faturas_pago"]),
        _reais(r["faturas_a_pagar"]),
        _reais(r["faturas_glosa"]),
        f"{r['vencendo_30_dias']} / {r['vencendo_60_dias']} / {r['vencendo_90_dias']}",
    ]


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=[painel_contratos],
    automation_condition=FOLLOWS_VIEW,
    freshness_policy=PORTAL_FRESHNESS,
    metadata={"dagster/table_name": "estatisticas_contratos"},
    description=(
        "Estatísticas do portal (retratos guardados para tendências, podados pela `limpeza`): "
        "por UASG e no geral (`uasg` NULL) — contratos vigentes (`situacao` Ativo e hoje dentro "
        "da vigência), seu `valor_global` total, empenhado / liquidado / pago segundo os empenhos, "
        "pago / a pagar / glosa segundo as faturas, contratos que "
        "terminam em 30 / 60 / 90 dias, os maiores fornecedores por valor. Calculadas a partir "
        "de `painel_contratos`, logo após cada atualização."
    ),
)
def estatisticas_contratos(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with transient_only(context):
        rows = portal.snapshot_statistics(warehouse.get_engine())
    geral, por_uasg = rows[0], rows[1:]
    shown = sorted(por_uasg, key=lambda r: (-r["contratos_vigentes"], r["uasg"]))[:20]
    return dg.MaterializeResult(
        metadata={
            "resumo": markdown_table(_STATS_HEADER, [_stats_row(r) for r in [geral, *shown]]),
            "uasgs": len(por_uasg),
            "contratos_vigentes": geral["contratos_vigentes"],
            "valor_global_vigentes": _reais(geral["valor_global_vigentes"]),
            "pago_segundo_empenhos": _reais(geral["total_pago"]),
            "pago_segundo_faturas": _reais(geral["faturas_pago"]),
            "a_pagar_segundo_faturas": _reais(geral["faturas_a_pagar"]),
            "glosa_faturas": _reais(geral["faturas_glosa"]),
            "vencendo_30_dias": geral["vencendo_30_dias"],
            "vencendo_60_dias": geral["vencendo_60_dias"],
            "vencendo_90_dias": geral["vencendo_90_dias"],
            "data_referencia": geral["data_referencia"].isoformat(),
            "maiores_fornecedores": dg.MetadataValue.json(geral["maiores_fornecedores"]),
        }
    )


# --- dashboard metrics ----------------------------------------------------------------------------


def last_sync_per_uasg(instance: dg.DagsterInstance) -> dict[str, datetime]:
    """Each UASG's last successful ``contratos`` materialization: two queries in all."""
    ids = instance.get_latest_storage_id_by_partition(
        CONTRATOS, dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    if not ids:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CONTRATOS, storage_ids=list(ids.values())),
        limit=len(ids),
    ).records
    return {r.partition_key: datetime.fromtimestamp(r.timestamp, UTC) for r in records}


def run_counts(instance: dg.DagsterInstance, now: datetime) -> portal.RunCounts:
    def count(**filters) -> int:
        return instance.get_runs_count(dg.RunsFilter(**filters))

    return portal.RunCounts(
        falhas_24h=count(
            statuses=[dg.DagsterRunStatus.FAILURE], updated_after=now - timedelta(hours=24)
        ),
        na_fila=count(statuses=[dg.DagsterRunStatus.QUEUED]),
        em_execucao=count(statuses=RUNNING),
    )


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=UPSTREAM,
    automation_condition=METRICS,
    freshness_policy=METRICS_FRESHNESS,
    metadata={"dagster/table_name": "metricas_painel"},
    description=(
        "Métricas do painel (retratos a cada 4 minutos): contratos por UASG, quando cada UASG "
        "e cada uma de suas abas foi sincronizada pela última vez, runs com falha nas últimas "
        "24 h, runs na fila e em execução. Barato: uma leitura agrupada de `contratos` (nunca "
        "as tabelas das abas) e algumas consultas ao armazenamento de runs do Dagster."
    ),
)
def metricas_painel(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    now = datetime.now(UTC)
    runs = run_counts(context.instance, now)
    last_sync = last_sync_per_uasg(context.instance)
    with transient_only(context):
        rows = portal.snapshot_metrics(
            warehouse.get_engine(), [u.codigo for u in UASGS], last_sync, runs, now
        )
    geral, por_uasg = rows[0], rows[1:]
    stalest = sorted(por_uasg, key=lambda r: r["ultima_sincronizacao_em"] or NEVER)
    return dg.MaterializeResult(
        metadata={
            "uasgs": len(por_uasg),
            "uasgs_nunca_sincronizadas": geral["uasgs_nunca_sincronizadas"],
            "contratos": geral["contratos"],
            "runs_com_falha_24h": runs.falhas_24h,
            "runs_na_fila": runs.na_fila,
            "runs_em_execucao": runs.em_execucao,
            "sincronizacao_mais_antiga_min": _minutes(geral["ultima_sincronizacao_em"], now),
            "uasgs_mais_atrasadas": markdown_table(
                ["UASG", "contratos", "última sincronização (min)", *portal.TAB_COLUMNS],
                [
                    [
                        r["uasg"],
                        r["contratos"],
                        _age(r["ultima_sincronizacao_em"], now),
                        *(_minutes(r[c], now) for c in portal.TAB_COLUMNS),
                    ]
                    for r in stalest[:PREVIEW_ROWS]
                ],
            ),
        }
    )


# --- expiring-contracts report --------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "csv"},
    deps=[painel_contratos],
    automation_condition=REPORT,
    freshness_policy=REPORT_FRESHNESS,
    metadata={"dagster/table_name": "contratos_a_vencer"},
    description=(
        "Contratos a vencer: por UASG, os contratos vigentes cuja vigência termina em "
        "30 / 60 / 90 dias, como a tabela `contratos_a_vencer` e como um CSV para planilhas "
        "(UTF-8 com BOM, `;`, valores como 1.234,56) no diretório de exportação, "
        "`contratos_a_vencer_AAAAMMDD.csv`. Diariamente depois das 06:00 (São Paulo)."
    ),
)
def contratos_a_vencer(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with transient_only(context):
        report = portal.write_expiring_report(
            warehouse.get_engine(), settings.load().export_dir, local_today()
        )
    bands = {d: sum(1 for r in report.rows if r["faixa_dias"] == d) for d in (30, 60, 90)}
    context.log.info(f"contratos_a_vencer: {len(report.rows)} contratos -> {report.path}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(report.rows),
            "arquivo": dg.MetadataValue.path(str(report.path)),
            **{f"vencem_em_{d}_dias": n for d, n in bands.items()},
            "previa": markdown_table(
                portal.CSV_HEADER, [portal.csv_row(r) for r in report.rows[:PREVIEW_ROWS]]
            ),
        }
    )


portal_assets = [painel_contratos, estatisticas_contratos, metricas_painel, contratos_a_vencer]
