"""The import file as a whole: opened race-free inside the import directory, then read once
and checked (text, encoding, no NUL) before anything is changed, into a private copy that is
what gets parsed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from licitacao_pipeline.errors import ConfigRecusada, Recusado
from licitacao_pipeline.files import codificacao
from licitacao_pipeline.files.abertura import Recusa, open_inside, relative


class ImportConfigError(ConfigRecusada):
    """An invalid option (``path`` outside the import directory, ...); nothing was read."""


class ImportFileError(Recusado, ValueError):
    """The file is refused as a whole; nothing was changed."""

    prefixo = "arquivo recusado, nada foi alterado"


class ImportRejectsError(OSError):
    """The rejects file could not be written (a full disk): the import rolled back."""


def open_source(root: Path, given: str) -> tuple[IO[bytes], Path]:
    """The ``.csv`` file ``given`` (relative to ``root``, or absolute inside it), opened once,
    directory by directory, following no symbolic link, without blocking (a FIFO is refused,
    not waited on), and checked as a regular file by its descriptor."""
    try:
        relative(root, given)  # outside, empty, NUL: said before the name's extension
        if Path(given.strip()).suffix.lower() != ".csv":
            raise ImportConfigError("path", f"{given} não é um arquivo .csv")
        fd, path = open_inside(root, given)
    except Recusa as exc:
        why = _REASONS[exc.motivo].format(given=given, root=root.resolve())
        raise ImportConfigError("path", why) from None
    return os.fdopen(fd, "rb"), path


_REASONS = {
    "vazio": "vazio (informe um arquivo .csv do diretório de importação)",
    "nul": "contém um caractere NUL (não é um nome de arquivo)",
    "fora": "{given} está fora do diretório de importação {root} (LICITACAO_IMPORT_DIR), ou é "
    "alcançado por um link simbólico (links não são seguidos); só arquivos de lá são lidos",
    "inexistente": "{given}: arquivo inexistente em {root}",
    "irregular": "{given} não é um arquivo regular",
}


def source_path(root: Path, given: str) -> Path:
    """Check ``given`` as :func:`open_source` does (open it, then close it): for a config
    error before any work. The import opens it again, and reads only what it opened then."""
    raw, path = open_source(root, given)
    raw.close()
    return path


def check_text(raw: IO[bytes], name: str, encoding: str, copy: IO[bytes] | None = None) -> str:
    """``files.codificacao.check_text``; a refused text refuses the whole file."""
    try:
        return codificacao.check_text(raw, name, encoding, copy)
    except codificacao.TextoRecusado as exc:
        raise ImportFileError(str(exc)) from None
