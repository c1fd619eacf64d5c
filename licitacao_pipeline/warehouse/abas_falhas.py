"""SQL of a contract's tab that keeps failing (``abas_falhas``): one row per (contrato, aba) with
its consecutive failures, the first one's time and its next try (1 h, 2 h, 4 h ... capped, see
``licitacao_pipeline.cadencia.backoff_horas``). The due queue skips it until then; storing the
tab deletes the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from licitacao_pipeline.cadencia import BACKOFF_INICIAL_HORAS, cadencia_padrao, teto_backoff_horas

_RECORD = sa.text(
    """
    INSERT INTO abas_falhas AS f (contrato_id, aba, falhas, primeira_falha_em, ultima_falha_em,
                                  proxima_tentativa_em, status, erro)
    VALUES (:contrato_id, :aba, 1, now(), now(), now() + make_interval(secs => :base_s),
            :status, :erro)
    ON CONFLICT (contrato_id, aba) DO UPDATE SET
        falhas = f.falhas + 1,
        ultima_falha_em = now(),
        proxima_tentativa_em = now() + make_interval(
            secs => LEAST(CAST(:teto_s AS double precision), :base_s * power(2, f.falhas))),
        status = EXCLUDED.status,
        erro = EXCLUDED.erro
    """
)
_CLEAR = sa.text(
    "DELETE FROM abas_falhas WHERE aba = :aba AND contrato_id = ANY(CAST(:cids AS bigint[]))"
)


def registrar(
    conn: sa.Connection, falhas: Iterable[dict[str, Any]], cadencia: Mapping[str, float]
) -> None:
    """One more failure for each ``{contrato_id, aba, status, erro}`` (in the caller's
    transaction)."""
    rows = [
        {
            **f,
            "erro": f["erro"][:500],
            "base_s": BACKOFF_INICIAL_HORAS * 3600,
            "teto_s": teto_backoff_horas(cadencia.get(f["aba"], cadencia_padrao(f["aba"]))) * 3600,
        }
        for f in falhas
    ]
    if rows:
        conn.execute(_RECORD, rows)


def limpar(conn: sa.Connection, aba: str, cids: Sequence[int]) -> None:
    """The tab was stored for ``cids``: their failure streak is over."""
    if cids:
        conn.execute(_CLEAR, {"aba": aba, "cids": list(cids)})


def da_uasg(engine: Engine, uasg: str, abas: Sequence[str], limite: int = 20) -> dict[str, Any]:
    """Per tab: how many of the UASG's active contracts keep failing, and the longest-failing
    ones (contract id, failures, since when, hours failing, next try, HTTP status: no record
    content, so no personal data)."""
    query = sa.text(
        """
        SELECT f.aba, f.contrato_id, f.falhas, f.primeira_falha_em, f.proxima_tentativa_em,
               f.status, EXTRACT(EPOCH FROM now() - f.primeira_falha_em) / 3600 AS horas,
               count(*) OVER (PARTITION BY f.aba) AS total,
               row_number() OVER (PARTITION BY f.aba ORDER BY f.primeira_falha_em, f.contrato_id)
                 AS n
        FROM abas_falhas f JOIN contratos c ON c.id = f.contrato_id
        WHERE c.uasg = :uasg AND c.removido_em IS NULL AND f.aba = ANY(:abas)
        """
    )
    out: dict[str, Any] = {a: {"total": 0, "amostras": []} for a in abas}
    with engine.connect() as conn:
        for r in conn.execute(query, {"uasg": uasg, "abas": list(abas)}):
            out[r.aba]["total"] = r.total
            if r.n <= limite:
                out[r.aba]["amostras"].append(
                    {
                        "contrato_id": r.contrato_id,
                        "falhas_seguidas": r.falhas,
                        "falhando_desde": r.primeira_falha_em.isoformat(timespec="seconds"),
                        "horas_em_falha": round(float(r.horas), 1),
                        "proxima_tentativa": r.proxima_tentativa_em.isoformat(timespec="seconds"),
                        "status_http": r.status,
                    }
                )
    return out
