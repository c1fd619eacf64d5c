"""Issue 12 benchmark: the cost of the change history on a re-sync of a 20,000-contract UASG
where 5 % of the contracts changed (a third each: valor_global, vigência, fornecedor).

After a first sync, each round changes a fresh 5 % of the contracts in the simulator and
re-syncs with the history, then changes another 5 % and re-syncs without it (the order
alternates between rounds). Timed: the use case ``sync_contratos`` (hash check, parse, upsert,
history, removals: one transaction) on listings already downloaded, so the download does not
dilute the ratio; end to end (with the download) is printed too. Target: with / without < 1.2.
Then an unchanged re-sync: 0 events, 0 rows written.

    python benchmarks/bench_alteracoes.py [--contracts 20000] [--rounds 3] [--share 0.05]
"""

import argparse
import contextlib
import json
import statistics
import time
import urllib.request
from datetime import date, timedelta

import sqlalchemy as sa
from _common import control, scratch_database, simulator_process

from licitacao_pipeline.comprasnet.client import ComprasNetClient
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.flows.contratos import Janela, sync_contratos
from licitacao_pipeline.relogio import local_today

UASG = "787010"


def contrato_ids(base: str) -> list[int]:
    with urllib.request.urlopen(f"{base}/_sim/contrato_ids?uasg={UASG}", timeout=30) as resp:
        return json.loads(resp.read())


def mutate(base: str, ids: list[int], tag: int) -> None:
    """Change each contract: valor_global, vigência end or fornecedor, by thirds."""
    for i, cid in enumerate(ids):
        if i % 3 == 0:
            fields = {"valor_global": f"{1 + tag % 999}.{i % 1000:03d},{tag % 100:02d}"}
        elif i % 3 == 1:
            fim = date(2040, 1, 1) + timedelta(days=tag * 7 + i % 300)  # no generated one
            fields = {"vigencia_fim": fim.isoformat()}
        else:
            nome = f"FORNECEDOR {tag} LTDA"
            fields = {"fornecedor": {"tipo": "JURIDICA", "cnpj_cpf_idgener": "", "nome": nome}}
        control(base, "change_contrato", {"id": cid, "fields": fields})


def resync(base: str, engine: sa.Engine, historico: bool) -> tuple[float, float, object]:
    """(seconds in sync_contratos, seconds end to end, result)."""
    client = ComprasNetClient(base)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        listings = client.listagens(UASG)
        for listing in listings:
            stack.callback(listing.close)
        t0 = time.perf_counter()
        result = sync_contratos(
            engine,
            UASG,
            (record for listing in listings for record in listing),
            janela=Janela(local_today(), None),
            max_taxa_rejeicao=0.05,
            max_taxa_remocao=0.5,
            run_id="bench",
            registrar_alteracoes=historico,
        )
        sync_s = time.perf_counter() - t0
    client.close()
    return sync_s, time.perf_counter() - started, result


def events(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM contratos_alteracoes").scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.05, help="share of contracts changed")
    args = parser.parse_args()
    times: dict[bool, list[float]] = {True: [], False: []}
    totals: dict[bool, list[float]] = {True: [], False: []}
    recorded: list[int] = []
    with simulator_process(UASG, args.contracts) as base, scratch_database() as db:
        engine = WarehouseResource(database_url=db).get_engine()  # migrated here
        first_s, _, first = resync(base, engine, historico=True)
        ids = contrato_ids(base)
        per_run = max(1, round(len(ids) * args.share))
        tag = 0
        for r in range(args.rounds):
            for historico in (True, False) if r % 2 == 0 else (False, True):
                tag += 1
                start = (tag * per_run) % len(ids)
                mutate(base, (ids + ids)[start : start + per_run], tag)
                before = events(engine)
                sync_s, total_s, result = resync(base, engine, historico)
                assert result.atualizados == per_run, result.contagens()
                times[historico].append(sync_s)
                totals[historico].append(total_s)
                if historico:
                    recorded.append(events(engine) - before)
        before = events(engine)
        _, _, unchanged = resync(base, engine, historico=True)
        unchanged_events = events(engine) - before
    with_s, without_s = statistics.median(times[True]), statistics.median(times[False])
    print(f"contracts in listing            : {first.listados:,}")
    print(f"first sync (the baseline)       : {first_s:.2f} s")
    print(f"changed per re-sync             : {per_run:,} ({args.share:.0%})")
    print(f"rounds                          : {args.rounds} (median of each)")
    print(f"re-sync without history         : {without_s:.3f} s  (runs: "
          + ", ".join(f"{t:.2f}" for t in times[False]) + ")")  # fmt: skip
    print(f"re-sync with history            : {with_s:.3f} s  (runs: "
          + ", ".join(f"{t:.2f}" for t in times[True]) + ")")  # fmt: skip
    print(f"events recorded per re-sync     : {statistics.median(recorded):,.0f}")
    print(f"ratio with / without            : {with_s / without_s:.3f} (target < 1.2)")
    print(
        f"end to end (download included)  : {statistics.median(totals[True]):.2f} s vs "
        f"{statistics.median(totals[False]):.2f} s -> ratio "
        f"{statistics.median(totals[True]) / statistics.median(totals[False]):.3f}"
    )
    print(
        f"unchanged re-sync               : {unchanged_events} events, "
        f"{unchanged.linhas_escritas} rows written (target 0, 0)"
    )


if __name__ == "__main__":
    main()
