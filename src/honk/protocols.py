"""Every seam of Honk as a small Protocol, in the order a request travels through them: the map.

A front door hands a `TaskRequest` to the workflow; each step of the route runs in a worker through
the seams below. Implementations are plain classes named role-last (`ClaudeCodeAgent`,
`SandboxLauncher`, `WorktreeWorkspaces`, ...); fakes implement the same Protocols and pass the same
conformance tests (tests/conformance). Refusals a step can react to come back as data; errors a
person must act on are `honk.errors.UserFacingError`; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from honk.domain import AgentJob, AgentOutcome, ProcResult
from honk.events import AnyEvent


class EventSink(Protocol):
    """Where a step reports progress. The worker's sink writes to Honk's store (redacted first),
    from where every front door renders it."""

    async def __call__(self, *events: AnyEvent) -> None: ...


# -- the agent's tools: everything an agent may use, handed over by the worker for one run ---------


class Launcher(Protocol):
    """Starts programs for one task and purpose, confined: the workspace writable, its own HOME and
    /tmp, the system read-only, nothing of Honk's data or other tasks, its own pid and network
    namespaces (out only through what Honk binds in), an allow-listed environment, limits. The only
    way an agent or a step that runs repo code starts a process."""

    @property
    def home(self) -> Path:
        """The HOME its programs get: writable, the task's own, kept between the task's runs here."""
        ...

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        stdin: bytes | None = None,
    ) -> ProcResult:
        """Runs `argv` in the workspace and waits, at most `timeout_s` (then the program and every
        process it started are stopped). `env` adds to the allow-listed environment. A program the
        confinement stopped or refused still returns a result; what was refused is recorded."""
        ...

    async def shell(self, command: str, *, timeout_s: float, log: Path | None = None) -> ProcResult:
        """`bash -c command`, as `run` runs it."""
        ...

    def program(self, executable: Path, pass_env: Sequence[str]) -> Path:
        """A file that, run with any arguments, runs `executable` with them, confined, with only the
        variables named in `pass_env` taken from its own environment. For libraries that start a
        program themselves (the Claude Agent SDK's `cli_path`)."""
        ...

    def noticed(self, output: str, command: str) -> None:
        """Output a confined program produced that the launcher did not see itself (a command the
        agent ran with its own shell tool): the refusals it shows are recorded like the others."""
        ...


class WorkspaceView(Protocol):
    """The files of the task's workspace, as an agent may change them from the worker's side."""

    @property
    def root(self) -> Path:
        """The workspace directory (the agent's working directory)."""
        ...

    def path(self, rel: str) -> Path:
        """`rel` inside the workspace; a UserFacingError when it (or a link on the way) leads out."""
        ...

    def write(self, rel: str, text: str) -> None: ...

    def read(self, rel: str) -> str | None:
        """The file's text, or None when there is none."""
        ...

    def delete(self, rel: str) -> None: ...


class CheckRunner(Protocol):
    """The repo's checks, for an agent's own `verify` tool and stop gate. Each run is confined on its
    own and reported as events; the agent gets the distilled result."""

    @property
    def timeout_s(self) -> float:
        """How long one run of every check may take."""
        ...

    async def run(self, tag: str) -> tuple[bool, str]:
        """Runs every check; (all passed, one line when they pass or the distilled failures)."""
        ...


class ModelAccess(Protocol):
    """How a confined agent reaches the model API: through Honk's key proxy, with a token that is
    worth nothing outside this run. The real credential never enters the confinement."""

    @property
    def base_url(self) -> str:
        """The API's address as seen from inside the confinement."""
        ...

    @property
    def api_key(self) -> str:
        """This run's token, in place of any real key."""
        ...

    def unreachable(self) -> str | None:
        """Why the model API could not be reached during the run (the agent saw only a 502), if so."""
        ...


class Transcripts(Protocol):
    """An agent's own conversation, kept in Honk's store so that a follow-up resumes it on any worker."""

    async def append(self, session: str, entries: list[dict[str, Any]]) -> None: ...

    async def load(self, session: str) -> list[dict[str, Any]] | None:
        """The session's entries in order, or None for a session never written."""
        ...


class AgentTools(Protocol):
    """Everything an agent may use in one run, built by the worker for that run."""

    @property
    def workspace(self) -> WorkspaceView: ...

    @property
    def launcher(self) -> Launcher: ...

    @property
    def checks(self) -> CheckRunner: ...

    @property
    def model(self) -> ModelAccess | None:
        """None where the model is reached without a key Honk holds (Bedrock, Vertex)."""
        ...

    @property
    def transcripts(self) -> Transcripts: ...


class Agent(Protocol):
    """A coding agent: edits the workspace toward the job's prompt, using only `tools`. Honk commits,
    verifies and merges. A budget that stops it is `honk.agents.AgentStopped` (its work is kept)."""

    name: str

    async def run(self, job: AgentJob, tools: AgentTools, emit: EventSink) -> AgentOutcome:
        """Works in `tools.workspace`; says what it did and what it cost."""
        ...
