"""Any command-line coding agent (aider, codex exec, …) given a command template from the repo config."""

from __future__ import annotations

import shlex
from pathlib import Path

from honk.agents.job import AgentJob
from honk.domain import AgentOutcome
from honk.errors import UserFacingError
from honk.events import AgentSaid
from honk.protocols import EventSink
from honk.workspace import proc


class CommandAgent:
    name = "command"

    async def run(self, job: AgentJob, emit: EventSink) -> AgentOutcome:
        template = job.settings.command
        if not template:
            raise UserFacingError('The command agent needs `[agent] command = "…{prompt}…"` in the repo\'s .honk.toml.')
        argv = build_argv(template, job.prompt, job.model)
        res = await proc.run(argv, cwd=Path(job.workspace), timeout_s=job.timeout_s)
        tail = "\n".join(res.output.strip().splitlines()[-20:])
        if tail:
            await emit(AgentSaid(text=tail))
        if res.timed_out:
            raise UserFacingError(f"The agent command did not finish within {job.timeout_s:.0f}s.")
        if res.exit_code != 0:
            raise UserFacingError(f"The agent command `{argv[0]}` exited with {res.exit_code}: {tail[-500:]}")
        return AgentOutcome(summary=tail.splitlines()[-1] if tail else "", model=job.model, turns=1)


def build_argv(template: str, prompt: str, model: str | None) -> list[str]:
    """Splits the template like a shell would, then substitutes; the prompt is never re-parsed by a shell."""
    try:
        tokens = shlex.split(template)
    except ValueError as e:
        raise UserFacingError(f"The agent command template cannot be parsed: {e}") from e
    return [t.replace("{prompt}", prompt).replace("{model}", model or "") for t in tokens]
