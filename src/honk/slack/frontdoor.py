"""Slack events in, TaskService calls out. Acks come first (Slack's 3-second deadline); the work follows.

One bolt app serves both ways Slack connects: HTTP (`/slack/events`, signatures checked by bolt)
and Socket Mode. Identity comes from `users.info`; who may merge is the gate's decision (policy and settings).
Tasks start from a mention, a DM or the Fix with Honk message shortcut, all one way (`_start`); their
buttons work in the task's thread and in the Home tab (honk.slack.home), which lists the person's tasks.
`@honk in every repo …: …` starts a campaign instead (`_campaign`), answered by one message it keeps current.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from honk.access import Who
from honk.attachments import Incoming, accept
from honk.domain import Record, SlackThread, TaskState
from honk.errors import UserFacingError
from honk.events import AttachmentsReceived
from honk.gate import Actor
from honk.service import TaskService
from honk.slack import blocks, campaign_message, home, intake, shortcut
from honk.slack import files as slack_files
from honk.slack import thread as slack_thread
from honk.slack.attempts import PICK_ACTION
from honk.slack.context import RequestContext, SlackContext
from honk.store.slack import SlackStore, SlackUser

log = logging.getLogger("honk.slack")
# Message subtypes that are a person saying something (a reply with a screenshot is a file_share).
PEOPLES_MESSAGES = (None, "file_share", "thread_broadcast")
CANNOT_POST = ("not_in_channel", "channel_not_found", "is_archived")  # where Fix with Honk cannot answer


class Asked(Record):
    """A request made in Slack, however it came: a mention, a DM, or Fix with Honk on a message."""

    channel: str
    ts: str  # the message that asks (with Fix with Honk: the message it was used on)
    thread_ts: str  # where Honk answers: that message's thread, or the message itself
    user_id: str  # who asks
    team_id: str | None = None  # their team: a streamed message in a channel is for someone (honk.slack.stream)
    request_id: str  # the same request made again is the same task
    shortcut: bool = False  # Fix with Honk: the files are the message's; refusals go to the person alone


class SlackFrontDoor:
    def __init__(
        self,
        service: TaskService,
        slack: SlackStore,
        client: AsyncWebClient,
        signing_secret: str | None,
        aside_marker: str,
        base_url: str,
    ) -> None:
        """`slack`: the Slack front door's own records (threads of tasks, channels' default repos,
        events already handled, people); everything about tasks goes through `service`."""
        self.service, self.slack, self.client = service, slack, client
        self.aside, self.base_url = aside_marker, base_url
        self.context = SlackContext(client, self._name_of)
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret or "unused-in-socket-mode",
            request_verification_enabled=signing_secret is not None,
            ignoring_self_events_enabled=True,
        )
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action("merge")(self._on_merge)
        self.app.action("cancel")(self._on_cancel)
        self.app.action("deploy")(self._on_deploy)
        self.app.action("revert")(self._on_revert)
        self.app.action("request_changes")(self._on_request_changes)
        self.app.action("approve_plan")(self._on_approve_plan)
        self.app.action("revise_plan")(self._on_revise_plan)
        self.app.action("allow_host")(self._on_allow_host)
        self.app.action("open")(self._ack_only)
        self.app.action(re.compile(rf"^{PICK_ACTION}_[0-9]+$"))(self._on_pick_attempt)
        self.app.view("request_changes")(self._on_changes_submitted)
        self.app.view("revise_plan")(self._on_plan_changes_submitted)
        self.app.event("app_home_opened")(self._on_home_opened)
        self.app.message_shortcut(shortcut.CALLBACK_ID)(self._on_fix_shortcut)
        self.app.view(shortcut.CALLBACK_ID)(self._on_fix_submitted)

    # -- events -------------------------------------------------------------------------
    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if not await self.slack.first_time(body.get("event_id") or f"{event['channel']}:{event['ts']}"):
            return
        thread_ts = event.get("thread_ts")
        task_id = await self.slack.task_of(event["channel"], thread_ts) if thread_ts else None
        if task_id:  # a mention inside a task's thread is a follow-up
            await self._follow_up(task_id, event)
            return
        await self._intake(event)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("bot_id") or event.get("subtype") not in PEOPLES_MESSAGES or not event.get("user"):
            return  # bots (Honk included), edits and joins are not instructions
        if (
            f"<@{body.get('authorizations', [{}])[0].get('user_id', '')}>" in event.get("text", "")
            and event.get("channel_type") != "im"
        ):
            return  # handled as app_mention
        thread_ts = event.get("thread_ts")
        task_id = await self.slack.task_of(event["channel"], thread_ts) if thread_ts else None
        if not task_id and event.get("channel_type") != "im":
            return  # ordinary channel talk: nothing to do, nothing to remember
        if not await self.slack.first_time(body.get("event_id") or f"{event['channel']}:{event['ts']}"):
            return
        if task_id:
            await self._follow_up(task_id, event)
        elif not thread_ts:
            await self._intake(event)

    async def _intake(self, event: dict[str, Any]) -> None:
        channel, ts = event["channel"], event["ts"]
        parsed = intake.parse(event.get("text", ""))
        if isinstance(parsed, intake.Problem):
            await self._reply(channel, ts, parsed.message)
        elif isinstance(parsed, intake.Command):
            await self._command(parsed, event)
        elif isinstance(parsed, intake.CampaignAsk):
            await self._campaign(parsed, event)
        else:
            await self._ask(parsed, event)

    async def _campaign(self, ask: intake.CampaignAsk, event: dict[str, Any]) -> None:
        """`@honk in every repo …: …` starts a campaign, answered by ONE message in the thread: posted here at
        once, then kept current by the campaign (honk.slack.campaign_message), never a reply per repo."""
        channel, ts = event["channel"], event["ts"]
        user = await self._user(event["user"])
        said = f"On it — a campaign in `{blocks.escaped(ask.selector.describe())}`: choosing the repos…"
        thread_ts = event.get("thread_ts") or ts
        status_ts = str((await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=said))["ts"])
        thread = SlackThread(
            channel=channel,
            thread_ts=thread_ts,
            status_ts=status_ts,  # the campaign's message: the campaign updates this one
            user_id=event["user"],
            team_id=event.get("user_team") or event.get("team"),
        )
        try:
            view, created = await self.service.campaigns.start(
                _actor(user),
                ask.text,
                ask.selector,
                agent=ask.agent,
                model=ask.model,
                request_id=f"slack:{channel}:{ts}",
                slack=thread,
            )
        except UserFacingError as e:
            await self.client.chat_update(channel=channel, ts=status_ts, text=e.message)
            return
        if not created:  # the same message delivered again: its campaign has its message already
            await self.client.chat_delete(channel=channel, ts=status_ts)
            said = f"You asked already: campaign `{view.id}`. <{campaign_message.board_url(self.base_url, view.id)}|Open the board>"
            await self.client.chat_postEphemeral(channel=channel, user=user.user_id, text=said)
            return
        text, body = campaign_message.campaign_blocks(view, self.base_url)
        await self.client.chat_update(channel=channel, ts=status_ts, text=text, blocks=body)

    async def _ask(self, ask: intake.Ask, event: dict[str, Any]) -> None:
        channel, ts = event["channel"], event["ts"]
        repo = ask.repo or await self.slack.default_repo(channel)
        if repo is None:
            await self._reply(
                channel,
                ts,
                "Which repo? Add `repo=NAME`, or set this channel's default with "
                f"`@honk use NAME`. Repos: {await self._repo_names()}.",
            )
            return
        asked = Asked(
            channel=channel,
            ts=ts,
            thread_ts=event.get("thread_ts") or ts,
            user_id=event["user"],
            team_id=event.get("user_team") or event.get("team"),
            request_id=f"slack:{channel}:{ts}",
        )
        await self._start(ask, repo, asked, [f for f in event.get("files") or [] if isinstance(f, dict)])

    async def _start(self, ask: intake.Ask, repo: str, asked: Asked, shared: list[dict[str, Any]]) -> None:
        """Starts the task `asked` for, answering in its thread; `shared`: the files that came with it."""
        channel = asked.channel
        user = await self._user(asked.user_id)
        thread = SlackThread(channel=channel, thread_ts=asked.thread_ts, user_id=asked.user_id, team_id=asked.team_id)
        if ask.attempts:
            await self._start_attempts(ask, repo, asked, user, thread)
            return
        in_thread = thread.thread_ts != asked.ts  # asked under an earlier message: the thread is context
        linked = slack_thread.links([ask.text])
        status_ts = None
        if shared or in_thread or linked or asked.shortcut:
            # The first reply comes before reading the thread and the files: whoever asked sees at once
            # that Honk heard. Fix with Honk always answers first: where Honk may not post, nothing starts.
            try:
                said = _reading(len(shared), in_thread, asked.shortcut, bool(linked))
                status_ts = (
                    await self.client.chat_postMessage(channel=channel, thread_ts=thread.thread_ts, text=said)
                )["ts"]
            except SlackApiError as e:
                if not asked.shortcut or e.response.get("error") not in CANNOT_POST:
                    raise
                await self._cannot_post(asked, str(e.response.get("error")))
                return
        context = RequestContext()
        if in_thread or linked:
            where = thread.thread_ts if in_thread else None
            context = await self.context.of_request(channel, where, ask.text, asked.ts, asked.user_id)
        files: list[Incoming] = []
        wanted = [*shared, *(i for i in context.images if i.get("id") not in {f.get("id") for f in shared})]
        if wanted:
            found, files = await slack_files.look_up(self.client, wanted)
            files += await slack_files.fetch(found, self.client.token or "", self.client.base_url)
        if context.text is not None:
            files.insert(0, context.text)
        try:
            task, created = await self.service.submit(
                repo,
                ask.text,
                _actor(user),
                ask.agent,
                ask.model,
                request_id=asked.request_id,
                slack=thread,
                files=files or None,
                plan=ask.plan,
                also=ask.also,
            )
        except UserFacingError as e:
            await self._refused(asked, status_ts, e.message)
            return
        if not created:  # asked again (the form sent twice at once): the task is the first one
            if status_ts is not None:  # its "On it" promised a new task
                await self.client.chat_delete(channel=channel, ts=status_ts)
            said = (
                f"You asked already: `{task.id}` on *{task.repo}* — {blocks.STATE_LINE[task.state]}. "
                f"<{blocks.task_url(self.base_url, task.id)}|Open the task>"
            )
            await self.client.chat_postEphemeral(channel=channel, user=asked.user_id, text=said)
            return
        text, body = blocks.on_it(task, self.base_url)
        if status_ts is not None:
            await self.client.chat_update(channel=channel, ts=status_ts, text=text, blocks=body)
        else:
            status_ts = (
                await self.client.chat_postMessage(channel=channel, thread_ts=thread.thread_ts, text=text, blocks=body)
            )["ts"]
        await self.slack.link(task.id, thread.model_copy(update={"status_ts": status_ts}))
        if files:
            await self._say_refused(task.id, channel, thread.thread_ts)
        if context.left_out:
            left = "\n".join(f"• {why}" for why in context.left_out)
            await self._reply(channel, thread.thread_ts, f"I left out:\n{left}")

    async def _start_attempts(
        self, ask: intake.Ask, repo: str, asked: Asked, user: SlackUser, thread: SlackThread
    ) -> None:
        """`@honk best of N: …`: one answer, with what the attempts may cost and the ranking's page; the group
        posts the ranking in the thread once every attempt settled (honk.slack.attempts)."""
        try:
            estimate = await self.service.attempts.estimate(repo, ask.attempts)
            view, _ = await self.service.attempts.start(
                _actor(user),
                repo,
                ask.text,
                ask.attempts,
                agents=[ask.agent] if ask.agent else None,
                model=ask.model,
                request_id=asked.request_id,
                slack=thread,
                plan=ask.plan,
            )
        except UserFacingError as e:
            await self._refused(asked, None, e.message)
            return
        page = f"{self.base_url.rstrip('/')}/attempts/{view.group}"
        await self._reply(
            asked.channel,
            thread.thread_ts,
            f"On it: {view.n} independent attempts on *{view.repo}*. {estimate.line()} "
            f"<{page}|The ranking> fills in as they finish; I post it here when all are done.",
        )

    async def _refused(self, asked: Asked, status_ts: str | None, message: str) -> None:
        """Why the task did not start: in the thread, or, for Fix with Honk (used on someone else's
        message), to the person alone, its "On it" taken back."""
        if asked.shortcut:
            if status_ts is not None:
                await self.client.chat_delete(channel=asked.channel, ts=status_ts)
            await self.client.chat_postEphemeral(channel=asked.channel, user=asked.user_id, text=message)
        elif status_ts is not None:
            await self.client.chat_update(channel=asked.channel, ts=status_ts, text=message)
        else:
            await self._reply(asked.channel, asked.thread_ts, message)

    async def _cannot_post(self, asked: Asked, error: str) -> None:
        """Honk may not post where Fix with Honk was used: it says so in its own DM with the person."""
        await self.client.chat_postMessage(
            channel=asked.user_id,
            text=f"I could not answer in <#{asked.channel}> ({error}), so nothing was started. Invite @honk "
            "there (`/invite @honk`), then use *Fix with Honk* on the message again.",
        )

    async def _say_refused(self, task_id: str, channel: str, thread_ts: str) -> None:
        """Each file Honk could not use, with why, in the thread (the task goes on with the rest)."""
        for stored in await self.service.events(task_id, limit=10):
            if isinstance(stored.event, AttachmentsReceived) and stored.event.refused:
                lines = [f"• `{r.name}`: {r.reason}" for r in stored.event.refused]
                await self._reply(channel, thread_ts, "I could not use these files:\n" + "\n".join(lines))

    async def _follow_up(self, task_id: str, event: dict[str, Any]) -> None:
        text = intake.MENTION.sub(" ", event.get("text", "")).strip()
        shared = [f for f in event.get("files") or [] if isinstance(f, dict)]
        if text.startswith(self.aside) or not (text or shared):
            return
        await self.client.reactions_add(channel=event["channel"], timestamp=event["ts"], name="eyes")
        user = await self._user(event["user"])
        thread_ts = event.get("thread_ts") or event["ts"]
        # A reply with a new screenshot: the files come with the follow-up, fetched as a request's are.
        files = await slack_files.fetch(shared, self.client.token or "", self.client.base_url) if shared else []
        thread = await self.slack.thread_of(task_id)
        if thread is not None and (talk := await self.context.since_request(thread, event["ts"])) is not None:
            files.insert(0, talk)
        try:
            await self.service.follow_up(task_id, text or "Look at the file(s) I shared.", _actor(user), files or None)
        except UserFacingError as e:
            await self._reply(event["channel"], thread_ts, e.message)
            return
        if files and (refused := accept(files)[1]):  # the same judgement the service made of them
            lines = [f"• `{r.name}`: {r.reason}" for r in refused]
            await self._reply(event["channel"], thread_ts, "I could not use these files:\n" + "\n".join(lines))

    async def _command(self, command: intake.Command, event: dict[str, Any]) -> None:
        channel, ts = event["channel"], event["ts"]
        if command.name == "help":
            await self._reply(channel, ts, intake.HELP.format(aside=self.aside))
        elif command.name == "use":
            try:
                repo = await self.service.repo(command.argument or "")
            except UserFacingError as e:
                await self._reply(channel, ts, f"{e.message}")
                return
            await self.slack.set_default_repo(channel, repo.name)
            await self._reply(channel, ts, f"This channel's default repo is now *{repo.name}*.")
        else:
            user = await self._user(event["user"])
            mine = command.name == "list"
            tasks = await self.service.tasks(requested_by=user.identity if mine else None, limit=10)
            lines = [f"• `{t.id}` {blocks.STATE_LINE[t.state]} — {t.repo}: {t.text[:60]}" for t in tasks]
            await self._reply(channel, ts, "\n".join(lines) or "No tasks yet.")

    # -- buttons and the modal ----------------------------------------------------------
    async def _ack_only(self, ack: Any) -> None:
        await ack()

    async def _on_merge(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = await self._user(body["user"]["id"])
        if await self._act(body, lambda: self.service.merge(action["value"], _actor(user))):
            await self._settle_buttons(body, action["value"], f"🔀 Merge requested by {user.name}")

    async def _on_pick_attempt(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A best-of-N ranking's Pick button (honk.slack.attempts): its value is `<group> <task id>`."""
        await ack()
        user = await self._user(body["user"]["id"])
        group, _, task_id = str(action.get("value", "")).partition(" ")
        if await self._act(body, lambda: self.service.attempts.pick(group, task_id, _actor(user))):
            await self._settle_buttons(
                body, task_id, f"Attempt `{task_id}` picked by {user.name}; the others are cancelled"
            )

    async def _on_cancel(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = await self._user(body["user"]["id"])
        if await self._act(body, lambda: self.service.cancel(action["value"], _actor(user))):
            await self._settle_buttons(body, action["value"], f"🛑 Cancelled by {user.name}")

    async def _on_deploy(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Deploy, under a held deploy: someone who may deploy starts it (anyone else is told why, alone)."""
        await ack()
        user = await self._user(body["user"]["id"])
        if await self._act(body, lambda: self.service.deploy(action["value"], _actor(user))):
            await self._settle_buttons(body, action["value"], f"🚀 Deploy started by {user.name}")

    async def _on_revert(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Revert, under a failed deploy: a task that reverts the merged change, said in the same thread
        (its milestones are posted there); refused, the person alone is told why."""
        await ack()
        task_id = str(action.get("value") or "")
        user = await self._user(body["user"]["id"])
        thread = await self.slack.thread_of(task_id)
        # The revert task answers in this task's thread, as asked by whoever pressed Revert.
        slack = thread.model_copy(update={"status_ts": None, "user_id": user.user_id}) if thread else None
        reverting: list[str] = []

        async def revert() -> None:
            reverting.append((await self.service.revert(task_id, _actor(user), slack=slack)).id)

        if not await self._act(body, revert):
            return
        await self._settle_buttons(body, task_id, f"↩️ Revert asked by {user.name}: task `{reverting[0]}`")
        if thread is not None:
            await self._reply(
                thread.channel,
                thread.thread_ts,
                f"↩️ Reverting `{task_id}`'s change: task `{reverting[0]}` makes the revert, runs the checks and "
                f"merges by the repo's policy; the deploy then puts back what was live. "
                f"<{blocks.task_url(self.base_url, reverting[0])}|Open the revert task>",
            )

    async def _on_allow_host(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """*Allow host for this repo*: the presser's own allowance (the repo's admins only; anyone else is
        told who may, alone), said in the task's thread. Nothing is re-run."""
        await ack()
        task_id, phase, host = _allowance_of(str(action.get("value") or ""))
        user = await self._user(body["user"]["id"])
        try:
            task, done = await self.service.allow_refused_host(_actor(user), task_id, host, phase)
        except UserFacingError as e:
            await self._ephemeral(body, e.message)
            return
        host = done.allowance.host
        if not done.added:
            await self._ephemeral(
                body, f"{host} was already allowed for {phase} in {task.repo} (by {done.allowance.updated_by})."
            )
            return
        said = (
            f"Allowed {host} for {phase} in {task.repo} (by {user.name}). Nothing was re-run: ask again or "
            "follow up to use it."
        )
        thread = await self.slack.thread_of(task_id)
        if thread is not None:
            await self._reply(thread.channel, thread.thread_ts, said)
        else:  # a task not asked in Slack has no thread: said to the person
            await self._ephemeral(body, said)

    async def _on_request_changes(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await self.client.views_open(trigger_id=body["trigger_id"], view=blocks.follow_up_modal(action["value"]))

    async def _on_changes_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = view["state"]["values"]["changes"]["text"]["value"] or ""
        if not text.strip():
            await ack(response_action="errors", errors={"changes": "Say what should change."})
            return
        await ack()
        user = await self._user(body["user"]["id"])
        try:
            await self.service.follow_up(view["private_metadata"], text, _actor(user))
        except UserFacingError as e:
            thread = await self.slack.thread_of(view["private_metadata"])
            if thread:
                await self.client.chat_postEphemeral(channel=thread.channel, user=user.user_id, text=e.message)

    async def _on_approve_plan(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        task_id, version = _plan_of(action["value"])
        user = await self._user(body["user"]["id"])
        if await self._act(body, lambda: self.service.approve_plan(task_id, _actor(user), version)):
            await self._settle_buttons(body, task_id, f"✅ Plan v{version} approved by {user.name}")

    async def _on_revise_plan(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        task_id, version = _plan_of(action["value"])
        modal = blocks.plan_changes_modal(task_id, version, from_home=_from_home(body))
        await self.client.views_open(trigger_id=body["trigger_id"], view=modal)

    async def _on_plan_changes_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = view["state"]["values"]["changes"]["text"]["value"] or ""
        if not text.strip():
            await ack(response_action="errors", errors={"changes": "Say what should change in the plan."})
            return
        await ack()
        task_id, version = _plan_of(view["private_metadata"])
        from_home = view["private_metadata"].endswith(f":{blocks.FROM_HOME}")
        user = await self._user(body["user"]["id"])
        try:
            await self.service.revise_plan(task_id, text, _actor(user), version)
        except UserFacingError as e:
            if from_home:
                await self._publish_home(user.user_id, notice=f"⚠️ {e.message}")
            elif thread := await self.slack.thread_of(task_id):
                await self.client.chat_postEphemeral(channel=thread.channel, user=user.user_id, text=e.message)
            return
        if from_home:
            await self._publish_home(
                user.user_id, settled={task_id: f"✏️ Changes to plan v{version} asked by {user.name}"}
            )

    # -- Fix with Honk (a message shortcut) -------------------------------------------------
    async def _on_fix_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        """The form, prefilled from the message (its files named, the channel's default repo chosen)."""
        await ack()
        origin = shortcut.origin_of(body)
        if origin is None:  # a shortcut payload without a message: nothing to start from
            log.warning("Fix with Honk without a message: %s", body.get("type"))
            return
        repos = [r.name for r in await self.service.repos()]
        if not repos:
            await self.client.views_open(trigger_id=body["trigger_id"], view=shortcut.no_repos_form())
            return
        message = body.get("message") or {}
        default = await self.slack.default_repo(origin.channel)
        form = shortcut.form(origin, shortcut.said(message), shortcut.file_names(message), repos, default)
        await self.client.views_open(trigger_id=body["trigger_id"], view=form)

    async def _on_fix_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """What keeps the form from starting a task is said on its field before it closes; then the task
        starts the way a mention's does, in the message's thread, requested by whoever used the shortcut."""
        origin = shortcut.from_metadata(view.get("private_metadata"))
        if origin is None:
            problem = "Honk did not open this form, so it starts nothing. Use Fix with Honk on the message again."
            await ack(response_action="errors", errors={shortcut.REQUEST: problem})
            return
        form = shortcut.filled(view)
        user = await self._user(body["user"]["id"])
        errors = await self._form_errors(form, origin, user)
        if errors or form.repo is None:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        asked = Asked(
            channel=origin.channel,
            ts=origin.ts,
            thread_ts=origin.thread_ts,
            user_id=user.user_id,
            team_id=(body.get("user") or {}).get("team_id") or (body.get("team") or {}).get("id"),
            # One person's request about one message is one task, however often the form is sent.
            request_id=f"slack:{origin.channel}:{origin.ts}:{user.user_id}",
            shortcut=True,
        )
        await self._start(
            intake.Ask(text=form.text, plan=form.plan), form.repo, asked, [{"id": f} for f in origin.files]
        )

    async def _form_errors(self, form: shortcut.Filled, origin: shortcut.Origin, user: SlackUser) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not form.text:
            errors[shortcut.REQUEST] = "Say what should change."
        if form.repo is None:
            errors[shortcut.REPO] = "Choose the repo to change."
        else:
            try:  # an unknown repo, or the policy's refusal: said on the repo picker
                await self.service.may_request(form.repo, _actor(user))
            except UserFacingError as e:
                errors[shortcut.REPO] = e.message
        if not errors and (task_id := await self.slack.task_of(origin.channel, origin.thread_ts)):
            errors[shortcut.REQUEST] = (
                f"This thread is already Honk's task {task_id}: reply in the thread to ask for changes."
            )
        return errors

    # -- the Home tab -----------------------------------------------------------------------
    async def _on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab") == "home":  # the Messages tab is Honk's DM: nothing to publish
            await self._publish_home(event["user"])

    async def _publish_home(
        self, user_id: str, notice: str | None = None, settled: dict[str, str] | None = None
    ) -> None:
        """The person's Home: their newest tasks and what they can do (honk.slack.home)."""
        user = await self._user(user_id)
        tasks = await self.service.tasks(requested_by=user.identity, limit=home.TASKS)
        versions = {
            t.id: (await self.service.timeline(t.id)).plan_version for t in tasks if t.state == TaskState.plan_ready
        }
        merged = {t.id: await self.service.timeline(t.id) for t in tasks if t.state == TaskState.merged}
        view = home.view(tasks, versions, self.base_url, notice, settled, merged)
        await self.client.views_publish(user_id=user_id, view=view)

    async def _act(self, body: dict[str, Any], call: Any) -> bool:
        try:
            await call()
        except UserFacingError as e:
            await self._ephemeral(body, e.message)
            return False
        return True

    async def _settle_buttons(self, body: dict[str, Any], task_id: str, note: str) -> None:
        """The ready message loses its buttons once one was acted on, and says who did what; pressed in
        the Home tab, Home is published again, the note in place of that task's buttons."""
        if _from_home(body):
            await self._publish_home(body["user"]["id"], settled={task_id: note})
            return
        message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id")
        if not message.get("ts") or not channel:
            return
        kept = [b for b in message.get("blocks", []) if b.get("type") != "actions" or _links_only(b)]
        kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        await self.client.chat_update(channel=channel, ts=message["ts"], text=message.get("text", note), blocks=kept)

    # -- helpers ------------------------------------------------------------------------
    async def _name_of(self, user_id: str) -> str:
        return (await self._user(user_id)).name

    async def _user(self, user_id: str) -> SlackUser:
        known = await self.slack.user(user_id)
        if known:
            return known
        info = (await self.client.users_info(user=user_id)).get("user") or {}
        profile = info.get("profile", {})
        user = SlackUser(
            user_id=user_id,
            email=profile.get("email"),
            name=profile.get("real_name") or info.get("name", user_id),
        )
        await self.slack.remember_user(user)
        return user

    async def _reply(self, channel: str, thread_ts: str, text: str) -> None:
        await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)

    async def _ephemeral(self, body: dict[str, Any], text: str) -> None:
        """Said to the person alone: in the conversation of the button, or at the top of their Home."""
        if _from_home(body):
            await self._publish_home(body["user"]["id"], notice=f"⚠️ {text}")
            return
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
        await self.client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)

    async def _repo_names(self) -> str:
        return ", ".join(f"`{r.name}`" for r in await self.service.repos()) or "none yet"


def _plan_of(value: str) -> tuple[str, int]:
    """A plan button's value: the task, and the plan version the person saw ("t-…:2"; its modal's
    private_metadata may end with ":home", blocks.FROM_HOME)."""
    task_id, _, version = value.partition(":")
    version = version.removesuffix(f":{blocks.FROM_HOME}")
    return task_id, int(version) if version.isdigit() else 0


def _allowance_of(value: str) -> tuple[str, str, str]:
    """An Allow host button's value: the task, the phase and the host ("t-…:check:pypi.org", the host
    perhaps with a port). Checked by the service against what the task was refused."""
    task_id, _, rest = value.partition(":")
    phase, _, host = rest.partition(":")
    return task_id, phase, host


def _links_only(block: dict[str, Any]) -> bool:
    """Buttons that only open a link (Install, Open production) stay once the message's actions are settled."""
    elements = block.get("elements") or []
    return bool(elements) and all(isinstance(e, dict) and e.get("url") for e in elements)


def _from_home(body: dict[str, Any]) -> bool:
    """A button pressed in the Home tab: no conversation, no message to answer in."""
    view = body.get("view")
    return isinstance(view, dict) and view.get("type") == "home"


def _reading(files: int, in_thread: bool, from_shortcut: bool, linked: bool = False) -> str:
    """The first reply, before the files, the thread and linked messages are read."""
    if files:
        whose = "with the message" if from_shortcut else "you shared"
        return f"On it — reading the {files} file{'s' if files > 1 else ''} {whose}…"
    if in_thread:
        return "On it — reading the thread…"
    return "On it — reading the messages you linked…" if linked else "On it…"


def _actor(user: SlackUser) -> Actor:
    return Actor(who=Who(identity=user.identity, email=user.email, slack_id=user.user_id), front_door="slack")
