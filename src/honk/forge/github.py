"""GitHub (and GitHub Enterprise) through githubkit: a token, or a GitHub App installation.

Answers are read into the small models below rather than githubkit's full schemas: Honk needs a
handful of fields, and a GitHub Enterprise server older than the schemas githubkit ships may omit
fields those schemas require.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
from githubkit import AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GraphQLFailed, RequestError, RequestFailed
from githubkit.response import Response
from pydantic import BaseModel, SecretStr, TypeAdapter

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
    api_error,
)
from honk.forge.body import render_body
from honk.forge.github_deploys import deployment_state, newest_deployment, status_state

R = TypeVar("R")

READY_FOR_REVIEW = """mutation($id: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } }
}"""


class _Ref(BaseModel):
    ref: str
    sha: str | None = None


class _Pull(BaseModel):
    number: int
    node_id: str
    html_url: str
    state: str  # "open" or "closed" (merged ones are closed with merged_at)
    draft: bool = False
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    head: _Ref
    base: _Ref

    def record(self) -> PullRequest:
        state: PullRequestStatus = "merged" if self.merged_at else "open" if self.state == "open" else "closed"
        return PullRequest(
            number=self.number,
            url=self.html_url,
            state=state,
            draft=self.draft,
            head_sha=self.head.sha,
            merge_commit=self.merge_commit_sha if self.merged_at else None,
        )


class _Repo(BaseModel):
    clone_url: str
    archived: bool = False  # a GitHub Enterprise server that omits it has no archived repos to speak of


class _Merged(BaseModel):
    sha: str | None = None
    merged: bool
    message: str = ""


class _Token(BaseModel):
    token: SecretStr


class _Error(BaseModel):
    message: str = ""


_PULLS = TypeAdapter(list[_Pull])


@functools.cache
def _tls() -> ssl.SSLContext:
    # githubkit opens an httpx client per request, and each would load the CA bundle again (~50 ms).
    return httpx.create_ssl_context()


def _failure(e: RequestError[Any]) -> RequestFailed | None:
    # A refusal met while minting an installation token arrives wrapped in a RequestError.
    if isinstance(e, RequestFailed):
        return e
    return e.exc if isinstance(e.exc, RequestFailed) else None


def _message(failed: RequestFailed) -> str:
    try:
        return _Error.model_validate(failed.response.json()).message
    except ValueError:
        return failed.response.text[:200]


def _translate(e: RequestError[Any], doing: str) -> UserFacingError:
    if failed := _failure(e):
        return api_error("GitHub", failed.response.status_code, _message(failed), doing)
    if isinstance(e.exc, httpx.HTTPError):
        return api_error("GitHub", None, "", doing)
    # Anything else failed before a request went out: signing the App's JWT with its key.
    return UserFacingError(
        f"Honk could not sign in to GitHub while {doing} ({type(e.exc).__name__}): "
        "check the GitHub App's id and private key."
    )


def refusal(status: int, message: str, base: str) -> MergeOutcome:
    """GitHub's answer to a merge it would not do, as a sentence a person can act on."""
    low, said = message.lower(), f" ({message})" if message else ""
    if status == 409 or "head branch was modified" in low:
        return MergeOutcome.refused(
            "head_changed",
            "GitHub refused the merge: the branch changed after Honk "
            f"checked it{said}. Review the new commits, then merge again.",
        )
    if "status check" in low:
        return MergeOutcome.refused(
            "checks",
            f"GitHub refused the merge: required checks have not passed yet{said}. "
            "Merge again once they are green on the pull request.",
        )
    if "review" in low or "approv" in low:
        return MergeOutcome.refused(
            "review",
            f"GitHub refused the merge: the pull request needs an approving "
            f"review{said}. Ask a reviewer to approve it on GitHub, then merge again.",
        )
    if "draft" in low:
        return MergeOutcome.refused(
            "draft",
            f"GitHub refused the merge: the pull request is still a draft{said}. "
            "Mark it ready for review, then merge again.",
        )
    if "not mergeable" in low or "conflict" in low:
        return MergeOutcome.refused(
            "conflict",
            f"GitHub refused the merge: the branch conflicts with {base}{said}. "
            f"Ask Honk to bring in the latest {base}, then merge again.",
        )
    return MergeOutcome.refused("other", f"GitHub refused the merge ({status}{': ' + message if message else ''}).")


class GitHubClient:
    kind: ForgeKind = "github"

    def __init__(self, config: ForgeConfig) -> None:
        self.config = config
        self.owner, self.repo = config.project.split("/", 1)
        auth: TokenAuthStrategy | AppInstallationAuthStrategy
        if config.token is not None:
            auth = TokenAuthStrategy(config.token.get_secret_value())
        else:
            assert config.app_id and config.private_key and config.installation_id  # ForgeConfig checked
            auth = AppInstallationAuthStrategy(
                config.app_id, config.private_key.get_secret_value(), config.installation_id
            )
        # An own cache per forge: githubkit's default is process-wide, and would hand one app's cached
        # JWT or installation token to another forge with the same app id.
        self.gh = GitHub(
            auth,
            base_url=config.api_url,
            user_agent="honk",
            timeout=30.0,
            http_cache=False,
            cache_strategy=MemCacheStrategy(),
            ssl_verify=_tls(),
        )

    async def _api(self, doing: str, call: Awaitable[R]) -> R:
        try:
            return await call
        except RequestError as e:
            raise _translate(e, doing) from e

    async def push_target(self) -> PushTarget:
        rest = self.gh.rest
        repo = _Repo.model_validate(
            (await self._api(f"reading repo {self.config.project}", rest.repos.async_get(self.owner, self.repo))).json()
        )
        if self.config.token is not None:
            return PushTarget(url=repo.clone_url, username="x-access-token", token=self.config.token)
        assert self.config.installation_id is not None
        minted = await self._api(
            "getting an installation token",
            rest.apps.async_create_installation_access_token(self.config.installation_id),
        )
        # GitHub takes an installation token as the password of the user "x-access-token".
        return PushTarget(
            url=repo.clone_url, username="x-access-token", token=_Token.model_validate(minted.json()).token
        )

    async def open_or_update(self, branch: str, base: str, body: PullRequestBody) -> PullRequest:
        pulls, text = self.gh.rest.pulls, render_body(body)
        listed = await self._api(
            f"listing pull requests of {branch}",
            pulls.async_list(self.owner, self.repo, state="open", head=f"{self.owner}:{branch}", per_page=10),
        )
        found = [p for p in _PULLS.validate_python(listed.json()) if p.head.ref == branch]
        if found:
            resp: Response[Any] = await self._api(
                f"updating pull request #{found[0].number}",
                pulls.async_update(self.owner, self.repo, found[0].number, title=body.title, body=text, base=base),
            )
        else:
            resp = await self._create(branch, base, body.title, text)
        return _Pull.model_validate(resp.json()).record().model_copy(update={"opened": not found})

    async def _create(self, branch: str, base: str, title: str, text: str) -> Response[Any]:
        pulls, doing = self.gh.rest.pulls, f"opening a pull request for {branch}"
        try:
            return await pulls.async_create(
                self.owner, self.repo, title=title, head=branch, base=base, body=text, draft=True
            )
        except RequestFailed as e:
            # Repos on plans without draft pull requests refuse draft=True: open a ready one instead.
            if e.response.status_code != 422 or "draft" not in _message(e).lower():
                raise _translate(e, doing) from e
        except RequestError as e:
            raise _translate(e, doing) from e
        return await self._api(
            doing, pulls.async_create(self.owner, self.repo, title=title, head=branch, base=base, body=text)
        )

    async def _pull(self, number: int) -> _Pull:
        resp = await self._api(
            f"reading pull request #{number}", self.gh.rest.pulls.async_get(self.owner, self.repo, number)
        )
        return _Pull.model_validate(resp.json())

    async def state(self, number: int) -> PullRequest:
        return (await self._pull(number)).record()

    async def ready_for_review(self, number: int) -> PullRequest:
        pull = await self._pull(number)
        if not pull.draft or pull.state != "open":
            return pull.record()
        # The REST API cannot take a pull request out of draft; GraphQL can.
        try:
            await self._api(
                f"marking pull request #{number} ready for review",
                self.gh.async_graphql(READY_FOR_REVIEW, {"id": pull.node_id}),
            )
        except GraphQLFailed as e:
            errors = "; ".join(err.message for err in e.response.errors or [])
            raise UserFacingError(f"GitHub did not mark pull request #{number} ready for review: {errors}") from e
        return await self.state(number)

    async def close(self, number: int, comment: str) -> PullRequest:
        pull = await self._pull(number)
        if pull.state != "open":
            return pull.record()
        # A pull request's conversation is its issue's: the comment goes through the issues API.
        await self._api(
            f"commenting on pull request #{number}",
            self.gh.rest.issues.async_create_comment(self.owner, self.repo, number, body=comment),
        )
        closed = await self._api(
            f"closing pull request #{number}",
            self.gh.rest.pulls.async_update(self.owner, self.repo, number, state="closed"),
        )
        return _Pull.model_validate(closed.json()).record()

    async def archived(self) -> bool:
        resp = await self._api(
            f"reading repo {self.config.project}", self.gh.rest.repos.async_get(self.owner, self.repo)
        )
        return _Repo.model_validate(resp.json()).archived

    async def merge(self, number: int, sha: str, message: str, method: MergeMethod = "merge") -> MergeOutcome:
        pull = await self._pull(number)
        if pull.merged_at:  # a retry after a merge whose answer was lost, or a person merged it
            return MergeOutcome.done(pull.merge_commit_sha)
        if pull.state == "closed":
            return MergeOutcome.refused(
                "closed",
                f"GitHub refused the merge: pull request #{number} was closed "
                "on GitHub. Reopen it there, or ask Honk again.",
            )
        title, _, rest = message.strip().partition("\n")
        try:
            resp = await self.gh.rest.pulls.async_merge(
                self.owner,
                self.repo,
                number,
                sha=sha,
                commit_title=title,
                commit_message=rest.strip(),
                merge_method=method,
            )
        except RequestFailed as e:
            if e.response.status_code in (405, 409, 422):
                return refusal(e.response.status_code, _message(e), pull.base.ref)
            raise _translate(e, f"merging pull request #{number}") from e
        except RequestError as e:
            raise _translate(e, f"merging pull request #{number}") from e
        merged = _Merged.model_validate(resp.json())
        if not merged.merged:
            return MergeOutcome.refused("other", f"GitHub did not merge pull request #{number}: {merged.message}")
        return MergeOutcome.done(merged.sha)

    async def deploy_state(self, commit: str, awaited: Awaited) -> ForgeDeployState:
        rest, doing = self.gh.rest, f"reading {awaited.kind} {awaited.name!r} of commit {commit[:12]}"
        try:
            if awaited.kind == "status":
                combined = await self._api(
                    doing, rest.repos.async_get_combined_status_for_ref(self.owner, self.repo, commit, per_page=100)
                )
                runs = await self._api(
                    doing,
                    rest.checks.async_list_for_ref(
                        self.owner, self.repo, commit, check_name=awaited.name, per_page=100
                    ),
                )
                return status_state(commit, awaited.name, combined.json(), runs.json())
            listed = await self._api(
                doing,
                rest.repos.async_list_deployments(
                    self.owner, self.repo, sha=commit, environment=awaited.name, per_page=30
                ),
            )
            deployment = newest_deployment(commit, awaited.name, listed.json())
            if deployment is None:
                return ForgeDeployState(status="pending", commit=commit)
            statuses = await self._api(
                doing,
                rest.repos.async_list_deployment_statuses(self.owner, self.repo, deployment, per_page=100),
            )
            return deployment_state(commit, statuses.json())
        except ValueError as e:  # an answer of another shape (a proxy's page, an older server)
            raise UserFacingError(f"GitHub answered {doing} with something Honk could not read.") from e

    async def aclose(self) -> None:
        """Nothing to close: githubkit opens a client per request outside `async with`."""
