"""UASG configuration: env var, CSV and YAML files, their union, errors, staggering."""

from collections import Counter
from datetime import time

import pytest

from licitacao_pipeline.settings import Settings
from licitacao_pipeline.uasgs import (
    DEFAULT_UASGS,
    Uasg,
    UasgConfigError,
    parse_uasgs,
    parse_window,
    read_uasgs_file,
    schedule_times,
)


def load_uasgs(env):
    return Settings.from_env(env).uasgs()


def load_slot_minutes(env):
    return Settings.from_env(env).slot_minutes()


def load_full_sync_per_night(env):
    return Settings.from_env(env).full_sync_per_night()


SEED_CODES = ["787010", "787000", "770001", "787400", "787700"]


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_defaults_are_the_seed_five():
    uasgs = load_uasgs({})
    assert [u.codigo for u in uasgs] == SEED_CODES
    assert [u.hora for u in uasgs] == [time(9), time(11), time(14), time(16), time(18)]
    assert parse_uasgs(DEFAULT_UASGS) == uasgs


def test_env_override_keeps_leading_zeros_and_optional_hours():
    uasgs = load_uasgs({"LICITACAO_UASGS": " 153165@08:30, 010101 ,787010"})
    assert uasgs == (Uasg("153165", time(8, 30)), Uasg("010101"), Uasg("787010"))


@pytest.mark.parametrize(
    "spec,bad",
    [
        ("78701", "entrada 1 ('78701'): código de UASG inválido '78701'"),
        ("787010,abc123", "entrada 2 ('abc123')"),
        ("787010@25:00", "hora inválida '25:00'"),
        ("787010@9h", "entrada 1 ('787010@9h')"),
        ("787010,787010", "787010 listada duas vezes: LICITACAO_UASGS entrada 1"),
        ("", "nenhuma UASG"),
    ],
)
def test_invalid_env_entries_name_the_bad_entry(spec, bad):
    with pytest.raises(UasgConfigError) as err:
        parse_uasgs(spec)
    assert bad in str(err.value)


def test_csv_with_bom_semicolons_leading_zeros_and_optional_values(tmp_path):
    path = write(
        tmp_path,
        "uasgs.csv",
        "\ufeffCodigo;Hora;Nome\n"
        "012345;08:30;SUPERINTENDÊNCIA REGIONAL, SUL\n"
        "787010;;\n"
        "\n"
        "000001;;COMANDO\n",
    )
    assert read_uasgs_file(path) == (
        Uasg("012345", time(8, 30), "SUPERINTENDÊNCIA REGIONAL, SUL"),
        Uasg("787010"),
        Uasg("000001", None, "COMANDO"),
    )


def test_csv_with_commas_quotes_and_only_the_code_column(tmp_path):
    path = write(tmp_path, "a.csv", 'codigo,nome\n012345,"BASE AÉREA; ALA 1, NATAL"\n')
    assert read_uasgs_file(path) == (Uasg("012345", None, "BASE AÉREA; ALA 1, NATAL"),)
    path = write(tmp_path, "b.csv", "codigo\r\n787010\r\n010101\r\n")
    assert read_uasgs_file(path) == (Uasg("787010"), Uasg("010101"))


def test_yaml_scalars_are_text_so_zeros_and_hours_survive(tmp_path):
    path = write(
        tmp_path,
        "uasgs.yaml",
        "# whole federal government\n"
        "- {codigo: 012345, hora: 14:00, nome: yes}\n"  # not octal 5349, not 840, not True
        "- codigo: 787010\n"
        "  hora: '09:00'\n"
        "- codigo: '000100'\n"
        "  nome:\n"
        "- {codigo: '000200', hora: ~, nome: null}\n",
    )
    assert read_uasgs_file(path) == (
        Uasg("012345", time(14), "yes"),
        Uasg("787010", time(9)),
        Uasg("000100"),
        Uasg("000200"),
    )


def test_yaml_integer_code_needing_zero_padding_is_rejected(tmp_path):
    path = write(tmp_path, "u.yml", "- codigo: 787010\n- codigo: 12345\n")
    with pytest.raises(UasgConfigError) as err:
        read_uasgs_file(path)
    message = str(err.value)
    assert f"{path} entrada 2 (linha 2)" in message
    assert "'12345'" in message and "escreva 012345" in message


def test_file_and_env_are_united_file_first(tmp_path):
    path = write(tmp_path, "u.csv", "codigo,hora,nome\n153165,07:15,CENTRO\n")
    uasgs = load_uasgs(
        {"LICITACAO_UASGS_FILE": str(path), "LICITACAO_UASGS": "787010@09:00,010101"}
    )
    assert uasgs == (Uasg("153165", time(7, 15), "CENTRO"), Uasg("787010", time(9)), Uasg("010101"))
    assert load_uasgs({"LICITACAO_UASGS_FILE": str(path)}) == uasgs[:1]  # no defaults added


def test_a_code_in_both_sources_names_both_places(tmp_path):
    path = write(tmp_path, "u.csv", "codigo\n153165\n787010\n")
    with pytest.raises(UasgConfigError) as err:
        load_uasgs({"LICITACAO_UASGS_FILE": str(path), "LICITACAO_UASGS": "010101,787010@09:00"})
    assert str(err.value) == (
        f"UASG 787010 listada duas vezes: {path} linha 3 e LICITACAO_UASGS entrada 2 "
        "('787010@09:00')"
    )


def test_a_code_twice_in_one_file_names_both_lines(tmp_path):
    path = write(tmp_path, "u.yaml", "- codigo: '787010'\n- codigo: '010101'\n- codigo: 787010\n")
    with pytest.raises(UasgConfigError, match=r"entrada 1 \(linha 1\) e .*entrada 3 \(linha 3\)"):
        read_uasgs_file(path)


@pytest.mark.parametrize(
    "name,text,where,what",
    [
        (
            "u.csv",
            "codigo,hora\n787010,09:00\n7870,\n",
            "linha 3",
            "código de UASG inválido '7870'",
        ),
        ("u.csv", "codigo;hora\n787010;9:00\n", "linha 2", "hora inválida '9:00'"),
        ("u.csv", "codigo,horario\n787010,09:00\n", "linha 1", "coluna desconhecida 'horario'"),
        ("u.csv", "hora,nome\n09:00,X\n", "linha 1", "falta a coluna 'codigo'"),
        ("u.csv", "codigo,nome\n787010,A,B\n", "linha 2", "3 valores para 2 colunas"),
        ("u.csv", "codigo,hora\n", "", "nenhuma UASG listada"),
        ("u.csv", "\ufeff \n\n", "", "arquivo vazio"),
        ("u.yaml", "", "", "arquivo vazio"),
        (
            "u.yaml",
            "- codigo: '787010'\n  horario: 09:00\n",
            "entrada 1 (linha 1)",
            "chave desconhecida",
        ),
        (
            "u.yaml",
            "- codigo: '787010'\n- 010101\n",
            "entrada 2 (linha 2)",
            "esperava um mapeamento",
        ),
        ("u.yaml", "- codigo: [787010]\n", "entrada 1 (linha 1)", "um valor só"),
        ("u.yaml", "- {codigo: 787010, hora: 24:00}\n", "entrada 1", "hora inválida '24:00'"),
        ("u.yaml", "codigo: 787010\n", "", "esperava uma lista"),
        ("u.yaml", "- codigo: '787010\n", "", "YAML inválido"),
        ("u.txt", "787010\n", "", "deve terminar em .csv, .yaml ou .yml"),
    ],
)
def test_bad_file_names_the_file_the_entry_and_the_problem(tmp_path, name, text, where, what):
    path = write(tmp_path, name, text)
    with pytest.raises(UasgConfigError) as err:
        load_uasgs({"LICITACAO_UASGS_FILE": str(path)})
    message = str(err.value)
    assert str(path) in message and what in message
    assert f"{path} {where}".strip() in message


def test_unreadable_or_non_utf8_file(tmp_path):
    with pytest.raises(UasgConfigError, match="não foi possível ler .*missing.csv"):
        load_uasgs({"LICITACAO_UASGS_FILE": str(tmp_path / "missing.csv")})
    path = write(tmp_path, "latin.csv", "codigo,nome\n787010,INTENDÊNCIA\n", encoding="latin-1")
    with pytest.raises(UasgConfigError, match="latin.csv: não é UTF-8"):
        read_uasgs_file(path)


def test_every_bad_entry_of_a_file_is_reported_at_once(tmp_path):
    rows = "\n".join(["codigo,hora", "787010,09:00", "1,", "787000,99:99"] + ["x,"] * 30)
    path = write(tmp_path, "u.csv", rows + "\n")
    with pytest.raises(UasgConfigError) as err:
        read_uasgs_file(path)
    message = str(err.value)
    assert message.startswith("32 entradas de UASG inválidas")
    assert f"{path} linha 3" in message and f"{path} linha 4" in message
    assert "e mais 12" in message


def test_stagger_spreads_unscheduled_uasgs_in_configured_order():
    uasgs = parse_uasgs("787010@09:00,111111,222222,333333,444444")
    times = schedule_times(uasgs, parse_window("06:00-22:00"), 5)
    assert times["787010"] == time(9)
    auto = [times[c] for c in ("111111", "222222", "333333", "444444")]
    assert auto == [time(8), time(12), time(16), time(20)]


@pytest.mark.parametrize("n", [961, 5000])
def test_stagger_has_no_upper_bound_and_shares_slots_evenly(n):
    fixed = (Uasg("000001", time(23, 59)), Uasg("000002", time(6, 3)))
    uasgs = fixed + tuple(Uasg(f"{i:06d}") for i in range(10, n + 10))
    times = schedule_times(uasgs, parse_window("06:00-22:00"), 5)
    assert times["000001"] == time(23, 59) and times["000002"] == time(6, 3)
    auto = [times[u.codigo] for u in uasgs[2:]]
    assert all(time(6) <= t < time(22) and t.minute % 5 == 0 for t in auto)
    assert auto == sorted(auto)
    per_slot = Counter(auto)
    assert len(per_slot) == min(n, 192)  # 16 h of 5-minute slots, all used once n >= 192
    assert max(per_slot.values()) - min(per_slot.values()) <= 1
    assert schedule_times(uasgs, parse_window("06:00-22:00"), 5) == times  # deterministic


def test_window_and_numeric_settings_validation():
    with pytest.raises(UasgConfigError, match="deve ser depois do início"):
        parse_window("22:00-06:00")
    assert (
        load_slot_minutes({}) == 5
        and load_slot_minutes({"LICITACAO_SCHEDULE_SLOT_MINUTES": "15"}) == 15
    )
    with pytest.raises(UasgConfigError, match="LICITACAO_SCHEDULE_SLOT_MINUTES.*'0'"):
        load_slot_minutes({"LICITACAO_SCHEDULE_SLOT_MINUTES": "0"})
    assert load_full_sync_per_night({}) == 200
    with pytest.raises(UasgConfigError, match="LICITACAO_FULL_SYNC_PER_NIGHT.*'muitos'"):
        load_full_sync_per_night({"LICITACAO_FULL_SYNC_PER_NIGHT": "muitos"})
