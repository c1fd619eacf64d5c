"""An in-process HTTP simulator of the ComprasNet Contratos API (stdlib only).

Serves the real service's paths and record shapes from deterministic seeded data, with knobs for
latency, fault injection, data mutations between runs and request counting.  See
``shared/comprasnet-api.md`` for the shapes it reproduces.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import gzip
import json
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from . import data
from .data import ALL_TABS, EXTRA_TABS, GENERATED_TABS, TABS

FAULT_KINDS = ("429", "500", "502", "503", "timeout", "reset", "truncated", "html200", "malformed")
COUNT_KINDS = ("listing", "contrato", *TABS, *EXTRA_TABS, "other")

_RE_LISTING = re.compile(r"^/api/contrato/(inativo/)?ug/([^/]+)/?$")
_RE_ID = re.compile(r"^/api/contrato/id/([^/]+)/?$")
_RE_TAB = re.compile(r"^/api/contrato/([^/]+)/([a-z_]+)/?$")
_RE_EMPENHO_DOC = re.compile(r"^/api/empenho/\d+/documento_pagamento/?$")

_HTML_ERROR = (
    '<!DOCTYPE html>\n<html lang="pt-BR">\n<head><meta charset="utf-8">'
    "<title>Erro</title></head>\n<body>\n<h1>Erro</h1>\n"
    "<p>Ocorreu um erro inesperado ao processar sua solicitação. "
    "Tente novamente mais tarde.</p>\n</body>\n</html>\n"
)
_HTML_GATEWAY = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def classify(path: str) -> str:
    """Request path -> one of :data:`COUNT_KINDS`."""
    if _RE_LISTING.match(path):
        return "listing"
    if _RE_ID.match(path):
        return "contrato"
    m = _RE_TAB.match(path)
    if m and m.group(1).isdigit() and m.group(2) in GENERATED_TABS:
        return m.group(2)
    return "other"


def _utf8(text: str) -> bytes:
    """UTF-8, with a lone surrogate (which UTF-8 cannot encode) written as its JSON escape
    ``\\udXXX``, as PHP's ``json_encode`` sends it (it is always inside a JSON string)."""
    return text.encode("utf-8", "backslashreplace")


def _dumps(obj: Any) -> bytes:
    return _utf8(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


@dataclass
class _Fault:
    kind: str
    pattern: re.Pattern[str]
    remaining: int  # -1 = forever
    opts: dict[str, Any] = field(default_factory=dict)


@dataclass
class _UG:
    code: str
    n: int  # generated contracts with indexes 0..n-1
    next_index: int
    added: list[int] = field(default_factory=list)  # ids added with add_contrato, in order


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], sim: ComprasNetSimulator) -> None:
        self.sim = sim
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, _Handler)

    def server_bind(self) -> None:  # skip HTTPServer's slow getfqdn() lookup
        import socketserver

        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # client went away (e.g. after a read timeout): not our problem
        super().handle_error(request, client_address)


class ComprasNetSimulator:
    """Deterministic ComprasNet Contratos API served over HTTP on a background thread.

    ``contracts`` is ``{uasg: n}`` or an int ``n`` meaning ``n`` contracts for each of ``uasgs``.
    Contract ids are ``int(uasg) * 100000 + index + 1``; a fraction ``inactive_ratio`` of them has
    ``situacao`` "Inativo" and is served by ``/api/contrato/inativo/ug/{ug}``.
    """

    def __init__(
        self,
        seed: Any = 0,
        contracts: int | Mapping[str, int] = 10,
        uasgs: Iterable[str] = ("787010",),
        inactive_ratio: float = 0.2,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        wrap_single: bool = False,
        gzip_level: int = 6,
    ) -> None:
        self.seed = seed
        self.inactive_ratio = float(inactive_ratio)
        self.latency = float(latency)
        self.host = host
        self.port = int(port)
        self.wrap_single = bool(wrap_single)
        self.gzip_level = int(gzip_level)

        if isinstance(contracts, Mapping):
            plan = {data.normalize_uasg(u): int(n) for u, n in contracts.items()}
        else:
            plan = {data.normalize_uasg(u): int(contracts) for u in uasgs}
        self._ugs: dict[str, _UG] = {}
        for uasg, n in plan.items():
            self._check_uasg(uasg)
            if not 0 <= n < data.ID_BLOCK:
                raise ValueError(f"contracts per UG must be in 0..{data.ID_BLOCK - 1}: {n}")
            self._ugs[uasg] = _UG(uasg, n, n)

        self._lock = threading.RLock()  # data, caches and faults
        self._records: dict[int, dict[str, Any]] = {}  # changed or added contracts (no links)
        self._originals: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # added ones
        self._removed: set[int] = set()
        self._tabs: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._listing_cache: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []

        self._count_lock = threading.Lock()
        self._requests: collections.Counter[str] = collections.Counter()
        self._by_kind: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections_opened = 0
        self._stamps: collections.deque[tuple[float, str]] = collections.deque(maxlen=200_000)

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ComprasNetSimulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"comprasnet-simulator-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wake handlers sleeping on latency/timeout faults
        server.shutdown()
        server.server_close()
        with self._conn_lock:  # close idle keep-alive connections too
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ComprasNetSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._server is not None:
            host, port = self._server.server_address[:2]
        else:
            host, port = self.host, self.port
        host = str(host)
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ data access
    @property
    def uasgs(self) -> list[str]:
        with self._lock:
            return list(self._ugs)

    def listing(self, uasg: str, inativo: bool = False) -> list[dict[str, Any]]:
        """Exactly what ``/api/contrato[/inativo]/ug/{uasg}`` serves (without faults)."""
        return json.loads(self._listing_body(data.normalize_uasg(uasg), inativo, False))

    def contrato(self, cid: int) -> dict[str, Any]:
        """The contract record as ``/api/contrato/id/{id}`` serves it (never wrapped)."""
        with self._lock:
            found = self._get(int(cid))
            if found is None:
                raise KeyError(f"contrato {cid} não existe")
            return self._with_links(found[0])

    def tab(self, contrato_id: int, tab: str) -> list[dict[str, Any]]:
        """What ``/api/contrato/{id}/{tab}`` serves (``[]`` for unknown contracts)."""
        self._check_tab(tab)
        with self._lock:
            return copy.deepcopy(self._tab(int(contrato_id), tab))

    def contrato_ids(self, uasg: str) -> list[int]:
        """Ids of the UG's current contracts, active and inactive, ascending."""
        uasg = data.normalize_uasg(uasg)
        with self._lock:
            ug = self._ugs.get(uasg)
            if ug is None:
                return []
            ids = [data.contract_id(uasg, i) for i in range(ug.n)] + ug.added
            return [cid for cid in ids if cid not in self._removed]

    # ------------------------------------------------------------------ mutations
    def add_contrato(self, uasg: str, **overrides: Any) -> dict[str, Any]:
        """A new generated contract (with tabs) at the end of the UG; returns it (with links)."""
        uasg = data.normalize_uasg(uasg)
        self._check_uasg(uasg)
        with self._lock:
            ug = self._ugs.get(uasg)
            if ug is None:
                ug = self._ugs[uasg] = _UG(uasg, 0, 0)
            if ug.next_index >= data.ID_BLOCK - 1:
                raise ValueError(f"UG {uasg} is full")
            index = ug.next_index
            ug.next_index += 1
            record, meta = data.generate_contract(self.seed, uasg, index, self.inactive_ratio)
            cid = record["id"]
            self._originals[cid] = (copy.deepcopy(record), meta)
            record.update(copy.deepcopy(overrides))
            record["id"] = cid if "id" not in overrides else record["id"]
            self._records[cid] = record
            ug.added.append(cid)
            self._invalidate(uasg)
            return self._with_links(record)

    def change_contrato(self, cid: int, **fields: Any) -> dict[str, Any]:
        """Set fields on a contract record (changes its content); returns the new record."""
        cid = int(cid)
        with self._lock:
            found = self._get(cid)
            if found is None:
                raise KeyError(f"contrato {cid} não existe")
            record = copy.deepcopy(found[0])
            record.update(copy.deepcopy(fields))
            self._records[cid] = record
            self._invalidate(data.decode_id(cid)[0])
            return self._with_links(record)

    def remove_contrato(self, cid: int) -> None:
        """The contract disappears from its listing, ``/id`` (404) and its tabs (``[]``)."""
        cid = int(cid)
        with self._lock:
            if self._get(cid) is None:
                raise KeyError(f"contrato {cid} não existe")
            self._removed.add(cid)
            self._records.pop(cid, None)
            for tab in ALL_TABS:
                self._tabs.pop((cid, tab), None)
            self._invalidate(data.decode_id(cid)[0])

    def restore_contrato(self, cid: int) -> dict[str, Any]:
        """A removed contract is listed again, as it was generated (its tabs too)."""
        cid = int(cid)
        with self._lock:
            if cid not in self._removed:
                raise KeyError(f"contrato {cid} não foi removido")
            self._removed.discard(cid)
            if cid in self._originals:  # added with add_contrato
                self._records[cid] = copy.deepcopy(self._originals[cid][0])
            found = self._get(cid)
            assert found is not None  # it was listed before its removal
            self._invalidate(data.decode_id(cid)[0])
            return self._with_links(found[0])

    def set_tab(self, contrato_id: int, tab: str, records: list[dict[str, Any]]) -> None:
        self._check_tab(tab)
        cid = int(contrato_id)
        with self._lock:
            if self._get(cid) is None:
                raise KeyError(f"contrato {cid} não existe")
            self._tabs[(cid, tab)] = copy.deepcopy(list(records))

    def change_tab_record(self, contrato_id: int, tab: str, index: int, **fields: Any) -> None:
        self._check_tab(tab)
        cid = int(contrato_id)
        with self._lock:
            if self._get(cid) is None:
                raise KeyError(f"contrato {cid} não existe")
            records = copy.deepcopy(self._tab(cid, tab))
            records[index].update(copy.deepcopy(fields))
            self._tabs[(cid, tab)] = records

    # ------------------------------------------------------------------ faults
    def inject_fault(self, kind: str, path: str = r".*", times: int = 1, **opts: Any) -> None:
        """Queue a fault for requests whose path (no query string) matches ``path`` (re.search).

        Each matching request consumes one; ``times=-1`` means until :meth:`clear_faults`.
        Options: ``retry_after`` (429, default 1), ``delay`` (timeout, default 30),
        ``field``/``count``/``value`` (malformed; defaults "valor_global", 1, "abc,de").
        """
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        times = int(times)
        if times == 0:
            return
        with self._lock:
            self._faults.append(_Fault(kind, re.compile(path), times, dict(opts)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults_pending(self) -> int:
        """Queued faults (a forever fault counts as one)."""
        with self._lock:
            return len(self._faults)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path):
                    if fault.remaining > 0:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # ------------------------------------------------------------------ counting
    @property
    def requests(self) -> collections.Counter[str]:
        """Copy of the per-path request counter (API paths only, faulted requests included)."""
        with self._count_lock:
            return collections.Counter(self._requests)

    def count(self, kind: str) -> int:
        if kind not in COUNT_KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {COUNT_KINDS}")
        with self._count_lock:
            return self._by_kind[kind]

    def reset_counts(self) -> None:
        with self._count_lock:
            self._requests.clear()
            self._by_kind.clear()
            self._max_in_flight = self._in_flight
            self._connections_opened = 0
            self._stamps.clear()

    @property
    def max_in_flight(self) -> int:
        with self._count_lock:
            return self._max_in_flight

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since :meth:`reset_counts` (keep-alive reuse shows as few)."""
        with self._count_lock:
            return self._connections_opened

    def counts(self) -> dict[str, Any]:
        """The JSON served by ``GET /_sim/counts``."""
        with self._count_lock:
            return {
                "requests": dict(self._requests),
                "by_kind": {k: self._by_kind[k] for k in COUNT_KINDS},
                "max_in_flight": self._max_in_flight,
                "in_flight": self._in_flight,
                "connections_opened": self._connections_opened,
            }

    def request_times(self) -> list[tuple[float, str]]:
        """``(time.time(), path)`` of each API request since :meth:`reset_counts`, in arrival
        order (the last 200,000): the rate the server saw."""
        with self._count_lock:
            return list(self._stamps)

    def _begin(self, path: str) -> None:
        with self._count_lock:
            self._stamps.append((time.time(), path))
            self._requests[path] += 1
            self._by_kind[classify(path)] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _end(self) -> None:
        with self._count_lock:
            self._in_flight -= 1

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _check_uasg(uasg: str) -> None:
        if not (uasg.isdigit() and len(uasg) == 6):
            raise ValueError(f"UG code must be 6 digits: {uasg!r}")

    @staticmethod
    def _check_tab(tab: str) -> None:
        if tab not in ALL_TABS:
            raise ValueError(f"unknown tab {tab!r}; expected one of {ALL_TABS}")

    def _get(self, cid: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(current record without links, generation meta) or None. Caller holds the lock."""
        if cid in self._removed or cid <= 0:
            return None
        uasg, index = data.decode_id(cid)
        ug = self._ugs.get(uasg)
        if ug is None or index < 0:
            return None
        if cid in self._originals:
            return self._records[cid], self._originals[cid][1]
        if index >= ug.n:
            return None
        record, meta = data.generate_contract(self.seed, uasg, index, self.inactive_ratio)
        return self._records.get(cid, record), meta

    def _original(self, cid: int) -> tuple[dict[str, Any], dict[str, Any]]:
        if cid in self._originals:
            return self._originals[cid]
        uasg, index = data.decode_id(cid)
        return data.generate_contract(self.seed, uasg, index, self.inactive_ratio)

    def _tab(self, cid: int, tab: str) -> list[dict[str, Any]]:
        """Caller holds the lock; may return internal state (copy before handing out)."""
        if (cid, tab) in self._tabs:
            return self._tabs[(cid, tab)]
        if self._get(cid) is None or tab not in GENERATED_TABS:
            return []
        record, meta = self._original(cid)
        return data.generate_tab(tab, record, meta, self.base_url)

    def _with_links(self, record: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(record)
        if "links" not in out and isinstance(out.get("id"), int):
            out["links"] = data.links(self.base_url, out["id"])
        return out

    def _invalidate(self, uasg: str) -> None:
        self._listing_cache.pop(uasg, None)

    def _listing_body(self, uasg: str, inativo: bool, gz: bool) -> bytes:
        base = self.base_url
        with self._lock:
            ug = self._ugs.get(uasg)
            if ug is None:
                return gzip.compress(b"[]", mtime=0) if gz else b"[]"
            entry = self._listing_cache.get(uasg)
            if entry is None or entry["base"] != base:
                entry = self._listing_cache[uasg] = self._build_listing(ug, base)
            key = (inativo, gz)
            if key not in entry:
                entry[key] = gzip.compress(
                    entry[(inativo, False)], compresslevel=self.gzip_level, mtime=0
                )
            return entry[key]

    def _build_listing(self, ug: _UG, base: str) -> dict[Any, Any]:
        parts: dict[bool, list[str]] = {False: [], True: []}
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        records = self._records
        removed = self._removed
        for index in range(ug.n):
            cid = data.contract_id(ug.code, index)
            if cid in removed:
                continue
            record = records.get(cid)
            if record is None:
                record = data.generate_contract(self.seed, ug.code, index, self.inactive_ratio)[0]
            self._append(parts, record, base, dumps)
        for cid in ug.added:
            if cid not in removed:
                self._append(parts, records[cid], base, dumps)
        return {
            "base": base,
            (False, False): _utf8("[" + ",".join(parts[False]) + "]"),
            (True, False): _utf8("[" + ",".join(parts[True]) + "]"),
        }

    @staticmethod
    def _append(parts: dict[bool, list[str]], record: dict, base: str, dumps: Any) -> None:
        if "links" not in record and isinstance(record.get("id"), int):
            record = {**record, "links": data.links(base, record["id"])}
        parts[record.get("situacao") == "Inativo"].append(dumps(record))

    # ------------------------------------------------------------------ request handling
    def _respond_api(self, path: str) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON-able payload or raw bytes for listings, extra headers)."""
        m = _RE_LISTING.match(path)
        if m:
            return 200, ("listing", data.normalize_uasg(m.group(2)), bool(m.group(1))), {}
        m = _RE_ID.match(path)
        if m:
            raw = m.group(1)
            with self._lock:
                found = self._get(int(raw)) if raw.isdigit() else None
                if found is None:
                    return 404, {"message": f"Contrato {raw} não encontrado."}, {}
                record = self._with_links(found[0])
            return 200, ([record] if self.wrap_single else record), {}
        m = _RE_TAB.match(path)
        if m and m.group(1).isdigit() and m.group(2) in ALL_TABS:
            with self._lock:
                records = copy.deepcopy(self._tab(int(m.group(1)), m.group(2)))
            return 200, records, {}
        if _RE_EMPENHO_DOC.match(path):
            return 200, [], {}
        return 404, {"message": "Not Found"}, {}


_GATEWAY_REASON = {"502": "Bad Gateway", "503": "Service Temporarily Unavailable"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this
    server: _Server

    # -------------------------------------------------------------- plumbing
    def setup(self) -> None:
        super().setup()
        sim = self.server.sim
        with sim._conn_lock:
            sim._connections.add(self.connection)
        with sim._count_lock:
            sim._connections_opened += 1

    def finish(self) -> None:
        with self.server.sim._conn_lock:
            self.server.sim._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def version_string(self) -> str:
        return "nginx"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        already_gzipped: bool = False,
    ) -> None:
        gz = already_gzipped or (self._wants_gzip() and status != 204)
        if gz and not already_gzipped:
            body = gzip.compress(body, compresslevel=self.server.sim.gzip_level, mtime=0)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("Vary", "Accept-Encoding")
            if gz:
                self.send_header("Content-Encoding", "gzip")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def _wants_gzip(self) -> bool:
        return "gzip" in (self.headers.get("Accept-Encoding") or "").lower()

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw.decode("utf-8")) if raw.strip() else {}

    # -------------------------------------------------------------- verbs
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path, _, _query = self.path.partition("?")
        if path.startswith("/_sim/"):
            self._control("GET", path, _query)
        else:
            self._api(path)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        if path.startswith("/_sim/"):
            self._control("POST", path, query)
        else:
            self._read_json_safely()
            self._send(405, _dumps({"message": "Method Not Allowed"}))

    def _read_json_safely(self) -> None:
        with contextlib.suppress(ValueError):
            self._read_json()

    # -------------------------------------------------------------- API
    def _api(self, path: str) -> None:
        sim = self.server.sim
        sim._begin(path)
        try:
            latency = sim.latency
            if latency > 0 and sim._stopping.wait(latency):
                self.close_connection = True
                return
            fault = sim._take_fault(path)
            if fault is not None and self._pre_fault(fault):
                return
            status, payload, headers = sim._respond_api(path)
            gz = self._wants_gzip()
            kind = fault.kind if fault is not None else None
            if isinstance(payload, tuple):  # a listing: cached bytes
                _, uasg, inativo = payload
                if kind not in ("malformed", "truncated"):
                    body = sim._listing_body(uasg, inativo, gz)
                    self._send(status, body, headers=headers, already_gzipped=gz)
                    return
                body = sim._listing_body(uasg, inativo, False)
                if kind == "malformed":
                    body = _dumps(_corrupt(json.loads(body), fault.opts))
            else:
                if kind == "malformed":
                    payload = _corrupt(payload, fault.opts)
                body = _dumps(payload)
            if kind == "truncated":
                body = body[: max(1, len(body) // 2)]
            self._send(status, body, headers=headers)
        finally:
            sim._end()

    def _pre_fault(self, fault: _Fault) -> bool:
        """Apply a fault that replaces the response; True when the request is done."""
        kind, opts = fault.kind, fault.opts
        if kind == "429":
            retry_after = opts.get("retry_after", 1)
            if isinstance(retry_after, float) and retry_after.is_integer():
                retry_after = int(retry_after)
            self._send(
                429,
                _dumps({"message": "Too Many Attempts."}),
                headers={"Retry-After": str(retry_after)},
            )
            return True
        if kind == "500":
            self._send(500, _dumps({"message": "Server Error"}))
            return True
        if kind in ("502", "503"):
            page = _HTML_GATEWAY.format(code=kind, reason=_GATEWAY_REASON[kind])
            headers = {}
            if "retry_after" in opts:
                headers["Retry-After"] = str(opts["retry_after"])
            self._send(int(kind), page.encode(), "text/html; charset=utf-8", headers)
            return True
        if kind == "html200":
            self._send(200, _HTML_ERROR.encode("utf-8"), "text/html; charset=utf-8")
            return True
        if kind == "reset":
            self._reset()
            return True
        if kind == "timeout":
            if self.server.sim._stopping.wait(float(opts.get("delay", 30))):
                self.close_connection = True
                return True
            return False  # then answer normally (if the client is still there)
        return False  # truncated / malformed alter the normal answer

    def _reset(self) -> None:
        """Drop the connection with a TCP RST and no response."""
        self.close_connection = True
        conn = self.connection
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            conn.close()

    # -------------------------------------------------------------- control
    def _control(self, verb: str, path: str, query: str) -> None:
        sim = self.server.sim
        name = path[len("/_sim/") :].strip("/")
        try:
            body = self._read_json() if verb == "POST" else {}
            result: Any = {"ok": True}
            if verb == "GET" and name == "counts":
                result = sim.counts()
            elif verb == "GET" and name == "request_times":
                result = sim.request_times()
            elif verb == "GET" and name == "health":
                result = {"ok": True, "base_url": sim.base_url}
            elif verb == "GET" and name == "contrato_ids":
                uasg = parse_qs(query).get("uasg", [""])[0]
                result = sim.contrato_ids(uasg)
            elif verb != "POST":
                self._send(405, _dumps({"message": "use POST"}))
                return
            elif name == "reset_counts":
                sim.reset_counts()
            elif name == "faults":
                opts = dict(body)
                kind = opts.pop("kind")
                sim.inject_fault(kind, opts.pop("path", r".*"), opts.pop("times", 1), **opts)
            elif name == "clear_faults":
                sim.clear_faults()
            elif name == "latency":
                sim.latency = float(body.get("seconds", 0.0))
            elif name == "change_contrato":
                result = sim.change_contrato(int(body["id"]), **body.get("fields", {}))
            elif name == "remove_contrato":
                sim.remove_contrato(int(body["id"]))
            elif name == "restore_contrato":
                result = sim.restore_contrato(int(body["id"]))
            elif name == "add_contrato":
                result = sim.add_contrato(body["uasg"], **body.get("fields", {}))
            elif name == "set_tab":
                sim.set_tab(int(body["id"]), body["tab"], body["records"])
            elif name == "change_tab_record":
                sim.change_tab_record(
                    int(body["id"]), body["tab"], int(body["index"]), **body.get("fields", {})
                )
            else:
                self._send(404, _dumps({"message": f"unknown control path {path}"}))
                return
        except KeyError as exc:
            self._send(404, _dumps({"message": f"not found: {exc}"}))
            return
        except (ValueError, TypeError, re.error) as exc:
            self._send(400, _dumps({"message": str(exc)}))
            return
        self._send(200, _dumps(result))


def _corrupt(payload: Any, opts: Mapping[str, Any]) -> Any:
    """Corrupt ``count`` records: set ``field`` to ``value`` (or drop the key for ``id``)."""
    name = opts.get("field", "valor_global")
    count = int(opts.get("count", 1))
    value = opts.get("value", "abc,de")
    records = payload if isinstance(payload, list) else [payload]
    for record in records[:count]:
        if not isinstance(record, dict):
            continue
        if name == "id" and "value" not in opts:
            record.pop("id", None)
        else:
            record[name] = value
    return payload
