"""SQL of the request budget toward ComprasNet shared by every run and process.

A GCRA schedule in one row per server origin (``orcamento_requisicoes``): ``proximo`` is the
theoretical start of the next request. Taking a start is one ``UPDATE ... RETURNING`` (the row
lock lasts that statement): the start is ``max(now, proximo - tolerance)`` and ``proximo``
advances by one interval, so any window of ``t`` seconds holds at most ``rajada + rps * t``
starts, whichever process takes them. A pause (429 + Retry-After) pushes ``proximo`` past its
end. The clock is the database's ``clock_timestamp()``: hosts need not agree on the time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_CREATE = sa.text(
    "INSERT INTO orcamento_requisicoes (nome, proximo) VALUES (:nome, clock_timestamp()) "
    "ON CONFLICT (nome) DO NOTHING"
)
_RESERVE = sa.text(
    """
    UPDATE orcamento_requisicoes b
    SET proximo = GREATEST(b.proximo, t.agora) + make_interval(secs => :intervalo),
        requisicoes = b.requisicoes + 1
    FROM (SELECT clock_timestamp() AS agora) t
    WHERE b.nome = :nome
    RETURNING GREATEST(0, EXTRACT(EPOCH FROM (
        b.proximo - make_interval(secs => :intervalo + :tolerancia) - t.agora)))
    """
)
_PAUSE = sa.text(
    """
    UPDATE orcamento_requisicoes b
    SET pausado_ate = GREATEST(b.pausado_ate, t.fim),
        proximo = GREATEST(b.proximo, t.fim + make_interval(secs => :tolerancia)),
        pausas = b.pausas + 1
    FROM (SELECT clock_timestamp() + make_interval(secs => :segundos) AS fim) t
    WHERE b.nome = :nome
    """
)
_PAUSED = sa.text(
    "SELECT coalesce(pausado_ate > clock_timestamp(), false) FROM orcamento_requisicoes "
    "WHERE nome = :nome"
)


class OrcamentoCompartilhado:
    """The shared budget of ``nome`` (the server's origin): ``rps`` requests per second,
    ``rajada`` at once when quiet. Implements ``comprasnet.sessao.Orcamento``."""

    def __init__(self, engine: Engine, nome: str, rps: float, rajada: int = 1):
        self.engine, self.nome = engine, nome
        self.intervalo, self.tolerancia = 1.0 / rps, (max(1, rajada) - 1) / rps
        self._created = False

    def _run(self, statement: sa.TextClause, **params: Any) -> Any:
        with self.engine.begin() as conn:
            if not self._created:
                conn.execute(_CREATE, {"nome": self.nome})
            result = conn.execute(statement, {"nome": self.nome, **params})
            value = result.scalar() if result.returns_rows else None
        self._created = True
        return value

    def reservar(self) -> float:
        espera = self._run(_RESERVE, intervalo=self.intervalo, tolerancia=self.tolerancia)
        return float(espera or 0.0)

    def pausar(self, segundos: float) -> None:
        self._run(_PAUSE, segundos=float(segundos), tolerancia=self.tolerancia)

    def pausado(self) -> bool:
        return bool(self._run(_PAUSED))


def estado(engine: Engine, nome: str) -> dict[str, Any] | None:
    """The budget's row (requests taken, pauses, paused until), or None before its first use."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT requisicoes, pausas, pausado_ate FROM orcamento_requisicoes "
                "WHERE nome = :nome"
            ),
            {"nome": nome},
        ).one_or_none()
    if row is None:
        return None
    pausado_ate: datetime | None = row.pausado_ate
    return {"requisicoes": row.requisicoes, "pausas": row.pausas, "pausado_ate": pausado_ate}
