"""Portal layer against a real PostgreSQL, the simulator over HTTP and Dagster's own machinery:
the view and its statistics equal an independent pandas computation over the same tables, the
concurrent refresh never waits for readers, freshness is judged by Dagster's freshness daemon
under a controlled clock, metrics never read the tab tables, the expiring-contracts report
(table + CSV), health checks that fail clearly and raise alerts, cleanup of snapshots.
"""

import csv
import io
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.test_utils import freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.defs.abas import contratos_abas
from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.limpeza import limpeza
from licitacao_pipeline.defs.portal import (
    contratos_a_vencer,
    estatisticas_contratos,
    metricas_painel,
    painel_contratos,
)
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.defs.saude import verificar_saude
from licitacao_pipeline.defs.sensors import alerta_falhas
from licitacao_pipeline.flows import portal, saude
from licitacao_pipeline.warehouse import portal as portal_sql

from .helpers import rows, sync_two_uasgs
from .helpers import set_contrato as _set

UASGS = ("787010", "787000")
ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
TZ = ZoneInfo("America/Sao_Paulo")
FOLLOW_UP = ("gestor", "fiscal", "prioridade", "observacao", "alertar_em")  # migration 0006
BIG = Decimal("9999999999999.99")  # 13 integer digits: R$ 9.999.999.999.999,99
ACME = "11.111.111/0001-11"
TABS = ABAS
PORTAL_ASSETS = (painel_contratos, estatisticas_contratos, metricas_painel, contratos_a_vencer)
PORTAL = tuple(a.key.path[0] for a in PORTAL_ASSETS)
# The project's code location, loaded in this process (as the daemon would load it).
CODE_LOCATION = InProcessCodeLocationOrigin(
    LoadableTargetOrigin(module_name="licitacao_pipeline.definitions", attribute="defs"),
    location_name="licitacao_pipeline",
)


def sao_paulo_today() -> date:
    return datetime.now(TZ).date()


def run_assets(assets, resources, instance=None, raise_on_error=True):
    return dg.materialize(
        assets, resources=resources, instance=instance, raise_on_error=raise_on_error
    )


def asset_metadata(result, asset):
    [mat] = [
        m.materialization
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == [asset]
    ]
    return {k: v.value for k, v in mat.metadata.items()}


# --- seeded warehouse -----------------------------------------------------------------------------


@dataclass
class Seed:
    today: date
    ids: dict[str, int]  # role -> contract id


@pytest.fixture
def seeded(sim, resources, engine) -> Seed:
    """Both UASGs synced through the real path (listings, then every tab), then edge cases
    written with SQL: expired but still "Ativo", removed, no empenhos, negative and 13-digit
    values, boundaries of the vigência and of the 30/60/90-day bands, formula-like texts."""
    counts, other_id = sync_two_uasgs(resources, engine)
    today = sao_paulo_today()
    many = [cid for cid, n in counts.items() if n >= 2]
    rest = [cid for cid in counts if cid not in many[:4]]
    ids = {
        "removed": many[0],  # in force, huge value and empenhos: must vanish everywhere
        "negative": many[1],  # negative valor_global and a negative empenho
        "big": many[2],  # 13-digit valor_global and empenho, ends in exactly 90 days
        "removed_empenho": many[3],  # one of its empenhos removed
        "expired_ativo": rest[0],  # "Ativo" but the vigência ended yesterday
        "no_empenhos": rest[1],  # in force, every empenho deleted
        "ends_today": rest[2],
        "starts_tomorrow": rest[3],
        "inativo_future": rest[4],  # "Inativo" although the vigência runs on
        "ends_in_91": rest[5],
        "no_end": rest[6],  # "Ativo" without vigencia_fim
        "ends_in_30": rest[7],
        "ends_in_31": rest[8],
        "other_uasg": other_id,
    }
    d = timedelta
    in_force = {"situacao": "Ativo", "vigencia_inicio": today - d(days=200)}
    with engine.begin() as conn:
        _set(conn, ids["removed"], **in_force, vigencia_fim=today + d(days=5),
             valor_global=Decimal("5000000000000.00"), removido_em=datetime.now(UTC),
             removido_motivo="ausente_da_listagem")  # fmt: skip
        _set(conn, ids["negative"], **in_force, vigencia_fim=today + d(days=45),
             valor_global=Decimal("-1234.56"), fornecedor_cnpj_cpf_idgener=ACME,
             fornecedor_nome="ACME LTDA")  # fmt: skip
        _set(conn, ids["big"], **in_force, vigencia_fim=today + d(days=90), valor_global=BIG,
             valor_acumulado=BIG, fornecedor_cnpj_cpf_idgener=ACME,
             fornecedor_nome="=HYPERLINK(\"http://evil\")")  # fmt: skip
        _set(conn, ids["removed_empenho"], **in_force, vigencia_fim=today + d(days=60))
        _set(conn, ids["expired_ativo"], situacao="Ativo",
             vigencia_inicio=today - d(days=400), vigencia_fim=today - d(days=1))  # fmt: skip
        _set(conn, ids["no_empenhos"], **in_force, vigencia_fim=today + d(days=10),
             fornecedor_cnpj_cpf_idgener=ACME, fornecedor_nome="ACME LTDA",
             numero="-2+3", objeto="@SUM(1+1)\tfim")  # fmt: skip
        _set(conn, ids["ends_today"], **in_force, vigencia_fim=today)
        _set(conn, ids["starts_tomorrow"], situacao="Ativo",
             vigencia_inicio=today + d(days=1), vigencia_fim=today + d(days=20))  # fmt: skip
        _set(conn, ids["inativo_future"], situacao="Inativo",
             vigencia_inicio=today - d(days=10), vigencia_fim=today + d(days=15))  # fmt: skip
        _set(conn, ids["ends_in_91"], **in_force, vigencia_fim=today + d(days=91))
        _set(conn, ids["no_end"], **in_force, vigencia_fim=None)
        _set(conn, ids["ends_in_30"], **in_force, vigencia_fim=today + d(days=30))
        _set(conn, ids["ends_in_31"], **in_force, vigencia_fim=today + d(days=31))
        _set(conn, ids["other_uasg"], **in_force, vigencia_fim=today + d(days=50),
             fornecedor_cnpj_cpf_idgener=ACME, fornecedor_nome="ACME LTDA")  # fmt: skip
        conn.execute(
            sa.text("DELETE FROM contratos_empenhos WHERE contrato_id = :c"),
            {"c": ids["no_empenhos"]},
        )
        conn.execute(
            sa.text(
                "UPDATE contratos_empenhos SET empenhado = :v, liquidado = :v, pago = :v "
                "WHERE contrato_id = :c AND id = (SELECT min(id) FROM contratos_empenhos "
                "WHERE contrato_id = :c)"
            ),
            [
                {"c": ids["negative"], "v": Decimal("-500.10")},
                {"c": ids["big"], "v": BIG},
            ],
        )
        conn.execute(
            sa.text(
                "UPDATE contratos_empenhos SET removido_em = now() WHERE contrato_id = :c "
                "AND id = (SELECT max(id) FROM contratos_empenhos WHERE contrato_id = :c)"
            ),
            {"c": ids["removed_empenho"]},
        )
    return Seed(today, ids)


# --- the independent computation (pandas over the same tables) ------------------------------------


def _read(engine, query: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn, coerce_float=False)


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _value(value):
    return None if _missing(value) else value


def _dsum(values) -> Decimal:
    return sum((v for v in values if not _missing(v)), Decimal(0))


def expected_view(engine, today: date) -> dict[int, dict]:
    c = _read(engine, "SELECT * FROM contratos")
    u = dict(_read(engine, "SELECT codigo, nome FROM unidades").itertuples(index=False))
    e = _read(engine, "SELECT * FROM contratos_empenhos")
    f = _read(engine, "SELECT * FROM contratos_faturas WHERE removido_em IS NULL")
    resp = _read(engine, "SELECT contrato_id, situacao FROM contratos_responsaveis "
                 "WHERE removido_em IS NULL")  # fmt: skip
    follow_up = {
        f["contrato_id"]: f
        for f in _read(engine, "SELECT * FROM acompanhamento").to_dict("records")
    }
    c = c[c["removido_em"].isna()]
    e = e[e["removido_em"].isna()]
    out = {}
    for r in c.to_dict("records"):
        mine = e[e["contrato_id"] == r["id"]]
        fat = f[f["contrato_id"] == r["id"]].to_dict("records")
        pagas = [x for x in fat if x["situacao"] == "Pago"]
        abertas = [x for x in fat if x["situacao"] != "Pago"]
        inicio, fim = (
            None if _missing(r[k]) else r[k] for k in ("vigencia_inicio", "vigencia_fim")
        )
        out[r["id"]] = {
            "contrato_id": r["id"],
            "uasg": r["uasg"],
            "unidade_nome": u.get(r["uasg"], r["unidade_gestora_nome"]),
            "numero": r["numero"],
            "fornecedor_documento": r["fornecedor_cnpj_cpf_idgener"],
            "fornecedor_nome": r["fornecedor_nome"],
            "objeto": r["objeto"],
            "situacao": r["situacao"],
            **{k: _value(r[k]) for k in ("valor_inicial", "valor_global", "valor_acumulado")},
            "vigencia_inicio": inicio,
            "vigencia_fim": fim,
            "data_referencia": today,
            "dias_para_fim": None if fim is None else (fim - today).days,
            "em_vigor": bool(
                r["situacao"] == "Ativo" and inicio and fim and inicio <= today <= fim
            ),
            "total_empenhado": _dsum(mine["empenhado"]),
            "total_liquidado": _dsum(mine["liquidado"]),
            "total_pago": _dsum(mine["pago"]),
            **{k: _value(follow_up.get(r["id"], {}).get(k)) for k in FOLLOW_UP},
            "faturas_pago": _dsum(x["valorliquido"] for x in pagas),
            "faturas_a_pagar": _dsum(x["valorliquido"] for x in abertas),
            "faturas_glosa": _dsum(x["glosa"] for x in fat),
            "faturas_vencidas_nao_pagas": sum(
                1 for x in abertas if not _missing(x["vencimento"]) and x["vencimento"] < today
            ),
            "responsaveis_ativos": int(
                ((resp["contrato_id"] == r["id"]) & (resp["situacao"] == "Ativo")).sum()
            ),
        }
    return out


def expected_statistics(view: dict[int, dict], uasg: str | None) -> dict:
    rows = [r for r in view.values() if uasg is None or r["uasg"] == uasg]
    vigentes = [r for r in rows if r["em_vigor"]]
    by_doc: dict[str, list[dict]] = {}
    for r in vigentes:
        if r["fornecedor_documento"] is not None:
            by_doc.setdefault(r["fornecedor_documento"], []).append(r)
    fornecedores = sorted(
        (
            {
                "documento": doc,
                "nome": max(
                    (r["fornecedor_nome"] for r in rs if r["fornecedor_nome"]), default=None
                ),
                "contratos": len(rs),
                "valor_global": _dsum(r["valor_global"] for r in rs),
            }
            for doc, rs in by_doc.items()
        ),
        key=lambda f: (-f["valor_global"], f["documento"]),
    )[:10]
    return {
        "contratos": len(rows),
        "contratos_vigentes": len(vigentes),
        "valor_global_vigentes": _dsum(r["valor_global"] for r in vigentes),
        "total_empenhado": _dsum(r["total_empenhado"] for r in rows),
        "total_liquidado": _dsum(r["total_liquidado"] for r in rows),
        "total_pago": _dsum(r["total_pago"] for r in rows),
        **{k: _dsum(r[k] for r in rows) for k in ("faturas_pago", "faturas_a_pagar")},
        "faturas_glosa": _dsum(r["faturas_glosa"] for r in rows),
        **{
            f"vencendo_{n}_dias": sum(1 for r in vigentes if r["dias_para_fim"] <= n)
            for n in (30, 60, 90)
        },
        "maiores_fornecedores": fornecedores,
    }


def stored_view(engine) -> dict[int, dict]:
    return {r["contrato_id"]: r for r in rows_of(engine, "SELECT * FROM painel_contratos")}


def rows_of(engine, query: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]


# --- the view -------------------------------------------------------------------------------------


def test_view_has_one_row_per_stored_contract_with_exact_values(seeded, resources, engine):
    result = run_assets([painel_contratos], resources)
    expected = expected_view(engine, seeded.today)
    stored = stored_view(engine)
    assert stored == expected
    meta = asset_metadata(result, "painel_contratos")
    assert meta["dagster/row_count"] == len(expected) == meta["linhas"]
    assert meta["duracao_refresh_s"] >= 0
    ids = seeded.ids
    assert ids["removed"] not in stored
    assert stored[ids["expired_ativo"]]["em_vigor"] is False
    assert stored[ids["expired_ativo"]]["dias_para_fim"] == -1
    assert stored[ids["ends_today"]]["em_vigor"] is True
    assert stored[ids["starts_tomorrow"]]["em_vigor"] is False
    assert stored[ids["inativo_future"]]["em_vigor"] is False
    assert stored[ids["no_end"]]["em_vigor"] is False
    assert stored[ids["no_empenhos"]]["total_empenhado"] == Decimal(0)
    assert stored[ids["big"]]["valor_global"] == BIG
    assert stored[ids["big"]]["total_empenhado"] >= BIG
    assert stored[ids["negative"]]["valor_global"] == Decimal("-1234.56")


def test_statistics_equal_an_independent_computation(seeded, resources, engine):
    result = run_assets([painel_contratos, estatisticas_contratos], resources)
    view = expected_view(engine, seeded.today)
    snapshot = rows_of(engine, "SELECT * FROM estatisticas_contratos ORDER BY uasg NULLS FIRST")
    assert [r["uasg"] for r in snapshot] == [None, *sorted(UASGS)]
    assert len({r["calculado_em"] for r in snapshot}) == 1
    for row in snapshot:
        assert row["data_referencia"] == seeded.today
        expected = expected_statistics(view, row["uasg"])
        fornecedores = [
            {**f, "valor_global": Decimal(f["valor_global"])} for f in row["maiores_fornecedores"]
        ]
        assert fornecedores == expected.pop("maiores_fornecedores"), row["uasg"]
        assert {k: row[k] for k in expected} == expected, row["uasg"]
    geral = snapshot[0]
    # the edge cases really are in play (a vacuous comparison would prove nothing)
    assert geral["contratos_vigentes"] >= 8 and geral["vencendo_30_dias"] >= 3
    assert geral["valor_global_vigentes"] > BIG  # the 13-digit value is summed exactly
    acme = [view[seeded.ids[k]] for k in ("negative", "big", "no_empenhos", "other_uasg")]
    top = geral["maiores_fornecedores"][0]  # one supplier across both UASGs, a negative value
    assert (top["documento"], top["contratos"]) == (ACME, 4)
    assert Decimal(top["valor_global"]) == _dsum(r["valor_global"] for r in acme)
    meta = asset_metadata(result, "estatisticas_contratos")
    assert meta["contratos_vigentes"] == geral["contratos_vigentes"]
    assert meta["resumo"].startswith("| UASG |") and "**todas**" in meta["resumo"]
    assert portal.brl(geral["valor_global_vigentes"]) in meta["resumo"]

    run_assets([estatisticas_contratos], resources)  # a second snapshot: old ones stay
    times = rows_of(engine, "SELECT DISTINCT calculado_em FROM estatisticas_contratos")
    assert len(times) == 2


# --- concurrency ----------------------------------------------------------------------------------


def _refresh_in_thread(engine) -> tuple[threading.Thread, list]:
    outcome: list = []

    def refresh():
        try:
            outcome.append(portal.refresh_painel(engine, lock_timeout_s=30))
        except Exception as exc:  # reported to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=refresh, daemon=True)
    thread.start()
    return thread, outcome


def test_concurrent_refresh_completes_while_a_reader_holds_a_transaction(seeded, db_url):
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    portal.refresh_painel(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM contratos WHERE id = :i"), {"i": seeded.ids["big"]})
    reader = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        tx = reader.begin()
        before = reader.execute(sa.text("SELECT count(*) FROM painel_contratos")).scalar_one()
        thread, outcome = _refresh_in_thread(engine)
        thread.join(timeout=15)
        assert not thread.is_alive(), "the refresh waited for a reader"
        assert not isinstance(outcome[0], Exception), outcome[0]
        assert outcome[0].linhas == before - 1
        # the reader's snapshot is untouched until it ends its transaction
        assert reader.execute(sa.text("SELECT count(*) FROM painel_contratos")).scalar_one() == (
            before
        )
        tx.commit()
        assert reader.execute(sa.text("SELECT count(*) FROM painel_contratos")).scalar_one() == (
            before - 1
        )
    finally:
        reader.close()
        engine.dispose()


def test_refreshes_of_the_view_never_overlap(seeded, db_url):
    """The advisory lock: a second refresh waits for the first (here: a held lock)."""
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    holder = engine.connect()
    try:
        tx = holder.begin()
        holder.execute(
            sa.text(
                "SELECT pg_advisory_xact_lock(hashtext('portal'), hashtext('painel_contratos'))"
            )
        )
        thread, outcome = _refresh_in_thread(engine)
        thread.join(timeout=1.5)
        assert thread.is_alive() and not outcome, "a refresh ran while another held the lock"
        tx.commit()
        thread.join(timeout=15)
        assert not thread.is_alive() and outcome[0].linhas > 0
    finally:
        holder.close()
        engine.dispose()


# --- freshness, judged by Dagster -----------------------------------------------------------------


def _freshness(instance, keys) -> dict[str, FreshnessState]:
    """One iteration of Dagster's freshness daemon over the real code location, in process."""
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget([CODE_LOCATION])) as ctx:
        for _ in FreshnessDaemon().run_iteration(ctx):
            pass
    records = instance.get_freshness_state_records([dg.AssetKey(k) for k in keys])
    return {k: records[dg.AssetKey(k)].freshness_state for k in keys}


def test_freshness_passes_after_a_refresh_and_fails_past_the_window(resources):
    keys = ["painel_contratos", "estatisticas_contratos", "metricas_painel"]
    with dg.instance_for_test() as instance:
        assert set(_freshness(instance, keys).values()) == {FreshnessState.UNKNOWN}
        run_assets([painel_contratos, estatisticas_contratos, metricas_painel], resources, instance)
        done = time.time()
        assert set(_freshness(instance, keys).values()) == {FreshnessState.PASS}
        with freeze_time(done + 4 * 60):
            assert set(_freshness(instance, keys).values()) == {FreshnessState.PASS}
        with freeze_time(done + 6 * 60):  # past metricas_painel's 5-minute window only
            assert _freshness(instance, keys) == {
                "painel_contratos": FreshnessState.PASS,
                "estatisticas_contratos": FreshnessState.PASS,
                "metricas_painel": FreshnessState.FAIL,
            }
        with freeze_time(done + 21 * 60):  # warned after 20 minutes
            assert _freshness(instance, keys[:2]) == dict.fromkeys(keys[:2], FreshnessState.WARN)
        with freeze_time(done + 31 * 60):  # the legal 30 minutes are over: red
            assert _freshness(instance, keys[:2]) == dict.fromkeys(keys[:2], FreshnessState.FAIL)
            run_assets([painel_contratos, estatisticas_contratos], resources, instance)
        assert _freshness(instance, keys[:2]) == dict.fromkeys(keys[:2], FreshnessState.PASS)


# --- automation -----------------------------------------------------------------------------------


def test_automation_refreshes_on_ticks_and_after_a_sync_lands(sim, resources):
    graph = dg.Definitions(assets=[contratos, contratos_abas, *PORTAL_ASSETS], resources=resources)
    start = datetime(2026, 11, 26, 10, 1, tzinfo=TZ)
    with dg.instance_for_test() as instance:
        cursor = None

        def tick(minutes: float) -> set[str]:
            nonlocal cursor
            result = dg.evaluate_automation_conditions(
                defs=graph,
                instance=instance,
                asset_selection=dg.AssetSelection.groups("portal"),
                evaluation_time=start + timedelta(minutes=minutes),
                cursor=cursor,
            )
            cursor = result.cursor
            return {k for k in PORTAL if result.get_num_requested(dg.AssetKey(k))}

        assert tick(0) == set()  # 10:01, first evaluation: nothing is due yet
        assert tick(3.5) == {"metricas_painel"}  # 10:04:30, past the 10:04 tick
        assert tick(4.5) == set()  # 10:05:30, nothing synced: the view waits for 10:10
        assert tick(8) == {"metricas_painel"}  # 10:09
        assert tick(9.5) == {"painel_contratos", "estatisticas_contratos"}  # 10:10:30
        assert tick(10) == set()  # handled: not again on the next evaluation
        materialize_in(instance, [contratos], "787000", resources)  # a UASG sync lands
        assert tick(11.5) == {"metricas_painel"}  # 10:12:30: the view waits for 10:15
        assert tick(14.5) == {"painel_contratos", "estatisticas_contratos"}  # 10:15:30
        assert tick(14.75) == set()
        # next day 06:00:30: the report joins the view's refresh (it reads the view)
        assert tick(20 * 60 - 0.5) == set(PORTAL)
        assert tick(20 * 60) == set()


# --- metrics --------------------------------------------------------------------------------------


def test_metrics_match_the_warehouse_and_the_instance_without_reading_tab_tables(
    seeded, sim, resources, engine
):
    with dg.instance_for_test() as instance:
        synced = {}
        for uasg in (*UASGS, "787000"):  # 787000 twice: its latest sync counts
            materialize_in(instance, [contratos], uasg, resources)
            synced[uasg] = instance.get_latest_materialization_event(
                dg.AssetKey("contratos")
            ).timestamp
        sim.inject_fault("500", path=r"/api/contrato/ug/", times=-1)
        failed = materialize_in(
            instance, [contratos], "787010", resources, max_retries=0, raise_on_error=False
        )
        assert not failed.success
        for _ in range(2):  # two runs waiting in the queue
            instance.add_run(
                dg.DagsterRun(
                    job_name="verificar_saude",
                    status=dg.DagsterRunStatus.QUEUED,
                    remote_job_origin=RemoteJobOrigin(
                        RemoteRepositoryOrigin(CODE_LOCATION, "__repository__"), "verificar_saude"
                    ),
                )
            )
        with engine.begin() as conn:  # a UASG no longer configured; a removed contract
            conn.execute(sa.text("UPDATE contratos SET uasg = '999999' WHERE id = :i"),
                         {"i": seeded.ids["ends_in_91"]})  # fmt: skip
            conn.execute(sa.text("UPDATE contratos SET removido_em = now() WHERE id = :i"),
                         {"i": seeded.ids["expired_ativo"]})  # fmt: skip
        result = run_assets([metricas_painel], resources, instance)
    snapshot = rows_of(engine, "SELECT * FROM metricas_painel ORDER BY uasg NULLS FIRST")
    configured = ["770001", "787000", "787010", "787400", "787700"]
    assert [r["uasg"] for r in snapshot] == [None, *sorted({*configured, "999999"})]
    c = _read(engine, "SELECT * FROM contratos")
    assert c["removido_em"].notna().sum() == 1  # the comparison below excludes it
    c = c[c["removido_em"].isna()]
    by_uasg = {r["uasg"]: r for r in snapshot[1:]}
    for uasg, row in by_uasg.items():
        mine = c[c["uasg"] == uasg]
        assert row["contratos"] == len(mine), uasg
        for aba in TABS:
            col = f"{aba}_atualizado_em"
            newest = mine[col].max() if len(mine) else None
            assert row[col] == (None if _missing(newest) else newest.to_pydatetime()), (uasg, aba)
        when = row["ultima_sincronizacao_em"]
        assert (when.timestamp() if when else None) == pytest.approx(synced.get(uasg), abs=1e-3), (
            uasg
        )
    geral = snapshot[0]
    assert geral["contratos"] == len(c)
    assert geral["uasgs_nunca_sincronizadas"] == 4  # three configured, never synced, + 999999
    assert geral["ultima_sincronizacao_em"] is None  # some UASG never synced: the worst lag
    assert (geral["runs_com_falha_24h"], geral["runs_na_fila"]) == (1, 2)
    assert geral["runs_em_execucao"] == 1  # the metrics run itself
    assert all(r["runs_na_fila"] is None for r in snapshot[1:])
    meta = asset_metadata(result, "metricas_painel")
    assert (meta["runs_com_falha_24h"], meta["runs_na_fila"], meta["uasgs"]) == (1, 2, 6)
    assert "nunca" in meta["uasgs_mais_atrasadas"]

    # the tab tables are never read: not a row of them, by scan or index
    with engine.begin() as conn:
        portal_sql.contracts_per_uasg(conn)
        touched = conn.execute(
            sa.text(
                "SELECT relname, seq_scan + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname LIKE 'contratos\\_%' AND relname <> 'contratos_a_vencer'"
            )
        ).all()
    assert {name for name, n in touched if n} == set()


def materialize_in(instance, assets, uasg, resources, max_retries=None, raise_on_error=True):
    if max_retries is not None:
        comprasnet = resources["comprasnet"].model_copy(update={"max_retries": max_retries})
        resources = {**resources, "comprasnet": comprasnet}
    return dg.materialize(
        assets,
        partition_key=uasg,
        resources=resources,
        instance=instance,
        run_config={"ops": ALL},
        raise_on_error=raise_on_error,
    )


# --- expiring-contracts report --------------------------------------------------------------------


def test_expiring_report_table_and_csv(seeded, resources, engine, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    monkeypatch.setenv("LICITACAO_EXPORT_DIR", str(exports))
    exports.mkdir()
    name = f"contratos_a_vencer_{seeded.today:%Y%m%d}.csv"
    (exports / name).write_text("old report\n")  # replaced whole, never appended to
    result = run_assets([painel_contratos, contratos_a_vencer], resources)
    view = expected_view(engine, seeded.today)
    expected = sorted(
        (r for r in view.values() if r["em_vigor"] and r["dias_para_fim"] <= 90),
        key=lambda r: (r["uasg"], r["vigencia_fim"], r["numero"], r["contrato_id"]),
    )
    table = rows_of(
        engine, "SELECT * FROM contratos_a_vencer ORDER BY uasg, vigencia_fim, numero, contrato_id"
    )
    assert [r["contrato_id"] for r in table] == [r["contrato_id"] for r in expected]
    bands = {r["contrato_id"]: r["faixa_dias"] for r in table}
    ids = seeded.ids
    assert bands[ids["ends_today"]] == 30 and bands[ids["ends_in_30"]] == 30
    assert bands[ids["ends_in_31"]] == 60 and bands[ids["negative"]] == 60
    assert bands[ids["big"]] == 90
    assert ids["ends_in_91"] not in bands and ids["expired_ativo"] not in bands
    assert ids["removed"] not in bands and ids["inativo_future"] not in bands

    assert sorted(p.name for p in exports.iterdir()) == [name]  # no temporary file left
    raw = (exports / name).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][:3] == ["UASG", "Unidade", "Número"]
    assert len(lines) == len(expected) + 1
    cells = {row["contrato_id"]: line for line, row in zip(lines[1:], expected, strict=True)}
    big, neg, evil = cells[ids["big"]], cells[ids["negative"]], cells[ids["no_empenhos"]]
    assert big[6] == "9.999.999.999.999,99" and neg[6] == "-1.234,56"
    assert big[4] == '\'=HYPERLINK("http://evil")'  # a formula is shown, never run
    assert evil[2] == "'-2+3" and evil[5] == "'@SUM(1+1)\tfim"
    assert big[7] == f"{seeded.today + timedelta(days=90):%d/%m/%Y}" and big[8:] == ["90", "90"]
    for line, row in zip(lines[1:], expected, strict=True):
        assert line[0] == row["uasg"]
        assert line[6] == portal.brl(row["valor_global"])
    meta = asset_metadata(result, "contratos_a_vencer")
    assert meta["arquivo"] == str(exports / name)
    assert meta["dagster/row_count"] == len(expected)
    assert meta["previa"].count("\n") == min(len(expected), 10) + 1
    assert "9.999.999.999.999,99" in meta["previa"]


def test_the_report_is_replaced_atomically(tmp_path):
    path = portal.report_path(tmp_path, date(2026, 1, 5))
    path.write_text("yesterday's report\n")

    def crash(handle):
        handle.write("UASG;Unidade\n787010;half a ro")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        portal.write_atomic(path, crash)
    assert path.read_text() == "yesterday's report\n"  # readers never see a partial file
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the temporary file is gone
    portal.write_atomic(path, lambda handle: handle.write("new\n"))
    assert path.read_bytes() == b"\xef\xbb\xbfnew\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_money_is_formatted_exactly_and_the_report_stays_in_its_directory(tmp_path):
    assert portal.brl(Decimal("1234.56")) == "1.234,56"
    assert portal.brl(Decimal("-0.05")) == "-0,05"
    assert portal.brl(Decimal("1000000")) == "1.000.000,00"
    assert portal.brl(BIG) == "9.999.999.999.999,99"
    assert portal.brl(Decimal("12345678901234567.89")) == "12.345.678.901.234.567,89"
    assert portal.report_path(tmp_path, date(2026, 1, 5)) == tmp_path / (
        "contratos_a_vencer_20260105.csv"
    )
    assert [portal.safe_text(t) for t in ("=1", "+1", "-1", "@x", "\tx", "\rx", "ok", None)] == [
        "'=1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "ok", "",
    ]  # fmt: skip


# --- health checks --------------------------------------------------------------------------------


def _health(instance, comprasnet_url, warehouse_url):
    return verificar_saude.execute_in_process(
        instance=instance,
        resources={
            "comprasnet": ComprasNetResource(base_url=comprasnet_url),
            "warehouse": WarehouseResource(database_url=warehouse_url),
        },
        raise_on_error=False,
    )


def _alert(instance, result, db_url, engine):
    context = dg.build_run_status_sensor_context(
        sensor_name="alerta_falhas",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"warehouse": WarehouseResource(database_url=db_url)},
    ).for_run_failure()
    alerta_falhas(context)
    return rows(engine, "alertas")


def _step_metadata(result, step):
    [out] = [
        e
        for e in result.all_events
        if e.step_key == step and e.event_type_value in ("STEP_OUTPUT", "STEP_FAILURE")
    ]
    data = out.event_specific_data
    metadata = (
        data.metadata if out.event_type_value == "STEP_OUTPUT" else data.user_failure_data.metadata
    )
    return {k: v.value for k, v in metadata.items()}


def test_health_check_passes_then_fails_clearly_when_the_api_is_down(sim, db_url, engine):
    url = sim.base_url
    with dg.instance_for_test() as instance:
        ok = _health(instance, url, db_url)
        assert ok.success
        meta = _step_metadata(ok, "comprasnet_acessivel")
        assert meta["acessivel"] is True and 0 <= meta["duracao_s"] < 5
        assert sim.requests.get("/api/contrato/0/empenhos") == 1  # one cheap request, timed
        assert _step_metadata(ok, "warehouse_acessivel")["acessivel"] is True
        sim.stop()
        down = _health(instance, url, db_url)
        assert not down.success
        failures = [e for e in down.all_events if e.event_type_value == "STEP_FAILURE"]
        assert [e.step_key for e in failures] == ["comprasnet_acessivel"]
        message = failures[0].event_specific_data.error.message
        assert "o ComprasNet está inacessível" in message and url in message
        [alert] = _alert(instance, down, db_url, engine)
    assert alert["job_name"] == "verificar_saude"
    assert alert["failed_steps"] == ["comprasnet_acessivel"]
    assert "o ComprasNet está inacessível" in alert["message"]


def test_health_check_fails_clearly_when_the_warehouse_is_down(sim, db_url, engine):
    closed = "postgresql+psycopg2://postgres@127.0.0.1:9/none"
    with dg.instance_for_test() as instance:
        started = time.monotonic()
        down = _health(instance, sim.base_url, closed)
        assert time.monotonic() - started < 30
        assert not down.success
        failures = [e for e in down.all_events if e.event_type_value == "STEP_FAILURE"]
        assert [e.step_key for e in failures] == ["warehouse_acessivel"]
        message = failures[0].event_specific_data.error.message
        assert "warehouse" in message and "inacessível" in message and "127.0.0.1:9" in message
        [alert] = _alert(instance, down, db_url, engine)
    assert alert["failed_steps"] == ["warehouse_acessivel"]
    assert "inacessível" in alert["message"] and "OperationalError" in alert["message"]


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never answers (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def _within(seconds, fn, *args):
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(fn(*args)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"no answer within {seconds}s"
    return outcome[0]


def test_health_checks_give_up_on_a_server_that_never_answers(silent_port):
    api = _within(15, saude.check_comprasnet, f"http://127.0.0.1:{silent_port}", "/x", 1.0)
    assert not api.ok and "prazo total de 1 s" in api.detalhe and api.duracao_s < 5
    url = sa.make_url(f"postgresql+psycopg2://postgres@127.0.0.1:{silent_port}/none")
    db = _within(15, saude.check_warehouse, url, 2.0)
    assert not db.ok and "timeout" in db.detalhe and db.duracao_s < 10


def test_health_check_fails_on_server_errors_and_html(sim, db_url):
    with dg.instance_for_test() as instance:
        sim.inject_fault("503", path=r"/api/contrato/0/", times=1)
        assert not _health(instance, sim.base_url, db_url).success
        sim.inject_fault("html200", path=r"/api/contrato/0/", times=1)
        assert not _health(instance, sim.base_url, db_url).success
        assert _health(instance, sim.base_url, db_url).success


# --- asset graph and cleanup ----------------------------------------------------------------------


def test_portal_assets_are_in_the_graph_downstream_of_contratos_and_tabs():
    from licitacao_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = {"contratos", *(f"contratos_{t}" for t in TABS)}
    portal_keys = ["painel_contratos", "estatisticas_contratos", "metricas_painel"]
    portal_keys += ["contratos_a_vencer", "garantias_a_vencer"]
    for name in portal_keys:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "portal" and len(node.description or "") > 80, name
        assert node.automation_condition is not None, name
        assert node.freshness_policy is not None, name
        ancestors = {k.path[0] for k in graph.get_ancestor_asset_keys(node.key)}
        assert upstream <= ancestors, name
        assert not node.is_partitioned, name
    for name in ("painel_contratos", "metricas_painel"):
        assert {k.path[0] for k in graph.get(dg.AssetKey(name)).parent_keys} == upstream
    windows = {
        name: graph.get(dg.AssetKey(name)).freshness_policy.fail_window.to_timedelta()
        for name in portal_keys[:3]
    }
    assert windows == {
        "painel_contratos": timedelta(minutes=30),
        "estatisticas_contratos": timedelta(minutes=30),
        "metricas_painel": timedelta(minutes=5),
    }
    assert defs.resolve_job_def("verificar_saude") is not None
    assert defs.resolve_schedule_def("verificacao_saude").cron_schedule == "*/10 * * * *"
    assert defs.resolve_sensor_def("atualizacao_portal") is not None


def test_cleanup_prunes_old_snapshots_and_thins_older_days(db_url, engine):
    now = datetime.now(UTC)
    ages_h = [0.1, 1, 60, 61, 62, 24 * 10 + 1, 24 * 10 + 2, 24 * 40]
    with engine.begin() as conn:
        for table in ("estatisticas_contratos", "metricas_painel"):
            for uasg in (None, "787010"):
                for h in ages_h:
                    conn.execute(sa.text(_snapshot_insert(table)),
                                 {"t": now - timedelta(hours=h), "u": uasg})  # fmt: skip
    with dg.instance_for_test() as instance:
        result = limpeza.execute_in_process(
            instance=instance,
            resources={"warehouse": WarehouseResource(database_url=db_url)},
            run_config={"ops": {"limpar_registros_antigos": {"config": {"retencao_dias": 30}}}},
        )
    meta = {
        k: v.value
        for e in result.all_events
        if e.event_type_value == "STEP_OUTPUT"
        for k, v in e.event_specific_data.metadata.items()
    }
    # the last two days whole; older ones, the newest of each São Paulo day; past 30 days, none
    newest_of_day: dict[date, float] = {}
    for h in sorted(a for a in ages_h if 48 < a < 30 * 24):
        newest_of_day.setdefault((now - timedelta(hours=h)).astimezone(TZ).date(), h)
    expected = {h for h in ages_h if h < 48} | set(newest_of_day.values())
    assert len(expected) < len(ages_h) - 1  # something is thinned and something purged
    for table, key in (
        ("estatisticas_contratos", "estatisticas_removidas"),
        ("metricas_painel", "metricas_removidas"),
    ):
        kept = rows_of(engine, f"SELECT uasg, calculado_em FROM {table}")
        for uasg in (None, "787010"):
            ages = {round((now - r["calculado_em"]).total_seconds() / 3600, 1) for r in kept
                    if r["uasg"] == uasg}  # fmt: skip
            assert ages == expected, (table, uasg)
        assert meta[key] == 2 * len(ages_h) - len(kept)


def _snapshot_insert(table: str) -> str:
    if table == "estatisticas_contratos":
        return (
            "INSERT INTO estatisticas_contratos (calculado_em, data_referencia, uasg, contratos, "
            "contratos_vigentes, valor_global_vigentes, total_empenhado, total_liquidado, "
            "total_pago, vencendo_30_dias, vencendo_60_dias, vencendo_90_dias) "
            "VALUES (:t, CAST(:t AS date), :u, 0, 0, 0, 0, 0, 0, 0, 0, 0)"
        )
    return "INSERT INTO metricas_painel (calculado_em, uasg, contratos) VALUES (:t, :u, 0)"
