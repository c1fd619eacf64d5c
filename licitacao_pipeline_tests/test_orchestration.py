"""Automation (tabs follow a listing materialized alone), failure alerts to a webhook, retries,
cleanup."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.definitions import defs
from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.limpeza import limpeza
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.defs.sensors import abas_seguem_contratos, alerta_falhas, alertas_pendentes

from .helpers import rows, with_client

ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
TAB_KEYS = [dg.AssetKey(f"contratos_{t}") for t in ABAS]


def _tabs_after(instance, result, resources):
    """What ``abas_seguem_contratos`` does about a finished run (a RunRequest or a skip)."""
    context = dg.build_run_status_sensor_context(
        sensor_name="abas_seguem_contratos",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
        resources={"warehouse": resources["warehouse"]},
    )
    return abas_seguem_contratos(context)


def test_tabs_follow_a_listing_materialized_alone_once_and_only_when_due(sim, resources):
    with dg.instance_for_test() as instance:
        listing = dg.materialize(
            [contratos],
            partition_key="787000",
            resources=resources,
            instance=instance,
            run_config={"ops": ALL},
        )
        request = _tabs_after(instance, listing, resources)
        assert isinstance(request, dg.RunRequest), request
        assert request.partition_key == "787000"
        assert set(request.asset_selection) == set(TAB_KEYS)
        assert request.tags["licitacao/tipo"] == "automatica"
        assert request.run_key == f"abas-{listing.run_id}"  # once per listing run
        # the tabs synced, a second listing alone finds nothing due: no run
        full = dg.materialize(
            [contratos, contratos_abas],
            partition_key="787000",
            resources=resources,
            instance=instance,
            run_config={"ops": ALL},
        )
        assert isinstance(_tabs_after(instance, full, resources), dg.SkipReason)
        again = dg.materialize(
            [contratos],
            partition_key="787000",
            resources=resources,
            instance=instance,
            run_config={"ops": ALL},
        )
        skip = _tabs_after(instance, again, resources)
        assert isinstance(skip, dg.SkipReason) and "nenhuma aba devida" in skip.skip_message


def test_a_uasg_sync_is_one_run_and_automation_adds_no_second_tab_run(sim, resources, engine):
    """The daytime job syncs the listing and the due tabs in one run; the tab automation (for
    a listing materialized alone) must not follow it with a second, redundant tab run."""
    job = defs.resolve_job_def("sincronizar_contratos")
    assert set(job.asset_layer.executable_asset_keys) == {dg.AssetKey("contratos"), *TAB_KEYS}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            partition_key="787000",
            resources=resources,
            instance=instance,
            run_config={"ops": ALL},
        )
        assert result.success
        skip = _tabs_after(instance, result, resources)
        assert isinstance(skip, dg.SkipReason) and "não é uma listagem" in skip.skip_message
    stamps = rows(engine, where="uasg = '787000'")
    assert stamps and all(r["detalhes_atualizados_em"] is not None for r in stamps)


class Receiver:
    """A local HTTP server that records JSON POST bodies; can be told to fail first."""

    def __init__(self, fail_first: int = 0):
        self.bodies, self.fail_left = [], fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_left > 0:
                    outer.fail_left -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def failed_run(sim, resources, instance):
    sim.inject_fault("500", path=r"/api/contrato/ug/", times=-1)
    fast = with_client(resources, sim, max_retries=0)
    return dg.materialize(
        [contratos],
        partition_key="787010",
        resources=fast,
        instance=instance,
        run_config={"ops": ALL},
        raise_on_error=False,
    )


def sensor_context(instance, result, resources):
    return dg.build_run_status_sensor_context(  # only the warehouse resource is used
        sensor_name="alerta_falhas",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"warehouse": resources["warehouse"]},
    ).for_run_failure()


@pytest.fixture
def webhook(monkeypatch):
    receiver = Receiver(fail_first=1)  # the first delivery fails; a later tick succeeds
    monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url)
    yield receiver
    receiver.close()


def test_failure_sensor_records_the_alert_and_posts_it(sim, resources, engine, webhook):
    with dg.instance_for_test() as instance:
        result = failed_run(sim, resources, instance)
        assert not result.success
        ctx = sensor_context(instance, result, resources)
        alerta_falhas(ctx)
        stored = rows(engine, "alertas")
        assert len(stored) == 1
        alert = stored[0]
        assert alert["run_id"] == result.run_id and alert["uasg"] == "787010"
        assert alert["failed_steps"] == ["contratos"]
        assert "status=500" in alert["message"]
        assert alert["posted_at"] is None and "503" in alert["post_error"]  # receiver failed
        assert webhook.bodies == []
        alerta_falhas(ctx)  # the same failure seen again: not recorded twice, nor posted yet
        assert len(rows(engine, "alertas")) == 1 and webhook.bodies == []
        pending = dg.build_sensor_context(
            instance=instance, resources={"warehouse": resources["warehouse"]}
        )
        alertas_pendentes(pending)  # backing off: the failed post waits a minute
        assert webhook.bodies == []
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE alertas SET ultima_tentativa_em = now() - interval '61 seconds'"
            )
        alertas_pendentes(pending)
        assert len(webhook.bodies) == 1
        body = webhook.bodies[0]
        assert body["run_id"] == result.run_id and body["uasg"] == "787010"
        assert "status=500" in body["message"]
        stored = rows(engine, "alertas")[0]
        assert stored["posted_at"] is not None and stored["post_attempts"] == 2
        alertas_pendentes(pending)
        assert len(webhook.bodies) == 1  # never posted twice


def test_an_alert_still_reaches_the_webhook_when_the_warehouse_is_down(sim, resources):
    """The alert row lives in the warehouse; when the warehouse is what failed (the health
    check), the alert is posted directly instead of being lost, and the sensor goes on."""
    receiver = Receiver()
    down = {"warehouse": WarehouseResource(database_url=_closed_port_url())}
    try:
        with dg.instance_for_test() as instance, pytest.MonkeyPatch.context() as mp:
            mp.setenv("ALERT_WEBHOOK_URL", receiver.url)
            result = failed_run(sim, resources, instance)
            alerta_falhas(sensor_context(instance, result, down))
        assert [b["run_id"] for b in receiver.bodies] == [result.run_id]
        assert "status=500" in receiver.bodies[0]["message"]
    finally:
        receiver.close()


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/nada?connect_timeout=2"


def test_unreachable_webhook_does_not_block(sim, resources, engine, monkeypatch):
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "http://127.0.0.1:9/unreachable")
    with dg.instance_for_test() as instance:
        result = failed_run(sim, resources, instance)
        started = time.monotonic()
        alerta_falhas(sensor_context(instance, result, resources))
        assert time.monotonic() - started < 15
    alert = rows(engine, "alertas")[0]
    assert alert["posted_at"] is None and alert["post_attempts"] == 1
    assert "Connection" in alert["post_error"]


def test_transient_errors_are_retried_by_the_step_but_data_errors_are_not(sim, resources):
    fast = with_client(resources, sim, max_retries=0)
    sim.inject_fault("502", path=r"/api/contrato/ug/", times=1)
    result = dg.materialize(
        [contratos], partition_key="787010", resources=fast, run_config={"ops": ALL}
    )
    assert result.success
    assert len([e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]) == 1

    sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="id", count=10)
    result = dg.materialize(
        [contratos],
        partition_key="787010",
        resources=fast,
        run_config={"ops": ALL},
        raise_on_error=False,
    )
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_cleanup_removes_old_runs_and_exports(tmp_path, monkeypatch, db_url):
    monkeypatch.setenv("LICITACAO_EXPORT_DIR", str(tmp_path / "exports"))
    (tmp_path / "exports").mkdir()
    old, new = tmp_path / "exports" / "old.csv", tmp_path / "exports" / "new.csv"
    old.write_text("a,b\n")
    new.write_text("a,b\n")
    past = time.time() - 40 * 86400
    os.utime(old, (past, past))
    with dg.instance_for_test() as instance:
        for _ in range(3):
            limpeza.execute_in_process(
                instance=instance,
                resources={"warehouse": WarehouseResource(database_url=db_url)},
                run_config={"ops": {"limpar_registros_antigos": {"config": {"retencao_dias": 30}}}},
            )
        assert len(instance.get_run_records()) == 3
        assert not old.exists() and new.exists()
        result = limpeza.execute_in_process(
            instance=instance,
            resources={"warehouse": WarehouseResource(database_url=db_url)},
            run_config={"ops": {"limpar_registros_antigos": {"config": {"retencao_dias": 0}}}},
        )
        meta = {
            k: v.value
            for e in result.all_events
            if e.event_type_value == "STEP_OUTPUT"
            for k, v in e.event_specific_data.metadata.items()
        }
        assert meta["runs_removidos"] == 3
        remaining = [r.dagster_run.run_id for r in instance.get_run_records()]
        assert remaining == [result.run_id]  # only the cleanup run itself, still in progress then
        assert instance.all_logs(remaining[0])
