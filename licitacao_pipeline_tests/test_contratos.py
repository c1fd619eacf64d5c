"""The ``contratos`` asset against the simulator over HTTP and a real PostgreSQL."""

import pytest
import sqlalchemy as sa

from licitacao_pipeline.defs.contratos import contratos

from .helpers import (
    br_money,
    failure_message,
    materialization_metadata,
    materialize,
    parse_day,
    rows,
    sim_records,
    with_client,
)

ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}


def test_stores_every_contract_with_exact_values(sim, resources, engine):
    result = materialize([contratos], "787010", resources, ALL)
    expected = {r["id"]: r for r in sim_records(sim, "787010")}
    stored = {r["id"]: r for r in rows(engine)}
    assert set(stored) == set(expected) and len(expected) == 25
    for cid, rec in expected.items():
        row = stored[cid]
        assert row["uasg"] == "787010"
        assert row["payload"] == rec
        assert row["numero"] == rec["numero"] and row["objeto"] == rec["objeto"]
        assert row["situacao"] == rec["situacao"]
        assert row["modalidade"] == rec["modalidade"]
        for f in ("valor_inicial", "valor_global", "valor_parcela", "valor_acumulado"):
            assert row[f] == br_money(rec[f]), f
        for f in ("vigencia_inicio", "vigencia_fim", "data_assinatura"):
            assert row[f] == parse_day(rec[f]), f
        assert row["fornecedor_cnpj_cpf_idgener"] == rec["fornecedor"]["cnpj_cpf_idgener"]
        assert row["fornecedor_nome"] == rec["fornecedor"]["nome"]
        ug = rec["contratante"]["orgao"]["unidade_gestora"]
        assert row["unidade_gestora_codigo"] == ug["codigo"]
        assert row["unidade_gestora_nome"] == ug["nome"]
        assert row["removido_em"] is None
    assert {r["situacao"] for r in expected.values()} == {"Ativo", "Inativo"}
    assert any(not r["objeto"].isascii() for r in expected.values())  # accents survive
    meta = materialization_metadata(result)
    assert meta["inseridos"] == 25 and meta["atualizados"] == 0 and meta["rejeitados"] == 0
    assert meta["requisicoes"] == 2 and meta["bytes"] > 0
    checks = result.get_asset_check_evaluations()
    assert {c.partition for c in checks} == {"787010"}  # per-UASG check status
    assert {c.check_name: c.passed for c in checks} == {
        "ids_unicos": True,
        "valores_nao_negativos": True,
        "vigencia_coerente": True,
        "taxa_rejeicao": True,
    }


def test_resync_unchanged_writes_nothing_then_tracks_changes_and_removals(sim, resources, engine):
    materialize([contratos], "787010", resources, ALL)
    before = {r["id"]: r for r in rows(engine)}

    sim.reset_counts()
    meta = materialization_metadata(materialize([contratos], "787010", resources, ALL))
    assert sim.count("listing") == 2 and sum(sim.requests.values()) == 2
    assert meta["linhas_escritas"] == 0 and meta["inalterados"] == 25
    after = {r["id"]: r for r in rows(engine)}
    assert {k: r["_xmin"] for k, r in after.items()} == {k: r["_xmin"] for k, r in before.items()}

    changed, removed = sorted(before)[3], sorted(before)[7]
    sim.change_contrato(changed, objeto="Aquisição de café e açúcar", valor_global="1.000,01")
    sim.remove_contrato(removed)
    meta = materialization_metadata(materialize([contratos], "787010", resources, ALL))
    assert (meta["atualizados"], meta["removidos"], meta["inseridos"]) == (1, 1, 0)
    final = {r["id"]: r for r in rows(engine)}
    assert set(final) == set(before)  # nothing deleted
    written = {k for k in final if final[k]["_xmin"] != before[k]["_xmin"]}
    assert written == {changed, removed}
    assert final[changed]["objeto"] == "Aquisição de café e açúcar"
    assert str(final[changed]["valor_global"]) == "1000.01"
    assert final[removed]["removido_em"] is not None
    assert all(r["removido_em"] is None for k, r in final.items() if k != removed)


def test_vigencia_filter_counts_filtered_contracts(sim, resources, engine):
    result = materialize(
        [contratos], "787010", resources, {"contratos": {"config": {"vigencia_janela_dias": 0}}}
    )
    meta = materialization_metadata(result)
    stored = rows(engine)
    assert meta["filtrados_por_vigencia"] > 0
    assert meta["filtrados_por_vigencia"] + len(stored) == 25
    assert len(meta["amostras_filtrados"]) == min(10, meta["filtrados_por_vigencia"])


TRANSIENT = ["429", "500", "502", "503", "timeout", "reset", "truncated", "html200"]


@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_faults_are_retried_to_success(sim, resources, engine, kind):
    sim.inject_fault(kind, path=r"/api/contrato/ug/", times=2, delay=5, retry_after=0)
    meta = materialization_metadata(materialize([contratos], "787010", resources, ALL))
    assert meta["inseridos"] == 25 and meta["retentativas"] >= 2
    assert len(rows(engine)) == 25


@pytest.mark.parametrize("kind", TRANSIENT)
def test_persistent_faults_fail_loudly_and_keep_previous_data(sim, resources, engine, kind):
    materialize([contratos], "787010", resources, ALL)
    before = rows(engine)
    sim.change_contrato(before[0]["id"], objeto="mudou")
    sim.inject_fault(kind, path=r"/api/contrato/inativo/ug/", times=-1, delay=5, retry_after=0)
    fast = with_client(
        resources, sim, max_retries=1, body_retries=1, read_timeout=1.0, listing_read_timeout=1.0
    )
    message = failure_message(materialize([contratos], "787010", fast, ALL, raise_on_error=False))
    assert "/api/contrato/inativo/ug/787010" in message
    assert "ComprasNet" in message
    assert rows(engine) == before


def test_malformed_records_are_rejected_and_recorded(sim, resources, engine):
    sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="valor_global", count=1)
    result = materialize([contratos], "787010", resources, ALL)
    meta = materialization_metadata(result)
    assert meta["rejeitados"] == 1 and meta["inseridos"] == 24
    assert "valor_global" in meta["amostras_rejeitados"][0]["reason"]
    rejected = rows(engine, "rejected_records")
    assert len(rejected) == 1 and rejected[0]["source"] == "contratos"
    assert rejected[0]["payload"]["valor_global"] == "abc,de"
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["taxa_rejeicao"]
    assert not check.passed


def test_too_many_rejects_fail_the_run_writing_nothing(sim, resources, engine):
    sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="id", count=5)
    result = materialize([contratos], "787010", resources, ALL, raise_on_error=False)
    assert "5 of 25 records rejected" in failure_message(result)
    assert rows(engine) == []
    assert len(rows(engine, "rejected_records")) == 5  # the rejections are still on record


def test_mass_disappearance_is_refused(sim, resources, engine):
    materialize([contratos], "787010", resources, ALL)
    for cid in sim.contrato_ids("787010")[:20]:
        sim.remove_contrato(cid)
    result = materialize([contratos], "787010", resources, ALL, raise_on_error=False)
    assert "20 of 25 stored contracts vanished" in failure_message(result)
    assert all(r["removido_em"] is None for r in rows(engine))
    materialize(
        [contratos],
        "787010",
        resources,
        {"contratos": {"config": {"vigencia_janela_dias": None, "max_taxa_remocao": 1.0}}},
    )
    assert sum(r["removido_em"] is not None for r in rows(engine)) == 20


def test_partitions_are_independent(sim, resources, engine):
    materialize([contratos], "787010", resources, ALL)
    materialize([contratos], "787000", resources, ALL)
    with engine.connect() as conn:
        counts = dict(
            conn.execute(sa.text("SELECT uasg, count(*) FROM contratos GROUP BY uasg")).all()
        )
    assert counts == {"787010": 25, "787000": 8}
