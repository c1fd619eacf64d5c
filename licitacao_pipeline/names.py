"""What the Dagster deployment calls things — code location, jobs, ops, assets, run tags — and
the run-tag presets of each kind of run, written once. Dagster-free: the code location, the
``licitacao`` commands and other applications import the same names."""

from __future__ import annotations

LOCATION = "licitacao_pipeline"  # [tool.dagster] code_location_name, workspace.yaml
REPOSITORY = "__repository__"  # the repository a Definitions object becomes

# jobs and the ops a run config names
JOB_SINCRONIZAR = "sincronizar_contratos"
JOB_COMPLETA = "sincronizacao_completa"  # every run of it takes every tab
JOB_CONTRATO = "sincronizar_contrato"
JOB_EXPORTAR = "exportar_contratos"
JOB_IMPORTAR = "importar_acompanhamento"
JOB_LIMPEZA = "limpeza"
JOB_SAUDE = "verificar_saude"
OP_CONTRATO = "sincronizar_abas_do_contrato"
OP_EXPORTAR = "exportar"
OP_IMPORTAR = "importar"
OP_ABAS = "contratos_abas"

# assets, their groups, and the pool of every step that calls ComprasNet
CONTRATOS = "contratos"
SINAIS = "sinais_de_alerta"  # also the job_name of its alerts
GROUP_CONTRATOS = "contratos"
GROUP_PORTAL = "portal"
POOL_COMPRASNET = "comprasnet"


def aba_asset(aba: str) -> str:
    """The asset of a tab: ``contratos_empenhos``."""
    return f"contratos_{aba}"


# run tags
PARTITION_TAG = "dagster/partition"
PRIORITY_TAG = "dagster/priority"
MAX_RUNTIME_TAG = "dagster/max_runtime"
SCHEDULE_TAG = "dagster/schedule_name"
TIPO_TAG = "licitacao/tipo"  # who asked: sob_demanda, agendada, completa, automatica, ...
UNIDADE_TAG = "licitacao/unidade"  # the UASG's name
UASG_TAG = "licitacao/uasg"
ORIGEM_TAG = "licitacao/origem"  # cli, api, ...
CONTRATO_TAG = "licitacao/contrato"
RODIZIO_TAG = "licitacao/rodizio"  # the full-sync night: "3/15"
APOS_TAG = "licitacao/apos"  # the listing run a tab run follows

# (priority, max runtime in seconds or None, tipo) of each kind of run: the queue's order
_PRESETS = {
    "sob_demanda": (0, 3600, "sob_demanda"),
    "agendada": (0, 3600, "agendada"),
    "completa": (-10, 14400, "completa"),
    "automatica": (0, 3600, "automatica"),
    "contrato": (10, 900, "sob_demanda"),
    "exportacao": (5, 3600, "exportacao"),
    "importacao": (5, 1800, "importacao"),
    "portal": (5, 1800, "portal"),
    "saude": (5, 120, "saude"),
    "manutencao": (-20, None, "manutencao"),
}


def run_tags(kind: str) -> dict[str, str]:
    """The tags a run of ``kind`` starts with (priority, max runtime, tipo)."""
    priority, max_runtime, tipo = _PRESETS[kind]
    tags = {PRIORITY_TAG: str(priority), TIPO_TAG: tipo}
    if max_runtime is not None:
        tags[MAX_RUNTIME_TAG] = str(max_runtime)
    return tags
