"""The files shared with a Slack request: fetched by the server with the bot token, never by the agent
(the token never leaves this process), only from Slack's own file host, each bounded in size, each
failing on its own with a reason the person can act on."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from honk.attachments import MAX_FILE_BYTES, Incoming
from honk.domain import MAX_ATTACHMENTS

SLACK_FILE_HOSTS = ("files.slack.com",)
TIMEOUT_S = 30.0


async def fetch(files: list[dict[str, Any]], token: str, api_url: str) -> list[Incoming]:
    """Each of the message's files as `Incoming` (a download that failed carries its `problem`)."""
    allowed = {*SLACK_FILE_HOSTS, urlsplit(api_url).netloc}
    out: list[Incoming] = []
    async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http:
        for f in files[: MAX_ATTACHMENTS + 1]:  # one past the count, so the refusal says why
            out.append(await _one(http, f, token, allowed))
    return out


async def look_up(client: AsyncWebClient, files: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Incoming]]:
    """The files as `fetch` takes them, and those Slack would not describe (with why). A file known by
    its id only (the Fix with Honk form carries ids; Slack lists a file of a shared channel with
    `file_access: check_file_info`) is described by files.info."""
    found: list[dict[str, Any]] = []
    missing: list[Incoming] = []
    for f in files[: MAX_ATTACHMENTS + 1]:
        if f.get("url_private") or f.get("url_private_download") or not f.get("id"):
            found.append(f)
            continue
        try:
            described = (await client.files_info(file=str(f["id"]))).get("file")
        except SlackApiError as e:
            problem = (
                f"Slack did not show it to Honk ({e.response.get('error', 'error')}): Honk's app needs "
                "the files:read scope, and to be in the conversation the file was shared in"
            )
            missing.append(Incoming(str(f.get("name") or f["id"]), b"", problem=problem))
            continue
        found.append(described if isinstance(described, dict) else f)
    return found, missing


async def _one(http: httpx.AsyncClient, f: dict[str, Any], token: str, allowed: set[str]) -> Incoming:
    name = str(f.get("name") or f.get("title") or f.get("id") or "file")
    size = f.get("size") if isinstance(f.get("size"), int) else None
    if size is not None and size > MAX_FILE_BYTES:
        return Incoming(name, b"", size)  # refused by its size, not downloaded
    url = str(f.get("url_private_download") or f.get("url_private") or "")
    if urlsplit(url).scheme not in ("https", "http") or urlsplit(url).netloc not in allowed:
        # The token goes only to Slack: a URL elsewhere is not fetched at all.
        return Incoming(name, b"", problem="it is not a file stored in Slack")
    try:
        async with http.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as r:
            if r.status_code != 200:
                return Incoming(name, b"", problem=f"Slack did not give it to Honk (HTTP {r.status_code})")
            if r.headers.get("content-type", "").startswith("text/html"):
                # Slack's answer to a token that may not read the file: its sign-in page.
                return Incoming(
                    name,
                    b"",
                    problem="Honk may not read it (its Slack app needs the files:read scope, and to be in "
                    "the conversation the file was shared in)",
                )
            data = bytearray()
            async for chunk in r.aiter_bytes():
                data += chunk
                if len(data) > MAX_FILE_BYTES:
                    break
            return Incoming(name, bytes(data), size)
    except httpx.HTTPError as e:
        return Incoming(name, b"", problem=f"the download failed ({type(e).__name__})")
