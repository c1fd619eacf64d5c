"""The pieces of the client's pooled session: counters, a urllib3 ``Retry`` that counts and
waits interruptibly, and the request budget (per process or shared by every process) that each
request, retries included, waits its turn in."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from urllib3.util.retry import Retry

from licitacao_pipeline.comprasnet.errors import ComprasNetCancelled, ComprasNetUnavailable

MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is capped (and still interruptible)
MAX_ESPERA = 300.0  # seconds a request may wait for its turn in the request budget


class ComprasNetBudgetWait(ComprasNetUnavailable):
    """The request budget would make this request wait longer than ``MAX_ESPERA``."""

    def __init__(self, message: str):
        super().__init__(message, url="")


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
    """urllib3 Retry that reports each retry to a RequestStats, sleeps interruptibly and takes
    its turn in the request budget (a retry is a request too). A 429's Retry-After pauses the
    whole budget: every thread, and with a shared budget every process."""

    stats: RequestStats | None = None
    stop_event: threading.Event | None = None
    limiter: RateLimiter | None = None

    def new(self, **kw: Any) -> CountingRetry:
        retry = super().new(**kw)
        retry.stats, retry.stop_event, retry.limiter = self.stats, self.stop_event, self.limiter
        return retry

    def sleep(self, response: Any = None) -> None:
        delay = None
        if self.respect_retry_after_header and response is not None:
            delay = self.get_retry_after(response)
        delay = min(MAX_RETRY_AFTER, delay) if delay is not None else self.get_backoff_time()
        if response is not None and response.status == 429 and self.limiter is not None:
            self.limiter.pause(delay)
        wait(self.stop_event, delay)
        if self.limiter is not None:
            self.limiter.wait()

    def increment(self, *args: Any, **kw: Any) -> Retry:
        retry = super().increment(*args, **kw)  # raises when retries are exhausted
        if self.stats is not None:
            self.stats.add(requests=1, retries=1)
        return retry


def retry_after(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return Retry().parse_retry_after(value)
    except Exception:  # an unreadable header: the retries' own backoff applies
        return None


def wait(stop_event: threading.Event | None, seconds: float) -> None:
    """Sleep ``seconds`` unless the client is stopped first (then raise)."""
    if stop_event is None:
        time.sleep(max(0.0, seconds))
    elif stop_event.wait(max(0.0, seconds)) or stop_event.is_set():
        raise ComprasNetCancelled("o cliente foi parado")


class Orcamento(Protocol):
    """A request budget: a schedule of request starts (a GCRA: ``rps`` per second, ``rajada``
    at once when quiet), in this process (``OrcamentoLocal``) or shared by every process
    (``warehouse.orcamento.OrcamentoCompartilhado``)."""

    def reservar(self) -> float:
        """Take the next start; seconds to wait before sending (0: now)."""

    def pausar(self, segundos: float) -> None:
        """The server asked for a pause (429 + Retry-After): no start before it ends."""

    def pausado(self) -> bool:
        """Whether a pause is in force now."""


class OrcamentoLocal:
    """The budget of one process (threads share it)."""

    def __init__(self, rps: float, rajada: int = 1):
        self.intervalo, self.tolerancia = 1.0 / rps, (max(1, rajada) - 1) / rps
        self._tat = self._pausa = 0.0
        self._lock = threading.Lock()

    def reservar(self) -> float:
        with self._lock:
            now = time.monotonic()
            inicio = max(now, self._tat - self.tolerancia)
            self._tat = max(self._tat, now) + self.intervalo
        return inicio - now

    def pausar(self, segundos: float) -> None:
        with self._lock:
            fim = time.monotonic() + segundos
            self._pausa = max(self._pausa, fim)
            self._tat = max(self._tat, fim + self.tolerancia)

    def pausado(self) -> bool:
        return time.monotonic() < self._pausa


class RateLimiter:
    """Waits, interruptibly and at most ``max_espera`` seconds, for a request's turn in the
    budget (None: no cap). A start reserved before a pause the server asked for is taken
    again once the wait is over, so a 429 holds back requests already waiting too."""

    def __init__(
        self,
        orcamento: Orcamento | None,
        stop_event: threading.Event,
        max_espera: float = MAX_ESPERA,
    ):
        self.orcamento, self.stop_event, self.max_espera = orcamento, stop_event, max_espera

    def wait(self) -> None:
        if self.orcamento is None:
            return
        limite = time.monotonic() + self.max_espera
        while True:
            espera = self.orcamento.reservar()
            if espera <= 0:
                return
            if time.monotonic() + espera > limite:
                raise ComprasNetBudgetWait(
                    f"orçamento de requisições: a vez desta requisição passaria de "
                    f"{self.max_espera:.0f} s de espera (COMPRASNET_MAX_RPS)"
                )
            wait(self.stop_event, espera)
            if not self.orcamento.pausado():
                return

    def pause(self, seconds: float | None) -> None:
        if self.orcamento is not None and seconds and seconds > 0:
            self.orcamento.pausar(min(MAX_RETRY_AFTER, seconds))
