"""Daily cleanup (the old 02:00 ``cleanup_old_sync_jobs_task``): old runs, their logs, exports."""

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from licitacao_pipeline.config import export_dir

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


class LimpezaConfig(dg.Config):
    retention_days: int = 30
    """Runs (with their event logs and compute logs) and export files older than this go."""
    dry_run: bool = False
    """Only report what would be removed."""


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
            return deleted
        for rec in records:
            run_id = rec.dagster_run.run_id
            instance.delete_run(run_id)  # the run row and all its event-log rows
            instance.compute_log_manager.delete_logs(prefix=[run_id])
            deleted += 1


def delete_old_exports(cutoff: datetime, dry_run: bool) -> tuple[int, int]:
    root = export_dir()
    if not root.exists():
        return 0, 0
    count = size = 0
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
            count += 1
            size += path.stat().st_size
            if not dry_run:
                path.unlink()
    return count, size


@dg.op(description="Delete runs, event logs, compute logs and export files past retention.")
def limpar_registros_antigos(context: dg.OpExecutionContext, config: LimpezaConfig) -> dg.Output:
    started = time.monotonic()
    cutoff = datetime.now(UTC) - timedelta(days=config.retention_days)
    runs = delete_old_runs(context.instance, cutoff, config.dry_run)
    files, size = delete_old_exports(cutoff, config.dry_run)
    verb = "would remove" if config.dry_run else "removed"
    context.log.info(
        f"cleanup {verb} {runs} runs and {files} export files ({size:,} bytes) "
        f"older than {cutoff:%Y-%m-%d %H:%M} UTC"
    )
    return dg.Output(
        None,
        metadata={
            "runs_removed": runs,
            "export_files_removed": files,
            "export_bytes_removed": size,
            "cutoff": cutoff.isoformat(),
            "dry_run": config.dry_run,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
