"""Use cases of the portal layer (the public portal's data at most 30 minutes old, the health
check of the old Celery task ``tasks.mapa_tasks.health_check``, the dashboard's sync metrics),
Dagster-free: refresh the ``painel_contratos`` view, snapshot its
statistics, snapshot sync metrics, write the expiring-contracts report (table + CSV), and check
that ComprasNet and the warehouse answer.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine

from licitacao_pipeline.comprasnet.abas import ABAS
from licitacao_pipeline.files.atomic import atomic_text
from licitacao_pipeline.files.cells import brl, safe_text
from licitacao_pipeline.files.paths import inside
from licitacao_pipeline.warehouse import portal as sql

LOCK_TIMEOUT_S = 600.0  # wait this long for a refresh already running, then fail
TOP_FORNECEDORES = 10
TAB_COLUMNS = [f"{aba}_atualizado_em" for aba in ABAS]
# Columns of the overall row only (None on the per-UASG rows).
OVERALL_ONLY = (
    "uasgs_nunca_sincronizadas",
    "runs_com_falha_24h",
    "runs_na_fila",
    "runs_em_execucao",
)


# --- view and statistics --------------------------------------------------------------------


@dataclass(frozen=True)
class Refresh:
    linhas: int
    duracao_s: float


def refresh_painel(engine: Engine, lock_timeout_s: float = LOCK_TIMEOUT_S) -> Refresh:
    """``REFRESH MATERIALIZED VIEW CONCURRENTLY``, one at a time (advisory lock)."""
    started = time.monotonic()
    with engine.begin() as conn:
        linhas = sql.refresh_painel(conn, lock_timeout_s)
    return Refresh(linhas, round(time.monotonic() - started, 3))


def snapshot_statistics(engine: Engine, top: int = TOP_FORNECEDORES) -> list[Mapping[str, Any]]:
    """Insert one statistics snapshot from the view; the overall row (uasg None) comes first."""
    with engine.begin() as conn:
        return sql.insert_estatisticas(conn, top)


# --- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCounts:
    falhas_24h: int
    na_fila: int
    em_execucao: int


def _oldest(values: Iterable[datetime | None]) -> datetime | None:
    """The oldest timestamp, or None when any is missing (never synced is the worst lag)."""
    values = list(values)
    return None if not values or None in values else min(values)  # type: ignore[type-var]


def _uasg_row(codigo: str, stored: Mapping[str, Any] | None, last_sync: datetime | None):
    return {
        "uasg": codigo,
        "contratos": stored["contratos"] if stored else 0,
        "ultima_sincronizacao_em": last_sync,
        **{c: stored[c] if stored else None for c in TAB_COLUMNS},
        **dict.fromkeys(OVERALL_ONLY),
    }


def _overall_row(por_uasg: Sequence[Mapping[str, Any]], runs: RunCounts) -> dict[str, Any]:
    """Totals; the timestamps are the oldest among the UASGs (the worst lag)."""
    return {
        "uasg": None,
        "contratos": sum(r["contratos"] for r in por_uasg),
        **{c: _oldest(r[c] for r in por_uasg) for c in ("ultima_sincronizacao_em", *TAB_COLUMNS)},
        "uasgs_nunca_sincronizadas": sum(
            1 for r in por_uasg if r["ultima_sincronizacao_em"] is None
        ),
        "runs_com_falha_24h": runs.falhas_24h,
        "runs_na_fila": runs.na_fila,
        "runs_em_execucao": runs.em_execucao,
    }


def snapshot_metrics(
    engine: Engine,
    uasgs: Sequence[str],
    last_sync: Mapping[str, datetime],
    runs: RunCounts,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Insert one metrics snapshot: the overall row first, then one per UASG (configured or
    stored). ``last_sync``: each UASG's last successful ``contratos`` materialization."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        stored = sql.contracts_per_uasg(conn)
        por_uasg = [
            _uasg_row(codigo, stored.get(codigo), last_sync.get(codigo))
            for codigo in sorted(set(uasgs) | set(stored))
        ]
        rows = [{"calculado_em": now, **row} for row in [_overall_row(por_uasg, runs), *por_uasg]]
        sql.insert_metricas(conn, rows)
    return rows


# --- expiring-contracts report ----------------------------------------------------------------

CSV_HEADER = [
    "UASG",
    "Unidade",
    "Número",
    "Fornecedor (CNPJ/CPF)",
    "Fornecedor",
    "Objeto",
    "Valor global (R$)",
    "Fim da vigência",
    "Dias para o fim",
    "Faixa (dias)",
]


def csv_row(row: Mapping[str, Any]) -> list[str]:
    """The report's cells: text from the API neutralized; numbers and dates formatted here."""
    return [
        row["uasg"],
        *(safe_text(row[c]) for c in ("unidade_nome", "numero", "fornecedor_documento")),
        *(safe_text(row[c]) for c in ("fornecedor_nome", "objeto")),
        brl(row["valor_global"]),
        f"{row['vigencia_fim']:%d/%m/%Y}",
        str(row["dias_para_fim"]),
        str(row["faixa_dias"]),
    ]


def report_path(directory: Path, day: date) -> Path:
    """``<directory>/contratos_a_vencer_YYYYMMDD.csv``: the name is generated, never given."""
    return inside(directory, f"contratos_a_vencer_{day:%Y%m%d}.csv")


def write_atomic(path: Path, write: Callable[[IO[str]], None]) -> None:
    """Write into a temporary file beside ``path`` (UTF-8 with BOM), then rename it over
    ``path``: readers see the old file or the whole new one, never a partial one."""
    with atomic_text(path, bom=True) as handle:
        write(handle)


@dataclass(frozen=True)
class Report:
    path: Path
    rows: list[Mapping[str, Any]]


def write_report(
    engine: Engine,
    path: Path,
    replace: Callable[[Any], Sequence[Mapping[str, Any]]],
    header: Sequence[str],
    row: Callable[[Mapping[str, Any]], list[str]],
) -> Report:
    """Rewrite a report table (``replace``, in one transaction), then its CSV at ``path``
    (UTF-8 with BOM, ``;``)."""
    with engine.begin() as conn:
        rows = replace(conn)

    def write(handle: IO[str]) -> None:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(row(r) for r in rows)

    write_atomic(path, write)
    return Report(path, list(rows))


def write_expiring_report(engine: Engine, directory: Path, day: date) -> Report:
    """Rewrite ``contratos_a_vencer`` from the view, then its CSV."""
    return write_report(
        engine, report_path(directory, day), sql.replace_a_vencer, CSV_HEADER, csv_row
    )
