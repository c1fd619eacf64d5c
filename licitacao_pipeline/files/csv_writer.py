"""Streaming CSV: a header of field names, then rows formatted by kind (``cells.csv_cell``)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from licitacao_pipeline.files.cells import Kind, Style, csv_cell

Field = tuple[str, Kind]


class CsvWriter:
    """Rows of ``fields`` into ``handle``; money and dates in ``style``; text neutralized."""

    def __init__(self, handle: IO[str], fields: Sequence[Field], style: Style, delimiter: str):
        self._writer = csv.writer(handle, delimiter=delimiter)
        self._fields = list(fields)
        self._style = style
        self.rows = 0
        self._writer.writerow([name for name, _ in self._fields])

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self._writer.writerow(
                [csv_cell(kind, row[name], self._style) for name, kind in self._fields]
            )
            self.rows += 1
