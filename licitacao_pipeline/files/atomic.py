"""Atomic file writes: a temporary file beside the target, renamed over it when complete.
Readers see the old file or the whole new one, never a partial one; a failure leaves no
temporary file behind (a killed process may leave a hidden ``.<name>.*.tmp``, which the
cleanup job removes with the other old files)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally, sync it to disk
    and rename it over ``path``; otherwise delete it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from its readers
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_text(path: Path, bom: bool = False) -> Iterator[IO[str]]:
    """A UTF-8 text handle (with a BOM if asked, for Excel) on a temporary file that becomes
    ``path`` when the block ends normally. ``newline=""``: the csv module writes CRLF."""
    with (
        atomic_path(path) as tmp,
        open(tmp, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle,
    ):
        yield handle
