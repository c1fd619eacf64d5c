"""The running ``licitacao dev``, as another shell finds it: its webserver's URL, its
``DAGSTER_HOME``, its simulator. ``licitacao dev`` writes ``<data dir>/licitacao-dev.json`` when it
starts and removes it when it stops; every other ``licitacao`` command reads it, so a second
terminal needs no environment variable. The file holds no secret (no database URL).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from licitacao_pipeline import settings

NOME = "licitacao-dev.json"


@dataclass(frozen=True)
class InstanciaDev:
    pid: int
    url: str  # the webserver, e.g. http://127.0.0.1:3000
    dagster_home: str
    comprasnet_base_url: str | None = None  # the simulator's, with --simulator

    @property
    def viva(self) -> bool:
        """Its process still runs (a file left by a killed ``licitacao dev`` is not trusted)."""
        try:
            proc = psutil.Process(self.pid)
            return proc.status() != psutil.STATUS_ZOMBIE and "dev" in proc.cmdline()
        except psutil.Error:
            return False


def _arquivo(diretorio: Path | None = None) -> Path:
    return (diretorio or settings.load().data_dir) / NOME


def registrar(instancia: InstanciaDev, diretorio: Path | None = None) -> Path:
    """Write the state file atomically (readers see the old one or the whole new one)."""
    path = _arquivo(diretorio)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{NOME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(instancia)))
    os.replace(tmp, path)
    return path


def remover(diretorio: Path | None = None, pid: int | None = None) -> None:
    """Remove the state file (only if it is ``pid``'s, when given)."""
    path = _arquivo(diretorio)
    atual = encontrar(diretorio, vivas=False)
    if pid is None or (atual is not None and atual.pid == pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def encontrar(diretorio: Path | None = None, *, vivas: bool = True) -> InstanciaDev | None:
    """The ``licitacao dev`` of this data directory, if one runs (or its file, ``vivas=False``)."""
    try:
        data = json.loads(_arquivo(diretorio).read_text())
        instancia = InstanciaDev(**data)
    except (OSError, ValueError, TypeError):
        return None
    return instancia if not vivas or instancia.viva else None
