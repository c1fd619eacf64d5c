"""The CLI paths a user takes: ``dagster asset materialize`` in subprocesses, over HTTP, and
what ``licitacao sync`` refuses before it submits anything."""

import base64
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from comprasnet_simulator import ComprasNetSimulator
from licitacao_pipeline import cli
from licitacao_pipeline.warehouse.engine import stop_embedded_server

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
    env.update(COMPRASNET_BASE_URL=sim.base_url, LICITACAO_UASGS="012345@07:00,787010")
    env.update(COMPRASNET_MAX_RPS="0", **extra)  # the budget has its own tests (test_orcamento)
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
        stop_embedded_server(data_dir / "pgdata")
        shutil.rmtree(data_dir, ignore_errors=True)


# -- `licitacao sync`: what it refuses before submitting anything (no webserver needed) --------


@pytest.fixture
def sync_env(monkeypatch, tmp_path):
    """No warehouse (nothing configured, no embedded one here) and no webserver settings."""
    for var in ("DATABASE_URL", "DAGSTER_WEBSERVER_URL", "DAGSTER_WEBSERVER_USER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("DAGSTER_WEBSERVER_PASSWORD", raising=False)
    monkeypatch.setenv("LICITACAO_DATA_DIR", str(tmp_path))
    return tmp_path


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def run_main(capsys, *argv) -> tuple[int, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "informe uma ou mais UASGs, ou --contrato ID"),
        (("--contrato", "78701000001", "--tab", "resumo"), "escolha inválida: 'resumo'"),
        (("78701",), "UASG inválida '78701' (6 dígitos, com os zeros à esquerda)"),
        (("--contrato", "78701000001", "--completa"), "--full vai com UASGs"),
        (("787010", "--tab", "itens"), "--uasg e --tab vão com --contrato"),
    ],
)
def test_sync_argument_errors_exit_2(sync_env, capsys, argv, message):
    code, output = run_main(capsys, "sync", *argv)
    assert code == 2 and message in output, output


def test_sync_explains_an_unreachable_webserver(sync_env):
    url = closed_port_url()
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("licitacao")), "sync", "787010", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        f"o webserver do Dagster em {url} está inacessível: inicie-o com `licitacao dev`, ou "
        "informe --url" in proc.stderr
    )


class _Refusing(BaseHTTPRequestHandler):
    """A reverse proxy that refuses every credential, remembering what it was sent."""

    seen: list[str | None] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="dagster"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_sync_sends_basic_auth_from_the_environment_and_explains_a_refusal(
    sync_env, capsys, monkeypatch
):
    monkeypatch.setenv("DAGSTER_WEBSERVER_USER", "ana")
    monkeypatch.setenv("DAGSTER_WEBSERVER_PASSWORD", "s3gredo")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code, output = run_main(capsys, "sync", "787010", "--url", url)
    finally:
        server.shutdown()
    assert code == 2
    assert f"o webserver em {url} recusou as credenciais (HTTP 401)" in output
    assert _Refusing.seen == ["Basic " + base64.b64encode(b"ana:s3gredo").decode()]
    assert "s3gredo" not in output


def test_sync_contrato_finds_its_uasg_at_comprasnet_or_says_it_cannot(
    sync_env, capsys, monkeypatch
):
    with ComprasNetSimulator(seed=3, contracts={"787010": 2}) as sim:
        monkeypatch.setenv("COMPRASNET_BASE_URL", sim.base_url)
        url = closed_port_url()
        known = str(sim.contrato_ids("787010")[0])
        code, output = run_main(capsys, "sync", "--contrato", known, "--url", url)
        assert code == 2 and f"contrato {known}: UASG 787010 (do ComprasNet)" in output
        assert "está inacessível: inicie-o com" in output  # then it would have submitted
        code, output = run_main(capsys, "sync", "--contrato", "78701099999", "--url", url)
    assert code == 2, output
    assert "o contrato 78701099999 não está no warehouse e o ComprasNet" in output
    assert "não o conhece (404)" in output
