import copy
import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licitacao_pipeline.comprasnet.parsing import (
    PARSER_VERSION,
    RecordError,
    content_hash,
    day,
    decimal,
    integer,
    money,
    parse_contrato,
    record_id,
    text,
    timestamp,
    uasg_of,
    unidade_of,
    within_vigencia,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1.234,56", Decimal("1234.56")),
        ("0,00", Decimal("0.00")),
        ("-1.234,56", Decimal("-1234.56")),
        ("830.906,44", Decimal("830906.44")),
        ("1.000.000.000,01", Decimal("1000000000.01")),
        ("12,30", Decimal("12.30")),
        (None, None),
        ("", None),
    ],
)
def test_money_exact(text, expected):
    assert money(text) == expected
    if expected is not None:
        assert str(money(text)) == str(expected)  # exact scale, not just equal value


@pytest.mark.parametrize(
    "bad", ["abc,de", "1,2", "1.23,45", "1234.56", "1,234.56", 1.5, [], "R$ 1,00"]
)
def test_money_rejects_malformed(bad):
    with pytest.raises(RecordError, match="valor"):
        money(bad, "valor_global")


def _br(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{frac:02d}"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_roundtrip(cents):
    assert money(_br(cents)) == Decimal(cents).scaleb(-2)


def test_dates_and_timestamps():
    assert day("2026-03-01", "d") == date(2026, 3, 1)
    assert day(None, "d") is None
    with pytest.raises(RecordError, match="vigencia_fim"):
        day("01/03/2026", "vigencia_fim")
    with pytest.raises(RecordError):
        day("2026-02-30", "d")
    assert timestamp("2026-09-11T16:40:46Z", "t") == datetime(2026, 9, 11, 16, 40, 46, tzinfo=UTC)
    assert decimal("12.5000", "q") == Decimal("12.5000")
    assert decimal(3, "q") == Decimal(3)
    with pytest.raises(RecordError):
        decimal("1,5", "q")


RECORD = {
    "id": 123,
    "numero": "00013/2026",
    "situacao": "Ativo",
    "modalidade": "Pregão",
    "contratante": {
        "orgao_origem": {
            "codigo": "52111",
            "nome": "COMANDO DA MARINHA",
            "unidade_gestora_origem": {
                "codigo": "787010",
                "nome": "CENTRO",
                "nome_resumido": "CEN",
            },
        },
        "orgao": {
            "codigo": "52131",
            "nome": "MARINHA",
            "unidade_gestora": {
                "codigo": "787010",
                "nome": "CENTRO DE INTENDÊNCIA",
                "nome_resumido": "CIM",
            },
        },
    },
    "fornecedor": {
        "tipo": "JURIDICA",
        "cnpj_cpf_idgener": "05.340.639/0001-30",
        "nome": "Construtora São João Ltda",
    },
    "vigencia_inicio": "2025-01-01",
    "vigencia_fim": "2026-12-31",
    "valor_global": "830.906,44",
    "valor_inicial": "0,00",
    "valor_acumulado": None,
    "num_parcelas": 12,
    "links": {"historico": "https://x/api/contrato/123/historico"},
}


def test_parse_contrato_flattens_and_types():
    row = parse_contrato(RECORD, "787010")
    assert row["id"] == 123 and row["uasg"] == "787010"
    assert row["valor_global"] == Decimal("830906.44")
    assert row["valor_inicial"] == Decimal("0.00")
    assert row["valor_acumulado"] is None
    assert row["vigencia_fim"] == date(2026, 12, 31)
    assert row["fornecedor_cnpj_cpf_idgener"] == "05.340.639/0001-30"
    assert row["unidade_gestora_nome"] == "CENTRO DE INTENDÊNCIA"
    assert row["orgao_origem_codigo"] == "52111"
    assert row["payload"] == RECORD
    assert len(row["payload_hash"]) == 64


@pytest.mark.parametrize(
    "change,field",
    [
        ({"id": None}, "id"),
        ({"valor_global": "abc,de"}, "valor_global"),
        ({"vigencia_fim": "31/12/2026"}, "vigencia_fim"),
        ({"fornecedor": "x"}, "fornecedor"),
    ],
)
def test_parse_contrato_rejects(change, field):
    with pytest.raises(RecordError, match=field):
        parse_contrato({**RECORD, **change}, "787010")
    with pytest.raises(RecordError, match="id"):
        parse_contrato({k: v for k, v in RECORD.items() if k != "id"}, "787010")


def test_hash_ignores_links_and_key_order_but_not_content():
    h = content_hash(RECORD)
    assert content_hash({**RECORD, "links": {"historico": "http://other"}}) == h
    assert content_hash(dict(reversed(list(RECORD.items())))) == h
    assert content_hash({**RECORD, "objeto": "novo"}) != h


def test_vigencia_window():
    row = {"vigencia_fim": date(2024, 1, 1)}
    assert within_vigencia(row, date(2024, 12, 31), 365)  # ended exactly 365 days ago: kept
    assert not within_vigencia(row, date(2025, 1, 1), 365)  # one day more: out
    assert not within_vigencia(row, date(2025, 1, 2), 365)
    assert within_vigencia(row, date(2024, 1, 1), 0)
    assert not within_vigencia(row, date(2024, 1, 2), 0)
    assert within_vigencia(row, date(2023, 6, 1), 0)  # still running
    assert within_vigencia(row, date(2030, 1, 1), None)
    assert within_vigencia({"vigencia_fim": None}, date(2030, 1, 1), 1)


# -- every branch and every message: a rejected record's reason names the field and the value --


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: money("abc,de"),
            "valor: valor monetário inválido 'abc,de' (esperava como '1.234,56')",
        ),
        (
            lambda: money("1.23,45", "pago"),
            "pago: valor monetário inválido '1.23,45' (esperava como '1.234,56')",
        ),
        (
            lambda: money(1.5, "valor_global"),
            "valor_global: valor monetário deve ser um texto como '1.234,56', veio 1.5",
        ),
        (
            lambda: money(True, "pago"),
            "pago: valor monetário deve ser um texto como '1.234,56', veio True",
        ),
        (
            lambda: money([], "pago"),
            "pago: valor monetário deve ser um texto como '1.234,56', veio []",
        ),
        (lambda: decimal("1,5", "quantidade"), "quantidade: decimal inválido '1,5'"),
        (lambda: decimal(True, "quantidade"), "quantidade: decimal inválido True"),
        (lambda: decimal([], "quantidade"), "quantidade: decimal inválido []"),
        (
            lambda: day("01/03/2026", "vigencia_fim"),
            "vigencia_fim: data inválida '01/03/2026' (esperava AAAA-MM-DD)",
        ),
        (lambda: day("20260301", "d"), "d: data inválida '20260301' (esperava AAAA-MM-DD)"),
        (lambda: day(20260301, "d"), "d: data inválida 20260301 (esperava AAAA-MM-DD)"),
        (lambda: day("2026-02-30", "d"), "d: data inválida '2026-02-30' (esperava AAAA-MM-DD)"),
        (lambda: timestamp("ontem", "criado_em"), "criado_em: data e hora inválidas 'ontem'"),
        (lambda: integer(None, "id", required=True), "id: ausente"),
        (lambda: integer("", "id", required=True), "id: ausente"),
        (lambda: integer(True, "num_parcelas"), "num_parcelas: inteiro inválido True"),
        (lambda: integer("1.5", "num_parcelas"), "num_parcelas: inteiro inválido '1.5'"),
        (lambda: integer(1.5, "num_parcelas"), "num_parcelas: inteiro inválido 1.5"),
        (lambda: integer("12a", "num_parcelas"), "num_parcelas: inteiro inválido '12a'"),
        (lambda: text({"a": 1}, "objeto"), "objeto: esperava texto, veio dict"),
        (lambda: text([1], "objeto"), "objeto: esperava texto, veio list"),
        (lambda: parse_contrato([1], "787010"), "registro: esperava um objeto, veio list"),
        (lambda: parse_contrato({}, "787010"), "id: ausente"),
        (
            lambda: parse_contrato({"id": "x"}, "787010"),
            "id: 'x' não é um id (um inteiro JSON de 1 a 9223372036854775807)",
        ),
    ],
)
def test_errors_name_the_field_and_the_value(call, message):
    with pytest.raises(RecordError) as err:
        call()
    assert str(err.value) == message


def test_converters_accept_what_the_api_sends():
    assert money(1234) == Decimal(1234) and money(-5) == Decimal(-5)
    assert money(" 1.234,56 ") == Decimal("1234.56")
    assert decimal(1.5, "q") == Decimal("1.5") and decimal(0.1, "q") == Decimal("0.1")
    assert decimal(" -2.25 ", "q") == Decimal("-2.25")
    assert decimal(None, "q") is None and decimal("", "q") is None
    assert day("", "d") is None
    assert integer("12", "n") == 12 and integer(" -3 ", "n") == -3 and integer(7, "n") == 7
    assert integer(None, "n") is None and integer("", "n") is None
    assert text(5, "t") == "5" and text("São", "t") == "São" and text(None, "t") is None
    assert text("", "t") == ""


def test_timestamps_are_aware_and_naive_ones_are_utc():
    utc = datetime(2026, 9, 11, 16, 40, 46, tzinfo=UTC)
    assert timestamp("2026-09-11T16:40:46", "t") == utc
    assert timestamp("2026-09-11T16:40:46", "t").utcoffset() == timedelta(0)
    brasilia = timestamp("2026-09-11T13:40:46-03:00", "t")
    assert brasilia == utc and brasilia.utcoffset() == timedelta(hours=-3)
    assert timestamp("2026-09-11T16:40:46.250000Z", "t") == utc + timedelta(milliseconds=250)
    assert timestamp(None, "t") is None and timestamp("", "t") is None


def test_hash_is_sha256_of_the_parser_version_and_canonical_json():
    """Independent recomputation: sorted keys, no spaces, UTF-8 kept as is, links left out."""
    record = {"objeto": "Aquisição de café", "id": 7, "valores": [1, 2.5], "links": {"x": "y"}}
    canonical = '{"id":7,"objeto":"Aquisição de café","valores":[1,2.5]}'
    expected = hashlib.sha256(f"v{PARSER_VERSION}:{canonical}".encode()).hexdigest()
    assert content_hash(record) == expected
    assert content_hash(record, ignore=("links", "valores")) != expected


FULL = {
    **RECORD,
    "receita_despesa": "Despesa",
    "codigo_tipo": "50",
    "tipo": "Contrato",
    "data_assinatura": "2024-12-20",
    "data_publicacao": "2024-12-27",
    "valor_parcela": "69.242,20",
    "valor_acumulado": "1.234,00",
}
FLATTENED = {
    "orgao_codigo": "52131",
    "orgao_nome": "MARINHA",
    "unidade_gestora_codigo": "787010",
    "unidade_gestora_nome": "CENTRO DE INTENDÊNCIA",
    "unidade_gestora_nome_resumido": "CIM",
    "orgao_origem_codigo": "52111",
    "orgao_origem_nome": "COMANDO DA MARINHA",
    "unidade_gestora_origem_codigo": "787010",
    "unidade_gestora_origem_nome": "CENTRO",
    "fornecedor_tipo": "JURIDICA",
    "fornecedor_cnpj_cpf_idgener": "05.340.639/0001-30",
    "fornecedor_nome": "Construtora São João Ltda",
}


def test_parse_contrato_types_every_column():
    row = parse_contrato(FULL, "787010")
    assert {k: row[k] for k in FLATTENED} == FLATTENED
    assert (row["receita_despesa"], row["codigo_tipo"], row["tipo"]) == (
        "Despesa",
        "50",
        "Contrato",
    )
    assert row["numero"] == "00013/2026" and row["situacao"] == "Ativo"
    assert (row["data_assinatura"], row["data_publicacao"]) == (
        date(2024, 12, 20),
        date(2024, 12, 27),
    )
    assert row["vigencia_inicio"] == date(2025, 1, 1)
    assert (row["valor_parcela"], row["valor_acumulado"]) == (
        Decimal("69242.20"),
        Decimal("1234.00"),
    )
    assert row["num_parcelas"] == 12 and row["objeto"] is None
    assert row["payload"] == FULL and row["payload"] is not FULL
    assert row["payload_hash"] == content_hash(FULL)
    assert parse_contrato(FULL, "787010", "given")["payload_hash"] == "given"


def _at(record, path, value):
    record = copy.deepcopy(record)
    node = record
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return record


# Where each flattened column comes from, and the name its error message gives it.
FLATTENED_PATHS = [
    (("contratante", "orgao", "codigo"), "contratante.orgao.codigo"),
    (("contratante", "orgao", "nome"), "contratante.orgao.nome"),
    (("contratante", "orgao", "unidade_gestora", "codigo"), "unidade_gestora.codigo"),
    (("contratante", "orgao", "unidade_gestora", "nome"), "unidade_gestora.nome"),
    (
        ("contratante", "orgao", "unidade_gestora", "nome_resumido"),
        "unidade_gestora.nome_resumido",
    ),
    (("contratante", "orgao_origem", "codigo"), "orgao_origem.codigo"),
    (("contratante", "orgao_origem", "nome"), "orgao_origem.nome"),
    (
        ("contratante", "orgao_origem", "unidade_gestora_origem", "codigo"),
        "unidade_gestora_origem.codigo",
    ),
    (
        ("contratante", "orgao_origem", "unidade_gestora_origem", "nome"),
        "unidade_gestora_origem.nome",
    ),
    (("fornecedor", "tipo"), "fornecedor.tipo"),
    (("fornecedor", "cnpj_cpf_idgener"), "fornecedor.cnpj_cpf_idgener"),
    (("fornecedor", "nome"), "fornecedor.nome"),
]


@pytest.mark.parametrize(
    "path,name", FLATTENED_PATHS, ids=lambda v: ".".join(v) if isinstance(v, tuple) else v
)
def test_a_nested_field_that_is_not_text_is_rejected_by_name(path, name):
    with pytest.raises(RecordError) as err:
        parse_contrato(_at(FULL, path, ["x"]), "787010")
    assert str(err.value) == f"{name}: esperava texto, veio list"


@pytest.mark.parametrize(
    "path,name",
    [
        (("contratante", "orgao"), "contratante.orgao"),
        (("contratante", "orgao", "unidade_gestora"), "unidade_gestora"),
        (("contratante", "orgao_origem"), "contratante.orgao_origem"),
        (("contratante", "orgao_origem", "unidade_gestora_origem"), "unidade_gestora_origem"),
        (("fornecedor",), "fornecedor"),
    ],
    ids=lambda v: ".".join(v) if isinstance(v, tuple) else v,
)
def test_a_nested_object_that_is_not_an_object_is_rejected_by_name(path, name):
    with pytest.raises(RecordError) as err:
        parse_contrato(_at(FULL, path, "x"), "787010")
    assert str(err.value) == f"{name}: esperava um objeto, veio str"


def test_missing_nested_objects_leave_their_columns_empty():
    row = parse_contrato({"id": 1, "contratante": None, "fornecedor": {}}, "787010")
    assert all(row[k] is None for k in FLATTENED)
    row = parse_contrato({"id": 1, "contratante": {"orgao": {"unidade_gestora": None}}}, "1")
    assert all(row[k] is None for k in FLATTENED)


def test_uasg_name_and_id_of_a_record_best_effort():
    assert uasg_of(FULL) == "787010"
    assert uasg_of({"contratante": "x"}) is None
    assert uasg_of({"contratante": {"orgao": "x"}}) is None
    assert uasg_of({"contratante": {"orgao": {"unidade_gestora": {"codigo": ["x"]}}}}) is None
    assert unidade_of(FULL) == {
        "codigo": "787010",
        "nome": "CENTRO DE INTENDÊNCIA",
        "nome_resumido": "CIM",
        "orgao_codigo": "52131",
        "orgao_nome": "MARINHA",
    }
    assert unidade_of({"contratante": "x"}) is None
    assert unidade_of(_at(FULL, ("contratante", "orgao", "unidade_gestora", "nome"), None)) is None
    assert unidade_of(_at(FULL, ("contratante", "orgao", "unidade_gestora", "codigo"), "")) is None
    assert unidade_of(_at(FULL, ("contratante", "orgao", "nome"), {"x": 1})) is None
    assert unidade_of(_at(FULL, ("contratante", "orgao"), "x")) is None
    assert record_id({"id": 5}) == 5 and record_id({"id": "6"}) == 6
    assert record_id({"id": "x"}) is None and record_id([5]) is None and record_id({}) is None


# -- issue 20: values are checked against the columns that will hold them ---------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: parse_contrato({**RECORD, "num_parcelas": 2**31}, "787010"), "num_parcelas"),
        (
            lambda: parse_contrato({**RECORD, "num_parcelas": -(2**31) - 1}, "787010"),
            "num_parcelas",
        ),
        (lambda: integer(2**63, "novo_num_parcelas"), "novo_num_parcelas"),
        (lambda: integer("9" * 31, "n"), "n"),
        (lambda: money("12.345.678.901.234.567,00", "valor_global"), "valor_global"),
        (lambda: money(10**16, "pago"), "pago"),
        (lambda: decimal("1" * 131073, "quantidade"), "quantidade"),
        (lambda: decimal("1." + "0" * 16384, "quantidade"), "quantidade"),
        (lambda: text("a\x00b", "objeto"), "objeto"),
        (lambda: timestamp(20260101, "criado_em"), "criado_em"),
    ],
)
def test_values_outside_their_columns_are_record_errors_naming_the_field(call, field):
    with pytest.raises(RecordError, match=f"^{field}: "):
        call()


def test_the_largest_values_the_columns_hold_are_accepted():
    assert parse_contrato({**RECORD, "num_parcelas": 2**31 - 1}, "787010")["num_parcelas"] == (
        2**31 - 1
    )
    assert integer(2**63 - 1, "n") == 2**63 - 1 and integer(-(2**63), "n") == -(2**63)
    assert money("9.999.999.999.999.999,99") == Decimal("9999999999999999.99")
    assert money(-(10**16) + 1) == Decimal(-(10**16) + 1)
    assert decimal("1" * 131072, "q") == Decimal("1" * 131072)


@pytest.mark.parametrize("bad", ["78701090000004", -5, 0, 2**63, 1.0, True, None, ""])
def test_ids_are_positive_json_integers_that_fit_a_bigint(bad):
    with pytest.raises(RecordError, match="^id: "):
        parse_contrato({**RECORD, "id": bad}, "787010")


def test_the_bookkeeping_id_is_best_effort_but_never_beyond_a_bigint():
    assert record_id({"id": "78701090000004"}) == 78701090000004
    assert record_id({"id": -5}) == -5
    assert record_id({"id": 10**20}) is None and record_id({"id": "x"}) is None


def test_reject_reasons_show_at_most_80_characters_of_the_value():
    with pytest.raises(RecordError) as err:
        money("x" * 2_000_000, "valor_global")
    assert len(str(err.value)) < 200 and "2.000.002 caracteres" in str(err.value)


def test_a_name_with_a_nul_is_no_unidade():
    record = {
        **RECORD,
        "contratante": {"orgao": {"unidade_gestora": {"codigo": "1", "nome": "a\x00"}}},
    }
    assert unidade_of(record) is None
