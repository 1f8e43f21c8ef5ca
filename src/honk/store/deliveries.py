"""Forge webhook deliveries, once each: the web server stores a delivery before it answers the forge (so
a redelivery — GitHub's "Redeliver", a retry after a timeout — is known by its id and starts nothing
new), and moves it on as it is handed to its workflow and handled.

A delivery only moves forward (received → started → handled): a late or repeated step never takes one
back. "received" rows older than a moment are deliveries whose hand-off failed (Temporal unreachable):
`waiting` lists them for whoever hands them on again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from honk.domain import ForgeKind, HookDeliveryState, Record
from honk.store.models import HookDeliveryRow
from honk.store.store import Store

MAX_DETAIL = 4000
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
        row = HookDeliveryRow(
            forge=forge,
            id=delivery_id,
            event=event,
            received_at=datetime.now(UTC),
            payload=payload,
            state="received",
            detail="",
        )
        async with self._writing() as s:
            s.add(row)
            try:
                await s.commit()
                return _record(row), True
            except IntegrityError:
                await s.rollback()
        earlier = await self.get(forge, delivery_id)
        assert earlier is not None, "a delivery is never deleted while its id is in use"
        return earlier, False

    async def moved(self, forge: ForgeKind, delivery_id: str, state: HookDeliveryState, detail: str = "") -> bool:
        """The delivery is now `state`, unless it was there or beyond already (False then)."""
        before = ORDER[: ORDER.index(state)]
        values: dict[str, object] = {"state": state}
        if detail:
            values["detail"] = detail[:MAX_DETAIL]
        q = update(HookDeliveryRow).where(
            HookDeliveryRow.forge == forge, HookDeliveryRow.id == delivery_id, HookDeliveryRow.state.in_(before)
        )
        async with self._writing() as s:
            result = await s.execute(q.values(**values))
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

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
