"""Schedule evaluation at chosen instants, against a real (ephemeral) Dagster instance."""

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.definitions.instigation_logger import get_instigation_log_records
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.schedules import schedule_execution_time_iterator  # Dagster's own cron walker
from sqlalchemy import event
from sqlalchemy.engine import Engine

from licitacao_pipeline.definitions import defs
from licitacao_pipeline.defs.schedules import (
    build_schedules,
    daytime_schedule,
    full_sync_rotation,
    full_sync_schedule,
    slot_crons,
)
from licitacao_pipeline.uasgs import Uasg, parse_window

SP = ZoneInfo("America/Sao_Paulo")
DEFAULT_HOURS = {"787010": 9, "787000": 11, "770001": 14, "787400": 16, "787700": 18}
SEEDS = list(DEFAULT_HOURS)
DAY = date(2026, 11, 25)
REPO = defs.get_repository_def()
WINDOW = parse_window("06:00-22:00")


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SP)


def evaluate(schedule, instance, when):
    ctx = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=REPO
    )
    return schedule.evaluate_tick(ctx)


def evaluate_with_logs(schedule, instance, when):
    """Evaluate as the daemon does, with the tick's captured logs; returns (data, messages)."""
    log_key = ["licitacao_pipeline", schedule.name, when.strftime("%Y%m%d_%H%M%S")]
    with dg.ScheduleEvaluationContext(
        instance_ref=instance.get_ref(),
        scheduled_execution_time=when,
        log_key=log_key,
        repository_name="licitacao_pipeline",
        schedule_name=schedule.name,
        repository_def=REPO,
    ) as ctx:
        data = schedule.evaluate_tick(ctx)
    records = get_instigation_log_records(instance, log_key)
    return data, [r["msg"] for r in records]


def fires_at(schedule, day: date = DAY):
    """Local (hour, minute) instants of one day at which the cron fires."""
    it = schedule_execution_time_iterator(
        at(0, 0, day).timestamp(), schedule.cron_schedule, schedule.execution_timezone
    )
    out = []
    for t in it:
        if t.date() != day:
            break
        out.append((t.hour, t.minute))
    return out


def make_run(instance, job_name, uasg, status, asset_selection=None) -> dg.DagsterRun:
    """A run as the queue or a launcher leaves it (real origin, so QUEUED is accepted)."""
    if asset_selection:  # an ad-hoc materialization (UI, CLI)
        job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=asset_selection
        )
    else:
        job = REPO.get_job(job_name)
    run_config = None
    if job_name == "sincronizar_contrato":  # the on-demand job needs its contract id
        run_config = {"ops": {node.name: {"config": {"contrato_id": 1}} for node in job.nodes}}
    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(
            InProcessCodeLocationOrigin(
                LoadableTargetOrigin(module_name="licitacao_pipeline.definitions")
            ),
            "__repository__",
        ),
        job.name,
    )
    return instance.create_run_for_job(
        job_def=job,
        tags={"dagster/partition": uasg},
        status=status,
        remote_job_origin=origin,
        asset_selection=asset_selection,
        run_config=run_config,
    )


def requested(data):
    return [r.partition_key for r in data.run_requests]


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def all_at_nine():
    """The seeds' five sharing the 09:00 slot, names known for two."""
    names = {"787010": "CENTRO DE INTENDENCIA", "770001": "BASE AEREA"}
    uasgs = [Uasg(c, time(9), names.get(c)) for c in SEEDS]
    return daytime_schedule(uasgs, WINDOW, 5)


@pytest.fixture
def run_queries():
    """Statements reading the run storage (runs table), counted through SQLAlchemy itself."""
    statements: list[str] = []

    def on_execute(conn, cursor, statement, *_):
        if "FROM runs" in statement:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", on_execute)
    yield statements
    event.remove(Engine, "before_cursor_execute", on_execute)


def test_one_daytime_schedule_fires_the_seeds_at_their_hours(instance):
    names = sorted(s.name for s in REPO.schedule_defs)
    assert names == [
        "limpeza_diaria",
        "sincronizacao_completa_diaria",
        "sincronizacao_diaria",
        "verificacao_saude",
    ]
    diaria = REPO.get_schedule_def("sincronizacao_diaria")
    assert diaria.execution_timezone == "America/Sao_Paulo"
    assert fires_at(diaria) == [(h, 0) for h in sorted(DEFAULT_HOURS.values())]
    for uasg, hour in DEFAULT_HOURS.items():
        assert requested(evaluate(diaria, instance, at(hour))) == [uasg]


def test_tick_requests_exactly_its_partition(instance):
    data = evaluate(REPO.get_schedule_def("sincronizacao_diaria"), instance, at(14))
    (req,) = data.run_requests
    assert req.partition_key == "770001"
    assert req.tags["dagster/partition"] == "770001"
    assert req.tags["licitacao/uasg"] == "770001"
    assert "licitacao/unidade" not in req.tags  # no name configured for the seeds
    assert req.run_key == "contratos-770001-202611251400"
    job = REPO.get_job("sincronizar_contratos")
    assert job.run_tags["dagster/max_runtime"] == "3600"


def test_slot_requests_every_uasg_of_the_slot_with_names(instance, all_at_nine):
    data = evaluate(all_at_nine, instance, at(9))
    assert requested(data) == SEEDS
    by_uasg = {r.partition_key: r.tags for r in data.run_requests}
    assert by_uasg["787010"]["licitacao/unidade"] == "CENTRO DE INTENDENCIA"
    assert "licitacao/unidade" not in by_uasg["787000"]
    assert "CENTRO DE INTENDENCIA" in all_at_nine.description


def test_active_daytime_run_skips_that_uasg_with_its_reason(instance, all_at_nine):
    busy = make_run(instance, "sincronizar_contratos", "787010", dg.DagsterRunStatus.STARTED)
    queued = make_run(instance, "sincronizar_contratos", "787000", dg.DagsterRunStatus.QUEUED)
    data, logs = evaluate_with_logs(all_at_nine, instance, at(9))
    assert requested(data) == ["770001", "787400", "787700"]
    skipped = [m for m in logs if " pulada: " in m]
    assert len(skipped) == 2
    assert busy.run_id in skipped[0] and "787010 (CENTRO DE INTENDENCIA)" in skipped[0]
    assert "está em execução" in skipped[0]
    assert queued.run_id in skipped[1] and "787000" in skipped[1] and "está na fila" in skipped[1]

    instance.report_run_canceled(busy)
    assert requested(evaluate(all_at_nine, instance, at(9))) == [c for c in SEEDS if c != "787000"]


def test_skip_reason_lists_every_uasg_when_nothing_is_requested(instance, all_at_nine):
    runs = {
        c: make_run(instance, "sincronizar_contratos", c, dg.DagsterRunStatus.QUEUED) for c in SEEDS
    }
    data = evaluate(all_at_nine, instance, at(9))
    assert not data.run_requests
    for codigo, run in runs.items():
        assert f"{codigo}" in data.skip_message and run.run_id in data.skip_message
    labels = {"787010": "787010 (CENTRO DE INTENDENCIA)", "770001": "770001 (BASE AEREA)"}
    assert data.skip_message == "intervalo das 09:00; todas as UASGs puladas: " + "; ".join(
        f"{labels.get(c, c)}: o run {runs[c].run_id} de sincronizar_contratos está na fila"
        for c in SEEDS
    )


def test_ad_hoc_materialization_of_the_listing_counts_as_a_duplicate(instance, all_at_nine):
    make_run(
        instance,
        "__ASSET_JOB",
        "787400",
        dg.DagsterRunStatus.STARTED,
        asset_selection={dg.AssetKey("contratos")},
    )
    assert "787400" not in requested(evaluate(all_at_nine, instance, at(9)))


def test_full_sync_or_on_demand_run_does_not_silence_the_daytime_sync(instance, all_at_nine):
    full = make_run(instance, "sincronizacao_completa", "787010", dg.DagsterRunStatus.QUEUED)
    make_run(instance, "sincronizacao_completa", "787000", dg.DagsterRunStatus.STARTED)
    make_run(instance, "sincronizar_contrato", "770001", dg.DagsterRunStatus.QUEUED)
    data, logs = evaluate_with_logs(all_at_nine, instance, at(9))
    assert requested(data) == SEEDS
    assert not [m for m in logs if "pulada" in m]
    (note,) = [m for m in logs if full.run_id in m]
    assert (
        "UASG 787010 (CENTRO DE INTENDENCIA) pedida, embora" in note
        and "sincronizacao_completa" in note
    )


def test_a_tick_reads_the_run_storage_once(instance, all_at_nine, run_queries):
    for codigo in SEEDS[:3]:
        make_run(instance, "sincronizar_contratos", codigo, dg.DagsterRunStatus.QUEUED)
    make_run(instance, "sincronizacao_completa", SEEDS[3], dg.DagsterRunStatus.QUEUED)
    full = full_sync_schedule([Uasg(c) for c in SEEDS], per_night=200)

    run_queries.clear()
    assert requested(evaluate(all_at_nine, instance, at(9))) == SEEDS[3:]
    assert len(run_queries) == 1
    assert "run_tags" in run_queries[0]  # the partition tag filter is in the query itself

    run_queries.clear()
    assert requested(evaluate(full, instance, at(3))) == [c for c in sorted(SEEDS) if c != SEEDS[3]]
    assert len(run_queries) == 1


def test_full_sync_at_three_requests_every_seed_at_low_priority(instance):
    full = REPO.get_schedule_def("sincronizacao_completa_diaria")
    assert full.cron_schedule == "0 3 * * *"
    data = evaluate(full, instance, at(3))
    assert sorted(requested(data)) == sorted(DEFAULT_HOURS)
    assert {r.run_key for r in data.run_requests} == {f"completa-{c}-20261125" for c in SEEDS}
    assert REPO.get_job("sincronizacao_completa").run_tags["dagster/priority"] == "-10"
    assert REPO.get_job("sincronizar_contrato").run_tags["dagster/priority"] == "10"
    assert REPO.get_schedule_def("limpeza_diaria").cron_schedule == "0 2 * * *"


def test_full_sync_skips_a_uasg_whose_full_sync_is_still_active(instance):
    full = REPO.get_schedule_def("sincronizacao_completa_diaria")
    late = make_run(instance, "sincronizacao_completa", "787010", dg.DagsterRunStatus.QUEUED)
    make_run(instance, "sincronizar_contratos", "787000", dg.DagsterRunStatus.STARTED)
    data, logs = evaluate_with_logs(full, instance, at(3))
    assert sorted(requested(data)) == sorted(c for c in SEEDS if c != "787010")
    (skipped,) = [m for m in logs if " pulada: " in m]
    assert "787010" in skipped and late.run_id in skipped and "está na fila" in skipped

    for codigo in SEEDS[1:]:
        make_run(instance, "sincronizacao_completa", codigo, dg.DagsterRunStatus.STARTED)
    data = evaluate(full, instance, at(3))
    assert not data.run_requests
    assert all(c in data.skip_message for c in SEEDS) and late.run_id in data.skip_message


@pytest.mark.parametrize("n,per_night,nights", [(5, 200, 1), (1001, 200, 6), (3000, 200, 15)])
def test_rotation_covers_every_uasg_once_per_cycle(n, per_night, nights):
    uasgs = [Uasg(f"{i * 7:06d}") for i in range(n)]
    for first in (DAY, DAY + timedelta(days=4)):
        seen = Counter()
        for k in range(nights):
            night, cycle, share = full_sync_rotation(uasgs, first + timedelta(days=k), per_night)
            assert cycle == nights and len(share) <= per_night
            seen.update(u.codigo for u in share)
        assert seen == Counter(u.codigo for u in uasgs)  # each exactly once
    again = full_sync_rotation(uasgs, DAY + timedelta(days=nights), per_night)
    assert again == full_sync_rotation(uasgs, DAY, per_night)


def test_slot_crons_are_compact_and_fire_exactly_at_the_slots():
    slots = {(h, m) for h in range(6, 22) for m in range(0, 60, 5)} | {(9, 13), (23, 59), (0, 7)}
    crons = slot_crons(slots)
    assert len(crons) <= 4
    schedule = dg.ScheduleDefinition(
        name="s", cron_schedule=crons, job_name="j", execution_timezone="America/Sao_Paulo"
    )
    assert fires_at(schedule) == sorted(slots)


# --- 3,000 UASGs, in a fresh process that loads the code location from a file -------------

SIMULATED_DAY = textwrap.dedent(
    """
    import json, sys, warnings
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    warnings.simplefilter("ignore")
    import dagster as dg
    from dagster._utils.schedules import schedule_execution_time_iterator
    from licitacao_pipeline.definitions import defs

    sp = ZoneInfo("America/Sao_Paulo")
    repo = defs.get_repository_def()
    diaria = repo.get_schedule_def("sincronizacao_diaria")
    completa = repo.get_schedule_def("sincronizacao_completa_diaria")
    start = datetime(2026, 11, 25, tzinfo=sp)
    out = {"crons": diaria.cron_schedule, "requests": [], "nights": []}
    with dg.instance_for_test() as instance:
        def tick(schedule, when):
            ctx = dg.build_schedule_context(
                instance=instance, scheduled_execution_time=when, repository_def=repo
            )
            return schedule.evaluate_tick(ctx).run_requests
        iterator = schedule_execution_time_iterator(
            start.timestamp(), diaria.cron_schedule, diaria.execution_timezone
        )
        for when in iterator:
            if when.date() != start.date():
                break
            hhmm = when.strftime("%H:%M")
            out["requests"] += [(r.partition_key, hhmm) for r in tick(diaria, when)]
        for k in range(int(sys.argv[1])):
            when = start + timedelta(days=k, hours=3)
            out["nights"].append([r.partition_key for r in tick(completa, when)])
    print(json.dumps(out))
    """
)


def write_uasgs_csv(path, n=3000, with_hour=300):
    """n distinct codes (some with leading zeros), ``with_hour`` of them with a fixed hour.

    The seeds' five come first with their hours; ``;`` delimiter and a BOM, as Excel writes.
    """
    hours = {c: f"{h:02d}:00" for c, h in DEFAULT_HOURS.items()}
    codes = SEEDS + [f"{i * 331 % 1_000_000:06d}" for i in range(1, n - len(SEEDS) + 1)]
    assert len(set(codes)) == n
    for i, codigo in enumerate(codes[len(SEEDS) : with_hour]):
        hours[codigo] = f"{i % 24:02d}:{i * 7 % 60:02d}"
    lines = ["codigo;hora;nome"] + [
        f"{c};{hours.get(c, '')};UNIDADE {i}" for i, c in enumerate(codes)
    ]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return codes, hours


def test_3000_uasgs_load_and_each_is_requested_once_a_day(tmp_path):
    codes, hours = write_uasgs_csv(tmp_path / "uasgs.csv")
    env = {**os.environ, "LICITACAO_UASGS_FILE": str(tmp_path / "uasgs.csv")}
    env.pop("LICITACAO_UASGS", None)
    proc = subprocess.run(
        [sys.executable, "-c", SIMULATED_DAY, "15"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    assert len(out["crons"]) <= 24  # at most one cron string per hour
    when = dict(out["requests"])
    assert len(out["requests"]) == len(when) == len(codes)  # each UASG exactly once
    assert set(when) == set(codes)
    assert {c: when[c] for c in hours} == hours  # fixed hours kept exactly
    assert {c: when[c] for c in SEEDS} == {c: f"{h:02d}:00" for c, h in DEFAULT_HOURS.items()}
    auto = [when[c] for c in codes if c not in hours]
    assert all("06:00" <= t < "22:00" and int(t[3:]) % 5 == 0 for t in auto)
    assert auto == sorted(auto)  # spread in configured order
    assert max(Counter(auto).values()) <= 15  # 2,700 over 192 slots

    nights = out["nights"]
    assert all(len(n) <= 200 for n in nights)
    assert Counter(c for n in nights for c in n) == Counter(codes)  # 15 nights cover all once


def test_build_schedules_takes_what_it_is_given_and_the_configuration_for_the_rest(
    instance, monkeypatch
):
    """The code location's schedules are built once, at import: built here again, with given
    and with configured settings (also so that the mutation check exercises the builder)."""
    given = [Uasg("787010", time(7, 0)), Uasg("787000")]
    diaria, completa, limpeza = build_schedules(
        given, window=parse_window("08:00-10:00"), slot_minutes=30, per_night=1
    )
    assert [s.name for s in (diaria, completa, limpeza)] == [
        "sincronizacao_diaria",
        "sincronizacao_completa_diaria",
        "limpeza_diaria",
    ]
    assert fires_at(diaria) == [(7, 0), (9, 0)]  # the only free UASG: mid-window
    nights = [requested(evaluate(completa, instance, at(3, 0, DAY + timedelta(d)))) for d in (0, 1)]
    assert sorted(nights) == [["787000"], ["787010"]]  # one a night, both in two nights
    assert completa.description == (
        "Sincronização completa às 03:00 (todas as abas, baixa prioridade) de no máximo 1 UASGs "
        "por noite, em rodízio: cada uma das 2 UASGs a cada 2 noites. Uma UASG cuja "
        "sincronização completa anterior ainda está na fila ou em execução é pulada (veja os "
        "logs do tick)."
    )

    monkeypatch.setenv("LICITACAO_SCHEDULE_WINDOW", "10:00-12:00")
    monkeypatch.setenv("LICITACAO_SCHEDULE_SLOT_MINUTES", "60")
    monkeypatch.setenv("LICITACAO_FULL_SYNC_PER_NIGHT", "2")
    diaria, completa, _ = build_schedules([Uasg("770001"), Uasg("787400"), Uasg("787700")])
    assert fires_at(diaria) == [(10, 0), (11, 0)]
    assert len(requested(evaluate(completa, instance, at(3)))) in (1, 2)  # 3 over 2 nights
    assert "no máximo 2 UASGs por noite, em rodízio: cada uma das 3 UASGs a cada 2 noites" in (
        completa.description
    )
    _, completa, _ = build_schedules(given, window=WINDOW, slot_minutes=5, per_night=200)
    assert "no máximo 200 UASGs por noite, em rodízio: cada uma das 2 UASGs toda noite." in (
        completa.description
    )

    diaria, *_ = build_schedules(window=WINDOW, slot_minutes=5, per_night=200)
    assert fires_at(diaria) == [(h, 0) for h in sorted(DEFAULT_HOURS.values())]  # the loaded list


def test_the_daytime_schedule_says_when_each_uasg_runs():
    """The description the UI shows: the fixed hours (ten at most, then a count) and how the
    others are spread."""
    fixed = [Uasg(f"{i:06d}", time(7, i), f"U{i}" if i % 2 else None) for i in range(12)]
    free = [Uasg("900001"), Uasg("900002")]
    listed = ", ".join(
        f"{i:06d} (U{i}) 07:{i:02d}" if i % 2 else f"{i:06d} 07:{i:02d}" for i in range(10)
    )
    tail = (
        ". Uma UASG cuja sincronização diurna ainda está na fila ou em execução é pulada (veja "
        "os logs do tick)."
    )
    head = "Sincronização diária de {} UASGs (America/Sao_Paulo)"
    window = parse_window("06:30-21:45")
    assert daytime_schedule(fixed + free, window, 15).description == (
        head.format(14) + "; 2 distribuídas em 06:30-21:45 em intervalos de 15 minutos"
        f"; horários fixos: {listed} e mais 2" + tail
    )
    assert daytime_schedule(fixed[:3], window, 5).description == (
        head.format(3) + "; horários fixos: 000000 07:00, 000001 (U1) 07:01, 000002 07:02" + tail
    )
    assert daytime_schedule(free, window, 5).description == (
        head.format(2) + "; 2 distribuídas em 06:30-21:45 em intervalos de 5 minutos" + tail
    )


@pytest.mark.parametrize(
    "slots,crons",
    [
        ([(h, m) for h in range(6, 22) for m in range(0, 60, 5)], ["0-55/5 6-21 * * *"]),
        ([(9, 0), (11, 0), (14, 0), (16, 0), (18, 0)], ["0 9,11,14,16,18 * * *"]),
        ([(6, 0), (6, 30), (7, 0), (7, 30), (8, 0), (8, 30)], ["0,30 6-8 * * *"]),
        ([(6, 10), (7, 10), (9, 10), (10, 10), (14, 40)], ["10 6,7,9,10 * * *", "40 14 * * *"]),
        ([(h, 0) for h in (6, 7, 8, 9, 14, 18, 19, 20, 21)], ["0 6-9,14,18-21 * * *"]),
        ([(3, 0), (13, 0), (23, 0)], ["0 3-23/10 * * *"]),
        ([(5, 1), (5, 2), (5, 3)], ["1-3 5 * * *"]),
        ([(5, 7), (5, 8)], ["7,8 5 * * *"]),
        ([(0, 0)], ["0 0 * * *"]),
        ([(14, 10), (6, 40)], ["40 6 * * *", "10 14 * * *"]),  # in order of their first hour
        ([(h, 0) for h in (6, 8, 10)], ["0 6-10/2 * * *"]),
        ([(h, 0) for h in (6, 7, 8, 14)], ["0 6-8,14 * * *"]),
    ],
)
def test_slot_crons_are_exact_and_short(slots, crons):
    """Not only the right instants (the tests above): short strings, one per set of minutes."""
    assert slot_crons(slots) == crons


def test_without_a_scheduled_time_the_schedules_use_this_minute_in_sao_paulo():
    """A schedule evaluated by hand (no scheduled execution time: the UI's "test schedule",
    `dagster schedule preview`) takes the current São Paulo minute, not the machine's clock."""
    from licitacao_pipeline.defs.schedules import _local

    sao_paulo = ZoneInfo("America/Sao_Paulo")
    before = datetime.now(sao_paulo).replace(second=0, microsecond=0)
    got = _local(None)
    after = datetime.now(sao_paulo)
    assert got.utcoffset() == before.utcoffset() and str(got.tzinfo) == "America/Sao_Paulo"
    assert before <= got <= after and (got.second, got.microsecond) == (0, 0)
    given = datetime(2026, 3, 11, 2, 30, tzinfo=ZoneInfo("UTC"))
    assert _local(given) == given and _local(given).hour == 23  # the same instant, local hour
