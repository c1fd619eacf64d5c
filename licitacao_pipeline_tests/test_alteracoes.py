"""The change history (``contratos_alteracoes``) against the simulator over HTTP and a real
PostgreSQL: replaying the events over the first snapshot gives every later stored state; an
unchanged re-sync records nothing and writes nothing; a failed run records nothing; the same
data synced again adds no event; the portal view, its asset and the export carry the changes.
"""

import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.alteracoes import alteracoes_recentes
from licitacao_pipeline.defs.contrato_sob_demanda import sincronizar_contrato
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.exportacao import exportar_contratos
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.warehouse import alteracoes, tables
from licitacao_pipeline.warehouse.migrate import alembic_config, upgrade

from .helpers import failure_message, materialization_metadata, materialize, rows

UASG = "787010"
ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
EVERY_TAB = {**ALL, "contratos_abas": {"config": {"completa": True}}}
# Every field of a contract as the warehouse stores it (the schema, not the history's own list).
CAMPOS = [c for c in tables.CONTRATO_DATA_COLUMNS if c not in ("id", "payload", "payload_hash")]
# The tab fields the issue names: a new aditivo (its vigência and value), empenho values.
ABA_CAMPOS = {
    "historico": ["tipo", "numero", "data_assinatura", "vigencia_fim", "novo_valor_global"],
    "empenhos": ["numero", "empenhado", "liquidado", "pago"],
}
ACME = {"tipo": "JURIDICA", "cnpj_cpf_idgener": "11.111.111/0001-11", "nome": "ACME LTDA"}


def sync(resources, tabs=True, config=None, raise_on_error=True):
    assets = [contratos, contratos_abas] if tabs else [contratos]
    return materialize(
        assets, UASG, resources, config or (EVERY_TAB if tabs else ALL), raise_on_error
    )


def state(engine) -> dict[tuple, dict]:
    """Every contract of the UASG (removed ones too) and the named fields of its historico and
    empenhos records, as stored; keyed (origem, contrato_id, registro_id)."""
    out = {}
    with engine.connect() as conn:
        query = f"SELECT id, {', '.join(CAMPOS)}, removido_motivo FROM contratos WHERE uasg = :u"
        for r in conn.execute(sa.text(query), {"u": UASG}).mappings():
            out[("contrato", r["id"], r["id"])] = {k: v for k, v in r.items() if k != "id"}
        for aba, campos in ABA_CAMPOS.items():
            query = (
                f"SELECT t.contrato_id, t.id, {', '.join(f't.{c}' for c in campos)}, "
                "CASE WHEN t.removido_em IS NULL THEN NULL ELSE 'ausente_da_aba' END "
                f"AS removido_motivo FROM contratos_{aba} t "
                "JOIN contratos c ON c.id = t.contrato_id WHERE c.uasg = :u"
            )
            for r in conn.execute(sa.text(query), {"u": UASG}).mappings():
                values = {k: v for k, v in r.items() if k not in ("contrato_id", "id")}
                out[(aba, r["contrato_id"], r["id"])] = values
    return out


def events(engine, where="true", **params) -> list[dict]:
    """History rows (with their xmin), in the order they were seen."""
    query = (
        f"SELECT *, xmin::text AS _xmin FROM contratos_alteracoes WHERE {where} "
        "ORDER BY visto_em, origem, contrato_id, registro_id, campo"
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(query), params).mappings()]


def new_value(e: dict):
    typed = (e["valor_novo_numerico"], e["valor_novo_data"], e["valor_novo_texto"])
    return next((v for v in typed if v is not None), None)


def replay(first: dict, evs: list[dict]) -> dict:
    """The first snapshot with every event applied in order (an insertion starts empty)."""
    out = copy.deepcopy(first)
    for e in evs:
        key = (e["origem"], e["contrato_id"], e["registro_id"])
        out.setdefault(key, {})[e["campo"]] = new_value(e)
    return out


def assert_replays(first: dict, engine, tabs_of: set[int]) -> None:
    """Replaying the history over ``first`` gives the stored state, for every contract field
    and, for the contracts in ``tabs_of`` (their tabs' first sync is in ``first``), every
    named tab field."""
    now = state(engine)
    replayed = replay(first, events(engine))
    for key, stored in now.items():
        if key[0] != "contrato" and key[1] not in tabs_of:
            continue
        got = replayed.get(key, {})
        assert {f: got.get(f) for f in stored} == stored, key
    assert {k for k in replayed if k[0] == "contrato"} == {k for k in now if k[0] == "contrato"}


def run_events(engine, result) -> set[tuple]:
    evs = events(engine, "run_id = :r", r=result.run_id)
    return {(e["origem"], e["contrato_id"], e["campo"], e["evento"]) for e in evs}


def with_empenhos(sim, ids, n):
    return next(c for c in ids if len(sim.tab(c, "empenhos")) >= n)


# --- the whole history -------------------------------------------------------------------------


def test_replaying_the_events_over_the_first_snapshot_gives_every_later_state(
    sim, resources, engine
):
    ids = sorted(sim.contrato_ids(UASG))
    sync(resources)
    assert events(engine) == []  # the first sync is the baseline
    first = state(engine)
    c_valor, c_fornecedor, c_removido = ids[0], ids[2], ids[3]
    c_aditivo = next(c for c in ids[4:] if sim.tab(c, "historico"))
    c_empenho = with_empenhos(sim, [c for c in ids if c != c_aditivo], 2)

    # 1. a value change
    sim.change_contrato(c_valor, valor_global="1.234.567,89")
    result = sync(resources)
    assert run_events(engine, result) == {("contrato", c_valor, "valor_global", "alterado")}
    [e] = events(engine, "run_id = :r", r=result.run_id)
    assert e["valor_novo_numerico"] == Decimal("1234567.89")
    assert e["valor_anterior_numerico"] == first[("contrato", c_valor, c_valor)]["valor_global"]
    assert e["valor_novo_texto"] is None and e["uasg"] == UASG
    meta = materialization_metadata(result)
    assert (meta["contratos_alterados"], meta["alteracoes_registradas"]) == (1, 1)
    assert "valor_global" in meta["alteracoes"]
    assert f"{e['valor_anterior_numerico']} -> 1234567.89" in meta["alteracoes"]
    assert_replays(first, engine, set(ids))

    # 2. vigência extended by an aditivo (a new historico record and the contract's new end)
    record = sim.contrato(c_aditivo)
    fim = date.fromisoformat(record["vigencia_fim"]) + timedelta(days=365)
    historico = sim.tab(c_aditivo, "historico")
    aditivo = dict(
        historico[-1],
        id=max(h["id"] for h in historico) + 1,
        tipo="Termo Aditivo",
        numero="00099/2026",
        data_assinatura="2026-11-20",
        vigencia_inicio=record["vigencia_fim"],
        vigencia_fim=fim.isoformat(),
        novo_valor_global="2.000.000,00",
    )
    sim.set_tab(c_aditivo, "historico", [*historico, aditivo])
    sim.change_contrato(c_aditivo, vigencia_fim=fim.isoformat())
    result = sync(resources)
    got = run_events(engine, result)
    assert ("contrato", c_aditivo, "vigencia_fim", "alterado") in got
    assert {(o, c, f) for o, c, f, ev in got if ev == "inserido"} >= {
        ("historico", c_aditivo, f) for f in ("tipo", "numero", "vigencia_fim")
    }
    assert {o for o, *_ in got} == {"contrato", "historico"}
    [novo_fim] = events(engine, "run_id = :r AND campo = 'vigencia_fim' AND origem = 'contrato'",
                        r=result.run_id)  # fmt: skip
    assert (novo_fim["valor_novo_data"], novo_fim["valor_novo_texto"]) == (fim, None)
    assert_replays(first, engine, set(ids))

    # 3. a new supplier (the nested fornecedor, compared as its flattened columns)
    sim.change_contrato(c_fornecedor, fornecedor=ACME)
    result = sync(resources)
    got = run_events(engine, result)
    fornecedor = {f"fornecedor_{k}" for k in ("tipo", "cnpj_cpf_idgener", "nome")}
    assert {f for *_, f, _ in got} <= fornecedor
    assert ("contrato", c_fornecedor, "fornecedor_nome", "alterado") in got
    assert_replays(first, engine, set(ids))

    # 4. removal, 5. reappearance
    sim.remove_contrato(c_removido)
    result = sync(resources)
    assert run_events(engine, result) == {("contrato", c_removido, "removido_motivo", "removido")}
    assert_replays(first, engine, set(ids))
    sim.restore_contrato(c_removido)
    result = sync(resources)
    assert run_events(engine, result) == {
        ("contrato", c_removido, "removido_motivo", "reaparecido")
    }
    assert_replays(first, engine, set(ids))

    # 6. a new empenho, a paid one, a cancelled one
    empenhos = sim.tab(c_empenho, "empenhos")
    pago = dict(empenhos[0], pago=empenhos[0]["liquidado"], liquidado="99.999,99")
    novo = dict(empenhos[0], id=max(e["id"] for e in empenhos) + 1, numero="2026NE999999",
                empenhado="10.000,00", liquidado="0,00", pago="0,00")  # fmt: skip
    sim.set_tab(c_empenho, "empenhos", [pago, *empenhos[2:], novo])
    result = sync(resources)
    got = run_events(engine, result)
    assert {o for o, *_ in got} == {"empenhos"}
    assert ("empenhos", c_empenho, "liquidado", "alterado") in got
    assert ("empenhos", c_empenho, "removido_motivo", "removido") in got
    assert ("empenhos", c_empenho, "empenhado", "inserido") in got
    assert_replays(first, engine, set(ids))

    # 7. a new contract: one event per stored field; its tabs' first sync is their baseline
    added = sim.add_contrato(UASG)["id"]
    result = sync(resources)
    got = run_events(engine, result)
    stored = state(engine)[("contrato", added, added)]
    assert got == {("contrato", added, f, "inserido") for f, v in stored.items() if v is not None}
    meta = materialization_metadata(result, "contratos")
    assert (meta["contratos_alterados"], meta["alteracoes_registradas"]) == (0, len(got))
    assert "inserido" not in meta["alteracoes"]  # the table shows changes, not insertions
    assert_replays(first, engine, set(ids))

    # an unchanged re-sync records nothing and writes nothing (the tabs only stamp their time)
    before, stored_before = events(engine), rows(engine)
    result = sync(resources, tabs=False)
    assert [r["_xmin"] for r in rows(engine)] == [r["_xmin"] for r in stored_before]
    meta = materialization_metadata(result)
    assert (meta["linhas_escritas"], meta["alteracoes_registradas"]) == (0, 0)
    assert meta["contratos_alterados"] == 0
    result = sync(resources)
    for mat in result.asset_materializations_for_node("contratos_abas"):
        meta = {k: v.value for k, v in mat.metadata.items()}
        assert meta["contratos_sincronizados"] == 26
        assert meta["linhas_inseridas"] == meta["linhas_atualizadas"] == 0
        assert meta["linhas_removidas"] == 0
    assert events(engine) == before


def test_the_first_sync_of_a_uasg_and_of_a_tab_records_nothing(sim, resources, engine):
    result = sync(resources)
    assert materialization_metadata(result)["inseridos"] == 25
    assert events(engine) == []
    # a contract stored by the on-demand job into an empty UASG is its baseline too
    other = max(sim.contrato_ids("787000"), key=lambda c: sim.contrato(c)["vigencia_fim"])
    on_demand = sincronizar_contrato.execute_in_process(
        run_config={"ops": {"sincronizar_abas_do_contrato": {"config": {"contrato_id": other}}}},
        resources=resources,
        partition_key="787000",
    )
    assert on_demand.success and events(engine) == []


def test_a_failed_sync_records_nothing(sim, resources, engine):
    ids = sorted(sim.contrato_ids(UASG))
    sync(resources, tabs=False)
    sim.change_contrato(ids[0], valor_global="1,00")
    for cid in ids[5:]:  # most contracts vanish: the run is refused after writing its batch
        sim.remove_contrato(cid)
    result = sync(resources, tabs=False, raise_on_error=False)
    assert "sumiram da listagem" in failure_message(result)
    assert events(engine) == []
    assert rows(engine, where="id = :i", i=ids[0])[0]["valor_global"] != Decimal("1.00")

    config = {"contratos": {"config": {"vigencia_janela_dias": None, "max_taxa_remocao": 1.0}}}
    result = sync(resources, tabs=False, config=config)
    got = run_events(engine, result)
    assert ("contrato", ids[0], "valor_global", "alterado") in got
    assert len(got) == 1 + len(ids[5:])


def test_the_same_data_synced_again_adds_no_event(sim, resources, engine):
    ids = sorted(sim.contrato_ids(UASG))
    sync(resources)
    first = state(engine)
    target = ids[1]
    old = sim.contrato(target)["valor_global"]
    for valor in ("5,00", "5,00", old, old):  # a change, a replay, back to the older state, again
        sim.change_contrato(target, valor_global=valor)
        sync(resources)
    assert [(e["campo"], e["valor_novo_numerico"]) for e in events(engine)] == [
        ("valor_global", Decimal("5.00")),
        ("valor_global", first[("contrato", target, target)]["valor_global"]),
    ]
    # the on-demand job with the same data, and the same events recorded twice
    on_demand = sincronizar_contrato.execute_in_process(
        run_config={"ops": {"sincronizar_abas_do_contrato": {"config": {"contrato_id": target}}}},
        resources=resources,
        partition_key=UASG,
    )
    assert on_demand.success and len(events(engine)) == 2
    with engine.begin() as conn:
        visto = alteracoes.visto(conn, UASG, "replay")
        antes = alteracoes.antes_contratos(conn, [target])
        conn.execute(sa.text("UPDATE contratos SET objeto = 'x' WHERE id = :i"), {"i": target})
        chaves = [(target, target)]
        assert alteracoes.registrar(conn, "contrato", chaves, antes, visto=visto) == 1
        assert alteracoes.registrar(conn, "contrato", chaves, antes, visto=visto) == 0
    assert len(events(engine)) == 3
    assert_replays(first, engine, set(ids))


def test_a_tab_record_that_leaves_and_comes_back_is_removed_then_reappears(sim, resources, engine):
    ids = sorted(sim.contrato_ids(UASG))
    cid = with_empenhos(sim, ids, 2)
    sync(resources)
    first = state(engine)
    empenhos = sim.tab(cid, "empenhos")
    gone = empenhos[0]
    sim.set_tab(cid, "empenhos", empenhos[1:])
    got = run_events(engine, sync(resources))
    assert got == {("empenhos", cid, "removido_motivo", "removido")}
    sim.set_tab(cid, "empenhos", empenhos)
    result = sync(resources)
    assert run_events(engine, result) == {("empenhos", cid, "removido_motivo", "reaparecido")}
    [back] = events(engine, "run_id = :r", r=result.run_id)
    assert back["registro_id"] == gone["id"] and new_value(back) is None
    assert_replays(first, engine, set(ids))


# --- portal and export -------------------------------------------------------------------------


def _age(engine, cid: int, days: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE contratos_alteracoes SET visto_em = visto_em - make_interval(days => :d) "
                "WHERE contrato_id = :c"
            ),
            {"d": days, "c": cid},
        )


@pytest.fixture
def changed(sim, resources, engine) -> list[int]:
    """Four contracts changed after the baseline: now, 10 days ago, 40 days ago, and one whose
    supplier changed now."""
    ids = sorted(sim.contrato_ids(UASG))
    sync(resources, tabs=False)
    for cid, valor in zip(ids[:3], ("1.234.567,89", "10,00", "20,00"), strict=True):
        sim.change_contrato(cid, valor_global=valor)
    sim.change_contrato(ids[3], fornecedor=ACME)
    sync(resources, tabs=False)
    _age(engine, ids[1], 10)
    _age(engine, ids[2], 40)
    return ids[:4]


def test_the_portal_view_and_asset_show_the_last_7_and_30_days_per_uasg(changed, resources, engine):
    with engine.connect() as conn:
        recent = [dict(r) for r in conn.execute(sa.text("SELECT * FROM alteracoes_recentes"))
                  .mappings()]  # fmt: skip
    assert {r["contrato_id"] for r in recent} == {changed[0], changed[1], changed[3]}
    by = {(r["contrato_id"], r["campo"]): r for r in recent}
    now = by[(changed[0], "valor_global")]
    assert now["ultimos_7_dias"] and now["valor_novo"] == "1234567.89"
    assert now["numero"] and now["unidade_nome"] and now["uasg"] == UASG
    assert not by[(changed[1], "valor_global")]["ultimos_7_dias"]
    assert by[(changed[3], "fornecedor_nome")]["valor_novo"] == "ACME LTDA"

    result = dg.materialize([alteracoes_recentes], resources=resources)
    [mat] = result.asset_materializations_for_node("alteracoes_recentes")
    meta = {k: v.value for k, v in mat.metadata.items()}
    in_30 = len(recent)
    in_7 = sum(r["ultimos_7_dias"] for r in recent)
    assert (meta["alteracoes_30_dias"], meta["alteracoes_7_dias"]) == (in_30, in_7)
    assert in_7 == in_30 - 1 and meta["uasgs_com_alteracoes"] == 1
    assert f"| {UASG} |" in meta["por_uasg"] and "2 / 3" in meta["por_uasg"]


@pytest.fixture
def exports(tmp_path, monkeypatch):
    path = tmp_path / "exports"
    monkeypatch.setenv("LICITACAO_EXPORT_DIR", str(path))
    return path


def export(db_url, **config):
    result = exportar_contratos.execute_in_process(
        run_config={"ops": {"exportar": {"config": {"uasgs": [UASG], **config}}}},
        resources={"warehouse": WarehouseResource(database_url=db_url)},
    )
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


def test_exports_carry_each_contracts_recent_changes(changed, db_url, engine, exports):
    meta = export(db_url, format="json", include_tabs=["alteracoes"])
    data = {c["contrato_id"]: c for c in json.loads(Path(meta["caminho"]).read_text())}
    assert len(data) == 25
    valor = [a for a in data[changed[0]]["alteracoes"] if a["campo"] == "valor_global"]
    assert [(a["evento"], a["valor_novo_numerico"], a["valor_novo_texto"]) for a in valor] == [
        ("alterado", "1234567.89", None)
    ]
    assert data[changed[2]]["alteracoes"] == []  # 40 days ago: not recent
    assert {a["campo"] for a in data[changed[3]]["alteracoes"]} >= {"fornecedor_nome"}
    assert meta["linhas_abas"] == {"alteracoes": len(events(engine)) - 1}

    meta = export(db_url, format="csv", include_tabs=["alteracoes"], decimal="iso")
    lines = Path(meta["arquivos_abas"]["alteracoes"]).read_text("utf-8-sig").splitlines()
    header = lines[0].split(";")
    assert (
        header[:3] == ["contrato_id", "contrato_uasg", "contrato_numero"]
        and "valor_novo_numerico" in header
    )
    row = next(dict(zip(header, line.split(";"), strict=True)) for line in lines[1:]
               if line.startswith(f"{changed[0]};"))  # fmt: skip
    assert (row["campo"], row["valor_novo_numerico"]) == ("valor_global", "1234567.89")


# --- schema ------------------------------------------------------------------------------------


def test_migration_0007_goes_down_and_up(db_url):
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0006")
    inspector = sa.inspect(engine)
    assert "contratos_alteracoes" not in inspector.get_table_names()
    assert "alteracoes_recentes" not in inspector.get_view_names()
    upgrade(engine)
    inspector = sa.inspect(engine)
    assert "alteracoes_recentes" in inspector.get_view_names()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.metadata) == []
    engine.dispose()
