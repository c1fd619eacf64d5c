"""Issue 20, items 8-10 and what was noticed beside them: a failed import changes nothing (its
rejects are written before the commit), the import file is opened once and what was opened is
validated and parsed (no race with a swapped directory, FIFO or rewrite), names are matched
whole, Windows-reserved export names are refused, and UTF-16 files are read."""

import os
import threading
from datetime import UTC, datetime

import pytest

from licitacao_pipeline.flows import exportacao, importacao
from licitacao_pipeline.flows.exportacao import ExportConfigError, ExportOptions
from licitacao_pipeline.flows.importacao import ImportOptions
from licitacao_pipeline.warehouse.engine import get_engine

from . import test_importacao as base
from .helpers import failure_message
from .hostil import medir
from .test_importacao import HEADER, csv_text, files, output_metadata, run_import, stored

dirs, contracts = base.dirs, base.contracts  # the import tests' fixtures


def _import(db_url, dirs, name="x.csv"):
    return importacao.import_file(
        get_engine(db_url), ImportOptions(name), import_root=dirs.imports,
        export_root=dirs.exports,
    )  # fmt: skip


def _good(contracts, gestor="Gestor"):
    return [[c["uasg"], c["numero"], gestor, "", "", "", ""] for c in contracts[:3]]


# -- 8. a rejects file that cannot be written fails the import before anything is committed ---


def test_an_import_whose_rejects_cannot_be_written_changes_nothing(contracts, db_url, engine,
                                                                   dirs):  # fmt: skip
    """Was: the rows were committed, then writing the rejects failed (ENOSPC) and no rejects
    file existed. A file-size limit in a child process (RLIMIT_FSIZE, SIGXFSZ ignored) makes
    the final write of the rejects fail deterministically, as a full disk would."""
    bad = [["787010", "99999/2099", "x", "", "", "", ""] for _ in range(40)]
    (dirs.imports / "x.csv").write_text(csv_text([HEADER, *_good(contracts), *bad]))
    code = f"""
import resource, signal
from pathlib import Path
from licitacao_pipeline.flows import importacao
from licitacao_pipeline.warehouse.engine import get_engine
engine = get_engine({db_url!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))
importacao.import_file(engine, importacao.ImportOptions("x.csv"),
    import_root=Path({str(dirs.imports)!r}), export_root=Path({str(dirs.exports)!r}))
"""
    out = medir(code)
    assert out.get("erro"), out  # the import failed...
    assert stored(engine) == {}  # ...and committed nothing
    assert files(dirs.exports) == []  # no rejects file, no temporary left


# -- 9. the file is opened once; what was opened is what is validated and parsed ---------------


def _hook_first_open(monkeypatch, when, action):
    """Run ``action`` once, just before the first ``os.open`` whose path matches ``when``: an
    attacker's swap at the worst moment, made deterministic."""
    real, done = os.open, []

    def hooked(path, flags, *args, **kw):
        if not done and when(str(path)):
            done.append(path)
            action()
        return real(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", hooked)
    return done


def test_a_directory_swapped_for_a_symlink_while_opening_is_refused(
    contracts, db_url, engine, dirs, monkeypatch
):
    """Was: the path was checked, then opened through a parent that had become a symlink to a
    directory outside the import directory (2 of 400 tries)."""
    (dirs.imports / "sub").mkdir()
    (dirs.imports / "sub" / "x.csv").write_text(csv_text([HEADER, *_good(contracts, "dentro")]))
    (dirs.outside / "sub").mkdir()
    (dirs.outside / "sub" / "x.csv").write_text(csv_text([HEADER, *_good(contracts, "FORA")]))

    def swap():
        (dirs.imports / "sub").rename(dirs.root / "sub.antes")
        (dirs.imports / "sub").symlink_to(dirs.outside / "sub", target_is_directory=True)

    done = _hook_first_open(monkeypatch, lambda p: str(dirs.imports) in p, swap)
    with pytest.raises(importacao.ImportConfigError, match="path"):
        _import(db_url, dirs, "sub/x.csv")
    assert done and stored(engine) == {}


def test_a_file_swapped_for_a_fifo_while_opening_does_not_hang(
    contracts, db_url, engine, dirs, monkeypatch
):
    """Was: ``open()`` of a FIFO swapped in after the check blocked the job forever."""
    target = dirs.imports / "x.csv"
    target.write_text(csv_text([HEADER, *_good(contracts)]))

    def swap():
        target.unlink()
        os.mkfifo(target)

    _hook_first_open(monkeypatch, lambda p: p.endswith("x.csv"), swap)
    outcome = []

    def attempt():
        try:
            _import(db_url, dirs)
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader before failing
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("the import hung opening a FIFO")
    [error] = outcome
    assert isinstance(error, importacao.ImportConfigError)
    assert "não é um arquivo regular" in str(error)
    assert stored(engine) == {}


def test_a_file_rewritten_between_validation_and_parsing_is_imported_as_validated(
    contracts, db_url, engine, dirs, monkeypatch
):
    """Was: the file was read twice (validated, then parsed), so a NUL written in between
    reached the database as a raw psycopg2 error."""
    target = dirs.imports / "x.csv"
    target.write_text(csv_text([HEADER, *_good(contracts, "validado")]))
    original = importacao.check_text

    def check_then_rewrite(*args, **kw):
        result = original(*args, **kw)
        with open(target, "r+b") as handle:  # same file, same inode: the descriptor sees it
            handle.write(csv_text([HEADER, *_good(contracts, "troca\x00do")]).encode())
        return result

    monkeypatch.setattr(importacao, "check_text", check_then_rewrite)
    result = _import(db_url, dirs)
    assert result.accepted == 3
    assert {r["gestor"] for r in stored(engine).values()} == {"validado"}


# -- 10. names matched whole; a NUL in the path is an invalid config --------------------------


def test_a_nul_in_the_import_path_is_an_invalid_config(dirs, db_url):
    """Was: a raw ``ValueError: embedded null byte`` traceback."""
    text = failure_message(run_import(db_url, "a\x00b.csv"))
    assert "configuração inválida: path: " in text and "ValueError" not in text


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("evil\n", "csv"), ("relatorio.csv\n", "csv"), ("CON", "csv"), ("con.csv", "csv"),
     ("Nul", "csv"), ("nul.tar.gz", "csv"), ("AUX", "csv"), ("prn.json", "json"),
     ("COM1", "csv"), ("com9.csv", "csv"), ("LPT1", "csv"), ("lpt5.xml", "xml"),
     ("relatorio.", "csv")],
)  # fmt: skip
def test_export_names_are_matched_whole_and_windows_reserved_ones_refused(tmp_path, name, fmt):
    """Was: ``nome_arquivo: "evil\\n"`` accepted (``$`` matches before a trailing newline), and
    ``CON`` or ``nul`` written (unopenable when the export directory is a Windows share)."""
    request = exportacao.validate(ExportOptions(nome_arquivo=name, format=fmt))
    with pytest.raises(ExportConfigError) as info:
        exportacao.targets(tmp_path, request, datetime(2026, 1, 5, tzinfo=UTC), "r")
    assert info.value.field == "nome_arquivo"


def test_names_that_only_look_reserved_are_accepted(tmp_path):
    for name in ("console.csv", "nullo.csv", "com10.csv", "lpt.csv", "auxiliar.csv"):
        request = exportacao.validate(ExportOptions(nome_arquivo=name))
        main = exportacao.targets(tmp_path, request, datetime(2026, 1, 5, tzinfo=UTC), "r").main
        assert main == tmp_path / name


# -- UTF-16 (Excel's "Unicode text"): read, not refused as binary ----------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_with_its_bom_is_imported(contracts, db_url, engine, dirs, encoding):
    """Was: refused as "binary file" (its NUL bytes)."""
    bom = "\ufeff".encode(encoding)
    text = csv_text([HEADER, *_good(contracts, "José Conceição")])
    (dirs.imports / "u16.csv").write_bytes(bom + text.encode(encoding))
    result = run_import(db_url, "u16.csv")
    assert result.success, failure_message(result)
    assert output_metadata(result)["aceitos"] == 3
    assert {r["gestor"] for r in stored(engine).values()} == {"José Conceição"}


def test_a_utf16_file_with_a_nul_character_is_refused(contracts, db_url, engine, dirs):
    text = csv_text([HEADER, *_good(contracts, "a\x00b")])
    (dirs.imports / "u16.csv").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    text = failure_message(run_import(db_url, "u16.csv"))
    assert "arquivo recusado, nada foi alterado" in text and "NUL" in text
    assert stored(engine) == {}
