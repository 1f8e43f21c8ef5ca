"""A deterministic agent that plays a scenario file: the demo's agent and the tests' agent.

Run n of a task plays `[[step]]` n of the scenario (edits, commands, a message), so a test can
script "wrong fix, then right fix after the checks fail" without a model.
"""

from __future__ import annotations

import tomllib

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from honk.domain import AgentJob, AgentOutcome, Plan
from honk.errors import UserFacingError
from honk.events import AgentRanCommand, AgentSaid
from honk.protocols import AgentTools, EventSink, WorkspaceView

DEFAULT_SCENARIO = ".honk/scenario.toml"


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    path: str
    repo: str = ""  # another repo of a task over several, by name ("": the workspace's own)
    content: str | None = None
    replace: str | None = None
    with_: str | None = Field(default=None, alias="with")
    delete: bool = False


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = ""
    commands: list[str] = []
    edit: list[Edit] = []
    plan: Plan | None = None  # what a run in plan mode proposes


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: list[Step] = []


class ScriptedAgent:
    name = "scripted"
    plans = True  # a step scripts the plan; its edits fail while planning, as any agent's would

    async def run(self, job: AgentJob, tools: AgentTools, emit: EventSink) -> AgentOutcome:
        scenario = load_scenario(tools.workspace, job.settings.scenario or DEFAULT_SCENARIO)
        if job.invocation >= len(scenario.step):
            await emit(AgentSaid(text="The scenario has no further steps; nothing changed."))
            return AgentOutcome(summary="no change (scenario exhausted)", model="scripted")
        step = scenario.step[job.invocation]
        for edit in step.edit:
            apply_edit(_view(tools, edit.repo), edit)
        for command in step.commands:
            res = await tools.launcher.shell(command, timeout_s=job.timeout_s)
            await emit(AgentRanCommand(command=command, exit_code=res.exit_code, output=res.output[-2000:]))
        if step.message:
            await emit(AgentSaid(text=step.message))
        plan = step.plan if job.mode == "plan" else None
        summary = plan.summary if plan is not None else step.message
        return AgentOutcome(summary=summary, model="scripted", cost_usd=0.0, turns=1, plan=plan)


def _view(tools: AgentTools, repo: str) -> WorkspaceView:
    """The workspace an edit is for: the run's own, or another repo's of a task over several."""
    if not repo:
        return tools.workspace
    if repo not in tools.also:
        known = ", ".join(tools.also) or "none: this task has one repo"
        raise UserFacingError(
            f"Scenario edit names repo {repo!r}, which is not one of this task's other repos ({known})."
        )
    return tools.also[repo]


def load_scenario(workspace: WorkspaceView, rel: str) -> Scenario:
    text = workspace.read(rel)
    if text is None:
        raise UserFacingError(f"The scripted agent needs a scenario file at {rel} in the repo.")
    try:
        return Scenario.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as e:
        raise UserFacingError(f"Scenario {rel} is invalid: {e}") from e


def apply_edit(workspace: WorkspaceView, edit: Edit) -> None:
    if edit.delete:
        workspace.delete(edit.path)
    elif edit.content is not None:
        workspace.write(edit.path, edit.content)
    elif edit.replace is not None and edit.with_ is not None:
        text = workspace.read(edit.path) or ""
        if edit.replace in text:
            workspace.write(edit.path, text.replace(edit.replace, edit.with_, 1))
        elif edit.with_ not in text:  # already applied by an earlier attempt of this run is fine
            raise UserFacingError(f"Scenario edit of {edit.path}: text to replace not found.")
    else:
        raise UserFacingError(f"Scenario edit of {edit.path} needs content, replace+with, or delete.")
