"""every tab the API offers: the tables of faturas, garantias, cronograma, responsaveis,
prepostos, despesas_acessorias, ocorrencias and terceirizados, their timestamps on contratos and
metricas_painel, and the change history's new origins (faturas, garantias, responsaveis)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:33:31
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


_ORIGEM = "ck_contratos_alteracoes_origem"
_ORIGENS_ANTES = "'contrato', 'historico', 'empenhos'"
_ORIGENS = "'contrato', 'historico', 'empenhos', 'faturas', 'garantias', 'responsaveis'"


def upgrade() -> None:
    op.drop_constraint(_ORIGEM, "contratos_alteracoes", type_="check")
    op.create_check_constraint(_ORIGEM, "contratos_alteracoes", f"origem IN ({_ORIGENS})")
    op.create_table(
        "contratos_cronograma",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tipo", sa.Text(), nullable=True),
        sa.Column("numero", sa.Text(), nullable=True),
        sa.Column("receita_despesa", sa.Text(), nullable=True),
        sa.Column("observacao", sa.Text(), nullable=True),
        sa.Column("mesref", sa.Text(), nullable=True),
        sa.Column("anoref", sa.Text(), nullable=True),
        sa.Column("vencimento", sa.Date(), nullable=True),
        sa.Column("retroativo", sa.Boolean(), nullable=True),
        sa.Column("valor", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.create_table(
        "contratos_despesas_acessorias",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tipo_id", sa.Text(), nullable=True),
        sa.Column("recorrencia_id", sa.Text(), nullable=True),
        sa.Column("descricao_complementar", sa.Text(), nullable=True),
        sa.Column("vencimento", sa.Date(), nullable=True),
        sa.Column("valor", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.create_table(
        "contratos_faturas",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tipolistafatura_id", sa.Text(), nullable=True),
        sa.Column("justificativafatura_id", sa.Text(), nullable=True),
        sa.Column("sfadrao_id", sa.Text(), nullable=True),
        sa.Column("numero", sa.Text(), nullable=True),
        sa.Column("processo", sa.Text(), nullable=True),
        sa.Column("infcomplementar", sa.Text(), nullable=True),
        sa.Column("mesref", sa.Text(), nullable=True),
        sa.Column("anoref", sa.Text(), nullable=True),
        sa.Column("emissao", sa.Date(), nullable=True),
        sa.Column("prazo", sa.Date(), nullable=True),
        sa.Column("vencimento", sa.Date(), nullable=True),
        sa.Column("protocolo", sa.Date(), nullable=True),
        sa.Column("ateste", sa.Date(), nullable=True),
        sa.Column("valor", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("juros", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("multa", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("glosa", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("valorliquido", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("repactuacao", sa.Boolean(), nullable=True),
        sa.Column("situacao", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.create_table(
        "contratos_garantias",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tipo", sa.Text(), nullable=True),
        sa.Column("valor", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("vencimento", sa.Date(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.create_table(
        "contratos_ocorrencias",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("numero", sa.BigInteger(), nullable=True),
        sa.Column("usuario_cpf", sa.Text(), nullable=True),
        sa.Column("usuario_nome", sa.Text(), nullable=True),
        sa.Column("data", sa.Date(), nullable=True),
        sa.Column("ocorrencia", sa.Text(), nullable=True),
        sa.Column("emailpreposto", sa.Text(), nullable=True),
        sa.Column("notificapreposto", sa.Boolean(), nullable=True),
        sa.Column("numeroocorrencia", sa.Text(), nullable=True),
        sa.Column("novasituacao", sa.Text(), nullable=True),
        sa.Column("situacao", sa.Text(), nullable=True),
        sa.Column("arquivos", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.create_table(
        "contratos_prepostos",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("usuario_cpf", sa.Text(), nullable=True),
        sa.Column("usuario_nome", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("telefonefixo", sa.Text(), nullable=True),
        sa.Column("celular", sa.Text(), nullable=True),
        sa.Column("doc_formalizacao", sa.Text(), nullable=True),
        sa.Column("informacao_complementar", sa.Text(), nullable=True),
        sa.Column("situacao", sa.Text(), nullable=True),
        sa.Column("data_inicio", sa.Date(), nullable=True),
        sa.Column("data_fim", sa.Date(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.create_table(
        "contratos_responsaveis",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("usuario_cpf", sa.Text(), nullable=True),
        sa.Column("usuario_nome", sa.Text(), nullable=True),
        sa.Column("funcao_id", sa.Text(), nullable=True),
        sa.Column("instalacao_id", sa.Text(), nullable=True),
        sa.Column("portaria", sa.Text(), nullable=True),
        sa.Column("situacao", sa.Text(), nullable=True),
        sa.Column("telefone_fixo", sa.Text(), nullable=True),
        sa.Column("telefone_celular", sa.Text(), nullable=True),
        sa.Column("data_inicio", sa.Date(), nullable=True),
        sa.Column("data_fim", sa.Date(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.create_table(
        "contratos_terceirizados",
        sa.Column("contrato_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("usuario_cpf", sa.Text(), nullable=True),
        sa.Column("usuario_nome", sa.Text(), nullable=True),
        sa.Column("funcao_id", sa.Text(), nullable=True),
        sa.Column("escolaridade_id", sa.Text(), nullable=True),
        sa.Column("descricao_complementar", sa.Text(), nullable=True),
        sa.Column("unidade", sa.Text(), nullable=True),
        sa.Column("situacao", sa.Text(), nullable=True),
        sa.Column("telefone_fixo", sa.Text(), nullable=True),
        sa.Column("telefone_celular", sa.Text(), nullable=True),
        sa.Column("jornada", sa.BigInteger(), nullable=True),
        sa.Column("salario", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("custo", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("aux_transporte", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("vale_alimentacao", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("data_inicio", sa.Date(), nullable=True),
        sa.Column("data_fim", sa.Date(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "primeiro_visto_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removido_em", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("contrato_id", "id"),
    )
    op.add_column(
        "contratos", sa.Column("faturas_atualizado_em", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "contratos", sa.Column("garantias_atualizado_em", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "contratos",
        sa.Column("cronograma_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "contratos",
        sa.Column("responsaveis_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "contratos", sa.Column("prepostos_atualizado_em", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "contratos",
        sa.Column("despesas_acessorias_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "contratos",
        sa.Column("ocorrencias_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "contratos",
        sa.Column("terceirizados_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("faturas_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("garantias_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("cronograma_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("responsaveis_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("prepostos_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("despesas_acessorias_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("ocorrencias_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "metricas_painel",
        sa.Column("terceirizados_atualizado_em", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM contratos_alteracoes WHERE origem IN ('faturas', 'garantias', 'responsaveis')"
    )
    op.drop_constraint(_ORIGEM, "contratos_alteracoes", type_="check")
    op.create_check_constraint(_ORIGEM, "contratos_alteracoes", f"origem IN ({_ORIGENS_ANTES})")
    op.drop_column("metricas_painel", "terceirizados_atualizado_em")
    op.drop_column("metricas_painel", "ocorrencias_atualizado_em")
    op.drop_column("metricas_painel", "despesas_acessorias_atualizado_em")
    op.drop_column("metricas_painel", "prepostos_atualizado_em")
    op.drop_column("metricas_painel", "responsaveis_atualizado_em")
    op.drop_column("metricas_painel", "cronograma_atualizado_em")
    op.drop_column("metricas_painel", "garantias_atualizado_em")
    op.drop_column("metricas_painel", "faturas_atualizado_em")
    op.drop_column("contratos", "terceirizados_atualizado_em")
    op.drop_column("contratos", "ocorrencias_atualizado_em")
    op.drop_column("contratos", "despesas_acessorias_atualizado_em")
    op.drop_column("contratos", "prepostos_atualizado_em")
    op.drop_column("contratos", "responsaveis_atualizado_em")
    op.drop_column("contratos", "cronograma_atualizado_em")
    op.drop_column("contratos", "garantias_atualizado_em")
    op.drop_column("contratos", "faturas_atualizado_em")
    op.drop_table("contratos_terceirizados")
    op.drop_table("contratos_responsaveis")
    op.drop_table("contratos_prepostos")
    op.drop_table("contratos_ocorrencias")
    op.drop_table("contratos_garantias")
    op.drop_table("contratos_faturas")
    op.drop_table("contratos_despesas_acessorias")
    op.drop_table("contratos_cronograma")
