"""SQL behind the ``contratos`` asset checks, scoped to one UASG partition."""

from __future__ import annotations

import sqlalchemy as sa

CHECKS_SQL = {
    # Money that can never be negative in a contract.
    "valores_nao_negativos": """
        SELECT id FROM contratos WHERE uasg = :uasg AND removido_em IS NULL
          AND (valor_inicial < 0 OR valor_global < 0 OR valor_parcela < 0)
        ORDER BY id LIMIT 20""",
    "vigencia_coerente": """
        SELECT id FROM contratos WHERE uasg = :uasg AND removido_em IS NULL
          AND vigencia_fim < vigencia_inicio
        ORDER BY id LIMIT 20""",
    # The id column must match the id inside the raw payload (catches a bad upsert mapping).
    "ids_unicos": """
        SELECT id FROM contratos WHERE uasg = :uasg
          AND (payload->>'id')::bigint IS DISTINCT FROM id
        ORDER BY id LIMIT 20""",
}


def offending_ids(conn: sa.Connection, check: str, uasg: str) -> list[int]:
    return list(conn.execute(sa.text(CHECKS_SQL[check]), {"uasg": uasg}).scalars())
