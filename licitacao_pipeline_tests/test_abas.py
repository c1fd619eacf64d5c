"""Tab assets and the on-demand job, over HTTP against a real PostgreSQL."""

import logging
import re
import time
from datetime import datetime

import dagster as dg
import pytest
import sqlalchemy as sa

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.contrato_sob_demanda import sincronizar_contrato
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.flows import abas as abas_sync
from licitacao_pipeline.flows.abas import Limites, sync_abas

from .helpers import (
    br_money,
    failure_message,
    materialize,
    parse_day,
    rows,
    stamped,
    step_retries,
    tab_requests,
    with_client,
)

UASG = "787010"
ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
# the first four tabs: enough for the pool's timing and batching, and quicker
QUATRO = ABAS[:4]


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
    assert tab_requests(sim) == len(ABAS)
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
    assert tab_requests(sim) == len(ABAS) * len(ids)
    sim.reset_counts()
    sync_tabs_only(resources, {"completa": True})
    assert tab_requests(sim) == len(ABAS) * len(ids)


def test_tab_snapshot_updates_and_marks_removed(sim, resources, engine):
    ids = sim.contrato_ids(UASG)
    sync_all(resources)
    cid = next(i for i in ids if len(sim.tab(i, "empenhos")) >= 4)
    first, second = sim.tab(cid, "empenhos")[:2]
    before = {r["id"]: r for r in rows(engine, "contratos_empenhos", "contrato_id = :c", c=cid)}
    sim.change_tab_record(cid, "empenhos", 0, pago="9.876,54")
    sim.set_tab(cid, "empenhos", [r for r in sim.tab(cid, "empenhos") if r["id"] != second["id"]])
    result = sync_tabs_only(resources, {"completa": True})
    meta = tab_meta(result, "empenhos")
    assert (meta["contratos_devidos"], meta["contratos_pendentes"]) == (len(ids), 0)  # all
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
    result = sync_tabs_only(resources, {"completa": True})
    assert tab_meta(result, "empenhos")["linhas_removidas"] == len(before) - 1  # all the rest
    after = rows(engine, "contratos_empenhos", "contrato_id = :c", c=cid)
    assert len(after) == len(before) and all(r["removido_em"] is not None for r in after)


def test_network_failure_on_one_contract_tab_is_visible_and_retried_next_run(
    sim, resources, engine
):
    ids = sim.contrato_ids(UASG)
    bad = ids[4]
    # a connection reset (the network, not this contract's answer): no back-off
    sim.inject_fault("reset", path=rf"^/api/contrato/{bad}/empenhos$", times=-1)
    fast = with_client(resources, sim, max_retries=2)
    result = sync_all(fast)
    meta = tab_meta(result, "empenhos")
    assert meta["contratos_com_falha"] == 1 and meta["amostras_falhas"][0]["contrato_id"] == bad
    assert "a requisição falhou após as novas tentativas" in meta["amostras_falhas"][0]["erro"]
    assert meta["contratos_com_falha_persistente"] == 0
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
    failing = [a for a in ABAS if a != "historico"]
    sim.inject_fault("503", path=rf"/({'|'.join(failing)})$", times=-1)
    fast = with_client(resources, sim, max_retries=1)
    result = sync_tabs_only(fast, raise_on_error=False)
    n, k = len(ids), len(ABAS)
    assert f"{(k - 1) * n} de {k * n} abas de contratos falharam após novas tentativas" in (
        failure_message(result)
    )
    stamps = rows(engine)
    assert all(r["historico_atualizado_em"] is not None for r in stamps)  # successes committed
    assert all(r["itens_atualizado_em"] is None for r in stamps)
    failed = tab_meta(result, "itens")
    assert failed["contratos_com_falha"] == n and len(failed["amostras_falhas"]) == 20  # capped


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
        ({"contrato_id": 999999999}, "não existe no ComprasNet"),
        (
            {"contrato_id": None, "abas": ["historico", "publicacoes"]},
            "aba(s) desconhecida(s) ['publicacoes']",
        ),
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
    assert "pertence à UASG 787000" in failure_message(result)


def test_a_warehouse_error_on_one_contract_fails_that_contract_only(sim, resources, engine):
    """A batch whose write fails for another reason than a lost connection is written again
    one contract at a time: the rest is stored (rejects included), the contract that fails is
    named, and the run fails without a step retry (an unexpected failure is a bug to look at,
    not a hiccup)."""
    ids = sim.contrato_ids(UASG)
    materialize([contratos], UASG, resources, ALL)
    bad = next(cid for cid in ids if sim.tab(cid, "historico"))
    odd = next(cid for cid in ids if cid != bad and sim.tab(cid, "empenhos"))
    sim.inject_fault("malformed", path=rf"^/api/contrato/{odd}/empenhos$", field="empenhado")
    with engine.begin() as conn:
        conn.exec_driver_sql(  # bad's historico can never be written
            "CREATE FUNCTION recusar() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'recusado: contrato %%', NEW.contrato_id; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER recusar BEFORE INSERT ON contratos_historico FOR EACH ROW "
            f"WHEN (NEW.contrato_id = {bad}) EXECUTE FUNCTION recusar()"
        )
        conn.exec_driver_sql(  # and no batch of more than one contract: always one by one
            "CREATE FUNCTION um_por_vez() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF (SELECT count(*) FROM novos) > 1 THEN RAISE EXCEPTION 'lote'; END IF; "
            "RETURN NULL; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER um_por_vez AFTER UPDATE ON contratos REFERENCING NEW TABLE AS novos "
            "FOR EACH STATEMENT EXECUTE FUNCTION um_por_vez()"
        )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [contratos_abas],
            partition_key=UASG,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        logged = [e.user_message for e in instance.all_logs(result.run_id)]
    message = failure_message(result)
    assert (
        "1 abas de contratos falharam de forma inesperada (os sucessos foram gravados)" in message
    )
    assert f"recusado: contrato {bad}" in message and step_retries(result) == 0
    assert any(m.startswith(f"contrato {bad} historico: InternalError: ") for m in logged)
    assert "gravação em lote falhou (InternalError): um a um" in logged
    meta = tab_meta(result, "historico")
    assert (meta["contratos_com_falha"], meta["contratos_sincronizados"]) == (1, len(ids) - 1)
    [failure] = meta["amostras_falhas"]
    assert failure["contrato_id"] == bad and failure["erro"].startswith("InternalError: ")
    assert len(failure["erro"]) == 500  # the SQL error, cut for the UI
    assert not checks(result)[("contratos_historico", "sem_falhas")].passed
    stamps = {r["id"]: r for r in rows(engine)}
    assert stamps[bad]["historico_atualizado_em"] is None
    assert all(stamps[c]["historico_atualizado_em"] is not None for c in ids if c != bad)
    assert all(stamps[c][f"{a}_atualizado_em"] is not None for c in ids for a in ABAS[1:])
    stored = {r["contrato_id"] for r in rows(engine, "contratos_historico")}
    assert bad not in stored and len(stored) > 1
    [reject] = rows(engine, "rejected_records")  # written one by one, with its run and UASG
    assert (reject["source"], reject["uasg"], reject["run_id"]) == (
        "contratos_empenhos",
        UASG,
        result.run_id,
    )


def test_a_deadlock_while_writing_tabs_is_transient_not_a_bug(sim, resources, engine):
    """A deadlock keeps the connection but is worth another try, like a lost connection: the
    batch is written again, then the step is retried; never reported as an unexpected failure
    of each contract."""
    materialize([contratos], UASG, resources, ALL)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION impasse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'impasse simulado' USING ERRCODE = 'deadlock_detected'; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER impasse BEFORE INSERT ON contratos_historico "
            "FOR EACH STATEMENT EXECUTE FUNCTION impasse()"
        )
    result = sync_tabs_only(resources, raise_on_error=False)
    message = failure_message(result)
    assert "erro transitório persistiu após 1 novas tentativas do step" in message
    assert "impasse simulado" in message and "unexpectedly" not in message
    assert step_retries(result) == 1


def test_a_record_id_repeated_in_a_tab_is_rejected_and_the_rest_is_stored(sim, resources, engine):
    cid = next(i for i in sim.contrato_ids(UASG) if len(sim.tab(i, "empenhos")) >= 2)
    first, second, *rest = sim.tab(cid, "empenhos")
    again = {**first, "pago": "1,00"}
    sim.set_tab(cid, "empenhos", [first, again, second, *rest])  # the repeat before the others
    result = sync_all(resources)
    meta = tab_meta(result, "empenhos")
    assert meta["linhas_rejeitadas"] == 1
    assert meta["amostras_rejeitadas"] == [
        {"contrato_id": cid, "record_id": first["id"], "reason": "id repetido na aba"}
    ]
    stored = {r["id"]: r for r in rows(engine, "contratos_empenhos", "contrato_id = :c", c=cid)}
    assert set(stored) == {r["id"] for r in (first, second, *rest)}  # the records after it too
    assert stored[first["id"]]["payload"] == first  # the first one listed wins
    [reject] = rows(engine, "rejected_records")
    assert reject["reason"] == f"contrato {cid}: id repetido na aba"
    assert (reject["record_id"], reject["payload"]) == (str(first["id"]), again)
    assert reject["source"] == "contratos_empenhos" and reject["run_id"] == result.run_id
    assert reject["uasg"] == UASG


def test_tab_metadata_counts_rows_and_samples_rejects_and_the_log_says_how_far_it_got(
    sim, resources, engine
):
    """What the UI and the CLI show of a tab run: row counts, ten reject samples at most, and
    the final progress line."""
    ids = sim.contrato_ids(UASG)
    with_empenhos = [cid for cid in ids if sim.tab(cid, "empenhos")]
    assert len(with_empenhos) > 10
    sim.inject_fault("malformed", path=r"/empenhos$", times=-1, field="empenhado")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [contratos, contratos_abas],
            partition_key=UASG,
            resources=resources,
            instance=instance,
            run_config={"ops": ALL},
        )
        logged = [e.user_message for e in instance.all_logs(result.run_id)]
    for tab in ABAS:
        meta = tab_meta(result, tab)
        records = sum(len(sim.tab(cid, tab)) for cid in ids)
        rejected = len(with_empenhos) if tab == "empenhos" else 0
        assert meta["linhas"] == records - rejected, tab
        assert meta["linhas_inseridas"] == records - rejected, tab
        assert meta["linhas_rejeitadas"] == rejected, tab
    samples = tab_meta(result, "empenhos")["amostras_rejeitadas"]
    assert len(samples) == 10
    for sample in samples:
        cid = sample["contrato_id"]
        assert sample == {
            "contrato_id": cid,
            "record_id": sim.tab(cid, "empenhos")[0]["id"],
            "reason": "empenhado: valor monetário inválido 'abc,de' (esperava como '1.234,56')",
        }
    n = len(ids)
    final = [m for m in logged if " abas concluídas: " in m]
    assert len(final) == 1 and final[0].startswith(f"{UASG} (")
    per_tab = ", ".join(f"{tab} {n}/{n}" for tab in ABAS)
    k = len(ABAS) * n
    done = rf"\) abas concluídas: {k}/{k} abas de contratos em \d+s \(\d+\.\d/s; {per_tab}; "
    assert re.search(done + r"0 com falha\)$", final[0]), final[0]


def test_progress_logs_say_how_far_how_fast_and_only_the_last_says_done(
    sim, resources, engine, caplog, monkeypatch
):
    """2 contracts x 4 tabs through 2 workers, each answer 0.6 s late: at least 2.4 s. Progress
    is logged at every answer and every wait (progress_seconds=0); the rate is tabs per second
    of this run. No budget here, so the budget's grace (made short) never stops the client."""
    monkeypatch.setattr(abas_sync, "BUDGET_GRACE", 0.5)
    materialize([contratos], UASG, resources, ALL)
    ids = sim.contrato_ids(UASG)[:2]
    logger = logging.getLogger("test_abas.progress")

    def logged_by(**options) -> list[str]:
        caplog.clear()
        client = resources["comprasnet"].make_client()
        with caplog.at_level(logging.INFO, logger=logger.name):
            work = ((cid, QUATRO) for cid in ids)
            sync_abas(client, engine, work, QUATRO, workers=2, logger=logger, **options)
        return [r.getMessage() for r in caplog.records if r.name == logger.name]

    sim.latency = 0.6
    started = time.monotonic()
    rotulo, devidos = "787010 (UNIDADE TESTE)", dict.fromkeys(QUATRO, 2)
    logged = logged_by(rotulo=rotulo, devidos=devidos, progress_seconds=0)
    took = time.monotonic() - started
    line = re.compile(
        r"^787010 \(UNIDADE TESTE\) abas( concluídas)?: (\d)/8 abas de contratos em (\d+)s "
        r"\((\d+\.\d)/s; historico \d/2, empenhos \d/2, itens \d/2, arquivos \d/2; 0 com falha\)$"
    )
    matches = [line.match(m) for m in logged]
    assert len(logged) > 2 and all(matches), logged
    assert [bool(m[1]) for m in matches] == [False] * (len(logged) - 1) + [True]
    done, seconds, rate = int(matches[-1][2]), int(matches[-1][3]), float(matches[-1][4])
    assert done == 8 and 2 <= seconds <= took + 1
    assert 8 / took - 0.1 <= rate <= 8 / 2.4 + 0.1, (rate, took)

    sim.latency = 0  # a run shorter than progress_seconds logs only its end
    logged = logged_by(progress_seconds=30)
    assert len(logged) == 1 and " abas concluídas: 8/0 abas de contratos " in logged[0], logged
    assert "; historico 2/0, empenhos 2/0, itens 2/0, arquivos 2/0; " in logged[0]  # none given


def test_tabs_are_committed_in_batches_while_the_run_goes_on(sim, resources, engine, monkeypatch):
    """Answers are written every BATCH contract tabs (here 3; the clock, at 60 s, never triggers
    a flush in this short run), not kept until the end."""
    monkeypatch.setattr(abas_sync, "BATCH", 3)
    monkeypatch.setattr(abas_sync, "FLUSH_SECONDS", 60.0)
    materialize([contratos], UASG, resources, ALL)
    ids = sim.contrato_ids(UASG)
    committed = []

    def work():
        for k, cid in enumerate(ids):
            committed.append((k, stamped(engine)))
            yield cid, QUATRO

    sync_abas(resources["comprasnet"].make_client(), engine, work(), QUATRO, workers=2)
    # contract k (k >= 2) is taken when one of the 8 (4 x workers) requests in flight is back:
    # 4k - 7 answers in, stored in whole batches of 3
    assert committed == [(k, (4 * k - 7) // 3 * 3 if k >= 2 else 0) for k in range(len(ids))]
    assert stamped(engine) == 4 * len(ids)


def test_a_run_takes_no_contract_beyond_its_budget(sim, resources, engine):
    materialize([contratos], UASG, resources, ALL)
    ids = sim.contrato_ids(UASG)
    taken = []

    def work():
        for cid in ids:
            taken.append(cid)
            yield cid, QUATRO

    sim.reset_counts()
    client = resources["comprasnet"].make_client()
    result = sync_abas(client, engine, work(), QUATRO, workers=2, limites=Limites(max_contratos=3))
    assert (taken, result.contratos, result.parada) == (ids[:3], 3, "max_contratos")
    assert tab_requests(sim) == stamped(engine) == 12


def test_a_stopped_client_never_passes_for_a_synced_tab(sim, resources, engine):
    """A client stopped by someone else (not this run's budget) sends nothing: every tab is
    a failure, counted as unexpected and named, never a silent success."""
    materialize([contratos], UASG, resources, ALL)
    cid = sim.contrato_ids(UASG)[0]
    client = resources["comprasnet"].make_client()
    client.stop()
    sim.reset_counts()
    result = sync_abas(client, engine, [(cid, ABAS)], ABAS, workers=2)
    assert tab_requests(sim) == 0 and stamped(engine) == 0
    for aba in ABAS:
        t = result.totals[aba]
        assert (t.sincronizados, t.falhas, t.falhas_inesperadas) == (0, 1, 1), aba
        assert t.amostras_falhas == [
            {"contrato_id": cid, "erro": "requisição cancelada: o cliente foi parado"}
        ]
