"""GitLab through python-gitlab (a synchronous client: each call runs in a worker thread).

A GitLab merge request is a draft while its title starts with "Draft:". When GitLab refuses a
merge its answer says little ("Branch cannot be merged"); the merge request's
`detailed_merge_status`, read right after, says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import gitlab
import requests
from gitlab.exceptions import GitlabError
from pydantic import BaseModel

from honk.domain import Awaited, ForgeDeployState, PullRequestStatus
from honk.errors import UserFacingError
from honk.forge.base import (
    ForgeConfig,
    ForgeKind,
    MergeMethod,
    MergeOutcome,
    PullRequest,
    PullRequestBody,
    PushTarget,
    RefusalReason,
    api_error,
)
from honk.forge.body import render_body
from honk.forge.gitlab_deploys import deployment_state, status_state

R = TypeVar("R")
DRAFT = "Draft: "
DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)")

# detailed_merge_status -> why, and what a person can do about it.
STATUSES: dict[str, tuple[RefusalReason, str]] = {
    "ci_must_pass": ("checks", "the pipeline must pass first. Merge again once it is green"),
    "ci_still_running": ("checks", "the pipeline is still running. Merge again once it is green"),
    "status_checks_must_pass": ("checks", "external status checks must pass first. Merge again once they do"),
    "not_approved": (
        "review",
        ("the merge request needs approval. Ask a reviewer to approve it on GitLab, then merge again"),
    ),
    "requested_changes": ("review", "a reviewer requested changes. Resolve them on GitLab, then merge again"),
    "discussions_not_resolved": ("review", "open threads must be resolved first. Resolve them, then merge again"),
    "conflict": (
        "conflict",
        ("the branch conflicts with {target}. Ask Honk to bring in the latest {target}, then merge again"),
    ),
    "need_rebase": (
        "conflict",
        (
            "the project only fast-forwards and the branch is behind {target}. Ask Honk to "
            "bring in the latest {target}, then merge again"
        ),
    ),
    "draft_status": ("draft", "the merge request is still a draft. Mark it ready, then merge again"),
    "not_open": ("closed", "the merge request is not open any more"),
    "merge_request_blocked": ("other", "another merge request blocks it"),
    "blocked_status": ("other", "another merge request blocks it"),
    "checking": ("other", "GitLab is still checking whether it can be merged. Try again in a moment"),
    "unchecked": ("other", "GitLab has not checked yet whether it can be merged. Try again in a moment"),
    "preparing": ("other", "GitLab is still preparing the merge request. Try again in a moment"),
    "approvals_syncing": ("other", "GitLab is still syncing approvals. Try again in a moment"),
}


# "locked" is GitLab's state while a merge is under way: still open as far as a task can tell.
STATES: dict[str, PullRequestStatus] = {
    "opened": "open",
    "locked": "open",
    "closed": "closed",
    "merged": "merged",
}


class _MergeRequest(BaseModel):
    iid: int
    web_url: str
    title: str
    state: str  # a key of STATES
    draft: bool = False
    sha: str | None = None
    target_branch: str
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None
    detailed_merge_status: str | None = None
    merge_status: str | None = None  # the older, coarser field, for servers before 15.6

    def record(self) -> PullRequest:
        state = STATES[self.state]
        merged_as = self.merge_commit_sha or self.squash_commit_sha
        return PullRequest(
            number=self.iid,
            url=self.web_url,
            state=state,
            draft=self.draft or is_draft(self.title),
            head_sha=self.sha,
            merge_commit=merged_as if self.state == "merged" else None,
        )


class _Project(BaseModel):
    http_url_to_repo: str
    archived: bool = False


def is_draft(title: str) -> bool:
    return title.lower().startswith(DRAFT_PREFIXES)


def undraft(title: str) -> str:
    low = title.lower()
    for prefix in DRAFT_PREFIXES:
        if low.startswith(prefix):
            return title[len(prefix) :].lstrip()
    return title


def refusal(status: int | None, message: str, mr: _MergeRequest) -> MergeOutcome:
    """GitLab's answer to a merge it would not do, as a sentence a person can act on."""
    if status == 409:
        return MergeOutcome.refused(
            "head_changed",
            f"GitLab refused the merge: the branch changed after Honk "
            f"checked it ({message}). Review the new commits, then merge again.",
        )
    detailed = mr.detailed_merge_status or ""
    if detailed in STATUSES:
        reason, why = STATUSES[detailed]
        return MergeOutcome.refused(
            reason, f"GitLab refused the merge: {why.format(target=mr.target_branch)} ({detailed})."
        )
    if mr.merge_status == "cannot_be_merged":
        return refusal(status, message, mr.model_copy(update={"detailed_merge_status": "conflict"}))
    said = f"{status}: {message}" if message else str(status)
    return MergeOutcome.refused("other", f"GitLab refused the merge ({said}; merge status {detailed or 'unknown'}).")


class GitLabClient:
    kind: ForgeKind = "gitlab"

    def __init__(self, config: ForgeConfig) -> None:
        assert config.token is not None  # ForgeConfig checked
        self.config = config
        self.gl = gitlab.Gitlab(
            config.api_url, private_token=config.token.get_secret_value(), timeout=30, user_agent="honk"
        )
        # Lazy: no request until a call needs one; the id may be a path ("group/name") or a number.
        self.project = self.gl.projects.get(config.project, lazy=True)

    async def _api(self, doing: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except GitlabError as e:
            raise api_error("GitLab", e.response_code, str(e.error_message), doing) from e
        except requests.RequestException as e:
            raise api_error("GitLab", None, "", doing) from e

    async def push_target(self) -> PushTarget:
        project = await self._api(f"reading project {self.config.project}", self.gl.projects.get, self.config.project)
        url = _Project.model_validate(project.attributes).http_url_to_repo
        # GitLab takes any user name with a personal, project or group token; "oauth2" also suits OAuth tokens.
        return PushTarget(url=url, username="oauth2", token=self.config.token)

    async def _get(self, iid: int) -> _MergeRequest:
        mr = await self._api(f"reading merge request !{iid}", self.project.mergerequests.get, iid)
        return _MergeRequest.model_validate(mr.attributes)

    async def open_or_update(self, branch: str, base: str, body: PullRequestBody) -> PullRequest:
        mrs, text = self.project.mergerequests, render_body(body)
        listed = await self._api(
            f"listing merge requests of {branch}", mrs.list, source_branch=branch, state="opened", get_all=False
        )
        found = [_MergeRequest.model_validate(m.attributes) for m in listed]
        if found:
            # Updating keeps the draft state as it is: the title's prefix is what makes a draft.
            title = DRAFT + body.title if found[0].draft or is_draft(found[0].title) else body.title
            changed = await self._api(
                f"updating merge request !{found[0].iid}",
                mrs.update,
                found[0].iid,
                {"title": title, "description": text, "target_branch": base},
            )
            return _MergeRequest.model_validate(changed).record()
        created = await self._api(
            f"opening a merge request for {branch}",
            mrs.create,
            {"source_branch": branch, "target_branch": base, "title": DRAFT + body.title, "description": text},
        )
        return _MergeRequest.model_validate(created.attributes).record().model_copy(update={"opened": True})

    async def state(self, number: int) -> PullRequest:
        return (await self._get(number)).record()

    async def ready_for_review(self, number: int) -> PullRequest:
        mr = await self._get(number)
        if mr.state != "opened" or not (mr.draft or is_draft(mr.title)):
            return mr.record()
        changed = await self._api(
            f"marking merge request !{number} ready",
            self.project.mergerequests.update,
            number,
            {"title": undraft(mr.title)},
        )
        return _MergeRequest.model_validate(changed).record()

    async def close(self, number: int, comment: str) -> PullRequest:
        mr = await self._get(number)
        if mr.state not in ("opened", "locked"):
            return mr.record()
        handle = self.project.mergerequests.get(number, lazy=True)
        await self._api(f"commenting on merge request !{number}", handle.notes.create, {"body": comment})
        closed = await self._api(
            f"closing merge request !{number}", self.project.mergerequests.update, number, {"state_event": "close"}
        )
        return _MergeRequest.model_validate(closed).record()

    async def archived(self) -> bool:
        project = await self._api(f"reading project {self.config.project}", self.gl.projects.get, self.config.project)
        return _Project.model_validate(project.attributes).archived

    async def merge(self, number: int, sha: str, message: str, method: MergeMethod = "merge") -> MergeOutcome:
        """`squash` squashes; otherwise the project's own merge method (merge commit, semi-linear or
        fast-forward) applies: GitLab has no per-request choice."""
        mr = await self._get(number)
        if mr.state == "merged":  # a retry after a merge whose answer was lost, or a person merged it
            return MergeOutcome.done(mr.merge_commit_sha or mr.squash_commit_sha)
        if mr.state == "closed":
            return MergeOutcome.refused(
                "closed",
                f"GitLab refused the merge: merge request !{number} was closed on "
                "GitLab. Reopen it there, or ask Honk again.",
            )
        handle = self.project.mergerequests.get(number, lazy=True)
        options: dict[str, Any] = {"sha": sha, **({"squash": True} if method == "squash" else {})}
        try:
            merged = await asyncio.to_thread(handle.merge, merge_commit_message=message, **options)
        except GitlabError as e:
            if e.response_code not in (405, 406, 409, 422):
                raise api_error("GitLab", e.response_code, str(e.error_message), f"merging !{number}") from e
            return refusal(e.response_code, str(e.error_message), await self._get(number))
        except requests.RequestException as e:
            raise api_error("GitLab", None, "", f"merging !{number}") from e
        done = _MergeRequest.model_validate(merged)
        return MergeOutcome.done(done.merge_commit_sha or done.squash_commit_sha or done.sha)

    async def deploy_state(self, commit: str, awaited: Awaited) -> ForgeDeployState:
        doing = f"reading {awaited.kind} {awaited.name!r} of commit {commit[:12]}"
        try:
            if awaited.kind == "status":
                # Without `all`, GitLab lists the newest status of each name.
                statuses = self.project.commits.get(commit, lazy=True).statuses
                listed = await self._api(doing, statuses.list, name=awaited.name, per_page=100, get_all=False)
                return status_state(commit, awaited.name, [s.attributes for s in listed])
            # GitLab cannot filter deployments by commit: the environment's newest page is where a
            # just-merged commit's deployment is.
            listed = await self._api(
                doing,
                self.project.deployments.list,
                environment=awaited.name,
                order_by="id",
                sort="desc",
                per_page=100,
                get_all=False,
            )
            return deployment_state(commit, awaited.name, [d.attributes for d in listed])
        except ValueError as e:  # an answer of another shape (a proxy's page, an older server)
            raise UserFacingError(f"GitLab answered {doing} with something Honk could not read.") from e

    async def aclose(self) -> None:
        await asyncio.to_thread(self.gl.session.close)
