"""Honk's conversation on GitLab: issues and merge requests, their notes, diff discussions, reviews (a
set of diff discussions and one note: GitLab has no review object to post), who may push, failing
jobs' traces and a job's verdict. The calls go through the repo's `GitLabClient` (its python-gitlab
session and token, in a worker thread, and its wording of refusals); the answers are read into the
small models below and bounded into the domain's records.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import requests
from gitlab.exceptions import GitlabError
from pydantic import BaseModel

from honk.domain import (
    MAX_JOB_LOG,
    MAX_THREAD_COMMENTS,
    CheckConclusion,
    Discussion,
    JobLog,
    LineComment,
    ThreadComment,
)
from honk.errors import NotFound, UserFacingError
from honk.forge.base import api_error
from honk.forge.conversation import MAX_FAILING_JOBS, MAX_POST_CHARS, cut, fold, tail
from honk.forge.deploys import link
from honk.forge.gitlab import STATES, GitLabClient
from honk.redaction import redact

PAGE = 100
MAX_DISCUSSION_PAGES = 5
DEVELOPER = 30  # GitLab's access level that may push (developer, maintainer 40, owner 50)
# A project's or group's access token acts as a bot user of this name.
TOKEN_BOT = re.compile(r"(project|group)_\d+_bot(_[0-9a-f]+)?")


class _User(BaseModel):
    username: str = ""
    bot: bool = False
    state: str = "active"

    @property
    def is_bot(self) -> bool:
        return self.bot or bool(TOKEN_BOT.fullmatch(self.username))


class _Noteable(BaseModel):
    iid: int
    title: str = ""
    description: str | None = None
    author: _User | None = None
    state: str = "opened"
    web_url: str = ""
    sha: str | None = None
    source_branch: str = ""
    target_branch: str = ""
    diff_refs: dict[str, str | None] | None = None


class _Note(BaseModel):
    id: int
    body: str | None = None
    author: _User | None = None
    system: bool = False
    type: str | None = None  # "DiffNote" on a line, "DiscussionNote" in a thread, None alone
    position: dict[str, Any] | None = None
    resolvable: bool = False
    resolved: bool = False


class _Discussion(BaseModel):
    id: str
    notes: list[_Note] = []

    @property
    def resolved(self) -> bool:
        return any(n.resolvable for n in self.notes) and all(n.resolved for n in self.notes if n.resolvable)


class _Member(BaseModel):
    username: str
    access_level: int = 0
    state: str = "active"


class _Job(BaseModel):
    id: int
    name: str = ""
    status: str = ""
    allow_failure: bool = False
    web_url: str | None = None


class _Pipeline(BaseModel):
    id: int


class _Status(BaseModel):
    id: int
    name: str = ""
    status: str = ""
    allow_failure: bool = False


def note_comment(n: _Note) -> ThreadComment:
    user = n.author or _User()
    return ThreadComment(id=n.id, author=cut(user.username, 200), by_bot=user.is_bot, text=cut(n.body))


def line_comment(n: _Note) -> LineComment:
    pos = n.position or {}
    path, line = pos.get("new_path") or pos.get("old_path") or "", pos.get("new_line") or pos.get("old_line")
    return LineComment(
        id=n.id,
        path=cut(str(path), 1_000),
        line=line if isinstance(line, int) else None,
        text=cut(n.body),
        author=cut((n.author or _User()).username, 200),
    )


def status_verdict(s: _Status) -> CheckConclusion:
    if s.status == "success" or (s.status == "failed" and s.allow_failure):
        return "success"
    return "failure" if s.status in ("failed", "canceled") else "pending"


class GitLabTalk:
    def __init__(self, client: GitLabClient) -> None:
        self.client = client
        self.gl = client.gl
        self.base = f"/projects/{client.project.encoded_id}"

    async def _call(self, doing: str, verb: str, path: str, **options: Any) -> Any:
        fn = {"get": self.gl.http_get, "post": self.gl.http_post, "put": self.gl.http_put}[verb]
        answer = await self.client._api(doing, fn, self.base + path, **options)
        if isinstance(answer, requests.Response):
            raise UserFacingError(f"GitLab answered {doing} with something Honk could not read.")
        return answer

    async def _list(self, doing: str, path: str, **query: Any) -> list[Any]:
        listed = await self.client._api(doing, self.gl.http_list, self.base + path, query, get_all=False, per_page=PAGE)
        return list(listed)

    def _kind(self, pull_request: bool) -> str:
        return "merge_requests" if pull_request else "issues"

    async def _noteable(self, number: int, pull_request: bool | None) -> tuple[bool, _Noteable]:
        """The merge request or issue `number`; unsaid which, a merge request when there is one."""
        if pull_request is None:
            try:
                return await self._noteable(number, True)
            except NotFound:
                return await self._noteable(number, False)
        kind = "merge request !" if pull_request else "issue #"
        got = await self._call(f"reading {kind}{number}", "get", f"/{self._kind(pull_request)}/{number}")
        return pull_request, _Noteable.model_validate(got)

    # -- the conversation -------------------------------------------------------------------------
    async def discussion(self, number: int, pull_request: bool | None = None) -> Discussion:
        is_mr, item = await self._noteable(number, pull_request)
        listed = await self._list(
            f"reading the notes of {'!' if is_mr else '#'}{number}",
            f"/{self._kind(is_mr)}/{number}/notes",
            sort="desc",
            order_by="created_at",
        )
        # Newest first from GitLab; GitLab's own "changed the description" notes are not the conversation.
        notes = [n for n in (_Note.model_validate(n) for n in listed) if not n.system][:MAX_THREAD_COMMENTS]
        return Discussion(
            number=number,
            pull_request=is_mr,
            title=cut(item.title, 1_000),
            body=cut(item.description),
            author=cut((item.author or _User()).username, 200),
            state=STATES.get(item.state, "open"),  # another state ("reopened" by a webhook's word) is open
            url=link(item.web_url) or "",
            comments=[note_comment(n) for n in reversed(notes)],
            head_sha=cut(item.sha, 64) if is_mr else "",
            head_branch=cut(item.source_branch, 200) if is_mr else "",
            base_branch=cut(item.target_branch, 200) if is_mr else "",
        )

    async def comment(self, number: int, text: str, pull_request: bool | None = None) -> str | None:
        is_mr, item = await self._noteable(number, pull_request)
        posted = _Note.model_validate(
            await self._call(
                f"commenting on {'!' if is_mr else '#'}{number}",
                "post",
                f"/{self._kind(is_mr)}/{number}/notes",
                post_data={"body": cut(redact(text), MAX_POST_CHARS)},
            )
        )
        return link(f"{item.web_url}#note_{posted.id}")

    # -- diff discussions -------------------------------------------------------------------------
    async def _discussions(self, number: int) -> list[_Discussion]:
        found: list[_Discussion] = []
        for page in range(1, MAX_DISCUSSION_PAGES + 1):
            listed = await self._list(
                f"reading the discussions of !{number}", f"/merge_requests/{number}/discussions", page=page
            )
            found += [_Discussion.model_validate(d) for d in listed]
            if len(listed) < PAGE:
                break
        return found

    async def review_comments(self, number: int, review_id: int | None = None) -> list[LineComment]:
        """The line notes of the merge request's unresolved diff discussions. GitLab has no review
        object (a "review" is a batch of such notes, published together), so `review_id` reads the same."""
        notes = [
            n
            for d in await self._discussions(number)
            if not d.resolved
            for n in d.notes
            if n.type == "DiffNote" and n.position and not n.system
        ]
        return [line_comment(n) for n in sorted(notes, key=lambda n: n.id)]

    async def reply(self, number: int, comment_id: int, text: str, resolve: bool = False) -> None:
        found = next((d for d in await self._discussions(number) if any(n.id == comment_id for n in d.notes)), None)
        if found is None:
            raise NotFound(f"GitLab has no discussion with note {comment_id} on merge request !{number}.")
        path = f"/merge_requests/{number}/discussions/{quote(found.id, safe='')}"
        await self._call(
            f"replying in a discussion of !{number}",
            "post",
            path + "/notes",
            post_data={"body": cut(redact(text), MAX_POST_CHARS)},
        )
        if resolve and not found.resolved and any(n.resolvable for n in found.notes):
            try:
                await self._call(f"resolving a discussion of !{number}", "put", path, query_data={"resolved": True})
            except UserFacingError:
                return  # a token that may comment but not resolve: the reply said what was done

    async def review(self, number: int, commit: str, body: str, comments: list[LineComment]) -> str | None:
        _, mr = await self._noteable(number, True)
        refs = mr.diff_refs or {}
        loose = [c for c in comments if not c.line]
        for c in (c for c in comments if c.line):
            position = {
                "position_type": "text",
                "base_sha": refs.get("base_sha"),
                "start_sha": refs.get("start_sha"),
                "head_sha": refs.get("head_sha") or commit,
                "new_path": c.path,
                "old_path": c.path,
                "new_line": c.line,
            }
            doing = f"commenting on {c.path} in !{number}"
            post = {"body": cut(redact(c.text), MAX_POST_CHARS), "position": position}
            try:
                await asyncio.to_thread(
                    self.gl.http_post, f"{self.base}/merge_requests/{number}/discussions", post_data=post
                )
            except GitlabError as e:
                if e.response_code != 400:
                    raise api_error("GitLab", e.response_code, str(e.error_message), doing) from e
                loose.append(c)  # a line outside the diff: GitLab will not place it, the note says it
            except requests.RequestException as e:
                raise api_error("GitLab", None, "", doing) from e
        text = fold(body, loose)
        if not text:
            return link(mr.web_url)
        return await self.comment(number, text, pull_request=True)

    # -- who may push -----------------------------------------------------------------------------
    async def may_edit(self, login: str) -> bool:
        listed = await self._list(f"reading {login}'s membership", "/members/all", query=login)
        members = [_Member.model_validate(m) for m in listed]
        return any(
            m.username.lower() == login.lower() and m.state == "active" and m.access_level >= DEVELOPER for m in members
        )

    # -- CI -----------------------------------------------------------------------------------------
    async def failing_logs(self, commit: str, run_id: int | None = None) -> list[JobLog]:
        """The failed jobs (not allowed to fail) of pipeline `run_id`, else of the commit's newest pipeline."""
        if run_id is None:
            pipelines = await self._list(
                f"reading the pipelines of commit {commit[:12]}", "/pipelines", sha=commit, order_by="id", sort="desc"
            )
            if not pipelines:
                return []
            run_id = _Pipeline.model_validate(pipelines[0]).id
        listed = await self._list(
            f"reading the failed jobs of pipeline {run_id}", f"/pipelines/{run_id}/jobs", **{"scope[]": "failed"}
        )
        jobs = [j for j in (_Job.model_validate(j) for j in listed) if j.status == "failed" and not j.allow_failure]
        return [
            JobLog(name=cut(j.name, 200), url=link(j.web_url) or "", log=await self._trace(j.id))
            for j in jobs[:MAX_FAILING_JOBS]
        ]

    async def _trace(self, job_id: int) -> str:
        def read() -> str:
            resp = self.gl.http_get(f"{self.base}/jobs/{job_id}/trace", streamed=True, raw=True)
            assert isinstance(resp, requests.Response)
            kept: list[bytes] = []
            size = 0
            # Only the end is kept, as it streams: a trace may be hundreds of megabytes.
            for chunk in resp.iter_content(64 * 1024):
                kept.append(chunk)
                size += len(chunk)
                while kept and size - len(kept[0]) >= MAX_JOB_LOG * 4:
                    size -= len(kept.pop(0))
            # The end, decoded: a cut through a character is replaced, not an error.
            return tail(b"".join(kept)[-MAX_JOB_LOG * 4 :].decode("utf-8", errors="replace"))

        return await self.client._api(f"reading the trace of job {job_id}", read)

    async def check(self, ref: str, name: str) -> CheckConclusion:
        listed = await self._list(
            f"reading the job {name!r} of {ref[:40]}", f"/repository/commits/{quote(ref, safe='')}/statuses", name=name
        )
        named = [s for s in (_Status.model_validate(s) for s in listed) if s.name == name]
        if not named:
            return "none"
        return status_verdict(max(named, key=lambda s: s.id))
