"""Coding agents behind one small Protocol (`honk.protocols.Agent`), built by the worker's registry."""

from __future__ import annotations

from honk.agents.claude_env import ClaudeConfig
from honk.agents.command import CommandAgent
from honk.agents.scripted import ScriptedAgent
from honk.errors import UserFacingError
from honk.protocols import Agent

AGENT_NAMES = ("claude", "command", "scripted")


class AgentRegistry:
    """The agents a worker can run; `claude` needs its config (credentials, budgets, homes)."""

    def __init__(self, claude: ClaudeConfig | None = None) -> None:
        self.claude = claude
        self._claude_agent: Agent | None = None  # one per worker: it owns the loopback key proxy

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

    async def aclose(self) -> None:
        """Stops what the agents keep running between runs (the Claude agent's key proxy)."""
        close = getattr(self._claude_agent, "aclose", None)
        if close is not None:
            await close()
