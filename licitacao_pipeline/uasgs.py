"""The UASG list: which buying units are synced and when, parsed from a ``code[@HH:MM]`` comma list
and/or a CSV or YAML file (``settings`` reads where they come from). Every bad entry fails at load
time with its file and line (or env entry). Codes are text: exactly 6 digits, leading zeros kept.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import yaml

from licitacao_pipeline.textos import curto
from licitacao_pipeline.validators import is_uasg

DEFAULT_UASGS = "787010@09:00,787000@11:00,770001@14:00,787400@16:00,787700@18:00"
DEFAULT_WINDOW = "06:00-22:00"
DEFAULT_SLOT_MINUTES = 5
DEFAULT_FULL_SYNC_PER_NIGHT = 200
DEFAULT_FULL_SYNC_AT = "03:00"

UASGS_VAR = "LICITACAO_UASGS"
UASGS_FILE_VAR = "LICITACAO_UASGS_FILE"
WINDOW_VAR = "LICITACAO_SCHEDULE_WINDOW"
SLOT_VAR = "LICITACAO_SCHEDULE_SLOT_MINUTES"
PER_NIGHT_VAR = "LICITACAO_FULL_SYNC_PER_NIGHT"
FULL_SYNC_AT_VAR = "LICITACAO_FULL_SYNC_AT"

COLUMNS = ("codigo", "hora", "nome")
_HOUR = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_MAX_LISTED_ERRORS = 20


class UasgConfigError(ValueError):
    """Raised at load time for a malformed UASG list, schedule window or setting."""


@dataclass(frozen=True)
class Uasg:
    codigo: str
    hora: time | None = None  # None: gets a staggered slot, see ``schedule_times``
    nome: str | None = None


# An entry and where it was configured ("uasgs.csv linha 4"), for error messages.
_Entry = tuple[Uasg, str]


def parse_hour(text: str, where: str) -> time:
    m = _HOUR.match(text.strip())
    if not m:
        raise UasgConfigError(
            f"{where}: hora inválida {text.strip()!r} (esperava HH:MM, 00:00-23:59)"
        )
    return time(int(m.group(1)), int(m.group(2)))


def _uasg(codigo: str, hora: str | None, nome: str | None, where: str) -> Uasg:
    codigo = codigo.strip()
    if not is_uasg(codigo):
        raise UasgConfigError(
            f"{where}: código de UASG inválido {codigo!r} (esperava exatamente 6 dígitos, "
            "com os zeros à esquerda: escreva 012345, não 12345)"
        )
    hora_ = parse_hour(hora, where) if hora and hora.strip() else None
    return Uasg(codigo, hora_, (nome or "").strip() or None)


def _raise_errors(errors: list[str]) -> None:
    if len(errors) == 1:
        raise UasgConfigError(errors[0])
    if errors:
        listed = errors[:_MAX_LISTED_ERRORS]
        more = len(errors) - len(listed)
        tail = f"\n  ... e mais {more}" if more else ""
        raise UasgConfigError(
            f"{len(errors)} entradas de UASG inválidas:\n  " + "\n  ".join(listed) + tail
        )


# The fields of one entry, or what is wrong with its shape, and where it was configured.
_Item = tuple["Mapping[str, str] | UasgConfigError", str]


def _collect(items: Iterable[_Item]) -> list[_Entry]:
    """Build the entries of one source, reporting every bad one at once."""
    entries: list[_Entry] = []
    errors: list[str] = []
    for fields, where in items:
        try:
            if isinstance(fields, UasgConfigError):
                raise fields
            uasg = _uasg(fields.get("codigo") or "", fields.get("hora"), fields.get("nome"), where)
        except UasgConfigError as exc:
            errors.append(str(exc))
        else:
            entries.append((uasg, where))
    _raise_errors(errors)
    return entries


def _env_entries(spec: str, var: str) -> list[_Entry]:
    items = []
    for i, raw in enumerate(spec.split(","), 1):
        entry = raw.strip()
        if entry:
            codigo, _, hora = entry.partition("@")
            items.append(({"codigo": codigo, "hora": hora}, f"{var} entrada {i} ({entry!r})"))
    if not items:
        raise UasgConfigError(f"{var}: nenhuma UASG configurada")
    return _collect(items)


def _csv_entries(path: Path, text: str) -> list[_Entry]:
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
        _check_columns(header, f"{path} linha 1")
        items: list[_Item] = []
        for row in reader:
            where = f"{path} linha {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problem = (
                    f"{where}: {len(row)} valores para {len(header)} colunas "
                    f"({delimiter.join(header)}); ponha entre aspas um nome que contenha "
                    f"{delimiter!r}"
                )
                items.append((UasgConfigError(problem), where))
            else:
                items.append((dict(zip(header, row, strict=False)), where))
    except csv.Error as exc:
        raise UasgConfigError(f"{path} linha {reader.line_num}: {exc}") from exc
    if not items:
        raise UasgConfigError(f"{path}: nenhuma UASG listada (só um cabeçalho)")
    return _collect(items)


def _check_columns(header: list[str], where: str) -> None:
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise UasgConfigError(
            f"{where}: coluna desconhecida {unknown[0]!r} (permitidas: codigo, hora, nome)"
        )
    if len(set(header)) != len(header):
        raise UasgConfigError(f"{where}: uma coluna se repete ({', '.join(header)})")
    if "codigo" not in header:
        raise UasgConfigError(f"{where}: falta a coluna 'codigo' (cabeçalho: codigo,hora,nome)")


def _yaml_entries(path: Path, text: str) -> list[_Entry]:
    # Composed, not constructed: scalars keep their source text, so 012345 is not octal 5349
    # and 14:00 is not sexagesimal 840; the nodes also carry their line numbers.
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise UasgConfigError(f"{path}: YAML inválido: {exc}") from exc
    if root is None:
        raise UasgConfigError(f"{path}: arquivo vazio")
    if not isinstance(root, yaml.SequenceNode):
        raise UasgConfigError(f"{path}: esperava uma lista de mapeamentos {{codigo, hora?, nome?}}")
    if not root.value:
        raise UasgConfigError(f"{path}: nenhuma UASG listada (lista vazia)")
    items: list[_Item] = []
    for i, node in enumerate(root.value, 1):
        where = f"{path} entrada {i} (linha {node.start_mark.line + 1})"
        try:
            items.append((_yaml_fields(node, where), where))
        except UasgConfigError as exc:
            items.append((exc, where))
    return _collect(items)


def _yaml_fields(node: yaml.Node, where: str) -> dict[str, str]:
    if not isinstance(node, yaml.MappingNode):
        raise UasgConfigError(f"{where}: esperava um mapeamento {{codigo, hora?, nome?}}")
    fields: dict[str, str] = {}
    for key, value in node.value:
        name = str(key.value)
        if name not in COLUMNS:
            raise UasgConfigError(
                f"{where}: chave desconhecida {name!r} (permitidas: codigo, hora, nome)"
            )
        if name in fields:
            raise UasgConfigError(f"{where}: a chave {name!r} se repete")
        if not isinstance(value, yaml.ScalarNode):
            raise UasgConfigError(f"{where}: {name} deve ser um valor só")
        if value.tag != "tag:yaml.org,2002:null":  # `nome:`, `nome: ~`, `nome: null`
            fields[name] = value.value
    return fields


def _file_entries(path: Path) -> list[_Entry]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise UasgConfigError(f"{UASGS_FILE_VAR}: {path} deve terminar em .csv, .yaml ou .yml")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UasgConfigError(
            f"{UASGS_FILE_VAR}: não foi possível ler {path} ({exc.strerror})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise UasgConfigError(f"{path}: não é UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise UasgConfigError(f"{path}: arquivo vazio")
    return _csv_entries(path, text) if suffix == ".csv" else _yaml_entries(path, text)


def _unique(entries: list[_Entry]) -> tuple[Uasg, ...]:
    first: dict[str, str] = {}
    errors = []
    for uasg, where in entries:
        if uasg.codigo in first:
            errors.append(f"UASG {uasg.codigo} listada duas vezes: {first[uasg.codigo]} e {where}")
        else:
            first[uasg.codigo] = where
    _raise_errors(errors)
    return tuple(uasg for uasg, _ in entries)


def unique(entries: list[_Entry]) -> tuple[Uasg, ...]:
    """The UASGs of one or several sources, refusing a code listed twice."""
    return _unique(entries)


def entries_from_spec(spec: str, var: str) -> list[_Entry]:
    """Entries of a ``code[@HH:MM]`` comma list (an environment variable's value)."""
    return _env_entries(spec, var)


def entries_from_file(path: str | Path) -> list[_Entry]:
    """Entries of a CSV or YAML file, in file order."""
    return _file_entries(Path(path))


def parse_uasgs(spec: str, var: str = UASGS_VAR) -> tuple[Uasg, ...]:
    """Parse ``"787010@09:00,153165"`` into Uasg entries."""
    return _unique(_env_entries(spec, var))


def read_uasgs_file(path: str | Path) -> tuple[Uasg, ...]:
    """The UASGs of a CSV (``codigo,hora,nome``) or YAML (list of mappings) file."""
    return _unique(_file_entries(Path(path)))


def parse_window(spec: str, var: str = WINDOW_VAR) -> tuple[time, time]:
    start, sep, end = spec.partition("-")
    if not sep:
        raise UasgConfigError(f"{var}: janela inválida {spec!r} (esperava HH:MM-HH:MM)")
    t0, t1 = parse_hour(start, var), parse_hour(end, var)
    if t1 <= t0:
        raise UasgConfigError(
            f"{var}: o fim da janela {t1:%H:%M} deve ser depois do início {t0:%H:%M}"
        )
    return t0, t1


def parse_positive_int(spec: str, var: str, maximum: int | None = None) -> int:
    try:
        value = int(spec.strip())
    except ValueError:
        value = 0
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" a {maximum}" if maximum is not None else ""
        raise UasgConfigError(f"{var}: esperava um número inteiro de 1{limit}, veio {spec!r}")
    return value


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def schedule_times(
    uasgs: Iterable[Uasg],
    window: tuple[time, time],
    slot_minutes: int = DEFAULT_SLOT_MINUTES,
) -> dict[str, time]:
    """Daily local start time per UASG, in configured order.

    A configured hour is kept exactly. The others are spread evenly, in configured order, over
    the window's slots (every ``slot_minutes`` from its start); any number of UASGs may share a
    slot, so there is no upper bound.
    """
    uasgs = tuple(uasgs)
    start, end = _minutes(window[0]), _minutes(window[1])
    slots = max(1, math.ceil((end - start) / slot_minutes))
    pending = [u for u in uasgs if u.hora is None]
    auto = {}
    for i, u in enumerate(pending):
        slot = start + slot_minutes * ((2 * i + 1) * slots // (2 * len(pending)))
        auto[u.codigo] = time(slot // 60, slot % 60)
    return {u.codigo: u.hora or auto[u.codigo] for u in uasgs}


def uasg_label(codigo: str, nome: str | None = None) -> str:
    """How a UASG is shown to people: ``787010 (CENTRO DE INTENDÊNCIA ...)`` (the name capped:
    it may come from the API, of any length)."""
    return f"{codigo} ({curto(nome)})" if nome else codigo
