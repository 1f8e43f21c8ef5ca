"""The demo model's script: the sample repo's scripted story, replayed as Claude Code tool calls.

`honk up --demo-model` serves it from the fake model server, so the real Claude Code binary does
the sample's fix with no credentials and no network.
"""

from __future__ import annotations

import tomllib

from honk.agents.scripted import Scenario as ScriptedScenario
from honk.demo.fake_model import Scenario, ToolCall, Turn
from honk.sample import sample_repo_dir

VERIFY = Turn(tools=[ToolCall(name="mcp__honk__verify", input={})])


def demo_scenario() -> Scenario:
    script = ScriptedScenario.model_validate(tomllib.loads((sample_repo_dir() / ".honk" / "scenario.toml").read_text()))
    turns: list[Turn] = []
    for step in script.step:
        for edit in step.edit:
            path = "{cwd}/" + edit.path
            turns.append(Turn(tools=[ToolCall(name="Read", input={"file_path": path})]))
            turns.append(
                Turn(
                    tools=[
                        ToolCall(
                            name="Edit", input={"file_path": path, "old_string": edit.replace, "new_string": edit.with_}
                        )
                    ]
                )
            )
        turns.append(VERIFY)
        if step is script.step[1] or step is script.step[-1]:
            turns.append(Turn(text=step.message))  # the end of the request's run, then of the follow-up
    return Scenario(turns=turns)
