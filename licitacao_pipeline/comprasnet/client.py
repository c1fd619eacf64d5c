"""ComprasNet Contratos API client: pooled, gzip, retried, counted, optionally throttled.

Every wait (urllib3 retry backoff, ``Retry-After``, bad-body retries, the rate limiter) is
interruptible: after :meth:`ComprasNetClient.stop` no new request is sent and waiting threads
raise :class:`ComprasNetCancelled` at once.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from licitacao_pipeline.comprasnet.errors import (
    ComprasNetBadResponse,
    ComprasNetCancelled,
    ComprasNetError,
    ComprasNetHTTPError,
    ComprasNetNotFound,
    ComprasNetUnavailable,
)

log = logging.getLogger(__name__)

REAL_BASE_URL = "https://contratos.comprasnet.gov.br"
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is capped (and still interruptible)


@dataclass
class RequestStats:
    """Counters for one client (one run step): requests sent (retries included), bytes, retries."""

    requests: int = 0
    bytes: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, requests: int = 0, bytes: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.bytes += bytes
            self.retries += retries

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "bytes": self.bytes, "retries": self.retries}


class _CountingRetry(Retry):
    """urllib3 Retry that reports each retry to a RequestStats and sleeps interruptibly."""

    stats: RequestStats | None = None
    stop_event: threading.Event | None = None

    def new(self, **kw: Any) -> _CountingRetry:
        retry = super().new(**kw)
        retry.stats, retry.stop_event = self.stats, self.stop_event
        return retry

    def sleep(self, response: Any = None) -> None:
        delay = None
        if self.respect_retry_after_header and response is not None:
            delay = self.get_retry_after(response)
        delay = min(MAX_RETRY_AFTER, delay) if delay is not None else self.get_backoff_time()
        _wait(self.stop_event, delay)

    def increment(self, *args: Any, **kw: Any) -> Retry:
        retry = super().increment(*args, **kw)  # raises when retries are exhausted
        if self.stats is not None:
            self.stats.add(requests=1, retries=1)
        return retry


def _wait(stop_event: threading.Event | None, seconds: float) -> None:
    """Sleep ``seconds`` unless the client is stopped first (then raise)."""
    if stop_event is None:
        time.sleep(max(0.0, seconds))
    elif stop_event.wait(max(0.0, seconds)) or stop_event.is_set():
        raise ComprasNetCancelled("the client was stopped")


class _RateLimiter:
    """Spaces request starts at least 1/rps apart across threads (None: no cap)."""

    def __init__(self, rps: float | None, stop_event: threading.Event):
        self.interval = 1.0 / rps if rps else 0.0
        self.stop_event = stop_event
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            _wait(self.stop_event, start - now)


class Listing:
    """A downloaded, validated listing body spooled to disk; iterate it to stream records."""

    def __init__(self, body: IO[bytes], count: int, url: str):
        self._body, self.count, self.url = body, count, url

    def __iter__(self) -> Iterator[Any]:
        self._body.seek(0)
        return ijson.items(self._body, "item", use_float=True)

    def close(self) -> None:
        self._body.close()


def _snippet(data: bytes) -> str:
    return data[:200].decode("utf-8", "replace").strip()


class ComprasNetClient:
    """One pooled ``requests.Session`` shared by all threads of a run step."""

    def __init__(
        self,
        base_url: str = REAL_BASE_URL,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        listing_read_timeout: float = 180.0,
        max_retries: int = 5,
        backoff_factor: float = 1.0,
        backoff_max: float = 60.0,
        body_retries: int = 3,
        pool_size: int = 16,
        max_rps: float | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.listing_timeout = (connect_timeout, listing_read_timeout)
        self.body_retries = body_retries
        self.backoff_factor, self.backoff_max = backoff_factor, backoff_max
        self.stats = RequestStats()
        self.stop_event = threading.Event()
        self._limiter = _RateLimiter(max_rps, self.stop_event)
        retry = _CountingRetry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=max_retries,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            backoff_jitter=backoff_factor,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.stats, retry.stop_event = self.stats, self.stop_event
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=retry)
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Accept": "application/json",
                "Accept-Encoding": "gzip",
                "User-Agent": "licitacao_pipeline/0.1 (+dagster)",
            }
        )

    # -- public API -----------------------------------------------------------------------
    def contratos(self, uasg: str, *, inativo: bool = False) -> Listing:
        """Download one UG listing (active or inactive) into a validated spooled file."""
        path = f"/api/contrato/inativo/ug/{uasg}" if inativo else f"/api/contrato/ug/{uasg}"
        return self._with_body_retries(path, self._download_listing)

    def listagens(self, uasg: str) -> tuple[Listing, Listing]:
        """The active and inactive listings, downloaded side by side (a big UG's listing takes
        20-40 s). An error or an interrupt in either stops the client (see ``stop``)."""
        box: dict[str, Any] = {}

        def inactive() -> None:
            try:
                box["listing"] = self.contratos(uasg, inativo=True)
            except BaseException as exc:  # handed to the caller below
                box["error"] = exc

        thread = threading.Thread(target=inactive, name="comprasnet-inativos", daemon=True)
        thread.start()
        try:
            active = self.contratos(uasg)
            thread.join()
        except BaseException:
            self.stop()  # the other download gives up at its next chunk
            raise
        if "error" in box:
            active.close()
            self.stop()
            raise box["error"]
        return active, box["listing"]

    def contrato(self, contrato_id: int) -> dict[str, Any]:
        """The single contract; some servers wrap it in a one-element list."""
        path = f"/api/contrato/id/{contrato_id}"
        data = self.get_json(path)
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise ComprasNetBadResponse(
                "expected one contract object", url=self.base_url + path, snippet=str(data)[:200]
            )
        return data

    def aba(self, contrato_id: int, aba: str) -> list[Any]:
        """One tab of a contract (``historico``, ``empenhos``, ...); an empty tab is ``[]``."""
        path = f"/api/contrato/{contrato_id}/{aba}"
        data = self.get_json(path)
        if not isinstance(data, list):
            raise ComprasNetBadResponse(
                "expected a JSON array", url=self.base_url + path, snippet=str(data)[:200]
            )
        return data

    def get_json(self, path: str) -> Any:
        return self._with_body_retries(path, self._get_json)

    def stop(self) -> None:
        """Send no more requests; threads waiting to retry raise ComprasNetCancelled. For good:
        a step that starts again gets a new client (``ComprasNetResource.client``)."""
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def close(self) -> None:
        self.session.close()

    # -- internals ------------------------------------------------------------------------
    def _with_body_retries(self, path: str, fn):
        """Retry bodies that arrive broken (truncated JSON, HTML page with 200, cut stream)."""
        attempt = 0
        while True:
            try:
                return fn(path)
            except ComprasNetBadResponse as exc:
                if attempt >= self.body_retries:
                    raise
                attempt += 1
                delay = min(self.backoff_max, self.backoff_factor * 2 ** (attempt - 1))
                delay += random.uniform(0, self.backoff_factor)
                log.warning("retrying %s in %.1fs after bad body: %s", path, delay, exc)
                self.stats.add(retries=1)
                _wait(self.stop_event, delay)

    def _send(self, path: str, timeout: tuple[float, float]) -> requests.Response:
        url = self.base_url + path
        if self.stopped:
            raise ComprasNetCancelled(f"not sent, the client was stopped: {url}")
        self._limiter.wait()
        self.stats.add(requests=1)
        try:
            resp = self.session.get(url, timeout=timeout, stream=True)
        except requests.RequestException as exc:
            raise ComprasNetUnavailable(
                f"request failed after retries: {type(exc).__name__}: {exc}", url=url
            ) from exc
        if resp.status_code >= 400:
            body = resp.content
            self.stats.add(bytes=len(body))
            cls = ComprasNetNotFound if resp.status_code == 404 else ComprasNetHTTPError
            raise cls("HTTP error", url=url, status=resp.status_code, snippet=_snippet(body))
        return resp

    def _check_json_start(self, resp: requests.Response, first: bytes) -> None:
        stripped = first.lstrip()
        if stripped[:1] not in (b"[", b"{"):
            raise ComprasNetBadResponse(
                f"body is not JSON (Content-Type {resp.headers.get('Content-Type')!r})",
                url=resp.url,
                status=resp.status_code,
                snippet=_snippet(stripped),
            )

    def _get_json(self, path: str) -> Any:
        resp = self._send(path, self.timeout)
        try:
            body = resp.content
        except requests.RequestException as exc:
            raise ComprasNetBadResponse(
                f"body cut: {exc}", url=resp.url, status=resp.status_code
            ) from exc
        self.stats.add(bytes=len(body))
        self._check_json_start(resp, body[:512])
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ComprasNetBadResponse(
                f"invalid JSON: {exc}",
                url=resp.url,
                status=resp.status_code,
                snippet=_snippet(body),
            ) from None

    def _download_listing(self, path: str) -> Listing:
        resp = self._send(path, self.listing_timeout)
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 2**20)  # noqa: SIM115 (returned)
        try:
            first = b""
            for chunk in resp.iter_content(chunk_size=256 * 1024):
                if self.stopped:
                    raise ComprasNetCancelled(f"download stopped: {resp.url}")
                if not first:
                    first = chunk[:512]
                spool.write(chunk)
                self.stats.add(bytes=len(chunk))
            self._check_json_start(resp, first)
            spool.seek(0)
            try:
                count = sum(1 for _ in ijson.items(spool, "item", use_float=True))
            except ijson.JSONError as exc:
                raise ComprasNetBadResponse(
                    f"invalid JSON listing: {exc}", url=resp.url, status=resp.status_code
                ) from None
            if not first.lstrip().startswith(b"["):
                raise ComprasNetBadResponse(
                    "listing is not a JSON array", url=resp.url, snippet=_snippet(first)
                )
            return Listing(spool, count, resp.url)
        except requests.RequestException as exc:
            spool.close()
            raise ComprasNetBadResponse(
                f"body cut: {type(exc).__name__}: {exc}", url=resp.url, status=resp.status_code
            ) from exc
        except (ComprasNetError, ComprasNetCancelled):
            spool.close()
            raise
        finally:
            resp.close()
