"""Job ``limpeza`` (the old 02:00 ``cleanup_old_sync_jobs_task``): old runs with their event and
compute logs, export files, rejected records, alerts and portal snapshots past retention."""

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from licitacao_pipeline import names, settings
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.flows.limpeza import delete_old_exports, purge_warehouse

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


class LimpezaConfig(dg.Config):
    retencao_dias: int = 30
    """Runs (com seus logs), arquivos exportados, registros rejeitados, alertas e retratos do portal
    mais antigos que isto são removidos (retratos do portal com mais de dois dias guardam um por
    UASG por dia)."""
    simulacao: bool = False
    """Só informar o que seria removido (simulação)."""


def delete_old_runs(instance: dg.DagsterInstance, cutoff: datetime, dry_run: bool) -> int:
    deleted = 0
    while True:
        records = instance.get_run_records(
            filters=dg.RunsFilter(created_before=cutoff, statuses=FINISHED), limit=200
        )
        if dry_run:
            return len(records)  # at most one page: a lower bound
        if not records:
            return deleted
        for rec in records:
            run_id = rec.dagster_run.run_id
            instance.delete_run(run_id)  # the run row and all its event-log rows
            instance.compute_log_manager.delete_logs(prefix=[run_id])
            deleted += 1


@dg.op(description="Apaga o que passou da retenção: runs, logs, exportações, rejeições, alertas.")
def limpar_registros_antigos(
    context: dg.OpExecutionContext, config: LimpezaConfig, warehouse: WarehouseResource
) -> dg.Output:
    started = time.monotonic()
    cutoff = datetime.now(UTC) - timedelta(days=config.retencao_dias)
    runs = delete_old_runs(context.instance, cutoff, config.simulacao)
    files, size = delete_old_exports(settings.load().export_dir, cutoff, config.simulacao)
    purged = purge_warehouse(warehouse.get_engine(), config.retencao_dias, config.simulacao)
    verb = "removeria" if config.simulacao else "removeu"
    context.log.info(
        f"limpeza {verb} {runs} runs, {files} arquivos exportados ({size:,} bytes), "
        f"{purged['rejeicoes_removidas']} registros rejeitados, {purged['alertas_removidos']} "
        f"alertas, {purged['estatisticas_removidas']} estatísticas e "
        f"{purged['metricas_removidas']} retratos de métricas anteriores a "
        f"{cutoff:%Y-%m-%d %H:%M} UTC"
    )
    return dg.Output(
        None,
        metadata={
            "runs_removidos": runs,
            "arquivos_exportados_removidos": files,
            "bytes_exportados_removidos": size,
            **purged,
            "corte": cutoff.isoformat(),
            "simulacao": config.simulacao,
            "duracao_s": round(time.monotonic() - started, 3),
        },
    )


@dg.job(
    name=names.JOB_LIMPEZA,
    tags=names.run_tags("manutencao"),
    description=(
        "Remove runs antigos, seus logs, arquivos exportados antigos, "
        "registros rejeitados e alertas."
    ),
)
def limpeza():
    """Remove old runs, their logs, old export files, rejected records and alerts."""
    limpar_registros_antigos()
