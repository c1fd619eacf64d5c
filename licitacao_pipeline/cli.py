"""``licitacao`` command: database migrations, a one-command local Dagster UI (and its stop), and
syncs, cancels, exports and imports submitted through the running deployment's run queue."""

from __future__ import annotations

import argparse

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.validators import is_uasg


def _migrate(args: argparse.Namespace) -> int:
    from licitacao_pipeline.warehouse.engine import get_engine
    from licitacao_pipeline.warehouse.migrate import current_revision, upgrade

    engine = get_engine(args.database_url, migrate=False)
    upgrade(engine, args.revision)
    print(f"warehouse at revision {current_revision(engine)} ({engine.url.render_as_string()})")
    from licitacao_pipeline.defs.pools import ensure_pools

    for pool in ensure_pools():
        print(f"pool {pool} created at the instance's default limit")
    return 0


def _dev(args: argparse.Namespace) -> int:
    from licitacao_pipeline.client import dev

    return dev.run(args)


def _stop(args: argparse.Namespace) -> int:
    from licitacao_pipeline.client import dev

    return dev.stop(args)


def _comando(name: str):
    def run(args: argparse.Namespace) -> int:
        from licitacao_pipeline.client import comandos

        return getattr(comandos, name)(args)

    return run


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
    if not is_uasg(text):
        raise argparse.ArgumentTypeError(f"invalid UASG {text!r} (6 digits, leading zeros kept)")
    return text


URL_HELP = (
    "Dagster webserver (default: DAGSTER_WEBSERVER_URL, else the running `licitacao dev`, "
    "else http://localhost:3000)"
)
FORMATS = ("csv", "json", "ndjson", "xml", "pdf")
EXPORT_TABS = (*ABAS, "alteracoes", "sinais")


def _queue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=URL_HELP)
    parser.add_argument(
        "--no-wait", action="store_true", help="print the run id and exit after submitting"
    )


def _add_dev(sub) -> None:
    dev = sub.add_parser("dev", help="start the Dagster UI (dagster dev) for this project")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument(
        "--simulator",
        action="store_true",
        help="also serve a local ComprasNet simulator and point the pipeline at it",
    )
    dev.add_argument("--simulator-port", type=int, default=8765)
    dev.add_argument("--contracts", type=int, default=200, help="contracts per UASG (simulator)")
    dev.add_argument(
        "--keep-warehouse",
        action="store_true",
        help="leave the embedded PostgreSQL running when it stops",
    )
    dev.set_defaults(func=_dev)
    stop = sub.add_parser(
        "stop", help="stop the running `licitacao dev` and its embedded PostgreSQL"
    )
    stop.set_defaults(func=_stop)


def _add_sync(sub) -> None:
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
        help=f"with --contrato: {', '.join(ABAS)} (repeatable; default: every tab)",
    )
    sync.add_argument(
        "--uasg",
        type=_uasg_code,
        help="with --contrato: its UASG (default: from the warehouse, else from ComprasNet)",
    )
    _queue_options(sync)
    sync.set_defaults(func=_comando("sync"))
    cancel = sub.add_parser(
        "cancel", help="cancel runs (queued, starting or running) and wait until they end"
    )
    cancel.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    cancel.add_argument("--url", help=URL_HELP)
    cancel.set_defaults(func=_comando("cancel"))


def _add_files(sub) -> None:
    export = sub.add_parser(
        "export",
        help="export contracts (job exportar_contratos) through the run queue; prints the files",
    )
    export.add_argument("--format", choices=FORMATS, default="csv")
    export.add_argument("--uasg", dest="uasgs", action="append", type=_uasg_code, metavar="UASG")
    export.add_argument("--situacao", choices=("ativo", "inativo", "todos"), default="todos")
    export.add_argument("--vigente-em", metavar="DATE", help="2026-12-31 or 31/12/2026")
    export.add_argument(
        "--tab", "--aba", dest="include_tabs", action="append", choices=EXPORT_TABS, metavar="TAB"
    )
    export.add_argument("--delimiter", choices=(";", ","), default=";")
    export.add_argument("--no-bom", action="store_true", help="CSV without the UTF-8 BOM")
    export.add_argument("--decimal", choices=("br", "iso"), default="br")
    export.add_argument("--nome-arquivo", metavar="NAME", help="file name in the export dir")
    export.add_argument(
        "--dados-pessoais",
        action="store_true",
        help="incluir nomes, CPFs mascarados, telefones e salários (LGPD; fora por padrão)",
    )
    _queue_options(export)
    export.set_defaults(func=_comando("export"))
    imp = sub.add_parser(
        "import",
        help="import a follow-up CSV from the import directory (job importar_acompanhamento)",
    )
    imp.add_argument("path", help="the .csv file, relative to the import directory")
    imp.add_argument("--encoding", choices=("utf-8", "latin-1"), default="utf-8")
    imp.add_argument("--delimiter", choices=(";", ","), default=";")
    _queue_options(imp)
    imp.set_defaults(func=_comando("importar"))


def _add_sinais(sub) -> None:
    from licitacao_pipeline.warehouse.sinais import REGRAS

    cmd = sub.add_parser("sinais", help="print the open red flags (sinais de alerta)")
    cmd.add_argument("--uasg", dest="uasgs", action="append", type=_uasg_code, metavar="UASG")
    cmd.add_argument("--regra", dest="regras", action="append", choices=list(REGRAS))
    cmd.set_defaults(func=_comando("sinais"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="licitacao", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mig = sub.add_parser("migrate", help="apply warehouse migrations (Alembic)")
    mig.add_argument("--database-url", help="default: DATABASE_URL or the embedded PostgreSQL")
    mig.add_argument("--revision", default="head")
    mig.set_defaults(func=_migrate)
    _add_dev(sub)
    _add_sync(sub)
    _add_files(sub)
    _add_sinais(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
