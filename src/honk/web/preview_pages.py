"""The few pages a preview origin answers itself: who may not come in and what to do, a preview that is
starting (it reloads itself) or failed (with its server's last lines and what to fix), no such preview.
Plain HTML from this origin, with nothing of Honk's on it (no script, no style sheet, no session)."""

from __future__ import annotations

from html import escape
from typing import Any

SECURITY = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"),
]
RETRY_S = 2


def html(title: str, body: str, refresh_s: int | None = None) -> bytes:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title></head>
<body style="font-family:system-ui,sans-serif;margin:1rem;max-width:40rem;line-height:1.4">
<h1 style="font-size:1.3rem">{escape(title)}</h1>{body}</body></html>""".encode()


async def send_page(send: Any, status: int, page: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*SECURITY, *(headers or [])]})
    await send({"type": "http.response.body", "body": page})


def no_preview() -> bytes:
    return html("No preview here", "<p>There is no task preview at this address. Check the link you followed.</p>")


def refused(why: str, task_page: str) -> bytes:
    return html(
        "You cannot open this preview",
        f'<p>{escape(why)}</p><p>Open it again from <a href="{escape(task_page)}">the task\'s page</a> '
        "(signed in to Honk), or from the newest link in the task's Slack thread.</p>",
    )


def starting() -> bytes:
    return html(
        "Starting the preview…",
        "<p>Honk is starting this task's server; this page reloads itself until it answers.</p>",
        refresh_s=RETRY_S,
    )


def failed(detail: str, task_page: str) -> bytes:
    shown = (
        f'<pre style="white-space:pre-wrap;background:#f4f4f4;padding:.5rem">{escape(detail)}</pre>' if detail else ""
    )
    return html(
        "Preview failed",
        f"<p>The task's preview server did not start, or stopped with an error:</p>{shown}"
        "<p>Fix what the log says: the <code>[preview]</code> section of <code>.honk.toml</code> (its "
        "<code>install</code>, <code>start</code> — which must listen on <code>$PORT</code> — or <code>ready</code>) "
        f'or the app itself, then ask for changes on <a href="{escape(task_page)}">the task\'s page</a>; '
        "Honk starts the preview again with the new version.</p>",
    )


def unavailable(detail: str) -> bytes:
    return html("The preview cannot start now", f"<p>{escape(detail)}</p>", refresh_s=RETRY_S * 5)
