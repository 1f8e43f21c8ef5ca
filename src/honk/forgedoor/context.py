"""The issue or pull request a request was made on, as context for the agent: its title and description,
then who said what, newest kept within the same bounds as a Slack thread's (honk.slack.thread), bots'
comments (Honk's among them) and the request itself left out. Pure: a Discussion in, one text out; the
text reaches the agent like an attached file, quoted as reference, never as instructions."""

from __future__ import annotations

from honk.domain import Discussion

MAX_COMMENTS = 50  # honk.slack.thread.MAX_MESSAGES
MAX_CHARS = 16_000  # honk.slack.thread.MAX_CHARS
NAME = "forge-thread.txt"


def quote(
    d: Discussion, request_comment: int | None, max_comments: int = MAX_COMMENTS, max_chars: int = MAX_CHARS
) -> str:
    """The discussion before (and without) the comment that asked; "" when there is nothing to quote."""
    what = "pull request" if d.pull_request else "issue"
    head = [f"The {what} the request was made on: #{d.number} {d.title}".rstrip()]
    if d.author:
        head.append(f"Opened by @{d.author}" + (f" ({d.url})" if d.url else ""))
    budget = max(0, max_chars - sum(len(h) + 1 for h in head))
    body = d.body.strip()
    if body and budget > 40:
        body = body if len(body) <= budget // 2 else body[: budget // 2 - 1] + "…"
        head += ["", "Description:", body]
        budget -= len(body) + 15
    said = [c for c in d.comments if not c.by_bot and c.id != request_comment and c.text.strip()]
    budget -= 60  # the "Comments: …" line
    kept: list[str] = []
    for c in reversed(said[-max_comments:]):  # newest first, until the bounds
        line = f"@{c.author or 'someone'}: {c.text.strip()}"
        if len(line) + 1 > budget:
            if not kept and budget > 40:  # one huge comment: its beginning, where a person says what they see
                kept.append(line[: budget - 2] + "…")
            break
        kept.append(line)
        budget -= len(line) + 1
    kept.reverse()
    if not body and not kept and not d.title:
        return ""
    if kept:
        how = "all" if len(kept) == len(said) else "the last"
        head += ["", f"Comments: {how} {len(kept)} of {len(said)}, oldest first.", *kept]
    return "\n".join(head) + "\n"
