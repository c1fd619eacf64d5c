"""ComprasNet Contratos API client: pooled, gzip, retried, counted, within a request budget
(``orcamento``: this process's, or one shared by every process), and bounded whatever the
server sends.

Every wait (urllib3 retry backoff, ``Retry-After``, bad-body retries, the rate limiter) is
interruptible: after :meth:`ComprasNetClient.stop` no new request is sent and waiting threads
raise :class:`ComprasNetCancelled` at once. Every attempt has a whole-request deadline and every
body a size limit, unpacked, counted while reading (``bounded_http``); error bodies are read
only up to 64 KiB; redirects are followed only within the configured origin (or to
``allowed_redirect_origins``); records are read one at a time (``json_stream``), and one that
the warehouse cannot hold comes out as ``Unreadable``, to be rejected alone.
"""

from __future__ import annotations

import io
import logging
import random
import tempfile
import threading
from typing import IO, Any
from urllib.parse import urljoin

import requests

from licitacao_pipeline import bounded_http
from licitacao_pipeline.bounded_http import BoundedAdapter, origin
from licitacao_pipeline.comprasnet import corpos, json_stream
from licitacao_pipeline.comprasnet.abas import SPECS
from licitacao_pipeline.comprasnet.corpos import Limite, Listing
from licitacao_pipeline.comprasnet.errors import (
    ComprasNetBadResponse,
    ComprasNetCancelled,
    ComprasNetHTTPError,
    ComprasNetNotFound,
    ComprasNetRedirectRefused,
    ComprasNetUnavailable,
)
from licitacao_pipeline.comprasnet.sessao import (
    CountingRetry,
    Orcamento,
    OrcamentoLocal,
    RateLimiter,
    RequestStats,
    retry_after,
    wait,
)

log = logging.getLogger(__name__)

REAL_BASE_URL = "https://contratos.comprasnet.gov.br"
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 5
MiB = 1 << 20


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
        rajada: int = 1,
        orcamento: Orcamento | None = None,
        listing_max_bytes: int = 512 * MiB,
        tab_max_bytes: int = 8 * MiB,
        contrato_max_bytes: int = 1 * MiB,
        listing_deadline_s: float = 600.0,
        request_deadline_s: float = 120.0,
        max_json_depth: int = json_stream.MAX_DEPTH,
        allowed_redirect_origins: tuple[str, ...] | list[str] = (),
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.listing_timeout = (connect_timeout, listing_read_timeout)
        self.limites = {
            "listing": Limite(
                listing_max_bytes, "listing_max_bytes", listing_deadline_s, "listing_deadline_s"
            ),
            "aba": Limite(tab_max_bytes, "tab_max_bytes", request_deadline_s, "request_deadline_s"),
            "contrato": Limite(
                contrato_max_bytes, "contrato_max_bytes", request_deadline_s, "request_deadline_s"
            ),
        }
        self.max_json_depth = max_json_depth
        self.origins = {origin(self.base_url)} | {origin(o) for o in allowed_redirect_origins}
        self.textos = json_stream.Notes()  # fields whose lone surrogates became U+FFFD
        self.body_retries = body_retries
        self.backoff_factor, self.backoff_max = backoff_factor, backoff_max
        self.stats = RequestStats()
        self.stop_event = threading.Event()
        if orcamento is None and max_rps:
            orcamento = OrcamentoLocal(max_rps, rajada)
        self._limiter = RateLimiter(orcamento, self.stop_event)
        retry = CountingRetry(
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
        retry.stats, retry.stop_event, retry.limiter = self.stats, self.stop_event, self._limiter
        adapter = BoundedAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=retry)
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

    def contrato(self, contrato_id: int) -> dict[str, Any] | json_stream.Unreadable:
        """The single contract; some servers wrap it in a one-element list."""
        path = f"/api/contrato/id/{contrato_id}"
        data = self.get_json(path, "contrato")
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, (dict, json_stream.Unreadable)):
            raise ComprasNetBadResponse(
                "esperava um objeto de contrato", url=self.base_url + path, snippet=str(data)[:200]
            )
        return data

    def aba(self, contrato_id: int, aba: str) -> list[Any]:
        """One tab of a contract (``historico``, ``empenhos``, ...); an empty tab is ``[]``."""
        path = f"/api/contrato/{contrato_id}/{aba}"
        data = self.get_json(path, "aba", aba)
        if not isinstance(data, list):
            # a tab of personal data (LGPD) is never quoted in an error
            pessoal = aba in SPECS and bool(SPECS[aba].pessoais)
            snippet = "(omitido: aba com dados pessoais)" if pessoal else str(data)[:200]
            raise ComprasNetBadResponse(
                "esperava um array JSON", url=self.base_url + path, snippet=snippet
            )
        return data

    def get_json(self, path: str, kind: str = "aba", notes_as: str | None = None) -> Any:
        """The JSON at ``path`` under the limits of ``kind`` (``aba``, ``contrato``); lone
        surrogates replaced are noted under ``notes_as`` (the tab, or ``contratos``)."""
        return self._with_body_retries(
            path, lambda p: self._get_json(p, kind, notes_as or "contratos")
        )

    def reader(self, kind: str = "contratos") -> json_stream.Reader:
        return json_stream.Reader(self.max_json_depth, notes=self.textos, kind=kind)

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
                if attempt >= self.body_retries or not exc.transient:
                    raise
                attempt += 1
                delay = min(self.backoff_max, self.backoff_factor * 2 ** (attempt - 1))
                delay += random.uniform(0, self.backoff_factor)
                log.warning(
                    "nova tentativa de %s em %.1fs após corpo inválido: %s", path, delay, exc
                )
                self.stats.add(retries=1)
                wait(self.stop_event, delay)

    def _send(self, path: str, kind: str) -> requests.Response:
        """GET ``path``: a 2xx response with its body still to read (within the deadline).
        Redirects are followed only within the allowed origins; errors read 64 KiB at most."""
        url, limite = self.base_url + path, self.limites[kind]
        timeout = self.listing_timeout if kind == "listing" else self.timeout
        for _ in range(MAX_REDIRECTS + 1):
            if self.stopped:
                raise ComprasNetCancelled(f"não enviada, o cliente foi parado: {url}")
            self._limiter.wait()
            self.stats.add(requests=1)
            try:
                with bounded_http.deadline(limite.deadline_s):
                    resp = self.session.get(
                        url, timeout=timeout, stream=True, allow_redirects=False
                    )
            except requests.RequestException as exc:
                raise ComprasNetUnavailable(self._failure(exc, limite), url=url) from exc
            location = resp.headers.get("Location")
            if 300 <= resp.status_code < 400 and location:
                resp.close()
                url = self._redirect(url, urljoin(url, location), resp.status_code)
                continue
            if resp.status_code == 429:  # after the retries: the others still hold back
                self._limiter.pause(retry_after(resp.headers))
            if resp.status_code >= 400:
                body, more = bounded_http.read_error_body(resp)
                self.stats.add(bytes=len(body))
                cls = ComprasNetNotFound if resp.status_code == 404 else ComprasNetHTTPError
                error = cls(
                    "erro HTTP", url=url, status=resp.status_code, snippet=corpos.snippet(body)
                )
                error.corpo_truncado = more
                raise error
            if resp.status_code >= 300:
                resp.close()
                raise ComprasNetHTTPError("erro HTTP", url=url, status=resp.status_code)
            return resp
        raise ComprasNetHTTPError(f"mais de {MAX_REDIRECTS} redirecionamentos", url=url)

    def _redirect(self, url: str, target: str, status: int) -> str:
        if origin(target) not in self.origins:
            raise ComprasNetRedirectRefused(
                f"redirecionamento recusado: {origin(url)} mandou para {origin(target)}, fora da "
                f"origem configurada ({', '.join(sorted(self.origins))}); se for legítimo, "
                "configure base_url com essa origem ou inclua-a em allowed_redirect_origins",
                url=url,
                status=status,
            )
        return target

    @staticmethod
    def _failure(exc: BaseException, limite: Limite) -> str:
        spent = bounded_http.expired()
        if spent is not None:
            return corpos.prazo(spent, limite)
        return f"a requisição falhou após as novas tentativas: {type(exc).__name__}: {exc}"

    def _read(self, resp: requests.Response, limite: Limite, sink: IO[bytes] | None = None):
        """The body, counted; a listing (to ``sink``) also gives up once the client is stopped
        (an answer already on its way, a tab's, is still taken: the drain writes it)."""

        def each(n: int) -> None:
            self.stats.add(bytes=n)
            if sink is not None and self.stopped:
                raise ComprasNetCancelled(f"download interrompido: {resp.url}")

        return corpos.read(resp, limite, each, sink)

    def _get_json(self, path: str, kind: str, notes_as: str) -> Any:
        resp = self._send(path, kind)
        body = self._read(resp, self.limites[kind])
        corpos.check_json_start(resp, body[:512])
        try:
            return self.reader(notes_as).value(io.BytesIO(body))
        except json_stream.JSONInvalid as exc:
            raise corpos.invalid(resp, exc, body[:200]) from None

    def _download_listing(self, path: str) -> Listing:
        resp = self._send(path, "listing")
        spool = tempfile.SpooledTemporaryFile(max_size=16 * MiB)  # noqa: SIM115 (returned)
        try:
            self._read(resp, self.limites["listing"], spool)
            spool.seek(0)
            first = spool.read(512)
            corpos.check_json_start(resp, first)
            if not first.lstrip().removeprefix(b"\xef\xbb\xbf").startswith(b"["):
                raise ComprasNetBadResponse(
                    "a listagem não é um array JSON", url=resp.url, snippet=corpos.snippet(first)
                )
            spool.seek(0)
            counter = json_stream.Reader(self.max_json_depth)  # notes come from the real pass
            try:
                count = sum(1 for _ in counter.array(spool))
            except json_stream.JSONInvalid as exc:
                raise corpos.invalid(resp, exc, first) from None
            return Listing(spool, count, resp.url, self.reader("contratos"))
        except BaseException:
            spool.close()
            raise
