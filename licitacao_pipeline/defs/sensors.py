"""Sensors: tabs follow ``contratos`` (declarative automation), failure alerts, alert retries."""

import os

import dagster as dg
import sqlalchemy as sa

from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.maintenance import alertas

# Dagster stops a sensor evaluation after 60 s; delivery keeps well inside it, so a dead
# webhook never costs a recorded failure.
FAILURE_DELIVERY_BUDGET_S = 10.0
PENDING_DELIVERY_BUDGET_S = 30.0

abas_seguem_contratos = dg.AutomationConditionSensorDefinition(
    "abas_seguem_contratos",
    target=dg.AssetSelection.groups("contratos"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags={"dagster/priority": "0", "dagster/max_runtime": "3600", "licitacao/tipo": "abas"},
    emit_backfills=False,
    description=(
        "When a UASG's contratos partition is materialized alone (a manual subset), sync its "
        "tabs next; a run that already did the tabs (every UASG sync does) is left alone."
    ),
)


def _error_chain(error) -> list[str]:
    """Messages of an error and its causes ("Exceeded max_retries" hides the real one)."""
    out = []
    while error is not None:
        out.append(error.message.strip())
        error = error.cause
    return out


def _webhook_url() -> str | None:
    return os.environ.get("ALERT_WEBHOOK_URL") or None


@dg.run_failure_sensor(
    name="alerta_falhas",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Records every failed run in `alertas` and POSTs it to ALERT_WEBHOOK_URL.",
)
def alerta_falhas(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    messages = [
        message
        for e in context.get_step_failure_events()
        if e.event_specific_data and e.event_specific_data.error
        for message in _error_chain(e.event_specific_data.error)
    ]
    alerta = alertas.Alerta(
        run_id=run.run_id,
        job_name=run.job_name,
        uasg=run.tags.get("dagster/partition"),
        message=("\n".join(messages) or context.failure_event.message or "run failed")[:4000],
        failed_steps=steps,
    )
    try:
        engine = warehouse.get_engine()
        new = alertas.record(engine, alerta)
    except sa.exc.SQLAlchemyError as exc:  # e.g. the health check found the warehouse down
        error = alertas.post_unrecorded(_webhook_url(), alerta)
        context.log.error(
            f"warehouse unreachable, alert for run {run.run_id} not recorded "
            f"({type(exc).__name__}); webhook: {error or 'posted'}"
        )
        return
    # Only this run's alert, once: older pending ones are alertas_pendentes' job.
    delivered = alertas.deliver(
        engine, _webhook_url(), budget_s=FAILURE_DELIVERY_BUDGET_S, run_id=run.run_id
    )
    context.log.info(f"alert for run {run.run_id} recorded={new} delivery={delivered}")


@dg.sensor(
    name="alertas_pendentes",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries webhook delivery of alerts whose POST failed earlier (with backoff).",
)
def alertas_pendentes(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    url = _webhook_url()
    if not url:
        return dg.SkipReason("ALERT_WEBHOOK_URL is not set: alerts are only recorded")
    delivered = alertas.deliver(warehouse.get_engine(), url, budget_s=PENDING_DELIVERY_BUDGET_S)
    return dg.SkipReason(f"webhook delivery: {delivered}")
