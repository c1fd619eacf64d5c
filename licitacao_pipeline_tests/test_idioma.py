"""The UI speaks Portuguese: every description of the code location, as plain text; the
``licitacao`` command's help and errors; the import's reject reasons."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from licitacao_pipeline import cli
from licitacao_pipeline.definitions import defs
from licitacao_pipeline.flows.importacao import COLUMNS, ImportFileError, validate_row

# words that are English and never Portuguese
INGLES = {"the", "of", "and", "is", "when", "with", "every", "each", "from", "to", "its"}


def _descricoes():
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    for key in graph.get_all_asset_keys():
        yield f"asset {key.to_user_string()}", graph.get(key).description
    for check_key in graph.asset_check_keys:
        yield f"check {check_key.to_user_string()}", graph.get(check_key).description
    for job in repo.get_all_jobs():
        yield f"job {job.name}", job.description
        for node in job.graph.node_defs:
            yield f"op {node.name}", node.description
    for schedule in repo.schedule_defs:
        yield f"schedule {schedule.name}", schedule.description
    for sensor in repo.sensor_defs:
        yield f"sensor {sensor.name}", sensor.description


def test_descricoes_em_portugues_sem_markdown():
    vistas = dict(d for d in _descricoes() if d[1])
    assert len(vistas) > 20  # the walk reached the assets, checks, jobs, ops, schedules, sensors
    ruins = {}
    for nome, texto in vistas.items():
        palavras = set(re.findall(r"\w+", texto.lower()))
        if "**" in texto or palavras & INGLES:
            ruins[nome] = texto
    assert not ruins, f"{len(ruins)} de {len(vistas)} descrições: {ruins}"


# ... and, in command help and messages, words of argparse's own texts and of the old ones
INGLES_CLI = INGLES | {"not", "or", "in", "for", "on", "at", "by", "be", "are", "than", "only",
                       "if", "this", "default", "submit", "unknown", "show", "help", "message",
                       "usage", "options", "arguments", "positional", "print", "exit", "file",
                       "error", "required", "invalid", "choice", "contract", "tab", "tabs",
                       "listing", "missing", "expected"}  # fmt: skip
COMANDOS = ("migrate", "dev", "stop", "sync", "cancel", "export", "import", "sinais")


def _ingleses(texto: str) -> set[str]:
    """English words of ``texto``, leaving out option names (--no-wait) and METAVARS."""
    texto = re.sub(r"(?<![\w-])--?[A-Za-z][\w-]*", " ", texto)
    palavras = {w.lower() for w in re.findall(r"\w+", texto) if not w.isupper()}
    return palavras & INGLES_CLI


def _saida(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit):
        cli.main(list(argv))
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_ajuda_e_erros_do_comando_em_portugues(capsys):
    entrada = Path(sys.executable).with_name("licitacao")  # the installed entry point
    geral = subprocess.run(
        [str(entrada), "--help"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert all(c in geral for c in COMANDOS), geral
    saidas = {"--help": geral}
    for comando in COMANDOS:
        saidas[f"{comando} --help"] = _saida(capsys, comando, "--help")
    saidas["sync --tab resumo"] = _saida(capsys, "sync", "--contrato", "1", "--tab", "resumo")
    saidas["sync 123"] = _saida(capsys, "sync", "123")
    ruins = {k: sorted(w) for k, t in saidas.items() if (w := _ingleses(t))}
    assert not ruins, ruins
    assert "escolha inválida: 'resumo'" in saidas["sync --tab resumo"]


def test_motivos_de_rejeicao_da_importacao_em_portugues():
    linha = validate_row(2, ["12345", "13/2026", "", "", "urgente", "", "31/02/2026"], COLUMNS)
    assert len(linha.problems) == 4  # uasg, numero, prioridade, alertar_em
    textos = [*linha.problems, ImportFileError("x.csv linha 3: ...").descricao]
    ruins = {t: sorted(w) for t in textos if (w := _ingleses(t))}
    assert not ruins, ruins
