"""The connection to the webserver's GraphQL endpoint: basic auth for a proxy in front of it, a
bounded wait while it is momentarily unable to answer, and every failure explained for people."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from gql import Client, gql
from gql.transport.exceptions import TransportError, TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport
from requests.auth import HTTPBasicAuth

from licitacao_pipeline.client.tipos import (
    CredenciaisRecusadas,
    OrquestracaoError,
    WebserverInacessivel,
)

DEFAULT_URL = "http://localhost:3000"
# A webserver restarting behind the proxy (HTTP 502/503/504), whose database has just restarted
# (a pooled connection found closed: the transaction rolled back) or whose code server is
# restarting (a deploy: nothing was launched) is waited for this long.
ESPERA_MAXIMA = 60
_log = logging.getLogger(__name__)


def _momentaneo(exc: BaseException) -> bool:
    """Whether ``exc`` says the webserver did not carry the request out, for a moment only. A
    refused connection is not waited for: nothing may be listening there at all."""
    while exc is not None:
        if isinstance(exc, TransportServerError) and exc.code in (502, 503, 504):
            return True
        text = str(exc)
        if "OperationalError" in text:  # psycopg2's, relayed in a GraphQL error
            return True
        if "DagsterUserCodeUnreachableError" in text:  # the code server restarting (a deploy)
            return True
        # the CLI launches only this project's jobs: "not found" is its location (re)loading
        if "PipelineNotFoundError" in text:
            return True
        exc = exc.__cause__
    return False


def _resumo(exc: BaseException) -> str:
    text = str(exc)
    if "OperationalError" in text:
        return "conexão com o banco de dados perdida"
    if "DagsterUserCodeUnreachableError" in text:
        return "servidor de código indisponível"
    if "PipelineNotFoundError" in text:
        return "servidor de código carregando as definições"
    return text[:120]


class Webserver:
    """A Dagster webserver, reached at ``url`` (with its path prefix, if any); ``usuario``/
    ``senha`` are sent as HTTP basic auth (a reverse proxy in front of the webserver checks
    them)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        usuario: str | None = None,
        senha: str | None = None,
        timeout: int = 30,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OrquestracaoError(
                f"URL do webserver inválida {url!r} (esperava http(s)://host:porta)"
            )
        if parts.username or parts.password:
            raise OrquestracaoError(
                "não ponha credenciais na URL do webserver: defina DAGSTER_WEBSERVER_USER e "
                "DAGSTER_WEBSERVER_PASSWORD"
            )
        self.url = url.rstrip("/")
        auth = HTTPBasicAuth(usuario, senha or "") if usuario else None
        transport = RequestsHTTPTransport(
            url=f"{self.url}/graphql", use_json=True, timeout=timeout, auth=auth
        )
        self._client = DagsterGraphQLClient(parts.hostname, transport=transport)
        self._gql = Client(transport=transport)
        self._aguardou = False

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self._call(self._gql.execute, gql(query), variable_values=variables)

    def _ok(self, result: Mapping[str, Any], expected: str) -> Mapping[str, Any]:
        if result["__typename"] != expected:
            raise OrquestracaoError(f"{result['__typename']}: {result.get('message', '')}")
        return result

    def _call(self, fn, *args, **kwargs):
        """``fn``, waiting up to ``ESPERA_MAXIMA`` seconds while the webserver is momentarily
        unable to answer (``_momentaneo``): it did not carry the request out, so asking again
        cannot do it twice."""
        deadline = time.monotonic() + ESPERA_MAXIMA
        while True:
            try:
                return self._call_once(fn, *args, **kwargs)
            except OrquestracaoError as exc:
                if not _momentaneo(exc) or time.monotonic() >= deadline:
                    raise
                if not self._aguardou:  # said once per client
                    _log.warning(
                        "o webserver em %s não está respondendo agora (%s); aguardando até %d s",
                        self.url,
                        _resumo(exc),
                        ESPERA_MAXIMA,
                    )
                    self._aguardou = True
                time.sleep(2)

    def _call_once(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DagsterGraphQLClientError as exc:
            if exc.__cause__ is not None:
                raise self._explain(exc.__cause__) from exc
            kind, *detail = exc.args
            raise OrquestracaoError(f"{kind}: {' '.join(map(str, detail))}".strip()) from exc
        except (requests.RequestException, TransportError) as exc:
            raise self._explain(exc) from exc

    def _explain(self, exc: BaseException) -> OrquestracaoError:
        chain = [exc]
        while chain[-1].__cause__ is not None and len(chain) < 10:
            chain.append(chain[-1].__cause__)
        if any(isinstance(e, requests.ConnectionError | requests.Timeout) for e in chain):
            return WebserverInacessivel(
                f"o webserver do Dagster em {self.url} está inacessível: inicie-o com "
                "`licitacao dev`, ou informe --url (ou defina DAGSTER_WEBSERVER_URL)"
            )
        if isinstance(exc, TransportServerError) and exc.code in (401, 403):
            return CredenciaisRecusadas(
                f"o webserver em {self.url} recusou as credenciais (HTTP {exc.code}): defina "
                "DAGSTER_WEBSERVER_USER e DAGSTER_WEBSERVER_PASSWORD"
            )
        if isinstance(exc, TransportServerError):
            return OrquestracaoError(f"o webserver em {self.url} respondeu HTTP {exc.code}")
        if isinstance(exc, TransportQueryError):
            return OrquestracaoError(f"erro de GraphQL de {self.url}: {json.dumps(exc.errors)}")
        return OrquestracaoError(f"{type(exc).__name__}: {exc}")
