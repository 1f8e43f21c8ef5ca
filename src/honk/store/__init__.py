"""Honk's own records: repos, tasks and their events (SQLAlchemy; SQLite embedded, PostgreSQL in production)."""

from honk.store.store import Store

__all__ = ["Store"]
