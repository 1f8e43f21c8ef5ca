"""Forge webhook deliveries, once each: the web server stores a delivery before it answers the forge (so
a redelivery — GitHub's "Redeliver", a retry after a timeout — is known by its id and starts nothing
new), and moves it on as it is handed to its workflow and handled.

A delivery only moves forward (received → started → handled): a late or repeated step never takes one
back. "received" rows older than a moment are deliveries whose hand-off failed (Temporal unreachable):
`waiting` lists them for whoever hands them on again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from honk.domain import ForgeKind, HookDeliveryState, Record
from honk.store.models import HookDeliveryRow
from honk.store.store import Store

MAX_DETAIL = 4000
IDS_PER_WRITE = 500  # under SQLite's limit of bound parameters, with room
ORDER: tuple[HookDeliveryState, ...] = ("received", "started", "handled")


class StoredDelivery(Record):
    forge: ForgeKind
    id: str
    event: str
    received_at: datetime
    payload: str
    state: HookDeliveryState
    detail: str = ""


class HookDeliveries:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def received(
        self, forge: ForgeKind, delivery_id: str, event: str, payload: str
    ) -> tuple[StoredDelivery, bool]:
        """The delivery as stored, and whether this call stored it (False: it was here already, from an
        earlier delivery of the same id, whose payload is kept as it first came)."""
        stored = StoredDelivery(
            forge=forge, id=delivery_id, event=event, received_at=datetime.now(UTC), payload=payload, state="received"
        )
        async with self._writing() as s:
            try:  # Core, not the ORM's unit of work: this is the one write a delivery's answer waits for
                await s.execute(insert(HookDeliveryRow).values(**stored.model_dump()))
                await s.commit()
                return stored, True
            except IntegrityError:
                await s.rollback()
        earlier = await self.get(forge, delivery_id)
        assert earlier is not None, "a delivery is never deleted while its id is in use"
        return earlier, False

    async def moved(self, forge: ForgeKind, delivery_id: str, state: HookDeliveryState, detail: str = "") -> bool:
        """The delivery is now `state`, unless it was there or beyond already (False then)."""
        return await self.all_moved(forge, [delivery_id], state, detail) == 1

    async def all_moved(
        self, forge: ForgeKind, delivery_ids: Sequence[str], state: HookDeliveryState, detail: str = ""
    ) -> int:
        """`moved` for many deliveries in one write (a burst's hand-offs); how many moved."""
        before = ORDER[: ORDER.index(state)]
        values: dict[str, object] = {"state": state}
        if detail:
            values["detail"] = detail[:MAX_DETAIL]
        moved = 0
        async with self._writing() as s:
            for i in range(0, len(delivery_ids), IDS_PER_WRITE):
                q = update(HookDeliveryRow).where(
                    HookDeliveryRow.forge == forge,
                    HookDeliveryRow.id.in_(delivery_ids[i : i + IDS_PER_WRITE]),
                    HookDeliveryRow.state.in_(before),
                )
                moved += (await s.execute(q.values(**values))).rowcount  # type: ignore[attr-defined]
            await s.commit()
        return moved

    async def all_handled(self, handled: Sequence[tuple[ForgeKind, str, str]]) -> int:
        """Each (forge, delivery id, detail) is "handled" with its detail, in one write (a worker finishing a
        burst's deliveries); how many moved. One not yet handled moves, as with `moved`."""
        table = HookDeliveryRow.metadata.tables[HookDeliveryRow.__tablename__]  # Core's executemany: one statement
        q = (
            update(table)
            .where(table.c.forge == bindparam("f"), table.c.id == bindparam("i"), table.c.state != "handled")
            .values(state="handled", detail=bindparam("d"))
        )
        rows = [{"f": forge, "i": delivery_id, "d": detail[:MAX_DETAIL]} for forge, delivery_id, detail in handled]
        if not rows:
            return 0
        async with self._writing() as s:
            moved = (await s.execute(q, rows)).rowcount  # type: ignore[attr-defined]
            await s.commit()
        return moved

    async def get(self, forge: ForgeKind, delivery_id: str) -> StoredDelivery | None:
        async with self._session() as s:
            row = await s.get(HookDeliveryRow, (forge, delivery_id))
        return _record(row) if row is not None else None

    async def waiting(self, received_before: datetime, limit: int = 100) -> list[StoredDelivery]:
        """Deliveries stored before `received_before` and never handed on, oldest first."""
        q = (
            select(HookDeliveryRow)
            .where(HookDeliveryRow.state == "received", HookDeliveryRow.received_at < received_before)
            .order_by(HookDeliveryRow.received_at)
            .limit(max(1, min(limit, 1000)))
        )
        async with self._session() as s:
            return [_record(r) for r in (await s.scalars(q)).all()]


def _record(row: HookDeliveryRow) -> StoredDelivery:
    at = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)  # SQLite keeps no zone
    return StoredDelivery(
        forge=row.forge,  # type: ignore[arg-type]  # written from ForgeKind only
        id=row.id,
        event=row.event,
        received_at=at,
        payload=row.payload,
        state=row.state,  # type: ignore[arg-type]  # written from HookDeliveryState only
        detail=row.detail or "",
    )
