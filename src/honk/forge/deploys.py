"""What a forge says of a merged commit for `[deploy] wait_for`, as Honk keeps it: the forge's words are
someone else's input (a CI job writes the description, any integration may post a status), so they are
bounded, made one line and redacted, and a link is kept only when it is an http(s) URL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from honk.domain import Awaited, ForgeDeployState, ForgeDeployStatus
from honk.errors import Forbidden, Unauthorized, UserFacingError
from honk.redaction import redact

# What several reports come to: no forge's "unsupported" or "none" (`verdict`).
Verdict = Literal["pending", "success", "failure"]
MAX_DETAIL_CHARS = 300
MAX_URL_CHARS = 2_000
# The plain remote's answer: nothing there says what happened after a push.
NO_STATUSES = "a plain git remote has no statuses or deployments: use [deploy] run (the command that deploys)"


def one_line(text: str | None, limit: int = MAX_DETAIL_CHARS) -> str:
    """The forge's description as one bounded line: control characters (an ANSI escape, a newline that
    would fake a second message line) become spaces."""
    if not text:
        return ""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return redact(cleaned)


def link(*candidates: str | None) -> str | None:
    """The first candidate that is an http(s) URL a person may follow (never `javascript:` or a file)."""
    for value in candidates:
        if not value or len(value) > MAX_URL_CHARS or not value.isprintable() or " " in value:
            continue
        try:
            parts = urlsplit(value)
        except ValueError:
            continue
        if parts.scheme in ("http", "https") and parts.hostname:
            return value
    return None


def verdict(states: Iterable[ForgeDeployStatus]) -> Verdict:
    """Several reports for one context (a commit status and a check run of the same name): any failure
    fails, all successes succeed, anything else is still pending."""
    seen = list(states)
    if "failure" in seen:
        return "failure"
    if seen and all(s == "success" for s in seen):
        return "success"
    return "pending"


def what(awaited: Awaited) -> str:
    if awaited.kind == "status":
        return f"the status {awaited.name!r}"
    return f"the deployment to {awaited.name!r}"


def unsupported(commit: str, reason: str) -> ForgeDeployState:
    return ForgeDeployState(status="unsupported", commit=commit, detail=reason)


def not_asked(forge: str, commit: str, awaited: Awaited, error: UserFacingError) -> ForgeDeployState:
    """A forge that could not be asked, as data. Refused credentials or permissions will not mend while
    Honk waits (unsupported: a person must act); anything else may (pending, with the problem)."""
    if isinstance(error, Unauthorized | Forbidden):
        reason = (
            f"{forge} did not let Honk read {what(awaited)} of commit {commit[:12]}: the forge token or app "
            "needs read access to commit statuses, checks and deployments"
        )
        return ForgeDeployState(status="unsupported", commit=commit, detail=reason, problem=str(error))
    return ForgeDeployState(status="pending", commit=commit, problem=str(error))
