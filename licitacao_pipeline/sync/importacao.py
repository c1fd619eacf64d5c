"""Import of contract follow-up (gestor, fiscal, prioridade, observação, alertar_em) from a UASG's
spreadsheet saved as CSV (seed 002's ``import_data_async``), Dagster-free.

The file is refused as a whole, changing nothing, when it is outside the import directory, not
CSV text (binary, empty), in another encoding than the one given, or without the expected
header. Otherwise every row is validated: the valid ones are upserted in one transaction, and
every rejected one goes, with its line number and reasons, to a rejects CSV in the export
directory; ``total = accepted + rejected`` always (blank lines are not rows). A row whose
follow-up fields are all empty means "no follow-up": its stored row, if any, is deleted.

Rows name their contract by ``uasg`` + ``numero``, or by an optional ``contrato_id`` column
(which the exports write: ComprasNet repeats some números within a UASG, and such a número
alone is rejected as ambiguous). A contract named twice in the file: the first row naming it is
taken if valid; every later one is rejected ("listed again (first at line N)"). Text cells are
stored as they are (a cell starting with ``=`` is data), except the ``'`` the exports put before
such cells, which is removed: an exported file imported again changes nothing.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from licitacao_pipeline.arquivos.atomic import atomic_text
from licitacao_pipeline.arquivos.cells import safe_text, unneutralize
from licitacao_pipeline.arquivos.paths import UnsafePathError, inside
from licitacao_pipeline.config import TIMEZONE
from licitacao_pipeline.warehouse import acompanhamento as sql
from licitacao_pipeline.warehouse.tables import PRIORIDADES

COLUMNS = ("uasg", "numero", "gestor", "fiscal", "prioridade", "observacao", "alertar_em")
# Optional: names the contract when uasg + numero do not (ComprasNet repeats some números within
# a UASG); the exports write it, so an exported file is imported back without ambiguity.
ID_COLUMN = "contrato_id"
ENCODINGS = ("utf-8", "latin-1")
DELIMITERS = (";", ",")
# The parser reads fields up to this many characters (a 1 MB observação is read, then
# rejected by MAX_CHARS); a larger field refuses the file. Bounded: memory stays small.
FIELD_LIMIT = 2 * 1024 * 1024
MAX_CHARS = {"gestor": 200, "fiscal": 200, "observacao": 4000}
BATCH = 500  # rows validated against the warehouse and upserted per statement
_UASG = re.compile(r"^\d{6}$")
_NUMERO = re.compile(r"^\d{5}/\d{4}$")
_ID = re.compile(r"^\d{1,18}$")
_BR_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEARS = range(2000, 2101)
_CHUNK = 1 << 20


class ImportConfigError(ValueError):
    """An invalid option (``path`` outside the import directory, ...); nothing was read."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.field = name


class ImportFileError(ValueError):
    """The file is refused as a whole; nothing was changed."""


@dataclass(frozen=True)
class ImportOptions:
    path: str
    encoding: str = "utf-8"
    delimiter: str = ";"


@dataclass(frozen=True)
class Imported:
    source: Path
    total: int  # data rows (blank lines excluded) = accepted + rejected
    accepted: int
    rejected: int
    rejects_path: Path
    inserted: int
    updated: int
    removed: int  # accepted rows with every follow-up field empty whose stored row was deleted
    unchanged: int  # accepted rows equal to what was stored (or empty, as stored): not written
    blank_lines: int
    ignored_columns: list[str] = field(default_factory=list)
    samples: list[tuple[int, str]] = field(default_factory=list)  # first rejects: (line, reason)
    duracao_s: float = 0.0


# --- the file as a whole ------------------------------------------------------------------------


def source_path(root: Path, given: str) -> Path:
    """The file to import: ``given`` relative to ``root`` (or absolute), symlinks followed,
    refused unless it is a ``.csv`` regular file inside ``root``."""
    if not given or not given.strip():
        raise ImportConfigError("path", "empty (name a .csv file in the import directory)")
    try:
        path = inside(root, given)
    except UnsafePathError:
        raise ImportConfigError(
            "path",
            f"{given} is outside the import directory {root.resolve()} (LICITACAO_IMPORT_DIR); "
            "only files there are read",
        ) from None
    if path.suffix.lower() != ".csv":
        raise ImportConfigError("path", f"{given} is not a .csv file")
    if not path.exists():
        raise ImportConfigError("path", f"{given}: no such file in {root.resolve()}")
    if not path.is_file():
        raise ImportConfigError("path", f"{given} is not a regular file")
    return path


def _open_nofollow(path: Path) -> IO[bytes]:
    """Open the checked path itself (a symlink swapped in since the check is refused)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    return os.fdopen(fd, "rb")


def _line_of(chunk: bytes, at: int, lines_before: int) -> int:
    return lines_before + chunk[: max(0, at)].count(b"\n")


def check_text(raw: IO[bytes], name: str, encoding: str) -> None:
    """Read the whole file once before anything is changed: not empty, no NUL byte (binary),
    decodable in ``encoding``; with latin-1, no line that is in fact UTF-8."""
    lines, content, first = 1, False, True
    decoder = codecs.getincrementaldecoder(encoding)()
    utf8_line = latin_line = None  # latin-1 only: first line in each encoding
    carry = b""
    while chunk := raw.read(_CHUNK):
        if first and encoding == "utf-8" and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        first = False
        if b"\x00" in chunk:
            line = _line_of(chunk, chunk.index(b"\x00"), lines)
            raise ImportFileError(
                f"{name} line {line}: a NUL byte: a binary file (a spreadsheet saved as "
                ".xlsx or .ods?), not CSV text; save it as CSV"
            )
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = min(max(0, exc.start - pending), len(chunk) - 1)
            raise ImportFileError(
                f"{name} line {_line_of(chunk, at, lines)}: byte 0x{chunk[at]:02x} is not "
                f"{encoding} text (a file in another encoding, or mixed encodings); save it "
                f"as UTF-8, or set encoding to {'latin-1' if encoding == 'utf-8' else 'utf-8'}"
            ) from None
        content = content or bool(text.strip())
        if encoding == "latin-1":
            *complete, carry = (carry + chunk).split(b"\n")
            for i, line in enumerate(complete):
                utf8_line, latin_line = _classify(line, lines + i, utf8_line, latin_line)
            if len(carry) > 4 * _CHUNK:  # a huge line: classify what came (memory stays bounded)
                end = len(carry) - 1  # cut before a character's first byte, not inside it
                while end > len(carry) - 4 and 0x80 <= carry[end] <= 0xBF:
                    end -= 1
                line_no = lines + len(complete)
                utf8_line, latin_line = _classify(carry[:end], line_no, utf8_line, latin_line)
                carry = carry[end:]
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFileError(f"{name} line {lines}: the file ends inside a character") from None
    if encoding == "latin-1" and carry:
        utf8_line, latin_line = _classify(carry, lines, utf8_line, latin_line)
    if not content:
        raise ImportFileError(f"{name}: empty file (no header, no rows)")
    if utf8_line is not None:
        where = (
            f"mixed encodings: line {utf8_line} is UTF-8, line {latin_line} is latin-1"
            if latin_line is not None
            else f"line {utf8_line} is UTF-8 text, which latin-1 would read wrong"
        )
        raise ImportFileError(f"{name}: {where}; save it all as UTF-8 and set encoding to utf-8")


def _classify(line: bytes, number: int, utf8_line, latin_line):
    if line.isascii():
        return utf8_line, latin_line
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return utf8_line, latin_line if latin_line is not None else number
    return (utf8_line if utf8_line is not None else number), latin_line


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def header_name(cell: str) -> str:
    """``" Número "`` -> ``numero``; ``"Alertar em"`` -> ``alertar_em``."""
    text = unicodedata.normalize("NFKD", cell.strip().lstrip("\ufeff").strip())
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[\s-]+", "_", text)


def _header(row: list[str] | None, name: str, delimiter: str) -> list[str]:
    if not row or not any(c.strip() for c in row):
        raise ImportFileError(
            f"{name} line 1: no header (expected {delimiter.join(COLUMNS)} as the first line)"
        )
    names = [header_name(c) for c in row]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise ImportFileError(f"{name} line 1: column {repeated[0]!r} is repeated")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        other = next(d for d in DELIMITERS if d != delimiter)
        hint = ""
        if len(row) == 1 and all(c in header_name(row[0]).split(other) for c in COLUMNS):
            hint = f"; the file seems to use {other!r}: set delimiter to {other!r}"
        raise ImportFileError(
            f"{name} line 1: wrong header, missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (expected {delimiter.join(COLUMNS)}; other columns are "
            f"ignored){hint}"
        )
    return names


# --- one row ------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    cells: list[str]
    key: tuple[str, str] | None = None  # (uasg, numero) when both are well-formed
    contrato_id: int | None = None  # from the optional contrato_id column
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def parse_day(text: str) -> date | None:
    """``31/12/2026``, ``1/2/2026`` or ``2026-12-31``; None if not a real date."""
    try:
        if m := _BR_DATE.match(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        return None
    return None


def _text(row: _Row, cells: dict[str, str], name: str) -> None:
    value = unneutralize(cells[name].strip())
    if len(value) > MAX_CHARS[name]:
        row.problems.append(
            f"{name}: {len(value):,} characters (at most {MAX_CHARS[name]:,})".replace(",", ".")
        )
    row.values[name] = value or None


def _prioridade(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in plain if not unicodedata.combining(c))


def validate_row(line: int, cells_list: list[str], header: Sequence[str]) -> _Row:
    """Field checks of one row (the contract's existence and duplicates are checked after)."""
    row = _Row(line, cells_list)
    if len(cells_list) != len(header):
        row.problems.append(f"{len(cells_list)} values for {len(header)} columns")
        return row
    cells = dict(zip(header, cells_list, strict=True))
    uasg, numero = cells["uasg"].strip(), cells["numero"].strip()
    if not uasg:
        row.problems.append("uasg: missing")
    elif not _UASG.match(uasg):
        row.problems.append(
            f"uasg: {uasg!r} is not a UASG code (exactly 6 digits, leading zeros kept: 012345)"
        )
    if not numero:
        row.problems.append("numero: missing")
    elif not _NUMERO.match(numero):
        row.problems.append(f"numero: {numero!r} is not a contract number like 00013/2026")
    if not row.problems:
        row.key = (uasg, numero)
    given_id = cells.get(ID_COLUMN, "").strip()
    if given_id and not _ID.match(given_id):
        row.problems.append(f"contrato_id: {given_id!r} is not a contract id (digits)")
        row.key = None  # the row names no contract
    elif given_id:
        row.contrato_id = int(given_id)
    for name in ("gestor", "fiscal", "observacao"):
        _text(row, cells, name)
    prioridade = _prioridade(cells["prioridade"])
    if prioridade and prioridade not in PRIORIDADES:
        row.problems.append(
            f"prioridade: {cells['prioridade'].strip()!r} is not one of {', '.join(PRIORIDADES)}"
        )
    row.values["prioridade"] = prioridade or None
    alertar = cells["alertar_em"].strip()
    row.values["alertar_em"] = None
    if alertar:
        day = parse_day(alertar)
        if day is None:
            row.problems.append(f"alertar_em: {alertar!r} is not a date (31/12/2026 or 2026-12-31)")
        elif day.year not in _YEARS:
            row.problems.append(f"alertar_em: year {day.year} is out of range (2000-2100)")
        else:
            row.values["alertar_em"] = day
    return row


# --- the use case -------------------------------------------------------------------------------


def rejects_name(source: Path, now: datetime, run_id: str | None) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", source.stem).strip("_")[:60] or "arquivo"
    local = now.astimezone(ZoneInfo(TIMEZONE))
    suffix = (run_id or uuid.uuid4().hex)[:8]
    return f"acompanhamento_rejeitadas_{stem}_{local:%Y%m%d_%H%M%S}_{suffix}.csv"


def _validate_options(options: ImportOptions) -> None:
    if options.encoding not in ENCODINGS:
        raise ImportConfigError("encoding", f"{options.encoding!r} is not one of utf-8, latin-1")
    if options.delimiter not in DELIMITERS:
        raise ImportConfigError("delimiter", f"{options.delimiter!r} is not ';' or ','")


def import_file(
    engine: Engine,
    options: ImportOptions,
    *,
    import_root: Path,
    export_root: Path,
    run_id: str | None = None,
    now: datetime | None = None,
    batch: int = BATCH,
) -> Imported:
    """Import the follow-up in ``options.path`` (inside ``import_root``); rejected rows go to a
    new CSV in ``export_root``. One transaction: the file is imported whole or not at all."""
    _validate_options(options)
    source = source_path(import_root, options.path)
    now = now or datetime.now(UTC)
    rejects_path = inside(export_root, rejects_name(source, now, run_id))
    started = time.monotonic()
    with _open_nofollow(source) as raw:
        check_text(raw, source.name, options.encoding)
        raw.seek(0)
        text = io.TextIOWrapper(
            raw, encoding="utf-8-sig" if options.encoding == "utf-8" else "latin-1", newline=""
        )
        with (
            _field_limit(FIELD_LIMIT),
            atomic_text(rejects_path, bom=True) as out,  # renamed after the commit
            engine.begin() as conn,
        ):
            result = _load(conn, text, source.name, options.delimiter, out, run_id, batch)
    return Imported(
        source=source,
        rejects_path=rejects_path,
        duracao_s=round(time.monotonic() - started, 3),
        **result,
    )


def _load(conn, text: IO[str], name: str, delimiter: str, out: IO[str], run_id, batch: int):
    reader = csv.reader(text, delimiter=delimiter)
    try:
        first = next(reader, None)
        header = _header(first, name, delimiter)
        assert first is not None
        loader = _Loader(conn, csv.writer(out, delimiter=delimiter), run_id)
        loader.rejects.writerow(["linha", "motivo", *(safe_text(c) for c in first)])
        previous_end = reader.line_num
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                loader.counts["blank_lines"] += 1
                continue
            loader.pending.append(validate_row(start, cells, header))
            if len(loader.pending) >= batch:
                loader.flush()
        loader.flush()
    except csv.Error as exc:
        raise ImportFileError(f"{name} line {reader.line_num}: not valid CSV: {exc}") from None
    except UnicodeDecodeError as exc:  # the file changed since check_text read it
        raise ImportFileError(f"{name} line {reader.line_num}: not {exc.encoding} text") from None
    ignored = [c for c in header if c and c not in (*COLUMNS, ID_COLUMN)]
    return {**loader.counts, "ignored_columns": ignored, "samples": loader.samples}


SAMPLES = 10  # rejects shown in the run's metadata (all of them are in the rejects file)


class _Loader:
    """Rows in file order, a batch at a time: find their contracts, reject duplicates and
    what does not resolve, upsert the rest, write the rejects."""

    def __init__(self, conn, rejects, run_id: str | None):
        self.conn, self.rejects, self.run_id = conn, rejects, run_id
        self.seen: dict[int, int] = {}  # contract id -> line of the first row naming it
        self.pending: list[_Row] = []
        self.samples: list[tuple[int, str]] = []
        self.counts = dict.fromkeys(
            ("total", "accepted", "rejected", "blank_lines", "inserted", "updated", "removed",
             "unchanged"),
            0,
        )  # fmt: skip

    def _resolve(self, row: _Row, by_key, by_id) -> int | None:
        """The contract the row names (problems appended when none, or not one)."""
        if row.key is None:
            return None
        uasg, numero = row.key
        if row.contrato_id is not None:
            found = by_id.get(row.contrato_id)
            if found is None:
                row.problems.append(f"no contract with contrato_id {row.contrato_id}")
                return None
            if found != row.key:
                row.problems.append(
                    f"contrato_id {row.contrato_id} is contract {found[1]} of UASG {found[0]}, "
                    f"not {numero} of UASG {uasg}"
                )
                return None
            return row.contrato_id
        match = by_key.get(row.key)
        if match is None:
            row.problems.append(f"no contract {numero} of UASG {uasg} in the warehouse")
            return None
        if len(match.ids) > 1:
            row.problems.append(
                f"{len(match.ids)} contracts {numero} of UASG {uasg} (ids "
                f"{', '.join(map(str, match.ids))}): ambiguous; add a contrato_id column"
            )
            return None
        return match.ids[0]

    def flush(self) -> None:
        pending = self.pending
        by_key = sql.find_contracts(
            self.conn, [r.key for r in pending if r.key and r.contrato_id is None]
        )
        by_id = sql.contracts_by_id(
            self.conn, [r.contrato_id for r in pending if r.contrato_id is not None]
        )
        accepted = []
        for row in pending:
            cid = self._resolve(row, by_key, by_id)
            if cid is not None and cid in self.seen:
                row.problems.append(f"contract listed again (first at line {self.seen[cid]})")
            elif cid is not None:
                self.seen[cid] = row.line
            if row.problems:
                reason = "; ".join(row.problems)
                if len(self.samples) < SAMPLES:
                    self.samples.append((row.line, reason))
                self.rejects.writerow([row.line, reason, *(safe_text(c) for c in row.cells)])
            else:
                assert row.key is not None and cid is not None
                accepted.append({"contrato_id": cid, "uasg": row.key[0], "numero": row.key[1],
                                 **row.values})  # fmt: skip
        self._write(accepted)
        self.counts["total"] += len(pending)
        self.counts["accepted"] += len(accepted)
        self.counts["rejected"] += len(pending) - len(accepted)
        pending.clear()

    def _write(self, accepted: list[dict[str, Any]]) -> None:
        empty = {r["contrato_id"] for r in accepted if all(r[k] is None for k in sql.FOLLOW_UP)}
        done = sql.upsert(
            self.conn, [r for r in accepted if r["contrato_id"] not in empty], self.run_id
        )
        removed = sql.remove(self.conn, sorted(empty))
        self.counts["inserted"] += done.inserted
        self.counts["updated"] += done.updated
        self.counts["removed"] += removed
        self.counts["unchanged"] += done.unchanged + len(empty) - removed
