"""How each export format presents a contract: one sink per format takes chunks of contracts
(with their tabs) and writes them through the streaming writers of ``licitacao_pipeline.files``.

CSV: the contracts' columns, and one extra file per tab. JSON / NDJSON: one object per contract,
tabs nested as lists. XML: one ``<contrato>`` per contract, tabs as nested lists. PDF: a
landscape table of the columns people read (observação and tabs are left to the other formats).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from licitacao_pipeline.comprasnet.abas import SPECS
from licitacao_pipeline.files.atomic import atomic_text
from licitacao_pipeline.files.cells import day, plain, thousands
from licitacao_pipeline.files.csv_writer import CsvWriter
from licitacao_pipeline.files.json_writer import JsonWriter
from licitacao_pipeline.files.xml_writer import XmlWriter
from licitacao_pipeline.flows.exportacao_pedido import Request, Targets
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.warehouse import exportacao as sql

ITEM_TAG = {
    **{aba: spec.singular for aba, spec in SPECS.items()},
    "alteracoes": "alteracao",
    "sinais": "sinal",
}
Rows = Sequence[Mapping[str, Any]]
TabRows = Mapping[str, Mapping[int, Rows]]  # aba -> contrato_id -> rows


def _tab_fields(aba: str, request: Request) -> list[tuple[str, Any]]:
    return [(n, k) for n, k in sql.tab_fields(aba, request.dados_pessoais) if n != "contrato_id"]


# A tab file's first columns: the contract the row belongs to, named so that no tab field (an
# empenho's own ``numero``, say) can ever be mistaken for them.
CONTRATO_KEY = {"contrato_id": "contrato_id", "contrato_uasg": "uasg", "contrato_numero": "numero"}


class _CsvSink:
    """The contracts' file, and one file per tab (``contrato_id``, ``contrato_uasg``,
    ``contrato_numero`` first, then the tab's own fields)."""

    def __init__(self, request: Request, paths: Targets, files: contextlib.ExitStack):
        def writer(path: Path, fields) -> CsvWriter:
            handle = files.enter_context(atomic_text(path, bom=request.bom))
            return CsvWriter(handle, fields, request.style, request.delimiter)

        self.main = writer(paths.main, sql.contrato_fields(request.dados_pessoais))
        key = [("contrato_id", "int"), ("contrato_uasg", "text"), ("contrato_numero", "text")]
        self.tabs = {
            aba: writer(p, key + _tab_fields(aba, request)) for aba, p in paths.tabs.items()
        }

    def write(self, rows: Rows, tabs: TabRows) -> None:
        self.main.write(rows)
        for aba, writer in self.tabs.items():
            for row in rows:
                keys = {name: row[column] for name, column in CONTRATO_KEY.items()}
                writer.write({**item, **keys} for item in tabs[aba][row["contrato_id"]])

    def close(self) -> dict[str, int]:
        return {aba: w.rows for aba, w in self.tabs.items()}


def _plain_obj(row: Mapping[str, Any], fields) -> dict[str, Any]:
    return {name: plain(kind, row[name]) for name, kind in fields}


class _JsonSink:
    def __init__(self, request: Request, paths: Targets, files: contextlib.ExitStack):
        self.tabs, self.request = request.tabs, request
        self.fields = sql.contrato_fields(request.dados_pessoais)
        handle = files.enter_context(atomic_text(paths.main))
        self.writer = JsonWriter(handle, lines=request.format == "ndjson")
        self.tab_rows = dict.fromkeys(self.tabs, 0)

    def write(self, rows: Rows, tabs: TabRows) -> None:
        objects = []
        for row in rows:
            obj = _plain_obj(row, self.fields)
            for aba in self.tabs:
                items = tabs[aba][row["contrato_id"]]
                obj[aba] = [_plain_obj(item, _tab_fields(aba, self.request)) for item in items]
                self.tab_rows[aba] += len(items)
            objects.append(obj)
        self.writer.write(objects)

    def close(self) -> dict[str, int]:
        self.writer.close()
        return self.tab_rows


class _XmlSink:
    def __init__(self, request: Request, paths: Targets, files: contextlib.ExitStack, attrs):
        self.tabs, self.request = request.tabs, request
        self.fields = sql.contrato_fields(request.dados_pessoais)
        handle = files.enter_context(atomic_text(paths.main))
        self.writer = XmlWriter(handle, "contratos", attrs)
        self.tab_rows = dict.fromkeys(self.tabs, 0)

    def write(self, rows: Rows, tabs: TabRows) -> None:
        for row in rows:
            nested = []
            for aba in self.tabs:
                items = tabs[aba][row["contrato_id"]]
                nested.append((aba, ITEM_TAG[aba], _tab_fields(aba, self.request), items))
                self.tab_rows[aba] += len(items)
            self.writer.write("contrato", self.fields, row, nested)

    def close(self) -> dict[str, int]:
        self.writer.close()
        return self.tab_rows


def title_and_subtitle(request: Request, total: int, now: datetime) -> tuple[str, str]:
    """The PDF's heading: the filters in the title; count and time below."""
    f = request.filters
    shown = ", ".join(f.uasgs[:12]) + (f" e mais {len(f.uasgs) - 12}" if len(f.uasgs) > 12 else "")
    parts = [f"UASG {shown}" if f.uasgs else "todas as UASGs", f"situação: {f.situacao}"]
    if f.vigente_em:
        parts.append(f"vigentes em {day(f.vigente_em)}")
    local = now.astimezone(ZoneInfo(TIMEZONE))
    subtitle = (
        f"{thousands(total)} contrato{'s' if total != 1 else ''} · gerado em "
        f"{local:%d/%m/%Y %H:%M} (horário de Brasília)"
    )
    return "Contratos — " + "; ".join(parts), subtitle


def open_sink(request: Request, paths: Targets, files: contextlib.ExitStack, total, now):
    if request.format == "csv":
        return _CsvSink(request, paths, files)
    if request.format in ("json", "ndjson"):
        return _JsonSink(request, paths, files)
    if request.format == "xml":
        described = request.describe()
        attrs = {
            "gerado_em": now.isoformat(),
            "total": str(total),
            "uasgs": " ".join(described["uasgs"]),
            "situacao": described["situacao"],
            **({"vigente_em": described["vigente_em"]} if described["vigente_em"] else {}),
        }
        return _XmlSink(request, paths, files, attrs)
    from licitacao_pipeline.flows.exportacao_pdf import PdfSink  # fpdf2: ~0.3 s to import

    return PdfSink(paths, files, *title_and_subtitle(request, total, now))
