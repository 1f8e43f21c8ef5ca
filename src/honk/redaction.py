"""The one redaction path: no secret is ever shown.

Every writer passes what it writes through here before anything is stored or sent: events and
transcripts (the store), the audit log, log records (whoever logs them), Slack messages, pull request
bodies and comments, commit messages, and what the key proxy forwards to the model. Two kinds of
needle: every secret value this process was configured with (tokens, signing secrets, API keys,
passwords in URLs; a multi-line one line by line), and well-known token shapes whoever they belong to.

The process's redactor is configured once, at start-up, by the composition root (`configure`);
until then (and in tests) it knows the token shapes only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

MASK = "[redacted]"
# GitHub (classic, fine-grained, app, OAuth, refresh), GitLab, Slack (bot, user, app-level, config),
# Anthropic. Long enough after the prefix that ordinary words do not match.
TOKEN_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:gh[pousr]_|github_pat_|glpat-|xox[abpre]-|xapp-|sk-ant-)[A-Za-z0-9_\-]{8,}"
    r"|(?<=/hooks/trigger/)[A-Za-z0-9_\-]{20,}"  # a trigger URL's token (`honk hook create`): the URL is the secret
)
M = TypeVar("M", bound=BaseModel)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.needles = needles(secrets)

    def text(self, value: str) -> str:
        for needle in self.needles:
            if needle in value:
                value = value.replace(needle, MASK)
        return TOKEN_SHAPES.sub(MASK, value)

    def json(self, value: Any) -> Any:
        """Every string in a JSON-shaped value (dict keys stay as they are)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value

    def record(self, record: M) -> M:
        """A copy of a typed record with every string field redacted (the same record when clean)."""
        data = record.model_dump(mode="json")
        clean = self.json(data)
        return record if clean == data else type(record).model_validate(clean)

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        return Redactor([*self.needles, *secrets])


def needles(values: Iterable[str]) -> list[str]:
    """What to look for so that none of `values` gets out: each value, and each long line of a
    multi-line one (a PEM key is printed line by line). Short ones are skipped: they would match
    ordinary words, and no real credential is that short. Longest first, so no part is left."""
    found: set[str] = set()
    for value in values:
        found |= {part for part in (value, *value.splitlines()) if len(part.strip()) >= 8}
    return sorted(found, key=len, reverse=True)


_process = Redactor()


def configure(secrets: Iterable[str]) -> Redactor:
    """From now on, this process's redactor also knows these values (called once at start-up)."""
    global _process
    _process = _process.with_secrets(secrets)
    return _process


def redactor() -> Redactor:
    return _process


def redact(value: str) -> str:
    return _process.text(value)
