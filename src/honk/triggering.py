"""Triggers: a URL that starts a preset task from any tool that can send an HTTP POST (an alert, a bug tracker,
a cron job elsewhere), as the person who made it (`honk hook create NAME --repo R --prompt P`).

Who may make one: the repo's admins (the access policy's `admins`, as for its secrets and hosts). A trigger
starts tasks as its maker from wherever its URL reaches, with no sign-in, so it is a standing grant of their
right to request; each task it starts is still asked of the gate as theirs (their limits, their repos), so a
maker who loses the right to request loses their triggers with it.

The token is 32 random bytes (urlsafe), kept only as its SHA-256 digest and looked up by it, rather than a
token signed with the server's key (itsdangerous): a signed token needs the store anyway to be revoked one
by one, a leak of the signing key would mint every trigger's URL at once, and a copy of the database would
hold working URLs if it held the tokens. A digest of 256 random bits is safe to keep and to compare in the
database: it cannot be worked back, and nothing about a guess is learned from a lookup. The URL is shown
once; a lost URL is a trigger deleted and made again.

What the caller sends (JSON or text, up to MAX_TRIGGER_PAYLOAD bytes; the web route answers 413 past it)
reaches the agent as a file, `trigger-payload.txt`, fenced as reference material from the requester (the
agent's prompt does that to every attachment): the caller is a tool, and its words are never instructions.
JSON that does not parse is passed on as the text it is — an alert that sends broken JSON still gets its
task. An `Idempotency-Key` makes a retry the same task (its request id, within this one trigger).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime

from honk import attachments
from honk.access import Who
from honk.accounts import Accounts
from honk.agents import AGENT_NAMES
from honk.domain import (
    MAX_REQUEST_CHARS,
    MAX_TRIGGER_PAYLOAD,
    TRIGGER_NAME,
    Origin,
    TriggerFired,
    TriggerInfo,
    TriggerMade,
)
from honk.errors import Forbidden, NotFound, UserFacingError
from honk.gate import Actor
from honk.redaction import redact
from honk.service import TaskService
from honk.store.triggers import Triggers

TRIGGER_PATH = "/hooks/trigger/"
PAYLOAD_NAME = "trigger-payload.txt"
MAX_TOKEN_CHARS = 100  # what a caller's token may be before it is even looked up (ours are 43)
MAX_IDEMPOTENCY_KEY = 100
_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")  # printable ASCII, no spaces


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Triggering:
    """Made by the composition root for the server's life (`WebParts.triggers`)."""

    def __init__(self, service: TaskService, accounts: Accounts) -> None:
        self.service, self.accounts = service, accounts
        self.triggers = Triggers(service.store)

    # -- made, listed and deleted by the repo's admins ---------------------------------------------------
    async def create(self, actor: Actor, name: str, repo: str, prompt: str, agent: str | None = None) -> TriggerMade:
        if not re.fullmatch(TRIGGER_NAME, name):
            raise UserFacingError(
                f"Trigger name {name!r} is not allowed: up to 64 letters, digits, '.', '_' and '-', starting with "
                "a letter or digit."
            )
        prompt = redact(prompt.strip())  # a pasted token never reaches the agent, the history or a page

        async def make(repo_name: str) -> TriggerMade:
            if not prompt:
                raise UserFacingError("The trigger's prompt is empty: say what the task it starts should do.")
            if len(prompt) > MAX_REQUEST_CHARS:
                raise UserFacingError(f"The trigger's prompt is longer than {MAX_REQUEST_CHARS:,} characters.")
            if agent is not None and agent not in AGENT_NAMES:
                raise UserFacingError(f"Unknown agent {agent!r}; available: {', '.join(AGENT_NAMES)}.")
            token = secrets.token_urlsafe(32)
            made = await self.triggers.add(name, repo_name, prompt, agent, digest(token), actor.identity)
            return TriggerMade(trigger=made, url=f"{self._base()}{TRIGGER_PATH}{token}")

        # The gate checks the maker (the repo's admins) and the audit log keeps the trigger, never its URL.
        return await self.service.managed("trigger_create", actor, repo, f"made trigger {name}", make)

    async def listed(self, repo: str | None = None) -> list[TriggerInfo]:
        if repo is not None:
            repo = (await self.service.repo(repo)).name
        return await self.triggers.listed(repo)

    async def delete(self, actor: Actor, name: str) -> TriggerInfo:
        found = await self.triggers.get(name)
        if found is None:
            raise NotFound(f"No trigger named {name!r} (`honk hook list` shows them).")

        async def remove(_: str) -> TriggerInfo:
            await self.triggers.remove(name)
            return found

        return await self.service.managed("trigger_delete", actor, found.repo, f"deleted trigger {name}", remove)

    # -- fired by whoever holds the URL ------------------------------------------------------------------
    async def find(self, token: str) -> TriggerInfo:
        """The trigger `token` opens; NotFound (and nothing else said) for any other token."""
        found = await self.triggers.by_digest(digest(token)) if 0 < len(token) <= MAX_TOKEN_CHARS else None
        if found is None:
            raise NotFound("Not Found")
        return found

    async def fire(
        self,
        trigger: TriggerInfo,
        payload: bytes,
        content_type: str = "",
        idempotency_key: str | None = None,
    ) -> TriggerFired:
        """Starts the trigger's task as its maker (with their account's role, where there are accounts), with
        what the caller sent as a file. The same `idempotency_key` again is the same task: nothing new starts.
        `payload` is within MAX_TRIGGER_PAYLOAD: the web route reads no more than that (413)."""
        assert len(payload) <= MAX_TRIGGER_PAYLOAD, "the caller reads the body within the cap"
        request_id = None
        if idempotency_key is not None:
            if not _KEY.fullmatch(idempotency_key):
                raise UserFacingError(
                    f"The Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters."
                )
            # Within this one trigger (one made again under the same name is another): its name and birth.
            request_id = f"trigger:{trigger.name}:{trigger.created_at.timestamp():.6f}:{idempotency_key}"
        maker = trigger.created_by
        account = await self.accounts.user(maker)
        if account is None and not self.service.settings.access.anonymous:
            raise Forbidden(
                f"{maker}, who made trigger {trigger.name}, has no account here any more; a repo admin makes it again."
            )
        role = account.role if account is not None else None
        actor = Actor(who=Who(identity=maker, email=maker if "@" in maker else None), front_door="trigger", role=role)
        origin = Origin(kind="trigger", detail=f"trigger {trigger.name} (made by {maker})"[:300])
        files = [payload_file(trigger.name, payload, content_type)] if payload.strip() else []
        view, created = await self.service.submit(
            trigger.repo, trigger.prompt, actor, trigger.agent, request_id=request_id, files=files, origin=origin
        )
        if created:
            await self.triggers.fired(trigger.name)
        return TriggerFired(task_id=view.id, url=f"{self._base()}/tasks/{view.id}", created=created)

    def _base(self) -> str:
        return self.service.settings.base_url.rstrip("/")


def payload_file(name: str, payload: bytes, content_type: str) -> attachments.Incoming:
    """What the caller sent, as text the agent reads (never refused: bytes that are not UTF-8 are replaced,
    NULs dropped), under a line that says where it came from. JSON that parses is indented for reading."""
    text = payload.decode("utf-8", errors="replace").replace("\x00", "")
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        pass  # not JSON, or broken JSON: passed on as the text it is
    kind = re.sub(r"[^\x20-\x7e]", "", content_type)[:100] or "none"
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    head = f"Sent to trigger {name} at {at} (Content-Type: {kind}) by whatever tool holds its URL.\n\n"
    return attachments.Incoming(name=PAYLOAD_NAME, data=redact(head + text).encode())
