"""contratos_alteracoes (field-level change history) and the view alteracoes_recentes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The portal's recent changes: every event of the last 30 days with the contract's número and
# fornecedor and the UASG's name; ``ultimos_7_dias`` marks the last week. The values also as
# display text (money exact, dates ISO). Inlined on purpose: a migration keeps its meaning.
ALTERACOES_RECENTES = """
CREATE VIEW alteracoes_recentes AS
SELECT a.uasg,
       coalesce(u.nome, c.unidade_gestora_nome) AS unidade_nome,
       a.contrato_id,
       c.numero,
       c.fornecedor_nome,
       a.visto_em,
       a.visto_em >= now() - interval '7 days' AS ultimos_7_dias,
       a.origem,
       a.registro_id,
       a.evento,
       a.campo,
       coalesce(a.valor_anterior_numerico::text, to_char(a.valor_anterior_data, 'YYYY-MM-DD'),
                a.valor_anterior_texto) AS valor_anterior,
       coalesce(a.valor_novo_numerico::text, to_char(a.valor_novo_data, 'YYYY-MM-DD'),
                a.valor_novo_texto) AS valor_novo,
       a.valor_anterior_texto,
       a.valor_novo_texto,
       a.valor_anterior_numerico,
       a.valor_novo_numerico,
       a.valor_anterior_data,
       a.valor_novo_data,
       a.run_id
FROM contratos_alteracoes a
JOIN contratos c ON c.id = a.contrato_id
LEFT JOIN unidades u ON u.codigo = a.uasg
WHERE a.visto_em >= now() - interval '30 days'
"""


def upgrade() -> None:
    op.create_table(
        "contratos_alteracoes",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("visto_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uasg", sa.String(length=6), nullable=False),
        sa.Column("origem", sa.Text(), nullable=False),
        sa.Column("registro_id", sa.BigInteger(), nullable=False),
        sa.Column("evento", sa.Text(), nullable=False),
        sa.Column("campo", sa.Text(), nullable=False),
        sa.Column("valor_anterior_texto", sa.Text(), nullable=True),
        sa.Column("valor_novo_texto", sa.Text(), nullable=True),
        sa.Column("valor_anterior_numerico", sa.Numeric(), nullable=True),
        sa.Column("valor_novo_numerico", sa.Numeric(), nullable=True),
        sa.Column("valor_anterior_data", sa.Date(), nullable=True),
        sa.Column("valor_novo_data", sa.Date(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "origem", "registro_id", "campo", "visto_em"),
        sa.CheckConstraint(
            "evento IN ('inserido', 'alterado', 'removido', 'reaparecido')",
            name="ck_contratos_alteracoes_evento",
        ),
        sa.CheckConstraint(
            "origem IN ('contrato', 'historico', 'empenhos')",
            name="ck_contratos_alteracoes_origem",
        ),
    )
    op.create_index(
        "ix_contratos_alteracoes_uasg_visto_em", "contratos_alteracoes", ["uasg", "visto_em"]
    )
    op.create_index("ix_contratos_alteracoes_visto_em", "contratos_alteracoes", ["visto_em"])
    op.execute(ALTERACOES_RECENTES)


def downgrade() -> None:
    op.execute("DROP VIEW alteracoes_recentes")
    op.drop_index("ix_contratos_alteracoes_visto_em", table_name="contratos_alteracoes")
    op.drop_index("ix_contratos_alteracoes_uasg_visto_em", table_name="contratos_alteracoes")
    op.drop_table("contratos_alteracoes")
