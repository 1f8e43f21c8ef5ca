"""A plain HTML overview for the embedded default (the full mobile web app comes later)."""

from __future__ import annotations

from html import escape

from honk.domain import RepoRef, TaskView


def home(tasks: list[TaskView], repos: list[RepoRef]) -> str:
    rows = "".join(
        f"<tr><td><a href='/api/tasks/{t.id}'>{t.id}</a></td><td>{escape(t.repo)}</td>"
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
