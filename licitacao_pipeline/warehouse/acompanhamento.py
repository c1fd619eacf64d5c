"""SQL of the contract follow-up (``acompanhamento``): find the contracts a spreadsheet names
and upsert their follow-up. Every function runs inside the caller's transaction (``conn``);
the use case is ``licitacao_pipeline.flows.importacao``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from licitacao_pipeline.warehouse.tables import acompanhamento

FOLLOW_UP = ("gestor", "fiscal", "prioridade", "observacao", "alertar_em")
_DATA = ("uasg", "numero", *FOLLOW_UP)

_FIND = """
SELECT c.id, c.uasg, c.numero, c.removido_em IS NOT NULL AS removido
FROM contratos c
JOIN unnest(CAST(:uasgs AS text[]), CAST(:numeros AS text[])) AS k(uasg, numero)
  ON c.uasg = k.uasg AND c.numero = k.numero
"""


@dataclass(frozen=True)
class Match:
    ids: tuple[int, ...]  # the contracts named (uasg, numero): one, or several (ambiguous)


def find_contracts(
    conn: sa.Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Match]:
    """Per (uasg, numero): the stored contracts so named. Contracts still listed win over
    removed ones; a key with no contract is absent from the result."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    found: dict[tuple[str, str], list[tuple[bool, int]]] = {}
    params = {"uasgs": [k[0] for k in keys], "numeros": [k[1] for k in keys]}
    for row in conn.execute(sa.text(_FIND), params):
        found.setdefault((row.uasg, row.numero), []).append((row.removido, row.id))
    out = {}
    for key, matches in found.items():
        best = min(removed for removed, _ in matches)
        out[key] = Match(tuple(sorted(cid for removed, cid in matches if removed == best)))
    return out


def contracts_by_id(conn: sa.Connection, contrato_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(uasg, numero) of each stored contract among ``contrato_ids``."""
    ids = sorted(set(contrato_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.text("SELECT id, uasg, numero FROM contratos WHERE id = ANY(:ids)"), {"ids": ids}
    )
    return {r.id: (r.uasg, r.numero) for r in rows}


@dataclass(frozen=True)
class Upserted:
    inserted: int
    updated: int
    unchanged: int


def upsert(conn: sa.Connection, rows: Sequence[Mapping[str, Any]], run_id: str | None) -> Upserted:
    """Insert or update the follow-up of each contract (``contrato_id``, ``uasg``, ``numero``
    and ``FOLLOW_UP``). A row equal to the stored one is not written at all (its
    ``importado_em`` and ``run_id`` stay): importing the same file twice changes nothing."""
    if not rows:
        return Upserted(0, 0, 0)
    stmt = insert(acompanhamento).values(
        [{**{k: r[k] for k in ("contrato_id", *_DATA)}, "run_id": run_id} for r in rows]
    )
    current = sa.tuple_(*(acompanhamento.c[k] for k in _DATA))
    new = sa.tuple_(*(stmt.excluded[k] for k in _DATA))
    stmt = stmt.on_conflict_do_update(
        index_elements=[acompanhamento.c.contrato_id],
        set_={
            **{k: stmt.excluded[k] for k in _DATA},
            "importado_em": sa.func.now(),
            "run_id": stmt.excluded.run_id,
        },
        where=current.is_distinct_from(new),
    ).returning(sa.literal_column("xmax = 0").label("inserted"))
    written = [r.inserted for r in conn.execute(stmt)]
    inserted = sum(1 for w in written if w)
    return Upserted(inserted, len(written) - inserted, len(rows) - len(written))


def remove(conn: sa.Connection, contrato_ids: Sequence[int]) -> int:
    """Delete the follow-up of these contracts (a row whose fields are all empty); returns
    how many there were."""
    if not contrato_ids:
        return 0
    stmt = sa.delete(acompanhamento).where(acompanhamento.c.contrato_id.in_(list(contrato_ids)))
    return conn.execute(stmt).rowcount
