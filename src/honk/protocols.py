"""Every seam of Honk as a small Protocol, in the order a request travels through them: the map.

A front door hands a `TaskRequest` to the workflow (`honk.workflow.task_workflow`), which runs each
step of the route as an activity in a worker; the activities (`honk.workflow.activities`) hand their
input to a step (`honk.workflow.steps`), and the steps reach the world only through the seams below:

    workspaces → agent (with its tools: launcher, checks, workspace view, model, transcripts)
    → checks → reviewer → builder → forge (deliver, land) → deployer → notifier; events → the store → reads

Implementations are plain classes named role-last (`WorktreeWorkspaces`, `ClaudeCodeAgent`,
`SandboxLauncher`, `RepoChecks`, `LocalGitForge`, `SlackNotifier`, …); fakes implement the same
Protocols. Refusals a step can react to come back as data; errors a person must act on are
`honk.errors.UserFacingError`; anything else is a bug, and Temporal retries the step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

from honk.domain import (
    AgentJob,
    AgentOutcome,
    AttachedFile,
    Attachment,
    AttemptsView,
    Awaited,
    BuildOutcome,
    BuildSpec,
    CampaignView,
    Change,
    CheckConclusion,
    CheckResult,
    DeliverJob,
    DeliveryOutcome,
    DeployJob,
    DeployOutcome,
    Discussion,
    ForgeDeployState,
    JobLog,
    LineComment,
    MergeResult,
    PreviewEndpoint,
    PreviewOutcome,
    PreviewSpec,
    ProcResult,
    PullRequestBody,
    PullRequestState,
    RepoRef,
    Review,
    RouteShots,
    SlackThread,
    TaskRequest,
    TaskView,
    VerifyCommand,
    Workspace,
)
from honk.events import AnyEvent, PullRequestUpdated, StoredEvent
from honk.network import EgressPolicy
from honk.timeline import Timeline


class EventSink(Protocol):
    """Where a step reports progress. The worker's sink writes to Honk's store (redacted first),
    from where every front door renders it."""

    async def __call__(self, *events: AnyEvent) -> None: ...


# -- 1. the workspace ------------------------------------------------------------------------------


class Workspaces(Protocol):
    """A task's working copy: a worktree of a local mirror of the repo, on branch `honk/<task>`. A
    workspace is a cache of its branch: any step can make it again, on any worker."""

    async def fetch(self, repo: RepoRef) -> None:
        """Brings the repo's mirror up to date with its remote (making it the first time); a remote
        that cannot be reached is a UserFacingError naming it."""
        ...

    async def remote_head(self, repo: RepoRef, branch: str) -> str:
        """The commit `branch` is at on the remote, as last fetched; a UserFacingError when it has none."""
        ...

    async def ensure(
        self,
        task_id: str,
        repo: RepoRef,
        base_branch: str,
        key: str | None = None,
        *,
        new: bool = False,
        head: str | None = None,
        base_at: str | None = None,
    ) -> Workspace:
        """The task's workspace: made from its branch (here, or as another worker published it), or
        from `base_branch` for a new task. `key`: the workspace's name when it is not the task id (a task
        over several repos keeps one per repo, each on the task's branch name: `TaskRequest.workspace_key`).
        `new`: the task has committed nothing yet (it is being provisioned), so no other worker can have
        published its branch; the workspace comes back clean at its branch's last commit. `head`: the
        commit the workflow last saw the branch at; a workspace already there is used without asking the
        remote. `base_at`: the commit `base_branch` is at, as `remote_head` just said: a new branch starts
        there (the same commit the caller saw, and not read again)."""
        ...

    async def reset(self, ws: Workspace) -> None:
        """Back to the branch's last commit: a retried step starts from what was committed."""
        ...

    async def checkout_at(self, key: str, repo: RepoRef, commit: str) -> Workspace:
        """A working copy of `commit`, on no branch, named `key` (e.g. a task's target branch, to preview
        what it looked like before the change); made once, moved to `commit` when asked again."""
        ...

    async def drop(self, key: str, repo: RepoRef) -> None:
        """Deletes a working copy `checkout_at` made (nothing when there is none)."""
        ...

    async def head(self, ws: Workspace) -> str: ...

    async def merge_base(self, ws: Workspace, target: str) -> str:
        """Where the branch left `target` (the remote's, as last fetched): the base its diff is read from."""
        ...

    async def contains(self, ws: Workspace, commit: str) -> bool:
        """Whether the branch already has `commit`."""
        ...

    async def is_in(self, ws: Workspace, commit: str) -> bool:
        """Whether the branch's head is already part of `commit` (landed there)."""
        ...

    def merge_lock(self, repo: RepoRef) -> AbstractAsyncContextManager[None]:
        """Held while a change lands: one merge at a time per repo on this machine."""
        ...

    async def commit_all(
        self, ws: Workspace, message: str, trailers: dict[str, str], refuse: Sequence[str] = ()
    ) -> tuple[str | None, list[str]]:
        """Commits every change (None when there is none) and names the files; a change adding one of
        `refuse` (Honk's own credentials) is not committed: a UserFacingError says so."""
        ...

    async def changes_since(self, ws: Workspace, commit: str) -> tuple[list[str], str]:
        """The files changed since `commit`, and the body of the branch's last commit message."""
        ...

    async def merge_in(self, ws: Workspace, ref: str, message: str, trailers: dict[str, str]) -> list[str]:
        """Merges `ref` into the branch; the conflicting files (the merge undone), or [] when it merged."""
        ...

    async def revert(self, ws: Workspace, commit: str, message: str, trailers: dict[str, str]) -> list[str]:
        """Commits the revert of `commit` on the branch (a merge reverted against its first parent: what
        its merge brought in is undone); the conflicting files (the revert undone, the workspace clean),
        or [] when it committed. A commit the mirror lacks, or whose changes are already undone, is a
        UserFacingError."""
        ...

    async def start_merge(self, ws: Workspace, ref: str) -> list[str]:
        """Starts merging `ref` without committing, leaving conflict markers for the agent; the files."""
        ...

    async def diff(self, ws: Workspace, base: str) -> str: ...

    async def diffstat(self, ws: Workspace, base: str) -> str: ...

    async def diff_and_stat(self, ws: Workspace, base: str) -> tuple[str, str]:
        """`diff` and a diffstat of the same range, in one git run (the stat counts a rename as the
        deletion and addition the diff shows)."""
        ...

    async def publish(self, ws: Workspace, repo: RepoRef, task_id: str) -> bool:
        """Makes the branch reachable from other workers (False: only this one can continue it)."""
        ...

    async def remove(self, task_id: str, repo: RepoRef, key: str | None = None) -> None:
        """Deletes the working files (of workspace `key`, as `ensure` named it) and what `publish` put on the
        remote; the branch stays in the mirror."""
        ...

    async def close(self) -> None:
        """Stops what it does in the background (spare workspaces made ahead of tasks)."""
        ...

    async def rebase_onto(self, ws: Workspace, ref: str) -> list[str]:
        """Replays the branch's own commits on `ref` (its history rewritten: a push of it needs a lease);
        the conflicting files (the rebase undone, the workspace clean), or [] when it rebased."""
        ...


# -- 2. the agent, and the tools the worker hands it for one run ---------------------------------


class RepoFiles(Protocol):
    """What is on a repo's branch, read from the worker's mirror without a workspace or an agent: how a
    campaign's "repos whose files match" selector is tested (`RepoSelector.path` / `.content`)."""

    async def matching(self, repo: RepoRef, path: str, content: str | None = None, limit: int = 5) -> list[str]:
        """Up to `limit` files on the repo's branch (fetched now) whose path matches the glob `path` (`*`
        within a directory, `**` across directories) and, with `content`, whose text has a match of that
        regular expression (files over 1 MB and binary files are not read). An empty list: the repo does
        not match. A remote that cannot be reached, or a `content` that is no regular expression, is a
        UserFacingError naming it."""
        ...


class CampaignNotifier(Protocol):
    """Where a campaign talks in Slack: one message in the thread it was asked in, posted once and then
    updated in place as members move (never a reply per repo)."""

    async def show(self, view: CampaignView, slack: SlackThread, message_ts: str | None) -> str | None:
        """Posts the campaign's summary (`message_ts` None) or updates that message; the message's ts, or
        None when Slack could not be reached (the campaign's next change tries again)."""
        ...


class AttemptsNotifier(Protocol):
    """Where a best-of-N group was asked in Slack: told once, when every attempt settled (honk.attempts)."""

    async def settled(self, view: AttemptsView, slack: SlackThread, auto_picked: bool) -> None:
        """Posts the ranking in the thread: with a Pick button per ready attempt, or saying what Honk picked
        (`auto_picked`). Raises when Slack could not be reached (the group's activity is retried)."""
        ...


class Launcher(Protocol):
    """Starts programs for one task and purpose, confined: the workspace writable, its own HOME and
    /tmp, the system read-only, nothing of Honk's data or other tasks, its own pid and network
    namespaces (out only through what Honk binds in), an allow-listed environment, limits. The only
    way an agent or a step that runs repo code starts a process."""

    @property
    def home(self) -> Path:
        """The HOME its programs get: writable, the task's own, kept between the task's runs here."""
        ...

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        stdin: bytes | None = None,
    ) -> ProcResult:
        """Runs `argv` in the workspace and waits, at most `timeout_s` (then the program and every
        process it started are stopped). `env` adds to the allow-listed environment. A program the
        confinement stopped or refused still returns a result; what was refused is recorded."""
        ...

    async def shell(self, command: str, *, timeout_s: float, log: Path | None = None) -> ProcResult:
        """`bash -c command`, as `run` runs it."""
        ...

    def program(self, executable: Path, pass_env: Sequence[str]) -> Path:
        """A file that, run with any arguments, runs `executable` with them, confined, with only the
        variables named in `pass_env` taken from its own environment. For libraries that start a
        program themselves (the Claude Agent SDK's `cli_path`)."""
        ...

    def noticed(self, output: str, command: str) -> None:
        """Output a confined program produced that the launcher did not see itself (a command the
        agent ran with its own shell tool): the refusals it shows are recorded like the others."""
        ...

    async def start(self, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None) -> Running:
        """Starts `argv` in the workspace, confined as `run` confines it, and returns without waiting:
        a long-running server (a preview). Its output goes to `log`. It runs until `Running.stop`, the
        launcher's `close`, or the worker's end (it dies with the worker: never an orphan)."""
        ...


class WorkspaceView(Protocol):
    """The files of the task's workspace, as an agent may change them from the worker's side."""

    @property
    def root(self) -> Path:
        """The workspace directory (the agent's working directory)."""
        ...

    def path(self, rel: str) -> Path:
        """`rel` inside the workspace; a UserFacingError when it (or a link on the way) leads out."""
        ...

    def write(self, rel: str, text: str) -> None: ...

    def read(self, rel: str) -> str | None:
        """The file's text, or None when there is none."""
        ...

    def delete(self, rel: str) -> None: ...


class CheckRunner(Protocol):
    """The repo's checks, for an agent's own `verify` tool and stop gate. Each run is confined on its
    own and reported as events; the agent gets the distilled result."""

    @property
    def timeout_s(self) -> float:
        """How long one run of every check may take."""
        ...

    async def run(self, tag: str) -> tuple[bool, str]:
        """Runs every check; (all passed, one line when they pass or the distilled failures)."""
        ...


class ModelAccess(Protocol):
    """How a confined agent reaches the model API: through Honk's key proxy, with a token that is
    worth nothing outside this run. The real credential never enters the confinement."""

    @property
    def base_url(self) -> str:
        """The API's address as seen from inside the confinement."""
        ...

    @property
    def api_key(self) -> str:
        """This run's token, in place of any real key."""
        ...

    def unreachable(self) -> str | None:
        """Why the model API could not be reached during the run (the agent saw only a 502), if so."""
        ...


class Transcripts(Protocol):
    """An agent's own conversation, kept in Honk's store so that a follow-up resumes it on any worker."""

    async def append(self, session: str, entries: list[dict[str, Any]]) -> None: ...

    async def load(self, session: str) -> list[dict[str, Any]] | None:
        """The session's entries in order, or None for a session never written."""
        ...


class AgentTools(Protocol):
    """Everything an agent may use in one run, built by the worker for that run."""

    @property
    def workspace(self) -> WorkspaceView: ...

    @property
    def launcher(self) -> Launcher: ...

    @property
    def checks(self) -> CheckRunner: ...

    @property
    def model(self) -> ModelAccess | None:
        """None where the model is reached without a key Honk holds (Bedrock, Vertex)."""
        ...

    @property
    def transcripts(self) -> Transcripts: ...

    @property
    def attachments(self) -> Sequence[AttachedFile]:
        """The request's files, laid out in the run's HOME, where the agent's programs can read them."""
        ...

    @property
    def also(self) -> Mapping[str, WorkspaceView]:
        """A task over several repos: the other repos' workspaces by repo name, writable to the agent and
        what it starts as `workspace` is (empty for a one-repo task)."""
        ...


class Agent(Protocol):
    """A coding agent: edits the workspace toward the job's prompt, using only `tools`. Honk commits,
    verifies and merges. A budget that stops it is `honk.agents.AgentStopped` (its work is kept)."""

    name: str
    plans: bool  # whether it can be asked for a plan (`job.mode == "plan"`); listed in AGENTS_THAT_PLAN

    async def run(self, job: AgentJob, tools: AgentTools, emit: EventSink) -> AgentOutcome:
        """Works in `tools.workspace`; says what it did and what it cost. With `job.mode == "plan"`
        the workspace is read-only (writing fails) and the outcome's `plan` is the agent's proposal;
        an agent that cannot plan refuses such a job with a UserFacingError."""
        ...


# -- 3. verification: the repo's checks, a review, a build ---------------------------------------


class Checks(Protocol):
    """The repo's own checks (`[[verify]]`, or detected), each confined, each reported as an event as it
    finishes. All of them run every time: the agent gets every problem in one round."""

    async def run(
        self,
        task: TaskRequest,
        ws: Workspace,
        checks: list[VerifyCommand],
        tag: str,
        emit: EventSink,
        egress: EgressPolicy | None = None,
    ) -> list[CheckResult]:
        """A failing check is a result (fed back to the agent), never an error. `egress`: what the
        checks may reach through the egress proxy (None: nothing)."""
        ...


class Reviewer(Protocol):
    """Reads a change whose checks pass: the test guard (deleted or weakened tests, downgrades) and,
    where configured, the scope judge (the diff against what was asked)."""

    async def review(self, request: str, follow_ups: list[str], diff: str) -> Review:
        """An unavailable judge is reported in the review, never an error: it does not block a change."""
        ...


class Builder(Protocol):
    """The repo's build (`[build]`): confined, then its artifacts and preview site copied out of the
    workspace, where the web server serves them."""

    async def build(
        self, task: TaskRequest, ws: Workspace, spec: BuildSpec, egress: EgressPolicy | None = None
    ) -> BuildOutcome:
        """A failing build is an outcome (fed back to the agent), never an error. `egress`: what the build
        may reach through the egress proxy (None: nothing)."""
        ...


# -- 4. the forge: where a change is reviewed and how it lands -----------------------------------


class Forge(Protocol):
    """Where a task's branch goes for review and how it lands on its target: Honk's own push to a plain
    git remote (`LocalGitForge`), or a pull request on GitHub or GitLab (`HostedForge`). The
    infrastructure pushes; never the agent."""

    async def publish(self, change: Change, body: PullRequestBody) -> PullRequestUpdated | None:
        """Brings the change's review up to date (opens a draft pull request the first time); None
        where there is nothing to open (a plain remote)."""
        ...

    async def land(
        self, change: Change, expected: str, message: str, pull_request: PullRequestUpdated | None
    ) -> MergeResult:
        """Lands the branch (which contains the target at `expected`) on the target, only if the target
        is still at `expected`. A target that moved is `kept_moving`; a forge's refusal (checks pending,
        review required, a conflict) is `refused` with its reason — data, not errors."""
        ...

    async def state(self, pull_request: PullRequestUpdated | None) -> PullRequestState:
        """Whether the change's pull request is still open there (a person may close or merge it)."""
        ...

    async def close(self, pull_request: PullRequestUpdated | None, comment: str) -> PullRequestState:
        """Closes the change's pull request without merging it, with `comment` said on it first (why: a
        campaign cancelled with `on_cancel="close"`). One already closed or merged is left as it is; its
        state is the answer ("none" where there is none: a plain remote, or no pull request yet). The
        forge's refusals and outages are `UserFacingError`s worded for a person."""
        ...

    async def archived(self, repo: RepoRef) -> bool | None:
        """Whether the forge has `repo` archived (read-only: a task there could never push or open a pull
        request). None where it cannot be known (a plain git remote). A forge that refuses or cannot be
        reached raises a `UserFacingError`."""
        ...

    async def deployment(self, repo: RepoRef, commit: str, awaited: Awaited) -> ForgeDeployState:
        """What the forge says of `commit` for `[deploy] wait_for`: the commit status or check run named
        `awaited.name` ("status"), or the newest deployment of `commit` to that environment
        ("deployment"), with its link and description. "pending" while it says nothing (an unknown
        context stays pending); "unsupported" where it cannot say (a plain git remote; a token that may
        not read statuses); a forge that cannot be reached is "pending" with a `problem`. Never raises
        for the forge's sake: the workflow asks again every few seconds until its own timeout."""
        ...


class ForgeConversation(Protocol):
    """Honk talking on the forge where people asked it (an issue, a pull request, its review threads),
    and reading what the forge knows that a forge event does not carry: the conversation, a review's
    line comments, who may edit the repo, a failing job's log, a check's verdict on another commit.

    `repo` is a Honk repo with a forge (`RepoRef.forge`); a repo without one (a plain git remote) has
    nobody to talk to: reads answer empty and posts answer None. The forge's refusals and outages are
    `UserFacingError`s worded for a person (`honk.forge.base.api_error`)."""

    async def discussion(self, repo: RepoRef, number: int, pull_request: bool | None = None) -> Discussion:
        """The issue or pull request `number`: its title, body, author and state, its newest
        MAX_THREAD_COMMENTS comments (oldest first; bots marked `by_bot`), and a pull request's branches
        and head commit. NotFound when there is none. `pull_request`: which of the two `number` is, where
        they are numbered apart (GitLab's issue #3 and merge request !3); None: a merge request of that
        number if there is one, else the issue."""
        ...

    async def comment(self, repo: RepoRef, number: int, text: str, pull_request: bool | None = None) -> str | None:
        """Posts `text` (markdown) as a new comment on the issue or pull request (`pull_request` as for
        `discussion`); the comment's URL."""
        ...

    async def review_comments(self, repo: RepoRef, number: int, review_id: int | None = None) -> list[LineComment]:
        """The line comments of review `review_id` on pull request `number` (None: all of the pull
        request's unresolved ones), oldest first, each with its id for `reply`."""
        ...

    async def reply(self, repo: RepoRef, number: int, comment_id: int, text: str, resolve: bool = False) -> None:
        """Answers the review comment `comment_id` in its thread; `resolve`: also marks the thread
        resolved where the forge allows (GitHub's review threads, GitLab's discussions), quietly not
        where it does not."""
        ...

    async def review(
        self, repo: RepoRef, number: int, commit: str, body: str, comments: list[LineComment]
    ) -> str | None:
        """Posts a review of pull request `number` at `commit` that only comments (never approves or
        requests changes): `body` and the line comments. A comment on a line outside the diff is folded
        into the body rather than failing the review. The review's URL."""
        ...

    async def may_edit(self, repo: RepoRef, login: str) -> bool:
        """Whether the forge user `login` may push to the repo (GitHub: write, maintain or admin;
        GitLab: developer or above). False for unknown logins."""
        ...

    async def failing_logs(self, repo: RepoRef, commit: str, run_id: int | None = None) -> list[JobLog]:
        """The logs of the jobs that failed on `commit` (in the run, suite or pipeline `run_id` when
        given), each's end kept within MAX_JOB_LOG; [] when the forge keeps none Honk can read."""
        ...

    async def check(self, repo: RepoRef, ref: str, name: str) -> CheckConclusion:
        """The newest verdict of the check (GitHub check run or status context; GitLab job) named `name`
        on `ref` (a branch or a commit): "none" when nothing of that name ran there."""
        ...


# -- 3b. the new version on the phone --------------------------------------------------------------


class AppDeliverer(Protocol):
    """`[deliver]` after a green build: the app put where a phone gets it, and the link that opens it.
    Honk's own (`ServedApps`: an APK or an .ipa read, checked and served behind signed, expiring links)
    or the team's (`CommandDelivery`: its upload command, confined in the deliver phase with its secrets
    and hosts). Every outcome is data: "delivered" with its link, "processing" (asked again by `wait`),
    "failed" with what to fix — never an error, and never a reason the task fails."""

    async def deliver(self, job: DeliverJob) -> DeliveryOutcome:
        """Delivers the build the task's workspace and artifacts hold now."""
        ...

    async def wait(self, job: DeliverJob) -> DeliveryOutcome:
        """Asks once more about a delivery that was "processing" (`[deliver] wait`)."""
        ...


# -- 4b. production after merge: the repo's deploy, and whether it is live --------------------------


class Deployer(Protocol):
    """`[deploy]` on what was merged: the repo's command confined in the deploy phase (its secrets and
    hosts), then its health check. Outcomes are data ("deploy_failed" with the distilled log, "health_failed"
    with the last answer), never errors."""

    async def deploy(self, job: DeployJob) -> DeployOutcome:
        """Runs `[deploy] run` from a checkout of the merged commit: "deployed" or "deploy_failed"."""
        ...

    async def health(self, job: DeployJob) -> DeployOutcome:
        """`[deploy] health` until it passes or its timeout ends: "live" or "health_failed"."""
        ...


# -- 5. telling people ---------------------------------------------------------------------------


class Notifier(Protocol):
    """Says a task's progress where it was asked for (its Slack thread). The workflow calls it for
    every milestone, so no outcome depends on anyone choosing to speak."""

    async def status(self, task_id: str) -> None:
        """Brings the task's progress in its thread up to date (a streamed message of its steps, or
        its status message); best effort, and throttled."""
        ...

    async def milestone(self, task: TaskRequest, detail: str = "") -> None:
        """Says the milestone the task has reached (ready, failed, merged, cancelled, a held merge)."""
        ...

    async def note(self, task: TaskRequest, text: str, asked_too: bool = False) -> None:
        """Says one line that is not a milestone (the forge's CI failed and a fix is under way, or why
        Honk leaves it): where the task talks, without repeating its state. On the forge such a line goes
        on the task's pull request; `asked_too`: also on the issue it was asked on (news its asker waits
        for, as CI passing after Honk's fixes, rather than a step of the work)."""
        ...


# -- 6. the record ---------------------------------------------------------------------------------


class AttachmentReads(Protocol):
    """The files that came with a task's request, as Honk kept them (honk.attachments decided)."""

    async def files(self, task_id: str) -> list[tuple[Attachment, bytes]]:
        """In the order they came; [] when there were none or retention has removed them."""
        ...


class TaskReads(Protocol):
    """What steps and front doors read of a task: Honk's store, never a workflow query."""

    async def get_task(self, task_id: str) -> TaskView | None: ...

    async def timeline(self, task_id: str) -> Timeline | None:
        """The task's one reading of its events (honk.timeline)."""
        ...

    async def events(self, task_id: str, after_id: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Its events after `after_id`, oldest first."""
        ...


# -- previews: the new version, running, and before/after screenshots ------------------------------


class Running(Protocol):
    """A program `Launcher.start` started, still running until it ends or is stopped."""

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool:
        """Whether it (the confinement's first process) still runs."""
        ...

    @property
    def exit_code(self) -> int | None:
        """How it ended (None while it runs, or when it was stopped)."""
        ...

    def tail(self, lines: int = 40) -> str:
        """The last lines of its output (its log), for a person to see why it failed."""
        ...

    async def stop(self) -> None:
        """Stops it and everything it started (its whole confinement); at once if it already ended."""
        ...


class Previews(Protocol):
    """A worker's running previews: each task's `[preview] start` server, confined like its checks
    (network by the egress policy's "preview" phase), reachable only through a unix socket Honk binds
    into its sandbox; registered in the store so the web server can proxy to it, stopped when idle,
    when the worker caps how many run, or when asked."""

    async def start(
        self,
        key: str,
        ws: Workspace,
        spec: PreviewSpec,
        egress: EgressPolicy | None = None,
        register: bool = True,
    ) -> PreviewOutcome:
        """Runs `install` (when its inputs changed since it last ran in this workspace), starts `start`
        with PORT and HOST, and waits until `ready` answers; when `key` (a task id, or another name for a
        version that is not registered: the target branch's, for screenshots) already runs, its endpoint.
        What went wrong (install failed, the server exited, never became ready, answered on no socket) is
        data: ok False, with a message a person can act on and the log's last lines; a registered preview
        is then recorded as failed."""
        ...

    async def stop(self, key: str, reason: str) -> None:
        """Stops it (nothing when it does not run here); a registered one is recorded as stopped."""
        ...

    def running(self) -> list[str]:
        """The keys of the previews running here."""
        ...


class Screenshooter(Protocol):
    """Phone and desktop screenshots of routes of running previews, in Chromium confined by the sandbox
    launcher (its only ways out: the previews' sockets and the egress proxy), and their pixel diffs."""

    async def compare(
        self,
        task_id: str,
        before: PreviewEndpoint | None,
        after: PreviewEndpoint,
        routes: Sequence[str],
        egress: EgressPolicy | None = None,
    ) -> list[RouteShots]:
        """For each route: the target branch's version (`before`; None: not available), the task's, at
        390×844 and 1280×800, and a diff image with the changed region marked, written to the task's
        shots directory. A route that fails to load (a 500, a timeout) is an entry with `error`; no
        browser here is a UserFacingError saying how to install one."""
        ...
