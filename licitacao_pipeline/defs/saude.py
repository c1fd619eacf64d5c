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
    """Uma requisição barata: a aba empenhos (vazia) de um contrato que não existe. Saudável:
    uma resposta JSON ou um 404; doente: sem resposta a tempo, 5xx, 429, outro 4xx, HTML."""
    tempo_limite_s: float = 10.0
    """Tempo limite de conexão e leitura da única tentativa (sem novas tentativas)."""


class WarehouseSaudeConfig(dg.Config):
    tempo_limite_s: float = 5.0
    """Tempo para conectar e responder ``SELECT 1``."""


def _outcome(context: dg.OpExecutionContext, health: saude.Health) -> dg.Output:
    metadata = {"acessivel": health.ok, "duracao_s": health.duracao_s, "detalhe": health.detalhe}
    if not health.ok:
        raise dg.Failure(description=health.detalhe, metadata=metadata, allow_retries=False)
    context.log.info(f"{health.detalhe} em {health.duracao_s}s")
    return dg.Output(None, metadata=metadata)


@dg.op(
    description=(
        "O ComprasNet responde a tempo a uma requisição barata "
        "(cronometrada, sem novas tentativas)."
    )
)
def comprasnet_acessivel(
    context: dg.OpExecutionContext, config: ComprasNetSaudeConfig, comprasnet: ComprasNetResource
) -> dg.Output:
    health = saude.check_comprasnet(comprasnet.base_url, config.caminho, config.tempo_limite_s)
    return _outcome(context, health)


@dg.op(description="O warehouse responde a tempo `SELECT 1` numa conexão nova (cronometrada).")
def warehouse_acessivel(
    context: dg.OpExecutionContext, config: WarehouseSaudeConfig, warehouse: WarehouseResource
) -> dg.Output:
    health = saude.check_warehouse(database_url(warehouse.database_url), config.tempo_limite_s)
    return _outcome(context, health)


@dg.job(
    name=names.JOB_SAUDE,
    tags=names.run_tags("saude"),
    description=(
        "Verificação de saúde (a antiga tarefa Celery `tasks.mapa_tasks.health_check`): o "
        "ComprasNet e o warehouse respondem a tempo. Se um falha, o run falha, e `alerta_falhas` "
        "registra e envia o alerta."
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
    description="A cada 10 minutos: job `verificar_saude` (o ComprasNet e o warehouse respondem).",
)
