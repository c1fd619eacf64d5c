"""The benchmark scripts stay runnable (they are not timed tests: their figures go in notes)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "script",
    [
        "bench_contratos.py",
        "bench_abas.py",
        "bench_abas_memoria.py",
        "bench_escala.py",
        "bench_latencia.py",
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
