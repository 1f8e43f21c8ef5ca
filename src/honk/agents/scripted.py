"""A deterministic agent that plays a scenario file: the demo's agent and the tests' agent.

Run n of a task plays `[[step]]` n of the scenario (edits, commands, a message), so a test can
script "wrong fix, then right fix after the checks fail" without a model.

Best of N (honk.attempts): an attempt may play its own steps. `[[attempt]]` tables name an attempt's
number and hold its `[[attempt.step]]`s; an attempt with no table of its own plays the top-level
`[[step]]`s:

    [[step]]                       # every attempt but 2
    edit = [{ path = "calc.py", replace = "a - b", with = "a + b" }]

    [[attempt]]
    number = 2                     # attempt 2 makes a change whose checks fail
    [[attempt.step]]
    edit = [{ path = "calc.py", replace = "a - b", with = "a * b" }]
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
    cost_usd: float = Field(default=0.0, ge=0)  # what the run reports it spent (budget stories)


class AttemptSteps(BaseModel):
    """What attempt `number` of a best-of-N group plays instead of the top-level steps."""

    model_config = ConfigDict(extra="forbid")
    number: int = Field(ge=1)
    step: list[Step] = []


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: list[Step] = []
    attempt: list[AttemptSteps] = []

    def steps_for(self, attempt: int) -> list[Step]:
        """The steps attempt `attempt` plays (0: a task that is no attempt plays the top-level ones)."""
        own = [a for a in self.attempt if a.number == attempt]
        return own[0].step if own else self.step


class ScriptedAgent:
    name = "scripted"
    plans = True  # a step scripts the plan; its edits fail while planning, as any agent's would

    async def run(self, job: AgentJob, tools: AgentTools, emit: EventSink) -> AgentOutcome:
        scenario = load_scenario(tools.workspace, job.settings.scenario or DEFAULT_SCENARIO)
        steps = scenario.steps_for(job.attempt)
        if job.invocation >= len(steps):
            await emit(AgentSaid(text="The scenario has no further steps; nothing changed."))
            return AgentOutcome(summary="no change (scenario exhausted)", model="scripted")
        step = steps[job.invocation]
        for edit in step.edit:
            apply_edit(_view(tools, edit.repo), edit)
        for command in step.commands:
            res = await tools.launcher.shell(command, timeout_s=job.timeout_s)
            await emit(AgentRanCommand(command=command, exit_code=res.exit_code, output=res.output[-2000:]))
        if step.message:
            await emit(AgentSaid(text=step.message))
        plan = step.plan if job.mode == "plan" else None
        summary = plan.summary if plan is not None else step.message
        return AgentOutcome(summary=summary, model="scripted", cost_usd=step.cost_usd, turns=1, plan=plan)


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
