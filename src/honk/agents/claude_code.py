"""Claude Code, through the Claude Agent SDK, as Honk's default agent. The only module importing the SDK.

The Claude Code process runs confined, started by the launcher the worker hands over (the SDK's
`cli_path` is the launcher's wrapper): the workspace writable, its own HOME and /tmp, no view of Honk's
files or other processes, no network but the model API through Honk's key proxy (a per-run token in
place of the key). Small tool set (Read/Edit/Write/Glob/Grep, allow-listed Bash) plus an in-process
`verify` tool; every tool call also passes Honk's tool policy; a Stop hook keeps the agent working
while a check fails; turns, cost and wall-clock are budgeted; the transcript and usage are emitted as
events and the conversation is kept in Honk's store.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from honk.agents import claude_env, pricing, prompt
from honk.agents.claude_errors import AgentStopped, classify
from honk.agents.tool_policy import TOOLS, decide
from honk.domain import AgentJob, AgentOutcome, AttachedFile, Plan
from honk.errors import UserFacingError
from honk.events import (
    AgentSaid,
    AgentToolCalled,
    AgentToolDenied,
    AgentToolResult,
    AgentUsage,
)
from honk.protocols import AgentTools, EventSink, Transcripts

MAX_TOOL_OUTPUT = 2000


def bundled_binary() -> Path:
    return Path(sdk.__file__).parent / "_bundled" / "claude"


# What a planning run answers, as Claude Code's structured output (a tool the model must call).
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "description": "The change in two or three sentences."},
        "steps": {"type": "array", "items": {"type": "string"}, "description": "What you will do, in order."},
        "files": {"type": "array", "items": {"type": "string"}, "description": "Files you expect to touch."},
        "risks": {"type": "array", "items": {"type": "string"}},
        "questions": {"type": "array", "items": {"type": "string"}, "description": "For the approver."},
    },
    "required": ["summary", "steps", "files", "risks", "questions"],
    "additionalProperties": False,
}


class ClaudeCodeAgent:
    name = "claude"
    plans = True

    def __init__(self, config: claude_env.ClaudeConfig) -> None:
        self.config = config

    async def run(self, job: AgentJob, tools: AgentTools, emit: EventSink) -> AgentOutcome:
        binary = self.config.binary or bundled_binary()
        if not binary.is_file():
            raise UserFacingError(
                f"The Claude Code binary is missing at {binary}: reinstall Honk "
                "(`make install`, which installs claude-agent-sdk)."
            )
        try:
            return await self._run(job, tools, emit, binary)
        except Exception as e:
            if tools.model is not None and tools.model.unreachable() is not None:
                # The agent saw only the key proxy's 502: say what it means.
                raise classify(None, None, "connect failed", self.config.base_url) from e
            raise

    async def _run(self, job: AgentJob, tools: AgentTools, emit: EventSink, binary: Path) -> AgentOutcome:
        run = _Run(job, tools, emit)
        env = claude_env.environment(self.config, tools.model, tools.launcher.home / ".claude")
        planning = job.mode == "plan"
        options = ClaudeAgentOptions(
            cwd=str(tools.workspace.root),
            model=job.model or self.config.model,
            # Planning: Claude Code's plan mode (it refuses edits itself; the workspace is read-only
            # besides), and the plan as structured output, never parsed from prose. The same tools
            # either way: the conversation goes on with them once the plan is approved.
            tools=TOOLS,
            permission_mode="plan" if planning else "default",
            output_format={"type": "json_schema", "schema": PLAN_SCHEMA} if planning else None,
            can_use_tool=run.can_use_tool,
            mcp_servers={} if planning else {"honk": sdk.create_sdk_mcp_server("honk", tools=[run.verify_tool()])},
            # The gate runs every check: give it their whole time limit, not the SDK's 60 s default.
            hooks={} if planning else {"Stop": [HookMatcher(hooks=[run.on_stop], timeout=tools.checks.timeout_s + 60)]},
            # Claude Code's own system prompt (how to use its tools well); Honk's brief is the user prompt.
            system_prompt={"type": "preset", "preset": "claude_code"},
            setting_sources=[],
            env=env,
            resume=job.session_id,
            # The conversation is kept in Honk's store, so a follow-up resumes it on any worker.
            session_store=_SessionStore(tools.transcripts),  # pyright: ignore[reportAbstractUsage] - the SDK's optional methods
            # The SDK starts the binary; the launcher's wrapper confines it, with only these variables.
            cli_path=tools.launcher.program(binary, list(env)),
            max_turns=job.budget.max_turns,
            max_budget_usd=job.budget.max_cost_usd,
            stderr=run.stderr,
        )
        text = prompt.render(
            job,
            tools.workspace.root,
            repo=job.repo or tools.workspace.root.name,
            branch=f"honk/{job.task_id}",
            also=[(name, view.root) for name, view in tools.also.items()],
        )
        # The request's files go with a new conversation; a resumed one has them already, and gets only
        # what came since (a follow-up's screenshot).
        new = set(job.new_attachments)
        attached = [f for f in tools.attachments if job.session_id is None or f.attachment.id in new]
        text += prompt.attachments(attached, images_inline=True)
        try:
            async with asyncio.timeout(job.timeout_s):
                async with ClaudeSDKClient(options) as client:
                    await client.query(_with_images(text, attached))
                    async for message in client.receive_response():
                        await run.observe(message)
        except TimeoutError:
            raise AgentStopped(f"the time budget ({job.timeout_s:.0f}s) was hit") from None
        except sdk.CLINotFoundError as e:
            raise UserFacingError(f"The Claude Code binary could not be started: {e}") from e
        except sdk.ClaudeSDKError as e:
            raise classify(run.result, run.last_error, str(e), self.config.base_url) from e
        if run.result is None:
            raise classify(None, run.last_error, "Claude Code ended without a result", self.config.base_url)
        if run.result.is_error or run.last_error:
            raise classify(run.result, run.last_error, run.result.result or "", self.config.base_url)
        if run.gate_gave_up:
            await emit(AgentSaid(text=f"Stopped with failing checks after {job.max_gate_rounds} tries."))
        plan = _plan(run.result.structured_output) if planning else None
        return AgentOutcome(
            summary=plan.summary if plan is not None else run.final_text,
            model=run.model or options.model,
            cost_usd=run.result.total_cost_usd,
            turns=run.result.num_turns,
            session_id=run.result.session_id,
            plan=plan,
        )


def _plan(answer: Any) -> Plan:
    """The plan from Claude Code's structured output (it checked the schema; a model can still
    surprise: say so rather than show a broken plan)."""
    try:
        return Plan.model_validate(answer)
    except ValueError as e:
        raise UserFacingError(
            f"The agent's plan did not have the expected shape ({str(e).splitlines()[0]}); ask again."
        ) from e


def _with_images(text: str, attached: Sequence[AttachedFile]) -> str | AsyncIterator[dict[str, Any]]:
    """The first message, with each attached image as an image content block the model sees."""
    images = [f for f in attached if f.attachment.kind == "image"]
    if not images:
        return text
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for f in images:
        data = base64.b64encode(f.path.read_bytes()).decode("ascii")
        blocks.append(
            {"type": "image", "source": {"type": "base64", "media_type": f.attachment.media_type, "data": data}}
        )

    async def one() -> AsyncIterator[dict[str, Any]]:
        yield {"type": "user", "message": {"role": "user", "content": blocks}, "parent_tool_use_id": None}

    return one()


class _SessionStore(sdk.SessionStore):
    """The SDK's session store, over Honk's transcripts: the CLI mirrors every transcript line here
    as it writes it, and a resumed run is laid out from here, whichever worker ran the session."""

    def __init__(self, transcripts: Transcripts) -> None:
        self.transcripts = transcripts

    async def append(self, key: sdk.SessionKey, entries: list[Any]) -> None:
        await self.transcripts.append(_session(key), list(entries))

    async def load(self, key: sdk.SessionKey) -> list[Any] | None:
        return await self.transcripts.load(_session(key))


def _session(key: Any) -> str:
    # Keyed by session id alone: the project key is the workspace path, which differs between workers.
    return str(key["session_id"]) + (f"/{key['subpath']}" if key.get("subpath") else "")


class _Run:
    """The state of one agent run: what it said, used and tried, and the stop gate's rounds."""

    def __init__(self, job: AgentJob, tools: AgentTools, emit: EventSink) -> None:
        self.job, self.tools, self.emit = job, tools, emit
        self.workspace = tools.workspace.root
        self.result: ResultMessage | None = None
        self.last_error: str | None = None
        self.model: str | None = None
        self.final_text = ""
        self.tokens_in = self.tokens_out = self.turns = 0
        self.gate_rounds = 0
        self.gate_gave_up = False
        self.checks_run = 0
        self.tools_by_id: dict[str, str] = {}
        self.commands_by_id: dict[str, str] = {}
        self.stderr_tail: list[str] = []

    def stderr(self, line: str) -> None:
        self.stderr_tail = [*self.stderr_tail[-20:], line]

    async def can_use_tool(self, tool: str, tool_input: dict[str, Any], _ctx: Any) -> Any:
        # Everything runs inside the agent's confinement already; the policy keeps the agent to its job
        # (and a confinement bug one policy away from mattering). Claude Code's plan mode asks here
        # before an edit rather than refusing it: the policy refuses edits while planning.
        planning = self.job.mode == "plan"
        also = [view.root for view in self.tools.also.values()]
        decision = decide(tool, tool_input, self.workspace, self.job.settings.allow, planning=planning, also=also)
        if decision.allow:
            return PermissionResultAllow()
        await self.emit(AgentToolDenied(tool=tool, input=_short(tool_input), reason=decision.reason))
        return PermissionResultDeny(message=decision.reason)

    def verify_tool(self) -> Any:
        @sdk.tool(
            "verify",
            "Run the repository's checks (format, lint, build, tests) in the workspace. "
            "Returns one line when they pass, else the failing tests, file:line locations and "
            "error lines.",
            {},
        )
        async def verify(_args: dict[str, Any]) -> dict[str, Any]:
            passed, text = await self.check()
            return {"content": [{"type": "text", "text": text}]}

        return verify

    async def check(self) -> tuple[bool, str]:
        self.checks_run += 1
        return await self.tools.checks.run(f"round{self.job.round}-agent{self.checks_run}")

    async def on_stop(self, _input: Any, _tool_use_id: str | None, _ctx: Any) -> sdk.types.SyncHookJSONOutput:
        """The stop gate: the agent may finish only when the checks pass (within the round budget)."""
        passed, text = await self.check()
        if passed:
            return {}
        if self.gate_rounds >= self.job.max_gate_rounds:
            self.gate_gave_up = True
            return {}
        self.gate_rounds += 1
        return {
            "decision": "block",
            "reason": f"You cannot finish yet: the repository's checks fail.\n\n{text}\n\n"
            "Fix the causes (never by weakening tests), run verify, then finish.",
        }

    async def observe(self, message: Any) -> None:
        if isinstance(message, AssistantMessage):
            await self._assistant(message)
        elif isinstance(message, UserMessage) and isinstance(message.content, list):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    output = _text(block.content)
                    if (command := self.commands_by_id.get(block.tool_use_id)) is not None:
                        self.tools.launcher.noticed(output, command)  # what the confinement refused
                    tool = self.tools_by_id.get(block.tool_use_id, "tool")
                    await self.emit(
                        AgentToolResult(tool=tool, output=output[:MAX_TOOL_OUTPUT], is_error=bool(block.is_error))
                    )
        elif isinstance(message, ResultMessage):
            self.result = message
            usage = message.usage or {}
            await self.emit(
                AgentUsage(
                    input_tokens=int(usage.get("input_tokens", self.tokens_in)),
                    output_tokens=int(usage.get("output_tokens", self.tokens_out)),
                    cost_usd=message.total_cost_usd,
                    turns=message.num_turns,
                )
            )
        elif isinstance(message, SystemMessage) and message.subtype == "init":
            self.model = message.data.get("model") or self.model

    async def _assistant(self, message: AssistantMessage) -> None:
        if message.error:
            self.last_error = message.error
            return
        self.turns += 1
        usage = message.usage or {}
        self.tokens_in += int(usage.get("input_tokens", 0))
        self.tokens_out += int(usage.get("output_tokens", 0))
        for block in message.content:
            if isinstance(block, TextBlock) and block.text.strip():
                self.final_text = block.text.strip()
                await self.emit(AgentSaid(text=block.text.strip()[:4000]))
            elif isinstance(block, ToolUseBlock):
                self.tools_by_id[block.id] = block.name
                if block.name == "Bash":
                    self.commands_by_id[block.id] = str(block.input.get("command", ""))
                await self.emit(AgentToolCalled(tool=block.name, input=_short(block.input)))
        estimate = pricing.estimate(message.model, self.tokens_in, self.tokens_out)
        await self.emit(
            AgentUsage(
                input_tokens=self.tokens_in,
                output_tokens=self.tokens_out,
                turns=self.turns,
                cost_usd=estimate,
                final=False,
            )
        )


def _short(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:300]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return "" if content is None else str(content)
