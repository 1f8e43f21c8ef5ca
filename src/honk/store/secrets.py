"""Repo secrets: values an admin gives a repo (`honk secret set`), kept encrypted, handed out by name
to the process that needs them (the worker, for its egress proxy), and never shown again.

Encryption is cryptography's Fernet (AES-128-CBC and HMAC-SHA256: authenticated, so a ciphertext changed
in the database fails instead of decrypting to something else) under MultiFernet, so keys rotate: the
first key encrypts, every key decrypts. What is encrypted names its repo and name too, so a ciphertext
copied into another row does not pass for that secret. Every value this process stores or decrypts is
added to its redactor (honk.redaction) first: from then on no writer shows it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from honk import redaction
from honk.domain import SecretInfo, SecretName
from honk.errors import UserFacingError
from honk.store.models import RepoSecretRow
from honk.store.store import Store

MAX_SECRET_BYTES = 64 * 1024
# Shorter values could not be told from ordinary words, so the redactor would not look for them
# (honk.redaction.needles): Honk could not keep them out of what it writes.
MIN_SECRET_CHARS = 8
KEY_SETTING = "HONK_SECRETS_KEY"
MAKE_A_KEY = 'python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
_NAME = TypeAdapter(SecretName)


def secret_name(name: str) -> str:
    """The name, if it may name a secret. A refusal never repeats it: a value pasted in its place must
    not end up in an error, a log line or the audit log."""
    try:
        return _NAME.validate_python(name)
    except ValidationError:
        raise UserFacingError(
            "A secret's name is made of A-Z, 0-9 and _, starts with a letter and has at most 64 "
            "characters, like NPM_TOKEN."
        ) from None


def secret_value(value: str) -> str:
    """The value, if Honk can keep it (and keep it out of everything it writes)."""
    if "\x00" in value:
        raise UserFacingError("A secret must not contain a NUL character.")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise UserFacingError("A secret must be valid Unicode text (it has a lone surrogate).") from None
    if size > MAX_SECRET_BYTES:
        raise UserFacingError(f"The secret is {size:,} bytes; the most Honk keeps is {MAX_SECRET_BYTES:,} (64 KiB).")
    if not value.strip():
        raise UserFacingError("The secret is empty.")
    if len(value.strip()) < MIN_SECRET_CHARS:
        raise UserFacingError(
            f"A secret must be at least {MIN_SECRET_CHARS} characters: Honk could not tell a shorter one "
            "from ordinary words, so it could not keep it out of logs and pages."
        )
    return value


class SecretKeys:
    """The Fernet keys repo secrets are encrypted with: `HONK_SECRETS_KEY`'s (the first encrypts, all
    decrypt), else the one in the data dir's key file, made (mode 0600) the first time something is
    encrypted. Read on first use; every key is added to the process's redactor."""

    def __init__(self, configured: list[str], key_file: Path) -> None:
        self._configured, self.key_file = configured, key_file
        self._cipher: MultiFernet | None = None

    @property
    def where(self) -> str:
        """Where this process's keys come from, for messages."""
        return KEY_SETTING if self._configured else f"{self.key_file} ({KEY_SETTING} is not set)"

    def encrypt(self, data: bytes) -> bytes:
        return self._keys(make=True).encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """Raises InvalidToken when no key opens it (or it was changed)."""
        return self._keys(make=False).decrypt(token)

    def rotate(self, token: bytes) -> bytes:
        """The same plaintext, encrypted again under the first key."""
        return self._keys(make=False).rotate(token)

    def _keys(self, make: bool) -> MultiFernet:
        if self._cipher is None:
            keys = self._configured or self._from_file(make)
            redaction.configure(keys)
            self._cipher = MultiFernet([self._fernet(key, i, len(keys)) for i, key in enumerate(keys)])
        return self._cipher

    def _fernet(self, key: str, index: int, count: int) -> Fernet:
        try:
            return Fernet(key.encode("ascii", errors="replace"))
        except ValueError:
            if not self._configured:
                raise UserFacingError(
                    f"{self.key_file} does not hold a key for repo secrets (32 bytes in URL-safe base64): "
                    f"restore it from a backup, or set {KEY_SETTING} to the key the secrets were stored with."
                ) from None
            raise UserFacingError(
                f"{KEY_SETTING} holds a value that is not a key for repo secrets (key {index + 1} of {count}): "
                f"each is 32 bytes in URL-safe base64, keys are separated by commas. Make one with {MAKE_A_KEY}."
            ) from None

    def _from_file(self, make: bool) -> list[str]:
        if not self.key_file.exists():
            if not make:
                raise UserFacingError(
                    f"This process has no key for repo secrets: {KEY_SETTING} is not set and {self.key_file} "
                    f"does not exist. Set {KEY_SETTING} to the key the server uses (the content of its "
                    "repo-secrets.key, or its own HONK_SECRETS_KEY)."
                )
            _make_key_file(self.key_file)
        try:
            return [self.key_file.read_text(encoding="ascii").strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise UserFacingError(f"Cannot read the key for repo secrets, {self.key_file}: {e}.") from None


def _make_key_file(path: Path) -> None:
    """A new key, readable only by Honk's user. Processes sharing the data dir may start at once: the
    file appears whole or not at all (a hard link refuses to replace), and the first one made is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(draft, 0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: its key is the one
    finally:
        draft.unlink(missing_ok=True)


class RepoSecrets:
    """Repo secrets in Honk's store. Nothing here decides who may: TaskService asks the gate first."""

    def __init__(self, store: Store, keys: SecretKeys) -> None:
        self._session, self._writing, self.keys = store._session, store.writing, keys

    async def put(self, repo: str, name: str, value: str, by: str) -> SecretInfo:
        """Sets (or replaces) a secret; the repo must exist."""
        name, value = secret_name(name), secret_value(value)
        redaction.configure([value])  # before anything could write it anywhere
        token = self.keys.encrypt(_sealed(repo, name, value))
        for attempt in range(2):
            now = datetime.now(UTC)
            async with self._writing() as s:
                row = await s.get(RepoSecretRow, (repo, name))
                if row is None:
                    row = RepoSecretRow(
                        repo=repo, name=name, ciphertext=token, created_at=now, updated_at=now, updated_by=by
                    )
                    s.add(row)
                else:
                    row.ciphertext, row.updated_at, row.updated_by = token, now, by
                try:
                    await s.commit()
                except IntegrityError:
                    if attempt:
                        raise
                    continue  # someone else made it just now: replace theirs
            return _info(row)
        raise AssertionError("unreachable")

    async def names(self, repo: str) -> list[SecretInfo]:
        """The repo's secrets by name, with when and by whom each was set: never their values."""
        q = select(RepoSecretRow).where(RepoSecretRow.repo == repo).order_by(RepoSecretRow.name)
        async with self._session() as s:
            return [_info(r) for r in (await s.scalars(q)).all()]

    async def remove(self, repo: str, name: str) -> bool:
        """False when the repo has no secret of that name."""
        async with self._writing() as s:
            result = await s.execute(
                delete(RepoSecretRow).where(RepoSecretRow.repo == repo, RepoSecretRow.name == name)
            )
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a DELETE's CursorResult

    async def values(self, repo: str, names: Iterable[str]) -> dict[str, str]:
        """The values of those of `names` the repo has (a missing one is simply absent, for the caller
        to name), decrypted, and from now on redacted from everything this process writes. A value no
        key of this process opens is a UserFacingError saying which setting to fix."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        q = select(RepoSecretRow).where(RepoSecretRow.repo == repo, RepoSecretRow.name.in_(wanted))
        async with self._session() as s:
            rows = (await s.scalars(q)).all()
        found = {row.name: self._open(row) for row in rows}
        redaction.configure(found.values())
        return found

    async def redact_stored(self) -> str | None:
        """Adds every stored value this process can decrypt to its redactor (the server, at start-up);
        says which it cannot, and why, or None."""
        async with self._session() as s:
            rows = (await s.scalars(select(RepoSecretRow).order_by(RepoSecretRow.repo, RepoSecretRow.name))).all()
        opened, unreadable, why = [], [], ""
        for row in rows:
            try:
                opened.append(self._open(row))
            except UserFacingError as e:
                unreadable.append(f"{row.repo}/{row.name}")
                why = why or e.message
        redaction.configure(opened)
        if not unreadable:
            return None
        shown = ", ".join(unreadable[:10]) + (f" and {len(unreadable) - 10} more" if len(unreadable) > 10 else "")
        return f"{len(unreadable)} repo secret(s) cannot be decrypted ({shown}); tasks that use them will fail. {why}"

    async def rotate(self) -> int:
        """Encrypts every secret again under the first key, so older keys can be dropped; returns how
        many. All of them must decrypt first: otherwise nothing is changed."""
        async with self._writing() as s:
            rows = (await s.scalars(select(RepoSecretRow))).all()
            for row in rows:
                self._open(row)
            for row in rows:
                row.ciphertext = self.keys.rotate(row.ciphertext)
            await s.commit()
        return len(rows)

    def _open(self, row: RepoSecretRow) -> str:
        try:
            sealed = json.loads(self.keys.decrypt(row.ciphertext))
        except InvalidToken:
            raise UserFacingError(
                f"Repo secret {row.name} of {row.repo} cannot be decrypted with this process's key "
                f"({self.keys.where}): it was stored under another key. Put that key in {KEY_SETTING} (after "
                f"the current one, when rotating), or set the secret again: honk secret set {row.repo} {row.name}"
            ) from None
        if not isinstance(sealed, dict) or (sealed.get("repo"), sealed.get("name")) != (row.repo, row.name):
            raise UserFacingError(
                f"Repo secret {row.name} of {row.repo} was stored for another repo or name (its row was "
                f"changed outside Honk): set it again with honk secret set {row.repo} {row.name}"
            )
        return str(sealed["value"])


def _sealed(repo: str, name: str, value: str) -> bytes:
    return json.dumps({"repo": repo, "name": name, "value": value}).encode()


def _info(row: RepoSecretRow) -> SecretInfo:
    return SecretInfo(
        name=row.name, created_at=_aware(row.created_at), updated_at=_aware(row.updated_at), updated_by=row.updated_by
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no time zone; Honk writes UTC
