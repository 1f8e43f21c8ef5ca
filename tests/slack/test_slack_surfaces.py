"""Slack's own surfaces: the Home tab (my tasks, with what I can do). Signed payloads to the real
endpoint, a loopback fake Slack recording what Honk says, real Temporal, workers and git; and the
builders at Slack's limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_slack_scenarios import SECRET, post_action, post_event, start_task

from honk.domain import TaskState, TaskView
from honk.events import PlanApproved
from honk.slack import home
from honk.testing.fake_slack import (
    FakeSlack,
    app_home_opened,
    mention_event,
    refused_payload,
    view_action,
)
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until
from repos import DIRECT_FIX, calc_files, plan_step, scenario


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user("U1", "ana@example.com", "Ana")
    fake.add_user("U2", "bo@example.com", "Bo")
    fake.add_user("U3", "cy@example.com", "Cy")
    yield fake
    fake.stop()


@pytest.fixture
def slack_stack(tmp_path: Path, temporal: TemporalDevServer, slack: FakeSlack) -> Iterator[HonkStack]:
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_mergers='["bo@example.com"]',
        slack_status_interval_s="0.5",
    )
    yield stack
    stack.stop()


def homes(slack: FakeSlack, user: str) -> list[dict]:
    return [c.args["view"] for c in slack.calls_to("views.publish") if c.args.get("user_id") == user]


def buttons(view: dict, task_id: str) -> list[tuple[str, str | None]]:
    found = [b for b in view["blocks"] if b.get("block_id") == f"home:{task_id}"]
    return [(e["action_id"], e.get("value")) for e in found[0]["elements"]] if found else []


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


def test_the_slack_manifest_declares_the_home_tab():
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[2] / "deploy/slack/manifest.yaml").read_text())
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
