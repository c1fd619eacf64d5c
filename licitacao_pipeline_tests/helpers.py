"""Test helpers: run assets in-process and read the warehouse back."""

from datetime import date
from decimal import Decimal

import dagster as dg
import sqlalchemy as sa

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.resources import ComprasNetResource


def br_money(text):
    """Independent oracle for Brazilian money strings (not the code under test)."""
    if text is None:
        return None
    return Decimal(text.replace(".", "").replace(",", "."))


def materialize(assets, partition, resources, config=None, raise_on_error=True, instance=None):
    run_config = {"ops": config} if config else None
    return dg.materialize(
        assets,
        partition_key=partition,
        resources=resources,
        run_config=run_config,
        raise_on_error=raise_on_error,
        instance=instance,
    )


def rows(engine, table="contratos", where="true", **params):
    with engine.connect() as conn:
        result = conn.execute(
            sa.text(f"SELECT *, xmin::text AS _xmin FROM {table} WHERE {where} ORDER BY id"), params
        )
        return [dict(r._mapping) for r in result]


def tab_requests(sim) -> int:
    """Tab requests the simulator received (every kind)."""
    return sum(sim.count(aba) for aba in ABAS)


def stamped(engine) -> int:
    """(contract, tab) pairs whose tab is stored."""
    cols = " + ".join(f"({a}_atualizado_em IS NOT NULL)::int" for a in ABAS)
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT coalesce(sum({cols}), 0) FROM contratos")).scalar()


def materialization_metadata(result, asset="contratos"):
    mats = result.asset_materializations_for_node(asset)
    assert len(mats) == 1
    return {k: v.value for k, v in mats[0].metadata.items()}


def sim_records(sim, uasg):
    return sim.listing(uasg) + sim.listing(uasg, inativo=True)


def parse_day(text):
    return date.fromisoformat(text) if text else None


def failure_message(result) -> str:
    """The step failure's error text (class name + message + causes) of a failed run."""
    assert not result.success
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            while err is not None:
                texts.append(err.to_string())
                err = err.cause
    assert texts, "no step failure event"
    return "\n".join(texts)


def with_client(resources, sim, **settings):
    """``resources`` with a ComprasNet client tuned by ``settings`` (fast backoff by default)."""
    tuned = {"base_url": sim.base_url, "backoff_factor": 0.01, "backoff_max": 0.05, **settings}
    return dict(resources, comprasnet=ComprasNetResource(**tuned))


def step_retries(result) -> int:
    """How many times a run's steps were retried (Dagster's STEP_UP_FOR_RETRY events)."""
    return sum(1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")


class StatusServer:
    """A real HTTP server answering every GET with the next of ``statuses`` (the last one
    repeats): 200 with ``[]``, anything else with a small JSON error body. For the statuses the
    simulator cannot produce (4xx, 504, a 429 without Retry-After). Counts requests per path."""

    def __init__(self, *statuses: int):
        import collections
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.statuses, self.requests = list(statuses), collections.Counter()
        lock, server = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - stdlib naming
                with lock:
                    server.requests[self.path] += 1
                    status = (
                        server.statuses.pop(0) if len(server.statuses) > 1 else server.statuses[0]
                    )
                body = b"[]" if status == 200 else json.dumps({"message": "erro"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "StatusServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def set_contrato(conn, cid, **values):
    """Overwrite columns of one stored contract (edge cases the simulator does not make)."""
    cols = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(sa.text(f"UPDATE contratos SET {cols} WHERE id = :id"), {**values, "id": cid})


def sync_two_uasgs(resources, engine) -> tuple[dict[int, int], int]:
    """787010 and 787000 synced with their tabs (no vigência window): the empenhos count of
    each 787010 contract (by id) and the smallest 787000 contract id."""
    from licitacao_pipeline.defs.abas import contratos_abas
    from licitacao_pipeline.defs.contratos import contratos

    every = {"contratos": {"config": {"vigencia_janela_dias": None}}}
    for uasg in ("787010", "787000"):
        materialize([contratos, contratos_abas], uasg, resources, every)
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.text(
                    "SELECT c.id, count(e.id) FROM contratos c LEFT JOIN contratos_empenhos e "
                    "ON e.contrato_id = c.id WHERE c.uasg = '787010' GROUP BY c.id ORDER BY c.id"
                )
            ).all()
        )
        other = conn.execute(sa.text("SELECT min(id) FROM contratos WHERE uasg = '787000'"))
        return counts, other.scalar_one()


def warehouse_snapshot(engine, uasg):
    """A UASG's stored contracts and tabs (ids and content hashes), and its contracts whose tabs
    were never synced."""
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


def expected_snapshot(sim, uasg, minimum=10):
    """What an uninterrupted sync stores: every listed contract within the vigência window."""
    from licitacao_pipeline.comprasnet.parsing import content_hash, parse_contrato, within_vigencia
    from licitacao_pipeline.defs.contratos import ContratosConfig, local_today

    window = ContratosConfig().vigencia_janela_dias
    listing = [
        r
        for r in sim.listing(uasg) + sim.listing(uasg, inativo=True)
        if within_vigencia(parse_contrato(r, uasg), local_today(), window)
    ]
    assert len(listing) > minimum
    out = {"contratos": sorted((r["id"], content_hash(r)) for r in listing)}
    for tab in ABAS:
        out[tab] = sorted(
            (r["id"], t["id"], content_hash(t)) for r in listing for t in sim.tab(r["id"], tab)
        )
    out["stale"] = 0
    return out
