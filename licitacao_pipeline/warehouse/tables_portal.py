"""Tables of the portal (migrations 0005 and 0011): statistics and metrics snapshots and the
daily reports. The materialized view ``painel_contratos`` is created there with SQL (it is not a
table); these are written from it."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from licitacao_pipeline.comprasnet import abas
from licitacao_pipeline.warehouse.schema import TS, Money, Total, metadata

# One row per UASG per refresh, plus an overall row (uasg NULL); pruned by the cleanup job.
estatisticas_contratos = sa.Table(
    "estatisticas_contratos",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("calculado_em", TS, nullable=False),
    sa.Column("data_referencia", sa.Date, nullable=False),  # "today" in São Paulo
    sa.Column("uasg", sa.String(6)),
    sa.Column("contratos", sa.Integer, nullable=False),
    sa.Column("contratos_vigentes", sa.Integer, nullable=False),
    sa.Column("valor_global_vigentes", Total, nullable=False),
    sa.Column("total_empenhado", Total, nullable=False),
    sa.Column("total_liquidado", Total, nullable=False),
    sa.Column("total_pago", Total, nullable=False),
    sa.Column("vencendo_30_dias", sa.Integer, nullable=False),
    sa.Column("vencendo_60_dias", sa.Integer, nullable=False),
    sa.Column("vencendo_90_dias", sa.Integer, nullable=False),
    sa.Column("maiores_fornecedores", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    # what the faturas say (migration 0011): paid, still to pay, withheld (glosa)
    sa.Column("faturas_pago", Total, nullable=False, server_default="0"),
    sa.Column("faturas_a_pagar", Total, nullable=False, server_default="0"),
    sa.Column("faturas_glosa", Total, nullable=False, server_default="0"),
    sa.Index("ix_estatisticas_contratos_calculado_em", "calculado_em"),
    sa.Index("ix_estatisticas_contratos_uasg", "uasg", "calculado_em"),
)

# One row per UASG per evaluation, plus an overall row (uasg NULL) that also carries the run
# counts; on it the timestamps are the oldest among the UASGs (the worst lag).
metricas_painel = sa.Table(
    "metricas_painel",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("calculado_em", TS, nullable=False),
    sa.Column("uasg", sa.String(6)),
    sa.Column("contratos", sa.Integer, nullable=False),
    sa.Column("ultima_sincronizacao_em", TS),
    *(sa.Column(f"{aba}_atualizado_em", TS) for aba in abas.ABAS),
    sa.Column("uasgs_nunca_sincronizadas", sa.Integer),
    sa.Column("runs_com_falha_24h", sa.Integer),
    sa.Column("runs_na_fila", sa.Integer),
    sa.Column("runs_em_execucao", sa.Integer),
    sa.Index("ix_metricas_painel_calculado_em", "calculado_em"),
    sa.Index("ix_metricas_painel_uasg", "uasg", "calculado_em"),
)

# The latest report of contracts in force whose vigência ends within 90 days (replaced whole).
contratos_a_vencer = sa.Table(
    "contratos_a_vencer",
    metadata,
    sa.Column("contrato_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("uasg", sa.String(6), nullable=False),
    sa.Column("unidade_nome", sa.Text),
    sa.Column("numero", sa.Text),
    sa.Column("fornecedor_documento", sa.Text),
    sa.Column("fornecedor_nome", sa.Text),
    sa.Column("objeto", sa.Text),
    sa.Column("valor_global", Money),
    sa.Column("vigencia_fim", sa.Date, nullable=False),
    sa.Column("dias_para_fim", sa.Integer, nullable=False),
    sa.Column("faixa_dias", sa.Integer, nullable=False),  # 30, 60 or 90: the smallest that fits
    sa.Column("data_referencia", sa.Date, nullable=False),
    sa.Column("gerado_em", TS, nullable=False),
    sa.Index("ix_contratos_a_vencer_uasg", "uasg"),
)

# The latest report of guarantees (tab garantias) of contracts in force that expire within 90
# days or already expired (dias_para_vencimento < 0): replaced whole, with contratos_a_vencer.
garantias_a_vencer = sa.Table(
    "garantias_a_vencer",
    metadata,
    sa.Column("contrato_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("garantia_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("uasg", sa.String(6), nullable=False),
    sa.Column("unidade_nome", sa.Text),
    sa.Column("numero", sa.Text),
    sa.Column("fornecedor_nome", sa.Text),
    sa.Column("tipo", sa.Text),
    sa.Column("valor", Money),
    sa.Column("vencimento", sa.Date, nullable=False),
    sa.Column("dias_para_vencimento", sa.Integer, nullable=False),
    sa.Column("vigencia_fim", sa.Date),
    sa.Column("data_referencia", sa.Date, nullable=False),
    sa.Column("gerado_em", TS, nullable=False),
    sa.Index("ix_garantias_a_vencer_uasg", "uasg"),
)
