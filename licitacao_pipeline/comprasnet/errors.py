"""Typed ComprasNet errors: each names the URL, the status and a snippet of what came back."""

from __future__ import annotations


class ComprasNetError(Exception):
    """Base class. ``transient`` tells the orchestrator whether trying again later may help."""

    transient = True

    def __init__(self, message: str, *, url: str, status: int | None = None, snippet: str = ""):
        detail = f"{message} [url={url}"
        if status is not None:
            detail += f" status={status}"
        detail += "]"
        if snippet:
            detail += f" início do corpo: {snippet!r}"
        super().__init__(detail)
        self.url, self.status, self.snippet = url, status, snippet


class ComprasNetUnavailable(ComprasNetError):
    """Network failure (timeouts, refused or reset connections) that outlived the retries."""


class ComprasNetHTTPError(ComprasNetError):
    """A non-2xx answer that outlived the retries (or is not worth retrying, like 400).
    ``corpo_truncado``: its body was longer than the 64 KiB read of it."""

    corpo_truncado = False

    def __init__(self, message: str, **kw):
        super().__init__(message, **kw)
        self.transient = self.status is None or self.status == 429 or self.status >= 500


class ComprasNetNotFound(ComprasNetHTTPError):
    """404: the contract (or UG) does not exist at the source."""

    transient = False

    def __init__(self, message: str, **kw):
        super().__init__(message, **kw)
        self.transient = False


class ComprasNetRedirectRefused(ComprasNetHTTPError):
    """A redirect to an origin other than the configured one: refused, never followed."""

    def __init__(self, message: str, **kw):
        super().__init__(message, **kw)
        self.transient = False


class ComprasNetBadResponse(ComprasNetError):
    """2xx whose body is not the expected JSON (HTML error page, truncated JSON, wrong shape).
    ``transient=False`` when it will be the same next time (a syntax error in a whole body)."""

    def __init__(self, message: str, *, transient: bool = True, **kw):
        super().__init__(message, **kw)
        self.transient = transient


class ComprasNetBodyTooLarge(ComprasNetBadResponse):
    """A body over its size limit (unpacked): not transient, the next one will be as big."""

    def __init__(self, message: str, **kw):
        super().__init__(message, transient=False, **kw)


class ComprasNetCancelled(Exception):
    """The client was stopped (run terminated, budget spent): not an error of the API."""
