"""What Honk does with a forge event, run by its delivery's workflow (honk.hooks.delivery_workflow) as
the activity `forge_act`, through TaskService like every front door.

- A comment that mentions `@honk` by someone the access policy names (their `github`/`gitlab` login):
  a task with the issue or pull request as fenced context, or a follow-up when the pull request is
  Honk's; `@honk stop`, `@honk review`, `@honk autofix off|on`. Anyone else gets a polite refusal
  comment, and nothing starts: the forge is open to anyone who can comment.
- A submitted review on Honk's pull request, by someone who may edit the repo: one follow-up of its
  comments with their file and line; the delivery that addresses them replies to each. A review by
  someone who may not edit is context, never instructions: nothing starts.
- A failed check on Honk's pull request: the task's workflow is told, and decides whether to try a fix.
- CI passing on the commit Honk pushed last, after it fixed a failure there: the task's workflow is told,
  and says so once. A pass on anything else (a first push, a person's commit, an older one) is not news.
- A push to a repo's branch: the tasks waiting for review there bring it in (a conflict is theirs to
  resolve), and the repo's schedules are read again.

Another repo of a task over several (issue 20: the task's `also`, e.g. web in a task over api and web) has
its own pull request, on the task's branch name. Its events find the task by the number its RepoPublished
recorded, or by the branch (TaskService.forge_task), and each kind is decided for it:
- a mention (`@honk <what>`) or a review with comments there: a follow-up that names the repo and its pull
  request ("On web's pull request #7: …"), since the agent sees every repo and must know which one is meant.
  The review's comments are not answered one by one there: the delivery answers the task's own pull
  request's (a reply on another repo's is not built yet). `@honk stop`/`autofix`/`review` act as on the
  task's own pull request.
- CI failing there: the task's workflow is told with the repo named; Honk's autofix reads the logs of, and
  fixes, the task's own repo's pull request only, so the workflow does not try and says so where the task
  talks (its thread and its own pull request), and the door says so on that repo's pull request.
- CI passing there: no news (Honk never fixed anything there).
- That pull request merged or closed by a person (not by a bot, Honk among them, nor while the task is
  merging, when its merges are Honk's whoever the forge names): recorded on the task (RepoPullRequestClosed) and said on that pull request. Closed without
  merging, the forge refuses that repo's merge when the task is merged; merged, it skipped the declared
  order. The task's own pull request closed is its workflow's to notice (it polls it): nothing here.

Idempotent where it starts things: a request's id is the delivery's, so an activity retried after a
start starts nothing new. What it did comes back as one line, recorded on the delivery.
"""

from __future__ import annotations

import logging

from temporalio import activity

from honk import attachments
from honk.access.rules import Who
from honk.domain import ForgeThread, Origin, RepoRef, TaskView
from honk.errors import UserFacingError
from honk.forgedoor import context
from honk.forgedoor.commands import Ask, Autofix, ReviewIt, Stop, command
from honk.forgedoor.notifier import task_link
from honk.gate import Actor
from honk.hooks.events import ChecksFailed, ChecksPassed, Comment, ForgeEvent, PullRequestChanged, Pushed, Review
from honk.hooks.handling import HookDelivery
from honk.protocols import ForgeConversation
from honk.service import TaskService
from honk.workflow.records import CiFailure, CiPassing

log = logging.getLogger("honk.forgedoor")
ACTIVITY = "forge_act"


class ForgeFrontDoor:
    def __init__(self, service: TaskService, conversation: ForgeConversation, handle: str) -> None:
        self.service, self.conversation, self.handle = service, conversation, handle

    @activity.defn(name=ACTIVITY)
    async def act(self, delivery: HookDelivery) -> str:
        try:
            return await self._act(delivery)
        except UserFacingError as e:  # the forge or Honk refused: trying again would not change that
            return f"failed: {e.message}"

    async def _act(self, delivery: HookDelivery) -> str:
        event = delivery.event
        if event.by_bot and isinstance(event, Comment | Review):  # CI's verdicts and pushes are facts, not words
            return f"nothing: {event.actor or 'a bot'} is a bot, and bots never instruct Honk"
        repo = await self.service.forge_repo(event.forge, event.repo)
        if repo is None:
            return f"nothing: Honk does not work on {event.repo}"
        match event:
            case Comment(mentioned=True, number=int()):
                return await self._mention(delivery.delivery_id, repo, event)
            case Review(verdict="changes_requested" | "commented"):
                return await self._review(repo, event)
            case ChecksFailed():
                return await self._checks_failed(repo, event)
            case ChecksPassed():
                return await self._checks_passed(repo, event)
            case Pushed():
                return await self._pushed(repo, event)
            case PullRequestChanged(action="closed"):
                return await self._closed(repo, event)
        return f"nothing: {_what(event)}"

    # -- @honk ---------------------------------------------------------------------------------------
    async def _mention(self, delivery_id: str, repo: RepoRef, event: Comment) -> str:
        assert event.number is not None
        number, login, pr = event.number, event.actor, event.on == "pull_request"
        actor = self.service.forge_actor(event.forge, login)
        if actor is None:
            await self._say(
                repo,
                number,
                f"@{login} Sorry, Honk only takes requests from people its access policy names. A Honk admin "
                f'can add `{event.forge} = "{login}"` to your `[users]` entry in the policy file.',
            )
            return f"refused: {event.forge} login {login!r} is not in the access policy"
        asked = command(event.text, self.handle)
        try:
            discussion = await self.conversation.discussion(repo, number, pr)
            task = await self.service.forge_task(
                event.forge, event.repo, number, discussion.head_branch if pr else "", pull_request=pr
            )
            match asked:
                case Stop():
                    return await self._stop(repo, number, task, actor)
                case Autofix(on=on):
                    return await self._autofix(repo, number, task, actor, on)
                case ReviewIt():
                    return await self._review_it(repo, number, pr, actor, discussion.head_sha)
                case Ask(text=""):
                    await self._say(repo, number, f"@{login} What should change? Say it after `@{self.handle}`.")
                    return "nothing: an empty request"
                case Ask(text=text) if task is not None and pr and not task.state.terminal:
                    other = task.repo != repo.name
                    if other:  # the agent sees every repo of the task: this one is meant
                        text = f"On {repo.name}'s pull request #{number}: {text}"
                    await self.service.follow_up(task.id, text, actor)
                    await self._say(
                        repo, number, f"On it: a follow-up to {task_link(self.service.settings.base_url, task.id)}"
                    )
                    return f"follow-up to {task.id}" + (f" on {repo.name}" if other else "")
                case Ask(text=text):
                    quoted = context.quote(discussion, event.comment_id)
                    files = [attachments.Incoming(context.NAME, quoted.encode())] if quoted else []
                    view, _ = await self.service.submit(
                        repo.name,
                        text,
                        actor,
                        request_id=f"forge-{event.forge}-{delivery_id}",
                        files=files,
                        forge_thread=ForgeThread(
                            forge=event.forge,
                            repo=event.repo,
                            number=number,
                            pull_request=pr,
                            comment_id=event.comment_id,
                            url=event.url,
                        ),
                        origin=Origin(kind="mention", detail=f"@{login} on {event.repo}#{number}", url=event.url),
                    )
                    await self._say(repo, number, f"On it: {task_link(self.service.settings.base_url, view.id)}")
                    return f"started {view.id}"
        except UserFacingError as e:
            await self._say(repo, number, f"@{login} {e.message}")
            return f"refused: {e.message}"
        return "nothing"

    async def _stop(self, repo: RepoRef, number: int, task: TaskView | None, actor: Actor) -> str:
        if task is None or task.state.terminal:
            await self._say(repo, number, "There is no Honk task running here to stop.")
            return "nothing to stop"
        await self.service.cancel(task.id, actor)
        return f"cancelled {task.id}"  # the task's own milestone says it here

    async def _autofix(self, repo: RepoRef, number: int, task: TaskView | None, actor: Actor, on: bool) -> str:
        if task is None or task.state.terminal:
            await self._say(repo, number, "Autofix applies to an open Honk pull request; there is none here.")
            return "nothing: no open Honk task here"
        await self.service.set_autofix(task.id, on, actor)
        said = "on: Honk tries to fix failing CI here" if on else "off: Honk leaves failing CI here to people"
        await self._say(repo, number, f"Autofix is {said}.")
        return f"autofix {'on' if on else 'off'} for {task.id}"

    async def _review_it(self, repo: RepoRef, number: int, pr: bool, actor: Actor, head: str) -> str:
        if not pr:
            await self._say(repo, number, f"`@{self.handle} review` works on pull requests.")
            return "nothing: a review asked on an issue"
        started = await self.service.review_pull_request(repo.name, number, actor, head)
        if not started.started:
            await self._say(repo, number, f"Honk has reviewed (or is reviewing) {head[:10]} already.")
            return f"nothing: {head[:10]} was reviewed already"
        await self._say(repo, number, f"Reviewing {head[:10]}: the findings come as a review on this pull request.")
        return f"review of {head[:10]} started"

    # -- reviews ---------------------------------------------------------------------------------------
    async def _review(self, repo: RepoRef, event: Review) -> str:
        task = await self.service.forge_task(event.forge, event.repo, event.number, event.head_branch)
        if task is None or task.state.terminal:
            return "nothing: not an open Honk pull request"
        if not await self.conversation.may_edit(repo, event.actor):
            return f"context only: @{event.actor} may not edit {event.repo}, so their review instructs nothing"
        comments = await self.conversation.review_comments(repo, event.number, event.review_id)
        if not comments and not event.text.strip():
            return "nothing: a review without comments"
        other = task.repo != repo.name
        on = f" on {repo.name}'s pull request #{event.number}" if other else ""
        lines = [f"Review by @{event.actor}{on} ({event.verdict.replace('_', ' ')}):"]
        if event.text.strip():
            lines.append(event.text.strip())
        for c in comments:
            where = f"{c.path}:{c.line}" if c.line else c.path
            lines.append(f"- {where}: {c.text.strip()}")
        actor = self.service.forge_actor(event.forge, event.actor) or self._on_behalf_of(task)
        # The delivery answers comments on the task's own pull request: another repo's are not answered.
        answers = [] if other else [c.id for c in comments if c.id is not None]
        await self.service.follow_up(task.id, "\n".join(lines), actor, answers=answers)
        return f"follow-up to {task.id} with {len(comments)} review comments" + (f" on {repo.name}" if other else "")

    def _on_behalf_of(self, task: TaskView) -> Actor:
        """A reviewer who may edit the repo but whom the policy does not name: the follow-up is made on the
        task's requester's behalf (their request, their pull request), and the reviewer is named in it."""
        return Actor(who=Who(identity=task.requested_by), front_door="forge")

    # -- CI and pushes ------------------------------------------------------------------------------------
    async def _checks_failed(self, repo: RepoRef, event: ChecksFailed) -> str:
        told = []
        for task in await self._ci_tasks(repo, event):
            other = repo.name if task.repo != repo.name else ""
            failure = CiFailure(commit=event.head_sha, name=event.name, run_id=event.run_id, url=event.url, repo=other)
            if not await self.service.ci_failed(task.id, failure):
                continue
            told.append(task.id)
            if other:
                for number in event.numbers[:5]:
                    await self._say(
                        repo,
                        number,
                        f"CI failed here on {event.head_sha[:10]}. Honk's autofix works on {task.repo}'s pull "
                        f"request of {task_link(self.service.settings.base_url, task.id)} only so far, so it "
                        f"does not try here: over to a person, or say `@{self.handle} <what to change>` here.",
                        pull_request=True,
                    )
        return f"told {', '.join(told)}" if told else "nothing: not an open Honk pull request"

    async def _checks_passed(self, repo: RepoRef, event: ChecksPassed) -> str:
        told = []
        for task in await self._ci_tasks(repo, event):
            passing = CiPassing(commit=event.head_sha, name=event.name, url=event.url)
            if await self.service.ci_passed(task.id, passing):
                told.append(task.id)
        if told:
            return f"told {', '.join(told)}"
        return f"nothing: CI passing on {event.head_sha[:10]} is no news to an open Honk pull request"

    async def _ci_tasks(self, repo: RepoRef, event: ChecksFailed | ChecksPassed) -> list[TaskView]:
        """The Honk tasks whose pull requests CI ran for: those the forge names, else the branch's. Ended
        ones among them too: telling one says whether it is still open."""
        tasks = []
        for number in event.numbers[:5] or [None]:
            task = (
                await self.service.forge_task(event.forge, event.repo, number, event.branch)
                if number is not None
                else await self.service.branch_task(repo, event.branch)
            )
            if task is not None:
                tasks.append(task)
        return tasks

    async def _closed(self, repo: RepoRef, event: PullRequestChanged) -> str:
        """A pull request merged or closed on the forge: news only for another repo's of a task over several
        (the task's own is watched by its workflow, which polls it)."""
        if event.by_bot:  # Honk's own closing (a cancelled task's) or merging among them: not a person's
            return f"nothing: {event.actor or 'a bot'} is a bot"
        task = await self.service.forge_task(event.forge, event.repo, event.number, event.head_branch)
        if task is None or task.repo == repo.name:
            return f"nothing: {'not a Honk pull request' if task is None else 'the task watches its own'}"
        if not await self.service.other_repo_closed(task.id, repo.name, event.number, event.merged, event.actor):
            return f"nothing: {task.id} has ended or is merging"
        link = task_link(self.service.settings.base_url, task.id)
        if event.merged:
            said = f"Merged outside Honk: recorded on {link}, whose merge order ({task.repo} first) it skipped."
        else:
            said = f"Closed without merging: recorded on {link}. Merging the task is refused here until it is reopened."
        await self._say(repo, event.number, said, pull_request=True)
        return f"recorded on {task.id}: {repo.name}#{event.number} {'merged' if event.merged else 'closed'}"

    async def _pushed(self, repo: RepoRef, event: Pushed) -> str:
        if event.branch is None or event.branch != repo.branch:
            return "nothing: not the repo's target branch"
        moved = [t.id for t in await self.service.tasks_waiting_on(repo.name)]
        for task_id in moved:
            await self.service.target_moved(task_id, event.after)
        await self.service.schedules.sync(repo.name)
        return f"{event.branch} moved: {len(moved)} waiting tasks told; schedules read again"

    async def _say(self, repo: RepoRef, number: int, text: str, pull_request: bool | None = None) -> None:
        try:
            await self.conversation.comment(repo, number, text, pull_request)
        except UserFacingError as e:  # the forge refused Honk's answer: the record says so, the action stands
            log.warning("could not answer on %s#%s: %s", repo.name, number, e.message)


def _what(event: ForgeEvent) -> str:
    match event:
        case Comment():
            return "Honk is not mentioned"
        case Review():
            return f"@{event.actor} {event.verdict.replace('_', ' ')} #{event.number}"
    return f"a {event.kind} event Honk does not act on"
