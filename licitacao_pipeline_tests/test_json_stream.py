"""The record-by-record JSON reader (``comprasnet.json_stream``): the same values as
``json.loads`` for what the warehouse can hold, each other record ``Unreadable`` alone, and a
body that is not JSON told apart as cut (transient) or wrong (the same next time)."""

import io
import json
import random

import pytest

from licitacao_pipeline.comprasnet import json_stream
from licitacao_pipeline.comprasnet.json_stream import JSONInvalid, Notes, Reader, Unreadable


def read(body: bytes, **kw):
    return list(Reader(**kw).array(io.BytesIO(body)))


@pytest.fixture(params=[7, 1 << 20], ids=["tiny-chunks", "1MiB-chunks"])
def chunk(request, monkeypatch):
    """Chunks of 7 bytes put every boundary inside strings, numbers, escapes and characters."""
    monkeypatch.setattr(json_stream, "_CHUNK", request.param)
    return request.param


def test_records_read_as_json_loads_reads_them(chunk):
    rng = random.Random(3)
    records = [
        {"id": i, "objeto": "Aquisição de café ☕ " * rng.randint(0, 5), "n": rng.random(),
         "lista": [1, -2.5, None, True, {"x": "\\\"/"}], "vazio": {}, "big": 10**30}
        for i in range(1, 60)
    ]  # fmt: skip
    for ascii_only in (True, False):  # PHP escapes every non-ASCII character; we may not
        body = json.dumps(records, ensure_ascii=ascii_only).encode()
        assert read(body) == json.loads(body)
    assert read(b" [ ] ") == [] and read(b"\xef\xbb\xbf[1]") == [1]


def test_each_unstorable_record_is_unreadable_alone_with_its_id(chunk):
    deep = b'{"id": 2, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    middle = b'{"id": 3, "x": ' + b"[" * 100 + b"]" * 100 + b"}"
    body = b"[" + b",".join([
        b'{"id": 1}', deep, middle, b'{"id": 4, "n": 1' + b"0" * 2000 + b"}",
        b'{"id": 5, "f": 1e400}', b'{"id": 6, "f": NaN}', b'{"id": 7, "o": "a\\u0000b"}',
        b'{"id": 8, "k\\u0000": 1}', b'{"id": 9}',
    ]) + b"]"  # fmt: skip
    got = read(body)
    assert got[0] == {"id": 1} and got[-1] == {"id": 9}
    bad = got[1:-1]
    assert all(isinstance(r, Unreadable) for r in bad)
    assert [r.record_id for r in bad] == [2, 3, 4, 5, 6, 7, 8]
    reasons = [r.reason for r in bad]
    assert "profundidade" in reasons[0] and "profundidade" in reasons[1]
    assert "2001 dígitos" in reasons[2] and "1e400" in reasons[3] and "NaN" in reasons[4]
    assert reasons[5].startswith("o: ") and "NUL" in reasons[5] and "chave" in reasons[6]
    assert bad[5].payload == {"id": 7, "o": "a\u2400b"}  # legible, storable
    json.dumps([r.payload for r in bad], allow_nan=False).encode()  # all storable as JSONB


def test_a_record_over_its_size_is_skipped_without_being_held(chunk):
    body = b'[{"id": 1, "s": "' + b"x" * 5000 + b'"}, "' + b"y" * 5000 + b'", 3]'
    first, second, third = read(body, max_record_chars=1000)
    assert isinstance(first, Unreadable) and first.record_id == 1
    assert isinstance(second, Unreadable) and "1000 caracteres" in second.reason
    assert third == 3


def test_lone_surrogates_become_u_fffd_and_are_noted(chunk):
    notes = Notes()
    body = rb'[{"id": 1, "o": "a\ud800b", "\udc00": "ok", "e": "\ud83d\ude00"}]'
    [record] = read(body, notes=notes, kind="historico")
    assert record == {"id": 1, "o": "a\ufffdb", "\ufffd": "ok", "e": "😀"}
    assert notes.counts == {"historico": 2}
    assert notes.samples["historico"] == [
        {"record_id": "1", "campo": "o"},
        {"record_id": "1", "campo": "\ufffd"},
    ]


@pytest.mark.parametrize(
    ("body", "cut"),
    [
        (b'[{"id": 1}, {"id"', True),
        (b'[{"id": 1}, {"id": 2', True),
        (b'[{"id": 1}', True),
        (b"[1, 2", True),
        (b'[{"id": 1}, {"id": 2,, "x": 1}, {"id": 3}]', False),
        (b'[{"id": 1} {"id": 2}]', False),
        (b'[{"id": 1}] []', False),
        (b'{"id": 1}', False),
        (b'["\xff"]', False),
    ],
)
def test_a_body_that_is_not_json_says_whether_it_was_cut(chunk, body, cut):
    with pytest.raises(JSONInvalid) as err:
        read(body)
    assert err.value.cut is cut


def test_a_single_record_or_a_wrapped_one():
    assert json_stream.loads(b'{"id": 1}') == {"id": 1}
    assert json_stream.loads(b' [{"id": 1}] ') == [{"id": 1}]
    assert isinstance(json_stream.loads(b'{"id": 1, "x": ' + b"[" * 99 + b"]" * 99 + b"}"),
                      Unreadable)  # fmt: skip
