"""The real bundled Claude Code binary does Honk's work, driven by the scripted fake model."""

from __future__ import annotations

from repos import calc_files

from honk.domain import TaskState
from honk.testing.fake_model import Scenario, ToolCall, Turn

CLAUDE_TOML = '[[verify]]\nname = "test"\nrun = "python3 -m unittest -q"\ntimeout = 60\n[agent]\nname = "claude"\n'


def read(path: str) -> Turn:
    return Turn(tools=[ToolCall(name="Read", input={"file_path": "{cwd}/" + path})])


def edit(path: str, old: str, new: str) -> Turn:
    return Turn(tools=[ToolCall(name="Edit", input={"file_path": "{cwd}/" + path, "old_string": old,
                                                     "new_string": new})])


VERIFY = Turn(tools=[ToolCall(name="mcp__honk__verify", input={})])


def claude_repo() -> dict[str, str]:
    return calc_files("") | {".honk.toml": CLAUDE_TOML}


def test_edit_verify_fail_fix_pass_and_deliver(claude_stack, model, make_remote):
    model.play(Scenario(turns=[
        read("calc.py"), edit("calc.py", "return a - b", "return a * b"), VERIFY,
        edit("calc.py", "return a * b", "return a + b"), VERIFY,
        Turn(text="Fixed add(): it subtracted instead of adding."),
    ]))
    remote = make_remote(claude_repo())
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    done = claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason

    events = [e.event for e in claude_stack.events(task.id)]
    results = [e for e in events if e.kind == "agent_tool_result" and e.tool == "mcp__honk__verify"]
    assert len(results) == 2 and "6 != 5" in results[0].output and "All checks pass" in results[1].output
    assert any(e.kind == "agent_said" and "subtracted" in e.text for e in events)
    usage = [e for e in events if e.kind == "agent_usage" and e.cost_usd is not None]
    assert usage and usage[-1].cost_usd > 0
    assert done.cost_usd and done.cost_usd > 0 and done.model
    first = model.agent_requests()[0].body
    assert first["model"] == "claude-sonnet-4-5"
    assert "make add() add" in str(first["messages"]) and "verify" in str(first["messages"])
