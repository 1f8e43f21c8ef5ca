"""Every seam of Honk as a small Protocol, in the order a request travels through them."""

from __future__ import annotations

from typing import Protocol

from honk.agents.job import AgentJob
from honk.domain import AgentOutcome
from honk.events import AnyEvent


class EventSink(Protocol):
    """Where a step reports progress; the worker's sink writes to Honk's store."""

    async def __call__(self, *events: AnyEvent) -> None: ...


class Agent(Protocol):
    """A coding agent: edits the workspace toward the job's prompt. Honk commits, verifies and merges."""

    name: str

    async def run(self, job: AgentJob, emit: EventSink) -> AgentOutcome: ...
