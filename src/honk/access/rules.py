"""The access policy file: its typed tables, and loading it with errors that point at the mistake.

A policy that fails to load stops the server at start-up, so every problem names the file and where
in it (a line for TOML syntax, a dotted field path for the rest).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from pydantic import ConfigDict, Field, ValidationError

from honk.access.freeze import Freeze
from honk.domain import Budget, Record
from honk.errors import UserFacingError

ANYONE = "*"  # a principal: any person the policy knows (or anyone at all, with allow_unknown)
GROUP = "group:"
SLACK = "slack:"

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_AT = re.compile(r"^(?P<msg>.*?)\s*\(at (?P<where>line \d+, column \d+|end of document)\)$", re.DOTALL)


class InvalidPolicy(UserFacingError):
    """The policy file cannot be used; the message names the file and the line or field."""

    status_code = 422


class Who(Record):
    """The person acting, as a front door knows them."""

    identity: str  # how they appear in trailers and `requested_by`: "ada@example.com", "slack:U123"
    email: str | None = None
    slack_id: str | None = None


class Usage(Record):
    """What the person already has going, counted by the caller from the store."""

    active_tasks: int = 0  # not in a terminal state
    tasks_today: int = 0  # created since 00:00 UTC
    usd_today: float = 0.0  # agent cost of tasks created since 00:00 UTC


class BudgetTable(Budget):
    # A zero budget could only fail every task, so the file's budgets must be positive.
    model_config = ConfigDict(frozen=True, extra="forbid")
    max_turns: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)


class Limits(Record):
    """Per-person limits; None is unlimited. 0 is allowed: it stops the person requesting at all."""

    max_concurrent: int | None = Field(default=None, ge=0)
    tasks_per_day: int | None = Field(default=None, ge=0)
    usd_per_day: float | None = Field(default=None, ge=0)


class UserEntry(Limits):
    """`[users."ada@example.com"]`: how else the person appears, their groups, their own limits."""

    slack: str | None = None  # their Slack member id, "U123" (or "slack:U123")
    # Their logins on the forges: a comment of theirs there (`@honk …`) is theirs (a login the policy does
    # not list is refused there, whatever allow_unknown says: a forge is open to anyone who can comment).
    github: str | None = None
    gitlab: str | None = None
    groups: list[str] = []


class RepoRule(Record):
    """`[repos.NAME]`; an unset field falls back to `[repos."*"]`, then to the defaults below."""

    requesters: list[str] | None = None  # default ["*"]
    mergers: list[str] | None = None  # default ["*"]
    admins: list[str] | None = None  # who may set, list and remove its secrets; default: nobody
    deployers: list[str] | None = None  # who may deploy a merged change and revert a deploy; default: its mergers
    two_person: bool | None = None  # default false
    agents: list[str] | None = None  # default: any
    models: list[str] | None = None  # default: any
    budget: BudgetTable = BudgetTable()


class PolicyFile(Record):
    allow_unknown: bool = False  # people the policy does not list count as "*" instead of being refused
    users: dict[str, UserEntry] = {}
    groups: dict[str, list[str]] = {}
    limits: Limits = Limits()
    budget: BudgetTable = BudgetTable()
    repos: dict[str, RepoRule] = {}
    freeze: list[Freeze] = []  # [[freeze]]: when deploys to some repos wait (honk.access.freeze)


def dotted(*parts: str | int) -> str:
    """A field path as it would be written in TOML: repos.playlist.mergers, users."ada@example.com"."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{key}" if out else key
    return out


def parse_file(text: str, source: str) -> PolicyFile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        at = _TOML_AT.match(str(e))
        where, problem = (at["where"], at["msg"]) if at else ("TOML syntax", str(e))
        raise InvalidPolicy(f"Invalid policy file {source}, {where}: {problem}.") from e
    try:
        policy = PolicyFile.model_validate(raw)
    except ValidationError as e:
        raise InvalidPolicy(
            _listed(source, [f"{dotted(*err['loc'])}: {_explain(err['type'], err['msg'])}" for err in e.errors()])
        ) from e
    problems = list(_reference_problems(policy))
    if problems:
        raise InvalidPolicy(_listed(source, problems))
    return policy


def load_file(path: Path) -> PolicyFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidPolicy(f"Cannot read policy file {path}: {e}.") from e
    return parse_file(text, str(path))


def _explain(kind: str, msg: str) -> str:
    return "unknown key (check its spelling and which table it is in)" if kind == "extra_forbidden" else msg


def _listed(source: str, problems: list[str]) -> str:
    return f"Invalid policy file {source}:\n" + "\n".join(f"- {p}" for p in problems)


def _reference_problems(policy: PolicyFile) -> Iterator[str]:
    """Every group named anywhere must be a key of [groups], so a typo cannot quietly grant or deny."""
    known = set(policy.groups)
    for name, members in policy.groups.items():
        for i, member in enumerate(members):
            if member == ANYONE or member.startswith(GROUP):
                yield (
                    f"{dotted('groups', name, i)}: {member!r}: a group lists people (emails, slack:U…), "
                    "not '*' or other groups"
                )
    for email, user in policy.users.items():
        for i, group in enumerate(user.groups):
            if group not in known:
                yield (
                    f"{dotted('users', email, 'groups', i)}: group {group!r} is not defined in [groups]"
                    f"{_defined(known)}"
                )
    named: list[tuple[tuple[str | int, ...], list[str] | None]] = []
    for repo, rule in policy.repos.items():
        for field in ("requesters", "mergers", "admins", "deployers"):
            named.append((("repos", repo, field), getattr(rule, field)))
    named += [(("freeze", i, "allow"), f.allow) for i, f in enumerate(policy.freeze)]
    for where, principals in named:
        for i, principal in enumerate(principals or []):
            if principal.startswith(GROUP) and principal[len(GROUP) :] not in known:
                yield (
                    f"{dotted(*where, i)}: group {principal[len(GROUP) :]!r} is not "
                    f"defined in [groups]{_defined(known)}"
                )


def _defined(known: set[str]) -> str:
    return f" (defined: {', '.join(sorted(known))})" if known else " (there is no [groups] table)"
