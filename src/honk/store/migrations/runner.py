"""Bringing a database to this version's schema: new ones get every revision, old ones the rest.

The server and every worker call this at start-up, often at the same moment, so the whole
check-then-migrate runs under one database-wide lock, in one transaction (both SQLite and
PostgreSQL roll DDL back): whoever comes second waits, then finds the schema at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from honk.domain import Record
from honk.errors import UserFacingError

HERE = Path(__file__).parent

# The tables `create_all` made before Honk had migrations. A database holding them but no
# alembic_version was made that way; it has revision 0001's schema, and 0002's if it has `audit`.
PRE_MIGRATION_TABLES = frozenset(
    {
        "repos",
        "tasks",
        "events",
        "slack_threads",
        "slack_channels",
        "slack_seen_events",
        "slack_users",
        "users",
        "tokens",
    }
)

# Any fixed 64-bit number works; every Honk process must use the same one ("honkmigr" in ASCII).
ADVISORY_LOCK_KEY = 0x686F6E6B6D696772


class SchemaVersion(Record):
    before: str | None  # the revision found; None for an empty database
    after: str
    adopted: bool = False  # a database from before migrations was recognised and stamped


def config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration for Honk's revisions, with no alembic.ini: the scripts ship in the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolates %
    cfg.attributes["connection"] = connection
    return cfg


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    revision = _scripts().get_current_head()
    assert revision is not None
    return revision


async def upgrade(engine: AsyncEngine) -> SchemaVersion:
    async with engine.connect() as conn:
        try:
            version = await conn.run_sync(_upgrade)
            await conn.commit()
        finally:
            if conn.dialect.name == "sqlite":
                # It ran with foreign keys off (see _lock); the store's sessions get a fresh connection.
                await conn.invalidate()
    return version


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection) -> SchemaVersion:
    scripts = _scripts()
    target = scripts.get_current_head()
    assert target is not None
    if (found := _current(conn)) == target:
        # The usual start-up: nothing to do, and no write lock taken on a busy database.
        return SchemaVersion(before=target, after=target)
    _lock(conn)
    found = _current(conn)  # again: another process may have migrated while this one waited
    adopted = False
    if found is None:
        tables = set(inspect(conn).get_table_names())
        if tables & PRE_MIGRATION_TABLES:
            found, adopted = ("0002" if "audit" in tables else "0001"), True
            command.stamp(config(conn), found)
    if found is not None and found not in {s.revision for s in scripts.walk_revisions()}:
        raise UserFacingError(
            f"The database is at schema revision {found}, which this version of Honk does not "
            "know: a newer Honk has migrated it. Run that version, or restore a backup."
        )
    command.upgrade(config(conn), "head")
    if conn.dialect.name == "sqlite" and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").first()):
        raise RuntimeError(f"a migration left a row whose foreign key points nowhere: {tuple(broken)}")
    return SchemaVersion(before=found, after=target, adopted=adopted)


def _lock(conn: Connection) -> None:
    """Holds a database-wide lock for the rest of the connection's transaction."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # A transaction-level advisory lock: released by the commit (or by the connection dying),
        # so there is no unlock to forget. PostgreSQL's DDL is transactional: all or nothing.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        # BEGIN IMMEDIATE takes SQLite's write lock now rather than at the first write, so the
        # check above and the migration are one atomic step across processes; a second process
        # waits in busy_timeout (10 s, set per connection by the store), then finds the schema at
        # head. A retry loop instead would race between checking and creating. The driver does not
        # begin transactions before DDL itself, so this BEGIN is the one the store's commit ends.
        # Foreign keys go off first (SQLite ignores the pragma inside a transaction): batch
        # migrations rebuild a table by copy, drop and rename, and dropping `tasks` with them on
        # would cascade into its events. _upgrade checks the keys before committing.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    # Other databases: no lock. Honk supports SQLite and PostgreSQL; one process migrating is safe.
