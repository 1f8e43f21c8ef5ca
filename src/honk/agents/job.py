"""What an agent is asked to do in one run."""

from __future__ import annotations

from typing import Literal

from honk.domain import AgentSettings, Record


class AgentJob(Record):
    task_id: str
    workspace: str
    prompt: str  # the full instructions for this run
    request: str  # the original request, for agents that keep their own context
    reason: Literal["request", "check_feedback", "follow_up", "main_moved"]
    round: int
    invocation: int  # how many agent runs this task had before this one
    model: str | None = None
    settings: AgentSettings = AgentSettings()
    session_id: str | None = None  # to resume the agent's own session on follow-ups
