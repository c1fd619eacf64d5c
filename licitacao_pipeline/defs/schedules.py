"""Schedules: one daytime sync for every UASG in staggered slots, the 03:00 full-sync rotation,
the 02:00 cleanup.

Each tick reads the run storage once for all the UASGs it is about, and every UASG it skips is
logged with its reason (shown in the tick's logs in the UI) and listed in the ``SkipReason``
when nothing is requested: the Redis lock's "locked" result, made visible.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import dagster as dg

from licitacao_pipeline import names, settings
from licitacao_pipeline.defs.abas import CONTRATOS_KEY
from licitacao_pipeline.defs.jobs import sincronizacao_completa, sincronizar_contratos
from licitacao_pipeline.defs.limpeza import limpeza
from licitacao_pipeline.defs.partitions import UASGS
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.uasgs import Uasg, schedule_times, uasg_label

ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
_DESCRIPTION_LIST_MAX = 10

Slot = tuple[int, int]  # local (hour, minute)


def active_runs(
    instance: dg.DagsterInstance, codes: Sequence[str], job_name: str | None = None
) -> dict[str, list[dg.DagsterRun]]:
    """Queued or in-progress runs of the given UASGs, by UASG: one run-storage query."""
    if not codes:
        return {}
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=ACTIVE, tags={names.PARTITION_TAG: list(codes)}, job_name=job_name
        )
    )
    by_code: dict[str, list[dg.DagsterRun]] = defaultdict(list)
    for record in records:
        by_code[record.dagster_run.tags[names.PARTITION_TAG]].append(record.dagster_run)
    return by_code


def refreshes_listing(run: dg.DagsterRun) -> bool:
    """Whether an active run makes a daytime sync redundant.

    That is another daytime sync, or an ad-hoc materialization of ``contratos`` (UI, CLI). Not
    the full sync (low priority: it may wait in the queue for hours) nor the on-demand
    one-contract job: the daytime run is requested anyway and the queue keeps one run per UASG.
    """
    if run.job_name == sincronizar_contratos.name:
        return True
    return (
        run.job_name != sincronizacao_completa.name
        and run.asset_selection is not None
        and CONTRATOS_KEY in run.asset_selection
    )


_SITUACAO = {
    dg.DagsterRunStatus.QUEUED: "na fila",
    dg.DagsterRunStatus.NOT_STARTED: "não iniciado",
    dg.DagsterRunStatus.STARTING: "iniciando",
    dg.DagsterRunStatus.STARTED: "em execução",
    dg.DagsterRunStatus.CANCELING: "cancelando",
}


def _describe(run: dg.DagsterRun) -> str:
    situacao = _SITUACAO.get(run.status, run.status.value)
    return f"o run {run.run_id} de {run.job_name} está {situacao}"


def _local(when: datetime | None) -> datetime:
    tz = ZoneInfo(TIMEZONE)
    return when.astimezone(tz) if when else datetime.now(tz).replace(second=0, microsecond=0)


def _tags(uasg: Uasg) -> dict[str, str]:
    tags = {names.UASG_TAG: uasg.codigo}
    if uasg.nome:
        tags[names.UNIDADE_TAG] = uasg.nome
    return tags


def _skip_or(
    requests: list[dg.RunRequest], what: str, skipped: list[str]
) -> list[dg.RunRequest] | dg.SkipReason:
    if requests:
        return requests
    return dg.SkipReason(f"{what}; todas as UASGs puladas: " + "; ".join(skipped))


# --- cron ---------------------------------------------------------------------------------


def _cron_field(values: Sequence[int]) -> str:
    """Sorted values as a short cron field: ``0-55/5``, ``6-9,14,18-21`` or ``8,13``."""
    step = values[1] - values[0] if len(values) > 2 else 0
    if step and all(b - a == step for a, b in zip(values, values[1:], strict=False)):
        return f"{values[0]}-{values[-1]}" + (f"/{step}" if step > 1 else "")
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def slot_crons(slots: Iterable[Slot]) -> list[str]:
    """Daily cron strings firing exactly at the given local times, at most one per hour.

    Hours with the same set of minutes share one string: 3,000 UASGs in 5-minute slots over
    06:00-22:00 plus a few fixed hours stay a handful of strings.
    """
    minutes: dict[int, set[int]] = defaultdict(set)
    for hour, minute in slots:
        minutes[hour].add(minute)
    hours_by_minutes: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for hour in sorted(minutes):
        hours_by_minutes[tuple(sorted(minutes[hour]))].append(hour)
    return [
        f"{_cron_field(mins)} {_cron_field(hours)} * * *"
        for mins, hours in sorted(hours_by_minutes.items(), key=lambda item: item[1][0])
    ]


# --- daytime sync -------------------------------------------------------------------------


def _daytime_description(uasgs: Sequence[Uasg], window: tuple[time, time], slot: int) -> str:
    fixed = [u for u in uasgs if u.hora is not None]
    shown = fixed[:_DESCRIPTION_LIST_MAX]
    listed = ", ".join(f"{uasg_label(u.codigo, u.nome)} {u.hora:%H:%M}" for u in shown)
    more = f" e mais {len(fixed) - len(shown)}" if len(fixed) > len(shown) else ""
    parts = [f"Sincronização diária de {len(uasgs)} UASGs ({TIMEZONE})"]
    if len(fixed) < len(uasgs):
        parts.append(
            f"{len(uasgs) - len(fixed)} distribuídas em {window[0]:%H:%M}-{window[1]:%H:%M} "
            f"em intervalos de {slot} minutos"
        )
    if fixed:
        parts.append(f"horários fixos: {listed}{more}")
    return (
        "; ".join(parts)
        + ". Uma UASG cuja sincronização diurna ainda está na fila ou em execução é pulada (veja "
        "os logs do tick)."
    )


def daytime_schedule(
    uasgs: Sequence[Uasg], window: tuple[time, time], slot_minutes: int
) -> dg.ScheduleDefinition:
    """``sincronizacao_diaria``: at each slot, job ``sincronizar_contratos`` for its UASGs."""
    by_code = {u.codigo: u for u in uasgs}
    slots: dict[Slot, list[str]] = defaultdict(list)
    for codigo, at in schedule_times(uasgs, window, slot_minutes).items():
        slots[(at.hour, at.minute)].append(codigo)
    crons = slot_crons(slots)

    @dg.schedule(
        name="sincronizacao_diaria",
        cron_schedule=crons[0] if len(crons) == 1 else crons,
        execution_timezone=TIMEZONE,
        job=sincronizar_contratos,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=_daytime_description(uasgs, window, slot_minutes),
    )
    def sincronizacao_diaria(context: dg.ScheduleEvaluationContext):
        when = _local(context.scheduled_execution_time)
        codes = slots.get((when.hour, when.minute), [])
        if not codes:
            return dg.SkipReason(f"nenhuma UASG agendada às {when:%H:%M}")
        busy = active_runs(context.instance, codes)
        requests, skipped = [], []
        for codigo in codes:
            uasg, runs = by_code[codigo], busy.get(codigo, [])
            label = uasg_label(codigo, uasg.nome)
            duplicate = next((r for r in runs if refreshes_listing(r)), None)
            if duplicate is not None:
                skipped.append(f"{label}: {_describe(duplicate)}")
                context.log.info(f"UASG {label} pulada: {_describe(duplicate)}")
                continue
            for run in runs:  # full sync or on-demand: the queue orders them, see README
                context.log.info(f"UASG {label} pedida, embora {_describe(run)}")
            requests.append(
                dg.RunRequest(
                    partition_key=codigo,
                    run_key=f"contratos-{codigo}-{when:%Y%m%d%H%M}",
                    tags={**_tags(uasg), **names.run_tags("agendada")},
                )
            )
        return _skip_or(requests, f"intervalo das {when:%H:%M}", skipped)

    return sincronizacao_diaria


# --- nightly full sync --------------------------------------------------------------------


def full_sync_rotation(
    uasgs: Iterable[Uasg], day: date, per_night: int
) -> tuple[int, int, tuple[Uasg, ...]]:
    """Night ``day``'s share of the full sync: (night index, nights per cycle, its UASGs).

    UASGs in code order; night k takes positions k, k + nights, ... with nights =
    ceil(n / per_night) and k = day's ordinal modulo nights. Any ``nights`` consecutive nights
    cover every UASG exactly once, at most ``per_night`` a night.
    """
    ordered = sorted(uasgs, key=lambda u: u.codigo)
    nights = max(1, math.ceil(len(ordered) / per_night))
    night = day.toordinal() % nights
    return night, nights, tuple(ordered[night::nights])


def full_sync_schedule(
    uasgs: Sequence[Uasg], per_night: int, at: time = time(3, 0)
) -> dg.ScheduleDefinition:
    """``sincronizacao_completa_diaria``: at ``at`` (03:00), job ``sincronizacao_completa``,
    rotating."""
    nights = max(1, math.ceil(len(uasgs) / per_night))
    every = "toda noite" if nights == 1 else f"a cada {nights} noites"

    @dg.schedule(
        name="sincronizacao_completa_diaria",
        cron_schedule=f"{at.minute} {at.hour} * * *",
        execution_timezone=TIMEZONE,
        job=sincronizacao_completa,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Sincronização completa às {at:%H:%M} (todas as abas, baixa prioridade) de no máximo "
            f"{per_night} UASGs por noite, em rodízio: cada uma das {len(uasgs)} UASGs {every}. "
            "Uma UASG cuja sincronização completa anterior ainda está na fila ou em execução é "
            "pulada (veja os logs do tick)."
        ),
    )
    def sincronizacao_completa_diaria(context: dg.ScheduleEvaluationContext):
        when = _local(context.scheduled_execution_time)
        night, nights, share = full_sync_rotation(uasgs, when.date(), per_night)
        busy = active_runs(
            context.instance, [u.codigo for u in share], job_name=sincronizacao_completa.name
        )
        requests, skipped = [], []
        for uasg in share:
            label = uasg_label(uasg.codigo, uasg.nome)
            if busy.get(uasg.codigo):
                skipped.append(f"{label}: {_describe(busy[uasg.codigo][0])}")
                context.log.info(f"UASG {label} pulada: {_describe(busy[uasg.codigo][0])}")
                continue
            requests.append(
                dg.RunRequest(
                    partition_key=uasg.codigo,
                    run_key=f"completa-{uasg.codigo}-{when:%Y%m%d}",
                    tags={**_tags(uasg), names.RODIZIO_TAG: f"{night + 1}/{nights}"},
                )
            )
        return _skip_or(requests, f"noite {night + 1}/{nights} da sincronização completa", skipped)

    return sincronizacao_completa_diaria


limpeza_diaria = dg.ScheduleDefinition(
    name="limpeza_diaria",
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    job=limpeza,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Às 02:00, remoção de runs, logs e arquivos exportados que passaram da retenção.",
)


def build_schedules(
    uasgs: Sequence[Uasg] | None = None,
    *,
    window: tuple[time, time] | None = None,
    slot_minutes: int | None = None,
    per_night: int | None = None,
) -> list[dg.ScheduleDefinition]:
    """The code location's schedules; arguments default to the loaded configuration."""
    conf = settings.load()
    uasgs = UASGS if uasgs is None else tuple(uasgs)
    return [
        daytime_schedule(
            uasgs,
            window or conf.window(),
            slot_minutes or conf.slot_minutes(),
        ),
        full_sync_schedule(uasgs, per_night or conf.full_sync_per_night(), conf.full_sync_at()),
        limpeza_diaria,
    ]
