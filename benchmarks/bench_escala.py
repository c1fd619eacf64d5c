"""Scale benchmark: 3,000 UASGs (300 with a fixed hour) configured from a CSV file.

Prints, measured:
  * code location load time in a fresh process (``import licitacao_pipeline.definitions``),
    best of 3 — target < 3 s;
  * evaluation time of the busiest daytime tick and of the 03:00 full-sync tick (200 UASGs)
    against an ephemeral instance holding active runs — target < 1 s each;
  * the number of run-storage queries per tick (expected: 1).

    python benchmarks/bench_escala.py [--uasgs 3000] [--with-hour 300] [--active-runs 120]
"""

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

LOAD_TARGET_S = 3.0
TICK_TARGET_S = 1.0
SEEDS = {"787010": "09:00", "787000": "11:00", "770001": "14:00", "787400": "16:00"}
SP = ZoneInfo("America/Sao_Paulo")
DAY = datetime(2026, 11, 25, tzinfo=SP)


def write_csv(path: Path, n: int, with_hour: int) -> None:
    hours = dict(SEEDS)
    codes = list(SEEDS) + [f"{i * 331 % 1_000_000:06d}" for i in range(1, n - len(SEEDS) + 1)]
    for i, codigo in enumerate(codes[len(SEEDS) : with_hour]):
        hours[codigo] = f"{i % 24:02d}:{i * 7 % 60:02d}"
    rows = [f"{c};{hours.get(c, '')};UNIDADE {i}" for i, c in enumerate(codes)]
    path.write_text("\ufeffcodigo;hora;nome\n" + "\n".join(rows) + "\n", encoding="utf-8")


def load_time(env: dict[str, str]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-W", "ignore", "-c", "import licitacao_pipeline.definitions"],
            env=env,
            check=True,
        )
        best = min(best, time.perf_counter() - started)
    return best


def report(label: str, seconds: float, target: float) -> None:
    verdict = "OK" if seconds < target else "OVER TARGET"
    ratio = seconds / target
    print(f"{label:<48} {seconds:7.3f} s  target < {target:.0f} s  ratio {ratio:.2f} {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uasgs", type=int, default=3000)
    parser.add_argument("--with-hour", type=int, default=300)
    parser.add_argument("--active-runs", type=int, default=120)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "uasgs.csv"
        write_csv(path, args.uasgs, args.with_hour)
        env = {**os.environ, "LICITACAO_UASGS_FILE": str(path)}
        env.pop("LICITACAO_UASGS", None)
        print(f"{args.uasgs} UASGs ({args.with_hour} with a fixed hour) in {path.name}")
        report("code location load (fresh process, best of 3)", load_time(env), LOAD_TARGET_S)

        os.environ.update(LICITACAO_UASGS_FILE=str(path))
        os.environ.pop("LICITACAO_UASGS", None)
        ticks(args.active_runs)


def ticks(active_runs: int) -> None:
    import warnings

    warnings.simplefilter("ignore")
    import dagster as dg
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from licitacao_pipeline.definitions import defs
    from licitacao_pipeline.defs.partitions import UASGS
    from licitacao_pipeline.defs.schedules import full_sync_rotation

    repo = defs.get_repository_def()
    diaria = repo.get_schedule_def("sincronizacao_diaria")
    completa = repo.get_schedule_def("sincronizacao_completa_diaria")
    queries: list[str] = []

    def count_run_queries(_conn, _cursor, statement, *_):
        if "FROM runs" in statement:
            queries.append(statement)

    event.listen(Engine, "before_cursor_execute", count_run_queries)

    busiest, size = busiest_slot()
    _, _, tonight = full_sync_rotation(UASGS, DAY.date(), 200)
    print(
        f"busiest daytime slot {busiest:%H:%M}: {size} UASGs; tonight's full sync: {len(tonight)}"
    )

    with dg.instance_for_test() as instance:
        slot_codes = [
            r.partition_key for r in evaluate(diaria, instance, repo, busiest).run_requests
        ]
        seed_runs(instance, repo, slot_codes, [u.codigo for u in tonight], active_runs)
        for label, schedule, when in (
            (f"daytime tick ({size} UASGs, median of 5)", diaria, busiest),
            (f"full-sync tick ({len(tonight)} UASGs, median of 5)", completa, DAY.replace(hour=3)),
        ):
            times, counts = [], []
            for _ in range(5):
                queries.clear()
                started = time.perf_counter()
                with contextlib.redirect_stderr(io.StringIO()):  # the per-UASG skip lines
                    data = evaluate(schedule, instance, repo, when)
                times.append(time.perf_counter() - started)
                counts.append(len(queries))
            report(label, statistics.median(times), TICK_TARGET_S)
            print(
                f"    first {times[0]:.3f} s; requested {len(data.run_requests)}, "
                f"run-storage queries per tick: {sorted(set(counts))}"
            )


def busiest_slot() -> tuple[datetime, int]:
    from licitacao_pipeline import settings
    from licitacao_pipeline.defs.partitions import UASGS
    from licitacao_pipeline.uasgs import schedule_times

    conf = settings.load()
    times = Counter(schedule_times(UASGS, conf.window(), conf.slot_minutes()).values())
    ((at, size),) = times.most_common(1)
    return DAY.replace(hour=at.hour, minute=at.minute), size


def evaluate(schedule, instance, repo, when):
    import dagster as dg

    ctx = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=repo
    )
    return schedule.evaluate_tick(ctx)


def seed_runs(instance, repo, slot_codes, tonight, n) -> None:
    """n active runs: half of the slot's UASGs busy, a third of tonight's full syncs pending,
    the rest daytime runs of other UASGs; alternately queued and started."""
    import dagster as dg
    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    from licitacao_pipeline.defs.partitions import UASGS

    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="licitacao_pipeline.definitions")
    )
    wanted = [("sincronizar_contratos", c) for c in slot_codes[::2]]
    wanted += [("sincronizacao_completa", c) for c in tonight[::3]]
    others = [u.codigo for u in UASGS if u.codigo not in set(slot_codes) | set(tonight)]
    wanted = (wanted + [("sincronizar_contratos", c) for c in others])[:n]
    for i, (job_name, codigo) in enumerate(wanted):
        job = repo.get_job(job_name)
        instance.create_run_for_job(
            job_def=job,
            tags={"dagster/partition": codigo},
            status=dg.DagsterRunStatus.QUEUED if i % 2 else dg.DagsterRunStatus.STARTED,
            remote_job_origin=RemoteJobOrigin(
                RemoteRepositoryOrigin(location, "__repository__"), job.name
            ),
        )
    print(f"active runs in the instance: {len(wanted)}")


if __name__ == "__main__":
    main()
