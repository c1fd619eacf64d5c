"""Shared fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL is set) and the simulator.

Each test gets a fresh database cloned from a migrated template, so tests are isolated and can
run in parallel under pytest-xdist. Every session checks at its end that it left no process
running (``no_stray_processes``).
"""

import os
import uuid
import warnings
from pathlib import Path

# Step retries stay on (they are part of what is tested) but fast; set before assets import.
os.environ.setdefault("LICITACAO_STEP_RETRIES", "1")
os.environ.setdefault("LICITACAO_STEP_RETRY_DELAY_SECONDS", "0.1")
# The shared request budget (default 6 req/s) has its own tests (test_orcamento); elsewhere the
# simulator answers as fast as it can, in this process and in every one it starts.
os.environ.setdefault("COMPRASNET_MAX_RPS", "0")

import psutil
import pytest
import sqlalchemy as sa

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource
from licitacao_pipeline.warehouse.engine import dispose_engines, embedded_url, normalize_url
from licitacao_pipeline.warehouse.migrate import upgrade

from .containers import engine_process
from .processos import Sessao

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _project_root() -> Path:
    """The project directory, also when mutmut runs the tests from its copy in ``mutants/``
    (the copy then shares the project's test server instead of starting a second one)."""
    root = Path(__file__).resolve().parent.parent
    if root.name == "mutants" and (root.parent / "pyproject.toml").exists():
        return root.parent
    return root


# The embedded test server: started by the first session that needs it and *left running* on
# purpose (starting PostgreSQL costs seconds; every session and xdist worker shares it). It is
# the one process a session may leave behind.
TEST_PGDATA = _project_root() / ".data" / "test-pgdata"


def _shared_test_server(proc: psutil.Process) -> bool:
    """The shared embedded test server's postmaster or one of its backends."""
    try:
        postmaster = int((TEST_PGDATA / "postmaster.pid").read_text().split()[0])
        return postmaster in (proc.pid, proc.ppid())
    except (OSError, ValueError, IndexError, psutil.Error):
        return False


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes():
    """Fail the session if a process it started still runs at its end (after a 15 s grace):
    code servers, daemons, webservers, simulators, embedded PostgreSQL servers, CLI children.

    Each xdist worker is its own session and checks its own processes. The shared test server
    (``TEST_PGDATA``) and the Docker engine (started by the container tests when absent, with
    the containers under it) are excluded: they are meant to outlive the session. What is found
    is stopped, so a failing session does not leave it running either."""
    sessao = Sessao(excluded=lambda p: _shared_test_server(p) or engine_process(p))
    yield sessao
    left = sessao.close()
    if left:
        pytest.fail(
            "processes started by this test session were still running at its end (now "
            "stopped):\n  " + "\n  ".join(left),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _note_processes(request, no_stray_processes):
    """Remember which test started each process (for no_stray_processes's report)."""
    no_stray_processes.where = request.node.nodeid
    yield
    no_stray_processes.sample(marked=True)


@pytest.fixture(autouse=True)
def _tab_statements_built_by_this_test():
    """Under mutmut only: the tab statements are built once per process (functools.cache), so
    a mutant in what builds them (``_detalhes_expr``) would run in no test but the first (and
    never in a mutant's session, forked from a process that already built them)."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        from licitacao_pipeline.warehouse import abas

        abas._statements.cache_clear()


@pytest.fixture(scope="session")
def pg_admin_url() -> sa.URL:
    """URL of the maintenance database of the test server.

    The embedded server lives under the project's ``.data/`` (not pytest's tmp dir, whose 0700
    permissions the unprivileged postgres user cannot traverse) and is shared by xdist workers.
    """
    if os.environ.get("TEST_DATABASE_URL"):
        return normalize_url(os.environ["TEST_DATABASE_URL"])
    TEST_PGDATA.parent.mkdir(exist_ok=True)
    return embedded_url(TEST_PGDATA)


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


# Under mutmut (it sets MUTANT_UNDER_TEST), the pure unit tests run first: a mutant they kill is
# decided in a second instead of after the end-to-end tests that also execute the function.
_UNIT_FILES = ("test_parsing.py", "test_client.py", "test_schedules.py", "test_processos.py")


def pytest_collection_modifyitems(items):
    if os.environ.get("MUTANT_UNDER_TEST"):
        items.sort(key=lambda item: item.path.name not in _UNIT_FILES)
