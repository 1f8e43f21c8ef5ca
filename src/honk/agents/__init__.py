"""Coding agents behind one small Protocol (`honk.protocols.Agent`), built by the worker's registry.

An agent gets its job and the tools the worker built for the run (`honk.protocols.AgentTools`); it
never starts a process itself (an import-linter contract and tests/unit/test_architecture.py say so).
"""

from __future__ import annotations

from honk.agents.claude_env import ClaudeConfig
from honk.agents.claude_errors import AgentStopped
from honk.agents.command import CommandAgent
from honk.agents.scripted import ScriptedAgent
from honk.errors import UserFacingError
from honk.protocols import Agent

AGENT_NAMES = ("claude", "command", "scripted")
AGENTS_THAT_PLAN = ("claude", "scripted")  # each agent's `plans` says the same (tests hold them together)
__all__ = ["AGENTS_THAT_PLAN", "AGENT_NAMES", "AgentRegistry", "AgentStopped", "ClaudeConfig"]


class AgentRegistry:
    """The agents a worker can run; `claude` needs its config (None: no model credentials here)."""

    def __init__(self, claude: ClaudeConfig | None = None) -> None:
        self.claude = claude
        self._claude_agent: Agent | None = None

    def get(self, name: str) -> Agent:
        if name == "scripted":
            return ScriptedAgent()
        if name == "command":
            return CommandAgent()
        if name == "claude":
            if self.claude is None:
                raise UserFacingError(
                    "The claude agent needs model credentials on the worker: set "
                    "ANTHROPIC_API_KEY (or CLAUDE_CODE_USE_BEDROCK / CLAUDE_CODE_USE_VERTEX) "
                    "and restart it, or ask with --agent scripted / command."
                )
            from honk.agents.claude_code import ClaudeCodeAgent  # the SDK loads only when used

            if self._claude_agent is None:
                self._claude_agent = ClaudeCodeAgent(self.claude)
            return self._claude_agent
        raise UserFacingError(f"Unknown agent {name!r}; available: {', '.join(AGENT_NAMES)}.")
