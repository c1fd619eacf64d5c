"""Cell values for spreadsheets and documents: exact money and numbers from ``Decimal`` (never
float), dates, and text that a spreadsheet will not run as a formula."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

Style = Literal["br", "iso"]
# A spreadsheet may run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str | None) -> str:
    """A text cell a spreadsheet will not run as a formula (prefixed with ``'``)."""
    text = value or ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralize(text: str) -> str:
    """The inverse of ``safe_text``: ``'=1`` -> ``=1``; anything else unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def number(value: Decimal, style: Style = "br", places: int | None = None) -> str:
    """Exact decimal text, ``br`` ``1.234,5`` or ``iso`` ``1234.5``; ``places`` fixes the
    number of decimals (money: 2), otherwise the value's own scale is kept."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    if style == "iso":
        return f"{value:f}"
    us = f"{value:,f}"
    return us.replace(",", "_").replace(".", ",").replace("_", ".")


def brl(value: Decimal | None) -> str:
    """Brazilian money text, exact from the Decimal: ``Decimal('-1234.5')`` -> ``-1.234,50``."""
    return "" if value is None else number(value, "br", 2)


def thousands(n: int) -> str:
    """``12345`` -> ``12.345`` (counts shown to people)."""
    return f"{n:,}".replace(",", ".")


def day(value: date, style: Style = "br") -> str:
    """``31/12/2026`` (br) or ``2026-12-31`` (iso)."""
    return f"{value:%d/%m/%Y}" if style == "br" else value.isoformat()


# Kinds of exported values; each writer formats a value by its kind.
Kind = Literal["text", "int", "money", "decimal", "date", "timestamp", "json"]


def csv_cell(kind: Kind, value: Any, style: Style) -> str:
    """A CSV cell: numbers and dates in ``style``; text neutralized against formulas."""
    if value is None:
        return ""
    if kind == "money":
        return number(value, style, 2)
    if kind == "decimal":
        return number(value, style)
    if kind == "date":
        return day(value, style)
    if kind == "timestamp":
        return value.isoformat()
    if kind == "json":
        return safe_text(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if kind == "int":
        return str(value)
    return safe_text(str(value))


def plain(kind: Kind, value: Any) -> Any:
    """A JSON-ready value: money and decimals as exact ISO text (``"1234.56"``), dates and
    timestamps ISO, integers as numbers, JSON as it is."""
    if value is None or kind in ("json", "int"):
        return value
    if kind == "money":
        return number(value, "iso", 2)
    if kind == "decimal":
        return number(value, "iso")
    if kind in ("date", "timestamp"):
        assert isinstance(value, (date, datetime))
        return value.isoformat()
    return str(value)
