"""The key proxy: the agent's run token buys a request to the model API with the real key, and nothing else.

Real loopback servers throughout: Honk's fake Messages API, and a small recording upstream that can
hold a stream open between two events.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import claude_agent_sdk as sdk
import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from honk.demo.fake_model import FakeModelServer, InjectedError, Scenario, ToolCall, Turn
from honk.demo.loopback import LoopbackServer
from honk.ports import free_port
from honk.sandbox.key_proxy import KeyProxy

REAL_KEY = "sk-ant-api03-the-real-key-never-leaves-the-worker"
REAL_OAUTH = "sk-ant-oat01-the-real-oauth-token"
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
VERSION = {"anthropic-version": "2023-06-01"}


class Upstream(LoopbackServer):
    """Records every request; /sse sends one event, then waits for `gate` before the rest."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.gate = threading.Event()
        self.stream_ended = threading.Event()  # the /sse stream finished or was dropped
        super().__init__(
            Starlette(
                routes=[
                    Route("/sse", self._sse, methods=["POST"]),
                    Route("/broken", self._broken, methods=["POST"]),
                    Route("/{rest:path}", self._echo, methods=["GET", "POST", "DELETE"]),
                ]
            )
        )

    async def _record(self, request: Request) -> None:
        self.seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": (await request.body()).decode(),
            }
        )

    async def _echo(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"ok": True}, status_code=201, headers={"x-echo": "yes"})

    async def _sse(self, request: Request) -> Response:
        await self._record(request)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b'event: message_start\ndata: {"type": "message_start"}\n\n'
                await asyncio.to_thread(self.gate.wait, 10)
                yield b'event: message_stop\ndata: {"type": "message_stop"}\n\n'
            finally:
                self.stream_ended.set()

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _broken(self, request: Request) -> Response:
        async def events() -> AsyncIterator[bytes]:
            yield b'event: message_start\ndata: {"type": "message_start"}\n\n'
            await asyncio.sleep(0.1)
            raise ConnectionAbortedError("the upstream falls over mid-stream")  # uvicorn cuts the connection

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.gate.set()
    server.stop()


@pytest.fixture
async def proxy(model: FakeModelServer) -> AsyncIterator[KeyProxy]:
    async with KeyProxy(model.url, api_key=SecretStr(REAL_KEY)) as p:
        yield p


def sse_events(raw: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in raw.splitlines() if line.startswith("data: ")]


async def test_a_live_token_reaches_the_model_with_the_real_key_and_not_the_token(model, proxy):
    token = proxy.issue()
    async with httpx.AsyncClient(base_url=proxy.base_url) as http:
        r = await http.post("/v1/messages?beta=true", json=BODY, headers={"x-api-key": token, **VERSION})
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "message" and r.json()["content"][0]["text"] == "Done."
    [seen] = model.requests
    assert seen.headers["x-api-key"] == REAL_KEY
    assert "authorization" not in seen.headers and token not in json.dumps(seen.headers)
    assert seen.headers["host"] == f"127.0.0.1:{model.port}", "the proxy's own Host is not forwarded"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.body == BODY and seen.path == "/v1/messages"


async def test_method_path_query_and_body_are_forwarded_and_hop_by_hop_headers_dropped(upstream):
    async with KeyProxy(upstream.url + "/prefix/", api_key=SecretStr(REAL_KEY)) as proxy:
        token = proxy.issue()
        async with httpx.AsyncClient(base_url=proxy.base_url) as http:
            r = await http.post(
                "/v1/messages/count_tokens?beta=true&x=a%20b",
                content=b'{"a": 1}',
                headers={
                    "authorization": f"Bearer {token}",
                    "content-type": "application/json",
                    "connection": "keep-alive, x-private",
                    "x-private": "hop",
                    "te": "trailers",
                    "anthropic-beta": "tools-2024",
                },
            )
            deleted = await http.delete("/v1/files/f1", headers={"x-api-key": token})
    assert r.status_code == 201 and r.json() == {"ok": True} and r.headers["x-echo"] == "yes"
    assert deleted.status_code == 201
    post, delete = upstream.seen
    assert (post["method"], post["path"], post["query"]) == (
        "POST",
        "/prefix/v1/messages/count_tokens",
        "beta=true&x=a%20b",
    )
    assert post["body"] == '{"a": 1}' and post["headers"]["content-type"] == "application/json"
    assert post["headers"]["anthropic-beta"] == "tools-2024"
    assert post["headers"]["x-api-key"] == REAL_KEY and "authorization" not in post["headers"]
    for hop in ("x-private", "te"):
        assert hop not in post["headers"], hop
    assert (delete["method"], delete["path"], delete["body"]) == ("DELETE", "/prefix/v1/files/f1", "")
    assert "content-type" not in delete["headers"], "the proxy invents no headers"


async def test_b_a_stream_flows_event_by_event(upstream):
    async with KeyProxy(upstream.url, api_key=SecretStr(REAL_KEY)) as proxy:
        token = proxy.issue()
        async with httpx.AsyncClient(base_url=proxy.base_url) as http:
            async with http.stream("POST", "/sse", json={**BODY, "stream": True}, headers={"x-api-key": token}) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                chunks = r.aiter_raw()
                first = await asyncio.wait_for(anext(chunks), 5)
                assert b"message_start" in first and b"message_stop" not in first
                assert not upstream.gate.is_set(), "the first event arrived while the upstream still held the rest"
                upstream.gate.set()
                rest = b"".join([c async for c in chunks])
    assert [e["type"] for e in sse_events((first + rest).decode())] == ["message_start", "message_stop"]


async def test_an_upstream_that_breaks_mid_stream_breaks_the_agents_stream(upstream):
    async with KeyProxy(upstream.url, api_key=SecretStr(REAL_KEY)) as proxy:
        token = proxy.issue()
        async with httpx.AsyncClient(base_url=proxy.base_url) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                async with http.stream("POST", "/broken", json=BODY, headers={"x-api-key": token}) as r:
                    assert r.status_code == 200
                    await r.aread()


async def test_an_agent_that_hangs_up_ends_the_upstream_request(upstream):
    async with KeyProxy(upstream.url, api_key=SecretStr(REAL_KEY)) as proxy:
        token = proxy.issue()
        async with httpx.AsyncClient(base_url=proxy.base_url) as http:
            async with http.stream("POST", "/sse", json=BODY, headers={"x-api-key": token}) as r:
                assert b"message_start" in await asyncio.wait_for(anext(r.aiter_raw()), 5)
        assert await asyncio.to_thread(upstream.stream_ended.wait, 5), "the upstream stream was dropped"
        assert not upstream.gate.is_set()


async def test_b_a_streamed_message_from_the_fake_model_arrives_whole(model, proxy):
    model.play(Scenario(turns=[Turn(text="A streamed answer, long enough to come in several deltas.")]))
    token = proxy.issue()
    async with httpx.AsyncClient(base_url=proxy.base_url) as http:
        async with http.stream(
            "POST", "/v1/messages", json={**BODY, "stream": True}, headers={"x-api-key": token, **VERSION}
        ) as r:
            assert r.status_code == 200
            raw = (await r.aread()).decode()
    events = sse_events(raw)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"] and kinds[-3:] == [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "A streamed answer, long enough to come in several deltas."
    assert model.requests[0].headers["x-api-key"] == REAL_KEY


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"x-api-key": "not-a-token"},
        {"authorization": "Bearer not-a-token"},
        {"x-api-key": REAL_KEY},
        {"authorization": "Basic Zm9vOmJhcg=="},
    ],
)
async def test_c_without_a_live_token_nothing_is_forwarded(model, proxy, credential):
    proxy.issue()
    async with httpx.AsyncClient(base_url=proxy.base_url) as http:
        r = await http.post("/v1/messages", json=BODY, headers={**credential, **VERSION})
    assert r.status_code == 401
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "authentication_error"
    assert "run token" in r.json()["error"]["message"]
    assert model.requests == []


async def test_c_a_revoked_token_is_refused_and_others_still_work(model, proxy):
    old, other = proxy.issue(), proxy.issue()
    assert old != other
    async with httpx.AsyncClient(base_url=proxy.base_url) as http:
        assert (await http.post("/v1/messages", json=BODY, headers={"x-api-key": old})).status_code == 200
        proxy.revoke(old)
        proxy.revoke("never-issued")
        refused = await http.post("/v1/messages", json=BODY, headers={"x-api-key": old})
        assert refused.status_code == 401 and old not in refused.text
        assert (await http.post("/v1/messages", json=BODY, headers={"x-api-key": other})).status_code == 200
    assert len(model.requests) == 2


async def test_d_an_unreachable_model_api_is_a_clear_502_without_secrets():
    down = f"http://127.0.0.1:{free_port()}"
    async with KeyProxy(down.replace("http://", "http://user:hunter2@"), api_key=SecretStr(REAL_KEY)) as proxy:
        token = proxy.issue()
        async with httpx.AsyncClient(base_url=proxy.base_url) as http:
            r = await http.post("/v1/messages", json=BODY, headers={"x-api-key": token})
    assert r.status_code == 502
    error = r.json()
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert f"The model API at {down} cannot be reached" in error["error"]["message"]
    for secret in (REAL_KEY, token, "hunter2"):
        assert secret not in r.text


async def test_e_bearer_mode_sends_the_real_auth_token(model):
    async with KeyProxy(model.url, auth_token=SecretStr(REAL_OAUTH)) as proxy:
        token = proxy.issue()
        async with httpx.AsyncClient(base_url=proxy.base_url) as http:
            r = await http.post("/v1/messages", json=BODY, headers={"authorization": f"Bearer {token}", **VERSION})
    assert r.status_code == 200
    [seen] = model.requests
    assert seen.headers["authorization"] == f"Bearer {REAL_OAUTH}"
    assert "x-api-key" not in seen.headers and token not in json.dumps(seen.headers)


async def test_the_model_api_errors_reach_the_agent_as_sent(model, proxy):
    model.play(
        Scenario(
            turns=[
                Turn(
                    error=InjectedError(status=529, type="overloaded_error", message="busy", retry=True, retry_after=3)
                )
            ]
        )
    )
    token = proxy.issue()
    async with httpx.AsyncClient(base_url=proxy.base_url) as http:
        r = await http.post("/v1/messages", json=BODY, headers={"x-api-key": token})
    assert r.status_code == 529
    assert r.headers["x-should-retry"] == "true" and r.headers["retry-after"] == "3"
    assert r.json() == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}


async def test_stop_closes_the_port_and_forgets_the_tokens(model):
    proxy = KeyProxy(model.url, api_key=SecretStr(REAL_KEY))
    with pytest.raises(RuntimeError):
        _ = proxy.base_url
    await proxy.start()
    url, token = proxy.base_url, proxy.issue()
    await proxy.stop()
    async with httpx.AsyncClient(base_url=url) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post("/v1/messages", json=BODY, headers={"x-api-key": token})
    await proxy.start()  # a stopped proxy can start again, with none of its old tokens
    async with httpx.AsyncClient(base_url=proxy.base_url) as http:
        assert (await http.post("/v1/messages", json=BODY, headers={"x-api-key": token})).status_code == 401
    await proxy.stop()
    assert model.requests == []


def test_a_credential_and_an_http_upstream_are_required():
    with pytest.raises(ValueError, match="API key or an auth token"):
        KeyProxy("https://api.anthropic.com")
    with pytest.raises(ValueError, match="http"):
        KeyProxy("api.anthropic.com", api_key=SecretStr(REAL_KEY))


BINARY = Path(sdk.__file__).parent / "_bundled" / "claude"


@pytest.mark.skipif(not BINARY.is_file(), reason="the bundled Claude Code binary is missing")
async def test_the_real_claude_code_works_through_the_proxy_and_its_shell_sees_only_the_token(
    model, proxy, tmp_path: Path
):
    model.play(
        Scenario(
            turns=[
                Turn(
                    tools=[
                        ToolCall(
                            name="Bash",
                            input={"command": "echo KEY=${ANTHROPIC_API_KEY:-unset}", "description": "look at the key"},
                        )
                    ]
                ),
                Turn(text="All done."),
            ]
        )
    )
    token = proxy.issue()
    (home := tmp_path / "home").mkdir()
    (work := tmp_path / "work").mkdir()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "ANTHROPIC_BASE_URL": proxy.base_url,
        "ANTHROPIC_API_KEY": token,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    # The SDK adds the test runner's environment; start the binary with only `env`, as Honk does.
    launcher = tmp_path / "claude"
    keep = " ".join(f'{n}="${{{n}}}"' for n in env)
    launcher.write_text(f'#!/bin/sh\nexec /usr/bin/env -i {keep} {shlex.quote(str(BINARY))} "$@"\n')
    launcher.chmod(0o700)

    async def allow(_tool: str, _input: dict[str, Any], _ctx: Any) -> Any:
        return sdk.PermissionResultAllow()

    options = sdk.ClaudeAgentOptions(
        cwd=work,
        model="claude-sonnet-4-5",
        tools=["Bash"],
        can_use_tool=allow,
        setting_sources=[],
        env=env,
        cli_path=launcher,
        max_turns=5,
    )
    messages = []
    async with asyncio.timeout(120):
        async with sdk.ClaudeSDKClient(options) as client:
            await client.query("Show me the key.")
            messages = [m async for m in client.receive_response()]
    result = messages[-1]
    assert isinstance(result, sdk.ResultMessage) and not result.is_error, messages
    assert result.result == "All done."

    agent = model.agent_requests()
    assert len(agent) >= 2
    for seen in model.requests:
        assert seen.headers["x-api-key"] == REAL_KEY, seen.path
        assert token not in json.dumps(seen.headers)
    everything = json.dumps([r.body for r in model.requests])
    assert f"KEY={token}" in everything, "the agent's shell read the run token"
    assert REAL_KEY not in everything, "and never the real key"
