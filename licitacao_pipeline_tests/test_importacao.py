"""Import of contract follow-up against a real PostgreSQL seeded through the real path (the
simulator over HTTP and the ``contratos`` asset): valid rows upserted in one transaction,
every rejected row in the rejects CSV with its physical line and reason, hostile files handled
without losing a row or touching anything outside the two directories, files refused whole
(encoding, binary, empty, header) changing nothing, and export -> import changing nothing.
"""

import csv
import io
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from licitacao_pipeline.defs.contratos import contratos
from licitacao_pipeline.defs.exportacao import exportar_contratos
from licitacao_pipeline.defs.importacao import importar_acompanhamento
from licitacao_pipeline.defs.resources import WarehouseResource
from licitacao_pipeline.flows import importacao, portal
from licitacao_pipeline.flows.importacao import ImportFileError, ImportOptions
from licitacao_pipeline.warehouse.engine import get_engine
from licitacao_pipeline.warehouse.migrate import alembic_config, upgrade
from licitacao_pipeline.warehouse.tables import metadata

from .helpers import failure_message, materialize

ALL = {"contratos": {"config": {"vigencia_janela_dias": None}}}
HEADER = ["uasg", "numero", "gestor", "fiscal", "prioridade", "observacao", "alertar_em"]
MB = 1024 * 1024


@dataclass
class Dirs:
    root: Path
    imports: Path
    exports: Path
    outside: Path


@pytest.fixture
def dirs(tmp_path, monkeypatch) -> Dirs:
    d = Dirs(tmp_path, tmp_path / "imports", tmp_path / "exports", tmp_path / "outside")
    for p in (d.imports, d.exports, d.outside):
        p.mkdir()
    monkeypatch.setenv("LICITACAO_IMPORT_DIR", str(d.imports))
    monkeypatch.setenv("LICITACAO_EXPORT_DIR", str(d.exports))
    return d


@pytest.fixture
def contracts(sim, resources, engine) -> list[dict]:
    """Both UASGs' contracts stored through the real path: [{id, uasg, numero}] by id."""
    for uasg in ("787010", "787000"):
        materialize([contratos], uasg, resources, ALL)
    return _query(engine, "SELECT id, uasg, numero FROM contratos ORDER BY id")


def _query(engine, sql, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def stored(engine) -> dict[int, dict]:
    rows = _query(engine, "SELECT *, xmin::text AS _xmin FROM acompanhamento")
    return {r["contrato_id"]: r for r in rows}


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def csv_text(rows, delimiter=";") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue()


def run_import(db_url, path, raise_on_error=False, **config):
    return importar_acompanhamento.execute_in_process(
        run_config={"ops": {"importar": {"config": {"path": str(path), **config}}}},
        resources={"warehouse": WarehouseResource(database_url=db_url)},
        raise_on_error=raise_on_error,
    )


def output_metadata(result) -> dict:
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}


def read_rejects(path) -> list[list[str]]:
    raw = Path(path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # for Excel
    limit = csv.field_size_limit(4 * MB)  # a rejected 1 MB cell is in there
    try:
        return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    finally:
        csv.field_size_limit(limit)


# --- valid files ----------------------------------------------------------------------------------


def test_valid_rows_are_upserted_and_importing_again_changes_nothing(contracts, db_url, engine,
                                                                     dirs):  # fmt: skip
    c = contracts
    text = csv_text(
        [
            [
                "UASG",
                "Número",
                "Gestor",
                "Fiscal",
                "Prioridade",
                "Observação",
                "Alertar em",
                "Comentário",
            ],
            [
                c[0]["uasg"],
                c[0]["numero"],
                " José da Silva ",
                "Ana Lúcia",
                "Média",
                "Ver aditivo nº 2",
                "31/12/2026",
                "ignorado",
            ],
            [c[1]["uasg"], c[1]["numero"], "Pedro", "", "ALTA", "", "2026-07-01", ""],
            [c[2]["uasg"], c[2]["numero"], "", "", "", "", "", "sem acompanhamento"],
            [
                c[-1]["uasg"],
                c[-1]["numero"],
                "Carla",
                "Bruno",
                "baixa",
                "duas\nlinhas",
                "1/2/2027",
                "",
            ],
        ]  # fmt: skip
    )
    (dirs.imports / "planilha.csv").write_text(text, encoding="utf-8")
    result = run_import(db_url, "planilha.csv")
    assert result.success
    meta = output_metadata(result)
    assert (meta["total"], meta["aceitos"], meta["rejeitados"]) == (4, 4, 0)
    assert (meta["inseridos"], meta["atualizados"], meta["removidos"], meta["inalterados"]) == (
        3, 0, 0, 1,
    )  # fmt: skip
    assert meta["colunas_ignoradas"] == ["comentario"] and meta["linhas_em_branco"] == 0
    assert meta["arquivo"] == str(dirs.imports / "planilha.csv")
    rejects = Path(meta["arquivo_rejeicoes"])
    assert rejects.parent == dirs.exports and rejects.name.startswith(
        "acompanhamento_rejeitadas_planilha_"
    )
    assert read_rejects(rejects) == [
        ["linha", "motivo", "UASG", "Número", "Gestor", "Fiscal", "Prioridade", "Observação",
         "Alertar em", "Comentário"]
    ]  # fmt: skip
    rows = stored(engine)
    assert sorted(rows) == sorted([c[0]["id"], c[1]["id"], c[-1]["id"]])
    first, second, last = rows[c[0]["id"]], rows[c[1]["id"]], rows[c[-1]["id"]]
    assert (first["uasg"], first["numero"]) == (c[0]["uasg"], c[0]["numero"])
    assert (first["gestor"], first["fiscal"], first["prioridade"]) == (
        "José da Silva", "Ana Lúcia", "media",
    )  # fmt: skip
    assert (first["observacao"], first["alertar_em"]) == ("Ver aditivo nº 2", date(2026, 12, 31))
    assert (second["fiscal"], second["prioridade"], second["observacao"]) == (None, "alta", None)
    assert second["alertar_em"] == date(2026, 7, 1)
    assert (last["observacao"], last["alertar_em"]) == ("duas\nlinhas", date(2027, 2, 1))
    assert {r["run_id"] for r in rows.values()} == {result.run_id}

    again = run_import(db_url, "planilha.csv")
    meta = output_metadata(again)
    assert (meta["inseridos"], meta["atualizados"], meta["removidos"], meta["inalterados"]) == (
        0, 0, 0, 4,
    )  # fmt: skip
    assert stored(engine) == rows  # not even rewritten (same xmin, importado_em, run_id)

    changed = csv_text(
        [
            HEADER,
            [
                c[0]["uasg"],
                c[0]["numero"],
                "Outro Gestor",
                "Ana Lúcia",
                "media",
                "Ver aditivo nº 2",
                "2026-12-31",
            ],
            [c[1]["uasg"], c[1]["numero"], "", "", "", "", ""],
        ]  # fmt: skip
    )
    (dirs.imports / "planilha.csv").write_text(changed, encoding="utf-8")
    meta = output_metadata(run_import(db_url, "planilha.csv"))
    assert (meta["inseridos"], meta["atualizados"], meta["removidos"], meta["inalterados"]) == (
        0, 1, 1, 0,
    )  # fmt: skip
    after = stored(engine)
    assert sorted(after) == sorted([c[0]["id"], c[-1]["id"]])  # emptied: no follow-up
    assert after[c[0]["id"]]["gestor"] == "Outro Gestor"
    assert after[c[-1]["id"]] == rows[c[-1]["id"]]  # not in the file: untouched


def test_latin1_and_utf8_with_bom_files_are_read_right(contracts, db_url, engine, dirs):
    c = contracts
    rows = [HEADER, [c[0]["uasg"], c[0]["numero"], "João Conceição", "Açaí", "média", "", ""]]
    (dirs.imports / "latin.csv").write_bytes(csv_text(rows).encode("latin-1"))
    meta = output_metadata(run_import(db_url, "latin.csv", encoding="latin-1"))
    assert (meta["aceitos"], meta["rejeitados"]) == (1, 0)
    assert stored(engine)[c[0]["id"]]["gestor"] == "João Conceição"
    rows[1][3] = "Açaí com BOM"
    (dirs.imports / "bom.csv").write_bytes(b"\xef\xbb\xbf" + csv_text(rows).encode("utf-8"))
    meta = output_metadata(run_import(db_url, str(dirs.imports / "bom.csv")))
    assert (meta["aceitos"], meta["rejeitados"]) == (1, 0)
    assert stored(engine)[c[0]["id"]]["fiscal"] == "Açaí com BOM"


# --- a hostile file -------------------------------------------------------------------------------


def test_a_hostile_file_loses_nothing_and_touches_nothing_else(contracts, db_url, engine, dirs):
    c = [r for r in contracts if r["uasg"] == "787010"]
    key = [[r["uasg"], r["numero"]] for r in c]
    evil = '=HYPERLINK("http://evil","x")'
    huge = "A" * MB
    # (start line, cells) of each data row, and the physical lines it takes
    layout = [
        (2, [*key[0], evil, "+55 61 99999-0000", "alta", "@SUM(A1:A9)", ""]),
        (3, None),  # an empty line
        (4, [*key[1], "../../etc/passwd", "..\\..\\boot.ini", "", "/etc/shadow", ""]),
        (5, [*key[2], "Três", "", "", "linha 1\nlinha 2\nlinha 3", ""]),  # lines 5-7
        (8, ["", "", "", "", "", "", ""]),  # a spreadsheet's empty row
        (9, [*key[3], "Grande", "", "", huge, ""]),
        (10, [*key[4], "'=1+1", "'-menos", "", "", ""]),  # as our exports neutralize them
        (11, [*key[0], evil, "+55 61 99999-0000", "alta", "@SUM(A1:A9)", ""]),  # duplicate
        (12, ["12345", key[5][1], "x", "", "", "", ""]),
        (13, [key[5][0], "13/2026", "x", "", "", "", ""]),
        (14, ["787010", "99999/2099", "x", "", "", "", ""]),
        (15, [*key[5], "x", "", "urgente", "", "31/02/2026"]),
        (16, [*key[6], "x", "", "", "", "", "a mais"]),
        (17, [key[7][0], "", "x", "", "", "", ""]),
        (18, [*key[8], "CR", "", "baixa", "a\r\nb", "2026-01-31"]),  # lines 18-19
        (20, [*key[2], "Três de novo", "", "", "", ""]),  # duplicate after a multi-line row
        (21, [*key[9], "\t=cmd", "", "", "", ""]),
    ]
    text = csv_text([HEADER])
    for _, cells in layout:
        text += "\r\n" if cells is None else csv_text([cells])
    assert text.count("\n") == 21  # the physical lines the layout says
    (dirs.imports / "hostil.csv").write_text(text, encoding="utf-8", newline="")
    outside_before, root_before = files(dirs.outside), files(dirs.root)

    result = run_import(db_url, "hostil.csv")
    assert result.success
    meta = output_metadata(result)
    data_lines = [line for line, cells in layout if cells is not None and any(cells)]
    accepted_lines = [2, 4, 5, 10, 18, 21]
    rejected_lines = [9, 11, 12, 13, 14, 15, 16, 17, 20]
    assert sorted(accepted_lines + rejected_lines) == data_lines  # every row accounted for
    assert meta["total"] == len(data_lines) == meta["aceitos"] + meta["rejeitados"]
    assert (meta["aceitos"], meta["rejeitados"], meta["linhas_em_branco"]) == (6, 9, 2)

    rejects = read_rejects(meta["arquivo_rejeicoes"])
    assert rejects[0] == ["linha", "motivo", *HEADER]
    reasons = {int(r[0]): r[1] for r in rejects[1:]}
    assert list(reasons) == rejected_lines
    assert reasons[9] == "observacao: 1.048.576 caracteres (no máximo 4.000)"
    assert reasons[11] == "contrato listado de novo (primeiro na linha 2)"
    assert reasons[12].startswith("uasg: '12345' não é um código de UASG")
    assert reasons[13] == "numero: '13/2026' não é um número de contrato como 00013/2026"
    assert reasons[14] == "nenhum contrato 99999/2099 da UASG 787010 no warehouse"
    assert "prioridade: 'urgente'" in reasons[15] and "alertar_em: '31/02/2026'" in reasons[15]
    assert reasons[16] == "8 valores para 7 colunas" and reasons[17] == "numero: ausente"
    assert reasons[20] == "contrato listado de novo (primeiro na linha 5)"
    cells = {int(r[0]): r[2:] for r in rejects[1:]}
    assert cells[9][5] == huge  # nothing lost: the rejected row is there whole
    assert cells[11][2] == "'" + evil and cells[11][3] == "'+55 61 99999-0000"  # neutralized
    assert cells[16] == [*key[6], "x", "", "", "", "", "a mais"]

    rows = stored(engine)
    assert sorted(rows) == sorted(c[i]["id"] for i in (0, 1, 2, 4, 8, 9))
    first = rows[c[0]["id"]]
    assert (first["gestor"], first["fiscal"], first["observacao"]) == (
        evil,
        "+55 61 99999-0000",
        "@SUM(A1:A9)",
    )  # fmt: skip  (stored as data)
    assert (rows[c[1]["id"]]["gestor"], rows[c[1]["id"]]["fiscal"]) == (
        "../../etc/passwd", "..\\..\\boot.ini",
    )  # fmt: skip
    assert rows[c[2]["id"]]["observacao"] == "linha 1\nlinha 2\nlinha 3"
    assert (rows[c[4]["id"]]["gestor"], rows[c[4]["id"]]["fiscal"]) == ("=1+1", "-menos")
    assert rows[c[8]["id"]]["observacao"] == "a\r\nb"
    assert rows[c[9]["id"]]["gestor"] == "=cmd"

    # nothing written anywhere but the rejects file
    assert files(dirs.outside) == outside_before
    assert files(dirs.root) == sorted(
        [*root_before, f"exports/{Path(meta['arquivo_rejeicoes']).name}"]
    )

    # a later export neutralizes the formula cells it stored
    exported = exportar_contratos.execute_in_process(
        run_config={"ops": {"exportar": {"config": {"uasgs": ["787010"]}}}},
        resources={"warehouse": WarehouseResource(database_url=db_url)},
    )
    [out] = [e for e in exported.all_events if e.event_type_value == "STEP_OUTPUT"]
    path = out.event_specific_data.metadata["caminho"].value
    lines = list(csv.DictReader(io.StringIO(Path(path).read_text("utf-8-sig"), newline=""),
                                delimiter=";"))  # fmt: skip
    by_id = {int(r["contrato_id"]): r for r in lines}
    assert by_id[c[0]["id"]]["gestor"] == "'" + evil
    assert by_id[c[0]["id"]]["fiscal"] == "'+55 61 99999-0000"
    assert by_id[c[0]["id"]]["observacao"] == "'@SUM(A1:A9)"
    assert by_id[c[4]["id"]]["gestor"] == "'=1+1" and by_id[c[9]["id"]]["gestor"] == "'=cmd"


def test_a_contract_listed_twice_keeps_the_first_row(contracts, db_url, engine, dirs):
    c = contracts[0]
    rows = [HEADER, *([c["uasg"], c["numero"], f"Gestor {n}", "", "", "", ""] for n in (1, 2, 3))]
    (dirs.imports / "dup.csv").write_text(csv_text(rows), encoding="utf-8")
    meta = output_metadata(run_import(db_url, "dup.csv"))
    assert (meta["total"], meta["aceitos"], meta["rejeitados"]) == (3, 1, 2)
    assert stored(engine)[c["id"]]["gestor"] == "Gestor 1"
    reasons = [r[:2] for r in read_rejects(meta["arquivo_rejeicoes"])[1:]]
    assert reasons == [
        ["3", "contrato listado de novo (primeiro na linha 2)"],
        ["4", "contrato listado de novo (primeiro na linha 2)"],
    ]


def test_contracts_are_found_by_uasg_and_numero_ambiguity_rejected(contracts, db_url, engine,
                                                                    dirs):  # fmt: skip
    a, b, x, y = contracts[0], contracts[1], contracts[2], contracts[3]
    with engine.begin() as conn:  # two stored contracts named alike; a removed twin
        conn.execute(sa.text("UPDATE contratos SET numero = :n WHERE id = :i"),
                     {"n": a["numero"], "i": b["id"]})  # fmt: skip
        conn.execute(
            sa.text("UPDATE contratos SET numero = :n, removido_em = now() WHERE id = :i"),
            {"n": x["numero"], "i": y["id"]},
        )
    rows = [HEADER, [a["uasg"], a["numero"], "g", "", "", "", ""],
            [x["uasg"], x["numero"], "g", "", "", "", ""]]  # fmt: skip
    (dirs.imports / "ambiguo.csv").write_text(csv_text(rows), encoding="utf-8")
    meta = output_metadata(run_import(db_url, "ambiguo.csv"))
    assert (meta["aceitos"], meta["rejeitados"]) == (1, 1)
    [[line, reason, *_]] = read_rejects(meta["arquivo_rejeicoes"])[1:]
    assert line == "2" and reason == (
        f"2 contratos {a['numero']} da UASG {a['uasg']} (ids {a['id']}, {b['id']}): "
        "ambíguo; acrescente uma coluna contrato_id"
    )
    assert list(stored(engine)) == [x["id"]]  # the listed contract, not its removed twin

    # an optional contrato_id column names the contract; it must agree with uasg and numero
    rows = [
        ["contrato_id", *HEADER],
        [str(b["id"]), a["uasg"], a["numero"], "por id", "", "", "", ""],
        [str(a["id"]), a["uasg"], "00001/1999", "errado", "", "", "", ""],
        ["1", a["uasg"], a["numero"], "inexistente", "", "", "", ""],
        ["12a", a["uasg"], a["numero"], "ruim", "", "", "", ""],
        [str(b["id"]), a["uasg"], a["numero"], "de novo", "", "", "", ""],
        ["", x["uasg"], x["numero"], "sem id", "", "", "", ""],
    ]
    (dirs.imports / "ids.csv").write_text(csv_text(rows), encoding="utf-8")
    meta = output_metadata(run_import(db_url, "ids.csv"))
    assert (meta["total"], meta["aceitos"], meta["rejeitados"]) == (6, 2, 4)
    assert meta["colunas_ignoradas"] == []
    reasons = {r[0]: r[1] for r in read_rejects(meta["arquivo_rejeicoes"])[1:]}
    assert reasons == {
        "3": f"contrato_id {a['id']} é o contrato {a['numero']} da UASG {a['uasg']}, "
        f"não o 00001/1999 da UASG {a['uasg']}",
        "4": "nenhum contrato com contrato_id 1",
        "5": "contrato_id: '12a' não é um id de contrato (dígitos)",
        "6": "contrato listado de novo (primeiro na linha 2)",
    }
    now = stored(engine)
    assert (now[b["id"]]["gestor"], now[x["id"]]["gestor"]) == ("por id", "sem id")
    assert a["id"] not in now


# --- files refused whole --------------------------------------------------------------------------


def test_files_refused_whole_change_nothing(contracts, db_url, engine, dirs):
    c = contracts[0]
    good = csv_text([HEADER, [c["uasg"], c["numero"], "Gestor", "", "alta", "", ""]])
    (dirs.imports / "bom.csv").write_text(good, encoding="utf-8")
    assert run_import(db_url, "bom.csv").success
    before, exports_before = stored(engine), files(dirs.exports)
    utf8_row = csv_text([[c["uasg"], c["numero"], "José", "", "", "", ""]]).encode()
    latin_row = csv_text([[c["uasg"], c["numero"], "André", "", "", "", ""]]).encode("latin-1")
    header = csv_text([HEADER]).encode()
    cases = [
        ("misto.csv", header + utf8_row + latin_row, {},
         "misto.csv linha 3: o byte 0xe9 não é texto utf-8"),
        ("misto2.csv", header + utf8_row + latin_row, {"encoding": "latin-1"},
         "codificações misturadas: a linha 2 é UTF-8, a linha 3 é latin-1"),
        ("utf8.csv", header + utf8_row, {"encoding": "latin-1"},
         "a linha 2 é texto UTF-8, que latin-1 leria errado"),
        ("vazio.csv", b"", {}, "vazio.csv: arquivo vazio"),
        ("branco.csv", b"\r\n   \r\n", {}, "branco.csv: arquivo vazio"),
        ("planilha.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", {},
         "um byte NUL: um arquivo binário"),
        ("sem_fiscal.csv", csv_text([[h for h in HEADER if h != "fiscal"]]).encode(), {},
         "cabeçalho errado, falta a coluna fiscal"),
        ("repetida.csv", csv_text([[*HEADER, "Gestor"]]).encode(), {},
         "a coluna 'gestor' se repete"),
        ("virgulas.csv", csv_text([HEADER], ",").encode(), {},
         "o arquivo parece usar ',': defina delimiter como ','"),
        ("json.csv", b'[{"uasg": "787010", "numero": "00001/2026"}]\n', {},
         "cabeçalho errado, faltam as colunas"),
        ("sem_cabecalho.csv", utf8_row, {}, "cabeçalho errado, faltam as colunas"),
        ("cabecalho_vazio.csv", b"\r\n" + header + utf8_row, {}, "linha 1: sem cabeçalho"),
        ("gigante.csv", header + utf8_row + csv_text([["x" * (3 * MB)]]).encode(), {},
         "gigante.csv linha 3: CSV inválido: field larger than field limit"),
    ]  # fmt: skip
    for name, content, config, message in cases:
        (dirs.imports / name).write_bytes(content)
        result = run_import(db_url, name, **config)
        text = failure_message(result)
        assert "arquivo recusado, nada foi alterado" in text and message in text, (name, text)
        assert stored(engine) == before, name
        assert files(dirs.exports) == exports_before, name  # no rejects file either
    (dirs.imports / "dados.txt").write_text(good)
    assert "configuração inválida: path: dados.txt não é um arquivo .csv" in failure_message(
        run_import(db_url, "dados.txt")
    )


def test_one_transaction_a_late_failure_undoes_earlier_batches(contracts, db_url, engine, dirs):
    rows = [HEADER, *([c["uasg"], c["numero"], "g", "", "", "", ""] for c in contracts[:3])]
    (dirs.imports / "ok.csv").write_text(csv_text(rows), encoding="utf-8")
    (dirs.imports / "tarde.csv").write_text(csv_text([*rows, ["x" * (3 * MB)]]), encoding="utf-8")

    def run(name):
        return importacao.import_file(
            get_engine(db_url), ImportOptions(name), import_root=dirs.imports,
            export_root=dirs.exports, batch=1,
        )  # fmt: skip

    with pytest.raises(ImportFileError, match="field larger than field limit"):
        run("tarde.csv")  # three batches were upserted before the fourth row failed
    assert stored(engine) == {} and files(dirs.exports) == []
    assert run("ok.csv").accepted == 3 and len(stored(engine)) == 3  # batches of one do work


def test_paths_outside_the_import_directory_are_refused(contracts, db_url, engine, dirs):
    c = contracts[0]
    good = csv_text([HEADER, [c["uasg"], c["numero"], "Gestor", "", "", "", ""]])
    (dirs.outside / "fora.csv").write_text(good)
    (dirs.imports / "atalho.csv").symlink_to(dirs.outside / "fora.csv")
    (dirs.imports / "sub").mkdir()
    (dirs.imports / "sub" / "pasta.csv").mkdir()
    (dirs.imports / "sub" / "dentro.csv").write_text(good)
    (dirs.imports / "pasta").symlink_to(dirs.outside, target_is_directory=True)
    refused = {
        "../outside/fora.csv": "está fora do diretório de importação",
        str(dirs.outside / "fora.csv"): "está fora do diretório de importação",
        "atalho.csv": "está fora do diretório de importação",
        "pasta/fora.csv": "está fora do diretório de importação",
        "/etc/passwd": "está fora do diretório de importação",
        ".": "está fora do diretório de importação",
        "sub/pasta.csv": "não é um arquivo regular",
        "nao_existe.csv": "arquivo inexistente",
        " ": "path: vazio",
    }
    for path, message in refused.items():
        text = failure_message(run_import(db_url, path))
        assert "configuração inválida: path: " in text and message in text, (path, text)
    assert stored(engine) == {} and files(dirs.exports) == []
    assert run_import(db_url, "sub/../sub/dentro.csv").success  # inside, however written
    assert len(stored(engine)) == 1


@pytest.mark.parametrize(("config", "field"), [({"encoding": "utf-16"}, "encoding"),
                                               ({"delimiter": "|"}, "delimiter")])  # fmt: skip
def test_config_outside_its_choices_is_refused_by_dagster_naming_the_field(config, field, dirs):
    with pytest.raises(dg.DagsterInvalidConfigError, match=f"config:{field}"):
        run_import("postgresql://nobody@127.0.0.1:9/none", "x.csv", **config)


# --- round trip, the view, the migration ----------------------------------------------------------


def test_export_then_import_changes_nothing(contracts, db_url, engine, dirs):
    c = contracts
    rows = [
        HEADER,
        [c[0]["uasg"], c[0]["numero"], '=HYPERLINK("x")', "+55 61", "alta", "-nota\r\nlinha 2",
         "31/12/2026"],
        [c[1]["uasg"], c[1]["numero"], "José; Conceição, “Ñ”", "", "média", "", ""],
        [c[-1]["uasg"], c[-1]["numero"], "", "@fiscal", "", "só observação", "2026-01-05"],
    ]  # fmt: skip
    (dirs.imports / "inicial.csv").write_text(csv_text(rows), encoding="utf-8")
    assert output_metadata(run_import(db_url, "inicial.csv"))["aceitos"] == 3
    before = stored(engine)
    for config in ({}, {"decimal": "iso", "delimiter": ",", "bom": False}):
        result = exportar_contratos.execute_in_process(
            run_config={"ops": {"exportar": {"config": config}}},
            resources={"warehouse": WarehouseResource(database_url=db_url)},
        )
        [out] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        exported = Path(out.event_specific_data.metadata["caminho"].value)
        shutil.copy(exported, dirs.imports / exported.name)
        meta = output_metadata(
            run_import(db_url, exported.name, delimiter=config.get("delimiter", ";"))
        )
        assert meta["total"] == meta["aceitos"] == len(contracts) and meta["rejeitados"] == 0
        assert (meta["inseridos"], meta["atualizados"], meta["removidos"]) == (0, 0, 0)
        assert meta["inalterados"] == len(contracts)
        assert stored(engine) == before  # same values, same xmin: nothing was written


def test_the_portal_view_carries_the_follow_up(contracts, db_url, engine, dirs):
    c = contracts
    rows = [
        HEADER,
        [c[0]["uasg"], c[0]["numero"], "Gestora", "Fiscal", "alta", "obs", "2026-03-01"],
    ]
    (dirs.imports / "v.csv").write_text(csv_text(rows), encoding="utf-8")
    assert run_import(db_url, "v.csv").success
    portal.refresh_painel(engine)
    view = {
        r["contrato_id"]: r
        for r in _query(
            engine,
            "SELECT contrato_id, gestor, fiscal, prioridade, observacao, "
            "alertar_em FROM painel_contratos",
        )  # fmt: skip
    }
    assert len(view) == len(contracts)
    assert view[c[0]["id"]] == {"contrato_id": c[0]["id"], "gestor": "Gestora",
                                "fiscal": "Fiscal", "prioridade": "alta", "observacao": "obs",
                                "alertar_em": date(2026, 3, 1)}  # fmt: skip
    assert all(
        (v["gestor"], v["fiscal"], v["prioridade"], v["observacao"], v["alertar_em"]) == (None,) * 5
        for cid, v in view.items()
        if cid != c[0]["id"]
    )


def _view_columns(engine) -> list[str]:
    return [
        r["attname"]
        for r in _query(
            engine,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'painel_contratos'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        )
    ]


def test_migration_0006_downgrades_to_0005s_view_and_upgrades_again(contracts, db_url, engine):
    head = _view_columns(engine)
    with engine.begin() as conn:  # later migrations add columns after these (faturas, 0011)
        command.downgrade(alembic_config(conn), "0006")
    at_0006 = _view_columns(engine)
    assert at_0006[-5:] == ["gestor", "fiscal", "prioridade", "observacao", "alertar_em"]
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0005")
    assert _view_columns(engine) == at_0006[:-5]
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("acompanhamento")
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("painel_contratos")}
    assert "ux_painel_contratos_contrato" in indexes  # CONCURRENTLY still possible
    portal.refresh_painel(engine)  # the restored view refreshes (twice: plain, concurrently)
    assert portal.refresh_painel(engine).linhas == len(contracts)
    upgrade(engine)
    assert _view_columns(engine) == head
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert portal.refresh_painel(engine).linhas == len(contracts)
