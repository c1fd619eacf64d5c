"""portal: painel_contratos (materialized view), estatisticas_contratos, metricas_painel,
contratos_a_vencer

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 20:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# One row per stored contract that is not removed. "Today" is São Paulo's date at refresh time;
# in force = situacao 'Ativo' and today within vigência (a missing date is not in force).
# Inlined on purpose: a migration must keep meaning what it meant when it was written.
PAINEL_CONTRATOS = """
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


def upgrade() -> None:
    op.execute(PAINEL_CONTRATOS)
    # REFRESH ... CONCURRENTLY needs a unique index over every row.
    op.execute("CREATE UNIQUE INDEX ux_painel_contratos_contrato ON painel_contratos (contrato_id)")
    op.execute("CREATE INDEX ix_painel_contratos_uasg ON painel_contratos (uasg)")
    op.execute("CREATE INDEX ix_painel_contratos_vigencia_fim ON painel_contratos (vigencia_fim)")

    op.create_table(
        "estatisticas_contratos",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("calculado_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_referencia", sa.Date(), nullable=False),
        sa.Column("uasg", sa.String(length=6), nullable=True),
        sa.Column("contratos", sa.Integer(), nullable=False),
        sa.Column("contratos_vigentes", sa.Integer(), nullable=False),
        sa.Column("valor_global_vigentes", sa.Numeric(), nullable=False),
        sa.Column("total_empenhado", sa.Numeric(), nullable=False),
        sa.Column("total_liquidado", sa.Numeric(), nullable=False),
        sa.Column("total_pago", sa.Numeric(), nullable=False),
        sa.Column("vencendo_30_dias", sa.Integer(), nullable=False),
        sa.Column("vencendo_60_dias", sa.Integer(), nullable=False),
        sa.Column("vencendo_90_dias", sa.Integer(), nullable=False),
        sa.Column(
            "maiores_fornecedores",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_estatisticas_contratos_calculado_em", "estatisticas_contratos", ["calculado_em"]
    )
    op.create_index(
        "ix_estatisticas_contratos_uasg", "estatisticas_contratos", ["uasg", "calculado_em"]
    )

    op.create_table(
        "metricas_painel",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("calculado_em", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uasg", sa.String(length=6), nullable=True),
        sa.Column("contratos", sa.Integer(), nullable=False),
        sa.Column("ultima_sincronizacao_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("historico_atualizado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("empenhos_atualizado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("itens_atualizado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arquivos_atualizado_em", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uasgs_nunca_sincronizadas", sa.Integer(), nullable=True),
        sa.Column("runs_com_falha_24h", sa.Integer(), nullable=True),
        sa.Column("runs_na_fila", sa.Integer(), nullable=True),
        sa.Column("runs_em_execucao", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_metricas_painel_calculado_em", "metricas_painel", ["calculado_em"])
    op.create_index("ix_metricas_painel_uasg", "metricas_painel", ["uasg", "calculado_em"])

    op.create_table(
        "contratos_a_vencer",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("uasg", sa.String(length=6), nullable=False),
        sa.Column("unidade_nome", sa.Text(), nullable=True),
        sa.Column("numero", sa.Text(), nullable=True),
        sa.Column("fornecedor_documento", sa.Text(), nullable=True),
        sa.Column("fornecedor_nome", sa.Text(), nullable=True),
        sa.Column("objeto", sa.Text(), nullable=True),
        sa.Column("valor_global", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("vigencia_fim", sa.Date(), nullable=False),
        sa.Column("dias_para_fim", sa.Integer(), nullable=False),
        sa.Column("faixa_dias", sa.Integer(), nullable=False),
        sa.Column("data_referencia", sa.Date(), nullable=False),
        sa.Column("gerado_em", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contrato_id"),
    )
    op.create_index("ix_contratos_a_vencer_uasg", "contratos_a_vencer", ["uasg"])


def downgrade() -> None:
    op.drop_index("ix_contratos_a_vencer_uasg", table_name="contratos_a_vencer")
    op.drop_table("contratos_a_vencer")
    op.drop_index("ix_metricas_painel_uasg", table_name="metricas_painel")
    op.drop_index("ix_metricas_painel_calculado_em", table_name="metricas_painel")
    op.drop_table("metricas_painel")
    op.drop_index("ix_estatisticas_contratos_uasg", table_name="estatisticas_contratos")
    op.drop_index("ix_estatisticas_contratos_calculado_em", table_name="estatisticas_contratos")
    op.drop_table("estatisticas_contratos")
    op.execute("DROP MATERIALIZED VIEW painel_contratos")
