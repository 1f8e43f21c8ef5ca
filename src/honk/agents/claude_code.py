"""Claude Code, through the Claude Agent SDK, as Honk's default agent. The only module importing the SDK.

Small tool set (Read/Edit/Write/Glob/Grep, allow-listed Bash) plus an in-process `verify` tool;
every tool call passes Honk's tool policy; a Stop hook keeps the agent working while a check fails;
turns, cost and wall-clock are budgeted; the transcript and usage are emitted as events.
"""

from __future__ import annotations

import asyncio
import json
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
from honk.agents.job import AgentJob
from honk.agents.key_proxy import KeyProxy
from honk.agents.tool_policy import TOOLS, decide
from honk.domain import AgentOutcome
from honk.errors import UserFacingError
from honk.events import (
    AgentSaid,
    AgentToolCalled,
    AgentToolDenied,
    AgentToolResult,
    AgentUsage,
)
from honk.protocols import EventSink
from honk.verify.runner import feedback, run_checks

MAX_TOOL_OUTPUT = 2000


def bundled_binary() -> Path:
    return Path(sdk.__file__).parent / "_bundled" / "claude"


class ClaudeCodeAgent:
    name = "claude"

    def __init__(self, config: claude_env.ClaudeConfig) -> None:
        self.config = config
        self._proxy: KeyProxy | None = None
        self._starting = asyncio.Lock()  # concurrent first runs share one proxy

    async def _key_proxy(self) -> KeyProxy | None:
        """Started on first use, in the worker's event loop; None when the model is reached without a key."""
        if self.config.api_key is None:
            return None
        async with self._starting:
            if self._proxy is None:
                proxy = KeyProxy(self.config.base_url or "https://api.anthropic.com", api_key=self.config.api_key)
                await proxy.start()
                self._proxy = proxy
        return self._proxy

    async def aclose(self) -> None:
        if self._proxy is not None:
            await self._proxy.stop()
            self._proxy = None

    async def run(self, job: AgentJob, emit: EventSink) -> AgentOutcome:
        binary = self.config.binary or bundled_binary()
        if not binary.is_file():
            raise UserFacingError(
                f"The Claude Code binary is missing at {binary}: reinstall Honk "
                "(`make install`, which installs claude-agent-sdk)."
            )
        run = _Run(job, emit)
        proxy = await self._key_proxy()
        if proxy is None:
            return await self._run(job, emit, binary, run, None)
        token = proxy.issue()
        try:
            return await self._run(job, emit, binary, run, (proxy.base_url, token))
        except Exception as e:
            if proxy.unreachable(token) is not None:  # the agent saw the proxy's 502; say what it means
                raise classify(None, None, "connect failed", self.config.base_url) from e
            raise
        finally:
            proxy.revoke(token)

    async def _run(
        self, job: AgentJob, emit: EventSink, binary: Path, run: _Run, via: tuple[str, str] | None
    ) -> AgentOutcome:
        env = claude_env.environment(self.config, job.task_id, via)
        options = ClaudeAgentOptions(
            cwd=job.workspace,
            model=job.model or self.config.model,
            tools=TOOLS,
            permission_mode="default",
            can_use_tool=run.can_use_tool,
            mcp_servers={"honk": sdk.create_sdk_mcp_server("honk", tools=[run.verify_tool()])},
            # The gate runs every check: give it their whole time limit, not the SDK's 60 s default.
            hooks={"Stop": [HookMatcher(hooks=[run.on_stop], timeout=sum(c.timeout_s for c in job.checks) + 60)]},
            # Claude Code's own system prompt (how to use its tools well); Honk's brief is the user prompt.
            system_prompt={"type": "preset", "preset": "claude_code"},
            setting_sources=[],
            env=env,
            resume=job.session_id,
            cli_path=claude_env.launcher(self.config, job.task_id, binary, list(env)),
            max_turns=job.settings.max_turns or self.config.max_turns,
            max_budget_usd=job.settings.max_cost_usd or self.config.max_cost_usd,
            stderr=run.stderr,
        )
        text = prompt.render(job, repo=job.repo or Path(job.workspace).name, branch=f"honk/{job.task_id}")
        timeout = job.settings.timeout_s or self.config.timeout_s
        try:
            async with asyncio.timeout(timeout):
                async with ClaudeSDKClient(options) as client:
                    await client.query(text)
                    async for message in client.receive_response():
                        await run.observe(message)
        except TimeoutError:
            raise AgentStopped(f"the time budget ({timeout:.0f}s) was hit") from None
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
        return AgentOutcome(
            summary=run.final_text,
            model=run.model or options.model,
            cost_usd=run.result.total_cost_usd,
            turns=run.result.num_turns,
            session_id=run.result.session_id,
        )


class _Run:
    """The state of one agent run: what it said, used and tried, and the stop gate's rounds."""

    def __init__(self, job: AgentJob, emit: EventSink) -> None:
        self.job, self.emit = job, emit
        self.workspace = Path(job.workspace)
        self.result: ResultMessage | None = None
        self.last_error: str | None = None
        self.model: str | None = None
        self.final_text = ""
        self.tokens_in = self.tokens_out = self.turns = 0
        self.gate_rounds = 0
        self.gate_gave_up = False
        self.checks_run = 0
        self.tools_by_id: dict[str, str] = {}
        self.stderr_tail: list[str] = []

    def stderr(self, line: str) -> None:
        self.stderr_tail = [*self.stderr_tail[-20:], line]

    async def can_use_tool(self, tool: str, tool_input: dict[str, Any], _ctx: Any) -> Any:
        decision = decide(tool, tool_input, self.workspace, self.job.settings.allow)
        if decision.allow and tool == "Bash":
            # Allowed by the policy, and still run in the sandbox: an allowed command is repo code.
            command = str(tool_input.get("command", ""))
            return PermissionResultAllow(updated_input={**tool_input, "command": self.job.shell_box.shell(command)})
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
        results = await run_checks(
            self.job.checks,
            self.workspace,
            Path(self.job.log_dir),
            f"round{self.job.round}-agent{self.checks_run}",
            self.emit,
            self.job.checks_box,
        )
        if all(r.passed for r in results):
            names = ", ".join(r.name for r in results) or "no checks configured"
            return True, f"All checks pass ({names})."
        return False, feedback(results)

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
                    await self.emit(
                        AgentToolResult(
                            tool=self.tools_by_id.get(block.tool_use_id, "tool"),
                            output=_text(block.content)[:MAX_TOOL_OUTPUT],
                            is_error=bool(block.is_error),
                        )
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
