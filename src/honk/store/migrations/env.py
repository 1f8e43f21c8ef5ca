"""Alembic's entry point for Honk's store.

Honk runs the revisions itself (honk.store.migrations.runner), on a connection it has already
locked, handed over in `config.attributes["connection"]`: the revisions then run inside that
connection's transaction. Without one (a developer autogenerating a revision with alembic's
command API and a `sqlalchemy.url`), this opens its own async engine, as Honk's store does.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from honk.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode does that for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_own_engine(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Honk's migrations run against a database; there is no --sql mode.")
if (handed := context.config.attributes.get("connection")) is not None:
    _run(handed)
else:
    asyncio.run(_run_on_own_engine(context.config.get_main_option("sqlalchemy.url") or ""))
