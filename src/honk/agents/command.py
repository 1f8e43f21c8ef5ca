"""Any command-line coding agent (aider, codex exec, …) given a command template from the repo config.

It runs confined, like everything of the repo's: through the launcher the worker hands over, with
the model reachable through Honk's key proxy (a per-run token as its key) and nothing else.
"""

from __future__ import annotations

import shlex

from honk.agents import prompt
from honk.domain import AgentJob, AgentOutcome
from honk.errors import UserFacingError
from honk.events import AgentSaid
from honk.protocols import AgentTools, EventSink, ModelAccess


class CommandAgent:
    name = "command"
    plans = False  # its command edits; there is no way to ask it for a plan only

    async def run(self, job: AgentJob, tools: AgentTools, emit: EventSink) -> AgentOutcome:
        if job.mode == "plan":
            raise UserFacingError("The command agent cannot plan: it runs its command, which changes files.")
        template = job.settings.command
        if not template:
            raise UserFacingError('The command agent needs `[agent] command = "…{prompt}…"` in the repo\'s .honk.toml.')
        # The request's files are in the run's HOME; the prompt says where, and quotes the text ones.
        argv = build_argv(template, job.prompt + prompt.attachments(tools.attachments, images_inline=False), job.model)
        res = await tools.launcher.run(argv, timeout_s=job.timeout_s, env=model_env(tools.model))
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


def model_env(model: ModelAccess | None) -> dict[str, str]:
    """Where Anthropic-speaking CLIs find the model: Honk's key proxy, with this run's token."""
    if model is None:
        return {}
    return {"ANTHROPIC_BASE_URL": model.base_url, "ANTHROPIC_API_KEY": model.api_key}
