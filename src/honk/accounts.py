"""People and what they may do: users with roles, one-time sign-in links, API tokens, sessions.

Secrets handed out (links, tokens) are random; only their SHA-256 is stored. Session cookies and CSRF
tokens are HMACs under the server's secret key, so nothing session-shaped needs storing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select

from honk.domain import Record
from honk.errors import Conflict, UserFacingError
from honk.store import Store
from honk.store.models import TokenRow, UserRow

LOGIN_LINK_TTL = timedelta(minutes=15)
SESSION_TTL_S = 14 * 24 * 3600


class Role(StrEnum):
    requester = "requester"  # ask, follow up, cancel
    merger = "merger"  # …and merge
    admin = "admin"  # …and manage repos and people

    def allows(self, needed: Role) -> bool:
        order = [Role.requester, Role.merger, Role.admin]
        return order.index(self) >= order.index(needed)


class User(Record):
    email: str
    name: str
    role: Role


# Who is acting when the embedded loopback demo runs without accounts (explicitly configured).
ANONYMOUS = User(email="local", name="local", role=Role.admin)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_key(path: Path) -> bytes:
    """The server's signing key: generated once into the data dir (mode 0600), read at start-up. A server
    and workers sharing the data dir may start at once: the file appears whole (written aside, then
    hard-linked, which never replaces), and the first one made is the key every process reads."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process made it first: its key is the one
        finally:
            draft.unlink(missing_ok=True)
    return path.read_bytes()


def preview_link_key(configured: str | None, path: Path) -> bytes:
    """What preview links are signed with: HONK_PREVIEW_LINK_KEY (the same on the server and every worker
    that shares no data dir with it), else the server's key (the link's salt keeps the two uses apart)."""
    return configured.encode() if configured else secret_key(path)


class Accounts:
    def __init__(self, store: Store, key: bytes) -> None:
        self._session, self._writing, self._key = store._session, store.writing, key

    async def add_user(self, email: str, name: str, role: Role) -> User:
        email = email.strip().lower()
        if "@" not in email or len(email) > 200:
            raise UserFacingError(f"{email!r} is not an email address.")
        async with self._writing() as s:
            if await s.get(UserRow, email):
                raise Conflict(f"{email} already has an account.")
            s.add(UserRow(email=email, name=name or email.split("@")[0], role=role.value, created_at=datetime.now(UTC)))
            await s.commit()
        return User(email=email, name=name or email.split("@")[0], role=role)

    async def user(self, email: str) -> User | None:
        async with self._session() as s:
            row = await s.get(UserRow, email.strip().lower())
        return User(email=row.email, name=row.name, role=Role(row.role)) if row else None

    async def users(self) -> list[User]:
        async with self._session() as s:
            rows = (await s.scalars(select(UserRow).order_by(UserRow.email))).all()
        return [User(email=r.email, name=r.name, role=Role(r.role)) for r in rows]

    async def _issue(self, email: str, kind: str, ttl: timedelta | None) -> str:
        if await self.user(email) is None:
            raise UserFacingError(f"{email} has no account: `honk user add {email}` first.")
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + ttl if ttl else None
        async with self._writing() as s:
            s.add(TokenRow(digest=_digest(token), email=email.strip().lower(), kind=kind, expires_at=expires))
            await s.commit()
        return token

    async def login_link(self, email: str, base_url: str) -> str:
        return f"{base_url}/login/{await self._issue(email, 'login', LOGIN_LINK_TTL)}"

    async def api_token(self, email: str) -> str:
        return "honk_" + await self._issue(email, "api", None)

    async def redeem(self, token: str) -> User | None:
        """A sign-in link works once, before it expires."""
        now = datetime.now(UTC)
        async with self._writing() as s:
            row = await s.get(TokenRow, _digest(token))
            if row is None or row.kind != "login" or row.used_at is not None or _expired(row.expires_at, now):
                return None
            row.used_at = now
            await s.commit()
            email = row.email
        return await self.user(email)

    async def by_api_token(self, token: str) -> User | None:
        if not token.startswith("honk_"):
            return None
        async with self._session() as s:
            row = await s.get(TokenRow, _digest(token[5:]))
        return await self.user(row.email) if row and row.kind == "api" else None

    # -- sessions and CSRF (stateless, signed) ------------------------------------------------
    def session_cookie(self, user: User, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_TTL_S)
        body = f"{user.email}|{expires}"
        return f"{body}|{self._sign(body)}"

    async def from_session(self, cookie: str | None) -> User | None:
        if not cookie or cookie.count("|") != 2:
            return None
        email, expires, sig = cookie.split("|")
        body = f"{email}|{expires}"
        if not hmac.compare_digest(sig, self._sign(body)) or not expires.isdigit() or int(expires) < time.time():
            return None
        return await self.user(email)

    def csrf_token(self, cookie: str) -> str:
        return self._sign("csrf|" + cookie)

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.csrf_token(cookie or ""), token or "")

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


def _expired(at: datetime | None, now: datetime) -> bool:
    if at is None:
        return False
    return (at if at.tzinfo else at.replace(tzinfo=UTC)) < now
