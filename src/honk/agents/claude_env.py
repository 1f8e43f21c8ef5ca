"""What the Claude Code process is given: its environment (model access, quiet flags), never more.

The process runs confined (the launcher the worker hands over): its HOME and temp dir are the
sandbox's own, the model API is reached through Honk's key proxy with a per-run token, and only the
variables named here reach it — the SDK merges the worker's whole environment into the child's, so
the launcher passes on these names and drops everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from honk.protocols import ModelAccess

QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # otherwise it calls home for telemetry
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
}


@dataclass(frozen=True)
class ClaudeConfig:
    model: str = "claude-sonnet-4-5"
    base_url: str | None = None  # the model API behind the key proxy, named in messages
    # Cloud-provider settings (Bedrock / Vertex), already filtered by the composition root. They reach
    # the process: with a cloud provider there is no key for Honk's proxy to hold.
    cloud_env: dict[str, str] = field(default_factory=dict)
    max_retries: int | None = None
    binary: Path | None = None  # default: the binary bundled in claude-agent-sdk


def environment(config: ClaudeConfig, model: ModelAccess | None, config_dir: Path) -> dict[str, str]:
    """`config_dir` is Claude Code's own (sessions, settings): in the sandbox's HOME, never the worker's
    `~/.claude` — the SDK copies from there when it lays out a session to resume."""
    env = {**QUIET, "CLAUDE_CONFIG_DIR": str(config_dir)}
    if model is not None:
        env["ANTHROPIC_BASE_URL"], env["ANTHROPIC_API_KEY"] = model.base_url, model.api_key
    if config.max_retries is not None:
        env["CLAUDE_CODE_MAX_RETRIES"] = str(config.max_retries)
    env.update(config.cloud_env)
    return env
