"""What a Slack message asks of Honk, parsed without I/O (so it can be fuzzed).

`@honk fix the crash repo=player model=claude-opus-4-6` asks for a change (`@honk plan: …`: a plan
to approve first; `@honk across api, web: …`: one change across those repos, merged in that order);
`@honk help`, `@honk list`, `@honk status`, `@honk use REPO` are commands. Options may stand anywhere.
"""

from __future__ import annotations

import re

from honk.domain import MAX_REQUEST_CHARS, Record, SlackCommandName

MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
OPTION = re.compile(r"(?<!\S)(repo|agent|model)=([A-Za-z0-9._/:-]+)(?!\S)")
COMMANDS = ("help", "list", "status", "use")
PLAN = re.compile(r"^plan\s*:\s*", re.IGNORECASE)
# `across api, web: …`: ONE task over those repos (not `in repos a, b: …`, a campaign of one task per repo).
ACROSS = re.compile(r"^across\s+([A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._-]+)*)\s*:\s*", re.IGNORECASE)
MAX_ACROSS = 20  # names one message may list; the server's own limit (tasks.max_repos_per_task) is lower


class Ask(Record):
    text: str
    repo: str | None = None
    agent: str | None = None
    model: str | None = None
    plan: bool = False  # `@honk plan: …`: a plan to approve before any change
    also: list[str] = []  # `@honk across api, web: …`: the other repos of one change, after `repo`


class Command(Record):
    name: SlackCommandName
    argument: str | None = None


class Problem(Record):
    """Input that cannot be acted on, with what to say back."""

    message: str


Intake = Ask | Command | Problem


def parse(text: str) -> Intake:
    body = unescape(text)
    words = body.split()
    if words and words[0].lower() in COMMANDS and (len(words) <= 2):
        name = words[0].lower()
        argument = words[1] if len(words) == 2 else None
        if name == "use" and not argument:
            return Problem(message="Say which repo: `@honk use REPO`.")
        if name != "use" and argument is not None and name != "status":
            return _ask(body)
        return Command(name=name, argument=argument)  # type: ignore[arg-type]
    return _ask(body)


def _ask(body: str) -> Intake:
    across = ACROSS.match(body)
    repos = [name.strip() for name in across.group(1).split(",")] if across else []
    if across:
        body = body[across.end() :]
    plan = PLAN.match(body)
    if plan:
        body = body[plan.end() :]
    options = {m.group(1): m.group(2) for m in OPTION.finditer(body)}
    if across and (problem := _across_problem(repos, options.get("repo"))):
        return problem
    text = _squash(OPTION.sub(" ", body))  # `body` is unescaped already: `&amp;lt;` typed stays `&lt;`
    if not text:
        return Problem(message="Say what should change, e.g. `@honk fix the crash when a playlist is empty`.")
    if len(text) > MAX_REQUEST_CHARS:
        return Problem(
            message=f"That request is longer than {MAX_REQUEST_CHARS:,} characters; "
            "put the details in a file in the repo and refer to it."
        )
    return Ask(
        text=text,
        repo=repos[0] if repos else options.get("repo"),
        agent=options.get("agent"),
        model=options.get("model"),
        plan=bool(plan),
        also=repos[1:],
    )


def _across_problem(repos: list[str], repo_option: str | None) -> Problem | None:
    """What is wrong with an `across` list, said so the person can fix the message (None: nothing)."""
    if len(repos) < 2:
        return Problem(message="Name at least two repos: `@honk across api, web: rename user_id`.")
    if len(repos) > MAX_ACROSS:
        return Problem(message=f"That names {len(repos)} repos; one change spans at most {MAX_ACROSS}.")
    if repo_option is not None and repo_option != repos[0]:
        return Problem(message=f"Name the repos once: `across {', '.join(repos)}:` already says where, not `repo=`.")
    return None


def unescape(text: str) -> str:
    """A message's text as its author typed it: mentions taken out, Slack's escaping undone."""
    return _clean(MENTION.sub(" ", text or ""))


def _clean(text: str) -> str:
    # Slack escapes &, < and > in message text.
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _squash(text)


def _squash(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


HELP = """*Honk* makes code changes from a message, checks them, and merges when you say so.
• `@honk <what should change>` — start a task (options: `repo=NAME`, `agent=NAME`, `model=NAME`)
• `@honk plan: <what should change>` — a plan to approve first; nothing changes until you do
• `@honk across api, web: <what should change>` — one change in several repos, one pull request each
• reply in a task's thread — a follow-up on the same branch (start with `{aside}` to talk without instructing)
• `@honk use REPO` — this channel's default repo
• `@honk list` — your tasks · `@honk status` — this channel's tasks · `@honk help` — this message"""
