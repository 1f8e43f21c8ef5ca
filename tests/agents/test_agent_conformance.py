"""One conformance suite for every `honk.protocols.Agent`: scripted, command and claude (the real
binary against the fake model), each run in process as the worker's agent step runs it, with the tools
the worker builds for a run (bubblewrap, the key proxy behind a unix socket, a per-run token).

What every agent must do, whatever it is:
- do the job in `tools.workspace` and say so in an `AgentOutcome`, emitting only Honk's typed events;
- start every process through `tools.launcher` (its own CLI included), so each runs in pid and network
  namespaces that are not the worker's — checked here from outside, by what the process itself saw;
- end a job it cannot do with a `UserFacingError` (final, in words for a person) or a retryable
  `ApplicationError`, never another exception;
- asked for a plan, propose one and change nothing (the workspace is read-only: its writes fail), or,
  if it cannot plan (`plans` False), refuse in words.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from honk.agents import AGENTS_THAT_PLAN, AgentRegistry, ClaudeConfig
from honk.demo.fake_model import FakeModelServer, InjectedError, Scenario, ToolCall, Turn
from honk.domain import AgentJob, AgentMode, AgentOutcome, AgentSettings, VerifyCommand
from honk.errors import UserFacingError
from honk.events import Event
from honk.sandbox import Sandbox, SandboxConfig
from honk.sandbox.key_proxy import KeyProxy
from honk.testing.transcripts import MemoryTranscripts
from honk.workflow.steps.tools import ToolsForRuns

AGENTS = ["scripted", "command", "claude"]
BROKEN = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
# What a process the agent started saw of its own namespaces, written where the test can read it.
SEE_NAMESPACES = (
    "open('ns.txt', 'w').write(__import__('os').readlink('/proc/self/ns/pid') + ' ' + "
    "__import__('os').readlink('/proc/self/ns/net'))"
)
WORKER_NAMESPACES = f"{os.readlink('/proc/self/ns/pid')} {os.readlink('/proc/self/ns/net')}"


class CountingLauncher:
    """The worker's launcher, counting what the agent started through it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.started = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def run(self, argv: Sequence[str], **kw: Any) -> Any:
        self.started += 1
        return await self.inner.run(argv, **kw)

    async def shell(self, command: str, **kw: Any) -> Any:
        self.started += 1
        return await self.inner.shell(command, **kw)

    def program(self, executable: Path, pass_env: Sequence[str]) -> Path:
        self.started += 1
        return self.inner.program(executable, pass_env)


@dataclasses.dataclass
class Rig:
    root: Path
    model: FakeModelServer
    events: list[Event] = dataclasses.field(default_factory=list)
    started: int = 0

    def workspace(self, files: dict[str, str]) -> Path:
        ws = self.root / "ws"
        for rel, text in files.items():
            (ws / rel).parent.mkdir(parents=True, exist_ok=True)
            (ws / rel).write_text(text)
        return ws

    async def run(self, agent_name: str, ws: Path, settings: dict[str, Any], mode: AgentMode = "edit") -> AgentOutcome:
        sockets = self.root / "sockets"
        sockets.mkdir(exist_ok=True)
        proxy = KeyProxy(self.model.url, api_key=SecretStr("sk-ant-conformance"))
        await proxy.start(socket=sockets / "model.sock")
        sandbox = Sandbox(SandboxConfig(model_socket_dir=sockets, hidden=(self.root / "data",)))
        if (problem := sandbox.problem()) is not None:
            pytest.fail(f"bubblewrap cannot run here: {problem}")
        worker = ToolsForRuns(sandbox, MemoryTranscripts(), self.root / "areas", self.root / "logs", proxy)  # type: ignore[arg-type]
        agent = AgentRegistry(ClaudeConfig(model="claude-sonnet-4-5", base_url=self.model.url, max_retries=0)).get(
            agent_name
        )
        assert agent.name == agent_name
        job = AgentJob(
            task_id="t-conformance",
            prompt="make add() add",
            request="make add() add",
            reason="request",
            round=1,
            invocation=0,
            checks=[VerifyCommand(name="test", run="true", timeout_s=60)],
            settings=AgentSettings.model_validate(settings | {"timeout": 120}),
            mode=mode,
        )

        async def emit(*events: Event) -> None:
            self.events.extend(events)

        try:
            async with worker.run(job.task_id, ws, [], job.checks, emit, writable=mode == "edit") as tools:
                counting = CountingLauncher(tools.launcher)
                try:
                    return await agent.run(job, dataclasses.replace(tools, launcher=counting), emit)  # type: ignore[arg-type]
                finally:
                    self.started = counting.started
        finally:
            await proxy.stop()


@pytest.fixture
async def rig(tmp_path: Path, model: FakeModelServer) -> AsyncIterator[Rig]:
    yield Rig(tmp_path, model)


def fixing(agent: str, model: FakeModelServer) -> tuple[dict[str, str], dict[str, Any]]:
    """A repo and `[agent]` settings with which `agent` sees its namespaces, then fixes add()."""
    files = {"calc.py": BROKEN}
    if agent == "scripted":
        files[".honk/scenario.toml"] = (
            f"[[step]]\nmessage = 'Fixed add().'\ncommands = [{json.dumps('python3 -c ' + shlex.quote(SEE_NAMESPACES))}]\n"
            "[[step.edit]]\npath = 'calc.py'\nreplace = 'return a - b'\nwith = 'return a + b'\n"
        )
        return files, {}
    if agent == "command":
        files["tools/fix.py"] = (
            f"import pathlib\n{SEE_NAMESPACES}\n"
            "p = pathlib.Path('calc.py')\np.write_text(p.read_text().replace('a - b', 'a + b'))\nprint('Fixed add().')\n"
        )
        return files, {"command": "python3 tools/fix.py {prompt}"}
    model.play(
        Scenario(
            turns=[
                Turn(tools=[ToolCall(name="Bash", input={"command": "python3 -c " + shlex.quote(SEE_NAMESPACES)})]),
                Turn(tools=[ToolCall(name="Read", input={"file_path": "{cwd}/calc.py"})]),
                Turn(
                    tools=[
                        ToolCall(
                            name="Edit",
                            input={"file_path": "{cwd}/calc.py", "old_string": "a - b", "new_string": "a + b"},
                        )
                    ]
                ),
                Turn(text="Fixed add()."),
            ]
        )
    )
    return files, {"allow": ["python3"]}


def failing(agent: str, model: FakeModelServer) -> tuple[dict[str, str], dict[str, Any], str]:
    """A job `agent` cannot do, and what its message must say."""
    if agent == "scripted":
        return {"calc.py": BROKEN}, {}, "needs a scenario file"
    if agent == "command":
        return (
            {"calc.py": BROKEN, "tools/no.py": "raise SystemExit(3)\n"},
            {"command": "python3 tools/no.py {prompt}"},
            "3",
        )
    model.play(
        Scenario(turns=[Turn(text="hi", error=InjectedError(status=401, type="authentication_error", message="no"))])
    )
    return {"calc.py": BROKEN}, {}, "invalid API key"


@pytest.mark.parametrize("agent", AGENTS)
async def test_the_agent_does_the_job_with_only_the_tools_it_was_given(rig: Rig, agent: str):
    files, settings = fixing(agent, rig.model)
    ws = rig.workspace(files)

    outcome = await rig.run(agent, ws, settings)

    assert isinstance(outcome, AgentOutcome) and outcome.turns >= 1
    assert (ws / "calc.py").read_text() == FIXED
    assert rig.events and all(isinstance(e, Event) for e in rig.events)
    assert any(e.kind == "agent_said" and "Fixed add()" in e.text for e in rig.events)
    assert rig.started >= 1, "it started its process through the launcher it was given"
    seen = (ws / "ns.txt").read_text().split()
    assert len(seen) == 2 and seen[0] != WORKER_NAMESPACES.split()[0], "its own pid namespace"
    assert seen[1] != WORKER_NAMESPACES.split()[1], "its own network namespace"


@pytest.mark.parametrize("agent", AGENTS)
async def test_a_job_the_agent_cannot_do_ends_in_words_for_a_person(rig: Rig, agent: str):
    files, settings, says = failing(agent, rig.model)
    ws = rig.workspace(files)

    with pytest.raises((UserFacingError, ApplicationError)) as raised:
        await rig.run(agent, ws, settings)

    assert says in str(raised.value)
    assert (ws / "calc.py").read_text() == BROKEN


# What each agent tries while planning: write calc.py (the read-only workspace must refuse it).
WRITE = "open('calc.py', 'w').write('hacked')"
PLAN = {"summary": "Make add() add", "steps": ["Swap - for +"], "files": ["calc.py"], "risks": [], "questions": []}


def planning(agent: str, model: FakeModelServer) -> tuple[dict[str, str], dict[str, Any]]:
    files = {"calc.py": BROKEN}
    if agent == "scripted":
        files[".honk/scenario.toml"] = (
            f"[[step]]\nmessage = 'Planned.'\ncommands = [{json.dumps('python3 -c ' + shlex.quote(WRITE))}]\n"
            f"[step.plan]\nsummary = 'Make add() add'\nsteps = ['Swap - for +']\nfiles = ['calc.py']\n"
        )
        return files, {}
    if agent == "command":
        return files, {"command": "python3 -c " + shlex.quote(WRITE) + " {prompt}"}
    model.play(
        Scenario(
            turns=[
                Turn(tools=[ToolCall(name="Write", input={"file_path": "{cwd}/calc.py", "content": "hacked"})]),
                Turn(tools=[ToolCall(name="Bash", input={"command": "python3 -c " + shlex.quote(WRITE)})]),
                Turn(tools=[ToolCall(name="StructuredOutput", input=PLAN)]),
            ]
        )
    )
    return files, {"allow": ["python3"]}


@pytest.mark.parametrize("agent", AGENTS)
async def test_asked_for_a_plan_the_agent_proposes_one_and_changes_nothing_or_refuses(rig: Rig, agent: str):
    files, settings = planning(agent, rig.model)
    ws = rig.workspace(files)
    plans = AgentRegistry(ClaudeConfig(model="m", base_url=rig.model.url)).get(agent).plans
    assert plans == (agent in AGENTS_THAT_PLAN)

    if not plans:
        with pytest.raises(UserFacingError, match="cannot plan"):
            await rig.run(agent, ws, settings, mode="plan")
        assert rig.started == 0, "it refused before starting anything"
    else:
        outcome = await rig.run(agent, ws, settings, mode="plan")
        assert outcome.plan is not None and outcome.plan.summary == "Make add() add"
        assert outcome.plan.files == ["calc.py"]
    assert (ws / "calc.py").read_text() == BROKEN, "nothing changed while planning"
