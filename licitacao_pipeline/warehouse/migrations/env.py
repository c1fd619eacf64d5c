"""Alembic environment: uses the connection passed by ``migrate.upgrade`` or DATABASE_URL."""

from alembic import context

from licitacao_pipeline.warehouse.tables import metadata

connection = context.config.attributes.get("connection")


def run(conn) -> None:
    context.configure(connection=conn, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # plain `alembic` CLI use: resolve the database like the pipeline does
    from licitacao_pipeline.warehouse.engine import get_engine

    with get_engine(migrate=False).begin() as conn:
        run(conn)
