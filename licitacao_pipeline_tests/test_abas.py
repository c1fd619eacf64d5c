"""Tab assets and the on-demand job, over HTTP against a real PostgreSQL."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.contrato_sob_demanda import sincronizar_contrato
from licitacao_pipeline.defs.contratos import contratos

from .helpers import br_money, failure_message, materialize, parse_day, rows, with_client

UASG = "787010"
ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}


def tab_requests(sim) -> int:
    return sum(sim.count(t) for t in ABAS)


def sync_all(resources, abas_config=None, raise_on_error=True):
    config = dict(ALL)
    if abas_config:
        config["contratos_abas"] = {"config": abas_config}
    return materialize([contratos, contratos_abas], UASG, resources, config, raise_on_error)


def sync_tabs_only(resources, abas_config=None, raise_on_error=True):
    config = {"contratos_abas": {"config": abas_config}} if abas_config else None
    return materialize([contratos_abas], UASG, resources, config, raise_on_error)


def tab_meta(result, tab):
    mats = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == [f"contratos_{tab}"]
    ]
    assert len(mats) == 1
    return {k: v.value for k, v in mats[0].materialization.metadata.items()}


def checks(result):
    return {(c.asset_key.path[0], c.check_name): c for c in result.get_asset_check_evaluations()}


def test_first_run_fetches_every_tab_and_stores_exact_records(sim, resources, engine):
    ids = sim.contrato_ids(UASG)
    result = sync_all(resources)
    assert all(sim.count(t) == len(ids) for t in ABAS)
    empty_seen = 0
    for tab in ABAS:
        stored = rows(engine, f"contratos_{tab}")
        expected = [(cid, rec) for cid in ids for rec in sim.tab(cid, tab)]
        empty_seen += sum(1 for cid in ids if not sim.tab(cid, tab))
        assert sorted((r["contrato_id"], r["id"]) for r in stored) == sorted(
            (cid, rec["id"]) for cid, rec in expected
        )
        by_key = {(r["contrato_id"], r["id"]): r for r in stored}
        for cid, rec in expected:
            row = by_key[(cid, rec["id"])]
            assert row["payload"] == rec and row["removido_em"] is None
            if tab == "empenhos":
                assert "contrato_id" not in rec  # comes from the URL
                assert row["empenhado"] == br_money(rec["empenhado"])
                assert row["data_emissao"] == parse_day(rec["data_emissao"])
                assert row["credor_cnpj_cpf_idgener"] == rec["credor_obj"]["cnpj_cpf_idgener"]
            if tab == "historico":
                assert row["valor_global"] == br_money(rec["valor_global"])
                assert row["qualificacao_termo"] == rec["qualificacao_termo"]
                assert row["criado_em"] == datetime.fromisoformat(
                    rec["criado_em"].replace("Z", "+00:00")
                )
            if tab == "itens":
                assert row["valortotal"] == br_money(rec["valortotal"])
                assert str(row["quantidade"]) == str(rec["quantidade"]) or float(
                    row["quantidade"]
                ) == float(rec["quantidade"])
        meta = tab_meta(result, tab)
        assert meta["contratos_devidos"] == len(ids) and meta["contratos_com_falha"] == 0
        assert meta["linhas_inseridas"] == len(expected)
    assert empty_seen > 0  # some tabs are empty and still count as synced
    stamps = rows(engine)
    assert all(r[f"{t}_atualizado_em"] is not None for r in stamps for t in ABAS)
    assert all(r["detalhes_atualizados_em"] is not None for r in stamps)
    assert all(c.passed for c in checks(result).values())


def test_incremental_second_run_and_changes(sim, resources, engine):
    ids = sim.contrato_ids(UASG)
    sync_all(resources)
    sim.reset_counts()
    result = sync_all(resources)
    assert tab_requests(sim) == 0
    assert tab_meta(result, "itens")["contratos_devidos"] == 0

    sim.change_contrato(ids[2], objeto="Objeto alterado na origem")
    sim.reset_counts()
    sync_all(resources)
    assert tab_requests(sim) == 4
    assert all(sim.requests[f"/api/contrato/{ids[2]}/{t}"] == 1 for t in ABAS)

    # a tab older than the staleness window is refetched, alone
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE contratos SET arquivos_atualizado_em = now() - interval '25 hours' "
                "WHERE id = :i"
            ),
            {"i": ids[5]},
        )
    sim.reset_counts()
    sync_tabs_only(resources)
    assert tab_requests(sim) == 1 and sim.requests[f"/api/contrato/{ids[5]}/arquivos"] == 1
    sim.reset_counts()
    sync_tabs_only(resources, {"validade_horas": 0.0})
    assert tab_requests(sim) == 4 * len(ids)
    sim.reset_counts()
    sync_tabs_only(resources, {"completa": True})
    assert tab_requests(sim) == 4 * len(ids)


def test_tab_snapshot_updates_and_marks_removed(sim, resources, engine):
    ids = sim.contrato_ids(UASG)
    sync_all(resources)
    cid = next(i for i in ids if len(sim.tab(i, "empenhos")) >= 2)
    first, second = sim.tab(cid, "empenhos")[:2]
    before = {r["id"]: r for r in rows(engine, "contratos_empenhos", "contrato_id = :c", c=cid)}
    sim.change_tab_record(cid, "empenhos", 0, pago="9.876,54")
    sim.set_tab(cid, "empenhos", [r for r in sim.tab(cid, "empenhos") if r["id"] != second["id"]])
    result = sync_tabs_only(resources, {"completa": True})
    meta = tab_meta(result, "empenhos")
    assert (meta["linhas_atualizadas"], meta["linhas_removidas"], meta["linhas_inseridas"]) == (
        1,
        1,
        0,
    )
    after = {r["id"]: r for r in rows(engine, "contratos_empenhos", "contrato_id = :c", c=cid)}
    assert set(after) == set(before)
    assert str(after[first["id"]]["pago"]) == "9876.54"
    assert after[second["id"]]["removido_em"] is not None
    # an emptied tab is a snapshot too: every row removed, none deleted
    sim.set_tab(cid, "empenhos", [])
    sync_tabs_only(resources, {"completa": True})
    after = rows(engine, "contratos_empenhos", "contrato_id = :c", c=cid)
    assert len(after) == len(before) and all(r["removido_em"] is not None for r in after)


def test_network_failure_on_one_contract_tab_is_visible_and_retried_next_run(
    sim, resources, engine
):
    ids = sim.contrato_ids(UASG)
    bad = ids[4]
    sim.inject_fault("500", path=rf"^/api/contrato/{bad}/empenhos$", times=-1)
    fast = with_client(resources, sim, max_retries=2)
    result = sync_all(fast)
    meta = tab_meta(result, "empenhos")
    assert meta["contratos_com_falha"] == 1 and meta["amostras_falhas"][0]["contrato_id"] == bad
    assert "status=500" in meta["amostras_falhas"][0]["erro"]
    assert meta["contratos_sincronizados"] == len(ids) - 1
    assert not checks(result)[("contratos_empenhos", "sem_falhas")].passed
    assert checks(result)[("contratos_itens", "sem_falhas")].passed
    stamps = {r["id"]: r for r in rows(engine)}
    assert stamps[bad]["empenhos_atualizado_em"] is None
    assert stamps[bad]["detalhes_atualizados_em"] is None
    assert stamps[bad]["itens_atualizado_em"] is not None
    assert sum(1 for r in stamps.values() if r["empenhos_atualizado_em"] is None) == 1
    stored = {r["contrato_id"] for r in rows(engine, "contratos_empenhos")}
    assert bad not in stored and stored  # the others were committed

    sim.clear_faults()
    sim.reset_counts()
    sync_tabs_only(resources)
    assert tab_requests(sim) == 1 and sim.requests[f"/api/contrato/{bad}/empenhos"] == 1
    assert {r["id"]: r for r in rows(engine)}[bad]["empenhos_atualizado_em"] is not None


def test_mostly_failing_run_fails_loudly_after_committing_successes(sim, resources, engine):
    ids = sim.contrato_ids(UASG)
    materialize([contratos], UASG, resources, ALL)
    sim.inject_fault("503", path=r"/(itens|empenhos|arquivos)$", times=-1)
    fast = with_client(resources, sim, max_retries=1)
    result = sync_tabs_only(fast, raise_on_error=False)
    n = len(ids)
    assert f"{3 * n} of {4 * n} contract tabs failed after retries" in failure_message(result)
    stamps = rows(engine)
    assert all(r["historico_atualizado_em"] is not None for r in stamps)  # successes committed
    assert all(r["itens_atualizado_em"] is None for r in stamps)


def test_on_demand_job_refreshes_exactly_the_chosen_tabs_of_one_contract(sim, resources, engine):
    ids = sim.contrato_ids(UASG)
    sync_all(resources)
    target = ids[1]
    before = {r["id"]: r for r in rows(engine)}
    sim.change_contrato(target, objeto="Mudou antes do clique")
    sim.reset_counts()
    result = sincronizar_contrato.execute_in_process(
        run_config={
            "ops": {
                "sincronizar_abas_do_contrato": {
                    "config": {"contrato_id": target, "abas": ["historico", "itens"]}
                }
            }
        },
        resources=resources,
        partition_key=UASG,
    )
    assert result.success
    assert dict(sim.requests) == {
        f"/api/contrato/id/{target}": 1,
        f"/api/contrato/{target}/historico": 1,
        f"/api/contrato/{target}/itens": 1,
    }
    after = {r["id"]: r for r in rows(engine)}
    assert after[target]["objeto"] == "Mudou antes do clique"
    assert after[target]["historico_atualizado_em"] > before[target]["historico_atualizado_em"]
    assert after[target]["itens_atualizado_em"] > before[target]["itens_atualizado_em"]
    assert after[target]["empenhos_atualizado_em"] == before[target]["empenhos_atualizado_em"]
    for cid in ids:
        if cid != target:
            assert after[cid]["_xmin"] == before[cid]["_xmin"]
    assert result.get_asset_materialization_events() == []  # not a partition materialization
    observed = {e.asset_key.path[0] for e in result.get_asset_observation_events()}
    assert observed == {"contratos_historico", "contratos_itens"}


@pytest.mark.parametrize(
    "config,expected",
    [
        ({"contrato_id": 999999999}, "does not exist at ComprasNet"),
        ({"contrato_id": None, "abas": ["historico", "faturas"]}, "unknown tab(s) ['faturas']"),
    ],
)
def test_on_demand_job_rejects_unknown_contract_or_tab(sim, resources, config, expected):
    if config["contrato_id"] is None:
        config["contrato_id"] = sim.contrato_ids(UASG)[0]
    result = sincronizar_contrato.execute_in_process(
        run_config={"ops": {"sincronizar_abas_do_contrato": {"config": config}}},
        resources=resources,
        partition_key=UASG,
        raise_on_error=False,
    )
    assert expected in failure_message(result)


def test_on_demand_job_refuses_a_contract_of_another_uasg(sim, resources):
    other = sim.contrato_ids("787000")[0]
    result = sincronizar_contrato.execute_in_process(
        run_config={"ops": {"sincronizar_abas_do_contrato": {"config": {"contrato_id": other}}}},
        resources=resources,
        partition_key=UASG,
        raise_on_error=False,
    )
    assert "belongs to UASG 787000" in failure_message(result)
