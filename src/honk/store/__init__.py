"""Honk's own records: repos, tasks and their events (SQLAlchemy; SQLite embedded, PostgreSQL in production)."""

from honk.store.audit import AuditEntry, AuditLog, AuditQuery  # noqa: E402 - registers the audit table's triggers
from honk.store.store import Store

__all__ = ["AuditEntry", "AuditLog", "AuditQuery", "Store"]
