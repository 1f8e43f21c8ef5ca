"""The task page's cards for the new app and for production, rendered from timelines folded from the
workflow's events (pure, no server): Install with the QR code of its link, expiry, processing, a failed
delivery that leaves the task reviewable; a held deploy's Deploy form, deploying, live with its link, a
failed deploy's log and Revert form (for mergers and admins only); hostile values escaped, non-web links
given no href."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from honk.accounts import Role, User
from honk.domain import DeliveryOutcome, DeployOutcome, DeployState, TaskState, TaskView
from honk.events import (
    AnyEvent,
    AppDelivered,
    DeliveryFailed,
    DeliveryWaiting,
    DeployFinished,
    DeployHeld,
    DeployStarted,
    RevertStarted,
)
from honk.timeline import Timeline
from honk.web import ui

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
MERGER = User(email="bo@example.com", name="Bo", role=Role.merger)
ASKER = User(email="ana@example.com", name="Ana", role=Role.requester)
INSTALL = "https://honk.example.com/install/tok.sig"


def task(state: TaskState = TaskState.ready) -> TaskView:
    return TaskView(
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
    )


def folded(*events: AnyEvent) -> Timeline:
    timeline = Timeline()
    for e in events:
        timeline = timeline.fold(e)
    return timeline


def card(html: str, card_id: str) -> str:
    found = re.search(rf'<section class="card [a-z]+" id="{card_id}">.*?</section>', html, re.DOTALL)
    return found.group(0) if found else ""


def test_a_delivered_app_has_install_its_qr_code_and_expiry():
    outcome = DeliveryOutcome(
        state="delivered",
        kind="android-apk",
        url=INSTALL,
        title="Calc",
        version="2.3.0",
        build="317",
        expires_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
    )
    shown = card(ui.panel(ASKER, task(), folded(AppDelivered(outcome=outcome))), "delivery")
    assert "<strong>Calc 2.3.0 (build 317)</strong>" in shown
    assert f'id="install" href="{INSTALL}"' in shown and ">Install</a>" in shown
    assert "<svg " in shown and "The link expires 2026-12-04 12:00 UTC." in shown


def test_processing_and_failed_deliveries_say_so_and_the_task_stays_reviewable():
    waiting = DeliveryOutcome(state="processing", kind="testflight")
    shown = card(ui.panel(MERGER, task(), folded(DeliveryWaiting(outcome=waiting, waited_s=900))), "delivery")
    assert "TestFlight is processing the build (15 min so far)" in shown
    failed = DeliveryOutcome(state="failed", kind="firebase", why="exited 3", detail="<b>firebase</b>: 401")
    page = ui.panel(MERGER, task(), folded(DeliveryFailed(outcome=failed)))
    shown = card(page, "delivery")
    assert "<strong>Delivery failed:</strong> exited 3" in shown and "&lt;b&gt;firebase&lt;/b&gt;: 401" in shown
    assert 'id="merge"' in page  # still reviewable


@pytest.mark.parametrize("url", ["javascript:alert(1)", "itms-services://?action=download-manifest&url=x"])
def test_a_link_that_is_not_a_web_page_gets_no_install_button(url: str):
    outcome = DeliveryOutcome(state="delivered", kind="command", url=INSTALL).model_copy(update={"url": url})
    shown = card(ui.panel(ASKER, task(), folded(AppDelivered(outcome=outcome))), "delivery")
    assert 'id="install"' not in shown and "javascript:" not in shown


def test_markup_from_the_app_or_the_tool_is_escaped():
    outcome = DeliveryOutcome(
        state="delivered", kind="command", url=INSTALL, title="<img src=x onerror=alert(1)>", label="<b>Go</b>"
    )
    shown = card(ui.panel(ASKER, task(), folded(AppDelivered(outcome=outcome))), "delivery")
    assert "<img src=x" not in shown and "<b>Go</b>" not in shown and "&lt;b&gt;Go&lt;/b&gt;" in shown


def test_a_held_deploy_offers_deploy_to_mergers_only():
    timeline = folded(DeployHeld(reason="a freeze is in force <until> Monday"))
    shown = card(ui.panel(MERGER, task(TaskState.merged), timeline), "deploy")
    assert "<strong>Deploy held:</strong> a freeze is in force &lt;until&gt; Monday" in shown
    assert 'data-api="/api/tasks/t-abc123def456/deploy"' in shown and 'id="deploy-now"' in shown
    asked = card(ui.panel(ASKER, task(TaskState.merged), timeline), "deploy")
    assert 'id="deploy-now"' not in asked and "Someone who may deploy starts it." in asked


def test_deploying_then_live_with_its_link():
    started = DeployStarted(commit="0123456789abcdef", target="main", by="bo@example.com")
    shown = card(ui.panel(MERGER, task(TaskState.merged), folded(started)), "deploy")
    assert "Deploying…" in shown and "<code>0123456789ab</code>" in shown
    live = DeployOutcome(state="live", commit="0123456789abcdef", url="https://calc.example.com")
    shown = card(ui.panel(MERGER, task(TaskState.merged), folded(started, DeployFinished(outcome=live))), "deploy")
    assert 'class="pass"><strong>Live in production</strong>' in shown
    assert 'id="live-link" href="https://calc.example.com"' in shown and 'id="revert"' not in shown


@pytest.mark.parametrize("state", ["deploy_failed", "health_failed"])
def test_a_failed_deploy_shows_its_log_and_revert_until_a_revert_is_under_way(state: DeployState):
    started = DeployStarted(commit="0123456789abcdef", target="main", by="bo@example.com")
    failed = DeployFinished(outcome=DeployOutcome(state=state, commit="0123456789abcdef", detail="HTTP 502 <html>"))
    shown = card(ui.panel(MERGER, task(TaskState.merged), folded(started, failed)), "deploy")
    assert 'id="deploy-log">HTTP 502 &lt;html&gt;</pre>' in shown
    assert 'data-api="/api/tasks/t-abc123def456/revert" data-then="task"' in shown
    assert 'id="revert"' not in card(ui.panel(ASKER, task(TaskState.merged), folded(started, failed)), "deploy")
    reverting = folded(started, failed, RevertStarted(task_id="t-revert000001", by="bo@example.com"))
    shown = card(ui.panel(MERGER, task(TaskState.merged), reverting), "deploy")
    assert 'id="revert"' not in shown and '<a href="/tasks/t-revert000001">' in shown


def test_no_cards_without_delivery_or_deploy():
    page = ui.panel(MERGER, task(TaskState.merged), Timeline())
    assert 'id="delivery"' not in page and 'id="deploy"' not in page
