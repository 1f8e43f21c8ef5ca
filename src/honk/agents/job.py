"""What an agent is asked to do in one run."""

from __future__ import annotations

from honk.domain import DEFAULT_AGENT_TIMEOUT_S, AgentReason, AgentSettings, Record, VerifyCommand
from honk.sandbox import Confined


class AgentJob(Record):
    task_id: str
    workspace: str
    prompt: str  # the full instructions for this run
    request: str  # the original request, for agents that keep their own context
    reason: AgentReason
    round: int
    invocation: int  # how many agent runs this task had before this one
    model: str | None = None
    settings: AgentSettings = AgentSettings()
    session_id: str | None = None  # to resume the agent's own session on follow-ups
    checks: list[VerifyCommand] = []  # the repo's verifiers, for agents that run them themselves
    log_dir: str = ""
    max_gate_rounds: int = 3  # how often a failing check may send the agent back before it stops
    repo: str = ""
    # Set when the target branch conflicts with the task branch: Honk starts that merge, leaving the
    # conflict markers for the agent to resolve; Honk then commits the merge.
    merge_from: str | None = None
    # Filled in by the worker: how the repo's checks and the agent's own commands are sandboxed.
    checks_box: Confined = Confined()
    shell_box: Confined = Confined()

    @property
    def timeout_s(self) -> float:
        return self.settings.timeout_s or DEFAULT_AGENT_TIMEOUT_S
