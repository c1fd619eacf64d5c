"""Regression tests for correctness gaps of the earlier pipeline, each through the real path:
the simulator over HTTP -> asset/job/sensor -> a real PostgreSQL.

Every test here failed against the behaviour it guards against (see each docstring).
"""

import socket
import threading
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from licitacao_pipeline.comprasnet import parsing
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.contrato_sob_demanda import sincronizar_contrato
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.limpeza import limpeza
from licitacao_pipeline.defs.sensors import (
    FAILURE_DELIVERY_BUDGET_S,
    PENDING_DELIVERY_BUDGET_S,
    alerta_falhas,
    alertas_pendentes,
)
from licitacao_pipeline.flows.abas import sync_abas

from .helpers import (
    failure_message,
    materialization_metadata,
    materialize,
    rows,
    sim_records,
    with_client,
)

UASG = "787010"
ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}


def janela(dias, **extra):
    return {"contratos": {"config": {"vigencia_janela_dias": dias, **extra}}}


def sao_paulo_today() -> date:
    return datetime.now(ZoneInfo("America/Sao_Paulo")).date()


def ages(sim) -> dict[int, int]:
    """Days since each contract's vigência ended ("today" in São Paulo), by contract id."""
    today = sao_paulo_today()
    return {
        r["id"]: (today - date.fromisoformat(r["vigencia_fim"])).days
        for r in sim_records(sim, UASG)
        if r["vigencia_fim"]
    }


def tab_requests(sim) -> dict[str, int]:
    return {p: n for p, n in sim.requests.items() if p.rsplit("/", 1)[-1] in ABAS}


def tab_meta(result, aba):
    [mat] = [
        m.materialization
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == [f"contratos_{aba}"]
    ]
    return {k: v.value for k, v in mat.metadata.items()}


def step_retries(result) -> int:
    return sum(1 for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")


def on_demand(resources, raise_on_error=False, **config):
    return sincronizar_contrato.execute_in_process(
        run_config={"ops": {"sincronizar_abas_do_contrato": {"config": config}}},
        resources=resources,
        partition_key=UASG,
        raise_on_error=raise_on_error,
    )


# -- 1. the vigência window also applies to stored, unchanged contracts --------------------------


def test_stored_contracts_that_leave_the_window_are_removed_untracked_and_restored(
    sim, resources, engine
):
    """Gap: the window was checked only for changed records, after the unchanged-hash skip, so
    a stored contract whose vigência ended stayed active (and its tabs fetched) forever."""
    age = ages(sim)
    dias = sorted(age.values())[len(age) // 3]  # about two thirds fall out of the window
    fora = {cid for cid, a in age.items() if a > dias}  # age == dias is still inside
    dentro = set(sim.contrato_ids(UASG)) - fora
    assert len(fora) > 0.5 * 25  # more than max_taxa_remocao's default share
    materialize([contratos, contratos_abas], UASG, resources, ALL)
    before = {r["id"]: r for r in rows(engine)}
    assert len(before) == 25 and all(r["removido_em"] is None for r in before.values())

    vanished = min(dentro)
    sim.remove_contrato(vanished)
    meta = materialization_metadata(materialize([contratos], UASG, resources, janela(dias)))
    assert meta["removidos_fora_da_janela"] == len(fora)
    assert meta["removidos"] == 1  # only the one that left the listing counts as vanished
    assert meta["filtrados_por_vigencia"] == len(fora)
    assert meta["inalterados"] == len(dentro) - 1
    assert (meta["inseridos"], meta["atualizados"]) == (0, 0)
    assert meta["linhas_escritas"] == len(fora) + 1
    after = {r["id"]: r for r in rows(engine)}
    assert {cid for cid, r in after.items() if r["removido_em"] is None} == dentro - {vanished}
    assert {cid: after[cid]["removido_motivo"] for cid in fora} == dict.fromkeys(
        fora, "fora_da_janela_de_vigencia"
    )
    assert after[vanished]["removido_motivo"] == "ausente_da_listagem"
    for cid in fora:  # removed, not rewritten
        assert after[cid]["payload_hash"] == before[cid]["payload_hash"]

    # their tabs are no longer fetched, even when every tab is stale
    sim.reset_counts()
    result = materialize(
        [contratos_abas], UASG, resources, {"contratos_abas": {"config": {"validade_horas": 0.0}}}
    )
    tracked = dentro - {vanished}
    assert {int(p.split("/")[3]) for p in tab_requests(sim)} == tracked
    assert tab_meta(result, "itens")["contratos_devidos"] == len(tracked)

    # the same window again: nothing to write, they stay removed
    meta = materialization_metadata(materialize([contratos], UASG, resources, janela(dias)))
    assert meta["linhas_escritas"] == 0 and meta["filtrados_por_vigencia"] == len(fora)
    assert meta["removidos_fora_da_janela"] == 0

    # widening the window brings them back (the vanished one stays removed)
    meta = materialization_metadata(materialize([contratos], UASG, resources, ALL))
    assert meta["atualizados"] == len(fora) and meta["inseridos"] == 0
    final = {r["id"]: r for r in rows(engine)}
    for cid in fora:
        assert final[cid]["removido_em"] is None and final[cid]["removido_motivo"] is None
    assert final[vanished]["removido_motivo"] == "ausente_da_listagem"


def test_leaving_the_window_is_not_a_mass_disappearance(sim, resources, engine):
    """Out-of-window contracts are listed, so the max_taxa_remocao guard must not count them;
    contracts that really vanished still trip it."""
    age = ages(sim)
    dias = sorted(age.values())[len(age) // 3]
    fora = {cid for cid, a in age.items() if a > dias}
    materialize([contratos], UASG, resources, ALL)
    strict = janela(dias, max_taxa_remocao=0.1)
    meta = materialization_metadata(materialize([contratos], UASG, resources, strict))
    assert meta["removidos_fora_da_janela"] == len(fora) > 0.1 * 25

    for cid in sorted(set(sim.contrato_ids(UASG)) - fora)[:3]:
        sim.remove_contrato(cid)
    result = materialize([contratos], UASG, resources, strict, raise_on_error=False)
    assert f"3 de {25 - len(fora)} contratos gravados sumiram" in failure_message(result)


# -- 2. the on-demand job applies the same window ------------------------------------------------


def test_on_demand_job_refuses_a_contract_outside_the_window_unless_told(sim, resources, engine):
    """Gap: the on-demand job stored a contract the UASG sync filters out; the sync then saw
    it as "unchanged" forever. Now it refuses (clear message) unless the window is widened,
    and a contract so fetched is then removed by the next windowed sync."""
    age = ages(sim)
    old = max(age, key=age.get)
    assert age[old] > 730
    result = on_demand(resources, contrato_id=old)
    message = failure_message(result)
    assert f"contrato {old}: a vigência terminou em" in message
    assert "vigencia_janela_dias" in message
    assert step_retries(result) == 0  # refused, not retried
    assert rows(engine) == []
    assert tab_requests(sim) == {}

    result = on_demand(resources, raise_on_error=True, contrato_id=old, vigencia_janela_dias=None)
    assert result.success
    [stored] = rows(engine)
    assert stored["id"] == old and stored["removido_em"] is None
    assert all(stored[f"{a}_atualizado_em"] is not None for a in ABAS)

    meta = materialization_metadata(materialize([contratos], UASG, resources, janela(730)))
    assert meta["removidos_fora_da_janela"] == 1
    stored = {r["id"]: r for r in rows(engine)}[old]
    assert stored["removido_motivo"] == "fora_da_janela_de_vigencia"


def test_on_demand_job_accepts_a_contract_inside_the_window(sim, resources, engine):
    age = ages(sim)
    recent = min(age, key=age.get)
    result = on_demand(resources, raise_on_error=True, contrato_id=recent, abas=["itens"])
    assert result.success
    assert [r["id"] for r in rows(engine)] == [recent]


# -- 3. the parser version is part of the content hash -------------------------------------------


def test_a_parser_version_bump_reparses_and_rewrites_unchanged_records(
    sim, resources, engine, monkeypatch
):
    """Gap: the content hash ignored the parser version, so a parser fix never reached rows
    whose source record did not change."""
    both = [contratos, contratos_abas]
    materialize(both, UASG, resources, ALL)
    before = {r["id"]: r for r in rows(engine)}
    tabs_before = {a: rows(engine, f"contratos_{a}") for a in ABAS}
    sim.reset_counts()
    result = materialize(both, UASG, resources, ALL)
    assert materialization_metadata(result)["linhas_escritas"] == 0
    assert tab_requests(sim) == {}

    monkeypatch.setattr(parsing, "PARSER_VERSION", parsing.PARSER_VERSION + 1)
    result = materialize(both, UASG, resources, ALL)
    meta = materialization_metadata(result)
    assert (meta["atualizados"], meta["inalterados"], meta["inseridos"]) == (25, 0, 0)
    after = {r["id"]: r for r in rows(engine)}
    for cid, row in after.items():
        assert row["_xmin"] != before[cid]["_xmin"]
        assert row["payload_hash"] != before[cid]["payload_hash"]
        assert row["payload"] == before[cid]["payload"]
    for aba in ABAS:  # the tabs of a re-parsed contract are fetched and re-parsed too
        t = tab_meta(result, aba)
        assert t["linhas_atualizadas"] == len(tabs_before[aba]) > 0
        assert t["linhas_inseridas"] == 0

    sim.reset_counts()
    result = materialize(both, UASG, resources, ALL)
    assert materialization_metadata(result)["linhas_escritas"] == 0
    assert tab_requests(sim) == {}


# -- 4. a lost warehouse connection during tab writes is transient -------------------------------


def kill_connections_writing(engine, table: str, times: int | None) -> None:
    """A trigger that terminates its own backend on the first ``times`` INSERT statements into
    ``table`` (every one when None): a warehouse connection lost mid-write, deterministically.
    The count lives in a sequence, which a rollback does not undo."""
    limit = "true" if times is None else f"nextval('mortes') <= {int(times)}"
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SEQUENCE mortes")
        conn.exec_driver_sql(
            f"""
            CREATE FUNCTION matar_conexao() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {limit} THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
                RETURN NULL;
            END $$"""
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER matar_conexao BEFORE INSERT ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION matar_conexao()"
        )


def kills(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT last_value FROM mortes").scalar_one()


def test_a_single_lost_connection_is_absorbed_by_the_tab_writer(sim, resources, engine):
    """One lost connection costs one rewrite of the batch, not a step retry."""
    materialize([contratos], UASG, resources, ALL)
    kill_connections_writing(engine, "contratos_historico", times=1)
    with dg.instance_for_test() as instance:
        result = materialize([contratos_abas], UASG, resources, instance=instance)
        logged = [e.user_message for e in instance.all_logs(result.run_id)]
    assert kills(engine) >= 2 and step_retries(result) == 0
    [lost] = [m for m in logged if m.startswith("conexão com o warehouse perdida (")]
    assert "server closed the connection" in lost and lost.endswith("); gravando de novo"), lost
    assert tab_meta(result, "historico")["contratos_sincronizados"] == 25
    assert all(r["detalhes_atualizados_em"] is not None for r in rows(engine))


def test_a_lost_connection_while_writing_tabs_is_retried_and_everything_is_stored(
    sim, resources, engine
):
    """Gap: a failed batch was rewritten one contract at a time and a lost connection there
    counted as an "unexpected" failure: a non-retryable dg.Failure. Now the batch is written
    again once and a second loss is raised as transient, so the step is retried."""
    materialize([contratos], UASG, resources, ALL)
    kill_connections_writing(engine, "contratos_historico", times=2)  # the batch and its retry
    result = materialize([contratos_abas], UASG, resources)
    assert result.success
    assert kills(engine) >= 3  # both kills happened, then writes went through
    assert step_retries(result) == 1
    ids = sim.contrato_ids(UASG)
    for aba in ABAS:
        stored = {(r["contrato_id"], r["id"]) for r in rows(engine, f"contratos_{aba}")}
        assert stored == {(cid, rec["id"]) for cid in ids for rec in sim.tab(cid, aba)}, aba
    stamps = rows(engine)
    assert all(r[f"{a}_atualizado_em"] is not None for r in stamps for a in ABAS)
    assert all(r["detalhes_atualizados_em"] is not None for r in stamps)


def test_a_warehouse_that_stays_down_while_writing_tabs_gets_step_retries(sim, resources, engine):
    """A connection that keeps dropping is a transient fault: the step is retried (up to
    LICITACAO_STEP_RETRIES, 1 here) before the run fails, never failed at once."""
    materialize([contratos], UASG, resources, ALL)
    kill_connections_writing(engine, "contratos_historico", times=None)
    result = materialize([contratos_abas], UASG, resources, raise_on_error=False)
    message = failure_message(result)
    assert step_retries(result) == 1
    assert "erro transitório persistiu após 1 novas tentativas do step" in message
    assert "OperationalError" in message
    assert all(r["historico_atualizado_em"] is None for r in rows(engine))


def test_on_demand_job_retries_the_step_when_the_warehouse_connection_is_lost(
    sim, resources, engine
):
    """The on-demand job writes tabs with the same writer: a lost connection (twice: the batch
    and its retry) retries the step, which then stores everything."""
    target = sim.contrato_ids(UASG)[1]
    assert sim.tab(target, "historico")
    kill_connections_writing(engine, "contratos_historico", times=2)
    result = on_demand(resources, contrato_id=target, vigencia_janela_dias=None)
    assert result.success, failure_message(result)
    assert step_retries(result) == 1
    stored = {r["id"] for r in rows(engine, "contratos_historico")}
    assert stored == {rec["id"] for rec in sim.tab(target, "historico")}
    [row] = rows(engine)
    assert all(row[f"{a}_atualizado_em"] is not None for a in ABAS)


# -- 5. the on-demand job's API call is under the transient-error handling -----------------------


def test_on_demand_job_retries_the_step_on_a_transient_api_fault(sim, resources, engine):
    """Gap: a transient fault on /api/contrato/id/<id> that outlived the client's own retries
    failed the on-demand job at once."""
    target = sim.contrato_ids(UASG)[2]
    sim.inject_fault("503", path=rf"^/api/contrato/id/{target}$", times=1)
    fast = with_client(resources, sim, max_retries=0)
    result = on_demand(fast, contrato_id=target, vigencia_janela_dias=None)
    assert result.success, failure_message(result)
    assert step_retries(result) == 1
    assert sim.requests[f"/api/contrato/id/{target}"] == 2
    assert [r["id"] for r in rows(engine)] == [target]


# -- 6. failure alerts never make a sensor tick run long -----------------------------------------


class DeadWebhook:
    """A local server that accepts connections and then never answers (``hang``), closes them
    without an answer (``close``) or answers one byte a second, forever (``trickle``: every
    socket read succeeds, so no read timeout fires); counts connections (one per attempt)."""

    def __init__(self, mode: str):
        self.mode, self.accepted, self._open = mode, 0, []
        self.closed = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._open.append(conn)
            if self.mode == "close":
                conn.recv(65536)
                conn.close()
            elif self.mode == "trickle":
                threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Lento: ")
            while not self.closed.wait(1.0):
                conn.sendall(b"z")
        except OSError:
            pass

    def close(self):
        self.closed.set()
        self.sock.close()
        for conn in self._open:
            conn.close()


@pytest.fixture
def dead_webhook(request, monkeypatch):
    webhook = DeadWebhook(request.param)
    monkeypatch.setenv("ALERT_WEBHOOK_URL", webhook.url)
    yield webhook
    webhook.close()


def pending_alerts(engine, n: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO alertas (run_id, job_name, uasg, message) SELECT 'antigo-' || g, "
            f"'sincronizar_contratos', '787010', 'falhou' FROM generate_series(1, {n}) g"
        )


def attempts(engine) -> dict[str, int]:
    return {r["run_id"]: r["post_attempts"] for r in rows(engine, "alertas")}


def warehouse_only(resources):
    return {"warehouse": resources["warehouse"]}


def failure_sensor_context(sim, resources, instance):
    """A real failed run (the listing answers 500) and the failure sensor's context for it."""
    sim.inject_fault("500", path=r"/api/contrato/ug/", times=-1)
    result = dg.materialize(
        [contratos],
        partition_key=UASG,
        resources=with_client(resources, sim, max_retries=0),
        instance=instance,
        run_config={"ops": ALL},
        raise_on_error=False,
    )
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="alerta_falhas",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources=warehouse_only(resources),
    ).for_run_failure()
    return result.run_id, context


@pytest.mark.parametrize("dead_webhook", ["hang"], indirect=True)
def test_a_hanging_webhook_does_not_stall_the_alert_sensors(sim, resources, engine, dead_webhook):
    """Gap: the failure sensor posted up to 50 pending alerts inline (each with retries), so a
    webhook that hangs made it exceed Dagster's 60 s sensor timeout and lose the new failure.
    Now it records the failure and tries only that run's alert, once; older alerts are left
    to alertas_pendentes, which stops within its budget."""
    pending_alerts(engine, 50)
    with dg.instance_for_test() as instance:
        run_id, context = failure_sensor_context(sim, resources, instance)
        started = time.monotonic()
        alerta_falhas(context)
        assert time.monotonic() - started < FAILURE_DELIVERY_BUDGET_S
        tried = attempts(engine)
        assert tried.pop(run_id) == 1  # recorded, and tried once
        assert set(tried.values()) == {0} and len(tried) == 50  # the older ones left alone
        [alert] = rows(engine, "alertas", "run_id = :r", r=run_id)
        assert alert["posted_at"] is None and "tempo esgotado" in alert["post_error"]
        assert dead_webhook.accepted == 1

        started = time.monotonic()
        alertas_pendentes(
            dg.build_sensor_context(instance=instance, resources=warehouse_only(resources))
        )
        assert time.monotonic() - started <= PENDING_DELIVERY_BUDGET_S + 1
    tried = attempts(engine)
    assert tried.pop(run_id) == 1  # backing off: not tried again within a minute
    assert 1 <= sum(tried.values()) == dead_webhook.accepted - 1 < 50  # the rest waits
    assert set(tried.values()) == {0, 1}


@pytest.mark.parametrize("dead_webhook", ["trickle"], indirect=True)
def test_a_webhook_that_answers_byte_by_byte_does_not_hold_the_failure_sensor(
    sim, resources, engine, dead_webhook
):
    """requests' timeouts bound each socket read, not the whole answer: a receiver that keeps
    sending a byte a second held the sensor (and a code-server thread) forever."""
    with dg.instance_for_test() as instance:
        run_id, context = failure_sensor_context(sim, resources, instance)
        sensor = threading.Thread(target=alerta_falhas, args=(context,), daemon=True)
        started = time.monotonic()
        sensor.start()
        sensor.join(FAILURE_DELIVERY_BUDGET_S + 5)
        assert not sensor.is_alive(), "the failure sensor is still posting"
        assert time.monotonic() - started < FAILURE_DELIVERY_BUDGET_S
    [alert] = rows(engine, "alertas")
    assert alert["run_id"] == run_id and alert["posted_at"] is None
    assert alert["post_attempts"] == 1 and "nenhuma resposta completa" in alert["post_error"]


@pytest.mark.parametrize("dead_webhook", ["close"], indirect=True)
def test_failed_alert_posts_back_off_exponentially_and_stop_after_five(
    resources, engine, dead_webhook
):
    """Each failed POST waits 1, 2, 4, then 8 minutes before the next; 5 attempts at most."""
    pending_alerts(engine, 3)
    sensor = dg.build_sensor_context(resources=warehouse_only(resources))

    def tick(ago_s=None):
        if ago_s is not None:  # as if the last attempt was that long ago
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "UPDATE alertas SET ultima_tentativa_em = now() - make_interval(secs => %s)",
                    (ago_s,),
                )
        alertas_pendentes(sensor)
        return set(attempts(engine).values())

    assert tick() == {1}
    assert dead_webhook.accepted == 3  # one attempt each, no inline retries
    assert tick() == {1}  # within a minute: nothing tried
    assert tick(61) == {2}
    assert tick(61) == {2}  # now it waits two minutes
    assert tick(121) == {3}
    assert tick(239) == {3}
    assert tick(241) == {4}
    assert tick(481) == {5}
    assert tick(86400) == {5}  # gave up
    assert dead_webhook.accepted == 15
    assert all("Connection" in r["post_error"] for r in rows(engine, "alertas"))


# -- 7. rejected records do not pile up, and are purged with old alerts --------------------------


def test_a_listing_record_malformed_on_every_run_is_one_reject_row(sim, resources, engine):
    """Gap: the same bad record added a full row to rejected_records on every run."""
    run_ids = []
    for _ in range(3):
        sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="valor_global", count=1)
        result = materialize([contratos], UASG, resources, ALL)
        assert materialization_metadata(result)["rejeitados"] == 1
        run_ids.append(result.run_id)
    rejects = rows(engine, "rejected_records")
    assert len(rejects) == 1
    reject = rejects[0]
    assert reject["source"] == "contratos" and reject["uasg"] == UASG
    assert reject["ocorrencias"] == 3 and reject["run_id"] == run_ids[-1]
    assert reject["payload"]["valor_global"] == "abc,de"
    assert reject["rejected_at"] < reject["ultima_vez_em"]


def test_a_tab_record_malformed_on_every_run_is_one_reject_row(sim, resources, engine):
    cid = next(i for i in sim.contrato_ids(UASG) if sim.tab(i, "empenhos"))
    path = rf"^/api/contrato/{cid}/empenhos$"
    sim.inject_fault("malformed", path=path, field="empenhado", count=1)
    materialize([contratos, contratos_abas], UASG, resources, ALL)
    for _ in range(2):
        sim.inject_fault("malformed", path=path, field="empenhado", count=1)
        result = materialize(
            [contratos_abas], UASG, resources, {"contratos_abas": {"config": {"completa": True}}}
        )
        assert tab_meta(result, "empenhos")["linhas_rejeitadas"] == 1
    rejects = rows(engine, "rejected_records")
    assert len(rejects) == 1
    reject = rejects[0]
    assert reject["source"] == "contratos_empenhos" and reject["ocorrencias"] == 3
    assert reject["record_id"] == str(sim.tab(cid, "empenhos")[0]["id"])
    assert "empenhado" in reject["reason"]


def test_cleanup_purges_stale_rejects_and_old_alerts_and_a_dry_run_only_counts(
    sim, resources, engine, tmp_path, monkeypatch
):
    """Gap: nothing ever purged rejected_records or alertas. Rejects go when not seen for the
    retention period (not when first seen long ago: they still occur); alerts by age."""
    monkeypatch.setenv("LICITACAO_EXPORT_DIR", str(tmp_path))
    sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="valor_global", count=3)
    materialize([contratos], UASG, resources, janela(None, max_taxa_rejeicao=0.5))
    pending_alerts(engine, 3)
    with engine.begin() as conn:
        ids = conn.exec_driver_sql("SELECT id FROM rejected_records ORDER BY id").scalars().all()
        old = "now() - interval '40 days'"
        conn.exec_driver_sql(  # not seen for 40 days: goes
            f"UPDATE rejected_records SET rejected_at = {old}, ultima_vez_em = {old} "
            f"WHERE id = {ids[0]}"
        )
        conn.exec_driver_sql(  # first seen 40 days ago, still seen: stays
            f"UPDATE rejected_records SET rejected_at = {old} WHERE id = {ids[1]}"
        )
        conn.exec_driver_sql(f"UPDATE alertas SET failed_at = {old} WHERE run_id = 'antigo-1'")
    warehouse = warehouse_only(resources)

    def cleanup(simulacao):
        config = {"retencao_dias": 30, "simulacao": simulacao}
        result = limpeza.execute_in_process(
            resources=warehouse,
            run_config={"ops": {"limpar_registros_antigos": {"config": config}}},
        )
        [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        return {k: v.value for k, v in output.event_specific_data.metadata.items()}

    meta = cleanup(simulacao=True)
    assert (meta["rejeicoes_removidas"], meta["alertas_removidos"]) == (1, 1)
    assert len(rows(engine, "rejected_records")) == 3 and len(rows(engine, "alertas")) == 3

    meta = cleanup(simulacao=False)
    assert (meta["rejeicoes_removidas"], meta["alertas_removidos"]) == (1, 1)
    assert [r["id"] for r in rows(engine, "rejected_records")] == ids[1:]
    assert sorted(attempts(engine)) == ["antigo-2", "antigo-3"]
    meta = cleanup(simulacao=False)
    assert (meta["rejeicoes_removidas"], meta["alertas_removidos"]) == (0, 0)


# -- found while fixing: interrupts, stopped clients, a vanished contract listed again ----------

QUATRO = ABAS[:4]  # the first four tabs: enough for the pool, and quicker


def test_an_interrupt_while_the_warehouse_is_down_stays_an_interrupt(
    sim, resources, engine, caplog
):
    """The answers that arrive after an interrupt are written in one guarded write: a failing
    warehouse must not turn a terminated step into an OperationalError (which would be
    retried as transient)."""
    materialize([contratos], UASG, resources, ALL)
    kill_connections_writing(engine, "contratos_historico", times=None)
    ids = sim.contrato_ids(UASG)

    def work():  # eight contracts; once their answers are all in, the interrupt arrives
        yield from ((cid, QUATRO) for cid in ids[:8])
        time.sleep(1)
        raise KeyboardInterrupt

    client = resources["comprasnet"].make_client()
    with pytest.raises(KeyboardInterrupt):
        sync_abas(client, engine, work(), QUATRO, workers=8)
    assert client.stopped
    assert (
        "abas: não foi possível gravar as últimas respostas: (psycopg2.OperationalError)"
        in caplog.text
    )


def test_requests_cancelled_by_someone_else_are_failures_not_a_silent_success(sim, engine):
    """A client stopped outside the sync (a bug, or a stale client) must not make the sync
    report success with nothing stored."""
    client = ComprasNetClient(sim.base_url)
    client.stop()
    ids = sim.contrato_ids(UASG)[:3]
    result = sync_abas(client, engine, [(cid, QUATRO) for cid in ids], QUATRO, workers=4)
    assert result.falhas == 12 and sum(t.falhas_inesperadas for t in result.totals.values()) == 12
    assert tab_requests(sim) == {}


def test_a_vanished_contract_listed_again_outside_the_window_says_so(sim, resources, engine):
    materialize([contratos], UASG, resources, ALL)
    cid = sim.contrato_ids(UASG)[0]
    sim.remove_contrato(cid)
    materialize([contratos], UASG, resources, ALL)
    assert rows(engine, where="id = :i", i=cid)[0]["removido_motivo"] == "ausente_da_listagem"
    sim.add_contrato(UASG, id=cid, vigencia_fim="2001-01-31")  # back, long expired
    meta = materialization_metadata(materialize([contratos], UASG, resources, janela(730)))
    assert meta["filtrados_por_vigencia"] >= 1
    row = rows(engine, where="id = :i", i=cid)[0]
    assert row["removido_em"] is not None
    assert row["removido_motivo"] == "fora_da_janela_de_vigencia"
