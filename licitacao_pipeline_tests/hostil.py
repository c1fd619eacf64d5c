"""A hostile HTTP server of the tests' own (raw sockets, one thread per connection) and a way to
measure the peak memory of a request in a child process under an address-space limit.

Each route (the request path, query included) answers with one behaviour: a body (optionally
gzipped), a gzip bomb (built as it is sent: a 1 GiB bomb is ~1 MB on the wire and never held in
memory), a body or headers trickled a byte at a time, a huge body of any status, a redirect.
The server records every request (method, path, headers, body).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

MiB = 1024 * 1024
_BLOCK = MiB  # uncompressed size of one repeated deflate block of a bomb


@dataclass
class Pedido:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@functools.cache
def _deflate_block(fill: bytes) -> bytes:
    """1 MiB of ``fill`` as a self-contained deflate block (a full flush resets the window, so
    the block can be repeated any number of times)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(fill * (_BLOCK // len(fill))) + comp.flush(zlib.Z_FULL_FLUSH)


def _deflate_bytes(data: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush(zlib.Z_FULL_FLUSH)


def gzip_bomb(prefix: bytes, size: int, suffix: bytes = b"", fill: bytes = b" ") -> Iterator[bytes]:
    """A gzip stream of ``prefix`` + ``size`` bytes of ``fill`` + ``suffix``, generated lazily."""
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # header: deflate, no name, mtime 0
    yield _deflate_bytes(prefix)
    block, crc = _deflate_block(fill), zlib.crc32(prefix)
    chunk = fill * (_BLOCK // len(fill))
    for _ in range(size // _BLOCK):
        yield block
        crc = zlib.crc32(chunk, crc)
    final = zlib.compressobj(9, zlib.DEFLATED, -15)
    yield final.compress(suffix) + final.flush()
    total = len(prefix) + (size // _BLOCK) * _BLOCK + len(suffix)
    yield struct.pack("<II", zlib.crc32(suffix, crc) & 0xFFFFFFFF, total & 0xFFFFFFFF)


Resposta = Callable[[socket.socket, Pedido, threading.Event], None]


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def corpo(body: bytes, status: int = 200, gz: bool = False, **headers: str) -> Resposta:
    """A whole body at once (gzipped when ``gz``)."""
    data = gzip.compress(body, mtime=0) if gz else body
    extra = {"Content-Encoding": "gzip"} if gz else {}
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(data))}

    def answer(conn, pedido, stop):
        conn.sendall(_head(status, {**hdrs, **extra, **headers}) + data)

    return answer


def json_corpo(value, status: int = 200, **kw) -> Resposta:
    return corpo(json.dumps(value).encode(), status, **kw)


def bomba(prefix: bytes, size: int, suffix: bytes = b"", status: int = 200) -> Resposta:
    """A gzip bomb (chunked transfer): ``size`` bytes of spaces between ``prefix`` and
    ``suffix`` once unpacked, about ``size / 1000`` on the wire."""

    def answer(conn, pedido, stop):
        head = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        conn.sendall(_head(status, {**head, "Transfer-Encoding": "chunked"}))
        for piece in gzip_bomb(prefix, size, suffix):
            if stop.is_set():
                return
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    return answer


def enorme(status: int, size: int, fill: bytes = b" ") -> Resposta:
    """A ``size``-byte body (identity, Content-Length) of any status, written as it is sent."""

    def answer(conn, pedido, stop):
        conn.sendall(_head(status, {"Content-Type": "application/json", "Content-Length": size}))
        piece = fill * (64 * 1024 // len(fill))
        sent = 0
        while sent < size and not stop.is_set():
            part = piece[: size - sent]
            conn.sendall(part)
            sent += len(part)

    return answer


def gotejando(body: bytes, intervalo: float, status: int = 200, headers_too: bool = False):
    """``body`` one byte every ``intervalo`` seconds (each read succeeds, so no read timeout
    fires); with ``headers_too`` the status line and headers are trickled as well."""

    def answer(conn, pedido, stop):
        head = _head(status, {"Content-Type": "application/json", "Content-Length": len(body)})
        data = head + body if headers_too else body
        if not headers_too:
            conn.sendall(head)
        for i in range(len(data)):
            if stop.wait(intervalo):
                return
            conn.sendall(data[i : i + 1])

    return answer


def redireciona(location: str, status: int = 302) -> Resposta:
    return corpo(b"", status, Location=location)


@dataclass
class ServidorHostil:
    """``with ServidorHostil({"/path": corpo(b"[]")}) as s: s.url("/path")``; unknown paths
    answer 404 ``{"message": ""}``. ``pedidos`` lists what arrived; ``fechadas`` counts the
    connections the client closed (seen as EOF or a reset while sending)."""

    rotas: dict[str, Resposta] = field(default_factory=dict)
    pedidos: list[Pedido] = field(default_factory=list)
    fechadas: int = 0

    def __post_init__(self):
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.origin = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def url(self, path: str = "") -> str:
        return self.origin + path

    def __enter__(self) -> ServidorHostil:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                line = reader.readline(65536)
                if not line:
                    break
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while (h := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = reader.read(int(headers.get("content-length") or 0))
                pedido = Pedido(method, path, headers, body)
                with self._lock:
                    self.pedidos.append(pedido)
                answer = self.rotas.get(path) or json_corpo({"message": ""}, 404)
                answer(conn, pedido, self._stop)
            self._closed()
        except (OSError, ValueError):
            self._closed()

    def _closed(self) -> None:
        with self._lock:
            self.fechadas += 1

    def caminhos(self) -> list[str]:
        with self._lock:
            return [p.path for p in self.pedidos]


def medir(code: str, limite_mb: int = 768, timeout: float = 120.0) -> dict:
    """Run ``code`` (a function body that returns a JSON-able dict) in a child Python under
    ``RLIMIT_AS`` = ``limite_mb``; returns its result plus ``pico_rss_mb`` (the child's peak
    RSS) and ``segundos``. An exception in the child is returned as ``erro`` (type) and
    ``mensagem``: a ``MemoryError`` means the code needed more than the limit. The peak is the
    child's own (``VmHWM``), whatever the size of the process that starts it."""
    script = (
        "import json, resource, sys, time\n"
        # VmHWM, not ru_maxrss: after fork + exec, ru_maxrss starts at the parent's peak
        "def _hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "def _main():\n" + textwrap.indent(textwrap.dedent(code), "    ") + "\n"
        "_t = time.monotonic()\n"
        "try:\n    _out = _main() or {}\n"
        "except BaseException as _e:\n"
        "    _out = {'erro': type(_e).__name__, 'mensagem': str(_e)[:2000]}\n"
        "_out['segundos'] = round(time.monotonic() - _t, 3)\n"
        "_out['pico_rss_mb'] = _hwm()\n"
        "print('@@' + json.dumps(_out, default=str))\n"
    )

    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limite_mb * MiB, limite_mb * MiB))

    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
    assert lines, f"child failed (rc {proc.returncode}): {proc.stderr[-3000:]}"
    out = json.loads(lines[-1][2:])
    out["segundos_total"] = round(time.monotonic() - started, 3)
    return out
