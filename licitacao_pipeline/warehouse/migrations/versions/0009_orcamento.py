"""orcamento_requisicoes (the request budget toward ComprasNet shared by every process) and
abas_falhas (a contract's tab that keeps failing: consecutive failures and its back-off)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orcamento_requisicoes",
        sa.Column("nome", sa.Text(), nullable=False),
        sa.Column("proximo", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pausado_ate", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requisicoes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pausas", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("nome"),
    )
    op.create_table(
        "abas_falhas",
        sa.Column("contrato_id", sa.BigInteger(), nullable=False),
        sa.Column("aba", sa.Text(), nullable=False),
        sa.Column("falhas", sa.Integer(), nullable=False),
        sa.Column("primeira_falha_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ultima_falha_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proxima_tentativa_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("erro", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("contrato_id", "aba"),
    )


def downgrade() -> None:
    op.drop_table("abas_falhas")
    op.drop_table("orcamento_requisicoes")
