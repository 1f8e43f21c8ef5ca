"""The task page's preview card: a running preview's way in (Open, and a QR of a signed link for a phone
without a session), why it failed when it did, and every route's before/after screenshots and diffs."""

from __future__ import annotations

from html import escape

from honk.domain import RouteShots, TaskView
from honk.timeline import Timeline

VIEWPORTS = {"phone": "Phone (390×844)", "desktop": "Desktop (1280×800)"}


def running_preview_card(task: TaskView, timeline: Timeline, phone_link: str | None, qr: str) -> str:
    """`phone_link`: a signed link for the QR (None: not shown); `qr`: its QR code as inline SVG."""
    parts = ['<section class="card preview" id="preview"><h2>Preview</h2>']
    if timeline.preview_failed:
        parts.append(
            '<p class="fail"><strong>Preview failed.</strong> The change is still ready for review; fix the '
            "<code>[preview]</code> section of <code>.honk.toml</code> (or the app) and ask again.</p>"
            f'<pre class="wrap">{escape(timeline.preview_failed)}</pre>'
        )
    else:
        qr_part = (
            f'<div class="qr">{qr}<div><p class="small">Scan to open the preview on a phone '
            "(a signed link: it works without signing in, and expires).</p></div></div>"
            if phone_link
            else ""
        )
        parts.append(
            f'<p><a class="btn" href="/tasks/{escape(task.id)}/preview" target="_blank" rel="noopener">'
            f'Open preview</a> <span class="muted small">{escape(timeline.preview_url or "")}</span></p>{qr_part}'
        )
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
