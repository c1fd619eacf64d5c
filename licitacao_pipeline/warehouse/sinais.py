"""SQL of the red flags (sinais de alerta): the refresh that turns each rule's findings
(``warehouse.sinais_regras``) into ``sinais_alerta`` rows (opened, seen again, resolved) in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from licitacao_pipeline.warehouse.sinais_regras import COLUMNS, REGRAS

# Held (transaction-scoped) around every refresh: one at a time, whoever starts it.
_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('portal'), hashtext('sinais_alerta'))")


def refresh(conn: sa.Connection, hoje: date, regras: Sequence[str]) -> dict[str, Any]:
    """Today's flags of ``regras`` into ``sinais_alerta``: new ones opened, holding ones seen
    again (their evidence brought up to date), the rest resolved. Returns the opened rows and
    the number resolved per (rule, UASG)."""
    conn.execute(_LOCK)
    conn.execute(sa.text(_CANDIDATOS))
    for regra in regras:
        conn.execute(sa.text(f"INSERT INTO candidatos ({COLUMNS}) {REGRAS[regra]}"), {"hoje": hoje})
    conn.execute(sa.text("CREATE INDEX ON candidatos (regra, contrato_id)"))
    conn.execute(sa.text("ANALYZE candidatos"))
    conn.execute(sa.text(_SEEN))
    opened = conn.execute(sa.text(_OPEN)).mappings().all()
    resolved = conn.execute(sa.text(_RESOLVE), {"regras": list(regras)}).all()
    return {"opened": opened, "resolved": resolved}


_CANDIDATOS = """
CREATE TEMP TABLE candidatos (
    regra text, contrato_id bigint, uasg varchar(6), severidade text, valor_referencia numeric,
    valor_apurado numeric, percentual numeric, limite numeric, data_referencia date,
    data_limite date, dias integer, registros jsonb, base_legal text, detalhe text
) ON COMMIT DROP
"""
_SEEN = """
UPDATE sinais_alerta s SET visto_em = now(),
       valor_referencia = k.valor_referencia, valor_apurado = k.valor_apurado,
       percentual = k.percentual, limite = k.limite, data_referencia = k.data_referencia,
       data_limite = k.data_limite, dias = k.dias, registros = k.registros,
       base_legal = k.base_legal, detalhe = k.detalhe, severidade = k.severidade
FROM candidatos k
WHERE s.resolvido_em IS NULL AND s.regra = k.regra AND s.contrato_id = k.contrato_id
"""
_OPEN = """
INSERT INTO sinais_alerta (regra, contrato_id, uasg, severidade, valor_referencia,
    valor_apurado, percentual, limite, data_referencia, data_limite, dias, registros,
    base_legal, detalhe, aberto_em, visto_em)
SELECT k.regra, k.contrato_id, k.uasg, k.severidade, k.valor_referencia, k.valor_apurado,
       k.percentual, k.limite, k.data_referencia, k.data_limite, k.dias, k.registros,
       k.base_legal, k.detalhe, now(), now()
FROM candidatos k
WHERE NOT EXISTS (SELECT 1 FROM sinais_alerta s WHERE s.resolvido_em IS NULL
                  AND s.regra = k.regra AND s.contrato_id = k.contrato_id)
RETURNING *
"""
_RESOLVE = """
UPDATE sinais_alerta s SET resolvido_em = now()
WHERE s.resolvido_em IS NULL AND s.regra = ANY(:regras)
  AND NOT EXISTS (SELECT 1 FROM candidatos k
                  WHERE k.regra = s.regra AND k.contrato_id = s.contrato_id)
RETURNING s.regra, s.uasg
"""
