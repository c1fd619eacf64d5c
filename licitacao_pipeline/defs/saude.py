"""Job ``verificar_saude`` and its schedule: ComprasNet and the warehouse answer in time; either
failing fails the run, so ``alerta_falhas`` records (and posts) the alert. Thin: the checks are
in ``flows.saude``."""

import dagster as dg

from licitacao_pipeline import names
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.flows import saude
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.warehouse.engine import database_url


class ComprasNetSaudeConfig(dg.Config):
    caminho: str = "/api/contrato/0/empenhos"
    """A cheap request: the (empty) empenhos tab of a contract that does not exist. Healthy:
    a JSON answer or a 404; unhealthy: no answer in time, 5xx, 429, other 4xx, HTML."""
    tempo_limite_s: float = 10.0
    """Connect and read timeout of the single attempt (no retries)."""


class WarehouseSaudeConfig(dg.Config):
    tempo_limite_s: float = 5.0
    """Time to connect and to answer ``SELECT 1``."""


def _outcome(context: dg.OpExecutionContext, health: saude.Health) -> dg.Output:
    metadata = {"acessivel": health.ok, "duracao_s": health.duracao_s, "detalhe": health.detalhe}
    if not health.ok:
        raise dg.Failure(description=health.detalhe, metadata=metadata, allow_retries=False)
    context.log.info(f"{health.detalhe} in {health.duracao_s}s")
    return dg.Output(None, metadata=metadata)


@dg.op(description="ComprasNet answers one cheap request in time (timed, no retries).")
def comprasnet_acessivel(
    context: dg.OpExecutionContext, config: ComprasNetSaudeConfig, comprasnet: ComprasNetResource
) -> dg.Output:
    health = saude.check_comprasnet(comprasnet.base_url, config.caminho, config.tempo_limite_s)
    return _outcome(context, health)


@dg.op(description="The warehouse answers `SELECT 1` on a new connection in time (timed).")
def warehouse_acessivel(
    context: dg.OpExecutionContext, config: WarehouseSaudeConfig, warehouse: WarehouseResource
) -> dg.Output:
    health = saude.check_warehouse(database_url(warehouse.database_url), config.tempo_limite_s)
    return _outcome(context, health)


@dg.job(
    name=names.JOB_SAUDE,
    tags=names.run_tags("saude"),
    description=(
        "Health check (the old Celery task `tasks.mapa_tasks.health_check`): ComprasNet and "
        "the warehouse answer in time. Either failing fails the run, so `alerta_falhas` "
        "records and posts the alert."
    ),
)
def verificar_saude():
    comprasnet_acessivel()
    warehouse_acessivel()


verificacao_saude = dg.ScheduleDefinition(
    name="verificacao_saude",
    cron_schedule="*/10 * * * *",
    execution_timezone=TIMEZONE,
    job=verificar_saude,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 10 minutes: job `verificar_saude` (ComprasNet and the warehouse answer).",
)
