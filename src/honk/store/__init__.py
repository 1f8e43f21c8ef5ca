"""Honk's own records: repos, tasks and their events (SQLAlchemy; SQLite embedded, PostgreSQL in production)."""

from honk.store.audit import AuditEntry, AuditLog, AuditQuery
from honk.store.store import Store

__all__ = ["AuditEntry", "AuditLog", "AuditQuery", "Store"]
