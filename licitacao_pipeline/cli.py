"""``licitacao`` command: database migrations and a one-command local Dagster UI."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def _migrate(args: argparse.Namespace) -> int:
    from licitacao_pipeline.warehouse.engine import get_engine
    from licitacao_pipeline.warehouse.migrate import current_revision, upgrade

    engine = get_engine(args.database_url, migrate=False)
    upgrade(engine, args.revision)
    print(f"warehouse at revision {current_revision(engine)} ({engine.url.render_as_string()})")
    return 0


def _dev(args: argparse.Namespace) -> int:
    """Start ``dagster dev`` with a persistent DAGSTER_HOME using the project's dagster.yaml."""
    root = Path.cwd()
    if not (root / "dagster.yaml").exists():
        sys.exit("licitacao dev: run it from the project directory (where dagster.yaml is)")
    home = Path(os.environ.get("DAGSTER_HOME") or root / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if home != root and not target.exists():
        target.symlink_to(root / "dagster.yaml")
    env = dict(os.environ, DAGSTER_HOME=str(home))
    if args.simulator:
        try:
            from comprasnet_simulator import ComprasNetSimulator
        except ImportError:
            sys.exit("--simulator needs the development install: pip install -e '.[dev]'")

        sim = ComprasNetSimulator(
            seed=0, contracts=args.contracts, uasgs=_uasgs(), port=args.simulator_port
        ).start()
        env["COMPRASNET_BASE_URL"] = sim.base_url
        print(f"ComprasNet simulator serving at {sim.base_url}", flush=True)
    beside = Path(sys.executable).with_name("dagster")  # the venv's, even if not on PATH
    dagster = str(beside) if beside.exists() else shutil.which("dagster")
    if not dagster:
        sys.exit("dagster is not installed in this environment")
    cmd = [dagster, "dev", "-w", str(root / "workspace.yaml"), "-p", str(args.port)]
    if not args.simulator:
        os.execve(dagster, cmd, env)
    # Keep this process (and the simulator thread) alive; pass termination on to dagster dev.
    child = subprocess.Popen(cmd, env=env)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    except KeyboardInterrupt:  # Ctrl-C reached dagster dev too (same process group)
        return child.wait()


def _uasgs() -> tuple[str, ...]:
    from licitacao_pipeline.config import load_uasgs

    return tuple(u.codigo for u in load_uasgs())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="licitacao", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mig = sub.add_parser("migrate", help="apply warehouse migrations (Alembic)")
    mig.add_argument("--database-url", help="default: DATABASE_URL or the embedded PostgreSQL")
    mig.add_argument("--revision", default="head")
    mig.set_defaults(func=_migrate)
    dev = sub.add_parser("dev", help="start the Dagster UI (dagster dev) for this project")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument(
        "--simulator",
        action="store_true",
        help="also serve a local ComprasNet simulator and point the pipeline at it",
    )
    dev.add_argument("--simulator-port", type=int, default=8765)
    dev.add_argument("--contracts", type=int, default=200, help="contracts per UASG (simulator)")
    dev.set_defaults(func=_dev)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
