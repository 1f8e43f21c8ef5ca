"""The forge layer's records and the API client each hosted forge (GitHub, GitLab) implements.

Plain git remotes stay the default: a repo without a forge is merged by Honk's own push. With a
forge, the infrastructure (never the agent) pushes the task branch, keeps one pull request per task
up to date, and merges through the forge's API so that its required checks and approvals hold.
"""

from __future__ import annotations

from typing import Protocol, Self

from pydantic import SecretStr, model_validator

from honk.domain import (
    Awaited,
    ForgeDeployState,
    ForgeKind,
    MergeMethod,
    PullRequestBody,
    PullRequestStatus,
    Record,
    RefusalReason,
)
from honk.errors import Forbidden, NotFound, Unauthorized, Unavailable, UserFacingError


class ForgeConfig(Record):
    """Where a repo's forge is and how Honk signs in to it."""

    kind: ForgeKind
    api_url: str  # https://api.github.com, https://ghe.example/api/v3, https://gitlab.example
    project: str  # GitHub "owner/name"; GitLab "group/sub/name" or the numeric project id
    token: SecretStr | None = None
    # GitHub App (instead of a token): the app signs a JWT and exchanges it for installation tokens.
    app_id: int | None = None
    private_key: SecretStr | None = None
    installation_id: int | None = None

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        app = (self.app_id, self.private_key, self.installation_id)
        if self.kind == "github" and self.token is None and None in app:
            raise ValueError("a GitHub forge needs a token, or app_id, private_key and installation_id")
        if self.kind == "gitlab" and self.token is None:
            raise ValueError("a GitLab forge needs a token")
        if self.kind == "github" and "/" not in self.project:
            raise ValueError(f"a GitHub project is 'owner/name', not {self.project!r}")
        return self


class PullRequest(Record):
    number: int  # GitHub's number, GitLab's iid: what the forge's web page shows
    url: str
    state: PullRequestStatus
    draft: bool
    head_sha: str | None
    merge_commit: str | None = None  # set once merged (by Honk or by a person on the forge)
    opened: bool = False  # this call opened it (it did not exist before)


class MergeOutcome(Record):
    merged: bool
    sha: str | None = None  # the commit now on the target branch
    refusal: str | None = None  # a sentence a person can act on
    reason: RefusalReason | None = None

    @classmethod
    def done(cls, sha: str | None) -> MergeOutcome:
        return cls(merged=True, sha=sha)

    @classmethod
    def refused(cls, reason: RefusalReason, refusal: str) -> MergeOutcome:
        return cls(merged=False, refusal=refusal, reason=reason)


class PushTarget(Record):
    """The forge's git remote for the repo and the credentials a push presents to it."""

    url: str
    username: str
    token: SecretStr | None


class ForgeClient(Protocol):
    """A forge's API, as `HostedForge` uses it (one implementation per forge: GitHub, GitLab)."""

    kind: ForgeKind

    async def push_target(self) -> PushTarget:
        """The repo's HTTPS git URL and a token to push with (a fresh one for a GitHub App)."""
        ...

    async def open_or_update(self, branch: str, base: str, body: PullRequestBody) -> PullRequest:
        """Updates the open pull request of `branch` (title, description, base), else opens a draft one."""
        ...

    async def ready_for_review(self, number: int) -> PullRequest:
        """Draft -> ready for review; a no-op when it already is."""
        ...

    async def state(self, number: int) -> PullRequest: ...

    async def merge(self, number: int, sha: str, message: str, method: MergeMethod = "merge") -> MergeOutcome:
        """Merges through the forge's API, only if the head is still `sha`. The forge's refusals
        (checks, reviews, conflicts, a moved head) come back as a MergeOutcome, not an exception."""
        ...

    async def close(self, number: int, comment: str) -> PullRequest:
        """Says `comment` on the pull request, then closes it (without merging, its branch kept). One
        that is not open any more (closed or merged meanwhile, by a person or an earlier try of this
        call) is left as it is and its state answered: closing is a wish, not a fight with the forge."""
        ...

    async def archived(self) -> bool:
        """Whether the repo is archived on the forge (read-only: it takes no pushes and no pull requests)."""
        ...

    async def deploy_state(self, commit: str, awaited: Awaited) -> ForgeDeployState:
        """What the forge says of `commit` for `awaited` ("pending" while it says nothing). A forge that
        refuses or cannot be reached raises as the other calls do (`HostedForge` makes it data)."""
        ...

    async def aclose(self) -> None: ...


def api_error(forge: str, status: int | None, message: str, doing: str) -> UserFacingError:
    """A forge's refusal of anything but a merge, as an error a person can act on."""
    detail = f" ({message})" if message else ""
    if status == 401:
        return Unauthorized(f"{forge} rejected Honk's credentials while {doing}{detail}: check the forge token.")
    if status == 403:
        return Forbidden(
            f"{forge} did not let Honk finish {doing}{detail}: the token or app lacks a permission "
            "(pull requests and contents: write)."
        )
    if status == 404:
        return NotFound(
            f"{forge} found nothing while {doing}{detail}: check the forge project name and that "
            "Honk's token can see it."
        )
    if status is None or status >= 500:
        return Unavailable(f"{forge} could not be reached while {doing}{detail}.")
    return UserFacingError(f"{forge} refused {doing} ({status}{': ' + message if message else ''}).")
