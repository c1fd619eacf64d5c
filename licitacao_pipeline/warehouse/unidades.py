"""UASG names (the ``unidades`` table, filled from the listings) for everything users read."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from licitacao_pipeline.warehouse.tables import unidades


def nomes(engine: Engine, codigos: Iterable[str] | None = None) -> dict[str, str]:
    """``{codigo: nome}`` of the known UASGs (all, or those of ``codigos``)."""
    query = sa.select(unidades.c.codigo, unidades.c.nome)
    if codigos is not None:
        query = query.where(unidades.c.codigo.in_(list(codigos)))
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def nome(engine: Engine, codigo: str) -> str | None:
    return nomes(engine, [codigo]).get(codigo)
