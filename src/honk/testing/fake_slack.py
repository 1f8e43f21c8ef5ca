"""A loopback Slack Web API, answering the real `slack_sdk` clients as Slack does, for tests.

Point `AsyncWebClient(token=..., base_url=fake.url + "/api/")` (or the sync `WebClient`) at it.
Every call to `/api/<method>` is recorded as a `SlackCall`, whether the sdk sent it as a query
string, a form body or JSON; form fields the sdk sends JSON-encoded (`blocks`, `view`, `files`...)
are decoded. It answers `{"ok": true, ...}` with Slack's shapes for the methods Honk uses, and
`{"ok": true}` for any other; `fail()` injects errors. File uploads go the way `files_upload_v2`
does them: an upload URL on this server, the bytes POSTed there, then files.completeUploadExternal.
Files people shared (`share_file`) are served to a bot token and described by `files.info`. A
message or view Slack would refuse (`refused_payload`) is answered with Slack's error; a user's
Home tab keeps one view id across `views.publish` calls (`home`).

Streamed messages (chat.startStream / appendStream / stopStream) are kept in `streams` as Slack
keeps them: the plan's title, each task card (title and status replaced, details and output
appended), the markdown so far, whether it still streams. An append to an unknown or stopped
stream gets Slack's error; `expire_streams()` ends streams as Slack does after a while.
`FakeSlack(streaming=False)` is a workspace without streaming: the three methods answer
`unknown_method`.

The module also builds what Slack sends *to* an app: signed request headers (`sign`), Events API
envelopes (`mention_event`, `message_event`, `app_home_opened`) and interactivity payloads
(`block_action` in a message, `view_action` in a view such as the Home tab, `message_action` for a
message shortcut, `view_submission`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ConfigDict
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, TaskCardBlock
from slack_sdk.models.messages.chunk import BlocksChunk, Chunk, MarkdownTextChunk, PlanUpdateChunk, TaskUpdateChunk
from slack_sdk.models.views import View
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from honk.demo.loopback import LoopbackServer

# What Slack refuses in a message (https://docs.slack.dev/reference/methods/chat.postMessage): more
# than 50 blocks, a top-level text over 40,000 characters; each block's own limits are slack_sdk's models'.
SLACK_SECRET = "test-signing-secret"  # the signing secret tests configure Honk with and sign payloads by
MAX_MESSAGE_BLOCKS = 50
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_BLOCKS = 100
MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
VIEW_METHODS = frozenset({"views.open", "views.push", "views.update", "views.publish"})
# Streamed messages (https://docs.slack.dev/reference/methods/chat.startStream): markdown_text up to
# 12,000 characters; a task or plan update's title up to 256; a plan of at most 50 task cards.
STREAM_METHODS = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})
MAX_STREAM_TEXT = 12_000
MAX_STREAM_TITLE = 256
MAX_PLAN_TASKS = 50
DISPLAY_MODES = frozenset({"timeline", "plan"})
NO_STREAMING = "unknown_method"  # what a workspace without the methods answers
# A chunk Slack's schema refuses: Slack names no error of its own for it; the fake answers with
# the one Slack gives arguments its schema refuses.
BAD_CHUNK = "invalid_arguments"

# Fields the sdk sends as JSON strings inside a form body or query string.
JSON_FIELDS = frozenset(
    {
        "blocks",
        "attachments",
        "view",
        "files",
        "metadata",
        "unfurls",
        "user_auth_blocks",
        "outputs",
        "profile",
        "chunks",
    }
)


class SlackCall(BaseModel):
    """One call of a Web API method, as the fake received it (the token is taken out of `args`)."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float


class Failure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error: str = "ratelimited"
    status: int = 429
    times: int = 1
    retry_after: int | None = 1


class SlackUser(BaseModel):
    id: str
    email: str
    name: str
    real_name: str


class SlackFile(BaseModel):
    """A file uploaded the files_upload_v2 way; `data` is None until its bytes arrive."""

    id: str
    filename: str
    length: int | None
    title: str | None = None
    data: bytes | None = None
    completed: bool = False
    channel_id: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None


class StreamedMessage(BaseModel):
    """A message streamed with chat.startStream / appendStream / stopStream, as Slack keeps it."""

    channel: str
    thread_ts: str
    ts: str
    recipient_user_id: str | None = None
    recipient_team_id: str | None = None
    task_display_mode: str = "timeline"
    content: str | None = None  # "markdown" or "chunks": the first content locks the stream to its kind
    streaming: bool = True
    text: str = ""  # the markdown so far
    title: str | None = None  # the plan's title
    tasks: dict[str, dict[str, Any]] = {}  # task cards by id: title and status replaced, details and output appended
    chunks: list[dict[str, Any]] = []  # every chunk received, in order
    blocks: list[dict[str, Any]] = []  # blocks chunks, then stopStream's blocks


class FakeSlack(LoopbackServer):
    """Runs on a background thread, so sync tests, async tests and child processes can all reach it."""

    def __init__(
        self,
        bot_user_id: str = "UHONK",
        team_id: str = "T1",
        bot_id: str = "BHONK",
        host: str = "127.0.0.1",
        port: int | None = None,
        require_token: bool = True,
        streaming: bool = True,
    ) -> None:
        self.bot_user_id, self.team_id, self.bot_id = bot_user_id, team_id, bot_id
        self.require_token = require_token  # a call without a token answers not_authed, as Slack does
        self.streaming = streaming  # False: a workspace without chat.startStream and its kin
        self.streams: dict[str, StreamedMessage] = {}  # ts -> the streamed message
        self.users: dict[str, SlackUser] = {}
        self.calls: list[SlackCall] = []
        self.refusals: list[tuple[str, str]] = []  # (method, error) of each message or view Slack would refuse
        self.members: dict[str, set[str]] = {}  # conversation -> who is in it (see `join`)
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes POSTed to its upload URL
        self.files: dict[str, SlackFile] = {}  # file id -> what was said about it
        self.views: dict[str, dict[str, Any]] = {}  # view id -> the view as last opened or updated
        self.homes: dict[str, str] = {}  # user id -> the view id of their Home tab
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> messages posted and updated
        self.shared: dict[str, bytes] = {}  # file id -> the bytes of a file someone shared
        self.shared_files: dict[str, dict[str, Any]] = {}  # file id -> how files.info describes it
        self.downloads: list[tuple[str, str | None]] = []  # (file id, the token it was fetched with)
        self._failures: dict[str, list[Failure]] = {}
        self._overrides: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        super().__init__(
            Starlette(
                routes=[
                    Route("/api/{method}", self._api, methods=["GET", "POST"]),
                    Route("/upload/{file_id}", self._upload, methods=["POST"]),
                    Route("/files-pri/{key}/{name:path}", self._download, methods=["GET"]),
                    Route("/response/{name}", self._response_url, methods=["POST"]),
                ]
            ),
            host,
            port,
        )

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def settings(self) -> dict[str, str]:
        """What a Honk stack is set with to talk to this fake: a bot token, the signing secret its signed
        requests use (SLACK_SECRET), and this fake's API address."""
        return {
            "slack_bot_token": "xoxb-test-token",
            "slack_signing_secret": SLACK_SECRET,
            "slack_api_url": self.api_url,
        }

    # -- set-up --------------------------------------------------------------------------
    def add_user(self, user_id: str, email: str, name: str, real_name: str | None = None) -> SlackUser:
        user = SlackUser(id=user_id, email=email, name=name, real_name=real_name or name)
        self.users[user_id] = user
        return user

    def fail(
        self, method: str, error: str = "ratelimited", status: int = 429, times: int = 1, retry_after: int | None = 1
    ) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}` with `status`."""
        with self._lock:
            self._failures.setdefault(method, []).append(
                Failure(error=error, status=status, times=times, retry_after=retry_after)
            )

    def override(self, method: str, response: dict[str, Any]) -> None:
        """From now on `method` answers `response` (with `"ok": true` unless it says otherwise)."""
        self._overrides[method] = {"ok": True, **response}

    def response_url(self, name: str = "r1") -> str:
        """A response_url for interactivity payloads; POSTs to it are recorded as method "response_url"."""
        return f"{self.url}/response/{name}"

    def reset(self) -> None:
        """Forget calls, uploads, views, messages, streams, pending failures and overrides; users stay."""
        with self._lock:
            self.calls.clear()
            self.refusals.clear()
            self.uploads.clear()
            self.files.clear()
            self.views.clear()
            self.homes.clear()
            self.messages.clear()
            self.members.clear()
            self.streams.clear()
            self._failures.clear()
            self._overrides.clear()

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for `user_id`, as Slack keeps it (None before any)."""
        with self._lock:
            view_id = self.homes.get(user_id)
            return self.views.get(view_id) if view_id else None

    # -- what was called -----------------------------------------------------------------
    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def _matching(self, method: str, where: Callable[[SlackCall], bool] | None) -> list[SlackCall]:
        return [c for c in self.calls_to(method) if where is None or where(c)]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 10.0, where: Callable[[SlackCall], bool] | None = None
    ) -> list[SlackCall]:
        """Blocks until `count` calls of `method` (matching `where`) were made; returns them all.

        It blocks the calling thread: from a coroutine whose own event loop makes the calls, use
        `wait_for_async`.
        """
        deadline = time.monotonic() + timeout
        while (found := self._enough(method, count, where, deadline, timeout)) is None:
            time.sleep(0.02)
        return found

    async def wait_for_async(
        self, method: str, count: int = 1, timeout: float = 10.0, where: Callable[[SlackCall], bool] | None = None
    ) -> list[SlackCall]:
        deadline = time.monotonic() + timeout
        while (found := self._enough(method, count, where, deadline, timeout)) is None:
            await asyncio.sleep(0.02)
        return found

    def _enough(
        self, method: str, count: int, where: Callable[[SlackCall], bool] | None, deadline: float, timeout: float
    ) -> list[SlackCall] | None:
        """The matching calls once there are `count`; None to keep waiting; TimeoutError past the deadline."""
        found = self._matching(method, where)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(self._timeout_message(method, count, len(found), timeout))
        return None

    def _timeout_message(self, method: str, count: int, found: int, timeout: float) -> str:
        with self._lock:
            seen = [c.method for c in self.calls]
        return f"{found} of {count} {method} calls within {timeout}s; calls made: {seen}"

    # -- the API -------------------------------------------------------------------------
    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = await _arguments(request)
        token = _bearer(request.headers.get("authorization")) or _pop_str(args, "token")
        args.pop("token", None)
        with self._lock:
            self.calls.append(SlackCall(method=method, args=args, token=token, at=time.time()))
            failure = self._next_failure(method)
        if failure is not None:
            headers = (
                {"Retry-After": str(failure.retry_after)}
                if failure.status == 429 and failure.retry_after is not None
                else {}
            )
            return JSONResponse({"ok": False, "error": failure.error}, status_code=failure.status, headers=headers)
        if token is None and self.require_token and not method.startswith("oauth."):
            return JSONResponse({"ok": False, "error": "not_authed"})
        if method in self._overrides:
            return JSONResponse(self._overrides[method])
        if method in STREAM_METHODS and not self.streaming:
            return JSONResponse({"ok": False, "error": NO_STREAMING})
        if (refusal := refused_payload(method, args)) is not None:
            with self._lock:
                self.refusals.append((method, refusal))
            return JSONResponse({"ok": False, "error": refusal})
        handler = self._handlers().get(method)
        with self._lock:
            return JSONResponse(handler(args) if handler else {"ok": True})

    def _next_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": lambda a: {"ok": True, "message_ts": self._ts()},
            "chat.delete": lambda a: {"ok": True, "channel": a.get("channel"), "ts": a.get("ts")},
            "reactions.add": lambda a: {"ok": True},
            "views.open": self._view,
            "views.push": self._view,
            "views.update": self._view,
            "views.publish": self._publish,
            "users.info": self._user_info,
            "users.lookupByEmail": self._lookup_by_email,
            "conversations.info": self._conversation_info,
            "conversations.replies": self._replies,
            "conversations.history": self._history,
            "conversations.members": self._members,
            "files.info": self._file_info,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
        }

    def _ts(self) -> str:
        n = next(self._seq) * 100
        return f"{1700000000 + n // 1_000_000}.{n % 1_000_000:06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://honk-test.slack.com/",
            "team": "Honk Test",
            "user": "honk",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), self._ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": args.get("text", ""),
            "ts": ts,
            "team": self.team_id,
        }
        for key in ("thread_ts", "blocks", "attachments", "metadata"):
            if args.get(key) is not None:
                message[key] = args[key]
        self.messages.setdefault(str(channel), []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        for message in self.messages.get(str(channel), []):
            if message["ts"] == ts:
                message.update({k: args[k] for k in ("text", "blocks", "attachments") if k in args})
        answer = {"ok": True, "channel": channel, "ts": ts, "text": args.get("text", "")}
        if "blocks" in args:
            answer["message"] = {"text": args.get("text", ""), "blocks": args["blocks"]}
        return answer

    # -- streamed messages --------------------------------------------------------------
    def _start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(args.get("channel") or ""), args.get("thread_ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not thread_ts:
            return {"ok": False, "error": "invalid_thread_ts"}
        user, team = args.get("recipient_user_id"), args.get("recipient_team_id")
        if not channel.startswith("D"):  # outside a DM, Slack wants to know whom the stream is for
            if not user:
                return {"ok": False, "error": "missing_recipient_user_id"}
            if not team:
                return {"ok": False, "error": "missing_recipient_team_id"}
        ts = self._ts()
        stream = StreamedMessage(
            channel=channel,
            thread_ts=str(thread_ts),
            ts=ts,
            recipient_user_id=user,
            recipient_team_id=team,
            task_display_mode=args.get("task_display_mode") or "timeline",
        )
        if (error := self._take(stream, args, "chat.startStream")) is not None:
            return {"ok": False, "error": error}
        self.streams[ts] = stream
        message = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "ts": ts, "team": self.team_id}
        self.messages.setdefault(channel, []).append({**message, "text": stream.text, "thread_ts": thread_ts})
        return {"ok": True, "channel": channel, "ts": ts}

    def _append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        stream = self._streaming(args)
        if isinstance(stream, str):
            return {"ok": False, "error": stream}
        if (error := self._take(stream, args, "chat.appendStream")) is not None:
            return {"ok": False, "error": error}
        return {"ok": True, "channel": stream.channel, "ts": stream.ts}

    def _stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        stream = self._streaming(args)
        if isinstance(stream, str):
            return {"ok": False, "error": stream}
        if (error := self._take(stream, args, "chat.stopStream")) is not None:
            return {"ok": False, "error": error}
        stream.blocks += args.get("blocks") or []
        stream.streaming = False
        message = {"type": "message", "subtype": "bot_message", "bot_id": self.bot_id, "ts": stream.ts}
        return {"ok": True, "channel": stream.channel, "ts": stream.ts, "message": {**message, "text": stream.text}}

    def _streaming(self, args: dict[str, Any]) -> StreamedMessage | str:
        """The stream `ts` names in `channel`, or Slack's error when it is unknown or has stopped."""
        stream = self.streams.get(str(args.get("ts")))
        if stream is None or stream.channel != args.get("channel"):
            return "message_not_found"
        return stream if stream.streaming else "message_not_in_streaming_state"

    def _take(self, stream: StreamedMessage, args: dict[str, Any], method: str) -> str | None:
        """Adds what a stream method brought to the message, as Slack shows it; an error when its
        kind (markdown or chunks) is not the one the stream started with."""
        text, chunks = args.get("markdown_text"), args.get("chunks")
        kind = "markdown" if text else "chunks" if chunks else None
        if kind is None:
            return None
        if stream.content not in (None, kind):
            return "streaming_mode_mismatch"
        cards = {*stream.tasks, *(c["id"] for c in chunks or [] if c["type"] == "task_update")}
        if stream.task_display_mode == "plan" and len(cards) > MAX_PLAN_TASKS:
            # What Slack answers a streamed message grown too big for its plan.
            self.refusals.append((method, "msg_too_long"))
            return "msg_too_long"
        stream.content = kind
        stream.text += text or ""
        for chunk in chunks or []:
            stream.chunks.append(chunk)
            if chunk["type"] == "markdown_text":
                stream.text += chunk["text"]
            elif chunk["type"] == "plan_update":
                stream.title = chunk["title"]
            elif chunk["type"] == "blocks":
                stream.blocks += chunk["blocks"]
            else:
                card = stream.tasks.setdefault(chunk["id"], {"details": "", "output": ""})
                card.update({k: chunk[k] for k in ("title", "status", "sources") if k in chunk})
                card.update({k: card[k] + chunk[k] for k in ("details", "output") if chunk.get(k)})
        for message in self.messages.get(stream.channel, []):
            if message["ts"] == stream.ts:
                message["text"] = stream.text
        return None

    def expire_streams(self) -> None:
        """Ends every stream still streaming, as Slack does with a stream that lived too long."""
        with self._lock:
            for stream in self.streams.values():
                stream.streaming = False

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        given = args.get("view")
        view = dict(given) if isinstance(given, dict) else {}
        view_id = (
            args.get("view_id")
            or next(
                (
                    i
                    for i, v in self.views.items()
                    if args.get("external_id") and v.get("external_id") == args.get("external_id")
                ),
                None,
            )
            or f"V{next(self._seq):08d}"
        )
        view.update(
            {
                "id": view_id,
                "team_id": self.team_id,
                "app_id": "AHONK",
                "bot_id": self.bot_id,
                "hash": uuid.uuid4().hex[:16],
                "root_view_id": view_id,
                "state": {"values": {}},
            }
        )
        view.setdefault("private_metadata", "")
        view.setdefault("callback_id", "")
        self.views[view_id] = view
        return {"ok": True, "view": view}

    def _publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.publish: a user's Home tab is one view, replaced by each publish (its id stays)."""
        user = str(args.get("user_id") or "")
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        answer = self._view({**args, "view_id": self.homes.get(user)})
        self.homes[user] = answer["view"]["id"]
        return answer

    def _user_json(self, user: SlackUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "deleted": False,
            "is_bot": False,
            "profile": {"email": user.email, "real_name": user.real_name, "display_name": user.name},
        }

    def _user_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        return {"ok": True, "user": self._user_json(user)} if user else {"ok": False, "error": "user_not_found"}

    def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        user = next((u for u in self.users.values() if u.email == args.get("email")), None)
        return {"ok": True, "user": self._user_json(user)} if user else {"ok": False, "error": "users_not_found"}

    def _conversation_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        im = channel.startswith("D")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": None if im else channel.lower(),
                "is_channel": not im,
                "is_im": im,
                "is_private": channel.startswith("G"),
                "is_member": True,
                "is_archived": False,
            },
        }

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread oldest first, a page at a time (`limit`, `cursor`), as Slack pages it."""
        ts, channel = args.get("ts"), str(args.get("channel"))
        if self.bot_user_id not in self.members.get(channel, {self.bot_user_id}):
            return {"ok": False, "error": "not_in_channel"}
        low, high = float(args.get("oldest") or 0), float(args.get("latest") or 1e12)
        thread = [
            m
            for m in self.messages.get(channel, [])
            if (m["ts"] == ts or m.get("thread_ts") == ts) and low <= float(m["ts"]) <= high
        ]
        limit = max(1, min(int(args.get("limit") or 1000), 1000))
        start = int(args.get("cursor") or 0)
        page, more = thread[start : start + limit], start + limit < len(thread)
        meta = {"next_cursor": str(start + limit) if more else ""}
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": meta}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """A conversation's top-level messages, newest first, within `oldest`/`latest` (`inclusive`)."""
        channel = str(args.get("channel"))
        if channel not in self.messages:
            return {"ok": False, "error": "channel_not_found"}
        if self.bot_user_id not in self.members.get(channel, {self.bot_user_id}):
            return {"ok": False, "error": "not_in_channel"}
        inclusive = str(args.get("inclusive")).lower() in ("1", "true")
        low, high = float(args.get("oldest") or 0), float(args.get("latest") or 1e12)
        within = [
            m
            for m in self.messages[channel]
            if (low <= float(m["ts"]) <= high if inclusive else low < float(m["ts"]) < high)
            and m.get("thread_ts", m["ts"]) == m["ts"]
        ]
        limit = max(1, min(int(args.get("limit") or 100), 1000))
        return {"ok": True, "messages": list(reversed(within))[:limit], "has_more": len(within) > limit}

    def _members(self, args: dict[str, Any]) -> dict[str, Any]:
        """Who is in a conversation (`join` says; a conversation nobody joined has everyone)."""
        channel = str(args.get("channel"))
        members = sorted(self.members.get(channel, set(self.users) | {self.bot_user_id}))
        limit = max(1, min(int(args.get("limit") or 100), 1000))
        start = int(args.get("cursor") or 0)
        more = start + limit < len(members)
        meta = {"next_cursor": str(start + limit) if more else ""}
        return {"ok": True, "members": members[start : start + limit], "response_metadata": meta}

    def join(self, channel: str, *users: str) -> None:
        """Who is in `channel` from now on (the bot too, only if listed): conversations.members answers
        it, and the bot reads a conversation it is not in as Slack does: not_in_channel."""
        with self._lock:
            self.members.setdefault(channel, set()).update(users)

    def say(self, channel: str, user: str, text: str, thread_ts: str | None = None, **extra: Any) -> str:
        """A person's message in a channel (or a thread of it), as conversations.replies will list it."""
        ts = self._ts()
        message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts, "team": self.team_id}
        if thread_ts:
            message["thread_ts"] = thread_ts
        message.update(extra)
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return ts

    def _file_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """A shared file as `share_file` registered it; `file_not_found` for any other, as Slack answers
        a file the token may not see."""
        described = self.shared_files.get(str(args.get("file") or ""))
        if described is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": described, "comments": [], "response_metadata": {"next_cursor": ""}}

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._seq):08d}"
        length = args.get("length")
        self.files[file_id] = SlackFile(
            id=file_id, filename=str(args.get("filename", "")), length=int(length) if length is not None else None
        )
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        listed = args.get("files")
        if not isinstance(listed, list) or not listed:
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in listed:
            f = self.files.get(str(item.get("id")))
            if f is None or f.data is None:
                return {"ok": False, "error": "file_not_found"}
            f.title = item.get("title") or f.filename
            f.completed = True
            f.channel_id, f.thread_ts = args.get("channel_id"), args.get("thread_ts")
            f.initial_comment = args.get("initial_comment")
            done.append(
                {
                    "id": f.id,
                    "title": f.title,
                    "name": f.filename,
                    "size": len(f.data),
                    "permalink": f"https://honk-test.slack.com/files/{self.bot_user_id}/{f.id}/{f.filename}",
                }
            )
        return {"ok": True, "files": done}

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            part = form.get("file")
            data = await part.read() if isinstance(part, UploadFile) else str(part or "").encode()
        else:
            data = await request.body()
        with self._lock:
            f = self.files.get(file_id)
            if f is None:
                return PlainTextResponse("Not Found", status_code=404)
            f.data = data
            self.uploads[file_id] = data
        return PlainTextResponse(f"OK - {len(data)}")

    def share_file(self, name: str, data: bytes, mimetype: str = "application/octet-stream") -> dict[str, Any]:
        """A file someone shared, as a message's `files` lists it (and `files.info` describes it): its
        bytes at `url_private`, which answers only to a bot token (without one, Slack's sign-in page
        with a 200, as Slack does)."""
        file_id = f"F{next(self._seq):08d}"
        with self._lock:
            self.shared[file_id] = data
        url = f"{self.url}/files-pri/{self.team_id}-{file_id}/{name}"
        described = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "size": len(data),
            "url_private": url,
            "url_private_download": url,
        }
        with self._lock:
            self.shared_files[file_id] = described
        return dict(described)

    async def _download(self, request: Request) -> Response:
        file_id = request.path_params["key"].split("-", 1)[-1]
        token = _bearer(request.headers.get("authorization"))
        with self._lock:
            self.downloads.append((file_id, token))
            data = self.shared.get(file_id)
        if token is None or not token.startswith("xoxb-"):
            return Response("<!DOCTYPE html><html><body>Sign in to Slack</body></html>", media_type="text/html")
        if data is None:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(data, media_type="application/octet-stream")

    async def _response_url(self, request: Request) -> Response:
        body = await request.body()
        try:
            args = json.loads(body) if body else {}
        except ValueError:
            args = {"body": body.decode(errors="replace")}
        args = {**args, "response_url": str(request.url)} if isinstance(args, dict) else {"body": args}
        with self._lock:
            self.calls.append(SlackCall(method="response_url", args=args, token=None, at=time.time()))
        return PlainTextResponse("ok")


async def _arguments(request: Request) -> dict[str, Any]:
    """Query string, then the body (form or JSON) over it; JSON-encoded form fields decoded."""
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        for key, value in form.items():
            args[key] = value if isinstance(value, str) else await value.read()
    elif body:
        text = body.decode(errors="replace")
        if content_type.startswith("application/json") or text.lstrip().startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                args.update(parsed)
            else:
                args.update(parse_qsl(text, keep_blank_values=True))
        else:
            args.update(parse_qsl(text, keep_blank_values=True))
    for key in JSON_FIELDS & args.keys():
        if isinstance(args[key], str) and args[key].lstrip()[:1] in ("[", "{"):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                pass
    return args


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _pop_str(args: dict[str, Any], key: str) -> str | None:
    value = args.pop(key, None)
    return str(value) if value else None


# -- what Slack sends to an app ---------------------------------------------------------------

_event_seq = itertools.count(1)


def _event_ts() -> str:
    """Timestamps of incoming messages: unique, increasing, and earlier than any the fake answers."""
    n = next(_event_seq) * 100
    return f"{1690000000 + n // 1_000_000}.{n % 1_000_000:06d}"


def sign(signing_secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with: v0 HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = int(time.time()) if timestamp is None else timestamp
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(signing_secret.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def refused_payload(method: str, args: dict[str, Any]) -> str | None:
    """The error Slack answers a message, view or stream content it will not take (`invalid_blocks`,
    `msg_too_long`, `invalid_arguments` for a view's own fields or a malformed chunk), or None. Limits
    are slack_sdk's Block Kit, view and chunk models' (the same numbers Slack documents), each block
    checked down to its elements."""
    if method in STREAM_METHODS:
        return _refused_stream(method, args)
    if method in MESSAGE_METHODS:
        if len(str(args.get("text") or "")) > MAX_MESSAGE_TEXT:
            return "msg_too_long"
        blocks, most = args.get("blocks"), MAX_MESSAGE_BLOCKS
    elif method in VIEW_METHODS:
        view = args.get("view")
        if not isinstance(view, dict):
            return "invalid_arguments"
        try:
            # The view's own fields: title and submit lengths, private_metadata, a Home without submit.
            # Its blocks are checked below, each on its own (a divider stands in for them here).
            View(**{**view, "blocks": [{"type": "divider"}]}).validate_json()
        except (SlackObjectFormationError, TypeError):
            return "invalid_arguments"
        blocks, most = view.get("blocks"), MAX_VIEW_BLOCKS
    else:
        return None
    return None if blocks is None else _refused_blocks(blocks, most)


def _refused_blocks(blocks: Any, most: int) -> str | None:
    if not isinstance(blocks, list) or len(blocks) > most:
        return "invalid_blocks"
    for raw in blocks:
        if not isinstance(raw, dict):
            return "invalid_blocks"
        block = Block.parse(raw)
        if block is None:
            return "invalid_blocks"
        try:
            block.to_dict()  # validates the block and each element in it (options, buttons, inputs)
        except (SlackObjectFormationError, TypeError):
            return "invalid_blocks"
    return None


def _refused_stream(method: str, args: dict[str, Any]) -> str | None:
    """What Slack refuses in chat.startStream / appendStream / stopStream: markdown and chunks
    together, an append with neither, a display mode it does not know, text or a chunk it will not take."""
    text, chunks = args.get("markdown_text"), args.get("chunks")
    if text is not None and chunks is not None:
        return "cannot_provide_both_markdown_text_and_chunks"
    if method == "chat.appendStream" and not text and not chunks:
        return "no_text"
    if text is not None and (not isinstance(text, str) or len(text) > MAX_STREAM_TEXT):
        return "msg_too_long"
    if method == "chat.startStream" and args.get("task_display_mode") not in (None, *DISPLAY_MODES):
        return "invalid_arguments"
    blocks = args.get("blocks") if method == "chat.stopStream" else None
    if blocks is not None and (refused := _refused_blocks(blocks, MAX_MESSAGE_BLOCKS)) is not None:
        return refused
    if chunks is None:
        return None
    if not isinstance(chunks, list) or not chunks:
        return BAD_CHUNK
    return next((r for r in map(_refused_chunk, chunks) if r is not None), None)


def _refused_chunk(raw: Any) -> str | None:
    """A chunk as slack_sdk's models read it: a known type, its fields and no other; a task update's
    status as the task card block (its twin) checks it; titles and text within Slack's limits."""
    if not isinstance(raw, dict):
        return BAD_CHUNK
    try:
        chunk = Chunk.parse(raw)
    except TypeError:  # a required field missing
        return BAD_CHUNK
    if chunk is None or set(raw) - set(chunk.attributes):
        return BAD_CHUNK
    if isinstance(chunk, TaskUpdateChunk):
        fields = (chunk.id, chunk.title, chunk.status)
        if not all(isinstance(f, str) and f for f in fields) or len(chunk.title) > MAX_STREAM_TITLE:
            return BAD_CHUNK
        if any(not isinstance(raw.get(k, ""), str) for k in ("details", "output")):
            return BAD_CHUNK
        try:
            TaskCardBlock(task_id=chunk.id, title=chunk.title, status=chunk.status).validate_json()
        except SlackObjectFormationError:
            return BAD_CHUNK
    elif isinstance(chunk, PlanUpdateChunk):
        if not isinstance(chunk.title, str) or not chunk.title or len(chunk.title) > MAX_STREAM_TITLE:
            return BAD_CHUNK
    elif isinstance(chunk, MarkdownTextChunk):
        if not isinstance(chunk.text, str) or len(chunk.text) > MAX_STREAM_TEXT:
            return BAD_CHUNK
    elif isinstance(chunk, BlocksChunk):
        return _refused_blocks(chunk.blocks, MAX_MESSAGE_BLOCKS) if chunk.blocks else "invalid_blocks"
    return None


def event_body(envelope: dict[str, Any]) -> bytes:
    """An Events API request body."""
    return json.dumps(envelope).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    """An interactivity request body: the payload form-encoded as `payload=<json>`."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def _envelope(
    event: dict[str, Any], event_id: str | None, team_id: str, api_app_id: str, bot_user_id: str
) -> dict[str, Any]:
    return {
        "token": "fake-verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


def mention_event(
    text: str,
    user: str = "U1",
    channel: str = "C1",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
    team_id: str = "T1",
    api_app_id: str = "AHONK",
    bot_user_id: str = "UHONK",
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An `event_callback` envelope with an `app_mention` event; text like `<@UHONK> fix it`; `files`
    as `FakeSlack.share_file` describes them."""
    ts = ts or _event_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": team_id,
        "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    if files:
        event["files"] = files
    return _envelope(event, event_id, team_id, api_app_id, bot_user_id)


def message_event(
    text: str,
    user: str = "U1",
    channel: str = "C1",
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    bot_id: str | None = None,
    subtype: str | None = None,
    event_id: str | None = None,
    team_id: str = "T1",
    api_app_id: str = "AHONK",
    bot_user_id: str = "UHONK",
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An `event_callback` envelope with a `message` event (channel_type "channel" or "im"); `files` as
    `FakeSlack.share_file` describes them (Slack sends a shared file's message with subtype file_share)."""
    ts = ts or _event_ts()
    event: dict[str, Any] = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": team_id,
    }
    if bot_id:
        event.update(
            {
                "bot_id": bot_id,
                "app_id": api_app_id,
                "bot_profile": {"id": bot_id, "app_id": api_app_id, "name": "honk", "team_id": team_id},
            }
        )
    else:
        event["client_msg_id"] = str(uuid.uuid4())
    if thread_ts:
        event["thread_ts"] = thread_ts
    if subtype:
        event["subtype"] = subtype
    if files:
        event["files"] = files
        event.setdefault("subtype", "file_share")
    return _envelope(event, event_id, team_id, api_app_id, bot_user_id)


def app_home_opened(
    user: str = "U1",
    tab: str = "home",
    view: dict[str, Any] | None = None,
    channel: str = "D1",
    event_id: str | None = None,
    team_id: str = "T1",
    api_app_id: str = "AHONK",
    bot_user_id: str = "UHONK",
) -> dict[str, Any]:
    """An `event_callback` envelope with an `app_home_opened` event: `user` opened the app's `tab`
    ("home" or "messages"); `view` is the Home view published for them before, if any."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = view
    return _envelope(event, event_id, team_id, api_app_id, bot_user_id)


def _team_user(user: str, team_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {"id": team_id, "domain": "honk-test"},
        {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
    )


def block_action(
    action_id: str,
    value: str,
    user: str = "U1",
    channel: str = "C1",
    message_ts: str | None = None,
    trigger_id: str | None = None,
    block_id: str = "actions",
    thread_ts: str | None = None,
    response_url: str | None = None,
    team_id: str = "T1",
    api_app_id: str = "AHONK",
    bot_user_id: str = "UHONK",
    bot_id: str = "BHONK",
) -> dict[str, Any]:
    """A `block_actions` payload: a button in a message the bot posted was clicked."""
    message_ts = message_ts or _event_ts()
    team, who = _team_user(user, team_id)
    message: dict[str, Any] = {
        "type": "message",
        "user": bot_user_id,
        "bot_id": bot_id,
        "text": "",
        "ts": message_ts,
        "team": team_id,
        "blocks": [],
    }
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if thread_ts:
        message["thread_ts"] = container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": who,
        "api_app_id": api_app_id,
        "token": "fake-verification-token",
        "container": container,
        "trigger_id": trigger_id or _trigger_id(),
        "team": team,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url or f"https://hooks.slack.com/actions/{team_id}/0/fake",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_action(
    action_id: str,
    value: str,
    view: dict[str, Any],
    user: str = "U1",
    block_id: str = "actions",
    trigger_id: str | None = None,
    team_id: str = "T1",
    api_app_id: str = "AHONK",
) -> dict[str, Any]:
    """A `block_actions` payload from a button in a view (the Home tab, a modal): `view` as the app
    published it (`FakeSlack.home`). No channel, no message, no response_url: Slack sends none."""
    team, who = _team_user(user, team_id)
    return {
        "type": "block_actions",
        "user": who,
        "api_app_id": api_app_id,
        "token": "fake-verification-token",
        "container": {"type": "view", "view_id": view.get("id", "")},
        "trigger_id": trigger_id or _trigger_id(),
        "team": team,
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def message_action(
    callback_id: str,
    text: str,
    user: str = "U1",
    channel: str = "C1",
    author: str = "U2",
    message_ts: str | None = None,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    team_id: str = "T1",
) -> dict[str, Any]:
    """A `message_action` payload: `user` chose the message shortcut `callback_id` on a message
    `author` wrote (its `text` escaped as Slack stores it; `files` as `FakeSlack.share_file` describes them)."""
    message_ts = message_ts or _event_ts()
    team, who = _team_user(user, team_id)
    message: dict[str, Any] = {
        "type": "message",
        "user": author,
        "text": text,
        "ts": message_ts,
        "team": team_id,
        "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts:
        message["thread_ts"] = thread_ts
    if files:
        message.update({"files": files, "upload": False})
    return {
        "type": "message_action",
        "token": "fake-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": team,
        "user": who,
        "channel": {"id": channel, "name": channel.lower()},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or _trigger_id(),
        "response_url": response_url or f"https://hooks.slack.com/app/{team_id}/0/fake",
        "message_ts": message_ts,
        "message": message,
    }


def view_submission(
    callback_id: str,
    private_metadata: str,
    values: dict[str, dict[str, Any]],
    user: str = "U1",
    view_id: str | None = None,
    trigger_id: str | None = None,
    team_id: str = "T1",
    api_app_id: str = "AHONK",
    bot_id: str = "BHONK",
) -> dict[str, Any]:
    """A `view_submission` payload. `values` is `{block_id: {action_id: state}}` as Slack sends it;
    a plain string state stands for a plain_text_input holding that value."""
    view_id = view_id or f"V{uuid.uuid4().hex[:10].upper()}"
    team, who = _team_user(user, team_id)
    state = {
        block: {
            action: {"type": "plain_text_input", "value": v} if isinstance(v, str) else v
            for action, v in actions.items()
        }
        for block, actions in values.items()
    }
    return {
        "type": "view_submission",
        "team": team,
        "user": who,
        "api_app_id": api_app_id,
        "token": "fake-verification-token",
        "trigger_id": trigger_id or _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state},
            "hash": uuid.uuid4().hex[:16],
            "title": {"type": "plain_text", "text": "Honk"},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": api_app_id,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": bot_id,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def _trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
