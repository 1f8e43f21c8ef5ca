"""The task page's preview card: a running preview's way in (Open, and a QR of a signed link for a phone
without a session), why it failed when it did, and every route's before/after screenshots and diffs."""

from __future__ import annotations

from html import escape

from honk.domain import PreviewInfo, RouteShots, TaskView
from honk.timeline import Timeline

VIEWPORTS = {"phone": "Phone (390×844)", "desktop": "Desktop (1280×800)"}


PREVIEW_WORDS = {
    "starting": "Starting…",
    "running": "Running",
    "stopped": "Stopped when idle: it starts again when opened.",
    "failed": "Failed",
}


def live_preview_card(
    task: TaskView, live: PreviewInfo | None, timeline: Timeline, phone_link: str | None, qr: str
) -> str:
    """The task's running preview: its state, Open (its own origin), a QR of a signed link for a phone
    without a session (`qr`: inline SVG), Revoke, why it failed, and every route's screenshots."""
    state = live.state if live is not None else ("failed" if timeline.preview_failed else "stopped")
    parts = [
        '<section class="card preview" id="live-preview"><h2>Live preview</h2>',
        f'<p class="small" id="live-preview-state">{escape(PREVIEW_WORDS.get(state, state))}</p>',
    ]
    failed = timeline.preview_failed or (live.detail if live is not None and live.state == "failed" else "")
    if failed:
        parts.append(
            '<p class="fail"><strong>Preview failed.</strong> The change is still ready for review; fix the '
            "<code>[preview]</code> section of <code>.honk.toml</code> (or the app) and ask again.</p>"
            f'<pre class="wrap">{escape(failed)}</pre>'
        )
    parts.append(
        f'<p><a class="btn primary block" id="open-preview" href="/tasks/{task.id}/preview" target="_blank" '
        f'rel="noopener">Open preview</a> <span class="muted small">{escape(timeline.preview_url or "")}</span></p>'
    )
    if phone_link and not failed:
        parts.append(
            f'<div class="qr">{qr}<div><p class="small">Scan to open it on a phone: a signed link that works '
            "without signing in, for a day (Revoke stops it).</p></div></div>"
        )
    parts.append(f"""<form data-api="/api/tasks/{task.id}/preview/revoke" data-then="panel"
 data-done="Every link to this preview stopped working; Open preview makes a new one.">
<button class="btn danger block" id="revoke-preview" type="submit"
 data-confirm="Stop every link to this preview (Slack's too) working?">Revoke preview links</button></form>""")
    if timeline.shots:
        parts.append(shots_html(task.id, timeline.shots, timeline.shots_outside))
    parts.append("</section>")
    return "\n".join(parts)


def shots_html(task_id: str, routes: list[RouteShots], outside: list[str]) -> str:
    """Every route, each viewport: before (the target branch), after (this task) and what changed."""
    out = ['<div class="shots">']
    for route in routes:
        flag = (
            ' <span class="fail small">changed, though the request did not name it</span>'
            if route.route in outside
            else ""
        )
        out.append(f"<h3><code>{escape(route.route)}</code>{flag}</h3>")
        for pair in route.shots:
            if pair.error:
                out.append(
                    f'<p class="fail small">{VIEWPORTS.get(pair.viewport, pair.viewport)}: {escape(pair.error)}</p>'
                )
                continue
            changed = f"{pair.changed:.1%} changed" if pair.changed else "no visible change"
            figures = "".join(
                f'<figure><img src="/shots/{escape(task_id)}/{escape(name)}" alt="{escape(route.route)} {label}" '
                f'loading="lazy"><figcaption>{label}</figcaption></figure>'
                for name, label in ((pair.before, "before"), (pair.after, "after"), (pair.diff, "diff"))
                if name
            )
            out.append(
                f'<div class="shot-row"><p class="small muted">{VIEWPORTS.get(pair.viewport, pair.viewport)} — '
                f"{changed}</p>{figures}</div>"
            )
    out.append("</div>")
    return "\n".join(out)
