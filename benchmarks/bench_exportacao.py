"""Export memory benchmark: peak RSS of the process exporting 10,000 and 100,000 contracts as
CSV, JSON (also with the empenhos tab nested) and XML, and the ratio 100k / 10k (target: close
to 1, at most 1.2); PDF at 2,000 and 10,000 contracts, to show how fpdf2's in-memory document
grows (hence the PDF row cap).

The contracts (with unit names, follow-up for a third of them, two empenhos each) are seeded
with SQL (``generate_series``) into a scratch database; each export runs in a fresh process,
so ``ru_maxrss`` is that export's own peak. Output files go to a temporary directory, deleted.

    python benchmarks/bench_exportacao.py [--small 10000] [--large 100000]
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import scratch_database

UASGS = 20
VARIANTS = {  # name -> export options
    "csv": {"format": "csv"},
    "json": {"format": "json"},
    "json+empenhos": {"format": "json", "include_tabs": ["empenhos"]},
    "xml": {"format": "xml"},
}

SEED = """
INSERT INTO contratos (id, uasg, numero, tipo, categoria, processo, modalidade, objeto,
    fornecedor_tipo, fornecedor_cnpj_cpf_idgener, fornecedor_nome, situacao, data_assinatura,
    vigencia_inicio, vigencia_fim, valor_inicial, valor_global, valor_parcela, valor_acumulado,
    num_parcelas, unidade_gestora_nome, payload, payload_hash)
SELECT 10000000000 + g, '1' || lpad((g % :u)::text, 5, '0'),
       lpad((g % 99999 + 1)::text, 5, '0') || '/' || (2018 + g % 9),
       'Contrato', 'Serviços', '62055.' || lpad(g::text, 6, '0') || '/2025-11', 'Pregão',
       'Prestação de serviços de manutenção predial preventiva e corretiva, com fornecimento '
       || 'de peças e materiais, nas instalações da unidade nº ' || g,
       'JURIDICA', '12.345.678/0001-' || lpad((g % 100)::text, 2, '0'),
       'EMPRESA AÇÃO & FILHOS “LTDA” ' || g,
       CASE WHEN g % 5 = 0 THEN 'Inativo' ELSE 'Ativo' END,
       date '2024-01-01' + g % 700, date '2024-01-01' + g % 700, date '2025-06-01' + g % 900,
       g * 12.34, g * 123.45 + 0.01, -(g % 1000) - 0.99, 9999999999999.99,
       12, 'UNIDADE ' || g % :u, '{}'::jsonb, md5(g::text)
FROM generate_series(:first, :last) g
"""
SEED_TABS = """
INSERT INTO contratos_empenhos (contrato_id, id, numero, credor_nome, data_emissao,
    empenhado, liquidado, pago, payload, payload_hash)
SELECT 10000000000 + g, 2 * g + k, '2025NE' || lpad((2 * g + k)::text, 6, '0'),
       'EMPRESA AÇÃO & FILHOS LTDA', date '2025-01-01' + g % 300,
       g * 10.01, g * 5.5, g * 2.25, '{}'::jsonb, md5((2 * g + k)::text)
FROM generate_series(:first, :last) g, generate_series(0, 1) k
"""
SEED_FOLLOW_UP = """
INSERT INTO acompanhamento (contrato_id, uasg, numero, gestor, fiscal, prioridade, observacao,
    alertar_em)
SELECT id, uasg, numero, 'José da Silva', '=Fiscal ' || id, 'alta', 'Renovar; ver aditivo',
       date '2026-12-01'
FROM contratos WHERE id % 3 = 0 AND id BETWEEN 10000000000 + :first AND 10000000000 + :last
"""


def seed(db: str, first: int, last: int) -> None:
    import sqlalchemy as sa

    from licitacao_pipeline.warehouse.engine import get_engine

    params = {"first": first, "last": last, "u": UASGS}
    with get_engine(db).begin() as conn:
        if first == 1:
            conn.execute(
                sa.text(
                    "INSERT INTO unidades (codigo, nome) SELECT '1' || lpad(k::text, 5, '0'), "
                    "'UNIDADE DE ABASTECIMENTO ' || k FROM generate_series(0, :u - 1) k"
                ),
                params,
            )
        for statement in (SEED, SEED_TABS, SEED_FOLLOW_UP):
            conn.execute(sa.text(statement), params)


def phase(db: str, options: dict, out: str) -> None:
    """Child process: one export; prints what was measured as JSON."""
    from licitacao_pipeline.flows.exportacao import ExportOptions, export
    from licitacao_pipeline.warehouse.engine import get_engine

    engine = get_engine(db)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = export(engine, ExportOptions(**options), Path(out))
    print(
        json.dumps(
            {
                "rss_before_mb": before,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "seconds": time.perf_counter() - started,
                "rows": result.rows,
                "bytes": result.bytes,
            }
        )
    )
    result.path.unlink()


def measure(db: str, options: dict) -> dict:
    out = tempfile.mkdtemp(prefix="licbench-export-")
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--phase", json.dumps(options), "--db", db, "--out", out],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit(f"export {options} failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def line(name: str, m: dict) -> str:
    return (
        f"{name:<14} {m['rows']:>8,} rows {m['bytes'] / 1e6:>8.1f} MB in {m['seconds']:6.1f} s "
        f"({m['rows'] / max(m['seconds'], 1e-9):>7,.0f}/s), peak RSS {m['peak_rss_mb']:5.0f} MB "
        f"(after imports {m['rss_before_mb']:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.db, json.loads(args.phase), args.out)
        return
    results: dict[tuple[str, int], dict] = {}
    with scratch_database() as db:
        started = time.perf_counter()
        seed(db, 1, args.small)
        print(f"seeded {args.small:,} contracts in {time.perf_counter() - started:.1f} s")
        for name, options in VARIANTS.items():
            results[name, args.small] = m = measure(db, options)
            print(line(name, m))
        # PDF: every contract, and a fifth of them (4 of the 20 UASGs)
        fifth = [f"1{k:05d}" for k in range(UASGS // 5)]
        pdf_small = measure(db, {"format": "pdf", "uasgs": fifth})
        pdf_large = measure(db, {"format": "pdf"})
        print(line("pdf", pdf_small))
        print(line("pdf", pdf_large))
        started = time.perf_counter()
        seed(db, args.small + 1, args.large)
        print(f"seeded up to {args.large:,} contracts in {time.perf_counter() - started:.1f} s")
        for name, options in VARIANTS.items():
            results[name, args.large] = m = measure(db, options)
            print(line(name, m))
    print(
        f"\npeak RSS ratio {args.large:,} / {args.small:,} contracts (target close to 1, <= 1.2):"
    )
    for name in VARIANTS:
        small, large = results[name, args.small], results[name, args.large]
        print(
            f"  {name:<14} {large['peak_rss_mb'] / small['peak_rss_mb']:.2f} "
            f"({small['peak_rss_mb']:.0f} -> {large['peak_rss_mb']:.0f} MB)"
        )
    grown = pdf_large["peak_rss_mb"] - pdf_small["peak_rss_mb"]
    rows = pdf_large["rows"] - pdf_small["rows"]
    print(
        f"  pdf: {pdf_small['rows']:,} -> {pdf_large['rows']:,} contracts, peak "
        f"{pdf_small['peak_rss_mb']:.0f} -> {pdf_large['peak_rss_mb']:.0f} MB "
        f"(~{grown * 1024 / max(rows, 1):.1f} KB per contract: fpdf2 keeps the document in "
        "memory, hence the PDF row cap)"
    )


if __name__ == "__main__":
    main()
