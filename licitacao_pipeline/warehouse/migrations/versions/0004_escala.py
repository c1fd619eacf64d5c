"""unidades, removido_motivo, deduplicated rejects, alert retry time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unidades",
        sa.Column("codigo", sa.String(length=6), nullable=False),
        sa.Column("nome", sa.Text(), nullable=False),
        sa.Column("nome_resumido", sa.Text(), nullable=True),
        sa.Column("orgao_codigo", sa.Text(), nullable=True),
        sa.Column("orgao_nome", sa.Text(), nullable=True),
        sa.Column(
            "atualizado_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("codigo"),
    )
    # Names the rows already stored know (newest record per UASG).
    op.execute(
        """
        INSERT INTO unidades (codigo, nome, nome_resumido, orgao_codigo, orgao_nome)
        SELECT DISTINCT ON (uasg) uasg, unidade_gestora_nome, unidade_gestora_nome_resumido,
               orgao_codigo, orgao_nome
        FROM contratos WHERE unidade_gestora_nome IS NOT NULL
        ORDER BY uasg, atualizado_em DESC
        """
    )
    op.add_column("contratos", sa.Column("removido_motivo", sa.Text(), nullable=True))
    op.execute(
        "UPDATE contratos SET removido_motivo = 'ausente_da_listagem' WHERE removido_em IS NOT NULL"
    )

    op.add_column(
        "rejected_records",
        sa.Column(
            "ultima_vez_em",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column(
        "rejected_records",
        sa.Column("ocorrencias", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column("rejected_records", sa.Column("chave", sa.String(length=64), nullable=True))
    # A key of the same parts as warehouse.rejects.reject_row (not byte-identical: an old reject
    # seen again after the upgrade gets one new row), then one row per key.
    op.execute(
        """
        UPDATE rejected_records SET ultima_vez_em = rejected_at, chave = encode(sha256(convert_to(
            concat_ws(chr(31), source, coalesce(uasg, ''), coalesce(record_id, ''),
                      coalesce(payload::text, '')), 'UTF8')), 'hex')
        """
    )
    op.execute(
        """
        WITH agg AS (
            SELECT chave, max(id) AS keep, min(rejected_at) AS first, count(*) AS n
            FROM rejected_records GROUP BY chave HAVING count(*) > 1)
        UPDATE rejected_records r SET rejected_at = agg.first, ocorrencias = agg.n
        FROM agg WHERE r.id = agg.keep
        """
    )
    op.execute(
        """
        DELETE FROM rejected_records r USING rejected_records k
        WHERE r.chave = k.chave AND r.id < k.id
        """
    )
    op.alter_column("rejected_records", "chave", nullable=False)
    op.create_unique_constraint("rejected_records_chave_key", "rejected_records", ["chave"])

    op.add_column(
        "alertas", sa.Column("ultima_tentativa_em", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("alertas", "ultima_tentativa_em")
    op.drop_constraint("rejected_records_chave_key", "rejected_records", type_="unique")
    op.drop_column("rejected_records", "chave")
    op.drop_column("rejected_records", "ocorrencias")
    op.drop_column("rejected_records", "ultima_vez_em")
    op.drop_column("contratos", "removido_motivo")
    op.drop_table("unidades")
