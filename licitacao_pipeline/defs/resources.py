"""Dagster resources: the ComprasNet HTTP client and the PostgreSQL warehouse."""

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy.engine import Engine

from licitacao_pipeline.bounded_http import origin
from licitacao_pipeline.comprasnet.client import REAL_BASE_URL, ComprasNetClient
from licitacao_pipeline.warehouse.engine import get_engine
from licitacao_pipeline.warehouse.orcamento import OrcamentoCompartilhado


class ComprasNetResource(dg.ConfigurableResource):
    """ComprasNet Contratos API. One pooled client per run step; its counters feed metadata."""

    base_url: str = REAL_BASE_URL
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    listing_read_timeout: float = 180.0
    max_retries: int = 5
    backoff_factor: float = 1.0
    backoff_max: float = 60.0
    body_retries: int = 3
    max_concurrency: int = 8
    max_rps: float | None = None
    """Request budget toward ComprasNet, requests per second (None: no cap)."""
    rajada: int = 1
    """Requests the budget lets go at once after a quiet moment."""
    orcamento_compartilhado: bool = False
    """Share the budget with every run and process through the warehouse (the deployment
    does: COMPRASNET_MAX_RPS); otherwise it is this step's alone."""
    orcamento_database_url: str | None = None
    """The warehouse holding the shared budget (None: DATABASE_URL, or the embedded one)."""
    listing_max_bytes: int = 512 * 1024 * 1024
    """Largest listing body (decompressed, counted while reading; it is spooled to disk)."""
    tab_max_bytes: int = 8 * 1024 * 1024
    """Largest body of one contract's tab (decompressed; held in memory while parsed)."""
    contrato_max_bytes: int = 1024 * 1024
    """Largest body of ``/api/contrato/id/{id}`` (decompressed)."""
    listing_deadline_s: float = 600.0
    """Whole-request deadline of a listing attempt: connect, headers and body."""
    request_deadline_s: float = 120.0
    """Whole-request deadline of a tab or ``/id`` attempt."""
    max_json_depth: int = 64
    """A record nested deeper than this is rejected alone."""
    allowed_redirect_origins: list[str] = []
    """Origins (``https://host[:port]``) a redirect may lead to besides base_url's own."""

    _client: ComprasNetClient | None = PrivateAttr(default=None)

    def make_client(self) -> ComprasNetClient:
        orcamento = None
        if self.orcamento_compartilhado and self.max_rps:
            engine = get_engine(self.orcamento_database_url)
            orcamento = OrcamentoCompartilhado(
                engine, origin(self.base_url), self.max_rps, self.rajada
            )
        return ComprasNetClient(
            self.base_url,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            listing_read_timeout=self.listing_read_timeout,
            max_retries=self.max_retries,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            body_retries=self.body_retries,
            pool_size=max(self.max_concurrency, 4),
            max_rps=self.max_rps,
            rajada=self.rajada,
            orcamento=orcamento,
            listing_max_bytes=self.listing_max_bytes,
            tab_max_bytes=self.tab_max_bytes,
            contrato_max_bytes=self.contrato_max_bytes,
            listing_deadline_s=self.listing_deadline_s,
            request_deadline_s=self.request_deadline_s,
            max_json_depth=self.max_json_depth,
            allowed_redirect_origins=self.allowed_redirect_origins,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._client = self.make_client()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def client(self) -> ComprasNetClient:
        """The step's client; a new one when the last was stopped (a step retry after an
        error, or a direct call outside a run)."""
        if self._client is None or self._client.stopped:
            if self._client is not None:
                self._client.close()
            self._client = self.make_client()
        return self._client


class WarehouseResource(dg.ConfigurableResource):
    """PostgreSQL warehouse. ``database_url`` unset: an embedded PostgreSQL under the data dir."""

    database_url: str | None = None

    def get_engine(self) -> Engine:
        return get_engine(self.database_url)
