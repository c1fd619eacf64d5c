"""SQL of the tabs (abas): per-contract snapshot writes and the queue of due contracts.

A tab's rows for one contract are replaced as a snapshot in one transaction: changed rows are
upserted (unchanged ones are not written), rows that left the source get ``removido_em``, and the
contract's ``<aba>_atualizado_em`` advances. ``detalhes_atualizados_em`` is the oldest of the four
tab timestamps: the moment since which every tab of the contract is at least that fresh. For
``historico`` and ``empenhos``, what changed also goes to the history (``warehouse.alteracoes``)
in the same transaction.

A tab is *due* when it was never synced, is older than the contract's listing record, or is
older than its cadence less 5 % (hours per tab, ``licitacao_pipeline.cadencia``;
``completa``: every tab synced before the run started) — unless it is backing off: it kept
failing for that contract (``abas_falhas``) and neither its next try nor a change of the
contract's record came yet.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine

from licitacao_pipeline.cadencia import FOLGA, cadencia_padrao
from licitacao_pipeline.comprasnet.abas import ABAS, Snapshot
from licitacao_pipeline.warehouse import alteracoes
from licitacao_pipeline.warehouse.rejects import reject_row, upsert_rejects
from licitacao_pipeline.warehouse.tables import ABA_TABLES, contratos
from licitacao_pipeline.warehouse.upserts import INSERTED, changed_only_upsert


@dataclass
class SnapshotResult:
    linhas: int = 0
    inseridas: int = 0
    atualizadas: int = 0
    removidas: int = 0
    rejeitadas: list[dict[str, Any]] = field(default_factory=list)


def _detalhes_expr(aba: str):
    """LEAST of the four tab timestamps, NULL while any tab was never synced."""
    cols = [sa.func.now() if a == aba else contratos.c[f"{a}_atualizado_em"] for a in ABAS]
    return sa.case((sa.and_(*(c.is_not(None) for c in cols)), sa.func.least(*cols)), else_=None)


@dataclass(frozen=True)
class _Statements:
    upsert: Any
    mark_removed: Any
    stamp: Any


@functools.cache
def _statements(aba: str) -> _Statements:
    """Statements built once per tab, so SQLAlchemy compiles them once (the hot path)."""
    table = ABA_TABLES[aba]
    upsert = changed_only_upsert(table, ["contrato_id", "id"]).returning(
        table.c.contrato_id, INSERTED, table.c.id
    )
    # Rows of the batch's contracts that are not in the new snapshots: (contrato_id, id) pairs
    # arrive as two parallel arrays. The table name is a constant, never user input.
    mark_removed = sa.text(
        f"""
        UPDATE {table.name} t SET removido_em = now()
        WHERE t.contrato_id = ANY(CAST(:cids AS bigint[])) AND t.removido_em IS NULL
          AND NOT EXISTS (
            SELECT 1 FROM unnest(CAST(:seen_cids AS bigint[]), CAST(:seen_ids AS bigint[]))
              AS s(cid, id)
            WHERE s.cid = t.contrato_id AND s.id = t.id)
        RETURNING t.contrato_id, t.id
        """
    )
    cids = sa.bindparam("cids", type_=ARRAY(sa.BigInteger))
    stamp = (
        sa.update(contratos)
        .where(contratos.c.id == sa.any_(cids))
        .values(
            {f"{aba}_atualizado_em": sa.func.now(), "detalhes_atualizados_em": _detalhes_expr(aba)}
        )
    )
    return _Statements(upsert, mark_removed, stamp)


def write_snapshots(
    conn: sa.Connection,
    aba: str,
    snapshots: dict[int, Snapshot],
    *,
    uasg: str | None = None,
    run_id: str | None = None,
) -> dict[int, SnapshotResult]:
    """Replace ``aba`` of each contract in ``snapshots`` ({contrato_id: parsed snapshot}) within
    the caller's transaction: a few statements for the whole batch, whatever its size."""
    stmts = _statements(aba)
    results = {cid: SnapshotResult() for cid in snapshots}
    rows, seen_cids, seen_ids, rejects = [], [], [], []
    for cid, snapshot in snapshots.items():
        parsed, seen, rejected = snapshot.rows, snapshot.seen, snapshot.rejects
        results[cid].linhas = len(parsed)
        results[cid].rejeitadas = rejected
        rows += parsed
        seen_cids += [cid] * len(seen)
        seen_ids += sorted(seen)
        rejects += [
            reject_row(
                f"contratos_{aba}",
                uasg,
                r["record_id"],
                f"contrato {cid}: {r['reason']}",
                r["payload"],
                run_id,
            )
            for r in rejected
        ]
    cids = list(snapshots)
    historico = aba in alteracoes.ABAS_COM_HISTORICO
    antes = alteracoes.antes_aba(conn, aba, cids, rows) if historico else ""
    changed = []
    if rows:
        for cid, inserted, rid in conn.execute(stmts.upsert, rows).all():
            changed.append((cid, rid))
            if inserted:
                results[cid].inseridas += 1
            else:
                results[cid].atualizadas += 1
    params = {"cids": cids, "seen_cids": seen_cids, "seen_ids": seen_ids}
    for cid, rid in conn.execute(stmts.mark_removed, params).all():
        changed.append((cid, rid))
        results[cid].removidas += 1
    if historico:
        alteracoes.registrar(conn, aba, changed, antes, run_id=run_id)
    upsert_rejects(conn, rejects)
    conn.execute(stmts.stamp, {"cids": cids})
    return results


# -- the queue of due contracts ------------------------------------------------------------------


def _due(aba: str, completa: bool) -> str:
    """The SQL condition; ``aba`` is one of the tab names of the specs, never user input."""
    ts = f"c.{aba}_atualizado_em"
    backing_off = (
        f"EXISTS (SELECT 1 FROM abas_falhas f WHERE f.contrato_id = c.id AND f.aba = '{aba}' "
        "AND f.proxima_tentativa_em > :inicio AND f.ultima_falha_em >= c.atualizado_em)"
    )
    if completa:
        return f"(({ts} IS NULL OR {ts} < :inicio) AND NOT {backing_off})"
    limite = f"CAST(:inicio AS timestamptz) - make_interval(secs => :horas_{aba} * 3600)"
    return f"(({ts} IS NULL OR {ts} < c.atualizado_em OR {ts} < {limite}) AND NOT {backing_off})"


def _params(
    uasg: str, inicio: datetime, abas: Sequence[str], cadencia: Mapping[str, float]
) -> dict[str, Any]:
    horas = {f"horas_{a}": float(cadencia.get(a, cadencia_padrao(a))) * (1 - FOLGA) for a in abas}
    return {"uasg": uasg, "inicio": inicio, **horas}


def now(engine: Engine) -> datetime:
    """The database clock: tab timestamps are written with it, so due checks compare to it."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.now())).scalar_one()


def due_counts(
    engine: Engine,
    uasg: str,
    abas: Sequence[str],
    *,
    inicio: datetime,
    cadencia: Mapping[str, float],
    completa: bool,
) -> dict[str, int]:
    """How many active contracts of the UASG have each tab due, in one query. ``cadencia``:
    hours per tab (a tab missing from it: its default)."""
    counts = ", ".join(f"count(*) FILTER (WHERE {_due(a, completa)}) AS {a}" for a in abas)
    query = sa.text(
        f"SELECT {counts} FROM contratos c WHERE c.uasg = :uasg AND c.removido_em IS NULL"
    )
    with engine.connect() as conn:
        row = conn.execute(query, _params(uasg, inicio, abas, cadencia)).one()
    return dict(zip(abas, row, strict=True))


class DueQueue:
    """Contracts of a UASG with at least one due tab, as ``(contrato_id, due abas)``, in pages.

    Order: the contract whose oldest due tab is oldest comes first (never synced first), then
    by id; every due tab of a contract comes together, so a run cut anywhere leaves no tab kind
    behind and the next run starts where this one stopped. The order is fixed when the queue
    is opened: a server-side cursor ``WITH HOLD`` keeps the snapshot without keeping a
    transaction open, so memory stays flat in the number of contracts on both sides.
    """

    def __init__(
        self,
        engine: Engine,
        uasg: str,
        abas: Sequence[str],
        *,
        inicio: datetime,
        cadencia: Mapping[str, float],
        completa: bool,
        page: int = 500,
    ):
        self.abas, self.page = tuple(abas), page
        flags = ", ".join(f"{_due(a, completa)} AS d_{a}" for a in self.abas)
        oldest = ", ".join(
            f"CASE WHEN d_{a} THEN COALESCE({a}_atualizado_em, '-infinity') END" for a in self.abas
        )
        any_due = " OR ".join(f"d_{a}" for a in self.abas)
        query = f"""
            DECLARE fila_abas NO SCROLL CURSOR WITH HOLD FOR
            SELECT id, {", ".join(f"d_{a}" for a in self.abas)} FROM (
                SELECT c.id, {", ".join(f"c.{a}_atualizado_em" for a in self.abas)}, {flags}
                FROM contratos c WHERE c.uasg = :uasg AND c.removido_em IS NULL
            ) s WHERE {any_due}
            ORDER BY LEAST({oldest}), id
        """
        self._conn = engine.connect()
        try:
            self._conn.execute(sa.text(query), _params(uasg, inicio, self.abas, cadencia))
            self._conn.commit()
        except BaseException:
            self._conn.close()
            raise

    def __iter__(self) -> Iterator[tuple[int, tuple[str, ...]]]:
        fetch = sa.text(f"FETCH FORWARD {int(self.page)} FROM fila_abas")
        while True:
            rows = self._conn.execute(fetch).all()
            self._conn.commit()
            if not rows:
                return
            for row in rows:
                yield row[0], tuple(a for a, due in zip(self.abas, row[1:], strict=True) if due)

    def close(self) -> None:
        try:
            if not self._conn.invalidated:
                self._conn.exec_driver_sql("CLOSE fila_abas")
                self._conn.commit()
        except sa.exc.DBAPIError:
            pass  # the connection is gone, and the cursor with it
        finally:
            self._conn.close()

    def __enter__(self) -> DueQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
