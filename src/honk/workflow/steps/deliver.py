"""Delivering a task: its change as people review it — on its forge (a pull request brought up to date,
before anyone is told) and in Honk (`TaskReady`, with the diff)."""

from __future__ import annotations

from dataclasses import dataclass

from honk.domain import Change, PullRequestBody, RepoRef, TaskRequest
from honk.events import PullRequestUpdated, RepoPublished, TaskReady
from honk.forge.registry import Forges
from honk.protocols import EventSink, TaskReads, Workspaces
from honk.timeline import Timeline
from honk.workflow import policy
from honk.workflow.records import StepInput

MAX_DIFF_CHARS = 200_000  # kept with the task for its page; the branch has the rest


class Delivery:
    def __init__(self, workspaces: Workspaces, forges: Forges, reads: TaskReads, base_url: str) -> None:
        self.workspaces, self.forges, self.reads, self.base_url = workspaces, forges, reads, base_url

    async def deliver(self, inp: StepInput, emit: EventSink) -> None:
        req, target = inp.request, policy.merge_target(inp.request.repo, inp.config)
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch, head=inp.head)
        # Verify's merge base holds while the worktree is at the head it was found for (ws.at: ensure saw it).
        base = inp.base if inp.base is not None and ws.at is not None else await self.workspaces.merge_base(ws, target)
        timeline = await self.reads.timeline(req.task_id) or Timeline()
        if inp.also:
            diff, diffstat = await self._deliver_across(inp, timeline, emit)
        else:
            diff, diffstat = await self.workspaces.diff_and_stat(ws, base)  # publishing moves no HEAD
            change = Change(task_id=req.task_id, repo=req.repo, workspace=ws, target=target, mode=inp.config.merge.mode)
            # Before "ready": whoever is told the task is ready finds its pull request there.
            if (pr := await self.forges.of(req.repo).publish(change, self._body(req, timeline, inp))) is not None:
                await emit(pr)
        await emit(
            TaskReady(
                # Publishing only pushes the branch: HEAD is still where ensure found it, when it looked.
                commit=ws.at or await self.workspaces.head(ws),
                summary=inp.summary,
                diffstat=diffstat,
                warnings=inp.warnings,
                diff=diff[:MAX_DIFF_CHARS],
                diff_truncated=len(diff) > MAX_DIFF_CHARS,
            )
        )

    async def _deliver_across(self, inp: StepInput, timeline: Timeline, emit: EventSink) -> tuple[str, str]:
        """A task over several repos: one pull request per repo the agent changed (none where it changed
        nothing, said so), each naming the others with their links and the merge order; published twice when
        a link became known only by publishing, so every pull request links every other. The task's diff and
        diffstat are every repo's, paths under the repo's name."""
        req = inp.request
        sides: list[_Side] = []
        for repo, config in [(req.repo, inp.config), *((req.repo_named(o.name), o.config) for o in inp.also)]:
            ws = await self.workspaces.ensure(req.task_id, repo, repo.branch, key=req.workspace_key(repo))
            target = policy.merge_target(repo, config)
            base = await self.workspaces.merge_base(ws, target)
            change = Change(task_id=req.task_id, repo=repo, workspace=ws, target=target, mode=config.merge.mode)
            diff = await self.workspaces.diff(ws, base)
            sides.append(_Side(repo, change, diff, await self.workspaces.diffstat(ws, base)))
        known = timeline.pull_requests(req.repo.name)
        urls = {name: pr.url for name, pr in known.items() if pr is not None}
        order, changed = [s.repo.name for s in sides], [s.repo.name for s in sides if s.diff]
        published: dict[str, PullRequestUpdated | None] = {}
        for _ in range(2):  # again only when publishing made a link the bodies did not have yet
            before = dict(urls)
            for side in (s for s in sides if s.diff):
                body = self._body(req, timeline, inp).model_copy(
                    update={"across": across_lines(order, changed, urls, side.repo.name)}
                )
                pr = await self.forges.of(side.repo).publish(side.change, body)
                published.setdefault(side.repo.name, pr)  # the first answer says whether it was opened now
                if pr is not None:
                    urls.setdefault(side.repo.name, pr.url)
            if urls == before:
                break
        for side in sides:
            pr = published.get(side.repo.name)
            if side.repo.name == req.repo.name and pr is not None:
                await emit(pr)  # the task's own pull request, as for a one-repo task
            elif side.repo.name != req.repo.name or not side.diff:
                await emit(
                    RepoPublished(
                        repo=side.repo.name,
                        changed=bool(side.diff),
                        branch=side.change.workspace.branch,
                        number=pr.number if pr else 0,
                        url=pr.url if pr else "",
                        draft=pr.draft if pr else False,
                        opened=pr.opened if pr else False,
                    )
                )
        diff = "\n".join(_under(s.repo.name, s.diff) for s in sides if s.diff)
        diffstat = "\n".join(f"{s.repo.name}:\n{s.diffstat}" for s in sides if s.diff)
        return diff, diffstat

    def _body(self, req: TaskRequest, timeline: Timeline, inp: StepInput) -> PullRequestBody:
        """The description from the task's timeline: request, summary, latest checks, findings, cost, links."""
        return PullRequestBody(
            task_id=req.task_id,
            title=req.text.strip().splitlines()[0][:72],
            request=req.text,
            requested_by=req.requested_by,
            summary=inp.summary,
            checks=list(timeline.checks.values()),
            guard_findings=timeline.review.guard_findings if timeline.review else [],
            warnings=inp.warnings,
            cost_usd=timeline.cost_usd,
            task_url=f"{self.base_url}/tasks/{req.task_id}",
            preview_url=timeline.preview_url,
            came_with=[f"{a.name} ({a.kind}{'; ' + a.note if a.note else ''})" for a in req.attachments],
            plan=timeline.plan.text() if timeline.plan is not None and timeline.plan_approved_by else "",
            plan_approved_by=timeline.plan_approved_by or "",
            shots=timeline.shots,
            shots_url=f"{self.base_url}/shots/{req.task_id}",
            started_by=req.origin.detail if req.origin is not None else "",
            closes=_closes(req),
        )


def _closes(req: TaskRequest) -> int | None:
    """The issue of the same repo the task was asked on: the pull request closes it when merged."""
    thread, forge = req.forge_thread, req.repo.forge
    if thread is None or thread.pull_request or forge is None or thread.repo.lower() != forge.project.lower():
        return None
    return thread.number


@dataclass(frozen=True)
class _Side:
    """One repo of a task over several, at delivery: where its change is, and what it is."""

    repo: RepoRef
    change: Change
    diff: str
    diffstat: str


def across_lines(order: list[str], changed: list[str], urls: dict[str, str], this: str) -> list[str]:
    """How one pull request of a change across several repos goes with the others (its body's lines): every
    repo with its pull request's link (or why it has none), the merge order, and what this one waits on."""
    merge = ", then ".join(changed)
    lines = [f"Part of one change across {' → '.join(order)}; merge order: {merge}."]
    for name in order:
        where = urls.get(name) or ("not changed, so no pull request" if name not in changed else "(link to come)")
        lines.append(f"- {name}: {where}{' (this pull request)' if name == this else ''}")
    earlier = changed[: changed.index(this)] if this in changed else []
    if earlier:
        lines.append(
            f"This pull request waits on {' and '.join(earlier)}'s merge: Honk merges it only after "
            f"{'that one has' if len(earlier) == 1 else 'those have'} merged, and not at all if "
            f"{'it fails' if len(earlier) == 1 else 'one fails'}."
        )
    return lines


def _under(repo: str, diff: str) -> str:
    """A repo's diff with its paths under the repo's name ("web/src/a.js"), so several repos' diffs read as one."""
    out = []
    for line in diff.splitlines(keepends=True):
        if line.startswith("diff --git a/"):
            a, _, b = line[len("diff --git a/") :].partition(" b/")
            line = f"diff --git a/{repo}/{a} b/{repo}/{b}"
        elif line.startswith(("--- a/", "+++ b/")):
            line = f"{line[:6]}{repo}/{line[6:]}"
        out.append(line)
    return "".join(out)
