"""Slack events in, TaskService calls out. Acks come first (Slack's 3-second deadline); the work follows.

One bolt app serves both ways Slack connects: HTTP (`/slack/events`, signatures checked by bolt)
and Socket Mode. Identity comes from `users.info`; who may merge is the gate's decision (policy and settings).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from honk.access import Who
from honk.attachments import Incoming
from honk.domain import SlackThread
from honk.errors import UserFacingError
from honk.events import AttachmentsReceived
from honk.gate import Actor
from honk.service import TaskService
from honk.slack import blocks, intake
from honk.slack import files as slack_files
from honk.slack import thread as slack_thread
from honk.store.slack import SlackStore, SlackUser

log = logging.getLogger("honk.slack")
THREAD_PAGES = 5  # of 200 messages: the thread's newest 50 are quoted
THREAD_PEOPLE = 50  # names looked up per thread (users.info); the rest are quoted by their ids


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
        self.app.action("request_changes")(self._on_request_changes)
        self.app.action("approve_plan")(self._on_approve_plan)
        self.app.action("revise_plan")(self._on_revise_plan)
        self.app.action("open")(self._ack_only)
        self.app.view("request_changes")(self._on_changes_submitted)
        self.app.view("revise_plan")(self._on_plan_changes_submitted)

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
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
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
        else:
            await self._ask(parsed, event)

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
        user = await self._user(event["user"])
        # Who asked, and their team: a streamed message in a channel is for someone (honk.slack.stream).
        thread = SlackThread(
            channel=channel,
            thread_ts=event.get("thread_ts") or ts,
            user_id=event["user"],
            team_id=event.get("user_team") or event.get("team"),
        )
        shared = [f for f in event.get("files") or [] if isinstance(f, dict)]
        in_thread = thread.thread_ts != ts  # asked under an earlier message: the thread is context
        status_ts = None
        if shared or in_thread:
            # The first reply comes before reading the thread and the files: whoever asked sees at once
            # that Honk heard.
            said = "On it — reading " + (
                f"the {len(shared)} file{'s' if len(shared) > 1 else ''} you shared…" if shared else "the thread…"
            )
            status_ts = (await self.client.chat_postMessage(channel=channel, thread_ts=thread.thread_ts, text=said))[
                "ts"
            ]
        files = await slack_files.fetch(shared, self.client.token or "", self.client.base_url) if shared else []
        if in_thread and (context := await self._thread_context(channel, thread.thread_ts, ts)) is not None:
            files.insert(0, context)
        try:
            task, created = await self.service.submit(
                repo,
                ask.text,
                _actor(user),
                ask.agent,
                ask.model,
                request_id=f"slack:{channel}:{ts}",
                slack=thread,
                files=files or None,
                plan=ask.plan,
            )
        except UserFacingError as e:
            if status_ts is not None:
                await self.client.chat_update(channel=channel, ts=status_ts, text=e.message)
            else:
                await self._reply(channel, thread.thread_ts, e.message)
            return
        if not created:
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

    async def _thread_context(self, channel: str, thread_ts: str, request_ts: str) -> Incoming | None:
        """The thread before the request, quoted (honk.slack.thread), as a text file for the agent. Only
        the conversation the request was made in: its requester is in it."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        try:
            for _ in range(THREAD_PAGES):
                page = await self.client.conversations_replies(channel=channel, ts=thread_ts, limit=200, cursor=cursor)
                messages += page.get("messages") or []
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not page.get("has_more") or not cursor:
                    break
            people = {str(m["user"]) for m in messages if m.get("user") and not m.get("bot_id")}
            names = {uid: (await self._user(uid)).name for uid in sorted(people)[:THREAD_PEOPLE]}
        except SlackApiError as e:
            problem = f"Honk could not read the thread ({e.response.get('error', 'error')})"
            return Incoming(slack_thread.NAME, b"", problem=problem)
        quoted = slack_thread.quote(messages, request_ts, lambda uid: names.get(uid, uid))
        if quoted is None:  # nothing but Honk's own messages before the request
            return None
        return Incoming(slack_thread.NAME, quoted.text.encode())

    async def _say_refused(self, task_id: str, channel: str, thread_ts: str) -> None:
        """Each file Honk could not use, with why, in the thread (the task goes on with the rest)."""
        for stored in await self.service.events(task_id, limit=10):
            if isinstance(stored.event, AttachmentsReceived) and stored.event.refused:
                lines = [f"• `{r.name}`: {r.reason}" for r in stored.event.refused]
                await self._reply(channel, thread_ts, "I could not use these files:\n" + "\n".join(lines))

    async def _follow_up(self, task_id: str, event: dict[str, Any]) -> None:
        text = intake.MENTION.sub(" ", event.get("text", "")).strip()
        if not text or text.startswith(self.aside):
            return
        await self.client.reactions_add(channel=event["channel"], timestamp=event["ts"], name="eyes")
        user = await self._user(event["user"])
        try:
            await self.service.follow_up(task_id, text, _actor(user))
        except UserFacingError as e:
            await self._reply(event["channel"], event.get("thread_ts") or event["ts"], e.message)

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
            await self._settle_buttons(body, f"🔀 Merge requested by {user.name}")

    async def _on_cancel(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = await self._user(body["user"]["id"])
        if await self._act(body, lambda: self.service.cancel(action["value"], _actor(user))):
            await self._settle_buttons(body, f"🛑 Cancelled by {user.name}")

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
            await self._settle_buttons(body, f"✅ Plan v{version} approved by {user.name}")

    async def _on_revise_plan(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        task_id, version = _plan_of(action["value"])
        await self.client.views_open(trigger_id=body["trigger_id"], view=blocks.plan_changes_modal(task_id, version))

    async def _on_plan_changes_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = view["state"]["values"]["changes"]["text"]["value"] or ""
        if not text.strip():
            await ack(response_action="errors", errors={"changes": "Say what should change in the plan."})
            return
        await ack()
        task_id, version = _plan_of(view["private_metadata"])
        user = await self._user(body["user"]["id"])
        try:
            await self.service.revise_plan(task_id, text, _actor(user), version)
        except UserFacingError as e:
            thread = await self.slack.thread_of(task_id)
            if thread:
                await self.client.chat_postEphemeral(channel=thread.channel, user=user.user_id, text=e.message)

    async def _act(self, body: dict[str, Any], call: Any) -> bool:
        try:
            await call()
        except UserFacingError as e:
            await self._ephemeral(body, e.message)
            return False
        return True

    async def _settle_buttons(self, body: dict[str, Any], note: str) -> None:
        """The ready message loses its buttons once one was acted on, and says who did what."""
        message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id")
        if not message.get("ts") or not channel:
            return
        kept = [b for b in message.get("blocks", []) if b.get("type") != "actions"]
        kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        await self.client.chat_update(channel=channel, ts=message["ts"], text=message.get("text", note), blocks=kept)

    # -- helpers ------------------------------------------------------------------------
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
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
        await self.client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)

    async def _repo_names(self) -> str:
        return ", ".join(f"`{r.name}`" for r in await self.service.repos()) or "none yet"


def _plan_of(value: str) -> tuple[str, int]:
    """A plan button's value: the task, and the plan version the person saw ("t-…:2")."""
    task_id, _, version = value.partition(":")
    return task_id, int(version) if version.isdigit() else 0


def _actor(user: SlackUser) -> Actor:
    return Actor(who=Who(identity=user.identity, email=user.email, slack_id=user.user_id), front_door="slack")
