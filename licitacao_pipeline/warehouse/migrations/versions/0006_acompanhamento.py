"""acompanhamento (contract follow-up imported from spreadsheets), carried by painel_contratos

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Both definitions inlined on purpose: a migration must keep meaning what it meant when it was
# written. 0006 = 0005's view + the follow-up columns (NULL for a contract without follow-up).
PAINEL_CONTRATOS_0006 = """
CREATE MATERIALIZED VIEW painel_contratos AS
WITH hoje AS (SELECT (now() AT TIME ZONE 'America/Sao_Paulo')::date AS dia),
empenhos AS (
    SELECT contrato_id,
           sum(empenhado) AS empenhado,
           sum(liquidado) AS liquidado,
           sum(pago) AS pago
    FROM contratos_empenhos
    WHERE removido_em IS NULL
    GROUP BY contrato_id
)
SELECT c.id AS contrato_id,
       c.uasg,
       coalesce(u.nome, c.unidade_gestora_nome) AS unidade_nome,
       c.numero,
       c.fornecedor_cnpj_cpf_idgener AS fornecedor_documento,
       c.fornecedor_nome,
       c.objeto,
       c.situacao,
       c.valor_inicial,
       c.valor_global,
       c.valor_acumulado,
       c.vigencia_inicio,
       c.vigencia_fim,
       hoje.dia AS data_referencia,
       c.vigencia_fim - hoje.dia AS dias_para_fim,
       coalesce(c.situacao = 'Ativo'
                AND hoje.dia BETWEEN c.vigencia_inicio AND c.vigencia_fim, false) AS em_vigor,
       coalesce(e.empenhado, 0) AS total_empenhado,
       coalesce(e.liquidado, 0) AS total_liquidado,
       coalesce(e.pago, 0) AS total_pago,
       a.gestor,
       a.fiscal,
       a.prioridade,
       a.observacao,
       a.alertar_em
FROM contratos c
CROSS JOIN hoje
LEFT JOIN empenhos e ON e.contrato_id = c.id
LEFT JOIN unidades u ON u.codigo = c.uasg
LEFT JOIN acompanhamento a ON a.contrato_id = c.id
WHERE c.removido_em IS NULL
WITH DATA
"""

PAINEL_CONTRATOS_0005 = """
CREATE MATERIALIZED VIEW painel_contratos AS
WITH hoje AS (SELECT (now() AT TIME ZONE 'America/Sao_Paulo')::date AS dia),
empenhos AS (
    SELECT contrato_id,
           sum(empenhado) AS empenhado,
           sum(liquidado) AS liquidado,
           sum(pago) AS pago
    FROM contratos_empenhos
    WHERE removido_em IS NULL
    GROUP BY contrato_id
)
SELECT c.id AS contrato_id,
       c.uasg,
       coalesce(u.nome, c.unidade_gestora_nome) AS unidade_nome,
       c.numero,
       c.fornecedor_cnpj_cpf_idgener AS fornecedor_documento,
       c.fornecedor_nome,
       c.objeto,
       c.situacao,
       c.valor_inicial,
       c.valor_global,
       c.valor_acumulado,
       c.vigencia_inicio,
       c.vigencia_fim,
       hoje.dia AS data_referencia,
       c.vigencia_fim - hoje.dia AS dias_para_fim,
       coalesce(c.situacao = 'Ativo'
                AND hoje.dia BETWEEN c.vigencia_inicio AND c.vigencia_fim, false) AS em_vigor,
       coalesce(e.empenhado, 0) AS total_empenhado,
       coalesce(e.liquidado, 0) AS total_liquidado,
       coalesce(e.pago, 0) AS total_pago
FROM contratos c
CROSS JOIN hoje
LEFT JOIN empenhos e ON e.contrato_id = c.id
LEFT JOIN unidades u ON u.codigo = c.uasg
WHERE c.removido_em IS NULL
WITH DATA
"""


def _create_view(definition: str) -> None:
    op.execute(definition)
    # REFRESH ... CONCURRENTLY needs a unique index over every row.
    op.execute("CREATE UNIQUE INDEX ux_painel_contratos_contrato ON painel_contratos (contrato_id)")
    op.execute("CREATE INDEX ix_painel_contratos_uasg ON painel_contratos (uasg)")
    op.execute("CREATE INDEX ix_painel_contratos_vigencia_fim ON painel_contratos (vigencia_fim)")


def upgrade() -> None:
    op.create_table(
        "acompanhamento",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("uasg", sa.String(length=6), nullable=False),
        sa.Column("numero", sa.Text(), nullable=False),
        sa.Column("gestor", sa.Text(), nullable=True),
        sa.Column("fiscal", sa.Text(), nullable=True),
        sa.Column("prioridade", sa.Text(), nullable=True),
        sa.Column("observacao", sa.Text(), nullable=True),
        sa.Column("alertar_em", sa.Date(), nullable=True),
        sa.Column(
            "importado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "prioridade IN ('alta', 'media', 'baixa')", name="ck_acompanhamento_prioridade"
        ),
        sa.ForeignKeyConstraint(["contrato_id"], ["contratos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contrato_id"),
    )
    op.create_index("ix_acompanhamento_uasg", "acompanhamento", ["uasg"])
    op.create_index("ix_acompanhamento_alertar_em", "acompanhamento", ["alertar_em"])
    # The view's indexes go with it.
    op.execute("DROP MATERIALIZED VIEW painel_contratos")
    _create_view(PAINEL_CONTRATOS_0006)


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW painel_contratos")
    _create_view(PAINEL_CONTRATOS_0005)
    op.drop_index("ix_acompanhamento_alertar_em", table_name="acompanhamento")
    op.drop_index("ix_acompanhamento_uasg", table_name="acompanhamento")
    op.drop_table("acompanhamento")
