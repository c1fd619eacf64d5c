"""Step retries for transient ComprasNet/database faults only; data errors fail at once.

``STEP_RETRY_POLICY`` holds the backoff (defaults: 3 retries, 120 s base, exponential, jittered:
the Celery task's ``retry_backoff=120, max_retries=3``; overridable by environment). It is
applied by ``transient_only`` through ``RetryRequested`` rather than attached to the assets:
Dagster also retries *interrupts* under an attached policy, which would let a run that run
monitoring terminated for exceeding ``dagster/max_runtime`` (or that a user terminated) carry on.
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
def transient_only(context: dg.OpExecutionContext | dg.AssetExecutionContext):
    """Retry the step (with the policy's backoff) on transient errors; fail on the rest."""
    try:
        yield
    except (dg.Failure, dg.RetryRequested):
        raise
    except Exception as exc:
        if is_transient(exc):
            attempt = context.retry_number + 1
            context.log.warning(f"transient error, attempt {attempt}: {exc}")
            raise dg.RetryRequested(
                max_retries=STEP_RETRY_POLICY.max_retries,
                seconds_to_wait=STEP_RETRY_POLICY.calculate_delay(attempt),
            ) from exc
        raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc
