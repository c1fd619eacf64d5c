"""How a PDF export presents a contract: a landscape table of the columns people read
(observação and tabs are left to the other formats). Imported only for a PDF export: fpdf2
takes ~0.3 s to import, which no other run should pay."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from licitacao_pipeline.files.atomic import atomic_path
from licitacao_pipeline.files.cells import brl, day
from licitacao_pipeline.files.pdf_writer import Column, PdfTable
from licitacao_pipeline.flows.exportacao_formatos import Rows, TabRows
from licitacao_pipeline.flows.exportacao_pedido import Targets

PDF_COLUMNS = [
    Column("UASG", 9),
    Column("Número", 11),
    Column("Fornecedor", 30, max_chars=160),
    Column("Objeto", 36, max_chars=300),
    Column("Situação", 9),
    Column("Vigência", 14),
    Column("Valor global (R$)", 22, align="R"),
    Column("Gestor / Fiscal", 22, max_chars=170),
    Column("Prioridade", 12),
    Column("Alertar em", 11),
    Column("Sinais de alerta", 16, max_chars=300),
]


def _sinais(flags) -> str:
    """A contract's open flags, the most serious first: "alta: acrescimo_acima_do_limite"."""
    return "\n".join(f"{f['severidade']}: {f['regra']}" for f in flags)


def _pdf_cells(row: Mapping[str, Any], sinais: str = "") -> list[str]:
    def text(*names: str) -> str:
        return "\n".join(str(row[n]) for n in names if row[n])

    inicio, fim = row["vigencia_inicio"], row["vigencia_fim"]
    vigencia = "\n".join([day(inicio) if inicio else "", f"a {day(fim)}" if fim else ""]).strip()
    return [
        row["uasg"],
        text("numero"),
        text("fornecedor_documento", "fornecedor_nome"),
        text("objeto"),
        text("situacao"),
        vigencia,
        brl(row["valor_global"]),
        text("gestor", "fiscal"),
        text("prioridade"),
        day(row["alertar_em"]) if row["alertar_em"] else "",
        sinais,
    ]


class PdfSink:
    def __init__(self, paths: Targets, files: contextlib.ExitStack, title: str, subtitle: str):
        self.tmp = files.enter_context(atomic_path(paths.main))
        self.table = PdfTable(title, subtitle, PDF_COLUMNS)

    def write(self, rows: Rows, tabs: TabRows) -> None:
        for row in rows:
            self.table.add_row(_pdf_cells(row, _sinais(tabs["sinais"][row["contrato_id"]])))

    def close(self) -> dict[str, int]:
        self.table.save(self.tmp)
        return {}
