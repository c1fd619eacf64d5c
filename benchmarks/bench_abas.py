"""Issue 4 benchmark: full sync with tabs vs the physical limit and a seed-style baseline.

Simulator latency L = 50 ms, 500 contracts, concurrency C = 8 (defaults; see --help).
  T_min    = L x (1 + 4*N/C)   the physical limit for the tab requests at C in flight
  baseline = seed-style: listing, then per contract a fresh /api/contrato/id/{id} and its four
             tabs, sequentially, over one keep-alive session, without writing anything
Targets: ours <= 1.25 x T_min; >= 6x faster than the baseline; unchanged re-sync >= 100x fewer
requests than the baseline.

    python benchmarks/bench_tabs.py [--contracts 500] [--latency 0.05] [--concurrency 8]
"""

import argparse
import time

import dagster as dg
import requests
from _common import control, scratch_database, simulator_process
from licitacao_pipeline.assets.contratos import contratos
from licitacao_pipeline.assets.tabs import contratos_abas
from licitacao_pipeline.comprasnet.tabs import TABS
from licitacao_pipeline.resources import ComprasNetResource, WarehouseResource

UASG = "787010"
CONFIG = {"ops": {"contratos": {"config": {"vigencia_janela_dias": None}}}}


def baseline(base: str) -> tuple[float, int]:
    """What the old service did on every run, one request after the other."""
    session = requests.Session()
    started, count = time.perf_counter(), 0
    listing = []
    for path in (f"/api/contrato/ug/{UASG}", f"/api/contrato/inativo/ug/{UASG}"):
        listing += session.get(base + path, timeout=60).json()
        count += 1
    for record in listing:
        session.get(f"{base}/api/contrato/id/{record['id']}", timeout=60).json()
        count += 1
        for tab in TABS:
            session.get(f"{base}/api/contrato/{record['id']}/{tab}", timeout=60).json()
            count += 1
    return time.perf_counter() - started, count


def ours(resources) -> float:
    started = time.perf_counter()
    dg.materialize(
        [contratos, contratos_abas], partition_key=UASG, resources=resources, run_config=CONFIG
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    n, lat, c = args.contracts, args.latency, args.concurrency
    t_min = lat * (1 + 4 * n / c)
    with simulator_process(UASG, n, latency=lat) as base, scratch_database() as db:
        resources = {
            "comprasnet": ComprasNetResource(base_url=base, max_concurrency=c),
            "warehouse": WarehouseResource(database_url=db),
        }
        WarehouseResource(database_url=db).get_engine()  # migrations outside the timing
        control(base, "reset_counts")
        base_time, base_requests = baseline(base)
        control(base, "reset_counts")
        full = ours(resources)
        full_counts = control(base, "counts")
        control(base, "reset_counts")
        resync = ours(resources)
        re_counts = control(base, "counts")
    full_requests = sum(full_counts["requests"].values())
    re_requests = sum(re_counts["requests"].values())
    print(f"N={n} contracts, L={lat * 1000:.0f} ms, C={c}")
    print(f"T_min = L x (1 + 4N/C)        : {t_min:.2f} s")
    print(
        f"ours, full sync with tabs     : {full:.2f} s, {full_requests} requests, "
        f"max in flight {full_counts['max_in_flight']}  -> {full / t_min:.2f} x T_min "
        f"(target <= 1.25)"
    )
    print(
        f"seed-style baseline           : {base_time:.2f} s, {base_requests} requests "
        f"-> ours is {base_time / full:.1f}x faster (target >= 6)"
    )
    print(
        f"ours, unchanged re-sync       : {resync:.2f} s, {re_requests} requests "
        f"-> {base_requests / max(re_requests, 1):.0f}x fewer than the baseline (target >= 100)"
    )


if __name__ == "__main__":
    main()
