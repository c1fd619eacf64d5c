"""Use case: the daily report of guarantees (tab ``garantias``) of contracts in force that expire
within 90 days or already expired, beside the expiring-contracts report: the table
``garantias_a_vencer`` rewritten from the warehouse, then its CSV."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.files.cells import brl, safe_text
from licitacao_pipeline.files.paths import inside
from licitacao_pipeline.flows import portal
from licitacao_pipeline.flows.portal import Report
from licitacao_pipeline.warehouse import portal as sql

CSV_HEADER = [
    "UASG",
    "Unidade",
    "Número do contrato",
    "Fornecedor",
    "Garantia",
    "Valor (R$)",
    "Vencimento",
    "Dias para o vencimento",
    "Fim da vigência do contrato",
]


def csv_row(row: Mapping[str, Any]) -> list[str]:
    """The report's cells: text from the API neutralized; numbers and dates formatted here."""
    fim = row["vigencia_fim"]
    return [
        row["uasg"],
        *(safe_text(row[c]) for c in ("unidade_nome", "numero", "fornecedor_nome", "tipo")),
        brl(row["valor"]) if row["valor"] is not None else "",
        f"{row['vencimento']:%d/%m/%Y}",
        str(row["dias_para_vencimento"]),
        f"{fim:%d/%m/%Y}" if fim else "",
    ]


def write_report(engine: Engine, directory: Path, day: date) -> Report:
    """Rewrite ``garantias_a_vencer``, then ``garantias_a_vencer_AAAAMMDD.csv`` in
    ``directory``: the name is generated, never given."""
    path = inside(directory, f"garantias_a_vencer_{day:%Y%m%d}.csv")
    return portal.write_report(engine, path, sql.replace_garantias_a_vencer, CSV_HEADER, csv_row)
