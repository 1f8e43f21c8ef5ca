"""A loopback Anthropic Messages API that plays scripted scenarios, as the real API streams them.

It stands at the network boundary: the real Claude Code binary (and Honk's judge) talk to it over
HTTP. The n-th model call of a conversation (counted from the assistant turns in the request, so
retries and resumed sessions get the same answer) plays turn n of the scenario. `{cwd}` in a tool
input is replaced by the agent's working directory, read from the request's system prompt.
Errors can be injected per turn; every request is recorded. It doubles as Honk's demo model.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from honk.demo.loopback import LoopbackServer

JUDGE_MARKER = "You are Honk's scope judge"


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    input: dict[str, Any] = {}


class InjectedError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: int
    type: str = "api_error"
    message: str = "injected error"
    times: int = 1  # how many calls of this turn fail before it answers normally
    retry: bool | None = None  # sets the x-should-retry header when given
    retry_after: int | None = None


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    tools: list[ToolCall] = []
    error: InjectedError | None = None
    input_tokens: int = 1000
    output_tokens: int = 200


class JudgeVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: bool = True
    reason: str = "The change does what was asked and nothing else."


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    turns: list[Turn] = []
    # Verdicts of the scope judge, in order; the last one repeats.
    judge: list[JudgeVerdict] = Field(default_factory=lambda: [JudgeVerdict()])
    final_text: str = "Done."  # answered when the turns run out


class RecordedRequest(BaseModel):
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    kind: Literal["agent", "judge"]


class FakeModelServer(LoopbackServer):
    """Runs on a background thread so that both sync tests and child processes can reach it."""

    def __init__(self, scenario: Scenario | None = None, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.requests: list[RecordedRequest] = []
        self._failures: dict[int, int] = {}
        self._judged = 0
        super().__init__(Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])]), host, port)

    def play(self, scenario: Scenario) -> None:
        self.scenario, self._failures, self._judged = scenario, {}, 0
        self.requests.clear()

    def agent_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "agent"]

    # -- the API -------------------------------------------------------------------------
    async def _messages(self, request: Request) -> Response:
        body = await request.json()
        system = _system_text(body)
        kind: Literal["agent", "judge"] = "judge" if JUDGE_MARKER in system else "agent"
        self.requests.append(
            RecordedRequest(path=str(request.url.path), body=body, headers=dict(request.headers), kind=kind)
        )
        if kind == "judge":
            verdicts = self.scenario.judge
            verdict = verdicts[min(self._judged, len(verdicts) - 1)]
            self._judged += 1
            return JSONResponse(_message([{"type": "text", "text": verdict.model_dump_json()}], body, 500, 50))
        index = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        turn = self.scenario.turns[index] if index < len(self.scenario.turns) else Turn(text=self.scenario.final_text)
        if turn.error and self._failures.get(index, 0) < turn.error.times:
            self._failures[index] = self._failures.get(index, 0) + 1
            return _error(turn.error)
        blocks = _blocks(turn, _cwd(body))
        if not body.get("stream"):
            return JSONResponse(_message(blocks, body, turn.input_tokens, turn.output_tokens))
        return StreamingResponse(_stream(blocks, body, turn), media_type="text/event-stream")


def _system_text(body: dict[str, Any]) -> str:
    system = body.get("system", "")
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    return str(system)


def _cwd(body: dict[str, Any]) -> str:
    """Claude Code states its working directory in an environment note inside the first messages."""
    m = re.search(r"Primary working directory: ([^\s\\\"]+)", json.dumps(body))
    return m.group(1) if m else ""


def _fill(value: Any, cwd: str) -> Any:
    if isinstance(value, str):
        return value.replace("{cwd}", cwd)
    if isinstance(value, dict):
        return {k: _fill(v, cwd) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, cwd) for v in value]
    return value


def _blocks(turn: Turn, cwd: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.text:
        blocks.append({"type": "text", "text": _fill(turn.text, cwd)})
    for call in turn.tools:
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:20]}",
                "name": call.name,
                "input": _fill(call.input, cwd),
            }
        )
    return blocks or [{"type": "text", "text": "..."}]


def _message(blocks: list[dict[str, Any]], body: dict[str, Any], tin: int, tout: int) -> dict[str, Any]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": f"msg_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": tin, "output_tokens": tout},
    }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _stream(blocks: list[dict[str, Any]], body: dict[str, Any], turn: Turn) -> AsyncIterator[bytes]:
    msg = _message(blocks, body, turn.input_tokens, turn.output_tokens)
    start = {
        **msg,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": turn.input_tokens, "output_tokens": 1},
    }
    yield _sse("message_start", {"type": "message_start", "message": start})
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            yield _sse(
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
            )
            text = block["text"]
            for chunk in (text[j : j + 40] for j in range(0, len(text), 40)):
                yield _sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": chunk}},
                )
        else:
            # Tool input must arrive as input_json_delta chunks; in the start event it would be ignored.
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}},
                },
            )
            raw = json.dumps(block["input"])
            for chunk in (raw[j : j + 64] for j in range(0, len(raw), 64)):
                yield _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": chunk},
                    },
                )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": i})
        await asyncio.sleep(0)
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": turn.output_tokens},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


def _error(err: InjectedError) -> Response:
    headers = {}
    if err.retry is not None:
        headers["x-should-retry"] = "true" if err.retry else "false"
    if err.retry_after is not None:
        headers["retry-after"] = str(err.retry_after)
    body = {"type": "error", "error": {"type": err.type, "message": err.message}}
    return JSONResponse(body, status_code=err.status, headers=headers)
