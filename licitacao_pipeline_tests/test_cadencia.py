"""How often each tab is due (its cadence), which tabs a deployment syncs, and the back-off of a
tab that keeps failing for one contract: runs of the tab asset against the simulator."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from licitacao_pipeline import cadencia
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.settings import SettingError, Settings

from .helpers import rows, tab_requests, with_client
from .test_abas import UASG, sync_all, sync_tabs_only, tab_meta


def _age_everything(engine, days):
    """Every tab (and the listing record) synced ``days`` ago."""
    cols = ", ".join(f"{a}_atualizado_em = now() - make_interval(days => :d)" for a in ABAS)
    cols += ", atualizado_em = now() - make_interval(days => :d + 1)"
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE contratos SET {cols}"),
            {"d": days},
        )


def _requested(sim):
    return {a: sim.count(a) for a in ABAS}


def test_each_tab_is_due_after_its_own_cadence_and_the_full_sync_takes_every_tab(
    sim, resources, engine, monkeypatch
):
    n = len(sim.contrato_ids(UASG))
    sync_all(resources)
    _age_everything(engine, 2)
    sim.reset_counts()
    result = sync_tabs_only(resources)
    # daily tabs are due after two days, weekly ones are not
    diarias = {"historico", "empenhos", "faturas"}
    assert _requested(sim) == {a: n if a in diarias else 0 for a in ABAS}
    assert tab_meta(result, "itens")["cadencia_horas"] == 168.0
    assert tab_meta(result, "empenhos")["cadencia_horas"] == 24.0

    _age_everything(engine, 2)
    monkeypatch.setenv(cadencia.CADENCIA_VAR, "itens=24, historico=72")
    sim.reset_counts()
    sync_tabs_only(resources)
    assert _requested(sim) == {a: n if a in {"empenhos", "faturas", "itens"} else 0 for a in ABAS}

    monkeypatch.delenv(cadencia.CADENCIA_VAR)
    sim.reset_counts()
    sync_tabs_only(resources, {"completa": True})
    assert _requested(sim) == dict.fromkeys(ABAS, n)


def test_a_deployment_syncs_only_the_tabs_it_chose(sim, resources, engine, monkeypatch):
    monkeypatch.setenv(cadencia.ABAS_VAR, "itens, historico")
    n = len(sim.contrato_ids(UASG))
    result = sync_all(resources)
    assert _requested(sim) == {a: n if a in {"historico", "itens"} else 0 for a in ABAS}
    materialized = {m.asset_key.path[0] for m in result.get_asset_materialization_events()}
    assert materialized == {"contratos", "contratos_historico", "contratos_itens"}
    assert all(r["empenhos_atualizado_em"] is None for r in rows(engine))


def test_bad_cadence_or_tab_list_is_refused_naming_the_variable():
    with pytest.raises(SettingError, match=cadencia.CADENCIA_VAR):
        Settings.from_env({cadencia.CADENCIA_VAR: "itens=0"}).cadencia()
    with pytest.raises(SettingError, match=cadencia.CADENCIA_VAR):
        Settings.from_env({cadencia.CADENCIA_VAR: "nada=24"}).cadencia()
    with pytest.raises(SettingError, match=cadencia.ABAS_VAR):
        Settings.from_env({cadencia.ABAS_VAR: "faturas,boletos"}).abas()
    assert Settings.from_env({}).abas() == cadencia.ABAS_CONHECIDAS
    assert Settings.from_env({cadencia.CADENCIA_VAR: "itens=12"}).cadencia()["itens"] == 12.0


def _falha(engine, cid, aba="empenhos"):
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT * FROM abas_falhas WHERE contrato_id = :c AND aba = :a"),
            {"c": cid, "a": aba},
        ).one_or_none()
    return found._asdict() if found else None


def _backoff_over(engine, **extra):
    sets = ", ".join(["proxima_tentativa_em = now() - interval '1 second'", *extra.values()])
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE abas_falhas SET {sets}"))


def _hours_until_next_try(engine, cid):
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT EXTRACT(EPOCH FROM proxima_tentativa_em - now()) / 3600 FROM abas_falhas "
                "WHERE contrato_id = :c"
            ),
            {"c": cid},
        ).scalar_one()


def test_a_tab_failing_for_one_contract_backs_off_and_is_listed_with_how_long(
    sim, resources, engine
):
    bad = sim.contrato_ids(UASG)[3]
    path = f"/api/contrato/{bad}/empenhos"
    sim.inject_fault("500", path=rf"^{path}$", times=-1)  # the server fails on this one always
    fast = with_client(resources, sim, max_retries=1)
    result = sync_all(fast)
    assert tab_meta(result, "empenhos")["contratos_com_falha"] == 1
    first = _falha(engine, bad)
    assert first["falhas"] == 1 and first["status"] == 500
    assert 0.95 < _hours_until_next_try(engine, bad) <= 1.0
    meta = tab_meta(result, "empenhos")
    assert meta["contratos_com_falha_persistente"] == 1
    listed = meta["falhas_persistentes"][0]
    assert listed["contrato_id"] == bad and listed["falhas_seguidas"] == 1
    assert set(listed) == {
        "contrato_id",
        "falhas_seguidas",
        "falhando_desde",
        "horas_em_falha",
        "proxima_tentativa",
        "status_http",
    }  # ids, counts and times only: nothing of the record

    # the next runs within the hour leave it alone: no request, no failure, nothing due
    sim.reset_counts()
    again = sync_tabs_only(fast, {"validade_horas": 0.0})
    assert sim.requests[path] == 0 and tab_requests(sim) > 0  # the others were fetched
    assert tab_meta(again, "empenhos")["contratos_com_falha"] == 0
    assert tab_meta(again, "empenhos")["contratos_com_falha_persistente"] == 1
    sim.reset_counts()
    sync_tabs_only(fast, {"completa": True})
    assert sim.requests[path] == 0

    # an hour later (the back-off over; failing for 3 h): tried again, fails, waits 2 h
    _backoff_over(engine, desde="primeira_falha_em = now() - interval '3 hours'")
    sim.reset_counts()
    tolerant = {"max_taxa_falhas": 1.0}  # the only tab due fails: not a run failure here
    later = sync_tabs_only(fast, tolerant)
    assert sim.requests[path] == 2  # one try and its one retry
    assert _falha(engine, bad)["falhas"] == 2
    assert 1.95 < _hours_until_next_try(engine, bad) <= 2.0
    listed = tab_meta(later, "empenhos")["falhas_persistentes"][0]
    assert listed["falhas_seguidas"] == 2 and 2.9 < listed["horas_em_falha"] < 3.2

    # growing, but never past a week (7 x the daily cadence)
    _backoff_over(engine, n="falhas = 11")
    sync_tabs_only(fast, tolerant)
    assert _falha(engine, bad)["falhas"] == 12
    assert abs(_hours_until_next_try(engine, bad) - 7 * 24) < 0.1

    # the server is fixed: once due, the tab is stored and its streak forgotten
    sim.clear_faults()
    _backoff_over(engine)
    sync_tabs_only(fast)
    assert _falha(engine, bad) is None
    assert {r["id"]: r for r in rows(engine)}[bad]["empenhos_atualizado_em"] is not None


def test_a_failing_tab_is_tried_again_when_the_contract_changes(sim, resources, engine):
    bad = sim.contrato_ids(UASG)[2]
    path = f"/api/contrato/{bad}/itens"
    sim.inject_fault("500", path=rf"^{path}$", times=-1)
    fast = with_client(resources, sim, max_retries=0)
    sync_all(fast)
    assert _falha(engine, bad, "itens")["falhas"] == 1
    sim.change_contrato(bad, objeto="OBJETO CORRIGIDO")  # the record was fixed at the source
    sim.reset_counts()
    sync_all(fast)
    assert sim.requests[path] == 1 and _falha(engine, bad, "itens")["falhas"] == 2
    with engine.connect() as conn:
        backoff = conn.execute(
            sa.text("SELECT proxima_tentativa_em - ultima_falha_em FROM abas_falhas")
        ).scalar_one()
    assert backoff == timedelta(hours=2)
