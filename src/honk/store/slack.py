"""Slack's records in Honk's store: threads of tasks (and their streamed progress), channel defaults,
seen events, known users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from honk.domain import Record, SlackStream, SlackThread
from honk.store.models import SlackChannelRow, SlackSeenEventRow, SlackThreadRow, SlackUserRow
from honk.store.store import Store

SEEN_FOR = timedelta(days=2)
PRUNE_EVERY = 500


class SlackUser(Record):
    user_id: str
    email: str | None
    name: str

    @property
    def identity(self) -> str:
        """How the person appears in trailers and the audit trail."""
        return self.email or f"slack:{self.user_id}"


class SlackStore:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing  # one engine, one session factory
        self._inserts = 0

    async def first_time(self, event_id: str) -> bool:
        """True the first time an event id is seen; Slack's retries (minutes apart at most) then get False."""
        now = datetime.now(UTC)
        async with self._writing() as s:
            s.add(SlackSeenEventRow(event_id=event_id, at=now))
            try:
                await s.commit()
            except IntegrityError:
                return False
            self._inserts += 1
            if self._inserts % PRUNE_EVERY == 0:  # keep the table small: old ids cannot come back
                await s.execute(delete(SlackSeenEventRow).where(SlackSeenEventRow.at < now - SEEN_FOR))
                await s.commit()
        return True

    async def link(self, task_id: str, thread: SlackThread) -> None:
        async with self._writing() as s:
            if await s.get(SlackThreadRow, (thread.channel, thread.thread_ts)) is None:
                s.add(
                    SlackThreadRow(
                        channel=thread.channel,
                        thread_ts=thread.thread_ts,
                        task_id=task_id,
                        status_ts=thread.status_ts,
                        status_at=0.0,
                        user_id=thread.user_id,
                        team_id=thread.team_id,
                    )
                )
                try:
                    await s.commit()
                except IntegrityError:
                    pass

    async def task_of(self, channel: str, thread_ts: str) -> str | None:
        async with self._session() as s:
            row = await s.get(SlackThreadRow, (channel, thread_ts))
        return row.task_id if row else None

    async def thread_of(self, task_id: str) -> SlackThread | None:
        async with self._session() as s:
            row = (await s.scalars(select(SlackThreadRow).where(SlackThreadRow.task_id == task_id))).first()
        if row is None:
            return None
        return SlackThread(
            channel=row.channel,
            thread_ts=row.thread_ts,
            status_ts=row.status_ts,
            user_id=row.user_id,
            team_id=row.team_id,
        )

    async def claim_status_update(self, task_id: str, now: float, interval_s: float) -> bool:
        """Whether the status message may be updated now (at most once per interval, across workers)."""
        async with self._writing() as s:
            result = await s.execute(
                update(SlackThreadRow)
                .where(SlackThreadRow.task_id == task_id, SlackThreadRow.status_at <= now - interval_s)
                .values(status_at=now)
            )
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult

    async def stream_of(self, task_id: str) -> tuple[SlackStream, int] | None:
        """The task's streamed message as last claimed, and the count of its changes (None: no thread)."""
        async with self._session() as s:
            row = (
                await s.execute(
                    select(SlackThreadRow.stream, SlackThreadRow.stream_seq).where(SlackThreadRow.task_id == task_id)
                )
            ).first()
        if row is None:
            return None
        return (SlackStream.model_validate(row.stream) if row.stream else SlackStream()), row.stream_seq

    async def claim_stream(self, task_id: str, seq: int, stream: SlackStream) -> bool:
        """Records `stream` as the change after change `seq`; False when another worker made that
        change first (read again: its change may carry this one). One change at a time, in order."""
        async with self._writing() as s:
            result = await s.execute(
                update(SlackThreadRow)
                .where(SlackThreadRow.task_id == task_id, SlackThreadRow.stream_seq == seq)
                .values(stream=stream.model_dump(mode="json"), stream_seq=seq + 1)
            )
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult

    async def stop_streaming(self, task_id: str) -> None:
        """The task's progress goes to its status message from now on, whatever was claimed before."""
        async with self._writing() as s:
            await s.execute(
                update(SlackThreadRow)
                .where(SlackThreadRow.task_id == task_id)
                .values(
                    stream=SlackStream(mode="fallback").model_dump(mode="json"),
                    stream_seq=SlackThreadRow.stream_seq + 1,
                )
            )
            await s.commit()

    async def set_default_repo(self, channel: str, repo: str) -> None:
        async with self._writing() as s:
            row = await s.get(SlackChannelRow, channel)
            if row:
                row.repo = repo
            else:
                s.add(SlackChannelRow(channel=channel, repo=repo))
            await s.commit()

    async def default_repo(self, channel: str) -> str | None:
        async with self._session() as s:
            row = await s.get(SlackChannelRow, channel)
        return row.repo if row else None

    async def remember_user(self, user: SlackUser) -> None:
        async with self._writing() as s:
            await s.merge(SlackUserRow(user_id=user.user_id, email=user.email, name=user.name))
            await s.commit()

    async def user(self, user_id: str) -> SlackUser | None:
        async with self._session() as s:
            row = await s.get(SlackUserRow, user_id)
        return SlackUser(user_id=row.user_id, email=row.email, name=row.name) if row else None
