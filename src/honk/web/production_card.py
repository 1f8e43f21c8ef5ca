"""The task page's cards for what comes after a green build and a merge: the new app on the phone (Install,
a QR code of its link for a phone across the desk, name, version, build, expiry; processing; failed with
why) and production (held with Deploy, deploying, live with its link, failed with the distilled log and
Revert). Deploy and Revert are forms the page's script posts as JSON with the session's CSRF token (the
API asks the gate again); they are offered to mergers and admins, whom a repo's deployers default to."""

from __future__ import annotations

from html import escape

from honk.accounts import Role, User
from honk.deliver.qr import qr_svg
from honk.domain import DEPLOY_ENDED, INSTALL_WORDS, SERVICE_NAMES, TaskState, TaskView
from honk.timeline import Timeline

DEPLOY_WORDS = {
    "deploying": "Deploying…",
    "deployed": "Deployed; checking its health…",
    "live": "Live in production",
    "deploy_failed": "Deploy failed",
    "health_failed": "Health check failed",
}


def web_link(url: str | None) -> bool:
    """A link the page may put in an href: http(s) only (never `javascript:`), of a sane length."""
    return url is not None and url.startswith(("https://", "http://")) and len(url) <= 2_000


def delivery_card(timeline: Timeline) -> str:
    o = timeline.delivery
    if o is None:
        return ""
    parts = ['<section class="card delivery" id="delivery"><h2>On the phone</h2>']
    if o.state == "processing":
        minutes = timeline.delivery_waited_s / 60
        said = f" — {escape(o.message)}" if o.message else ""
        parts.append(
            f'<p id="delivery-state">⏳ {SERVICE_NAMES[o.kind]} is processing the build ({minutes:.0f} min so '
            f"far){said}</p>"
        )
    elif o.state == "failed":
        parts.append(
            f'<p class="fail" id="delivery-state"><strong>Delivery failed:</strong> {escape(o.why or "no reason")}'
            '</p><p class="muted small">The change can still be reviewed and merged.</p>'
        )
        if o.detail.strip():
            parts.append(f'<pre class="wrap" id="delivery-log">{escape(o.detail)}</pre>')
    elif o.state == "delivered" and web_link(o.url):
        assert o.url is not None
        build = f" (build {o.build})" if o.build else ""
        what = f"{o.title or 'The new version'} {o.version}{build}".replace("  ", " ")
        parts.append(f'<p id="delivery-state"><strong>{escape(what.strip())}</strong></p>')
        if o.message:
            parts.append(f"<p>{escape(o.message)}</p>")
        if o.signature is not None and not o.signature.verified:
            parts.append(f'<p class="fail small">Signature not verified: {escape(o.signature.why)}</p>')
        label = o.label or INSTALL_WORDS[o.kind]
        expires = (
            f'<p class="muted small" id="delivery-expires">The link expires {o.expires_at:%Y-%m-%d %H:%M} UTC.</p>'
            if o.expires_at
            else ""
        )
        parts.append(
            f'<div class="qr">{qr_svg(o.url)}<div><p class="small">Scan with the phone to install.</p>'
            f'<a class="btn primary block" id="install" href="{escape(o.url)}" target="_blank" rel="noopener '
            f'noreferrer">{escape(label)}</a>{expires}</div></div>'
        )
    else:
        parts.append('<p id="delivery-state">Delivering…</p>')
    parts.append("</section>")
    return "".join(parts)


def deploy_card(user: User, task: TaskView, timeline: Timeline) -> str:
    if task.state != TaskState.merged or (timeline.deploy_state is None and timeline.deploy_held is None):
        return ""
    may = user.role.allows(Role.merger)
    state, outcome = timeline.deploy_state, timeline.deploy
    commit = (outcome.commit if outcome else task.merged_commit or "")[:12]
    parts = ['<section class="card deploy" id="deploy"><h2>Production</h2>']
    if state is None and timeline.deploy_held is not None:
        parts.append(f'<p id="deploy-state"><strong>Deploy held:</strong> {escape(timeline.deploy_held)}</p>')
        if may:
            parts.append(
                f'<form data-api="/api/tasks/{task.id}/deploy" data-then="panel" data-done="Deploy started.">'
                f'<button class="btn primary block" id="deploy-now" type="submit" data-confirm="Deploy '
                f'{commit} to production?">Deploy</button></form>'
            )
        else:
            parts.append('<p class="muted small">Someone who may deploy starts it.</p>')
        parts.append("</section>")
        return "".join(parts)
    words = DEPLOY_WORDS.get(state or "", state or "")
    cls = "pass" if state == "live" else "fail" if state in DEPLOY_ENDED else ""
    parts.append(f'<p id="deploy-state" class="{cls}"><strong>{words}</strong> <code>{escape(commit)}</code></p>')
    if state == "live" and outcome is not None and web_link(outcome.url):
        assert outcome.url is not None
        parts.append(
            f'<p><a class="btn block" id="live-link" href="{escape(outcome.url)}" target="_blank" '
            'rel="noopener noreferrer">Open production</a></p>'
        )
    if state in DEPLOY_ENDED and state != "live":
        if outcome is not None and outcome.detail.strip():
            parts.append(f'<pre class="wrap" id="deploy-log">{escape(outcome.detail)}</pre>')
        if timeline.revert_task is not None:
            parts.append(
                f'<p id="reverting">Being reverted by <a href="/tasks/{escape(timeline.revert_task)}">'
                f"{escape(timeline.revert_task)}</a>.</p>"
            )
        elif may:
            parts.append(
                f'<form data-api="/api/tasks/{task.id}/revert" data-then="task">'
                f'<button class="btn danger block" id="revert" type="submit" data-confirm="Revert {commit}? A task '
                'makes the revert, runs the checks and merges it by the repo&#x27;s policy.">Revert</button></form>'
            )
    parts.append("</section>")
    return "".join(parts)
