"""The ``contratos`` asset against the simulator over HTTP and a real PostgreSQL."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from licitacao_pipeline.comprasnet.parsing import content_hash
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.relogio import local_today
from licitacao_pipeline.warehouse import tables

from .helpers import (
    StatusServer,
    br_money,
    failure_message,
    materialization_metadata,
    materialize,
    parse_day,
    rows,
    sim_records,
    step_retries,
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
    listed = {r["id"]: r for r in sim_records(sim, "787010")}  # what lets the next run skip them
    assert {i: r["payload_hash"] for i, r in before.items()} == {
        i: content_hash(listed[i]) for i in before
    }

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
    assert rejected[0]["record_id"] == str(rejected[0]["payload"]["id"])  # which record
    assert rejected[0]["payload"]["valor_global"] == "abc,de"
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["taxa_rejeicao"]
    assert not check.passed


def test_too_many_rejects_fail_the_run_writing_nothing(sim, resources, engine):
    sim.inject_fault("malformed", path=r"/api/contrato/ug/", field="id", count=5)
    result = materialize([contratos], "787010", resources, ALL, raise_on_error=False)
    assert "5 de 25 registros rejeitados" in failure_message(result)
    assert rows(engine) == []
    assert len(rows(engine, "rejected_records")) == 5  # the rejections are still on record


def test_mass_disappearance_is_refused(sim, resources, engine):
    materialize([contratos], "787010", resources, ALL)
    for cid in sim.contrato_ids("787010")[:20]:
        sim.remove_contrato(cid)
    result = materialize([contratos], "787010", resources, ALL, raise_on_error=False)
    line = next(m for m in failure_message(result).splitlines() if "sumiram" in m)
    assert "20 de 25 contratos gravados sumiram da listagem (> 50%); eles não serão" in line
    tail = " marcados como removidos. Se for real, rode de novo com um max_taxa_remocao maior."
    assert line.endswith(tail), line
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


# -- amounts, checks, the vigência window and the unchanged-record shortcut, end to end ---------

UASG = "787010"
BIG = {
    "valor_global": "9.999.999.999.999.999,99",  # the largest NUMERIC(18, 2)
    "valor_inicial": "12.345.678.901.234,56",  # more digits than a double holds
    "valor_parcela": "0,01",
    "valor_acumulado": "1.000.000.000.000.000,10",
}


def test_largest_amounts_are_stored_and_read_back_to_the_cent(sim, resources, engine):
    """Money is NUMERIC end to end: a double (15-17 significant digits) would round these."""
    cid = sim.contrato_ids(UASG)[0]
    sim.change_contrato(cid, **BIG)
    materialize([contratos], UASG, resources, ALL)
    [stored] = rows(engine, where="id = :i", i=cid)
    for field, text in BIG.items():
        assert str(stored[field]) == str(br_money(text)), field  # digits and scale
    # read back through the code's own table definition, as the pipeline reads it
    columns = [tables.contratos.c[field] for field in BIG]
    with engine.connect() as conn:
        typed = conn.execute(sa.select(*columns).where(tables.contratos.c.id == cid)).one()
    assert list(typed) == [br_money(text) for text in BIG.values()]
    assert all(isinstance(value, Decimal) for value in typed)
    meta = materialization_metadata(materialize([contratos], UASG, resources, ALL))
    assert meta["inalterados"] == 25 and meta["linhas_escritas"] == 0


def check_results(result) -> dict:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def test_checks_fail_naming_the_negative_and_incoherent_contracts(sim, resources, engine):
    """valores_nao_negativos fails for any one negative value (zero is fine);
    vigencia_coerente for a vigência ending before it starts (a one-day vigência is fine).
    Removed contracts and other UASGs are not this partition's problem."""
    ids = sorted(sim.contrato_ids(UASG))
    negative = {
        ids[0]: {"valor_inicial": "-0,01"},
        ids[1]: {"valor_global": "-1.000,00"},
        ids[2]: {"valor_parcela": "-5,00"},
    }
    for cid, fields in negative.items():
        sim.change_contrato(cid, **fields)
    sim.change_contrato(ids[3], valor_inicial="0,00", valor_global="0,00", valor_parcela="0,00")
    sim.change_contrato(ids[4], vigencia_inicio="2026-05-10", vigencia_fim="2026-05-09")
    sim.change_contrato(ids[5], vigencia_inicio="2026-05-10", vigencia_fim="2026-05-10")
    other = sim.contrato_ids("787000")[0]
    sim.change_contrato(other, valor_global="-1,00", vigencia_fim="2001-01-01")

    materialize([contratos], "787000", resources, ALL)
    checks = check_results(materialize([contratos], UASG, resources, ALL))
    assert not checks["valores_nao_negativos"].passed
    assert checks["valores_nao_negativos"].metadata["ids"].value == sorted(negative)
    assert not checks["vigencia_coerente"].passed
    assert checks["vigencia_coerente"].metadata["ids"].value == [ids[4]]
    assert checks["ids_unicos"].passed and checks["taxa_rejeicao"].passed

    for cid in [*negative, ids[4]]:
        sim.remove_contrato(cid)
    checks = check_results(materialize([contratos], UASG, resources, ALL))
    assert checks["valores_nao_negativos"].passed and checks["vigencia_coerente"].passed
    assert checks["valores_nao_negativos"].metadata["ids"].value == []


def sao_paulo_today() -> date:
    """Independent of the code under test: the date on a São Paulo wall calendar now."""
    return datetime.now(ZoneInfo("America/Sao_Paulo")).date()


def test_the_window_keeps_a_contract_ended_exactly_n_days_ago_and_not_one_day_more(
    sim, resources, engine
):
    """The default window (730 days) counted in São Paulo days, at its exact edge. (Between
    21:00 and 24:00 in São Paulo this also catches an asset that takes UTC's date for today;
    the other hours are covered by the local_today tests below.)"""
    today = sao_paulo_today()
    edge = sim.add_contrato(UASG, vigencia_fim=(today - timedelta(days=730)).isoformat())
    past = sim.add_contrato(UASG, vigencia_fim=(today - timedelta(days=731)).isoformat())
    meta = materialization_metadata(materialize([contratos], UASG, resources))
    stored = {r["id"] for r in rows(engine)}
    assert edge["id"] in stored and past["id"] not in stored
    fora = {
        r["id"]
        for r in sim_records(sim, UASG)
        if r["vigencia_fim"] and (today - date.fromisoformat(r["vigencia_fim"])).days > 730
    }
    assert stored == set(sim.contrato_ids(UASG)) - fora
    assert meta["filtrados_por_vigencia"] == len(fora) and meta["vigencia_janela_dias"] == 730
    listed = {r["id"]: r for r in sim_records(sim, UASG)}
    for sample in meta["amostras_filtrados"]:  # what the UI shows of the first ten
        record = listed[sample["id"]]
        assert sample == {
            "id": record["id"],
            "numero": record["numero"],
            "vigencia_fim": record["vigencia_fim"],
        }
    assert {s["id"] for s in meta["amostras_filtrados"]} <= fora


@pytest.mark.parametrize(
    "instant,today",
    [
        (datetime(2026, 3, 10, 23, 30, tzinfo=ZoneInfo("America/Sao_Paulo")), date(2026, 3, 10)),
        (datetime(2026, 3, 11, 2, 30, tzinfo=UTC), date(2026, 3, 10)),  # the same instant
        (datetime(2026, 3, 11, 2, 59, 59, tzinfo=UTC), date(2026, 3, 10)),
        (datetime(2026, 3, 11, 3, 0, tzinfo=UTC), date(2026, 3, 11)),  # São Paulo midnight
        (datetime(2026, 12, 31, 21, 0, tzinfo=ZoneInfo("America/Sao_Paulo")), date(2026, 12, 31)),
    ],
)
def test_today_is_the_sao_paulo_date_also_when_utc_is_already_tomorrow(instant, today):
    assert local_today(instant) == today


def test_local_today_defaults_to_now_in_sao_paulo():
    before = sao_paulo_today()
    assert local_today() in (before, sao_paulo_today())  # a midnight may pass in between


def test_an_unchanged_record_is_not_parsed_again(sim, resources, engine):
    """A listed record whose content hash equals the stored one is neither parsed nor written
    (README: "not even parsed"); its stored vigencia_fim decides the window. Observable without
    timing: a stored hash that matches a record the parser would reject hides the record from
    the parser, and a stored vigencia_fim that differs from the record's is the one used."""
    ids = sorted(sim.contrato_ids(UASG))
    materialize([contratos], UASG, resources, ALL)
    bad = sim.change_contrato(ids[0], valor_global="abc,de")
    with engine.begin() as conn:  # as if this very record had been stored before
        conn.execute(
            sa.text("UPDATE contratos SET payload_hash = :h WHERE id = :i"),
            {"h": content_hash(bad), "i": ids[0]},
        )
        conn.execute(
            sa.text("UPDATE contratos SET vigencia_fim = '2001-01-01' WHERE id = :i"),
            {"i": ids[1]},
        )
    meta = materialization_metadata(
        materialize([contratos], UASG, resources, janela_de(3650))  # every seed is inside
    )
    assert meta["rejeitados"] == 0 and rows(engine, "rejected_records") == []
    assert (meta["inalterados"], meta["filtrados_por_vigencia"]) == (24, 1)
    stored = {r["id"]: r for r in rows(engine)}
    assert stored[ids[0]]["removido_em"] is None
    assert stored[ids[1]]["removido_motivo"] == "fora_da_janela_de_vigencia"


def janela_de(dias, **extra):
    return {"contratos": {"config": {"vigencia_janela_dias": dias, **extra}}}


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_a_5xx_without_retry_after_is_retried_by_the_client(sim, resources, engine, kind):
    """The simulator's 502/503 carry no Retry-After unless asked: only the client's own retry
    list makes it try again (urllib3 retries a 503 *with* the header on its own)."""
    sim.inject_fault(kind, path=r"^/api/contrato/ug/787010$", times=2)
    result = materialize([contratos], UASG, resources, ALL)
    meta = materialization_metadata(result)
    assert meta["inseridos"] == 25 and meta["retentativas"] == 2
    assert sim.requests["/api/contrato/ug/787010"] == 3
    assert step_retries(result) == 0


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_a_transient_status_that_outlives_the_client_retries_retries_the_step(
    sim, resources, engine, kind
):
    sim.inject_fault(kind, path=r"^/api/contrato/ug/787010$", times=1, retry_after=0)
    result = materialize([contratos], UASG, with_client(resources, sim, max_retries=0), ALL)
    assert result.success and step_retries(result) == 1
    assert sim.requests["/api/contrato/ug/787010"] == 2
    assert len(rows(engine)) == 25


@pytest.mark.parametrize("status", [400, 403])
def test_a_client_error_fails_the_run_at_once_without_any_retry(resources, engine, status):
    with StatusServer(status) as server:
        result = materialize(
            [contratos],
            UASG,
            with_client(resources, server, max_retries=3, body_retries=3),
            ALL,
            raise_on_error=False,
        )
    message = failure_message(result)
    assert f"status={status}" in message and "/api/contrato/" in message
    assert step_retries(result) == 0
    assert server.requests and set(server.requests.values()) == {1}  # not retried either
    assert rows(engine) == []


def test_a_contract_listed_twice_is_stored_once_and_fails_ids_unicos(sim, resources, engine):
    """One row per id (the first listed wins); the repeats are counted and named by the check."""
    ids = sorted(sim.contrato_ids(UASG))
    for cid in ids[:11]:  # one more than the samples shown
        sim.add_contrato(UASG, id=cid, objeto="repetido")
    result = materialize([contratos], UASG, resources, ALL)
    meta = materialization_metadata(result)
    assert (meta["listados"], meta["duplicados"], meta["inseridos"]) == (36, 11, 25)
    check = check_results(result)["ids_unicos"]
    assert not check.passed
    assert check.metadata["duplicados_na_listagem"].value == 11
    sample = check.metadata["ids_duplicados"].value
    assert len(sample) == 10 and set(sample) < set(ids[:11])
    assert sorted(r["id"] for r in rows(engine)) == ids


def test_the_removal_and_rejection_limits_are_inclusive(sim, resources, engine):
    """Exactly at max_taxa_remocao / max_taxa_rejeicao the run commits; one more fails it."""
    ids = sorted(sim.contrato_ids(UASG))
    assert len(ids) == 25
    limits = janela_de(None, max_taxa_remocao=0.2, max_taxa_rejeicao=0.2)
    materialize([contratos], UASG, resources, limits)
    for cid in ids[:5]:  # 5 of 25 stored: exactly 20 %
        sim.remove_contrato(cid)
    meta = materialization_metadata(materialize([contratos], UASG, resources, limits))
    assert meta["removidos"] == 5
    for cid in ids[5:9]:  # 4 of the 20 listed: exactly 20 %
        sim.change_contrato(cid, valor_global="abc,de")
    meta = materialization_metadata(materialize([contratos], UASG, resources, limits))
    assert (meta["listados"], meta["rejeitados"]) == (20, 4)
    sim.change_contrato(ids[9], valor_global="abc,de")  # 5 of 20: over the limit
    result = materialize([contratos], UASG, resources, limits, raise_on_error=False)
    line = next(m for m in failure_message(result).splitlines() if "registros rejeitados" in m)
    assert not result.success and "5 de 20 registros rejeitados (25.0% > máx. 20.0%)" in line
    assert line.count("'record_id': ") == 3  # three samples say what was wrong, not all


def test_a_long_listing_is_read_in_batches_and_its_progress_logged(sim, engine, caplog):
    """The listing is consumed BATCH records at a time (memory stays flat), with a progress
    line each time a multiple of ``progress_every`` is crossed."""
    import logging

    from licitacao_pipeline.flows.contratos import BATCH, Janela, sync_contratos

    model = sim_records(sim, UASG)[0]
    pulled = []

    def listing(n, **change):
        for i in range(n):
            pulled.append(i)
            yield dict(model, id=900_000_000 + i, numero=f"{i:05d}/2026", **change)
        yield dict(model, id=900_000_000, numero="repetido")  # listed in the first batch too

    n = 2 * BATCH + BATCH // 2
    with caplog.at_level(logging.INFO, logger="licitacao_pipeline.flows.contratos"):
        result = sync_contratos(
            engine,
            UASG,
            listing(n),
            janela=Janela(local_today(), None),
            max_taxa_rejeicao=0.0,
            max_taxa_remocao=1.0,
            progress_every=BATCH + BATCH // 2,
        )
    assert (result.listados, result.inseridos, result.inalterados, len(pulled)) == (n + 1, n, 0, n)
    assert (result.duplicados, result.ids_duplicados) == (1, [900_000_000])
    lines = [r.getMessage() for r in caplog.records if "registros lidos" in r.getMessage()]
    # batches end at 1000, 2000 and 2501 records: only the second crosses a multiple of 1500
    assert lines == [f"uasg {UASG}: {2 * BATCH} registros lidos"]

    again = sync_contratos(  # every record changed: the counts add up over the batches
        engine,
        UASG,
        listing(n, objeto="Objeto alterado"),
        janela=Janela(local_today(), None),
        max_taxa_rejeicao=0.0,
        max_taxa_remocao=1.0,
    )
    assert (again.listados, again.atualizados, again.inalterados) == (n + 1, n, 0)


def test_a_uasgs_writes_wait_for_another_writer_of_the_same_uasg_only(sim, engine):
    """The per-UASG advisory lock (runs that bypass the run queue cannot interleave): a sync
    of a UASG waits while another transaction holds that UASG's lock; another UASG does not."""
    import threading

    from licitacao_pipeline.flows.contratos import Janela, sync_contratos

    def sync_in_thread(uasg):
        done = []
        kwargs = {"janela": Janela(local_today(), None), "max_taxa_rejeicao": 1.0}
        thread = threading.Thread(
            target=lambda: done.append(
                sync_contratos(engine, uasg, sim_records(sim, uasg), max_taxa_remocao=1.0, **kwargs)
            )
        )
        thread.start()
        return thread, done

    with engine.connect() as holder:
        tx = holder.begin()
        holder.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext('contratos'), hashtext(:u))"),
            {"u": UASG},
        )
        other, other_done = sync_in_thread("787000")
        other.join(timeout=15)
        assert other_done and other_done[0].inseridos > 0  # another UASG is not held up
        blocked, blocked_done = sync_in_thread(UASG)
        blocked.join(timeout=1.5)
        assert blocked.is_alive() and not blocked_done, "it wrote while the UASG was locked"
        tx.commit()
    blocked.join(timeout=15)
    assert blocked_done and blocked_done[0].inseridos == 25


def _sync(engine, uasg, records, **kwargs):
    from licitacao_pipeline.flows.contratos import Janela, sync_contratos

    return sync_contratos(
        engine,
        uasg,
        records,
        janela=Janela(local_today(), None),
        max_taxa_rejeicao=1.0,
        max_taxa_remocao=1.0,
        **kwargs,
    )


def test_the_change_history_can_be_left_out_and_is_then_not_written(sim, engine):
    """``registrar_alteracoes=False`` (the benchmark's baseline) writes the contracts only."""

    def history() -> int:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM contratos_alteracoes").scalar()

    records = sim_records(sim, UASG)
    _sync(engine, UASG, records)  # the baseline
    before = history()
    changed = [{**records[0], "objeto": "Objeto alterado"}, *records[1:]]
    without = _sync(engine, UASG, changed, registrar_alteracoes=False)
    assert (without.atualizados, without.alteracoes.eventos, history()) == (1, 0, before)
    recorded = _sync(engine, UASG, records)  # and back, recorded
    assert recorded.atualizados == 1 and recorded.alteracoes.eventos == history() - before == 1


def test_a_listing_item_that_is_not_an_object_is_rejected_not_a_crash(sim, engine):
    result = _sync(engine, UASG, ["garbage"])  # no record names a unidade either
    assert (result.listados, result.rejeitados, result.inseridos) == (1, 1, 0)
    result = _sync(engine, UASG, [*sim_records(sim, UASG), ["a", "list"], 7])
    assert (result.rejeitados, result.inseridos) == (2, 25)


def test_a_listing_that_names_another_unidade_does_not_describe_this_uasg(sim, engine):
    """The unidade row comes from records of the partition's own UASG only."""
    _sync(engine, UASG, sim_records(sim, "787000"))
    with engine.connect() as conn:
        codigos = conn.execute(sa.select(tables.unidades.c.codigo)).scalars().all()
    assert codigos == []
    _sync(engine, "787000", sim_records(sim, "787000"))
    with engine.connect() as conn:
        codigos = conn.execute(sa.select(tables.unidades.c.codigo)).scalars().all()
    assert codigos == ["787000"]


def test_samples_of_stored_contracts_that_leave_the_window_name_them(sim, resources, engine):
    """Stored, unchanged contracts that fall out of the window are sampled from the stored row
    (the record is not parsed again): id, número and vigência end as listed."""
    materialize([contratos], UASG, resources, ALL)
    meta = materialization_metadata(materialize([contratos], UASG, resources))  # 730 days
    listed = {r["id"]: r for r in sim_records(sim, UASG)}
    assert meta["removidos_fora_da_janela"] == meta["filtrados_por_vigencia"] > 0
    assert meta["inalterados"] + meta["filtrados_por_vigencia"] == len(listed)
    for sample in meta["amostras_filtrados"]:
        record = listed[sample["id"]]
        assert sample == {
            "id": record["id"],
            "numero": record["numero"],
            "vigencia_fim": record["vigencia_fim"],
        }
