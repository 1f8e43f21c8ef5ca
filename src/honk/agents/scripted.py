"""A deterministic agent that plays a scenario file: the demo's agent and the tests' agent.

Run n of a task plays `[[step]]` n of the scenario (edits, commands, a message), so a test can
script "wrong fix, then right fix after the checks fail" without a model.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from honk.agents.job import AgentJob
from honk.domain import AgentOutcome
from honk.errors import UserFacingError
from honk.events import AgentRanCommand, AgentSaid
from honk.protocols import EventSink

DEFAULT_SCENARIO = ".honk/scenario.toml"


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    path: str
    content: str | None = None
    replace: str | None = None
    with_: str | None = Field(default=None, alias="with")
    delete: bool = False


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = ""
    commands: list[str] = []
    edit: list[Edit] = []


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: list[Step] = []


class ScriptedAgent:
    name = "scripted"

    async def run(self, job: AgentJob, emit: EventSink) -> AgentOutcome:
        root = Path(job.workspace)
        scenario = load_scenario(root, job.settings.scenario or DEFAULT_SCENARIO)
        if job.invocation >= len(scenario.step):
            await emit(AgentSaid(text="The scenario has no further steps; nothing changed."))
            return AgentOutcome(summary="no change (scenario exhausted)", model="scripted")
        step = scenario.step[job.invocation]
        for edit in step.edit:
            apply_edit(root, edit)
        for command in step.commands:
            res = await job.shell_box.run(command, root, job.timeout_s)
            await emit(AgentRanCommand(command=command, exit_code=res.exit_code, output=res.output[-2000:]))
        if step.message:
            await emit(AgentSaid(text=step.message))
        return AgentOutcome(summary=step.message, model="scripted", cost_usd=0.0, turns=1)


def load_scenario(root: Path, rel: str) -> Scenario:
    path = _inside(root, rel)
    if not path.is_file():
        raise UserFacingError(f"The scripted agent needs a scenario file at {rel} in the repo.")
    try:
        return Scenario.model_validate(tomllib.loads(path.read_text()))
    except (tomllib.TOMLDecodeError, ValidationError) as e:
        raise UserFacingError(f"Scenario {rel} is invalid: {e}") from e


def apply_edit(root: Path, edit: Edit) -> None:
    path = _inside(root, edit.path)
    if edit.delete:
        path.unlink(missing_ok=True)
    elif edit.content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit.content)
    elif edit.replace is not None and edit.with_ is not None:
        text = path.read_text() if path.exists() else ""
        if edit.replace in text:
            path.write_text(text.replace(edit.replace, edit.with_, 1))
        elif edit.with_ not in text:  # already applied by an earlier attempt of this run is fine
            raise UserFacingError(f"Scenario edit of {edit.path}: text to replace not found.")
    else:
        raise UserFacingError(f"Scenario edit of {edit.path} needs content, replace+with, or delete.")


def _inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise UserFacingError(f"Path {rel!r} leaves the workspace.")
    return path
