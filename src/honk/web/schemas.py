"""Request bodies of the HTTP API (responses are the domain records themselves)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _plain_text(cls, value: object) -> object:
        """Text every later step can carry: paths, git arguments and the store take no NUL or lone surrogate."""
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("must not contain a NUL character")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text (it has a lone surrogate)") from None
        return value


class ForgeIn(Body):
    kind: Literal["github", "gitlab"]
    project: str = Field(
        max_length=300,
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description='GitHub "owner/name"; GitLab "group/name" or the project id',
    )
    api_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://",
        description="GitHub Enterprise / self-hosted GitLab API (default: the public one)",
    )


class RepoIn(Body):
    name: str = Field(max_length=100)
    url: str = Field(max_length=2000)
    branch: str = Field(default="main", max_length=255)
    forge: ForgeIn | None = Field(
        default=None,
        description="The repo's forge: Honk then pushes task branches, "
        "keeps a pull request per task and merges through the forge's API.",
    )


class TaskIn(Body):
    repo: str = Field(max_length=100)
    # Length is checked by the service so the error can say what to do.
    text: str
    agent: str | None = Field(default=None, max_length=50)
    model: str | None = Field(default=None, max_length=100)
    request_id: str | None = Field(
        default=None,
        description="Idempotency key: a retried submission with the same request_id returns the same task.",
    )
    requested_by: str | None = Field(default=None, max_length=200)
    plan: bool = Field(default=False, description="A plan first: the agent changes nothing until it is approved.")
    also: list[Annotated[str, Field(max_length=100)]] = Field(
        default=[],
        max_length=50,
        description="More repos the one change spans, merged in this order after `repo` (one pull request each).",
    )


class FollowUpIn(Body):
    text: str
    by: str | None = Field(default=None, max_length=200)


class ActorIn(Body):
    by: str | None = Field(default=None, max_length=200)


class PreviewLinkIn(Body):
    days: float | None = Field(
        default=None, gt=0, le=365, description="How long the link works (default: HONK_PREVIEW_LINK_DAYS)."
    )


class PreviewLinkOut(BaseModel):
    url: str
    expires_at: datetime


class PreviewRevoked(BaseModel):
    generation: int = Field(description="Links are signed with this generation now; older ones stopped working.")


class PlanApprovalIn(Body):
    by: str | None = Field(default=None, max_length=200)
    version: int | None = Field(
        default=None, ge=1, description="The plan version approved; refused once a newer plan replaced it."
    )


class PlanRevisionIn(Body):
    text: str
    by: str | None = Field(default=None, max_length=200)
    version: int | None = Field(default=None, ge=1, description="The plan version the changes are asked of.")


class SecretIn(Body):
    value: str = Field(
        description="The secret's value: text of 8 characters to 64 KiB (UTF-8). It is never shown again."
    )


class HostAllowIn(Body):
    host: str = Field(
        max_length=300,
        description="A preset (pypi, npm, …) or a host name: exact, or *.example.com; a :port may follow. "
        "Never an address.",
    )
    phases: list[str] = Field(
        max_length=20,
        description="The phases whose sandboxes may reach it: setup, agent, check, build, preview, deliver, deploy.",
    )


class Refusal(BaseModel):
    """Every 4xx answer: why the request was refused, in words a person can act on."""

    detail: str = Field(description="What is wrong with the request and what to do instead.")
