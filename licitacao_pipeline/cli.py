"""``licitacao`` command: database migrations, a one-command local Dagster UI, and syncs submitted
through the running deployment's run queue."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from licitacao_pipeline.comprasnet.abas import ABAS


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
    if not env.get("DATABASE_URL"):
        # Start the embedded warehouse here, in a plain process, and give its URL to every
        # Dagster process: a code server must not initdb / pg_ctl from its gRPC threads (initdb
        # crashed there on a fresh clone, and the failed start poisoned the sensors).
        from licitacao_pipeline.warehouse.engine import embedded_url

        env["DATABASE_URL"] = embedded_url().render_as_string(hide_password=False)
    from licitacao_pipeline.warehouse.engine import get_engine

    get_engine(env["DATABASE_URL"])  # migrated now, not during the first run
    print(f"warehouse: {env['DATABASE_URL']} (migrated)", flush=True)
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
    except KeyboardInterrupt:  # from a terminal dagster dev got it too; from `kill -INT` not
        try:
            return child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)
            return child.wait()


SYNC_EPILOG = """\
examples:
  licitacao sync 787010 787000          each UASG: its listing, then its due tabs (one run each)
  licitacao sync 787010 --full          the listing and every tab of every contract
  licitacao sync --contrato 78701000001 --tab empenhos --tab itens

Runs go through the deployment's run queue (one run per UASG at a time). The webserver is
--url, else DAGSTER_WEBSERVER_URL, else http://localhost:3000 (`licitacao dev`); basic-auth
credentials come from DAGSTER_WEBSERVER_USER and DAGSTER_WEBSERVER_PASSWORD.
Exit status: 0 all runs succeeded (or submitted, with --no-wait); 1 a run failed or was
canceled; 2 nothing submitted (bad arguments, webserver unreachable or refusing, unknown UASG
or contract); 130 interrupted (the runs go on).
"""


def _uasg_code(text: str) -> str:
    if not (len(text) == 6 and text.isdigit()):
        raise argparse.ArgumentTypeError(f"invalid UASG {text!r} (6 digits, leading zeros kept)")
    return text


def _sync_usage_problem(args: argparse.Namespace) -> str | None:
    if args.contrato is None and not args.uasgs:
        return "give one or more UASGs, or --contrato ID"
    if args.contrato is not None and args.uasgs:
        return "with --contrato, give the contract's UASG (if you know it) as --uasg"
    if args.contrato is None and (args.uasg or args.abas):
        return "--uasg and --tab go with --contrato"
    if args.contrato is not None and args.completa:
        return "--full goes with UASGs, not --contrato"
    return None


def _sync_targets(args: argparse.Namespace) -> dict[str, str | None]:
    """``{uasg: nome or None}`` to submit; a contract's UASG is looked up if not given."""
    from licitacao_pipeline.cliente import localizacao

    warehouse = localizacao.warehouse()
    uasgs = list(dict.fromkeys(args.uasgs))
    if args.contrato is not None:
        uasg, source = args.uasg, "--uasg"
        if uasg is None:
            uasg, source = localizacao.contrato_uasg(args.contrato, warehouse)
        print(f"contract {args.contrato}: UASG {uasg} ({source})", file=sys.stderr)
        uasgs = [uasg]
    nomes = localizacao.nomes(warehouse, uasgs)
    return {u: nomes.get(u) for u in uasgs}


def _submit(orq, args: argparse.Namespace, uasg: str, nome: str | None, ahead: int):
    from licitacao_pipeline.cliente.acompanhamento import Acompanhado
    from licitacao_pipeline.config import uasg_label

    if args.contrato is not None:
        abas = list(dict.fromkeys(args.abas or ABAS))
        run_id = orq.submit_contrato(args.contrato, uasg, abas, nome=nome)
        what = f"contract {args.contrato}, tabs {', '.join(abas)}"
    else:
        run_id = orq.submit_uasg(uasg, completa=args.completa, nome=nome)
        what = "listing and every tab" if args.completa else "listing and due tabs"
    run = Acompanhado(run_id, uasg_label(uasg, nome))
    waits = f"; waits for {ahead} run(s) of this UASG" if ahead else ""
    print(f"{run.rotulo}: submitted {what}{waits}", file=sys.stderr)
    print(f"  {orq.run_url(run_id)}", file=sys.stderr, flush=True)
    return run


def _sync(args: argparse.Namespace) -> int:
    from licitacao_pipeline.cliente.localizacao import LocalizacaoError
    from licitacao_pipeline.cliente.orquestracao import OrquestracaoError, Orquestrador

    if problem := _sync_usage_problem(args):
        print(f"licitacao sync: {problem}", file=sys.stderr)
        return 2
    submitted = []
    try:
        orq = Orquestrador.from_env(args.url)
        targets = _sync_targets(args)
        orq.check_partitions(list(targets))
        stats = orq.queue_stats()
        for uasg, nome in targets.items():
            ahead = sum(stats.por_uasg.get(uasg, {}).values())
            submitted.append(_submit(orq, args, uasg, nome, ahead))
    except (OrquestracaoError, LocalizacaoError) as exc:
        _print_runs(submitted, "submitted before the error")
        print(f"licitacao sync: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _print_runs(submitted, "submitted before the interrupt")
        return 130
    if args.no_wait:
        print("\n".join(run.run_id for run in submitted))
        return 0
    return _follow(orq, submitted)


def _follow(orq, submitted: list) -> int:
    """Print the runs' progress until they end, then their counts; the exit status."""
    from licitacao_pipeline.cliente.acompanhamento import Acompanhamento
    from licitacao_pipeline.cliente.orquestracao import OrquestracaoError

    follower = Acompanhamento(orq, out=lambda line: print(line, flush=True))
    try:
        follower.follow(submitted)
    except KeyboardInterrupt:
        _print_runs(submitted, "stopped following; the run(s) go on")
        return 130
    except OrquestracaoError as exc:
        _print_runs(submitted, f"lost the webserver ({exc}); the run(s) go on")
        return 2
    for run in submitted:
        print("\n".join(follower.summary(run)))
    return 0 if all(run.succeeded for run in submitted) else 1


def _print_runs(runs: list, why: str) -> None:
    if not runs:
        return
    print(f"licitacao sync: {why}:", file=sys.stderr)
    for run in runs:
        print(f"  {run.run_id}  {run.rotulo}", file=sys.stderr)
    ids = " ".join(r.run_id for r in runs)
    print(f"to cancel: licitacao cancel {ids}  (or in the UI)", file=sys.stderr, flush=True)


def _cancel(args: argparse.Namespace) -> int:
    from licitacao_pipeline.cliente.orquestracao import OrquestracaoError, Orquestrador

    failed = 0
    try:
        orq = Orquestrador.from_env(args.url)
    except OrquestracaoError as exc:
        print(f"licitacao cancel: {exc}", file=sys.stderr)
        return 2
    for run_id in args.run_ids:
        try:
            orq.cancel(run_id)
            print(f"{run_id}: {orq.run_status(run_id).value}")
        except OrquestracaoError as exc:
            failed += 1
            print(f"licitacao cancel: {run_id}: {exc}", file=sys.stderr)
    return 1 if failed else 0


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
    url_help = "Dagster webserver (default: DAGSTER_WEBSERVER_URL or http://localhost:3000)"
    sync = sub.add_parser(
        "sync",
        help="submit UASG or contract syncs to the run queue and follow them",
        description="Submit syncs through the running Dagster deployment (its run queue keeps\n"
        "one run per UASG at a time) and follow them to their counts.",
        epilog=SYNC_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument("uasgs", nargs="*", type=_uasg_code, metavar="UASG", help="UASG codes")
    sync.add_argument(
        "--full",
        "--completa",
        dest="completa",
        action="store_true",
        help="every tab of every contract, not only the due ones (the nightly full sync)",
    )
    sync.add_argument("--contrato", type=int, metavar="ID", help="refresh one contract's tabs")
    sync.add_argument(
        "--tab",
        "--aba",
        dest="abas",
        action="append",
        choices=ABAS,
        metavar="TAB",
        help=f"with --contrato: {', '.join(ABAS)} (repeatable; default: all four)",
    )
    sync.add_argument(
        "--uasg",
        type=_uasg_code,
        help="with --contrato: its UASG (default: from the warehouse, else from ComprasNet)",
    )
    sync.add_argument("--url", help=url_help)
    sync.add_argument(
        "--no-wait", action="store_true", help="print the run id(s) and exit after submitting"
    )
    sync.set_defaults(func=_sync)
    cancel = sub.add_parser("cancel", help="cancel runs (queued ones at once)")
    cancel.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    cancel.add_argument("--url", help=url_help)
    cancel.set_defaults(func=_cancel)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
