"""Schedule evaluation at chosen instants, against a real (ephemeral) Dagster instance."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import schedule_execution_time_iterator  # Dagster's own cron walker

from licitacao_pipeline.config import parse_uasgs, parse_window, schedule_times
from licitacao_pipeline.definitions import defs
from licitacao_pipeline.defs.schedules import uasg_schedule

SP = ZoneInfo("America/Sao_Paulo")
DEFAULT_HOURS = {"787010": 9, "787000": 11, "770001": 14, "787400": 16, "787700": 18}


def schedules_by_uasg():
    repo = defs.get_repository_def()
    return {
        s.name.removeprefix("contratos_"): s
        for s in repo.schedule_defs
        if s.name.startswith("contratos_")
    }


def evaluate(schedule, instance, when):
    ctx = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    return schedule.evaluate_tick(ctx)


def fires_at(schedule, day):
    """Local (hour, minute) instants of one day at which the cron fires."""
    start = datetime(day.year, day.month, day.day, 0, 0, tzinfo=SP)
    it = schedule_execution_time_iterator(
        start.timestamp(), schedule.cron_schedule, schedule.execution_timezone
    )
    out = []
    for t in it:
        if t.date() != day:
            break
        out.append((t.hour, t.minute))
    return out


def test_each_uasg_fires_once_a_day_at_its_local_hour():
    scheds = schedules_by_uasg()
    assert set(scheds) == set(DEFAULT_HOURS)
    day = datetime(2026, 11, 25).date()
    for uasg, hour in DEFAULT_HOURS.items():
        assert scheds[uasg].execution_timezone == "America/Sao_Paulo"
        assert fires_at(scheds[uasg], day) == [(hour, 0)]


def test_tick_requests_exactly_its_partition():
    with dg.instance_for_test() as instance:
        when = datetime(2026, 11, 25, 14, 0, tzinfo=SP)
        data = evaluate(schedules_by_uasg()["770001"], instance, when)
        assert [r.partition_key for r in data.run_requests] == ["770001"]
        req = data.run_requests[0]
        assert req.tags["dagster/partition"] == "770001"
        job = defs.get_repository_def().get_job("sincronizar_contratos")
        assert job.run_tags["dagster/max_runtime"] == "3600"


def test_tick_skips_with_reason_when_the_uasg_has_an_active_run():
    job = defs.resolve_job_def("sincronizar_contratos")
    with dg.instance_for_test() as instance:
        busy = instance.create_run_for_job(
            job_def=job, tags={"dagster/partition": "787010"}, status=dg.DagsterRunStatus.STARTED
        )
        other = evaluate(
            schedules_by_uasg()["787000"], instance, datetime(2026, 11, 25, 11, tzinfo=SP)
        )
        assert [r.partition_key for r in other.run_requests] == ["787000"]
        data = evaluate(
            schedules_by_uasg()["787010"], instance, datetime(2026, 11, 25, 9, tzinfo=SP)
        )
        assert not data.run_requests
        assert busy.run_id in data.skip_message and "787010" in data.skip_message
        instance.report_run_canceled(busy)
        data = evaluate(
            schedules_by_uasg()["787010"], instance, datetime(2026, 11, 25, 9, tzinfo=SP)
        )
        assert [r.partition_key for r in data.run_requests] == ["787010"]


def test_extra_uasgs_without_hour_are_staggered_and_scheduled():
    uasgs = parse_uasgs("787010@09:00,153165,160001,170002")
    times = schedule_times(uasgs, parse_window("06:00-22:00"))
    scheds = {u: uasg_schedule(u, t) for u, t in times.items()}
    day = datetime(2026, 11, 25).date()
    fired = {u: fires_at(s, day) for u, s in scheds.items()}
    assert all(len(f) == 1 for f in fired.values())
    instants = [f[0] for f in fired.values()]
    assert len(set(instants)) == len(instants)  # nobody starts together
    assert fired["787010"] == [(9, 0)]
    assert times["153165"] < times["160001"] < times["170002"]
    assert all(time(6) <= t < time(22) for t in times.values())


@pytest.mark.parametrize("hour", [0, 8, 10, 23])
def test_no_uasg_fires_at_other_hours(hour):
    day = datetime(2026, 11, 25).date()
    for sched in schedules_by_uasg().values():
        assert all(h != hour for h, _ in fires_at(sched, day))


def test_full_sync_at_three_requests_every_uasg_at_low_priority():
    repo = defs.get_repository_def()
    full = repo.get_schedule_def("sincronizacao_completa_diaria")
    assert full.cron_schedule == "0 3 * * *"
    with dg.instance_for_test() as instance:
        data = evaluate(full, instance, datetime(2026, 11, 25, 3, tzinfo=SP))
    assert sorted(r.partition_key for r in data.run_requests) == sorted(DEFAULT_HOURS)
    job = repo.get_job("sincronizacao_completa")
    assert job.run_tags["dagster/priority"] == "-10"
    assert repo.get_job("sincronizar_contrato").run_tags["dagster/priority"] == "10"
    assert repo.get_schedule_def("limpeza_diaria").cron_schedule == "0 2 * * *"
