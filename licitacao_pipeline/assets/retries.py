"""Step retries for transient ComprasNet/database faults only; data errors fail at once.

Dagster's RetryPolicy retries every exception except ``Failure(allow_retries=False)``, so the
asset bodies run inside ``transient_only()``, which turns non-transient errors into such Failures.
The delay and count come from the environment (defaults: 3 retries, 120 s base, exponential,
jittered: the Celery task's ``retry_backoff=120, max_retries=3``).
"""

import contextlib
import os

import dagster as dg
from sqlalchemy.exc import OperationalError

from licitacao_pipeline.comprasnet.errors import ComprasNetError

STEP_RETRY_POLICY = dg.RetryPolicy(
    max_retries=int(os.environ.get("LICITACAO_STEP_RETRIES", "3")),
    delay=float(os.environ.get("LICITACAO_STEP_RETRY_DELAY_SECONDS", "120")),
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ComprasNetError):
        return exc.transient
    if isinstance(exc, OperationalError):  # lost connection, server restart, deadlock
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


@contextlib.contextmanager
def transient_only():
    """Let transient errors reach the RetryPolicy; make every other error final."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise dg.Failure(
            description=f"{type(exc).__name__}: {exc}", allow_retries=False
        ) from exc
