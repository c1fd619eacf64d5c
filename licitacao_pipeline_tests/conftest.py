"""Shared fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL is set) and the simulator.

Each test gets a fresh database cloned from a migrated template, so tests are isolated and can
run in parallel under pytest-xdist.
"""

import os
import uuid
import warnings
from pathlib import Path

# Step retries stay on (they are part of what is tested) but fast; set before assets import.
os.environ.setdefault("LICITACAO_STEP_RETRIES", "1")
os.environ.setdefault("LICITACAO_STEP_RETRY_DELAY_SECONDS", "0.1")

import pytest
import sqlalchemy as sa

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.warehouse.engine import dispose_engines, embedded_url, normalize_url
from licitacao_pipeline.warehouse.migrate import upgrade

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@pytest.fixture(scope="session")
def pg_admin_url() -> sa.URL:
    """URL of the maintenance database of the test server.

    The embedded server lives under the project's ``.data/`` (not pytest's tmp dir, whose 0700
    permissions the unprivileged postgres user cannot traverse) and is shared by xdist workers.
    """
    if os.environ.get("TEST_DATABASE_URL"):
        return normalize_url(os.environ["TEST_DATABASE_URL"])
    root = Path(__file__).resolve().parent.parent / ".data"
    root.mkdir(exist_ok=True)
    return embedded_url(root / "test-pgdata")


def _admin(url: sa.URL) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


@pytest.fixture(scope="session")
def template_db(pg_admin_url, worker_id) -> str:
    name = f"lic_template_{worker_id}_{uuid.uuid4().hex[:6]}"
    admin = _admin(pg_admin_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(pg_admin_url.set(database=name), poolclass=sa.NullPool)
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_url(pg_admin_url, template_db) -> str:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"lic_test_{uuid.uuid4().hex[:10]}"
    admin = _admin(pg_admin_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    url = pg_admin_url.set(database=name).render_as_string(hide_password=False)
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(db_url) -> sa.Engine:
    eng = sa.create_engine(db_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def sim():
    with ComprasNetSimulator(seed=7, contracts={"787010": 25, "787000": 8}) as s:
        yield s


@pytest.fixture
def resources(sim, db_url) -> dict:
    """Resources pointing at the simulator over HTTP and the test database, with fast retries."""
    return {
        "comprasnet": ComprasNetResource(
            base_url=sim.base_url,
            backoff_factor=0.05,
            backoff_max=0.2,
            read_timeout=2.0,
            listing_read_timeout=2.0,
            connect_timeout=2.0,
        ),
        "warehouse": WarehouseResource(database_url=db_url),
    }


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
