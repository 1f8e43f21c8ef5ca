"""What the thread shows of the new app and of production, from timelines folded from the events the
workflow records (pure, no Slack): the Install button, the QR image for Honk's own install page only, the
processing line, a failed delivery that leaves the task reviewable; a held deploy's Deploy button, deploying,
live with its link, a failed deploy's distilled log and Revert. Hostile values (markup, fences, huge logs,
non-web links) stay inside Slack's rules, checked by slack_sdk's own Block Kit models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import Block

from honk.domain import DeliveryOutcome, DeployOutcome, DeployState, SignatureCheck, TaskState, TaskView
from honk.events import (
    AnyEvent,
    AppDelivered,
    DeliveryFailed,
    DeliveryStarted,
    DeliveryWaiting,
    DeployFinished,
    DeployHeld,
    DeployStarted,
    RevertStarted,
)
from honk.slack import blocks, home, limits
from honk.slack.notifier import _delivery_came
from honk.timeline import Timeline

BASE = "https://honk.example.com"
INSTALL = f"{BASE}/install/eyJ0IjoidC1hYmMifQ.sig"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def task(state: TaskState = TaskState.ready, **more: object) -> TaskView:
    fields: dict[str, object] = dict(
        id="t-abc123def456",
        repo="calc",
        text="make the total green",
        state=state,
        requested_by="ana@example.com",
        agent="claude",
        model=None,
        branch="honk/t-abc123def456",
        created_at=NOW,
        updated_at=NOW,
        merged_commit="0123456789abcdef" if state == TaskState.merged else None,
        approved_by="bo@example.com" if state == TaskState.merged else None,
    )
    return TaskView.model_validate(fields | more)


def folded(*events: AnyEvent) -> Timeline:
    timeline = Timeline()
    for e in events:
        timeline = timeline.fold(e)
    return timeline


def valid(body: list[dict]) -> list[dict]:
    """Every block as Slack would take it (slack_sdk's models check lengths and required fields)."""
    assert len(body) <= limits.MAX_BLOCKS
    for b in body:
        parsed = Block.parse(b)
        assert parsed is not None, b
        parsed.validate_json()
    return body


def delivered(**more: object) -> DeliveryOutcome:
    fields: dict[str, object] = dict(
        state="delivered",
        kind="android-apk",
        url=INSTALL,
        title="Calc",
        version="2.3.0",
        build="317",
        expires_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
    )
    return DeliveryOutcome.model_validate(fields | more)


def of_type(body: list[dict], kind: str) -> list[dict]:
    return [b for b in body if b["type"] == kind]


# -- the new app on the phone --------------------------------------------------------------------------


def test_a_delivered_apk_shows_name_version_build_expiry_install_and_its_qr_code():
    timeline = folded(DeliveryStarted(deliver="android-apk"), AppDelivered(outcome=delivered()))
    text, body = blocks.ready(task(), timeline, BASE)
    valid(body)
    said = json.dumps(body, ensure_ascii=False)
    assert "Calc 2.3.0 (build 317)" in said and "The link expires 2026-12-04 12:00 UTC." in said
    [install] = [b for b in body if b.get("block_id") == "install"]
    assert install["elements"][0]["text"]["text"] == "Install" and install["elements"][0]["url"] == INSTALL
    [qr] = of_type(body, "image")
    assert qr["image_url"] == f"{INSTALL}/qr.png"
    # Merge, Request changes, Cancel stay where they were.
    task_actions = [b for b in body if b.get("block_id") == "task:t-abc123def456"][0]
    assert [e["action_id"] for e in task_actions["elements"]] == ["merge", "request_changes", "cancel", "open"]


def test_a_service_link_gets_its_label_and_no_qr_image_of_honks():
    outcome = delivered(kind="testflight", url="https://testflight.apple.com/join/AbCd", label="", expires_at=None)
    body = valid(blocks.delivery(folded(AppDelivered(outcome=outcome)), BASE))
    assert body[1]["elements"][0]["text"]["text"] == "Open in TestFlight"
    assert not of_type(body, "image") and "expires" not in json.dumps(body)
    labelled = outcome.model_copy(update={"label": "Try it in TestFlight " + "x" * 100})
    button = valid(blocks.delivery(folded(AppDelivered(outcome=labelled)), BASE))[1]["elements"][0]
    assert len(button["text"]["text"]) <= blocks.BUTTON_TEXT


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/install/tok/../../admin",  # not the install page itself
        f"{BASE}/install/",
        "https://evil.example.com/install/tok",  # another host's /install/
        f"{BASE}/installer/tok",
    ],
)
def test_the_qr_image_is_only_for_honks_own_install_page(url: str):
    body = valid(blocks.delivery(folded(AppDelivered(outcome=delivered(url=url))), BASE))
    assert not of_type(body, "image")


def test_a_link_slack_cannot_open_gets_no_button():
    for url in ("itms-services://?action=download-manifest&url=x", "javascript:alert(1)"):
        outcome = delivered().model_copy(update={"url": url})  # as if a tool's output got past the checks
        assert blocks.delivery(folded(AppDelivered(outcome=outcome)), BASE) == []


def test_processing_says_how_long_the_service_has_had_the_build():
    waiting = DeliveryOutcome(state="processing", kind="testflight", message="Processing <b>build</b>")
    timeline = folded(DeliveryStarted(deliver="testflight"), DeliveryWaiting(outcome=waiting, waited_s=420))
    body = valid(blocks.delivery(timeline, BASE))
    said = body[0]["elements"][0]["text"]
    assert said.startswith("⏳ TestFlight is processing the build (7 min so far)")
    assert "&lt;b&gt;build&lt;/b&gt;" in said and "<b>" not in said
    assert blocks.production_line(task(), timeline) == "TestFlight is processing the build (7 min so far)"


def test_a_failed_delivery_says_why_shows_the_log_and_leaves_the_task_reviewable():
    log = "## fastlane pilot upload\n" + "line\n" * 2000 + "```\n<!channel> error: invalid API key"
    failed = DeliveryOutcome(state="failed", kind="testflight", why="exited 3", detail=log)
    text, body = blocks.ready(task(), folded(DeliveryFailed(outcome=failed)), BASE)
    valid(body)
    said = json.dumps(body, ensure_ascii=False)
    assert "*Delivery failed:* exited 3" in said and "can still be reviewed" in said
    code = [b for b in body if b["type"] == "section" and b["text"]["text"].startswith("```")][0]["text"]["text"]
    assert code.endswith("&lt;!channel&gt; error: invalid API key```") and code.count("```") == 2  # end kept, no fence
    assert "merge" in said  # the buttons are still there


def test_an_unchecked_signature_is_said():
    unchecked = SignatureCheck(checked=False, verified=False, why="apksigner is not installed on this worker")
    body = valid(blocks.delivery(folded(AppDelivered(outcome=delivered(signature=unchecked))), BASE))
    assert "Signature not verified: apksigner is not installed" in body[0]["text"]["text"]


def test_markup_in_the_apps_name_is_shown_not_obeyed():
    outcome = delivered(title="<https://evil.example.com|Calc> <!here>", version="*1*", build="&")
    body = valid(blocks.delivery(folded(AppDelivered(outcome=outcome)), BASE))
    text = body[0]["text"]["text"]
    assert "<https://evil" not in text and "<!here>" not in text and "&lt;!here&gt;" in text


def test_the_slow_services_answer_is_its_own_message_once_honk_waited():
    waiting = DeliveryOutcome(state="processing", kind="testflight")
    done = delivered(kind="testflight", url="https://testflight.apple.com/join/AbCd")
    waited = folded(DeliveryStarted(deliver="testflight"), DeliveryWaiting(outcome=waiting, waited_s=60))
    came = waited.fold(AppDelivered(outcome=done))
    assert _delivery_came(TaskState.ready, came, "")
    assert not _delivery_came(TaskState.ready, came, "Merge held: main moved")  # another milestone
    assert not _delivery_came(TaskState.ready, waited, "")  # still processing: the ready message says so
    at_once = folded(DeliveryStarted(deliver="testflight"), AppDelivered(outcome=done))
    assert not _delivery_came(TaskState.ready, at_once, "")  # said in the ready message
    again = came.fold(DeliveryStarted(deliver="testflight")).fold(AppDelivered(outcome=done))
    assert not _delivery_came(TaskState.ready, again, "")  # a new build's delivery starts from 0
    text, body = blocks.delivered(task(), came, BASE)
    valid(body)
    assert text.startswith("Delivered: Calc 2.3.0 (build 317)") and "Open in TestFlight" in json.dumps(body)


# -- production ----------------------------------------------------------------------------------------


def merged_with(*events: AnyEvent) -> tuple[str, list[dict]]:
    text, body = blocks.merged(task(TaskState.merged), folded(*events), BASE)
    return text, valid(body)


def test_merged_without_a_deploy_is_the_merged_message():
    text, body = merged_with()
    assert "*Merged*" in text and not of_type(body, "actions")


def test_a_held_deploy_offers_deploy_with_a_confirmation():
    text, body = merged_with(DeployHeld(reason="a freeze is in force until Monday <!channel>"))
    said = json.dumps(body, ensure_ascii=False)
    assert text.startswith("Deploy held") and "freeze is in force until Monday &lt;!channel&gt;" in said
    [actions] = of_type(body, "actions")
    deploy = actions["elements"][0]
    assert (deploy["action_id"], deploy["value"], deploy["style"]) == ("deploy", "t-abc123def456", "primary")
    assert deploy["confirm"]["confirm"]["text"] == "Deploy"


def test_deploying_then_live_with_its_link():
    started = DeployStarted(commit="0123456789abcdef", target="main", by="bo@example.com")
    text, body = merged_with(started)
    assert text.startswith("Deploying") and "`0123456789`" in body[0]["text"]["text"]
    assert blocks.production_line(task(TaskState.merged), folded(started)) == "🚀 deploying `0123456789`…"
    live = DeployOutcome(state="live", commit="0123456789abcdef", url="https://calc.example.com")
    text, body = merged_with(started, DeployFinished(outcome=live))
    assert text.startswith("Live in production") and "🟢 *Live in production*" in body[0]["text"]["text"]
    assert of_type(body, "actions")[0]["elements"][0]["url"] == "https://calc.example.com"


@pytest.mark.parametrize("state", ["deploy_failed", "health_failed"])
def test_a_failed_deploy_shows_the_distilled_log_and_revert(state: DeployState):
    started = DeployStarted(commit="0123456789abcdef", target="main", by="bo@example.com")
    failed = DeployOutcome(state=state, commit="0123456789abcdef", detail="## health\n" + "x" * 5000 + "\nHTTP 502")
    text, body = merged_with(started, DeployFinished(outcome=failed))
    said = json.dumps(body, ensure_ascii=False)
    assert ("Health check failed" if state == "health_failed" else "Deploy failed") in text
    assert "HTTP 502```" in said
    revert = of_type(body, "actions")[0]["elements"][0]
    assert (revert["action_id"], revert["value"], revert["style"]) == ("revert", "t-abc123def456", "danger")
    # Once a revert was asked for, the message says by which task instead of offering it again.
    text, body = merged_with(started, DeployFinished(outcome=failed), RevertStarted(task_id="t-revert000001", by="bo"))
    assert "Being reverted by `t-revert000001`" in json.dumps(body) and '"revert"' not in json.dumps(body)


def test_an_http_honk_gets_no_qr_picture_slack_could_not_fetch():
    lan = "http://192.168.1.20:8787"
    outcome = delivered(url=f"{lan}/install/tok.sig")
    body = valid(blocks.delivery(folded(AppDelivered(outcome=outcome)), lan))
    assert not of_type(body, "image") and body[1]["elements"][0]["url"] == f"{lan}/install/tok.sig"


def test_home_offers_deploy_and_revert_on_merged_tasks_as_the_thread_does():
    started = DeployStarted(commit="0123456789abcdef", target="main", by="bo@example.com")
    failed = DeployFinished(outcome=DeployOutcome(state="deploy_failed", commit="0123456789abcdef", detail="boom"))
    live = DeployFinished(outcome=DeployOutcome(state="live", commit="0123456789abcdef"))
    timelines = {
        "t-held00000001": folded(DeployHeld(reason="freeze")),
        "t-failed000001": folded(started, failed),
        "t-live00000001": folded(started, live),
        "t-revert000001": folded(started, failed, RevertStarted(task_id="t-r", by="bo")),
    }
    tasks = [task(TaskState.merged).model_copy(update={"id": task_id}) for task_id in timelines]
    view = home.view(tasks, {}, BASE, merged=timelines)
    pressed = {
        b["block_id"].removeprefix("home:"): [(e["action_id"], e["value"]) for e in b["elements"]]
        for b in view["blocks"]
        if b["type"] == "actions"
    }
    assert pressed == {
        "t-held00000001": [("deploy", "t-held00000001")],
        "t-failed000001": [("revert", "t-failed000001")],
    }
    assert home.view(tasks, {}, BASE)["blocks"] == home.view(tasks, {}, BASE, merged={})["blocks"]


def test_a_task_over_several_repos_says_each_pull_request_in_merge_order():
    from honk.events import PullRequestUpdated, RepoPublished, TaskAccepted

    timeline = Timeline()
    for event in (
        TaskAccepted(repo="calc", text="t", requested_by="a@x", agent="scripted", also=["web", "docs"]),
        PullRequestUpdated(number=7, url="https://forge/calc/pull/7", draft=False, opened=True),
        RepoPublished(repo="web", changed=True, number=3, url="https://forge/web/pull/3", opened=True),
        RepoPublished(repo="docs", changed=False),
    ):
        timeline = timeline.fold(event)
    _, body = blocks.ready(task(), timeline, BASE)
    said = json.dumps(body, ensure_ascii=False)
    line = "Pull requests, merged in this order: 1. *calc* <https://forge/calc/pull/7|#7> → 2. *web* "
    assert line + "<https://forge/web/pull/3|#3> → 3. *docs* no pull request" in said
    for b in body:
        Block.parse(b)  # within Slack's rules
    _, one = blocks.ready(
        task(), folded(PullRequestUpdated(number=7, url="https://forge/calc/pull/7", draft=False, opened=True)), BASE
    )
    assert "merged in this order" not in json.dumps(one)
