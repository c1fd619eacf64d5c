"""Response bodies of the ComprasNet client: read under their kind's limits, checked to be JSON,
and the errors that say which limit was hit and which setting changes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import requests
import urllib3

from licitacao_pipeline import bounded_http
from licitacao_pipeline.bounded_http import tamanho
from licitacao_pipeline.comprasnet import json_stream
from licitacao_pipeline.comprasnet.errors import ComprasNetBadResponse, ComprasNetBodyTooLarge

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Limite:
    """What one kind of request may take: its body (unpacked) and its whole-attempt time,
    with the names of the ``ComprasNetResource`` settings that change them."""

    max_bytes: int
    bytes_setting: str
    deadline_s: float
    deadline_setting: str


class Listing:
    """A downloaded, validated listing body spooled to disk; iterate it to stream records
    (an ``Unreadable`` for each record the warehouse cannot hold)."""

    def __init__(self, body: IO[bytes], count: int, url: str, reader: json_stream.Reader):
        self._body, self.count, self.url, self._reader = body, count, url, reader

    def __iter__(self) -> Iterator[Any]:
        self._body.seek(0)
        return self._reader.array(self._body)

    def close(self) -> None:
        self._body.close()


def snippet(data: bytes) -> str:
    return data[:200].decode("utf-8", "replace").strip()


def prazo(spent: float, limite: Limite) -> str:
    return (
        f"prazo total de {spent:g} s esgotado (conexão, cabeçalhos e corpo); se o servidor é "
        f"só lento, aumente {limite.deadline_setting} do recurso comprasnet"
    )


def read(
    resp: Any, limite: Limite, each: Callable[[int], None], sink: IO[bytes] | None = None
) -> bytes:
    """The body under the kind's size limit (unpacked) and deadline; ``each(n)`` per piece."""
    try:
        return bounded_http.read_body(resp, limite.max_bytes, sink, each)
    except bounded_http.BodyTooLarge:
        raise ComprasNetBodyTooLarge(
            f"corpo maior que o limite de {tamanho(limite.max_bytes)} (descomprimido); se for "
            f"legítimo, aumente {limite.bytes_setting} do recurso comprasnet",
            url=resp.url,
            status=resp.status_code,
        ) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        spent = bounded_http.expired()
        why = prazo(spent, limite) if spent is not None else f"{type(exc).__name__}: {exc}"
        raise ComprasNetBadResponse(
            f"corpo cortado: {why}", url=resp.url, status=resp.status_code
        ) from exc
    except bounded_http.BadEncoding as exc:
        raise ComprasNetBadResponse(
            f"corpo cortado: {exc}", url=resp.url, status=resp.status_code
        ) from None
    finally:
        resp.close()


def check_json_start(resp: Any, first: bytes) -> None:
    stripped = first.lstrip().removeprefix(BOM)
    if stripped[:1] not in (b"[", b"{"):
        raise ComprasNetBadResponse(
            f"o corpo não é JSON (Content-Type {resp.headers.get('Content-Type')!r})",
            url=resp.url,
            status=resp.status_code,
            snippet=snippet(stripped),
        )


def invalid(resp: Any, exc: json_stream.JSONInvalid, first: bytes) -> ComprasNetBadResponse:
    """A body that is not JSON: transient only when it ended early (it may be whole next time);
    a syntax error in a whole body will be there again."""
    return ComprasNetBadResponse(
        f"{exc}{' (o corpo termina antes do fim)' if exc.cut else ''}",
        url=resp.url,
        status=resp.status_code,
        snippet=snippet(first),
        transient=exc.cut,
    )
