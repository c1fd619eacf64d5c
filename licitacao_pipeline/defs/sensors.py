"""Sensors: tabs follow a listing materialized alone, failure alerts, alert retries."""

import dagster as dg
import sqlalchemy as sa

from licitacao_pipeline import names, settings
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.abas import ABA_KEYS, CONTRATOS_KEY
from licitacao_pipeline.defs.jobs import sincronizar_contratos
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.flows import alertas
from licitacao_pipeline.warehouse.abas import due_counts, now

# Dagster stops a sensor evaluation after 60 s; delivery keeps well inside it, so a dead
# webhook never costs a recorded failure.
FAILURE_DELIVERY_BUDGET_S = 10.0
PENDING_DELIVERY_BUDGET_S = 30.0

TABS_SENSOR_INTERVAL_S = 5  # the tabs start within seconds of the listing's success
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def listing_alone(instance: dg.DagsterInstance, run_id: str) -> bool:
    """The run materialized ``contratos`` and none of its tabs (a manual subset)."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=50
    ).records
    keys = {r.event_log_entry.dagster_event.asset_key for r in records}
    return CONTRATOS_KEY in keys and not keys & set(ABA_KEYS.values())


def _tabs_queued(instance: dg.DagsterInstance, uasg: str) -> dg.DagsterRun | None:
    """A queued or running run of the UASG that does its tabs."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=_ACTIVE, tags={names.PARTITION_TAG: uasg})
    )
    tabs = set(ABA_KEYS.values())
    for record in records:
        run = record.dagster_run
        if run.asset_selection is None or run.asset_selection & tabs:
            return run
    return None


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="abas_seguem_contratos",
    minimum_interval_seconds=TABS_SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    request_job=sincronizar_contratos,
    description=(
        "Quando a partição contratos de uma UASG foi materializada sozinha (um subconjunto manual) "
        "e o run teve sucesso, sincroniza em seguida as suas abas devidas. Um run cancelado ou "
        "com falha não inicia nada, um run que já fez as abas fica como está, e nada é lançado "
        "quando nenhuma aba está devida."
    ),
)
def abas_seguem_contratos(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    uasg = run.tags.get(names.PARTITION_TAG)
    if not uasg or not listing_alone(context.instance, run.run_id):
        return dg.SkipReason(f"run {run.run_id}: não é uma listagem materializada sozinha")
    if busy := _tabs_queued(context.instance, uasg):
        return dg.SkipReason(f"uasg {uasg}: o run {busy.run_id} já faz as suas abas")
    engine = warehouse.get_engine()
    conf = settings.load()
    abas = [a for a in ABAS if a in conf.abas()]
    if not abas:
        return dg.SkipReason(
            f"uasg {uasg}: este deployment não sincroniza nenhuma aba (LICITACAO_ABAS)"
        )
    devidos = due_counts(
        engine, uasg, abas, inicio=now(engine), cadencia=conf.cadencia(), completa=False
    )
    if not any(devidos.values()):
        return dg.SkipReason(f"uasg {uasg}: nenhuma aba devida após o run {run.run_id}")
    context.log.info(f"uasg {uasg}: abas devidas após o run {run.run_id}: {devidos}")
    return dg.RunRequest(
        run_key=f"abas-{run.run_id}",
        partition_key=uasg,
        asset_selection=[ABA_KEYS[a] for a in abas],
        tags={**names.run_tags("automatica"), names.APOS_TAG: run.run_id},
    )


def _error_chain(error) -> list[str]:
    """Messages of an error and its causes ("Exceeded max_retries" hides the real one)."""
    out = []
    while error is not None:
        out.append(error.message.strip())
        error = error.cause
    return out


def _webhook_url() -> str | None:
    return settings.load().alert_webhook_url


@dg.run_failure_sensor(
    name="alerta_falhas",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Registra cada run com falha em `alertas` e o envia (POST) para ALERT_WEBHOOK_URL.",
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
        uasg=run.tags.get(names.PARTITION_TAG),
        message=("\n".join(messages) or context.failure_event.message or "run falhou")[:4000],
        failed_steps=steps,
    )
    try:
        engine = warehouse.get_engine()
        new = alertas.record(engine, alerta)
    except sa.exc.SQLAlchemyError as exc:  # e.g. the health check found the warehouse down
        error = alertas.post_unrecorded(_webhook_url(), alerta)
        context.log.error(
            f"warehouse inacessível, alerta do run {run.run_id} não registrado "
            f"({type(exc).__name__}); webhook: {error or 'enviado'}"
        )
        return
    # Only this run's alert, once: older pending ones are alertas_pendentes' job.
    delivered = alertas.deliver(
        engine, _webhook_url(), budget_s=FAILURE_DELIVERY_BUDGET_S, run_id=run.run_id
    )
    context.log.info(f"alerta do run {run.run_id} registrado={new} entrega={delivered}")


@dg.sensor(
    name="alertas_pendentes",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Tenta de novo entregar ao webhook os alertas cujo POST falhou "
        "antes (com espera crescente)."
    ),
)
def alertas_pendentes(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    url = _webhook_url()
    if not url:
        return dg.SkipReason("ALERT_WEBHOOK_URL não definida: os alertas só são registrados")
    delivered = alertas.deliver(warehouse.get_engine(), url, budget_s=PENDING_DELIVERY_BUDGET_S)
    return dg.SkipReason(f"entrega ao webhook: {delivered}")
