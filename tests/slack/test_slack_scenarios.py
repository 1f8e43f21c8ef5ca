"""From a phone in a Slack thread to a merged change: signed requests to the real endpoint, a
loopback fake Slack Web API recording what Honk says, real Temporal, workers and git."""

from __future__ import annotations

import json
import re
import time

from honk.build.screenshot import browser
from honk.domain import TaskState
from honk.testing.fake_slack import (
    SLACK_SECRET,
    FakeSlack,
    block_action,
    event_body,
    interaction_body,
    mention_event,
    message_event,
    sign,
)
from honk.testing.processes import HonkStack, wait_until
from repos import DIRECT_FIX, FOLLOW_UP_STEP, calc_files, plan_step, sample_files, scenario, slow_fix

SECRET = SLACK_SECRET  # what the `slack_stack` fixture (tests/conftest.py) verifies requests with


def post_event(
    stack: HonkStack, envelope: dict, retry: int | None = None, secret: str = SECRET, timestamp: int | None = None
):
    body = event_body(envelope)
    headers = {"Content-Type": "application/json", **sign(secret, body, timestamp)}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return stack.http.post("/slack/events", content=body, headers=headers)


def post_action(stack: HonkStack, payload: dict):
    body = interaction_body(payload)
    return stack.http.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)},
    )


def thread_posts(slack: FakeSlack, thread_ts: str) -> list[dict]:
    return [c.args for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == thread_ts]


def start_task(stack: HonkStack, slack: FakeSlack, text: str = "<@UHONK> make add() add repo=calc") -> tuple[str, str]:
    """A mention that starts a task: returns its thread ts and the task id, once Honk has answered."""
    mention = mention_event(text)
    post_event(stack, mention)
    ts = mention["event"]["ts"]
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)
    return ts, task_in(stack)


def task_in(stack: HonkStack) -> str:
    tasks = stack.http.get("/api/tasks").json()
    assert len(tasks) == 1, tasks
    return tasks[0]["id"]


def test_mention_to_ready_with_qr_and_buttons_then_merge(slack_stack, slack, make_remote):
    remote = make_remote(sample_files())
    slack_stack.add_repo("sample", remote.url)
    mention = mention_event("<@UHONK> fix the crash when a playlist is empty repo=sample", user="U1")
    ts = mention["event"]["ts"]
    started = time.monotonic()
    assert post_event(slack_stack, mention).status_code == 200
    on_it = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)[0]
    assert time.monotonic() - started < 3 and "On it" in on_it.args["text"]
    task_id = task_in(slack_stack)
    assert task_id in on_it.args["text"]
    page = slack_stack.http.get(f"/tasks/{task_id}")  # the link in the reply
    assert page.status_code == 200 and "fix the crash when a playlist is empty" in page.text

    assert slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
    ready = slack.wait_for("chat.postMessage", where=lambda c: "Ready for review" in c.args.get("text", ""))[0]
    rows = [[a["action_id"] for a in b["elements"]] for b in ready.args["blocks"] if b["type"] == "actions"]
    [actions] = [
        b["elements"]
        for b in ready.args["blocks"]
        if b["type"] == "actions" and b["elements"][0]["action_id"] == "merge"
    ]
    assert [a["action_id"] for a in actions] == ["merge", "request_changes", "cancel", "open"], rows
    # The sample's app on the phone: its Install button, to the signed install page.
    install = [
        a
        for b in ready.args["blocks"]
        if b["type"] == "actions"
        for a in b["elements"]
        if a.get("text", {}).get("text") == "Install"
    ]
    assert install and f"{slack_stack.url}/install/" in install[0]["url"], rows
    assert actions[0]["confirm"], "Merge asks for confirmation"
    rendered = json.dumps(ready.args["blocks"], ensure_ascii=False)
    # The live preview's signed link (a phone in Slack has no Honk session), at the task's own origin.
    assert "✅ test" in rendered and f"{task_id}.localhost:{slack_stack.port}/__honk/enter?t=" in rendered
    shots = 1 if browser() else 0  # .ci/run installs Chromium; a bare machine may not have it
    slack.wait_for("files.completeUploadExternal", count=2 + shots)  # QR code, [before/after], small artifact
    pngs = {f.filename: f.data for f in slack.files.values() if f.data and f.data.startswith(b"\x89PNG")}
    assert f"{task_id}-qr.png" in pngs, "a QR code image"
    if shots:  # the images themselves, uploaded: the route that changed most, on a phone, before and after
        names = sorted(n for n in pngs if "-phone-" in n)
        assert [n.rsplit("-", 1)[1] for n in names] == ["after.png", "before.png"], names
        assert all(len(pngs[n]) > 5000 for n in names)
    assert slack.calls_to("chat.update"), "the status message is updated in place"

    # A follow-up in the thread changes what "/" shows: the thread gets before, after and what changed.
    more = message_event("Also show 'No tracks yet' on the page when a playlist is empty.", user="U1", thread_ts=ts)
    assert post_event(slack_stack, more).status_code == 200
    wait_until(lambda: slack_stack.kinds(task_id).count("task_ready") == 2, 120, "the follow-up's new version")
    if shots:
        slack.wait_for("files.completeUploadExternal", count=4 + 2 * shots)
        diffs = [f for f in slack.files.values() if f.filename.endswith("-phone-diff.png")]
        assert len(diffs) == 1 and diffs[0].data.startswith(b"\x89PNG"), "what changed, as an image"

    ready_ts = "1700000099.000100"
    assert post_action(slack_stack, block_action("merge", task_id, user="U2", message_ts=ready_ts)).status_code == 200
    settled = slack.wait_for("chat.update", where=lambda c: c.args.get("ts") == ready_ts)[0]
    assert not [b for b in settled.args["blocks"] if b["type"] == "actions"], "the buttons are gone"
    assert "Merge requested by Bo" in json.dumps(settled.args["blocks"])
    merged = slack_stack.wait_for(task_id, TaskState.merged, TaskState.failed)
    assert merged.state == TaskState.merged, merged.reason
    slack.wait_for("chat.postMessage", where=lambda c: "Merged" in c.args.get("text", ""))
    message = remote.message()
    assert "Requested-by: ana@example.com" in message and "Approved-by: bo@example.com" in message


def test_follow_ups_before_the_workspace_and_while_busy_are_applied(slack_stack, slack, make_remote):
    remote = make_remote(calc_files(slow_fix(3) + FOLLOW_UP_STEP))
    slack_stack.add_repo("calc", remote.url)
    mention = mention_event("<@UHONK> make add() add repo=calc")
    ts = mention["event"]["ts"]
    post_event(slack_stack, mention)
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)
    task_id = task_in(slack_stack)
    early = message_event("add a docstring", user="U1", thread_ts=ts)
    assert post_event(slack_stack, early).status_code == 200
    aside = message_event("// ana, is this the right repo?", user="U2", thread_ts=ts)
    post_event(slack_stack, aside)
    slack.wait_for("reactions.add", where=lambda c: c.args.get("timestamp") == early["event"]["ts"])

    wait_until(
        lambda: (
            slack_stack.kinds(task_id).count("agent_finished") == 2
            and slack_stack.task(task_id).state == TaskState.ready
        ),
        90,
        "the follow-up applied",
    )
    follow_ups = [e.event for e in slack_stack.events(task_id) if e.event.kind == "follow_up_received"]
    assert [(f.text, f.by) for f in follow_ups] == [("add a docstring", "ana@example.com")]
    assert not [c for c in slack.calls_to("reactions.add") if c.args.get("timestamp") == aside["event"]["ts"]]


def test_a_retried_event_creates_one_task_and_one_reply(slack_stack, slack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    slack_stack.add_repo("calc", remote.url)
    mention = mention_event("<@UHONK> make add() add repo=calc")
    assert post_event(slack_stack, mention).status_code == 200
    assert post_event(slack_stack, mention, retry=1).status_code == 200
    ts = mention["event"]["ts"]
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)
    task_id = task_in(slack_stack)
    slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed)
    on_its = [p for p in thread_posts(slack, ts) if p["text"].startswith("On it")]
    assert len(on_its) == 1


def test_forged_or_stale_signatures_get_401_and_start_nothing(slack_stack, slack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    slack_stack.add_repo("calc", remote.url)
    forged = post_event(slack_stack, mention_event("<@UHONK> make add() add repo=calc"), secret="wrong")
    stale = post_event(
        slack_stack, mention_event("<@UHONK> make add() add repo=calc"), timestamp=int(time.time()) - 3600
    )
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert slack_stack.http.get("/api/tasks").json() == []
    assert slack.calls_to("chat.postMessage") == []


def test_no_repo_lists_the_choices_and_starts_nothing(slack_stack, slack, make_remote):
    slack_stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    mention = mention_event("<@UHONK> make add() add")
    post_event(slack_stack, mention)
    reply = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == mention["event"]["ts"])[0]
    assert "Which repo?" in reply.args["text"] and "`calc`" in reply.args["text"]
    assert slack_stack.http.get("/api/tasks").json() == []


def test_an_unauthorized_merge_is_refused_in_private_and_changes_nothing(slack_stack, slack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    slack_stack.add_repo("calc", remote.url)
    _, task_id = start_task(slack_stack, slack)
    slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed)
    before = remote.head()
    post_action(slack_stack, block_action("merge", task_id, user="U1"))
    refusal = slack.wait_for("chat.postEphemeral")[0]
    assert refusal.args["user"] == "U1" and "not allowed to merge" in refusal.args["text"]
    assert slack_stack.task(task_id).state == TaskState.ready and remote.head() == before


def test_socket_mode_delivers_the_same_story(tmp_path, temporal, slack, make_remote):
    from honk.testing.fake_socket_mode import FakeSocketMode

    socket = FakeSocketMode(slack).start()
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        slack_bot_token="xoxb-test-token",
        slack_app_token="xapp-test-token",
        slack_api_url=slack.api_url,
        slack_mergers='["bo@example.com"]',
    )
    try:
        socket.wait_connected(timeout=20)
        remote = make_remote(calc_files(DIRECT_FIX))
        stack.add_repo("calc", remote.url)
        mention = mention_event("<@UHONK> make add() add repo=calc", user="U1")
        socket.wait_ack(socket.push_event(mention), timeout=5)
        ts = mention["event"]["ts"]
        slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)
        task_id = task_in(stack)
        assert stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
        slack.wait_for("chat.postMessage", where=lambda c: "Ready for review" in c.args.get("text", ""))
        socket.wait_ack(socket.push_interaction(block_action("merge", task_id, user="U2", message_ts=ts)))
        assert stack.wait_for(task_id, TaskState.merged, TaskState.failed).state == TaskState.merged
        assert "Approved-by: bo@example.com" in remote.message()
        unsigned = stack.http.post("/slack/events", json=mention)
        assert unsigned.status_code == 404, "without a signing secret there is no HTTP endpoint to forge"
    finally:
        stack.stop()
        socket.stop()


def test_commands_help_use_list_and_status(slack_stack, slack, make_remote):
    slack_stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)

    def say(text: str) -> str:
        event = mention_event(f"<@UHONK> {text}", channel="C9")
        post_event(slack_stack, event)
        return slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == event["event"]["ts"])[
            0
        ].args["text"]

    assert "@honk use REPO" in say("help") and "//" in say("help")
    assert "Unknown repo 'nope'" in say("use nope")
    assert "default repo is now *calc*" in say("use calc")
    assert say("list") == "No tasks yet."
    say("make add() add")  # the channel's default repo: no repo= needed
    task_id = task_in(slack_stack)
    assert task_id in say("list") and task_id in say("status")


def test_request_changes_opens_a_modal_and_its_text_becomes_a_follow_up(slack_stack, slack, make_remote):
    from honk.testing.fake_slack import view_submission

    remote = make_remote(calc_files(DIRECT_FIX + FOLLOW_UP_STEP))
    slack_stack.add_repo("calc", remote.url)
    _, task_id = start_task(slack_stack, slack)
    slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed)

    post_action(slack_stack, block_action("request_changes", task_id, user="U1", trigger_id="trig-1"))
    modal = slack.wait_for("views.open")[0].args
    assert modal["trigger_id"] == "trig-1" and modal["view"]["private_metadata"] == task_id
    empty = post_action(slack_stack, view_submission("request_changes", task_id, {"changes": {"text": " "}}))
    assert empty.status_code == 200 and "errors" in empty.json()
    post_action(slack_stack, view_submission("request_changes", task_id, {"changes": {"text": "add a docstring"}}))
    wait_until(lambda: slack_stack.kinds(task_id).count("task_ready") == 2, 60, "the change applied")
    received = [e.event for e in slack_stack.events(task_id) if e.event.kind == "follow_up_received"]
    assert [(r.text, r.by) for r in received] == [("add a docstring", "ana@example.com")]


def test_cancel_button_and_a_button_on_a_finished_task(slack_stack, slack, make_remote):
    remote = make_remote(calc_files(slow_fix(30)))
    slack_stack.add_repo("calc", remote.url)
    _, task_id = start_task(slack_stack, slack)
    wait_until(lambda: "agent_started" in slack_stack.kinds(task_id), 30, "the agent to start")
    post_action(slack_stack, block_action("cancel", task_id, user="U1"))
    assert slack_stack.wait_for(task_id, TaskState.cancelled, TaskState.failed).state == TaskState.cancelled
    slack.wait_for("chat.postMessage", where=lambda c: "Cancelled" in c.args.get("text", ""))

    post_action(slack_stack, block_action("merge", task_id, user="U2"))
    stale = slack.wait_for("chat.postEphemeral")[0]
    assert stale.args["user"] == "U2" and "cancelled" in stale.args["text"]


def test_a_sign_in_link_can_be_sent_as_a_slack_dm(slack_stack, slack):
    assert slack_stack.honk("user", "add", "ana@example.com").returncode == 0
    sent = slack_stack.honk("user", "link", "ana@example.com", "--slack")
    assert sent.returncode == 0, sent.stderr
    dm = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == "U1")[0]
    assert "/login/" in dm.args["text"] and "/login/" not in sent.stdout, "the link went to Slack only"
    unknown = slack_stack.honk("user", "link", "nobody@example.com", "--slack")
    assert unknown.returncode == 1 and "no account" in unknown.stderr


def test_the_access_policy_holds_in_slack_too(tmp_path, temporal, slack, make_remote):
    policy = (
        '[users."ana@example.com"]\nslack = "U1"\n[repos."*"]\nrequesters = ["*"]\nmergers = ["*"]\ntwo_person = true\n'
    )
    stack = HonkStack(tmp_path / "honk", temporal.address, policy=policy, **slack.settings())
    try:
        stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
        stranger = mention_event("<@UHONK> make add() add repo=calc", user="U2")
        post_event(stack, stranger)
        reply = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == stranger["event"]["ts"])
        assert reply[0].args["text"].startswith("Refused by policy rule users:")
        assert stack.http.get("/api/tasks").json() == []

        _, task_id = start_task(stack, slack)  # Ana may ask…
        stack.wait_for(task_id, TaskState.ready, TaskState.failed)
        post_action(stack, block_action("merge", task_id, user="U1"))  # …but not approve her own change
        refusal = slack.wait_for("chat.postEphemeral")[0]
        assert refusal.args["text"].startswith('Refused by policy rule repos."*".two_person:')
        assert stack.task(task_id).state == TaskState.ready
        audit = stack.http.get("/api/audit", params={"outcome": "refused"}).json()
        assert {(a["actor"], a["action"], a["rule"], a["front_door"]) for a in audit} == {
            ("bo@example.com", "request", "users", "slack"),
            ("ana@example.com", "merge", 'repos."*".two_person', "slack"),
        }
    finally:
        stack.stop()


def test_a_screenshot_in_the_mention_reaches_the_task_and_a_30_mb_file_is_refused_in_the_thread(
    slack_stack, slack, make_remote
):
    """On a phone: `@honk fix this` with a screenshot (and a screen recording too big to take). Honk
    answers before it downloads anything, fetches the files with its bot token (the fake refuses any
    other), keeps the screenshot for the agent and says in the thread why the recording was not used."""
    import io

    from PIL import Image

    remote = make_remote(calc_files(DIRECT_FIX + FOLLOW_UP_STEP))
    slack_stack.add_repo("calc", remote.url)
    shot = io.BytesIO()
    Image.new("RGB", (390, 844), "white").save(shot, "PNG")
    files = [
        slack.share_file("Screenshot 2026-12-02.png", shot.getvalue(), "image/png"),
        slack.share_file("recording.mov", b"", "video/quicktime") | {"size": 30 << 20},
        {"id": "F0", "name": "elsewhere.png", "url_private": "https://attacker.example/x.png", "size": 10},
    ]
    mention = mention_event("<@UHONK> fix this repo=calc", files=files)
    ts = mention["event"]["ts"]
    assert post_event(slack_stack, mention).status_code == 200
    first = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)[0]
    assert "reading the 3 files" in first.args["text"]
    refused = slack.wait_for("chat.postMessage", where=lambda c: "could not use" in c.args.get("text", ""))[0]
    assert "`recording.mov`: it is 30.0 MB; the limit is 20.0 MB" in refused.args["text"]
    assert "`elsewhere.png`: it is not a file stored in Slack" in refused.args["text"]
    task_id = task_in(slack_stack)
    got = [e.event for e in slack_stack.events(task_id) if e.event.kind == "attachments_received"][0]
    assert [a.name for a in got.kept] == ["Screenshot-2026-12-02.png"]
    assert slack.downloads == [(files[0]["id"], "xoxb-test-token")], "only the Slack-hosted file, with the bot token"
    # The first reply becomes the task's status message once the task exists.
    slack.wait_for("chat.update", where=lambda c: task_id in c.args.get("text", ""))
    assert slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready

    # People talk in the thread (an aside), then a reply with a new screenshot (and the recording
    # again): a follow-up with its file, and what was said since the request as its context.
    slack.say("C1", "U2", "// only on iOS, I think", thread_ts=ts)
    again = [slack.share_file("after.png", shot.getvalue(), "image/png"), files[1]]
    reply = message_event("still broken, see", user="U1", thread_ts=ts, files=again, ts="1760000000.000100")
    post_event(slack_stack, reply)
    refused_again = slack.wait_for("chat.postMessage", count=2, where=lambda c: "could not use" in c.args["text"])
    assert "`recording.mov`: it is 30.0 MB" in refused_again[1].args["text"]
    wait_until(lambda: slack_stack.kinds(task_id).count("task_ready") == 2, 60, "the follow-up applied")
    received = [e.event for e in slack_stack.events(task_id) if e.event.kind == "attachments_received"]
    assert [[a.name for a in r.kept] for r in received] == [
        ["Screenshot-2026-12-02.png"],
        ["slack-thread-1760000000-000100.txt", "after.png"],
    ]
    follow = [e.event.text for e in slack_stack.events(task_id) if e.event.kind == "follow_up_received"]
    assert follow == ["still broken, see"]


def test_a_mention_under_a_discussion_brings_the_thread_as_context(slack_stack, slack, make_remote):
    """`@honk fix this` under the thread where the bug was discussed: Honk answers first, then reads the
    thread (its newest 50 messages, a forwarded customer report included, its own messages left out)
    and the task keeps it for the agent, beside the request itself."""
    remote = make_remote(calc_files(DIRECT_FIX))
    slack_stack.add_repo("calc", remote.url)
    root = slack.say("C1", "U2", "add() is broken: 2 + 3 gives -1")
    for i in range(59):
        slack.say("C1", "U1" if i % 2 else "U2", f"discussion {i}", thread_ts=root)
    slack.say(
        "C1", "U2", "from support", thread_ts=root, attachments=[{"author_name": "Customer", "text": "totals wrong"}]
    )
    # Said after the discussion (the fake stamps its own messages later than incoming events by default).
    mention = mention_event("<@UHONK> fix this repo=calc", thread_ts=root, ts="1750000000.000100")
    assert post_event(slack_stack, mention).status_code == 200
    first = slack.wait_for("chat.postMessage", where=lambda c: "reading the thread" in c.args.get("text", ""))[0]
    replies = slack.wait_for("conversations.replies")
    assert slack.calls.index(first) < slack.calls.index(replies[0]), "the answer comes before the reading"
    slack.wait_for("chat.update", where=lambda c: "On it: `t-" in c.args.get("text", ""))
    task_id = task_in(slack_stack)
    kept = [e.event for e in slack_stack.events(task_id) if e.event.kind == "attachments_received"][0].kept
    assert [(a.name, a.kind) for a in kept] == [("slack-thread.txt", "text")]
    assert slack_stack.task(task_id).text == "fix this", "the request stays the mention"
    assert slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready


def plan_messages(slack: FakeSlack) -> list[dict]:
    return [c.args for c in slack.calls_to("chat.postMessage") if c.args.get("text", "").startswith("Plan v")]


def test_a_plan_from_slack_is_revised_in_the_thread_and_approved_by_its_requester(slack_stack, slack, make_remote):
    from honk.testing.fake_slack import view_submission

    slack.add_user("U3", "cy@example.com", "Cy")  # anyone may ask here; only Bo may merge from Slack
    steps = scenario(plan_step("Make add() add"), plan_step("And the README"), plan_step("And a test"), DIRECT_FIX)
    slack_stack.add_repo("calc", make_remote(calc_files(steps)).url)
    thread, task_id = start_task(slack_stack, slack, "<@UHONK> plan: make add() add repo=calc")
    assert slack_stack.wait_for(task_id, TaskState.plan_ready, TaskState.failed).state == TaskState.plan_ready
    [v1] = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("text", "").startswith("Plan v1"))
    assert v1.args["thread_ts"] == thread and "Change the minus in add() to a plus" in json.dumps(v1.args["blocks"])
    buttons = [b for b in v1.args["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [(b["action_id"], b.get("value")) for b in buttons][:2] == [
        ("approve_plan", f"{task_id}:1"),
        ("revise_plan", f"{task_id}:1"),
    ]

    # Cy is neither the requester nor allowed to merge from Slack: refused, in private.
    post_action(slack_stack, block_action("approve_plan", f"{task_id}:1", user="U3"))
    refusal = slack.wait_for("chat.postEphemeral")[0].args
    assert refusal["user"] == "U3" and "not allowed to merge from Slack" in refusal["text"]

    # Ana's plain reply in the thread is a revision: a new plan, v2.
    post_event(slack_stack, message_event("also mention it in the README", user="U1", thread_ts=thread))
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("text", "").startswith("Plan v2"))

    # A click on v1's Approve, now replaced: refused with a short private note.
    post_action(slack_stack, block_action("approve_plan", f"{task_id}:1", user="U1"))
    stale = slack.wait_for("chat.postEphemeral", count=2)[1].args
    assert stale["user"] == "U1" and "replaced by plan v2" in stale["text"]

    # Request changes on v2 opens a modal; what is sent brings v3.
    post_action(slack_stack, block_action("revise_plan", f"{task_id}:2", user="U1", trigger_id="trig-2"))
    modal = slack.wait_for("views.open")[0].args
    assert modal["trigger_id"] == "trig-2" and modal["view"]["private_metadata"] == f"{task_id}:2"
    changes = {"changes": {"text": "add a test too"}}
    post_action(slack_stack, view_submission("revise_plan", f"{task_id}:2", changes, user="U1"))
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("text", "").startswith("Plan v3"))

    v3_ts = "1700000099.000300"
    post_action(slack_stack, block_action("approve_plan", f"{task_id}:3", user="U1", message_ts=v3_ts))
    settled = slack.wait_for("chat.update", where=lambda c: c.args.get("ts") == v3_ts)[0].args
    assert "Plan v3 approved by Ana" in json.dumps(settled["blocks"])
    assert slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
    asked = [
        (e.event.version, e.event.text) for e in slack_stack.events(task_id) if e.event.kind == "plan_revision_asked"
    ]
    assert asked == [(2, "add a test too")], "the button's changes are recorded; the reply came as a follow-up"
    follow = [e.event.text for e in slack_stack.events(task_id) if e.event.kind == "follow_up_received"]
    assert follow == ["also mention it in the README"]
    assert [m["text"][:7] for m in plan_messages(slack)] == ["Plan v1", "Plan v2", "Plan v3"]
    assert not slack.refusals, "every message Honk sent was one Slack takes"


def permalink(channel: str, ts: str) -> str:
    return f"https://honk-test.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def test_a_thread_brings_its_screenshots_and_links_only_into_conversations_the_requester_is_in(
    slack_stack, slack, make_remote
):
    """`@honk fix this` under a discussion that shared a screenshot and links to a customer's message
    (in a channel Ana is in) and to a private one (she is not): the agent gets the thread, the
    screenshot and the customer's message, never the private one, and Ana is told what was left out."""
    import io

    from PIL import Image

    # The agent shows what it was given: the quoted context file, as its command's output.
    look = '[[step]]\ncommands = ["cat $HOME/attachments/slack-thread.txt"]\n'
    slack_stack.add_repo("calc", make_remote(calc_files(look + DIRECT_FIX.removeprefix("[[step]]\n"))).url)
    slack.join("C0CUST", "U1", "U2", "UHONK")
    slack.join("C0PRIV", "U2", "UHONK")
    customer = slack.say("C0CUST", "U2", "customer: the totals are wrong since Monday")
    private = slack.say("C0PRIV", "U2", "salaries of everyone")
    shot = io.BytesIO()
    Image.new("RGB", (390, 844), "white").save(shot, "PNG")
    root = slack.say("C1", "U2", "add() is broken")
    slack.say("C1", "U2", "see", thread_ts=root, files=[slack.share_file("broken.png", shot.getvalue(), "image/png")])
    slack.say("C1", "U2", f"and <{permalink('C0PRIV', private)}|this>", thread_ts=root)
    mention = mention_event(
        f"<@UHONK> fix this, as <{permalink('C0CUST', customer)}> says repo=calc",
        thread_ts=root,
        ts="1750000000.000200",  # unlike other tests' mentions: task ids derive from it
    )
    assert post_event(slack_stack, mention).status_code == 200
    left = slack.wait_for("chat.postMessage", where=lambda c: "I left out" in c.args.get("text", ""))[0]
    assert "<#C0PRIV>: you are not a member of that conversation" in left.args["text"]
    task_id = task_in(slack_stack)
    kept = [e.event for e in slack_stack.events(task_id) if e.event.kind == "attachments_received"][0].kept
    assert [(a.name, a.kind) for a in kept] == [("slack-thread.txt", "text"), ("broken.png", "image")]
    assert slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
    [shown] = [e.event.output for e in slack_stack.events(task_id) if e.event.kind == "agent_ran_command"]
    assert "customer: the totals are wrong since Monday (linked, in <#C0CUST>)" in shown
    assert "salaries" not in shown and "Left out: the message linked in <#C0PRIV>" in shown
    history = [c.args["channel"] for c in slack.calls_to("conversations.history")]
    assert history == ["C0CUST"], "the private message was never even fetched"


def test_best_of_two_from_a_mention_to_a_pick_in_the_thread(slack_stack, slack, make_remote):
    """`@honk best of 2: …`: one answer with the cost and the ranking's page, no reply per attempt; once both
    settled, one ranking message whose Pick button (the real block-action handler) picks the attempt the
    person chose, and the other is cancelled."""
    slack_stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    mention = mention_event("<@UHONK> best of 2: make add() add repo=calc", user="U1")
    ts = mention["event"]["ts"]
    assert post_event(slack_stack, mention).status_code == 200
    [answer] = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)
    said = answer.args["text"]
    assert said.startswith("On it: 2 independent attempts on *calc*. 2 attempts cost up to $10.00"), said
    found = re.search(rf"<{re.escape(slack_stack.url)}/attempts/(best-[0-9a-f]{{12}})\|The ranking>", said)
    assert found, said
    group = found.group(1)
    assert slack_stack.http.get(f"/attempts/{group}").status_code == 200  # the link in the answer
    tasks = slack_stack.http.get("/api/tasks").json()
    assert len(tasks) == 2 and {t["text"] for t in tasks} == {"make add() add"}

    [ranking] = slack.wait_for(
        "chat.postMessage",
        timeout=180,
        where=lambda c: c.args.get("thread_ts") == ts and "attempts done" in c.args.get("text", ""),
    )
    assert len(thread_posts(slack, ts)) == 2, "one answer and one ranking: never a reply per attempt"
    assert ranking.args["text"].startswith("2 attempts done: pick one")
    picks = [
        a
        for b in ranking.args["blocks"]
        if b["type"] == "actions"
        for a in b["elements"]
        if a["action_id"].startswith("pick_attempt_")
    ]
    assert [a["action_id"] for a in picks] == ["pick_attempt_1", "pick_attempt_2"], picks  # both ready, ranked
    chosen = picks[1]  # the person's choice, not the top one
    _, task_id = chosen["value"].split(" ")
    [other] = [t["id"] for t in tasks if t["id"] != task_id]

    ranking_ts = "1700000077.000100"
    action = block_action(chosen["action_id"], chosen["value"], user="U1", message_ts=ranking_ts)
    assert post_action(slack_stack, action).status_code == 200
    [settled] = slack.wait_for("chat.update", where=lambda c: c.args.get("ts") == ranking_ts)
    assert f"Attempt `{task_id}` picked by Ana; the others are cancelled" in json.dumps(settled.args["blocks"])
    assert not [a for b in settled.args["blocks"] if b["type"] == "actions" for a in b["elements"] if "value" in a]
    assert slack_stack.wait_for(other, TaskState.cancelled, TaskState.failed).state == TaskState.cancelled
    view = slack_stack.http.get(f"/api/attempts/{group}").json()
    assert (view["picked"], view["picked_by"]) == (task_id, "ana@example.com")
    assert slack_stack.task(task_id).state == TaskState.ready  # picked: merged the usual way, when someone does
    assert "attempt_picked" in slack_stack.kinds(task_id)
