"""Honk's own records: repos, tasks and their events (SQLAlchemy; SQLite embedded, PostgreSQL in production)."""

from honk.store.attachments import AttachmentStore
from honk.store.audit import AuditEntry, AuditLog, AuditQuery
from honk.store.deploys import DeployHistory
from honk.store.network import NetworkAllowances
from honk.store.previews import PreviewRegistry
from honk.store.secrets import RepoSecrets, SecretKeys
from honk.store.store import Store

__all__ = [
    "AttachmentStore",
    "AuditEntry",
    "AuditLog",
    "AuditQuery",
    "DeployHistory",
    "NetworkAllowances",
    "PreviewRegistry",
    "RepoSecrets",
    "SecretKeys",
    "Store",
]
