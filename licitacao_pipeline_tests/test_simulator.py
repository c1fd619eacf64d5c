"""The ComprasNet simulator over real HTTP (``requests``), no mocks."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
import requests

from comprasnet_simulator import (
    EXTRA_TABS,
    GENERATED_TABS,
    TABS,
    ComprasNetSimulator,
    SimulatorControl,
)

MONEY = re.compile(r"^-?(?:\d{1,3}(?:\.\d{3})+|\d{1,3}),\d{2}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CNPJ = re.compile(r"^\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}$")
CPF = re.compile(r"^\d{3}\.\d{3}\.\d{3}-\d{2}$")
CONTRACT_MONEY = ("valor_inicial", "valor_global", "valor_parcela", "valor_acumulado")


@pytest.fixture
def sim():
    with ComprasNetSimulator(seed=0, contracts={"787010": 30, "787000": 5}) as s:
        yield s


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def get(http, sim, path, **kw):
    return http.get(sim.base_url + path, timeout=kw.pop("timeout", 5), **kw)


def all_contracts(sim, uasg):
    return sim.listing(uasg) + sim.listing(uasg, inativo=True)


# ------------------------------------------------------------------------------------ shapes
def test_listing_shapes_and_formats(sim, http):
    ativos = get(http, sim, "/api/contrato/ug/787010").json()
    inativos = get(http, sim, "/api/contrato/inativo/ug/787010").json()
    assert isinstance(ativos, list) and isinstance(inativos, list)
    assert len(ativos) + len(inativos) == 30 and ativos and inativos
    assert {c["situacao"] for c in ativos} == {"Ativo"}
    assert {c["situacao"] for c in inativos} == {"Inativo"}
    assert ativos == sim.listing("787010") and inativos == sim.listing("787010", inativo=True)
    ids = [c["id"] for c in ativos + inativos]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 30
    assert sorted(ids) == sim.contrato_ids("787010")
    assert not set(ids) & set(sim.contrato_ids("787000"))  # unique across UGs

    today = date(2026, 1, 1).isoformat()
    for c in ativos + inativos:
        ug = c["contratante"]["orgao"]["unidade_gestora"]
        assert ug["codigo"] == "787010" and ug["nome"] and ug["nome_resumido"]
        assert set(c["contratante"]["orgao_origem"]) == {"codigo", "nome", "unidade_gestora_origem"}
        f = c["fornecedor"]
        assert f["tipo"] in ("JURIDICA", "FISICA")
        assert (CNPJ if f["tipo"] == "JURIDICA" else CPF).match(f["cnpj_cpf_idgener"])
        for name in CONTRACT_MONEY:
            assert MONEY.match(c[name]), (name, c[name])
        for name in ("valor_inicial", "valor_global", "valor_parcela"):
            assert not c[name].startswith("-")
        for name in ("data_assinatura", "vigencia_inicio", "vigencia_fim"):
            assert DAY.match(c[name])
        assert c["vigencia_fim"] >= c["vigencia_inicio"]
        assert re.match(r"^\d{5}/\d{4}$", c["numero"])
        assert isinstance(c["num_parcelas"], int)
        assert set(c["links"]) >= set(TABS)
        assert c["links"]["historico"] == f"{sim.base_url}/api/contrato/{c['id']}/historico"
        assert c["modalidade"] in (
            "Pregão", "Dispensa", "Inexigibilidade", "Concorrência", "Tomada de Preços", "Convite"
        )  # fmt: skip
    # some contracts ended long ago but are still "Ativo"
    assert any(c["vigencia_fim"] < today for c in ativos)


def test_realistic_variety_over_a_bigger_ug():
    sim = ComprasNetSimulator(seed=3, contracts={"787400": 400})
    contracts = all_contracts(sim, "787400")
    assert len(contracts) == 400
    assert any(c["valor_global"] == "0,00" for c in contracts)
    assert any(len(c["valor_global"]) > len("1.000.000,00") - 1 for c in contracts)  # millions
    assert any(c["informacao_complementar"] is None for c in contracts)
    assert any(c["informacao_complementar"] is not None for c in contracts)
    assert {c["fornecedor"]["tipo"] for c in contracts} == {"JURIDICA", "FISICA"}
    assert {c["categoria"] for c in contracts} == {"Serviços", "Compras", "Obras"}
    assert any("ç" in c["objeto"] or "ã" in c["objeto"] for c in contracts)
    years = {c["vigencia_inicio"][:4] for c in contracts} | {
        c["vigencia_fim"][:4] for c in contracts
    }
    assert min(years) == "2018" and max(years) >= "2029"
    # every tab is empty for some contracts and non-empty for others
    sample = [c["id"] for c in contracts[:120]]
    for tab in TABS:
        sizes = [len(sim.tab(cid, tab)) for cid in sample]
        empty = sizes.count(0) / len(sizes)
        assert 0.03 < empty < 0.3, (tab, empty)


def test_contrato_by_id_wrapping_and_404(sim, http):
    cid = sim.contrato_ids("787010")[0]
    r = get(http, sim, f"/api/contrato/id/{cid}")
    assert r.status_code == 200 and r.json() == sim.contrato(cid)
    assert r.json() in all_contracts(sim, "787010")
    r = get(http, sim, "/api/contrato/id/999999999")
    assert r.status_code == 404 and "message" in r.json()
    with ComprasNetSimulator(seed=0, contracts={"787010": 3}, wrap_single=True) as wrapped:
        r = http.get(f"{wrapped.base_url}/api/contrato/id/{cid}", timeout=5)
        assert r.json() == [wrapped.contrato(cid)]


def test_tabs_shapes(sim, http):
    seen = {tab: 0 for tab in TABS}
    for cid in sim.contrato_ids("787010"):
        for tab in TABS:
            r = get(http, sim, f"/api/contrato/{cid}/{tab}")
            assert r.status_code == 200
            records = r.json()
            assert records == sim.tab(cid, tab)
            seen[tab] += len(records)
            for rec in records:
                assert isinstance(rec["id"], int)
                if tab == "empenhos":
                    assert "contrato_id" not in rec
                    assert re.match(r"^\d{4}NE\d{6}$", rec["numero"])
                    assert re.match(r"^[\d./-]+ - .+$", rec["credor"])
                    for name in ("empenhado", "aliquidar", "liquidado", "pago", "rpinscrito"):
                        assert MONEY.match(rec[name])
                else:
                    assert rec["contrato_id"] == cid
        hist = sim.tab(cid, "historico")
        if hist:
            assert hist[0]["tipo"] == "Contrato" and hist[0]["objeto"]
            for h in hist[1:]:
                assert h["tipo"] in ("Termo Aditivo", "Termo de Apostilamento")
                assert h["objeto"] is None
            for h in hist:
                assert STAMP.match(h["criado_em"]) and STAMP.match(h["alterado_em"])
                assert MONEY.match(h["retroativo_valor"])
                q = h["qualificacao_termo"]
                assert q is None or all(
                    isinstance(x["codigo"], int) and isinstance(x["descricao"], str) for x in q
                )
        for item in sim.tab(cid, "itens"):
            assert re.match(r"^\d+(\.\d+)?$", str(item["quantidade"]))
            assert MONEY.match(item["valorunitario"]) and MONEY.match(item["valortotal"])
    assert all(seen.values())
    ids = [r["id"] for cid in sim.contrato_ids("787010") for t in TABS for r in sim.tab(cid, t)]
    assert len(ids) == len(set(ids))
    r = get(http, sim, f"/api/contrato/{sim.contrato_ids('787010')[0]}/publicacoes")
    assert r.status_code == 200 and r.json() == []


# Field order of the eight other tabs: shared/comprasnet-api-server-2021.md §9-16.
EXTRA_FIELDS = {
    "cronograma": "tipo numero receita_despesa observacao mesref anoref vencimento retroativo "
    "valor",
    "garantias": "tipo valor vencimento",
    "prepostos": "usuario email telefonefixo celular doc_formalizacao informacao_complementar "
    "data_inicio data_fim situacao",
    "responsaveis": "usuario funcao_id instalacao_id portaria situacao data_inicio data_fim "
    "telefone_fixo telefone_celular",
    "despesas_acessorias": "tipo_id recorrencia_id descricao_complementar vencimento valor",
    "faturas": "tipolistafatura_id justificativafatura_id sfadrao_id numero emissao prazo "
    "vencimento valor juros multa glosa valorliquido processo protocolo ateste repactuacao "
    "infcomplementar mesref anoref situacao",
    "ocorrencias": "numero usuario data ocorrencia notificapreposto emailpreposto "
    "numeroocorrencia novasituacao situacao arquivos",
    "terceirizados": "usuario funcao_id descricao_complementar jornada unidade salario custo "
    "escolaridade_id data_inicio data_fim situacao telefone_fixo telefone_celular "
    "aux_transporte vale_alimentacao",
}
EXTRA_MONEY = {"valor", "juros", "multa", "glosa", "valorliquido", "salario", "custo"}
EXTRA_MONEY |= {"aux_transporte", "vale_alimentacao"}
EXTRA_DATES = {"vencimento", "data_inicio", "data_fim", "emissao", "prazo", "protocolo", "ateste"}
MASKED = re.compile(r"^\*\*\*\.\d{3}\.\d{3}-\*\* - .+")
SITUACOES_FATURA = {
    "Pendente", "Pagamento Suspenso", "Pagamento Parcial", "Analisado", "Pronto para Pagamento",
    "Apropriado Siafi", "Pago",
}  # fmt: skip


def _centavos(text):
    return int(Decimal(text.replace(".", "").replace(",", ".")) * 100)


def test_extra_tabs_shapes(sim, http):
    """The eight other tabs over HTTP: fields in the reference order and the value formats."""
    seen = {tab: [] for tab in EXTRA_TABS}
    for cid in sim.contrato_ids("787010"):
        contrato = sim.contrato(cid)
        for tab in EXTRA_TABS:
            r = get(http, sim, f"/api/contrato/{cid}/{tab}")
            assert r.status_code == 200
            for rec in r.json():
                seen[tab].append(rec)
                assert list(rec) == ["id", "contrato_id", *EXTRA_FIELDS[tab].split()], tab
                assert isinstance(rec["id"], int) and rec["contrato_id"] == cid
                for name, value in rec.items():
                    if name in EXTRA_MONEY:
                        assert MONEY.match(value), (tab, name, value)
                    elif name in EXTRA_DATES:
                        assert value is None or DAY.match(value), (tab, name, value)
                    elif name == "usuario":
                        assert MASKED.match(value), value
                    elif name in ("retroativo", "repactuacao", "notificapreposto"):
                        assert value in ("Sim", "Não")
                    elif name == "situacao" and tab not in ("faturas", "ocorrencias"):
                        assert value in ("Ativo", "Inativo")
                if tab == "faturas":
                    valor, glosa, juros, multa, liquido = (
                        _centavos(rec[k])
                        for k in ("valor", "glosa", "juros", "multa", "valorliquido")
                    )
                    assert liquido == valor - glosa + juros + multa
                    assert contrato["vigencia_inicio"] <= rec["emissao"] <= "2026-06-30"
                    assert rec["emissao"] <= contrato["vigencia_fim"]
                    assert rec["situacao"] in SITUACOES_FATURA
                    assert rec["mesref"] in [f"{m:02d}" for m in range(1, 13)]
                    assert re.match(r"^\d{4}$", rec["anoref"])
                    assert rec["sfadrao_id"] == "" or re.match(r"^\d{4}NP\d{6}$", rec["sfadrao_id"])
                if tab == "cronograma":
                    hist = {(h["tipo"], h["numero"]) for h in sim.tab(cid, "historico")}
                    assert (rec["tipo"], rec["numero"]) in hist
                if tab == "ocorrencias":
                    assert isinstance(rec["numero"], int)
                    assert rec["numeroocorrencia"] == "" or rec["numeroocorrencia"] < rec["numero"]
                    assert all(len(a) == 1 for a in rec["arquivos"])
                if tab == "terceirizados":
                    assert contrato["categoria"] == "Serviços" and rec["jornada"] in (30, 40, 44)
    assert all(seen.values()), {tab: len(v) for tab, v in seen.items()}
    for tab, records in seen.items():
        assert len({r["id"] for r in records}) == len(records), tab
    assert any(o["novasituacao"] == " - " for o in seen["ocorrencias"])
    assert any(f["glosa"] == "0,00" for f in seen["faturas"])
    assert any(f["glosa"] != "0,00" for f in seen["faturas"])
    assert {r["situacao"] for r in seen["prepostos"]} == {"Ativo", "Inativo"}
    assert {r["funcao_id"] for r in seen["responsaveis"]} <= {
        "Gestor", "Gestor Substituto", "Fiscal Técnico", "Fiscal Administrativo",
        "Fiscal Requisitante",
    }  # fmt: skip

    cid = next(c for c in sim.contrato_ids("787010") if sim.tab(c, "faturas"))
    sim.change_tab_record(cid, "faturas", 0, situacao="Pago")
    sim.set_tab(cid, "garantias", [{"id": 1, "tipo": "Seguro-garantia"}])
    assert get(http, sim, f"/api/contrato/{cid}/faturas").json()[0]["situacao"] == "Pago"
    assert get(http, sim, f"/api/contrato/{cid}/garantias").json() == [
        {"id": 1, "tipo": "Seguro-garantia"}
    ]
    sim.remove_contrato(cid)
    assert get(http, sim, f"/api/contrato/{cid}/faturas").json() == []
    assert sim.count("faturas") == len(sim.contrato_ids("787010")) + 3


def test_unknown_ug_is_empty(sim, http):
    for path in ("/api/contrato/ug/123456", "/api/contrato/inativo/ug/123456"):
        r = get(http, sim, path)
        assert r.status_code == 200 and r.json() == []


# ------------------------------------------------------------------------------------ encoding
def test_gzip_only_when_asked(sim, http):
    path = "/api/contrato/ug/787010"
    plain = get(http, sim, path, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(plain.headers["Content-Length"]) == len(plain.content)
    assert "Pregão".encode() in plain.content or "ç".encode() in plain.content  # raw UTF-8
    zipped = get(http, sim, path, headers={"Accept-Encoding": "gzip, deflate"}, stream=True)
    raw = zipped.raw.read(decode_content=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content
    tab = get(http, sim, f"/api/contrato/{sim.contrato_ids('787010')[0]}/historico", stream=True)
    assert tab.headers.get("Content-Encoding") == "gzip"  # requests asks for gzip by default


def test_keep_alive_reuses_one_connection(sim, http):
    sim.reset_counts()
    for _ in range(5):
        assert get(http, sim, "/api/contrato/ug/787000").status_code == 200
    assert sim.connections_opened == 1
    for _ in range(2):
        requests.get(f"{sim.base_url}/api/contrato/ug/787000", timeout=5)
    assert sim.connections_opened == 3


# ------------------------------------------------------------------------------------ determinism
def test_deterministic_across_instances():
    a = ComprasNetSimulator(seed=5, contracts={"787010": 20, "787000": 4})
    b = ComprasNetSimulator(seed=5, contracts={"787000": 4, "787010": 20, "770001": 3})
    c = ComprasNetSimulator(seed=6, contracts={"787010": 20})
    with a, b:
        pa = requests.get(f"{a.base_url}/api/contrato/ug/787010", timeout=5).content
        pb = requests.get(f"{b.base_url}/api/contrato/ug/787010", timeout=5).content
        assert pa.replace(a.base_url.encode(), b"") == pb.replace(b.base_url.encode(), b"")
    for uasg in ("787010", "787000"):
        assert all_contracts(a, uasg) == all_contracts(b, uasg)
    cid = a.contrato_ids("787010")[4]
    assert [a.tab(cid, t) for t in GENERATED_TABS] == [b.tab(cid, t) for t in GENERATED_TABS]
    assert all_contracts(a, "787010") != all_contracts(c, "787010")


# ------------------------------------------------------------------------------------ faults
def test_fault_429_500_502_503(sim, http):
    path = "/api/contrato/ug/787010"
    sim.inject_fault("429", path="/ug/787010$", retry_after=7)
    r = get(http, sim, path)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    for kind in ("500", "502", "503"):
        sim.inject_fault(kind)
        assert get(http, sim, path).status_code == int(kind)
    assert get(http, sim, path).status_code == 200  # each fault consumed once
    sim.inject_fault("503", path=r"/historico$", times=2)
    assert get(http, sim, path).status_code == 200  # does not match
    cid = sim.contrato_ids("787010")[0]
    codes = [get(http, sim, f"/api/contrato/{cid}/historico").status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_fault_forever_until_cleared(sim, http):
    sim.inject_fault("500", path=r"/inativo/", times=-1)
    assert [get(http, sim, "/api/contrato/inativo/ug/787010").status_code for _ in range(4)] == [
        500
    ] * 4
    assert get(http, sim, "/api/contrato/ug/787010").status_code == 200
    sim.clear_faults()
    assert get(http, sim, "/api/contrato/inativo/ug/787010").status_code == 200


def test_fault_timeout(sim, http):
    sim.inject_fault("timeout", delay=2)
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(http, sim, "/api/contrato/ug/787010", timeout=0.3)
    assert time.monotonic() - t0 < 1.5
    assert get(http, sim, "/api/contrato/ug/787010").status_code == 200


def test_fault_reset(sim, http):
    sim.inject_fault("reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(http, sim, "/api/contrato/ug/787010")
    assert get(http, sim, "/api/contrato/ug/787010").status_code == 200
    assert sim.requests["/api/contrato/ug/787010"] == 2


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_fault_truncated(sim, http, encoding):
    for path in ("/api/contrato/ug/787010", f"/api/contrato/{sim.contrato_ids('787010')[0]}/itens"):
        full = get(http, sim, path, headers={"Accept-Encoding": "identity"}).content
        sim.inject_fault("truncated", path=path)
        r = get(http, sim, path, headers={"Accept-Encoding": encoding})
        assert r.status_code == 200 and 0 < len(r.content) < len(full)
        assert full.startswith(r.content)
        with pytest.raises(ValueError):
            r.json()


def test_fault_html200(sim, http):
    sim.inject_fault("html200")
    r = get(http, sim, "/api/contrato/ug/787010")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<html" in r.text and "Erro" in r.text
    with pytest.raises(ValueError):
        r.json()


def test_fault_malformed(sim, http):
    path = "/api/contrato/ug/787010"
    good = get(http, sim, path).json()
    sim.inject_fault("malformed", path=path, count=2)
    bad = get(http, sim, path).json()
    assert [c["valor_global"] for c in bad[:2]] == ["abc,de", "abc,de"]
    assert bad[2:] == good[2:]
    sim.inject_fault("malformed", path=path, field="id", count=3)
    bad = get(http, sim, path).json()
    assert [("id" in c) for c in bad[:4]] == [False, False, False, True]
    cid = good[0]["id"]
    sim.inject_fault("malformed", path="/id/", field="vigencia_fim", value="31/12/2026")
    assert get(http, sim, f"/api/contrato/id/{cid}").json()["vigencia_fim"] == "31/12/2026"
    assert get(http, sim, path).json() == good == sim.listing("787010")


def test_unknown_fault_kind_rejected(sim):
    with pytest.raises(ValueError):
        sim.inject_fault("418")


# ------------------------------------------------------------------------------------ counts
def test_counts_and_reset(sim, http):
    cid = sim.contrato_ids("787010")[0]
    sim.inject_fault("500", path="/itens$")
    for path in (
        "/api/contrato/ug/787010",
        "/api/contrato/inativo/ug/787010",
        "/api/contrato/ug/787010",
        f"/api/contrato/id/{cid}",
        f"/api/contrato/{cid}/historico",
        f"/api/contrato/{cid}/empenhos",
        f"/api/contrato/{cid}/itens",
        f"/api/contrato/{cid}/arquivos",
        f"/api/contrato/{cid}/garantias",
        f"/api/contrato/{cid}/publicacoes",
        "/_sim/counts",
    ):
        get(http, sim, path)
    assert sim.requests["/api/contrato/ug/787010"] == 2
    assert sim.requests[f"/api/contrato/{cid}/itens"] == 1  # faulted requests count too
    assert "/_sim/counts" not in sim.requests
    assert sum(sim.requests.values()) == 10
    assert sim.count("listing") == 3 and sim.count("contrato") == 1
    assert [sim.count(t) for t in TABS] == [1, 1, 1, 1] and sim.count("garantias") == 1
    assert sim.count("faturas") == 0 and sim.count("other") == 1  # publicacoes
    sim.reset_counts()
    assert sim.count("listing") == 0 and not sim.requests and sim.max_in_flight == 0


def test_concurrency(sim, http):
    sim.latency = 0.2
    sim.reset_counts()
    cid = sim.contrato_ids("787010")[0]
    paths = [f"/api/contrato/{cid}/{TABS[i % 4]}" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(
            pool.map(lambda p: requests.get(sim.base_url + p, timeout=10).status_code, paths)
        )
    assert codes == [200] * 16
    assert sim.max_in_flight >= 8
    assert sum(sim.requests.values()) == 16


# ------------------------------------------------------------------------------------ mutations
def test_mutations_visible_over_http(sim, http):
    ids = sim.contrato_ids("787010")
    changed, removed = ids[1], ids[2]
    before = {c["id"]: c for c in get(http, sim, "/api/contrato/ug/787010").json()}

    sim.change_contrato(changed, objeto="Aquisição de café e açúcar", valor_global="9.999,99")
    sim.change_contrato(ids[3], situacao="Inativo")
    sim.remove_contrato(removed)
    novo = sim.add_contrato("787010", situacao="Ativo")
    assert novo["id"] not in ids and novo["id"] in sim.contrato_ids("787010")

    listed = all_contracts(sim, "787010")
    assert listed == (
        get(http, sim, "/api/contrato/ug/787010").json()
        + get(http, sim, "/api/contrato/inativo/ug/787010").json()
    )
    by_id = {c["id"]: c for c in listed}
    assert removed not in by_id and novo["id"] in by_id and by_id[novo["id"]] == novo
    assert by_id[changed]["objeto"] == "Aquisição de café e açúcar"
    assert by_id[changed]["valor_global"] == "9.999,99"
    assert {k: v for k, v in by_id[changed].items() if k not in ("objeto", "valor_global")} == {
        k: v for k, v in sim.contrato(changed).items() if k not in ("objeto", "valor_global")
    }
    assert ids[3] in {c["id"] for c in sim.listing("787010", inativo=True)}
    if changed in before:
        assert before[changed] != by_id[changed]
    assert get(http, sim, f"/api/contrato/id/{changed}").json() == by_id[changed]
    assert get(http, sim, f"/api/contrato/id/{removed}").status_code == 404
    assert get(http, sim, f"/api/contrato/{removed}/historico").json() == []
    assert get(http, sim, f"/api/contrato/{novo['id']}/historico").json() == sim.tab(
        novo["id"], "historico"
    )
    with pytest.raises(KeyError):
        sim.contrato(removed)


def test_tab_mutations(sim, http):
    cid = next(i for i in sim.contrato_ids("787010") if sim.tab(i, "historico"))
    sim.set_tab(cid, "empenhos", [{"id": 1, "numero": "2026NE000001", "empenhado": "1,00"}])
    assert get(http, sim, f"/api/contrato/{cid}/empenhos").json()[0]["numero"] == "2026NE000001"
    sim.set_tab(cid, "itens", [])
    assert get(http, sim, f"/api/contrato/{cid}/itens").json() == []
    sim.set_tab(cid, "historico", sim.tab(cid, "historico") + [{"id": 9, "tipo": "Termo Aditivo"}])
    sim.change_tab_record(cid, "historico", 0, observacao="alterado")
    hist = get(http, sim, f"/api/contrato/{cid}/historico").json()
    assert hist[0]["observacao"] == "alterado" and hist[-1] == {"id": 9, "tipo": "Termo Aditivo"}
    returned = sim.tab(cid, "historico")
    returned[0]["observacao"] = "cópia"  # a deep copy: does not leak into the simulator
    assert sim.tab(cid, "historico")[0]["observacao"] == "alterado"


def test_large_ug_is_generated_once_and_served_fast():
    sim = ComprasNetSimulator(seed=1, contracts={"787700": 4000})
    with sim:
        t0 = time.monotonic()
        first = requests.get(f"{sim.base_url}/api/contrato/ug/787700", timeout=30)
        t1 = time.monotonic()
        second = requests.get(f"{sim.base_url}/api/contrato/ug/787700", timeout=30)
        t2 = time.monotonic()
    assert first.content == second.content and len(first.json()) > 2500
    assert t1 - t0 < 5 and t2 - t1 < 1


# ------------------------------------------------------------------------------------ control
def test_control_endpoints(sim, http):
    ctl = SimulatorControl(sim.base_url)
    cid = sim.contrato_ids("787010")[0]
    get(http, sim, "/api/contrato/ug/787010")
    counts = http.get(f"{sim.base_url}/_sim/counts", timeout=5).json()
    assert counts["requests"] == {"/api/contrato/ug/787010": 1}
    assert counts["by_kind"]["listing"] == 1 and counts["max_in_flight"] >= 1
    assert http.post(f"{sim.base_url}/_sim/reset_counts", timeout=5).status_code == 200
    assert sim.count("listing") == 0

    r = http.post(
        f"{sim.base_url}/_sim/faults",
        json={"kind": "429", "path": "/ug/", "times": 1, "retry_after": 3},
        timeout=5,
    )
    assert r.status_code == 200
    assert get(http, sim, "/api/contrato/ug/787010").headers["Retry-After"] == "3"
    ctl.inject_fault("500", times=-1)
    assert get(http, sim, "/api/contrato/ug/787010").status_code == 500
    http.post(f"{sim.base_url}/_sim/clear_faults", timeout=5)
    assert get(http, sim, "/api/contrato/ug/787010").status_code == 200

    http.post(f"{sim.base_url}/_sim/latency", json={"seconds": 0.05}, timeout=5)
    assert sim.latency == 0.05
    ctl.set_latency(0)

    http.post(
        f"{sim.base_url}/_sim/change_contrato",
        json={"id": cid, "fields": {"objeto": "Objeto alterado remotamente"}},
        timeout=5,
    )
    assert (
        get(http, sim, f"/api/contrato/id/{cid}").json()["objeto"] == "Objeto alterado remotamente"
    )
    novo = http.post(f"{sim.base_url}/_sim/add_contrato", json={"uasg": "787010"}, timeout=5).json()
    assert novo["id"] in ctl.contrato_ids("787010")
    http.post(f"{sim.base_url}/_sim/remove_contrato", json={"id": cid}, timeout=5)
    assert get(http, sim, f"/api/contrato/id/{cid}").status_code == 404
    r = http.post(f"{sim.base_url}/_sim/remove_contrato", json={"id": cid}, timeout=5)
    assert r.status_code == 404
    assert (
        http.post(f"{sim.base_url}/_sim/faults", json={"kind": "x"}, timeout=5).status_code == 400
    )
    assert ctl.count("contrato") == 2 and ctl.count("listing") == 3


def test_cli_runs_out_of_process(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "comprasnet_simulator", "--port", "0"]
        + ["--uasgs", "787010,787000", "--contracts", "7", "--seed", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert re.match(r"^http://127\.0\.0\.1:\d+$", base_url)
        r = requests.get(f"{base_url}/api/contrato/ug/787000", timeout=5)
        assert r.status_code == 200
        local = ComprasNetSimulator(seed=0, contracts=7, uasgs=("787010", "787000"))
        assert json.loads(r.text.replace(base_url, local.base_url)) == local.listing("787000")
        ctl = SimulatorControl(base_url)
        assert ctl.count("listing") == 1
        ctl.reset_counts()
        assert ctl.counts()["requests"] == {}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_stop_closes_keep_alive_connections(http):
    sim = ComprasNetSimulator(seed=0, contracts={"787010": 2}).start()
    url = f"{sim.base_url}/api/contrato/ug/787010"
    assert http.get(url, timeout=5).status_code == 200
    sim.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(url, timeout=5)
