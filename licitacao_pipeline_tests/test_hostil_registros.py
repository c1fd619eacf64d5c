"""Issue 20, items 1 and 5-7 end to end (simulator or hostile server over HTTP -> assets -> a
real PostgreSQL): one record the warehouse cannot hold is rejected alone, counted and named,
the rest of the UASG syncs, and every later run stays green; text is kept as sent where it can
be stored and said where it cannot; a huge UASG name does not flood tags, logs or metadata."""

import copy
import json

import dagster as dg

from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.resources import ComprasNetResource
from licitacao_pipeline.names import UNIDADE_TAG

from .helpers import (
    failure_message,
    materialization_metadata,
    materialize,
    rows,
    step_retries,
)
from .hostil import ServidorHostil, corpo
from .test_correcoes import tab_meta

UASG = "787010"
TOLERANT = {"contratos": {"config": {"vigencia_janela_dias": None, "max_taxa_rejeicao": 0.5}}}


def _rejects(engine, source="contratos") -> dict[int, dict]:
    found = rows(engine, "rejected_records", "source = :s", s=source)
    return {int(r["record_id"]): r for r in found}


def test_values_the_columns_cannot_hold_reject_only_their_record(sim, resources, engine):
    """Was: ``integer out of range``, ``numeric field overflow`` or ``A string literal cannot
    contain NUL`` failed the whole UASG run, and every later run the same way."""
    ids = sim.contrato_ids(UASG)
    bad = {
        ids[0]: ({"num_parcelas": 3_000_000_000}, "num_parcelas"),
        ids[1]: ({"valor_global": "12.345.678.901.234.567,00"}, "valor_global"),
        ids[2]: ({"objeto": "Aquisição de\x00café"}, "objeto"),
        ids[3]: ({"data_assinatura": "0000-01-01"}, "data_assinatura"),
    }
    for cid, (fields, _) in bad.items():
        sim.change_contrato(cid, **fields)
    for _ in (1, 2):
        result = materialize([contratos], UASG, resources, TOLERANT, raise_on_error=False)
        assert result.success, failure_message(result)
        assert materialization_metadata(result)["rejeitados"] == len(bad)
    assert {r["id"] for r in rows(engine)} == set(ids) - set(bad)
    rejects = _rejects(engine)
    assert set(rejects) == set(bad)
    for cid, (_, field) in bad.items():
        assert field in rejects[cid]["reason"] and rejects[cid]["ocorrencias"] == 2
    assert "NUL" in rejects[ids[2]]["reason"]
    assert "\x00" not in json.dumps(rejects[ids[2]]["payload"])  # stored, legibly


def test_tab_values_the_columns_cannot_hold_reject_only_their_record(sim, resources, engine):
    """Was: the contract's tab failed as an unexpected write error, failing the run."""
    cid = next(
        c
        for c in sim.contrato_ids(UASG)
        if all(len(sim.tab(c, a)) > 1 for a in ("historico", "empenhos", "arquivos"))
    )
    changes = {
        "historico": ("num_parcelas", 10**20),
        "empenhos": ("pago", "12.345.678.901.234.567,00"),
        "arquivos": ("descricao", "ata\x00"),
    }
    for aba, (field, value) in changes.items():
        sim.change_tab_record(cid, aba, 0, **{field: value})
    all_tabs = {**TOLERANT, "contratos_abas": {"config": {"completa": True}}}
    for _ in (1, 2):
        result = materialize([contratos, contratos_abas], UASG, resources, all_tabs,
                             raise_on_error=False)  # fmt: skip
        assert result.success, failure_message(result)
        for aba in changes:
            meta = tab_meta(result, aba)
            assert meta["linhas_rejeitadas"] == 1 and meta["contratos_com_falha"] == 0, aba
    for aba, (field, _) in changes.items():
        [reject] = _rejects(engine, f"contratos_{aba}").values()
        assert field in reject["reason"] and reject["ocorrencias"] == 2
        stored = rows(engine, f"contratos_{aba}", "contrato_id = :c", c=cid)
        assert len(stored) == len(sim.tab(cid, aba)) - 1  # the others are there


def test_ids_must_be_positive_json_integers_that_fit_a_bigint(sim, resources, engine):
    """Was: ``id: 10**20`` made the whole listing "invalid JSON (integer overflow)", retried as
    transient; string and negative ids were stored as contracts."""
    ids = sim.contrato_ids(UASG)
    bad = {ids[0]: 10**20, ids[1]: str(ids[1]), ids[2]: -ids[2], ids[3]: 0}
    for cid, value in bad.items():
        sim.change_contrato(cid, id=value)
    result = materialize([contratos], UASG, resources, TOLERANT, raise_on_error=False)
    assert result.success, failure_message(result)
    assert step_retries(result) == 0
    assert materialization_metadata(result)["rejeitados"] == len(bad)
    assert {r["id"] for r in rows(engine)} == set(ids) - set(bad)
    reasons = [r["reason"] for r in rows(engine, "rejected_records")]
    assert len(reasons) == len(bad) and all(r.startswith("id:") for r in reasons)


def test_a_lone_surrogate_is_stored_as_u_fffd_and_counted(sim, resources, engine):
    """Was: ``"\\ud800"`` in ``objeto`` stored as ``?``, silently."""
    ids = sim.contrato_ids(UASG)
    sim.change_contrato(ids[0], objeto="Aquisição \ud800 de café")
    cid = next(c for c in ids if sim.tab(c, "historico"))
    sim.change_tab_record(cid, "historico", 0, observacao="nota \udc00")
    config = {**TOLERANT, "contratos_abas": {"config": {"completa": True}}}
    result = materialize([contratos, contratos_abas], UASG, resources, config)
    [row] = rows(engine, where="id = :i", i=ids[0])
    assert row["objeto"] == "Aquisição \ufffd de café"
    assert row["payload"]["objeto"] == "Aquisição \ufffd de café"
    meta = materialization_metadata(result)
    assert meta["textos_substituidos"] == 1
    assert meta["amostras_textos_substituidos"] == [{"record_id": str(ids[0]), "campo": "objeto"}]
    [hist] = [r for r in rows(engine, "contratos_historico", "contrato_id = :c", c=cid)
              if r["observacao"] and "\ufffd" in r["observacao"]]  # fmt: skip
    assert hist["observacao"] == "nota \ufffd"
    assert tab_meta(result, "historico")["textos_substituidos"] == 1


def test_a_2_mib_uasg_name_is_stored_but_capped_in_tags_logs_and_metadata(sim, resources, engine):
    """Was: a 2-million-character run tag and log lines."""
    first = sim.listing(UASG)[0]
    nome = "CAPITANIA DOS PORTOS " + "X" * (2 * 1024 * 1024)
    contratante = copy.deepcopy(first["contratante"])
    contratante["orgao"]["unidade_gestora"]["nome"] = nome
    sim.change_contrato(first["id"], contratante=contratante)
    with dg.instance_for_test() as instance:
        result = materialize([contratos, contratos_abas], UASG, resources, TOLERANT,
                             instance=instance)  # fmt: skip
        tag = instance.get_run_by_id(result.run_id).tags[UNIDADE_TAG]
        logs = [e.message for e in instance.all_logs(result.run_id)]
    assert tag.startswith("CAPITANIA DOS PORTOS X") and len(tag) <= 200
    assert len(materialization_metadata(result)["unidade"]) <= 200
    assert max(len(m) for m in logs) < 10_000
    [unidade] = rows_unidades(engine)
    assert unidade["nome"] == nome  # kept as the API sent it: it can be stored


def rows_unidades(engine):
    import sqlalchemy as sa

    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM unidades"))]


def test_an_aborted_sync_says_its_rejects_were_recorded(sim, resources, engine):
    """Was: "nothing written" while the rejects had been written to rejected_records."""
    sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="valor_global", count=5)
    result = materialize([contratos], UASG, resources, raise_on_error=False)
    text = failure_message(result)
    assert "nothing written" not in text and "rejected_records" in text
    assert rows(engine) == [] and len(rows(engine, "rejected_records")) == 5


def test_a_listing_record_nested_3000_deep_is_rejected_alone(engine, resources):
    """Was: ``RecursionError`` in the content hash failed the run (and every later one)."""
    listing = json.loads(_one_listing())
    deep = b'{"id": 78701000077, "objeto": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    body = b"[" + json.dumps(listing[0]).encode() + b"," + deep + b"]"
    routes = {f"/api/contrato/ug/{UASG}": corpo(body),
              f"/api/contrato/inativo/ug/{UASG}": corpo(b"[]")}  # fmt: skip
    with ServidorHostil(routes) as api:
        hostile = {**resources, "comprasnet": ComprasNetResource(base_url=api.origin)}
        for _ in (1, 2):
            result = materialize([contratos], UASG, hostile, TOLERANT, raise_on_error=False)
            assert result.success, failure_message(result)
    assert [r["id"] for r in rows(engine)] == [listing[0]["id"]]
    [reject] = rows(engine, "rejected_records")
    assert reject["record_id"] == "78701000077" and "profundidade" in reject["reason"]


def _one_listing() -> bytes:
    from comprasnet_simulator import ComprasNetSimulator

    with ComprasNetSimulator(seed=7, contracts={UASG: 1}, inactive_ratio=0) as one:
        return json.dumps(one.listing(UASG)).encode()
