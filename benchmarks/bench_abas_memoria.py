"""Tabs memory benchmark: peak RSS of the process syncing the tabs of a 2,000- and a 20,000-
contract UASG (every tab due), and their ratio.

Each phase runs in a fresh process, so the peak is the tab step's own: one process syncs the
listing, another the tabs (and reports its ``ru_maxrss``); the simulator runs in a third.
Targets: ratio 20k / 2k <= 1.3, and under 250 MB.

    python benchmarks/bench_abas_memoria.py [--small 2000] [--large 20000]
"""

import argparse
import json
import resource
import subprocess
import sys
import time

from _common import scratch_database, simulator_process

UASG = "787010"


def phase(kind: str, base: str, db: str) -> None:
    """Child process: materialize ``contratos`` or the tabs, print what was measured."""
    import dagster as dg

    from licitacao_pipeline.defs.abas import contratos_abas
    from licitacao_pipeline.defs.contratos import contratos
    from licitacao_pipeline.defs.resources import ComprasNetResource, WarehouseResource

    resources = {
        "comprasnet": ComprasNetResource(base_url=base),
        "warehouse": WarehouseResource(database_url=db),
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = dg.materialize(
        [contratos] if kind == "contratos" else [contratos_abas],
        partition_key=UASG,
        resources=resources,
        run_config={"ops": {"contratos": {"config": {"vigencia_janela_dias": None}}}}
        if kind == "contratos"
        else None,
    )
    synced = sum(
        m.materialization.metadata["contratos_sincronizados"].value
        for m in result.get_asset_materialization_events()
        if kind == "abas"
    )
    print(
        json.dumps(
            {
                "rss_before_mb": before,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "seconds": time.perf_counter() - started,
                "tabs": synced,
            }
        )
    )


def measure(contracts: int) -> dict:
    with simulator_process(UASG, contracts) as base, scratch_database() as db:
        out = {}
        for kind in ("contratos", "abas"):
            proc = subprocess.run(
                [sys.executable, __file__, "--phase", kind, "--base", base, "--db", db],
                capture_output=True,
                text=True,
                check=True,
            )
            out[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
        return out["abas"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--phase", choices=["contratos", "abas"])
    parser.add_argument("--base")
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, args.base, args.db)
        return
    small, large = measure(args.small), measure(args.large)
    for n, m in ((args.small, small), (args.large, large)):
        print(
            f"{n:>6} contracts: {m['tabs']:>6} contract tabs in {m['seconds']:6.1f} s, "
            f"peak RSS {m['peak_rss_mb']:.0f} MB (after imports {m['rss_before_mb']:.0f} MB)"
        )
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    print(
        f"peak RSS ratio {args.large} / {args.small}: {ratio:.2f} (target <= 1.3); "
        f"largest {large['peak_rss_mb']:.0f} MB (target < 250 MB)"
    )


if __name__ == "__main__":
    main()
