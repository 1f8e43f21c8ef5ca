"""The store's migrations, on SQLite and PostgreSQL: they make exactly the models' schema, upgrade a
database from before migrations in place, survive concurrent start-ups, and keep the audit log
append-only."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.exc import DBAPIError

from honk.domain import RepoRef, TaskRequest
from honk.errors import UserFacingError
from honk.events import WorkspacePreparing
from honk.store import AuditEntry, AuditLog, AuditQuery, Store
from honk.store.migrations import head
from honk.store.migrations.runner import config
from honk.store.models import Base
from honk.store.store import _sqlite_pragmas


def _differences(conn: Connection) -> list:
    return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def _refuses_rewrites(store: Store) -> None:
    """UPDATE and DELETE on the audit log fail, and its rows are still there, unchanged."""
    await AuditLog(store).add(AuditEntry(actor="ana@x", front_door="cli", action="merge", outcome="ok"))
    before = await AuditLog(store).find(AuditQuery())
    statements = ["UPDATE audit SET actor = 'eve'", "DELETE FROM audit"]
    if store.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement))
    assert await AuditLog(store).find(AuditQuery()) == before
    assert before[0].actor == "ana@x"


async def test_migrations_make_exactly_the_models_schema(store_url: str):
    store = Store(store_url)
    try:
        version = await store.create_schema()
        assert (version.before, version.after, version.adopted) == (None, head(), False)
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            assert await conn.run_sync(_revision) == head()
        again = await store.create_schema()
        assert (again.before, again.after) == (head(), head()), "a current database is left alone"
    finally:
        await store.close()


async def test_the_audit_log_is_append_only(store_url: str):
    store = Store(store_url)
    try:
        await store.create_schema()
        await _refuses_rewrites(store)
    finally:
        await store.close()


async def test_foreign_keys_still_hold_after_migrating(store_url: str):
    """On SQLite the migration runs with foreign keys off; the store's own connections have them on."""
    store = Store(store_url)
    try:
        await store.create_schema()
        await store.create_task(
            TaskRequest(
                task_id="t-1", request_id="r-1", repo=RepoRef(name="calc", url="/x"), text="go", requested_by="ana@x"
            ),
            "honk/t-1",
        )
        await store.append("t-1", WorkspacePreparing())
        await store.delete_task("t-1")
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM events"))).scalar() == 0, "the delete cascaded"
    finally:
        await store.close()


async def test_every_revision_downgrades_and_upgrades_again(store_url: str):
    store = Store(store_url)
    try:
        await store.create_schema()
        async with store.engine.connect() as conn:
            await conn.run_sync(lambda c: command.downgrade(config(c), "base"))
            await conn.commit()
            assert set(await conn.run_sync(lambda c: inspect(c).get_table_names())) <= {"alembic_version"}
        await store.create_schema()
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
        await _refuses_rewrites(store)
    finally:
        await store.close()


def _made_before_migrations(revision: str):  # noqa: ANN202 - a run_sync callable
    """A database as `Store.create_schema` left it before Honk had migrations: its `create_all` made
    exactly the schema of revision 0001 (before the audit log) or 0002 (the last version without
    migrations), with no alembic_version. Built from the revision, not from today's models, so later
    revisions (new columns) do not leak into the "old" database."""

    def build(conn: Connection) -> None:
        command.upgrade(config(conn), revision)
        conn.exec_driver_sql("DROP TABLE alembic_version")

    return build


# Rows as the old version wrote them: plain SQL, only the columns it knew.
_OLD_ROWS = [
    "INSERT INTO repos (name, url, branch, created_at) VALUES ('calc', '/srv/calc', 'main', '2026-01-02 03:04:05')",
    "INSERT INTO tasks (id, request_id, repo, text, state, requested_by, front_door, branch, created_at, updated_at, "
    "artifacts) VALUES ('t-old', 'r-old', 'calc', 'fix the sum', 'ready', 'ana@x', 'cli', 'honk/t-old', "
    "'2026-01-02 03:04:05', '2026-01-02 03:04:05', '[]')",
]


async def test_a_database_from_before_migrations_is_upgraded_in_place(store_url: str):
    store = Store(store_url)
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(_made_before_migrations("0001"))
            for row in _OLD_ROWS:
                await conn.execute(text(row))

        version = await store.create_schema()

        assert (version.before, version.after, version.adopted) == ("0001", head(), True)
        assert [(r.name, r.url) for r in await store.list_repos()] == [("calc", "/srv/calc")]
        assert [(t.id, t.text) for t in await store.list_tasks()] == [("t-old", "fix the sum")]
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
        await _refuses_rewrites(store)
    finally:
        await store.close()


async def test_a_database_from_before_migrations_with_the_audit_log_is_only_stamped(store_url: str):
    store = Store(store_url)
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(_made_before_migrations("0002"))
            for row in _OLD_ROWS:
                await conn.execute(text(row))
            await conn.execute(
                text(
                    "INSERT INTO audit (at, actor, front_door, action, outcome, detail) "
                    "VALUES ('2026-01-02 03:04:05', 'bo@x', 'web', 'request', 'ok', '')"
                )
            )

        version = await store.create_schema()

        assert (version.before, version.after, version.adopted) == ("0002", head(), True)
        assert [t.id for t in await store.list_tasks()] == ["t-old"]
        assert [e.actor for e in await AuditLog(store).find(AuditQuery())] == ["bo@x"]
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
        await _refuses_rewrites(store)
    finally:
        await store.close()


async def test_concurrent_start_ups_migrate_once(store_url: str, tmp_path: Path):
    """Like a server and workers starting together: three processes upgrade one new database."""
    env = {**os.environ, "HONK_DATABASE_URL": store_url, "HONK_DATA_DIR": str(tmp_path / "data")}
    honk = [sys.executable, "-c", "from honk.composition.main import main; main()", "db", "upgrade"]
    procs = [
        subprocess.Popen(honk, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert sum("upgraded from empty" in out for out in outputs) == 1, outputs
    if password := make_url(store_url).password:
        assert not any(password in out for out in outputs), "the password is not shown"
    store = Store(store_url)
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await store.close()


async def test_concurrent_create_schema_on_two_engines(store_url: str):
    stores = [Store(store_url), Store(store_url)]
    try:
        versions = await asyncio.gather(*(s.create_schema() for s in stores))
        assert sorted(v.before or "" for v in versions) == ["", head()], "one migrates, the other finds it done"
        await _refuses_rewrites(stores[1])
    finally:
        for s in stores:
            await s.close()


def test_a_connection_opening_while_another_switches_a_new_database_to_wal_waits(tmp_path: Path):
    """SQLite refuses a WAL switch at once, without its busy handler, while another connection holds
    a new database's write lock; the store's connect hook waits it out (CI once failed here)."""
    path = tmp_path / "new.db"
    first = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    first.execute("BEGIN IMMEDIATE")  # still a rollback journal: the lock a switch to WAL takes
    first.execute("CREATE TABLE t (x)")
    second = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.execute("PRAGMA busy_timeout=5000").close()
        second.execute("PRAGMA journal_mode=WAL")  # the bare pragma does not wait
    release = threading.Timer(0.2, lambda: first.execute("COMMIT"))
    release.start()
    try:
        _sqlite_pragmas(second, busy_timeout_ms=5000)
    finally:
        release.join()
    assert second.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert second.execute("SELECT count(*) FROM t").fetchone() == (0,)
    first.close()
    second.close()


async def test_a_database_from_a_newer_honk_is_refused(store_url: str):
    store = Store(store_url)
    try:
        await store.create_schema()
        async with store.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(UserFacingError, match="revision 9999"):
            await store.create_schema()
    finally:
        await store.close()
