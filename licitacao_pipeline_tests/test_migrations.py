"""Migrations applied to a database that already holds data (not the empty migrated template)."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.warehouse.engine import dispose_engines
from licitacao_pipeline.warehouse.migrate import current_revision, head_revision, upgrade
from licitacao_pipeline.warehouse.tables import metadata

from .helpers import materialize, rows

ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}


@pytest.fixture
def blank_url(pg_admin_url):
    """A new database with no schema at all; dropped afterwards."""
    name = f"lic_blank_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield pg_admin_url.set(database=name).render_as_string(hide_password=False)
    dispose_engines()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# Rows as revision 0003 stored them: contratos without removido_motivo, one rejected_records
# row per rejection (no chave/ocorrencias), alertas without ultima_tentativa_em.
CONTRATOS_0003 = """
INSERT INTO contratos (id, uasg, payload, payload_hash, unidade_gestora_nome,
                       unidade_gestora_nome_resumido, orgao_codigo, orgao_nome,
                       atualizado_em, removido_em) VALUES
  (1, '111111', '{}', 'h1', 'NOME ANTIGO', 'ANTIGO', '52000', 'ORGAO', now() - interval '9 days',
   NULL),
  (2, '111111', '{}', 'h2', 'NOME NOVO', 'NOVO', '52000', 'ORGAO', now() - interval '1 day',
   now() - interval '1 day'),
  (3, '222222', '{}', 'h3', 'OUTRA UNIDADE', NULL, '26000', 'OUTRO', now(), NULL),
  (4, '333333', '{}', 'h4', NULL, NULL, NULL, NULL, now(), now())
"""
REJECTS_0003 = """
INSERT INTO rejected_records (rejected_at, run_id, source, uasg, record_id, reason, payload)
VALUES
  (now() - interval '3 days', 'r1', 'contratos', '111111', '7', 'valor_global: x',
   '{"id": 7, "valor_global": "abc,de"}'),
  (now() - interval '2 days', 'r2', 'contratos', '111111', '7', 'valor_global: x',
   '{"id": 7, "valor_global": "abc,de"}'),
  (now() - interval '1 day', 'r3', 'contratos', '111111', '7', 'valor_global: y',
   '{"id": 7, "valor_global": "abc,de"}'),
  (now() - interval '1 day', 'r3', 'contratos', '111111', '7', 'valor_global: z',
   '{"id": 7, "valor_global": "zzz"}'),
  (now() - interval '5 days', 'r0', 'import', NULL, NULL, 'not an object', NULL),
  (now() - interval '4 days', 'r1', 'import', NULL, NULL, 'not an object', NULL)
"""
ALERTAS_0003 = """
INSERT INTO alertas (run_id, job_name, uasg, message, post_attempts, post_error)
VALUES ('run-1', 'sincronizar_contratos', '111111', 'falhou', 2, 'HTTP 503')
"""


def test_0004_upgrades_a_database_holding_0003_data(blank_url, sim, resources):
    engine = sa.create_engine(blank_url, poolclass=sa.NullPool)
    upgrade(engine, "0003")
    assert current_revision(engine) == "0003"
    with engine.begin() as conn:
        for statement in (CONTRATOS_0003, REJECTS_0003, ALERTAS_0003):
            conn.exec_driver_sql(statement)

    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:  # the migrated schema is the one the code declares
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []

    motivos = {r["id"]: r["removido_motivo"] for r in rows(engine)}
    assert motivos == {1: None, 2: "ausente_da_listagem", 3: None, 4: "ausente_da_listagem"}

    with engine.connect() as conn:
        unidades = {r.codigo: r for r in conn.execute(sa.text("SELECT * FROM unidades"))}
    assert set(unidades) == {"111111", "222222"}  # 333333 never had a name
    assert unidades["111111"].nome == "NOME NOVO"  # the newest stored record's
    assert unidades["111111"].nome_resumido == "NOVO"
    assert (unidades["222222"].nome, unidades["222222"].orgao_codigo) == ("OUTRA UNIDADE", "26000")

    rejects = rows(engine, "rejected_records")
    assert len(rejects) == 3 and len({r["chave"] for r in rejects}) == 3
    by_payload = {(r["source"], str(r["payload"])): r for r in rejects}
    repeated = by_payload[("contratos", str({"id": 7, "valor_global": "abc,de"}))]
    assert repeated["ocorrencias"] == 3
    assert (repeated["run_id"], repeated["reason"]) == ("r3", "valor_global: y")  # the latest
    # first seen: the oldest of the three; last seen: the newest (one INSERT, one now())
    assert repeated["ultima_vez_em"] - repeated["rejected_at"] == timedelta(days=2)
    assert by_payload[("contratos", str({"id": 7, "valor_global": "zzz"}))]["ocorrencias"] == 1
    assert by_payload[("import", "None")]["ocorrencias"] == 2

    [alerta] = rows(engine, "alertas")
    assert alerta["post_attempts"] == 2 and alerta["ultima_tentativa_em"] is None

    # the pipeline runs on the upgraded database, and a repeated reject is counted, not added
    warehouse = {**resources, "warehouse": WarehouseResource(database_url=blank_url)}
    for _ in range(2):
        sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="valor_global", count=1)
        materialize([contratos], "787010", warehouse, ALL)
    new = rows(engine, "rejected_records", "uasg = '787010'")
    assert len(new) == 1 and new[0]["ocorrencias"] == 2
    assert len(rows(engine, "contratos", "uasg = '787010'")) == 24
    engine.dispose()
