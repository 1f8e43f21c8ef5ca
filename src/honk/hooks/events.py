"""What a forge's webhook says, as typed records: the few facts Honk acts on (which repo, who, which pull
request or issue, which commit, what was written, whether Honk was mentioned), every string bounded.

The parsers (honk.hooks.github, honk.hooks.gitlab) make these from a delivery's JSON, and never trust
it: whatever a field holds, a record comes out with bounded, printable fields, or `Ignored` saying why.
Text written on the forge is anyone's words: it travels here as data, and whoever shows it to an agent
fences it as untrusted input (the same bounds as Slack thread context)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Discriminator, Field, Tag

from honk.domain import (
    Carried,
    CommentTarget,
    ForgeEventKind,
    ForgeKind,
    PullRequestAction,
    ReviewVerdict,
)

MAX_TEXT = 16_000  # a comment's or review's text: what a Slack thread's quote keeps (honk.slack.thread.MAX_CHARS)
MAX_NAME = 200  # a repo's full name (GitLab groups nest), a login, a branch, a check's name
MAX_URL = 2_000  # honk.domain.MAX_URL_CHARS
MAX_SHA = 64  # SHA-256 object names are 64 hex digits
MAX_PATH = 1_000  # a review comment's file
MAX_REASON = 300


class ForgeEventBase(Carried):
    """What every forge event says: where it happened and who did it. `by_bot`: the forge says the
    actor is a bot (Honk itself among them): its words are never instructions, and never start a loop."""

    forge: ForgeKind
    repo: str = Field(max_length=MAX_NAME)  # `owner/name`, GitLab's `group/sub/name`
    actor: str = Field(default="", max_length=MAX_NAME)  # the forge login; "" when the forge did not say
    by_bot: bool = False
    url: str = Field(default="", max_length=MAX_URL)  # where a person sees it on the forge


class Comment(ForgeEventBase):
    """A new comment on an issue, a pull request, or a commit. `mentioned`: it names Honk's handle."""

    kind: ForgeEventKind = "comment"
    on: CommentTarget
    number: int | None = None  # the or pull request's number (GitLab: its iid); None on a commit
    head_sha: str = Field(default="", max_length=MAX_SHA)  # when the forge says (GitLab notes on an MR do)
    text: str = Field(max_length=MAX_TEXT)
    truncated: bool = False
    mentioned: bool = False
    comment_id: int | None = None  # the forge's id of the comment (left out of the context it is quoted in)


class Review(ForgeEventBase):
    """A submitted pull request review: its verdict and its summary text (its line comments come as
    `ReviewComment`s)."""

    kind: ForgeEventKind = "review"
    number: int
    verdict: ReviewVerdict
    head_sha: str = Field(default="", max_length=MAX_SHA)
    text: str = Field(default="", max_length=MAX_TEXT)
    truncated: bool = False
    mentioned: bool = False
    review_id: int | None = None  # whose line comments make the follow-up
    head_branch: str = Field(default="", max_length=MAX_NAME)


class ReviewComment(ForgeEventBase):
    """A comment on a line of a pull request's diff."""

    kind: ForgeEventKind = "review_comment"
    number: int
    path: str = Field(default="", max_length=MAX_PATH)
    line: int | None = None
    head_sha: str = Field(default="", max_length=MAX_SHA)
    text: str = Field(max_length=MAX_TEXT)
    truncated: bool = False
    mentioned: bool = False
    comment_id: int | None = None  # what a reply ("done in abc123") answers
    in_reply_to: int | None = None


class ChecksFailed(ForgeEventBase):
    """A check run, check suite, Actions workflow run or GitLab pipeline that completed and failed on
    `head_sha`. `numbers`: the pull requests it ran for, when the forge says."""

    kind: ForgeEventKind = "checks_failed"
    source: str = Field(max_length=40)  # "check_run", "check_suite", "workflow_run", "pipeline"
    name: str = Field(default="", max_length=MAX_NAME)
    conclusion: str = Field(max_length=40)  # "failure", "timed_out", GitLab's "failed"
    head_sha: str = Field(max_length=MAX_SHA)
    branch: str = Field(default="", max_length=MAX_NAME)
    numbers: list[int] = Field(default=[], max_length=20)
    run_id: int | None = None  # where the failing job's log is fetched from (a run, a suite, a pipeline)


class ChecksPassed(ForgeEventBase):
    """A check suite, Actions workflow run or GitLab pipeline that completed and passed on `head_sha`: what
    tells people that Honk's fix made CI green. A single check run passing is not read: it says nothing of
    the rest of CI on that commit."""

    kind: ForgeEventKind = "checks_passed"
    source: str = Field(max_length=40)  # "check_suite", "workflow_run", "pipeline"
    name: str = Field(default="", max_length=MAX_NAME)
    head_sha: str = Field(max_length=MAX_SHA)
    branch: str = Field(default="", max_length=MAX_NAME)
    numbers: list[int] = Field(default=[], max_length=20)


class PullRequestChanged(ForgeEventBase):
    """A pull request (merge request) opened, given new commits, or closed (`merged` says whether)."""

    kind: ForgeEventKind = "pull_request"
    action: PullRequestAction
    number: int
    head_sha: str = Field(default="", max_length=MAX_SHA)
    head_branch: str = Field(default="", max_length=MAX_NAME)
    base_branch: str = Field(default="", max_length=MAX_NAME)
    merged: bool = False
    title: str = Field(default="", max_length=MAX_NAME * 5)


class Pushed(ForgeEventBase):
    """Commits pushed to a branch (or a tag): what main moving looks like."""

    kind: ForgeEventKind = "push"
    ref: str = Field(max_length=MAX_NAME + 20)
    before: str = Field(default="", max_length=MAX_SHA)
    after: str = Field(default="", max_length=MAX_SHA)
    commits: int = 0  # how many the forge listed (GitHub lists at most 20, GitLab 20)

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None


def _kind(value: object) -> object:
    return value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)


# A record's `kind` says which it is (in workflow history, and wherever it is read back from JSON).
ForgeEvent = Annotated[
    Annotated[Comment, Tag("comment")]
    | Annotated[Review, Tag("review")]
    | Annotated[ReviewComment, Tag("review_comment")]
    | Annotated[ChecksFailed, Tag("checks_failed")]
    | Annotated[ChecksPassed, Tag("checks_passed")]
    | Annotated[PullRequestChanged, Tag("pull_request")]
    | Annotated[Pushed, Tag("push")],
    Discriminator(_kind),
]


class Ignored(Carried):
    """A delivery of a kind Honk knows that asks nothing of it (an edited comment, one passing check run),
    or that could not be read; `reason` says which, for the log."""

    reason: str = Field(max_length=MAX_REASON)


# -- helpers the parsers share: whatever the JSON holds, a bounded value comes out ------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_of(value: object, cap: int = MAX_TEXT) -> tuple[str, bool]:
    """A text field: a string with control characters (but tabs and newlines) taken out, and its end cut
    at `cap` (where a comment's request usually is not: its beginning is kept); and whether it was cut."""
    if not isinstance(value, str):
        return "", False
    clean = _CONTROL.sub("", value)
    if len(clean) <= cap:
        return clean, False
    return clean[: cap - 1] + "…", True


def name_of(value: object, cap: int = MAX_NAME) -> str:
    """A one-line name (a login, a repo, a branch): printable, no spaces, bounded; "" otherwise."""
    if not isinstance(value, str) or len(value) > cap or not value.isprintable() or not value.strip():
        return ""
    return value.strip() if " " not in value.strip() else ""


def title_of(value: object, cap: int = MAX_NAME * 5) -> str:
    """A one-line title: newlines and control characters become spaces, bounded."""
    if not isinstance(value, str):
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in value[: cap * 2]).split())[:cap]


def sha_of(value: object) -> str:
    return value.lower() if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{7,64}", value) else ""


def url_of(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL or not value.startswith(("https://", "http://")):
        return ""
    return value if value.isprintable() and " " not in value else ""


def number_of(value: object) -> int | None:
    """A positive integer id (an issue's number, a line); JSON's bools and floats are not numbers here."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**53:
        return value
    return None


def field(obj: object, *path: str) -> object:
    """`obj[path[0]][path[1]]…`, or None the moment something along the way is not an object."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def mentions(text: str, handle: str) -> bool:
    """Whether `text` names `@handle` as a word (not inside an email address, a path, a longer login,
    or a code span copied from somewhere)."""
    if not handle:
        return False
    prose = re.sub(r"```.*?(```|$)|`[^`\n]*`", " ", text, flags=re.DOTALL)  # quoted code mentions nobody
    pattern = rf"(?<![\w@/.\-])@{re.escape(handle)}(?![\w\-]|\.\w)"
    return re.search(pattern, prose, flags=re.IGNORECASE) is not None
