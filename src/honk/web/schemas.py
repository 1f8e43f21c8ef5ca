"""Request bodies of the HTTP API (responses are the domain records themselves)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepoIn(Body):
    name: str = Field(max_length=100)
    url: str = Field(max_length=2000)
    branch: str = Field(default="main", max_length=255)


class TaskIn(Body):
    repo: str = Field(max_length=100)
    # Length is checked by the service so the error can say what to do.
    text: str
    agent: str | None = Field(default=None, max_length=50)
    model: str | None = Field(default=None, max_length=100)
    request_id: str | None = Field(default=None, description="Idempotency key: a retried submission with "
                                   "the same request_id returns the same task.")
    requested_by: str | None = Field(default=None, max_length=200)


class FollowUpIn(Body):
    text: str
    by: str | None = Field(default=None, max_length=200)


class ActorIn(Body):
    by: str | None = Field(default=None, max_length=200)


class Refusal(BaseModel):
    """Every 4xx answer: why the request was refused, in words a person can act on."""

    detail: str = Field(description="What is wrong with the request and what to do instead.")
