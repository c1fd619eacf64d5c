"""Benchmark helpers: a simulator in its own process and a scratch database."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

from licitacao_pipeline.warehouse.engine import (
    dispose_engines,
    embedded_url,
    normalize_url,
    stop_embedded_server,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def simulator_process(uasg: str, contracts: int, latency: float = 0.0, seed: int = 1):
    """Run the simulator CLI in a child process (so its memory is not counted as ours)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "comprasnet_simulator",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--uasgs",
        uasg,
        "--contracts",
        str(contracts),
        "--latency",
        str(latency),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                control(base, "counts")
                break
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # never leave it running
            proc.kill()
            proc.wait(10)


def control(base: str, name: str, payload: dict | None = None):
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        f"{base}/_sim/{name}", data=data, method="POST" if data or name != "counts" else "GET"
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
    return json.loads(body) if body else None


@contextlib.contextmanager
def scratch_database():
    """A fresh database on DATABASE_URL's server or on a temporary embedded PostgreSQL, which
    is stopped and deleted afterwards (nothing is left running)."""
    if os.environ.get("DATABASE_URL"):
        admin_url = normalize_url(os.environ["DATABASE_URL"])
        tmp = None
    else:
        tmp = Path(tempfile.mkdtemp(prefix="licbench-"))
        tmp.chmod(0o755)  # the embedded server runs as its own user when we are root
        admin_url = embedded_url(pgdata=tmp / "pgdata")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if tmp is not None:
            stop_embedded_server(tmp / "pgdata")
            shutil.rmtree(tmp, ignore_errors=True)
