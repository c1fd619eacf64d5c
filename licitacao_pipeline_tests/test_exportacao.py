"""Exports against a real PostgreSQL seeded through the real path (the simulator over HTTP, the
``contratos`` asset and its tabs), then edge cases written with SQL. Each format is read back
with an independent reader (pandas, json, lxml, pypdf) and compared with the database for the
same filters: accents, CNPJ punctuation, leading zeros, exact money, formula cells neutralized.
"""

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import pandas as pd
import pypdf
import pytest
import sqlalchemy as sa
from lxml import etree

from licitacao_pipeline.defs.exportacao import exportar_contratos
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.flows import exportacao
from licitacao_pipeline.flows.exportacao import ExportConfigError, ExportOptions
from licitacao_pipeline.warehouse.engine import get_engine

from .helpers import br_money, failure_message, sync_two_uasgs
from .helpers import set_contrato as _set

ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
BIG = Decimal("9999999999999.99")  # 13 integer digits
DAY = date(2026, 6, 15)
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # the test's own list (an oracle, not the code's)
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
MONEY = ("valor_inicial", "valor_global", "valor_parcela", "valor_acumulado")
DATES = ("data_assinatura", "vigencia_inicio", "vigencia_fim", "alertar_em")
TEXT = [
    "uasg", "unidade_nome", "numero", "tipo", "categoria", "processo", "modalidade", "objeto",
    "fornecedor_tipo", "fornecedor_documento", "fornecedor_nome", "situacao",
    "gestor", "fiscal", "prioridade", "observacao",
]  # fmt: skip


# --- the seeded warehouse -------------------------------------------------------------------------


@pytest.fixture
def seeded(sim, resources, engine) -> dict[str, int]:
    """Two UASGs synced with their tabs; then, with SQL: accents, formula-looking and
    multi-line texts, a 13-digit and a negative value, a UASG with a leading zero, an inactive
    contract, a removed one, follow-up rows (one of them hostile)."""
    counts, other_id = sync_two_uasgs(resources, engine)
    many = [cid for cid, n in counts.items() if n >= 2]  # one empenho stays after a removal
    mine = [many[0], *(cid for cid in counts if cid != many[0])]
    roles = {
        "big": mine[0],
        "formula": mine[1],
        "removed": mine[2],
        "inativo": mine[3],
        "no_dates": mine[4],
        "zero_uasg": other_id,
        "control": mine[5],
    }
    before, during = DAY - timedelta(days=10), DAY + timedelta(days=10)
    with engine.begin() as conn:
        _set(conn, roles["big"], valor_global=BIG, valor_inicial=Decimal("-1234.56"),
             valor_parcela=Decimal("0.05"), vigencia_inicio=before, vigencia_fim=DAY,
             situacao="Ativo", fornecedor_cnpj_cpf_idgener="01.234.567/0001-89",
             fornecedor_nome='AÇÃO & CIA “LTDA” <Ribeirão>; filial, São João',
             objeto="Aquisição de açúcar\nlinha 2; com vírgula, \"aspas\"\r\nfim")  # fmt: skip
        _set(conn, roles["formula"], numero="-2+3", vigencia_inicio=DAY, vigencia_fim=during,
             situacao="Ativo", fornecedor_nome='=HYPERLINK("http://evil","x")',
             objeto="@SUM(1+1)\tfim")  # fmt: skip
        _set(conn, roles["removed"], removido_em=datetime.now(UTC),
             removido_motivo="ausente_da_listagem", vigencia_inicio=before,
             vigencia_fim=during, situacao="Ativo")  # fmt: skip
        _set(conn, roles["inativo"], situacao="Inativo", vigencia_inicio=before,
             vigencia_fim=during)  # fmt: skip
        _set(conn, roles["no_dates"], situacao="Ativo", vigencia_inicio=None, vigencia_fim=None)
        _set(conn, roles["control"], objeto="tab\tvertical\x0bfim", situacao=None)
        _set(conn, roles["zero_uasg"], uasg="012345", vigencia_inicio=before, vigencia_fim=DAY,
             situacao="Ativo")  # fmt: skip
        conn.execute(
            sa.text("INSERT INTO unidades (codigo, nome) VALUES ('012345', 'BASE AÉREA DE NATAL')")
        )
        conn.execute(
            sa.text(
                "INSERT INTO acompanhamento (contrato_id, uasg, numero, gestor, fiscal, "
                "prioridade, observacao, alertar_em) SELECT id, uasg, numero, :g, :f, :p, :o, :a "
                "FROM contratos WHERE id = :id"
            ),
            [
                {
                    "id": roles["big"],
                    "g": "José Antônio Ñuñez",
                    "f": "Maria da Conceição",
                    "p": "alta",
                    "o": "Renovar até março;\nver “aditivo”",
                    "a": DAY,
                },
                {
                    "id": roles["formula"],
                    "g": "=cmd|' /C calc'!A0",
                    "f": "+55 61 99999-0000",
                    "p": "baixa",
                    "o": "-negativo",
                    "a": None,
                },
                {
                    "id": roles["zero_uasg"],
                    "g": "Ana",
                    "f": None,
                    "p": None,
                    "o": None,
                    "a": date(2027, 1, 31),
                },
            ],  # fmt: skip
        )
        conn.execute(  # a quantity with four decimals
            sa.text(
                "UPDATE contratos_itens SET quantidade = 1234.5678 WHERE id = "
                "(SELECT min(id) FROM contratos_itens WHERE contrato_id = :c)"
            ),
            {"c": roles["big"]},
        )
        # a tab row with a 13-digit and a negative value, and a removed one (not exported)
        conn.execute(
            sa.text(
                "UPDATE contratos_empenhos SET empenhado = :big, pago = :neg WHERE id = "
                "(SELECT min(id) FROM contratos_empenhos WHERE contrato_id = :c)"
            ),
            {"big": BIG, "neg": Decimal("-0.01"), "c": roles["big"]},
        )
        conn.execute(
            sa.text(
                "UPDATE contratos_empenhos SET removido_em = now() WHERE id = "
                "(SELECT max(id) FROM contratos_empenhos WHERE contrato_id = :c)"
            ),
            {"c": roles["big"]},
        )
    return roles


@pytest.fixture
def exports(tmp_path, monkeypatch):
    path = tmp_path / "exports"
    monkeypatch.setenv("LICITACAO_EXPORT_DIR", str(path))
    return path


def run_export(db_url, raise_on_error=True, **config):
    return exportar_contratos.execute_in_process(
        run_config={"ops": {"exportar": {"config": config}}},
        resources={"warehouse": WarehouseResource(database_url=db_url)},
        raise_on_error=raise_on_error,
    )


def output_metadata(result) -> dict:
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


# --- the independent oracle -----------------------------------------------------------------------


def _query(engine, sql, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def expected(engine, uasgs=(), situacao="todos", vigente_em=None) -> dict[int, dict]:
    """The contracts the filters select, computed in Python over plain table reads."""
    out = {}
    for r in _query(
        engine,
        "SELECT c.*, u.nome AS u_nome, a.gestor, a.fiscal, a.prioridade, a.observacao, "
        "a.alertar_em FROM contratos c LEFT JOIN unidades u ON u.codigo = c.uasg "
        "LEFT JOIN acompanhamento a ON a.contrato_id = c.id",
    ):
        inicio, fim = r["vigencia_inicio"], r["vigencia_fim"]
        if r["removido_em"] is not None or (uasgs and r["uasg"] not in uasgs):
            continue
        if situacao != "todos" and (r["situacao"] == "Ativo") != (situacao == "ativo"):
            continue
        if vigente_em and not (inicio and fim and inicio <= vigente_em <= fim):
            continue
        out[r["id"]] = {
            "contrato_id": r["id"],
            "unidade_nome": r["u_nome"] or r["unidade_gestora_nome"],
            "fornecedor_documento": r["fornecedor_cnpj_cpf_idgener"],
            **{k: r[k] for k in TEXT if k not in ("unidade_nome", "fornecedor_documento")},
            **{k: r[k] for k in (*MONEY, *DATES, "num_parcelas")},
        }
    return out


def expected_tab(engine, aba, ids) -> dict[int, list[dict]]:
    rows = _query(
        engine,
        f"SELECT * FROM contratos_{aba} WHERE removido_em IS NULL AND contrato_id = ANY(:ids) "
        "ORDER BY contrato_id, id",
        ids=list(ids),
    )
    out = {i: [] for i in ids}
    for r in rows:
        out[r["contrato_id"]].append(r)
    return out


def brl(value: Decimal) -> str:
    """Brazilian money text (the test's own oracle)."""
    sign, digits = ("-", -value) if value < 0 else ("", value)
    whole, cents = f"{digits:.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{'.'.join(groups)},{cents}"


def neutralized(value) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(FORMULA) else value


def parse_money(text, style):
    if text == "":
        return None
    if style == "br":
        assert re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d{2}", text), text
        return br_money(text)
    assert re.fullmatch(r"-?\d+\.\d{2}", text), text
    return Decimal(text)


def parse_date(text, style):
    if text == "":
        return None
    if style == "br":
        d, m, y = text.split("/")
        return date(int(y), int(m), int(d))
    return date.fromisoformat(text)


def read_csv(path, delimiter, bom):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == bom
    frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return frame.to_dict("records")


def assert_csv_equals(records, want: dict[int, dict], style):
    assert len(records) == len(want)
    for rec in records:
        row = want[int(rec["contrato_id"])]
        for k in TEXT:
            assert rec[k] == neutralized(row[k]), (k, rec[k], row[k])
        for k in MONEY:
            assert parse_money(rec[k], style) == row[k], (k, rec[k])
        for k in DATES:
            assert parse_date(rec[k], style) == row[k], (k, rec[k])
        assert rec["num_parcelas"] == (
            "" if row["num_parcelas"] is None else str(row["num_parcelas"])
        )


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_in_both_decimal_styles_equals_the_database(seeded, db_url, engine, exports):
    cases = [
        ({}, ";", True, "br"),
        ({"situacao": "ativo", "vigente_em": "15/06/2026"}, ",", False, "iso"),
        ({"uasgs": ["012345", "787010"], "situacao": "inativo"}, ";", False, "iso"),
        ({"vigente_em": DAY.isoformat(), "uasgs": ["012345"]}, ",", True, "br"),
    ]
    paths = []
    for filters, delimiter, bom, style in cases:
        result = run_export(db_url, format="csv", delimiter=delimiter, bom=bom, decimal=style,
                            **filters)  # fmt: skip
        meta = output_metadata(result)
        path = exports / meta["caminho"].rsplit("/", 1)[-1]
        assert meta["caminho"] == str(path) and path.exists()
        paths.append(path)
        vigente = exportacao.parse_day("vigente_em", filters["vigente_em"]) if (
            "vigente_em" in filters) else None  # fmt: skip
        want = expected(engine, filters.get("uasgs", ()), filters.get("situacao", "todos"),
                        vigente)  # fmt: skip
        assert want, filters  # every case selects something
        records = read_csv(path, delimiter, bom)
        assert_csv_equals(records, want, style)
        assert meta["linhas"] == len(records) and meta["bytes"] == path.stat().st_size
        assert meta["filtros"]["decimal"] == style and meta["duracao_s"] >= 0
    assert seeded["removed"] not in expected(engine)

    # the exact cells of the edge cases (br style, first case)
    by_id = {int(r["contrato_id"]): r for r in read_csv(paths[0], ";", True)}
    big, evil = by_id[seeded["big"]], by_id[seeded["formula"]]
    assert big["valor_global"] == "9.999.999.999.999,99"
    assert big["valor_inicial"] == "-1.234,56" and big["valor_parcela"] == "0,05"
    assert big["fornecedor_documento"] == "01.234.567/0001-89"
    assert big["objeto"] == 'Aquisição de açúcar\nlinha 2; com vírgula, "aspas"\r\nfim'
    assert big["gestor"] == "José Antônio Ñuñez" and big["alertar_em"] == "15/06/2026"
    assert evil["numero"] == "'-2+3" and evil["objeto"] == "'@SUM(1+1)\tfim"
    assert evil["fornecedor_nome"] == '\'=HYPERLINK("http://evil","x")'
    assert evil["gestor"] == "'=cmd|' /C calc'!A0" and evil["fiscal"] == "'+55 61 99999-0000"
    assert by_id[seeded["zero_uasg"]]["uasg"] == "012345"
    assert by_id[seeded["zero_uasg"]]["unidade_nome"] == "BASE AÉREA DE NATAL"
    assert sorted(p.name for p in exports.iterdir()) == sorted(p.name for p in paths)


def test_csv_tabs_go_to_one_extra_file_each(seeded, db_url, engine, exports):
    result = run_export(db_url, uasgs=["787010"], include_tabs=["empenhos", "itens"],
                        nome_arquivo="com_abas", decimal="iso")  # fmt: skip
    meta = output_metadata(result)
    assert meta["caminho"] == str(exports / "com_abas.csv")
    assert meta["arquivos_abas"] == {
        "empenhos": str(exports / "com_abas_empenhos.csv"),
        "itens": str(exports / "com_abas_itens.csv"),
    }
    assert sorted(p.name for p in exports.iterdir()) == [
        "com_abas.csv", "com_abas_empenhos.csv", "com_abas_itens.csv",
    ]  # fmt: skip
    want = expected(engine, ("787010",))
    tabs = expected_tab(engine, "empenhos", want)
    empenhos = read_csv(exports / "com_abas_empenhos.csv", ";", True)
    assert meta["linhas_abas"]["empenhos"] == len(empenhos) == sum(map(len, tabs.values()))
    by_key = {(int(r["contrato_id"]), int(r["id"])): r for r in empenhos}
    for cid, items in tabs.items():
        for item in items:
            rec = by_key[(cid, item["id"])]
            assert rec["contrato_uasg"] == want[cid]["uasg"]
            assert rec["contrato_numero"] == neutralized(want[cid]["numero"])
            assert rec["numero"] == neutralized(item["numero"])  # the empenho's own
            for k in ("empenhado", "aliquidar", "liquidado", "pago"):
                assert parse_money(rec[k], "iso") == item[k], k
            assert rec["credor_nome"] == neutralized(item["credor_nome"])
            assert parse_date(rec["data_emissao"], "iso") == item["data_emissao"]
    assert by_key[(seeded["big"], min(i["id"] for i in tabs[seeded["big"]]))]["empenhado"] == (
        "9999999999999.99"
    )
    itens = read_csv(exports / "com_abas_itens.csv", ";", True)
    expected_itens = expected_tab(engine, "itens", want)
    assert len(itens) == sum(map(len, expected_itens.values()))
    quantities = {(int(r["contrato_id"]), int(r["id"])): r["quantidade"] for r in itens}
    for cid, items in expected_itens.items():
        for item in items:  # a raw decimal keeps its own scale, exactly
            assert quantities[(cid, item["id"])] == f"{item['quantidade']:f}"
    assert "1234.5678" in quantities.values()


def _cell(kind, value) -> str:
    """The CSV cell (iso style) a database value must become: the test's own oracle."""
    if value is None:
        return ""
    if kind == "money":
        return f"{value.quantize(Decimal('0.01')):f}"
    if kind == "decimal":
        return f"{value:f}"
    if kind in ("date", "timestamp"):
        return value.isoformat()
    if kind == "json":
        return neutralized(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if kind == "int":
        return str(value)
    return neutralized(str(value))


def test_every_tab_file_has_every_field_and_a_contract_key_no_field_can_hide(
    seeded, db_url, engine, exports
):
    """Each tab's CSV: ``contrato_id``, ``contrato_uasg``, ``contrato_numero``, then every field
    of the tab as stored, cell by cell (an empenho's ``numero`` stays the empenho's)."""
    from licitacao_pipeline.comprasnet.abas import ABAS, SPECS
    from licitacao_pipeline.warehouse.exportacao import TAB_FIELDS

    with engine.begin() as conn:  # one change in the history, so `alteracoes` has a row
        conn.execute(
            sa.text(
                "INSERT INTO contratos_alteracoes (contrato_id, visto_em, uasg, origem, "
                "registro_id, evento, campo, valor_anterior_numerico, valor_novo_numerico) "
                "VALUES (:c, now(), '787010', 'contrato', :c, 'alterado', 'valor_global', 1, 2)"
            ),
            {"c": seeded["big"]},
        )
    from licitacao_pipeline.flows import sinais

    sinais.atualizar(engine, DAY + timedelta(days=400))  # open red flags, a tab of their own
    tabs = [*ABAS, "alteracoes", "sinais"]
    result = run_export(db_url, uasgs=["787010"], include_tabs=tabs, nome_arquivo="todas",
                        decimal="iso")  # fmt: skip
    meta = output_metadata(result)
    want = expected(engine, ("787010",))
    for aba in tabs:
        path = exports / f"todas_{aba}.csv"
        assert aba != "sinais" or meta["linhas_abas"]["sinais"] > 0
        header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(";")
        pessoais = SPECS[aba].pessoais if aba in SPECS else frozenset()
        fields = [(n, k) for n, k in TAB_FIELDS[aba] if n != "contrato_id" and n not in pessoais]
        assert not pessoais & set(header), aba  # personal data only when asked for
        assert header == [
            "contrato_id",
            "contrato_uasg",
            "contrato_numero",
            *(n for n, _ in fields),
        ]
        views = {"alteracoes": "alteracoes_recentes", "sinais": "sinais_abertos"}
        source = views.get(aba, f"contratos_{aba}")
        where = "" if aba in views else " AND removido_em IS NULL"
        stored = _query(engine, f"SELECT * FROM {source} WHERE contrato_id = ANY(:ids){where}",
                        ids=list(want))  # fmt: skip
        records = read_csv(path, ";", True)
        assert stored and len(records) == len(stored) == meta["linhas_abas"][aba], aba
        cells = sorted(
            [str(r["contrato_id"]), r["uasg"] if aba in views else want[r["contrato_id"]][
                "uasg"], neutralized(want[r["contrato_id"]]["numero"]),
             *(_cell(k, r[n]) for n, k in fields)]
            for r in stored
        )  # fmt: skip
        assert sorted([rec[h] for h in header] for rec in records) == cells, aba


# --- JSON, NDJSON, XML ----------------------------------------------------------------------------


def _typed_json(obj, tabs=()):
    out = dict(obj)
    for k in MONEY:
        out[k] = None if obj[k] is None else Decimal(obj[k])
    for k in DATES:
        out[k] = None if obj[k] is None else date.fromisoformat(obj[k])
    for aba in tabs:
        out.pop(aba)
    return out


def test_json_and_ndjson_equal_the_database_with_nested_tabs(seeded, db_url, engine, exports):
    want = expected(engine, ("787010", "012345"), "ativo")
    tabs = expected_tab(engine, "empenhos", want)
    common = {"uasgs": ["787010", "012345"], "situacao": "ativo", "include_tabs": ["empenhos"]}
    arr = output_metadata(run_export(db_url, format="json", **common))
    lines = output_metadata(run_export(db_url, format="ndjson", **common))
    text = (exports / arr["caminho"].rsplit("/", 1)[-1]).read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    data = json.loads(text)
    assert isinstance(data, list)
    nd = (exports / lines["caminho"].rsplit("/", 1)[-1]).read_text(encoding="utf-8")
    assert [json.loads(line) for line in nd.splitlines()] == data
    assert arr["caminho"].endswith(".json") and lines["caminho"].endswith(".ndjson")
    assert len(data) == len(want) == arr["linhas"]
    for obj in data:
        row = want[obj["contrato_id"]]
        typed = _typed_json(obj, ["empenhos"])
        assert {k: typed[k] for k in row} == row
        assert [e["id"] for e in obj["empenhos"]] == [e["id"] for e in tabs[obj["contrato_id"]]]
        for got, item in zip(obj["empenhos"], tabs[obj["contrato_id"]], strict=True):
            for k in ("empenhado", "liquidado", "pago"):
                assert (None if got[k] is None else Decimal(got[k])) == item[k]
            assert got["credor_nome"] == item["credor_nome"]
    big = next(o for o in data if o["contrato_id"] == seeded["big"])
    assert big["valor_global"] == "9999999999999.99" and big["valor_inicial"] == "-1234.56"
    assert big["fornecedor_nome"] == "AÇÃO & CIA “LTDA” <Ribeirão>; filial, São João"
    assert big["empenhos"][0]["empenhado"] == "9999999999999.99"
    assert big["empenhos"][0]["pago"] == "-0.01"
    evil = next(o for o in data if o["contrato_id"] == seeded["formula"])
    assert evil["gestor"] == "=cmd|' /C calc'!A0"  # JSON is data: nothing to neutralize
    assert next(o for o in data if o["contrato_id"] == seeded["zero_uasg"])["uasg"] == "012345"
    assert arr["linhas_abas"] == {"empenhos": sum(len(tabs[i]) for i in want)}


def _xml_text(value):
    """What XML 1.0 can carry: the characters it cannot become U+FFFD (the oracle)."""
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "\ufffd", value)


def test_xml_is_well_formed_escaped_and_equals_the_database(seeded, db_url, engine, exports):
    meta = output_metadata(run_export(db_url, format="xml", include_tabs=["historico", "empenhos"]))
    path = exports / meta["caminho"].rsplit("/", 1)[-1]
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(raw)  # lxml refuses a document that is not well-formed
    want = expected(engine)
    hist, emp = expected_tab(engine, "historico", want), expected_tab(engine, "empenhos", want)
    items = root.findall("contrato")
    assert root.tag == "contratos" and root.get("total") == str(len(want)) == str(len(items))
    for el in items:
        got = {}
        for child in el:
            if child.tag in ("historico", "empenhos"):
                continue
            got[child.tag] = None if child.get(XSI_NIL) == "true" else (child.text or "")
        row = want[int(got.pop("contrato_id"))]
        for k in TEXT:
            assert got[k] == (None if row[k] is None else _xml_text(row[k])), k
        for k in MONEY:
            assert (None if got[k] is None else Decimal(got[k])) == row[k], k
        for k in DATES:
            assert (None if got[k] is None else date.fromisoformat(got[k])) == row[k], k
        cid = row["contrato_id"]
        assert [int(e.findtext("id")) for e in el.find("empenhos")] == [e["id"] for e in emp[cid]]
        assert len(el.find("historico")) == len(hist[cid])
    big = root.xpath(f"contrato[contrato_id={seeded['big']}]")[0]
    assert big.findtext("objeto") == 'Aquisição de açúcar\nlinha 2; com vírgula, "aspas"\r\nfim'
    assert big.findtext("valor_global") == "9999999999999.99"
    assert b"&lt;Ribeir\xc3\xa3o&gt;" in raw and b"&amp; CIA" in raw
    control = root.xpath(f"contrato[contrato_id={seeded['control']}]")[0]
    assert control.findtext("objeto") == "tab\tvertical\ufffdfim"
    assert control.find("situacao").get(XSI_NIL) == "true"


# --- PDF ------------------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_pdf_is_a_landscape_table_with_repeated_header_and_page_numbers(
    seeded, db_url, engine, exports
):
    from licitacao_pipeline.flows import sinais

    with engine.begin() as conn:  # still Ativo long after its end: a red flag the PDF lists
        _set(conn, seeded["big"], vigencia_fim=DAY - timedelta(days=40), situacao="Ativo")
    sinais.atualizar(engine, DAY)
    filters = {"uasgs": ["787010", "012345"]}
    meta = output_metadata(run_export(db_url, format="pdf", situacao="todos", **filters))
    want = expected(engine, ("787010", "012345"), "todos")
    reader = pypdf.PdfReader(exports / meta["caminho"].rsplit("/", 1)[-1])
    pages = [p.extract_text() for p in reader.pages]
    assert meta["linhas"] == len(want) and len(want) >= 3
    for n, (page, text) in enumerate(zip(reader.pages, pages, strict=True), 1):
        assert page.mediabox.width > page.mediabox.height  # landscape
        assert "Contratos — UASG 787010, 012345; situação: todos" in text
        assert "Valor global (R$)" in text and "Fornecedor" in text  # the header row, every page
        assert f"Página {n} de {len(pages)}" in text
    everything = _squash("\n".join(pages))
    for row in want.values():
        assert row["numero"] in everything
        assert brl(row["valor_global"]) in everything
        assert _squash(row["fornecedor_nome"]) in everything, row["fornecedor_nome"]
    assert "9.999.999.999.999,99" in everything and "01.234.567/0001-89" in everything
    assert "AÇÃO & CIA “LTDA” <Ribeirão>; filial, São João" in everything
    assert "José Antônio Ñuñez" in everything
    assert "Sinais de alerta" in everything
    assert "".join(everything.split()).count("media:ativo_apos_o_fim") >= 1


def test_pdf_needs_several_pages_when_there_are_many_rows(seeded, db_url, engine, exports):
    meta = output_metadata(run_export(db_url, format="pdf"))
    reader = pypdf.PdfReader(exports / meta["caminho"].rsplit("/", 1)[-1])
    assert len(reader.pages) >= 2  # so the header really repeats (checked on every page)
    for n, page in enumerate(reader.pages, 1):
        text = page.extract_text()
        assert "Valor global (R$)" in text and f"Página {n} de {len(reader.pages)}" in text
    assert meta["linhas"] == len(expected(engine))


def test_pdf_above_its_row_cap_is_refused_before_writing(seeded, db_url, engine, exports):
    with pytest.raises(exportacao.ExportTooLargeError, match="um PDF comporta no máximo 5"):
        exportacao.export(get_engine(db_url), ExportOptions(format="pdf"), exports, max_pdf_rows=5)
    assert not exports.exists() or list(exports.iterdir()) == []


# --- config, paths, atomicity, streaming ----------------------------------------------------------

UNREACHABLE = "postgresql://nobody@127.0.0.1:9/none"  # any database access would fail


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"uasgs": ["12345"]}, "uasgs"),
        ({"uasgs": ["787010", "78701A"]}, "uasgs"),
        ({"vigente_em": "31-12-2026"}, "vigente_em"),
        ({"vigente_em": "31/02/2026"}, "vigente_em"),
        ({"include_tabs": ["anexos"]}, "include_tabs"),
        ({"format": "pdf", "include_tabs": ["empenhos"]}, "include_tabs"),
        ({"nome_arquivo": "../fora.csv"}, "nome_arquivo"),
        ({"nome_arquivo": "/etc/cron.d/x"}, "nome_arquivo"),
        ({"nome_arquivo": "sub/x.csv"}, "nome_arquivo"),
        ({"nome_arquivo": ".oculto.csv"}, "nome_arquivo"),
        ({"nome_arquivo": "x.json"}, "nome_arquivo"),
    ],
)
def test_invalid_config_fails_before_any_work_naming_the_field(config, field, exports):
    result = run_export(UNREACHABLE, raise_on_error=False, **config)
    message = failure_message(result)
    assert f"configuração inválida: {field}: " in message  # not a connection error: none tried
    assert not exports.exists()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"situacao": "vigente"}, "situacao"),
        ({"delimiter": "|"}, "delimiter"),
        ({"decimal": "us"}, "decimal"),
        ({"bom": "talvez"}, "bom"),
    ],
)
def test_config_outside_its_choices_is_refused_by_dagster_naming_the_field(config, field):
    with pytest.raises(dg.DagsterInvalidConfigError, match=f"config:{field}"):
        run_export(UNREACHABLE, **config)


def test_given_file_names_stay_in_the_export_directory(tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    outside = tmp_path / "segredo.csv"
    outside.write_text("não tocar\n")
    (root / "link.csv").symlink_to(outside)
    (root / "dir").symlink_to(tmp_path, target_is_directory=True)
    now = datetime(2026, 1, 5, 12, tzinfo=UTC)

    def target(**options):
        request = exportacao.validate(ExportOptions(**options))
        return exportacao.targets(root, request, now, "abcdef123456").main

    assert target() == root / "contratos_20260105_090000_abcdef12.csv"
    assert target(format="xml") == root / "contratos_20260105_090000_abcdef12.xml"
    assert target(nome_arquivo="relatorio") == root / "relatorio.csv"
    assert target(nome_arquivo="Relatorio-1.CSV") == root / "Relatorio-1.CSV"
    assert target(format="pdf", nome_arquivo="a.b") == root / "a.b.pdf"
    refused = ("link.csv", "../segredo.csv", str(outside), "dir/segredo.csv", "sub/x.csv", "..",
               "a..csv", ".oculto.csv", "x y.csv", "-x.csv")  # fmt: skip
    for name in refused:
        with pytest.raises(ExportConfigError) as info:
            target(nome_arquivo=name)
        assert info.value.field == "nome_arquivo"
    assert outside.read_text() == "não tocar\n"


def _kill_export_after_first_chunk(db_url, seen):
    """A progress callback that, after the first chunk is written, looks at the export's own
    backend (its last statement) and then terminates it, as a crash of the server would."""
    admin = sa.create_engine(db_url, poolclass=sa.NullPool)

    def progress(done, total):
        seen.append((done, total))
        with admin.connect() as conn:
            [(pid, query)] = conn.execute(
                sa.text(
                    "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                )
            ).all()
            seen.append(query)
            if len(seen) == 2:
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})

    return progress


def test_a_failure_mid_export_leaves_no_partial_file(seeded, db_url, exports):
    exports.mkdir()
    (exports / "fixo.csv").write_text("o arquivo de ontem\n")
    seen = []
    with pytest.raises(sa.exc.OperationalError):
        exportacao.export(
            get_engine(db_url),
            ExportOptions(nome_arquivo="fixo", include_tabs=["empenhos"]),
            exports,
            chunk=5,
            progress=_kill_export_after_first_chunk(db_url, seen),
        )
    assert seen[0][0] == 5  # the first chunk was written, then the connection died
    assert sorted(p.name for p in exports.iterdir()) == ["fixo.csv"]  # no temporary file left
    assert (exports / "fixo.csv").read_text() == "o arquivo de ontem\n"  # the old one, whole


def test_contracts_are_read_in_chunks_from_a_server_side_cursor(seeded, db_url, engine, exports):
    seen = []
    admin = sa.create_engine(db_url, poolclass=sa.NullPool)

    def progress(done, total):
        with admin.connect() as conn:
            seen.append(
                (
                    done,
                    total,
                    conn.execute(
                        sa.text(
                            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                        )
                    ).scalar_one(),
                )  # fmt: skip
            )

    result = exportacao.export(get_engine(db_url), ExportOptions(format="ndjson"), exports,
                               chunk=7, progress=progress)  # fmt: skip
    total = len(expected(engine))
    assert [s[:2] for s in seen] == [(min(n, total), total) for n in range(7, total + 7, 7)]
    assert len(seen) == math.ceil(total / 7)
    # while the file is being written, the export's connection is fetching from a cursor
    assert all(q.startswith("FETCH FORWARD") for *_, q in seen[:-1]), seen
    assert result.rows == total
    admin.dispose()
