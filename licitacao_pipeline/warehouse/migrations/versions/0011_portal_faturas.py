"""portal: faturas totals (paid, to pay, glosa, overdue unpaid) and active responsáveis per
contract in painel_contratos and the statistics; the report table garantias_a_vencer

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Inlined on purpose: a migration must keep meaning what it meant when it was written.
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

PAINEL_CONTRATOS_0011 = """
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
),
faturas AS (
    SELECT f.contrato_id,
           sum(f.valorliquido) FILTER (WHERE f.situacao = 'Pago') AS pago,
           sum(f.valorliquido) FILTER (WHERE f.situacao IS DISTINCT FROM 'Pago') AS a_pagar,
           sum(f.glosa) AS glosa,
           count(*) FILTER (WHERE f.situacao IS DISTINCT FROM 'Pago'
                              AND f.vencimento < hoje.dia) AS vencidas
    FROM contratos_faturas f CROSS JOIN hoje
    WHERE f.removido_em IS NULL
    GROUP BY f.contrato_id
),
responsaveis AS (
    SELECT contrato_id, count(*) AS ativos
    FROM contratos_responsaveis
    WHERE removido_em IS NULL AND situacao = 'Ativo'
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
       a.alertar_em,
       coalesce(f.pago, 0) AS faturas_pago,
       coalesce(f.a_pagar, 0) AS faturas_a_pagar,
       coalesce(f.glosa, 0) AS faturas_glosa,
       coalesce(f.vencidas, 0) AS faturas_vencidas_nao_pagas,
       coalesce(r.ativos, 0) AS responsaveis_ativos
FROM contratos c
CROSS JOIN hoje
LEFT JOIN empenhos e ON e.contrato_id = c.id
LEFT JOIN unidades u ON u.codigo = c.uasg
LEFT JOIN acompanhamento a ON a.contrato_id = c.id
LEFT JOIN faturas f ON f.contrato_id = c.id
LEFT JOIN responsaveis r ON r.contrato_id = c.id
WHERE c.removido_em IS NULL
WITH DATA
"""


def _create_view(definition: str) -> None:
    op.execute(definition)
    # REFRESH ... CONCURRENTLY needs a unique index over every row.
    op.execute("CREATE UNIQUE INDEX ux_painel_contratos_contrato ON painel_contratos (contrato_id)")
    op.execute("CREATE INDEX ix_painel_contratos_uasg ON painel_contratos (uasg)")
    op.execute("CREATE INDEX ix_painel_contratos_vigencia_fim ON painel_contratos (vigencia_fim)")


_ESTATISTICAS = ("faturas_pago", "faturas_a_pagar", "faturas_glosa")


def upgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW painel_contratos")
    _create_view(PAINEL_CONTRATOS_0011)
    for name in _ESTATISTICAS:
        op.add_column(
            "estatisticas_contratos",
            sa.Column(name, sa.Numeric(), server_default="0", nullable=False),
        )
    op.create_table(
        "garantias_a_vencer",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("garantia_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("uasg", sa.String(length=6), nullable=False),
        sa.Column("unidade_nome", sa.Text(), nullable=True),
        sa.Column("numero", sa.Text(), nullable=True),
        sa.Column("fornecedor_nome", sa.Text(), nullable=True),
        sa.Column("tipo", sa.Text(), nullable=True),
        sa.Column("valor", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("vencimento", sa.Date(), nullable=False),
        sa.Column("dias_para_vencimento", sa.Integer(), nullable=False),
        sa.Column("vigencia_fim", sa.Date(), nullable=True),
        sa.Column("data_referencia", sa.Date(), nullable=False),
        sa.Column("gerado_em", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contrato_id", "garantia_id"),
    )
    op.create_index("ix_garantias_a_vencer_uasg", "garantias_a_vencer", ["uasg"])


def downgrade() -> None:
    op.drop_index("ix_garantias_a_vencer_uasg", table_name="garantias_a_vencer")
    op.drop_table("garantias_a_vencer")
    for name in _ESTATISTICAS:
        op.drop_column("estatisticas_contratos", name)
    op.execute("DROP MATERIALIZED VIEW painel_contratos")
    _create_view(PAINEL_CONTRATOS_0006)
