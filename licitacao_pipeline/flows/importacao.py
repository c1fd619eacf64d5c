"""Import of contract follow-up (gestor, fiscal, prioridade, observação, alertar_em) from a UASG's
spreadsheet saved as CSV (the old Celery task ``import_data_async``), Dagster-free.

The file is refused as a whole, changing nothing, when it is outside the import directory, not
CSV text (binary, empty), in another encoding than the one given, or without the expected
header. Otherwise every row is validated: the valid ones are upserted in one transaction, and
every rejected one goes, with its line number and reasons, to a rejects CSV in the export
directory; ``total = accepted + rejected`` always (blank lines are not rows). A row whose
follow-up fields are all empty means "no follow-up": its stored row, if any, is deleted.

Rows name their contract by ``uasg`` + ``numero``, or by an optional ``contrato_id`` column
(which the exports write: ComprasNet repeats some números within a UASG, and such a número
alone is rejected as ambiguous). A contract named twice in the file: the first row naming it is
taken if valid; every later one is rejected ("contrato listado de novo (primeiro na linha N)").
Text cells are stored as they are (a cell starting with ``=`` is data), except the ``'`` the
exports put before such cells, which is removed: an exported file imported again changes nothing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from licitacao_pipeline.files.atomic import atomic_text
from licitacao_pipeline.files.cells import safe_text
from licitacao_pipeline.files.paths import inside
from licitacao_pipeline.flows.importacao_arquivo import (  # noqa: F401 (source_path: the API)
    ImportConfigError,
    ImportFileError,
    ImportRejectsError,
    check_text,
    open_source,
    source_path,
)
from licitacao_pipeline.flows.importacao_linhas import (  # noqa: F401 (the use case's API)
    COLUMNS,
    DELIMITERS,
    ID_COLUMN,
    MAX_CHARS,
    _header,
    _Row,
    header_name,
    validate_row,
)
from licitacao_pipeline.relogio import TIMEZONE
from licitacao_pipeline.warehouse import acompanhamento as sql

ENCODINGS = ("utf-8", "latin-1")
# The parser reads fields up to this many characters (a 1 MB observação is read, then
# rejected by MAX_CHARS); a larger field refuses the file. Bounded: memory stays small.
FIELD_LIMIT = 2 * 1024 * 1024
BATCH = 500  # rows validated against the warehouse and upserted per statement
_SPOOL = 16 << 20  # the checked copy of the file stays in memory up to this, then on disk


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


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def rejects_name(source: Path, now: datetime, run_id: str | None) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", source.stem).strip("_")[:60] or "arquivo"
    local = now.astimezone(ZoneInfo(TIMEZONE))
    suffix = (run_id or uuid.uuid4().hex)[:8]
    return f"acompanhamento_rejeitadas_{stem}_{local:%Y%m%d_%H%M%S}_{suffix}.csv"


def _validate_options(options: ImportOptions) -> None:
    if options.encoding not in ENCODINGS:
        raise ImportConfigError("encoding", f"{options.encoding!r} não está entre utf-8, latin-1")
    if options.delimiter not in DELIMITERS:
        raise ImportConfigError("delimiter", f"{options.delimiter!r} não é ';' nem ','")


def import_file(
    engine: Engine | Callable[[], Engine],
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
    now = now or datetime.now(UTC)
    started = time.monotonic()
    raw, source = open_source(import_root, options.path)  # the file, opened once
    if callable(engine):  # a factory: no connection before the file is known good
        engine = engine()
    rejects_path = inside(export_root, rejects_name(source, now, run_id))
    with raw, tempfile.SpooledTemporaryFile(max_size=_SPOOL) as copy:
        encoding = check_text(raw, source.name, options.encoding, copy)
        copy.seek(0)  # what was checked is what is parsed
        text = io.TextIOWrapper(
            copy, encoding="utf-8-sig" if encoding == "utf-8" else "latin-1", newline=""
        )
        # The rejects file closes first (written, synced and renamed into place), then the
        # transaction commits: if the rejects cannot be written (a full disk), it rolls back.
        try:
            with (
                _field_limit(FIELD_LIMIT),
                engine.begin() as conn,
                _rejects_file(rejects_path) as out,
            ):
                result = _load(conn, text, source.name, options.delimiter, out, run_id, batch)
        except BaseException:
            rejects_path.unlink(missing_ok=True)  # the commit failed: no rejects of it either
            raise
    return Imported(
        source=source,
        rejects_path=rejects_path,
        duracao_s=round(time.monotonic() - started, 3),
        **result,
    )


@contextlib.contextmanager
def _rejects_file(path: Path) -> Iterator[IO[str]]:
    try:
        with atomic_text(path, bom=True) as out:
            yield out
    except OSError as exc:
        raise ImportRejectsError(
            f"o arquivo de rejeições não pôde ser gravado em {path.parent} "
            f"({exc.strerror or exc}); nada foi importado"
        ) from exc


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
        raise ImportFileError(f"{name} linha {reader.line_num}: CSV inválido: {exc}") from None
    except UnicodeDecodeError as exc:  # the file changed since check_text read it
        raise ImportFileError(
            f"{name} linha {reader.line_num}: não é texto {exc.encoding}"
        ) from None
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
                row.problems.append(f"nenhum contrato com contrato_id {row.contrato_id}")
                return None
            if found != row.key:
                row.problems.append(
                    f"contrato_id {row.contrato_id} é o contrato {found[1]} da UASG {found[0]}, "
                    f"não o {numero} da UASG {uasg}"
                )
                return None
            return row.contrato_id
        match = by_key.get(row.key)
        if match is None:
            row.problems.append(f"nenhum contrato {numero} da UASG {uasg} no warehouse")
            return None
        if len(match.ids) > 1:
            row.problems.append(
                f"{len(match.ids)} contratos {numero} da UASG {uasg} (ids "
                f"{', '.join(map(str, match.ids))}): ambíguo; acrescente uma coluna contrato_id"
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
                row.problems.append(
                    f"contrato listado de novo (primeiro na linha {self.seen[cid]})"
                )
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
