"""Use case of the portal's recent changes (view ``alteracoes_recentes``), Dagster-free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.warehouse import alteracoes as sql


def recentes_por_uasg(engine: Engine) -> list[Mapping[str, Any]]:
    """Per UASG with changes in the last 30 days: events and contracts changed in the last 7
    and 30 days, most changed first."""
    with engine.connect() as conn:
        return sql.recentes_por_uasg(conn)
