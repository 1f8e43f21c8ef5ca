"""Typed records that cross Honk's boundaries (front doors, workflow, activities, store), and the
vocabulary they speak: every name a boundary shares is defined here, once."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, LiteralString, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

MAX_REQUEST_CHARS = 20_000
MAX_ATTACHMENTS = 10  # files per request (a screenshot or three, a log); more are refused by count
_T = TypeVar("_T")
_N = TypeVar("_N", int, float)

# -- vocabulary ---------------------------------------------------------------------------------
# Where a request came from: a person at a front door, the forge (a comment, a review, a failed check),
# a `[[schedule]]` of the repo's, or a trigger URL (`honk hook create`).
FrontDoor = Literal["api", "cli", "web", "slack", "forge", "schedule", "trigger"]
# Who an audit entry speaks for: a front door, or the worker acting on a task.
Door = Literal["api", "cli", "web", "slack", "forge", "schedule", "trigger", "worker"]
# Why an agent runs: the request, the checks' feedback, a follow-up, main moving under it, a review.
AgentReason = Literal[
    "request", "check_feedback", "follow_up", "main_moved", "review", "plan_revision", "plan_approved", "ci_failure"
]
# What an agent run may do: change the workspace, or only read it and propose a plan.
AgentMode = Literal["edit", "plan"]
# What people ask of a task ("approve": a plan, to be carried out; "revise": a plan, to be redone),
# or of a repo's secrets and the hosts admins allowed it (admins only); "preview_revoke": every signed link
# to a task's preview stops working; "deploy": a merged change to production (when its merger could not, or a
# freeze held it); "revert": a deployed change undone by a revert task.
Action = Literal[
    "request",
    "follow_up",
    "merge",
    "cancel",
    "approve",
    "revise",
    "secret_set",
    "secret_list",
    "secret_remove",
    "network_allow",
    "network_list",
    "network_remove",
    "preview_revoke",
    "deploy",
    "revert",
    "schedule_sync",
    "schedule_pause",
    "schedule_resume",
    "schedule_run",
    "schedule_delete",
    "trigger_create",
    "trigger_delete",
]
SECRET_ACTIONS: tuple[Action, ...] = ("secret_set", "secret_list", "secret_remove")
NETWORK_ACTIONS: tuple[Action, ...] = ("network_allow", "network_list", "network_remove")
# A repo's [[schedule]] entries as Temporal runs them, and its trigger URLs: each starts tasks on its own.
SCHEDULE_ACTIONS: tuple[Action, ...] = (
    "schedule_sync",
    "schedule_pause",
    "schedule_resume",
    "schedule_run",
    "schedule_delete",
)
TRIGGER_ACTIONS: tuple[Action, ...] = ("trigger_create", "trigger_delete")
# What only a repo's admins (the access policy's `admins`) may do.
ADMIN_ACTIONS: tuple[Action, ...] = SECRET_ACTIONS + NETWORK_ACTIONS + SCHEDULE_ACTIONS + TRIGGER_ACTIONS
# What the audit log records: what people ask, and what the worker refused on a task's behalf.
AuditAction = Literal[Action, "sandbox", "setup_network", "agent_tool", "network"]
# "failed": something done on a person's behalf did not work (a deploy whose command or health check failed).
AuditOutcome = Literal["ok", "refused", "violation", "allowed", "failed"]
# What the sandbox refused, and which kind of process it was running.
ViolationKind = Literal["write_outside", "hidden_path", "network", "process_limit", "memory_limit", "time_limit"]
SandboxMode = Literal["bwrap", "off"]
# What a confined process may reach: nothing, the model API (through the key proxy Honk binds in),
# or the worker's whole network (a repo's setup, when the operator allows it).
Network = Literal["none", "model", "full"]
# Where in a task's route a confined process runs: each has its own network allowance (`[network]`)
# and its own secrets (`[[secrets]]`). Setup runs the target branch before the agent; deploy, what was
# merged; every other phase runs code the agent may have written.
Phase = Literal["setup", "agent", "check", "build", "preview", "deliver", "deploy"]
PHASES: tuple[Phase, ...] = get_args(Phase)  # in the order a task runs them
# The phases whose code the agent cannot have changed, and whose output never goes back to it: the only
# ones a secret is given to as a variable.
TRUSTED_PHASES: tuple[Phase, ...] = ("setup", "deploy")
HttpMethod = Literal["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
# A read: what the agent, checks, builds and previews may do to a host unless `[[network.allow]]` says
# more (git's fetch, a POST to `…/git-upload-pack`, reads too).
READ_METHODS: tuple[HttpMethod, ...] = ("GET", "HEAD", "OPTIONS")
# Why Honk's egress proxy refused a request.
BlockReason = Literal[
    "not_allowed", "method", "ip_literal", "private_address", "sni_mismatch", "not_tls", "port", "unresolved"
]
LogFormat = Literal["text", "json"]
ForgeKind = Literal["github", "gitlab"]
MergeMode = Literal["merge", "fast-forward"]
# How a waiting task brings in its moved target (`[merge] update`; issue 19, part D): a merge, or a rebase.
UpdateMode = Literal["merge", "rebase"]
MergeMethod = Literal["merge", "squash", "rebase"]
# Why a forge refused a merge, for a workflow that wants to react (wait for checks, re-push...).
RefusalReason = Literal["checks", "review", "head_changed", "conflict", "draft", "closed", "other"]
# A task's pull request as the forge shows it ("none": the repo has no forge, or no pull request yet).
PullRequestStatus = Literal["none", "open", "closed", "merged"]
# What a merge came to: landed, or why not (the task goes back to the agent or to review).
LandStatus = Literal["merged", "conflict", "checks_failed", "kept_moving", "refused"]
SlackCommandName = Literal["help", "list", "status", "use"]
# What Honk makes of a file that came with a request: an image the model sees, or text it reads.
AttachmentKind = Literal["image", "text"]
# Who a repo's table in the access policy names: who may request, merge, and manage its secrets.
PolicyPeople = Literal["requesters", "mergers", "admins"]
# Where a task stands on a step of its route (`honk.route`); Slack's task cards use the same four.
StepStatus = Literal["pending", "in_progress", "complete", "error"]
# Whether a task's progress streams in its Slack thread where the workspace allows it (`auto`), or is
# always the one status message updated in place (`off`).
SlackStreaming = Literal["auto", "off"]
# A task's streamed message: none open (`idle`), a start on its way, open, or given up for the task
# (`fallback`: its status message says where it is instead).
SlackStreamMode = Literal["idle", "starting", "open", "fallback"]


class Record(BaseModel):
    """A typed record that crosses a boundary: frozen, and unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Carried(Record):
    """A record that travels in workflow history (a step's input or result, or part of one). Tasks
    wait for days, across deploys: a field a later version dropped is ignored when an older task's
    history replays (fields are only ever added with defaults)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class TaskState(StrEnum):
    queued = "queued"
    provisioning = "provisioning"
    planning = "planning"  # the agent is reading the repo to propose a plan (it changes nothing)
    plan_ready = "plan_ready"  # a plan waits for a person: approve it, or ask for changes
    working = "working"  # the agent is editing
    verifying = "verifying"
    building = "building"
    ready = "ready"  # delivered, waiting for a person
    merging = "merging"
    merged = "merged"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskState.merged, TaskState.failed, TaskState.cancelled)


def next_state(state: TaskState, event: object) -> TaskState:
    """The one way a task's state changes, in the workflow and in the store. `event` is an event of
    `honk.events` (or, in the workflow, the class of one a step is about to record): its `moves_to`
    says where the task is once it happened, None leaving it where it was. An ended task stays ended."""
    moves_to = getattr(event, "moves_to", None)
    if state.terminal or moves_to is None:
        return state
    if not isinstance(moves_to, TaskState):
        raise TypeError(f"{event!r} names no task state to move to")
    return moves_to


def fold_states(events: Iterable[object], state: TaskState = TaskState.queued) -> TaskState:
    for event in events:
        state = next_state(state, event)
    return state


class ForgeRef(Carried):
    """Where a repo lives on a forge; the credentials are the workers' settings, never stored."""

    kind: ForgeKind
    project: str  # GitHub "owner/name"; GitLab "group/name" or its numeric id
    api_url: str | None = None  # None: github.com's or gitlab.com's API


class RepoRef(Carried):
    name: str
    url: str
    branch: str = "main"
    forge: ForgeRef | None = None  # None: a plain git remote, merged by Honk's own push


class SlackThread(Carried):
    """Where a task talks back in Slack: its thread, the status message updated in place, and who
    asked (the person a streamed message is for: Slack wants them named in a channel)."""

    channel: str
    thread_ts: str
    status_ts: str | None = None
    user_id: str | None = None
    team_id: str | None = None


class StreamCard(Carried):
    """A task card of a streamed message as Honk last sent it. Slack replaces a card's title and
    status, and appends to its details: what was sent of them is counted, never sent twice."""

    title: str
    status: StepStatus
    details: int = 0  # characters of the step's details sent so far


class SlackStream(Carried):
    """A task's progress message streamed in its Slack thread (chat.startStream), as Honk last sent
    it: the plan's title and its cards. Steps numbered below `shown` were shown by earlier messages
    (a stream stops where the task waits for people, and a new one starts when work resumes)."""

    mode: SlackStreamMode = "idle"
    ts: str | None = None
    since: float = 0.0  # when its start was claimed (a start that never reported is retried)
    title: str = ""
    cards: dict[str, StreamCard] = {}
    shown: int = 0


class Attachment(Carried):
    """A file that came with a request, as Honk kept it. The bytes stay in Honk's store (any worker
    reads them there); this record travels with the task."""

    id: str
    name: str  # safe as a file name: no directories, no dot-files
    kind: AttachmentKind
    media_type: str
    size: int
    note: str = ""  # what Honk did to it ("scaled from 4032×3024 to 1568×1176")


class AttachedFile(Record):
    """An attachment as one agent run has it: a file in the run's HOME (the same path inside the
    sandbox and out), and for a text file the extract its prompt quotes."""

    attachment: Attachment
    path: Path
    extract: str | None = None


class RefusedAttachment(Carried):
    """A file Honk did not take, and why, in words for the person who sent it."""

    name: str
    reason: str


class Reverting(Carried):
    """A revert task's subject: the merged commit of task `task_id` that production should lose. Honk makes
    the revert itself (no agent), runs the same checks, and merges it by the same policy — or at once when
    its checks pass, where the repo's `[deploy] revert = "fast-track"`."""

    task_id: str
    commit: str
    target: str


class TaskRequest(Carried):
    """What a front door hands to the workflow: who asked what of which repo."""

    task_id: str
    request_id: str
    repo: RepoRef
    text: str = Field(min_length=1, max_length=MAX_REQUEST_CHARS)
    requested_by: str
    agent: str | None = None
    model: str | None = None
    front_door: FrontDoor = "api"
    slack: SlackThread | None = None
    attachments: list[Attachment] = []
    plan: bool = False  # a plan first, approved by a person before any change is made
    reverts: Reverting | None = None  # a revert task: Honk reverts that commit (no agent runs)
    forge_thread: ForgeThread | None = None  # asked on the forge: where Honk answers there
    origin: Origin | None = None  # started by something other than a person's request: said everywhere
    campaign: str | None = None  # the campaign (its id) this task is one repo of: told when the task moves
    budget_cap: Budget | None = None  # a cap on top of the repo's and the policy's (a campaign's share)
    # Best of N (honk.attempts): the group (`best-<hex>`) this task is attempt `attempt` of `attempts` in; its
    # workflow `attempts-<group>` is told when the task moves. None/0: an ordinary task.
    attempt_group: str | None = None
    attempt: int = 0
    attempts: int = 0
    # One change across several repos (issue 20): the other repos, in the declared merge order after `repo`,
    # the primary (its thread, its branch name, its agent settings). Each gets a workspace on the same
    # branch name, the agent sees them all, each gets its own pull request; empty for a one-repo task.
    also: list[RepoRef] = []

    @property
    def repos(self) -> list[RepoRef]:
        """Every repo of the task, the primary first, in the order they merge."""
        return [self.repo, *self.also]

    def repo_named(self, name: str) -> RepoRef:
        """One of the task's repos by name ("" or the primary's name: the primary)."""
        for repo in self.repos:
            if repo.name == name:
                return repo
        if not name:
            return self.repo
        raise KeyError(f"repo {name!r} is not one of task {self.task_id}'s repos")

    def workspace_key(self, repo: RepoRef) -> str:
        """Where the task's workspace of `repo` lives (a directory name): the primary's is the task id, as for
        every one-repo task; another repo's is `<task>+<repo>`, so no two ever collide."""
        return self.task_id if repo.name == self.repo.name else f"{self.task_id}+{repo.name}"


MAX_PLAN_ITEMS = 30
MAX_PLAN_TEXT = 2_000


def _bounded_items(items: list[str]) -> list[str]:
    return [i.strip()[:MAX_PLAN_TEXT] for i in items if i.strip()][:MAX_PLAN_ITEMS]


class Plan(Carried):
    """What an agent proposes to do before changing anything, for a person to approve. An agent's
    answer is bounded here (a model can return anything), so every page and message can show it."""

    summary: str = Field(max_length=4 * MAX_PLAN_TEXT)
    steps: list[str] = []
    files: list[str] = []  # what it expects to touch
    risks: list[str] = []
    questions: list[str] = []  # open questions for the person approving

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, value: Any) -> Any:
        return value.strip()[: 4 * MAX_PLAN_TEXT] if isinstance(value, str) else value

    @field_validator("steps", "files", "risks", "questions", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return _bounded_items(value)
        return value

    def text(self) -> str:
        """The plan as plain text (markdown lists), for prompts, pull requests and terminals."""
        parts = [self.summary]
        for title, items in (
            ("Steps", self.steps),
            ("Files", self.files),
            ("Risks", self.risks),
            ("Open questions", self.questions),
        ):
            if items:
                numbered = title == "Steps"
                parts.append(
                    f"{title}:\n"
                    + "\n".join(f"{f'{i}.' if numbered else '-'} {item}" for i, item in enumerate(items, 1))
                )
        return "\n\n".join(parts)


# -- a repo's `.honk.toml`: its one schema ---------------------------------------------------------
# Each record below is the file's shape: field aliases are the file's keys, and every field says what
# it must be (`Wanted`), so a problem in a file reads "<key> must be <wanted> (got <value>)", with the
# line (honk.verify.config reads the file). The same records travel in workflow history by their
# field names.


class Wanted:
    """What a `.honk.toml` value must be, in words a person reads in the error about it."""

    def __init__(self, words: str) -> None:
        self.words = words


class NotAKey:
    """Marks a field Honk fills in itself: a file that sets it has an unknown key."""


# The validation context under which a file is read: strict, by the file's keys, nothing unknown.
FROM_FILE = {"honk_file": True}


def _check(ok: bool, words: LiteralString) -> None:
    if not ok:
        raise PydanticCustomError("honk_config", words)


def _non_empty(value: str) -> str:
    _check(bool(value.strip()), "must be a non-empty string")
    return value


def _inside_repo(value: str) -> str:
    # Absolute, home-relative, drive-letter and `..` paths could reach outside the checkout.
    escapes = re.match(r"^([/\\~]|[A-Za-z]:)", value) or ".." in re.split(r"[/\\]", value)
    _check(bool(value.strip()) and not escapes, "must be a relative path inside the repo")
    return value


def _branch(value: str) -> str:
    _check(is_valid_branch_name(value), "must be a valid git branch name")
    return value


def is_valid_branch_name(name: str) -> bool:
    """What `git check-ref-format --branch` accepts, without needing git or a repository (and not
    "@", which git accepts but means HEAD everywhere else)."""
    if not name or name.startswith("-") or name in ("HEAD", "@"):
        return False
    if _BAD_REF_CHARS.search(name) or ".." in name or "@{" in name or "//" in name:
        return False
    if name.startswith("/") or name.endswith("/") or name.endswith("."):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
NonEmpty = Annotated[str, AfterValidator(_non_empty), Wanted("a non-empty string")]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False), Wanted("a positive number")]
InRepo = Annotated[str, AfterValidator(_inside_repo), Wanted("a relative path inside the repo")]
CheckName = Annotated[str, Field(pattern=r"^[a-z0-9_-]+$"), Wanted("made of a-z, 0-9, _ and - only")]
Branch = Annotated[str, AfterValidator(_branch), Wanted("a valid git branch name")]
QueueName = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"),
    Wanted("a task queue name (letters, digits, '.', '_', '-')"),
]


# Host presets a `.honk.toml` (or the operator's ceiling) names instead of listing a registry's CDN
# hosts by hand. A name without a dot is a preset.
NETWORK_PRESETS: dict[str, tuple[str, ...]] = {
    "pypi": ("pypi.org", "files.pythonhosted.org"),
    "npm": ("registry.npmjs.org", "registry.npmjs.com", "registry.yarnpkg.com"),
    "debian": ("deb.debian.org", "security.debian.org", "cdn-fastly.deb.debian.org"),
    "maven": ("repo.maven.apache.org", "repo1.maven.org", "maven.google.com", "dl.google.com"),
    "gradle": (
        "services.gradle.org",
        "downloads.gradle.org",
        "downloads.gradle-dn.com",
        "plugins.gradle.org",
        "plugins-artifacts.gradle.org",
        "repo.maven.apache.org",
        "repo1.maven.org",
        "maven.google.com",
        "dl.google.com",
    ),
    "go": ("proxy.golang.org", "sum.golang.org", "index.golang.org", "storage.googleapis.com"),
    "crates": ("crates.io", "index.crates.io", "static.crates.io", "static.rust-lang.org"),
    "rubygems": ("rubygems.org", "index.rubygems.org", "rubygems.global.ssl.fastly.net"),
    "github-read": (
        "github.com",
        "api.github.com",
        "codeload.github.com",
        "raw.githubusercontent.com",
        "objects.githubusercontent.com",
        "release-assets.githubusercontent.com",
    ),
}
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})+$")


def is_ip_literal(host: str) -> bool:
    """An address written as a host: dotted or bracketed, and the forms resolvers also read as one
    (`2130706433`, `127.1`, `0x7f.1`): no top-level domain is all digits or hex."""
    host = host.strip("[]").lower()
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:]))


def host_entry(value: str) -> str:
    """A preset, or a host name (exact, or `*.` and a domain of two labels or more), with an optional
    port: names, never addresses (a CDN's addresses change; a name is what the TLS handshake proves)."""
    value = value.strip().lower()
    host, _, port = value.partition(":") if value.count(":") == 1 else (value, "", "")
    _check(not (is_ip_literal(host) or value.count(":") > 1 or "[" in value), "must name a host, not an IP address")
    if "." not in host and not port:
        if value not in NETWORK_PRESETS:
            raise PydanticCustomError(
                "honk_config",
                "is not a preset ({presets}), and a host name has a dot",
                {"presets": ", ".join(NETWORK_PRESETS)},
            )
        return value
    _check(bool(_HOST_NAME.match(host)), "must be a host name (exact, or *.example.com), or a preset")
    _check(not port or (port.isdigit() and 0 < int(port) < 65536), "must have a port from 1 to 65535 after the colon")
    return value


HostEntry = Annotated[
    str,
    AfterValidator(host_entry),
    Wanted("a preset (pypi, npm, …) or a host name (exact, or *.example.com; a :port may follow)"),
]
Phases = Annotated[
    list[Phase],
    Field(min_length=1),
    Wanted("a non-empty list of phases (setup, agent, check, build, preview, deliver, deploy)"),
]
SecretName = Annotated[
    str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$"), Wanted("a secret's name: A-Z, 0-9 and _, starting with a letter")
]
VariableName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"), Wanted("a variable name")]
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$"), Wanted("an HTTP header name")]


class NetworkAllow(Carried):
    """`[[network.allow]]`: hosts some phases may reach, with more methods than a read."""

    hosts: Annotated[list[HostEntry], Field(min_length=1), Wanted("a non-empty list of presets and host names")]
    phases: Phases
    methods: Annotated[list[HttpMethod], Wanted('a list of HTTP methods, like ["GET", "POST"]')] = []


class NetworkSettings(Carried):
    """`[network]`: what each phase may reach through Honk's egress proxy (nothing, unless listed here).
    The agent, checks, builds, previews and pre-merge deliveries may only read (GET, HEAD, OPTIONS);
    setup and deploy may use any method on their hosts."""

    setup: Annotated[list[HostEntry], Wanted("a list of presets and host names")] = []
    agent: Annotated[list[HostEntry], Wanted("a list of presets and host names")] = []
    check: Annotated[list[HostEntry], Wanted("a list of presets and host names")] = []
    build: Annotated[list[HostEntry], Wanted("a list of presets and host names")] = []
    preview: Annotated[list[HostEntry], Wanted("a list of presets and host names")] = []
    deliver: Annotated[list[HostEntry], Wanted("a list of presets and host names")] = []
    deploy: Annotated[list[HostEntry], Wanted("a list of presets and host names")] = []
    allow: Annotated[list[NetworkAllow], Wanted("an array of tables, written [[network.allow]]")] = []

    def listed(self, phase: Phase) -> list[str]:
        return list(getattr(self, phase))


# A token the egress proxy mints from a secret, for a tool that would sign its own (honk.minted).
Mint = Literal["app-store-connect"]
MINTS: tuple[Mint, ...] = get_args(Mint)


class SecretUse(Carried):
    """`[[secrets]]`: one of the repo's secrets (`honk secret set`), and how each phase gets it: as an
    HTTP header the egress proxy adds for `hosts` (the sandbox never holds it), or — only for setup and
    deploy, whose code the agent cannot have changed — as a variable. Never for the agent."""

    name: SecretName
    phases: Phases
    hosts: Annotated[list[HostEntry], Wanted("a list of host names")] = []
    header: HeaderName | None = None
    template: Annotated[str, Wanted('a string with {secret} in it, like "Bearer {secret}"')] = "{secret}"
    env: VariableName | None = None
    # The header carries a token minted from the secret (an App Store Connect JWT from the .p8 key), not
    # the secret itself: for tools that sign their own credentials and are given a placeholder key.
    mint: Annotated[Mint, Wanted(", ".join(f'"{m}"' for m in MINTS))] | None = None

    @field_validator("phases")
    @classmethod
    def _not_for_the_agent(cls, phases: list[str]) -> list[str]:
        _check("agent" not in phases, "must not include the agent: the agent never gets a secret")
        return phases

    @field_validator("template")
    @classmethod
    def _has_secret(cls, template: str) -> str:
        _check(template.count("{secret}") == 1, "must contain {secret} once, where the value goes")
        return template

    @model_validator(mode="after")
    def _one_way(self) -> SecretUse:
        if (self.header is None) == (self.env is None):
            raise PydanticCustomError("honk_config", "needs exactly one of header (the proxy adds it) or env")
        if self.header is not None and not self.hosts:
            raise PydanticCustomError("honk_config", "needs hosts: the only hosts its header is sent to")
        if self.mint is not None and self.header is None:
            raise PydanticCustomError(
                "honk_config", 'mints a token for a header: give it header = "Authorization" and hosts'
            )
        untrusted = [p for p in self.phases if p not in TRUSTED_PHASES]
        if self.env is not None and untrusted:
            raise PydanticCustomError(
                "honk_config",
                "is given as a variable, which only setup and deploy may hold (not {phases}: they run code "
                "the agent wrote); give those phases a header instead",
                {"phases": ", ".join(untrusted)},
            )
        return self


class SecretInfo(Record):
    """One of a repo's secrets as people may see it: its name, and when and by whom it was set. Never
    its value: that goes in once (`honk secret set`) and out only to the egress proxy."""

    name: str
    created_at: datetime
    updated_at: datetime
    updated_by: str


class HostAllowance(Record):
    """A host an admin allowed a repo's phases to reach (`honk network allow`), as people see it: who
    first allowed it and when, and who last added phases to it. Honk keeps it, not the repo's file."""

    host: str  # a preset or a host name (`*.example.com`, a `:port`), as host_entry reads it
    phases: list[Phase]
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class HostAllowed(Record):
    """What allowing a host did: the allowance as it is now, and the phases that were new (none: it had them)."""

    allowance: HostAllowance
    added: list[Phase]


class RepoNetwork(Record):
    """What Honk itself holds of a repo's network (`honk network list`): the hosts admins allowed, and
    the operator's ceiling, which bounds them and the repo's `.honk.toml` alike. The file's `[network]`
    is read per task from the target branch, so it is not here."""

    repo: str
    allowed: list[HostAllowance]
    ceiling: list[str]  # HONK_EGRESS_CEILING
    setup_ceiling: list[str] | None = None  # wider for setup (HONK_SANDBOX_SETUP_NETWORK), else the same


class VerifyCommand(Carried):
    """`[[verify]]`: one of the repo's checks."""

    name: CheckName
    run: NonEmpty
    timeout_s: Seconds = Field(default=600.0, validation_alias="timeout")


class BuildSpec(Carried):
    """`[build]`: how the repo builds the new version of its app."""

    run: NonEmpty
    artifacts: Annotated[list[InRepo], Wanted("an array of globs")] = []
    preview_dir: InRepo | None = Field(default=None, validation_alias="preview")
    timeout_s: Seconds = Field(default=900.0, validation_alias="timeout")


class MergeSettings(Carried):
    """`[merge]`: where a change lands, and how."""

    target: Branch | None = None  # None: the branch the repo was added with
    mode: Annotated[MergeMode, Wanted('"merge" or "fast-forward"')] = "merge"
    # How a waiting task brings in its target when the target moves (issue 19, part D): a merge commit
    # (no history rewritten), or a rebase (pushed with a lease against Honk's last push).
    update: Annotated[UpdateMode, Wanted('"merge" or "rebase"')] = "merge"


class AutofixSettings(Carried):
    """`[autofix]`: how often Honk tries to fix its pull request when the forge's CI fails on it."""

    # Attempts per pull request; 0 turns automatic fixes off (`@honk autofix off` does it for one PR).
    attempts: Annotated[int, Field(ge=0, le=20), Wanted("a whole number from 0 to 20")] = 3


class AgentSettings(Carried):
    """`[agent]`: which agent a repo uses by default, its inputs and its budget."""

    name: NonEmpty | None = None
    model: NonEmpty | None = None
    # `command` agent: argv template; `{prompt}` is replaced by the instructions as one argument.
    command: NonEmpty | None = None
    # `scripted` agent: path (inside the repo) of the scenario file.
    scenario: InRepo | None = None
    # Budgets; None means the server's default.
    timeout_s: Seconds | None = Field(default=None, validation_alias="timeout")
    max_turns: Annotated[int, Field(ge=1), Wanted("a whole number of at least 1")] | None = None
    max_cost_usd: Seconds | None = None
    # Shell commands (prefixes) the agent may run besides Honk's verify tool.
    allow: Annotated[list[NonEmpty], Wanted("a list of command prefixes")] = []
    # Every task of the repo starts with a plan a person approves before any change is made.
    plan: Annotated[bool, Wanted("true or false")] = False

    @field_validator("command")
    @classmethod
    def _has_prompt(cls, command: str | None) -> str | None:
        _check(command is None or "{prompt}" in command, "must contain {prompt}, where the instructions go")
        return command

    @field_validator("allow")
    @classmethod
    def _stripped(cls, allow: list[str]) -> list[str]:
        return [a.strip() for a in allow]

    @property
    def budget(self) -> Budget:
        return Budget(max_turns=self.max_turns, max_cost_usd=self.max_cost_usd, timeout_s=self.timeout_s)


class AttemptsConfig(Carried):
    """`[attempts]`: best of N (`honk ask --attempts N`) in this repo."""

    # Once every attempt settled, the top one is picked by Honk (the others cancelled) when it reached ready;
    # false: the ranking is shown and a person picks. Merging stays the usual merge either way.
    auto_pick: Annotated[bool, Wanted("true or false")] = False


class RepoConfig(Carried):
    """A repo's `.honk.toml` (or what Honk detected from its contents when it has none)."""

    verify: Annotated[list[VerifyCommand], Wanted("an array of tables, written [[verify]]")] = []
    build: Annotated[BuildSpec, Wanted("a table")] | None = None
    # The new version people open: files the build made, or a server Honk runs (see PreviewSpec).
    preview: Annotated[PreviewSpec, Wanted("a table")] | None = None
    # How a merged change reaches production, and how Honk knows it is live (see DeploySpec).
    deploy: Annotated[DeploySpec, Wanted("a table")] | None = None
    # How a green build reaches the phone: an installable app, or the team's upload (see DeliverSpec).
    deliver: Annotated[DeliverSpec, Wanted("a table")] | None = None
    setup: NonEmpty | None = None
    setup_timeout_s: Seconds = Field(default=900.0, validation_alias="setup_timeout")
    # The hosts each phase may reach through Honk's egress proxy, within the operator's ceiling.
    network: Annotated[NetworkSettings, Wanted("a table")] = NetworkSettings()
    secrets: Annotated[list[SecretUse], Wanted("an array of tables, written [[secrets]]")] = []
    # Before `[network]`: the hosts setup needs. Read as `[network] setup` (with it, when both are there).
    setup_network: Annotated[list[HostEntry], Wanted('a list of presets and host names, like ["pypi"]')] = []
    merge: Annotated[MergeSettings, Wanted("a table")] = MergeSettings()
    max_rounds: Annotated[int, Field(ge=1, le=50), Wanted("a whole number from 1 to 50")] | None = None
    agent: Annotated[AgentSettings, Wanted("a table")] = AgentSettings()
    autofix: Annotated[AutofixSettings, Wanted("a table")] = AutofixSettings()
    attempts: Annotated[AttemptsConfig, Wanted("a table")] = AttemptsConfig()
    # The Temporal task queue whose workers do this repo's work (e.g. macOS machines for an Xcode
    # build); None: the server's default queue.
    queue: QueueName | None = None
    # Tasks started on a timer through Temporal schedules (honk.scheduling): `[[schedule]]`.
    schedule: Annotated[list[ScheduleSpec], Wanted("an array of tables, written [[schedule]]")] = []
    # "file" when read from .honk.toml, "detected" when inferred from the repo's contents (not a key of the file).
    source: Annotated[Literal["file", "detected"], NotAKey()] = "detected"

    @field_validator("verify", "secrets", "schedule")
    @classmethod
    def _names_once(
        cls, entries: list[VerifyCommand] | list[SecretUse] | list[ScheduleSpec], info: ValidationInfo
    ) -> list[VerifyCommand] | list[SecretUse] | list[ScheduleSpec]:
        """Each `[[verify]]`, `[[secrets]]` and `[[schedule]]` name once in its array."""
        for i, entry in enumerate(entries):
            for j, earlier in enumerate(entries[:i]):
                if earlier.name == entry.name:
                    raise PydanticCustomError(
                        "honk_config_duplicate",
                        '"{name}" is already used by {field}[{earlier}]',
                        {"index": i, "key": "name", "name": entry.name, "field": info.field_name, "earlier": j},
                    )
        return entries

    def hosts_for(self, phase: Phase) -> list[str]:
        """What `[network]` lists for a phase (and, for setup, the older `setup_network`)."""
        listed = self.network.listed(phase)
        return [*listed, *(h for h in self.setup_network if h not in listed)] if phase == "setup" else listed

    @model_validator(mode="before")
    @classmethod
    def _flat_merge_of_old_histories(cls, data: Any, info: ValidationInfo) -> Any:
        """Tasks started before `[merge]` was a table carry merge_target / merge_mode (a file may not)."""
        from_file = info.context == FROM_FILE
        if isinstance(data, dict) and not from_file and ("merge_target" in data or "merge_mode" in data):
            data = {k: v for k, v in data.items() if k not in ("merge_target", "merge_mode")} | {
                "merge": {"target": data.get("merge_target"), "mode": data.get("merge_mode") or "merge"}
            }
        return data


class CheckResult(Carried):
    name: str
    command: str
    passed: bool
    exit_code: int | None
    timed_out: bool = False
    duration_s: float
    distilled: str = ""  # one line on success; failing ids, file:line, error lines on failure
    log_path: str | None = None


class VerifyReport(Record):
    checks: list[CheckResult] = []
    base_commit: str = ""  # the target-branch commit the verified branch contains
    head_commit: str = ""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def feedback(self) -> str:
        """The distilled failures, as the agent is shown them."""
        failed = [c for c in self.checks if not c.passed]
        return "\n\n".join(f"## {c.name} failed (`{c.command}`)\n{c.distilled}" for c in failed)


class Artifact(Carried):
    name: str
    size: int


DEFAULT_AGENT_TIMEOUT_S = 1800.0


class Budget(Carried):
    """What a task's agent runs may spend, all runs together; None: no limit of that kind."""

    max_turns: int | None = None
    max_cost_usd: float | None = None
    timeout_s: float | None = None

    def or_else(self, fallback: Budget) -> Budget:
        """This budget, with `fallback`'s limit wherever this one sets none."""
        return Budget(
            max_turns=_first(self.max_turns, fallback.max_turns),
            max_cost_usd=_first(self.max_cost_usd, fallback.max_cost_usd),
            timeout_s=_first(self.timeout_s, fallback.timeout_s),
        )

    def capped(self, cap: Budget) -> Budget:
        """The smaller limit of each kind; a cap of None has no opinion."""
        return Budget(
            max_turns=_least(self.max_turns, cap.max_turns),
            max_cost_usd=_least(self.max_cost_usd, cap.max_cost_usd),
            timeout_s=_least(self.timeout_s, cap.timeout_s),
        )


class Spent(Carried):
    """What a task's agent runs have used so far."""

    turns: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def plus(self, turns: int = 0, cost_usd: float | None = None, seconds: float = 0.0) -> Spent:
        return Spent(
            turns=self.turns + turns, cost_usd=self.cost_usd + (cost_usd or 0.0), seconds=self.seconds + seconds
        )


def effective_budget(server: Budget, repo: Budget, cap: Budget, request: Budget | None = None) -> Budget:
    """A task's budget, decided once when it starts: what the request asks, else the repo's
    `.honk.toml`, else the server's defaults — capped by the access policy."""
    return (request or Budget()).or_else(repo).or_else(server).capped(cap)


def remaining(budget: Budget, spent: Spent) -> Budget:
    """What is left for the next agent run (a limit of None stays None)."""
    return Budget(
        max_turns=None if budget.max_turns is None else budget.max_turns - spent.turns,
        max_cost_usd=None if budget.max_cost_usd is None else budget.max_cost_usd - spent.cost_usd,
        timeout_s=None if budget.timeout_s is None else budget.timeout_s - spent.seconds,
    )


def exhausted(left: Budget) -> str | None:
    """Which limit is used up ("turn", "cost", "time"), or None while every one has room."""
    for name, value in (("turn", left.max_turns), ("cost", left.max_cost_usd), ("time", left.timeout_s)):
        if value is not None and value <= 0:
            return name
    return None


def _first(value: _T | None, fallback: _T | None) -> _T | None:
    return fallback if value is None else value


def _least(a: _N | None, b: _N | None) -> _N | None:
    return b if a is None else a if b is None else min(a, b)


class ProcResult(Record):
    """How a program Honk ran ended: its exit code (None when it was stopped), its output's tail."""

    exit_code: int | None
    output: str  # the tail of combined stdout/stderr
    timed_out: bool
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class AgentJob(Carried):
    """What an agent is asked to do in one run. How it may act (its launcher, checks, workspace, the
    model) is not part of the job: the worker hands it over as `AgentTools` for the run."""

    task_id: str
    prompt: str  # the full instructions for this run
    request: str  # the original request, for agents that keep their own context
    reason: AgentReason
    round: int
    invocation: int  # how many agent runs this task had before this one
    model: str | None = None
    # The repo's `[agent]` table, its budget fields holding what is left of the task's budget.
    settings: AgentSettings = AgentSettings()
    session_id: str | None = None  # to resume the agent's own session on follow-ups
    checks: list[VerifyCommand] = []  # the repo's verifiers, named in the agent's brief
    max_gate_rounds: int = 3  # how often a failing check may send the agent back before it stops
    repo: str = ""
    # Set when the target branch conflicts with the task branch: Honk starts that merge, leaving the
    # conflict markers for the agent to resolve; Honk then commits the merge.
    merge_from: str | None = None
    # Files that came with the request and its follow-ups, laid out in the run's HOME (`tools.attachments`
    # says where); `new_attachments`: the ids of those this run's agent has not been shown yet.
    attachments: list[Attachment] = []
    new_attachments: list[str] = []
    # "plan": the workspace is read-only for this run, and the outcome carries the agent's plan.
    mode: AgentMode = "edit"
    attempt: int = 0  # best of N: which attempt of its group the task is (0: not one; the scripted agent's scenario)

    @property
    def timeout_s(self) -> float:
        return self.settings.timeout_s or DEFAULT_AGENT_TIMEOUT_S

    @property
    def budget(self) -> Budget:
        return self.settings.budget


class AgentOutcome(Carried):
    summary: str = ""
    model: str | None = None
    cost_usd: float | None = None
    turns: int = 0
    session_id: str | None = None
    plan: Plan | None = None  # what a run in plan mode proposes


class CheckLine(Carried):
    """A check's latest result, as a reviewer reads it (the task page, Slack, a pull request)."""

    name: str
    passed: bool
    detail: str = ""
    duration_s: float = 0.0

    @classmethod
    def of(cls, result: CheckResult) -> CheckLine:
        detail = "timed out" if result.timed_out else result.distilled
        return cls(name=result.name, passed=result.passed, detail=detail, duration_s=result.duration_s)


class Workspace(Carried):
    """A task's working copy on this worker: a worktree of the repo's mirror, on the task's branch."""

    path: Path
    branch: str
    mirror: Path
    # The commit `ensure` found the worktree at when it checked (the workflow's known head); None when it
    # did not check. Good until something in this step moves HEAD: a forge's publish only pushes it.
    at: str | None = None


class BuildOutcome(Carried):
    ok: bool
    artifacts: list[Artifact] = []
    has_preview: bool = False
    failure: str = ""  # the distilled build log, as the agent is shown it


class Review(Carried):
    """What the test guard found in a change, and the scope judge's verdict on it."""

    guard_findings: list[str] = []
    judge_ok: bool = True
    judge_reason: str = "no judge configured"
    judge_available: bool = True


class PullRequestBody(Record):
    """What a pull request's description tells a reviewer; rendered by `honk.forge.body.render_body`."""

    task_id: str
    title: str
    request: str
    requested_by: str
    summary: str = ""
    checks: list[CheckLine] = []
    guard_findings: list[str] = []
    warnings: list[str] = []
    cost_usd: float | None = None
    task_url: str
    preview_url: str | None = None
    # What came with the request (the Slack thread, screenshots, logs), as the reviewer should know it.
    came_with: list[str] = []
    plan: str = ""  # the approved plan, when the task started with one
    plan_approved_by: str = ""
    # Before/after screenshots of the running preview, served by Honk under `shots_url`.
    shots: list[RouteShots] = []
    shots_url: str = ""
    started_by: str = ""  # what started the task, when no person asked (Origin.detail)
    closes: int | None = None  # the issue it was asked on: "Closes #N" links and closes it on merge
    # One change across several repos (issue 20): how this pull request goes with the others (each repo,
    # its pull request's link once known, the merge order, what this one waits on), one line each.
    across: list[str] = []


class Change(Record):
    """A task's branch as a forge takes it: where it is, where it goes, and how it lands."""

    task_id: str
    repo: RepoRef
    workspace: Workspace
    target: str
    mode: MergeMode = "merge"


class PullRequestState(Carried):
    """What the forge says of the task's pull request (`none`: the repo has no forge, or no PR yet)."""

    state: PullRequestStatus
    number: int = 0
    url: str = ""
    merge_commit: str | None = None


class MergeResult(Carried):
    # "refused": the forge said no (checks pending, review required …); `feedback` says why.
    status: LandStatus
    commit: str = ""
    target: str = ""
    feedback: str = ""
    conflicts: list[str] = []
    base_commit: str = ""


class TaskView(Record):
    """A task as the front doors show it (served from Honk's store, not a workflow query)."""

    id: str
    repo: str
    text: str
    state: TaskState
    requested_by: str
    agent: str | None
    model: str | None
    branch: str
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    merged_commit: str | None = None
    approved_by: str | None = None
    cost_usd: float | None = None
    preview_url: str | None = None
    artifacts: list[Artifact] = []


# -- previews ----------------------------------------------------------------------------------------

PreviewState = Literal["starting", "running", "stopped", "failed"]
# Where a running preview's server listens, inside its sandbox (on the namespace's own loopback, which
# nothing outside can reach): passed as PORT (and HOST) to `[preview] start`.
PREVIEW_PORT = 47200
PREVIEW_HOST = "127.0.0.1"
# Files whose change runs `[preview] install` again (when the repo names none).
DEFAULT_INSTALL_INPUTS = [
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "requirements.txt",
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "Gemfile.lock",
    "go.sum",
    "Cargo.lock",
]
PHONE_VIEWPORT = (390, 844)
DESKTOP_VIEWPORT = (1280, 800)


def _route_path(value: str) -> str:
    _check(
        value.startswith("/") and not value.startswith("//") and "\\" not in value,
        'must be a path such as "/" or "/settings"',
    )
    _check(len(value) <= 500 and value.isprintable() and " " not in value, "must be a short path without spaces")
    return value


RoutePath = Annotated[str, AfterValidator(_route_path), Wanted('a path such as "/" or "/settings"')]


class PreviewSpec(Carried):
    """`[preview]`: the new version people open. A directory the build made (`dir`; served as files),
    or a server Honk runs in the task's sandbox (`start`), proxied to the task's own origin."""

    dir: InRepo | None = None
    install: NonEmpty | None = None  # blocking; run once per workspace, again when `install_inputs` change
    install_inputs: Annotated[list[InRepo], Wanted("a list of files")] = DEFAULT_INSTALL_INPUTS
    install_timeout_s: Seconds = Field(default=900.0, validation_alias="install_timeout")
    start: NonEmpty | None = None  # the long-running server; it gets PORT and HOST
    ready: RoutePath = "/"  # polled until it answers (any status below 500)
    ready_timeout_s: Seconds = Field(default=120.0, validation_alias="ready_timeout")
    routes: Annotated[list[RoutePath], Field(min_length=1, max_length=20), Wanted("a list of 1 to 20 paths")] = ["/"]
    idle_stop_min: Seconds = Field(default=15.0, validation_alias="idle_stop")  # minutes without traffic

    @model_validator(mode="after")
    def _one_kind(self) -> PreviewSpec:
        _check(not (self.dir and self.start), "has both dir and start: a preview is files or a server, not both")
        _check(bool(self.dir or self.start), "needs dir (files the build made) or start (a server to run)")
        return self

    @property
    def running(self) -> bool:
        return self.start is not None


class PreviewEndpoint(Carried):
    """Where the server reaches a running preview: `unix:/path` (the preview's socket, on a machine that
    shares the worker's files) or `tcp:host:port` (a worker's preview gateway; `token` says which)."""

    address: str
    token: str = ""


class PreviewInfo(Record):
    """A task's preview as the store has it (`honk.store.previews`)."""

    task_id: str
    state: PreviewState
    endpoint: PreviewEndpoint | None = None
    worker: str = ""
    detail: str = ""  # why it failed or stopped, with the server log's last lines
    started_at: datetime | None = None
    last_access: datetime | None = None
    link_generation: int = 0  # links signed for an older generation were revoked
    stop_wanted: bool = False
    idle_stop_s: float = 900.0


class PreviewOutcome(Carried):
    """What starting a preview came to: running at `endpoint`, or not, with why and the log's last lines."""

    ok: bool
    endpoint: PreviewEndpoint | None = None
    detail: str = ""
    log_tail: str = ""
    install_ran: bool = False
    duration_s: float = 0.0


class ShotPair(Carried):
    """One route at one viewport: the target branch's version, the task's, and their pixel diff (file
    names in the task's shots directory; None where that side could not be taken)."""

    viewport: str  # "phone" or "desktop"
    before: str | None = None
    after: str | None = None
    diff: str | None = None
    changed: float = 0.0  # the share of pixels that differ, 0..1
    error: str = ""


class RouteShots(Carried):
    route: str
    shots: list[ShotPair] = []

    @property
    def changed(self) -> float:
        return max((s.changed for s in self.shots), default=0.0)


# -- delivery to the phone ------------------------------------------------------------------------

# How a green build reaches a phone (`[deliver] kind`): Honk serves an APK or an .ipa itself, or the team's
# own tool uploads it (TestFlight, Firebase App Distribution, an Expo update, any command) and Honk posts
# the link it gives back.
DeliverKind = Literal["android-apk", "ios-ota", "testflight", "firebase", "expo-update", "command"]
DELIVER_KINDS: tuple[DeliverKind, ...] = get_args(DeliverKind)
ANDROID_APK: DeliverKind = "android-apk"
IOS_OTA: DeliverKind = "ios-ota"
SERVED_KINDS: tuple[DeliverKind, ...] = (ANDROID_APK, IOS_OTA)  # the others run the team's command
# What a delivery came to, as the thread shows it.
DeliveryState = Literal["delivering", "processing", "delivered", "failed"]
# The link each command kind's tool prints, when the command writes none to $HONK_OUTPUT.
KIND_LINKS: dict[DeliverKind, str] = {
    "testflight": r"https://(?:testflight\.apple\.com|appstoreconnect\.apple\.com)/\S+",
    "firebase": r"https://appdistribution\.firebase(?:\.google)?\.com/\S+",
    "expo-update": r"https://(?:u\.)?expo\.dev/\S+",
}
# How people see each kind: the Install button's words (when the team's tool gave none, `label=` in
# $HONK_OUTPUT), and the service's name ("TestFlight is processing the build").
INSTALL_WORDS: dict[DeliverKind, str] = {
    "android-apk": "Install",
    "ios-ota": "Install",
    "testflight": "Open in TestFlight",
    "firebase": "Open in App Distribution",
    "expo-update": "Open in Expo Go",
    "command": "Open",
}
SERVICE_NAMES: dict[DeliverKind, str] = {
    "android-apk": "Honk",
    "ios-ota": "Honk",
    "testflight": "TestFlight",
    "firebase": "Firebase App Distribution",
    "expo-update": "Expo",
    "command": "The delivery service",
}
_BUNDLE_ID = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def _bundle_id(value: str) -> str:
    _check(bool(_BUNDLE_ID.match(value)) and len(value) <= 155, "must be a bundle id like com.example.app")
    return value


def _pattern(value: str) -> str:
    _check(0 < len(value) <= 500, "must be a regular expression of at most 500 characters")
    try:
        compiled = re.compile(value)
    except re.error:
        raise PydanticCustomError("honk_config", "must be a valid regular expression") from None
    _check(compiled.groups <= 1, "may have at most one group: the link (without one, the whole match)")
    return value


BundleId = Annotated[str, AfterValidator(_bundle_id), Wanted("a bundle id like com.example.app")]
LinkPattern = Annotated[str, AfterValidator(_pattern), Wanted("a regular expression")]


class DeliverSpec(Carried):
    """`[deliver]`: how a green build reaches the phone of the person who asked. `android-apk` and
    `ios-ota`: Honk reads the build's `artifact` (a file name or glob among `[build] artifacts`) and
    serves it behind signed, expiring links. The other kinds run `run` (the team's upload command) in the
    deliver phase's sandbox, with its secrets and hosts, and post the link it writes to `$HONK_OUTPUT`
    (`url=…`) or prints (`link_pattern`, or the kind's usual link); `status=processing` there means the
    service is still processing: Honk then runs `wait` every `wait_every` seconds until it writes a link,
    for at most `wait_timeout`. `queue` routes the build and the delivery (never the agent) to the
    workers of that queue (e.g. "macos" for an Xcode build)."""

    kind: Annotated[DeliverKind, Wanted(", ".join(f'"{k}"' for k in DELIVER_KINDS))]
    artifact: InRepo | None = None  # default: the first *.apk (android-apk) or *.ipa (ios-ota)
    bundle_id: BundleId | None = None  # ios-ota: the .ipa must be this app
    run: NonEmpty | None = None
    timeout_s: Seconds = Field(default=900.0, validation_alias="timeout")
    link_pattern: LinkPattern | None = None
    wait: NonEmpty | None = None
    wait_every_s: Seconds = Field(default=60.0, validation_alias="wait_every")
    wait_timeout_s: Seconds = Field(default=1800.0, validation_alias="wait_timeout")
    queue: QueueName | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> DeliverSpec:
        if self.kind in SERVED_KINDS:
            _check(
                self.run is None and self.wait is None,
                "has run or wait, but android-apk and ios-ota are served by Honk from the build's artifact; "
                'use kind = "command" to run your own upload',
            )
        else:
            _check(self.run is not None, "needs run: the command that uploads the build and says where it went")
        _check(
            self.kind != IOS_OTA or self.bundle_id is not None,
            "needs bundle_id for ios-ota: Honk refuses an .ipa that is another app",
        )
        return self

    @property
    def served(self) -> bool:
        return self.kind in SERVED_KINDS

    @property
    def pattern(self) -> str | None:
        return self.link_pattern or KIND_LINKS.get(self.kind)


class DeliveryRefused(Carried):
    """Why an artifact cannot be delivered, said to the person who asked for the change: what is wrong
    and, where it helps, what to do."""

    why: str


class SignatureCheck(Carried):
    """What checking an APK's signature found. `checked`: apksigner ran and gave a verdict; when it did
    not (not installed here, timed out), `why` says so and `verified` is False."""

    checked: bool
    verified: bool
    signer_sha256: str | None = None  # the first signer's certificate, SHA-256, lowercase hex
    schemes: list[str] = []  # the signature schemes apksigner verified: "v1", "v2", "v3", "v4"
    why: str = ""


class AndroidApp(Carried):
    """An APK's identity, from its binary manifest and resources."""

    package: str
    version_name: str
    version_code: int
    label: str
    has_icon: bool = False


class ApkRead(Record):
    """What reading an APK gave: the app, and its launcher icon when it is a PNG (kept beside the file,
    never carried in workflow history)."""

    app: AndroidApp
    icon_png: bytes | None = None
    signed_with: list[str] = []  # the signature schemes present in the file (present, not verified)
    signature: SignatureCheck | None = None  # what apksigner said, once asked


class IosApp(Carried):
    """An `.ipa`'s identity, from `Payload/<name>.app/Info.plist`."""

    bundle_id: str
    version: str  # CFBundleShortVersionString
    build: str  # CFBundleVersion
    title: str  # CFBundleDisplayName, else CFBundleName


class DeliveredApp(Carried):
    """What the install page shows about one delivered file of a task."""

    task_id: str
    name: str  # the file's name among the task's artifacts
    kind: str  # ANDROID_APK or IOS_OTA
    title: str
    version: str
    build: str
    size: int
    sha256: str
    bundle_id: str = ""  # iOS: what manifest.plist names (Android: the package)
    signature: SignatureCheck | None = None  # Android only


class ArtifactGrant(Record):
    """A valid artifact link: which task's file it opens, and until when."""

    task_id: str
    name: str
    digest: str  # the start of the file's SHA-256 when the link was made
    expires: float  # seconds since the epoch


class ArtifactLinkRefused(Record):
    """Why an artifact link does not open its file, said to whoever holds it."""

    why: str


class DeliverJob(Carried):
    """One delivery of a green build: the repo's `[deliver]` (and its `[network]`/`[[secrets]]` for the
    deliver phase), the task's workspace after the build, and the build's artifacts on this worker."""

    task_id: str
    repo: RepoRef
    config: RepoConfig
    workspace: Workspace
    artifacts_dir: str  # `<artifacts>/<task>`: the files `[build] artifacts` kept
    request: str  # what was asked: the release notes' first line
    summary: str = ""  # what the agent did: the rest of the release notes
    branch: str = ""  # the task's branch (`honk/<task>`); `eas update --branch` gets `honk-<task>`

    @property
    def spec(self) -> DeliverSpec:
        if self.config.deliver is None:
            raise ValueError(f"{self.repo.name}'s .honk.toml has no [deliver]")
        return self.config.deliver


class DeliveryOutcome(Carried):
    """What a delivery came to, as the thread and the task page show it. "delivered": `url` opens it (an
    install page, TestFlight, Firebase, Expo); "processing": the service is not done yet (`[deliver] wait`
    is asked again later); "failed": `why` says what to fix, `detail` has the distilled log."""

    state: DeliveryState
    kind: DeliverKind
    url: str | None = None
    label: str = ""  # the button's words ("Install", "Open in TestFlight"); empty: the kind's
    title: str = ""  # the app's name, version and build, where known
    version: str = ""
    build: str = ""
    expires_at: datetime | None = None  # when Honk's own links stop working (served kinds)
    why: str = ""
    detail: str = ""
    message: str = ""  # what the team's tool said for people (`message=` in $HONK_OUTPUT)
    log_path: str | None = None
    signature: SignatureCheck | None = None


# -- production after merge ------------------------------------------------------------------------

# What a deploy came to, step by step: running the repo's command (or waiting for the forge's), then
# the health check. "deployed": the command (or the forge) said it is done, health not yet known.
DeployState = Literal["deploying", "deployed", "live", "deploy_failed", "health_failed"]
DEPLOY_ENDED: tuple[DeployState, ...] = ("live", "deploy_failed", "health_failed")
# How a failed deploy is undone: a revert task through the same checks and merge policy ("task"), or
# one that merges as soon as its checks pass ("fast-track").
RevertMode = Literal["task", "fast-track"]
# What a forge says a merged commit reached: a commit status (or check) by its context, or a deployment
# to an environment.
WaitKind = Literal["status", "deployment"]
WAIT_KINDS: tuple[WaitKind, ...] = get_args(WaitKind)
MAX_URL_CHARS = 2_000
_WAIT_FOR = re.compile(r"^(?P<kind>[a-z]+):(?P<name>.+)$", re.DOTALL)


def _http_url(value: str) -> tuple[str, str, int | None]:
    """An http(s) URL's scheme, host and port; a honk_config error when it is not one."""
    _check(len(value) <= MAX_URL_CHARS and value.isprintable() and " " not in value, "must be a URL without spaces")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise PydanticCustomError("honk_config", "must be an http:// or https:// URL with a valid port") from None
    _check(parts.scheme in ("http", "https") and bool(parts.hostname), "must be an http:// or https:// URL")
    return parts.scheme, parts.hostname or "", port


def _live_url(value: str) -> str:
    _http_url(value)
    return value


def is_url(value: str) -> bool:
    """Whether a `[deploy] health` names a URL (fetched) rather than a command (run)."""
    return value[:8].lower().startswith(("http://", "https://"))


def _health_target(value: str) -> str:
    """A URL (`http://` or `https://`: fetched through the egress proxy) or else a command."""
    if not is_url(value):
        return _non_empty(value)
    _, host, _ = _http_url(value)
    _check(
        "@" not in urlsplit(value).netloc,
        'must not hold a user or password: give the check a header with [[secrets]] (phases = ["deploy"])',
    )
    _check(
        not is_ip_literal(host),
        "must name a host, not an IP address: the health check goes through Honk's egress proxy, which "
        "reaches host names only (never loopback, private or cloud metadata addresses)",
    )
    _check(bool(_HOST_NAME.match(host)) and not host.startswith("*."), "must name a host such as app.example.com")
    return value


def _wait_for(value: str) -> str:
    found = _WAIT_FOR.match(value)
    _check(
        found is not None and found["kind"] in WAIT_KINDS,
        'must be "status:<context>" (a commit status or check on the merged commit, like '
        '"status:deploy/production") or "deployment:<environment>" (like "deployment:production")',
    )
    assert found is not None
    name = found["name"]
    _check(
        name == name.strip() and len(name) <= 200 and name.isprintable(),
        "must name its status context or environment after the colon: at most 200 printable characters, "
        "no leading or trailing spaces",
    )
    return value


LiveUrl = Annotated[str, AfterValidator(_live_url), Wanted("an http:// or https:// link")]
HealthTarget = Annotated[
    str, AfterValidator(_health_target), Wanted("a URL (http:// or https://, fetched) or a command (run)")
]
WaitFor = Annotated[str, AfterValidator(_wait_for), Wanted('"status:<context>" or "deployment:<environment>"')]


class Awaited(Carried):
    """`[deploy] wait_for`, read: what the forge must say of the merged commit on the target branch."""

    kind: WaitKind
    name: str  # the status context ("deploy/production") or the environment ("production")


class HealthCheck(Carried):
    """A deploy's health check as the deployer runs it: a URL fetched through the egress proxy (any 2xx
    passes) or a command run in the deploy sandbox (exit 0 passes), tried until it passes or
    `timeout_s` ends."""

    url: str | None = None
    run: str | None = None
    timeout_s: float = 300.0

    @model_validator(mode="after")
    def _one_kind(self) -> HealthCheck:
        if (self.url is None) == (self.run is None):
            raise ValueError("a health check is a URL or a command")
        return self


class DeploySpec(Carried):
    """`[deploy]`: how a merged change reaches production, and how Honk knows it is live. The repo's own
    command (`run`: sandboxed in the deploy phase, with the secrets and hosts `[[secrets]]` and
    `[network] deploy` give it) or the forge's word (`wait_for`); then, optionally, `health`: a URL or a
    command, tried until it passes or `health_timeout` ends. `url` is the "live in production" link."""

    run: NonEmpty | None = None
    wait_for: WaitFor | None = None
    health: HealthTarget | None = None
    health_timeout_s: Seconds = Field(default=300.0, validation_alias="health_timeout")
    timeout_s: Seconds = Field(default=900.0, validation_alias="timeout")
    url: LiveUrl | None = None
    revert: Annotated[RevertMode, Wanted('"task" or "fast-track"')] = "task"

    @model_validator(mode="after")
    def _one_way(self) -> DeploySpec:
        _check(
            not (self.run and self.wait_for),
            "has both run and wait_for: Honk runs the repo's deploy command or waits for the forge's deploy, not both",
        )
        _check(
            bool(self.run or self.wait_for),
            'needs run (the command that deploys) or wait_for ("status:<context>" or "deployment:<environment>")',
        )
        return self

    @property
    def awaited(self) -> Awaited | None:
        if self.wait_for is None:
            return None
        kind, _, name = self.wait_for.partition(":")
        return Awaited(kind=kind, name=name)  # type: ignore[arg-type]  # the validator checked the kind

    @property
    def health_check(self) -> HealthCheck | None:
        if self.health is None:
            return None
        url = is_url(self.health)
        return HealthCheck(
            url=self.health if url else None, run=None if url else self.health, timeout_s=self.health_timeout_s
        )


class DeployJob(Carried):
    """One deploy of a merged change: the repo's `.honk.toml` as merged (its `[deploy]`, `[network]`
    and `[[secrets]]`), and a checkout of the merged commit to run it from."""

    task_id: str
    repo: RepoRef
    config: RepoConfig
    commit: str
    target: str  # the branch it was merged to
    workspace: Workspace
    by: str = ""  # who merged it (or asked for the deploy)

    @property
    def spec(self) -> DeploySpec:
        if self.config.deploy is None:
            raise ValueError(f"{self.repo.name}'s .honk.toml has no [deploy]")
        return self.config.deploy


class HealthOutcome(Carried):
    """What a health check came to: passed, or not, with the last answer it got (a status and the first
    line of the body, the command's distilled output, or why the egress proxy refused it)."""

    passed: bool
    attempts: int = 0
    answer: str = ""
    refused: bool = False  # the egress policy refused it: asking again could not pass
    duration_s: float = 0.0


class DeployOutcome(Carried):
    """A deploy step's result, as the thread and the task page show it. From the deploy command:
    "deployed" or "deploy_failed" (`detail`: its distilled log); from the health check: "live" or
    "health_failed" (`detail`: the last answer)."""

    state: DeployState
    commit: str
    detail: str = ""
    url: str | None = None  # the "live in production" link (`[deploy] url`)
    health: HealthOutcome | None = None
    log_path: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state in ("deployed", "live")


class DeployRecord(Record):
    """One deploy as the history keeps it (`honk.store.deploys`; `honk deploys REPO`)."""

    id: int
    repo: str
    task_id: str | None
    commit: str
    by: str
    started_at: datetime
    finished_at: datetime | None = None
    state: DeployState
    link: str | None = None
    detail: str = ""


# -- issue 18, part B (forge-deploy): what a forge says of a merged commit for `[deploy] wait_for` --------

# "pending": not yet (nothing reported, or still running: ask again); "success" / "failure": the forge's
# verdict; "unsupported": this forge cannot answer here (a plain git remote, or a token that may not read
# statuses or deployments): stop waiting, and say `detail`.
ForgeDeployStatus = Literal["pending", "success", "failure", "unsupported"]


class ForgeDeployState(Carried):
    """What the forge says of `commit` for an `Awaited` (`[deploy] wait_for`): the status or check with
    that context, or the newest deployment of that commit to that environment. `url` is the target or
    environment link the forge gave (http(s) only), `detail` its description, both bounded. `problem`:
    the forge could not be asked this time (unreachable, an answer Honk could not read), with `status`
    "pending" when asking again may help."""

    status: ForgeDeployStatus
    commit: str
    url: str | None = None
    detail: str = ""
    problem: str = ""

    @property
    def ended(self) -> bool:
        return self.status != "pending"


# -- issue 19, part A (hooks-intake): what a forge's signed webhook says, typed (honk.hooks) -------------

# What a forge event is about: a comment (on an issue, a pull request, a commit), a submitted review, a
# review's line comment, a failed check run / suite / workflow / pipeline, a passed check suite / workflow /
# pipeline, a pull request that moved, a push.
ForgeEventKind = Literal[
    "comment", "review", "review_comment", "checks_failed", "checks_passed", "pull_request", "push"
]
# Where a comment was made (GitLab's notes can be on a commit or a snippet too).
CommentTarget = Literal["issue", "pull_request", "commit", "snippet"]
# What happened to a pull request (a GitLab merge request's `open` / `update` / `close` / `merge` map here).
PullRequestAction = Literal["opened", "synchronize", "closed"]
# What a submitted review says (GitHub's own words, lower case; GitLab has no review event).
ReviewVerdict = Literal["approved", "changes_requested", "commented", "dismissed"]
# A delivery as honk.store.deliveries keeps it: stored, its workflow started, its workflow done with it.
HookDeliveryState = Literal["received", "started", "handled"]


# -- issue 19: the forge as a front door, schedules and triggers --------------------------------------------

# What started a task that no person asked for at a front door (said in its thread and pull request).
OriginKind = Literal["mention", "review", "ci_failure", "main_moved", "schedule", "trigger", "campaign"]
# What a forge says of a check on a commit: its verdict, still running, or nothing of that name there.
CheckConclusion = Literal["success", "failure", "pending", "none"]
MAX_FORGE_TEXT = 16_000  # a comment's text, as honk.hooks.events and a Slack thread's quote keep it
MAX_THREAD_COMMENTS = 50  # honk.slack.thread.MAX_MESSAGES
MAX_JOB_LOG = 200_000  # a failing job's log as fetched (distilled afterwards: honk.verify)


class ForgeThread(Carried):
    """Where on the forge a task was asked for, and where Honk answers: an issue or a pull request
    (`number`: GitLab's iid), and the comment that asked, when one did."""

    forge: ForgeKind
    repo: str = Field(max_length=200)  # the forge's full name: `owner/name`, GitLab's `group/sub/name`
    number: int
    pull_request: bool
    comment_id: int | None = None
    url: str = Field(default="", max_length=MAX_URL_CHARS)


class Origin(Carried):
    """What started a task when no person asked at a front door: a forge event, a schedule, a trigger.
    `detail` is one line a person reads ("schedule nightly-deps of calc", "CI failed: test (3.11)")."""

    kind: OriginKind
    detail: str = Field(max_length=300)
    url: str = Field(default="", max_length=MAX_URL_CHARS)


class ThreadComment(Carried):
    """A comment of an issue's or pull request's conversation, as context: anyone's words, bounded."""

    id: int | None = None
    author: str = Field(default="", max_length=200)
    by_bot: bool = False
    text: str = Field(default="", max_length=MAX_FORGE_TEXT)


class Discussion(Carried):
    """An issue or pull request as the forge shows it: what it asks, what was said, and for a pull
    request its branches and head. Every text is the forge's users' words: context, never instructions."""

    number: int
    pull_request: bool
    title: str = Field(default="", max_length=1_000)
    body: str = Field(default="", max_length=MAX_FORGE_TEXT)
    author: str = Field(default="", max_length=200)
    state: str = Field(default="open", max_length=20)  # "open", "closed", "merged"
    url: str = Field(default="", max_length=MAX_URL_CHARS)
    comments: list[ThreadComment] = Field(default=[], max_length=MAX_THREAD_COMMENTS)  # oldest first, the newest kept
    head_sha: str = Field(default="", max_length=64)
    head_branch: str = Field(default="", max_length=200)
    base_branch: str = Field(default="", max_length=200)


class LineComment(Carried):
    """A comment on a line of a pull request's diff: read from a review, or posted by `@honk review`."""

    id: int | None = None
    path: str = Field(max_length=1_000)
    line: int | None = None  # the line in the new file; None: on the file as a whole
    text: str = Field(max_length=MAX_FORGE_TEXT)
    author: str = Field(default="", max_length=200)


class JobLog(Carried):
    """A failing CI job's log as the forge gave it (its end kept within MAX_JOB_LOG)."""

    name: str = Field(max_length=200)
    url: str = Field(default="", max_length=MAX_URL_CHARS)
    log: str = Field(default="", max_length=MAX_JOB_LOG)


# -- issue 19, part B (schedules): `[[schedule]]` in .honk.toml, run by Temporal schedules (honk.scheduling) --

# A cron field's bounds, in order (minute hour day-of-month month day-of-week; 7 is Sunday too).
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
CRON_NAMES = {
    3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
}
CRON_EXAMPLE = '"0 3 * * 1-5" (03:00 UTC, Monday to Friday)'
_CRON_PART = re.compile(r"^(?P<range>\*|[a-z0-9]+(-[a-z0-9]+)?)(/(?P<step>[0-9]+))?$")


def cron_problem(cron: str) -> str | None:
    """What is wrong with a 5-field cron expression (None: nothing), in words that say the fix. Pure: the
    file is refused where it is read, before Temporal is asked for a schedule."""
    fields = cron.split()
    if len(fields) != 5:
        return (
            f"must have 5 fields (minute hour day-of-month month day-of-week) separated by spaces, like "
            f"{CRON_EXAMPLE}; it has {len(fields)}"
        )
    for index, (field, (what, low, high)) in enumerate(zip(fields, CRON_FIELDS, strict=True)):
        for part in field.lower().split(","):
            if (problem := _cron_part_problem(part, index, low, high)) is not None:
                return f"has a bad {what} field {field!r}: {problem}; write it like {CRON_EXAMPLE}"
    return None


def _cron_part_problem(part: str, index: int, low: int, high: int) -> str | None:
    match = _CRON_PART.match(part)
    if match is None:
        return "use numbers, '*', ranges like 1-5, lists like 1,15 and steps like */10"
    if match["step"] is not None and not 1 <= int(match["step"]) <= high:
        return f"a step must be from 1 to {high}"
    if match["range"] == "*":
        return None
    values = [_cron_value(v, index) for v in match["range"].split("-")]
    numbers = [v for v in values if v is not None and low <= v <= high]
    if len(numbers) != len(values):
        names = f" or a name ({', '.join(CRON_NAMES[index][:3])}, ...)" if index in CRON_NAMES else ""
        return f"each value must be from {low} to {high}{names}"
    if numbers != sorted(numbers):
        return "a range must go from the lower value to the higher"
    return None


def _cron_value(text: str, index: int) -> int | None:
    if text.isdigit():
        return int(text)
    names = CRON_NAMES.get(index, ())
    return names.index(text) + (1 if index == 3 else 0) if text in names else None


def _cron(value: str) -> str:
    problem = cron_problem(value)
    if problem is not None:
        raise PydanticCustomError("honk_config", "{problem}", {"problem": problem})
    return " ".join(value.split())


Cron = Annotated[str, AfterValidator(_cron), Wanted(f"a cron expression like {CRON_EXAMPLE}")]
SCHEDULE_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
ScheduleName = Annotated[str, Field(pattern=SCHEDULE_NAME), Wanted("made of a-z, 0-9, _ and - only")]
SlackChannelId = Annotated[str, Field(pattern=r"^[CGD][A-Z0-9]{2,20}$"), Wanted('a Slack channel id like "C0123ABCD"')]


class ScheduleSpec(Carried):
    """`[[schedule]]`: a task Honk starts on a timer (UTC), as its `prompt` asks, with the repo's agent or
    `agent`; `notify` is the Slack channel told of it. `paused` keeps the schedule without firing it."""

    name: ScheduleName
    cron: Cron
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_REQUEST_CHARS), Wanted("a non-empty string")]
    agent: NonEmpty | None = None
    notify: SlackChannelId | None = None
    paused: Annotated[bool, Wanted("true or false")] = False


class ScheduleView(Record):
    """A repo's schedule as Temporal runs it, for `honk schedule list` and the web page."""

    id: str
    repo: str
    name: str
    cron: str
    prompt: str
    agent: str | None = None
    notify: str | None = None
    paused: bool = False
    note: str = ""  # why it is paused (who paused it), as Temporal keeps it
    next_runs: list[datetime] = []
    last_run: datetime | None = None
    last_task: str | None = None  # the task its latest run started, once that run is done
    last_refusal: str | None = None  # or why that run started none


RepoConfig.model_rebuild()


# -- issue 19, part C (triggers): preset tasks started by a URL, and a task handed off to a laptop ------------

MAX_TRIGGER_PAYLOAD = 64 * 1024  # what a trigger's caller may send with it (an alert, a bug report)
TRIGGER_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Where `honk checkout` fetches a task's branch from: the forge (its pull request's branch), the repo's
# remote (the branch as published for other workers, refs/honk/tasks/<id>), or the worker's own mirror (one
# machine, `honk up`: nothing is published anywhere else).
HandOffSource = Literal["forge", "remote", "worker"]


class TriggerInfo(Record):
    """A trigger as it is listed: what task it starts, and who made it. Never its token."""

    name: str
    repo: str
    prompt: str
    agent: str | None = None
    created_by: str
    created_at: datetime
    fired: int = 0
    last_fired_at: datetime | None = None


class TriggerMade(Record):
    """A trigger just made, with its URL: the token in it is shown this once, and kept only as a digest."""

    trigger: TriggerInfo
    url: str


class TriggerFired(Record):
    """What a trigger's caller is answered: the task it started (or started before, for a retry)."""

    task_id: str
    url: str
    created: bool


class HandOff(Record):
    """What `honk checkout` (and the task page) need to continue a task on a laptop: where its branch is,
    and what the agent did. `remote` is never a URL with credentials in it."""

    task_id: str
    repo: str
    state: TaskState
    source: HandOffSource
    clone_url: str  # the repo's URL, as a clone of it names its remote
    remote: str  # where the branch is fetched from: `clone_url`, or the worker's mirror
    ref: str  # what to fetch at `remote`
    branch: str  # the local branch to make
    commit: str | None = None  # the task's latest commit, as Honk knows it
    pull_request_url: str = ""
    merged_commit: str | None = None
    summary: str = ""  # markdown: the request, the plan, each round's summary, follow-ups, checks

    def commands(self) -> list[str]:
        """The git commands that bring the task's branch into a clone of the repo, as a person types them."""
        return [
            f"git fetch {_quoted(self.remote)} {_quoted(self.ref)}",
            f"git switch -c {_quoted(self.branch)} FETCH_HEAD",
        ]


def _quoted(word: str) -> str:
    """A word as a POSIX shell reads it back unchanged."""
    return word if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word) else "'" + word.replace("'", "'\"'\"'") + "'"


# -- issue 19, part D (refresh): a waiting task brings in its moved target -----------------------------------
# (`UpdateMode`, `[merge] update`, sits beside MergeMode: MergeSettings' default is built where it is defined.)
# What bringing in the moved target came to: in (checks pass, pushed), nothing to do, not done because
# someone else pushed to the branch (or the forge refused), or the agent's turn (a conflict, failing checks).
RefreshStatus = Literal["refreshed", "current", "skipped", "conflict", "checks_failed"]


# -- campaigns: one request across many repos (issue 20; honk.campaigns, workflow/campaign_workflow.py) ------
MAX_CAMPAIGN_REPOS = 1_000


class CampaignState(StrEnum):
    selecting = "selecting"  # the selector is being resolved (a files test runs on each repo's mirror)
    running = "running"  # members are being started and worked on
    halted = "halted"  # the first wave did not reach the threshold: the rest never start
    done = "done"  # every member settled (ready, merged, failed, refused, skipped)
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (CampaignState.done, CampaignState.halted, CampaignState.cancelled)


# A member (one repo of a campaign): not started yet, a task started for it, refused by the policy (the
# requester may not ask for changes there), or skipped (archived, held back by a halted first wave, the
# budget spent, the campaign cancelled before it started).
MemberStatus = Literal["waiting", "started", "refused", "skipped"]
# What cancelling a campaign does to its members' pull requests: close them, or leave them as drafts.
OnCancel = Literal["close", "draft"]
AccountRole = Literal["requester", "merger", "admin"]  # honk.accounts.Role's values (that layer sits above)


class RepoSelector(Carried):
    """Which repos a campaign reaches: named ones, a glob on names, and/or repos whose files match (a path
    glob on the main branch, optionally a regular expression one of those files contains). Parts combine
    with AND; no part at all is every repo. The files test runs on the worker's mirror; no agent runs."""

    names: list[str] = []
    glob: str | None = None
    path: str | None = None  # e.g. "**/*.py", "requirements*.txt"
    content: str | None = None  # a regex one matching file must contain (with `path`)

    def describe(self) -> str:
        parts = []
        if self.names:
            parts.append(", ".join(self.names))
        if self.glob:
            parts.append(f"repos named {self.glob}")
        if self.path:
            parts.append(f"repos with {self.path}" + (f" containing /{self.content}/" if self.content else ""))
        return "; ".join(parts) or "every repo"


class CampaignSettings(Carried):
    """How a campaign goes: `wave_size` repos first (0: no first wave), the rest only when at least
    `go_percent` of those reached ready; at most `concurrency` tasks at a time; every task's cost together
    within `max_cost_usd`; `automerge`: members whose checks pass are merged (where the merge policy
    allows it for the requester); `on_cancel`: what cancelling does to the open pull requests."""

    wave_size: int = Field(default=5, ge=0, le=MAX_CAMPAIGN_REPOS)
    go_percent: int = Field(default=80, ge=0, le=100)
    concurrency: int = Field(default=10, ge=1, le=200)
    max_cost_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    automerge: bool = False
    on_cancel: OnCancel = "draft"


class AskedAs(Carried):
    """How the access policy knew the person who asked a campaign, beyond their identity (`requested_by`):
    the email and Slack id it matches people by, and their account's role (None where the front door has
    no accounts: Slack, the forge). Each member's task is asked, merged and cancelled as them, so the policy
    must see the same Actor a task asked alone would: without the role, an account that may only ask would
    get its campaign's members merged."""

    email: str | None = None
    slack_id: str | None = None
    role: AccountRole | None = None


class CampaignRequest(Carried):
    """What a front door hands to the campaign workflow: who asked what of which repos."""

    campaign_id: str
    request_id: str
    text: str = Field(min_length=1, max_length=MAX_REQUEST_CHARS)
    selector: RepoSelector
    settings: CampaignSettings = CampaignSettings()
    requested_by: str
    front_door: FrontDoor = "api"
    agent: str | None = None
    model: str | None = None
    slack: SlackThread | None = None  # where the one campaign message lives (updated in place)
    asked_as: AskedAs = AskedAs()  # the requester as the access policy saw them (role, email, Slack id)


class CampaignMember(Record):
    """One repo of a campaign, as its board shows it: the task of its latest attempt (None before it
    starts), and what that task shows (state, checks, pull request, preview, cost)."""

    repo: str
    attempt: int = 1
    wave: int = 1  # 1: the first wave; 2: the rest
    cost_cap_usd: float | None = None  # the campaign budget's share reserved for its latest attempt
    status: MemberStatus = "waiting"
    reason: str = ""  # why refused or skipped
    task: TaskView | None = None
    checks_passed: bool | None = None  # None: no checks ran yet
    pull_request_url: str = ""

    @property
    def settled(self) -> bool:
        """Nothing more happens to it unless someone acts: its task is ready or ended, or it never started
        (refused, skipped). What the front doors' progress (the board's bar, the Slack message) counts."""
        if self.task is not None:
            return self.task.state == TaskState.ready or self.task.state.terminal
        return self.status in ("refused", "skipped")


class CampaignView(Record):
    """A campaign as the front doors show it (served from Honk's store)."""

    id: str
    text: str
    selector: RepoSelector
    settings: CampaignSettings
    state: CampaignState
    requested_by: str
    front_door: FrontDoor
    created_at: datetime
    updated_at: datetime
    reason: str = ""  # why halted, or what went wrong selecting
    members: list[CampaignMember] = []

    @property
    def cost_usd(self) -> float:
        return sum((m.task.cost_usd or 0.0) for m in self.members if m.task is not None)

    def counts(self) -> dict[str, int]:
        """Members by what the board shows: a task's state once started, else the member's status."""
        out: dict[str, int] = {}
        for m in self.members:
            key = m.task.state.value if m.task is not None else m.status
            out[key] = out.get(key, 0) + 1
        return out


class MemberProgress(Carried):
    """One member as the campaign workflow decides on it (honk.workflow.campaign_policy), read from the
    store in one query: its row, and its latest task's state and cost. `earlier_cost_usd`: what its
    earlier attempts spent (a retry's budget counts them); `checks_passed` is read only for a ready task
    of a campaign that merges automatically (None otherwise)."""

    repo: str
    wave: int = 1
    status: MemberStatus = "waiting"
    attempt: int = 1
    reason: str = ""
    task_id: str | None = None
    task_state: TaskState | None = None  # None: not started, or its task row not written yet
    cost_usd: float | None = None
    cost_cap_usd: float | None = None
    earlier_cost_usd: float = 0.0
    checks_passed: bool | None = None
    merge_tried: bool = False
    instruction: str = ""  # what a retry added to the request for this attempt


# What a bulk action did to one member: done, or why not (the policy refused, not green, already ended).
class MemberActed(Record):
    repo: str
    task_id: str | None = None
    done: bool
    detail: str = ""


def parse_selector(text: str) -> RepoSelector:
    """A selector as people type it (`honk campaign start --repos …`, the web form): "a,b,c" names repos;
    "web-*" is a glob on names; "files:PATHGLOB" is repos with such a file, and "files:PATHGLOB~REGEX" one
    whose text matches; "*" or "all" is every repo. Parts joined with " and " combine. A ValueError says
    what was not understood."""
    parts = [p.strip() for p in re.split(r"\s+and\s+", text.strip()) if p.strip()]
    if not parts:
        raise ValueError('Say which repos: names ("api,web"), a glob ("svc-*"), or "files:GLOB[~REGEX]".')
    names: list[str] = []
    glob: str | None = None
    path: str | None = None
    content: str | None = None
    for part in parts:
        if part.lower() in ("*", "all", "every repo"):
            continue
        if part.lower().startswith("files:"):
            body = part[len("files:") :].strip()
            files, _, regex = body.partition("~")
            path, content = files.strip(), (regex.strip() or None)
            if not path:
                raise ValueError(f"{part!r}: say which files, e.g. files:**/*.py or files:requirements.txt~requests")
            if content is not None:
                try:
                    re.compile(content)
                except re.error as e:
                    raise ValueError(f"{content!r} is not a regular expression ({e}).") from None
        elif any(c in part for c in "*?["):
            if glob is not None:
                raise ValueError(f"Only one name glob: {glob!r} and {part!r}.")
            glob = part
        else:
            for name in (n.strip() for n in part.split(",")):
                if not name:
                    continue
                if not re.fullmatch(r"[A-Za-z0-9._/-]{1,100}", name):
                    raise ValueError(f"{name!r} is not a repo name.")
                if name not in names:
                    names.append(name)
    return RepoSelector(names=names, glob=glob, path=path, content=content)


# -- best of N: several independent attempts at one request (issue 20; honk.attempts) ---------------------------
MAX_ATTEMPTS = 20  # what any server allows at most; `settings.attempts.max_n` (default 5) is the working limit
ATTEMPT_GROUP = r"^best-[0-9a-f]{12}$"


class AttemptOf(Carried):
    """Which attempt of which best-of-N group a task is (TaskService.submit's `attempt_of`)."""

    group: str
    attempt: int = Field(ge=1, le=MAX_ATTEMPTS)
    attempts: int = Field(ge=2, le=MAX_ATTEMPTS)


class AttemptScore(Record):
    """One attempt of a best-of-N group, where the ranking puts it and why (`why`: "ready; checks pass, judge
    ok, +12 −3"). Ranked by honk.workflow.attempts_policy.rank: reached ready, checks, judge, test-guard
    findings, the smaller diff, the earlier attempt."""

    task_id: str
    attempt: int
    state: TaskState
    agent: str | None = None
    reached_ready: bool = False
    checks_passed: bool | None = None  # None: no check ran (yet, or the repo has none)
    judge_ok: bool | None = None  # None: not reviewed yet
    guard_findings: int = 0
    lines_changed: int | None = None  # added + removed in its latest delivery; None: nothing delivered
    added: int = 0
    removed: int = 0
    rank: int = 0  # 1 is the best
    why: str = ""
    preview_url: str | None = None
    # Its preview's screenshot to show beside it (the first route's "after", the phone's when there is one):
    # a file name in the task's shots directory; None without screenshots.
    shot: str | None = None
    pull_request_url: str = ""
    cost_usd: float | None = None

    @property
    def settled(self) -> bool:
        """Nothing more will change its place unless a person acts: ready (or past it), failed or cancelled."""
        return self.state.terminal or self.state in (TaskState.ready, TaskState.merging)


class AttemptsEstimate(Record):
    """What N attempts may cost at most, said before they start: N × one task's cost limit (the access
    policy's cap, else the repo's `[agent] max_cost_usd`, else the server's default)."""

    n: int
    per_attempt_usd: float | None = None  # None: no cost limit set anywhere

    @property
    def total_usd(self) -> float | None:
        return None if self.per_attempt_usd is None else self.n * self.per_attempt_usd

    def line(self) -> str:
        if self.per_attempt_usd is None:
            return f"{self.n} attempts cost up to {self.n}× one task (no cost limit set)."
        return f"{self.n} attempts cost up to ${self.total_usd:.2f} ({self.n} × ${self.per_attempt_usd:.2f} per task)."


class AttemptsView(Record):
    """A best-of-N group as the front doors show it: the request, its attempts ranked best first, and the
    one picked (by a person, or by Honk where the repo's `[attempts] auto_pick` allows)."""

    group: str
    repo: str
    text: str
    n: int
    requested_by: str
    attempts: list[AttemptScore] = []
    picked: str | None = None  # the picked attempt's task id
    picked_by: str | None = None

    @property
    def settled(self) -> bool:
        return len(self.attempts) >= self.n and all(a.settled for a in self.attempts)

    def ranking(self) -> str:
        """The ranking in lines ("1. attempt 3 (t-…): ready; checks pass, +4 −1"), for a message."""
        return "\n".join(f"{a.rank}. attempt {a.attempt} ({a.task_id}): {a.why}" for a in self.attempts)
