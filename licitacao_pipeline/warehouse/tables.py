"""Warehouse schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` create it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from licitacao_pipeline.comprasnet import abas, parsing

metadata = sa.MetaData()

Money = sa.Numeric(18, 2)
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
TS = sa.DateTime(timezone=True)

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
    sa.Column("historico_atualizado_em", TS),
    sa.Column("empenhos_atualizado_em", TS),
    sa.Column("itens_atualizado_em", TS),
    sa.Column("arquivos_atualizado_em", TS),
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
)


def _aba_table(spec: abas.AbaSpec) -> sa.Table:
    types = {
        parsing.text: sa.Text,
        abas.text_or_number: sa.Text,
        parsing.day: sa.Date,
        parsing.money: Money,
        parsing.integer: sa.BigInteger,
        parsing.decimal: sa.Numeric,
        parsing.timestamp: TS,
        abas.json_value: JSONB,
    }
    return sa.Table(
        f"contratos_{spec.aba}",
        metadata,
        sa.Column("contrato_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        *(sa.Column(name, types[conv]) for name, (conv, _) in spec.columns.items()),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("primeiro_visto_em", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("atualizado_em", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("removido_em", TS),
    )


ABA_TABLES: dict[str, sa.Table] = {aba: _aba_table(spec) for aba, spec in abas.SPECS.items()}
