"""ComprasNet's JSON read record by record, in bounded memory, into values the warehouse can
hold; a record that cannot be is handed on as :class:`Unreadable` (and rejected alone).

A body is decoded as UTF-8 a chunk at a time and each record of the array is parsed with the
standard library's C decoder (``raw_decode``), so memory is one chunk plus one record. A record

- nested deeper than ``max_depth`` (64), larger than ``max_record_chars`` (16 Mi characters),
  with an integer of more than 1,000 digits, a number outside the float range, ``NaN`` or
  ``Infinity``, or a NUL character (which PostgreSQL cannot store) in any string or key, is
  :class:`Unreadable`: its reason, its id when it can be seen, and its first 500 characters;
- with a lone UTF-16 surrogate (``"\\ud800"``: valid JSON, but not storable as UTF-8) is kept
  with U+FFFD in its place, and each such field is reported to ``notes``.

A body that is not JSON raises :class:`JSONInvalid`; ``cut`` tells a body that ended early
(maybe a transient network fault) from one with a syntax error (the same next time).
"""

from __future__ import annotations

import codecs
import json
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

MAX_DEPTH = 64
MAX_RECORD_CHARS = 16 * 1024 * 1024
MAX_INT_DIGITS = 1000
_CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
# Only a record whose text has one of these needs the exact walk (NUL, surrogate escapes).
_SUSPECT = ("\x00", "\\u0000", "\\ud", "\\uD")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ID = re.compile(r'^\s*\{\s*"id"\s*:\s*(\d{1,19})\b')
# Tokens of a value skipped without being parsed: strings, runs of brackets, anything else.
_SKIP = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]+|[\]}]+|[^"\[\]{}]+', re.S)
_SCALAR = re.compile(r"[-+0-9.eEa-z]*")


class JSONInvalid(ValueError):
    def __init__(self, message: str, *, cut: bool):
        super().__init__(message)
        self.cut = cut


@dataclass(frozen=True)
class Unreadable:
    """A record that could not be read as something the warehouse can hold."""

    reason: str
    record_id: int | None
    payload: dict[str, Any]


@dataclass
class Notes:
    """Fields whose lone surrogates were replaced by U+FFFD: a count and samples per kind
    (shared by the threads of a client)."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, record_id: Any, path: str) -> None:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            shown = self.samples.setdefault(kind, [])
            if len(shown) < 10:
                campo = _SURROGATE.sub("\ufffd", path)
                shown.append({"record_id": str(record_id), "campo": campo})


class _Bad:
    """Stands for a number the warehouse cannot hold, until its record is rejected."""

    def __init__(self, what: str):
        self.what = what


def _decoder() -> tuple[json.JSONDecoder, list[bool]]:
    flagged = [False]

    def bad(what: str) -> _Bad:
        flagged[0] = True
        return _Bad(what)

    def parse_int(text: str) -> Any:
        digits = len(text) - text.startswith("-")
        return int(text) if digits <= MAX_INT_DIGITS else bad(f"inteiro com {digits} dígitos")

    def parse_float(text: str) -> Any:
        value = float(text)
        return value if math.isfinite(value) else bad(f"número {text[:40]} fora do intervalo")

    def parse_constant(name: str) -> Any:
        return bad(f"{name} não é um número JSON")

    decoder = json.JSONDecoder(
        parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant, strict=False
    )
    return decoder, flagged


class _Text:
    """A UTF-8 stream as a text buffer: ``buf[pos:]`` is what is left to read."""

    def __init__(self, fh: IO[bytes]):
        self.fh, self.dec = fh, codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.eof = "", 0, False

    def more(self, at_least: int = 0) -> bool:
        """Read more (dropping what was read); False at the end."""
        if self.eof:
            return False
        data = self.fh.read(max(_CHUNK, at_least))
        self.eof = not data
        try:
            text = self.dec.decode(data, final=self.eof)
        except UnicodeDecodeError as exc:
            raise JSONInvalid(f"o corpo não é UTF-8 ({exc.reason})", cut=False) from None
        self.buf, self.pos = self.buf[self.pos :] + text, 0
        return True

    def peek(self) -> str | None:
        """The next character that is not white space (None at the end)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return None


class Reader:
    """Reads records with the limits; ``kind`` and ``notes`` say where replacements go."""

    def __init__(
        self,
        max_depth: int = MAX_DEPTH,
        max_record_chars: int = MAX_RECORD_CHARS,
        notes: Notes | None = None,
        kind: str = "contratos",
    ):
        self.max_depth, self.max_chars = max_depth, max_record_chars
        self.notes, self.kind = notes, kind
        self.decoder, self.flagged = _decoder()

    # -- whole bodies --------------------------------------------------------------------------
    def array(self, fh: IO[bytes]) -> Iterator[Any]:
        """The records of a JSON array, one at a time."""
        text = _Text(fh)
        if self._start(text) != "[":
            raise JSONInvalid("o corpo não é um array JSON", cut=False)
        yield from self._items(text)

    def value(self, fh: IO[bytes]) -> Any:
        """One record (an object), or the records of an array as a list."""
        text = _Text(fh)
        if self._start(text) == "[":
            return list(self._items(text))
        record = self._record(text)
        self._end(text)
        return record

    def _items(self, text: _Text) -> Iterator[Any]:
        text.pos += 1  # the "["
        if text.peek() == "]":
            text.pos += 1
        else:
            while True:
                yield self._record(text)
                c = text.peek()
                if c is None:
                    raise JSONInvalid("o JSON termina antes do fim", cut=True)
                text.pos += 1
                if c == "]":
                    break
                if c != ",":
                    raise JSONInvalid(f"JSON inválido: esperava ',' ou ']', veio {c!r}", cut=False)
        self._end(text)

    @staticmethod
    def _start(text: _Text) -> str | None:
        first = text.peek()
        if first == "\ufeff":
            text.pos += 1
            first = text.peek()
        return first

    @staticmethod
    def _end(text: _Text) -> None:
        if text.peek() is not None:
            raise JSONInvalid("JSON inválido: dados depois do fim", cut=False)

    # -- one record ----------------------------------------------------------------------------
    def _record(self, text: _Text) -> Any:
        if text.peek() is None:
            raise JSONInvalid("o JSON termina antes do fim", cut=True)
        while True:
            self.flagged[0] = False
            try:
                value, end = self.decoder.raw_decode(text.buf, text.pos)
            except RecursionError:
                return self._skip(text, f"aninhamento maior que {self.max_depth} (profundidade)")
            except json.JSONDecodeError as exc:
                incomplete = exc.pos >= len(text.buf) - 6 or exc.msg.startswith("Unterminated")
                if not incomplete or text.eof:
                    raise JSONInvalid(f"JSON inválido: {exc.msg}", cut=text.eof) from None
                if len(text.buf) - text.pos > self.max_chars:
                    return self._skip(text, self._too_big())
                text.more(at_least=len(text.buf) - text.pos)  # doubling: linear in all
                continue
            if end == len(text.buf) and not text.eof:  # a number may go on in the next chunk
                if len(text.buf) - text.pos > self.max_chars:
                    return self._skip(text, self._too_big())
                text.more()
                continue
            break
        start, text.pos = text.pos, end
        buf = text.buf
        if end - start > self.max_chars:
            return self._unreadable(buf[start:end], self._too_big())
        nested = buf.count("[", start, end) + buf.count("{", start, end) > self.max_depth
        if self.flagged[0] or nested or any(buf.find(s, start, end) >= 0 for s in _SUSPECT):
            rid = value.get("id") if isinstance(value, dict) else None
            try:
                value = self._clean(value, 1, "", rid)
            except _Refused as exc:
                return self._unreadable(buf[start:end], str(exc), value, exc.deep)
        return value

    def _too_big(self) -> str:
        return f"registro com mais de {self.max_chars} caracteres"

    def _clean(self, value: Any, depth: int, path: str, rid: Any) -> Any:
        """``value`` with lone surrogates replaced; ``_Refused`` if it cannot be stored."""
        if depth > self.max_depth:
            raise _Refused(f"aninhamento maior que {self.max_depth} (profundidade)", deep=True)
        if isinstance(value, str):
            return self._text(value, path, rid)
        if isinstance(value, _Bad):
            raise _Refused(f"{path or 'registro'}: {value.what}")
        if isinstance(value, list):
            return [self._clean(v, depth + 1, f"{path}[{i}]", rid) for i, v in enumerate(value)]
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                name = self._text(key, f"{path}.{key}".lstrip("."), rid, is_key=True)
                out[name] = self._clean(item, depth + 1, f"{path}.{name}".lstrip("."), rid)
            return out
        return value

    def _text(self, value: str, path: str, rid: Any, is_key: bool = False) -> str:
        if "\x00" in value:
            where = f"a chave {path}" if is_key else path
            raise _Refused(f"{where}: contém o caractere NUL (U+0000), que o PostgreSQL recusa")
        if _SURROGATE.search(value):
            if self.notes is not None:
                self.notes.add(self.kind, rid, path)
            return _SURROGATE.sub("\ufffd", value)
        return value

    def _unreadable(self, raw: str, reason: str, value: Any = None, deep: bool = True):
        rid = value.get("id") if isinstance(value, dict) else None
        if not (isinstance(rid, int) and not isinstance(rid, bool) and 0 < rid < 2**63):
            found = _ID.match(raw[:200])
            rid = int(found[1]) if found and 0 < int(found[1]) < 2**63 else None
        if value is not None and not deep:  # parsed: keep it whole, legibly
            payload = safe(value)
        else:
            payload = {"id": rid, "inicio": safe(raw[:500])}
        return Unreadable(reason, rid, payload if isinstance(payload, dict) else {"valor": payload})

    def _skip(self, text: _Text, reason: str) -> Unreadable:
        """Step over a record without parsing it (it is too deep or too big for that)."""
        head, depth = text.buf[text.pos : text.pos + 500], 0
        if text.buf[text.pos] not in '[{"':  # a number (or a literal): its characters
            while True:
                text.pos = _SCALAR.match(text.buf, text.pos).end()
                if text.pos < len(text.buf) or not text.more():
                    return self._unreadable(head, reason)
        while True:
            found = _SKIP.match(text.buf, text.pos)
            if found is None:  # a string goes on in the next chunk
                if not text.more():
                    raise JSONInvalid("o JSON termina antes do fim", cut=True)
                continue
            token, text.pos = found.group(), found.end()
            if token[0] in "[{":
                depth += len(token)
            elif token[0] in "]}":
                if len(token) >= depth:
                    text.pos = found.start() + depth
                    return self._unreadable(head, reason)
                depth -= len(token)
            elif token[0] == '"' and depth == 0:
                return self._unreadable(head, reason)
            if text.pos == len(text.buf):
                text.more()


class _Refused(Exception):
    def __init__(self, reason: str, deep: bool = False):
        super().__init__(reason)
        self.deep = deep


def safe(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON PostgreSQL can store and people can read (for rejected records): NUL
    shown as U+2400, lone surrogates as U+FFFD, numbers it cannot hold as text, depth cut."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value.replace("\x00", "\u2400"))
    if isinstance(value, _Bad):
        return f"<{value.what}>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if depth >= MAX_DEPTH and isinstance(value, (list, dict)):
        return "<…>"
    if isinstance(value, list):
        return [safe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {safe(k, depth + 1): safe(v, depth + 1) for k, v in value.items()}
    return value


def loads(data: bytes, **reader: Any) -> Any:
    """A whole body already in memory (a tab, one contract): its records as :meth:`value`."""
    import io

    return Reader(**reader).value(io.BytesIO(data))
