"""Open a file inside a directory race-free: directory by directory from the root, never
following a symbolic link, the file itself without blocking (a FIFO or a device does not hang)
and checked as a regular file by its descriptor. What was opened is what is then read: a path
swapped after a check cannot lead elsewhere, because there is no separate check."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class Recusa(ValueError):
    """Why a path was not opened: ``motivo`` is ``vazio``, ``nul``, ``fora`` (outside the root,
    or through a symbolic link), ``inexistente`` or ``irregular`` (not a regular file)."""

    def __init__(self, motivo: str, path: Path | None = None):
        super().__init__(motivo)
        self.motivo, self.path = motivo, path


def relative(root: Path, given: str) -> list[str]:
    """The components of ``given`` below ``root`` (``given`` relative to it, or absolute under
    it), normalized lexically: with no link followed, ``a/../b`` is ``b``."""
    if not given or not given.strip():
        raise Recusa("vazio")
    if "\x00" in given:
        raise Recusa("nul")
    path = os.path.normpath(given)
    if os.path.isabs(path):
        for base in {os.path.normpath(root), os.path.normpath(root.resolve())}:
            if path.startswith(base.rstrip(os.sep) + os.sep):
                path = path[len(base.rstrip(os.sep)) + 1 :]
                break
        else:
            raise Recusa("fora")
    parts = path.split(os.sep)
    if path in (".", "") or parts[0] == "..":
        raise Recusa("fora")
    return parts


def open_inside(root: Path, given: str) -> tuple[int, Path]:
    """A read-only descriptor of the regular file ``given`` inside ``root``, and its path."""
    parts = relative(root, given)
    base = root.resolve()
    shown = base.joinpath(*parts)
    try:
        fd = os.open(base, _DIR & ~os.O_NOFOLLOW)  # the configured root itself may be a link
    except OSError:
        raise Recusa("inexistente", shown) from None
    try:
        for i, part in enumerate(parts):
            child = _step(fd, part, _FILE if i == len(parts) - 1 else _DIR, shown)
            os.close(fd)
            fd = child
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Recusa("irregular", shown)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return fd, shown
    except BaseException:
        os.close(fd)
        raise


def _step(parent: int, name: str, flags: int, shown: Path) -> int:
    """Open ``name`` in the directory ``parent``."""
    try:
        return os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        raise _why(parent, name, exc, shown) from None


def _why(parent: int, name: str, exc: OSError, shown: Path) -> Recusa:
    with contextlib.suppress(OSError):
        if stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode):
            return Recusa("fora", shown)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return Recusa("inexistente", shown)
    if exc.errno == errno.ELOOP:
        return Recusa("fora", shown)
    return Recusa("irregular", shown)
