"""Red flags at the scale of the whole federal government: a synthetic warehouse of N contracts
(default 1,000,000; 3 historico terms, 2 empenhos, 3 faturas and 1 garantia each, a few percent
tripping each rule),
then a first refresh of ``sinais_de_alerta`` (every flag opens), and an unchanged one (nothing
opens, nothing resolves, no alert). Target: each refresh within the portal's 30 minutes.

    python benchmarks/bench_sinais.py [--contracts 1000000]
"""

import argparse
import time
from datetime import date

import sqlalchemy as sa
from _common import scratch_database

from licitacao_pipeline.flows import sinais
from licitacao_pipeline.warehouse.engine import get_engine

HOJE = date(2026, 12, 2)
BUDGET_S = 30 * 60

# Every contract signed 2025-01-10 for 1.000,00 (+ its index's cents), 24 months; by index:
# 1 in 37 ended 40 days ago and is still Ativo, 1 in 41 runs 11 years, 1 in 43 ends in 10 days
# and is prorrogável; its terms: the original, an aditivo of +30 % (1 in 29) or +10 %, a
# reajuste; its empenhos: 60 % and 50 % of its value (paid above it) 1 in 31, else 40 % + 10 %.
CONTRATOS = """
INSERT INTO contratos (id, uasg, numero, payload, payload_hash, situacao, receita_despesa,
    prorrogavel, objeto, amparo_legal, data_assinatura, vigencia_inicio, vigencia_fim,
    valor_inicial, valor_global, fornecedor_nome)
SELECT i, lpad((i % 3000)::text, 6, '0'), lpad((i % 99999)::text, 5, '0') || '/2025', '{}',
       'h' || i, 'Ativo', 'Despesa', CASE WHEN i % 43 = 0 THEN 'Sim' ELSE 'Não' END,
       'Serviços continuados', 'Lei 14.133/2021', DATE '2025-01-10', DATE '2025-01-10',
       CASE WHEN i % 37 = 0 THEN DATE '2026-10-23'
            WHEN i % 41 = 0 THEN DATE '2036-01-10'
            WHEN i % 43 = 0 THEN DATE '2026-12-12'
            ELSE DATE '2027-01-09' END,
       1000 + (i % 100) / 100.0, 1000 + (i % 100) / 100.0, 'EMPRESA ' || (i % 5000)
FROM generate_series(1, :n) AS i
"""
TERMOS = """
INSERT INTO contratos_historico (contrato_id, id, tipo, codigo_tipo, data_assinatura,
    valor_global, novo_valor_global, qualificacao_termo, payload, payload_hash)
SELECT c.id, c.id * 10 + k,
       CASE k WHEN 0 THEN 'Contrato' WHEN 1 THEN 'Termo Aditivo' ELSE 'Termo de Apostilamento' END,
       CASE k WHEN 0 THEN '50' WHEN 1 THEN '55' ELSE '56' END,
       DATE '2025-01-10' + 60 * k,
       c.valor_inicial,
       CASE k WHEN 0 THEN 0
              WHEN 1 THEN c.valor_inicial * CASE WHEN c.id % 29 = 0 THEN 1.3 ELSE 1.1 END
              ELSE c.valor_inicial * 1.2 END,
       CASE k WHEN 0 THEN NULL
              WHEN 1 THEN '[{"codigo": 1, "descricao": "ACRÉSCIMO / SUPRESSÃO"}]'::jsonb
              ELSE '[{"codigo": 3, "descricao": "REAJUSTE"}]'::jsonb END,
       '{}', 'h'
FROM contratos c CROSS JOIN generate_series(0, 2) AS k
"""
EMPENHOS = """
INSERT INTO contratos_empenhos (contrato_id, id, numero, pago, payload, payload_hash)
SELECT c.id, c.id * 10 + k, '2026NE' || (c.id * 10 + k),
       c.valor_global * CASE WHEN c.id % 31 = 0 THEN (0.6 - 0.1 * k) ELSE (0.4 - 0.3 * k) END,
       '{}', 'h'
FROM contratos c CROSS JOIN generate_series(0, 1) AS k
"""
# Its faturas: three of 30 % of its value, the last due 2026-09-30 and "Pendente" 1 in 47 (more
# than 30 days overdue), else all "Pago"; 1 in 53 has a fourth paid one (paid above, by faturas).
FATURAS = """
INSERT INTO contratos_faturas (contrato_id, id, numero, vencimento, valor, glosa, valorliquido,
    situacao, payload, payload_hash)
SELECT c.id, c.id * 10 + k, 'NF' || (c.id * 10 + k), DATE '2026-06-30' + 30 * k,
       c.valor_global * 0.3, 0, c.valor_global * 0.3,
       CASE WHEN k = 3 THEN 'Pago' WHEN k = 2 AND c.id % 47 = 0 THEN 'Pendente' ELSE 'Pago' END,
       '{}', 'h'
FROM contratos c CROSS JOIN generate_series(0, 3) AS k
WHERE k < 3 OR c.id % 53 = 0
"""
# Its garantia: 5 % of its value, due 90 days after its end; 1 in 59 expired 2026-11-01.
GARANTIAS = """
INSERT INTO contratos_garantias (contrato_id, id, tipo, valor, vencimento, payload, payload_hash)
SELECT c.id, c.id, 'Seguro-garantia', c.valor_global * 0.05,
       CASE WHEN c.id % 59 = 0 THEN DATE '2026-11-01' ELSE c.vigencia_fim + 90 END, '{}', 'h'
FROM contratos c
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=1_000_000)
    args = parser.parse_args()
    with scratch_database() as url:
        engine = get_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in (CONTRATOS, TERMOS, EMPENHOS, FATURAS, GARANTIAS):
                conn.execute(sa.text(statement), {"n": args.contracts})
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        print(f"{args.contracts:,} contracts written in {time.perf_counter() - started:.1f} s")
        first = sinais.atualizar(engine, HOJE, run_id="primeira")
        again = sinais.atualizar(engine, HOJE, run_id="segunda")
    opened = sum(first.abertos_por_regra.values())
    print(f"first refresh: {first.duracao_s:.1f} s, {opened:,} flags opened, "
          f"{first.alertas} alerts: {first.abertos_por_regra}")  # fmt: skip
    print(f"unchanged refresh: {again.duracao_s:.1f} s, {len(again.abertos)} opened, "
          f"{sum(again.resolvidos.values())} resolved, {again.alertas} alerts")  # fmt: skip
    worst = max(first.duracao_s, again.duracao_s)
    verdict = "met" if worst <= BUDGET_S else "NOT met"
    print(f"target: each refresh <= {BUDGET_S / 60:.0f} min: {verdict}")


if __name__ == "__main__":
    main()
