"""The UI speaks Portuguese: every description of the code location, as plain text."""

import re

from licitacao_pipeline.definitions import defs

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
