"""The pull request description: what a reviewer on the forge needs to judge Honk's change."""

from __future__ import annotations

from honk.domain import CheckLine, PullRequestBody, RouteShots
from honk.redaction import redact

# GitHub refuses a description over 65,536 characters; GitLab allows more. One limit for both.
MAX_BODY_CHARS = 60_000
MAX_DETAIL_CHARS = 200
MARKER = "<!-- honk-task: {} -->"


def quiet(text: str) -> str:
    # Quoting a request must not notify the people it names: a zero-width space after "@" stops
    # the forge from turning "@name" into a mention.
    return text.replace("@", "@\u200b")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in quiet(text.strip()).splitlines()) or "> (empty)"


def _cell(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) > MAX_DETAIL_CHARS:
        one_line = one_line[: MAX_DETAIL_CHARS - 1] + "…"
    return quiet(one_line).replace("|", "\\|") or " "


def _checks(checks: list[CheckLine]) -> str:
    if not checks:
        return "No checks are configured for this repo."
    rows = [f"| {'✅ passed' if c.passed else '❌ failed'} | `{_cell(c.name)}` | {_cell(c.detail)} |" for c in checks]
    return "\n".join(["| Result | Check | Detail |", "| --- | --- | --- |", *rows])


def _list(items: list[str], empty: str) -> str:
    return "\n".join(f"- {_cell(i)}" for i in items) if items else empty


MAX_PLAN_CHARS = 6_000  # the task page has it whole


def _shots(routes: list[RouteShots], base: str) -> str:
    """Each route and viewport as a row: before (the target branch), after (this change), the diff."""
    rows = ["| Route | Before | After | What changed |", "| --- | --- | --- | --- |"]
    for route in routes:
        for pair in route.shots:
            label = f"`{_cell(route.route)}` {pair.viewport}"
            if pair.error:
                rows.append(f"| {label} | {_cell(pair.error)} | | |")
                continue
            images = [
                f"![{name}]({base}/{f})" if f else " "
                for name, f in (("before", pair.before), ("after", pair.after), ("diff", pair.diff))
            ]
            rows.append(f"| {label}<br>{pair.changed:.1%} changed | {' | '.join(images)} |")
    return "\n".join(rows)


def render_body(body: PullRequestBody, max_chars: int = MAX_BODY_CHARS) -> str:
    return redact(_render(body, max_chars))


def _render(body: PullRequestBody, max_chars: int) -> str:
    links = [f"- Task: {body.task_url}"]
    if body.preview_url:
        links.append(f"- Preview: {body.preview_url}")
    cost = f"${body.cost_usd:.2f}" if body.cost_usd is not None else "not reported"
    came = f"\n\nCame with: {quiet(', '.join(body.came_with))}" if body.came_with else ""
    started = f" (started by {quiet(body.started_by)})" if body.started_by else ""
    closes = f"\n\nCloses #{body.closes}" if body.closes else ""
    head = (
        f"**Requested by** {quiet(body.requested_by)}{started}\n\n{_quote(body.request)}{came}{closes}"
        "\n\n## Summary\n\n"
    )
    plan = []
    if body.plan:
        by = f" (approved by {quiet(body.plan_approved_by)})" if body.plan_approved_by else ""
        plan = [f"## Plan{by}\n\n" + quiet(body.plan[:MAX_PLAN_CHARS])]
    across = (
        ["## One change across several repos\n\n" + "\n".join(quiet(a) for a in body.across)] if body.across else []
    )
    tail = "\n\n".join(
        [
            *across,
            *plan,
            "## Checks\n\n" + _checks(body.checks),
            "## Test guard\n\n" + _list(body.guard_findings, "No findings."),
            *(["## Warnings\n\n" + _list(body.warnings, "")] if body.warnings else []),
            *(["## Screenshots\n\n" + _shots(body.shots, body.shots_url)] if body.shots else []),
            f"## Cost\n\nAgent cost: {cost}",
            "## Links\n\n" + "\n".join(links),
            "_Opened by Honk. Merge from Slack or the task page; the branch is Honk's own._",
            MARKER.format(body.task_id.replace("--", "")),
        ]
    )
    summary = quiet(body.summary.strip()) or "(The agent gave no summary.)"
    room = max_chars - len(head) - len(tail) - 4
    if len(summary) > room:
        # The summary is the only open-ended part (the request is bounded): trim it, say where the rest is.
        note = "\n\n(Trimmed: the full summary is on the task page.)"
        summary = summary[: max(room - len(note), 0)] + note
    return f"{head}{summary}\n\n{tail}"
