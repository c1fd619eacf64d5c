"""Red flags (sinais de alerta) on a real PostgreSQL: each rule at, just below and just above its
threshold, with its evidence stored exactly; a flag seen again, resolved when its cause goes,
reopened when it comes back; one alert per UASG and refresh, never repeated."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from licitacao_pipeline.flows import sinais
from licitacao_pipeline.warehouse.tables import ABA_TABLES, contratos

HOJE = date(2026, 12, 2)
UASG = "787010"
VIGENCIA = [{"codigo": 2, "descricao": "VIGÊNCIA"}]
ACRESCIMO = [{"codigo": 1, "descricao": "ACRÉSCIMO / SUPRESSÃO"}, *VIGENCIA]
REAJUSTE = [{"codigo": 3, "descricao": "REAJUSTE"}]


def contrato(conn, cid, **values):
    """A stored contract in force, signed under Lei 14.133, 1.000,00, no flag of its own."""
    row = {
        "id": cid,
        "uasg": UASG,
        "numero": f"{cid % 100000:05d}/2025",
        "payload": {},
        "payload_hash": f"h{cid}",
        "situacao": "Ativo",
        "receita_despesa": "Despesa",
        "prorrogavel": "Não",
        "objeto": "Serviços de limpeza",
        "amparo_legal": "Lei 14.133/2021, Art. 28, I",
        "data_assinatura": date(2025, 1, 10),
        "vigencia_inicio": date(2025, 1, 10),
        "vigencia_fim": date(2027, 1, 9),
        "valor_inicial": Decimal("1000.00"),
        "valor_global": Decimal("1000.00"),
        "fornecedor_nome": "EMPRESA LTDA",
        **values,
    }
    conn.execute(sa.insert(contratos).values(row))
    return cid


def termo(conn, cid, tid, *, valor, novo=None, tipo="Termo Aditivo", quals=None, dia, fim=None):
    """A historico record: the original contract (tipo Contrato) or a term after it."""
    codigo = {"Contrato": "50", "Termo Aditivo": "55"}.get(tipo, "56")
    conn.execute(
        sa.insert(ABA_TABLES["historico"]).values(
            contrato_id=cid,
            id=tid,
            tipo=tipo,
            codigo_tipo=codigo,
            data_assinatura=dia,
            valor_global=Decimal(valor),
            novo_valor_global=Decimal(novo or "0"),
            qualificacao_termo=quals,
            vigencia_fim=fim,
            payload={},
            payload_hash=f"t{tid}",
        )  # fmt: skip
    )


def empenho(conn, cid, eid, pago):
    conn.execute(
        sa.insert(ABA_TABLES["empenhos"]).values(
            contrato_id=cid,
            id=eid,
            numero=f"2026NE{eid:06d}",
            pago=Decimal(pago),
            payload={},
            payload_hash=f"e{eid}",
        )  # fmt: skip
    )


def fatura(conn, cid, fid, valor, *, situacao="Pago", vencimento=date(2026, 1, 10)):
    conn.execute(
        sa.insert(ABA_TABLES["faturas"]).values(
            contrato_id=cid,
            id=fid,
            numero=f"NF{fid}",
            valorliquido=Decimal(valor),
            valor=Decimal(valor),
            glosa=Decimal(0),
            situacao=situacao,
            vencimento=vencimento,
            payload={},
            payload_hash=f"f{fid}",
        )  # fmt: skip
    )


def garantia(conn, cid, gid, vencimento, valor="50.00"):
    conn.execute(
        sa.insert(ABA_TABLES["garantias"]).values(
            contrato_id=cid,
            id=gid,
            tipo="Seguro-garantia",
            valor=Decimal(valor),
            vencimento=vencimento,
            payload={},
            payload_hash=f"g{gid}",
        )  # fmt: skip
    )


def flags(engine, regra):
    """{contrato_id: row} of the open flags of ``regra``."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM sinais_alerta WHERE regra = :r AND resolvido_em IS NULL"),
            {"r": regra},
        ).mappings()
        return {r["contrato_id"]: dict(r) for r in rows}


def with_aditivos(conn, cid, *terms, base="1000.00"):
    """The original contract, then each (value after, qualificação) as a termo aditivo, in
    order; the API's way: the term's novo_valor_global, its valor_global the value before."""
    termo(conn, cid, cid * 10, valor=base, tipo="Contrato", dia=date(2025, 1, 10))
    before = base
    for k, (after, quals) in enumerate(terms, 1):
        termo(conn, cid, cid * 10 + k, valor=before, novo=after, quals=quals,
              dia=date(2025, 1, 10) + timedelta(days=30 * k))  # fmt: skip
        before = after


def test_acrescimos_above_25_percent_of_the_initial_value_are_flagged_with_exact_evidence(
    engine,
):
    with engine.begin() as conn:
        with_aditivos(conn, contrato(conn, 1), ("1250.00", ACRESCIMO))  # at: 25 %, allowed
        with_aditivos(conn, contrato(conn, 2), ("1249.99", ACRESCIMO))  # just below
        with_aditivos(
            conn, contrato(conn, 3), ("1100.00", ACRESCIMO), ("1250.01", ACRESCIMO)
        )  # above
        # a reajuste and an apostilamento are not acréscimos, whatever their value
        with_aditivos(conn, contrato(conn, 4), ("1100.00", ACRESCIMO), ("2000.00", REAJUSTE))
        termo(conn, 4, 49, valor="2000.00", novo="3000.00", tipo="Termo de Apostilamento",
              quals=REAJUSTE, dia=date(2026, 3, 1))  # fmt: skip
        # a building's reform: 50 %
        with_aditivos(
            conn, contrato(conn, 5, objeto="Reforma do edifício sede"), ("1500.00", ACRESCIMO)
        )
        with_aditivos(
            conn, contrato(conn, 6, objeto="REFORMA de equipamento"), ("1500.01", ACRESCIMO)
        )
        # the API's "0,00" novo_valor_global: the value comes from the term's valor_global
        contrato(conn, 7)
        termo(conn, 7, 70, valor="1000.00", tipo="Contrato", dia=date(2025, 1, 10))
        termo(conn, 7, 71, valor="1300.00", novo="0.00", quals=ACRESCIMO, dia=date(2025, 6, 1))
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "acrescimo_acima_do_limite")
    assert sorted(found) == [3, 6, 7]
    three = found[3]
    assert three["valor_referencia"] == Decimal("1000.00")
    assert three["valor_apurado"] == Decimal("250.01")
    assert three["percentual"] == Decimal("25.0010") and three["limite"] == 25
    assert [r["id"] for r in three["registros"]] == [31, 32]
    assert [r["valor_alterado"] for r in three["registros"]] == ["100.00", "150.01"]
    assert three["base_legal"] == "Lei 14.133/2021, art. 125" and three["severidade"] == "alta"
    assert "25,00% do valor inicial (R$ 250,01 sobre R$ 1.000,00; limite 25%)" in three["detalhe"]
    assert found[6]["limite"] == 50 and found[7]["valor_apurado"] == Decimal("300.00")


def test_a_supressao_brings_the_total_back_under_the_limit_and_the_flag_is_resolved(engine):
    with engine.begin() as conn:
        with_aditivos(
            conn, contrato(conn, 1, amparo_legal="Lei 8.666/1993"), ("1300.00", ACRESCIMO)
        )
    first = sinais.atualizar(engine, HOJE, run_id="r1")
    assert [f["contrato_id"] for f in first.abertos] == [1]
    assert flags(engine, "acrescimo_acima_do_limite")[1]["base_legal"] == (
        "Lei 8.666/1993, art. 65, §1º"
    )
    with engine.begin() as conn:  # a supressão: 1.300,00 -> 1.200,00 (20 %)
        termo(conn, 1, 19, valor="1300.00", novo="1200.00", quals=ACRESCIMO,
              dia=date(2026, 6, 1))  # fmt: skip
    second = sinais.atualizar(engine, HOJE, run_id="r2")
    assert not flags(engine, "acrescimo_acima_do_limite")
    assert second.resolvidos[("acrescimo_acima_do_limite", UASG)] == 1 and not second.abertos
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT resolvido_em FROM sinais_alerta")).scalars().all()
    assert len(kept) == 1 and kept[0] is not None  # resolved, never deleted


def test_an_unclassified_aditivo_is_shown_not_counted(engine):
    with engine.begin() as conn:
        with_aditivos(conn, contrato(conn, 1), ("1100.00", ACRESCIMO), ("1400.00", None))  # no qual
        with_aditivos(
            conn, contrato(conn, 2), ("1400.00", [*ACRESCIMO, *REAJUSTE])
        )  # both: ambiguous
        with_aditivos(conn, contrato(conn, 3), ("1100.00", None))  # under the limit even if counted
    sinais.atualizar(engine, HOJE)
    assert not flags(engine, "acrescimo_acima_do_limite")
    shown = flags(engine, "acrescimo_nao_classificado")
    assert sorted(shown) == [1, 2]
    assert shown[1]["valor_apurado"] == Decimal("400.00")  # 100 counted + 300 not classified
    assert [(r["id"], r["classe"]) for r in shown[1]["registros"]] == [
        (11, "acrescimo"),
        (12, "sem_qualificacao"),
    ]
    assert shown[2]["registros"][0]["classe"] == "qualificacao_mista"
    assert shown[1]["severidade"] == "baixa"


def test_vigencia_beyond_ten_years_or_six_under_the_old_law(engine):
    start = date(2020, 3, 1)
    with engine.begin() as conn:
        contrato(conn, 1, vigencia_inicio=start, vigencia_fim=date(2030, 2, 28))  # at: 10 years
        contrato(conn, 2, vigencia_inicio=start, vigencia_fim=date(2030, 2, 27))  # below
        contrato(conn, 3, vigencia_inicio=start, vigencia_fim=date(2030, 3, 1))  # above by a day
        # 8.666 by the signature date: 72 months and a day
        contrato(conn, 4, amparo_legal=None, data_assinatura=date(2019, 5, 2),
                 vigencia_inicio=start, vigencia_fim=date(2026, 3, 1))  # fmt: skip
        contrato(conn, 5, amparo_legal="Lei 8.666/1993", vigencia_inicio=start,
                 vigencia_fim=date(2026, 2, 28))  # 8.666: exactly 72 months  # fmt: skip
        contrato(conn, 6, receita_despesa="Receita", vigencia_inicio=start,
                 vigencia_fim=date(2040, 1, 1))  # a receita contract: not this rule  # fmt: skip
        termo(conn, 3, 31, valor="1000.00", quals=VIGENCIA, dia=date(2025, 1, 1),
              fim=date(2030, 3, 1))  # fmt: skip
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "vigencia_acima_do_maximo")
    assert sorted(found) == [3, 4]
    assert (found[3]["data_limite"], found[3]["dias"], found[3]["limite"]) == (
        date(2030, 2, 28),
        1,
        120,
    )
    assert found[3]["registros"] == [
        {"origem": "historico", "id": 31, "vigencia_fim": "2030-03-01"}
    ]
    assert found[4]["limite"] == 72 and found[4]["data_limite"] == date(2026, 2, 28)
    assert found[4]["base_legal"] == "Lei 8.666/1993, art. 57, II e §4º"


def test_still_ativo_more_than_30_days_after_its_end(engine):
    with engine.begin() as conn:
        contrato(conn, 1, vigencia_fim=HOJE - timedelta(days=30))  # at: not yet
        contrato(conn, 2, vigencia_fim=HOJE - timedelta(days=31))  # above
        contrato(conn, 3, vigencia_fim=HOJE - timedelta(days=400), situacao="Inativo")
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "ativo_apos_o_fim")
    assert sorted(found) == [2]
    assert (found[2]["dias"], found[2]["data_referencia"]) == (31, HOJE - timedelta(days=31))


def test_paid_above_the_contracts_value(engine):
    with engine.begin() as conn:
        for cid, paid in ((1, ["600.00", "400.00"]), (2, ["999.99"]), (3, ["600.00", "400.01"])):
            contrato(conn, cid)
            for k, value in enumerate(paid):
                empenho(conn, cid, cid * 10 + k, value)
        contrato(conn, 4, valor_global=Decimal("0"))  # no value to compare with
        empenho(conn, 4, 40, "10.00")
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "pago_acima_do_valor")
    assert sorted(found) == [3]
    assert found[3]["valor_apurado"] == Decimal("1000.01")
    assert found[3]["valor_referencia"] == Decimal("1000.00")
    assert [r["id"] for r in found[3]["registros"]] == [30, 31]


def test_paid_above_the_value_according_to_the_faturas_too(engine):
    with engine.begin() as conn:
        contrato(conn, 1)  # faturas pagas exactly the value: not above
        fatura(conn, 1, 10, "1000.00")
        contrato(conn, 2)  # above by the faturas, the empenhos say less
        fatura(conn, 2, 20, "700.00")
        fatura(conn, 2, 21, "300.01")
        fatura(conn, 2, 22, "5000.00", situacao="Pendente")  # not paid: not counted
        empenho(conn, 2, 23, "900.00")
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "pago_acima_do_valor")
    assert sorted(found) == [2]
    assert found[2]["valor_apurado"] == Decimal("1000.01")
    assert [(r["origem"], r["id"]) for r in found[2]["registros"]] == [
        ("empenhos", 23), ("faturas", 20), ("faturas", 21)]  # fmt: skip
    assert found[2]["detalhe"].startswith(
        "pago segundo os empenhos: R$ 900,00; segundo as faturas: R$ 1.000,01, acima do valor"
    )


def test_a_contract_in_force_whose_guarantees_all_expired(engine):
    with engine.begin() as conn:
        contrato(conn, 1)
        garantia(conn, 1, 10, HOJE)  # at: valid today
        contrato(conn, 2)
        garantia(conn, 2, 20, HOJE - timedelta(days=1))  # just expired
        garantia(conn, 2, 21, HOJE - timedelta(days=400), valor="25.50")
        contrato(conn, 3)  # one expired, one still valid
        garantia(conn, 3, 30, HOJE - timedelta(days=5))
        garantia(conn, 3, 31, HOJE + timedelta(days=90))
        contrato(conn, 4, vigencia_fim=HOJE - timedelta(days=2))  # not in force any more
        garantia(conn, 4, 40, HOJE - timedelta(days=1))
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "garantia_vencida")
    assert sorted(found) == [2]
    assert (found[2]["data_limite"], found[2]["dias"]) == (HOJE - timedelta(days=1), 1)
    assert found[2]["valor_apurado"] == Decimal("75.50")
    assert [r["id"] for r in found[2]["registros"]] == [21, 20]
    with engine.begin() as conn:  # a new guarantee is delivered: resolved
        garantia(conn, 2, 22, HOJE + timedelta(days=365))
    assert sinais.atualizar(engine, HOJE).resolvidos == {("garantia_vencida", UASG): 1}


def test_faturas_unpaid_more_than_30_days_after_their_due_date(engine):
    with engine.begin() as conn:
        contrato(conn, 1)
        fatura(conn, 1, 10, "100.00", situacao="Pendente", vencimento=HOJE - timedelta(days=30))
        contrato(conn, 2)
        fatura(conn, 2, 20, "100.00", situacao="Pendente", vencimento=HOJE - timedelta(days=31))
        fatura(conn, 2, 21, "50.25", situacao=None, vencimento=HOJE - timedelta(days=90))
        fatura(conn, 2, 22, "999.00", situacao="Pago", vencimento=HOJE - timedelta(days=90))
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "faturas_vencidas_nao_pagas")
    assert sorted(found) == [2]
    assert found[2]["valor_apurado"] == Decimal("150.25") and found[2]["dias"] == 90
    assert [r["id"] for r in found[2]["registros"]] == [21, 20]


def test_rules_over_a_tab_the_deployment_does_not_sync_are_skipped(engine):
    regras = sinais.regras_para(("historico", "empenhos"))
    assert "garantia_vencida" not in regras and "faturas_vencidas_nao_pagas" not in regras
    assert "pago_acima_do_valor" in regras
    with engine.begin() as conn:
        contrato(conn, 1)
        garantia(conn, 1, 10, HOJE - timedelta(days=3))
    sinais.atualizar(engine, HOJE)
    assert sorted(flags(engine, "garantia_vencida")) == [1]
    skipped = sinais.atualizar(engine, HOJE, regras=regras)  # not resolved, just not looked at
    assert "garantia_vencida" not in skipped.abertos_por_regra
    assert sorted(flags(engine, "garantia_vencida")) == [1]


def test_ending_within_30_days_without_a_prorrogacao_is_a_low_warning(engine):
    with engine.begin() as conn:
        contrato(conn, 1, prorrogavel="Sim", vigencia_fim=HOJE + timedelta(days=30))  # at
        contrato(conn, 2, prorrogavel="Sim", vigencia_fim=HOJE + timedelta(days=31))  # beyond
        contrato(conn, 3, prorrogavel="Não", vigencia_fim=HOJE + timedelta(days=10))
        contrato(conn, 4, prorrogavel="Sim", vigencia_fim=HOJE + timedelta(days=10))
        termo(conn, 4, 41, valor="1000.00", quals=VIGENCIA, dia=HOJE,
              fim=HOJE + timedelta(days=375))  # signed, not yet on the contract  # fmt: skip
    sinais.atualizar(engine, HOJE)
    found = flags(engine, "fim_sem_prorrogacao")
    assert sorted(found) == [1] and found[1]["severidade"] == "baixa"
    assert found[1]["dias"] == 30


def test_one_alert_per_uasg_never_repeated_and_a_flag_that_comes_back_opens_anew(engine):
    with engine.begin() as conn:
        contrato(conn, 1, vigencia_fim=HOJE - timedelta(days=40))
        contrato(conn, 2, vigencia_fim=HOJE - timedelta(days=50))
        contrato(conn, 3, uasg="787000", vigencia_fim=HOJE - timedelta(days=60))
    first = sinais.atualizar(engine, HOJE, run_id="r1")
    assert first.alertas == 2 and len(first.abertos) == 3
    assert first.crescimento("ativo_apos_o_fim") == {UASG: 2, "787000": 1}
    again = sinais.atualizar(engine, HOJE, run_id="r2")  # nothing changed
    assert (again.abertos, again.resolvidos, again.alertas) == ([], {}, 0)
    assert again.crescimento("ativo_apos_o_fim") == {}
    with engine.connect() as conn:
        rows = (
            conn.execute(sa.text("SELECT uasg, tipo, detalhes FROM alertas ORDER BY uasg"))
            .mappings()
            .all()
        )
    assert [(r["uasg"], r["tipo"]) for r in rows] == [("787000", "sinais"), (UASG, "sinais")]
    assert {d["contrato_id"] for d in rows[1]["detalhes"]} == {1, 2}
    # the cause goes (a prorrogação moved the end), then comes back: a new flag, a new alert
    with engine.begin() as conn:
        conn.execute(sa.update(contratos).where(contratos.c.id == 1).values(
            vigencia_fim=HOJE + timedelta(days=200)))  # fmt: skip
    assert sinais.atualizar(engine, HOJE, run_id="r3").resolvidos == {("ativo_apos_o_fim", UASG): 1}
    with engine.begin() as conn:
        conn.execute(sa.update(contratos).where(contratos.c.id == 1).values(
            vigencia_fim=HOJE - timedelta(days=45)))  # fmt: skip
    back = sinais.atualizar(engine, HOJE, run_id="r4")
    assert [f["contrato_id"] for f in back.abertos] == [1] and back.alertas == 1
    with engine.connect() as conn:
        history = conn.execute(
            sa.text("SELECT count(*), count(resolvido_em) FROM sinais_alerta WHERE contrato_id = 1")
        ).one()
    assert tuple(history) == (2, 1)


@pytest.mark.parametrize("regra", sinais.REGRAS)
def test_every_rule_runs_alone(engine, regra):
    result = sinais.atualizar(engine, HOJE, regras=[regra])
    assert result.abertos_por_regra == {regra: 0}


def test_the_asset_warns_when_a_uasgs_flags_of_a_rule_grow_suddenly(engine, db_url):
    import dagster as dg

    from licitacao_pipeline.defs.resources import WarehouseResource
    from licitacao_pipeline.defs.sinais import sinais_de_alerta

    with engine.begin() as conn:
        for cid in range(1, 4):  # three contracts still Ativo long after their end
            contrato(conn, cid, vigencia_fim=date(2020, 1, 1))
    result = dg.materialize(
        [sinais_de_alerta],
        resources={"warehouse": WarehouseResource(database_url=db_url)},
        run_config={"ops": {"sinais_de_alerta": {"config": {"max_novos_por_uasg": 2}}}},
    )
    [mat] = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in mat.materialization.metadata.items()}
    assert meta["abertos_nesta_atualizacao"] == 3 and meta["alertas"] == 1
    assert meta["abertos_por_regra"]["ativo_apos_o_fim"] == 3
    assert "ativo_apos_o_fim" in meta["mais_graves"]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["crescimento_ativo_apos_o_fim"].passed  # 3 > 2, a warning
    assert checks["crescimento_ativo_apos_o_fim"].severity == dg.AssetCheckSeverity.WARN
    assert checks["crescimento_pago_acima_do_valor"].passed


def test_licitacao_sinais_prints_the_open_flags_most_serious_first(
    engine, db_url, monkeypatch, capsys
):
    from licitacao_pipeline import cli

    with engine.begin() as conn:
        contrato(conn, 1, vigencia_fim=HOJE - timedelta(days=40))  # media
        contrato(conn, 2)
        empenho(conn, 2, 20, "1500.00")  # alta
        contrato(conn, 3, uasg="787000", vigencia_fim=HOJE - timedelta(days=90))
    sinais.atualizar(engine, HOJE)
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert cli.main(["sinais", "--uasg", UASG]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["alta", "pago_acima_do_valor"],
        ["media", "ativo_apos_o_fim"],
    ]
    assert "pago segundo os empenhos: R$ 1.500,00" in lines[0] and "2 sinal(is)" in err
    assert cli.main(["sinais", "--regra", "ativo_apos_o_fim"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # both UASGs
