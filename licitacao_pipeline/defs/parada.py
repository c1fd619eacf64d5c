"""A Stop (Terminate, max runtime, Ctrl-C, SIGTERM) ends a step with one line that says what was
stored and what is left, as a ``Failure`` carrying that line: not the interrupt's stack trace.

The run still ends CANCELED when it was terminated (Dagster looks at the run's CANCELING status,
not at the exception), FAILURE when a CLI process was interrupted.
"""

import contextlib
from collections.abc import Callable, Iterator

import dagster as dg

INTERRUPTS = (KeyboardInterrupt, dg.DagsterExecutionInterruptedError)


@contextlib.contextmanager
def parada_com_resumo(context, resumo: Callable[[], str]) -> Iterator[None]:
    """On an interrupt: log ``resumo()`` and fail the step with it (no retry)."""
    try:
        yield
    except INTERRUPTS:
        try:
            text = resumo()
        except Exception as exc:  # the summary must never hide the stop
            text = f"execução interrompida (resumo indisponível: {type(exc).__name__})"
        context.log.warning(text)
        raise dg.Failure(description=text, allow_retries=False) from None
