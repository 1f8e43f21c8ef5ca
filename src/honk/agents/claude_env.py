"""The Claude Code child's world: a fresh HOME and temp dir per task, an allow-listed environment,
and a launcher that drops everything else.

The SDK merges the worker's own environment into the child's, so a variable cannot be removed
through its options; the launcher re-executes the bundled binary under `env -i` with only the names
Honk chose. It holds names, never values, so no secret is written to disk.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from honk.workspace.proc import child_env

QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # otherwise it calls home for telemetry
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
}


@dataclass(frozen=True)
class ClaudeConfig:
    homes_dir: Path
    model: str = "claude-sonnet-4-5"
    api_key: SecretStr | None = None
    base_url: str | None = None
    # Cloud-provider settings (Bedrock / Vertex), already filtered by the composition root.
    cloud_env: dict[str, str] = field(default_factory=dict)
    max_turns: int = 60
    max_cost_usd: float = 5.0
    timeout_s: float = 1800.0
    max_retries: int | None = None
    binary: Path | None = None  # default: the binary bundled in claude-agent-sdk


def task_area(config: ClaudeConfig, task_id: str) -> Path:
    return config.homes_dir / task_id


def environment(config: ClaudeConfig, task_id: str, via: tuple[str, str] | None = None) -> dict[str, str]:
    """`via` is (proxy URL, run token): the agent then holds a token that works only through Honk's
    loopback key proxy, only during its run, instead of the API key itself."""
    area = task_area(config, task_id)
    home, tmp = area / "home", area / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env = child_env()
    env.update(QUIET)
    env.update(
        {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "CLAUDE_CODE_TMPDIR": str(tmp),
            "XDG_RUNTIME_DIR": str(tmp),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
    )
    if via is not None:
        env["ANTHROPIC_BASE_URL"], env["ANTHROPIC_API_KEY"] = via
    elif config.base_url:
        env["ANTHROPIC_BASE_URL"] = config.base_url
    if config.max_retries is not None:
        env["CLAUDE_CODE_MAX_RETRIES"] = str(config.max_retries)
    env.update(config.cloud_env)
    return env


def launcher(config: ClaudeConfig, task_id: str, binary: Path, names: list[str]) -> Path:
    """A script that starts `binary` with only the variables in `names` (their values from its caller)."""
    keep = " ".join(f'{n}="${{{n}}}"' for n in sorted(names) if n.replace("_", "").isalnum())
    path = task_area(config, task_id) / "claude"
    path.write_text(f'#!/bin/sh\nexec /usr/bin/env -i {keep} {shlex.quote(str(binary))} "$@"\n')
    path.chmod(0o700)
    return path
