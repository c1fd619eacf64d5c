"""Where things are, for commands that submit work: a contract's UASG and UASG names.

Best effort around the warehouse: a command that only needs a name must not fail (or hang)
because the warehouse is missing, so connections time out quickly and errors mean "unknown".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from licitacao_pipeline import settings

CONNECT_TIMEOUT_SECONDS = 5


class LocalizacaoError(Exception):
    """The thing asked for cannot be placed; the message says why and what to do."""


def warehouse() -> Engine | None:
    """The configured warehouse (``DATABASE_URL``, or the embedded one if it exists here), or
    None. Never creates a database."""
    from licitacao_pipeline.warehouse.engine import database_url

    conf = settings.load()
    if not conf.database_url and not (conf.data_dir / "pgdata").exists():
        return None
    try:
        url = database_url()  # starts the existing embedded server if it is stopped
    except Exception:  # best effort: no warehouse means "unknown"
        return None
    return sa.create_engine(
        url, poolclass=sa.NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )


def nomes(engine: Engine | None, codigos: Sequence[str]) -> dict[str, str]:
    """``{uasg: nome}`` for the UASGs the warehouse knows; empty when it cannot tell."""
    from licitacao_pipeline.warehouse.unidades import nomes as nomes_sql

    if engine is None:
        return {}
    try:
        return nomes_sql(engine, codigos)
    except sa.exc.SQLAlchemyError:
        return {}


def contrato_uasg(contrato_id: int, engine: Engine | None) -> tuple[str, str]:
    """(UASG, where it came from) of a contract: the warehouse, else ComprasNet
    (``COMPRASNET_BASE_URL``, else the running ``licitacao dev``'s simulator)."""
    from licitacao_pipeline.comprasnet.client import REAL_BASE_URL, ComprasNetClient
    from licitacao_pipeline.comprasnet.errors import ComprasNetError, ComprasNetNotFound
    from licitacao_pipeline.comprasnet.parsing import uasg_of
    from licitacao_pipeline.warehouse.contratos import contrato_uasg as contrato_uasg_sql

    if engine is not None:
        try:
            with engine.connect() as conn:
                uasg = contrato_uasg_sql(conn, contrato_id)
            if uasg:
                return uasg, "do warehouse"
        except sa.exc.SQLAlchemyError:
            pass
    from licitacao_pipeline.client.instancia_dev import encontrar

    dev = encontrar()
    base_url = (
        settings.load().comprasnet_base_url
        or (dev.comprasnet_base_url if dev else None)
        or REAL_BASE_URL
    )
    client = ComprasNetClient(base_url, max_retries=2, read_timeout=30)
    try:
        record = client.contrato(contrato_id)
    except ComprasNetNotFound:
        raise LocalizacaoError(
            f"o contrato {contrato_id} não está no warehouse e o ComprasNet ({base_url}) não o "
            "conhece (404)"
        ) from None
    except ComprasNetError as exc:
        raise LocalizacaoError(
            f"o contrato {contrato_id} não está no warehouse e não foi possível consultar o "
            f"ComprasNet ({base_url}) ({exc}); informe --uasg"
        ) from exc
    finally:
        client.close()
    uasg = uasg_of(record)
    if not uasg:
        raise LocalizacaoError(
            f"o registro do contrato {contrato_id} no ComprasNet não indica a UASG; informe --uasg"
        )
    return uasg, "do ComprasNet"
