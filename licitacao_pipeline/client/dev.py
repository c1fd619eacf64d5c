"""``licitacao dev`` and ``licitacao stop``: the local Dagster UI with its warehouse, started and
stopped as one thing.

``licitacao dev`` creates the directories the project owns, starts (and migrates) the embedded
warehouse unless ``DATABASE_URL`` is set, optionally the ComprasNet simulator, then ``dagster dev``
as a child. It stops on Ctrl-C and on SIGTERM even when started in the background (a shell's
``cmd &`` leaves SIGINT ignored, which Dagster would also apply to SIGTERM): both are handled here
and passed on to ``dagster dev`` as one SIGINT, its graceful stop. On the way out it stops the
embedded warehouse it started (``--keep-warehouse`` leaves it running) and the simulator.
``licitacao stop``, from any shell, stops a running ``licitacao dev`` the same way, or a warehouse
left running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from licitacao_pipeline import settings
from licitacao_pipeline.client import instancia_dev

STOP_GRACE_S = 60.0  # dagster dev's own shutdown (webserver, daemon, code server)


def _say(text: str) -> None:
    print(f"licitacao dev: {text}", flush=True)


def _warehouse(env: dict[str, str]) -> bool:
    """Start and migrate the warehouse before Dagster (a code server must not initdb from its
    gRPC threads: initdb crashed there on a fresh clone). True if it is the embedded one."""
    from licitacao_pipeline.warehouse.engine import embedded_url, get_engine

    embedded = not env.get("DATABASE_URL")
    if embedded:
        env["DATABASE_URL"] = embedded_url().render_as_string(hide_password=False)
    engine = get_engine(env["DATABASE_URL"])  # migrated now, not during the first run
    _say(f"warehouse {engine.url.render_as_string(hide_password=True)} (migrado)")
    return embedded


def _simulator(args: argparse.Namespace):
    try:
        from comprasnet_simulator import ComprasNetSimulator
    except ImportError:
        sys.exit("--simulator precisa da instalação de desenvolvimento: pip install -e '.[dev]'")
    uasgs = tuple(u.codigo for u in settings.load().uasgs())
    return ComprasNetSimulator(
        seed=0, contracts=args.contracts, uasgs=uasgs, port=args.simulator_port
    ).start()


def _pools(home: Path) -> None:
    """The project's pools exist before the first run is queued (``defs.pools``)."""
    os.environ["DAGSTER_HOME"] = str(home)  # this process's own instance: the one dagster dev uses
    from licitacao_pipeline.defs.pools import ensure_pools

    ensure_pools()


def _dagster() -> str:
    beside = Path(sys.executable).with_name("dagster")  # the venv's, even if not on PATH
    found = str(beside) if beside.exists() else shutil.which("dagster")
    if not found:
        sys.exit("dagster não está instalado neste ambiente")
    return found


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # dagster dev's graceful stop must work


def run(args: argparse.Namespace) -> int:
    root = Path.cwd()
    if not (root / "dagster.yaml").exists():
        sys.exit("licitacao dev: rode no diretório do projeto (onde está o dagster.yaml)")
    home = Path(settings.load().dagster_home or root / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if home != root and not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").symlink_to(root / "dagster.yaml")
    conf = settings.load()
    for directory in (conf.data_dir, conf.export_dir, conf.import_dir):
        directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DAGSTER_HOME=str(home))
    _pools(home)
    embedded = _warehouse(env)
    sim = _simulator(args) if args.simulator else None
    if sim is not None:
        env["COMPRASNET_BASE_URL"] = sim.base_url
        # The request budget protects the real server; the local simulator needs none.
        env.setdefault("COMPRASNET_MAX_RPS", "0")
        _say(f"simulador do ComprasNet em {sim.base_url}")
    cmd = [_dagster(), "dev", "-w", str(root / "workspace.yaml"), "-p", str(args.port)]
    child = subprocess.Popen(cmd, env=env, preexec_fn=_default_sigint, start_new_session=True)
    url = f"http://127.0.0.1:{args.port}"
    estado = instancia_dev.InstanciaDev(
        os.getpid(), url, str(home), sim.base_url if sim is not None else None
    )
    instancia_dev.registrar(estado)
    _say(f"UI em {url} (pare com Ctrl-C ou `licitacao stop`)")
    stop = {"asked": False}

    def _stop(signum, _frame):
        if not stop["asked"]:
            stop["asked"] = True
            _say(f"{signal.Signals(signum).name}: parando o Dagster")
            _signal(child, signal.SIGINT)

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = _wait(child, stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        instancia_dev.remover(pid=os.getpid())
        if sim is not None:
            sim.stop()
        if embedded and not args.keep_warehouse:
            _stop_warehouse()
    return 0 if stop["asked"] else code


def _signal(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)  # dagster dev and what it started in its session


def _wait(child: subprocess.Popen, stop: dict) -> int:
    """Until ``dagster dev`` ends; after a stop request, at most ``STOP_GRACE_S``."""
    asked_at = None
    while True:
        try:
            return child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if stop["asked"]:
            asked_at = asked_at or time.monotonic()
            if time.monotonic() - asked_at > STOP_GRACE_S:
                _say(f"o Dagster não parou em {STOP_GRACE_S:.0f} s: encerrando à força")
                _signal(child, signal.SIGKILL)
                return child.wait()


def _stop_warehouse() -> bool:
    from licitacao_pipeline.warehouse.engine import embedded_running, stop_embedded_server

    pgdata = settings.load().data_dir / "pgdata"
    if not embedded_running(pgdata):
        return False
    stop_embedded_server(pgdata)
    _say(f"warehouse embutido parado ({pgdata})")
    return True


def stop(args: argparse.Namespace) -> int:
    """``licitacao stop``: the running ``licitacao dev`` (which stops its warehouse), or a
    warehouse left running."""
    instancia = instancia_dev.encontrar()
    if instancia is not None:
        print(f"parando o licitacao dev (pid {instancia.pid}, {instancia.url})", flush=True)
        os.kill(instancia.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S + 30
        while instancia.viva and time.monotonic() < deadline:
            time.sleep(0.3)
        if instancia.viva:
            print(f"o licitacao dev (pid {instancia.pid}) não parou", file=sys.stderr)
            return 1
        print("licitacao dev parado")
    if not _stop_warehouse() and instancia is None:
        print("nada rodando: nenhum licitacao dev nem warehouse embutido neste diretório")
    return 0
