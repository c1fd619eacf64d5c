"""Checks every kind of input shares (config, files, command lines), written once."""

from __future__ import annotations

import re
from datetime import date

_UASG = re.compile(r"[0-9]{6}")
_BR_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def is_uasg(code: object) -> bool:
    """A UASG code: exactly 6 digits, as text (leading zeros are part of it)."""
    return isinstance(code, str) and _UASG.fullmatch(code) is not None


def parse_day(text: str) -> date | None:
    """``31/12/2026``, ``1/2/2026`` or ``2026-12-31``; None if it is not a real date."""
    text = text.strip()
    try:
        if m := _BR_DATE.fullmatch(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        return None
    return None


def positive_number(text: str) -> float | None:
    """``text`` as a positive finite number, or None when it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None
