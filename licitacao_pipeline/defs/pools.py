"""The ``comprasnet`` pool made to exist before the first run is queued.

Dagster creates a pool at its instance-wide default limit only when it first sees a queued run
in it, and the run queue's first pass over a fresh instance does not count that new pool yet: on
a new deployment the first batch of syncs (a schedule's slot, a burst of ``licitacao sync``)
started 4 API-bound runs where the pool allows 3. ``licitacao migrate`` (compose's one-shot
``migrate`` service) and ``licitacao dev`` call ``ensure_pools`` first; a limit an operator set
(``dagster instance concurrency set``) is left as it is.
"""

from licitacao_pipeline import names, settings


def ensure_pools() -> list[str]:
    """Create the project's pools at the instance's default limit if missing; returns the ones
    created. Nothing to do without a Dagster instance (no ``DAGSTER_HOME``)."""
    if not settings.load().dagster_home:
        return []
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        missing = [p for p in (names.POOL_COMPRASNET,) if p not in storage.get_concurrency_keys()]
        for pool in missing:
            storage.initialize_concurrency_limit_to_default(pool)
        return missing
