"""``licitacao`` command: database migrations, a one-command local Dagster UI (and its stop), and
syncs, cancels, exports and imports submitted through the running deployment's run queue."""

from __future__ import annotations

import argparse

from licitacao_pipeline.client.argumentos import Parser, RawFormatter
from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.validators import is_uasg

DESCRICAO = (
    "Comando licitacao: migrações do banco, a UI local do Dagster num só comando (e sua parada), "
    "e sincronizações, cancelamentos, exportações e importações enviadas pela fila de runs do "
    "deployment em execução."
)


def _migrate(args: argparse.Namespace) -> int:
    from licitacao_pipeline.warehouse.engine import get_engine
    from licitacao_pipeline.warehouse.migrate import current_revision, upgrade

    engine = get_engine(args.database_url, migrate=False)
    upgrade(engine, args.revision)
    print(f"warehouse na revisão {current_revision(engine)} ({engine.url.render_as_string()})")
    from licitacao_pipeline.defs.pools import ensure_pools

    for pool in ensure_pools():
        print(f"pool {pool} criado com o limite padrão da instância")
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
exemplos:
  licitacao sync 787010 787000          cada UASG: a listagem, depois as abas devidas (um run cada)
  licitacao sync 787010 --full          a listagem e todas as abas de todos os contratos
  licitacao sync --contrato 78701000001 --tab empenhos --tab itens

Os runs passam pela fila de runs do deployment (um run por UASG por vez). O webserver é --url,
senão DAGSTER_WEBSERVER_URL, senão http://localhost:3000 (`licitacao dev`); as credenciais de
basic auth vêm de DAGSTER_WEBSERVER_USER e DAGSTER_WEBSERVER_PASSWORD.
Código de saída: 0 todos os runs tiveram sucesso (ou foram enviados, com --no-wait); 1 um run
falhou ou foi cancelado; 2 nada enviado (argumentos inválidos, webserver inacessível ou
recusando, UASG ou contrato desconhecido); 130 interrompido (os runs continuam).
"""


def _uasg_code(text: str) -> str:
    if not is_uasg(text):
        raise argparse.ArgumentTypeError(
            f"UASG inválida {text!r} (6 dígitos, com os zeros à esquerda)"
        )
    return text


URL_HELP = (
    "webserver do Dagster (padrão: DAGSTER_WEBSERVER_URL, senão o `licitacao dev` em execução, "
    "senão http://localhost:3000)"
)
FORMATS = ("csv", "json", "ndjson", "xml", "pdf")
EXPORT_TABS = (*ABAS, "alteracoes", "sinais")


def _queue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=URL_HELP)
    parser.add_argument(
        "--no-wait", action="store_true", help="após enviar, imprime o id do run e sai"
    )


def _add_dev(sub) -> None:
    dev = sub.add_parser("dev", help="inicia a UI do Dagster (dagster dev) deste projeto")
    dev.add_argument("--port", type=int, default=3000, help="porta da UI (padrão: 3000)")
    dev.add_argument(
        "--simulator",
        action="store_true",
        help="também serve um simulador local do ComprasNet e aponta o pipeline para ele",
    )
    dev.add_argument(
        "--simulator-port", type=int, default=8765, help="porta do simulador (padrão: 8765)"
    )
    dev.add_argument(
        "--contracts", type=int, default=200, help="contratos por UASG (simulador; padrão: 200)"
    )
    dev.add_argument(
        "--keep-warehouse",
        action="store_true",
        help="deixa o PostgreSQL embutido rodando ao parar",
    )
    dev.set_defaults(func=_dev)
    stop = sub.add_parser(
        "stop", help="para o `licitacao dev` em execução e seu PostgreSQL embutido"
    )
    stop.set_defaults(func=_stop)


def _add_sync(sub) -> None:
    sync = sub.add_parser(
        "sync",
        help="envia sincronizações de UASGs ou de um contrato à fila de runs e as acompanha",
        description="Envia sincronizações pelo deployment do Dagster em execução (sua fila de\n"
        "runs mantém um run por UASG por vez) e as acompanha até as contagens.",
        epilog=SYNC_EPILOG,
        formatter_class=RawFormatter,
    )
    sync.add_argument("uasgs", nargs="*", type=_uasg_code, metavar="UASG", help="códigos de UASG")
    sync.add_argument(
        "--full",
        "--completa",
        dest="completa",
        action="store_true",
        help="todas as abas de todos os contratos, não só as devidas (a sincronização completa "
        "da noite)",
    )
    sync.add_argument("--contrato", type=int, metavar="ID", help="atualiza as abas de um contrato")
    sync.add_argument(
        "--tab",
        "--aba",
        dest="abas",
        action="append",
        choices=ABAS,
        metavar="TAB",
        help=f"com --contrato: {', '.join(ABAS)} (repetível; padrão: todas)",
    )
    sync.add_argument(
        "--uasg",
        type=_uasg_code,
        help="com --contrato: a UASG dele (padrão: a do warehouse, senão a do ComprasNet)",
    )
    _queue_options(sync)
    sync.set_defaults(func=_comando("sync"))
    cancel = sub.add_parser(
        "cancel", help="cancela runs (na fila, iniciando ou em execução) e espera que terminem"
    )
    cancel.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="ids dos runs")
    cancel.add_argument("--url", help=URL_HELP)
    cancel.set_defaults(func=_comando("cancel"))


def _add_files(sub) -> None:
    export = sub.add_parser(
        "export",
        help="exporta contratos (job exportar_contratos) pela fila de runs; imprime os arquivos",
    )
    export.add_argument("--format", choices=FORMATS, default="csv", help="padrão: csv")
    export.add_argument(
        "--uasg",
        dest="uasgs",
        action="append",
        type=_uasg_code,
        metavar="UASG",
        help="só os contratos desta UASG (repetível; padrão: todas)",
    )
    export.add_argument(
        "--situacao", choices=("ativo", "inativo", "todos"), default="todos", help="padrão: todos"
    )
    export.add_argument(
        "--vigente-em", metavar="DATA", help="vigentes nesta data: 2026-12-31 ou 31/12/2026"
    )
    export.add_argument(
        "--tab",
        "--aba",
        dest="include_tabs",
        action="append",
        choices=EXPORT_TABS,
        metavar="TAB",
        help=f"aba que vai junto (repetível): {', '.join(EXPORT_TABS)}",
    )
    export.add_argument("--delimiter", choices=(";", ","), default=";", help="padrão: ;")
    export.add_argument("--no-bom", action="store_true", help="CSV sem o BOM UTF-8")
    export.add_argument(
        "--decimal",
        choices=("br", "iso"),
        default="br",
        help="CSV: br 1.234,56 e 31/12/2026; iso 1234.56 e 2026-12-31 (padrão: br)",
    )
    export.add_argument(
        "--nome-arquivo", metavar="NOME", help="nome do arquivo no diretório de exportação"
    )
    export.add_argument(
        "--dados-pessoais",
        action="store_true",
        help="inclui nomes, CPFs mascarados, telefones e salários (LGPD; fora por padrão)",
    )
    _queue_options(export)
    export.set_defaults(func=_comando("export"))
    imp = sub.add_parser(
        "import",
        help="importa um CSV de acompanhamento do diretório de importação (job "
        "importar_acompanhamento)",
    )
    imp.add_argument("path", help="o arquivo .csv, relativo ao diretório de importação")
    imp.add_argument(
        "--encoding", choices=("utf-8", "latin-1"), default="utf-8", help="padrão: utf-8"
    )
    imp.add_argument("--delimiter", choices=(";", ","), default=";", help="padrão: ;")
    _queue_options(imp)
    imp.set_defaults(func=_comando("importar"))


def _add_sinais(sub) -> None:
    from licitacao_pipeline.warehouse.sinais import REGRAS

    cmd = sub.add_parser("sinais", help="imprime os sinais de alerta em aberto")
    cmd.add_argument(
        "--uasg",
        dest="uasgs",
        action="append",
        type=_uasg_code,
        metavar="UASG",
        help="só os desta UASG (repetível)",
    )
    cmd.add_argument(
        "--regra",
        dest="regras",
        action="append",
        choices=list(REGRAS),
        help="só os desta regra (repetível)",
    )
    cmd.set_defaults(func=_comando("sinais"))


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="licitacao", description=DESCRICAO)
    sub = parser.add_subparsers(dest="command", required=True, title="comandos", metavar="COMANDO")
    mig = sub.add_parser("migrate", help="aplica as migrações do warehouse (Alembic)")
    mig.add_argument("--database-url", help="padrão: DATABASE_URL ou o PostgreSQL embutido")
    mig.add_argument("--revision", default="head", help="revisão de destino (padrão: head)")
    mig.set_defaults(func=_migrate)
    _add_dev(sub)
    _add_sync(sub)
    _add_files(sub)
    _add_sinais(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
