"""Every setting the project reads from the environment, in one place: read and validated here,
handed to the resources, schedules and commands as one ``Settings`` object.

``load()`` reads the current environment (parsed once per distinct set of values, so a process
that changes its environment, a test say, sees the change). Values that can be wrong in a way
that must stop the code location from loading (the UASG list, the schedule window) are parsed
by the methods that need them, so a command that only needs the webserver's URL never fails on a
bad UASG file.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import time
from pathlib import Path

from licitacao_pipeline import cadencia as cad
from licitacao_pipeline import uasgs as lista
from licitacao_pipeline.uasgs import (
    DEFAULT_FULL_SYNC_AT,
    DEFAULT_FULL_SYNC_PER_NIGHT,
    DEFAULT_SLOT_MINUTES,
    DEFAULT_UASGS,
    DEFAULT_WINDOW,
    FULL_SYNC_AT_VAR,
    PER_NIGHT_VAR,
    SLOT_VAR,
    UASGS_FILE_VAR,
    UASGS_VAR,
    WINDOW_VAR,
    Uasg,
)
from licitacao_pipeline.validators import positive_number

DEFAULT_DATA_DIR = ".data"
AMBIENTE_VAR = "LICITACAO_AMBIENTE"
AMBIENTES = ("desenvolvimento", "producao")


class SettingError(ValueError):
    """A setting with a value the project refuses; the message names the variable."""


class WarehouseNotConfigured(SettingError):
    """Production without ``DATABASE_URL`` (or an unknown ``LICITACAO_AMBIENTE``)."""


def _path(value: str | None, default: Path) -> Path:
    return Path(value).resolve() if value else default


def _positive_float(raw: str | None, var: str) -> float | None:
    text = (raw or "").strip()
    if not text:
        return None
    value = positive_number(text)
    if value is None:
        raise SettingError(f"{var}={text!r}: esperava um número positivo")
    return value


def _max_rps(raw: str | None) -> float | None:
    """Unset: the safe default; ``0``: no cap; else a positive number."""
    text = (raw or "").strip()
    if not text:
        return cad.MAX_RPS_PADRAO
    if text == "0":
        return None
    return _positive_float(text, cad.MAX_RPS_VAR)


def _rajada(raw: str | None) -> int:
    text = (raw or "").strip()
    if not text:
        return cad.RAJADA_PADRAO
    if not text.isdigit() or int(text) < 1:
        raise SettingError(
            f"{cad.RAJADA_VAR}={text!r}: esperava um número inteiro de requisições >= 1"
        )
    return int(text)


@dataclass(frozen=True)
class Settings:
    ambiente: str  # desenvolvimento | producao
    database_url: str | None
    data_dir: Path
    export_dir: Path
    import_dir: Path
    dagster_home: str | None
    comprasnet_base_url: str | None
    comprasnet_max_rps: float | None  # the shared request budget; None: no cap
    comprasnet_rajada: int
    alert_webhook_url: str | None
    step_retries: int
    step_retry_delay_s: float
    webserver_url: str | None
    webserver_user: str | None
    webserver_password: str | None
    uasgs_spec: str | None
    uasgs_file: str | None
    window_spec: str | None
    slot_spec: str | None
    per_night_spec: str | None
    full_sync_at_spec: str | None
    cadencia_spec: str | None
    abas_spec: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return _parse(tuple(env.get(var) for var in VARIABLES), os.getcwd())

    @property
    def em_producao(self) -> bool:
        return self.ambiente == "producao"

    def uasgs(self) -> tuple[Uasg, ...]:
        """File entries (in file order), then the env var's; the built-in five if neither."""
        entries = []
        if self.uasgs_file:
            entries += lista.entries_from_file(self.uasgs_file)
        if self.uasgs_spec:
            entries += lista.entries_from_spec(self.uasgs_spec, UASGS_VAR)
        return lista.unique(entries or lista.entries_from_spec(DEFAULT_UASGS, "UASGs padrão"))

    def window(self) -> tuple[time, time]:
        return lista.parse_window(self.window_spec or DEFAULT_WINDOW)

    def slot_minutes(self) -> int:
        spec = self.slot_spec
        return lista.parse_positive_int(spec, SLOT_VAR, 1440) if spec else DEFAULT_SLOT_MINUTES

    def full_sync_per_night(self) -> int:
        spec = self.per_night_spec
        return (
            lista.parse_positive_int(spec, PER_NIGHT_VAR) if spec else DEFAULT_FULL_SYNC_PER_NIGHT
        )

    def full_sync_at(self) -> time:
        """Local hour of the nightly full sync (HH:MM, default 03:00)."""
        return lista.parse_hour(self.full_sync_at_spec or DEFAULT_FULL_SYNC_AT, FULL_SYNC_AT_VAR)

    def cadencia(self) -> dict[str, float]:
        """Hours after which each tab is due again (``LICITACAO_CADENCIA_ABAS`` overrides)."""
        try:
            return cad.parse_cadencia(self.cadencia_spec)
        except ValueError as exc:
            raise SettingError(str(exc)) from None

    def abas(self) -> tuple[str, ...]:
        """The tabs this deployment syncs (``LICITACAO_ABAS``; default every tab)."""
        try:
            return cad.parse_abas(self.abas_spec)
        except ValueError as exc:
            raise SettingError(str(exc)) from None


VARIABLES = (
    AMBIENTE_VAR,
    "DATABASE_URL",
    "LICITACAO_DATA_DIR",
    "LICITACAO_EXPORT_DIR",
    "LICITACAO_IMPORT_DIR",
    "DAGSTER_HOME",
    "COMPRASNET_BASE_URL",
    cad.MAX_RPS_VAR,
    cad.RAJADA_VAR,
    "ALERT_WEBHOOK_URL",
    "LICITACAO_STEP_RETRIES",
    "LICITACAO_STEP_RETRY_DELAY_SECONDS",
    "DAGSTER_WEBSERVER_URL",
    "DAGSTER_WEBSERVER_USER",
    "DAGSTER_WEBSERVER_PASSWORD",
    UASGS_VAR,
    UASGS_FILE_VAR,
    WINDOW_VAR,
    SLOT_VAR,
    PER_NIGHT_VAR,
    FULL_SYNC_AT_VAR,
    cad.CADENCIA_VAR,
    cad.ABAS_VAR,
)


@functools.lru_cache(maxsize=32)
def _parse(values: tuple[str | None, ...], cwd: str) -> Settings:
    """``cwd`` is part of the key: relative directories resolve against it."""
    raw = dict(zip(VARIABLES, values, strict=True))
    ambiente = (raw[AMBIENTE_VAR] or "").strip() or "desenvolvimento"
    if ambiente not in AMBIENTES:
        raise WarehouseNotConfigured(
            f"{AMBIENTE_VAR}={ambiente!r} não está entre {', '.join(AMBIENTES)}"
        )
    data = _path(raw["LICITACAO_DATA_DIR"], Path(DEFAULT_DATA_DIR).resolve())
    retries = (raw["LICITACAO_STEP_RETRIES"] or "3").strip()
    delay = (raw["LICITACAO_STEP_RETRY_DELAY_SECONDS"] or "120").strip()
    try:
        step_retries, step_delay = int(retries), float(delay)
    except ValueError:
        raise SettingError(
            f"LICITACAO_STEP_RETRIES={retries!r} / LICITACAO_STEP_RETRY_DELAY_SECONDS={delay!r}: "
            "esperava um número inteiro de novas tentativas e um número de segundos"
        ) from None
    values_ = {
        "ambiente": ambiente,
        "database_url": raw["DATABASE_URL"] or None,
        "data_dir": data,
        "export_dir": _path(raw["LICITACAO_EXPORT_DIR"], data / "exports"),
        "import_dir": _path(raw["LICITACAO_IMPORT_DIR"], data / "imports"),
        "dagster_home": raw["DAGSTER_HOME"] or None,
        "comprasnet_base_url": raw["COMPRASNET_BASE_URL"] or None,
        "comprasnet_max_rps": _max_rps(raw[cad.MAX_RPS_VAR]),
        "comprasnet_rajada": _rajada(raw[cad.RAJADA_VAR]),
        "alert_webhook_url": raw["ALERT_WEBHOOK_URL"] or None,
        "step_retries": step_retries,
        "step_retry_delay_s": step_delay,
        "webserver_url": raw["DAGSTER_WEBSERVER_URL"] or None,
        "webserver_user": raw["DAGSTER_WEBSERVER_USER"] or None,
        "webserver_password": raw["DAGSTER_WEBSERVER_PASSWORD"] or None,
        "uasgs_spec": raw[UASGS_VAR] or None,
        "uasgs_file": raw[UASGS_FILE_VAR] or None,
        "window_spec": raw[WINDOW_VAR] or None,
        "slot_spec": raw[SLOT_VAR] or None,
        "per_night_spec": raw[PER_NIGHT_VAR] or None,
        "full_sync_at_spec": raw[FULL_SYNC_AT_VAR] or None,
        "cadencia_spec": raw[cad.CADENCIA_VAR] or None,
        "abas_spec": raw[cad.ABAS_VAR] or None,
    }
    assert {f.name for f in fields(Settings)} == set(values_)
    return Settings(**values_)


def load() -> Settings:
    """The settings of the current environment."""
    return Settings.from_env()
