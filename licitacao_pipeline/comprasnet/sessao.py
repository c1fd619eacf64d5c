"""The pieces of the client's pooled session: counters, a urllib3 ``Retry`` that counts and
waits interruptibly, and a rate limiter shared by threads."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from urllib3.util.retry import Retry

from licitacao_pipeline.comprasnet.errors import ComprasNetCancelled

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


class CountingRetry(Retry):
    """urllib3 Retry that reports each retry to a RequestStats and sleeps interruptibly."""

    stats: RequestStats | None = None
    stop_event: threading.Event | None = None

    def new(self, **kw: Any) -> CountingRetry:
        retry = super().new(**kw)
        retry.stats, retry.stop_event = self.stats, self.stop_event
        return retry

    def sleep(self, response: Any = None) -> None:
        delay = None
        if self.respect_retry_after_header and response is not None:
            delay = self.get_retry_after(response)
        delay = min(MAX_RETRY_AFTER, delay) if delay is not None else self.get_backoff_time()
        wait(self.stop_event, delay)

    def increment(self, *args: Any, **kw: Any) -> Retry:
        retry = super().increment(*args, **kw)  # raises when retries are exhausted
        if self.stats is not None:
            self.stats.add(requests=1, retries=1)
        return retry


def wait(stop_event: threading.Event | None, seconds: float) -> None:
    """Sleep ``seconds`` unless the client is stopped first (then raise)."""
    if stop_event is None:
        time.sleep(max(0.0, seconds))
    elif stop_event.wait(max(0.0, seconds)) or stop_event.is_set():
        raise ComprasNetCancelled("the client was stopped")


class RateLimiter:
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
            wait(self.stop_event, start - now)
