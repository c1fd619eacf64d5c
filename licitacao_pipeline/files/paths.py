"""Paths confined to a directory: resolved (symlinks followed) and checked to stay inside it
before anything is read or written."""

from __future__ import annotations

import re
from pathlib import Path

# A plain file name: no separator, no leading dot, no "..", nothing a shell or a spreadsheet
# link would interpret (matched whole: "$" would let a trailing newline through).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,119}")
# Names Windows reserves for devices, with any extension and in any case (the export directory
# may be a share that Windows users open): such a file cannot be opened there.
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?", re.IGNORECASE)


class UnsafePathError(ValueError):
    """A path that would leave its directory (``..``, absolute elsewhere, a symlink out)."""


def inside(root: Path, candidate: str | Path) -> Path:
    """``candidate`` (relative to ``root``, or absolute) resolved; refused unless it is inside
    ``root`` once every symlink is followed."""
    base = root.resolve()
    path = Path(candidate)
    resolved = (path if path.is_absolute() else base / path).resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise UnsafePathError(f"{candidate} está fora de {base}")
    return resolved


def plain_name(name: str) -> str:
    """``name`` if it is a plain file name (letters, digits, ``_.-``; 120 characters at most;
    not starting or ending with a dot; no ``..``; not a name Windows reserves, such as ``CON``
    or ``nul.csv``); otherwise ``UnsafePathError``."""
    if not _NAME.fullmatch(name) or ".." in name or name.endswith("."):
        raise UnsafePathError(
            f"{name!r} não é um nome de arquivo simples (letras, dígitos, '_', '.', '-'; no "
            "máximo 120 caracteres; sem diretório, sem ponto no início ou no fim, sem '..')"
        )
    if _RESERVED.fullmatch(name):
        raise UnsafePathError(
            f"{name!r} é um nome que o Windows reserva para um dispositivo (CON, PRN, AUX, NUL, "
            "COM1-9, LPT1-9, com qualquer extensão): escolha outro"
        )
    return name
