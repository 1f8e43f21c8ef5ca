"""Decisions: may this person request, follow up, merge or cancel here, with this agent, within limits;
may they manage the repo's secrets; may they deploy (or revert a deploy) now, or is the repo frozen.

Pure: the caller counts usage from the store and records refusals in the audit log. Every refusal
names the rule that refused (a stable dotted path into the policy file) and what the person can do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from honk.access.freeze import Freeze, in_force
from honk.access.rules import (
    ANYONE,
    GROUP,
    SLACK,
    Limits,
    PolicyFile,
    RepoRule,
    Usage,
    UserEntry,
    Who,
    dotted,
    load_file,
    parse_file,
)
from honk.domain import SCHEDULE_ACTIONS, TRIGGER_ACTIONS, Budget, PolicyPeople
from honk.errors import Forbidden

T = TypeVar("T")
N = TypeVar("N", int, float)

DAILY_RESET = "it resets at 00:00 UTC"
# What a refusal of an admin's action says the person may not do ("… may not set the secrets of calc").
ADMIN_VERBS = {
    "secret_set": "set the secrets of",
    "secret_list": "list the secrets of",
    "secret_remove": "remove the secrets of",
    "network_allow": "allow hosts for",
    "network_list": "list the hosts allowed for",
    "network_remove": "remove the hosts allowed for",
    **dict.fromkeys(SCHEDULE_ACTIONS, "manage the schedules of"),
    **dict.fromkeys(TRIGGER_ACTIONS, "manage triggers of"),
}


class Refused(Forbidden):
    """The policy (or the account's role) does not allow this; `rule` says which rule refused."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"Refused by policy rule {rule}: {detail}")
        self.rule, self.detail = rule, detail


@dataclass(frozen=True)
class _Person:
    """A Who as the policy knows them: every name they go by, their [users] entry and groups."""

    who: Who
    handles: frozenset[str]  # lower-cased: identity, email, slack:ID, and the [users] key's
    user: str | None  # the [users] key that matched
    entry: UserEntry | None
    groups: frozenset[str]

    @property
    def known(self) -> bool:
        return self.user is not None or bool(self.groups)

    @property
    def name(self) -> str:
        return self.who.identity


class Policy:
    def __init__(self, file: PolicyFile) -> None:
        self._file = file

    @classmethod
    def load(cls, path: Path) -> Policy:
        return cls(load_file(path))

    @classmethod
    def parse(cls, text: str, source: str = "policy") -> Policy:
        return cls(parse_file(text, source))

    @classmethod
    def open(cls) -> Policy:
        """No policy file: everyone may do everything, without limits or budget caps (and manage every
        repo's secrets, which a policy file gives nobody unless it says so)."""
        return cls(PolicyFile(allow_unknown=True, repos={ANYONE: RepoRule(admins=[ANYONE])}))

    # -- decisions ----------------------------------------------------------------------------
    def check_request(self, who: Who, repo: str, agent: str | None, model: str | None, usage: Usage) -> None:
        person, (principals, rule) = self._known(who), self._principals(repo, "requesters")
        if not self._any(person, principals):
            raise Refused(rule, f"{person.name} may not request tasks in {repo}; {_ask(principals)}.")
        self._check_agent(repo, agent, model)
        self._check_limits(person, usage)

    def check_follow_up(self, who: Who, repo: str, requested_by: str) -> None:
        person, (principals, rule) = self._known(who), self._principals(repo, "requesters")
        if self._is_requester(person, requested_by) or self._any(person, principals):
            return
        raise Refused(
            rule,
            f"{person.name} may not follow up on {requested_by}'s task in {repo}; {_ask([requested_by, *principals])}.",
        )

    def check_merge(self, who: Who, repo: str, requested_by: str) -> None:
        person, (principals, rule) = self._known(who), self._principals(repo, "mergers")
        if not self._any(person, principals):
            raise Refused(rule, f"{person.name} may not merge in {repo}; {_ask(principals)}.")
        two_person, rule = self._setting(repo, "two_person", lambda r: r.two_person, False)
        if two_person and self._is_requester(person, requested_by):
            others = [p for p in principals if not self._is_requester(self._person(_who(p)), requested_by)]
            raise Refused(
                rule,
                f"{person.name} requested this task, and {repo} needs a second person "
                f"to approve the merge; {_ask(others)}.",
            )

    def check_plan(self, who: Who, repo: str, requested_by: str, action: str) -> None:
        """Who may approve a task's plan, or ask for changes to it: its requester, or a merger."""
        person, (principals, rule) = self._known(who), self._principals(repo, "mergers")
        if self._is_requester(person, requested_by) or self._any(person, principals):
            return
        verb = "approve" if action == "approve" else "ask for changes to"
        raise Refused(
            rule,
            f"{person.name} may not {verb} {requested_by}'s plan in {repo}: only the requester or someone "
            f"who may merge there can; {_ask([requested_by, *principals])}.",
        )

    def lists(self, who: Who) -> bool:
        """Whether the policy names the person (under [users], by any of their handles, or in a group),
        whatever `allow_unknown` says: the forge front door obeys only such people."""
        return self._person(who).known

    def is_requester(self, who: Who, requested_by: str) -> bool:
        return self._is_requester(self._person(who), requested_by)

    def check_cancel(self, who: Who, repo: str, requested_by: str) -> None:
        person, (principals, rule) = self._known(who), self._principals(repo, "mergers")
        if self._is_requester(person, requested_by) or self._any(person, principals):
            return
        raise Refused(
            rule, f"{person.name} may not cancel {requested_by}'s task in {repo}; {_ask([requested_by, *principals])}."
        )

    def check_admin(self, who: Who, repo: str, action: str) -> None:
        """Who may manage a repo's secrets and the hosts allowed it beyond its `.honk.toml`: only those its
        `admins` name (nobody by default)."""
        person, (principals, rule) = self._known(who), self._principals(repo, "admins")
        if not self._any(person, principals):
            verb = ADMIN_VERBS.get(action, "manage")
            ask = _ask(principals) if principals else "nobody may until the access policy names its admins"
            raise Refused(rule, f"{person.name} may not {verb} {repo}; {ask}.")

    def check_deploy(self, who: Who, repo: str, now: datetime, *, revert: bool = False) -> None:
        """Who may deploy a merged change to a repo's production, or revert a deploy: its `deployers`
        (unset: whoever may merge there). A deploy also waits out the repo's freezes in force at `now`
        (an aware instant), unless the freeze's `allow` names the person; a revert, which puts back what
        was live, never waits for a freeze."""
        person = self._known(who)
        principals, rule = self._deployers(repo)
        if not self._any(person, principals):
            verb = "revert deploys of" if revert else "deploy"
            raise Refused(rule, f"{person.name} may not {verb} {repo}; {_ask(principals)}.")
        if revert:
            return
        for index, freeze in in_force(self._file.freeze, repo, now):
            if not self._any(person, freeze.allow):
                raise Refused(dotted("freeze", index), _frozen(repo, freeze, now))

    def frozen(self, repo: str, now: datetime) -> tuple[str, Freeze] | None:
        """The first freeze of `repo` in force at `now` and its rule (for a deploy that waits: its
        `Freeze.ends` says until when), or None."""
        found = in_force(self._file.freeze, repo, now)
        return (dotted("freeze", found[0][0]), found[0][1]) if found else None

    def check_agent(self, repo: str, agent: str, model: str | None) -> None:
        """For the agent and model the repo's config (or the server's default) chose after the request."""
        self._check_agent(repo, agent, model)

    def budget_cap(self, repo: str) -> Budget:
        """The most a task in `repo` may spend: per kind, the repo's table, else `*`'s, else the default."""
        tables = [r.budget for r in (self._file.repos.get(k) for k in (repo, ANYONE)) if r] + [self._file.budget]
        return Budget(
            max_turns=_first(t.max_turns for t in tables),
            max_cost_usd=_first(t.max_cost_usd for t in tables),
            timeout_s=_first(t.timeout_s for t in tables),
        )

    # -- people -------------------------------------------------------------------------------
    def _person(self, who: Who) -> _Person:
        handles = {who.identity}
        if who.email:
            handles.add(who.email)
        if who.slack_id:
            handles.add(SLACK + who.slack_id)
        lowered = {h.lower() for h in handles}
        user, entry = self._user(lowered)
        if user is not None and entry is not None:
            lowered.add(user.lower())
            if entry.slack:
                lowered.add(_slack_handle(entry.slack))
            lowered.update(f"{forge}:{login}".lower() for forge, login in _logins(entry))
        groups = {g for g, members in self._file.groups.items() if any(m.lower() in lowered for m in members)}
        groups.update(entry.groups if entry else [])
        return _Person(who, frozenset(lowered), user, entry, frozenset(groups))

    def _user(self, handles: set[str]) -> tuple[str | None, UserEntry | None]:
        for key, entry in self._file.users.items():
            if key.lower() in handles or (entry.slack and _slack_handle(entry.slack) in handles):
                return key, entry
            if any(f"{forge}:{login}".lower() in handles for forge, login in _logins(entry)):
                return key, entry
        return None, None

    def _known(self, who: Who) -> _Person:
        person = self._person(who)
        if not person.known and not self._file.allow_unknown:
            raise Refused(
                "users",
                f"{person.name} is not listed in the access policy; ask an admin to add "
                "you under [users] or to a group.",
            )
        return person

    def _matches(self, person: _Person, principal: str) -> bool:
        if principal == ANYONE:
            return person.known or self._file.allow_unknown
        if principal.startswith(GROUP):
            return principal[len(GROUP) :] in person.groups
        return principal.lower() in person.handles

    def _is_requester(self, person: _Person, requested_by: str) -> bool:
        # The requester may have asked from another front door: compare everything they go by.
        return bool(requested_by) and not person.handles.isdisjoint(self._person(_who(requested_by)).handles)

    # -- repo rules ---------------------------------------------------------------------------
    def _setting(self, repo: str, field: str, get: Callable[[RepoRule], T | None], default: T) -> tuple[T, str]:
        """A repo setting and the rule it came from: the repo's table, else `[repos."*"]`, else `default`."""
        for key in (repo, ANYONE):
            rule = self._file.repos.get(key)
            if rule is not None and (value := get(rule)) is not None:
                return value, dotted("repos", key, field)
        return default, dotted("repos", ANYONE, field)

    def _principals(self, repo: str, field: PolicyPeople) -> tuple[list[str], str]:
        if field == "requesters":
            return self._setting(repo, field, lambda r: r.requesters, [ANYONE])
        if field == "admins":
            return self._setting(repo, field, lambda r: r.admins, [])
        return self._setting(repo, field, lambda r: r.mergers, [ANYONE])

    def _deployers(self, repo: str) -> tuple[list[str], str]:
        deployers, rule = self._setting(repo, "deployers", lambda r: r.deployers, None)
        return (deployers, rule) if deployers is not None else self._principals(repo, "mergers")

    def _any(self, person: _Person, principals: list[str]) -> bool:
        return any(self._matches(person, p) for p in principals)

    def _check_agent(self, repo: str, agent: str | None, model: str | None) -> None:
        # None is the repo's or server's choice, checked again by check_agent once it is made.
        agents, rule = self._setting(repo, "agents", lambda r: r.agents, None)
        if agent is not None and agents is not None and agent not in agents:
            raise Refused(rule, f"agent {agent!r} is not allowed in {repo}; {_allowed(agents)}.")
        models, rule = self._setting(repo, "models", lambda r: r.models, None)
        if model is not None and models is not None and model not in models:
            raise Refused(rule, f"model {model!r} is not allowed in {repo}; {_allowed(models)}.")

    # -- limits -------------------------------------------------------------------------------
    def _limit(self, person: _Person, field: str, get: Callable[[Limits], N | None]) -> tuple[N | None, str]:
        if person.user is not None and person.entry is not None and (own := get(person.entry)) is not None:
            return own, dotted("users", person.user, field)
        return get(self._file.limits), dotted("limits", field)

    def _check_limits(self, person: _Person, usage: Usage) -> None:
        limit, rule = self._limit(person, "max_concurrent", lambda lim: lim.max_concurrent)
        if limit is not None and usage.active_tasks >= limit:
            raise Refused(
                rule,
                f"{person.name} has {_tasks(usage.active_tasks)} going and may have at most "
                f"{limit} at a time; wait for one to finish or cancel one.",
            )
        limit, rule = self._limit(person, "tasks_per_day", lambda lim: lim.tasks_per_day)
        if limit is not None and usage.tasks_today >= limit:
            raise Refused(
                rule,
                f"{person.name} has requested {_tasks(usage.tasks_today)} today and may request "
                f"at most {limit} a day; {DAILY_RESET}.",
            )
        usd, rule = self._limit(person, "usd_per_day", lambda lim: lim.usd_per_day)
        if usd is not None and usage.usd_today >= usd:
            raise Refused(
                rule,
                f"{person.name}'s tasks today have cost ${usage.usd_today:.2f} and may cost at "
                f"most ${usd:.2f} a day; {DAILY_RESET}.",
            )


def _frozen(repo: str, freeze: Freeze, now: datetime) -> str:
    why = f" ({freeze.reason})" if freeze.reason else ""
    ends = freeze.ends(now).strftime("%Y-%m-%d %H:%M UTC")
    then = f"deploy after it, or {_ask(freeze.allow)} to deploy now" if freeze.allow else "deploy after it"
    return f"deploys to {repo} are frozen{why} until {freeze.until()}, {ends}; {then}."


def _who(identity: str) -> Who:
    """A Who from an identity as tasks record it (`requested_by`): an email, slack:ID or a name."""
    slack = identity[len(SLACK) :] if identity.lower().startswith(SLACK) else None
    return Who(identity=identity, email=identity if "@" in identity else None, slack_id=slack)


def _logins(entry: UserEntry) -> list[tuple[str, str]]:
    return [(forge, login) for forge, login in (("github", entry.github), ("gitlab", entry.gitlab)) if login]


def _slack_handle(slack: str) -> str:
    return (slack if slack.lower().startswith(SLACK) else SLACK + slack).lower()


def _ask(principals: list[str]) -> str:
    named = list(dict.fromkeys(p for p in principals if p))
    if not named:
        return "nobody may; ask an admin to change the policy"
    return "ask one of: " + ", ".join("anyone listed in the policy" if p == ANYONE else p for p in named)


def _allowed(names: list[str]) -> str:
    return f"allowed: {', '.join(names)}" if names else "none are allowed; ask an admin to change the policy"


def _tasks(n: int) -> str:
    return f"{n} task" if n == 1 else f"{n} tasks"


def _first(values: Iterable[N | None]) -> N | None:
    return next((v for v in values if v is not None), None)
