"""Queries over Honk's records. Every write of an event folds it into the task's timeline (and the summary
columns lists are queried by) in the same transaction."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from honk.domain import Artifact, ForgeRef, RepoRef, TaskRequest, TaskState, TaskView
from honk.events import EVENT_ADAPTER, AnyEvent, RepoPublished, StoredEvent, TaskAccepted
from honk.redaction import redactor
from honk.store import migrations
from honk.store.batching import WriteBatch
from honk.store.migrations import SchemaVersion
from honk.store.models import EventRow, RepoRow, TaskRepoRow, TaskRow
from honk.timeline import Timeline


def _now() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn, busy_timeout_ms: int) -> None:  # noqa: ANN001 - a DB-API connection
    # WAL lets the web server read while a worker writes; busy_timeout waits out short locks. It
    # comes first: switching a new database to WAL needs a lock that processes starting together
    # (and migrating: honk.store.migrations.runner) contend for.
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    _use_wal(cur, busy_timeout_ms)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _use_wal(cur, busy_timeout_ms: int) -> None:  # noqa: ANN001 - a DB-API cursor
    """Switches the database to WAL, waiting out another connection's switch.

    SQLite answers "database is locked" at once, without its busy handler, when a second
    connection asks for the switch while the first holds the lock to make it (two engines on a
    new database at the same moment). Once the first is done the database is WAL and asking again
    changes nothing, so a short bounded retry is all it needs. It only ever waits on a new database.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as e:  # the driver's OperationalError, whichever adapter wraps it
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


_Append = tuple[str, tuple[AnyEvent, ...], datetime]  # a task's events, and when they were appended


def _repo(row: RepoRow) -> RepoRef:
    forge = ForgeRef.model_validate(row.forge) if row.forge else None
    return RepoRef(name=row.name, url=row.url, branch=row.branch, forge=forge)


class Store:
    def __init__(self, url: str, busy_timeout_ms: int = 10_000) -> None:
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa_event.listen(
                self.engine.sync_engine, "connect", lambda conn, _record: _sqlite_pragmas(conn, busy_timeout_ms)
            )
        self._session = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._appends: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteBatch[_Append]] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session for one write transaction (reads use plain sessions).

        SQLite has one write lock, and its busy handler polls instead of queueing: under a burst (a
        hundred submissions while a worker writes events) some writers lost every poll for longer than
        busy_timeout and failed with "database is locked". So a process's writers queue here first, in
        order, and bring one transaction at a time to the database. PostgreSQL locks rows: no queue."""
        if self.engine.dialect.name != "sqlite":
            async with self._session() as s:
                yield s
            return
        loop = asyncio.get_running_loop()  # a lock per event loop: the worker runs some steps in threads
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        async with lock, self._session() as s:
            yield s

    async def create_schema(self) -> SchemaVersion:
        """Upgrades the database to this version's schema, in place (honk.store.migrations.runner):
        all revisions for a new one, the missing ones for an old one, nothing when it is current.
        Safe to call from the server and every worker at once."""
        return await migrations.upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- repos --------------------------------------------------------------------------
    async def add_repo(self, repo: RepoRef) -> bool:
        """Adds the repo; returns False when one with the same name already exists."""
        async with self.writing() as s:
            s.add(
                RepoRow(
                    name=repo.name,
                    url=repo.url,
                    branch=repo.branch,
                    created_at=_now(),
                    forge=repo.forge.model_dump() if repo.forge else None,
                )
            )
            try:
                await s.commit()
            except IntegrityError:
                return False
        return True

    async def get_repo(self, name: str) -> RepoRef | None:
        async with self._session() as s:
            row = await s.get(RepoRow, name)
        return _repo(row) if row else None

    async def list_repos(self) -> list[RepoRef]:
        async with self._session() as s:
            rows = (await s.scalars(select(RepoRow).order_by(RepoRow.name))).all()
        return [_repo(r) for r in rows]

    # -- tasks --------------------------------------------------------------------------
    async def create_task(self, req: TaskRequest, branch: str, first: Sequence[AnyEvent] = ()) -> tuple[TaskView, bool]:
        """Records a new task, and its `first` events (its acceptance) in the same transaction: one write, and
        no task without them; an existing one with the same id is returned instead (created=False), and
        nothing is written."""
        existing = await self.get_task(req.task_id)
        if existing:
            return existing, False
        now = _now()
        clean = tuple(redactor().record(ev) for ev in first)  # as `append` keeps them
        row = TaskRow(
            id=req.task_id,
            request_id=req.request_id,
            repo=req.repo.name,
            text=req.text,
            state=TaskState.queued.value,
            requested_by=req.requested_by,
            front_door=req.front_door,
            agent=req.agent,
            model=req.model,
            branch=branch,
            created_at=now,
            updated_at=now,
            artifacts=[],
        )
        async with self.writing() as s:
            s.add(row)
            events = [
                EventRow(task_id=req.task_id, at=now, kind=ev.kind, data=ev.model_dump(mode="json")) for ev in clean
            ]
            try:
                await s.flush()  # the task's row first: its events name it
                s.add_all(events)
                await s.flush()
            except IntegrityError:
                # Lost a race with an identical submission: that one is the task.
                await s.rollback()
                again = await self.get_task(req.task_id)
                assert again is not None
                return again, False
            if clean:
                await _fold(s, row, Timeline(), list(zip(clean, events, strict=True)))
            await s.commit()
        return _view(row), True

    async def delete_task(self, task_id: str) -> None:
        async with self.writing() as s:
            row = await s.get(TaskRow, task_id)
            if row:
                await s.delete(row)
                await s.commit()

    async def get_task(self, task_id: str) -> TaskView | None:
        async with self._session() as s:
            row = await s.get(TaskRow, task_id)
        return _view(row) if row else None

    async def list_tasks(
        self,
        repo: str | None = None,
        state: TaskState | None = None,
        requested_by: str | None = None,
        limit: int = 100,
    ) -> list[TaskView]:
        q = select(TaskRow).order_by(TaskRow.created_at.desc()).limit(limit)
        if repo:
            q = q.where(TaskRow.repo == repo)
        if state:
            q = q.where(TaskRow.state == state.value)
        if requested_by:
            q = q.where(TaskRow.requested_by == requested_by)
        async with self._session() as s:
            rows = (await s.scalars(q)).all()
        return [_view(r) for r in rows]

    async def tasks_of(self, requested_by: str, since: datetime) -> list[TaskView]:
        q = select(TaskRow).where(TaskRow.requested_by == requested_by, TaskRow.created_at >= since)
        async with self._session() as s:
            return [_view(r) for r in (await s.scalars(q)).all()]

    async def state_counts(self) -> dict[str, int]:
        q = select(TaskRow.state, func.count()).group_by(TaskRow.state)
        async with self._session() as s:
            return {state: int(n) for state, n in (await s.execute(q)).all()}

    async def total_cost(self) -> float:
        async with self._session() as s:
            return float(await s.scalar(select(func.coalesce(func.sum(TaskRow.cost_usd), 0.0))) or 0.0)

    async def count_active(self, requested_by: str) -> int:
        ended = [s.value for s in TaskState if s.terminal]
        q = (
            select(func.count())
            .select_from(TaskRow)
            .where(TaskRow.requested_by == requested_by, TaskRow.state.not_in(ended))
        )
        async with self._session() as s:
            return int(await s.scalar(q) or 0)

    async def config_problem(self, repo: str) -> str | None:
        """The `.honk.toml` problem that failed the repo's latest task, if its latest task failed on one."""
        q = select(TaskRow).where(TaskRow.repo == repo).order_by(TaskRow.created_at.desc()).limit(1)
        async with self._session() as s:
            latest = (await s.scalars(q)).first()
        if latest and latest.state == TaskState.failed.value and (latest.reason or "").startswith(".honk.toml"):
            return latest.reason
        return None

    # -- events -------------------------------------------------------------------------
    async def append(self, task_id: str, *events: AnyEvent) -> None:
        """Adds events to the task's history and folds them into its timeline, in one transaction.

        Appends that arrive while another is being written (a hundred tasks' steps on one worker, the
        server's submissions) are written together in the next transaction, each task's timeline read,
        folded and written once for all its new events: most of an append's cost is the transaction and
        the timeline's round trip, not the events. Returns once this append's events are stored."""
        loop = asyncio.get_running_loop()  # one batch per event loop, as for the write lock
        batch = self._appends.get(loop)
        if batch is None:
            batch = self._appends[loop] = WriteBatch(self._append_batch)
        clean = tuple(redactor().record(ev) for ev in events)  # nothing the store keeps shows a secret
        await batch.add((task_id, clean, _now()))  # when it happened, not when its batch is written

    async def _append_batch(self, items: Sequence[_Append]) -> list[Exception | None] | None:
        try:
            await self._append_together(items)
            return None
        except LookupError:
            if len(items) == 1:
                raise
        # An append to a task that does not exist (deleted meanwhile) failed the transaction: each on its
        # own, so only that one fails. Rare: it costs one transaction per append, as before batching.
        failed: list[Exception | None] = []
        for item in items:
            try:
                await self._append_together([item])
                failed.append(None)
            except LookupError as e:
                failed.append(e)
        return failed

    async def _append_together(self, items: Sequence[_Append]) -> None:
        # Each task's events in the order they were appended (the rows' ids keep that order).
        by_task: dict[str, list[tuple[AnyEvent, EventRow]]] = {}
        updated: dict[str, datetime] = {}
        for task_id, events, at in items:
            for ev in events:
                row = EventRow(task_id=task_id, at=at, kind=ev.kind, data=ev.model_dump(mode="json"))
                by_task.setdefault(task_id, []).append((ev, row))
            by_task.setdefault(task_id, [])
            updated[task_id] = max(at, updated.get(task_id, at))
        async with self.writing() as s:
            s.add_all(row for written in by_task.values() for _, row in written)
            try:
                # The inserts first: SQLite's write lock is then held before the tasks are read, and on
                # PostgreSQL the row locks below make concurrent writers of one task fold in turn.
                await s.flush()
            except IntegrityError:
                raise LookupError(f"no task among {sorted(by_task)}") from None
            ids = sorted(by_task)  # locked in one order by every writer: two batches cannot deadlock
            q = select(TaskRow).where(TaskRow.id.in_(ids)).order_by(TaskRow.id).with_for_update()
            tasks = {t.id: t for t in (await s.scalars(q)).all()}
            if missing := [i for i in ids if i not in tasks]:
                raise LookupError(f"no task {missing[0]}")
            for task_id, written in by_task.items():
                task = tasks[task_id]
                if task.timeline is None:  # written before timelines: its whole history, these events included
                    await _fold(s, task, Timeline.of(await self._history(s, task_id)), written, fold=False)
                else:
                    await _fold(s, task, Timeline.model_validate(task.timeline), written)
                task.updated_at = updated[task_id]
            await s.commit()

    async def task_of_pull_request(self, repo: str, number: int) -> str | None:
        """The task whose other repo `repo` (one change across several) has pull request `number` (the
        latest such task, should a number be recorded twice). 0 is no pull request's: a repo not published yet."""
        if number <= 0:
            return None
        q = (
            select(TaskRepoRow.task_id)
            .join(TaskRow, TaskRow.id == TaskRepoRow.task_id)
            .where(TaskRepoRow.repo == repo, TaskRepoRow.number == number)
            .order_by(TaskRow.created_at.desc())
            .limit(1)
        )
        async with self._session() as s:
            return (await s.scalars(q)).first()

    async def has_other_repo(self, task_id: str, repo: str) -> bool:
        """Whether `repo` is one of the task's other repos (one change across several)."""
        async with self._session() as s:
            return await s.get(TaskRepoRow, (task_id, repo)) is not None

    async def timeline(self, task_id: str) -> Timeline | None:
        """The task's one reading of its events (None: no such task)."""
        async with self._session() as s:
            task = await s.get(TaskRow, task_id)
            if task is None:
                return None
            if task.timeline is not None:
                return Timeline.model_validate(task.timeline)
            return Timeline.of(await self._history(s, task_id))

    async def event(self, event_id: int) -> StoredEvent | None:
        async with self._session() as s:
            row = await s.get(EventRow, event_id)
        return _stored(row) if row is not None else None

    @staticmethod
    async def _history(s: AsyncSession, task_id: str) -> list[StoredEvent]:
        q = select(EventRow).where(EventRow.task_id == task_id).order_by(EventRow.id)
        return [_stored(r) for r in (await s.scalars(q)).all()]

    async def events(self, task_id: str, after_id: int = 0, limit: int = 1000) -> list[StoredEvent]:
        q = (
            select(EventRow)
            .where(EventRow.task_id == task_id, EventRow.id > after_id)
            .order_by(EventRow.id)
            .limit(limit)
        )
        async with self._session() as s:
            rows: Sequence[EventRow] = (await s.scalars(q)).all()
        return [_stored(r) for r in rows]


async def _other_repos(s: AsyncSession, task_id: str, events: list[AnyEvent]) -> None:
    """A task's other repos as the lookup of forge events finds them (TaskRepoRow), in the transaction that
    records the events that say them: the task's acceptance names them, a repo's publication numbers its
    pull request."""
    for ev in events:
        if isinstance(ev, TaskAccepted):
            for repo in ev.also:
                if await s.get(TaskRepoRow, (task_id, repo)) is None:
                    s.add(TaskRepoRow(task_id=task_id, repo=repo, number=0))
        elif isinstance(ev, RepoPublished) and ev.number:
            row = await s.get(TaskRepoRow, (task_id, ev.repo))
            if row is None:
                s.add(TaskRepoRow(task_id=task_id, repo=ev.repo, number=ev.number))
            else:
                row.number = ev.number


def _stored(row: EventRow) -> StoredEvent:
    return StoredEvent(id=row.id, task_id=row.task_id, at=_utc(row.at), event=EVENT_ADAPTER.validate_python(row.data))


async def _fold(
    s: AsyncSession, task: TaskRow, timeline: Timeline, written: list[tuple[AnyEvent, EventRow]], fold: bool = True
) -> None:
    """The task's new events, just inserted, in its timeline and summary columns (`fold` False: `timeline` has
    them already) and in the lookup of its other repos: in the transaction that inserted them."""
    for ev, row in written if fold else []:
        timeline = timeline.fold(ev, row.id)
    _summarize(task, timeline)
    await _other_repos(s, task.id, [ev for ev, _ in written])


def _summarize(row: TaskRow, timeline: Timeline) -> None:
    """The task's summary columns (what lists and counts query) and its timeline, kept as one."""
    row.timeline = timeline.model_dump(mode="json")
    row.state = timeline.state.value
    row.reason, row.merged_commit, row.approved_by = timeline.reason, timeline.merged_commit, timeline.approved_by
    row.cost_usd, row.preview_url = timeline.cost_usd, timeline.preview_url
    row.artifacts = [a.model_dump() for a in timeline.artifacts]
    row.model = timeline.model or row.model


def _utc(moment: datetime) -> datetime:
    """SQLite gives back what it stored without the offset; every time Honk stores is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _view(row: TaskRow) -> TaskView:
    return TaskView(
        id=row.id,
        repo=row.repo,
        text=row.text,
        state=TaskState(row.state),
        requested_by=row.requested_by,
        agent=row.agent,
        model=row.model,
        branch=row.branch,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        reason=row.reason,
        merged_commit=row.merged_commit,
        approved_by=row.approved_by,
        cost_usd=row.cost_usd,
        preview_url=row.preview_url,
        artifacts=[Artifact(**a) for a in row.artifacts or []],
    )
