"""Use case: the red flags (sinais de alerta) an auditor acts on, computed from the warehouse.

One refresh, one transaction: every rule (``warehouse.sinais``, one SQL query each) gives the
contracts it holds for today; a flag not open yet is opened (``aberto_em``), one still holding
is seen again (``visto_em``, its evidence brought up to date), one that stopped holding is
resolved (``resolvido_em``: never deleted; if its cause comes back, a new flag opens). The new
flags of each UASG become one alert (``alertas``, ``tipo = 'sinais'``) in the same transaction,
so a flag is never opened without its alert nor alerted twice; the webhook gets it from the
alert sensors. An unchanged refresh opens and resolves nothing and alerts nothing.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from licitacao_pipeline import names
from licitacao_pipeline.warehouse import alertas as alertas_sql
from licitacao_pipeline.warehouse import sinais as sql
from licitacao_pipeline.warehouse.sinais_regras import REQUER_ABA, regras_para

REGRAS = tuple(sql.REGRAS)
__all__ = ["REGRAS", "REQUER_ABA", "abertos", "atualizar", "regras_para"]
SEVERIDADE = {"alta": 0, "media": 1, "baixa": 2}
MAX_NO_ALERTA = 50  # flags listed in one alert's detalhes (the count is always whole)


@dataclass
class Atualizacao:
    """What one refresh did, and what is open after it."""

    abertos: list[dict[str, Any]]  # opened now
    resolvidos: Counter  # (regra, uasg) -> resolved now
    abertos_por_regra: dict[str, int]
    abertos_por_uasg: dict[str, int]
    principais: list[dict[str, Any]]  # the ten most serious open flags
    alertas: int = 0
    duracao_s: float = 0.0
    novos: Counter = field(default_factory=Counter)  # (regra, uasg) -> opened now

    def crescimento(self, regra: str) -> dict[str, int]:
        """Per UASG, how many more flags of ``regra`` are open than before this refresh."""
        uasgs = {u for r, u in self.novos if r == regra} | {
            u for r, u in self.resolvidos if r == regra
        }
        out = {u: self.novos[(regra, u)] - self.resolvidos[(regra, u)] for u in uasgs}
        return {u: n for u, n in out.items() if n}


def atualizar(
    engine: Engine,
    hoje: date,
    *,
    regras: Sequence[str] = REGRAS,
    run_id: str | None = None,
) -> Atualizacao:
    """Refresh the flags of ``regras`` for ``hoje`` (São Paulo's date)."""
    started = time.monotonic()
    with engine.begin() as conn:
        feito = sql.refresh(conn, hoje, regras)
        abertos = [dict(r) for r in feito["opened"]]
        alertas = _alertar(conn, abertos, run_id or uuid.uuid4().hex)
        por_regra = dict(_count(conn, "regra"))
        por_uasg = dict(_count(conn, "uasg"))
        principais = [dict(r) for r in conn.execute(sa.text(_PRINCIPAIS)).mappings()]
    return Atualizacao(
        abertos=abertos,
        resolvidos=Counter((r, u) for r, u in feito["resolved"]),
        abertos_por_regra={r: por_regra.get(r, 0) for r in regras},
        abertos_por_uasg=por_uasg,
        principais=principais,
        alertas=alertas,
        duracao_s=round(time.monotonic() - started, 3),
        novos=Counter((a["regra"], a["uasg"]) for a in abertos),
    )


def _alertar(conn: sa.Connection, abertos: list[dict[str, Any]], run_id: str) -> int:
    """One alert per UASG with new flags, naming them (the most serious first)."""
    by_uasg: dict[str, list[dict[str, Any]]] = {}
    for flag in abertos:
        by_uasg.setdefault(flag["uasg"], []).append(flag)
    for uasg, flags in by_uasg.items():
        flags.sort(key=lambda f: (SEVERIDADE[f["severidade"]], f["regra"], f["contrato_id"]))
        counts = Counter(f["regra"] for f in flags)
        message = f"uasg {uasg}: {len(flags)} novo(s) sinal(is) de alerta: " + ", ".join(
            f"{n} {regra}" for regra, n in sorted(counts.items())
        )
        alertas_sql.record(
            conn,
            {
                "run_id": f"sinais:{run_id}:{uasg}"[:64],
                "job_name": names.SINAIS,
                "uasg": uasg,
                "message": message,
                "failed_steps": [],
                "tipo": "sinais",
                "detalhes": [_resumo(f) for f in flags[:MAX_NO_ALERTA]],
            },
        )
    return len(by_uasg)


def _resumo(flag: dict[str, Any]) -> dict[str, Any]:
    return {
        "regra": flag["regra"],
        "severidade": flag["severidade"],
        "contrato_id": flag["contrato_id"],
        "detalhe": flag["detalhe"],
        "base_legal": flag["base_legal"],
    }


def _count(conn: sa.Connection, by: str):
    query = f"SELECT {by}, count(*) FROM sinais_alerta WHERE resolvido_em IS NULL GROUP BY {by}"
    return conn.execute(sa.text(query)).all()


_PRINCIPAIS = """
SELECT * FROM sinais_abertos
ORDER BY CASE severidade WHEN 'alta' THEN 0 WHEN 'media' THEN 1 ELSE 2 END,
         coalesce(percentual, 0) DESC, coalesce(dias, 0) DESC, aberto_em, id
LIMIT 10
"""


def abertos(engine: Engine, uasgs: Sequence[str] = (), regras: Sequence[str] = ()) -> list[Any]:
    """The open flags (of ``uasgs`` / ``regras`` when given), the most serious first."""
    where, params = ["true"], {}
    if uasgs:
        where.append("uasg = ANY(:uasgs)")
        params["uasgs"] = list(uasgs)
    if regras:
        where.append("regra = ANY(:regras)")
        params["regras"] = list(regras)
    query = _PRINCIPAIS.replace("LIMIT 10", "").replace(
        "SELECT * FROM sinais_abertos", f"SELECT * FROM sinais_abertos WHERE {' AND '.join(where)}"
    )
    with engine.connect() as conn:
        return conn.execute(sa.text(query), params).mappings().all()
