"""The benchmark scripts stay runnable (they are not timed tests: their figures go in notes),
and stop everything they start: their simulator process and their embedded PostgreSQL."""

import os
import subprocess
import sys
import uuid

import pytest

from .processos import carrying, describe, stop


@pytest.mark.parametrize(
    "script",
    [
        "bench_contratos.py",
        "bench_abas.py",
        "bench_abas_memoria.py",
        "bench_escala.py",
        "bench_latencia.py",
        "bench_exportacao.py",
        "bench_alteracoes.py",
        "bench_hostil.py",
        "bench_inicio.py",
        "bench_sinais.py",
        "bench_orcamento.py",
    ],
)
def test_benchmark_script_imports_and_parses_its_arguments(repo_root, script):
    proc = subprocess.run(
        [sys.executable, str(repo_root / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


# Tiny sizes: the point is that each script runs to its end and leaves nothing running.
TINY = {
    "bench_contratos.py": ["--contracts", "30"],
    "bench_abas.py": ["--contracts", "10", "--latency", "0.01"],
    "bench_abas_memoria.py": ["--small", "10", "--large", "20"],
    "bench_escala.py": ["--uasgs", "40", "--with-hour", "5", "--active-runs", "6"],
    "bench_exportacao.py": ["--small", "200", "--large", "400"],
    "bench_alteracoes.py": ["--contracts", "40", "--rounds", "1"],
    "bench_hostil.py": ["--bomb-mib", "16", "--depth", "1000"],
    "bench_inicio.py": ["--repeat", "1"],
    "bench_sinais.py": ["--contracts", "500"],
    "bench_orcamento.py": ["--perfil", "10x100,1x1000"],
}


@pytest.mark.parametrize("script", list(TINY))
def test_benchmark_runs_to_its_end_and_leaves_no_process_behind(repo_root, script):
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # its own embedded server
    env["LICITACAO_TEST_BENCH"] = mark
    proc = subprocess.run(
        [sys.executable, str(repo_root / "benchmarks" / script), *TINY[script]],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=repo_root,
    )
    found = carrying("LICITACAO_TEST_BENCH", mark)
    left = [describe(p) for p in found]
    stop(found)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not left, left
