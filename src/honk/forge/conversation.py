"""Honk talking on the forge (`protocols.ForgeConversation`): each call goes to the API client of the
repo's forge (`github_talk`, `gitlab_talk`); a repo on a plain git remote has nobody to talk to, so
its reads answer empty and its posts answer None.

What comes back is anyone's words on the forge: every text is cut to the domain records' bounds here
(a 100 kB comment arrives cut, never as an error), a log keeps its END (where it says what failed), and
what Honk posts passes through the one redaction path first.
"""

from __future__ import annotations

import re
from typing import Protocol

from honk.domain import (
    MAX_FORGE_TEXT,
    MAX_JOB_LOG,
    CheckConclusion,
    Discussion,
    JobLog,
    LineComment,
    RepoRef,
)
from honk.forge.hosted import HostedForge
from honk.forge.registry import Forges

CUT = "…"
# What Honk posts: GitHub takes 65,536 characters in a comment, GitLab 1,000,000; the smaller holds both.
MAX_POST_CHARS = 60_000
# A forge login as GitHub (39: letters, digits, hyphens) and GitLab (letters, digits, `_.-`) spell
# them; anything else is nobody's, and never reaches a URL.
LOGIN = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}")
MAX_FAILING_JOBS = 5  # a matrix that failed everywhere fails for one reason, usually


def cut(text: str | None, limit: int = MAX_FORGE_TEXT) -> str:
    """`text` within `limit` characters, its beginning kept (where a comment says what it wants)."""
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def fold(body: str, comments: list[LineComment]) -> str:
    """A review's body with the line comments the forge would not place (outside the diff) said in it."""
    said = [f"- `{c.path}`{f' line {c.line}' if c.line else ''}: {c.text}" for c in comments]
    return "\n\n".join(p for p in (body, "\n".join(said)) if p)


def tail(text: str, limit: int = MAX_JOB_LOG) -> str:
    """A log within `limit` characters, its END kept: the last lines say what failed."""
    return text if len(text) <= limit else CUT + text[-(limit - len(CUT)) :]


def login_ok(login: str) -> bool:
    return bool(LOGIN.fullmatch(login)) and not login.startswith(".") and ".." not in login


class Talk(Protocol):
    """One forge's side of the conversation, for one project (`github_talk.GitHubTalk`,
    `gitlab_talk.GitLabTalk`); `HostedConversation` finds the one of a repo."""

    async def discussion(self, number: int, pull_request: bool | None = None) -> Discussion: ...

    async def comment(self, number: int, text: str, pull_request: bool | None = None) -> str | None: ...

    async def review_comments(self, number: int, review_id: int | None = None) -> list[LineComment]: ...

    async def reply(self, number: int, comment_id: int, text: str, resolve: bool = False) -> None: ...

    async def review(self, number: int, commit: str, body: str, comments: list[LineComment]) -> str | None: ...

    async def may_edit(self, login: str) -> bool: ...

    async def failing_logs(self, commit: str, run_id: int | None = None) -> list[JobLog]: ...

    async def check(self, ref: str, name: str) -> CheckConclusion: ...


class HostedConversation:
    """`protocols.ForgeConversation` over the worker's (or server's) `Forges`: the clients, and so the
    credentials and HTTP sessions, are the ones the repo's forge already has.

    `pull_request` (discussion, comment): GitLab numbers issues and merge requests apart, so `#3` may be
    either; say which when known (a `ForgeThread` does). Unsaid, a merge request of that number is
    meant when there is one. GitHub numbers them together and needs no word."""

    def __init__(self, forges: Forges) -> None:
        self.forges = forges

    def _talk(self, repo: RepoRef) -> Talk | None:
        forge = self.forges.of(repo)
        if not isinstance(forge, HostedForge):
            return None
        client = forge.client
        # Made per call (a Talk holds the client and two names); imported here: each forge's library
        # is loaded only by the processes that talk to it.
        if client.kind == "github":
            from honk.forge.github import GitHubClient
            from honk.forge.github_talk import GitHubTalk

            assert isinstance(client, GitHubClient)
            return GitHubTalk(client)
        from honk.forge.gitlab import GitLabClient
        from honk.forge.gitlab_talk import GitLabTalk

        assert isinstance(client, GitLabClient)
        return GitLabTalk(client)

    async def discussion(self, repo: RepoRef, number: int, pull_request: bool | None = None) -> Discussion:
        talk = self._talk(repo)
        if talk is None:
            return Discussion(number=number, pull_request=bool(pull_request))
        return await talk.discussion(number, pull_request)

    async def comment(self, repo: RepoRef, number: int, text: str, pull_request: bool | None = None) -> str | None:
        talk = self._talk(repo)
        return None if talk is None else await talk.comment(number, text, pull_request)

    async def review_comments(self, repo: RepoRef, number: int, review_id: int | None = None) -> list[LineComment]:
        talk = self._talk(repo)
        return [] if talk is None else await talk.review_comments(number, review_id)

    async def reply(self, repo: RepoRef, number: int, comment_id: int, text: str, resolve: bool = False) -> None:
        talk = self._talk(repo)
        if talk is not None:
            await talk.reply(number, comment_id, text, resolve)

    async def review(
        self, repo: RepoRef, number: int, commit: str, body: str, comments: list[LineComment]
    ) -> str | None:
        talk = self._talk(repo)
        return None if talk is None else await talk.review(number, commit, body, comments)

    async def may_edit(self, repo: RepoRef, login: str) -> bool:
        talk = self._talk(repo)
        return talk is not None and login_ok(login) and await talk.may_edit(login)

    async def failing_logs(self, repo: RepoRef, commit: str, run_id: int | None = None) -> list[JobLog]:
        talk = self._talk(repo)
        return [] if talk is None else await talk.failing_logs(commit, run_id)

    async def check(self, repo: RepoRef, ref: str, name: str) -> CheckConclusion:
        talk = self._talk(repo)
        return "none" if talk is None else await talk.check(ref, name)
