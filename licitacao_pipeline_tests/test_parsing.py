from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licitacao_pipeline.comprasnet.parsing import (
    RecordError,
    content_hash,
    day,
    decimal,
    money,
    parse_contrato,
    timestamp,
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
    assert within_vigencia(row, date(2024, 12, 31), 365)
    assert not within_vigencia(row, date(2025, 1, 2), 365)
    assert within_vigencia(row, date(2030, 1, 1), None)
    assert within_vigencia({"vigencia_fim": None}, date(2030, 1, 1), 1)
