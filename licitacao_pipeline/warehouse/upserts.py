"""The one upsert every warehouse table uses: write a row only when its content changed."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from licitacao_pipeline.warehouse.tables import TRACKING_COLUMNS

INSERTED = sa.literal_column("xmax = 0")  # true for a fresh insert, false for an update


def changed_only_upsert(table: sa.Table, key: list[str], also_changed: tuple[str, ...] = ()):
    """INSERT ... ON CONFLICT (key) DO UPDATE only when ``payload_hash`` (or a column of
    ``also_changed``) differs or the row was marked removed (it is restored). With
    ``.returning(INSERTED)``: one flag per written row; unchanged rows are neither written nor
    returned. Use with a list of rows (executemany) or one row."""
    stmt = insert(table)
    data = [c.name for c in table.c if c.name not in TRACKING_COLUMNS and c.name not in key]
    restored = {"removido_em": None}
    if "removido_motivo" in table.c:
        restored["removido_motivo"] = None
    return stmt.on_conflict_do_update(
        index_elements=key,
        set_={**{c: stmt.excluded[c] for c in data}, "atualizado_em": sa.func.now(), **restored},
        where=sa.or_(
            table.c.payload_hash != stmt.excluded.payload_hash,
            table.c.removido_em.is_not(None),
            *(table.c[c].is_distinct_from(stmt.excluded[c]) for c in also_changed),
        ),
    )
