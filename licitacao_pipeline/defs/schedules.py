"""Schedules: one per UASG at its local hour (staggered), the 03:00 full sync, the 02:00 cleanup.

Each UASG gets its own schedule (``build_schedule_from_partitioned_job`` would fire every
partition on every tick). A tick whose UASG already has a run queued or in progress is skipped
with the reason in the tick history: the Redis lock's "locked" result, made visible.
"""

from datetime import time

import dagster as dg

from licitacao_pipeline.config import TIMEZONE, load_uasgs, load_window, schedule_times
from licitacao_pipeline.defs.jobs import sincronizacao_completa, sincronizar_contratos
from licitacao_pipeline.defs.limpeza import limpeza

ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def active_run(instance: dg.DagsterInstance, uasg: str, job_name: str | None = None):
    """A queued or in-progress run touching the UASG (any job, any launcher), or None."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=ACTIVE, tags={"dagster/partition": uasg}, job_name=job_name),
        limit=1,
    )
    return records[0].dagster_run if records else None


def uasg_schedule(uasg: str, at: time) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"contratos_{uasg}",
        cron_schedule=f"{at.minute} {at.hour} * * *",
        execution_timezone=TIMEZONE,
        job=sincronizar_contratos,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Daily sync of UASG {uasg} at {at:%H:%M} ({TIMEZONE}).",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        busy = active_run(context.instance, uasg)
        if busy is not None:
            return dg.SkipReason(
                f"UASG {uasg} already has run {busy.run_id} ({busy.job_name}) "
                f"{busy.status.value.lower()}; skipping this tick"
            )
        when = context.scheduled_execution_time
        return dg.RunRequest(
            partition_key=uasg,
            run_key=f"contratos-{uasg}-{when:%Y%m%d%H%M}" if when else None,
            tags={"licitacao/uasg": uasg},
        )

    return _schedule


@dg.schedule(
    name="sincronizacao_completa_diaria",
    cron_schedule="0 3 * * *",
    execution_timezone=TIMEZONE,
    job=sincronizacao_completa,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:00 full sync of every UASG with all tabs, at low priority behind the queue.",
)
def sincronizacao_completa_diaria(context: dg.ScheduleEvaluationContext):
    requests, skipped = [], []
    when = context.scheduled_execution_time
    for u in load_uasgs():
        if active_run(context.instance, u.codigo, job_name=sincronizacao_completa.name):
            skipped.append(u.codigo)  # yesterday's full sync still queued or running
            continue
        requests.append(
            dg.RunRequest(
                partition_key=u.codigo,
                run_key=f"completa-{u.codigo}-{when:%Y%m%d}" if when else None,
                tags={"licitacao/uasg": u.codigo},
            )
        )
    if not requests:
        return dg.SkipReason(f"a full sync is still pending for every UASG: {skipped}")
    return requests


limpeza_diaria = dg.ScheduleDefinition(
    name="limpeza_diaria",
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    job=limpeza,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 removal of runs, logs and export files past retention.",
)


def build_schedules() -> list[dg.ScheduleDefinition]:
    times = schedule_times(load_uasgs(), load_window())
    return [uasg_schedule(uasg, at) for uasg, at in times.items()] + [
        sincronizacao_completa_diaria,
        limpeza_diaria,
    ]
