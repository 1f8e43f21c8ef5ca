"""A plain HTML overview for the embedded default (the full mobile web app comes later)."""

from __future__ import annotations

from html import escape

from honk.domain import RepoRef, TaskView
from honk.events import StoredEvent


def home(tasks: list[TaskView], repos: list[RepoRef]) -> str:
    rows = "".join(
        f"<tr><td><a href='/tasks/{t.id}'>{t.id}</a></td><td>{escape(t.repo)}</td>"
        f"<td>{t.state.value}</td><td>{escape(t.text[:80])}</td>"
        f"<td>{f'<a href={escape(t.preview_url)!r}>preview</a>' if t.preview_url else ''}</td></tr>"
        for t in tasks
    )
    repo_list = ", ".join(escape(r.name) for r in repos) or "none"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Honk</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:60rem}}
table{{border-collapse:collapse;width:100%}}td{{padding:.4rem;border-bottom:1px solid #8884}}
@media (prefers-color-scheme:dark){{body{{background:#111;color:#eee}}a{{color:#8cf}}}}</style></head>
<body><h1>Honk</h1><p>Repos: {repo_list}. API: <a href="/docs">/docs</a>.</p>
<p>Ask from a terminal: <code>honk ask REPO "what should change" --wait</code></p>
<table><thead><tr><th>Task</th><th>Repo</th><th>State</th><th>Request</th><th></th></tr></thead>
<tbody>{rows or '<tr><td colspan=5>No tasks yet.</td></tr>'}</tbody></table></body></html>"""


def task_page(task: TaskView, history: list[StoredEvent]) -> str:
    """A task's page: what was asked, where it stands, and every step so far (newest last)."""
    rows = "".join(f"<li><time>{e.at:%H:%M:%S}</time> {escape(e.event.line())}</li>" for e in history)
    links = []
    if task.preview_url:
        links.append(f"<a href='{escape(task.preview_url)}'>Open the preview</a>")
    links += [f"<a href='/artifacts/{task.id}/{escape(a.name)}'>{escape(a.name)}</a>" for a in task.artifacts]
    facts = [("State", task.state.value), ("Repo", task.repo), ("Branch", task.branch),
             ("Asked by", task.requested_by), ("Reason", task.reason or ""), ("Merged as", task.merged_commit or ""),
             ("Approved by", task.approved_by or ""),
             ("Cost", f"${task.cost_usd:.2f}" if task.cost_usd is not None else "")]
    dl = "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{task.id} · Honk</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:48rem}}dt{{font-weight:600}}
dd{{margin:0 0 .5rem}}li{{margin:.25rem 0;overflow-wrap:anywhere}}time{{color:#888;font-variant-numeric:tabular-nums}}
@media (prefers-color-scheme:dark){{body{{background:#111;color:#eee}}a{{color:#8cf}}}}</style></head>
<body><p><a href="/">Honk</a></p><h1>{escape(task.text[:120])}</h1><dl>{dl}</dl>
<p>{" · ".join(links)}</p><h2>Timeline</h2><ol>{rows}</ol></body></html>"""


def message(title: str, detail: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Honk</title></head>
<body style="font-family:system-ui,sans-serif;margin:1rem"><h1>{escape(title)}</h1><p>{escape(detail)}</p></body></html>"""
