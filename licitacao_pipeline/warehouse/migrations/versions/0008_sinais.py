"""sinais_alerta (red flags: open, seen, resolved), the view sinais_abertos; alertas.tipo and
alertas.detalhes (an alert is a failed run or a UASG's new red flags)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The open flags with what people read beside them: the UASG's name, the contract's número and
# fornecedor. Inlined on purpose: a migration keeps its meaning.
SINAIS_ABERTOS = """
CREATE VIEW sinais_abertos AS
SELECT s.id, s.regra, s.severidade, s.uasg,
       coalesce(u.nome, c.unidade_gestora_nome) AS unidade_nome,
       s.contrato_id, c.numero, c.fornecedor_nome,
       s.valor_referencia, s.valor_apurado, s.percentual, s.limite,
       s.data_referencia, s.data_limite, s.dias, s.registros, s.base_legal, s.detalhe,
       s.aberto_em, s.visto_em
FROM sinais_alerta s
JOIN contratos c ON c.id = s.contrato_id
LEFT JOIN unidades u ON u.codigo = s.uasg
WHERE s.resolvido_em IS NULL
"""


def upgrade() -> None:
    op.create_table(
        "sinais_alerta",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("regra", sa.Text(), nullable=False),
        sa.Column("contrato_id", sa.BigInteger(), nullable=False),
        sa.Column("uasg", sa.String(length=6), nullable=False),
        sa.Column("severidade", sa.Text(), nullable=False),
        sa.Column("valor_referencia", sa.Numeric(), nullable=True),
        sa.Column("valor_apurado", sa.Numeric(), nullable=True),
        sa.Column("percentual", sa.Numeric(12, 4), nullable=True),
        sa.Column("limite", sa.Numeric(), nullable=True),
        sa.Column("data_referencia", sa.Date(), nullable=True),
        sa.Column("data_limite", sa.Date(), nullable=True),
        sa.Column("dias", sa.Integer(), nullable=True),
        sa.Column(
            "registros",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("base_legal", sa.Text(), nullable=False),
        sa.Column("detalhe", sa.Text(), nullable=False),
        sa.Column("aberto_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visto_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolvido_em", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "severidade IN ('alta', 'media', 'baixa')", name="ck_sinais_alerta_severidade"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_sinais_alerta_abertos",
        "sinais_alerta",
        ["regra", "contrato_id"],
        unique=True,
        postgresql_where=sa.text("resolvido_em IS NULL"),
    )
    op.create_index(
        "ix_sinais_alerta_uasg_abertos",
        "sinais_alerta",
        ["uasg"],
        postgresql_where=sa.text("resolvido_em IS NULL"),
    )
    op.create_index("ix_sinais_alerta_contrato", "sinais_alerta", ["contrato_id"])
    op.execute(SINAIS_ABERTOS)
    op.add_column("alertas", sa.Column("tipo", sa.Text(), server_default="falha", nullable=False))
    op.add_column(
        "alertas",
        sa.Column(
            "detalhes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("alertas", "detalhes")
    op.drop_column("alertas", "tipo")
    op.execute("DROP VIEW sinais_abertos")
    op.drop_index("ix_sinais_alerta_contrato", table_name="sinais_alerta")
    op.drop_index("ix_sinais_alerta_uasg_abertos", table_name="sinais_alerta")
    op.drop_index("ux_sinais_alerta_abertos", table_name="sinais_alerta")
    op.drop_table("sinais_alerta")
