"""Database selection: driver naming and the embedded PostgreSQL shared race-free."""

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa

from licitacao_pipeline.warehouse.engine import normalize_url, stop_embedded_server

STARTER = """
import threading
from licitacao_pipeline.warehouse.engine import get_engine
urls, errors = [], []
def go():
    try:
        with get_engine().connect() as conn:
            urls.append(conn.exec_driver_sql("select current_database()").scalar_one())
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=go) for _ in range(3)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(urls), errors)
assert len(urls) == 3, errors
"""


def test_driver_is_named_explicitly():
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg2"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg2"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


def test_embedded_server_starts_once_for_concurrent_processes_and_threads(repo_root):
    data = repo_root / ".data" / f"race-{uuid.uuid4().hex[:8]}"
    env = {"LICITACAO_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"}
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", STARTER],
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outs, strict=True):
            assert proc.returncode == 0, out + err[-2000:]
        from licitacao_pipeline.warehouse.engine import embedded_url

        engine = sa.create_engine(embedded_url(data / "pgdata"), poolclass=sa.NullPool)
        with engine.connect() as conn:  # migrated exactly once, to head
            versions = conn.exec_driver_sql("select version_num from alembic_version").all()
        engine.dispose()
        assert len(versions) == 1
    finally:
        stop_embedded_server(data / "pgdata")
        shutil.rmtree(data, ignore_errors=True)


def test_migrate_command_brings_an_empty_database_to_head(pg_admin_url):
    from licitacao_pipeline.warehouse.migrate import head_revision

    name = f"lic_migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = pg_admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        cli = str(Path(sys.executable).with_name("licitacao"))
        proc = subprocess.run(
            [cli, "migrate", "--database-url", url], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"revisão {head_revision()}" in proc.stdout
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        engine.dispose()
        assert {"contratos", "contratos_empenhos", "rejected_records", "alertas"} <= tables
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_embedded_server_is_started_again_after_it_stopped_in_a_running_process(repo_root):
    """A long-lived process (a code server evaluating sensors) must not keep a dead server's
    URL: the next call starts the server again."""
    import os
    import signal
    import time

    from licitacao_pipeline.warehouse.engine import embedded_url

    pgdata = repo_root / ".data" / f"restart-{uuid.uuid4().hex[:8]}" / "pgdata"
    pgdata.parent.mkdir(parents=True)

    def answers() -> int:
        engine = sa.create_engine(embedded_url(pgdata), poolclass=sa.NullPool)
        with engine.connect() as conn:
            value = conn.exec_driver_sql("select 1").scalar_one()
        engine.dispose()
        return value

    try:
        assert answers() == 1
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)  # "fast shutdown", as a reboot or an operator would
        deadline = time.monotonic() + 30
        while (pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answers() == 1
    finally:
        stop_embedded_server(pgdata)
        shutil.rmtree(pgdata.parent, ignore_errors=True)
