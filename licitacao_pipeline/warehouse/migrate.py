"""Alembic migrations applied programmatically, serialized across processes by an advisory lock."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x4C1C17A  # arbitrary, constant: "migrations in progress"
_migrated: set[str] = set()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to ``revision``; concurrent callers wait on a PostgreSQL advisory lock."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        command.upgrade(alembic_config(conn), revision)


def ensure_migrated(engine: Engine) -> None:
    """Apply pending migrations once per engine per process (cheap check afterwards)."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _migrated:
        return
    if current_revision(engine) != head_revision():
        upgrade(engine)
    _migrated.add(key)
