"""The audit log as a page (admins): filters on top, newest entries first, refusals stand out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from html import escape
from typing import get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from honk.accounts import Role, User
from honk.domain import AuditAction, AuditOutcome
from honk.store import AuditEntry, AuditQuery
from honk.web.ui import layout, signed_in

UserOf = Callable[[Request], Awaitable[User]]


def router(user_of: UserOf) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/audit", response_class=HTMLResponse)
    async def audit(
        request: Request,
        actor: str = "",
        action: str = "",
        outcome: str = "",
        repo: str = "",
        task: str = "",
        since: str = "",
    ) -> Response:
        user = await signed_in(request, user_of)
        if isinstance(user, Response):
            return user
        if not user.role.allows(Role.admin):
            body = "<h1>Audit log</h1><div class='card'><p>Only admins can read the audit log.</p></div>"
            return HTMLResponse(layout(user, "Audit log", body, "audit"), status_code=403)
        start = _day(since)
        query = AuditQuery(
            actor=actor or None,
            action=action if action in get_args(AuditAction) else None,  # type: ignore[arg-type]
            outcome=outcome if outcome in get_args(AuditOutcome) else None,  # type: ignore[arg-type]
            repo=repo or None,
            task_id=task or None,
            since=start,
            limit=300,
        )
        entries = await request.app.state.service.audit(query)
        return HTMLResponse(page(user, entries, query, since if start else ""))

    return r


def _day(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None
    except ValueError:
        return None


def page(user: User, entries: list[AuditEntry], q: AuditQuery, since: str) -> str:
    def options(values: tuple[str, ...], chosen: str | None, label: str) -> str:
        opts = "".join(
            f'<option value="{v}"{" selected" if v == chosen else ""}>{v.replace("_", " ")}</option>' for v in values
        )
        return f'<option value="">{label}</option>{opts}'

    rows = "".join(
        f"""<li class="card audit o-{e.outcome}"><div class="row"><strong>{escape(e.action.replace("_", " "))}</strong>
<span class="badge">{escape(e.outcome)}</span><span class="spacer"></span>
<time class="muted small" datetime="{e.at.isoformat() if e.at else ""}">{f"{e.at:%b %d %H:%M:%S}" if e.at else ""}</time></div>
<div class="small">{escape(e.actor)} · via {escape(e.front_door)}{_where(e)}</div>
{f'<div class="small">rule <code>{escape(e.rule)}</code></div>' if e.rule else ""}
<div class="text small">{escape(e.detail[:500])}</div></li>"""
        for e in entries
    )
    export = "/api/audit?" + urlencode(
        {
            k: v
            for k, v in {
                "actor": q.actor,
                "action": q.action,
                "outcome": q.outcome,
                "repo": q.repo,
                "task": q.task_id,
                "since": since,
            }.items()
            if v
        }
    )
    body = f"""<h1>Audit log</h1>
<form class="filters" method="get" action="/audit">
<select name="action" aria-label="Action">{options(get_args(AuditAction), q.action, "Any action")}</select>
<select name="outcome" aria-label="Outcome">{options(get_args(AuditOutcome), q.outcome, "Any outcome")}</select>
<input type="text" name="actor" aria-label="Who" placeholder="who" value="{escape(q.actor or "")}">
<input type="text" name="repo" aria-label="Repo" placeholder="repo" value="{escape(q.repo or "")}">
<input type="date" name="since" aria-label="Since" value="{escape(since)}">
<button class="btn" type="submit">Filter</button></form>
<p class="muted small">Newest first; append-only. Export as JSON: <a href="{escape(export)}">this view</a>,
or <code>honk audit --json</code> for JSON lines.</p>
<ul class="tasks" id="audit">{rows or '<li class="card">Nothing recorded that matches.</li>'}</ul>"""
    return layout(user, "Audit log", body, "audit")


def _where(e: AuditEntry) -> str:
    parts = [escape(e.repo)] if e.repo else []
    if e.task_id:
        parts.append(f'<a href="/tasks/{escape(e.task_id)}">{escape(e.task_id)}</a>')
    return " · " + " · ".join(parts) if parts else ""
