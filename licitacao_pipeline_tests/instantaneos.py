"""What a UASG looks like in the warehouse, and what an uninterrupted sync of the source would
store: the two sides the end-to-end tests compare."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from licitacao_pipeline.comprasnet.abas import ABAS


def warehouse_snapshot(engine, uasg) -> dict:
    """Stored (not removed) contracts and tab records of ``uasg`` with their content hashes,
    and how many contracts still have a tab never synced."""
    with engine.connect() as conn:
        out = {
            "contratos": sorted(
                conn.execute(
                    sa.text(
                        "SELECT id, payload_hash FROM contratos "
                        "WHERE uasg = :u AND removido_em IS NULL"
                    ),
                    {"u": uasg},
                ).all()
            )
        }
        for tab in ABAS:
            out[tab] = sorted(
                conn.execute(
                    sa.text(
                        "SELECT t.contrato_id, t.id, t.payload_hash "
                        f"FROM contratos_{tab} t JOIN contratos c "
                        "ON c.id = t.contrato_id WHERE c.uasg = :u AND t.removido_em IS NULL"
                    ),
                    {"u": uasg},
                ).all()
            )
        out["stale"] = conn.execute(
            sa.text(
                "SELECT count(*) FROM contratos WHERE uasg = :u AND detalhes_atualizados_em IS NULL"
            ),
            {"u": uasg},
        ).scalar_one()
    return out


def expected_snapshot(source, uasg, minimum=10) -> dict:
    """What an uninterrupted sync stores: every listed contract within the vigência window.
    ``source`` has ``listing(uasg, inativo=False)`` and ``tab(contrato_id, tab)``: the
    in-process simulator, or ``SimuladorHTTP`` for one in another process."""
    from licitacao_pipeline.comprasnet.parsing import content_hash, parse_contrato, within_vigencia
    from licitacao_pipeline.defs.contratos import ContratosConfig
    from licitacao_pipeline.relogio import local_today

    window = ContratosConfig().vigencia_janela_dias
    listing = [
        r
        for r in source.listing(uasg) + source.listing(uasg, inativo=True)
        if within_vigencia(parse_contrato(r, uasg), local_today(), window)
    ]
    assert len(listing) > minimum
    out = {"contratos": sorted((r["id"], content_hash(r)) for r in listing)}
    for tab in ABAS:
        out[tab] = sorted(
            (r["id"], t["id"], content_hash(t)) for r in listing for t in source.tab(r["id"], tab)
        )
    out["stale"] = 0
    return out


class SimuladorHTTP:
    """The source as the API shows it, read over HTTP from a simulator in another process (its
    request counts include these reads: reset them after)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def _get(self, path: str):
        resp = requests.get(self.base_url + path, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def listing(self, uasg: str, inativo: bool = False) -> list[dict]:
        return self._get(f"/api/contrato/{'inativo/' if inativo else ''}ug/{uasg}")

    def tab(self, contrato_id: int, tab: str) -> list[dict]:
        return self._get(f"/api/contrato/{contrato_id}/{tab}")
