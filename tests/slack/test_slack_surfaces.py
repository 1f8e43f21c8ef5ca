"""Slack's own surfaces: the Home tab (my tasks, with what I can do) and the Fix with Honk message
shortcut (a task from any message). Signed payloads to the real endpoint, a loopback fake Slack
recording what Honk says, real Temporal, workers and git; and the builders at Slack's limits."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from test_slack_scenarios import post_action, post_event, start_task, task_in

from honk.domain import MAX_ATTACHMENTS, TaskState, TaskView
from honk.events import AttachmentsReceived, PlanApproved, TaskAccepted
from honk.slack import home, shortcut
from honk.testing.fake_slack import (
    FakeSlack,
    app_home_opened,
    interaction_body,
    mention_event,
    message_action,
    refused_payload,
    sign,
    view_action,
    view_submission,
)
from honk.testing.processes import HonkStack, wait_until
from repos import DIRECT_FIX, calc_files, plan_step, scenario


def form_values(text: str, repo: str | None, plan: bool = False) -> dict[str, dict[str, Any]]:
    """The Fix with Honk form's state, as Slack sends it on submission."""
    chosen = {"text": {"type": "plain_text", "text": repo}, "value": repo} if repo else None
    ticked = [{"text": {"type": "plain_text", "text": "Plan first"}, "value": "plan"}] if plan else []
    return {
        shortcut.REQUEST: {"text": text},
        shortcut.REPO: {"repo": {"type": "static_select", "selected_option": chosen}},
        shortcut.PLAN: {"plan": {"type": "checkboxes", "selected_options": ticked}},
    }


def submit(stack: HonkStack, metadata: str, values: dict, user: str = "U1") -> dict:
    """Sends the form; Honk's answer (errors on the form's fields, or {} when it closes)."""
    r = post_action(stack, view_submission(shortcut.CALLBACK_ID, metadata, values, user=user))
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def screenshot() -> bytes:
    from PIL import Image

    shot = io.BytesIO()
    Image.new("RGB", (390, 844), "white").save(shot, "PNG")
    return shot.getvalue()


def homes(slack: FakeSlack, user: str) -> list[dict]:
    return [c.args["view"] for c in slack.calls_to("views.publish") if c.args.get("user_id") == user]


def buttons(view: dict, task_id: str) -> list[tuple[str, str | None]]:
    found = [b for b in view["blocks"] if b.get("block_id") == f"home:{task_id}"]
    return [(e["action_id"], e.get("value")) for e in found[0]["elements"]] if found else []


def test_a_customer_message_with_a_screenshot_becomes_a_task_through_fix_with_honk(slack_stack, slack, make_remote):
    """Bo forwards a customer's report with a screenshot into a thread; Ana uses Fix with Honk on it:
    the form holds the message and names its file, the channel's repo chosen; sent empty, it says
    what is missing; sent, the task starts in that thread, requested by Ana, with the screenshot."""
    slack_stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    slack_stack.add_repo("www", make_remote(calc_files(DIRECT_FIX)).url)
    use = mention_event("<@UHONK> use calc", channel="C1")
    post_event(slack_stack, use)
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == use["event"]["ts"])
    root = slack.say("C1", "U2", "Escalation from ACME")
    shot = slack.share_file("Screenshot 2026-12-02.png", screenshot(), "image/png")
    report = "add() is wrong &amp; the total shows &lt;-1&gt; for 2 + 3 <@U3>"
    message_ts = slack.say("C1", "U2", report, thread_ts=root, files=[shot])

    used = message_action(
        "fix_with_honk", report, user="U1", author="U2", message_ts=message_ts, thread_ts=root, files=[shot]
    )
    assert post_action(slack_stack, used | {"trigger_id": "trig-fix"}).status_code == 200
    opened = slack.wait_for("views.open")[0].args
    form = opened["view"]
    assert opened["trigger_id"] == "trig-fix" and form["callback_id"] == "fix_with_honk"
    by_id = {b.get("block_id"): b for b in form["blocks"]}
    assert by_id["request"]["element"]["initial_value"] == "add() is wrong & the total shows <-1> for 2 + 3"
    assert "`Screenshot 2026-12-02.png`" in json.dumps(form["blocks"], ensure_ascii=False)
    picker = by_id["repo"]["element"]
    assert [o["value"] for o in picker["options"]] == ["calc", "www"] and picker["initial_option"]["value"] == "calc"
    assert json.loads(form["private_metadata"]) == {
        "channel": "C1",
        "ts": message_ts,
        "thread_ts": root,
        "files": [shot["id"]],
    }
    metadata = form["private_metadata"]

    assert submit(slack_stack, metadata, form_values(" ", None)) == {
        "response_action": "errors",
        "errors": {"request": "Say what should change.", "repo": "Choose the repo to change."},
    }
    unknown = submit(slack_stack, metadata, form_values("make add() add", "nope"))
    assert unknown["errors"]["repo"].startswith("Unknown repo 'nope'")
    assert slack_stack.http.get("/api/tasks").json() == [] and not thread_replies(slack, root)

    assert submit(slack_stack, metadata, form_values("make add() add", "calc")) == {}
    on_it = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root)[0].args
    assert on_it["channel"] == "C1" and on_it["text"] == "On it — reading the 1 file with the message…"
    slack.wait_for("chat.update", where=lambda c: "On it: `t-" in c.args.get("text", ""))
    task_id = task_in(slack_stack)
    task = slack_stack.task(task_id)
    assert (task.text, task.requested_by, task.repo) == ("make add() add", "ana@example.com", "calc")
    events = [e.event for e in slack_stack.events(task_id)]
    [accepted] = [e for e in events if isinstance(e, TaskAccepted)]
    [received] = [e for e in events if isinstance(e, AttachmentsReceived)]
    assert not accepted.plan
    assert [a.name for a in received.kept] == ["slack-thread.txt", "Screenshot-2026-12-02.png"]
    assert [c.args["file"] for c in slack.calls_to("files.info")] == [shot["id"]]
    assert slack.downloads == [(shot["id"], "xoxb-test-token")], "fetched by the server, with the bot token"

    # Sent again: the thread is that task's now; the form says so and nothing new starts.
    again = submit(slack_stack, metadata, form_values("make add() add", "calc"))
    assert again["errors"]["request"].startswith(f"This thread is already Honk's task {task_id}")
    assert len(slack_stack.http.get("/api/tasks").json()) == 1
    assert slack_stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
    assert not slack.refusals, "every message and view Honk sent was one Slack takes"


def thread_replies(slack: FakeSlack, thread_ts: str) -> list[dict]:
    return [c.args for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == thread_ts]


def test_a_forged_shortcut_or_a_form_honk_did_not_open_starts_nothing(slack_stack, slack, make_remote):
    used = message_action("fix_with_honk", "add() is broken", user="U1")
    post_action(slack_stack, used)
    no_repos = slack.wait_for("views.open")[0].args["view"]
    assert "no repos yet" in json.dumps(no_repos["blocks"]) and "submit" not in no_repos

    slack_stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    body = interaction_body(message_action("fix_with_honk", "add() is broken", user="U1"))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = slack_stack.http.post("/slack/events", content=body, headers={**form, **sign("wrong", body)})
    unsigned = slack_stack.http.post("/slack/events", content=body, headers=form)
    assert (forged.status_code, unsigned.status_code) == (401, 401)

    good = shortcut.Origin(channel="C1", ts="1690000000.000100", thread_ts="1690000000.000100").metadata
    for garbage in (
        "",
        "not json",
        "t-abc:1",  # another form's metadata
        good.replace('"files":[]', '"files":[],"requested_by":"bo@example.com"'),  # a field Honk never puts there
        good.replace('"C1"', '"C1/../C2"'),
        json.dumps({**json.loads(good), "files": ["F1"] * 50}),
        "x" * 5000,
    ):
        answer = submit(slack_stack, garbage, form_values("make add() add", "calc"))
        assert answer["errors"]["request"].startswith("Honk did not open this form"), garbage
    assert slack_stack.http.get("/api/tasks").json() == []
    assert len(slack.calls_to("views.open")) == 1, "the forged shortcut opened nothing"
    assert not slack.calls_to("chat.postMessage") and not slack.refusals

    # A conversation Honk is not in: it cannot answer there, so nothing starts, and its DM says why.
    slack.fail("chat.postMessage", error="not_in_channel", status=200)
    assert submit(slack_stack, good, form_values("make add() add", "calc")) == {}
    dm = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == "U1")[0].args
    assert "<#C1>" in dm["text"] and "/invite @honk" in dm["text"]
    assert slack_stack.http.get("/api/tasks").json() == []


def test_the_home_tab_lists_my_tasks_with_what_i_can_do(slack_stack, slack, make_remote):
    """Ana has a change ready and a plan waiting; Bo has a task of his own. Ana's Home lists hers
    only, each with its buttons. Merge is not hers to press in Slack (Bo merges): Home says why at the
    top. Approve plan works from Home, and Home shows it."""
    slack_stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    planned = scenario(plan_step("Make add() add"), DIRECT_FIX)
    slack_stack.add_repo("plans", make_remote(calc_files(planned)).url)
    _, ready_id = start_task(slack_stack, slack)
    plan_mention = mention_event("<@UHONK> plan: make add() add repo=plans", user="U1")
    post_event(slack_stack, plan_mention)
    bos = mention_event("<@UHONK> make add() add repo=calc", user="U2")
    post_event(slack_stack, bos)
    wait_until(lambda: len(slack_stack.http.get("/api/tasks").json()) == 3, 30, "three tasks")
    by_text = {(t["requested_by"], t["repo"]): t["id"] for t in slack_stack.http.get("/api/tasks").json()}
    plan_id, bos_id = by_text[("ana@example.com", "plans")], by_text[("bo@example.com", "calc")]
    assert slack_stack.wait_for(ready_id, TaskState.ready, TaskState.failed).state == TaskState.ready
    assert slack_stack.wait_for(plan_id, TaskState.plan_ready, TaskState.failed).state == TaskState.plan_ready

    post_event(slack_stack, app_home_opened("U1"))
    [mine] = slack.wait_for("views.publish", where=lambda c: c.args.get("user_id") == "U1")
    view = mine.args["view"]
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert view["type"] == "home" and ready_id in shown and plan_id in shown and bos_id not in shown
    assert shown.index(plan_id) < shown.index(ready_id), "newest first"
    assert "✅ Ready for review" in shown and "📝 A plan waits for approval" in shown
    assert f"/tasks/{ready_id}" in shown, "a link to the task page"
    assert buttons(view, ready_id) == [("merge", ready_id), ("cancel", ready_id), ("open", None)]
    assert buttons(view, plan_id) == [
        ("approve_plan", f"{plan_id}:1"),
        ("revise_plan", f"{plan_id}:1"),
        ("cancel", plan_id),
    ]
    slack.add_user("U3", "cy@example.com", "Cy")
    post_event(slack_stack, app_home_opened("U3"))  # Cy has asked for nothing yet
    [cys] = slack.wait_for("views.publish", where=lambda c: c.args.get("user_id") == "U3")
    assert "mention *@honk* in a channel" in json.dumps(cys.args["view"]["blocks"]).lower()
    post_event(slack_stack, app_home_opened("U1", tab="messages"))  # the DM tab: nothing to publish

    published = slack.home("U1") or {}
    post_action(slack_stack, view_action("merge", ready_id, published, user="U1", block_id=f"home:{ready_id}"))
    refused = slack.wait_for("views.publish", count=2, where=lambda c: c.args.get("user_id") == "U1")[1]
    notice = refused.args["view"]["blocks"][0]["text"]["text"]
    assert notice.startswith("⚠️") and "not allowed to merge from Slack" in notice
    assert slack_stack.task(ready_id).state == TaskState.ready

    revise = view_action("revise_plan", f"{plan_id}:1", published, user="U1", trigger_id="trig-home")
    post_action(slack_stack, revise)
    modal = slack.wait_for("views.open")[0].args
    assert modal["trigger_id"] == "trig-home" and modal["view"]["private_metadata"] == f"{plan_id}:1:home"

    approve = view_action("approve_plan", f"{plan_id}:1", published, user="U1", block_id=f"home:{plan_id}")
    post_action(slack_stack, approve)
    again = slack.wait_for("views.publish", count=3, where=lambda c: c.args.get("user_id") == "U1")[2].args["view"]
    assert buttons(again, plan_id) == [], "the plan's buttons are gone once it is decided"
    assert "✅ Plan v1 approved by Ana" in json.dumps(again["blocks"], ensure_ascii=False)
    assert buttons(again, ready_id)[0] == ("merge", ready_id)
    wait_until(lambda: "plan_approved" in slack_stack.kinds(plan_id), 30, "the plan approved")
    [approved] = [e.event for e in slack_stack.events(plan_id) if isinstance(e.event, PlanApproved)]
    assert (approved.version, approved.by) == (1, "ana@example.com")
    assert len(homes(slack, "U1")) == 3 and not homes(slack, "U2")
    assert not slack.refusals, "every Home Honk published was one Slack takes"


# -- the builders at Slack's limits --------------------------------------------------------------------


def a_task(n: int, state: TaskState, text: str = "make add() add", repo: str = "calc") -> TaskView:
    now = datetime.now(UTC)
    return TaskView(
        id=f"t-{n:012d}",
        repo=repo,
        text=text,
        state=state,
        requested_by="ana@example.com",
        agent=None,
        model=None,
        branch=f"honk/t-{n:012d}",
        created_at=now,
        updated_at=now,
    )


def test_home_fits_slacks_view_limits_however_many_and_long_the_tasks():
    states = list(TaskState)
    tasks = [a_task(i, states[i % len(states)], "x <b> & " * 5000, "r" * 100) for i in range(60)]
    versions = {t.id: 3 for t in tasks if t.state == TaskState.plan_ready}
    view = home.view(tasks, versions, "https://honk.example", notice="⚠️ " + "n" * 5000)
    assert refused_payload("views.publish", {"view": view}) is None
    assert len(view["blocks"]) <= 100 and "more of yours there" in json.dumps(view["blocks"][-1])
    assert "&lt;b&gt; &amp;" in json.dumps(view["blocks"]), "a request's markup is shown, not read as links"
    rows = {b["block_id"]: [e["action_id"] for e in b["elements"]] for b in view["blocks"] if b["type"] == "actions"}
    by_state = {t.state: rows.get(f"home:{t.id}", []) for t in tasks[: len(states)]}  # the newest, one a state
    assert by_state[TaskState.ready] == ["merge", "cancel", "open"]
    assert by_state[TaskState.plan_ready] == ["approve_plan", "revise_plan", "cancel"]
    assert by_state[TaskState.working] == ["cancel"]
    assert by_state[TaskState.merged] == by_state[TaskState.merging] == []
    empty = home.view([], {}, "https://honk.example")
    assert refused_payload("views.publish", {"view": empty}) is None


def test_the_fix_with_honk_form_fits_and_carries_only_where_the_message_is(slack):
    files = [slack.share_file(f"log-{i}.txt", b"x") for i in range(15)]
    used = message_action("fix_with_honk", "y" * 5000, files=files, thread_ts="1690000000.000100")
    origin = shortcut.origin_of(used)
    assert origin is not None and len(origin.files) == MAX_ATTACHMENTS + 1
    assert origin.thread_ts == "1690000000.000100" and shortcut.from_metadata(origin.metadata) == origin
    repos = [f"repo-{i:03d}" for i in range(150)]
    names = [f["name"] for f in files]
    form = shortcut.form(origin, "y" * 5000, names, repos, default="repo-149")
    assert refused_payload("views.open", {"view": form}) is None
    picker = next(b for b in form["blocks"] if b.get("block_id") == "repo")["element"]
    assert len(picker["options"]) == 100 and picker["initial_option"]["value"] == "repo-149"
    assert "Honk takes 10 at most" in json.dumps(form["blocks"])
    assert shortcut.origin_of({"type": "message_action", "channel": {"id": "C1"}}) is None
    forwarded = {
        "text": "&lt;@nobody&gt; see below",
        "attachments": [{"author_name": "ACME", "text": "totals wrong &amp; slow", "is_share": True}],
    }
    assert shortcut.said(forwarded) == "<@nobody> see below\n\n(forwarded from ACME) totals wrong & slow"


def test_the_slack_manifest_declares_the_shortcut_and_the_home_tab():
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[2] / "deploy/slack/manifest.yaml").read_text())
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    [fix] = manifest["features"]["shortcuts"]
    assert (fix["type"], fix["callback_id"]) == ("message", shortcut.CALLBACK_ID)
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"], "a shortcut needs the commands scope"
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
