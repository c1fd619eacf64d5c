"""SQL of the portal: the ``painel_contratos`` materialized view (created by migration 0005),
statistics and metrics snapshots, the expiring-contracts report, a warehouse ping, purges.

Every function but ``ping`` runs inside the caller's transaction (``conn``); the use cases are
in ``licitacao_pipeline.flows.portal``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.warehouse.tables import metricas_painel

VIEW = "painel_contratos"
# Held (transaction-scoped) around every refresh of the view: one refresh at a time, whoever
# starts it (automation, UI, CLI). Two-int key space, apart from the contratos and migration locks.
_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('portal'), hashtext('painel_contratos'))")
EXPIRY_BANDS = (30, 60, 90)


def refresh_painel(conn: sa.Connection, lock_timeout_s: float) -> int:
    """Refresh the view without blocking its readers; returns its row count.

    Waits at most ``lock_timeout_s`` for another refresh (or DDL) to finish. ``CONCURRENTLY``
    needs a populated view: an unpopulated one (restored WITH NO DATA) is filled plainly once.
    """
    conn.execute(
        sa.text("SELECT set_config('lock_timeout', :t, true)"),
        {"t": f"{max(1, int(lock_timeout_s * 1000))}ms"},  # 0 would mean "wait forever"
    )
    conn.execute(_LOCK)
    populated = conn.execute(
        sa.text("SELECT relispopulated FROM pg_class WHERE oid = CAST(:v AS regclass)"), {"v": VIEW}
    ).scalar_one()
    conn.exec_driver_sql(f"REFRESH MATERIALIZED VIEW {'CONCURRENTLY ' if populated else ''}{VIEW}")
    return conn.exec_driver_sql(f"SELECT count(*) FROM {VIEW}").scalar_one()


_ESTATISTICAS = """
WITH ref AS (
    SELECT now() AS calculado_em,
           coalesce((SELECT max(data_referencia) FROM painel_contratos),
                    (now() AT TIME ZONE :tz)::date) AS dia
),
totais AS (
    SELECT p.uasg, GROUPING(p.uasg) = 1 AS geral,
           count(*) AS contratos,
           count(*) FILTER (WHERE p.em_vigor) AS contratos_vigentes,
           coalesce(sum(p.valor_global) FILTER (WHERE p.em_vigor), 0) AS valor_global_vigentes,
           coalesce(sum(p.total_empenhado), 0) AS total_empenhado,
           coalesce(sum(p.total_liquidado), 0) AS total_liquidado,
           coalesce(sum(p.total_pago), 0) AS total_pago,
           coalesce(sum(p.faturas_pago), 0) AS faturas_pago,
           coalesce(sum(p.faturas_a_pagar), 0) AS faturas_a_pagar,
           coalesce(sum(p.faturas_glosa), 0) AS faturas_glosa,
           count(*) FILTER (WHERE p.em_vigor AND p.dias_para_fim <= 30) AS vencendo_30_dias,
           count(*) FILTER (WHERE p.em_vigor AND p.dias_para_fim <= 60) AS vencendo_60_dias,
           count(*) FILTER (WHERE p.em_vigor AND p.dias_para_fim <= 90) AS vencendo_90_dias
    FROM painel_contratos p
    GROUP BY GROUPING SETS ((p.uasg), ())
),
fornecedores AS (
    SELECT p.uasg, GROUPING(p.uasg) = 1 AS geral, p.fornecedor_documento AS documento,
           max(p.fornecedor_nome) AS nome, count(*) AS contratos,
           coalesce(sum(p.valor_global), 0) AS valor_global
    FROM painel_contratos p
    WHERE p.em_vigor AND p.fornecedor_documento IS NOT NULL
    GROUP BY GROUPING SETS ((p.uasg, p.fornecedor_documento), (p.fornecedor_documento))
),
classificados AS (
    SELECT f.*, row_number() OVER (
               PARTITION BY f.geral, f.uasg ORDER BY f.valor_global DESC, f.documento
           ) AS posicao
    FROM fornecedores f
),
principais AS (
    SELECT geral, uasg,
           jsonb_agg(jsonb_build_object(
               'documento', documento, 'nome', nome, 'contratos', contratos,
               'valor_global', valor_global::text) ORDER BY posicao) AS lista
    FROM classificados WHERE posicao <= :top
    GROUP BY geral, uasg
)
INSERT INTO estatisticas_contratos (
    calculado_em, data_referencia, uasg, contratos, contratos_vigentes, valor_global_vigentes,
    total_empenhado, total_liquidado, total_pago, faturas_pago, faturas_a_pagar, faturas_glosa,
    vencendo_30_dias, vencendo_60_dias, vencendo_90_dias, maiores_fornecedores)
SELECT ref.calculado_em, ref.dia, CASE WHEN t.geral THEN NULL ELSE t.uasg END,
       t.contratos, t.contratos_vigentes, t.valor_global_vigentes,
       t.total_empenhado, t.total_liquidado, t.total_pago,
       t.faturas_pago, t.faturas_a_pagar, t.faturas_glosa,
       t.vencendo_30_dias, t.vencendo_60_dias, t.vencendo_90_dias,
       coalesce(pr.lista, '[]'::jsonb)
FROM totais t
CROSS JOIN ref
LEFT JOIN principais pr ON pr.geral = t.geral AND pr.uasg IS NOT DISTINCT FROM t.uasg
RETURNING *
"""


def insert_estatisticas(conn: sa.Connection, top: int) -> list[sa.RowMapping]:
    """One snapshot from the view: a row per UASG and an overall row (uasg NULL) first."""
    rows = conn.execute(sa.text(_ESTATISTICAS), {"tz": TIMEZONE, "top": top}).mappings().all()
    return sorted(rows, key=lambda r: (r["uasg"] is not None, r["uasg"] or ""))


_TAB_TIMES = ", ".join(
    f"max({aba}_atualizado_em) FILTER (WHERE removido_em IS NULL) AS {aba}_atualizado_em"
    for aba in ABAS
)
# contratos only (one row per contract, grouped by its UASG): the tab tables are not read.
_POR_UASG = f"""
SELECT uasg, count(*) FILTER (WHERE removido_em IS NULL) AS contratos, {_TAB_TIMES}
FROM contratos GROUP BY uasg
"""


def contracts_per_uasg(conn: sa.Connection) -> dict[str, Mapping[str, Any]]:
    """Per UASG: stored contracts not removed and the newest sync of each of their tabs."""
    return {r["uasg"]: r for r in conn.exec_driver_sql(_POR_UASG).mappings()}


def insert_metricas(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    conn.execute(sa.insert(metricas_painel), list(rows))


_A_VENCER_COLUMNS = """contrato_id, uasg, unidade_nome, numero, fornecedor_documento,
    fornecedor_nome, objeto, valor_global, vigencia_fim, dias_para_fim"""
_A_VENCER = f"""
INSERT INTO contratos_a_vencer ({_A_VENCER_COLUMNS}, faixa_dias, data_referencia, gerado_em)
SELECT {_A_VENCER_COLUMNS},
       CASE {" ".join(f"WHEN dias_para_fim <= {d} THEN {d}" for d in EXPIRY_BANDS)} END,
       data_referencia, now()
FROM painel_contratos
WHERE em_vigor AND dias_para_fim <= {EXPIRY_BANDS[-1]}
"""


def replace_a_vencer(conn: sa.Connection) -> list[sa.RowMapping]:
    """Rewrite the report table from the view (readers see the old or the new one whole);
    returns its rows ordered by UASG, end of vigência and number."""
    conn.exec_driver_sql("DELETE FROM contratos_a_vencer")
    conn.exec_driver_sql(_A_VENCER)
    return (
        conn.exec_driver_sql(
            "SELECT * FROM contratos_a_vencer ORDER BY uasg, vigencia_fim, numero, contrato_id"
        )
        .mappings()
        .all()
    )


GARANTIAS_DIAS = 90
_GARANTIAS = f"""
INSERT INTO garantias_a_vencer (
    contrato_id, garantia_id, uasg, unidade_nome, numero, fornecedor_nome, tipo, valor,
    vencimento, dias_para_vencimento, vigencia_fim, data_referencia, gerado_em)
SELECT p.contrato_id, g.id, p.uasg, p.unidade_nome, p.numero, p.fornecedor_nome, g.tipo,
       g.valor, g.vencimento, g.vencimento - p.data_referencia, p.vigencia_fim,
       p.data_referencia, now()
FROM painel_contratos p
JOIN contratos_garantias g ON g.contrato_id = p.contrato_id AND g.removido_em IS NULL
WHERE p.em_vigor AND g.vencimento <= p.data_referencia + {GARANTIAS_DIAS}
"""


def replace_garantias_a_vencer(conn: sa.Connection) -> list[sa.RowMapping]:
    """Rewrite the report of guarantees of contracts in force that expire within 90 days or
    already expired; returns its rows, the expired first."""
    conn.exec_driver_sql("DELETE FROM garantias_a_vencer")
    conn.exec_driver_sql(_GARANTIAS)
    return (
        conn.exec_driver_sql(
            "SELECT * FROM garantias_a_vencer "
            "ORDER BY vencimento, uasg, numero, contrato_id, garantia_id"
        )
        .mappings()
        .all()
    )


def ping(url: URL, timeout_s: float) -> None:
    """``SELECT 1`` on a new connection, within ``timeout_s`` to connect and to answer."""
    engine = sa.create_engine(
        url,
        poolclass=sa.NullPool,
        connect_args={
            "connect_timeout": max(1, round(timeout_s)),
            "options": f"-c statement_timeout={int(timeout_s * 1000)}",
        },
    )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar_one()
    finally:
        engine.dispose()


# Snapshots older than this many days are thinned to the last one per UASG and local day.
FULL_RESOLUTION_DAYS = 2
_THIN = """
DELETE FROM {table} t USING (
    SELECT id, row_number() OVER (
               PARTITION BY uasg, (calculado_em AT TIME ZONE :tz)::date
               ORDER BY calculado_em DESC, id DESC) AS n
    FROM {table}
    WHERE calculado_em < now() - make_interval(days => :full)
) old
WHERE t.id = old.id AND old.n > 1
"""


def purge_snapshots(conn: sa.Connection, retention_days: int) -> dict[str, int]:
    """Statistics and metrics snapshots: older than the retention go; older than
    ``FULL_RESOLUTION_DAYS`` only the day's last one per UASG stays (daily trends)."""
    removed = {}
    for table, key in (
        ("estatisticas_contratos", "estatisticas_removidas"),
        ("metricas_painel", "metricas_removidas"),
    ):
        old = conn.execute(
            sa.text(f"DELETE FROM {table} WHERE calculado_em < now() - make_interval(days => :d)"),
            {"d": retention_days},
        ).rowcount
        thinned = conn.execute(
            sa.text(_THIN.format(table=table)), {"tz": TIMEZONE, "full": FULL_RESOLUTION_DAYS}
        ).rowcount
        removed[key] = old + thinned
    return removed
