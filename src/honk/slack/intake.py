"""What a Slack message asks of Honk, parsed without I/O (so it can be fuzzed).

`@honk fix the crash repo=player model=claude-opus-4-6` asks for a change (`@honk plan: …`: a plan
to approve first; `@honk best of 3: …`: three independent attempts, one to pick; `@honk across api, web: …`:
one change across those repos, merged in that order); `@honk help`, `@honk list`, `@honk status`, `@honk use
REPO` are commands. Options may stand anywhere.

`@honk in every repo with python: bump requests to 2.32` asks for a campaign: the same change in every repo
the words before the colon select (`in every repo`, `in repos api, web`, `in repos matching svc-*`,
`in repos with requirements.txt containing requests`; a language names the file that marks it).
"""

from __future__ import annotations

import re

from honk.domain import MAX_REQUEST_CHARS, Record, RepoSelector, SlackCommandName, parse_selector

MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
OPTION = re.compile(r"(?<!\S)(repo|agent|model)=([A-Za-z0-9._/:-]+)(?!\S)")
COMMANDS = ("help", "list", "status", "use")
PLAN = re.compile(r"^plan\s*:\s*", re.IGNORECASE)
# `best of N:` before the request (N as typed: the service says which N it takes, and why not another).
BEST_OF = re.compile(r"^best\s+of\s+([0-9]{1,6})\s*:\s*", re.IGNORECASE)
# `across api, web: …`: ONE task over those repos (not `in repos a, b: …`, a campaign of one task per repo).
ACROSS = re.compile(r"^across\s+([A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._-]+)*)\s*:\s*", re.IGNORECASE)
MAX_ACROSS = 20  # names one message may list; the server's own limit (tasks.max_repos_per_task) is lower


class Ask(Record):
    text: str
    repo: str | None = None
    agent: str | None = None
    model: str | None = None
    plan: bool = False  # `@honk plan: …`: a plan to approve before any change
    attempts: int = 0  # `@honk best of N: …`: N independent attempts (honk.attempts); 0: one task
    also: list[str] = []  # `@honk across api, web: …`: the other repos of one change, after `repo`


class CampaignAsk(Record):
    """`@honk in … : text`: one request across the repos `selector` reaches (honk.campaigns)."""

    text: str
    selector: RepoSelector
    agent: str | None = None
    model: str | None = None


class Command(Record):
    name: SlackCommandName
    argument: str | None = None


class Problem(Record):
    """Input that cannot be acted on, with what to say back."""

    message: str


Intake = Ask | CampaignAsk | Command | Problem


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
    if (campaign := CAMPAIGN.match(body)) is not None:
        return _campaign(campaign)
    return _ask(body)


# `in every repo …:`, `in all repos …:`, `in repos …:` — what is between it and the first colon selects.
CAMPAIGN = re.compile(
    r"in\s+(?:(?P<every>every\s+repo|all\s+repos)|repos)(?=[\s:])(?P<spec>[^:]*):(?P<text>.*)", re.I | re.S
)
# A language, as people say it, to the file that marks a repo as written in it.
LANGUAGE_FILES = {
    "python": "**/*.py",
    "go": "go.mod",
    "golang": "go.mod",
    "rust": "Cargo.toml",
    "javascript": "package.json",
    "typescript": "package.json",
    "node": "package.json",
    "java": "**/*.java",
    "ruby": "Gemfile",
}
MAX_PATH_CHARS = 200
NAME_GLOB = re.compile(r"[A-Za-z0-9._/*?\[\]!-]{1,200}")  # what a glob on repo names can usefully hold
CAMPAIGN_HOW = (
    "Say which repos before the colon: `@honk in every repo: …`, `in every repo with python: …`, "
    "`in repos api, web: …`, `in repos matching svc-*: …`, or `in repos with requirements.txt containing requests: …`."
)


def _campaign(found: re.Match[str]) -> Intake:
    """A campaign's request: the selector from the words before the colon, the request after it."""
    selector = _selector(found.group("spec"), every=found.group("every") is not None)
    if isinstance(selector, Problem):
        return selector
    text = found.group("text")
    options = {m.group(1): m.group(2) for m in OPTION.finditer(text)}
    if "repo" in options:
        return Problem(message="A campaign's repos are named after `in`, not with `repo=`. " + CAMPAIGN_HOW)
    text = _squash(OPTION.sub(" ", text))
    if not text:
        return Problem(
            message="Say what should change in each repo, after the colon: `@honk in every repo: bump requests to 2.32`."
        )
    if len(text) > MAX_REQUEST_CHARS:
        return Problem(
            message=f"That request is longer than {MAX_REQUEST_CHARS:,} characters; "
            "put the details in a file in each repo and refer to it."
        )
    return CampaignAsk(text=text, selector=selector, agent=options.get("agent"), model=options.get("model"))


def _selector(spec: str, every: bool) -> RepoSelector | Problem:
    """`with python`, `with PATH [containing WORD]`, `matching GLOB` in any order; after `in repos`, names
    too ("api, web and worker"). A word that is none of these says what was not understood."""
    words = [w.strip("`'\"“”‘’") for w in spec.split()]
    names: list[str] = []
    glob = path = content = None
    i = 0
    while i < len(words):
        word, value = words[i].lower(), words[i + 1] if i + 1 < len(words) else ""
        if word in ("matching", "with", "containing"):
            if not value:
                return Problem(message=f"`{word}` needs something after it. " + CAMPAIGN_HOW)
            if word == "matching":
                if glob is not None:
                    return Problem(message=f"Only one `matching`: {glob!r} and {value!r}.")
                glob = value
            elif word == "with":
                if path is not None:
                    return Problem(message=f"Only one `with`: {path!r} and {value!r}.")
                path = LANGUAGE_FILES.get(value.lower(), value)
            else:
                if path is None:
                    return Problem(message="`containing` follows a file: `with requirements.txt containing requests`.")
                if len(value) > MAX_PATH_CHARS or not value.isprintable():
                    return Problem(message=f"{value[:MAX_PATH_CHARS]!r} is not text a file could contain.")
                content = re.escape(value)  # the word as typed, not a regular expression
            i += 2
        else:
            if every:
                return Problem(message=f"After `in every repo`, I did not understand {words[i]!r}. " + CAMPAIGN_HOW)
            names.append(words[i])
            i += 1
    if path is not None and (len(path) > MAX_PATH_CHARS or not path.isprintable()):
        return Problem(message=f"{path[:MAX_PATH_CHARS]!r} is not a file path a repo could have.")
    if not every and not names and glob is None and path is None:
        return Problem(message=CAMPAIGN_HOW)
    try:
        named = parse_selector(" ".join(names)) if names else RepoSelector()
    except ValueError as e:
        return Problem(message=f"{e} {CAMPAIGN_HOW}")
    if named.glob is not None and glob is not None:
        return Problem(message=f"Only one name glob: {named.glob!r} and {glob!r}.")
    glob = named.glob or glob
    if glob is not None and not NAME_GLOB.fullmatch(glob):
        return Problem(
            message=f"{glob[:MAX_PATH_CHARS]!r} is not a pattern of repo names (letters, digits, ._-/ and *?[]!)."
        )
    if named.path is not None:  # `files:…` typed among the names: the Slack way is `with PATH`
        return Problem(message=f"Name the files with `with PATH`. {CAMPAIGN_HOW}")
    return RepoSelector(names=named.names, glob=glob, path=path, content=content)


def _ask(body: str) -> Intake:
    best = BEST_OF.match(body)
    if best:
        body = body[best.end() :]
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
    if best and across:  # each attempt is one task in one repo; a change across repos is one task
        return Problem(message="Best of N works on one repo; ask `best of N:` or `across …:`, not both.")
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
        attempts=int(best.group(1)) if best else 0,
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
• `@honk in every repo with python: <what should change>` — a campaign: the change in many repos, one message \
here keeps count (`in repos api, web: …`, `in repos matching svc-*: …`, `in repos with FILE containing WORD: …`)
• `@honk best of 3: <what should change>` — three independent attempts, ranked; you pick one (each costs a task)
• `@honk across api, web: <what should change>` — one change in several repos, one pull request each
• reply in a task's thread — a follow-up on the same branch (start with `{aside}` to talk without instructing)
• `@honk use REPO` — this channel's default repo
• `@honk list` — your tasks · `@honk status` — this channel's tasks · `@honk help` — this message"""
