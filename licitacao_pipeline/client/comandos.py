"""The ``licitacao`` commands that go through the running deployment's run queue: ``sync``,
``cancel``, ``export`` and ``import``. Each submits through the webserver's GraphQL API
(``Orquestrador``), follows its runs to the end and prints what they did."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from licitacao_pipeline import names
from licitacao_pipeline.comprasnet.abas import ABAS


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _sync_usage_problem(args: argparse.Namespace) -> str | None:
    if args.contrato is None and not args.uasgs:
        return "informe uma ou mais UASGs, ou --contrato ID"
    if args.contrato is not None and args.uasgs:
        return "com --contrato, informe a UASG do contrato (se a souber) como --uasg"
    if args.contrato is None and (args.uasg or args.abas):
        return "--uasg e --tab vão com --contrato"
    if args.contrato is not None and args.completa:
        return "--full vai com UASGs, não com --contrato"
    return None


def _sync_targets(args: argparse.Namespace) -> dict[str, str | None]:
    """``{uasg: nome or None}`` to submit; a contract's UASG is looked up if not given."""
    from licitacao_pipeline.client import localizacao

    warehouse = localizacao.warehouse()
    uasgs = list(dict.fromkeys(args.uasgs))
    if args.contrato is not None:
        uasg, source = args.uasg, "--uasg"
        if uasg is None:
            uasg, source = localizacao.contrato_uasg(args.contrato, warehouse)
        _err(f"contrato {args.contrato}: UASG {uasg} ({source})")
        uasgs = [uasg]
    nomes = localizacao.nomes(warehouse, uasgs)
    return {u: nomes.get(u) for u in uasgs}


def _submit(orq, args: argparse.Namespace, uasg: str, nome: str | None, ahead: int):
    from licitacao_pipeline.client.follow import FollowedRun
    from licitacao_pipeline.uasgs import uasg_label

    if args.contrato is not None:
        abas = list(dict.fromkeys(args.abas or ABAS))
        run_id = orq.submit_contrato(args.contrato, uasg, abas, nome=nome)
        what = f"contrato {args.contrato}, abas {', '.join(abas)}"
    else:
        run_id = orq.submit_uasg(uasg, completa=args.completa, nome=nome)
        what = "listagem e todas as abas" if args.completa else "listagem e abas devidas"
    run = FollowedRun(run_id, uasg_label(uasg, nome))
    waits = f"; espera {ahead} run(s) desta UASG" if ahead else ""
    _err(f"{run.rotulo}: sincronização enviada ({what}){waits}")
    _err(f"  {orq.run_url(run_id)}")
    return run


def sync(args: argparse.Namespace) -> int:
    from licitacao_pipeline.client.localizacao import LocalizacaoError
    from licitacao_pipeline.client.orquestracao import OrquestracaoError, Orquestrador

    if problem := _sync_usage_problem(args):
        _err(f"licitacao sync: {problem}")
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
        _print_runs(submitted, "enviados antes do erro")
        _err(f"licitacao sync: {exc}")
        return 2
    except KeyboardInterrupt:
        _print_runs(submitted, "enviados antes da interrupção")
        return 130
    if args.no_wait:
        print("\n".join(run.run_id for run in submitted))
        return 0
    return _follow(orq, submitted)


def _follow(orq, submitted: list) -> int:
    """Print the runs' progress until they end, then what they did; the exit status."""
    from licitacao_pipeline.client.follow import Follower
    from licitacao_pipeline.client.orquestracao import OrquestracaoError

    follower = Follower(orq, out=lambda line: print(line, flush=True))
    try:
        follower.follow(submitted)
    except KeyboardInterrupt:
        _print_runs(submitted, "acompanhamento interrompido; os runs continuam")
        return 130
    except OrquestracaoError as exc:
        _print_runs(submitted, f"o webserver foi perdido ({exc}); os runs continuam")
        return 2
    for run in submitted:
        print("\n".join(follower.summary(run)))
    return 0 if all(run.succeeded for run in submitted) else 1


def _print_runs(runs: list, why: str) -> None:
    if not runs:
        return
    _err(f"licitacao: {why}:")
    for run in runs:
        _err(f"  {run.run_id}  {run.rotulo}")
    ids = " ".join(r.run_id for r in runs)
    _err(f"para cancelar: licitacao cancel {ids}  (ou na UI)")


def cancel(args: argparse.Namespace) -> int:
    from licitacao_pipeline.client.orquestracao import OrquestracaoError, Orquestrador

    failed = 0
    try:
        orq = Orquestrador.from_env(args.url)
    except OrquestracaoError as exc:
        _err(f"licitacao cancel: {exc}")
        return 2
    for run_id in args.run_ids:
        try:
            feito = orq.cancel(run_id)
            print(f"{run_id}: {feito.acao} ({feito.status.value})", flush=True)
        except OrquestracaoError as exc:
            failed += 1
            _err(f"licitacao cancel: {run_id}: {exc}")
    return 1 if failed else 0


def _run_job(args: argparse.Namespace, job: str, op: str, config: dict[str, Any], rotulo: str):
    """Submit one run of ``job`` with ``config`` for ``op``, then follow it to the end."""
    from licitacao_pipeline.client.follow import FollowedRun
    from licitacao_pipeline.client.orquestracao import OrquestracaoError, Orquestrador

    try:
        orq = Orquestrador.from_env(args.url)
        run_id = orq.submit_job(job, {"ops": {op: {"config": config}}})
    except OrquestracaoError as exc:
        _err(f"licitacao {args.command}: {exc}")
        return 2
    _err(f"{rotulo}: enviada\n  {orq.run_url(run_id)}")
    run = FollowedRun(run_id, rotulo)
    if args.no_wait:
        print(run_id)
        return 0
    return _follow(orq, [run])


def export(args: argparse.Namespace) -> int:
    config = {
        "format": args.format,
        "uasgs": list(dict.fromkeys(args.uasgs or [])),
        "situacao": args.situacao,
        "include_tabs": list(dict.fromkeys(args.include_tabs or [])),
        "delimiter": args.delimiter,
        "bom": not args.no_bom,
        "decimal": args.decimal,
    }
    if args.dados_pessoais:
        config["incluir_dados_pessoais"] = True
    if args.vigente_em:
        config["vigente_em"] = args.vigente_em
    if args.nome_arquivo:
        config["nome_arquivo"] = args.nome_arquivo
    return _run_job(args, names.JOB_EXPORTAR, names.OP_EXPORTAR, config, "exportacao")


def importar(args: argparse.Namespace) -> int:
    config = {"path": args.path, "encoding": args.encoding, "delimiter": args.delimiter}
    return _run_job(args, names.JOB_IMPORTAR, names.OP_IMPORTAR, config, "importacao")


def sinais(args: argparse.Namespace) -> int:
    """The open red flags, read from the warehouse, the most serious first."""
    import sqlalchemy as sa

    from licitacao_pipeline.client import localizacao
    from licitacao_pipeline.flows import sinais as flags

    engine = localizacao.warehouse()
    if engine is None:
        _err("licitacao sinais: nenhum warehouse aqui (DATABASE_URL, ou rode licitacao dev)")
        return 2
    try:
        rows = flags.abertos(engine, args.uasgs or (), args.regras or ())
    except sa.exc.SQLAlchemyError as exc:
        _err(f"licitacao sinais: o warehouse não respondeu ({type(exc).__name__})")
        return 2
    for r in rows:
        contrato = f"{r['numero'] or ''} ({r['contrato_id']})"
        print(
            f"{r['severidade']:<5} {r['regra']:<27} {r['uasg']} {contrato:<24} "
            f"{r['detalhe']}  [{r['base_legal']}; aberto em {r['aberto_em']:%d/%m/%Y}]"
        )
    print(f"{len(rows)} sinal(is) de alerta em aberto", file=sys.stderr)
    return 0
