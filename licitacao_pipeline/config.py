"""UASG configuration: which buying units are synced and at what local hour.

One place, overridable per deployment through ``LICITACAO_UASGS`` (comma-separated codes,
each optionally ``@HH:MM``), e.g. ``LICITACAO_UASGS=153165@08:30,787010``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path

TIMEZONE = "America/Sao_Paulo"
DEFAULT_DATA_DIR = ".data"
DEFAULT_UASGS = "787010@09:00,787000@11:00,770001@14:00,787400@16:00,787700@18:00"
DEFAULT_WINDOW = "06:00-22:00"

_CODE = re.compile(r"^\d{6}$")
_HOUR = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class UasgConfigError(ValueError):
    """Raised at load time for a malformed UASG list or schedule window."""


@dataclass(frozen=True)
class Uasg:
    codigo: str
    hora: time | None = None  # None: gets a staggered slot, see ``schedule_times``


def _parse_hour(text: str, entry: str, var: str) -> time:
    m = _HOUR.match(text.strip())
    if not m:
        raise UasgConfigError(f"{var}: invalid hour {text!r} in entry {entry!r} (expected HH:MM)")
    return time(int(m.group(1)), int(m.group(2)))


def parse_uasgs(spec: str, var: str = "LICITACAO_UASGS") -> tuple[Uasg, ...]:
    """Parse ``"787010@09:00,153165"`` into Uasg entries, failing on the first bad entry."""
    uasgs: list[Uasg] = []
    seen: set[str] = set()
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        codigo, _, hora = entry.partition("@")
        codigo = codigo.strip()
        if not _CODE.match(codigo):
            raise UasgConfigError(
                f"{var}: invalid UASG code {codigo!r} in entry {entry!r} "
                "(expected 6 digits, leading zeros kept)"
            )
        if codigo in seen:
            raise UasgConfigError(f"{var}: UASG {codigo} is listed twice")
        seen.add(codigo)
        uasgs.append(Uasg(codigo, _parse_hour(hora, entry, var) if hora else None))
    if not uasgs:
        raise UasgConfigError(f"{var}: no UASG configured")
    return tuple(uasgs)


def parse_window(spec: str, var: str = "LICITACAO_SCHEDULE_WINDOW") -> tuple[time, time]:
    start, sep, end = spec.partition("-")
    if not sep:
        raise UasgConfigError(f"{var}: invalid window {spec!r} (expected HH:MM-HH:MM)")
    t0, t1 = _parse_hour(start, spec, var), _parse_hour(end, spec, var)
    if t1 <= t0:
        raise UasgConfigError(f"{var}: window end {t1:%H:%M} must be after start {t0:%H:%M}")
    return t0, t1


def load_uasgs(env: Mapping[str, str] | None = None) -> tuple[Uasg, ...]:
    env = os.environ if env is None else env
    return parse_uasgs(env.get("LICITACAO_UASGS") or DEFAULT_UASGS)


def load_window(env: Mapping[str, str] | None = None) -> tuple[time, time]:
    env = os.environ if env is None else env
    return parse_window(env.get("LICITACAO_SCHEDULE_WINDOW") or DEFAULT_WINDOW)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def schedule_times(uasgs: tuple[Uasg, ...], window: tuple[time, time]) -> dict[str, time]:
    """Daily local start time per UASG; UASGs without an hour are spread evenly over the window.

    Slots are placed at the centres of equal sub-windows and nudged to the next free minute so
    that no two UASGs (configured or automatic) start at the same minute.
    """
    taken = {_minutes(u.hora) for u in uasgs if u.hora is not None}
    pending = [u for u in uasgs if u.hora is None]
    start, end = _minutes(window[0]), _minutes(window[1])
    if len(pending) > end - start:
        raise UasgConfigError(f"{len(pending)} UASGs do not fit in the schedule window")
    result = {u.codigo: u.hora for u in uasgs if u.hora is not None}
    step = (end - start) / max(len(pending), 1)
    for i, u in enumerate(pending):
        slot = start + int(step * (i + 0.5))
        while slot in taken:
            slot = start + (slot + 1 - start) % (end - start)
        taken.add(slot)
        result[u.codigo] = time(slot // 60, slot % 60)
    return {u.codigo: result[u.codigo] for u in uasgs}


def uasg_label(codigo: str, nome: str | None = None) -> str:
    """How a UASG is shown to people: ``787010 (CENTRO DE INTENDÊNCIA ...)``."""
    return f"{codigo} ({nome})" if nome else codigo


def data_dir() -> Path:
    """Where local state lives (embedded PostgreSQL, exports): ``LICITACAO_DATA_DIR``."""
    return Path(os.environ.get("LICITACAO_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


def export_dir() -> Path:
    """Where export files are written: ``LICITACAO_EXPORT_DIR`` (default ``<data dir>/exports``)."""
    configured = os.environ.get("LICITACAO_EXPORT_DIR")
    return Path(configured).resolve() if configured else data_dir() / "exports"
