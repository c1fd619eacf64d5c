"""Test helpers: run assets in-process and read the warehouse back."""

from datetime import date
from decimal import Decimal

import dagster as dg
import sqlalchemy as sa

from licitacao_pipeline.defs.resources import ComprasNetResource


def br_money(text):
    """Independent oracle for Brazilian money strings (not the code under test)."""
    if text is None:
        return None
    return Decimal(text.replace(".", "").replace(",", "."))


def materialize(assets, partition, resources, config=None, raise_on_error=True):
    run_config = {"ops": config} if config else None
    return dg.materialize(
        assets,
        partition_key=partition,
        resources=resources,
        run_config=run_config,
        raise_on_error=raise_on_error,
    )


def rows(engine, table="contratos", where="true", **params):
    with engine.connect() as conn:
        result = conn.execute(
            sa.text(f"SELECT *, xmin::text AS _xmin FROM {table} WHERE {where} ORDER BY id"), params
        )
        return [dict(r._mapping) for r in result]


def materialization_metadata(result, asset="contratos"):
    mats = result.asset_materializations_for_node(asset)
    assert len(mats) == 1
    return {k: v.value for k, v in mats[0].metadata.items()}


def sim_records(sim, uasg):
    return sim.listing(uasg) + sim.listing(uasg, inativo=True)


def parse_day(text):
    return date.fromisoformat(text) if text else None


def failure_message(result) -> str:
    """The step failure's error text (class name + message + causes) of a failed run."""
    assert not result.success
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            while err is not None:
                texts.append(err.to_string())
                err = err.cause
    assert texts, "no step failure event"
    return "\n".join(texts)


def with_client(resources, sim, **settings):
    """``resources`` with a ComprasNet client tuned by ``settings`` (fast backoff by default)."""
    tuned = {"base_url": sim.base_url, "backoff_factor": 0.01, "backoff_max": 0.05, **settings}
    return dict(resources, comprasnet=ComprasNetResource(**tuned))
