"""Step retries for transient ComprasNet/warehouse faults only; data errors fail at once.

The backoff (defaults: 3 retries, 120 s base, exponential, jittered: the Celery task's
``retry_backoff=120, max_retries=3``; ``LICITACAO_STEP_RETRIES`` and
``LICITACAO_STEP_RETRY_DELAY_SECONDS`` override it) is waited *inside the step*, then the step
asks Dagster to retry it at once. Two Dagster behaviours make this necessary:

- under an attached ``retry_policy`` Dagster also retries *interrupts*, so a run terminated by
  the user or by ``dagster/max_runtime`` would carry on;
- Dagster's own wait between retries cannot be interrupted (a ``dagster asset materialize``
  waiting there ignored SIGINT and SIGTERM), while a wait in the step ends at once.
"""

import contextlib
import time

import dagster as dg
from sqlalchemy.exc import InterfaceError, OperationalError

from licitacao_pipeline import settings
from licitacao_pipeline.comprasnet.errors import ComprasNetError
from licitacao_pipeline.errors import Recusado


def retry_policy() -> dg.RetryPolicy:
    conf = settings.load()
    return dg.RetryPolicy(
        max_retries=conf.step_retries,
        delay=conf.step_retry_delay_s,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ComprasNetError):
        return exc.transient
    if isinstance(exc, (OperationalError, InterfaceError)):  # lost connection, restart, deadlock
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


@contextlib.contextmanager
def transient_only(context: dg.OpExecutionContext | dg.AssetExecutionContext):
    """Retry the step (after the policy's backoff) on transient errors; fail on the rest."""
    try:
        yield
    except (dg.Failure, dg.RetryRequested):
        raise
    except Recusado as exc:  # refused on purpose: its own message, no retry
        raise dg.Failure(
            description=exc.descricao, metadata=exc.metadata, allow_retries=False
        ) from None
    except Exception as exc:
        if not is_transient(exc):
            raise dg.Failure(
                description=f"{type(exc).__name__}: {exc}", allow_retries=False
            ) from exc
        policy, attempt = retry_policy(), context.retry_number + 1
        if attempt > policy.max_retries:
            raise dg.Failure(
                description=f"erro transitório persistiu após {policy.max_retries} novas "
                f"tentativas do step: {type(exc).__name__}: {exc}",
                allow_retries=False,
            ) from exc
        delay = policy.calculate_delay(attempt)
        context.log.warning(
            "erro transitório, nova tentativa do step "
            f"{attempt}/{policy.max_retries} em {delay:.1f}s: {exc}"
        )
        time.sleep(delay)  # in the step: an interrupt ends the wait (and the run) at once
        raise dg.RetryRequested(max_retries=policy.max_retries, seconds_to_wait=0) from exc
