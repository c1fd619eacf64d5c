"""Bounded HTTP on top of ``requests``: whatever a server sends, a request ends in bounded time
and memory.

- **Whole-attempt deadline.** ``with deadline(s):`` around a request: each attempt (connect,
  status line, headers and body, each urllib3 retry anew) must end within ``s`` seconds. A
  socket timeout only bounds each ``recv`` (a server sending a byte a second never trips it),
  so the response reads its socket through :class:`_DeadlineIO`, which gives every ``recv`` at
  most the time left and raises :class:`DeadlineExceeded` (a ``TimeoutError``, so urllib3 and
  requests treat it as a read timeout) once it is spent.
- **Error bodies capped.** A non-2xx answer's body is never read past ``ERROR_BODY_CAP`` (+ one
  buffer), not even by urllib3's retry, which drains it before trying again.
- **Bodies under a size limit.** :func:`read_body` decompresses (gzip/deflate) with a bounded
  output per step and counts both the wire and the unpacked bytes against a limit while reading.
- **Secrets.** :func:`origin` and :func:`scrub` show a URL as ``scheme://host[:port]`` only.

Use :class:`BoundedAdapter` (mounted on a ``requests.Session``) for all of it.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

ERROR_BODY_CAP = 64 * 1024  # bytes of a non-2xx body ever read (the rest is dropped)
_STEP = 256 * 1024  # bytes read, and unpacked, per step
_local = threading.local()


def tamanho(n: int) -> str:
    """``8388608`` -> ``"8 MiB"`` (sizes in messages people read)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


class DeadlineExceeded(TimeoutError):
    """The attempt's whole-request deadline passed (connect + headers + body)."""


class BodyCapExceeded(OSError):
    """A non-2xx body went past ``ERROR_BODY_CAP``: the connection is dropped, not drained."""


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"mais de {limit} bytes")
        self.limit = limit


class BadEncoding(Exception):
    """A Content-Encoding we did not ask for, or compressed data that does not decompress."""


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Each request attempt started in this block must end within ``seconds``."""
    previous = getattr(_local, "budget", None)
    _local.budget = seconds
    try:
        yield
    finally:
        _local.budget = previous


def expired() -> float | None:
    """The budget (s) whose deadline ended this thread's last attempt, or None."""
    return getattr(_local, "expired", None)


class _DeadlineIO(io.RawIOBase):
    """A response's socket reader: each ``recv`` gets at most the time left before the deadline
    (and the read timeout); an error body stops at its cap."""

    def __init__(self, raw: io.RawIOBase, sock: Any, at: float | None, budget: float | None):
        self.raw, self.sock, self.at, self.budget = raw, sock, at, budget
        self.read_timeout = sock.gettimeout()
        self.count, self.cap = 0, None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        if self.cap is not None:
            room = self.cap - self.count
            if room <= 0:
                raise BodyCapExceeded(f"corpo de erro acima de {ERROR_BODY_CAP} bytes: não lido")
            buffer = memoryview(buffer)[:room]
        if self.at is not None:
            left = self.at - time.monotonic()
            if left <= 0:
                _local.expired = self.budget
                raise DeadlineExceeded(f"prazo total da requisição de {self.budget:g}s esgotado")
            rt = self.read_timeout
            self.sock.settimeout(left if rt is None else min(rt, left))
        try:
            n = self.raw.readinto(buffer)
        except TimeoutError:
            if self.at is not None and time.monotonic() >= self.at:
                _local.expired = self.budget
                raise DeadlineExceeded(
                    f"prazo total da requisição de {self.budget:g}s esgotado"
                ) from None
            raise
        self.count += n or 0
        return n

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.raw.close()
        super().close()


class _Sock:
    """What ``http.client.HTTPResponse`` is given instead of the socket: only ``makefile``."""

    def __init__(self, sock: Any):
        self.sock = sock

    def makefile(self, mode: str) -> IO[bytes]:
        at, budget = getattr(_local, "at", None), getattr(_local, "budget", None)
        raw = _DeadlineIO(self.sock.makefile("rb", buffering=0), self.sock, at, budget)
        return io.BufferedReader(raw)


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kw: Any):
        super().__init__(_Sock(sock), *args, **kw)

    def begin(self) -> None:
        super().begin()
        raw = self.fp.raw if self.fp is not None else None
        if isinstance(raw, _DeadlineIO) and not 200 <= self.status < 300:
            raw.cap = raw.count + ERROR_BODY_CAP + io.DEFAULT_BUFFER_SIZE


class _Attempt:
    """Starts the attempt's deadline when the request is sent (also on urllib3 retries)."""

    response_class = _Response

    def request(self, *args: Any, **kw: Any) -> None:
        budget = getattr(_local, "budget", None)
        _local.at = time.monotonic() + budget if budget else None
        _local.expired = None
        if budget and self.timeout is not None:  # connecting, too, within the budget
            self.timeout = min(self.timeout, budget)
        super().request(*args, **kw)

    def connect(self) -> None:
        """A proxy's CONNECT answer is read under the connect timeout, not a deadline that
        may be left from an earlier attempt."""
        saved, _local.at = getattr(_local, "at", None), None
        try:
            super().connect()
        finally:
            _local.at = saved


class _Connection(_Attempt, HTTPConnection):
    pass


class _HTTPSConnection(_Attempt, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _Pool, "https": _HTTPSPool}


class BoundedAdapter(HTTPAdapter):
    """requests' adapter whose connections honour :func:`deadline` and cap error bodies."""

    def init_poolmanager(self, *args: Any, **kw: Any) -> None:
        super().init_poolmanager(*args, **kw)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **kw: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kw)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


# -- reading a body ----------------------------------------------------------------------------


class _Inflater:
    """Content-Encoding undone in bounded steps (gzip members may follow one another)."""

    def __init__(self, encoding: str):
        coding = encoding.strip().lower()
        if coding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise BadEncoding(f"Content-Encoding {encoding!r} (só gzip foi pedido)")
        self.identity = coding in ("", "identity")
        self.zlib = None if self.identity else zlib.decompressobj(47)  # gzip or zlib header

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.identity:
            if data:
                yield data
            return
        try:
            while True:
                if self.zlib.eof and data:  # another gzip member (or junk after the stream)
                    self.zlib = zlib.decompressobj(47)
                out = self.zlib.decompress(data, _STEP)
                data = self.zlib.unused_data if self.zlib.eof else self.zlib.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < _STEP:  # a full step may leave output pending
                    return
        except zlib.error as exc:
            raise BadEncoding(f"o corpo comprimido não descomprime: {exc}") from None

    def finish(self) -> None:
        if not self.identity and not self.zlib.eof:
            raise BadEncoding("o corpo comprimido termina antes do fim (cortado)")


def read_body(
    resp: Any,
    limit: int,
    sink: IO[bytes] | None = None,
    each: Callable[[int], None] | None = None,
) -> bytes:
    """The (decompressed) body of a streamed ``requests`` response, into ``sink`` or returned;
    :class:`BodyTooLarge` as soon as more than ``limit`` bytes came, on the wire or unpacked.
    ``each(n)`` is called with every unpacked piece's size (it may raise to stop)."""
    inflater = _Inflater(resp.headers.get("Content-Encoding", ""))
    out = bytearray()
    wire = total = 0

    def take(pieces: Iterator[bytes]) -> None:
        nonlocal total
        for piece in pieces:
            total += len(piece)
            if total > limit:
                raise BodyTooLarge(limit)
            if sink is not None:
                sink.write(piece)
            else:
                out.extend(piece)
            if each is not None:
                each(len(piece))

    while data := resp.raw.read(_STEP, decode_content=False):
        wire += len(data)
        if wire > limit:
            raise BodyTooLarge(limit)
        take(inflater.feed(data))
    inflater.finish()
    return bytes(out)


def read_error_body(resp: Any) -> tuple[bytes, bool]:
    """At most ``ERROR_BODY_CAP`` bytes of a (non-2xx) body, unpacked, and whether there was
    more; the connection is then closed, so nothing is left to drain."""
    out, wire, more = bytearray(), 0, False
    try:
        inflater = _Inflater(resp.headers.get("Content-Encoding", ""))
        while data := resp.raw.read(8192, decode_content=False):
            wire += len(data)
            for piece in inflater.feed(data):
                out += piece
                if len(out) > ERROR_BODY_CAP:
                    break
            if len(out) > ERROR_BODY_CAP or wire >= ERROR_BODY_CAP:
                more = True
                break
    except BodyCapExceeded:
        more = True
    except Exception:  # cut, too slow, undecodable: what an error page says is a courtesy
        pass
    finally:
        resp.close()
    return bytes(out[:ERROR_BODY_CAP]), more


# -- URLs without their secrets ----------------------------------------------------------------


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no userinfo, path, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<URL inválida>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "<URL inválida>"


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` and each of its secret parts (userinfo, path, query, fragment)
    replaced, so only its origin shows."""
    shown = origin(url)
    text = text.replace(url, shown)
    try:
        parts = urlsplit(url)
        secrets = [parts.username, parts.password, parts.path, parts.query, parts.fragment]
        netloc = parts.netloc
    except ValueError:
        return text
    secrets.append(netloc.rpartition("@")[0] if "@" in netloc else None)
    for secret in sorted((s for s in secrets if s and len(s) > 1), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
