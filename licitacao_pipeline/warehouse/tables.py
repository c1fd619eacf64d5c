"""Warehouse schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` create it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from licitacao_pipeline.comprasnet import aba_spec, abas, parsing
from licitacao_pipeline.warehouse.schema import TS, Money, metadata

# The portal's tables live in their own module; imported here so ``metadata`` is whole.
from licitacao_pipeline.warehouse.tables_portal import (  # noqa: F401
    contratos_a_vencer,
    estatisticas_contratos,
    garantias_a_vencer,
    metricas_painel,
)

# Maintained by the warehouse itself, never taken from a source record.
TRACKING_COLUMNS = frozenset(
    [
        "primeiro_visto_em",
        "atualizado_em",
        "removido_em",
        "detalhes_atualizados_em",
        *(f"{aba}_atualizado_em" for aba in abas.ABAS),
        "removido_motivo",
    ]
)

# Flattened from the nested ``contratante`` and ``fornecedor`` objects.
FLATTENED = [
    "orgao_codigo", "orgao_nome", "unidade_gestora_codigo", "unidade_gestora_nome",
    "unidade_gestora_nome_resumido", "orgao_origem_codigo", "orgao_origem_nome",
    "unidade_gestora_origem_codigo", "unidade_gestora_origem_nome",
    "fornecedor_tipo", "fornecedor_cnpj_cpf_idgener", "fornecedor_nome",
]  # fmt: skip
CONTRATO_TEXT = [*parsing.TEXT_FIELDS, *FLATTENED]
CONTRATO_DATES = parsing.DATE_FIELDS
CONTRATO_MONEY = parsing.MONEY_FIELDS
# Columns written from a parsed record (see comprasnet.parsing.parse_contrato).
CONTRATO_DATA_COLUMNS = [
    "id",
    "uasg",
    *CONTRATO_TEXT,
    *CONTRATO_DATES,
    *CONTRATO_MONEY,
    "num_parcelas",
] + ["payload", "payload_hash"]


def contrato_data_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("uasg", sa.String(6), nullable=False),
        *(sa.Column(name, sa.Text) for name in CONTRATO_TEXT),
        *(sa.Column(name, sa.Date) for name in CONTRATO_DATES),
        *(sa.Column(name, Money) for name in CONTRATO_MONEY),
        sa.Column("num_parcelas", sa.Integer),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
    ]


contratos = sa.Table(
    "contratos",
    metadata,
    *contrato_data_columns(),
    sa.Column("primeiro_visto_em", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("atualizado_em", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("removido_em", TS),
    # Why removido_em was set: REMOVIDO_AUSENTE or REMOVIDO_FORA_DA_JANELA.
    sa.Column("removido_motivo", sa.Text),
    sa.Column("detalhes_atualizados_em", TS),
    *(sa.Column(f"{aba}_atualizado_em", TS) for aba in abas.ABAS),
    sa.Index("ix_contratos_uasg", "uasg"),
    sa.Index("ix_contratos_vigencia_fim", "vigencia_fim"),
)

REMOVIDO_AUSENTE = "ausente_da_listagem"  # the contract left the UASG's listing
REMOVIDO_FORA_DA_JANELA = "fora_da_janela_de_vigencia"  # its vigência ended before the window

unidades = sa.Table(
    "unidades",
    metadata,
    sa.Column("codigo", sa.String(6), primary_key=True),
    sa.Column("nome", sa.Text, nullable=False),
    sa.Column("nome_resumido", sa.Text),
    sa.Column("orgao_codigo", sa.Text),
    sa.Column("orgao_nome", sa.Text),
    sa.Column("atualizado_em", TS, nullable=False, server_default=sa.func.now()),
)

# One row per distinct rejected record: a record that stays malformed run after run updates
# ``ultima_vez_em`` and ``ocorrencias`` of its row instead of adding one per run.
rejected_records = sa.Table(
    "rejected_records",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("rejected_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("ultima_vez_em", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("ocorrencias", sa.Integer, nullable=False, server_default="1"),
    sa.Column("chave", sa.String(64), nullable=False, unique=True),  # source+uasg+id+payload
    sa.Column("run_id", sa.String(64)),
    sa.Column("source", sa.String(64), nullable=False),  # e.g. "contratos", "empenhos", "import"
    sa.Column("uasg", sa.String(6)),
    sa.Column("record_id", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", JSONB),
    sa.Index("ix_rejected_records_run", "run_id"),
)

alertas = sa.Table(
    "alertas",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),
    sa.Column("job_name", sa.Text, nullable=False),
    sa.Column("uasg", sa.String(6)),
    sa.Column("failed_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("failed_steps", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("posted_at", TS),
    sa.Column("post_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("post_error", sa.Text),
    sa.Column("ultima_tentativa_em", TS),
    # 'falha' (a failed run) or 'sinais' (new red flags of a UASG, one refresh); their details
    sa.Column("tipo", sa.Text, nullable=False, server_default="falha"),
    sa.Column("detalhes", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
)


_TYPES = {
    parsing.text: sa.Text,
    aba_spec.text_or_number: sa.Text,
    aba_spec.descricao: sa.Text,
    aba_spec.cpf_mascarado: sa.Text,
    aba_spec.nome_usuario: sa.Text,
    aba_spec.sim_nao: sa.Boolean,
    parsing.day: sa.Date,
    parsing.money: Money,
    parsing.integer: sa.BigInteger,
    parsing.decimal: sa.Numeric,
    parsing.timestamp: TS,
    aba_spec.json_value: JSONB,
}


def _aba_table(spec: abas.AbaSpec) -> sa.Table:
    return sa.Table(
        f"contratos_{spec.aba}",
        metadata,
        sa.Column("contrato_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        *(sa.Column(name, _TYPES[conv]) for name, (conv, _) in spec.columns.items()),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("primeiro_visto_em", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("atualizado_em", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("removido_em", TS),
    )


ABA_TABLES: dict[str, sa.Table] = {aba: _aba_table(spec) for aba, spec in abas.SPECS.items()}

# --- follow-up (migration 0006): what a UASG's contract managers keep beside ComprasNet's data,
# imported from their spreadsheets (job importar_acompanhamento); one row per contract.
PRIORIDADES = ("alta", "media", "baixa")

acompanhamento = sa.Table(
    "acompanhamento",
    metadata,
    sa.Column(
        "contrato_id",
        sa.BigInteger,
        sa.ForeignKey("contratos.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("uasg", sa.String(6), nullable=False),
    sa.Column("numero", sa.Text, nullable=False),
    sa.Column("gestor", sa.Text),
    sa.Column("fiscal", sa.Text),
    sa.Column("prioridade", sa.Text),
    sa.Column("observacao", sa.Text),
    sa.Column("alertar_em", sa.Date),
    sa.Column("importado_em", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("run_id", sa.String(64)),
    sa.CheckConstraint(
        "prioridade IN ('alta', 'media', 'baixa')", name="ck_acompanhamento_prioridade"
    ),
    sa.Index("ix_acompanhamento_uasg", "uasg"),
    sa.Index("ix_acompanhamento_alertar_em", "alertar_em"),
)

# --- change history (migration 0007): one row per changed field of a contract or of a tracked
# tab record (see ``warehouse.alteracoes``). Each value sits in the column of its type.
EVENTOS = ("inserido", "alterado", "removido", "reaparecido")
# the contract itself, and each tab whose spec names fields to follow
ORIGENS = ("contrato", *(a for a, spec in abas.SPECS.items() if spec.historico))

contratos_alteracoes = sa.Table(
    "contratos_alteracoes",
    metadata,
    sa.Column("contrato_id", sa.BigInteger, nullable=False, autoincrement=False),
    sa.Column("visto_em", TS, nullable=False),  # when the sync saw it (one instant per sync)
    sa.Column("uasg", sa.String(6), nullable=False),
    sa.Column("origem", sa.Text, nullable=False),  # ORIGENS
    sa.Column("registro_id", sa.BigInteger, nullable=False),  # the contract's or tab record's id
    sa.Column("evento", sa.Text, nullable=False),  # EVENTOS
    sa.Column("campo", sa.Text, nullable=False),
    sa.Column("valor_anterior_texto", sa.Text),
    sa.Column("valor_novo_texto", sa.Text),
    sa.Column("valor_anterior_numerico", sa.Numeric),  # money and counts, exact
    sa.Column("valor_novo_numerico", sa.Numeric),
    sa.Column("valor_anterior_data", sa.Date),
    sa.Column("valor_novo_data", sa.Date),
    sa.Column("run_id", sa.String(64)),
    sa.PrimaryKeyConstraint("contrato_id", "origem", "registro_id", "campo", "visto_em"),
    sa.CheckConstraint(
        "evento IN ('inserido', 'alterado', 'removido', 'reaparecido')",
        name="ck_contratos_alteracoes_evento",
    ),
    sa.CheckConstraint(
        "origem IN (" + ", ".join(f"'{o}'" for o in ORIGENS) + ")",
        name="ck_contratos_alteracoes_origem",
    ),
    sa.Index("ix_contratos_alteracoes_uasg_visto_em", "uasg", "visto_em"),
    sa.Index("ix_contratos_alteracoes_visto_em", "visto_em"),
)


# Red flags (sinais de alerta): one row per rule and contract while it holds; resolved, never
# deleted. The evidence in typed columns (exact money, dates) and the records behind it.
SEVERIDADES = ("alta", "media", "baixa")
sinais_alerta = sa.Table(
    "sinais_alerta",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("regra", sa.Text, nullable=False),
    sa.Column("contrato_id", sa.BigInteger, nullable=False),
    sa.Column("uasg", sa.String(6), nullable=False),
    sa.Column("severidade", sa.Text, nullable=False),
    sa.Column("valor_referencia", sa.Numeric),  # the amount the rule compares with
    sa.Column("valor_apurado", sa.Numeric),  # what was found
    sa.Column("percentual", sa.Numeric(12, 4)),  # apurado / referência, in %
    sa.Column("limite", sa.Numeric),  # the rule's threshold (a %, or days)
    sa.Column("data_referencia", sa.Date),
    sa.Column("data_limite", sa.Date),
    sa.Column("dias", sa.Integer),
    sa.Column("registros", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("base_legal", sa.Text, nullable=False),
    sa.Column("detalhe", sa.Text, nullable=False),
    sa.Column("aberto_em", TS, nullable=False),
    sa.Column("visto_em", TS, nullable=False),
    sa.Column("resolvido_em", TS),
    sa.CheckConstraint(
        "severidade IN ('alta', 'media', 'baixa')", name="ck_sinais_alerta_severidade"
    ),
    sa.Index(
        "ux_sinais_alerta_abertos",
        "regra",
        "contrato_id",
        unique=True,
        postgresql_where=sa.text("resolvido_em IS NULL"),
    ),
    sa.Index(
        "ix_sinais_alerta_uasg_abertos", "uasg", postgresql_where=sa.text("resolvido_em IS NULL")
    ),
    sa.Index("ix_sinais_alerta_contrato", "contrato_id"),
)


# The request budget toward ComprasNet shared by every run and process (one row per server
# origin): a GCRA schedule, ``proximo`` being the theoretical start of the next request, and the
# pause a 429 asked for. Clocked by the database (``clock_timestamp()``), not by the hosts.
orcamento_requisicoes = sa.Table(
    "orcamento_requisicoes",
    metadata,
    sa.Column("nome", sa.Text, primary_key=True),
    sa.Column("proximo", TS, nullable=False),
    sa.Column("pausado_ate", TS),
    sa.Column("requisicoes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("pausas", sa.BigInteger, nullable=False, server_default="0"),
)

# A tab that failed for one contract (after the client's retries): consecutive failures, since
# when, and when it is due again (growing back-off). Deleted when the tab is stored again.
abas_falhas = sa.Table(
    "abas_falhas",
    metadata,
    sa.Column("contrato_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("aba", sa.Text, primary_key=True),
    sa.Column("falhas", sa.Integer, nullable=False),
    sa.Column("primeira_falha_em", TS, nullable=False),
    sa.Column("ultima_falha_em", TS, nullable=False),
    sa.Column("proxima_tentativa_em", TS, nullable=False),
    sa.Column("status", sa.Integer),  # the last HTTP status, if any
    sa.Column("erro", sa.Text, nullable=False),
)
