"""Issue 3 benchmark: sync a 20,000-contract UASG, then re-sync it unchanged.

Prints wall time, rows/s and peak RSS of this process (the sync runs in-process through
Dagster; the simulator runs in a child process), then requests and rows written on re-sync.
Targets: peak RSS <= 300 MB; re-sync writes 0 rows.

    python benchmarks/bench_contratos.py [--contracts 20000]
"""

import argparse
import resource
import time

import dagster as dg
from _common import control, scratch_database, simulator_process

from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource

UASG = "787010"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(resources):
    result = dg.materialize(
        [contratos],
        partition_key=UASG,
        resources=resources,
        run_config={"ops": {"contratos": {"config": {"vigencia_janela_dias": None}}}},
    )
    mat = result.asset_materializations_for_node("contratos")[0]
    return {k: v.value for k, v in mat.metadata.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=20000)
    args = parser.parse_args()
    with simulator_process(UASG, args.contracts) as base, scratch_database() as db:
        resources = {
            "comprasnet": ComprasNetResource(base_url=base),
            "warehouse": WarehouseResource(database_url=db),
        }
        WarehouseResource(database_url=db).get_engine()  # migrate outside the timing
        rss_before = rss_mb()
        t0 = time.perf_counter()
        first = run(resources)
        wall = time.perf_counter() - t0
        peak = rss_mb()
        control(base, "reset_counts")
        t1 = time.perf_counter()
        second = run(resources)
        rewall = time.perf_counter() - t1
        counts = control(base, "counts")
    rows = first["inseridos"]
    print(f"contracts in listing        : {first['listados']}")
    print(f"first sync wall time        : {wall:.2f} s")
    print(f"first sync rows/s           : {rows / wall:,.0f}")
    print(f"bytes downloaded            : {first['bytes']:,}")
    print(
        f"peak RSS (process)          : {peak:.0f} MB (before sync {rss_before:.0f} MB) "
        f"target <= 300 MB -> ratio {peak / 300:.2f}"
    )
    print(f"re-sync wall time           : {rewall:.2f} s")
    print(
        f"re-sync requests            : {sum(counts['requests'].values())} "
        f"(listing {counts['by_kind'].get('listing', 0)})"
    )
    print(f"re-sync rows written        : {second['linhas_escritas']} (target 0)")


if __name__ == "__main__":
    main()
