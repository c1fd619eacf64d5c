"""The production instance config (licitacao_pipeline/deploy/dagster.yaml, which
docker-compose.yml mounts) matches dagster.yaml and is valid."""

import os
import subprocess
import sys

import yaml

from licitacao_pipeline.definitions import defs


def _compose(repo_root):
    return yaml.safe_load((repo_root / "docker-compose.yml").read_text())


# The documented limits (README, "Concurrency and limits"): one run per UASG, 4 runs at once,
# 3 API-bound runs (the comprasnet pool), crashed runs retried twice, runs past 4 h failed.
LIMITS = {
    "concurrency": {
        "runs": {
            "max_concurrent_runs": 4,
            "tag_concurrency_limits": [
                {
                    "key": "dagster/partition",
                    "value": {"applyLimitPerUniqueValue": True},
                    "limit": 1,
                }
            ],
        },
        "pools": {"default_limit": 3, "granularity": "run"},
    },
    "run_retries": {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False},
    "run_monitoring": {
        "enabled": True,
        "start_timeout_seconds": 180,
        "poll_interval_seconds": 10,
        "max_resume_run_attempts": 0,
        "cancel_timeout_seconds": 120,
        "max_runtime_seconds": 14400,
    },
}


def test_dev_instance_has_the_documented_limits(repo_root):
    dev = yaml.safe_load((repo_root / "dagster.yaml").read_text())
    for key, value in LIMITS.items():
        assert dev[key] == value, key


def test_production_instance_mirrors_the_dev_limits(repo_root):
    mounted = _compose(repo_root)["configs"]["dagster_instance"]["file"]
    assert (repo_root / mounted).resolve() == repo_root / "licitacao_pipeline/deploy/dagster.yaml"
    prod = yaml.safe_load((repo_root / mounted).read_text())
    dev = yaml.safe_load((repo_root / "dagster.yaml").read_text())
    for key in ("concurrency", "run_queue", "run_retries", "run_monitoring", "retention"):
        assert prod[key] == dev[key], key
    pg = prod["storage"]["postgres"]["postgres_db"]
    assert (
        pg["scheme"] == "postgresql+psycopg2"
    )  # SQLAlchemy 2.1 maps bare postgresql:// to psycopg 3
    assert all(isinstance(pg[k], dict) and "env" in pg[k] for k in ("password", "username"))


def test_instance_configs_load(repo_root, tmp_path):
    import dagster as dg

    dev = yaml.safe_load((repo_root / "dagster.yaml").read_text())
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(dev))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 4
        [per_uasg] = config.run_queue_config.tag_concurrency_limits
        assert per_uasg["key"] == "dagster/partition" and per_uasg["limit"] == 1
        assert per_uasg["value"] == {"applyLimitPerUniqueValue": True}
        assert config.pool_config.default_pool_limit == 3
        assert instance.run_retries_enabled and instance.run_monitoring_enabled


def test_code_location_names_agree(repo_root):
    import tomllib

    workspace = yaml.safe_load((repo_root / "workspace.yaml").read_text())
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["dagster"]
    name = workspace["load_from"][0]["python_module"]["location_name"]
    assert name == pyproject["code_location_name"] == "licitacao_pipeline"
    assert defs.resolve_job_def("sincronizar_contrato") is not None


def test_production_wheel_ships_the_migrations_but_not_the_simulator(repo_root, tmp_path):
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp_path, repo_root],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("licitacao_pipeline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "licitacao_pipeline/warehouse/migrations/script.py.mako" in names
    versions = [
        n for n in names if n.startswith("licitacao_pipeline/warehouse/migrations/versions/")
    ]
    assert len(versions) >= 4
    assert not [
        n for n in names if n.startswith(("comprasnet_simulator", "licitacao_pipeline_tests"))
    ]
    metadata = next(n for n in names if n.endswith("METADATA"))
    requires = [
        line
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist: comprasnet-simulator")
    ]
    assert len(requires) == 1 and "extra == 'dev'" in requires[0]  # development only


def _load_definitions(max_rps: str, **extra: str):
    code = (
        "from licitacao_pipeline.definitions import defs; r = defs.resources['comprasnet']; "
        "print(r.max_rps, r.rajada, r.orcamento_compartilhado)"
    )
    env = {**os.environ, "COMPRASNET_MAX_RPS": max_rps, **extra}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_request_budget_comes_from_the_environment_and_bad_values_fail_the_load():
    loaded = _load_definitions(" 2.5 ", COMPRASNET_RAJADA="4")
    assert loaded.returncode == 0 and loaded.stdout.strip() == "2.5 4 True", loaded.stderr
    assert _load_definitions("").stdout.strip() == "6.0 6 True"  # the safe default, shared
    assert _load_definitions("0").stdout.strip() == "None 6 True"  # no cap
    for bad in ("abc", "-3", "inf", "nan"):
        refused = _load_definitions(bad)
        assert refused.returncode != 0, bad
        assert f"COMPRASNET_MAX_RPS={bad!r}" in refused.stderr, refused.stderr
    refused = _load_definitions("", COMPRASNET_RAJADA="0")
    assert refused.returncode != 0 and "COMPRASNET_RAJADA='0'" in refused.stderr
