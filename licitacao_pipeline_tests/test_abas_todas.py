"""The eight tabs added to the four (faturas, garantias, cronograma, responsaveis, prepostos,
despesas_acessorias, ocorrencias, terceirizados): every field of every record as the server
shapes it loads exactly, by an oracle written here from the reference (not from the specs);
re-syncs write nothing; the history follows faturas, garantias and responsáveis; personal data
stays out of exports, reasons and metadata unless asked for."""

import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from licitacao_pipeline.comprasnet.abas import ABAS

from .helpers import br_money, rows
from .test_abas import UASG, sync_all, sync_tabs_only, tab_meta
from .test_exportacao import run_export

NOVAS = ABAS[4:]
MONEY = re.compile(r"-?\d{1,3}(\.\d{3})*,\d{2}")


def _oracle(field: str, value):
    """What the warehouse must hold for one field, from the reference's rules (§0.3, §9-16)."""
    if value is None:
        return None
    if isinstance(value, str) and MONEY.fullmatch(value):
        return br_money(value)  # "0,00" (a NULL amount on the server) is 0.00: cannot be told
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    if value in ("Sim", "Não") and field in ("repactuacao", "retroativo", "notificapreposto"):
        return value == "Sim"
    if field.endswith("_id") or field in ("numeroocorrencia", "novasituacao", "tipo", "situacao"):
        if field in ("situacao",) and value in ("Ativo", "Inativo"):
            return value
        return None if str(value).strip() in ("", "-") else str(value)
    return value


def _expected_row(rec: dict) -> dict:
    out = {}
    for field, value in rec.items():
        if field in ("id", "contrato_id"):
            continue
        if field == "usuario":  # "***.456.789-** - NOME"
            cpf, _, nome = value.partition(" - ")
            out["usuario_cpf"], out["usuario_nome"] = cpf, nome
            continue
        out[field] = _oracle(field, value)
    return out


def test_every_field_of_every_new_tab_loads_exactly_and_a_resync_writes_nothing(
    sim, resources, engine
):
    ids = sim.contrato_ids(UASG)
    sync_all(resources)
    seen = {"0,00": 0, " - ": 0, "cpf": 0, "Sim": 0}
    for aba in NOVAS:
        stored = {(r["contrato_id"], r["id"]): r for r in rows(engine, f"contratos_{aba}")}
        expected = [(cid, rec) for cid in ids for rec in sim.tab(cid, aba)]
        assert expected or aba == "despesas_acessorias", aba
        assert sorted(stored) == sorted((cid, rec["id"]) for cid, rec in expected), aba
        for cid, rec in expected:
            row = stored[(cid, rec["id"])]
            assert row["payload"] == rec
            for column, value in _expected_row(rec).items():
                assert row[column] == value, (aba, column, rec)
                assert not isinstance(value, Decimal) or row[column].as_tuple() == value.as_tuple()
            text = json.dumps(rec, ensure_ascii=False)
            seen["0,00"] += '"0,00"' in text
            seen[" - "] += '" - "' in text
            seen["cpf"] += bool(re.search(r"\*\*\*\.\d{3}\.\d{3}-\*\*", text))
            seen["Sim"] += '"Sim"' in text
    assert all(seen.values()), seen  # the odd shapes were really in play

    before = {a: {r["id"]: r["_xmin"] for r in rows(engine, f"contratos_{a}")} for a in ABAS}
    result = sync_tabs_only(resources, {"completa": True})  # every tab fetched again
    for aba in ABAS:
        meta = tab_meta(result, aba)
        assert meta["contratos_sincronizados"] == len(ids), aba
        assert (meta["linhas_inseridas"], meta["linhas_atualizadas"]) == (0, 0), aba
        assert {r["id"]: r["_xmin"] for r in rows(engine, f"contratos_{aba}")} == before[aba]


def test_garantias_of_the_old_shape_without_ids_load_with_a_stable_id(sim, resources, engine):
    """Before 2021-04-22 a garantia had only tipo, valor and vencimento."""
    cid = sim.contrato_ids(UASG)[0]
    old = [
        {"tipo": "Seguro-garantia", "valor": "12.345,60", "vencimento": "2027-03-31"},
        {"tipo": "Caução em dinheiro", "valor": "0,00", "vencimento": None},
    ]
    sim.set_tab(cid, "garantias", old)
    sync_all(resources)
    first = rows(engine, "contratos_garantias", "contrato_id = :c", c=cid)
    assert sorted((r["tipo"], r["valor"], r["vencimento"]) for r in first) == sorted(
        [("Seguro-garantia", Decimal("12345.60"), date(2027, 3, 31)),
         ("Caução em dinheiro", Decimal("0.00"), None)]
    )  # fmt: skip
    sync_tabs_only(resources, {"completa": True})
    again = rows(engine, "contratos_garantias", "contrato_id = :c", c=cid)
    assert [(r["id"], r["_xmin"]) for r in again] == [(r["id"], r["_xmin"]) for r in first]


def _events(engine, origem):
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.text(
                    "SELECT registro_id, evento, campo, valor_anterior_texto, valor_novo_texto, "
                    "valor_anterior_numerico, valor_novo_numerico, valor_novo_data "
                    "FROM contratos_alteracoes WHERE origem = :o ORDER BY registro_id, campo"
                ),
                {"o": origem},
            ).mappings()
        ]


def test_history_follows_faturas_garantias_and_who_enters_or_leaves_a_role(sim, resources, engine):
    ids = sim.contrato_ids(UASG)
    sync_all(resources)
    cid = next(c for c in ids if sim.tab(c, "faturas") and sim.tab(c, "garantias"))
    fatura, garantia = sim.tab(cid, "faturas")[0], sim.tab(cid, "garantias")[0]
    gone = next(c for c in ids if len(sim.tab(c, "responsaveis")) >= 2)
    saiu = sim.tab(gone, "responsaveis")[0]
    sim.change_tab_record(cid, "faturas", 0, situacao="Pago", glosa="10,00")
    sim.change_tab_record(cid, "garantias", 0, vencimento="2030-01-31")
    sim.set_tab(gone, "responsaveis", sim.tab(gone, "responsaveis")[1:])
    sync_tabs_only(resources, {"completa": True})

    faturas = {(e["campo"], e["evento"]): e for e in _events(engine, "faturas")}
    assert faturas[("glosa", "alterado")]["valor_novo_numerico"] == Decimal("10.00")
    assert faturas[("glosa", "alterado")]["valor_anterior_numerico"] == br_money(fatura["glosa"])
    if fatura["situacao"] != "Pago":
        assert faturas[("situacao", "alterado")]["valor_novo_texto"] == "Pago"
    [venc] = [e for e in _events(engine, "garantias") if e["campo"] == "vencimento"]
    assert (venc["registro_id"], venc["valor_novo_data"]) == (garantia["id"], date(2030, 1, 31))
    [saida] = _events(engine, "responsaveis")
    assert (saida["registro_id"], saida["evento"]) == (saiu["id"], "removido")
    # who left is named by the record, never by a name or CPF in the history
    with engine.connect() as conn:
        texts = conn.execute(
            sa.text("SELECT string_agg(coalesce(valor_anterior_texto, '') || "
                    "coalesce(valor_novo_texto, ''), '') FROM contratos_alteracoes")
        ).scalar_one()  # fmt: skip
    assert "***." not in (texts or "")


@pytest.fixture
def exports(tmp_path, monkeypatch):
    monkeypatch.setenv("LICITACAO_EXPORT_DIR", str(tmp_path / "exports"))
    return tmp_path / "exports"


def _all_text(paths) -> str:
    return "".join(p.read_text(encoding="utf-8-sig") for p in paths)


def test_exports_leave_personal_data_out_unless_asked_for(sim, resources, engine, db_url, exports):
    sync_all(resources)
    pessoais = ["responsaveis", "prepostos", "ocorrencias", "terceirizados"]
    for fmt in ("csv", "json", "xml"):
        run_export(db_url, format=fmt, uasgs=[UASG], include_tabs=pessoais, nome_arquivo=f"a{fmt}")
    text = _all_text(sorted(exports.glob("a*")))
    nomes = [r["usuario_nome"] for a in pessoais for r in rows(engine, f"contratos_{a}")]
    assert nomes and not any(n in text for n in nomes)
    assert not re.search(r"\*\*\*\.\d{3}", text) and "salario" not in text and "@" not in text

    run_export(db_url, uasgs=[UASG], include_tabs=pessoais, nome_arquivo="b",
               incluir_dados_pessoais=True)  # fmt: skip
    asked = _all_text(sorted(exports.glob("b*")))
    assert all(n in asked for n in nomes) and "salario" in asked
    gestores = rows(engine, "contratos_responsaveis", "situacao = 'Ativo' AND funcao_id = 'Gestor'")
    assert gestores
    header = (exports / "b.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert "gestor_oficial" in header and gestores[0]["usuario_nome"] in asked


def test_a_bad_personal_field_is_rejected_without_showing_its_value(sim, resources, engine):
    cid = sim.contrato_ids(UASG)[0]
    sim.set_tab(cid, "terceirizados", [{
        "id": 1, "contrato_id": cid, "usuario": "***.111.222-** - FULANA DE TAL",
        "salario": "R$ secreto 9.999,99", "jornada": 40,
    }])  # fmt: skip
    result = sync_all(resources)
    [sample] = tab_meta(result, "terceirizados")["amostras_rejeitadas"]
    assert sample["reason"] == "salario: valor inválido (dado pessoal)"
    with engine.connect() as conn:
        reasons = conn.execute(sa.text("SELECT string_agg(reason, ' ') FROM rejected_records"))
        assert "secreto" not in reasons.scalar_one()


def test_the_daily_report_lists_expiring_and_expired_guarantees_of_contracts_in_force(
    sim, resources, engine, db_url, exports
):
    import dagster as dg

    from licitacao_pipeline.defs.garantias import garantias_a_vencer
    from licitacao_pipeline.defs.portal import painel_contratos
    from licitacao_pipeline.relogio import local_today

    ids = sim.contrato_ids(UASG)
    sync_all(resources)
    hoje = local_today()
    with engine.begin() as conn:  # one contract in force with an expired and a near guarantee
        conn.execute(
            sa.text("UPDATE contratos SET situacao = 'Ativo', vigencia_inicio = :a, "
                    "vigencia_fim = :b WHERE id = :c"),
            {"a": date(2020, 1, 1), "b": date(2099, 1, 1), "c": ids[0]},
        )  # fmt: skip
    sim_garantias = [
        {"id": 1, "contrato_id": ids[0], "tipo": "Seguro-garantia", "valor": "1.000,00",
         "vencimento": (hoje.replace(day=1) - timedelta(days=1)).isoformat()},
        {"id": 2, "contrato_id": ids[0], "tipo": "Fiança bancária", "valor": "0,00",
         "vencimento": (hoje + timedelta(days=90)).isoformat()},
        {"id": 3, "contrato_id": ids[0], "tipo": "Caução em dinheiro", "valor": "5,00",
         "vencimento": (hoje + timedelta(days=91)).isoformat()},
    ]  # fmt: skip
    sim.set_tab(ids[0], "garantias", sim_garantias)
    sync_tabs_only(resources, {"completa": True})
    result = dg.materialize(
        [painel_contratos, garantias_a_vencer],
        resources={"warehouse": resources["warehouse"]},
    )
    with engine.connect() as conn:
        view = {r["contrato_id"]: r for r in conn.execute(
            sa.text("SELECT * FROM painel_contratos")).mappings()}  # fmt: skip
        garantias = conn.execute(
            sa.text("SELECT * FROM contratos_garantias WHERE removido_em IS NULL")
        ).mappings()
        expected = sorted(
            (g["contrato_id"], g["id"], (g["vencimento"] - hoje).days)
            for g in garantias
            if view[g["contrato_id"]]["em_vigor"] and g["vencimento"] is not None
            and g["vencimento"] <= hoje + timedelta(days=90)
        )  # fmt: skip
        stored = sorted(
            (r["contrato_id"], r["garantia_id"], r["dias_para_vencimento"])
            for r in conn.execute(sa.text("SELECT * FROM garantias_a_vencer")).mappings()
        )
    assert stored == expected
    vencida = (date.fromisoformat(sim_garantias[0]["vencimento"]) - hoje).days
    assert vencida < 0 and (ids[0], 1, vencida) in stored
    assert (ids[0], 2, 90) in stored and not any(r[:2] == (ids[0], 3) for r in stored)
    [mat] = [m for m in result.get_asset_materialization_events()
             if m.asset_key.path == ["garantias_a_vencer"]]  # fmt: skip
    meta = {k: v.value for k, v in mat.materialization.metadata.items()}
    assert meta["vencidas"] == sum(1 for r in stored if r[2] < 0) >= 1
    csv_lines = (exports / f"garantias_a_vencer_{hoje:%Y%m%d}.csv").read_text("utf-8-sig")
    assert len(csv_lines.splitlines()) == len(stored) + 1 and "1.000,00" in csv_lines
