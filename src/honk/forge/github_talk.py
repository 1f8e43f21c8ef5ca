"""Honk's conversation on GitHub: issues and pull requests, their comments, review threads, reviews,
who may push, failing jobs' logs and a check's verdict. The calls go through the repo's `GitHubClient`
(its githubkit session, token or App installation, and its wording of refusals); the answers are read
into the small models below, as `github.py` does, and bounded into the domain's records.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from githubkit.exception import GraphQLFailed, RequestError, RequestFailed
from pydantic import BaseModel, TypeAdapter

from honk.domain import (
    MAX_THREAD_COMMENTS,
    CheckConclusion,
    Discussion,
    ForgeDeployStatus,
    JobLog,
    LineComment,
    ThreadComment,
)
from honk.errors import NotFound, UserFacingError
from honk.forge.conversation import MAX_FAILING_JOBS, MAX_POST_CHARS, cut, fold, tail
from honk.forge.deploys import Verdict, link, verdict
from honk.forge.github import GitHubClient, _Pull, _translate
from honk.forge.github_deploys import STATUS, _CheckRun, _CheckRuns, _Combined, _Output
from honk.redaction import redact

PAGE = 100
MAX_REVIEW_COMMENT_PAGES = 5  # 500 line comments: a review beyond that is not one a person wrote
# A completed check run's conclusion: what GitHub's required checks let pass passes ("skipped" too,
# unlike a deploy's check run in `github_deploys.CONCLUSION`: a skipped check held nothing back).
PASSES = {"success", "neutral", "skipped"}
FAILS = {"failure", "timed_out", "cancelled", "action_required", "stale", "startup_failure"}

THREADS = """query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        nodes { id isResolved comments(first: 1) { nodes { databaseId } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}"""
RESOLVE = """mutation($id: ID!) {
  resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } }
}"""


class _User(BaseModel):
    login: str = ""
    type: str = "User"

    @property
    def bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")


class _Issue(BaseModel):
    number: int
    title: str = ""
    body: str | None = None
    user: _User | None = None
    state: str = "open"
    html_url: str = ""
    comments: int = 0
    pull_request: dict[str, Any] | None = None  # GitHub's mark of a pull request's conversation


class _Comment(BaseModel):
    id: int
    body: str | None = None
    user: _User | None = None


class _LineComment(BaseModel):
    id: int
    path: str = ""
    line: int | None = None
    original_line: int | None = None
    body: str | None = None
    user: _User | None = None
    in_reply_to_id: int | None = None
    html_url: str = ""


class _Permission(BaseModel):
    permission: str = "none"  # admin, write, read, none (maintain reads as write, triage as read)
    role_name: str | None = None


class _Job(BaseModel):
    id: int
    name: str = ""
    conclusion: str | None = None
    html_url: str | None = None


class _Jobs(BaseModel):
    jobs: list[_Job] = []


class _Posted(BaseModel):
    html_url: str = ""


_COMMENTS = TypeAdapter(list[_Comment])
_LINE_COMMENTS = TypeAdapter(list[_LineComment])


def _state(issue: _Issue, pull: _Pull | None) -> str:
    return "merged" if pull is not None and pull.merged_at else "closed" if issue.state == "closed" else "open"


def thread_comment(c: _Comment) -> ThreadComment:
    user = c.user or _User()
    return ThreadComment(id=c.id, author=cut(user.login, 200), by_bot=user.bot, text=cut(c.body))


def line_comment(c: _LineComment) -> LineComment:
    return LineComment(
        id=c.id,
        path=cut(c.path, 1_000),
        line=c.line if c.line is not None else c.original_line,
        text=cut(c.body),
        author=cut((c.user or _User()).login, 200),
    )


def run_verdict(run: _CheckRun) -> Verdict:
    if run.status != "completed":
        return "pending"
    return "success" if (run.conclusion or "") in PASSES else "failure"


class GitHubTalk:
    def __init__(self, client: GitHubClient) -> None:
        self.client = client
        self.gh = client.gh
        self.repo = f"/repos/{client.owner}/{client.repo}"

    async def _get(self, doing: str, path: str, **params: Any) -> Any:
        resp = await self.client._api(doing, self.gh.arequest("GET", self.repo + path, params=params or None))
        try:
            return resp.json()
        except ValueError as e:  # a proxy's page, an older server
            raise UserFacingError(f"GitHub answered {doing} with something Honk could not read.") from e

    async def _post(self, doing: str, path: str, body: dict[str, Any]) -> Any:
        resp = await self.client._api(doing, self.gh.arequest("POST", self.repo + path, json=body))
        return resp.json()

    async def _graphql(self, doing: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.client._api(doing, self.gh.async_graphql(query, variables))

    # -- the conversation -------------------------------------------------------------------------
    async def discussion(self, number: int, pull_request: bool | None = None) -> Discussion:
        doing = f"reading #{number}"
        issue = _Issue.model_validate(await self._get(doing, f"/issues/{number}"))
        pull = await self.client._pull(number) if issue.pull_request is not None else None
        return Discussion(
            number=number,
            pull_request=pull is not None,
            title=cut(issue.title, 1_000),
            body=cut(issue.body),
            author=cut((issue.user or _User()).login, 200),
            state=_state(issue, pull),
            url=link(issue.html_url) or "",
            comments=await self._newest_comments(number, issue.comments),
            head_sha=cut(pull.head.sha, 64) if pull else "",
            head_branch=cut(pull.head.ref, 200) if pull else "",
            base_branch=cut(pull.base.ref, 200) if pull else "",
        )

    async def _newest_comments(self, number: int, count: int) -> list[ThreadComment]:
        """The newest MAX_THREAD_COMMENTS, oldest first: GitHub lists oldest first, so the last page
        (and the one before it when the last holds too few) is read, never the whole thread."""
        last = max(1, math.ceil(count / PAGE))
        pages = [last - 1, last] if last > 1 and count % PAGE and count % PAGE < MAX_THREAD_COMMENTS else [last]
        found: list[_Comment] = []
        for page in pages:
            listed = await self._get(
                f"reading the comments of #{number}", f"/issues/{number}/comments", per_page=PAGE, page=page
            )
            found += _COMMENTS.validate_python(listed)
        return [thread_comment(c) for c in found[-MAX_THREAD_COMMENTS:]]

    async def comment(self, number: int, text: str, pull_request: bool | None = None) -> str | None:
        posted = await self._post(
            f"commenting on #{number}", f"/issues/{number}/comments", {"body": cut(redact(text), MAX_POST_CHARS)}
        )
        return link(_Posted.model_validate(posted).html_url)

    # -- review threads ---------------------------------------------------------------------------
    async def _line_comments(self, number: int, path: str) -> list[_LineComment]:
        found: list[_LineComment] = []
        for page in range(1, MAX_REVIEW_COMMENT_PAGES + 1):
            listed = _LINE_COMMENTS.validate_python(
                await self._get(f"reading the review comments of #{number}", path, per_page=PAGE, page=page)
            )
            found += listed
            if len(listed) < PAGE:
                break
        return found

    async def _threads(self, number: int) -> list[dict[str, Any]]:
        """The pull request's review threads: GraphQL ids, resolved or not, and their first comment."""
        threads: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(MAX_REVIEW_COMMENT_PAGES):
            data = await self._graphql(
                f"reading the review threads of #{number}",
                THREADS,
                {"owner": self.client.owner, "name": self.client.repo, "number": number, "after": after},
            )
            page = ((data.get("repository") or {}).get("pullRequest") or {}).get("reviewThreads") or {}
            threads += [t for t in page.get("nodes") or [] if isinstance(t, dict)]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                break
            after = info.get("endCursor")
        return threads

    @staticmethod
    def _first_id(thread: dict[str, Any]) -> int | None:
        nodes = (thread.get("comments") or {}).get("nodes") or [{}]
        first = nodes[0].get("databaseId") if isinstance(nodes[0], dict) else None
        return first if isinstance(first, int) else None

    async def review_comments(self, number: int, review_id: int | None = None) -> list[LineComment]:
        if review_id is not None:
            found = await self._line_comments(number, f"/pulls/{number}/reviews/{review_id}/comments")
        else:
            found = await self._line_comments(number, f"/pulls/{number}/comments")
            resolved = {self._first_id(t) for t in await self._threads(number) if t.get("isResolved")}
            # A reply belongs to the thread its first comment opened.
            found = [c for c in found if (c.in_reply_to_id or c.id) not in resolved]
        return [line_comment(c) for c in sorted(found, key=lambda c: c.id)]

    async def reply(self, number: int, comment_id: int, text: str, resolve: bool = False) -> None:
        # GitHub takes replies to a thread's first comment only: a reply's reply goes to its thread.
        said = _LineComment.model_validate(
            await self._get(f"reading review comment {comment_id}", f"/pulls/comments/{comment_id}")
        )
        root = said.in_reply_to_id or said.id
        await self._post(
            f"replying to review comment {root} on #{number}",
            f"/pulls/{number}/comments/{root}/replies",
            {"body": cut(redact(text), MAX_POST_CHARS)},
        )
        if resolve:
            await self._resolve(number, root)

    async def _resolve(self, number: int, root: int) -> None:
        """Marks the thread resolved; quietly not when GitHub will not (a token without the right,
        a thread gone): the reply said what was done either way."""
        try:
            thread = next((t for t in await self._threads(number) if self._first_id(t) == root), None)
            if thread is None or thread.get("isResolved"):
                return
            await self._graphql(f"resolving a review thread of #{number}", RESOLVE, {"id": thread["id"]})
        except GraphQLFailed:
            return

    async def review(self, number: int, commit: str, body: str, comments: list[LineComment]) -> str | None:
        placed = [c for c in comments if c.line]
        loose = [c for c in comments if not c.line]  # a file-level remark: the review endpoint places lines only
        doing = f"posting a review on #{number}"
        payload: dict[str, Any] = {
            "commit_id": commit,
            "event": "COMMENT",  # never approves or requests changes: people decide that
            "body": cut(redact(fold(body, loose)), MAX_POST_CHARS),
            "comments": [
                {"path": c.path, "line": c.line, "side": "RIGHT", "body": cut(redact(c.text), MAX_POST_CHARS)}
                for c in placed
            ],
        }
        try:
            resp = await self.gh.arequest("POST", f"{self.repo}/pulls/{number}/reviews", json=payload)
        except RequestFailed as e:
            if e.response.status_code != 422 or not placed:
                raise _translate(e, doing) from e
            # A line outside the diff fails the whole review (422), and GitHub does not say which:
            # every comment goes into the body instead.
            payload.update(body=cut(redact(fold(body, comments)), MAX_POST_CHARS), comments=[])
            resp = await self.client._api(
                doing, self.gh.arequest("POST", f"{self.repo}/pulls/{number}/reviews", json=payload)
            )
        except RequestError as e:
            raise _translate(e, doing) from e
        return link(_Posted.model_validate(resp.json()).html_url)

    # -- who may push ---------------------------------------------------------------------------
    async def may_edit(self, login: str) -> bool:
        try:
            said = _Permission.model_validate(
                await self._get(f"reading {login}'s permission", f"/collaborators/{login}/permission")
            )
        except NotFound:  # not a collaborator, or no such user
            return False
        return said.permission in ("admin", "write") or said.role_name in ("admin", "maintain", "write")

    # -- CI -------------------------------------------------------------------------------------
    async def failing_logs(self, commit: str, run_id: int | None = None) -> list[JobLog]:
        """A workflow run's failed jobs when `run_id` is one; else (a check suite's or check run's
        id, or none) the commit's failed check runs, whose ids are the Actions jobs' ids. A check run
        of another CI has no log here: its own output (title, summary, text) stands for it."""
        if run_id is not None:
            try:
                jobs = _Jobs.model_validate(
                    await self._get(
                        f"reading the jobs of run {run_id}",
                        f"/actions/runs/{run_id}/jobs",
                        filter="latest",
                        per_page=PAGE,
                    )
                )
                failed = [j for j in jobs.jobs if (j.conclusion or "") in FAILS][:MAX_FAILING_JOBS]
                return [
                    JobLog(name=cut(j.name, 200), url=link(j.html_url) or "", log=await self._job_log(j.id))
                    for j in failed
                ]
            except NotFound:
                pass  # not a workflow run: a check suite or a check run
        listed = _CheckRuns.model_validate(
            await self._get(
                f"reading the check runs of commit {commit[:12]}",
                f"/commits/{quote(commit, safe='')}/check-runs",
                filter="latest",
                per_page=PAGE,
            )
        )
        failed = [r for r in listed.check_runs if r.status == "completed" and (r.conclusion or "") in FAILS]
        if run_id is not None:
            chosen = [r for r in failed if r.id == run_id or (r.check_suite or {}).get("id") == run_id]
            failed = chosen or failed
        logs = []
        for run in failed[:MAX_FAILING_JOBS]:
            log = await self._job_log(run.id, missing_ok=True)
            if log is None:
                out = run.output or _Output()
                log = tail("\n\n".join(p for p in (out.title, out.summary, out.text) if p))
            logs.append(JobLog(name=cut(run.name, 200), url=link(run.details_url, run.html_url) or "", log=log))
        return logs

    async def _job_log(self, job_id: int, missing_ok: bool = False) -> Any:
        # GitHub answers 302 to a short-lived log URL; githubkit follows it (httpx drops the token
        # on the way to another host).
        try:
            resp = await self.client._api(
                f"reading the log of job {job_id}", self.gh.arequest("GET", f"{self.repo}/actions/jobs/{job_id}/logs")
            )
        except NotFound:
            if missing_ok:
                return None
            raise
        return tail(resp.content.decode("utf-8", errors="replace"))

    async def check(self, ref: str, name: str) -> CheckConclusion:
        doing = f"reading the check {name!r} of {ref[:40]}"
        runs = _CheckRuns.model_validate(
            await self._get(
                doing, f"/commits/{quote(ref, safe='')}/check-runs", check_name=name, filter="latest", per_page=PAGE
            )
        )
        combined = _Combined.model_validate(
            await self._get(doing, f"/commits/{quote(ref, safe='')}/status", per_page=PAGE)
        )
        verdicts: list[ForgeDeployStatus] = []
        named = [r for r in runs.check_runs if r.name == name]
        if named:
            verdicts.append(run_verdict(max(named, key=lambda r: r.id)))
        # The combined status keeps the newest status of each context.
        verdicts.extend(STATUS.get(s.state, "pending") for s in combined.statuses[:PAGE] if s.context == name)
        return verdict(verdicts) if verdicts else "none"
