"""Metadata values shared by the assets: Markdown tables the Dagster UI renders."""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from licitacao_pipeline.textos import curto


def _cell(value: Any) -> str:
    """One cell: one line, capped (values come from the API: an objeto may be megabytes)."""
    return curto(str("" if value is None else value)).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))
