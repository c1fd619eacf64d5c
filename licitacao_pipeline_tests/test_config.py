from datetime import time

import pytest

from licitacao_pipeline.config import (
    DEFAULT_UASGS,
    Uasg,
    UasgConfigError,
    load_uasgs,
    parse_uasgs,
    parse_window,
    schedule_times,
)


def test_defaults_are_the_seed_five():
    uasgs = load_uasgs({})
    assert [u.codigo for u in uasgs] == ["787010", "787000", "770001", "787400", "787700"]
    assert [u.hora for u in uasgs] == [time(9), time(11), time(14), time(16), time(18)]
    assert parse_uasgs(DEFAULT_UASGS) == uasgs


def test_env_override_keeps_leading_zeros_and_optional_hours():
    uasgs = load_uasgs({"LICITACAO_UASGS": " 153165@08:30, 010101 ,787010"})
    assert uasgs == (Uasg("153165", time(8, 30)), Uasg("010101"), Uasg("787010"))


@pytest.mark.parametrize(
    "spec,bad",
    [
        ("78701", "78701"),
        ("787010,abc123", "abc123"),
        ("787010@25:00", "787010@25:00"),
        ("787010@9h", "787010@9h"),
        ("787010,787010", "787010"),
        ("", "no UASG"),
    ],
)
def test_invalid_entries_name_the_bad_entry(spec, bad):
    with pytest.raises(UasgConfigError, match=bad):
        parse_uasgs(spec)


def test_stagger_spreads_unscheduled_uasgs_without_collisions():
    uasgs = parse_uasgs("787010@09:00,111111,222222,333333,444444")
    times = schedule_times(uasgs, parse_window("06:00-22:00"))
    assert times["787010"] == time(9)
    auto = [times[c] for c in ("111111", "222222", "333333", "444444")]
    assert auto == [time(8), time(12), time(16), time(20)]
    assert len(set(times.values())) == len(times)


def test_stagger_nudges_away_from_a_taken_minute():
    uasgs = parse_uasgs("000001@14:00,000002")
    times = schedule_times(uasgs, parse_window("06:00-22:00"))
    assert times["000002"] == time(14, 1)


def test_window_validation():
    with pytest.raises(UasgConfigError, match="after start"):
        parse_window("22:00-06:00")
